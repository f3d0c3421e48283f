//! From an [`hl7::Message`](crate::hl7::Message) to an [`Ssmix2Message`]: one pass over the
//! segments, grouping OBX under the OBR (and SPM, ORC) before them, TQ1 and RXR under their
//! RXE, and NTE under whatever they follow. Extraction is driven by segments, not by message
//! type, so an ADT^A08 yields its AL1 allergies and OBX measurements alike.

use super::codes::{Coded, Jlac10Code, parse_reference_range};
use super::decode::SourceEncoding;
use super::error::{Warning, WarningKind};
use super::model::{
    Allergy, AllergyAction, AllergySegment, Diagnosis, Event, Header, Identifier, MessageType, Observation,
    ObservationStatus, ObservationValue, Order, Patient, PersonName, Prescription, ProblemAction, Report,
    Sex, Specimen, Ssmix2Message, Staff, Visit,
};
use super::path::FileName;
use super::text::fold_width;
use crate::hl7::{Location, Message, Precision, Segment, Timestamp, Value, excerpt, parse_decimal};

/// What the last NTE would attach to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Context {
    Message,
    Report,
    ReportResult,
    Observation,
    Prescription,
}

pub(crate) fn extract(
    message: &Message<'_>,
    encoding: SourceEncoding,
    warnings: Vec<Warning>,
    file: Option<&FileName>,
) -> Ssmix2Message {
    let mut w = warnings;
    let header = message.msh().map(|msh| header(msh, &mut w)).unwrap_or_else(|| Header {
        sending_application: None,
        sending_facility: None,
        receiving_application: None,
        receiving_facility: None,
        created_at: None,
        message_type: MessageType::default(),
        control_id: None,
        processing_id: None,
        version: None,
        character_sets: Vec::new(),
        profile: None,
    });
    let mut out = Ssmix2Message {
        encoding,
        header,
        event: None,
        patient: None,
        visit: None,
        observations: Vec::new(),
        reports: Vec::new(),
        prescriptions: Vec::new(),
        diagnoses: Vec::new(),
        allergies: Vec::new(),
        notes: Vec::new(),
        warnings: Vec::new(),
    };
    let mut specimen: Option<Specimen> = None;
    // An SPM came after the last OBR: a following ORC opens a new group.
    let mut specimen_since_report = false;
    let mut pending_order: Option<Order> = None;
    let mut timing_read = false;
    let mut context = Context::Message;
    let mut pid_line = None;

    for seg in message.segments().iter().skip(1) {
        match seg.name() {
            "EVN" if out.event.is_none() => {
                out.event = Some(Event { recorded_at: ts(seg, 2, &mut w), occurred_at: ts(seg, 6, &mut w) });
            }
            "PID" => {
                if out.patient.is_none() {
                    out.patient = Some(patient(seg, &mut w));
                    pid_line = Some(seg.line());
                } else {
                    duplicate(seg, &mut w);
                }
            }
            "PV1" => {
                if out.visit.is_none() {
                    out.visit = Some(visit(seg, &mut w));
                } else {
                    duplicate(seg, &mut w);
                }
            }
            "SPM" => {
                specimen = Some(Specimen {
                    id: seg.field(2).component(1).subcomponent(1).non_empty(),
                    kind: Coded::from_components(seg.field(4)),
                    collected_at: ts(seg, 17, &mut w),
                });
                specimen_since_report = true;
                context = Context::Message;
            }
            "ORC" => {
                let order = order(seg, &mut w);
                // OUL^R22 puts the ORC right after its OBR.
                match out.reports.last_mut() {
                    Some(report)
                        if context == Context::Report
                            && report.order.is_none()
                            && report.results.is_empty()
                            && !specimen_since_report =>
                    {
                        report.order = Some(order);
                    }
                    _ => {
                        pending_order = Some(order);
                        context = Context::Message;
                    }
                }
            }
            "OBR" => {
                out.reports.push(report(seg, specimen.clone(), pending_order.take(), &mut w));
                specimen_since_report = false;
                context = Context::Report;
            }
            "OBX" => {
                let observation = observation(seg, &mut w);
                if let Some(report) = out.reports.last_mut() {
                    report.results.push(observation);
                    context = Context::ReportResult;
                } else {
                    out.observations.push(observation);
                    context = Context::Observation;
                }
            }
            "NTE" => {
                let Some(note) = note(seg) else { continue };
                let target = match context {
                    Context::ReportResult => {
                        out.reports.last_mut().and_then(|r| r.results.last_mut()).map(|o| &mut o.notes)
                    }
                    Context::Observation => out.observations.last_mut().map(|o| &mut o.notes),
                    Context::Report => out.reports.last_mut().map(|r| &mut r.notes),
                    Context::Message | Context::Prescription => None,
                };
                target.unwrap_or(&mut out.notes).push(note);
            }
            "RXE" => {
                out.prescriptions.push(prescription(seg, pending_order.take(), &mut w));
                timing_read = false;
                context = Context::Prescription;
            }
            "TQ1" if context == Context::Prescription => {
                if timing_read {
                    duplicate(seg, &mut w);
                } else if let Some(p) = out.prescriptions.last_mut() {
                    timing(seg, p, &mut w);
                    timing_read = true;
                }
            }
            "RXR" if context == Context::Prescription => {
                if let Some(p) = out.prescriptions.last_mut()
                    && p.route.is_none()
                {
                    p.route = Coded::from_components(seg.field(1));
                }
            }
            "PRB" => {
                out.diagnoses.push(diagnosis(seg, &mut w));
                context = Context::Message;
            }
            "IAM" | "AL1" => {
                out.allergies.push(allergy(seg, &mut w));
                context = Context::Message;
            }
            _ => {}
        }
    }

    if out.patient.is_none() {
        w.push(Warning::new(
            Location::line(1),
            WarningKind::MissingSegment,
            "the message has no PID segment",
        ));
    }
    if let Some(file) = file {
        check_against_file(&out, file, pid_line, &mut w);
    }
    out.warnings = w;
    out
}

