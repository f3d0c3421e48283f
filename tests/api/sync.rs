use std::collections::BTreeMap;

use phr_tests::{StatusCode, TestApp, assert_problem, both_databases};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::consent::grant;

both_databases!(
    first_sync_pages_through_everything_then_goes_quiet,
    deletions_arrive_as_tombstones,
    a_granted_person_appears_from_the_start_and_is_purged_on_revoke,
    only_granted_categories_are_synced,
    malformed_and_outdated_cursors_are_refused,
    push_applies_and_a_retry_changes_nothing,
    stale_pushes_conflict_and_read_only_grantees_are_rejected,
    long_poll_returns_as_soon_as_a_change_arrives,
    two_writers_and_a_reader_converge,
    a_mutation_id_is_limited_to_64_characters_not_bytes,
    a_quiet_poll_keeps_its_cursor_and_hidden_changes_move_it_on,
    observations_and_dispensings_arrive_in_one_feed_in_change_order
);

pub fn weight(minute: u32, kg: f64) -> Value {
    json!({"id": Uuid::new_v4(), "kind": "body_weight", "value": kg, "unit": "kg",
           "effectiveAt": format!("2026-01-{:02}T{:02}:{:02}:00+09:00", 1 + minute / 1440, minute / 60 % 24, minute % 60),
           "source": {"app": "test", "device": "scale", "method": "device"}})
}

/// A day's step count: an `activity` reading, for grants that cover vitals only.
fn steps() -> Value {
    json!({"id": Uuid::new_v4(), "kind": "steps", "value": 4000, "unit": "{steps}",
           "effectiveStart": "2026-01-05T00:00:00+09:00", "effectiveEnd": "2026-01-06T00:00:00+09:00",
           "source": {"method": "device"}})
}

