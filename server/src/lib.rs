//! PHR server: a personal health record API and sync service.
//!
//! Layers: `http` handlers → `service` (rules, transactions) → `store`
//! (sea-orm queries), grouped by capability.

pub mod accounts;
pub mod alerts;
pub mod auth;
pub mod category;
pub mod cli;
pub mod clinical;
pub mod clock;
pub mod config;
pub mod consent;
pub mod console;
pub mod db;
pub mod devices;
pub mod emergency;
pub mod entities;
pub mod error;
pub mod export;
pub mod hash;
pub mod health;
pub mod http;
pub mod medications;
pub mod notify;
pub mod observations;
pub mod oidc;
pub mod openapi;
pub mod orgs;
pub mod public_health;
pub mod startup;
pub mod sync;
pub mod telemetry;
pub mod timeline;

pub use config::Settings;
pub use startup::{AppState, Application};
