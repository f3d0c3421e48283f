//! Programmes, enrolment and the nurses' view of enrolled residents.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use uuid::Uuid;

use crate::alerts::service::NewRule;
use crate::category::Category;
use crate::consent::model::{AccessLevel, OrgKind, OrgRole, Purpose, categories_from_csv, categories_to_csv};
use crate::consent::policy::in_force;
use crate::db::begin_write;
use crate::entities::{alert, alert_rule, enrollment, grant, observation, organization, person, program};
use crate::error::{ApiError, ErrorCode};

pub struct NewProgram {
    pub name: String,
    pub description: String,
    pub categories: BTreeSet<Category>,
    pub rules: Vec<NewRule>,
}

/// Creates a programme and its alert rules (organization rules tagged with it).
pub async fn create(
    db: &DatabaseConnection,
    org_id: Uuid,
    by: Uuid,
    p: NewProgram,
) -> Result<(program::Model, Vec<alert_rule::Model>), ApiError> {
    let org = organization::Entity::find_by_id(org_id)
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found("organization"))?;
    if org.kind != OrgKind::Municipality.as_str() {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "Public-health programmes are run by municipalities.",
        ));
    }
    let txn = begin_write(db).await?;
    let prog = program::ActiveModel::from(program::Model {
        id: Uuid::now_v7(),
        org_id,
        name: p.name,
        description: p.description,
        categories: categories_to_csv(&p.categories),
        purpose: Purpose::PublicHealth.as_str().into(),
        created_by: by,
        created_at: Utc::now(),
    })
    .insert(&txn)
    .await?;
    let mut rules = Vec::new();
    for mut r in p.rules {
        r.program_id = Some(prog.id);
        rules.push(crate::alerts::service::create(&txn, (None, Some(org_id)), by, r).await?);
    }
    txn.commit().await?;
    Ok((prog, rules))
}

pub async fn find(db: &impl ConnectionTrait, id: Uuid) -> Result<program::Model, ApiError> {
    program::Entity::find_by_id(id).one(db).await?.ok_or_else(|| ApiError::not_found("programme"))
}

pub async fn rules_of(
    db: &impl ConnectionTrait,
    program_id: Uuid,
) -> Result<Vec<alert_rule::Model>, ApiError> {
    Ok(alert_rule::Entity::find()
        .filter(alert_rule::Column::ProgramId.eq(program_id))
        .order_by_asc(alert_rule::Column::CreatedAt)
        .all(db)
        .await?)
}

pub async fn list(db: &impl ConnectionTrait, org_id: Option<Uuid>) -> Result<Vec<program::Model>, ApiError> {
    let mut q = program::Entity::find();
    if let Some(o) = org_id {
        q = q.filter(program::Column::OrgId.eq(o));
    }
    Ok(q.order_by_asc(program::Column::CreatedAt).all(db).await?)
}

/// The enrolment of the person in the programme that is in force: not left,
/// and its grant neither revoked nor expired.
pub async fn active_enrollment(
    db: &impl ConnectionTrait,
    program_id: Uuid,
    person_id: Uuid,
) -> Result<Option<enrollment::Model>, ApiError> {
    Ok(active(db, program_id, Some(person_id)).await?.into_iter().next())
}

/// Enrolments in force, oldest first.
pub async fn active(
    db: &impl ConnectionTrait,
    program_id: Uuid,
    person_id: Option<Uuid>,
) -> Result<Vec<enrollment::Model>, ApiError> {
    let mut q = enrollment::Entity::find()
        .filter(enrollment::Column::ProgramId.eq(program_id))
        .filter(enrollment::Column::LeftAt.is_null());
    if let Some(p) = person_id {
        q = q.filter(enrollment::Column::PersonId.eq(p));
    }
    let rows = q.order_by_asc(enrollment::Column::CreatedAt).all(db).await?;
    let grants: BTreeMap<Uuid, grant::Model> = grant::Entity::find()
        .filter(grant::Column::Id.is_in(rows.iter().map(|e| e.grant_id).collect::<Vec<_>>()))
        .all(db)
        .await?
        .into_iter()
        .map(|g| (g.id, g))
        .collect();
    let now = Utc::now();
    Ok(rows.into_iter().filter(|e| grants.get(&e.grant_id).is_some_and(|g| in_force(g, now))).collect())
}

/// Enrols the person: an org grant for the programme's categories, read only,
/// purpose `public_health`.
pub async fn enroll(
    db: &DatabaseConnection,
    prog: &program::Model,
    person_id: Uuid,
    by: Uuid,
) -> Result<enrollment::Model, ApiError> {
    let txn = begin_write(db).await?;
    if active_enrollment(&txn, prog.id, person_id).await?.is_some() {
        return Err(ApiError::new(ErrorCode::Conflict, "The person is already enrolled in this programme."));
    }
    let now = Utc::now();
    let g = crate::consent::store::insert_grant(
        &txn,
        grant::Model {
            id: Uuid::now_v7(),
            person_id,
            grantee_account_id: None,
            grantee_org_id: Some(prog.org_id),
            categories: prog.categories.clone(),
            access: AccessLevel::Read.as_str().into(),
            purpose: Purpose::PublicHealth.as_str().into(),
            starts_at: None,
            expires_at: None,
            revoked_at: None,
            created_by: by,
            created_at: now,
            updated_at: now,
        },
    )
    .await?;
    let e = enrollment::ActiveModel::from(enrollment::Model {
        id: Uuid::now_v7(),
        program_id: prog.id,
        person_id,
        grant_id: g.id,
        enrolled_by: by,
        created_at: now,
        left_at: None,
    })
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok(e)
}

