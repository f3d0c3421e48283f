//! Emergency access by IC card: a clinician at a hospital or clinic taps the
//! card a resident carries and sees the minimum emergency dataset the person
//! allows; every opening is logged with the clinician's reason and the
//! person and family are told at once.

pub mod http;
pub mod service;
