//! The SS-MIX2 transfer program: walks a facility's standardized storage and
//! hands every storage file to the PHR, over HTTP with a resumable local state
//! file (`phr push-ssmix2`) or straight into the database (`phr import-ssmix2`).
//! Both lean on the server's rule that a file is stored once per (facility,
//! path, content): sending a file twice never stores it twice, so a run killed
//! between an upload and its state record costs one duplicate answer, not a row.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use phr_formats::ssmix2::FileName;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use sea_orm::DatabaseConnection;
use serde::Deserialize;
use uuid::Uuid;

use super::service;
use crate::error::ApiError;
use crate::hash::sha256_hex;

/// Default state file name, inside the storage root.
pub const STATE_FILE_NAME: &str = ".phr-push-state";

/// `<PID 1-3>/<PID 4-6>/<PID>/<date>/<kind>/<file>`: how deep a storage file sits below the root.
const STORAGE_DEPTH: usize = 6;

/// Longest `Retry-After` honoured; a server asking for more gets retried after this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// Files in a row that exhausted their attempts before the whole run stops: by
/// then the server is down, not one file unlucky.
const GIVE_UP_RUN_AFTER: usize = 3;

const PROGRESS_EVERY: Duration = Duration::from_secs(1);

// ---------------------------------------------------------------------------
// Walking the storage

/// The storage files under a root, in a stable order, and what was passed over.
#[derive(Debug, Default)]
pub struct Storage {
    /// Storage-relative paths with `/` separators, sorted.
    pub files: Vec<String>,
    /// (relative path, why it is not a storage file).
    pub skipped: Vec<(String, String)>,
}

/// Walks `root` depth-first in byte order of names, so every run visits files in
/// the same order. A file is a storage file when it sits six folders deep and its
/// path parses as an SS-MIX2 standardized storage path; everything else (index
/// files, extended storage, stray documents) is counted as skipped. `exclude` is
/// a relative path never reported (the state file when it lives in the root).
/// Symbolic links are followed to files but not to folders, so a link cannot loop.
pub fn walk(root: &Path, exclude: Option<&str>) -> anyhow::Result<Storage> {
    let meta = std::fs::metadata(root).with_context(|| format!("reading {}", root.display()))?;
    if !meta.is_dir() {
        bail!("{} is not a folder", root.display());
    }
    let mut storage = Storage::default();
    visit(root, &mut Vec::new(), exclude, &mut storage)?;
    Ok(storage)
}

fn visit(dir: &Path, rel: &mut Vec<String>, exclude: Option<&str>, out: &mut Storage) -> anyhow::Result<()> {
    let mut entries = std::fs::read_dir(dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("listing {}", dir.display()))?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            let shown = [rel.join("/"), name.to_string_lossy().into_owned()].join("/");
            out.skipped.push((shown, "the name is not UTF-8".into()));
            continue;
        };
        rel.push(name.to_owned());
        let path = rel.join("/");
        let kind = entry.file_type().with_context(|| format!("reading {}", entry.path().display()))?;
        if kind.is_dir() {
            visit(&entry.path(), rel, exclude, out)?;
        } else if kind.is_file() || (kind.is_symlink() && entry.path().metadata().is_ok_and(|m| m.is_file()))
        {
            if exclude != Some(path.as_str()) {
                match storage_path(&path, rel.len()) {
                    Ok(()) => out.files.push(path),
                    Err(why) => out.skipped.push((path, why)),
                }
            }
        } else {
            out.skipped.push((path, "not a regular file".into()));
        }
        rel.pop();
    }
    Ok(())
}

/// Why `path` (at `depth` below the root) is not a storage file, if it is not one.
fn storage_path(path: &str, depth: usize) -> Result<(), String> {
    // Tabs and newlines would break the state file's lines; the standard has none.
    if path.chars().any(char::is_control) {
        return Err("the path holds a control character".into());
    }
    FileName::from_path(path).map_err(|e| e.to_string())?;
    if depth != STORAGE_DEPTH {
        return Err("not at <PID 1-3>/<PID 4-6>/<PID>/<date>/<kind>/<file> below the root \
                    (is the root the storage root?)"
            .into());
    }
    Ok(())
}

