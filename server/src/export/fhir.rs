//! FHIR R4 resources built from a person's rows, as `serde_json::Value`s: no
//! database or HTTP here, so the mapping is unit-tested on its own and the
//! export service only reads pages and streams what these functions return.
//! Code systems and identifiers follow JP Core where it names one (JLAC10,
//! HOT9, YJ, the medical institution number, kana names).

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use phr_formats::jahis::{Dispensing, DrugCodeType, Institution};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::entities::{grant, health_fact, lab_result, organization, person, prescription};
use crate::observations::catalogue;
use crate::observations::model::{Method, Observation};

pub const LOINC: &str = "http://loinc.org";
pub const UCUM: &str = "http://unitsofmeasure.org";
pub const JLAC10: &str = "http://medis.or.jp/CodeSystem/master-JLAC10-17digits";
pub const MEDICAL_INSTITUTION: &str = "http://jpfhir.jp/fhir/core/IdSystem/insurance-medical-institution-no";
pub const HOT9: &str = "urn:oid:1.2.392.200119.4.403.1";
pub const YJ: &str = "urn:oid:1.2.392.100495.20.1.73";
pub const ICD10: &str = "http://hl7.org/fhir/sid/icd-10";
const OBSERVATION_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
const INTERPRETATION: &str = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation";
const PARTICIPANT_TYPE: &str = "http://terminology.hl7.org/CodeSystem/provenance-participant-type";
const NAME_REPRESENTATION: &str = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation";
const URI_SYSTEM: &str = "urn:ietf:rfc:3986";

/// `urn:uuid:<id>`: the bundle's `fullUrl` of a resource and how others refer to it.
pub fn urn(id: Uuid) -> String {
    format!("urn:uuid:{id}")
}

fn reference(id: Uuid) -> Value {
    json!({ "reference": urn(id) })
}

/// A stable id for a resource that has no row of its own (one drug of a
/// dispensing, the provenance of an item): a name-based UUID (version 8 layout)
/// from the row's id and a tag, so a re-export gives the same ids.
pub fn derived_id(base: Uuid, tag: &str) -> Uuid {
    let mut h = Sha256::new();
    h.update(base.as_bytes());
    h.update(tag.as_bytes());
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    Uuid::from_bytes(bytes)
}

/// FHIR `instant`: UTC, seconds always present.
fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// FHIR `dateTime` in the offset it was recorded with.
fn date_time(t: DateTime<FixedOffset>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

/// The `id` of a resource built here.
pub fn id_of(resource: &Value) -> &str {
    resource.get("id").and_then(Value::as_str).unwrap_or_default()
}

fn text(t: &str) -> Value {
    json!({ "text": t })
}

fn concept(system: &str, code: &str, display: Option<&str>) -> Value {
    let mut c = json!({ "system": system, "code": code });
    if let Some(d) = display {
        c["display"] = json!(d);
    }
    json!({ "coding": [c] })
}

/// A quantity with its UCUM code when the unit is one; otherwise the unit as text only.
fn quantity(value: f64, unit: Option<&str>) -> Value {
    let mut q = json!({ "value": value });
    if let Some(u) = unit.filter(|u| !u.is_empty()) {
        q["unit"] = json!(u);
        if let Some(code) = ucum(u) {
            q["system"] = json!(UCUM);
            q["code"] = json!(code);
        }
    }
    q
}

/// UCUM code of a unit as the catalogue stores it or as Japanese lab systems
/// commonly write it. Unknown units stay text (`unit` without `code`).
pub fn ucum(unit: &str) -> Option<&'static str> {
    // Every canonical unit of the observation catalogue is UCUM already.
    for k in catalogue::kinds() {
        let units = k.quantity.iter().map(|q| q.unit).chain(k.components.iter().map(|c| c.quantity.unit));
        if let Some(u) = units.into_iter().find(|u| *u == unit) {
            return Some(u);
        }
    }
    const LAB_UNITS: &[(&str, &str)] = &[
        ("g/dl", "g/dL"),
        ("g/dL", "g/dL"),
        ("mg/dl", "mg/dL"),
        ("mg/dL", "mg/dL"),
        ("μg/dl", "ug/dL"),
        ("µg/dL", "ug/dL"),
        ("ng/ml", "ng/mL"),
        ("ng/mL", "ng/mL"),
        ("pg/ml", "pg/mL"),
        ("pg/mL", "pg/mL"),
        ("mg/l", "mg/L"),
        ("mg/L", "mg/L"),
        ("U/L", "U/L"),
        ("U/l", "U/L"),
        ("IU/L", "[IU]/L"),
        ("IU/l", "[IU]/L"),
        ("mmol/l", "mmol/L"),
        ("mmol/L", "mmol/L"),
        ("mEq/l", "meq/L"),
        ("mEq/L", "meq/L"),
        ("fl", "fL"),
        ("fL", "fL"),
        ("pg", "pg"),
        ("%", "%"),
        ("10^4/μl", "10*4/uL"),
        ("10^4/µL", "10*4/uL"),
        ("10^3/μl", "10*3/uL"),
        ("10^3/µL", "10*3/uL"),
        ("/μl", "/uL"),
        ("/µL", "/uL"),
        ("mL/min/1.73m2", "mL/min/{1.73_m2}"),
    ];
    LAB_UNITS.iter().find(|(k, _)| *k == unit).map(|(_, v)| *v)
}

