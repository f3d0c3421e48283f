//! Programmes, enrolments, the nurses' residents list and statistics, notes.

use std::collections::BTreeSet;

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{notes, service, stats};
use crate::alerts::http::{AlertView, RuleRequest, RuleView};
use crate::auth::Caller;
use crate::category::Category;
use crate::consent::model::{OrgRole, Purpose};
use crate::consent::{Action, Scope, authorize};
use crate::entities::{note, program};
use crate::error::{ApiError, ApiResult, ErrorCode, FieldError, Problem};
use crate::http::{Cursor, Json, Page, pagination};
use crate::observations::model::Observation;
use crate::startup::AppState;

const PROBLEM: &str = "application/problem+json";

#[derive(Debug, Deserialize, ToSchema, validator::Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProgramRequest {
    #[validate(length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    #[validate(length(max = 4000))]
    #[serde(default)]
    #[schema(max_length = 4000)]
    pub description: String,
    /// What enrolment shares with the municipality (read only).
    pub categories: Vec<Category>,
    /// Always `public_health`.
    pub purpose: Purpose,
    /// Rules applied to every enrolled resident; the municipality's nurses are alerted.
    #[serde(default)]
    pub alert_rules: Vec<RuleRequest>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProgramView {
    pub program_id: Uuid,
    pub org_id: Uuid,
    pub org_name: Option<String>,
    pub name: String,
    pub description: String,
    pub categories: Vec<Category>,
    pub purpose: String,
    pub alert_rules: Vec<RuleView>,
    pub created_at: DateTime<Utc>,
}

