//! Observation ingest and summary benchmark (issue: health-app observations).
//!
//! For SQLite and PostgreSQL, on a fresh database each round:
//! - HTTP ingest: 100,000 observations in 5,000-item batches through the real
//!   server (`POST /v1/persons/{id}/observations/batch`), observations/s;
//! - baseline: the same rows inserted with plain multi-row INSERTs (400 rows a
//!   statement, one transaction per 5,000) on the same database in the same run;
//! - summary: 525,600 minute-level heart-rate samples (one year, uploaded
//!   through the API) summarised per day over HTTP
//!   (`GET …/observations/summary?bucket=day`), median milliseconds; and the
//!   same with `tz=UTC`, which aggregates the raw rows instead of the
//!   person's daily roll-ups (the baseline).
//!
//! Prints medians of `--rounds` rounds (default 3) and the ingest ratio.
//! PostgreSQL comes from `PHR_BENCH_POSTGRES_URL` (or `PHR_TEST_POSTGRES_URL`).
//! Run: `scripts/bench-observations.sh`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/mod.rs"]
mod common;

use std::collections::BTreeSet;
use std::time::Instant;

use chrono::{TimeZone, Utc};
use common::{Running, User, start, stop, user};
use phr::category::Category;
use phr::entities::observation::{self, Column, Entity};
use sea_orm::sea_query::Query;
use sea_orm::{ConnectionTrait, Iterable, TransactionTrait};
use serde_json::{Value, json};
use uuid::Uuid;

const TOTAL: usize = 100_000;
const BATCH: usize = 5_000;
const YEAR_MINUTES: usize = 525_600;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// 100,000 distinct samples: heart rate every minute from 2025-01-01 JST, with
/// a weight and a blood pressure reading mixed in every tenth item.
fn items(n: usize, seed: usize) -> Vec<Value> {
    // 2025-01-01 00:00 in Japan, so a year of minutes fills the JST year exactly.
    let t0 = Utc.with_ymd_and_hms(2024, 12, 31, 15, 0, 0).unwrap().timestamp();
    (0..n)
        .map(|i| {
            let at = chrono::DateTime::from_timestamp(t0 + (i as i64) * 60 + seed as i64, 0)
                .unwrap()
                .with_timezone(&chrono::FixedOffset::east_opt(9 * 3600).unwrap())
                .to_rfc3339();
            let src = json!({"app": "HealthKit", "device": "watch", "method": "device"});
            match i % 10 {
                3 => json!({"id": Uuid::new_v4(), "kind": "body_weight", "value": 60.0 + (i % 100) as f64 / 10.0,
                            "unit": "kg", "effectiveAt": at, "source": src}),
                7 => json!({"id": Uuid::new_v4(), "kind": "blood_pressure", "effectiveAt": at, "source": src,
                            "components": {"systolic": {"value": 110 + i % 40, "unit": "mm[Hg]"},
                                           "diastolic": {"value": 70 + i % 20, "unit": "mm[Hg]"}}}),
                _ => json!({"id": Uuid::new_v4(), "kind": "heart_rate", "value": 55 + i % 60, "unit": "/min",
                            "effectiveAt": at, "source": src}),
            }
        })
        .collect()
}

