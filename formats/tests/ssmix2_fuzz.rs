//! Property tests without a framework: a seeded xorshift generator feeds the HL7 and SS-MIX2
//! parsers random bytes, mutated and truncated samples, random paths and random navigation.
//! Nothing may panic; whatever parses must survive a JSON round trip unchanged; a file name
//! that parses must print back to itself.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use phr_formats::hl7::{self, Delimiters};
use phr_formats::ssmix2::{self, FileName, Ssmix2Message};

const ROOT: &str = "tests/fixtures/ssmix2/storage/999/901/9999013";
const SAMPLES: &[&[u8]] = &[
    include_bytes!(
        "fixtures/ssmix2/storage/999/901/9999013/-/ADT-00/9999013_-_ADT-00_999999999999999_20111220224447339_-_1"
    ),
    include_bytes!(
        "fixtures/ssmix2/storage/999/901/9999013/-/ADT-61/9999013_-_ADT-61_999999999999999_20111014232213000_-_1"
    ),
    include_bytes!(
        "fixtures/ssmix2/storage/999/901/9999013/-/PPR-01/9999013_-_PPR-01_999999999999999_20111209163030000_01_1"
    ),
    include_bytes!(
        "fixtures/ssmix2/storage/999/901/9999013/20110701/OMP-01/9999013_20110701_OMP-01_000000011000185_20110701224603984_01_1"
    ),
    include_bytes!(
        "fixtures/ssmix2/storage/999/901/9999013/20111120/ADT-22/9999013_20111120_ADT-22_999999999999999_20111220224447339_01_1"
    ),
    include_bytes!(
        "fixtures/ssmix2/storage/999/901/9999013/20111220/OMG-13/9999013_20111220_OMG-13_999999999999999_20111220224447339_01_1"
    ),
    include_bytes!(
        "fixtures/ssmix2/storage/999/901/9999013/20111220/OML-01/9999013_20111220_OML-01_000000011000354_20111220103059123_15_1"
    ),
    include_bytes!(
        "fixtures/ssmix2/storage/999/901/9999013/20111220/OML-11/9999013_20111220_OML-11_000000011000354_20111220103059000_01_1"
    ),
];

/// Bytes that matter to the format: delimiters, escapes, segment ends, framing, ISO-2022-JP
/// escape sequence bytes, 8-bit bytes, digits.
const INTERESTING: &[u8] = b"|^~\\&\r\n\x0b\x1c\x1b$B(J@I\x0e\x80\xff\x8201239.-+<>\"FSTREX_ ";

/// `SSMIX2_FUZZ_SCALE=50 cargo test -p phr-formats --release --test ssmix2_fuzz` runs longer.
fn scaled(iterations: usize) -> usize {
    let scale = std::env::var("SSMIX2_FUZZ_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    iterations * scale
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { usize::try_from(self.next() % n as u64).unwrap() }
    }

    fn byte(&mut self) -> u8 {
        if self.below(2) == 0 {
            INTERESTING[self.below(INTERESTING.len())]
        } else {
            self.next().to_le_bytes()[0]
        }
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(6) {
            0 if at < out.len() => out[at] = rng.byte(),
            1 => out.insert(at, rng.byte()),
            2 if at < out.len() => {
                let end = (at + rng.below(40)).min(out.len());
                out.drain(at..end);
            }
            3 => out.truncate(at),
            4 => {
                let end = (at + rng.below(80)).min(out.len());
                let span = out[at..end].to_vec();
                let to = rng.below(out.len() + 1);
                out.splice(to..to, span);
            }
            _ => {
                let pieces: [&[u8]; 8] = [
                    b"\rOBX|1|NM|X||",
                    b"\rMSH|^~\\&|",
                    b"\x1b$B",
                    b"\x1b(J",
                    b"\x1b(I",
                    b"\\F\\",
                    b"\rNTE|1||\\X\\",
                    b"\rTQ1|1|||||99999999999^wk",
                ];
                let piece = rng.pick(&pieces);
                out.splice(at..at, piece.iter().copied());
            }
        }
    }
    out
}

/// Parses and, when that works, checks the JSON round trip.
fn check(bytes: &[u8]) {
    if let Ok(message) = ssmix2::parse(bytes) {
        let json = serde_json::to_string(&message).unwrap();
        let back: Ssmix2Message = serde_json::from_str(&json).unwrap();
        assert_eq!(back, message);
    }
}

/// Found by a long run (scale 100): a reference range whose upper bound is a
/// 16-digit number came back one ulp off through JSON until serde_json read
/// floats exactly (`float_roundtrip`).
#[test]
fn large_reference_bounds_survive_the_json_round_trip() {
    for text in ["1.2-2000000001219001", "0-9007199254740993", "1e-300-1.7976931348623157e308"] {
        let range = ssmix2::parse_reference_range(text);
        let json = serde_json::to_string(&range).unwrap();
        let back: ssmix2::ReferenceRange = serde_json::from_str(&json).unwrap();
        assert_eq!(back, range, "{text}");
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for i in 0..scaled(3000) {
        let len = rng.below(200);
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.byte()).collect();
        if i % 2 == 0 {
            bytes.splice(0..0, b"MSH|^~\\&|".iter().copied());
        }
        check(&bytes);
        let _ = ssmix2::decode(&bytes);
        let text = String::from_utf8_lossy(&bytes);
        let _ = hl7::parse(&text);
    }
}

