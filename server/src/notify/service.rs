//! Emitting an event: inbox rows and push-outbox rows written with the
//! caller's connection, so inside a transaction they commit (or roll back)
//! with the change that caused them. The worker delivers the outbox.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveTime, Utc};
use chrono_tz::Tz;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use super::model::EventKind;
use crate::entities::{notification, notification_preference as pref, push_outbox};
use crate::error::ApiError;

/// Something happened that some accounts should learn about.
pub struct Event {
    pub kind: EventKind,
    /// The record it concerns.
    pub person_id: Option<Uuid>,
    /// Ids to fetch (`documentId`, `alertId`, …): strings only, no health data.
    pub data: BTreeMap<String, String>,
    pub recipients: BTreeSet<Uuid>,
    /// Also tells the controllers of this person (their own account and
    /// guardians), found in the same query as the recipients' devices.
    pub controllers_of: Option<Uuid>,
    /// The device that made the change: it needs no poke.
    pub except_device: Option<Uuid>,
}

impl Event {
    pub fn new(kind: EventKind, person_id: Option<Uuid>, recipients: BTreeSet<Uuid>) -> Self {
        Event {
            kind,
            person_id,
            data: BTreeMap::new(),
            recipients,
            controllers_of: None,
            except_device: None,
        }
    }

    /// An event for the controllers of `person_id`: their own account and guardians.
    pub fn to_controllers(kind: EventKind, person_id: Uuid) -> Self {
        Event { controllers_of: Some(person_id), ..Event::new(kind, Some(person_id), BTreeSet::new()) }
    }

    pub fn with(mut self, key: &str, value: impl ToString) -> Self {
        self.data.insert(key.to_owned(), value.to_string());
        self
    }
}

/// The account's quiet hours, if any, in its own time zone.
pub struct Preferences {
    pub disabled: BTreeSet<EventKind>,
    pub quiet: Option<(NaiveTime, NaiveTime)>,
    pub tz: Tz,
}

pub async fn preferences(db: &impl ConnectionTrait, account_id: Uuid) -> Result<Preferences, ApiError> {
    Ok(recipients(db, &[account_id].into(), None).await?.remove(&account_id).map(|r| r.0).unwrap_or_default())
}

impl Default for Preferences {
    fn default() -> Self {
        Preferences { disabled: BTreeSet::new(), quiet: None, tz: chrono_tz::Asia::Tokyo }
    }
}

/// Each existing account's preferences and devices with a push token, for all
/// of an event's recipients in one round trip: this runs on every upload.
async fn recipients(
    db: &impl ConnectionTrait,
    accounts: &BTreeSet<Uuid>,
    controllers_of: Option<Uuid>,
) -> Result<BTreeMap<Uuid, (Preferences, Vec<Uuid>)>, ApiError> {
    let mut out: BTreeMap<Uuid, (Preferences, Vec<Uuid>)> = BTreeMap::new();
    // The wanted accounts drive the join (a derived table, not `a.id IN
    // (…)` against every account): PostgreSQL planned the `IN` over a
    // subquery as a hash join over a scan of all accounts.
    let mut wanted: Vec<String> = (1..=accounts.len()).map(|n| format!("SELECT ${n} AS id")).collect();
    if controllers_of.is_some() {
        wanted.push(crate::consent::policy::controllers_sql(accounts.len() + 1));
    }
    if wanted.is_empty() {
        return Ok(out);
    }
    let sql = format!(
        "SELECT a.id AS account_id, p.time_zone, np.disabled, np.quiet_start, np.quiet_end, d.id AS device_id \
         FROM ({}) w JOIN accounts a ON a.id = w.id JOIN persons p ON p.id = a.person_id \
         LEFT JOIN notification_preferences np ON np.account_id = a.id \
         LEFT JOIN devices d ON d.account_id = a.id AND d.push_token IS NOT NULL \
         ORDER BY a.id, d.id",
        wanted.join(" UNION ")
    );
    let values = accounts.iter().chain(&controllers_of).map(|a| sea_orm::Value::from(*a));
    let t = |s: Option<String>| s.and_then(|s| NaiveTime::parse_from_str(&s, "%H:%M").ok());
    for row in db.query_all_raw(crate::db::statement(db.get_database_backend(), &sql, values)).await? {
        let account_id: Uuid = row.try_get("", "account_id")?;
        let device: Option<Uuid> = row.try_get("", "device_id")?;
        if let Some((_, devices)) = out.get_mut(&account_id) {
            devices.extend(device);
            continue;
        }
        let tz = row.try_get::<String>("", "time_zone")?.parse().unwrap_or(chrono_tz::Asia::Tokyo);
        let disabled = row
            .try_get::<Option<String>>("", "disabled")?
            .unwrap_or_default()
            .split(',')
            .filter_map(EventKind::parse)
            .collect();
        let quiet = t(row.try_get("", "quiet_start")?).zip(t(row.try_get("", "quiet_end")?));
        out.insert(account_id, (Preferences { disabled, quiet, tz }, device.into_iter().collect()));
    }
    Ok(out)
}

