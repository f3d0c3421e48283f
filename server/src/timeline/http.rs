//! `GET /v1/persons/{personId}/timeline`.

use std::collections::BTreeSet;

use actix_web::{get, web};
use sea_orm::TransactionTrait;
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::model::TimelineItem;
use super::service::{self, Key, Query};
use crate::auth::UncheckedCaller;
use crate::category::Category;
use crate::consent::{Action, Scope, authorize};
use crate::error::{ApiError, ApiResult, ErrorCode, FieldError, Problem};
use crate::http::{Cursor, Page, pagination};
use crate::startup::AppState;

const PROBLEM: &str = "application/problem+json";

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TimelineParams {
    /// At or after (RFC 3339, or a date in Asia/Tokyo).
    pub from: Option<String>,
    /// Before (RFC 3339, or a date in Asia/Tokyo).
    pub to: Option<String>,
    /// Comma-separated categories (`vitals,labs`); default: every category the caller may read.
    pub categories: Option<String>,
    /// Page size, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
    /// `nextCursor` from the previous page.
    #[param(min_length = 1)]
    pub cursor: Option<String>,
}

/// The person's timeline
///
/// Home readings, lab results, hospital prescriptions, pharmacy dispensings,
/// allergies, conditions, notes and other facility documents on one line,
/// newest first, each with its source (app, device, pharmacy, or facility
/// with its institution code) and only in categories the caller may read.
/// A dispensing that fills a hospital prescription links to it, and back.
#[utoipa::path(
    tag = "timeline",
    params(("personId" = Uuid, Path, description = "Person id"), TimelineParams),
    responses(
        (status = 200, description = "A page of the timeline", body = Page<TimelineItem>),
        (status = 400, description = "Bad query string", body = Problem, content_type = PROBLEM),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "None of the asked categories is readable by the caller", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such person visible to the caller", body = Problem, content_type = PROBLEM),
        (status = 422, description = "Bad range, category, limit or cursor", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[get("/persons/{personId}/timeline")]
pub async fn timeline(
    state: web::Data<AppState>,
    caller: UncheckedCaller,
    path: web::Path<Uuid>,
    q: web::Query<TimelineParams>,
) -> ApiResult<web::Json<Page<TimelineItem>>> {
    // The consent read in `authorize` is the first database access; it refuses an erased account.
    let caller = caller.for_consent_read();
    let mut errors = Vec::new();
    let mut asked: Option<BTreeSet<Category>> = None;
    if let Some(raw) = q.categories.as_deref().filter(|s| !s.trim().is_empty()) {
        let mut set = BTreeSet::new();
        for part in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match part.parse::<Category>() {
                Ok(c) => {
                    set.insert(c);
                }
                Err(e) => errors.push(FieldError::new("categories", e.to_string())),
            }
        }
        asked = Some(set);
    }
    let tz = chrono_tz::Asia::Tokyo;
    let from = crate::observations::http::parse_bound(q.from.as_deref(), "from", tz).unwrap_or_else(|e| {
        errors.push(e);
        None
    });
    let to = crate::observations::http::parse_bound(q.to.as_deref(), "to", tz).unwrap_or_else(|e| {
        errors.push(e);
        None
    });
    if let (Some(f), Some(t)) = (from, to)
        && f >= t
    {
        errors.push(FieldError::new("from", "must be before `to`"));
    }
    let limit = pagination::page_limit(q.limit).unwrap_or_else(|e| {
        errors.push(e);
        pagination::DEFAULT_LIMIT
    });
    let after: Option<Key> = match q.cursor.as_deref().map(Cursor::decode) {
        Some(Ok(k)) => Some(k),
        Some(Err(_)) => {
            errors.push(FieldError::new("cursor", "is not a cursor this server issued"));
            None
        }
        None => None,
    };
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let access = authorize(
        &state.db,
        &caller,
        path.into_inner(),
        Action::Read,
        Scope::AnyOf(&Category::ALL),
        "timeline",
    )
    .await?;
    let categories: BTreeSet<Category> = match asked {
        Some(a) => a.intersection(&access.categories).copied().collect(),
        None => access.categories.clone(),
    };
    if categories.is_empty() {
        return Err(ApiError::new(ErrorCode::Forbidden, "None of these categories is shared with you."));
    }
    // The page's reads (one per table, then the sources and cross-links) on
    // one pooled connection: the pool checks a connection with a round trip
    // each time it is given back, once for the page instead of once a read.
    let txn = state.db.begin().await?;
    let page = service::page(&txn, access.person_id, &Query { categories, from, to, after, limit }).await?;
    txn.commit().await?;
    Ok(web::Json(Page { items: page.items, next_cursor: page.next.map(|k| Cursor::encode(&k)) }))
}
