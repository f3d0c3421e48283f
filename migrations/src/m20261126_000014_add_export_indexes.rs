//! Keyset reads of a person's lab results, prescriptions and facts by id (the
//! export pages through them 500 at a time): one index each, starting with the
//! person, so a page is an index range and not a sort of the whole record.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEXES: [(&str, &str); 3] = [
    ("ix_lab_results_person_id", "lab_results"),
    ("ix_prescriptions_person_id", "prescriptions"),
    ("ix_health_facts_person_id", "health_facts"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table) in INDEXES {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Alias::new(table))
                        .col(Alias::new("person_id"))
                        .col(Alias::new("id"))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table) in INDEXES {
            manager.drop_index(Index::drop().name(name).table(Alias::new(table)).to_owned()).await?;
        }
        Ok(())
    }
}
