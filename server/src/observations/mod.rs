//! Patient-entered observations from health apps: typed by the catalogue,
//! uploaded in idempotent batches, listed, summarised and de-duplicated across
//! a patient's devices.

pub mod catalogue;
pub mod http;
pub mod model;
pub mod rollup;
pub mod service;
pub mod store;
pub mod summary;

/// Value slots per row: the most components any kind has (blood pressure: 3).
pub const SLOTS: usize = 3;
