//! Notifications: the inbox, the push outbox that commits with the change
//! that caused it, per-account preferences, alert rules and raised alerts.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Notifications {
    Table,
    Id,
    AccountId,
    PersonId,
    Event,
    Data,
    Priority,
    CreatedAt,
    ReadAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum PushOutbox {
    Table,
    Id,
    NotificationId,
    DeviceId,
    Kind,
    Data,
    Status,
    Attempts,
    NextAttemptAt,
    LastError,
    MessageName,
    CreatedAt,
    SentAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum NotificationPreferences {
    Table,
    AccountId,
    Disabled,
    QuietStart,
    QuietEnd,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum AlertRules {
    Table,
    Id,
    PersonId,
    OrgId,
    CreatedBy,
    Kind,
    Component,
    Op,
    Threshold,
    Consecutive,
    WindowMinutes,
    Notify,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Alerts {
    Table,
    Id,
    RuleId,
    PersonId,
    ObservationId,
    Source,
    Kind,
    Category,
    Value,
    Status,
    CreatedAt,
    AckedBy,
    AckedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use Notifications as N;
        manager
            .create_table(
                Table::create()
                    .table(N::Table)
                    .col(ColumnDef::new(N::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(N::AccountId).uuid().not_null())
                    .col(ColumnDef::new(N::PersonId).uuid().null())
                    .col(ColumnDef::new(N::Event).string_len(40).not_null())
                    .col(ColumnDef::new(N::Data).text().not_null())
                    .col(ColumnDef::new(N::Priority).string_len(8).not_null())
                    .col(ColumnDef::new(N::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(N::ReadAt).timestamp_with_time_zone().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_notifications_account")
                    .table(N::Table)
                    .col(N::AccountId)
                    .col(N::Id)
                    .to_owned(),
            )
            .await?;
        use PushOutbox as O;
        manager
            .create_table(
                Table::create()
                    .table(O::Table)
                    .col(ColumnDef::new(O::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(O::NotificationId).uuid().null())
                    .col(ColumnDef::new(O::DeviceId).uuid().not_null())
                    .col(ColumnDef::new(O::Kind).string_len(16).not_null())
                    .col(ColumnDef::new(O::Data).text().not_null())
                    .col(ColumnDef::new(O::Status).string_len(16).not_null())
                    .col(ColumnDef::new(O::Attempts).integer().not_null())
                    .col(ColumnDef::new(O::NextAttemptAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(O::LastError).string_len(400).null())
                    .col(ColumnDef::new(O::MessageName).string_len(200).null())
                    .col(ColumnDef::new(O::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(O::SentAt).timestamp_with_time_zone().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_push_outbox_due")
                    .table(O::Table)
                    .col(O::Status)
                    .col(O::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        use NotificationPreferences as P;
        manager
            .create_table(
                Table::create()
                    .table(P::Table)
                    .col(ColumnDef::new(P::AccountId).uuid().not_null().primary_key())
                    .col(ColumnDef::new(P::Disabled).string_len(400).not_null())
                    .col(ColumnDef::new(P::QuietStart).string_len(5).null())
                    .col(ColumnDef::new(P::QuietEnd).string_len(5).null())
                    .col(ColumnDef::new(P::UpdatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        use AlertRules as R;
        manager
            .create_table(
                Table::create()
                    .table(R::Table)
                    .col(ColumnDef::new(R::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(R::PersonId).uuid().null())
                    .col(ColumnDef::new(R::OrgId).uuid().null())
                    .col(ColumnDef::new(R::CreatedBy).uuid().not_null())
                    .col(ColumnDef::new(R::Kind).string_len(40).not_null())
                    .col(ColumnDef::new(R::Component).string_len(40).null())
                    .col(ColumnDef::new(R::Op).string_len(2).not_null())
                    .col(ColumnDef::new(R::Threshold).double().not_null())
                    .col(ColumnDef::new(R::Consecutive).integer().not_null())
                    .col(ColumnDef::new(R::WindowMinutes).integer().null())
                    .col(ColumnDef::new(R::Notify).string_len(40).not_null())
                    .col(ColumnDef::new(R::CreatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("ix_alert_rules_person").table(R::Table).col(R::PersonId).to_owned(),
            )
            .await?;
        manager
            .create_index(Index::create().name("ix_alert_rules_org").table(R::Table).col(R::OrgId).to_owned())
            .await?;
        use Alerts as A;
        manager
            .create_table(
                Table::create()
                    .table(A::Table)
                    .col(ColumnDef::new(A::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(A::RuleId).uuid().not_null())
                    .col(ColumnDef::new(A::PersonId).uuid().not_null())
                    .col(ColumnDef::new(A::ObservationId).uuid().not_null())
                    .col(ColumnDef::new(A::Source).string_len(16).not_null())
                    .col(ColumnDef::new(A::Kind).string_len(40).not_null())
                    .col(ColumnDef::new(A::Category).string_len(16).not_null())
                    .col(ColumnDef::new(A::Value).double().not_null())
                    .col(ColumnDef::new(A::Status).string_len(8).not_null())
                    .col(ColumnDef::new(A::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(A::AckedBy).uuid().null())
                    .col(ColumnDef::new(A::AckedAt).timestamp_with_time_zone().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_alerts_person_status")
                    .table(A::Table)
                    .col(A::PersonId)
                    .col(A::Status)
                    .col(A::RuleId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            Alerts::Table.into_iden(),
            AlertRules::Table.into_iden(),
            NotificationPreferences::Table.into_iden(),
            PushOutbox::Table.into_iden(),
            Notifications::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
