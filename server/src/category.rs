//! Consent categories: the unit in which a person shares their record.
//! Every observation kind, medication, allergy… names exactly one category,
//! and the consent policy grants or denies access per category.

use std::fmt;
use std::str::FromStr;

/// Consent categories: the unit in which a person shares their record.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Vitals,
    Activity,
    Labs,
    Medications,
    Allergies,
    Conditions,
    Notes,
}

impl Category {
    /// Every category, in declaration order (also the `Ord` order).
    pub const ALL: [Category; 7] = [
        Category::Vitals,
        Category::Activity,
        Category::Labs,
        Category::Medications,
        Category::Allergies,
        Category::Conditions,
        Category::Notes,
    ];

    /// The wire and database spelling; identical to the serde form.
    pub const fn as_str(self) -> &'static str {
        match self {
            Category::Vitals => "vitals",
            Category::Activity => "activity",
            Category::Labs => "labs",
            Category::Medications => "medications",
            Category::Allergies => "allergies",
            Category::Conditions => "conditions",
            Category::Notes => "notes",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no category (e.g. in a `?category=` query).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown category {0:?}; expected one of: vitals, activity, labs, medications, allergies, conditions, notes"
)]
pub struct UnknownCategory(pub String);

impl FromStr for Category {
    type Err = UnknownCategory;

    /// Exact, case-sensitive match on the snake_case spelling, like serde.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Category::ALL.into_iter().find(|c| c.as_str() == s).ok_or_else(|| UnknownCategory(s.to_owned()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn as_str_from_str_and_serde_agree_for_every_category() {
        for c in Category::ALL {
            assert_eq!(c.as_str().parse::<Category>().unwrap(), c);
            assert_eq!(serde_json::to_string(&c).unwrap(), format!("\"{}\"", c.as_str()));
            assert_eq!(c.to_string(), c.as_str());
        }
    }

    #[test]
    fn unknown_or_miscased_category_is_rejected() {
        assert_eq!("Vitals".parse::<Category>(), Err(UnknownCategory("Vitals".to_owned())));
        assert!("".parse::<Category>().is_err());
    }

    #[test]
    fn all_is_sorted_and_complete() {
        let mut sorted = Category::ALL;
        sorted.sort();
        assert_eq!(sorted, Category::ALL);
    }
}
