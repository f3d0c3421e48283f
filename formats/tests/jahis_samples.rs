//! Every specification example in `fixtures/jahis/` parses to the values the example shows.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::NaiveDate;
use phr_formats::jahis::{
    self, DosageForm, DrugCodeType, GenericCodeType, IngredientCodeType, JahisError, MedicationHandbook,
    OutputKind, Part, PatientNoteKind, ProviderNoteKind, RecordCreator, ScoreTable, Sex, UsageCodeType,
    structured_append_parity,
};

const TC07_EX01: &[u8] = include_bytes!("fixtures/jahis/tc07_spec24_example01.csv");
const TC07_EX04: &[u8] = include_bytes!("fixtures/jahis/tc07_spec24_example04.csv");
const TC07_EX07: &[u8] = include_bytes!("fixtures/jahis/tc07_spec24_example07.csv");
const TC07_EX08: &[u8] = include_bytes!("fixtures/jahis/tc07_spec24_example08.csv");
const TC07_EX09: &[u8] = include_bytes!("fixtures/jahis/tc07_spec24_example09.csv");
const TC07_EX11: &[u8] = include_bytes!("fixtures/jahis/tc07_spec24_example11.csv");
const TC07_EX11_SJIS: &[u8] = include_bytes!("fixtures/jahis/raw_sjis/tc07_spec24_example11.sjis.csv");
const TC08_EX08: &[u8] = include_bytes!("fixtures/jahis/tc08_spec26_example08_411.txt");
const TC08_EX11: &[u8] = include_bytes!("fixtures/jahis/tc08_spec26_example11.txt");
const TC08_SPLIT_1: &[u8] = include_bytes!("fixtures/jahis/tc08_spec26_split_part1of2.txt");
const TC08_SPLIT_2: &[u8] = include_bytes!("fixtures/jahis/tc08_spec26_split_part2of2.txt");

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn parse(bytes: &[u8]) -> MedicationHandbook {
    jahis::parse(bytes).unwrap_or_else(|e| panic!("{e}"))
}

fn split_parts(order: [&'static [u8]; 2]) -> MedicationHandbook {
    jahis::parse_parts(&[Part::new(order[0]), Part::new(order[1])]).unwrap()
}

#[test]
fn example_01_prescription_from_a_hospital_dispensed_by_a_pharmacy() {
    let h = parse(TC07_EX01);
    assert_eq!(h.version.header, "JAHISTC07");
    assert_eq!(h.version.number, 7);
    assert!(!h.version.newer_than_known);
    assert_eq!(h.output_kind, Some(OutputKind::ToPatient));
    assert_eq!(h.split, None);
    assert!(h.warnings.is_empty(), "{:?}", h.warnings);

    let patient = h.patient.as_ref().unwrap();
    assert_eq!(patient.name, "鈴木 太郎");
    assert_eq!(patient.sex, Some(Sex::Male));
    assert_eq!(patient.birth_date, Some(date(1958, 3, 3)));
    assert_eq!(patient.kana_name, None);
    assert_eq!(patient.weight_kg, None);

    assert_eq!(h.dispensings.len(), 1);
    let d = &h.dispensings[0];
    assert_eq!(d.date, date(2020, 4, 10));
    assert_eq!(d.created_by, Some(RecordCreator::MedicalStaff));
    let pharmacy = d.pharmacy.as_ref().unwrap();
    assert_eq!(pharmacy.name, "株式会社 工業会薬局 駅前店");
    assert_eq!(pharmacy.prefecture.as_deref(), Some("13"));
    assert_eq!(pharmacy.score_table, Some(ScoreTable::Pharmacy));
    assert_eq!(pharmacy.code.as_deref(), Some("1234567"));
    assert_eq!(pharmacy.national_code().as_deref(), Some("1341234567"));
    assert_eq!(d.pharmacist, None);
    let hospital = d.prescribing_institution.as_ref().unwrap();
    assert_eq!(hospital.name, "医療法人 工業会病院");
    assert_eq!(hospital.score_table, Some(ScoreTable::Medical));
    assert_eq!(hospital.national_code().as_deref(), Some("1311234567"));
    assert!(d.doctors.is_empty());

    assert_eq!(d.rps.len(), 2);
    let rp1 = &d.rps[0];
    assert_eq!(rp1.number, 1);
    assert_eq!(rp1.doctor, None);
    let names: Vec<_> = rp1.drugs.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["ｺﾘｵﾊﾟﾝｶﾌﾟｾﾙ5mg", "ﾌｪﾛﾍﾞﾘﾝ配合錠"]);
    let capsule = &rp1.drugs[0];
    assert_eq!(capsule.amount.as_deref(), Some("4"));
    assert_eq!(capsule.unit.as_deref(), Some("Ｃ"));
    assert_eq!(capsule.code_type, Some(DrugCodeType::Receipt));
    assert_eq!(capsule.code.as_deref(), Some("620004992"));
    assert_eq!(capsule.created_by, Some(RecordCreator::MedicalStaff));
    assert_eq!(capsule.generic_name, None);
    let usage = rp1.usage.as_ref().unwrap();
    assert_eq!(usage.text.as_deref(), Some("【分２ 朝夕食後服用】"));
    assert_eq!(usage.quantity, Some(5));
    assert_eq!(usage.quantity_unit.as_deref(), Some("日分"));
    assert_eq!(usage.dosage_form, Some(DosageForm::Internal));
    assert_eq!(usage.code_type, Some(UsageCodeType::NoCode));
    assert_eq!(usage.code, None);
    assert_eq!(usage.days_supply, Some(5));

    let rp2 = &d.rps[1];
    assert_eq!(rp2.drugs.len(), 3);
    // The example writes " 612310013" with a stray space.
    assert_eq!(rp2.drugs[1].name, "(局)ﾀﾝﾅﾙﾋﾞﾝ「ﾎｴｲ」");
    assert_eq!(rp2.drugs[1].amount.as_deref(), Some("1.5"));
    assert_eq!(rp2.drugs[1].unit.as_deref(), Some("g"));
    assert_eq!(rp2.drugs[1].code.as_deref(), Some("612310013"));
    assert_eq!(rp2.usage.as_ref().unwrap().text.as_deref(), Some("【分３ 毎食後服用】"));
}

