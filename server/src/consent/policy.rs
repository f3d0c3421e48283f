//! The one authorization decision: (caller, person, scope, action) → [`Access`]
//! or an error. Every data endpoint calls [`authorize`]; none compares ids.
//!
//! - No relation to the person (or only revoked/expired grants): 404, so a
//!   person's existence does not leak.
//! - A relation that lacks the category or the action: 403.
//! - Decisions are read from the database on every request: a revoke or an
//!   expiry takes effect on the very next request, whatever tokens exist.
//! - Every allowed access by a grantee (anyone but the person and their
//!   guardians) is appended to the person's access log here, so no endpoint
//!   can forget to.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::audit::{self, NewEntry};
use super::model::{AccessLevel, OrgRole, Purpose, categories_from_csv};
use crate::auth::Caller;
use crate::category::Category;
use crate::entities::{account, grant, guardian, org_member};
use crate::error::{ApiError, ErrorCode};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Read,
    Write,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Write => "write",
        }
    }
}

/// What a request touches.
#[derive(Debug, Clone, Copy)]
pub enum Scope {
    /// One category (a kind's category, a filtered list).
    One(Category),
    /// Any of these; the result is narrowed to those allowed (list endpoints).
    AnyOf(&'static [Category]),
    /// The record itself: grants, guardians, the access log. Person and guardians only.
    Manage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relationship {
    /// The caller's own record.
    Own,
    Guardian,
    Grantee,
}

/// What the caller may do on one person's record, for filtering in the query.
#[derive(Debug, Clone)]
pub struct Access {
    pub person_id: Uuid,
    pub account_id: Uuid,
    pub relationship: Relationship,
    /// Categories the caller may use in this request.
    pub categories: BTreeSet<Category>,
}

impl Access {
    /// Errors with 403 unless `category` is allowed.
    pub fn require(&self, category: Category) -> Result<(), ApiError> {
        if self.categories.contains(&category) { Ok(()) } else { Err(forbidden_category(category)) }
    }

    /// The person or a guardian: accesses are not logged and records are managed.
    pub fn controls(&self) -> bool {
        matches!(self.relationship, Relationship::Own | Relationship::Guardian)
    }
}

fn forbidden_category(c: Category) -> ApiError {
    ApiError::new(
        ErrorCode::Forbidden,
        format!("The caller has no access to the `{}` category of this record.", c.as_str()),
    )
}

/// An active grant reaching the caller, directly or through an organisation role.
#[derive(Debug, Clone)]
pub struct Reach {
    pub grant_id: Uuid,
    pub categories: BTreeSet<Category>,
    pub write: bool,
    pub purpose: Purpose,
    pub org_id: Option<Uuid>,
}

/// A grant is in force between `starts_at` and `expires_at` unless revoked.
pub fn in_force(g: &grant::Model, now: DateTime<Utc>) -> bool {
    g.revoked_at.is_none() && g.starts_at.is_none_or(|s| s <= now) && g.expires_at.is_none_or(|e| e > now)
}

/// Every grant in force on `person_id` (or on anyone, when `None`) that reaches `account_id`.
pub async fn reaching_grants(
    db: &impl ConnectionTrait,
    account_id: Uuid,
    person_id: Option<Uuid>,
) -> Result<Vec<(Uuid, Reach)>, ApiError> {
    let memberships =
        org_member::Entity::find().filter(org_member::Column::AccountId.eq(account_id)).all(db).await?;
    let org_ids: Vec<Uuid> = memberships.iter().map(|m| m.org_id).collect();
    let mut reach = Condition::any().add(grant::Column::GranteeAccountId.eq(account_id));
    if !org_ids.is_empty() {
        reach = reach.add(grant::Column::GranteeOrgId.is_in(org_ids));
    }
    let mut q = grant::Entity::find().filter(grant::Column::RevokedAt.is_null()).filter(reach);
    if let Some(p) = person_id {
        q = q.filter(grant::Column::PersonId.eq(p));
    }
    let now = Utc::now();
    let mut out = Vec::new();
    for g in q.all(db).await? {
        if !in_force(&g, now) {
            continue;
        }
        let Ok(purpose) = g.purpose.parse::<Purpose>() else { continue };
        if let Some(org) = g.grantee_org_id {
            let fits = memberships.iter().any(|m| {
                m.org_id == org
                    && m.role.parse::<OrgRole>().is_ok_and(|r| purpose.acting_roles().contains(&r))
            });
            if !fits {
                continue;
            }
        }
        out.push((
            g.person_id,
            Reach {
                grant_id: g.id,
                categories: categories_from_csv(&g.categories),
                write: g.access == AccessLevel::Write.as_str(),
                purpose,
                org_id: g.grantee_org_id,
            },
        ));
    }
    Ok(out)
}

/// How the caller relates to `person_id`: `None` when not at all.
pub async fn relationship(
    db: &impl ConnectionTrait,
    caller: &Caller,
    person_id: Uuid,
) -> Result<Option<(Relationship, Vec<Reach>)>, ApiError> {
    let account = account::Entity::find_by_id(caller.account_id)
        .one(db)
        .await?
        .ok_or(ApiError::Unauthorized { invalid: true })?;
    if account.person_id == person_id {
        return Ok(Some((Relationship::Own, vec![])));
    }
    if guardian::Entity::find_by_id((person_id, caller.account_id)).one(db).await?.is_some() {
        return Ok(Some((Relationship::Guardian, vec![])));
    }
    let reach: Vec<Reach> =
        reaching_grants(db, caller.account_id, Some(person_id)).await?.into_iter().map(|(_, r)| r).collect();
    Ok((!reach.is_empty()).then_some((Relationship::Grantee, reach)))
}

/// Decides whether `caller` may perform `action` within `scope` on
/// `person_id`'s record, and logs the access when the caller is a grantee.
/// `resource` names what is touched in the log (`observations`, `grants`…).
pub async fn authorize(
    db: &DatabaseConnection,
    caller: &Caller,
    person_id: Uuid,
    action: Action,
    scope: Scope,
    resource: &str,
) -> Result<Access, ApiError> {
    let Some((relationship, reach)) = relationship(db, caller, person_id).await? else {
        return Err(ApiError::not_found("person"));
    };
    let base = |categories| Access { person_id, account_id: caller.account_id, relationship, categories };
    if relationship != Relationship::Grantee {
        let all: BTreeSet<Category> = match scope {
            Scope::One(c) => [c].into(),
            Scope::AnyOf(set) => set.iter().copied().collect(),
            Scope::Manage => Category::ALL.into_iter().collect(),
        };
        return Ok(base(all));
    }
    if let Scope::Manage = scope {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "Only the person and their guardians may do this; grantees cannot re-share.",
        ));
    }
    let usable: Vec<&Reach> = reach.iter().filter(|r| action == Action::Read || r.write).collect();
    let allowed: BTreeSet<Category> = usable.iter().flat_map(|r| r.categories.iter().copied()).collect();
    let categories: BTreeSet<Category> = match scope {
        Scope::One(c) if allowed.contains(&c) => [c].into(),
        Scope::One(c) => return Err(forbidden_category(c)),
        Scope::AnyOf(set) => set.iter().copied().filter(|c| allowed.contains(c)).collect(),
        Scope::Manage => BTreeSet::new(),
    };
    if categories.is_empty() {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            format!(
                "The caller's grants do not allow {} access to this part of the record.",
                action.as_str()
            ),
        ));
    }
    // The grant that carries the access names purpose and organisation in the log.
    let carrier = carrier(usable.iter().copied(), &categories);
    audit::append(
        db,
        NewEntry {
            person_id,
            actor_account_id: Some(caller.account_id),
            actor_org_id: carrier.and_then(|r| r.org_id),
            action: action.as_str(),
            resource,
            categories: &categories,
            purpose: carrier.map(|r| r.purpose.as_str()),
        },
    )
    .await?;
    Ok(base(categories))
}

