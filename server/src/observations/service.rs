//! Observation rules: per-item validation, idempotent batch upload with
//! cross-device de-duplication, listing, latest values and soft deletion.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, FixedOffset, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::Value;
use uuid::Uuid;

use super::catalogue::{self, CanonicalValue, Effective, KindSpec, ObservationValueInput};
use super::model::{ECHOED_FIELDS, ItemResult, ItemStatus, Observation, ObservationIn, Original};
use super::{SLOTS, rollup, store};
use crate::category::Category;
use crate::consent::Access;
use crate::db::begin_write;
use crate::entities::observation;
use crate::error::{ApiError, FieldError};
use crate::http::Page;

/// How far ahead of the server clock an observation may start (clock skew).
const MAX_START_AHEAD_MIN: i64 = 10;
/// How far ahead an interval may end (a day's step total is sent during the day).
const MAX_END_AHEAD_H: i64 = 26;
const MAX_NOTE_CHARS: usize = 2000;
const MAX_SOURCE_CHARS: usize = 100;

/// An item that passed validation, ready to insert.
pub struct Prepared {
    pub index: usize,
    pub row: observation::Model,
}

fn parse_time(raw: Option<&str>, path: &str, errors: &mut Vec<FieldError>) -> Option<DateTime<FixedOffset>> {
    let raw = raw?;
    match DateTime::parse_from_rfc3339(raw.trim()) {
        Ok(t) => Some(t),
        Err(_) => {
            let naive = chrono::NaiveDateTime::parse_from_str(raw.trim(), "%Y-%m-%dT%H:%M:%S%.f").is_ok();
            errors.push(FieldError::new(
                path,
                if naive {
                    "has no UTC offset; send e.g. 2026-01-06T07:30:00+09:00".to_owned()
                } else {
                    "must be an RFC 3339 timestamp with an offset, e.g. 2026-01-06T07:30:00+09:00".to_owned()
                },
            ));
            None
        }
    }
}

fn check_when(effective: &Effective, now: DateTime<Utc>, errors: &mut Vec<FieldError>) {
    let (start_path, start) = match effective {
        Effective::Instant(t) => ("effectiveAt", *t),
        Effective::Interval { start, .. } => ("effectiveStart", *start),
    };
    if start.with_timezone(&Utc) > now + Duration::minutes(MAX_START_AHEAD_MIN) {
        errors.push(FieldError::new(start_path, "is in the future"));
    }
    if chrono::Datelike::year(&start) < 1900 {
        errors.push(FieldError::new(start_path, "is before 1900"));
    }
    if let Effective::Interval { end, .. } = effective
        && end.with_timezone(&Utc) > now + Duration::hours(MAX_END_AHEAD_H)
    {
        errors.push(FieldError::new("effectiveEnd", "is more than a day in the future"));
    }
}

fn hash_hex(parts: &[&str]) -> String {
    crate::hash::sha256_fields(parts)
}

fn fmt_slot(v: Option<f64>) -> String {
    v.map(|v| format!("{v}")).unwrap_or_default()
}

