//! Who is calling: password hashing, signed access tokens, opaque refresh
//! tokens, and the `Caller` extractor every protected handler takes.

pub mod caller;
pub mod keys;
pub mod password;
pub mod tokens;

pub use caller::{Caller, FacilityClient, UncheckedCaller};
pub use keys::Keyring;
