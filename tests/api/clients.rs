use base64::Engine;
use phr_tests::{StatusCode, TestApp, assert_problem, both_databases};
use serde_json::json;

use crate::consent::{admin, org_with_member};

both_databases!(an_org_api_client_gets_tokens_by_client_credentials_until_revoked);

async fn an_org_api_client_gets_tokens_by_client_credentials_until_revoked(app: TestApp) {
    let admin = admin(&app).await;
    let (org, org_admin, _) =
        org_with_member(&app, &admin, "hospital", "利根中央病院", "it@hospital.example.jp", "admin").await;
    let (_, nurse, _) =
        org_with_member(&app, &admin, "clinic", "診療所", "nurse@clinic.example.jp", "nurse").await;
    let (status, c) = app
        .post_json(&format!("/v1/orgs/{org}/clients"), Some(&org_admin), &json!({"name": "SS-MIX2 uploader"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    let (id, secret) =
        (c["clientId"].as_str().unwrap().to_owned(), c["clientSecret"].as_str().unwrap().to_owned());
    assert!(secret.len() >= 43);
    let (_, list) = app.get(&format!("/v1/orgs/{org}/clients"), Some(&org_admin)).await;
    assert_eq!(list["items"][0]["clientId"], id.as_str());
    assert!(list["items"][0].get("clientSecret").is_none(), "the secret is shown once");
    let (status, _) =
        app.post_json(&format!("/v1/orgs/{org}/clients"), Some(&nurse), &json!({"name": "x"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a member of another org is no admin here");

    let (status, t) = app
        .post_form(
            "/v1/auth/token",
            &[("grant_type", "client_credentials"), ("client_id", &id), ("client_secret", &secret)],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!((t["token_type"].as_str(), t["expires_in"].as_i64()), (Some("Bearer"), Some(900)));
    assert!(t.get("refresh_token").is_none(), "no refresh token for client credentials");
    // HTTP Basic works too (RFC 6749 §2.3.1).
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
    let res = app
        .client
        .post(app.url("/v1/auth/token"))
        .header("authorization", format!("Basic {basic}"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // The client's token opens no person's account endpoint.
    let (status, body) = app.get("/v1/me", t["access_token"].as_str()).await;
    assert_problem(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");

    let res = app
        .client
        .post(app.url("/v1/auth/token"))
        .form(&[("grant_type", "client_credentials"), ("client_id", id.as_str()), ("client_secret", "wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()["www-authenticate"], r#"Basic realm="phr""#);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");

    assert_eq!(
        app.delete(&format!("/v1/orgs/{org}/clients/{id}"), Some(&org_admin)).await.0,
        StatusCode::NO_CONTENT
    );
    let (status, body) = app
        .post_form(
            "/v1/auth/token",
            &[("grant_type", "client_credentials"), ("client_id", &id), ("client_secret", &secret)],
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client")),
        "revoked"
    );
}
