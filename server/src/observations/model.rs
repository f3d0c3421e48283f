//! Wire shapes of observations (the mobile contract) and their mapping to rows.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::catalogue::{self, ComponentInput, KindSpec};
use crate::entities::observation;
use crate::error::FieldError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Measured by a device and read by the app.
    Device,
    /// Typed in by a person.
    Manual,
    /// Imported from another record.
    Imported,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Device => "device",
            Self::Manual => "manual",
            Self::Imported => "imported",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "device" => Self::Device,
            "imported" => Self::Imported,
            _ => Self::Manual,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Source {
    /// The app that read or recorded the value, e.g. `HealthKit`.
    #[schema(example = "HealthKit")]
    pub app: Option<String>,
    /// The measuring device; part of cross-device de-duplication.
    #[schema(example = "omron-hcr-7601t")]
    pub device: Option<String>,
    pub method: Method,
}

/// One observation as uploaded. Exactly one of `value`+`unit` or `components`
/// (as the kind requires); `effectiveAt` for instants, `effectiveStart` and
/// `effectiveEnd` for intervals. Timestamps need a UTC offset.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObservationIn {
    /// Client-generated UUID; re-sending it is safe.
    #[schema(value_type = Uuid)]
    pub id: String,
    #[schema(example = "body_weight")]
    pub kind: String,
    pub value: Option<f64>,
    /// UCUM code (`kg`, `[lb_av]`, `mm[Hg]`, …); common spellings such as `lb` are accepted.
    pub unit: Option<String>,
    pub components: Option<BTreeMap<String, ComponentInput>>,
    /// Sleep stage (`awake`, `light`, `deep`, `rem`, `asleep`, `in_bed`).
    pub code: Option<String>,
    /// Exercise activity type.
    pub text: Option<String>,
    #[schema(value_type = Option<String>, example = "2026-01-06T07:30:00+09:00")]
    pub effective_at: Option<String>,
    #[schema(value_type = Option<String>)]
    pub effective_start: Option<String>,
    #[schema(value_type = Option<String>)]
    pub effective_end: Option<String>,
    pub source: Source,
    pub note: Option<String>,
    /// Server-assigned fields echoed back by a client are ignored; anything else is refused.
    #[serde(flatten)]
    #[schema(ignore)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// Fields a client may send back unchanged from a response; they are ignored.
pub const ECHOED_FIELDS: &[&str] =
    &["version", "createdAt", "updatedAt", "category", "originalValue", "originalUnit", "deleted"];

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BatchRequest {
    /// Up to 5,000 observations (configurable).
    #[schema(value_type = Vec<ObservationIn>)]
    pub observations: Vec<serde_json::Value>,
}

impl validator::Validate for BatchRequest {
    fn validate(&self) -> Result<(), validator::ValidationErrors> {
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ItemStatus {
    Created,
    /// Already stored with the same content (a retry, or the same sample from another phone).
    Unchanged,
    /// The id exists with different content; nothing was overwritten.
    Conflict,
    /// Invalid; see `errors`.
    Rejected,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ItemResult {
    /// The stored observation's id: for a cross-device duplicate, the id of the
    /// copy stored first. `null` when the item's id could not be read.
    #[schema(value_type = Option<String>)]
    pub id: Option<String>,
    pub status: ItemStatus,
    pub version: Option<i32>,
    /// The id this item was sent with, when it differs from `id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub submitted_id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub errors: Vec<FieldError>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BatchResponse {
    /// One result per submitted item, in input order.
    pub results: Vec<ItemResult>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QuantityOut {
    pub value: f64,
    pub unit: String,
    pub original_value: f64,
    pub original_unit: String,
}

/// One stored observation: canonical values with their units, and the values
/// and units as originally sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Observation {
    pub id: Uuid,
    pub kind: String,
    pub category: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original_value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original_unit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub components: Option<BTreeMap<String, QuantityOut>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// In the offset it was sent with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effective_at: Option<DateTime<FixedOffset>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effective_start: Option<DateTime<FixedOffset>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effective_end: Option<DateTime<FixedOffset>>,
    pub source: Source,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What `original` holds: each quantity as the client sent it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Original {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<(f64, String)>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub components: BTreeMap<String, (f64, String)>,
}

/// Slot `i` of a kind: its single quantity, or its i-th component.
pub fn slot_unit(kind: &KindSpec, i: usize) -> Option<&'static str> {
    match &kind.quantity {
        Some(q) => (i == 0).then_some(q.unit),
        None => kind.components.get(i).map(|c| c.quantity.unit),
    }
}

fn at(ms: i64, offset_s: i32) -> Option<DateTime<FixedOffset>> {
    let tz = FixedOffset::east_opt(offset_s)?;
    tz.timestamp_millis_opt(ms).single()
}

impl Observation {
    pub fn from_row(row: observation::Model) -> Self {
        let kind = catalogue::kind(&row.kind);
        let original: Original = serde_json::from_str(&row.original).unwrap_or_default();
        let slots = [row.value0, row.value1, row.value2];
        let (mut value, mut unit, mut original_value, mut original_unit, mut components) =
            (None, None, None, None, None);
        if let Some(k) = kind {
            if k.quantity.is_some() {
                value = slots[0];
                unit = slot_unit(k, 0).map(str::to_owned);
                if let Some((v, u)) = original.value {
                    original_value = Some(v);
                    original_unit = Some(u);
                }
            } else if !k.components.is_empty() {
                let mut map = BTreeMap::new();
                for (i, c) in k.components.iter().enumerate() {
                    if let Some(v) = slots.get(i).copied().flatten() {
                        let (ov, ou) = original
                            .components
                            .get(c.name)
                            .cloned()
                            .unwrap_or((v, c.quantity.unit.to_owned()));
                        map.insert(
                            c.name.to_owned(),
                            QuantityOut {
                                value: v,
                                unit: c.quantity.unit.to_owned(),
                                original_value: ov,
                                original_unit: ou,
                            },
                        );
                    }
                }
                components = Some(map);
            }
        }
        let (effective_at, effective_start, effective_end) = match row.end_ms {
            None => (at(row.start_ms, row.utc_offset_s), None, None),
            Some(end) => (None, at(row.start_ms, row.utc_offset_s), at(end, row.utc_offset_s)),
        };
        Observation {
            id: row.id,
            kind: row.kind,
            category: row.category,
            value,
            unit,
            original_value,
            original_unit,
            components,
            code: row.code,
            text: row.text,
            effective_at,
            effective_start,
            effective_end,
            source: Source {
                app: row.source_app,
                device: row.source_device,
                method: Method::parse(&row.source_method),
            },
            note: row.note,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}
