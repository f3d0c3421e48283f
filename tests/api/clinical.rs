use phr_tests::{StatusCode, TestApp, assert_problem, both_databases};
use serde_json::{Value, json};

use crate::consent::{admin, grant, org_with_member};

both_databases!(quarantined_lab_results_are_imported_when_the_patient_is_linked);
both_databases!(timeline_shows_every_source_and_links_a_dispensing_to_its_prescription);
both_databases!(documents_whose_demographics_disagree_wait_for_the_persons_review);
both_databases!(a_clinic_measured_weight_fires_a_single_reading_rule);

pub const LAB: &str =
    "999/901/9999013/20111220/OML-11/9999013_20111220_OML-11_000000011000354_20111220103059000_01_1";
const ALLERGIES: &str = "999/901/9999013/-/ADT-61/9999013_-_ADT-61_999999999999999_20111014232213000_-_1";
const DIAGNOSES: &str = "999/901/9999013/-/PPR-01/9999013_-_PPR-01_999999999999999_20111209163030000_01_1";
pub const RX: &str =
    "999/901/9999013/20110701/OMP-01/9999013_20110701_OMP-01_000000011000185_20110701224603984_01_1";

pub fn sample(path: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../formats/tests/fixtures/ssmix2/storage/{path}", env!("CARGO_MANIFEST_DIR")))
        .unwrap()
}

pub async fn upload(app: &TestApp, token: &str, path: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
    let res = app
        .client
        .post(app.url(&format!("/v1/ingest/ssmix2?path={path}")))
        .bearer_auth(token)
        .header("content-type", "application/octet-stream")
        .body(bytes)
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap())
}

