//! What the timeline returns.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::category::Category;

/// Where an item came from.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = TimelineSource)]
pub struct Source {
    /// `app` (typed in or imported by an app), `device` (measured by a device),
    /// `pharmacy` (an e-medication-handbook QR record), `facility` (SS-MIX2
    /// from a hospital, clinic or lab of the network) or `municipality` (a
    /// programme nurse's guidance note).
    pub kind: String,
    /// The app, device, pharmacy or facility name, where known.
    pub name: Option<String>,
    /// The 10-digit medical institution code of a facility or pharmacy, where known.
    pub code: Option<String>,
    /// The organization in this service, where there is one.
    pub org_id: Option<Uuid>,
}

/// A related item elsewhere on the timeline.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Link {
    /// The other item's `type`.
    #[serde(rename = "type")]
    pub item_type: String,
    pub id: Uuid,
    /// `fills` (a dispensing fills this prescription) or `filled_by` (the reverse).
    pub relation: String,
}

/// One item of the timeline.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TimelineItem {
    pub id: Uuid,
    /// `observation`, `lab_result`, `prescription`, `dispensing`, `allergy`,
    /// `condition`, `medication_note`, `note` or `document` (an SS-MIX2 file
    /// of a kind that is not mapped to items, listed as received).
    #[serde(rename = "type")]
    pub item_type: String,
    pub category: Category,
    /// When it happened: the measurement, the specimen collection, the
    /// prescription or dispensing date (midnight in Japan), the time a fact
    /// or document entered the record.
    pub at: DateTime<Utc>,
    /// A one-line summary in the record's own words.
    pub title: String,
    pub source: Source,
    /// The item as its own endpoint returns it.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
}
