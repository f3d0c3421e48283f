//! The real `phr` binary: default serve, persisted signing key, admin and
//! migrate subcommands, graceful stop on SIGTERM.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_phr");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn phr(dir: &Path, port: u16) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PHR_BIND", format!("127.0.0.1:{port}"))
        .env("PHR_ARGON2_MEMORY_KIB", "1024")
        .env("PHR_WORKERS", "1");
    c
}

async fn wait_healthy(base: &str, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(r) = reqwest::get(format!("{base}/healthz")).await
            && r.status() == 200
        {
            return;
        }
        assert!(child.try_wait().unwrap().is_none(), "phr exited early");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("phr did not become healthy");
}

fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let ok = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap();
    assert!(ok.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "phr did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn default_serve_uses_embedded_sqlite_and_keeps_its_signing_key() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = phr(dir.path(), port).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    wait_healthy(&base, &mut child).await;
    assert!(dir.path().join("phr-data/phr.db").exists(), "default database in ./phr-data");
    let key = dir.path().join("phr-data/signing-key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    }

    // An administrator created from the command line while the server runs.
    let out = phr(dir.path(), port)
        .args(["admin", "create-admin", "--email", "Admin@Example.JP", "--password", "a long admin password"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let client = reqwest::Client::new();
    let token: serde_json::Value = client
        .post(format!("{base}/v1/auth/token"))
        .form(&[
            ("grant_type", "password"),
            ("username", "admin@example.jp"),
            ("password", "a long admin password"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = token["access_token"].as_str().unwrap().to_owned();
    assert_eq!(terminate(&mut child).code(), Some(0), "graceful stop exits 0");

    // Restart: the persisted key still verifies the token issued before.
    let mut child = phr(dir.path(), port).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    wait_healthy(&base, &mut child).await;
    let me: serde_json::Value =
        client.get(format!("{base}/v1/me")).bearer_auth(&access).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["roles"], serde_json::json!(["system_admin"]));
    assert_eq!(me["email"], "admin@example.jp");
    terminate(&mut child);

    // A duplicate admin is refused with a message, not a panic.
    let out = phr(dir.path(), port)
        .args(["admin", "create-admin", "--email", "admin@example.jp", "--password", "a long admin password"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
}

#[test]
fn migrate_subcommands_report_and_revert() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = phr(dir.path(), 0).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    assert!(run(&["migrate", "status"]).starts_with("pending m"));
    assert!(run(&["migrate", "up"]).starts_with("applied m"));
    assert!(run(&["migrate", "down"]).starts_with("pending m"));
    assert!(run(&["migrate", "up"]).starts_with("applied m"));
}

#[test]
fn postgres_without_a_signing_key_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = phr(dir.path(), free_port())
        .env("PHR_DATABASE_URL", "postgres://postgres@127.0.0.1:1/none")
        .env("PHR_MIGRATE_ON_START", "false")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("phr:"), "{err}");
}

#[test]
fn openapi_subcommand_prints_the_checked_in_spec() {
    let out = Command::new(BIN).arg("openapi").output().unwrap();
    assert!(out.status.success());
    let on_disk =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/openapi.json")).unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), on_disk);
}
