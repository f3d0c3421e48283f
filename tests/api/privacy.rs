//! Privacy: the real `phr` binary, logging at every level, writes no personal
//! or health data and no secret to its logs; and passwords, refresh tokens,
//! client secrets and card UIDs are never stored in clear.

use std::path::Path;

use phr_tests::{Backend, StatusCode, drop_postgres_database, fresh_postgres_database};
use serde_json::json;
use uuid::Uuid;

use crate::clinical::{LAB, sample};
use crate::erasure::dump_database;
use crate::process::ServerProcess;

/// The binary serving on a fresh database, logging at trace to two files.
struct Server {
    process: ServerProcess,
    backend: Backend,
    database_url: String,
    pg: Option<(String, String)>,
    dir: tempfile::TempDir,
}

impl std::ops::Deref for Server {
    type Target = ServerProcess;
    fn deref(&self) -> &ServerProcess {
        &self.process
    }
}

impl Server {
    /// `None` for PostgreSQL when `PHR_TEST_POSTGRES_URL` is not set.
    async fn start(backend: Backend, log_format: &str) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let (database_url, pg) = match backend {
            Backend::Sqlite => (format!("sqlite://{}/phr.db?mode=rwc", dir.path().display()), None),
            Backend::Postgres => {
                let (admin, name, url) = fresh_postgres_database().await?;
                (url, Some((admin, name)))
            }
        };
        let env = [("RUST_LOG", "trace"), ("PHR_LOG_FORMAT", log_format)];
        let process = ServerProcess::start(&database_url, dir.path(), dir.path(), &env).await;
        Some(Server { process, backend, database_url, pg, dir })
    }

    fn stop(&mut self) -> String {
        self.process.stop()
    }

    fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.process.kill9();
        if let Some((admin, name)) = self.pg.take() {
            drop_postgres_database(admin, name);
        }
    }
}

