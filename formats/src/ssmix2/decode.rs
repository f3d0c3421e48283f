//! Bytes to text, before any HL7 splitting: JIS X 0208 byte pairs contain the delimiter bytes
//! `| ^ ~ \ &` (回復 is `2s I|`, 東京 is `El 5~`), so a message must be decoded first.
//!
//! ISO-2022-JP is decoded here rather than with `encoding_rs::ISO_2022_JP`, whose WHATWG
//! decoder reads `ESC ( J` as JIS X 0201 Roman (turning `\` and `~` into ¥ and ‾, which
//! would corrupt delimiters and escapes) and reports an error for an empty double-byte run.
//! The double-byte pairs are mapped with `encoding_rs::EUC_JP` (the same WHATWG JIS X 0208
//! index, with the NEC and IBM extensions, plus JIS X 0212), so 0x2141 decodes to U+FF5E and
//! 0x215D to U+FF0D as in the JAHIS module.

use encoding_rs::{DecoderResult, EUC_JP, Encoding, SHIFT_JIS};
use serde::{Deserialize, Serialize};

use super::error::{Ssmix2Error, Warning, WarningKind};
use crate::hl7::{self, Hl7Error, Location, count_lines};

const ESC: u8 = 0x1B;
const SHIFT_OUT: u8 = 0x0E;
const SHIFT_IN: u8 = 0x0F;

/// The character set a file was read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SourceEncoding {
    /// What SS-MIX2 prescribes (MSH-18 `~ISO IR87`, MSH-20 `ISO 2022-1994`).
    Iso2022Jp,
    /// 8-bit bytes that are valid UTF-8.
    Utf8,
    /// 8-bit bytes that are not UTF-8 but valid Shift_JIS/CP932.
    ShiftJis,
}

/// One message as text, framing removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub text: String,
    pub encoding: SourceEncoding,
    pub warnings: Vec<Warning>,
}

/// Strips MLLP framing (0x0B, 0x1C) and decodes the message: ISO-2022-JP when the bytes are
/// 7-bit (`ESC ( B` and `ESC ( J` both switch to ASCII, `ESC $ B` and `ESC $ @` to JIS X 0208,
/// `ESC $ ( D` to JIS X 0212, `ESC ( I` to half-width katakana); UTF-8 or else Shift_JIS, with a
/// [`WarningKind::NonStandardEncoding`] warning, when they are not.
///
/// # Errors
/// [`Ssmix2Error::Undecodable`] for an unknown escape sequence, a cut double-byte character or
/// bytes no candidate encoding reads; [`Hl7Error::Empty`] when nothing is left after framing;
/// [`Hl7Error::NotHl7`] when the bytes do not begin with `MSH`;
/// [`Hl7Error::MultipleMessages`] when another message follows the 0x1C.
pub fn decode(bytes: &[u8]) -> Result<Decoded, Ssmix2Error> {
    let framing = hl7::strip_framing(bytes);
    if framing.message.is_empty() {
        return Err(Hl7Error::Empty.into());
    }
    // MSH is ASCII in every encoding: refuse what is not HL7 before guessing a character set.
    if !framing.message.starts_with(b"MSH") {
        let start = String::from_utf8_lossy(framing.message.get(..24).unwrap_or(framing.message));
        return Err(Hl7Error::NotHl7 { start: hl7::excerpt(&start, 12) }.into());
    }
    let mut warnings = Vec::new();
    let message = framing.message;
    let (text, encoding) = if message.iter().any(|&b| b >= 0x80) {
        decode_8bit(message, framing.offset, &mut warnings)?
    } else {
        (decode_iso2022jp(message, framing.offset, &mut warnings)?, SourceEncoding::Iso2022Jp)
    };
    let before_after = bytes.len() - framing.after.len();
    let after_line = 1 + count_lines(bytes.get(framing.offset..before_after).unwrap_or_default());
    if let Some(warning) = hl7::check_after_end(framing.after, after_line)? {
        warnings.push(warning.into());
    }
    Ok(Decoded { text, encoding, warnings })
}