/// `<PID 1-3>/<PID 4-6>/<PID>` of a storage path: every version of a file lives below it.
fn patient_dir(path: &str) -> &str {
    path.match_indices('/').nth(2).map_or(path, |(i, _)| &path[..i])
}

fn report_skipped(program: &str, storage: &Storage) {
    for (path, why) in storage.skipped.iter().take(5) {
        eprintln!("{program}: skipped {path}: {why}");
    }
    if storage.skipped.len() > 5 {
        eprintln!("{program}: … and {} more files that are not storage files", storage.skipped.len() - 5);
    }
}

// ---------------------------------------------------------------------------
// The state file

/// What `push-ssmix2` has confirmed, kept next to the storage (or at `--state`).
///
/// A header line naming the server and client, then one line per confirmed
/// upload, `<relative path>\t<sha256 of the content>\n`, appended and synced to
/// disk after the server answered 201 or 200. A later line for the same path
/// (the file changed and was sent again) wins. A kill mid-append leaves a last
/// line without its newline: it is ignored and cut off on the next open, and the
/// file it named is simply sent again (the server answers "duplicate").
#[derive(Debug)]
pub struct PushState {
    file: File,
    path: PathBuf,
    confirmed: HashMap<String, String>,
}

const STATE_MAGIC: &str = "# phr push-ssmix2 state v1";

fn state_header(server: &str, client_id: &str) -> String {
    format!("{STATE_MAGIC}\tserver={server}\tclient={client_id}")
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl PushState {
    /// Opens (or creates) the state file for `server` and `client_id` and locks it
    /// against a second run. Refuses a file written for another server or client:
    /// its records say nothing about what this one has.
    pub fn open(path: &Path, server: &str, client_id: &str) -> anyhow::Result<Self> {
        let created = !path.exists();
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .with_context(|| format!("opening the state file {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => bail!(
                "the state file {} is in use by another push-ssmix2 run; wait for it to finish",
                path.display()
            ),
            // Some network file systems cannot lock; the run still works alone.
            Err(std::fs::TryLockError::Error(e)) => {
                eprintln!("push-ssmix2: cannot lock {} ({e}); do not start two runs at once", path.display())
            }
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).with_context(|| format!("reading {}", path.display()))?;
        let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        if complete < bytes.len() {
            // A torn last line from a kill mid-write: drop it so the next record starts a line.
            file.set_len(complete as u64).with_context(|| format!("repairing {}", path.display()))?;
            file.sync_data()?;
        }
        let text = String::from_utf8_lossy(&bytes[..complete]);
        let header = state_header(server, client_id);
        let mut lines = text.lines();
        match lines.next() {
            None => {
                file.write_all(format!("{header}\n").as_bytes())?;
                file.sync_data()?;
                if created {
                    sync_parent(path);
                }
            }
            Some(first) if first == header => {}
            Some(first) if first.starts_with(STATE_MAGIC) => bail!(
                "the state file {} records uploads to another server or client ({}); \
                 use --state to keep a separate file, or delete it to check every file again",
                path.display(),
                first.trim_start_matches(STATE_MAGIC).trim().replace('\t', " ")
            ),
            Some(_) => bail!("{} is not a push-ssmix2 state file", path.display()),
        }
        let mut confirmed = HashMap::new();
        for line in lines {
            match line.split_once('\t') {
                Some((p, hash)) if !p.is_empty() && is_sha256_hex(hash) => {
                    confirmed.insert(p.to_owned(), hash.to_owned());
                }
                // Only a torn write can leave one, and it is cut off above; skip anything else.
                _ => {}
            }
        }
        Ok(Self { file, path: path.to_owned(), confirmed })
    }

    /// Path → content hash of every upload earlier runs confirmed (emptied here,
    /// so uploads can read it while the run appends).
    pub fn take_confirmed(&mut self) -> HashMap<String, String> {
        std::mem::take(&mut self.confirmed)
    }

    /// Records a confirmed upload and waits until it is on disk.
    pub fn record(&mut self, path: &str, hash: &str) -> anyhow::Result<()> {
        self.file
            .write_all(format!("{path}\t{hash}\n").as_bytes())
            .and_then(|()| self.file.sync_data())
            .with_context(|| format!("writing the state file {}", self.path.display()))
    }
}

/// Makes a new file's directory entry durable too (best effort).
fn sync_parent(path: &Path) {
    #[cfg(unix)]
    if let Some(dir) = path.parent().map(|d| if d.as_os_str().is_empty() { Path::new(".") } else { d })
        && let Ok(d) = File::open(dir)
    {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// The state file's path relative to `root`, when it lives inside it.
fn relative_to(root: &Path, file: &Path) -> Option<String> {
    let root = root.canonicalize().ok()?;
    let file = file.canonicalize().ok()?;
    let rel = file.strip_prefix(root).ok()?;
    let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
    Some(parts?.join("/"))
}

// ---------------------------------------------------------------------------
// Back-off

/// Exponential back-off with jitter: after the n-th failure wait `base·2^(n-1)`
/// (at most `cap`), of which the upper half is random so that many facilities
/// retrying after one outage do not come back in step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { base: Duration::from_millis(500), cap: Duration::from_secs(60) }
    }
}

impl Backoff {
    /// The wait after `failures` failed attempts (1 for the first); `jitter` in
    /// 0..=1 picks the point in the upper half. A server's `Retry-After` is a
    /// floor (up to ten minutes), never shortened by the jitter.
    #[must_use]
    pub fn delay(&self, failures: u32, retry_after: Option<Duration>, jitter: f64) -> Duration {
        let factor = 1u32.checked_shl(failures.saturating_sub(1)).unwrap_or(u32::MAX);
        let full = self.base.saturating_mul(factor).min(self.cap);
        let half = full / 2;
        let wait = half + half.mul_f64(jitter.clamp(0.0, 1.0));
        match retry_after {
            Some(asked) => wait.max(asked.min(MAX_RETRY_AFTER)),
            None => wait,
        }
    }
}

/// `Retry-After` (RFC 9110 §10.2.3): delay seconds or an HTTP date.
#[must_use]
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers.get(RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(|v| parse_retry_after(v, Utc::now()))
}

/// Worth another try: the server may answer differently later.
fn retryable(status: StatusCode) -> bool {
    status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
}

/// A transport error with its causes (reqwest's own text omits them:
/// "error sending request" says nothing of a refused connection).
fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        text = format!("{text}: {c}");
        cause = c.source();
    }
    text
}

