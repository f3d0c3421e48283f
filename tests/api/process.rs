//! The real `phr` binary as a child process, for tests that must see what a
//! process does (its logs) or do to it what only a process allows: kill -9,
//! restart on the same data, run out of disk.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use phr_tests::StatusCode;
use serde_json::Value;

/// One `phr serve` on a fixed port; `restart` brings it back with the same
/// settings (database, signing key, card key), so tokens stay valid.
pub struct ServerProcess {
    child: Option<Child>,
    pub base: String,
    pub http: reqwest::Client,
    port: u16,
    database_url: String,
    data_dir: PathBuf,
    log_dir: PathBuf,
    env: Vec<(String, String)>,
    signing_key: String,
}

impl ServerProcess {
    /// Starts the binary (logs in `log_dir`, appended across restarts) and
    /// waits until `/readyz` answers 200.
    pub async fn start(database_url: &str, data_dir: &Path, log_dir: &Path, env: &[(&str, &str)]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut server = ServerProcess {
            child: None,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap(),
            port,
            database_url: database_url.to_owned(),
            data_dir: data_dir.to_path_buf(),
            log_dir: log_dir.to_path_buf(),
            env: env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            signing_key: phr::auth::keys::generate_spec(),
        };
        server.spawn();
        server.wait_ready(Duration::from_secs(60)).await;
        server
    }

    fn spawn(&mut self) {
        let log = |name: &str| {
            Stdio::from(OpenOptions::new().create(true).append(true).open(self.log_dir.join(name)).unwrap())
        };
        let mut cmd = Command::new(crate::transfer::phr_bin());
        cmd.arg("serve")
            .current_dir(&self.data_dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("PHR_BIND", format!("127.0.0.1:{}", self.port))
            .env("PHR_DATABASE_URL", &self.database_url)
            .env("PHR_DATA_DIR", &self.data_dir)
            .env("PHR_SIGNING_KEY", &self.signing_key)
            .env("PHR_CARD_KEY", "process-test-card-key-0123456789abcdef")
            .env("PHR_ARGON2_MEMORY_KIB", "1024")
            .env("PHR_SHUTDOWN_TIMEOUT", "2");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        self.child = Some(cmd.stdout(log("stdout.log")).stderr(log("stderr.log")).spawn().unwrap());
    }

    /// Polls `/readyz` until it answers 200; panics with the logs after `limit`.
    pub async fn wait_ready(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        let probe = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().unwrap();
        loop {
            if let Ok(res) = probe.get(format!("{}/readyz", self.base)).send().await
                && res.status().is_success()
            {
                return;
            }
            assert!(Instant::now() < deadline, "the server was not ready within {limit:?}:\n{}", self.logs());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn logs(&self) -> String {
        let read = |name: &str| std::fs::read_to_string(self.log_dir.join(name)).unwrap_or_default();
        format!("{}{}", read("stdout.log"), read("stderr.log"))
    }

    /// SIGKILL: no shutdown, no flush, no rollback by the process itself.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// The same binary on the same port, data and keys, once ready.
    pub async fn restart(&mut self) {
        self.kill9();
        self.spawn();
        self.wait_ready(Duration::from_secs(60)).await;
    }

    /// SIGTERM, then the logs once the process has exited.
    pub fn stop(&mut self) -> String {
        if let Some(mut child) = self.child.take() {
            let status = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap();
            assert!(status.success());
            let deadline = Instant::now() + Duration::from_secs(20);
            while child.try_wait().unwrap().is_none() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.wait();
        }
        self.logs()
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let res = req.send().await.unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> (StatusCode, Value) {
        let mut req = self.http.post(format!("{}{path}", self.base)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        self.send(req).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        self.send(req).await
    }

    pub async fn token(&self, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let req = self
            .http
            .post(format!("{}/v1/auth/token", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(form).unwrap());
        self.send(req).await
    }

    /// Registers and signs in: `(accessToken, personId)`.
    pub async fn user(&self, email: &str) -> (String, String) {
        let password = "correct horse battery";
        let (status, body) = self
            .post(
                "/v1/accounts",
                None,
                &serde_json::json!({"email": email, "password": password, "displayName": "Fault Test"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let person = body["personId"].as_str().unwrap().to_owned();
        let (status, body) =
            self.token(&[("grant_type", "password"), ("username", email), ("password", password)]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        (body["access_token"].as_str().unwrap().to_owned(), person)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill9();
    }
}
