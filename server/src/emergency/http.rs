//! `/v1/persons/{personId}/cards`, `/emergency-settings`, `/emergency-accesses`,
//! and `POST /v1/emergency/access`.

use std::collections::BTreeSet;

use actix_web::{HttpResponse, delete, get, post, put, web};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use super::service::{self, Contact, PARTS};

fn parts_schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
    crate::http::schema::array_of(&PARTS, 0)
}
use crate::auth::Caller;
use crate::category::Category;
use crate::consent::policy::{Access, Relationship};
use crate::consent::{Action, Scope, authorize};
use crate::entities::{card, lab_result, person};
use crate::error::{ApiError, ApiResult, ErrorCode, FieldError, Problem};
use crate::http::Json;
use crate::notify::{Event, EventKind, emit};
use crate::observations::model::Observation;
use crate::startup::AppState;

const PROBLEM: &str = "application/problem+json";

#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CardRequest {
    /// The card's UID as the reader gives it (hex, separators allowed): 4, 7 or 10
    /// bytes. Stored only as a keyed hash.
    #[schema(
        example = "04:A2:3B:C1:5D:80:11",
        pattern = "^[:\\- ]*(?:[0-9A-Fa-f][:\\- ]*[0-9A-Fa-f][:\\- ]*){4,10}$"
    )]
    pub card_uid: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CardView {
    pub card_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub retired_at: Option<DateTime<Utc>>,
}

