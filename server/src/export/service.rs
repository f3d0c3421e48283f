//! Reads a person's record table by table in keyset pages and turns each page
//! into one chunk of output, so memory stays at one page (plus the few
//! organizations already written) however large the record is.

use std::collections::BTreeSet;

use chrono::{NaiveDate, Utc};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::Value;
use uuid::Uuid;

use super::csv;
use super::fhir::{self, Grantee, Source};
use crate::category::Category;
use crate::consent::Access;
use crate::consent::audit::{self, NewEntry};
use crate::consent::policy::{Relationship, in_force};
use crate::entities::{
    account, dispensing, grant, health_fact, lab_result, observation, organization, person, prescription,
};
use crate::error::ApiError;
use crate::observations::model::Observation;

/// Rows read per query.
pub const PAGE: u64 = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A FHIR R4 Bundle of type `collection` (`application/fhir+json`).
    Fhir,
    /// One FHIR resource per line (`application/fhir+ndjson`).
    Ndjson,
    /// Observations, one row per value (`text/csv`).
    Csv,
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    Start,
    Consents,
    Observations(Option<(i64, Uuid)>),
    Labs(Option<Uuid>),
    Prescriptions(Option<Uuid>),
    Dispensings(Option<(NaiveDate, Uuid)>),
    Facts(Option<Uuid>),
    Notes(Option<Uuid>),
    NoteFacts(Option<Uuid>),
    End,
    Done,
}

/// An export in progress: call [`Export::next_chunk`] until it returns `None`.
pub struct Export {
    db: DatabaseConnection,
    format: Format,
    person: person::Model,
    categories: BTreeSet<Category>,
    controls: bool,
    phase: Phase,
    /// Organizations already written (referenced resources come once each).
    orgs: BTreeSet<Uuid>,
    first: bool,
    buf: Vec<u8>,
}

const FACT_KINDS: &[&str] = &["allergy", "side_effect", "past_illness", "diagnosis", "otc_drug"];

/// Starts an export of the record `access` allows. A guardian's export is
/// logged here; a grantee's was logged by the consent check.
pub async fn open(db: &DatabaseConnection, access: &Access, format: Format) -> Result<Export, ApiError> {
    let person =
        person::Entity::find_by_id(access.person_id).one(db).await?.ok_or(ApiError::not_found("person"))?;
    if access.relationship == Relationship::Guardian {
        audit::append(
            db,
            NewEntry {
                person_id: access.person_id,
                actor_account_id: Some(access.account_id),
                actor_org_id: None,
                action: "read",
                resource: "export",
                categories: &access.categories,
                purpose: Some("guardian"),
            },
        )
        .await?;
    }
    Ok(Export {
        db: db.clone(),
        format,
        person,
        categories: access.categories.clone(),
        controls: access.controls(),
        phase: Phase::Start,
        orgs: BTreeSet::new(),
        first: true,
        buf: Vec::new(),
    })
}

impl Export {
    fn allows(&self, c: Category) -> bool {
        self.categories.contains(&c)
    }

    fn patient_id(&self) -> Uuid {
        self.person.id
    }

    /// Writes one resource in the export's format.
    fn write(&mut self, r: &Value) {
        match self.format {
            Format::Fhir => {
                if !self.first {
                    self.buf.push(b',');
                }
                self.buf.extend_from_slice(b"{\"fullUrl\":\"");
                self.buf.extend_from_slice(fhir::urn(fhir::id_of(r).parse().unwrap_or_default()).as_bytes());
                self.buf.extend_from_slice(b"\",\"resource\":");
                // Writing a Value into a Vec cannot fail.
                let _ = serde_json::to_writer(&mut self.buf, r);
                self.buf.push(b'}');
            }
            Format::Ndjson => {
                let _ = serde_json::to_writer(&mut self.buf, r);
                self.buf.push(b'\n');
            }
            Format::Csv => {}
        }
        self.first = false;
    }

    fn write_with_provenance(&mut self, r: &Value, recorded: chrono::DateTime<Utc>, source: &Source<'_>) {
        self.write(r);
        let p = fhir::provenance(r, recorded, source, self.patient_id());
        self.write(&p);
    }

