//! Users and user keys repository.
//!
//! User keys are only ever stored as a hash and a short display prefix.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter,
    QueryOrder,
};

use super::{NAME_MAX, check_len, check_name, conflict, execute, vanished};
use crate::entities::{user_keys, users};
use crate::{Result, Storage, StorageError};

/// Longest key hash, matching `VARCHAR(64)` (SHA-256 in hex).
const KEY_HASH_MAX: usize = 64;
/// Longest key prefix, matching `VARCHAR(32)`.
const KEY_PREFIX_MAX: usize = 32;
/// Longest role or key scope, matching `VARCHAR(16)`.
const ROLE_MAX: usize = 16;

/// A stored user.
#[derive(Debug, Clone, PartialEq)]
pub struct UserRow {
    /// Surrogate key.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Whether the user may authenticate.
    pub enabled: bool,
    /// `admin`, `viewer` or `user`.
    pub role: String,
    /// The argon2id PHC string of the password, when set.
    pub password_hash: Option<String>,
    /// When the row was created.
    pub created_at: DateTime<Utc>,
}

impl From<users::Model> for UserRow {
    fn from(m: users::Model) -> Self {
        Self {
            id: m.id,
            name: m.name,
            enabled: m.enabled,
            role: m.role,
            password_hash: m.password_hash,
            created_at: m.created_at,
        }
    }
}

/// A user to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewUser {
    /// Unique name (1 to 128 characters).
    pub name: String,
    /// `admin`, `viewer` or `user`.
    pub role: String,
    /// The argon2id PHC string of the password, if any.
    pub password_hash: Option<String>,
    /// Whether the user may authenticate.
    pub enabled: bool,
}

/// Changes to a user; `None` keeps a field.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserPatch {
    /// New name.
    pub name: Option<String>,
    /// New role.
    pub role: Option<String>,
    /// New enabled flag.
    pub enabled: Option<bool>,
    /// New password hash (`Some(None)` removes the password).
    pub password_hash: Option<Option<String>>,
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
    /// A label for people.
    pub label: Option<String>,
    /// When the key stops working.
    pub expires_at: Option<DateTime<Utc>>,
    /// Providers the key may use (`None`: any).
    pub allowed_providers: Option<Vec<String>>,
    /// Models the key may use (`None`: any).
    pub allowed_models: Option<Vec<String>>,
    /// The most one request may cost, nano-dollars (`None`: no ceiling).
    pub max_cost_nano_usd: Option<i64>,
    /// `proxy` or `admin`.
    pub scope: String,
    /// When the key was created.
    pub created_at: DateTime<Utc>,
}

fn string_list(value: Option<serde_json::Value>) -> Option<Vec<String>> {
    value.and_then(|v| serde_json::from_value(v).ok())
}

fn list_json(list: Option<&Vec<String>>) -> Option<serde_json::Value> {
    list.map(|l| serde_json::Value::from(l.clone()))
}

impl From<user_keys::Model> for UserKeyRow {
    fn from(m: user_keys::Model) -> Self {
        Self {
            id: m.id,
            user_id: m.user_id,
            key_hash: m.key_hash,
            key_prefix: m.key_prefix,
            enabled: m.enabled,
            label: m.label,
            expires_at: m.expires_at,
            allowed_providers: string_list(m.allowed_providers),
            allowed_models: string_list(m.allowed_models),
            max_cost_nano_usd: m.max_cost_nano_usd,
            scope: m.scope,
            created_at: m.created_at,
        }
    }
}

/// A user key to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewUserKey {
    /// Owning user; must exist.
    pub user_id: i64,
    /// SHA-256 of the key, hex.
    pub key_hash: String,
    /// The key's visible prefix.
    pub key_prefix: String,
    /// A label for people.
    pub label: Option<String>,
    /// When the key stops working.
    pub expires_at: Option<DateTime<Utc>>,
    /// Providers the key may use (`None`: any).
    pub allowed_providers: Option<Vec<String>>,
    /// Models the key may use (`None`: any).
    pub allowed_models: Option<Vec<String>>,
    /// The most one request may cost, nano-dollars (`None`: no ceiling).
    pub max_cost_nano_usd: Option<i64>,
    /// `proxy` or `admin`.
    pub scope: String,
    /// Whether the key may authenticate.
    pub enabled: bool,
}

