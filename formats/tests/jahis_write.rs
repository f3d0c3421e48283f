//! The writer: whatever the parser read, written back as JAHISTC08 (text, Shift_JIS, split
//! parts in any order), reads back the same. Compared after normalising what describes the
//! payload rather than the data (version record, 出力区分, split, warnings).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::NaiveDate;
use encoding_rs::SHIFT_JIS;
use phr_formats::jahis::{
    self, DataSplit, Dispensing, Doctor, DosageForm, Drug, DrugCodeType, FamilyPharmacist, FormatVersion,
    Institution, JahisError, MedicationHandbook, Memo, Note, OtcDrug, OtcIngredient, OutputKind, Part,
    Patient, PatientEntry, PatientNote, PatientNoteKind, Pharmacist, ProviderNote, ProviderNoteKind,
    RecordCreator, Rp, ScoreTable, Sex, Usage, UsageCodeType, WarningKind, WriteError,
};

const SAMPLES: &[(&str, &[u8])] = &[
    ("tc07 example 01", include_bytes!("fixtures/jahis/tc07_spec24_example01.csv")),
    ("tc07 example 04", include_bytes!("fixtures/jahis/tc07_spec24_example04.csv")),
    ("tc07 example 07", include_bytes!("fixtures/jahis/tc07_spec24_example07.csv")),
    ("tc07 example 08", include_bytes!("fixtures/jahis/tc07_spec24_example08.csv")),
    ("tc07 example 09", include_bytes!("fixtures/jahis/tc07_spec24_example09.csv")),
    ("tc07 example 11", include_bytes!("fixtures/jahis/tc07_spec24_example11.csv")),
    ("tc07 example 11 sjis", include_bytes!("fixtures/jahis/raw_sjis/tc07_spec24_example11.sjis.csv")),
    ("tc08 example 08", include_bytes!("fixtures/jahis/tc08_spec26_example08_411.txt")),
    ("tc08 example 11", include_bytes!("fixtures/jahis/tc08_spec26_example11.txt")),
];
const SPLIT: [&[u8]; 2] = [
    include_bytes!("fixtures/jahis/tc08_spec26_split_part1of2.txt"),
    include_bytes!("fixtures/jahis/tc08_spec26_split_part2of2.txt"),
];
const TC08_EX11: &[u8] = include_bytes!("fixtures/jahis/tc08_spec26_example11.txt");

/// Every sample handbook, the split example merged from its two parts included.
fn samples() -> Vec<(&'static str, MedicationHandbook)> {
    let mut out: Vec<_> = SAMPLES.iter().map(|(name, bytes)| (*name, parse(bytes))).collect();
    out.push((
        "tc08 split example",
        jahis::parse_parts(&[Part::new(SPLIT[0]), Part::new(SPLIT[1])]).unwrap(),
    ));
    out
}

fn parse(bytes: &[u8]) -> MedicationHandbook {
    jahis::parse(bytes).unwrap_or_else(|e| panic!("{e}"))
}

