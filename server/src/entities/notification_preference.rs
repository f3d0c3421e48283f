use sea_orm::entity::prelude::*;

/// An account's notification choices: event types switched off, quiet hours.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notification_preferences")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub account_id: Uuid,
    /// Comma-separated event types that are off.
    pub disabled: String,
    /// `HH:MM` in the account's time zone.
    pub quiet_start: Option<String>,
    pub quiet_end: Option<String>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
