//! `/v1/auth/oidc/{provider}/…`: start an external sign-in, and finish it
//! either at the callback (redirect URI on this server) or by the app posting
//! the code and state it received on its own redirect URI.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use super::service;
use crate::accounts::http::TokenResponse;
use crate::accounts::service::Tokens;
use crate::error::{ApiError, ApiResult, ErrorCode, FieldError, Problem};
use crate::http::Json;
use crate::startup::AppState;

const PROBLEM: &str = "application/problem+json";

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuthorizeQuery {
    /// Where the provider sends the browser back; must be one of the
    /// provider's configured `redirectUris`, character for character.
    #[param(required = true, min_length = 1)]
    pub redirect_uri: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizeResponse {
    /// Open this in a browser (tab); it carries state, nonce and a PKCE S256 challenge.
    pub authorization_url: String,
    /// After this the state is refused; start again.
    pub expires_at: DateTime<Utc>,
}

/// Start external sign-in
///
/// Starts an OpenID Connect authorization-code flow with PKCE at the
/// configured provider. State, nonce and PKCE verifier stay on this server,
/// good once for 10 minutes. Answers `302` to the provider's authorization
/// endpoint, or `200` with the URL when the request sends
/// `Accept: application/json` (mobile apps open it in a browser tab).
#[utoipa::path(
    tag = "oidc",
    params(("provider" = String, Path, description = "Configured provider name"), AuthorizeQuery),
    responses(
        (status = 200, description = "With `Accept: application/json`: the URL to open", body = AuthorizeResponse),
        (status = 302, description = "Redirect to the provider's authorization endpoint (`Location`)"),
        (status = 404, description = "Unknown provider (`not_found`)", body = Problem, content_type = PROBLEM),
        (status = 422, description = "Missing or unregistered `redirect_uri` (`validation_failed`)", body = Problem, content_type = PROBLEM),
        (status = 502, description = "Provider discovery failed (`oidc_provider_unavailable`)", body = Problem, content_type = PROBLEM),
    ),
    security(())
)]
#[get("/auth/oidc/{provider}/authorize")]
pub async fn authorize(
    state: web::Data<AppState>,
    req: HttpRequest,
    provider: web::Path<String>,
    query: web::Query<AuthorizeQuery>,
) -> ApiResult<HttpResponse> {
    let redirect_uri = query
        .redirect_uri
        .as_deref()
        .filter(|u| !u.is_empty())
        .ok_or_else(|| ApiError::field("redirect_uri", "is required"))?;
    let started = service::start(&state, &provider, redirect_uri).await?;
    let wants_json = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("application/json"));
    let mut res = if wants_json { HttpResponse::Ok() } else { HttpResponse::Found() };
    res.insert_header((header::CACHE_CONTROL, "no-store"));
    Ok(if wants_json {
        res.json(AuthorizeResponse {
            authorization_url: started.authorization_url,
            expires_at: started.expires_at,
        })
    } else {
        res.insert_header((header::LOCATION, started.authorization_url)).finish()
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    /// The authorization code.
    pub code: Option<String>,
    /// The state from the authorization URL, unchanged.
    pub state: Option<String>,
    /// Set by the provider instead of `code` when the sign-in did not happen (e.g. `access_denied`).
    pub error: Option<String>,
}

/// Finish external sign-in (redirect URI on this server)
///
/// Where the provider redirects when the registered redirect URI is this
/// endpoint. Exchanges the code (with the PKCE verifier), validates the ID
/// token (signature, issuer, audience, expiry, nonce), links the provider's
/// subject to an account (an earlier link, else an account with the same
/// verified email, else a new account) and answers the same token pair as
/// `POST /v1/auth/token`.
#[utoipa::path(
    tag = "oidc",
    params(("provider" = String, Path, description = "Configured provider name"), CallbackQuery),
    responses(
        (status = 200, description = "Signed in", body = TokenResponse),
        (status = 400, description = "Unknown, expired or used state (`oidc_state_invalid`)", body = Problem, content_type = PROBLEM),
        (status = 401, description = "Code refused (`oidc_exchange_failed`) or ID token invalid (`oidc_id_token_invalid`, `errors[0].path` names the check: `id_token/signature`, `id_token/iss`, `id_token/aud`, `id_token/exp`, `id_token/nonce`, …)", body = Problem, content_type = PROBLEM),
        (status = 403, description = "First sign-in without a verified email (`oidc_email_unverified`)", body = Problem, content_type = PROBLEM),
        (status = 404, description = "Unknown provider (`not_found`)", body = Problem, content_type = PROBLEM),
        (status = 409, description = "A concurrent first sign-in of the same identity won (`conflict`); retry", body = Problem, content_type = PROBLEM),
        (status = 422, description = "Missing `code` or `state` (`validation_failed`)", body = Problem, content_type = PROBLEM),
        (status = 502, description = "Provider unreachable or unreadable (`oidc_provider_unavailable`)", body = Problem, content_type = PROBLEM),
    ),
    security(())
)]
#[get("/auth/oidc/{provider}/callback")]
pub async fn callback(
    state: web::Data<AppState>,
    provider: web::Path<String>,
    query: web::Query<CallbackQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    if let Some(error) = q.error {
        // RFC 6749 §4.1.2.1 codes are [a-z_]; echo nothing else.
        let error: String = error.chars().filter(|c| c.is_ascii_lowercase() || *c == '_').take(40).collect();
        return Err(ApiError::new(
            ErrorCode::OidcExchangeFailed,
            format!("The identity provider ended the sign-in ({error})."),
        ));
    }
    let mut errors = Vec::new();
    let code = q.code.filter(|c| !c.is_empty());
    let st = q.state.filter(|s| !s.is_empty());
    if code.is_none() {
        errors.push(FieldError::new("code", "is required"));
    }
    if st.is_none() {
        errors.push(FieldError::new("state", "is required"));
    }
    let (Some(code), Some(st)) = (code, st) else { return Err(ApiError::validation(errors)) };
    let tokens = service::finish(&state, &provider, &code, &st).await?;
    Ok(token_response(tokens))
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    /// The `code` the provider put on the app's redirect URI.
    #[validate(length(min = 1, max = 4096))]
    #[schema(min_length = 1, max_length = 4096)]
    pub code: String,
    /// The `state` from the same redirect, unchanged.
    #[validate(length(min = 1, max = 512))]
    #[schema(min_length = 1, max_length = 512)]
    pub state: String,
}

