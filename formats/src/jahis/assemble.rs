//! From scanned parts to one sequence of record lines. Two mechanisms, possibly combined:
//! QR Structured Append (raw bytes cut anywhere, joined in symbol order before decoding) and
//! the JAHIS data split (whole payloads ending in a 911 record, merged by part number).

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::error::{JahisError, Location, Warning, WarningKind, excerpt};
use super::model::{DataSplit, FormatVersion, OutputKind};
use super::text::{self, Line};

/// The Structured Append header of one QR symbol, as the reader reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StructuredAppend {
    /// Position of this symbol, 0-based as the symbol encodes it.
    pub index: u8,
    /// Number of symbols in the set (1–16).
    pub count: u8,
    /// The set's parity byte (XOR of every data byte of the whole message), when the reader
    /// reports it: it tells sets apart and is checked after joining.
    pub parity: Option<u8>,
}

/// One scanned QR code: its data and, for a Structured Append symbol, its position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part<'a> {
    /// The raw bytes of the symbol (Shift_JIS), or UTF-8 text a client already decoded.
    pub data: &'a [u8],
    pub symbol: Option<StructuredAppend>,
}

impl<'a> Part<'a> {
    /// A whole payload (one QR code, or one JAHIS split part).
    #[must_use]
    pub fn new(data: &'a [u8]) -> Self {
        Self { data, symbol: None }
    }

    /// A payload a client already decoded to text.
    #[must_use]
    pub fn text(text: &'a str) -> Self {
        Self::new(text.as_bytes())
    }

    /// One symbol of a Structured Append set.
    #[must_use]
    pub fn symbol(data: &'a [u8], index: u8, count: u8, parity: Option<u8>) -> Self {
        Self { data, symbol: Some(StructuredAppend { index, count, parity }) }
    }
}

/// The Structured Append parity of a message: the XOR of all its bytes.
#[must_use]
pub fn structured_append_parity(data: &[u8]) -> u8 {
    data.iter().fold(0, |parity, b| parity ^ b)
}

enum Entry<'a> {
    Whole(&'a [u8]),
    Set { count: u8, parity: Option<u8>, symbols: BTreeMap<u8, &'a [u8]> },
}

/// Joins Structured Append symbols into whole payloads, in the order the parts first appear.
/// Symbols belong to one set when their count and parity agree.
pub(crate) fn join_symbols<'a>(parts: &[Part<'a>]) -> Result<Vec<Cow<'a, [u8]>>, JahisError> {
    if parts.is_empty() {
        return Err(JahisError::Empty);
    }
    let mut entries: Vec<Entry<'a>> = Vec::new();
    for part in parts {
        let Some(symbol) = part.symbol else {
            entries.push(Entry::Whole(part.data));
            continue;
        };
        if !(1..=16).contains(&symbol.count) || symbol.index >= symbol.count {
            return Err(JahisError::InvalidSymbols {
                reason: format!(
                    "symbol index {} of a set of {} is impossible: a set has 1 to 16 symbols, \
                     indexed from 0",
                    symbol.index, symbol.count
                ),
            });
        }
        let existing = entries.iter_mut().find_map(|entry| match entry {
            Entry::Set { count, parity, symbols } if *count == symbol.count && *parity == symbol.parity => {
                Some(symbols)
            }
            _ => None,
        });
        let symbols = match existing {
            Some(symbols) => symbols,
            None => {
                entries.push(Entry::Set {
                    count: symbol.count,
                    parity: symbol.parity,
                    symbols: BTreeMap::new(),
                });
                match entries.last_mut() {
                    Some(Entry::Set { symbols, .. }) => symbols,
                    _ => continue,
                }
            }
        };
        match symbols.get(&symbol.index) {
            Some(previous) if *previous != part.data => {
                return Err(JahisError::InvalidSymbols {
                    reason: format!(
                        "symbol index {} of {} was given twice with different data: the symbols \
                         come from two QR sets (send each set on its own, with its parity)",
                        symbol.index, symbol.count
                    ),
                });
            }
            Some(_) => {}
            None => {
                symbols.insert(symbol.index, part.data);
            }
        }
    }

    entries
        .into_iter()
        .map(|entry| match entry {
            Entry::Whole(data) => Ok(Cow::Borrowed(data)),
            Entry::Set { count, parity, symbols } => {
                let missing: Vec<u8> = (0..count).filter(|i| !symbols.contains_key(i)).collect();
                if !missing.is_empty() {
                    return Err(JahisError::IncompleteSymbols {
                        count,
                        parity,
                        received: symbols.keys().copied().collect(),
                        missing,
                    });
                }
                let joined: Vec<u8> = symbols.values().flat_map(|data| data.iter().copied()).collect();
                let computed = structured_append_parity(&joined);
                match parity {
                    Some(expected) if expected != computed => Err(JahisError::InvalidSymbols {
                        reason: format!(
                            "the joined data has parity 0x{computed:02X} where the symbols \
                             announce 0x{expected:02X}: a symbol was misread or comes from \
                             another QR set"
                        ),
                    }),
                    _ => Ok(Cow::Owned(joined)),
                }
            }
        })
        .collect()
}

