//! Notifications end to end: events become inbox entries and pushes that the
//! outbox worker delivers to the local FCM stand-in; alert rules fire inside
//! the upload; preferences, quiet hours, retries and dead tokens.

use std::time::Duration;

use phr::notify::fcm::FcmSender;
use phr::notify::worker::Worker;
use phr_tests::fcm::{Failure, FcmStandIn};
use phr_tests::{Backend, StatusCode, TestApp, assert_problem};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use crate::consent::{admin, grant, org_with_member};

phr_tests::both_backends!(
    an_alert_reaches_family_who_see_vitals_and_nobody_else,
    organization_rules_alert_the_municipality_nurses_only,
    dead_tokens_are_removed_and_throttling_is_retried_after_retry_after,
    a_committed_push_survives_a_worker_that_was_not_running_and_is_sent_once,
    preferences_switch_events_off_and_hold_pushes_in_quiet_hours,
    sharing_events_reach_the_right_inboxes,
);

struct Push {
    app: TestApp,
    fcm: FcmStandIn,
    _dir: tempfile::TempDir,
}

async fn spawn(backend: Backend, worker: bool) -> Option<Push> {
    let fcm = FcmStandIn::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = fcm.config(dir.path());
    let app = TestApp::spawn_with(backend, move |s| {
        s.fcm = Some(config);
        s.push_worker = worker;
        s.push_poll_ms = 50;
    })
    .await?;
    Some(Push { app, fcm, _dir: dir })
}

