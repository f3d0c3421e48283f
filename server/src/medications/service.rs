//! Medication rules. Parsing is `phr_formats::jahis`; this module decides what
//! is stored, how re-scans are recognised and what counts as current.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{Duration, NaiveDate, Utc};
use phr_formats::jahis::{
    self, Dispensing, DosageForm, JahisError, MedicationHandbook, Part, PatientNoteKind,
};
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, Iterable, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::consent::Access;
use crate::db::begin_write;
use crate::entities::{dispensing, health_fact, qr_scan};
use crate::error::{ApiError, ErrorCode, FieldError};
use crate::hash::sha256_hex as sha_hex;

pub const SCAN_HOURS: i64 = 24;
/// As-needed and external drugs have no days supply; they count as current this long.
pub const UNTIMED_DAYS: i64 = 90;

/// One scanned part as received (kept for unfinished scans and provenance).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QrPart {
    /// Base64 of the raw bytes the scanner read (Shift_JIS as printed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// The payload already decoded to text by the app.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// QR Structured Append: this symbol's 0-based position, the set's size and parity byte.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(maximum = 255)]
    pub symbol_index: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(maximum = 255)]
    pub symbol_count: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(maximum = 255)]
    pub parity: Option<u8>,
}

/// Raw bytes of each part, with the field errors of the ones that cannot be read.
fn part_bytes(parts: &[QrPart]) -> Result<Vec<Vec<u8>>, ApiError> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        match (&p.data, &p.text) {
            (Some(d), None) => {
                match STANDARD.decode(d.trim()).or_else(|_| URL_SAFE_NO_PAD.decode(d.trim())) {
                    Ok(b) => out.push(b),
                    Err(_) => errors.push(FieldError::new(format!("parts/{i}/data"), "is not base64")),
                }
            }
            (None, Some(t)) => out.push(t.as_bytes().to_vec()),
            _ => errors.push(FieldError::new(format!("parts/{i}"), "needs exactly one of data or text")),
        }
        if p.symbol_index.is_some() != p.symbol_count.is_some() {
            errors.push(FieldError::new(
                format!("parts/{i}/symbolCount"),
                "symbolIndex and symbolCount go together",
            ));
        }
    }
    if parts.is_empty() {
        errors.push(FieldError::new("parts", "must hold at least one part"));
    }
    if errors.is_empty() { Ok(out) } else { Err(ApiError::validation(errors)) }
}

fn parse(parts: &[QrPart]) -> Result<Result<MedicationHandbook, JahisError>, ApiError> {
    let bytes = part_bytes(parts)?;
    let list: Vec<Part<'_>> = parts
        .iter()
        .zip(&bytes)
        .map(|(p, b)| match (p.symbol_index, p.symbol_count) {
            (Some(i), Some(n)) => Part::symbol(b, i, n, p.parity),
            _ => Part::new(b),
        })
        .collect();
    Ok(jahis::parse_parts(&list))
}

/// What a scan request ends in.
pub enum ScanOutcome {
    Complete { dispensings: Vec<dispensing::Model>, created: usize, unchanged: usize },
    Incomplete { scan_id: Uuid, received: Vec<u16>, missing: Vec<u16> },
}

/// Reads the parts (added to an unfinished scan when `scan_id` is given) and,
/// once the set is complete, stores its dispensings and facts.
pub async fn scan(
    db: &DatabaseConnection,
    access: &Access,
    org_id: Option<Uuid>,
    scan_id: Option<Uuid>,
    new_parts: Vec<QrPart>,
) -> Result<ScanOutcome, ApiError> {
    let now = Utc::now();
    let parts = gather(db, access, scan_id, new_parts).await?;
    match parse(&parts)? {
        Ok(handbook) => {
            let (dispensings, created) = import(db, access, org_id, &handbook, &parts).await?;
            if let Some(id) = scan_id {
                qr_scan::Entity::delete_by_id(id).exec(db).await?;
            }
            let unchanged = dispensings.len() - created;
            Ok(ScanOutcome::Complete { dispensings, created, unchanged })
        }
        Err(e) if e.is_incomplete() => {
            let (received, missing) = incomplete_parts(&e);
            let json = serde_json::to_string(&parts).unwrap_or_default();
            let txn = begin_write(db).await?;
            let id = match scan_id {
                Some(id) => {
                    qr_scan::Entity::update_many()
                        .col_expr(qr_scan::Column::Parts, Expr::value(json))
                        .filter(qr_scan::Column::Id.eq(id))
                        .exec(&txn)
                        .await?;
                    id
                }
                None => {
                    let id = Uuid::now_v7();
                    qr_scan::ActiveModel::from(qr_scan::Model {
                        id,
                        person_id: access.person_id,
                        parts: json,
                        created_by: access.account_id,
                        created_at: now,
                        expires_at: now + Duration::hours(SCAN_HOURS),
                    })
                    .insert(&txn)
                    .await?;
                    id
                }
            };
            txn.commit().await?;
            Ok(ScanOutcome::Incomplete { scan_id: id, received, missing })
        }
        Err(e) => Err(unreadable(&e)),
    }
}

