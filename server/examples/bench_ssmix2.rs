//! SS-MIX2 back-load benchmark (issue: the transfer program).
//!
//! The NHO sample storage (8 files) is replicated under `--patients` synthetic
//! patient IDs (default 500, so 4,000 files). Only the path carries the new ID:
//! the server keys a document's patient on the path (the file name is
//! authoritative, a PID-3 that disagrees is a parser warning), so the bytes stay
//! the sample's. For SQLite and PostgreSQL, `--rounds` times on a fresh database:
//! - `phr import-ssmix2` (the release binary, as a separate process) loads the
//!   whole storage for a facility none of whose patients is linked yet: every
//!   file parsed and stored, quarantined;
//! - the same with every patient linked to a person first: parsed, stored and
//!   imported into the record (lab results, prescriptions, facts, access log).
//!
//! Baseline, same run: the parser alone (`ssmix2::parse_file` on the same
//! files, in memory, one core). Prints medians of the importer's own
//! messages/s and the ratio to the parser. PostgreSQL comes from
//! `PHR_BENCH_POSTGRES_URL` (or `PHR_TEST_POSTGRES_URL`).
//! Run: `scripts/bench-ssmix2.sh [--patients N] [--rounds N]`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use chrono::Utc;
use common::{Running, start, stop, user};
use phr::entities::organization;
use phr_formats::ssmix2::{self, FileName};
use uuid::Uuid;

const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../formats/tests/fixtures/ssmix2/storage");

fn arg(name: &str, default: usize) -> usize {
    std::env::args().skip_while(|a| a != name).nth(1).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn samples(dir: &Path, rel: &str, out: &mut Vec<(String, Vec<u8>)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(Result::unwrap).collect();
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for e in entries {
        let name = e.file_name().into_string().unwrap();
        let rel = if rel.is_empty() { name } else { format!("{rel}/{name}") };
        if e.file_type().unwrap().is_dir() {
            samples(&e.path(), &rel, out);
        } else {
            out.push((rel, std::fs::read(e.path()).unwrap()));
        }
    }
}

/// Patient IDs 1000000, 1000001, …: seven digits, so the two hash folders are real.
fn patient_id(i: usize) -> String {
    format!("{}", 1_000_000 + i)
}

/// Writes the replicated storage under `root`; returns (relative path, bytes) of every file.
fn replicate(root: &Path, patients: usize) -> Vec<(String, Vec<u8>)> {
    let mut base = Vec::new();
    samples(Path::new(SAMPLES), "", &mut base);
    let mut files = Vec::new();
    for i in 0..patients {
        for (rel, bytes) in &base {
            let mut name = FileName::from_path(rel).unwrap();
            name.patient_id = patient_id(i);
            let path = name.relative_path();
            let full = root.join(&path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, bytes).unwrap();
            files.push((path, bytes.clone()));
        }
    }
    files
}

/// Messages/s of the parser alone over the same files.
fn parse_rate(files: &[(String, Vec<u8>)]) -> f64 {
    let started = Instant::now();
    for (path, bytes) in files {
        std::hint::black_box(ssmix2::parse_file(path, bytes).unwrap());
    }
    files.len() as f64 / started.elapsed().as_secs_f64()
}

async fn facility(r: &Running) -> Uuid {
    let org = organization::Model {
        id: Uuid::now_v7(),
        kind: "hospital".into(),
        name: "Bench Hospital".into(),
        code: None,
        created_at: Utc::now(),
    };
    phr::orgs::store::insert(&r.db, org).await.unwrap().id
}

/// Links every synthetic patient to a person of their own, as facility staff would.
async fn link_all(r: &Running, org: Uuid, patients: usize) {
    for i in 0..patients {
        let u = user(r, &format!("patient{i}@bench.example")).await;
        let account: Uuid = u.account_id.parse().unwrap();
        phr::clinical::service::link(&r.db, u.person_id, org, &patient_id(i), account).await.unwrap();
    }
}

/// Runs `phr import-ssmix2` and returns the messages/s it reports.
fn import(bin: &Path, r: &Running, org: Uuid, root: &Path, expected: usize) -> f64 {
    let out = Command::new(bin)
        .env("PHR_DATABASE_URL", &r.database_url)
        .args(["import-ssmix2", "--facility", &org.to_string()])
        .arg(root)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let summary = stdout.lines().next().unwrap();
    assert!(summary.contains(&format!("({expected} new, 0 duplicate, 0 failed)")), "{summary}");
    let rate = summary.rsplit(", ").next().unwrap().trim_end_matches(" messages/s");
    rate.parse().unwrap()
}

fn phr_binary() -> PathBuf {
    let bin = std::env::current_exe().unwrap().parent().unwrap().parent().unwrap().join("phr");
    assert!(bin.exists(), "{} is missing: run scripts/bench-ssmix2.sh, which builds it", bin.display());
    bin
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let patients = arg("--patients", 500);
    let rounds = arg("--rounds", 3);
    let bin = phr_binary();
    let pg = std::env::var("PHR_BENCH_POSTGRES_URL").or_else(|_| std::env::var("PHR_TEST_POSTGRES_URL")).ok();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("storage");
    let files = replicate(&root, patients);
    let n = files.len();
    println!(
        "ssmix2 back-load benchmark: {n} files (8 samples x {patients} patients), {rounds} rounds, medians"
    );
    println!("machine: {} cores", std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0));
    let mut backends: Vec<(&str, Option<String>)> = vec![("sqlite", None)];
    match &pg {
        Some(url) => backends.push(("postgres", Some(url.clone()))),
        None => println!("postgres: skipped (set PHR_BENCH_POSTGRES_URL)"),
    }
    let mut parser = Vec::new();
    let mut rows = Vec::new();
    for (name, url) in backends {
        let (mut quarantined, mut linked) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            // The baseline between the imports, so both see the machine in the same mood.
            parser.push(parse_rate(&files));
            let r = start(url.as_deref(), 10).await;
            let org = facility(&r).await;
            quarantined.push(import(&bin, &r, org, &root, n));
            stop(r).await;

            let r = start(url.as_deref(), 10).await;
            let org = facility(&r).await;
            link_all(&r, org, patients).await;
            linked.push(import(&bin, &r, org, &root, n));
            stop(r).await;
        }
        rows.push((name, median(quarantined), median(linked)));
    }
    let base = median(parser);
    println!("parser alone (baseline): {base:.0} messages/s");
    println!(
        "{:<9} {:>22} {:>7} {:>22} {:>7}",
        "database", "quarantined msg/s", "ratio", "linked msg/s", "ratio"
    );
    for (name, q, l) in rows {
        println!("{name:<9} {q:>22.0} {:>6.1}% {l:>22.0} {:>6.1}%", 100.0 * q / base, 100.0 * l / base);
    }
}
