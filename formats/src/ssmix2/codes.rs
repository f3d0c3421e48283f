//! Coded values: [`Coded`] (HL7 CWE/CE), [`Jlac10Code`] and the [`Measurement`] a JLAC10
//! analyte stands for, plus reference ranges.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::model::ReferenceRange;
use super::text::fold_width;
use crate::hl7::{Value, parse_decimal};

/// An HL7 CWE/CE: a code with its text and coding system, and an alternate triple (SS-MIX2
/// senders put a local code there, or a JLAC10 one when the local code comes first).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Coded {
    pub code: Option<String>,
    pub text: Option<String>,
    pub system: Option<String>,
    pub alternate_code: Option<String>,
    pub alternate_text: Option<String>,
    pub alternate_system: Option<String>,
}

impl Coded {
    /// Reads components 1 to 6 of a field or repetition; `None` when all are empty.
    #[must_use]
    pub fn from_components(value: Value<'_>) -> Option<Self> {
        let part = |n| value.component(n).non_empty();
        Self::from_parts([part(1), part(2), part(3), part(4), part(5), part(6)])
    }

    /// Reads subcomponents 1 to 6 of a component (a CWE inside another type, as in TQ1-3.1 or
    /// RXE-19.2); `None` when all are empty.
    #[must_use]
    pub fn from_subcomponents(value: Value<'_>) -> Option<Self> {
        let part = |n| value.subcomponent(n).non_empty();
        Self::from_parts([part(1), part(2), part(3), part(4), part(5), part(6)])
    }

    fn from_parts(
        [code, text, system, alternate_code, alternate_text, alternate_system]: [Option<String>; 6],
    ) -> Option<Self> {
        let coded = Self { code, text, system, alternate_code, alternate_text, alternate_system };
        (!coded.is_empty()).then_some(coded)
    }

    /// Nothing was sent.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The code of the primary or alternate triple whose system is `system` (compared without
    /// case).
    #[must_use]
    pub fn code_in(&self, system: &str) -> Option<&str> {
        let matches =
            |s: &Option<String>| s.as_deref().is_some_and(|s| s.trim().eq_ignore_ascii_case(system));
        if matches(&self.system) {
            self.code.as_deref()
        } else if matches(&self.alternate_system) {
            self.alternate_code.as_deref()
        } else {
            None
        }
    }

    /// The text to show: the text, else the alternate text, else the code.
    #[must_use]
    pub fn display(&self) -> Option<&str> {
        self.text.as_deref().or(self.alternate_text.as_deref()).or(self.code.as_deref())
    }
}

/// A JLAC10 laboratory code: analyte (5) + identification (4) + specimen (3) + method (3) +
/// result identification (2). Read leniently: 5 to 17 letters and digits, since real data
/// carries 15- and 16-character codes and physiology tests analyte codes only (`9A110`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Jlac10Code(String);

impl Jlac10Code {
    /// Trims, folds full-width characters and upper-cases; `None` unless 5 to 17 ASCII letters
    /// and digits remain.
    #[must_use]
    pub fn parse(code: &str) -> Option<Self> {
        let code = fold_width(code.trim()).to_ascii_uppercase();
        ((5..=17).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_alphanumeric()))
            .then_some(Self(code))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn part(&self, range: std::ops::Range<usize>) -> Option<&str> {
        self.0.get(range)
    }

    /// Characters 1-5: what is measured (`3A010` total protein). Series across facilities
    /// group on this.
    #[must_use]
    pub fn analyte(&self) -> &str {
        self.part(0..5).unwrap_or(&self.0)
    }

    /// Characters 6-9.
    #[must_use]
    pub fn identification(&self) -> Option<&str> {
        self.part(5..9)
    }

    /// Characters 10-12: `023` serum.
    #[must_use]
    pub fn specimen(&self) -> Option<&str> {
        self.part(9..12)
    }

    /// Characters 13-15.
    #[must_use]
    pub fn method(&self) -> Option<&str> {
        self.part(12..15)
    }

    /// Characters 16-17.
    #[must_use]
    pub fn result_identification(&self) -> Option<&str> {
        self.part(15..17)
    }

