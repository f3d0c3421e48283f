//! A pending external sign-in keeps no secret in the database: its nonce and
//! PKCE verifier are now derived on demand from the state (which only the
//! browser holds; the row keeps its SHA-256) under the server's HMAC key.
//! Requests pending at upgrade time are dropped: they live ten minutes, and a
//! user simply starts the sign-in again.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum OidcRequests {
    Table,
    Nonce,
    PkceVerifier,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use OidcRequests as R;
        manager.exec_stmt(Query::delete().from_table(R::Table).to_owned()).await?;
        for col in [R::Nonce, R::PkceVerifier] {
            manager.alter_table(Table::alter().table(R::Table).drop_column(col).to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use OidcRequests as R;
        manager.exec_stmt(Query::delete().from_table(R::Table).to_owned()).await?;
        for (col, len) in [(R::Nonce, 64), (R::PkceVerifier, 128)] {
            manager
                .alter_table(
                    Table::alter()
                        .table(R::Table)
                        .add_column(ColumnDef::new(col).string_len(len).not_null().default(""))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
