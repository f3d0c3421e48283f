//! Hospital prescriptions imported from SS-MIX2 (RDE, OMP-01/02).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Persons {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum Prescriptions {
    Table,
    Id,
    PersonId,
    DocumentId,
    OrgId,
    DrugSystem,
    DrugCode,
    DrugName,
    Dose,
    DoseUnit,
    DailyDose,
    UsageCode,
    UsageText,
    Days,
    Route,
    PrescribedOn,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use Prescriptions as P;
        manager
            .create_table(
                Table::create()
                    .table(P::Table)
                    .col(ColumnDef::new(P::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(P::PersonId).uuid().not_null())
                    .col(ColumnDef::new(P::DocumentId).uuid().not_null())
                    .col(ColumnDef::new(P::OrgId).uuid().not_null())
                    // Code system as the facility wrote it (HOT9, YJ, …).
                    .col(ColumnDef::new(P::DrugSystem).string_len(16).null())
                    .col(ColumnDef::new(P::DrugCode).string_len(32).null())
                    .col(ColumnDef::new(P::DrugName).string_len(200).not_null())
                    .col(ColumnDef::new(P::Dose).double().null())
                    .col(ColumnDef::new(P::DoseUnit).string_len(32).null())
                    .col(ColumnDef::new(P::DailyDose).double().null())
                    .col(ColumnDef::new(P::UsageCode).string_len(32).null())
                    .col(ColumnDef::new(P::UsageText).string_len(200).null())
                    .col(ColumnDef::new(P::Days).integer().null())
                    .col(ColumnDef::new(P::Route).string_len(32).null())
                    .col(ColumnDef::new(P::PrescribedOn).date().null())
                    .col(ColumnDef::new(P::CreatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(P::Table, P::PersonId)
                            .to(Persons::Table, Persons::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_prescriptions_person")
                    .table(P::Table)
                    .col(P::PersonId)
                    .col(P::PrescribedOn)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Prescriptions::Table).to_owned()).await
    }
}
