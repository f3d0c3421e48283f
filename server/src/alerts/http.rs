//! `/v1/persons/{personId}/alert-rules`, `/v1/orgs/{orgId}/alert-rules`, `/v1/alerts`.

use std::collections::{BTreeMap, BTreeSet};

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, Condition};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::service::{self, NewRule};
use crate::auth::Caller;
use crate::category::Category;
use crate::consent::{Action, Scope, authorize};
use crate::entities::{alert, alert_rule};
use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::http::{Json, Page, pagination};
use crate::observations::catalogue;
use crate::startup::AppState;

const PROBLEM: &str = "application/problem+json";

type SchemaRef = utoipa::openapi::RefOr<utoipa::openapi::Schema>;

fn rule_op() -> SchemaRef {
    crate::http::schema::one_of(&[">=", "<="])
}

fn notify_targets() -> SchemaRef {
    crate::http::schema::array_of_or_null(&["self", "grantees"], 1)
}

fn alert_status() -> SchemaRef {
    crate::http::schema::one_of(&["open", "acked"])
}

#[derive(Debug, Deserialize, ToSchema, validator::Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RuleRequest {
    /// Observation kind, e.g. `blood_pressure`.
    #[schema(schema_with = crate::http::schema::observation_kind)]
    pub kind: String,
    /// For kinds with components: `systolic`, `diastolic`, …
    pub component: Option<String>,
    /// `>=` or `<=`.
    #[schema(schema_with = rule_op)]
    pub op: String,
    /// In the kind's canonical unit (mm[Hg], kg, mg/dL, …).
    pub threshold: f64,
    /// How many readings in a row must cross (1 to 20, default 1).
    #[schema(minimum = 1, maximum = 20)]
    pub consecutive: Option<i32>,
    /// ISO 8601 duration (`PT24H`, `P7D`) the consecutive readings must fall within.
    #[schema(pattern = r"^P(\d+W)?(\d+D)?(T(\d+H)?(\d+M)?)?$")]
    pub window: Option<String>,
    /// `self` (the person and guardians) and/or `grantees` (everyone who may
    /// read the kind's category); default `["self"]`.
    #[schema(schema_with = notify_targets)]
    pub notify: Option<Vec<String>>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RuleView {
    pub rule_id: Uuid,
    /// The person's own rule…
    pub person_id: Option<Uuid>,
    /// …or an organization's, for everyone who shares the kind with it.
    pub org_id: Option<Uuid>,
    pub kind: String,
    pub component: Option<String>,
    pub op: String,
    pub threshold: f64,
    pub consecutive: i32,
    /// Minutes.
    pub window_minutes: Option<i32>,
    pub notify: Vec<String>,
    pub created_at: DateTime<Utc>,
}

impl From<alert_rule::Model> for RuleView {
    fn from(r: alert_rule::Model) -> Self {
        RuleView {
            rule_id: r.id,
            person_id: r.person_id,
            org_id: r.org_id,
            kind: r.kind,
            component: r.component,
            op: r.op,
            threshold: r.threshold,
            consecutive: r.consecutive,
            window_minutes: r.window_minutes,
            notify: r.notify.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
            created_at: r.created_at,
        }
    }
}

/// `PT24H`, `P7D`, `P1DT12H`, `PT90M` → minutes.
pub fn parse_window(s: &str) -> Option<i32> {
    let rest = s.trim().strip_prefix('P')?;
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (rest, None),
    };
    let mut minutes: i64 = 0;
    let mut take = |part: &str, units: &[(char, i64)]| -> Option<()> {
        let mut num = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() {
                num.push(c);
            } else {
                let (_, per) = units.iter().find(|(u, _)| *u == c)?;
                minutes += num.parse::<i64>().ok()?.checked_mul(*per)?;
                num.clear();
            }
        }
        num.is_empty().then_some(())
    };
    take(date, &[('W', 7 * 1440), ('D', 1440)])?;
    if let Some(t) = time {
        if t.is_empty() {
            return None;
        }
        take(t, &[('H', 60), ('M', 1)])?;
    }
    (minutes > 0 && minutes <= 366 * 1440).then(|| i32::try_from(minutes).ok()).flatten()
}

