//! Record lines to the typed [`MedicationHandbook`]. One positional layout per record number
//! reads every version (later versions only append fields): missing trailing fields read as
//! empty, extra non-empty ones are ignored with a warning.
//!
//! Strictness: what decides structure (record numbers, RP numbers, the dispensing date, drug
//! names, record order) refuses the payload; a bad optional value (an unknown code, a bad
//! birth date) reads as `None` with a warning, since the patient cannot fix the pharmacy's data.

use std::collections::HashMap;

use chrono::NaiveDate;

use super::assemble::Assembled;
use super::date::{EXPECTED_DATE, parse_date};
use super::error::{JahisError, Location, Warning, WarningKind, excerpt};
use super::model::*;
use super::text::{self, Line};

/// The record's name in the specification, for messages.
pub(crate) fn record_name(record: u16) -> &'static str {
    match record {
        1 => "患者情報 patient",
        2 => "患者特記 patient note",
        3 => "一般用医薬品 OTC drug",
        31 => "一般用医薬品成分 OTC ingredient",
        4 => "手帳メモ memo",
        5 => "調剤等年月日 dispensing date",
        11 => "調剤-医療機関等 dispensing pharmacy",
        15 => "調剤-医師・薬剤師 pharmacist",
        51 => "処方-医療機関 prescribing institution",
        55 => "処方-医師 prescribing doctor",
        201 => "薬品 drug",
        281 => "薬品補足 drug supplement",
        291 => "薬品服用注意 drug precaution",
        301 => "用法 usage",
        311 => "用法補足 usage supplement",
        391 => "処方服用注意 prescription precaution",
        401 => "服用注意 precaution",
        411 => "医療機関等提供情報 provider information",
        421 => "残薬確認 leftover check",
        501 => "備考 remark",
        601 => "患者等記入 patient entry",
        701 => "かかりつけ薬剤師 family pharmacist",
        911 => "分割制御 split control",
        _ => "unknown",
    }
}

/// The number of fields after the record number in the newest known layout.
fn known_fields(record: u16) -> usize {
    match record {
        1 => 10,
        2 | 4 | 15 | 55 | 281 | 291 | 311 | 391 | 411 => 3,
        3 | 701 => 6,
        31 | 51 => 5,
        5 | 401 | 421 | 501 | 601 => 2,
        11 | 301 => 8,
        201 => 10,
        _ => 0,
    }
}

/// One record line split into trimmed fields; field 0 is the record number.
struct Record<'a> {
    number: u16,
    location: Location,
    fields: Vec<&'a str>,
}

