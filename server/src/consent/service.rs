//! Consent rules: who may grant what to whom, invitation codes, dependents and
//! guardians, and what each caller can reach.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rand::Rng;
use sea_orm::{ActiveModelTrait, ConnectionTrait, DatabaseConnection, EntityTrait};
use uuid::Uuid;

use super::model::{AccessLevel, GrantStatus, OrgKind, Purpose, categories_from_csv, categories_to_csv};
use super::policy::{self, Access, Reach};
use super::store;
use crate::auth::Caller;
use crate::category::Category;
use crate::db::begin_write;
use crate::entities::{account, grant, invitation, organization, person, share_code, transfer};
use crate::error::{ApiError, ErrorCode, FieldError};
use crate::notify::{Event, EventKind, emit};

pub const INVITATION_DAYS: i64 = 7;
/// Crockford's base32: no I, L, O or U, so codes survive being read aloud.
const CODE_ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

pub enum Grantee {
    Account(Uuid),
    Org(Uuid),
}

pub struct GrantInput {
    pub grantee: Grantee,
    pub categories: BTreeSet<Category>,
    pub access: AccessLevel,
    pub purpose: Purpose,
    pub starts_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
}

pub fn status(g: &grant::Model, now: DateTime<Utc>) -> GrantStatus {
    if g.revoked_at.is_some() {
        GrantStatus::Revoked
    } else if g.expires_at.is_some_and(|e| e <= now) {
        GrantStatus::Expired
    } else if g.starts_at.is_some_and(|s| s > now) {
        GrantStatus::Pending
    } else {
        GrantStatus::Active
    }
}

fn check_window(
    starts_at: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(e) = expires_at {
        if e <= now {
            errors.push(FieldError::new("expiresAt", "must be in the future"));
        }
        if starts_at.is_some_and(|s| s >= e) {
            errors.push(FieldError::new("expiresAt", "must be after startsAt"));
        }
    }
    errors
}

/// A grant from the person (or a guardian) to an account or organisation.
pub async fn create_grant(
    db: &DatabaseConnection,
    access: &Access,
    input: GrantInput,
) -> Result<grant::Model, ApiError> {
    let now = Utc::now();
    let mut errors = check_window(input.starts_at, input.expires_at, now);
    let (account_id, org_id) = match input.grantee {
        Grantee::Account(id) => {
            let target = account::Entity::find_by_id(id).one(db).await?;
            match target {
                None => errors.push(FieldError::new("grantee/accountId", "no such account")),
                Some(a) if a.person_id == access.person_id => {
                    errors.push(FieldError::new("grantee/accountId", "is the person's own account"))
                }
                Some(_) => {}
            }
            (Some(id), None)
        }
        Grantee::Org(id) => {
            if organization::Entity::find_by_id(id).one(db).await?.is_none() {
                errors.push(FieldError::new("grantee/orgId", "no such organization"));
            }
            if input.purpose.acting_roles().is_empty() {
                errors.push(FieldError::new(
                    "purpose",
                    "an organization cannot hold a grant for family purposes",
                ));
            }
            (None, Some(id))
        }
    };
    if input.categories.is_empty() {
        errors.push(FieldError::new("categories", "must name at least one category"));
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let row = grant::Model {
        id: Uuid::now_v7(),
        person_id: access.person_id,
        grantee_account_id: account_id,
        grantee_org_id: org_id,
        categories: categories_to_csv(&input.categories),
        access: input.access.as_str().to_owned(),
        purpose: input.purpose.as_str().to_owned(),
        starts_at: input.starts_at,
        expires_at: input.expires_at,
        revoked_at: None,
        created_by: access.account_id,
        created_at: now,
        updated_at: now,
    };
    let txn = begin_write(db).await?;
    let g = store::insert_grant(&txn, row).await?;
    if let Some(a) = g.grantee_account_id {
        emit(&txn, Event::new(EventKind::GrantCreated, Some(g.person_id), [a].into()).with("grantId", g.id))
            .await?;
    }
    txn.commit().await?;
    tracing::info!(person.id = %g.person_id, grant.id = %g.id, "grant created");
    Ok(g)
}

pub async fn revoke_grant(db: &DatabaseConnection, access: &Access, grant_id: Uuid) -> Result<(), ApiError> {
    let txn = begin_write(db).await?;
    let g = store::find_grant(&txn, access.person_id, grant_id)
        .await?
        .ok_or_else(|| ApiError::not_found("grant"))?;
    store::revoke_grant(&txn, grant_id, Utc::now()).await?;
    if let (Some(a), None) = (g.grantee_account_id, g.revoked_at) {
        emit(&txn, Event::new(EventKind::GrantRevoked, Some(g.person_id), [a].into()).with("grantId", g.id))
            .await?;
    }
    txn.commit().await?;
    tracing::info!(person.id = %access.person_id, grant.id = %grant_id, "grant revoked");
    Ok(())
}

fn new_code() -> String {
    let mut rng = rand::rngs::OsRng;
    let raw: String = (0..10).map(|_| CODE_ALPHABET[rng.gen_range(0..CODE_ALPHABET.len())] as char).collect();
    format!("{}-{}", &raw[..5], &raw[5..])
}

/// Upper-case, separators dropped, and the letters people confuse with digits mapped.
pub fn normalize_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        })
        .collect()
}