fn undecodable(bytes: &[u8], base: usize, at: usize, line: usize) -> Ssmix2Error {
    Ssmix2Error::Undecodable {
        offset: base + at,
        location: Location::line(line),
        bytes: bytes.iter().skip(at).take(4).map(|b| format!("0x{b:02X}")).collect::<Vec<_>>().join(" "),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Ascii,
    Jis0208,
    Jis0212,
    Katakana,
}

/// The mode an escape sequence (the bytes after ESC) selects and its length; `None` mode for
/// the `ESC & @` announcer, which changes nothing.
fn escape_sequence(rest: &[u8]) -> Option<(Option<Mode>, usize)> {
    let two = rest.get(..2)?;
    match two {
        b"(B" | b"(J" | b"(H" => Some((Some(Mode::Ascii), 2)),
        b"(I" => Some((Some(Mode::Katakana), 2)),
        b"$@" | b"$B" => Some((Some(Mode::Jis0208), 2)),
        b"&@" => Some((None, 2)),
        b"$(" => match rest.get(2)? {
            b'B' | b'@' => Some((Some(Mode::Jis0208), 3)),
            b'D' => Some((Some(Mode::Jis0212), 3)),
            _ => None,
        },
        _ => None,
    }
}

fn decode_iso2022jp(bytes: &[u8], base: usize, warnings: &mut Vec<Warning>) -> Result<String, Ssmix2Error> {
    let mut out = String::with_capacity(bytes.len() + bytes.len() / 2);
    // Double-byte characters of the current run, as EUC-JP bytes.
    let mut run: Vec<u8> = Vec::new();
    let mut run_line = 1;
    let mut mode = Mode::Ascii;
    let mut line = 1;
    let mut previous = 0u8;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == ESC {
            flush(&mut run, &mut out, run_line, warnings);
            let (next, len) = escape_sequence(bytes.get(i + 1..).unwrap_or_default())
                .ok_or_else(|| undecodable(bytes, base, i, line))?;
            if let Some(next) = next {
                mode = next;
            }
            i += 1 + len;
            previous = b;
            continue;
        }
        if b == b'\r' || b == b'\n' {
            if mode != Mode::Ascii {
                flush(&mut run, &mut out, run_line, warnings);
                warnings.push(Warning::new(
                    Location::line(line),
                    WarningKind::UnterminatedShift,
                    "the line ends inside a double-byte run (no ESC ( B): the next line is read as ASCII",
                ));
                mode = Mode::Ascii;
            }
            out.push(char::from(b));
            if b == b'\r' || previous != b'\r' {
                line += 1;
            }
            previous = b;
            i += 1;
            continue;
        }
        if b == b' ' && mode != Mode::Ascii {
            // ISO 2022: 0x20 is SPACE whatever set is designated.
            flush(&mut run, &mut out, run_line, warnings);
            out.push(' ');
            previous = b;
            i += 1;
            continue;
        }
        match mode {
            Mode::Ascii => {
                if b >= 0x80 || b == SHIFT_OUT || b == SHIFT_IN {
                    return Err(undecodable(bytes, base, i, line));
                }
                out.push(char::from(b));
                i += 1;
            }
            Mode::Jis0208 | Mode::Jis0212 => {
                let pair =
                    (0x21..=0x7E).contains(&b) && bytes.get(i + 1).is_some_and(|t| (0x21..=0x7E).contains(t));
                if !pair {
                    return Err(undecodable(bytes, base, i, line));
                }
                if run.is_empty() {
                    run_line = line;
                }
                if mode == Mode::Jis0212 {
                    run.push(0x8F);
                }
                run.push(b | 0x80);
                run.push(bytes.get(i + 1).copied().unwrap_or_default() | 0x80);
                i += 2;
            }
            Mode::Katakana => {
                if !(0x21..=0x5F).contains(&b) {
                    return Err(undecodable(bytes, base, i, line));
                }
                out.push(char::from_u32(0xFF61 + u32::from(b - 0x21)).unwrap_or('\u{FFFD}'));
                i += 1;
            }
        }
        previous = b;
    }
    flush(&mut run, &mut out, run_line, warnings);
    if mode != Mode::Ascii {
        warnings.push(Warning::new(
            Location::line(line),
            WarningKind::UnterminatedShift,
            "the message ends inside a double-byte run (no ESC ( B)",
        ));
    }
    Ok(out)
}

/// Decodes a run of double-byte characters; codes without a character become U+FFFD.
fn flush(run: &mut Vec<u8>, out: &mut String, line: usize, warnings: &mut Vec<Warning>) {
    if run.is_empty() {
        return;
    }
    let (text, had_errors) = EUC_JP.decode_without_bom_handling(run);
    if had_errors {
        let count = text.chars().filter(|&c| c == '\u{FFFD}').count();
        warnings.push(Warning::new(
            Location::line(line),
            WarningKind::UndecodableCharacter,
            format!("{count} JIS character code(s) with no character (user-defined?) read as U+FFFD"),
        ));
    }
    out.push_str(&text);
    run.clear();
}

