//! External sign-in through an OpenID Connect provider (the local stand-in):
//! the happy path with account creation, reuse and linking, and every way the
//! flow must fail: tampered or reused state, wrong nonce, expired ID token,
//! wrong audience or issuer, bad signature, unverified email, unregistered
//! redirect URI and unknown provider.

use std::collections::HashMap;

use phr_tests::oidc::{APP_REDIRECT, CLIENT_ID, OidcStandIn, Spoil, User};
use phr_tests::{Backend, StatusCode, TestApp, assert_problem};
use serde_json::{Value, json};

phr_tests::both_backends!(
    first_sign_in_creates_an_account_whose_tokens_work_and_the_next_reuses_it,
    verified_email_links_an_existing_password_account,
    unverified_email_cannot_create_or_link_an_account,
    authorize_redirects_to_the_provider_with_pkce_state_and_nonce,
    tampered_state_is_rejected,
    reused_state_is_rejected,
    wrong_nonce_is_rejected,
    expired_id_token_is_rejected,
    wrong_audience_is_rejected,
    wrong_issuer_is_rejected,
    bad_signature_is_rejected,
    code_refused_by_the_provider_is_rejected,
    unregistered_redirect_uri_is_refused,
    unknown_provider_is_not_found,
);

const P: &str = "tonet";

struct Oidc {
    app: TestApp,
    idp: OidcStandIn,
    /// Follows no redirects, so that the provider's answer can be read.
    browser: reqwest::Client,
}

async fn spawn(backend: Backend) -> Option<Oidc> {
    let idp = OidcStandIn::start().await;
    let config = idp.config(P);
    let Some(app) = TestApp::spawn_with(backend, move |s| s.oidc_providers = vec![config]).await else {
        eprintln!("skipped: PHR_TEST_POSTGRES_URL is not set");
        return None;
    };
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    Some(Oidc { app, idp, browser })
}

fn query_of(url: &str) -> HashMap<String, String> {
    let q = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    serde_urlencoded::from_str(q).unwrap()
}

impl Oidc {
    /// Starts a sign-in and lets the stand-in approve it: `(code, state)` from the redirect.
    async fn authorize(&self) -> (String, String) {
        let res = self
            .browser
            .get(self.app.url(&format!("/v1/auth/oidc/{P}/authorize")))
            .query(&[("redirect_uri", APP_REDIRECT)])
            .header("accept", "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let body: Value = res.json().await.unwrap();
        let url = body["authorizationUrl"].as_str().unwrap();
        assert!(url.starts_with(&format!("{}/authorize?", self.idp.issuer())), "{url}");
        assert!(body["expiresAt"].is_string());
        let res = self.browser.get(url).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::FOUND);
        let location = res.headers()["location"].to_str().unwrap().to_owned();
        assert!(location.starts_with(APP_REDIRECT), "{location}");
        let q = query_of(&location);
        (q["code"].clone(), q["state"].clone())
    }

    /// The app posts code and state to the server.
    async fn finish(&self, code: &str, state: &str) -> (StatusCode, Value) {
        self.app
            .post_json(&format!("/v1/auth/oidc/{P}/token"), None, &json!({"code": code, "state": state}))
            .await
    }

