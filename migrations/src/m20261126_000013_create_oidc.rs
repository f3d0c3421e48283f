//! External sign-in (OpenID Connect): pending authorization requests (state,
//! nonce and PKCE verifier, single use, short-lived) and the external
//! identities (provider + subject) linked to accounts.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum OidcRequests {
    Table,
    Id,
    StateHash,
    Provider,
    Nonce,
    PkceVerifier,
    RedirectUri,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ExternalIdentities {
    Table,
    Id,
    Provider,
    Subject,
    AccountId,
    Email,
    CreatedAt,
    LastSignInAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Accounts {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use OidcRequests as R;
        manager
            .create_table(
                Table::create()
                    .table(R::Table)
                    .col(ColumnDef::new(R::Id).uuid().not_null().primary_key())
                    // SHA-256 of the state sent to the provider: the state itself is a bearer secret.
                    .col(ColumnDef::new(R::StateHash).string_len(64).not_null().unique_key())
                    .col(ColumnDef::new(R::Provider).string_len(64).not_null())
                    .col(ColumnDef::new(R::Nonce).string_len(64).not_null())
                    .col(ColumnDef::new(R::PkceVerifier).string_len(128).not_null())
                    .col(ColumnDef::new(R::RedirectUri).text().not_null())
                    .col(ColumnDef::new(R::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(R::ExpiresAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(R::UsedAt).timestamp_with_time_zone().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("ix_oidc_requests_expires").table(R::Table).col(R::ExpiresAt).to_owned(),
            )
            .await?;
        use ExternalIdentities as E;
        manager
            .create_table(
                Table::create()
                    .table(E::Table)
                    .col(ColumnDef::new(E::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(E::Provider).string_len(64).not_null())
                    .col(ColumnDef::new(E::Subject).string_len(255).not_null())
                    .col(ColumnDef::new(E::AccountId).uuid().not_null())
                    .col(ColumnDef::new(E::Email).string_len(320).null())
                    .col(ColumnDef::new(E::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(E::LastSignInAt).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(E::Table, E::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_external_identities_provider_subject")
                    .table(E::Table)
                    .col(E::Provider)
                    .col(E::Subject)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_external_identities_account")
                    .table(E::Table)
                    .col(E::AccountId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in [ExternalIdentities::Table.into_iden(), OidcRequests::Table.into_iden()] {
            manager.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
