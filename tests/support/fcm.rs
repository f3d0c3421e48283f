//! A local stand-in for Firebase Cloud Messaging and Google's OAuth 2 token
//! endpoint that speaks their wire protocol: the JWT-bearer grant (RFC 7523) at
//! `POST /token`, FCM HTTP v1 at `POST /v1/projects/{project}/messages:send`.
//! Tests inspect what it accepted and script failures per registration token.
//!
//! The service account's key is a throwaway test key committed under
//! `fixtures/`; `OTHER_TEST_KEY_PEM` is a second one for "wrong key" tests.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use phr::notify::fcm::FcmConfig;
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{Map, Value, json};

/// The test service account's private key (PKCS#8 PEM, as Google issues them).
pub const TEST_KEY_PEM: &str = include_str!("fixtures/fcm-test-service-account.key.pem");
/// A different RSA key, for a key file whose `private_key` does not match.
pub const OTHER_TEST_KEY_PEM: &str = include_str!("fixtures/fcm-test-other.key.pem");
pub const PROJECT_ID: &str = "phr-standin-test";
pub const CLIENT_EMAIL: &str = "firebase-adminsdk-test@phr-standin-test.iam.gserviceaccount.com";
pub const KEY_ID: &str = "5f1c0e4d2b9a8c7e6f5d4c3b2a1908f7e6d5c4b3";
const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const FCM_ERROR_TYPE: &str = "type.googleapis.com/google.firebase.fcm.v1.FcmError";
const BAD_REQUEST_TYPE: &str = "type.googleapis.com/google.rpc.BadRequest";

/// An answer FCM gives for a particular registration token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// 404 `NOT_FOUND`, errorCode `UNREGISTERED`: the app was uninstalled.
    Unregistered,
    /// 400 `INVALID_ARGUMENT`: not a valid registration token.
    InvalidToken,
    /// 429 `RESOURCE_EXHAUSTED`, errorCode `QUOTA_EXCEEDED`, with this `Retry-After` header.
    QuotaExceeded { retry_after: Option<String> },
    /// 503 `UNAVAILABLE`, with this `Retry-After` header.
    Unavailable { retry_after: Option<String> },
    /// 500 `INTERNAL`.
    Internal,
    /// 403 `PERMISSION_DENIED`, errorCode `SENDER_ID_MISMATCH`.
    SenderIdMismatch,
    /// 401 `UNAUTHENTICATED`, errorCode `THIRD_PARTY_AUTH_ERROR` (APNs key rejected).
    ThirdPartyAuth,
}

struct State {
    token_uri: String,
    public_key: DecodingKey,
    token_lifetime_secs: AtomicU64,
    /// Access token → when it expires.
    issued: Mutex<HashMap<String, Instant>>,
    token_requests: AtomicUsize,
    send_attempts: AtomicUsize,
    unauthorized: AtomicUsize,
    accepted: Mutex<Vec<Value>>,
    validated: Mutex<Vec<Value>>,
    fail_next: Mutex<HashMap<String, VecDeque<Failure>>>,
    fail_always: Mutex<HashMap<String, Failure>>,
    next_id: AtomicU64,
}

pub struct FcmStandIn {
    base: String,
    state: web::Data<State>,
    handle: actix_web::dev::ServerHandle,
}