/// What the writer cannot reproduce because it describes the payload, not the data.
fn normalized(mut h: MedicationHandbook) -> MedicationHandbook {
    h.version = FormatVersion { header: "JAHISTC08".into(), number: 8, newer_than_known: false };
    h.output_kind = Some(OutputKind::ToProvider);
    h.split = None;
    h.warnings.clear();
    h
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
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

    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

#[test]
fn every_sample_reads_back_the_same_from_the_written_text() {
    for (name, original) in samples() {
        let text = jahis::write(&original).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(text.starts_with("JAHISTC08,2\r\n"), "{name}");
        assert!(text.ends_with("\r\n"), "{name}");
        assert_eq!(text.matches('\n').count(), text.matches("\r\n").count(), "{name}: CRLF only");
        let again = parse(text.as_bytes());
        assert_eq!(again.version.header, "JAHISTC08", "{name}");
        assert_eq!(again.output_kind, Some(OutputKind::ToProvider), "{name}");
        assert!(again.warnings.is_empty(), "{name}: {:?}", again.warnings);
        assert_eq!(normalized(again.clone()), normalized(original), "{name}");
        // A fixed point: writing what was read back gives the same text.
        assert_eq!(jahis::write(&again).unwrap(), text, "{name}");
    }
}

#[test]
fn the_written_text_keeps_the_layout_of_version_08() {
    let h = parse(TC08_EX11);
    let text = jahis::write(&h).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "JAHISTC08,2");
    assert_eq!(
        lines[1],
        "1,鈴木 太郎,1,19580303,105-0004,東京都港区新橋○丁目,03-0000-0000,090-0000-0000,Ｂ＋,63.7,"
    );
    assert!(lines.contains(&"3,ﾊﾞﾌｧﾘﾝ,20200406,20200409,2,1,"));
    assert!(lines.contains(&"31,1,イブプロフェン,2,1149001,2"));
    assert!(lines.contains(&"201,1,ﾘﾝﾃﾞﾛﾝ-VG軟膏0.12%,5,g,2,662640418,1,,,"));
    assert!(lines.contains(&"301,2,【腰痛時】,10,回分,3,1,,1"));
    assert!(lines.contains(&"601,朝に薬を飲んだ後、めまいがあった,20200407"));
    assert_eq!(lines.last(), Some(&"701,薬剤師 次郎,工業会薬局 駅前店,,,,1"));
    // The newest-first order of the dispensings is kept.
    let groups: Vec<&str> = lines.iter().copied().filter(|l| l.starts_with("5,")).collect();
    assert_eq!(groups, ["5,20200410,1", "5,20200407,1"]);

    let eight = parse(include_bytes!("fixtures/jahis/tc08_spec26_example08_411.txt"));
    let text = jahis::write(&eight).unwrap();
    assert!(text.contains("\r\n411,嚥下困難が見られるため、錠剤は粉砕して投与する。,31,1\r\n"), "{text}");
}

#[test]
fn shift_jis_output_is_the_written_text_and_reads_back_the_same() {
    for (name, original) in samples() {
        let bytes = jahis::write_sjis(&original).unwrap();
        let text = jahis::write(&original).unwrap();
        let (decoded, malformed) = SHIFT_JIS.decode_without_bom_handling(&bytes);
        assert!(!malformed, "{name}");
        assert_eq!(decoded, text, "{name}");
        assert!(std::str::from_utf8(&bytes).is_err(), "{name}: should be Shift_JIS, not UTF-8");
        assert_eq!(normalized(parse(&bytes)), normalized(original), "{name}");
    }
}

#[test]
fn split_parts_read_back_the_same_in_any_order() {
    let mut rng = Rng(0x5EED_0001);
    for (name, original) in samples() {
        let whole = jahis::write_sjis(&original).unwrap();
        for max in [256, 300, 400, 512, 1024, 2953] {
            let parts = jahis::write_split(&original, max).unwrap_or_else(|e| panic!("{name}, {max}: {e}"));
            assert!(parts.iter().all(|p| p.len() <= max), "{name}, {max}");
            if whole.len() <= max {
                assert_eq!(parts, vec![whole.clone()], "{name}, {max}: fits in one part, no 911");
                continue;
            }
            assert!(parts.len() > 1, "{name}, {max}");
            let count = parts.len();
            let mut data_id = None;
            for (i, part) in parts.iter().enumerate() {
                let text = SHIFT_JIS.decode_without_bom_handling(part).0;
                assert!(text.starts_with("JAHISTC08,2\r\n"), "{name}, {max}");
                let last = text.trim_end().lines().last().unwrap();
                let fields: Vec<&str> = last.split(',').collect();
                assert_eq!(fields[0], "911");
                assert_eq!(fields[1].len(), 14);
                assert!(fields[1].bytes().all(|b| b.is_ascii_digit()));
                assert_eq!(fields[2..], [count.to_string(), (i + 1).to_string()]);
                assert_eq!(*data_id.get_or_insert(fields[1].to_owned()), fields[1]);
            }
            for _ in 0..4 {
                let mut order: Vec<&Vec<u8>> = parts.iter().collect();
                rng.shuffle(&mut order);
                let scanned: Vec<Part<'_>> = order.iter().map(|p| Part::new(p)).collect();
                let again = jahis::parse_parts(&scanned).unwrap_or_else(|e| panic!("{name}, {max}: {e}"));
                assert_eq!(
                    again.split,
                    Some(DataSplit {
                        data_id: data_id.clone().unwrap(),
                        part_count: u16::try_from(count).unwrap()
                    })
                );
                assert!(again.warnings.is_empty(), "{name}, {max}: {:?}", again.warnings);
                assert_eq!(normalized(again), normalized(original.clone()), "{name}, {max}");
            }
            // Any part left out is reported as missing.
            let left_out = rng.below(count);
            let scanned: Vec<Part<'_>> =
                parts.iter().enumerate().filter(|(i, _)| *i != left_out).map(|(_, p)| Part::new(p)).collect();
            match jahis::parse_parts(&scanned).unwrap_err() {
                JahisError::IncompleteSplit { missing, .. } => {
                    assert_eq!(missing, [u16::try_from(left_out + 1).unwrap()]);
                }
                other => panic!("{other:?}"),
            }
        }
    }
}

