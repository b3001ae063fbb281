//! Credentials repository.

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
};

use super::{KIND_MAX, NAME_MAX, check_json, check_len, check_name, execute, vanished};
use crate::entities::credentials::{self, Column};
use crate::{Result, Storage};

/// A credential to insert or update, keyed by `(provider_id, name)`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCredential {
    /// Owning provider; must exist.
    pub provider_id: i64,
    /// Name, unique within the provider (1 to 128 characters).
    pub name: String,
    /// Credential kind (at most 64 characters).
    pub kind: String,
    /// The secret material (plaintext by design: it is presented upstream).
    pub secret: serde_json::Value,
    /// Whether the credential may be selected.
    pub enabled: bool,
    /// Relative weight for weighted selection (at least 1).
    pub weight: u32,
}

/// A stored credential.
#[derive(Debug, Clone, PartialEq)]
pub struct CredentialRow {
    /// Surrogate key.
    pub id: i64,
    /// Owning provider.
    pub provider_id: i64,
    /// Name, unique within the provider.
    pub name: String,
    /// Credential kind.
    pub kind: String,
    /// The secret material.
    pub secret: serde_json::Value,
    /// Whether the credential may be selected.
    pub enabled: bool,
    /// Relative weight for weighted selection (at least 1).
    pub weight: u32,
}

impl From<credentials::Model> for CredentialRow {
    fn from(m: credentials::Model) -> Self {
        Self {
            id: m.id,
            provider_id: m.provider_id,
            name: m.name,
            kind: m.kind,
            secret: m.secret,
            enabled: m.enabled,
            weight: u32::try_from(m.weight).unwrap_or(1).max(1),
        }
    }
}

impl Storage {
    /// Inserts the credential, or, when the provider already has one with
    /// this name, updates its kind, secret and enabled flag. Fails if the
    /// provider does not exist. Returns the stored row.
    pub async fn upsert_credential(&self, c: &NewCredential) -> Result<CredentialRow> {
        check_name("credentials.name", &c.name, NAME_MAX)?;
        check_len("credentials.kind", &c.kind, KIND_MAX)?;
        check_json("credentials.secret", &c.secret)?;
        let now = Utc::now();
        let row = credentials::ActiveModel {
            id: NotSet,
            provider_id: Set(c.provider_id),
            name: Set(c.name.clone()),
            kind: Set(c.kind.clone()),
            secret: Set(c.secret.clone()),
            enabled: Set(c.enabled),
            weight: Set(i32::try_from(c.weight.max(1)).unwrap_or(i32::MAX)),
            created_at: Set(now),
            updated_at: Set(now),
        };
        let insert = credentials::Entity::insert(row).on_conflict(
            OnConflict::columns([Column::ProviderId, Column::Name])
                .update_columns([
                    Column::Kind,
                    Column::Secret,
                    Column::Enabled,
                    Column::Weight,
                    Column::UpdatedAt,
                ])
                .to_owned(),
        );
        execute(self.connection(), &insert).await?;
        credentials::Entity::find()
            .filter(Column::ProviderId.eq(c.provider_id))
            .filter(Column::Name.eq(c.name.as_str()))
            .one(self.connection())
            .await?
            .map(CredentialRow::from)
            .ok_or_else(|| vanished("credential"))
    }

    /// Every credential, ordered by id.
    pub async fn list_credentials(&self) -> Result<Vec<CredentialRow>> {
        let rows = credentials::Entity::find()
            .order_by_asc(Column::Id)
            .all(self.connection())
            .await?;
        Ok(rows.into_iter().map(CredentialRow::from).collect())
    }
}
