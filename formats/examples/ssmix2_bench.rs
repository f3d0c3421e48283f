//! Parser throughput on the NHO sample storage (path check, decoding, splitting, extraction):
//! `cargo run --release -p phr-formats --example ssmix2_bench [seconds]`.

use std::time::{Duration, Instant};

use phr_formats::ssmix2;

macro_rules! sample {
    ($path:literal) => {
        ($path, include_bytes!(concat!("../tests/fixtures/ssmix2/storage/", $path)).as_slice())
    };
}

const SAMPLES: &[(&str, &[u8])] = &[
    sample!("999/901/9999013/-/ADT-00/9999013_-_ADT-00_999999999999999_20111220224447339_-_1"),
    sample!("999/901/9999013/-/ADT-61/9999013_-_ADT-61_999999999999999_20111014232213000_-_1"),
    sample!("999/901/9999013/-/PPR-01/9999013_-_PPR-01_999999999999999_20111209163030000_01_1"),
    sample!("999/901/9999013/20110701/OMP-01/9999013_20110701_OMP-01_000000011000185_20110701224603984_01_1"),
    sample!("999/901/9999013/20111120/ADT-22/9999013_20111120_ADT-22_999999999999999_20111220224447339_01_1"),
    sample!("999/901/9999013/20111220/OMG-13/9999013_20111220_OMG-13_999999999999999_20111220224447339_01_1"),
    sample!("999/901/9999013/20111220/OML-01/9999013_20111220_OML-01_000000011000354_20111220103059123_15_1"),
    sample!("999/901/9999013/20111220/OML-11/9999013_20111220_OML-11_000000011000354_20111220103059000_01_1"),
];

fn main() {
    let seconds = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(2.0);
    let budget = Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let (mut messages, mut bytes) = (0u64, 0u64);
    while started.elapsed() < budget {
        for (path, sample) in SAMPLES {
            if ssmix2::parse_file(path, sample).is_err() {
                eprintln!("a sample failed to parse");
                std::process::exit(1);
            }
            messages += 1;
            bytes += sample.len() as u64;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "ssmix2 files: {:.0} messages/s, {:.1} MB/s ({messages} in {elapsed:.2} s, one core)",
        messages as f64 / elapsed,
        bytes as f64 / elapsed / 1e6
    );
}