#[test]
fn example_04_two_doctors_and_every_dosage_form() {
    let h = parse(TC07_EX04);
    assert!(h.warnings.is_empty(), "{:?}", h.warnings);
    // Gregorian birth date here, era date in the other examples.
    assert_eq!(h.patient.as_ref().unwrap().birth_date, Some(date(1958, 3, 3)));
    let d = &h.dispensings[0];
    assert_eq!(d.pharmacist.as_ref().unwrap().name, "薬剤師 太郎");
    assert_eq!(d.pharmacist.as_ref().unwrap().contact, None);
    let doctors: Vec<_> =
        d.doctors.iter().map(|doc| (doc.name.as_str(), doc.department.as_deref())).collect();
    assert_eq!(doctors, [("工業会 次郎", Some("内科")), ("佐藤 三郎", Some("皮膚科"))]);

    assert_eq!(d.rps.len(), 7);
    let prescriber: Vec<_> = d.rps.iter().map(|rp| rp.doctor.as_ref().unwrap().name.as_str()).collect();
    assert_eq!(
        prescriber,
        ["工業会 次郎", "工業会 次郎", "工業会 次郎", "工業会 次郎", "工業会 次郎", "佐藤 三郎", "佐藤 三郎"]
    );
    let forms: Vec<_> = d.rps.iter().map(|rp| rp.usage.as_ref().unwrap().dosage_form.unwrap()).collect();
    assert_eq!(
        forms,
        [
            DosageForm::Internal,
            DosageForm::Internal,
            DosageForm::External,
            DosageForm::Injection,
            DosageForm::Material,
            DosageForm::External,
            DosageForm::Other,
        ]
    );

    let gargle = &d.rps[2];
    assert_eq!(gargle.drugs[0].name, "ｲｿｼﾞﾝｶﾞｰｸﾞﾙ液7%");
    assert_eq!(gargle.drugs[0].amount.as_deref(), Some("60"));
    assert_eq!(gargle.drugs[0].unit.as_deref(), Some("ml"));
    let usage = gargle.usage.as_ref().unwrap();
    // 〜 (JIS mapping, U+301C) reads as ～ (CP932, U+FF5E).
    assert_eq!(usage.text.as_deref(), Some("【１日３～４回 うがい】"));
    assert_eq!((usage.quantity, usage.quantity_unit.as_deref()), (Some(1), Some("調剤")));
    assert_eq!(usage.days_supply, None);

    let insulin = &d.rps[3].drugs[0];
    assert_eq!(insulin.name, "ﾉﾎﾞﾗﾋﾟｯﾄﾞ注 ﾍﾟﾝﾌｨﾙ 300単位");
    assert_eq!((insulin.amount.as_deref(), insulin.unit.as_deref()), (Some("2"), Some("筒")));
    assert_eq!(d.rps[4].usage.as_ref().unwrap().text, None);
    assert_eq!(d.rps[4].drugs[0].code.as_deref(), Some("710010093"));
    let container = &d.rps[6].drugs[0];
    assert_eq!(container.name, "容器");
    assert_eq!(container.code_type, Some(DrugCodeType::NoCode));
    assert_eq!(container.code, None);

    assert_eq!(d.leftover_checks.len(), 1);
    assert_eq!(d.leftover_checks[0].text, "服用忘れによりｺﾘｵﾊﾟﾝｶﾌﾟｾﾙ12錠残薬あり");
    assert_eq!(d.remarks[0].text, "正しい飲み方は薬袋等をご覧下さい。");
    assert_eq!(d.remarks[0].created_by, Some(RecordCreator::MedicalStaff));
}

