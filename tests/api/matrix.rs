//! The authorization matrix: every person-scoped endpoint in the OpenAPI
//! document × every kind of caller → the expected status. The route list is
//! read from the spec, so a new endpoint without a row here fails the test.

use std::collections::BTreeMap;

use phr_tests::{StatusCode, TestApp, both_databases};
use serde_json::{Value, json};

use crate::consent::{admin, bp, grant, org_with_member};

both_databases!(authorization_matrix_holds_for_every_person_endpoint);

const ROLES: [&str; 11] = [
    "owner",
    "guardian",
    "family_vitals_read",
    "family_notes_read",
    "expired_grant",
    "revoked_grant",
    "nurse_enrolled",
    "nurse_other_municipality",
    "pharmacist",
    "unrelated",
    "no_token",
];

/// Expected statuses in ROLES order.
fn expectations() -> BTreeMap<&'static str, [u16; 11]> {
    // Managing the record: the person and guardians only; grantees 403, strangers 404.
    const MANAGE_READ: [u16; 11] = [200, 200, 403, 403, 404, 404, 403, 404, 403, 404, 401];
    const MANAGE_CREATE: [u16; 11] = [201, 201, 403, 403, 404, 404, 403, 404, 403, 404, 401];
    const MANAGE_DELETE: [u16; 11] = [204, 204, 403, 403, 404, 404, 403, 404, 403, 404, 401];
    // Vitals data: family and the enrolled municipality's nurses read; the
    // pharmacist's grant covers medications only; the notes grant covers no observation.
    const VITALS_READ: [u16; 11] = [200, 200, 200, 403, 404, 404, 200, 404, 403, 404, 401];
    const VITALS_WRITE_200: [u16; 11] = [200, 200, 403, 403, 404, 404, 403, 404, 403, 404, 401];
    const VITALS_DELETE: [u16; 11] = [204, 204, 403, 403, 404, 404, 403, 404, 403, 404, 401];
    // Medications: the pharmacist's grant covers them; family and nurse grants here do not.
    const MEDS_READ: [u16; 11] = [200, 200, 403, 403, 404, 404, 403, 404, 200, 404, 401];
    BTreeMap::from([
        (
            "POST /v1/persons/{personId}/medications/qr",
            [201, 201, 403, 403, 404, 404, 403, 404, 201, 404, 401],
        ),
        ("GET /v1/persons/{personId}/medications/current", MEDS_READ),
        ("GET /v1/persons/{personId}/medications/jahis", MEDS_READ),
        ("GET /v1/persons/{personId}/dispensings", MEDS_READ),
        ("GET /v1/persons/{personId}/dispensings/{dispensingId}", MEDS_READ),
        (
            "DELETE /v1/persons/{personId}/dispensings/{dispensingId}",
            [204, 204, 403, 403, 404, 404, 403, 404, 204, 404, 401],
        ),
        // Facts span allergies, conditions, medications and notes: the notes grant reads its part.
        ("GET /v1/persons/{personId}/facts", [200, 200, 403, 200, 404, 404, 403, 404, 200, 404, 401]),
        ("POST /v1/persons/{personId}/share-codes", MANAGE_CREATE),
        // Links are made by facility staff on a treatment grant: nobody in this world has one.
        ("POST /v1/persons/{personId}/links", [403, 403, 403, 403, 404, 404, 403, 404, 403, 404, 401]),
        ("GET /v1/persons/{personId}/links", MANAGE_READ),
        (
            "DELETE /v1/persons/{personId}/links/{linkId}",
            [404, 404, 403, 403, 404, 404, 403, 404, 403, 404, 401],
        ),
        // Lab results: no grant in this world covers labs.
        ("GET /v1/persons/{personId}/prescriptions", MEDS_READ),
        ("GET /v1/persons/{personId}/labs", [200, 200, 403, 403, 404, 404, 403, 404, 403, 404, 401]),
        (
            "GET /v1/persons/{personId}/labs/{code}/series",
            [200, 200, 403, 403, 404, 404, 403, 404, 403, 404, 401],
        ),
        // Documents and their review: the person and guardians (no such document here: 404).
        ("GET /v1/persons/{personId}/clinical-documents", MANAGE_READ),
        (
            "POST /v1/persons/{personId}/clinical-documents/{documentId}/accept",
            [404, 404, 403, 403, 404, 404, 403, 404, 403, 404, 401],
        ),
        (
            "POST /v1/persons/{personId}/clinical-documents/{documentId}/reject",
            [404, 404, 403, 403, 404, 404, 403, 404, 403, 404, 401],
        ),
        // The timeline shows whatever part of the record a grant covers.
        ("GET /v1/persons/{personId}/timeline", [200, 200, 200, 200, 404, 404, 200, 404, 200, 404, 401]),
        // The export holds whatever part of the record a grant covers (a notes grant: the Patient only).
        ("GET /v1/persons/{personId}/export", [200, 200, 200, 200, 404, 404, 200, 404, 200, 404, 401]),
        ("PATCH /v1/persons/{personId}", MANAGE_READ),
        // Erasing a record here: the person has an account (they close it with DELETE /v1/me).
        ("DELETE /v1/persons/{personId}", [403, 403, 403, 403, 404, 404, 403, 404, 403, 404, 401]),
        // Alert rules are set by the person and guardians; grantees see those on their categories.
        ("POST /v1/persons/{personId}/alert-rules", MANAGE_CREATE),
        ("GET /v1/persons/{personId}/alert-rules", [200, 200, 200, 200, 404, 404, 200, 404, 200, 404, 401]),
        ("DELETE /v1/persons/{personId}/alert-rules/{ruleId}", MANAGE_DELETE),
        // Diary notes by the person; reading notes needs the notes category (or a programme nurse's enrolment).
        ("POST /v1/persons/{personId}/notes", MANAGE_CREATE),
        ("GET /v1/persons/{personId}/notes", [200, 200, 403, 200, 404, 404, 403, 404, 403, 404, 401]),
        // Leaving a programme: nobody is enrolled in this world, so the person gets 404.
        (
            "DELETE /v1/programs/{programId}/enrollments/{personId}",
            [404, 404, 403, 403, 404, 404, 403, 404, 403, 404, 401],
        ),
        // Cards and emergency settings: the person and guardians only.
        ("POST /v1/persons/{personId}/cards", MANAGE_CREATE),
        ("GET /v1/persons/{personId}/cards", MANAGE_READ),
        ("DELETE /v1/persons/{personId}/cards/{cardId}", MANAGE_DELETE),
        ("GET /v1/persons/{personId}/emergency-settings", MANAGE_READ),
        ("PUT /v1/persons/{personId}/emergency-settings", MANAGE_READ),
        ("GET /v1/persons/{personId}/emergency-accesses", MANAGE_READ),
        ("GET /v1/persons/{personId}", [200, 200, 200, 200, 404, 404, 200, 404, 200, 404, 401]),
        ("POST /v1/persons/{personId}/grants", MANAGE_CREATE),
        ("GET /v1/persons/{personId}/grants", MANAGE_READ),
        ("DELETE /v1/persons/{personId}/grants/{grantId}", MANAGE_DELETE),
        ("POST /v1/persons/{personId}/invitations", MANAGE_CREATE),
        ("POST /v1/persons/{personId}/guardians", MANAGE_CREATE),
        ("GET /v1/persons/{personId}/guardians", MANAGE_READ),
        ("DELETE /v1/persons/{personId}/guardians/{accountId}", MANAGE_DELETE),
        ("GET /v1/persons/{personId}/access-log", MANAGE_READ),
        // The matrix's person has an account of their own: nothing to hand over.
        ("POST /v1/persons/{personId}/transfer", [409, 409, 403, 403, 404, 404, 403, 404, 403, 404, 401]),
        ("POST /v1/persons/{personId}/observations/batch", VITALS_WRITE_200),
        ("GET /v1/persons/{personId}/observations", VITALS_READ),
        ("GET /v1/persons/{personId}/observations/summary", VITALS_READ),
        ("GET /v1/persons/{personId}/observations/latest", VITALS_READ),
        ("GET /v1/persons/{personId}/observations/{observationId}", VITALS_READ),
        ("DELETE /v1/persons/{personId}/observations/{observationId}", VITALS_DELETE),
    ])
}