/// The parts of an unfinished scan (when `scan_id` is given) followed by the new ones, without repeats.
async fn gather(
    db: &impl ConnectionTrait,
    access: &Access,
    scan_id: Option<Uuid>,
    new_parts: Vec<QrPart>,
) -> Result<Vec<QrPart>, ApiError> {
    let mut parts = Vec::new();
    if let Some(id) = scan_id {
        let now = Utc::now();
        let s = qr_scan::Entity::find_by_id(id)
            .one(db)
            .await?
            .filter(|s| {
                s.person_id == access.person_id && s.created_by == access.account_id && s.expires_at > now
            })
            .ok_or_else(|| ApiError::field("scanId", "no such unfinished scan (they are kept 24 hours)"))?;
        parts = serde_json::from_str(&s.parts).unwrap_or_default();
    }
    for p in new_parts {
        if !parts.contains(&p) {
            parts.push(p);
        }
    }
    if parts.len() > 64 {
        return Err(ApiError::field("parts", "a scan holds at most 64 symbols; start a new one"));
    }
    Ok(parts)
}

fn unreadable(e: &JahisError) -> ApiError {
    ApiError::Problem {
        code: ErrorCode::InvalidPayload,
        detail: format!("The QR payload cannot be read ({}): {e}", e.code()),
        errors: vec![FieldError::new("parts", format!("{}: {e}", e.code()))],
    }
}