/// Patient, with the kanji name and the kana name marked as JP Core does
/// (`IDE` ideographic, `SYL` syllabic).
pub fn patient(p: &person::Model) -> Value {
    let name = |t: &str, representation: &str| {
        let mut n = json!({
            "extension": [{ "url": NAME_REPRESENTATION, "valueCode": representation }],
            "use": "official",
            "text": t,
        });
        // 「鈴木 花子」: family name first, split at the one space.
        let parts: Vec<&str> = t.split([' ', '\u{3000}']).filter(|s| !s.is_empty()).collect();
        if let [family, given] = parts[..] {
            n["family"] = json!(family);
            n["given"] = json!([given]);
        }
        n
    };
    let mut names = vec![name(&p.display_name, "IDE")];
    if let Some(k) = p.name_kana.as_deref().filter(|k| !k.is_empty()) {
        names.push(name(k, "SYL"));
    }
    let mut r = json!({ "resourceType": "Patient", "id": p.id, "active": true, "name": names });
    if let Some(sex) = &p.sex {
        let gender = match sex.as_str() {
            s @ ("male" | "female" | "other") => s,
            _ => "unknown",
        };
        r["gender"] = json!(gender);
    }
    if let Some(b) = p.birth_date {
        r["birthDate"] = json!(b.to_string());
    }
    r
}

/// A facility of the network, identified by its 10-digit medical institution number.
pub fn organization(o: &organization::Model) -> Value {
    let kind = match o.kind.as_str() {
        "municipality" => "govt",
        _ => "prov",
    };
    let mut r = json!({
        "resourceType": "Organization",
        "id": o.id,
        "active": true,
        "type": [{
            "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/organization-type", "code": kind }],
            "text": o.kind,
        }],
        "name": o.name,
    });
    if let Some(code) = &o.code {
        r["identifier"] = json!([{ "system": MEDICAL_INSTITUTION, "value": code }]);
    }
    r
}

fn observation_category(category: &str) -> Value {
    let (code, display) = match category {
        "labs" => ("laboratory", "Laboratory"),
        "activity" => ("activity", "Activity"),
        _ => ("vital-signs", "Vital Signs"),
    };
    json!([concept(OBSERVATION_CATEGORY, code, Some(display))])
}