async fn quarantined_lab_results_are_imported_when_the_patient_is_linked(app: TestApp) {
    let admin = admin(&app).await;
    let (hospital, clinician, _) =
        org_with_member(&app, &admin, "hospital", "国立病院機構", "dr@nho.example.jp", "clinician").await;
    let (_, it_admin, _) = app.user("it@nho.example.jp").await;
    let (status, _) = app
        .post_json(
            &format!("/v1/orgs/{hospital}/members"),
            Some(&admin),
            &json!({"accountId": it_admin, "role": "admin"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let it = app.sign_in("it@nho.example.jp", "correct horse battery").await;
    let (_, client) = app
        .post_json(
            &format!("/v1/orgs/{hospital}/clients"),
            it["access_token"].as_str(),
            &json!({"name": "uploader"}),
        )
        .await;
    let (_, tok) = app
        .post_form(
            "/v1/auth/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", client["clientId"].as_str().unwrap()),
                ("client_secret", client["clientSecret"].as_str().unwrap()),
            ],
        )
        .await;
    let facility = tok["access_token"].as_str().unwrap().to_owned();

    // The lab file arrives before anyone linked patient 9999013: kept, not dropped.
    let (status, r) = upload(&app, &facility, LAB, sample(LAB)).await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    assert_eq!(r["status"], "quarantined");
    let (status, again) = upload(&app, &facility, LAB, sample(LAB)).await;
    assert_eq!(
        (status, again["duplicate"].as_bool()),
        (StatusCode::OK, Some(true)),
        "re-sending changes nothing"
    );
    let (status, body) = upload(&app, &facility, LAB, b"MSH|garbage".to_vec()).await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid_payload");
    let (status, _) = upload(&app, "not-a-token", LAB, sample(LAB)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (patient, _, person) = app.user("kanja@example.jp").await;
    // The person cannot link themselves; the facility needs their treatment grant first.
    let link = json!({"orgId": hospital, "localPatientId": "9999013"});
    let (status, _) = app.post_json(&format!("/v1/persons/{person}/links"), Some(&patient), &link).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.post_json(&format!("/v1/persons/{person}/links"), Some(&clinician), &link).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    grant(&app, &patient, &person, json!({"orgId": hospital}), &["labs", "medications"], "read", "treatment")
        .await;
    let (status, l) = app.post_json(&format!("/v1/persons/{person}/links"), Some(&clinician), &link).await;
    assert_eq!(status, StatusCode::CREATED, "{l}");
    assert_eq!(l["imported"], 1, "the quarantined document came in");

    let (status, labs) = app.get(&format!("/v1/persons/{person}/labs"), Some(&patient)).await;
    assert_eq!(status, StatusCode::OK, "{labs}");
    let items = labs["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{labs}");
    let tp = items.iter().find(|r| r["name"] == "総蛋白").expect("総蛋白");
    assert_eq!(
        (tp["value"].as_str(), tp["numeric"].as_f64(), tp["unit"].as_str()),
        (Some("7.2"), Some(7.2), Some("g/dl"))
    );
    assert_eq!((tp["referenceLow"].as_f64(), tp["referenceHigh"].as_f64()), (Some(6.7), Some(8.3)));
    assert_eq!(tp["specimen"], "血清");
    assert_eq!(tp["orgId"], hospital.as_str());
    let alb = items.iter().find(|r| r["name"] == "アルブミン").unwrap();
    assert_eq!(alb["value"], "4.9");

    // Linked now: the next file imports straight away.
    let (status, r) = upload(&app, &facility, RX, sample(RX)).await;
    assert_eq!((status, r["status"].as_str()), (StatusCode::CREATED, Some("imported")));
    let (status, rx) = app.get(&format!("/v1/persons/{person}/prescriptions"), Some(&patient)).await;
    assert_eq!(status, StatusCode::OK, "{rx}");
    let drugs = rx["items"].as_array().unwrap();
    assert_eq!(drugs.len(), 3, "{rx}");
    let darzen = drugs.iter().find(|d| d["drugCode"] == "108665201").expect("ダーゼン錠");
    assert_eq!(
        (darzen["drugSystem"].as_str(), darzen["drugName"].as_str()),
        (Some("HOT9"), Some("ダーゼン錠（５mg)"))
    );
    assert_eq!(
        (darzen["dose"].as_f64(), darzen["dailyDose"].as_f64(), darzen["days"].as_i64()),
        (Some(1.0), Some(3.0), Some(5))
    );
    assert_eq!(darzen["route"], "PO");
    let (_, log) = app.get(&format!("/v1/persons/{person}/access-log"), Some(&patient)).await;
    let upload_entry =
        log["items"].as_array().unwrap().iter().find(|e| e["resource"] == "ssmix2/OMP-01").expect("logged");
    assert_eq!(
        (upload_entry["actor"]["orgId"].as_str(), upload_entry["action"].as_str()),
        (Some(hospital.as_str()), Some("write"))
    );
    assert_eq!(upload_entry["actor"]["orgName"], "国立病院機構");
    let (_, links) = app.get(&format!("/v1/persons/{person}/links"), Some(&patient)).await;
    assert_eq!(links["items"][0]["localPatientId"], "9999013");

    // Allergies and diagnoses join the record as facts from the facility.
    upload(&app, &facility, ALLERGIES, sample(ALLERGIES)).await;
    upload(&app, &facility, DIAGNOSES, sample(DIAGNOSES)).await;
    let (_, facts) = app.get(&format!("/v1/persons/{person}/facts"), Some(&patient)).await;
    let texts: Vec<(&str, &str, &str)> = facts["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (f["category"].as_str().unwrap(), f["text"].as_str().unwrap(), f["source"].as_str().unwrap())
        })
        .collect();
    assert!(
        texts.iter().any(|(c, t, s)| *c == "allergies" && t.starts_with("スギ") && *s == "ssmix2"),
        "{facts}"
    );
    assert!(texts.iter().any(|(c, t, _)| *c == "conditions" && *t == "胃炎 (ICD-10 K297)"), "{facts}");

    // The hospital withdraws the lab results: the same key with condition flag 0.
    let deleted = format!("{}0", &LAB[..LAB.len() - 1]);
    let (status, r) = upload(&app, &facility, &deleted, sample(LAB)).await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    let (_, labs) = app.get(&format!("/v1/persons/{person}/labs"), Some(&patient)).await;
    assert_eq!(labs["items"], json!([]), "what the earlier file brought is gone");
}

pub const ADT00: &str = "999/901/9999013/-/ADT-00/9999013_-_ADT-00_999999999999999_20111220224447339_-_1";
const ORDERS: &str =
    "999/901/9999013/20111220/OML-01/9999013_20111220_OML-01_000000011000354_20111220103059123_15_1";

/// A hospital with the 10-digit institution code `code`, a clinician, and a
/// client-credentials token of its upload client: (org id, clinician token, facility token).
pub async fn hospital_with_uploader(app: &TestApp, admin: &str, code: &str) -> (String, String, String) {
    let (status, org) = app
        .post_json(
            "/v1/orgs",
            Some(admin),
            &json!({"kind": "hospital", "name": "国立病院機構テスト病院", "code": code}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{org}");
    let hospital = org["orgId"].as_str().unwrap().to_owned();
    let (clinician, account, _) = app.user(&format!("dr-{code}@example.jp")).await;
    let (status, _) = app
        .post_json(
            &format!("/v1/orgs/{hospital}/members"),
            Some(admin),
            &json!({"accountId": account, "role": "clinician"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, client) = app
        .post_json(&format!("/v1/orgs/{hospital}/clients"), Some(admin), &json!({"name": "uploader"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{client}");
    let (_, tok) = app
        .post_form(
            "/v1/auth/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", client["clientId"].as_str().unwrap()),
                ("client_secret", client["clientSecret"].as_str().unwrap()),
            ],
        )
        .await;
    (hospital, clinician, tok["access_token"].as_str().unwrap().to_owned())
}

/// The sample patient 9999013 (患者 太郎, カンジャ タロウ, 1948-04-05, male) as a
/// person of this service, linked to the hospital: (patient token, person id).
pub async fn linked_patient(
    app: &TestApp,
    hospital: &str,
    clinician: &str,
    demographics: Value,
) -> (String, String) {
    let (patient, _, person) = app.user("kanja@example.jp").await;
    let (status, p) = app
        .client
        .patch(app.url(&format!("/v1/persons/{person}")))
        .bearer_auth(&patient)
        .json(&demographics)
        .send()
        .await
        .map(|r| (r.status(), r))
        .unwrap();
    assert_eq!(status, StatusCode::OK, "{:?}", p.text().await);
    grant(app, &patient, &person, json!({"orgId": hospital}), &["labs", "medications"], "read", "treatment")
        .await;
    let (status, l) = app
        .post_json(
            &format!("/v1/persons/{person}/links"),
            Some(clinician),
            &json!({"orgId": hospital, "localPatientId": "9999013"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{l}");
    (patient, person)
}

/// A pharmacy's QR record of 2011-07-02 filling the hospital's 2011-07-01
/// prescription: prescriber 13-1-1234567, ダーゼン錠 by its 13-digit HOT code.
const FILLING_QR: &str = "JAHISTC08,1\r\n1,カンジャ タロウ,1,19480405\r\n5,20110702,1\r\n11,テスト薬局,13,4,7654321,,,,1\r\n51,国立病院機構テスト病院,13,1,1234567,1\r\n201,1,ダーゼン錠５ｍｇ,3,錠,6,1086652010101,1\r\n301,1,【分３ 毎食後服用】,5,日分,1,1,,1\r\n";

async fn timeline_shows_every_source_and_links_a_dispensing_to_its_prescription(app: TestApp) {
    let admin = admin(&app).await;
    let (hospital, clinician, facility) = hospital_with_uploader(&app, &admin, "1311234567").await;
    let (patient, person) = linked_patient(
        &app,
        &hospital,
        &clinician,
        // The public sample files disagree on birth date and name; sex they share.
        json!({"sex": "male"}),
    )
    .await;
    for path in [RX, LAB, ALLERGIES, ADT00, ORDERS] {
        let (status, r) = upload(&app, &facility, path, sample(path)).await;
        assert_eq!((status, r["status"].as_str()), (StatusCode::CREATED, Some("imported")), "{path}: {r}");
    }
    // Home readings: one from a cuff, one typed in; and the pharmacy's QR.
    let typed = json!({"id": uuid::Uuid::new_v4(), "kind": "body_weight", "effectiveAt": "2011-12-21T07:00:00+09:00",
                       "value": 64.2, "unit": "kg", "source": {"app": "PHR app", "method": "manual"}});
    let (status, r) = app
        .post_json(
            &format!("/v1/persons/{person}/observations/batch"),
            Some(&patient),
            &json!({"observations": [crate::consent::bp("2011-12-21T07:05:00+09:00"), typed]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    let (status, r) = app
        .post_json(
            &format!("/v1/persons/{person}/medications/qr"),
            Some(&patient),
            &json!({"parts": [{"text": FILLING_QR}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    let dispensing = r["dispensings"][0]["id"].as_str().unwrap().to_owned();

    let (status, all) = app.get(&format!("/v1/persons/{person}/timeline?limit=500"), Some(&patient)).await;
    assert_eq!(status, StatusCode::OK, "{all}");
    let items = all["items"].as_array().unwrap();
    let kinds: std::collections::BTreeSet<(&str, &str)> =
        items.iter().map(|i| (i["type"].as_str().unwrap(), i["source"]["kind"].as_str().unwrap())).collect();
    for want in [
        ("observation", "device"),
        ("observation", "app"),
        ("lab_result", "facility"),
        ("prescription", "facility"),
        ("dispensing", "pharmacy"),
        ("allergy", "facility"),
        ("document", "facility"),
    ] {
        assert!(kinds.contains(&want), "{want:?} missing from {kinds:?}");
    }
    let ats: Vec<&str> = items.iter().map(|i| i["at"].as_str().unwrap()).collect();
    let parsed: Vec<chrono::DateTime<chrono::FixedOffset>> =
        ats.iter().map(|a| chrono::DateTime::parse_from_rfc3339(a).unwrap()).collect();
    assert!(parsed.windows(2).all(|w| w[0] >= w[1]), "newest first: {ats:?}");
    let lab = items.iter().find(|i| i["type"] == "lab_result").unwrap();
    assert_eq!(
        (lab["source"]["code"].as_str(), lab["source"]["orgId"].as_str()),
        (Some("1311234567"), Some(hospital.as_str()))
    );
    let document = items.iter().find(|i| i["type"] == "document").unwrap();
    assert_eq!(document["data"]["dataKind"], "OML-01");

    // The dispensing fills the hospital's ダーゼン prescription, and only that one.
    let d = items.iter().find(|i| i["id"] == dispensing.as_str()).unwrap();
    let links = d["links"].as_array().expect("linked");
    assert_eq!(links.len(), 1, "{d}");
    let rx = items.iter().find(|i| i["id"] == links[0]["id"]).unwrap();
    assert_eq!(
        (rx["type"].as_str(), rx["data"]["drugCode"].as_str()),
        (Some("prescription"), Some("108665201"))
    );
    assert_eq!(links[0]["relation"], "fills");
    assert_eq!(rx["links"][0]["id"], dispensing.as_str());
    let other =
        items.iter().find(|i| i["type"] == "prescription" && i["data"]["drugCode"] == "110626901").unwrap();
    assert!(other.get("links").is_none(), "パンスポリン was not dispensed: {other}");

    // Small pages walk the same items, each once.
    let mut walked = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("/v1/persons/{person}/timeline?limit=2&cursor={c}"),
            None => format!("/v1/persons/{person}/timeline?limit=2"),
        };
        let (status, page) = app.get(&url, Some(&patient)).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        walked.extend(page["items"].as_array().unwrap().iter().map(|i| i["id"].clone()));
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let full: Vec<Value> = items.iter().map(|i| i["id"].clone()).collect();
    assert_eq!(walked, full);

    // Filters: categories and range.
    let (_, labs_only) =
        app.get(&format!("/v1/persons/{person}/timeline?categories=labs"), Some(&patient)).await;
    assert!(labs_only["items"].as_array().unwrap().iter().all(|i| i["category"] == "labs"), "{labs_only}");
    let (_, july) = app
        .get(&format!("/v1/persons/{person}/timeline?from=2011-07-01&to=2011-07-03"), Some(&patient))
        .await;
    let july_types: Vec<&str> =
        july["items"].as_array().unwrap().iter().map(|i| i["type"].as_str().unwrap()).collect();
    assert!(
        !july_types.is_empty() && july_types.iter().all(|t| *t == "prescription" || *t == "dispensing"),
        "{july_types:?}"
    );
    let (status, body) =
        app.get(&format!("/v1/persons/{person}/timeline?categories=blood"), Some(&patient)).await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(body["errors"][0]["path"], "categories");

    // A family member who reads vitals sees home readings only.
    let (family, family_account, _) = app.user("musume@example.jp").await;
    grant(&app, &patient, &person, json!({"accountId": family_account}), &["vitals"], "read", "family").await;
    let (_, theirs) = app.get(&format!("/v1/persons/{person}/timeline"), Some(&family)).await;
    let their_items = theirs["items"].as_array().unwrap();
    assert_eq!(their_items.len(), 2, "{theirs}");
    assert!(their_items.iter().all(|i| i["type"] == "observation"));
    let (status, _) = app.get(&format!("/v1/persons/{person}/timeline?categories=labs"), Some(&family)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // ADT-00's weight is a clinic measurement: in the lab series and beside home weights.
    let (status, series) = app.get(&format!("/v1/persons/{person}/labs/9N006/series"), Some(&patient)).await;
    assert_eq!(status, StatusCode::OK, "{series}");
    assert_eq!((series["analyte"].as_str(), series["name"].as_str()), (Some("9N006"), Some("体重")));
    assert_eq!(series["points"][0]["numeric"], 63.5);
    assert_eq!(series["points"][0]["observedAt"], "2011-12-20T12:00:00Z", "EVN-6, 21:00 in Japan");
    let (_, by_full_code) =
        app.get(&format!("/v1/persons/{person}/labs/9N006000000000001/series"), Some(&patient)).await;
    assert_eq!(by_full_code["points"], series["points"]);
    let summary_url = format!(
        "/v1/persons/{person}/observations/summary?kind=body_weight&bucket=month&from=2011-01-01&to=2012-01-01"
    );
    let (status, summary) = app.get(&summary_url, Some(&patient)).await;
    assert_eq!(status, StatusCode::OK, "{summary}");
    assert_eq!(summary["clinic"].as_array().unwrap().len(), 1, "{summary}");
    assert_eq!(
        (summary["clinic"][0]["value"].as_f64(), summary["clinic"][0]["measuredBy"].as_str()),
        (Some(63.5), Some("clinic"))
    );
    let december = summary["buckets"].as_array().unwrap().iter().find(|b| b["count"] == 1).unwrap();
    assert_eq!(december["mean"], 64.2, "home readings stay in the buckets: {december}");
    let (_, family_summary) = app.get(&summary_url, Some(&family)).await;
    assert_eq!(family_summary["clinic"], json!([]), "no labs grant, no clinic values");
}

async fn documents_whose_demographics_disagree_wait_for_the_persons_review(app: TestApp) {
    let admin = admin(&app).await;
    let (hospital, clinician, facility) = hospital_with_uploader(&app, &admin, "1311234567").await;
    // A lab result waits in quarantine. The public sample files disagree among
    // themselves: this one gives the patient's birth date as 1970-04-05.
    let (status, _) = upload(&app, &facility, LAB, sample(LAB)).await;
    assert_eq!(status, StatusCode::CREATED);
    let (patient, person) = linked_patient(
        &app,
        &hospital,
        &clinician,
        json!({"nameKana": "かんじゃ たろう", "birthDate": "1948-04-05", "sex": "male"}),
    )
    .await;
    let (_, labs) = app.get(&format!("/v1/persons/{person}/labs"), Some(&patient)).await;
    assert_eq!(labs["items"], json!([]), "not imported silently");
    let (status, held) =
        app.get(&format!("/v1/persons/{person}/clinical-documents?status=held"), Some(&patient)).await;
    assert_eq!(status, StatusCode::OK, "{held}");
    assert_eq!(held["items"].as_array().unwrap().len(), 1, "{held}");
    let reason = held["items"][0]["holdReason"].as_str().unwrap();
    assert_eq!(reason, "birthDate: 1948-04-05 vs 1970-04-05", "kana folds hiragana to katakana");
    let doc = held["items"][0]["documentId"].as_str().unwrap().to_owned();

    // The person confirms it is theirs: it comes in.
    let (status, r) =
        app.post(&format!("/v1/persons/{person}/clinical-documents/{doc}/accept"), Some(&patient)).await;
    assert_eq!((status, r["status"].as_str()), (StatusCode::OK, Some("imported")), "{r}");
    let (_, labs) = app.get(&format!("/v1/persons/{person}/labs"), Some(&patient)).await;
    assert_eq!(labs["items"].as_array().unwrap().len(), 3);
    let (status, body) =
        app.post(&format!("/v1/persons/{person}/clinical-documents/{doc}/accept"), Some(&patient)).await;
    assert_problem(status, &body, StatusCode::CONFLICT, "conflict");

    // A file that agrees imports at once.
    let (status, r) = upload(&app, &facility, RX, sample(RX)).await;
    assert_eq!((status, r["status"].as_str()), (StatusCode::CREATED, Some("imported")), "{r}");

    // One for ヤマダ タロウ, born 1965, under the same patient ID: held, rejected, stays out.
    let (status, r) = upload(&app, &facility, ALLERGIES, sample(ALLERGIES)).await;
    assert_eq!((status, r["status"].as_str()), (StatusCode::CREATED, Some("held")), "{r}");
    let allergy_doc = r["documentId"].as_str().unwrap();
    let (_, held) =
        app.get(&format!("/v1/persons/{person}/clinical-documents?status=held"), Some(&patient)).await;
    let reason = held["items"][0]["holdReason"].as_str().unwrap();
    assert!(
        reason.contains("birthDate") && reason.contains("nameKana: かんじゃ たろう vs ヤマダ タロウ"),
        "{reason}"
    );
    let (status, r) = app
        .post(&format!("/v1/persons/{person}/clinical-documents/{allergy_doc}/reject"), Some(&patient))
        .await;
    assert_eq!((status, r["status"].as_str()), (StatusCode::OK, Some("rejected")), "{r}");
    let (_, facts) = app.get(&format!("/v1/persons/{person}/facts"), Some(&patient)).await;
    assert_eq!(facts["items"], json!([]), "{facts}");
    let (status, _) = app
        .post(&format!("/v1/persons/{person}/clinical-documents/{allergy_doc}/accept"), Some(&patient))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "a rejected document stays rejected");

    let res = app
        .client
        .patch(app.url(&format!("/v1/persons/{person}")))
        .bearer_auth(&patient)
        .json(&json!({"nameKana": "患者 太郎"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["errors"][0]["path"], "nameKana", "{body}");
}

async fn a_clinic_measured_weight_fires_a_single_reading_rule(app: TestApp) {
    let admin = admin(&app).await;
    let (hospital, clinician, facility) = hospital_with_uploader(&app, &admin, "1311234567").await;
    let (patient, person) = linked_patient(&app, &hospital, &clinician, json!({"sex": "male"})).await;
    for rule in [
        json!({"kind": "body_weight", "op": ">=", "threshold": 63}),
        json!({"kind": "body_weight", "op": ">=", "threshold": 60, "consecutive": 2}),
    ] {
        let (status, r) =
            app.post_json(&format!("/v1/persons/{person}/alert-rules"), Some(&patient), &rule).await;
        assert_eq!(status, StatusCode::CREATED, "{r}");
    }
    let (status, _) = upload(&app, &facility, ADT00, sample(ADT00)).await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, alerts) = app.get("/v1/alerts?status=open", Some(&patient)).await;
    let items = alerts["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "only the single-reading rule: {alerts}");
    assert_eq!((items[0]["source"].as_str(), items[0]["value"].as_f64()), (Some("lab_result"), Some(63.5)));
    let (_, series) = app.get(&format!("/v1/persons/{person}/labs/9N006/series"), Some(&patient)).await;
    assert_eq!(items[0]["observationId"], series["points"][0]["labResultId"]);
    let (_, inbox) = app.get("/v1/notifications", Some(&patient)).await;
    let events: Vec<&str> =
        inbox["items"].as_array().unwrap().iter().map(|n| n["event"].as_str().unwrap()).collect();
    assert!(events.contains(&"alert") && events.contains(&"clinical_data"), "{events:?}");
}