/// Changes to a user key; `None` keeps a field, `Some(None)` clears an
/// optional one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserKeyPatch {
    /// New label.
    pub label: Option<Option<String>>,
    /// New enabled flag.
    pub enabled: Option<bool>,
    /// New expiry.
    pub expires_at: Option<Option<DateTime<Utc>>>,
    /// New provider allow-list.
    pub allowed_providers: Option<Option<Vec<String>>>,
    /// New model allow-list.
    pub allowed_models: Option<Option<Vec<String>>>,
    /// New per-request cost ceiling, nano-dollars.
    pub max_cost_nano_usd: Option<Option<i64>>,
}

impl Storage {
    /// Returns the user named `name`, creating it (enabled, role `user`) if
    /// missing. An existing user is returned unchanged.
    pub async fn upsert_user(&self, name: &str) -> Result<UserRow> {
        check_name("users.name", name, NAME_MAX)?;
        let row = users::ActiveModel {
            id: NotSet,
            name: Set(name.to_owned()),
            enabled: Set(true),
            role: Set("user".to_owned()),
            password_hash: Set(None),
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
        self.find_user_by_name(name)
            .await?
            .ok_or_else(|| vanished("user"))
    }

    /// Creates a user; [`StorageError::Conflict`] when the name is taken.
    pub async fn create_user(&self, u: &NewUser) -> Result<UserRow> {
        check_name("users.name", &u.name, NAME_MAX)?;
        check_name("users.role", &u.role, ROLE_MAX)?;
        let row = users::ActiveModel {
            id: NotSet,
            name: Set(u.name.clone()),
            enabled: Set(u.enabled),
            role: Set(u.role.clone()),
            password_hash: Set(u.password_hash.clone()),
            created_at: Set(Utc::now()),
        };
        let insert = users::Entity::insert(row);
        conflict(execute(self.connection(), &insert).await, || {
            format!("user `{}`", u.name)
        })?;
        self.find_user_by_name(&u.name)
            .await?
            .ok_or_else(|| vanished("user"))
    }

    /// The user with this id.
    pub async fn get_user(&self, id: i64) -> Result<Option<UserRow>> {
        Ok(users::Entity::find_by_id(id)
            .one(self.connection())
            .await?
            .map(UserRow::from))
    }

    /// The user with this name.
    pub async fn find_user_by_name(&self, name: &str) -> Result<Option<UserRow>> {
        Ok(users::Entity::find()
            .filter(users::Column::Name.eq(name))
            .one(self.connection())
            .await?
            .map(UserRow::from))
    }

    /// Applies `patch` to user `id`; `None` when there is no such user.
    pub async fn update_user(&self, id: i64, patch: &UserPatch) -> Result<Option<UserRow>> {
        let mut row = <users::ActiveModel as Default>::default();
        if let Some(name) = &patch.name {
            check_name("users.name", name, NAME_MAX)?;
            row.name = Set(name.clone());
        }
        if let Some(role) = &patch.role {
            check_name("users.role", role, ROLE_MAX)?;
            row.role = Set(role.clone());
        }
        if let Some(enabled) = patch.enabled {
            row.enabled = Set(enabled);
        }
        if let Some(hash) = &patch.password_hash {
            row.password_hash = Set(hash.clone());
        }
        if row.is_changed() {
            let update = users::Entity::update_many()
                .set(row)
                .filter(users::Column::Id.eq(id));
            let name = patch.name.clone().unwrap_or_default();
            conflict(execute(self.connection(), &update).await, || {
                format!("user `{name}`")
            })?;
        }
        self.get_user(id).await
    }

    /// Deletes user `id` with their keys and sessions; whether it existed.
    pub async fn delete_user(&self, id: i64) -> Result<bool> {
        let delete = users::Entity::delete_many().filter(users::Column::Id.eq(id));
        Ok(execute(self.connection(), &delete).await? > 0)
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
        let row = key_model(&NewUserKey {
            user_id,
            key_hash: key_hash.to_owned(),
            key_prefix: key_prefix.to_owned(),
            label: None,
            expires_at: None,
            allowed_providers: None,
            allowed_models: None,
            max_cost_nano_usd: None,
            scope: "proxy".to_owned(),
            enabled: true,
        });
        let insert = user_keys::Entity::insert(row).on_conflict(
            OnConflict::column(user_keys::Column::KeyHash)
                .update_column(user_keys::Column::KeyHash)
                .to_owned(),
        );
        execute(self.connection(), &insert).await?;
        let stored = self
            .find_user_key_by_hash(key_hash)
            .await?
            .ok_or_else(|| vanished("user key"))?;
        if stored.user_id != user_id {
            return Err(StorageError::invalid(
                "user_keys.key_hash",
                format!("already belongs to user {}", stored.user_id),
            ));
        }
        Ok(stored)
    }

    /// Creates a key; [`StorageError::Conflict`] when the hash exists.
    pub async fn create_user_key(&self, k: &NewUserKey) -> Result<UserKeyRow> {
        check_name("user_keys.key_hash", &k.key_hash, KEY_HASH_MAX)?;
        check_len("user_keys.key_prefix", &k.key_prefix, KEY_PREFIX_MAX)?;
        check_name("user_keys.scope", &k.scope, ROLE_MAX)?;
        if let Some(label) = &k.label {
            check_len("user_keys.label", label, NAME_MAX)?;
        }
        let insert = user_keys::Entity::insert(key_model(k));
        conflict(execute(self.connection(), &insert).await, || {
            "a key with this value".to_owned()
        })?;
        self.find_user_key_by_hash(&k.key_hash)
            .await?
            .ok_or_else(|| vanished("user key"))
    }

    /// The key with this hash.
    pub async fn find_user_key_by_hash(&self, key_hash: &str) -> Result<Option<UserKeyRow>> {
        Ok(user_keys::Entity::find()
            .filter(user_keys::Column::KeyHash.eq(key_hash))
            .one(self.connection())
            .await?
            .map(UserKeyRow::from))
    }

    /// The key with this id.
    pub async fn get_user_key(&self, id: i64) -> Result<Option<UserKeyRow>> {
        Ok(user_keys::Entity::find_by_id(id)
            .one(self.connection())
            .await?
            .map(UserKeyRow::from))
    }

    /// Applies `patch` to key `id`; `None` when there is no such key.
    pub async fn update_user_key(
        &self,
        id: i64,
        patch: &UserKeyPatch,
    ) -> Result<Option<UserKeyRow>> {
        let mut row = <user_keys::ActiveModel as Default>::default();
        if let Some(label) = &patch.label {
            if let Some(l) = label {
                check_len("user_keys.label", l, NAME_MAX)?;
            }
            row.label = Set(label.clone());
        }
        if let Some(enabled) = patch.enabled {
            row.enabled = Set(enabled);
        }
        if let Some(at) = patch.expires_at {
            row.expires_at = Set(at);
        }
        if let Some(list) = &patch.allowed_providers {
            row.allowed_providers = Set(list_json(list.as_ref()));
        }
        if let Some(list) = &patch.allowed_models {
            row.allowed_models = Set(list_json(list.as_ref()));
        }
        if let Some(max) = patch.max_cost_nano_usd {
            row.max_cost_nano_usd = Set(max);
        }
        if row.is_changed() {
            let update = user_keys::Entity::update_many()
                .set(row)
                .filter(user_keys::Column::Id.eq(id));
            execute(self.connection(), &update).await?;
        }
        self.get_user_key(id).await
    }

    /// Deletes key `id`; whether it existed.
    pub async fn delete_user_key(&self, id: i64) -> Result<bool> {
        let delete = user_keys::Entity::delete_many().filter(user_keys::Column::Id.eq(id));
        Ok(execute(self.connection(), &delete).await? > 0)
    }

    /// Every user key, ordered by id.
    pub async fn list_user_keys(&self) -> Result<Vec<UserKeyRow>> {
        let rows = user_keys::Entity::find()
            .order_by_asc(user_keys::Column::Id)
            .all(self.connection())
            .await?;
        Ok(rows.into_iter().map(UserKeyRow::from).collect())
    }

    /// The keys of user `user_id`, ordered by id.
    pub async fn list_keys_of_user(&self, user_id: i64) -> Result<Vec<UserKeyRow>> {
        let rows = user_keys::Entity::find()
            .filter(user_keys::Column::UserId.eq(user_id))
            .order_by_asc(user_keys::Column::Id)
            .all(self.connection())
            .await?;
        Ok(rows.into_iter().map(UserKeyRow::from).collect())
    }
}

fn key_model(k: &NewUserKey) -> user_keys::ActiveModel {
    user_keys::ActiveModel {
        id: NotSet,
        user_id: Set(k.user_id),
        key_hash: Set(k.key_hash.clone()),
        key_prefix: Set(k.key_prefix.clone()),
        enabled: Set(k.enabled),
        created_at: Set(Utc::now()),
        label: Set(k.label.clone()),
        expires_at: Set(k.expires_at),
        allowed_providers: Set(list_json(k.allowed_providers.as_ref())),
        allowed_models: Set(list_json(k.allowed_models.as_ref())),
        max_cost_nano_usd: Set(k.max_cost_nano_usd),
        scope: Set(k.scope.clone()),
    }
}
