//! Clinical import rules: a document is stored once per (facility, path,
//! content); it is imported when its (facility, local patient ID) is linked
//! to a person, and quarantined until then (never dropped).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{FixedOffset, Utc};
use phr_formats::ssmix2::{self, ObservationValue};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use uuid::Uuid;

use super::demographics::mismatches;
use crate::category::Category;
use crate::consent::model::Purpose;
use crate::db::begin_write;
use crate::entities::{
    clinical_document as doc, health_fact, lab_result, patient_link, person, prescription,
};
use crate::error::{ApiError, ErrorCode, FieldError};
use crate::medications::service::{NewFact, add_fact};

const JST: i32 = 9 * 3600;

pub struct Received {
    pub document: doc::Model,
    /// The same file was received before: nothing changed.
    pub duplicate: bool,
}

/// Stores an uploaded storage file and imports it if its patient is linked;
/// the write is entered in the person's access log.
pub async fn receive(
    db: &DatabaseConnection,
    org_id: Uuid,
    path: &str,
    bytes: &[u8],
) -> Result<Received, ApiError> {
    let file = ssmix2::parse_file(path, bytes).map_err(|e| ApiError::Problem {
        code: ErrorCode::InvalidPayload,
        detail: format!("The SS-MIX2 file cannot be read ({}): {e}", e.code()),
        errors: vec![FieldError::new("body", format!("{}: {e}", e.code()))],
    })?;
    let hash = crate::hash::sha256_hex(bytes);
    let txn = begin_write(db).await?;
    if let Some(existing) = doc::Entity::find()
        .filter(doc::Column::OrgId.eq(org_id))
        .filter(doc::Column::Path.eq(path))
        .filter(doc::Column::ContentHash.eq(&hash))
        .one(&txn)
        .await?
    {
        return Ok(Received { document: existing, duplicate: true });
    }
    let link = find_link(&txn, org_id, &file.file.patient_id).await?;
    let d = doc::Model {
        id: Uuid::now_v7(),
        org_id,
        local_patient_id: file.file.patient_id.clone(),
        path: path.to_owned(),
        data_kind: file.file.data_kind.to_string(),
        content_hash: hash,
        raw: STANDARD.encode(bytes),
        status: "quarantined".into(),
        person_id: None,
        received_at: Utc::now(),
        imported_at: None,
        hold_reason: None,
    };
    let d = doc::ActiveModel::from(d).insert(&txn).await?;
    let d = match link {
        Some(l) => settle(&txn, d, &l, &file).await?,
        None => d,
    };
    txn.commit().await?;
    if let Some(person) = d.person_id {
        // A facility writing into the record is an access by someone else like any other.
        let categories =
            [Category::Labs, Category::Medications, Category::Allergies, Category::Conditions].into();
        crate::consent::audit::append(
            db,
            crate::consent::audit::NewEntry {
                person_id: person,
                actor_account_id: None,
                actor_org_id: Some(org_id),
                action: "write",
                resource: &format!("ssmix2/{}", d.data_kind),
                categories: &categories,
                purpose: Some(Purpose::Treatment.as_str()),
            },
        )
        .await?;
    }
    Ok(Received { document: d, duplicate: false })
}

async fn find_link(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    local: &str,
) -> Result<Option<patient_link::Model>, ApiError> {
    // Locked: two files of one patient (an order and its cancellation, say)
    // arriving together apply one after the other, each seeing the other's rows.
    Ok(patient_link::Entity::find()
        .filter(patient_link::Column::OrgId.eq(org_id))
        .filter(patient_link::Column::LocalPatientId.eq(local))
        .lock_exclusive()
        .one(db)
        .await?)
}

/// Brings a document of a linked patient into the record, or holds it for the
/// person's review when its demographics disagree with the person's.
async fn settle(
    db: &impl ConnectionTrait,
    d: doc::Model,
    link: &patient_link::Model,
    file: &ssmix2::StorageFile,
) -> Result<doc::Model, ApiError> {
    let person = person::Entity::find_by_id(link.person_id)
        .one(db)
        .await?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("link to a missing person")))?;
    let disagree = file.message.patient.as_ref().map(|p| mismatches(&person, p)).unwrap_or_default();
    let mut a: doc::ActiveModel = d.clone().into();
    a.person_id = Set(Some(link.person_id));
    if disagree.is_empty() {
        apply(db, &d, link, file).await?;
        announce(db, &d, link.person_id).await?;
        a.status = Set("imported".into());
        a.imported_at = Set(Some(Utc::now()));
        a.hold_reason = Set(None);
    } else {
        a.status = Set("held".into());
        a.hold_reason = Set(Some(disagree.join("; ")));
    }
    Ok(a.update(db).await?)
}

