//! `/v1/persons/{personId}/observations…` and `/v1/catalogue/observation-kinds`.

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::catalogue::{self, KindSpec, KindView};
use super::model::{BatchRequest, BatchResponse, Observation};
use super::service::{self, ListFilter};
use super::summary::{self, Bucket, BucketSize};
use crate::auth::{Caller, UncheckedCaller};
use crate::category::Category;
use crate::consent::{Action, Scope, authorize};
use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::http::{Cursor, Json, Page, pagination};
use crate::startup::AppState;

/// The categories observations can belong to.
pub const OBSERVATION_CATEGORIES: &[Category] = &[Category::Vitals, Category::Activity, Category::Labs];

fn parse_kind(raw: Option<&str>) -> Result<Option<&'static KindSpec>, FieldError> {
    raw.map(|k| catalogue::kind(k).ok_or_else(|| FieldError::new("kind", format!("unknown kind {k:?}"))))
        .transpose()
}

/// An RFC 3339 instant, or a plain date meaning local midnight in `tz`; an
/// empty value is no bound (as documented), blanks are not.
pub(crate) fn parse_bound(
    raw: Option<&str>,
    name: &str,
    tz: Tz,
) -> Result<Option<DateTime<Utc>>, FieldError> {
    let Some(raw) = raw.filter(|s| !s.is_empty()).map(str::trim) else { return Ok(None) };
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    if let Ok(d) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        let local = d.and_hms_opt(0, 0, 0).and_then(|t| tz.from_local_datetime(&t).earliest());
        return Ok(local.map(|t| t.with_timezone(&Utc)));
    }
    Err(FieldError::new(name, "must be an RFC 3339 timestamp with an offset or a date (YYYY-MM-DD)"))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only this kind, e.g. `blood_pressure`.
    #[param(schema_with = crate::http::schema::observation_kind)]
    pub kind: Option<String>,
    /// Only this category, e.g. `vitals`.
    #[param(schema_with = crate::http::schema::observation_category)]
    pub category: Option<String>,
    /// Effective at or after (RFC 3339, or a date in Asia/Tokyo).
    #[param(schema_with = crate::http::schema::instant_or_date)]
    pub from: Option<String>,
    /// Effective before.
    #[param(schema_with = crate::http::schema::instant_or_date)]
    pub to: Option<String>,
    /// Page size, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
    #[param(min_length = 1)]
    pub cursor: Option<String>,
}

/// Upload observations
///
/// Up to 5,000 observations (configurable) in one request. Valid items are
/// stored in one transaction; invalid ones are rejected one by one with the
/// field named, without blocking the others. Re-sending an item is safe
/// (`unchanged`); the same sample from another device under another id is
/// stored once.
#[utoipa::path(
    tag = "observations",
    params(("personId" = Uuid, Path, description = "Person id")),
    request_body = BatchRequest,
    responses(
        (status = 200, description = "One result per item, in input order", body = BatchResponse),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "No write access to this record", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such person visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a batch, or more items than allowed", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/persons/{personId}/observations/batch")]
pub async fn upload(
    state: web::Data<AppState>,
    caller: UncheckedCaller,
    path: web::Path<Uuid>,
    body: Json<BatchRequest>,
) -> ApiResult<web::Json<BatchResponse>> {
    // The consent read in `authorize` is the first database access; it refuses an erased account.
    let caller = caller.for_consent_read();
    let access = authorize(
        &state.db,
        &caller,
        path.into_inner(),
        Action::Write,
        Scope::AnyOf(OBSERVATION_CATEGORIES),
        "observations",
    )
    .await?;
    let max = state.settings.max_batch_items;
    if body.observations.len() > max {
        return Err(ApiError::field("observations", format!("must hold at most {max} items per request")));
    }
    let results = service::upload_batch(&state.db, &access, &body.observations, None).await?;
    state.changes.notify(access.person_id);
    Ok(web::Json(BatchResponse { results }))
}