/// What a scan would store, read and checked exactly as a save is but with
/// nothing written: the counter shows it before the pharmacist saves.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScanPreview {
    /// All symbols are there: saving the same parts stores `dispensings`.
    pub complete: bool,
    /// Part numbers received and still missing when incomplete (as in a 202 answer).
    pub received: Vec<u16>,
    pub missing: Vec<u16>,
    pub dispensings: Vec<PreviewDispensing>,
    /// Allergies, side effects, OTC drugs and notes the payload carries, limited to
    /// the categories the caller may write (what saving would add when new).
    pub facts: Vec<PreviewFact>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PreviewDispensing {
    #[schema(value_type = String)]
    pub dispensed_on: NaiveDate,
    pub pharmacy: Option<String>,
    /// The dispensing as read, in the shape a stored one has.
    #[schema(value_type = Object)]
    pub dispensing: serde_json::Value,
    /// The record already holds it: saving would leave it `unchanged`.
    pub already_stored: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PreviewFact {
    pub category: String,
    pub kind: String,
    pub text: String,
}

/// Reads the parts (with those of an unfinished scan) and says what saving them would store.
pub async fn preview(
    db: &impl ConnectionTrait,
    access: &Access,
    scan_id: Option<Uuid>,
    new_parts: Vec<QrPart>,
) -> Result<ScanPreview, ApiError> {
    let parts = gather(db, access, scan_id, new_parts).await?;
    let handbook = match parse(&parts)? {
        Ok(h) => h,
        Err(e) if e.is_incomplete() => {
            let (received, missing) = incomplete_parts(&e);
            return Ok(ScanPreview {
                complete: false,
                received,
                missing,
                dispensings: vec![],
                facts: vec![],
            });
        }
        Err(e) => return Err(unreadable(&e)),
    };
    let fingerprints: Vec<String> = handbook.dispensings.iter().map(|d| sha_hex(d.fingerprint())).collect();
    let stored: BTreeSet<String> = dispensing::Entity::find()
        .filter(dispensing::Column::PersonId.eq(access.person_id))
        .filter(dispensing::Column::Fingerprint.is_in(fingerprints.iter().cloned()))
        .filter(dispensing::Column::DeletedAt.is_null())
        .all(db)
        .await?
        .into_iter()
        .map(|d| d.fingerprint)
        .collect();
    let dispensings = handbook
        .dispensings
        .iter()
        .zip(&fingerprints)
        .map(|(d, fp)| PreviewDispensing {
            dispensed_on: d.date,
            pharmacy: d.pharmacy.as_ref().map(|p| p.name.clone()),
            dispensing: serde_json::to_value(d).unwrap_or_default(),
            already_stored: stored.contains(fp),
        })
        .collect();
    let facts = facts_of(&handbook, access)
        .into_iter()
        .filter_map(|(category, kind, text)| {
            let text = text.trim().to_owned();
            (!text.is_empty()).then(|| PreviewFact { category: category.into(), kind: kind.into(), text })
        })
        .collect();
    Ok(ScanPreview { complete: true, received: vec![], missing: vec![], dispensings, facts })
}

/// Part numbers received and missing of an incomplete set (911 split: 1-based;
/// Structured Append: 0-based symbol index).
fn incomplete_parts(e: &JahisError) -> (Vec<u16>, Vec<u16>) {
    match e {
        JahisError::IncompleteSplit { received, missing, .. } => (received.clone(), missing.clone()),
        JahisError::IncompleteSymbols { received, missing, .. } => (
            received.iter().map(|i| u16::from(*i)).collect(),
            missing.iter().map(|i| u16::from(*i)).collect(),
        ),
        _ => (vec![], vec![]),
    }
}

/// Stores each dispensing unless the same content is already there, and the
/// facts the payload carries. Returns the records (new or existing) and how
/// many were new.
async fn import(
    db: &DatabaseConnection,
    access: &Access,
    org_id: Option<Uuid>,
    handbook: &MedicationHandbook,
    parts: &[QrPart],
) -> Result<(Vec<dispensing::Model>, usize), ApiError> {
    let now = Utc::now();
    let raw = serde_json::to_string(parts).unwrap_or_default();
    let txn = begin_write(db).await?;
    let n = handbook.dispensings.len().max(1) as i64;
    let first = crate::sync::clock::advance(&txn, access.person_id, n).await?;
    let mut rows = Vec::new();
    for (i, d) in handbook.dispensings.iter().enumerate() {
        rows.push(dispensing::Model {
            id: Uuid::now_v7(),
            person_id: access.person_id,
            fingerprint: sha_hex(d.fingerprint()),
            dispensed_on: d.date,
            pharmacy_name: d.pharmacy.as_ref().map(|p| p.name.clone()),
            data: serde_json::to_string(d).unwrap_or_default(),
            raw_payload: raw.clone(),
            created_by: access.account_id,
            created_by_org: org_id,
            version: 1,
            created_at: now,
            updated_at: now,
            deleted_at: None,
            change_seq: first + i as i64,
        });
    }
    let mut created = 0;
    if !rows.is_empty() {
        let mut stmt = Query::insert();
        stmt.into_table(dispensing::Entity).columns(dispensing::Column::iter());
        for r in &rows {
            stmt.values([
                r.id.into(),
                r.person_id.into(),
                r.fingerprint.clone().into(),
                r.dispensed_on.into(),
                r.pharmacy_name.clone().into(),
                r.data.clone().into(),
                r.raw_payload.clone().into(),
                r.created_by.into(),
                r.created_by_org.into(),
                r.version.into(),
                r.created_at.into(),
                r.updated_at.into(),
                r.deleted_at.into(),
                r.change_seq.into(),
            ])
            .map_err(|e| ApiError::Internal(e.into()))?;
        }
        stmt.on_conflict(OnConflict::new().do_nothing().to_owned()).returning_col(dispensing::Column::Id);
        created = txn.query_all(&stmt).await?.len();
    }
    let stored = dispensing::Entity::find()
        .filter(dispensing::Column::PersonId.eq(access.person_id))
        .filter(dispensing::Column::Fingerprint.is_in(rows.iter().map(|r| r.fingerprint.clone())))
        .all(&txn)
        .await?;
    // A dispensing the person deleted comes back when they scan it again on purpose.
    let mut stored = stored;
    let mut restore_seq =
        crate::sync::clock::advance(&txn, access.person_id, stored.len().max(1) as i64).await?;
    for d in stored.iter_mut().filter(|d| d.deleted_at.is_some()) {
        dispensing::Entity::update_many()
            .col_expr(dispensing::Column::DeletedAt, Expr::value(Option::<chrono::DateTime<Utc>>::None))
            .col_expr(dispensing::Column::UpdatedAt, Expr::value(now))
            .col_expr(dispensing::Column::Version, Expr::value(d.version + 1))
            .col_expr(dispensing::Column::ChangeSeq, Expr::value(restore_seq))
            .filter(dispensing::Column::Id.eq(d.id))
            .exec(&txn)
            .await?;
        d.deleted_at = None;
        d.version += 1;
        d.change_seq = restore_seq;
        restore_seq += 1;
        created += 1;
    }
    let by_fp: BTreeMap<&str, &dispensing::Model> =
        stored.iter().map(|d| (d.fingerprint.as_str(), d)).collect();
    let out: Vec<dispensing::Model> =
        rows.iter().filter_map(|r| by_fp.get(r.fingerprint.as_str()).map(|d| (*d).clone())).collect();
    add_facts(&txn, access, handbook, out.first().map(|d| d.id)).await?;
    txn.commit().await?;
    Ok((out, created))
}

/// Allergies, side effects, past illnesses, OTC drugs, memos and patient
/// entries from the payload, each added once and never replacing what the
/// person typed.
async fn add_facts(
    db: &impl ConnectionTrait,
    access: &Access,
    h: &MedicationHandbook,
    source_ref: Option<Uuid>,
) -> Result<(), ApiError> {
    let now = Utc::now();
    for (category, kind, text) in facts_of(h, access) {
        let text = text.trim().to_owned();
        if text.is_empty() {
            continue;
        }
        let fact = NewFact {
            person_id: access.person_id,
            category,
            kind,
            text,
            source: "qr",
            source_ref,
            created_by: access.account_id,
        };
        add_fact(db, fact, now).await?;
    }
    Ok(())
}

/// The facts a payload carries as `(category, kind, text)`, limited to the
/// categories the caller may write: a medications-only grant adds no allergies.
fn facts_of(h: &MedicationHandbook, access: &Access) -> Vec<(&'static str, &'static str, String)> {
    let mut facts: Vec<(&str, &str, String)> = Vec::new();
    for n in &h.patient_notes {
        let (category, kind) = match n.kind {
            Some(PatientNoteKind::Allergy) => ("allergies", "allergy"),
            Some(PatientNoteKind::SideEffect) => ("allergies", "side_effect"),
            Some(PatientNoteKind::PastIllness) => ("conditions", "past_illness"),
            _ => ("notes", "patient_note"),
        };
        facts.push((category, kind, n.text.clone()));
    }
    for o in &h.otc_drugs {
        facts.push(("medications", "otc_drug", o.name.clone()));
    }
    for m in &h.memos {
        facts.push(("notes", "memo", m.text.clone()));
    }
    for d in &h.dispensings {
        for e in &d.patient_entries {
            facts.push(("notes", "patient_entry", e.text.clone()));
        }
    }
    facts.retain(|(category, _, _)| {
        category.parse::<crate::category::Category>().is_ok_and(|c| access.categories.contains(&c))
    });
    facts
}

/// A fact to add to a person's record, with where it came from.
pub struct NewFact<'a> {
    pub person_id: Uuid,
    pub category: &'a str,
    pub kind: &'a str,
    pub text: String,
    /// `qr`, `ssmix2`, …
    pub source: &'a str,
    /// The dispensing or clinical document it came with.
    pub source_ref: Option<Uuid>,
    pub created_by: Uuid,
}

