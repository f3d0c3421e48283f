//! A [`MedicationHandbook`] back to a JAHISTC08 payload with 出力区分 2 (patient to provider or
//! app to app): as text, as Shift_JIS bytes, or as JAHIS split parts (record 911). It writes
//! exactly what [`super::parse`] reads back, and refuses what the format cannot carry.
//!
//! # What comes back from `parse(write(x))`
//! Every record the model holds is written, in the record layout of version 08 with every
//! field (trailing empty ones included), and reads back equal to `x` except for:
//! - `version`, `output_kind`, `split` and `warnings`, which describe a payload, not the data:
//!   they read back as `JAHISTC08`, [`OutputKind::ToProvider`], the split of
//!   [`write_split`] (or none) and whatever the parser notes (an OTC ingredient whose drug has
//!   no レコード通番 is attached to that drug with a warning);
//! - free text, which is written the only way the format can carry it (see [`write`]);
//! - [`Usage::days_supply`](super::Usage::days_supply), which is not a field: it is derived
//!   again from the quantity, its unit and the dosage form.
//!
//! A handbook that came from the parser is already in that form, so it round-trips exactly.

use std::collections::HashSet;

use chrono::{Datelike, NaiveDate};
use encoding_rs::{EncoderResult, SHIFT_JIS};

use super::model::{
    Dispensing, Doctor, Drug, FamilyPharmacist, Institution, MedicationHandbook, Note, OtcDrug, OutputKind,
    Patient, RecordCreator, Rp,
};
use super::text::{fold_width, unify_char};

/// The version the writer emits: the layout of JAHISTC08 (spec Ver.2.5/2.6).
const WRITTEN_VERSION: &str = "JAHISTC08";

/// Written for a character Shift_JIS cannot encode, as the specification prescribes.
const UNENCODABLE: char = '■';
/// `■` in Shift_JIS.
const UNENCODABLE_SJIS: [u8; 2] = [0x81, 0xA1];

/// The most parts record 911 can number.
const MAX_PARTS: usize = 999;

/// Why a handbook cannot be written. Each variant names the field as a path into the
/// handbook's JSON (`dispensings[0].rps[1].drugs[0].name`), never its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    #[error(
        "{field} is empty (or only spaces and line breaks): the record would be dropped or \
         refused when read back"
    )]
    EmptyText { field: String },

    #[error("{field}: expected {expected}")]
    InvalidValue { field: String, expected: &'static str },

    #[error("{field}: {reason}")]
    Unrepresentable { field: String, reason: &'static str },

    #[error(
        "a part of at most {max_part_bytes} bytes cannot hold record {record} ({needed} bytes \
         with the version and 911 records): split data is cut between records only"
    )]
    PartTooSmall { max_part_bytes: usize, record: u16, needed: usize },

    #[error(
        "parts of at most {max_part_bytes} bytes would need {needed} parts; record 911 \
         numbers at most 999"
    )]
    TooManyParts { max_part_bytes: usize, needed: usize },
}

impl WriteError {
    /// A stable snake_case code for API problem responses.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::EmptyText { .. } => "empty_text",
            Self::InvalidValue { .. } => "invalid_value",
            Self::Unrepresentable { .. } => "unrepresentable",
            Self::PartTooSmall { .. } => "part_too_small",
            Self::TooManyParts { .. } => "too_many_parts",
        }
    }
}

