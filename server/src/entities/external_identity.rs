use sea_orm::entity::prelude::*;

/// An account's identity at an OpenID provider: `(provider, subject)` is unique.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "external_identities")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The configured provider name, not its issuer URL.
    pub provider: String,
    /// The ID token's `sub`.
    pub subject: String,
    pub account_id: Uuid,
    /// The verified email at the time of linking.
    pub email: Option<String>,
    pub created_at: DateTimeUtc,
    pub last_sign_in_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