/// Finish external sign-in (redirect URI in the app)
///
/// For apps whose registered redirect URI is their own (`phrapp://…`): post
/// the `code` and `state` from that redirect. Same checks and answer as the
/// callback.
#[utoipa::path(
    tag = "oidc",
    params(("provider" = String, Path, description = "Configured provider name")),
    request_body = CodeRequest,
    responses(
        (status = 200, description = "Signed in", body = TokenResponse),
        (status = 400, description = "Unknown, expired or used state (`oidc_state_invalid`), or malformed JSON", body = Problem, content_type = PROBLEM),
        (status = 401, description = "Code refused (`oidc_exchange_failed`) or ID token invalid (`oidc_id_token_invalid`, `errors[0].path` names the check)", body = Problem, content_type = PROBLEM),
        (status = 403, description = "First sign-in without a verified email (`oidc_email_unverified`)", body = Problem, content_type = PROBLEM),
        (status = 404, description = "Unknown provider (`not_found`)", body = Problem, content_type = PROBLEM),
        (status = 409, description = "A concurrent first sign-in of the same identity won (`conflict`); retry", body = Problem, content_type = PROBLEM),
        (status = 415, description = "Not JSON", body = Problem, content_type = PROBLEM),
        (status = 422, description = "Missing or empty field (`validation_failed`)", body = Problem, content_type = PROBLEM),
        (status = 502, description = "Provider unreachable or unreadable (`oidc_provider_unavailable`)", body = Problem, content_type = PROBLEM),
    ),
    security(())
)]
#[post("/auth/oidc/{provider}/token")]
pub async fn token(
    state: web::Data<AppState>,
    provider: web::Path<String>,
    body: Json<CodeRequest>,
) -> ApiResult<HttpResponse> {
    let tokens = service::finish(&state, &provider, &body.code, &body.state).await?;
    Ok(token_response(tokens))
}

fn token_response(t: Tokens) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(TokenResponse {
            access_token: t.access_token,
            token_type: "Bearer".into(),
            expires_in: t.expires_in,
            refresh_token: Some(t.refresh_token),
        })
}
