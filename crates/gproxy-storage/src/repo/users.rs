//! Users and user keys repository.
//!
//! User keys are only ever stored as a hash and a short display prefix.

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
};

use super::{NAME_MAX, check_len, check_name, execute, vanished};
use crate::entities::{user_keys, users};
use crate::{Result, Storage, StorageError};

/// Longest key hash, matching `VARCHAR(64)` (SHA-256 in hex).
const KEY_HASH_MAX: usize = 64;
/// Longest key prefix, matching `VARCHAR(32)`.
const KEY_PREFIX_MAX: usize = 32;

/// A stored user.
#[derive(Debug, Clone, PartialEq)]
pub struct UserRow {
    /// Surrogate key.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Whether the user may authenticate.
    pub enabled: bool,
}

impl From<users::Model> for UserRow {
    fn from(m: users::Model) -> Self {
        Self {
            id: m.id,
            name: m.name,
            enabled: m.enabled,
        }
    }
}

/// A stored user key.
#[derive(Debug, Clone, PartialEq)]
pub struct UserKeyRow {
    /// Surrogate key.
    pub id: i64,
    /// Owning user.
    pub user_id: i64,
    /// Unique hash of the key.
    pub key_hash: String,
    /// The first characters of the key, for display.
    pub key_prefix: String,
    /// Whether the key may authenticate.
    pub enabled: bool,
}

impl From<user_keys::Model> for UserKeyRow {
    fn from(m: user_keys::Model) -> Self {
        Self {
            id: m.id,
            user_id: m.user_id,
            key_hash: m.key_hash,
            key_prefix: m.key_prefix,
            enabled: m.enabled,
        }
    }
}

impl Storage {
    /// Returns the user named `name`, creating it (enabled) if missing. An
    /// existing user is returned unchanged, including its enabled flag.
    pub async fn upsert_user(&self, name: &str) -> Result<UserRow> {
        check_name("users.name", name, NAME_MAX)?;
        let row = users::ActiveModel {
            id: NotSet,
            name: Set(name.to_owned()),
            enabled: Set(true),
            created_at: Set(Utc::now()),
        };
        // `name = excluded.name` is a no-op that works on all backends
        // (MySQL has no `DO NOTHING`).
        let insert = users::Entity::insert(row).on_conflict(
            OnConflict::column(users::Column::Name)
                .update_column(users::Column::Name)
                .to_owned(),
        );
        execute(self.connection(), &insert).await?;
        users::Entity::find()
            .filter(users::Column::Name.eq(name))
            .one(self.connection())
            .await?
            .map(UserRow::from)
            .ok_or_else(|| vanished("user"))
    }

    /// Every user, ordered by id.
    pub async fn list_users(&self) -> Result<Vec<UserRow>> {
        let rows = users::Entity::find()
            .order_by_asc(users::Column::Id)
            .all(self.connection())
            .await?;
        Ok(rows.into_iter().map(UserRow::from).collect())
    }

    /// Returns the key with this hash, creating it (enabled) for `user_id` if
    /// missing. An existing key is returned unchanged; if it belongs to
    /// another user this fails with [`StorageError::InvalidValue`] rather
    /// than move the key. Fails if the user does not exist.
    pub async fn upsert_user_key(
        &self,
        user_id: i64,
        key_hash: &str,
        key_prefix: &str,
    ) -> Result<UserKeyRow> {
        check_name("user_keys.key_hash", key_hash, KEY_HASH_MAX)?;
        check_len("user_keys.key_prefix", key_prefix, KEY_PREFIX_MAX)?;
        let row = user_keys::ActiveModel {
            id: NotSet,
            user_id: Set(user_id),
            key_hash: Set(key_hash.to_owned()),
            key_prefix: Set(key_prefix.to_owned()),
            enabled: Set(true),
            created_at: Set(Utc::now()),
        };
        let insert = user_keys::Entity::insert(row).on_conflict(
            OnConflict::column(user_keys::Column::KeyHash)
                .update_column(user_keys::Column::KeyHash)
                .to_owned(),
        );
        execute(self.connection(), &insert).await?;
        let stored = user_keys::Entity::find()
            .filter(user_keys::Column::KeyHash.eq(key_hash))
            .one(self.connection())
            .await?
            .map(UserKeyRow::from)
            .ok_or_else(|| vanished("user key"))?;
        if stored.user_id != user_id {
            return Err(StorageError::invalid(
                "user_keys.key_hash",
                format!("already belongs to user {}", stored.user_id),
            ));
        }
        Ok(stored)
    }

    /// Every user key, ordered by id.
    pub async fn list_user_keys(&self) -> Result<Vec<UserKeyRow>> {
        let rows = user_keys::Entity::find()
            .order_by_asc(user_keys::Column::Id)
            .all(self.connection())
            .await?;
        Ok(rows.into_iter().map(UserKeyRow::from).collect())
    }
}
