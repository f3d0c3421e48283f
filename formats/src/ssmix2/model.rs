//! The typed result of reading one SS-MIX2 message: header, patient, visit, and the clinical
//! items a PHR imports (lab and physiology results, prescriptions, diagnoses, allergies), each
//! with the HL7 field it came from in its doc comment. Serialises to camelCase JSON; dates and
//! times are ISO 8601 cut to the precision the sender gave ([`Timestamp`]).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::codes::{Coded, Jlac10Code, Measurement};
use super::decode::SourceEncoding;
use super::error::Warning;
use crate::hl7::Timestamp;

/// One message of an SS-MIX2 file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ssmix2Message {
    pub encoding: SourceEncoding,
    pub header: Header,
    /// EVN.
    pub event: Option<Event>,
    /// PID (`None`, with a warning, when the message has none).
    pub patient: Option<Patient>,
    /// PV1.
    pub visit: Option<Visit>,
    /// OBX that belong to no OBR: the height, weight and blood type of ADT-00.
    pub observations: Vec<Observation>,
    /// One per OBR, with its specimen, order and OBX results (OML-11 lab results, OML-01 lab
    /// orders whose OBX carry no values yet, OMG-13 physiology results).
    pub reports: Vec<Report>,
    /// One per RXE (OMP-01 prescription orders, OMP-02 injection orders).
    pub prescriptions: Vec<Prescription>,
    /// One per PRB (PPR-01).
    pub diagnoses: Vec<Diagnosis>,
    /// One per IAM (ADT-61) or AL1 (ADT-00).
    pub allergies: Vec<Allergy>,
    /// NTE segments that belong to no OBR or OBX.
    pub notes: Vec<String>,
    /// What was tolerated while reading.
    pub warnings: Vec<Warning>,
}

/// MSH.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Header {
    /// MSH-3.1.
    pub sending_application: Option<String>,
    /// MSH-4.1: the facility as the sending system names it (not necessarily its 10-digit
    /// medical institution code; the uploader's credentials say which facility sent the file).
    pub sending_facility: Option<String>,
    /// MSH-5.1.
    pub receiving_application: Option<String>,
    /// MSH-6.1.
    pub receiving_facility: Option<String>,
    /// MSH-7.
    pub created_at: Option<Timestamp>,
    /// MSH-9.
    pub message_type: MessageType,
    /// MSH-10.
    pub control_id: Option<String>,
    /// MSH-11.1: `P` production, `T` training, `D` debugging.
    pub processing_id: Option<String>,
    /// MSH-12.1: `2.5`.
    pub version: Option<String>,
    /// MSH-18, non-empty repetitions: `["ISO IR87"]`.
    pub character_sets: Vec<String>,
    /// MSH-21.1: `SS-MIX2_1.20`.
    pub profile: Option<String>,
}

/// MSH-9.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageType {
    /// `ADT`, `OUL`, `RDE`, …
    pub code: String,
    /// `A08`, `R22`, `O11`, …
    pub trigger: Option<String>,
    /// `ADT_A01`, …
    pub structure: Option<String>,
}

impl MessageType {
    /// `code^trigger` as written in SS-MIX2 tables: `OUL^R22`.
    #[must_use]
    pub fn short(&self) -> String {
        match &self.trigger {
            Some(trigger) => format!("{}^{trigger}", self.code),
            None => self.code.clone(),
        }
    }
}

/// EVN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// EVN-2.
    pub recorded_at: Option<Timestamp>,
    /// EVN-6.
    pub occurred_at: Option<Timestamp>,
}

/// HL7 table 0001 (PID-8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Sex {
    Male,
    Female,
    Other,
    Unknown,
    Ambiguous,
    NotApplicable,
}

impl Sex {
    /// The value for an HL7 code (`M`, `F`, `O`, `U`, `A`, `N`).
    #[must_use]
    pub fn from_code(code: &str) -> Option<Self> {
        match code.trim().to_ascii_uppercase().as_str() {
            "M" => Some(Self::Male),
            "F" => Some(Self::Female),
            "O" => Some(Self::Other),
            "U" => Some(Self::Unknown),
            "A" => Some(Self::Ambiguous),
            "N" => Some(Self::NotApplicable),
            _ => None,
        }
    }
}

/// A person's name from an XPN or XCN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PersonName {
    pub family: Option<String>,
    pub given: Option<String>,
    /// Family and given name joined by one space: `患者 太郎`.
    pub full: String,
}

/// One PID-3 repetition (CX).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Identifier {
    /// CX-1.
    pub id: String,
    /// CX-4.1.
    pub assigning_authority: Option<String>,
    /// CX-5: `PI` for the facility's patient ID.
    pub type_code: Option<String>,
}

