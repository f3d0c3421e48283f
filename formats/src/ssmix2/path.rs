//! SS-MIX2 standardized storage paths:
//! `<root>/<PID 1-3>/<PID 4-6>/<PID>/<date or ->/<data kind>/<PID>_<date>_<kind>_<orderNo>_<timestamp>_<dept>_<condition>`.

use std::fmt;

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

use super::error::PathError;
use crate::hl7::excerpt;

/// Order number of data kinds that have none (ADT-*, some results).
pub const NO_ORDER_NUMBER: &str = "999999999999999";

/// A data kind (データ種別): `OML-11`. Three upper-case letters, a hyphen, two digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DataKind(String);

/// (data kind, meaning, HL7 message types it is sent as).
const KNOWN_KINDS: &[(&str, &str, &[&str])] = &[
    ("ADT-00", "patient demographics (患者基本情報)", &["ADT^A08", "ADT^A23"]),
    ("ADT-22", "admission (入院実施)", &["ADT^A01", "ADT^A11"]),
    ("ADT-52", "discharge (退院実施)", &["ADT^A03", "ADT^A13"]),
    ("ADT-61", "allergies (アレルギー情報)", &["ADT^A60"]),
    ("PPR-01", "diagnoses (病名情報)", &["PPR^ZD1"]),
    ("OMP-01", "prescription order (処方オーダ)", &["RDE^O11"]),
    ("OMP-11", "administered drugs (処方実施)", &["RAS^O17"]),
    ("OML-01", "laboratory order (検体検査オーダ)", &["OML^O33"]),
    ("OML-11", "laboratory result (検体検査結果)", &["OUL^R22"]),
    ("OMG-13", "physiology result (生理検査結果)", &["ORU^R01"]),
];

impl DataKind {
    /// `None` unless three ASCII upper-case letters, `-` and two digits.
    #[must_use]
    pub fn parse(kind: &str) -> Option<Self> {
        let b = kind.as_bytes();
        let ok = b.len() == 6
            && b.iter().take(3).all(u8::is_ascii_uppercase)
            && b.get(3) == Some(&b'-')
            && b.iter().skip(4).all(u8::is_ascii_digit);
        ok.then(|| Self(kind.to_owned()))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What the kind holds, for the kinds this crate knows.
    #[must_use]
    pub fn description(&self) -> Option<&'static str> {
        KNOWN_KINDS.iter().find(|(k, ..)| *k == self.0).map(|(_, d, _)| *d)
    }

    /// The `code^trigger` message types the kind is sent as (empty when not known here).
    #[must_use]
    pub fn message_types(&self) -> &'static [&'static str] {
        KNOWN_KINDS.iter().find(|(k, ..)| *k == self.0).map_or(&[], |(.., types)| types)
    }

    /// Kinds stored under the date folder `-` (not tied to a day of care).
    #[must_use]
    pub fn is_undated(&self) -> bool {
        matches!(self.0.as_str(), "ADT-00" | "ADT-61" | "PPR-01")
    }
}

impl TryFrom<String> for DataKind {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value).ok_or_else(|| "not an SS-MIX2 data kind (XXX-00)".to_owned())
    }
}

impl From<DataKind> for String {
    fn from(kind: DataKind) -> Self {
        kind.0
    }
}

impl fmt::Display for DataKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The condition flag (コンディションフラグ), the last part of a file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ConditionFlag {
    /// `1`: the data was created or updated; it replaces what an earlier file with the same
    /// [`FileKey`] created.
    Active,
    /// `0`: the data was deleted.
    Deleted,
    /// `2`: the order was cancelled (中止).
    Cancelled,
}

impl ConditionFlag {
    #[must_use]
    pub fn code(self) -> char {
        match self {
            Self::Active => '1',
            Self::Deleted => '0',
            Self::Cancelled => '2',
        }
    }

    /// Deleted or cancelled: what earlier files with the same key created goes away.
    #[must_use]
    pub fn removes(self) -> bool {
        self != Self::Active
    }
}

/// What identifies one piece of data across its versions: files with the same key are
/// versions of each other, the one with the latest timestamp wins, and a
/// [`ConditionFlag::removes`] flag removes it. Department and timestamp are not part of it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileKey {
    pub patient_id: String,
    pub date: Option<NaiveDate>,
    pub data_kind: DataKind,
    pub order_number: String,
}

