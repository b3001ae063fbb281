//! `providers`: configured upstream providers, unique by name.

use sea_orm::entity::prelude::*;

/// One provider.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "providers")]
pub struct Model {
    /// Surrogate key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Unique provider name (at most 128 characters), used in routes.
    #[sea_orm(unique)]
    pub name: String,
    /// Provider kind, e.g. a built-in name or `custom` (at most 64 characters).
    pub kind: String,
    /// Upstream base URL override.
    #[sea_orm(column_type = "Text", nullable)]
    pub base_url: Option<String>,
    /// Provider-specific settings as JSON.
    pub settings: Json,
    /// Whether the provider takes traffic.
    pub enabled: bool,
    /// How a credential is picked: `round_robin`, `weighted`,
    /// `least_in_flight` (at most 32 characters).
    pub credential_strategy: String,
    /// When the row was created.
    pub created_at: DateTimeUtc,
    /// When the row was last upserted.
    pub updated_at: DateTimeUtc,
}

/// Relations of `providers`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// A provider has many credentials.
    #[sea_orm(has_many = "super::credentials::Entity")]
    Credentials,
}

impl Related<super::credentials::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Credentials.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