/// The version record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    pub version: FormatVersion,
    pub output_kind: Option<OutputKind>,
}

/// A record 911.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SplitControl {
    data_id: String,
    count: u16,
    number: u16,
    location: Location,
}

/// One payload between version records, its 911 taken out.
struct Segment<'a> {
    header: Header,
    header_location: Location,
    lines: Vec<Line<'a>>,
    split: Option<SplitControl>,
}

impl Segment<'_> {
    fn same_content(&self, other: &Self) -> bool {
        self.header == other.header
            && self.split.as_ref().map(|s| (&s.data_id, s.count, s.number))
                == other.split.as_ref().map(|s| (&s.data_id, s.count, s.number))
            && self.lines.len() == other.lines.len()
            && self.lines.iter().zip(&other.lines).all(|(a, b)| a.text.trim() == b.text.trim())
    }
}

/// The merged payload: one version record and the record lines in order.
pub(crate) struct Assembled<'a> {
    pub header: Header,
    pub lines: Vec<Line<'a>>,
    pub split: Option<DataSplit>,
}

/// The most parts (version records) one call takes: the 911 record allows 999, and a client
/// may send each twice. Also bounds the work a hostile payload can cause.
const MAX_PARTS: usize = 2 * 999;

/// Merges decoded payloads (each may hold several concatenated parts) into one record
/// sequence, checking a JAHIS split is complete and consistent. Parts may come in any order;
/// a part given twice with the same content counts once.
pub(crate) fn merge<'a>(
    texts: &'a [String],
    warnings: &mut Vec<Warning>,
) -> Result<Assembled<'a>, JahisError> {
    let mut segments: Vec<Segment<'a>> = Vec::new();
    let mut total = 0usize;
    for text in texts {
        for segment in segments_of(text, warnings)? {
            total += 1;
            if total > MAX_PARTS {
                return Err(JahisError::InvalidSplit {
                    reason: format!("more than {MAX_PARTS} version records: a split has at most 999 parts"),
                });
            }
            if !segments.iter().any(|s| s.same_content(&segment)) {
                segments.push(segment);
            }
        }
    }

    let mut segments = segments.into_iter();
    let Some(first) = segments.next() else {
        return Err(JahisError::Empty);
    };
    let rest: Vec<Segment<'a>> = segments.collect();

    if rest.is_empty() {
        return match first.split {
            Some(split) if split.count > 1 || split.number != 1 => {
                Err(incomplete(&split.data_id, split.count, vec![split.number]))
            }
            split => Ok(Assembled {
                header: first.header,
                lines: first.lines,
                split: split.map(|s| DataSplit { data_id: s.data_id, part_count: s.count }),
            }),
        };
    }

    let total = rest.len() + 1;
    let mut parts = Vec::with_capacity(total);
    for segment in std::iter::once(first).chain(rest) {
        let Some(split) = segment.split.clone() else {
            return Err(JahisError::InvalidSplit {
                reason: format!(
                    "{total} different payloads were given but the one at {} has no 911 split \
                     record: unrelated QR codes cannot be combined, send each on its own",
                    segment.header_location
                ),
            });
        };
        parts.push((split, segment));
    }

    let (reference, reference_segment) = &parts[0];
    let (data_id, count, header) =
        (reference.data_id.clone(), reference.count, reference_segment.header.clone());
    for (split, segment) in &parts {
        if split.data_id != data_id {
            return Err(JahisError::InvalidSplit {
                reason: format!(
                    "parts of two different split data were given (ids {data_id} and {}): \
                     send the parts of one set together",
                    split.data_id
                ),
            });
        }
        if split.count != count {
            return Err(JahisError::InvalidSplit {
                reason: format!(
                    "the parts of split data {data_id} disagree on the number of parts \
                     ({count} and {}, at {})",
                    split.count, split.location
                ),
            });
        }
        if segment.header.version.number != header.version.number {
            return Err(JahisError::InvalidSplit {
                reason: format!(
                    "the parts of split data {data_id} have different versions ({} and {})",
                    header.version.header, segment.header.version.header
                ),
            });
        }
    }

    parts.sort_by_key(|(split, _)| split.number);
    if let Some(pair) = parts.windows(2).find(|w| w[0].0.number == w[1].0.number) {
        return Err(JahisError::InvalidSplit {
            reason: format!(
                "part {} of split data {data_id} was given twice with different content",
                pair[0].0.number
            ),
        });
    }
    let received: Vec<u16> = parts.iter().map(|(split, _)| split.number).collect();
    if received.len() != usize::from(count) || received.iter().any(|n| *n > count) {
        return Err(incomplete(&data_id, count, received));
    }

    if parts.iter().any(|(_, s)| s.header.output_kind != header.output_kind) {
        warnings.push(Warning {
            location: parts[0].1.header_location,
            record: None,
            kind: WarningKind::OutputKindMismatch,
            message: "the parts disagree on 出力区分; the first part's is used".into(),
        });
    }

    let mut lines = Vec::new();
    for (split, segment) in parts {
        lines.extend(
            segment.lines.into_iter().map(|line| Line {
                location: Location { part: Some(split.number), ..line.location },
                ..line
            }),
        );
    }
    Ok(Assembled { header, lines, split: Some(DataSplit { data_id, part_count: count }) })
}

