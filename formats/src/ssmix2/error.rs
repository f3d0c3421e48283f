//! What can go wrong reading an SS-MIX2 file: [`Ssmix2Error`] refuses the bytes or the path
//! (each variant has a stable snake_case [`Ssmix2Error::code`]), [`Warning`] records what was
//! tolerated. Messages quote at most a short excerpt of one offending code, date or byte run;
//! never a name, a patient ID or a result value.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::hl7::{self, Hl7Error, Location};

/// Why a storage path or file name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    #[error("the storage path is not usable: {reason}")]
    InvalidPath { reason: &'static str },

    #[error(
        "the file name is not an SS-MIX2 standardized storage name \
         (patientId_date_dataKind_orderNo_timestamp_department_condition): {reason}"
    )]
    InvalidFileName { reason: String },

    #[error("the {folder} folder does not match the file name{}", found.as_ref().map(|f| format!(": found {f:?}")).unwrap_or_default())]
    FolderMismatch {
        folder: &'static str,
        /// The folder as found, except for folders that spell the patient ID.
        found: Option<String>,
    },

    #[error(
        "this is a file of the SS-MIX2 extended storage (a data-kind folder with '^' or a \
         main_document file): only the standardized storage is read"
    )]
    ExtendedStorage,
}

impl PathError {
    /// A stable snake_case code for API problem responses.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidPath { .. } => "invalid_path",
            Self::InvalidFileName { .. } => "invalid_file_name",
            Self::FolderMismatch { .. } => "folder_mismatch",
            Self::ExtendedStorage => "extended_storage",
        }
    }
}

/// Why an SS-MIX2 file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Ssmix2Error {
    #[error(
        "{location}: the bytes {bytes} at byte offset {offset} are not valid ISO-2022-JP \
         (nor UTF-8 or Shift_JIS text): the file may be damaged or in another character set"
    )]
    Undecodable { offset: usize, location: Location, bytes: String },

    #[error(transparent)]
    Hl7(#[from] Hl7Error),

    #[error(transparent)]
    Path(#[from] PathError),
}

impl Ssmix2Error {
    /// A stable snake_case code for API problem responses.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Undecodable { .. } => "undecodable_bytes",
            Self::Hl7(inner) => inner.code(),
            Self::Path(inner) => inner.code(),
        }
    }

    /// The line the error is about, when it is about one.
    #[must_use]
    pub fn location(&self) -> Option<&Location> {
        match self {
            Self::Undecodable { location, .. } => Some(location),
            Self::Hl7(inner) => inner.location(),
            Self::Path(_) => None,
        }
    }
}

/// The kind of a [`Warning`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum WarningKind {
    /// A line that is not a segment was skipped.
    InvalidSegment,
    /// Bytes after the end-of-message byte 0x1C were ignored.
    DataAfterEnd,
    /// The bytes are UTF-8 or Shift_JIS, not the ISO-2022-JP SS-MIX2 prescribes; they were
    /// read as such.
    NonStandardEncoding,
    /// A JIS code with no character (a user-defined one): it reads as U+FFFD.
    UndecodableCharacter,
    /// A line ended, or the message ended, inside a double-byte run without `ESC ( B`;
    /// the next line was read as ASCII.
    UnterminatedShift,
    /// A segment every message of its kind carries (PID) is missing.
    MissingSegment,
    /// A segment that may appear once appeared again; the first was kept.
    DuplicateSegment,
    /// A field the item cannot do without (a drug in RXE-2, a code in OBX-3) is empty.
    MissingField,
    /// A date, number or code that does not parse; the field reads as `None` (a result value
    /// that is not a number despite OBX-2 `NM` is kept as text).
    InvalidValue,
    /// A code not in its HL7 table; the field reads as `None`.
    UnknownCode,
    /// PID-3 does not carry the patient ID of the file name.
    PatientIdMismatch,
    /// MSH-9 is not the message type the data kind of the file name uses.
    MessageTypeMismatch,
}

/// Something the parser tolerated, with where it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Warning {
    pub location: Location,
    pub kind: WarningKind,
    pub message: String,
}

impl Warning {
    pub(crate) fn new(location: Location, kind: WarningKind, message: impl Into<String>) -> Self {
        Self { location, kind, message: message.into() }
    }
}

impl From<hl7::Warning> for Warning {
    fn from(w: hl7::Warning) -> Self {
        let kind = match w.kind {
            hl7::WarningKind::InvalidSegment => WarningKind::InvalidSegment,
            hl7::WarningKind::DataAfterEnd => WarningKind::DataAfterEnd,
        };
        Self { location: w.location, kind, message: w.message }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}
