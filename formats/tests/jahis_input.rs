//! What the parser tolerates (versions, field counts, spaces) and what it refuses, with which
//! error code and position.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::NaiveDate;
use phr_formats::jahis::{
    self, JahisError, Location, MedicationHandbook, Part, RecordCreator, Sex, WarningKind,
};

const TC08_EX11: &[u8] = include_bytes!("fixtures/jahis/tc08_spec26_example11.txt");
const TC07_EX11_SJIS: &[u8] = include_bytes!("fixtures/jahis/raw_sjis/tc07_spec24_example11.sjis.csv");

fn parse(text: &str) -> MedicationHandbook {
    jahis::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{e}"))
}

fn error(text: &str) -> JahisError {
    jahis::parse(text.as_bytes()).unwrap_err()
}

fn at(line: usize) -> Location {
    Location { part: None, line }
}

#[test]
fn version_1_payload_without_creators_or_output_kind_reads() {
    let h = parse(
        "JAHISTC01\r\n1,鈴木 太郎,,,,,,,,\r\n5,H240410\r\n11,工業会薬局,13,4,0123456,,,\r\n\
         201,1,ｺﾘｵﾊﾟﾝｶﾌﾟｾﾙ5mg,4,Ｃ,2,620004992\r\n301,1,【分２ 朝夕食後服用】,5,日分,1,1,\r\n",
    );
    assert!(h.warnings.is_empty(), "{:?}", h.warnings);
    assert_eq!((h.version.number, h.output_kind), (1, None));
    let patient = h.patient.unwrap();
    assert_eq!((patient.sex, patient.birth_date), (None, None));
    let d = &h.dispensings[0];
    assert_eq!(d.date, NaiveDate::from_ymd_opt(2012, 4, 10).unwrap());
    assert_eq!(d.created_by, None);
    // Leading zeros of the 7-digit code are kept.
    assert_eq!(d.pharmacy.as_ref().unwrap().code.as_deref(), Some("0123456"));
    assert_eq!(d.rps[0].drugs[0].created_by, None);
    assert_eq!(d.rps[0].usage.as_ref().unwrap().days_supply, Some(5));
}

#[test]
fn every_known_version_reads_and_a_later_one_is_flagged() {
    for n in 1..=8 {
        let h = parse(&format!("JAHISTC0{n},1\n5,R020410,1\n"));
        assert_eq!(h.version.number, n);
        assert!(!h.version.newer_than_known);
        assert!(h.warnings.is_empty(), "{n}: {:?}", h.warnings);
    }
    let h = parse("JAHISTC09,1\n5,R020410,1,extra\n201,1,薬,1,錠,1,,1,,,,new\n");
    assert!(h.version.newer_than_known);
    assert_eq!(h.version.header, "JAHISTC09");
    let kinds: Vec<_> = h.warnings.iter().map(|w| w.kind).collect();
    assert_eq!(kinds, [WarningKind::NewerVersion, WarningKind::ExtraFields, WarningKind::ExtraFields]);
    assert_eq!(h.dispensings[0].rps[0].drugs[0].name, "薬");
}

#[test]
fn missing_trailing_fields_read_as_absent() {
    let h = parse("JAHISTC08,1\n1,鈴木 太郎\n5,R020410\n11,薬局\n15,薬剤師\n201,1,薬A\n301,1\n701,薬剤師\n");
    assert!(h.warnings.is_empty(), "{:?}", h.warnings);
    let p = h.patient.unwrap();
    assert_eq!((p.name.as_str(), p.sex, p.kana_name), ("鈴木 太郎", None, None));
    let d = &h.dispensings[0];
    assert_eq!(d.created_by, None);
    assert_eq!(d.pharmacy.as_ref().unwrap().code, None);
    let drug = &d.rps[0].drugs[0];
    assert_eq!((drug.amount.as_ref(), drug.unit.as_ref(), drug.code_type), (None, None, None));
    let usage = d.rps[0].usage.as_ref().unwrap();
    assert_eq!((usage.text.as_ref(), usage.quantity, usage.dosage_form), (None, None, None));
    assert_eq!(h.family_pharmacists[0].pharmacy, None);
}

#[test]
fn extra_trailing_fields_are_ignored_and_noted_when_not_empty() {
    let h = parse("JAHISTC08,1\n5,R020410,1,,,\n201,1,薬A,1,錠,1,,1,,,,,,\n");
    assert!(h.warnings.is_empty(), "{:?}", h.warnings);
    let h = parse("JAHISTC08,1\n5,R020410,1\n201,1,薬A,1,錠,1,,1,,,,X,Y\n");
    assert_eq!(h.warnings.len(), 1);
    let w = &h.warnings[0];
    assert_eq!((w.kind, w.record, w.location), (WarningKind::ExtraFields, Some(201), at(3)));
    assert_eq!(h.dispensings[0].rps[0].drugs[0].name, "薬A");
}

