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
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, FromQueryResult, QueryFilter};
use uuid::Uuid;

use super::audit::{self, NewEntry};
use super::model::{AccessLevel, OrgRole, Purpose, categories_from_csv};
use crate::auth::Caller;
use crate::category::Category;
use crate::entities::{grant, org_member, person};
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
    /// The person's time zone, as the consent read found it.
    pub time_zone: String,
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
    g.revoked_at.is_none() && within(g.starts_at, g.expires_at, now)
}

/// Whether `now` lies in a grant's `[starts_at, expires_at)` window.
pub fn within(
    starts_at: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> bool {
    starts_at.is_none_or(|s| s <= now) && expires_at.is_none_or(|e| e > now)
}

/// Everything that relates an account to persons' records, as of one read:
/// its own person, the persons it is guardian of, and every grant in force
/// that reaches it (directly, or through an organisation role that fits the
/// grant's purpose), each with the person it is on.
#[derive(Debug, Clone)]
pub struct Related {
    pub own: person::Model,
    pub wards: Vec<person::Model>,
    pub grants: Vec<(person::Model, Reach)>,
}

const PERSON_COLUMNS: &str = "p.id, p.display_name, p.birth_date, p.sex, p.name_kana, p.time_zone, \
                              p.change_seq, p.sync_floor, p.created_at, p.updated_at";

/// Reads [`Related`] for `account_id` in one statement (one snapshot, one
/// round trip: this runs on every data request), narrowed to `person_id`'s
/// wardship and grants when given; the own person is always read. `None` when
/// the account does not exist (erased).
pub async fn related(
    db: &impl ConnectionTrait,
    account_id: Uuid,
    person_id: Option<Uuid>,
) -> Result<Option<Related>, ApiError> {
    let backend = db.get_database_backend();
    let (one_person_grant, one_person_ward) = match person_id {
        Some(_) => (" AND gr.person_id = $2", " AND g.person_id = $2"),
        None => ("", ""),
    };
    let grant_columns = "gr.id AS g_id, gr.categories AS g_categories, gr.access AS g_access, \
                         gr.purpose AS g_purpose, gr.starts_at AS g_starts_at, gr.expires_at AS g_expires_at, \
                         gr.grantee_org_id AS g_org_id";
    // Grants to the account and grants to its organisations are separate
    // branches so each is an index lookup (an OR across the join would scan
    // every grant). The grant branches come first: PostgreSQL types the NULL
    // columns of the later branches from them.
    let sql = format!(
        "SELECT 'grant' AS rel, {grant_columns}, NULL AS g_role, {PERSON_COLUMNS} \
         FROM grants gr JOIN persons p ON p.id = gr.person_id \
         WHERE gr.grantee_account_id = $1 AND gr.revoked_at IS NULL{one_person_grant} \
         UNION ALL \
         SELECT 'grant', {grant_columns}, m.role, {PERSON_COLUMNS} \
         FROM org_members m JOIN grants gr ON gr.grantee_org_id = m.org_id JOIN persons p ON p.id = gr.person_id \
         WHERE m.account_id = $1 AND gr.revoked_at IS NULL{one_person_grant} \
         UNION ALL \
         SELECT 'self', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, {PERSON_COLUMNS} \
         FROM accounts a JOIN persons p ON p.id = a.person_id WHERE a.id = $1 \
         UNION ALL \
         SELECT 'guardian', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, {PERSON_COLUMNS} \
         FROM guardians g JOIN persons p ON p.id = g.person_id WHERE g.account_id = $1{one_person_ward}"
    );
    let mut values: Vec<sea_orm::Value> = vec![account_id.into()];
    values.extend(person_id.map(sea_orm::Value::from));
    let rows = db.query_all_raw(crate::db::statement(backend, &sql, values)).await?;

    let now = Utc::now();
    let mut own = None;
    let mut wards = Vec::new();
    // A grant to an organisation comes once per role the caller holds there;
    // `None` marks a grant out of its window or with an unknown purpose.
    type Seen = (Uuid, Option<(person::Model, Reach)>, Vec<String>);
    let mut grants: Vec<Seen> = Vec::new();
    for row in rows {
        let rel: String = row.try_get("", "rel")?;
        let p = person::Model::from_query_result(&row, "")?;
        match rel.as_str() {
            "self" => own = Some(p),
            "guardian" => wards.push(p),
            _ => {
                let id: Uuid = row.try_get("", "g_id")?;
                let role: Option<String> = row.try_get("", "g_role")?;
                if let Some((_, _, roles)) = grants.iter_mut().find(|(g, _, _)| *g == id) {
                    roles.extend(role);
                    continue;
                }
                let purpose = row.try_get::<String>("", "g_purpose")?.parse::<Purpose>().ok();
                let reach = match purpose {
                    Some(purpose)
                        if within(row.try_get("", "g_starts_at")?, row.try_get("", "g_expires_at")?, now) =>
                    {
                        Some((
                            p,
                            Reach {
                                grant_id: id,
                                categories: categories_from_csv(&row.try_get::<String>("", "g_categories")?),
                                write: row.try_get::<String>("", "g_access")? == AccessLevel::Write.as_str(),
                                purpose,
                                org_id: row.try_get("", "g_org_id")?,
                            },
                        ))
                    }
                    _ => None,
                };
                grants.push((id, reach, role.into_iter().collect()));
            }
        }
    }
    let Some(own) = own else { return Ok(None) };
    // Ordered here rather than by the statement: a sort node is part of
    // setting up the plan on every execution, and this runs on every request.
    wards.sort_by_key(|p| p.id);
    grants.sort_by_key(|(id, _, _)| *id);
    // Through an organisation only in a role that acts on the grant's purpose.
    let grants = grants
        .into_iter()
        .filter_map(|(_, reach, roles)| {
            let (p, r) = reach?;
            let fits = r.org_id.is_none()
                || roles
                    .iter()
                    .any(|x| x.parse::<OrgRole>().is_ok_and(|x| r.purpose.acting_roles().contains(&x)));
            fits.then_some((p, r))
        })
        .collect();
    Ok(Some(Related { own, wards, grants }))
}

/// Every grant in force on `person_id` (or on anyone, when `None`) that reaches `account_id`.
pub async fn reaching_grants(
    db: &impl ConnectionTrait,
    account_id: Uuid,
    person_id: Option<Uuid>,
) -> Result<Vec<(Uuid, Reach)>, ApiError> {
    Ok(related(db, account_id, person_id)
        .await?
        .map(|r| r.grants.into_iter().map(|(p, reach)| (p.id, reach)).collect())
        .unwrap_or_default())
}

/// How the caller relates to `person_id`, with the person as read: `None`
/// when not at all.
pub async fn relationship(
    db: &impl ConnectionTrait,
    caller: &Caller,
    person_id: Uuid,
) -> Result<Option<(Relationship, Vec<Reach>, person::Model)>, ApiError> {
    let related = related(db, caller.account_id, Some(person_id))
        .await?
        .ok_or(ApiError::Unauthorized { invalid: true })?;
    if related.own.id == person_id {
        return Ok(Some((Relationship::Own, vec![], related.own)));
    }
    // Wards and grants are narrowed to `person_id` by the read.
    if let Some(ward) = related.wards.into_iter().next() {
        return Ok(Some((Relationship::Guardian, vec![], ward)));
    }
    let mut person = None;
    let mut reach = Vec::new();
    for (p, r) in related.grants {
        person = Some(p);
        reach.push(r);
    }
    Ok(person.map(|p| (Relationship::Grantee, reach, p)))
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
    authorize_choosing(db, caller, person_id, action, |_| scope, resource).await
}

/// [`authorize`] with the scope chosen from the categories the caller may
/// read, from the same consent read: for a handler that widens what it shows
/// to those who may see more (one consent read, not one to look and one to decide).
pub async fn authorize_choosing(
    db: &DatabaseConnection,
    caller: &Caller,
    person_id: Uuid,
    action: Action,
    choose: impl FnOnce(&BTreeSet<Category>) -> Scope,
    resource: &str,
) -> Result<Access, ApiError> {
    let Some((relationship, reach, person)) = relationship(db, caller, person_id).await? else {
        return Err(ApiError::not_found("person"));
    };
    let readable: BTreeSet<Category> = match relationship {
        Relationship::Grantee => reach.iter().flat_map(|r| r.categories.iter().copied()).collect(),
        _ => Category::ALL.into_iter().collect(),
    };
    let scope = choose(&readable);
    let base = |categories| Access {
        person_id,
        account_id: caller.account_id,
        relationship,
        categories,
        time_zone: person.time_zone,
    };
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

/// The ids of the accounts that control a person's record, as a subquery on
/// parameter `$n` (the person's id): their own account and guardians.
pub(crate) fn controllers_sql(n: usize) -> String {
    format!(
        "SELECT id FROM accounts WHERE person_id = ${n} UNION SELECT account_id FROM guardians WHERE person_id = ${n}"
    )
}

/// The accounts that control the person's record: their own account and guardians.
pub async fn controllers(db: &impl ConnectionTrait, person_id: Uuid) -> Result<BTreeSet<Uuid>, ApiError> {
    let rows = db
        .query_all_raw(crate::db::statement(
            db.get_database_backend(),
            &controllers_sql(1),
            [person_id.into()],
        ))
        .await?;
    Ok(rows.iter().map(|r| r.try_get_by_index::<Uuid>(0)).collect::<Result<_, _>>()?)
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