/// PID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Patient {
    /// The local patient ID: the PID-3 repetition of type `PI`, else the first. The file name's
    /// patient ID is authoritative in SS-MIX2 storage; see
    /// [`super::StorageFile::patient_id_matches`].
    pub id: Option<String>,
    /// PID-3, every repetition.
    pub identifiers: Vec<Identifier>,
    /// PID-5 repetition with name representation (XPN-8) `I` (kanji), else the first one that
    /// is not kana.
    pub name: Option<PersonName>,
    /// PID-5 repetition with name representation `P` (katakana), else one written in kana only.
    pub kana_name: Option<PersonName>,
    /// PID-7.
    pub birth_date: Option<NaiveDate>,
    /// PID-8.
    pub sex: Option<Sex>,
    /// PID-11.5 of the first address.
    pub postal_code: Option<String>,
    /// PID-11: the free-text address (XAD-8, as Japanese senders write it), else components
    /// 1 to 4 joined.
    pub address: Option<String>,
    /// PID-33.
    pub updated_at: Option<Timestamp>,
}

/// A doctor or other staff member (XCN).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Staff {
    /// XCN-1.
    pub id: Option<String>,
    /// XCN-2 and XCN-3.
    pub name: Option<PersonName>,
}

/// PV1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Visit {
    /// PV1-2: `I` inpatient, `O` outpatient, `E` emergency.
    pub patient_class: Option<String>,
    /// PV1-3.1 to .3: ward, room, bed.
    pub ward: Option<String>,
    pub room: Option<String>,
    pub bed: Option<String>,
    /// PV1-7.
    pub attending_doctor: Option<Staff>,
    /// PV1-10: the department code.
    pub hospital_service: Option<String>,
    /// PV1-44.
    pub admitted_at: Option<Timestamp>,
    /// PV1-45.
    pub discharged_at: Option<Timestamp>,
}

/// ORC: the order an item belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    /// ORC-1: `NW` new, `SC` status changed, `CA` cancel, …
    pub control: Option<String>,
    /// ORC-2.1: the order number of the file name.
    pub placer_order_number: Option<String>,
    /// ORC-3.1.
    pub filler_order_number: Option<String>,
    /// ORC-4.1: the RP number in a prescription.
    pub placer_group_number: Option<String>,
    /// ORC-5: `CM` completed, …
    pub status: Option<String>,
    /// ORC-9.
    pub transaction_at: Option<Timestamp>,
    /// ORC-12.
    pub ordering_provider: Option<Staff>,
    /// ORC-17: the department.
    pub department: Option<Coded>,
    /// ORC-21.1: the facility's name.
    pub facility_name: Option<String>,
    /// ORC-29: `O` outpatient or `I` inpatient order.
    pub order_type: Option<Coded>,
}

/// SPM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Specimen {
    /// SPM-2.1.
    pub id: Option<String>,
    /// SPM-4: JLAC10 specimen code (`023^血清^JC10`).
    pub kind: Option<Coded>,
    /// SPM-17.1.
    pub collected_at: Option<Timestamp>,
}

/// One OBR with the SPM and ORC around it and its OBX results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The SPM in force (the last one before the OBR).
    pub specimen: Option<Specimen>,
    /// The ORC of the group.
    pub order: Option<Order>,
    /// OBR-2.1.
    pub placer_order_number: Option<String>,
    /// OBR-3.1.
    pub filler_order_number: Option<String>,
    /// OBR-4: the ordered test or battery.
    pub service: Option<Coded>,
    /// OBR-7: when the specimen was collected or the observation made.
    pub observed_at: Option<Timestamp>,
    /// OBR-22: when the results were reported or last changed.
    pub reported_at: Option<Timestamp>,
    /// OBR-25 (HL7 table 0123: `F` final, `P` preliminary, `C` corrected, …), as written.
    pub status: Option<String>,
    pub results: Vec<Observation>,
    /// NTE segments after the OBR.
    pub notes: Vec<String>,
}

impl Report {
    /// When the specimen was taken: SPM-17, else OBR-7.
    #[must_use]
    pub fn collected_at(&self) -> Option<Timestamp> {
        self.specimen.as_ref().and_then(|s| s.collected_at).or(self.observed_at)
    }
}

/// HL7 table 0085 (OBX-11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ObservationStatus {
    /// `C`: replaces a final result.
    Corrected,
    /// `D`: delete the result.
    Deleted,
    /// `F`.
    Final,
    /// `I`: specimen in lab, no result yet.
    Pending,
    /// `N`: not asked.
    NotAsked,
    /// `O`: order detail only, no result (lab orders).
    OrderOnly,
    /// `P`.
    Preliminary,
    /// `R`: entered, not verified.
    NotVerified,
    /// `S`: partial.
    Partial,
    /// `U`: changed to final without retransmitting the result.
    ChangedToFinal,
    /// `W`: the earlier result was wrong.
    Wrong,
    /// `X`: the result cannot be obtained.
    CannotObtain,
}