/// The categories the caller may read on the person's record, without
/// logging anything: for a handler that widens what it shows (and then asks
/// [`authorize`] for exactly that, which logs it).
pub async fn readable(
    db: &impl ConnectionTrait,
    caller: &Caller,
    person_id: Uuid,
) -> Result<BTreeSet<Category>, ApiError> {
    Ok(match relationship(db, caller, person_id).await? {
        None => BTreeSet::new(),
        Some((Relationship::Grantee, reach)) => {
            reach.iter().flat_map(|r| r.categories.iter().copied()).collect()
        }
        Some(_) => Category::ALL.into_iter().collect(),
    })
}

/// The accounts that control the person's record: their own account and guardians.
pub async fn controllers(db: &impl ConnectionTrait, person_id: Uuid) -> Result<BTreeSet<Uuid>, ApiError> {
    let mut out: BTreeSet<Uuid> = crate::entities::account::Entity::find()
        .filter(crate::entities::account::Column::PersonId.eq(person_id))
        .all(db)
        .await?
        .into_iter()
        .map(|a| a.id)
        .collect();
    out.extend(
        crate::entities::guardian::Entity::find()
            .filter(crate::entities::guardian::Column::PersonId.eq(person_id))
            .all(db)
            .await?
            .into_iter()
            .map(|g| g.account_id),
    );
    Ok(out)
}