#[test]
fn splits_of_other_sizes_or_content_get_other_data_ids() {
    let h = parse(TC08_EX11);
    let id = |parts: &[Vec<u8>]| {
        let text = SHIFT_JIS.decode_without_bom_handling(&parts[0]).0.into_owned();
        text.trim_end().lines().last().unwrap().split(',').nth(1).unwrap().to_owned()
    };
    let a = jahis::write_split(&h, 400).unwrap();
    assert_eq!(jahis::write_split(&h, 400).unwrap(), a, "deterministic");
    let b = jahis::write_split(&h, 500).unwrap();
    let mut other = h.clone();
    other.memos[0].text = "健康診断（再）".into();
    let c = jahis::write_split(&other, 400).unwrap();
    assert_ne!(id(&a), id(&b));
    assert_ne!(id(&a), id(&c));
    // Parts of two splits of the same data are not mixed up.
    let err = jahis::parse_parts(&[Part::new(&a[0]), Part::new(&b[1])]).unwrap_err();
    assert_eq!(err.code(), "invalid_split");
}

/// A long history: `n` dispensings of one drug each.
fn history(n: u32) -> MedicationHandbook {
    let mut h = parse(TC08_EX11);
    let template = h.dispensings[1].clone();
    h.dispensings = (0..n)
        .map(|i| {
            let mut d = template.clone();
            d.date = date(2000, 1, 1) + chrono::Days::new(u64::from(i));
            d.rps.truncate(1);
            d.rps[0].drugs[0].amount = Some(i.to_string());
            d
        })
        .collect();
    h
}

#[test]
fn a_long_history_splits_into_hundreds_of_parts_numbered_with_three_digits() {
    let h = history(150);
    let parts = jahis::write_split(&h, 400).unwrap();
    assert!(parts.len() > 100, "{}", parts.len());
    assert!(parts.iter().all(|p| p.len() <= 400));
    let mut scanned: Vec<Part<'_>> = parts.iter().map(|p| Part::new(p)).collect();
    scanned.reverse();
    let again = jahis::parse_parts(&scanned).unwrap();
    assert_eq!(again.split.as_ref().map(|s| usize::from(s.part_count)), Some(parts.len()));
    assert_eq!(normalized(again), normalized(h));
}

#[test]
fn more_than_999_parts_are_refused() {
    let h = history(1200);
    let err = jahis::write_split(&h, 300).unwrap_err();
    assert_eq!(err.code(), "too_many_parts");
    assert!(matches!(err, WriteError::TooManyParts { max_part_bytes: 300, needed } if needed > 999));
}

#[test]
fn a_part_too_small_for_one_record_is_refused() {
    let h = parse(TC08_EX11);
    let err = jahis::write_split(&h, 120).unwrap_err();
    assert_eq!(err.code(), "part_too_small");
    let WriteError::PartTooSmall { max_part_bytes: 120, needed, .. } = err else { panic!("{err:?}") };
    // The size it names is enough for that record.
    assert!(needed > 120);
    let err = jahis::write_split(&h, 10).unwrap_err();
    assert_eq!(err.code(), "part_too_small");
}

