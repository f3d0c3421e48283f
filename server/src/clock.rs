//! Calendar dates as the people using the service live them. Everyone the
//! service serves is in Japan: "today" for a prescription's days of supply,
//! an age or a birth date is the date in JST, not in UTC (from 00:00 to
//! 09:00 JST the two disagree).

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Asia::Tokyo;

/// The JST calendar date at `now`.
pub fn date_jst(now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&Tokyo).date_naive()
}

/// Today's date in JST.
pub fn today_jst() -> NaiveDate {
    date_jst(Utc::now())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn jst_dates_turn_at_15_utc() {
        let before = Utc.with_ymd_and_hms(2026, 12, 7, 14, 59, 59).unwrap();
        let after = Utc.with_ymd_and_hms(2026, 12, 7, 15, 0, 0).unwrap();
        assert_eq!(date_jst(before), NaiveDate::from_ymd_opt(2026, 12, 7).unwrap());
        assert_eq!(date_jst(after), NaiveDate::from_ymd_opt(2026, 12, 8).unwrap());
    }
}
