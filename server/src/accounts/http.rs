//! `/v1/accounts`, `/v1/auth/*`, `/v1/me` and the public JWK set.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, ResponseError, delete, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use super::service::{self, Email, GrantError, SYSTEM_ADMIN};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorCode, FieldError, Problem};
use crate::http::{Json, RawBody};
use crate::startup::AppState;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterRequest {
    /// Case and surrounding spaces are ignored.
    #[schema(example = "hanako@example.jp", format = Email)]
    pub email: String,
    /// At least 10 characters.
    #[schema(example = "correct horse battery", min_length = 10)]
    pub password: String,
    #[validate(length(max = 100))]
    #[schema(example = "鈴木 花子", min_length = 1, max_length = 100)]
    pub display_name: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisterResponse {
    pub account_id: Uuid,
    /// The account holder's own PHR person record.
    pub person_id: Uuid,
}

/// Register an account
///
/// Creates the account and the holder's own person record.
#[utoipa::path(
    tag = "accounts",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Account created", body = RegisterResponse),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Email already registered (`email_taken`)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid field, e.g. a password under 10 characters", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[post("/accounts")]
pub async fn register(state: web::Data<AppState>, body: Json<RegisterRequest>) -> ApiResult<HttpResponse> {
    let body = body.0;
    let display_name = body.display_name.trim();
    let email = Email::parse(&body.email);
    let mut errors = Vec::new();
    if display_name.is_empty() {
        errors.push(FieldError::new("displayName", "must not be blank"));
    }
    if let Err(m) = &email {
        errors.push(FieldError::new("email", *m));
    }
    let email = match email {
        Ok(email) if errors.is_empty() => email,
        _ => return Err(ApiError::validation(errors)),
    };
    let account = service::register(&state, &email, body.password, display_name, None).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, "/v1/me"))
        .json(RegisterResponse { account_id: account.id, person_id: account.person_id }))
}

fn grant_type() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
    crate::http::schema::one_of(&["password", "refresh_token", "client_credentials"])
}

/// `application/x-www-form-urlencoded` body of the token endpoint (RFC 6749 §4.3, §4.4, §6).
#[derive(Debug, Deserialize, ToSchema)]
pub struct TokenRequest {
    /// `password`, `refresh_token` or `client_credentials`.
    #[schema(schema_with = grant_type)]
    pub grant_type: String,
    /// The account's email (password grant).
    pub username: Option<String>,
    pub password: Option<String>,
    /// The refresh token to rotate (refresh_token grant).
    pub refresh_token: Option<String>,
    /// Accepted and ignored: tokens carry the account's full API scope.
    pub scope: Option<String>,
    /// Organization API clients (client_credentials): the client id, unless sent with HTTP Basic.
    pub client_id: Option<String>,
    /// Organization API clients: the secret, unless sent with HTTP Basic.
    pub client_secret: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Single use: each refresh returns a new one. Absent for client credentials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// RFC 6749 §5.2 error body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OAuthError {
    /// `invalid_request`, `invalid_grant` or `unsupported_grant_type`.
    pub error: String,
    pub error_description: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct OAuthFailure {
    error: &'static str,
    description: String,
}

impl OAuthFailure {
    fn new(error: &'static str, description: impl Into<String>) -> Self {
        Self { error, description: description.into() }
    }
}

impl ResponseError for OAuthFailure {
    fn status_code(&self) -> actix_web::http::StatusCode {
        actix_web::http::StatusCode::BAD_REQUEST
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::BadRequest()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(OAuthError { error: self.error.into(), error_description: Some(self.description.clone()) })
    }
}

/// `Authorization: Basic base64(client_id:client_secret)`, form-urlencoded parts decoded.
fn basic_credentials(req: &HttpRequest) -> Option<(String, String)> {
    use base64::Engine;
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, b64) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok()?;
    let (id, secret) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    let unform = |s: &str| {
        serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("v={s}")).ok()?.pop().map(|(_, v)| v)
    };
    Some((unform(id)?, unform(secret)?))
}

