//! Persons, the accounts that sign in, their refresh-token families and devices.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Persons {
    Table,
    Id,
    DisplayName,
    BirthDate,
    Sex,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
    Email,
    PasswordHash,
    DisplayName,
    PersonId,
    SystemRole,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    Id,
    FamilyId,
    AccountId,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    UsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Devices {
    Table,
    Id,
    AccountId,
    Platform,
    Name,
    PushToken,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Persons::Table)
                    .col(ColumnDef::new(Persons::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Persons::DisplayName).string_len(200).not_null())
                    .col(ColumnDef::new(Persons::BirthDate).date().null())
                    .col(ColumnDef::new(Persons::Sex).string_len(16).null())
                    .col(ColumnDef::new(Persons::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Persons::UpdatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Accounts::Table)
                    .col(ColumnDef::new(Accounts::Id).uuid().not_null().primary_key())
                    // Stored normalised (trimmed, lower-case) so the unique index is the check.
                    .col(ColumnDef::new(Accounts::Email).string_len(320).not_null().unique_key())
                    .col(ColumnDef::new(Accounts::PasswordHash).string_len(200).null())
                    .col(ColumnDef::new(Accounts::DisplayName).string_len(200).not_null())
                    .col(ColumnDef::new(Accounts::PersonId).uuid().not_null().unique_key())
                    .col(ColumnDef::new(Accounts::SystemRole).string_len(32).null())
                    .col(ColumnDef::new(Accounts::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Accounts::UpdatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(Accounts::Table, Accounts::PersonId)
                            .to(Persons::Table, Persons::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RefreshTokens::Table)
                    .col(ColumnDef::new(RefreshTokens::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(RefreshTokens::FamilyId).uuid().not_null())
                    .col(ColumnDef::new(RefreshTokens::AccountId).uuid().not_null())
                    // SHA-256 of the token; the token itself is never stored.
                    .col(ColumnDef::new(RefreshTokens::TokenHash).string_len(64).not_null().unique_key())
                    .col(ColumnDef::new(RefreshTokens::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(RefreshTokens::ExpiresAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(RefreshTokens::UsedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(RefreshTokens::RevokedAt).timestamp_with_time_zone().null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(RefreshTokens::Table, RefreshTokens::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_refresh_tokens_family")
                    .table(RefreshTokens::Table)
                    .col(RefreshTokens::FamilyId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_refresh_tokens_account")
                    .table(RefreshTokens::Table)
                    .col(RefreshTokens::AccountId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Devices::Table)
                    .col(ColumnDef::new(Devices::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Devices::AccountId).uuid().not_null())
                    .col(ColumnDef::new(Devices::Platform).string_len(16).not_null())
                    .col(ColumnDef::new(Devices::Name).string_len(200).not_null())
                    // An FCM registration token belongs to one app install, so to one device row.
                    .col(ColumnDef::new(Devices::PushToken).string_len(4096).null().unique_key())
                    .col(ColumnDef::new(Devices::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Devices::UpdatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(Devices::Table, Devices::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Keyset pagination of an account's devices: (account_id, id) with time-ordered ids.
        manager
            .create_index(
                Index::create()
                    .name("ix_devices_account_id")
                    .table(Devices::Table)
                    .col(Devices::AccountId)
                    .col(Devices::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Devices::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(RefreshTokens::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Accounts::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Persons::Table).to_owned()).await
    }
}