#[test]
fn an_empty_handbook_is_the_version_record_alone() {
    let mut h = parse(TC08_EX11);
    h.patient = None;
    h.patient_notes.clear();
    h.otc_drugs.clear();
    h.memos.clear();
    h.dispensings.clear();
    h.family_pharmacists.clear();
    assert_eq!(jahis::write(&h).unwrap(), "JAHISTC08,2\r\n");
    assert_eq!(normalized(parse(&jahis::write_sjis(&h).unwrap())), normalized(h));
}

#[test]
fn free_text_with_commas_quotes_and_line_breaks_is_written_the_way_the_format_carries_it() {
    let mut h = parse(TC08_EX11);
    let mut expected = h.clone();

    let p = h.patient.as_mut().unwrap();
    p.name = " 鈴木, \"太郎\" ".into();
    p.address = Some("東京都港区\r\n新橋1-2-3,\n4F\r".into());
    p.phone = Some("  \r\n ".into());
    p.emergency_contact = Some("090\t0000\u{1A}0000".into());
    let e = expected.patient.as_mut().unwrap();
    e.name = "鈴木， \"太郎\"".into();
    e.address = Some("東京都港区 新橋1-2-3， 4F".into());
    e.phone = None;
    e.emergency_contact = Some("090 0000 0000".into());

    h.memos[0].text = "line one\rline two\u{2028}three".into();
    expected.memos[0].text = "line one line two three".into();

    // JIS-mapped wave dash, yen and overline, Greek (in JIS X 0208), and what Shift_JIS lacks.
    let remark = "〜 ¥100 ‾ α 😀 é".to_owned();
    h.dispensings[0].remarks.push(Note { text: remark, created_by: Some(RecordCreator::Patient) });
    expected.dispensings[0]
        .remarks
        .push(Note { text: "～ ￥100 ￣ α ■ ■".into(), created_by: Some(RecordCreator::Patient) });

    // Fields the parser width-folds come back folded; a full-width comma in them too.
    let drug = &mut h.dispensings[0].rps[0].drugs[0];
    drug.amount = Some("１，５".into());
    drug.code = Some("６６２６４０４１８".into());
    h.dispensings[0].pharmacy.as_mut().unwrap().prefecture = Some("１３".into());
    let drug = &mut expected.dispensings[0].rps[0].drugs[0];
    drug.amount = Some("1,5".into());
    drug.code = Some("662640418".into());

    h.dispensings[1].patient_entries[0].text = "朝,昼,晩".into();
    expected.dispensings[1].patient_entries[0].text = "朝，昼，晩".into();

    let text = jahis::write(&h).unwrap();
    assert!(
        text.contains("\r\n1,鈴木， \"太郎\",1,19580303,105-0004,東京都港区 新橋1-2-3， 4F,,090 0000 0000,")
    );
    assert!(text.contains("\r\n201,1,ﾘﾝﾃﾞﾛﾝ-VG軟膏0.12%,1，5,g,2,662640418,"));
    let again = parse(text.as_bytes());
    assert!(again.warnings.is_empty(), "{:?}", again.warnings);
    assert_eq!(normalized(again), normalized(expected.clone()));

    let bytes = jahis::write_sjis(&h).unwrap();
    assert_eq!(normalized(parse(&bytes)), normalized(expected.clone()));
    for max in [300, 700] {
        let parts = jahis::write_split(&h, max).unwrap();
        let scanned: Vec<Part<'_>> = parts.iter().rev().map(|p| Part::new(p)).collect();
        assert_eq!(normalized(jahis::parse_parts(&scanned).unwrap()), normalized(expected.clone()));
    }
}

/// A change that makes a handbook unwritable.
type Mutation = fn(&mut MedicationHandbook);

