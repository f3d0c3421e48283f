//! Queries on accounts, persons and refresh tokens.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

use crate::entities::{account, person, refresh_token};

pub async fn find_by_email(db: &impl ConnectionTrait, email: &str) -> Result<Option<account::Model>, DbErr> {
    account::Entity::find().filter(account::Column::Email.eq(email)).one(db).await
}

pub async fn find_by_person(
    db: &impl ConnectionTrait,
    person_id: Uuid,
) -> Result<Option<account::Model>, DbErr> {
    account::Entity::find().filter(account::Column::PersonId.eq(person_id)).one(db).await
}

pub async fn find(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<account::Model>, DbErr> {
    account::Entity::find_by_id(id).one(db).await
}

pub struct NewAccount<'a> {
    pub email: &'a str,
    pub password_hash: Option<String>,
    pub display_name: &'a str,
    pub system_role: Option<&'a str>,
}

/// Inserts the person and then the account that owns it.
pub async fn insert_with_person(
    db: &impl ConnectionTrait,
    new: NewAccount<'_>,
    now: DateTime<Utc>,
) -> Result<account::Model, DbErr> {
    let person_id = Uuid::now_v7();
    person::ActiveModel {
        id: Set(person_id),
        display_name: Set(new.display_name.to_owned()),
        birth_date: Set(None),
        sex: Set(None),
        name_kana: Set(None),
        time_zone: Set("Asia/Tokyo".to_owned()),
        change_seq: Set(0),
        sync_floor: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    account::ActiveModel {
        id: Set(Uuid::now_v7()),
        email: Set(new.email.to_owned()),
        password_hash: Set(new.password_hash),
        display_name: Set(new.display_name.to_owned()),
        person_id: Set(person_id),
        system_role: Set(new.system_role.map(str::to_owned)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
}

pub async fn insert_refresh_token(
    db: &impl ConnectionTrait,
    account_id: Uuid,
    family_id: Uuid,
    token_hash: String,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(), DbErr> {
    refresh_token::ActiveModel {
        id: Set(Uuid::now_v7()),
        family_id: Set(family_id),
        account_id: Set(account_id),
        token_hash: Set(token_hash),
        created_at: Set(now),
        expires_at: Set(expires_at),
        used_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(db)
    .await
    .map(|_| ())
}

pub async fn find_refresh_token(
    db: &impl ConnectionTrait,
    token_hash: &str,
) -> Result<Option<refresh_token::Model>, DbErr> {
    refresh_token::Entity::find().filter(refresh_token::Column::TokenHash.eq(token_hash)).one(db).await
}

/// Marks a token used if nobody did first; `false` means it was already used
/// (a concurrent or replayed refresh), which the caller treats as theft.
pub async fn mark_used(db: &impl ConnectionTrait, id: Uuid, now: DateTime<Utc>) -> Result<bool, DbErr> {
    let res = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::UsedAt, Expr::value(now))
        .filter(refresh_token::Column::Id.eq(id))
        .filter(refresh_token::Column::UsedAt.is_null())
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

pub async fn revoke_family(
    db: &impl ConnectionTrait,
    family_id: Uuid,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let res = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(now))
        .filter(refresh_token::Column::FamilyId.eq(family_id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

pub async fn set_system_role(
    db: &impl ConnectionTrait,
    account_id: Uuid,
    role: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    account::Entity::update_many()
        .col_expr(account::Column::SystemRole, Expr::value(role.map(str::to_owned)))
        .col_expr(account::Column::UpdatedAt, Expr::value(now))
        .filter(account::Column::Id.eq(account_id))
        .exec(db)
        .await
        .map(|_| ())
}
