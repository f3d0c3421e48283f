use sea_orm::entity::prelude::*;

/// A threshold on one observation kind: a person's own rule, or an
/// organization's rule for every person who shares that kind with it.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "alert_rules")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub person_id: Option<Uuid>,
    pub org_id: Option<Uuid>,
    /// The programme whose rule this is (an organization rule set with the programme).
    pub program_id: Option<Uuid>,
    pub created_by: Uuid,
    pub kind: String,
    pub component: Option<String>,
    /// `>=` or `<=`.
    pub op: String,
    pub threshold: f64,
    pub consecutive: i32,
    pub window_minutes: Option<i32>,
    /// Comma-separated: `self`, `grantees`.
    pub notify: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