#[test]
fn a_required_text_left_empty_is_refused_naming_the_field() {
    let h = parse(TC08_EX11);
    let cases: Vec<(Mutation, &str)> = vec![
        (|h| h.memos[1].text = " \r\n".into(), "memos[1].text"),
        (|h| h.patient_notes[0].text = String::new(), "patientNotes[0].text"),
        (|h| h.otc_drugs[1].name = "\u{3000}".into(), "otcDrugs[1].name"),
        (|h| h.otc_drugs[1].ingredients[2].name = String::new(), "otcDrugs[1].ingredients[2].name"),
        (|h| h.dispensings[1].rps[2].drugs[0].name = String::new(), "dispensings[1].rps[2].drugs[0].name"),
        (
            |h| h.dispensings[1].rps[0].drugs[0].precautions[0].text = String::new(),
            "dispensings[1].rps[0].drugs[0].precautions[0].text",
        ),
        (
            |h| h.dispensings[1].rps[0].precautions[0].text = String::new(),
            "dispensings[1].rps[0].precautions[0].text",
        ),
        (|h| h.dispensings[1].precautions[0].text = "\n".into(), "dispensings[1].precautions[0].text"),
        (
            |h| h.dispensings[1].patient_entries[0].text = String::new(),
            "dispensings[1].patientEntries[0].text",
        ),
    ];
    for (mutate, field) in cases {
        let mut broken = h.clone();
        mutate(&mut broken);
        let err = jahis::write(&broken).unwrap_err();
        assert_eq!(err, WriteError::EmptyText { field: field.into() });
        assert_eq!(err.code(), "empty_text");
        assert_eq!(jahis::write_sjis(&broken).unwrap_err(), err);
        assert_eq!(jahis::write_split(&broken, 500).unwrap_err(), err);
    }
}

#[test]
fn values_the_format_cannot_carry_are_refused_naming_the_field() {
    let h = parse(TC08_EX11);
    let cases: Vec<(Mutation, &str, &str)> = vec![
        (|h| h.patient.as_mut().unwrap().weight_kg = Some(f64::NAN), "invalid_value", "patient.weightKg"),
        (|h| h.patient.as_mut().unwrap().weight_kg = Some(-1.0), "invalid_value", "patient.weightKg"),
        (|h| h.memos[0].date = Some(date(10_000, 1, 1)), "invalid_value", "memos[0].date"),
        (|h| h.dispensings[0].date = date(-1, 1, 1), "invalid_value", "dispensings[0].date"),
        (|h| h.dispensings[1].rps[2].number = 1, "unrepresentable", "dispensings[1].rps[2]"),
        (
            |h| {
                let rp = &mut h.dispensings[0].rps[1];
                rp.drugs.clear();
                rp.usage = None;
            },
            "unrepresentable",
            "dispensings[0].rps[1]",
        ),
        (
            |h| h.dispensings[0].prescribing_institution.as_mut().unwrap().phone = Some("03".into()),
            "unrepresentable",
            "dispensings[0].prescribingInstitution",
        ),
        (
            |h| h.dispensings[0].rps[0].doctor = Some(doctor("工業会 次郎")),
            "unrepresentable",
            "dispensings[0].rps[0].doctor",
        ),
        (
            |h| {
                let d = &mut h.dispensings[0];
                d.doctors.push(doctor("工業会 次郎"));
                d.rps[0].doctor = Some(doctor("工業会 次郎"));
            },
            "unrepresentable",
            "dispensings[0].rps[1].doctor",
        ),
    ];
    for (mutate, code, field) in cases {
        let mut broken = h.clone();
        mutate(&mut broken);
        let err = jahis::write(&broken).unwrap_err();
        assert_eq!(err.code(), code, "{field}: {err}");
        match &err {
            WriteError::InvalidValue { field: f, .. } | WriteError::Unrepresentable { field: f, .. } => {
                assert_eq!(f, field);
            }
            other => panic!("{other:?}"),
        }
        // Messages name the field, never a value.
        assert!(!err.to_string().contains("鈴木"), "{err}");
    }
}

fn doctor(name: &str) -> Doctor {
    Doctor {
        name: name.into(),
        department: Some("内科".into()),
        created_by: Some(RecordCreator::MedicalStaff),
    }
}

