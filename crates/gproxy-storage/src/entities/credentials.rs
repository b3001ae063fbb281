//! `credentials`: upstream credentials, unique by `(provider_id, name)`.
//!
//! `secret` holds provider API keys or OAuth token sets in plaintext by
//! design: the gateway must present them upstream.

use sea_orm::entity::prelude::*;

/// One credential.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "credentials")]
pub struct Model {
    /// Surrogate key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Owning provider; deleting the provider deletes its credentials.
    pub provider_id: i64,
    /// Name, unique within the provider (at most 128 characters).
    pub name: String,
    /// Credential kind, e.g. `api_key` or `oauth` (at most 64 characters).
    pub kind: String,
    /// The secret material as JSON.
    pub secret: Json,
    /// Whether the credential may be selected.
    pub enabled: bool,
    /// Relative weight for weighted selection (at least 1).
    pub weight: i32,
    /// When the row was created.
    pub created_at: DateTimeUtc,
    /// When the row was last upserted.
    pub updated_at: DateTimeUtc,
    /// Bumped by every secret swap ([`crate::Storage::swap_credential_secret`]):
    /// the compare-and-swap guard of OAuth refreshes across instances.
    pub version: i64,
}

/// Relations of `credentials`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// Each credential belongs to one provider.
    #[sea_orm(
        belongs_to = "super::providers::Entity",
        from = "Column::ProviderId",
        to = "super::providers::Column::Id",
        on_delete = "Cascade"
    )]
    Provider,
}

impl Related<super::providers::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Provider.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
