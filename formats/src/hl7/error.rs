//! What can go wrong reading an HL7 v2 message: [`Hl7Error`] refuses it (each variant has a
//! stable snake_case [`Hl7Error::code`]), [`Warning`] records what was tolerated. Messages quote
//! at most a short excerpt of the offending bytes, never a field's content.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where something sits in a message: the 1-based physical line (CR, LF and CRLF each end one;
/// in a well-formed message that is the segment number) and, when known, the segment name and
/// the 1-based field number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Location {
    pub line: usize,
    pub segment: Option<String>,
    pub field: Option<usize>,
}

impl Location {
    /// A line with no segment or field.
    #[must_use]
    pub fn line(line: usize) -> Self {
        Self { line, segment: None, field: None }
    }

    /// A field of a segment: `PID-7` on line 3.
    #[must_use]
    pub fn field(line: usize, segment: &str, field: usize) -> Self {
        Self { line, segment: Some(segment.to_owned()), field: Some(field) }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.segment, self.field) {
            (Some(segment), Some(field)) => write!(f, "line {} ({segment}-{field})", self.line),
            (Some(segment), None) => write!(f, "line {} ({segment})", self.line),
            _ => write!(f, "line {}", self.line),
        }
    }
}

/// Why a message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Hl7Error {
    #[error("the message is empty")]
    Empty,

    #[error("not an HL7 v2 message: it begins with {start:?} where the MSH segment is expected")]
    NotHl7 { start: String },

    #[error(
        "the MSH segment declares unusable delimiters {found:?}: expected a field separator and \
         one to five distinct encoding characters that are not letters, digits or spaces (\"|^~\\&\")"
    )]
    InvalidDelimiters { found: String },

    #[error("{location}: a second MSH segment: one file or upload carries one message")]
    MultipleMessages { location: Location },
}

impl Hl7Error {
    /// A stable snake_case code for API problem responses.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Empty => "empty_message",
            Self::NotHl7 { .. } => "not_hl7",
            Self::InvalidDelimiters { .. } => "invalid_delimiters",
            Self::MultipleMessages { .. } => "multiple_messages",
        }
    }

    /// The line the error is about, when it is about one.
    #[must_use]
    pub fn location(&self) -> Option<&Location> {
        match self {
            Self::MultipleMessages { location } => Some(location),
            _ => None,
        }
    }
}

/// The kind of a [`Warning`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum WarningKind {
    /// A line that does not start with a segment name (three upper-case letters or digits
    /// followed by the field separator); it was skipped.
    InvalidSegment,
    /// Bytes after the end-of-message framing byte 0x1C were ignored.
    DataAfterEnd,
}

/// Something the parser tolerated, with where it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Warning {
    pub location: Location,
    pub kind: WarningKind,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
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