    /// A whole sign-in; asserts success and returns the token response.
    async fn sign_in(&self) -> Value {
        let (code, state) = self.authorize().await;
        let (status, body) = self.finish(&code, &state).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    async fn me(&self, tokens: &Value) -> Value {
        let (status, me) = self.app.get("/v1/me", tokens["access_token"].as_str()).await;
        assert_eq!(status, StatusCode::OK, "{me}");
        me
    }

    /// A sign-in whose ID token the server must refuse for `claim`.
    async fn assert_id_token_refused(&self, claim: &str) {
        let (code, state) = self.authorize().await;
        let (status, body) = self.finish(&code, &state).await;
        assert_problem(status, &body, StatusCode::UNAUTHORIZED, "oidc_id_token_invalid");
        assert_eq!(body["errors"][0]["path"], format!("id_token/{claim}"), "{body}");
        assert!(body["detail"].as_str().unwrap().contains(claim), "{body}");
        assert!(body.get("access_token").is_none());
    }
}

async fn first_sign_in_creates_an_account_whose_tokens_work_and_the_next_reuses_it(backend: Backend) {
    let Some(t) = spawn(backend).await else { return };
    let tokens = t.sign_in().await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 900);
    assert!(tokens["refresh_token"].as_str().is_some_and(|r| r.len() == 43));
    let me = t.me(&tokens).await;
    assert_eq!(me["email"], "jiro.sato@example.jp");
    assert_eq!(me["displayName"], "佐藤 次郎");
    assert!(me["personId"].is_string());
    // The refresh token is this service's own and rotates like any other.
    let (status, refreshed) = t
        .app
        .post_form(
            "/v1/auth/token",
            &[("grant_type", "refresh_token"), ("refresh_token", tokens["refresh_token"].as_str().unwrap())],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    assert_eq!(t.me(&refreshed).await["accountId"], me["accountId"]);
    // A second sign-in, finished at the callback this time, reuses the account
    // even though the provider now reports another email and name.
    t.idp.set_user(User {
        email: Some("jiro.new@example.jp".into()),
        name: Some("Other".into()),
        ..User::new("standin-user-1", "x@example.jp")
    });
    let (code, state) = t.authorize().await;
    let (status, again) = t
        .app
        .get(
            &format!(
                "/v1/auth/oidc/{P}/callback?{}",
                serde_urlencoded::to_string([("code", &code), ("state", &state)]).unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    let me2 = t.me(&again).await;
    assert_eq!(me2["accountId"], me["accountId"]);
    assert_eq!(me2["email"], "jiro.sato@example.jp");
    // The account has no password: password sign-in with anything fails.
    let (status, _) = t
        .app
        .post_form(
            "/v1/auth/token",
            &[("grant_type", "password"), ("username", "jiro.sato@example.jp"), ("password", "")],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Discovery was fetched once and cached.
    assert_eq!(t.idp.discovery_requests(), 1);
}

async fn verified_email_links_an_existing_password_account(backend: Backend) {
    let Some(t) = spawn(backend).await else { return };
    let (account, person) = t.app.register("hanako@example.jp", "correct horse battery", "鈴木 花子").await;
    t.idp.set_user(User::new("hanako-at-idp", "Hanako@Example.JP"));
    let tokens = t.sign_in().await;
    let me = t.me(&tokens).await;
    assert_eq!(me["accountId"], account.as_str());
    assert_eq!(me["personId"], person.as_str());
    assert_eq!(me["displayName"], "鈴木 花子");
    // The password still works, and the link holds for the next external sign-in.
    t.app.sign_in("hanako@example.jp", "correct horse battery").await;
    assert_eq!(t.me(&t.sign_in().await).await["accountId"], account.as_str());
    // An administrator's account is not linked by email.
    let (admin, _) = t.app.register("admin@example.jp", "correct horse battery", "管理者").await;
    t.app.make_admin(&admin).await;
    t.idp.set_user(User::new("admin-at-idp", "admin@example.jp"));
    let (code, state) = t.authorize().await;
    let (status, body) = t.finish(&code, &state).await;
    assert_problem(status, &body, StatusCode::FORBIDDEN, "forbidden");
}

async fn unverified_email_cannot_create_or_link_an_account(backend: Backend) {
    let Some(t) = spawn(backend).await else { return };
    t.app.register("hanako@example.jp", "correct horse battery", "鈴木 花子").await;
    for email in ["hanako@example.jp", "new.person@example.jp"] {
        t.idp.set_user(User { email_verified: false, ..User::new(&format!("sub-{email}"), email) });
        let (code, state) = t.authorize().await;
        let (status, body) = t.finish(&code, &state).await;
        assert_problem(status, &body, StatusCode::FORBIDDEN, "oidc_email_unverified");
    }
    t.idp.set_user(User { email: None, ..User::new("no-email", "") });
    let (code, state) = t.authorize().await;
    let (status, body) = t.finish(&code, &state).await;
    assert_problem(status, &body, StatusCode::FORBIDDEN, "oidc_email_unverified");
}

async fn authorize_redirects_to_the_provider_with_pkce_state_and_nonce(backend: Backend) {
    let Some(t) = spawn(backend).await else { return };
    let mut seen = Vec::new();
    for _ in 0..2 {
        let res = t
            .browser
            .get(t.app.url(&format!("/v1/auth/oidc/{P}/authorize")))
            .query(&[("redirect_uri", APP_REDIRECT)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::FOUND);
        assert_eq!(res.headers()["cache-control"], "no-store");
        let location = res.headers()["location"].to_str().unwrap().to_owned();
        assert!(location.starts_with(&format!("{}/authorize?", t.idp.issuer())), "{location}");
        let q = query_of(&location);
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["client_id"], CLIENT_ID);
        assert_eq!(q["redirect_uri"], APP_REDIRECT);
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["code_challenge"].len(), 43);
        assert_eq!(q["scope"], "openid email profile");
        // 256-bit random values, base64url.
        assert_eq!(q["state"].len(), 43);
        assert_eq!(q["nonce"].len(), 43);
        seen.push((q["state"].clone(), q["nonce"].clone(), q["code_challenge"].clone()));
    }
    assert_ne!(seen[0].0, seen[1].0);
    assert_ne!(seen[0].1, seen[1].1);
    assert_ne!(seen[0].2, seen[1].2);
    // Nothing a pending sign-in needs is stored in clear: not the state, not
    // the nonce (the PKCE verifier is never even sent, so it is derived too).
    let rows = crate::erasure::dump_database(backend, &t.app.database_url).await;
    for (state, nonce, _) in &seen {
        for (table, row) in &rows {
            assert!(!row.contains(state.as_str()) && !row.contains(nonce.as_str()), "{table}: {row}");
        }
    }
    let pending: Vec<_> = rows.iter().filter(|(table, _)| table == "oidc_requests").collect();
    assert_eq!(pending.len(), 2, "{pending:?}");
}

async fn tampered_state_is_rejected(backend: Backend) {
    let Some(t) = spawn(backend).await else { return };
    let (code, state) = t.authorize().await;
    let mut tampered = state.clone();
    let last = if tampered.ends_with('A') { 'B' } else { 'A' };
    tampered.pop();
    tampered.push(last);
    let (status, body) = t.finish(&code, &tampered).await;
    assert_problem(status, &body, StatusCode::BAD_REQUEST, "oidc_state_invalid");
    // Rejected before the code reached the provider.
    assert_eq!(t.idp.token_requests(), 0);
    // An empty state is a malformed request, not a lookup.
    let (status, body) =
        t.app.post_json("/v1/auth/oidc/tonet/token", None, &json!({"code": code, "state": ""})).await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
}

async fn reused_state_is_rejected(backend: Backend) {
    let Some(t) = spawn(backend).await else { return };
    let (code, state) = t.authorize().await;
    let (status, body) = t.finish(&code, &state).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = t.finish(&code, &state).await;
    assert_problem(status, &body, StatusCode::BAD_REQUEST, "oidc_state_invalid");
    // A failed attempt spends the state too.
    t.idp.spoil(Spoil::WrongNonce);
    let (code, state) = t.authorize().await;
    let (status, _) = t.finish(&code, &state).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    t.idp.spoil(Spoil::None);
    let (status, body) = t.finish(&code, &state).await;
    assert_problem(status, &body, StatusCode::BAD_REQUEST, "oidc_state_invalid");
    assert_eq!(t.idp.token_requests(), 2);
}

async fn wrong_nonce_is_rejected(backend: Backend) {
    let Some(t) = spawn(backend).await else { return };
    t.idp.spoil(Spoil::WrongNonce);
    t.assert_id_token_refused("nonce").await;
}

async fn expired_id_token_is_rejected(backend: Backend) {
    let Some(t) = spawn(backend).await else { return };
    t.idp.spoil(Spoil::Expired);
    t.assert_id_token_refused("exp").await;
}

async fn wrong_audience_is_rejected(backend: Backend) {
    let Some(t) = spawn(backend).await else { return };
    t.idp.spoil(Spoil::WrongAudience);
    t.assert_id_token_refused("aud").await;
}

async fn wrong_issuer_is_rejected(backend: Backend) {
    let Some(t) = spawn(backend).await else { return };
    t.idp.spoil(Spoil::WrongIssuer);
    t.assert_id_token_refused("iss").await;
}

async fn bad_signature_is_rejected(backend: Backend) {
    let Some(t) = spawn(backend).await else { return };
    t.idp.spoil(Spoil::BadSignature);
    t.assert_id_token_refused("signature").await;
    // Nothing was created by the refused attempts.
    t.idp.spoil(Spoil::None);
    let me = t.me(&t.sign_in().await).await;
    assert_eq!(me["email"], "jiro.sato@example.jp");
}

async fn code_refused_by_the_provider_is_rejected(backend: Backend) {
    let Some(t) = spawn(backend).await else { return };
    let (_, state) = t.authorize().await;
    let (status, body) = t.finish("code-that-was-never-issued", &state).await;
    assert_problem(status, &body, StatusCode::UNAUTHORIZED, "oidc_exchange_failed");
    assert!(body["detail"].as_str().unwrap().contains("invalid_grant"), "{body}");
    // The provider's own error redirect ends the flow the same way.
    let (status, body) =
        t.app.get(&format!("/v1/auth/oidc/{P}/callback?error=access_denied&state=x"), None).await;
    assert_problem(status, &body, StatusCode::UNAUTHORIZED, "oidc_exchange_failed");
}

async fn unregistered_redirect_uri_is_refused(backend: Backend) {
    let Some(t) = spawn(backend).await else { return };
    for uri in [
        "https://evil.example/steal",
        "phrapp://oidc/callback/extra",
        "phrapp://oidc/callback?next=https://evil.example",
        "PHRAPP://oidc/callback",
    ] {
        let (status, body) = t
            .app
            .get(
                &format!(
                    "/v1/auth/oidc/{P}/authorize?{}",
                    serde_urlencoded::to_string([("redirect_uri", uri)]).unwrap()
                ),
                None,
            )
            .await;
        assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(body["errors"][0]["path"], "redirect_uri", "{uri}: {body}");
    }
    let (status, body) = t.app.get(&format!("/v1/auth/oidc/{P}/authorize"), None).await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(t.idp.authorize_requests().is_empty());
}

async fn unknown_provider_is_not_found(backend: Backend) {
    let Some(t) = spawn(backend).await else { return };
    let (status, body) = t
        .app
        .get(
            &format!("/v1/auth/oidc/nobody/authorize?redirect_uri={}", "phrapp%3A%2F%2Foidc%2Fcallback"),
            None,
        )
        .await;
    assert_problem(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, body) =
        t.app.post_json("/v1/auth/oidc/nobody/token", None, &json!({"code": "c", "state": "s"})).await;
    assert_problem(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, body) = t.app.get("/v1/auth/oidc/nobody/callback?code=c&state=s", None).await;
    assert_problem(status, &body, StatusCode::NOT_FOUND, "not_found");
}