/// An app or device observation: LOINC code from the catalogue, canonical
/// UCUM quantities, blood pressure (and exercise) as components.
pub fn observation(o: &Observation, patient: Uuid) -> Value {
    let spec = catalogue::kind(&o.kind);
    let code = match spec {
        Some(k) => {
            let mut c = concept(LOINC, k.loinc, Some(k.display.en));
            c["text"] = json!(k.display.ja);
            c
        }
        None => text(&o.kind),
    };
    let mut r = json!({
        "resourceType": "Observation",
        "id": o.id,
        "status": "final",
        "category": observation_category(&o.category),
        "code": code,
        "subject": reference(patient),
    });
    match (o.effective_at, o.effective_start, o.effective_end) {
        (Some(at), _, _) => r["effectiveDateTime"] = json!(date_time(at)),
        (None, Some(start), end) => {
            let mut p = json!({ "start": date_time(start) });
            if let Some(e) = end {
                p["end"] = json!(date_time(e));
            }
            r["effectivePeriod"] = p;
        }
        _ => {}
    }
    r["issued"] = json!(instant(o.created_at));
    if let Some(v) = o.value {
        r["valueQuantity"] = quantity(v, o.unit.as_deref());
    }
    if let (Some(stage), Some(k)) = (&o.code, spec) {
        let display = k.stage(stage).map_or(stage.as_str(), |s| s.display.en);
        r["valueCodeableConcept"] = text(display);
    }
    if let Some(t) = &o.text {
        r["valueString"] = json!(t);
    }
    if let Some(components) = &o.components {
        let mut out = Vec::new();
        // In catalogue order (systolic before diastolic), not map order.
        let names: Vec<&str> = match spec {
            Some(k) => k.components.iter().map(|c| c.name).collect(),
            None => components.keys().map(String::as_str).collect(),
        };
        for name in names {
            let Some(q) = components.get(name) else { continue };
            let c = spec.and_then(|k| k.component(name));
            let code = match c {
                Some(c) => match c.loinc {
                    Some(l) => {
                        let mut cc = concept(LOINC, l, Some(c.display.en));
                        cc["text"] = json!(c.display.ja);
                        cc
                    }
                    None => text(c.display.en),
                },
                None => text(name),
            };
            out.push(json!({ "code": code, "valueQuantity": quantity(q.value, Some(&q.unit)) }));
        }
        if !out.is_empty() {
            r["component"] = json!(out);
        }
    }
    if let Some(n) = o.note.as_deref().filter(|n| !n.is_empty()) {
        r["note"] = json!([{ "text": n }]);
    }
    r
}

/// HL7 v2 OBX-11 result status → Observation.status.
fn lab_status(s: Option<&str>) -> &'static str {
    match s {
        Some("C") => "corrected",
        Some("P" | "R" | "S" | "I") => "preliminary",
        Some("X") => "cancelled",
        Some("D" | "W") => "entered-in-error",
        _ => "final",
    }
}