/// Parses an RFC 6749 form body: each parameter at most once (§3.2).
fn parse_form(
    req: &HttpRequest,
    body: &[u8],
) -> Result<std::collections::HashMap<String, String>, OAuthFailure> {
    let ct = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !ct.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded") {
        return Err(OAuthFailure::new(
            "invalid_request",
            "Send the parameters as application/x-www-form-urlencoded.",
        ));
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|_| OAuthFailure::new("invalid_request", "The form body could not be parsed."))?;
    let mut map = std::collections::HashMap::new();
    for (k, v) in pairs {
        if map.insert(k.clone(), v).is_some() {
            return Err(OAuthFailure::new("invalid_request", format!("The parameter `{k}` appears twice.")));
        }
    }
    Ok(map)
}

/// Obtain tokens
///
/// OAuth 2.0 token endpoint (RFC 6749): `grant_type=password` with
/// `username` and `password`, or `grant_type=refresh_token`. Refresh tokens
/// rotate on every use; reusing a spent one revokes the whole session.
/// Organization API clients use `grant_type=client_credentials` (HTTP Basic
/// or `client_id`/`client_secret`); their tokens act for the organization and
/// open no account endpoint.
#[utoipa::path(
    tag = "auth",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Tokens issued", body = TokenResponse),
        (status = 400, description = "RFC 6749 §5.2 error (`invalid_grant`, `invalid_request`, `unsupported_grant_type`)", body = OAuthError),
        (status = 401, description = "`invalid_client`: unknown or revoked client, or wrong secret", body = OAuthError),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts: see `Retry-After`", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[post("/auth/token")]
