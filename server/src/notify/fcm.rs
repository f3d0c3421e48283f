//! Firebase Cloud Messaging HTTP v1: builds FCM's JSON for the pushes the server
//! sends, authenticates with a service-account key (OAuth 2 JWT-bearer grant,
//! RFC 7523) and sorts FCM's answers into what the caller should do next: drop
//! the device token, retry later, fix the credentials, or give up on the message.
//!
//! Pushes carry no health data: only an event kind and ids in `data`, and for
//! visible notifications generic text (or app-localised string keys). The app
//! fetches anything else over the authenticated API.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rand::Rng;
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use tokio::time::Instant;

pub const DEFAULT_ENDPOINT: &str = "https://fcm.googleapis.com";
/// The one OAuth scope FCM's send API needs.
pub const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Google accepts assertions living at most an hour.
const ASSERTION_LIFETIME_SECS: u64 = 3600;
/// Refresh an access token this long before it expires (less for short-lived ones).
const REFRESH_MARGIN: Duration = Duration::from_secs(60);
/// Android `collapseKey` and APNs `apns-collapse-id` of sync pokes: a device that
/// was offline gets one poke, not one per change.
pub const SYNC_COLLAPSE_KEY: &str = "sync";

/// First retry waits up to this long; each further retry doubles the ceiling.
pub const BACKOFF_BASE: Duration = Duration::from_secs(1);
/// Ceiling of the exponential backoff (a `Retry-After` may ask for longer).
pub const BACKOFF_CAP: Duration = Duration::from_secs(15 * 60);

// ---------------------------------------------------------------------------
// Configuration

/// Where the service-account key is and which FCM to talk to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FcmConfig {
    /// The service-account JSON key downloaded from the Firebase console.
    pub credentials_path: PathBuf,
    /// Sends to this project instead of the key's `project_id`.
    pub project_id_override: Option<String>,
    /// Scheme and authority of the FCM API, without a trailing path.
    pub endpoint: String,
}

impl FcmConfig {
    /// Reads `PHR_FCM_CREDENTIALS`, `PHR_FCM_PROJECT_ID` and `PHR_FCM_ENDPOINT`
    /// through `get` (the settings loader passes its environment lookup).
    /// `None` when no credentials are configured: push delivery is off.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, FcmError> {
        let var = |key: &str| get(key).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let project_id_override = var("PHR_FCM_PROJECT_ID");
        let endpoint = var("PHR_FCM_ENDPOINT");
        let Some(credentials) = var("PHR_FCM_CREDENTIALS") else {
            if let Some(other) =
                [("PHR_FCM_PROJECT_ID", &project_id_override), ("PHR_FCM_ENDPOINT", &endpoint)]
                    .into_iter()
                    .find_map(|(name, v)| v.as_ref().map(|_| name))
            {
                return Err(FcmError::Config(format!("{other} is set but PHR_FCM_CREDENTIALS is not")));
            }
            return Ok(None);
        };
        Ok(Some(FcmConfig {
            credentials_path: PathBuf::from(credentials),
            project_id_override,
            endpoint: endpoint.unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned()),
        }))
    }
}

/// Why an [`FcmSender`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum FcmError {
    #[error("{0}")]
    Config(String),
    #[error("reading the FCM service-account key {}: {source}", path.display())]
    ReadKey { path: PathBuf, source: std::io::Error },
    #[error("the FCM service-account key {} is not valid JSON: {source}", path.display())]
    KeyJson { path: PathBuf, source: serde_json::Error },
    #[error("the FCM service-account key {} has no `{field}`", path.display())]
    MissingField { path: PathBuf, field: &'static str },
    #[error("the FCM service-account key {}: {problem}", path.display())]
    InvalidKey { path: PathBuf, problem: String },
    #[error("building the HTTP client for FCM: {0}")]
    Client(#[source] reqwest::Error),
}

/// The fields of Google's service-account key file that the grant needs.
#[derive(Deserialize)]
struct KeyFile {
    #[serde(rename = "type")]
    kind: Option<String>,
    project_id: Option<String>,
    private_key_id: Option<String>,
    private_key: Option<String>,
    client_email: Option<String>,
    token_uri: Option<String>,
}

struct Credentials {
    client_email: String,
    key_id: String,
    token_uri: reqwest::Url,
    signing_key: EncodingKey,
}

fn load_key(path: &Path) -> Result<(Credentials, Option<String>), FcmError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| FcmError::ReadKey { path: path.into(), source })?;
    let file: KeyFile =
        serde_json::from_str(&text).map_err(|source| FcmError::KeyJson { path: path.into(), source })?;
    let required = |value: Option<String>, field: &'static str| {
        value.filter(|v| !v.trim().is_empty()).ok_or(FcmError::MissingField { path: path.into(), field })
    };
    let invalid = |problem: String| FcmError::InvalidKey { path: path.into(), problem };
    let kind = required(file.kind, "type")?;
    if kind != "service_account" {
        return Err(invalid(format!("`type` is {kind:?}, not \"service_account\"")));
    }
    let client_email = required(file.client_email, "client_email")?;
    let key_id = required(file.private_key_id, "private_key_id")?;
    let pem = required(file.private_key, "private_key")?;
    let token_uri = required(file.token_uri, "token_uri")?;
    let token_uri = reqwest::Url::parse(&token_uri)
        .map_err(|e| invalid(format!("`token_uri` {token_uri:?} is not a URL: {e}")))?;
    let signing_key = rsa_signing_key(&pem).map_err(invalid)?;
    let project_id = file.project_id.filter(|p| !p.trim().is_empty());
    Ok((Credentials { client_email, key_id, token_uri, signing_key }, project_id))
}