/// Validates one raw item. `Err` carries the id as sent (if readable) and the errors.
pub fn prepare(
    raw: &Value,
    person_id: Uuid,
    allowed: &BTreeSet<Category>,
    now: DateTime<Utc>,
) -> Result<observation::Model, (Option<String>, Vec<FieldError>)> {
    let raw_id = raw.get("id").and_then(Value::as_str).map(str::to_owned);
    let input: ObservationIn = serde_path_to_error::deserialize(raw).map_err(|e| {
        let path = e.path().to_string().replace('.', "/");
        let msg = e.inner().to_string();
        let path = if path == "." || path.is_empty() {
            msg.split('`').nth(1).filter(|_| msg.starts_with("missing field")).unwrap_or("").to_owned()
        } else {
            path
        };
        (raw_id.clone(), vec![FieldError::new(path, msg)])
    })?;
    let mut errors = Vec::new();
    let id = match Uuid::parse_str(input.id.trim()) {
        Ok(id) => Some(id),
        Err(_) => {
            errors.push(FieldError::new("id", "must be a UUID"));
            None
        }
    };
    for key in input.extra.keys() {
        if !ECHOED_FIELDS.contains(&key.as_str()) {
            errors.push(FieldError::new(key.clone(), "is not a field of an observation"));
        }
    }
    let effective_at = parse_time(input.effective_at.as_deref(), "effectiveAt", &mut errors);
    let effective_start = parse_time(input.effective_start.as_deref(), "effectiveStart", &mut errors);
    let effective_end = parse_time(input.effective_end.as_deref(), "effectiveEnd", &mut errors);
    let times_ok = errors.iter().all(|e| !e.path.starts_with("effective"));
    for (path, v) in [("source/app", &input.source.app), ("source/device", &input.source.device)] {
        if v.as_ref().is_some_and(|s| s.chars().count() > MAX_SOURCE_CHARS) {
            errors.push(FieldError::new(path, format!("must be at most {MAX_SOURCE_CHARS} characters")));
        }
    }
    if input.note.as_ref().is_some_and(|n| n.chars().count() > MAX_NOTE_CHARS) {
        errors.push(FieldError::new("note", format!("must be at most {MAX_NOTE_CHARS} characters")));
    }
    let value_input = ObservationValueInput {
        kind: input.kind.clone(),
        value: input.value,
        unit: input.unit.clone(),
        components: input.components.clone(),
        code: input.code.clone(),
        text: input.text.clone(),
        effective_at,
        effective_start,
        effective_end,
    };
    let canonical = match catalogue::normalize(&value_input) {
        Ok(c) => Some(c),
        Err(errs) => {
            // Timing errors were already reported precisely by the parser above.
            errors.extend(errs.into_iter().filter(|e| times_ok || !e.path.starts_with("effective")));
            None
        }
    };
    if let Some(c) = &canonical {
        check_when(&c.effective, now, &mut errors);
        if !allowed.contains(&c.kind.category) {
            errors.push(FieldError::new(
                "kind",
                format!("the caller may not write the `{}` category", c.kind.category.as_str()),
            ));
        }
    }
    match (id, canonical) {
        (Some(id), Some(c)) if errors.is_empty() => Ok(to_row(id, person_id, &input, &c, now)),
        _ => Err((raw_id, errors)),
    }
}

fn to_row(
    id: Uuid,
    person_id: Uuid,
    input: &ObservationIn,
    c: &CanonicalValue,
    now: DateTime<Utc>,
) -> observation::Model {
    let kind: &KindSpec = c.kind;
    let mut slots = [None; SLOTS];
    let mut original = Original::default();
    if let Some(q) = &c.value {
        slots[0] = Some(q.value);
        original.value = Some((q.original_value, q.original_unit.clone()));
    }
    for (i, spec) in kind.components.iter().enumerate().take(SLOTS) {
        if let Some(q) = c.components.get(spec.name) {
            slots[i] = Some(q.value);
            original.components.insert(spec.name.to_owned(), (q.original_value, q.original_unit.clone()));
        }
    }
    let (start, end) = (c.effective.start(), c.effective.end());
    let start_ms = start.timestamp_millis();
    let end_ms = matches!(c.effective, Effective::Interval { .. }).then(|| end.timestamp_millis());
    let offset = start.offset().local_minus_utc();
    let original_json = serde_json::to_string(&original).unwrap_or_else(|_| "{}".into());
    let device = input.source.device.clone().unwrap_or_default();
    let end_s = end_ms.map(|e| e.to_string()).unwrap_or_default();
    let start_s = start_ms.to_string();
    let (v0, v1, v2) = (fmt_slot(slots[0]), fmt_slot(slots[1]), fmt_slot(slots[2]));
    let code = c.code.unwrap_or_default();
    let text = c.text.clone().unwrap_or_default();
    // Same sample: kind, time, canonical values and measuring device.
    let dedup_key = hash_hex(&[kind.name, &start_s, &end_s, &v0, &v1, &v2, code, &text, &device]);
    // Same content: everything the client sent that we keep.
    let content_hash = hash_hex(&[
        &dedup_key,
        &offset.to_string(),
        &original_json,
        input.source.app.as_deref().unwrap_or(""),
        input.source.method.as_str(),
        input.note.as_deref().unwrap_or(""),
    ]);
    observation::Model {
        id,
        person_id,
        kind: kind.name.to_owned(),
        category: kind.category.as_str().to_owned(),
        value0: slots[0],
        value1: slots[1],
        value2: slots[2],
        code: c.code.map(str::to_owned),
        text: c.text.clone(),
        original: original_json,
        start_ms,
        end_ms,
        utc_offset_s: offset,
        source_app: input.source.app.clone(),
        source_device: input.source.device.clone(),
        source_method: input.source.method.as_str().to_owned(),
        note: input.note.clone(),
        content_hash,
        dedup_key,
        version: 1,
        created_at: now,
        updated_at: now,
        deleted_at: None,
        change_seq: 0,
    }
}