fn decode_8bit(
    bytes: &[u8],
    base: usize,
    warnings: &mut Vec<Warning>,
) -> Result<(String, SourceEncoding), Ssmix2Error> {
    if let Ok(text) = std::str::from_utf8(bytes) {
        let first_line = bytes.split(|&b| b == b'\r' || b == b'\n').next().unwrap_or_default();
        let declared = String::from_utf8_lossy(first_line).to_ascii_uppercase();
        if !(declared.contains("UTF-8") || declared.contains("UTF8")) {
            warnings.push(Warning::new(
                Location::line(1),
                WarningKind::NonStandardEncoding,
                "the file is UTF-8, not the ISO-2022-JP SS-MIX2 prescribes: read as UTF-8",
            ));
        }
        return Ok((text.to_owned(), SourceEncoding::Utf8));
    }
    let text = decode_strict(SHIFT_JIS, bytes).map_err(|at| {
        let line = 1 + count_lines(bytes.get(..at).unwrap_or_default());
        undecodable(bytes, base, at, line)
    })?;
    warnings.push(Warning::new(
        Location::line(1),
        WarningKind::NonStandardEncoding,
        "the file is Shift_JIS, not the ISO-2022-JP SS-MIX2 prescribes: read as Shift_JIS",
    ));
    Ok((text, SourceEncoding::ShiftJis))
}

