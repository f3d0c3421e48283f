use sea_orm::entity::prelude::*;

/// One push to one device, committed with the change that caused it and
/// delivered by the outbox worker.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "push_outbox")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The inbox entry it announces; `None` for sync pokes.
    pub notification_id: Option<Uuid>,
    pub device_id: Uuid,
    /// `sync`, `alert` or `emergency`.
    pub kind: String,
    /// JSON object of strings: the FCM `data` block.
    pub data: String,
    /// `pending`, `sending` (claimed until `next_attempt_at`), `sent`, `failed` or `dropped`.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    pub last_error: Option<String>,
    pub message_name: Option<String>,
    pub created_at: DateTimeUtc,
    pub sent_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