/// Tells the person (and guardians) that a facility's document entered the record.
async fn announce(db: &impl ConnectionTrait, d: &doc::Model, person_id: Uuid) -> Result<(), ApiError> {
    let told = crate::consent::policy::controllers(db, person_id).await?;
    crate::notify::emit(
        db,
        crate::notify::Event::new(crate::notify::EventKind::ClinicalData, Some(person_id), told)
            .with("documentId", d.id)
            .with("orgId", d.org_id)
            .with("dataKind", &d.data_kind),
    )
    .await
}

/// The person's decision on a held document: `accept` imports it as it is,
/// otherwise it is rejected and stays out of the record (kept as received).
pub async fn review(
    db: &DatabaseConnection,
    person_id: Uuid,
    document_id: Uuid,
    accept: bool,
) -> Result<doc::Model, ApiError> {
    let txn = begin_write(db).await?;
    let d = doc::Entity::find_by_id(document_id)
        .filter(doc::Column::PersonId.eq(person_id))
        .one(&txn)
        .await?
        .ok_or_else(|| ApiError::not_found("document"))?;
    if d.status != "held" {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!("The document is {}, not held for review.", d.status),
        ));
    }
    let link = find_link(&txn, d.org_id, &d.local_patient_id)
        .await?
        .filter(|l| l.person_id == person_id)
        .ok_or_else(|| ApiError::new(ErrorCode::Conflict, "The facility link was removed."))?;
    let mut a: doc::ActiveModel = d.clone().into();
    if accept {
        let file = reparse(&d)?;
        apply(&txn, &d, &link, &file).await?;
        announce(&txn, &d, person_id).await?;
        a.status = Set("imported".into());
        a.imported_at = Set(Some(Utc::now()));
    } else {
        a.status = Set("rejected".into());
    }
    let d = a.update(&txn).await?;
    txn.commit().await?;
    Ok(d)
}

/// Documents of the person in a status (`held`, `imported`, `rejected`), newest first.
pub async fn documents(
    db: &impl ConnectionTrait,
    person_id: Uuid,
    status: Option<&str>,
) -> Result<Vec<doc::Model>, ApiError> {
    let mut q = doc::Entity::find().filter(doc::Column::PersonId.eq(person_id));
    if let Some(s) = status {
        q = q.filter(doc::Column::Status.eq(s));
    }
    Ok(q.order_by_desc(doc::Column::ReceivedAt).all(db).await?)
}

fn reparse(d: &doc::Model) -> Result<ssmix2::StorageFile, ApiError> {
    let bytes = STANDARD.decode(&d.raw).map_err(|e| ApiError::Internal(e.into()))?;
    ssmix2::parse_file(&d.path, &bytes).map_err(|e| ApiError::Internal(anyhow::anyhow!("{e}")))
}

fn value_text(v: &ObservationValue) -> (String, Option<f64>) {
    match v {
        ObservationValue::Number { text, value, .. } => (text.clone(), Some(*value)),
        ObservationValue::Compound { text, .. } | ObservationValue::Text { text } => (text.clone(), None),
        ObservationValue::Coded(c) => (c.display().unwrap_or_default().to_owned(), None),
        ObservationValue::DateTime { value } => (value.naive().to_string(), None),
    }
}

/// Brings one document into its person's record. A file replaces what earlier
/// files with the same key (patient, date, data kind, order number) brought;
/// a file flagged deleted or cancelled (condition flag 0/2) only removes it.
async fn apply(
    db: &impl ConnectionTrait,
    d: &doc::Model,
    link: &patient_link::Model,
    file: &ssmix2::StorageFile,
) -> Result<(), ApiError> {
    let key = file.file.key();
    let earlier: Vec<Uuid> = doc::Entity::find()
        .filter(doc::Column::OrgId.eq(d.org_id))
        .filter(doc::Column::LocalPatientId.eq(&d.local_patient_id))
        .filter(doc::Column::Status.eq("imported"))
        .filter(doc::Column::Id.ne(d.id))
        .all(db)
        .await?
        .into_iter()
        .filter(|e| {
            ssmix2::FileName::from_path(&e.path)
                .is_ok_and(|f| f.key() == key && f.timestamp <= file.file.timestamp)
        })
        .map(|e| e.id)
        .collect();
    if !earlier.is_empty() {
        lab_result::Entity::delete_many()
            .filter(lab_result::Column::DocumentId.is_in(earlier.clone()))
            .exec(db)
            .await?;
        prescription::Entity::delete_many()
            .filter(prescription::Column::DocumentId.is_in(earlier.clone()))
            .exec(db)
            .await?;
        health_fact::Entity::delete_many()
            .filter(health_fact::Column::Source.eq("ssmix2"))
            .filter(health_fact::Column::SourceRef.is_in(earlier))
            .exec(db)
            .await?;
    }
    if file.file.condition.removes() {
        return Ok(());
    }
    import_labs(db, d, link.person_id, &file.message).await?;
    import_prescriptions(db, d, link.person_id, file).await?;
    import_facts(db, d, link, &file.message).await
}

