//! Rules, their evaluation and the alerts they raise.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use crate::category::Category;
use crate::consent::policy::{controllers, grantee_readers, within};
use crate::entities::{alert, alert_rule as rule, observation, org_member};
use crate::error::{ApiError, ErrorCode};
use crate::notify::{Event, EventKind, emit};
use crate::observations::catalogue::{self, KindSpec};

/// A rule as asked for, already checked against the catalogue.
pub struct NewRule {
    pub kind: &'static KindSpec,
    pub component: Option<String>,
    pub op: String,
    pub threshold: f64,
    pub consecutive: i32,
    pub window_minutes: Option<i32>,
    pub notify: BTreeSet<String>,
    /// Set when the rule comes with a public-health programme.
    pub program_id: Option<Uuid>,
}

pub async fn create(
    db: &impl ConnectionTrait,
    owner: (Option<Uuid>, Option<Uuid>),
    by: Uuid,
    r: NewRule,
) -> Result<rule::Model, ApiError> {
    let notify: Vec<&str> = r.notify.iter().map(String::as_str).collect();
    Ok(rule::ActiveModel::from(rule::Model {
        id: Uuid::now_v7(),
        person_id: owner.0,
        org_id: owner.1,
        program_id: r.program_id,
        created_by: by,
        kind: r.kind.name.to_owned(),
        component: r.component,
        op: r.op,
        threshold: r.threshold,
        consecutive: r.consecutive,
        window_minutes: r.window_minutes,
        notify: notify.join(","),
        created_at: Utc::now(),
    })
    .insert(db)
    .await?)
}

/// The person's own rules and those of organizations that see the rule's
/// category through a grant in force, oldest first. One round trip: this runs
/// on every upload.
pub async fn rules_for(db: &impl ConnectionTrait, person_id: Uuid) -> Result<Vec<rule::Model>, ApiError> {
    let rows = db
        .query_all_raw(crate::db::statement(
            db.get_database_backend(),
            "SELECT r.*, g.categories AS g_categories, g.starts_at AS g_starts_at, g.expires_at AS g_expires_at \
             FROM alert_rules r \
             LEFT JOIN grants g ON r.org_id IS NOT NULL AND g.grantee_org_id = r.org_id \
                  AND g.person_id = $1 AND g.revoked_at IS NULL \
             WHERE r.person_id = $1 OR g.id IS NOT NULL \
             ORDER BY r.created_at, r.id",
            [person_id.into()],
        ))
        .await?;
    let now = Utc::now();
    let mut out: Vec<rule::Model> = Vec::new();
    let mut kept: BTreeSet<Uuid> = BTreeSet::new();
    for row in rows {
        let r = rule::Model::from_query_result(&row, "")?;
        if kept.contains(&r.id) {
            continue;
        }
        let keep = match (r.org_id, catalogue::kind(&r.kind)) {
            (None, _) => true,
            (Some(_), Some(k)) => {
                // The grant joined on this row (unrevoked by the join), judged as the consent check would.
                match row.try_get::<Option<String>>("", "g_categories")? {
                    None => false,
                    Some(categories) => {
                        within(row.try_get("", "g_starts_at")?, row.try_get("", "g_expires_at")?, now)
                            && crate::consent::model::categories_from_csv(&categories).contains(&k.category)
                    }
                }
            }
            (Some(_), None) => false,
        };
        if keep {
            kept.insert(r.id);
            out.push(r);
        }
    }
    Ok(out)
}

pub async fn org_rules(db: &impl ConnectionTrait, org_id: Uuid) -> Result<Vec<rule::Model>, ApiError> {
    Ok(rule::Entity::find()
        .filter(rule::Column::OrgId.eq(org_id))
        .order_by_asc(rule::Column::CreatedAt)
        .all(db)
        .await?)
}

pub async fn delete(db: &impl ConnectionTrait, filter: Condition, id: Uuid) -> Result<(), ApiError> {
    let res = rule::Entity::delete_many().filter(rule::Column::Id.eq(id)).filter(filter).exec(db).await?;
    if res.rows_affected == 0 { Err(ApiError::not_found("alert rule")) } else { Ok(()) }
}

fn value_of(kind: &KindSpec, component: Option<&str>, o: &observation::Model) -> Option<f64> {
    let index = match component {
        Some(c) => kind.components.iter().position(|s| s.name == c)?,
        None => 0,
    };
    [o.value0, o.value1, o.value2].get(index).copied().flatten()
}

fn holds(op: &str, value: f64, threshold: f64) -> bool {
    match op {
        ">=" => value >= threshold,
        "<=" => value <= threshold,
        _ => false,
    }
}

