//! Settings: defaults, then an optional TOML file, then `PHR_*` environment
//! variables, which always win. Nothing else in the crate reads the environment.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://phr-data/phr.db?mode=rwc";

#[derive(Debug, Clone)]
pub struct Settings {
    /// Address to listen on, `host:port`; port 0 picks a free one.
    pub bind: String,
    pub database_url: String,
    /// Where the embedded default keeps its database and generated signing key.
    pub data_dir: PathBuf,
    pub migrate_on_start: bool,
    pub db_max_connections: u32,
    /// Seconds an access token lives.
    pub access_token_ttl: i64,
    /// Days a refresh token lives when unused.
    pub refresh_token_ttl_days: i64,
    /// `kid:base64url(ed25519 seed)`; when absent the embedded default generates
    /// one in `data_dir`, and PostgreSQL deployments must supply it.
    pub signing_key: Option<String>,
    pub issuer: String,
    /// Largest request body accepted, in bytes (413 beyond).
    pub max_body_bytes: usize,
    /// `text` or `json` log lines.
    pub log_format: String,
    /// Seconds in-flight requests get to finish on SIGTERM/SIGINT.
    pub shutdown_timeout: u64,
    /// Argon2id memory cost in KiB (OWASP's 19 MiB floor by default).
    pub argon2_memory_kib: u32,
    /// HTTP worker threads; one per core when unset.
    pub workers: Option<usize>,
    /// Most observations accepted in one batch upload.
    pub max_batch_items: usize,
    /// Days deletions are kept for sync; older cursors get 410 resync_required.
    pub tombstone_retention_days: i64,
    /// Firebase Cloud Messaging (`PHR_FCM_*`); `None`: push is off, the inbox still fills.
    pub fcm: Option<crate::notify::fcm::FcmConfig>,
    /// Whether this instance runs the push-outbox worker (`PHR_PUSH_WORKER`).
    pub push_worker: bool,
    /// Sends of one push before it is given up (`PHR_PUSH_MAX_ATTEMPTS`).
    pub push_max_attempts: u32,
    /// How often the worker looks for due pushes, in milliseconds (`PHR_PUSH_POLL_MS`).
    pub push_poll_ms: u64,
    /// Key for the keyed hash of IC-card UIDs (`PHR_CARD_KEY`, at least 32
    /// characters); when unset, one is generated once and kept in the database.
    pub card_key: Option<String>,
    /// Emergency accesses one clinician may attempt per hour (`PHR_EMERGENCY_PER_HOUR`).
    pub emergency_per_hour: u32,
    /// OpenID Connect providers for external sign-in (`PHR_OIDC_PROVIDERS`, JSON;
    /// `[[oidc_providers]]` in the file). Empty: external sign-in is off.
    pub oidc_providers: Vec<crate::oidc::ProviderConfig>,
    /// Token requests per client IP per minute (`PHR_RATE_TOKEN_PER_IP`).
    pub rate_token_per_ip: u32,
    /// Password sign-ins per account per minute (`PHR_RATE_SIGNIN_PER_ACCOUNT`).
    pub rate_signin_per_account: u32,
    /// Invitation accepts and share-code redeems per account per minute (`PHR_RATE_REDEEM_PER_ACCOUNT`).
    pub rate_redeem_per_account: u32,
    /// Take the client IP from `Forwarded`/`X-Forwarded-For` (`PHR_TRUST_FORWARDED`): only behind
    /// a proxy that sets them.
    pub trust_forwarded: bool,
    /// Web origins allowed to call the API from a browser (`PHR_CORS_ORIGINS`, comma-separated,
    /// exact `https://host[:port]`); none by default.
    pub cors_origins: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            database_url: DEFAULT_DATABASE_URL.into(),
            data_dir: PathBuf::from("phr-data"),
            migrate_on_start: true,
            db_max_connections: 10,
            access_token_ttl: 15 * 60,
            refresh_token_ttl_days: 30,
            signing_key: None,
            issuer: "phr".into(),
            max_body_bytes: 8 * 1024 * 1024,
            log_format: "text".into(),
            shutdown_timeout: 30,
            argon2_memory_kib: 19 * 1024,
            workers: None,
            max_batch_items: 5000,
            tombstone_retention_days: 90,
            fcm: None,
            push_worker: true,
            push_max_attempts: 8,
            push_poll_ms: 500,
            card_key: None,
            emergency_per_hour: 10,
            oidc_providers: Vec::new(),
            rate_token_per_ip: 300,
            rate_signin_per_account: 10,
            rate_redeem_per_account: 10,
            trust_forwarded: false,
            cors_origins: Vec::new(),
        }
    }
}

/// The file form: every key optional, same names as the fields.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    bind: Option<String>,
    database_url: Option<String>,
    data_dir: Option<PathBuf>,
    migrate_on_start: Option<bool>,
    db_max_connections: Option<u32>,
    access_token_ttl: Option<i64>,
    refresh_token_ttl_days: Option<i64>,
    signing_key: Option<String>,
    issuer: Option<String>,
    max_body_bytes: Option<usize>,
    log_format: Option<String>,
    shutdown_timeout: Option<u64>,
    argon2_memory_kib: Option<u32>,
    workers: Option<usize>,
    max_batch_items: Option<usize>,
    tombstone_retention_days: Option<i64>,
    oidc_providers: Option<Vec<crate::oidc::ProviderConfig>>,
}

