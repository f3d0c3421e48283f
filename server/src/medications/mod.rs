//! Medications from e-medication-handbook (お薬手帳) QR codes: scanning
//! (whole sets or one symbol at a time), dispensings de-duplicated by content,
//! what the person takes now, the facts the QR carries (allergies, OTC drugs,
//! notes), the history written back as JAHIS, and counter share codes.

pub mod http;
pub mod service;