fn incomplete(data_id: &str, count: u16, mut received: Vec<u16>) -> JahisError {
    received.sort_unstable();
    received.dedup();
    let missing = (1..=count).filter(|n| !received.contains(n)).collect();
    received.retain(|n| (1..=count).contains(n));
    JahisError::IncompleteSplit { data_id: data_id.to_owned(), count, received, missing }
}

fn is_version_line(line: &str) -> bool {
    line.trim_start().as_bytes().get(..5).is_some_and(|head| head.eq_ignore_ascii_case(b"JAHIS"))
}

/// Cuts a decoded payload at its version records (a client may send parts concatenated) and
/// takes each segment's 911 record out.
fn segments_of<'a>(text: &'a str, warnings: &mut Vec<Warning>) -> Result<Vec<Segment<'a>>, JahisError> {
    let mut segments: Vec<Segment<'a>> = Vec::new();
    for line in text::lines(text) {
        if is_version_line(line.text) {
            let header = parse_header(line, warnings)?;
            segments.push(Segment { header, header_location: line.location, lines: Vec::new(), split: None });
            continue;
        }
        let Some(segment) = segments.last_mut() else {
            if line.text.trim().is_empty() {
                continue;
            }
            return Err(JahisError::NotJahis { start: excerpt(line.text, 12) });
        };
        let fields = text::fields(line.text);
        if fields.first().and_then(|f| text::record_number(f)) == Some(911) {
            let split = parse_split(&fields, line.location)?;
            if let Some(previous) = &segment.split {
                return Err(JahisError::InvalidSplit {
                    reason: format!(
                        "two 911 split records in one part (at {} and {})",
                        previous.location, line.location
                    ),
                });
            }
            segment.split = Some(split);
        } else {
            segment.lines.push(line);
        }
    }
    Ok(segments)
}