/// When quiet hours that hold `now` end (UTC), or `None` outside them.
pub fn quiet_until(quiet: (NaiveTime, NaiveTime), tz: Tz, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let (start, end) = quiet;
    if start == end {
        return None;
    }
    let local = now.with_timezone(&tz);
    let t = local.time();
    let inside = if start < end { t >= start && t < end } else { t >= start || t < end };
    if !inside {
        return None;
    }
    let mut day = local.date_naive();
    if t >= end {
        day = day.succ_opt()?;
    }
    day.and_time(end).and_local_timezone(tz).earliest().map(|d| d.with_timezone(&Utc))
}

/// Writes the event's inbox entries and pushes. Sync pokes have no inbox
/// entry and ignore quiet hours (they are silent); emergencies ignore quiet
/// hours and preferences.
pub async fn emit(db: &impl ConnectionTrait, e: Event) -> Result<(), ApiError> {
    let now = Utc::now();
    let data = serde_json::to_string(&{
        let mut d = e.data.clone();
        d.insert("event".into(), e.kind.as_str().into());
        if let Some(p) = e.person_id {
            d.insert("personId".into(), p.to_string());
        }
        d
    })
    .map_err(|err| ApiError::Internal(err.into()))?;
    let mut found = recipients(db, &e.recipients, e.controllers_of).await?;
    // The controllers of a person are those the query found beyond the named recipients.
    let told: BTreeSet<Uuid> = e.recipients.iter().chain(found.keys()).copied().collect();
    for account_id in &told {
        let (prefs, devices) = found.remove(account_id).unwrap_or_default();
        if !e.kind.is_emergency() && prefs.disabled.contains(&e.kind) {
            continue;
        }
        let mut notification_id = None;
        if e.kind != EventKind::Sync {
            let n = notification::ActiveModel::from(notification::Model {
                id: Uuid::now_v7(),
                account_id: *account_id,
                person_id: e.person_id,
                event: e.kind.as_str().into(),
                data: data.clone(),
                priority: if e.kind.is_emergency() { "high".into() } else { "normal".into() },
                created_at: now,
                read_at: None,
            })
            .insert(db)
            .await?;
            notification_id = Some(n.id);
        }
        let due = match (e.kind, prefs.quiet) {
            (EventKind::Sync | EventKind::EmergencyAccess, _) | (_, None) => now,
            (_, Some(q)) => quiet_until(q, prefs.tz, now).unwrap_or(now),
        };
        let mut push_data = e.data.clone();
        push_data.insert("event".into(), e.kind.as_str().into());
        if let Some(p) = e.person_id {
            push_data.insert("personId".into(), p.to_string());
        }
        if let Some(n) = notification_id {
            push_data.insert("notificationId".into(), n.to_string());
        }
        let push_data = serde_json::to_string(&push_data).map_err(|err| ApiError::Internal(err.into()))?;
        for device_id in devices {
            if Some(device_id) == e.except_device {
                continue;
            }
            let kind = match e.kind {
                EventKind::Sync => "sync",
                EventKind::EmergencyAccess => "emergency",
                _ => "alert",
            };
            push_outbox::ActiveModel::from(push_outbox::Model {
                id: Uuid::now_v7(),
                notification_id,
                device_id,
                kind: kind.into(),
                data: push_data.clone(),
                status: "pending".into(),
                attempts: 0,
                next_attempt_at: due,
                last_error: None,
                message_name: None,
                created_at: now,
                sent_at: None,
            })
            .insert(db)
            .await?;
        }
    }
    Ok(())
}

