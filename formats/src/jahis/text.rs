//! Bytes to text and text to fields: UTF-8 or Shift_JIS/CP932 detection, the optional 0x1A
//! end-of-file byte, line endings (CRLF, LF, CR), and the unification of characters that JIS
//! and CP932 mappings decode differently, so both kinds of converter yield the same text.

use std::borrow::Cow;

use encoding_rs::{DecoderResult, SHIFT_JIS};

use super::error::{JahisError, Location, Warning, WarningKind, excerpt};

/// The MS-DOS end-of-file byte some systems append.
const EOF: u8 = 0x1A;
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Decodes one payload to text: UTF-8 when the bytes are valid UTF-8 (a client that already
/// decoded), Shift_JIS/CP932 otherwise. Strips a BOM and anything from a 0x1A byte on, checks
/// the payload starts with `JAHIS`, and unifies JIS/CP932 character variants (〜 becomes ～).
///
/// # Errors
/// [`JahisError::Empty`], [`JahisError::NotJahis`] or [`JahisError::Undecodable`].
pub fn decode(bytes: &[u8]) -> Result<String, JahisError> {
    decode_payload(bytes, &mut Vec::new())
}

pub(crate) fn decode_payload(bytes: &[u8], warnings: &mut Vec<Warning>) -> Result<String, JahisError> {
    let bytes = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
    let bytes = match bytes.iter().position(|&b| b == EOF) {
        Some(eof) => {
            let (data, rest) = bytes.split_at(eof);
            if rest.iter().any(|&b| !is_filler(b) && b != EOF) {
                warnings.push(Warning {
                    location: Location { part: None, line: line_of(data, data.len()) },
                    record: None,
                    kind: WarningKind::DataAfterEof,
                    message: "bytes after the end-of-file mark 0x1A were ignored".into(),
                });
            }
            data
        }
        None => bytes,
    };
    let end = bytes.iter().rposition(|&b| !is_filler(b)).map_or(0, |i| i + 1);
    let bytes = bytes.get(..end).unwrap_or_default();
    let start = bytes.iter().position(|&b| !is_filler(b)).unwrap_or(end);
    let content = bytes.get(start..).unwrap_or_default();
    if content.is_empty() {
        return Err(JahisError::Empty);
    }
    if !content.get(..5).is_some_and(|head| head.eq_ignore_ascii_case(b"JAHIS")) {
        return Err(JahisError::NotJahis {
            start: excerpt(&String::from_utf8_lossy(content.get(..24).unwrap_or(content)), 12),
        });
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => Cow::Owned(decode_shift_jis(bytes)?),
    };
    Ok(unify(&text))
}

fn is_filler(b: u8) -> bool {
    b.is_ascii_whitespace() || b == 0
}

fn decode_shift_jis(bytes: &[u8]) -> Result<String, JahisError> {
    let mut decoder = SHIFT_JIS.new_decoder_without_bom_handling();
    let undecodable = |start: usize, len: usize| JahisError::Undecodable {
        offset: start,
        location: Location { part: None, line: line_of(bytes, start) },
        bytes: bytes
            .iter()
            .skip(start)
            .take(len.clamp(1, 4))
            .map(|b| format!("0x{b:02X}"))
            .collect::<Vec<_>>()
            .join(" "),
    };
    let capacity =
        decoder.max_utf8_buffer_length_without_replacement(bytes.len()).ok_or_else(|| undecodable(0, 1))?;
    let mut text = String::with_capacity(capacity);
    let (result, read) = decoder.decode_to_string_without_replacement(bytes, &mut text, true);
    match result {
        DecoderResult::InputEmpty => Ok(text),
        DecoderResult::Malformed(bad, after) => {
            let end = read.saturating_sub(usize::from(after));
            let start = end.saturating_sub(usize::from(bad));
            Err(undecodable(start, usize::from(bad)))
        }
        DecoderResult::OutputFull => Err(undecodable(read, 1)),
    }
}

/// 1-based line of a byte offset; CRLF, LF and CR each end a line.
fn line_of(bytes: &[u8], offset: usize) -> usize {
    let head = bytes.get(..offset).unwrap_or(bytes);
    let mut line = 1;
    let mut previous = 0u8;
    for &b in head {
        if b == b'\n' && previous != b'\r' || b == b'\r' {
            line += 1;
        }
        previous = b;
    }
    line
}

/// Maps the characters a JIS-mapping converter produces to what a CP932 decoder produces for
/// the same Shift_JIS bytes (0x8160 〜/～, 0x8161 ‖/∥, 0x817C −/－, 0x815C —/―, ¢ £ ¬).
fn unify(text: &str) -> String {
    text.chars().map(unify_char).collect()
}

/// [`unify`] for one character; the writer applies it too, so what it writes reads back unchanged.
pub(crate) fn unify_char(c: char) -> char {
    match c {
        '\u{301C}' => '\u{FF5E}',
        '\u{2016}' => '\u{2225}',
        '\u{2212}' => '\u{FF0D}',
        '\u{2014}' => '\u{2015}',
        '\u{00A2}' => '\u{FFE0}',
        '\u{00A3}' => '\u{FFE1}',
        '\u{00AC}' => '\u{FFE2}',
        other => other,
    }
}

/// One physical line of a payload.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Line<'a> {
    pub location: Location,
    pub text: &'a str,
}

/// Splits text into lines on CRLF, LF or a lone CR, numbering them from 1.
pub(crate) fn lines(text: &str) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    for piece in text.split('\n') {
        let piece = piece.strip_suffix('\r').unwrap_or(piece);
        for text in piece.split('\r') {
            out.push(Line { location: Location { part: None, line: out.len() + 1 }, text });
        }
    }
    out
}

