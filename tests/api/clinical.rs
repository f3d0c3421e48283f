use phr_tests::{StatusCode, TestApp, assert_problem, both_databases};
use serde_json::{Value, json};

use crate::consent::{admin, grant, org_with_member};

both_databases!(quarantined_lab_results_are_imported_when_the_patient_is_linked);

const LAB: &str =
    "999/901/9999013/20111220/OML-11/9999013_20111220_OML-11_000000011000354_20111220103059000_01_1";
const ALLERGIES: &str = "999/901/9999013/-/ADT-61/9999013_-_ADT-61_999999999999999_20111014232213000_-_1";
const DIAGNOSES: &str = "999/901/9999013/-/PPR-01/9999013_-_PPR-01_999999999999999_20111209163030000_01_1";
const RX: &str =
    "999/901/9999013/20110701/OMP-01/9999013_20110701_OMP-01_000000011000185_20110701224603984_01_1";

fn sample(path: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../formats/tests/fixtures/ssmix2/storage/{path}", env!("CARGO_MANIFEST_DIR")))
        .unwrap()
}

async fn upload(app: &TestApp, token: &str, path: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
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
