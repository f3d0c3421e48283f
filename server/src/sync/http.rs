//! `/v1/sync/changes` and `/v1/sync/push`.

use std::time::Duration;

use actix_web::{get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::feed::{self, Change};
use super::push::{self as pushing, Mutation, MutationResult};
use crate::auth::{Caller, UncheckedCaller};
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::Json;
use crate::startup::AppState;

const PROBLEM: &str = "application/problem+json";
pub const DEFAULT_LIMIT: u64 = 500;
pub const MAX_LIMIT: u64 = 2000;
pub const MAX_WAIT: u64 = 30;
pub const MAX_MUTATIONS: usize = 5000;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChangesParams {
    /// The `cursor` of the previous page; empty for a first sync.
    pub cursor: Option<String>,
    /// Changes per page, 1 to 2,000 (default 500).
    #[param(minimum = 1, maximum = 2000)]
    pub limit: Option<u64>,
    /// Long-poll: wait up to this many seconds (max 30) for a change when there is none.
    #[param(maximum = 30)]
    pub wait: Option<u64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangeOut {
    pub person_id: Uuid,
    /// `observation` or `dispensing`.
    #[serde(rename = "type")]
    pub type_name: String,
    pub id: Uuid,
    pub version: i32,
    pub deleted: bool,
    /// The record exactly as its own endpoint returns it; absent on tombstones.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub data: Option<Box<serde_json::value::RawValue>>,
}

impl From<Change> for ChangeOut {
    fn from(c: Change) -> Self {
        ChangeOut {
            person_id: c.person_id,
            type_name: c.type_name.into(),
            id: c.id,
            version: c.version,
            deleted: c.deleted,
            data: c.data,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangesResponse {
    pub changes: Vec<ChangeOut>,
    /// Persons the device must erase: access ended (or changed; their records follow again from the start).
    pub purge: Vec<Uuid>,
    /// Opaque; send it back as `cursor`.
    pub cursor: String,
    /// Another page is ready now.
    pub has_more: bool,
}

/// Pull changes
///
/// The latest state of every record changed since `cursor`, for every person
/// the caller can reach, filtered to the categories the caller may read.
/// Deletions come as tombstones; persons the caller lost access to come once
/// in `purge`.
#[utoipa::path(
    tag = "sync",
    params(ChangesParams),
    responses(
        (status = 200, description = "A page of changes", body = ChangesResponse),
        (status = 400, description = "Malformed cursor", body = Problem, content_type = PROBLEM),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 410, description = "Cursor older than the deletion history kept (`resync_required`)", body = Problem, content_type = PROBLEM),
        (status = 422, description = "Bad limit or wait", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[get("/sync/changes")]
pub async fn changes(
    state: web::Data<AppState>,
    caller: UncheckedCaller,
    q: web::Query<ChangesParams>,
) -> ApiResult<web::Json<ChangesResponse>> {
    // `feed::pull` begins with the consent read, which refuses an erased account.
    let caller = caller.for_consent_read();
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::field("limit", format!("must be between 1 and {MAX_LIMIT}")));
    }
    let wait = q.wait.unwrap_or(0);
    if wait > MAX_WAIT {
        return Err(ApiError::field("wait", format!("must be at most {MAX_WAIT} seconds")));
    }
    // Subscribe before reading so a change committed in between still wakes us.
    let mut events = state.changes.subscribe();
    let mut page = feed::pull(&state.db, &caller, q.cursor.as_deref(), limit).await?;
    if wait > 0 && page.changes.is_empty() && page.purge.is_empty() {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
        // Wake only for the persons this caller follows.
        let woke = loop {
            match tokio::time::timeout_at(deadline, events.recv()).await {
                Ok(Ok(p)) if page.persons.contains(&p) => break true,
                Ok(Ok(_)) => continue,
                Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => break true,
                Ok(Err(_)) | Err(_) => break false,
            }
        };
        if woke {
            page = feed::pull(&state.db, &caller, Some(&page.cursor), limit).await?;
        }
    }
    Ok(web::Json(ChangesResponse {
        changes: page.changes.into_iter().map(ChangeOut::from).collect(),
        purge: page.purge,
        cursor: page.cursor,
        has_more: page.has_more,
    }))
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PushRequest {
    /// The pushing device (`POST /v1/devices`).
    pub device_id: Uuid,
    pub mutations: Vec<Mutation>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PushResponse {
    /// One per mutation, in input order.
    pub results: Vec<MutationResult>,
}

/// Push device writes
///
/// Each mutation is authorized on its own; a retried push (same deviceId and
/// mutationIds) returns the recorded results and changes nothing.
#[utoipa::path(
    tag = "sync",
    request_body = PushRequest,
    responses(
        (status = 200, description = "One result per mutation", body = PushResponse),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = PROBLEM),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 422, description = "Unknown device, repeated mutationId or too many mutations", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[post("/sync/push")]
pub async fn push(
    state: web::Data<AppState>,
    caller: Caller,
    body: Json<PushRequest>,
) -> ApiResult<web::Json<PushResponse>> {
    if body.mutations.len() > MAX_MUTATIONS {
        return Err(ApiError::field("mutations", format!("must hold at most {MAX_MUTATIONS} mutations")));
    }
    let (results, touched) = pushing::push(&state.db, &caller, body.device_id, &body.mutations).await?;
    for p in touched {
        state.changes.notify(p);
    }
    Ok(web::Json(PushResponse { results }))
}