/// What a problem+json or OAuth error body says, or the start of the body.
fn error_detail(body: &str) -> String {
    let json: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let field = |k: &str| json.as_ref().and_then(|j| j.get(k)).and_then(|v| v.as_str()).map(str::to_owned);
    field("detail")
        .or_else(|| field("error_description"))
        .or_else(|| field("error"))
        .unwrap_or_else(|| body.chars().take(200).collect())
}

// ---------------------------------------------------------------------------
// Uploading

/// How `push-ssmix2` runs.
#[derive(Debug, Clone)]
pub struct PushOptions {
    /// Base URL of the PHR server, e.g. `https://phr.example.jp`.
    pub server: String,
    pub client_id: String,
    pub client_secret: String,
    pub root: PathBuf,
    /// Default: [`STATE_FILE_NAME`] in the root.
    pub state: Option<PathBuf>,
    /// Attempts per request before a file is given up (at least 1).
    pub max_attempts: u32,
    /// Patients uploaded at once; one patient's files always go one after another.
    pub concurrency: usize,
    pub backoff: Backoff,
    /// Pause before each upload, to go easy on a busy server.
    pub delay: Duration,
}

/// What became of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Stored as a new document.
    Stored,
    /// The server had it already (an earlier run sent it but did not get to record it).
    Duplicate,
    /// An earlier run confirmed this content; not sent.
    AlreadySent,
    /// Refused (4xx), unreadable, or still failing after every attempt (`gave_up`).
    Failed { reason: String, gave_up: bool },
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: i64,
}

#[derive(Deserialize)]
struct IngestAnswer {
    duplicate: bool,
}

struct Token {
    value: String,
    renew_at: Instant,
}

