//! Hand-made messages for what the samples do not show: escapes, repetitions, empty and
//! missing fields, segment ends and framing, other encodings, values that do not parse, and
//! refused input. Messages are written as UTF-8 text and encoded to ISO-2022-JP as senders do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use encoding_rs::ISO_2022_JP;
use phr_formats::ssmix2::{
    self, AllergyAction, Coded, ConditionFlag, ObservationStatus, ObservationValue, PathError, ProblemAction,
    Sex, SourceEncoding, Ssmix2Error, Ssmix2Message, WarningKind,
};

const MSH: &str =
    "MSH|^~\\&|HIS|SEND|GW|RCV|20240102030405||OUL^R22^OUL_R22|1|P|2.5||||||~ISO IR87||ISO 2022-1994";

fn jis(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = ISO_2022_JP.encode(text);
    assert!(!unmappable, "{text}");
    bytes.into_owned()
}

/// Segments joined by CR, encoded to ISO-2022-JP, framed with 0x1C as storage files are.
fn message(segments: &[&str]) -> Vec<u8> {
    let mut bytes = jis(&segments.join("\r"));
    bytes.extend_from_slice(b"\r\x1c");
    bytes
}

fn parse(segments: &[&str]) -> Ssmix2Message {
    ssmix2::parse(&message(segments)).unwrap_or_else(|e| panic!("{e}"))
}

fn kinds(m: &Ssmix2Message) -> Vec<WarningKind> {
    m.warnings.iter().map(|w| w.kind).collect()
}

fn text(value: Option<&ObservationValue>) -> &str {
    match value {
        Some(ObservationValue::Text { text }) => text,
        other => panic!("{other:?}"),
    }
}

#[test]
fn escape_sequences_resolve_in_text_names_and_notes() {
    let m = parse(&[
        MSH,
        "PID|||1||山田\\T\\鈴木^太郎",
        "OBR|1",
        "OBX|1|TX|X^所見^99L||血圧\\F\\脈拍\\S\\体温\\T\\SpO2\\R\\呼吸\\E\\終",
        "NTE|1||再検\\.br\\要\\X41\\",
    ]);
    let o = &m.reports[0].results[0];
    assert_eq!(text(o.value()), "血圧|脈拍^体温&SpO2~呼吸\\終");
    assert_eq!(o.notes, ["再検\n要A"]);
    assert_eq!(m.patient.unwrap().name.unwrap().family.as_deref(), Some("山田&鈴木"));
}

#[test]
fn a_kanji_holding_a_delimiter_byte_next_to_an_escape_survives() {
    // 回復 is `2s I|` in JIS: splitting the raw bytes would cut it in two.
    let m = parse(&[MSH, "PID|||1||回復\\F\\太郎^回復"]);
    let name = m.patient.unwrap().name.unwrap();
    assert_eq!(name.family.as_deref(), Some("回復|太郎"));
    assert_eq!(name.given.as_deref(), Some("回復"));
}

#[test]
fn repetitions_become_lists() {
    let m = parse(&[
        MSH,
        "PID|||L123^^^HOSP^MR~9999013^^^^PI||山田^花子~ヤマダ^ハナコ||19800101|F",
        "OBR|1",
        "OBX|1|TX|X^所見^99L||一行目~二行目~|||H~L~N|||F",
        "IAM|1|DA^薬剤アレルギー^HL70127|1^ペニシリン^99XYZ|SV^重度^HL70128|発疹~呼吸困難|A^追加^HL70323",
    ]);
    let p = m.patient.unwrap();
    assert_eq!(p.id.as_deref(), Some("9999013"));
    assert_eq!(p.identifiers.len(), 2);
    assert_eq!(p.identifiers[0].assigning_authority.as_deref(), Some("HOSP"));
    assert_eq!(p.identifiers[0].type_code.as_deref(), Some("MR"));
    // Without name representation codes, the kana name is told apart by its script.
    assert_eq!(p.name.unwrap().full, "山田 花子");
    assert_eq!(p.kana_name.unwrap().full, "ヤマダ ハナコ");
    assert_eq!(p.sex, Some(Sex::Female));
    let o = &m.reports[0].results[0];
    let values: Vec<_> = o.values.iter().map(|v| text(Some(v))).collect();
    assert_eq!(values, ["一行目", "二行目"]);
    assert_eq!(o.abnormal_flags, ["H", "L", "N"]);
    assert!(o.is_abnormal());
    assert_eq!(m.allergies[0].reactions, ["発疹", "呼吸困難"]);
    assert_eq!(m.allergies[0].action, Some(AllergyAction::Add));
}