pub fn check(b: RuleRequest) -> Result<NewRule, ApiError> {
    let mut errors = Vec::new();
    let kind = catalogue::kind(b.kind.trim());
    match kind {
        None => errors.push(FieldError::new("kind", format!("unknown observation kind {:?}", b.kind))),
        Some(k) => match (&b.component, k.components.is_empty()) {
            (Some(c), false) if k.component(c).is_none() => errors.push(FieldError::new(
                "component",
                format!(
                    "must be one of {}",
                    k.components.iter().map(|c| c.name).collect::<Vec<_>>().join(", ")
                ),
            )),
            (None, false) => errors.push(FieldError::new("component", "is required for this kind")),
            (Some(_), true) => errors.push(FieldError::new("component", "this kind has no components")),
            _ if k.components.is_empty() && k.quantity.is_none() => {
                errors.push(FieldError::new("kind", "has no numeric value to compare"))
            }
            _ => {}
        },
    }
    if !matches!(b.op.as_str(), ">=" | "<=") {
        errors.push(FieldError::new("op", "must be >= or <="));
    }
    if !b.threshold.is_finite() {
        errors.push(FieldError::new("threshold", "must be a number"));
    }
    let consecutive = b.consecutive.unwrap_or(1);
    if !(1..=20).contains(&consecutive) {
        errors.push(FieldError::new("consecutive", "must be between 1 and 20"));
    }
    let window = match b.window.as_deref() {
        Some(w) => {
            let m = parse_window(w);
            if m.is_none() {
                errors.push(FieldError::new(
                    "window",
                    "must be an ISO 8601 duration such as PT24H or P7D (at most a year)",
                ));
            }
            m
        }
        None => None,
    };
    let notify: BTreeSet<String> =
        b.notify.unwrap_or_else(|| vec!["self".into()]).into_iter().map(|s| s.trim().to_owned()).collect();
    if notify.is_empty() || notify.iter().any(|n| !matches!(n.as_str(), "self" | "grantees")) {
        errors.push(FieldError::new("notify", "must list self and/or grantees"));
    }
    match (errors.is_empty(), kind) {
        (true, Some(kind)) => Ok(NewRule {
            kind,
            component: b.component,
            op: b.op,
            threshold: b.threshold,
            consecutive,
            window_minutes: window,
            notify,
            program_id: None,
        }),
        _ => Err(ApiError::validation(errors)),
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RulesResponse {
    pub items: Vec<RuleView>,
}

/// Add an alert rule to the person's record
///
/// By the person or a guardian. The rule is evaluated whenever observations
/// of its kind arrive (uploads, sync pushes), inside the same transaction.
#[utoipa::path(
    tag = "notifications",
    params(("personId" = Uuid, Path, description = "Person id")),
    request_body = RuleRequest,
    responses(
        (status = 201, description = "The rule", body = RuleView),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "Only the person and guardians", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such person visible to the caller", body = Problem, content_type = PROBLEM),
        (status = 422, description = "Invalid field", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[post("/persons/{personId}/alert-rules")]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: Json<RuleRequest>,
) -> ApiResult<HttpResponse> {
    let access =
        authorize(&state.db, &caller, path.into_inner(), Action::Write, Scope::Manage, "alert-rules").await?;
    let rule = check(body.0)?;
    let r = service::create(&state.db, (Some(access.person_id), None), caller.account_id, rule).await?;
    Ok(HttpResponse::Created().json(RuleView::from(r)))
}

/// Alert rules on the person's record
///
/// The person's own rules and those of organizations the person shares the
/// kind with; a grantee sees the rules on categories they may read.
#[utoipa::path(
    tag = "notifications",
    params(("personId" = Uuid, Path, description = "Person id")),
    responses(
        (status = 200, description = "Rules", body = RulesResponse),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such person visible to the caller", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[get("/persons/{personId}/alert-rules")]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<RulesResponse>> {
    // Every grant in force reads at least one category, so a grantee is never
    // refused here (no 403): the list is narrowed to what they may read.
    let access = authorize(
        &state.db,
        &caller,
        path.into_inner(),
        Action::Read,
        Scope::AnyOf(&Category::ALL),
        "alert-rules",
    )
    .await?;
    let items = service::rules_for(&state.db, access.person_id)
        .await?
        .into_iter()
        .filter(|r| catalogue::kind(&r.kind).is_some_and(|k| access.categories.contains(&k.category)))
        .map(RuleView::from)
        .collect();
    Ok(web::Json(RulesResponse { items }))
}

/// Remove one of the person's alert rules
#[utoipa::path(
    tag = "notifications",
    params(("personId" = Uuid, Path, description = "Person id"), ("ruleId" = Uuid, Path, description = "Rule id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "Only the person and guardians", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such rule of this person", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[delete("/persons/{personId}/alert-rules/{ruleId}")]
pub async fn remove(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (person_id, rule_id) = path.into_inner();
    let access =
        authorize(&state.db, &caller, person_id, Action::Write, Scope::Manage, "alert-rules").await?;
    service::delete(
        &state.db,
        Condition::all().add(alert_rule::Column::PersonId.eq(access.person_id)),
        rule_id,
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Add an organization-wide alert rule
///
/// By the organization's admins: applies to every person who shares the
/// kind's category with the organization; its acting members are notified.
#[utoipa::path(
    tag = "notifications",
    params(("orgId" = Uuid, Path, description = "Organization id")),
    request_body = RuleRequest,
    responses(
        (status = 201, description = "The rule", body = RuleView),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "Not an admin of the organization", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such organization", body = Problem, content_type = PROBLEM),
        (status = 422, description = "Invalid field", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[post("/orgs/{orgId}/alert-rules")]
pub async fn create_for_org(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: Json<RuleRequest>,
) -> ApiResult<HttpResponse> {
    let org_id = path.into_inner();
    crate::orgs::service::require_manager(&state.db, &caller, org_id).await?;
    let rule = check(body.0)?;
    let r = service::create(&state.db, (None, Some(org_id)), caller.account_id, rule).await?;
    Ok(HttpResponse::Created().json(RuleView::from(r)))
}

/// An organization's alert rules
#[utoipa::path(
    tag = "notifications",
    params(("orgId" = Uuid, Path, description = "Organization id")),
    responses(
        (status = 200, description = "Rules", body = RulesResponse),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "Not a member of the organization", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such organization", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[get("/orgs/{orgId}/alert-rules")]
pub async fn list_for_org(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<RulesResponse>> {
    let org_id = path.into_inner();
    crate::orgs::service::require_member(&state.db, &caller, org_id).await?;
    let items = service::org_rules(&state.db, org_id).await?.into_iter().map(RuleView::from).collect();
    Ok(web::Json(RulesResponse { items }))
}

/// Remove an organization's alert rule
#[utoipa::path(
    tag = "notifications",
    params(("orgId" = Uuid, Path, description = "Organization id"), ("ruleId" = Uuid, Path, description = "Rule id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "Not an admin of the organization", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such rule", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[delete("/orgs/{orgId}/alert-rules/{ruleId}")]
pub async fn remove_for_org(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (org_id, rule_id) = path.into_inner();
    crate::orgs::service::require_manager(&state.db, &caller, org_id).await?;
    service::delete(&state.db, Condition::all().add(alert_rule::Column::OrgId.eq(org_id)), rule_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertView {
    pub alert_id: Uuid,
    pub person_id: Uuid,
    pub rule_id: Uuid,
    pub kind: String,
    pub category: String,
    /// The reading that crossed the threshold: an observation, or a lab
    /// result when `source` is `lab_result` (a clinic-measured vital sign).
    pub observation_id: Uuid,
    /// `observation` or `lab_result`.
    pub source: String,
    /// Its value (the rule's component) in the kind's canonical unit.
    pub value: f64,
    /// `open` or `acked`.
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub acked_by: Option<Uuid>,
    pub acked_at: Option<DateTime<Utc>>,
}

impl From<alert::Model> for AlertView {
    fn from(a: alert::Model) -> Self {
        AlertView {
            alert_id: a.id,
            person_id: a.person_id,
            rule_id: a.rule_id,
            kind: a.kind,
            category: a.category,
            observation_id: a.observation_id,
            source: a.source,
            value: a.value,
            status: a.status,
            created_at: a.created_at,
            acked_by: a.acked_by,
            acked_at: a.acked_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertsParams {
    /// `open` or `acked`; default: both.
    #[param(schema_with = alert_status)]
    pub status: Option<String>,
    /// Page size, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
    #[param(min_length = 1)]
    pub cursor: Option<String>,
}

/// Alerts the caller may see
///
/// On the caller's own record, their dependents', and every record whose
/// alert's category is shared with them; newest first. Reading alerts on
/// someone else's record is logged in that record's access log.
#[utoipa::path(
    tag = "notifications",
    params(AlertsParams),
    responses(
        (status = 200, description = "A page of alerts", body = Page<AlertView>),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 422, description = "Bad status, limit or cursor", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[get("/alerts")]
pub async fn alerts(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<AlertsParams>,
) -> ApiResult<web::Json<Page<AlertView>>> {
    // Empty is no filter (as absent); anything else must be a listed value
    // exactly (a blank such as U+00A0 was trimmed to "no filter" before).
    let status = q.status.as_deref().filter(|s| !s.is_empty());
    if status.is_some_and(|s| !matches!(s, "open" | "acked")) {
        return Err(ApiError::field("status", "must be open or acked"));
    }
    let limit = pagination::page_limit(q.limit).map_err(|e| ApiError::validation(vec![e]))?;
    let before: Option<Uuid> = q.cursor.as_deref().map(crate::http::Cursor::decode).transpose()?;
    let persons: BTreeMap<Uuid, BTreeSet<Category>> = crate::consent::service::reachable(&state.db, &caller)
        .await?
        .into_iter()
        .map(|r| (r.person.id, r.read))
        .collect();
    let rows = service::list(&state.db, &persons, status, before, limit).await?;
    let page = Page::from_rows(rows, limit, |a| a.id);
    // Each other person's record shown here is a read of it: log it.
    let shown: BTreeSet<(Uuid, Category)> = page
        .items
        .iter()
        .filter_map(|a| a.category.parse::<Category>().ok().map(|c| (a.person_id, c)))
        .collect();
    for (person, category) in shown {
        authorize(&state.db, &caller, person, Action::Read, Scope::One(category), "alerts").await?;
    }
    Ok(web::Json(page.map(AlertView::from)))
}

/// Acknowledge an alert
///
/// By anyone who may see it; records who and when.
#[utoipa::path(
    tag = "notifications",
    params(("id" = Uuid, Path, description = "Alert id")),
    responses(
        (status = 200, description = "The alert, acknowledged", body = AlertView),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "The alert's category is not shared with the caller", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such alert visible to the caller", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[post("/alerts/{id}/ack")]
pub async fn ack(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<AlertView>> {
    let a = service::find(&state.db, path.into_inner()).await?;
    let category = a.category.parse::<Category>().map_err(|e| ApiError::Internal(anyhow::anyhow!("{e}")))?;
    authorize(&state.db, &caller, a.person_id, Action::Read, Scope::One(category), "alerts").await.map_err(
        |e| if e.code() == crate::error::ErrorCode::NotFound { ApiError::not_found("alert") } else { e },
    )?;
    let a = service::ack(&state.db, a, caller.account_id, Utc::now()).await?;
    Ok(web::Json(a.into()))
}

#[cfg(test)]
mod tests {
    use super::parse_window;

    #[test]
    fn windows_read_iso_8601_durations() {
        assert_eq!(parse_window("PT24H"), Some(1440));
        assert_eq!(parse_window("P7D"), Some(7 * 1440));
        assert_eq!(parse_window("P1DT12H"), Some(2160));
        assert_eq!(parse_window("PT90M"), Some(90));
        assert_eq!(parse_window("P1W"), Some(7 * 1440));
        for bad in ["", "P", "PT", "24H", "P1Y", "PT-1H", "P400D", "PT0M", "P1DT"] {
            assert_eq!(parse_window(bad), None, "{bad}");
        }
    }
}