/// What one session sent: every string that must never show up in a log.
struct Sent {
    /// `(what, text)`: personal data, health data and secrets.
    markers: Vec<(&'static str, String)>,
    password: String,
    refresh_token: String,
    client_secret: String,
    card_uid: String,
}

/// A person's session touching every kind of personal data, plus an
/// organisation's upload client.
async fn session(server: &Server) -> Sent {
    let mark = format!("PRIVMARK{}", &Uuid::new_v4().simple().to_string()[..10]);
    let email = format!("{}@example.jp", mark.to_lowercase());
    let name = format!("山田 {mark}");
    let password = format!("pw-{mark}-horse");
    let note = format!("diary {mark} 頭痛がひどい");
    let card_uid = format!("04{}", &Uuid::new_v4().simple().to_string()[..12]).to_uppercase();

    let (status, reg) = server
        .post("/v1/accounts", None, &json!({"email": email, "password": password, "displayName": name}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{reg}");
    let account = reg["accountId"].as_str().unwrap().to_owned();
    let person = reg["personId"].as_str().unwrap().to_owned();
    let (status, tokens) =
        server.token(&[("grant_type", "password"), ("username", &email), ("password", &password)]).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_owned();
    let tok = Some(access.as_str());

    let reading = json!({"id": Uuid::new_v4(), "kind": "body_weight", "effectiveAt": "2026-11-20T07:00:00+09:00",
                         "value": 173.217, "unit": "kg", "note": note,
                         "source": {"app": "PHR", "method": "manual"}});
    let (status, body) = server
        .post(&format!("/v1/persons/{person}/observations/batch"), tok, &json!({"observations": [reading]}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = server
        .post(
            &format!("/v1/persons/{person}/medications/qr"),
            tok,
            &json!({"parts": [{"text": crate::medications::text("tc07_spec24_example01.csv")}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = server
        .post(&format!("/v1/persons/{person}/notes"), tok, &json!({"text": note, "category": "diary"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) =
        server.post(&format!("/v1/persons/{person}/cards"), tok, &json!({"cardUid": card_uid})).await;
    assert!(status.is_success(), "{status} {body}");
    // Bodies the server refuses: serde's messages quote the offending value.
    let bad = json!({"id": Uuid::new_v4(), "kind": "body_weight", "effectiveAt": "2026-11-20T07:00:00+09:00",
                     "value": format!("{mark}-not-a-number"), "unit": "kg"});
    let (status, body) = server
        .post(&format!("/v1/persons/{person}/observations/batch"), tok, &json!({"observations": [bad]}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["results"][0]["status"], "rejected", "{body}");
    let (status, body) = server
        .post(&format!("/v1/persons/{person}/notes"), tok, &json!({"text": note, "category": mark}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, _) = server
        .token(&[("grant_type", "password"), ("username", &email), ("password", &format!("wrong-{mark}"))])
        .await;
    assert!(status.is_client_error());
    let (status, body) =
        server.token(&[("grant_type", "refresh_token"), ("refresh_token", &refresh_token)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let refresh_token = body["refresh_token"].as_str().unwrap().to_owned();

    // An organisation uploading a patient's SS-MIX2 file: the patient ID rides in `?path=`.
    let db = phr::db::connect(&server.database_url, 1).await.unwrap();
    phr::accounts::store::set_system_role(
        &db,
        Uuid::parse_str(&account).unwrap(),
        Some("system_admin"),
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    db.close().await.unwrap();
    let (status, org) = server
        .post("/v1/orgs", tok, &json!({"kind": "hospital", "name": "プライバシー病院", "code": "1319999999"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{org}");
    let org = org["orgId"].as_str().unwrap().to_owned();
    let (status, client) = server.post(&format!("/v1/orgs/{org}/clients"), tok, &json!({"name": "up"})).await;
    assert_eq!(status, StatusCode::CREATED, "{client}");
    let client_secret = client["clientSecret"].as_str().unwrap().to_owned();
    let (status, ct) = server
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", client["clientId"].as_str().unwrap()),
            ("client_secret", &client_secret),
        ])
        .await;
    assert_eq!(status, StatusCode::OK, "{ct}");
    let facility = ct["access_token"].as_str().unwrap().to_owned();
    let req = server
        .http
        .post(format!("{}/v1/ingest/ssmix2?path={LAB}", server.base))
        .bearer_auth(&facility)
        .header("content-type", "application/octet-stream")
        .body(sample(LAB));
    let (status, body) = server.send(req).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    Sent {
        markers: vec![
            ("marker", mark),
            ("email", email),
            ("display name", name),
            ("password", password.clone()),
            ("note", note),
            ("card UID", card_uid.clone()),
            ("value", "173.217".into()),
            ("QR patient name", "鈴木".into()),
            ("SS-MIX2 patient ID", "9999013".into()),
            ("access token", access),
            ("refresh token", refresh_token.clone()),
            ("client secret", client_secret.clone()),
            ("facility token", facility),
        ],
        password,
        refresh_token,
        client_secret,
        card_uid,
    }
}

async fn logs_hold_no_personal_data(backend: Backend, format: &str) {
    let Some(mut server) = Server::start(backend, format).await else {
        eprintln!("skipped: PHR_TEST_POSTGRES_URL is not set");
        return;
    };
    let sent = session(&server).await;
    let logs = server.stop();
    let lowered = logs.to_lowercase();
    // The logs are there to be searched: requests were logged, at trace level.
    assert!(logs.lines().count() > 20, "{logs}");
    for line in [
        "account registered",
        "signed in",
        "request finished",
        "/v1/persons/{personId}/notes",
        "/v1/ingest/ssmix2",
        "TRACE",
    ] {
        assert!(logs.contains(line), "no {line:?} in the {format} logs:\n{logs}");
    }
    let leaks: Vec<String> = sent
        .markers
        .iter()
        .filter(|(_, m)| lowered.contains(&m.to_lowercase()))
        .map(|(what, m)| {
            let line = logs.lines().find(|l| l.to_lowercase().contains(&m.to_lowercase())).unwrap_or("");
            format!("{what} ({m}) in: {line}")
        })
        .collect();
    assert!(leaks.is_empty(), "the {format} logs in {} leak:\n{}", server.dir().display(), leaks.join("\n"));
}

async fn secrets_are_not_stored_in_clear(backend: Backend) {
    let Some(mut server) = Server::start(backend, "json").await else {
        eprintln!("skipped: PHR_TEST_POSTGRES_URL is not set");
        return;
    };
    let sent = session(&server).await;
    server.stop();
    let rows = dump_database(server.backend, &server.database_url).await;
    assert!(rows.iter().any(|(t, _)| t == "refresh_tokens" || t.contains("token")), "tables dumped");
    // The person's email and note are stored (they are the record); the secrets are not.
    assert!(rows.iter().any(|(_, r)| r.contains(&sent.markers[0].1)), "the dump sees the record");
    for (what, secret) in [
        ("password", &sent.password),
        ("refresh token", &sent.refresh_token),
        ("client secret", &sent.client_secret),
        ("card UID", &sent.card_uid),
    ] {
        let upper = secret.to_uppercase();
        let found: Vec<&(String, String)> =
            rows.iter().filter(|(_, r)| r.to_uppercase().contains(&upper)).collect();
        assert!(found.is_empty(), "{what} stored in clear: {found:#?}");
    }
}

mod sqlite {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn json_logs_hold_no_personal_data() {
        logs_hold_no_personal_data(Backend::Sqlite, "json").await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn text_logs_hold_no_personal_data() {
        logs_hold_no_personal_data(Backend::Sqlite, "text").await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn secrets_are_not_stored_in_clear() {
        super::secrets_are_not_stored_in_clear(Backend::Sqlite).await;
    }
}

mod postgres {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn json_logs_hold_no_personal_data() {
        logs_hold_no_personal_data(Backend::Postgres, "json").await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn secrets_are_not_stored_in_clear() {
        super::secrets_are_not_stored_in_clear(Backend::Postgres).await;
    }
}
