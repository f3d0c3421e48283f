use phr_tests::{StatusCode, TestApp, assert_problem, both_databases};
use serde_json::{Value, json};
use uuid::Uuid;

both_databases!(
    every_kind_is_stored_canonically_with_its_original,
    every_kind_refuses_values_outside_its_range,
    retrying_a_batch_changes_nothing,
    same_id_with_other_content_is_a_conflict,
    the_same_sample_from_two_phones_is_stored_once,
    two_phones_uploading_the_same_samples_at_once_store_each_once,
    invalid_items_are_rejected_alone_and_the_rest_stored,
    bad_input_is_named_precisely,
    whole_request_errors_store_nothing,
    pagination_has_no_gaps_or_repeats_under_concurrent_inserts,
    list_filters_by_kind_category_and_time,
    daily_summary_follows_the_jst_day_boundary,
    blood_pressure_is_summarised_per_component,
    latest_returns_the_newest_of_each_kind,
    deleted_observations_vanish_and_keep_their_id,
    another_accounts_record_is_not_found,
    catalogue_lists_every_kind,
);

fn id() -> String {
    Uuid::new_v4().to_string()
}

fn src() -> Value {
    json!({"app": "HealthKit", "device": "iphone-A", "method": "device"})
}

async fn upload(app: &TestApp, token: &str, person: &str, items: Vec<Value>) -> Vec<Value> {
    let (status, body) = app
        .post_json(
            &format!("/v1/persons/{person}/observations/batch"),
            Some(token),
            &json!({"observations": items}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["results"].as_array().unwrap().clone()
}

async fn get_obs(app: &TestApp, token: &str, person: &str, id: &str) -> Value {
    let (status, body) = app.get(&format!("/v1/persons/{person}/observations/{id}"), Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// (item, expected canonical value or components) for every kind, in a non-canonical unit where one exists.
fn one_of_each_kind() -> Vec<(Value, Value)> {
    let at = "2026-01-06T07:30:00+09:00";
    let (s, e) = ("2026-01-06T00:00:00+09:00", "2026-01-07T00:00:00+09:00");
    let q = |kind: &str, value: f64, unit: &str| json!({"id": id(), "kind": kind, "value": value, "unit": unit, "effectiveAt": at, "source": src()});
    let iv = |kind: &str, value: f64, unit: &str| json!({"id": id(), "kind": kind, "value": value, "unit": unit, "effectiveStart": s, "effectiveEnd": e, "source": src()});
    vec![
        (
            json!({"id": id(), "kind": "blood_pressure", "effectiveAt": at, "source": src(),
                "components": {"systolic": {"value": 142, "unit": "mmHg"}, "diastolic": {"value": 91, "unit": "mm[Hg]"}, "pulse": {"value": 72, "unit": "bpm"}}}),
            json!({"systolic": [142.0, "mm[Hg]"], "diastolic": [91.0, "mm[Hg]"], "pulse": [72.0, "/min"]}),
        ),
        (q("heart_rate", 64.0, "/min"), json!([64.0, "/min"])),
        (q("body_weight", 140.0, "[lb_av]"), json!([63.5029, "kg"])),
        (
            {
                // An alias spelling; another moment, or it would be the same sample as above.
                let mut w = q("body_weight", 140.0, "lb");
                w["effectiveAt"] = json!("2026-01-06T08:30:00+09:00");
                w
            },
            json!([63.5029, "kg"]),
        ),
        (q("body_height", 1.72, "m"), json!([172.0, "cm"])),
        (q("bmi", 22.5, "kg/m2"), json!([22.5, "kg/m2"])),
        (q("body_fat", 0.23, "1"), json!([23.0, "%"])),
        (q("waist", 85.0, "cm"), json!([85.0, "cm"])),
        (q("body_temperature", 98.6, "[degF]"), json!([37.0, "Cel"])),
        (q("blood_glucose", 5.5, "mmol/L"), json!([99.088, "mg/dL"])),
        (q("hba1c", 6.1, "%"), json!([6.1, "%"])),
        (q("spo2", 97.0, "%"), json!([97.0, "%"])),
        (q("respiratory_rate", 16.0, "/min"), json!([16.0, "/min"])),
        (iv("steps", 8421.0, "{steps}"), json!([8421.0, "{steps}"])),
        (iv("active_energy", 1000.0, "kJ"), json!([239.0057, "kcal"])),
        (
            json!({"id": id(), "kind": "sleep", "code": "deep", "effectiveStart": "2026-01-06T01:00:00+09:00",
                "effectiveEnd": "2026-01-06T02:30:00+09:00", "source": src()}),
            json!(null),
        ),
        (
            json!({"id": id(), "kind": "exercise", "text": "ジョギング", "effectiveStart": "2026-01-06T06:00:00+09:00",
                "effectiveEnd": "2026-01-06T06:45:00+09:00", "source": src(),
                "components": {"energy": {"value": 300, "unit": "kcal"}, "distance": {"value": 5, "unit": "km"}}}),
            json!({"energy": [300.0, "kcal"], "distance": [5000.0, "m"]}),
        ),
    ]
}

async fn every_kind_is_stored_canonically_with_its_original(app: TestApp) {
    let (token, _, person) = app.user("kinds@example.jp").await;
    let cases = one_of_each_kind();
    let results = upload(&app, &token, &person, cases.iter().map(|(i, _)| i.clone()).collect()).await;
    for ((item, want), result) in cases.iter().zip(&results) {
        let kind = item["kind"].as_str().unwrap();
        assert_eq!(result["status"], "created", "{kind}: {result}");
        let got = get_obs(&app, &token, &person, item["id"].as_str().unwrap()).await;
        assert_eq!(got["version"], 1);
        match want {
            Value::Array(v) => {
                assert_eq!((&got["value"], &got["unit"]), (&v[0], &v[1]), "{kind}: {got}");
                assert_eq!(got["originalValue"], item["value"], "{kind}");
                assert_eq!(got["originalUnit"], item["unit"], "{kind}");
            }
            Value::Object(m) => {
                for (name, v) in m {
                    let c = &got["components"][name];
                    assert_eq!((&c["value"], &c["unit"]), (&v[0], &v[1]), "{kind}.{name}: {got}");
                    assert_eq!(c["originalValue"].as_f64(), item["components"][name]["value"].as_f64());
                    assert_eq!(c["originalUnit"], item["components"][name]["unit"]);
                }
            }
            _ => assert_eq!(got["code"], "deep"),
        }
        if let Some(at) = item.get("effectiveAt") {
            assert_eq!(&got["effectiveAt"], at, "the offset sent is kept");
        } else {
            assert_eq!(got["effectiveStart"], item["effectiveStart"]);
            assert_eq!(got["effectiveEnd"], item["effectiveEnd"]);
        }
        assert_eq!(got["source"], src());
    }
}

async fn every_kind_refuses_values_outside_its_range(app: TestApp) {
    let (token, _, person) = app.user("range@example.jp").await;
    let (_, catalogue) = app.get("/v1/catalogue/observation-kinds", Some(&token)).await;
    let mut items = Vec::new();
    let mut expect = Vec::new();
    for k in catalogue["items"].as_array().unwrap() {
        let name = k["name"].as_str().unwrap();
        let interval = k["timing"] == "interval";
        let mut base = json!({"kind": name, "source": src()});
        if interval {
            base["effectiveStart"] = json!("2026-01-06T06:00:00+09:00");
            base["effectiveEnd"] = json!("2026-01-06T06:30:00+09:00");
        } else {
            base["effectiveAt"] = json!("2026-01-06T06:00:00+09:00");
        }
        if let Some(range) = k.get("range").filter(|r| r.is_object()) {
            for v in [range["min"].as_f64().unwrap() - 1.0, range["max"].as_f64().unwrap() + 1.0] {
                let mut item = base.clone();
                item["id"] = json!(id());
                item["value"] = json!(v);
                item["unit"] = k["unit"].clone();
                items.push(item);
                expect.push((name.to_owned(), "value".to_owned()));
            }
        }
        for c in k["components"].as_array().unwrap() {
            let cname = c["name"].as_str().unwrap();
            for v in [c["range"]["min"].as_f64().unwrap() - 1.0, c["range"]["max"].as_f64().unwrap() + 1.0] {
                let mut item = base.clone();
                item["id"] = json!(id());
                if name == "exercise" {
                    item["text"] = json!("walk");
                }
                let mut comps = serde_json::Map::new();
                for other in k["components"].as_array().unwrap() {
                    if other["required"] == true || other["name"] == cname {
                        let mid = (other["range"]["min"].as_f64().unwrap()
                            + other["range"]["max"].as_f64().unwrap())
                            / 2.0;
                        comps.insert(
                            other["name"].as_str().unwrap().into(),
                            json!({"value": mid, "unit": other["unit"]}),
                        );
                    }
                }
                comps.insert(cname.into(), json!({"value": v, "unit": c["unit"]}));
                item["components"] = Value::Object(comps);
                items.push(item);
                expect.push((name.to_owned(), format!("components/{cname}/value")));
            }
        }
    }
    assert!(items.len() >= 30, "ranges of every kind and component are exercised");
    let results = upload(&app, &token, &person, items).await;
    for ((kind, path), r) in expect.iter().zip(&results) {
        assert_eq!(r["status"], "rejected", "{kind} {path}: {r}");
        let paths: Vec<&str> =
            r["errors"].as_array().unwrap().iter().map(|e| e["path"].as_str().unwrap()).collect();
        assert!(paths.contains(&path.as_str()), "{kind}: expected an error at {path}, got {r}");
    }
    let (_, list) = app.get(&format!("/v1/persons/{person}/observations"), Some(&token)).await;
    assert_eq!(list["items"], json!([]), "nothing stored");
}

fn weight(kg: f64, at: &str, device: &str) -> Value {
    json!({"id": id(), "kind": "body_weight", "value": kg, "unit": "kg", "effectiveAt": at,
           "source": {"app": "Health Connect", "device": device, "method": "device"}})
}

async fn retrying_a_batch_changes_nothing(app: TestApp) {
    let (token, _, person) = app.user("retry@example.jp").await;
    let items: Vec<Value> = (0..20)
        .map(|i| weight(60.0 + i as f64 / 10.0, &format!("2026-01-{:02}T07:00:00+09:00", i + 1), "scale"))
        .collect();
    let first = upload(&app, &token, &person, items.clone()).await;
    assert!(first.iter().all(|r| r["status"] == "created" && r["version"] == 1));
    let again = upload(&app, &token, &person, items.clone()).await;
    for (r, item) in again.iter().zip(&items) {
        assert_eq!(r["status"], "unchanged", "{r}");
        assert_eq!(r["id"], item["id"]);
        assert_eq!(r["version"], 1);
    }
    let (_, list) = app.get(&format!("/v1/persons/{person}/observations?limit=100"), Some(&token)).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 20);
}

async fn same_id_with_other_content_is_a_conflict(app: TestApp) {
    let (token, _, person) = app.user("conflict@example.jp").await;
    let item = weight(70.0, "2026-01-06T07:00:00+09:00", "scale");
    upload(&app, &token, &person, vec![item.clone()]).await;
    let mut changed = item.clone();
    changed["value"] = json!(71.0);
    let r = upload(&app, &token, &person, vec![changed]).await;
    assert_eq!(r[0]["status"], "conflict");
    assert_eq!(r[0]["errors"][0]["path"], "id");
    let got = get_obs(&app, &token, &person, item["id"].as_str().unwrap()).await;
    assert_eq!(got["value"], 70.0, "not overwritten");
}

async fn the_same_sample_from_two_phones_is_stored_once(app: TestApp) {
    let (token, _, person) = app.user("twophones@example.jp").await;
    let bp = |id: &str, app_name: &str| {
        json!({"id": id, "kind": "blood_pressure", "effectiveAt": "2026-01-06T07:00:00+09:00",
               "components": {"systolic": {"value": 142, "unit": "mm[Hg]"}, "diastolic": {"value": 91, "unit": "mm[Hg]"}},
               "source": {"app": app_name, "device": "omron-hcr-7601t", "method": "device"}})
    };
    let (a, b) = (id(), id());
    let r1 = upload(&app, &token, &person, vec![bp(&a, "OMRON connect")]).await;
    assert_eq!(r1[0]["status"], "created");
    let r2 = upload(&app, &token, &person, vec![bp(&b, "HealthKit")]).await;
    assert_eq!(r2[0]["status"], "unchanged");
    assert_eq!(r2[0]["id"], a.as_str(), "reported with the id of the first");
    assert_eq!(r2[0]["submittedId"], b.as_str());
    // Both phones at once, in one batch too.
    let (c, d) = (id(), id());
    let mut other_time = bp(&c, "x");
    other_time["effectiveAt"] = json!("2026-01-06T19:00:00+09:00");
    let mut same = other_time.clone();
    same["id"] = json!(d);
    let r3 = upload(&app, &token, &person, vec![other_time, same]).await;
    assert_eq!((r3[0]["status"].as_str(), r3[1]["status"].as_str()), (Some("created"), Some("unchanged")));
    assert_eq!(r3[1]["id"], c.as_str());
    let (_, list) = app.get(&format!("/v1/persons/{person}/observations"), Some(&token)).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    // A different device at the same moment is a different sample.
    let mut other_device = bp(&id(), "x");
    other_device["source"]["device"] = json!("another-cuff");
    assert_eq!(upload(&app, &token, &person, vec![other_device]).await[0]["status"], "created");
}

async fn two_phones_uploading_the_same_samples_at_once_store_each_once(app: TestApp) {
    let (token, _, person) = app.user("race@example.jp").await;
    let samples: Vec<Value> = (0..300)
        .map(|i| {
            weight(
                50.0 + i as f64 / 10.0,
                &format!("2026-01-{:02}T07:{:02}:00+09:00", 1 + i / 60, i % 60),
                "scale",
            )
        })
        .collect();
    // Each phone names the same samples with its own ids.
    let phone = |samples: &[Value]| -> Vec<Value> {
        samples
            .iter()
            .map(|s| {
                let mut s = s.clone();
                s["id"] = json!(id());
                s
            })
            .collect()
    };
    let a = phone(&samples);
    // The other phone sends them in the opposite order: no deadlock, no error.
    let mut b = phone(&samples);
    b.reverse();
    let (ra, mut rb) =
        tokio::join!(upload(&app, &token, &person, a.clone()), upload(&app, &token, &person, b.clone()));
    rb.reverse();
    for i in 0..samples.len() {
        let statuses = [ra[i]["status"].as_str().unwrap(), rb[i]["status"].as_str().unwrap()];
        assert!(statuses.contains(&"created") && statuses.contains(&"unchanged"), "sample {i}: {statuses:?}");
        assert_eq!(ra[i]["id"], rb[i]["id"], "both phones are told the one stored id");
    }
    let (_, list) = app.get(&format!("/v1/persons/{person}/observations?limit=500"), Some(&token)).await;
    assert_eq!(list["items"].as_array().unwrap().len(), samples.len());
}

async fn invalid_items_are_rejected_alone_and_the_rest_stored(app: TestApp) {
    let (token, _, person) = app.user("partial@example.jp").await;
    let good1 = weight(60.0, "2026-01-06T07:00:00+09:00", "scale");
    let bad = json!({"id": id(), "kind": "body_weight", "value": 9000, "unit": "kg", "effectiveAt": "2026-01-06T07:00:00+09:00", "source": src()});
    let good2 = weight(61.0, "2026-01-07T07:00:00+09:00", "scale");
    let r = upload(&app, &token, &person, vec![good1.clone(), bad.clone(), good2.clone()]).await;
    assert_eq!(r.len(), 3);
    assert_eq!(r[0]["status"], "created");
    assert_eq!(r[1]["status"], "rejected");
    assert_eq!(r[1]["id"], bad["id"]);
    assert_eq!(r[1]["errors"][0]["path"], "value");
    assert!(r[1]["errors"][0]["message"].as_str().unwrap().contains("kg"), "{}", r[1]);
    assert_eq!(r[2]["status"], "created");
    let (status, body) = app
        .get(&format!("/v1/persons/{person}/observations/{}", bad["id"].as_str().unwrap()), Some(&token))
        .await;
    assert_problem(status, &body, StatusCode::NOT_FOUND, "not_found");
}

async fn bad_input_is_named_precisely(app: TestApp) {
    let (token, _, person) = app.user("badinput@example.jp").await;
    let base = weight(60.0, "2026-01-06T07:00:00+09:00", "scale");
    let with = |f: &dyn Fn(&mut Value)| {
        let mut v = base.clone();
        v["id"] = json!(id());
        f(&mut v);
        v
    };
    let dup = id();
    let cases: Vec<(Value, &str)> = vec![
        (with(&|v| v["kind"] = json!("mood")), "kind"),
        (with(&|v| v["unit"] = json!("stone")), "unit"),
        (with(&|v| v["value"] = json!(0.1)), "value"),
        (with(&|v| v["effectiveAt"] = json!("2026-01-06T07:00:00")), "effectiveAt"),
        (with(&|v| v["effectiveAt"] = json!("yesterday")), "effectiveAt"),
        (with(&|v| v["effectiveAt"] = json!("2099-01-06T07:00:00+09:00")), "effectiveAt"),
        (with(&|v| v["id"] = json!("not-a-uuid")), "id"),
        (with(&|v| v["value"] = json!("sixty")), "value"),
        (with(&|v| v["source"]["method"] = json!("guess")), "source/method"),
        (with(&|v| v["colour"] = json!("blue")), "colour"),
        (
            with(&|v| {
                v["kind"] = json!("steps");
                v["value"] = json!(100);
                v["unit"] = json!("{steps}");
                v["effectiveStart"] = json!("2026-01-06T10:00:00+09:00");
                v["effectiveEnd"] = json!("2026-01-06T09:00:00+09:00");
                v.as_object_mut().unwrap().remove("effectiveAt");
            }),
            "effectiveEnd",
        ),
        (with(&|v| v["id"] = json!(dup)), "id"),
        (with(&|v| v["id"] = json!(dup)), "id"),
    ];
    let r = upload(&app, &token, &person, cases.iter().map(|(v, _)| v.clone()).collect()).await;
    for (i, ((_, path), r)) in cases.iter().zip(&r).enumerate() {
        if i == cases.len() - 2 {
            assert_eq!(r["status"], "created", "the first use of a duplicated id stands");
            continue;
        }
        assert_eq!(r["status"], "rejected", "case {i}: {r}");
        assert_eq!(r["errors"][0]["path"], *path, "case {i}: {r}");
        assert!(!r["errors"][0]["message"].as_str().unwrap().is_empty());
    }
}

async fn whole_request_errors_store_nothing(app: TestApp) {
    let (token, _, person) = app.user("whole@example.jp").await;
    let path = format!("/v1/persons/{person}/observations/batch");
    let (status, body) = app.post_json(&path, Some(&token), &json!({"items": []})).await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(body["errors"][0]["path"], "observations");
    let (status, body) = app.post_json(&path, Some(&token), &json!({"observations": {"id": 1}})).await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let too_many: Vec<Value> =
        (0..5001).map(|i| weight(60.0, &format!("2026-01-06T07:{:02}:00+09:00", i % 60), "s")).collect();
    let (status, body) = app.post_json(&path, Some(&token), &json!({"observations": too_many})).await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(body["errors"][0]["path"], "observations");
    let res = app
        .client
        .post(app.url(&path))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(r#"{"observations": [{"id": "#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let (_, list) = app.get(&format!("/v1/persons/{person}/observations"), Some(&token)).await;
    assert_eq!(list["items"], json!([]));
}

async fn pagination_has_no_gaps_or_repeats_under_concurrent_inserts(app: TestApp) {
    let (token, _, person) = app.user("pages@example.jp").await;
    // 60 readings, some sharing a timestamp so the id tie-break matters.
    let initial: Vec<Value> = (0..60)
        .map(|i| {
            let mut w = weight(
                50.0 + i as f64 / 10.0,
                &format!("2026-02-{:02}T07:{:02}:00+09:00", 1 + i / 3, 0),
                &format!("scale-{i}"),
            );
            w["effectiveAt"] = json!(format!("2026-02-{:02}T07:00:00+09:00", 1 + i / 3));
            w
        })
        .collect();
    upload(&app, &token, &person, initial.clone()).await;
    let mut seen: Vec<String> = Vec::new();
    let mut path = format!("/v1/persons/{person}/observations?limit=7");
    let mut round = 0;
    loop {
        let (status, page) = app.get(&path, Some(&token)).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        seen.extend(page["items"].as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap().to_owned()));
        // Meanwhile another phone uploads newer and older readings.
        round += 1;
        let extra = vec![
            weight(80.0, &format!("2026-03-01T07:{round:02}:00+09:00"), "late"),
            weight(81.0, &format!("2026-01-15T07:{round:02}:00+09:00"), "old"),
        ];
        upload(&app, &token, &person, extra).await;
        match page["nextCursor"].as_str() {
            Some(c) => path = format!("/v1/persons/{person}/observations?limit=7&cursor={c}"),
            None => break,
        }
    }
    let unique: std::collections::HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no repeats");
    for item in &initial {
        assert!(
            seen.contains(&item["id"].as_str().unwrap().to_owned()),
            "no gaps: every reading present at the start is listed"
        );
    }
}

async fn list_filters_by_kind_category_and_time(app: TestApp) {
    let (token, _, person) = app.user("filters@example.jp").await;
    let steps = json!({"id": id(), "kind": "steps", "value": 5000, "unit": "{steps}", "effectiveStart": "2026-01-06T00:00:00+09:00",
                       "effectiveEnd": "2026-01-07T00:00:00+09:00", "source": src()});
    let w1 = weight(60.0, "2026-01-05T07:00:00+09:00", "s");
    let w2 = weight(61.0, "2026-01-08T07:00:00+09:00", "s");
    upload(&app, &token, &person, vec![steps.clone(), w1.clone(), w2.clone()]).await;
    let ids = |v: &Value| {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let (_, all) = app.get(&format!("/v1/persons/{person}/observations"), Some(&token)).await;
    assert_eq!(
        ids(&all),
        [&w2["id"], &steps["id"], &w1["id"]].map(|v| v.as_str().unwrap().to_owned()),
        "newest first"
    );
    let (_, k) = app.get(&format!("/v1/persons/{person}/observations?kind=body_weight"), Some(&token)).await;
    assert_eq!(ids(&k).len(), 2);
    let (_, c) = app.get(&format!("/v1/persons/{person}/observations?category=activity"), Some(&token)).await;
    assert_eq!(ids(&c), [steps["id"].as_str().unwrap().to_owned()]);
    let (_, t) = app
        .get(
            &format!("/v1/persons/{person}/observations?from=2026-01-06&to=2026-01-08T00:00:00%2B09:00"),
            Some(&token),
        )
        .await;
    assert_eq!(ids(&t), [steps["id"].as_str().unwrap().to_owned()]);
    let (status, body) =
        app.get(&format!("/v1/persons/{person}/observations?kind=mood&from=soon"), Some(&token)).await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let paths: Vec<&str> =
        body["errors"].as_array().unwrap().iter().map(|e| e["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["kind", "from"]);
}

async fn daily_summary_follows_the_jst_day_boundary(app: TestApp) {
    let (token, _, person) = app.user("summary@example.jp").await;
    // 23:59 JST on the 6th belongs to the 6th; 00:01 JST on the 7th (15:01 UTC on the 6th) to the 7th.
    let items = vec![
        weight(60.0, "2026-01-06T07:00:00+09:00", "s"),
        weight(62.0, "2026-01-06T23:59:00+09:00", "s"),
        weight(70.0, "2026-01-06T15:01:00Z", "s"),
        weight(71.0, "2026-01-07T12:00:00+09:00", "s"),
    ];
    upload(&app, &token, &person, items).await;
    let (status, s) = app
        .get(&format!("/v1/persons/{person}/observations/summary?kind=body_weight&bucket=day&from=2026-01-06&to=2026-01-08"), Some(&token))
        .await;
    assert_eq!(status, StatusCode::OK, "{s}");
    assert_eq!(s["tz"], "Asia/Tokyo");
    let b = s["buckets"].as_array().unwrap();
    assert_eq!(b.len(), 2);
    assert_eq!(b[0]["start"], "2026-01-06T00:00:00+09:00");
    assert_eq!(
        (b[0]["count"].as_i64(), b[0]["min"].as_f64(), b[0]["max"].as_f64(), b[0]["mean"].as_f64()),
        (Some(2), Some(60.0), Some(62.0), Some(61.0))
    );
    assert_eq!(b[1]["start"], "2026-01-07T00:00:00+09:00");
    assert_eq!(
        (b[1]["count"].as_i64(), b[1]["min"].as_f64(), b[1]["max"].as_f64()),
        (Some(2), Some(70.0), Some(71.0))
    );
    assert_eq!(b[0]["unit"], "kg");
    // The same readings in UTC days fall differently.
    let (_, u) = app
        .get(&format!("/v1/persons/{person}/observations/summary?kind=body_weight&from=2026-01-06&to=2026-01-08&tz=UTC"), Some(&token))
        .await;
    let counts: Vec<i64> =
        u["buckets"].as_array().unwrap().iter().map(|b| b["count"].as_i64().unwrap()).collect();
    assert_eq!(counts, [2, 1], "07:00 JST on the 6th is the 5th in UTC: outside the range");
    let (status, body) = app
        .get(
            &format!(
                "/v1/persons/{person}/observations/summary?kind=body_weight&tz=Mars/Olympus&bucket=year"
            ),
            Some(&token),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(body["errors"].as_array().unwrap().len(), 2);
}

async fn blood_pressure_is_summarised_per_component(app: TestApp) {
    let (token, _, person) = app.user("bpsum@example.jp").await;
    let bp = |sys: i32, dia: i32, at: &str| {
        json!({"id": id(), "kind": "blood_pressure", "effectiveAt": at, "source": src(),
               "components": {"systolic": {"value": sys, "unit": "mm[Hg]"}, "diastolic": {"value": dia, "unit": "mm[Hg]"}}})
    };
    upload(
        &app,
        &token,
        &person,
        vec![
            bp(140, 90, "2026-01-05T07:00:00+09:00"),
            bp(130, 80, "2026-01-06T07:00:00+09:00"),
            bp(150, 100, "2026-01-07T21:00:00+09:00"),
        ],
    )
    .await;
    let (_, s) = app
        .get(&format!("/v1/persons/{person}/observations/summary?kind=blood_pressure&bucket=week&from=2026-01-05&to=2026-01-12"), Some(&token))
        .await;
    let b = &s["buckets"][0];
    assert_eq!(b["start"], "2026-01-05T00:00:00+09:00", "weeks start on Monday");
    assert_eq!(b["count"], 3);
    assert_eq!(b["components"]["systolic"]["mean"], 140.0);
    assert_eq!(b["components"]["systolic"]["max"], 150.0);
    assert_eq!(b["components"]["diastolic"]["min"], 80.0);
    assert_eq!(b["components"]["pulse"]["count"], 0);
}

async fn latest_returns_the_newest_of_each_kind(app: TestApp) {
    let (token, _, person) = app.user("latest@example.jp").await;
    let newest = weight(65.0, "2026-01-09T07:00:00+09:00", "s");
    let hr = json!({"id": id(), "kind": "heart_rate", "value": 70, "unit": "/min", "effectiveAt": "2026-01-02T07:00:00+09:00", "source": src()});
    upload(
        &app,
        &token,
        &person,
        vec![weight(64.0, "2026-01-08T07:00:00+09:00", "s"), newest.clone(), hr.clone()],
    )
    .await;
    let (status, l) = app.get(&format!("/v1/persons/{person}/observations/latest"), Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    let items = l["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["id"], newest["id"]);
    assert_eq!(items[1]["id"], hr["id"]);
}

async fn deleted_observations_vanish_and_keep_their_id(app: TestApp) {
    let (token, _, person) = app.user("delete@example.jp").await;
    let w = weight(60.0, "2026-01-06T07:00:00+09:00", "s");
    let oid = w["id"].as_str().unwrap().to_owned();
    upload(&app, &token, &person, vec![w.clone()]).await;
    let path = format!("/v1/persons/{person}/observations/{oid}");
    assert_eq!(app.delete(&path, Some(&token)).await.0, StatusCode::NO_CONTENT);
    assert_eq!(app.delete(&path, Some(&token)).await.0, StatusCode::NO_CONTENT, "a retried delete succeeds");
    assert_eq!(app.get(&path, Some(&token)).await.0, StatusCode::NOT_FOUND);
    let (_, list) = app.get(&format!("/v1/persons/{person}/observations"), Some(&token)).await;
    assert_eq!(list["items"], json!([]));
    let mut reuse = w.clone();
    reuse["value"] = json!(99.0);
    assert_eq!(upload(&app, &token, &person, vec![reuse]).await[0]["status"], "conflict");
    let again = upload(&app, &token, &person, vec![w]).await;
    assert_eq!(
        again[0]["status"], "unchanged",
        "a phone re-sending the deleted sample does not resurrect it"
    );
    assert_eq!(again[0]["version"], 2);
    assert_eq!(app.get(&path, Some(&token)).await.0, StatusCode::NOT_FOUND);
}

async fn another_accounts_record_is_not_found(app: TestApp) {
    let (owner, _, person) = app.user("owner@example.jp").await;
    let (stranger, _, _) = app.user("stranger@example.jp").await;
    let w = weight(60.0, "2026-01-06T07:00:00+09:00", "s");
    upload(&app, &owner, &person, vec![w.clone()]).await;
    let paths = [
        format!("/v1/persons/{person}/observations"),
        format!("/v1/persons/{person}/observations/latest"),
        format!("/v1/persons/{person}/observations/summary?kind=body_weight"),
        format!("/v1/persons/{person}/observations/{}", w["id"].as_str().unwrap()),
    ];
    for p in &paths {
        let (status, body) = app.get(p, Some(&stranger)).await;
        assert_problem(status, &body, StatusCode::NOT_FOUND, "not_found");
        assert_eq!(app.get(p, None).await.0, StatusCode::UNAUTHORIZED);
    }
    let (status, _) = app
        .post_json(
            &format!("/v1/persons/{person}/observations/batch"),
            Some(&stranger),
            &json!({"observations": [weight(1.0, "2026-01-06T07:00:00+09:00", "x")]}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let nobody = Uuid::new_v4();
    assert_eq!(
        app.get(&format!("/v1/persons/{nobody}/observations"), Some(&owner)).await.0,
        StatusCode::NOT_FOUND
    );
}

async fn catalogue_lists_every_kind(app: TestApp) {
    let (token, _, _) = app.user("cat@example.jp").await;
    let (status, c) = app.get("/v1/catalogue/observation-kinds", Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> =
        c["items"].as_array().unwrap().iter().map(|k| k["name"].as_str().unwrap()).collect();
    for k in [
        "blood_pressure",
        "heart_rate",
        "body_weight",
        "body_height",
        "bmi",
        "body_fat",
        "waist",
        "body_temperature",
        "blood_glucose",
        "hba1c",
        "spo2",
        "respiratory_rate",
        "steps",
        "active_energy",
        "sleep",
        "exercise",
    ] {
        assert!(names.contains(&k), "{k} missing");
    }
    let weight = c["items"].as_array().unwrap().iter().find(|k| k["name"] == "body_weight").unwrap();
    assert_eq!(weight["category"], "vitals");
    assert_eq!(weight["loinc"], "29463-7");
    assert_eq!(weight["unit"], "kg");
}

mod rollups {
    use super::*;

    both_databases!(daily_rollups_agree_with_raw_aggregation_after_inserts_and_deletes);

    async fn daily_rollups_agree_with_raw_aggregation_after_inserts_and_deletes(app: TestApp) {
        let (token, _, person) = app.user("rollup@example.jp").await;
        let mut items = Vec::new();
        for i in 0..90 {
            let at = format!("2026-01-{:02}T{:02}:{:02}:00+09:00", 5 + i / 30, (i * 7) % 24, i % 60);
            items.push(json!({"id": id(), "kind": "blood_pressure", "effectiveAt": at, "source": src(),
                "components": {"systolic": {"value": 110 + i % 50, "unit": "mm[Hg]"},
                               "diastolic": {"value": 60 + i % 30, "unit": "mm[Hg]"}}}));
        }
        upload(&app, &token, &person, items.clone()).await;
        for victim in items.iter().step_by(7) {
            let oid = victim["id"].as_str().unwrap();
            assert_eq!(
                app.delete(&format!("/v1/persons/{person}/observations/{oid}"), Some(&token)).await.0,
                StatusCode::NO_CONTENT
            );
        }
        let db = sea_orm::Database::connect(&app.database_url).await.unwrap();
        let kind = phr::observations::catalogue::kind("blood_pressure").unwrap();
        let tz = chrono_tz::Asia::Tokyo;
        let from = chrono::DateTime::parse_from_rfc3339("2026-01-04T00:00:00+09:00")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let to = chrono::DateTime::parse_from_rfc3339("2026-01-10T00:00:00+09:00")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let person_id: Uuid = person.parse().unwrap();
        for size in
            [phr::observations::summary::BucketSize::Day, phr::observations::summary::BucketSize::Week]
        {
            let bounds = phr::observations::summary::buckets(size, tz, from, to).unwrap();
            let raw = phr::observations::summary::summarize(&db, person_id, kind, tz, &bounds).await.unwrap();
            let rolled = phr::observations::summary::summarize_rollups(&db, person_id, kind, tz, &bounds)
                .await
                .unwrap();
            assert_eq!(rolled, raw, "{size:?}");
            assert_eq!(
                raw.iter().map(|b| b.count).sum::<i64>(),
                90 - 13,
                "deleted readings left the roll-ups too"
            );
        }
    }
}