pub async fn token(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: RawBody,
) -> Result<HttpResponse, actix_web::Error> {
    let minute = std::time::Duration::from_secs(60);
    let ip = crate::http::limits::client_ip(&req, state.settings.trust_forwarded);
    state
        .limits
        .hit(&format!("token-ip:{ip}"), state.settings.rate_token_per_ip, minute)
        .map_err(ApiError::RateLimited)?;
    let form = parse_form(&req, &body.0)?;
    let get = |k: &str| form.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let missing = |k: &str| OAuthFailure::new("invalid_request", format!("The parameter `{k}` is required."));
    let result = match get("grant_type") {
        Some("password") => {
            let user = get("username").ok_or_else(|| missing("username"))?;
            let pass = get("password").ok_or_else(|| missing("password"))?;
            let who = format!("signin:{}", user.trim().to_lowercase());
            state
                .limits
                .hit(&who, state.settings.rate_signin_per_account, minute)
                .map_err(ApiError::RateLimited)?;
            state.limits.locked(&who).map_err(ApiError::RateLimited)?;
            let r = service::password_grant(&state, user, pass.to_owned()).await;
            match &r {
                Ok(_) => state.limits.succeeded(&who),
                Err(GrantError::InvalidGrant(_)) => state.limits.failed(&who),
                Err(_) => {}
            }
            r
        }
        Some("refresh_token") => {
            let t = get("refresh_token").ok_or_else(|| missing("refresh_token"))?;
            service::refresh_grant(&state, t).await
        }
        Some("client_credentials") => {
            // RFC 6749 §2.3.1: HTTP Basic, or client_id and client_secret in the body.
            let (id, secret) = match basic_credentials(&req) {
                Some(pair) => pair,
                None => (
                    get("client_id").ok_or_else(|| missing("client_id"))?.to_owned(),
                    get("client_secret").ok_or_else(|| missing("client_secret"))?.to_owned(),
                ),
            };
            return match service::client_grant(&state, &id, secret).await {
                Ok((access_token, expires_in)) => Ok(HttpResponse::Ok()
                    .insert_header((header::CACHE_CONTROL, "no-store"))
                    .insert_header((header::PRAGMA, "no-cache"))
                    .json(TokenResponse {
                        access_token,
                        token_type: "Bearer".into(),
                        expires_in,
                        refresh_token: None,
                    })),
                Err(GrantError::InvalidClient) => Ok(HttpResponse::Unauthorized()
                    .insert_header((header::WWW_AUTHENTICATE, r#"Basic realm="phr""#))
                    .insert_header((header::CACHE_CONTROL, "no-store"))
                    .json(OAuthError {
                        error: "invalid_client".into(),
                        error_description: Some(
                            "The client is unknown, revoked, or the secret is wrong.".into(),
                        ),
                    })),
                Err(GrantError::InvalidGrant(why)) => Err(OAuthFailure::new("invalid_grant", why).into()),
                Err(GrantError::Api(e)) => Err(e.into()),
            };
        }
        Some(other) => {
            return Err(OAuthFailure::new(
                "unsupported_grant_type",
                format!("`{other}` is not supported; use password, refresh_token or client_credentials."),
            )
            .into());
        }
        None => return Err(missing("grant_type").into()),
    };
    match result {
        Ok(t) => Ok(HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"))
            .json(TokenResponse {
                access_token: t.access_token,
                token_type: "Bearer".into(),
                expires_in: t.expires_in,
                refresh_token: Some(t.refresh_token),
            })),
        Err(GrantError::InvalidGrant(why)) => Err(OAuthFailure::new("invalid_grant", why).into()),
        Err(GrantError::InvalidClient) => {
            Err(OAuthFailure::new("invalid_client", "client authentication failed").into())
        }
        Err(GrantError::Api(e)) => Err(e.into()),
    }
}

/// Revoke a refresh token
///
/// RFC 7009: `token=<refresh token>` (form-encoded). Ends the token's whole
/// sign-in session. Answers 200 whether or not the token was known.
#[utoipa::path(
    tag = "auth",
    request_body(content = RevokeRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Revoked (or unknown)"),
        (status = 400, description = "RFC 6749 §5.2 error (`invalid_request`)", body = OAuthError),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[post("/auth/revoke")]
pub async fn revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: RawBody,
) -> Result<HttpResponse, actix_web::Error> {
    let form = parse_form(&req, &body.0)?;
    let presented = form
        .get("token")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| OAuthFailure::new("invalid_request", "The parameter `token` is required."))?;
    service::revoke(&state.db, presented).await?;
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).finish())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RevokeRequest {
    #[schema(min_length = 1)]
    pub token: String,
    /// Optional hint; only refresh tokens are revocable.
    pub token_type_hint: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeResponse {
    pub account_id: Uuid,
    pub email: String,
    pub display_name: String,
    pub person_id: Uuid,
    /// System-wide roles, e.g. `system_admin`. Organisation roles are listed per organisation.
    pub roles: Vec<String>,
}

/// The signed-in account
#[utoipa::path(
    tag = "accounts",
    responses(
        (status = 200, description = "The caller's account", body = MeResponse),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/me")]
pub async fn me(state: web::Data<AppState>, caller: Caller) -> ApiResult<web::Json<MeResponse>> {
    let a = service::me(&state.db, caller.account_id).await?;
    let roles = a.system_role.iter().filter(|r| r.as_str() == SYSTEM_ADMIN).cloned().collect();
    Ok(web::Json(MeResponse {
        account_id: a.id,
        email: a.email,
        display_name: a.display_name,
        person_id: a.person_id,
        roles,
    }))
}

/// Token verification keys
///
/// The JWK Set (RFC 7517) of the keys that sign access tokens, so other
/// services of the network can verify them.
#[utoipa::path(
    tag = "auth",
    responses((status = 200, description = "JWK Set", body = Object)),
    security(())
)]
#[get("/.well-known/jwks.json")]
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(state.keys.jwks())
}

