//! The person's record on one line: home readings, lab results, hospital
//! prescriptions, pharmacy dispensings, allergies, conditions and notes,
//! newest first, each naming its source, dispensings linked to the
//! prescriptions they fill.

pub mod crosslink;
pub mod http;
pub mod model;
pub mod service;