    /// Writes the organization once, before the first resource that refers to it.
    async fn org(&mut self, id: Uuid) -> Result<(), ApiError> {
        if self.format == Format::Csv || !self.orgs.insert(id) {
            return Ok(());
        }
        if let Some(o) = organization::Entity::find_by_id(id).one(&self.db).await? {
            self.write(&fhir::organization(&o));
        }
        Ok(())
    }

    /// The next piece of output, or `None` when the export is complete.
    pub async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, ApiError> {
        while self.buf.is_empty() {
            self.phase = match self.phase {
                Phase::Done => return Ok(None),
                Phase::Start => {
                    self.start();
                    Phase::Consents
                }
                Phase::Consents => {
                    if self.controls && self.format != Format::Csv {
                        self.consents().await?;
                    }
                    Phase::Observations(None)
                }
                Phase::Observations(after) => self.observations(after).await?,
                Phase::Labs(after) => self.labs(after).await?,
                Phase::Prescriptions(after) => self.prescriptions(after).await?,
                Phase::Dispensings(after) => self.dispensings(after).await?,
                Phase::Facts(after) => self.facts(after).await?,
                Phase::Notes(after) => self.notes(after).await?,
                Phase::NoteFacts(after) => self.note_facts(after).await?,
                Phase::End => {
                    if self.format == Format::Fhir {
                        self.buf.extend_from_slice(b"]}");
                    }
                    Phase::Done
                }
            };
        }
        Ok(Some(std::mem::take(&mut self.buf)))
    }

    fn start(&mut self) {
        match self.format {
            Format::Fhir => {
                let head = serde_json::json!({
                    "resourceType": "Bundle",
                    "id": Uuid::now_v7(),
                    "type": "collection",
                    "timestamp": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                })
                .to_string();
                // `{…,"entry":[`: the entries follow as they are read.
                self.buf.extend_from_slice(&head.as_bytes()[..head.len() - 1]);
                self.buf.extend_from_slice(b",\"entry\":[");
                let p = fhir::patient(&self.person);
                self.write(&p);
            }
            Format::Ndjson => {
                let p = fhir::patient(&self.person);
                self.write(&p);
            }
            Format::Csv => self.buf.extend_from_slice(csv::record(csv::HEADER).as_bytes()),
        }
    }

    /// One Consent per grant in force (the person and guardians only: grantees
    /// do not see who else the record is shared with).
    async fn consents(&mut self) -> Result<(), ApiError> {
        let now = Utc::now();
        let grants = grant::Entity::find()
            .filter(grant::Column::PersonId.eq(self.patient_id()))
            .filter(grant::Column::RevokedAt.is_null())
            .order_by_asc(grant::Column::Id)
            .all(&self.db)
            .await?;
        for g in grants.into_iter().filter(|g| in_force(g, now)) {
            let r = match (g.grantee_org_id, g.grantee_account_id) {
                (Some(org), _) => {
                    self.org(org).await?;
                    fhir::consent(&g, Grantee::Org(org), self.patient_id())
                }
                (None, Some(a)) => {
                    let name = account::Entity::find_by_id(a)
                        .one(&self.db)
                        .await?
                        .map(|a| a.display_name)
                        .unwrap_or_default();
                    fhir::consent(&g, Grantee::Account { id: a, name: &name }, self.patient_id())
                }
                (None, None) => continue,
            };
            self.write_with_provenance(&r, g.created_at, &Source::Person);
        }
        Ok(())
    }

    async fn observations(&mut self, after: Option<(i64, Uuid)>) -> Result<Phase, ApiError> {
        use observation::Column as C;
        let cats: Vec<&str> = [Category::Vitals, Category::Labs, Category::Activity]
            .into_iter()
            .filter(|c| self.allows(*c))
            .map(Category::as_str)
            .collect();
        if cats.is_empty() {
            return Ok(Phase::Labs(None));
        }
        let mut q = observation::Entity::find()
            .filter(C::PersonId.eq(self.patient_id()))
            .filter(C::DeletedAt.is_null())
            .filter(C::Category.is_in(cats));
        if let Some((ms, id)) = after {
            q = q.filter(
                Condition::any()
                    .add(C::StartMs.gt(ms))
                    .add(Condition::all().add(C::StartMs.eq(ms)).add(C::Id.gt(id))),
            );
        }
        let rows = q.order_by_asc(C::StartMs).order_by_asc(C::Id).limit(PAGE).all(&self.db).await?;
        let next = match rows.last() {
            Some(r) if rows.len() as u64 == PAGE => Phase::Observations(Some((r.start_ms, r.id))),
            _ => Phase::Labs(None),
        };
        for row in rows {
            let o = Observation::from_row(row);
            if self.format == Format::Csv {
                for line in csv::observation_rows(&o) {
                    self.buf.extend_from_slice(line.as_bytes());
                }
                continue;
            }
            let r = fhir::observation(&o, self.patient_id());
            self.write_with_provenance(&r, o.created_at, &Source::of_observation(&o));
        }
        Ok(next)
    }

