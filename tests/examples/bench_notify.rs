//! Notifications benchmark, run by `scripts/bench-notify.sh`:
//! 1. push delivery: pushes committed to the outbox and delivered by the
//!    worker to the local FCM stand-in, against the same number of messages
//!    sent straight through `FcmSender` at the worker's concurrency (the
//!    baseline: what the client and stand-in allow);
//! 2. alert evaluation: 5,000-item batch uploads for a person with three
//!    alert rules against the same uploads for a person with none.
//!
//! Medians over rounds; both databases (PostgreSQL from PHR_TEST_POSTGRES_URL).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use phr::notify::fcm::{FcmSender, PushKind, PushMessage};
use phr::notify::{Event, EventKind, emit};
use phr_tests::fcm::FcmStandIn;
use phr_tests::{Backend, TestApp};
use sea_orm::TransactionTrait;
use serde_json::{Value, json};
use uuid::Uuid;

const DEVICES: usize = 10;
const EVENTS: usize = 200;
const BATCH: usize = 5000;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

async fn push_round(backend: Backend) -> Option<(f64, f64)> {
    let fcm = FcmStandIn::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = fcm.config(dir.path());
    let app = TestApp::spawn_with(backend, move |s| {
        s.fcm = Some(config);
        s.push_poll_ms = 20;
        s.db_max_connections = 10;
    })
    .await?;
    let (token, account, _) = app.user("bench@example.jp").await;
    for i in 0..DEVICES {
        let (status, _) = app
            .post_json(
                "/v1/devices",
                Some(&token),
                &json!({"platform": "android", "name": format!("d{i}"), "pushToken": format!("token-{i}")}),
            )
            .await;
        assert!(status.is_success());
    }
    let account: Uuid = account.parse().unwrap();
    let db = phr::db::connect(&app.database_url, 2).await.unwrap();
    let total = DEVICES * EVENTS;
    let started = Instant::now();
    let txn = db.begin().await.unwrap();
    for i in 0..EVENTS {
        emit(&txn, Event::new(EventKind::GrantCreated, None, BTreeSet::from([account])).with("grantId", i))
            .await
            .unwrap();
    }
    txn.commit().await.unwrap();
    while fcm.messages().len() < total {
        assert!(started.elapsed() < Duration::from_secs(300), "delivery stalled at {}", fcm.messages().len());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let outbox = total as f64 / started.elapsed().as_secs_f64();

    // Baseline: the same number of messages straight through the client.
    let sender = FcmSender::from_config(&fcm.config(dir.path())).unwrap();
    sender.send(&PushMessage::new("warm-up", PushKind::SyncPoke)).await.unwrap();
    let started = Instant::now();
    let sent: Vec<bool> = futures_util::stream::iter(0..total)
        .map(|i| {
            let sender = &sender;
            async move {
                let m = PushMessage::new(format!("token-{}", i % DEVICES), PushKind::SyncPoke)
                    .with_data("i", i.to_string());
                sender.send(&m).await.is_ok()
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    assert!(sent.iter().all(|ok| *ok));
    let direct = total as f64 / started.elapsed().as_secs_f64();
    db.close().await.unwrap();
    drop(app);
    Some((outbox, direct))
}

fn batch(seed: usize) -> Vec<Value> {
    let t0 = 1_735_657_200 + seed as i64 * 86_400 * 30; // 2025-01-01 JST
    (0..BATCH)
        .map(|i| {
            let at = chrono::DateTime::from_timestamp(t0 + i as i64 * 300, 0)
                .unwrap()
                .with_timezone(&chrono::FixedOffset::east_opt(9 * 3600).unwrap())
                .to_rfc3339();
            let src = json!({"app": "bench", "device": "cuff", "method": "device"});
            match i % 2 {
                0 => json!({"id": Uuid::new_v4(), "kind": "blood_pressure", "effectiveAt": at, "source": src,
                            "components": {"systolic": {"value": 110 + i % 60, "unit": "mm[Hg]"},
                                           "diastolic": {"value": 70 + i % 40, "unit": "mm[Hg]"}}}),
                _ => json!({"id": Uuid::new_v4(), "kind": "body_weight", "value": 60.0 + (i % 100) as f64 / 10.0,
                            "unit": "kg", "effectiveAt": at, "source": src}),
            }
        })
        .collect()
}

async fn upload_ms(app: &TestApp, token: &str, person: &str, items: &[Value]) -> f64 {
    let started = Instant::now();
    let res = app
        .client
        .post(app.url(&format!("/v1/persons/{person}/observations/batch")))
        .bearer_auth(token)
        .json(&json!({"observations": items}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    let _: Value = res.json().await.unwrap();
    started.elapsed().as_secs_f64() * 1000.0
}

async fn alert_round(backend: Backend, round: usize) -> Option<(f64, f64, usize)> {
    let app = TestApp::spawn_with(backend, |s| s.push_worker = false).await?;
    let (plain, _, plain_person) = app.user("plain@example.jp").await;
    let (ruled, _, ruled_person) = app.user("ruled@example.jp").await;
    for rule in [
        json!({"kind": "blood_pressure", "component": "systolic", "op": ">=", "threshold": 160}),
        json!({"kind": "blood_pressure", "component": "diastolic", "op": ">=", "threshold": 100,
               "consecutive": 3, "window": "PT24H", "notify": ["self", "grantees"]}),
        json!({"kind": "body_weight", "op": "<=", "threshold": 60.5, "consecutive": 2}),
    ] {
        let (status, r) =
            app.post_json(&format!("/v1/persons/{ruled_person}/alert-rules"), Some(&ruled), &rule).await;
        assert!(status.is_success(), "{r}");
    }
    let data = batch(round);
    let other: Vec<Value> = data
        .iter()
        .map(|v| {
            let mut v = v.clone();
            v["id"] = json!(Uuid::new_v4());
            v
        })
        .collect();
    // Alternate which goes first so neither always meets a warmer database.
    let (without, with) = if round.is_multiple_of(2) {
        let a = upload_ms(&app, &plain, &plain_person, &data).await;
        (a, upload_ms(&app, &ruled, &ruled_person, &other).await)
    } else {
        let b = upload_ms(&app, &ruled, &ruled_person, &other).await;
        (upload_ms(&app, &plain, &plain_person, &data).await, b)
    };
    let (_, alerts) = app.get("/v1/alerts", Some(&ruled)).await;
    let raised = alerts["items"].as_array().map_or(0, Vec::len);
    drop(app);
    Some((without, with, raised))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rounds: usize =
        std::env::args().skip_while(|a| a != "--rounds").nth(1).and_then(|v| v.parse().ok()).unwrap_or(5);
    println!("notifications benchmark: {rounds} rounds, medians");
    println!("machine: {} cores", std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0));
    let mut backends = vec![("sqlite", Backend::Sqlite)];
    if std::env::var("PHR_TEST_POSTGRES_URL").is_ok() {
        backends.push(("postgres", Backend::Postgres));
    } else {
        println!("postgres: skipped (set PHR_TEST_POSTGRES_URL)");
    }
    println!(
        "{:<9} {:>18} {:>20} {:>7}   {:>17} {:>17} {:>9} {:>7}",
        "database",
        "outbox pushes/s",
        "direct sends/s",
        "ratio",
        "5000 no rules ms",
        "5000 3 rules ms",
        "added ms",
        "alerts"
    );
    for (name, backend) in backends {
        let (mut outbox, mut direct, mut without, mut with, mut raised) = (vec![], vec![], vec![], vec![], 0);
        for round in 0..rounds {
            let (o, d) = push_round(backend).await.unwrap();
            outbox.push(o);
            direct.push(d);
            let (a, b, n) = alert_round(backend, round).await.unwrap();
            without.push(a);
            with.push(b);
            raised = n;
        }
        let (o, d, a, b) = (median(outbox), median(direct), median(without), median(with));
        println!(
            "{name:<9} {o:>18.0} {d:>20.0} {:>6.0}%   {a:>17.0} {b:>17.0} {:>9.0} {raised:>7}",
            100.0 * o / d,
            b - a
        );
    }
}
