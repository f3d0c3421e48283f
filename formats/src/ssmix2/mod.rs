//! SS-MIX2 standardized storage (HL7 v2.5 messages in ISO-2022-JP): storage paths and file
//! names, decoding before splitting, and typed extraction of what a PHR imports — patient
//! demographics, lab and physiology results, prescriptions, diagnoses and allergies.
//!
//! ```
//! use phr_formats::ssmix2;
//!
//! let bytes = b"MSH|^~\\&|HIS|SEND|||20111220||OUL^R22|1|P|2.5\rPID|||9999013||\x1b$B45<T\x1b(B^\x1b$BB@O:\x1b(B\r\
//!               OBR|1\rOBX|1|NM|3A010000002327101^TP^JC10||7.2|g/dl|6.70-8.3|H|||F\r\x1c";
//! let message = ssmix2::parse(bytes)?;
//! assert_eq!(message.patient.and_then(|p| p.name).map(|n| n.full).as_deref(), Some("患者 太郎"));
//! let result = &message.reports[0].results[0];
//! assert_eq!(result.jlac10.as_ref().map(|c| c.analyte()), Some("3A010"));
//! assert_eq!(result.reference_range.as_ref().and_then(|r| r.high), Some(8.3));
//!
//! let file = ssmix2::FileName::from_path("999/901/9999013/-/ADT-00/9999013_-_ADT-00_999999999999999_20111220224447339_-_1")?;
//! assert_eq!(file.data_kind.as_str(), "ADT-00");
//! # Ok::<(), ssmix2::Ssmix2Error>(())
//! ```

mod codes;
mod decode;
mod error;
mod extract;
mod model;
mod path;
mod text;

use serde::{Deserialize, Serialize};

pub use codes::{Coded, Jlac10Code, Measurement, parse_reference_range};
pub use decode::{Decoded, SourceEncoding, decode};
pub use error::{PathError, Ssmix2Error, Warning, WarningKind};
pub use model::{
    Allergy, AllergyAction, AllergySegment, Diagnosis, Event, Header, Identifier, MessageType, Observation,
    ObservationStatus, ObservationValue, Order, Patient, PersonName, Prescription, ProblemAction,
    ReferenceRange, Report, Sex, Specimen, Ssmix2Message, Staff, Visit,
};
pub use path::{ConditionFlag, DataKind, FileKey, FileName, NO_ORDER_NUMBER};
pub use text::normalize_for_match;

use crate::hl7;

/// Parses the bytes of one SS-MIX2 file (or one uploaded message): strips framing, decodes,
/// splits and extracts.
///
/// # Errors
/// See [`Ssmix2Error`]: undecodable bytes, no MSH, unusable delimiters, several messages.
pub fn parse(bytes: &[u8]) -> Result<Ssmix2Message, Ssmix2Error> {
    parse_with(bytes, None)
}

fn parse_with(bytes: &[u8], file: Option<&FileName>) -> Result<Ssmix2Message, Ssmix2Error> {
    let decoded = decode(bytes)?;
    let message = hl7::parse(&decoded.text)?;
    let mut warnings = decoded.warnings;
    warnings.extend(message.warnings().iter().cloned().map(Warning::from));
    Ok(extract::extract(&message, decoded.encoding, warnings, file))
}

/// A file of the storage: what its path says and what it holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StorageFile {
    pub file: FileName,
    pub message: Ssmix2Message,
}

impl StorageFile {
    /// PID-3 carries the file name's patient ID (in any repetition). The file name is
    /// authoritative; a mismatch is also reported as a [`WarningKind::PatientIdMismatch`].
    #[must_use]
    pub fn patient_id_matches(&self) -> bool {
        self.message
            .patient
            .as_ref()
            .is_some_and(|p| p.identifiers.iter().any(|i| i.id == self.file.patient_id))
    }
}

/// Parses a storage file from its storage-relative path (see [`FileName::from_path`]) and
/// bytes, and checks one against the other: a PID-3 without the file's patient ID and an
/// MSH-9 that is not the data kind's message type are reported as warnings.
///
/// # Errors
/// [`Ssmix2Error::Path`] when the path is unusable, else the errors of [`parse`].
pub fn parse_file(path: &str, bytes: &[u8]) -> Result<StorageFile, Ssmix2Error> {
    let file = FileName::from_path(path)?;
    let message = parse_with(bytes, Some(&file))?;
    Ok(StorageFile { file, message })
}