impl ObservationStatus {
    /// The value for an HL7 code.
    #[must_use]
    pub fn from_code(code: &str) -> Option<Self> {
        match code.trim().to_ascii_uppercase().as_str() {
            "C" => Some(Self::Corrected),
            "D" => Some(Self::Deleted),
            "F" => Some(Self::Final),
            "I" => Some(Self::Pending),
            "N" => Some(Self::NotAsked),
            "O" => Some(Self::OrderOnly),
            "P" => Some(Self::Preliminary),
            "R" => Some(Self::NotVerified),
            "S" => Some(Self::Partial),
            "U" => Some(Self::ChangedToFinal),
            "W" => Some(Self::Wrong),
            "X" => Some(Self::CannotObtain),
            _ => None,
        }
    }
}

/// One OBX-5 repetition, typed by OBX-2.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum ObservationValue {
    /// NM, or an SN with a comparator only (`<^0.5`). `text` is as written (`6.70`).
    Number { text: String, value: f64, comparator: Option<String> },
    /// SN with two numbers: a ratio `1:128` or a range `10-20`.
    Compound {
        text: String,
        comparator: Option<String>,
        first: Option<f64>,
        separator: String,
        second: Option<f64>,
    },
    /// CWE, CE, CNE, CF.
    Coded(Coded),
    /// DT, DTM, TS.
    DateTime { value: Timestamp },
    /// ST, TX, FT, any other type, and values that did not parse as their type.
    Text { text: String },
}

/// OBX-7 as written, with the limits when it reads as `low-high`, `<high`, `>low` and alike.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReferenceRange {
    pub text: String,
    pub low: Option<f64>,
    pub high: Option<f64>,
}

/// OBX.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Observation {
    /// OBX-1.
    pub set_id: Option<String>,
    /// OBX-2: `NM`, `ST`, `TX`, `CWE`, …
    pub value_type: Option<String>,
    /// OBX-3.
    pub code: Coded,
    /// OBX-3 code (primary or alternate) of system `JC10`, when it is one.
    pub jlac10: Option<Jlac10Code>,
    /// What the JLAC10 code measures, for the vital signs a PHR also records at home.
    pub measurement: Option<Measurement>,
    /// OBX-4.
    pub sub_id: Option<String>,
    /// OBX-5, one per repetition.
    pub values: Vec<ObservationValue>,
    /// OBX-6.1 (or .2 when .1 is empty): `g/dl`.
    pub unit: Option<String>,
    /// OBX-6.3: `ISO+`, `99XYZ`.
    pub unit_system: Option<String>,
    /// OBX-7.
    pub reference_range: Option<ReferenceRange>,
    /// OBX-8, every repetition as written (HL7 table 0078: `L`, `H`, `LL`, `HH`, `<`, `>`,
    /// `N`, `A`, `AA`, …).
    pub abnormal_flags: Vec<String>,
    /// OBX-11.
    pub status: Option<ObservationStatus>,
    /// OBX-14.
    pub observed_at: Option<Timestamp>,
    /// NTE segments after the OBX, escapes resolved, repetitions joined by line breaks.
    pub notes: Vec<String>,
}

impl Observation {
    /// The first value.
    #[must_use]
    pub fn value(&self) -> Option<&ObservationValue> {
        self.values.first()
    }

    /// Any flag other than `N` (normal).
    #[must_use]
    pub fn is_abnormal(&self) -> bool {
        self.abnormal_flags.iter().any(|f| !f.eq_ignore_ascii_case("N"))
    }
}

/// One RXE with its ORC, first TQ1 and first RXR.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Prescription {
    pub order: Option<Order>,
    /// RXE-2: `108665201^ダーゼン錠（５mg)^HOT9`.
    pub drug: Coded,
    /// RXE-3: the amount per administration.
    pub dose: Option<f64>,
    /// RXE-4.
    pub dose_max: Option<f64>,
    /// RXE-5.
    pub dose_unit: Option<Coded>,
    /// RXE-6.
    pub dosage_form: Option<Coded>,
    /// RXE-10: the amount dispensed in all.
    pub dispense_amount: Option<f64>,
    /// RXE-11.
    pub dispense_unit: Option<Coded>,
    /// RXE-15.
    pub prescription_number: Option<String>,
    /// RXE-19.1: the amount per day.
    pub daily_dose: Option<f64>,
    /// RXE-19.2.
    pub daily_dose_unit: Option<Coded>,
    /// RXE-21: `OHP^外来処方^MR9P`, `OHI^院内処方^MR9P`.
    pub dispensing_instructions: Vec<Coded>,
    /// TQ1-3.1: the JAMI usage code and text (`1013044400000000&内服・経口・１日３回朝昼夕食後&JAMISDP01`).
    pub usage: Option<Coded>,
    /// TQ1-11.
    pub usage_note: Option<String>,
    /// TQ1-6 in days (`5^d`; weeks are converted).
    pub days: Option<u32>,
    /// TQ1-7.
    pub start: Option<Timestamp>,
    /// TQ1-8.
    pub end: Option<Timestamp>,
    /// TQ1-14: the number of doses (as-needed drugs).
    pub total_occurrences: Option<u32>,
    /// RXR-1: `PO^口^HL70162`.
    pub route: Option<Coded>,
}

