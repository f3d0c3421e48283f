//! Findings of the contract fuzzer (scripts/contract-fuzz.sh) kept fixed:
//! a documented path called with another method is a 405 naming the allowed
//! ones, and every JSON-body operation answers the extractor errors its spec
//! entry documents.

use phr_tests::{StatusCode, TestApp, assert_problem, both_databases};
use serde_json::Value;

both_databases!(
    a_nul_character_in_a_field_is_a_422_naming_it,
    a_documented_path_with_another_method_is_405_with_allow,
    every_json_body_operation_documents_and_answers_extractor_errors
);

async fn send(
    app: &TestApp,
    method: &str,
    path: &str,
    token: Option<&str>,
) -> (StatusCode, Option<String>, Value) {
    let mut req = app.client.request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), app.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let allow = res.headers().get("allow").map(|v| v.to_str().unwrap().to_owned());
    let status = res.status();
    (status, allow, res.json().await.unwrap_or(Value::Null))
}

async fn a_documented_path_with_another_method_is_405_with_allow(app: TestApp) {
    let (token, _, person) = app.user("methods@example.jp").await;
    let token = Some(token.as_str());
    for (method, path, allow) in [
        ("TRACE", "/healthz".to_owned(), "GET"),
        ("PUT", "/v1/devices".to_owned(), "GET, POST"),
        // Reached the `{observationId}` route and answered 400 "not a UUID" before.
        ("GET", format!("/v1/persons/{person}/observations/batch"), "POST"),
        ("PATCH", format!("/v1/persons/{person}/grants"), "GET, POST"),
    ] {
        let (status, got_allow, body) = send(&app, method, &path, token).await;
        assert_problem(status, &body, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
        assert_eq!(got_allow.as_deref(), Some(allow), "{method} {path}");
    }
    // An allowed method with a bad id is still the id's fault, and unknown paths stay 404.
    let (status, _, body) = send(&app, "GET", "/v1/persons/not-a-uuid/grants", token).await;
    assert_problem(status, &body, StatusCode::BAD_REQUEST, "bad_request");
    let (status, allow, body) = send(&app, "DELETE", "/v1/nothing-here", token).await;
    assert_problem(status, &body, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(allow, None);
}

async fn every_json_body_operation_documents_and_answers_extractor_errors(app: TestApp) {
    let (token, _, _) = app.user("bodies@example.jp").await;
    let spec: Value = serde_json::from_str(&phr::openapi::spec_json().unwrap()).unwrap();
    let mut checked = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if op["requestBody"]["content"].get("application/json").is_none() {
                continue;
            }
            let at = format!("{} {path}", method.to_uppercase());
            for status in ["400", "413", "415", "422"] {
                assert!(op["responses"].get(status).is_some(), "{at} does not document {status}");
            }
            // Any well-formed id: the body extractor answers before a handler looks it up.
            let url = path
                .split('/')
                .map(|s| if s.starts_with('{') { "01a2511d-6b14-7779-be11-3c9b531ce3d1" } else { s })
                .collect::<Vec<_>>()
                .join("/");
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let res = app
                .client
                .request(m.clone(), app.url(&url))
                .bearer_auth(&token)
                .header("content-type", "text/plain")
                .body("{}")
                .send()
                .await
                .unwrap();
            let status = res.status();
            assert_problem(
                status,
                &res.json().await.unwrap(),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
            );
            let res = app
                .client
                .request(m, app.url(&url))
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .body("{\"unterminated")
                .send()
                .await
                .unwrap();
            let status = res.status();
            assert_problem(status, &res.json().await.unwrap(), StatusCode::BAD_REQUEST, "bad_request");
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} JSON-body operations found");
}

/// PostgreSQL text cannot hold NUL: it was a 500 there before.
async fn a_nul_character_in_a_field_is_a_422_naming_it(app: TestApp) {
    let (token, _, _) = app.user("nul@example.jp").await;
    let body = serde_json::json!({"platform": "android", "name": "Pixel\u{0}9"});
    let (status, body) = app.post_json("/v1/devices", Some(&token), &body).await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(body["errors"][0]["path"], "name");
}