impl<'a> Record<'a> {
    fn get(&self, field: usize) -> Option<&'a str> {
        self.fields.get(field).copied().filter(|f| !f.is_empty())
    }

    fn text(&self, field: usize) -> Option<String> {
        self.get(field).map(str::to_owned)
    }

    fn invalid(&self, field: usize, field_name: &'static str, expected: &'static str) -> JahisError {
        JahisError::InvalidField {
            location: self.location,
            record: self.number,
            record_name: record_name(self.number),
            field,
            field_name,
            expected,
            found: excerpt(self.get(field).unwrap_or_default(), 20),
        }
    }

    fn out_of_place(&self, reason: impl Into<String>) -> JahisError {
        JahisError::RecordOutOfPlace {
            location: self.location,
            record: self.number,
            record_name: record_name(self.number),
            reason: reason.into(),
        }
    }

    fn required_text(&self, field: usize, field_name: &'static str) -> Result<String, JahisError> {
        self.text(field).ok_or_else(|| self.invalid(field, field_name, "a non-empty value"))
    }

    fn rp_number(&self) -> Result<u32, JahisError> {
        self.get(1)
            .and_then(text::unsigned)
            .ok_or_else(|| self.invalid(1, "RP番号", "the RP number (digits)"))
    }

    fn warn(&self, warnings: &mut Vec<Warning>, kind: WarningKind, message: String) {
        warnings.push(Warning { location: self.location, record: Some(self.number), kind, message });
    }

    /// A coded field; an unknown code reads as `None` with a warning.
    fn code<T>(
        &self,
        field: usize,
        field_name: &str,
        codes: &[&str],
        from_code: fn(&str) -> Option<T>,
        warnings: &mut Vec<Warning>,
    ) -> Option<T> {
        let value = self.get(field)?;
        let parsed = from_code(value);
        if parsed.is_none() {
            self.warn(
                warnings,
                WarningKind::UnknownCode,
                format!(
                    "field {field} ({field_name}): {:?} is not one of {codes:?}; read as absent",
                    excerpt(value, 8)
                ),
            );
        }
        parsed
    }

    fn created_by(&self, field: usize, warnings: &mut Vec<Warning>) -> Option<RecordCreator> {
        self.code(field, "レコード作成者", RecordCreator::CODES, RecordCreator::from_code, warnings)
    }

    /// An optional date; a malformed one reads as `None` with a warning (value not quoted:
    /// it may be a birth date).
    fn date(&self, field: usize, field_name: &str, warnings: &mut Vec<Warning>) -> Option<NaiveDate> {
        let value = self.get(field)?;
        let parsed = parse_date(value);
        if parsed.is_none() {
            self.warn(
                warnings,
                WarningKind::InvalidValue,
                format!("field {field} ({field_name}): expected {EXPECTED_DATE}; read as absent"),
            );
        }
        parsed
    }

    /// Warns about non-empty fields past the newest known layout.
    fn check_extra_fields(&self, warnings: &mut Vec<Warning>) {
        let known = known_fields(self.number);
        // Record 411 in the spec's own example carries its creator in the last of 8 fields.
        let creator_last = self.number == 411 && self.get(3).is_none() && self.fields.len() > 4;
        let end = self.fields.len() - usize::from(creator_last);
        let extra = self.fields.iter().take(end).skip(known + 1).filter(|f| !f.is_empty()).count();
        if extra > 0 {
            self.warn(
                warnings,
                WarningKind::ExtraFields,
                format!("{extra} non-empty field(s) after field {known} were ignored"),
            );
        }
    }
}

struct Group {
    dispensing: Dispensing,
    doctor: Option<Doctor>,
    /// RP number to index in `dispensing.rps` (a map, so huge payloads stay linear).
    rps: HashMap<u32, usize>,
}

impl Group {
    fn rp(&mut self, number: u32) -> &mut Rp {
        let index = match self.rps.get(&number) {
            Some(&index) => index,
            None => {
                self.rps.insert(number, self.dispensing.rps.len());
                self.dispensing.rps.push(Rp {
                    number,
                    doctor: self.doctor.clone(),
                    drugs: Vec::new(),
                    usage: None,
                    usage_notes: Vec::new(),
                    precautions: Vec::new(),
                });
                self.dispensing.rps.len() - 1
            }
        };
        &mut self.dispensing.rps[index]
    }
}

struct Builder {
    patient: Option<(Patient, Location)>,
    patient_notes: Vec<PatientNote>,
    otc_drugs: Vec<OtcDrug>,
    /// OTC record sequence number to the index of the last OTC drug carrying it.
    otc_sequences: HashMap<u32, usize>,
    memos: Vec<Memo>,
    dispensings: Vec<Dispensing>,
    group: Option<Group>,
    family_pharmacists: Vec<FamilyPharmacist>,
    warnings: Vec<Warning>,
}

/// Builds the handbook from assembled lines.
pub(crate) fn build(
    assembled: Assembled<'_>,
    warnings: Vec<Warning>,
) -> Result<MedicationHandbook, JahisError> {
    let mut builder = Builder {
        patient: None,
        patient_notes: Vec::new(),
        otc_drugs: Vec::new(),
        otc_sequences: HashMap::new(),
        memos: Vec::new(),
        dispensings: Vec::new(),
        group: None,
        family_pharmacists: Vec::new(),
        warnings,
    };
    for line in &assembled.lines {
        builder.line(line)?;
    }
    if let Some(group) = builder.group.take() {
        builder.dispensings.push(group.dispensing);
    }
    Ok(MedicationHandbook {
        version: assembled.header.version,
        output_kind: assembled.header.output_kind,
        split: assembled.split,
        patient: builder.patient.map(|(patient, _)| patient),
        patient_notes: builder.patient_notes,
        otc_drugs: builder.otc_drugs,
        memos: builder.memos,
        dispensings: builder.dispensings,
        family_pharmacists: builder.family_pharmacists,
        warnings: builder.warnings,
    })
}