#[test]
fn example_07_patient_details_notes_and_precautions() {
    let h = parse(TC07_EX07);
    assert!(h.warnings.is_empty(), "{:?}", h.warnings);
    let p = h.patient.as_ref().unwrap();
    assert_eq!(p.postcode.as_deref(), Some("105-0004"));
    assert_eq!(p.address.as_deref(), Some("東京都港区新橋○丁目"));
    assert_eq!(p.phone.as_deref(), Some("03-0000-0000"));
    assert_eq!(p.emergency_contact.as_deref(), Some("090-0000-0000"));
    assert_eq!(p.blood_type.as_deref(), Some("Ｂ＋"));
    assert_eq!(p.weight_kg, Some(63.7));

    let notes: Vec<_> = h.patient_notes.iter().map(|n| (n.kind.unwrap(), n.text.as_str())).collect();
    assert_eq!(
        notes,
        [
            (PatientNoteKind::Allergy, "乳製品"),
            (PatientNoteKind::SideEffect, "セフェム系（発熱）"),
            (PatientNoteKind::PastIllness, "狭心症（2011年～）"),
            (PatientNoteKind::Other, "嚥下困難"),
        ]
    );

    let d = &h.dispensings[0];
    let pharmacy = d.pharmacy.as_ref().unwrap();
    assert_eq!(pharmacy.postcode.as_deref(), Some("105-0004"));
    assert_eq!(pharmacy.address.as_deref(), Some("東京都港区新橋△丁目"));
    assert_eq!(pharmacy.phone.as_deref(), Some("03-2222-2222"));
    assert_eq!(d.pharmacist.as_ref().unwrap().contact.as_deref(), Some("03-3333-3333"));
    let rp = &d.rps[0];
    assert_eq!(rp.drugs[0].name, "ｱﾀﾞﾗｰﾄL錠10mg");
    assert_eq!(rp.drugs[0].code.as_deref(), Some("612170539"));
    assert_eq!(rp.drugs[0].precautions.len(), 1);
    assert!(rp.drugs[0].precautions[0].text.starts_with("グレープフルーツジュース"));
    assert!(rp.precautions[0].text.starts_with("めまい等が現れる"));
    assert_eq!(d.precautions[0].text, "他の薬を併用する際は、相談してください。");

    assert_eq!(h.family_pharmacists.len(), 1);
    let fp = &h.family_pharmacists[0];
    assert_eq!(fp.name, "薬剤師 太郎");
    assert_eq!(fp.pharmacy.as_deref(), Some("工業会薬局 駅前店"));
    // Required by the layout, empty in the spec's own example.
    assert_eq!(fp.contact, None);
    assert_eq!(fp.created_by, Some(RecordCreator::MedicalStaff));
}