impl From<card::Model> for CardView {
    fn from(c: card::Model) -> Self {
        CardView { card_id: c.id, created_at: c.created_at, retired_at: c.retired_at }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CardsResponse {
    pub items: Vec<CardView>,
}

/// Register an IC card
///
/// By the person or a guardian. The UID is kept only as a keyed hash.
#[utoipa::path(
    tag = "emergency",
    params(("personId" = Uuid, Path, description = "Person id")),
    request_body = CardRequest,
    responses(
        (status = 201, description = "Registered", body = CardView),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "Only the person and guardians", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such person visible to the caller", body = Problem, content_type = PROBLEM),
        (status = 409, description = "The card is registered already", body = Problem, content_type = PROBLEM),
        (status = 422, description = "Not a card UID", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[post("/persons/{personId}/cards")]
pub async fn register_card(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: Json<CardRequest>,
) -> ApiResult<HttpResponse> {
    let access =
        authorize(&state.db, &caller, path.into_inner(), Action::Write, Scope::Manage, "cards").await?;
    let c = service::register_card(
        &state.db,
        &state.card_key,
        access.person_id,
        &body.card_uid,
        caller.account_id,
    )
    .await?;
    Ok(HttpResponse::Created().json(CardView::from(c)))
}

/// The person's IC cards
#[utoipa::path(
    tag = "emergency",
    params(("personId" = Uuid, Path, description = "Person id")),
    responses(
        (status = 200, description = "Cards, retired ones included", body = CardsResponse),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "Only the person and guardians", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such person visible to the caller", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[get("/persons/{personId}/cards")]
pub async fn list_cards(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<CardsResponse>> {
    let access =
        authorize(&state.db, &caller, path.into_inner(), Action::Read, Scope::Manage, "cards").await?;
    let items = service::cards(&state.db, access.person_id).await?.into_iter().map(CardView::from).collect();
    Ok(web::Json(CardsResponse { items }))
}

/// Retire an IC card
///
/// A lost card opens nothing from now on.
#[utoipa::path(
    tag = "emergency",
    params(("personId" = Uuid, Path, description = "Person id"), ("cardId" = Uuid, Path, description = "Card id")),
    responses(
        (status = 204, description = "Retired"),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "Only the person and guardians", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such active card", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[delete("/persons/{personId}/cards/{cardId}")]
pub async fn retire_card(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (person_id, card_id) = path.into_inner();
    let access = authorize(&state.db, &caller, person_id, Action::Write, Scope::Manage, "cards").await?;
    service::retire_card(&state.db, access.person_id, card_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Serialize, Deserialize, ToSchema, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EmergencySettings {
    /// Whether a card opens the emergency dataset at all (default true).
    pub enabled: bool,
    /// Parts of the dataset: `allergies`, `medications`, `conditions`,
    /// `blood_type`, `vitals` (default: all but `vitals`).
    #[schema(schema_with = parts_schema)]
    pub categories: Vec<String>,
    /// Who to call (at most 5).
    #[serde(default)]
    #[validate(length(max = 5), nested)]
    #[schema(max_items = 5)]
    pub contacts: Vec<Contact>,
}

/// The person's emergency settings
#[utoipa::path(
    tag = "emergency",
    params(("personId" = Uuid, Path, description = "Person id")),
    responses(
        (status = 200, description = "Settings (defaults if never saved)", body = EmergencySettings),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "Only the person and guardians", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such person visible to the caller", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[get("/persons/{personId}/emergency-settings")]
pub async fn get_settings(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<EmergencySettings>> {
    let access =
        authorize(&state.db, &caller, path.into_inner(), Action::Read, Scope::Manage, "emergency-settings")
            .await?;
    let s = service::settings(&state.db, access.person_id).await?;
    Ok(web::Json(EmergencySettings {
        enabled: s.enabled,
        categories: s.parts.into_iter().collect(),
        contacts: s.contacts,
    }))
}

/// Set what emergency access opens
///
/// Narrow the dataset, add emergency contacts, or switch emergency access off.
#[utoipa::path(
    tag = "emergency",
    params(("personId" = Uuid, Path, description = "Person id")),
    request_body = EmergencySettings,
    responses(
        (status = 200, description = "Saved", body = EmergencySettings),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "Only the person and guardians", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such person visible to the caller", body = Problem, content_type = PROBLEM),
        (status = 422, description = "Invalid field", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[put("/persons/{personId}/emergency-settings")]
pub async fn put_settings(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: Json<EmergencySettings>,
) -> ApiResult<web::Json<EmergencySettings>> {
    let access =
        authorize(&state.db, &caller, path.into_inner(), Action::Write, Scope::Manage, "emergency-settings")
            .await?;
    let b = body.0;
    let bad: Vec<&String> = b.categories.iter().filter(|c| !PARTS.contains(&c.as_str())).collect();
    if !bad.is_empty() {
        return Err(ApiError::validation(vec![FieldError::new(
            "categories",
            format!("unknown {bad:?}; expected some of {}", PARTS.join(", ")),
        )]));
    }
    let s = service::Settings {
        enabled: b.enabled,
        parts: b.categories.into_iter().collect(),
        contacts: b.contacts.into_iter().map(|c| Contact { name: c.name.trim().to_owned(), ..c }).collect(),
    };
    service::save_settings(&state.db, access.person_id, &s).await?;
    Ok(web::Json(EmergencySettings {
        enabled: s.enabled,
        categories: s.parts.into_iter().collect(),
        contacts: s.contacts,
    }))
}

#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EmergencyRequest {
    pub card_uid: String,
    /// Why the record is opened; shown to the person in their access log.
    #[validate(length(min = 1, max = 500))]
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EmergencyDrug {
    pub name: String,
    pub amount: Option<String>,
    pub unit: Option<String>,
    pub usage: Option<String>,
    /// `pharmacy` (a dispensing) or `hospital` (a prescription in the last 90 days).
    pub source: String,
    #[schema(value_type = Option<String>)]
    pub since: Option<NaiveDate>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EmergencyDataset {
    /// This access, as the person will see it.
    pub access_id: Uuid,
    pub person_id: Uuid,
    pub name: String,
    pub name_kana: Option<String>,
    #[schema(value_type = Option<String>)]
    pub birth_date: Option<NaiveDate>,
    pub sex: Option<String>,
    /// ABO (and Rh where sent) from the latest facility result; absent when not allowed or unknown.
    pub blood_type: Option<String>,
    pub allergies: Vec<String>,
    pub medications: Vec<EmergencyDrug>,
    pub conditions: Vec<String>,
    pub contacts: Vec<Contact>,
    /// Latest vital signs, when the person allows `vitals`.
    pub latest_vitals: Vec<Observation>,
}

/// Open a record in an emergency
///
/// By a clinician member of a hospital or clinic: the minimum emergency
/// dataset of the card's holder, within the holder's settings. Logged in the
/// holder's access log with purpose `emergency` and the reason; the holder,
/// guardians and family are notified at high priority. At most
/// `PHR_EMERGENCY_PER_HOUR` attempts per clinician per hour.
#[utoipa::path(
    tag = "emergency",
    request_body = EmergencyRequest,
    responses(
        (status = 200, description = "The emergency dataset", body = EmergencyDataset),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "Not a clinician of a hospital or clinic, or the holder switched emergency access off", body = Problem, content_type = PROBLEM),
        (status = 404, description = "Unknown or retired card", body = Problem, content_type = PROBLEM),
        (status = 422, description = "Invalid field", body = Problem, content_type = PROBLEM),
        (status = 429, description = "Too many attempts", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[post("/emergency/access")]
pub async fn open_record(
    state: web::Data<AppState>,
    caller: Caller,
    body: Json<EmergencyRequest>,
) -> ApiResult<web::Json<EmergencyDataset>> {
    let b = body.0;
    if b.reason.trim().is_empty() {
        return Err(ApiError::field("reason", "must not be blank"));
    }
    let org = service::clinician_org(&state.db, caller.account_id).await?.ok_or_else(|| {
        ApiError::new(ErrorCode::Forbidden, "Emergency access is for clinicians of a hospital or clinic.")
    })?;
    // Every attempt counts, found or not: the limit also stops card-UID guessing.
    state
        .limits
        .hit(
            &format!("emergency:{}", caller.account_id),
            state.settings.emergency_per_hour,
            std::time::Duration::from_secs(3600),
        )
        .map_err(ApiError::RateLimited)?;
    let uid = service::normalize_uid(&b.card_uid)
        .ok_or_else(|| ApiError::field("cardUid", "must be the card's UID in hex: 4, 7 or 10 bytes"))?;
    let hash = service::uid_hash(&state.card_key, &uid)?;
    let card = service::find_card(&state.db, &hash).await?.ok_or_else(|| ApiError::not_found("card"))?;
    let settings = service::settings(&state.db, card.person_id).await?;
    if !settings.enabled {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "The card holder has switched emergency access off.",
        ));
    }
    let p = person::Entity::find_by_id(card.person_id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found("card"))?;
    let parts = &settings.parts;
    let reason = b.reason.trim().to_owned();

    // Record, log and tell first: the dataset is only shown once all of that is written.
    let txn = crate::db::begin_write(&state.db).await?;
    let a = service::record_access(&txn, p.id, card.id, caller.account_id, org.id, &reason).await?;
    let mut told = crate::consent::policy::controllers(&txn, p.id).await?;
    told.extend(service::family(&txn, p.id).await?);
    emit(
        &txn,
        Event::new(EventKind::EmergencyAccess, Some(p.id), told)
            .with("emergencyAccessId", a.id)
            .with("orgId", org.id),
    )
    .await?;
    txn.commit().await?;
    let mut categories: BTreeSet<Category> = BTreeSet::new();
    for (part, c) in [
        ("allergies", Category::Allergies),
        ("medications", Category::Medications),
        ("conditions", Category::Conditions),
        ("blood_type", Category::Labs),
        ("vitals", Category::Vitals),
    ] {
        if parts.contains(part) {
            categories.insert(c);
        }
    }
    crate::consent::audit::append_with_reason(
        &state.db,
        crate::consent::audit::NewEntry {
            person_id: p.id,
            actor_account_id: Some(caller.account_id),
            actor_org_id: Some(org.id),
            action: "read",
            resource: "emergency",
            categories: &categories,
            purpose: Some("emergency"),
        },
        Some(&reason),
    )
    .await?;
    state.changes.notify(p.id);

    let facts_of = |c: Category| {
        let db = state.db.clone();
        let person_id = p.id;
        async move {
            crate::medications::service::facts(&db, person_id, &[c].into())
                .await
                .map(|v| v.into_iter().map(|f| f.text).collect::<Vec<_>>())
        }
    };
    let allergies = if parts.contains("allergies") { facts_of(Category::Allergies).await? } else { vec![] };
    let conditions =
        if parts.contains("conditions") { facts_of(Category::Conditions).await? } else { vec![] };
    let mut medications = Vec::new();
    if parts.contains("medications") {
        let today = crate::clock::today_jst();
        let current = crate::medications::service::current(&state.db, p.id, today).await?;
        for d in current.regular.into_iter().chain(current.as_needed).chain(current.external) {
            medications.push(EmergencyDrug {
                name: d.name,
                amount: d.amount,
                unit: d.unit,
                usage: d.usage,
                source: "pharmacy".into(),
                since: Some(d.dispensed_on),
            });
        }
        for rx in crate::clinical::service::prescriptions(&state.db, p.id).await? {
            if rx.prescribed_on.is_some_and(|d| today - d <= Duration::days(90)) {
                medications.push(EmergencyDrug {
                    name: rx.drug_name,
                    amount: rx.dose.map(|d| d.to_string()),
                    unit: rx.dose_unit,
                    usage: rx.usage_text,
                    source: "hospital".into(),
                    since: rx.prescribed_on,
                });
            }
        }
    }
    let blood_type = if parts.contains("blood_type") {
        lab_result::Entity::find()
            .filter(lab_result::Column::PersonId.eq(p.id))
            .filter(lab_result::Column::Analyte.eq("5H010"))
            .order_by_desc(lab_result::Column::ObservedAt)
            .one(&state.db)
            .await?
            .map(|r| r.value)
    } else {
        None
    };
    let latest_vitals = if parts.contains("vitals") {
        let vitals = Access {
            person_id: p.id,
            account_id: caller.account_id,
            relationship: Relationship::Grantee,
            categories: [Category::Vitals].into(),
            time_zone: p.time_zone.clone(),
        };
        crate::observations::service::latest(&state.db, &vitals).await?
    } else {
        vec![]
    };
    Ok(web::Json(EmergencyDataset {
        access_id: a.id,
        person_id: p.id,
        name: p.display_name,
        name_kana: p.name_kana,
        birth_date: p.birth_date,
        sex: p.sex,
        blood_type,
        allergies,
        medications,
        conditions,
        contacts: settings.contacts,
        latest_vitals,
    }))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EmergencyAccessView {
    pub access_id: Uuid,
    pub card_id: Uuid,
    pub clinician_account_id: Uuid,
    pub org_id: Uuid,
    pub org_name: Option<String>,
    pub reason: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EmergencyAccessesResponse {
    pub items: Vec<EmergencyAccessView>,
}

/// Emergency openings of the record
#[utoipa::path(
    tag = "emergency",
    params(("personId" = Uuid, Path, description = "Person id")),
    responses(
        (status = 200, description = "Newest first", body = EmergencyAccessesResponse),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = PROBLEM),
        (status = 403, description = "Only the person and guardians", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such person visible to the caller", body = Problem, content_type = PROBLEM),
    ),
    security(("bearer" = []))
)]
#[get("/persons/{personId}/emergency-accesses")]
pub async fn list_accesses(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<EmergencyAccessesResponse>> {
    let access =
        authorize(&state.db, &caller, path.into_inner(), Action::Read, Scope::Manage, "emergency-accesses")
            .await?;
    let mut items = Vec::new();
    for a in service::accesses(&state.db, access.person_id).await? {
        let org = crate::orgs::store::find(&state.db, a.org_id).await?;
        items.push(EmergencyAccessView {
            access_id: a.id,
            card_id: a.card_id,
            clinician_account_id: a.clinician_account_id,
            org_id: a.org_id,
            org_name: org.map(|o| o.name),
            reason: a.reason,
            at: a.created_at,
        });
    }
    Ok(web::Json(EmergencyAccessesResponse { items }))
}
