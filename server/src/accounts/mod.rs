//! Accounts and sign-in: registration (with the holder's own person record),
//! OAuth 2.0 password and refresh-token grants with rotating refresh tokens,
//! revocation, and `/v1/me`.

pub mod erase;
pub mod http;
pub mod service;
pub mod store;