#[test]
fn example_08_information_only_from_a_hospital() {
    let h = parse(TC07_EX08);
    assert!(h.warnings.is_empty(), "{:?}", h.warnings);
    let d = &h.dispensings[0];
    assert!(d.rps.is_empty());
    let hospital = d.pharmacy.as_ref().unwrap();
    assert_eq!(hospital.name, "株式会社 工業病院");
    assert_eq!(hospital.score_table, Some(ScoreTable::Medical));
    assert_eq!(d.pharmacist.as_ref().unwrap().name, "工業会 次郎");
    assert_eq!(d.provider_notes.len(), 1);
    let note = &d.provider_notes[0];
    assert_eq!(note.text, "嚥下困難が見られるため、錠剤は粉砕して投与する。");
    assert_eq!(note.kind, Some(ProviderNoteKind::AfterDischarge));
    assert_eq!(note.created_by, Some(RecordCreator::MedicalStaff));
}

#[test]
fn example_08_of_ver_2_6_reads_the_eight_field_411_alike() {
    let v26 = parse(TC08_EX08);
    assert_eq!(v26.version.number, 8);
    assert!(v26.warnings.is_empty(), "{:?}", v26.warnings);
    assert_eq!(v26.dispensings, parse(TC07_EX08).dispensings);
}

#[test]
fn example_09_two_dispensings_newest_first() {
    let h = parse(TC07_EX09);
    assert!(h.warnings.is_empty(), "{:?}", h.warnings);
    let dates: Vec<_> = h.dispensings.iter().map(|d| d.date).collect();
    assert_eq!(dates, [date(2020, 4, 10), date(2020, 4, 7)]);

    let pain = &h.dispensings[0].rps[1];
    assert_eq!(pain.drugs[0].name, "ﾛｷｿﾆﾝ錠60mg");
    let usage = pain.usage.as_ref().unwrap();
    assert_eq!(usage.text.as_deref(), Some("【腰痛時】"));
    assert_eq!(usage.dosage_form, Some(DosageForm::AsNeeded));
    assert_eq!((usage.quantity, usage.quantity_unit.as_deref()), (Some(10), Some("回分")));
    assert_eq!(usage.days_supply, None);

    let older = &h.dispensings[1];
    assert_eq!(older.pharmacist.as_ref().unwrap().name, "薬剤師 太郎");
    let drugs: Vec<_> = older
        .rps
        .iter()
        .map(|rp| (rp.number, rp.drugs[0].name.as_str(), rp.usage.as_ref().unwrap().days_supply))
        .collect();
    assert_eq!(
        drugs,
        [
            (1, "ｱﾀﾞﾗｰﾄCR錠20mg", Some(28)),
            (2, "ﾌｧﾓﾁｼﾞﾝOD錠20mg「ﾄｰﾜ」", Some(28)),
            (3, "ｼﾝﾊﾞｽﾀﾁﾝ錠10mg", Some(28)),
        ]
    );
}

fn assert_example_11(h: &MedicationHandbook) {
    assert_eq!(h.output_kind, Some(OutputKind::ToProvider));
    assert_eq!(h.patient_notes[2].text, "狭心症（2011年～）");
    assert_eq!(h.otc_drugs[0].name, "ﾊﾞﾌｧﾘﾝ");
    assert_eq!(h.otc_drugs[0].start_date, Some(date(2020, 4, 6)));
    assert_eq!(h.otc_drugs[0].end_date, Some(date(2020, 4, 9)));
    assert_eq!(h.otc_drugs[0].created_by, Some(RecordCreator::Patient));
    let memos: Vec<_> = h.memos.iter().map(|m| (m.text.as_str(), m.date)).collect();
    assert_eq!(
        memos,
        [("健康診断", Some(date(2020, 4, 11))), ("インフルエンザ予防接種", Some(date(2020, 3, 31))),]
    );
    assert!(h.memos.iter().all(|m| m.created_by == Some(RecordCreator::Patient)));

    assert_eq!(h.dispensings.len(), 2);
    let newer = &h.dispensings[0];
    assert_eq!(newer.pharmacist.as_ref().unwrap().name, "薬剤師 次郎");
    assert!(newer.rps[0].drugs[0].precautions[0].text.starts_with("かゆみや発赤"));
    let older = &h.dispensings[1];
    assert_eq!(older.date, date(2020, 4, 7));
    // The patient's export keeps the names only.
    let pharmacy = older.pharmacy.as_ref().unwrap();
    assert_eq!(pharmacy.name, "株式会社 工業会薬局 駅前店");
    assert_eq!((pharmacy.prefecture.as_ref(), pharmacy.score_table), (None, None));
    assert_eq!(pharmacy.national_code(), None);
    assert_eq!(older.rps.len(), 3);
    assert_eq!(older.precautions[0].text, "他の薬を併用する際は、相談してください。");
    assert_eq!(older.patient_entries.len(), 1);
    assert_eq!(older.patient_entries[0].text, "朝に薬を飲んだ後、めまいがあった");
    assert_eq!(older.patient_entries[0].date, Some(date(2020, 4, 7)));
    assert_eq!(h.family_pharmacists[0].name, "薬剤師 次郎");
}