    /// What the analyte stands for, when it is a vital sign or body measurement.
    #[must_use]
    pub fn measurement(&self) -> Option<Measurement> {
        Measurement::from_analyte(self.analyte())
    }
}

impl TryFrom<String> for Jlac10Code {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value).ok_or_else(|| "not a JLAC10 code (5 to 17 letters and digits)".to_owned())
    }
}

impl From<Jlac10Code> for String {
    fn from(code: Jlac10Code) -> Self {
        code.0
    }
}

impl fmt::Display for Jlac10Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Vital signs and body measurements by JLAC10 analyte code, so a clinic-measured value can
/// sit beside home readings of the same kind (specific health check-up codes: 9A751–9A755
/// systolic and 9A761–9A765 diastolic blood pressure, 9N001 height, 9N006 weight, 9N011 BMI,
/// 9N016 waist; 9P1xx body temperature and 9P3xx pulse as the project reference lists them;
/// 5H010 ABO blood type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Measurement {
    SystolicBloodPressure,
    DiastolicBloodPressure,
    BodyHeight,
    BodyWeight,
    BodyMassIndex,
    WaistCircumference,
    BodyTemperature,
    PulseRate,
    AboBloodType,
}

impl Measurement {
    /// The measurement for a 5-character JLAC10 analyte code.
    #[must_use]
    pub fn from_analyte(analyte: &str) -> Option<Self> {
        let analyte = analyte.to_ascii_uppercase();
        match analyte.as_str() {
            "9A751" | "9A752" | "9A753" | "9A754" | "9A755" => Some(Self::SystolicBloodPressure),
            "9A761" | "9A762" | "9A763" | "9A764" | "9A765" => Some(Self::DiastolicBloodPressure),
            "9N001" => Some(Self::BodyHeight),
            "9N006" => Some(Self::BodyWeight),
            "9N011" => Some(Self::BodyMassIndex),
            "9N016" => Some(Self::WaistCircumference),
            "5H010" => Some(Self::AboBloodType),
            a if a.len() == 5 && a.starts_with("9P1") => Some(Self::BodyTemperature),
            a if a.len() == 5 && a.starts_with("9P3") => Some(Self::PulseRate),
            _ => None,
        }
    }
}

/// Reads OBX-7: `1.2-2.0`, `6.70～8.3`, `<5`, `≦5`, `>=10`, `10以上`, `3.0-`. Anything else
/// keeps its text with no limits.
#[must_use]
pub fn parse_reference_range(text: &str) -> ReferenceRange {
    let folded: String = fold_width(text.trim())
        .chars()
        .map(|c| if matches!(c, '~' | '〜' | '−') { '-' } else { c })
        .collect();
    let folded = folded.replace(' ', "");
    let (low, high) = limits(&folded).unwrap_or((None, None));
    ReferenceRange { text: text.trim().to_owned(), low, high }
}

