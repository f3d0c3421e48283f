//! `GET /v1/persons/{personId}/export`: a record holding every data type,
//! exported as a FHIR Bundle, NDJSON and CSV, checked here for structure and
//! by `scripts/validate_fhir.py` (the `fhir.resources` R4 models) when
//! `PHR_FHIR_VALIDATOR` names a Python that has them (scripts/test.sh sets it).

use std::collections::{BTreeMap, BTreeSet};

use phr_tests::{StatusCode, TestApp, both_databases};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::clinical::{hospital_with_uploader, sample, upload};
use crate::consent::{admin, bp, grant, org_with_member};

both_databases!(
    a_full_record_exports_as_valid_fhir_ndjson_and_csv,
    a_grantee_exports_only_its_categories_and_is_logged
);

const LAB: &str =
    "999/901/9999013/20111220/OML-11/9999013_20111220_OML-11_000000011000354_20111220103059000_01_1";
const ALLERGIES: &str = "999/901/9999013/-/ADT-61/9999013_-_ADT-61_999999999999999_20111014232213000_-_1";
const DIAGNOSES: &str = "999/901/9999013/-/PPR-01/9999013_-_PPR-01_999999999999999_20111209163030000_01_1";
const RX: &str =
    "999/901/9999013/20110701/OMP-01/9999013_20110701_OMP-01_000000011000185_20110701224603984_01_1";

struct Record {
    patient: String,
    person: String,
    pharmacist: String,
}

