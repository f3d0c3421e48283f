//! Device rules: a push token belongs to exactly one device, so registering it
//! again (another account signed in on the same phone) moves it, and the
//! previous account stops receiving notifications on that phone.

use chrono::Utc;
use sea_orm::DatabaseConnection;
use uuid::Uuid;

use super::store::{self, NewDevice};
use crate::db::begin_write;
use crate::entities::device;
use crate::error::ApiError;
use crate::http::Page;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Android,
    Ios,
    Web,
}

impl Platform {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Android => "android",
            Self::Ios => "ios",
            Self::Web => "web",
        }
    }
}

pub async fn register(
    db: &DatabaseConnection,
    account_id: Uuid,
    platform: Platform,
    name: String,
    push_token: Option<String>,
) -> Result<device::Model, ApiError> {
    let now = Utc::now();
    let txn = begin_write(db).await?;
    if let Some(token) = &push_token {
        store::release_push_token(&txn, token, now).await?;
    }
    let new = NewDevice { account_id, platform: platform.as_str(), name, push_token };
    let device = store::insert(&txn, new, now).await?;
    txn.commit().await?;
    Ok(device)
}

pub async fn list(
    db: &DatabaseConnection,
    account_id: Uuid,
    before: Option<Uuid>,
    limit: u64,
) -> Result<Page<device::Model>, ApiError> {
    let rows = store::list(db, account_id, before, limit + 1).await?;
    Ok(Page::from_rows(rows, limit, |d| d.id))
}

pub async fn delete(db: &DatabaseConnection, account_id: Uuid, id: Uuid) -> Result<(), ApiError> {
    // Another account's device is indistinguishable from a missing one.
    if store::delete(db, account_id, id).await? { Ok(()) } else { Err(ApiError::not_found("device")) }
}