/// A facility client of the PHR server: client-credentials tokens, renewed
/// before they expire and after a 401, and uploads with bounded retries.
struct Uploader {
    http: reqwest::Client,
    server: String,
    client_id: String,
    client_secret: String,
    token: tokio::sync::Mutex<Option<Token>>,
    max_attempts: u32,
    backoff: Backoff,
}

/// A request's failure that may pass: (what happened, the server's Retry-After).
type Transient = (String, Option<Duration>);

impl Uploader {
    fn new(opts: &PushOptions, server: String) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .user_agent(concat!("phr-push-ssmix2/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the HTTP client")?;
        Ok(Self {
            http,
            server,
            client_id: opts.client_id.clone(),
            client_secret: opts.client_secret.clone(),
            token: tokio::sync::Mutex::new(None),
            max_attempts: opts.max_attempts.max(1),
            backoff: opts.backoff,
        })
    }

    async fn wait(&self, what: &str, failures: u32, (reason, after): &Transient) {
        let wait = self.backoff.delay(failures, *after, rand::random());
        eprintln!(
            "push-ssmix2: {what}: {reason}; retrying in {:.1} s (attempt {}/{})",
            wait.as_secs_f64(),
            failures + 1,
            self.max_attempts
        );
        tokio::time::sleep(wait).await;
    }

    /// The current token, fetching a new one when there is none or it is near expiry.
    async fn token(&self) -> anyhow::Result<String> {
        let mut slot = self.token.lock().await;
        if let Some(t) = slot.as_ref().filter(|t| Instant::now() < t.renew_at) {
            return Ok(t.value.clone());
        }
        let t = self.fetch_token().await?;
        let value = t.value.clone();
        *slot = Some(t);
        Ok(value)
    }

    /// Drops `used` after a 401, unless another upload already replaced it.
    async fn forget_token(&self, used: &str) {
        let mut slot = self.token.lock().await;
        if slot.as_ref().is_some_and(|t| t.value == used) {
            *slot = None;
        }
    }

    /// Client-credentials grant. Refused credentials end the run: every upload would fail alike.
    async fn fetch_token(&self) -> anyhow::Result<Token> {
        let url = format!("{}/v1/auth/token", self.server);
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.as_str()),
        ];
        let mut failures = 0;
        loop {
            let transient: Transient = match self.http.post(&url).form(&form).send().await {
                Ok(res) if res.status().is_success() => {
                    let t: TokenResponse = res.json().await.context("reading the token response")?;
                    let life = Duration::from_secs(u64::try_from(t.expires_in).unwrap_or(0));
                    // Renew a little early so that no upload goes out with a token about to lapse.
                    let renew_at =
                        Instant::now() + life.saturating_sub(Duration::from_secs(60).min(life / 4));
                    return Ok(Token { value: t.access_token, renew_at });
                }
                Ok(res) if retryable(res.status()) => (res.status().to_string(), retry_after(res.headers())),
                Ok(res) => {
                    let status = res.status();
                    let body = res.text().await.unwrap_or_default();
                    bail!(
                        "the server refused the client credentials ({status}: {}); check --client-id and --client-secret",
                        error_detail(&body)
                    );
                }
                Err(e) if !e.is_builder() => (describe(&e), None),
                Err(e) => return Err(e).with_context(|| format!("requesting a token from {url}")),
            };
            failures += 1;
            if failures >= self.max_attempts {
                bail!("no token from {url} after {failures} attempts: {}", transient.0);
            }
            self.wait("token request", failures, &transient).await;
        }
    }

    /// Uploads one file. `Err` only for what ends the whole run (refused credentials).
    async fn upload(&self, path: &str, bytes: &[u8]) -> anyhow::Result<Outcome> {
        let url = format!("{}/v1/ingest/ssmix2", self.server);
        let mut failures = 0;
        let mut renewed = false;
        loop {
            let token = self.token().await?;
            let res = self
                .http
                .post(&url)
                .query(&[("path", path)])
                .bearer_auth(&token)
                .header(CONTENT_TYPE, "application/octet-stream")
                .body(bytes.to_vec())
                .send()
                .await;
            let transient: Transient = match res {
                Ok(res) => match res.status() {
                    StatusCode::CREATED => return Ok(Outcome::Stored),
                    StatusCode::OK => match res.json::<IngestAnswer>().await {
                        Ok(a) if a.duplicate => return Ok(Outcome::Duplicate),
                        Ok(_) => return Ok(Outcome::Stored),
                        // Cut off mid-answer: asking again is safe, the server dedups.
                        Err(e) => (format!("reading the answer: {e}"), None),
                    },
                    StatusCode::UNAUTHORIZED => {
                        self.forget_token(&token).await;
                        if !renewed {
                            // Expired or signed by a retired key: one retry with a new token, no wait.
                            renewed = true;
                            failures += 1;
                            continue;
                        }
                        ("401 Unauthorized with a fresh token".into(), None)
                    }
                    s if retryable(s) => (s.to_string(), retry_after(res.headers())),
                    s => {
                        let body = res.text().await.unwrap_or_default();
                        return Ok(Outcome::Failed {
                            reason: format!("{s}: {}", error_detail(&body)),
                            gave_up: false,
                        });
                    }
                },
                Err(e) if e.is_builder() => return Err(e).context("building the upload request"),
                Err(e) => (describe(&e), None),
            };
            failures += 1;
            if failures >= self.max_attempts {
                return Ok(Outcome::Failed {
                    reason: format!("{} after {failures} attempts", transient.0),
                    gave_up: true,
                });
            }
            self.wait(path, failures, &transient).await;
        }
    }
}

