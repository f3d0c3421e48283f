//! Parser throughput on the specification's examples:
//! `cargo run --release -p phr-formats --example jahis_bench [seconds]`.

use std::time::{Duration, Instant};

use phr_formats::jahis::{self, Part};

const SAMPLES: &[&[u8]] = &[
    include_bytes!("../tests/fixtures/jahis/tc07_spec24_example01.csv"),
    include_bytes!("../tests/fixtures/jahis/tc07_spec24_example04.csv"),
    include_bytes!("../tests/fixtures/jahis/tc07_spec24_example07.csv"),
    include_bytes!("../tests/fixtures/jahis/tc07_spec24_example09.csv"),
    include_bytes!("../tests/fixtures/jahis/raw_sjis/tc07_spec24_example11.sjis.csv"),
    include_bytes!("../tests/fixtures/jahis/tc08_spec26_example11.txt"),
];
const SPLIT: [&[u8]; 2] = [
    include_bytes!("../tests/fixtures/jahis/tc08_spec26_split_part2of2.txt"),
    include_bytes!("../tests/fixtures/jahis/tc08_spec26_split_part1of2.txt"),
];

fn main() {
    let seconds = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(2.0);
    let budget = Duration::from_secs_f64(seconds);

    let started = Instant::now();
    let (mut payloads, mut bytes) = (0u64, 0u64);
    while started.elapsed() < budget {
        for sample in SAMPLES {
            if jahis::parse(sample).is_err() {
                eprintln!("a sample failed to parse");
                std::process::exit(1);
            }
            payloads += 1;
            bytes += sample.len() as u64;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "single payloads: {:.0} payloads/s, {:.1} MB/s ({payloads} in {elapsed:.2} s)",
        payloads as f64 / elapsed,
        bytes as f64 / elapsed / 1e6
    );

    let started = Instant::now();
    let mut sets = 0u64;
    while started.elapsed() < budget {
        if jahis::parse_parts(&[Part::new(SPLIT[0]), Part::new(SPLIT[1])]).is_err() {
            eprintln!("the split sample failed to parse");
            std::process::exit(1);
        }
        sets += 1;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!("two-part 911 split sets: {:.0} sets/s", sets as f64 / elapsed);
}
