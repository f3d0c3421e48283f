//! Organisation rules: who may create organisations and manage members.

use chrono::Utc;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use uuid::Uuid;

use super::store;
use crate::accounts::service::{SYSTEM_ADMIN, is_unique_violation};
use crate::auth::Caller;
use crate::consent::model::{OrgKind, OrgRole};
use crate::db::begin_write;
use crate::entities::organization;
use crate::error::{ApiError, ErrorCode, FieldError};

async fn is_system_admin(db: &impl ConnectionTrait, caller: &Caller) -> Result<bool, ApiError> {
    let a = crate::accounts::store::find(db, caller.account_id)
        .await?
        .ok_or(ApiError::Unauthorized { invalid: true })?;
    Ok(a.system_role.as_deref() == Some(SYSTEM_ADMIN))
}

/// The 10-digit medical institution code: prefecture (2), score table (1), institution (6), check digit (1).
pub fn valid_institution_code(code: &str) -> bool {
    code.len() == 10 && code.bytes().all(|b| b.is_ascii_digit())
}

pub async fn create(
    db: &DatabaseConnection,
    caller: &Caller,
    kind: OrgKind,
    name: &str,
    code: Option<&str>,
) -> Result<organization::Model, ApiError> {
    if !is_system_admin(db, caller).await? {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "Only a system administrator creates organizations.",
        ));
    }
    let mut errors = Vec::new();
    if name.trim().is_empty() {
        errors.push(FieldError::new("name", "must not be blank"));
    }
    if code.is_some_and(|c| !valid_institution_code(c)) {
        errors.push(FieldError::new("code", "must be the 10-digit medical institution code"));
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let txn = begin_write(db).await?;
    let row = organization::Model {
        id: Uuid::now_v7(),
        kind: kind.as_str().to_owned(),
        name: name.trim().to_owned(),
        code: code.map(str::to_owned),
        created_at: Utc::now(),
    };
    let org = match store::insert(&txn, row).await {
        Ok(o) => o,
        Err(e) if is_unique_violation(&e) => {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                "An organization with this institution code exists.",
            ));
        }
        Err(e) => return Err(e.into()),
    };
    txn.commit().await?;
    Ok(org)
}

/// Org admins and system administrators manage members.
pub async fn require_manager(
    db: &impl ConnectionTrait,
    caller: &Caller,
    org_id: Uuid,
) -> Result<(), ApiError> {
    store::find(db, org_id).await?.ok_or_else(|| ApiError::not_found("organization"))?;
    let roles = store::roles(db, org_id, caller.account_id).await?;
    if roles.iter().any(|r| r == OrgRole::Admin.as_str()) || is_system_admin(db, caller).await? {
        Ok(())
    } else {
        Err(ApiError::new(ErrorCode::Forbidden, "Only the organization's admins manage its members."))
    }
}

/// Members see each other; managers see everyone.
pub async fn require_member(
    db: &impl ConnectionTrait,
    caller: &Caller,
    org_id: Uuid,
) -> Result<(), ApiError> {
    store::find(db, org_id).await?.ok_or_else(|| ApiError::not_found("organization"))?;
    if !store::roles(db, org_id, caller.account_id).await?.is_empty() || is_system_admin(db, caller).await? {
        Ok(())
    } else {
        Err(ApiError::new(ErrorCode::Forbidden, "Only the organization's members see its members."))
    }
}

pub async fn add_member(
    db: &DatabaseConnection,
    caller: &Caller,
    org_id: Uuid,
    account_id: Uuid,
    role: OrgRole,
) -> Result<(), ApiError> {
    require_manager(db, caller, org_id).await?;
    // An admin who could make themselves a nurse would read every record the org holds.
    if account_id == caller.account_id && !is_system_admin(db, caller).await? {
        return Err(ApiError::new(ErrorCode::Forbidden, "Another admin must give you a role."));
    }
    if crate::accounts::store::find(db, account_id).await?.is_none() {
        return Err(ApiError::field("accountId", "no such account"));
    }
    let txn = begin_write(db).await?;
    match store::add_member(&txn, org_id, account_id, role.as_str(), Utc::now()).await {
        Ok(()) => {}
        Err(e) if is_unique_violation(&e) => {
            return Err(ApiError::new(ErrorCode::Conflict, "The account already has this role here."));
        }
        Err(e) => return Err(e.into()),
    }
    txn.commit().await?;
    Ok(())
}

pub async fn remove_member(
    db: &DatabaseConnection,
    caller: &Caller,
    org_id: Uuid,
    account_id: Uuid,
) -> Result<(), ApiError> {
    require_manager(db, caller, org_id).await?;
    let txn = begin_write(db).await?;
    if store::remove_member(&txn, org_id, account_id).await? == 0 {
        return Err(ApiError::not_found("member"));
    }
    txn.commit().await?;
    Ok(())
}

/// A new API client for the organization; the secret is returned once and
/// kept only as an Argon2id hash.
pub async fn create_client(
    state: &crate::startup::AppState,
    caller: &Caller,
    org_id: Uuid,
    name: &str,
) -> Result<(crate::entities::org_client::Model, String), ApiError> {
    require_manager(&state.db, caller, org_id).await?;
    if name.trim().is_empty() {
        return Err(ApiError::field("name", "must not be blank"));
    }
    let secret = crate::auth::tokens::new_refresh_token();
    let hasher = state.hasher.clone();
    let to_hash = secret.clone();
    let secret_hash = tokio::task::spawn_blocking(move || hasher.hash(&to_hash))
        .await
        .map_err(|e| ApiError::Internal(e.into()))?
        .map_err(ApiError::Internal)?;
    let row = crate::entities::org_client::Model {
        id: Uuid::now_v7(),
        org_id,
        name: name.trim().to_owned(),
        secret_hash,
        created_by: caller.account_id,
        created_at: Utc::now(),
        revoked_at: None,
    };
    let txn = begin_write(&state.db).await?;
    let saved =
        sea_orm::ActiveModelTrait::insert(crate::entities::org_client::ActiveModel::from(row), &txn).await?;
    txn.commit().await?;
    Ok((saved, secret))
}

pub async fn list_clients(
    db: &DatabaseConnection,
    caller: &Caller,
    org_id: Uuid,
) -> Result<Vec<crate::entities::org_client::Model>, ApiError> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    require_manager(db, caller, org_id).await?;
    Ok(crate::entities::org_client::Entity::find()
        .filter(crate::entities::org_client::Column::OrgId.eq(org_id))
        .order_by_asc(crate::entities::org_client::Column::Id)
        .all(db)
        .await?)
}

/// Revokes a client: its next token request fails; tokens already issued end within their lifetime.
pub async fn revoke_client(
    db: &DatabaseConnection,
    caller: &Caller,
    org_id: Uuid,
    client_id: Uuid,
) -> Result<(), ApiError> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    require_manager(db, caller, org_id).await?;
    let txn = begin_write(db).await?;
    let res = crate::entities::org_client::Entity::update_many()
        .col_expr(crate::entities::org_client::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(crate::entities::org_client::Column::Id.eq(client_id))
        .filter(crate::entities::org_client::Column::OrgId.eq(org_id))
        .filter(crate::entities::org_client::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    txn.commit().await?;
    if res.rows_affected == 0 {
        return Err(ApiError::not_found("client"));
    }
    Ok(())
}
