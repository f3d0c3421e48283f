//! Medications from e-medication-handbook QR codes: dispensings (de-duplicated
//! by content), unfinished multi-part scans, facts the QR also carries
//! (allergies, OTC drugs, notes), and short-lived share codes for the counter.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Persons {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum Dispensings {
    Table,
    Id,
    PersonId,
    Fingerprint,
    DispensedOn,
    PharmacyName,
    Data,
    RawPayload,
    CreatedBy,
    CreatedByOrg,
    Version,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
    ChangeSeq,
}

#[derive(DeriveIden, Clone, Copy)]
enum QrScans {
    Table,
    Id,
    PersonId,
    Parts,
    CreatedBy,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum HealthFacts {
    Table,
    Id,
    PersonId,
    Category,
    Kind,
    Text,
    TextHash,
    Source,
    SourceRef,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ShareCodes {
    Table,
    Id,
    PersonId,
    CodeHash,
    OrgId,
    Categories,
    Access,
    TtlMinutes,
    CreatedBy,
    CreatedAt,
    ExpiresAt,
    RedeemedAt,
    RedeemedBy,
    GrantId,
}

fn fk(from: impl IntoIden + Clone, col: impl IntoIden) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from, col)
        .to(Persons::Table, Persons::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use Dispensings as D;
        manager
            .create_table(
                Table::create()
                    .table(D::Table)
                    .col(ColumnDef::new(D::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(D::PersonId).uuid().not_null())
                    // SHA-256 of the parser's content fingerprint: re-scans find their record.
                    .col(ColumnDef::new(D::Fingerprint).string_len(64).not_null())
                    .col(ColumnDef::new(D::DispensedOn).date().not_null())
                    .col(ColumnDef::new(D::PharmacyName).string_len(200).null())
                    // The parsed dispensing (JSON) and the scanned parts it came from.
                    .col(ColumnDef::new(D::Data).text().not_null())
                    .col(ColumnDef::new(D::RawPayload).text().not_null())
                    .col(ColumnDef::new(D::CreatedBy).uuid().not_null())
                    .col(ColumnDef::new(D::CreatedByOrg).uuid().null())
                    .col(ColumnDef::new(D::Version).integer().not_null())
                    .col(ColumnDef::new(D::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(D::UpdatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(D::DeletedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(D::ChangeSeq).big_integer().not_null())
                    .foreign_key(&mut fk(D::Table, D::PersonId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_dispensings_person_fingerprint")
                    .table(D::Table)
                    .col(D::PersonId)
                    .col(D::Fingerprint)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_dispensings_person_date")
                    .table(D::Table)
                    .col(D::PersonId)
                    .col(D::DispensedOn)
                    .col(D::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_dispensings_person_change")
                    .table(D::Table)
                    .col(D::PersonId)
                    .col(D::ChangeSeq)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(QrScans::Table)
                    .col(ColumnDef::new(QrScans::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(QrScans::PersonId).uuid().not_null())
                    .col(ColumnDef::new(QrScans::Parts).text().not_null())
                    .col(ColumnDef::new(QrScans::CreatedBy).uuid().not_null())
                    .col(ColumnDef::new(QrScans::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(QrScans::ExpiresAt).timestamp_with_time_zone().not_null())
                    .foreign_key(&mut fk(QrScans::Table, QrScans::PersonId))
                    .to_owned(),
            )
            .await?;
        use HealthFacts as F;
        manager
            .create_table(
                Table::create()
                    .table(F::Table)
                    .col(ColumnDef::new(F::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(F::PersonId).uuid().not_null())
                    .col(ColumnDef::new(F::Category).string_len(16).not_null())
                    .col(ColumnDef::new(F::Kind).string_len(32).not_null())
                    .col(ColumnDef::new(F::Text).text().not_null())
                    .col(ColumnDef::new(F::TextHash).string_len(64).not_null())
                    // `qr`, `manual`, …: where the fact came from.
                    .col(ColumnDef::new(F::Source).string_len(16).not_null())
                    .col(ColumnDef::new(F::SourceRef).uuid().null())
                    .col(ColumnDef::new(F::CreatedBy).uuid().not_null())
                    .col(ColumnDef::new(F::CreatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(&mut fk(F::Table, F::PersonId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_health_facts_person_kind_text")
                    .table(F::Table)
                    .col(F::PersonId)
                    .col(F::Kind)
                    .col(F::TextHash)
                    .unique()
                    .to_owned(),
            )
            .await?;
        use ShareCodes as S;
        manager
            .create_table(
                Table::create()
                    .table(S::Table)
                    .col(ColumnDef::new(S::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(S::PersonId).uuid().not_null())
                    .col(ColumnDef::new(S::CodeHash).string_len(64).not_null().unique_key())
                    .col(ColumnDef::new(S::OrgId).uuid().null())
                    .col(ColumnDef::new(S::Categories).string_len(200).not_null())
                    .col(ColumnDef::new(S::Access).string_len(8).not_null())
                    .col(ColumnDef::new(S::TtlMinutes).integer().not_null())
                    .col(ColumnDef::new(S::CreatedBy).uuid().not_null())
                    .col(ColumnDef::new(S::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(S::ExpiresAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(S::RedeemedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(S::RedeemedBy).uuid().null())
                    .col(ColumnDef::new(S::GrantId).uuid().null())
                    .foreign_key(&mut fk(S::Table, S::PersonId))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            ShareCodes::Table.into_iden(),
            HealthFacts::Table.into_iden(),
            QrScans::Table.into_iden(),
            Dispensings::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
