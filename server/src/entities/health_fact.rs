use sea_orm::entity::prelude::*;

/// An allergy, side effect, past illness, OTC drug or note on a person's
/// record, with where it came from.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "health_facts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub person_id: Uuid,
    pub category: String,
    pub kind: String,
    pub text: String,
    pub text_hash: String,
    pub source: String,
    pub source_ref: Option<Uuid>,
    pub created_by: Uuid,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
