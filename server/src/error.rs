//! The one error type handlers return, and its RFC 9457 problem+json rendering.
//! Every code has one row in [`ErrorCode`]: its status and title live there and
//! nowhere else, so clients can rely on `code` staying stable.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

/// Stable, documented problem codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    BadRequest,
    ValidationFailed,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    EmailTaken,
    Conflict,
    PayloadTooLarge,
    UnsupportedMediaType,
    ServiceUnavailable,
    StorageFull,
    ResyncRequired,
    InvalidPayload,
    RateLimited,
    OidcStateInvalid,
    OidcExchangeFailed,
    OidcIdTokenInvalid,
    OidcEmailUnverified,
    OidcProviderUnavailable,
    Internal,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 21] = [
        Self::BadRequest,
        Self::ValidationFailed,
        Self::Unauthorized,
        Self::Forbidden,
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::EmailTaken,
        Self::Conflict,
        Self::PayloadTooLarge,
        Self::UnsupportedMediaType,
        Self::ServiceUnavailable,
        Self::StorageFull,
        Self::ResyncRequired,
        Self::InvalidPayload,
        Self::RateLimited,
        Self::OidcStateInvalid,
        Self::OidcExchangeFailed,
        Self::OidcIdTokenInvalid,
        Self::OidcEmailUnverified,
        Self::OidcProviderUnavailable,
        Self::Internal,
    ];

    /// (snake_case code, HTTP status, human title, what a client should do).
    const fn row(self) -> (&'static str, u16, &'static str, &'static str) {
        match self {
            Self::BadRequest => {
                ("bad_request", 400, "Bad request", "The request could not be read; fix its syntax.")
            }
            Self::ValidationFailed => (
                "validation_failed",
                422,
                "Validation failed",
                "One or more fields are invalid; see `errors`.",
            ),
            Self::Unauthorized => (
                "unauthorized",
                401,
                "Authentication required",
                "Send a valid access token as `Authorization: Bearer`.",
            ),
            Self::Forbidden => ("forbidden", 403, "Forbidden", "The caller may not perform this action."),
            Self::NotFound => (
                "not_found",
                404,
                "Not found",
                "The resource does not exist or is not visible to the caller.",
            ),
            Self::MethodNotAllowed => {
                ("method_not_allowed", 405, "Method not allowed", "This path does not accept the method.")
            }
            Self::EmailTaken => (
                "email_taken",
                409,
                "Email already registered",
                "Sign in instead, or use another email address.",
            ),
            Self::Conflict => ("conflict", 409, "Conflict", "The request conflicts with the current state."),
            Self::PayloadTooLarge => ("payload_too_large", 413, "Payload too large", "Send a smaller body."),
            Self::UnsupportedMediaType => {
                ("unsupported_media_type", 415, "Unsupported media type", "Send the documented content type.")
            }
            Self::ServiceUnavailable => ("service_unavailable", 503, "Service unavailable", "Retry later."),
            Self::StorageFull => (
                "storage_full",
                507,
                "Insufficient storage",
                "The server has no room to store this; nothing was stored. Retry later.",
            ),
            Self::InvalidPayload => (
                "invalid_payload",
                422,
                "Unreadable payload",
                "The scanned data is not in a supported format; see `errors`.",
            ),
            Self::ResyncRequired => (
                "resync_required",
                410,
                "Resync required",
                "Discard the local copy and sync again without a cursor.",
            ),
            Self::RateLimited => (
                "rate_limited",
                429,
                "Too many requests",
                "Wait for the seconds in `Retry-After`, then retry.",
            ),
            Self::OidcStateInvalid => (
                "oidc_state_invalid",
                400,
                "Unknown, expired or used sign-in state",
                "Start the sign-in again at `/authorize`: a state is good once, for 10 minutes.",
            ),
            Self::OidcExchangeFailed => (
                "oidc_exchange_failed",
                401,
                "Authorization code refused",
                "The identity provider refused the code (expired, used or not issued to us); start again.",
            ),
            Self::OidcIdTokenInvalid => (
                "oidc_id_token_invalid",
                401,
                "Invalid ID token",
                "The provider's ID token failed the check named in `errors`; start again or tell the operator.",
            ),
            Self::OidcEmailUnverified => (
                "oidc_email_unverified",
                403,
                "Email address not verified",
                "Verify the email address at the identity provider, then sign in again.",
            ),
            Self::OidcProviderUnavailable => (
                "oidc_provider_unavailable",
                502,
                "Identity provider unavailable",
                "The identity provider could not be reached or answered unreadably; retry later.",
            ),
            Self::Internal => {
                ("internal_error", 500, "Internal server error", "Retry later; the incident was logged.")
            }
        }
    }

    pub fn as_str(self) -> &'static str {
        self.row().0
    }

    pub fn status(self) -> StatusCode {
        StatusCode::from_u16(self.row().1).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    pub fn title(self) -> &'static str {
        self.row().2
    }

    pub fn advice(self) -> &'static str {
        self.row().3
    }

    /// The problem `type` URI; it resolves to a page served by this API.
    pub fn type_uri(self) -> String {
        format!("/problems/{}", self.as_str())
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == code)
    }
}

