//! Two stateless instances on one PostgreSQL database, as behind a load
//! balancer (docs/scaling.md): tokens, device ids and sync cursors issued by
//! one are honoured by the other, and clients that write and pull through
//! either converge on the database's state.

use std::collections::{BTreeMap, BTreeSet};

use phr_tests::{Backend, StatusCode, TestApp};
use serde_json::{Value, json};

use crate::consent::grant;
use crate::sync::{device, drain, server_state, upload, weight};

/// Both instances, or `None` when PostgreSQL is not configured.
async fn pair() -> Option<(TestApp, TestApp)> {
    let Some(a) = TestApp::spawn(Backend::Postgres).await else {
        eprintln!("skipped: PHR_TEST_POSTGRES_URL is not set");
        return None;
    };
    let b = a.spawn_peer().await;
    Some((a, b))
}

/// What a phone holds: its cursor, its records, and each record's last version seen.
#[derive(Default)]
struct Phone {
    cursor: String,
    local: BTreeMap<String, Value>,
    versions: BTreeMap<String, i64>,
}

impl Phone {
    /// One page through `app`; every change must be new (a higher version than
    /// any this phone saw for that record): none delivered twice.
    async fn pull(&mut self, app: &TestApp, token: &str, limit: u64) -> bool {
        let (status, page) =
            app.get(&format!("/v1/sync/changes?limit={limit}&cursor={}", self.cursor), Some(token)).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["purge"], json!([]), "no access changed");
        for c in page["changes"].as_array().unwrap() {
            let id = c["id"].as_str().unwrap().to_owned();
            let version = c["version"].as_i64().unwrap();
            let before = self.versions.insert(id.clone(), version);
            assert!(before.is_none_or(|v| v < version), "{id} v{version} delivered again (had v{before:?})");
            if c["deleted"] == true {
                self.local.remove(&id);
            } else {
                let mut v = c["data"].clone();
                v["personId"] = c["personId"].clone();
                self.local.insert(id, v);
            }
        }
        self.cursor = page["cursor"].as_str().unwrap().to_owned();
        page["hasMore"] == true
    }
}

