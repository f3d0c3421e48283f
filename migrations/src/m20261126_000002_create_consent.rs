//! Consent: guardians of dependent persons, organisations and their members,
//! grants, invitation codes, and the hash-chained access log.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Persons {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum Accounts {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum Guardians {
    Table,
    PersonId,
    AccountId,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Organizations {
    Table,
    Id,
    Kind,
    Name,
    Code,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum OrgMembers {
    Table,
    OrgId,
    AccountId,
    Role,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Grants {
    Table,
    Id,
    PersonId,
    GranteeAccountId,
    GranteeOrgId,
    Categories,
    Access,
    Purpose,
    StartsAt,
    ExpiresAt,
    RevokedAt,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Invitations {
    Table,
    Id,
    PersonId,
    CodeHash,
    Categories,
    Access,
    Purpose,
    GrantExpiresAt,
    ExpiresAt,
    CreatedBy,
    CreatedAt,
    AcceptedAt,
    AcceptedBy,
    GrantId,
}

#[derive(DeriveIden, Clone, Copy)]
enum AccessLog {
    Table,
    Id,
    PersonId,
    Seq,
    At,
    ActorAccountId,
    ActorOrgId,
    Action,
    Resource,
    Categories,
    Purpose,
    PrevHash,
    Hash,
}

fn fk_person(from: impl IntoIden + Clone, col: impl IntoIden) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from, col)
        .to(Persons::Table, Persons::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

fn fk_account(from: impl IntoIden + Clone, col: impl IntoIden) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from, col)
        .to(Accounts::Table, Accounts::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Guardians::Table)
                    .col(ColumnDef::new(Guardians::PersonId).uuid().not_null())
                    .col(ColumnDef::new(Guardians::AccountId).uuid().not_null())
                    .col(ColumnDef::new(Guardians::CreatedBy).uuid().not_null())
                    .col(ColumnDef::new(Guardians::CreatedAt).timestamp_with_time_zone().not_null())
                    .primary_key(Index::create().col(Guardians::PersonId).col(Guardians::AccountId))
                    .foreign_key(&mut fk_person(Guardians::Table, Guardians::PersonId))
                    .foreign_key(&mut fk_account(Guardians::Table, Guardians::AccountId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_guardians_account")
                    .table(Guardians::Table)
                    .col(Guardians::AccountId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Organizations::Table)
                    .col(ColumnDef::new(Organizations::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Organizations::Kind).string_len(16).not_null())
                    .col(ColumnDef::new(Organizations::Name).string_len(200).not_null())
                    // The 10-digit medical institution code, where one exists.
                    .col(ColumnDef::new(Organizations::Code).string_len(10).null().unique_key())
                    .col(ColumnDef::new(Organizations::CreatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OrgMembers::Table)
                    .col(ColumnDef::new(OrgMembers::OrgId).uuid().not_null())
                    .col(ColumnDef::new(OrgMembers::AccountId).uuid().not_null())
                    .col(ColumnDef::new(OrgMembers::Role).string_len(16).not_null())
                    .col(ColumnDef::new(OrgMembers::CreatedAt).timestamp_with_time_zone().not_null())
                    .primary_key(
                        Index::create()
                            .col(OrgMembers::OrgId)
                            .col(OrgMembers::AccountId)
                            .col(OrgMembers::Role),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(OrgMembers::Table, OrgMembers::OrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(&mut fk_account(OrgMembers::Table, OrgMembers::AccountId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_org_members_account")
                    .table(OrgMembers::Table)
                    .col(OrgMembers::AccountId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Grants::Table)
                    .col(ColumnDef::new(Grants::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Grants::PersonId).uuid().not_null())
                    .col(ColumnDef::new(Grants::GranteeAccountId).uuid().null())
                    .col(ColumnDef::new(Grants::GranteeOrgId).uuid().null())
                    // Comma-separated consent categories, e.g. `vitals,medications`.
                    .col(ColumnDef::new(Grants::Categories).string_len(200).not_null())
                    .col(ColumnDef::new(Grants::Access).string_len(8).not_null())
                    .col(ColumnDef::new(Grants::Purpose).string_len(16).not_null())
                    .col(ColumnDef::new(Grants::StartsAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(Grants::ExpiresAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(Grants::RevokedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(Grants::CreatedBy).uuid().not_null())
                    .col(ColumnDef::new(Grants::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Grants::UpdatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(&mut fk_person(Grants::Table, Grants::PersonId))
                    .foreign_key(&mut fk_account(Grants::Table, Grants::GranteeAccountId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Grants::Table, Grants::GranteeOrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("ix_grants_person", Grants::PersonId),
            ("ix_grants_grantee_account", Grants::GranteeAccountId),
            ("ix_grants_grantee_org", Grants::GranteeOrgId),
        ] {
            manager.create_index(Index::create().name(name).table(Grants::Table).col(col).to_owned()).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(Invitations::Table)
                    .col(ColumnDef::new(Invitations::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Invitations::PersonId).uuid().not_null())
                    .col(ColumnDef::new(Invitations::CodeHash).string_len(64).not_null().unique_key())
                    .col(ColumnDef::new(Invitations::Categories).string_len(200).not_null())
                    .col(ColumnDef::new(Invitations::Access).string_len(8).not_null())
                    .col(ColumnDef::new(Invitations::Purpose).string_len(16).not_null())
                    .col(ColumnDef::new(Invitations::GrantExpiresAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(Invitations::ExpiresAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Invitations::CreatedBy).uuid().not_null())
                    .col(ColumnDef::new(Invitations::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Invitations::AcceptedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(Invitations::AcceptedBy).uuid().null())
                    .col(ColumnDef::new(Invitations::GrantId).uuid().null())
                    .foreign_key(&mut fk_person(Invitations::Table, Invitations::PersonId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AccessLog::Table)
                    .col(ColumnDef::new(AccessLog::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(AccessLog::PersonId).uuid().not_null())
                    // Position in the person's chain, from 1; unique so two writers cannot fork it.
                    .col(ColumnDef::new(AccessLog::Seq).big_integer().not_null())
                    .col(ColumnDef::new(AccessLog::At).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(AccessLog::ActorAccountId).uuid().null())
                    .col(ColumnDef::new(AccessLog::ActorOrgId).uuid().null())
                    .col(ColumnDef::new(AccessLog::Action).string_len(16).not_null())
                    .col(ColumnDef::new(AccessLog::Resource).string_len(64).not_null())
                    .col(ColumnDef::new(AccessLog::Categories).string_len(200).not_null())
                    .col(ColumnDef::new(AccessLog::Purpose).string_len(16).null())
                    .col(ColumnDef::new(AccessLog::PrevHash).string_len(64).not_null())
                    .col(ColumnDef::new(AccessLog::Hash).string_len(64).not_null())
                    .foreign_key(&mut fk_person(AccessLog::Table, AccessLog::PersonId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_access_log_person_seq")
                    .table(AccessLog::Table)
                    .col(AccessLog::PersonId)
                    .col(AccessLog::Seq)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            AccessLog::Table.into_iden(),
            Invitations::Table.into_iden(),
            Grants::Table.into_iden(),
            OrgMembers::Table.into_iden(),
            Organizations::Table.into_iden(),
            Guardians::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