impl FcmStandIn {
    /// Starts the stand-in on a free port of 127.0.0.1.
    pub async fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let key = rsa::RsaPrivateKey::from_pkcs8_pem(TEST_KEY_PEM).unwrap();
        let public_key = DecodingKey::from_rsa_raw_components(&key.n().to_bytes_be(), &key.e().to_bytes_be());
        let state = web::Data::new(State {
            token_uri: format!("{base}/token"),
            public_key,
            // What Google answers: an hour, less the second it took.
            token_lifetime_secs: AtomicU64::new(3599),
            issued: Mutex::default(),
            token_requests: AtomicUsize::new(0),
            send_attempts: AtomicUsize::new(0),
            unauthorized: AtomicUsize::new(0),
            accepted: Mutex::default(),
            validated: Mutex::default(),
            fail_next: Mutex::default(),
            fail_always: Mutex::default(),
            next_id: AtomicU64::new(1),
        });
        let data = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/token", web::post().to(token))
                .route("/v1/projects/{project}/messages:send", web::post().to(send))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        FcmStandIn { base, state, handle }
    }

    /// What `PHR_FCM_ENDPOINT` should be.
    pub fn endpoint(&self) -> &str {
        &self.base
    }

    pub fn token_uri(&self) -> &str {
        &self.state.token_uri
    }

    /// The service-account key file Google would issue, pointing at this stand-in.
    pub fn service_account_json(&self) -> Value {
        json!({
            "type": "service_account",
            "project_id": PROJECT_ID,
            "private_key_id": KEY_ID,
            "private_key": TEST_KEY_PEM,
            "client_email": CLIENT_EMAIL,
            "client_id": "100000000000000000001",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": self.token_uri(),
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/firebase-adminsdk-test",
            "universe_domain": "googleapis.com"
        })
    }

    /// Writes the key file into `dir` and returns its path.
    pub fn write_service_account(&self, dir: &Path) -> PathBuf {
        self.write_service_account_with(dir, |_| {})
    }

    /// Writes the key file after `edit` changed it (drop a field, swap the key...).
    pub fn write_service_account_with(&self, dir: &Path, edit: impl FnOnce(&mut Value)) -> PathBuf {
        let mut key = self.service_account_json();
        edit(&mut key);
        let path = dir.join("fcm-service-account.json");
        std::fs::write(&path, serde_json::to_string_pretty(&key).unwrap()).unwrap();
        path
    }

    /// A configuration that sends through this stand-in (key file written into `dir`).
    pub fn config(&self, dir: &Path) -> FcmConfig {
        FcmConfig {
            credentials_path: self.write_service_account(dir),
            project_id_override: None,
            endpoint: self.base.clone(),
        }
    }

    /// Seconds the access tokens issued from now on live.
    pub fn set_token_lifetime(&self, secs: u64) {
        self.state.token_lifetime_secs.store(secs, Ordering::SeqCst);
    }

    /// Invalidates every access token issued so far (FCM then answers 401).
    pub fn revoke_access_tokens(&self) {
        self.state.issued.lock().unwrap().clear();
    }

    /// Requests to the token endpoint, granted or not.
    pub fn token_requests(&self) -> usize {
        self.state.token_requests.load(Ordering::SeqCst)
    }

    /// Send requests, whatever the answer.
    pub fn send_attempts(&self) -> usize {
        self.state.send_attempts.load(Ordering::SeqCst)
    }

    /// Send requests refused for a missing, unknown or expired access token.
    pub fn unauthorized_responses(&self) -> usize {
        self.state.unauthorized.load(Ordering::SeqCst)
    }

    /// The `message` objects accepted for delivery, in order.
    pub fn messages(&self) -> Vec<Value> {
        self.state.accepted.lock().unwrap().clone()
    }

    /// The accepted messages addressed to `token`.
    pub fn messages_to(&self, token: &str) -> Vec<Value> {
        self.messages().into_iter().filter(|m| m["token"] == token).collect()
    }

    /// The `message` objects of `validate_only` requests that passed.
    pub fn validated(&self) -> Vec<Value> {
        self.state.validated.lock().unwrap().clone()
    }

    /// Answers the next send to `token` with `failure`; queued failures are used in order.
    pub fn fail_next(&self, token: &str, failure: Failure) {
        self.state.fail_next.lock().unwrap().entry(token.to_owned()).or_default().push_back(failure);
    }

    /// Answers every send to `token` with `failure` until [`Self::clear_failures`].
    pub fn fail_always(&self, token: &str, failure: Failure) {
        self.state.fail_always.lock().unwrap().insert(token.to_owned(), failure);
    }

    pub fn clear_failures(&self, token: &str) {
        self.state.fail_next.lock().unwrap().remove(token);
        self.state.fail_always.lock().unwrap().remove(token);
    }
}

