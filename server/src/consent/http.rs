//! `/v1/persons`, grants, invitations, guardians and the access log.

use std::collections::{BTreeSet, HashMap};

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::model::{AccessLevel, GrantStatus, Purpose};
use super::policy::{Action, Scope, authorize};
use super::service::{self, Dependent, GrantInput, Grantee};
use super::{audit, store};
use crate::auth::Caller;
use crate::category::Category;
use crate::entities::{account, grant, organization};
use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::http::{Json, ListQuery, Page};
use crate::startup::AppState;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GranteeRef {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_id: Option<Uuid>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GrantRequest {
    /// Exactly one of `accountId` or `orgId`.
    #[schema(schema_with = crate::http::schema::exactly_one_id)]
    pub grantee: GranteeRef,
    #[schema(min_items = 1)]
    pub categories: Vec<Category>,
    pub access: AccessLevel,
    pub purpose: Purpose,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub starts_at: Option<DateTime<FixedOffset>>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<DateTime<FixedOffset>>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GrantView {
    pub grant_id: Uuid,
    pub person_id: Uuid,
    pub grantee: GranteeRef,
    pub categories: Vec<Category>,
    pub access: AccessLevel,
    pub purpose: Purpose,
    pub starts_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub status: GrantStatus,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<grant::Model> for GrantView {
    fn from(g: grant::Model) -> Self {
        GrantView {
            grant_id: g.id,
            person_id: g.person_id,
            grantee: GranteeRef { account_id: g.grantee_account_id, org_id: g.grantee_org_id },
            categories: service::categories_of(&g),
            access: g.access.parse().unwrap_or(AccessLevel::Read),
            purpose: g.purpose.parse().unwrap_or(Purpose::Family),
            starts_at: g.starts_at,
            expires_at: g.expires_at,
            status: service::status(&g, Utc::now()),
            created_at: g.created_at,
            revoked_at: g.revoked_at,
        }
    }
}

fn utc(t: Option<DateTime<FixedOffset>>) -> Option<DateTime<Utc>> {
    t.map(|t| t.with_timezone(&Utc))
}

const PROBLEM: &str = "application/problem+json";

/// The sexes the create and update checks accept (the wire stays a string).
fn sex() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
    crate::http::schema::one_of_or_null(&["male", "female", "other", "unknown"])
}

/// Grant access to a record
///
/// By the person or a guardian: an account (family, a carer) or an
/// organisation (whose members with a role fitting the purpose act on it)
/// may read, or read and write, the named categories until `expiresAt`.
#[utoipa::path(
    tag = "consent",
    params(("personId" = Uuid, Path, description = "Person id")),
    request_body = GrantRequest,
    responses(
        (status = 201, description = "Granted", body = GrantView),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = PROBLEM),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "Grantees cannot re-share", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such person visible to the caller", body = Problem, content_type = PROBLEM),
        (status = 422, description = "Invalid field", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[post("/persons/{personId}/grants")]
pub async fn create_grant(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: Json<GrantRequest>,
) -> ApiResult<HttpResponse> {
    let access =
        authorize(&state.db, &caller, path.into_inner(), Action::Write, Scope::Manage, "grants").await?;
    let b = body.0;
    let grantee = match (b.grantee.account_id, b.grantee.org_id) {
        (Some(a), None) => Grantee::Account(a),
        (None, Some(o)) => Grantee::Org(o),
        _ => return Err(ApiError::field("grantee", "must name exactly one of accountId or orgId")),
    };
    let input = GrantInput {
        grantee,
        categories: b.categories.into_iter().collect(),
        access: b.access,
        purpose: b.purpose,
        starts_at: utc(b.starts_at),
        expires_at: utc(b.expires_at),
    };
    let g = service::create_grant(&state.db, &access, input).await?;
    Ok(HttpResponse::Created().json(GrantView::from(g)))
}

/// List a record's grants
///
/// Every grant the person has given, with its status (active, pending,
/// revoked, expired), newest first.
#[utoipa::path(
    tag = "consent",
    params(("personId" = Uuid, Path, description = "Person id"), ListQuery),
    responses(
        (status = 200, description = "Grants", body = Page<GrantView>),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "Only the person and guardians see grants", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such person visible to the caller", body = Problem, content_type = PROBLEM),
        (status = 422, description = "Bad limit or cursor", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[get("/persons/{personId}/grants")]
pub async fn list_grants(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    q: web::Query<ListQuery>,
) -> ApiResult<web::Json<Page<GrantView>>> {
    let access =
        authorize(&state.db, &caller, path.into_inner(), Action::Read, Scope::Manage, "grants").await?;
    let limit = q.limit()?;
    let rows = store::list_grants(&state.db, access.person_id, q.cursor()?, limit + 1).await?;
    Ok(web::Json(Page::from_rows(rows, limit, |g| g.id).map(GrantView::from)))
}

/// Revoke a grant
///
/// Effective for the very next request of the grantee.
#[utoipa::path(
    tag = "consent",
    params(("personId" = Uuid, Path, description = "Person id"), ("grantId" = Uuid, Path, description = "Grant id")),
    responses(
        (status = 204, description = "Revoked (also when it already was)"),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "Only the person and guardians revoke", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such grant", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[delete("/persons/{personId}/grants/{grantId}")]
pub async fn revoke_grant(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (person_id, grant_id) = path.into_inner();
    let access = authorize(&state.db, &caller, person_id, Action::Write, Scope::Manage, "grants").await?;
    service::revoke_grant(&state.db, &access, grant_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InvitationRequest {
    #[schema(min_items = 1)]
    pub categories: Vec<Category>,
    pub access: AccessLevel,
    pub purpose: Purpose,
    /// When the resulting grant ends.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<DateTime<FixedOffset>>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvitationCreated {
    pub invitation_id: Uuid,
    /// Single use; give it to the invitee (read aloud, message). Case and dashes do not matter.
    #[schema(example = "7KQ2M-X9D4T")]
    pub code: String,
    /// The code's own expiry (7 days).
    pub expires_at: DateTime<Utc>,
}

/// Invite a family member
///
/// Returns a short code. Whoever redeems it with `POST /v1/invitations/accept`
/// receives a grant with these categories, access and purpose.
#[utoipa::path(
    tag = "consent",
    params(("personId" = Uuid, Path, description = "Person id")),
    request_body = InvitationRequest,
    responses(
        (status = 201, description = "Invitation code", body = InvitationCreated),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "Only the person and guardians invite", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such person visible to the caller", body = Problem, content_type = PROBLEM),
        (status = 422, description = "Invalid field", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[post("/persons/{personId}/invitations")]
pub async fn create_invitation(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: Json<InvitationRequest>,
) -> ApiResult<HttpResponse> {
    let access =
        authorize(&state.db, &caller, path.into_inner(), Action::Write, Scope::Manage, "invitations").await?;
    let b = body.0;
    let inv = service::create_invitation(
        &state.db,
        &access,
        b.categories.into_iter().collect(),
        b.access,
        b.purpose,
        utc(b.expires_at),
    )
    .await?;
    Ok(HttpResponse::Created().json(InvitationCreated {
        invitation_id: inv.id,
        code: inv.code,
        expires_at: inv.expires_at,
    }))
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AcceptRequest {
    #[validate(length(min = 1, max = 64))]
    #[schema(min_length = 1, max_length = 64)]
    pub code: String,
}

/// Accept an invitation
///
/// The caller becomes the grantee of the invitation's grant.
#[utoipa::path(
    tag = "consent",
    request_body = AcceptRequest,
    responses(
        (status = 201, description = "The grant now held by the caller", body = GrantView),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 422, description = "Unknown, used or expired code", body = Problem, content_type = PROBLEM),
        (status = 429, description = "Too many attempts: see `Retry-After`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/invitations/accept")]
pub async fn accept_invitation(
    state: web::Data<AppState>,
    caller: Caller,
    body: Json<AcceptRequest>,
) -> ApiResult<HttpResponse> {
    redeem_limit(&state, &caller)?;
    let g = service::accept_invitation(&state.db, &caller, &body.code).await?;
    Ok(HttpResponse::Created().json(GrantView::from(g)))
}

/// Codes are short: accepts and redeems are limited per account so they cannot be guessed.
fn redeem_limit(state: &AppState, caller: &Caller) -> Result<(), ApiError> {
    state
        .limits
        .hit(
            &format!("redeem:{}", caller.account_id),
            state.settings.rate_redeem_per_account,
            std::time::Duration::from_secs(60),
        )
        .map_err(ApiError::RateLimited)
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DependentRequest {
    #[validate(length(min = 1, max = 100))]
    #[schema(min_length = 1, max_length = 100)]
    pub display_name: String,
    /// Not in the future (Japan's calendar date).
    #[schema(value_type = String, format = Date, example = "2019-04-01")]
    pub birth_date: NaiveDate,
    /// `male`, `female`, `other` or `unknown`.
    #[schema(schema_with = sex)]
    pub sex: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PersonView {
    pub person_id: Uuid,
    pub display_name: String,
    #[schema(value_type = Option<String>)]
    pub birth_date: Option<NaiveDate>,
    pub sex: Option<String>,
    /// Family and given name in katakana (`カンジャ タロウ`): facilities' documents are checked against it.
    pub name_kana: Option<String>,
    /// `self`, `guardian` or `grantee`.
    pub relationship: String,
    /// Categories the caller may read.
    pub read: Vec<Category>,
    /// Categories the caller may add to.
    pub write: Vec<Category>,
    /// Purposes of the grants that give the access (grantees only).
    pub purposes: Vec<Purpose>,
}

impl PersonView {
    /// A record the caller controls (own or as guardian): every category, both ways.
    fn controlled(p: crate::entities::person::Model, relationship: &str) -> Self {
        PersonView {
            person_id: p.id,
            display_name: p.display_name,
            birth_date: p.birth_date,
            sex: p.sex,
            name_kana: p.name_kana,
            relationship: relationship.into(),
            read: Category::ALL.to_vec(),
            write: Category::ALL.to_vec(),
            purposes: vec![],
        }
    }
}

/// Add a dependent
///
/// A person without an account of their own (a child, a parent in care),
/// with the caller as guardian: full control, including grants.
#[utoipa::path(
    tag = "consent",
    request_body = DependentRequest,
    responses(
        (status = 201, description = "The dependent", body = PersonView),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 422, description = "Invalid field", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[post("/persons")]
pub async fn create_dependent(
    state: web::Data<AppState>,
    caller: Caller,
    body: Json<DependentRequest>,
) -> ApiResult<HttpResponse> {
    let b = body.0;
    let mut errors = Vec::new();
    if b.display_name.trim().is_empty() {
        errors.push(FieldError::new("displayName", "must not be blank"));
    }
    if b.birth_date > crate::clock::today_jst() {
        errors.push(FieldError::new("birthDate", "is in the future"));
    }
    if b.sex.as_deref().is_some_and(|s| !matches!(s, "male" | "female" | "other" | "unknown")) {
        errors.push(FieldError::new("sex", "must be one of male, female, other, unknown"));
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let p = service::create_dependent(
        &state.db,
        &caller,
        Dependent { display_name: b.display_name.trim().to_owned(), birth_date: b.birth_date, sex: b.sex },
    )
    .await?;
    Ok(HttpResponse::Created().json(PersonView::controlled(p, "guardian")))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PersonsResponse {
    pub items: Vec<PersonView>,
}

/// Persons the caller can reach
///
/// The caller's own record, dependents, and every record shared with the
/// caller (directly or through an organisation role), each with the
/// categories the caller may read and write.
#[utoipa::path(
    tag = "consent",
    responses(
        (status = 200, description = "Reachable persons", body = PersonsResponse),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[get("/persons")]
pub async fn list_persons(
    state: web::Data<AppState>,
    caller: Caller,
) -> ApiResult<web::Json<PersonsResponse>> {
    let items = service::reachable(&state.db, &caller)
        .await?
        .into_iter()
        .map(|r| PersonView {
            person_id: r.person.id,
            display_name: r.person.display_name,
            birth_date: r.person.birth_date,
            sex: r.person.sex,
            name_kana: r.person.name_kana,
            relationship: r.relationship.into(),
            read: r.read.into_iter().collect(),
            write: r.write.into_iter().collect(),
            purposes: r.purposes.into_iter().collect(),
        })
        .collect();
    Ok(web::Json(PersonsResponse { items }))
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GuardianRequest {
    pub account_id: Uuid,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GuardianView {
    pub account_id: Uuid,
    pub display_name: String,
    pub since: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GuardiansResponse {
    pub items: Vec<GuardianView>,
}

/// Share guardianship
///
/// Another account (a second parent) becomes a guardian with full control.
#[utoipa::path(
    tag = "consent",
    params(("personId" = Uuid, Path, description = "Person id")),
    request_body = GuardianRequest,
    responses(
        (status = 201, description = "Added"),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "Only the person and guardians", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such person visible to the caller", body = Problem, content_type = PROBLEM),
        (status = 409, description = "Already a guardian", body = Problem, content_type = PROBLEM),
        (status = 422, description = "No such account", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[post("/persons/{personId}/guardians")]
pub async fn add_guardian(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: Json<GuardianRequest>,
) -> ApiResult<HttpResponse> {
    let access =
        authorize(&state.db, &caller, path.into_inner(), Action::Write, Scope::Manage, "guardians").await?;
    service::add_guardian(&state.db, &access, body.account_id).await?;
    Ok(HttpResponse::Created().finish())
}

/// List guardians
#[utoipa::path(
    tag = "consent",
    params(("personId" = Uuid, Path, description = "Person id")),
    responses(
        (status = 200, description = "Guardians", body = GuardiansResponse),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "Only the person and guardians", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such person visible to the caller", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[get("/persons/{personId}/guardians")]
pub async fn list_guardians(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<GuardiansResponse>> {
    let access =
        authorize(&state.db, &caller, path.into_inner(), Action::Read, Scope::Manage, "guardians").await?;
    let mut items = Vec::new();
    for g in store::guardians_of(&state.db, access.person_id).await? {
        let name = account::Entity::find_by_id(g.account_id).one(&state.db).await?.map(|a| a.display_name);
        items.push(GuardianView {
            account_id: g.account_id,
            display_name: name.unwrap_or_default(),
            since: g.created_at,
        });
    }
    Ok(web::Json(GuardiansResponse { items }))
}

/// Remove a guardian
#[utoipa::path(
    tag = "consent",
    params(("personId" = Uuid, Path, description = "Person id"), ("accountId" = Uuid, Path, description = "Guardian's account id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "Only the person and guardians", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such guardian", body = Problem, content_type = PROBLEM),
        (status = 409, description = "The last guardian of a dependent", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[delete("/persons/{personId}/guardians/{accountId}")]
pub async fn remove_guardian(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (person_id, account_id) = path.into_inner();
    let access = authorize(&state.db, &caller, person_id, Action::Write, Scope::Manage, "guardians").await?;
    service::remove_guardian(&state.db, &access, account_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogParams {
    /// At or after (RFC 3339).
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// Before (RFC 3339).
    #[param(format = DateTime)]
    pub to: Option<String>,
    /// Page size, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
    #[param(min_length = 1)]
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Actor {
    pub account_id: Option<Uuid>,
    pub display_name: Option<String>,
    pub org_id: Option<Uuid>,
    pub org_name: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub actor: Actor,
    /// `read` or `write`.
    pub action: String,
    /// What was touched: `observations`, `observations/{id}`, …
    pub resource: String,
    pub categories: Vec<Category>,
    pub purpose: Option<String>,
    /// The actor's stated reason (emergency access).
    pub reason: Option<String>,
}

/// Who accessed the record
///
/// Every read or write by anyone but the person and their guardians: who
/// (account and organisation), what, when and why. Newest first.
#[utoipa::path(
    tag = "consent",
    params(("personId" = Uuid, Path, description = "Person id"), LogParams),
    responses(
        (status = 200, description = "Access log", body = Page<LogEntry>),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "Only the person and guardians", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such person visible to the caller", body = Problem, content_type = PROBLEM),
        (status = 422, description = "Bad range, limit or cursor", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[get("/persons/{personId}/access-log")]
pub async fn access_log(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    q: web::Query<LogParams>,
) -> ApiResult<web::Json<Page<LogEntry>>> {
    let access =
        authorize(&state.db, &caller, path.into_inner(), Action::Read, Scope::Manage, "access-log").await?;
    let time = |raw: &Option<String>, name: &str| -> Result<Option<DateTime<Utc>>, ApiError> {
        raw.as_deref()
            .map(|s| {
                DateTime::parse_from_rfc3339(s)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|_| ApiError::field(name, "must be an RFC 3339 timestamp with an offset"))
            })
            .transpose()
    };
    let (from, to) = (time(&q.from, "from")?, time(&q.to, "to")?);
    let lq = ListQuery { limit: q.limit, cursor: q.cursor.clone() };
    let limit = lq.limit()?;
    let before: Option<i64> = lq.cursor()?;
    let rows = audit::list(&state.db, access.person_id, from, to, before, limit + 1).await?;
    let page = Page::from_rows(rows, limit, |e| e.seq);
    let accounts: HashMap<Uuid, String> = account::Entity::find()
        .filter(
            account::Column::Id
                .is_in(page.items.iter().filter_map(|e| e.actor_account_id).collect::<BTreeSet<_>>()),
        )
        .all(&state.db)
        .await?
        .into_iter()
        .map(|a| (a.id, a.display_name))
        .collect();
    let orgs: HashMap<Uuid, String> = organization::Entity::find()
        .filter(
            organization::Column::Id
                .is_in(page.items.iter().filter_map(|e| e.actor_org_id).collect::<BTreeSet<_>>()),
        )
        .all(&state.db)
        .await?
        .into_iter()
        .map(|o| (o.id, o.name))
        .collect();
    Ok(web::Json(page.map(|e| LogEntry {
        id: e.id,
        at: e.at,
        actor: Actor {
            account_id: e.actor_account_id,
            display_name: e.actor_account_id.and_then(|a| accounts.get(&a).cloned()),
            org_id: e.actor_org_id,
            org_name: e.actor_org_id.and_then(|o| orgs.get(&o).cloned()),
        },
        action: e.action,
        resource: e.resource,
        categories: super::model::categories_from_csv(&e.categories).into_iter().collect(),
        purpose: e.purpose,
        reason: e.reason,
    })))
}

/// One person's demographics
#[utoipa::path(
    tag = "consent",
    params(("personId" = Uuid, Path, description = "Person id")),
    responses(
        (status = 200, description = "The person, with the caller's access", body = PersonView),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such person visible to the caller", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[get("/persons/{personId}")]
pub async fn get_person(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<PersonView>> {
    let person_id = path.into_inner();
    // Any relation may see who the person is; grantees' reads are logged like any other.
    authorize(&state.db, &caller, person_id, Action::Read, Scope::AnyOf(&Category::ALL), "person").await?;
    let reach = service::reachable(&state.db, &caller).await?;
    let r =
        reach.into_iter().find(|r| r.person.id == person_id).ok_or_else(|| ApiError::not_found("person"))?;
    Ok(web::Json(PersonView {
        person_id: r.person.id,
        display_name: r.person.display_name,
        birth_date: r.person.birth_date,
        sex: r.person.sex,
        name_kana: r.person.name_kana,
        relationship: r.relationship.into(),
        read: r.read.into_iter().collect(),
        write: r.write.into_iter().collect(),
        purposes: r.purposes.into_iter().collect(),
    }))
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PersonUpdate {
    #[validate(length(min = 1, max = 100))]
    #[schema(min_length = 1, max_length = 100)]
    pub display_name: Option<String>,
    /// Not in the future (Japan's calendar date).
    #[schema(value_type = Option<String>, format = Date, example = "1948-04-05")]
    pub birth_date: Option<NaiveDate>,
    /// `male`, `female`, `other` or `unknown`.
    #[schema(schema_with = sex)]
    pub sex: Option<String>,
    /// Family and given name in katakana, separated by a space (hiragana and
    /// half-width katakana are accepted and stored as katakana; `・` and spaces
    /// may separate, at least one kana is required).
    #[validate(length(min = 1, max = 100))]
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[\sァ-ヺーヽヾぁ-ゖ・ｦ-ﾝ]*[ァ-ヺーヽヾぁ-ゖｦ-ﾝ][\sァ-ヺーヽヾぁ-ゖ・ｦ-ﾝ]*$"
    )]
    pub name_kana: Option<String>,
    /// IANA time zone in which trends are bucketed (`Asia/Tokyo`).
    #[schema(schema_with = crate::http::schema::time_zone_or_null)]
    pub time_zone: Option<String>,
}

/// Update who the person is
///
/// By the person or a guardian. Name in kana, birth date and sex are what
/// facilities' documents are checked against before they enter the record.
#[utoipa::path(
    tag = "consent",
    params(("personId" = Uuid, Path, description = "Person id")),
    request_body = PersonUpdate,
    responses(
        (status = 200, description = "The person", body = PersonView),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "Only the person and guardians", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such person visible to the caller", body = Problem, content_type = PROBLEM),
        (status = 422, description = "Invalid field", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[patch("/persons/{personId}")]
pub async fn update_person(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: Json<PersonUpdate>,
) -> ApiResult<web::Json<PersonView>> {
    let access =
        authorize(&state.db, &caller, path.into_inner(), Action::Write, Scope::Manage, "person").await?;
    let b = body.0;
    let mut errors = Vec::new();
    if b.display_name.as_deref().is_some_and(|n| n.trim().is_empty()) {
        errors.push(FieldError::new("displayName", "must not be blank"));
    }
    if b.birth_date.is_some_and(|d| d > crate::clock::today_jst()) {
        errors.push(FieldError::new("birthDate", "is in the future"));
    }
    if b.sex.as_deref().is_some_and(|s| !matches!(s, "male" | "female" | "other" | "unknown")) {
        errors.push(FieldError::new("sex", "must be one of male, female, other, unknown"));
    }
    if b.name_kana.as_deref().is_some_and(|k| crate::clinical::demographics::normalize_kana(k).is_none()) {
        errors.push(FieldError::new("nameKana", "must be written in katakana or hiragana"));
    }
    if b.time_zone.as_deref().is_some_and(|z| z.parse::<chrono_tz::Tz>().is_err()) {
        errors.push(FieldError::new("timeZone", "is not an IANA time zone"));
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let p = service::update_person(
        &state.db,
        access.person_id,
        service::PersonChanges {
            display_name: b.display_name.map(|n| n.trim().to_owned()),
            birth_date: b.birth_date,
            sex: b.sex,
            name_kana: b.name_kana.map(|k| k.trim().to_owned()),
            time_zone: b.time_zone,
        },
    )
    .await?;
    let relationship =
        if access.relationship == crate::consent::policy::Relationship::Own { "self" } else { "guardian" };
    Ok(web::Json(PersonView::controlled(p, relationship)))
}

/// Hand the record over to the person
///
/// For a dependent who now has an account of their own: a guardian creates a
/// single-use code (7 days); the person's account claims it with
/// `POST /v1/transfers/claim`. Guardianship then ends.
#[utoipa::path(
    tag = "consent",
    params(("personId" = Uuid, Path, description = "Person id")),
    responses(
        (status = 201, description = "Transfer code", body = InvitationCreated),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "Only the person's guardians", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such person visible to the caller", body = Problem, content_type = PROBLEM),
        (status = 409, description = "The person already has an account", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[post("/persons/{personId}/transfer")]
pub async fn create_transfer(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let access =
        authorize(&state.db, &caller, path.into_inner(), Action::Write, Scope::Manage, "transfer").await?;
    let t = service::create_transfer(&state.db, &access).await?;
    Ok(HttpResponse::Created().json(InvitationCreated {
        invitation_id: t.id,
        code: t.code,
        expires_at: t.expires_at,
    }))
}

/// Claim one's own record
///
/// The caller's account (new, with an empty record) takes over the record a
/// guardian kept for them.
#[utoipa::path(
    tag = "consent",
    request_body = AcceptRequest,
    responses(
        (status = 200, description = "The caller's record now", body = PersonView),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 409, description = "The caller's own record already holds data", body = Problem, content_type = PROBLEM),
        (status = 422, description = "Unknown, used or expired code", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[post("/transfers/claim")]
pub async fn claim_transfer(
    state: web::Data<AppState>,
    caller: Caller,
    body: Json<AcceptRequest>,
) -> ApiResult<web::Json<PersonView>> {
    let p = service::claim_transfer(&state.db, &caller, &body.code).await?;
    Ok(web::Json(PersonView::controlled(p, "self")))
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ShareCodeRequest {
    /// Only staff of this organization may redeem it.
    pub org_id: Option<Uuid>,
    #[schema(min_items = 1)]
    pub categories: Vec<Category>,
    pub access: AccessLevel,
    /// How long the code, and the grant it gives, last (default 60, at most 1440).
    #[schema(minimum = 1, maximum = 1440)]
    pub ttl_minutes: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShareCodeCreated {
    pub share_code_id: Uuid,
    /// Show it as a QR code or read it out at the counter.
    pub code: String,
    pub expires_at: DateTime<Utc>,
}

/// Create a counter share code
///
/// For the pharmacy counter or a clinic's desk: whoever on the staff redeems
/// it gets their organization a grant that ends with the code's time.
#[utoipa::path(
    tag = "consent",
    params(("personId" = Uuid, Path, description = "Person id")),
    request_body = ShareCodeRequest,
    responses(
        (status = 201, description = "Share code", body = ShareCodeCreated),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "Only the person and guardians", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such person visible to the caller", body = Problem, content_type = PROBLEM),
        (status = 422, description = "Invalid field", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[post("/persons/{personId}/share-codes")]
pub async fn create_share_code(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: Json<ShareCodeRequest>,
) -> ApiResult<HttpResponse> {
    let access =
        authorize(&state.db, &caller, path.into_inner(), Action::Write, Scope::Manage, "share-codes").await?;
    let b = body.0;
    let c = service::create_share_code(
        &state.db,
        &access,
        b.org_id,
        b.categories.into_iter().collect(),
        b.access,
        b.ttl_minutes.unwrap_or(60),
    )
    .await?;
    Ok(HttpResponse::Created().json(ShareCodeCreated {
        share_code_id: c.id,
        code: c.code,
        expires_at: c.expires_at,
    }))
}

/// Redeem a share code
///
/// By staff of an organization: the organization gets the code's grant.
#[utoipa::path(
    tag = "consent",
    request_body = AcceptRequest,
    responses(
        (status = 201, description = "The organization's grant", body = GrantView),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "Not staff of a fitting organization", body = Problem, content_type = PROBLEM),
        (status = 422, description = "Unknown, used or expired code", body = Problem, content_type = PROBLEM),
        (status = 429, description = "Too many attempts: see `Retry-After`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/share-codes/redeem")]
pub async fn redeem_share_code(
    state: web::Data<AppState>,
    caller: Caller,
    body: Json<AcceptRequest>,
) -> ApiResult<HttpResponse> {
    redeem_limit(&state, &caller)?;
    let g = service::redeem_share_code(&state.db, &caller, &body.code).await?;
    Ok(HttpResponse::Created().json(GrantView::from(g)))
}
