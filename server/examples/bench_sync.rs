//! Sync benchmark (issue: offline-first sync).
//!
//! 1. Initial sync: a family member following 3 persons with 100,000
//!    observations each pulls the whole feed over HTTP (2,000 per page):
//!    changes/s, next to a baseline that reads the same rows straight from the
//!    database in change order, in the same run.
//! 2. Load: N simulated devices (default 200), each its own account, loop
//!    push (one reading) + incremental pull, pausing `--think-ms` (default
//!    1000) between loops, for D seconds (default 60):
//!    pulls/s and pull latency p50/p99, next to the same loop hitting
//!    `/healthz` (the HTTP floor on this machine) in the same run.
//!
//! PostgreSQL from `PHR_BENCH_POSTGRES_URL` (or `PHR_TEST_POSTGRES_URL`);
//! without one, SQLite. Run: `scripts/bench-sync.sh [--devices N] [--seconds D]`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/mod.rs"]
mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use common::{Running, start, stop, user};
use phr::category::Category;
use phr::entities::observation::{Column, Entity};
use sea_orm::sea_query::Query;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, Iterable, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
};
use serde_json::{Value, json};
use uuid::Uuid;

const PER_PERSON: usize = 100_000;

fn arg(name: &str, default: u64) -> u64 {
    std::env::args().skip_while(|a| a != name).nth(1).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn reading(i: usize) -> Value {
    let t0 = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap().timestamp();
    let at = chrono::DateTime::from_timestamp(t0 + i as i64 * 60, 0).unwrap().to_rfc3339();
    json!({"id": Uuid::new_v4(), "kind": "heart_rate", "value": 50 + i % 70, "unit": "/min", "effectiveAt": at,
           "source": {"app": "bench", "device": "watch", "method": "device"}})
}

/// Loads `n` observations for `person` with change numbers 1..=n, as the service would stamp them.
async fn load(db: &sea_orm::DatabaseConnection, person: Uuid, n: usize) {
    let allowed: BTreeSet<Category> = Category::ALL.into_iter().collect();
    let now = Utc::now();
    let rows: Vec<_> = (0..n)
        .map(|i| {
            let mut r = phr::observations::service::prepare(&reading(i), person, &allowed, now).unwrap();
            r.change_seq = i as i64 + 1;
            r
        })
        .collect();
    for batch in rows.chunks(5000) {
        let txn = db.begin().await.unwrap();
        for chunk in batch.chunks(400) {
            let mut stmt = Query::insert();
            stmt.into_table(Entity).columns(Column::iter());
            for r in chunk {
                stmt.values_panic(phr::observations::store::values_of(r));
            }
            txn.execute(&stmt).await.unwrap();
        }
        txn.commit().await.unwrap();
    }
    phr::entities::person::Entity::update_many()
        .col_expr(phr::entities::person::Column::ChangeSeq, sea_orm::sea_query::Expr::value(n as i64))
        .filter(phr::entities::person::Column::Id.eq(person))
        .exec(db)
        .await
        .unwrap();
}

async fn initial_sync(r: &Running) {
    let f = user(r, "follower@example.jp").await;
    let (follower, follower_account) = (f.token, f.account_id);
    let mut persons = Vec::new();
    for k in 0..3 {
        let parent = user(r, &format!("parent{k}@example.jp")).await;
        let (token, person) = (parent.token, parent.person_id);
        load(&r.db, person, PER_PERSON).await;
        let res = r
            .client
            .post(format!("{}/v1/persons/{person}/grants", r.base))
            .bearer_auth(&token)
            .json(&json!({"grantee": {"accountId": follower_account}, "categories": ["vitals"], "access": "read", "purpose": "family"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        persons.push(person);
    }
    if r.pg.is_some() {
        r.db.execute_unprepared("ANALYZE").await.unwrap();
    }
    // Baseline: the same rows, read in change order straight from the database.
    let started = Instant::now();
    let mut rows = 0;
    for p in &persons {
        let mut after = 0;
        loop {
            let page = Entity::find()
                .filter(Column::PersonId.eq(*p))
                .filter(Column::ChangeSeq.gt(after))
                .order_by_asc(Column::ChangeSeq)
                .limit(2000)
                .all(&r.db)
                .await
                .unwrap();
            if page.is_empty() {
                break;
            }
            after = page.last().unwrap().change_seq;
            rows += page.len();
        }
    }
    let baseline = rows as f64 / started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut cursor = String::new();
    let mut total = 0;
    // The client shares the two cores with the server: it skims the pages
    // (counting changes) instead of building a document tree for each.
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Skim {
        changes: Vec<serde::de::IgnoredAny>,
        cursor: String,
        has_more: bool,
    }
    loop {
        let bytes = r
            .client
            .get(format!("{}/v1/sync/changes?limit=2000&cursor={cursor}", r.base))
            .bearer_auth(&follower)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let page: Skim = serde_json::from_slice(&bytes).unwrap();
        total += page.changes.len();
        cursor = page.cursor;
        if !page.has_more {
            break;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(total, 3 * PER_PERSON);
    println!(
        "initial sync: {total} changes in {secs:.1} s = {:.0} changes/s (baseline direct reads {baseline:.0} rows/s, {:.0}%)",
        total as f64 / secs,
        100.0 * total as f64 / secs / baseline
    );
}

async fn load_test(r: Arc<Running>, devices: usize, seconds: u64, think: Duration) {
    let mut tokens = Vec::new();
    for i in 0..devices {
        let u = user(&r, &format!("device{i}@example.jp")).await;
        let (token, person) = (u.token, u.person_id);
        let d: Value = r
            .client
            .post(format!("{}/v1/devices", r.base))
            .bearer_auth(&token)
            .json(&json!({"platform": "android", "name": format!("bench {i}")}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        tokens.push((token, person, d["deviceId"].as_str().unwrap().to_owned()));
    }
    for target in ["healthz", "sync"] {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let mut tasks = Vec::new();
        for (k, (token, person, device)) in tokens.iter().cloned().enumerate() {
            let r = r.clone();
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut cursor = String::new();
                let mut n = 0;
                // Spread the devices' first requests over one think interval.
                tokio::time::sleep(think.mul_f64(k as f64 / devices as f64)).await;
                while Instant::now() < deadline {
                    n += 1;
                    if target == "sync" {
                        let m = reading(k * 100_000 + n);
                        let push = json!({"deviceId": device, "mutations": [{"mutationId": format!("{n}"), "op": "upsert",
                            "type": "observation", "personId": person, "id": m["id"], "data": m}]});
                        let res = r.client.post(format!("{}/v1/sync/push", r.base)).bearer_auth(&token).json(&push).send().await.unwrap();
                        assert_eq!(res.status(), 200);
                        let started = Instant::now();
                        let page: Value = r
                            .client
                            .get(format!("{}/v1/sync/changes?cursor={cursor}", r.base))
                            .bearer_auth(&token)
                            .send()
                            .await
                            .unwrap()
                            .json()
                            .await
                            .unwrap();
                        latencies.push(started.elapsed().as_secs_f64() * 1000.0);
                        cursor = page["cursor"].as_str().unwrap().to_owned();
                    } else {
                        let started = Instant::now();
                        let res = r.client.get(format!("{}/healthz", r.base)).send().await.unwrap();
                        assert_eq!(res.status(), 200);
                        latencies.push(started.elapsed().as_secs_f64() * 1000.0);
                    }
                    tokio::time::sleep(think).await;
                }
                latencies
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        all.sort_by(|a, b| a.partial_cmp(b).unwrap());
        println!(
            "{devices} devices, {} ms think, {seconds} s, {target:>7}: {:.0} loops/s, latency p50 {:.1} ms, p99 {:.1} ms",
            think.as_millis(),
            all.len() as f64 / seconds as f64,
            pct(&all, 0.5),
            pct(&all, 0.99)
        );
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let devices = arg("--devices", 200) as usize;
    let seconds = arg("--seconds", 60);
    // Pause between a device's loops; 0 makes every device hammer the server back to back.
    let think = Duration::from_millis(arg("--think-ms", 1000));
    let pg = std::env::var("PHR_BENCH_POSTGRES_URL").or_else(|_| std::env::var("PHR_TEST_POSTGRES_URL")).ok();
    println!(
        "sync benchmark on {} ({} cores)",
        if pg.is_some() { "PostgreSQL" } else { "SQLite" },
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
    );
    let r = Arc::new(start(pg.as_deref(), 20).await);
    initial_sync(&r).await;
    load_test(r.clone(), devices, seconds, think).await;
    if let Ok(r) = Arc::try_unwrap(r) {
        stop(r).await;
    }
}