// ---------------------------------------------------------------------------
// Runs and their summary

/// Counts of one run.
#[derive(Debug, Default)]
pub struct Summary {
    /// Storage files found.
    pub files: usize,
    pub stored: usize,
    pub duplicate: usize,
    pub already_sent: usize,
    /// (path, why).
    pub failed: Vec<(String, String)>,
    /// Files under the root that are not storage files.
    pub skipped: usize,
    pub elapsed: Duration,
}

impl Summary {
    fn add(&mut self, path: &str, outcome: Outcome) {
        match outcome {
            Outcome::Stored => self.stored += 1,
            Outcome::Duplicate => self.duplicate += 1,
            Outcome::AlreadySent => self.already_sent += 1,
            Outcome::Failed { reason, .. } => self.failed.push((path.to_owned(), reason)),
        }
    }

    fn done(&self) -> usize {
        self.stored + self.duplicate + self.already_sent + self.failed.len()
    }

    /// Files handed to the server (or the database) per second.
    #[must_use]
    pub fn rate(&self) -> f64 {
        let handled = self.stored + self.duplicate + self.failed.len();
        handled as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn push_counts(&self) -> String {
        format!(
            "{} sent, {} duplicate, {} already sent, {} failed",
            self.stored,
            self.duplicate,
            self.already_sent,
            self.failed.len()
        )
    }

    fn import_counts(&self) -> String {
        format!("{} new, {} duplicate, {} failed", self.stored, self.duplicate, self.failed.len())
    }
}

struct Progress {
    started: Instant,
    last: Instant,
}

impl Progress {
    fn new() -> Self {
        let now = Instant::now();
        Self { started: now, last: now }
    }