async fn http_ingest(r: &Running, token: &str, person: Uuid, items: &[Value]) -> f64 {
    let url = format!("{}/v1/persons/{person}/observations/batch", r.base);
    let started = Instant::now();
    for chunk in items.chunks(BATCH) {
        let res: Value = r
            .client
            .post(&url)
            .bearer_auth(token)
            .json(&json!({"observations": chunk}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let results = res["results"].as_array().expect("results");
        if let Some(bad) = results.iter().find(|x| x["status"] != "created") {
            panic!("an item was not created: {bad}");
        }
    }
    items.len() as f64 / started.elapsed().as_secs_f64()
}

/// The same rows as the service would store, built by its own validation.
fn rows(items: &[Value], person: Uuid) -> Vec<observation::Model> {
    let allowed: BTreeSet<Category> = Category::ALL.into_iter().collect();
    let now = Utc::now();
    items
        .iter()
        .map(|i| {
            let mut row = phr::observations::service::prepare(i, person, &allowed, now).unwrap();
            // Same content under fresh ids, so the HTTP side's ids stay free.
            row.id = Uuid::now_v7();
            row
        })
        .collect()
}

/// Plain multi-row INSERTs: no conflict handling, no RETURNING, no validation.
async fn plain_insert(db: &sea_orm::DatabaseConnection, rows: &[observation::Model]) -> f64 {
    let started = Instant::now();
    for batch in rows.chunks(BATCH) {
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
    rows.len() as f64 / started.elapsed().as_secs_f64()
}

async fn summary_ms(r: &Running, token: &str, person: Uuid, tz: &str) -> (f64, usize) {
    let url = format!(
        "{}/v1/persons/{person}/observations/summary?kind=heart_rate&bucket=day&from=2025-01-01&to=2026-01-01{tz}",
        r.base
    );
    let mut times = Vec::new();
    let mut total = 0;
    for _ in 0..7 {
        let started = Instant::now();
        let s: Value = r.client.get(&url).bearer_auth(token).send().await.unwrap().json().await.unwrap();
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        total = s["buckets"].as_array().unwrap().iter().map(|b| b["count"].as_u64().unwrap() as usize).sum();
    }
    (median(times), total)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let rounds: usize =
        std::env::args().skip_while(|a| a != "--rounds").nth(1).and_then(|v| v.parse().ok()).unwrap_or(3);
    let pg = std::env::var("PHR_BENCH_POSTGRES_URL").or_else(|_| std::env::var("PHR_TEST_POSTGRES_URL")).ok();
    println!("observations benchmark: {TOTAL} items in {BATCH}-item batches, {rounds} rounds, medians");
    println!("machine: {} cores", std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0));
    let mut backends: Vec<(&str, Option<String>)> = vec![("sqlite", None)];
    match &pg {
        Some(url) => backends.push(("postgres", Some(url.clone()))),
        None => println!("postgres: skipped (set PHR_BENCH_POSTGRES_URL)"),
    }
    println!(
        "{:<9} {:>14} {:>14} {:>7} {:>16}",
        "database", "http obs/s", "baseline obs/s", "ratio", "year/day summary"
    );
    for (name, url) in backends {
        let (mut http, mut base) = (Vec::new(), Vec::new());
        for round in 0..rounds {
            let r = start(url.as_deref(), 10).await;
            let data = items(TOTAL, round);
            let User { token, person_id: person, .. } = user(&r, "bench-http@example.jp").await;
            let other = user(&r, "bench-base@example.jp").await.person_id;
            let baseline_rows = rows(&data, other);
            // Alternate the order so neither side always runs on a warmer database.
            if round % 2 == 0 {
                base.push(plain_insert(&r.db, &baseline_rows).await);
                http.push(http_ingest(&r, &token, person, &data).await);
            } else {
                http.push(http_ingest(&r, &token, person, &data).await);
                base.push(plain_insert(&r.db, &baseline_rows).await);
            }
            stop(r).await;
        }
        // One year of minute-level heart rate for one person, summarised per day.
        let r = start(url.as_deref(), 10).await;
        let User { token, person_id: person, .. } = user(&r, "bench-year@example.jp").await;
        let year: Vec<Value> = items(YEAR_MINUTES, 0)
            .into_iter()
            .enumerate()
            .map(|(i, mut v)| {
                if v["kind"] != "heart_rate" {
                    v = json!({"id": Uuid::new_v4(), "kind": "heart_rate", "value": 60 + i % 50, "unit": "/min",
                               "effectiveAt": v["effectiveAt"], "source": v["source"]});
                }
                v
            })
            .collect();
        // Through the API, as phones would send it (daily roll-ups are kept on the way in).
        http_ingest(&r, &token, person, &year).await;
        if r.pg.is_some() {
            r.db.execute_unprepared("ANALYZE observations").await.unwrap();
        }
        let (ms, counted) = summary_ms(&r, &token, person, "").await;
        assert_eq!(counted, YEAR_MINUTES, "every sample lands in a bucket");
        // Raw aggregation over the same rows (UTC days, so the roll-ups do not apply).
        let (raw_ms, _) = summary_ms(&r, &token, person, "&tz=UTC").await;
        stop(r).await;
        let (h, b) = (median(http), median(base));
        println!(
            "{name:<9} {h:>14.0} {b:>14.0} {:>6.0}% {:>10.1} ms (raw rows {raw_ms:.1} ms)",
            100.0 * h / b,
            ms
        );
    }
}
