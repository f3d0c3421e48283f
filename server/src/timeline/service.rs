//! One page of the person's timeline: every record type read newest first by
//! its own index, merged in memory, then dressed with sources and cross-links.
//!
//! The order is (time desc, table rank asc, id desc) and the cursor is the
//! last item's key, so each table is read with a keyset condition and no item
//! is skipped or repeated between pages. Tables whose time is coarser than an
//! instant (a date, whole milliseconds) compare against the cursor rounded up
//! in their own unit, with equality only where the cursor falls exactly on it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, TimeZone, Utc};
use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Value,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::crosslink::{self, DrugRef};
use super::model::{Link, Source, TimelineItem};
use crate::category::Category;
use crate::entities::{
    clinical_document as doc, dispensing, health_fact, lab_result, note, observation, organization,
    prescription,
};
use crate::error::ApiError;

/// Documents whose contents became items of their own; other kinds are listed as documents.
pub const MAPPED_KINDS: [&str; 6] = ["ADT-00", "ADT-61", "PPR-01", "OML-11", "OMP-01", "OMP-02"];

/// Tie-break between tables at the same instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
enum Table {
    Observation = 0,
    Lab = 1,
    Prescription = 2,
    Dispensing = 3,
    Fact = 4,
    Document = 5,
    Note = 6,
}

/// A position in the timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Key {
    at: DateTime<Utc>,
    table: Table,
    id: Uuid,
}

impl Key {
    /// Timeline order: newest first, then table, then id descending.
    fn order(&self, other: &Self) -> std::cmp::Ordering {
        other.at.cmp(&self.at).then(self.table.cmp(&other.table)).then(other.id.cmp(&self.id))
    }
}

pub struct Query {
    pub categories: BTreeSet<Category>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub after: Option<Key>,
    pub limit: u64,
}

pub struct Page {
    pub items: Vec<TimelineItem>,
    pub next: Option<Key>,
}

enum Row {
    Observation(observation::Model),
    Lab(lab_result::Model),
    Prescription(prescription::Model),
    Dispensing(dispensing::Model),
    Fact(health_fact::Model),
    Document(doc::Model),
    Note(note::Model),
}

const JST: FixedOffset = match FixedOffset::east_opt(9 * 3600) {
    Some(o) => o,
    None => panic!("UTC+9 is a valid offset"),
};

/// A date's place on the timeline: its midnight in Japan.
fn date_at(d: NaiveDate) -> DateTime<Utc> {
    JST.from_local_datetime(&d.and_time(chrono::NaiveTime::MIN)).single().map_or_else(
        || DateTime::<Utc>::from_naive_utc_and_offset(d.and_time(chrono::NaiveTime::MIN), Utc),
        |t| t.with_timezone(&Utc),
    )
}

/// How a table stores its time.
#[derive(Clone, Copy)]
enum Axis {
    Instant,
    Millis,
    Date,
}

/// `t` in the axis's unit, rounded up, and whether it is exact.
fn ceil(axis: Axis, t: DateTime<Utc>) -> (Value, bool) {
    match axis {
        Axis::Instant => (t.into(), true),
        Axis::Millis => {
            let ms = t.timestamp_millis();
            let exact = DateTime::<Utc>::from_timestamp_millis(ms) == Some(t);
            ((if exact { ms } else { ms + 1 }).into(), exact)
        }
        Axis::Date => {
            let d = t.with_timezone(&JST).date_naive();
            let exact = date_at(d) == t;
            ((if exact { d } else { d + Duration::days(1) }).into(), exact)
        }
    }
}

/// Rows of `table` strictly after the cursor and inside the range.
fn window<C: ColumnTrait>(axis: Axis, at: C, id: C, table: Table, q: &Query) -> Condition {
    let mut c = Condition::all();
    if let Some(from) = q.from {
        c = c.add(at.gte(ceil(axis, from).0));
    }
    if let Some(to) = q.to {
        c = c.add(at.lt(ceil(axis, to).0));
    }
    if let Some(k) = &q.after {
        let (bound, exact) = ceil(axis, k.at);
        let mut after = Condition::any().add(at.lt(bound.clone()));
        if exact {
            let tie: Option<SimpleExpr> = match table.cmp(&k.table) {
                std::cmp::Ordering::Greater => Some(Expr::value(true)),
                std::cmp::Ordering::Equal => Some(id.lt(k.id)),
                std::cmp::Ordering::Less => None,
            };
            if let Some(tie) = tie {
                after = after.add(Condition::all().add(at.eq(bound)).add(tie));
            }
        }
        c = c.add(after);
    }
    c
}

