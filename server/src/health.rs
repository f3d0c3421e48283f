//! Liveness, readiness and the problem-type pages that `type` URIs point at.

use std::time::Duration;

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorCode, Problem};
use crate::startup::AppState;

#[derive(Serialize, ToSchema)]
pub struct Status {
    /// `ok` (alive) or `ready` (database reachable).
    status: &'static str,
}

/// Liveness
///
/// The process is up and serving HTTP.
#[utoipa::path(tag = "operations", responses((status = 200, description = "Alive", body = Status)), security(()))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Status { status: "ok" })
}

/// Readiness
///
/// 200 when the database answers within two seconds, 503 otherwise.
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Status),
        (status = 503, description = "Database unreachable", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    match tokio::time::timeout(Duration::from_secs(2), state.db.ping()).await {
        Ok(Ok(())) => Ok(HttpResponse::Ok().json(Status { status: "ready" })),
        Ok(Err(e)) => Err(ApiError::Unavailable(e.to_string())),
        Err(_) => Err(ApiError::Unavailable("ping timed out".into())),
    }
}

#[derive(Serialize, ToSchema)]
pub struct ProblemType {
    code: &'static str,
    status: u16,
    title: &'static str,
    description: &'static str,
}

/// Describe a problem type
///
/// What a problem `type` URI means and what a client should do about it.
#[utoipa::path(
    tag = "operations",
    params(("code" = String, Path, description = "Problem code, e.g. `validation_failed`")),
    responses(
        (status = 200, description = "The problem type", body = ProblemType),
        (status = 404, description = "Unknown code", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[get("/problems/{code}")]
pub async fn problem_type(code: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let c = ErrorCode::parse(&code).ok_or_else(|| ApiError::not_found("problem type"))?;
    Ok(HttpResponse::Ok().json(ProblemType {
        code: c.as_str(),
        status: c.status().as_u16(),
        title: c.title(),
        description: c.advice(),
    }))
}
