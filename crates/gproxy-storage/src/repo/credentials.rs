//! Credentials repository.

use chrono::Utc;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter,
    QueryOrder,
};

use super::{KIND_MAX, NAME_MAX, check_json, check_len, check_name, conflict, execute, vanished};
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
    /// Bumped by every secret swap (see [`Storage::swap_credential_secret`]).
    pub version: i64,
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
            version: m.version,
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
            version: NotSet,
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

    /// The credential with this id.
    pub async fn get_credential(&self, id: i64) -> Result<Option<CredentialRow>> {
        Ok(credentials::Entity::find_by_id(id)
            .one(self.connection())
            .await?
            .map(CredentialRow::from))
    }

    /// The credentials of provider `provider_id`, ordered by id.
    pub async fn list_credentials_of(&self, provider_id: i64) -> Result<Vec<CredentialRow>> {
        let rows = credentials::Entity::find()
            .filter(Column::ProviderId.eq(provider_id))
            .order_by_asc(Column::Id)
            .all(self.connection())
            .await?;
        Ok(rows.into_iter().map(CredentialRow::from).collect())
    }

    /// Creates a credential; [`crate::StorageError::Conflict`] when the
    /// provider has one with this name.
    pub async fn create_credential(&self, c: &NewCredential) -> Result<CredentialRow> {
        check_name("credentials.name", &c.name, NAME_MAX)?;
        check_len("credentials.kind", &c.kind, KIND_MAX)?;
        check_json("credentials.secret", &c.secret)?;
        let now = Utc::now();
        let insert = credentials::Entity::insert(credentials::ActiveModel {
            id: NotSet,
            provider_id: Set(c.provider_id),
            name: Set(c.name.clone()),
            kind: Set(c.kind.clone()),
            secret: Set(c.secret.clone()),
            enabled: Set(c.enabled),
            weight: Set(i32::try_from(c.weight.max(1)).unwrap_or(i32::MAX)),
            created_at: Set(now),
            updated_at: Set(now),
            version: NotSet,
        });
        conflict(execute(self.connection(), &insert).await, || {
            format!("credential `{}`", c.name)
        })?;
        credentials::Entity::find()
            .filter(Column::ProviderId.eq(c.provider_id))
            .filter(Column::Name.eq(c.name.as_str()))
            .one(self.connection())
            .await?
            .map(CredentialRow::from)
            .ok_or_else(|| vanished("credential"))
    }

    /// Applies `patch` to credential `id`; `None` when there is no such row.
    pub async fn update_credential(
        &self,
        id: i64,
        patch: &CredentialPatch,
    ) -> Result<Option<CredentialRow>> {
        let mut row = <credentials::ActiveModel as Default>::default();
        if let Some(name) = &patch.name {
            check_name("credentials.name", name, NAME_MAX)?;
            row.name = Set(name.clone());
        }
        if let Some(enabled) = patch.enabled {
            row.enabled = Set(enabled);
        }
        if let Some(weight) = patch.weight {
            row.weight = Set(i32::try_from(weight.max(1)).unwrap_or(i32::MAX));
        }
        if let Some((kind, secret)) = &patch.secret {
            check_len("credentials.kind", kind, KIND_MAX)?;
            check_json("credentials.secret", secret)?;
            row.kind = Set(kind.clone());
            row.secret = Set(secret.clone());
        }
        if row.is_changed() {
            row.updated_at = Set(Utc::now());
            let mut update = credentials::Entity::update_many()
                .set(row)
                .filter(Column::Id.eq(id));
            if patch.secret.is_some() {
                // A refresh racing this edit must lose its compare-and-swap.
                update = update.col_expr(Column::Version, Expr::col(Column::Version).add(1));
            }
            let name = patch.name.clone().unwrap_or_default();
            conflict(execute(self.connection(), &update).await, || {
                format!("credential `{name}`")
            })?;
        }
        self.get_credential(id).await
    }

    /// Replaces credential `id`'s secret if its version is still
    /// `expected_version`, bumping the version: the compare-and-swap an
    /// OAuth refresh persists its rotated tokens with, so that of two
    /// instances refreshing the same credential only one wins. `Ok(true)`
    /// when this call won; `Ok(false)` when the row changed meanwhile (or is
    /// gone): re-read it and use the winner's tokens.
    pub async fn swap_credential_secret(
        &self,
        id: i64,
        expected_version: i64,
        secret: &serde_json::Value,
    ) -> Result<bool> {
        check_json("credentials.secret", secret)?;
        let update = credentials::Entity::update_many()
            .col_expr(Column::Secret, Expr::value(secret.clone()))
            .col_expr(Column::Version, Expr::col(Column::Version).add(1))
            .col_expr(Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(Column::Id.eq(id))
            .filter(Column::Version.eq(expected_version));
        Ok(execute(self.connection(), &update).await? == 1)
    }

    /// Deletes credential `id`; whether it existed.
    pub async fn delete_credential(&self, id: i64) -> Result<bool> {
        let delete = credentials::Entity::delete_many().filter(Column::Id.eq(id));
        Ok(execute(self.connection(), &delete).await? > 0)
    }
}

/// Changes to a credential; `None` keeps a field.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CredentialPatch {
    /// New name.
    pub name: Option<String>,
    /// New enabled flag.
    pub enabled: Option<bool>,
    /// New weight (at least 1).
    pub weight: Option<u32>,
    /// New kind and secret material.
    pub secret: Option<(String, serde_json::Value)>,
}
