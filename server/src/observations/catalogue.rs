//! The observation-kind catalogue, kept as one static table ([`kinds`]), and the
//! normalisation of one incoming observation value against it ([`normalize`]).
//! No database or HTTP here: handlers serialise [`KindView`], services store
//! [`CanonicalValue`]; the future-date and missing-offset checks stay with the caller.
//!
//! Canonical values are rounded to 4 decimal places ([`CANONICAL_DECIMALS`]):
//! finer than any home instrument resolves (0.1 kg, 1 mm[Hg], 0.01 Cel), yet it
//! removes floating-point noise so that 98.6 [degF] is exactly 37 Cel and the same
//! reading converted on two phones compares equal for cross-device de-duplication.
//! The range check applies to that rounded, converted value.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

use crate::category::Category;

/// Number of decimal places kept in canonical values.
pub const CANONICAL_DECIMALS: i32 = 4;

// ---------------------------------------------------------------------------
// Catalogue types
// ---------------------------------------------------------------------------

/// How the value of a kind is expressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ValueType {
    /// One quantity measured at an instant (`value` + `unit`, `effectiveAt`).
    Quantity,
    /// One quantity accumulated over an interval (steps, energy).
    IntervalQuantity,
    /// Several named quantities measured together (blood pressure).
    Components,
    /// A code from a fixed list over an interval (sleep stage).
    CodedInterval,
    /// A session over an interval: free-text type plus optional quantities (exercise).
    Session,
}

impl ValueType {
    /// Whether a kind of this value type is timed by an instant or an interval.
    pub const fn timing(self) -> Timing {
        match self {
            ValueType::Quantity | ValueType::Components => Timing::Instant,
            ValueType::IntervalQuantity | ValueType::CodedInterval | ValueType::Session => Timing::Interval,
        }
    }
}

/// Whether an observation carries `effectiveAt` or `effectiveStart`/`effectiveEnd`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Timing {
    Instant,
    Interval,
}

/// A display name in the languages the apps ship.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct LocalizedName {
    pub en: &'static str,
    pub ja: &'static str,
}

/// Inclusive plausible range, in the canonical unit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PlausibleRange {
    pub min: f64,
    pub max: f64,
}

impl PlausibleRange {
    pub fn contains(&self, value: f64) -> bool {
        self.min <= value && value <= self.max
    }
}

/// An accepted input unit: `canonical = value * factor + offset`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UnitConversion {
    /// UCUM code, after alias resolution.
    pub code: &'static str,
    pub factor: f64,
    pub offset: f64,
}

impl UnitConversion {
    const fn identity(code: &'static str) -> Self {
        Self::linear(code, 1.0)
    }

    const fn linear(code: &'static str, factor: f64) -> Self {
        Self { code, factor, offset: 0.0 }
    }

    const fn affine(code: &'static str, factor: f64, offset: f64) -> Self {
        Self { code, factor, offset }
    }

    /// Converts and rounds to [`CANONICAL_DECIMALS`].
    pub fn to_canonical(&self, value: f64) -> f64 {
        round_canonical(value * self.factor + self.offset)
    }
}

/// A quantity: canonical unit, accepted input units and plausible range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuantitySpec {
    /// Canonical UCUM unit; also the first entry of `accepted`.
    pub unit: &'static str,
    pub accepted: &'static [UnitConversion],
    pub range: PlausibleRange,
}

impl QuantitySpec {
    /// The conversion for a UCUM code (aliases already resolved).
    pub fn conversion(&self, code: &str) -> Option<&'static UnitConversion> {
        self.accepted.iter().find(|c| c.code == code)
    }

    pub fn accepted_codes(&self) -> Vec<&'static str> {
        self.accepted.iter().map(|c| c.code).collect()
    }
}

/// One named part of a multi-part observation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ComponentSpec {
    pub name: &'static str,
    /// `None` where no LOINC code fits the component in general.
    pub loinc: Option<&'static str>,
    pub display: LocalizedName,
    pub quantity: QuantitySpec,
    pub required: bool,
}

/// One allowed value of `code` (sleep stages).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StageSpec {
    pub code: &'static str,
    pub display: LocalizedName,
}

/// A required free-text field (the exercise activity type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextSpec {
    pub display: LocalizedName,
    /// Maximum length in characters, after trimming.
    pub max_chars: usize,
}

/// One observation kind. Which input fields a kind uses follows from the data:
/// `quantity` → `value`/`unit`, `components` → `components`, `stages` → `code`,
/// `text` → `text`; `value_type` decides the timing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KindSpec {
    /// Wire name (snake_case), part of the mobile contract.
    pub name: &'static str,
    pub category: Category,
    pub loinc: &'static str,
    pub display: LocalizedName,
    pub value_type: ValueType,
    pub quantity: Option<QuantitySpec>,
    pub components: &'static [ComponentSpec],
    /// Pairs `(lower, higher)` of components where `lower < higher` must hold.
    pub ordered_components: &'static [(&'static str, &'static str)],
    pub stages: &'static [StageSpec],
    pub text: Option<TextSpec>,
    /// Longest interval allowed, in seconds (interval kinds only).
    pub max_interval_secs: Option<i64>,
}

impl KindSpec {
    pub const fn timing(&self) -> Timing {
        self.value_type.timing()
    }

    pub fn component(&self, name: &str) -> Option<&'static ComponentSpec> {
        self.components.iter().find(|c| c.name == name)
    }

    pub fn stage(&self, code: &str) -> Option<&'static StageSpec> {
        self.stages.iter().find(|s| s.code == code)
    }
}

// ---------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------

const fn name(en: &'static str, ja: &'static str) -> LocalizedName {
    LocalizedName { en, ja }
}

const fn range(min: f64, max: f64) -> PlausibleRange {
    PlausibleRange { min, max }
}

const HOUR: i64 = 3600;

/// Exact by definition of the international avoirdupois pound.
const KG_PER_LB: f64 = 0.453_592_37;
/// Exact by definition of the international inch.
const CM_PER_IN: f64 = 2.54;
/// Exact by definition of the international mile.
const M_PER_MI: f64 = 1609.344;
/// Thermochemical calorie, the one nutrition labels and health apps use.
const KJ_PER_KCAL: f64 = 4.184;
/// mg/dL per mmol/L for glucose (molar mass 180.16 g/mol).
const GLUCOSE_MGDL_PER_MMOLL: f64 = 18.016;
/// IFCC (mmol/mol) → NGSP (%) master equation: NGSP = 0.09148 × IFCC + 2.152.
const HBA1C_NGSP_PER_IFCC: f64 = 0.091_48;
const HBA1C_NGSP_OFFSET: f64 = 2.152;

const MM_HG: &[UnitConversion] = &[UnitConversion::identity("mm[Hg]")];
const PER_MIN: &[UnitConversion] = &[UnitConversion::identity("/min")];
const LENGTH_CM: &[UnitConversion] = &[
    UnitConversion::identity("cm"),
    UnitConversion::linear("m", 100.0),
    UnitConversion::linear("[in_i]", CM_PER_IN),
];
// "1" is the UCUM unity: HealthKit reports body fat and SpO2 as fractions 0–1.
const PERCENT: &[UnitConversion] = &[UnitConversion::identity("%"), UnitConversion::linear("1", 100.0)];
const ENERGY_KCAL: &[UnitConversion] =
    &[UnitConversion::identity("kcal"), UnitConversion::linear("kJ", 1.0 / KJ_PER_KCAL)];

const BLOOD_PRESSURE_COMPONENTS: &[ComponentSpec] = &[
    ComponentSpec {
        name: "systolic",
        loinc: Some("8480-6"),
        display: name("Systolic blood pressure", "収縮期血圧"),
        quantity: QuantitySpec { unit: "mm[Hg]", accepted: MM_HG, range: range(40.0, 300.0) },
        required: true,
    },
    ComponentSpec {
        name: "diastolic",
        loinc: Some("8462-4"),
        display: name("Diastolic blood pressure", "拡張期血圧"),
        quantity: QuantitySpec { unit: "mm[Hg]", accepted: MM_HG, range: range(20.0, 200.0) },
        required: true,
    },
    ComponentSpec {
        name: "pulse",
        loinc: Some("8867-4"),
        display: name("Pulse rate", "脈拍数"),
        quantity: QuantitySpec { unit: "/min", accepted: PER_MIN, range: range(20.0, 300.0) },
        required: false,
    },
];