/// A parsed standardized storage file name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileName {
    /// The facility's patient ID (may itself contain `_`).
    pub patient_id: String,
    /// The day of care (診療日); `None` for `-`.
    pub date: Option<NaiveDate>,
    pub data_kind: DataKind,
    /// オーダNO as written: 15 digits in the standard, [`NO_ORDER_NUMBER`] when none; other
    /// letters and digits are accepted.
    pub order_number: String,
    /// 発生日時 (yyyyMMddHHmmssfff).
    pub timestamp: NaiveDateTime,
    /// 診療科 code; `None` for `-`.
    pub department: Option<String>,
    pub condition: ConditionFlag,
}

fn invalid(reason: impl Into<String>) -> PathError {
    PathError::InvalidFileName { reason: reason.into() }
}

impl FileName {
    /// Parses a file name (no folders).
    ///
    /// # Errors
    /// [`PathError::InvalidFileName`] naming the part that is wrong;
    /// [`PathError::ExtendedStorage`] for `main_document.hl7`.
    pub fn parse(name: &str) -> Result<Self, PathError> {
        if name.starts_with("main_document") {
            return Err(PathError::ExtendedStorage);
        }
        // Split from the right: the patient ID is everything before the last six parts.
        let mut parts = name.rsplitn(7, '_');
        let mut next = |what: &str| parts.next().ok_or_else(|| invalid(format!("the {what} is missing")));
        let condition = next("condition flag")?;
        let department = next("department")?;
        let timestamp = next("timestamp")?;
        let order_number = next("order number")?;
        let data_kind = next("data kind")?;
        let date = next("date")?;
        let patient_id = next("patient ID")?;

        if patient_id.is_empty() || patient_id.chars().any(|c| c.is_control() || c == '/' || c == '\\') {
            return Err(invalid("the patient ID is empty or holds a control character or slash"));
        }
        let date = parse_date_part(date)?;
        let data_kind = DataKind::parse(data_kind).ok_or_else(|| {
            invalid(format!(
                "data kind {:?} is not three capital letters, '-' and two digits",
                excerpt(data_kind, 8)
            ))
        })?;
        if order_number.is_empty() || !order_number.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(invalid(format!(
                "order number {:?} is not letters and digits",
                excerpt(order_number, 20)
            )));
        }
        let timestamp = parse_timestamp(timestamp).ok_or_else(|| {
            invalid(format!("timestamp {:?} is not a valid yyyyMMddHHmmssfff", excerpt(timestamp, 20)))
        })?;
        let department = match department {
            "-" => None,
            d if !d.is_empty() && d.bytes().all(|b| b.is_ascii_graphic() && b != b'/' && b != b'\\') => {
                Some(d.to_owned())
            }
            d => return Err(invalid(format!("department {:?} is neither '-' nor a code", excerpt(d, 8)))),
        };
        let condition = match condition {
            "1" => ConditionFlag::Active,
            "0" => ConditionFlag::Deleted,
            "2" => ConditionFlag::Cancelled,
            c => return Err(invalid(format!("condition flag {:?} is not 0, 1 or 2", excerpt(c, 4)))),
        };
        Ok(Self {
            patient_id: patient_id.to_owned(),
            date,
            data_kind,
            order_number: order_number.to_owned(),
            timestamp,
            department,
            condition,
        })
    }

    /// Parses a storage-relative (or absolute) path: the file name and, when present, checks
    /// the folders above it against it (`<PID 1-3>/<PID 4-6>/<PID>/<date>/<kind>/`, compared
    /// from the file upwards; folders above those are the storage root and ignored). `/` and
    /// `\` both separate folders. The two hash folders are not checked for patient IDs shorter
    /// than six characters.
    ///
    /// # Errors
    /// [`PathError::InvalidPath`] for an empty path or a `..` folder,
    /// [`PathError::ExtendedStorage`] for extended-storage paths, [`PathError::FolderMismatch`]
    /// when a folder disagrees with the file name, and the errors of [`FileName::parse`].
    pub fn from_path(path: &str) -> Result<Self, PathError> {
        let parts: Vec<&str> = path.split(['/', '\\']).filter(|p| !p.is_empty() && *p != ".").collect();
        if parts.contains(&"..") {
            return Err(PathError::InvalidPath { reason: "it contains a '..' folder" });
        }
        let Some((file, folders)) = parts.split_last() else {
            return Err(PathError::InvalidPath { reason: "it is empty" });
        };
        if folders.iter().any(|f| f.contains('^')) {
            return Err(PathError::ExtendedStorage);
        }
        let name = Self::parse(file)?;
        let date = name.date.map_or_else(|| "-".to_owned(), |d| d.format("%Y%m%d").to_string());
        let pid = name.patient_id.as_str();
        let hashes = pid.chars().count() >= 6;
        let expected: [(&'static str, Option<String>, bool); 5] = [
            ("data kind", Some(name.data_kind.to_string()), true),
            ("date", Some(date), true),
            ("patient", Some(pid.to_owned()), false),
            ("second patient ID hash", hashes.then(|| pid.chars().skip(3).take(3).collect()), false),
            ("first patient ID hash", hashes.then(|| pid.chars().take(3).collect()), false),
        ];
        for (found, (folder, expected, quote)) in folders.iter().rev().zip(expected) {
            if expected.as_deref().is_some_and(|e| e != *found) {
                return Err(PathError::FolderMismatch { folder, found: quote.then(|| excerpt(found, 12)) });
            }
        }
        Ok(name)
    }

    /// The key shared by all versions of the same data.
    #[must_use]
    pub fn key(&self) -> FileKey {
        FileKey {
            patient_id: self.patient_id.clone(),
            date: self.date,
            data_kind: self.data_kind.clone(),
            order_number: self.order_number.clone(),
        }
    }

    /// The order number, unless it is [`NO_ORDER_NUMBER`].
    #[must_use]
    pub fn order(&self) -> Option<&str> {
        (self.order_number != NO_ORDER_NUMBER).then_some(self.order_number.as_str())
    }

    /// The path relative to the storage root where this file belongs.
    #[must_use]
    pub fn relative_path(&self) -> String {
        let pid = &self.patient_id;
        let first: String = pid.chars().take(3).collect();
        let second: String = pid.chars().skip(3).take(3).collect();
        let date = self.date.map_or_else(|| "-".to_owned(), |d| d.format("%Y%m%d").to_string());
        format!("{first}/{second}/{pid}/{date}/{}/{self}", self.data_kind)
    }
}