/// One field-level error: `path` is a slash-separated path into the request
/// (`email`, `observations/3/value`), or the parameter's name.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, ToSchema)]
pub struct FieldError {
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl FieldError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self { path: path.into(), message: message.into() }
    }
}

/// RFC 9457 problem details, as sent on the wire.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
#[schema(example = json!({"type": "/problems/validation_failed", "title": "Validation failed", "status": 422, "detail": "The request has 1 invalid field.", "code": "validation_failed", "errors": [{"path": "password", "message": "must be at least 10 characters"}]}))]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable snake_case code; switch on this, not on `title` or `detail`.
    pub code: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// The error every handler and service returns.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{code:?}: {detail}")]
    Problem { code: ErrorCode, detail: String, errors: Vec<FieldError> },
    /// Missing or invalid bearer token; `invalid` adds `error="invalid_token"`.
    #[error("unauthorized")]
    Unauthorized { invalid: bool },
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database's disk is full; the write was rolled back.
    #[error("storage full: {0}")]
    StorageFull(String),
    /// Too many attempts; retry after this many seconds.
    #[error("rate limited for {0} s")]
    RateLimited(u64),
    #[error("internal: {0}")]
    Internal(anyhow::Error),
}

impl ApiError {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self::Problem { code, detail: detail.into(), errors: Vec::new() }
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = match errors.len() {
            1 => format!("The field `{}` is invalid: {}.", errors[0].path, errors[0].message),
            n => format!("The request has {n} invalid fields."),
        };
        Self::Problem { code: ErrorCode::ValidationFailed, detail, errors }
    }

    pub fn field(path: &str, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError::new(path, message)])
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("No such {what}."))
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Problem { code, .. } => *code,
            Self::Unauthorized { .. } => ErrorCode::Unauthorized,
            Self::Unavailable(_) => ErrorCode::ServiceUnavailable,
            Self::StorageFull(_) => ErrorCode::StorageFull,
            Self::RateLimited(_) => ErrorCode::RateLimited,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }

    pub fn to_problem(&self) -> Problem {
        let code = self.code();
        let (detail, errors) = match self {
            Self::Problem { detail, errors, .. } => (detail.clone(), errors.clone()),
            Self::Unauthorized { invalid: false } => ("No bearer token was sent.".into(), vec![]),
            Self::Unauthorized { invalid: true } => {
                ("The bearer token is invalid or expired.".into(), vec![])
            }
            // Internal causes are logged, never sent.
            Self::Unavailable(_) => ("The database is not reachable right now.".into(), vec![]),
            Self::StorageFull(_) => ("The database has no space left; nothing was stored.".into(), vec![]),
            Self::RateLimited(s) => (format!("Too many attempts; retry in {s} seconds."), vec![]),
            Self::Internal(_) => ("An unexpected error occurred.".into(), vec![]),
        };
        Problem {
            type_: code.type_uri(),
            title: code.title().into(),
            status: code.status().as_u16(),
            detail,
            code: code.as_str().into(),
            errors,
        }
    }
}