    async fn labs(&mut self, after: Option<Uuid>) -> Result<Phase, ApiError> {
        use lab_result::Column as C;
        if !self.allows(Category::Labs) {
            return Ok(Phase::Prescriptions(None));
        }
        let mut q = lab_result::Entity::find().filter(C::PersonId.eq(self.patient_id()));
        if let Some(id) = after {
            q = q.filter(C::Id.gt(id));
        }
        let rows = q.order_by_asc(C::Id).limit(PAGE).all(&self.db).await?;
        let next = match rows.last() {
            Some(r) if rows.len() as u64 == PAGE => Phase::Labs(Some(r.id)),
            _ => Phase::Prescriptions(None),
        };
        for r in rows {
            if self.format == Format::Csv {
                self.buf.extend_from_slice(csv::lab_row(&r).as_bytes());
                continue;
            }
            self.org(r.org_id).await?;
            let o = fhir::lab_observation(&r, self.patient_id());
            let source = Source::Facility { org: r.org_id, document: Some(r.document_id) };
            self.write_with_provenance(&o, r.created_at, &source);
        }
        Ok(next)
    }

    async fn prescriptions(&mut self, after: Option<Uuid>) -> Result<Phase, ApiError> {
        use prescription::Column as C;
        if !self.allows(Category::Medications) || self.format == Format::Csv {
            return Ok(Phase::Dispensings(None));
        }
        let mut q = prescription::Entity::find().filter(C::PersonId.eq(self.patient_id()));
        if let Some(id) = after {
            q = q.filter(C::Id.gt(id));
        }
        let rows = q.order_by_asc(C::Id).limit(PAGE).all(&self.db).await?;
        let next = match rows.last() {
            Some(r) if rows.len() as u64 == PAGE => Phase::Prescriptions(Some(r.id)),
            _ => Phase::Dispensings(None),
        };
        for p in rows {
            self.org(p.org_id).await?;
            let r = fhir::medication_request(&p, self.patient_id());
            let source = Source::Facility { org: p.org_id, document: Some(p.document_id) };
            self.write_with_provenance(&r, p.created_at, &source);
        }
        Ok(next)
    }

    async fn dispensings(&mut self, after: Option<(NaiveDate, Uuid)>) -> Result<Phase, ApiError> {
        use dispensing::Column as C;
        if !self.allows(Category::Medications) || self.format == Format::Csv {
            return Ok(Phase::Facts(None));
        }
        let mut q = dispensing::Entity::find()
            .filter(C::PersonId.eq(self.patient_id()))
            .filter(C::DeletedAt.is_null());
        if let Some((d, id)) = after {
            q = q.filter(
                Condition::any()
                    .add(C::DispensedOn.gt(d))
                    .add(Condition::all().add(C::DispensedOn.eq(d)).add(C::Id.gt(id))),
            );
        }
        let rows = q.order_by_asc(C::DispensedOn).order_by_asc(C::Id).limit(PAGE).all(&self.db).await?;
        let next = match rows.last() {
            Some(r) if rows.len() as u64 == PAGE => Phase::Dispensings(Some((r.dispensed_on, r.id))),
            _ => Phase::Facts(None),
        };
        for row in rows {
            let Some(d) = crate::medications::service::parsed(&row) else { continue };
            let source = Source::Pharmacy { pharmacy: d.pharmacy.as_ref(), dispensing: row.id };
            for r in fhir::medication_dispenses(row.id, &d, self.patient_id()) {
                self.write_with_provenance(&r, row.created_at, &source);
            }
        }
        Ok(next)
    }

