//! The delimiters a message declares and [`Value`], a borrowed view of one field, repetition,
//! component or subcomponent that splits further only when asked.

use std::borrow::Cow;

use super::error::{Hl7Error, excerpt};
use super::escape::unescape;

/// The field separator and encoding characters from MSH-1 and MSH-2 (`|` and `^~\&` almost
/// always). An encoding character a message leaves out is `None`: its structure level does not
/// exist in that message and its escape sequence stays literal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Delimiters {
    pub field: char,
    pub component: char,
    pub repetition: Option<char>,
    pub escape: Option<char>,
    pub subcomponent: Option<char>,
}

impl Default for Delimiters {
    fn default() -> Self {
        Self {
            field: '|',
            component: '^',
            repetition: Some('~'),
            escape: Some('\\'),
            subcomponent: Some('&'),
        }
    }
}

impl Delimiters {
    /// Reads the delimiters from the start of an MSH segment (`MSH|^~\&|…`); returns them and
    /// the byte length of MSH-2. A fifth encoding character (the v2.7 truncation character) is
    /// accepted and ignored.
    ///
    /// # Errors
    /// [`Hl7Error::InvalidDelimiters`] when the separator is missing, a letter, digit, space or
    /// control character, or when the encoding characters repeat one another.
    pub fn from_msh(segment: &str) -> Result<(Self, usize), Hl7Error> {
        let invalid =
            || Hl7Error::InvalidDelimiters { found: excerpt(segment.get(3..).unwrap_or_default(), 6) };
        let rest = segment.strip_prefix("MSH").ok_or_else(invalid)?;
        let mut chars = rest.chars();
        let field = chars.next().ok_or_else(invalid)?;
        let encoding: Vec<char> = chars.take_while(|&c| c != field && c != '\r' && c != '\n').collect();
        let usable = |c: char| c.is_ascii_graphic() && !c.is_ascii_alphanumeric();
        if !usable(field) || encoding.is_empty() || encoding.len() > 5 || !encoding.iter().all(|&c| usable(c))
        {
            return Err(invalid());
        }
        for (i, c) in encoding.iter().enumerate() {
            if *c == field || encoding.iter().skip(i + 1).any(|other| other == c) {
                return Err(invalid());
            }
        }
        let delimiters = Self {
            field,
            component: encoding[0],
            repetition: encoding.get(1).copied(),
            escape: encoding.get(2).copied(),
            subcomponent: encoding.get(3).copied(),
        };
        Ok((delimiters, encoding.len()))
    }
}

/// Which structure level a [`Value`] is at, so that asking a field for a component or a
/// component for a subcomponent does the right split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Level {
    Field,
    Repetition,
    Component,
    Subcomponent,
    /// MSH-1 and MSH-2: never split, never unescaped.
    Literal,
}

/// A borrowed view of part of a segment. Positions are 1-based as HL7 writes them (`PID-5.1`);
/// asking for a position that is not there gives an empty value, as HL7 treats a missing value
/// and an empty one alike. A field without repetitions is its own first repetition, a
/// repetition without components its own first component, and so on, so `field.component(1)`
/// reads the first component of the first repetition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Value<'a> {
    raw: &'a str,
    delimiters: Delimiters,
    level: Level,
}

impl<'a> Value<'a> {
    pub(crate) fn field(raw: &'a str, delimiters: Delimiters) -> Self {
        Self { raw, delimiters, level: Level::Field }
    }

    pub(crate) fn literal(raw: &'a str, delimiters: Delimiters) -> Self {
        Self { raw, delimiters, level: Level::Literal }
    }

    fn at(self, raw: &'a str, level: Level) -> Self {
        Self { raw, delimiters: self.delimiters, level }
    }

    /// The text as written, escape sequences and inner delimiters included.
    #[must_use]
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    /// Nothing was sent.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The explicit HL7 null `""` ("delete the stored value").
    #[must_use]
    pub fn is_null(&self) -> bool {
        self.raw == "\"\""
    }

