//! Users (with roles and passwords) and their keys, plus the `/me`
//! self-service routes every role has.

use chrono::{DateTime, Utc};
use gproxy_core::cost::Usd;
use gproxy_core::state::{ADMIN_USER, KEY_SCOPE_ADMIN, KEY_SCOPE_PROXY, hash_key, key_prefix};
use gproxy_storage::{NewUser, NewUserKey, UserKeyPatch, UserKeyRow, UserPatch, UserRow};
use rand::Rng;
use rand::distr::Alphanumeric;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::auth::{Role, hash_password, validate_password};
use crate::error::ApiError;
use crate::json::{double_option, parse};
use crate::request::Reply;
use crate::routes::Call;

/// A user as reads show it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct UserView {
    /// Row id.
    pub id: i64,
    /// Unique name (the sign-in name).
    pub name: String,
    /// Role.
    pub role: Role,
    /// Whether they may authenticate.
    pub enabled: bool,
    /// Whether they can sign in with a password.
    pub has_password: bool,
    /// How many keys they have.
    pub keys: usize,
    /// When the user was created.
    pub created_at: DateTime<Utc>,
}

/// `POST /users`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserInput {
    /// Unique name: lowercase letters, digits, `-`, `_`, `.`.
    #[schemars(pattern(r"^[a-z0-9._-]{1,64}$"))]
    pub name: String,
    /// Default `user`.
    pub role: Option<Role>,
    /// A password to sign in with (8 to 256 characters); none: keys only.
    #[schemars(length(min = 8, max = 256))]
    pub password: Option<String>,
    /// Default true.
    pub enabled: Option<bool>,
}

/// `PATCH /users/{id}`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatchInput {
    /// New name.
    #[schemars(pattern(r"^[a-z0-9._-]{1,64}$"))]
    pub name: Option<String>,
    /// New role.
    pub role: Option<Role>,
    /// New password; `null` removes it (keys only).
    #[serde(default, deserialize_with = "double_option")]
    #[schemars(with = "Option<String>")]
    pub password: Option<Option<String>>,
    /// Enabled flag.
    pub enabled: Option<bool>,
}

/// A key as reads show it (never the key itself).
#[derive(Debug, Serialize, JsonSchema)]
pub struct KeyView {
    /// Row id.
    pub id: i64,
    /// Owner.
    pub user_id: i64,
    /// The key's first characters.
    pub prefix: String,
    /// A label for people.
    pub label: Option<String>,
    /// Whether it works.
    pub enabled: bool,
    /// When it stops working.
    pub expires_at: Option<DateTime<Utc>>,
    /// Providers it may use (`null`: any).
    pub allowed_providers: Option<Vec<String>>,
    /// Models it may use (`null`: any); `*` wildcards.
    pub allowed_models: Option<Vec<String>>,
    /// The most one request may cost, USD (a decimal string; `null`: no
    /// ceiling). A request whose estimate is above it is refused (402).
    pub max_cost: Option<String>,
    /// `proxy` (calls the gateway) or `admin` (a personal admin token).
    pub scope: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// A key just created: the only answer that holds the key itself.
#[derive(Debug, Serialize, JsonSchema)]
pub struct KeyCreated {
    /// The key. Shown exactly once: store it now.
    pub key: String,
    /// The stored key.
    #[serde(flatten)]
    pub view: KeyView,
}

/// Scope of a new key.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum KeyScope {
    /// Calls the proxy routes.
    Proxy,
    /// A personal admin token (admin API only, with the owner's role).
    Admin,
}

/// `POST /users/{id}/keys` and `POST /me/keys`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyInput {
    /// A label for people (at most 128 characters).
    #[schemars(length(max = 128))]
    pub label: Option<String>,
    /// When it stops working (RFC 3339, in the future).
    pub expires_at: Option<DateTime<Utc>>,
    /// Providers it may use (must exist); absent: any.
    pub allowed_providers: Option<Vec<String>>,
    /// Models it may use (`gpt-4o`, `openai/*`, a route name); absent: any.
    pub allowed_models: Option<Vec<String>>,
    /// The most one request may cost, USD (`"0.50"`); absent: no ceiling.
    pub max_cost: Option<Usd>,
    /// Default `proxy`.
    pub scope: Option<KeyScope>,
}

