use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "observations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub person_id: Uuid,
    pub kind: String,
    pub category: String,
    /// Canonical values in the catalogue's slot order.
    pub value0: Option<f64>,
    pub value1: Option<f64>,
    pub value2: Option<f64>,
    pub code: Option<String>,
    pub text: Option<String>,
    /// JSON of the values and units as sent.
    pub original: String,
    pub start_ms: i64,
    pub end_ms: Option<i64>,
    pub utc_offset_s: i32,
    pub source_app: Option<String>,
    pub source_device: Option<String>,
    pub source_method: String,
    pub note: Option<String>,
    pub content_hash: String,
    pub dedup_key: String,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
    /// The person's change counter when this row last changed.
    pub change_seq: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
