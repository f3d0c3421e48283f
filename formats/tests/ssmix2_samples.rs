//! Every file of the NHO sample storage in `fixtures/ssmix2/storage/` parses to the values its
//! bytes hold (checked against a decode of the raw ISO-2022-JP by hand).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use phr_formats::hl7::{self, Timestamp};
use phr_formats::ssmix2::{
    self, AllergyAction, AllergySegment, Coded, ConditionFlag, Measurement, Observation, ObservationStatus,
    ObservationValue, ProblemAction, Sex, SourceEncoding, StorageFile, WarningKind,
};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ssmix2/storage");

const ADT_00: &str = "999/901/9999013/-/ADT-00/9999013_-_ADT-00_999999999999999_20111220224447339_-_1";
const ADT_61: &str = "999/901/9999013/-/ADT-61/9999013_-_ADT-61_999999999999999_20111014232213000_-_1";
const PPR_01: &str = "999/901/9999013/-/PPR-01/9999013_-_PPR-01_999999999999999_20111209163030000_01_1";
const OMP_01: &str =
    "999/901/9999013/20110701/OMP-01/9999013_20110701_OMP-01_000000011000185_20110701224603984_01_1";
const ADT_22: &str =
    "999/901/9999013/20111120/ADT-22/9999013_20111120_ADT-22_999999999999999_20111220224447339_01_1";
const OMG_13: &str =
    "999/901/9999013/20111220/OMG-13/9999013_20111220_OMG-13_999999999999999_20111220224447339_01_1";
const OML_01: &str =
    "999/901/9999013/20111220/OML-01/9999013_20111220_OML-01_000000011000354_20111220103059123_15_1";
const OML_11: &str =
    "999/901/9999013/20111220/OML-11/9999013_20111220_OML-11_000000011000354_20111220103059000_01_1";

const ALL: [&str; 8] = [ADT_00, ADT_61, PPR_01, OMP_01, ADT_22, OMG_13, OML_01, OML_11];

fn bytes(path: &str) -> Vec<u8> {
    std::fs::read(Path::new(ROOT).join(path)).unwrap()
}