impl Builder {
    fn line(&mut self, line: &Line<'_>) -> Result<(), JahisError> {
        let fields = text::fields(line.text);
        if fields.iter().all(|f| f.is_empty()) {
            return Ok(());
        }
        let first = fields.first().copied().unwrap_or_default();
        let number = text::record_number(first).ok_or_else(|| JahisError::MalformedRecord {
            location: line.location,
            found: excerpt(first, 12),
        })?;
        let record = Record { number, location: line.location, fields };
        if known_fields(number) > 0 {
            record.check_extra_fields(&mut self.warnings);
        }
        match number {
            1 => self.patient(&record),
            2 => self.patient_note(&record),
            3 => self.otc_drug(&record),
            31 => self.otc_ingredient(&record),
            4 => self.memo(&record),
            5 => self.dispensing_date(&record),
            11 | 15 | 51 | 55 => self.provider(&record),
            201 => self.drug(&record),
            281 | 291 => self.drug_note(&record),
            301 => self.usage(&record),
            311 | 391 => self.rp_note(&record),
            401 | 411 | 421 | 501 | 601 => self.group_note(&record),
            701 => self.family_pharmacist(&record),
            _ => {
                record.warn(
                    &mut self.warnings,
                    WarningKind::UnknownRecord,
                    "unknown record number; the line was skipped".into(),
                );
                Ok(())
            }
        }
    }

    fn group(&mut self, record: &Record<'_>) -> Result<&mut Group, JahisError> {
        self.group.as_mut().ok_or_else(|| {
            record.out_of_place("must follow a record 5 (調剤等年月日) that opens its dispensing")
        })
    }

    /// A free-text field that must not be empty: `None` (record skipped) with a warning.
    fn required_note_text(&mut self, record: &Record<'_>, field: usize) -> Option<String> {
        let text = record.text(field);
        if text.is_none() {
            record.warn(
                &mut self.warnings,
                WarningKind::MissingField,
                format!("field {field} (the text) is empty; the record was skipped"),
            );
        }
        text
    }

    fn patient(&mut self, r: &Record<'_>) -> Result<(), JahisError> {
        let w = &mut self.warnings;
        let name = r.text(1).unwrap_or_default();
        if name.is_empty() {
            r.warn(w, WarningKind::MissingField, "field 1 (患者氏名) is empty".into());
        }
        let weight_kg = r.get(9).and_then(|value| {
            let parsed =
                text::fold_width(value).parse::<f64>().ok().filter(|kg| kg.is_finite() && *kg >= 0.0);
            if parsed.is_none() {
                r.warn(
                    w,
                    WarningKind::InvalidValue,
                    "field 9 (体重): expected a weight in kg such as 63.7; read as absent".into(),
                );
            }
            parsed
        });
        let patient = Patient {
            name,
            kana_name: r.text(10),
            sex: r.code(2, "患者性別", Sex::CODES, Sex::from_code, w),
            birth_date: r.date(3, "患者生年月日", w),
            postcode: r.text(4),
            address: r.text(5),
            phone: r.text(6),
            emergency_contact: r.text(7),
            blood_type: r.text(8),
            weight_kg,
        };
        match &self.patient {
            None => self.patient = Some((patient, r.location)),
            Some((first, _)) if *first == patient => {}
            Some((_, first)) => {
                return Err(JahisError::MultiplePatients { location: r.location, first: *first });
            }
        }
        Ok(())
    }