/// Reads one page. The tables are independent reads, so they are queried at
/// once (each on its own pooled connection) rather than one after another.
pub async fn page(db: &impl ConnectionTrait, person_id: Uuid, q: &Query) -> Result<Page, ApiError> {
    let n = q.limit + 1;
    let cats: Vec<&str> = q.categories.iter().map(|c| c.as_str()).collect();

    let observations = async {
        let mut rows: Vec<(Key, Row)> = Vec::new();
        if cats.is_empty() {
            return Ok::<_, DbErr>(rows);
        }
        use observation::Column as C;
        for r in observation::Entity::find()
            .filter(C::PersonId.eq(person_id))
            .filter(C::DeletedAt.is_null())
            .filter(C::Category.is_in(cats.clone()))
            .filter(window(Axis::Millis, C::StartMs, C::Id, Table::Observation, q))
            .order_by_desc(C::StartMs)
            .order_by_desc(C::Id)
            .limit(n)
            .all(db)
            .await?
        {
            let at = DateTime::<Utc>::from_timestamp_millis(r.start_ms).unwrap_or_default();
            rows.push((Key { at, table: Table::Observation, id: r.id }, Row::Observation(r)));
        }
        Ok(rows)
    };
    let labs = async {
        let mut rows: Vec<(Key, Row)> = Vec::new();
        if !q.categories.contains(&Category::Labs) {
            return Ok(rows);
        }
        use lab_result::Column as C;
        for r in lab_result::Entity::find()
            .filter(C::PersonId.eq(person_id))
            .filter(C::ObservedAt.is_not_null())
            .filter(window(Axis::Instant, C::ObservedAt, C::Id, Table::Lab, q))
            .order_by_desc(C::ObservedAt)
            .order_by_desc(C::Id)
            .limit(n)
            .all(db)
            .await?
        {
            let at = r.observed_at.unwrap_or_default();
            rows.push((Key { at, table: Table::Lab, id: r.id }, Row::Lab(r)));
        }
        Ok(rows)
    };
    let prescriptions = async {
        let mut rows: Vec<(Key, Row)> = Vec::new();
        if !q.categories.contains(&Category::Medications) {
            return Ok(rows);
        }
        use prescription::Column as C;
        for r in prescription::Entity::find()
            .filter(C::PersonId.eq(person_id))
            .filter(C::PrescribedOn.is_not_null())
            .filter(window(Axis::Date, C::PrescribedOn, C::Id, Table::Prescription, q))
            .order_by_desc(C::PrescribedOn)
            .order_by_desc(C::Id)
            .limit(n)
            .all(db)
            .await?
        {
            let at = r.prescribed_on.map(date_at).unwrap_or_default();
            rows.push((Key { at, table: Table::Prescription, id: r.id }, Row::Prescription(r)));
        }
        Ok(rows)
    };
    let dispensings = async {
        let mut rows: Vec<(Key, Row)> = Vec::new();
        if !q.categories.contains(&Category::Medications) {
            return Ok(rows);
        }
        use dispensing::Column as D;
        for r in dispensing::Entity::find()
            .filter(D::PersonId.eq(person_id))
            .filter(D::DeletedAt.is_null())
            .filter(window(Axis::Date, D::DispensedOn, D::Id, Table::Dispensing, q))
            .order_by_desc(D::DispensedOn)
            .order_by_desc(D::Id)
            .limit(n)
            .all(db)
            .await?
        {
            let at = date_at(r.dispensed_on);
            rows.push((Key { at, table: Table::Dispensing, id: r.id }, Row::Dispensing(r)));
        }
        Ok(rows)
    };
    let fact_cats: Vec<&str> = cats
        .iter()
        .copied()
        .filter(|c| matches!(*c, "allergies" | "conditions" | "notes" | "medications"))
        .collect();
    let facts = async {
        let mut rows: Vec<(Key, Row)> = Vec::new();
        if fact_cats.is_empty() {
            return Ok(rows);
        }
        use health_fact::Column as C;
        for r in health_fact::Entity::find()
            .filter(C::PersonId.eq(person_id))
            .filter(C::Category.is_in(fact_cats.clone()))
            .filter(window(Axis::Instant, C::CreatedAt, C::Id, Table::Fact, q))
            .order_by_desc(C::CreatedAt)
            .order_by_desc(C::Id)
            .limit(n)
            .all(db)
            .await?
        {
            rows.push((Key { at: r.created_at, table: Table::Fact, id: r.id }, Row::Fact(r)));
        }
        Ok(rows)
    };
    let documents = async {
        let mut rows: Vec<(Key, Row)> = Vec::new();
        let mut kinds = Condition::any();
        let lab_like =
            Condition::any().add(doc::Column::DataKind.like("OML%")).add(doc::Column::DataKind.like("OMG%"));
        let med_like = doc::Column::DataKind.like("OMP%");
        if q.categories.contains(&Category::Labs) {
            kinds = kinds.add(lab_like.clone());
        }
        if q.categories.contains(&Category::Medications) {
            kinds = kinds.add(med_like.clone());
        }
        if q.categories.contains(&Category::Conditions) {
            kinds = kinds.add(Condition::all().add(lab_like.not()).add(Condition::all().add(med_like).not()));
        }
        if kinds.is_empty() {
            return Ok(rows);
        }
        use doc::Column as C;
        for r in doc::Entity::find()
            .filter(C::PersonId.eq(person_id))
            .filter(C::Status.eq("imported"))
            .filter(C::DataKind.is_not_in(MAPPED_KINDS))
            .filter(kinds)
            .filter(window(Axis::Instant, C::ReceivedAt, C::Id, Table::Document, q))
            .order_by_desc(C::ReceivedAt)
            .order_by_desc(C::Id)
            .limit(n)
            .all(db)
            .await?
        {
            rows.push((Key { at: r.received_at, table: Table::Document, id: r.id }, Row::Document(r)));
        }
        Ok(rows)
    };
    let notes = async {
        let mut rows: Vec<(Key, Row)> = Vec::new();
        if !q.categories.contains(&Category::Notes) {
            return Ok(rows);
        }
        use note::Column as C;
        for r in note::Entity::find()
            .filter(C::PersonId.eq(person_id))
            .filter(window(Axis::Instant, C::CreatedAt, C::Id, Table::Note, q))
            .order_by_desc(C::CreatedAt)
            .order_by_desc(C::Id)
            .limit(n)
            .all(db)
            .await?
        {
            rows.push((Key { at: r.created_at, table: Table::Note, id: r.id }, Row::Note(r)));
        }
        Ok(rows)
    };
    use futures_util::future::{try_join, try_join3, try_join4};
    let ((a, b, c, d), (e, f, g)) = try_join(
        try_join4(observations, labs, prescriptions, dispensings),
        try_join3(facts, documents, notes),
    )
    .await?;
    let mut rows: Vec<(Key, Row)> = [a, b, c, d, e, f, g].into_iter().flatten().collect();

    rows.sort_by(|a, b| a.0.order(&b.0));
    let more = rows.len() as u64 > q.limit;
    rows.truncate(usize::try_from(q.limit).unwrap_or(usize::MAX));
    let next = if more { rows.last().map(|r| r.0.clone()) } else { None };
    let items = dress(db, person_id, rows).await?;
    Ok(Page { items, next })
}

