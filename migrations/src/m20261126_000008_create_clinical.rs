//! Clinical data pushed by the network's facilities (SS-MIX2): patient links
//! (facility + local patient ID → person), every received document (kept,
//! quarantined while unlinked), and the lab results imported from them.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Persons {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum PatientLinks {
    Table,
    Id,
    OrgId,
    LocalPatientId,
    PersonId,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ClinicalDocuments {
    Table,
    Id,
    OrgId,
    LocalPatientId,
    Path,
    DataKind,
    ContentHash,
    Raw,
    Status,
    PersonId,
    ReceivedAt,
    ImportedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum LabResults {
    Table,
    Id,
    PersonId,
    DocumentId,
    OrgId,
    Jlac10,
    Code,
    Name,
    Value,
    Numeric,
    Unit,
    RangeText,
    RangeLow,
    RangeHigh,
    Flags,
    Specimen,
    ObservedAt,
    Status,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use PatientLinks as L;
        manager
            .create_table(
                Table::create()
                    .table(L::Table)
                    .col(ColumnDef::new(L::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(L::OrgId).uuid().not_null())
                    .col(ColumnDef::new(L::LocalPatientId).string_len(64).not_null())
                    .col(ColumnDef::new(L::PersonId).uuid().not_null())
                    .col(ColumnDef::new(L::CreatedBy).uuid().not_null())
                    .col(ColumnDef::new(L::CreatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(L::Table, L::PersonId)
                            .to(Persons::Table, Persons::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_patient_links_key")
                    .table(L::Table)
                    .col(L::OrgId)
                    .col(L::LocalPatientId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        use ClinicalDocuments as D;
        manager
            .create_table(
                Table::create()
                    .table(D::Table)
                    .col(ColumnDef::new(D::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(D::OrgId).uuid().not_null())
                    .col(ColumnDef::new(D::LocalPatientId).string_len(64).not_null())
                    // Storage-relative path: patient/date/kind/file name.
                    .col(ColumnDef::new(D::Path).string_len(400).not_null())
                    .col(ColumnDef::new(D::DataKind).string_len(16).not_null())
                    .col(ColumnDef::new(D::ContentHash).string_len(64).not_null())
                    // The file's bytes, base64: kept for provenance and re-import.
                    .col(ColumnDef::new(D::Raw).text().not_null())
                    // quarantined (no link yet) or imported.
                    .col(ColumnDef::new(D::Status).string_len(16).not_null())
                    .col(ColumnDef::new(D::PersonId).uuid().null())
                    .col(ColumnDef::new(D::ReceivedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(D::ImportedAt).timestamp_with_time_zone().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_clinical_documents_file")
                    .table(D::Table)
                    .col(D::OrgId)
                    .col(D::Path)
                    .col(D::ContentHash)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_clinical_documents_patient")
                    .table(D::Table)
                    .col(D::OrgId)
                    .col(D::LocalPatientId)
                    .to_owned(),
            )
            .await?;
        use LabResults as R;
        manager
            .create_table(
                Table::create()
                    .table(R::Table)
                    .col(ColumnDef::new(R::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(R::PersonId).uuid().not_null())
                    .col(ColumnDef::new(R::DocumentId).uuid().not_null())
                    .col(ColumnDef::new(R::OrgId).uuid().not_null())
                    .col(ColumnDef::new(R::Jlac10).string_len(17).null())
                    .col(ColumnDef::new(R::Code).string_len(64).not_null())
                    .col(ColumnDef::new(R::Name).string_len(200).not_null())
                    .col(ColumnDef::new(R::Value).string_len(400).not_null())
                    .col(ColumnDef::new(R::Numeric).double().null())
                    .col(ColumnDef::new(R::Unit).string_len(64).null())
                    .col(ColumnDef::new(R::RangeText).string_len(100).null())
                    .col(ColumnDef::new(R::RangeLow).double().null())
                    .col(ColumnDef::new(R::RangeHigh).double().null())
                    .col(ColumnDef::new(R::Flags).string_len(32).not_null())
                    .col(ColumnDef::new(R::Specimen).string_len(100).null())
                    .col(ColumnDef::new(R::ObservedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(R::Status).string_len(16).null())
                    .col(ColumnDef::new(R::CreatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(R::Table, R::PersonId)
                            .to(Persons::Table, Persons::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_lab_results_person")
                    .table(R::Table)
                    .col(R::PersonId)
                    .col(R::ObservedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            LabResults::Table.into_iden(),
            ClinicalDocuments::Table.into_iden(),
            PatientLinks::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
