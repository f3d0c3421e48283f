//! `/v1/orgs`.

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::{service, store};
use crate::auth::Caller;
use crate::consent::model::{OrgKind, OrgRole};
use crate::entities::organization;
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::{Json, ListQuery, Page};
use crate::startup::AppState;

const PROBLEM: &str = "application/problem+json";

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrgRequest {
    pub kind: OrgKind,
    #[validate(length(max = 200))]
    #[schema(example = "利根市保健センター", max_length = 200)]
    pub name: String,
    /// The 10-digit medical institution code, where one exists.
    #[schema(example = "1311234567")]
    pub code: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrgView {
    pub org_id: Uuid,
    pub kind: String,
    pub name: String,
    pub code: Option<String>,
    /// The caller's roles in this organization.
    pub my_roles: Vec<String>,
}

fn view(o: organization::Model, my_roles: Vec<String>) -> OrgView {
    OrgView { org_id: o.id, kind: o.kind, name: o.name, code: o.code, my_roles }
}

/// Create an organization
///
/// System administrators only.
#[utoipa::path(
    tag = "organizations",
    request_body = OrgRequest,
    responses(
        (status = 201, description = "Created", body = OrgView),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "Not a system administrator", body = Problem, content_type = PROBLEM),
        (status = 409, description = "Institution code already registered", body = Problem, content_type = PROBLEM),
        (status = 422, description = "Invalid field", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[post("/orgs")]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: Json<OrgRequest>,
) -> ApiResult<HttpResponse> {
    let o = service::create(&state.db, &caller, body.kind, &body.name, body.code.as_deref()).await?;
    Ok(HttpResponse::Created().json(view(o, vec![])))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrgListParams {
    /// Only this kind (`pharmacy`, `municipality`, …).
    pub kind: Option<OrgKind>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
    #[param(min_length = 1)]
    pub cursor: Option<String>,
}

/// Directory of organizations
///
/// So residents can find the pharmacy or municipality to share with.
#[utoipa::path(
    tag = "organizations",
    params(OrgListParams),
    responses(
        (status = 200, description = "Organizations", body = Page<OrgView>),
        (status = 400, description = "Bad query string", body = Problem, content_type = PROBLEM),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 422, description = "Bad limit or cursor", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[get("/orgs")]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<OrgListParams>,
) -> ApiResult<web::Json<Page<OrgView>>> {
    let lq = ListQuery { limit: q.limit, cursor: q.cursor.clone() };
    let limit = lq.limit()?;
    let rows = store::list(&state.db, q.kind.map(|k| k.as_str()), lq.cursor()?, limit + 1).await?;
    let mine = store::memberships(&state.db, caller.account_id).await?;
    let page = Page::from_rows(rows, limit, |o| o.id);
    Ok(web::Json(page.map(|o| {
        let roles = mine.iter().filter(|m| m.org_id == o.id).map(|m| m.role.clone()).collect();
        view(o, roles)
    })))
}

/// One organization
#[utoipa::path(
    tag = "organizations",
    params(("orgId" = Uuid, Path, description = "Organization id")),
    responses(
        (status = 200, description = "The organization", body = OrgView),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such organization", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[get("/orgs/{orgId}")]
pub async fn get_one(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<OrgView>> {
    let id = path.into_inner();
    let o = store::find(&state.db, id).await?.ok_or_else(|| ApiError::not_found("organization"))?;
    let roles = store::roles(&state.db, id, caller.account_id).await?;
    Ok(web::Json(view(o, roles)))
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MemberRequest {
    pub account_id: Uuid,
    pub role: OrgRole,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberView {
    pub account_id: Uuid,
    pub role: String,
    pub since: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MembersResponse {
    pub items: Vec<MemberView>,
}

/// Add a member
///
/// The organization's admins (or a system administrator) give an account a
/// role: `admin`, `nurse`, `clinician` or `pharmacist`.
#[utoipa::path(
    tag = "organizations",
    params(("orgId" = Uuid, Path, description = "Organization id")),
    request_body = MemberRequest,
    responses(
        (status = 201, description = "Added"),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "Not an admin of the organization", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such organization", body = Problem, content_type = PROBLEM),
        (status = 409, description = "Already has the role", body = Problem, content_type = PROBLEM),
        (status = 422, description = "Invalid field", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[post("/orgs/{orgId}/members")]
pub async fn add_member(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: Json<MemberRequest>,
) -> ApiResult<HttpResponse> {
    service::add_member(&state.db, &caller, path.into_inner(), body.account_id, body.role).await?;
    Ok(HttpResponse::Created().finish())
}

/// List members
#[utoipa::path(
    tag = "organizations",
    params(("orgId" = Uuid, Path, description = "Organization id")),
    responses(
        (status = 200, description = "Members", body = MembersResponse),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "Not a member", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such organization", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[get("/orgs/{orgId}/members")]
pub async fn list_members(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<MembersResponse>> {
    let id = path.into_inner();
    service::require_member(&state.db, &caller, id).await?;
    let items = store::members(&state.db, id)
        .await?
        .into_iter()
        .map(|m| MemberView { account_id: m.account_id, role: m.role, since: m.created_at })
        .collect();
    Ok(web::Json(MembersResponse { items }))
}

/// Remove a member
///
/// Takes away every role of the account in the organization.
#[utoipa::path(
    tag = "organizations",
    params(("orgId" = Uuid, Path, description = "Organization id"), ("accountId" = Uuid, Path, description = "Member's account id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "Not an admin of the organization", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such organization or member", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[delete("/orgs/{orgId}/members/{accountId}")]
pub async fn remove_member(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (org_id, account_id) = path.into_inner();
    service::remove_member(&state.db, &caller, org_id, account_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientRequest {
    #[validate(length(max = 100))]
    #[schema(example = "SS-MIX2 uploader, ward PC 3", max_length = 100)]
    pub name: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientView {
    pub client_id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// Only in the creation answer: store it now, it is not shown again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ClientsResponse {
    pub items: Vec<ClientView>,
}

fn client_view(c: crate::entities::org_client::Model, secret: Option<String>) -> ClientView {
    ClientView {
        client_id: c.id,
        name: c.name,
        created_at: c.created_at,
        revoked_at: c.revoked_at,
        client_secret: secret,
    }
}

/// Create an API client
///
/// For a facility's systems (the SS-MIX2 uploader): OAuth 2.0 client
/// credentials. The secret is shown once and stored hashed.
#[utoipa::path(
    tag = "organizations",
    params(("orgId" = Uuid, Path, description = "Organization id")),
    request_body = ClientRequest,
    responses(
        (status = 201, description = "The client, with its secret (once)", body = ClientView),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "Not an admin of the organization", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such organization", body = Problem, content_type = PROBLEM),
        (status = 422, description = "Invalid field", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[post("/orgs/{orgId}/clients")]
pub async fn create_client(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: Json<ClientRequest>,
) -> ApiResult<HttpResponse> {
    let (c, secret) = service::create_client(&state, &caller, path.into_inner(), &body.name).await?;
    Ok(HttpResponse::Created().json(client_view(c, Some(secret))))
}

/// List API clients
#[utoipa::path(
    tag = "organizations",
    params(("orgId" = Uuid, Path, description = "Organization id")),
    responses(
        (status = 200, description = "Clients (no secrets)", body = ClientsResponse),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "Not an admin of the organization", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such organization", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[get("/orgs/{orgId}/clients")]
pub async fn list_clients(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<ClientsResponse>> {
    let items = service::list_clients(&state.db, &caller, path.into_inner()).await?;
    Ok(web::Json(ClientsResponse { items: items.into_iter().map(|c| client_view(c, None)).collect() }))
}

/// Revoke an API client
#[utoipa::path(
    tag = "organizations",
    params(("orgId" = Uuid, Path, description = "Organization id"), ("clientId" = Uuid, Path, description = "Client id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "Not an admin of the organization", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such client", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[delete("/orgs/{orgId}/clients/{clientId}")]
pub async fn revoke_client(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (org_id, client_id) = path.into_inner();
    service::revoke_client(&state.db, &caller, org_id, client_id).await?;
    Ok(HttpResponse::NoContent().finish())
}
