//! JAHIS e-medication-handbook QR codes (電子版お薬手帳データフォーマット, JAHISTC01–08):
//! raw scanned bytes in, a typed [`MedicationHandbook`] out, and back out as JAHISTC08
//! ([`write`], [`write_sjis`], [`write_split`]). Owns decoding, both ways of splitting a payload
//! over several QR codes, and the per-dispensing de-duplication key.
//!
//! ```
//! use phr_formats::jahis::{self, Part};
//!
//! let handbook = jahis::parse("JAHISTC08,1\r\n5,R020410,1\r\n".as_bytes())?;
//! assert_eq!(handbook.dispensings[0].date.to_string(), "2020-04-10");
//!
//! // Parts of a JAHIS split (record 911) in any order, or Structured Append symbols:
//! let parts = [Part::text("JAHISTC08,1\n5,R020410,1\n911,12345678901234,2,2"),
//!              Part::text("JAHISTC08,1\n1,鈴木 太郎,1,S330303\n911,12345678901234,2,1")];
//! let handbook = jahis::parse_parts(&parts)?;
//! assert_eq!(handbook.patient.map(|p| p.name).as_deref(), Some("鈴木 太郎"));
//! # Ok::<(), jahis::JahisError>(())
//! ```

mod assemble;
mod date;
mod error;
mod fingerprint;
mod model;
mod records;
mod text;
mod write;

pub use assemble::{Part, StructuredAppend, structured_append_parity};
pub use date::parse_date;
pub use error::{JahisError, Location, Warning, WarningKind};
pub use model::{
    DataSplit, Dispensing, Doctor, DosageForm, Drug, DrugCodeType, FamilyPharmacist, FormatVersion,
    GenericCodeType, IngredientCodeType, Institution, MedicationHandbook, Memo, Note, OtcDrug, OtcIngredient,
    OutputKind, Patient, PatientEntry, PatientNote, PatientNoteKind, Pharmacist, ProviderNote,
    ProviderNoteKind, RecordCreator, Rp, ScoreTable, Sex, Usage, UsageCodeType,
};
pub use text::decode;
pub use write::{WriteError, write, write_sjis, write_split};

/// The newest version this parser knows the layout of (`JAHISTC08`, spec Ver.2.5/2.6). Later
/// two-digit versions are read with its layout and flagged
/// ([`FormatVersion::newer_than_known`]).
pub const NEWEST_KNOWN_VERSION: u8 = 8;

/// Parses one payload: the bytes of one QR code (Shift_JIS/CP932, or UTF-8 text), or several
/// JAHIS split parts a client concatenated.
///
/// # Errors
/// See [`JahisError`]; a lone part of a JAHIS split gives [`JahisError::IncompleteSplit`].
pub fn parse(payload: &[u8]) -> Result<MedicationHandbook, JahisError> {
    parse_parts(&[Part::new(payload)])
}

/// Parses what was scanned for one payload: whole payloads and/or Structured Append symbols,
/// in any order. Symbols are joined as raw bytes before decoding (so a double-byte character
/// cut between two symbols survives); JAHIS split parts (record 911) are merged by part number,
/// keeping one version record. The same part or symbol given twice counts once.
///
/// # Errors
/// See [`JahisError`]. [`JahisError::IncompleteSplit`] and [`JahisError::IncompleteSymbols`]
/// list what is missing, so a caller can keep the parts and ask for the rest.
pub fn parse_parts(parts: &[Part<'_>]) -> Result<MedicationHandbook, JahisError> {
    let mut warnings = Vec::new();
    let payloads = assemble::join_symbols(parts)?;
    let texts = payloads
        .iter()
        .map(|payload| text::decode_payload(payload, &mut warnings))
        .collect::<Result<Vec<_>, _>>()?;
    let assembled = assemble::merge(&texts, &mut warnings)?;
    records::build(assembled, warnings)
}
