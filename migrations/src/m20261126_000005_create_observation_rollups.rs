//! Daily roll-ups of observations per person, kind and local day (in the
//! person's time zone), kept in the writing transaction, so a year of
//! minute-level samples summarises from 365 rows instead of 525,600.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum ObservationRollups {
    Table,
    PersonId,
    Kind,
    Tz,
    Day,
    Count,
    Cnt0,
    Sum0,
    Min0,
    Max0,
    Cnt1,
    Sum1,
    Min1,
    Max1,
    Cnt2,
    Sum2,
    Min2,
    Max2,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use ObservationRollups as R;
        let mut t = Table::create();
        t.table(R::Table)
            .col(ColumnDef::new(R::PersonId).uuid().not_null())
            .col(ColumnDef::new(R::Kind).string_len(32).not_null())
            .col(ColumnDef::new(R::Tz).string_len(64).not_null())
            // Local calendar day as days since 1970-01-01.
            .col(ColumnDef::new(R::Day).integer().not_null())
            .col(ColumnDef::new(R::Count).big_integer().not_null());
        for (cnt, sum, min, max) in [
            (R::Cnt0, R::Sum0, R::Min0, R::Max0),
            (R::Cnt1, R::Sum1, R::Min1, R::Max1),
            (R::Cnt2, R::Sum2, R::Min2, R::Max2),
        ] {
            t.col(ColumnDef::new(cnt).big_integer().not_null())
                .col(ColumnDef::new(sum).double().not_null())
                .col(ColumnDef::new(min).double().null())
                .col(ColumnDef::new(max).double().null());
        }
        t.primary_key(Index::create().col(R::PersonId).col(R::Kind).col(R::Tz).col(R::Day));
        manager.create_table(t.to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ObservationRollups::Table).to_owned()).await
    }
}