/// Evaluates the person's rules against newly stored observations, inside
/// the caller's transaction: raises at most one alert per rule (none while an
/// earlier alert of the rule is still open) and notifies its recipients.
pub async fn evaluate(
    db: &impl ConnectionTrait,
    person_id: Uuid,
    new: &[&observation::Model],
) -> Result<Vec<alert::Model>, ApiError> {
    let kinds: BTreeSet<&str> = new.iter().map(|o| o.kind.as_str()).collect();
    if kinds.is_empty() {
        return Ok(vec![]);
    }
    let rules: Vec<rule::Model> =
        rules_for(db, person_id).await?.into_iter().filter(|r| kinds.contains(r.kind.as_str())).collect();
    let mut raised = Vec::new();
    for r in rules {
        let Some(kind) = catalogue::kind(&r.kind) else { continue };
        let mut mine: Vec<&observation::Model> = new.iter().copied().filter(|o| o.kind == r.kind).collect();
        mine.sort_by_key(|o| o.start_ms);
        let new_ids: BTreeSet<Uuid> = mine.iter().map(|o| o.id).collect();
        let (Some(first), Some(last)) = (mine.first(), mine.last()) else { continue };
        let n = usize::try_from(r.consecutive.max(1)).unwrap_or(1);
        // The readings the rule looks at: the n−1 before the batch and all within it.
        let series: Vec<observation::Model> = if n == 1 {
            mine.iter().map(|o| (*o).clone()).collect()
        } else {
            let base = || {
                observation::Entity::find()
                    .filter(observation::Column::PersonId.eq(person_id))
                    .filter(observation::Column::Kind.eq(r.kind.clone()))
                    .filter(observation::Column::DeletedAt.is_null())
            };
            let mut before = base()
                .filter(observation::Column::StartMs.lt(first.start_ms))
                .order_by_desc(observation::Column::StartMs)
                .limit(u64::try_from(n - 1).unwrap_or(0))
                .all(db)
                .await?;
            before.reverse();
            let within = base()
                .filter(observation::Column::StartMs.gte(first.start_ms))
                .filter(observation::Column::StartMs.lte(last.start_ms))
                .order_by_asc(observation::Column::StartMs)
                .all(db)
                .await?;
            before.into_iter().chain(within).collect()
        };
        let fired = series.iter().enumerate().find(|(i, o)| {
            if !new_ids.contains(&o.id) || *i + 1 < n {
                return false;
            }
            let run = &series[*i + 1 - n..=*i];
            let all = run.iter().all(|x| {
                value_of(kind, r.component.as_deref(), x).is_some_and(|v| holds(&r.op, v, r.threshold))
            });
            let span_ok =
                r.window_minutes.is_none_or(|w| o.start_ms - run[0].start_ms <= i64::from(w) * 60_000);
            all && span_ok
        });
        let Some((_, o)) = fired else { continue };
        let Some(value) = value_of(kind, r.component.as_deref(), o) else { continue };
        if let Some(a) = raise(db, &r, person_id, kind, ("observation", o.id), value).await? {
            raised.push(a);
        }
    }
    Ok(raised)
}

/// Records an alert of `r` on the reading `source_id` and tells its
/// recipients, unless an alert of the rule on the person is still open.
async fn raise(
    db: &impl ConnectionTrait,
    r: &rule::Model,
    person_id: Uuid,
    kind: &KindSpec,
    (source, source_id): (&str, Uuid),
    value: f64,
) -> Result<Option<alert::Model>, ApiError> {
    let open = alert::Entity::find()
        .filter(alert::Column::PersonId.eq(person_id))
        .filter(alert::Column::Status.eq("open"))
        .filter(alert::Column::RuleId.eq(r.id))
        .one(db)
        .await?;
    if open.is_some() {
        return Ok(None);
    }
    let a = alert::ActiveModel::from(alert::Model {
        id: Uuid::now_v7(),
        rule_id: r.id,
        person_id,
        observation_id: source_id,
        source: source.to_owned(),
        kind: r.kind.clone(),
        category: kind.category.as_str().to_owned(),
        value,
        status: "open".into(),
        created_at: Utc::now(),
        acked_by: None,
        acked_at: None,
    })
    .insert(db)
    .await?;
    let recipients = recipients(db, r, person_id, kind.category).await?;
    emit(
        db,
        Event::new(EventKind::Alert, Some(person_id), recipients)
            .with("alertId", a.id)
            .with("ruleId", r.id)
            .with(if source == "observation" { "observationId" } else { "labResultId" }, source_id),
    )
    .await?;
    Ok(Some(a))
}

