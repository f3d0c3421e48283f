//! One message: framing removed, split into segments on CR (LF and CRLF tolerated), fields
//! split on the declared field separator. Deeper levels are split on demand by [`Value`].

use super::error::{Hl7Error, Location, Warning, WarningKind, excerpt};
use super::value::{Delimiters, Value};

/// MLLP start-of-block byte.
const START_BLOCK: u8 = 0x0B;
/// MLLP end-of-block byte; SS-MIX2 files usually end with it.
const END_BLOCK: u8 = 0x1C;
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// A message split off its framing by [`strip_framing`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Framing<'a> {
    /// From the first byte that is not framing or white space up to the first 0x1C, without
    /// trailing white space.
    pub message: &'a [u8],
    /// Byte offset of `message` in the input.
    pub offset: usize,
    /// What follows the first 0x1C (empty when there is none).
    pub after: &'a [u8],
}

fn is_filler(b: u8) -> bool {
    b.is_ascii_whitespace() || b == 0 || b == START_BLOCK || b == END_BLOCK
}

/// Removes MLLP framing (a leading 0x0B, the 0x1C that ends the block), a UTF-8 byte order
/// mark and surrounding white space. Works on raw bytes, before any character decoding: the
/// framing bytes are ASCII control characters in every encoding HL7 uses.
#[must_use]
pub fn strip_framing(bytes: &[u8]) -> Framing<'_> {
    let (bom, bytes) = match bytes.strip_prefix(UTF8_BOM) {
        Some(rest) => (UTF8_BOM.len(), rest),
        None => (0, bytes),
    };
    let start = bytes.iter().position(|&b| !is_filler(b)).unwrap_or(bytes.len());
    let body = bytes.get(start..).unwrap_or_default();
    let (message, after) = match body.iter().position(|&b| b == END_BLOCK) {
        Some(end) => (body.get(..end).unwrap_or_default(), body.get(end + 1..).unwrap_or_default()),
        None => (body, &[][..]),
    };
    let end = message.iter().rposition(|&b| !is_filler(b)).map_or(0, |i| i + 1);
    Framing { message: message.get(..end).unwrap_or_default(), offset: bom + start, after }
}

/// What to make of the bytes after the end-of-block byte: nothing when they are framing or
/// white space, [`Hl7Error::MultipleMessages`] when another message starts there, else a
/// [`WarningKind::DataAfterEnd`] warning. `line` is the line the trailing data starts on.
///
/// # Errors
/// [`Hl7Error::MultipleMessages`].
pub fn check_after_end(after: &[u8], line: usize) -> Result<Option<Warning>, Hl7Error> {
    let Some(start) = after.iter().position(|&b| !is_filler(b)) else {
        return Ok(None);
    };
    let rest = after.get(start..).unwrap_or_default();
    let another = rest.starts_with(b"MSH") || rest.windows(4).any(|w| w == b"\rMSH" || w == b"\nMSH");
    if another {
        return Err(Hl7Error::MultipleMessages { location: Location::line(line) });
    }
    Ok(Some(Warning {
        location: Location::line(line),
        kind: WarningKind::DataAfterEnd,
        message: format!("{} bytes after the end-of-message byte 0x1C were ignored", rest.len()),
    }))
}

/// One segment: its name and fields, borrowed from the message text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment<'a> {
    raw: &'a str,
    /// `raw` split on the field separator; element 0 is the name.
    pieces: Vec<&'a str>,
    line: usize,
    delimiters: Delimiters,
}

