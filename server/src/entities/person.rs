use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "persons")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub display_name: String,
    pub birth_date: Option<Date>,
    pub sex: Option<String>,
    /// Family and given name in katakana, compared with what facilities send.
    pub name_kana: Option<String>,
    /// IANA zone in which trends are bucketed.
    pub time_zone: String,
    /// Per-person change counter: the sync feed's clock for this record.
    pub change_seq: i64,
    /// Changes at or below this were pruned (old tombstones); older cursors must resync.
    pub sync_floor: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