pub async fn upload(app: &TestApp, token: &str, person: &str, items: Vec<Value>) {
    let (status, body) = app
        .post_json(
            &format!("/v1/persons/{person}/observations/batch"),
            Some(token),
            &json!({"observations": items}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Pulls until `hasMore` is false, applying changes to `local`; returns the final cursor.
pub async fn drain(
    app: &TestApp,
    token: &str,
    cursor: &mut String,
    local: &mut BTreeMap<String, Value>,
    limit: u32,
) -> Vec<String> {
    let mut purged = Vec::new();
    loop {
        let (status, page) =
            app.get(&format!("/v1/sync/changes?limit={limit}&cursor={cursor}"), Some(token)).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for p in page["purge"].as_array().unwrap() {
            let p = p.as_str().unwrap().to_owned();
            local.retain(|_, v| v["personId"] != p.as_str());
            purged.push(p);
        }
        for c in page["changes"].as_array().unwrap() {
            let id = c["id"].as_str().unwrap().to_owned();
            if c["deleted"] == true {
                assert!(c.get("data").is_none(), "tombstones carry no data");
                local.remove(&id);
            } else {
                let mut v = c["data"].clone();
                v["personId"] = c["personId"].clone();
                local.insert(id, v);
            }
        }
        *cursor = page["cursor"].as_str().unwrap().to_owned();
        if page["hasMore"] == false {
            return purged;
        }
    }
}

/// Every live observation of `person` as the list endpoint returns it.
pub async fn server_state(app: &TestApp, token: &str, person: &str) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let mut path = format!("/v1/persons/{person}/observations?limit=500");
    loop {
        let (_, page) = app.get(&path, Some(token)).await;
        for o in page["items"].as_array().unwrap() {
            let mut v = o.clone();
            v["personId"] = json!(person);
            out.insert(o["id"].as_str().unwrap().to_owned(), v);
        }
        match page["nextCursor"].as_str() {
            Some(c) => path = format!("/v1/persons/{person}/observations?limit=500&cursor={c}"),
            None => return out,
        }
    }
}

pub async fn device(app: &TestApp, token: &str) -> String {
    let (_, d) =
        app.post_json("/v1/devices", Some(token), &json!({"platform": "ios", "name": "phone"})).await;
    d["deviceId"].as_str().unwrap().to_owned()
}

async fn first_sync_pages_through_everything_then_goes_quiet(app: TestApp) {
    let (token, _, person) = app.user("sync@example.jp").await;
    upload(&app, &token, &person, (0..7).map(|i| weight(i, 60.0 + i as f64)).collect()).await;
    let (mut cursor, mut local) = (String::new(), BTreeMap::new());
    drain(&app, &token, &mut cursor, &mut local, 3).await;
    assert_eq!(local, server_state(&app, &token, &person).await, "exactly the server's state");
    assert_eq!(local.len(), 7);
    let (_, page) = app.get(&format!("/v1/sync/changes?cursor={cursor}"), Some(&token)).await;
    assert_eq!((page["changes"].as_array().unwrap().len(), &page["hasMore"]), (0, &json!(false)));
    // Incremental: only what changed since.
    upload(&app, &token, &person, vec![weight(100, 70.0)]).await;
    let (_, page) = app.get(&format!("/v1/sync/changes?cursor={cursor}"), Some(&token)).await;
    let changes = page["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0]["type"], "observation");
    assert_eq!(changes[0]["version"], 1);
    assert_eq!(changes[0]["data"]["value"], 70.0);
}

async fn deletions_arrive_as_tombstones(app: TestApp) {
    let (token, _, person) = app.user("tomb@example.jp").await;
    let w = weight(1, 60.0);
    upload(&app, &token, &person, vec![w.clone(), weight(2, 61.0)]).await;
    let (mut cursor, mut local) = (String::new(), BTreeMap::new());
    drain(&app, &token, &mut cursor, &mut local, 500).await;
    let id = w["id"].as_str().unwrap();
    app.delete(&format!("/v1/persons/{person}/observations/{id}"), Some(&token)).await;
    let (_, page) = app.get(&format!("/v1/sync/changes?cursor={cursor}"), Some(&token)).await;
    let c = &page["changes"][0];
    assert_eq!((c["id"].as_str(), &c["deleted"], &c["version"]), (Some(id), &json!(true), &json!(2)));
    drain(&app, &token, &mut cursor, &mut local, 500).await;
    assert_eq!(local, server_state(&app, &token, &person).await);
}

async fn a_granted_person_appears_from_the_start_and_is_purged_on_revoke(app: TestApp) {
    let (father, _, father_person) = app.user("father@example.jp").await;
    let (daughter, daughter_account, _) = app.user("daughter@example.jp").await;
    upload(&app, &father, &father_person, vec![weight(1, 60.0), weight(2, 61.0)]).await;
    let (mut cursor, mut local) = (String::new(), BTreeMap::new());
    drain(&app, &daughter, &mut cursor, &mut local, 500).await;
    assert!(local.is_empty());
    let g = grant(
        &app,
        &father,
        &father_person,
        json!({"accountId": daughter_account}),
        &["vitals"],
        "read",
        "family",
    )
    .await;
    drain(&app, &daughter, &mut cursor, &mut local, 500).await;
    assert_eq!(local.len(), 2, "the newly granted person's history, from the beginning");
    app.delete(
        &format!("/v1/persons/{father_person}/grants/{}", g["grantId"].as_str().unwrap()),
        Some(&father),
    )
    .await;
    upload(&app, &father, &father_person, vec![weight(3, 62.0)]).await;
    let (_, page) = app.get(&format!("/v1/sync/changes?cursor={cursor}"), Some(&daughter)).await;
    assert_eq!(page["purge"], json!([father_person]));
    assert_eq!(page["changes"], json!([]), "nothing of theirs after");
    let purged = drain(&app, &daughter, &mut cursor, &mut local, 500).await;
    assert_eq!(purged, vec![father_person.clone()]);
    assert!(local.is_empty());
    let (_, page) = app.get(&format!("/v1/sync/changes?cursor={cursor}"), Some(&daughter)).await;
    assert_eq!(page["purge"], json!([]), "purged once");
}

async fn only_granted_categories_are_synced(app: TestApp) {
    let (father, _, father_person) = app.user("father@example.jp").await;
    let (daughter, daughter_account, _) = app.user("daughter@example.jp").await;
    let steps = steps();
    upload(&app, &father, &father_person, vec![weight(1, 60.0), steps]).await;
    grant(
        &app,
        &father,
        &father_person,
        json!({"accountId": daughter_account}),
        &["vitals"],
        "read",
        "family",
    )
    .await;
    let (mut cursor, mut local) = (String::new(), BTreeMap::new());
    drain(&app, &daughter, &mut cursor, &mut local, 500).await;
    assert_eq!(local.values().map(|v| v["kind"].as_str().unwrap()).collect::<Vec<_>>(), ["body_weight"]);
    // The grant widens: the person is purged and re-sent with what is visible now.
    grant(
        &app,
        &father,
        &father_person,
        json!({"accountId": daughter_account}),
        &["activity"],
        "read",
        "family",
    )
    .await;
    let purged = drain(&app, &daughter, &mut cursor, &mut local, 500).await;
    assert_eq!(purged, vec![father_person.clone()]);
    assert_eq!(local.len(), 2);
}

async fn malformed_and_outdated_cursors_are_refused(app: TestApp) {
    let (token, _, person) = app.user("cursor@example.jp").await;
    let (status, body) = app.get("/v1/sync/changes?cursor=not-a-cursor", Some(&token)).await;
    assert_problem(status, &body, StatusCode::BAD_REQUEST, "bad_request");
    let (status, body) = app.get("/v1/sync/changes?limit=5000", Some(&token)).await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let (status, body) = app.get("/v1/sync/changes?wait=31", Some(&token)).await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let w = weight(1, 60.0);
    upload(&app, &token, &person, vec![w.clone(), weight(2, 61.0)]).await;
    let (mut cursor, mut local) = (String::new(), BTreeMap::new());
    drain(&app, &token, &mut cursor, &mut local, 500).await;
    app.delete(&format!("/v1/persons/{person}/observations/{}", w["id"].as_str().unwrap()), Some(&token))
        .await;
    upload(&app, &token, &person, vec![weight(3, 62.0)]).await;
    // The deletion ages past the retention window. The first pruning run
    // raises the floor over it, so the old cursor must resync at once; the
    // tombstone itself goes only once that floor has stood for the grace
    // period, whichever instance prunes next.
    let db = sea_orm::Database::connect(&app.database_url).await.unwrap();
    let prune = |grace| phr::sync::feed::prune_tombstones(&db, chrono::Duration::zero(), grace);
    assert_eq!(prune(chrono::Duration::hours(1)).await.unwrap(), 0);
    let (status, body) = app.get(&format!("/v1/sync/changes?cursor={cursor}"), Some(&token)).await;
    assert_problem(status, &body, StatusCode::GONE, "resync_required");
    assert_eq!(prune(chrono::Duration::hours(1)).await.unwrap(), 0, "the floor is too recent");
    assert_eq!(prune(chrono::Duration::zero()).await.unwrap(), 1);
    let (status, body) = app.get(&format!("/v1/sync/changes?cursor={cursor}"), Some(&token)).await;
    assert_problem(status, &body, StatusCode::GONE, "resync_required");
    // A full resync from no cursor works and matches the server.
    let (mut fresh, mut local) = (String::new(), BTreeMap::new());
    drain(&app, &token, &mut fresh, &mut local, 500).await;
    assert_eq!(local, server_state(&app, &token, &person).await);
    assert_eq!(local.len(), 2);
}

async fn push_applies_and_a_retry_changes_nothing(app: TestApp) {
    let (token, _, person) = app.user("push@example.jp").await;
    let dev = device(&app, &token).await;
    let w = weight(1, 60.0);
    let body = json!({"deviceId": dev, "mutations": [
        {"mutationId": "m1", "op": "upsert", "type": "observation", "personId": person, "id": w["id"], "data": w},
        {"mutationId": "m2", "op": "upsert", "type": "observation", "personId": person, "id": Uuid::new_v4(),
         "data": {"id": "x"}},
    ]});
    let (status, first) = app.post_json("/v1/sync/push", Some(&token), &body).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["results"][0]["status"], "applied");
    assert_eq!(first["results"][0]["version"], 1);
    assert_eq!(first["results"][1]["status"], "rejected");
    assert_eq!(first["results"][1]["errors"][0]["path"], "data/id");
    // The phone lost the response and pushes again.
    let (_, again) = app.post_json("/v1/sync/push", Some(&token), &body).await;
    assert_eq!(again, first, "recorded results, nothing re-applied");
    assert_eq!(server_state(&app, &token, &person).await.len(), 1);
    let del = json!({"deviceId": dev, "mutations": [
        {"mutationId": "m3", "op": "delete", "type": "observation", "personId": person, "id": w["id"], "baseVersion": 1}]});
    let (_, r) = app.post_json("/v1/sync/push", Some(&token), &del).await;
    assert_eq!(
        (r["results"][0]["status"].as_str(), r["results"][0]["version"].as_i64()),
        (Some("applied"), Some(2))
    );
    assert!(server_state(&app, &token, &person).await.is_empty());
    let (status, body) = app
        .post_json("/v1/sync/push", Some(&token), &json!({"deviceId": Uuid::new_v4(), "mutations": []}))
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(body["errors"][0]["path"], "deviceId");
}

async fn stale_pushes_conflict_and_read_only_grantees_are_rejected(app: TestApp) {
    let (father, _, person) = app.user("father@example.jp").await;
    let (daughter, daughter_account, _) = app.user("daughter@example.jp").await;
    grant(&app, &father, &person, json!({"accountId": daughter_account}), &["vitals"], "read", "family")
        .await;
    let dev = device(&app, &father).await;
    let w = weight(1, 60.0);
    upload(&app, &father, &person, vec![w.clone()]).await;
    let mut changed = w.clone();
    changed["value"] = json!(65.0);
    let (_, r) = app
        .post_json("/v1/sync/push", Some(&father), &json!({"deviceId": dev, "mutations": [
            {"mutationId": "a", "op": "upsert", "type": "observation", "personId": person, "id": w["id"], "data": changed},
            {"mutationId": "b", "op": "delete", "type": "observation", "personId": person, "id": w["id"], "baseVersion": 7}]}))
        .await;
    assert_eq!(r["results"][0]["status"], "conflict");
    assert_eq!(r["results"][0]["current"]["value"], 60.0, "the server copy comes back");
    assert_eq!(r["results"][1]["status"], "conflict");
    assert_eq!(r["results"][1]["version"], 1);
    assert_eq!(server_state(&app, &father, &person).await.len(), 1, "nothing overwritten or deleted");
    let ddev = device(&app, &daughter).await;
    let (status, r) = app
        .post_json("/v1/sync/push", Some(&daughter), &json!({"deviceId": ddev, "mutations": [
            {"mutationId": "c", "op": "upsert", "type": "observation", "personId": person, "id": Uuid::new_v4(),
             "data": weight(2, 61.0)}]}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(r["results"][0]["status"], "rejected");
    assert_eq!(r["results"][0]["errors"][0]["path"], "personId");
}

async fn long_poll_returns_as_soon_as_a_change_arrives(app: TestApp) {
    let (token, _, person) = app.user("poll@example.jp").await;
    let (mut cursor, mut local) = (String::new(), BTreeMap::new());
    drain(&app, &token, &mut cursor, &mut local, 500).await;
    let started = std::time::Instant::now();
    let path = format!("/v1/sync/changes?wait=20&cursor={cursor}");
    let waiting = app.get(&path, Some(&token));
    let writer = async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        upload(&app, &token, &person, vec![weight(5, 66.0)]).await;
    };
    let ((status, page), ()) = tokio::join!(waiting, writer);
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["changes"].as_array().unwrap().len(), 1, "{page}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "woke on the change, not the timeout");
}

/// Two writers (batch upload, and push with deletes) and a reader pulling
/// small pages, interleaved at random; after draining, the reader holds
/// exactly the server's state. Several seeds.
async fn two_writers_and_a_reader_converge(app: TestApp) {
    let (token, _, person) = app.user("converge@example.jp").await;
    let (reader, reader_account, _) = app.user("reader@example.jp").await;
    grant(&app, &token, &person, json!({"accountId": reader_account}), &["vitals"], "read", "family").await;
    let dev = device(&app, &token).await;
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut rand = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let (mut cursor, mut local) = (String::new(), BTreeMap::new());
    let mut minute = 0;
    let mut live: Vec<String> = Vec::new();
    for round in 0..12 {
        let n = 1 + rand() % 6;
        let batch: Vec<Value> = (0..n)
            .map(|_| {
                minute += 1;
                weight(minute, 50.0 + (minute % 40) as f64)
            })
            .collect();
        live.extend(batch.iter().map(|w| w["id"].as_str().unwrap().to_owned()));
        let mut mutations = Vec::new();
        for k in 0..(rand() % 4) {
            minute += 1;
            let w = weight(minute, 55.0);
            live.push(w["id"].as_str().unwrap().to_owned());
            mutations
                .push(json!({"mutationId": format!("r{round}u{k}"), "op": "upsert", "type": "observation",
                                  "personId": person, "id": w["id"], "data": w}));
        }
        if !live.is_empty() && rand() % 2 == 0 {
            let victim = live.remove((rand() % live.len() as u64) as usize);
            mutations.push(json!({"mutationId": format!("r{round}d"), "op": "delete", "type": "observation",
                                  "personId": person, "id": victim}));
        }
        let limit = 1 + (rand() % 4) as u32;
        let push = json!({"deviceId": dev, "mutations": mutations});
        let pull = async {
            let (status, page) =
                app.get(&format!("/v1/sync/changes?limit={limit}&cursor={cursor}"), Some(&reader)).await;
            assert_eq!(status, StatusCode::OK);
            page
        };
        let (_, push_result, page) = tokio::join!(
            upload(&app, &token, &person, batch),
            app.post_json("/v1/sync/push", Some(&token), &push),
            pull
        );
        assert_eq!(push_result.0, StatusCode::OK, "{}", push_result.1);
        for c in page["changes"].as_array().unwrap() {
            let id = c["id"].as_str().unwrap().to_owned();
            if c["deleted"] == true {
                local.remove(&id);
            } else {
                let mut v = c["data"].clone();
                v["personId"] = c["personId"].clone();
                local.insert(id, v);
            }
        }
        cursor = page["cursor"].as_str().unwrap().to_owned();
    }
    drain(&app, &reader, &mut cursor, &mut local, 7).await;
    let server = server_state(&app, &token, &person).await;
    assert_eq!(local.len(), server.len());
    assert_eq!(local, server, "the reader converged on the server's state");
}

mod review {
    use super::*;

    both_databases!(a_conflict_never_shows_a_category_the_pusher_cannot_read);

    async fn a_conflict_never_shows_a_category_the_pusher_cannot_read(app: TestApp) {
        let (father, _, person) = app.user("father@example.jp").await;
        let (daughter, daughter_account, _) = app.user("daughter@example.jp").await;
        grant(&app, &father, &person, json!({"accountId": daughter_account}), &["vitals"], "write", "family")
            .await;
        let glucose = json!({"id": Uuid::new_v4(), "kind": "blood_glucose", "value": 180, "unit": "mg/dL",
                             "effectiveAt": "2026-01-06T07:00:00+09:00", "source": {"method": "device"}});
        upload(&app, &father, &person, vec![glucose.clone()]).await;
        let dev = device(&app, &daughter).await;
        let (status, r) = app
            .post_json("/v1/sync/push", Some(&daughter), &json!({"deviceId": dev, "mutations": [
                {"mutationId": "x1", "op": "delete", "type": "observation", "personId": person, "id": glucose["id"], "baseVersion": 9},
                {"mutationId": "x2", "op": "delete", "type": "observation", "personId": person, "id": glucose["id"]},
                {"mutationId": "x3", "op": "upsert", "type": "observation", "personId": person, "id": Uuid::new_v4(),
                 "data": weight(9, 61.0)}]}))
            .await;
        assert_eq!(status, StatusCode::OK, "one refused mutation does not sink the push: {r}");
        assert_eq!(r["results"][0]["status"], "conflict");
        assert!(r["results"][0].get("current").is_none(), "no labs data for a vitals grantee: {r}");
        assert_eq!(r["results"][1]["status"], "rejected");
        assert_eq!(r["results"][2]["status"], "rejected", "the upsert's id does not match its data");
        assert_eq!(server_state(&app, &father, &person).await.len(), 1, "the glucose reading is still there");
    }
}

/// The spec says `maxLength: 64` (characters); the server counted bytes, so
/// 22 kana (66 bytes) were refused. Found by the contract fuzzer.
async fn a_mutation_id_is_limited_to_64_characters_not_bytes(app: TestApp) {
    let (token, _, person) = app.user("kana-ids@example.jp").await;
    let dev = device(&app, &token).await;
    let push = |mutation_id: String| {
        let w = weight(3, 61.0);
        json!({"deviceId": dev, "mutations": [
            {"mutationId": mutation_id, "op": "upsert", "type": "observation", "personId": person,
             "id": w["id"], "data": w},
        ]})
    };
    let (status, r) = app.post_json("/v1/sync/push", Some(&token), &push("あ".repeat(64))).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["results"][0]["status"], "applied", "{r}");
    for bad in [String::new(), "あ".repeat(65)] {
        let (status, r) = app.post_json("/v1/sync/push", Some(&token), &push(bad)).await;
        assert_problem(status, &r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(r["errors"][0]["path"], "mutations/0/mutationId", "{r}");
    }
}

/// The cheap "nothing new" answer (one consent read, no record query) must
/// not hide anything: an unchanged record keeps the cursor, a change in a
/// category the reader cannot see moves it on without showing it, and the
/// next visible change still arrives, as does a revoke.
async fn a_quiet_poll_keeps_its_cursor_and_hidden_changes_move_it_on(app: TestApp) {
    let (father, _, father_person) = app.user("quiet-father@example.jp").await;
    let (daughter, daughter_account, _) = app.user("quiet-daughter@example.jp").await;
    upload(&app, &father, &father_person, vec![weight(1, 60.0)]).await;
    let g = grant(
        &app,
        &father,
        &father_person,
        json!({"accountId": daughter_account}),
        &["vitals"],
        "read",
        "family",
    )
    .await;
    let (mut cursor, mut local) = (String::new(), BTreeMap::new());
    drain(&app, &daughter, &mut cursor, &mut local, 500).await;
    assert_eq!(local.len(), 1);
    let poll = |cursor: String| {
        let (app, daughter) = (&app, &daughter);
        async move {
            let (status, page) = app.get(&format!("/v1/sync/changes?cursor={cursor}"), Some(daughter)).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            page
        }
    };
    let quiet = poll(cursor.clone()).await;
    assert_eq!((&quiet["changes"], &quiet["purge"]), (&json!([]), &json!([])));
    assert_eq!(quiet["cursor"], json!(cursor), "nothing happened: the same cursor");

    let steps = steps();
    upload(&app, &father, &father_person, vec![steps]).await;
    let hidden = poll(cursor.clone()).await;
    assert_eq!(hidden["changes"], json!([]), "activity is not granted");
    let moved = hidden["cursor"].as_str().unwrap().to_owned();
    assert_ne!(moved, cursor, "the cursor passes the hidden change");
    assert_eq!(poll(moved.clone()).await["cursor"], json!(moved), "and then stays");

    upload(&app, &father, &father_person, vec![weight(2, 61.0)]).await;
    let visible = poll(moved.clone()).await;
    let kinds: Vec<&str> =
        visible["changes"].as_array().unwrap().iter().map(|c| c["data"]["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["body_weight"]);

    let after = visible["cursor"].as_str().unwrap().to_owned();
    // No upload after the revoke: the poll is otherwise up to date.
    app.delete(
        &format!("/v1/persons/{father_person}/grants/{}", g["grantId"].as_str().unwrap()),
        Some(&father),
    )
    .await;
    let revoked = poll(after).await;
    assert_eq!(revoked["purge"], json!([father_person]), "a revoke reaches an up-to-date device at once");
}

/// Both synced types share the feed, in change order. A page whose window the
/// observations fill asks no other type; a window with a gap (a duplicate in a
/// batch takes a change number it does not keep) or with a dispensing in it
/// still finds the dispensing.
async fn observations_and_dispensings_arrive_in_one_feed_in_change_order(app: TestApp) {
    let (token, _, person) = app.user("both@example.jp").await;
    let page = |cursor: String| {
        let (app, token) = (&app, &token);
        async move {
            let (status, page) = app.get(&format!("/v1/sync/changes?cursor={cursor}"), Some(token)).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            let types: Vec<String> = page["changes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["type"].as_str().unwrap().to_owned())
                .collect();
            (types, page["cursor"].as_str().unwrap().to_owned())
        }
    };
    let first = weight(1, 60.0);
    upload(&app, &token, &person, vec![first.clone(), weight(2, 61.0)]).await;
    let (types, cursor) = page(String::new()).await;
    assert_eq!(types, ["observation", "observation"]);
    // A gap (the repeated item keeps its old number), an observation, a dispensing, an observation.
    upload(&app, &token, &person, vec![first, weight(3, 62.0)]).await;
    let qr = json!({"parts": [{"text": crate::medications::text("tc07_spec24_example01.csv")}]});
    let (status, body) =
        app.post_json(&format!("/v1/persons/{person}/medications/qr"), Some(&token), &qr).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    upload(&app, &token, &person, vec![weight(4, 63.0)]).await;
    let (types, cursor) = page(cursor).await;
    assert_eq!(types, ["observation", "dispensing", "observation"]);
    // Observations only, filling the window: the next page has just them.
    upload(&app, &token, &person, vec![weight(5, 64.0), weight(6, 65.0)]).await;
    let (types, cursor) = page(cursor).await;
    assert_eq!(types, ["observation", "observation"]);
    let (types, _) = page(cursor).await;
    assert!(types.is_empty(), "{types:?}");
    // From the start: everything, in change order.
    let (types, _) = page(String::new()).await;
    assert_eq!(
        types,
        [
            "observation",
            "observation",
            "observation",
            "dispensing",
            "observation",
            "observation",
            "observation"
        ]
    );
}