#[derive(Debug, Default, Deserialize, ToSchema, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EraseRequest {
    /// The account's password, to confirm. Accounts that sign in through an
    /// external provider leave it out and confirm with a sign-in of the last
    /// five minutes instead.
    pub password: Option<String>,
    /// Also erase the records of dependents this account alone looks after
    /// (without it, such dependents make the request a 409).
    #[serde(default)]
    pub erase_dependents: bool,
}

/// The caller re-confirms who they are: the password, or for an account
/// without one, a token issued in the last five minutes.
async fn confirm(
    state: &AppState,
    caller: &Caller,
    req: &HttpRequest,
    password: Option<&str>,
) -> Result<(), ApiError> {
    let acc = crate::entities::account::Entity::find_by_id(caller.account_id)
        .one(&state.db)
        .await?
        .ok_or(ApiError::Unauthorized { invalid: true })?;
    match (acc.password_hash.as_deref(), password) {
        (Some(_), Some(p)) => {
            let hasher = state.hasher.clone();
            let stored = acc.password_hash.clone();
            let p = p.to_owned();
            let ok = web::block(move || hasher.verify(&p, stored.as_deref()))
                .await
                .map_err(|e| ApiError::Internal(anyhow::anyhow!("{e}")))?;
            if ok { Ok(()) } else { Err(ApiError::field("password", "is not the account's password")) }
        }
        (Some(_), None) => Err(ApiError::field("password", "is required to confirm")),
        (None, _) => {
            let issued = crate::auth::caller::issued_at(req).unwrap_or(0);
            if chrono::Utc::now().timestamp() - issued <= 300 {
                Ok(())
            } else {
                Err(ApiError::new(ErrorCode::Forbidden, "Sign in again (within five minutes) to confirm."))
            }
        }
    }
}

/// Close the account and erase its data
///
/// The account, its own record, devices and push tokens, sessions, grants
/// given and received, share codes and invitations go in one transaction;
/// access-log entries about the person stay under a pseudonym (the chain
/// still verifies). Dependents with another guardian are handed over;
/// dependents the caller alone looks after need `eraseDependents: true`.
/// Tokens stop working at once.
#[utoipa::path(
    tag = "accounts",
    request_body = EraseRequest,
    responses(
        (status = 204, description = "Erased"),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "External account without a recent sign-in", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Dependents only this account looks after", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Wrong or missing password", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/me")]
pub async fn erase_me(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    body: Json<EraseRequest>,
) -> ApiResult<HttpResponse> {
    confirm(&state, &caller, &req, body.password.as_deref()).await?;
    super::erase::erase_account(&state.db, caller.account_id, body.erase_dependents).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Erase a dependent's record
///
/// By a guardian, confirming with their password as for `DELETE /v1/me`;
/// only for a dependent without an account of their own.
#[utoipa::path(
    tag = "accounts",
    params(("personId" = Uuid, Path, description = "Person id")),
    request_body = EraseRequest,
    responses(
        (status = 204, description = "Erased"),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only a guardian, for a dependent without an account", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such person visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Wrong or missing password", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/persons/{personId}")]
pub async fn erase_dependent(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<Uuid>,
    body: Json<EraseRequest>,
) -> ApiResult<HttpResponse> {
    use crate::consent::{Action, Scope, authorize};
    let access =
        authorize(&state.db, &caller, path.into_inner(), Action::Write, Scope::Manage, "person").await?;
    if access.relationship != crate::consent::policy::Relationship::Guardian {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "A person with an account closes it with DELETE /v1/me; guardians erase dependents' records.",
        ));
    }
    let own_account = crate::entities::account::Entity::find()
        .filter(crate::entities::account::Column::PersonId.eq(access.person_id))
        .one(&state.db)
        .await?;
    if own_account.is_some() {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "This person has an account: they close it themselves.",
        ));
    }
    confirm(&state, &caller, &req, body.password.as_deref()).await?;
    let txn = crate::db::begin_write(&state.db).await?;
    super::erase::erase_person(&txn, access.person_id).await?;
    txn.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}
