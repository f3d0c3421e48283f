//! Load test (issue #11), run by `scripts/load.sh` against a release `phr serve`
//! in its own process on a fresh PostgreSQL database.
//!
//! Seeds a town through the API: a municipality with 5 public-health nurses
//! and a programme, 1,000 residents enrolled in it with a month of readings
//! each, 200 family members each holding a read grant on one resident. Every
//! account signs in once; every resident and family member syncs to the
//! present first, so pulls are the incremental polls a phone makes.
//!
//! Then, for `--seconds` per phase, `--concurrency` workers on keep-alive
//! connections send back to back (closed loop):
//! - baseline: `GET /healthz` (the HTTP stack alone, same machine, same run);
//! - mix: 70 % `GET /v1/sync/changes` (a resident or family member with their
//!   cursor), 20 % `POST /v1/persons/{id}/observations/batch` (a resident, 5-20
//!   new readings), 10 % reads (`/timeline` or `/observations/summary`) by the
//!   resident, their family member or a nurse of the programme.
//!
//! and, with `--rate R`, the same mix offered at a fixed R requests/s: latency is
//! measured from each request's scheduled start, so a stalled server shows up
//! in the percentiles instead of slowing the generator down.
//!
//! Prints per kind: requests, req/s, p50/p90/p99/max, errors (non-2xx or
//! transport; the first few are printed); the server's RSS (VmRSS sampled
//! during the phase, VmHWM) and CPU time of the server, of this generator, and
//! of the whole machine, since the generator shares the cores with the server
//! and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::sync::Mutex;
use uuid::Uuid;

const PASSWORD: &str = "correct horse battery staple";

/// The generator shares the two cores with the server and PostgreSQL: it uses
/// the server's allocator and keeps its own work per request small, so that
/// less of the machine goes to measuring.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// What the generator needs of a change-feed page.
#[derive(serde::Deserialize)]
struct PageHead {
    cursor: String,
}

fn arg<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::args().skip_while(|a| a != name).nth(1).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn text_arg(name: &str) -> Option<String> {
    std::env::args().skip_while(|a| a != name).nth(1)
}

/// A seeded xorshift generator: each worker its own, the same draws every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

struct Api {
    base: String,
    client: reqwest::Client,
}

