use sea_orm::entity::prelude::*;

/// One lab result (OBX) from a facility's SS-MIX2 document.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "lab_results")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub person_id: Uuid,
    pub document_id: Uuid,
    pub org_id: Uuid,
    pub jlac10: Option<String>,
    /// The JLAC10 analyte (first five characters): one series across facilities.
    pub analyte: Option<String>,
    pub code: String,
    pub name: String,
    pub value: String,
    pub numeric: Option<f64>,
    pub unit: Option<String>,
    pub range_text: Option<String>,
    pub range_low: Option<f64>,
    pub range_high: Option<f64>,
    pub flags: String,
    pub specimen: Option<String>,
    pub observed_at: Option<DateTimeUtc>,
    pub status: Option<String>,
    /// NTE comments after the OBX, one per line, HL7 escapes resolved.
    pub notes: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