fn code_hash(code: &str) -> String {
    crate::hash::sha256_hex(normalize_code(code))
}

pub struct NewInvitation {
    pub id: Uuid,
    pub code: String,
    pub expires_at: DateTime<Utc>,
}

pub async fn create_invitation(
    db: &DatabaseConnection,
    access: &Access,
    categories: BTreeSet<Category>,
    level: AccessLevel,
    purpose: Purpose,
    grant_expires_at: Option<DateTime<Utc>>,
) -> Result<NewInvitation, ApiError> {
    let now = Utc::now();
    let mut errors = check_window(None, grant_expires_at, now);
    if categories.is_empty() {
        errors.push(FieldError::new("categories", "must name at least one category"));
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let code = new_code();
    let expires_at = now + Duration::days(INVITATION_DAYS);
    let id = Uuid::now_v7();
    let txn = begin_write(db).await?;
    store::insert_invitation(
        &txn,
        invitation::Model {
            id,
            person_id: access.person_id,
            code_hash: code_hash(&code),
            categories: categories_to_csv(&categories),
            access: level.as_str().to_owned(),
            purpose: purpose.as_str().to_owned(),
            grant_expires_at,
            expires_at,
            created_by: access.account_id,
            created_at: now,
            accepted_at: None,
            accepted_by: None,
            grant_id: None,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(NewInvitation { id, code, expires_at })
}

/// Redeems an invitation code: the caller becomes the grantee. Single use.
pub async fn accept_invitation(
    db: &DatabaseConnection,
    caller: &Caller,
    code: &str,
) -> Result<grant::Model, ApiError> {
    let invalid = || ApiError::field("code", "is not a valid invitation code, or it was used or has expired");
    let now = Utc::now();
    let txn = begin_write(db).await?;
    let inv = store::find_invitation(&txn, &code_hash(code)).await?.ok_or_else(invalid)?;
    if inv.accepted_at.is_some()
        || inv.expires_at <= now
        || !still_controls(&txn, inv.created_by, inv.person_id).await?
    {
        return Err(invalid());
    }
    let me = account::Entity::find_by_id(caller.account_id)
        .one(&txn)
        .await?
        .ok_or(ApiError::Unauthorized { invalid: true })?;
    if me.person_id == inv.person_id {
        return Err(ApiError::field("code", "is an invitation to your own record"));
    }
    let g = store::insert_grant(
        &txn,
        grant::Model {
            id: Uuid::now_v7(),
            person_id: inv.person_id,
            grantee_account_id: Some(caller.account_id),
            grantee_org_id: None,
            categories: inv.categories.clone(),
            access: inv.access.clone(),
            purpose: inv.purpose.clone(),
            starts_at: None,
            expires_at: inv.grant_expires_at,
            revoked_at: None,
            created_by: inv.created_by,
            created_at: now,
            updated_at: now,
        },
    )
    .await?;
    if !store::mark_accepted(&txn, inv.id, caller.account_id, g.id, now).await? {
        return Err(invalid());
    }
    let told = super::policy::controllers(&txn, g.person_id).await?;
    emit(
        &txn,
        Event::new(EventKind::InvitationAccepted, Some(g.person_id), told)
            .with("grantId", g.id)
            .with("invitationId", inv.id),
    )
    .await?;
    txn.commit().await?;
    tracing::info!(person.id = %g.person_id, grant.id = %g.id, "invitation accepted");
    Ok(g)
}

pub struct Dependent {
    pub display_name: String,
    pub birth_date: NaiveDate,
    pub sex: Option<String>,
}

/// A person without an account of their own, whose guardian is the caller.
pub async fn create_dependent(
    db: &DatabaseConnection,
    caller: &Caller,
    d: Dependent,
) -> Result<person::Model, ApiError> {
    let now = Utc::now();
    let txn = begin_write(db).await?;
    let p = store::insert_person(
        &txn,
        person::Model {
            id: Uuid::now_v7(),
            display_name: d.display_name,
            birth_date: Some(d.birth_date),
            sex: d.sex,
            name_kana: None,
            time_zone: "Asia/Tokyo".into(),
            change_seq: 0,
            sync_floor: 0,
            created_at: now,
            updated_at: now,
        },
    )
    .await?;
    store::add_guardian(&txn, p.id, caller.account_id, caller.account_id, now).await?;
    txn.commit().await?;
    Ok(p)
}

/// What a person's owner or guardian may change about who the person is.
pub struct PersonChanges {
    pub display_name: Option<String>,
    pub birth_date: Option<NaiveDate>,
    pub sex: Option<String>,
    pub name_kana: Option<String>,
    pub time_zone: Option<String>,
}

pub async fn update_person(
    db: &DatabaseConnection,
    person_id: Uuid,
    c: PersonChanges,
) -> Result<person::Model, ApiError> {
    use sea_orm::Set;
    let p =
        person::Entity::find_by_id(person_id).one(db).await?.ok_or_else(|| ApiError::not_found("person"))?;
    let mut a: person::ActiveModel = p.into();
    if let Some(v) = c.display_name {
        a.display_name = Set(v);
    }
    if let Some(v) = c.birth_date {
        a.birth_date = Set(Some(v));
    }
    if let Some(v) = c.sex {
        a.sex = Set(Some(v));
    }
    if let Some(v) = c.name_kana {
        a.name_kana = Set(Some(v));
    }
    if let Some(v) = c.time_zone {
        a.time_zone = Set(v);
    }
    a.updated_at = Set(Utc::now());
    Ok(a.update(db).await?)
}

pub async fn add_guardian(
    db: &DatabaseConnection,
    access: &Access,
    account_id: Uuid,
) -> Result<(), ApiError> {
    let target = account::Entity::find_by_id(account_id).one(db).await?;
    match target {
        None => return Err(ApiError::field("accountId", "no such account")),
        Some(a) if a.person_id == access.person_id => {
            return Err(ApiError::field("accountId", "is the person's own account"));
        }
        Some(_) => {}
    }
    let txn = begin_write(db).await?;
    match store::add_guardian(&txn, access.person_id, account_id, access.account_id, Utc::now()).await {
        Ok(()) => {}
        Err(e) if crate::accounts::service::is_unique_violation(&e) => {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                "This account is already a guardian of the person.",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    txn.commit().await?;
    Ok(())
}

/// Removes a guardian; a dependent without an account keeps at least one.
pub async fn remove_guardian(
    db: &DatabaseConnection,
    access: &Access,
    account_id: Uuid,
) -> Result<(), ApiError> {
    let txn = begin_write(db).await?;
    let guardians = store::guardians_of(&txn, access.person_id).await?;
    if !guardians.iter().any(|g| g.account_id == account_id) {
        return Err(ApiError::not_found("guardian"));
    }
    let has_own_account = crate::accounts::store::find_by_person(&txn, access.person_id).await?.is_some();
    if guardians.len() == 1 && !has_own_account {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "A dependent without an account of their own needs at least one guardian.",
        ));
    }
    store::remove_guardian(&txn, access.person_id, account_id).await?;
    txn.commit().await?;
    Ok(())
}

/// One person the caller can reach and what they may do there.
pub struct Reachable {
    pub person: person::Model,
    pub relationship: &'static str,
    pub read: BTreeSet<Category>,
    pub write: BTreeSet<Category>,
    pub purposes: BTreeSet<Purpose>,
    /// The grants that carry the access, when `relationship` is `grantee`.
    pub grants: Vec<Reach>,
}

/// Every person the caller reaches, with what they may read and write, read
/// in one statement ([`policy::related`]).
pub async fn reachable(db: &impl ConnectionTrait, caller: &Caller) -> Result<Vec<Reachable>, ApiError> {
    let related = policy::related(db, caller.account_id, None)
        .await?
        .ok_or(ApiError::Unauthorized { invalid: true })?;
    let all: BTreeSet<Category> = Category::ALL.into_iter().collect();
    let mut out: BTreeMap<Uuid, Reachable> = BTreeMap::new();
    let mut add = |p: person::Model, rel: &'static str, grant: Option<Reach>| {
        let entry = out.entry(p.id).or_insert_with(|| Reachable {
            person: p,
            relationship: rel,
            read: BTreeSet::new(),
            write: BTreeSet::new(),
            purposes: BTreeSet::new(),
            grants: Vec::new(),
        });
        match grant {
            None => {
                entry.read.extend(all.iter().copied());
                entry.write.extend(all.iter().copied());
            }
            Some(r) => {
                entry.read.extend(r.categories.iter().copied());
                if r.write {
                    entry.write.extend(r.categories.iter().copied());
                }
                entry.purposes.insert(r.purpose);
                if entry.relationship == "grantee" {
                    entry.grants.push(r);
                }
            }
        }
    };
    add(related.own, "self", None);
    for p in related.wards {
        add(p, "guardian", None);
    }
    for (p, r) in related.grants {
        add(p, "grantee", Some(r));
    }
    Ok(out.into_values().collect())
}

/// Whether `account_id` still controls the person's record (own or guardian):
/// codes a former guardian created stop working when guardianship ends.
async fn still_controls(
    db: &impl ConnectionTrait,
    account_id: Uuid,
    person_id: Uuid,
) -> Result<bool, ApiError> {
    let own =
        account::Entity::find_by_id(account_id).one(db).await?.is_some_and(|a| a.person_id == person_id);
    Ok(own || crate::entities::guardian::Entity::find_by_id((person_id, account_id)).one(db).await?.is_some())
}

pub fn categories_of(g: &grant::Model) -> Vec<Category> {
    categories_from_csv(&g.categories).into_iter().collect()
}

pub fn org_kind_ok(kind: &str) -> bool {
    kind.parse::<OrgKind>().is_ok()
}

/// A code handing a dependent's record to the person's own (new) account.
/// Guardians only, and only while the person has no account of their own.
pub async fn create_transfer(db: &DatabaseConnection, access: &Access) -> Result<NewInvitation, ApiError> {
    if crate::accounts::store::find_by_person(db, access.person_id).await?.is_some() {
        return Err(ApiError::new(ErrorCode::Conflict, "This person already has an account of their own."));
    }
    let now = Utc::now();
    let code = new_code();
    let id = Uuid::now_v7();
    let expires_at = now + Duration::days(INVITATION_DAYS);
    let txn = begin_write(db).await?;
    transfer::ActiveModel::from(transfer::Model {
        id,
        person_id: access.person_id,
        code_hash: code_hash(&code),
        created_by: access.account_id,
        created_at: now,
        expires_at,
        claimed_at: None,
        claimed_by: None,
    })
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok(NewInvitation { id, code, expires_at })
}

/// The person's account claims their record: it becomes the account's own
/// person, guardianship ends, and the account's empty placeholder record goes.
pub async fn claim_transfer(
    db: &DatabaseConnection,
    caller: &Caller,
    code: &str,
) -> Result<person::Model, ApiError> {
    use sea_orm::{ColumnTrait, PaginatorTrait, QueryFilter, Set};
    let invalid = || ApiError::field("code", "is not a valid transfer code, or it was used or has expired");
    let now = Utc::now();
    let txn = begin_write(db).await?;
    let t = transfer::Entity::find()
        .filter(transfer::Column::CodeHash.eq(code_hash(code)))
        .one(&txn)
        .await?
        .ok_or_else(invalid)?;
    if t.claimed_at.is_some()
        || t.expires_at <= now
        || !still_controls(&txn, t.created_by, t.person_id).await?
    {
        return Err(invalid());
    }
    if crate::accounts::store::find_by_person(&txn, t.person_id).await?.is_some() {
        return Err(invalid());
    }
    let me = account::Entity::find_by_id(caller.account_id)
        .one(&txn)
        .await?
        .ok_or(ApiError::Unauthorized { invalid: true })?;
    let old = me.person_id;
    let holds_data = crate::entities::observation::Entity::find()
        .filter(crate::entities::observation::Column::PersonId.eq(old))
        .count(&txn)
        .await?
        > 0
        || grant::Entity::find().filter(grant::Column::PersonId.eq(old)).count(&txn).await? > 0
        || crate::entities::dispensing::Entity::find()
            .filter(crate::entities::dispensing::Column::PersonId.eq(old))
            .count(&txn)
            .await?
            > 0
        || crate::entities::health_fact::Entity::find()
            .filter(crate::entities::health_fact::Column::PersonId.eq(old))
            .count(&txn)
            .await?
            > 0;
    if holds_data {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "This account's own record already holds data; claim the record from a new account.",
        ));
    }
    let mut a: account::ActiveModel = me.into();
    a.person_id = Set(t.person_id);
    a.updated_at = Set(now);
    a.update(&txn).await?;
    person::Entity::delete_by_id(old).exec(&txn).await?;
    crate::entities::guardian::Entity::delete_many()
        .filter(crate::entities::guardian::Column::PersonId.eq(t.person_id))
        .exec(&txn)
        .await?;
    let mut claimed: transfer::ActiveModel = t.clone().into();
    claimed.claimed_at = Set(Some(now));
    claimed.claimed_by = Set(Some(caller.account_id));
    claimed.update(&txn).await?;
    let p = person::Entity::find_by_id(t.person_id)
        .one(&txn)
        .await?
        .ok_or_else(|| ApiError::not_found("person"))?;
    txn.commit().await?;
    tracing::info!(person.id = %p.id, account.id = %caller.account_id, "record handed over to its person");
    Ok(p)
}

