//! A local stand-in OpenID Connect provider speaking the real wire protocol:
//! discovery, JWKS, an `/authorize` that approves at once (redirecting to the
//! redirect URI with `code` and `state`) and a `/token` endpoint that checks
//! client authentication, the code, the redirect URI and the PKCE S256
//! verifier before answering an RS256-signed ID token.
//!
//! Tests script the next ID tokens (expired, wrong audience, wrong nonce,
//! signed by another key, email unverified) and the user who "signs in".
//! The signing keys are the throwaway RSA keys under `fixtures/`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use phr::oidc::ProviderConfig;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::fcm::{OTHER_TEST_KEY_PEM, TEST_KEY_PEM};

pub const CLIENT_ID: &str = "phr-test-client";
pub const CLIENT_SECRET: &str = "stand-in secret with spaces & symbols";
pub const KEY_ID: &str = "standin-key-1";
/// The app's own redirect URI, registered with the provider and the server.
pub const APP_REDIRECT: &str = "phrapp://oidc/callback";

/// Who signs in at the stand-in next.
#[derive(Debug, Clone)]
pub struct User {
    pub sub: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
}

impl User {
    pub fn new(sub: &str, email: &str) -> Self {
        Self {
            sub: sub.into(),
            email: Some(email.into()),
            email_verified: true,
            name: Some("佐藤 次郎".into()),
        }
    }
}

/// How the next ID token is spoiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Spoil {
    #[default]
    None,
    /// `exp` ten minutes ago (well past any leeway).
    Expired,
    /// `aud` is another client.
    WrongAudience,
    /// `nonce` is not the one of the authorization request.
    WrongNonce,
    /// Signed by a key that is not in the JWKS (same `kid`).
    BadSignature,
    /// `iss` is another issuer.
    WrongIssuer,
}

struct Pending {
    client_id: String,
    redirect_uri: String,
    nonce: Option<String>,
    challenge: String,
    user: User,
}

struct State {
    issuer: String,
    key: EncodingKey,
    other_key: EncodingKey,
    jwk: Value,
    user: Mutex<User>,
    spoil: Mutex<Spoil>,
    codes: Mutex<HashMap<String, Pending>>,
    authorize_requests: Mutex<Vec<HashMap<String, String>>>,
    token_requests: AtomicUsize,
    discovery_requests: AtomicUsize,
    next: AtomicUsize,
}

pub struct OidcStandIn {
    state: web::Data<State>,
    handle: actix_web::dev::ServerHandle,
}

fn encoding_key(pem: &str) -> (EncodingKey, rsa::RsaPrivateKey) {
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(pem).unwrap();
    (EncodingKey::from_rsa_der(key.to_pkcs1_der().unwrap().as_bytes()), key)
}

impl OidcStandIn {
    pub async fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let issuer = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let (key, rsa_key) = encoding_key(TEST_KEY_PEM);
        let (other_key, _) = encoding_key(OTHER_TEST_KEY_PEM);
        let jwk = json!({
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": KEY_ID,
            "n": URL_SAFE_NO_PAD.encode(rsa_key.n().to_bytes_be()),
            "e": URL_SAFE_NO_PAD.encode(rsa_key.e().to_bytes_be()),
        });
        let state = web::Data::new(State {
            issuer,
            key,
            other_key,
            jwk,
            user: Mutex::new(User::new("standin-user-1", "jiro.sato@example.jp")),
            spoil: Mutex::default(),
            codes: Mutex::default(),
            authorize_requests: Mutex::default(),
            token_requests: AtomicUsize::new(0),
            discovery_requests: AtomicUsize::new(0),
            next: AtomicUsize::new(1),
        });
        let data = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/.well-known/openid-configuration", web::get().to(discovery))
                .route("/jwks", web::get().to(jwks))
                .route("/authorize", web::get().to(authorize))
                .route("/token", web::post().to(token))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        OidcStandIn { state, handle }
    }

    pub fn issuer(&self) -> &str {
        &self.state.issuer
    }

    /// The provider as the server is configured with it, named `name`.
    pub fn config(&self, name: &str) -> ProviderConfig {
        serde_json::from_value(json!({
            "name": name,
            "issuer": self.issuer(),
            "clientId": CLIENT_ID,
            "clientSecret": CLIENT_SECRET,
            "redirectUris": [APP_REDIRECT, "https://app.example.jp/oidc/callback"],
        }))
        .unwrap()
    }

    /// The user whom the next authorizations sign in.
    pub fn set_user(&self, user: User) {
        *self.state.user.lock().unwrap() = user;
    }

    /// Spoils every ID token issued from now on (until set back to `Spoil::None`).
    pub fn spoil(&self, how: Spoil) {
        *self.state.spoil.lock().unwrap() = how;
    }

    /// The query parameters of each `/authorize` request, in order.
    pub fn authorize_requests(&self) -> Vec<HashMap<String, String>> {
        self.state.authorize_requests.lock().unwrap().clone()
    }

    pub fn token_requests(&self) -> usize {
        self.state.token_requests.load(Ordering::SeqCst)
    }

    pub fn discovery_requests(&self) -> usize {
        self.state.discovery_requests.load(Ordering::SeqCst)
    }
}