fn limits(s: &str) -> Option<(Option<f64>, Option<f64>)> {
    for (prefix, is_high) in [
        ("<=", true),
        ("≦", true),
        ("≤", true),
        ("<", true),
        (">=", false),
        ("≧", false),
        ("≥", false),
        (">", false),
    ] {
        if let Some(rest) = s.strip_prefix(prefix) {
            let n = parse_decimal(rest)?;
            return Some(if is_high { (None, Some(n)) } else { (Some(n), None) });
        }
    }
    for (suffix, is_high) in [("以下", true), ("未満", true), ("以上", false), ("超", false)] {
        if let Some(rest) = s.strip_suffix(suffix) {
            let n = parse_decimal(rest)?;
            return Some(if is_high { (None, Some(n)) } else { (Some(n), None) });
        }
    }
    if let Some(rest) = s.strip_suffix('-') {
        return parse_decimal(rest).map(|n| (Some(n), None));
    }
    // low-high, where low may itself be negative: try every '-' after the first character.
    s.char_indices().filter(|&(i, c)| c == '-' && i > 0).find_map(|(i, _)| {
        let low = parse_decimal(s.get(..i)?)?;
        let high = parse_decimal(s.get(i + 1..)?)?;
        Some((Some(low), Some(high)))
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::hl7::Delimiters;

    #[test]
    fn coded_reads_components_and_finds_codes_by_system() {
        let v = Value::field("10222^ＴＰ^99X03^3A010000002327101^総蛋白^jc10", Delimiters::default());
        let c = Coded::from_components(v).unwrap();
        assert_eq!(c.code.as_deref(), Some("10222"));
        assert_eq!(c.code_in("JC10"), Some("3A010000002327101"));
        assert_eq!(c.code_in("99X03"), Some("10222"));
        assert_eq!(c.code_in("HOT9"), None);
        assert_eq!(c.display(), Some("ＴＰ"));
        assert_eq!(Coded::from_components(Value::field("^^", Delimiters::default())), None);
        let sub = Value::field("1013044400000000&内服&JAMISDP01^x", Delimiters::default()).component(1);
        let c = Coded::from_subcomponents(sub).unwrap();
        assert_eq!(
            (c.code.as_deref(), c.text.as_deref(), c.system.as_deref()),
            (Some("1013044400000000"), Some("内服"), Some("JAMISDP01"))
        );
    }

    #[test]
    fn jlac10_codes_are_read_leniently_and_split_into_parts() {
        let c = Jlac10Code::parse(" 3a016000002327102 ").unwrap();
        assert_eq!(c.as_str(), "3A016000002327102");
        assert_eq!(c.analyte(), "3A016");
        assert_eq!(c.identification(), Some("0000"));
        assert_eq!(c.specimen(), Some("023"));
        assert_eq!(c.method(), Some("271"));
        assert_eq!(c.result_identification(), Some("02"));
        let short = Jlac10Code::parse("2B0300000022311").unwrap();
        assert_eq!(short.result_identification(), None);
        assert_eq!(Jlac10Code::parse("９Ａ１１０").unwrap().as_str(), "9A110");
        for bad in ["", "9A11", "9A100&IMP", "3A016000002327102X", "3A016-0000"] {
            assert_eq!(Jlac10Code::parse(bad), None, "{bad:?}");
        }
        assert!(serde_json::from_str::<Jlac10Code>("\"x\"").is_err());
    }

    #[test]
    fn vital_sign_analytes_are_recognised() {
        let m = |code: &str| Jlac10Code::parse(code).unwrap().measurement();
        assert_eq!(m("9A751000000000001"), Some(Measurement::SystolicBloodPressure));
        assert_eq!(m("9A765000000000001"), Some(Measurement::DiastolicBloodPressure));
        assert_eq!(m("9N001000000000001"), Some(Measurement::BodyHeight));
        assert_eq!(m("9N006000000000001"), Some(Measurement::BodyWeight));
        assert_eq!(m("9P101"), Some(Measurement::BodyTemperature));
        assert_eq!(m("9P301"), Some(Measurement::PulseRate));
        assert_eq!(m("5H010000009199911"), Some(Measurement::AboBloodType));
        assert_eq!(m("3A010000002327101"), None);
    }

    #[test]
    fn reference_ranges() {
        let r = |s: &str| {
            let r = parse_reference_range(s);
            (r.low, r.high)
        };
        assert_eq!(r("1.2-2.0"), (Some(1.2), Some(2.0)));
        assert_eq!(r("6.70-8.3"), (Some(6.7), Some(8.3)));
        assert_eq!(r("３．７～５．５"), (Some(3.7), Some(5.5)));
        assert_eq!(r("-1.0-2.5"), (Some(-1.0), Some(2.5)));
        assert_eq!(r("-5--1"), (Some(-5.0), Some(-1.0)));
        assert_eq!(r("10 - 20"), (Some(10.0), Some(20.0)));
        assert_eq!(r("<5"), (None, Some(5.0)));
        assert_eq!(r("≦ 0.3"), (None, Some(0.3)));
        assert_eq!(r(">=10"), (Some(10.0), None));
        assert_eq!(r("40以上"), (Some(40.0), None));
        assert_eq!(r("3.0-"), (Some(3.0), None));
        assert_eq!(r("陰性"), (None, None));
        assert_eq!(r("M:13-17 F:11-15"), (None, None));
        assert_eq!(parse_reference_range(" 1.2-2.0 ").text, "1.2-2.0");
    }
}