#[test]
fn empty_missing_and_null_fields_read_as_none() {
    let m = parse(&[MSH, "PID", "PV1||\"\"", "OBR", "OBX|1", "RXE", "PRB", "AL1"]);
    let p = m.patient.as_ref().unwrap();
    assert_eq!((p.id.as_ref(), p.name.as_ref(), p.birth_date, p.sex), (None, None, None, None));
    assert!(p.identifiers.is_empty());
    assert_eq!(m.visit.as_ref().unwrap().patient_class, None);
    let o = &m.reports[0].results[0];
    assert!(o.values.is_empty() && o.abnormal_flags.is_empty());
    assert_eq!(
        (o.unit.as_ref(), o.reference_range.as_ref(), o.status, o.jlac10.as_ref()),
        (None, None, None, None)
    );
    assert_eq!(o.code, Coded::default());
    assert_eq!(m.prescriptions[0].drug, Coded::default());
    assert_eq!(m.prescriptions[0].days, None);
    assert_eq!(m.diagnoses[0].action, None);
    assert!(m.allergies[0].allergen.is_empty());
    assert_eq!(kinds(&m), [WarningKind::MissingField; 4]);
    let locations: Vec<_> = m.warnings.iter().map(|w| w.location.to_string()).collect();
    assert_eq!(locations, ["line 5 (OBX-3)", "line 6 (RXE-2)", "line 7 (PRB-3)", "line 8 (AL1-3)"]);
}

#[test]
fn a_message_of_msh_only_warns_that_pid_is_missing() {
    let m = parse(&[MSH]);
    assert_eq!(m.patient, None);
    assert_eq!(kinds(&m), [WarningKind::MissingSegment]);
    assert_eq!(m.header.message_type.short(), "OUL^R22");
}

#[test]
fn numbers_comparators_and_structured_numerics() {
    let m = parse(&[
        MSH,
        "PID|||1",
        "OBR|1",
        "OBX|1|NM|A^a^99L||<0.5",
        "OBX|2|NM|B^b^99L||１２．５",
        "OBX|3|SN|C^c^99L||<^0.5",
        "OBX|4|SN|D^d^99L||^1^:^128",
        "OBX|5|CWE|E^e^99L||POS^陽性^99L",
        "OBX|6|DT|F^f^99L||20240102",
        "OBX|7||G^g^99L||42",
        "OBX|8|ST|H^h^99L||3+",
    ]);
    let values: Vec<_> = m.reports[0].results.iter().map(|o| o.value().unwrap().clone()).collect();
    assert_eq!(
        values,
        [
            ObservationValue::Number { text: "<0.5".into(), value: 0.5, comparator: Some("<".into()) },
            ObservationValue::Number { text: "１２．５".into(), value: 12.5, comparator: None },
            ObservationValue::Number { text: "<0.5".into(), value: 0.5, comparator: Some("<".into()) },
            ObservationValue::Compound {
                text: "1:128".into(),
                comparator: None,
                first: Some(1.0),
                separator: ":".into(),
                second: Some(128.0)
            },
            ObservationValue::Coded(Coded {
                code: Some("POS".into()),
                text: Some("陽性".into()),
                system: Some("99L".into()),
                ..Coded::default()
            }),
            ObservationValue::DateTime { value: "2024-01-02".parse().unwrap() },
            ObservationValue::Number { text: "42".into(), value: 42.0, comparator: None },
            ObservationValue::Text { text: "3+".into() },
        ]
    );
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
}

