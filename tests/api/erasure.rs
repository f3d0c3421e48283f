//! Erasure on request: after `DELETE /v1/me` no row anywhere holds the
//! person's id, email or values, tokens stop at once, and the access log
//! still verifies.

use phr_tests::{Backend, StatusCode, TestApp, assert_problem, both_databases};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use crate::clinical::{ADT00, LAB, RX, hospital_with_uploader, linked_patient, sample, upload};
use crate::consent::{admin, grant};

both_databases!(closing_an_account_leaves_no_trace_of_the_person);

const MARKER: &str = "ERASE-MARKER-3f9c";

/// Every row of every table as text, one string per row, with ids also in
/// bare hex so that SQLite's blob UUIDs are searched too.
async fn dump(app: &TestApp) -> Vec<(String, String)> {
    dump_database(app.backend, &app.database_url).await
}

/// [`dump`] for a database the test did not spawn an in-process app on.
pub async fn dump_database(backend_kind: Backend, url: &str) -> Vec<(String, String)> {
    let db = phr::db::connect(url, 1).await.unwrap();
    let backend = db.get_database_backend();
    let tables: Vec<String> = match backend_kind {
        Backend::Sqlite => db
            .query_all_raw(Statement::from_string(
                backend,
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            ))
            .await
            .unwrap()
            .iter()
            .map(|r| r.try_get_by_index::<String>(0).unwrap())
            .collect(),
        Backend::Postgres => db
            .query_all_raw(Statement::from_string(
                backend,
                "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
            ))
            .await
            .unwrap()
            .iter()
            .map(|r| r.try_get_by_index::<String>(0).unwrap())
            .collect(),
    };
    assert!(tables.len() > 30, "{tables:?}");
    let mut rows = Vec::new();
    for t in tables {
        let sql = match backend_kind {
            Backend::Sqlite => {
                let cols: Vec<String> = db
                    .query_all_raw(Statement::from_string(
                        backend,
                        format!("SELECT name FROM pragma_table_info('{t}')"),
                    ))
                    .await
                    .unwrap()
                    .iter()
                    .map(|r| r.try_get_by_index::<String>(0).unwrap())
                    .collect();
                let parts: Vec<String> =
                    cols.iter().map(|c| format!("coalesce(quote(\"{c}\"), '')")).collect();
                format!("SELECT {} FROM \"{t}\"", parts.join(" || '|' || "))
            }
            Backend::Postgres => format!("SELECT row_to_json(x)::text FROM \"{t}\" x"),
        };
        for r in db.query_all_raw(Statement::from_string(backend, sql)).await.unwrap() {
            rows.push((t.clone(), r.try_get_by_index::<String>(0).unwrap_or_default()));
        }
    }
    rows
}

fn traces<'a>(rows: &'a [(String, String)], needles: &[String]) -> Vec<&'a (String, String)> {
    rows.iter()
        .filter(|(_, text)| {
            let upper = text.to_uppercase();
            needles.iter().any(|n| upper.contains(&n.to_uppercase()))
        })
        .collect()
}

