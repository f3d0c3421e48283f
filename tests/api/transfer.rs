//! The SS-MIX2 transfer program (`phr push-ssmix2`, `phr import-ssmix2`): the
//! real `phr` binary against the test server and its database.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use phr::entities::clinical_document as doc;
use phr_formats::ssmix2::FileName;
use phr_tests::{StatusCode, TestApp, both_databases};
use sea_orm::{ColumnTrait, Database, EntityTrait, QueryFilter};
use serde_json::json;

use crate::consent::{admin, grant, org_with_member};

both_databases!(
    push_resumes_after_a_kill_without_storing_anything_twice,
    push_waits_out_an_unavailable_server_and_reports_refused_files,
    push_sends_patients_side_by_side_and_each_patients_files_in_order,
    import_loads_a_storage_once_and_refuses_an_unknown_facility,
);

const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../formats/tests/fixtures/ssmix2/storage");
const LAB: &str =
    "999/901/9999013/20111220/OML-11/9999013_20111220_OML-11_000000011000354_20111220103059000_01_1";
/// A well-named file whose content is not HL7: the server answers 422.
const GARBAGE: &str =
    "999/901/9999013/20111221/OML-11/9999013_20111221_OML-11_000000011000999_20111221103059000_01_1";

/// The `phr` binary of this build. The tests crate only links the library, so the
/// binary is built here (a no-op when it is up to date) into the same target directory.
pub fn phr_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        // target/<profile>/deps/api-<hash>
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
        let profile = match profile_dir.file_name().and_then(|n| n.to_str()).unwrap() {
            "debug" => "dev".to_owned(),
            other => other.to_owned(),
        };
        let status = Command::new(env!("CARGO"))
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .args(["build", "--quiet", "--locked", "-p", "phr-server", "--bin", "phr", "--profile", &profile])
            .arg("--target-dir")
            .arg(profile_dir.parent().unwrap())
            .status()
            .unwrap();
        assert!(status.success(), "building the phr binary failed");
        profile_dir.join(format!("phr{}", std::env::consts::EXE_SUFFIX))
    })
}

fn phr(dir: &Path) -> Command {
    let mut c = Command::new(phr_bin());
    c.current_dir(dir).env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    c
}

/// The sample storage under its own patient ID and under `copies` more, plus two
/// files that are not storage files. Returns the storage files' relative paths.
fn storage(root: &Path, copies: usize) -> Vec<String> {
    let mut samples = Vec::new();
    collect(Path::new(SAMPLES), "", &mut samples);
    let mut files = Vec::new();
    for i in 0..=copies {
        for (rel, bytes) in &samples {
            let mut name = FileName::from_path(rel).unwrap();
            if i > 0 {
                name.patient_id = format!("{}", 1_234_560 + i);
            }
            let path = name.relative_path();
            std::fs::create_dir_all(root.join(&path).parent().unwrap()).unwrap();
            std::fs::write(root.join(&path), bytes).unwrap();
            files.push(path);
        }
    }
    std::fs::write(root.join("index.txt"), "not a message").unwrap();
    std::fs::write(root.join("999/901/9999013/Thumbs.db"), "not a message").unwrap();
    files.sort();
    files
}

fn collect(dir: &Path, rel: &str, out: &mut Vec<(String, Vec<u8>)>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().into_string().unwrap();
        let rel = if rel.is_empty() { name } else { format!("{rel}/{name}") };
        if e.file_type().unwrap().is_dir() {
            collect(&e.path(), &rel, out);
        } else {
            out.push((rel, std::fs::read(e.path()).unwrap()));
        }
    }
}

/// A hospital and an API client of it: `(orgId, clientId, clientSecret)`.
async fn facility(app: &TestApp) -> (String, String, String) {
    let admin = admin(app).await;
    let (status, org) =
        app.post_json("/v1/orgs", Some(&admin), &json!({"kind": "hospital", "name": "国立病院機構"})).await;
    assert_eq!(status, StatusCode::CREATED, "{org}");
    let org = org["orgId"].as_str().unwrap().to_owned();
    let (status, client) =
        app.post_json(&format!("/v1/orgs/{org}/clients"), Some(&admin), &json!({"name": "uploader"})).await;
    assert_eq!(status, StatusCode::CREATED, "{client}");
    let id = client["clientId"].as_str().unwrap().to_owned();
    (org, id, client["clientSecret"].as_str().unwrap().to_owned())
}