fn rejected(id: Option<String>, errors: Vec<FieldError>) -> ItemResult {
    ItemResult { id, status: ItemStatus::Rejected, version: None, submitted_id: None, errors }
}

/// Validates every item, stores the valid ones in one transaction and reports
/// each item's fate in input order. In the same transaction, alert rules are
/// evaluated on what was stored and the record's other devices are poked
/// (`origin`: the device that sent it, when known).
pub async fn upload_batch(
    db: &DatabaseConnection,
    access: &Access,
    items: &[Value],
    origin: Option<Uuid>,
) -> Result<Vec<ItemResult>, ApiError> {
    let now = Utc::now();
    let mut results: Vec<Option<ItemResult>> = vec![None; items.len()];
    let mut prepared: Vec<Prepared> = Vec::with_capacity(items.len());
    let mut first_index: HashMap<Uuid, usize> = HashMap::new();
    for (index, raw) in items.iter().enumerate() {
        match prepare(raw, access.person_id, &access.categories, now) {
            Ok(row) => {
                if let Some(first) = first_index.get(&row.id) {
                    results[index] = Some(rejected(
                        Some(row.id.to_string()),
                        vec![FieldError::new("id", format!("is also used by item {first} of this batch"))],
                    ));
                } else {
                    first_index.insert(row.id, index);
                    prepared.push(Prepared { index, row });
                }
            }
            Err((id, errors)) => results[index] = Some(rejected(id, errors)),
        }
    }
    if !prepared.is_empty() {
        // One lock order for every writer: two phones inserting the same samples
        // in different orders could otherwise deadlock on PostgreSQL.
        prepared.sort_by(|a, b| a.row.dedup_key.cmp(&b.row.dedup_key));
        let txn = begin_write(db).await?;
        // Change numbers for the feed, taken inside this transaction (see `sync`).
        let (first, tz) =
            crate::sync::clock::advance_in_zone(&txn, access.person_id, prepared.len() as i64).await?;
        for (i, p) in prepared.iter_mut().enumerate() {
            p.row.change_seq = first + i as i64;
        }
        let inserted = store::insert_new(&txn, prepared.iter().map(|p| &p.row)).await?;
        rollup::add(
            &txn,
            access.person_id,
            &tz,
            prepared.iter().filter(|p| inserted.contains(&p.row.id)).map(|p| &p.row),
        )
        .await?;
        let stored: Vec<&observation::Model> =
            prepared.iter().filter(|p| inserted.contains(&p.row.id)).map(|p| &p.row).collect();
        if !stored.is_empty() {
            crate::alerts::service::evaluate(&txn, access.person_id, &stored).await?;
            let mut poke =
                crate::notify::Event::to_controllers(crate::notify::EventKind::Sync, access.person_id);
            poke.except_device = origin;
            crate::notify::emit(&txn, poke).await?;
        }
        let skipped: Vec<&Prepared> = prepared.iter().filter(|p| !inserted.contains(&p.row.id)).collect();
        let by_id = store::find_by_ids(&txn, skipped.iter().map(|p| p.row.id)).await?;
        let by_key = store::find_by_dedup_keys(
            &txn,
            access.person_id,
            skipped.iter().map(|p| p.row.dedup_key.as_str()),
        )
        .await?;
        txn.commit().await?;
        for p in &prepared {
            let sent = p.row.id.to_string();
            let result = if inserted.contains(&p.row.id) {
                ItemResult {
                    id: Some(sent),
                    status: ItemStatus::Created,
                    version: Some(1),
                    submitted_id: None,
                    errors: vec![],
                }
            } else if let Some(existing) = by_id.get(&p.row.id) {
                if existing.person_id == p.row.person_id && existing.content_hash == p.row.content_hash {
                    ItemResult {
                        id: Some(sent),
                        status: ItemStatus::Unchanged,
                        version: Some(existing.version),
                        submitted_id: None,
                        errors: vec![],
                    }
                } else {
                    ItemResult {
                        id: Some(sent),
                        status: ItemStatus::Conflict,
                        version: (existing.person_id == p.row.person_id).then_some(existing.version),
                        submitted_id: None,
                        errors: vec![FieldError::new(
                            "id",
                            "an observation with this id exists with different content",
                        )],
                    }
                }
            } else if let Some(existing) = by_key.get(&p.row.dedup_key) {
                ItemResult {
                    id: Some(existing.id.to_string()),
                    status: ItemStatus::Unchanged,
                    version: Some(existing.version),
                    submitted_id: Some(sent),
                    errors: vec![],
                }
            } else {
                // Neither inserted nor found: a concurrent writer removed it; say so.
                return Err(ApiError::Internal(anyhow::anyhow!(
                    "observation {} neither inserted nor found",
                    p.row.id
                )));
            };
            results[p.index] = Some(result);
        }
    }
    Ok(results.into_iter().map(|r| r.unwrap_or_else(|| rejected(None, vec![]))).collect())
}

