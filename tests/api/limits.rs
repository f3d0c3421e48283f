//! Abuse limits: password lock-out that lifts within a minute, per-IP token
//! limits, per-account limits on code redemption; 429 with `Retry-After`.

use std::time::Duration;

use phr_tests::{Backend, StatusCode, TestApp, assert_problem};
use serde_json::json;

phr_tests::both_backends!(
    wrong_passwords_lock_the_account_briefly_and_the_right_one_works_again,
    token_requests_are_limited_per_ip,
    code_guessing_is_limited_per_account,
);

async fn token(app: &TestApp, user: &str, password: &str) -> reqwest::Response {
    app.client
        .post(app.url("/v1/auth/token"))
        .form(&[("grant_type", "password"), ("username", user), ("password", password)])
        .send()
        .await
        .unwrap()
}

async fn wrong_passwords_lock_the_account_briefly_and_the_right_one_works_again(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    app.register("hanako@example.jp", "correct horse battery", "花子").await;
    for _ in 0..5 {
        let res = token(&app, "hanako@example.jp", "wrong password!!").await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "invalid_grant");
    }
    // Locked for a second: even the right password waits.
    let res = token(&app, "Hanako@Example.jp", "correct horse battery").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.headers()["retry-after"], "1");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_problem(StatusCode::TOO_MANY_REQUESTS, &body, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    // Another account is not affected.
    app.register("taro@example.jp", "correct horse battery", "太郎").await;
    assert_eq!(token(&app, "taro@example.jp", "correct horse battery").await.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(token(&app, "hanako@example.jp", "correct horse battery").await.status(), StatusCode::OK);
    // Success starts the count again: one more wrong password does not lock.
    assert_eq!(token(&app, "hanako@example.jp", "wrong password!!").await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(token(&app, "hanako@example.jp", "correct horse battery").await.status(), StatusCode::OK);
}

async fn token_requests_are_limited_per_ip(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |s| s.rate_token_per_ip = 4).await else { return };
    for i in 0..4 {
        let res = token(&app, &format!("nobody{i}@example.jp"), "whatever password").await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    }
    let res = token(&app, "nobody@example.jp", "whatever password").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
}

async fn code_guessing_is_limited_per_account(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |s| s.rate_redeem_per_account = 3).await else { return };
    let (guesser, _, _) = app.user("guesser@example.jp").await;
    for _ in 0..3 {
        let (status, _) =
            app.post_json("/v1/invitations/accept", Some(&guesser), &json!({"code": "ABCDE-FGHJK"})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let (status, body) =
        app.post_json("/v1/share-codes/redeem", Some(&guesser), &json!({"code": "ABCDE-FGHJK"})).await;
    assert_problem(status, &body, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    let (other, _, _) = app.user("other@example.jp").await;
    let (status, _) =
        app.post_json("/v1/invitations/accept", Some(&other), &json!({"code": "ABCDE-FGHJK"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "per account");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsers_get_security_headers_and_only_allowed_origins_get_cors() {
    let app =
        TestApp::spawn_with(Backend::Sqlite, |s| s.cors_origins = vec!["https://console.example.jp".into()])
            .await
            .unwrap();
    let res = app.client.get(app.url("/v1/programs")).send().await.unwrap();
    let h = res.headers();
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "DENY");
    assert!(h["content-security-policy"].to_str().unwrap().contains("default-src 'none'"));
    let preflight = |origin: &'static str| {
        let app = &app;
        async move {
            app.client
                .request(reqwest::Method::OPTIONS, app.url("/v1/me"))
                .header("Origin", origin)
                .header("Access-Control-Request-Method", "GET")
                .header("Access-Control-Request-Headers", "authorization")
                .send()
                .await
                .unwrap()
        }
    };
    let ok = preflight("https://console.example.jp").await;
    assert!(ok.status().is_success(), "{}", ok.status());
    assert_eq!(ok.headers()["access-control-allow-origin"], "https://console.example.jp");
    let other = preflight("https://evil.example.com").await;
    assert!(other.headers().get("access-control-allow-origin").is_none());
    // Swagger UI still renders (no API CSP on it).
    let docs = app.client.get(app.url("/docs/")).send().await.unwrap();
    assert!(docs.headers().get("content-security-policy").is_none());
}
