//! Trend summaries: count, min, max, mean and sum per day, week (Monday
//! start) or month, in the person's time zone, aggregated by the database.
//!
//! Bucket boundaries are computed here from the IANA zone (so daylight saving
//! elsewhere is right too) and joined in SQL as a `VALUES` list: each bucket
//! is one range scan of `(person_id, kind, start_ms)` and the aggregation never
//! leaves the database.

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, Value};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::SLOTS;
use super::catalogue::KindSpec;
use super::model::slot_unit;

pub const MAX_BUCKETS: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum BucketSize {
    Day,
    Week,
    Month,
}

/// A local date at midnight in `tz`, as a UTC instant (the first valid instant
/// if midnight is skipped by a DST change).
pub fn local_midnight(tz: Tz, d: NaiveDate) -> DateTime<Utc> {
    let mut t = d.and_hms_opt(0, 0, 0).unwrap_or_default();
    for _ in 0..4 {
        match tz.from_local_datetime(&t) {
            LocalResult::Single(x) | LocalResult::Ambiguous(x, _) => return x.with_timezone(&Utc),
            LocalResult::None => t += Duration::minutes(30),
        }
    }
    Utc.from_utc_datetime(&t)
}

fn bucket_start_date(size: BucketSize, d: NaiveDate) -> NaiveDate {
    match size {
        BucketSize::Day => d,
        BucketSize::Week => d - Duration::days(d.weekday().num_days_from_monday() as i64),
        BucketSize::Month => d.with_day(1).unwrap_or(d),
    }
}

fn next_date(size: BucketSize, d: NaiveDate) -> NaiveDate {
    match size {
        BucketSize::Day => d + Duration::days(1),
        BucketSize::Week => d + Duration::days(7),
        BucketSize::Month => d.checked_add_months(chrono::Months::new(1)).unwrap_or(d),
    }
}