    fn patient_note(&mut self, r: &Record<'_>) -> Result<(), JahisError> {
        let Some(text) = self.required_note_text(r, 2) else {
            return Ok(());
        };
        let w = &mut self.warnings;
        let kind = r.code(1, "患者特記種別", PatientNoteKind::CODES, PatientNoteKind::from_code, w);
        if r.get(1).is_none() {
            r.warn(w, WarningKind::MissingField, "field 1 (患者特記種別) is empty".into());
        }
        self.patient_notes.push(PatientNote { kind, text, created_by: r.created_by(3, w) });
        Ok(())
    }

    fn otc_drug(&mut self, r: &Record<'_>) -> Result<(), JahisError> {
        let Some(name) = self.required_note_text(r, 1) else {
            return Ok(());
        };
        let w = &mut self.warnings;
        let sequence = r.get(5).and_then(|value| {
            let parsed = text::unsigned(value);
            if parsed.is_none() {
                r.warn(
                    w,
                    WarningKind::InvalidValue,
                    "field 5 (レコード通番): expected digits; read as absent".into(),
                );
            }
            parsed
        });
        if let Some(sequence) = sequence {
            self.otc_sequences.insert(sequence, self.otc_drugs.len());
        }
        self.otc_drugs.push(OtcDrug {
            name,
            start_date: r.date(2, "服用開始年月日", w),
            end_date: r.date(3, "服用終了年月日", w),
            created_by: r.created_by(4, w),
            sequence,
            jan_code: r.text(6),
            ingredients: Vec::new(),
        });
        Ok(())
    }

    fn otc_ingredient(&mut self, r: &Record<'_>) -> Result<(), JahisError> {
        let Some(name) = self.required_note_text(r, 2) else {
            return Ok(());
        };
        let w = &mut self.warnings;
        let sequence = r.get(1).and_then(text::unsigned);
        let index = match sequence.and_then(|seq| self.otc_sequences.get(&seq).copied()) {
            Some(index) => index,
            None if self.otc_drugs.is_empty() => {
                return Err(r.out_of_place("must follow the record 3 (OTC drug) it belongs to"));
            }
            None => {
                r.warn(
                    w,
                    WarningKind::DanglingReference,
                    "field 1 (レコード通番) matches no OTC drug (record 3); attached to the \
                     previous one"
                        .into(),
                );
                self.otc_drugs.len() - 1
            }
        };
        let ingredient = OtcIngredient {
            name,
            code_type: r.code(3, "コード種別", IngredientCodeType::CODES, IngredientCodeType::from_code, w),
            code: r.text(4),
            created_by: r.created_by(5, w),
        };
        self.otc_drugs[index].ingredients.push(ingredient);
        Ok(())
    }

    fn memo(&mut self, r: &Record<'_>) -> Result<(), JahisError> {
        let Some(text) = self.required_note_text(r, 1) else {
            return Ok(());
        };
        let w = &mut self.warnings;
        self.memos
            .push(Memo { text, date: r.date(2, "メモ入力年月日", w), created_by: r.created_by(3, w) });
        Ok(())
    }

    fn dispensing_date(&mut self, r: &Record<'_>) -> Result<(), JahisError> {
        let date =
            r.get(1).and_then(parse_date).ok_or_else(|| r.invalid(1, "調剤等年月日", EXPECTED_DATE))?;
        if let Some(group) = self.group.take() {
            self.dispensings.push(group.dispensing);
        }
        self.group = Some(Group {
            dispensing: Dispensing {
                date,
                created_by: r.created_by(2, &mut self.warnings),
                pharmacy: None,
                pharmacist: None,
                prescribing_institution: None,
                doctors: Vec::new(),
                rps: Vec::new(),
                precautions: Vec::new(),
                provider_notes: Vec::new(),
                leftover_checks: Vec::new(),
                remarks: Vec::new(),
                patient_entries: Vec::new(),
            },
            doctor: None,
            rps: HashMap::new(),
        });
        Ok(())
    }

