//! Daily roll-ups: count, and per value slot count, sum, min and max, per
//! person, kind and local day in the person's time zone. Written in the same
//! transaction as the observations (only rows actually inserted), recomputed
//! for the day on a delete, and read by summaries in the person's own zone.

use std::collections::BTreeMap;

use chrono::{NaiveDate, TimeZone};
use chrono_tz::Tz;
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, Value};
use uuid::Uuid;

use super::SLOTS;
use super::catalogue;
use crate::entities::observation;

fn epoch() -> NaiveDate {
    chrono::DateTime::UNIX_EPOCH.date_naive()
}

/// The local calendar day of an instant, as days since 1970-01-01.
pub fn local_day(ms: i64, tz: Tz) -> i32 {
    let date = tz.timestamp_millis_opt(ms).single().map(|t| t.date_naive()).unwrap_or_else(epoch);
    (date - epoch()).num_days() as i32
}

pub fn day_date(day: i32) -> NaiveDate {
    epoch() + chrono::Duration::days(day as i64)
}

/// The values a row contributes per slot: its quantities, or for kinds
/// without one (sleep) its duration in minutes.
pub fn slot_values(row: &observation::Model) -> [Option<f64>; SLOTS] {
    let has_values =
        catalogue::kind(&row.kind).is_some_and(|k| k.quantity.is_some() || !k.components.is_empty());
    if has_values {
        [row.value0, row.value1, row.value2]
    } else {
        [row.end_ms.map(|e| (e - row.start_ms) as f64 / 60_000.0), None, None]
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Slot {
    pub count: i64,
    pub sum: f64,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

impl Slot {
    fn add(&mut self, v: f64) {
        self.count += 1;
        self.sum += v;
        self.min = Some(self.min.map_or(v, |m| m.min(v)));
        self.max = Some(self.max.map_or(v, |m| m.max(v)));
    }

    pub fn merge(&mut self, o: &Slot) {
        self.count += o.count;
        self.sum += o.sum;
        self.min = match (self.min, o.min) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.max = match (self.max, o.max) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Day {
    pub count: i64,
    pub slots: [Slot; SLOTS],
}

impl Day {
    fn add(&mut self, row: &observation::Model) {
        self.count += 1;
        for (slot, v) in self.slots.iter_mut().zip(slot_values(row)) {
            if let Some(v) = v {
                slot.add(v);
            }
        }
    }
}

fn ph(backend: DbBackend, n: usize) -> String {
    if backend == DbBackend::Postgres { format!("${n}") } else { "?".into() }
}

const COLS: &str =
    "person_id, kind, tz, day, count, cnt0, sum0, min0, max0, cnt1, sum1, min1, max1, cnt2, sum2, min2, max2";

fn values(person_id: Uuid, kind: &str, tz: &str, day: i32, d: &Day) -> Vec<Value> {
    let mut v: Vec<Value> = vec![person_id.into(), kind.into(), tz.into(), day.into(), d.count.into()];
    for s in &d.slots {
        v.extend([s.count.into(), s.sum.into(), s.min.into(), s.max.into()]);
    }
    v
}

/// Adds freshly inserted rows to their days' roll-ups.
pub async fn add<'a>(
    db: &impl ConnectionTrait,
    person_id: Uuid,
    tz_name: &str,
    rows: impl Iterator<Item = &'a observation::Model>,
) -> Result<(), DbErr> {
    let tz: Tz = tz_name.parse().unwrap_or(chrono_tz::Asia::Tokyo);
    let mut days: BTreeMap<(String, i32), Day> = BTreeMap::new();
    for r in rows {
        days.entry((r.kind.clone(), local_day(r.start_ms, tz))).or_default().add(r);
    }
    if days.is_empty() {
        return Ok(());
    }
    let backend = db.get_database_backend();
    let merge = |c: &str, pick: &str| {
        format!(
            "{c} = CASE WHEN observation_rollups.{c} IS NULL THEN excluded.{c} \
             WHEN excluded.{c} IS NULL THEN observation_rollups.{c} \
             WHEN excluded.{c} {pick} observation_rollups.{c} THEN excluded.{c} ELSE observation_rollups.{c} END"
        )
    };
    let mut sets = vec!["count = observation_rollups.count + excluded.count".to_owned()];
    for i in 0..SLOTS {
        sets.push(format!("cnt{i} = observation_rollups.cnt{i} + excluded.cnt{i}"));
        sets.push(format!("sum{i} = observation_rollups.sum{i} + excluded.sum{i}"));
        sets.push(merge(&format!("min{i}"), "<"));
        sets.push(merge(&format!("max{i}"), ">"));
    }
    // Every touched day in one statement (a batch spans few days and kinds;
    // each (kind, day) appears once, as ON CONFLICT DO UPDATE requires).
    let days: Vec<((String, i32), Day)> = days.into_iter().collect();
    for chunk in days.chunks(ROLLUP_CHUNK) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|r| {
                let cols: Vec<String> = (1..=17).map(|n| ph(backend, r * 17 + n)).collect();
                format!("({})", cols.join(", "))
            })
            .collect();
        let sql = format!(
            "INSERT INTO observation_rollups ({COLS}) VALUES {} \
             ON CONFLICT (person_id, kind, tz, day) DO UPDATE SET {}",
            rows.join(", "),
            sets.join(", ")
        );
        let values: Vec<Value> =
            chunk.iter().flat_map(|((kind, day), d)| values(person_id, kind, tz_name, *day, d)).collect();
        db.execute_raw(Statement::from_sql_and_values(backend, &sql, values)).await?;
    }
    Ok(())
}

/// Days per roll-up INSERT: 17 parameters each stays under every bind limit.
const ROLLUP_CHUNK: usize = 100;

/// Rebuilds one day's roll-up from the live rows (after a delete).
pub async fn recompute(
    db: &impl ConnectionTrait,
    person_id: Uuid,
    tz_name: &str,
    kind: &str,
    day: i32,
) -> Result<(), DbErr> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let tz: Tz = tz_name.parse().unwrap_or(chrono_tz::Asia::Tokyo);
    let start = super::summary::local_midnight(tz, day_date(day)).timestamp_millis();
    let end = super::summary::local_midnight(tz, day_date(day + 1)).timestamp_millis();
    let rows = observation::Entity::find()
        .filter(observation::Column::PersonId.eq(person_id))
        .filter(observation::Column::Kind.eq(kind))
        .filter(observation::Column::StartMs.gte(start))
        .filter(observation::Column::StartMs.lt(end))
        .filter(observation::Column::DeletedAt.is_null())
        .all(db)
        .await?;
    let backend = db.get_database_backend();
    let del = format!(
        "DELETE FROM observation_rollups WHERE person_id = {} AND kind = {} AND tz = {} AND day = {}",
        ph(backend, 1),
        ph(backend, 2),
        ph(backend, 3),
        ph(backend, 4)
    );
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        del,
        [person_id.into(), kind.into(), tz_name.into(), day.into()],
    ))
    .await?;
    add(db, person_id, tz_name, rows.iter()).await
}

