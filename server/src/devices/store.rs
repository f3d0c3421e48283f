//! Queries on devices. Listing is a keyset scan over `(account_id, id)`;
//! ids are UUIDv7, so id order is registration order.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Set,
};
use uuid::Uuid;

use crate::entities::device;

pub struct NewDevice {
    pub account_id: Uuid,
    pub platform: &'static str,
    pub name: String,
    pub push_token: Option<String>,
}

pub async fn insert(
    db: &impl ConnectionTrait,
    new: NewDevice,
    now: DateTime<Utc>,
) -> Result<device::Model, DbErr> {
    device::ActiveModel {
        id: Set(Uuid::now_v7()),
        account_id: Set(new.account_id),
        platform: Set(new.platform.to_owned()),
        name: Set(new.name),
        push_token: Set(new.push_token),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
}

/// Detaches a push token from whichever device held it.
pub async fn release_push_token(
    db: &impl ConnectionTrait,
    token: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    device::Entity::update_many()
        .col_expr(device::Column::PushToken, Expr::value(Option::<String>::None))
        .col_expr(device::Column::UpdatedAt, Expr::value(now))
        .filter(device::Column::PushToken.eq(token))
        .exec(db)
        .await
        .map(|_| ())
}

/// Newest first; `before` is the last id of the previous page.
pub async fn list(
    db: &impl ConnectionTrait,
    account_id: Uuid,
    before: Option<Uuid>,
    limit: u64,
) -> Result<Vec<device::Model>, DbErr> {
    let mut q = device::Entity::find().filter(device::Column::AccountId.eq(account_id));
    if let Some(before) = before {
        q = q.filter(device::Column::Id.lt(before));
    }
    q.order_by_desc(device::Column::Id).limit(limit).all(db).await
}

/// Deletes the account's device; `false` when there was none.
pub async fn delete(db: &impl ConnectionTrait, account_id: Uuid, id: Uuid) -> Result<bool, DbErr> {
    let res = device::Entity::delete_many()
        .filter(device::Column::AccountId.eq(account_id))
        .filter(device::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}