/// `PATCH /keys/{id}`: only the fields given change; `null` clears.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyPatchInput {
    /// Label.
    #[serde(default, deserialize_with = "double_option")]
    #[schemars(with = "Option<String>")]
    pub label: Option<Option<String>>,
    /// Enabled flag.
    pub enabled: Option<bool>,
    /// Expiry (`null`: never).
    #[serde(default, deserialize_with = "double_option")]
    #[schemars(with = "Option<DateTime<Utc>>")]
    pub expires_at: Option<Option<DateTime<Utc>>>,
    /// Provider allow-list (`null`: any).
    #[serde(default, deserialize_with = "double_option")]
    #[schemars(with = "Option<Vec<String>>")]
    pub allowed_providers: Option<Option<Vec<String>>>,
    /// Model allow-list (`null`: any).
    #[serde(default, deserialize_with = "double_option")]
    #[schemars(with = "Option<Vec<String>>")]
    pub allowed_models: Option<Option<Vec<String>>>,
    /// Per-request cost ceiling, USD (`null`: none).
    #[serde(default, deserialize_with = "double_option")]
    #[schemars(with = "Option<Usd>")]
    pub max_cost: Option<Option<Usd>>,
}

/// A ceiling in USD as nano-dollars; the error names `max_cost`.
fn max_cost_nanos(v: Usd) -> Result<i64, ApiError> {
    if v.0.is_sign_negative() && !v.0.is_zero() {
        return Err(ApiError::field("max_cost", "must not be negative"));
    }
    gproxy_core::cost::to_nanos(v.0).ok_or_else(|| ApiError::field("max_cost", "too large"))
}

fn user_view(row: UserRow, keys: usize) -> UserView {
    UserView {
        id: row.id,
        role: Role::parse(&row.role),
        enabled: row.enabled,
        has_password: row.password_hash.is_some(),
        keys,
        created_at: row.created_at,
        name: row.name,
    }
}

/// A stored key's view.
pub fn key_view(row: UserKeyRow) -> KeyView {
    KeyView {
        id: row.id,
        user_id: row.user_id,
        prefix: row.key_prefix,
        label: row.label,
        enabled: row.enabled,
        expires_at: row.expires_at,
        allowed_providers: row.allowed_providers,
        allowed_models: row.allowed_models,
        max_cost: row
            .max_cost_nano_usd
            .map(|n| gproxy_core::cost::from_nanos(n).to_string()),
        scope: row.scope,
        created_at: row.created_at,
    }
}

fn check_user_name(name: &str) -> Result<(), ApiError> {
    gproxy_core::config::validate_name(name).map_err(|m| ApiError::field("name", m))?;
    if name == ADMIN_USER {
        return Err(ApiError {
            field: Some("name".into()),
            ..ApiError::conflict("the name `admin` is reserved for the admin key")
        });
    }
    Ok(())
}