#[test]
fn example_11_patient_export_with_otc_drugs_memos_and_entries() {
    let h = parse(TC07_EX11);
    assert!(h.warnings.is_empty(), "{:?}", h.warnings);
    assert_eq!(h.version.number, 7);
    assert_example_11(&h);
    assert_eq!(h.otc_drugs.len(), 1);
    assert!(h.otc_drugs[0].ingredients.is_empty());
}

#[test]
fn example_11_raw_shift_jis_reads_like_the_utf8_transcription() {
    let sjis = parse(TC07_EX11_SJIS);
    assert_example_11(&sjis);
    assert_eq!(sjis, parse(TC07_EX11));
}

#[test]
fn example_11_of_ver_2_6_adds_otc_ingredients() {
    let h = parse(TC08_EX11);
    assert!(h.warnings.is_empty(), "{:?}", h.warnings);
    assert_eq!(h.version.number, 8);
    assert_example_11(&h);

    let otc: Vec<_> =
        h.otc_drugs.iter().map(|d| (d.name.as_str(), d.sequence, d.ingredients.len())).collect();
    assert_eq!(otc, [("ﾊﾞﾌｧﾘﾝ", Some(1), 3), ("新コンタックかぜ総合", Some(2), 3)]);
    assert_eq!(h.otc_drugs[1].start_date, None);
    let ibuprofen = &h.otc_drugs[0].ingredients[0];
    assert_eq!(ibuprofen.name, "イブプロフェン");
    assert_eq!(ibuprofen.code_type, Some(IngredientCodeType::IngredientCode));
    assert_eq!(ibuprofen.code.as_deref(), Some("1149001"));
    assert_eq!(ibuprofen.created_by, Some(RecordCreator::Patient));
    let dextromethorphan = &h.otc_drugs[1].ingredients[2];
    assert_eq!(dextromethorphan.name, "ﾃﾞｷｽﾄﾛﾒﾄﾙﾌｧﾝ臭化水素酸塩水和物");
    assert_eq!(dextromethorphan.code_type, Some(IngredientCodeType::NoCode));
    assert_eq!(dextromethorphan.code, None);

    // Ver.2.5 appends empty generic-name fields to 201: the same dispensings as Ver.2.4.
    assert_eq!(h.dispensings, parse(TC07_EX11).dispensings);
    assert_eq!(h.patient, parse(TC07_EX11).patient);
    assert_eq!(h.dispensings[0].rps[0].drugs[0].generic_code_type, None::<GenericCodeType>);
}

#[test]
fn split_example_merges_in_either_order() {
    let forward = split_parts([TC08_SPLIT_1, TC08_SPLIT_2]);
    let backward = split_parts([TC08_SPLIT_2, TC08_SPLIT_1]);
    assert_eq!(forward, backward);
    assert!(forward.warnings.is_empty(), "{:?}", forward.warnings);

    let split = forward.split.as_ref().unwrap();
    assert_eq!(split.data_id, "12345678901234");
    assert_eq!(split.part_count, 2);
    assert_eq!(forward.patient.as_ref().unwrap().birth_date, Some(date(1958, 3, 3)));

    let d = &forward.dispensings[0];
    assert_eq!(d.rps.len(), 7);
    // RP 2 straddles the parts: its drugs in part 1, its usage at the top of part 2.
    let rp2 = &d.rps[1];
    assert_eq!(rp2.drugs.len(), 3);
    assert_eq!(rp2.drugs[2].name, "ﾚﾍﾞﾆﾝ散");
    assert_eq!(rp2.usage.as_ref().unwrap().text.as_deref(), Some("【分３ 毎食後服用】"));
    assert_eq!(d.remarks[0].text, "正しい飲み方は薬袋等をご覧下さい。");
    // The same prescription as example 4, which has the same RPs.
    assert_eq!(d.rps, parse(TC07_EX04).dispensings[0].rps);
}