/// Leaves the programme: the grant is revoked in the same transaction, so the
/// very next request by a nurse no longer sees the person.
pub async fn leave(db: &DatabaseConnection, program_id: Uuid, person_id: Uuid) -> Result<(), ApiError> {
    let txn = begin_write(db).await?;
    let e = active_enrollment(&txn, program_id, person_id)
        .await?
        .ok_or_else(|| ApiError::not_found("enrolment"))?;
    let now = Utc::now();
    crate::consent::store::revoke_grant(&txn, e.grant_id, now).await?;
    let mut a: enrollment::ActiveModel = e.into();
    a.left_at = Set(Some(now));
    a.update(&txn).await?;
    txn.commit().await?;
    Ok(())
}

/// Whether the caller is a member of `org_id` in one of `roles`.
pub async fn has_role(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    account_id: Uuid,
    roles: &[OrgRole],
) -> Result<bool, ApiError> {
    Ok(crate::orgs::store::roles(db, org_id, account_id)
        .await?
        .iter()
        .any(|r| r.parse::<OrgRole>().is_ok_and(|r| roles.contains(&r))))
}

/// The organizations where the caller is a nurse and the person is enrolled
/// in one of their programmes now.
pub async fn nursing_orgs(
    db: &impl ConnectionTrait,
    account_id: Uuid,
    person_id: Uuid,
) -> Result<BTreeSet<Uuid>, ApiError> {
    let grants: BTreeMap<Uuid, grant::Model> = grant::Entity::find()
        .filter(grant::Column::PersonId.eq(person_id))
        .filter(grant::Column::Purpose.eq(Purpose::PublicHealth.as_str()))
        .all(db)
        .await?
        .into_iter()
        .map(|g| (g.id, g))
        .collect();
    let now = Utc::now();
    let mut out = BTreeSet::new();
    for e in enrollment::Entity::find()
        .filter(enrollment::Column::PersonId.eq(person_id))
        .filter(enrollment::Column::LeftAt.is_null())
        .all(db)
        .await?
    {
        // An enrolment counts while its grant is in force (as in `active`).
        if !grants.get(&e.grant_id).is_some_and(|g| in_force(g, now)) {
            continue;
        }
        let Some(p) = program::Entity::find_by_id(e.program_id).one(db).await? else { continue };
        if has_role(db, p.org_id, account_id, &[OrgRole::Nurse]).await? {
            out.insert(p.org_id);
        }
    }
    Ok(out)
}

/// Per person: when they last uploaded an observation.
pub async fn last_uploads(
    db: &impl ConnectionTrait,
    persons: &[Uuid],
) -> Result<BTreeMap<Uuid, DateTime<Utc>>, ApiError> {
    if persons.is_empty() {
        return Ok(BTreeMap::new());
    }
    let rows: Vec<(Uuid, Option<DateTime<Utc>>)> = observation::Entity::find()
        .select_only()
        .column(observation::Column::PersonId)
        .column_as(observation::Column::CreatedAt.max(), "last")
        .filter(observation::Column::PersonId.is_in(persons.to_vec()))
        .filter(observation::Column::DeletedAt.is_null())
        .group_by(observation::Column::PersonId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().filter_map(|(p, t)| t.map(|t| (p, t))).collect())
}

/// Per person: open alerts in the given categories.
pub async fn open_alerts(
    db: &impl ConnectionTrait,
    persons: &[Uuid],
    categories: &BTreeSet<Category>,
) -> Result<BTreeMap<Uuid, Vec<alert::Model>>, ApiError> {
    if persons.is_empty() {
        return Ok(BTreeMap::new());
    }
    let mut out: BTreeMap<Uuid, Vec<alert::Model>> = BTreeMap::new();
    for a in alert::Entity::find()
        .filter(alert::Column::PersonId.is_in(persons.to_vec()))
        .filter(alert::Column::Status.eq("open"))
        .filter(alert::Column::Category.is_in(categories.iter().map(|c| c.as_str())))
        .order_by_desc(alert::Column::Id)
        .all(db)
        .await?
    {
        out.entry(a.person_id).or_default().push(a);
    }
    Ok(out)
}

pub async fn persons(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<BTreeMap<Uuid, person::Model>, ApiError> {
    Ok(person::Entity::find()
        .filter(person::Column::Id.is_in(ids.to_vec()))
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.id, p))
        .collect())
}

pub fn categories(p: &program::Model) -> BTreeSet<Category> {
    categories_from_csv(&p.categories)
}