    fn tick(&mut self, summary: &mut Summary, line: impl FnOnce(&Summary) -> String) {
        summary.elapsed = self.started.elapsed();
        if self.last.elapsed() >= PROGRESS_EVERY {
            self.last = Instant::now();
            eprintln!("{}", line(summary));
        }
    }
}

/// `phr push-ssmix2`: uploads what earlier runs did not confirm. Prints progress
/// to stderr and the summary to stdout; failed files are in the summary.
pub async fn push(opts: PushOptions) -> anyhow::Result<Summary> {
    let server = opts.server.trim_end_matches('/').to_owned();
    if !(server.starts_with("http://") || server.starts_with("https://")) {
        bail!("--server must be an http:// or https:// URL, got {server:?}");
    }
    let state_path = opts.state.clone().unwrap_or_else(|| opts.root.join(STATE_FILE_NAME));
    if !opts.root.is_dir() {
        bail!("{} is not a folder", opts.root.display());
    }
    let mut state = PushState::open(&state_path, &server, &opts.client_id)?;
    let storage = walk(&opts.root, relative_to(&opts.root, &state_path).as_deref())?;
    report_skipped("push-ssmix2", &storage);
    let confirmed = state.take_confirmed();
    eprintln!(
        "push-ssmix2: {} storage files under {} ({} other files skipped); {} confirmed earlier in {}",
        storage.files.len(),
        opts.root.display(),
        storage.skipped.len(),
        confirmed.len(),
        state_path.display()
    );
    let uploader = Uploader::new(&opts, server)?;
    let mut summary =
        Summary { files: storage.files.len(), skipped: storage.skipped.len(), ..Default::default() };
    let started = Instant::now();
    let result = push_files(&opts, &storage, &confirmed, &uploader, &mut state, &mut summary).await;
    summary.elapsed = started.elapsed();
    println!(
        "push-ssmix2 {}: {} files ({}), {} skipped, {:.1} s, {:.1} files/s",
        if result.is_ok() { "finished" } else { "stopped" },
        summary.files,
        summary.push_counts(),
        summary.skipped,
        summary.elapsed.as_secs_f64(),
        summary.rate()
    );
    for (path, why) in &summary.failed {
        println!("failed {path}: {why}");
    }
    result.map(|()| summary)
}

async fn push_files<'a>(
    opts: &'a PushOptions,
    storage: &'a Storage,
    confirmed: &'a HashMap<String, String>,
    uploader: &'a Uploader,
    state: &mut PushState,
    summary: &mut Summary,
) -> anyhow::Result<()> {
    let job = |path: &'a String| async move {
        let bytes = match tokio::fs::read(opts.root.join(path)).await {
            Ok(b) => b,
            Err(e) => {
                let reason = format!("cannot read the file: {e}");
                return Ok((path, String::new(), Outcome::Failed { reason, gave_up: false }));
            }
        };
        let hash = sha256_hex(&bytes);
        if confirmed.get(path) == Some(&hash) {
            return Ok((path, hash, Outcome::AlreadySent));
        }
        if !opts.delay.is_zero() {
            tokio::time::sleep(opts.delay).await;
        }
        let outcome = uploader.upload(path, &bytes).await?;
        anyhow::Ok((path, hash, outcome))
    };
    // Patients in parallel, but one patient's files one after another: the versions
    // of a result (a later timestamp, a deletion flag) must reach the server in order,
    // and two in flight at once would each miss the other.
    let mut jobs =
        futures_util::stream::iter(storage.files.chunk_by(|a, b| patient_dir(a) == patient_dir(b)))
            .map(|files| Box::pin(futures_util::stream::iter(files).then(job)))
            .flatten_unordered(opts.concurrency.max(1));
    let mut progress = Progress::new();
    let mut gave_up_in_a_row = 0;
    while let Some(job) = jobs.next().await {
        let (path, hash, outcome) = job?;
        match &outcome {
            Outcome::Stored | Outcome::Duplicate => {
                state.record(path, &hash)?;
                gave_up_in_a_row = 0;
            }
            Outcome::AlreadySent => {}
            Outcome::Failed { reason, gave_up } => {
                eprintln!("push-ssmix2: failed {path}: {reason}");
                gave_up_in_a_row = if *gave_up { gave_up_in_a_row + 1 } else { 0 };
            }
        }
        summary.add(path, outcome);
        progress.tick(summary, |s| {
            format!("push-ssmix2: {}/{} ({}) {:.1} files/s", s.done(), s.files, s.push_counts(), s.rate())
        });
        if gave_up_in_a_row >= GIVE_UP_RUN_AFTER {
            bail!(
                "{GIVE_UP_RUN_AFTER} files in a row failed after {} attempts each: the server seems \
                 unavailable; run again later to resume",
                uploader.max_attempts
            );
        }
    }
    Ok(())
}

