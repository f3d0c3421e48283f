//! `/v1/persons/{personId}/medications/…`, `/dispensings`, `/facts`.

use actix_web::http::header;
use actix_web::{HttpResponse, delete, get, post, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::service::{self, CurrentMedications, QrPart, ScanOutcome, ScanPreview};
use crate::auth::Caller;
use crate::category::Category;
use crate::consent::{Action, Scope, authorize};
use crate::entities::{dispensing, health_fact};
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::{Cursor, Json, Page, pagination};
use crate::startup::AppState;

const PROBLEM: &str = "application/problem+json";
const MEDS: Scope = Scope::One(Category::Medications);
/// A scan writes dispensings (medications) and the facts the payload carries.
const SCAN: Scope =
    Scope::AnyOf(&[Category::Medications, Category::Allergies, Category::Conditions, Category::Notes]);

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QrRequest {
    /// Continue an unfinished scan (from a 202 answer).
    pub scan_id: Option<Uuid>,
    /// One or more QR symbols, in any order.
    #[schema(min_items = 1)]
    pub parts: Vec<QrPart>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DispensingView {
    pub id: Uuid,
    #[schema(value_type = String)]
    pub dispensed_on: NaiveDate,
    pub pharmacy: Option<String>,
    /// The dispensing as read: pharmacy, pharmacist, prescriber, RPs with drugs and usage, notes.
    #[schema(value_type = Object)]
    pub dispensing: serde_json::Value,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    /// The scanned parts it came from (provenance); on the single-record endpoint only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub raw_payload: Option<serde_json::Value>,
}

pub fn view(d: dispensing::Model, raw: bool) -> DispensingView {
    DispensingView {
        id: d.id,
        dispensed_on: d.dispensed_on,
        pharmacy: d.pharmacy_name,
        dispensing: serde_json::from_str(&d.data).unwrap_or_default(),
        version: d.version,
        created_at: d.created_at,
        raw_payload: raw.then(|| serde_json::from_str(&d.raw_payload).unwrap_or_default()),
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QrImported {
    pub dispensings: Vec<DispensingView>,
    pub created: usize,
    /// Already on the record (a re-scan).
    pub unchanged: usize,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QrIncomplete {
    /// Send the remaining parts with this id (kept 24 hours).
    pub scan_id: Uuid,
    /// Part numbers received (911 split: 1-based; Structured Append: 0-based symbol index).
    pub received: Vec<u16>,
    pub missing: Vec<u16>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ScanParams {
    /// `true`: read and check the symbols and answer what saving them would
    /// store (200), storing nothing, not even an unfinished scan.
    pub preview: Option<bool>,
}

/// Scan お薬手帳 QR codes
///
/// The symbols of a pharmacy receipt (JAHIS, any version, split by 911
/// records or QR Structured Append, Shift_JIS bytes as base64 or decoded
/// text). A complete set is stored (201); re-scanning returns the existing
/// records as `unchanged`. An incomplete set is kept and answered 202 with
/// the missing parts. Pharmacists use it with a `medications` write grant.
/// With `preview=true` the same parts are read and checked under the same
/// grant and answered 200 with what would be stored; nothing is written.
#[utoipa::path(
    tag = "medications",
    params(("personId" = Uuid, Path, description = "Person id"), ScanParams),
    request_body = QrRequest,
    responses(
        (status = 200, description = "Preview (`preview=true`): what saving would store; nothing stored", body = ScanPreview),
        (status = 201, description = "Read and stored", body = QrImported),
        (status = 202, description = "More symbols needed", body = QrIncomplete),
        (status = 400, description = "Bad query string", body = Problem, content_type = PROBLEM),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "No write access to medications", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such person visible to the caller", body = Problem, content_type = PROBLEM),
        (status = 422, description = "Not a readable JAHIS payload (`invalid_payload`, with the parser's code) or a bad part", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[post("/persons/{personId}/medications/qr")]
pub async fn scan(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    query: web::Query<ScanParams>,
    body: Json<QrRequest>,
) -> ApiResult<HttpResponse> {
    let preview = query.preview.unwrap_or(false);
    let resource = if preview { "medications/qr/preview" } else { "medications/qr" };
    let access = authorize(&state.db, &caller, path.into_inner(), Action::Write, SCAN, resource).await?;
    access.require(Category::Medications)?;
    let b = body.0;
    if b.parts.len() > 64 {
        return Err(ApiError::field("parts", "must hold at most 64 symbols"));
    }
    if preview {
        let p = service::preview(&state.db, &access, b.scan_id, b.parts).await?;
        return Ok(HttpResponse::Ok().json(p));
    }
    let org = crate::consent::policy::acting_org(&state.db, &caller, access.person_id, Category::Medications)
        .await?;
    match service::scan(&state.db, &access, org, b.scan_id, b.parts).await? {
        ScanOutcome::Complete { dispensings, created, unchanged } => {
            state.changes.notify(access.person_id);
            Ok(HttpResponse::Created().json(QrImported {
                dispensings: dispensings.into_iter().map(|d| view(d, false)).collect(),
                created,
                unchanged,
            }))
        }
        ScanOutcome::Incomplete { scan_id, received, missing } => {
            Ok(HttpResponse::Accepted().json(QrIncomplete { scan_id, received, missing }))
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DispensingParams {
    /// Dispensed on or after (YYYY-MM-DD).
    #[param(value_type = Option<String>, format = Date)]
    pub from: Option<NaiveDate>,
    /// Dispensed before.
    #[param(value_type = Option<String>, format = Date)]
    pub to: Option<NaiveDate>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
    #[param(min_length = 1)]
    pub cursor: Option<String>,
}

/// List dispensings
///
/// Newest first.
#[utoipa::path(
    tag = "medications",
    params(("personId" = Uuid, Path, description = "Person id"), DispensingParams),
    responses(
        (status = 200, description = "Dispensings", body = Page<DispensingView>),
        (status = 400, description = "Bad query string", body = Problem, content_type = PROBLEM),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "No access to medications", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such person visible to the caller", body = Problem, content_type = PROBLEM),
        (status = 422, description = "Bad limit or cursor", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[get("/persons/{personId}/dispensings")]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    q: web::Query<DispensingParams>,
) -> ApiResult<web::Json<Page<DispensingView>>> {
    let limit = pagination::page_limit(q.limit).map_err(|e| ApiError::validation(vec![e]))?;
    let cursor: Option<(NaiveDate, Uuid)> = q.cursor.as_deref().map(Cursor::decode).transpose()?;
    let access = authorize(&state.db, &caller, path.into_inner(), Action::Read, MEDS, "dispensings").await?;
    let rows = service::list(&state.db, access.person_id, q.from, q.to, cursor, limit + 1).await?;
    Ok(web::Json(Page::from_rows(rows, limit, |d| (d.dispensed_on, d.id)).map(|d| view(d, false))))
}

/// One dispensing, with its raw payload
#[utoipa::path(
    tag = "medications",
    params(("personId" = Uuid, Path, description = "Person id"), ("dispensingId" = Uuid, Path, description = "Dispensing id")),
    responses(
        (status = 200, description = "The dispensing", body = DispensingView),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "No access to medications", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such dispensing", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[get("/persons/{personId}/dispensings/{dispensingId}")]
pub async fn get_one(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<web::Json<DispensingView>> {
    let (person_id, id) = path.into_inner();
    let access =
        authorize(&state.db, &caller, person_id, Action::Read, MEDS, &format!("dispensings/{id}")).await?;
    Ok(web::Json(view(service::find(&state.db, access.person_id, id).await?, true)))
}

/// Delete a dispensing
///
/// Soft delete; synced devices get a tombstone.
#[utoipa::path(
    tag = "medications",
    params(("personId" = Uuid, Path, description = "Person id"), ("dispensingId" = Uuid, Path, description = "Dispensing id")),
    responses(
        (status = 204, description = "Deleted (also when it already was)"),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "No write access to medications", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such dispensing", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[delete("/persons/{personId}/dispensings/{dispensingId}")]
pub async fn remove(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (person_id, id) = path.into_inner();
    let access =
        authorize(&state.db, &caller, person_id, Action::Write, MEDS, &format!("dispensings/{id}")).await?;
    service::delete(&state.db, &access, id).await?;
    state.changes.notify(access.person_id);
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CurrentParams {
    /// The day (YYYY-MM-DD, default today in Japan).
    #[param(value_type = Option<String>, format = Date)]
    pub date: Option<NaiveDate>,
}

/// What the person takes now
///
/// Drugs whose days supply covers the date; as-needed (頓服) and external
/// (外用) drugs dispensed within 90 days listed separately; each with its
/// dispensing.
#[utoipa::path(
    tag = "medications",
    params(("personId" = Uuid, Path, description = "Person id"), CurrentParams),
    responses(
        (status = 200, description = "Current medications", body = CurrentMedications),
        (status = 400, description = "Bad date", body = Problem, content_type = PROBLEM),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "No access to medications", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such person visible to the caller", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[get("/persons/{personId}/medications/current")]
pub async fn current(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    q: web::Query<CurrentParams>,
) -> ApiResult<web::Json<CurrentMedications>> {
    let access =
        authorize(&state.db, &caller, path.into_inner(), Action::Read, MEDS, "medications/current").await?;
    let today = crate::clock::today_jst();
    Ok(web::Json(service::current(&state.db, access.person_id, q.date.unwrap_or(today)).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// Split into 911 parts of at most this many Shift_JIS bytes, 200 to 100000
    /// (answered as JSON, base64 parts).
    #[param(minimum = 200, maximum = 100_000)]
    pub part_size: Option<usize>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ExportParts {
    /// Base64 of each part's Shift_JIS bytes.
    pub parts: Vec<String>,
}

/// Medication history as JAHIS
///
/// The person's dispensings written as JAHISTC08 (出力区分 2) in Shift_JIS,
/// for another app or pharmacy; with `part_size`, split into 911 parts.
#[utoipa::path(
    tag = "medications",
    params(("personId" = Uuid, Path, description = "Person id"), ExportParams),
    responses(
        (status = 200, description = "Shift_JIS JAHIS text; with `part_size`, JSON with the base64 parts", content(
            (String = "text/csv; charset=Shift_JIS"),
            (ExportParts = "application/json"),
        )),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "No access to medications", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such person visible to the caller", body = Problem, content_type = PROBLEM),
        (status = 422, description = "Bad part size, or text that Shift_JIS cannot carry", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[get("/persons/{personId}/medications/jahis")]
pub async fn export(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    q: web::Query<ExportParams>,
) -> ApiResult<HttpResponse> {
    let access =
        authorize(&state.db, &caller, path.into_inner(), Action::Read, MEDS, "medications/jahis").await?;
    let handbook = service::export(&state.db, access.person_id).await?;
    let unwritable = |e: phr_formats::jahis::WriteError| ApiError::field("dispensings", e.to_string());
    match q.part_size {
        None => {
            let bytes = phr_formats::jahis::write_sjis(&handbook).map_err(unwritable)?;
            Ok(HttpResponse::Ok()
                .insert_header((header::CONTENT_TYPE, "text/csv; charset=Shift_JIS"))
                .insert_header((header::CONTENT_DISPOSITION, "attachment; filename=\"okusuri-techo.csv\""))
                .body(bytes))
        }
        Some(n) if (200..=100_000).contains(&n) => {
            let parts = phr_formats::jahis::write_split(&handbook, n).map_err(unwritable)?;
            Ok(HttpResponse::Ok()
                .json(ExportParts { parts: parts.iter().map(|p| STANDARD.encode(p)).collect() }))
        }
        Some(_) => Err(ApiError::field("part_size", "must be between 200 and 100000 bytes")),
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Fact {
    pub id: Uuid,
    /// `allergies`, `conditions`, `medications` or `notes`.
    pub category: String,
    /// `allergy`, `side_effect`, `past_illness`, `otc_drug`, `memo`, `patient_entry`, `patient_note`.
    pub kind: String,
    pub text: String,
    /// Where it came from: `qr` (a pharmacy's handbook QR) or `manual`.
    pub source: String,
    /// The dispensing it was scanned with.
    pub source_ref: Option<Uuid>,
    /// The account that added it (the person, a guardian or a pharmacist).
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
}

impl From<health_fact::Model> for Fact {
    fn from(f: health_fact::Model) -> Self {
        Fact {
            id: f.id,
            category: f.category,
            kind: f.kind,
            text: f.text,
            source: f.source,
            source_ref: f.source_ref,
            created_by: f.created_by,
            created_at: f.created_at,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FactsResponse {
    pub items: Vec<Fact>,
}

const FACT_CATEGORIES: &[Category] =
    &[Category::Allergies, Category::Conditions, Category::Medications, Category::Notes];

/// Allergies, OTC drugs and notes
///
/// Facts on the record beyond measurements, with their source; those read
/// from QR codes are marked `qr`. Only categories the caller may read.
#[utoipa::path(
    tag = "medications",
    params(("personId" = Uuid, Path, description = "Person id")),
    responses(
        (status = 200, description = "Facts", body = FactsResponse),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "No access to these categories", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such person visible to the caller", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[get("/persons/{personId}/facts")]
pub async fn facts(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<FactsResponse>> {
    let access = authorize(
        &state.db,
        &caller,
        path.into_inner(),
        Action::Read,
        Scope::AnyOf(FACT_CATEGORIES),
        "facts",
    )
    .await?;
    let items = service::facts(&state.db, access.person_id, &access.categories).await?;
    Ok(web::Json(FactsResponse { items: items.into_iter().map(Fact::from).collect() }))
}