#[test]
fn stray_spaces_and_full_width_digits_are_tolerated() {
    let h = parse(
        " JAHISTC08 , 1 \n 1 , 鈴木 太郎 , 2 , Ｓ３３０３０３ \n５, R020410 ,1\n 201 , 1 , 薬A , 1 , 錠 , ２ , 620004992 , １ \n",
    );
    assert!(h.warnings.is_empty(), "{:?}", h.warnings);
    let p = h.patient.unwrap();
    assert_eq!(p.name, "鈴木 太郎");
    assert_eq!(p.sex, Some(Sex::Female));
    assert_eq!(p.birth_date, NaiveDate::from_ymd_opt(1958, 3, 3));
    let drug = &h.dispensings[0].rps[0].drugs[0];
    assert_eq!((drug.name.as_str(), drug.created_by), ("薬A", Some(RecordCreator::MedicalStaff)));
}

#[test]
fn unknown_codes_and_bad_optional_values_become_warnings() {
    let h = parse(
        "JAHISTC08,1\n1,鈴木 太郎,3,S991399,,,,,,heavy,\n2,7,何か,1\n5,R020410,5\n201,1,薬,1,錠,5,x,1\n301,1,,7.5,日分,8,1,,1\n999,future record\n",
    );
    let kinds: Vec<_> = h.warnings.iter().map(|w| (w.location.line, w.kind)).collect();
    assert_eq!(
        kinds,
        [
            (2, WarningKind::InvalidValue),
            (2, WarningKind::UnknownCode),
            (2, WarningKind::InvalidValue),
            (3, WarningKind::UnknownCode),
            (4, WarningKind::UnknownCode),
            (5, WarningKind::UnknownCode),
            (6, WarningKind::InvalidValue),
            (6, WarningKind::UnknownCode),
            (7, WarningKind::UnknownRecord),
        ]
    );
    let p = h.patient.unwrap();
    assert_eq!((p.sex, p.birth_date, p.weight_kg), (None, None, None));
    assert_eq!(h.patient_notes[0].kind, None);
    assert_eq!(h.patient_notes[0].text, "何か");
    assert_eq!(h.dispensings[0].rps[0].usage.as_ref().unwrap().quantity, None);
}

#[test]
fn ingredients_link_to_their_otc_drug_by_sequence() {
    let h = parse(
        "JAHISTC08,2\n3,薬A,,,2,1,\n3,薬B,,,2,2,4987000000000\n31,1,成分1,1,,2\n31,2,成分2,1,,2\n31,9,成分3,1,,2\n",
    );
    assert_eq!(h.otc_drugs[0].ingredients[0].name, "成分1");
    assert_eq!(h.otc_drugs[1].jan_code.as_deref(), Some("4987000000000"));
    let names: Vec<_> = h.otc_drugs[1].ingredients.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["成分2", "成分3"]);
    assert_eq!(h.warnings[0].kind, WarningKind::DanglingReference);
}

#[test]
fn duplicate_per_dispensing_records_keep_the_first() {
    let h = parse(
        "JAHISTC08,1\n5,R020410,1\n11,薬局A,,,,,,,1\n11,薬局B,,,,,,,1\n201,1,薬,1,錠,1,,1\n301,1,a,1,日分,1,1,,1\n301,1,b,2,日分,1,1,,1\n",
    );
    let d = &h.dispensings[0];
    assert_eq!(d.pharmacy.as_ref().unwrap().name, "薬局A");
    assert_eq!(d.rps[0].usage.as_ref().unwrap().text.as_deref(), Some("a"));
    let kinds: Vec<_> = h.warnings.iter().map(|w| w.kind).collect();
    assert_eq!(kinds, [WarningKind::DuplicateRecord, WarningKind::DuplicateRecord]);
}

#[test]
fn the_same_patient_twice_is_fine_a_different_one_is_refused() {
    let same = parse("JAHISTC08,1\n1,鈴木 太郎,1,S330303\n1,鈴木 太郎,1,S330303,,\n");
    assert_eq!(same.patient.unwrap().name, "鈴木 太郎");
    assert_eq!(
        error("JAHISTC08,1\n1,鈴木 太郎,1,S330303\n5,R020410,1\n1,佐藤 花子,2,S400101\n"),
        JahisError::MultiplePatients { location: at(4), first: at(2) }
    );
}