fn parse_header(line: Line<'_>, warnings: &mut Vec<Warning>) -> Result<Header, JahisError> {
    let fields = text::fields(line.text);
    let tag = fields.first().copied().unwrap_or_default().to_ascii_uppercase();
    let unsupported =
        || JahisError::UnsupportedVersion { header: excerpt(&tag, 16), location: line.location };
    let number = match tag.strip_prefix("JAHISTC") {
        Some(digits) if digits.len() == 2 && digits.bytes().all(|b| b.is_ascii_digit()) => {
            digits.parse::<u8>().map_err(|_| unsupported())?
        }
        Some(_) => return Err(unsupported()),
        None if tag.as_bytes().get(5).is_some_and(u8::is_ascii_digit) => {
            return Err(JahisError::PrescriptionQr { header: excerpt(&tag, 16) });
        }
        None => {
            return Err(JahisError::NotJahis { start: excerpt(&tag, 12) });
        }
    };
    if number == 0 {
        return Err(unsupported());
    }
    let newer_than_known = number > super::NEWEST_KNOWN_VERSION;
    if newer_than_known {
        warnings.push(Warning {
            location: line.location,
            record: None,
            kind: WarningKind::NewerVersion,
            message: format!(
                "{tag} is newer than JAHISTC{:02}, the newest known version: read with that \
                 version's layout, fields it does not define are ignored",
                super::NEWEST_KNOWN_VERSION
            ),
        });
    }
    let kind_field = fields.get(1).copied().unwrap_or_default();
    let output_kind = OutputKind::from_code(kind_field);
    // Ver.1.x has no 出力区分; from JAHISTC03 on it is required.
    if output_kind.is_none() && number >= 3 {
        warnings.push(Warning {
            location: line.location,
            record: None,
            kind: WarningKind::MissingOutputKind,
            message: format!(
                "出力区分 (field 2 of the version record) should be 1 or 2, found {:?}",
                excerpt(kind_field, 4)
            ),
        });
    }
    Ok(Header { version: FormatVersion { header: tag, number, newer_than_known }, output_kind })
}

