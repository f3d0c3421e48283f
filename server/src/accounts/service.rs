//! Account rules: who may register, how sign-in and token rotation work.

use chrono::{Duration, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, SqlErr};
use uuid::Uuid;

use super::store;
use crate::auth::keys::AccessClaims;
use crate::auth::tokens::{hash_token, new_refresh_token};
use crate::db::begin_write;
use crate::entities::account;
use crate::error::{ApiError, ErrorCode};
use crate::startup::AppState;

pub const MIN_PASSWORD_CHARS: usize = 10;
pub const SYSTEM_ADMIN: &str = "system_admin";

/// An email address as stored: trimmed and lower-cased, so that the unique
/// index is the duplicate check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        use validator::ValidateEmail;
        // Phone keyboards add stray spaces and capitals; neither makes another address.
        let e = raw.trim().to_lowercase();
        if e.len() > 320 || !e.validate_email() {
            return Err("must be an email address");
        }
        Ok(Self(e))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn check_password(password: &str) -> Result<(), ApiError> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(ApiError::field("password", format!("must be at least {MIN_PASSWORD_CHARS} characters")));
    }
    if n > 1024 {
        return Err(ApiError::field("password", "must be at most 1024 characters"));
    }
    Ok(())
}

async fn hash_password(state: &AppState, password: String) -> Result<String, ApiError> {
    let hasher = state.hasher.clone();
    // Argon2 is deliberately slow: keep it off the async workers.
    tokio::task::spawn_blocking(move || hasher.hash(&password))
        .await
        .map_err(|e| ApiError::Internal(e.into()))?
        .map_err(ApiError::Internal)
}

/// Creates an account and the holder's own person record in one transaction.
pub async fn register(
    state: &AppState,
    email: &Email,
    password: String,
    display_name: &str,
    system_role: Option<&str>,
) -> Result<account::Model, ApiError> {
    check_password(&password)?;
    if store::find_by_email(&state.db, email.as_str()).await?.is_some() {
        return Err(email_taken());
    }
    let hash = hash_password(state, password).await?;
    let txn = begin_write(&state.db).await?;
    let new =
        store::NewAccount { email: email.as_str(), password_hash: Some(hash), display_name, system_role };
    let account = match store::insert_with_person(&txn, new, Utc::now()).await {
        Ok(a) => a,
        // Two registrations raced past the check above: the index decides.
        Err(e) if is_unique_violation(&e) => return Err(email_taken()),
        Err(e) => return Err(e.into()),
    };
    txn.commit().await?;
    tracing::info!(account.id = %account.id, "account registered");
    Ok(account)
}

fn email_taken() -> ApiError {
    ApiError::new(ErrorCode::EmailTaken, "An account with this email address already exists.")
}

