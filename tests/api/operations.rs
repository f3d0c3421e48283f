use phr_tests::{Backend, StatusCode, TestApp, assert_problem, both_databases};
use serde_json::json;

both_databases!(health_and_readiness_answer, unknown_routes_are_problems, docs_and_spec_are_served);

async fn health_and_readiness_answer(app: TestApp) {
    assert_eq!(app.get("/healthz", None).await, (StatusCode::OK, json!({"status": "ok"})));
    assert_eq!(app.get("/readyz", None).await, (StatusCode::OK, json!({"status": "ready"})));
}

async fn unknown_routes_are_problems(app: TestApp) {
    let (status, body) = app.get("/v1/nothing-here", None).await;
    assert_problem(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, body) = app.get("/problems/validation_failed", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], 422);
    let (status, body) = app.get("/problems/no_such_code", None).await;
    assert_problem(status, &body, StatusCode::NOT_FOUND, "not_found");
    // A string segment is decoded lossily, never refused: no 400, none documented.
    let (status, body) = app.get("/problems/%FF%00", None).await;
    assert_problem(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (_, spec) = app.get("/openapi.json", None).await;
    assert_eq!(spec["paths"]["/problems/{code}"]["get"]["responses"].get("400"), None);
}

async fn docs_and_spec_are_served(app: TestApp) {
    let (status, spec) = app.get("/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(spec, serde_json::from_str::<serde_json::Value>(&phr::openapi::spec_json().unwrap()).unwrap());
    let res = app.client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("swagger"), "Swagger UI is served from the binary");
}

/// The database going away turns readiness to 503 (PostgreSQL: drop it under the app).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_is_503_when_the_database_is_gone() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else {
        eprintln!("skipped: PHR_TEST_POSTGRES_URL is not set");
        return;
    };
    let name = app.database_url.rsplit('/').next().unwrap().to_owned();
    let admin = phr_tests::postgres_admin_url().unwrap();
    let conn = sea_orm::Database::connect(&admin).await.unwrap();
    sea_orm::ConnectionTrait::execute_unprepared(&conn, &format!("DROP DATABASE {name} WITH (FORCE)"))
        .await
        .unwrap();
    let res = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_problem(
        StatusCode::SERVICE_UNAVAILABLE,
        &body,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    );
    assert!(!body.to_string().contains(&name), "internal causes are not sent");
    // Data endpoints fail with a 503 problem as well, not a 500 or a hang.
    let (status, body) = app
        .post_json(
            "/v1/accounts",
            None,
            &json!({"email": "z@example.jp", "password": "correct horse battery", "displayName": "Z"}),
        )
        .await;
    assert_problem(status, &body, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable");
}

#[test]
fn checked_in_openapi_json_is_up_to_date() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/openapi.json");
    let on_disk = std::fs::read_to_string(path).unwrap_or_default();
    let generated = phr::openapi::spec_json().unwrap();
    assert!(
        on_disk == generated,
        "openapi/openapi.json is stale: run `cargo run -p phr-server -- openapi --out openapi/openapi.json`"
    );
}

#[test]
fn every_operation_has_summary_tag_security_and_errors() {
    let spec: serde_json::Value = serde_json::from_str(&phr::openapi::spec_json().unwrap()).unwrap();
    let paths = spec["paths"].as_object().unwrap();
    assert!(paths.contains_key("/v1/accounts") && paths.contains_key("/v1/devices/{deviceId}"));
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            let at = format!("{method} {path}");
            assert!(op["summary"].as_str().is_some_and(|s| !s.is_empty()), "{at}: summary");
            assert!(op["tags"].as_array().is_some_and(|t| !t.is_empty()), "{at}: tags");
            assert!(op["security"].is_array(), "{at}: security requirement");
            let responses = op["responses"].as_object().unwrap();
            let protected = op["security"].as_array().unwrap().iter().any(|s| s.get("bearer").is_some());
            if protected {
                assert!(responses.contains_key("401"), "{at}: documents 401");
            }
            let public_probe = matches!(path.as_str(), "/healthz" | "/.well-known/jwks.json");
            assert!(
                public_probe || responses.keys().any(|k| k.starts_with('4') || k.starts_with('5')),
                "{at}: error responses"
            );
        }
    }
}