/// A person with home readings (blood pressure, weight, steps, sleep,
/// exercise, glucose), a pharmacy QR, SS-MIX2 labs, prescriptions, allergies
/// and diagnoses from a hospital, and grants to family, the hospital and a pharmacy.
async fn full_record(app: &TestApp) -> Record {
    let admin = admin(app).await;
    let (hospital, clinician, facility) = hospital_with_uploader(app, &admin, "1311234567").await;
    let (patient, _, person) = app.user("kanja@example.jp").await;
    let res = app
        .client
        .patch(app.url(&format!("/v1/persons/{person}")))
        .bearer_auth(&patient)
        // The public sample files disagree on birth date and name: those come after the uploads.
        .json(&json!({"sex": "male"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{:?}", res.text().await);
    grant(app, &patient, &person, json!({"orgId": hospital}), &["labs", "medications"], "read", "treatment")
        .await;
    let (status, l) = app
        .post_json(
            &format!("/v1/persons/{person}/links"),
            Some(&clinician),
            &json!({"orgId": hospital, "localPatientId": "9999013"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{l}");
    for path in [RX, LAB, ALLERGIES, DIAGNOSES] {
        let (status, r) = upload(app, &facility, path, sample(path)).await;
        assert_eq!((status, r["status"].as_str()), (StatusCode::CREATED, Some("imported")), "{path}: {r}");
    }
    let res = app
        .client
        .patch(app.url(&format!("/v1/persons/{person}")))
        .bearer_auth(&patient)
        .json(&json!({"birthDate": "1948-04-05", "nameKana": "カンジャ タロウ"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{:?}", res.text().await);
    let observations = json!({"observations": [
        bp("2026-01-06T07:30:00+09:00"),
        {"id": Uuid::new_v4(), "kind": "body_weight", "value": 150, "unit": "lb",
         "effectiveAt": "2026-01-06T07:35:00+09:00", "source": {"method": "manual"}, "note": "朝食前"},
        {"id": Uuid::new_v4(), "kind": "steps", "value": 8123, "unit": "steps",
         "effectiveStart": "2026-01-05T00:00:00+09:00", "effectiveEnd": "2026-01-06T00:00:00+09:00",
         "source": {"app": "HealthKit", "method": "device", "device": "iPhone"}},
        {"id": Uuid::new_v4(), "kind": "sleep", "code": "deep",
         "effectiveStart": "2026-01-06T01:00:00+09:00", "effectiveEnd": "2026-01-06T02:00:00+09:00",
         "source": {"app": "HealthKit", "method": "imported"}},
        {"id": Uuid::new_v4(), "kind": "exercise", "text": "ウォーキング, 公園",
         "components": {"energy": {"value": 120, "unit": "kcal"}, "distance": {"value": 3.2, "unit": "km"}},
         "effectiveStart": "2026-01-06T17:00:00+09:00", "effectiveEnd": "2026-01-06T17:45:00+09:00",
         "source": {"app": "Google Fit", "method": "device", "device": "watch"}},
        {"id": Uuid::new_v4(), "kind": "blood_glucose", "value": 5.5, "unit": "mmol/L",
         "effectiveAt": "2026-01-06T08:00:00+09:00", "source": {"method": "manual"}},
    ]});
    let (status, r) = app
        .post_json(&format!("/v1/persons/{person}/observations/batch"), Some(&patient), &observations)
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert!(r["results"].as_array().unwrap().iter().all(|i| i["status"] == "created"), "{r}");
    let qr = json!({"parts": [{"text": crate::medications::text("tc07_spec24_example01.csv")}]});
    let (status, r) =
        app.post_json(&format!("/v1/persons/{person}/medications/qr"), Some(&patient), &qr).await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    let (family, family_account, _) = app.user("family@example.jp").await;
    let _ = family;
    grant(app, &patient, &person, json!({"accountId": family_account}), &["vitals"], "read", "family").await;
    let (pharmacy, pharmacist, _) =
        org_with_member(app, &admin, "pharmacy", "工業会薬局", "rx@pharmacy.example.jp", "pharmacist").await;
    grant(app, &patient, &person, json!({"orgId": pharmacy}), &["medications"], "write", "pharmacy").await;
    // Notes: the person's diary, and guidance from a programme nurse (enrolment is a fourth grant).
    let (tone, nurse, _) =
        org_with_member(app, &admin, "municipality", "利根町", "nurse@tone.example.jp", "nurse").await;
    let (status, prog) = app
        .post_json(
            &format!("/v1/orgs/{tone}/programs"),
            Some(&admin),
            &json!({"name": "重症化予防", "categories": ["vitals"], "purpose": "public_health"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{prog}");
    let program = prog["programId"].as_str().unwrap();
    let (status, _) =
        app.post_json(&format!("/v1/programs/{program}/enrollments"), Some(&patient), &json!({})).await;
    assert_eq!(status, StatusCode::CREATED);
    for (token, category, text) in
        [(&nurse, "guidance", "減塩を続けましょう。"), (&patient, "diary", "散歩 30 分")]
    {
        let (status, n) = app
            .post_json(
                &format!("/v1/persons/{person}/notes"),
                Some(token),
                &json!({"text": text, "category": category}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{n}");
    }
    Record { patient, person, pharmacist }
}

async fn download(app: &TestApp, person: &str, token: &str, format: &str) -> (String, String) {
    let res = app
        .client
        .get(app.url(&format!("/v1/persons/{person}/export?format={format}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let ct = res.headers()["content-type"].to_str().unwrap().to_owned();
    (ct, res.text().await.unwrap())
}

fn count_types(resources: &[Value]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for r in resources {
        *m.entry(r["resourceType"].as_str().unwrap().to_owned()).or_default() += 1;
    }
    m
}

/// Every `urn:uuid:` reference in a resource.
fn references(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("reference") {
                out.push(r.clone());
            }
            m.values().for_each(|v| references(v, out));
        }
        Value::Array(a) => a.iter().for_each(|v| references(v, out)),
        _ => {}
    }
}

/// Runs the independent validator on the files; skipped without one, except in CI.
fn validate(files: &[&std::path::Path]) {
    let python = match std::env::var("PHR_FHIR_VALIDATOR") {
        Ok(p) if !p.is_empty() => p,
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but PHR_FHIR_VALIDATOR is not set: run scripts/test.sh, which installs fhir.resources"
            );
            eprintln!("PHR_FHIR_VALIDATOR not set: FHIR validation skipped (scripts/test.sh sets it)");
            return;
        }
    };
    let script = format!("{}/../scripts/validate_fhir.py", env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new(&python).arg(&script).args(files).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "validator failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
}

async fn a_full_record_exports_as_valid_fhir_ndjson_and_csv(app: TestApp) {
    let rec = full_record(&app).await;
    let (ct, bundle) = download(&app, &rec.person, &rec.patient, "fhir").await;
    assert_eq!(ct, "application/fhir+json");
    let bundle: Value = serde_json::from_str(&bundle).unwrap();
    assert_eq!(
        (bundle["resourceType"].as_str(), bundle["type"].as_str()),
        (Some("Bundle"), Some("collection"))
    );
    let entries = bundle["entry"].as_array().unwrap();
    let resources: Vec<Value> = entries.iter().map(|e| e["resource"].clone()).collect();
    for e in entries {
        assert_eq!(e["fullUrl"], format!("urn:uuid:{}", e["resource"]["id"].as_str().unwrap()));
    }
    let ids: BTreeSet<String> = entries.iter().map(|e| e["fullUrl"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids.len(), entries.len(), "ids are unique");
    let mut refs = Vec::new();
    references(&bundle, &mut refs);
    let dangling: Vec<&String> = refs.iter().filter(|r| !ids.contains(*r)).collect();
    assert!(dangling.is_empty(), "every reference resolves inside the bundle: {dangling:?}");

    let counts = count_types(&resources);
    let n = |t: &str| counts.get(t).copied().unwrap_or(0);
    assert_eq!(n("Patient"), 1, "{counts:?}");
    assert_eq!(n("Observation"), 6 + 3, "six home readings and the three lab results: {counts:?}");
    assert_eq!(n("MedicationRequest"), 3, "{counts:?}");
    assert!(n("MedicationDispense") >= 2, "{counts:?}");
    assert!(n("AllergyIntolerance") >= 1, "{counts:?}");
    assert!(n("Condition") >= 1, "{counts:?}");
    assert_eq!(n("Consent"), 4, "one per grant in force: {counts:?}");
    assert_eq!(n("Organization"), 3, "the hospital, the pharmacy and the municipality: {counts:?}");
    assert!(n("Communication") >= 2, "the guidance and the diary: {counts:?}");
    let items = resources.len() - n("Provenance") - n("Patient") - n("Organization");
    assert_eq!(n("Provenance"), items, "one Provenance per item: {counts:?}");

    let patient = &resources[0];
    assert_eq!(
        (patient["gender"].as_str(), patient["birthDate"].as_str()),
        (Some("male"), Some("1948-04-05"))
    );
    let bp = resources.iter().find(|r| r["code"]["coding"][0]["code"] == "85354-9").unwrap();
    assert_eq!(bp["category"][0]["coding"][0]["code"], "vital-signs");
    assert_eq!(bp["component"][0]["valueQuantity"]["code"], "mm[Hg]");
    let weight = resources.iter().find(|r| r["code"]["coding"][0]["code"] == "29463-7").unwrap();
    assert_eq!(weight["valueQuantity"]["code"], "kg", "canonical unit: {weight}");
    let lab = resources
        .iter()
        .find(|r| {
            r["resourceType"] == "Observation"
                && r["category"][0]["coding"][0]["code"] == "laboratory"
                && r["code"]["coding"][0]["system"] == "http://medis.or.jp/CodeSystem/master-JLAC10-17digits"
        })
        .expect("a JLAC10-coded lab result");
    assert!(lab["referenceRange"].is_array(), "{lab}");
    let rx = resources.iter().find(|r| r["resourceType"] == "MedicationRequest").unwrap();
    assert_eq!(rx["medicationCodeableConcept"]["coding"][0]["system"], "urn:oid:1.2.392.200119.4.403.1");
    let hospital = resources.iter().find(|r| r["resourceType"] == "Organization").unwrap();
    assert_eq!(hospital["identifier"][0]["value"], "1311234567");

    let (ct, ndjson) = download(&app, &rec.person, &rec.patient, "ndjson").await;
    assert_eq!(ct, "application/fhir+ndjson");
    let lines: Vec<Value> = ndjson.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(count_types(&lines), counts, "the same resources, one per line");

    let (ct, csv) = download(&app, &rec.person, &rec.patient, "csv").await;
    assert!(ct.starts_with("text/csv"), "{ct}");
    let rows: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert!(rows[0].starts_with("observation_id,category,code_system,code,name,component,value,unit"));
    // bp 2 rows, weight, steps, sleep, exercise 2 components, glucose, 3 labs.
    assert_eq!(rows.len(), 1 + 2 + 1 + 1 + 1 + 2 + 1 + 3, "{csv}");
    assert!(rows.iter().any(|r| r.contains(",systolic,150,mm[Hg],")), "{csv}");

    let dir = tempfile::tempdir().unwrap();
    let bundle_file = dir.path().join("record.json");
    let ndjson_file = dir.path().join("record.ndjson");
    std::fs::write(&bundle_file, serde_json::to_vec(&bundle).unwrap()).unwrap();
    std::fs::write(&ndjson_file, ndjson).unwrap();
    if let Ok(keep) = std::env::var("PHR_FHIR_EXPORT_DIR") {
        std::fs::copy(&bundle_file, format!("{keep}/record.json")).unwrap();
    }
    validate(&[&bundle_file, &ndjson_file]);
}

async fn a_grantee_exports_only_its_categories_and_is_logged(app: TestApp) {
    let rec = full_record(&app).await;
    let (_, bundle) = download(&app, &rec.person, &rec.pharmacist, "fhir").await;
    let bundle: Value = serde_json::from_str(&bundle).unwrap();
    let resources: Vec<Value> =
        bundle["entry"].as_array().unwrap().iter().map(|e| e["resource"].clone()).collect();
    let types: BTreeSet<String> = count_types(&resources).into_keys().collect();
    let expected: BTreeSet<String> = [
        "Patient",
        "MedicationRequest",
        "MedicationDispense",
        "Organization",
        "Provenance",
        "MedicationStatement",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert!(types.is_subset(&expected), "a medications grant shows medications only: {types:?}");
    assert!(types.contains("MedicationDispense"), "{types:?}");
    let (_, csv) = download(&app, &rec.person, &rec.pharmacist, "csv").await;
    assert_eq!(csv.split("\r\n").filter(|l| !l.is_empty()).count(), 1, "no observations: header only");

    let (status, log) = app.get(&format!("/v1/persons/{}/access-log", rec.person), Some(&rec.patient)).await;
    assert_eq!(status, StatusCode::OK, "{log}");
    let exports = log["items"].as_array().unwrap().iter().filter(|e| e["resource"] == "export").count();
    assert_eq!(exports, 2, "both of the pharmacist's exports are logged: {log}");
    let (_, own) = download(&app, &rec.person, &rec.patient, "fhir").await;
    assert!(!own.is_empty());
    let (_, log) = app.get(&format!("/v1/persons/{}/access-log", rec.person), Some(&rec.patient)).await;
    let exports = log["items"].as_array().unwrap().iter().filter(|e| e["resource"] == "export").count();
    assert_eq!(exports, 2, "the person's own export is not logged");
    let res = app
        .client
        .get(app.url(&format!("/v1/persons/{}/export?format=xml", rec.person)))
        .bearer_auth(&rec.patient)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}