impl Drop for FcmStandIn {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

// ---------------------------------------------------------------------------
// POST /token: Google's OAuth 2 token endpoint, JWT-bearer grant only.

/// A refused grant: RFC 6749 §5.2 `error` and Google's `error_description`.
struct OAuthRefusal {
    error: &'static str,
    description: String,
}

impl OAuthRefusal {
    fn response(&self) -> HttpResponse {
        HttpResponse::BadRequest().json(json!({"error": self.error, "error_description": self.description}))
    }
}

fn oauth_error(error: &'static str, description: &str) -> OAuthRefusal {
    OAuthRefusal { error, description: description.to_owned() }
}

async fn token(state: web::Data<State>, body: web::Bytes) -> HttpResponse {
    state.token_requests.fetch_add(1, Ordering::SeqCst);
    let form: HashMap<String, String> = match serde_urlencoded::from_bytes(&body) {
        Ok(form) => form,
        Err(_) => return oauth_error("invalid_request", "Malformed request body.").response(),
    };
    let grant_type = form.get("grant_type").map(String::as_str).unwrap_or_default();
    if grant_type != JWT_BEARER_GRANT {
        return oauth_error("unsupported_grant_type", &format!("Invalid grant_type: {grant_type}"))
            .response();
    }
    let Some(assertion) = form.get("assertion") else {
        return oauth_error("invalid_request", "Missing required parameter: assertion").response();
    };
    match check_assertion(&state, assertion) {
        Ok(()) => {
            let lifetime = state.token_lifetime_secs.load(Ordering::SeqCst);
            let access_token = format!("ya29.standin.{}", uuid::Uuid::new_v4().simple());
            let expires = Instant::now() + Duration::from_secs(lifetime);
            state.issued.lock().unwrap().insert(access_token.clone(), expires);
            HttpResponse::Ok().json(json!({
                "access_token": access_token,
                "expires_in": lifetime,
                "token_type": "Bearer"
            }))
        }
        Err(refusal) => refusal.response(),
    }
}

/// What Google checks of the assertion: the account, the key id and signature,
/// the audience, the scope, and a lifetime of at most an hour around now.
fn check_assertion(state: &State, assertion: &str) -> Result<(), OAuthRefusal> {
    let bad_signature = || oauth_error("invalid_grant", "Invalid JWT Signature.");
    let header = jsonwebtoken::decode_header(assertion).map_err(|_| bad_signature())?;
    let claims: Value = assertion
        .split('.')
        .nth(1)
        .and_then(|part| URL_SAFE_NO_PAD.decode(part).ok())
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(bad_signature)?;
    if claims["iss"] != CLIENT_EMAIL {
        return Err(oauth_error("invalid_grant", "Invalid grant: account not found"));
    }
    if header.alg != Algorithm::RS256 || header.kid.as_deref() != Some(KEY_ID) {
        return Err(bad_signature());
    }
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<Value>(assertion, &state.public_key, &validation).map_err(|_| bad_signature())?;
    if claims["aud"] != state.token_uri.as_str() {
        return Err(oauth_error("invalid_grant", "Invalid JWT: Failed audience check."));
    }
    let scopes = claims["scope"].as_str().unwrap_or_default();
    if !scopes.split(' ').any(|s| s == SCOPE) {
        return Err(oauth_error("invalid_scope", "Invalid OAuth scope or ID token audience provided."));
    }
    let now = now_secs();
    let timely = match (claims["iat"].as_i64(), claims["exp"].as_i64()) {
        (Some(iat), Some(exp)) => iat <= now + 60 && exp > now && exp > iat && exp - iat <= 3600,
        _ => false,
    };
    if !timely {
        return Err(oauth_error(
            "invalid_grant",
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. \
             Check your iat and exp values in the JWT claim.",
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// POST /v1/projects/{project}/messages:send

/// An error answer in Google's format (`google.rpc.Status` in JSON).
struct Refusal {
    http: u16,
    status: &'static str,
    message: String,
    details: Vec<Value>,
}

impl Refusal {
    fn response(&self) -> HttpResponse {
        let mut body = json!({"error": {"code": self.http, "message": self.message, "status": self.status}});
        if !self.details.is_empty() {
            body["error"]["details"] = Value::Array(self.details.clone());
        }
        HttpResponse::build(actix_web::http::StatusCode::from_u16(self.http).unwrap()).json(body)
    }
}

fn google_error(http: u16, status: &'static str, message: &str, details: Vec<Value>) -> Refusal {
    Refusal { http, status, message: message.to_owned(), details }
}

fn fcm_detail(error_code: &str) -> Value {
    json!({"@type": FCM_ERROR_TYPE, "errorCode": error_code})
}

/// 400 with a `google.rpc.BadRequest` naming the field, as FCM answers for a malformed request.
fn invalid_field(field: &str, description: String) -> Refusal {
    let detail = json!({"@type": BAD_REQUEST_TYPE,
        "fieldViolations": [{"field": field, "description": description}]});
    google_error(400, "INVALID_ARGUMENT", &description, vec![detail])
}

fn unauthenticated() -> HttpResponse {
    let mut response = google_error(
        401,
        "UNAUTHENTICATED",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or \
         other valid authentication credential. See \
         https://developers.google.com/identity/sign-in/web/devconsole-project.",
        vec![],
    )
    .response();
    response.headers_mut().insert(
        actix_web::http::header::WWW_AUTHENTICATE,
        actix_web::http::header::HeaderValue::from_static(
            "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\"",
        ),
    );
    response
}

async fn send(
    state: web::Data<State>,
    req: HttpRequest,
    project: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    state.send_attempts.fetch_add(1, Ordering::SeqCst);
    let bearer = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let authorized = bearer.is_some_and(|token| {
        state.issued.lock().unwrap().get(token).is_some_and(|expires| Instant::now() < *expires)
    });
    if !authorized {
        state.unauthorized.fetch_add(1, Ordering::SeqCst);
        return unauthenticated();
    }
    // The only service account belongs to PROJECT_ID.
    let project = project.into_inner();
    if project != PROJECT_ID {
        return google_error(
            403,
            "PERMISSION_DENIED",
            &format!(
                "Permission 'cloudmessaging.messages.create' denied on resource \
                 '//cloudresourcemanager.googleapis.com/projects/{project}' (or it may not exist)."
            ),
            vec![],
        )
        .response();
    }
    let request: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return google_error(
                400,
                "INVALID_ARGUMENT",
                &format!("Invalid JSON payload received. {e}"),
                vec![json!({"@type": BAD_REQUEST_TYPE, "fieldViolations": [{"description": e.to_string()}]})],
            )
            .response();
        }
    };
    let (message, validate_only) = match check_request(&request) {
        Ok(ok) => ok,
        Err(refusal) => return refusal.response(),
    };
    let token = message["token"].as_str().unwrap_or_default().to_owned();
    if let Some(failure) = scripted_failure(&state, &token) {
        return failure_response(&failure);
    }
    if validate_only {
        state.validated.lock().unwrap().push(message.clone());
        return HttpResponse::Ok()
            .json(json!({"name": format!("projects/{project}/messages/fake_message_id")}));
    }
    let id = state.next_id.fetch_add(1, Ordering::SeqCst);
    state.accepted.lock().unwrap().push(message.clone());
    HttpResponse::Ok().json(json!({"name": format!("projects/{project}/messages/0:{id}%standin")}))
}

fn scripted_failure(state: &State, token: &str) -> Option<Failure> {
    let next = state.fail_next.lock().unwrap().get_mut(token).and_then(VecDeque::pop_front);
    next.or_else(|| state.fail_always.lock().unwrap().get(token).cloned())
}

fn failure_response(failure: &Failure) -> HttpResponse {
    let (refusal, retry_after) = match failure {
        Failure::Unregistered => (
            google_error(
                404,
                "NOT_FOUND",
                "Requested entity was not found.",
                vec![fcm_detail("UNREGISTERED")],
            ),
            None,
        ),
        Failure::InvalidToken => (
            google_error(
                400,
                "INVALID_ARGUMENT",
                "The registration token is not a valid FCM registration token",
                vec![fcm_detail("INVALID_ARGUMENT")],
            ),
            None,
        ),
        Failure::QuotaExceeded { retry_after } => (
            google_error(
                429,
                "RESOURCE_EXHAUSTED",
                "Quota exceeded for quota metric 'Send requests' and limit 'Send requests per minute' \
                 of service 'fcm.googleapis.com'.",
                vec![fcm_detail("QUOTA_EXCEEDED")],
            ),
            retry_after.as_deref(),
        ),
        Failure::Unavailable { retry_after } => (
            google_error(
                503,
                "UNAVAILABLE",
                "The service is currently unavailable.",
                vec![fcm_detail("UNAVAILABLE")],
            ),
            retry_after.as_deref(),
        ),
        Failure::Internal => {
            (google_error(500, "INTERNAL", "Internal error encountered.", vec![fcm_detail("INTERNAL")]), None)
        }
        Failure::SenderIdMismatch => (
            google_error(
                403,
                "PERMISSION_DENIED",
                "SenderId mismatch",
                vec![fcm_detail("SENDER_ID_MISMATCH")],
            ),
            None,
        ),
        Failure::ThirdPartyAuth => (
            google_error(
                401,
                "UNAUTHENTICATED",
                "Auth error from APNS or Web Push Service",
                vec![fcm_detail("THIRD_PARTY_AUTH_ERROR")],
            ),
            None,
        ),
    };
    let mut response = refusal.response();
    if let Some(value) = retry_after {
        response.headers_mut().insert(
            actix_web::http::header::RETRY_AFTER,
            actix_web::http::header::HeaderValue::from_str(value).unwrap(),
        );
    }
    response
}

// ---------------------------------------------------------------------------
// Request validation, as FCM's proto3 JSON parser and checks do it: unknown
// fields are errors, either spelling of a field name (`collapse_key` or
// `collapseKey`) is accepted, map values must be strings, one target exactly.

const REQUEST_FIELDS: &[&str] = &["validate_only", "message"];
const MESSAGE_FIELDS: &[&str] = &[
    "name",
    "token",
    "topic",
    "condition",
    "data",
    "notification",
    "android",
    "webpush",
    "apns",
    "fcm_options",
];
const NOTIFICATION_FIELDS: &[&str] = &["title", "body", "image"];
const ANDROID_FIELDS: &[&str] = &[
    "collapse_key",
    "priority",
    "ttl",
    "restricted_package_name",
    "data",
    "notification",
    "fcm_options",
    "direct_boot_ok",
];
const ANDROID_NOTIFICATION_FIELDS: &[&str] = &[
    "title",
    "body",
    "icon",
    "color",
    "sound",
    "tag",
    "click_action",
    "body_loc_key",
    "body_loc_args",
    "title_loc_key",
    "title_loc_args",
    "channel_id",
    "ticker",
    "sticky",
    "event_time",
    "local_only",
    "notification_priority",
    "default_sound",
    "default_vibrate_timings",
    "default_light_settings",
    "vibrate_timings",
    "visibility",
    "notification_count",
    "light_settings",
    "image",
    "bypass_proxy_notification",
    "proxy",
];
const APNS_FIELDS: &[&str] = &["headers", "payload", "fcm_options", "live_activity_token"];

/// The proto field name of a JSON name: `collapseKey` → `collapse_key`.
fn proto_name(json_name: &str) -> String {
    let mut out = String::with_capacity(json_name.len() + 4);
    for c in json_name.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Looks a field up by either spelling.
fn field<'a>(object: &'a Map<String, Value>, proto: &str) -> Option<&'a Value> {
    object.iter().find(|(k, _)| proto_name(k) == proto).map(|(_, v)| v)
}

fn object<'a>(value: &'a Value, path: &str) -> Result<&'a Map<String, Value>, Refusal> {
    value.as_object().ok_or_else(|| {
        invalid_field(
            path,
            format!("Invalid value at '{path}' (type.googleapis.com/google.firebase.fcm.v1), {value}"),
        )
    })
}

