//! Programme statistics without re-identification: counts below
//! [`MIN_CELL`] are suppressed, and when a row of cells would have exactly one
//! suppressed cell next to a shown total, the next smallest cell is
//! suppressed too (otherwise the hidden one is the total minus the others).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The smallest count shown.
pub const MIN_CELL: usize = 5;

/// One resident as the statistics see them.
#[derive(Debug, Clone)]
pub struct Resident {
    pub age_band: String,
    pub sex: String,
    pub recent_upload: bool,
    pub above_threshold: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Cell {
    /// `null` when suppressed.
    pub enrolled: Option<usize>,
    /// Share (0–1) with an upload in the last 7 days; `null` when suppressed.
    pub recent_upload_share: Option<f64>,
    /// Share with an open alert from the programme's rules; `null` when suppressed.
    pub above_threshold_share: Option<f64>,
    pub suppressed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Band {
    /// `0-39`, `40-64`, `65-74`, `75+` or `unknown`.
    pub age_band: String,
    /// `male`, `female` or `unknown`.
    pub sex: String,
    #[serde(flatten)]
    pub cell: Cell,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    pub total: Cell,
    pub bands: Vec<Band>,
    /// Cells with fewer people than this are not shown.
    pub min_cell: usize,
}

/// The age band of an age in years.
pub fn age_band(age: Option<i32>) -> &'static str {
    match age {
        None => "unknown",
        Some(a) if a < 40 => "0-39",
        Some(a) if a < 65 => "40-64",
        Some(a) if a < 75 => "65-74",
        Some(_) => "75+",
    }
}

fn cell(rs: &[&Resident], show: bool) -> Cell {
    if !show {
        return Cell { suppressed: true, ..Cell::default() };
    }
    let n = rs.len();
    let share = |f: fn(&Resident) -> bool| {
        let k = rs.iter().filter(|r| f(r)).count();
        // A share of a shown cell is shown unless it singles out fewer than MIN_CELL people
        // on either side (k or n − k small would tell who uploaded or who did not).
        (k == 0 || k == n || (k >= MIN_CELL && n - k >= MIN_CELL)).then(|| k as f64 / n as f64)
    };
    Cell {
        enrolled: Some(n),
        recent_upload_share: share(|r| r.recent_upload),
        above_threshold_share: share(|r| r.above_threshold),
        suppressed: false,
    }
}

pub fn compute(residents: &[Resident]) -> Stats {
    let all: Vec<&Resident> = residents.iter().collect();
    let total_shown = all.len() >= MIN_CELL;
    let mut groups: BTreeMap<(String, String), Vec<&Resident>> = BTreeMap::new();
    for r in residents {
        groups.entry((r.age_band.clone(), r.sex.clone())).or_default().push(r);
    }
    let mut show: BTreeMap<(String, String), bool> =
        groups.iter().map(|(k, v)| (k.clone(), v.len() >= MIN_CELL)).collect();
    // Complementary suppression: never exactly one hidden cell beside a shown total.
    let hidden = show.values().filter(|s| !**s).count();
    if total_shown && hidden == 1 {
        let next = groups
            .iter()
            .filter(|(k, _)| show.get(*k).copied().unwrap_or(false))
            .min_by_key(|(_, v)| v.len())
            .map(|(k, _)| k.clone());
        if let Some(k) = next {
            show.insert(k, false);
        }
    }
    let bands = groups
        .iter()
        .map(|((age, sex), rs)| Band {
            age_band: age.clone(),
            sex: sex.clone(),
            cell: cell(rs, show.get(&(age.clone(), sex.clone())).copied().unwrap_or(false)),
        })
        .collect();
    Stats { total: cell(&all, total_shown), bands, min_cell: MIN_CELL }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn r(age: &str, sex: &str, up: bool, above: bool) -> Resident {
        Resident { age_band: age.into(), sex: sex.into(), recent_upload: up, above_threshold: above }
    }

    #[test]
    fn small_cells_are_hidden_and_never_alone() {
        let mut rs: Vec<Resident> = (0..6).map(|i| r("65-74", "female", i < 3, false)).collect();
        rs.extend((0..7).map(|_| r("75+", "male", true, false)));
        rs.extend((0..2).map(|_| r("40-64", "male", true, true)));
        let s = compute(&rs);
        assert_eq!(s.total.enrolled, Some(15));
        let by = |age: &str| s.bands.iter().find(|b| b.age_band == age).unwrap().cell.clone();
        assert!(by("40-64").suppressed && by("40-64").enrolled.is_none());
        // Only one cell under 5: the smallest shown one (6 women 65-74) goes too.
        assert!(by("65-74").suppressed);
        assert_eq!(by("75+").enrolled, Some(7));
        // 2 of 15 above threshold would single out two people: not shown.
        assert_eq!(s.total.above_threshold_share, None);
        assert_eq!(by("75+").recent_upload_share, Some(1.0));
    }

    #[test]
    fn fewer_than_five_in_all_shows_nothing() {
        let rs: Vec<Resident> = (0..4).map(|_| r("75+", "male", true, true)).collect();
        let s = compute(&rs);
        assert!(s.total.suppressed && s.total.enrolled.is_none());
        assert!(s.bands.iter().all(|b| b.cell.suppressed));
    }

    #[test]
    fn bands_follow_age() {
        assert_eq!(age_band(Some(39)), "0-39");
        assert_eq!(age_band(Some(64)), "40-64");
        assert_eq!(age_band(Some(74)), "65-74");
        assert_eq!(age_band(Some(90)), "75+");
        assert_eq!(age_band(None), "unknown");
    }
}
