//! Test harness: the real application on a free port, over real HTTP, on a
//! fresh database per test: a SQLite file in a temp dir, or a new PostgreSQL
//! database created from `PHR_TEST_POSTGRES_URL` and dropped afterwards.
//!
//! Write a test once as `async fn name(app: TestApp)` and list it in
//! [`both_databases!`]: it runs as `name::sqlite` and `name::postgres`.
//! Without `PHR_TEST_POSTGRES_URL` the PostgreSQL half is skipped with a
//! message, unless `PHR_REQUIRE_POSTGRES=1` (as in CI), where it fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod fcm;
pub mod oidc;

use std::time::Duration;

use phr::{AppState, Application, Settings};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};

pub use reqwest::StatusCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub backend: Backend,
    pub database_url: String,
    /// What this instance was started with: a peer shares its database and keys.
    settings: Settings,
    handle: actix_web::dev::ServerHandle,
    pg: Option<(String, String)>,
    _dir: tempfile::TempDir,
}

/// `PHR_TEST_POSTGRES_URL`, or `None` (after checking the CI requirement).
pub fn postgres_admin_url() -> Option<String> {
    match std::env::var("PHR_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var("PHR_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
                panic!("PHR_REQUIRE_POSTGRES=1 but PHR_TEST_POSTGRES_URL is not set");
            }
            None
        }
    }
}

/// A fresh, empty PostgreSQL database: `(admin_url, db_name, db_url)`.
pub async fn fresh_postgres_database() -> Option<(String, String, String)> {
    let admin = postgres_admin_url()?;
    let name = format!("phr_test_{}", uuid::Uuid::new_v4().simple());
    let conn = Database::connect(&admin).await.expect("connect to PHR_TEST_POSTGRES_URL");
    conn.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create test database");
    let _ = conn.close().await;
    let url = match admin.rfind('/') {
        Some(i) if admin[..i].ends_with(|c: char| c != '/') => format!("{}/{name}", &admin[..i]),
        _ => format!("{admin}/{name}"),
    };
    Some((admin, name, url))
}

/// Drops a test database, closing any connection still open to it.
pub fn drop_postgres_database(admin: String, name: String) {
    // Called from Drop, outside any runtime: use a private one on a thread.
    let _ = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            if let Ok(conn) = Database::connect(&admin).await {
                let _ =
                    conn.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
                let _ = conn.close().await;
            }
        });
    })
    .join();
}

pub fn test_settings(database_url: String, dir: &std::path::Path) -> Settings {
    Settings {
        bind: "127.0.0.1:0".into(),
        database_url,
        data_dir: dir.to_path_buf(),
        signing_key: Some(phr::auth::keys::generate_spec()),
        // Cheap hashing keeps sign-in tests fast; the algorithm is the same.
        argon2_memory_kib: 1024,
        workers: Some(2),
        db_max_connections: 5,
        // Every test client is 127.0.0.1; the limit tests set their own.
        rate_token_per_ip: 100_000,
        card_key: Some("test-card-key-0123456789abcdef0123456789".into()),
        ..Settings::default()
    }
}

impl TestApp {
    /// `None` when the backend is PostgreSQL and no server is configured.
    pub async fn spawn(backend: Backend) -> Option<Self> {
        Self::spawn_with(backend, |_| {}).await
    }

    pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut Settings)) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let (url, pg) = match backend {
            Backend::Sqlite => (format!("sqlite://{}/phr.db?mode=rwc", dir.path().display()), None),
            Backend::Postgres => {
                let (admin, name, url) = fresh_postgres_database().await?;
                (url, Some((admin, name)))
            }
        };
        let mut settings = test_settings(url.clone(), dir.path());
        tweak(&mut settings);
        Some(Self::start(settings, backend, pg, dir).await)
    }

    async fn start(
        settings: Settings,
        backend: Backend,
        pg: Option<(String, String)>,
        dir: tempfile::TempDir,
    ) -> Self {
        let database_url = settings.database_url.clone();
        let state = AppState::init(settings.clone()).await.expect("init app state");
        let app = Application::with_state(state).expect("build application");
        let base = format!("http://127.0.0.1:{}", app.port());
        let handle = app.handle();
        tokio::spawn(app.run_until_stopped());
        let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
        TestApp { base, client, backend, database_url, settings, handle, pg, _dir: dir }
    }

    /// A second instance of the same deployment, as behind a load balancer:
    /// its own port, process state (rate-limit windows, change notifications)
    /// and data dir, but this one's database, signing key and card key. The
    /// database stays this instance's to drop.
    pub async fn spawn_peer(&self) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = self.settings.clone();
        settings.data_dir = dir.path().to_path_buf();
        Self::start(settings, self.backend, None, dir).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        let mut req = self.client.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        read(req.send().await.unwrap()).await
    }

    pub async fn post_json(&self, path: &str, token: Option<&str>, body: &Value) -> (StatusCode, Value) {
        let mut req = self.client.post(self.url(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        read(req.send().await.unwrap()).await
    }

    /// A POST without a body.
    pub async fn post(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        let mut req = self.client.post(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        read(req.send().await.unwrap()).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        let mut req = self.client.delete(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        read(req.send().await.unwrap()).await
    }

    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let body = serde_urlencoded::to_string(form).unwrap();
        let req = self
            .client
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        read(req.send().await.unwrap()).await
    }

    /// Registers `email` and returns `(accountId, personId)`.
    pub async fn register(&self, email: &str, password: &str, name: &str) -> (String, String) {
        let (status, body) = self
            .post_json(
                "/v1/accounts",
                None,
                &json!({"email": email, "password": password, "displayName": name}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "register {email}: {body}");
        (body["accountId"].as_str().unwrap().into(), body["personId"].as_str().unwrap().into())
    }

    /// Password grant; returns the token response.
    pub async fn sign_in(&self, email: &str, password: &str) -> Value {
        let (status, body) = self
            .post_form(
                "/v1/auth/token",
                &[("grant_type", "password"), ("username", email), ("password", password)],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "sign in {email}: {body}");
        body
    }

    /// Gives an account the system administrator role, as `phr admin` would.
    pub async fn make_admin(&self, account_id: &str) {
        let db = Database::connect(&self.database_url).await.unwrap();
        let id = uuid::Uuid::parse_str(account_id).unwrap();
        phr::accounts::store::set_system_role(&db, id, Some("system_admin"), chrono::Utc::now())
            .await
            .unwrap();
        db.close().await.unwrap();
    }

    /// A registered, signed-in user: `(accessToken, accountId, personId)`.
    pub async fn user(&self, email: &str) -> (String, String, String) {
        let (account, person) = self.register(email, "correct horse battery", "Test User").await;
        let t = self.sign_in(email, "correct horse battery").await;
        (t["access_token"].as_str().unwrap().into(), account, person)
    }
}

async fn read(res: reqwest::Response) -> (StatusCode, Value) {
    let status = res.status();
    let text = res.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, body)
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stop accepting and close the pool's connections before dropping the database.
        drop(self.handle.stop(false));
        if let Some((admin, name)) = self.pg.take() {
            drop_postgres_database(admin, name);
        }
    }
}

/// Asserts an RFC 9457 problem with `code`, and returns its body.
pub fn assert_problem(status: StatusCode, body: &Value, expected: StatusCode, code: &str) {
    assert_eq!(status, expected, "body: {body}");
    assert_eq!(body["code"], code, "body: {body}");
    assert_eq!(body["status"], expected.as_u16(), "body: {body}");
    assert_eq!(body["type"], format!("/problems/{code}"), "body: {body}");
    assert!(body["title"].is_string() && body["detail"].is_string(), "body: {body}");
}

/// Generates `mod <test> { sqlite, postgres }` for each listed `async fn(TestApp)`.
#[macro_export]
macro_rules! both_databases {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let app = $crate::TestApp::spawn($crate::Backend::Sqlite).await.expect("sqlite app");
                    super::$name(app).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    match $crate::TestApp::spawn($crate::Backend::Postgres).await {
                        Some(app) => super::$name(app).await,
                        None => eprintln!("skipped: PHR_TEST_POSTGRES_URL is not set"),
                    }
                }
            }
        )*
    };
}

/// Generates `mod <test> { sqlite, postgres }` for each listed `async fn(Backend)`:
/// for tests that build their own application (settings of their own, a stand-in
/// service beside it).
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::Backend::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::Backend::Postgres).await;
                }
            }
        )*
    };
}
