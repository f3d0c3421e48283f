//! `/v1/devices`.

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use super::service::{self, Platform};
use crate::auth::Caller;
use crate::entities::device;
use crate::error::{ApiResult, Problem};
use crate::http::{Json, ListQuery, Page};
use crate::startup::AppState;

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PlatformWire {
    Android,
    Ios,
    Web,
}

impl From<PlatformWire> for Platform {
    fn from(p: PlatformWire) -> Self {
        match p {
            PlatformWire::Android => Platform::Android,
            PlatformWire::Ios => Platform::Ios,
            PlatformWire::Web => Platform::Web,
        }
    }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeviceRequest {
    pub platform: PlatformWire,
    #[validate(length(min = 1, max = 100))]
    #[schema(example = "Hanako's iPhone", min_length = 1, max_length = 100)]
    pub name: String,
    /// FCM registration token, when the app has one.
    #[validate(length(min = 1, max = 4096))]
    #[schema(min_length = 1, max_length = 4096)]
    pub push_token: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeviceCreated {
    pub device_id: Uuid,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    pub device_id: Uuid,
    /// `android`, `ios` or `web`.
    pub platform: String,
    pub name: String,
    /// Whether push notifications can reach this device (the token itself is not echoed).
    pub push_enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<device::Model> for Device {
    fn from(d: device::Model) -> Self {
        Self {
            device_id: d.id,
            platform: d.platform,
            name: d.name,
            push_enabled: d.push_token.is_some(),
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

/// Register a device
#[utoipa::path(
    tag = "devices",
    request_body = DeviceRequest,
    responses(
        (status = 201, description = "Device registered", body = DeviceCreated),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid field", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/devices")]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: Json<DeviceRequest>,
) -> ApiResult<HttpResponse> {
    let body = body.0;
    let d = service::register(&state.db, caller.account_id, body.platform.into(), body.name, body.push_token)
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/v1/devices/{}", d.id)))
        .json(DeviceCreated { device_id: d.id }))
}

/// List the caller's devices
///
/// Newest first, keyset-paginated.
#[utoipa::path(
    tag = "devices",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of devices", body = Page<Device>),
        (status = 400, description = "Bad query string", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad `limit` or `cursor`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/devices")]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<ListQuery>,
) -> ApiResult<web::Json<Page<Device>>> {
    let page = service::list(&state.db, caller.account_id, q.cursor()?, q.limit()?).await?;
    Ok(web::Json(page.map(Device::from)))
}

/// Remove a device
///
/// The device stops receiving push notifications at once.
#[utoipa::path(
    tag = "devices",
    params(("deviceId" = Uuid, Path, description = "Device id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "Not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such device of the caller's", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/devices/{deviceId}")]
pub async fn remove(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    service::delete(&state.db, caller.account_id, path.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}