/// HL7 table 0287 (PRB-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ProblemAction {
    Add,
    Correct,
    Delete,
    Link,
    Unchanged,
    Unlink,
    Update,
}

impl ProblemAction {
    /// The value for an HL7 code (`AD`, `CO`, `DE`, `LI`, `UC`, `UN`, `UP`).
    #[must_use]
    pub fn from_code(code: &str) -> Option<Self> {
        match code.trim().to_ascii_uppercase().as_str() {
            "AD" => Some(Self::Add),
            "CO" => Some(Self::Correct),
            "DE" => Some(Self::Delete),
            "LI" => Some(Self::Link),
            "UC" => Some(Self::Unchanged),
            "UN" => Some(Self::Unlink),
            "UP" => Some(Self::Update),
            _ => None,
        }
    }
}

/// PRB.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Diagnosis {
    /// PRB-1.
    pub action: Option<ProblemAction>,
    /// PRB-2.
    pub action_at: Option<Timestamp>,
    /// PRB-3: `20054174^胃炎^MDCDX2`.
    pub disease: Coded,
    /// PRB-3 code of system `MDCDX2` (MEDIS standard disease name exchange code).
    pub medis_code: Option<String>,
    /// PRB-4.
    pub instance_id: Option<String>,
    /// PRB-7: when the diagnosis was made.
    pub established_at: Option<Timestamp>,
    /// PRB-9.
    pub resolved_at: Option<Timestamp>,
    /// PRB-10 code of system `I10` (or `ICD10`): `K297`.
    pub icd10: Option<String>,
    /// PRB-10 in full (its alternate code says outpatient or inpatient in SS-MIX2).
    pub classification: Option<Coded>,
    /// PRB-14: the outcome (転帰).
    pub life_cycle_status: Option<Coded>,
    /// PRB-15.
    pub life_cycle_status_at: Option<Timestamp>,
    /// PRB-16.
    pub onset: Option<Timestamp>,
    /// PRB-17: the disease name as text in SS-MIX2 samples.
    pub onset_text: Option<String>,
    /// PRB-18: `1^主診断^JHSD0007` main diagnosis.
    pub ranking: Option<Coded>,
    /// PRB-19: suspected or confirmed.
    pub certainty: Option<Coded>,
}

/// Which segment an allergy came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AllergySegment {
    /// IAM (ADT^A60, ADT-61).
    Iam,
    /// AL1 (ADT^A08, ADT-00).
    Al1,
}

/// HL7 table 0323 (IAM-6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AllergyAction {
    Add,
    Delete,
    Update,
    Unchanged,
}

impl AllergyAction {
    /// The value for an HL7 code (`A`, `D`, `U`, `X`).
    #[must_use]
    pub fn from_code(code: &str) -> Option<Self> {
        match code.trim().to_ascii_uppercase().as_str() {
            "A" => Some(Self::Add),
            "D" => Some(Self::Delete),
            "U" => Some(Self::Update),
            "X" => Some(Self::Unchanged),
            _ => None,
        }
    }
}

/// IAM or AL1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Allergy {
    pub segment: AllergySegment,
    /// Field 1.
    pub set_id: Option<String>,
    /// Field 2 (HL7 table 0127): `DA` drug, `FA` food, `EA` environmental, `LA` pollen, …
    pub allergen_type: Option<Coded>,
    /// Field 3: `5A1002216023023^スギ^JC10`, `106824501^アリナミン^HOT9`.
    pub allergen: Coded,
    /// Field 4 (HL7 table 0128): `SV` severe, `MO` moderate, `MI` mild.
    pub severity: Option<Coded>,
    /// Field 5, every repetition.
    pub reactions: Vec<String>,
    /// IAM-6.
    pub action: Option<AllergyAction>,
    /// IAM-7.1.
    pub unique_id: Option<String>,
    /// IAM-11.
    pub onset: Option<Timestamp>,
    /// IAM-12: `小学校低学年の頃`.
    pub onset_text: Option<String>,
    /// IAM-13.
    pub reported_at: Option<Timestamp>,
    /// AL1-6.
    pub identified_at: Option<Timestamp>,
}