    /// The text with escape sequences resolved (`\F\` becomes the field separator and so on).
    /// Delimiters of deeper levels stay as written: the text of a component `a&b` is `a&b`.
    #[must_use]
    pub fn text(&self) -> Cow<'a, str> {
        match self.level {
            Level::Literal => Cow::Borrowed(self.raw),
            _ => unescape(self.raw, &self.delimiters),
        }
    }

    /// [`Value::text`] with surrounding white space trimmed, or `None` when that leaves nothing
    /// or the value is the HL7 null `""`.
    #[must_use]
    pub fn non_empty(&self) -> Option<String> {
        if self.is_null() {
            return None;
        }
        let text = self.text();
        let trimmed = text.trim();
        (!trimmed.is_empty()).then(|| trimmed.to_owned())
    }

    /// The repetitions of a field, in order (none when the field is empty). At any other level
    /// the value itself, when not empty.
    pub fn repetitions(&self) -> impl Iterator<Item = Value<'a>> + use<'a> {
        let this = *self;
        let separator = match self.level {
            Level::Field => self.delimiters.repetition,
            _ => None,
        };
        let level = if this.level == Level::Field { Level::Repetition } else { this.level };
        split_opt(self.raw, separator).map(move |raw| this.at(raw, level))
    }

    /// The `n`th repetition (1-based) of a field.
    #[must_use]
    pub fn repetition(&self, n: usize) -> Value<'a> {
        let level = if self.level == Level::Field { Level::Repetition } else { self.level };
        self.repetitions().nth(n.wrapping_sub(1)).unwrap_or_else(|| self.at("", level))
    }

    /// The components (of the first repetition, for a field).
    pub fn components(&self) -> impl Iterator<Item = Value<'a>> + use<'a> {
        let this = match self.level {
            Level::Field => self.repetition(1),
            _ => *self,
        };
        let (separator, level) = match this.level {
            Level::Repetition | Level::Field => (Some(this.delimiters.component), Level::Component),
            other => (None, other),
        };
        split_opt(this.raw, separator).map(move |raw| this.at(raw, level))
    }

    /// The `n`th component (1-based; of the first repetition, for a field).
    #[must_use]
    pub fn component(&self, n: usize) -> Value<'a> {
        let level = match self.level {
            Level::Field | Level::Repetition => Level::Component,
            other => other,
        };
        self.components().nth(n.wrapping_sub(1)).unwrap_or_else(|| self.at("", level))
    }

    /// The subcomponents (of the first component, for a field or repetition).
    pub fn subcomponents(&self) -> impl Iterator<Item = Value<'a>> + use<'a> {
        let this = match self.level {
            Level::Field | Level::Repetition => self.component(1),
            _ => *self,
        };
        let (separator, level) = match this.level {
            Level::Component => (this.delimiters.subcomponent, Level::Subcomponent),
            other => (None, other),
        };
        split_opt(this.raw, separator).map(move |raw| this.at(raw, level))
    }

    /// The `n`th subcomponent (1-based; of the first component, for a field or repetition).
    #[must_use]
    pub fn subcomponent(&self, n: usize) -> Value<'a> {
        let level = match self.level {
            Level::Literal => Level::Literal,
            _ => Level::Subcomponent,
        };
        self.subcomponents().nth(n.wrapping_sub(1)).unwrap_or_else(|| self.at("", level))
    }
}

/// Splits on `separator` (nothing when empty; the whole text when there is no separator).
fn split_opt(raw: &str, separator: Option<char>) -> Pieces<'_> {
    Pieces { rest: (!raw.is_empty()).then_some(raw), separator }
}

struct Pieces<'a> {
    rest: Option<&'a str>,
    separator: Option<char>,
}