async fn view(state: &AppState, p: program::Model) -> Result<ProgramView, ApiError> {
    let rules = service::rules_of(&state.db, p.id).await?.into_iter().map(RuleView::from).collect();
    let org = crate::orgs::store::find(&state.db, p.org_id).await?;
    Ok(ProgramView {
        program_id: p.id,
        org_id: p.org_id,
        org_name: org.map(|o| o.name),
        name: p.name.clone(),
        description: p.description.clone(),
        categories: service::categories(&p).into_iter().collect(),
        purpose: p.purpose,
        alert_rules: rules,
        created_at: p.created_at,
    })
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ProgramsResponse {
    pub items: Vec<ProgramView>,
}

/// Create a public-health programme
///
/// By an admin of a municipality. Enrolment will share `categories` with the
/// municipality for purpose `public_health`; `alertRules` apply to every
/// enrolled resident and alert the municipality's nurses.
#[utoipa::path(
    tag = "public_health",
    params(("orgId" = Uuid, Path, description = "Organization id")),
    request_body = ProgramRequest,
    responses(
        (status = 201, description = "The programme", body = ProgramView),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "Not an admin of the organization", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such organization", body = Problem, content_type = PROBLEM),
        (status = 409, description = "The organization is not a municipality", body = Problem, content_type = PROBLEM),
        (status = 422, description = "Invalid field", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[post("/orgs/{orgId}/programs")]
pub async fn create_program(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: Json<ProgramRequest>,
) -> ApiResult<HttpResponse> {
    let org_id = path.into_inner();
    crate::orgs::service::require_manager(&state.db, &caller, org_id).await?;
    let b = body.0;
    let mut errors = Vec::new();
    if b.name.trim().is_empty() {
        errors.push(FieldError::new("name", "must not be blank"));
    }
    if b.categories.is_empty() {
        errors.push(FieldError::new("categories", "must name at least one category"));
    }
    if b.purpose != Purpose::PublicHealth {
        errors.push(FieldError::new("purpose", "must be public_health"));
    }
    let categories: BTreeSet<Category> = b.categories.iter().copied().collect();
    let mut rules = Vec::new();
    for (i, r) in b.alert_rules.into_iter().enumerate() {
        match crate::alerts::http::check(r) {
            Ok(rule) if !categories.contains(&rule.kind.category) => errors.push(FieldError::new(
                format!("alertRules/{i}/kind"),
                "is in a category the programme does not share",
            )),
            Ok(rule) => rules.push(rule),
            Err(ApiError::Problem { errors: inner, .. }) => errors.extend(
                inner.into_iter().map(|e| FieldError::new(format!("alertRules/{i}/{}", e.path), e.message)),
            ),
            Err(e) => return Err(e),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let (p, _) = service::create(
        &state.db,
        org_id,
        caller.account_id,
        service::NewProgram { name: b.name.trim().to_owned(), description: b.description, categories, rules },
    )
    .await?;
    Ok(HttpResponse::Created().json(view(&state, p).await?))
}

/// The organization's programmes
#[utoipa::path(
    tag = "public_health",
    params(("orgId" = Uuid, Path, description = "Organization id")),
    responses(
        (status = 200, description = "Programmes", body = ProgramsResponse),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "Not a member of the organization", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such organization", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[get("/orgs/{orgId}/programs")]
pub async fn org_programs(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<ProgramsResponse>> {
    let org_id = path.into_inner();
    crate::orgs::service::require_member(&state.db, &caller, org_id).await?;
    let mut items = Vec::new();
    for p in service::list(&state.db, Some(org_id)).await? {
        items.push(view(&state, p).await?);
    }
    Ok(web::Json(ProgramsResponse { items }))
}

/// Programmes residents can enrol in
#[utoipa::path(
    tag = "public_health",
    responses(
        (status = 200, description = "Every programme", body = ProgramsResponse),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[get("/programs")]
pub async fn programs(state: web::Data<AppState>, _caller: Caller) -> ApiResult<web::Json<ProgramsResponse>> {
    let mut items = Vec::new();
    for p in service::list(&state.db, None).await? {
        items.push(view(&state, p).await?);
    }
    Ok(web::Json(ProgramsResponse { items }))
}

#[derive(Debug, Default, Deserialize, ToSchema, validator::Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnrollRequest {
    /// Default: the caller's own record; a guardian names a dependent.
    pub person_id: Option<Uuid>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnrollmentView {
    pub enrollment_id: Uuid,
    pub program_id: Uuid,
    pub person_id: Uuid,
    /// The grant enrolment made (the programme's categories, read, `public_health`).
    pub grant_id: Uuid,
    pub created_at: DateTime<Utc>,
}

/// Enrol in a programme
///
/// By the resident (their own record by default) or a guardian: the
/// municipality's nurses may then read the programme's categories and write
/// guidance notes.
#[utoipa::path(
    tag = "public_health",
    params(("programId" = Uuid, Path, description = "Programme id")),
    request_body = EnrollRequest,
    responses(
        (status = 201, description = "Enrolled", body = EnrollmentView),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "Only the person and guardians enrol", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such programme or person", body = Problem, content_type = PROBLEM),
        (status = 409, description = "Already enrolled", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[post("/programs/{programId}/enrollments")]
pub async fn enroll(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: Json<EnrollRequest>,
) -> ApiResult<HttpResponse> {
    let prog = service::find(&state.db, path.into_inner()).await?;
    let person_id = match body.person_id {
        Some(p) => p,
        None => {
            <crate::entities::account::Entity as sea_orm::EntityTrait>::find_by_id(caller.account_id)
                .one(&state.db)
                .await
                .map_err(ApiError::from)?
                .ok_or(ApiError::Unauthorized { invalid: true })?
                .person_id
        }
    };
    let access =
        authorize(&state.db, &caller, person_id, Action::Write, Scope::Manage, "enrollments").await?;
    let e = service::enroll(&state.db, &prog, access.person_id, caller.account_id).await?;
    Ok(HttpResponse::Created().json(EnrollmentView {
        enrollment_id: e.id,
        program_id: e.program_id,
        person_id: e.person_id,
        grant_id: e.grant_id,
        created_at: e.created_at,
    }))
}

/// Leave a programme
///
/// At any moment, by the person or a guardian: the programme's grant is
/// revoked at once.
#[utoipa::path(
    tag = "public_health",
    params(("programId" = Uuid, Path, description = "Programme id"), ("personId" = Uuid, Path, description = "Person id")),
    responses(
        (status = 204, description = "Left"),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "Only the person and guardians", body = Problem, content_type = PROBLEM),
        (status = 404, description = "Not enrolled", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[delete("/programs/{programId}/enrollments/{personId}")]
pub async fn leave(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (program_id, person_id) = path.into_inner();
    let access =
        authorize(&state.db, &caller, person_id, Action::Write, Scope::Manage, "enrollments").await?;
    service::leave(&state.db, program_id, access.person_id).await?;
    state.changes.notify(access.person_id);
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ResidentsParams {
    /// `open`: only residents with open alerts.
    #[param(pattern = "^(open)?$")]
    pub alert: Option<String>,
    /// `lastUpload` (default: most recent first, never-uploaded last) or `name`.
    #[param(pattern = "^(lastUpload|name)?$")]
    pub sort: Option<String>,
    /// Page size, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
    #[param(min_length = 1)]
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResidentView {
    pub person_id: Uuid,
    pub display_name: String,
    #[schema(value_type = Option<String>)]
    pub birth_date: Option<NaiveDate>,
    pub sex: Option<String>,
    pub enrolled_at: DateTime<Utc>,
    pub last_upload: Option<DateTime<Utc>>,
    /// The latest observation of each kind in the programme's categories.
    pub latest: Vec<Observation>,
    pub open_alerts: Vec<AlertView>,
}

async fn require_staff(
    state: &AppState,
    caller: &Caller,
    prog: &program::Model,
    roles: &[OrgRole],
) -> Result<(), ApiError> {
    if service::has_role(&state.db, prog.org_id, caller.account_id, roles).await? {
        Ok(())
    } else {
        Err(ApiError::new(ErrorCode::Forbidden, "Only the programme's nurses see its residents."))
    }
}

async fn org_program(state: &AppState, org_id: Uuid, program_id: Uuid) -> Result<program::Model, ApiError> {
    let p = service::find(&state.db, program_id).await?;
    if p.org_id != org_id {
        return Err(ApiError::not_found("programme"));
    }
    Ok(p)
}

/// Enrolled residents
///
/// For the municipality's nurses: every resident enrolled now, with the
/// latest value of each programme kind, last upload and open alerts. Each
/// listing is written to every listed resident's access log.
#[utoipa::path(
    tag = "public_health",
    params(("orgId" = Uuid, Path, description = "Organization id"), ("programId" = Uuid, Path, description = "Programme id"), ResidentsParams),
    responses(
        (status = 200, description = "A page of residents", body = Page<ResidentView>),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "Not a nurse of the organization", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such programme", body = Problem, content_type = PROBLEM),
        (status = 422, description = "Bad filter, sort, limit or cursor", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[get("/orgs/{orgId}/programs/{programId}/residents")]
pub async fn residents(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
    q: web::Query<ResidentsParams>,
) -> ApiResult<web::Json<Page<ResidentView>>> {
    let (org_id, program_id) = path.into_inner();
    let mut errors = Vec::new();
    let only_alerts = match q.alert.as_deref() {
        None | Some("") => false,
        Some("open") => true,
        Some(_) => {
            errors.push(FieldError::new("alert", "must be open"));
            false
        }
    };
    let by_name = match q.sort.as_deref() {
        None | Some("") | Some("lastUpload") => false,
        Some("name") => true,
        Some(_) => {
            errors.push(FieldError::new("sort", "must be lastUpload or name"));
            false
        }
    };
    let limit = pagination::page_limit(q.limit).unwrap_or_else(|e| {
        errors.push(e);
        pagination::DEFAULT_LIMIT
    });
    let offset: usize = match q.cursor.as_deref().map(Cursor::decode::<usize>) {
        Some(Ok(o)) => o,
        Some(Err(_)) => {
            errors.push(FieldError::new("cursor", "is not a cursor this server issued"));
            0
        }
        None => 0,
    };
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let prog = org_program(&state, org_id, program_id).await?;
    require_staff(&state, &caller, &prog, &[OrgRole::Nurse]).await?;
    let categories = service::categories(&prog);
    let enrolled = service::active(&state.db, prog.id, None).await?;
    let ids: Vec<Uuid> = enrolled.iter().map(|e| e.person_id).collect();
    let uploads = service::last_uploads(&state.db, &ids).await?;
    let alerts = service::open_alerts(&state.db, &ids, &categories).await?;
    let people = service::persons(&state.db, &ids).await?;
    let mut rows: Vec<&crate::entities::enrollment::Model> = enrolled
        .iter()
        .filter(|e| !only_alerts || alerts.get(&e.person_id).is_some_and(|a| !a.is_empty()))
        .collect();
    if by_name {
        rows.sort_by(|a, b| {
            let name = |e: &crate::entities::enrollment::Model| {
                people.get(&e.person_id).map(|p| p.display_name.clone())
            };
            name(a).cmp(&name(b)).then(a.person_id.cmp(&b.person_id))
        });
    } else {
        rows.sort_by(|a, b| {
            let (ua, ub) = (uploads.get(&a.person_id), uploads.get(&b.person_id));
            ub.cmp(&ua).then(a.person_id.cmp(&b.person_id))
        });
    }
    let limit = usize::try_from(limit).unwrap_or(50);
    let more = rows.len() > offset + limit;
    let mut items = Vec::new();
    for e in rows.into_iter().skip(offset).take(limit) {
        // The nurse's read of each listed resident goes through the consent check and into their log.
        let access = authorize(
            &state.db,
            &caller,
            e.person_id,
            Action::Read,
            Scope::AnyOf(&Category::ALL),
            &format!("programs/{}/residents", prog.id),
        )
        .await?;
        let Some(p) = people.get(&e.person_id) else { continue };
        let latest = crate::observations::service::latest(&state.db, &access)
            .await?
            .into_iter()
            .filter(|o| o.category.parse::<Category>().is_ok_and(|c| categories.contains(&c)))
            .collect();
        items.push(ResidentView {
            person_id: p.id,
            display_name: p.display_name.clone(),
            birth_date: p.birth_date,
            sex: p.sex.clone(),
            enrolled_at: e.created_at,
            last_upload: uploads.get(&p.id).copied(),
            latest,
            open_alerts: alerts
                .get(&p.id)
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(AlertView::from)
                .collect(),
        });
    }
    let next_cursor = more.then(|| Cursor::encode(&(offset + limit)));
    Ok(web::Json(Page { items, next_cursor }))
}

/// Programme statistics
///
/// Enrolled count, share with an upload in the last 7 days and share with an
/// open alert from the programme's rules, in total and by age band and sex.
/// Any cell under 5 people is suppressed, and a lone suppressed cell takes
/// the next smallest with it so it cannot be worked out from the total.
#[utoipa::path(
    tag = "public_health",
    params(("orgId" = Uuid, Path, description = "Organization id"), ("programId" = Uuid, Path, description = "Programme id")),
    responses(
        (status = 200, description = "Statistics", body = stats::Stats),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "Not staff of the organization", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such programme", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[get("/orgs/{orgId}/programs/{programId}/stats")]
pub async fn program_stats(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<web::Json<stats::Stats>> {
    let (org_id, program_id) = path.into_inner();
    let prog = org_program(&state, org_id, program_id).await?;
    require_staff(&state, &caller, &prog, &[OrgRole::Nurse, OrgRole::Admin]).await?;
    let enrolled = service::active(&state.db, prog.id, None).await?;
    let ids: Vec<Uuid> = enrolled.iter().map(|e| e.person_id).collect();
    let uploads = service::last_uploads(&state.db, &ids).await?;
    let rule_ids: BTreeSet<Uuid> =
        service::rules_of(&state.db, prog.id).await?.into_iter().map(|r| r.id).collect();
    let alerts = service::open_alerts(&state.db, &ids, &service::categories(&prog)).await?;
    let people = service::persons(&state.db, &ids).await?;
    let now = Utc::now();
    let today = crate::clock::date_jst(now);
    let members: Vec<stats::Resident> = ids
        .iter()
        .filter_map(|id| people.get(id))
        .map(|p| {
            let age = p.birth_date.map(|b| {
                let mut a = today.year() - b.year();
                if (today.month(), today.day()) < (b.month(), b.day()) {
                    a -= 1;
                }
                a
            });
            stats::Resident {
                age_band: stats::age_band(age).to_owned(),
                sex: match p.sex.as_deref() {
                    Some("male") => "male",
                    Some("female") => "female",
                    _ => "unknown",
                }
                .to_owned(),
                recent_upload: uploads.get(&p.id).is_some_and(|t| now - *t <= Duration::days(7)),
                above_threshold: alerts
                    .get(&p.id)
                    .is_some_and(|a| a.iter().any(|a| rule_ids.contains(&a.rule_id))),
            }
        })
        .collect();
    Ok(web::Json(stats::compute(&members)))
}

fn note_category() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
    crate::http::schema::one_of(&["guidance", "diary"])
}

#[derive(Debug, Deserialize, ToSchema, validator::Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NoteRequest {
    #[validate(length(min = 1, max = 4000))]
    #[schema(min_length = 1, max_length = 4000)]
    pub text: String,
    /// `guidance` (a programme nurse to the resident) or `diary` (the person's own).
    #[schema(schema_with = note_category)]
    pub category: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NoteView {
    pub note_id: Uuid,
    pub person_id: Uuid,
    pub category: String,
    pub text: String,
    pub author_account_id: Uuid,
    /// The municipality a guidance note came from.
    pub author_org_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

impl From<note::Model> for NoteView {
    fn from(n: note::Model) -> Self {
        NoteView {
            note_id: n.id,
            person_id: n.person_id,
            category: n.category,
            text: n.text,
            author_account_id: n.author_account_id,
            author_org_id: n.author_org_id,
            created_at: n.created_at,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct NotesResponse {
    pub items: Vec<NoteView>,
}

/// Write a note
///
/// `guidance` by a nurse of a municipality whose programme the person is
/// enrolled in (the person is notified); `diary` by the person or a guardian.
#[utoipa::path(
    tag = "public_health",
    params(("personId" = Uuid, Path, description = "Person id")),
    request_body = NoteRequest,
    responses(
        (status = 201, description = "The note", body = NoteView),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "Not allowed to write this kind of note here", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such person visible to the caller", body = Problem, content_type = PROBLEM),
        (status = 422, description = "Invalid field", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[post("/persons/{personId}/notes")]
pub async fn write_note(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: Json<NoteRequest>,
) -> ApiResult<HttpResponse> {
    let person_id = path.into_inner();
    let b = body.0;
    if b.text.trim().is_empty() {
        return Err(ApiError::field("text", "must not be blank"));
    }
    let n = match b.category.as_str() {
        "diary" => {
            let access =
                authorize(&state.db, &caller, person_id, Action::Write, Scope::Manage, "notes").await?;
            notes::add(&state.db, access.person_id, "diary", b.text, caller.account_id, None).await?
        }
        "guidance" => {
            let access =
                authorize(&state.db, &caller, person_id, Action::Read, Scope::AnyOf(&Category::ALL), "notes")
                    .await?;
            let orgs = service::nursing_orgs(&state.db, caller.account_id, access.person_id).await?;
            let Some(org) = orgs.into_iter().next() else {
                return Err(ApiError::new(
                    ErrorCode::Forbidden,
                    "Guidance notes are written by nurses of a programme the person is enrolled in.",
                ));
            };
            let txn = crate::db::begin_write(&state.db).await?;
            let n =
                notes::add(&txn, access.person_id, "guidance", b.text, caller.account_id, Some(org)).await?;
            let told = crate::consent::policy::controllers(&txn, access.person_id).await?;
            crate::notify::emit(
                &txn,
                crate::notify::Event::new(
                    crate::notify::EventKind::GuidanceNote,
                    Some(access.person_id),
                    told,
                )
                .with("noteId", n.id),
            )
            .await?;
            txn.commit().await?;
            n
        }
        _ => return Err(ApiError::field("category", "must be guidance or diary")),
    };
    Ok(HttpResponse::Created().json(NoteView::from(n)))
}

/// Notes on the record
///
/// All notes for the person, guardians and grantees who read `notes`; a
/// programme nurse sees the guidance notes of their municipality.
#[utoipa::path(
    tag = "public_health",
    params(("personId" = Uuid, Path, description = "Person id")),
    responses(
        (status = 200, description = "Notes, newest first", body = NotesResponse),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "No access to notes", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such person visible to the caller", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[get("/persons/{personId}/notes")]
pub async fn list_notes(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<NotesResponse>> {
    let access =
        authorize(&state.db, &caller, path.into_inner(), Action::Read, Scope::AnyOf(&Category::ALL), "notes")
            .await?;
    let rows = if access.controls() || access.categories.contains(&Category::Notes) {
        notes::list(&state.db, access.person_id, None).await?
    } else {
        let orgs = service::nursing_orgs(&state.db, caller.account_id, access.person_id).await?;
        if orgs.is_empty() {
            return Err(ApiError::new(ErrorCode::Forbidden, "Notes are not shared with you."));
        }
        notes::list(&state.db, access.person_id, Some(&orgs)).await?
    };
    Ok(web::Json(NotesResponse { items: rows.into_iter().map(NoteView::from).collect() }))
}
