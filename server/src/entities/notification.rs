use sea_orm::entity::prelude::*;

/// One inbox entry for an account: what happened and which ids to fetch, no health data.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notifications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub account_id: Uuid,
    pub person_id: Option<Uuid>,
    pub event: String,
    /// JSON object of string ids.
    pub data: String,
    /// `normal` or `high`.
    pub priority: String,
    pub created_at: DateTimeUtc,
    pub read_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
