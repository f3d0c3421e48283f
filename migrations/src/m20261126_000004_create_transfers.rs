//! Handing a dependent's record over to the person once they have an account:
//! a guardian creates a single-use code; the person's new account claims it.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Persons {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum Transfers {
    Table,
    Id,
    PersonId,
    CodeHash,
    CreatedBy,
    CreatedAt,
    ExpiresAt,
    ClaimedAt,
    ClaimedBy,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Transfers::Table)
                    .col(ColumnDef::new(Transfers::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Transfers::PersonId).uuid().not_null())
                    .col(ColumnDef::new(Transfers::CodeHash).string_len(64).not_null().unique_key())
                    .col(ColumnDef::new(Transfers::CreatedBy).uuid().not_null())
                    .col(ColumnDef::new(Transfers::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Transfers::ExpiresAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Transfers::ClaimedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(Transfers::ClaimedBy).uuid().null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(Transfers::Table, Transfers::PersonId)
                            .to(Persons::Table, Persons::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Transfers::Table).to_owned()).await
    }
}