/// The comma-separated fields of a line, each trimmed (the spec's own examples carry stray
/// spaces). There is no quoting: a comma inside a value is written full-width.
pub(crate) fn fields(line: &str) -> Vec<&str> {
    line.split(',').map(str::trim).collect()
}

/// Full-width ASCII (digits, letters, signs) folded to ASCII; other characters kept.
pub(crate) fn fold_width(s: &str) -> Cow<'_, str> {
    if s.is_ascii() {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .map(|c| match c {
                '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
                '\u{3000}' => ' ',
                other => other,
            })
            .collect(),
    )
}

/// A code field as the code tables spell it: trimmed, width-folded, leading zeros dropped
/// (`"01"` and `"１"` are both `"1"`).
pub(crate) fn normalize_code(code: &str) -> Cow<'_, str> {
    let folded = fold_width(code.trim());
    let trimmed = folded.trim_start_matches('0');
    if trimmed.len() == folded.len() {
        return folded;
    }
    if trimmed.is_empty() {
        return Cow::Borrowed("0");
    }
    Cow::Owned(trimmed.to_owned())
}

/// A record number field (`"201"`, `" 201"`, `"２０１"`).
pub(crate) fn record_number(field: &str) -> Option<u16> {
    let folded = fold_width(field.trim());
    if folded.is_empty() || !folded.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    folded.parse().ok()
}

/// An unsigned integer field, width-folded (`"28"`, `"２８"`).
pub(crate) fn unsigned(field: &str) -> Option<u32> {
    let folded = fold_width(field.trim());
    if folded.is_empty() || !folded.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    folded.parse().ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn crlf_lf_and_cr_line_endings_number_lines_alike() {
        for text in ["a\r\nb\r\nc", "a\nb\nc", "a\rb\rc", "a\r\nb\nc"] {
            let got: Vec<_> = lines(text).iter().map(|l| (l.location.line, l.text)).collect();
            assert_eq!(got, vec![(1, "a"), (2, "b"), (3, "c")], "{text:?}");
        }
    }

    #[test]
    fn trailing_newline_gives_one_empty_last_line() {
        let got: Vec<_> = lines("a\r\n").iter().map(|l| l.text).collect();
        assert_eq!(got, vec!["a", ""]);
    }

    #[test]
    fn fields_are_trimmed_and_keep_inner_spaces() {
        assert_eq!(fields(" 4 ,健康 診断, R020411 ,2 "), vec!["4", "健康 診断", "R020411", "2"]);
    }

    #[test]
    fn shift_jis_and_utf8_decode_to_the_same_text() {
        // 狭心症（2011年～） in CP932, and the same with a JIS-mapped 〜 in UTF-8.
        let sjis = b"JAHISTC07,1\r\n2,3,\x8B\xB7\x90\x53\x8F\xC7\x81\x69\x32\x30\x31\x31\x94\x4E\x81\x60\x81\x6A,1\r\n";
        let utf8 = "JAHISTC07,1\r\n2,3,狭心症（2011年〜）,1\r\n";
        let a = decode(sjis).unwrap();
        let b = decode(utf8.as_bytes()).unwrap();
        assert_eq!(a, b);
        assert!(a.contains("狭心症（2011年～）"));
    }

    #[test]
    fn eof_byte_and_bom_are_dropped() {
        let text = decode(b"\xEF\xBB\xBFJAHISTC08,1\r\n5,20200410,1\r\n\x1A").unwrap();
        assert_eq!(text, "JAHISTC08,1\r\n5,20200410,1");
    }

    #[test]
    fn data_after_eof_is_ignored_with_a_warning() {
        let mut warnings = Vec::new();
        let text = decode_payload(b"JAHISTC08,1\n5,20200410,1\n\x1Agarbage", &mut warnings).unwrap();
        assert_eq!(text, "JAHISTC08,1\n5,20200410,1");
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].kind, WarningKind::DataAfterEof);
        assert_eq!(warnings[0].location.line, 3);
    }

    #[test]
    fn undecodable_bytes_name_offset_and_line() {
        // 0x82 0xFF is not a Shift_JIS character (and not UTF-8).
        let err = decode(b"JAHISTC08,1\r\n1,\x82\xFF,1\r\n").unwrap_err();
        assert_eq!(err.code(), "undecodable_bytes");
        match err {
            JahisError::Undecodable { offset, location, .. } => {
                assert_eq!(offset, 15);
                assert_eq!(location.line, 2);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_cut_double_byte_character_at_the_end_is_undecodable() {
        let err = decode(b"JAHISTC08,1\r\n1,\x97").unwrap_err();
        assert_eq!(err.code(), "undecodable_bytes");
    }

    #[test]
    fn non_jahis_and_empty_payloads_are_told_apart() {
        assert_eq!(decode(b"").unwrap_err(), JahisError::Empty);
        assert_eq!(decode(b" \r\n\x1A").unwrap_err(), JahisError::Empty);
        assert_eq!(decode(b"https://example.org/x").unwrap_err().code(), "not_jahis");
        assert_eq!(decode(&[0xFF, 0x00, 0x13]).unwrap_err().code(), "not_jahis");
    }

    #[test]
    fn codes_fold_width_and_leading_zeros() {
        assert_eq!(normalize_code(" 01 "), "1");
        assert_eq!(normalize_code("１０"), "10");
        assert_eq!(normalize_code("00"), "0");
        assert_eq!(normalize_code(""), "");
        assert_eq!(record_number("２０１"), Some(201));
        assert_eq!(record_number("20a"), None);
        assert_eq!(record_number("+1"), None);
        assert_eq!(unsigned("99999999999"), None);
    }
}