/// A vital sign measured at a facility (SS-MIX2), as the observation kind
/// and component it stands for.
pub struct ClinicReading {
    pub lab_result_id: Uuid,
    pub kind: &'static str,
    pub component: Option<&'static str>,
    pub value: f64,
}

/// Evaluates single-reading rules (`consecutive` 1) on clinic-measured values
/// from a clinical import, in its transaction. Rules that need readings in a
/// row look at home readings only: a clinic value is not part of that series.
pub async fn evaluate_clinic(
    db: &impl ConnectionTrait,
    person_id: Uuid,
    readings: &[ClinicReading],
) -> Result<Vec<alert::Model>, ApiError> {
    if readings.is_empty() {
        return Ok(vec![]);
    }
    let mut raised = Vec::new();
    for r in rules_for(db, person_id).await? {
        if r.consecutive > 1 {
            continue;
        }
        let Some(kind) = catalogue::kind(&r.kind) else { continue };
        let hit = readings.iter().find(|c| {
            c.kind == r.kind && c.component == r.component.as_deref() && holds(&r.op, c.value, r.threshold)
        });
        if let Some(c) = hit
            && let Some(a) = raise(db, &r, person_id, kind, ("lab_result", c.lab_result_id), c.value).await?
        {
            raised.push(a);
        }
    }
    Ok(raised)
}

/// Who hears of an alert: `self` is the person and guardians; `grantees` are
/// those who may read the category now. An organization's rule speaks to its
/// own acting members (and the person with `self`). Nobody who cannot see the
/// category is told.
async fn recipients(
    db: &impl ConnectionTrait,
    r: &rule::Model,
    person_id: Uuid,
    category: Category,
) -> Result<BTreeSet<Uuid>, ApiError> {
    let notify: BTreeSet<&str> = r.notify.split(',').collect();
    let mut out = BTreeSet::new();
    if notify.contains("self") {
        out.extend(controllers(db, person_id).await?);
    }
    let readers = grantee_readers(db, person_id, category).await?;
    match r.org_id {
        Some(org) => {
            let members: BTreeSet<Uuid> = org_member::Entity::find()
                .filter(org_member::Column::OrgId.eq(org))
                .all(db)
                .await?
                .into_iter()
                .map(|m| m.account_id)
                .collect();
            out.extend(readers.intersection(&members).copied());
        }
        None if notify.contains("grantees") => out.extend(readers),
        None => {}
    }
    Ok(out)
}

/// Alerts on `persons` (each with the categories the caller reads there), newest first.
pub async fn list(
    db: &impl ConnectionTrait,
    persons: &BTreeMap<Uuid, BTreeSet<Category>>,
    status: Option<&str>,
    before: Option<Uuid>,
    limit: u64,
) -> Result<Vec<alert::Model>, ApiError> {
    if persons.is_empty() {
        return Ok(vec![]);
    }
    let mut visible = Condition::any();
    for (p, cats) in persons {
        if cats.is_empty() {
            continue;
        }
        visible = visible.add(
            Condition::all()
                .add(alert::Column::PersonId.eq(*p))
                .add(alert::Column::Category.is_in(cats.iter().map(|c| c.as_str()))),
        );
    }
    if visible.is_empty() {
        return Ok(vec![]);
    }
    let mut q = alert::Entity::find().filter(visible);
    if let Some(s) = status {
        q = q.filter(alert::Column::Status.eq(s));
    }
    if let Some(b) = before {
        q = q.filter(alert::Column::Id.lt(b));
    }
    Ok(q.order_by_desc(alert::Column::Id).limit(limit + 1).all(db).await?)
}

pub async fn find(db: &impl ConnectionTrait, id: Uuid) -> Result<alert::Model, ApiError> {
    alert::Entity::find_by_id(id).one(db).await?.ok_or_else(|| ApiError::not_found("alert"))
}

pub async fn ack(
    db: &impl ConnectionTrait,
    a: alert::Model,
    by: Uuid,
    now: DateTime<Utc>,
) -> Result<alert::Model, ApiError> {
    if a.status != "open" {
        return Ok(a);
    }
    let mut m: alert::ActiveModel = a.into();
    m.status = Set("acked".into());
    m.acked_by = Set(Some(by));
    m.acked_at = Set(Some(now));
    m.update(db).await.map_err(|e| match e {
        sea_orm::DbErr::RecordNotUpdated => {
            ApiError::new(ErrorCode::Conflict, "The alert changed meanwhile.")
        }
        e => e.into(),
    })
}