fn check_against_file(out: &Ssmix2Message, file: &FileName, pid_line: Option<usize>, w: &mut Vec<Warning>) {
    if let (Some(patient), Some(line)) = (&out.patient, pid_line)
        && !patient.identifiers.iter().any(|i| i.id == file.patient_id)
    {
        w.push(Warning::new(
            Location::field(line, "PID", 3),
            WarningKind::PatientIdMismatch,
            "PID-3 does not carry the patient ID of the file name (the file name is authoritative)",
        ));
    }
    let types = file.data_kind.message_types();
    let actual = out.header.message_type.short();
    if !types.is_empty() && !types.contains(&actual.as_str()) {
        w.push(Warning::new(
            Location::field(1, "MSH", 9),
            WarningKind::MessageTypeMismatch,
            format!(
                "data kind {} is sent as {}, but MSH-9 is {:?}",
                file.data_kind,
                types.join(" or "),
                excerpt(&actual, 16)
            ),
        ));
    }
}

fn duplicate(seg: &Segment<'_>, w: &mut Vec<Warning>) {
    w.push(Warning::new(
        Location { line: seg.line(), segment: Some(seg.name().to_owned()), field: None },
        WarningKind::DuplicateSegment,
        format!("a further {} segment where one is expected: ignored", seg.name()),
    ));
}

fn text(seg: &Segment<'_>, n: usize) -> Option<String> {
    seg.field(n).non_empty()
}

/// Component 1 of the first repetition.
fn first(seg: &Segment<'_>, n: usize) -> Option<String> {
    seg.field(n).component(1).non_empty()
}

fn coded(seg: &Segment<'_>, n: usize) -> Option<Coded> {
    Coded::from_components(seg.field(n))
}

fn required_coded(seg: &Segment<'_>, n: usize, what: &str, w: &mut Vec<Warning>) -> Coded {
    coded(seg, n).unwrap_or_else(|| {
        w.push(Warning::new(
            seg.location(n),
            WarningKind::MissingField,
            format!("{}-{n} ({what}) is empty", seg.name()),
        ));
        Coded::default()
    })
}

/// A date/time in field `n` (its first component; the first subcomponent, for a DR range).
fn ts(seg: &Segment<'_>, n: usize, w: &mut Vec<Warning>) -> Option<Timestamp> {
    ts_value(seg, n, seg.field(n).component(1).subcomponent(1), w)
}