/// A lab result from a facility's SS-MIX2 storage: JLAC10 (when sent) plus the
/// facility's own code, the value as a quantity when numeric, reference
/// range, and the abnormal flags as v3 interpretation codes.
pub fn lab_observation(r: &lab_result::Model, patient: Uuid) -> Value {
    let mut coding = Vec::new();
    if let Some(j) = r.jlac10.as_deref().filter(|j| !j.is_empty()) {
        coding.push(json!({ "system": JLAC10, "code": j, "display": r.name }));
    }
    // The facility's local code has no public code system; it is kept as a
    // system-less coding so the original is not lost.
    if !r.code.is_empty() {
        coding.push(json!({ "code": r.code, "display": r.name }));
    }
    let mut code = json!({ "text": r.name });
    if !coding.is_empty() {
        code["coding"] = json!(coding);
    }
    let mut o = json!({
        "resourceType": "Observation",
        "id": r.id,
        "status": lab_status(r.status.as_deref()),
        "category": observation_category("labs"),
        "code": code,
        "subject": reference(patient),
        "performer": [reference(r.org_id)],
        "issued": instant(r.created_at),
    });
    if let Some(at) = r.observed_at {
        o["effectiveDateTime"] = json!(instant(at));
    }
    match r.numeric {
        Some(v) => o["valueQuantity"] = quantity(v, r.unit.as_deref()),
        None if !r.value.is_empty() => o["valueString"] = json!(r.value),
        None => {
            o["dataAbsentReason"] =
                concept("http://terminology.hl7.org/CodeSystem/data-absent-reason", "unknown", None)
        }
    }
    let flags: Vec<Value> = r
        .flags
        .split(',')
        .filter_map(|f| match f.trim() {
            f @ ("H" | "L" | "HH" | "LL" | "N" | "A" | "AA" | "<" | ">") => {
                Some(concept(INTERPRETATION, f, None))
            }
            _ => None,
        })
        .collect();
    if !flags.is_empty() {
        o["interpretation"] = json!(flags);
    }
    let mut range = Map::new();
    if let Some(low) = r.range_low {
        range.insert("low".into(), quantity(low, r.unit.as_deref()));
    }
    if let Some(high) = r.range_high {
        range.insert("high".into(), quantity(high, r.unit.as_deref()));
    }
    if let Some(t) = r.range_text.as_deref().filter(|t| !t.is_empty()) {
        range.insert("text".into(), json!(t));
    }
    if !range.is_empty() {
        o["referenceRange"] = json!([range]);
    }
    let mut notes: Vec<Value> = Vec::new();
    if let Some(s) = r.specimen.as_deref().filter(|s| !s.is_empty()) {
        notes.push(json!({ "text": format!("検体: {s}") }));
    }
    if let Some(n) = r.notes.as_deref().filter(|n| !n.is_empty()) {
        notes.push(json!({ "text": n }));
    }
    if !notes.is_empty() {
        o["note"] = json!(notes);
    }
    o
}

/// The medication as a concept: HOT9 and YJ codes in their JP Core systems
/// (a 13-digit HOT code's first nine digits are its HOT9), other code kinds as text.
fn medication(system: Option<&str>, code: Option<&str>, name: &str) -> Value {
    let mut c = text(name);
    let code = code.map(str::trim).filter(|c| !c.is_empty());
    let coding = match (system.map(str::to_ascii_uppercase).as_deref(), code) {
        (Some("HOT9" | "HOT" | "HOT13"), Some(c)) if c.len() >= 9 && c.is_ascii() => {
            Some(json!({ "system": HOT9, "code": &c[..9], "display": name }))
        }
        (Some("YJ"), Some(c)) => Some(json!({ "system": YJ, "code": c, "display": name })),
        _ => None,
    };
    if let Some(coding) = coding {
        c["coding"] = json!([coding]);
    }
    c
}

/// `d` (UCUM days) as JP Core writes days supply.
fn days(n: impl Into<f64>) -> Value {
    json!({ "value": n.into(), "unit": "日", "system": UCUM, "code": "d" })
}

/// A hospital prescription line (SS-MIX2 RXE) as a completed order.
pub fn medication_request(p: &prescription::Model, patient: Uuid) -> Value {
    let mut r = json!({
        "resourceType": "MedicationRequest",
        "id": p.id,
        "status": "completed",
        "intent": "order",
        "medicationCodeableConcept": medication(p.drug_system.as_deref(), p.drug_code.as_deref(), &p.drug_name),
        "subject": reference(patient),
        "requester": reference(p.org_id),
    });
    if let Some(d) = p.prescribed_on {
        r["authoredOn"] = json!(d.to_string());
    }
    let mut dosage = Map::new();
    if let Some(t) = p.usage_text.as_deref().filter(|t| !t.is_empty()) {
        dosage.insert("text".into(), json!(t));
    }
    if let Some(route) = p.route.as_deref().filter(|t| !t.is_empty()) {
        dosage.insert("route".into(), text(route));
    }
    if let Some(dose) = p.dose {
        dosage.insert(
            "doseAndRate".into(),
            json!([{ "doseQuantity": quantity(dose, p.dose_unit.as_deref()) }]),
        );
    }
    if !dosage.is_empty() {
        r["dosageInstruction"] = json!([dosage]);
    }
    if let Some(d) = p.days.filter(|d| *d > 0) {
        r["dispenseRequest"] = json!({ "expectedSupplyDuration": days(d) });
    }
    r
}