impl fmt::Display for FileName {
    /// The file name as the standard spells it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let date = self.date.map_or_else(|| "-".to_owned(), |d| d.format("%Y%m%d").to_string());
        write!(
            f,
            "{}_{date}_{}_{}_{}_{}_{}",
            self.patient_id,
            self.data_kind,
            self.order_number,
            self.timestamp.format("%Y%m%d%H%M%S%3f"),
            self.department.as_deref().unwrap_or("-"),
            self.condition.code()
        )
    }
}

fn parse_date_part(date: &str) -> Result<Option<NaiveDate>, PathError> {
    if date == "-" {
        return Ok(None);
    }
    let valid = date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit());
    valid
        .then(|| NaiveDate::parse_from_str(date, "%Y%m%d").ok())
        .flatten()
        .map(Some)
        .ok_or_else(|| invalid(format!("date {:?} is neither '-' nor a valid yyyyMMdd", excerpt(date, 10))))
}

fn parse_timestamp(s: &str) -> Option<NaiveDateTime> {
    if s.len() != 17 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (seconds, millis) = s.split_at(14);
    let base = NaiveDateTime::parse_from_str(seconds, "%Y%m%d%H%M%S").ok()?;
    let millis: i64 = millis.parse().ok()?;
    base.checked_add_signed(chrono::Duration::milliseconds(millis))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const OMP: &str = "9999013_20110701_OMP-01_000000011000185_20110701224603984_01_1";

    #[test]
    fn a_file_name_parses_into_its_seven_parts_and_prints_back() {
        let f = FileName::parse(OMP).unwrap();
        assert_eq!(f.patient_id, "9999013");
        assert_eq!(f.date, NaiveDate::from_ymd_opt(2011, 7, 1));
        assert_eq!(f.data_kind.as_str(), "OMP-01");
        assert_eq!(f.order_number, "000000011000185");
        assert_eq!(f.order(), Some("000000011000185"));
        assert_eq!(f.timestamp.to_string(), "2011-07-01 22:46:03.984");
        assert_eq!(f.department.as_deref(), Some("01"));
        assert_eq!(f.condition, ConditionFlag::Active);
        assert_eq!(f.to_string(), OMP);
        assert_eq!(f.relative_path(), format!("999/901/9999013/20110701/OMP-01/{OMP}"));
    }

    #[test]
    fn undated_kinds_and_no_department_use_a_hyphen() {
        let f = FileName::parse("9999013_-_ADT-00_999999999999999_20111220224447339_-_1").unwrap();
        assert_eq!((f.date, f.department.as_deref(), f.order()), (None, None, None));
        assert!(f.data_kind.is_undated());
        assert_eq!(f.data_kind.message_types(), ["ADT^A08", "ADT^A23"]);
        assert_eq!(
            f.relative_path(),
            "999/901/9999013/-/ADT-00/9999013_-_ADT-00_999999999999999_20111220224447339_-_1"
        );
    }

    #[test]
    fn condition_flags_and_keys() {
        let deleted =
            FileName::parse("9999013_20110701_OMP-01_000000011000185_20110702000000000_01_0").unwrap();
        let cancelled =
            FileName::parse("9999013_20110701_OMP-01_000000011000185_20110703000000000_02_2").unwrap();
        assert_eq!(deleted.condition, ConditionFlag::Deleted);
        assert_eq!(cancelled.condition, ConditionFlag::Cancelled);
        assert!(deleted.condition.removes() && cancelled.condition.removes());
        assert!(!ConditionFlag::Active.removes());
        let created = FileName::parse(OMP).unwrap();
        assert_eq!(created.key(), deleted.key());
        assert_eq!(created.key(), cancelled.key());
    }

    #[test]
    fn a_patient_id_with_underscores_is_kept_whole() {
        let f = FileName::parse("AB_12_-_ADT-00_999999999999999_20111220224447339_-_1").unwrap();
        assert_eq!(f.patient_id, "AB_12");
    }

    #[test]
    fn malformed_file_names_say_which_part_is_wrong() {
        for (name, part) in [
            ("", "department is missing"),
            ("9999013_20110701_OMP-01_000000011000185_20110701224603984_01", "patient ID is missing"),
            ("9999013_2011070_OMP-01_000000011000185_20110701224603984_01_1", "date"),
            ("9999013_20110231_OMP-01_000000011000185_20110701224603984_01_1", "date"),
            ("9999013_20110701_OMP01_000000011000185_20110701224603984_01_1", "data kind"),
            ("9999013_20110701_omp-01_000000011000185_20110701224603984_01_1", "data kind"),
            ("9999013_20110701_OMP-01__20110701224603984_01_1", "order number"),
            ("9999013_20110701_OMP-01_000000011000185_2011070122460398_01_1", "timestamp"),
            ("9999013_20110701_OMP-01_000000011000185_20111301224603984_01_1", "timestamp"),
            ("9999013_20110701_OMP-01_000000011000185_20110701224603984__1", "department"),
            ("9999013_20110701_OMP-01_000000011000185_20110701224603984_01_3", "condition flag"),
            ("_20110701_OMP-01_000000011000185_20110701224603984_01_1", "patient ID"),
        ] {
            let err = FileName::parse(name).unwrap_err();
            assert_eq!(err.code(), "invalid_file_name", "{name}");
            assert!(err.to_string().contains(part), "{name}: {err}");
        }
    }

    #[test]
    fn storage_paths_are_checked_folder_by_folder() {
        let full = format!("/srv/ssmix2/999/901/9999013/20110701/OMP-01/{OMP}");
        assert_eq!(FileName::from_path(&full).unwrap(), FileName::parse(OMP).unwrap());
        assert!(FileName::from_path(OMP).is_ok());
        assert!(FileName::from_path(&format!("OMP-01/{OMP}")).is_ok());
        assert!(FileName::from_path(&format!("999\\901\\9999013\\20110701\\OMP-01\\{OMP}")).is_ok());
        for (path, folder) in [
            (format!("999/901/9999013/20110701/OMP-02/{OMP}"), "data kind"),
            (format!("999/901/9999013/20110702/OMP-01/{OMP}"), "date"),
            (format!("999/901/9999012/20110701/OMP-01/{OMP}"), "patient"),
            (format!("999/902/9999013/20110701/OMP-01/{OMP}"), "second patient ID hash"),
            (format!("998/901/9999013/20110701/OMP-01/{OMP}"), "first patient ID hash"),
        ] {
            match FileName::from_path(&path).unwrap_err() {
                PathError::FolderMismatch { folder: got, found } => {
                    assert_eq!(got, folder, "{path}");
                    // Folders that spell the patient ID are not quoted.
                    assert_eq!(found.is_some(), matches!(folder, "data kind" | "date"), "{path}");
                }
                other => panic!("{path}: {other:?}"),
            }
        }
        let short = "12345_-_ADT-00_999999999999999_20111220224447339_-_1";
        assert!(FileName::from_path(&format!("x/y/12345/-/ADT-00/{short}")).is_ok());
    }

    #[test]
    fn unusable_and_extended_storage_paths_are_refused() {
        assert_eq!(FileName::from_path("").unwrap_err().code(), "invalid_path");
        assert_eq!(FileName::from_path("//").unwrap_err().code(), "invalid_path");
        assert_eq!(FileName::from_path(&format!("../{OMP}")).unwrap_err().code(), "invalid_path");
        assert_eq!(
            FileName::from_path("999/901/9999013/20110701/OMP-01^x/y/main_document.hl7").unwrap_err(),
            PathError::ExtendedStorage
        );
        assert_eq!(FileName::parse("main_document.hl7").unwrap_err(), PathError::ExtendedStorage);
    }
}