#[test]
fn split_parts_concatenated_in_one_text_merge_too() {
    let mut joined = TC08_SPLIT_2.to_vec();
    joined.extend_from_slice(b"\r\n");
    joined.extend_from_slice(TC08_SPLIT_1);
    assert_eq!(parse(&joined), split_parts([TC08_SPLIT_1, TC08_SPLIT_2]));
}

#[test]
fn a_lone_split_part_is_incomplete_not_a_small_payload() {
    for (part, received, missing) in [(TC08_SPLIT_1, 1, 2), (TC08_SPLIT_2, 2, 1)] {
        let err = jahis::parse(part).unwrap_err();
        assert_eq!(
            err,
            JahisError::IncompleteSplit {
                data_id: "12345678901234".into(),
                count: 2,
                received: vec![received],
                missing: vec![missing],
            }
        );
        assert_eq!(err.code(), "incomplete_split");
        assert!(err.is_incomplete());
    }
    // Scanning part 1 twice does not complete the set.
    let err = jahis::parse_parts(&[Part::new(TC08_SPLIT_1), Part::new(TC08_SPLIT_1)]).unwrap_err();
    assert_eq!(err.code(), "incomplete_split");
}

#[test]
fn split_error_locations_name_the_part() {
    let part2 = String::from_utf8(TC08_SPLIT_2.to_vec()).unwrap().replace("301,3,", "301,x,");
    let err = jahis::parse_parts(&[Part::new(TC08_SPLIT_1), Part::text(&part2)]).unwrap_err();
    let location = err.location().unwrap();
    assert_eq!((location.part, location.line), (Some(2), 4));
    assert!(err.to_string().starts_with("part 2, line 4: record 301"), "{err}");
}

/// Cuts `payload` at `cuts` into Structured Append symbols and passes them in reverse order.
fn structured_append(payload: &[u8], cuts: &[usize]) -> Result<MedicationHandbook, JahisError> {
    let parity = Some(structured_append_parity(payload));
    let mut bounds = vec![0];
    bounds.extend_from_slice(cuts);
    bounds.push(payload.len());
    let count = u8::try_from(bounds.len() - 1).unwrap();
    let mut parts: Vec<Part<'_>> = bounds
        .windows(2)
        .enumerate()
        .map(|(i, w)| Part::symbol(&payload[w[0]..w[1]], u8::try_from(i).unwrap(), count, parity))
        .collect();
    parts.reverse();
    jahis::parse_parts(&parts)
}

#[test]
fn structured_append_joins_a_double_byte_character_cut_between_symbols() {
    // Bytes 15-16 are 0x97 0xE9 (鈴) in the Shift_JIS file: cut between them.
    assert_eq!(&TC07_EX11_SJIS[15..17], b"\x97\xE9");
    let joined = structured_append(TC07_EX11_SJIS, &[16, 700]).unwrap();
    assert_eq!(joined, parse(TC07_EX11_SJIS));
    assert_eq!(joined.patient.unwrap().name, "鈴木 太郎");

    // Decoding the first symbol on its own would break the character.
    let alone = jahis::parse(&TC07_EX11_SJIS[..16]).unwrap_err();
    assert_eq!(alone.code(), "undecodable_bytes");
}

#[test]
fn structured_append_also_carries_utf8_cut_inside_a_character() {
    // Byte 15 is inside the three-byte UTF-8 鈴.
    let joined = structured_append(TC07_EX11, &[15, 16, 900]).unwrap();
    assert_eq!(joined, parse(TC07_EX11));
}

#[test]
fn structured_append_symbols_of_split_parts_combine_both_mechanisms() {
    let p1 = structured_append_parity(TC08_SPLIT_1);
    let p2 = structured_append_parity(TC08_SPLIT_2);
    let parts = [
        Part::symbol(&TC08_SPLIT_2[300..], 1, 2, Some(p2)),
        Part::symbol(&TC08_SPLIT_1[..100], 0, 2, Some(p1)),
        Part::symbol(&TC08_SPLIT_2[..300], 0, 2, Some(p2)),
        Part::symbol(&TC08_SPLIT_1[100..], 1, 2, Some(p1)),
    ];
    assert_eq!(jahis::parse_parts(&parts).unwrap(), split_parts([TC08_SPLIT_1, TC08_SPLIT_2]));
}