/// A page of the account's inbox, newest first.
pub async fn inbox(
    db: &impl ConnectionTrait,
    account_id: Uuid,
    before: Option<Uuid>,
    limit: u64,
) -> Result<Vec<notification::Model>, ApiError> {
    let mut q = notification::Entity::find().filter(notification::Column::AccountId.eq(account_id));
    if let Some(b) = before {
        q = q.filter(notification::Column::Id.lt(b));
    }
    Ok(q.order_by_desc(notification::Column::Id).limit(limit + 1).all(db).await?)
}

pub async fn mark_read(
    db: &impl ConnectionTrait,
    account_id: Uuid,
    id: Uuid,
) -> Result<notification::Model, ApiError> {
    let n = notification::Entity::find_by_id(id)
        .filter(notification::Column::AccountId.eq(account_id))
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found("notification"))?;
    if n.read_at.is_some() {
        return Ok(n);
    }
    let mut a: notification::ActiveModel = n.into();
    a.read_at = Set(Some(Utc::now()));
    Ok(a.update(db).await?)
}

pub async fn save_preferences(
    db: &impl ConnectionTrait,
    account_id: Uuid,
    disabled: &BTreeSet<EventKind>,
    quiet: Option<(String, String)>,
) -> Result<(), ApiError> {
    let disabled: Vec<&str> = disabled.iter().map(|k| k.as_str()).collect();
    let row = pref::Model {
        account_id,
        disabled: disabled.join(","),
        quiet_start: quiet.as_ref().map(|q| q.0.clone()),
        quiet_end: quiet.map(|q| q.1),
        updated_at: Utc::now(),
    };
    match pref::Entity::find_by_id(account_id).one(db).await? {
        Some(_) => {
            pref::ActiveModel::from(row).reset_all().update(db).await?;
        }
        None => {
            pref::ActiveModel::from(row).insert(db).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    #[test]
    fn quiet_hours_across_midnight_end_the_next_morning() {
        let tz = chrono_tz::Asia::Tokyo;
        let night = (t(22, 0), t(7, 0));
        // 23:30 JST = 14:30 UTC → until 07:00 JST the next day = 22:00 UTC.
        let now = "2026-11-26T14:30:00Z".parse::<DateTime<Utc>>().unwrap();
        assert_eq!(quiet_until(night, tz, now).unwrap().to_rfc3339(), "2026-11-26T22:00:00+00:00");
        // 06:00 JST = 21:00 UTC the day before → 07:00 JST same day.
        let early = "2026-11-26T21:00:00Z".parse::<DateTime<Utc>>().unwrap();
        assert_eq!(quiet_until(night, tz, early).unwrap().to_rfc3339(), "2026-11-26T22:00:00+00:00");
        // 12:00 JST: not quiet.
        let noon = "2026-11-26T03:00:00Z".parse::<DateTime<Utc>>().unwrap();
        assert!(quiet_until(night, tz, noon).is_none());
        assert!(quiet_until((t(13, 0), t(14, 0)), tz, noon).is_none());
        assert!(quiet_until((t(11, 0), t(14, 0)), tz, noon).is_some());
    }
}
