//! When each person's sync floor was last raised, and to what. Tombstone
//! pruning deletes only what a floor raised at least an hour before covers:
//! a pull reads the floor in its consent read and the tombstones in later
//! statements, so a floor raised by one instance must not be followed within
//! a pull's lifetime by another instance deleting what it covers.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum SyncFloorRaises {
    Table,
    PersonId,
    Floor,
    RaisedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use SyncFloorRaises as F;
        manager
            .create_table(
                Table::create()
                    .table(F::Table)
                    .col(ColumnDef::new(F::PersonId).uuid().not_null().primary_key())
                    .col(ColumnDef::new(F::Floor).big_integer().not_null())
                    .col(ColumnDef::new(F::RaisedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(SyncFloorRaises::Table).to_owned()).await
    }
}
