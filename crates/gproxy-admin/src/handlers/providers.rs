//! `/providers`: list, read, create (custom kinds and named instances of
//! built-in kinds), update, delete (not a built-in), enable and disable.

use std::collections::BTreeMap;

use gproxy_core::config::{CredentialStrategy, FileConfig, ProviderConfig};
use gproxy_protocol::Protocol;
use gproxy_provider::builtin::custom::{CUSTOM_KIND, CountTokens, CustomAuth};
use gproxy_storage::{NewProvider, ProviderRow};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::json::{double_option, parse};
use crate::request::Reply;
use crate::routes::Call;

/// A provider as the admin API shows it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ProviderView {
    /// Row id.
    pub id: i64,
    /// Unique name: the route prefix and the model prefix.
    pub name: String,
    /// Kind (`openai`, `claude`, `custom`, ...).
    pub kind: String,
    /// Whether it is the seeded provider of a built-in kind (cannot be deleted).
    pub builtin: bool,
    /// The configured base URL override, if any.
    pub base_url: Option<String>,
    /// The base URL in use (the override or the kind's default); `null`
    /// when the provider is not loaded.
    pub effective_base_url: Option<String>,
    /// Whether it serves requests.
    pub enabled: bool,
    /// `round_robin`, `weighted` or `least_in_flight`.
    pub credential_strategy: String,
    /// Kind-specific settings (custom: protocol, headers with secret-looking
    /// values masked, models, mask, auth; vertex: project, location).
    pub settings: serde_json::Value,
    /// How many credentials it has (enabled or not).
    pub credentials: usize,
    /// Whether the running snapshot serves it (false: unusable settings).
    pub loaded: bool,
}

/// `POST /providers`: a new provider. The fields are the config file's.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderInput {
    /// Unique name (lowercase letters, digits, `-`, `_`, `.`).
    #[schemars(pattern(r"^[a-z0-9._-]{1,64}$"))]
    pub name: String,
    /// Kind; default: `name` when it is a built-in kind.
    #[schemars(schema_with = "kind_schema")]
    pub kind: Option<String>,
    /// Base URL (required for `custom`).
    pub base_url: Option<String>,
    /// Default true.
    pub enabled: Option<bool>,
    /// `custom` only: the upstream's protocol.
    #[schemars(with = "Option<crate::dto::ProtocolSchema>")]
    pub protocol: Option<Protocol>,
    /// Request paths set to null before dispatch (any kind).
    pub json_param_mask: Option<Vec<String>>,
    /// Extra headers sent upstream (any kind).
    pub headers: Option<BTreeMap<String, String>>,
    /// The models it serves (empty: any; any kind).
    pub models: Option<Vec<String>>,
    /// `custom` only: `upstream` or `local` token counts.
    #[schemars(with = "Option<crate::dto::CountTokensSchema>")]
    pub count_tokens: Option<CountTokens>,
    /// `custom` only: how the credential is sent.
    #[schemars(with = "Option<crate::dto::CustomAuthSchema>")]
    pub auth: Option<CustomAuth>,
    /// `vertex` only: the Google Cloud project.
    pub project: Option<String>,
    /// `vertex` only: the location.
    pub location: Option<String>,
    /// `round_robin` (default), `weighted` or `least_in_flight`.
    #[schemars(with = "Option<crate::dto::StrategySchema>")]
    pub credential_strategy: Option<CredentialStrategy>,
    /// The kind's own settings (OAuth kinds; see provider.md).
    pub settings: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `PATCH /providers/{name}`: only the fields given change; `null` clears
/// an optional one.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderPatch {
    /// New base URL (`null`: the kind's default).
    #[serde(default, deserialize_with = "double_option")]
    #[schemars(with = "Option<String>")]
    pub base_url: Option<Option<String>>,
    /// Enabled flag.
    pub enabled: Option<bool>,
    /// Credential strategy.
    #[schemars(with = "Option<crate::dto::StrategySchema>")]
    pub credential_strategy: Option<CredentialStrategy>,
    /// `custom` only.
    #[schemars(with = "Option<crate::dto::ProtocolSchema>")]
    pub protocol: Option<Protocol>,
    /// Request paths set to null before dispatch (any kind; `[]` clears).
    pub json_param_mask: Option<Vec<String>>,
    /// Extra upstream headers (any kind; `{}` clears).
    pub headers: Option<BTreeMap<String, String>>,
    /// Model allow-list (any kind; `[]` clears).
    pub models: Option<Vec<String>>,
    /// `custom` only.
    #[schemars(with = "Option<crate::dto::CountTokensSchema>")]
    pub count_tokens: Option<CountTokens>,
    /// `custom` only.
    #[schemars(with = "Option<crate::dto::CustomAuthSchema>")]
    pub auth: Option<CustomAuth>,
    /// `vertex` only.
    pub project: Option<String>,
    /// `vertex` only.
    pub location: Option<String>,
    /// The kind's own settings, replaced whole (OAuth kinds).
    pub settings: Option<serde_json::Map<String, serde_json::Value>>,
}