pub struct ListFilter {
    pub kind: Option<&'static KindSpec>,
    pub category: Option<Category>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub limit: u64,
    pub cursor: Option<(i64, Uuid)>,
}

pub async fn list(
    db: &impl ConnectionTrait,
    access: &Access,
    f: ListFilter,
) -> Result<Page<Observation>, ApiError> {
    let categories: Vec<Category> = match f.category {
        Some(c) => vec![c],
        None => access.categories.iter().copied().collect(),
    };
    let rows = store::list(db, access.person_id, &categories, &f).await?;
    Ok(Page::from_rows(rows, f.limit, |r| (r.start_ms, r.id)).map(Observation::from_row))
}

pub async fn get(db: &impl ConnectionTrait, access: &Access, id: Uuid) -> Result<Observation, ApiError> {
    let row = store::find_live(db, access.person_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("observation"))?;
    let category: Category = row.category.parse().map_err(|_| ApiError::not_found("observation"))?;
    access.require(category)?;
    Ok(Observation::from_row(row))
}

/// Soft delete. Deleting an already deleted observation succeeds again, so a
/// retried request does not fail; its id stays taken.
pub async fn delete(db: &DatabaseConnection, access: &Access, id: Uuid) -> Result<(), ApiError> {
    let txn = begin_write(db).await?;
    let row = store::find_any(&txn, access.person_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("observation"))?;
    let category: Category = row.category.parse().map_err(|_| ApiError::not_found("observation"))?;
    access.require(category)?;
    if row.deleted_at.is_none() {
        let (seq, tz) = crate::sync::clock::advance_in_zone(&txn, access.person_id, 1).await?;
        store::soft_delete(&txn, id, row.version + 1, seq, Utc::now()).await?;
        let day = rollup::local_day(row.start_ms, tz.parse().unwrap_or(chrono_tz::Asia::Tokyo));
        rollup::recompute(&txn, access.person_id, &tz, &row.kind, day).await?;
    }
    txn.commit().await?;
    Ok(())
}

/// The newest observation of each kind the caller may read.
pub async fn latest(db: &impl ConnectionTrait, access: &Access) -> Result<Vec<Observation>, ApiError> {
    let mut out = Vec::new();
    for kind in catalogue::kinds() {
        if access.categories.contains(&kind.category)
            && let Some(row) = store::latest_of_kind(db, access.person_id, kind.name).await?
        {
            out.push(Observation::from_row(row));
        }
    }
    out.sort_by_key(|o| std::cmp::Reverse(o.effective_end.or(o.effective_at)));
    Ok(out)
}