/// Google writes `private_key` as PKCS#8 PEM; jsonwebtoken signs with PKCS#1 DER.
fn rsa_signing_key(pem: &str) -> Result<EncodingKey, String> {
    use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
    use rsa::pkcs8::DecodePrivateKey;
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(pem)
        .or_else(|_| rsa::RsaPrivateKey::from_pkcs1_pem(pem))
        .map_err(|e| format!("`private_key` is not an RSA private key in PEM: {e}"))?;
    let der = key.to_pkcs1_der().map_err(|e| format!("`private_key`: {e}"))?;
    Ok(EncodingKey::from_rsa_der(der.as_bytes()))
}

/// A project id goes into the URL path: refuse anything that could leave its segment.
fn check_project_id(project: &str) -> Result<(), String> {
    if project.is_empty() || project.chars().any(|c| c.is_whitespace() || matches!(c, '/' | '?' | '#' | '%'))
    {
        return Err(format!("project id {project:?} is not a Firebase project id"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Messages

/// One push to one device. `data` holds the event kind and ids only, never
/// health data: pushes pass through Google and Apple and sit on lock screens.
#[derive(Clone, PartialEq, Eq)]
pub struct PushMessage {
    /// The device's FCM registration token.
    pub token: String,
    pub data: BTreeMap<String, String>,
    pub kind: PushKind,
    /// How long FCM keeps the message for an offline Android device (FCM's
    /// default, four weeks, when `None`).
    pub ttl: Option<Duration>,
}

impl PushMessage {
    pub fn new(token: impl Into<String>, kind: PushKind) -> Self {
        Self { token: token.into(), data: BTreeMap::new(), kind, ttl: None }
    }

    pub fn with_data(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.data.insert(key.into(), value.into());
        self
    }

    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }
}

/// Registration tokens identify a device: keep them out of logs.
impl fmt::Debug for PushMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushMessage")
            .field("token", &"<redacted>")
            .field("data", &self.data)
            .field("kind", &self.kind)
            .field("ttl", &self.ttl)
            .finish()
    }
}

/// How the device should treat a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushKind {
    /// "Something changed, sync": a silent background wake-up. Collapsible, normal
    /// priority (iOS accepts data-only background pushes at priority 5 only).
    SyncPoke,
    /// A visible notification at high priority.
    Alert(Notice),
    /// A visible notification that must get through: high priority, and on iOS
    /// `time-sensitive` so it breaks through Focus and notification summaries.
    Emergency(Notice),
}

impl PushKind {
    /// A stable name for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            PushKind::SyncPoke => "sync_poke",
            PushKind::Alert(_) => "alert",
            PushKind::Emergency(_) => "emergency",
        }
    }
}

/// The visible part of a notification. `title` and `body` are generic text
/// ("New information in your record"), never health data; with localisation keys
/// the app shows its own string for the key and the text is only a fallback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub title: String,
    pub body: String,
    /// Key of a string in the app's resources: Android `titleLocKey`, APNs `title-loc-key`.
    pub title_loc_key: Option<String>,
    /// Android `bodyLocKey`, APNs `loc-key`.
    pub body_loc_key: Option<String>,
}

impl Notice {
    pub fn new(title: impl Into<String>, body: impl Into<String>) -> Self {
        Self { title: title.into(), body: body.into(), title_loc_key: None, body_loc_key: None }
    }

    pub fn localized(mut self, title_loc_key: impl Into<String>, body_loc_key: impl Into<String>) -> Self {
        self.title_loc_key = Some(title_loc_key.into());
        self.body_loc_key = Some(body_loc_key.into());
        self
    }
}

/// FCM HTTP v1 `projects.messages.send` request body. Field names are the REST
/// reference's (lowerCamelCase); APNs headers and `aps` keys are Apple's.
mod wire {
    use std::collections::BTreeMap;