fn load(path: &str) -> StorageFile {
    ssmix2::parse_file(path, &bytes(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn ts(iso: &str) -> Option<Timestamp> {
    Some(iso.parse().unwrap())
}

fn coded(code: &str, text: &str, system: &str) -> Coded {
    Coded {
        code: Some(code.into()),
        text: Some(text.into()),
        system: Some(system.into()),
        ..Coded::default()
    }
}

fn number(o: &Observation) -> (f64, &str) {
    match o.value() {
        Some(ObservationValue::Number { value, text, comparator: None }) => (*value, text.as_str()),
        other => panic!("{other:?}"),
    }
}

fn warning_kinds(file: &StorageFile) -> Vec<WarningKind> {
    file.message.warnings.iter().map(|w| w.kind).collect()
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn every_file_in_the_sample_storage_parses() {
    let mut files = Vec::new();
    walk(Path::new(ROOT), &mut files);
    let mut relative: Vec<String> =
        files.iter().map(|f| f.strip_prefix(ROOT).unwrap().to_str().unwrap().replace('\\', "/")).collect();
    relative.sort();
    let mut expected: Vec<String> = ALL.iter().map(|s| (*s).to_owned()).collect();
    expected.sort();
    assert_eq!(relative, expected);
    for path in &relative {
        let file = load(path);
        assert_eq!(file.message.encoding, SourceEncoding::Iso2022Jp, "{path}");
        assert_eq!(file.message.header.version.as_deref(), Some("2.5"), "{path}");
        assert_eq!(file.message.header.character_sets, ["ISO IR87"], "{path}");
        assert_eq!(file.message.header.profile.as_deref(), Some("SS-MIX2_1.20"), "{path}");
        assert_eq!(file.message.header.sending_facility.as_deref(), Some("SEND"), "{path}");
        assert_eq!(file.file.patient_id, "9999013", "{path}");
        assert_eq!(file.file.condition, ConditionFlag::Active, "{path}");
        assert_eq!(file.file.relative_path(), *path);
        let patient = file.message.patient.as_ref().unwrap();
        assert_eq!(
            patient.name.as_ref().unwrap().full,
            if path == ADT_61 { "山田 太郎" } else { "患者 太郎" },
            "{path}"
        );
        assert_eq!(patient.sex, Some(Sex::Male), "{path}");
        // No sample has a message type its data kind is not sent as.
        assert!(!warning_kinds(&file).contains(&WarningKind::MessageTypeMismatch), "{path}");
    }
}

#[test]
fn pid_3_differs_from_the_storage_patient_in_four_samples() {
    for path in ALL {
        let file = load(path);
        let mismatch = [ADT_61, PPR_01, OMG_13, OML_11].contains(&path);
        assert_eq!(file.patient_id_matches(), !mismatch, "{path}");
        assert_eq!(warning_kinds(&file).contains(&WarningKind::PatientIdMismatch), mismatch, "{path}");
    }
    assert_eq!(load(ADT_61).message.patient.unwrap().id.as_deref(), Some("12345678"));
    assert_eq!(load(PPR_01).message.patient.unwrap().id.as_deref(), Some("1234567890"));
    assert_eq!(load(OMG_13).message.patient.unwrap().id.as_deref(), Some("12345678"));
    assert_eq!(load(OML_11).message.patient.unwrap().id.as_deref(), Some("0001000052"));
}

#[test]
fn adt_00_demographics_measurements_and_allergy() {
    let file = load(ADT_00);
    assert_eq!(file.file.date, None);
    assert_eq!(file.file.department, None);
    assert_eq!(file.file.order(), None);
    let m = &file.message;
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
    assert_eq!(m.header.message_type.short(), "ADT^A08");
    assert_eq!(m.header.message_type.structure.as_deref(), Some("ADT_A01"));
    assert_eq!(m.header.created_at.unwrap().to_string(), "2011-12-20T22:44:47.3399");
    assert_eq!(m.header.control_id.as_deref(), Some("20111220000001"));
    assert_eq!(m.event.as_ref().unwrap().recorded_at, ts("2011-12-20T21:00"));

    let p = m.patient.as_ref().unwrap();
    assert_eq!(p.id.as_deref(), Some("9999013"));
    let name = p.name.as_ref().unwrap();
    assert_eq!((name.family.as_deref(), name.given.as_deref()), (Some("患者"), Some("太郎")));
    assert_eq!(p.kana_name.as_ref().unwrap().full, "カンジャ タロウ");
    assert_eq!(p.birth_date, Some(date(1948, 4, 5)));
    assert_eq!(p.sex, Some(Sex::Male));
    assert_eq!(p.postal_code.as_deref(), Some("422-8033"));
    // JIS 0x215D is U+FF0D, as encoding_rs and CP932 read it.
    assert_eq!(p.address.as_deref(), Some("静岡県静岡市登呂１－３－５"));
    assert_eq!(p.updated_at, ts("2011-12-19T12:15:51"));

    let v = m.visit.as_ref().unwrap();
    assert_eq!(
        (v.patient_class.as_deref(), v.ward.as_deref(), v.room.as_deref(), v.bed.as_deref()),
        (Some("I"), Some("32"), Some("302"), Some("1"))
    );
    let doctor = v.attending_doctor.as_ref().unwrap();
    assert_eq!(
        (doctor.id.as_deref(), doctor.name.as_ref().map(|n| n.full.as_str())),
        (Some("220"), Some("医師 一郎"))
    );

    assert!(m.reports.is_empty());
    let [height, weight, abo] = m.observations.as_slice() else { panic!("{:?}", m.observations) };
    assert_eq!(height.code, coded("9N001000000000001", "身長", "JC10"));
    assert_eq!(height.measurement, Some(Measurement::BodyHeight));
    assert_eq!(number(height), (167.8, "167.8"));
    assert_eq!((height.unit.as_deref(), height.unit_system.as_deref()), (Some("cm"), Some("ISO+")));
    assert_eq!(height.status, Some(ObservationStatus::Final));
    assert_eq!(weight.jlac10.as_ref().unwrap().analyte(), "9N006");
    assert_eq!(weight.measurement, Some(Measurement::BodyWeight));
    assert_eq!(number(weight), (63.5, "63.5"));
    assert_eq!(weight.unit.as_deref(), Some("kg"));
    assert_eq!(abo.code, coded("5H010000009199911", "血液型-ABO式", "JC10"));
    assert_eq!(abo.measurement, Some(Measurement::AboBloodType));
    assert_eq!(abo.value(), Some(&ObservationValue::Coded(coded("A", "A", "JSHR002"))));

    let [allergy] = m.allergies.as_slice() else { panic!("{:?}", m.allergies) };
    assert_eq!(allergy.segment, AllergySegment::Al1);
    // 薬剤 is `Lt :^` in JIS: the '^' byte stays inside the character.
    assert_eq!(allergy.allergen_type, Some(coded("DA", "薬剤アレルギー", "HL70127")));
    assert_eq!(allergy.allergen, coded("1", "ペニシリン", "99XYZ"));
    assert_eq!(allergy.action, None);
}

#[test]
fn kanji_whose_bytes_are_delimiters_survive_in_every_sample_segment() {
    // NK1 and IN1 are not extracted; read them with the generic HL7 layer after decoding.
    let decoded = ssmix2::decode(&bytes(ADT_00)).unwrap();
    let message = hl7::parse(&decoded.text).unwrap();
    let nk1 = message.segment("NK1").unwrap();
    // 本人: `K\ ?M`; 東京: `El 5~`; 鹿ノ門: `Ec %N Lg`.
    assert_eq!(nk1.field(3).component(2).text(), "本人");
    assert_eq!(nk1.field(4).repetition(2).component(8).text(), "東京都港区鹿ノ門６丁目３番３号");
    assert_eq!(nk1.field(4).repetitions().count(), 2);
    assert_eq!(nk1.field(13).component(1).text(), "鹿ノ門商事株式会社");
    let in1 = message.segment("IN1").unwrap();
    assert_eq!(in1.field(17).component(2).text(), "本人");
    // 回復 is `2s I|`.
    let ppr = load(PPR_01);
    assert_eq!(ppr.message.diagnoses[0].life_cycle_status, Some(coded("N", "回復せず", "HL70241")));
}

#[test]
fn adt_61_allergies() {
    let file = load(ADT_61);
    let m = &file.message;
    assert_eq!(m.header.message_type.short(), "ADT^A60");
    assert_eq!(m.event.as_ref().unwrap().recorded_at, ts("2011-10-13T23:22:13"));
    let p = m.patient.as_ref().unwrap();
    assert_eq!(p.kana_name.as_ref().unwrap().full, "ヤマダ タロウ");
    assert_eq!(p.birth_date, Some(date(1965, 4, 15)));

    let got: Vec<_> = m
        .allergies
        .iter()
        .map(|a| {
            assert_eq!(a.segment, AllergySegment::Iam);
            assert_eq!(a.action, Some(AllergyAction::Add));
            (
                a.set_id.as_deref().unwrap(),
                a.allergen_type.as_ref().unwrap().code.as_deref().unwrap(),
                a.allergen.clone(),
                a.severity.as_ref().unwrap().code.as_deref().unwrap(),
                a.reactions.join(","),
                a.onset.map(|t| t.to_string()),
                a.onset_text.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "1",
                "LA",
                coded("5A1002216023023", "スギ", "JC10"),
                "MI",
                "目のかゆみ".into(),
                Some("1996-01".into()),
                None
            ),
            (
                "2",
                "FA",
                coded("5A1002411023006", "ソバ", "JC10"),
                "MO",
                "湿疹".into(),
                None,
                Some("小学校低学年の頃")
            ),
            (
                "3",
                "EA",
                coded("5A1102700023023", "ハウスダスト", "JC10"),
                "MI",
                "くしゃみ".into(),
                Some("2003-02".into()),
                None
            ),
            (
                "4",
                "DA",
                coded("106824501", "アリナミン", "HOT9"),
                "MO",
                "のどの渇きが止まらない".into(),
                Some("2007-07-10".into()),
                None
            ),
        ]
    );
    assert_eq!(m.allergies[0].allergen_type.as_ref().unwrap().text.as_deref(), Some("花粉アレルギー"));
    assert_eq!(m.allergies[1].severity.as_ref().unwrap().text.as_deref(), Some("中等度"));
}

#[test]
fn ppr_01_diagnosis() {
    let file = load(PPR_01);
    assert_eq!(file.file.department.as_deref(), Some("01"));
    let m = &file.message;
    assert_eq!(m.header.message_type.short(), "PPR^ZD1");
    assert_eq!(m.patient.as_ref().unwrap().birth_date, Some(date(1965, 4, 15)));
    let [d] = m.diagnoses.as_slice() else { panic!("{:?}", m.diagnoses) };
    assert_eq!(d.action, Some(ProblemAction::Add));
    assert_eq!(d.action_at, ts("2011-09-15"));
    assert_eq!(d.disease, coded("20054174", "胃炎", "MDCDX2"));
    assert_eq!(d.medis_code.as_deref(), Some("20054174"));
    assert_eq!(d.instance_id.as_deref(), Some("123456789012345"));
    assert_eq!(d.established_at, ts("2011-08-31"));
    assert_eq!(d.resolved_at, ts("2011-09-15"));
    assert_eq!(d.icd10.as_deref(), Some("K297"));
    let c = d.classification.as_ref().unwrap();
    assert_eq!((c.alternate_code.as_deref(), c.alternate_text.as_deref()), (Some("O"), Some("外来時")));
    assert_eq!(d.life_cycle_status_at, ts("2011-09-15"));
    assert_eq!(d.onset, ts("2011-08-31"));
    assert_eq!(d.onset_text.as_deref(), Some("胃炎"));
    assert_eq!(d.ranking, Some(coded("1", "主診断", "JHSD0007")));
    assert_eq!(d.certainty, None);
}

#[test]
fn omp_01_prescriptions() {
    let file = load(OMP_01);
    assert_eq!(file.file.order(), Some("000000011000185"));
    let m = &file.message;
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
    assert_eq!(m.header.message_type.short(), "RDE^O11");
    assert_eq!(m.header.created_at.unwrap().to_string(), "2011-07-01T22:46:03.984");
    let drugs: Vec<_> = m
        .prescriptions
        .iter()
        .map(|p| {
            (
                p.drug.clone(),
                p.dose,
                p.dose_unit.as_ref().and_then(|u| u.code.clone()),
                p.daily_dose,
                p.dispense_amount,
                p.usage.as_ref().and_then(|u| u.code.clone()),
                p.days,
                p.order.as_ref().and_then(|o| o.placer_group_number.clone()),
            )
        })
        .collect();
    let s = |s: &str| Some(s.to_owned());
    assert_eq!(
        drugs,
        [
            (
                coded("108665201", "ダーゼン錠（５mg)", "HOT9"),
                Some(1.0),
                s("TAB"),
                Some(3.0),
                Some(15.0),
                s("1013044400000000"),
                Some(5),
                s("1")
            ),
            (
                coded("110626901", "パンスポリンＴ錠（１００mg)", "HOT9"),
                Some(2.0),
                s("TAB"),
                Some(6.0),
                Some(30.0),
                s("1013044400000000"),
                Some(5),
                s("1")
            ),
            (
                coded("100607002", "アレピアチン１０倍散", "HOT9"),
                Some(50.0),
                s("MG"),
                Some(100.0),
                Some(1400.0),
                s("1012040400000000"),
                Some(14),
                s("2")
            ),
        ]
    );
    let first = &m.prescriptions[0];
    assert_eq!(first.dose_unit, Some(coded("TAB", "錠", "MR9P")));
    assert_eq!(first.daily_dose_unit, Some(coded("TAB", "錠", "MR9P")));
    assert_eq!(first.dispense_unit, Some(coded("TAB", "錠", "MR9P")));
    assert_eq!(first.usage.as_ref().unwrap().text.as_deref(), Some("内服・経口・１日３回朝昼夕食後"));
    assert_eq!(first.usage.as_ref().unwrap().system.as_deref(), Some("JAMISDP01"));
    assert_eq!(first.route, Some(coded("PO", "口", "HL70162")));
    assert_eq!(first.start.unwrap().to_string(), "2011-07-01T00");
    assert_eq!(first.prescription_number.as_deref(), Some("2011070112345"));
    assert_eq!(
        first.dispensing_instructions,
        [coded("OHP", "外来処方", "MR9P"), coded("OHI", "院内処方", "MR9P")]
    );
    assert_eq!(m.prescriptions[1].prescription_number, None);
    assert_eq!(m.prescriptions[2].dosage_form, Some(coded("PWD", "散剤", "MR9P")));
    let order = first.order.as_ref().unwrap();
    assert_eq!(order.control.as_deref(), Some("NW"));
    assert_eq!(order.placer_order_number.as_deref(), Some("000000011000185"));
    assert_eq!(order.transaction_at, ts("2011-07-01T10:30:45"));
    assert_eq!(order.ordering_provider.as_ref().unwrap().name.as_ref().unwrap().full, "医師 一郎");
    assert_eq!(order.department, Some(coded("01", "内科", "99XY1")));
    assert_eq!(order.facility_name.as_deref(), Some("登呂病院"));
    assert_eq!(order.order_type, Some(coded("O", "外来患者オーダ", "HL70482")));
}

#[test]
fn adt_22_admission() {
    let file = load(ADT_22);
    assert_eq!(file.file.date, Some(date(2011, 11, 20)));
    let m = &file.message;
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
    assert_eq!(m.header.message_type.short(), "ADT^A01");
    let v = m.visit.as_ref().unwrap();
    assert_eq!(v.admitted_at, ts("2011-11-20T16:00"));
    assert_eq!(v.attending_doctor.as_ref().unwrap().id.as_deref(), Some("ishi01"));
    assert_eq!(v.attending_doctor.as_ref().unwrap().name.as_ref().unwrap().full, "医師一郎");
    assert!(m.observations.is_empty() && m.allergies.is_empty() && m.reports.is_empty());
}

#[test]
fn omg_13_ecg_results() {
    let file = load(OMG_13);
    let m = &file.message;
    assert_eq!(m.header.message_type.short(), "ORU^R01");
    let p = m.patient.as_ref().unwrap();
    // The sample writes the birth date in PID-9 instead of PID-7.
    assert_eq!(p.birth_date, None);
    assert_eq!(p.sex, Some(Sex::Male));
    let [report] = m.reports.as_slice() else { panic!("{:?}", m.reports) };
    assert_eq!(report.service, Some(coded("9A110", "標準１２誘導心電図", "JC10")));
    assert_eq!(report.placer_order_number.as_deref(), Some("2011122000089100"));
    assert_eq!(report.observed_at, ts("2011-12-20"));
    assert_eq!(report.reported_at, ts("2011-12-20T15:20:00"));
    assert_eq!(report.status.as_deref(), Some("F"));
    assert_eq!(report.collected_at(), ts("2011-12-20"));
    assert_eq!(report.results.len(), 12);
    let finding = &report.results[0];
    assert_eq!(finding.value_type.as_deref(), Some("TX"));
    // `9A100&IMP`: a subcomponent in a code, kept literally, and not a JLAC10 code.
    assert_eq!(finding.code.code.as_deref(), Some("9A100&IMP"));
    assert_eq!(finding.jlac10, None);
    assert_eq!(finding.value(), Some(&ObservationValue::Text { text: "心筋虚血疑い".into() }));
    let got: Vec<_> = report.results[1..]
        .iter()
        .map(|o| {
            (o.code.code.clone().unwrap(), o.code.text.clone().unwrap(), number(o).0, o.unit.clone().unwrap())
        })
        .collect();
    let row = |c: &str, t: &str, v: f64, u: &str| (c.to_owned(), t.to_owned(), v, u.to_owned());
    assert_eq!(
        got,
        [
            row("32769", "心拍数", 67.0, "bpm"),
            row("32770", "PQ 時間", 154.0, "msec"),
            row("58240", "QRS 幅", 94.0, "msec"),
            row("56008", "QT 時間", 410.0, "msec"),
            row("59136", "QTc 時間&Bazzet", 433.0, "msec"),
            row("57472", "P 幅", 102.0, "msec"),
            row("32772", "P 波軸", 7.0, "degree"),
            row("32774", "QRS 軸", 25.0, "degree"),
            row("32776", "T 波軸", -14.0, "degree"),
            row("58368&7", "R 振幅&V5", 2.505, "mV"),
            row("58496&3", "S 振幅&V1", 1.25, "mV"),
        ]
    );
    assert!(report.results.iter().all(|o| o.status == Some(ObservationStatus::Final)));
    assert_eq!(report.results[1].sub_id.as_deref(), Some("2"));
    assert_eq!(warning_kinds(&file), [WarningKind::InvalidValue, WarningKind::PatientIdMismatch]);
    assert_eq!(m.warnings[0].location.to_string(), "line 5 (OBX-3)");
}

#[test]
fn oml_01_lab_order_has_requested_tests_without_values() {
    let file = load(OML_01);
    assert_eq!(file.file.department.as_deref(), Some("15"));
    let m = &file.message;
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
    assert_eq!(m.header.message_type.short(), "OML^O33");
    assert_eq!(m.patient.as_ref().unwrap().birth_date, Some(date(1970, 4, 5)));
    let [chemistry, hematology] = m.reports.as_slice() else { panic!("{:?}", m.reports) };
    assert_eq!(chemistry.service, Some(coded("E002", "生化学的検査", "99O03")));
    assert_eq!(chemistry.specimen.as_ref().unwrap().kind.as_ref().unwrap().code_in("JC10"), Some("023"));
    assert_eq!(chemistry.collected_at(), ts("2011-12-19T15:00"));
    assert_eq!(chemistry.order.as_ref().unwrap().department, Some(coded("15", "呼吸器外科", "99XY1")));
    assert_eq!(hematology.service, Some(coded("E001", "血液学的検査", "99O03")));
    assert_eq!(hematology.specimen.as_ref().unwrap().kind.as_ref().unwrap().text.as_deref(), Some("血漿"));
    assert!(hematology.order.is_some());
    let codes = |r: &ssmix2::Report| {
        r.results.iter().map(|o| o.jlac10.as_ref().unwrap().to_string()).collect::<Vec<_>>()
    };
    assert_eq!(
        codes(chemistry),
        ["3A010000002327101", "3J010000002327101", "3B035000002327201", "3B050000002327201"]
    );
    assert_eq!(codes(hematology), ["2B0300000022311", "2B100000002231101", "2B120000002206201"]);
    for o in chemistry.results.iter().chain(&hematology.results) {
        assert!(o.values.is_empty());
        assert_eq!(o.status, Some(ObservationStatus::OrderOnly));
    }
    // JLAC10 first, the hospital's local code as the alternate.
    let tp = &chemistry.results[0].code;
    assert_eq!(
        (tp.alternate_code.as_deref(), tp.alternate_text.as_deref(), tp.alternate_system.as_deref()),
        (Some("10222"), Some("ＴＰ"), Some("99X03"))
    );
    assert_eq!(hematology.results[2].code.text.as_deref(), Some("ＦＤＰ－Ｐ"));
}

#[test]
fn oml_11_lab_results_with_units_and_reference_ranges() {
    let file = load(OML_11);
    assert_eq!(file.file.order(), Some("000000011000354"));
    let m = &file.message;
    assert_eq!(m.header.message_type.short(), "OUL^R22");
    let p = m.patient.as_ref().unwrap();
    assert_eq!(p.birth_date, Some(date(1970, 4, 5)));
    assert_eq!(p.kana_name.as_ref().unwrap().full, "カンジャ タロウ");
    let [report] = m.reports.as_slice() else { panic!("{:?}", m.reports) };
    let specimen = report.specimen.as_ref().unwrap();
    assert_eq!(specimen.id.as_deref(), Some("000000001219001"));
    assert_eq!(specimen.kind, Some(coded("023", "血清", "JC10")));
    assert_eq!(specimen.collected_at, ts("2011-12-19T15:00"));
    assert_eq!(report.service, Some(coded("E001", "血液学的検査", "99O03")));
    assert_eq!(report.placer_order_number.as_deref(), Some("000000011000354"));
    assert_eq!(report.filler_order_number.as_deref(), Some("000000001219001"));
    assert_eq!(report.observed_at, ts("2011-12-19"));
    assert_eq!(report.reported_at, ts("2011-12-20T10:30:59"));
    // The ORC comes after the OBR in OUL^R22 and still belongs to it.
    let order = report.order.as_ref().unwrap();
    assert_eq!((order.control.as_deref(), order.status.as_deref()), (Some("SC"), Some("CM")));
    assert_eq!(order.facility_name.as_deref(), Some("登呂病院"));

    let got: Vec<_> = report
        .results
        .iter()
        .map(|o| {
            let range = o.reference_range.as_ref().unwrap();
            (
                o.jlac10.as_ref().unwrap().to_string(),
                o.code.text.clone().unwrap(),
                number(o),
                o.unit.as_deref(),
                (range.text.as_str(), range.low, range.high),
                o.abnormal_flags.clone(),
                o.status,
                o.observed_at,
            )
        })
        .collect();
    let f = Some(ObservationStatus::Final);
    let at = ts("2011-12-19T15:00");
    assert_eq!(
        got,
        [
            (
                "3A016000002327102".into(),
                "A/G比".into(),
                (1.7, "1.7"),
                None,
                ("1.2-2.0", Some(1.2), Some(2.0)),
                vec![],
                f,
                at
            ),
            (
                "3A010000002327101".into(),
                "総蛋白".into(),
                (7.2, "7.2"),
                Some("g/dl"),
                ("6.70-8.3", Some(6.7), Some(8.3)),
                vec![],
                f,
                at
            ),
            (
                "3A015000002327101".into(),
                "アルブミン".into(),
                (4.9, "4.9"),
                Some("g/dl"),
                ("3.7-5.5", Some(3.7), Some(5.5)),
                vec![],
                f,
                at
            ),
        ]
    );
    assert!(report.results.iter().all(|o| !o.is_abnormal() && o.measurement.is_none()));
    assert_eq!(report.results[1].unit_system.as_deref(), Some("99XYZ"));
    assert_eq!(report.results[0].jlac10.as_ref().unwrap().analyte(), "3A016");
    assert_eq!(report.results[0].jlac10.as_ref().unwrap().specimen(), Some("023"));
}

#[test]
fn framing_and_segment_ends_do_not_change_any_result() {
    for path in ALL {
        let raw = bytes(path);
        let expected = ssmix2::parse_file(path, &raw).unwrap();
        let body: Vec<u8> = raw.iter().copied().filter(|&b| b != 0x1C).collect();
        let mut variants = vec![body.clone()];
        variants.push([&[0x0B][..], &body, &[0x1C, 0x0D]].concat());
        variants
            .push(body.iter().flat_map(|&b| if b == b'\r' { vec![b'\r', b'\n'] } else { vec![b] }).collect());
        variants.push(body.iter().map(|&b| if b == b'\r' { b'\n' } else { b }).collect());
        for variant in variants {
            assert_eq!(ssmix2::parse_file(path, &variant).unwrap(), expected, "{path}");
        }
    }
}

#[test]
fn results_serialise_to_camel_case_json() {
    let file = load(OML_11);
    let json = serde_json::to_value(&file).unwrap();
    let result = &json["message"]["reports"][0]["results"][1];
    assert_eq!(result["jlac10"], "3A010000002327101");
    assert_eq!(
        result["values"][0],
        serde_json::json!({"type": "number", "text": "7.2", "value": 7.2, "comparator": null})
    );
    assert_eq!(result["referenceRange"], serde_json::json!({"text": "6.70-8.3", "low": 6.7, "high": 8.3}));
    assert_eq!(result["observedAt"], "2011-12-19T15:00");
    assert_eq!(json["file"]["condition"], "active");
    assert_eq!(json["file"]["timestamp"], "2011-12-20T10:30:59");
    assert_eq!(json["message"]["patient"]["birthDate"], "1970-04-05");
    assert_eq!(json["message"]["encoding"], "iso2022Jp");
    let back: StorageFile = serde_json::from_value(json).unwrap();
    assert_eq!(back, file);
}
