//! Who may do what with whose record: guardians, organisations, grants,
//! invitations, and the access log. Every data endpoint asks
//! [`policy::authorize`] with (caller, person, scope, action); nothing else
//! compares ids.

pub mod audit;
pub mod http;
pub mod model;
pub mod policy;
pub mod service;
pub mod store;

pub use policy::{Access, Action, Scope, authorize};