/// The storage paths the server holds for `org`, sorted (a path twice if stored twice).
async fn stored(app: &TestApp, org: &str) -> Vec<String> {
    let db = Database::connect(&app.database_url).await.unwrap();
    let org = uuid::Uuid::parse_str(org).unwrap();
    let mut paths: Vec<String> = doc::Entity::find()
        .filter(doc::Column::OrgId.eq(org))
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.path)
        .collect();
    db.close().await.unwrap();
    paths.sort();
    paths
}

/// The number written before `label` in a summary line: `count("3 sent, 1 duplicate", "duplicate") == 1`.
fn count(summary: &str, label: &str) -> usize {
    let at = summary.find(&format!(" {label}")).unwrap_or_else(|| panic!("no {label:?} in {summary:?}"));
    let digits: String = summary[..at]
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    digits.parse().unwrap_or_else(|_| panic!("no count before {label:?} in {summary:?}"))
}

fn text(out: &Output) -> (String, String) {
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

struct Push<'a> {
    server: String,
    client: &'a (String, String, String),
    root: &'a Path,
}

impl Push<'_> {
    fn command(&self, extra: &[&str]) -> Command {
        let mut c = phr(self.root);
        c.args(["push-ssmix2", "--server", &self.server, "--client-id", &self.client.1])
            .args(["--client-secret", &self.client.2])
            .args(extra)
            .arg(self.root);
        c
    }

    /// Runs to the end: (success, summary line of stdout, whole stdout, stderr).
    fn run(&self, extra: &[&str]) -> (bool, String, String, String) {
        let out = self.command(extra).output().unwrap();
        let (stdout, stderr) = text(&out);
        let summary = stdout.lines().find(|l| l.starts_with("push-ssmix2 ")).unwrap_or_default().to_owned();
        (out.status.success(), summary, stdout, stderr)
    }
}

fn confirmed_lines(state: &Path) -> Vec<String> {
    std::fs::read_to_string(state).unwrap().lines().skip(1).map(str::to_owned).collect()
}