/// Allergies (IAM, AL1) and diagnoses (PRB) as facts of the record, marked as
/// coming from the facility's document; the link's creator is recorded as who
/// brought them in.
async fn import_facts(
    db: &impl ConnectionTrait,
    d: &doc::Model,
    link: &patient_link::Model,
    m: &ssmix2::Ssmix2Message,
) -> Result<(), ApiError> {
    let mut facts: Vec<(&str, &str, String)> = Vec::new();
    for a in &m.allergies {
        let Some(name) = a.allergen.display() else { continue };
        let mut text = name.to_owned();
        if !a.reactions.is_empty() {
            text = format!("{text}（{}）", a.reactions.join("、"));
        }
        facts.push(("allergies", "allergy", text));
    }
    for dx in &m.diagnoses {
        let Some(name) = dx.disease.display() else { continue };
        let text = match &dx.icd10 {
            Some(icd) => format!("{name} (ICD-10 {icd})"),
            None => name.to_owned(),
        };
        facts.push(("conditions", "diagnosis", text));
    }
    let now = Utc::now();
    for (category, kind, text) in facts {
        let fact = NewFact {
            person_id: link.person_id,
            category,
            kind,
            text,
            source: "ssmix2",
            source_ref: Some(d.id),
            created_by: link.created_by,
        };
        add_fact(db, fact, now).await?;
    }
    Ok(())
}

/// Prescribed drugs (RXE with TQ1/RXR) of a document, for its person.
async fn import_prescriptions(
    db: &impl ConnectionTrait,
    d: &doc::Model,
    person_id: Uuid,
    file: &ssmix2::StorageFile,
) -> Result<(), ApiError> {
    let jst = FixedOffset::east_opt(JST).ok_or_else(|| ApiError::Internal(anyhow::anyhow!("offset")))?;
    let now = Utc::now();
    for p in &file.message.prescriptions {
        let Some(name) = p.drug.display() else { continue };
        let row = prescription::Model {
            id: Uuid::now_v7(),
            person_id,
            document_id: d.id,
            org_id: d.org_id,
            drug_system: p.drug.system.clone(),
            drug_code: p.drug.code.clone(),
            drug_name: name.to_owned(),
            dose: p.dose,
            dose_unit: p.dose_unit.as_ref().and_then(|u| u.code.clone().or(u.text.clone())),
            daily_dose: p.daily_dose,
            usage_code: p.usage.as_ref().and_then(|u| u.code.clone()),
            usage_text: p.usage.as_ref().and_then(|u| u.display().map(str::to_owned)),
            days: p.days.and_then(|n| i32::try_from(n).ok()),
            route: p.route.as_ref().and_then(|r| r.code.clone()),
            prescribed_on: p
                .start
                .as_ref()
                .map(|t| t.date())
                .or(file.file.date)
                .or(Some(d.received_at.with_timezone(&jst).date_naive())),
            created_at: now,
        };
        prescription::ActiveModel::from(row).insert(db).await?;
    }
    Ok(())
}

pub async fn prescriptions(
    db: &impl ConnectionTrait,
    person_id: Uuid,
) -> Result<Vec<prescription::Model>, ApiError> {
    Ok(prescription::Entity::find()
        .filter(prescription::Column::PersonId.eq(person_id))
        .order_by_desc(prescription::Column::PrescribedOn)
        .order_by_asc(prescription::Column::Id)
        .all(db)
        .await?)
}