fn known_fields(object: &Map<String, Value>, known: &[&str], path: &str) -> Result<(), Refusal> {
    match object.keys().find(|k| !known.contains(&proto_name(k).as_str())) {
        Some(unknown) => {
            let at = if path.is_empty() { String::new() } else { format!(" at '{path}'") };
            Err(invalid_field(
                path,
                format!("Invalid JSON payload received. Unknown name \"{unknown}\"{at}: Cannot find field."),
            ))
        }
        None => Ok(()),
    }
}

fn string_map(value: &Value, path: &str) -> Result<(), Refusal> {
    for (i, (_, v)) in object(value, path)?.iter().enumerate() {
        if !v.is_string() {
            let at = format!("{path}[{i}].value");
            return Err(invalid_field(&at, format!("Invalid value at '{at}' (TYPE_STRING), {v}")));
        }
    }
    Ok(())
}

fn string_field(object: &Map<String, Value>, proto: &str, path: &str) -> Result<(), Refusal> {
    match field(object, proto) {
        Some(v) if !v.is_string() => {
            let at = format!("{path}.{proto}");
            Err(invalid_field(&at, format!("Invalid value at '{at}' (TYPE_STRING), {v}")))
        }
        _ => Ok(()),
    }
}

/// Checks a send request; returns its `message` and `validate_only`.
fn check_request(request: &Value) -> Result<(&Value, bool), Refusal> {
    let top = object(request, "")?;
    known_fields(top, REQUEST_FIELDS, "")?;
    let validate_only = match field(top, "validate_only") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(v) => {
            return Err(invalid_field(
                "validate_only",
                format!("Invalid value at 'validate_only' (TYPE_BOOL), {v}"),
            ));
        }
    };
    let Some(message_value) = field(top, "message") else {
        return Err(google_error(400, "INVALID_ARGUMENT", "Request contains an invalid argument.", vec![]));
    };
    let message = object(message_value, "message")?;
    known_fields(message, MESSAGE_FIELDS, "message")?;
    let targets: Vec<&str> =
        ["token", "topic", "condition"].into_iter().filter(|t| field(message, t).is_some()).collect();
    match targets.as_slice() {
        [] => {
            return Err(google_error(
                400,
                "INVALID_ARGUMENT",
                "Recipient of the message is not set.",
                vec![fcm_detail("INVALID_ARGUMENT")],
            ));
        }
        [_] => {}
        [_, second, ..] => {
            return Err(invalid_field(
                "message",
                format!(
                    "Invalid JSON payload received. Oneof field 'target' is already set. Cannot set '{second}'"
                ),
            ));
        }
    }
    for target in ["token", "topic", "condition"] {
        string_field(message, target, "message")?;
    }
    if let Some(data) = field(message, "data") {
        string_map(data, "message.data")?;
    }
    if let Some(notification) = field(message, "notification") {
        let notification = object(notification, "message.notification")?;
        known_fields(notification, NOTIFICATION_FIELDS, "message.notification")?;
        for name in NOTIFICATION_FIELDS {
            string_field(notification, name, "message.notification")?;
        }
    }
    if let Some(android) = field(message, "android") {
        check_android(object(android, "message.android")?)?;
    }
    if let Some(apns) = field(message, "apns") {
        check_apns(object(apns, "message.apns")?)?;
    }
    Ok((message_value, validate_only))
}

