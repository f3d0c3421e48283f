use phr_tests::{StatusCode, TestApp, assert_problem, both_databases};
use serde_json::json;

both_databases!(
    devices_are_registered_listed_and_removed,
    device_listing_pages_without_gaps_or_repeats,
    another_accounts_device_is_not_found,
    a_push_token_moves_to_the_device_that_registers_it_last,
    bad_device_input_is_named,
);

async fn devices_are_registered_listed_and_removed(app: TestApp) {
    let (token, _, _) = app.user("d@example.jp").await;
    let t = Some(token.as_str());
    let (status, created) = app
        .post_json(
            "/v1/devices",
            t,
            &json!({"platform": "ios", "name": "Hanako's iPhone", "pushToken": "fcm-token-1"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["deviceId"].as_str().unwrap().to_owned();
    let (status, list) = app.get("/v1/devices", t).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["nextCursor"], serde_json::Value::Null);
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["deviceId"], id.as_str());
    assert_eq!(items[0]["platform"], "ios");
    assert_eq!(items[0]["name"], "Hanako's iPhone");
    assert_eq!(items[0]["pushEnabled"], true);
    assert!(items[0].get("pushToken").is_none(), "the token is not echoed");
    let (status, _) = app.delete(&format!("/v1/devices/{id}"), t).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, list) = app.get("/v1/devices", t).await;
    assert_eq!(list["items"], json!([]));
    let (status, body) = app.delete(&format!("/v1/devices/{id}"), t).await;
    assert_problem(status, &body, StatusCode::NOT_FOUND, "not_found");
}

async fn device_listing_pages_without_gaps_or_repeats(app: TestApp) {
    let (token, _, _) = app.user("pages@example.jp").await;
    let t = Some(token.as_str());
    let mut created = Vec::new();
    for i in 0..7 {
        let (_, d) = app
            .post_json("/v1/devices", t, &json!({"platform": "android", "name": format!("phone {i}")}))
            .await;
        created.push(d["deviceId"].as_str().unwrap().to_owned());
    }
    let mut seen = Vec::new();
    let mut path = "/v1/devices?limit=3".to_owned();
    loop {
        let (status, page) = app.get(&path, t).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        seen.extend(
            page["items"].as_array().unwrap().iter().map(|d| d["deviceId"].as_str().unwrap().to_owned()),
        );
        match page["nextCursor"].as_str() {
            Some(c) => path = format!("/v1/devices?limit=3&cursor={c}"),
            None => break,
        }
    }
    created.reverse();
    assert_eq!(seen, created, "newest first, each exactly once");
    let (status, body) = app.get("/v1/devices?limit=0", t).await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(body["errors"][0]["path"], "limit");
    let (status, body) = app.get("/v1/devices?cursor=garbage", t).await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(body["errors"][0]["path"], "cursor");
    let (status, body) = app.get("/v1/devices?limit=many", t).await;
    assert_problem(status, &body, StatusCode::BAD_REQUEST, "bad_request");
}

async fn another_accounts_device_is_not_found(app: TestApp) {
    let (owner, _, _) = app.user("owner@example.jp").await;
    let (other, _, _) = app.user("other@example.jp").await;
    let (_, d) =
        app.post_json("/v1/devices", Some(&owner), &json!({"platform": "web", "name": "browser"})).await;
    let id = d["deviceId"].as_str().unwrap();
    let (status, body) = app.delete(&format!("/v1/devices/{id}"), Some(&other)).await;
    assert_problem(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (_, list) = app.get("/v1/devices", Some(&other)).await;
    assert_eq!(list["items"], json!([]));
    let (_, list) = app.get("/v1/devices", Some(&owner)).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "still there");
}

async fn a_push_token_moves_to_the_device_that_registers_it_last(app: TestApp) {
    let (first, _, _) = app.user("first@example.jp").await;
    let (second, _, _) = app.user("second@example.jp").await;
    let body = json!({"platform": "android", "name": "shared tablet", "pushToken": "same-install-token"});
    app.post_json("/v1/devices", Some(&first), &body).await;
    let (status, _) = app.post_json("/v1/devices", Some(&second), &body).await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, list) = app.get("/v1/devices", Some(&first)).await;
    assert_eq!(list["items"][0]["pushEnabled"], false, "the first account no longer reaches this tablet");
    let (_, list) = app.get("/v1/devices", Some(&second)).await;
    assert_eq!(list["items"][0]["pushEnabled"], true);
}

async fn bad_device_input_is_named(app: TestApp) {
    let (token, _, _) = app.user("bad@example.jp").await;
    let t = Some(token.as_str());
    let (status, body) =
        app.post_json("/v1/devices", t, &json!({"platform": "symbian", "name": "old"})).await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(body["errors"][0]["path"], "platform");
    let (status, body) = app.post_json("/v1/devices", t, &json!({"platform": "ios", "name": ""})).await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(body["errors"][0]["path"], "name");
    let (status, body) = app.delete("/v1/devices/not-a-uuid", t).await;
    assert_problem(status, &body, StatusCode::BAD_REQUEST, "bad_request");
    let (status, body) = app.post_json("/v1/devices", None, &json!({"platform": "ios", "name": "x"})).await;
    assert_problem(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
}
