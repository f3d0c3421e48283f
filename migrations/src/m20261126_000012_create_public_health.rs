//! Public-health programmes (enrolment, nurses' notes) and emergency access by
//! IC card (cards by keyed hash, per-person settings, the accesses made).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Programs {
    Table,
    Id,
    OrgId,
    Name,
    Description,
    Categories,
    Purpose,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Enrollments {
    Table,
    Id,
    ProgramId,
    PersonId,
    GrantId,
    EnrolledBy,
    CreatedAt,
    LeftAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Notes {
    Table,
    Id,
    PersonId,
    Category,
    Text,
    AuthorAccountId,
    AuthorOrgId,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum AlertRules {
    Table,
    ProgramId,
}

#[derive(DeriveIden, Clone, Copy)]
enum Cards {
    Table,
    Id,
    PersonId,
    UidHash,
    CreatedBy,
    CreatedAt,
    RetiredAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum EmergencySettings {
    Table,
    PersonId,
    Enabled,
    Categories,
    Contacts,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum EmergencyAccesses {
    Table,
    Id,
    PersonId,
    CardId,
    ClinicianAccountId,
    OrgId,
    Reason,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum AccessLog {
    Table,
    Reason,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use Programs as P;
        manager
            .create_table(
                Table::create()
                    .table(P::Table)
                    .col(ColumnDef::new(P::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(P::OrgId).uuid().not_null())
                    .col(ColumnDef::new(P::Name).string_len(200).not_null())
                    .col(ColumnDef::new(P::Description).text().not_null())
                    .col(ColumnDef::new(P::Categories).string_len(200).not_null())
                    .col(ColumnDef::new(P::Purpose).string_len(32).not_null())
                    .col(ColumnDef::new(P::CreatedBy).uuid().not_null())
                    .col(ColumnDef::new(P::CreatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(Index::create().name("ix_programs_org").table(P::Table).col(P::OrgId).to_owned())
            .await?;
        use Enrollments as E;
        manager
            .create_table(
                Table::create()
                    .table(E::Table)
                    .col(ColumnDef::new(E::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(E::ProgramId).uuid().not_null())
                    .col(ColumnDef::new(E::PersonId).uuid().not_null())
                    .col(ColumnDef::new(E::GrantId).uuid().not_null())
                    .col(ColumnDef::new(E::EnrolledBy).uuid().not_null())
                    .col(ColumnDef::new(E::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(E::LeftAt).timestamp_with_time_zone().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_enrollments_program")
                    .table(E::Table)
                    .col(E::ProgramId)
                    .col(E::PersonId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("ix_enrollments_person").table(E::Table).col(E::PersonId).to_owned(),
            )
            .await?;
        use Notes as N;
        manager
            .create_table(
                Table::create()
                    .table(N::Table)
                    .col(ColumnDef::new(N::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(N::PersonId).uuid().not_null())
                    .col(ColumnDef::new(N::Category).string_len(16).not_null())
                    .col(ColumnDef::new(N::Text).text().not_null())
                    .col(ColumnDef::new(N::AuthorAccountId).uuid().not_null())
                    .col(ColumnDef::new(N::AuthorOrgId).uuid().null())
                    .col(ColumnDef::new(N::CreatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_notes_person")
                    .table(N::Table)
                    .col(N::PersonId)
                    .col(N::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AlertRules::Table)
                    .add_column(ColumnDef::new(AlertRules::ProgramId).uuid().null())
                    .to_owned(),
            )
            .await?;
        use Cards as C;
        manager
            .create_table(
                Table::create()
                    .table(C::Table)
                    .col(ColumnDef::new(C::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(C::PersonId).uuid().not_null())
                    .col(ColumnDef::new(C::UidHash).string_len(64).not_null())
                    .col(ColumnDef::new(C::CreatedBy).uuid().not_null())
                    .col(ColumnDef::new(C::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(C::RetiredAt).timestamp_with_time_zone().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("ux_cards_uid").table(C::Table).col(C::UidHash).unique().to_owned(),
            )
            .await?;
        use EmergencySettings as S;
        manager
            .create_table(
                Table::create()
                    .table(S::Table)
                    .col(ColumnDef::new(S::PersonId).uuid().not_null().primary_key())
                    .col(ColumnDef::new(S::Enabled).boolean().not_null())
                    .col(ColumnDef::new(S::Categories).string_len(200).not_null())
                    .col(ColumnDef::new(S::Contacts).text().not_null())
                    .col(ColumnDef::new(S::UpdatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        use EmergencyAccesses as X;
        manager
            .create_table(
                Table::create()
                    .table(X::Table)
                    .col(ColumnDef::new(X::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(X::PersonId).uuid().not_null())
                    .col(ColumnDef::new(X::CardId).uuid().not_null())
                    .col(ColumnDef::new(X::ClinicianAccountId).uuid().not_null())
                    .col(ColumnDef::new(X::OrgId).uuid().not_null())
                    .col(ColumnDef::new(X::Reason).string_len(500).not_null())
                    .col(ColumnDef::new(X::CreatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_emergency_accesses_person")
                    .table(X::Table)
                    .col(X::PersonId)
                    .col(X::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_emergency_accesses_clinician")
                    .table(X::Table)
                    .col(X::ClinicianAccountId)
                    .col(X::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AccessLog::Table)
                    .add_column(ColumnDef::new(AccessLog::Reason).string_len(500).null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(AccessLog::Table).drop_column(AccessLog::Reason).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter().table(AlertRules::Table).drop_column(AlertRules::ProgramId).to_owned(),
            )
            .await?;
        for t in [
            EmergencyAccesses::Table.into_iden(),
            EmergencySettings::Table.into_iden(),
            Cards::Table.into_iden(),
            Notes::Table.into_iden(),
            Enrollments::Table.into_iden(),
            Programs::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