    use serde::Serialize;

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct SendRequest<'a> {
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        pub validate_only: bool,
        pub message: Message<'a>,
    }

    #[derive(Serialize)]
    pub struct Message<'a> {
        pub token: &'a str,
        #[serde(skip_serializing_if = "BTreeMap::is_empty")]
        pub data: &'a BTreeMap<String, String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub notification: Option<Notification<'a>>,
        pub android: AndroidConfig<'a>,
        pub apns: ApnsConfig<'a>,
    }

    #[derive(Serialize)]
    pub struct Notification<'a> {
        pub title: &'a str,
        pub body: &'a str,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct AndroidConfig<'a> {
        /// `NORMAL` or `HIGH` (AndroidMessagePriority).
        pub priority: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub collapse_key: Option<&'static str>,
        /// A protobuf Duration: seconds with an `s` suffix.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub ttl: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub notification: Option<AndroidNotification<'a>>,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct AndroidNotification<'a> {
        #[serde(skip_serializing_if = "Option::is_none")]
        pub title_loc_key: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub body_loc_key: Option<&'a str>,
    }

    #[derive(Serialize)]
    pub struct ApnsConfig<'a> {
        pub headers: BTreeMap<&'static str, &'static str>,
        pub payload: ApnsPayload<'a>,
    }

    #[derive(Serialize)]
    pub struct ApnsPayload<'a> {
        pub aps: Aps<'a>,
    }

    #[derive(Serialize)]
    pub struct Aps<'a> {
        #[serde(skip_serializing_if = "Option::is_none")]
        pub alert: Option<ApsAlert<'a>>,
        #[serde(rename = "content-available", skip_serializing_if = "Option::is_none")]
        pub content_available: Option<u8>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub sound: Option<&'static str>,
        #[serde(rename = "interruption-level", skip_serializing_if = "Option::is_none")]
        pub interruption_level: Option<&'static str>,
    }

    #[derive(Serialize)]
    pub struct ApsAlert<'a> {
        pub title: &'a str,
        pub body: &'a str,
        #[serde(rename = "title-loc-key", skip_serializing_if = "Option::is_none")]
        pub title_loc_key: Option<&'a str>,
        #[serde(rename = "loc-key", skip_serializing_if = "Option::is_none")]
        pub loc_key: Option<&'a str>,
    }
}

impl PushMessage {
    fn request(&self, validate_only: bool) -> wire::SendRequest<'_> {
        let ttl = self.ttl.map(protobuf_duration);
        let (notice, emergency) = match &self.kind {
            PushKind::SyncPoke => {
                let message = wire::Message {
                    token: &self.token,
                    data: &self.data,
                    notification: None,
                    android: wire::AndroidConfig {
                        priority: "NORMAL",
                        collapse_key: Some(SYNC_COLLAPSE_KEY),
                        ttl,
                        notification: None,
                    },
                    apns: wire::ApnsConfig {
                        headers: BTreeMap::from([
                            ("apns-collapse-id", SYNC_COLLAPSE_KEY),
                            ("apns-priority", "5"),
                            ("apns-push-type", "background"),
                        ]),
                        payload: wire::ApnsPayload {
                            aps: wire::Aps {
                                alert: None,
                                content_available: Some(1),
                                sound: None,
                                interruption_level: None,
                            },
                        },
                    },
                };
                return wire::SendRequest { validate_only, message };
            }
            PushKind::Alert(notice) => (notice, false),
            PushKind::Emergency(notice) => (notice, true),
        };
        let localized = notice.title_loc_key.is_some() || notice.body_loc_key.is_some();
        wire::SendRequest {
            validate_only,
            message: wire::Message {
                token: &self.token,
                data: &self.data,
                notification: Some(wire::Notification { title: &notice.title, body: &notice.body }),
                android: wire::AndroidConfig {
                    priority: "HIGH",
                    collapse_key: None,
                    ttl,
                    notification: localized.then_some(wire::AndroidNotification {
                        title_loc_key: notice.title_loc_key.as_deref(),
                        body_loc_key: notice.body_loc_key.as_deref(),
                    }),
                },
                apns: wire::ApnsConfig {
                    headers: BTreeMap::from([("apns-priority", "10"), ("apns-push-type", "alert")]),
                    payload: wire::ApnsPayload {
                        aps: wire::Aps {
                            // Set explicitly: an `aps.alert` in the payload replaces the
                            // top-level notification on iOS, so it must carry the text too.
                            alert: Some(wire::ApsAlert {
                                title: &notice.title,
                                body: &notice.body,
                                title_loc_key: notice.title_loc_key.as_deref(),
                                loc_key: notice.body_loc_key.as_deref(),
                            }),
                            content_available: None,
                            sound: emergency.then_some("default"),
                            interruption_level: emergency.then_some("time-sensitive"),
                        },
                    },
                },
            },
        }
    }
}

/// `google.protobuf.Duration` in JSON: `"3600s"`, `"1.5s"`.
fn protobuf_duration(d: Duration) -> String {
    match d.subsec_nanos() {
        0 => format!("{}s", d.as_secs()),
        nanos => {
            let fraction = format!("{nanos:09}");
            format!("{}.{}s", d.as_secs(), fraction.trim_end_matches('0'))
        }
    }
}

// ---------------------------------------------------------------------------
// Results and errors

/// FCM accepted the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    /// `projects/{project}/messages/{id}`.
    pub name: String,
}

/// What the caller should do about a message FCM did not take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The registration token is dead (app uninstalled, token rotated, or not a
    /// token at all): delete it and do not send to it again.
    #[error("the registration token is not registered with FCM")]
    Unregistered,
    /// Throttled, FCM unavailable or unreachable: retry this message later, and
    /// not before `retry_after` when FCM named a time.
    #[error("FCM is unavailable for now: {reason}")]
    Retryable { retry_after: Option<Duration>, reason: String },
    /// Our credentials were refused: the service-account key (token endpoint or
    /// FCM kept answering 401), or the APNs key of the Firebase project
    /// (`THIRD_PARTY_AUTH_ERROR`). Every message will fail until an operator acts.
    #[error("FCM authentication failed: {reason}")]
    Auth { reason: String },
    /// FCM refused this message and would refuse it again (`SENDER_ID_MISMATCH`,
    /// permission denied on the project, invalid message).
    #[error("FCM refused the message: {reason}")]
    Permanent { reason: String },
}