impl<'a> Segment<'a> {
    /// The three-character segment name: `PID`.
    #[must_use]
    pub fn name(&self) -> &'a str {
        self.pieces.first().copied().unwrap_or_default()
    }

    /// The segment as written.
    #[must_use]
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    /// The 1-based physical line the segment starts on.
    #[must_use]
    pub fn line(&self) -> usize {
        self.line
    }

    /// The delimiters of the message.
    #[must_use]
    pub fn delimiters(&self) -> Delimiters {
        self.delimiters
    }

    fn is_msh(&self) -> bool {
        self.name() == "MSH"
    }

    /// Field `n` as HL7 numbers it (1-based; `PID-5` is `field(5)`). In MSH, field 1 is the
    /// field separator and field 2 the encoding characters, both literal. A field past the end
    /// is empty.
    #[must_use]
    pub fn field(&self, n: usize) -> Value<'a> {
        if self.is_msh() {
            match n {
                0 => Value::literal("", self.delimiters),
                1 => {
                    let len = self.delimiters.field.len_utf8();
                    Value::literal(self.raw.get(3..3 + len).unwrap_or_default(), self.delimiters)
                }
                2 => Value::literal(self.pieces.get(1).copied().unwrap_or_default(), self.delimiters),
                n => Value::field(self.pieces.get(n - 1).copied().unwrap_or_default(), self.delimiters),
            }
        } else if n == 0 {
            Value::literal("", self.delimiters)
        } else {
            Value::field(self.pieces.get(n).copied().unwrap_or_default(), self.delimiters)
        }
    }

    /// The number of the last field present (trailing empty fields count when written).
    #[must_use]
    pub fn field_count(&self) -> usize {
        let pieces = self.pieces.len().saturating_sub(1);
        if self.is_msh() { pieces + 1 } else { pieces }
    }

    /// The location of field `n`, for warnings.
    #[must_use]
    pub fn location(&self, field: usize) -> Location {
        Location::field(self.line, self.name(), field)
    }
}

/// A parsed message. The first segment is always MSH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    delimiters: Delimiters,
    segments: Vec<Segment<'a>>,
    warnings: Vec<Warning>,
}

impl<'a> Message<'a> {
    /// The delimiters MSH declared.
    #[must_use]
    pub fn delimiters(&self) -> Delimiters {
        self.delimiters
    }

    /// All segments in order, MSH first.
    #[must_use]
    pub fn segments(&self) -> &[Segment<'a>] {
        &self.segments
    }

    /// The MSH segment.
    #[must_use]
    pub fn msh(&self) -> Option<&Segment<'a>> {
        self.segments.first()
    }

    /// The first segment named `name`.
    #[must_use]
    pub fn segment(&self, name: &str) -> Option<&Segment<'a>> {
        self.segments.iter().find(|s| s.name() == name)
    }

    /// Every segment named `name`, in order.
    pub fn segments_named<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s Segment<'a>> + 's {
        self.segments.iter().filter(move |s| s.name() == name)
    }

    /// What was tolerated while splitting.
    #[must_use]
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// The warnings, taking them out of the message.
    #[must_use]
    pub fn into_warnings(self) -> Vec<Warning> {
        self.warnings
    }
}

/// Parses one HL7 v2 message from text (already decoded from its character set). MLLP framing
/// and surrounding white space are stripped; segments end with CR, CRLF or LF. A LF that is
/// not followed by a segment name is kept inside the field it appears in (some senders put
/// raw line breaks into text fields).
///
/// # Errors
/// See [`Hl7Error`].
pub fn parse(text: &str) -> Result<Message<'_>, Hl7Error> {
    let framing = strip_framing(text.as_bytes());
    let end = framing.offset + framing.message.len();
    let body = text.get(framing.offset..end).unwrap_or_default();
    let mut message = parse_body(body)?;
    let before_after = text.len() - framing.after.len();
    let after_line = 1 + count_lines(text.as_bytes().get(framing.offset..before_after).unwrap_or_default());
    if let Some(warning) = check_after_end(framing.after, after_line)? {
        message.warnings.push(warning);
    }
    Ok(message)
}

/// The number of line ends (CR, LF, CRLF) in `bytes`.
pub(crate) fn count_lines(bytes: &[u8]) -> usize {
    let mut lines = 0;
    let mut previous = 0u8;
    for &b in bytes {
        if b == b'\r' || (b == b'\n' && previous != b'\r') {
            lines += 1;
        }
        previous = b;
    }
    lines
}

