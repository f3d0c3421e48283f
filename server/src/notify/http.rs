//! `/v1/notifications` (the inbox) and `/v1/me/notification-preferences`.

use std::collections::{BTreeMap, BTreeSet};

use actix_web::{get, post, put, web};
use chrono::{DateTime, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::model::EventKind;
use super::service;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::http::{Json, ListQuery, Page};
use crate::startup::AppState;

const PROBLEM: &str = "application/problem+json";

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationView {
    pub id: Uuid,
    pub event: EventKind,
    /// The record it concerns.
    pub person_id: Option<Uuid>,
    /// Ids to fetch (`documentId`, `alertId`, `grantId`, …).
    pub data: BTreeMap<String, String>,
    /// `normal`, or `high` for emergency access.
    pub priority: String,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

impl From<crate::entities::notification::Model> for NotificationView {
    fn from(n: crate::entities::notification::Model) -> Self {
        NotificationView {
            id: n.id,
            event: EventKind::parse(&n.event).unwrap_or(EventKind::Sync),
            person_id: n.person_id,
            data: serde_json::from_str(&n.data).unwrap_or_default(),
            priority: n.priority,
            created_at: n.created_at,
            read_at: n.read_at,
        }
    }
}

/// The caller's notifications
///
/// Newest first. Each says what happened and which ids to fetch; none holds health data.
#[utoipa::path(
    tag = "notifications",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of notifications", body = Page<NotificationView>),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 422, description = "Bad limit or cursor", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[get("/notifications")]
pub async fn inbox(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<ListQuery>,
) -> ApiResult<web::Json<Page<NotificationView>>> {
    let limit = q.limit()?;
    let before: Option<Uuid> = q.cursor()?;
    let rows = service::inbox(&state.db, caller.account_id, before, limit).await?;
    Ok(web::Json(Page::from_rows(rows, limit, |n| n.id).map(NotificationView::from)))
}

/// Mark a notification read
#[utoipa::path(
    tag = "notifications",
    params(("id" = Uuid, Path, description = "Notification id")),
    responses(
        (status = 200, description = "The notification, read", body = NotificationView),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such notification of the caller", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[post("/notifications/{id}/read")]
pub async fn read(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<NotificationView>> {
    let n = service::mark_read(&state.db, caller.account_id, path.into_inner()).await?;
    Ok(web::Json(n.into()))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QuietHours {
    /// `HH:MM` in the account's time zone.
    #[schema(example = "22:00", pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub start: String,
    #[schema(example = "07:00", pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub end: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema, validator::Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NotificationPreferences {
    /// Per event type on (`true`) or off; types left out are on. Emergency
    /// access is always delivered.
    pub events: BTreeMap<EventKind, bool>,
    /// Pushes wait until the end of quiet hours, except emergency access and
    /// silent sync pokes; the inbox entry appears at once.
    pub quiet_hours: Option<QuietHours>,
    /// The zone quiet hours are read in (the account's own record's); set by
    /// the server, ignored in a request.
    #[serde(default)]
    #[schema(read_only, example = "Asia/Tokyo")]
    pub time_zone: String,
}

async fn current(state: &AppState, account_id: Uuid) -> Result<NotificationPreferences, ApiError> {
    let p = service::preferences(&state.db, account_id).await?;
    Ok(NotificationPreferences {
        events: EventKind::ALL.into_iter().map(|k| (k, !p.disabled.contains(&k))).collect(),
        quiet_hours: p.quiet.map(|(s, e)| QuietHours {
            start: s.format("%H:%M").to_string(),
            end: e.format("%H:%M").to_string(),
        }),
        time_zone: p.tz.name().to_owned(),
    })
}

/// The caller's notification preferences
#[utoipa::path(
    tag = "notifications",
    responses(
        (status = 200, description = "Preferences", body = NotificationPreferences),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[get("/me/notification-preferences")]
pub async fn get_preferences(
    state: web::Data<AppState>,
    caller: Caller,
) -> ApiResult<web::Json<NotificationPreferences>> {
    Ok(web::Json(current(&state, caller.account_id).await?))
}

/// Set the caller's notification preferences
#[utoipa::path(
    tag = "notifications",
    request_body = NotificationPreferences,
    responses(
        (status = 200, description = "Preferences", body = NotificationPreferences),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = PROBLEM),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 422, description = "Unknown event type or bad time", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[put("/me/notification-preferences")]
pub async fn put_preferences(
    state: web::Data<AppState>,
    caller: Caller,
    body: Json<NotificationPreferences>,
) -> ApiResult<web::Json<NotificationPreferences>> {
    let b = body.0;
    let mut errors = Vec::new();
    let quiet = match &b.quiet_hours {
        Some(q) => {
            let ok = |name: &str, v: &str, errors: &mut Vec<FieldError>| {
                if NaiveTime::parse_from_str(v, "%H:%M").is_err() || v.len() != 5 {
                    errors.push(FieldError::new(
                        format!("quietHours.{name}"),
                        "must be HH:MM (00:00 to 23:59)",
                    ));
                }
            };
            ok("start", &q.start, &mut errors);
            ok("end", &q.end, &mut errors);
            Some((q.start.clone(), q.end.clone()))
        }
        None => None,
    };
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let disabled: BTreeSet<EventKind> = b
        .events
        .iter()
        .filter(|(k, on)| !**on && **k != EventKind::EmergencyAccess)
        .map(|(k, _)| *k)
        .collect();
    service::save_preferences(&state.db, caller.account_id, &disabled, quiet).await?;
    Ok(web::Json(current(&state, caller.account_id).await?))
}
