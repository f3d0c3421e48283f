//! External sign-in rules: a started request is good once, for ten minutes,
//! for the provider and redirect URI it was started with; a provider's subject
//! maps to one account, found by an earlier link, else by the verified email,
//! else created.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sea_orm::{ConnectionTrait, DbErr};
use sha2::Sha256;
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

/// 256 random bits, URL-safe: a state must be unguessable.
fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    B64.encode(bytes)
}

/// The nonce and PKCE verifier of a sign-in, derived from its state under the
/// server's HMAC key (`PHR_CARD_KEY`), so that neither is ever stored: the
/// database keeps only the state's SHA-256, and the state alone (which the
/// provider and the browser see) does not give the verifier without the key.
/// Each is 256 bits, base64url (43 characters, a valid RFC 7636 verifier).
pub(crate) struct RequestSecrets {
    pub nonce: String,
    pub pkce_verifier: String,
}

pub(crate) fn request_secrets(key: &str, st: &str) -> Result<RequestSecrets, ApiError> {
    let derive = |purpose: &str| -> Result<String, ApiError> {
        let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes())
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("{e}")))?;
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(st.as_bytes());
        Ok(B64.encode(mac.finalize().into_bytes()))
    };
    Ok(RequestSecrets { nonce: derive("phr/oidc/nonce")?, pkce_verifier: derive("phr/oidc/pkce-verifier")? })
}

pub struct Started {
    pub authorization_url: String,
    pub expires_at: DateTime<Utc>,
}

/// Starts an authorization-code flow: stores the state's hash (the nonce and
/// PKCE verifier follow from the state) and returns the provider URL to open.
pub async fn start(state: &AppState, provider: &str, redirect_uri: &str) -> Result<Started, ApiError> {
    let p = state.oidc.get(provider)?;
    // Exact match only: anything looser lets a crafted link send the code elsewhere.
    if !p.config.redirect_uris.iter().any(|u| u == redirect_uri) {
        return Err(ApiError::field("redirect_uri", "is not a registered redirect URI of this provider"));
    }
    let st = random_secret();
    let secrets = request_secrets(&state.card_key, &st)?;
    let url = state
        .oidc
        .authorization_request(p, redirect_uri, &st, &secrets.nonce, &secrets.pkce_verifier)
        .await?;
    let now = Utc::now();
    let expires_at = now + Duration::minutes(REQUEST_TTL_MINUTES);
    let txn = begin_write(&state.db).await?;
    store::prune_requests(&txn, now - Duration::hours(1)).await?;
    let new = store::NewRequest { state_hash: hash_token(&st), provider, redirect_uri, expires_at };
    store::insert_request(&txn, new, now).await?;
    txn.commit().await?;
    Ok(Started { authorization_url: url, expires_at })
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
    let secrets = request_secrets(&state.card_key, st)?;
    let id_token = state.oidc.exchange(p, &req.redirect_uri, code, &secrets.pkce_verifier).await?;
    let identity = state.oidc.validate_id_token(p, &id_token, &secrets.nonce).await?;
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn request_secrets_are_per_state_per_key_and_valid_pkce_verifiers() {
        let a = request_secrets("key-one-0123456789", "state-a").unwrap();
        let again = request_secrets("key-one-0123456789", "state-a").unwrap();
        let other_state = request_secrets("key-one-0123456789", "state-b").unwrap();
        let other_key = request_secrets("key-two-0123456789", "state-a").unwrap();
        assert_eq!((&a.nonce, &a.pkce_verifier), (&again.nonce, &again.pkce_verifier));
        assert_ne!(a.nonce, a.pkce_verifier);
        for other in [&other_state, &other_key] {
            assert_ne!(a.nonce, other.nonce);
            assert_ne!(a.pkce_verifier, other.pkce_verifier);
        }
        // RFC 7636 §4.1: 43 to 128 characters of [A-Z a-z 0-9 - . _ ~].
        assert_eq!(a.pkce_verifier.len(), 43);
        assert!(a.pkce_verifier.chars().all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c)));
    }
}