/// Decodes without replacement; the error is the offset of the first bad byte.
fn decode_strict(encoding: &'static Encoding, bytes: &[u8]) -> Result<String, usize> {
    let mut decoder = encoding.new_decoder_without_bom_handling();
    let capacity = decoder.max_utf8_buffer_length_without_replacement(bytes.len()).ok_or(0usize)?;
    let mut text = String::with_capacity(capacity);
    let (result, read) = decoder.decode_to_string_without_replacement(bytes, &mut text, true);
    match result {
        DecoderResult::InputEmpty => Ok(text),
        DecoderResult::Malformed(bad, after) => {
            Err(read.saturating_sub(usize::from(after)).saturating_sub(usize::from(bad)))
        }
        DecoderResult::OutputFull => Err(read),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn text(bytes: &[u8]) -> String {
        let decoded = decode(bytes).unwrap();
        assert!(decoded.warnings.is_empty(), "{:?}", decoded.warnings);
        assert_eq!(decoded.encoding, SourceEncoding::Iso2022Jp);
        decoded.text
    }

    #[test]
    fn double_byte_runs_that_contain_delimiter_bytes_decode_whole() {
        // 回復 (2s I|), 薬剤 (Lt :^), 東京 (El 5~), 本人 (K\ ?M), タロウ (%? %m %&).
        let bytes = b"MSH|^~\\&\rX|\x1b$B2sI|\x1b(B^\x1b$BLt:^\x1b(B~\x1b$BEl5~\x1b(B\\\x1b$BK\\?M\x1b(B&\x1b$B%?%m%&\x1b(B";
        assert_eq!(text(bytes), "MSH|^~\\&\rX|回復^薬剤~東京\\本人&タロウ");
    }

    #[test]
    fn esc_paren_j_is_read_as_ascii() {
        assert_eq!(text(b"MSH|^~\\&\rX|\x1b$B45<T\x1b(Ja\\E\\b~c"), "MSH|^~\\&\rX|患者a\\E\\b~c");
    }

    #[test]
    fn encoding_rs_would_read_esc_paren_j_as_yen_and_overline() {
        // Why this module has its own ISO-2022-JP decoder.
        let (text, _) = encoding_rs::ISO_2022_JP.decode_without_bom_handling(b"\x1b(Ja\\F\\~");
        assert_eq!(text, "a\u{A5}F\u{A5}\u{203E}");
    }

    #[test]
    fn other_designations_decode() {
        // ESC $ @ (JIS C 6226) reads like ESC $ B; ESC ( I is half-width katakana; JIS X 0212.
        assert_eq!(text(b"MSH|^~\\&\r\x1b$@45<T\x1b(B"), "MSH|^~\\&\r患者");
        assert_eq!(text(b"MSH|^~\\&\r\x1b(I6^\x1b(B"), "MSH|^~\\&\rｶﾞ");
        assert_eq!(text(b"MSH|^~\\&\r\x1b$(D0!\x1b(B"), "MSH|^~\\&\r丂");
        assert_eq!(text(b"MSH|^~\\&\r\x1b&@\x1b$B45\x1b(B"), "MSH|^~\\&\r患");
        // An empty run is harmless.
        assert_eq!(text(b"MSH|^~\\&\rA\x1b$B\x1b(BB"), "MSH|^~\\&\rAB");
    }

    #[test]
    fn jis_variants_decode_as_the_jahis_module_unifies_them() {
        // 0x2141 wave dash and 0x215D minus: U+FF5E and U+FF0D (CP932 forms).
        assert_eq!(text(b"MSH|^~\\&\r\x1b$B!A!]\x1b(B"), "MSH|^~\\&\r\u{FF5E}\u{FF0D}");
    }

    #[test]
    fn a_line_end_inside_a_run_resets_to_ascii_with_a_warning() {
        let d = decode(b"MSH|^~\\&\rX|\x1b$B45\rPID|1").unwrap();
        assert_eq!(d.text, "MSH|^~\\&\rX|患\rPID|1");
        assert_eq!(d.warnings.len(), 1);
        assert_eq!(d.warnings[0].kind, WarningKind::UnterminatedShift);
        assert_eq!(d.warnings[0].location.line, 2);
        let d = decode(b"MSH|^~\\&\rX|\x1b$B45").unwrap();
        assert_eq!(d.text, "MSH|^~\\&\rX|患");
        assert_eq!(d.warnings[0].kind, WarningKind::UnterminatedShift);
    }

    #[test]
    fn codes_without_a_character_become_replacement_characters() {
        let d = decode(b"MSH|^~\\&\r\n\x1b$B45)!\x1b(B").unwrap();
        assert_eq!(d.text, "MSH|^~\\&\r\n患\u{FFFD}");
        assert_eq!(d.warnings[0].kind, WarningKind::UndecodableCharacter);
        assert_eq!(d.warnings[0].location.line, 2);
    }

    #[test]
    fn broken_iso2022jp_is_refused_with_offset_and_line() {
        for (bytes, offset, line) in [
            (&b"MSH|^~\\&\r\x1b$Z"[..], 9, 2),
            (b"MSH|^~\\&\r\x1b", 9, 2),
            (b"MSH|^~\\&\r\r\n\x1b$B4", 14, 3),
            (b"MSH|^~\\&\r\x1b$B4 5", 12, 2),
            (b"MSH|^~\\&\r\x1b(I\x7e", 12, 2),
            (b"MSH|^~\\&\r\x0e", 9, 2),
        ] {
            match decode(bytes).unwrap_err() {
                Ssmix2Error::Undecodable { offset: got, location, .. } => {
                    assert_eq!((got, location.line), (offset, line), "{bytes:?}");
                }
                other => panic!("{other:?}"),
            }
        }
        // Offsets count the framing bytes too.
        match decode(b"\x0bMSH|\x1b$Z").unwrap_err() {
            Ssmix2Error::Undecodable { offset, bytes, .. } => {
                assert_eq!(offset, 5);
                assert_eq!(bytes, "0x1B 0x24 0x5A");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn utf8_and_shift_jis_are_read_with_a_warning() {
        let d = decode("MSH|^~\\&\rPID|||1||患者".as_bytes()).unwrap();
        assert_eq!((d.encoding, d.text.as_str()), (SourceEncoding::Utf8, "MSH|^~\\&\rPID|||1||患者"));
        assert_eq!(d.warnings[0].kind, WarningKind::NonStandardEncoding);
        let d = decode("MSH|^~\\&||||||||||||||||~UNICODE UTF-8\rPID|||1||患者".as_bytes()).unwrap();
        assert!(d.warnings.is_empty());
        // 本人 in Shift_JIS: 0x96 0x7B 0x90 0x6C ('{' and 'l' as trail bytes).
        let d = decode(b"MSH|^~\\&\rX|\x96\x7b\x90\x6c").unwrap();
        assert_eq!((d.encoding, d.text.as_str()), (SourceEncoding::ShiftJis, "MSH|^~\\&\rX|本人"));
        let err = decode(b"MSH|^~\\&\rX|\x82\xff").unwrap_err();
        assert_eq!(err.code(), "undecodable_bytes");
    }

    #[test]
    fn framing_is_stripped_and_trailing_data_checked() {
        let d = decode(b"\x0bMSH|^~\\&\r\x1c\r").unwrap();
        assert_eq!(d.text, "MSH|^~\\&");
        assert_eq!(decode(b"\x0b\x1c\r").unwrap_err().code(), "empty_message");
        assert_eq!(decode(b"").unwrap_err().code(), "empty_message");
        let d = decode(b"MSH|^~\\&\r\x1cxx").unwrap();
        assert_eq!(d.warnings[0].kind, WarningKind::DataAfterEnd);
        assert_eq!(decode(b"MSH|^~\\&\r\x1c\x0bMSH|^~\\&\r\x1c").unwrap_err().code(), "multiple_messages");
    }
}