fn check_android(android: &Map<String, Value>) -> Result<(), Refusal> {
    let path = "message.android";
    known_fields(android, ANDROID_FIELDS, path)?;
    for name in ["collapse_key", "restricted_package_name", "ttl", "priority"] {
        string_field(android, name, path)?;
    }
    if let Some(priority) = field(android, "priority").and_then(Value::as_str)
        && !matches!(priority.to_ascii_uppercase().as_str(), "NORMAL" | "HIGH")
    {
        let at = format!("{path}.priority");
        return Err(invalid_field(
            &at,
            format!(
                "Invalid value at '{at}' \
                 (type.googleapis.com/google.firebase.fcm.v1.AndroidConfig.AndroidMessagePriority), \"{priority}\""
            ),
        ));
    }
    if let Some(ttl) = field(android, "ttl").and_then(Value::as_str)
        && !is_protobuf_duration(ttl)
    {
        let at = format!("{path}.ttl");
        return Err(invalid_field(
            &at,
            format!("Invalid value at '{at}' (type.googleapis.com/google.protobuf.Duration), \"{ttl}\""),
        ));
    }
    if let Some(data) = field(android, "data") {
        string_map(data, "message.android.data")?;
    }
    if let Some(notification) = field(android, "notification") {
        let notification = object(notification, "message.android.notification")?;
        known_fields(notification, ANDROID_NOTIFICATION_FIELDS, "message.android.notification")?;
        for name in ["title", "body", "title_loc_key", "body_loc_key", "channel_id"] {
            string_field(notification, name, "message.android.notification")?;
        }
    }
    Ok(())
}