async fn closing_an_account_leaves_no_trace_of_the_person(app: TestApp) {
    let admin = admin(&app).await;
    let (hospital, clinician, facility) = hospital_with_uploader(&app, &admin, "1311234567").await;
    // The person: the sample patient, linked, with facility data.
    let (patient, person) = linked_patient(&app, &hospital, &clinician, json!({"sex": "male"})).await;
    let (_, me) = app.get("/v1/me", Some(&patient)).await;
    let account = me["accountId"].as_str().unwrap().to_owned();
    let email = "kanja@example.jp".to_owned();
    for path in [LAB, RX, ADT00] {
        let (status, _) = upload(&app, &facility, path, sample(path)).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    // Home readings, a pharmacy record, a diary note, a card, emergency contacts, an alert rule.
    let reading = json!({"id": uuid::Uuid::new_v4(), "kind": "body_weight", "effectiveAt": "2026-11-20T07:00:00+09:00",
                         "value": 71.37, "unit": "kg", "note": MARKER,
                         "source": {"app": "PHR", "method": "manual"}});
    let (status, _) = app
        .post_json(
            &format!("/v1/persons/{person}/observations/batch"),
            Some(&patient),
            &json!({"observations": [reading]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .post_json(
            &format!("/v1/persons/{person}/medications/qr"),
            Some(&patient),
            &json!({"parts": [{"text": crate::medications::text("tc07_spec24_example01.csv")}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    app.post_json(
        &format!("/v1/persons/{person}/notes"),
        Some(&patient),
        &json!({"text": MARKER, "category": "diary"}),
    )
    .await;
    app.post_json(
        &format!("/v1/persons/{person}/cards"),
        Some(&patient),
        &json!({"cardUid": "04A23BC15D8011"}),
    )
    .await;
    app.post_json(
        &format!("/v1/persons/{person}/alert-rules"),
        Some(&patient),
        &json!({"kind": "body_weight", "op": ">=", "threshold": 70}),
    )
    .await;
    let (status, _) = app
        .post_json(
            "/v1/devices",
            Some(&patient),
            &json!({"platform": "ios", "name": "iPhone", "pushToken": MARKER}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    // Family: a daughter reads (logged), and the person reads a friend's record under a grant received.
    let (daughter, daughter_account, _) = app.user("musume@example.jp").await;
    grant(&app, &patient, &person, json!({"accountId": daughter_account}), &["vitals"], "read", "family")
        .await;
    let (status, _) = app.get(&format!("/v1/persons/{person}/observations"), Some(&daughter)).await;
    assert_eq!(status, StatusCode::OK);
    let (friend, _, friend_person) = app.user("tomodachi@example.jp").await;
    grant(&app, &friend, &friend_person, json!({"accountId": account}), &["vitals"], "read", "family").await;
    let (status, _) = app
        .post_json(
            &format!("/v1/persons/{person}/share-codes"),
            Some(&patient),
            &json!({"categories": ["medications"], "access": "read"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    // A child only this person looks after.
    let (status, child) = app
        .post_json(
            "/v1/persons",
            Some(&patient),
            &json!({"displayName": "患者 花子", "birthDate": "2019-04-01"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let child_id = child["personId"].as_str().unwrap().to_owned();

    // Before: the person is all over the database.
    let needles =
        vec![person.clone(), person.replace('-', ""), child_id.clone(), email.clone(), MARKER.to_owned()];
    assert!(traces(&dump(&app).await, &needles).len() > 20);

    let erase = |body: Value| {
        let app = &app;
        let patient = patient.clone();
        async move {
            let res =
                app.client.delete(app.url("/v1/me")).bearer_auth(&patient).json(&body).send().await.unwrap();
            let status = res.status();
            (status, res.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (status, body) = erase(json!({"password": "wrong password!"})).await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let (status, body) = erase(json!({"password": "correct horse battery"})).await;
    assert_problem(status, &body, StatusCode::CONFLICT, "conflict");
    assert!(body["detail"].as_str().unwrap().contains("患者 花子"), "{body}");
    let (status, _) = erase(json!({"password": "correct horse battery", "eraseDependents": true})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // Tokens stop at once; the email no longer signs in.
    let (status, _) = app.get("/v1/me", Some(&patient)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // These check the account in their consent read, not before it.
    for path in [
        "/v1/sync/changes".to_owned(),
        format!("/v1/persons/{person}/timeline"),
        format!("/v1/persons/{person}/observations/summary?kind=body_weight"),
    ] {
        let (status, body) = app.get(&path, Some(&patient)).await;
        assert_problem(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
    }
    let (status, body) = app
        .post_json(
            &format!("/v1/persons/{person}/observations/batch"),
            Some(&patient),
            &json!({"observations": []}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
    let (status, _) = app
        .post_form(
            "/v1/auth/token",
            &[("grant_type", "password"), ("username", &email), ("password", "correct horse battery")],
        )
        .await;
    assert_ne!(status, StatusCode::OK);

    // After: no row holds the person's id, the child's, the email or the values.
    let rows = dump(&app).await;
    let left = traces(&rows, &needles);
    assert!(left.is_empty(), "traces left: {left:#?}");
    // The facility's quarantine is not the person's record: documents now unlinked are gone with the link.
    // The daughter's read is still in a log, under a pseudonym, and every chain verifies.
    let db = phr::db::connect(&app.database_url, 1).await.unwrap();
    let (checked, broken) = phr::consent::audit::verify(&db).await.unwrap();
    assert!(broken.is_none(), "{broken:?}");
    assert!(checked > 0);
    assert!(rows.iter().any(|(t, r)| t == "access_log" && r.contains("erase")), "the closing entry");
    // The friend's record and the daughter's account are untouched.
    let (status, _) = app.get(&format!("/v1/persons/{friend_person}"), Some(&friend)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.get("/v1/me", Some(&daughter)).await;
    assert_eq!(status, StatusCode::OK);
}
