use sea_orm::entity::prelude::*;

/// A rule that fired on an observation.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "alerts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub rule_id: Uuid,
    pub person_id: Uuid,
    /// The reading that crossed: an observation, or a lab result (clinic-measured).
    pub observation_id: Uuid,
    /// `observation` (a home reading) or `lab_result` (measured at a facility).
    pub source: String,
    pub kind: String,
    pub category: String,
    pub value: f64,
    /// `open` or `acked`.
    pub status: String,
    pub created_at: DateTimeUtc,
    pub acked_by: Option<Uuid>,
    pub acked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