#[test]
fn values_that_do_not_parse_are_warned_about_and_never_lost() {
    let m = parse(&[
        MSH,
        "PID|||1||||1948|X",
        "OBR|1||||||2024-01-02",
        "OBX|1|NM|3A010000002327101^総蛋白^JC10||検出せず||||||Q",
        "OBX|2|NM|3A01^短い^JC10||1",
        "RXE||1^薬^HOT9|一錠",
        "TQ1|1|||||3^mo",
        "TQ1|2",
    ]);
    assert_eq!(text(m.reports[0].results[0].value()), "検出せず");
    assert_eq!(m.reports[0].results[0].status, None);
    assert_eq!(m.reports[0].results[1].jlac10, None);
    assert_eq!(m.reports[0].observed_at, None);
    assert_eq!(m.patient.as_ref().unwrap().birth_date, None);
    assert_eq!(m.patient.as_ref().unwrap().sex, None);
    assert_eq!(m.prescriptions[0].dose, None);
    assert_eq!(m.prescriptions[0].days, None);
    let got: Vec<_> = m.warnings.iter().map(|w| (w.location.to_string(), w.kind)).collect();
    assert_eq!(
        got,
        [
            ("line 2 (PID-7)".into(), WarningKind::InvalidValue),
            ("line 2 (PID-8)".into(), WarningKind::UnknownCode),
            ("line 3 (OBR-7)".into(), WarningKind::InvalidValue),
            ("line 4 (OBX-5)".into(), WarningKind::InvalidValue),
            ("line 4 (OBX-11)".into(), WarningKind::UnknownCode),
            ("line 5 (OBX-3)".into(), WarningKind::InvalidValue),
            ("line 6 (RXE-3)".into(), WarningKind::InvalidValue),
            ("line 7 (TQ1-6)".into(), WarningKind::UnknownCode),
            ("line 8 (TQ1)".into(), WarningKind::DuplicateSegment),
        ]
    );
    // Warnings quote codes and dates, never a result value.
    assert!(!m.warnings.iter().any(|w| w.message.contains("検出せず")));
}

#[test]
fn notes_attach_to_what_they_follow() {
    let m = parse(&[
        MSH,
        "PID|||1",
        "NTE|1||患者メモ",
        "OBR|1",
        "NTE|1||依頼コメント",
        "OBX|1|NM|X^x^99L||1",
        "NTE|1||一~二",
        "NTE|2||三",
        "NTE|3||",
    ]);
    assert_eq!(m.notes, ["患者メモ"]);
    assert_eq!(m.reports[0].notes, ["依頼コメント"]);
    assert_eq!(m.reports[0].results[0].notes, ["一\n二", "三"]);
}

#[test]
fn prescriptions_in_weeks_and_status_codes() {
    let m = parse(&[
        MSH,
        "ORC|NW|1||1",
        "RXE||620000001^薬^YJ|0.5||TAB^錠^MR9P",
        "TQ1|1||1013044400000000&内服&JAMISDP01|||2^wk|20240102||||指示あり|||6",
        "RXR|PO^口^HL70162",
        "RXR|IV^静注^HL70162",
        "PRB|DE|20240102|1^病^MDCDX2||||||||||||||||S^疑い^99L",
    ]);
    let p = &m.prescriptions[0];
    assert_eq!(p.drug.code_in("YJ"), Some("620000001"));
    assert_eq!(p.dose, Some(0.5));
    assert_eq!(p.days, Some(14));
    assert_eq!(p.usage_note.as_deref(), Some("指示あり"));
    assert_eq!(p.total_occurrences, Some(6));
    assert_eq!(p.route.as_ref().unwrap().code.as_deref(), Some("PO"));
    assert_eq!(p.order.as_ref().unwrap().placer_group_number.as_deref(), Some("1"));
    assert_eq!(m.diagnoses[0].action, Some(ProblemAction::Delete));
    assert_eq!(m.diagnoses[0].certainty.as_ref().unwrap().text.as_deref(), Some("疑い"));
    assert!(m.warnings.iter().all(|w| w.kind == WarningKind::MissingSegment), "{:?}", m.warnings);
}

#[test]
fn status_codes_map_to_hl7_tables() {
    let statuses: Vec<_> = ["C", "D", "F", "I", "N", "O", "P", "R", "S", "U", "W", "X", "f"]
        .iter()
        .map(|c| ObservationStatus::from_code(c))
        .collect();
    assert!(statuses.iter().all(Option::is_some));
    assert_eq!(statuses[0], Some(ObservationStatus::Corrected));
    assert_eq!(statuses[12], Some(ObservationStatus::Final));
    assert_eq!(Sex::from_code("U"), Some(Sex::Unknown));
}