/// Writes the handbook as JAHISTC08 text with 出力区分 2, one record per line, every line
/// (the last too) ending in CRLF. Records come in the specification's order: 1, 2, 3 each
/// followed by its 31s, 4, then per dispensing 5, 11, 15, 51, the RPs (201 each followed by
/// its 281/291, 301, 311, 391) with each record 55 just before the first RP it applies to,
/// 401, 411, 421, 501, 601; 701 last. Dates are Gregorian `YYYYMMDD`.
///
/// Text fields are written the way the format can carry them (there is no quoting):
/// - a comma becomes a full-width comma `，` (the specification's rule); quotes are ordinary;
/// - CRLF, CR, LF and every other control character become one half-width space;
/// - characters JIS and CP932 converters map differently take their CP932 form, as the parser
///   reads them (〜 becomes ～); `¥` and `‾` become `￥` and `￣` (in Shift_JIS their half-width
///   forms are the bytes of `\` and `~`);
/// - any other character Shift_JIS cannot encode becomes `■` (the specification's rule), so
///   the text is always encodable and [`write_sjis`] cannot fail on characters;
/// - surrounding whitespace is trimmed, as the parser trims every field, and an optional value
///   left empty is written as absent;
/// - the prefecture, institution code, drug amount and drug code are written width-folded
///   (full-width ASCII to ASCII), as the parser reads them.
///
/// # Errors
/// [`WriteError::EmptyText`] for a text the parser requires (a drug or OTC name, the text of
/// a note, memo or entry); [`WriteError::InvalidValue`] for a date outside years 0–9999 or a
/// weight that is negative or not finite; [`WriteError::Unrepresentable`] for what has no
/// place in the format: two RPs with one number in a dispensing, an RP with no drug, usage or
/// note, an RP whose doctor does not follow the dispensing's order of doctors (record 55
/// applies to every RP after it), a prescribing institution (51) with an address or phone.
pub fn write(handbook: &MedicationHandbook) -> Result<String, WriteError> {
    let lines = lines(handbook)?;
    let mut text = String::with_capacity(lines.iter().map(|l| l.len() + 2).sum());
    for line in &lines {
        text.push_str(line);
        text.push_str("\r\n");
    }
    Ok(text)
}

/// [`write`] encoded as Shift_JIS (what the QR code carries).
///
/// # Errors
/// As [`write`]; characters never fail (they are replaced as [`write`] documents).
pub fn write_sjis(handbook: &MedicationHandbook) -> Result<Vec<u8>, WriteError> {
    write(handbook).map(|text| encode_sjis(&text))
}

/// [`write_sjis`] cut into JAHIS split parts of at most `max_part_bytes` bytes each, for a
/// set of QR codes. Each part is the version record, whole records, and a last record
/// `911,<data id>,<part count>,<part number>`; parts are filled in order, so an RP or a
/// dispensing may straddle two parts. When the whole payload fits in `max_part_bytes`, the
/// one part is the plain payload, without a 911 record.
///
/// The 14-digit data id is derived from the payload and `max_part_bytes`: the same call gives
/// the same parts, and two splits of different content or size do not share an id (so their
/// parts are not mixed). A QR code of version 40-L holds 2,953 bytes.
///
/// # Errors
/// As [`write`], and [`WriteError::PartTooSmall`] when one record with the version and 911
/// records exceeds `max_part_bytes`, [`WriteError::TooManyParts`] beyond 999 parts.
pub fn write_split(handbook: &MedicationHandbook, max_part_bytes: usize) -> Result<Vec<Vec<u8>>, WriteError> {
    let lines = lines(handbook)?;
    let mut encoded: Vec<(u16, Vec<u8>)> = Vec::with_capacity(lines.len());
    for line in &lines {
        let mut bytes = encode_sjis(line);
        bytes.extend_from_slice(b"\r\n");
        encoded.push((record_number(line), bytes));
    }
    let Some(((_, header), records)) = encoded.split_first() else {
        return Ok(Vec::new());
    };
    let total: usize = encoded.iter().map(|(_, bytes)| bytes.len()).sum();
    if total <= max_part_bytes {
        return Ok(vec![encoded.into_iter().flat_map(|(_, bytes)| bytes).collect()]);
    }
    let data_id = data_id(&encoded, max_part_bytes);

    // The 911 record's length depends on how many digits the part count has: pack assuming
    // one digit, and again with more while the count needs more.
    for digits in 1..=3u32 {
        let trailer = "911,".len() + data_id.len() + 1 + 2 * digits as usize + 1 + 2;
        let budget = max_part_bytes.saturating_sub(header.len() + trailer);
        let mut parts: Vec<Vec<&[u8]>> = Vec::new();
        let mut used = budget;
        for (record, bytes) in records {
            if bytes.len() > budget {
                return Err(WriteError::PartTooSmall {
                    max_part_bytes,
                    record: *record,
                    needed: header.len() + trailer + bytes.len(),
                });
            }
            if used + bytes.len() > budget {
                parts.push(Vec::new());
                used = 0;
            }
            if let Some(part) = parts.last_mut() {
                part.push(bytes);
            }
            used += bytes.len();
        }
        let count = parts.len();
        if count >= 10usize.pow(digits) {
            if count > MAX_PARTS {
                return Err(WriteError::TooManyParts { max_part_bytes, needed: count });
            }
            continue;
        }
        return Ok(parts
            .into_iter()
            .enumerate()
            .map(|(index, records)| {
                let mut part = header.clone();
                records.into_iter().for_each(|bytes| part.extend_from_slice(bytes));
                part.extend_from_slice(format!("911,{data_id},{count},{}\r\n", index + 1).as_bytes());
                part
            })
            .collect());
    }
    Err(WriteError::TooManyParts { max_part_bytes, needed: MAX_PARTS + 1 })
}