fn ts_value(seg: &Segment<'_>, n: usize, value: Value<'_>, w: &mut Vec<Warning>) -> Option<Timestamp> {
    let raw = value.non_empty()?;
    let parsed = Timestamp::parse(&fold_width(&raw));
    if parsed.is_none() {
        w.push(Warning::new(
            seg.location(n),
            WarningKind::InvalidValue,
            format!(
                "{}-{n}: {:?} is not an HL7 date/time (YYYYMMDD[HHMM[SS]])",
                seg.name(),
                excerpt(&raw, 20)
            ),
        ));
    }
    parsed
}

fn decimal_value(seg: &Segment<'_>, n: usize, value: Value<'_>, w: &mut Vec<Warning>) -> Option<f64> {
    let raw = value.non_empty()?;
    let parsed = parse_decimal(&fold_width(&raw));
    if parsed.is_none() {
        w.push(Warning::new(
            seg.location(n),
            WarningKind::InvalidValue,
            format!("{}-{n} is not a number", seg.name()),
        ));
    }
    parsed
}

fn decimal(seg: &Segment<'_>, n: usize, w: &mut Vec<Warning>) -> Option<f64> {
    decimal_value(seg, n, seg.field(n).component(1), w)
}

/// A whole number that fits in u32.
fn count(seg: &Segment<'_>, n: usize, value: Value<'_>, w: &mut Vec<Warning>) -> Option<u32> {
    let number = decimal_value(seg, n, value, w)?;
    let whole = number >= 0.0 && number.fract() == 0.0 && number <= f64::from(u32::MAX);
    if !whole {
        w.push(Warning::new(
            seg.location(n),
            WarningKind::InvalidValue,
            format!("{}-{n} is not a whole number", seg.name()),
        ));
        return None;
    }
    // In range and whole: the conversion is exact.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Some(number as u32)
}

fn code_of<T>(
    seg: &Segment<'_>,
    n: usize,
    from_code: fn(&str) -> Option<T>,
    table: &str,
    w: &mut Vec<Warning>,
) -> Option<T> {
    let raw = first(seg, n)?;
    let value = from_code(&raw);
    if value.is_none() {
        w.push(Warning::new(
            seg.location(n),
            WarningKind::UnknownCode,
            format!("{}-{n}: {:?} is not in HL7 table {table}", seg.name(), excerpt(&raw, 8)),
        ));
    }
    value
}

fn header(msh: &Segment<'_>, w: &mut Vec<Warning>) -> Header {
    let message_type = msh.field(9);
    let code = message_type.component(1).non_empty().unwrap_or_else(|| {
        w.push(Warning::new(msh.location(9), WarningKind::MissingField, "MSH-9 (message type) is empty"));
        String::new()
    });
    Header {
        sending_application: first(msh, 3),
        sending_facility: first(msh, 4),
        receiving_application: first(msh, 5),
        receiving_facility: first(msh, 6),
        created_at: ts(msh, 7, w),
        message_type: MessageType {
            code,
            trigger: message_type.component(2).non_empty(),
            structure: message_type.component(3).non_empty(),
        },
        control_id: text(msh, 10),
        processing_id: first(msh, 11),
        version: first(msh, 12),
        character_sets: msh.field(18).repetitions().filter_map(|r| r.non_empty()).collect(),
        profile: first(msh, 21),
    }
}

/// XPN-8 name representation codes.
const IDEOGRAPHIC: &str = "I";
const PHONETIC: &str = "P";

