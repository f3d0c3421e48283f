//! Queries on organisations and memberships.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use crate::entities::{org_member, organization};

pub async fn insert(db: &impl ConnectionTrait, o: organization::Model) -> Result<organization::Model, DbErr> {
    organization::ActiveModel::from(o).insert(db).await
}

pub async fn find(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<organization::Model>, DbErr> {
    organization::Entity::find_by_id(id).one(db).await
}

pub async fn list(
    db: &impl ConnectionTrait,
    kind: Option<&str>,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<organization::Model>, DbErr> {
    let mut q = organization::Entity::find();
    if let Some(k) = kind {
        q = q.filter(organization::Column::Kind.eq(k));
    }
    if let Some(a) = after {
        q = q.filter(organization::Column::Id.gt(a));
    }
    q.order_by_asc(organization::Column::Id).limit(limit).all(db).await
}

pub async fn roles(db: &impl ConnectionTrait, org_id: Uuid, account_id: Uuid) -> Result<Vec<String>, DbErr> {
    Ok(org_member::Entity::find()
        .filter(org_member::Column::OrgId.eq(org_id))
        .filter(org_member::Column::AccountId.eq(account_id))
        .all(db)
        .await?
        .into_iter()
        .map(|m| m.role)
        .collect())
}

pub async fn memberships(
    db: &impl ConnectionTrait,
    account_id: Uuid,
) -> Result<Vec<org_member::Model>, DbErr> {
    org_member::Entity::find().filter(org_member::Column::AccountId.eq(account_id)).all(db).await
}

pub async fn members(db: &impl ConnectionTrait, org_id: Uuid) -> Result<Vec<org_member::Model>, DbErr> {
    org_member::Entity::find()
        .filter(org_member::Column::OrgId.eq(org_id))
        .order_by_asc(org_member::Column::CreatedAt)
        .all(db)
        .await
}

pub async fn add_member(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    account_id: Uuid,
    role: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    org_member::ActiveModel::from(org_member::Model {
        org_id,
        account_id,
        role: role.to_owned(),
        created_at: now,
    })
    .insert(db)
    .await
    .map(|_| ())
}

pub async fn remove_member(db: &impl ConnectionTrait, org_id: Uuid, account_id: Uuid) -> Result<u64, DbErr> {
    Ok(org_member::Entity::delete_many()
        .filter(org_member::Column::OrgId.eq(org_id))
        .filter(org_member::Column::AccountId.eq(account_id))
        .exec(db)
        .await?
        .rows_affected)
}
