//! Dates as the specification writes them: Gregorian `YYYYMMDD` or Japanese era `GYYMMDD`
//! with G one of M/T/S/H/R (明治, 大正, 昭和, 平成, 令和).

use chrono::NaiveDate;

use super::text::fold_width;

/// What a date field must look like, for error messages.
pub(crate) const EXPECTED_DATE: &str = "a date as YYYYMMDD or as an era date GYYMMDD (G = M, T, S, H or R)";

/// Parses a JAHIS date field: `20200410`, `R020410`, `S330303`. Surrounding spaces and
/// full-width characters are accepted.
///
/// Era years count from 1 (元年 = 01). A year past an era's end (`H32` = 2020) is accepted
/// and counted on, as systems that were not updated at an era change write it; year 00 and
/// impossible days (`R020230`) are not.
#[must_use]
pub fn parse_date(field: &str) -> Option<NaiveDate> {
    let folded = fold_width(field.trim());
    let bytes = folded.as_bytes();
    match bytes {
        [y1, y2, y3, y4, m1, m2, d1, d2] => {
            let year = digits(&[*y1, *y2, *y3, *y4])?;
            NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, digits(&[*m1, *m2])?, digits(&[*d1, *d2])?)
        }
        [era, y1, y2, m1, m2, d1, d2] => {
            let offset = match era.to_ascii_uppercase() {
                b'M' => 1867,
                b'T' => 1911,
                b'S' => 1925,
                b'H' => 1988,
                b'R' => 2018,
                _ => return None,
            };
            let year = digits(&[*y1, *y2])?;
            if year == 0 {
                return None;
            }
            NaiveDate::from_ymd_opt(
                offset + i32::try_from(year).ok()?,
                digits(&[*m1, *m2])?,
                digits(&[*d1, *d2])?,
            )
        }
        _ => None,
    }
}

fn digits(bytes: &[u8]) -> Option<u32> {
    bytes.iter().try_fold(0u32, |acc, &b| b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0')))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(y, m, d)
    }

    #[test]
    fn every_era_converts_to_its_gregorian_year() {
        assert_eq!(parse_date("M450729"), ymd(1912, 7, 29));
        assert_eq!(parse_date("T010730"), ymd(1912, 7, 30));
        assert_eq!(parse_date("T151224"), ymd(1926, 12, 24));
        assert_eq!(parse_date("S011225"), ymd(1926, 12, 25));
        assert_eq!(parse_date("S330303"), ymd(1958, 3, 3));
        assert_eq!(parse_date("S640107"), ymd(1989, 1, 7));
        assert_eq!(parse_date("H010108"), ymd(1989, 1, 8));
        assert_eq!(parse_date("H310430"), ymd(2019, 4, 30));
        assert_eq!(parse_date("R010501"), ymd(2019, 5, 1));
        assert_eq!(parse_date("R020410"), ymd(2020, 4, 10));
    }

    #[test]
    fn gregorian_dates_parse() {
        assert_eq!(parse_date("19580303"), ymd(1958, 3, 3));
        assert_eq!(parse_date("20240229"), ymd(2024, 2, 29));
    }

    #[test]
    fn spaces_lower_case_and_full_width_are_accepted() {
        assert_eq!(parse_date(" R020410 "), ymd(2020, 4, 10));
        assert_eq!(parse_date("r020410"), ymd(2020, 4, 10));
        assert_eq!(parse_date("Ｒ０２０４１０"), ymd(2020, 4, 10));
    }

    #[test]
    fn an_era_year_past_the_era_end_counts_on() {
        assert_eq!(parse_date("H320410"), ymd(2020, 4, 10));
    }

    #[test]
    fn malformed_dates_are_rejected() {
        for bad in [
            "",
            "R02041",
            "R0204100",
            "X020410",
            "R000410",
            "R021310",
            "R020230",
            "20230229",
            "2020-04-10",
            "R02-4-1",
            "２０２０年",
            "R０２０４１Ａ",
        ] {
            assert_eq!(parse_date(bad), None, "{bad:?}");
        }
    }
}