/// The record number a written line starts with (0 for the version record).
fn record_number(line: &str) -> u16 {
    line.split(',').next().and_then(|n| n.parse().ok()).unwrap_or_default()
}

/// 14 digits from an FNV-1a hash of the payload and the part size.
fn data_id(encoded: &[(u16, Vec<u8>)], max_part_bytes: usize) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let bytes = encoded.iter().flat_map(|(_, bytes)| bytes.iter().copied());
    for byte in bytes.chain(max_part_bytes.to_le_bytes()) {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{:014}", hash % 100_000_000_000_000)
}

/// Shift_JIS bytes of text the writer produced (every character encodable); should one not be,
/// it is written as `■` rather than failing.
fn encode_sjis(text: &str) -> Vec<u8> {
    let mut encoder = SHIFT_JIS.new_encoder();
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text;
    loop {
        let (result, read) = encoder.encode_from_utf8_to_vec_without_replacement(rest, &mut out, true);
        rest = rest.get(read..).unwrap_or_default();
        match result {
            EncoderResult::InputEmpty => return out,
            EncoderResult::OutputFull => out.reserve(rest.len().max(16)),
            EncoderResult::Unmappable(_) => out.extend_from_slice(&UNENCODABLE_SJIS),
        }
    }
}

/// The character written for `c`: its Shift_JIS-safe form, or `None` when it has none.
fn sjis_form(c: char) -> Option<char> {
    if c.is_ascii() {
        return Some(c);
    }
    let c = match c {
        '\u{A5}' => '\u{FFE5}',
        '\u{203E}' => '\u{FFE3}',
        other => unify_char(other),
    };
    let mut utf8 = [0u8; 4];
    let mut bytes = [0u8; 8];
    let mut encoder = SHIFT_JIS.new_encoder();
    let (result, _, written) =
        encoder.encode_from_utf8_without_replacement(c.encode_utf8(&mut utf8), &mut bytes, true);
    if result != EncoderResult::InputEmpty {
        return None;
    }
    // Encodable is not enough: the bytes must decode to the same character.
    let (decoded, malformed) = SHIFT_JIS.decode_without_bom_handling(bytes.get(..written)?);
    (!malformed && decoded.chars().eq([c])).then_some(c)
}

/// A text field as it is written and read back (see [`write`]).
fn clean(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                chars.next_if_eq(&'\n');
                out.push(' ');
            }
            ',' => out.push('，'),
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') => out.push(' '),
            c => out.push(sjis_form(c).unwrap_or(UNENCODABLE)),
        }
    }
    let trimmed = out.trim();
    if trimmed.len() == out.len() { out } else { trimmed.to_owned() }
}

fn optional(value: Option<&str>) -> String {
    value.map(clean).unwrap_or_default()
}

/// A field the parser reads width-folded.
fn folded(value: Option<&str>) -> String {
    value.map(|v| clean(&fold_width(v))).unwrap_or_default()
}

fn required(value: &str, field: impl FnOnce() -> String) -> Result<String, WriteError> {
    let text = clean(value);
    if text.is_empty() { Err(WriteError::EmptyText { field: field() }) } else { Ok(text) }
}