/// `phr import-ssmix2`: every storage file through [`service::receive`] on the
/// database, as if the facility `org_id` had uploaded it; what the database
/// has already comes back as duplicate. Prints progress to stderr and the
/// summary (with messages/s) to stdout.
pub async fn import(db: &DatabaseConnection, org_id: Uuid, root: &Path) -> anyhow::Result<Summary> {
    let org = crate::orgs::store::find(db, org_id).await?.ok_or_else(|| {
        anyhow!("no organization {org_id} in this database: create the facility first and pass its id as --facility")
    })?;
    let storage = walk(root, None)?;
    report_skipped("import-ssmix2", &storage);
    eprintln!(
        "import-ssmix2: {} storage files under {} ({} other files skipped) for {} ({org_id})",
        storage.files.len(),
        root.display(),
        storage.skipped.len(),
        org.name
    );
    let mut summary =
        Summary { files: storage.files.len(), skipped: storage.skipped.len(), ..Default::default() };
    let started = Instant::now();
    let result = import_files(db, org_id, root, &storage, &mut summary).await;
    summary.elapsed = started.elapsed();
    println!(
        "import-ssmix2 {}: {} files ({}), {} skipped, {:.2} s, {:.1} messages/s",
        if result.is_ok() { "finished" } else { "stopped" },
        summary.files,
        summary.import_counts(),
        summary.skipped,
        summary.elapsed.as_secs_f64(),
        summary.rate()
    );
    for (path, why) in &summary.failed {
        println!("failed {path}: {why}");
    }
    result.map(|()| summary)
}