/// Google's error envelope (`google.rpc.Status` in JSON).
#[derive(Deserialize)]
struct ErrorEnvelope {
    error: GoogleError,
}

#[derive(Deserialize)]
struct GoogleError {
    #[serde(default)]
    message: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    details: Vec<ErrorDetail>,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(rename = "@type", default)]
    kind: String,
    #[serde(rename = "errorCode")]
    error_code: Option<String>,
    #[serde(rename = "fieldViolations", default)]
    field_violations: Vec<FieldViolation>,
}

#[derive(Deserialize)]
struct FieldViolation {
    #[serde(default)]
    field: String,
}

const FCM_ERROR_TYPE: &str = "type.googleapis.com/google.firebase.fcm.v1.FcmError";

impl GoogleError {
    /// The FCM-specific code (`UNREGISTERED`, `QUOTA_EXCEEDED`...) from `details`.
    fn fcm_code(&self) -> Option<&str> {
        self.details.iter().find(|d| d.kind == FCM_ERROR_TYPE).and_then(|d| d.error_code.as_deref())
    }

    /// FCM reports a malformed registration token as a 400 `INVALID_ARGUMENT`
    /// naming the token, either in the message or in a field violation.
    fn concerns_token(&self) -> bool {
        self.message.contains("registration token")
            || self.details.iter().flat_map(|d| &d.field_violations).any(|v| v.field == "message.token")
    }
}

/// A 401 about the Firebase project's APNs key, not about our access token.
fn rejects_apns_credentials(body: &str) -> bool {
    serde_json::from_str::<ErrorEnvelope>(body)
        .is_ok_and(|e| e.error.fcm_code() == Some("THIRD_PARTY_AUTH_ERROR"))
}

/// Sorts an FCM error answer (status, `Retry-After`, body) into a [`SendError`].
pub fn classify_error(status: u16, retry_after: Option<Duration>, body: &str) -> SendError {
    let error = serde_json::from_str::<ErrorEnvelope>(body).ok().map(|e| e.error);
    let fcm_code = error.as_ref().and_then(GoogleError::fcm_code);
    let reason = match &error {
        Some(e) => {
            let code = fcm_code.map(|c| format!(" {c}")).unwrap_or_default();
            format!("HTTP {status} {}{code}: {}", e.status, e.message)
        }
        None => format!("HTTP {status}"),
    };
    // UNREGISTERED must be FCM's own code: a bare 404 may be a wrong endpoint,
    // and treating it as a dead token would delete every device's token.
    if fcm_code == Some("UNREGISTERED")
        || (status == 400 && error.as_ref().is_some_and(GoogleError::concerns_token))
    {
        return SendError::Unregistered;
    }
    match (status, fcm_code) {
        (401, _) | (_, Some("THIRD_PARTY_AUTH_ERROR")) => SendError::Auth { reason },
        (408 | 429 | 500..=599, _) | (_, Some("QUOTA_EXCEEDED" | "UNAVAILABLE" | "INTERNAL")) => {
            SendError::Retryable { retry_after, reason }
        }
        _ => SendError::Permanent { reason },
    }
}

/// `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP-date, the latter
/// relative to `now` (a date in the past means "now").
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Delay before retry number `attempt + 1` (`attempt` = retries already made):
/// exponential backoff with full jitter, uniform in `[0, min(cap, base·2^attempt)]`,
/// but never sooner than the `Retry-After` FCM asked for.
pub fn backoff_delay(attempt: u32, retry_after: Option<Duration>, rng: &mut impl Rng) -> Duration {
    let factor = 1u32.checked_shl(attempt).unwrap_or(u32::MAX);
    let ceiling = BACKOFF_BASE.saturating_mul(factor).min(BACKOFF_CAP);
    let jittered = rng.gen_range(Duration::ZERO..=ceiling);
    retry_after.map_or(jittered, |wait| jittered.max(wait))
}

// ---------------------------------------------------------------------------
// The sender

/// Sends push messages through FCM HTTP v1. Holds the OAuth access token and
/// shares it between concurrent sends; put it in an `Arc` to share the sender.
pub struct FcmSender {
    http: reqwest::Client,
    project_id: String,
    send_url: String,
    credentials: Credentials,
    token: Mutex<Option<AccessToken>>,
}

struct AccessToken {
    value: String,
    refresh_at: Instant,
}

impl fmt::Debug for FcmSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FcmSender")
            .field("project_id", &self.project_id)
            .field("send_url", &self.send_url)
            .field("client_email", &self.credentials.client_email)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct GrantClaims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: u64,
}

#[derive(Deserialize, Default)]
struct OAuthError {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
}

#[derive(Deserialize)]
struct SendResponse {
    name: String,
}