fn date(value: Option<NaiveDate>, field: impl FnOnce() -> String) -> Result<String, WriteError> {
    match value {
        None => Ok(String::new()),
        Some(d) if (0..=9999).contains(&d.year()) => {
            Ok(format!("{:04}{:02}{:02}", d.year(), d.month(), d.day()))
        }
        Some(_) => {
            Err(WriteError::InvalidValue { field: field(), expected: "a date in the years 0000 to 9999" })
        }
    }
}

fn creator(value: Option<RecordCreator>) -> &'static str {
    value.map_or("", RecordCreator::code)
}

fn number(value: Option<u32>) -> String {
    value.map(|n| n.to_string()).unwrap_or_default()
}

/// The lines of the payload, version record first, without line ends.
fn lines(handbook: &MedicationHandbook) -> Result<Vec<String>, WriteError> {
    let mut out = Lines(vec![format!("{WRITTEN_VERSION},{}", OutputKind::ToProvider.code())]);
    if let Some(patient) = &handbook.patient {
        out.patient(patient)?;
    }
    for (i, note) in handbook.patient_notes.iter().enumerate() {
        let text = required(&note.text, || format!("patientNotes[{i}].text"))?;
        out.record(2, &[note.kind.map_or("", |k| k.code()), &text, creator(note.created_by)]);
    }
    for (i, drug) in handbook.otc_drugs.iter().enumerate() {
        out.otc_drug(i, drug)?;
    }
    for (i, memo) in handbook.memos.iter().enumerate() {
        let text = required(&memo.text, || format!("memos[{i}].text"))?;
        let date = date(memo.date, || format!("memos[{i}].date"))?;
        out.record(4, &[&text, &date, creator(memo.created_by)]);
    }
    for (i, dispensing) in handbook.dispensings.iter().enumerate() {
        out.dispensing(i, dispensing)?;
    }
    for (i, pharmacist) in handbook.family_pharmacists.iter().enumerate() {
        out.family_pharmacist(i, pharmacist)?;
    }
    Ok(out.0)
}

struct Lines(Vec<String>);

impl Lines {
    fn record(&mut self, number: u16, fields: &[&str]) {
        let mut line = number.to_string();
        for field in fields {
            line.push(',');
            line.push_str(field);
        }
        self.0.push(line);
    }

    fn patient(&mut self, p: &Patient) -> Result<(), WriteError> {
        let birth_date = date(p.birth_date, || "patient.birthDate".into())?;
        let weight = match p.weight_kg {
            None => String::new(),
            // Display is the shortest text that parses back to the same f64, never exponential.
            Some(kg) if kg.is_finite() && kg >= 0.0 => kg.to_string(),
            Some(_) => {
                return Err(WriteError::InvalidValue {
                    field: "patient.weightKg".into(),
                    expected: "a finite, non-negative weight in kg",
                });
            }
        };
        self.record(
            1,
            &[
                &clean(&p.name),
                p.sex.map_or("", |s| s.code()),
                &birth_date,
                &optional(p.postcode.as_deref()),
                &optional(p.address.as_deref()),
                &optional(p.phone.as_deref()),
                &optional(p.emergency_contact.as_deref()),
                &optional(p.blood_type.as_deref()),
                &weight,
                &optional(p.kana_name.as_deref()),
            ],
        );
        Ok(())
    }

    fn otc_drug(&mut self, i: usize, d: &OtcDrug) -> Result<(), WriteError> {
        let name = required(&d.name, || format!("otcDrugs[{i}].name"))?;
        let start = date(d.start_date, || format!("otcDrugs[{i}].startDate"))?;
        let end = date(d.end_date, || format!("otcDrugs[{i}].endDate"))?;
        let sequence = number(d.sequence);
        self.record(
            3,
            &[&name, &start, &end, creator(d.created_by), &sequence, &optional(d.jan_code.as_deref())],
        );
        // Right after their drug, so the sequence number (or, without one, "the previous OTC
        // drug") finds it even when another drug carries the same number.
        for (j, ingredient) in d.ingredients.iter().enumerate() {
            let name = required(&ingredient.name, || format!("otcDrugs[{i}].ingredients[{j}].name"))?;
            self.record(
                31,
                &[
                    &sequence,
                    &name,
                    ingredient.code_type.map_or("", |t| t.code()),
                    &optional(ingredient.code.as_deref()),
                    creator(ingredient.created_by),
                ],
            );
        }
        Ok(())
    }

