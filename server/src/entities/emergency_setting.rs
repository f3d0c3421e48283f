use sea_orm::entity::prelude::*;

/// What the emergency dataset holds for a person, and whether it opens at all.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "emergency_settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub person_id: Uuid,
    pub enabled: bool,
    /// Comma-separated parts: allergies, medications, conditions, blood_type, vitals.
    pub categories: String,
    /// JSON array of emergency contacts.
    pub contacts: String,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