    async fn facts(&mut self, after: Option<Uuid>) -> Result<Phase, ApiError> {
        use health_fact::Column as C;
        let cats: Vec<&str> = [Category::Allergies, Category::Conditions, Category::Medications]
            .into_iter()
            .filter(|c| self.allows(*c))
            .map(Category::as_str)
            .collect();
        if cats.is_empty() || self.format == Format::Csv {
            return Ok(Phase::Notes(None));
        }
        let mut q = health_fact::Entity::find()
            .filter(C::PersonId.eq(self.patient_id()))
            .filter(C::Category.is_in(cats))
            .filter(C::Kind.is_in(FACT_KINDS.iter().copied()));
        if let Some(id) = after {
            q = q.filter(C::Id.gt(id));
        }
        let rows = q.order_by_asc(C::Id).limit(PAGE).all(&self.db).await?;
        let next = match rows.last() {
            Some(r) if rows.len() as u64 == PAGE => Phase::Facts(Some(r.id)),
            _ => Phase::Notes(None),
        };
        let patient = self.patient_id();
        for f in rows {
            let r = match f.kind.as_str() {
                "allergy" | "side_effect" => fhir::allergy(&f, patient),
                "otc_drug" => fhir::medication_statement(&f, patient),
                _ => fhir::condition(&f, patient),
            };
            // SS-MIX2 facts name their document (and through it the facility);
            // QR facts the dispensing they came with.
            let source = match (f.source.as_str(), f.source_ref) {
                ("ssmix2", Some(doc)) => {
                    match crate::entities::clinical_document::Entity::find_by_id(doc).one(&self.db).await? {
                        Some(d) => {
                            self.org(d.org_id).await?;
                            Some((d.org_id, doc))
                        }
                        None => None,
                    }
                    .map(|(org, doc)| Source::Facility { org, document: Some(doc) })
                }
                ("qr", Some(d)) => Some(Source::Pharmacy { pharmacy: None, dispensing: d }),
                _ => None,
            };
            self.write_with_provenance(&r, f.created_at, &source.unwrap_or(Source::Person));
        }
        Ok(next)
    }

    /// Guidance notes from programme nurses and the person's diary.
    async fn notes(&mut self, after: Option<Uuid>) -> Result<Phase, ApiError> {
        use crate::entities::note::Column as C;
        if !self.allows(Category::Notes) || self.format == Format::Csv {
            return Ok(Phase::NoteFacts(None));
        }
        let mut q = crate::entities::note::Entity::find().filter(C::PersonId.eq(self.patient_id()));
        if let Some(id) = after {
            q = q.filter(C::Id.gt(id));
        }
        let rows = q.order_by_asc(C::Id).limit(PAGE).all(&self.db).await?;
        let next = match rows.last() {
            Some(r) if rows.len() as u64 == PAGE => Phase::Notes(Some(r.id)),
            _ => Phase::NoteFacts(None),
        };
        for n in rows {
            if let Some(org) = n.author_org_id {
                self.org(org).await?;
            }
            let r = fhir::note(&n, self.patient_id());
            let source = match n.author_org_id {
                Some(org) => Source::Facility { org, document: None },
                None => Source::Person,
            };
            self.write_with_provenance(&r, n.created_at, &source);
        }
        Ok(next)
    }

    /// Notes that came with pharmacy QR records (memos, the patient's entries).
    async fn note_facts(&mut self, after: Option<Uuid>) -> Result<Phase, ApiError> {
        use health_fact::Column as C;
        if !self.allows(Category::Notes) || self.format == Format::Csv {
            return Ok(Phase::End);
        }
        let mut q = health_fact::Entity::find()
            .filter(C::PersonId.eq(self.patient_id()))
            .filter(C::Category.eq(Category::Notes.as_str()));
        if let Some(id) = after {
            q = q.filter(C::Id.gt(id));
        }
        let rows = q.order_by_asc(C::Id).limit(PAGE).all(&self.db).await?;
        let next = match rows.last() {
            Some(r) if rows.len() as u64 == PAGE => Phase::NoteFacts(Some(r.id)),
            _ => Phase::End,
        };
        for f in rows {
            let r = fhir::fact_note(&f, self.patient_id());
            let source = match (f.source.as_str(), f.source_ref) {
                ("qr", Some(d)) => Source::Pharmacy { pharmacy: None, dispensing: d },
                _ => Source::Person,
            };
            self.write_with_provenance(&r, f.created_at, &source);
        }
        Ok(next)
    }
}
