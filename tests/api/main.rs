//! End-to-end API tests: the real application over HTTP, each test on a fresh
//! SQLite and a fresh PostgreSQL database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod accounts;
mod auth;
mod clients;
mod clinical;
mod consent;
mod console;
mod contract;
mod contract_errors;
mod devices;
mod erasure;
mod export;
mod faults;
mod fcm;
mod limits;
mod matrix;
mod medications;
mod migrations;
mod notifications;
mod observations;
mod oidc;
mod operations;
mod privacy;
mod process;
mod public_health;
mod scale_out;
mod sync;
mod transfer;