/// `[start, end)` bucket boundaries in UTC covering `from..to` in `tz`.
/// `None` if there would be more than [`MAX_BUCKETS`].
pub fn buckets(
    size: BucketSize,
    tz: Tz,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Option<Vec<(DateTime<Utc>, DateTime<Utc>)>> {
    let mut d = bucket_start_date(size, from.with_timezone(&tz).date_naive());
    let mut out = Vec::new();
    loop {
        let start = local_midnight(tz, d);
        if start >= to {
            break;
        }
        let next = next_date(size, d);
        out.push((start, local_midnight(tz, next)));
        if out.len() > MAX_BUCKETS {
            return None;
        }
        d = next;
    }
    Some(out)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Stats {
    pub count: i64,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub mean: Option<f64>,
    /// Total over the bucket (steps, energy, sleep minutes).
    pub sum: Option<f64>,
    pub unit: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Bucket {
    /// Local start of the bucket, with the zone's offset.
    #[schema(value_type = String, example = "2026-01-06T00:00:00+09:00")]
    pub start: DateTime<chrono::FixedOffset>,
    /// Observations in the bucket.
    pub count: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sum: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Per component, for kinds measured as components (blood pressure).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub components: Option<std::collections::BTreeMap<String, Stats>>,
}

/// What a bucket aggregates for `kind`: `(name, unit, SQL expression)` per slot.
fn measures(kind: &KindSpec) -> Vec<(Option<&'static str>, &'static str, String)> {
    if kind.quantity.is_some() {
        return vec![(None, slot_unit(kind, 0).unwrap_or(""), "o.value0".into())];
    }
    if !kind.components.is_empty() {
        return kind
            .components
            .iter()
            .take(SLOTS)
            .enumerate()
            .map(|(i, c)| (Some(c.name), c.quantity.unit, format!("o.value{i}")))
            .collect();
    }
    // Coded intervals (sleep): the duration is what trends.
    vec![(
        None,
        "min",
        "CAST(o.end_ms - o.start_ms AS DOUBLE PRECISION) / CAST(60000 AS DOUBLE PRECISION)".into(),
    )]
}

fn make_bucket(
    start: DateTime<chrono::FixedOffset>,
    count: i64,
    stats: Vec<(Option<&'static str>, Stats)>,
) -> Bucket {
    if stats.iter().any(|(name, _)| name.is_some()) {
        return Bucket {
            start,
            count,
            min: None,
            max: None,
            mean: None,
            sum: None,
            unit: None,
            components: Some(stats.into_iter().map(|(n, s)| (n.unwrap_or("").to_owned(), s)).collect()),
        };
    }
    let s = stats.into_iter().next().map(|(_, s)| s);
    Bucket {
        start,
        count,
        min: s.as_ref().and_then(|s| s.min),
        max: s.as_ref().and_then(|s| s.max),
        mean: s.as_ref().and_then(|s| s.mean),
        sum: s.as_ref().and_then(|s| s.sum),
        unit: s.map(|s| s.unit),
        components: None,
    }
}

/// The same buckets from the daily roll-ups, for the zone they were kept in.
pub async fn summarize_rollups(
    db: &impl ConnectionTrait,
    person_id: Uuid,
    kind: &'static KindSpec,
    tz: Tz,
    bounds: &[(DateTime<Utc>, DateTime<Utc>)],
) -> Result<Vec<Bucket>, DbErr> {
    use super::rollup::{self, Day};
    let (Some(first), Some(last)) = (bounds.first(), bounds.last()) else { return Ok(vec![]) };
    let day = |t: DateTime<Utc>| rollup::local_day(t.timestamp_millis(), tz);
    let days = rollup::read(db, person_id, kind.name, tz.name(), day(first.0), day(last.1)).await?;
    let m = measures(kind);
    let mut out = Vec::with_capacity(bounds.len());
    for (start, end) in bounds {
        let mut acc = Day::default();
        for (_, d) in days.range(day(*start)..day(*end)) {
            acc.count += d.count;
            for (a, s) in acc.slots.iter_mut().zip(&d.slots) {
                a.merge(s);
            }
        }
        let local = start.with_timezone(&tz).fixed_offset();
        if acc.count == 0 {
            out.push(Bucket {
                start: local,
                count: 0,
                min: None,
                max: None,
                mean: None,
                sum: None,
                unit: None,
                components: None,
            });
            continue;
        }
        let stats = m
            .iter()
            .zip(&acc.slots)
            .map(|((name, unit, _), s)| {
                let has = s.count > 0;
                (
                    *name,
                    Stats {
                        count: s.count,
                        min: round(s.min),
                        max: round(s.max),
                        mean: round(has.then(|| s.sum / s.count as f64)),
                        sum: round(has.then_some(s.sum)),
                        unit: (*unit).to_owned(),
                    },
                )
            })
            .collect();
        out.push(make_bucket(local, acc.count, stats));
    }
    Ok(out)
}

fn round(v: Option<f64>) -> Option<f64> {
    v.map(|x| (x * 10_000.0).round() / 10_000.0)
}

pub async fn summarize(
    db: &impl ConnectionTrait,
    person_id: Uuid,
    kind: &'static KindSpec,
    tz: Tz,
    bounds: &[(DateTime<Utc>, DateTime<Utc>)],
) -> Result<Vec<Bucket>, DbErr> {
    if bounds.is_empty() {
        return Ok(vec![]);
    }
    let backend = db.get_database_backend();
    let mut values: Vec<Value> = Vec::with_capacity(bounds.len() * 2 + 2);
    let mut n = 0;
    let mut ph = || {
        n += 1;
        match backend {
            DbBackend::Postgres => format!("${n}"),
            _ => "?".to_owned(),
        }
    };
    let rows_sql: Vec<String> = bounds
        .iter()
        .map(|(s, e)| {
            values.push(s.timestamp_millis().into());
            values.push(e.timestamp_millis().into());
            let cast = if backend == DbBackend::Postgres { "::bigint" } else { "" };
            format!("({}{cast}, {}{cast})", ph(), ph())
        })
        .collect();
    let m = measures(kind);
    let aggs: Vec<String> =
        m.iter().map(|(_, _, x)| format!("COUNT({x}), MIN({x}), MAX({x}), AVG({x}), SUM({x})")).collect();
    let (p_person, p_kind) = (ph(), ph());
    values.push(person_id.into());
    values.push(kind.name.into());
    let sql = format!(
        "WITH b(bs, be) AS (VALUES {rows}) \
         SELECT b.bs, COUNT(o.id), {aggs} FROM b \
         JOIN observations o ON o.person_id = {p_person} AND o.kind = {p_kind} AND o.deleted_at IS NULL \
           AND o.start_ms >= b.bs AND o.start_ms < b.be \
         GROUP BY b.bs ORDER BY b.bs",
        rows = rows_sql.join(", "),
        aggs = aggs.join(", "),
    );
    let found = db.query_all_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
    let mut by_start = std::collections::HashMap::new();
    for row in found {
        by_start.insert(row.try_get_by_index::<i64>(0)?, row);
    }
    let mut out = Vec::with_capacity(bounds.len());
    for (start, _) in bounds {
        let local = start.with_timezone(&tz).fixed_offset();
        let Some(row) = by_start.get(&start.timestamp_millis()) else {
            out.push(Bucket {
                start: local,
                count: 0,
                min: None,
                max: None,
                mean: None,
                sum: None,
                unit: None,
                components: None,
            });
            continue;
        };
        let count: i64 = row.try_get_by_index(1)?;
        let mut stats = Vec::new();
        for (i, (name, unit, _)) in m.iter().enumerate() {
            let base = 2 + i * 5;
            stats.push((
                *name,
                Stats {
                    count: row.try_get_by_index(base)?,
                    min: round(row.try_get_by_index(base + 1)?),
                    max: round(row.try_get_by_index(base + 2)?),
                    mean: round(row.try_get_by_index(base + 3)?),
                    sum: round(row.try_get_by_index(base + 4)?),
                    unit: (*unit).to_owned(),
                },
            ));
        }
        let bucket = make_bucket(local, count, stats);
        out.push(bucket);
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn jst_days_start_at_local_midnight() {
        let b = buckets(
            BucketSize::Day,
            chrono_tz::Asia::Tokyo,
            utc("2026-01-05T16:00:00Z"),
            utc("2026-01-07T15:00:00Z"),
        )
        .unwrap();
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].0, utc("2026-01-05T15:00:00Z"), "2026-01-06 00:00 JST");
        assert_eq!(b[1], (utc("2026-01-06T15:00:00Z"), utc("2026-01-07T15:00:00Z")));
    }

    #[test]
    fn weeks_start_on_monday_and_months_on_the_first() {
        let w = buckets(
            BucketSize::Week,
            chrono_tz::Asia::Tokyo,
            utc("2026-01-07T00:00:00Z"),
            utc("2026-01-08T00:00:00Z"),
        )
        .unwrap();
        assert_eq!(w[0].0.with_timezone(&chrono_tz::Asia::Tokyo).weekday(), chrono::Weekday::Mon);
        let m = buckets(
            BucketSize::Month,
            chrono_tz::Asia::Tokyo,
            utc("2026-01-20T00:00:00Z"),
            utc("2026-03-02T00:00:00Z"),
        )
        .unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m[1].0, utc("2026-01-31T15:00:00Z"), "2026-02-01 00:00 JST");
    }

    #[test]
    fn daylight_saving_days_have_23_and_25_hours() {
        let ny = chrono_tz::America::New_York;
        let b =
            buckets(BucketSize::Day, ny, utc("2026-03-08T06:00:00Z"), utc("2026-03-09T06:00:00Z")).unwrap();
        assert_eq!(b[0].1 - b[0].0, Duration::hours(23));
        let b =
            buckets(BucketSize::Day, ny, utc("2026-11-01T06:00:00Z"), utc("2026-11-02T06:00:00Z")).unwrap();
        assert_eq!(b[0].1 - b[0].0, Duration::hours(25));
    }

    #[test]
    fn too_many_buckets_is_refused() {
        assert!(
            buckets(
                BucketSize::Day,
                chrono_tz::UTC,
                utc("2020-01-01T00:00:00Z"),
                utc("2026-01-01T00:00:00Z")
            )
            .is_none()
        );
    }
}
