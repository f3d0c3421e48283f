//! Pure health-data formats: parsers and writers with no database or HTTP code,
//! so they can be fuzzed, benchmarked and reused on their own.

pub mod hl7;
pub mod jahis;
pub mod ssmix2;