/// The schema of `kind`: one of the registry's kinds.
fn kind_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let mut kinds: Vec<serde_json::Value> = gproxy_provider::ProviderRegistry::builtin()
        .all_kinds()
        .into_iter()
        .map(serde_json::Value::from)
        .collect();
    kinds.push(serde_json::Value::Null);
    schemars::json_schema!({ "enum": kinds })
}

fn to_config(input: &ProviderInput) -> ProviderConfig {
    ProviderConfig {
        name: input.name.clone(),
        kind: input.kind.clone(),
        base_url: input.base_url.clone(),
        enabled: input.enabled,
        protocol: input.protocol,
        json_param_mask: input.json_param_mask.clone(),
        headers: input.headers.clone(),
        models: input.models.clone(),
        count_tokens: input.count_tokens,
        auth: input.auth,
        project: input.project.clone(),
        location: input.location.clone(),
        credential_strategy: input.credential_strategy,
        settings: input.settings.clone(),
        credentials: Vec::new(),
    }
}

/// Validates `p` as the config file would, with field paths relative to
/// the provider; returns the row to store.
fn checked_row(
    call: &Call,
    p: &ProviderConfig,
    before: Option<&serde_json::Value>,
) -> Result<NewProvider, ApiError> {
    let registry = &call.ctx.registry;
    let kind = match &p.kind {
        Some(kind) => kind.clone(),
        None if registry.is_kind(&p.name) => p.name.clone(),
        None => {
            return Err(ApiError::field(
                "kind",
                format!(
                    "`{}` is not a built-in provider, so `kind` is required (one of: {})",
                    p.name,
                    registry.all_kinds().join(", ")
                ),
            ));
        }
    };
    if !registry.is_kind(&kind) {
        return Err(ApiError::field(
            "kind",
            format!(
                "unknown provider kind `{kind}` (one of: {})",
                registry.all_kinds().join(", ")
            ),
        ));
    }
    let file = FileConfig {
        providers: vec![p.clone()],
        ..FileConfig::default()
    };
    file.validate().map_err(|(field, message)| {
        let field = field
            .strip_prefix("providers[0].")
            .unwrap_or(&field)
            .to_owned();
        ApiError::field(field, message)
    })?;
    let settings = match p.custom_settings() {
        Some(custom) => serde_json::to_value(custom).map_err(ApiError::internal)?,
        None => p.builtin_settings(before),
    };
    Ok(NewProvider {
        name: p.name.clone(),
        kind,
        base_url: p.base_url.clone(),
        settings,
        enabled: p.enabled.unwrap_or(true),
        credential_strategy: p
            .credential_strategy
            .unwrap_or(CredentialStrategy::RoundRobin)
            .as_str()
            .to_owned(),
    })
}

/// Whether a header's value should be masked in reads.
fn secret_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["auth", "key", "token", "secret", "cookie", "signature"]
        .iter()
        .any(|s| n.contains(s))
}

fn masked_settings(settings: &serde_json::Value) -> serde_json::Value {
    let mut settings = settings.clone();
    if let Some(headers) = settings.get_mut("headers").and_then(|h| h.as_object_mut()) {
        for (name, value) in headers.iter_mut() {
            if secret_header(name) {
                *value = serde_json::Value::String("***".into());
            }
        }
    }
    settings
}

/// Whether `row` is the seeded provider of a built-in kind (named after it).
fn is_seeded_builtin(call: &Call, row: &ProviderRow) -> bool {
    row.kind == row.name && row.kind != CUSTOM_KIND && call.ctx.registry.is_kind(&row.kind)
}

/// The view of `row`, which has `credentials` credentials.
fn view_of(
    call: &Call,
    snapshot: &gproxy_core::state::Snapshot,
    row: ProviderRow,
    credentials: usize,
) -> ProviderView {
    let loaded = snapshot.providers.get(&row.name);
    ProviderView {
        id: row.id,
        builtin: is_seeded_builtin(call, &row),
        effective_base_url: loaded.map(|p| p.base_url.clone()),
        loaded: loaded.is_some(),
        settings: masked_settings(&row.settings),
        name: row.name,
        kind: row.kind,
        base_url: row.base_url,
        enabled: row.enabled,
        credential_strategy: row.credential_strategy,
        credentials,
    }
}

/// The view of one provider.
pub(crate) async fn view(call: &Call, row: ProviderRow) -> Result<ProviderView, ApiError> {
    let credentials = call.ctx.storage.list_credentials_of(row.id).await?.len();
    let snapshot = call.ctx.engine.state().load_full();
    Ok(view_of(call, &snapshot, row, credentials))
}

