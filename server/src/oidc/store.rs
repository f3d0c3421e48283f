//! Queries on pending OpenID authorization requests and linked external identities.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

use crate::entities::{external_identity, oidc_request};

pub struct NewRequest<'a> {
    pub state_hash: String,
    pub provider: &'a str,
    pub redirect_uri: &'a str,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert_request(
    db: &impl ConnectionTrait,
    new: NewRequest<'_>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    oidc_request::ActiveModel {
        id: Set(Uuid::now_v7()),
        state_hash: Set(new.state_hash),
        provider: Set(new.provider.to_owned()),
        redirect_uri: Set(new.redirect_uri.to_owned()),
        created_at: Set(now),
        expires_at: Set(new.expires_at),
        used_at: Set(None),
    }
    .insert(db)
    .await
    .map(|_| ())
}

/// Spends the request with this state, if it exists for `provider`, is unused
/// and unexpired. The conditional update makes two concurrent callbacks with
/// the same state end with exactly one winner.
pub async fn take_request(
    db: &impl ConnectionTrait,
    state_hash: &str,
    provider: &str,
    now: DateTime<Utc>,
) -> Result<Option<oidc_request::Model>, DbErr> {
    let Some(row) = oidc_request::Entity::find()
        .filter(oidc_request::Column::StateHash.eq(state_hash))
        .filter(oidc_request::Column::Provider.eq(provider))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let res = oidc_request::Entity::update_many()
        .col_expr(oidc_request::Column::UsedAt, Expr::value(now))
        .filter(oidc_request::Column::Id.eq(row.id))
        .filter(oidc_request::Column::UsedAt.is_null())
        .filter(oidc_request::Column::ExpiresAt.gt(now))
        .exec(db)
        .await?;
    Ok((res.rows_affected == 1).then_some(row))
}

/// Removes requests that expired before `cutoff`; they can no longer be used.
pub async fn prune_requests(db: &impl ConnectionTrait, cutoff: DateTime<Utc>) -> Result<u64, DbErr> {
    let res = oidc_request::Entity::delete_many()
        .filter(oidc_request::Column::ExpiresAt.lt(cutoff))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

pub async fn find_identity(
    db: &impl ConnectionTrait,
    provider: &str,
    subject: &str,
) -> Result<Option<external_identity::Model>, DbErr> {
    external_identity::Entity::find()
        .filter(external_identity::Column::Provider.eq(provider))
        .filter(external_identity::Column::Subject.eq(subject))
        .one(db)
        .await
}

pub async fn insert_identity(
    db: &impl ConnectionTrait,
    provider: &str,
    subject: &str,
    account_id: Uuid,
    email: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    external_identity::ActiveModel {
        id: Set(Uuid::now_v7()),
        provider: Set(provider.to_owned()),
        subject: Set(subject.to_owned()),
        account_id: Set(account_id),
        email: Set(email.map(str::to_owned)),
        created_at: Set(now),
        last_sign_in_at: Set(now),
    }
    .insert(db)
    .await
    .map(|_| ())
}

pub async fn touch_identity(db: &impl ConnectionTrait, id: Uuid, now: DateTime<Utc>) -> Result<(), DbErr> {
    external_identity::Entity::update_many()
        .col_expr(external_identity::Column::LastSignInAt, Expr::value(now))
        .filter(external_identity::Column::Id.eq(id))
        .exec(db)
        .await
        .map(|_| ())
}