async fn device(app: &TestApp, token: &str, push_token: &str) -> String {
    let (status, d) = app
        .post_json(
            "/v1/devices",
            Some(token),
            &json!({"platform": "android", "name": push_token, "pushToken": push_token}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{d}");
    d["deviceId"].as_str().unwrap().to_owned()
}

fn bp(at: &str, systolic: f64) -> Value {
    json!({"id": uuid::Uuid::new_v4(), "kind": "blood_pressure", "effectiveAt": at,
           "components": {"systolic": {"value": systolic, "unit": "mm[Hg]"}, "diastolic": {"value": 90, "unit": "mm[Hg]"}},
           "source": {"app": "OMRON connect", "device": "cuff", "method": "device"}})
}

async fn upload(app: &TestApp, token: &str, person: &str, items: Vec<Value>) {
    let (status, r) = app
        .post_json(
            &format!("/v1/persons/{person}/observations/batch"),
            Some(token),
            &json!({"observations": items}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
}

/// Waits until `check` holds for what the stand-in accepted (the worker polls every 50 ms).
async fn eventually(fcm: &FcmStandIn, what: &str, check: impl Fn(&FcmStandIn) -> bool) {
    for _ in 0..200 {
        if check(fcm) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}; accepted: {:#?}", fcm.messages());
}

async fn scalar(app: &TestApp, sql: &str) -> i64 {
    let db = phr::db::connect(&app.database_url, 1).await.unwrap();
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql.to_owned()))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

async fn an_alert_reaches_family_who_see_vitals_and_nobody_else(backend: Backend) {
    let Some(Push { app, fcm, .. }) = spawn(backend, true).await else { return };
    let (father, _, person) = app.user("chichi@example.jp").await;
    let (daughter, daughter_account, _) = app.user("musume@example.jp").await;
    let (notes, notes_account, _) = app.user("notes@example.jp").await;
    let father_phone = device(&app, &father, "father-phone").await;
    device(&app, &daughter, "daughter-phone").await;
    device(&app, &notes, "notes-phone").await;
    grant(&app, &father, &person, json!({"accountId": daughter_account}), &["vitals"], "read", "family")
        .await;
    grant(&app, &father, &person, json!({"accountId": notes_account}), &["notes"], "read", "family").await;

    // The rule they agreed on: systolic ≥ 160 twice within a day.
    let rule = json!({"kind": "blood_pressure", "component": "systolic", "op": ">=", "threshold": 160,
                      "consecutive": 2, "window": "PT24H", "notify": ["self", "grantees"]});
    let (status, r) = app.post_json(&format!("/v1/persons/{person}/alert-rules"), Some(&father), &rule).await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    assert_eq!((r["windowMinutes"].as_i64(), r["consecutive"].as_i64()), (Some(1440), Some(2)));
    let (status, body) = app
        .post_json(
            &format!("/v1/persons/{person}/alert-rules"),
            Some(&father),
            &json!({"kind": "blood_pressure", "op": "=>", "threshold": 160, "window": "24h"}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let fields: Vec<&str> =
        body["errors"].as_array().unwrap().iter().map(|e| e["path"].as_str().unwrap()).collect();
    assert_eq!(fields, ["component", "op", "window"], "{body}");
    let (status, _) =
        app.post_json(&format!("/v1/persons/{person}/alert-rules"), Some(&daughter), &rule).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "grantees do not set the person's rules");

    upload(&app, &father, &person, vec![bp("2026-11-20T07:00:00+09:00", 170.0)]).await;
    let (_, open) = app.get("/v1/alerts?status=open", Some(&daughter)).await;
    assert_eq!(open["items"], json!([]), "one reading is not two in a row");
    // The father's phone is poked to sync (silent, collapsible), not alerted.
    eventually(&fcm, "a sync poke", |f| !f.messages_to("father-phone").is_empty()).await;
    let poke = &fcm.messages_to("father-phone")[0];
    assert_eq!(poke["data"]["event"], "sync");
    assert!(poke.get("notification").is_none(), "{poke}");
    assert_eq!(poke["android"]["collapseKey"], "sync");

    upload(&app, &father, &person, vec![bp("2026-11-20T19:00:00+09:00", 165.0)]).await;
    let (status, open) = app.get("/v1/alerts?status=open", Some(&daughter)).await;
    assert_eq!(status, StatusCode::OK, "{open}");
    let alerts = open["items"].as_array().unwrap();
    assert_eq!(alerts.len(), 1, "{open}");
    assert_eq!(
        (alerts[0]["personId"].as_str(), alerts[0]["value"].as_f64()),
        (Some(person.as_str()), Some(165.0))
    );
    let alert_id = alerts[0]["alertId"].as_str().unwrap().to_owned();
    let (_, theirs) = app.get("/v1/alerts", Some(&notes)).await;
    assert_eq!(theirs["items"], json!([]), "the notes grant does not cover vitals");

    eventually(&fcm, "the alert on both phones", |f| {
        f.messages_to("daughter-phone").iter().any(|m| m["data"]["event"] == "alert")
            && f.messages_to("father-phone").iter().any(|m| m["data"]["event"] == "alert")
    })
    .await;
    let pushed =
        fcm.messages_to("daughter-phone").into_iter().find(|m| m["data"]["event"] == "alert").unwrap();
    assert_eq!(pushed["data"]["alertId"], alert_id.as_str());
    // No health data in a push: the visible text is generic, and every data value is an id or the event.
    let mut shown = pushed.clone();
    shown.as_object_mut().unwrap().remove("data");
    let text = shown.to_string();
    assert!(!text.contains("165") && !text.contains("chichi"), "no health data in a push: {text}");
    for (k, v) in pushed["data"].as_object().unwrap() {
        let v = v.as_str().unwrap();
        assert!(k == "event" || uuid::Uuid::parse_str(v).is_ok(), "{k}: {v} is not an id");
    }
    assert_eq!(pushed["android"]["priority"], "HIGH");
    assert!(
        !fcm.messages_to("notes-phone").iter().any(|m| m["data"]["event"] == "alert"),
        "only its grant notice: {:?}",
        fcm.messages_to("notes-phone")
    );

    // Inbox: the daughter's notification names the alert; reading marks it.
    let (_, inbox) = app.get("/v1/notifications", Some(&daughter)).await;
    let n = inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["event"] == "alert")
        .expect("in the inbox")
        .clone();
    assert_eq!(n["data"]["alertId"], alert_id.as_str());
    let (status, read) =
        app.post(&format!("/v1/notifications/{}/read", n["id"].as_str().unwrap()), Some(&daughter)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(read["readAt"].is_string());
    let (status, _) =
        app.post(&format!("/v1/notifications/{}/read", n["id"].as_str().unwrap()), Some(&notes)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "someone else's notification");
    // The daughter's read of the father's alerts is in his access log.
    let (_, log) = app.get(&format!("/v1/persons/{person}/access-log"), Some(&father)).await;
    assert!(log["items"].as_array().unwrap().iter().any(|e| e["resource"] == "alerts"), "{log}");

    // A third high reading while the alert is open raises nothing new; after the ack it does.
    upload(&app, &father, &person, vec![bp("2026-11-21T07:00:00+09:00", 171.0)]).await;
    let (_, open) = app.get("/v1/alerts?status=open", Some(&father)).await;
    assert_eq!(open["items"].as_array().unwrap().len(), 1);
    let (status, _) = app.post(&format!("/v1/alerts/{alert_id}/ack"), Some(&notes)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, acked) = app.post(&format!("/v1/alerts/{alert_id}/ack"), Some(&daughter)).await;
    assert_eq!((status, acked["status"].as_str()), (StatusCode::OK, Some("acked")), "{acked}");
    upload(&app, &father, &person, vec![bp("2026-11-21T19:00:00+09:00", 168.0)]).await;
    let (_, open) = app.get("/v1/alerts?status=open", Some(&father)).await;
    assert_eq!(open["items"].as_array().unwrap().len(), 1, "{open}");
    assert_ne!(open["items"][0]["alertId"], alert_id.as_str());
    // The father's own device made no change through sync here, so it was poked each time.
    assert!(!father_phone.is_empty());
}

async fn organization_rules_alert_the_municipality_nurses_only(backend: Backend) {
    let Some(Push { app, fcm, .. }) = spawn(backend, true).await else { return };
    let admin = admin(&app).await;
    let (tone, nurse, _) =
        org_with_member(&app, &admin, "municipality", "利根町", "nurse@tone.example.jp", "nurse").await;
    let (_, other_nurse, _) =
        org_with_member(&app, &admin, "municipality", "他市", "nurse@other.example.jp", "nurse").await;
    device(&app, &nurse, "tone-nurse").await;
    device(&app, &other_nurse, "other-nurse").await;
    let rule = json!({"kind": "blood_pressure", "component": "systolic", "op": ">=", "threshold": 180});
    let (status, _) = app.post_json(&format!("/v1/orgs/{tone}/alert-rules"), Some(&nurse), &rule).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "nurses do not set the programme's rules");
    let (status, r) = app.post_json(&format!("/v1/orgs/{tone}/alert-rules"), Some(&admin), &rule).await;
    assert_eq!(status, StatusCode::CREATED, "{r}");

    let (resident, _, person) = app.user("jumin@example.jp").await;
    // Not shared with the municipality yet: nothing fires.
    upload(&app, &resident, &person, vec![bp("2026-11-20T07:00:00+09:00", 190.0)]).await;
    let (_, open) = app.get("/v1/alerts", Some(&resident)).await;
    assert_eq!(open["items"], json!([]));
    grant(&app, &resident, &person, json!({"orgId": tone}), &["vitals"], "read", "public_health").await;
    let (_, rules) = app.get(&format!("/v1/persons/{person}/alert-rules"), Some(&resident)).await;
    assert_eq!(rules["items"][0]["orgId"], tone.as_str(), "{rules}");
    upload(&app, &resident, &person, vec![bp("2026-11-21T07:00:00+09:00", 185.0)]).await;
    let (_, open) = app.get("/v1/alerts?status=open", Some(&nurse)).await;
    assert_eq!(open["items"].as_array().unwrap().len(), 1, "{open}");
    let (_, none) = app.get("/v1/alerts?status=open", Some(&other_nurse)).await;
    assert_eq!(none["items"], json!([]));
    eventually(&fcm, "the nurse's alert", |f| {
        f.messages_to("tone-nurse").iter().any(|m| m["data"]["event"] == "alert")
    })
    .await;
    assert!(fcm.messages_to("other-nurse").is_empty());
}

async fn dead_tokens_are_removed_and_throttling_is_retried_after_retry_after(backend: Backend) {
    let Some(Push { app, fcm, .. }) = spawn(backend, true).await else { return };
    let (owner, _, person) = app.user("owner@example.jp").await;
    device(&app, &owner, "uninstalled").await;
    device(&app, &owner, "throttled").await;
    fcm.fail_next("uninstalled", Failure::Unregistered);
    fcm.fail_next("throttled", Failure::QuotaExceeded { retry_after: Some("2".into()) });
    let before = chrono::Utc::now();
    upload(&app, &owner, &person, vec![bp("2026-11-20T07:00:00+09:00", 120.0)]).await;

    // UNREGISTERED: the device keeps its registration but loses the dead token.
    for _ in 0..200 {
        let (_, devices) = app.get("/v1/devices", Some(&owner)).await;
        let d =
            devices["items"].as_array().unwrap().iter().find(|d| d["name"] == "uninstalled").unwrap().clone();
        if d["pushEnabled"] == false {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, devices) = app.get("/v1/devices", Some(&owner)).await;
    let dead =
        devices["items"].as_array().unwrap().iter().find(|d| d["name"] == "uninstalled").unwrap().clone();
    assert_eq!(dead["pushEnabled"], false, "{devices}");
    assert!(fcm.messages_to("uninstalled").is_empty());

    // 429 with Retry-After: 2 → not again before two seconds, then delivered.
    eventually(&fcm, "the throttled poke", |f| !f.messages_to("throttled").is_empty()).await;
    let waited = chrono::Utc::now() - before;
    assert!(waited >= chrono::Duration::seconds(2), "retried after {waited}");
    assert!(waited < chrono::Duration::seconds(8), "retried after {waited}");
    let attempts =
        scalar(&app, "SELECT CAST(MAX(attempts) AS BIGINT) FROM push_outbox WHERE status = 'sent'").await;
    assert_eq!(attempts, 2);
    let dropped = scalar(&app, "SELECT COUNT(*) FROM push_outbox WHERE status = 'dropped'").await;
    assert_eq!(dropped, 1);
}

async fn a_committed_push_survives_a_worker_that_was_not_running_and_is_sent_once(backend: Backend) {
    // The server commits the event but its worker is not running: a crash between commit and send.
    let Some(Push { app, fcm, _dir }) = spawn(backend, false).await else { return };
    let (owner, _, person) = app.user("owner@example.jp").await;
    let (friend, friend_account, _) = app.user("friend@example.jp").await;
    device(&app, &friend, "friend-phone").await;
    grant(&app, &owner, &person, json!({"accountId": friend_account}), &["vitals"], "read", "family").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(fcm.messages().is_empty());
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM push_outbox WHERE status = 'pending'").await, 1);
    let (_, inbox) = app.get("/v1/notifications", Some(&friend)).await;
    assert_eq!(inbox["items"][0]["event"], "grant_created", "the inbox does not wait for push");

    // A worker starts (the restarted process): the push goes out, once.
    let db = phr::db::connect(&app.database_url, 2).await.unwrap();
    let sender = FcmSender::from_config(&fcm.config(_dir.path())).unwrap();
    let worker = Worker::new(db, Some(std::sync::Arc::new(sender)), 8);
    let round = worker.round().await.unwrap();
    assert_eq!(round.sent, 1, "{round:?}");
    let again = worker.round().await.unwrap();
    assert_eq!(again.sent, 0);
    let got = fcm.messages_to("friend-phone");
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["data"]["event"], "grant_created");
    assert_eq!(got[0]["data"]["notificationId"], inbox["items"][0]["id"]);
}

async fn preferences_switch_events_off_and_hold_pushes_in_quiet_hours(backend: Backend) {
    let Some(Push { app, fcm, .. }) = spawn(backend, true).await else { return };
    let (owner, _, person) = app.user("owner@example.jp").await;
    let (friend, friend_account, _) = app.user("friend@example.jp").await;
    device(&app, &friend, "friend-phone").await;

    let (status, prefs) = app.get("/v1/me/notification-preferences", Some(&friend)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (prefs["events"]["alert"].as_bool(), prefs["timeZone"].as_str()),
        (Some(true), Some("Asia/Tokyo"))
    );
    let put = |body: Value| {
        let app = &app;
        let friend = friend.clone();
        async move {
            let res = app
                .client
                .put(app.url("/v1/me/notification-preferences"))
                .bearer_auth(&friend)
                .json(&body)
                .send()
                .await
                .unwrap();
            (res.status(), res.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = put(json!({"events": {}, "quietHours": {"start": "25:00", "end": "07:00"}})).await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(body["errors"][0]["path"], "quietHours.start");
    let (status, saved) = put(json!({"events": {"grant_created": false, "emergency_access": false}})).await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved["events"]["grant_created"], false);
    assert_eq!(saved["events"]["emergency_access"], true, "emergencies cannot be switched off");

    let g = grant(&app, &owner, &person, json!({"accountId": friend_account}), &["vitals"], "read", "family")
        .await;
    let (_, inbox) = app.get("/v1/notifications", Some(&friend)).await;
    assert_eq!(inbox["items"], json!([]), "switched off");

    // Quiet hours from an hour ago to two hours ahead: the revocation is in the inbox at once, its push waits.
    let jst = chrono::Utc::now() + chrono::Duration::hours(9);
    let hm = |t: chrono::DateTime<chrono::Utc>| t.format("%H:%M").to_string();
    let quiet =
        json!({"start": hm(jst - chrono::Duration::hours(1)), "end": hm(jst + chrono::Duration::hours(2))});
    let (status, _) = put(json!({"events": {}, "quietHours": quiet})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .delete(&format!("/v1/persons/{person}/grants/{}", g["grantId"].as_str().unwrap()), Some(&owner))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, inbox) = app.get("/v1/notifications", Some(&friend)).await;
    assert_eq!(inbox["items"][0]["event"], "grant_revoked");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(fcm.messages_to("friend-phone").is_empty(), "held until quiet hours end");
    let held =
        scalar(&app, "SELECT COUNT(*) FROM push_outbox WHERE status = 'pending' AND attempts = 0").await;
    assert_eq!(held, 1, "waiting, not tried");
}

async fn sharing_events_reach_the_right_inboxes(backend: Backend) {
    let Some(Push { app, fcm, .. }) = spawn(backend, true).await else { return };
    let admin = admin(&app).await;
    let (owner, _, person) = app.user("owner@example.jp").await;
    device(&app, &owner, "owner-phone").await;
    let (daughter, _, _) = app.user("musume@example.jp").await;
    let (_, pharmacist, _) =
        org_with_member(&app, &admin, "pharmacy", "駅前薬局", "rx@pharmacy.example.jp", "pharmacist").await;

    // An invitation accepted: the person hears of it; the new grantee is not told of their own act.
    let (status, inv) = app
        .post_json(
            &format!("/v1/persons/{person}/invitations"),
            Some(&owner),
            &json!({"categories": ["vitals"], "access": "read", "purpose": "family"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{inv}");
    let (status, g) =
        app.post_json("/v1/invitations/accept", Some(&daughter), &json!({"code": inv["code"]})).await;
    assert_eq!(status, StatusCode::CREATED, "{g}");
    // A share code redeemed at the pharmacy counter.
    let (_, sc) = app
        .post_json(
            &format!("/v1/persons/{person}/share-codes"),
            Some(&owner),
            &json!({"categories": ["medications"], "access": "read"}),
        )
        .await;
    let (status, _) =
        app.post_json("/v1/share-codes/redeem", Some(&pharmacist), &json!({"code": sc["code"]})).await;
    assert_eq!(status, StatusCode::CREATED);

    let (_, inbox) = app.get("/v1/notifications", Some(&owner)).await;
    let events: Vec<&str> =
        inbox["items"].as_array().unwrap().iter().map(|n| n["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["share_code_redeemed", "invitation_accepted"], "newest first");
    assert_eq!(inbox["items"][1]["data"]["grantId"], g["grantId"]);
    let (_, theirs) = app.get("/v1/notifications", Some(&daughter)).await;
    assert_eq!(theirs["items"], json!([]));
    eventually(&fcm, "both on the phone", |f| f.messages_to("owner-phone").len() >= 2).await;
    let pushed: Vec<String> = fcm
        .messages_to("owner-phone")
        .iter()
        .map(|m| m["data"]["event"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        pushed.contains(&"invitation_accepted".to_owned())
            && pushed.contains(&"share_code_redeemed".to_owned())
    );
    // Inbox pages: one at a time, newest first, then the end.
    let (_, first) = app.get("/v1/notifications?limit=1", Some(&owner)).await;
    let cursor = first["nextCursor"].as_str().unwrap();
    let (_, second) = app.get(&format!("/v1/notifications?limit=1&cursor={cursor}"), Some(&owner)).await;
    assert_eq!(second["items"][0]["event"], "invitation_accepted");
    assert!(second["nextCursor"].is_null());
}