/// Lab results (OBX with values) of a document, for its person, and the OBX
/// outside any OBR that ADT-00 uses for height, weight and blood type (timed
/// by the event, else the message).
async fn import_labs(
    db: &impl ConnectionTrait,
    d: &doc::Model,
    person_id: Uuid,
    m: &ssmix2::Ssmix2Message,
) -> Result<(), ApiError> {
    let jst = FixedOffset::east_opt(JST).ok_or_else(|| ApiError::Internal(anyhow::anyhow!("offset")))?;
    let now = Utc::now();
    let mut rows = Vec::new();
    for report in &m.reports {
        let specimen = report
            .specimen
            .as_ref()
            .and_then(|s| s.kind.as_ref())
            .and_then(|k| k.display())
            .map(str::to_owned);
        let collected = report.collected_at();
        for o in &report.results {
            rows.extend(lab_row(d, person_id, o, specimen.clone(), collected.as_ref(), jst, now));
        }
    }
    let event_time = m.event.as_ref().and_then(|e| e.occurred_at.or(e.recorded_at)).or(m.header.created_at);
    for o in &m.observations {
        rows.extend(lab_row(d, person_id, o, None, event_time.as_ref(), jst, now));
    }
    let mut clinic = Vec::new();
    for row in rows {
        let row = lab_result::ActiveModel::from(row).insert(db).await?;
        let measured = row.analyte.as_deref().and_then(ssmix2::Measurement::from_analyte).and_then(kind_of);
        if let (Some((kind, component)), Some(value)) = (measured, row.numeric) {
            clinic.push(crate::alerts::service::ClinicReading {
                lab_result_id: row.id,
                kind,
                component,
                value,
            });
        }
    }
    crate::alerts::service::evaluate_clinic(db, person_id, &clinic).await?;
    Ok(())
}

fn lab_row(
    d: &doc::Model,
    person_id: Uuid,
    o: &ssmix2::Observation,
    specimen: Option<String>,
    fallback_time: Option<&phr_formats::hl7::Timestamp>,
    jst: FixedOffset,
    now: chrono::DateTime<Utc>,
) -> Option<lab_result::Model> {
    let (value, numeric) = value_text(o.value()?);
    let observed = o.observed_at.as_ref().or(fallback_time).and_then(|t| t.with_default_offset(jst));
    Some(lab_result::Model {
        id: Uuid::now_v7(),
        person_id,
        document_id: d.id,
        org_id: d.org_id,
        jlac10: o.jlac10.as_ref().map(|j| j.as_str().to_owned()),
        analyte: o.jlac10.as_ref().map(|j| j.analyte().to_ascii_uppercase()),
        code: o.code.code.clone().unwrap_or_default(),
        name: o.code.display().unwrap_or_default().to_owned(),
        value,
        numeric,
        unit: o.unit.clone(),
        range_text: o.reference_range.as_ref().map(|r| r.text.clone()),
        range_low: o.reference_range.as_ref().and_then(|r| r.low),
        range_high: o.reference_range.as_ref().and_then(|r| r.high),
        flags: o.abnormal_flags.join(","),
        specimen,
        // Without any time in the message, when the facility sent it.
        observed_at: Some(observed.map_or(d.received_at, |t| t.with_timezone(&Utc))),
        status: o.status.map(|s| format!("{s:?}").to_lowercase()),
        notes: (!o.notes.is_empty()).then(|| o.notes.join("\n")),
        created_at: now,
    })
}

/// Links (facility, local ID) to a person and imports what waited in quarantine.
/// Returns the link and how many waiting documents were settled (imported,
/// or held for review when their demographics disagree).
pub async fn link(
    db: &DatabaseConnection,
    person_id: Uuid,
    org_id: Uuid,
    local_patient_id: &str,
    by: Uuid,
) -> Result<(patient_link::Model, usize), ApiError> {
    let txn = begin_write(db).await?;
    if let Some(existing) = find_link(&txn, org_id, local_patient_id).await? {
        if existing.person_id == person_id {
            return Ok((existing, 0));
        }
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "This facility's patient ID is linked to another person.",
        ));
    }
    let l = patient_link::ActiveModel::from(patient_link::Model {
        id: Uuid::now_v7(),
        org_id,
        local_patient_id: local_patient_id.to_owned(),
        person_id,
        created_by: by,
        created_at: Utc::now(),
    })
    .insert(&txn)
    .await?;
    let waiting = doc::Entity::find()
        .filter(doc::Column::OrgId.eq(org_id))
        .filter(doc::Column::LocalPatientId.eq(local_patient_id))
        .filter(doc::Column::Status.eq("quarantined"))
        .order_by_asc(doc::Column::ReceivedAt)
        .all(&txn)
        .await?;
    let n = waiting.len();
    for d in waiting {
        let file = reparse(&d)?;
        settle(&txn, d, &l, &file).await?;
    }
    txn.commit().await?;
    Ok((l, n))
}

