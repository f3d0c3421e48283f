//! HL7 escape sequences (v2.5 §2.7): delimiters written inside text (`\F\ \S\ \T\ \R\ \E\`),
//! hexadecimal data (`\X..\`), and the formatting commands of FT text (`\.br\`, `\.sp\`, …).

use std::borrow::Cow;

use super::value::Delimiters;

/// Most line breaks one `\.sp n\` may produce, so a hostile count cannot blow up the output.
const MAX_SPACING: usize = 20;

/// Resolves the escape sequences in `raw`:
/// - `\F\ \S\ \T\ \R\ \E\` become the field, component, subcomponent and repetition separators
///   and the escape character the message declared;
/// - `\Xhh…\` becomes the bytes it spells when they are UTF-8 text;
/// - `\.br\` and `\.sp n\` become line breaks; the other formatting commands (`\.in\`,
///   `\.ti\`, `\.sk\`, `\.ce\`, `\.fi\`, `\.nf\`), highlighting (`\H\ \N\`) and character-set
///   switches (`\Cxxyy\ \Mxxyyzz\`, already applied when the bytes were decoded) are dropped.
///
/// Anything else — an unknown or locally defined (`\Z…\`) sequence, or an escape character
/// without a closing one — is kept as written, so text such as `C:\temp` survives.
#[must_use]
pub fn unescape<'a>(raw: &'a str, delimiters: &Delimiters) -> Cow<'a, str> {
    let Some(escape) = delimiters.escape else {
        return Cow::Borrowed(raw);
    };
    if !raw.contains(escape) {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(start) = rest.find(escape) {
        out.push_str(rest.get(..start).unwrap_or_default());
        let after = rest.get(start + escape.len_utf8()..).unwrap_or_default();
        let Some(end) = after.find(escape) else {
            // No closing escape character: the rest is literal text.
            out.push(escape);
            rest = after;
            break;
        };
        let sequence = after.get(..end).unwrap_or_default();
        let next = after.get(end + escape.len_utf8()..).unwrap_or_default();
        match resolve(sequence, delimiters, escape) {
            Some(Resolved::Text(text)) => out.push_str(&text),
            Some(Resolved::Char(c)) => out.push(c),
            Some(Resolved::Nothing) => {}
            None => {
                // Unknown: keep the opening escape character and rescan from the closing one,
                // which may open the next sequence (`\a\F\` is `\a` then `\F\`).
                out.push(escape);
                out.push_str(sequence);
                rest = after.get(end..).unwrap_or_default();
                continue;
            }
        }
        rest = next;
    }
    out.push_str(rest);
    Cow::Owned(out)
}

enum Resolved {
    Char(char),
    Text(String),
    Nothing,
}

fn resolve(sequence: &str, delimiters: &Delimiters, escape: char) -> Option<Resolved> {
    let delimiter = |c: Option<char>| c.map(Resolved::Char);
    match sequence {
        "F" => delimiter(Some(delimiters.field)),
        "S" => delimiter(Some(delimiters.component)),
        "T" => delimiter(delimiters.subcomponent),
        "R" => delimiter(delimiters.repetition),
        "E" => delimiter(Some(escape)),
        "H" | "N" => Some(Resolved::Nothing),
        ".br" => Some(Resolved::Char('\n')),
        _ => {
            if let Some(hex) = sequence.strip_prefix('X') {
                return hex_text(hex).map(Resolved::Text);
            }
            if let Some(spacing) = sequence.strip_prefix(".sp") {
                let count = match spacing.trim() {
                    "" => 1,
                    n => n.trim_start_matches('+').parse::<usize>().ok()?.clamp(1, MAX_SPACING),
                };
                return Some(Resolved::Text("\n".repeat(count)));
            }
            let formatting = [".in", ".ti", ".sk", ".ce", ".fi", ".nf"];
            if formatting.iter().any(|f| sequence.starts_with(f)) {
                return Some(Resolved::Nothing);
            }
            let charset = |prefix: char, lengths: &[usize]| {
                sequence.strip_prefix(prefix).is_some_and(|hex| {
                    lengths.contains(&hex.len()) && hex.bytes().all(|b| b.is_ascii_hexdigit())
                })
            };
            (charset('C', &[4]) || charset('M', &[4, 6])).then_some(Resolved::Nothing)
        }
    }
}

