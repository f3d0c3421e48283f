//! Which pharmacy dispensing fills which hospital prescription. Pure: the
//! timeline service loads the candidates and asks here.
//!
//! A dispensing fills a prescription when all of these hold:
//! - the dispensing's prescribing institution (JAHIS record 11, 10-digit
//!   national code) is the facility that sent the prescription;
//! - it was dispensed on or after the prescription date and before the
//!   prescription lapses: 4 days including the day of issue (the validity of
//!   a Japanese prescription), or the days supply when that is longer
//!   (a refill or split dispensing);
//! - one of its drugs is the prescribed drug: the same code where both sides
//!   use a comparable code system (HOT: the 9-digit HOT9 is the prefix of the
//!   13-digit HOT13; YJ and receipt codes compare as they are), otherwise the
//!   same normalized name (brackets, spaces and width differences ignored).

use chrono::{Duration, NaiveDate};
use phr_formats::ssmix2::normalize_for_match;

/// Days a prescription can be filled, including the day it was written.
pub const VALIDITY_DAYS: i64 = 4;

/// A drug as either side names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrugRef {
    /// `HOT`, `YJ`, `RECEIPT` or another system as written; `None` without a code.
    pub system: Option<String>,
    pub code: Option<String>,
    pub name: String,
}

impl DrugRef {
    /// From an HL7 RXE code system (`HOT9`, `HOT13`, `YJ`, …).
    pub fn from_hl7(system: Option<&str>, code: Option<&str>, name: &str) -> Self {
        let system = system.map(|s| {
            let s = s.trim().to_ascii_uppercase();
            if s.starts_with("HOT") { "HOT".to_owned() } else { s }
        });
        DrugRef { system, code: code.map(|c| c.trim().to_owned()), name: name.to_owned() }
    }

    /// From a JAHIS record 201 code type (`2` receipt, `3` MHLW, `4` YJ, `6` HOT).
    pub fn from_jahis(code_type: Option<&str>, code: Option<&str>, name: &str) -> Self {
        let system = code_type.and_then(|t| match t {
            "2" => Some("RECEIPT"),
            "3" => Some("MHLW"),
            "4" => Some("YJ"),
            "6" => Some("HOT"),
            _ => None,
        });
        DrugRef {
            system: system.map(str::to_owned),
            code: code.map(|c| c.trim().to_owned()),
            name: name.to_owned(),
        }
    }
}

/// The name without what differs between systems: width, spaces, brackets.
pub fn normalized_name(name: &str) -> String {
    normalize_for_match(name)
        .chars()
        .filter(|c| !matches!(c, '(' | ')' | '（' | '）' | '【' | '】' | '[' | ']' | '「' | '」'))
        .collect()
}

/// The same drug, by code where comparable, else by name.
pub fn same_drug(a: &DrugRef, b: &DrugRef) -> bool {
    if let (Some(sa), Some(ca), Some(sb), Some(cb)) = (&a.system, &a.code, &b.system, &b.code)
        && sa == sb
        && !ca.is_empty()
        && !cb.is_empty()
    {
        return if sa == "HOT" {
            let (short, long) = if ca.len() <= cb.len() { (ca, cb) } else { (cb, ca) };
            short.len() >= 9 && long.starts_with(short.as_str())
        } else {
            ca == cb
        };
    }
    let (na, nb) = (normalized_name(&a.name), normalized_name(&b.name));
    !na.is_empty() && na == nb
}

/// Whether a dispensing on `dispensed_on` falls in the prescription's window.
pub fn within_window(prescribed_on: NaiveDate, days_supply: Option<i32>, dispensed_on: NaiveDate) -> bool {
    let days = i64::from(days_supply.unwrap_or(0)).max(VALIDITY_DAYS);
    dispensed_on >= prescribed_on && dispensed_on < prescribed_on + Duration::days(days)
}

/// Whether the institution code on a dispensing names the prescribing facility.
pub fn same_institution(dispensing_code: Option<&str>, facility_code: Option<&str>) -> bool {
    match (dispensing_code, facility_code) {
        (Some(a), Some(b)) => !a.is_empty() && a.trim() == b.trim(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap_or_default()
    }

    #[test]
    fn hot9_is_the_prefix_of_hot13() {
        let rx = DrugRef::from_hl7(Some("HOT9"), Some("108665201"), "ダーゼン錠（５mg)");
        let hot13 = DrugRef::from_jahis(Some("6"), Some("1086652010101"), "ダーゼン錠５ｍｇ");
        assert!(same_drug(&rx, &hot13));
        let other = DrugRef::from_jahis(Some("6"), Some("1106269010101"), "ダーゼン錠５ｍｇ");
        assert!(!same_drug(&rx, &other), "a code that differs decides, whatever the name");
    }

    #[test]
    fn names_match_across_width_and_brackets_when_codes_are_not_comparable() {
        let rx = DrugRef::from_hl7(Some("HOT9"), Some("108665201"), "ダーゼン錠（５mg)");
        let yj = DrugRef::from_jahis(Some("4"), Some("2235001F1030"), "ダーゼン錠５ｍｇ");
        assert!(same_drug(&rx, &yj));
        let no_code = DrugRef::from_jahis(Some("1"), None, "パンスポリンＴ錠（１００ｍｇ）");
        let rx2 = DrugRef::from_hl7(Some("HOT9"), Some("110626901"), "パンスポリンＴ錠（１００mg)");
        assert!(same_drug(&rx2, &no_code));
        assert!(!same_drug(&rx, &no_code));
    }

    #[test]
    fn window_is_validity_or_days_supply() {
        let on = d(2011, 7, 1);
        assert!(within_window(on, None, on));
        assert!(within_window(on, None, d(2011, 7, 4)));
        assert!(!within_window(on, None, d(2011, 7, 5)));
        assert!(!within_window(on, Some(5), d(2011, 6, 30)));
        assert!(within_window(on, Some(14), d(2011, 7, 14)));
        assert!(!within_window(on, Some(14), d(2011, 7, 15)));
    }

    #[test]
    fn institutions_match_on_the_full_code_only() {
        assert!(same_institution(Some("2213012345"), Some("2213012345")));
        assert!(!same_institution(Some("2213012345"), Some("2213012346")));
        assert!(!same_institution(None, Some("2213012345")));
        assert!(!same_institution(Some(""), Some("")));
    }
}