pub fn is_unique_violation(e: &DbErr) -> bool {
    matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

pub async fn me(db: &impl ConnectionTrait, account_id: Uuid) -> Result<account::Model, ApiError> {
    // A valid token for a deleted account is no longer a valid caller.
    store::find(db, account_id).await?.ok_or(ApiError::Unauthorized { invalid: true })
}

/// What the token endpoint answers on success.
pub struct Tokens {
    pub access_token: String,
    pub expires_in: i64,
    pub refresh_token: String,
}

/// Why a grant failed, in RFC 6749 §5.2 terms.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    #[error("invalid_grant")]
    InvalidGrant(&'static str),
    /// Unknown client, wrong secret or revoked client (RFC 6749 §5.2 `invalid_client`).
    #[error("invalid_client")]
    InvalidClient,
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl From<DbErr> for GrantError {
    fn from(e: DbErr) -> Self {
        Self::Api(e.into())
    }
}

/// Resource-owner password grant: a new sign-in session (token family).
pub async fn password_grant(
    state: &AppState,
    username: &str,
    password: String,
) -> Result<Tokens, GrantError> {
    let bad = GrantError::InvalidGrant("The email address or password is wrong.");
    let Ok(email) = Email::parse(username) else { return Err(bad) };
    let account = store::find_by_email(&state.db, email.as_str()).await?;
    let stored = account.as_ref().and_then(|a| a.password_hash.clone());
    let hasher = state.hasher.clone();
    let ok = tokio::task::spawn_blocking(move || hasher.verify(&password, stored.as_deref()))
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    let Some(account) = account.filter(|_| ok) else { return Err(bad) };
    let txn = begin_write(&state.db).await?;
    let tokens = issue(&txn, state, account.id, Uuid::now_v7()).await?;
    txn.commit().await?;
    tracing::info!(account.id = %account.id, "signed in");
    Ok(tokens)
}

/// Refresh grant with rotation: the presented token is spent and a new one of
/// the same family returned. Presenting a spent token revokes the family.
pub async fn refresh_grant(state: &AppState, presented: &str) -> Result<Tokens, GrantError> {
    let invalid = GrantError::InvalidGrant("The refresh token is invalid, expired or revoked.");
    let now = Utc::now();
    let txn = begin_write(&state.db).await?;
    let Some(row) = store::find_refresh_token(&txn, &hash_token(presented)).await? else {
        return Err(invalid);
    };
    if row.revoked_at.is_some() || row.expires_at <= now {
        return Err(invalid);
    }
    if !store::mark_used(&txn, row.id, now).await? {
        // Replay of a rotated token: someone else holds a copy. End the session.
        let n = store::revoke_family(&txn, row.family_id, now).await?;
        txn.commit().await?;
        tracing::warn!(account.id = %row.account_id, revoked = n, "refresh token reuse; session revoked");
        return Err(invalid);
    }
    if store::find(&txn, row.account_id).await?.is_none() {
        return Err(invalid);
    }
    let tokens = issue(&txn, state, row.account_id, row.family_id).await?;
    txn.commit().await?;
    Ok(tokens)
}

/// Issues this service's token pair (access JWT + refresh token) for a new or
/// continuing sign-in session; every way of signing in ends here.
pub(crate) async fn issue(
    db: &impl ConnectionTrait,
    state: &AppState,
    account_id: Uuid,
    family_id: Uuid,
) -> Result<Tokens, ApiError> {
    let now = Utc::now();
    let ttl = state.settings.access_token_ttl;
    let claims = AccessClaims {
        iss: state.keys.issuer().to_owned(),
        sub: account_id.to_string(),
        iat: now.timestamp(),
        exp: now.timestamp() + ttl,
        sid: family_id.to_string(),
        org: None,
    };
    let access_token = state.keys.sign(&claims).map_err(ApiError::Internal)?;
    let refresh_token = new_refresh_token();
    let expires = now + Duration::days(state.settings.refresh_token_ttl_days);
    store::insert_refresh_token(db, account_id, family_id, hash_token(&refresh_token), now, expires).await?;
    Ok(Tokens { access_token, expires_in: ttl, refresh_token })
}

/// Client-credentials grant (RFC 6749 §4.4) for an organization's API client:
/// an access token acting for the organization, no refresh token.
pub async fn client_grant(
    state: &AppState,
    client_id: &str,
    secret: String,
) -> Result<(String, i64), GrantError> {
    use sea_orm::EntityTrait;
    let bad = GrantError::InvalidClient;
    let client = match Uuid::parse_str(client_id.trim()) {
        Ok(id) => crate::entities::org_client::Entity::find_by_id(id).one(&state.db).await?,
        Err(_) => None,
    };
    let stored = client.as_ref().filter(|c| c.revoked_at.is_none()).map(|c| c.secret_hash.clone());
    let hasher = state.hasher.clone();
    let ok = tokio::task::spawn_blocking(move || hasher.verify(&secret, stored.as_deref()))
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    let Some(client) = client.filter(|_| ok) else { return Err(bad) };
    let now = Utc::now();
    let ttl = state.settings.access_token_ttl;
    let claims = AccessClaims {
        iss: state.keys.issuer().to_owned(),
        sub: client.id.to_string(),
        iat: now.timestamp(),
        exp: now.timestamp() + ttl,
        sid: client.id.to_string(),
        org: Some(client.org_id.to_string()),
    };
    let token = state.keys.sign(&claims).map_err(ApiError::Internal)?;
    tracing::info!(client.id = %client.id, org.id = %client.org_id, "client token issued");
    Ok((token, ttl))
}

/// RFC 7009: revoking a refresh token ends its whole sign-in session. Unknown
/// tokens are not an error (the client's goal is reached either way).
pub async fn revoke(db: &DatabaseConnection, presented: &str) -> Result<(), ApiError> {
    let txn = begin_write(db).await?;
    if let Some(row) = store::find_refresh_token(&txn, &hash_token(presented)).await? {
        store::revoke_family(&txn, row.family_id, Utc::now()).await?;
    }
    txn.commit().await?;
    Ok(())
}

/// `phr admin create-admin`: a new account with the system administrator role.
pub async fn create_admin(
    state: &AppState,
    email: &str,
    password: String,
) -> Result<account::Model, ApiError> {
    let email = Email::parse(email).map_err(|m| ApiError::field("email", m))?;
    let name = email.as_str().split('@').next().unwrap_or("admin").to_owned();
    register(state, &email, password, &name, Some(SYSTEM_ADMIN)).await
}

#[cfg(test)]
mod tests {
    use super::Email;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            Email::parse("  Taro.Suzuki@Example.JP ").map(|e| e.0),
            Ok("taro.suzuki@example.jp".into())
        );
        assert!(Email::parse("no-at-sign").is_err());
        assert!(Email::parse("a@b@c").is_err());
        assert!(Email::parse("@example.jp").is_err());
        assert!(Email::parse("a b@example.jp").is_err());
    }
}
