//! The vocabulary of consent: purposes, access levels, organisation kinds and
//! roles, and which roles act on which purpose.

use std::collections::BTreeSet;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::category::Category;

macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $s:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),* }
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($s => Ok($name::$variant),)*
                    _ => Err(format!(
                        "must be one of {}",
                        [$($s),*].join(", ")
                    )),
                }
            }
        }
    };
}

wire_enum!(
    /// Why access is given.
    Purpose { Family = "family", Care = "care", PublicHealth = "public_health", Pharmacy = "pharmacy", Treatment = "treatment" }
);
wire_enum!(
    /// `write` implies `read`.
    AccessLevel { Read = "read", Write = "write" }
);
wire_enum!(
    OrgKind { Municipality = "municipality", Hospital = "hospital", Clinic = "clinic", Lab = "lab", Pharmacy = "pharmacy" }
);
wire_enum!(
    OrgRole { Admin = "admin", Nurse = "nurse", Clinician = "clinician", Pharmacist = "pharmacist" }
);
wire_enum!(
    GrantStatus { Active = "active", Pending = "pending", Revoked = "revoked", Expired = "expired" }
);

impl Purpose {
    /// Members with these roles act on an organisation's grant of this purpose.
    /// Admins manage membership and see no records.
    pub fn acting_roles(self) -> &'static [OrgRole] {
        match self {
            Purpose::Family => &[],
            Purpose::Care => &[OrgRole::Nurse, OrgRole::Clinician],
            Purpose::PublicHealth => &[OrgRole::Nurse],
            Purpose::Pharmacy => &[OrgRole::Pharmacist],
            Purpose::Treatment => &[OrgRole::Clinician, OrgRole::Nurse],
        }
    }
}

pub fn categories_to_csv(c: &BTreeSet<Category>) -> String {
    c.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(",")
}

pub fn categories_from_csv(s: &str) -> BTreeSet<Category> {
    s.split(',').filter_map(|c| c.trim().parse().ok()).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip() {
        for p in Purpose::ALL {
            assert_eq!(p.as_str().parse::<Purpose>(), Ok(*p));
        }
        assert!("friends".parse::<Purpose>().unwrap_err().contains("public_health"));
        let set: BTreeSet<Category> = [Category::Vitals, Category::Medications].into();
        assert_eq!(categories_to_csv(&set), "vitals,medications");
        assert_eq!(categories_from_csv("vitals,medications"), set);
    }

    #[test]
    fn nurses_act_for_public_health_and_pharmacists_for_pharmacies() {
        assert_eq!(Purpose::PublicHealth.acting_roles(), &[OrgRole::Nurse]);
        assert!(!Purpose::Pharmacy.acting_roles().contains(&OrgRole::Admin));
    }
}