    fn institution(&mut self, record: u16, i: &Institution) {
        let name = clean(&i.name);
        let prefecture = folded(i.prefecture.as_deref());
        let table = i.score_table.map_or("", |t| t.code());
        let code = folded(i.code.as_deref());
        if record == 11 {
            self.record(
                11,
                &[
                    &name,
                    &prefecture,
                    table,
                    &code,
                    &optional(i.postcode.as_deref()),
                    &optional(i.address.as_deref()),
                    &optional(i.phone.as_deref()),
                    creator(i.created_by),
                ],
            );
        } else {
            self.record(record, &[&name, &prefecture, table, &code, creator(i.created_by)]);
        }
    }

    fn doctor(&mut self, doctor: &Doctor) {
        let department = optional(doctor.department.as_deref());
        self.record(55, &[&clean(&doctor.name), &department, creator(doctor.created_by)]);
    }

    fn dispensing(&mut self, i: usize, d: &Dispensing) -> Result<(), WriteError> {
        let at = |field: &str| format!("dispensings[{i}].{field}");
        let dispensed = date(Some(d.date), || at("date"))?;
        self.record(5, &[&dispensed, creator(d.created_by)]);
        if let Some(pharmacy) = &d.pharmacy {
            self.institution(11, pharmacy);
        }
        if let Some(p) = &d.pharmacist {
            self.record(15, &[&clean(&p.name), &optional(p.contact.as_deref()), creator(p.created_by)]);
        }
        if let Some(institution) = &d.prescribing_institution {
            if institution.postcode.is_some() || institution.address.is_some() || institution.phone.is_some()
            {
                return Err(WriteError::Unrepresentable {
                    field: at("prescribingInstitution"),
                    reason: "record 51 has no postcode, address or phone field (only record 11 has)",
                });
            }
            self.institution(51, institution);
        }

        // A record 55 applies to every RP after it: write the dispensing's doctors in order,
        // each just before the first RP that names it.
        let mut numbers = HashSet::new();
        let mut doctors = d.doctors.iter();
        let mut current: Option<&Doctor> = None;
        for (j, rp) in d.rps.iter().enumerate() {
            let at_rp = || at(&format!("rps[{j}]"));
            if !numbers.insert(rp.number) {
                return Err(WriteError::Unrepresentable {
                    field: at_rp(),
                    reason: "another RP of this dispensing has the same number: records of one RP \
                             number are read as one RP",
                });
            }
            if rp.doctor.as_ref() != current {
                let Some(wanted) = &rp.doctor else {
                    return Err(WriteError::Unrepresentable {
                        field: at(&format!("rps[{j}].doctor")),
                        reason: "is absent but an earlier RP has a doctor: a record 55 applies to \
                                 every RP after it",
                    });
                };
                loop {
                    let Some(doctor) = doctors.next() else {
                        return Err(WriteError::Unrepresentable {
                            field: at(&format!("rps[{j}].doctor")),
                            reason: "is not among the dispensing's doctors after the previous RP's \
                                     doctor: a record 55 applies to every RP after it",
                        });
                    };
                    self.doctor(doctor);
                    current = Some(doctor);
                    if doctor == wanted {
                        break;
                    }
                }
            }
            self.rp(rp, &at_rp)?;
        }
        for doctor in doctors {
            self.doctor(doctor);
        }

        self.notes(401, &d.precautions, &|| at("precautions"))?;
        for (k, note) in d.provider_notes.iter().enumerate() {
            let text = required(&note.text, || at(&format!("providerNotes[{k}].text")))?;
            self.record(411, &[&text, note.kind.map_or("", |k| k.code()), creator(note.created_by)]);
        }
        self.notes(421, &d.leftover_checks, &|| at("leftoverChecks"))?;
        self.notes(501, &d.remarks, &|| at("remarks"))?;
        for (k, entry) in d.patient_entries.iter().enumerate() {
            let text = required(&entry.text, || at(&format!("patientEntries[{k}].text")))?;
            let date = date(entry.date, || at(&format!("patientEntries[{k}].date")))?;
            self.record(601, &[&text, &date]);
        }
        Ok(())
    }

