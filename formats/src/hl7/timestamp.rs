//! HL7 date/time values (DT, DTM, TS: `YYYY[MM[DD[HH[MM[SS[.S…]]]]]][+/-ZZZZ]`) keeping the
//! precision the sender used, and NM numbers. On the wire a [`Timestamp`] is ISO 8601 cut to
//! that precision: `2011-12`, `2011-12-19T15:00`, `2011-07-01T22:46:03.984+09:00`.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How much of a [`Timestamp`] the sender gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Precision {
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    /// Seconds with 1 to 9 fractional digits.
    Fraction(u8),
}

/// An HL7 date or date/time with its precision and, when the sender gave one, its UTC offset.
/// Without an offset it is local time at the sender (JST for Japanese facilities): see
/// [`Timestamp::with_default_offset`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timestamp {
    local: NaiveDateTime,
    precision: Precision,
    offset: Option<FixedOffset>,
}

impl Timestamp {
    /// Parses an HL7 DT/DTM/TS value: `2011`, `201112`, `20111219`, `2011121915`,
    /// `201112191500`, `20111219150000`, `20111220224447.3399`, each optionally followed by
    /// `+0900` or `-0500`. Surrounding spaces are ignored. Impossible dates and times
    /// (`20110230`, `2400`) are `None`.
    #[must_use]
    pub fn parse(value: &str) -> Option<Self> {
        let value = value.trim();
        if !value.is_ascii() {
            return None;
        }
        let (main, offset) = match value.get(4..).and_then(|tail| tail.find(['+', '-'])) {
            Some(i) => {
                let (main, zone) = value.split_at(i + 4);
                (main, Some(parse_offset(zone)?))
            }
            None => (value, None),
        };
        let (digits, fraction) = match main.split_once('.') {
            Some((digits, fraction)) => (digits, Some(fraction)),
            None => (main, None),
        };
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let number = |range: std::ops::Range<usize>| digits.get(range).and_then(|s| s.parse::<u32>().ok());
        let precision = match (digits.len(), fraction) {
            (4, None) => Precision::Year,
            (6, None) => Precision::Month,
            (8, None) => Precision::Day,
            (10, None) => Precision::Hour,
            (12, None) => Precision::Minute,
            (14, None) => Precision::Second,
            (14, Some(f)) if (1..=9).contains(&f.len()) && f.bytes().all(|b| b.is_ascii_digit()) => {
                Precision::Fraction(u8::try_from(f.len()).ok()?)
            }
            _ => return None,
        };
        let year = i32::try_from(number(0..4)?).ok()?;
        let date = NaiveDate::from_ymd_opt(year, number(4..6).unwrap_or(1), number(6..8).unwrap_or(1))?;
        let nanos = match fraction {
            Some(f) => f.parse::<u32>().ok()? * 10u32.pow(9 - u32::try_from(f.len()).ok()?),
            None => 0,
        };
        let time = NaiveTime::from_hms_nano_opt(
            number(8..10).unwrap_or(0),
            number(10..12).unwrap_or(0),
            number(12..14).unwrap_or(0),
            nanos,
        )?;
        Some(Self { local: date.and_time(time), precision, offset })
    }

    /// How much the sender gave.
    #[must_use]
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// The date and time as written, missing parts filled with their start (`2011-12` is
    /// 2011-12-01 00:00).
    #[must_use]
    pub fn naive(&self) -> NaiveDateTime {
        self.local
    }

    /// The date part.
    #[must_use]
    pub fn date(&self) -> NaiveDate {
        self.local.date()
    }

    /// The UTC offset the sender wrote, if any.
    #[must_use]
    pub fn offset(&self) -> Option<FixedOffset> {
        self.offset
    }

    /// An instant, reading a value without offset as local time at `default` (JST,
    /// `FixedOffset::east_opt(9 * 3600)`, for Japanese facilities).
    #[must_use]
    pub fn with_default_offset(&self, default: FixedOffset) -> Option<DateTime<FixedOffset>> {
        self.local.and_local_timezone(self.offset.unwrap_or(default)).single()
    }
}

fn parse_offset(zone: &str) -> Option<FixedOffset> {
    let (sign, digits) = match zone.as_bytes().first()? {
        b'+' => (1, zone.get(1..)?),
        b'-' => (-1, zone.get(1..)?),
        _ => return None,
    };
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hours: i32 = digits.get(..2)?.parse().ok()?;
    let minutes: i32 = digits.get(2..)?.parse().ok()?;
    if hours > 14 || minutes > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.local;
        write!(f, "{:04}", t.year())?;
        if self.precision >= Precision::Month {
            write!(f, "-{:02}", t.month())?;
        }
        if self.precision >= Precision::Day {
            write!(f, "-{:02}", t.day())?;
        }
        if self.precision >= Precision::Hour {
            write!(f, "T{:02}", t.hour())?;
        }
        if self.precision >= Precision::Minute {
            write!(f, ":{:02}", t.minute())?;
        }
        if self.precision >= Precision::Second {
            write!(f, ":{:02}", t.second())?;
        }
        if let Precision::Fraction(digits) = self.precision {
            let digits = u32::from(digits);
            let value = t.nanosecond() / 10u32.pow(9u32.saturating_sub(digits));
            write!(f, ".{value:0width$}", width = digits as usize)?;
        }
        if let Some(offset) = self.offset {
            let seconds = offset.local_minus_utc();
            let sign = if seconds < 0 { '-' } else { '+' };
            let minutes = seconds.unsigned_abs() / 60;
            write!(f, "{sign}{:02}:{:02}", minutes / 60, minutes % 60)?;
        }
        Ok(())
    }
}

