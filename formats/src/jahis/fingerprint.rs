//! The content key of a dispensing, so a re-scan (or the same visit arriving from another app's
//! export) is recognised. It is a canonical text; store a hash of it.

use std::fmt::Write as _;

use super::model::Dispensing;
use super::text::fold_width;

impl Dispensing {
    /// A canonical, versioned key of what was dispensed, equal for equal dispensings:
    ///
    /// ```text
    /// jahis-dispensing/v1
    /// date=2020-04-10
    /// pharmacy=工業会薬局駅前店
    /// item=コリオパン錠5mg|4|錠|5|日分|1
    /// item=…            (one per drug, sorted)
    /// ```
    ///
    /// In it: the dispensing date; the dispensing pharmacy's name (record 11); and per drug the
    /// name, amount, unit, the RP's dispensed quantity, its unit and the dosage form code. The
    /// lines are sorted, so RP numbering and record order do not matter. When a dispensing has
    /// no drug (information only), the texts of its 401/411/421/501/601 records stand in.
    ///
    /// Left out on purpose: who created each record, drug codes (vendors use different code
    /// systems for the same drug), the pharmacy code (app exports often drop it), the
    /// pharmacist, prescriber, usage texts and notes, which differ between sources of the same
    /// visit. Text is compared after removing spaces, folding full-width ASCII and half-width
    /// katakana to one width, and ASCII case; amounts compare as numbers (`1.50` = `1.5`).
    #[must_use]
    pub fn fingerprint(&self) -> String {
        let mut items: Vec<String> = Vec::new();
        for rp in &self.rps {
            let usage = rp.usage.as_ref();
            let quantity = usage.and_then(|u| u.quantity).map(|q| q.to_string());
            let quantity_unit = usage.and_then(|u| u.quantity_unit.as_deref());
            let form = usage.and_then(|u| u.dosage_form).map(|f| f.code());
            for drug in &rp.drugs {
                items.push(format!(
                    "item={}|{}|{}|{}|{}|{}",
                    normalize(&drug.name),
                    drug.amount.as_deref().map(normalize_number).unwrap_or_default(),
                    drug.unit.as_deref().map(normalize).unwrap_or_default(),
                    quantity.as_deref().unwrap_or_default(),
                    quantity_unit.map(normalize).unwrap_or_default(),
                    form.unwrap_or_default(),
                ));
            }
        }
        if items.is_empty() {
            let notes = self
                .precautions
                .iter()
                .chain(&self.leftover_checks)
                .chain(&self.remarks)
                .map(|n| n.text.as_str())
                .chain(self.provider_notes.iter().map(|n| n.text.as_str()))
                .chain(self.patient_entries.iter().map(|n| n.text.as_str()));
            items.extend(notes.map(|text| format!("note={}", normalize(text))));
        }
        items.sort();

        let mut key = String::from("jahis-dispensing/v1\n");
        let _ = writeln!(key, "date={}", self.date.format("%Y-%m-%d"));
        let pharmacy = self.pharmacy.as_ref().map(|p| normalize(&p.name));
        let _ = writeln!(key, "pharmacy={}", pharmacy.unwrap_or_default());
        for item in items {
            key.push_str(&item);
            key.push('\n');
        }
        key
    }
}

/// Text compared regardless of spacing, width and ASCII case. `|` and line breaks, the key's
/// own separators, are escaped.
fn normalize(text: &str) -> String {
    let folded = fold_width(text);
    let mut out = String::with_capacity(folded.len());
    let mut chars = folded.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_whitespace() {
            continue;
        }
        let c = halfwidth_katakana(c).unwrap_or(c);
        let c = match chars.peek() {
            Some('\u{FF9E}') => voiced(c).inspect(|_| {
                chars.next();
            }),
            Some('\u{FF9F}') => semi_voiced(c).inspect(|_| {
                chars.next();
            }),
            _ => None,
        }
        .unwrap_or(c);
        match c {
            '|' => out.push_str("\\|"),
            '\\' => out.push_str("\\\\"),
            c => out.push(c.to_ascii_lowercase()),
        }
    }
    out
}

/// `1.50` and `1.5`, `02` and `2` are the same amount; anything else is compared as text.
fn normalize_number(amount: &str) -> String {
    let folded = fold_width(amount.trim());
    let (int, frac) = folded.split_once('.').unwrap_or((&folded, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() && frac.is_empty() || !digits(int) || !digits(frac) {
        return normalize(amount);
    }
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    if frac.is_empty() { int.to_owned() } else { format!("{int}.{frac}") }
}

/// Half-width katakana (U+FF61–U+FF9F) to the full-width form.
fn halfwidth_katakana(c: char) -> Option<char> {
    const FULL: &str = "。「」、・ヲァィゥェォャュョッーアイウエオカキクケコサシスセソタチツテト\
                        ナニヌネノハヒフヘホマミムメモヤユヨラリルレロワン゛゜";
    let offset = u32::from(c).checked_sub(0xFF61)?;
    FULL.chars().nth(usize::try_from(offset).ok()?)
}

fn voiced(c: char) -> Option<char> {
    if c == 'ウ' {
        return Some('ヴ');
    }
    "カキクケコサシスセソタチツテトハヒフヘホ".contains(c).then(|| char::from_u32(u32::from(c) + 1)).flatten()
}

fn semi_voiced(c: char) -> Option<char> {
    "ハヒフヘホ".contains(c).then(|| char::from_u32(u32::from(c) + 2)).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_normalization_folds_width_spacing_and_kana() {
        assert_eq!(normalize("ｺﾘｵﾊﾟﾝ錠 5mg"), "コリオパン錠5mg");
        assert_eq!(normalize("コリオパン錠５ｍｇ"), "コリオパン錠5mg");
        assert_eq!(normalize("ｳﾞｨ ﾀﾞ ﾎﾟ ﾊﾞ"), "ヴィダポバ");
        assert_eq!(normalize("ｱﾞ"), "ア゛");
        assert_eq!(normalize("a|b"), "a\\|b");
    }

    #[test]
    fn amounts_compare_as_numbers() {
        assert_eq!(normalize_number("1.50"), "1.5");
        assert_eq!(normalize_number("02"), "2");
        assert_eq!(normalize_number("2.0"), "2");
        assert_eq!(normalize_number("０.５"), "0.5");
        assert_eq!(normalize_number(".5"), "0.5");
        assert_eq!(normalize_number("1/2"), "1/2");
        assert_eq!(normalize_number("."), ".");
    }
}