impl FcmSender {
    /// Reads and checks the service-account key; sends nothing yet.
    pub fn from_config(config: &FcmConfig) -> Result<Self, FcmError> {
        let path = &config.credentials_path;
        let (credentials, key_project) = load_key(path)?;
        let project_id = match (&config.project_id_override, key_project) {
            (Some(project), _) => project.clone(),
            (None, Some(project)) => project,
            (None, None) => {
                return Err(FcmError::MissingField { path: path.clone(), field: "project_id" });
            }
        };
        check_project_id(&project_id).map_err(FcmError::Config)?;
        let endpoint = reqwest::Url::parse(&config.endpoint)
            .map_err(|e| FcmError::Config(format!("FCM endpoint {:?} is not a URL: {e}", config.endpoint)))?;
        let send_url =
            format!("{}/v1/projects/{project_id}/messages:send", endpoint.as_str().trim_end_matches('/'));
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(FcmError::Client)?;
        Ok(Self { http, project_id, send_url, credentials, token: Mutex::new(None) })
    }

    pub fn project_id(&self) -> &str {
        &self.project_id
    }

    /// Sends `message`; on success FCM has queued it for the device.
    pub async fn send(&self, message: &PushMessage) -> Result<SentMessage, SendError> {
        self.post(message, false).await
    }

    /// Has FCM check `message` (`validate_only`) without delivering it.
    pub async fn validate(&self, message: &PushMessage) -> Result<SentMessage, SendError> {
        self.post(message, true).await
    }

    #[tracing::instrument(skip_all, fields(push.kind = message.kind.name(), validate_only = validate_only))]
    async fn post(&self, message: &PushMessage, validate_only: bool) -> Result<SentMessage, SendError> {
        let body = message.request(validate_only);
        let mut refreshed = false;
        loop {
            let token = self.access_token().await?;
            let response = self
                .http
                .post(&self.send_url)
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await
                .map_err(|e| retryable(format!("sending to FCM: {e}")))?;
            let status = response.status();
            if status.is_success() {
                return match response.json::<SendResponse>().await {
                    Ok(sent) => Ok(SentMessage { name: sent.name }),
                    // FCM took it; sending again could deliver it twice.
                    Err(e) => Err(SendError::Permanent { reason: format!("unreadable FCM answer: {e}") }),
                };
            }
            let retry_after = retry_after(&response);
            let text = response.text().await.unwrap_or_default();
            let error = classify_error(status.as_u16(), retry_after, &text);
            // A 401 on a token we still thought valid: it was revoked or the
            // clocks disagree. Fetch a new one once; a second 401 is an Auth error.
            if status == StatusCode::UNAUTHORIZED && !refreshed && !rejects_apns_credentials(&text) {
                tracing::warn!("FCM refused the access token; fetching a new one");
                self.forget_token(&token).await;
                refreshed = true;
                continue;
            }
            return Err(error);
        }
    }

    /// The cached access token, or a fresh one. The lock is held while fetching
    /// so that concurrent sends wait for one grant instead of each asking.
    async fn access_token(&self) -> Result<String, SendError> {
        let mut slot = self.token.lock().await;
        if let Some(token) = slot.as_ref()
            && Instant::now() < token.refresh_at
        {
            return Ok(token.value.clone());
        }
        let fresh = self.fetch_token().await?;
        let value = fresh.value.clone();
        *slot = Some(fresh);
        Ok(value)
    }

    /// Drops the cached token if it is still the one FCM refused.
    async fn forget_token(&self, refused: &str) {
        let mut slot = self.token.lock().await;
        if slot.as_ref().is_some_and(|t| t.value == refused) {
            *slot = None;
        }
    }

    /// RFC 7523 JWT-bearer grant at the key's `token_uri`.
    async fn fetch_token(&self) -> Result<AccessToken, SendError> {
        let creds = &self.credentials;
        let iat = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
        let claims = GrantClaims {
            iss: &creds.client_email,
            scope: SCOPE,
            aud: creds.token_uri.as_str(),
            iat,
            exp: iat + ASSERTION_LIFETIME_SECS,
        };
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(creds.key_id.clone());
        let assertion = jsonwebtoken::encode(&header, &claims, &creds.signing_key)
            .map_err(|e| SendError::Auth { reason: format!("signing the token request: {e}") })?;
        let requested = Instant::now();
        let response = self
            .http
            .post(creds.token_uri.clone())
            .form(&[("grant_type", JWT_BEARER_GRANT), ("assertion", &assertion)])
            .send()
            .await
            .map_err(|e| retryable(format!("requesting an access token: {e}")))?;
        let status = response.status();
        if status.is_success() {
            let token: TokenResponse = response
                .json()
                .await
                .map_err(|e| retryable(format!("unreadable token endpoint answer: {e}")))?;
            let lifetime = Duration::from_secs(token.expires_in);
            let refresh_at = requested + lifetime.saturating_sub(REFRESH_MARGIN.min(lifetime / 2));
            tracing::debug!(expires_in = token.expires_in, "fetched an FCM access token");
            return Ok(AccessToken { value: token.access_token, refresh_at });
        }
        let retry_after = retry_after(&response);
        let error: OAuthError = response.json().await.unwrap_or_default();
        let reason = format!("token endpoint answered {status}: {} {}", error.error, error.error_description);
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            return Err(SendError::Retryable { retry_after, reason });
        }
        Err(SendError::Auth { reason })
    }
}