struct World {
    person: String,
    owner: String,
    tokens: BTreeMap<&'static str, Option<String>>,
    spare_accounts: Vec<String>,
}

async fn world(app: &TestApp) -> World {
    let admin = admin(app).await;
    let (owner, _, person) = app.user("owner@example.jp").await;
    let mut tokens = BTreeMap::new();
    tokens.insert("owner", Some(owner.clone()));
    let (guardian, guardian_account, _) = app.user("guardian@example.jp").await;
    let (status, _) = app
        .post_json(
            &format!("/v1/persons/{person}/guardians"),
            Some(&owner),
            &json!({"accountId": guardian_account}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    tokens.insert("guardian", Some(guardian));
    for (role, categories) in [("family_vitals_read", ["vitals"]), ("family_notes_read", ["notes"])] {
        let (t, a, _) = app.user(&format!("{role}@example.jp")).await;
        grant(app, &owner, &person, json!({"accountId": a}), &categories, "read", "family").await;
        tokens.insert(role, Some(t));
    }
    let (expired, expired_account, _) = app.user("expired@example.jp").await;
    let soon = (chrono::Utc::now() + chrono::Duration::milliseconds(1200)).to_rfc3339();
    let (status, _) = app
        .post_json(
            &format!("/v1/persons/{person}/grants"),
            Some(&owner),
            &json!({"grantee": {"accountId": expired_account}, "categories": ["vitals"], "access": "write",
                    "purpose": "family", "expiresAt": soon}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    tokens.insert("expired_grant", Some(expired));
    let (revoked, revoked_account, _) = app.user("revoked@example.jp").await;
    let g =
        grant(app, &owner, &person, json!({"accountId": revoked_account}), &["vitals"], "write", "family")
            .await;
    app.delete(&format!("/v1/persons/{person}/grants/{}", g["grantId"].as_str().unwrap()), Some(&owner))
        .await;
    tokens.insert("revoked_grant", Some(revoked));
    let (tone, nurse, _) =
        org_with_member(app, &admin, "municipality", "利根町", "nurse@tone.example.jp", "nurse").await;
    grant(app, &owner, &person, json!({"orgId": tone}), &["vitals"], "read", "public_health").await;
    tokens.insert("nurse_enrolled", Some(nurse));
    let (_, other_nurse, _) =
        org_with_member(app, &admin, "municipality", "他市", "nurse@other.example.jp", "nurse").await;
    tokens.insert("nurse_other_municipality", Some(other_nurse));
    let (pharmacy, pharmacist, _) =
        org_with_member(app, &admin, "pharmacy", "工業会薬局", "rx@pharmacy.example.jp", "pharmacist").await;
    grant(app, &owner, &person, json!({"orgId": pharmacy}), &["medications"], "write", "pharmacy").await;
    tokens.insert("pharmacist", Some(pharmacist));
    let (unrelated, _, _) = app.user("unrelated@example.jp").await;
    tokens.insert("unrelated", Some(unrelated));
    tokens.insert("no_token", None);
    let mut spare_accounts = Vec::new();
    for i in 0..3 {
        spare_accounts.push(app.user(&format!("spare{i}@example.jp")).await.1);
    }
    // Let the expiring grant lapse.
    tokio::time::sleep(std::time::Duration::from_millis(1400)).await;
    World { person, owner, tokens, spare_accounts }
}

/// A card UID nobody registered yet (7 bytes, as NFC-A cards have).
fn card_uid() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..14].to_uppercase()
}

/// Makes a fresh target for one request and returns (path, body).
async fn prepare(app: &TestApp, w: &World, method: &str, template: &str) -> (String, Option<Value>) {
    let p = &w.person;
    let owner = Some(w.owner.as_str());
    let mut path = template.replace("{personId}", p);
    let body = match (method, template) {
        (_, t) if t.contains("{grantId}") => {
            let g = grant(
                app,
                &w.owner,
                p,
                json!({"accountId": w.spare_accounts[0]}),
                &["vitals"],
                "read",
                "family",
            )
            .await;
            path = path.replace("{grantId}", g["grantId"].as_str().unwrap());
            None
        }
        (_, t) if t.contains("{programId}") => {
            path = path.replace("{programId}", &uuid::Uuid::new_v4().to_string());
            None
        }
        (_, t) if t.contains("{cardId}") => {
            let (status, c) = app
                .post_json(&format!("/v1/persons/{p}/cards"), owner, &json!({"cardUid": card_uid()}))
                .await;
            assert_eq!(status, StatusCode::CREATED, "{c}");
            path = path.replace("{cardId}", c["cardId"].as_str().unwrap());
            None
        }
        ("POST", t) if t.ends_with("/cards") => Some(json!({"cardUid": card_uid()})),
        ("POST", t) if t.ends_with("/notes") => Some(json!({"text": "散歩 30 分", "category": "diary"})),
        ("PUT", t) if t.ends_with("/emergency-settings") => {
            Some(json!({"enabled": true, "categories": ["allergies", "blood_type"], "contacts": []}))
        }
        (_, t) if t.contains("{ruleId}") => {
            let (status, r) = app
                .post_json(
                    &format!("/v1/persons/{p}/alert-rules"),
                    owner,
                    &json!({"kind": "body_weight", "op": ">=", "threshold": 100}),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{r}");
            path = path.replace("{ruleId}", r["ruleId"].as_str().unwrap());
            None
        }
        ("POST", t) if t.ends_with("/alert-rules") => {
            Some(json!({"kind": "blood_pressure", "component": "systolic", "op": ">=", "threshold": 160}))
        }
        (_, t) if t.contains("{documentId}") => {
            path = path.replace("{documentId}", &uuid::Uuid::new_v4().to_string());
            None
        }
        (_, t) if t.contains("{code}") => {
            path = path.replace("{code}", "3D046");
            None
        }
        ("PATCH", _) => Some(json!({"timeZone": "Asia/Tokyo"})),
        ("DELETE", "/v1/persons/{personId}") => Some(json!({"password": "correct horse battery"})),
        (_, t) if t.contains("{linkId}") => {
            // No link can exist here (nobody holds a treatment grant): the person gets 404 for it.
            path = path.replace("{linkId}", &uuid::Uuid::new_v4().to_string());
            None
        }
        (_, t) if t.contains("{dispensingId}") => {
            // Scanning the same receipt again restores it if a previous row deleted it.
            let (status, r) = app
                .post_json(
                    &format!("/v1/persons/{p}/medications/qr"),
                    owner,
                    &json!({"parts": [{"text": crate::medications::text("tc07_spec24_example01.csv")}]}),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{r}");
            path = path.replace("{dispensingId}", r["dispensings"][0]["id"].as_str().unwrap());
            None
        }
        (_, t) if t.contains("{observationId}") => {
            // A distinct moment each time, or it would be the same sample again.
            static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
            let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let o = bp(&format!("2026-01-06T{:02}:{:02}:00+09:00", 8 + n / 60, n % 60));
            let (status, _) = app
                .post_json(
                    &format!("/v1/persons/{p}/observations/batch"),
                    owner,
                    &json!({"observations": [o]}),
                )
                .await;
            assert_eq!(status, StatusCode::OK);
            path = path.replace("{observationId}", o["id"].as_str().unwrap());
            None
        }
        ("DELETE", t) if t.contains("{accountId}") => {
            let a = &w.spare_accounts[1];
            app.post_json(&format!("/v1/persons/{p}/guardians"), owner, &json!({"accountId": a})).await;
            path = path.replace("{accountId}", a);
            None
        }
        ("POST", t) if t.ends_with("/guardians") => {
            let a = &w.spare_accounts[2];
            app.delete(&format!("/v1/persons/{p}/guardians/{a}"), owner).await;
            Some(json!({"accountId": a}))
        }
        ("POST", t) if t.ends_with("/grants") => Some(
            json!({"grantee": {"accountId": w.spare_accounts[0]}, "categories": ["vitals"], "access": "read", "purpose": "family"}),
        ),
        ("POST", t) if t.ends_with("/invitations") => {
            Some(json!({"categories": ["vitals"], "access": "read", "purpose": "family"}))
        }
        ("POST", t) if t.ends_with("/medications/qr") => {
            Some(json!({"parts": [{"text": crate::medications::text("tc07_spec24_example01.csv")}]}))
        }
        ("POST", t) if t.ends_with("/links") => {
            Some(json!({"orgId": uuid::Uuid::new_v4(), "localPatientId": "x"}))
        }
        ("POST", t) if t.ends_with("/share-codes") => {
            Some(json!({"categories": ["medications"], "access": "read"}))
        }
        ("POST", t) if t.ends_with("/observations/batch") => {
            Some(json!({"observations": [bp("2026-01-06T07:00:00+09:00")]}))
        }
        _ => None,
    };
    if template.ends_with("/summary") {
        path.push_str("?kind=blood_pressure");
    }
    (path, body)
}

async fn authorization_matrix_holds_for_every_person_endpoint(app: TestApp) {
    let expected = expectations();
    let (_, spec) = app.get("/openapi.json", None).await;
    let mut endpoints = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        if !path.contains("{personId}") {
            continue;
        }
        for method in item.as_object().unwrap().keys() {
            endpoints.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    let missing: Vec<&String> = endpoints.iter().filter(|e| !expected.contains_key(e.as_str())).collect();
    assert!(missing.is_empty(), "person endpoints without a matrix row: {missing:?}");
    let stale: Vec<&&str> = expected.keys().filter(|k| !endpoints.iter().any(|e| e == *k)).collect();
    assert!(stale.is_empty(), "matrix rows for endpoints not in the spec: {stale:?}");

    let w = world(&app).await;
    let mut failures = Vec::new();
    for endpoint in &endpoints {
        let (method, template) = endpoint.split_once(' ').unwrap();
        for (i, role) in ROLES.iter().enumerate() {
            let (path, body) = prepare(&app, &w, method, template).await;
            let mut req = app.client.request(method.parse().unwrap(), app.url(&path));
            if let Some(t) = &w.tokens[role] {
                req = req.bearer_auth(t);
            }
            if let Some(b) = &body {
                req = req.json(b);
            }
            let status = req.send().await.unwrap().status().as_u16();
            let want = expected[endpoint.as_str()][i];
            if status != want {
                failures.push(format!("{endpoint} as {role}: got {status}, want {want}"));
            }
        }
    }
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}