    /// Records 11, 15, 51, 55.
    fn provider(&mut self, r: &Record<'_>) -> Result<(), JahisError> {
        let w = &mut self.warnings;
        let group = self.group.as_mut().ok_or_else(|| {
            r.out_of_place("must follow a record 5 (調剤等年月日) that opens its dispensing")
        })?;
        let name = r.text(1).unwrap_or_default();
        if name.is_empty() {
            r.warn(w, WarningKind::MissingField, "field 1 (名称/氏名) is empty".into());
        }
        let institution = |w: &mut Vec<Warning>, created_by_field: usize, has_address: bool| Institution {
            name: name.clone(),
            prefecture: r.text(2).map(|p| text::fold_width(&p).into_owned()),
            score_table: r.code(3, "点数表", ScoreTable::CODES, ScoreTable::from_code, w),
            code: r.text(4).map(|c| text::fold_width(&c).into_owned()),
            postcode: has_address.then(|| r.text(5)).flatten(),
            address: has_address.then(|| r.text(6)).flatten(),
            phone: has_address.then(|| r.text(7)).flatten(),
            created_by: r.created_by(created_by_field, w),
        };
        let duplicate = |w: &mut Vec<Warning>| {
            r.warn(
                w,
                WarningKind::DuplicateRecord,
                "appears once per dispensing; this repetition was ignored".into(),
            );
        };
        match r.number {
            11 if group.dispensing.pharmacy.is_some() => duplicate(w),
            11 => group.dispensing.pharmacy = Some(institution(w, 8, true)),
            15 if group.dispensing.pharmacist.is_some() => duplicate(w),
            15 => {
                group.dispensing.pharmacist =
                    Some(Pharmacist { name, contact: r.text(2), created_by: r.created_by(3, w) });
            }
            51 if group.dispensing.prescribing_institution.is_some() => duplicate(w),
            51 => group.dispensing.prescribing_institution = Some(institution(w, 5, false)),
            _ => {
                let doctor = Doctor { name, department: r.text(2), created_by: r.created_by(3, w) };
                group.dispensing.doctors.push(doctor.clone());
                group.doctor = Some(doctor);
            }
        }
        Ok(())
    }

    fn drug(&mut self, r: &Record<'_>) -> Result<(), JahisError> {
        let rp = r.rp_number()?;
        let name = r.required_text(2, "薬品名称")?;
        let w = &mut self.warnings;
        let drug = Drug {
            name,
            amount: r.text(3).map(|a| text::fold_width(&a).into_owned()),
            unit: r.text(4),
            code_type: r.code(5, "薬品コード種別", DrugCodeType::CODES, DrugCodeType::from_code, w),
            code: r.text(6).map(|c| text::fold_width(&c).into_owned()),
            created_by: r.created_by(7, w),
            generic_name: r.text(8),
            generic_code_type: r.code(
                9,
                "一般名コード種別",
                GenericCodeType::CODES,
                GenericCodeType::from_code,
                w,
            ),
            generic_code: r.text(10),
            supplements: Vec::new(),
            precautions: Vec::new(),
        };
        self.group(r)?.rp(rp).drugs.push(drug);
        Ok(())
    }

    /// Records 281 and 291 belong to the drug (201) just before them in their RP.
    fn drug_note(&mut self, r: &Record<'_>) -> Result<(), JahisError> {
        let rp = r.rp_number()?;
        let Some(text) = self.required_note_text(r, 2) else {
            return Ok(());
        };
        let note = Note { text, created_by: r.created_by(3, &mut self.warnings) };
        let number = r.number;
        let group = self.group(r)?;
        let drug = group
            .dispensing
            .rps
            .iter_mut()
            .find(|candidate| candidate.number == rp)
            .and_then(|candidate| candidate.drugs.last_mut())
            .ok_or_else(|| r.out_of_place(format!("must follow a drug (201) of RP {rp}")))?;
        if number == 281 {
            drug.supplements.push(note);
        } else {
            drug.precautions.push(note);
        }
        Ok(())
    }

