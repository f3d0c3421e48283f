//! What can go wrong reading a JAHIS payload: [`JahisError`] refuses it (each variant has a
//! stable snake_case [`JahisError::code`] for the HTTP layer), [`Warning`] records what was
//! tolerated. Messages quote at most a short excerpt of the one offending value (a code, a
//! date, a record number), never a record's free text such as a name or a drug.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where a record sits: the 1-based line in its decoded payload and, for JAHIS split data,
/// the part number of the 911 record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Location {
    pub part: Option<u16>,
    pub line: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.part {
            Some(part) => write!(f, "part {part}, line {}", self.line),
            None => write!(f, "line {}", self.line),
        }
    }
}

/// Why a payload was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JahisError {
    #[error("the QR payload is empty: scan the code again")]
    Empty,

    #[error(
        "not a JAHIS e-medication-handbook (お薬手帳) QR code: the data begins with {start:?} \
         where \"JAHISTC\" and a two-digit version are expected"
    )]
    NotJahis { start: String },

    #[error(
        "this is a JAHIS prescription QR code ({header}), not an e-medication-handbook (お薬手帳) \
         one: scan the お薬手帳 QR code printed on the pharmacy's receipt instead"
    )]
    PrescriptionQr { header: String },

    #[error(
        "{location}: version record {header:?} is not supported: expected \"JAHISTC\" and two \
         digits from 01 (JAHISTC01 … JAHISTC08 are known)"
    )]
    UnsupportedVersion { header: String, location: Location },

    #[error(
        "{location}: the bytes {bytes} at byte offset {offset} are neither UTF-8 nor \
         Shift_JIS/CP932: the code may be misread, or a QR reader decoded each symbol separately \
         (send the raw bytes of every symbol instead)"
    )]
    Undecodable { offset: usize, location: Location, bytes: String },

    #[error(
        "split data {data_id} is incomplete: received part(s) {received:?} of {count}, \
         scan part(s) {missing:?} too"
    )]
    IncompleteSplit { data_id: String, count: u16, received: Vec<u16>, missing: Vec<u16> },

    #[error("the split parts do not belong together: {reason}")]
    InvalidSplit { reason: String },

    #[error(
        "structured-append QR set of {count} symbols is incomplete: received symbol index(es) \
         {received:?}, scan index(es) {missing:?} too (0-based)"
    )]
    IncompleteSymbols { count: u8, parity: Option<u8>, received: Vec<u8>, missing: Vec<u8> },

    #[error("the structured-append QR symbols do not fit together: {reason}")]
    InvalidSymbols { reason: String },

    #[error("{location}: the line does not start with a record number: found {found:?}")]
    MalformedRecord { location: Location, found: String },

    #[error(
        "{location}: record {record} ({record_name}), field {field} ({field_name}): \
         expected {expected}, found {found:?}"
    )]
    InvalidField {
        location: Location,
        record: u16,
        record_name: &'static str,
        field: usize,
        field_name: &'static str,
        expected: &'static str,
        found: String,
    },

    #[error("{location}: record {record} ({record_name}) {reason}")]
    RecordOutOfPlace { location: Location, record: u16, record_name: &'static str, reason: String },

    #[error(
        "{location}: a second, different patient record (1); the first is at {first}: \
         one payload carries one patient"
    )]
    MultiplePatients { location: Location, first: Location },
}

impl JahisError {
    /// A stable snake_case code for API problem responses.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Empty => "empty_payload",
            Self::NotJahis { .. } => "not_jahis",
            Self::PrescriptionQr { .. } => "prescription_qr",
            Self::UnsupportedVersion { .. } => "unsupported_version",
            Self::Undecodable { .. } => "undecodable_bytes",
            Self::IncompleteSplit { .. } => "incomplete_split",
            Self::InvalidSplit { .. } => "invalid_split",
            Self::IncompleteSymbols { .. } => "incomplete_symbols",
            Self::InvalidSymbols { .. } => "invalid_symbols",
            Self::MalformedRecord { .. } => "malformed_record",
            Self::InvalidField { .. } => "invalid_field",
            Self::RecordOutOfPlace { .. } => "record_out_of_place",
            Self::MultiplePatients { .. } => "multiple_patients",
        }
    }

    /// The line the error is about, when it is about one.
    #[must_use]
    pub fn location(&self) -> Option<Location> {
        match self {
            Self::UnsupportedVersion { location, .. }
            | Self::Undecodable { location, .. }
            | Self::MalformedRecord { location, .. }
            | Self::InvalidField { location, .. }
            | Self::RecordOutOfPlace { location, .. }
            | Self::MultiplePatients { location, .. } => Some(*location),
            _ => None,
        }
    }

    /// True for the two "send the rest" errors a client can fix by scanning more codes.
    #[must_use]
    pub fn is_incomplete(&self) -> bool {
        matches!(self, Self::IncompleteSplit { .. } | Self::IncompleteSymbols { .. })
    }
}

/// The kind of a [`Warning`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum WarningKind {
    /// The version is newer than the newest known one.
    NewerVersion,
    /// A Ver.2.0+ version record without a valid 出力区分.
    MissingOutputKind,
    /// The parts of a JAHIS split disagree on 出力区分.
    OutputKindMismatch,
    /// A record number this parser does not know; the line was skipped.
    UnknownRecord,
    /// A code not in its table; the field reads as `None`.
    UnknownCode,
    /// A date, number or other value that does not parse; the field reads as `None`.
    InvalidValue,
    /// A required free-text field is empty; the record was skipped or the field is empty.
    MissingField,
    /// Non-empty fields after the last known one; they were ignored.
    ExtraFields,
    /// A record that may appear once per group or payload appeared again; the first was kept.
    DuplicateRecord,
    /// A record refers to a missing one (an ingredient whose OTC drug sequence is unknown).
    DanglingReference,
    /// Bytes after the 0x1A end-of-file mark were ignored.
    DataAfterEof,
}

/// Something the parser tolerated, with where it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Warning {
    pub location: Location,
    /// The record number, when the warning is about one record.
    pub record: Option<u16>,
    pub kind: WarningKind,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.record {
            Some(record) => write!(f, "{}: record {record}: {}", self.location, self.message),
            None => write!(f, "{}: {}", self.location, self.message),
        }
    }
}

/// At most `max` characters of `s`, for messages (which print it with `{:?}`).
pub(crate) fn excerpt(s: &str, max: usize) -> String {
    let mut out: String = s.chars().take(max).collect();
    if s.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}