/// `"3600s"`, `"1.5s"`: seconds with up to nine fractional digits and an `s`.
fn is_protobuf_duration(text: &str) -> bool {
    let Some(number) = text.strip_suffix('s') else { return false };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, "0"));
    !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && (1..=9).contains(&fraction.len())
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

fn check_apns(apns: &Map<String, Value>) -> Result<(), Refusal> {
    let path = "message.apns";
    known_fields(apns, APNS_FIELDS, path)?;
    if let Some(headers) = field(apns, "headers") {
        string_map(headers, "message.apns.headers")?;
    }
    let header = |name: &str| {
        field(apns, "headers").and_then(|h| h.get(name)).and_then(Value::as_str).map(str::to_owned)
    };
    let aps = match field(apns, "payload") {
        Some(payload) => {
            let payload = object(payload, "message.apns.payload")?;
            match payload.get("aps") {
                Some(aps) => Some(object(aps, "message.apns.payload.aps")?),
                None => None,
            }
        }
        None => None,
    };
    // Apple's rule for background pushes: silent, at priority 5 (APNs refuses others;
    // the body of FCM's answer here is an approximation).
    if header("apns-push-type").as_deref() == Some("background") {
        let silent = aps.is_some_and(|aps| aps.get("content-available") == Some(&json!(1)))
            && aps.is_none_or(|aps| !aps.contains_key("alert"));
        if !silent || header("apns-priority").as_deref() != Some("5") {
            return Err(google_error(
                400,
                "INVALID_ARGUMENT",
                "Request contains an invalid argument.",
                vec![fcm_detail("INVALID_ARGUMENT")],
            ));
        }
    }
    Ok(())
}