/// List observations
///
/// Newest first, keyset-paginated with an opaque cursor; only categories the
/// caller may read.
#[utoipa::path(
    tag = "observations",
    params(("personId" = Uuid, Path, description = "Person id"), ListParams),
    responses(
        (status = 200, description = "A page of observations", body = Page<Observation>),
        (status = 400, description = "Bad query string", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Category not readable by the caller", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such person visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad filter, limit or cursor", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/persons/{personId}/observations")]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    q: web::Query<ListParams>,
) -> ApiResult<web::Json<Page<Observation>>> {
    let person_id = path.into_inner();
    let mut errors = Vec::new();
    let kind = parse_kind(q.kind.as_deref()).unwrap_or_else(|e| {
        errors.push(e);
        None
    });
    let category = match q.category.as_deref() {
        Some(c) => match c.parse::<Category>() {
            Ok(c) => Some(c),
            Err(_) => {
                errors.push(FieldError::new("category", format!("unknown category {c:?}")));
                None
            }
        },
        None => None,
    };
    let tokyo = chrono_tz::Asia::Tokyo;
    let from = parse_bound(q.from.as_deref(), "from", tokyo).unwrap_or_else(|e| {
        errors.push(e);
        None
    });
    let to = parse_bound(q.to.as_deref(), "to", tokyo).unwrap_or_else(|e| {
        errors.push(e);
        None
    });
    let limit = pagination::page_limit(q.limit).unwrap_or_else(|e| {
        errors.push(e);
        pagination::DEFAULT_LIMIT
    });
    let cursor = match q.cursor.as_deref().map(Cursor::decode::<(i64, Uuid)>).transpose() {
        Ok(c) => c,
        Err(_) => {
            errors.push(FieldError::new("cursor", "is not a cursor this server issued"));
            None
        }
    };
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let wanted = kind.map(|k| k.category).or(category);
    let scope = wanted.map_or(Scope::AnyOf(OBSERVATION_CATEGORIES), Scope::One);
    let access = authorize(&state.db, &caller, person_id, Action::Read, scope, "observations").await?;
    if let (Some(k), Some(c)) = (kind, category)
        && k.category != c
    {
        return Ok(web::Json(Page { items: vec![], next_cursor: None }));
    }
    let filter = ListFilter {
        kind,
        category: wanted,
        from_ms: from.map(|t| t.timestamp_millis()),
        to_ms: to.map(|t| t.timestamp_millis()),
        limit,
        cursor,
    };
    Ok(web::Json(service::list(&state.db, &access, filter).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SummaryParams {
    /// The kind to summarise, e.g. `blood_pressure`.
    #[param(schema_with = crate::http::schema::observation_kind, required = true)]
    pub kind: Option<String>,
    /// `day` (default), `week` (Monday start) or `month`.
    #[param(value_type = Option<BucketSize>, inline)]
    pub bucket: Option<String>,
    /// Start (RFC 3339, or a date in `tz`); default: 30 days, 12 weeks or 12 months before `to`.
    #[param(schema_with = crate::http::schema::instant_or_date)]
    pub from: Option<String>,
    /// End, exclusive; default: the end of the current bucket.
    #[param(schema_with = crate::http::schema::instant_or_date)]
    pub to: Option<String>,
    /// IANA time zone of the buckets; default: the person's (Asia/Tokyo unless set).
    #[param(schema_with = crate::http::schema::time_zone)]
    pub tz: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SummaryResponse {
    pub kind: String,
    pub bucket: BucketSize,
    pub tz: String,
    /// Every bucket of the range, empty ones with `count: 0`.
    pub buckets: Vec<Bucket>,
    /// Values of this kind measured at a facility (SS-MIX2 results whose
    /// JLAC10 code is this vital sign) in the range, oldest first: shown beside
    /// the home readings, never mixed into the buckets. Only for callers who
    /// may also read `labs`.
    pub clinic: Vec<ClinicValue>,
}

/// A vital sign measured at a clinic or hospital.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClinicValue {
    pub lab_result_id: Uuid,
    pub observed_at: Option<DateTime<Utc>>,
    /// `systolic` or `diastolic` for blood pressure.
    pub component: Option<String>,
    pub value: f64,
    pub unit: Option<String>,
    /// The facility that measured it.
    pub org_id: Uuid,
    /// Always `clinic`.
    pub measured_by: String,
}

static VITALS_AND_LABS: [Category; 2] = [Category::Vitals, Category::Labs];

/// Summarise observations
///
/// Count, min, max, mean and sum per day, week or month in the person's time
/// zone, per component for blood pressure; computed in the database.
#[utoipa::path(
    tag = "observations",
    params(("personId" = Uuid, Path, description = "Person id"), SummaryParams),
    responses(
        (status = 200, description = "Buckets", body = SummaryResponse),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Category not readable by the caller", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such person visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad kind, bucket, range or time zone", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/persons/{personId}/observations/summary")]
pub async fn summarize(
    state: web::Data<AppState>,
    caller: UncheckedCaller,
    path: web::Path<Uuid>,
    q: web::Query<SummaryParams>,
) -> ApiResult<web::Json<SummaryResponse>> {
    // The consent read in `authorize_choosing` is the first database access; it refuses an erased account.
    let caller = caller.for_consent_read();
    let person_id = path.into_inner();
    let mut errors = Vec::new();
    let kind = match parse_kind(q.kind.as_deref()) {
        Ok(Some(k)) => Some(k),
        Ok(None) => {
            errors.push(FieldError::new("kind", "is required"));
            None
        }
        Err(e) => {
            errors.push(e);
            None
        }
    };
    let size = match q.bucket.as_deref().unwrap_or("day") {
        "day" => BucketSize::Day,
        "week" => BucketSize::Week,
        "month" => BucketSize::Month,
        other => {
            errors.push(FieldError::new("bucket", format!("must be day, week or month, not {other:?}")));
            BucketSize::Day
        }
    };
    let tz_param = match q.tz.as_deref().map(|t| t.parse::<Tz>()) {
        Some(Ok(tz)) => Some(tz),
        Some(Err(_)) => {
            errors.push(FieldError::new("tz", "must be an IANA time zone such as Asia/Tokyo"));
            None
        }
        None => None,
    };
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let Some(kind) = kind else { return Err(ApiError::validation(errors)) };
    // Vital signs also show clinic-measured values to those who may read labs
    // (and the access log then says labs were read too).
    let scope = |readable: &std::collections::BTreeSet<Category>| {
        if kind.category == Category::Vitals
            && readable.contains(&Category::Vitals)
            && readable.contains(&Category::Labs)
        {
            Scope::AnyOf(&VITALS_AND_LABS)
        } else {
            Scope::One(kind.category)
        }
    };
    let access = crate::consent::policy::authorize_choosing(
        &state.db,
        &caller,
        person_id,
        Action::Read,
        scope,
        "observations/summary",
    )
    .await?;
    let person_tz: Tz = access.time_zone.parse().unwrap_or(chrono_tz::Asia::Tokyo);
    let tz = tz_param.unwrap_or(person_tz);
    let to = parse_bound(q.to.as_deref(), "to", tz).map_err(|e| ApiError::validation(vec![e]))?;
    let from = parse_bound(q.from.as_deref(), "from", tz).map_err(|e| ApiError::validation(vec![e]))?;
    let to = to.unwrap_or_else(|| {
        let now = Utc::now();
        summary::buckets(size, tz, now, now + Duration::seconds(1))
            .and_then(|b| b.last().map(|b| b.1))
            .unwrap_or(now)
    });
    let from = from.unwrap_or(match size {
        BucketSize::Day => to - Duration::days(30),
        BucketSize::Week => to - Duration::weeks(12),
        BucketSize::Month => to - Duration::days(365),
    });
    if from >= to {
        return Err(ApiError::field("from", "must be before `to`"));
    }
    let bounds = summary::buckets(size, tz, from, to).ok_or_else(|| {
        ApiError::field("from", format!("the range spans more than {} buckets", summary::MAX_BUCKETS))
    })?;
    // The person's own zone reads the daily roll-ups; any other zone aggregates raw rows.
    let buckets = if tz == person_tz {
        summary::summarize_rollups(&state.db, access.person_id, kind, tz, &bounds).await?
    } else {
        summary::summarize(&state.db, access.person_id, kind, tz, &bounds).await?
    };
    let clinic = if access.categories.contains(&Category::Labs) {
        crate::clinical::service::clinic_values(&state.db, access.person_id, kind.name, from, to)
            .await?
            .into_iter()
            .filter_map(|(component, r)| {
                Some(ClinicValue {
                    lab_result_id: r.id,
                    observed_at: r.observed_at,
                    component: component.map(str::to_owned),
                    value: r.numeric?,
                    unit: r.unit,
                    org_id: r.org_id,
                    measured_by: "clinic".into(),
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(web::Json(SummaryResponse {
        kind: kind.name.to_owned(),
        bucket: size,
        tz: tz.name().to_owned(),
        buckets,
        clinic,
    }))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LatestResponse {
    /// The newest observation of each kind, newest first.
    pub items: Vec<Observation>,
}

/// Latest value of each kind
#[utoipa::path(
    tag = "observations",
    params(("personId" = Uuid, Path, description = "Person id")),
    responses(
        (status = 200, description = "Newest observation per kind", body = LatestResponse),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such person visible to the caller", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/persons/{personId}/observations/latest")]
pub async fn latest(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<LatestResponse>> {
    let access = authorize(
        &state.db,
        &caller,
        path.into_inner(),
        Action::Read,
        Scope::AnyOf(OBSERVATION_CATEGORIES),
        "observations/latest",
    )
    .await?;
    Ok(web::Json(LatestResponse { items: service::latest(&state.db, &access).await? }))
}

/// Get one observation
#[utoipa::path(
    tag = "observations",
    params(("personId" = Uuid, Path, description = "Person id"), ("observationId" = Uuid, Path, description = "Observation id")),
    responses(
        (status = 200, description = "The observation", body = Observation),
        (status = 400, description = "Not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Category not readable by the caller", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such observation (or deleted)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/persons/{personId}/observations/{observationId}")]
pub async fn get_one(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<web::Json<Observation>> {
    let (person_id, id) = path.into_inner();
    let resource = format!("observations/{id}");
    let access = authorize(
        &state.db,
        &caller,
        person_id,
        Action::Read,
        Scope::AnyOf(OBSERVATION_CATEGORIES),
        &resource,
    )
    .await?;
    Ok(web::Json(service::get(&state.db, &access, id).await?))
}

/// Delete one observation
///
/// Soft delete: the observation disappears from lists and summaries, its id
/// cannot be reused for other content, and synced devices learn of it.
#[utoipa::path(
    tag = "observations",
    params(("personId" = Uuid, Path, description = "Person id"), ("observationId" = Uuid, Path, description = "Observation id")),
    responses(
        (status = 204, description = "Deleted (also when it already was)"),
        (status = 400, description = "Not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "No write access to the category", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such observation", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/persons/{personId}/observations/{observationId}")]
pub async fn remove(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (person_id, id) = path.into_inner();
    let resource = format!("observations/{id}");
    let access = authorize(
        &state.db,
        &caller,
        person_id,
        Action::Write,
        Scope::AnyOf(OBSERVATION_CATEGORIES),
        &resource,
    )
    .await?;
    service::delete(&state.db, &access, id).await?;
    state.changes.notify(access.person_id);
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KindsResponse {
    pub items: Vec<KindView>,
}

/// The observation-kind catalogue
///
/// Kinds, their consent category, LOINC code, canonical and accepted units,
/// plausible range and timing, so apps need not hard-code them.
#[utoipa::path(
    tag = "observations",
    responses(
        (status = 200, description = "The catalogue", body = KindsResponse),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/catalogue/observation-kinds")]
pub async fn kinds(_caller: Caller) -> web::Json<KindsResponse> {
    web::Json(KindsResponse { items: catalogue::kind_views() })
}