const EXERCISE_COMPONENTS: &[ComponentSpec] = &[
    ComponentSpec {
        name: "energy",
        loinc: Some("41981-2"),
        display: name("Energy burned", "消費エネルギー"),
        quantity: QuantitySpec { unit: "kcal", accepted: ENERGY_KCAL, range: range(0.0, 20_000.0) },
        required: false,
    },
    ComponentSpec {
        name: "distance",
        // 55430-3 is walking distance by pedometer; no LOINC code covers
        // the distance of an arbitrary exercise session.
        loinc: None,
        display: name("Distance", "距離"),
        quantity: QuantitySpec {
            unit: "m",
            accepted: &[
                UnitConversion::identity("m"),
                UnitConversion::linear("km", 1000.0),
                UnitConversion::linear("[mi_i]", M_PER_MI),
            ],
            range: range(0.0, 1_000_000.0),
        },
        required: false,
    },
];

const SLEEP_STAGES: &[StageSpec] = &[
    StageSpec { code: "awake", display: name("Awake", "覚醒") },
    StageSpec { code: "light", display: name("Light sleep", "浅い睡眠") },
    StageSpec { code: "deep", display: name("Deep sleep", "深い睡眠") },
    StageSpec { code: "rem", display: name("REM sleep", "レム睡眠") },
    StageSpec { code: "asleep", display: name("Asleep (stage unknown)", "睡眠（段階不明）") },
    StageSpec { code: "in_bed", display: name("In bed", "就床") },
];

/// Fields most kinds leave empty; every entry names the rest explicitly.
const NOTHING_ELSE: KindSpec = KindSpec {
    name: "",
    category: Category::Vitals,
    loinc: "",
    display: name("", ""),
    value_type: ValueType::Quantity,
    quantity: None,
    components: &[],
    ordered_components: &[],
    stages: &[],
    text: None,
    max_interval_secs: None,
};

// Category decisions:
// - Body measurements (weight, height, BMI, body fat, waist) sit with vitals:
//   the FHIR vital-signs profile already counts weight, height and BMI there,
//   and a person who shares "vitals" with family expects the scale to be in it.
// - Blood glucose and HbA1c are labs. Consent follows what a value reveals,
//   not who took it: both disclose diabetes status, and clinic results imported
//   from JAHIS/SS-MIX2 carry the same analytes as labs. One analyte in one
//   category means sharing "labs" shows home and clinic glucose together, and
//   sharing only "vitals" reveals neither.
// - Steps, active energy, sleep and exercise are activity.
static KINDS: [KindSpec; 16] = [
    KindSpec {
        name: "blood_pressure",
        category: Category::Vitals,
        loinc: "85354-9",
        display: name("Blood pressure", "血圧"),
        value_type: ValueType::Components,
        components: BLOOD_PRESSURE_COMPONENTS,
        ordered_components: &[("diastolic", "systolic")],
        ..NOTHING_ELSE
    },
    KindSpec {
        name: "heart_rate",
        category: Category::Vitals,
        loinc: "8867-4",
        display: name("Heart rate", "心拍数"),
        value_type: ValueType::Quantity,
        quantity: Some(QuantitySpec { unit: "/min", accepted: PER_MIN, range: range(20.0, 300.0) }),
        ..NOTHING_ELSE
    },
    KindSpec {
        name: "body_weight",
        category: Category::Vitals,
        loinc: "29463-7",
        display: name("Body weight", "体重"),
        value_type: ValueType::Quantity,
        quantity: Some(QuantitySpec {
            unit: "kg",
            accepted: &[UnitConversion::identity("kg"), UnitConversion::linear("[lb_av]", KG_PER_LB)],
            range: range(0.5, 500.0),
        }),
        ..NOTHING_ELSE
    },
    KindSpec {
        name: "body_height",
        category: Category::Vitals,
        loinc: "8302-2",
        display: name("Body height", "身長"),
        value_type: ValueType::Quantity,
        quantity: Some(QuantitySpec { unit: "cm", accepted: LENGTH_CM, range: range(20.0, 300.0) }),
        ..NOTHING_ELSE
    },
    KindSpec {
        name: "bmi",
        category: Category::Vitals,
        loinc: "39156-5",
        display: name("Body mass index", "BMI"),
        value_type: ValueType::Quantity,
        quantity: Some(QuantitySpec {
            unit: "kg/m2",
            accepted: &[UnitConversion::identity("kg/m2")],
            range: range(5.0, 150.0),
        }),
        ..NOTHING_ELSE
    },
    KindSpec {
        name: "body_fat",
        category: Category::Vitals,
        loinc: "41982-0",
        display: name("Body fat", "体脂肪率"),
        value_type: ValueType::Quantity,
        quantity: Some(QuantitySpec { unit: "%", accepted: PERCENT, range: range(1.0, 80.0) }),
        ..NOTHING_ELSE
    },
    KindSpec {
        name: "waist",
        category: Category::Vitals,
        loinc: "8280-0",
        display: name("Waist circumference", "腹囲"),
        value_type: ValueType::Quantity,
        quantity: Some(QuantitySpec { unit: "cm", accepted: LENGTH_CM, range: range(20.0, 300.0) }),
        ..NOTHING_ELSE
    },
    KindSpec {
        name: "body_temperature",
        category: Category::Vitals,
        loinc: "8310-5",
        display: name("Body temperature", "体温"),
        value_type: ValueType::Quantity,
        quantity: Some(QuantitySpec {
            unit: "Cel",
            accepted: &[
                UnitConversion::identity("Cel"),
                // °C = (°F − 32) × 5/9
                UnitConversion::affine("[degF]", 5.0 / 9.0, -32.0 * 5.0 / 9.0),
            ],
            range: range(30.0, 45.0),
        }),
        ..NOTHING_ELSE
    },
    KindSpec {
        name: "blood_glucose",
        category: Category::Labs,
        // Mass concentration, matching the canonical mg/dL (15074-8 is the molar one).
        loinc: "2339-0",
        display: name("Blood glucose", "血糖値"),
        value_type: ValueType::Quantity,
        quantity: Some(QuantitySpec {
            unit: "mg/dL",
            accepted: &[
                UnitConversion::identity("mg/dL"),
                UnitConversion::linear("mmol/L", GLUCOSE_MGDL_PER_MMOLL),
            ],
            range: range(10.0, 1500.0),
        }),
        ..NOTHING_ELSE
    },
    KindSpec {
        name: "hba1c",
        category: Category::Labs,
        loinc: "4548-4",
        display: name("HbA1c (NGSP)", "HbA1c（NGSP）"),
        value_type: ValueType::Quantity,
        quantity: Some(QuantitySpec {
            unit: "%",
            accepted: &[
                UnitConversion::identity("%"),
                UnitConversion::affine("mmol/mol", HBA1C_NGSP_PER_IFCC, HBA1C_NGSP_OFFSET),
            ],
            range: range(2.0, 25.0),
        }),
        ..NOTHING_ELSE
    },
    KindSpec {
        name: "spo2",
        category: Category::Vitals,
        loinc: "59408-5",
        display: name("Oxygen saturation (SpO2)", "血中酸素飽和度（SpO2）"),
        value_type: ValueType::Quantity,
        quantity: Some(QuantitySpec { unit: "%", accepted: PERCENT, range: range(50.0, 100.0) }),
        ..NOTHING_ELSE
    },
    KindSpec {
        name: "respiratory_rate",
        category: Category::Vitals,
        loinc: "9279-1",
        display: name("Respiratory rate", "呼吸数"),
        value_type: ValueType::Quantity,
        quantity: Some(QuantitySpec { unit: "/min", accepted: PER_MIN, range: range(2.0, 100.0) }),
        ..NOTHING_ELSE
    },
    KindSpec {
        name: "steps",
        category: Category::Activity,
        loinc: "55423-8",
        display: name("Steps", "歩数"),
        value_type: ValueType::IntervalQuantity,
        quantity: Some(QuantitySpec {
            unit: "{steps}",
            accepted: &[UnitConversion::identity("{steps}")],
            range: range(0.0, 100_000.0),
        }),
        // One local calendar day, including a 25-hour daylight-saving day.
        max_interval_secs: Some(25 * HOUR),
        ..NOTHING_ELSE
    },
    KindSpec {
        name: "active_energy",
        category: Category::Activity,
        loinc: "41981-2",
        display: name("Active energy", "活動エネルギー"),
        value_type: ValueType::IntervalQuantity,
        quantity: Some(QuantitySpec { unit: "kcal", accepted: ENERGY_KCAL, range: range(0.0, 20_000.0) }),
        max_interval_secs: Some(25 * HOUR),
        ..NOTHING_ELSE
    },
    KindSpec {
        name: "sleep",
        category: Category::Activity,
        loinc: "93832-4",
        display: name("Sleep", "睡眠"),
        value_type: ValueType::CodedInterval,
        stages: SLEEP_STAGES,
        // One stage segment or one night in bed; longer is a stuck tracker.
        max_interval_secs: Some(24 * HOUR),
        ..NOTHING_ELSE
    },
    KindSpec {
        name: "exercise",
        category: Category::Activity,
        loinc: "73985-4",
        display: name("Exercise", "運動"),
        value_type: ValueType::Session,
        components: EXERCISE_COMPONENTS,
        text: Some(TextSpec { display: name("Activity type", "運動の種類"), max_chars: 100 }),
        max_interval_secs: Some(24 * HOUR),
        ..NOTHING_ELSE
    },
];

