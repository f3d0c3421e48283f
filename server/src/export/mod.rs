//! The whole record in a standard format: a FHIR R4 Bundle, FHIR NDJSON or
//! observations as CSV, streamed page by page so a large record never sits in
//! memory. `fhir` and `csv` are pure mappings; `service` reads and streams.

pub mod csv;
pub mod fhir;
pub mod http;
pub mod service;
