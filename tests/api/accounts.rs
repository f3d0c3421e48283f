use phr_tests::{StatusCode, TestApp, assert_problem, both_databases};
use serde_json::json;

both_databases!(
    register_creates_account_and_own_person,
    duplicate_email_is_409_whatever_the_case,
    weak_password_is_422_naming_password,
    invalid_fields_are_422_naming_each,
    malformed_json_is_400_and_stores_nothing,
    wrong_content_type_is_415,
    unknown_field_is_422_naming_it,
    oversized_body_is_413,
);

async fn register_creates_account_and_own_person(app: TestApp) {
    let (account, person) = app.register("Hanako@Example.JP", "correct horse battery", "鈴木 花子").await;
    assert_ne!(account, person);
    let t = app.sign_in("hanako@example.jp", "correct horse battery").await;
    let (status, me) = app.get("/v1/me", t["access_token"].as_str()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        me,
        json!({"accountId": account, "email": "hanako@example.jp", "displayName": "鈴木 花子",
               "personId": person, "roles": []})
    );
}

async fn duplicate_email_is_409_whatever_the_case(app: TestApp) {
    app.register("taro@example.jp", "correct horse battery", "Taro").await;
    let (status, body) = app
        .post_json(
            "/v1/accounts",
            None,
            &json!({"email": " TARO@example.jp", "password": "another good one", "displayName": "T"}),
        )
        .await;
    assert_problem(status, &body, StatusCode::CONFLICT, "email_taken");
}

async fn weak_password_is_422_naming_password(app: TestApp) {
    let (status, body) = app
        .post_json(
            "/v1/accounts",
            None,
            &json!({"email": "a@example.jp", "password": "short", "displayName": "A"}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(body["errors"], json!([{"path": "password", "message": "must be at least 10 characters"}]));
    // Nothing was stored: the same email registers fine afterwards.
    app.register("a@example.jp", "correct horse battery", "A").await;
}

async fn invalid_fields_are_422_naming_each(app: TestApp) {
    let (status, body) = app
        .post_json(
            "/v1/accounts",
            None,
            &json!({"email": "not-an-email", "password": "correct horse battery", "displayName": ""}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let paths: Vec<&str> =
        body["errors"].as_array().unwrap().iter().map(|e| e["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["displayName", "email"]);
    let (status, body) = app
        .post_json(
            "/v1/accounts",
            None,
            &json!({"email": "x@example.jp", "password": 1234567890, "displayName": "X"}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(body["errors"][0]["path"], "password");
    let (status, body) =
        app.post_json("/v1/accounts", None, &json!({"email": "x@example.jp", "displayName": "X"})).await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(body["errors"][0]["path"], "password");
}

async fn malformed_json_is_400_and_stores_nothing(app: TestApp) {
    let res = app
        .client
        .post(app.url("/v1/accounts"))
        .header("content-type", "application/json")
        .body(r#"{"email": "m@example.jp", "password": "correct horse battery", "displayName": "#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let status = res.status();
    let body: serde_json::Value = res.json().await.unwrap();
    assert_problem(status, &body, StatusCode::BAD_REQUEST, "bad_request");
    app.register("m@example.jp", "correct horse battery", "M").await;
}

async fn wrong_content_type_is_415(app: TestApp) {
    let res = app
        .client
        .post(app.url("/v1/accounts"))
        .header("content-type", "text/plain")
        .body(r#"{"email": "m@example.jp", "password": "correct horse battery", "displayName": "M"}"#)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body: serde_json::Value = res.json().await.unwrap();
    assert_problem(status, &body, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
}

async fn unknown_field_is_422_naming_it(app: TestApp) {
    let (status, body) = app
        .post_json(
            "/v1/accounts",
            None,
            &json!({"email": "u@example.jp", "password": "correct horse battery", "displayName": "U", "isAdmin": true}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(body["errors"][0]["path"], "isAdmin");
}

async fn oversized_body_is_413(app: TestApp) {
    let big = "x".repeat(9 * 1024 * 1024);
    let (status, body) = app
        .post_json(
            "/v1/accounts",
            None,
            &json!({"email": "b@example.jp", "password": big, "displayName": "B"}),
        )
        .await;
    assert_problem(status, &body, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
}
