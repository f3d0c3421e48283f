//! Property tests without a framework: a seeded xorshift generator feeds the parser random
//! bytes, mutated samples and random symbol cuts. It must never panic, and cutting or
//! reordering parts must never change the result.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use phr_formats::jahis::{self, Part, structured_append_parity};

const SAMPLES: &[&[u8]] = &[
    include_bytes!("fixtures/jahis/tc07_spec24_example01.csv"),
    include_bytes!("fixtures/jahis/tc07_spec24_example04.csv"),
    include_bytes!("fixtures/jahis/tc07_spec24_example07.csv"),
    include_bytes!("fixtures/jahis/tc07_spec24_example08.csv"),
    include_bytes!("fixtures/jahis/tc07_spec24_example09.csv"),
    include_bytes!("fixtures/jahis/tc07_spec24_example11.csv"),
    include_bytes!("fixtures/jahis/raw_sjis/tc07_spec24_example11.sjis.csv"),
    include_bytes!("fixtures/jahis/tc08_spec26_example08_411.txt"),
    include_bytes!("fixtures/jahis/tc08_spec26_example11.txt"),
];
const SPLIT: [&[u8]; 2] = [
    include_bytes!("fixtures/jahis/tc08_spec26_split_part1of2.txt"),
    include_bytes!("fixtures/jahis/tc08_spec26_split_part2of2.txt"),
];

/// Bytes that matter to the format: separators, digits, Shift_JIS lead bytes, EOF.
const INTERESTING: &[u8] = b",,,\r\n\n \x1A\x00\x81\x82\x97\xE0\xFF\xA0\x80019R5SH-";

/// `JAHIS_FUZZ_SCALE=50 cargo test -p phr-formats --release --test jahis_fuzz` runs longer.
fn scaled(iterations: usize) -> usize {
    let scale = std::env::var("JAHIS_FUZZ_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
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
                // Duplicate a span (repeats records, headers, 911 lines).
                let end = (at + rng.below(80)).min(out.len());
                let span = out[at..end].to_vec();
                let to = rng.below(out.len() + 1);
                out.splice(to..to, span);
            }
            _ => {
                let field = [b",".as_slice(), b"911,1,2,3\n", b"JAHISTC08,1\n", b"5,R99\n"];
                let piece = field[rng.below(field.len())];
                out.splice(at..at, piece.iter().copied());
            }
        }
    }
    out
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for i in 0..scaled(3000) {
        let len = rng.below(160);
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.byte()).collect();
        if i % 2 == 0 {
            bytes.splice(0..0, b"JAHISTC08,1\r\n".iter().copied());
        }
        let _ = jahis::parse(&bytes);
        let _ = jahis::decode(&bytes);
    }
}

#[test]
fn mutated_samples_never_panic() {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    for sample in SAMPLES.iter().chain(&SPLIT) {
        for _ in 0..scaled(400) {
            let mutated = mutate(&mut rng, sample);
            if let Ok(handbook) = jahis::parse(&mutated) {
                for dispensing in &handbook.dispensings {
                    let _ = dispensing.fingerprint();
                }
            }
        }
    }
}

#[test]
fn mutated_split_parts_and_symbols_never_panic() {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    for _ in 0..scaled(600) {
        let a = mutate(&mut rng, SPLIT[0]);
        let b = mutate(&mut rng, SPLIT[1]);
        let _ = jahis::parse_parts(&[Part::new(&b), Part::new(&a)]);
        let count = u8::try_from(rng.below(18)).unwrap();
        let cut = rng.below(a.len() + 1);
        let parity = (rng.below(2) == 0).then(|| rng.byte());
        let parts = [
            Part::symbol(&a[..cut], u8::try_from(rng.below(3)).unwrap(), count, parity),
            Part::symbol(&a[cut..], u8::try_from(rng.below(3)).unwrap(), count, parity),
            Part::new(&b),
        ];
        let _ = jahis::parse_parts(&parts);
    }
}

#[test]
fn any_structured_append_cut_and_order_gives_the_whole_payloads_result() {
    let mut rng = Rng(0xA076_1D64_78BD_642F);
    for sample in SAMPLES {
        let whole = jahis::parse(sample).unwrap();
        let parity = Some(structured_append_parity(sample));
        for _ in 0..40 {
            let count = 1 + rng.below(16);
            let mut cuts: Vec<usize> = (1..count).map(|_| rng.below(sample.len() + 1)).collect();
            cuts.sort_unstable();
            let mut bounds = vec![0];
            bounds.extend(cuts);
            bounds.push(sample.len());
            let count_u8 = u8::try_from(count).unwrap();
            let mut parts: Vec<Part<'_>> = bounds
                .windows(2)
                .enumerate()
                .map(|(i, w)| Part::symbol(&sample[w[0]..w[1]], u8::try_from(i).unwrap(), count_u8, parity))
                .collect();
            for i in (1..parts.len()).rev() {
                parts.swap(i, rng.below(i + 1));
            }
            assert_eq!(jahis::parse_parts(&parts).unwrap(), whole);
        }
    }
}

#[test]
fn split_parts_in_any_order_and_repetition_give_one_result() {
    let expected = jahis::parse_parts(&[Part::new(SPLIT[0]), Part::new(SPLIT[1])]).unwrap();
    let mut rng = Rng(0xE703_7ED1_A0B4_28DB);
    for _ in 0..50 {
        let mut parts: Vec<Part<'_>> = (0..2 + rng.below(4)).map(|i| Part::new(SPLIT[i % 2])).collect();
        for i in (1..parts.len()).rev() {
            parts.swap(i, rng.below(i + 1));
        }
        assert_eq!(jahis::parse_parts(&parts).unwrap(), expected);
    }
}
