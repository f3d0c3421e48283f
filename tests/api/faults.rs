//! Fault survival, on the real binary:
//! - PostgreSQL stops under load: `/readyz` says 503, requests fail fast with
//!   503 problems (no hang, no 500), and the service recovers by itself when
//!   the database is back;
//! - kill -9 during a 5,000-item batch upload: after the restart the batch is
//!   stored whole or not at all, and the client's retry completes it;
//! - the disk of a SQLite data directory fills up: clear 507 problems, nothing
//!   partial, no corruption, and writes work again once space is freed.
//!
//! The outage test runs its own PostgreSQL cluster (initdb in a temp dir) so
//! that stopping it does not disturb the rest of the suite; the disk test
//! mounts a small tmpfs. Both need root (as in CI) or the PostgreSQL binaries
//! and fail under `CI=true` rather than skip.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use phr_tests::{Backend, StatusCode, drop_postgres_database, fresh_postgres_database};
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::process::ServerProcess;

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Skips a test that needs something this machine lacks; fails in CI.
fn unavailable(what: &str) {
    assert!(!in_ci(), "CI=true but {what}");
    eprintln!("SKIPPED: {what}");
}

/// The end of a log, for failure messages.
fn tail(logs: &str) -> &str {
    let start = logs.len().saturating_sub(4000);
    let start = (start..logs.len()).find(|&i| logs.is_char_boundary(i)).unwrap_or(logs.len());
    &logs[start..]
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// Reading `i` of a series, one minute apart.
fn reading(i: usize) -> Value {
    let start = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00+09:00").unwrap();
    let at = start + chrono::Duration::minutes(i64::try_from(i).unwrap());
    json!({"id": Uuid::new_v4(), "kind": "body_weight", "value": 60.0 + (i % 100) as f64 / 10.0, "unit": "kg",
           "effectiveAt": at.to_rfc3339(), "source": {"app": "Health Connect", "device": "scale", "method": "device"}})
}

async fn count_observations(database_url: &str, person: &str) -> i64 {
    let db = Database::connect(database_url).await.unwrap();
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => "SELECT COUNT(*) AS n FROM observations WHERE person_id = $1",
        _ => "SELECT COUNT(*) AS n FROM observations WHERE person_id = ?",
    };
    let id = Uuid::parse_str(person).unwrap();
    let row =
        db.query_one_raw(Statement::from_sql_and_values(backend, sql, [id.into()])).await.unwrap().unwrap();
    let n: i64 = row.try_get("", "n").unwrap();
    db.close().await.unwrap();
    n
}

// ---------------------------------------------------------------------------
// PostgreSQL outage

/// A PostgreSQL cluster of the test's own, on a free port.
struct PrivatePostgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    as_postgres: bool,
}

impl PrivatePostgres {
    fn create() -> Option<Self> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .find(|b| b.join("initdb").exists())?;
        let dir = tempfile::tempdir().unwrap();
        // initdb refuses to run as root: the cluster belongs to `postgres` then.
        let as_postgres = is_root();
        if as_postgres {
            let ok = Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir.path()).status();
            if !ok.is_ok_and(|s| s.success()) {
                return None;
            }
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let pg = PrivatePostgres { bin, dir, port, as_postgres };
        let data = pg.data();
        let out = pg
            .command("initdb")
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "-D"])
            .arg(&data)
            .output()
            .unwrap();
        assert!(out.status.success(), "initdb: {}", String::from_utf8_lossy(&out.stderr));
        pg.start();
        Some(pg)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn command(&self, tool: &str) -> Command {
        let exe = self.bin.join(tool);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }

    fn pg_ctl(&self, args: &[&str]) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let out = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-o", &options, "-l"])
            .arg(self.dir.path().join("server.log"))
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "pg_ctl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn start(&self) {
        self.pg_ctl(&["-w", "-t", "60", "start"]);
    }

    /// A fast shutdown: clients are disconnected at once, as when the
    /// database host is stopped for maintenance.
    fn stop(&self) {
        self.pg_ctl(&["-w", "-m", "fast", "stop"]);
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = self.command("pg_ctl").arg("-D").arg(self.data()).args(["-m", "immediate", "stop"]).output();
    }
}

/// What one request under load got back.
#[derive(Debug)]
struct Outcome {
    at: Instant,
    took: Duration,
    status: Option<StatusCode>,
    content_type: String,
    code: String,
}

