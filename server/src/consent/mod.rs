//! Who may do what with whose record. Every data endpoint asks [`policy::authorize`]
//! with (caller, person, category, action); nothing else compares ids.

pub mod policy;

pub use policy::{Access, Action, authorize};
