//! Queries on grants, invitations, guardians and dependent persons.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use crate::entities::{grant, guardian, invitation, person};

pub async fn insert_grant(db: &impl ConnectionTrait, g: grant::Model) -> Result<grant::Model, DbErr> {
    grant::ActiveModel::from(g).insert(db).await
}

pub async fn list_grants(
    db: &impl ConnectionTrait,
    person_id: Uuid,
    before: Option<Uuid>,
    limit: u64,
) -> Result<Vec<grant::Model>, DbErr> {
    let mut q = grant::Entity::find().filter(grant::Column::PersonId.eq(person_id));
    if let Some(b) = before {
        q = q.filter(grant::Column::Id.lt(b));
    }
    q.order_by_desc(grant::Column::Id).limit(limit).all(db).await
}

pub async fn find_grant(
    db: &impl ConnectionTrait,
    person_id: Uuid,
    id: Uuid,
) -> Result<Option<grant::Model>, DbErr> {
    grant::Entity::find()
        .filter(grant::Column::Id.eq(id))
        .filter(grant::Column::PersonId.eq(person_id))
        .one(db)
        .await
}

pub async fn revoke_grant(db: &impl ConnectionTrait, id: Uuid, now: DateTime<Utc>) -> Result<(), DbErr> {
    grant::Entity::update_many()
        .col_expr(grant::Column::RevokedAt, Expr::value(now))
        .col_expr(grant::Column::UpdatedAt, Expr::value(now))
        .filter(grant::Column::Id.eq(id))
        .filter(grant::Column::RevokedAt.is_null())
        .exec(db)
        .await
        .map(|_| ())
}

pub async fn insert_invitation(db: &impl ConnectionTrait, i: invitation::Model) -> Result<(), DbErr> {
    invitation::ActiveModel::from(i).insert(db).await.map(|_| ())
}

pub async fn find_invitation(
    db: &impl ConnectionTrait,
    code_hash: &str,
) -> Result<Option<invitation::Model>, DbErr> {
    invitation::Entity::find().filter(invitation::Column::CodeHash.eq(code_hash)).one(db).await
}

/// Marks an open invitation used; `false` if someone else got there first.
pub async fn mark_accepted(
    db: &impl ConnectionTrait,
    id: Uuid,
    by: Uuid,
    grant_id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let res = invitation::Entity::update_many()
        .col_expr(invitation::Column::AcceptedAt, Expr::value(now))
        .col_expr(invitation::Column::AcceptedBy, Expr::value(by))
        .col_expr(invitation::Column::GrantId, Expr::value(grant_id))
        .filter(invitation::Column::Id.eq(id))
        .filter(invitation::Column::AcceptedAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

pub async fn insert_person(db: &impl ConnectionTrait, p: person::Model) -> Result<person::Model, DbErr> {
    person::ActiveModel::from(p).insert(db).await
}

pub async fn add_guardian(
    db: &impl ConnectionTrait,
    person_id: Uuid,
    account_id: Uuid,
    by: Uuid,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    guardian::ActiveModel::from(guardian::Model { person_id, account_id, created_by: by, created_at: now })
        .insert(db)
        .await
        .map(|_| ())
}

pub async fn guardians_of(db: &impl ConnectionTrait, person_id: Uuid) -> Result<Vec<guardian::Model>, DbErr> {
    guardian::Entity::find()
        .filter(guardian::Column::PersonId.eq(person_id))
        .order_by_asc(guardian::Column::CreatedAt)
        .all(db)
        .await
}

pub async fn remove_guardian(
    db: &impl ConnectionTrait,
    person_id: Uuid,
    account_id: Uuid,
) -> Result<bool, DbErr> {
    let res = guardian::Entity::delete_many()
        .filter(guardian::Column::PersonId.eq(person_id))
        .filter(guardian::Column::AccountId.eq(account_id))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}
