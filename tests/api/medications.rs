use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use phr_tests::{StatusCode, TestApp, assert_problem, both_databases};
use serde_json::{Value, json};

use crate::consent::{admin, org_with_member};

both_databases!(
    a_scanned_receipt_is_stored_and_a_rescan_is_unchanged,
    split_parts_arrive_in_any_order_one_request_at_a_time,
    structured_append_with_a_kanji_cut_between_symbols,
    unreadable_payloads_are_refused_with_the_parsers_code,
    qr_facts_fill_allergies_and_otc_without_duplicates,
    current_medications_follow_the_days_supply,
    the_pharmacist_flow_works_end_to_end,
    the_history_exports_as_jahis_and_parses_back,
    a_deleted_dispensing_comes_back_when_scanned_again,
    a_preview_reads_the_symbols_under_the_same_grant_and_stores_nothing,
);

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../formats/tests/fixtures/jahis/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

pub fn text(name: &str) -> String {
    String::from_utf8(fixture(name)).unwrap()
}

async fn scan(app: &TestApp, token: &str, person: &str, body: Value) -> (StatusCode, Value) {
    app.post_json(&format!("/v1/persons/{person}/medications/qr"), Some(token), &body).await
}

async fn a_scanned_receipt_is_stored_and_a_rescan_is_unchanged(app: TestApp) {
    let (token, _, person) = app.user("rx@example.jp").await;
    let body = json!({"parts": [{"text": text("tc07_spec24_example01.csv")}]});
    let (status, r) = scan(&app, &token, &person, body.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    assert_eq!((r["created"].as_u64(), r["unchanged"].as_u64()), (Some(1), Some(0)));
    let d = &r["dispensings"][0];
    assert_eq!(d["dispensedOn"], "2020-04-10");
    assert!(d["pharmacy"].as_str().unwrap().contains("工業会薬局"), "{d}");
    assert_eq!(d["dispensing"]["rps"].as_array().unwrap().len(), 2);
    let (status, again) = scan(&app, &token, &person, body).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!((again["created"].as_u64(), again["unchanged"].as_u64()), (Some(0), Some(1)));
    assert_eq!(again["dispensings"][0]["id"], d["id"], "the same record");
    let (_, list) = app.get(&format!("/v1/persons/{person}/dispensings"), Some(&token)).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let (status, one) = app
        .get(&format!("/v1/persons/{person}/dispensings/{}", d["id"].as_str().unwrap()), Some(&token))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(one["rawPayload"][0]["text"].as_str().unwrap().starts_with("JAHISTC07"), "provenance kept");
}

async fn split_parts_arrive_in_any_order_one_request_at_a_time(app: TestApp) {
    let (token, _, person) = app.user("split@example.jp").await;
    let (status, first) =
        scan(&app, &token, &person, json!({"parts": [{"text": text("tc08_spec26_split_part2of2.txt")}]}))
            .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    assert_eq!((first["received"].clone(), first["missing"].clone()), (json!([2]), json!([1])));
    let (status, done) = scan(
        &app,
        &token,
        &person,
        json!({"scanId": first["scanId"], "parts": [{"text": text("tc08_spec26_split_part1of2.txt")}]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{done}");
    assert_eq!(done["created"], 1);
    // Both parts in one request, the other way round: the same dispensing.
    let (status, again) = scan(
        &app,
        &token,
        &person,
        json!({"parts": [{"text": text("tc08_spec26_split_part2of2.txt")}, {"text": text("tc08_spec26_split_part1of2.txt")}]}),
    )
    .await;
    assert_eq!((status, again["unchanged"].as_u64()), (StatusCode::CREATED, Some(1)));
    let (status, body) =
        scan(&app, &token, &person, json!({"scanId": first["scanId"], "parts": [{"text": "x"}]})).await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(body["errors"][0]["path"], "scanId", "a finished scan is gone");
}

async fn structured_append_with_a_kanji_cut_between_symbols(app: TestApp) {
    let (token, _, person) = app.user("sa@example.jp").await;
    let raw = fixture("raw_sjis/tc07_spec24_example11.sjis.csv");
    // Cut inside a double-byte character: after a Shift_JIS lead byte.
    let cut = raw.iter().position(|b| (0x81..=0x9f).contains(b) || (0xe0..=0xfc).contains(b)).unwrap() + 1;
    let parity = phr_formats::jahis::structured_append_parity(&raw);
    let part = |data: &[u8], i: u8| json!({"data": STANDARD.encode(data), "symbolIndex": i, "symbolCount": 2, "parity": parity});
    let (status, r) =
        scan(&app, &token, &person, json!({"parts": [part(&raw[cut..], 1), part(&raw[..cut], 0)]})).await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    let whole = phr_formats::jahis::parse(&raw).unwrap();
    assert_eq!(r["created"].as_u64(), Some(whole.dispensings.len() as u64));
    // One symbol alone is kept until the other arrives.
    let (status, partial) = scan(&app, &token, &person, json!({"parts": [part(&raw[cut..], 1)]})).await;
    assert_eq!((status, partial["missing"].clone()), (StatusCode::ACCEPTED, json!([0])));
}

async fn unreadable_payloads_are_refused_with_the_parsers_code(app: TestApp) {
    let (token, _, person) = app.user("bad@example.jp").await;
    for (part, code) in [
        (json!({"text": "JAHIS10,1,1\r\n"}), "prescription_qr"),
        (json!({"text": "hello, world"}), "not_jahis"),
        (
            json!({"data": STANDARD.encode([0x4a, 0x41, 0x48, 0x49, 0x53, 0x54, 0x43, 0x30, 0x37, 0x0d, 0x0a, 0x31, 0x2c, 0x82, 0x0d])}),
            "undecodable_bytes",
        ),
    ] {
        let (status, body) = scan(&app, &token, &person, json!({"parts": [part]})).await;
        assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid_payload");
        assert!(body["errors"][0]["message"].as_str().unwrap().starts_with(code), "{code}: {body}");
    }
    let (status, body) = scan(&app, &token, &person, json!({"parts": [{"data": "%%%"}]})).await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(body["errors"][0]["path"], "parts/0/data");
    let (_, list) = app.get(&format!("/v1/persons/{person}/dispensings"), Some(&token)).await;
    assert_eq!(list["items"], json!([]), "nothing stored");
}

async fn qr_facts_fill_allergies_and_otc_without_duplicates(app: TestApp) {
    let (token, _, person) = app.user("facts@example.jp").await;
    for _ in 0..2 {
        scan(&app, &token, &person, json!({"parts": [{"text": text("tc07_spec24_example07.csv")}]})).await;
    }
    scan(&app, &token, &person, json!({"parts": [{"text": text("tc07_spec24_example11.csv")}]})).await;
    let (status, facts) = app.get(&format!("/v1/persons/{person}/facts"), Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    let items = facts["items"].as_array().unwrap();
    let allergy = items.iter().find(|f| f["kind"] == "allergy").expect("an allergy from record 2");
    assert_eq!(allergy["text"], "乳製品");
    assert_eq!((allergy["category"].as_str(), allergy["source"].as_str()), (Some("allergies"), Some("qr")));
    assert!(items.iter().any(|f| f["kind"] == "otc_drug" && f["category"] == "medications"), "{facts}");
    let texts: Vec<(&str, &str)> =
        items.iter().map(|f| (f["kind"].as_str().unwrap(), f["text"].as_str().unwrap())).collect();
    let unique: std::collections::BTreeSet<_> = texts.iter().collect();
    assert_eq!(unique.len(), texts.len(), "scanning twice adds nothing twice");
}

async fn current_medications_follow_the_days_supply(app: TestApp) {
    let (token, _, person) = app.user("current@example.jp").await;
    scan(&app, &token, &person, json!({"parts": [{"text": text("tc07_spec24_example09.csv")}]})).await;
    let (status, cur) =
        app.get(&format!("/v1/persons/{person}/medications/current?date=2020-04-12"), Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{cur}");
    assert!(!cur["regular"].as_array().unwrap().is_empty(), "{cur}");
    let as_needed = cur["asNeeded"].as_array().unwrap();
    assert!(
        as_needed.iter().any(|d| d["name"].as_str().unwrap().contains("ﾛｷｿﾆﾝ")),
        "頓服 listed apart: {cur}"
    );
    assert!(cur["regular"].as_array().unwrap().iter().all(|d| d["until"].as_str().unwrap() >= "2020-04-12"));
    let (_, later) =
        app.get(&format!("/v1/persons/{person}/medications/current?date=2020-09-01"), Some(&token)).await;
    assert_eq!((later["regular"].clone(), later["asNeeded"].clone()), (json!([]), json!([])));
}

async fn the_pharmacist_flow_works_end_to_end(app: TestApp) {
    let admin = admin(&app).await;
    let (patient, _, person) = app.user("patient@example.jp").await;
    let (pharmacy, pharmacist, pharmacist_account) = org_with_member(
        &app,
        &admin,
        "pharmacy",
        "工業会薬局 駅前店",
        "rx@pharmacy.example.jp",
        "pharmacist",
    )
    .await;
    let body = json!({"parts": [{"text": text("tc07_spec24_example04.csv")}]});
    let (status, _) = scan(&app, &pharmacist, &person, body.clone()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no access before the patient shares");
    // At the counter: the app shows a share code, the pharmacist scans it.
    let (status, sc) = app
        .post_json(&format!("/v1/persons/{person}/share-codes"), Some(&patient),
                   &json!({"orgId": pharmacy, "categories": ["medications", "allergies"], "access": "write", "ttlMinutes": 30}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{sc}");
    let (status, g) =
        app.post_json("/v1/share-codes/redeem", Some(&pharmacist), &json!({"code": sc["code"]})).await;
    assert_eq!(status, StatusCode::CREATED, "{g}");
    assert_eq!(
        (g["grantee"]["orgId"].as_str(), g["purpose"].as_str()),
        (Some(pharmacy.as_str()), Some("pharmacy"))
    );
    assert!(g["expiresAt"].is_string(), "ends with the code's time");
    let (status, r) = scan(&app, &pharmacist, &person, body).await;
    assert_eq!((status, r["created"].as_u64()), (StatusCode::CREATED, Some(1)), "{r}");
    let (_, cur) = app
        .get(&format!("/v1/persons/{person}/medications/current?date=2020-04-12"), Some(&pharmacist))
        .await;
    assert!(cur["regular"].is_array());
    let (_, mine) = app.get(&format!("/v1/persons/{person}/dispensings"), Some(&patient)).await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 1, "the patient sees what the pharmacy added");
    let (_, log) = app.get(&format!("/v1/persons/{person}/access-log"), Some(&patient)).await;
    let resources: Vec<&str> =
        log["items"].as_array().unwrap().iter().map(|e| e["resource"].as_str().unwrap()).collect();
    assert!(resources.contains(&"share-codes") && resources.contains(&"share-codes/redeem"), "{log}");
    assert!(resources.contains(&"medications/qr"), "{log}");
    let writer = log["items"].as_array().unwrap().iter().find(|e| e["resource"] == "medications/qr").unwrap();
    assert_eq!(
        (writer["actor"]["accountId"].as_str(), writer["actor"]["orgId"].as_str()),
        (Some(pharmacist_account.as_str()), Some(pharmacy.as_str()))
    );
    let (status, _) =
        app.post_json("/v1/share-codes/redeem", Some(&pharmacist), &json!({"code": sc["code"]})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "single use");
}

async fn the_history_exports_as_jahis_and_parses_back(app: TestApp) {
    let (token, _, person) = app.user("export@example.jp").await;
    for f in ["tc07_spec24_example01.csv", "tc07_spec24_example04.csv", "tc08_spec26_example11.txt"] {
        scan(&app, &token, &person, json!({"parts": [{"text": text(f)}]})).await;
    }
    let (_, list) = app.get(&format!("/v1/persons/{person}/dispensings?limit=100"), Some(&token)).await;
    let mut stored: Vec<Value> =
        list["items"].as_array().unwrap().iter().map(|d| d["dispensing"].clone()).collect();
    let res = app
        .client
        .get(app.url(&format!("/v1/persons/{person}/medications/jahis")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/csv; charset=Shift_JIS");
    let bytes = res.bytes().await.unwrap();
    let back = phr_formats::jahis::parse(&bytes).unwrap();
    assert_eq!(back.version.number, 8);
    let mut again: Vec<Value> = back.dispensings.iter().map(|d| serde_json::to_value(d).unwrap()).collect();
    let key = |v: &Value| serde_json::to_string(v).unwrap();
    stored.sort_by_key(key);
    again.sort_by_key(key);
    assert_eq!(again, stored, "parse(write(x)) == x");
    let (_, split) =
        app.get(&format!("/v1/persons/{person}/medications/jahis?part_size=600"), Some(&token)).await;
    let parts: Vec<Vec<u8>> = split["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| STANDARD.decode(p.as_str().unwrap()).unwrap())
        .collect();
    assert!(parts.len() > 1);
    let mut shuffled: Vec<phr_formats::jahis::Part<'_>> =
        parts.iter().map(|p| phr_formats::jahis::Part::new(p)).collect();
    shuffled.reverse();
    assert_eq!(phr_formats::jahis::parse_parts(&shuffled).unwrap().dispensings, back.dispensings);
}

async fn a_deleted_dispensing_comes_back_when_scanned_again(app: TestApp) {
    let (token, _, person) = app.user("undelete@example.jp").await;
    let body = json!({"parts": [{"text": text("tc07_spec24_example01.csv")}]});
    let (_, r) = scan(&app, &token, &person, body.clone()).await;
    let id = r["dispensings"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.delete(&format!("/v1/persons/{person}/dispensings/{id}"), Some(&token)).await.0,
        StatusCode::NO_CONTENT
    );
    let (_, list) = app.get(&format!("/v1/persons/{person}/dispensings"), Some(&token)).await;
    assert_eq!(list["items"], json!([]));
    let (status, again) = scan(&app, &token, &person, body).await;
    assert_eq!(
        (status, again["created"].as_u64()),
        (StatusCode::CREATED, Some(1)),
        "an explicit re-scan restores it"
    );
    assert_eq!(
        app.get(&format!("/v1/persons/{person}/dispensings/{id}"), Some(&token)).await.0,
        StatusCode::OK
    );
}

mod review {
    use super::*;

    both_databases!(a_medications_only_grant_adds_no_allergies);

    async fn a_medications_only_grant_adds_no_allergies(app: TestApp) {
        let admin = admin(&app).await;
        let (patient, _, person) = app.user("patient@example.jp").await;
        let (pharmacy, pharmacist, _) =
            org_with_member(&app, &admin, "pharmacy", "薬局", "rx@example.jp", "pharmacist").await;
        crate::consent::grant(
            &app,
            &patient,
            &person,
            json!({"orgId": pharmacy}),
            &["medications"],
            "write",
            "pharmacy",
        )
        .await;
        let (status, r) =
            scan(&app, &pharmacist, &person, json!({"parts": [{"text": text("tc07_spec24_example07.csv")}]}))
                .await;
        assert_eq!(status, StatusCode::CREATED, "{r}");
        let (_, facts) = app.get(&format!("/v1/persons/{person}/facts"), Some(&patient)).await;
        assert!(facts["items"].as_array().unwrap().iter().all(|f| f["category"] == "medications"), "{facts}");
    }
}

async fn preview(app: &TestApp, token: &str, person: &str, body: Value) -> (StatusCode, Value) {
    app.post_json(&format!("/v1/persons/{person}/medications/qr?preview=true"), Some(token), &body).await
}

async fn a_preview_reads_the_symbols_under_the_same_grant_and_stores_nothing(app: TestApp) {
    let admin = admin(&app).await;
    let (patient, _, person) = app.user("preview@example.jp").await;
    let (pharmacy, pharmacist, _) =
        org_with_member(&app, &admin, "pharmacy", "駅前薬局", "rx@preview.example.jp", "pharmacist").await;
    let receipt = json!({"parts": [{"text": text("tc07_spec24_example07.csv")}]});
    let (status, body) = preview(&app, &pharmacist, &person, receipt.clone()).await;
    assert_problem(status, &body, StatusCode::NOT_FOUND, "not_found");

    let (_, sc) = app
        .post_json(
            &format!("/v1/persons/{person}/share-codes"),
            Some(&patient),
            &json!({"orgId": pharmacy, "categories": ["medications", "allergies"], "access": "write"}),
        )
        .await;
    let (status, _) =
        app.post_json("/v1/share-codes/redeem", Some(&pharmacist), &json!({"code": sc["code"]})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, p) = preview(&app, &pharmacist, &person, receipt.clone()).await;
    assert_eq!(status, StatusCode::OK, "{p}");
    assert_eq!((p["complete"].as_bool(), p["missing"].clone()), (Some(true), json!([])));
    let d = &p["dispensings"][0];
    assert_eq!((d["alreadyStored"].as_bool(), d["dispensing"]["rps"].is_array()), (Some(false), true), "{p}");
    let facts: Vec<(&str, &str)> = p["facts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["kind"].as_str().unwrap(), f["text"].as_str().unwrap()))
        .collect();
    assert!(facts.contains(&("allergy", "乳製品")), "{p}");
    assert!(facts.iter().all(|(k, _)| *k != "patient_note" && *k != "memo"), "notes are not shared: {p}");

    // Nothing was written: no dispensing, no fact, and the patient's log names a preview.
    let (_, list) = app.get(&format!("/v1/persons/{person}/dispensings"), Some(&patient)).await;
    assert_eq!(list["items"], json!([]), "a preview stores no dispensing");
    let (_, stored_facts) = app.get(&format!("/v1/persons/{person}/facts"), Some(&patient)).await;
    assert_eq!(stored_facts["items"], json!([]), "a preview stores no fact");
    let (_, log) = app.get(&format!("/v1/persons/{person}/access-log"), Some(&patient)).await;
    assert!(
        log["items"].as_array().unwrap().iter().any(|e| e["resource"] == "medications/qr/preview"),
        "{log}"
    );

    // An incomplete set says what is missing and keeps no unfinished scan to continue.
    let (status, half) = preview(
        &app,
        &pharmacist,
        &person,
        json!({"parts": [{"text": text("tc08_spec26_split_part2of2.txt")}]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{half}");
    assert_eq!((half["complete"].as_bool(), half["missing"].clone()), (Some(false), json!([1])), "{half}");
    assert!(half.get("scanId").is_none(), "{half}");

    // Saving the same parts stores what the preview showed; a second preview knows it.
    let (status, saved) = scan(&app, &pharmacist, &person, receipt.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{saved}");
    assert_eq!(saved["dispensings"][0]["dispensing"], d["dispensing"], "the preview is what is stored");
    let (_, again) = preview(&app, &pharmacist, &person, receipt.clone()).await;
    assert_eq!(again["dispensings"][0]["alreadyStored"], true, "{again}");

    // Bad input is refused as the save refuses it, and a misspelt flag never saves.
    let (status, body) = preview(&app, &pharmacist, &person, json!({"parts": [{"text": "hello"}]})).await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid_payload");
    assert_eq!(body["errors"][0]["path"], "parts");
    let (status, body) = app
        .post_json(&format!("/v1/persons/{person}/medications/qr?previw=true"), Some(&pharmacist), &receipt)
        .await;
    assert_problem(status, &body, StatusCode::BAD_REQUEST, "bad_request");
    assert_eq!(body["errors"][0]["path"], "previw", "{body}");
    let (status, body) = app
        .post_json(&format!("/v1/persons/{person}/medications/qr?preview=maybe"), Some(&pharmacist), &receipt)
        .await;
    assert_problem(status, &body, StatusCode::BAD_REQUEST, "bad_request");
}