    /// Free-text records with a creator; `prefix` is the RP number for 281/291/311/391.
    fn notes_of(
        &mut self,
        record: u16,
        prefix: Option<&str>,
        notes: &[Note],
        at: &dyn Fn() -> String,
    ) -> Result<(), WriteError> {
        for (k, note) in notes.iter().enumerate() {
            let text = required(&note.text, || format!("{}[{k}].text", at()))?;
            match prefix {
                Some(rp) => self.record(record, &[rp, &text, creator(note.created_by)]),
                None => self.record(record, &[&text, creator(note.created_by)]),
            }
        }
        Ok(())
    }

    fn notes(&mut self, record: u16, notes: &[Note], at: &dyn Fn() -> String) -> Result<(), WriteError> {
        self.notes_of(record, None, notes, at)
    }

    fn rp(&mut self, rp: &Rp, at: &dyn Fn() -> String) -> Result<(), WriteError> {
        if rp.drugs.is_empty() && rp.usage.is_none() && rp.usage_notes.is_empty() && rp.precautions.is_empty()
        {
            return Err(WriteError::Unrepresentable {
                field: at(),
                reason: "an RP with no drug, usage or note has no record to carry it",
            });
        }
        let number = rp.number.to_string();
        for (k, drug) in rp.drugs.iter().enumerate() {
            self.drug(&number, drug, &|| format!("{}.drugs[{k}]", at()))?;
        }
        if let Some(u) = &rp.usage {
            self.record(
                301,
                &[
                    &number,
                    &optional(u.text.as_deref()),
                    &self::number(u.quantity),
                    &optional(u.quantity_unit.as_deref()),
                    u.dosage_form.map_or("", |f| f.code()),
                    u.code_type.map_or("", |t| t.code()),
                    &optional(u.code.as_deref()),
                    creator(u.created_by),
                ],
            );
        }
        self.notes_of(311, Some(&number), &rp.usage_notes, &|| format!("{}.usageNotes", at()))?;
        self.notes_of(391, Some(&number), &rp.precautions, &|| format!("{}.precautions", at()))?;
        Ok(())
    }

    fn drug(&mut self, rp: &str, d: &Drug, at: &dyn Fn() -> String) -> Result<(), WriteError> {
        let name = required(&d.name, || format!("{}.name", at()))?;
        self.record(
            201,
            &[
                rp,
                &name,
                &folded(d.amount.as_deref()),
                &optional(d.unit.as_deref()),
                d.code_type.map_or("", |t| t.code()),
                &folded(d.code.as_deref()),
                creator(d.created_by),
                &optional(d.generic_name.as_deref()),
                d.generic_code_type.map_or("", |t| t.code()),
                &optional(d.generic_code.as_deref()),
            ],
        );
        // Right after their drug: 281 and 291 belong to the drug before them.
        self.notes_of(281, Some(rp), &d.supplements, &|| format!("{}.supplements", at()))?;
        self.notes_of(291, Some(rp), &d.precautions, &|| format!("{}.precautions", at()))?;
        Ok(())
    }

    fn family_pharmacist(&mut self, i: usize, p: &FamilyPharmacist) -> Result<(), WriteError> {
        let start = date(p.start_date, || format!("familyPharmacists[{i}].startDate"))?;
        let end = date(p.end_date, || format!("familyPharmacists[{i}].endDate"))?;
        self.record(
            701,
            &[
                &clean(&p.name),
                &optional(p.pharmacy.as_deref()),
                &optional(p.contact.as_deref()),
                &start,
                &end,
                creator(p.created_by),
            ],
        );
        Ok(())
    }
}