/// Common spellings → UCUM code. Exact, case-sensitive matches only: UCUM is
/// case-sensitive and a case-folded `cal` would silently be 1000× off.
static UNIT_ALIASES: &[(&str, &str)] = &[
    ("mmHg", "mm[Hg]"),
    ("mm Hg", "mm[Hg]"),
    ("mmhg", "mm[Hg]"),
    ("lb", "[lb_av]"),
    ("lbs", "[lb_av]"),
    ("bpm", "/min"),
    ("1/min", "/min"),
    ("beats/min", "/min"),
    ("{beats}/min", "/min"),
    ("breaths/min", "/min"),
    ("{breaths}/min", "/min"),
    ("degC", "Cel"),
    ("°C", "Cel"),
    ("℃", "Cel"),
    ("degF", "[degF]"),
    ("°F", "[degF]"),
    ("℉", "[degF]"),
    ("steps", "{steps}"),
    ("step", "{steps}"),
    ("mg/dl", "mg/dL"),
    ("mmol/l", "mmol/L"),
    ("in", "[in_i]"),
    ("inch", "[in_i]"),
    ("mi", "[mi_i]"),
    ("kg/m^2", "kg/m2"),
    ("kg/m²", "kg/m2"),
    ("percent", "%"),
    ("Cal", "kcal"),
    ("kCal", "kcal"),
    ("Kcal", "kcal"),
    ("kj", "kJ"),
    ("KJ", "kJ"),
];

/// Every kind, in catalogue order.
pub fn kinds() -> &'static [KindSpec] {
    &KINDS
}

/// The kind with this wire name (exact match).
pub fn kind(name: &str) -> Option<&'static KindSpec> {
    KINDS.iter().find(|k| k.name == name)
}

/// Resolves a unit spelling to its UCUM code; unknown spellings pass through.
fn resolve_unit(unit: &str) -> &str {
    let unit = unit.trim();
    UNIT_ALIASES.iter().find(|(alias, _)| *alias == unit).map_or(unit, |(_, code)| code)
}

fn round_canonical(value: f64) -> f64 {
    let scale = 10f64.powi(CANONICAL_DECIMALS);
    let rounded = (value * scale).round() / scale;
    // Avoid storing and returning "-0.0".
    if rounded == 0.0 { 0.0 } else { rounded }
}

// ---------------------------------------------------------------------------
// Serialisable view for GET /v1/catalogue/observation-kinds
// ---------------------------------------------------------------------------

/// One observation kind as published to apps.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KindView {
    pub name: &'static str,
    pub category: Category,
    pub loinc: &'static str,
    pub display: LocalizedName,
    pub value_type: ValueType,
    pub timing: Timing,
    /// Canonical UCUM unit of `value`; absent when the kind has no single value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<&'static str>,
    /// UCUM codes accepted for `value`, canonical first; empty when no single value.
    pub accepted_units: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub range: Option<PlausibleRange>,
    pub components: Vec<ComponentView>,
    /// Allowed `code` values (sleep).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stages: Option<Vec<StageSpec>>,
    /// The required `text` field (exercise activity type).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<TextView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_interval_seconds: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComponentView {
    pub name: &'static str,
    pub loinc: Option<&'static str>,
    pub display: LocalizedName,
    pub unit: &'static str,
    pub accepted_units: Vec<&'static str>,
    pub range: PlausibleRange,
    pub required: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TextView {
    pub display: LocalizedName,
    pub max_length: usize,
}

impl From<&KindSpec> for KindView {
    fn from(k: &KindSpec) -> Self {
        KindView {
            name: k.name,
            category: k.category,
            loinc: k.loinc,
            display: k.display,
            value_type: k.value_type,
            timing: k.timing(),
            unit: k.quantity.map(|q| q.unit),
            accepted_units: k.quantity.map(|q| q.accepted_codes()).unwrap_or_default(),
            range: k.quantity.map(|q| q.range),
            components: k
                .components
                .iter()
                .map(|c| ComponentView {
                    name: c.name,
                    loinc: c.loinc,
                    display: c.display,
                    unit: c.quantity.unit,
                    accepted_units: c.quantity.accepted_codes(),
                    range: c.quantity.range,
                    required: c.required,
                })
                .collect(),
            stages: (!k.stages.is_empty()).then(|| k.stages.to_vec()),
            text: k.text.map(|t| TextView { display: t.display, max_length: t.max_chars }),
            max_interval_seconds: k.max_interval_secs,
        }
    }
}

/// The whole catalogue as published to apps.
pub fn kind_views() -> Vec<KindView> {
    KINDS.iter().map(KindView::from).collect()
}

// ---------------------------------------------------------------------------
// Normalisation
// ---------------------------------------------------------------------------

/// One component as sent: `{"value": 142, "unit": "mm[Hg]"}`. Both fields are
/// optional here so that a missing one is a per-item error, not a malformed batch.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ComponentInput {
    pub value: Option<f64>,
    pub unit: Option<String>,
}

/// The kind-independent value part of one incoming observation, with
/// timestamps already parsed (and offset-checked) by the caller.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObservationValueInput {
    pub kind: String,
    pub value: Option<f64>,
    pub unit: Option<String>,
    pub components: Option<BTreeMap<String, ComponentInput>>,
    /// Sleep stage.
    pub code: Option<String>,
    /// Exercise activity type.
    pub text: Option<String>,
    pub effective_at: Option<DateTime<FixedOffset>>,
    pub effective_start: Option<DateTime<FixedOffset>>,
    pub effective_end: Option<DateTime<FixedOffset>>,
}

/// A rejected field: `path` is relative to the observation, JSON-pointer style
/// without the leading slash (`value`, `components/systolic/value`, `effectiveEnd`).
pub use crate::error::FieldError;

/// A canonical quantity plus what the client sent, kept for provenance.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Quantity {
    /// Converted to `unit` and rounded to [`CANONICAL_DECIMALS`] places.
    pub value: f64,
    /// Canonical UCUM unit.
    pub unit: &'static str,
    pub original_value: f64,
    /// The unit exactly as sent, alias spelling included.
    pub original_unit: String,
}