#[test]
fn a_prescription_qr_is_refused_as_such() {
    let err = error("JAHIS10\r\n1,1,1234567,13,医療法人 工業会病院\r\n");
    assert_eq!(err.code(), "prescription_qr");
    assert!(err.to_string().contains("prescription"), "{err}");
    assert_eq!(error("JAHIS5\r\n").code(), "prescription_qr");
}

#[test]
fn non_jahis_payloads_are_refused() {
    for payload in [
        "https://example.org/qr",
        "1,鈴木 太郎,1,S330303",
        "{\"resourceType\":\"Bundle\"}",
        "JAHI",
        "JAHISXX,1",
    ] {
        assert_eq!(error(payload).code(), "not_jahis", "{payload}");
    }
    assert_eq!(jahis::parse(&[0x00, 0xFF, 0xFE, 0x89, 0x50]).unwrap_err().code(), "not_jahis");
    assert_eq!(jahis::parse(b"").unwrap_err(), JahisError::Empty);
    assert_eq!(jahis::parse(b"\x1A").unwrap_err(), JahisError::Empty);
    assert_eq!(jahis::parse_parts(&[]).unwrap_err(), JahisError::Empty);
}

#[test]
fn unsupported_version_records_are_refused_with_their_line() {
    for header in ["JAHISTC00,1", "JAHISTC8,1", "JAHISTC100,1", "JAHISTC,1"] {
        let err = error(&format!("{header}\n5,R020410,1\n"));
        assert_eq!(err.code(), "unsupported_version", "{header}");
        assert_eq!(err.location(), Some(at(1)));
    }
}

#[test]
fn undecodable_bytes_are_refused_with_their_position() {
    let mut bytes = TC07_EX11_SJIS.to_vec();
    bytes[20] = 0xFF;
    let err = jahis::parse(&bytes).unwrap_err();
    assert_eq!(err.code(), "undecodable_bytes");
    assert_eq!(err.location(), Some(at(2)));
    assert!(err.to_string().contains("0xFF"), "{err}");
}

#[test]
fn record_lines_must_start_with_a_record_number() {
    assert_eq!(
        error("JAHISTC08,1\n5,R020410,1\n鈴木 太郎,1\n"),
        JahisError::MalformedRecord { location: at(3), found: "鈴木 太郎".into() }
    );
}

#[test]
fn field_errors_name_line_record_field_and_expectation() {
    let err = error("JAHISTC08,1\n5,R021310,1\n");
    assert_eq!(err.code(), "invalid_field");
    assert_eq!(
        err.to_string(),
        "line 2: record 5 (調剤等年月日 dispensing date), field 1 (調剤等年月日): expected a date \
         as YYYYMMDD or as an era date GYYMMDD (G = M, T, S, H or R), found \"R021310\""
    );
    let err = error("JAHISTC08,1\n5,R020410,1\n201,A,薬,1,錠,1,,1\n");
    assert!(err.to_string().starts_with("line 3: record 201 (薬品 drug), field 1 (RP番号)"), "{err}");
    let err = error("JAHISTC08,1\n5,R020410,1\n201,1,,1,錠,1,,1\n");
    assert!(err.to_string().contains("field 2 (薬品名称): expected a non-empty value"), "{err}");
}

#[test]
fn records_out_of_their_group_are_refused() {
    let err = error("JAHISTC08,1\n1,鈴木 太郎\n201,1,薬,1,錠,1,,1\n");
    assert_eq!(err.code(), "record_out_of_place");
    assert_eq!(err.location(), Some(at(3)));
    assert!(err.to_string().contains("must follow a record 5"), "{err}");
    let err = error("JAHISTC08,1\n5,R020410,1\n291,1,注意,1\n");
    assert!(err.to_string().contains("must follow a drug (201) of RP 1"), "{err}");
    let err = error("JAHISTC08,1\n31,1,成分,1,,2\n");
    assert_eq!(err.code(), "record_out_of_place");
}