/// Roll-ups of `kind` for local days `from..to`, by day.
pub async fn read(
    db: &impl ConnectionTrait,
    person_id: Uuid,
    kind: &str,
    tz_name: &str,
    from: i32,
    to: i32,
) -> Result<BTreeMap<i32, Day>, DbErr> {
    let backend = db.get_database_backend();
    let sql = format!(
        "SELECT day, count, cnt0, sum0, min0, max0, cnt1, sum1, min1, max1, cnt2, sum2, min2, max2 \
         FROM observation_rollups WHERE person_id = {} AND kind = {} AND tz = {} AND day >= {} AND day < {} ORDER BY day",
        ph(backend, 1),
        ph(backend, 2),
        ph(backend, 3),
        ph(backend, 4),
        ph(backend, 5)
    );
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [person_id.into(), kind.into(), tz_name.into(), from.into(), to.into()],
        ))
        .await?;
    let mut out = BTreeMap::new();
    for r in rows {
        let mut d = Day { count: r.try_get_by_index(1)?, ..Default::default() };
        for (i, s) in d.slots.iter_mut().enumerate() {
            let b = 2 + i * 4;
            *s = Slot {
                count: r.try_get_by_index(b)?,
                sum: r.try_get_by_index(b + 1)?,
                min: r.try_get_by_index(b + 2)?,
                max: r.try_get_by_index(b + 3)?,
            };
        }
        out.insert(r.try_get_by_index::<i32>(0)?, d);
    }
    Ok(out)
}