fn parse_split(fields: &[&str], location: Location) -> Result<SplitControl, JahisError> {
    let invalid = |field: usize, field_name: &'static str, expected: &'static str| JahisError::InvalidField {
        location,
        record: 911,
        record_name: super::records::record_name(911),
        field,
        field_name,
        expected,
        found: excerpt(fields.get(field).copied().unwrap_or_default(), 20),
    };
    let data_id = text::fold_width(fields.get(1).copied().unwrap_or_default()).into_owned();
    if data_id.is_empty() {
        return Err(invalid(1, "データ固有ID", "the data id shared by all parts (14 digits)"));
    }
    let count = fields
        .get(2)
        .and_then(|f| text::unsigned(f))
        .and_then(|n| u16::try_from(n).ok())
        .filter(|n| (1..=999).contains(n))
        .ok_or_else(|| invalid(2, "分割数", "the number of parts, 1 to 999"))?;
    let number = fields
        .get(3)
        .and_then(|f| text::unsigned(f))
        .and_then(|n| u16::try_from(n).ok())
        .filter(|n| (1..=count).contains(n))
        .ok_or_else(|| invalid(3, "データ連番", "this part's number, 1 to the number of parts"))?;
    Ok(SplitControl { data_id, count, number, location })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn payloads(parts: &[Part<'_>]) -> Result<Vec<Vec<u8>>, JahisError> {
        join_symbols(parts).map(|v| v.into_iter().map(Cow::into_owned).collect())
    }

    #[test]
    fn symbols_join_in_index_order_whatever_the_arrival_order() {
        let message = b"JAHISTC08,1\r\n5,R020410,1\r\n";
        let parity = Some(structured_append_parity(message));
        let (a, rest) = message.split_at(7);
        let (b, c) = rest.split_at(9);
        let parts =
            [Part::symbol(c, 2, 3, parity), Part::symbol(a, 0, 3, parity), Part::symbol(b, 1, 3, parity)];
        assert_eq!(payloads(&parts).unwrap(), vec![message.to_vec()]);
    }

    #[test]
    fn a_missing_symbol_is_reported_with_its_index() {
        let parts = [Part::symbol(b"JAHIS", 0, 3, None), Part::symbol(b"TC08", 2, 3, None)];
        assert_eq!(
            payloads(&parts).unwrap_err(),
            JahisError::IncompleteSymbols { count: 3, parity: None, received: vec![0, 2], missing: vec![1] }
        );
    }

    #[test]
    fn a_wrong_parity_is_refused() {
        let parts = [Part::symbol(b"JAHIS", 0, 2, Some(0)), Part::symbol(b"TC08", 1, 2, Some(0))];
        assert_eq!(payloads(&parts).unwrap_err().code(), "invalid_symbols");
    }

    #[test]
    fn impossible_symbol_positions_are_refused() {
        for (index, count) in [(2, 2), (0, 0), (0, 17)] {
            let parts = [Part::symbol(b"JAHIS", index, count, None)];
            assert_eq!(payloads(&parts).unwrap_err().code(), "invalid_symbols");
        }
    }

    #[test]
    fn a_symbol_scanned_twice_counts_once() {
        let parts = [
            Part::symbol(b"JAHIS", 0, 2, None),
            Part::symbol(b"JAHIS", 0, 2, None),
            Part::symbol(b"TC08", 1, 2, None),
        ];
        assert_eq!(payloads(&parts).unwrap(), vec![b"JAHISTC08".to_vec()]);
    }

    #[test]
    fn two_sets_are_told_apart_by_parity() {
        let one = b"JAHISTC08,1\n5,R020410,1";
        let two = b"JAHISTC08,1\n5,R020411,1";
        let (p1, p2) = (structured_append_parity(one), structured_append_parity(two));
        assert_ne!(p1, p2);
        let parts = [
            Part::symbol(&one[..4], 0, 2, Some(p1)),
            Part::symbol(&two[4..], 1, 2, Some(p2)),
            Part::symbol(&two[..4], 0, 2, Some(p2)),
            Part::symbol(&one[4..], 1, 2, Some(p1)),
        ];
        assert_eq!(payloads(&parts).unwrap(), vec![one.to_vec(), two.to_vec()]);
    }

    #[test]
    fn header_versions_and_kinds() {
        let mut warnings = Vec::new();
        let line = |text| Line { location: Location { part: None, line: 1 }, text };
        let h = parse_header(line("JAHISTC01"), &mut warnings).unwrap();
        assert_eq!((h.version.number, h.output_kind), (1, None));
        assert!(warnings.is_empty(), "Ver.1 has no 出力区分: {warnings:?}");
        let h = parse_header(line(" jahistc08 , 2 "), &mut warnings).unwrap();
        assert_eq!((h.version.number, h.output_kind), (8, Some(OutputKind::ToProvider)));
        let h = parse_header(line("JAHISTC12,1"), &mut warnings).unwrap();
        assert!(h.version.newer_than_known);
        assert_eq!(warnings[0].kind, WarningKind::NewerVersion);
        for bad in ["JAHISTC00,1", "JAHISTC8,1", "JAHISTC123", "JAHISTCX1"] {
            assert_eq!(
                parse_header(line(bad), &mut warnings).unwrap_err().code(),
                "unsupported_version",
                "{bad}"
            );
        }
        assert_eq!(parse_header(line("JAHIS10"), &mut warnings).unwrap_err().code(), "prescription_qr");
    }
}