/// Adds a fact unless the person already has the same kind and text (from any
/// source): nothing a person typed or an earlier source added is replaced.
pub async fn add_fact(
    db: &impl ConnectionTrait,
    f: NewFact<'_>,
    now: chrono::DateTime<Utc>,
) -> Result<(), ApiError> {
    let row = health_fact::Model {
        id: Uuid::now_v7(),
        person_id: f.person_id,
        category: f.category.into(),
        kind: f.kind.into(),
        text_hash: sha_hex(&f.text),
        text: f.text,
        source: f.source.into(),
        source_ref: f.source_ref,
        created_by: f.created_by,
        created_at: now,
    };
    health_fact::Entity::insert(health_fact::ActiveModel::from(row))
        .on_conflict(
            OnConflict::columns([
                health_fact::Column::PersonId,
                health_fact::Column::Kind,
                health_fact::Column::TextHash,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

pub async fn list(
    db: &impl ConnectionTrait,
    person_id: Uuid,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    cursor: Option<(NaiveDate, Uuid)>,
    limit: u64,
) -> Result<Vec<dispensing::Model>, ApiError> {
    use dispensing::Column as C;
    let mut q = dispensing::Entity::find().filter(C::PersonId.eq(person_id)).filter(C::DeletedAt.is_null());
    if let Some(f) = from {
        q = q.filter(C::DispensedOn.gte(f));
    }
    if let Some(t) = to {
        q = q.filter(C::DispensedOn.lt(t));
    }
    if let Some((d, id)) = cursor {
        q = q.filter(
            sea_orm::Condition::any()
                .add(C::DispensedOn.lt(d))
                .add(sea_orm::Condition::all().add(C::DispensedOn.eq(d)).add(C::Id.lt(id))),
        );
    }
    Ok(q.order_by_desc(C::DispensedOn).order_by_desc(C::Id).limit(limit).all(db).await?)
}

pub async fn find(
    db: &impl ConnectionTrait,
    person_id: Uuid,
    id: Uuid,
) -> Result<dispensing::Model, ApiError> {
    dispensing::Entity::find_by_id(id)
        .filter(dispensing::Column::PersonId.eq(person_id))
        .filter(dispensing::Column::DeletedAt.is_null())
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found("dispensing"))
}

pub async fn delete(db: &DatabaseConnection, access: &Access, id: Uuid) -> Result<(), ApiError> {
    let txn = begin_write(db).await?;
    let row = dispensing::Entity::find_by_id(id)
        .filter(dispensing::Column::PersonId.eq(access.person_id))
        .one(&txn)
        .await?
        .ok_or_else(|| ApiError::not_found("dispensing"))?;
    if row.deleted_at.is_none() {
        let seq = crate::sync::clock::advance(&txn, access.person_id, 1).await?;
        let now = Utc::now();
        dispensing::Entity::update_many()
            .col_expr(dispensing::Column::DeletedAt, Expr::value(now))
            .col_expr(dispensing::Column::UpdatedAt, Expr::value(now))
            .col_expr(dispensing::Column::Version, Expr::value(row.version + 1))
            .col_expr(dispensing::Column::ChangeSeq, Expr::value(seq))
            .filter(dispensing::Column::Id.eq(id))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(())
}

pub fn parsed(row: &dispensing::Model) -> Option<Dispensing> {
    serde_json::from_str(&row.data).ok()
}

/// One drug the person takes on a date, with where it came from.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CurrentDrug {
    pub name: String,
    pub amount: Option<String>,
    pub unit: Option<String>,
    pub usage: Option<String>,
    /// 内服 etc.: the last day covered by the days supply.
    #[schema(value_type = Option<String>)]
    pub until: Option<NaiveDate>,
    pub dispensing_id: Uuid,
    #[schema(value_type = String)]
    pub dispensed_on: NaiveDate,
    pub pharmacy: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CurrentMedications {
    #[schema(value_type = String)]
    pub date: NaiveDate,
    /// Taken regularly: the days supply covers the date.
    pub regular: Vec<CurrentDrug>,
    /// 頓服: as needed, dispensed within the last 90 days.
    pub as_needed: Vec<CurrentDrug>,
    /// 外用: external, dispensed within the last 90 days.
    pub external: Vec<CurrentDrug>,
}

pub async fn current(
    db: &impl ConnectionTrait,
    person_id: Uuid,
    date: NaiveDate,
) -> Result<CurrentMedications, ApiError> {
    let since = date - Duration::days(366);
    let rows = dispensing::Entity::find()
        .filter(dispensing::Column::PersonId.eq(person_id))
        .filter(dispensing::Column::DeletedAt.is_null())
        .filter(dispensing::Column::DispensedOn.gte(since))
        .filter(dispensing::Column::DispensedOn.lte(date))
        .order_by_desc(dispensing::Column::DispensedOn)
        .all(db)
        .await?;
    let mut out = CurrentMedications { date, ..Default::default() };
    let mut seen: BTreeSet<(String, &'static str)> = BTreeSet::new();
    for row in &rows {
        let Some(d) = parsed(row) else { continue };
        for rp in &d.rps {
            let usage = rp.usage.as_ref();
            let form = usage.and_then(|u| u.dosage_form);
            let untimed_ok = (date - d.date).num_days() < UNTIMED_DAYS;
            let (list, until): (&'static str, Option<NaiveDate>) = match form {
                Some(DosageForm::AsNeeded) => ("as_needed", None),
                Some(DosageForm::External) => ("external", None),
                _ => match usage.and_then(|u| u.days_supply.or(u.quantity)) {
                    Some(days) if days > 0 => ("regular", Some(d.date + Duration::days(i64::from(days) - 1))),
                    _ => ("regular", None),
                },
            };
            let current = match list {
                "regular" => until.is_some_and(|u| u >= date),
                _ => untimed_ok,
            };
            if !current {
                continue;
            }
            for drug in &rp.drugs {
                // The newest dispensing of a drug speaks for it.
                if !seen.insert((drug.name.clone(), list)) {
                    continue;
                }
                let item = CurrentDrug {
                    name: drug.name.clone(),
                    amount: drug.amount.clone(),
                    unit: drug.unit.clone(),
                    usage: usage.and_then(|u| u.text.clone()),
                    until,
                    dispensing_id: row.id,
                    dispensed_on: d.date,
                    pharmacy: d.pharmacy.as_ref().map(|p| p.name.clone()),
                };
                match list {
                    "as_needed" => out.as_needed.push(item),
                    "external" => out.external.push(item),
                    _ => out.regular.push(item),
                }
            }
        }
    }
    Ok(out)
}

pub async fn facts(
    db: &impl ConnectionTrait,
    person_id: Uuid,
    categories: &BTreeSet<crate::category::Category>,
) -> Result<Vec<health_fact::Model>, ApiError> {
    Ok(health_fact::Entity::find()
        .filter(health_fact::Column::PersonId.eq(person_id))
        .filter(health_fact::Column::Category.is_in(categories.iter().map(|c| c.as_str())))
        .order_by_asc(health_fact::Column::CreatedAt)
        .all(db)
        .await?)
}

/// The person's record as a JAHIS handbook for another app or pharmacy:
/// patient (record 1) from the person, then every dispensing, oldest first.
pub async fn export(db: &impl ConnectionTrait, person_id: Uuid) -> Result<MedicationHandbook, ApiError> {
    use jahis::{FormatVersion, OutputKind, Patient, Sex};
    let p = crate::entities::person::Entity::find_by_id(person_id)
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found("person"))?;
    Ok(MedicationHandbook {
        version: FormatVersion { header: "JAHISTC08".into(), number: 8, newer_than_known: false },
        output_kind: Some(OutputKind::ToProvider),
        split: None,
        patient: Some(Patient {
            name: p.display_name,
            kana_name: None,
            sex: match p.sex.as_deref() {
                Some("male") => Some(Sex::Male),
                Some("female") => Some(Sex::Female),
                _ => None,
            },
            birth_date: p.birth_date,
            postcode: None,
            address: None,
            phone: None,
            emergency_contact: None,
            blood_type: None,
            weight_kg: None,
        }),
        patient_notes: vec![],
        otc_drugs: vec![],
        memos: vec![],
        dispensings: history(db, person_id).await?,
        family_pharmacists: vec![],
        warnings: vec![],
    })
}

/// The person's dispensings, oldest first.
pub async fn history(db: &impl ConnectionTrait, person_id: Uuid) -> Result<Vec<Dispensing>, ApiError> {
    let rows = dispensing::Entity::find()
        .filter(dispensing::Column::PersonId.eq(person_id))
        .filter(dispensing::Column::DeletedAt.is_null())
        .order_by_asc(dispensing::Column::DispensedOn)
        .order_by_asc(dispensing::Column::Id)
        .all(db)
        .await?;
    Ok(rows.iter().filter_map(parsed).collect())
}