    fn usage(&mut self, r: &Record<'_>) -> Result<(), JahisError> {
        let rp = r.rp_number()?;
        let w = &mut self.warnings;
        let quantity = r.get(3).and_then(|value| {
            let parsed = text::unsigned(value);
            if parsed.is_none() {
                r.warn(
                    w,
                    WarningKind::InvalidValue,
                    format!(
                        "field 3 (調剤数量): expected a whole number, found {:?}; read as absent",
                        excerpt(value, 8)
                    ),
                );
            }
            parsed
        });
        let quantity_unit = r.text(4);
        let dosage_form = r.code(5, "剤形コード", DosageForm::CODES, DosageForm::from_code, w);
        let counts_days = match quantity_unit.as_deref() {
            Some(unit) => unit.contains('日'),
            None => matches!(
                dosage_form,
                Some(DosageForm::Internal | DosageForm::Infusion | DosageForm::Decoction)
            ),
        };
        let usage = Usage {
            text: r.text(2),
            quantity,
            quantity_unit,
            dosage_form,
            code_type: r.code(6, "用法コード種別", UsageCodeType::CODES, UsageCodeType::from_code, w),
            code: r.text(7),
            created_by: r.created_by(8, w),
            days_supply: quantity.filter(|_| counts_days),
        };
        let duplicate = {
            let slot = &mut self.group(r)?.rp(rp).usage;
            if slot.is_none() {
                *slot = Some(usage);
                false
            } else {
                true
            }
        };
        if duplicate {
            r.warn(
                &mut self.warnings,
                WarningKind::DuplicateRecord,
                format!("RP {rp} already has a usage (301); this one was ignored"),
            );
        }
        Ok(())
    }

    /// Records 311 and 391 belong to an RP.
    fn rp_note(&mut self, r: &Record<'_>) -> Result<(), JahisError> {
        let rp = r.rp_number()?;
        let Some(text) = self.required_note_text(r, 2) else {
            return Ok(());
        };
        let note = Note { text, created_by: r.created_by(3, &mut self.warnings) };
        let number = r.number;
        let rp = self.group(r)?.rp(rp);
        if number == 311 {
            rp.usage_notes.push(note);
        } else {
            rp.precautions.push(note);
        }
        Ok(())
    }

    /// Records 401, 411, 421, 501, 601 close a dispensing.
    fn group_note(&mut self, r: &Record<'_>) -> Result<(), JahisError> {
        let Some(text) = self.required_note_text(r, 1) else {
            return Ok(());
        };
        let w = &mut self.warnings;
        let group = self.group.as_mut().ok_or_else(|| {
            r.out_of_place("must follow a record 5 (調剤等年月日) that opens its dispensing")
        })?;
        let dispensing = &mut group.dispensing;
        match r.number {
            401 => dispensing.precautions.push(Note { text, created_by: r.created_by(2, w) }),
            411 => {
                // The layout table gives text, kind, creator; the spec's own example 8 prints
                // five more empty fields with the creator last. Read either.
                let creator_field = match r.get(3) {
                    None if r.fields.len() > 4 => r.fields.len() - 1,
                    _ => 3,
                };
                dispensing.provider_notes.push(ProviderNote {
                    text,
                    kind: r.code(2, "提供情報種別", ProviderNoteKind::CODES, ProviderNoteKind::from_code, w),
                    created_by: r.created_by(creator_field, w),
                });
            }
            421 => dispensing.leftover_checks.push(Note { text, created_by: r.created_by(2, w) }),
            501 => dispensing.remarks.push(Note { text, created_by: r.created_by(2, w) }),
            _ => {
                dispensing.patient_entries.push(PatientEntry { text, date: r.date(2, "入力年月日", w) })
            }
        }
        Ok(())
    }

    fn family_pharmacist(&mut self, r: &Record<'_>) -> Result<(), JahisError> {
        let w = &mut self.warnings;
        let name = r.text(1).unwrap_or_default();
        if name.is_empty() {
            r.warn(w, WarningKind::MissingField, "field 1 (かかりつけ薬剤師氏名) is empty".into());
        }
        self.family_pharmacists.push(FamilyPharmacist {
            name,
            pharmacy: r.text(2),
            contact: r.text(3),
            start_date: r.date(4, "担当開始日", w),
            end_date: r.date(5, "担当終了日", w),
            created_by: r.created_by(6, w),
        });
        Ok(())
    }
}
