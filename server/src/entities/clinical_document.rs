use sea_orm::entity::prelude::*;

/// One SS-MIX2 file received from a facility, kept whether or not it could be imported.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "clinical_documents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    pub local_patient_id: String,
    pub path: String,
    pub data_kind: String,
    pub content_hash: String,
    pub raw: String,
    /// `quarantined` (no link yet) or `imported`.
    pub status: String,
    pub person_id: Option<Uuid>,
    pub received_at: DateTimeUtc,
    pub imported_at: Option<DateTimeUtc>,
    /// Why a `held` document waits for the person's review (demographics that disagree).
    pub hold_reason: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
