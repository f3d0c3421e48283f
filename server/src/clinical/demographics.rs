//! The demographics check: a facility's document names a patient (PID-5 kana
//! name, PID-7 birth date, PID-8 sex); where the linked person's record says
//! otherwise, the document is held for the person's review instead of being
//! imported silently. A field the person left empty cannot disagree.

use phr_formats::ssmix2::{Patient, Sex, normalize_for_match};

use crate::entities::person;

/// Kana for comparison (the formats crate's [`normalize_for_match`]: hiragana
/// and half-width katakana folded to katakana, spaces removed), without the
/// middle dot. `None` when the text holds anything but kana.
pub fn normalize_kana(text: &str) -> Option<String> {
    let n: String = normalize_for_match(text).chars().filter(|c| *c != '・').collect();
    (!n.is_empty() && n.chars().all(|c| matches!(c, 'ァ'..='ヺ' | 'ー' | 'ヽ' | 'ヾ'))).then_some(n)
}

/// The person's `sex` spelling for an HL7 value, where one exists.
fn sex_word(s: Sex) -> Option<&'static str> {
    match s {
        Sex::Male => Some("male"),
        Sex::Female => Some("female"),
        Sex::Other => Some("other"),
        Sex::Unknown | Sex::Ambiguous | Sex::NotApplicable => None,
    }
}

/// What disagrees between the person and the document's patient, as
/// `field: person vs document` phrases (empty when everything agrees).
pub fn mismatches(person: &person::Model, patient: &Patient) -> Vec<String> {
    let mut out = Vec::new();
    if let (Some(mine), Some(theirs)) = (person.birth_date, patient.birth_date)
        && mine != theirs
    {
        out.push(format!("birthDate: {mine} vs {theirs}"));
    }
    if let (Some(mine), Some(theirs)) = (person.sex.as_deref(), patient.sex.and_then(sex_word))
        && mine != "unknown"
        && mine != theirs
    {
        out.push(format!("sex: {mine} vs {theirs}"));
    }
    if let (Some(mine), Some(theirs)) = (person.name_kana.as_deref(), patient.kana_name.as_ref()) {
        let a = normalize_kana(mine);
        let b = normalize_kana(&theirs.full);
        if a.is_some() && b.is_some() && a != b {
            out.push(format!("nameKana: {mine} vs {}", theirs.full));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn kana_folds_hiragana_half_width_and_spaces() {
        let want = Some("カンジャタロウ".to_owned());
        assert_eq!(normalize_kana("カンジャ タロウ"), want);
        assert_eq!(normalize_kana("かんじゃ　たろう"), want);
        assert_eq!(normalize_kana("ｶﾝｼﾞｬ ﾀﾛｳ"), want);
        assert_eq!(normalize_kana("ﾊﾟﾊﾟ"), Some("パパ".to_owned()));
        assert_eq!(normalize_kana("患者 太郎"), None);
        assert_eq!(normalize_kana("  "), None);
        assert_ne!(normalize_kana("カンジャ タロウ"), normalize_kana("カンジャ ジロウ"));
    }
}