#[test]
fn each_doctor_is_written_before_the_first_rp_it_applies_to() {
    let payload = "JAHISTC08,1\r\n5,20240105,1\r\n\
        201,1,薬A,1,錠,1,,1\r\n\
        55,医師 甲,内科,1\r\n55,医師 乙,外科,1\r\n\
        201,2,薬B,1,錠,1,,1\r\n201,3,薬C,1,錠,1,,1\r\n\
        55,医師 甲,内科,1\r\n301,4,【頓用】,5,回分,3,1,,1\r\n\
        55,医師 丙,,1\r\n";
    let h = parse(payload.as_bytes());
    let d = &h.dispensings[0];
    assert_eq!(d.doctors.len(), 4);
    let names: Vec<_> = d.rps.iter().map(|rp| rp.doctor.as_ref().map(|d| d.name.as_str())).collect();
    assert_eq!(names, [None, Some("医師 乙"), Some("医師 乙"), Some("医師 甲")]);
    let text = jahis::write(&h).unwrap();
    assert!(text.contains("201,1,薬A,1,錠,1,,1,,,\r\n55,医師 甲,内科,1\r\n55,医師 乙,外科,1\r\n201,2,"));
    assert!(text.ends_with("301,4,【頓用】,5,回分,3,1,,1\r\n55,医師 丙,,1\r\n"), "{text}");
    assert_eq!(normalized(parse(text.as_bytes())), normalized(h));
}

#[test]
fn otc_ingredients_stay_with_their_drug_with_or_without_a_sequence_number() {
    let mut h = parse(TC08_EX11);
    // Two drugs with one sequence number, and one without any.
    h.otc_drugs[1].sequence = Some(1);
    h.otc_drugs.push(OtcDrug {
        name: "目薬".into(),
        start_date: None,
        end_date: None,
        created_by: Some(RecordCreator::Patient),
        sequence: None,
        jan_code: Some("4987000000000".into()),
        ingredients: vec![OtcIngredient {
            name: "ネオスチグミン".into(),
            code_type: None,
            code: None,
            created_by: None,
        }],
    });
    let again = parse(&jahis::write_sjis(&h).unwrap());
    // Without a number the ingredient is attached to the drug before it, with a warning.
    assert_eq!(again.warnings.iter().map(|w| w.kind).collect::<Vec<_>>(), [WarningKind::DanglingReference]);
    assert_eq!(normalized(again), normalized(h));
}

/// Values as the parser gives them: trimmed, no commas or line breaks, Shift_JIS characters.
const TEXTS: &[&str] = &[
    "鈴木 太郎",
    "ｺﾘｵﾊﾟﾝｶﾌﾟｾﾙ5mg",
    "【分３ 毎食後服用】",
    "狭心症（2011年～）",
    "\"quoted\" text",
    "a，b",
    "x",
    "Ｂ＋",
    "ｱ",
    "１日３～４回",
];

fn text(rng: &mut Rng) -> String {
    rng.pick(TEXTS).to_owned()
}

fn maybe(rng: &mut Rng) -> Option<String> {
    (!rng.chance(3)).then(|| text(rng))
}

fn maybe_date(rng: &mut Rng) -> Option<NaiveDate> {
    (!rng.chance(3)).then(|| any_date(rng))
}

fn any_date(rng: &mut Rng) -> NaiveDate {
    date(1900 + i32::try_from(rng.below(200)).unwrap(), 1 + u32::try_from(rng.below(12)).unwrap(), 28)
}

fn maybe_creator(rng: &mut Rng) -> Option<RecordCreator> {
    rng.pick(&[
        None,
        Some(RecordCreator::MedicalStaff),
        Some(RecordCreator::Patient),
        Some(RecordCreator::Unknown),
    ])
}

fn notes(rng: &mut Rng) -> Vec<Note> {
    (0..rng.below(3)).map(|_| Note { text: text(rng), created_by: maybe_creator(rng) }).collect()
}

