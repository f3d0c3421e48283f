//! The authenticated caller, taken from `Authorization: Bearer <jwt>`.
//! Handlers that take a `Caller` are protected; there is no other way in.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use sea_orm::EntityTrait;
use uuid::Uuid;

use crate::error::ApiError;
use crate::startup::AppState;

/// An account proven by a valid access token.
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    pub account_id: Uuid,
    /// The sign-in session (refresh-token family) the token belongs to.
    pub session_id: Uuid,
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let caller = authenticate(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let caller = caller?;
            // An erased account's tokens stop working at once, not when they expire.
            if let Some(state) = state {
                let exists = crate::entities::account::Entity::find_by_id(caller.account_id)
                    .one(&state.db)
                    .await?
                    .is_some();
                if !exists {
                    return Err(ApiError::Unauthorized { invalid: true });
                }
            }
            Ok(caller)
        })
    }
}

/// A caller whose token is valid but whose account has not been looked up:
/// only for handlers whose first database read is the consent read
/// ([`crate::consent::service::reachable`]), which refuses an erased account
/// with the same 401 and so makes [`Caller`]'s own lookup a second round trip
/// for nothing. The sync poll, the most frequent request, is one.
#[derive(Debug, Clone, Copy)]
pub struct UncheckedCaller(Caller);

impl UncheckedCaller {
    /// For a consent read that checks the account itself.
    pub fn for_consent_read(self) -> Caller {
        self.0
    }
}

impl FromRequest for UncheckedCaller {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req).map(UncheckedCaller))
    }
}

/// When the request's access token was issued (seconds since the epoch).
pub fn issued_at(req: &HttpRequest) -> Option<i64> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (_, token) = value.split_once(' ')?;
    let state = req.app_data::<web::Data<AppState>>()?;
    state.keys.verify(token.trim()).map(|c| c.iat)
}

fn authenticate(req: &HttpRequest) -> Result<Caller, ApiError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Err(ApiError::Unauthorized { invalid: false });
    };
    let invalid = ApiError::Unauthorized { invalid: true };
    let value = value.to_str().map_err(|_| ApiError::Unauthorized { invalid: true })?;
    let (scheme, token) = value.split_once(' ').ok_or(ApiError::Unauthorized { invalid: true })?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(invalid);
    }
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("application state missing")))?;
    let claims = state.keys.verify(token.trim()).ok_or(ApiError::Unauthorized { invalid: true })?;
    // An organization client's token is not a person's: it opens no account endpoint.
    if claims.org.is_some() {
        return Err(ApiError::Unauthorized { invalid: true });
    }
    let account_id = Uuid::parse_str(&claims.sub).map_err(|_| ApiError::Unauthorized { invalid: true })?;
    let session_id = Uuid::parse_str(&claims.sid).map_err(|_| ApiError::Unauthorized { invalid: true })?;
    Ok(Caller { account_id, session_id })
}

/// An organization's API client, proven by a client-credentials token.
/// Only facility endpoints (ingest) take it; account endpoints refuse such tokens.
#[derive(Debug, Clone, Copy)]
pub struct FacilityClient {
    pub client_id: Uuid,
    pub org_id: Uuid,
}

impl FromRequest for FacilityClient {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate_client(req))
    }
}

fn authenticate_client(req: &HttpRequest) -> Result<FacilityClient, ApiError> {
    let invalid = || ApiError::Unauthorized { invalid: true };
    let value = req.headers().get(header::AUTHORIZATION).ok_or(ApiError::Unauthorized { invalid: false })?;
    let (scheme, token) = value.to_str().map_err(|_| invalid())?.split_once(' ').ok_or_else(invalid)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(invalid());
    }
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("application state missing")))?;
    let claims = state.keys.verify(token.trim()).ok_or_else(invalid)?;
    let org_id = claims.org.as_deref().and_then(|o| Uuid::parse_str(o).ok()).ok_or_else(invalid)?;
    let client_id = Uuid::parse_str(&claims.sub).map_err(|_| invalid())?;
    Ok(FacilityClient { client_id, org_id })
}