#[test]
fn every_sample_keeps_the_same_result_through_line_ending_changes() {
    for sample in [TC07_EX01, TC07_EX04, TC07_EX07, TC07_EX09, TC07_EX11, TC08_EX11] {
        let lf = parse(sample);
        let text = std::str::from_utf8(sample).unwrap();
        let crlf = text.replace('\n', "\r\n") + "\r\n\u{1A}";
        assert_eq!(parse(crlf.as_bytes()), lf);
        let cr = text.replace('\n', "\r");
        assert_eq!(parse(cr.as_bytes()), lf);
    }
}

#[test]
fn json_output_is_camel_case_with_iso_dates() {
    let json = serde_json::to_value(parse(TC07_EX01)).unwrap();
    assert_eq!(json["version"]["newerThanKnown"], false);
    assert_eq!(json["outputKind"], "toPatient");
    assert_eq!(json["patient"]["birthDate"], "1958-03-03");
    assert_eq!(json["patient"]["sex"], "male");
    let d = &json["dispensings"][0];
    assert_eq!(d["date"], "2020-04-10");
    assert_eq!(d["pharmacy"]["scoreTable"], "pharmacy");
    assert_eq!(d["prescribingInstitution"]["name"], "医療法人 工業会病院");
    assert_eq!(d["rps"][0]["drugs"][0]["codeType"], "receipt");
    assert_eq!(d["rps"][0]["usage"]["dosageForm"], "internal");
    assert_eq!(d["rps"][0]["usage"]["daysSupply"], 5);
    let back: MedicationHandbook = serde_json::from_value(json).unwrap();
    assert_eq!(back, parse(TC07_EX01));
}

#[test]
fn fingerprints_are_stable_across_rescans_encodings_and_versions() {
    let key = |bytes: &[u8], i: usize| parse(bytes).dispensings[i].fingerprint();
    let first = key(TC07_EX01, 0);
    assert!(first.starts_with("jahis-dispensing/v1\ndate=2020-04-10\npharmacy=株式会社工業会薬局駅前店\n"));
    assert!(first.contains("item=コリオパンカプセル5mg|4|c|5|日分|1\n"), "{first}");
    assert_eq!(first, key(TC07_EX01, 0));
    assert_eq!(key(TC07_EX11, 0), key(TC07_EX11_SJIS, 0));
    assert_eq!(key(TC07_EX11, 1), key(TC08_EX11, 1));
    // The patient's export of 2020-04-07 drops the pharmacy code: still the same dispensing.
    assert_eq!(key(TC07_EX09, 1), key(TC08_EX11, 1));
    assert_ne!(key(TC07_EX11, 0), key(TC07_EX11, 1));
    // Same day, same pharmacy, other drugs.
    assert_ne!(key(TC07_EX01, 0), key(TC07_EX04, 0));
    // Information-only dispensings differ by their notes.
    assert!(key(TC07_EX08, 0).contains("note=嚥下困難"));
}

#[test]
fn fingerprint_ignores_rp_numbering_and_order_but_not_amounts() {
    let base = "JAHISTC08,1\n5,R020410,1\n11,薬局,13,4,1234567,,,,1\n";
    let a = format!(
        "{base}201,1,薬A,1,錠,2,111111111,1\n301,1,x,7,日分,1,1,,1\n201,2,薬B,2,錠,2,222222222,1\n301,2,y,7,日分,1,1,,1\n"
    );
    let b = format!(
        "{base}201,1,薬B,2.0,錠,2,222222222,1\n301,1,y,7,日分,1,1,,1\n201,2,薬A,1,錠,2,111111111,1\n301,2,x,7,日分,1,1,,1\n"
    );
    let c = format!(
        "{base}201,1,薬A,1,錠,2,111111111,1\n301,1,x,7,日分,1,1,,1\n201,2,薬B,3,錠,2,222222222,1\n301,2,y,7,日分,1,1,,1\n"
    );
    let key = |s: &str| parse(s.as_bytes()).dispensings[0].fingerprint();
    assert_eq!(key(&a), key(&b));
    assert_ne!(key(&a), key(&c));
}