pub struct NewShareCode {
    pub id: Uuid,
    pub code: String,
    pub expires_at: DateTime<Utc>,
}

/// A counter share code: the patient shows it (as a QR), a member of an
/// organisation redeems it, and the organisation holds a grant until the
/// code's time runs out. Both steps are written to the access log.
pub async fn create_share_code(
    db: &DatabaseConnection,
    access: &Access,
    org_id: Option<Uuid>,
    categories: BTreeSet<Category>,
    level: AccessLevel,
    ttl_minutes: i64,
) -> Result<NewShareCode, ApiError> {
    let mut errors = Vec::new();
    if categories.is_empty() {
        errors.push(FieldError::new("categories", "must name at least one category"));
    }
    if !(1..=24 * 60).contains(&ttl_minutes) {
        errors.push(FieldError::new("ttlMinutes", "must be between 1 and 1440"));
    }
    if let Some(o) = org_id
        && organization::Entity::find_by_id(o).one(db).await?.is_none()
    {
        errors.push(FieldError::new("orgId", "no such organization"));
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let now = Utc::now();
    let code = new_code();
    let id = Uuid::now_v7();
    let expires_at = now + Duration::minutes(ttl_minutes);
    let txn = begin_write(db).await?;
    share_code::ActiveModel::from(share_code::Model {
        id,
        person_id: access.person_id,
        code_hash: code_hash(&code),
        org_id,
        categories: categories_to_csv(&categories),
        access: level.as_str().to_owned(),
        ttl_minutes: ttl_minutes as i32,
        created_by: access.account_id,
        created_at: now,
        expires_at,
        redeemed_at: None,
        redeemed_by: None,
        grant_id: None,
    })
    .insert(&txn)
    .await?;
    txn.commit().await?;
    super::audit::append(
        db,
        super::audit::NewEntry {
            person_id: access.person_id,
            actor_account_id: Some(access.account_id),
            actor_org_id: org_id,
            action: "share",
            resource: "share-codes",
            categories: &categories,
            purpose: None,
        },
    )
    .await?;
    Ok(NewShareCode { id, code, expires_at })
}

fn purpose_for(kind: &str) -> Purpose {
    match kind.parse::<OrgKind>() {
        Ok(OrgKind::Pharmacy) => Purpose::Pharmacy,
        Ok(OrgKind::Municipality) => Purpose::PublicHealth,
        _ => Purpose::Treatment,
    }
}

/// A member redeems a share code: their organisation gets the grant.
pub async fn redeem_share_code(
    db: &DatabaseConnection,
    caller: &Caller,
    code: &str,
) -> Result<grant::Model, ApiError> {
    use sea_orm::{ColumnTrait, QueryFilter};
    let invalid = || ApiError::field("code", "is not a valid share code, or it was used or has expired");
    let now = Utc::now();
    let sc = share_code::Entity::find()
        .filter(share_code::Column::CodeHash.eq(code_hash(code)))
        .one(db)
        .await?
        .ok_or_else(invalid)?;
    if sc.redeemed_at.is_some()
        || sc.expires_at <= now
        || !still_controls(db, sc.created_by, sc.person_id).await?
    {
        return Err(invalid());
    }
    // The organisation the redeemer acts for, with a role fitting its purpose.
    let memberships = crate::orgs::store::memberships(db, caller.account_id).await?;
    let mut candidates = Vec::new();
    for m in &memberships {
        if sc.org_id.is_some_and(|o| o != m.org_id)
            || candidates.iter().any(|(o, _): &(Uuid, Purpose)| *o == m.org_id)
        {
            continue;
        }
        let Some(org) = organization::Entity::find_by_id(m.org_id).one(db).await? else { continue };
        let purpose = purpose_for(&org.kind);
        if m.role.parse::<super::model::OrgRole>().is_ok_and(|r| purpose.acting_roles().contains(&r)) {
            candidates.push((org.id, purpose));
        }
    }
    let (org_id, purpose) = match candidates.as_slice() {
        [one] => *one,
        [] => {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                "Share codes are redeemed by staff of the organization they are meant for.",
            ));
        }
        _ => {
            return Err(ApiError::field(
                "code",
                "you act for several organizations; ask for a code that names one",
            ));
        }
    };
    let txn = begin_write(db).await?;
    let g = store::insert_grant(
        &txn,
        grant::Model {
            id: Uuid::now_v7(),
            person_id: sc.person_id,
            grantee_account_id: None,
            grantee_org_id: Some(org_id),
            categories: sc.categories.clone(),
            access: sc.access.clone(),
            purpose: purpose.as_str().to_owned(),
            starts_at: None,
            expires_at: Some(sc.expires_at),
            revoked_at: None,
            created_by: sc.created_by,
            created_at: now,
            updated_at: now,
        },
    )
    .await?;
    let res = share_code::Entity::update_many()
        .col_expr(share_code::Column::RedeemedAt, sea_orm::sea_query::Expr::value(now))
        .col_expr(share_code::Column::RedeemedBy, sea_orm::sea_query::Expr::value(caller.account_id))
        .col_expr(share_code::Column::GrantId, sea_orm::sea_query::Expr::value(g.id))
        .filter(share_code::Column::Id.eq(sc.id))
        .filter(share_code::Column::RedeemedAt.is_null())
        .exec(&txn)
        .await?;
    if res.rows_affected != 1 {
        return Err(invalid());
    }
    let told = super::policy::controllers(&txn, sc.person_id).await?;
    emit(
        &txn,
        Event::new(EventKind::ShareCodeRedeemed, Some(sc.person_id), told)
            .with("grantId", g.id)
            .with("orgId", org_id),
    )
    .await?;
    txn.commit().await?;
    super::audit::append(
        db,
        super::audit::NewEntry {
            person_id: sc.person_id,
            actor_account_id: Some(caller.account_id),
            actor_org_id: Some(org_id),
            action: "share",
            resource: "share-codes/redeem",
            categories: &categories_from_csv(&sc.categories),
            purpose: Some(purpose.as_str()),
        },
    )
    .await?;
    Ok(g)
}