pub(crate) async fn find(call: &Call, name: &str) -> Result<ProviderRow, ApiError> {
    call.ctx
        .storage
        .get_provider(name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no provider `{name}`")))
}

/// `GET /providers`.
pub async fn list(call: Call) -> Result<Reply, ApiError> {
    let rows = call.ctx.storage.list_providers().await?;
    // One read of the credentials for every provider's count.
    let mut counts: std::collections::HashMap<i64, usize> = std::collections::HashMap::new();
    for c in call.ctx.storage.list_credentials().await? {
        *counts.entry(c.provider_id).or_default() += 1;
    }
    let snapshot = call.ctx.engine.state().load_full();
    let out: Vec<ProviderView> = rows
        .into_iter()
        .map(|row| {
            let n = counts.get(&row.id).copied().unwrap_or(0);
            view_of(&call, &snapshot, row, n)
        })
        .collect();
    Reply::ok(&out)
}

/// `GET /providers/{name}`.
pub async fn get(call: Call) -> Result<Reply, ApiError> {
    let row = find(&call, call.param(0)).await?;
    Reply::ok(&view(&call, row).await?)
}

/// `POST /providers`.
pub async fn create(call: Call) -> Result<Reply, ApiError> {
    let input: ProviderInput = parse(&call.req.body)?;
    let new = checked_row(&call, &to_config(&input), None)?;
    if call.ctx.storage.get_provider(&new.name).await?.is_some() {
        return Err(ApiError::conflict(format!(
            "provider `{}` already exists",
            new.name
        )));
    }
    let row = call.ctx.storage.upsert_provider(&new).await?;
    call.apply().await?;
    Reply::created(&view(&call, row).await?)
}

/// The config-file form of a stored provider, for patching.
fn stored_config(row: &ProviderRow) -> ProviderConfig {
    let s = &row.settings;
    fn get<T: serde::de::DeserializeOwned>(s: &serde_json::Value, k: &str) -> Option<T> {
        s.get(k)
            .cloned()
            .and_then(|v| serde_json::from_value(v).ok())
    }
    let custom = row.kind == CUSTOM_KIND;
    let vertex = row.kind == gproxy_provider::builtin::VERTEX_KIND;
    ProviderConfig {
        name: row.name.clone(),
        kind: Some(row.kind.clone()),
        base_url: row.base_url.clone(),
        enabled: Some(row.enabled),
        protocol: custom.then(|| get(s, "protocol")).flatten(),
        json_param_mask: get(s, "json_param_mask"),
        headers: get(s, "headers"),
        models: get(s, "models"),
        count_tokens: custom.then(|| get(s, "count_tokens")).flatten(),
        auth: custom.then(|| get(s, "auth")).flatten(),
        project: vertex.then(|| get(s, "project")).flatten(),
        location: vertex.then(|| get(s, "location")).flatten(),
        credential_strategy: CredentialStrategy::parse(&row.credential_strategy),
        settings: None,
        credentials: Vec::new(),
    }
}

/// `PATCH /providers/{name}`.
pub async fn update(call: Call) -> Result<Reply, ApiError> {
    let patch: ProviderPatch = parse(&call.req.body)?;
    let row = find(&call, call.param(0)).await?;
    let mut p = stored_config(&row);
    if let Some(base_url) = patch.base_url {
        p.base_url = base_url;
    }
    if let Some(v) = patch.enabled {
        p.enabled = Some(v);
    }
    if let Some(v) = patch.credential_strategy {
        p.credential_strategy = Some(v);
    }
    if let Some(mut headers) = patch.headers {
        // A masked value sent back unchanged keeps the stored one.
        let stored = p.headers.clone().unwrap_or_default();
        for (name, value) in headers.iter_mut() {
            if value == "***"
                && let Some(old) = stored.get(name)
            {
                value.clone_from(old);
            }
        }
        p.headers = Some(headers);
    }
    macro_rules! set {
        ($($f:ident),*) => { $( if patch.$f.is_some() { p.$f = patch.$f; } )* };
    }
    set!(
        protocol,
        json_param_mask,
        models,
        count_tokens,
        auth,
        project,
        location,
        settings
    );
    let new = checked_row(&call, &p, Some(&row.settings))?;
    let row = call.ctx.storage.upsert_provider(&new).await?;
    call.apply().await?;
    Reply::ok(&view(&call, row).await?)
}

/// `DELETE /providers/{name}`: custom providers and named instances only;
/// the seeded provider of a built-in kind is disabled instead.
pub async fn delete(call: Call) -> Result<Reply, ApiError> {
    let row = find(&call, call.param(0)).await?;
    if is_seeded_builtin(&call, &row) {
        return Err(ApiError::conflict(format!(
            "`{}` is a built-in provider and cannot be deleted; disable it instead (POST /admin/api/providers/{}/disable)",
            row.name, row.name
        )));
    }
    call.ctx.storage.delete_provider(&row.name).await?;
    Ok(Reply::no_content())
}

async fn set_enabled(call: Call, enabled: bool) -> Result<Reply, ApiError> {
    let row = find(&call, call.param(0)).await?;
    let mut p = stored_config(&row);
    p.enabled = Some(enabled);
    let new = checked_row(&call, &p, Some(&row.settings))?;
    let row = call.ctx.storage.upsert_provider(&new).await?;
    call.apply().await?;
    Reply::ok(&view(&call, row).await?)
}

/// `POST /providers/{name}/enable`.
pub async fn enable(call: Call) -> Result<Reply, ApiError> {
    set_enabled(call, true).await
}

/// `POST /providers/{name}/disable`.
pub async fn disable(call: Call) -> Result<Reply, ApiError> {
    set_enabled(call, false).await
}