impl Settings {
    /// Loads defaults ← `file` (if given) ← environment.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut s = Settings::default();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading config file {}", path.display()))?;
            let f: FileSettings =
                toml::from_str(&text).with_context(|| format!("parsing config file {}", path.display()))?;
            s.apply_file(f);
        }
        s.apply_env(|k| std::env::var(k).ok())?;
        Ok(s)
    }

    fn apply_file(&mut self, f: FileSettings) {
        macro_rules! take {
            ($($field:ident),*) => { $( if let Some(v) = f.$field { self.$field = v; } )* };
        }
        take!(
            bind,
            database_url,
            data_dir,
            migrate_on_start,
            db_max_connections,
            access_token_ttl,
            refresh_token_ttl_days,
            issuer,
            max_body_bytes,
            log_format,
            shutdown_timeout,
            argon2_memory_kib,
            max_batch_items,
            tombstone_retention_days
        );
        if f.workers.is_some() {
            self.workers = f.workers;
        }
        if f.signing_key.is_some() {
            self.signing_key = f.signing_key;
        }
        if let Some(p) = f.oidc_providers {
            self.oidc_providers = p;
        }
    }

    fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        fn parse<T: std::str::FromStr>(key: &str, v: String) -> anyhow::Result<T> {
            v.trim().parse().map_err(|_| anyhow::anyhow!("{key}: cannot parse {v:?}"))
        }
        fn parse_bool(key: &str, v: String) -> anyhow::Result<bool> {
            match v.trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => Ok(true),
                "0" | "false" | "no" | "off" => Ok(false),
                _ => anyhow::bail!("{key}: expected true or false, got {v:?}"),
            }
        }
        if let Some(v) = get("PHR_BIND") {
            self.bind = v;
        }
        if let Some(v) = get("PHR_DATABASE_URL") {
            self.database_url = v;
        }
        if let Some(v) = get("PHR_DATA_DIR") {
            self.data_dir = PathBuf::from(v);
        }
        if let Some(v) = get("PHR_MIGRATE_ON_START") {
            self.migrate_on_start = parse_bool("PHR_MIGRATE_ON_START", v)?;
        }
        if let Some(v) = get("PHR_DB_MAX_CONNECTIONS") {
            self.db_max_connections = parse("PHR_DB_MAX_CONNECTIONS", v)?;
        }
        if let Some(v) = get("PHR_ACCESS_TOKEN_TTL") {
            self.access_token_ttl = parse("PHR_ACCESS_TOKEN_TTL", v)?;
        }
        if let Some(v) = get("PHR_REFRESH_TOKEN_TTL_DAYS") {
            self.refresh_token_ttl_days = parse("PHR_REFRESH_TOKEN_TTL_DAYS", v)?;
        }
        if let Some(v) = get("PHR_SIGNING_KEY") {
            self.signing_key = Some(v);
        }
        if let Some(v) = get("PHR_ISSUER") {
            self.issuer = v;
        }
        if let Some(v) = get("PHR_MAX_BODY_BYTES") {
            self.max_body_bytes = parse("PHR_MAX_BODY_BYTES", v)?;
        }
        if let Some(v) = get("PHR_LOG_FORMAT") {
            self.log_format = v;
        }
        if let Some(v) = get("PHR_SHUTDOWN_TIMEOUT") {
            self.shutdown_timeout = parse("PHR_SHUTDOWN_TIMEOUT", v)?;
        }
        if let Some(v) = get("PHR_ARGON2_MEMORY_KIB") {
            self.argon2_memory_kib = parse("PHR_ARGON2_MEMORY_KIB", v)?;
        }
        if let Some(v) = get("PHR_TOMBSTONE_RETENTION_DAYS") {
            self.tombstone_retention_days = parse("PHR_TOMBSTONE_RETENTION_DAYS", v)?;
        }
        if let Some(v) = get("PHR_MAX_BATCH_ITEMS") {
            self.max_batch_items = parse("PHR_MAX_BATCH_ITEMS", v)?;
        }
        self.fcm = crate::notify::fcm::FcmConfig::from_lookup(&get).context("PHR_FCM_*")?;
        if let Some(v) = get("PHR_PUSH_WORKER") {
            self.push_worker = parse_bool("PHR_PUSH_WORKER", v)?;
        }
        if let Some(v) = get("PHR_PUSH_MAX_ATTEMPTS") {
            self.push_max_attempts = parse("PHR_PUSH_MAX_ATTEMPTS", v)?;
        }
        if let Some(v) = get("PHR_PUSH_POLL_MS") {
            self.push_poll_ms = parse("PHR_PUSH_POLL_MS", v)?;
        }
        if let Some(v) = get("PHR_CARD_KEY") {
            anyhow::ensure!(v.trim().len() >= 32, "PHR_CARD_KEY must be at least 32 characters");
            self.card_key = Some(v.trim().to_owned());
        }
        if let Some(v) = get("PHR_EMERGENCY_PER_HOUR") {
            self.emergency_per_hour = parse("PHR_EMERGENCY_PER_HOUR", v)?;
        }
        if let Some(v) = get("PHR_RATE_TOKEN_PER_IP") {
            self.rate_token_per_ip = parse("PHR_RATE_TOKEN_PER_IP", v)?;
        }
        if let Some(v) = get("PHR_RATE_SIGNIN_PER_ACCOUNT") {
            self.rate_signin_per_account = parse("PHR_RATE_SIGNIN_PER_ACCOUNT", v)?;
        }
        if let Some(v) = get("PHR_RATE_REDEEM_PER_ACCOUNT") {
            self.rate_redeem_per_account = parse("PHR_RATE_REDEEM_PER_ACCOUNT", v)?;
        }
        if let Some(v) = get("PHR_CORS_ORIGINS") {
            self.cors_origins = v
                .split(',')
                .map(|o| o.trim().trim_end_matches('/').to_owned())
                .filter(|o| !o.is_empty())
                .collect();
            for o in &self.cors_origins {
                anyhow::ensure!(
                    (o.starts_with("https://")
                        || o.starts_with("http://localhost")
                        || o.starts_with("http://127.0.0.1"))
                        && !o.contains('*'),
                    "PHR_CORS_ORIGINS: {o:?} must be an exact https origin (http only for localhost)"
                );
            }
        }
        if let Some(v) = get("PHR_TRUST_FORWARDED") {
            self.trust_forwarded = parse_bool("PHR_TRUST_FORWARDED", v)?;
        }
        if let Some(v) = get("PHR_OIDC_PROVIDERS") {
            self.oidc_providers =
                serde_json::from_str(&v).context("PHR_OIDC_PROVIDERS: expected a JSON array")?;
        }
        if let Some(v) = get("PHR_WORKERS") {
            self.workers = Some(parse("PHR_WORKERS", v)?);
        }
        self.check()
    }

    fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(self.access_token_ttl > 0, "access_token_ttl must be positive");
        anyhow::ensure!(self.refresh_token_ttl_days > 0, "refresh_token_ttl_days must be positive");
        anyhow::ensure!(self.max_body_bytes >= 1024, "max_body_bytes must be at least 1024");
        anyhow::ensure!(
            matches!(self.log_format.as_str(), "text" | "json"),
            "log_format must be text or json"
        );
        crate::oidc::ProviderConfig::check_all(&self.oidc_providers).context("oidc_providers")?;
        Ok(())
    }

    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn environment_wins_over_file() {
        let mut s = Settings::default();
        s.apply_file(toml::from_str("bind = \"0.0.0.0:9000\"\naccess_token_ttl = 60").unwrap());
        let env: HashMap<&str, &str> = [("PHR_BIND", "127.0.0.1:7000")].into();
        s.apply_env(|k| env.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(s.bind, "127.0.0.1:7000");
        assert_eq!(s.access_token_ttl, 60);
    }

    #[test]
    fn oidc_providers_come_from_json_or_toml_and_are_checked() {
        let json = r#"[{"name":"tonet","issuer":"https://id.example.jp","clientId":"phr","clientSecret":"s",
                        "redirectUris":["phrapp://oidc/callback"]}]"#;
        let mut s = Settings::default();
        s.apply_env(|k| (k == "PHR_OIDC_PROVIDERS").then(|| json.to_string())).unwrap();
        assert_eq!(s.oidc_providers[0].name, "tonet");
        assert_eq!(s.oidc_providers[0].scopes, ["openid", "email", "profile"]);
        assert!(!format!("{:?}", s.oidc_providers[0]).contains("\"s\""), "secret kept out of Debug");
        let toml = "[[oidc_providers]]\nname = \"tonet\"\nissuer = \"https://id.example.jp\"\n\
                    client_id = \"phr\"\nclient_secret = \"s\"\nredirect_uris = [\"phrapp://cb\"]";
        let mut s = Settings::default();
        s.apply_file(toml::from_str(toml).unwrap());
        assert_eq!(s.oidc_providers[0].redirect_uris, ["phrapp://cb"]);
        for bad in [
            json.replace("https://id", "http://id"),
            json.replace(r#""redirectUris":["phrapp://oidc/callback"]"#, r#""redirectUris":[]"#),
            json.replace("tonet", "To Net"),
            format!("[{0},{0}]", &json[1..json.len() - 1]),
        ] {
            let mut s = Settings::default();
            assert!(s.apply_env(|k| (k == "PHR_OIDC_PROVIDERS").then(|| bad.clone())).is_err(), "{bad}");
        }
    }

    #[test]
    fn unknown_file_keys_and_bad_values_are_refused() {
        assert!(toml::from_str::<FileSettings>("bnid = \"x\"").is_err());
        let mut s = Settings::default();
        let err = s.apply_env(|k| (k == "PHR_MIGRATE_ON_START").then(|| "maybe".to_string()));
        assert!(err.unwrap_err().to_string().contains("PHR_MIGRATE_ON_START"));
    }
}