/// The accounts other than the controllers that may read `category` of the
/// person's record now: account grantees, and members of grantee
/// organizations in a role that acts on the grant's purpose.
pub async fn grantee_readers(
    db: &impl ConnectionTrait,
    person_id: Uuid,
    category: Category,
) -> Result<BTreeSet<Uuid>, ApiError> {
    let now = Utc::now();
    let mut out = BTreeSet::new();
    for g in grant::Entity::find()
        .filter(grant::Column::PersonId.eq(person_id))
        .filter(grant::Column::RevokedAt.is_null())
        .all(db)
        .await?
    {
        if !in_force(&g, now) || !categories_from_csv(&g.categories).contains(&category) {
            continue;
        }
        if let Some(a) = g.grantee_account_id {
            out.insert(a);
        }
        if let (Some(org), Ok(purpose)) = (g.grantee_org_id, g.purpose.parse::<Purpose>()) {
            for m in org_member::Entity::find().filter(org_member::Column::OrgId.eq(org)).all(db).await? {
                if m.role.parse::<OrgRole>().is_ok_and(|r| purpose.acting_roles().contains(&r)) {
                    out.insert(m.account_id);
                }
            }
        }
    }
    Ok(out)
}

/// The grant among `reach` that carries access to any of `categories`: it
/// names the organisation and purpose in the access log.
pub fn carrier<'a>(
    reach: impl IntoIterator<Item = &'a Reach>,
    categories: &BTreeSet<Category>,
) -> Option<&'a Reach> {
    reach.into_iter().find(|r| r.categories.iter().any(|c| categories.contains(c)))
}

/// Whether the caller acts for `org_id` on the person's record through a
/// grant in force of `purpose` (e.g. facility staff on a treatment grant).
pub async fn acts_for(
    db: &impl ConnectionTrait,
    caller: &Caller,
    person_id: Uuid,
    org_id: Uuid,
    purpose: Purpose,
) -> Result<bool, ApiError> {
    Ok(reaching_grants(db, caller.account_id, Some(person_id))
        .await?
        .into_iter()
        .any(|(_, r)| r.org_id == Some(org_id) && r.purpose == purpose))
}

/// The organization through which the caller reaches `category` on the
/// person's record, if any (for "added by which pharmacy").
pub async fn acting_org(
    db: &impl ConnectionTrait,
    caller: &Caller,
    person_id: Uuid,
    category: Category,
) -> Result<Option<Uuid>, ApiError> {
    Ok(reaching_grants(db, caller.account_id, Some(person_id))
        .await?
        .into_iter()
        .find(|(_, r)| r.org_id.is_some() && r.categories.contains(&category))
        .and_then(|(_, r)| r.org_id))
}