/// Sync pulls and small uploads in a loop until `stop`.
async fn load(
    server: Arc<ServerProcess>,
    token: String,
    person: String,
    stop: Arc<AtomicBool>,
) -> Vec<Outcome> {
    let mut out = Vec::new();
    let mut i = 0usize;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let req = if i.is_multiple_of(3) {
            let batch = json!({"observations": (0..5).map(|k| reading(i * 5 + k)).collect::<Vec<_>>()});
            server.http.post(format!("{}/v1/persons/{person}/observations/batch", server.base)).json(&batch)
        } else {
            server.http.get(format!("{}/v1/sync/changes", server.base))
        };
        let started = Instant::now();
        let res = req.bearer_auth(&token).timeout(Duration::from_secs(30)).send().await;
        let took = started.elapsed();
        let outcome = match res {
            Ok(res) => {
                let status = res.status();
                let content_type = res
                    .headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let body: Value = res.json().await.unwrap_or(Value::Null);
                let code = body["code"].as_str().unwrap_or_default().to_owned();
                Outcome { at: started, took, status: Some(status), content_type, code }
            }
            Err(e) => Outcome {
                at: started,
                took,
                status: None,
                content_type: String::new(),
                code: format!("transport: {e}"),
            },
        };
        let failed = outcome.status.is_none_or(|s| !s.is_success());
        out.push(outcome);
        if failed {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    out
}

async fn readyz(server: &ServerProcess) -> Option<StatusCode> {
    let res =
        server.http.get(format!("{}/readyz", server.base)).timeout(Duration::from_secs(10)).send().await;
    res.ok().map(|r| r.status())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_outage_under_load_gives_503_and_recovers() {
    let Some(pg) = PrivatePostgres::create() else {
        return unavailable("no PostgreSQL server binaries (initdb) to run a private cluster");
    };
    let dir = tempfile::tempdir().unwrap();
    let server =
        ServerProcess::start(&pg.url(), dir.path(), dir.path(), &[("PHR_DB_MAX_CONNECTIONS", "8")]).await;
    let server = Arc::new(server);
    let mut users = Vec::new();
    for n in 0..4 {
        users.push(server.user(&format!("outage{n}@example.jp")).await);
    }

    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = users
        .iter()
        .map(|(token, person)| {
            tokio::spawn(load(server.clone(), token.clone(), person.clone(), stop.clone()))
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(2)).await;

    let down_at = Instant::now();
    pg.stop();
    let stopped_at = Instant::now();
    // The readiness probe notices within its own timeouts.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let status = readyz(&server).await;
        if status == Some(StatusCode::SERVICE_UNAVAILABLE) {
            break;
        }
        assert!(Instant::now() < deadline, "/readyz still says {status:?} with the database down");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The outage lasts a while under load.
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert_eq!(readyz(&server).await, Some(StatusCode::SERVICE_UNAVAILABLE));

    let up_at = Instant::now();
    pg.start();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if readyz(&server).await == Some(StatusCode::OK) {
            break;
        }
        assert!(Instant::now() < deadline, "/readyz did not recover within 30 s of the database's return");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ready_again = up_at.elapsed();
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    let mut outcomes = Vec::new();
    for w in workers {
        outcomes.extend(w.await.unwrap());
    }

    let logs = server.logs();
    let logs = tail(&logs);
    let mut during = 0;
    let mut slowest = Duration::ZERO;
    for o in &outcomes {
        // No 500s and no transport errors at any time.
        let status = o.status.unwrap_or_else(|| panic!("{o:?} (a request got no answer)\n{logs}"));
        assert!(status.is_success() || status == StatusCode::SERVICE_UNAVAILABLE, "{o:?}\n{logs}");
        if status == StatusCode::SERVICE_UNAVAILABLE {
            assert_eq!(o.content_type, "application/problem+json", "{o:?}");
            assert_eq!(o.code, "service_unavailable", "{o:?}");
            assert!(o.at + o.took >= down_at, "a 503 before the outage: {o:?}");
            during += 1;
            slowest = slowest.max(o.took);
        }
    }
    // Requests failed fast instead of hanging: within the pool's acquire timeout and a margin.
    assert!(during > 0, "no request saw the outage");
    assert!(slowest < Duration::from_secs(12), "a request took {slowest:?} to fail");
    // Requests started after recovery succeed.
    let after: Vec<_> = outcomes.iter().filter(|o| o.at > up_at + ready_again).collect();
    assert!(!after.is_empty() && after.iter().all(|o| o.status.is_some_and(|s| s.is_success())), "{after:?}");
    eprintln!(
        "outage: {} requests, {during} answered 503 (slowest {slowest:?}), stop took {:?}, ready {ready_again:?} after restart",
        outcomes.len(),
        stopped_at - down_at
    );
}

// ---------------------------------------------------------------------------
// kill -9 during a batch upload

async fn kill_during_batch(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (database_url, pg) = match backend {
        Backend::Sqlite => (format!("sqlite://{}/phr.db?mode=rwc", dir.path().display()), None),
        Backend::Postgres => {
            let Some((admin, name, url)) = fresh_postgres_database().await else { return };
            (url, Some((admin, name)))
        }
    };
    let mut server = ServerProcess::start(&database_url, dir.path(), dir.path(), &[]).await;
    // How long a 5,000-item batch takes here, to aim the kills inside it.
    let (token, person) = server.user("warmup@example.jp").await;
    let batch = json!({"observations": (0..5000).map(reading).collect::<Vec<_>>()});
    let started = Instant::now();
    let (status, body) =
        server.post(&format!("/v1/persons/{person}/observations/batch"), Some(&token), &batch).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let full = started.elapsed();

    let mut interrupted = 0;
    for (n, fraction) in [0.15, 0.35, 0.55, 0.75].into_iter().enumerate() {
        let (token, person) = server.user(&format!("batch{n}@example.jp")).await;
        let batch = json!({"observations": (0..5000).map(reading).collect::<Vec<_>>()});
        let path = format!("/v1/persons/{person}/observations/batch");
        let req = server.http.post(format!("{}{path}", server.base)).bearer_auth(&token).json(&batch);
        let upload = tokio::spawn(async move { req.send().await.map(|r| r.status()) });
        tokio::time::sleep(full.mul_f64(fraction)).await;
        server.kill9();
        let answer = upload.await.unwrap();
        server.restart().await;

        let stored = count_observations(&database_url, &person).await;
        eprintln!("kill at {fraction}: answer {:?}, stored {stored}", answer.as_ref().map_err(|_| "none"));
        match answer {
            Ok(status) => {
                assert_eq!(status, StatusCode::OK);
                assert_eq!(stored, 5000, "answered {status} but stored {stored}");
            }
            Err(_) => {
                interrupted += 1;
                assert!(stored == 0 || stored == 5000, "a killed batch left {stored} of 5000 items");
            }
        }
        // The client retries the same batch (same item ids; its token outlives the restart):
        // it completes, exactly once.
        let (status, body) = server.post(&path, Some(&token), &batch).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let results = body["results"].as_array().unwrap();
        assert_eq!(results.len(), 5000);
        let created = results.iter().filter(|r| r["status"] == "created").count();
        assert!(created == 0 || created == 5000, "the retry created {created} of 5000");
        assert_eq!(count_observations(&database_url, &person).await, 5000);
    }
    eprintln!("kill -9: {interrupted} of 4 batches interrupted ({full:?} per batch), all whole or absent");
    // At least one kill landed before the answer, or the test proved nothing.
    assert!(interrupted > 0, "no kill interrupted a batch ({full:?} per batch)");
    server.kill9();
    if let Some((admin, name)) = pg {
        drop_postgres_database(admin, name);
    }
}

phr_tests::both_backends!(kill_during_batch);

// ---------------------------------------------------------------------------
// A full disk under SQLite

/// A tmpfs of `size` mounted on a fresh directory; unmounted on drop.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> Option<Self> {
        if !is_root() {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(SmallDisk { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file until the disk is full.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let path = self.path().join("filler");
        let mut f = std::fs::File::create(&path).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        while f.write_all(&chunk).is_ok() {}
        let small = [0u8; 512];
        while f.write_all(&small).is_ok() {}
        let _ = f.sync_all();
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

#[tokio::test]
async fn full_sqlite_disk_gives_clear_errors_and_no_corruption() {
    let Some(disk) = SmallDisk::mount("24m") else {
        return unavailable("mounting a small tmpfs needs root");
    };
    let logs = tempfile::tempdir().unwrap();
    let data = disk.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let database_url = format!("sqlite://{}/phr.db?mode=rwc", data.display());
    let server = ServerProcess::start(&database_url, &data, logs.path(), &[]).await;
    let (token, person) = server.user("fulldisk@example.jp").await;
    let path = format!("/v1/persons/{person}/observations/batch");
    let before = json!({"observations": (0..200).map(reading).collect::<Vec<_>>()});
    let (status, body) = server.post(&path, Some(&token), &before).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let filler = disk.fill();
    // Writes fail with a clear problem, not a 500, and store nothing.
    let batch = json!({"observations": (1000..3000).map(reading).collect::<Vec<_>>()});
    let (status, body) = server.post(&path, Some(&token), &batch).await;
    assert_eq!(status, StatusCode::INSUFFICIENT_STORAGE, "{body}\n{}", tail(&server.logs()));
    assert_eq!(body["code"], "storage_full", "{body}");
    let (status, body) = server
        .token(&[
            ("grant_type", "password"),
            ("username", "fulldisk@example.jp"),
            ("password", "correct horse battery"),
        ])
        .await;
    assert!(
        status == StatusCode::OK
            || (status == StatusCode::INSUFFICIENT_STORAGE && body["code"] == "storage_full"),
        "{status} {body}"
    );
    // Reads still work.
    let (status, body) =
        server.get(&format!("/v1/persons/{person}/observations?limit=1"), Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(count_observations(&database_url, &person).await, 200);

    // Space comes back: the same batch goes through, whole.
    std::fs::remove_file(filler).unwrap();
    let (status, body) = server.post(&path, Some(&token), &batch).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(count_observations(&database_url, &person).await, 2200);

    let db = Database::connect(&database_url).await.unwrap();
    let row = db
        .query_one_raw(Statement::from_string(DbBackend::Sqlite, "PRAGMA integrity_check"))
        .await
        .unwrap()
        .unwrap();
    let verdict: String = row.try_get_by_index(0).unwrap();
    assert_eq!(verdict, "ok");
    db.close().await.unwrap();
    drop(server);
}
