use sea_orm::entity::prelude::*;

/// One prescribed drug (RXE) from a facility's SS-MIX2 document.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "prescriptions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub person_id: Uuid,
    pub document_id: Uuid,
    pub org_id: Uuid,
    pub drug_system: Option<String>,
    pub drug_code: Option<String>,
    pub drug_name: String,
    pub dose: Option<f64>,
    pub dose_unit: Option<String>,
    pub daily_dose: Option<f64>,
    pub usage_code: Option<String>,
    pub usage_text: Option<String>,
    pub days: Option<i32>,
    pub route: Option<String>,
    pub prescribed_on: Option<Date>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