/// When the observation applies, checked against the kind's timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effective {
    Instant(DateTime<FixedOffset>),
    Interval { start: DateTime<FixedOffset>, end: DateTime<FixedOffset> },
}

impl Effective {
    /// The instant, or the start of the interval.
    pub fn start(&self) -> DateTime<FixedOffset> {
        match *self {
            Effective::Instant(at) => at,
            Effective::Interval { start, .. } => start,
        }
    }

    /// The instant, or the end of the interval.
    pub fn end(&self) -> DateTime<FixedOffset> {
        match *self {
            Effective::Instant(at) => at,
            Effective::Interval { end, .. } => end,
        }
    }
}

/// A validated observation value in canonical form.
#[derive(Debug, Clone, PartialEq)]
pub struct CanonicalValue {
    pub kind: &'static KindSpec,
    /// Set exactly when the kind has a single quantity.
    pub value: Option<Quantity>,
    /// Keyed by the catalogue's component names; only components sent.
    pub components: BTreeMap<&'static str, Quantity>,
    /// Sleep stage, one of the kind's `stages`.
    pub code: Option<&'static str>,
    /// Exercise activity type, trimmed.
    pub text: Option<String>,
    pub effective: Effective,
}

/// Validates one observation value against the catalogue and converts it to
/// canonical units. Every problem found is reported, not just the first;
/// an unknown kind stops the checks since nothing else can be judged.
pub fn normalize(input: &ObservationValueInput) -> Result<CanonicalValue, Vec<FieldError>> {
    let Some(spec) = kind(&input.kind) else {
        let known: Vec<&str> = KINDS.iter().map(|k| k.name).collect();
        return Err(vec![FieldError::new(
            "kind",
            format!("unknown kind {:?}; expected one of: {}", input.kind, known.join(", ")),
        )]);
    };
    let mut errors = Vec::new();

    let effective = check_timing(spec, input, &mut errors);
    let value = check_single_value(spec, input, &mut errors);
    let components = check_components(spec, input, &mut errors);
    let code = check_code(spec, input, &mut errors);
    let text = check_text(spec, input, &mut errors);

    match effective {
        Some(effective) if errors.is_empty() => {
            Ok(CanonicalValue { kind: spec, value, components, code, text, effective })
        }
        _ => Err(errors),
    }
}

fn check_timing(
    spec: &KindSpec,
    input: &ObservationValueInput,
    errors: &mut Vec<FieldError>,
) -> Option<Effective> {
    match spec.timing() {
        Timing::Instant => {
            for (path, present) in [
                ("effectiveStart", input.effective_start.is_some()),
                ("effectiveEnd", input.effective_end.is_some()),
            ] {
                if present {
                    errors.push(FieldError::new(
                        path,
                        format!("{} is measured at an instant; send only effectiveAt", spec.name),
                    ));
                }
            }
            if input.effective_at.is_none() {
                errors.push(FieldError::new("effectiveAt", "is required"));
            }
            input.effective_at.map(Effective::Instant)
        }
        Timing::Interval => {
            if input.effective_at.is_some() {
                errors.push(FieldError::new(
                    "effectiveAt",
                    format!("{} covers an interval; send effectiveStart and effectiveEnd instead", spec.name),
                ));
            }
            if input.effective_start.is_none() {
                errors.push(FieldError::new("effectiveStart", "is required"));
            }
            if input.effective_end.is_none() {
                errors.push(FieldError::new("effectiveEnd", "is required"));
            }
            let (start, end) = (input.effective_start?, input.effective_end?);
            let length = end.signed_duration_since(start).num_seconds();
            if end <= start {
                errors.push(FieldError::new("effectiveEnd", "must be after effectiveStart"));
                return None;
            }
            if let Some(max) = spec.max_interval_secs
                && length > max
            {
                errors.push(FieldError::new(
                    "effectiveEnd",
                    format!(
                        "the interval lasts {}; {} allows at most {}",
                        format_duration(length),
                        spec.name,
                        format_duration(max)
                    ),
                ));
                return None;
            }
            Some(Effective::Interval { start, end })
        }
    }
}

fn format_duration(secs: i64) -> String {
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let parts: Vec<String> = [(h, "h"), (m, "min"), (s, "s")]
        .into_iter()
        .filter(|(n, _)| *n != 0)
        .map(|(n, u)| format!("{n} {u}"))
        .collect();
    if parts.is_empty() { "0 s".to_owned() } else { parts.join(" ") }
}

fn check_single_value(
    spec: &KindSpec,
    input: &ObservationValueInput,
    errors: &mut Vec<FieldError>,
) -> Option<Quantity> {
    match &spec.quantity {
        Some(q) => check_quantity(q, input.value, input.unit.as_deref(), "", errors),
        None => {
            let instead = if spec.components.is_empty() {
                "has no value of its own"
            } else {
                "is recorded as components, not a single value"
            };
            for (path, present) in [("value", input.value.is_some()), ("unit", input.unit.is_some())] {
                if present {
                    errors.push(FieldError::new(path, format!("is not used: {} {instead}", spec.name)));
                }
            }
            None
        }
    }
}

/// Checks one quantity; `prefix` is `""` or `components/<name>/`.
fn check_quantity(
    q: &QuantitySpec,
    value: Option<f64>,
    unit: Option<&str>,
    prefix: &str,
    errors: &mut Vec<FieldError>,
) -> Option<Quantity> {
    let accepted = || q.accepted_codes().join(", ");
    let value = match value {
        None => {
            errors.push(FieldError::new(format!("{prefix}value"), "is required"));
            None
        }
        Some(v) if !v.is_finite() => {
            errors.push(FieldError::new(format!("{prefix}value"), "must be a finite number"));
            None
        }
        Some(v) => Some(v),
    };
    let conversion = match unit {
        None => {
            errors.push(FieldError::new(
                format!("{prefix}unit"),
                format!("is required; accepted units: {}", accepted()),
            ));
            None
        }
        Some(u) => {
            let found = q.conversion(resolve_unit(u));
            if found.is_none() {
                errors.push(FieldError::new(
                    format!("{prefix}unit"),
                    format!("cannot convert {u:?} to {}; accepted units: {}", q.unit, accepted()),
                ));
            }
            found
        }
    };
    let (original_value, conversion, original_unit) = (value?, conversion?, unit?);
    let canonical = conversion.to_canonical(original_value);
    if !q.range.contains(canonical) {
        let what = if conversion.code == q.unit {
            format!("{canonical} {}", q.unit)
        } else {
            format!("{original_value} {} is {canonical} {} which", conversion.code, q.unit)
        };
        errors.push(FieldError::new(
            format!("{prefix}value"),
            format!("{what} is outside the plausible range {} to {} {}", q.range.min, q.range.max, q.unit),
        ));
        return None;
    }
    Some(Quantity { value: canonical, unit: q.unit, original_value, original_unit: original_unit.to_owned() })
}

/// Escapes a map key for use in a JSON-pointer path (RFC 6901).
fn pointer_token(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn check_components(
    spec: &'static KindSpec,
    input: &ObservationValueInput,
    errors: &mut Vec<FieldError>,
) -> BTreeMap<&'static str, Quantity> {
    let mut out = BTreeMap::new();
    if spec.components.is_empty() {
        if input.components.is_some() {
            errors.push(FieldError::new(
                "components",
                format!("is not used: {} takes no components", spec.name),
            ));
        }
        return out;
    }
    let names = || spec.components.iter().map(|c| c.name).collect::<Vec<_>>().join(", ");
    let Some(sent) = &input.components else {
        let required: Vec<&str> = spec.components.iter().filter(|c| c.required).map(|c| c.name).collect();
        if !required.is_empty() {
            errors.push(FieldError::new("components", format!("is required: {}", required.join(", "))));
        }
        return out;
    };
    for (key, given) in sent {
        let prefix = format!("components/{}/", pointer_token(key));
        match spec.component(key) {
            None => errors.push(FieldError::new(
                format!("components/{}", pointer_token(key)),
                format!("unknown component for {}; expected one of: {}", spec.name, names()),
            )),
            Some(c) => {
                if let Some(q) =
                    check_quantity(&c.quantity, given.value, given.unit.as_deref(), &prefix, errors)
                {
                    out.insert(c.name, q);
                }
            }
        }
    }
    for c in spec.components.iter().filter(|c| c.required) {
        if !sent.contains_key(c.name) {
            errors.push(FieldError::new(format!("components/{}", c.name), "is required"));
        }
    }
    for (lower, higher) in spec.ordered_components {
        if let (Some(lo), Some(hi)) = (out.get(lower), out.get(higher))
            && lo.value >= hi.value
        {
            errors.push(FieldError::new(
                format!("components/{lower}/value"),
                format!(
                    "must be lower than {higher} ({} {} is not below {} {})",
                    lo.value, lo.unit, hi.value, hi.unit
                ),
            ));
        }
    }
    out
}

