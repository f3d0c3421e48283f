use phr_tests::{StatusCode, TestApp, assert_problem, both_databases};
use serde_json::json;

both_databases!(
    password_grant_issues_bearer_tokens,
    wrong_password_and_unknown_user_are_the_same_invalid_grant,
    refresh_rotates_the_token,
    reusing_a_spent_refresh_token_revokes_the_session,
    revoked_session_cannot_refresh,
    token_endpoint_speaks_rfc6749_errors,
    protected_endpoints_require_a_valid_bearer_token,
    an_oversized_token_request_is_a_413_problem,
);

async fn an_oversized_token_request_is_a_413_problem(app: TestApp) {
    let big = format!("grant_type=password&username=a%40example.jp&password={}", "x".repeat(9 * 1024 * 1024));
    let res = app
        .client
        .post(app.url("/v1/auth/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let status = res.status();
    let body: serde_json::Value = res.json().await.unwrap();
    assert_problem(status, &body, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
}

const PW: &str = "correct horse battery";

async fn password_grant_issues_bearer_tokens(app: TestApp) {
    app.register("p@example.jp", PW, "P").await;
    let t = app.sign_in("P@example.jp", PW).await;
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["expires_in"], 900);
    assert_eq!(t["access_token"].as_str().unwrap().split('.').count(), 3, "a JWS");
    assert!(t["refresh_token"].as_str().unwrap().len() >= 43);
    let res = app
        .client
        .post(app.url("/v1/auth/token"))
        .form(&[("grant_type", "password"), ("username", "p@example.jp"), ("password", PW)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["cache-control"], "no-store");
}

async fn wrong_password_and_unknown_user_are_the_same_invalid_grant(app: TestApp) {
    app.register("w@example.jp", PW, "W").await;
    let wrong = app
        .post_form(
            "/v1/auth/token",
            &[("grant_type", "password"), ("username", "w@example.jp"), ("password", "incorrect horse")],
        )
        .await;
    let unknown = app
        .post_form(
            "/v1/auth/token",
            &[("grant_type", "password"), ("username", "nobody@example.jp"), ("password", PW)],
        )
        .await;
    assert_eq!(wrong.0, StatusCode::BAD_REQUEST);
    assert_eq!(wrong.1["error"], "invalid_grant");
    assert_eq!(wrong, unknown, "no difference reveals which emails exist");
}

async fn refresh_rotates_the_token(app: TestApp) {
    app.register("r@example.jp", PW, "R").await;
    let first = app.sign_in("r@example.jp", PW).await;
    let rt1 = first["refresh_token"].as_str().unwrap();
    let (status, second) =
        app.post_form("/v1/auth/token", &[("grant_type", "refresh_token"), ("refresh_token", rt1)]).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let rt2 = second["refresh_token"].as_str().unwrap();
    assert_ne!(rt1, rt2);
    let (status, me) = app.get("/v1/me", second["access_token"].as_str()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["email"], "r@example.jp");
    let (status, _) =
        app.post_form("/v1/auth/token", &[("grant_type", "refresh_token"), ("refresh_token", rt2)]).await;
    assert_eq!(status, StatusCode::OK);
}

async fn reusing_a_spent_refresh_token_revokes_the_session(app: TestApp) {
    app.register("theft@example.jp", PW, "T").await;
    let other_session = app.sign_in("theft@example.jp", PW).await;
    let t = app.sign_in("theft@example.jp", PW).await;
    let rt1 = t["refresh_token"].as_str().unwrap();
    let (_, rotated) =
        app.post_form("/v1/auth/token", &[("grant_type", "refresh_token"), ("refresh_token", rt1)]).await;
    let rt2 = rotated["refresh_token"].as_str().unwrap();
    // The attacker replays the spent token: refused, and the whole family dies.
    let (status, body) =
        app.post_form("/v1/auth/token", &[("grant_type", "refresh_token"), ("refresh_token", rt1)]).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    let (status, body) =
        app.post_form("/v1/auth/token", &[("grant_type", "refresh_token"), ("refresh_token", rt2)]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "legitimate holder is signed out too"
    );
    // Another sign-in session of the same account is untouched.
    let other = other_session["refresh_token"].as_str().unwrap();
    let (status, _) =
        app.post_form("/v1/auth/token", &[("grant_type", "refresh_token"), ("refresh_token", other)]).await;
    assert_eq!(status, StatusCode::OK);
}

async fn revoked_session_cannot_refresh(app: TestApp) {
    app.register("rev@example.jp", PW, "R").await;
    let t = app.sign_in("rev@example.jp", PW).await;
    let rt = t["refresh_token"].as_str().unwrap();
    let (status, _) =
        app.post_form("/v1/auth/revoke", &[("token", rt), ("token_type_hint", "refresh_token")]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) =
        app.post_form("/v1/auth/token", &[("grant_type", "refresh_token"), ("refresh_token", rt)]).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    // RFC 7009 §2.2: an unknown token is not an error.
    let (status, _) = app.post_form("/v1/auth/revoke", &[("token", "never-issued")]).await;
    assert_eq!(status, StatusCode::OK);
}

async fn token_endpoint_speaks_rfc6749_errors(app: TestApp) {
    let (status, body) = app.post_form("/v1/auth/token", &[("grant_type", "authorization_code")]).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("unsupported_grant_type")));
    let (status, body) =
        app.post_form("/v1/auth/token", &[("grant_type", "password"), ("username", "x@example.jp")]).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")));
    assert!(body["error_description"].as_str().unwrap().contains("password"));
    let (status, body) =
        app.post_form("/v1/auth/token", &[("grant_type", "password"), ("grant_type", "password")]).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")));
    let (status, body) = app.post_json("/v1/auth/token", None, &json!({"grant_type": "password"})).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")));
}

async fn protected_endpoints_require_a_valid_bearer_token(app: TestApp) {
    let res = app.client.get(app.url("/v1/me")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()["www-authenticate"], r#"Bearer realm="phr""#);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_problem(StatusCode::UNAUTHORIZED, &body, StatusCode::UNAUTHORIZED, "unauthorized");

    let res = app.client.get(app.url("/v1/devices")).bearer_auth("not.a.jwt").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()["www-authenticate"], r#"Bearer realm="phr", error="invalid_token""#);

    // A well-formed token signed by a key this server does not hold.
    let foreign = phr::auth::Keyring::from_spec(&phr::auth::keys::generate_spec(), "phr").unwrap();
    let now = chrono_now();
    let forged = foreign
        .sign(&phr::auth::keys::AccessClaims {
            iss: "phr".into(),
            sub: uuid::Uuid::new_v4().to_string(),
            iat: now,
            exp: now + 600,
            sid: uuid::Uuid::new_v4().to_string(),
            org: None,
        })
        .unwrap();
    let (status, _) = app.get("/v1/me", Some(&forged)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let res = app.client.get(app.url("/v1/me")).header("authorization", "Basic dTpw").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}
