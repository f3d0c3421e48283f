//! `GET /v1/persons/{personId}/export`: the record as FHIR R4, NDJSON or CSV.

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use futures_util::stream;
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::service::{self, Format};
use crate::auth::Caller;
use crate::category::Category;
use crate::consent::{Action, Scope, authorize};
use crate::error::{ApiResult, Problem};
use crate::startup::AppState;

const PROBLEM: &str = "application/problem+json";

#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Fhir,
    Ndjson,
    Csv,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// `fhir` (a Bundle, the default), `ndjson` (one resource per line) or `csv` (observations).
    #[param(inline)]
    pub format: Option<ExportFormat>,
}

/// Export the record
///
/// The part of the record the caller may read, in a standard format:
/// `fhir` is a FHIR R4 `Bundle` of type `collection` (Patient, Observation,
/// MedicationRequest, MedicationDispense, MedicationStatement, Condition,
/// AllergyIntolerance, Organization, Consent for the person and guardians,
/// and a Provenance per item); `ndjson` the same resources one per line (FHIR
/// Bulk Data style); `csv` the observations, one row per value. Streamed:
/// large records are not held in memory. Exports by anyone but the person
/// are written to the access log.
#[utoipa::path(
    tag = "export",
    params(("personId" = Uuid, Path, description = "Person id"), ExportParams),
    responses(
        (status = 200, description = "The record: `application/fhir+json`, `application/fhir+ndjson` or `text/csv` by `format`", content(
            (Object = "application/fhir+json"),
            (String = "application/fhir+ndjson"),
            (String = "text/csv; charset=utf-8"),
        )),
        (status = 400, description = "Unknown format", body = Problem, content_type = PROBLEM),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such person visible to the caller", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[get("/persons/{personId}/export")]
pub async fn export(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    q: web::Query<ExportParams>,
) -> ApiResult<HttpResponse> {
    // Every grant in force reads at least one category, so a grantee is never
    // refused here (no 403): the export holds what they may read.
    let access = authorize(
        &state.db,
        &caller,
        path.into_inner(),
        Action::Read,
        Scope::AnyOf(&Category::ALL),
        "export",
    )
    .await?;
    let (format, content_type, file) = match q.format.unwrap_or(ExportFormat::Fhir) {
        ExportFormat::Fhir => (Format::Fhir, "application/fhir+json", "record.json"),
        ExportFormat::Ndjson => (Format::Ndjson, "application/fhir+ndjson", "record.ndjson"),
        ExportFormat::Csv => (Format::Csv, "text/csv; charset=utf-8", "observations.csv"),
    };
    let export = service::open(&state.db, &access, format).await?;
    let body = stream::try_unfold(export, |mut e| async move {
        match e.next_chunk().await {
            Ok(Some(chunk)) => Ok(Some((web::Bytes::from(chunk), e))),
            Ok(None) => Ok(None),
            Err(err) => {
                // The status line is gone already: the client sees a cut body.
                tracing::error!(error = %err, "export failed mid-stream");
                Err(err)
            }
        }
    });
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{file}\"")))
        .streaming(body))
}