/// The UTF-8 text spelled by pairs of hex digits, when it is text (no control characters).
fn hex_text(hex: &str) -> Option<String> {
    if hex.is_empty() || !hex.len().is_multiple_of(2) {
        return None;
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| hex.get(i..i + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok()))
        .collect::<Option<Vec<u8>>>()?;
    let text = String::from_utf8(bytes).ok()?;
    (!text.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn un(raw: &str) -> String {
        unescape(raw, &Delimiters::default()).into_owned()
    }

    #[test]
    fn delimiter_escapes_become_the_delimiters() {
        assert_eq!(un("a\\F\\b"), "a|b");
        assert_eq!(un("a\\S\\b"), "a^b");
        assert_eq!(un("a\\T\\b"), "a&b");
        assert_eq!(un("a\\R\\b"), "a~b");
        assert_eq!(un("a\\E\\b"), "a\\b");
        assert_eq!(un("\\F\\\\S\\\\T\\\\R\\\\E\\"), "|^&~\\");
    }

    #[test]
    fn text_without_escapes_is_borrowed() {
        assert!(matches!(unescape("患者^太郎", &Delimiters::default()), Cow::Borrowed(_)));
    }

    #[test]
    fn escapes_follow_the_declared_delimiters() {
        let d = Delimiters {
            field: '#',
            component: '$',
            repetition: Some('*'),
            escape: Some('!'),
            subcomponent: Some('@'),
        };
        assert_eq!(unescape("a!F!b!S!c!T!d!R!e!E!f", &d), "a#b$c@d*e!f");
        assert_eq!(unescape("a\\F\\b", &d), "a\\F\\b");
        let no_escape = Delimiters { escape: None, ..Delimiters::default() };
        assert_eq!(unescape("a\\F\\b", &no_escape), "a\\F\\b");
    }

    #[test]
    fn an_escape_for_an_undeclared_delimiter_stays_literal() {
        let d = Delimiters { subcomponent: None, ..Delimiters::default() };
        assert_eq!(unescape("a\\T\\b", &d), "a\\T\\b");
    }

    #[test]
    fn hex_formatting_and_charset_sequences() {
        assert_eq!(un("\\X41\\\\XE6BC\\"), "A\\XE6BC\\");
        assert_eq!(un("\\XE6BCA2\\"), "漢");
        assert_eq!(un("\\X00\\"), "\\X00\\");
        assert_eq!(un("\\X4\\"), "\\X4\\");
        assert_eq!(un("line1\\.br\\line2"), "line1\nline2");
        assert_eq!(un("a\\.sp 2\\b"), "a\n\nb");
        assert_eq!(un("a\\.sp\\b"), "a\nb");
        assert_eq!(un("a\\.sp 99999999999999999999\\b"), "a\\.sp 99999999999999999999\\b");
        assert_eq!(un("a\\.sp 1000\\b"), format!("a{}b", "\n".repeat(MAX_SPACING)));
        assert_eq!(un("\\H\\bold\\N\\ \\.in+4\\x\\.ce\\"), "bold x");
        assert_eq!(un("\\C2842\\abc\\M2442\\"), "abc");
    }

    #[test]
    fn unknown_and_unterminated_sequences_stay_literal() {
        assert_eq!(un("C:\\temp"), "C:\\temp");
        assert_eq!(un("\\Zlocal\\"), "\\Zlocal\\");
        assert_eq!(un("a\\\\b"), "a\\\\b");
        assert_eq!(un("\\"), "\\");
        assert_eq!(un("x\\q\\F\\y"), "x\\q|y");
        assert_eq!(un("\\F"), "\\F");
    }
}