impl<'a> Iterator for Pieces<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let rest = self.rest?;
        match self.separator.and_then(|s| rest.find(s).map(|i| (i, s))) {
            Some((i, s)) => {
                self.rest = rest.get(i + s.len_utf8()..);
                rest.get(..i)
            }
            None => {
                self.rest = None;
                Some(rest)
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn field(raw: &str) -> Value<'_> {
        Value::field(raw, Delimiters::default())
    }

    #[test]
    fn standard_delimiters_are_read_from_msh() {
        let (d, len) = Delimiters::from_msh("MSH|^~\\&|HIS").unwrap();
        assert_eq!(d, Delimiters::default());
        assert_eq!(len, 4);
    }

    #[test]
    fn other_delimiters_and_short_encoding_characters_are_accepted() {
        let (d, len) = Delimiters::from_msh("MSH#$*!@#X").unwrap();
        assert_eq!(
            (d.field, d.component, d.repetition, d.escape, d.subcomponent),
            ('#', '$', Some('*'), Some('!'), Some('@'))
        );
        assert_eq!(len, 4);
        let (d, _) = Delimiters::from_msh("MSH|^~|X").unwrap();
        assert_eq!((d.repetition, d.escape, d.subcomponent), (Some('~'), None, None));
        let (_, len) = Delimiters::from_msh("MSH|^~\\&#|X").unwrap();
        assert_eq!(len, 5);
    }

    #[test]
    fn unusable_delimiters_are_refused() {
        for bad in [
            "MSH",
            "MSH|",
            "MSH||",
            "MSHA^~\\&|",
            "MSH ^~\\&|",
            "MSH|^^\\&|",
            "MSH|^a\\&|",
            "MSH|^~\\&#$|",
            "MSH|^~\\&\r",
        ] {
            let got = Delimiters::from_msh(bad);
            if bad == "MSH|^~\\&\r" {
                assert!(got.is_ok(), "{bad:?}");
            } else {
                assert_eq!(got.unwrap_err().code(), "invalid_delimiters", "{bad:?}");
            }
        }
    }

    #[test]
    fn a_field_is_its_own_first_repetition_and_component() {
        let f = field("abc");
        assert_eq!(f.repetition(1).raw(), "abc");
        assert_eq!(f.component(1).raw(), "abc");
        assert_eq!(f.subcomponent(1).raw(), "abc");
        assert!(f.component(2).is_empty());
        assert!(f.repetition(2).is_empty());
        assert!(f.component(0).is_empty());
    }

    #[test]
    fn repetitions_components_and_subcomponents_split_in_order() {
        let f = field("a^b&c^~d^e");
        let reps: Vec<_> = f.repetitions().map(|r| r.raw()).collect();
        assert_eq!(reps, ["a^b&c^", "d^e"]);
        assert_eq!(f.component(2).raw(), "b&c");
        assert_eq!(f.component(2).subcomponent(2).raw(), "c");
        assert_eq!(f.component(3).raw(), "");
        assert_eq!(f.components().count(), 3);
        assert_eq!(f.repetition(2).component(2).raw(), "e");
        assert_eq!(f.repetition(2).component(2).subcomponent(1).raw(), "e");
        // Deeper delimiters stay literal in the text of a higher level.
        assert_eq!(f.component(2).text(), "b&c");
    }

    #[test]
    fn empty_fields_have_no_repetitions_but_keep_inner_empty_positions() {
        assert_eq!(field("").repetitions().count(), 0);
        let reps: Vec<_> = field("a~~b").repetitions().map(|r| r.raw()).collect();
        assert_eq!(reps, ["a", "", "b"]);
        assert_eq!(field("").component(3).text(), "");
        assert_eq!(field("").non_empty(), None);
    }

    #[test]
    fn the_hl7_null_reads_as_no_value() {
        let f = field("\"\"");
        assert!(f.is_null());
        assert_eq!(f.non_empty(), None);
        assert_eq!(field("  x ").non_empty().as_deref(), Some("x"));
    }

    #[test]
    fn a_message_without_subcomponents_keeps_ampersands_as_text() {
        let (d, _) = Delimiters::from_msh("MSH|^~\\|").unwrap();
        let f = Value::field("R&D^x", d);
        assert_eq!(f.component(1).subcomponent(1).raw(), "R&D");
        assert_eq!(f.component(1).subcomponents().count(), 1);
    }
}
