//! What the cross-linked timeline and the demographics check need: the
//! person's name in kana (compared with PID-5), the reason a document is held
//! for review, lab results keyed by JLAC10 analyte for per-analyte series, and
//! the NTE comments of a result.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Persons {
    Table,
    NameKana,
}

#[derive(DeriveIden, Clone, Copy)]
enum ClinicalDocuments {
    Table,
    PersonId,
    ReceivedAt,
    HoldReason,
}

#[derive(DeriveIden, Clone, Copy)]
enum LabResults {
    Table,
    PersonId,
    Analyte,
    Notes,
    ObservedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Persons::Table)
                    .add_column(ColumnDef::new(Persons::NameKana).string_len(100).null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ClinicalDocuments::Table)
                    .add_column(ColumnDef::new(ClinicalDocuments::HoldReason).string_len(400).null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_clinical_documents_person")
                    .table(ClinicalDocuments::Table)
                    .col(ClinicalDocuments::PersonId)
                    .col(ClinicalDocuments::ReceivedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(LabResults::Table)
                    .add_column(ColumnDef::new(LabResults::Analyte).string_len(5).null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(LabResults::Table)
                    .add_column(ColumnDef::new(LabResults::Notes).text().null())
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE lab_results SET analyte = UPPER(SUBSTR(jlac10, 1, 5)) WHERE jlac10 IS NOT NULL",
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_lab_results_person_analyte")
                    .table(LabResults::Table)
                    .col(LabResults::PersonId)
                    .col(LabResults::Analyte)
                    .col(LabResults::ObservedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop().name("ix_lab_results_person_analyte").table(LabResults::Table).to_owned(),
            )
            .await?;
        manager
            .alter_table(Table::alter().table(LabResults::Table).drop_column(LabResults::Analyte).to_owned())
            .await?;
        manager
            .alter_table(Table::alter().table(LabResults::Table).drop_column(LabResults::Notes).to_owned())
            .await?;
        manager
            .drop_index(
                Index::drop().name("ix_clinical_documents_person").table(ClinicalDocuments::Table).to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ClinicalDocuments::Table)
                    .drop_column(ClinicalDocuments::HoldReason)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(Table::alter().table(Persons::Table).drop_column(Persons::NameKana).to_owned())
            .await
    }
}