fn retryable(reason: String) -> SendError {
    SendError::Retryable { retry_after: None, reason }
}

fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let value = response.headers().get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(value, SystemTime::now())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use serde_json::{Value, json};

    use super::*;

    fn to_json(message: &PushMessage, validate_only: bool) -> Value {
        serde_json::to_value(message.request(validate_only)).unwrap()
    }

    fn sample(kind: PushKind) -> PushMessage {
        PushMessage::new("device-token-1", kind)
            .with_data("event", "record_changed")
            .with_data("personId", "0190a5a4-0000-7000-8000-000000000001")
    }

    #[test]
    fn sync_poke_is_a_collapsible_silent_background_push() {
        let json = to_json(&sample(PushKind::SyncPoke), false);
        assert_eq!(
            json,
            json!({
                "message": {
                    "token": "device-token-1",
                    "data": {"event": "record_changed", "personId": "0190a5a4-0000-7000-8000-000000000001"},
                    "android": {"priority": "NORMAL", "collapseKey": "sync"},
                    "apns": {
                        "headers": {
                            "apns-collapse-id": "sync",
                            "apns-priority": "5",
                            "apns-push-type": "background"
                        },
                        "payload": {"aps": {"content-available": 1}}
                    }
                }
            })
        );
    }

    #[test]
    fn alert_is_a_high_priority_visible_notification() {
        let notice = Notice::new("PHR", "New information in your record");
        let json = to_json(&sample(PushKind::Alert(notice)), false);
        assert_eq!(
            json,
            json!({
                "message": {
                    "token": "device-token-1",
                    "data": {"event": "record_changed", "personId": "0190a5a4-0000-7000-8000-000000000001"},
                    "notification": {"title": "PHR", "body": "New information in your record"},
                    "android": {"priority": "HIGH"},
                    "apns": {
                        "headers": {"apns-priority": "10", "apns-push-type": "alert"},
                        "payload": {"aps": {"alert": {"title": "PHR", "body": "New information in your record"}}}
                    }
                }
            })
        );
    }

    #[test]
    fn localized_alert_names_the_app_strings_on_both_platforms() {
        let notice =
            Notice::new("PHR", "New information").localized("record_changed_title", "record_changed_body");
        let json = to_json(&PushMessage::new("t", PushKind::Alert(notice)), false);
        assert_eq!(
            json["message"]["android"],
            json!({
                "priority": "HIGH",
                "notification": {"titleLocKey": "record_changed_title", "bodyLocKey": "record_changed_body"}
            })
        );
        assert_eq!(
            json["message"]["apns"]["payload"]["aps"]["alert"],
            json!({
                "title": "PHR",
                "body": "New information",
                "title-loc-key": "record_changed_title",
                "loc-key": "record_changed_body"
            })
        );
        assert!(json["message"].get("data").is_none(), "empty data is left out: {json}");
    }

    #[test]
    fn emergency_is_time_sensitive_on_ios_and_high_priority_on_android() {
        let notice = Notice::new("PHR", "Your emergency information was opened");
        let json = to_json(&sample(PushKind::Emergency(notice)), false);
        assert_eq!(
            json,
            json!({
                "message": {
                    "token": "device-token-1",
                    "data": {"event": "record_changed", "personId": "0190a5a4-0000-7000-8000-000000000001"},
                    "notification": {"title": "PHR", "body": "Your emergency information was opened"},
                    "android": {"priority": "HIGH"},
                    "apns": {
                        "headers": {"apns-priority": "10", "apns-push-type": "alert"},
                        "payload": {"aps": {
                            "alert": {"title": "PHR", "body": "Your emergency information was opened"},
                            "sound": "default",
                            "interruption-level": "time-sensitive"
                        }}
                    }
                }
            })
        );
    }

    #[test]
    fn validate_only_and_ttl_are_serialized_as_fcm_expects() {
        let message = PushMessage::new("t", PushKind::SyncPoke).with_ttl(Duration::from_secs(3600));
        let json = to_json(&message, true);
        assert_eq!(json["validateOnly"], true);
        assert_eq!(json["message"]["android"]["ttl"], "3600s");
        assert!(to_json(&message, false).get("validateOnly").is_none());
        assert_eq!(protobuf_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(protobuf_duration(Duration::new(0, 1)), "0.000000001s");
    }

    #[test]
    fn debug_output_hides_the_registration_token() {
        let shown = format!("{:?}", PushMessage::new("secret-device-token", PushKind::SyncPoke));
        assert!(!shown.contains("secret-device-token"), "{shown}");
    }

    fn fcm_error(code: u16, status: &str, message: &str, error_code: &str) -> String {
        json!({"error": {"code": code, "message": message, "status": status, "details": [
            {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": error_code}
        ]}})
        .to_string()
    }

    #[test]
    fn unregistered_token_means_delete_it() {
        let body = fcm_error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED");
        assert_eq!(classify_error(404, None, &body), SendError::Unregistered);
    }

    #[test]
    fn malformed_registration_token_means_delete_it() {
        let body = fcm_error(
            400,
            "INVALID_ARGUMENT",
            "The registration token is not a valid FCM registration token",
            "INVALID_ARGUMENT",
        );
        assert_eq!(classify_error(400, None, &body), SendError::Unregistered);
        let violation = json!({"error": {"code": 400, "message": "Invalid value", "status": "INVALID_ARGUMENT",
            "details": [{"@type": "type.googleapis.com/google.rpc.BadRequest",
                         "fieldViolations": [{"field": "message.token", "description": "Invalid value"}]}]}});
        assert_eq!(classify_error(400, None, &violation.to_string()), SendError::Unregistered);
    }

    #[test]
    fn other_invalid_arguments_are_permanent() {
        let body = json!({"error": {"code": 400,
            "message": "Invalid value at 'message.data[0].value' (TYPE_STRING), 12",
            "status": "INVALID_ARGUMENT",
            "details": [{"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [
                {"field": "message.data[0].value",
                 "description": "Invalid value at 'message.data[0].value' (TYPE_STRING), 12"}]}]}});
        let error = classify_error(400, None, &body.to_string());
        let SendError::Permanent { reason } = error else { panic!("{error:?}") };
        assert!(reason.contains("HTTP 400 INVALID_ARGUMENT"), "{reason}");
    }

    #[test]
    fn a_bare_not_found_is_not_taken_for_a_dead_token() {
        let body = json!({"error": {"code": 404, "message": "Not found", "status": "NOT_FOUND"}}).to_string();
        assert!(matches!(classify_error(404, None, &body), SendError::Permanent { .. }));
        assert!(matches!(classify_error(404, None, "<html>404</html>"), SendError::Permanent { .. }));
    }

    #[test]
    fn throttling_and_outages_are_retryable_with_the_servers_delay() {
        let wait = Some(Duration::from_secs(30));
        let quota = fcm_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded", "QUOTA_EXCEEDED");
        assert!(matches!(classify_error(429, wait, &quota),
            SendError::Retryable { retry_after, .. } if retry_after == wait));
        let unavailable = fcm_error(503, "UNAVAILABLE", "The service is unavailable", "UNAVAILABLE");
        assert!(matches!(
            classify_error(503, None, &unavailable),
            SendError::Retryable { retry_after: None, .. }
        ));
        let internal = fcm_error(500, "INTERNAL", "Internal error", "INTERNAL");
        assert!(matches!(classify_error(500, None, &internal), SendError::Retryable { .. }));
        assert!(matches!(classify_error(502, None, "Bad Gateway"), SendError::Retryable { .. }));
    }

    #[test]
    fn credential_failures_are_auth_errors() {
        let body = json!({"error": {"code": 401, "status": "UNAUTHENTICATED",
            "message": "Request had invalid authentication credentials."}})
        .to_string();
        assert!(matches!(classify_error(401, None, &body), SendError::Auth { .. }));
        let apns = fcm_error(401, "UNAUTHENTICATED", "Auth error from APNS", "THIRD_PARTY_AUTH_ERROR");
        assert!(matches!(classify_error(401, None, &apns), SendError::Auth { .. }));
    }

    #[test]
    fn sender_mismatch_and_forbidden_projects_are_permanent() {
        let mismatch = fcm_error(403, "PERMISSION_DENIED", "SenderId mismatch", "SENDER_ID_MISMATCH");
        let error = classify_error(403, None, &mismatch);
        let SendError::Permanent { reason } = error else { panic!("{error:?}") };
        assert_eq!(reason, "HTTP 403 PERMISSION_DENIED SENDER_ID_MISMATCH: SenderId mismatch");
        let denied = json!({"error": {"code": 403, "status": "PERMISSION_DENIED",
            "message": "Permission 'cloudmessaging.messages.create' denied"}});
        assert!(matches!(classify_error(403, None, &denied.to_string()), SendError::Permanent { .. }));
    }

    #[test]
    fn retry_after_accepts_seconds_and_http_dates() {
        let now = UNIX_EPOCH + Duration::from_secs(1_445_412_480); // Wed, 21 Oct 2015 07:28:00 GMT
        assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:30:00 GMT", now), Some(Duration::from_secs(120)));
        // The obsolete RFC 850 and asctime forms recipients must still accept.
        assert_eq!(
            parse_retry_after("Wednesday, 21-Oct-15 07:29:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(parse_retry_after("Wed Oct 21 07:28:30 2015", now), Some(Duration::from_secs(30)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("-5", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn backoff_grows_exponentially_within_the_cap() {
        let mut rng = StdRng::seed_from_u64(7);
        for attempt in 0..40 {
            let ceiling = BACKOFF_BASE.saturating_mul(1u32.checked_shl(attempt).unwrap_or(u32::MAX));
            let ceiling = ceiling.min(BACKOFF_CAP);
            for _ in 0..200 {
                let delay = backoff_delay(attempt, None, &mut rng);
                assert!(delay <= ceiling, "attempt {attempt}: {delay:?} > {ceiling:?}");
            }
        }
        for _ in 0..200 {
            assert!(backoff_delay(u32::MAX, None, &mut rng) <= BACKOFF_CAP);
        }
    }

    #[test]
    fn backoff_is_jittered_over_the_whole_range() {
        let mut rng = StdRng::seed_from_u64(11);
        let delays: Vec<Duration> = (0..1000).map(|_| backoff_delay(3, None, &mut rng)).collect();
        let ceiling = BACKOFF_BASE * 8;
        assert!(delays.iter().any(|d| *d < ceiling / 4), "some retries come early");
        assert!(delays.iter().any(|d| *d > ceiling * 3 / 4), "some retries come late");
        let mean = delays.iter().sum::<Duration>() / 1000;
        assert!(mean > ceiling * 2 / 5 && mean < ceiling * 3 / 5, "mean {mean:?}");
    }

    #[test]
    fn backoff_never_comes_before_retry_after() {
        let mut rng = StdRng::seed_from_u64(3);
        for attempt in 0..20 {
            let wait = Duration::from_secs(45);
            assert!(backoff_delay(attempt, Some(wait), &mut rng) >= wait);
        }
        // Beyond the cap too: FCM's word wins over ours.
        let long = BACKOFF_CAP * 4;
        assert_eq!(backoff_delay(30, Some(long), &mut rng), long);
    }

    #[test]
    fn config_is_off_without_credentials() {
        assert_eq!(FcmConfig::from_lookup(|_| None).unwrap(), None);
        assert_eq!(FcmConfig::from_lookup(|_| Some("  ".into())).unwrap(), None);
    }

    #[test]
    fn config_reads_the_environment_with_the_default_endpoint() {
        let env = |k: &str| (k == "PHR_FCM_CREDENTIALS").then(|| "/etc/phr/fcm.json".to_owned());
        assert_eq!(
            FcmConfig::from_lookup(env).unwrap(),
            Some(FcmConfig {
                credentials_path: "/etc/phr/fcm.json".into(),
                project_id_override: None,
                endpoint: DEFAULT_ENDPOINT.into(),
            })
        );
        let env = |k: &str| match k {
            "PHR_FCM_CREDENTIALS" => Some("key.json".to_owned()),
            "PHR_FCM_PROJECT_ID" => Some("phr-prod".to_owned()),
            "PHR_FCM_ENDPOINT" => Some("http://127.0.0.1:9099".to_owned()),
            _ => None,
        };
        let config = FcmConfig::from_lookup(env).unwrap().unwrap();
        assert_eq!(config.project_id_override.as_deref(), Some("phr-prod"));
        assert_eq!(config.endpoint, "http://127.0.0.1:9099");
    }

    #[test]
    fn project_id_without_credentials_is_a_mistake() {
        let env = |k: &str| (k == "PHR_FCM_PROJECT_ID").then(|| "phr-prod".to_owned());
        let error = FcmConfig::from_lookup(env).unwrap_err();
        assert_eq!(error.to_string(), "PHR_FCM_PROJECT_ID is set but PHR_FCM_CREDENTIALS is not");
    }

    fn key_file(dir: &Path, json: Value) -> FcmConfig {
        let path = dir.join("service-account.json");
        std::fs::write(&path, json.to_string()).unwrap();
        FcmConfig { credentials_path: path, project_id_override: None, endpoint: DEFAULT_ENDPOINT.into() }
    }

    fn complete_key() -> Value {
        json!({
            "type": "service_account",
            "project_id": "phr-test",
            "private_key_id": "abc123",
            "private_key": "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n",
            "client_email": "fcm@phr-test.iam.gserviceaccount.com",
            "token_uri": "https://oauth2.googleapis.com/token"
        })
    }

    #[test]
    fn a_missing_key_field_is_named() {
        let dir = tempfile::tempdir().unwrap();
        for field in ["type", "client_email", "private_key_id", "private_key", "token_uri"] {
            let mut key = complete_key();
            key.as_object_mut().unwrap().remove(field);
            let error = FcmSender::from_config(&key_file(dir.path(), key)).unwrap_err();
            assert!(
                matches!(&error, FcmError::MissingField { field: f, .. } if *f == field),
                "{field}: {error:?}"
            );
            assert!(error.to_string().contains(&format!("has no `{field}`")), "{error}");
        }
    }

    #[test]
    fn an_unreadable_private_key_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let error = FcmSender::from_config(&key_file(dir.path(), complete_key())).unwrap_err();
        assert!(matches!(&error, FcmError::InvalidKey { problem, .. } if problem.contains("private_key")));
    }

    #[test]
    fn other_google_credentials_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut key = complete_key();
        key["type"] = json!("authorized_user");
        let error = FcmSender::from_config(&key_file(dir.path(), key)).unwrap_err();
        assert!(error.to_string().contains("\"authorized_user\", not \"service_account\""), "{error}");
        let error = FcmSender::from_config(&FcmConfig {
            credentials_path: dir.path().join("absent.json"),
            project_id_override: None,
            endpoint: DEFAULT_ENDPOINT.into(),
        })
        .unwrap_err();
        assert!(matches!(error, FcmError::ReadKey { .. }), "{error:?}");
    }

    #[test]
    fn project_ids_cannot_escape_the_url_path() {
        assert!(check_project_id("phr-prod-1234").is_ok());
        for bad in ["", "a/b", "a?b", "a b", "..%2f"] {
            assert!(check_project_id(bad).is_err(), "{bad:?}");
        }
    }
}
