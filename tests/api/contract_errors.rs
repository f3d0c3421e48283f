//! Findings of the contract fuzzer (scripts/contract-fuzz.sh) kept fixed:
//! a documented path called with another method is a 405 naming the allowed
//! ones, every JSON-body operation answers the extractor errors its spec
//! entry documents, content types and enums in the spec are the server's.

use phr_tests::{StatusCode, TestApp, assert_problem, both_databases};
use serde_json::Value;

both_databases!(
    a_nul_character_in_a_field_is_a_422_naming_it,
    a_documented_path_with_another_method_is_405_with_allow,
    every_json_body_operation_documents_and_answers_extractor_errors,
    the_jahis_export_answers_only_documented_content_types,
    every_value_a_spec_enum_lists_is_accepted,
    an_integral_float_is_accepted_for_an_integer_field,
    the_record_export_answers_only_documented_content_types,
    an_empty_observation_bound_is_no_bound_and_a_blank_one_is_refused,
    the_time_zones_the_spec_lists_are_the_ones_accepted,
    a_grantee_names_exactly_one_of_account_or_organization,
    a_blank_status_filter_is_refused_not_ignored
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

fn operation(spec: &Value, method: &str, path: &str) -> Value {
    spec["paths"][path][method].clone()
}

fn query_param(op: &Value, name: &str) -> Value {
    op["parameters"].as_array().unwrap().iter().find(|p| p["name"] == name).unwrap()["schema"].clone()
}

/// With `part_size` the export is JSON (base64 parts); the spec documented
/// only the Shift_JIS text, so every split export broke the contract.
async fn the_jahis_export_answers_only_documented_content_types(app: TestApp) {
    let (token, _, person) = app.user("jahis-types@example.jp").await;
    let spec: Value = serde_json::from_str(&phr::openapi::spec_json().unwrap()).unwrap();
    let op = operation(&spec, "get", "/v1/persons/{personId}/medications/jahis");
    let documented = op["responses"]["200"]["content"].as_object().unwrap();
    for query in ["", "?part_size=200", "?part_size=100000"] {
        let res = app
            .client
            .get(app.url(&format!("/v1/persons/{person}/medications/jahis{query}")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{query}");
        let content_type = res.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(documented.contains_key(&content_type), "{query}: {content_type} not in {documented:?}");
        if content_type == "application/json" {
            assert!(res.json::<Value>().await.unwrap()["parts"].is_array());
        }
    }
    let size = query_param(&op, "part_size");
    assert_eq!((size["minimum"].as_u64(), size["maximum"].as_u64()), (Some(200), Some(100_000)));
    for bad in [199, 100_001] {
        let (status, body) =
            app.get(&format!("/v1/persons/{person}/medications/jahis?part_size={bad}"), Some(&token)).await;
        assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(body["errors"][0]["path"], "part_size");
    }
}

/// The enums the spec now declares for strings the handlers check by hand:
/// every listed value is accepted, and a value outside the list is not.
async fn every_value_a_spec_enum_lists_is_accepted(app: TestApp) {
    let (bearer, _, person) = app.user("enums@example.jp").await;
    let token = Some(bearer.as_str());
    let spec: Value = serde_json::from_str(&phr::openapi::spec_json().unwrap()).unwrap();
    let values = |schema: &Value| -> Vec<String> {
        let list = schema["enum"].as_array().or_else(|| schema["items"]["enum"].as_array()).unwrap();
        list.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()
    };
    let get =
        |method: &str, path: &str, param: &str| values(&query_param(&operation(&spec, method, path), param));
    let mut checked = 0;
    let observations = "/v1/persons/{personId}/observations";
    for (path, param) in [
        (observations.to_owned(), "kind"),
        (observations.to_owned(), "category"),
        (format!("{observations}/summary"), "kind"),
        (format!("{observations}/summary"), "bucket"),
        ("/v1/persons/{personId}/clinical-documents".to_owned(), "status"),
    ] {
        let listed = get("get", &path, param);
        assert!(!listed.is_empty(), "{path} {param}");
        let mut url = path.replace("{personId}", &person);
        if url.ends_with("/summary") && param != "kind" {
            url.push_str("?kind=blood_pressure&");
        } else {
            url.push('?');
        }
        for v in listed.iter().map(String::as_str).chain(["no_such_value"]) {
            let (status, body) = app.get(&format!("{url}{param}={v}"), token).await;
            if v == "no_such_value" {
                assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
            } else {
                assert_eq!(status, StatusCode::OK, "{url}{param}={v}: {body}");
            }
            checked += 1;
        }
    }
    let (status, _) = app.get("/v1/alerts?status=open", token).await;
    assert_eq!(status, StatusCode::OK);
    let sexes = values(&spec["components"]["schemas"]["DependentRequest"]["properties"]["sex"]);
    assert_eq!(sexes, ["male", "female", "other", "unknown"]);
    for sex in sexes.iter().map(String::as_str).chain(["none"]) {
        let body = serde_json::json!({"displayName": "子", "birthDate": "2020-01-01", "sex": sex});
        let (status, body) = app.post_json("/v1/persons", token, &body).await;
        if sex == "none" {
            assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
            assert_eq!(body["errors"][0]["path"], "sex");
        } else {
            assert_eq!(status, StatusCode::CREATED, "{sex}: {body}");
        }
    }
    let parts = values(&spec["components"]["schemas"]["EmergencySettings"]["properties"]["categories"]);
    let body = serde_json::json!({"enabled": true, "categories": parts, "contacts": []});
    let res = app
        .client
        .put(app.url(&format!("/v1/persons/{person}/emergency-settings")))
        .bearer_auth(&bearer)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{parts:?}");
    assert!(checked > 20, "only {checked} enum values checked");
}

/// JSON Schema calls `2.0` an integer; serde's `i32` refused it with a 422
/// (`consecutive`, `ttlMinutes`, QR `symbolIndex` …). A fraction still is one.
async fn an_integral_float_is_accepted_for_an_integer_field(app: TestApp) {
    let (token, _, person) = app.user("integral@example.jp").await;
    let token = Some(token.as_str());
    let rules = format!("/v1/persons/{person}/alert-rules");
    let rule = serde_json::json!({"kind": "body_weight", "op": ">=", "threshold": 60, "consecutive": 2.0});
    let (status, body) = app.post_json(&rules, token, &rule).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["consecutive"], 2, "{body}");
    let rule = serde_json::json!({"kind": "body_weight", "op": ">=", "threshold": 60, "consecutive": 2.5});
    let (status, body) = app.post_json(&rules, token, &rule).await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(body["errors"][0]["path"], "consecutive", "{body}");
    let code = serde_json::json!({"categories": ["medications"], "access": "read", "ttlMinutes": 30.0});
    let (status, body) = app.post_json(&format!("/v1/persons/{person}/share-codes"), token, &code).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// `ndjson` and `csv` answered content types the spec did not list.
async fn the_record_export_answers_only_documented_content_types(app: TestApp) {
    let (token, _, person) = app.user("export-types@example.jp").await;
    let spec: Value = serde_json::from_str(&phr::openapi::spec_json().unwrap()).unwrap();
    let op = operation(&spec, "get", "/v1/persons/{personId}/export");
    let documented = op["responses"]["200"]["content"].as_object().unwrap();
    for format in ["fhir", "ndjson", "csv"] {
        let res = app
            .client
            .get(app.url(&format!("/v1/persons/{person}/export?format={format}")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{format}");
        let content_type = res.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(documented.contains_key(&content_type), "{format}: {content_type} not in {documented:?}");
    }
}

/// `from=` (empty) was accepted as "no bound" though the spec allowed only
/// instants and dates: now documented; a blank value is refused.
async fn an_empty_observation_bound_is_no_bound_and_a_blank_one_is_refused(app: TestApp) {
    let (token, _, person) = app.user("bounds@example.jp").await;
    let token = Some(token.as_str());
    let spec: Value = serde_json::from_str(&phr::openapi::spec_json().unwrap()).unwrap();
    let op = operation(&spec, "get", "/v1/persons/{personId}/observations");
    let from = query_param(&op, "from");
    assert!(from["anyOf"].as_array().unwrap().iter().any(|s| s["maxLength"] == 0), "{from}");
    for query in ["from=", "to=", "from=&to="] {
        let (status, body) = app.get(&format!("/v1/persons/{person}/observations?{query}"), token).await;
        assert_eq!(status, StatusCode::OK, "{query}: {body}");
    }
    for (query, field) in [("from=%20", "from"), ("to=%20%20", "to"), ("from=yesterday", "from")] {
        let (status, body) = app.get(&format!("/v1/persons/{person}/observations?{query}"), token).await;
        assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(body["errors"][0]["path"], field, "{query}: {body}");
    }
}

/// `timeZone` and the summary's `tz` list the IANA names the server parses.
async fn the_time_zones_the_spec_lists_are_the_ones_accepted(app: TestApp) {
    let (bearer, _, person) = app.user("zones@example.jp").await;
    let token = Some(bearer.as_str());
    let spec: Value = serde_json::from_str(&phr::openapi::spec_json().unwrap()).unwrap();
    let zones = spec["components"]["schemas"]["PersonUpdate"]["properties"]["timeZone"]["enum"]
        .as_array()
        .unwrap()
        .clone();
    assert!(zones.len() > 300 && zones.contains(&Value::from("Asia/Tokyo")), "{}", zones.len());
    let op = operation(&spec, "get", "/v1/persons/{personId}/observations/summary");
    assert_eq!(query_param(&op, "tz")["enum"].as_array().unwrap().len() + 1, zones.len());
    // A spread of the list (every 40th), each accepted by PATCH and by the summary.
    for zone in zones.iter().step_by(40).filter_map(Value::as_str) {
        let res = app
            .client
            .patch(app.url(&format!("/v1/persons/{person}")))
            .bearer_auth(&bearer)
            .json(&serde_json::json!({"timeZone": zone}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{zone}");
        let url =
            format!("/v1/persons/{person}/observations/summary?kind=steps&tz={}", zone.replace('+', "%2B"));
        let (status, body) = app.get(&url, token).await;
        assert_eq!(status, StatusCode::OK, "{zone}: {body}");
    }
    let res = app
        .client
        .patch(app.url(&format!("/v1/persons/{person}")))
        .bearer_auth(&bearer)
        .json(&serde_json::json!({"timeZone": "Mars/Olympus_Mons"}))
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(body["errors"][0]["path"], "timeZone", "{body}");
}

/// The grantee rule is in the spec as `oneOf`; `null` for the other id is
/// the same as leaving it out, both ids (or none) is a 422 naming `grantee`.
async fn a_grantee_names_exactly_one_of_account_or_organization(app: TestApp) {
    let (token, _, person) = app.user("grantor@example.jp").await;
    let (_, friend, _) = app.user("grantee@example.jp").await;
    let token = Some(token.as_str());
    let spec: Value = serde_json::from_str(&phr::openapi::spec_json().unwrap()).unwrap();
    let grantee = &spec["components"]["schemas"]["GrantRequest"]["properties"]["grantee"];
    assert_eq!(grantee["oneOf"].as_array().map(Vec::len), Some(2), "{grantee}");
    let grants = format!("/v1/persons/{person}/grants");
    let grant = |grantee: Value| serde_json::json!({"grantee": grantee, "categories": ["vitals"], "access": "read", "purpose": "family"});
    let (status, body) =
        app.post_json(&grants, token, &grant(serde_json::json!({"accountId": friend, "orgId": null}))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    for bad in [
        serde_json::json!({"accountId": friend, "orgId": friend}),
        serde_json::json!({"accountId": null, "orgId": null}),
        serde_json::json!({}),
    ] {
        let (status, body) = app.post_json(&grants, token, &grant(bad.clone())).await;
        assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(body["errors"][0]["path"], "grantee", "{bad}: {body}");
    }
}

/// `status=%C2%A0` was trimmed to nothing and listed everything (200): a
/// value outside the enum must be refused. Empty stays "no filter".
async fn a_blank_status_filter_is_refused_not_ignored(app: TestApp) {
    let (token, _, person) = app.user("blank-status@example.jp").await;
    let token = Some(token.as_str());
    for url in [
        format!("/v1/persons/{person}/clinical-documents?status=%C2%A0"),
        format!("/v1/persons/{person}/clinical-documents?status=%20held"),
        "/v1/alerts?status=%C2%A0".to_owned(),
        "/v1/alerts?status=open%20".to_owned(),
    ] {
        let (status, body) = app.get(&url, token).await;
        assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(body["errors"][0]["path"], "status", "{url}: {body}");
    }
    for url in [
        format!("/v1/persons/{person}/clinical-documents?status=held"),
        format!("/v1/persons/{person}/clinical-documents?status="),
        "/v1/alerts?status=acked".to_owned(),
    ] {
        let (status, body) = app.get(&url, token).await;
        assert_eq!(status, StatusCode::OK, "{url}: {body}");
    }
}