#[test]
fn mutated_samples_never_panic_and_round_trip() {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    for sample in SAMPLES {
        for _ in 0..scaled(300) {
            check(&mutate(&mut rng, sample));
        }
    }
}

#[test]
fn every_prefix_of_every_sample_parses_or_is_refused() {
    for sample in SAMPLES {
        for end in 0..=sample.len() {
            let prefix = &sample[..end];
            let result = ssmix2::parse(prefix);
            // A cut right after a segment end loses nothing before it: it always parses.
            if end > 0 && sample[end - 1] == b'\r' {
                assert!(result.is_ok(), "cut at {end}: {result:?}");
            }
        }
    }
}

#[test]
fn random_navigation_of_random_messages_never_panics() {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let separators = ['|', '^', '~', '\\', '&', '#', '$', '*', '!', '@', 'x', ' '];
    for _ in 0..scaled(1500) {
        let mut text = String::from("MSH");
        for _ in 0..rng.below(6) {
            text.push(*rng.pick(&separators));
        }
        for _ in 0..rng.below(120) {
            let c = match rng.below(4) {
                0 => *rng.pick(&separators),
                1 => *rng.pick(&['\r', '\n', 'E', 'F', 'X', '.', '患', '0', 'P', 'I', 'D']),
                _ => char::from(b'A' + u8::try_from(rng.below(26)).unwrap()),
            };
            text.push(c);
        }
        let Ok(message) = hl7::parse(&text) else { continue };
        for segment in message.segments() {
            for _ in 0..8 {
                let field = segment.field(rng.below(12));
                let _ = field.text();
                let _ = field.non_empty();
                let value = field.repetition(rng.below(4)).component(rng.below(5)).subcomponent(rng.below(4));
                let _ = value.text();
                let _ = field.repetitions().map(|r| r.components().count()).sum::<usize>();
                let _ = field.component(rng.below(3)).subcomponents().count();
            }
        }
    }
}

#[test]
fn unescape_never_panics_with_any_delimiters() {
    let mut rng = Rng(0xA076_1D64_78BD_642F);
    let chars = [
        '\\', '!', 'F', 'S', 'T', 'R', 'E', 'X', 'H', 'N', '.', 'b', 'r', 's', 'p', ' ', '9', '4', '1', '漢',
        'C', 'M',
    ];
    for _ in 0..scaled(3000) {
        let text: String = (0..rng.below(40)).map(|_| *rng.pick(&chars)).collect();
        let delimiters = Delimiters { escape: Some(*rng.pick(&['\\', '!'])), ..Delimiters::default() };
        let _ = hl7::unescape(&text, &delimiters);
    }
}

#[test]
fn file_names_round_trip_and_random_paths_never_panic() {
    let mut rng = Rng(0xE703_7ED1_A0B4_28DB);
    for _ in 0..scaled(2000) {
        let digits = |rng: &mut Rng, n: usize| {
            (0..n).map(|_| char::from(b'0' + u8::try_from(rng.below(10)).unwrap())).collect::<String>()
        };
        let pid_len = 1 + rng.below(10);
        let suffix = if rng.below(4) == 0 { "_X" } else { "" };
        let pid = format!("{}{suffix}", digits(&mut rng, pid_len));
        let date = if rng.below(3) == 0 {
            "-".to_owned()
        } else {
            format!("20{:02}{:02}{:02}", rng.below(30), 1 + rng.below(12), 1 + rng.below(28))
        };
        let kind = rng.pick(&["ADT-00", "OMP-01", "OML-11", "PPR-01", "ZZZ-99"]);
        let millis = digits(&mut rng, 3);
        let timestamp = format!(
            "20{:02}{:02}{:02}{:02}{:02}{:02}{millis}",
            rng.below(30),
            1 + rng.below(12),
            1 + rng.below(28),
            rng.below(24),
            rng.below(60),
            rng.below(60)
        );
        let dept = if rng.below(3) == 0 { "-".to_owned() } else { digits(&mut rng, 2) };
        let order = digits(&mut rng, 15);
        let name = format!("{pid}_{date}_{kind}_{order}_{timestamp}_{dept}_{}", rng.below(3));
        let parsed = FileName::parse(&name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(parsed.to_string(), name);
        assert_eq!(FileName::from_path(&parsed.relative_path()).unwrap(), parsed);

        // Random damage to the name and random paths: an answer, never a panic.
        let mut bytes = name.into_bytes();
        let at = rng.below(bytes.len());
        bytes[at] = rng.byte();
        let damaged = String::from_utf8_lossy(&bytes);
        let _ = FileName::parse(&damaged);
        let path: String =
            (0..rng.below(60)).map(|_| *rng.pick(&['/', '\\', '_', '-', '.', '^', '9', 'A', '患'])).collect();
        let _ = FileName::from_path(&path);
        let _ = ssmix2::parse_file(&path, SAMPLES[0]);
    }
}

#[test]
fn the_fixture_root_exists() {
    assert!(std::path::Path::new(ROOT).is_dir());
}