fn digits(rng: &mut Rng, n: usize) -> String {
    (0..n).map(|_| char::from(b'0' + u8::try_from(rng.below(10)).unwrap())).collect()
}

fn institution(rng: &mut Rng, with_address: bool) -> Institution {
    Institution {
        name: text(rng),
        prefecture: (!rng.chance(3)).then(|| digits(rng, 2)),
        score_table: rng.pick(&[None, Some(ScoreTable::Medical), Some(ScoreTable::Pharmacy)]),
        code: (!rng.chance(3)).then(|| digits(rng, 7)),
        postcode: with_address.then(|| maybe(rng)).flatten(),
        address: with_address.then(|| maybe(rng)).flatten(),
        phone: with_address.then(|| maybe(rng)).flatten(),
        created_by: maybe_creator(rng),
    }
}

fn usage(rng: &mut Rng) -> Usage {
    let quantity = (!rng.chance(4)).then(|| u32::try_from(rng.below(100)).unwrap());
    let quantity_unit = rng.pick(&[None, Some("日分"), Some("回分"), Some("調剤")]).map(str::to_owned);
    let dosage_form =
        rng.pick(&[None, Some(DosageForm::Internal), Some(DosageForm::AsNeeded), Some(DosageForm::Other)]);
    // Derived as the parser derives it.
    let counts_days = match quantity_unit.as_deref() {
        Some(unit) => unit.contains('日'),
        None => dosage_form == Some(DosageForm::Internal),
    };
    Usage {
        text: maybe(rng),
        quantity,
        quantity_unit,
        dosage_form,
        code_type: rng.pick(&[None, Some(UsageCodeType::NoCode), Some(UsageCodeType::Jami)]),
        code: (!rng.chance(2)).then(|| digits(rng, 16)),
        created_by: maybe_creator(rng),
        days_supply: quantity.filter(|_| counts_days),
    }
}

fn dispensing(rng: &mut Rng) -> Dispensing {
    let doctors: Vec<Doctor> = (0..rng.below(4))
        .map(|_| Doctor { name: text(rng), department: maybe(rng), created_by: maybe_creator(rng) })
        .collect();
    // RPs take the doctors in order, as records 55 between them would give.
    let mut in_force: Option<usize> = None;
    let mut numbers: Vec<u32> = (1..=12).collect();
    rng.shuffle(&mut numbers);
    let rps = (0..rng.below(5))
        .map(|i| {
            if !doctors.is_empty() && rng.chance(2) {
                let next = in_force.map_or(0, |d| d + rng.below(2));
                in_force = Some(next.min(doctors.len() - 1));
            }
            let drugs: Vec<Drug> = (0..rng.below(3))
                .map(|_| Drug {
                    name: text(rng),
                    amount: rng.pick(&[None, Some("1"), Some("1.5"), Some("1,000")]).map(str::to_owned),
                    unit: maybe(rng),
                    code_type: rng.pick(&[None, Some(DrugCodeType::Receipt), Some(DrugCodeType::Yj)]),
                    code: (!rng.chance(3)).then(|| digits(rng, 9)),
                    created_by: maybe_creator(rng),
                    generic_name: maybe(rng),
                    generic_code_type: None,
                    generic_code: maybe(rng),
                    supplements: notes(rng),
                    precautions: notes(rng),
                })
                .collect();
            let usage = (drugs.is_empty() || !rng.chance(4)).then(|| usage(rng));
            Rp {
                number: numbers[i],
                doctor: in_force.map(|d| doctors[d].clone()),
                drugs,
                usage,
                usage_notes: notes(rng),
                precautions: notes(rng),
            }
        })
        .collect();
    Dispensing {
        date: any_date(rng),
        created_by: maybe_creator(rng),
        pharmacy: (!rng.chance(4)).then(|| institution(rng, true)),
        pharmacist: (!rng.chance(3)).then(|| Pharmacist {
            name: text(rng),
            contact: maybe(rng),
            created_by: maybe_creator(rng),
        }),
        prescribing_institution: (!rng.chance(3)).then(|| institution(rng, false)),
        doctors,
        rps,
        precautions: notes(rng),
        provider_notes: (0..rng.below(2))
            .map(|_| ProviderNote {
                text: text(rng),
                kind: rng.pick(&[
                    None,
                    Some(ProviderNoteKind::AfterDischarge),
                    Some(ProviderNoteKind::Other),
                ]),
                created_by: maybe_creator(rng),
            })
            .collect(),
        leftover_checks: notes(rng),
        remarks: notes(rng),
        patient_entries: (0..rng.below(2))
            .map(|_| PatientEntry { text: text(rng), date: maybe_date(rng) })
            .collect(),
    }
}

