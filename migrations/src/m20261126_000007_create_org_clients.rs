//! API clients of organizations (a hospital's SS-MIX2 uploader, a lab's
//! system): OAuth 2.0 client-credentials, secrets stored as Argon2id hashes.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum OrgClients {
    Table,
    Id,
    OrgId,
    Name,
    SecretHash,
    CreatedBy,
    CreatedAt,
    RevokedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OrgClients::Table)
                    .col(ColumnDef::new(OrgClients::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(OrgClients::OrgId).uuid().not_null())
                    .col(ColumnDef::new(OrgClients::Name).string_len(100).not_null())
                    .col(ColumnDef::new(OrgClients::SecretHash).string_len(200).not_null())
                    .col(ColumnDef::new(OrgClients::CreatedBy).uuid().not_null())
                    .col(ColumnDef::new(OrgClients::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(OrgClients::RevokedAt).timestamp_with_time_zone().null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(OrgClients::Table, OrgClients::OrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_org_clients_org")
                    .table(OrgClients::Table)
                    .col(OrgClients::OrgId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(OrgClients::Table).to_owned()).await
    }
}