async fn find_user(call: &Call, id: i64) -> Result<UserRow, ApiError> {
    call.ctx
        .storage
        .get_user(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no user {id}")))
}

/// `GET /users`.
pub async fn list(call: Call) -> Result<Reply, ApiError> {
    let users = call.ctx.storage.list_users().await?;
    let keys = call.ctx.storage.list_user_keys().await?;
    let out: Vec<UserView> = users
        .into_iter()
        .map(|u| {
            let n = keys.iter().filter(|k| k.user_id == u.id).count();
            user_view(u, n)
        })
        .collect();
    Reply::ok(&out)
}

/// `GET /users/{id}`.
pub async fn get(call: Call) -> Result<Reply, ApiError> {
    let user = find_user(&call, call.id(0)?).await?;
    let keys = call.ctx.storage.list_keys_of_user(user.id).await?.len();
    Reply::ok(&user_view(user, keys))
}

/// `POST /users`.
pub async fn create(call: Call) -> Result<Reply, ApiError> {
    let input: UserInput = parse(&call.req.body)?;
    check_user_name(&input.name)?;
    let password_hash = match &input.password {
        Some(p) => {
            validate_password("password", p)?;
            Some(hash_password(p)?)
        }
        None => None,
    };
    let row = call
        .ctx
        .storage
        .create_user(&NewUser {
            name: input.name.clone(),
            role: input.role.unwrap_or(Role::User).as_str().to_owned(),
            password_hash,
            enabled: input.enabled.unwrap_or(true),
        })
        .await?;
    Reply::created(&user_view(row, 0))
}

/// `PATCH /users/{id}`.
pub async fn update(call: Call) -> Result<Reply, ApiError> {
    let input: UserPatchInput = parse(&call.req.body)?;
    let user = find_user(&call, call.id(0)?).await?;
    if user.name == ADMIN_USER {
        return Err(ApiError::conflict(
            "the `admin` user belongs to the admin key and cannot be changed",
        ));
    }
    if let Some(name) = &input.name {
        check_user_name(name)?;
    }
    let password_hash = match &input.password {
        Some(Some(p)) => {
            validate_password("password", p)?;
            Some(Some(hash_password(p)?))
        }
        Some(None) => Some(None),
        None => None,
    };
    let patch = UserPatch {
        name: input.name.clone(),
        role: input.role.map(|r| r.as_str().to_owned()),
        enabled: input.enabled,
        password_hash,
    };
    let row = call
        .ctx
        .storage
        .update_user(user.id, &patch)
        .await?
        .ok_or_else(|| ApiError::not_found("user deleted meanwhile"))?;
    if input.enabled == Some(false) || input.password.is_some() || input.role.is_some() {
        // Sessions end with a disable, a password change or a new role.
        call.ctx.storage.delete_sessions_of(row.id).await?;
    }
    let keys = call.ctx.storage.list_keys_of_user(row.id).await?.len();
    Reply::ok(&user_view(row, keys))
}

/// `DELETE /users/{id}`: the user, their keys and sessions.
pub async fn delete(call: Call) -> Result<Reply, ApiError> {
    let user = find_user(&call, call.id(0)?).await?;
    if user.name == ADMIN_USER {
        return Err(ApiError::conflict(
            "the `admin` user belongs to the admin key and cannot be deleted",
        ));
    }
    call.ctx.storage.delete_user(user.id).await?;
    Ok(Reply::no_content())
}

/// `GET /users/{id}/keys`.
pub async fn list_keys(call: Call) -> Result<Reply, ApiError> {
    let user = find_user(&call, call.id(0)?).await?;
    keys_of(&call, user.id).await
}

async fn keys_of(call: &Call, user_id: i64) -> Result<Reply, ApiError> {
    let keys = call.ctx.storage.list_keys_of_user(user_id).await?;
    Reply::ok(&keys.into_iter().map(key_view).collect::<Vec<_>>())
}

async fn check_lists(
    call: &Call,
    providers: Option<&Vec<String>>,
    models: Option<&Vec<String>>,
) -> Result<(), ApiError> {
    if let Some(list) = providers {
        let known: Vec<String> = call
            .ctx
            .storage
            .list_providers()
            .await?
            .into_iter()
            .map(|p| p.name)
            .collect();
        for (i, p) in list.iter().enumerate() {
            if !known.contains(p) {
                return Err(ApiError::field(
                    format!("allowed_providers[{i}]"),
                    format!("no provider `{p}`"),
                ));
            }
        }
    }
    if let Some(list) = models {
        for (i, m) in list.iter().enumerate() {
            if m.trim().is_empty() || m.len() > 256 {
                return Err(ApiError::field(
                    format!("allowed_models[{i}]"),
                    "must be 1 to 256 characters",
                ));
            }
        }
    }
    Ok(())
}

async fn create_key_for(call: &Call, user_id: i64, input: KeyInput) -> Result<Reply, ApiError> {
    if let Some(label) = &input.label
        && label.chars().count() > 128
    {
        return Err(ApiError::field("label", "at most 128 characters"));
    }
    if let Some(at) = input.expires_at
        && at <= Utc::now()
    {
        return Err(ApiError::field("expires_at", "must be in the future"));
    }
    check_lists(
        call,
        input.allowed_providers.as_ref(),
        input.allowed_models.as_ref(),
    )
    .await?;
    let max_cost = input.max_cost.map(max_cost_nanos).transpose()?;
    let scope = input.scope.unwrap_or(KeyScope::Proxy);
    let random: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(40)
        .map(char::from)
        .collect();
    let key = match scope {
        KeyScope::Proxy => format!("sk-gp-{random}"),
        KeyScope::Admin => format!("sk-gpadm-{random}"),
    };
    let row = call
        .ctx
        .storage
        .create_user_key(&NewUserKey {
            user_id,
            key_hash: hex::encode(hash_key(&key)),
            key_prefix: key_prefix(&key),
            label: input.label,
            expires_at: input.expires_at,
            allowed_providers: input.allowed_providers,
            allowed_models: input.allowed_models,
            max_cost_nano_usd: max_cost,
            scope: match scope {
                KeyScope::Proxy => KEY_SCOPE_PROXY,
                KeyScope::Admin => KEY_SCOPE_ADMIN,
            }
            .to_owned(),
            enabled: true,
        })
        .await?;
    Reply::created(&KeyCreated {
        key,
        view: key_view(row),
    })
}

/// `POST /users/{id}/keys`.
pub async fn create_key(call: Call) -> Result<Reply, ApiError> {
    let input: KeyInput = parse(&call.req.body)?;
    let user = find_user(&call, call.id(0)?).await?;
    create_key_for(&call, user.id, input).await
}

async fn find_key(call: &Call, id: i64, owner: Option<i64>) -> Result<UserKeyRow, ApiError> {
    call.ctx
        .storage
        .get_user_key(id)
        .await?
        .filter(|k| owner.is_none_or(|o| o == k.user_id))
        .ok_or_else(|| ApiError::not_found(format!("no key {id}")))
}

async fn update_key_of(call: &Call, owner: Option<i64>) -> Result<Reply, ApiError> {
    let input: KeyPatchInput = parse(&call.req.body)?;
    let key = find_key(call, call.id(0)?, owner).await?;
    if let Some(Some(label)) = &input.label
        && label.chars().count() > 128
    {
        return Err(ApiError::field("label", "at most 128 characters"));
    }
    if let Some(Some(at)) = input.expires_at
        && at <= Utc::now()
    {
        return Err(ApiError::field("expires_at", "must be in the future"));
    }
    check_lists(
        call,
        input.allowed_providers.as_ref().and_then(Option::as_ref),
        input.allowed_models.as_ref().and_then(Option::as_ref),
    )
    .await?;
    let max_cost = match input.max_cost {
        Some(Some(v)) => Some(Some(max_cost_nanos(v)?)),
        Some(None) => Some(None),
        None => None,
    };
    let row = call
        .ctx
        .storage
        .update_user_key(
            key.id,
            &UserKeyPatch {
                label: input.label,
                enabled: input.enabled,
                expires_at: input.expires_at,
                allowed_providers: input.allowed_providers,
                allowed_models: input.allowed_models,
                max_cost_nano_usd: max_cost,
            },
        )
        .await?
        .ok_or_else(|| ApiError::not_found("key deleted meanwhile"))?;
    Reply::ok(&key_view(row))
}

async fn delete_key_of(call: &Call, owner: Option<i64>) -> Result<Reply, ApiError> {
    let key = find_key(call, call.id(0)?, owner).await?;
    call.ctx.storage.delete_user_key(key.id).await?;
    Ok(Reply::no_content())
}

/// `GET /keys/{id}`.
pub async fn get_key(call: Call) -> Result<Reply, ApiError> {
    Reply::ok(&key_view(find_key(&call, call.id(0)?, None).await?))
}

/// `PATCH /keys/{id}`.
pub async fn update_key(call: Call) -> Result<Reply, ApiError> {
    update_key_of(&call, None).await
}

/// `DELETE /keys/{id}`.
pub async fn delete_key(call: Call) -> Result<Reply, ApiError> {
    delete_key_of(&call, None).await
}

/// `GET /me`: the caller.
pub async fn me(call: Call) -> Result<Reply, ApiError> {
    let caller = call.caller()?;
    let user = find_user(&call, caller.user_id).await?;
    let keys = call.ctx.storage.list_keys_of_user(user.id).await?.len();
    let mut view = user_view(user, keys);
    view.role = caller.role;
    Reply::ok(&view)
}

/// `GET /me/keys`.
pub async fn my_keys(call: Call) -> Result<Reply, ApiError> {
    let id = call.caller()?.user_id;
    keys_of(&call, id).await
}

/// `POST /me/keys`: people with the `user` role create proxy keys only.
pub async fn create_my_key(call: Call) -> Result<Reply, ApiError> {
    let input: KeyInput = parse(&call.req.body)?;
    let caller = call.caller()?.clone();
    if caller.role == Role::User && input.scope == Some(KeyScope::Admin) {
        return Err(ApiError::field(
            "scope",
            "role `user` may create `proxy` keys only",
        ));
    }
    create_key_for(&call, caller.user_id, input).await
}

/// `PATCH /me/keys/{id}`.
pub async fn update_my_key(call: Call) -> Result<Reply, ApiError> {
    let id = call.caller()?.user_id;
    update_key_of(&call, Some(id)).await
}

/// `DELETE /me/keys/{id}`.
pub async fn delete_my_key(call: Call) -> Result<Reply, ApiError> {
    let id = call.caller()?.user_id;
    delete_key_of(&call, Some(id)).await
}