/// The pharmacy as a logical reference (it need not be an organization of the network).
fn institution_reference(i: &Institution) -> Value {
    let mut r = json!({ "display": i.name });
    if let Some(code) = i.national_code() {
        r["identifier"] = json!({ "system": MEDICAL_INSTITUTION, "value": code });
    }
    r
}

/// One MedicationDispense per drug of each RP of a QR dispensing. Ids are
/// derived from the dispensing's id, RP number and drug position.
pub fn medication_dispenses(id: Uuid, d: &Dispensing, patient: Uuid) -> Vec<Value> {
    let mut out = Vec::new();
    for (ri, rp) in d.rps.iter().enumerate() {
        for (di, drug) in rp.drugs.iter().enumerate() {
            let system = match drug.code_type {
                Some(DrugCodeType::Hot) => Some("HOT"),
                Some(DrugCodeType::Yj) => Some("YJ"),
                _ => None,
            };
            let mut r = json!({
                "resourceType": "MedicationDispense",
                "id": derived_id(id, &format!("dispense/{ri}/{di}")),
                "status": "completed",
                "medicationCodeableConcept": medication(system, drug.code.as_deref(), &drug.name),
                "subject": reference(patient),
                "whenHandedOver": d.date.to_string(),
            });
            if let Some(p) = &d.pharmacy {
                r["performer"] = json!([{ "actor": institution_reference(p) }]);
            }
            if let Some(amount) = drug.amount.as_deref().and_then(|a| a.trim().parse::<f64>().ok()) {
                r["quantity"] = quantity(amount, drug.unit.as_deref());
            }
            if let Some(n) = rp.usage.as_ref().and_then(|u| u.days_supply) {
                r["daysSupply"] = days(n);
            }
            let usage = rp.usage.as_ref().and_then(|u| u.text.clone());
            let amount = match (&drug.amount, &drug.unit) {
                (Some(a), Some(u)) => Some(format!("{a}{u}")),
                (Some(a), None) => Some(a.clone()),
                _ => None,
            };
            let dosage: Vec<String> = amount.into_iter().chain(usage).collect();
            if !dosage.is_empty() {
                r["dosageInstruction"] = json!([{ "text": dosage.join(" ") }]);
            }
            out.push(r);
        }
    }
    out
}

