//! `/v1/ingest/ssmix2`, `/v1/persons/{personId}/links`, `/v1/persons/{personId}/labs`.

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::service;
use crate::auth::{Caller, FacilityClient};
use crate::category::Category;
use crate::consent::model::Purpose;
use crate::consent::{Action, Scope, authorize};
use crate::entities::{lab_result, patient_link, prescription};
use crate::error::{ApiError, ApiResult, ErrorCode, Problem};
use crate::http::{Json, RawBody};
use crate::startup::AppState;

const PROBLEM: &str = "application/problem+json";

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IngestParams {
    /// Storage-relative path: `<patient id>/<date or ->/<data kind>/<file name>`.
    pub path: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IngestResult {
    pub document_id: Uuid,
    /// `imported`, or `quarantined` until the patient is linked.
    pub status: String,
    /// The same file was received before; nothing changed.
    pub duplicate: bool,
}

/// Upload an SS-MIX2 file
///
/// For a facility's systems (client-credentials token of the facility): the
/// raw file bytes (ISO-2022-JP HL7 v2.5) as `application/octet-stream`.
/// Stored once per path and content; imported when its patient is linked,
/// quarantined until then.
#[utoipa::path(
    tag = "clinical",
    params(IngestParams),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses(
        (status = 201, description = "Received", body = IngestResult),
        (status = 200, description = "Already received", body = IngestResult),
        (status = 401, description = "Missing or invalid facility token", body = Problem, content_type = PROBLEM),
        (status = 413, description = "Body too large", body = Problem, content_type = PROBLEM),
        (status = 422, description = "Not a readable SS-MIX2 file (`invalid_payload`) or a bad path", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[post("/ingest/ssmix2")]
pub async fn ingest(
    state: web::Data<AppState>,
    client: FacilityClient,
    q: web::Query<IngestParams>,
    body: RawBody,
) -> ApiResult<HttpResponse> {
    let r = service::receive(&state.db, client.org_id, q.path.trim(), &body.0).await?;
    if let (Some(p), false) = (r.document.person_id, r.duplicate) {
        state.changes.notify(p);
    }
    let out = IngestResult { document_id: r.document.id, status: r.document.status, duplicate: r.duplicate };
    Ok(if r.duplicate { HttpResponse::Ok().json(out) } else { HttpResponse::Created().json(out) })
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LinkRequest {
    pub org_id: Uuid,
    #[validate(length(min = 1, max = 64))]
    #[schema(min_length = 1, max_length = 64)]
    pub local_patient_id: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LinkView {
    pub link_id: Uuid,
    pub org_id: Uuid,
    pub local_patient_id: String,
    pub created_at: DateTime<Utc>,
    /// Documents imported from quarantine when the link was made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub imported: Option<usize>,
}

fn link_view(l: patient_link::Model, imported: Option<usize>) -> LinkView {
    LinkView {
        link_id: l.id,
        org_id: l.org_id,
        local_patient_id: l.local_patient_id,
        created_at: l.created_at,
        imported,
    }
}

/// Link a facility's patient ID to the person
///
/// By staff of the facility acting on the person's `treatment` grant to it
/// (they verified who the person is). Documents waiting in quarantine for
/// that ID are imported.
#[utoipa::path(
    tag = "clinical",
    params(("personId" = Uuid, Path, description = "Person id")),
    request_body = LinkRequest,
    responses(
        (status = 201, description = "Linked", body = LinkView),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "Not staff of the facility acting on a treatment grant", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such person visible to the caller", body = Problem, content_type = PROBLEM),
        (status = 409, description = "The ID is linked to another person", body = Problem, content_type = PROBLEM),
        (status = 422, description = "Invalid field", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[post("/persons/{personId}/links")]
pub async fn create_link(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: Json<LinkRequest>,
) -> ApiResult<HttpResponse> {
    let person_id = path.into_inner();
    authorize(&state.db, &caller, person_id, Action::Read, Scope::AnyOf(&Category::ALL), "links").await?;
    if !crate::consent::policy::acts_for(&state.db, &caller, person_id, body.org_id, Purpose::Treatment)
        .await?
    {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "Links are made by the facility's staff acting on the person's treatment grant to it.",
        ));
    }
    let (l, n) =
        service::link(&state.db, person_id, body.org_id, body.local_patient_id.trim(), caller.account_id)
            .await?;
    if n > 0 {
        state.changes.notify(person_id);
    }
    Ok(HttpResponse::Created().json(link_view(l, Some(n))))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LinksResponse {
    pub items: Vec<LinkView>,
}

/// The person's facility links
#[utoipa::path(
    tag = "clinical",
    params(("personId" = Uuid, Path, description = "Person id")),
    responses(
        (status = 200, description = "Links", body = LinksResponse),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "Only the person and guardians", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such person visible to the caller", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[get("/persons/{personId}/links")]
pub async fn list_links(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<LinksResponse>> {
    let access =
        authorize(&state.db, &caller, path.into_inner(), Action::Read, Scope::Manage, "links").await?;
    let items =
        service::links(&state.db, access.person_id).await?.into_iter().map(|l| link_view(l, None)).collect();
    Ok(web::Json(LinksResponse { items }))
}

/// Remove a facility link
///
/// Later documents for that ID wait in quarantine again.
#[utoipa::path(
    tag = "clinical",
    params(("personId" = Uuid, Path, description = "Person id"), ("linkId" = Uuid, Path, description = "Link id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "Only the person and guardians", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such link", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[delete("/persons/{personId}/links/{linkId}")]
pub async fn remove_link(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (person_id, link_id) = path.into_inner();
    let access = authorize(&state.db, &caller, person_id, Action::Write, Scope::Manage, "links").await?;
    service::unlink(&state.db, access.person_id, link_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LabResult {
    pub id: Uuid,
    /// The facility that sent it.
    pub org_id: Uuid,
    pub document_id: Uuid,
    /// 17-character JLAC10 code, when the facility sent one.
    pub jlac10: Option<String>,
    pub code: String,
    pub name: String,
    /// As written by the laboratory.
    pub value: String,
    pub numeric: Option<f64>,
    pub unit: Option<String>,
    pub reference_range: Option<String>,
    pub reference_low: Option<f64>,
    pub reference_high: Option<f64>,
    /// HL7 abnormal flags (`H`, `L`, …).
    pub flags: Vec<String>,
    pub specimen: Option<String>,
    pub observed_at: Option<DateTime<Utc>>,
    pub status: Option<String>,
    /// Comments (NTE) on the result.
    pub notes: Option<String>,
}

impl From<lab_result::Model> for LabResult {
    fn from(r: lab_result::Model) -> Self {
        LabResult {
            id: r.id,
            org_id: r.org_id,
            document_id: r.document_id,
            jlac10: r.jlac10,
            code: r.code,
            name: r.name,
            value: r.value,
            numeric: r.numeric,
            unit: r.unit,
            reference_range: r.range_text,
            reference_low: r.range_low,
            reference_high: r.range_high,
            flags: r.flags.split(',').filter(|f| !f.is_empty()).map(str::to_owned).collect(),
            specimen: r.specimen,
            observed_at: r.observed_at,
            status: r.status,
            notes: r.notes,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LabsResponse {
    pub items: Vec<LabResult>,
}

/// Lab results from the network's facilities
#[utoipa::path(
    tag = "clinical",
    params(("personId" = Uuid, Path, description = "Person id")),
    responses(
        (status = 200, description = "Lab results, newest first", body = LabsResponse),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "No access to labs", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such person visible to the caller", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[get("/persons/{personId}/labs")]
pub async fn labs(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<LabsResponse>> {
    let access =
        authorize(&state.db, &caller, path.into_inner(), Action::Read, Scope::One(Category::Labs), "labs")
            .await?;
    let items = service::labs(&state.db, access.person_id).await?.into_iter().map(LabResult::from).collect();
    Ok(web::Json(LabsResponse { items }))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Prescription {
    pub id: Uuid,
    /// The facility that prescribed it.
    pub org_id: Uuid,
    pub document_id: Uuid,
    /// Code system as written (`HOT9`, …) and the drug's code in it.
    pub drug_system: Option<String>,
    pub drug_code: Option<String>,
    pub drug_name: String,
    /// Amount per administration, and its unit.
    pub dose: Option<f64>,
    pub dose_unit: Option<String>,
    pub daily_dose: Option<f64>,
    /// JAMI usage code and text.
    pub usage_code: Option<String>,
    pub usage: Option<String>,
    pub days: Option<i32>,
    pub route: Option<String>,
    #[schema(value_type = Option<String>)]
    pub prescribed_on: Option<chrono::NaiveDate>,
}

impl From<prescription::Model> for Prescription {
    fn from(p: prescription::Model) -> Self {
        Prescription {
            id: p.id,
            org_id: p.org_id,
            document_id: p.document_id,
            drug_system: p.drug_system,
            drug_code: p.drug_code,
            drug_name: p.drug_name,
            dose: p.dose,
            dose_unit: p.dose_unit,
            daily_dose: p.daily_dose,
            usage_code: p.usage_code,
            usage: p.usage_text,
            days: p.days,
            route: p.route,
            prescribed_on: p.prescribed_on,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PrescriptionsResponse {
    pub items: Vec<Prescription>,
}

/// Prescriptions from the network's facilities
#[utoipa::path(
    tag = "clinical",
    params(("personId" = Uuid, Path, description = "Person id")),
    responses(
        (status = 200, description = "Prescribed drugs, newest first", body = PrescriptionsResponse),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "No access to medications", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such person visible to the caller", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[get("/persons/{personId}/prescriptions")]
pub async fn prescriptions(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<PrescriptionsResponse>> {
    let access = authorize(
        &state.db,
        &caller,
        path.into_inner(),
        Action::Read,
        Scope::One(Category::Medications),
        "prescriptions",
    )
    .await?;
    let items = service::prescriptions(&state.db, access.person_id)
        .await?
        .into_iter()
        .map(Prescription::from)
        .collect();
    Ok(web::Json(PrescriptionsResponse { items }))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeriesPoint {
    pub lab_result_id: Uuid,
    pub observed_at: Option<DateTime<Utc>>,
    pub value: String,
    pub numeric: Option<f64>,
    pub unit: Option<String>,
    pub reference_low: Option<f64>,
    pub reference_high: Option<f64>,
    pub flags: Vec<String>,
    /// The facility that measured it.
    pub org_id: Uuid,
    /// The full JLAC10 code that facility used (method and specimen may differ between facilities).
    pub jlac10: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LabSeries {
    /// As asked: a JLAC10 analyte, a full JLAC10 code or a facility's own code.
    pub code: String,
    /// The JLAC10 analyte the series follows, when the code is one.
    pub analyte: Option<String>,
    /// The newest result's name.
    pub name: Option<String>,
    /// Oldest first.
    pub points: Vec<SeriesPoint>,
}

/// One lab analyte over time, across facilities
///
/// `code` is a JLAC10 analyte code (`3D046` for HbA1c), a full 17-character
/// JLAC10 code (its analyte is used, so different methods and specimens of
/// different facilities form one series), or a facility's own code.
#[utoipa::path(
    tag = "clinical",
    params(("personId" = Uuid, Path, description = "Person id"), ("code" = String, Path, description = "JLAC10 analyte or code")),
    responses(
        (status = 200, description = "The series, oldest first", body = LabSeries),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "No access to labs", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such person visible to the caller", body = Problem, content_type = PROBLEM),
        (status = 422, description = "Bad code", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[get("/persons/{personId}/labs/{code}/series")]
pub async fn lab_series(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, String)>,
) -> ApiResult<web::Json<LabSeries>> {
    let (person_id, code) = path.into_inner();
    let code = code.trim().to_owned();
    if code.is_empty() || code.len() > 64 {
        return Err(ApiError::field("code", "must be 1 to 64 characters"));
    }
    let access =
        authorize(&state.db, &caller, person_id, Action::Read, Scope::One(Category::Labs), "labs/series")
            .await?;
    let rows = service::series(&state.db, access.person_id, &code).await?;
    let analyte = phr_formats::ssmix2::Jlac10Code::parse(&code)
        .filter(|_| code.len() == 5 || code.len() == 17)
        .map(|j| j.analyte().to_ascii_uppercase());
    let name = rows.last().map(|r| r.name.clone());
    let points = rows
        .into_iter()
        .map(|r| SeriesPoint {
            lab_result_id: r.id,
            observed_at: r.observed_at,
            value: r.value,
            numeric: r.numeric,
            unit: r.unit,
            reference_low: r.range_low,
            reference_high: r.range_high,
            flags: r.flags.split(',').filter(|f| !f.is_empty()).map(str::to_owned).collect(),
            org_id: r.org_id,
            jlac10: r.jlac10,
        })
        .collect();
    Ok(web::Json(LabSeries { code, analyte, name, points }))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DocumentView {
    pub document_id: Uuid,
    pub org_id: Uuid,
    /// SS-MIX2 data kind (`OML-11`, …).
    pub data_kind: String,
    pub path: String,
    /// `imported`, `held` (waiting for the person's review) or `rejected`.
    pub status: String,
    /// What disagrees between the document's patient and the person, for a held document.
    pub hold_reason: Option<String>,
    pub received_at: DateTime<Utc>,
    pub imported_at: Option<DateTime<Utc>>,
}

impl From<crate::entities::clinical_document::Model> for DocumentView {
    fn from(d: crate::entities::clinical_document::Model) -> Self {
        DocumentView {
            document_id: d.id,
            org_id: d.org_id,
            data_kind: d.data_kind,
            path: d.path,
            status: d.status,
            hold_reason: d.hold_reason,
            received_at: d.received_at,
            imported_at: d.imported_at,
        }
    }
}

fn document_status() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
    crate::http::schema::one_of(&["held", "imported", "rejected"])
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DocumentsParams {
    /// `held`, `imported` or `rejected`; default: all.
    #[param(schema_with = document_status)]
    pub status: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DocumentsResponse {
    pub items: Vec<DocumentView>,
}

/// Facility documents of the person
///
/// For the person and guardians: what the network's facilities sent, and
/// those held for review because the patient's name in kana, birth date or
/// sex disagree with the person's.
#[utoipa::path(
    tag = "clinical",
    params(("personId" = Uuid, Path, description = "Person id"), DocumentsParams),
    responses(
        (status = 200, description = "Documents, newest first", body = DocumentsResponse),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "Only the person and guardians", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such person visible to the caller", body = Problem, content_type = PROBLEM),
        (status = 422, description = "Bad status", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[get("/persons/{personId}/clinical-documents")]
pub async fn documents(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    q: web::Query<DocumentsParams>,
) -> ApiResult<web::Json<DocumentsResponse>> {
    // Empty is no filter (as absent); anything else must be a listed value
    // exactly (a blank such as U+00A0 was trimmed to "no filter" before).
    let status = q.status.as_deref().filter(|s| !s.is_empty());
    if status.is_some_and(|s| !matches!(s, "held" | "imported" | "rejected")) {
        return Err(ApiError::field("status", "must be held, imported or rejected"));
    }
    let access =
        authorize(&state.db, &caller, path.into_inner(), Action::Read, Scope::Manage, "clinical-documents")
            .await?;
    let items = service::documents(&state.db, access.person_id, status)
        .await?
        .into_iter()
        .map(DocumentView::from)
        .collect();
    Ok(web::Json(DocumentsResponse { items }))
}

async fn review(
    state: &AppState,
    caller: &Caller,
    person_id: Uuid,
    document_id: Uuid,
    accept: bool,
) -> ApiResult<web::Json<DocumentView>> {
    let access =
        authorize(&state.db, caller, person_id, Action::Write, Scope::Manage, "clinical-documents").await?;
    let d = service::review(&state.db, access.person_id, document_id, accept).await?;
    if accept {
        state.changes.notify(access.person_id);
    }
    Ok(web::Json(DocumentView::from(d)))
}

/// Accept a held document
///
/// The person confirms the document is theirs although its demographics
/// differ: it is imported into the record.
#[utoipa::path(
    tag = "clinical",
    params(("personId" = Uuid, Path, description = "Person id"), ("documentId" = Uuid, Path, description = "Document id")),
    responses(
        (status = 200, description = "Imported", body = DocumentView),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "Only the person and guardians", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such document", body = Problem, content_type = PROBLEM),
        (status = 409, description = "Not held for review", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[post("/persons/{personId}/clinical-documents/{documentId}/accept")]
pub async fn accept_document(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<web::Json<DocumentView>> {
    let (p, d) = path.into_inner();
    review(&state, &caller, p, d, true).await
}

/// Reject a held document
///
/// The document is not the person's: it stays out of the record (kept as
/// received, for the facility to correct its link).
#[utoipa::path(
    tag = "clinical",
    params(("personId" = Uuid, Path, description = "Person id"), ("documentId" = Uuid, Path, description = "Document id")),
    responses(
        (status = 200, description = "Rejected", body = DocumentView),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "Only the person and guardians", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such document", body = Problem, content_type = PROBLEM),
        (status = 409, description = "Not held for review", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[post("/persons/{personId}/clinical-documents/{documentId}/reject")]
pub async fn reject_document(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<web::Json<DocumentView>> {
    let (p, d) = path.into_inner();
    review(&state, &caller, p, d, false).await
}
