//! Patient-entered observations from health apps, and each person's time zone
//! (trend buckets are days in the patient's own zone).
//!
//! Times are stored as epoch milliseconds (`start_ms`, `end_ms`) plus the
//! offset the client wrote (`utc_offset_s`): integer keys sort and bucket the
//! same on SQLite and PostgreSQL, and the original offset is returned as sent.
//! Values sit in three numeric slots in the catalogue's component order
//! (blood pressure: systolic, diastolic, pulse), so summaries aggregate plain
//! columns on both databases.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Persons {
    Table,
    Id,
    TimeZone,
}

#[derive(DeriveIden)]
enum Observations {
    Table,
    Id,
    PersonId,
    Kind,
    Category,
    Value0,
    Value1,
    Value2,
    Code,
    Text,
    Original,
    StartMs,
    EndMs,
    UtcOffsetS,
    SourceApp,
    SourceDevice,
    SourceMethod,
    Note,
    ContentHash,
    DedupKey,
    Version,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Persons::Table)
                    .add_column(
                        ColumnDef::new(Persons::TimeZone).string_len(64).not_null().default("Asia/Tokyo"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Observations::Table)
                    // Client-generated, so a retried upload names the same row.
                    .col(ColumnDef::new(Observations::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Observations::PersonId).uuid().not_null())
                    .col(ColumnDef::new(Observations::Kind).string_len(32).not_null())
                    .col(ColumnDef::new(Observations::Category).string_len(16).not_null())
                    .col(ColumnDef::new(Observations::Value0).double().null())
                    .col(ColumnDef::new(Observations::Value1).double().null())
                    .col(ColumnDef::new(Observations::Value2).double().null())
                    .col(ColumnDef::new(Observations::Code).string_len(32).null())
                    .col(ColumnDef::new(Observations::Text).string_len(400).null())
                    // JSON: the values and units as the client sent them (provenance).
                    .col(ColumnDef::new(Observations::Original).text().not_null())
                    .col(ColumnDef::new(Observations::StartMs).big_integer().not_null())
                    .col(ColumnDef::new(Observations::EndMs).big_integer().null())
                    .col(ColumnDef::new(Observations::UtcOffsetS).integer().not_null())
                    .col(ColumnDef::new(Observations::SourceApp).string_len(100).null())
                    .col(ColumnDef::new(Observations::SourceDevice).string_len(100).null())
                    .col(ColumnDef::new(Observations::SourceMethod).string_len(16).not_null())
                    .col(ColumnDef::new(Observations::Note).text().null())
                    .col(ColumnDef::new(Observations::ContentHash).string_len(64).not_null())
                    .col(ColumnDef::new(Observations::DedupKey).string_len(64).not_null())
                    .col(ColumnDef::new(Observations::Version).integer().not_null())
                    .col(ColumnDef::new(Observations::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Observations::UpdatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Observations::DeletedAt).timestamp_with_time_zone().null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(Observations::Table, Observations::PersonId)
                            .to(Persons::Table, Persons::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The same sample from two phones under two ids is one row.
        manager
            .create_index(
                Index::create()
                    .name("ux_observations_person_dedup")
                    .table(Observations::Table)
                    .col(Observations::PersonId)
                    .col(Observations::DedupKey)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // Timeline listing, newest first: keyset over (start_ms, id).
        manager
            .create_index(
                Index::create()
                    .name("ix_observations_person_start")
                    .table(Observations::Table)
                    .col(Observations::PersonId)
                    .col(Observations::StartMs)
                    .col(Observations::Id)
                    .to_owned(),
            )
            .await?;
        // Per-kind listing, latest value and summaries.
        manager
            .create_index(
                Index::create()
                    .name("ix_observations_person_kind_start")
                    .table(Observations::Table)
                    .col(Observations::PersonId)
                    .col(Observations::Kind)
                    .col(Observations::StartMs)
                    .col(Observations::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Observations::Table).to_owned()).await?;
        manager
            .alter_table(Table::alter().table(Persons::Table).drop_column(Persons::TimeZone).to_owned())
            .await
    }
}