pub async fn links(db: &impl ConnectionTrait, person_id: Uuid) -> Result<Vec<patient_link::Model>, ApiError> {
    Ok(patient_link::Entity::find()
        .filter(patient_link::Column::PersonId.eq(person_id))
        .order_by_asc(patient_link::Column::CreatedAt)
        .all(db)
        .await?)
}

/// Removes a link: later documents for that ID wait in quarantine again.
pub async fn unlink(db: &DatabaseConnection, person_id: Uuid, link_id: Uuid) -> Result<(), ApiError> {
    let res = patient_link::Entity::delete_many()
        .filter(patient_link::Column::Id.eq(link_id))
        .filter(patient_link::Column::PersonId.eq(person_id))
        .exec(db)
        .await?;
    if res.rows_affected == 0 { Err(ApiError::not_found("link")) } else { Ok(()) }
}

pub async fn labs(db: &impl ConnectionTrait, person_id: Uuid) -> Result<Vec<lab_result::Model>, ApiError> {
    Ok(lab_result::Entity::find()
        .filter(lab_result::Column::PersonId.eq(person_id))
        .order_by_desc(lab_result::Column::ObservedAt)
        .order_by_asc(lab_result::Column::Id)
        .all(db)
        .await?)
}

/// One analyte's results across facilities, oldest first: `code` is a JLAC10
/// analyte (5 characters) or a full JLAC10 code (its analyte is used), else a
/// facility's own code.
pub async fn series(
    db: &impl ConnectionTrait,
    person_id: Uuid,
    code: &str,
) -> Result<Vec<lab_result::Model>, ApiError> {
    let mut q = lab_result::Entity::find().filter(lab_result::Column::PersonId.eq(person_id));
    q = match ssmix2::Jlac10Code::parse(code) {
        Some(j) if code.len() == 5 || code.len() == 17 => q.filter(
            sea_orm::Condition::any()
                .add(lab_result::Column::Analyte.eq(j.analyte().to_ascii_uppercase()))
                .add(lab_result::Column::Code.eq(code)),
        ),
        _ => q.filter(lab_result::Column::Code.eq(code)),
    };
    Ok(q.order_by_asc(lab_result::Column::ObservedAt).order_by_asc(lab_result::Column::Id).all(db).await?)
}

/// The observation kind (and blood-pressure component) a clinic-measured
/// vital sign stands for, so it can sit beside home readings of that kind.
pub fn kind_of(m: ssmix2::Measurement) -> Option<(&'static str, Option<&'static str>)> {
    use ssmix2::Measurement as M;
    match m {
        M::SystolicBloodPressure => Some(("blood_pressure", Some("systolic"))),
        M::DiastolicBloodPressure => Some(("blood_pressure", Some("diastolic"))),
        M::BodyWeight => Some(("body_weight", None)),
        M::BodyHeight => Some(("body_height", None)),
        M::BodyMassIndex => Some(("bmi", None)),
        M::BodyTemperature => Some(("body_temperature", None)),
        M::PulseRate => Some(("heart_rate", None)),
        M::WaistCircumference | M::AboBloodType => None,
    }
}

/// Numeric lab results in `[from, to)` that measure observation `kind`, with
/// the component each gives, oldest first.
pub async fn clinic_values(
    db: &impl ConnectionTrait,
    person_id: Uuid,
    kind: &str,
    from: chrono::DateTime<Utc>,
    to: chrono::DateTime<Utc>,
) -> Result<Vec<(Option<&'static str>, lab_result::Model)>, ApiError> {
    let rows = lab_result::Entity::find()
        .filter(lab_result::Column::PersonId.eq(person_id))
        .filter(lab_result::Column::ObservedAt.gte(from))
        .filter(lab_result::Column::ObservedAt.lt(to))
        .filter(lab_result::Column::Analyte.like("9%"))
        .filter(lab_result::Column::Numeric.is_not_null())
        .order_by_asc(lab_result::Column::ObservedAt)
        .order_by_asc(lab_result::Column::Id)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let m = ssmix2::Measurement::from_analyte(r.analyte.as_deref()?)?;
            let (k, component) = kind_of(m)?;
            (k == kind).then_some((component, r))
        })
        .collect())
}