#[test]
fn cr_crlf_lf_and_mixed_line_ends_parse_alike() {
    let segments = [MSH, "PID|||1||山田^太郎", "OBR|1", "OBX|1|NM|X^x^99L||1.5"];
    let expected = parse(&segments);
    for separator in ["\r\n", "\n"] {
        let bytes = jis(&segments.join(separator));
        assert_eq!(ssmix2::parse(&bytes).unwrap(), expected, "{separator:?}");
    }
    let mixed = jis(&format!("{}\r\n{}\n{}\r{}\n\n", segments[0], segments[1], segments[2], segments[3]));
    assert_eq!(ssmix2::parse(&mixed).unwrap(), expected);
}

#[test]
fn mllp_framing_and_trailing_bytes() {
    let body = jis(&[MSH, "PID|||1"].join("\r"));
    let expected = ssmix2::parse(&body).unwrap();
    for framed in [
        [&b"\x0b"[..], &body, b"\x1c\r"].concat(),
        [&body[..], b"\r\x1c"].concat(),
        [&b"\r\n"[..], &body, b"\r\n"].concat(),
    ] {
        assert_eq!(ssmix2::parse(&framed).unwrap(), expected);
    }
    let m = ssmix2::parse(&[&body[..], b"\r\x1cgarbage"].concat()).unwrap();
    assert_eq!(kinds(&m), [WarningKind::DataAfterEnd]);
    let two = [&b"\x0b"[..], &body, b"\x1c\r\x0b", &body, b"\x1c\r"].concat();
    assert_eq!(ssmix2::parse(&two).unwrap_err().code(), "multiple_messages");
}

#[test]
fn esc_paren_j_roman_switch_is_read_as_ascii() {
    // A sender that switches back with ESC ( J: `\F\` and `~` must stay delimiters.
    let bytes = b"MSH|^~\\&|HIS||||||ADT^A08\rPID|||1||\x1b$B;3ED\x1b(J\\F\\X^\x1b$BB@O:\x1b(J~\x1b$B%d%^%@\x1b(J^\x1b$B%?%m%&\x1b(J\r\x1c";
    let m = ssmix2::parse(bytes).unwrap();
    let p = m.patient.unwrap();
    assert_eq!(p.name.unwrap().full, "山田|X 太郎");
    assert_eq!(p.kana_name.unwrap().full, "ヤマダ タロウ");
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
}

#[test]
fn utf8_and_shift_jis_files_are_read_with_a_warning() {
    let text = [MSH, "PID|||1||山田^太郎"].join("\r");
    let m = ssmix2::parse(text.as_bytes()).unwrap();
    assert_eq!(m.encoding, SourceEncoding::Utf8);
    assert_eq!(m.patient.unwrap().name.unwrap().full, "山田 太郎");
    assert_eq!(kinds(&ssmix2::parse(text.as_bytes()).unwrap()), [WarningKind::NonStandardEncoding]);
    let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(&text);
    let m = ssmix2::parse(&sjis).unwrap();
    assert_eq!(m.encoding, SourceEncoding::ShiftJis);
    assert_eq!(m.patient.unwrap().name.unwrap().full, "山田 太郎");
}

#[test]
fn other_delimiters_declared_in_msh_are_used() {
    let m = parse(&[
        "MSH#$*!@#HIS#SEND#####OUL$R22",
        "PID###1##山田$太郎*ヤマダ$タロウ",
        "OBR#1",
        "OBX#1#NM#X$x$99L##1.5#g!S!L",
    ]);
    assert_eq!(m.header.message_type.short(), "OUL^R22");
    let p = m.patient.unwrap();
    assert_eq!(p.kana_name.unwrap().full, "ヤマダ タロウ");
    assert_eq!(m.reports[0].results[0].unit.as_deref(), Some("g$L"));
}

#[test]
fn duplicate_segments_keep_the_first() {
    let m = parse(&[MSH, "PID|||1", "PID|||2", "PV1||I", "PV1||O"]);
    assert_eq!(m.patient.unwrap().id.as_deref(), Some("1"));
    assert_eq!(m.visit.unwrap().patient_class.as_deref(), Some("I"));
    assert_eq!(kinds(&parse(&[MSH, "PID|||1", "PID|||2"])), [WarningKind::DuplicateSegment]);
}