/// An allergy or side effect.
pub fn allergy(f: &health_fact::Model, patient: Uuid) -> Value {
    let kind = if f.kind == "side_effect" { "intolerance" } else { "allergy" };
    json!({
        "resourceType": "AllergyIntolerance",
        "id": f.id,
        "clinicalStatus": concept(
            "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "active", Some("Active")),
        "type": kind,
        "code": text(&f.text),
        "patient": reference(patient),
        "recordedDate": instant(f.created_at),
    })
}

/// A diagnosis (SS-MIX2, with its ICD-10 code when sent) or past illness (QR).
pub fn condition(f: &health_fact::Model, patient: Uuid) -> Value {
    let mut code = text(&f.text);
    // SS-MIX2 facts carry the code as 「病名 (ICD-10 X00.0)」.
    if let Some((_, rest)) = f.text.rsplit_once(" (ICD-10 ")
        && let Some(icd) = rest.strip_suffix(')')
    {
        code["coding"] = json!([{ "system": ICD10, "code": icd }]);
    }
    let status = if f.kind == "past_illness" { "inactive" } else { "active" };
    json!({
        "resourceType": "Condition",
        "id": f.id,
        "clinicalStatus": concept(
            "http://terminology.hl7.org/CodeSystem/condition-clinical", status, None),
        "category": [concept(
            "http://terminology.hl7.org/CodeSystem/condition-category", "problem-list-item", None)],
        "code": code,
        "subject": reference(patient),
        "recordedDate": instant(f.created_at),
    })
}

/// A note on the record as a Communication: a programme nurse's guidance
/// (sender: the municipality, recipient: the person) or the person's diary.
pub fn note(n: &crate::entities::note::Model, patient: Uuid) -> Value {
    let mut r = json!({
        "resourceType": "Communication",
        "id": n.id,
        "status": "completed",
        "category": [text(&n.category)],
        "subject": reference(patient),
        "sent": instant(n.created_at),
        "payload": [{ "contentString": n.text }],
    });
    match n.author_org_id {
        Some(org) => {
            r["sender"] = reference(org);
            r["recipient"] = json!([reference(patient)]);
        }
        None => r["sender"] = reference(patient),
    }
    r
}

/// A memo or patient entry that came with a pharmacy QR record.
pub fn fact_note(f: &health_fact::Model, patient: Uuid) -> Value {
    json!({
        "resourceType": "Communication",
        "id": f.id,
        "status": "completed",
        "category": [text(&f.kind)],
        "subject": reference(patient),
        "sent": instant(f.created_at),
        "payload": [{ "contentString": f.text }],
    })
}

/// An OTC drug the person takes (from the QR payload).
pub fn medication_statement(f: &health_fact::Model, patient: Uuid) -> Value {
    json!({
        "resourceType": "MedicationStatement",
        "id": f.id,
        "status": "unknown",
        "medicationCodeableConcept": text(&f.text),
        "subject": reference(patient),
        "dateAsserted": instant(f.created_at),
    })
}

/// Who a grant is to.
pub enum Grantee<'a> {
    /// An organization of the network, in the bundle.
    Org(Uuid),
    /// A person's account, as a logical reference.
    Account { id: Uuid, name: &'a str },
}

/// One Consent per grant in force: a permit for the grantee to read (and
/// correct, with write access) the listed categories during the grant's period.
pub fn consent(g: &grant::Model, grantee: Grantee<'_>, patient: Uuid) -> Value {
    let purpose = match g.purpose.as_str() {
        "family" => ("FAMRQT", "family requested"),
        "public_health" => ("PUBHLTH", "public health"),
        _ => ("TREAT", "treatment"),
    };
    let actor = match grantee {
        Grantee::Org(id) => reference(id),
        Grantee::Account { id, name } => {
            json!({ "identifier": { "system": URI_SYSTEM, "value": urn(id) }, "display": name })
        }
    };
    let mut actions = vec![concept("http://terminology.hl7.org/CodeSystem/consentaction", "access", None)];
    if g.access == "write" {
        actions.push(concept("http://terminology.hl7.org/CodeSystem/consentaction", "correct", None));
    }
    let categories: Vec<Value> =
        g.categories.split(',').filter(|c| !c.is_empty()).map(|c| text(c.trim())).collect();
    let mut period = json!({ "start": instant(g.starts_at.unwrap_or(g.created_at)) });
    if let Some(e) = g.expires_at {
        period["end"] = json!(instant(e));
    }
    json!({
        "resourceType": "Consent",
        "id": g.id,
        "status": "active",
        "scope": concept("http://terminology.hl7.org/CodeSystem/consentscope", "patient-privacy", None),
        "category": [concept(LOINC, "59284-0", Some("Patient Consent"))],
        "patient": reference(patient),
        "dateTime": instant(g.created_at),
        "performer": [reference(patient)],
        "policyRule": concept("http://terminology.hl7.org/CodeSystem/v3-ActCode", "OPTIN", None),
        "provision": {
            "type": "permit",
            "period": period,
            "actor": [{
                "role": concept("http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "IRCP",
                                Some("information recipient")),
                "reference": actor,
            }],
            "action": actions,
            "purpose": [{
                "system": "http://terminology.hl7.org/CodeSystem/v3-ActReason",
                "code": purpose.0,
                "display": purpose.1,
            }],
            "code": categories,
        },
    })
}

/// Where an item came from, for its Provenance.
pub enum Source<'a> {
    /// The person typed it in.
    Person,
    /// A device, read through an app.
    Device { device: &'a str, app: Option<&'a str> },
    /// An app that imported or recorded it.
    App(&'a str),
    /// An organization of the network (an SS-MIX2 upload), with the document.
    Facility { org: Uuid, document: Option<Uuid> },
    /// A pharmacy's QR code, with the dispensing it was read as.
    Pharmacy { pharmacy: Option<&'a Institution>, dispensing: Uuid },
}

impl<'a> Source<'a> {
    /// Where an app observation came from.
    pub fn of_observation(o: &'a Observation) -> Self {
        match (&o.source.method, o.source.device.as_deref(), o.source.app.as_deref()) {
            (Method::Device, Some(device), app) => Source::Device { device, app },
            (Method::Manual, _, _) => Source::Person,
            (_, _, Some(app)) => Source::App(app),
            _ => Source::Person,
        }
    }
}

fn participant(code: &str) -> Value {
    concept(PARTICIPANT_TYPE, code, None)
}

/// The Provenance of one item: who produced it (agent) and, for documents and
/// QR codes, what it was read from (entity).
pub fn provenance(target: &Value, recorded: DateTime<Utc>, source: &Source<'_>, patient: Uuid) -> Value {
    let target_id = id_of(target).parse::<Uuid>().unwrap_or_default();
    let mut agents = Vec::new();
    let mut entity = None;
    match source {
        Source::Person => agents.push(json!({ "type": participant("enterer"), "who": reference(patient) })),
        Source::Device { device, app } => {
            agents.push(json!({ "type": participant("performer"), "who": { "display": device } }));
            if let Some(app) = app {
                agents.push(json!({ "type": participant("assembler"), "who": { "display": app } }));
            }
        }
        Source::App(app) => {
            agents.push(json!({ "type": participant("assembler"), "who": { "display": app } }))
        }
        Source::Facility { org, document } => {
            agents.push(json!({ "type": participant("author"), "who": reference(*org) }));
            if let Some(d) = document {
                entity = Some(json!({
                    "role": "source",
                    "what": { "identifier": { "system": URI_SYSTEM, "value": urn(*d) },
                              "display": "SS-MIX2 標準化ストレージ" },
                }));
            }
        }
        Source::Pharmacy { pharmacy, dispensing } => {
            let who = pharmacy.map_or_else(|| json!({ "display": "薬局" }), institution_reference);
            agents.push(json!({ "type": participant("author"), "who": who }));
            entity = Some(json!({
                "role": "source",
                "what": { "identifier": { "system": URI_SYSTEM, "value": urn(*dispensing) },
                          "display": "JAHIS 電子版お薬手帳 QR コード" },
            }));
        }
    }
    let mut r = json!({
        "resourceType": "Provenance",
        "id": derived_id(target_id, "provenance"),
        "target": [reference(target_id)],
        "recorded": instant(recorded),
        "agent": agents,
    });
    if let Some(e) = entity {
        r["entity"] = json!([e]);
    }
    r
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::TimeZone;

    use super::*;
    use crate::observations::model::{QuantityOut, Source as ObsSource};

    fn obs(kind: &str, category: &str) -> Observation {
        let at = FixedOffset::east_opt(9 * 3600).unwrap().with_ymd_and_hms(2026, 1, 6, 7, 30, 0).unwrap();
        Observation {
            id: Uuid::now_v7(),
            kind: kind.into(),
            category: category.into(),
            value: None,
            unit: None,
            original_value: None,
            original_unit: None,
            components: None,
            code: None,
            text: None,
            effective_at: Some(at),
            effective_start: None,
            effective_end: None,
            source: ObsSource {
                app: Some("HealthKit".into()),
                device: Some("cuff".into()),
                method: Method::Device,
            },
            note: None,
            version: 1,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn blood_pressure_has_loinc_components_in_mm_hg() {
        let mut o = obs("blood_pressure", "vitals");
        let q = |v| QuantityOut {
            value: v,
            unit: "mm[Hg]".into(),
            original_value: v,
            original_unit: "mmHg".into(),
        };
        o.components = Some(BTreeMap::from([("systolic".into(), q(128.0)), ("diastolic".into(), q(82.0))]));
        let p = Uuid::now_v7();
        let r = observation(&o, p);
        assert_eq!(r["code"]["coding"][0]["code"], "85354-9");
        assert_eq!(r["category"][0]["coding"][0]["code"], "vital-signs");
        assert_eq!(r["component"][0]["code"]["coding"][0]["code"], "8480-6");
        assert_eq!(
            r["component"][1]["valueQuantity"],
            json!({"value": 82.0, "unit": "mm[Hg]", "system": UCUM, "code": "mm[Hg]"})
        );
        assert_eq!(r["effectiveDateTime"], "2026-01-06T07:30:00+09:00");
        assert_eq!(r["subject"]["reference"], urn(p));
        assert!(r.get("valueQuantity").is_none());
    }

    #[test]
    fn steps_are_an_activity_over_a_period() {
        let mut o = obs("steps", "activity");
        o.effective_start = o.effective_at.take();
        o.effective_end = o.effective_start.map(|s| s + chrono::Duration::hours(24));
        o.value = Some(8000.0);
        o.unit = Some("{steps}".into());
        let r = observation(&o, Uuid::now_v7());
        assert_eq!(r["category"][0]["coding"][0]["code"], "activity");
        assert_eq!(r["valueQuantity"]["code"], "{steps}");
        assert_eq!(r["effectivePeriod"]["end"], "2026-01-07T07:30:00+09:00");
    }

    #[test]
    fn lab_units_map_to_ucum_and_unknown_units_stay_text() {
        assert_eq!(ucum("g/dl"), Some("g/dL"));
        assert_eq!(ucum("kg"), Some("kg"));
        assert_eq!(quantity(1.0, Some("倍")), json!({"value": 1.0, "unit": "倍"}));
    }

    #[test]
    fn derived_ids_are_stable_and_distinct() {
        let a = Uuid::now_v7();
        assert_eq!(derived_id(a, "x"), derived_id(a, "x"));
        assert_ne!(derived_id(a, "x"), derived_id(a, "y"));
        assert_eq!(derived_id(a, "x").get_version_num(), 8);
    }

    #[test]
    fn hot13_codes_are_written_as_hot9() {
        let c = medication(Some("HOT"), Some("1086652010101"), "ダーゼン錠５ｍｇ");
        assert_eq!(
            c["coding"][0],
            json!({"system": HOT9, "code": "108665201", "display": "ダーゼン錠５ｍｇ"})
        );
        assert!(medication(Some("receipt"), Some("620000001"), "x").get("coding").is_none());
    }

    #[test]
    fn icd10_is_read_back_from_a_diagnosis_fact() {
        let f = health_fact::Model {
            id: Uuid::now_v7(),
            person_id: Uuid::now_v7(),
            category: "conditions".into(),
            kind: "diagnosis".into(),
            text: "高血圧症 (ICD-10 I10)".into(),
            text_hash: String::new(),
            source: "ssmix2".into(),
            source_ref: None,
            created_by: Uuid::now_v7(),
            created_at: Utc::now(),
        };
        let c = condition(&f, Uuid::now_v7());
        assert_eq!(c["code"]["coding"][0], json!({"system": ICD10, "code": "I10"}));
        assert_eq!(c["clinicalStatus"]["coding"][0]["code"], "active");
    }
}