/// Parses a message that has no framing left.
fn parse_body(body: &str) -> Result<Message<'_>, Hl7Error> {
    if body.is_empty() {
        return Err(Hl7Error::Empty);
    }
    if !body.starts_with("MSH") {
        return Err(Hl7Error::NotHl7 { start: excerpt(body, 12) });
    }
    let (delimiters, _) = Delimiters::from_msh(body)?;
    let mut segments = Vec::new();
    let mut warnings = Vec::new();
    for (line, raw) in split_segments(body, delimiters.field) {
        if !is_segment_start(raw, delimiters.field) {
            warnings.push(Warning {
                location: Location::line(line),
                kind: WarningKind::InvalidSegment,
                message: format!(
                    "the line starts with {:?}, not a segment name and the field separator: skipped",
                    excerpt(raw, 4)
                ),
            });
            continue;
        }
        let segment = Segment { raw, pieces: raw.split(delimiters.field).collect(), line, delimiters };
        if segment.is_msh() && !segments.is_empty() {
            return Err(Hl7Error::MultipleMessages { location: Location::line(line) });
        }
        segments.push(segment);
    }
    Ok(Message { delimiters, segments, warnings })
}

/// A segment name (an upper-case letter, then two upper-case letters or digits) followed by
/// the field separator or the end of the segment.
fn is_segment_start(raw: &str, field: char) -> bool {
    let bytes = raw.as_bytes();
    let name_ok = bytes.len() >= 3
        && bytes.first().is_some_and(u8::is_ascii_uppercase)
        && bytes.iter().take(3).all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    name_ok && raw.get(3..).is_some_and(|rest| rest.is_empty() || rest.starts_with(field))
}