/// The category a raw document is shared under, by its data kind.
pub fn document_category(kind: &str) -> Category {
    if kind.starts_with("OML") || kind.starts_with("OMG") {
        Category::Labs
    } else if kind.starts_with("OMP") {
        Category::Medications
    } else {
        Category::Conditions
    }
}

fn facility(orgs: &HashMap<Uuid, organization::Model>, org_id: Uuid) -> Source {
    let o = orgs.get(&org_id);
    Source {
        kind: "facility".into(),
        name: o.map(|o| o.name.clone()),
        code: o.and_then(|o| o.code.clone()),
        org_id: Some(org_id),
    }
}

fn fmt_num(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// Sources, titles, record bodies and cross-links for a page of rows.
async fn dress(
    db: &impl ConnectionTrait,
    person_id: Uuid,
    rows: Vec<(Key, Row)>,
) -> Result<Vec<TimelineItem>, ApiError> {
    // Facility facts name their document; the document names the facility.
    let fact_docs: Vec<Uuid> = rows
        .iter()
        .filter_map(|(_, r)| match r {
            Row::Fact(f) if f.source == "ssmix2" => f.source_ref,
            _ => None,
        })
        .collect();
    let doc_orgs: HashMap<Uuid, Uuid> = if fact_docs.is_empty() {
        HashMap::new()
    } else {
        doc::Entity::find()
            .filter(doc::Column::Id.is_in(fact_docs))
            .all(db)
            .await?
            .into_iter()
            .map(|d| (d.id, d.org_id))
            .collect()
    };
    let links = crosslinks(db, person_id, &rows).await?;
    let mut org_ids: BTreeSet<Uuid> = doc_orgs.values().copied().collect();
    for (_, r) in &rows {
        match r {
            Row::Lab(l) => {
                org_ids.insert(l.org_id);
            }
            Row::Prescription(p) => {
                org_ids.insert(p.org_id);
            }
            Row::Document(d) => {
                org_ids.insert(d.org_id);
            }
            Row::Note(n) => {
                if let Some(o) = n.author_org_id {
                    org_ids.insert(o);
                }
            }
            _ => {}
        }
    }
    let orgs: HashMap<Uuid, organization::Model> = if org_ids.is_empty() {
        HashMap::new()
    } else {
        organization::Entity::find()
            .filter(organization::Column::Id.is_in(org_ids))
            .all(db)
            .await?
            .into_iter()
            .map(|o| (o.id, o))
            .collect()
    };

    let mut out = Vec::with_capacity(rows.len());
    for (key, row) in rows {
        let item_links = links.get(&key.id).cloned().unwrap_or_default();
        let item = match row {
            Row::Observation(r) => {
                let source = match r.source_method.as_str() {
                    "device" => Source {
                        kind: "device".into(),
                        name: r.source_device.clone().or(r.source_app.clone()),
                        code: None,
                        org_id: None,
                    },
                    _ => Source { kind: "app".into(), name: r.source_app.clone(), code: None, org_id: None },
                };
                let category = r.category.parse().unwrap_or(Category::Vitals);
                let o = crate::observations::model::Observation::from_row(r);
                let title = match (&o.value, &o.components) {
                    (Some(v), _) => {
                        format!("{} {} {}", o.kind, fmt_num(*v), o.unit.clone().unwrap_or_default())
                    }
                    (None, Some(c)) => {
                        let vals: Vec<String> = c.values().map(|q| fmt_num(q.value)).collect();
                        let unit = c.values().next().map(|q| q.unit.clone()).unwrap_or_default();
                        format!("{} {} {unit}", o.kind, vals.join("/"))
                    }
                    _ => o.text.clone().map_or_else(|| o.kind.clone(), |t| format!("{} {t}", o.kind)),
                };
                TimelineItem {
                    id: key.id,
                    item_type: "observation".into(),
                    category,
                    at: key.at,
                    title: title.trim().to_owned(),
                    source,
                    data: serde_json::to_value(&o).unwrap_or_default(),
                    links: item_links,
                }
            }
            Row::Lab(r) => {
                let source = facility(&orgs, r.org_id);
                let mut title = format!("{} {} {}", r.name, r.value, r.unit.clone().unwrap_or_default());
                if !r.flags.is_empty() {
                    title = format!("{} ({})", title.trim(), r.flags);
                }
                let v = crate::clinical::http::LabResult::from(r);
                TimelineItem {
                    id: key.id,
                    item_type: "lab_result".into(),
                    category: Category::Labs,
                    at: key.at,
                    title: title.trim().to_owned(),
                    source,
                    data: serde_json::to_value(&v).unwrap_or_default(),
                    links: item_links,
                }
            }
            Row::Prescription(r) => {
                let source = facility(&orgs, r.org_id);
                let mut title = r.drug_name.clone();
                if let Some(d) = r.days {
                    title = format!("{title} {d}日分");
                }
                let v = crate::clinical::http::Prescription::from(r);
                TimelineItem {
                    id: key.id,
                    item_type: "prescription".into(),
                    category: Category::Medications,
                    at: key.at,
                    title,
                    source,
                    data: serde_json::to_value(&v).unwrap_or_default(),
                    links: item_links,
                }
            }
            Row::Dispensing(r) => {
                let parsed = crate::medications::service::parsed(&r);
                let source = Source {
                    kind: "pharmacy".into(),
                    name: r.pharmacy_name.clone(),
                    code: parsed.as_ref().and_then(|d| d.pharmacy.as_ref()).and_then(|p| p.national_code()),
                    org_id: r.created_by_org,
                };
                let drugs: Vec<String> = parsed
                    .iter()
                    .flat_map(|d| d.rps.iter())
                    .flat_map(|rp| rp.drugs.iter().map(|d| d.name.clone()))
                    .collect();
                let v = crate::medications::http::view(r, false);
                TimelineItem {
                    id: key.id,
                    item_type: "dispensing".into(),
                    category: Category::Medications,
                    at: key.at,
                    title: drugs.join("、"),
                    source,
                    data: serde_json::to_value(&v).unwrap_or_default(),
                    links: item_links,
                }
            }
            Row::Fact(r) => {
                let source = match r.source.as_str() {
                    "ssmix2" => match r.source_ref.and_then(|d| doc_orgs.get(&d)) {
                        Some(org) => facility(&orgs, *org),
                        None => Source { kind: "facility".into(), name: None, code: None, org_id: None },
                    },
                    "qr" => Source { kind: "pharmacy".into(), name: None, code: None, org_id: None },
                    _ => Source { kind: "app".into(), name: None, code: None, org_id: None },
                };
                let category = r.category.parse().unwrap_or(Category::Notes);
                let item_type = match category {
                    Category::Allergies => "allergy",
                    Category::Conditions => "condition",
                    Category::Medications => "medication_note",
                    _ => "note",
                };
                let title = r.text.clone();
                let v = crate::medications::http::Fact::from(r);
                TimelineItem {
                    id: key.id,
                    item_type: item_type.into(),
                    category,
                    at: key.at,
                    title,
                    source,
                    data: serde_json::to_value(&v).unwrap_or_default(),
                    links: item_links,
                }
            }
            Row::Note(r) => {
                let source = match r.author_org_id {
                    Some(org) => {
                        let o = orgs.get(&org);
                        Source {
                            kind: "municipality".into(),
                            name: o.map(|o| o.name.clone()),
                            code: o.and_then(|o| o.code.clone()),
                            org_id: Some(org),
                        }
                    }
                    None => Source { kind: "app".into(), name: None, code: None, org_id: None },
                };
                let title = r.text.chars().take(80).collect();
                let v = crate::public_health::http::NoteView::from(r);
                TimelineItem {
                    id: key.id,
                    item_type: "note".into(),
                    category: Category::Notes,
                    at: key.at,
                    title,
                    source,
                    data: serde_json::to_value(&v).unwrap_or_default(),
                    links: item_links,
                }
            }
            Row::Document(r) => TimelineItem {
                id: key.id,
                item_type: "document".into(),
                category: document_category(&r.data_kind),
                at: key.at,
                title: format!("SS-MIX2 {}", r.data_kind),
                source: facility(&orgs, r.org_id),
                data: serde_json::json!({
                    "documentId": r.id,
                    "dataKind": r.data_kind,
                    "orgId": r.org_id,
                    "receivedAt": r.received_at,
                }),
                links: item_links,
            },
        };
        out.push(item);
    }
    Ok(out)
}

/// Dispensing ↔ prescription links for the rows of a page, in both directions.
async fn crosslinks(
    db: &impl ConnectionTrait,
    person_id: Uuid,
    rows: &[(Key, Row)],
) -> Result<HashMap<Uuid, Vec<Link>>, ApiError> {
    let dispensings: Vec<&dispensing::Model> =
        rows.iter().filter_map(|(_, r)| if let Row::Dispensing(d) = r { Some(d) } else { None }).collect();
    let prescriptions: Vec<&prescription::Model> =
        rows.iter().filter_map(|(_, r)| if let Row::Prescription(p) = r { Some(p) } else { None }).collect();
    let mut out: HashMap<Uuid, Vec<Link>> = HashMap::new();
    if dispensings.is_empty() && prescriptions.is_empty() {
        return Ok(out);
    }
    // Candidates on the other side: any prescription that could still be
    // filled on a page dispensing's date, any dispensing in a page
    // prescription's window (days supply is at most a year in practice).
    let span = Duration::days(366);
    let mut rx: BTreeMap<Uuid, prescription::Model> = BTreeMap::new();
    let mut dx: BTreeMap<Uuid, dispensing::Model> = BTreeMap::new();
    if let (Some(lo), Some(hi)) =
        (dispensings.iter().map(|d| d.dispensed_on).min(), dispensings.iter().map(|d| d.dispensed_on).max())
    {
        for p in prescription::Entity::find()
            .filter(prescription::Column::PersonId.eq(person_id))
            .filter(prescription::Column::PrescribedOn.between(lo - span, hi))
            .all(db)
            .await?
        {
            rx.insert(p.id, p);
        }
    }
    if let (Some(lo), Some(hi)) = (
        prescriptions.iter().filter_map(|p| p.prescribed_on).min(),
        prescriptions.iter().filter_map(|p| p.prescribed_on).max(),
    ) {
        for d in dispensing::Entity::find()
            .filter(dispensing::Column::PersonId.eq(person_id))
            .filter(dispensing::Column::DeletedAt.is_null())
            .filter(dispensing::Column::DispensedOn.between(lo, hi + span))
            .all(db)
            .await?
        {
            dx.insert(d.id, d);
        }
    }
    for p in &prescriptions {
        rx.insert(p.id, (*p).clone());
    }
    for d in &dispensings {
        dx.insert(d.id, (*d).clone());
    }
    let org_ids: BTreeSet<Uuid> = rx.values().map(|p| p.org_id).collect();
    let codes: HashMap<Uuid, Option<String>> = organization::Entity::find()
        .filter(organization::Column::Id.is_in(org_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|o| (o.id, o.code))
        .collect();
    let page_ids: BTreeSet<Uuid> = rows.iter().map(|(k, _)| k.id).collect();
    for d in dx.values() {
        let Some(parsed) = crate::medications::service::parsed(d) else { continue };
        let institution = parsed.prescribing_institution.as_ref().and_then(|i| i.national_code());
        let drugs: Vec<DrugRef> = parsed
            .rps
            .iter()
            .flat_map(|rp| rp.drugs.iter())
            .map(|g| DrugRef::from_jahis(g.code_type.map(|t| t.code()), g.code.as_deref(), &g.name))
            .collect();
        for p in rx.values() {
            if !(page_ids.contains(&d.id) || page_ids.contains(&p.id)) {
                continue;
            }
            let Some(on) = p.prescribed_on else { continue };
            let facility_code = codes.get(&p.org_id).and_then(|c| c.as_deref());
            let drug = DrugRef::from_hl7(p.drug_system.as_deref(), p.drug_code.as_deref(), &p.drug_name);
            if crosslink::same_institution(institution.as_deref(), facility_code)
                && crosslink::within_window(on, p.days, d.dispensed_on)
                && drugs.iter().any(|g| crosslink::same_drug(g, &drug))
            {
                if page_ids.contains(&d.id) {
                    out.entry(d.id).or_default().push(Link {
                        item_type: "prescription".into(),
                        id: p.id,
                        relation: "fills".into(),
                    });
                }
                if page_ids.contains(&p.id) {
                    out.entry(p.id).or_default().push(Link {
                        item_type: "dispensing".into(),
                        id: d.id,
                        relation: "filled_by".into(),
                    });
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn dates_round_up_to_japanese_midnight() {
        let d = NaiveDate::from_ymd_opt(2011, 7, 1).unwrap();
        let midnight = date_at(d);
        assert_eq!(midnight.to_rfc3339(), "2011-06-30T15:00:00+00:00");
        assert_eq!(ceil(Axis::Date, midnight), (d.into(), true));
        assert_eq!(
            ceil(Axis::Date, midnight + Duration::seconds(1)),
            ((d + Duration::days(1)).into(), false)
        );
        let t = DateTime::<Utc>::from_timestamp_millis(1_700_000_000_123).unwrap();
        assert_eq!(ceil(Axis::Millis, t), (1_700_000_000_123_i64.into(), true));
        assert_eq!(ceil(Axis::Millis, t + Duration::microseconds(1)), (1_700_000_000_124_i64.into(), false));
    }

    #[test]
    fn order_is_newest_first_then_table_then_id_descending() {
        let t = Utc::now();
        let a = Key { at: t, table: Table::Lab, id: Uuid::from_u128(2) };
        let b = Key { at: t, table: Table::Lab, id: Uuid::from_u128(1) };
        let c = Key { at: t, table: Table::Fact, id: Uuid::from_u128(9) };
        let d = Key { at: t - Duration::seconds(1), table: Table::Observation, id: Uuid::from_u128(9) };
        let mut v = vec![d.clone(), c.clone(), b.clone(), a.clone()];
        v.sort_by(|x, y| x.order(y));
        assert_eq!(v, vec![a, b, c, d]);
    }
}
