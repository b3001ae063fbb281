//! Providers repository.

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
};

use super::{
    KIND_MAX, NAME_MAX, STRATEGY_MAX, check_json, check_len, check_name, execute, vanished,
};
use crate::entities::providers::{self, Column};
use crate::{Result, Storage};

/// A provider to insert or update, keyed by `name`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewProvider {
    /// Unique name (1 to 128 characters).
    pub name: String,
    /// Provider kind (at most 64 characters).
    pub kind: String,
    /// Upstream base URL override.
    pub base_url: Option<String>,
    /// Provider-specific settings.
    pub settings: serde_json::Value,
    /// Whether the provider takes traffic.
    pub enabled: bool,
    /// How a credential is picked (`round_robin`, `weighted`,
    /// `least_in_flight`; at most 32 characters).
    pub credential_strategy: String,
}

/// A stored provider.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderRow {
    /// Surrogate key.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Provider kind.
    pub kind: String,
    /// Upstream base URL override.
    pub base_url: Option<String>,
    /// Provider-specific settings.
    pub settings: serde_json::Value,
    /// Whether the provider takes traffic.
    pub enabled: bool,
    /// How a credential is picked (`round_robin`, `weighted`,
    /// `least_in_flight`; at most 32 characters).
    pub credential_strategy: String,
}

impl From<providers::Model> for ProviderRow {
    fn from(m: providers::Model) -> Self {
        Self {
            id: m.id,
            name: m.name,
            kind: m.kind,
            base_url: m.base_url,
            settings: m.settings,
            enabled: m.enabled,
            credential_strategy: m.credential_strategy,
        }
    }
}

impl Storage {
    /// Inserts the provider, or, when one with the same name exists, updates
    /// its kind, base URL, settings, enabled flag and credential strategy. Returns the stored row.
    pub async fn upsert_provider(&self, p: &NewProvider) -> Result<ProviderRow> {
        check_name("providers.name", &p.name, NAME_MAX)?;
        check_len("providers.kind", &p.kind, KIND_MAX)?;
        check_json("providers.settings", &p.settings)?;
        check_len(
            "providers.credential_strategy",
            &p.credential_strategy,
            STRATEGY_MAX,
        )?;
        let now = Utc::now();
        let row = providers::ActiveModel {
            id: NotSet,
            name: Set(p.name.clone()),
            kind: Set(p.kind.clone()),
            base_url: Set(p.base_url.clone()),
            settings: Set(p.settings.clone()),
            enabled: Set(p.enabled),
            credential_strategy: Set(p.credential_strategy.clone()),
            created_at: Set(now),
            updated_at: Set(now),
        };
        let insert = providers::Entity::insert(row).on_conflict(
            OnConflict::column(Column::Name)
                .update_columns([
                    Column::Kind,
                    Column::BaseUrl,
                    Column::Settings,
                    Column::Enabled,
                    Column::CredentialStrategy,
                    Column::UpdatedAt,
                ])
                .to_owned(),
        );
        execute(self.connection(), &insert).await?;
        providers::Entity::find()
            .filter(Column::Name.eq(p.name.as_str()))
            .one(self.connection())
            .await?
            .map(ProviderRow::from)
            .ok_or_else(|| vanished("provider"))
    }

    /// Every provider, ordered by id.
    pub async fn list_providers(&self) -> Result<Vec<ProviderRow>> {
        let rows = providers::Entity::find()
            .order_by_asc(Column::Id)
            .all(self.connection())
            .await?;
        Ok(rows.into_iter().map(ProviderRow::from).collect())
    }

    /// The provider named `name`.
    pub async fn get_provider(&self, name: &str) -> Result<Option<ProviderRow>> {
        Ok(providers::Entity::find()
            .filter(Column::Name.eq(name))
            .one(self.connection())
            .await?
            .map(ProviderRow::from))
    }

    /// Deletes the provider named `name` with its credentials; whether it
    /// existed.
    pub async fn delete_provider(&self, name: &str) -> Result<bool> {
        let delete = providers::Entity::delete_many().filter(Column::Name.eq(name));
        Ok(execute(self.connection(), &delete).await? > 0)
    }
}