async fn import_files(
    db: &DatabaseConnection,
    org_id: Uuid,
    root: &Path,
    storage: &Storage,
    summary: &mut Summary,
) -> anyhow::Result<()> {
    let mut progress = Progress::new();
    for path in &storage.files {
        let outcome = match tokio::fs::read(root.join(path)).await {
            Err(e) => Outcome::Failed { reason: format!("cannot read the file: {e}"), gave_up: false },
            Ok(bytes) => match service::receive(db, org_id, path, &bytes).await {
                Ok(r) if r.duplicate => Outcome::Duplicate,
                Ok(_) => Outcome::Stored,
                Err(ApiError::Problem { detail, .. }) => Outcome::Failed { reason: detail, gave_up: false },
                // The database, not the file: stop; a rerun picks up where this one ended.
                Err(e) => return Err(anyhow!("{path}: {e}")),
            },
        };
        if let Outcome::Failed { reason, .. } = &outcome {
            eprintln!("import-ssmix2: failed {path}: {reason}");
        }
        summary.add(path, outcome);
        progress.tick(summary, |s| {
            format!(
                "import-ssmix2: {}/{} ({}) {:.1} messages/s",
                s.done(),
                s.files,
                s.import_counts(),
                s.rate()
            )
        });
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const LAB: &str =
        "999/901/9999013/20111220/OML-11/9999013_20111220_OML-11_000000011000354_20111220103059000_01_1";
    const ADT: &str = "999/901/9999013/-/ADT-00/9999013_-_ADT-00_999999999999999_20111220224447339_-_1";

    fn put(root: &Path, rel: &str, bytes: &[u8]) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }

    #[test]
    fn the_walk_is_sorted_and_skips_what_is_not_a_storage_file() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        put(root, LAB, b"x");
        put(root, ADT, b"x");
        put(root, "999/901/9999013/index.txt", b"x");
        put(root, "999/901/9999013/20111220/OMP-01^x/1/main_document.hl7", b"x");
        put(root, &format!("extra/{ADT}"), b"x");
        put(root, STATE_FILE_NAME, b"x");
        let s = walk(root, Some(STATE_FILE_NAME)).unwrap();
        assert_eq!(s.files, vec![ADT.to_owned(), LAB.to_owned()], "'-' sorts before digits");
        let skipped: Vec<&str> = s.skipped.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            skipped,
            [
                "999/901/9999013/20111220/OMP-01^x/1/main_document.hl7",
                "999/901/9999013/index.txt",
                &format!("extra/{ADT}"),
            ]
        );
        assert!(s.skipped[2].1.contains("storage root"), "{:?}", s.skipped[2]);
        assert!(walk(&root.join(ADT), None).is_err(), "a file is not a storage root");
    }

    #[test]
    fn files_are_grouped_by_patient_folder() {
        assert_eq!(patient_dir(LAB), "999/901/9999013");
        assert_eq!(patient_dir(ADT), "999/901/9999013");
        assert_eq!(patient_dir("a/b"), "a/b");
    }

    #[test]
    fn the_state_file_keeps_confirmed_uploads_and_drops_a_torn_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        let (h1, h2) = (sha256_hex(b"one"), sha256_hex(b"two"));
        {
            let mut s = PushState::open(&path, "https://phr.example", "c1").unwrap();
            assert!(s.take_confirmed().is_empty());
            s.record(LAB, &h1).unwrap();
            s.record(ADT, &h1).unwrap();
            s.record(LAB, &h2).unwrap();
        }
        // A kill in the middle of the next record.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(format!("{ADT}\t{}", &h2[..10]).as_bytes()).unwrap();
        drop(f);
        let mut s = PushState::open(&path, "https://phr.example", "c1").unwrap();
        let confirmed = s.take_confirmed();
        assert_eq!(confirmed.len(), 2);
        assert_eq!(confirmed[LAB], h2, "the later record of a path wins");
        assert_eq!(confirmed[ADT], h1, "the torn record is ignored");
        s.record(ADT, &h2).unwrap();
        drop(s);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.ends_with(&format!("\n{ADT}\t{h2}\n")), "the torn tail was cut off: {text:?}");
        assert_eq!(text.lines().count(), 5);

        let err = PushState::open(&path, "https://other.example", "c1").unwrap_err();
        assert!(err.to_string().contains("another server or client"), "{err}");
        std::fs::write(dir.path().join("notes"), "hello\n").unwrap();
        assert!(PushState::open(&dir.path().join("notes"), "https://phr.example", "c1").is_err());
    }

    #[test]
    fn a_second_run_cannot_use_the_same_state_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        let _first = PushState::open(&path, "https://phr.example", "c1").unwrap();
        let err = PushState::open(&path, "https://phr.example", "c1").unwrap_err();
        assert!(err.to_string().contains("in use"), "{err}");
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter_in_the_upper_half() {
        let b = Backoff { base: Duration::from_millis(500), cap: Duration::from_secs(8) };
        let ms = |failures, jitter| b.delay(failures, None, jitter).as_millis();
        assert_eq!((ms(1, 0.0), ms(1, 1.0)), (250, 500));
        assert_eq!((ms(2, 0.0), ms(2, 1.0)), (500, 1000));
        assert_eq!((ms(3, 0.5), ms(4, 1.0)), (1500, 4000));
        assert_eq!((ms(5, 0.0), ms(5, 1.0), ms(40, 1.0)), (4000, 8000, 8000), "capped, no overflow");
    }

    #[test]
    fn retry_after_is_a_floor_up_to_ten_minutes() {
        let b = Backoff::default();
        let s = Duration::from_secs;
        assert_eq!(b.delay(1, Some(s(3)), 1.0), s(3), "longer than the back-off: wait what was asked");
        assert_eq!(b.delay(1, Some(s(0)), 1.0), Duration::from_millis(500));
        assert_eq!(b.delay(8, Some(s(1)), 1.0), s(60), "shorter: the back-off still applies");
        assert_eq!(b.delay(1, Some(s(86_400)), 0.0), s(600));
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = DateTime::parse_from_rfc3339("2026-11-26T08:00:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("Thu, 26 Nov 2026 08:00:30 GMT", now), Some(Duration::from_secs(30)));
        assert_eq!(parse_retry_after("Thu, 26 Nov 2026 07:00:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
    }

    #[test]
    fn only_timeouts_throttling_and_server_errors_are_retried() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(retryable(StatusCode::from_u16(s).unwrap()), "{s}");
        }
        for s in [400, 401, 403, 404, 413, 415, 422] {
            assert!(!retryable(StatusCode::from_u16(s).unwrap()), "{s}");
        }
        assert_eq!(
            error_detail(r#"{"detail":"The SS-MIX2 file cannot be read"}"#),
            "The SS-MIX2 file cannot be read"
        );
        assert_eq!(error_detail(r#"{"error":"invalid_client","error_description":"wrong"}"#), "wrong");
        assert_eq!(error_detail("<html>"), "<html>");
    }
}
