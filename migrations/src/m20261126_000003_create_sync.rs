//! Sync: a per-person change counter stamped on every synced row inside the
//! writing transaction, the tombstone floor below which cursors are too old,
//! and the record of applied push mutations (for idempotent retries).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Persons {
    Table,
    ChangeSeq,
    SyncFloor,
}

#[derive(DeriveIden, Clone, Copy)]
enum Observations {
    Table,
    PersonId,
    ChangeSeq,
}

#[derive(DeriveIden, Clone, Copy)]
enum SyncMutations {
    Table,
    DeviceId,
    MutationId,
    AccountId,
    Result,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One ALTER per statement: SQLite's builder refuses several.
        for col in [Persons::ChangeSeq, Persons::SyncFloor] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Persons::Table)
                        .add_column(ColumnDef::new(col).big_integer().not_null().default(0))
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Observations::Table)
                    .add_column(ColumnDef::new(Observations::ChangeSeq).big_integer().not_null().default(0))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_observations_person_change")
                    .table(Observations::Table)
                    .col(Observations::PersonId)
                    .col(Observations::ChangeSeq)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SyncMutations::Table)
                    .col(ColumnDef::new(SyncMutations::DeviceId).uuid().not_null())
                    .col(ColumnDef::new(SyncMutations::MutationId).string_len(64).not_null())
                    .col(ColumnDef::new(SyncMutations::AccountId).uuid().not_null())
                    // The result returned the first time, returned again on a retry.
                    .col(ColumnDef::new(SyncMutations::Result).text().not_null())
                    .col(ColumnDef::new(SyncMutations::CreatedAt).timestamp_with_time_zone().not_null())
                    .primary_key(Index::create().col(SyncMutations::DeviceId).col(SyncMutations::MutationId))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(SyncMutations::Table).to_owned()).await?;
        manager
            .drop_index(
                Index::drop().name("ix_observations_person_change").table(Observations::Table).to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter().table(Observations::Table).drop_column(Observations::ChangeSeq).to_owned(),
            )
            .await?;
        for col in [Persons::SyncFloor, Persons::ChangeSeq] {
            manager.alter_table(Table::alter().table(Persons::Table).drop_column(col).to_owned()).await?;
        }
        Ok(())
    }
}
