//! What both benchmarks need: the real application on a free port over a
//! fresh database (SQLite in a temp dir, or a new PostgreSQL database), and
//! registered users.

use std::time::Duration;

use phr::{AppState, Application, Settings};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use uuid::Uuid;

pub struct Running {
    pub base: String,
    pub client: reqwest::Client,
    pub handle: actix_web::dev::ServerHandle,
    pub db: sea_orm::DatabaseConnection,
    /// For a second process on the same database (`phr import-ssmix2`).
    #[allow(dead_code)]
    pub database_url: String,
    _dir: tempfile::TempDir,
    pub pg: Option<(String, String)>,
}

/// Starts the server; `pg_admin` (a PostgreSQL URL) gets a fresh database, else SQLite.
pub async fn start(pg_admin: Option<&str>, max_connections: u32) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let (url, pg) = match pg_admin {
        None => (format!("sqlite://{}/bench.db?mode=rwc", dir.path().display()), None),
        Some(admin) => {
            let name = format!("phr_bench_{}", Uuid::new_v4().simple());
            let c = Database::connect(admin).await.unwrap();
            c.execute_unprepared(&format!("CREATE DATABASE {name}")).await.unwrap();
            (format!("{}/{name}", &admin[..admin.rfind('/').unwrap()]), Some((admin.to_owned(), name)))
        }
    };
    let settings = Settings {
        bind: "127.0.0.1:0".into(),
        database_url: url.clone(),
        data_dir: dir.path().to_path_buf(),
        signing_key: Some(phr::auth::keys::generate_spec()),
        argon2_memory_kib: 1024,
        db_max_connections: max_connections,
        // Every simulated device signs in from 127.0.0.1.
        rate_token_per_ip: 1_000_000,
        card_key: Some("bench-card-key-0123456789abcdef0123456789".into()),
        rate_signin_per_account: 1_000_000,
        ..Settings::default()
    };
    let state = AppState::init(settings).await.unwrap();
    let db = state.db.clone();
    let app = Application::with_state(state).unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(400)
        .timeout(Duration::from_secs(600))
        .build()
        .unwrap();
    Running { base, client, handle, db, database_url: url, _dir: dir, pg }
}

/// Stops the server and drops its PostgreSQL database.
pub async fn stop(r: Running) {
    r.handle.stop(true).await;
    r.db.close().await.unwrap();
    if let Some((admin, name)) = r.pg {
        let c = Database::connect(&admin).await.unwrap();
        c.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await.unwrap();
    }
}

// Each benchmark reads the fields it needs.
#[allow(dead_code)]
pub struct User {
    pub token: String,
    pub account_id: String,
    pub person_id: Uuid,
}

/// Registers `email` and signs in.
pub async fn user(r: &Running, email: &str) -> User {
    let reg: Value = r
        .client
        .post(format!("{}/v1/accounts", r.base))
        .json(&json!({"email": email, "password": "correct horse battery", "displayName": "Bench"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tok: Value = r
        .client
        .post(format!("{}/v1/auth/token", r.base))
        .form(&[("grant_type", "password"), ("username", email), ("password", "correct horse battery")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    User {
        token: tok["access_token"].as_str().unwrap().to_owned(),
        account_id: reg["accountId"].as_str().unwrap().to_owned(),
        person_id: reg["personId"].as_str().unwrap().parse().unwrap(),
    }
}
