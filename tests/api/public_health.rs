//! Public-health programmes and emergency access by IC card.

use phr_tests::{StatusCode, TestApp, assert_problem, both_databases};
use serde_json::{Value, json};

use crate::consent::{admin, bp, grant, org_with_member};

both_databases!(
    enrolled_residents_are_seen_by_their_municipality_until_they_leave,
    programme_statistics_hide_cells_under_five,
    an_ic_card_opens_the_emergency_dataset_with_a_log_entry_and_a_notice,
);

/// A pharmacy's QR record dispensed today: 14 days of アムロジピン.
fn todays_dispensing() -> String {
    let today = (chrono::Utc::now() + chrono::Duration::hours(9)).format("%Y%m%d");
    format!(
        "JAHISTC08,1\r\n1,鈴木 太郎,1,19480405\r\n5,{today},1\r\n11,駅前薬局,13,4,7654321,,,,1\r\n\
         201,1,アムロジピン錠５ｍｇ,1,錠,1,,1\r\n301,1,【分１ 朝食後服用】,14,日分,1,1,,1\r\n"
    )
}

async fn programme(app: &TestApp, admin: &str, org: &str, rules: Value) -> String {
    let (status, p) = app
        .post_json(
            &format!("/v1/orgs/{org}/programs"),
            Some(admin),
            &json!({"name": "重症化予防プログラム", "description": "高血圧の重症化を防ぐ",
                    "categories": ["vitals"], "purpose": "public_health", "alertRules": rules}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{p}");
    p["programId"].as_str().unwrap().to_owned()
}

async fn enrolled_residents_are_seen_by_their_municipality_until_they_leave(app: TestApp) {
    let admin = admin(&app).await;
    let (tone, nurse, _) =
        org_with_member(&app, &admin, "municipality", "利根町", "nurse@tone.example.jp", "nurse").await;
    let (other, other_nurse, _) =
        org_with_member(&app, &admin, "municipality", "他市", "nurse@other.example.jp", "nurse").await;
    let (hospital, _, _) =
        org_with_member(&app, &admin, "hospital", "病院", "dr@h.example.jp", "clinician").await;
    let (status, body) = app
        .post_json(
            &format!("/v1/orgs/{hospital}/programs"),
            Some(&admin),
            &json!({"name": "x", "categories": ["vitals"], "purpose": "public_health"}),
        )
        .await;
    assert_problem(status, &body, StatusCode::CONFLICT, "conflict");
    let (status, body) = app
        .post_json(
            &format!("/v1/orgs/{tone}/programs"),
            Some(&admin),
            &json!({"name": "x", "categories": ["vitals"], "purpose": "family",
                    "alertRules": [{"kind": "body_weight", "op": ">", "threshold": 1}]}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let paths: Vec<&str> =
        body["errors"].as_array().unwrap().iter().map(|e| e["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["purpose", "alertRules/0/op"], "{body}");
    let rule = json!([{"kind": "blood_pressure", "component": "systolic", "op": ">=", "threshold": 145}]);
    let program = programme(&app, &admin, &tone, rule).await;
    let other_program = programme(&app, &admin, &other, json!([])).await;

    let (resident, _, person) = app.user("jumin@example.jp").await;
    let (_, listed) = app.get("/v1/programs", Some(&resident)).await;
    let mine =
        listed["items"].as_array().unwrap().iter().find(|p| p["programId"] == program.as_str()).unwrap();
    assert_eq!(
        (mine["orgName"].as_str(), mine["alertRules"][0]["threshold"].as_f64()),
        (Some("利根町"), Some(145.0))
    );

    // Before enrolment the nurse sees nothing of the resident.
    let residents_url = format!("/v1/orgs/{tone}/programs/{program}/residents");
    let (status, empty) = app.get(&residents_url, Some(&nurse)).await;
    assert_eq!((status, empty["items"].clone()), (StatusCode::OK, json!([])));
    let (status, r) =
        app.post_json(&format!("/v1/programs/{program}/enrollments"), Some(&resident), &json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    assert_eq!(r["personId"], person.as_str());
    let (status, _) =
        app.post_json(&format!("/v1/programs/{program}/enrollments"), Some(&resident), &json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = app
        .post_json(&format!("/v1/programs/{program}/enrollments"), Some(&nurse), &json!({"personId": person}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "nurses do not enrol people");

    // A high reading: the programme's rule alerts the municipality.
    let reading = bp("2026-11-20T07:00:00+09:00");
    let (status, _) = app
        .post_json(
            &format!("/v1/persons/{person}/observations/batch"),
            Some(&resident),
            &json!({"observations": [reading]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, page) = app.get(&format!("{residents_url}?alert=open&sort=lastUpload"), Some(&nurse)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{page}");
    assert_eq!(items[0]["personId"], person.as_str());
    assert_eq!(items[0]["latest"][0]["kind"], "blood_pressure");
    assert!(items[0]["lastUpload"].is_string());
    assert_eq!(items[0]["openAlerts"].as_array().unwrap().len(), 1);
    let (_, log) = app.get(&format!("/v1/persons/{person}/access-log"), Some(&resident)).await;
    let listing = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["resource"].as_str().is_some_and(|r| r.ends_with("/residents")))
        .expect("the listing is logged");
    assert_eq!(
        (listing["purpose"].as_str(), listing["actor"]["orgId"].as_str()),
        (Some("public_health"), Some(tone.as_str()))
    );
    let (status, body) = app.get(&format!("{residents_url}?sort=age"), Some(&nurse)).await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");

    // Guidance from the nurse; the resident's diary stays the resident's.
    let (status, n) = app
        .post_json(
            &format!("/v1/persons/{person}/notes"),
            Some(&nurse),
            &json!({"text": "減塩を続けましょう。", "category": "guidance"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{n}");
    assert_eq!(n["authorOrgId"], tone.as_str());
    let (status, _) = app
        .post_json(
            &format!("/v1/persons/{person}/notes"),
            Some(&nurse),
            &json!({"text": "x", "category": "diary"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    app.post_json(
        &format!("/v1/persons/{person}/notes"),
        Some(&resident),
        &json!({"text": "今日は散歩した", "category": "diary"}),
    )
    .await;
    let (_, notes) = app.get(&format!("/v1/persons/{person}/notes"), Some(&resident)).await;
    assert_eq!(notes["items"].as_array().unwrap().len(), 2);
    let (_, theirs) = app.get(&format!("/v1/persons/{person}/notes"), Some(&nurse)).await;
    let their_notes = theirs["items"].as_array().unwrap();
    assert_eq!((their_notes.len(), their_notes[0]["category"].as_str()), (1, Some("guidance")));
    let (_, inbox) = app.get("/v1/notifications", Some(&resident)).await;
    assert!(inbox["items"].as_array().unwrap().iter().any(|n| n["event"] == "guidance_note"), "{inbox}");
    let (_, timeline) =
        app.get(&format!("/v1/persons/{person}/timeline?categories=notes"), Some(&resident)).await;
    let sources: Vec<(&str, &str)> = timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["type"].as_str().unwrap(), i["source"]["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(sources, [("note", "app"), ("note", "municipality")], "newest first: {timeline}");

    // Another municipality sees nothing of it.
    let (status, _) = app.get(&residents_url, Some(&other_nurse)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, none) =
        app.get(&format!("/v1/orgs/{other}/programs/{other_program}/residents"), Some(&other_nurse)).await;
    assert_eq!(none["items"], json!([]));
    let (status, _) = app.get(&format!("/v1/persons/{person}/observations"), Some(&other_nurse)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .post_json(
            &format!("/v1/persons/{person}/notes"),
            Some(&other_nurse),
            &json!({"text": "x", "category": "guidance"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The resident leaves: the very next request by the nurse sees nothing.
    let (status, _) =
        app.delete(&format!("/v1/programs/{program}/enrollments/{person}"), Some(&resident)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, after) = app.get(&residents_url, Some(&nurse)).await;
    assert_eq!(after["items"], json!([]));
    let (status, _) = app.get(&format!("/v1/persons/{person}/observations"), Some(&nurse)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .post_json(
            &format!("/v1/persons/{person}/notes"),
            Some(&nurse),
            &json!({"text": "x", "category": "guidance"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) =
        app.delete(&format!("/v1/programs/{program}/enrollments/{person}"), Some(&resident)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // And may come back.
    let (status, _) =
        app.post_json(&format!("/v1/programs/{program}/enrollments"), Some(&resident), &json!({})).await;
    assert_eq!(status, StatusCode::CREATED);
}

async fn programme_statistics_hide_cells_under_five(app: TestApp) {
    let admin = admin(&app).await;
    let (tone, nurse, _) =
        org_with_member(&app, &admin, "municipality", "利根町", "nurse@tone.example.jp", "nurse").await;
    let program = programme(&app, &admin, &tone, json!([])).await;
    let stats_url = format!("/v1/orgs/{tone}/programs/{program}/stats");
    let (guardian, _, _) = app.user("care-manager@example.jp").await;
    // A care manager enrols the dependents they look after: 6 women of 70, 5 men of 80, 2 men of 50.
    let mut n = 0;
    for (count, birth, sex) in
        [(6, "1955-06-01", "female"), (5, "1945-06-01", "male"), (2, "1975-06-01", "male")]
    {
        for _ in 0..count {
            n += 1;
            let (status, d) = app
                .post_json(
                    "/v1/persons",
                    Some(&guardian),
                    &json!({"displayName": format!("住民{n}"), "birthDate": birth, "sex": sex}),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{d}");
            let (status, e) = app
                .post_json(
                    &format!("/v1/programs/{program}/enrollments"),
                    Some(&guardian),
                    &json!({"personId": d["personId"]}),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{e}");
        }
    }
    let (status, s) = app.get(&stats_url, Some(&nurse)).await;
    assert_eq!(status, StatusCode::OK, "{s}");
    assert_eq!(s["total"]["enrolled"], 13);
    let band = |age: &str, sex: &str| {
        s["bands"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["ageBand"] == age && b["sex"] == sex)
            .unwrap()
            .clone()
    };
    assert_eq!(
        (band("65-74", "female")["enrolled"].as_u64(), band("65-74", "female")["suppressed"].as_bool()),
        (Some(6), Some(false))
    );
    assert_eq!(
        (band("40-64", "male")["enrolled"].clone(), band("40-64", "male")["suppressed"].as_bool()),
        (Value::Null, Some(true))
    );
    // One hidden cell next to a shown total would be total minus the rest: the next smallest hides too.
    assert_eq!(
        (band("75+", "male")["enrolled"].clone(), band("75+", "male")["suppressed"].as_bool()),
        (Value::Null, Some(true))
    );
    assert_eq!(s["total"]["recentUploadShare"], 0.0);
    let (resident, _, _) = app.user("jumin@example.jp").await;
    let (status, _) = app.get(&stats_url, Some(&resident)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

async fn an_ic_card_opens_the_emergency_dataset_with_a_log_entry_and_a_notice(app: TestApp) {
    let admin = admin(&app).await;
    let (hospital, doctor, _) =
        org_with_member(&app, &admin, "hospital", "利根中央病院", "er@tone-hospital.example.jp", "clinician")
            .await;
    let (_, pharmacist, _) =
        org_with_member(&app, &admin, "pharmacy", "駅前薬局", "rx@pharmacy.example.jp", "pharmacist").await;
    let (resident, _, person) = app.user("jumin@example.jp").await;
    let (daughter, daughter_account, _) = app.user("musume@example.jp").await;
    grant(&app, &resident, &person, json!({"accountId": daughter_account}), &["vitals"], "read", "family")
        .await;
    let (status, r) = app
        .post_json(
            &format!("/v1/persons/{person}/medications/qr"),
            Some(&resident),
            &json!({"parts": [{"text": todays_dispensing()}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{r}");

    let uid = "04:A2:3B:C1:5D:80:11";
    let (status, card) = app
        .post_json(&format!("/v1/persons/{person}/cards"), Some(&resident), &json!({"cardUid": uid}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{card}");
    let (status, _) = app
        .post_json(
            &format!("/v1/persons/{person}/cards"),
            Some(&resident),
            &json!({"cardUid": "04a23bc15d8011"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "the same card however it is written");
    let (status, body) = app
        .post_json(&format!("/v1/persons/{person}/cards"), Some(&resident), &json!({"cardUid": "not hex"}))
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    // The UID is nowhere in clear.
    let db = phr::db::connect(&app.database_url, 1).await.unwrap();
    let stored: Vec<phr::entities::card::Model> =
        <phr::entities::card::Entity as sea_orm::EntityTrait>::find().all(&db).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert!(!stored[0].uid_hash.to_uppercase().contains("04A23BC15D8011") && stored[0].uid_hash.len() == 64);

    let (status, defaults) =
        app.get(&format!("/v1/persons/{person}/emergency-settings"), Some(&resident)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(defaults["enabled"], true);
    assert_eq!(defaults["categories"], json!(["allergies", "blood_type", "conditions", "medications"]));
    let put = |body: Value| {
        let app = &app;
        let person = person.clone();
        let resident = resident.clone();
        async move {
            let res = app
                .client
                .put(app.url(&format!("/v1/persons/{person}/emergency-settings")))
                .bearer_auth(&resident)
                .json(&body)
                .send()
                .await
                .unwrap();
            (res.status(), res.json::<Value>().await.unwrap())
        }
    };
    let contacts = json!([{"name": "鈴木 花子", "relation": "長女", "phone": "090-1234-5678"}]);
    let (status, saved) =
        put(json!({"enabled": true, "categories": ["allergies", "medications", "conditions", "blood_type"], "contacts": contacts})).await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    let (status, body) = put(json!({"enabled": true, "categories": ["everything"]})).await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");

    let open = |token: String, card: &'static str| {
        let app = &app;
        async move {
            app.post_json(
                "/v1/emergency/access",
                Some(&token),
                &json!({"cardUid": card, "reason": "意識障害で救急搬送"}),
            )
            .await
        }
    };
    let (status, data) = open(doctor.clone(), "04a23bc15d8011").await;
    assert_eq!(status, StatusCode::OK, "{data}");
    assert_eq!(data["personId"], person.as_str());
    assert!(!data["medications"].as_array().unwrap().is_empty(), "{data}");
    assert_eq!(data["contacts"], contacts);
    assert_eq!(data["latestVitals"], json!([]), "vitals are not in the default dataset");
    let (status, _) = open(pharmacist.clone(), "04a23bc15d8011").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "pharmacists are not emergency clinicians");
    let (status, _) = open(doctor.clone(), "04FFFFFFFFFFFF").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Logged with the reason; the person, and the daughter, are told at high priority.
    let (_, log) = app.get(&format!("/v1/persons/{person}/access-log"), Some(&resident)).await;
    let entry = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["purpose"] == "emergency")
        .expect("logged")
        .clone();
    assert_eq!(
        (entry["reason"].as_str(), entry["actor"]["orgId"].as_str()),
        (Some("意識障害で救急搬送"), Some(hospital.as_str()))
    );
    let (_, accesses) = app.get(&format!("/v1/persons/{person}/emergency-accesses"), Some(&resident)).await;
    assert_eq!(accesses["items"][0]["orgName"], "利根中央病院");
    assert_eq!(accesses["items"][0]["accessId"], data["accessId"]);
    for token in [&resident, &daughter] {
        let (_, inbox) = app.get("/v1/notifications", Some(token)).await;
        let n = inbox["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["event"] == "emergency_access")
            .expect("told")
            .clone();
        assert_eq!(n["priority"], "high");
    }
    let (status, _) = app.get(&format!("/v1/persons/{person}/emergency-accesses"), Some(&daughter)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Narrowed to allergies: medications are not shown.
    put(json!({"enabled": true, "categories": ["allergies"], "contacts": []})).await;
    let (_, narrow) = open(doctor.clone(), "04a23bc15d8011").await;
    assert_eq!((narrow["medications"].clone(), narrow["contacts"].clone()), (json!([]), json!([])));
    // Switched off: 403.
    put(json!({"enabled": false, "categories": ["allergies"]})).await;
    let (status, body) = open(doctor.clone(), "04a23bc15d8011").await;
    assert_problem(status, &body, StatusCode::FORBIDDEN, "forbidden");
    // A retired card opens nothing.
    put(json!({"enabled": true, "categories": ["allergies"]})).await;
    let card_id = card["cardId"].as_str().unwrap();
    let (status, _) = app.delete(&format!("/v1/persons/{person}/cards/{card_id}"), Some(&resident)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = open(doctor.clone(), "04a23bc15d8011").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Five attempts so far; the tenth in the hour is the last one allowed.
    for _ in 0..5 {
        let (status, _) = open(doctor.clone(), "04a23bc15d8011").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let res = app
        .client
        .post(app.url("/v1/emergency/access"))
        .bearer_auth(&doctor)
        .json(&json!({"cardUid": "04a23bc15d8011", "reason": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((3000..=3600).contains(&wait), "{wait}");
}
