//! Schema migrations, shared by `phr migrate`, start-up and the tests.
//! Shipped migrations are never edited: add a new file instead.

pub use sea_orm_migration::prelude::*;

mod m20261125_000001_create_accounts;
mod m20261126_000001_create_observations;
mod m20261126_000002_create_consent;
mod m20261126_000003_create_sync;
mod m20261126_000004_create_transfers;
mod m20261126_000005_create_observation_rollups;
mod m20261126_000006_create_medications;
mod m20261126_000007_create_org_clients;
mod m20261126_000008_create_clinical;
mod m20261126_000009_create_prescriptions;
mod m20261126_000010_add_clinical_review;
mod m20261126_000011_create_notifications;
mod m20261126_000012_create_public_health;
mod m20261126_000013_create_oidc;
mod m20261126_000014_add_export_indexes;
mod m20261207_000001_drop_oidc_request_secrets;
mod m20261207_000002_create_sync_floor_raises;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_create_accounts::Migration),
            Box::new(m20261126_000001_create_observations::Migration),
            Box::new(m20261126_000002_create_consent::Migration),
            Box::new(m20261126_000003_create_sync::Migration),
            Box::new(m20261126_000004_create_transfers::Migration),
            Box::new(m20261126_000005_create_observation_rollups::Migration),
            Box::new(m20261126_000006_create_medications::Migration),
            Box::new(m20261126_000007_create_org_clients::Migration),
            Box::new(m20261126_000008_create_clinical::Migration),
            Box::new(m20261126_000009_create_prescriptions::Migration),
            Box::new(m20261126_000010_add_clinical_review::Migration),
            Box::new(m20261126_000011_create_notifications::Migration),
            Box::new(m20261126_000012_create_public_health::Migration),
            Box::new(m20261126_000013_create_oidc::Migration),
            Box::new(m20261126_000014_add_export_indexes::Migration),
            Box::new(m20261207_000001_drop_oidc_request_secrets::Migration),
            Box::new(m20261207_000002_create_sync_floor_raises::Migration),
        ]
    }
}