/// Two persons write through both instances at once (batch uploads through
/// one, pushes with deletions through the other); a family member following
/// both, and one of the persons on her own phone, pull small pages through
/// whichever instance the round picks, carrying cursors across instances.
/// After draining, each phone holds exactly the database's state as either
/// instance lists it, which is exactly what was written minus what was deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_and_readers_on_two_instances_converge() {
    let Some((a, b)) = pair().await else { return };
    let apps = [&a, &b];
    // Accounts made and signed in on A work on B: one signing key.
    let (mother, _, mother_person) = a.user("mother@example.jp").await;
    let (father, _, father_person) = b.user("father@example.jp").await;
    let (child, child_account, _) = a.user("child@example.jp").await;
    grant(&b, &mother, &mother_person, json!({"accountId": child_account}), &["vitals"], "read", "family")
        .await;
    grant(&a, &father, &father_person, json!({"accountId": child_account}), &["vitals"], "read", "family")
        .await;
    // Devices registered on one instance push through the other.
    let mother_device = device(&a, &mother).await;
    let father_device = device(&b, &father).await;
    let writers = [
        (&mother, &mother_person, &mother_device, &a, &b),
        (&father, &father_person, &father_device, &b, &a),
    ];

    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut rand = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut minute = 0;
    let mut live: [BTreeSet<String>; 2] = Default::default();
    let (mut child_phone, mut mother_phone) = (Phone::default(), Phone::default());
    for round in 0..16 {
        let mut uploads = Vec::new();
        let mut pushes = Vec::new();
        for (w, (_, person, dev, _, _)) in writers.iter().enumerate() {
            let batch: Vec<Value> = (0..1 + rand() % 5)
                .map(|_| {
                    minute += 1;
                    weight(minute, 50.0 + (minute % 40) as f64)
                })
                .collect();
            let mut mutations = Vec::new();
            for k in 0..rand() % 3 {
                minute += 1;
                let r = weight(minute, 55.0);
                mutations.push(
                    json!({"mutationId": format!("r{round}u{k}"), "op": "upsert", "type": "observation",
                                      "personId": person, "id": r["id"], "data": r}),
                );
            }
            // Only what earlier rounds wrote is deleted: this round's writes race.
            if !live[w].is_empty() && rand() % 2 == 0 {
                let victim = live[w].iter().nth((rand() % live[w].len() as u64) as usize).unwrap().clone();
                live[w].remove(&victim);
                mutations
                    .push(json!({"mutationId": format!("r{round}d"), "op": "delete", "type": "observation",
                                      "personId": person, "id": victim}));
            }
            uploads.push(batch);
            pushes.push(json!({"deviceId": dev, "mutations": mutations}));
        }
        let via = |bit: u64| apps[(bit & 1) as usize];
        let (child_via, mother_via) = (via(rand()), via(rand() >> 1));
        let (limit_child, limit_mother) = (1 + rand() % 4, 1 + rand() % 4);
        let (m, f) = (&writers[0], &writers[1]);
        let (_, _, pm, pf, _, _) = tokio::join!(
            upload(m.3, m.0, m.1, uploads[0].clone()),
            upload(f.3, f.0, f.1, uploads[1].clone()),
            m.4.post_json("/v1/sync/push", Some(m.0), &pushes[0]),
            f.4.post_json("/v1/sync/push", Some(f.0), &pushes[1]),
            child_phone.pull(child_via, &child, limit_child),
            mother_phone.pull(mother_via, &mother, limit_mother),
        );
        for (w, (status, body)) in [pm, pf].into_iter().enumerate() {
            assert_eq!(status, StatusCode::OK, "{body}");
            for r in body["results"].as_array().unwrap() {
                assert_eq!(r["status"], "applied", "round {round}: {body}");
            }
            for m in pushes[w]["mutations"].as_array().unwrap() {
                if m["op"] == "upsert" {
                    live[w].insert(m["id"].as_str().unwrap().to_owned());
                }
            }
            live[w].extend(uploads[w].iter().map(|o| o["id"].as_str().unwrap().to_owned()));
        }
    }
    // Drain, alternating instances page by page.
    let mut k = 0;
    while child_phone.pull(apps[k % 2], &child, 3).await {
        k += 1;
    }
    while mother_phone.pull(apps[k % 2], &mother, 3).await {
        k += 1;
    }
    // Nothing more on either instance.
    for app in apps {
        assert!(!child_phone.pull(app, &child, 500).await);
        assert!(!mother_phone.pull(app, &mother, 500).await);
    }
    for app in apps {
        let (m, f) = (
            server_state(app, &mother, &mother_person).await,
            server_state(app, &father, &father_person).await,
        );
        assert_eq!(
            m.keys().cloned().collect::<BTreeSet<_>>(),
            live[0],
            "no write lost, every delete applied"
        );
        assert_eq!(
            f.keys().cloned().collect::<BTreeSet<_>>(),
            live[1],
            "no write lost, every delete applied"
        );
        let both: BTreeMap<String, Value> = m.clone().into_iter().chain(f).collect();
        assert_eq!(child_phone.local, both, "the family member holds both persons' state");
        assert_eq!(mother_phone.local, m, "the mother's phone holds her state");
    }
    assert!(live[0].len() > 20 && live[1].len() > 20, "the run wrote something: {}", live[0].len());
}

/// A long poll held by B wakes for a write that went through A: each
/// instance relays its change notifications to the others through PostgreSQL
/// LISTEN/NOTIFY. The cursor it continues from was issued by A.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_on_one_instance_wakes_for_a_write_through_the_other() {
    let Some((a, b)) = pair().await else { return };
    let (token, _, person) = a.user("poll@example.jp").await;
    let (mut cursor, mut local) = (String::new(), BTreeMap::new());
    drain(&a, &token, &mut cursor, &mut local, 500).await;
    // Let B's listener subscribe before the write (it connects when B starts).
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let started = std::time::Instant::now();
    let path = format!("/v1/sync/changes?wait=20&cursor={cursor}");
    let waiting = b.get(&path, Some(&token));
    let writer = async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        upload(&a, &token, &person, vec![weight(5, 66.0)]).await;
    };
    let ((status, page), ()) = tokio::join!(waiting, writer);
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["changes"].as_array().unwrap().len(), 1, "{page}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "woke on the change, not the timeout");
}
