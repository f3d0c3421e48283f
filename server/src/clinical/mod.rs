//! Clinical data from the regional network's facilities (SS-MIX2): uploads by
//! facility clients, patient links made by facility staff, quarantine of
//! documents for unlinked patients, and lab results imported from them.
//! Parsing is `phr_formats::ssmix2`; `transfer` is the facility-side program
//! that sends a whole storage folder.

pub mod demographics;
pub mod http;
pub mod service;
pub mod transfer;