/// Splits the body into (line, segment text) pairs. CR ends a segment; LF right after a CR is
/// part of that end; a lone LF ends a segment only when a segment name follows it. Blank lines
/// are dropped.
fn split_segments(body: &str, field: char) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut line = 1;
    // Byte offset of each CR piece within body.
    let mut offset = 0;
    for piece in body.split('\r') {
        let piece_start = offset;
        offset += piece.len() + 1;
        let (piece, piece_start) = match piece.strip_prefix('\n') {
            Some(rest) => (rest, piece_start + 1),
            None => (piece, piece_start),
        };
        // (start, end) of the segment being built, as offsets in body.
        let mut current: Option<(usize, usize, usize)> = None;
        let mut chunk_start = piece_start;
        for chunk in piece.split('\n') {
            let start = chunk_start;
            let end = start + chunk.len();
            chunk_start = end + 1;
            let chunk_line = line;
            line += 1;
            if chunk.trim().is_empty() {
                continue;
            }
            match current {
                Some((seg_line, seg_start, _)) if !is_segment_start(chunk, field) => {
                    current = Some((seg_line, seg_start, end));
                }
                _ => {
                    if let Some((seg_line, s, e)) = current {
                        out.push((seg_line, body.get(s..e).unwrap_or_default()));
                    }
                    current = Some((chunk_line, start, end));
                }
            }
        }
        if let Some((seg_line, s, e)) = current {
            out.push((seg_line, body.get(s..e).unwrap_or_default()));
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const MSG: &str = "MSH|^~\\&|APP|FAC|||20111220||ADT^A08|1|P|2.5\rPID|1||123^^^^PI||Yamada^Taro~ヤマダ^タロウ||19650415|M\rOBX|1|NM|X||1.5\r";

    fn names(m: &Message<'_>) -> Vec<String> {
        m.segments().iter().map(|s| format!("{}@{}", s.name(), s.line())).collect()
    }

    #[test]
    fn msh_fields_are_numbered_as_hl7_numbers_them() {
        let m = parse(MSG).unwrap();
        let msh = m.msh().unwrap();
        assert_eq!(msh.field(1).raw(), "|");
        assert_eq!(msh.field(2).raw(), "^~\\&");
        assert_eq!(msh.field(2).text(), "^~\\&");
        assert_eq!(msh.field(2).component(1).raw(), "^~\\&");
        assert_eq!(msh.field(2).component(2).raw(), "");
        assert_eq!(msh.field(3).text(), "APP");
        assert_eq!(msh.field(9).component(2).text(), "A08");
        assert_eq!(msh.field(12).text(), "2.5");
        assert_eq!(msh.field(13).raw(), "");
        assert_eq!(msh.field_count(), 12);
        let pid = m.segment("PID").unwrap();
        assert_eq!(pid.field(3).component(5).text(), "PI");
        assert_eq!(pid.field(5).repetition(2).component(1).text(), "ヤマダ");
        assert_eq!(pid.field(0).raw(), "");
        assert_eq!(pid.field(99).raw(), "");
        assert_eq!(pid.field_count(), 8);
    }

    #[test]
    fn cr_crlf_lf_and_mixed_segment_ends_give_the_same_segments() {
        let expected = ["MSH@1", "PID@2", "OBX@3"];
        for text in
            [MSG.to_owned(), MSG.replace('\r', "\r\n"), MSG.replace('\r', "\n"), MSG.replacen('\r', "\n", 1)]
        {
            let m = parse(&text).unwrap();
            assert_eq!(names(&m), expected, "{text:?}");
            assert_eq!(m.segment("OBX").unwrap().field(5).text(), "1.5");
            assert!(m.warnings().is_empty());
        }
    }

    #[test]
    fn a_lone_lf_inside_text_stays_in_the_field() {
        let m = parse("MSH|^~\\&\rNTE|1||first line\nsecond line\rOBX|1\r").unwrap();
        assert_eq!(m.segment("NTE").unwrap().field(3).text(), "first line\nsecond line");
        assert_eq!(names(&m), ["MSH@1", "NTE@2", "OBX@4"]);
    }

    #[test]
    fn blank_lines_are_dropped_and_counted() {
        let m = parse("MSH|^~\\&\r\r\n\nPID|1\n\n").unwrap();
        assert_eq!(names(&m), ["MSH@1", "PID@4"]);
        assert_eq!(m.segment("PID").unwrap().raw(), "PID|1");
    }

    #[test]
    fn framing_bytes_are_stripped() {
        for text in [
            format!("\x0b{MSG}\x1c\r"),
            format!("{MSG}\x1c"),
            format!("\u{feff}{MSG}"),
            format!("\r\n  {MSG}\x1c\x1c\n"),
        ] {
            let m = parse(&text).unwrap();
            assert_eq!(names(&m), ["MSH@1", "PID@2", "OBX@3"], "{text:?}");
            assert!(m.warnings().is_empty(), "{text:?}");
        }
    }

    #[test]
    fn data_after_the_end_byte_is_a_warning_and_another_message_an_error() {
        let text = format!("{MSG}\x1cjunk");
        let m = parse(&text).unwrap();
        assert_eq!(m.warnings()[0].kind, WarningKind::DataAfterEnd);
        assert_eq!(m.warnings()[0].location.line, 4);
        let err = parse(&format!("{MSG}\x1c\r\x0b{MSG}\x1c\r")).unwrap_err();
        assert_eq!(err.code(), "multiple_messages");
        let err = parse(&format!("{MSG}{MSG}")).unwrap_err();
        assert_eq!(err, Hl7Error::MultipleMessages { location: Location::line(4) });
    }

    #[test]
    fn lines_that_are_not_segments_are_skipped_with_a_warning() {
        let m = parse("MSH|^~\\&\rpid|1\rPI|1\rPIDX|1\r1PD|2\rZI1|3\rPV1\r").unwrap();
        assert_eq!(names(&m), ["MSH@1", "ZI1@6", "PV1@7"]);
        let lines: Vec<_> = m.warnings().iter().map(|w| (w.location.line, w.kind)).collect();
        assert_eq!(
            lines,
            [
                (2, WarningKind::InvalidSegment),
                (3, WarningKind::InvalidSegment),
                (4, WarningKind::InvalidSegment),
                (5, WarningKind::InvalidSegment)
            ]
        );
    }

    #[test]
    fn empty_and_foreign_input_is_refused() {
        assert_eq!(parse("").unwrap_err(), Hl7Error::Empty);
        assert_eq!(parse("\x0b\x1c\r\n").unwrap_err(), Hl7Error::Empty);
        assert_eq!(parse("PID|1").unwrap_err().code(), "not_hl7");
        assert_eq!(parse("{\"resourceType\":\"Bundle\"}").unwrap_err().code(), "not_hl7");
        assert_eq!(parse("MSH").unwrap_err().code(), "invalid_delimiters");
        assert_eq!(parse("MSH|").unwrap_err().code(), "invalid_delimiters");
    }

    #[test]
    fn framing_reports_offset_and_trailing_bytes() {
        let f = strip_framing(b"\x0b\r\nMSH|x\r\x1c\rjunk");
        assert_eq!(f.message, b"MSH|x");
        assert_eq!(f.offset, 3);
        assert_eq!(f.after, b"\rjunk");
        assert_eq!(strip_framing(b"").message, b"");
    }
}