#[test]
fn an_incomplete_three_part_split_lists_the_missing_part() {
    let part = |n: u16| format!("JAHISTC08,1\n5,R02041{n},1\n911,20200410000001,3,{n}\n");
    let (p1, p3) = (part(1), part(3));
    let err = jahis::parse_parts(&[Part::text(&p3), Part::text(&p1)]).unwrap_err();
    assert_eq!(
        err,
        JahisError::IncompleteSplit {
            data_id: "20200410000001".into(),
            count: 3,
            received: vec![1, 3],
            missing: vec![2],
        }
    );
    assert!(err.to_string().contains("missing") || err.to_string().contains("scan part(s) [2]"), "{err}");
    let p2 = part(2);
    let h = jahis::parse_parts(&[Part::text(&p3), Part::text(&p1), Part::text(&p2)]).unwrap();
    let days: Vec<_> = h.dispensings.iter().map(|d| d.date.format("%d").to_string()).collect();
    assert_eq!(days, ["11", "12", "13"]);
}

#[test]
fn split_parts_that_do_not_belong_together_are_refused() {
    let a1 = "JAHISTC08,1\n5,R020410,1\n911,11111111111111,2,1\n";
    let b2 = "JAHISTC08,1\n5,R020411,1\n911,22222222222222,2,2\n";
    let err = jahis::parse_parts(&[Part::text(a1), Part::text(b2)]).unwrap_err();
    assert_eq!(err.code(), "invalid_split");
    let other_1 = "JAHISTC08,1\n5,R020412,1\n911,11111111111111,2,1\n";
    let err = jahis::parse_parts(&[Part::text(a1), Part::text(other_1)]).unwrap_err();
    assert!(err.to_string().contains("part 1 of split data 11111111111111 was given twice"), "{err}");
    let unsplit = "JAHISTC08,1\n5,R020410,1\n";
    let err = jahis::parse_parts(&[Part::text(a1), Part::text(unsplit)]).unwrap_err();
    assert_eq!(err.code(), "invalid_split");
    let err = error("JAHISTC08,1\n5,R020410,1\n911,11111111111111,2,3\n");
    assert_eq!(err.code(), "invalid_field");
    // The same complete payload twice is one payload.
    let h = jahis::parse_parts(&[Part::text(unsplit), Part::text(unsplit)]).unwrap();
    assert_eq!(h.dispensings.len(), 1);
}

#[test]
fn truncated_payloads_fail_precisely_or_parse_what_is_there() {
    let text = std::str::from_utf8(TC08_EX11).unwrap();
    let cut = |marker: &str, keep: usize| {
        let at = text.find(marker).unwrap() + keep;
        jahis::parse(&TC08_EX11[..at])
    };
    // Cut inside the first dispensing date.
    let err = cut("5,R020410", 7).unwrap_err();
    assert_eq!(err.code(), "invalid_field");
    assert_eq!(err.location(), Some(at(17)));
    // Cut right after an RP number: the drug has no name.
    let err = cut("201,2,", 6).unwrap_err();
    assert_eq!(err.location(), Some(at(24)));
    // Cut at a record boundary: a shorter but valid payload.
    let h = cut("5,R020407", 0).unwrap();
    assert_eq!(h.dispensings.len(), 1);
    // Cut inside the version record.
    assert_eq!(jahis::parse(&TC08_EX11[..7]).unwrap_err().code(), "unsupported_version");
    assert_eq!(jahis::parse(&TC08_EX11[..3]).unwrap_err().code(), "not_jahis");
    // Every cut of the raw Shift_JIS sample: never a panic, only the expected kinds.
    for end in 0..TC07_EX11_SJIS.len() {
        if let Err(err) = jahis::parse(&TC07_EX11_SJIS[..end]) {
            assert!(
                [
                    "empty_payload",
                    "not_jahis",
                    "unsupported_version",
                    "undecodable_bytes",
                    "invalid_field",
                    // "11,…" cut to "1" reads as a second, empty patient record.
                    "multiple_patients",
                ]
                .contains(&err.code()),
                "cut at {end}: {err}"
            );
        }
    }
}

#[test]
fn a_single_part_911_of_one_is_complete() {
    let h = parse("JAHISTC08,1\n5,R020410,1\n911,12345678901234,1,1\n");
    assert_eq!(h.split.unwrap().part_count, 1);
}

#[test]
fn a_large_payload_stays_linear() {
    let mut text = String::from("JAHISTC08,1\n5,R020410,1\n");
    for rp in 1..=20_000 {
        text.push_str(&format!("201,{rp},薬{rp},1,錠,1,,1\n301,{rp},【分１】,7,日分,1,1,,1\n"));
    }
    let h = parse(&text);
    assert_eq!(h.dispensings[0].rps.len(), 20_000);
    assert_eq!(h.dispensings[0].rps[19_999].drugs[0].name, "薬20000");
}

#[test]
fn too_many_version_records_are_refused() {
    let text = "JAHISTC08,1\n".repeat(3000);
    assert_eq!(error(&text).code(), "invalid_split");
}