fn handbook(rng: &mut Rng) -> MedicationHandbook {
    let mut sequence = 0;
    MedicationHandbook {
        version: FormatVersion { header: "JAHISTC08".into(), number: 8, newer_than_known: false },
        output_kind: Some(OutputKind::ToProvider),
        split: None,
        patient: (!rng.chance(4)).then(|| Patient {
            name: text(rng),
            kana_name: maybe(rng),
            sex: rng.pick(&[None, Some(Sex::Male), Some(Sex::Female)]),
            birth_date: maybe_date(rng),
            postcode: maybe(rng),
            address: maybe(rng),
            phone: maybe(rng),
            emergency_contact: maybe(rng),
            blood_type: maybe(rng),
            weight_kg: rng.pick(&[None, Some(63.7), Some(0.0), Some(120.25), Some(1e-7)]),
        }),
        patient_notes: (0..rng.below(3))
            .map(|_| PatientNote {
                // An absent kind reads back absent too, but with a warning.
                kind: rng.pick(&[Some(PatientNoteKind::Allergy), Some(PatientNoteKind::Other)]),
                text: text(rng),
                created_by: maybe_creator(rng),
            })
            .collect(),
        otc_drugs: (0..rng.below(3))
            .map(|_| {
                sequence += 1;
                OtcDrug {
                    name: text(rng),
                    start_date: maybe_date(rng),
                    end_date: maybe_date(rng),
                    created_by: maybe_creator(rng),
                    sequence: Some(sequence),
                    jan_code: (!rng.chance(2)).then(|| digits(rng, 13)),
                    ingredients: (0..rng.below(3))
                        .map(|_| OtcIngredient {
                            name: text(rng),
                            code_type: None,
                            code: maybe(rng),
                            created_by: maybe_creator(rng),
                        })
                        .collect(),
                }
            })
            .collect(),
        memos: (0..rng.below(3))
            .map(|_| Memo { text: text(rng), date: maybe_date(rng), created_by: maybe_creator(rng) })
            .collect(),
        dispensings: (0..rng.below(4)).map(|_| dispensing(rng)).collect(),
        family_pharmacists: (0..rng.below(2))
            .map(|_| FamilyPharmacist {
                name: text(rng),
                pharmacy: maybe(rng),
                contact: maybe(rng),
                start_date: maybe_date(rng),
                end_date: maybe_date(rng),
                created_by: maybe_creator(rng),
            })
            .collect(),
        warnings: Vec::new(),
    }
}

#[test]
fn random_handbooks_read_back_the_same_through_every_writer() {
    let mut rng = Rng(0x0BAD_5EED_2024);
    for round in 0..300 {
        let h = handbook(&mut rng);
        let text = jahis::write(&h).unwrap_or_else(|e| panic!("round {round}: {e}"));
        let again = parse(text.as_bytes());
        assert!(again.warnings.is_empty(), "round {round}: {:?}", again.warnings);
        assert_eq!(normalized(again), h, "round {round}\n{text}");
        assert_eq!(normalized(parse(&jahis::write_sjis(&h).unwrap())), h, "round {round}");
        let max = 200 + rng.below(800);
        let mut parts = jahis::write_split(&h, max).unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert!(parts.iter().all(|p| p.len() <= max));
        rng.shuffle(&mut parts);
        let scanned: Vec<Part<'_>> = parts.iter().map(|p| Part::new(p)).collect();
        assert_eq!(normalized(jahis::parse_parts(&scanned).unwrap()), h, "round {round}, {max}");
    }
}