impl Drop for OidcStandIn {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

async fn discovery(state: web::Data<State>) -> HttpResponse {
    state.discovery_requests.fetch_add(1, Ordering::SeqCst);
    let i = &state.issuer;
    HttpResponse::Ok().json(json!({
        "issuer": i,
        "authorization_endpoint": format!("{i}/authorize"),
        "token_endpoint": format!("{i}/token"),
        "jwks_uri": format!("{i}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": ["openid", "email", "profile"],
    }))
}

async fn jwks(state: web::Data<State>) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "keys": [state.jwk] }))
}

fn oauth_error(status: u16, error: &str, description: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .json(json!({"error": error, "error_description": description}))
}

/// Approves at once: the user is whoever `set_user` named.
async fn authorize(state: web::Data<State>, query: web::Query<HashMap<String, String>>) -> HttpResponse {
    let q = query.into_inner();
    state.authorize_requests.lock().unwrap().push(q.clone());
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    if get("response_type") != "code" || get("client_id") != CLIENT_ID {
        return oauth_error(400, "invalid_request", "response_type must be code and client_id known");
    }
    if !get("scope").split(' ').any(|s| s == "openid") {
        return oauth_error(400, "invalid_scope", "openid scope missing");
    }
    if get("code_challenge_method") != "S256" || get("code_challenge").is_empty() {
        return oauth_error(400, "invalid_request", "PKCE S256 required");
    }
    let n = state.next.fetch_add(1, Ordering::SeqCst);
    let code = format!("code-{n}-{}", uuid::Uuid::new_v4().simple());
    state.codes.lock().unwrap().insert(
        code.clone(),
        Pending {
            client_id: get("client_id"),
            redirect_uri: get("redirect_uri"),
            nonce: q.get("nonce").cloned(),
            challenge: get("code_challenge"),
            user: state.user.lock().unwrap().clone(),
        },
    );
    let back =
        serde_urlencoded::to_string([("code", code.as_str()), ("state", get("state").as_str())]).unwrap();
    let sep = if get("redirect_uri").contains('?') { '&' } else { '?' };
    HttpResponse::Found().insert_header(("location", format!("{}{sep}{back}", get("redirect_uri")))).finish()
}

/// `Authorization: Basic` (RFC 6749 §2.3.1: each part form-urlencoded first).
fn basic_client(req: &HttpRequest) -> Option<(String, String)> {
    let v = req.headers().get("authorization")?.to_str().ok()?;
    let b64 = v.strip_prefix("Basic ")?;
    let raw = String::from_utf8(STANDARD.decode(b64).ok()?).ok()?;
    let (id, secret) = raw.split_once(':')?;
    let dec = |s: &str| -> Option<String> {
        serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("v={s}")).ok()?.pop().map(|(_, v)| v)
    };
    Some((dec(id)?, dec(secret)?))
}

async fn token(state: web::Data<State>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    state.token_requests.fetch_add(1, Ordering::SeqCst);
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    let client = basic_client(&req).or_else(|| Some((get("client_id"), get("client_secret"))));
    if client != Some((CLIENT_ID.to_owned(), CLIENT_SECRET.to_owned())) {
        return oauth_error(401, "invalid_client", "client authentication failed");
    }
    if get("grant_type") != "authorization_code" {
        return oauth_error(400, "unsupported_grant_type", "authorization_code only");
    }
    // Codes are single use whatever the outcome.
    let Some(p) = state.codes.lock().unwrap().remove(&get("code")) else {
        return oauth_error(400, "invalid_grant", "unknown or used code");
    };
    if p.client_id != CLIENT_ID || p.redirect_uri != get("redirect_uri") {
        return oauth_error(400, "invalid_grant", "redirect_uri differs from the authorization request");
    }
    let verifier = get("code_verifier");
    if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != p.challenge {
        return oauth_error(400, "invalid_grant", "PKCE verifier does not match the challenge");
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    let spoil = *state.spoil.lock().unwrap();
    let mut claims = json!({
        "iss": state.issuer,
        "sub": p.user.sub,
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 300,
        "auth_time": now,
    });
    if let Some(n) = &p.nonce {
        claims["nonce"] = json!(n);
    }
    if let Some(e) = &p.user.email {
        claims["email"] = json!(e);
        claims["email_verified"] = json!(p.user.email_verified);
    }
    if let Some(n) = &p.user.name {
        claims["name"] = json!(n);
    }
    match spoil {
        Spoil::None | Spoil::BadSignature => {}
        Spoil::Expired => {
            claims["iat"] = json!(now - 1200);
            claims["exp"] = json!(now - 600);
        }
        Spoil::WrongAudience => claims["aud"] = json!("some-other-client"),
        Spoil::WrongNonce => claims["nonce"] = json!("not-the-nonce-that-was-sent"),
        Spoil::WrongIssuer => claims["iss"] = json!("https://impostor.example"),
    }
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(KEY_ID.into());
    let key = if spoil == Spoil::BadSignature { &state.other_key } else { &state.key };
    let id_token = jsonwebtoken::encode(&header, &claims, key).unwrap();
    HttpResponse::Ok().insert_header(("cache-control", "no-store")).json(json!({
        "access_token": format!("standin-at-{}", uuid::Uuid::new_v4().simple()),
        "token_type": "Bearer",
        "expires_in": 3600,
        "id_token": id_token,
    }))
}