/// What a database error means for the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbFault {
    /// The database cannot be reached or is shutting down: retry later (503).
    Unavailable,
    /// The database's disk is full: the statement was rolled back (507).
    StorageFull,
    /// Anything else is a bug or a broken invariant (500).
    Other,
}

/// Sorts a database error by what the client can do about it. Connection
/// loss shows up not only as a failed acquire but as an I/O error, or as
/// PostgreSQL's SQLSTATE class 08 / 57P0x on a connection the server is
/// closing; a full disk as PostgreSQL's 53100 or SQLite's SQLITE_FULL (13).
pub fn classify_db_error(err: &sea_orm::DbErr) -> DbFault {
    use sea_orm::sqlx::Error as Sqlx;
    use sea_orm::{DbErr, RuntimeErr};
    let sqlx = match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => return DbFault::Unavailable,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => e.as_ref(),
        _ => return DbFault::Other,
    };
    match sqlx {
        Sqlx::Io(_) | Sqlx::PoolTimedOut | Sqlx::PoolClosed | Sqlx::WorkerCrashed | Sqlx::Tls(_) => {
            DbFault::Unavailable
        }
        Sqlx::Database(db) => match db.code().as_deref() {
            Some(c) if c.starts_with("08") => DbFault::Unavailable,
            // admin_shutdown, crash_shutdown, cannot_connect_now, too_many_connections
            Some("57P01" | "57P02" | "57P03" | "53300") => DbFault::Unavailable,
            // PostgreSQL disk_full; SQLite SQLITE_FULL
            Some("53100" | "13") => DbFault::StorageFull,
            _ => DbFault::Other,
        },
        _ => DbFault::Other,
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(err: sea_orm::DbErr) -> Self {
        match classify_db_error(&err) {
            DbFault::Unavailable => Self::Unavailable(err.to_string()),
            DbFault::StorageFull => Self::StorageFull(err.to_string()),
            DbFault::Other => Self::Internal(anyhow::Error::new(err)),
        }
    }
}

/// Errors that reach the handler wrapped in `anyhow` keep their meaning when
/// a database error sits anywhere in the chain.
impl From<anyhow::Error> for ApiError {
    fn from(err: anyhow::Error) -> Self {
        let fault = err
            .chain()
            .find_map(|e| e.downcast_ref::<sea_orm::DbErr>())
            .map_or(DbFault::Other, classify_db_error);
        match fault {
            DbFault::Unavailable => Self::Unavailable(format!("{err:#}")),
            DbFault::StorageFull => Self::StorageFull(format!("{err:#}")),
            DbFault::Other => Self::Internal(err),
        }
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<sea_orm::TransactionError<E>> for ApiError
where
    ApiError: From<E>,
{
    fn from(err: sea_orm::TransactionError<E>) -> Self {
        match err {
            sea_orm::TransactionError::Connection(e) => e.into(),
            sea_orm::TransactionError::Transaction(e) => e.into(),
        }
    }
}

pub const PROBLEM_JSON: &str = "application/problem+json";

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.code().status()
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Internal(cause) => tracing::error!(error = ?cause, "internal error"),
            Self::Unavailable(cause) => tracing::warn!(error = %cause, "database unavailable"),
            Self::StorageFull(cause) => tracing::error!(error = %cause, "database storage full"),
            _ => {}
        }
        let mut res = HttpResponse::build(self.status_code());
        res.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)));
        if let Self::Unauthorized { invalid } = self {
            let challenge = if *invalid {
                r#"Bearer realm="phr", error="invalid_token""#
            } else {
                r#"Bearer realm="phr""#
            };
            res.insert_header((header::WWW_AUTHENTICATE, challenge));
        }
        if let Self::Unavailable(_) | Self::StorageFull(_) = self {
            res.insert_header((header::RETRY_AFTER, "5"));
        }
        if let Self::RateLimited(s) = self {
            res.insert_header((header::RETRY_AFTER, s.to_string()));
        }
        res.body(serde_json::to_string(&self.to_problem()).unwrap_or_default())
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
