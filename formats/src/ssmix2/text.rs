//! Text helpers: width folding for codes and numbers, and the normalisation that lets a name
//! from a hospital be compared with the one a person registered.

use std::borrow::Cow;

/// Full-width ASCII (digits, letters, signs) and the ideographic space folded to ASCII.
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

/// Half-width katakana U+FF61..=U+FF9F as full-width characters, in code point order.
const HALF_WIDTH_KANA: &str = "。「」、・ヲァィゥェォャュョッーアイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワン゛゜";

/// Normalises a name (or any short text) for comparison across systems, so that `ｶﾝｼﾞｬ ﾀﾛｳ`,
/// `カンジャ　タロウ` and `かんじゃたろう` all give `カンジャタロウ`:
/// - half-width katakana become full-width, a following voiced or semi-voiced mark combined;
/// - hiragana become katakana;
/// - full-width ASCII becomes ASCII, upper-cased;
/// - all white space (and the ideographic space) is removed;
/// - the dash variants that JIS and CP932 decoders disagree on (〜 ～, − － ‐) are unified.
#[must_use]
pub fn normalize_for_match(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let c = match c {
            '\u{FF61}'..='\u{FF9F}' => {
                let index = usize::try_from(u32::from(c) - 0xFF61).unwrap_or(usize::MAX);
                HALF_WIDTH_KANA.chars().nth(index).unwrap_or(c)
            }
            '\u{3041}'..='\u{3096}' => char::from_u32(u32::from(c) + 0x60).unwrap_or(c),
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
            '\u{301C}' => '~',
            '\u{2212}' | '\u{2010}' | '\u{2011}' => '-',
            other => other,
        };
        if c.is_whitespace() {
            continue;
        }
        match c {
            '゛' | '\u{3099}' => {
                if let Some(voiced) = out.chars().last().and_then(|last| shift(last, 1)) {
                    out.pop();
                    out.push(voiced);
                    continue;
                }
            }
            '゜' | '\u{309A}' => {
                if let Some(semi) = out
                    .chars()
                    .last()
                    .and_then(|last| shift(last, 2))
                    .filter(|_| is_ha_row(out.chars().last()))
                {
                    out.pop();
                    out.push(semi);
                    continue;
                }
            }
            _ => {}
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

fn is_ha_row(c: Option<char>) -> bool {
    c.is_some_and(|c| matches!(c, 'ハ' | 'ヒ' | 'フ' | 'ヘ' | 'ホ'))
}

/// The voiced (`by` = 1) or semi-voiced (2) form of a katakana, when it has one.
fn shift(c: char, by: u32) -> Option<char> {
    let voiceable = matches!(
        c,
        'カ' | 'キ'
            | 'ク'
            | 'ケ'
            | 'コ'
            | 'サ'
            | 'シ'
            | 'ス'
            | 'セ'
            | 'ソ'
            | 'タ'
            | 'チ'
            | 'ツ'
            | 'テ'
            | 'ト'
            | 'ハ'
            | 'ヒ'
            | 'フ'
            | 'ヘ'
            | 'ホ'
    );
    if c == 'ウ' && by == 1 {
        return Some('ヴ');
    }
    voiceable.then(|| char::from_u32(u32::from(c) + by)).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kana_in_every_width_and_script_normalises_alike() {
        let expected = "カンジャタロウ";
        for name in ["カンジャ タロウ", "カンジャ　タロウ", "ｶﾝｼﾞｬ ﾀﾛｳ", "かんじゃ たろう", "カンジャタロウ"]
        {
            assert_eq!(normalize_for_match(name), expected, "{name:?}");
        }
        assert_eq!(normalize_for_match("ﾊﾟﾝｽﾎﾟﾘﾝ"), "パンスポリン");
        assert_eq!(normalize_for_match("ｳﾞｧｲｵﾘﾝ"), "ヴァイオリン");
        assert_eq!(normalize_for_match("ｱﾞ"), "ア゛");
        assert_eq!(normalize_for_match("ｶﾟ"), "カ゜");
    }

    #[test]
    fn ascii_dashes_and_waves_unify() {
        assert_eq!(normalize_for_match("Ｙａｍａｄａ taro"), "YAMADATARO");
        assert_eq!(normalize_for_match("１−３−５"), normalize_for_match("1－3-5"));
        assert_eq!(normalize_for_match("〜"), normalize_for_match("～"));
    }
}
