use sea_orm::entity::prelude::*;

/// One pharmacy dispensing read from e-medication-handbook QR codes.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "dispensings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub person_id: Uuid,
    pub fingerprint: String,
    pub dispensed_on: Date,
    pub pharmacy_name: Option<String>,
    /// The parsed dispensing as JSON.
    pub data: String,
    /// JSON array of the scanned parts (base64), for provenance.
    pub raw_payload: String,
    pub created_by: Uuid,
    pub created_by_org: Option<Uuid>,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
    pub change_seq: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