async fn push_resumes_after_a_kill_without_storing_anything_twice(app: TestApp) {
    let bin = tokio::task::spawn_blocking(phr_bin).await.unwrap();
    assert!(bin.exists());
    let client = facility(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let root = &dir.path().join("storage");
    let files = storage(root, 2);
    assert_eq!(files.len(), 24);
    let push = Push { server: app.base.clone(), client: &client, root };
    let state = root.join(".phr-push-state");

    // First run, slowed down, killed once the server has some of the files.
    // 400 ms a file (~10 s for all 24) leaves room for this loop to be
    // starved for seconds while the whole suite shares two cores.
    let log = std::fs::File::create(dir.path().join("first.log")).unwrap();
    let mut child: Child =
        push.command(&["--delay-ms", "400"]).stdout(Stdio::null()).stderr(Stdio::from(log)).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(child.try_wait().unwrap().is_none(), "the first run finished before it could be killed");
        assert!(Instant::now() < deadline, "the first run stored nothing");
        if stored(&app, &client.0).await.len() >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // Let a request that was on the wire when the program died finish on the server.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let on_server = stored(&app, &client.0).await;
    assert!(on_server.len() >= 4 && on_server.len() < files.len(), "killed mid-run: {}", on_server.len());
    let confirmed = confirmed_lines(&state);
    assert!(
        confirmed.len() <= on_server.len() && confirmed.len() + 1 >= on_server.len(),
        "the state holds what the server confirmed, at most one behind: {} vs {}",
        confirmed.len(),
        on_server.len()
    );
    for line in &confirmed {
        let (path, _) = line.split_once('\t').unwrap();
        assert!(on_server.iter().any(|p| p == path), "{path} recorded but not on the server");
    }
    // The worst moment for a kill: the last record torn in the middle of its write.
    let whole = std::fs::read_to_string(&state).unwrap();
    std::fs::write(&state, &whole[..whole.len() - 40]).unwrap();
    let recorded = confirmed.len() - 1;

    // Second run: skips what the first confirmed; the server dedups what it had unrecorded.
    let (ok, summary, _, stderr) = push.run(&["--concurrency", "3"]);
    assert!(ok, "{summary}\n{stderr}");
    assert_eq!(count(&summary, "already sent"), recorded, "{summary}");
    assert_eq!(count(&summary, "duplicate"), on_server.len() - recorded, "{summary}");
    assert_eq!(count(&summary, "sent,"), files.len() - on_server.len(), "{summary}");
    assert_eq!((count(&summary, "failed"), count(&summary, "skipped")), (0, 2), "{summary}");
    assert_eq!(stored(&app, &client.0).await, files, "every storage file exactly once");
    assert_eq!(confirmed_lines(&state).len(), files.len());

    // Third run: nothing left to send.
    let (ok, summary, _, stderr) = push.run(&[]);
    assert!(ok, "{stderr}");
    assert_eq!(
        (count(&summary, "sent,"), count(&summary, "duplicate"), count(&summary, "already sent")),
        (0, 0, files.len()),
        "{summary}"
    );

    // A file that changed since is sent again: the server keeps the new version.
    let changed = root.join(LAB);
    let bytes = std::fs::read(&changed).unwrap();
    let at = bytes.windows(5).position(|w| w == b"|7.2|").unwrap();
    let mut edited = bytes.clone();
    edited[at + 3] = b'3';
    std::fs::write(&changed, edited).unwrap();
    let (ok, summary, _, stderr) = push.run(&[]);
    assert!(ok, "{stderr}");
    assert_eq!(
        (count(&summary, "sent,"), count(&summary, "already sent")),
        (1, files.len() - 1),
        "{summary}"
    );
    let now = stored(&app, &client.0).await;
    assert_eq!(now.len(), files.len() + 1);
    assert_eq!(now.iter().filter(|p| *p == LAB).count(), 2, "both versions of the changed file");
}

/// A scripted answer of the stand-in: (status, Retry-After).
type Scripted = (u16, Option<&'static str>);

/// Sits between the transfer program and the test server: answers from its
/// script while it lasts, then relays, and logs every request.
struct StandIn {
    upstream: String,
    client: reqwest::Client,
    script: Mutex<HashMap<String, VecDeque<Scripted>>>,
    /// (arrival, route, `path` query parameter, status answered).
    log: Mutex<Vec<(Instant, String, String, u16)>>,
    /// Holds each relayed upload this long, so that concurrent ones overlap.
    hold: Duration,
    /// Uploads in flight per patient folder, and the most seen (all, one patient).
    in_flight: Mutex<(HashMap<String, usize>, usize, usize)>,
}

impl StandIn {
    fn new(upstream: &str, script: &[(&str, &[Scripted])], hold: Duration) -> Arc<Self> {
        Arc::new(StandIn {
            upstream: upstream.to_owned(),
            client: reqwest::Client::new(),
            script: Mutex::new(
                script.iter().map(|(k, v)| (k.to_string(), v.iter().copied().collect())).collect(),
            ),
            log: Mutex::new(Vec::new()),
            hold,
            in_flight: Mutex::new((HashMap::new(), 0, 0)),
        })
    }

    /// Serves on `port` until the handle stops it.
    fn serve(self: &Arc<Self>, port: u16) -> actix_web::dev::ServerHandle {
        let data = actix_web::web::Data::from(self.clone());
        let server = actix_web::HttpServer::new(move || {
            actix_web::App::new().app_data(data.clone()).default_service(actix_web::web::to(relay))
        })
        .workers(1)
        .bind(("127.0.0.1", port))
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        handle
    }

    fn enter(&self, patient: &str, by: isize) {
        let mut guard = self.in_flight.lock().unwrap();
        let (per, most_all, most_one) = &mut *guard;
        let n = per.entry(patient.to_owned()).or_default();
        *n = n.checked_add_signed(by).unwrap();
        let one = *n;
        let all = per.values().sum::<usize>();
        *most_one = (*most_one).max(one);
        *most_all = (*most_all).max(all);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn relay(
    req: actix_web::HttpRequest,
    body: actix_web::web::Bytes,
    s: actix_web::web::Data<StandIn>,
) -> actix_web::HttpResponse {
    let arrived = Instant::now();
    let route = req.path().to_owned();
    let file = serde_urlencoded::from_str::<HashMap<String, String>>(req.query_string())
        .unwrap_or_default()
        .remove("path")
        .unwrap_or_default();
    let scripted = s.script.lock().unwrap().get_mut(&route).and_then(VecDeque::pop_front);
    let (status, response) = match scripted {
        Some((status, retry_after)) => {
            let mut r =
                actix_web::HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
            if let Some(v) = retry_after {
                r.insert_header(("retry-after", v));
            }
            (status, r.finish())
        }
        None => {
            let patient = file.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
            if !file.is_empty() {
                s.enter(&patient, 1);
                tokio::time::sleep(s.hold).await;
            }
            let mut up = s.client.post(format!("{}{}", s.upstream, req.uri())).body(body.to_vec());
            for name in ["authorization", "content-type"] {
                if let Some(v) = req.headers().get(name) {
                    up = up.header(name, v.as_bytes());
                }
            }
            let res = up.send().await.unwrap();
            let status = res.status().as_u16();
            let content_type = res.headers().get("content-type").map(|v| v.as_bytes().to_vec());
            let bytes = res.bytes().await.unwrap();
            if !file.is_empty() {
                s.enter(&patient, -1);
            }
            let mut r =
                actix_web::HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
            if let Some(ct) = content_type {
                r.insert_header(("content-type", ct));
            }
            (status, r.body(bytes.to_vec()))
        }
    };
    s.log.lock().unwrap().push((arrived, route, file, status));
    response
}

async fn push_waits_out_an_unavailable_server_and_reports_refused_files(app: TestApp) {
    tokio::task::spawn_blocking(phr_bin).await.unwrap();
    let client = facility(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let files = storage(root, 0);
    std::fs::create_dir_all(root.join(GARBAGE).parent().unwrap()).unwrap();
    std::fs::write(root.join(GARBAGE), "MSH|garbage").unwrap();

    let standin = StandIn::new(
        &app.base,
        &[
            ("/v1/auth/token", &[(503, Some("1"))]),
            // Throttled, then the token "expired", then a server error without advice.
            ("/v1/ingest/ssmix2", &[(429, Some("1")), (401, None), (500, None)]),
        ],
        Duration::ZERO,
    );
    // Nothing listens on the port yet: the program must retry connecting.
    let port = free_port();
    let push = Push { server: format!("http://127.0.0.1:{port}/"), client: &client, root };
    let child = push
        .command(&["--retry-base-ms", "100"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let handle = standin.serve(port);

    let out = tokio::task::spawn_blocking(move || child.wait_with_output()).await.unwrap().unwrap();
    handle.stop(false).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "a refused file fails the run\n{stdout}\n{stderr}");
    assert!(stderr.contains("retrying"), "{stderr}");
    let summary = stdout.lines().next().unwrap();
    assert_eq!(
        (count(summary, "sent,"), count(summary, "duplicate"), count(summary, "failed")),
        (files.len(), 0, 1),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "failed {GARBAGE}: 422 Unprocessable Entity: The SS-MIX2 file cannot be read"
        )),
        "{stdout}"
    );
    assert_eq!(stored(&app, &client.0).await, files);

    let log = standin.log.lock().unwrap().clone();
    let tokens: Vec<&(Instant, String, String, u16)> =
        log.iter().filter(|e| e.1 == "/v1/auth/token").collect();
    let statuses: Vec<u16> = tokens.iter().map(|e| e.3).collect();
    assert_eq!(statuses, [503, 200, 200], "a new token after the 401");
    assert!(tokens[1].0 - tokens[0].0 >= Duration::from_secs(1), "Retry-After honoured");
    let uploads: Vec<&(Instant, String, String, u16)> =
        log.iter().filter(|e| e.1 == "/v1/ingest/ssmix2").collect();
    let first: Vec<(&str, u16)> = uploads.iter().take(4).map(|e| (e.2.as_str(), e.3)).collect();
    assert_eq!(first, [(files[0].as_str(), 429), (&files[0], 401), (&files[0], 500), (&files[0], 201)]);
    assert!(uploads[1].0 - uploads[0].0 >= Duration::from_secs(1), "Retry-After honoured");
    assert!(uploads[1].0 < tokens[2].0 && tokens[2].0 < uploads[2].0, "the token is renewed after the 401");
    let garbage: Vec<u16> = uploads.iter().filter(|e| e.2 == GARBAGE).map(|e| e.3).collect();
    assert_eq!(garbage, [422], "a refused file is not retried");
    assert_eq!(uploads.len(), 3 + files.len() + 1);
}

async fn import_loads_a_storage_once_and_refuses_an_unknown_facility(app: TestApp) {
    tokio::task::spawn_blocking(phr_bin).await.unwrap();
    let admin = admin(&app).await;
    let (org, clinician, _) =
        org_with_member(&app, &admin, "hospital", "国立病院機構", "dr@nho.example.jp", "clinician").await;
    // Patient 9999013 is linked before the back-load; the copies under other IDs are not.
    let (patient, _, person) = app.user("kanja@example.jp").await;
    grant(&app, &patient, &person, json!({"orgId": org}), &["labs", "medications"], "read", "treatment")
        .await;
    let link = json!({"orgId": org, "localPatientId": "9999013"});
    let (status, l) = app.post_json(&format!("/v1/persons/{person}/links"), Some(&clinician), &link).await;
    assert_eq!(status, StatusCode::CREATED, "{l}");

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("storage");
    let files = storage(&root, 1);
    let import = |facility: &str| {
        let out = phr(dir.path())
            .env("PHR_DATABASE_URL", &app.database_url)
            .args(["import-ssmix2", "--facility", facility])
            .arg(&root)
            .output()
            .unwrap();
        let (stdout, stderr) = text(&out);
        (out.status.code(), stdout, stderr)
    };

    let (code, stdout, stderr) = import(&org);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("messages/s"), "{stdout}");
    assert_eq!(
        (
            count(&stdout, "new"),
            count(&stdout, "duplicate"),
            count(&stdout, "failed"),
            count(&stdout, "skipped")
        ),
        (16, 0, 0, 2),
        "{stdout}"
    );
    assert_eq!(stored(&app, &org).await, files);
    // The linked patient's documents went into the record, and the access log says who wrote them.
    let (_, labs) = app.get(&format!("/v1/persons/{person}/labs"), Some(&patient)).await;
    let tp = labs["items"].as_array().unwrap().iter().find(|r| r["name"] == "総蛋白");
    assert_eq!(tp.map(|r| &r["value"]), Some(&json!("7.2")), "{labs}");
    let (_, log) = app.get(&format!("/v1/persons/{person}/access-log"), Some(&patient)).await;
    let writes: Vec<&serde_json::Value> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["resource"].as_str().is_some_and(|r| r.starts_with("ssmix2/")))
        .collect();
    assert_eq!(writes.len(), 8, "{log}");
    assert!(writes.iter().all(|e| e["action"] == "write" && e["actor"]["orgId"] == org.as_str()), "{log}");

    let (code, stdout, _) = import(&org);
    assert_eq!(code, Some(0));
    assert_eq!(
        (count(&stdout, "new"), count(&stdout, "duplicate")),
        (0, 16),
        "a rerun stores nothing: {stdout}"
    );
    assert_eq!(stored(&app, &org).await.len(), 16);

    std::fs::create_dir_all(root.join(GARBAGE).parent().unwrap()).unwrap();
    std::fs::write(root.join(GARBAGE), "MSH|garbage").unwrap();
    let (code, stdout, stderr) = import(&org);
    assert_eq!(code, Some(1), "{stdout}");
    assert_eq!((count(&stdout, "duplicate"), count(&stdout, "failed")), (16, 1), "{stdout}");
    assert!(stdout.contains(&format!("failed {GARBAGE}: The SS-MIX2 file cannot be read")), "{stdout}");
    assert!(stderr.contains("1 files failed"), "{stderr}");

    let unknown = uuid::Uuid::new_v4().to_string();
    let (code, stdout, stderr) = import(&unknown);
    assert_eq!(code, Some(1));
    assert!(stderr.contains(&format!("no organization {unknown}")), "{stderr}");
    assert!(stdout.is_empty(), "nothing imported: {stdout}");
}

async fn push_sends_patients_side_by_side_and_each_patients_files_in_order(app: TestApp) {
    tokio::task::spawn_blocking(phr_bin).await.unwrap();
    let client = facility(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let root = &dir.path().join("storage");
    let files = storage(root, 2);
    let standin = StandIn::new(&app.base, &[], Duration::from_millis(40));
    let port = free_port();
    let handle = standin.serve(port);
    let push = Push { server: format!("http://127.0.0.1:{port}"), client: &client, root };
    let (ok, summary, _, stderr) = push.run(&["--concurrency", "3"]);
    handle.stop(false).await;
    assert!(ok, "{summary}\n{stderr}");
    assert_eq!(count(&summary, "sent,"), files.len(), "{summary}");
    assert_eq!(stored(&app, &client.0).await, files);

    let (_, most_at_once, most_of_one_patient) = *standin.in_flight.lock().unwrap();
    assert!(most_at_once > 1, "several patients in flight: {most_at_once}");
    assert_eq!(most_of_one_patient, 1, "never two files of one patient at once");
    let log = standin.log.lock().unwrap();
    for patient in ["123/456/1234561", "123/456/1234562", "999/901/9999013"] {
        let sent: Vec<&str> = log.iter().filter(|e| e.2.starts_with(patient)).map(|e| e.2.as_str()).collect();
        let mut sorted = sent.clone();
        sorted.sort_unstable();
        assert_eq!((sent.len(), &sent), (8, &sorted), "{patient}'s files in storage order");
    }
}