/// The ISO 8601 form [`Timestamp`] displays as, nothing else.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an ISO 8601 date/time as this crate writes it (2011-12-19T15:00 and shorter or longer)")]
pub struct TimestampParseError;

impl FromStr for Timestamp {
    type Err = TimestampParseError;

    /// Reads what [`fmt::Display`] writes (`Z` is read as `+00:00`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.strip_suffix('Z').map_or_else(|| s.to_owned(), |rest| format!("{rest}+00:00"));
        // An offset is the trailing `±HH:MM`; nothing else in the form has a colon three
        // characters from a sign.
        let bytes = s.as_bytes();
        let n = bytes.len();
        let has_zone =
            n > 6 && matches!(bytes.get(n - 6), Some(b'+' | b'-')) && bytes.get(n - 3) == Some(&b':');
        let (main, zone) = if has_zone { s.split_at(n - 6) } else { (s.as_str(), "") };
        let hl7: String = main.chars().filter(|c| !matches!(c, '-' | ':' | 'T')).collect();
        let hl7_zone: String = zone.chars().filter(|&c| c != ':').collect();
        let parsed = Self::parse(&format!("{hl7}{hl7_zone}")).ok_or(TimestampParseError)?;
        (parsed.to_string() == s).then_some(parsed).ok_or(TimestampParseError)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An HL7 NM value: optional sign, digits, optional decimal point and digits (`-14`, `2.505`,
/// `.5`). Exponents, `inf`, `NaN` and anything else are `None`.
#[must_use]
pub fn parse_decimal(value: &str) -> Option<f64> {
    let value = value.trim();
    let unsigned = value.strip_prefix(['+', '-']).unwrap_or(value);
    let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.len() + frac.len() == 0 || !digits(int) || !digits(frac) {
        return None;
    }
    value.parse().ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap_or_else(|| panic!("{s:?}"))
    }

    #[test]
    fn every_precision_parses_and_prints_back() {
        for (hl7, iso, precision) in [
            ("2011", "2011", Precision::Year),
            ("199601", "1996-01", Precision::Month),
            ("20111219", "2011-12-19", Precision::Day),
            ("2011070100", "2011-07-01T00", Precision::Hour),
            ("201112191500", "2011-12-19T15:00", Precision::Minute),
            ("20111220103059", "2011-12-20T10:30:59", Precision::Second),
            ("20111220224447.3399", "2011-12-20T22:44:47.3399", Precision::Fraction(4)),
            ("20110701224603.984", "2011-07-01T22:46:03.984", Precision::Fraction(3)),
            ("201112191500+0900", "2011-12-19T15:00+09:00", Precision::Minute),
            ("20111219-0530", "2011-12-19-05:30", Precision::Day),
        ] {
            let t = ts(hl7);
            assert_eq!(t.precision(), precision, "{hl7}");
            assert_eq!(t.to_string(), iso, "{hl7}");
            assert_eq!(iso.parse::<Timestamp>().unwrap(), t, "{iso}");
        }
    }

    #[test]
    fn missing_parts_start_the_period_and_offsets_apply() {
        let t = ts("199601");
        assert_eq!(t.naive().to_string(), "1996-01-01 00:00:00");
        let jst = FixedOffset::east_opt(9 * 3600).unwrap();
        let utc = ts("201112191500").with_default_offset(jst).unwrap();
        assert_eq!(utc.to_rfc3339(), "2011-12-19T15:00:00+09:00");
        let explicit = ts("201112191500-0500").with_default_offset(jst).unwrap();
        assert_eq!(explicit.to_rfc3339(), "2011-12-19T15:00:00-05:00");
    }

    #[test]
    fn malformed_values_are_rejected() {
        for bad in [
            "",
            "201",
            "20111",
            "2011121",
            "20110230",
            "2011121924",
            "201112191560",
            "20111219150060",
            "20111219.5",
            "20111219150000.",
            "20111219150000.1234567890",
            "2011-12-19",
            "２０１１",
            "20111219+09",
            "20111219+2400",
            "2011121915a0",
            "+20111219",
        ] {
            assert_eq!(Timestamp::parse(bad), None, "{bad:?}");
        }
        for bad in ["2011-1-19", "20111219", "2011-12-19T", "2011-12-19 15:00", "x"] {
            assert!(bad.parse::<Timestamp>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn serde_uses_the_iso_form() {
        let t = ts("20111220224447.3399");
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, "\"2011-12-20T22:44:47.3399\"");
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), t);
        assert!(serde_json::from_str::<Timestamp>("\"2011-02-30\"").is_err());
    }

    #[test]
    fn decimals() {
        assert_eq!(parse_decimal("1.7"), Some(1.7));
        assert_eq!(parse_decimal("-14"), Some(-14.0));
        assert_eq!(parse_decimal(" .5 "), Some(0.5));
        assert_eq!(parse_decimal("6.70"), Some(6.7));
        assert_eq!(parse_decimal("+3."), Some(3.0));
        for bad in ["", ".", "-", "1e5", "inf", "NaN", "1.2.3", "1,5", "0x10", "--1"] {
            assert_eq!(parse_decimal(bad), None, "{bad:?}");
        }
    }
}
