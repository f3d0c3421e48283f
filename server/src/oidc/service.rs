//! External sign-in rules: a started request is good once, for ten minutes,
//! for the provider and redirect URI it was started with; a provider's subject
//! maps to one account, found by an earlier link, else by the verified email,
//! else created.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use sea_orm::{ConnectionTrait, DbErr};
use uuid::Uuid;

use super::provider::Identity;
use super::store;
use crate::accounts::service::{Email, Tokens, is_unique_violation};
use crate::accounts::{self, store::NewAccount};
use crate::auth::tokens::hash_token;
use crate::db::begin_write;
use crate::error::{ApiError, ErrorCode};
use crate::startup::AppState;

/// How long a started sign-in may take to come back.
pub const REQUEST_TTL_MINUTES: i64 = 10;

/// 256 random bits, URL-safe: states and nonces must be unguessable.
fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    B64.encode(bytes)
}

pub struct Started {
    pub authorization_url: String,
    pub expires_at: DateTime<Utc>,
}

/// Starts an authorization-code flow: stores state, nonce and PKCE verifier,
/// and returns the provider URL to open.
pub async fn start(state: &AppState, provider: &str, redirect_uri: &str) -> Result<Started, ApiError> {
    let p = state.oidc.get(provider)?;
    // Exact match only: anything looser lets a crafted link send the code elsewhere.
    if !p.config.redirect_uris.iter().any(|u| u == redirect_uri) {
        return Err(ApiError::field("redirect_uri", "is not a registered redirect URI of this provider"));
    }
    let (st, nonce) = (random_secret(), random_secret());
    let req = state.oidc.authorization_request(p, redirect_uri, &st, &nonce).await?;
    let now = Utc::now();
    let expires_at = now + Duration::minutes(REQUEST_TTL_MINUTES);
    let txn = begin_write(&state.db).await?;
    store::prune_requests(&txn, now - Duration::hours(1)).await?;
    let new = store::NewRequest {
        state_hash: hash_token(&st),
        provider,
        nonce: &nonce,
        pkce_verifier: &req.pkce_verifier,
        redirect_uri,
        expires_at,
    };
    store::insert_request(&txn, new, now).await?;
    txn.commit().await?;
    Ok(Started { authorization_url: req.url, expires_at })
}

/// Finishes a flow: spends the state, exchanges the code, validates the ID
/// token, finds or creates the account and issues this service's tokens.
pub async fn finish(state: &AppState, provider: &str, code: &str, st: &str) -> Result<Tokens, ApiError> {
    let p = state.oidc.get(provider)?;
    let now = Utc::now();
    // Spent before the exchange, in its own transaction: a failed attempt
    // cannot be retried with the same state.
    let txn = begin_write(&state.db).await?;
    let req = store::take_request(&txn, &hash_token(st), provider, now).await?;
    txn.commit().await?;
    let Some(req) = req else {
        return Err(ApiError::new(
            ErrorCode::OidcStateInvalid,
            "The state is unknown, expired or already used; start the sign-in again.",
        ));
    };
    let id_token = state.oidc.exchange(p, &req.redirect_uri, code, &req.pkce_verifier).await?;
    let identity = state.oidc.validate_id_token(p, &id_token, &req.nonce).await?;
    let txn = begin_write(&state.db).await?;
    let account_id = match link_or_create(&txn, provider, &identity, now).await {
        Ok(id) => id,
        // Two first sign-ins of one person raced; the indexes decided.
        Err(LinkError::Db(e)) if is_unique_violation(&e) => {
            return Err(ApiError::new(ErrorCode::Conflict, "Another sign-in of this identity won; retry."));
        }
        Err(LinkError::Db(e)) => return Err(e.into()),
        Err(LinkError::Api(e)) => return Err(e),
    };
    let tokens = accounts::service::issue(&txn, state, account_id, Uuid::now_v7()).await?;
    txn.commit().await?;
    tracing::info!(account.id = %account_id, provider, "signed in with an external provider");
    Ok(tokens)
}

enum LinkError {
    Db(DbErr),
    Api(ApiError),
}

impl From<DbErr> for LinkError {
    fn from(e: DbErr) -> Self {
        Self::Db(e)
    }
}

async fn link_or_create(
    db: &impl ConnectionTrait,
    provider: &str,
    id: &Identity,
    now: DateTime<Utc>,
) -> Result<Uuid, LinkError> {
    if let Some(link) = store::find_identity(db, provider, &id.subject).await? {
        store::touch_identity(db, link.id, now).await?;
        return Ok(link.account_id);
    }
    // A first sign-in joins or creates an account by email, so the provider
    // must vouch for the address: otherwise anyone could claim any account.
    let email = id.email.as_deref().filter(|_| id.email_verified).and_then(|e| Email::parse(e).ok());
    let Some(email) = email else {
        return Err(LinkError::Api(ApiError::new(
            ErrorCode::OidcEmailUnverified,
            "The identity provider did not vouch for an email address (`email_verified`); \
             verify it there and sign in again.",
        )));
    };
    let account = match accounts::store::find_by_email(db, email.as_str()).await? {
        // An administrator's account is never taken over by an outside provider's say-so.
        Some(a) if a.system_role.is_some() => {
            return Err(LinkError::Api(ApiError::new(
                ErrorCode::Forbidden,
                "Administrator accounts are not linked to external sign-in automatically.",
            )));
        }
        Some(a) => a,
        None => {
            let fallback = email.as_str().split('@').next().unwrap_or("user").to_owned();
            let name = id
                .name
                .as_deref()
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(|n| n.chars().take(100).collect())
                .unwrap_or(fallback);
            let new = NewAccount {
                email: email.as_str(),
                password_hash: None,
                display_name: &name,
                system_role: None,
            };
            let a = accounts::store::insert_with_person(db, new, now).await?;
            tracing::info!(account.id = %a.id, provider, "account created by external sign-in");
            a
        }
    };
    store::insert_identity(db, provider, &id.subject, account.id, Some(email.as_str()), now).await?;
    tracing::info!(account.id = %account.id, provider, "external identity linked");
    Ok(account.id)
}