fn check_code(
    spec: &'static KindSpec,
    input: &ObservationValueInput,
    errors: &mut Vec<FieldError>,
) -> Option<&'static str> {
    if spec.stages.is_empty() {
        if input.code.is_some() {
            errors.push(FieldError::new("code", format!("is not used: {} takes no code", spec.name)));
        }
        return None;
    }
    let codes = || spec.stages.iter().map(|s| s.code).collect::<Vec<_>>().join(", ");
    match input.code.as_deref() {
        None => {
            errors.push(FieldError::new("code", format!("is required; one of: {}", codes())));
            None
        }
        Some(code) => match spec.stage(code) {
            Some(stage) => Some(stage.code),
            None => {
                errors.push(FieldError::new(
                    "code",
                    format!("unknown {} code {code:?}; expected one of: {}", spec.name, codes()),
                ));
                None
            }
        },
    }
}

fn check_text(
    spec: &KindSpec,
    input: &ObservationValueInput,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let Some(text_spec) = spec.text else {
        if input.text.is_some() {
            errors.push(FieldError::new("text", format!("is not used: {} takes no text", spec.name)));
        }
        return None;
    };
    let text = input.text.as_deref().map(str::trim).unwrap_or_default();
    if text.is_empty() {
        errors.push(FieldError::new(
            "text",
            format!("is required: the {}", text_spec.display.en.to_lowercase()),
        ));
        return None;
    }
    let chars = text.chars().count();
    if chars > text_spec.max_chars {
        errors.push(FieldError::new(
            "text",
            format!("is {chars} characters long; at most {} are allowed", text_spec.max_chars),
        ));
        return None;
    }
    Some(text.to_owned())
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    fn t(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    const AT: &str = "2026-01-06T07:30:00+09:00";
    const START: &str = "2026-01-06T00:00:00+09:00";
    const END: &str = "2026-01-06T08:00:00+09:00";

    /// A valid input for `kind` with everything but the quantity under test.
    fn base(kind_name: &str) -> ObservationValueInput {
        let spec = kind(kind_name).unwrap();
        let mut input = ObservationValueInput { kind: kind_name.to_owned(), ..Default::default() };
        match spec.timing() {
            Timing::Instant => input.effective_at = Some(t(AT)),
            Timing::Interval => {
                input.effective_start = Some(t(START));
                input.effective_end = Some(t(END));
            }
        }
        if !spec.stages.is_empty() {
            input.code = Some("deep".to_owned());
        }
        if spec.text.is_some() {
            input.text = Some("running".to_owned());
        }
        input
    }

    fn component(value: f64, unit: &str) -> ComponentInput {
        ComponentInput { value: Some(value), unit: Some(unit.to_owned()) }
    }

    fn bp(systolic: f64, diastolic: f64) -> ObservationValueInput {
        let mut input = base("blood_pressure");
        input.components = Some(BTreeMap::from([
            ("systolic".to_owned(), component(systolic, "mm[Hg]")),
            ("diastolic".to_owned(), component(diastolic, "mm[Hg]")),
        ]));
        input
    }

    /// Input carrying `value unit` as the kind's value, or as `comp` of it.
    fn with_quantity(kind_name: &str, comp: &str, value: f64, unit: &str) -> ObservationValueInput {
        if comp.is_empty() {
            let mut input = base(kind_name);
            input.value = Some(value);
            input.unit = Some(unit.to_owned());
            input
        } else {
            // Keep the other pressure at the far end of its range so that
            // diastolic < systolic holds for every value under test.
            let mut input = match (kind_name, comp) {
                ("blood_pressure", "systolic" | "diastolic") => bp(300.0, 20.0),
                ("blood_pressure", _) => bp(120.0, 80.0),
                _ => base(kind_name),
            };
            let comps = input.components.get_or_insert_with(BTreeMap::new);
            comps.insert(comp.to_owned(), component(value, unit));
            input
        }
    }

    fn canonical_of(c: &CanonicalValue, comp: &str) -> Quantity {
        if comp.is_empty() { c.value.clone().unwrap() } else { c.components[comp].clone() }
    }

    fn errors(input: &ObservationValueInput) -> Vec<FieldError> {
        normalize(input).unwrap_err()
    }

    fn only_error(input: &ObservationValueInput) -> FieldError {
        let errs = errors(input);
        assert_eq!(errs.len(), 1, "{errs:?}");
        errs.into_iter().next().unwrap()
    }

    /// (kind, component or "", unit as sent, value, expected canonical value)
    const CONVERSIONS: &[(&str, &str, &str, f64, f64)] = &[
        ("blood_pressure", "systolic", "mm[Hg]", 142.0, 142.0),
        ("blood_pressure", "diastolic", "mm[Hg]", 91.0, 91.0),
        ("blood_pressure", "pulse", "/min", 72.0, 72.0),
        ("heart_rate", "", "/min", 64.0, 64.0),
        ("body_weight", "", "kg", 63.4, 63.4),
        ("body_weight", "", "[lb_av]", 140.0, 63.5029),
        ("body_height", "", "cm", 172.5, 172.5),
        ("body_height", "", "m", 1.72, 172.0),
        ("body_height", "", "[in_i]", 69.0, 175.26),
        ("bmi", "", "kg/m2", 22.4, 22.4),
        ("body_fat", "", "%", 24.5, 24.5),
        ("body_fat", "", "1", 0.245, 24.5),
        ("waist", "", "cm", 84.0, 84.0),
        ("waist", "", "m", 0.84, 84.0),
        ("waist", "", "[in_i]", 33.0, 83.82),
        ("body_temperature", "", "Cel", 36.6, 36.6),
        ("body_temperature", "", "[degF]", 98.6, 37.0),
        ("blood_glucose", "", "mg/dL", 105.0, 105.0),
        ("blood_glucose", "", "mmol/L", 5.5, 99.088),
        ("hba1c", "", "%", 6.1, 6.1),
        ("hba1c", "", "mmol/mol", 48.0, 6.543),
        ("spo2", "", "%", 97.0, 97.0),
        ("spo2", "", "1", 0.97, 97.0),
        ("respiratory_rate", "", "/min", 16.0, 16.0),
        ("steps", "", "{steps}", 8421.0, 8421.0),
        ("active_energy", "", "kcal", 350.0, 350.0),
        ("active_energy", "", "kJ", 1000.0, 239.0057),
        ("exercise", "energy", "kcal", 420.0, 420.0),
        ("exercise", "energy", "kJ", 2092.0, 500.0),
        ("exercise", "distance", "m", 5000.0, 5000.0),
        ("exercise", "distance", "km", 5.2, 5200.0),
        ("exercise", "distance", "[mi_i]", 3.1, 4988.9664),
    ];

    /// Every (kind, component, quantity spec) in the catalogue.
    fn all_quantities() -> Vec<(&'static str, &'static str, &'static QuantitySpec)> {
        let mut out = Vec::new();
        for k in kinds() {
            if let Some(q) = &k.quantity {
                out.push((k.name, "", q));
            }
            for c in k.components {
                out.push((k.name, c.name, &c.quantity));
            }
        }
        out
    }

    #[test]
    fn every_kind_accepts_typical_values_in_every_accepted_unit() {
        for &(k, comp, unit, value, expected) in CONVERSIONS {
            let c = normalize(&with_quantity(k, comp, value, unit))
                .unwrap_or_else(|e| panic!("{k}/{comp} {value} {unit}: {e:?}"));
            let q = canonical_of(&c, comp);
            assert_eq!(q.value, expected, "{k}/{comp} {value} {unit}");
            let spec_unit = match comp {
                "" => kind(k).unwrap().quantity.unwrap().unit,
                _ => kind(k).unwrap().component(comp).unwrap().quantity.unit,
            };
            assert_eq!(q.unit, spec_unit);
            assert_eq!(q.original_value, value);
            assert_eq!(q.original_unit, unit);
            assert_eq!(c.kind.name, k);
        }
    }

    #[test]
    fn conversion_table_covers_every_accepted_unit_of_every_kind() {
        for (k, comp, q) in all_quantities() {
            for conv in q.accepted {
                assert!(
                    CONVERSIONS.iter().any(|&(ck, cc, cu, _, _)| (ck, cc, cu) == (k, comp, conv.code)),
                    "no conversion case for {k}/{comp} in {}",
                    conv.code
                );
            }
        }
        for k in kinds() {
            assert!(CONVERSIONS.iter().any(|c| c.0 == k.name) || k.quantity.is_none());
        }
    }

    #[test]
    fn every_kind_and_component_rejects_below_min_and_above_max() {
        for (k, comp, q) in all_quantities() {
            let prefix = if comp.is_empty() { String::new() } else { format!("components/{comp}/") };
            for inside in [q.range.min, q.range.max] {
                let c = normalize(&with_quantity(k, comp, inside, q.unit))
                    .unwrap_or_else(|e| panic!("{k}/{comp} {inside}: {e:?}"));
                assert_eq!(canonical_of(&c, comp).value, inside);
            }
            for outside in [q.range.min - 0.01, q.range.max + 0.01] {
                let input = with_quantity(k, comp, outside, q.unit);
                let err = only_error(&input);
                assert_eq!(err.path, format!("{prefix}value"), "{k}/{comp}");
                assert_eq!(
                    err.message,
                    format!(
                        "{} {} is outside the plausible range {} to {} {}",
                        round_canonical(outside),
                        q.unit,
                        q.range.min,
                        q.range.max,
                        q.unit
                    )
                );
            }
        }
    }

    #[test]
    fn range_is_checked_after_conversion_and_message_shows_both() {
        let err = only_error(&with_quantity("body_weight", "", 1200.0, "lb"));
        assert_eq!(err.path, "value");
        assert_eq!(
            err.message,
            "1200 [lb_av] is 544.3108 kg which is outside the plausible range 0.5 to 500 kg"
        );
        // 104 °F is a fever, 40 Cel, inside the range although 104 > 45.
        let c = normalize(&with_quantity("body_temperature", "", 104.0, "[degF]")).unwrap();
        assert_eq!(c.value.unwrap().value, 40.0);
        let err = only_error(&with_quantity("blood_glucose", "", 0.5, "mmol/L"));
        assert_eq!(
            err.message,
            "0.5 mmol/L is 9.008 mg/dL which is outside the plausible range 10 to 1500 mg/dL"
        );
    }

    #[test]
    fn aliases_resolve_to_ucum_and_keep_the_spelling_sent() {
        let cases: &[(&str, &str, &str, f64, f64)] = &[
            ("body_weight", "", "lb", 140.0, 63.5029),
            ("body_weight", "", "lbs", 140.0, 63.5029),
            ("body_weight", "", " kg ", 70.0, 70.0),
            ("heart_rate", "", "bpm", 64.0, 64.0),
            ("heart_rate", "", "beats/min", 64.0, 64.0),
            ("respiratory_rate", "", "breaths/min", 16.0, 16.0),
            ("body_temperature", "", "degC", 36.5, 36.5),
            ("body_temperature", "", "°C", 36.5, 36.5),
            ("body_temperature", "", "℃", 36.5, 36.5),
            ("body_temperature", "", "degF", 98.6, 37.0),
            ("body_temperature", "", "°F", 98.6, 37.0),
            ("body_temperature", "", "℉", 98.6, 37.0),
            ("steps", "", "steps", 8421.0, 8421.0),
            ("blood_glucose", "", "mg/dl", 105.0, 105.0),
            ("blood_glucose", "", "mmol/l", 5.5, 99.088),
            ("body_height", "", "in", 69.0, 175.26),
            ("bmi", "", "kg/m²", 22.4, 22.4),
            ("active_energy", "", "Cal", 350.0, 350.0),
            ("blood_pressure", "systolic", "mmHg", 142.0, 142.0),
            ("blood_pressure", "pulse", "bpm", 72.0, 72.0),
            ("exercise", "distance", "mi", 1.0, 1609.344),
        ];
        for &(k, comp, unit, value, expected) in cases {
            let c = normalize(&with_quantity(k, comp, value, unit))
                .unwrap_or_else(|e| panic!("{k} {unit}: {e:?}"));
            let q = canonical_of(&c, comp);
            assert_eq!(q.value, expected, "{k} {unit}");
            assert_eq!(q.original_unit, unit);
        }
    }

    #[test]
    fn every_alias_targets_a_unit_some_kind_accepts() {
        let codes: Vec<&str> = all_quantities().iter().flat_map(|(_, _, q)| q.accepted_codes()).collect();
        for (alias, code) in UNIT_ALIASES {
            assert!(codes.contains(code), "alias {alias} → {code} is accepted nowhere");
            assert!(!codes.contains(alias), "alias {alias} shadows a UCUM code");
        }
    }

    #[test]
    fn aliases_are_case_sensitive_where_case_changes_the_unit() {
        // "cal" is the small calorie; it must not pass as kcal.
        let err = only_error(&with_quantity("active_energy", "", 350.0, "cal"));
        assert_eq!(err.path, "unit");
        assert_eq!(err.message, "cannot convert \"cal\" to kcal; accepted units: kcal, kJ");
    }

    #[test]
    fn unknown_kind_is_the_only_error() {
        let input = ObservationValueInput {
            kind: "Body_Weight".to_owned(),
            value: Some(f64::NAN),
            ..Default::default()
        };
        let err = only_error(&input);
        assert_eq!(err.path, "kind");
        assert!(
            err.message
                .starts_with("unknown kind \"Body_Weight\"; expected one of: blood_pressure, heart_rate,"),
            "{}",
            err.message
        );
        assert!(err.message.ends_with("sleep, exercise"));
    }

    #[test]
    fn missing_value_and_unit_are_each_reported() {
        let mut input = base("body_weight");
        let errs = errors(&input);
        assert_eq!(
            errs,
            vec![
                FieldError::new("value", "is required"),
                FieldError::new("unit", "is required; accepted units: kg, [lb_av]"),
            ]
        );
        input.value = Some(70.0);
        assert_eq!(only_error(&input), FieldError::new("unit", "is required; accepted units: kg, [lb_av]"));
    }

    #[test]
    fn unconvertible_unit_lists_accepted_units() {
        let err = only_error(&with_quantity("body_weight", "", 11.0, "[stone_av]"));
        assert_eq!(
            err,
            FieldError::new("unit", "cannot convert \"[stone_av]\" to kg; accepted units: kg, [lb_av]")
        );
        let err = only_error(&with_quantity("blood_pressure", "systolic", 18.0, "kPa"));
        assert_eq!(
            err,
            FieldError::new(
                "components/systolic/unit",
                "cannot convert \"kPa\" to mm[Hg]; accepted units: mm[Hg]"
            )
        );
    }

    #[test]
    fn nan_and_infinite_values_are_rejected() {
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let err = only_error(&with_quantity("heart_rate", "", v, "/min"));
            assert_eq!(err, FieldError::new("value", "must be a finite number"));
            let err = only_error(&with_quantity("blood_pressure", "pulse", v, "/min"));
            assert_eq!(err, FieldError::new("components/pulse/value", "must be a finite number"));
        }
        // Finite but overflowing on conversion is a range error, not a panic.
        let err = only_error(&with_quantity("body_height", "", f64::MAX, "m"));
        assert_eq!(err.path, "value");
        assert!(err.message.contains("outside the plausible range 20 to 300 cm"));
    }

    #[test]
    fn instant_kind_refuses_an_interval() {
        let mut input = with_quantity("heart_rate", "", 64.0, "/min");
        input.effective_at = None;
        input.effective_start = Some(t(START));
        input.effective_end = Some(t(END));
        let errs = errors(&input);
        let msg = "heart_rate is measured at an instant; send only effectiveAt";
        assert_eq!(
            errs,
            vec![
                FieldError::new("effectiveStart", msg),
                FieldError::new("effectiveEnd", msg),
                FieldError::new("effectiveAt", "is required"),
            ]
        );
    }

    #[test]
    fn interval_kind_refuses_an_instant() {
        let mut input = with_quantity("steps", "", 8421.0, "{steps}");
        input.effective_start = None;
        input.effective_end = None;
        input.effective_at = Some(t(AT));
        assert_eq!(
            errors(&input),
            vec![
                FieldError::new(
                    "effectiveAt",
                    "steps covers an interval; send effectiveStart and effectiveEnd instead"
                ),
                FieldError::new("effectiveStart", "is required"),
                FieldError::new("effectiveEnd", "is required"),
            ]
        );
    }

    #[test]
    fn interval_end_must_follow_start() {
        let mut input = with_quantity("steps", "", 10.0, "{steps}");
        input.effective_end = Some(t(START) - TimeDelta::minutes(1));
        assert_eq!(only_error(&input), FieldError::new("effectiveEnd", "must be after effectiveStart"));
        input.effective_end = Some(t(START));
        assert_eq!(only_error(&input), FieldError::new("effectiveEnd", "must be after effectiveStart"));
    }

    #[test]
    fn interval_end_is_compared_as_instants_across_offsets() {
        let mut input = with_quantity("steps", "", 10.0, "{steps}");
        input.effective_start = Some(t("2026-01-06T09:00:00+09:00"));
        // 00:30Z is 09:30+09:00: after the start although it reads earlier.
        input.effective_end = Some(t("2026-01-06T00:30:00+00:00"));
        let c = normalize(&input).unwrap();
        assert_eq!(c.effective.end() - c.effective.start(), TimeDelta::minutes(30));
    }

    #[test]
    fn interval_longer_than_the_kind_allows_is_rejected() {
        let mut input = with_quantity("steps", "", 10.0, "{steps}");
        input.effective_end = Some(t(START) + TimeDelta::hours(25));
        assert!(normalize(&input).is_ok());
        input.effective_end = Some(t(START) + TimeDelta::hours(26) + TimeDelta::minutes(30));
        assert_eq!(
            only_error(&input),
            FieldError::new("effectiveEnd", "the interval lasts 26 h 30 min; steps allows at most 25 h")
        );
        let mut sleep = base("sleep");
        sleep.effective_end = Some(t(START) + TimeDelta::hours(24) + TimeDelta::seconds(1));
        assert_eq!(
            only_error(&sleep),
            FieldError::new("effectiveEnd", "the interval lasts 24 h 1 s; sleep allows at most 24 h")
        );
    }

    #[test]
    fn blood_pressure_normalises_components_and_optional_pulse() {
        let mut input = bp(142.0, 91.0);
        let c = normalize(&input).unwrap();
        assert_eq!(c.value, None);
        assert_eq!(c.components.len(), 2);
        assert_eq!(c.components["systolic"].value, 142.0);
        assert_eq!(c.components["diastolic"].value, 91.0);
        assert_eq!(c.effective, Effective::Instant(t(AT)));
        input.components.as_mut().unwrap().insert("pulse".to_owned(), component(70.0, "bpm"));
        let c = normalize(&input).unwrap();
        assert_eq!(c.components["pulse"].value, 70.0);
        assert_eq!(c.components["pulse"].unit, "/min");
    }

    #[test]
    fn blood_pressure_component_errors_have_precise_paths() {
        let mut input = base("blood_pressure");
        assert_eq!(only_error(&input), FieldError::new("components", "is required: systolic, diastolic"));
        input.components = Some(BTreeMap::from([
            ("systolic".to_owned(), ComponentInput::default()),
            ("mean/arterial".to_owned(), component(90.0, "mm[Hg]")),
        ]));
        assert_eq!(
            errors(&input),
            vec![
                FieldError::new(
                    "components/mean~1arterial",
                    "unknown component for blood_pressure; expected one of: systolic, diastolic, pulse"
                ),
                FieldError::new("components/systolic/value", "is required"),
                FieldError::new("components/systolic/unit", "is required; accepted units: mm[Hg]"),
                FieldError::new("components/diastolic", "is required"),
            ]
        );
    }

    #[test]
    fn diastolic_must_be_below_systolic() {
        assert_eq!(
            only_error(&bp(80.0, 120.0)),
            FieldError::new(
                "components/diastolic/value",
                "must be lower than systolic (120 mm[Hg] is not below 80 mm[Hg])"
            )
        );
        assert_eq!(only_error(&bp(100.0, 100.0)).path, "components/diastolic/value");
    }

    #[test]
    fn fields_a_kind_does_not_use_are_rejected_not_dropped() {
        let mut input = bp(120.0, 80.0);
        input.value = Some(120.0);
        input.unit = Some("mm[Hg]".to_owned());
        input.code = Some("deep".to_owned());
        input.text = Some("walk".to_owned());
        assert_eq!(
            errors(&input),
            vec![
                FieldError::new(
                    "value",
                    "is not used: blood_pressure is recorded as components, not a single value"
                ),
                FieldError::new(
                    "unit",
                    "is not used: blood_pressure is recorded as components, not a single value"
                ),
                FieldError::new("code", "is not used: blood_pressure takes no code"),
                FieldError::new("text", "is not used: blood_pressure takes no text"),
            ]
        );
        let mut hr = with_quantity("heart_rate", "", 64.0, "/min");
        hr.components = Some(BTreeMap::new());
        assert_eq!(
            only_error(&hr),
            FieldError::new("components", "is not used: heart_rate takes no components")
        );
        let mut sleep = base("sleep");
        sleep.value = Some(8.0);
        assert_eq!(
            only_error(&sleep),
            FieldError::new("value", "is not used: sleep has no value of its own")
        );
    }

    #[test]
    fn sleep_takes_a_stage_code_over_an_interval() {
        for stage in ["awake", "light", "deep", "rem", "asleep", "in_bed"] {
            let mut input = base("sleep");
            input.code = Some(stage.to_owned());
            let c = normalize(&input).unwrap();
            assert_eq!(c.code, Some(stage));
            assert_eq!(c.effective, Effective::Interval { start: t(START), end: t(END) });
        }
        let mut input = base("sleep");
        input.code = Some("REM".to_owned());
        assert_eq!(
            only_error(&input),
            FieldError::new(
                "code",
                "unknown sleep code \"REM\"; expected one of: awake, light, deep, rem, asleep, in_bed"
            )
        );
        input.code = None;
        assert_eq!(
            only_error(&input),
            FieldError::new("code", "is required; one of: awake, light, deep, rem, asleep, in_bed")
        );
    }

    #[test]
    fn exercise_takes_trimmed_activity_text_and_optional_quantities() {
        let mut input = base("exercise");
        input.text = Some("  running ".to_owned());
        let c = normalize(&input).unwrap();
        assert_eq!(c.text.as_deref(), Some("running"));
        assert!(c.components.is_empty());
        assert_eq!(c.value, None);

        input.text = Some("   ".to_owned());
        assert_eq!(only_error(&input), FieldError::new("text", "is required: the activity type"));
        input.text = None;
        assert_eq!(only_error(&input), FieldError::new("text", "is required: the activity type"));
        input.text = Some("走".repeat(101));
        assert_eq!(
            only_error(&input),
            FieldError::new("text", "is 101 characters long; at most 100 are allowed")
        );
        input.text = Some("走".repeat(100));
        assert!(normalize(&input).is_ok());
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let input = ObservationValueInput {
            kind: "body_weight".to_owned(),
            value: Some(f64::NAN),
            unit: Some("stone".to_owned()),
            effective_start: Some(t(START)),
            ..Default::default()
        };
        let paths: Vec<String> = errors(&input).into_iter().map(|e| e.path).collect();
        assert_eq!(paths, ["effectiveStart", "effectiveAt", "value", "unit"]);
    }

    #[test]
    fn canonical_rounding_is_four_decimals_without_negative_zero() {
        assert_eq!(round_canonical(63.502_931_8), 63.5029);
        assert_eq!(round_canonical(0.000_04), 0.0);
        assert!(round_canonical(-0.000_04).is_sign_positive());
        let c = normalize(&with_quantity("body_weight", "", 70.123_456, "kg")).unwrap();
        let q = c.value.unwrap();
        assert_eq!((q.value, q.original_value), (70.1235, 70.123_456));
    }

    #[test]
    fn catalogue_holds_exactly_the_contract_kinds_with_consistent_data() {
        let names: Vec<&str> = kinds().iter().map(|k| k.name).collect();
        assert_eq!(
            names,
            [
                "blood_pressure",
                "heart_rate",
                "body_weight",
                "body_height",
                "bmi",
                "body_fat",
                "waist",
                "body_temperature",
                "blood_glucose",
                "hba1c",
                "spo2",
                "respiratory_rate",
                "steps",
                "active_energy",
                "sleep",
                "exercise"
            ]
        );
        for k in kinds() {
            assert!(!k.display.en.is_empty() && !k.display.ja.is_empty(), "{}", k.name);
            assert_eq!(
                k.quantity.is_some(),
                matches!(k.value_type, ValueType::Quantity | ValueType::IntervalQuantity),
                "{}",
                k.name
            );
            assert_eq!(!k.stages.is_empty(), k.value_type == ValueType::CodedInterval, "{}", k.name);
            assert_eq!(k.text.is_some(), k.value_type == ValueType::Session, "{}", k.name);
            assert_eq!(k.max_interval_secs.is_some(), k.timing() == Timing::Interval, "{}", k.name);
            for (lower, higher) in k.ordered_components {
                assert!(k.component(lower).is_some() && k.component(higher).is_some());
            }
        }
        for (k, comp, q) in all_quantities() {
            assert!(q.range.min < q.range.max, "{k}/{comp}");
            let first = q.accepted[0];
            assert_eq!(
                (first.code, first.factor, first.offset),
                (q.unit, 1.0, 0.0),
                "{k}/{comp}: canonical unit must be listed first, as identity"
            );
        }
    }

    #[test]
    fn category_assignments() {
        let of = |n: &str| kind(n).unwrap().category;
        for n in [
            "blood_pressure",
            "heart_rate",
            "body_weight",
            "body_height",
            "bmi",
            "body_fat",
            "waist",
            "body_temperature",
            "spo2",
            "respiratory_rate",
        ] {
            assert_eq!(of(n), Category::Vitals, "{n}");
        }
        assert_eq!(of("blood_glucose"), Category::Labs);
        assert_eq!(of("hba1c"), Category::Labs);
        for n in ["steps", "active_energy", "sleep", "exercise"] {
            assert_eq!(of(n), Category::Activity, "{n}");
        }
    }

    /// LOINC codes end in a mod-10 (Luhn) check digit; a typo fails it.
    fn loinc_check_digit_ok(code: &str) -> bool {
        let Some((body, check)) = code.split_once('-') else {
            return false;
        };
        let digits: Option<Vec<u32>> = body.chars().map(|c| c.to_digit(10)).collect();
        let (Some(digits), Ok(check)) = (digits, check.parse::<u32>()) else {
            return false;
        };
        let sum: u32 = digits
            .iter()
            .rev()
            .enumerate()
            .map(|(i, &d)| {
                if i % 2 == 0 {
                    let d2 = d * 2;
                    d2 / 10 + d2 % 10
                } else {
                    d
                }
            })
            .sum();
        (10 - sum % 10) % 10 == check
    }

    #[test]
    fn loinc_codes_are_well_formed() {
        assert!(loinc_check_digit_ok("8480-6"));
        assert!(!loinc_check_digit_ok("8480-7"));
        for k in kinds() {
            assert!(loinc_check_digit_ok(k.loinc), "{} {}", k.name, k.loinc);
            for c in k.components {
                if let Some(code) = c.loinc {
                    assert!(loinc_check_digit_ok(code), "{}/{} {code}", k.name, c.name);
                }
            }
        }
    }

    #[test]
    fn catalogue_view_serialises_in_the_published_shape() {
        let views = kind_views();
        assert_eq!(views.len(), kinds().len());
        let json = serde_json::to_value(&views).unwrap();

        let weight = &json[2];
        assert_eq!(
            *weight,
            serde_json::json!({
                "name": "body_weight",
                "category": "vitals",
                "loinc": "29463-7",
                "display": {"en": "Body weight", "ja": "体重"},
                "valueType": "quantity",
                "timing": "instant",
                "unit": "kg",
                "acceptedUnits": ["kg", "[lb_av]"],
                "range": {"min": 0.5, "max": 500.0},
                "components": []
            })
        );

        let bp = &json[0];
        assert_eq!(bp["valueType"], "components");
        assert!(bp.get("unit").is_none());
        assert_eq!(bp["acceptedUnits"], serde_json::json!([]));
        assert_eq!(
            bp["components"][0],
            serde_json::json!({
                "name": "systolic",
                "loinc": "8480-6",
                "display": {"en": "Systolic blood pressure", "ja": "収縮期血圧"},
                "unit": "mm[Hg]",
                "acceptedUnits": ["mm[Hg]"],
                "range": {"min": 40.0, "max": 300.0},
                "required": true
            })
        );
        assert_eq!(bp["components"][2]["required"], false);

        let steps = &json[12];
        assert_eq!(steps["timing"], "interval");
        assert_eq!(steps["valueType"], "interval_quantity");
        assert_eq!(steps["maxIntervalSeconds"], 90_000);

        let sleep = &json[14];
        assert_eq!(sleep["valueType"], "coded_interval");
        assert_eq!(
            sleep["stages"][5],
            serde_json::json!({"code": "in_bed", "display": {"en": "In bed", "ja": "就床"}})
        );

        let exercise = &json[15];
        assert_eq!(exercise["valueType"], "session");
        assert_eq!(exercise["text"]["maxLength"], 100);
        assert_eq!(exercise["components"][1]["loinc"], serde_json::Value::Null);
    }

    #[test]
    fn quantity_and_field_error_serialise_camel_case() {
        let c = normalize(&with_quantity("body_weight", "", 140.0, "lbs")).unwrap();
        assert_eq!(
            serde_json::to_value(c.value.unwrap()).unwrap(),
            serde_json::json!({
                "value": 63.5029, "unit": "kg", "originalValue": 140.0, "originalUnit": "lbs"
            })
        );
        let e = FieldError::new("components/systolic/value", "is required");
        assert_eq!(e.to_string(), "components/systolic/value: is required");
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({"path": "components/systolic/value", "message": "is required"})
        );
    }

    #[test]
    fn openapi_schema_names_the_camel_case_fields() {
        use utoipa::PartialSchema;
        let schema = serde_json::to_value(KindView::schema()).unwrap();
        let props = &schema["properties"];
        for field in ["valueType", "acceptedUnits", "components", "timing", "stages"] {
            assert!(props.get(field).is_some(), "{field} missing in {schema}");
        }
        let quantity = serde_json::to_value(Quantity::schema()).unwrap();
        assert_eq!(quantity["properties"]["unit"]["type"], "string");
    }

    #[test]
    fn component_input_deserialises_with_missing_fields() {
        let c: ComponentInput = serde_json::from_str(r#"{"value": 142}"#).unwrap();
        assert_eq!(c, ComponentInput { value: Some(142.0), unit: None });
    }
}