#[test]
fn lines_that_are_not_segments_are_skipped_with_a_warning() {
    let m = parse(&[MSH, "PID|||1", "this is not a segment", "OBR|1"]);
    assert_eq!(kinds(&m), [WarningKind::InvalidSegment]);
    assert_eq!(m.warnings[0].location.line, 3);
    assert_eq!(m.reports.len(), 1);
}

#[test]
fn garbage_empty_and_truncated_input_is_refused_with_a_code() {
    let cases: [(&[u8], &str); 11] = [
        (b"", "empty_message"),
        (b"\x0b\x1c\r\n", "empty_message"),
        (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3", "not_hl7"),
        (b"MSH|^~\\&|\x82\xff", "undecodable_bytes"),
        (b"{\"resourceType\":\"Bundle\"}", "not_hl7"),
        (b"MS", "not_hl7"),
        (b"MSH", "invalid_delimiters"),
        (b"MSHx^~\\&|", "invalid_delimiters"),
        (b"MSH|^~\\&|\x1b$B455", "undecodable_bytes"),
        (b"MSH|^~\\&|\x1b$", "undecodable_bytes"),
        (b"MSH|^~\\&|\x1b(Z", "undecodable_bytes"),
    ];
    for (bytes, code) in cases {
        let err = ssmix2::parse(bytes).unwrap_err();
        assert_eq!(err.code(), code, "{bytes:?}: {err}");
    }
    match ssmix2::parse(b"MSH|^~\\&\rPID|||1||\x1b$B4").unwrap_err() {
        Ssmix2Error::Undecodable { offset, location, .. } => assert_eq!((offset, location.line), (21, 2)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn parse_file_checks_the_path_and_the_message_type() {
    let body = message(&[MSH, "PID|||9999013^^^^PI"]);
    let path =
        "999/901/9999013/20240102/OML-11/9999013_20240102_OML-11_000000000000001_20240102030405000_01_0";
    let file = ssmix2::parse_file(path, &body).unwrap();
    assert_eq!(file.file.condition, ConditionFlag::Deleted);
    assert!(file.patient_id_matches());
    assert!(file.message.warnings.is_empty(), "{:?}", file.message.warnings);

    let wrong_kind =
        "999/901/9999013/20240102/OMP-01/9999013_20240102_OMP-01_000000000000001_20240102030405000_01_1";
    let file = ssmix2::parse_file(wrong_kind, &body).unwrap();
    assert_eq!(
        file.message.warnings.iter().map(|w| w.kind).collect::<Vec<_>>(),
        [WarningKind::MessageTypeMismatch]
    );
    assert!(file.message.warnings[0].message.contains("RDE^O11"));

    let err = ssmix2::parse_file("999/901/9999013/20240102/OML-11/not-a-file-name", &body).unwrap_err();
    assert_eq!(err.code(), "invalid_file_name");
    let err = ssmix2::parse_file(&path.replace("/20240102/", "/20240103/"), &body).unwrap_err();
    assert_eq!(
        err,
        Ssmix2Error::Path(PathError::FolderMismatch { folder: "date", found: Some("20240103".into()) })
    );
    // A path is checked before the bytes.
    assert_eq!(ssmix2::parse_file("", b"garbage").unwrap_err().code(), "invalid_path");
}

#[test]
fn names_compare_across_widths_and_scripts() {
    // Half-width katakana (ESC ( I): `]`, `^` and `[` bytes inside, and a space.
    let bytes = b"MSH|^~\\&\rPID|||1||\x1b(I6]<^,\x1b(B^\x1b(I@[3 \x1b(B^^^^^L^P\r\x1c";
    let kana = ssmix2::parse(bytes).unwrap().patient.unwrap().kana_name.unwrap();
    assert_eq!(kana.given.as_deref(), Some("ﾀﾛｳ"));
    assert_eq!(kana.full, "ｶﾝｼﾞｬ ﾀﾛｳ");
    assert_eq!(ssmix2::normalize_for_match(&kana.full), ssmix2::normalize_for_match("カンジャ　タロウ"));
}
