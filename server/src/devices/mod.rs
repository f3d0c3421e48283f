//! An account's devices (phones, tablets, web sessions) and their push tokens;
//! notifications are delivered to these.

pub mod http;
pub mod service;
pub mod store;