impl Api {
    async fn send(&self, req: reqwest::RequestBuilder) -> (u16, Value) {
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Value {
        let mut req = self.client.post(format!("{}{path}", self.base)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let (status, body) = self.send(req).await;
        assert!((200..300).contains(&status), "POST {path}: {status} {body}");
        body
    }

    async fn get(&self, path: &str, token: &str) -> Value {
        let (status, body) =
            self.send(self.client.get(format!("{}{path}", self.base)).bearer_auth(token)).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    async fn sign_in(&self, email: &str) -> String {
        let req = self.client.post(format!("{}/v1/auth/token", self.base)).form(&[
            ("grant_type", "password"),
            ("username", email),
            ("password", PASSWORD),
        ]);
        let (status, body) = self.send(req).await;
        assert_eq!(status, 200, "sign in {email}: {body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// Registers and signs in: `(token, accountId, personId)`.
    async fn user(&self, email: &str) -> (String, String, String) {
        let r = self
            .post("/v1/accounts", None, &json!({"email": email, "password": PASSWORD, "displayName": "Load"}))
            .await;
        let token = self.sign_in(email).await;
        (token, r["accountId"].as_str().unwrap().into(), r["personId"].as_str().unwrap().into())
    }
}

/// `n` readings (blood pressure and weight alternately) spread over the last `days` days.
fn readings(rng: &mut Rng, n: usize, days: i64) -> Vec<Value> {
    let now = chrono::Utc::now().timestamp();
    let jst = chrono::FixedOffset::east_opt(9 * 3600).unwrap();
    (0..n)
        .map(|i| {
            let t = now - rng.below((days * 86_400) as usize + 1) as i64;
            let at = chrono::DateTime::from_timestamp(t, 0).unwrap().with_timezone(&jst).to_rfc3339();
            let src = json!({"app": "load", "device": "cuff", "method": "device"});
            if i % 2 == 0 {
                json!({"id": Uuid::new_v4(), "kind": "blood_pressure", "effectiveAt": at, "source": src,
                       "components": {"systolic": {"value": 105 + rng.below(40), "unit": "mm[Hg]"},
                                      "diastolic": {"value": 65 + rng.below(25), "unit": "mm[Hg]"}}})
            } else {
                json!({"id": Uuid::new_v4(), "kind": "body_weight", "value": 50.0 + rng.below(300) as f64 / 10.0,
                       "unit": "kg", "effectiveAt": at, "source": src})
            }
        })
        .collect()
}

/// Someone who polls the change feed, with the cursor their phone holds.
struct Poller {
    token: String,
    cursor: Mutex<String>,
}

struct Town {
    residents: Vec<(String, String)>,
    /// `(token, the resident's person id)`.
    family: Vec<(String, String)>,
    nurses: Vec<String>,
    pollers: Vec<Poller>,
}

async fn seed(api: &Api, admin_email: &str, residents: usize, family: usize, nurses: usize) -> Town {
    let started = Instant::now();
    let admin = api.sign_in(admin_email).await;
    let org = api.post("/v1/orgs", Some(&admin), &json!({"kind": "municipality", "name": "負荷町"})).await;
    let org = org["orgId"].as_str().unwrap().to_owned();
    let programme = api
        .post(
            &format!("/v1/orgs/{org}/programs"),
            Some(&admin),
            &json!({"name": "重症化予防プログラム", "categories": ["vitals"], "purpose": "public_health",
                    "alertRules": [{"kind": "blood_pressure", "component": "systolic", "op": ">=", "threshold": 180}]}),
        )
        .await;
    let programme = programme["programId"].as_str().unwrap().to_owned();
    let mut nurse_tokens = Vec::new();
    for i in 0..nurses {
        let (token, account, _) = api.user(&format!("nurse{i}@load.example.jp")).await;
        api.post(
            &format!("/v1/orgs/{org}/members"),
            Some(&admin),
            &json!({"accountId": account, "role": "nurse"}),
        )
        .await;
        nurse_tokens.push(token);
    }
    // Registration and sign-in hash passwords: 8 at a time keeps both cores busy.
    let resident_list: Vec<(String, String)> = futures_util::stream::iter(0..residents)
        .map(|i| {
            let programme = &programme;
            async move {
                let (token, _, person) = api.user(&format!("resident{i}@load.example.jp")).await;
                let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1));
                let batch = json!({"observations": readings(&mut rng, 20, 30)});
                api.post(&format!("/v1/persons/{person}/observations/batch"), Some(&token), &batch).await;
                api.post(&format!("/v1/programs/{programme}/enrollments"), Some(&token), &json!({})).await;
                (token, person)
            }
        })
        .buffered(8)
        .collect()
        .await;
    let family_list: Vec<(String, String)> = futures_util::stream::iter(0..family)
        .map(|i| {
            let (owner, person) = resident_list[i % residents].clone();
            async move {
                let (token, account, _) = api.user(&format!("family{i}@load.example.jp")).await;
                api.post(
                    &format!("/v1/persons/{person}/grants"),
                    Some(&owner),
                    &json!({"grantee": {"accountId": account}, "categories": ["vitals"], "access": "read",
                            "purpose": "family"}),
                )
                .await;
                (token, person)
            }
        })
        .buffered(8)
        .collect()
        .await;
    let town_tokens: Vec<String> =
        resident_list.iter().map(|r| r.0.clone()).chain(family_list.iter().map(|f| f.0.clone())).collect();
    // Each phone syncs to the present once; the load is the polls after that.
    let pollers: Vec<Poller> = futures_util::stream::iter(town_tokens)
        .map(|token| async move {
            let mut cursor = String::new();
            loop {
                let page = api.get(&format!("/v1/sync/changes?limit=2000&cursor={cursor}"), &token).await;
                cursor = page["cursor"].as_str().unwrap().to_owned();
                if page["hasMore"] == false {
                    break;
                }
            }
            Poller { token, cursor: Mutex::new(cursor) }
        })
        .buffered(16)
        .collect()
        .await;
    // Every kind of reader may read what the mix makes it read.
    let (resident, person) = &resident_list[0];
    api.get(&format!("/v1/persons/{person}/timeline?limit=20"), resident).await;
    api.get(
        &format!("/v1/persons/{}/observations/summary?kind=blood_pressure", family_list[0].1),
        &family_list[0].0,
    )
    .await;
    if let Some(n) = nurse_tokens.first() {
        api.get(&format!("/v1/persons/{person}/timeline?limit=20"), n).await;
    }
    println!(
        "seeded in {:.0} s: {residents} residents × 20 readings, {family} family members, {nurses} nurses; {} pollers synced",
        started.elapsed().as_secs_f64(),
        pollers.len()
    );
    Town { residents: resident_list, family: family_list, nurses: nurse_tokens, pollers }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Kind {
    Healthz,
    Pull,
    Upload,
    Timeline,
    Summary,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Healthz => "healthz",
            Kind::Pull => "sync pull",
            Kind::Upload => "batch upload",
            Kind::Timeline => "timeline",
            Kind::Summary => "summary",
        }
    }
}

#[derive(Default)]
struct Tally {
    latencies: BTreeMap<Kind, Vec<f64>>,
    errors: u64,
    first_errors: Vec<String>,
}

/// One request of the mix (or `/healthz`); `Err` describes a failure.
async fn one(api: &Api, town: &Town, rng: &mut Rng, baseline: bool) -> (Kind, Result<(), String>) {
    if baseline {
        return (Kind::Healthz, check(api.client.get(format!("{}/healthz", api.base)).send().await).await);
    }
    let roll = rng.below(100);
    if roll < 70 {
        // A poller whose phone is not already mid-request (two requests of one
        // phone at once would race on its cursor).
        let poller = loop {
            let p = &town.pollers[rng.below(town.pollers.len())];
            if let Ok(guard) = p.cursor.try_lock() {
                break (p, guard);
            }
        };
        let (p, mut cursor) = poller;
        let res = api
            .client
            .get(format!("{}/v1/sync/changes?cursor={}", api.base, *cursor))
            .bearer_auth(&p.token)
            .send()
            .await;
        let outcome = match res {
            // The whole page is parsed (it must be JSON with a cursor), but
            // only the cursor is kept: no tree of values per change.
            Ok(r) if r.status().is_success() => match r.json::<PageHead>().await {
                Ok(page) => {
                    *cursor = page.cursor;
                    Ok(())
                }
                Err(e) => Err(format!("sync pull: {e}")),
            },
            other => check(other).await,
        };
        return (Kind::Pull, outcome);
    }
    if roll < 90 {
        let (token, person) = &town.residents[rng.below(town.residents.len())];
        let n = 5 + rng.below(16);
        let body = json!({"observations": readings(rng, n, 1)});
        let res = api
            .client
            .post(format!("{}/v1/persons/{person}/observations/batch", api.base))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await;
        return (Kind::Upload, check(res).await);
    }
    // Readers: residents 60 %, family 30 %, nurses 10 %.
    let (token, person) = match rng.below(10) {
        0 if !town.nurses.is_empty() => {
            (&town.nurses[rng.below(town.nurses.len())], &town.residents[rng.below(town.residents.len())].1)
        }
        1..=3 if !town.family.is_empty() => {
            let f = &town.family[rng.below(town.family.len())];
            (&f.0, &f.1)
        }
        _ => {
            let r = &town.residents[rng.below(town.residents.len())];
            (&r.0, &r.1)
        }
    };
    let (kind, path) = if rng.below(2) == 0 {
        (Kind::Timeline, format!("/v1/persons/{person}/timeline?limit=50"))
    } else {
        (Kind::Summary, format!("/v1/persons/{person}/observations/summary?kind=blood_pressure"))
    };
    let res = api.client.get(format!("{}{path}", api.base)).bearer_auth(token).send().await;
    (kind, check(res).await)
}

/// 2xx with the body read to the end, or a description of what went wrong.
async fn check(res: Result<reqwest::Response, reqwest::Error>) -> Result<(), String> {
    match res {
        Ok(r) => {
            let status = r.status();
            let url = r.url().path().to_owned();
            match r.bytes().await {
                Ok(body) if status.is_success() => {
                    let _ = body;
                    Ok(())
                }
                Ok(body) => Err(format!("{status} {url}: {}", String::from_utf8_lossy(&body))),
                Err(e) => Err(format!("{url}: reading body: {e}")),
            }
        }
        Err(e) => Err(format!("transport: {e}")),
    }
}

/// CPU seconds (user + system) of a process from /proc/<pid>/stat.
fn cpu_secs(pid: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

/// Busy and total jiffies of the whole machine, from /proc/stat.
fn machine() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let v: Vec<f64> =
        stat.lines().next().unwrap_or("").split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    let total: f64 = v.iter().sum();
    let idle = v.get(3).copied().unwrap_or(0.0) + v.get(4).copied().unwrap_or(0.0);
    (total - idle, total)
}

fn status_kib(pid: &str, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

struct PhaseResult {
    total: u64,
    rps: f64,
    p99: f64,
    errors: u64,
    peak_rss_mib: f64,
}

/// Runs `concurrency` workers for `seconds`; `rate` > 0 paces them to that many requests/s overall.
async fn phase(
    label: &str,
    api: &Arc<Api>,
    town: &Arc<Town>,
    pid: Option<&str>,
    (concurrency, seconds, rate, baseline): (usize, u64, f64, bool),
) -> PhaseResult {
    let stop = Arc::new(AtomicBool::new(false));
    let peak_rss = Arc::new(AtomicU64::new(0));
    let sampler = pid.map(|pid| {
        let (pid, stop, peak) = (pid.to_owned(), stop.clone(), peak_rss.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(status_kib(&pid, "VmRSS:"), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    });
    let server_cpu0 = pid.map_or(0.0, cpu_secs);
    let own_cpu0 = cpu_secs("self");
    let machine0 = machine();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for w in 0..concurrency {
        let (api, town) = (api.clone(), town.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng(0xD1B5_4A32_D192_ED03 ^ ((w as u64 + 1) << 20) ^ u64::from(baseline));
            let mut tally = Tally::default();
            // Paced: this worker's share of the rate, starting staggered.
            let interval = (rate > 0.0).then(|| Duration::from_secs_f64(concurrency as f64 / rate));
            let mut due =
                started + interval.map_or(Duration::ZERO, |i| i.mul_f64(w as f64 / concurrency as f64));
            loop {
                // When this request was due: its slot when paced, now when not.
                let scheduled = match interval {
                    Some(i) => {
                        tokio::time::sleep_until(due.into()).await;
                        let slot = due;
                        due += i;
                        slot
                    }
                    None => Instant::now(),
                };
                // A paced worker that fell behind stops at the deadline too.
                if scheduled >= deadline || Instant::now() >= deadline {
                    break;
                }
                let (kind, outcome) = one(&api, &town, &mut rng, baseline).await;
                tally.latencies.entry(kind).or_default().push(scheduled.elapsed().as_secs_f64() * 1000.0);
                if let Err(e) = outcome {
                    tally.errors += 1;
                    if tally.first_errors.len() < 3 {
                        tally.first_errors.push(e.chars().take(300).collect());
                    }
                }
            }
            tally
        }));
    }
    let mut all = Tally::default();
    for t in tasks {
        let t = t.await.unwrap();
        for (k, v) in t.latencies {
            all.latencies.entry(k).or_default().extend(v);
        }
        all.errors += t.errors;
        all.first_errors.extend(t.first_errors);
    }
    let secs = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    if let Some(s) = sampler {
        s.await.unwrap();
    }
    let machine1 = machine();
    let server_cpu = pid.map_or(0.0, cpu_secs) - server_cpu0;
    let own_cpu = cpu_secs("self") - own_cpu0;
    let busy = (machine1.0 - machine0.0) / (machine1.1 - machine0.1).max(1.0);
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) as f64;

    println!(
        "\n{label}: {concurrency} connections, {secs:.1} s{}",
        if rate > 0.0 {
            format!(", offered {rate:.0} req/s (latency from the scheduled start)")
        } else {
            ", closed loop".into()
        }
    );
    println!(
        "  {:<13} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7}",
        "kind", "requests", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors"
    );
    let mut overall = Vec::new();
    for (kind, v) in &mut all.latencies {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        overall.extend_from_slice(v);
        println!(
            "  {:<13} {:>8} {:>8.0} {:>8.1} {:>8.1} {:>8.1} {:>8.1}",
            kind.name(),
            v.len(),
            v.len() as f64 / secs,
            pct(v, 0.5),
            pct(v, 0.9),
            pct(v, 0.99),
            v.last().copied().unwrap_or(f64::NAN)
        );
    }
    overall.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let total = overall.len() as u64;
    let p99 = pct(&overall, 0.99);
    println!(
        "  {:<13} {:>8} {:>8.0} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>7}",
        "all",
        total,
        total as f64 / secs,
        pct(&overall, 0.5),
        pct(&overall, 0.9),
        p99,
        overall.last().copied().unwrap_or(f64::NAN),
        all.errors
    );
    for e in all.first_errors.iter().take(5) {
        println!("  error: {e}");
    }
    let peak_rss_mib = peak_rss.load(Ordering::Relaxed) as f64 / 1024.0;
    println!(
        "  cpu: server {:.0} %, generator {:.0} %, machine {:.0} % of {cores:.0} cores (the rest of the busy share is PostgreSQL and other users); server RSS peak {peak_rss_mib:.0} MiB",
        100.0 * server_cpu / secs,
        100.0 * own_cpu / secs,
        100.0 * busy * cores,
    );
    PhaseResult { total, rps: total as f64 / secs, p99, errors: all.errors, peak_rss_mib }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let base = text_arg("--base").expect("--base http://127.0.0.1:PORT");
    let admin = text_arg("--admin").expect("--admin EMAIL (a system administrator, password as seeded)");
    let pid = text_arg("--pid");
    let residents: usize = arg("--residents", 1000);
    let family: usize = arg("--family", 200);
    let nurses: usize = arg("--nurses", 5);
    let concurrency: usize = arg("--concurrency", 64);
    let seconds: u64 = arg("--seconds", 30);
    let rounds: usize = arg("--rounds", 3);
    let rate: f64 = arg("--rate", 0.0);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency + 16)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let api = Arc::new(Api { base, client });
    println!(
        "load test: {} cores shared by server, PostgreSQL and this generator (not pinned); {rounds} rounds of {seconds} s",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
    );
    let town = Arc::new(seed(&api, &admin, residents, family, nurses).await);
    let (mut healthz, mut mix, mut mix_p99, mut paced_p99, mut rss) =
        (vec![], vec![], vec![], vec![], vec![]);
    let mut errors = 0;
    for round in 1..=rounds {
        let h = phase(
            &format!("round {round} baseline /healthz"),
            &api,
            &town,
            pid.as_deref(),
            (concurrency, seconds, 0.0, true),
        )
        .await;
        healthz.push(h.rps);
        errors += h.errors;
        let m = phase(
            &format!("round {round} mix"),
            &api,
            &town,
            pid.as_deref(),
            (concurrency, seconds, 0.0, false),
        )
        .await;
        mix.push(m.rps);
        mix_p99.push(m.p99);
        rss.push(m.peak_rss_mib);
        errors += m.errors;
        if rate > 0.0 {
            let p = phase(
                &format!("round {round} mix at {rate:.0} req/s"),
                &api,
                &town,
                pid.as_deref(),
                (concurrency, seconds, rate, false),
            )
            .await;
            paced_p99.push(p.p99);
            rss.push(p.peak_rss_mib);
            errors += p.errors;
            assert!(p.total > 0);
        }
    }
    let hwm = pid.as_deref().map_or(0, |p| status_kib(p, "VmHWM:")) as f64 / 1024.0;
    let (h, m) = (median(healthz), median(mix));
    println!("\nmedians of {rounds} rounds, {concurrency} connections:");
    println!(
        "  /healthz baseline {h:.0} req/s; mix {m:.0} req/s ({:.0} % of baseline), p99 {:.1} ms",
        100.0 * m / h,
        median(mix_p99)
    );
    if !paced_p99.is_empty() {
        println!("  mix offered at {rate:.0} req/s: p99 {:.1} ms", median(paced_p99));
    }
    println!(
        "  errors {errors}; server RSS peak during the phases {:.0} MiB, VmHWM {hwm:.0} MiB (includes seeding)",
        rss.iter().copied().fold(0.0, f64::max)
    );
}