fn person_name(family: Option<String>, given: Option<String>) -> Option<PersonName> {
    let full = [family.as_deref(), given.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ");
    (!full.is_empty()).then_some(PersonName { family, given, full })
}

fn is_kana(s: &str) -> bool {
    s.chars().all(|c| {
        matches!(c, '\u{30A0}'..='\u{30FF}' | '\u{3040}'..='\u{309F}' | '\u{FF66}'..='\u{FF9F}' | ' ' | '\u{3000}')
    })
}

fn patient(seg: &Segment<'_>, w: &mut Vec<Warning>) -> Patient {
    let identifiers: Vec<Identifier> = seg
        .field(3)
        .repetitions()
        .filter_map(|rep| {
            Some(Identifier {
                id: rep.component(1).non_empty()?,
                assigning_authority: rep.component(4).subcomponent(1).non_empty(),
                type_code: rep.component(5).non_empty(),
            })
        })
        .collect();
    let id = identifiers
        .iter()
        .find(|i| i.type_code.as_deref() == Some("PI"))
        .or_else(|| identifiers.first())
        .map(|i| i.id.clone());

    let names: Vec<(Option<String>, PersonName)> = seg
        .field(5)
        .repetitions()
        .filter_map(|rep| {
            let name =
                person_name(rep.component(1).subcomponent(1).non_empty(), rep.component(2).non_empty())?;
            Some((rep.component(8).non_empty(), name))
        })
        .collect();
    let with_code =
        |code: &str| names.iter().find(|(c, _)| c.as_deref() == Some(code)).map(|(_, n)| n.clone());
    let without_code = |kana: bool| {
        names.iter().find(|(c, n)| c.is_none() && is_kana(&n.full) == kana).map(|(_, n)| n.clone())
    };
    let name = with_code(IDEOGRAPHIC).or_else(|| {
        names
            .iter()
            .find(|(c, n)| c.as_deref() != Some(PHONETIC) && !is_kana(&n.full))
            .map(|(_, n)| n.clone())
    });
    let kana_name = with_code(PHONETIC).or_else(|| without_code(true));

    let birth_date = ts(seg, 7, w).and_then(|t| {
        if t.precision() >= Precision::Day {
            Some(t.date())
        } else {
            w.push(Warning::new(
                seg.location(7),
                WarningKind::InvalidValue,
                "PID-7: a birth date without a day",
            ));
            None
        }
    });
    let address = seg.field(11).repetition(1);
    Patient {
        id,
        identifiers,
        name,
        kana_name,
        birth_date,
        sex: code_of(seg, 8, Sex::from_code, "0001", w),
        postal_code: address.component(5).non_empty(),
        address: address.component(8).non_empty().or_else(|| {
            let parts: Vec<String> =
                [4, 3, 1, 2].into_iter().filter_map(|n| address.component(n).non_empty()).collect();
            (!parts.is_empty()).then(|| parts.join(" "))
        }),
        updated_at: ts(seg, 33, w),
    }
}

fn staff(value: Value<'_>) -> Option<Staff> {
    let rep = value.repetition(1);
    let id = rep.component(1).non_empty();
    let name = person_name(rep.component(2).subcomponent(1).non_empty(), rep.component(3).non_empty());
    (id.is_some() || name.is_some()).then_some(Staff { id, name })
}

fn visit(seg: &Segment<'_>, w: &mut Vec<Warning>) -> Visit {
    let location = seg.field(3);
    Visit {
        patient_class: first(seg, 2),
        ward: location.component(1).non_empty(),
        room: location.component(2).non_empty(),
        bed: location.component(3).non_empty(),
        attending_doctor: staff(seg.field(7)),
        hospital_service: first(seg, 10),
        admitted_at: ts(seg, 44, w),
        discharged_at: ts(seg, 45, w),
    }
}

fn order(seg: &Segment<'_>, w: &mut Vec<Warning>) -> Order {
    Order {
        control: first(seg, 1),
        placer_order_number: first(seg, 2),
        filler_order_number: first(seg, 3),
        placer_group_number: first(seg, 4),
        status: first(seg, 5),
        transaction_at: ts(seg, 9, w),
        ordering_provider: staff(seg.field(12)),
        department: coded(seg, 17),
        facility_name: first(seg, 21),
        order_type: coded(seg, 29),
    }
}

fn report(
    seg: &Segment<'_>,
    specimen: Option<Specimen>,
    order: Option<Order>,
    w: &mut Vec<Warning>,
) -> Report {
    Report {
        specimen,
        order,
        placer_order_number: first(seg, 2),
        filler_order_number: first(seg, 3),
        service: coded(seg, 4),
        observed_at: ts(seg, 7, w),
        reported_at: ts(seg, 22, w),
        status: first(seg, 25),
        results: Vec::new(),
        notes: Vec::new(),
    }
}

fn observation(seg: &Segment<'_>, w: &mut Vec<Warning>) -> Observation {
    let value_type = first(seg, 2).map(|t| t.to_ascii_uppercase());
    let code = required_coded(seg, 3, "observation identifier", w);
    let jlac10 = code.code_in("JC10").and_then(|raw| {
        let parsed = Jlac10Code::parse(raw);
        if parsed.is_none() {
            w.push(Warning::new(
                seg.location(3),
                WarningKind::InvalidValue,
                format!(
                    "OBX-3: {:?} of system JC10 is not a JLAC10 code (5 to 17 letters and digits)",
                    excerpt(raw, 20)
                ),
            ));
        }
        parsed
    });
    let values = seg
        .field(5)
        .repetitions()
        .filter_map(|rep| observation_value(seg, rep, value_type.as_deref(), w))
        .collect();
    let unit = seg.field(6);
    Observation {
        set_id: text(seg, 1),
        measurement: jlac10.as_ref().and_then(Jlac10Code::measurement),
        jlac10,
        value_type,
        code,
        sub_id: text(seg, 4),
        values,
        unit: unit.component(1).non_empty().or_else(|| unit.component(2).non_empty()),
        unit_system: unit.component(3).non_empty(),
        reference_range: text(seg, 7).map(|r| parse_reference_range(&r)),
        abnormal_flags: seg.field(8).repetitions().filter_map(|r| r.component(1).non_empty()).collect(),
        status: code_of(seg, 11, ObservationStatus::from_code, "0085", w),
        observed_at: ts(seg, 14, w),
        notes: Vec::new(),
    }
}

const COMPARATORS: [&str; 8] = ["<=", ">=", "<>", "<", ">", "=", "≦", "≧"];

/// `<0.5`, `>=10`, `1.7`: a comparator (as written) and a number.
fn number_with_comparator(text: &str) -> Option<(Option<String>, f64)> {
    let folded = fold_width(text.trim());
    for comparator in COMPARATORS {
        if let Some(rest) = folded.strip_prefix(comparator) {
            return parse_decimal(rest).map(|n| (Some(comparator.to_owned()), n));
        }
    }
    parse_decimal(&folded).map(|n| (None, n))
}

fn observation_value(
    seg: &Segment<'_>,
    rep: Value<'_>,
    value_type: Option<&str>,
    w: &mut Vec<Warning>,
) -> Option<ObservationValue> {
    let text = rep.non_empty()?;
    let as_text = |text: String| ObservationValue::Text { text };
    let mismatch = |w: &mut Vec<Warning>, what: &str| {
        w.push(Warning::new(
            seg.location(5),
            WarningKind::InvalidValue,
            format!("OBX-5 is not {what} although OBX-2 says so: kept as text"),
        ));
    };
    let value = match value_type {
        Some("NM") => match number_with_comparator(&text) {
            Some((comparator, value)) => ObservationValue::Number { text, value, comparator },
            None => {
                mismatch(w, "a number");
                as_text(text)
            }
        },
        Some("SN") => {
            let part = |n| rep.component(n).non_empty();
            let (comparator, first, separator, second) = (part(1), part(2), part(3), part(4));
            let joined: String = [&comparator, &first, &separator, &second]
                .into_iter()
                .flatten()
                .map(String::as_str)
                .collect();
            let number = |s: &Option<String>| s.as_deref().and_then(|s| parse_decimal(&fold_width(s)));
            match (number(&first), &separator, &second) {
                (Some(value), None, None) => ObservationValue::Number { text: joined, value, comparator },
                (first_number, Some(separator), _) if first_number.is_some() || first.is_none() => {
                    ObservationValue::Compound {
                        text: joined,
                        comparator,
                        first: first_number,
                        separator: separator.clone(),
                        second: number(&second),
                    }
                }
                _ => {
                    mismatch(w, "a structured numeric");
                    as_text(joined)
                }
            }
        }
        Some("CWE" | "CE" | "CNE" | "CF") => {
            Coded::from_components(rep).map_or_else(|| as_text(text), ObservationValue::Coded)
        }
        Some("DT" | "DTM" | "TS") => match Timestamp::parse(&rep.component(1).text()) {
            Some(value) => ObservationValue::DateTime { value },
            None => {
                mismatch(w, "a date/time");
                as_text(text)
            }
        },
        None => match parse_decimal(&fold_width(&text)) {
            Some(value) => ObservationValue::Number { text, value, comparator: None },
            None => as_text(text),
        },
        Some(_) => as_text(text),
    };
    Some(value)
}

fn note(seg: &Segment<'_>) -> Option<String> {
    let lines: Vec<String> = seg.field(3).repetitions().map(|r| r.text().into_owned()).collect();
    let note = lines.join("\n");
    (!note.trim().is_empty()).then_some(note)
}

fn prescription(seg: &Segment<'_>, order: Option<Order>, w: &mut Vec<Warning>) -> Prescription {
    let daily = seg.field(19);
    Prescription {
        order,
        drug: required_coded(seg, 2, "give code", w),
        dose: decimal(seg, 3, w),
        dose_max: decimal(seg, 4, w),
        dose_unit: coded(seg, 5),
        dosage_form: coded(seg, 6),
        dispense_amount: decimal(seg, 10, w),
        dispense_unit: coded(seg, 11),
        prescription_number: first(seg, 15),
        daily_dose: decimal_value(seg, 19, daily.component(1), w),
        daily_dose_unit: Coded::from_subcomponents(daily.component(2)),
        dispensing_instructions: seg.field(21).repetitions().filter_map(Coded::from_components).collect(),
        usage: None,
        usage_note: None,
        days: None,
        start: None,
        end: None,
        total_occurrences: None,
        route: None,
    }
}

fn timing(seg: &Segment<'_>, p: &mut Prescription, w: &mut Vec<Warning>) {
    p.usage = Coded::from_subcomponents(seg.field(3).component(1));
    p.usage_note = text(seg, 11);
    let duration = seg.field(6);
    if let Some(amount) = count(seg, 6, duration.component(1), w) {
        let unit = duration.component(2).subcomponent(1).non_empty().map(|u| u.to_ascii_lowercase());
        p.days = match unit.as_deref() {
            None | Some("d" | "day" | "days" | "日") => Some(amount),
            Some("wk" | "w" | "週") => amount.checked_mul(7),
            Some(other) => {
                w.push(Warning::new(
                    seg.location(6),
                    WarningKind::UnknownCode,
                    format!("TQ1-6: duration unit {:?} is neither days nor weeks", excerpt(other, 8)),
                ));
                None
            }
        };
    }
    p.start = ts(seg, 7, w);
    p.end = ts(seg, 8, w);
    p.total_occurrences = count(seg, 14, seg.field(14).component(1), w);
}

fn diagnosis(seg: &Segment<'_>, w: &mut Vec<Warning>) -> Diagnosis {
    let disease = required_coded(seg, 3, "problem ID", w);
    let classification = coded(seg, 10);
    Diagnosis {
        action: code_of(seg, 1, ProblemAction::from_code, "0287", w),
        action_at: ts(seg, 2, w),
        medis_code: disease.code_in("MDCDX2").map(str::to_owned),
        disease,
        instance_id: first(seg, 4),
        established_at: ts(seg, 7, w),
        resolved_at: ts(seg, 9, w),
        icd10: classification
            .as_ref()
            .and_then(|c| c.code_in("I10").or_else(|| c.code_in("ICD10")))
            .map(str::to_owned),
        classification,
        life_cycle_status: coded(seg, 14),
        life_cycle_status_at: ts(seg, 15, w),
        onset: ts(seg, 16, w),
        onset_text: text(seg, 17),
        ranking: coded(seg, 18),
        certainty: coded(seg, 19),
    }
}

fn allergy(seg: &Segment<'_>, w: &mut Vec<Warning>) -> Allergy {
    let iam = seg.name() == "IAM";
    Allergy {
        segment: if iam { AllergySegment::Iam } else { AllergySegment::Al1 },
        set_id: text(seg, 1),
        allergen_type: coded(seg, 2),
        allergen: required_coded(seg, 3, "allergen", w),
        severity: coded(seg, 4),
        reactions: seg.field(5).repetitions().filter_map(|r| r.non_empty()).collect(),
        action: if iam { code_of(seg, 6, AllergyAction::from_code, "0323", w) } else { None },
        unique_id: if iam { first(seg, 7) } else { None },
        onset: if iam { ts(seg, 11, w) } else { None },
        onset_text: if iam { text(seg, 12) } else { None },
        reported_at: if iam { ts(seg, 13, w) } else { None },
        identified_at: if iam { None } else { ts(seg, 6, w) },
    }
}
