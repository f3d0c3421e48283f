use sea_orm::entity::prelude::*;

/// One access to a person's record by someone other than the person or a
/// guardian. Append-only; `hash` chains each entry to the previous one.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "access_log")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub person_id: Uuid,
    pub seq: i64,
    pub at: DateTimeUtc,
    pub actor_account_id: Option<Uuid>,
    pub actor_org_id: Option<Uuid>,
    pub action: String,
    pub resource: String,
    pub categories: String,
    pub purpose: Option<String>,
    /// Why, in the actor's words (emergency access).
    pub reason: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
