//! The declarative config file (TOML): raw serde structs, `${VAR}`
//! expansion, and validation that names the exact path of a bad field.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use gproxy_protocol::Protocol;
use gproxy_provider::builtin::custom::{
    CUSTOM_KIND, CountTokens, CustomAuth, CustomProvider, CustomSettings,
};
use gproxy_provider::builtin::{VERTEX_KIND, VertexSettings};
use serde::{Deserialize, Serialize};

mod budgets;
mod cache;
mod cors;
mod credentials;
mod limits;
mod logging;
mod observe;
mod pricing;
mod rate_limits;
mod resilience;
mod routes;

pub use budgets::{
    Budget, BudgetsConfig, DEFAULT_BUDGET_PREFIX, DEFAULT_OUTPUT_TOKENS, Period, UnpricedPolicy,
};
pub use cache::{CacheConfig, CacheModelRule, CachePartitioning, DEFAULT_CACHE_PREFIX};
pub use cors::{Cors, CorsConfig, MAX_CORS_AGE_SECS};
pub use credentials::{CredentialConfig, StoredCredential};
pub use gproxy_credential::Strategy as CredentialStrategy;
pub use limits::LimitsConfig;
pub use logging::{Logging, LoggingConfig, MAX_BODY_BYTES_LIMIT, MAX_RETENTION_DAYS};
pub use observe::{MAX_MODEL_LABELS, MetricsConfig, MetricsSettings, TelemetryConfig};
pub use pricing::PricingConfig;
pub use rate_limits::{
    DEFAULT_RATE_LIMIT_PREFIX, RateLimit, RateLimitBackend, RateLimitsConfig, RedisFailure,
};
pub use resilience::CircuitBreakerConfig;
pub use routes::{RouteConfig, TargetConfig, WeightedTarget, is_weighted};

/// Provider names that would shadow a gateway route.
const RESERVED_NAMES: &[&str] = &["v1", "v1beta", "admin", "health", "metrics", "assets"];

/// The config file as written. Every field is optional; what is absent comes
/// from the environment, the database or the defaults.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Listen address (`--host`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Listen port (`--port`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Data directory (`--data-dir`); holds the SQLite file by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// Database DSN (`--dsn`): `sqlite://...`, `postgres://...`, `mysql://...`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dsn: Option<String>,
    /// Admin key (`--admin-key`). Stored only as a hash.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_key: Option<String>,
    /// Egress proxy for upstream calls (`--proxy`): `http://` or `socks5://`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy: Option<String>,
    /// Size limits and timeouts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<LimitsConfig>,
    /// Retries, circuit breaker, degraded signal, test mode, shared state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub circuit_breaker: Option<CircuitBreakerConfig>,
    /// Request logs: recording, body capture, header redaction, retention.
    pub logging: Option<LoggingConfig>,
    /// Browser origins allowed to call the proxy routes (CORS).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cors: Option<CorsConfig>,
    /// `[rate_limits]`: requests, tokens and concurrent requests per key,
    /// user, model, provider and globally (see docs/limits.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limits: Option<RateLimitsConfig>,
    /// `[budgets]`: USD budgets per user and key, per calendar period
    /// (see docs/budgets.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budgets: Option<BudgetsConfig>,
    /// `[cache]`: the exact-match response cache (see docs/cache.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheConfig>,
    /// `GET /metrics`: on/off, its bearer token, per-key labels, the
    /// model label cap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics: Option<MetricsConfig>,
    /// OpenTelemetry trace export and the live request feed (read at
    /// start).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub telemetry: Option<TelemetryConfig>,
    /// Price overrides over the embedded catalogue (see docs/cost.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pricing: Option<PricingConfig>,
    /// Providers to create or update, by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub providers: Vec<ProviderConfig>,
    /// Users and their keys to create, by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<UserConfig>,
    /// Model routes (aliases) to create or update, by model name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<RouteConfig>,
    /// `[[model_capabilities]]`: entries ahead of the built-in capability
    /// table (`gproxy_protocol::capabilities`), which converted requests
    /// are adapted to. Read from the file only (not stored).
    #[serde(default)]
    pub model_capabilities: Vec<gproxy_protocol::capabilities::ModelCapabilities>,
}

/// `[[providers]]`: one upstream provider.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// Unique name; the route prefix (`/{name}/v1/...`) and the model prefix
    /// (`name/model`) on aggregate routes.
    pub name: String,
    /// Provider kind; defaults to `name` when `name` is a built-in kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Base URL, same convention as the vendor SDK's base URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// Whether the provider serves requests. Default true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// `custom` only, required there: the protocol the upstream speaks
    /// (`openai_chat`, `openai_responses`, `claude`, `gemini`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Protocol>,
    /// `custom` only: request-body paths set to `null` just before
    /// dispatch (see `gproxy_protocol::json_mask` for the path forms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json_param_mask: Option<Vec<String>>,
    /// `custom` only: extra headers sent upstream on every request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, String>>,
    /// `custom` only: the models this provider serves; absent or empty
    /// means any model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub models: Option<Vec<String>>,
    /// `custom` only: where token counts come from (`upstream`, the
    /// default, or `local`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count_tokens: Option<CountTokens>,
    /// `custom` only: how the credential is sent (`bearer`, `x-api-key`,
    /// `x-goog-api-key`, `none`); default: the protocol's usual form.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<CustomAuth>,
    /// `vertex` only: the Google Cloud project; default: each service
    /// account's `project_id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// `vertex` only: the location (`us-central1`, the default,
    /// `europe-west4`, `global`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// How a request picks one of the credentials: `round_robin` (the
    /// default), `weighted` (by each credential's `weight`) or
    /// `least_in_flight`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential_strategy: Option<CredentialStrategy>,
    /// The kind's own settings (OAuth kinds: client id, OAuth URLs, the
    /// CLI version and headers they claim; see provider.md). Replaces
    /// what was stored when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settings: Option<serde_json::Map<String, serde_json::Value>>,
    /// Credentials to create or update, by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub credentials: Vec<CredentialConfig>,
}

impl ProviderConfig {
    /// The kind this entry configures: `kind`, or `name` when `kind` is
    /// absent (which bootstrap accepts only for a known kind).
    pub fn effective_kind(&self) -> &str {
        self.kind.as_deref().unwrap_or(&self.name)
    }

    /// The settings of a `custom` provider (`None` for other kinds, or
    /// when `protocol` is missing).
    pub fn custom_settings(&self) -> Option<CustomSettings> {
        if self.effective_kind() != CUSTOM_KIND {
            return None;
        }
        Some(CustomSettings {
            protocol: self.protocol?,
            json_param_mask: self.json_param_mask.clone().unwrap_or_default(),
            headers: self.headers.clone().unwrap_or_default(),
            models: self.models.clone().unwrap_or_default(),
            count_tokens: self.count_tokens.unwrap_or_default(),
            auth: self.auth,
        })
    }

    /// The overrides this entry gives a built-in kind (headers, models,
    /// mask); empty fields when absent.
    pub fn overrides(&self) -> gproxy_provider::builtin::Overrides {
        gproxy_provider::builtin::Overrides {
            json_param_mask: self.json_param_mask.clone().unwrap_or_default(),
            headers: self.headers.clone().unwrap_or_default(),
            models: self.models.clone().unwrap_or_default(),
        }
    }

    /// The stored settings of a built-in kind: its own (vertex: project,
    /// location; else what `before` held for the same kind) plus the
    /// overrides — the ones this entry gives, else the ones stored.
    pub fn builtin_settings(&self, before: Option<&serde_json::Value>) -> serde_json::Value {
        let mut settings = match (self.vertex_settings(), &self.settings) {
            (Some(v), _) => serde_json::to_value(v).unwrap_or_else(|_| serde_json::json!({})),
            (None, Some(own)) => serde_json::Value::Object(own.clone()),
            (None, None) => before.cloned().unwrap_or_else(|| serde_json::json!({})),
        };
        if !settings.is_object() {
            settings = serde_json::json!({});
        }
        let given = [
            (
                "headers",
                self.headers.as_ref().map(|h| serde_json::json!(h)),
            ),
            ("models", self.models.as_ref().map(|m| serde_json::json!(m))),
            (
                "json_param_mask",
                self.json_param_mask.as_ref().map(|m| serde_json::json!(m)),
            ),
        ];
        if let Some(obj) = settings.as_object_mut() {
            for (key, value) in given {
                match value {
                    Some(v)
                        if v.as_array().is_some_and(Vec::is_empty)
                            || v.as_object().is_some_and(serde_json::Map::is_empty) =>
                    {
                        obj.remove(key);
                    }
                    Some(v) => {
                        obj.insert(key.to_owned(), v);
                    }
                    None => {
                        if let Some(old) = before.and_then(|b| b.get(key)) {
                            obj.insert(key.to_owned(), old.clone());
                        }
                    }
                }
            }
        }
        settings
    }

    /// The settings of a `vertex` provider (`None` for other kinds).
    pub fn vertex_settings(&self) -> Option<VertexSettings> {
        (self.effective_kind() == VERTEX_KIND).then(|| VertexSettings {
            project: self.project.clone(),
            location: self.location.clone(),
        })
    }

    /// Checks `settings`: only for kinds that have their own, and
    /// accepted by the kind (the error names `settings.<field>`).
    fn validate_settings(&self) -> Result<(), (String, String)> {
        let Some(settings) = &self.settings else {
            return Ok(());
        };
        let kind = self.effective_kind();
        if kind == CUSTOM_KIND || kind == VERTEX_KIND {
            return Err((
                "settings".into(),
                format!("`{kind}` takes its settings as top-level fields"),
            ));
        }
        let registry = gproxy_provider::ProviderRegistry::builtin();
        if registry.get(kind).is_none() {
            // An unknown kind is reported on `kind`.
            return Ok(());
        }
        let has_own = registry.get(kind).is_some_and(|p| p.oauth().is_some());
        if !has_own && !settings.is_empty() {
            return Err((
                "settings".into(),
                format!("provider kind `{kind}` has no settings of its own"),
            ));
        }
        registry
            .build(kind, &serde_json::Value::Object(settings.clone()))
            .map(|_| ())
            .map_err(|e| match e {
                gproxy_provider::ProviderError::InvalidSettings { field, message, .. } => {
                    let field = if field == "settings" {
                        "settings".to_owned()
                    } else {
                        format!("settings.{field}")
                    };
                    (field, message)
                }
                other => ("settings".into(), other.to_string()),
            })
    }

    /// Checks the `vertex` fields: valid for `vertex`, absent elsewhere.
    fn validate_vertex(&self) -> Result<(), (String, String)> {
        if let Some(settings) = self.vertex_settings() {
            return settings.validate();
        }
        for (field, given) in [
            ("project", self.project.is_some()),
            ("location", self.location.is_some()),
        ] {
            if given {
                return Err((
                    field.to_owned(),
                    format!(
                        "only allowed with kind = \"vertex\" (this provider's kind is `{}`)",
                        self.effective_kind()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Checks the custom-provider fields: required and valid for `custom`,
    /// absent for every other kind. Errors name the field relative to the
    /// provider (`protocol`, `json_param_mask[1]`, `headers.x-foo`).
    fn validate_custom(&self) -> Result<(), (String, String)> {
        let kind = self.effective_kind();
        if kind != CUSTOM_KIND {
            for (field, given) in [
                ("protocol", self.protocol.is_some()),
                ("count_tokens", self.count_tokens.is_some()),
                ("auth", self.auth.is_some()),
            ] {
                if given {
                    return Err((
                        field.to_owned(),
                        format!(
                            "only allowed with kind = \"custom\" (this provider's kind is `{kind}`)"
                        ),
                    ));
                }
            }
            // A built-in takes headers, a model allow-list and a mask as
            // overrides, checked as a custom provider's.
            return self
                .overrides()
                .validate()
                .map_err(|e| (e.field, e.message));
        }
        let Some(settings) = self.custom_settings() else {
            return Err((
                "protocol".to_owned(),
                "required with kind = \"custom\" (one of: openai_chat, openai_responses, claude, gemini)"
                    .to_owned(),
            ));
        };
        if self.base_url.is_none() {
            return Err((
                "base_url".to_owned(),
                "required with kind = \"custom\"".to_owned(),
            ));
        }
        CustomProvider::new(&settings).map_err(|e| (e.field, e.message))?;
        Ok(())
    }
}

/// `[[users]]`: a user and the keys they call the gateway with.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// Unique user name.
    pub name: String,
    /// Keys (stored only as SHA-256 hash plus a short visible prefix).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<String>,
    /// Keys known only by their hash (written by a config export, so an
    /// import keeps them working without anyone knowing the keys).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_hashes: Vec<KeyHashConfig>,
}

/// `{ sha256, prefix }`: a user key known only by its hash.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct KeyHashConfig {
    /// SHA-256 of the key, 64 lowercase hex digits.
    pub sha256: String,
    /// The key's short visible prefix (for display only), at most 8
    /// characters.
    #[serde(default)]
    pub prefix: String,
}

/// A config file that cannot be used. The message names the file and the
/// exact path of the bad field.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// File path.
        path: PathBuf,
        /// IO error.
        source: std::io::Error,
    },
    /// TOML syntax error.
    #[error("config file {path}: {message}")]
    Syntax {
        /// File path.
        path: PathBuf,
        /// Parser message with line and column.
        message: String,
    },
    /// A field is unknown, mistyped or invalid.
    #[error("config file {path}: `{field}`: {message}")]
    Field {
        /// File path.
        path: PathBuf,
        /// Path of the field, e.g. `providers[1].base_url`.
        field: String,
        /// What is wrong.
        message: String,
    },
}

impl FileConfig {
    /// Reads, expands `${VAR}` from the environment, parses and validates.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path, &|name| std::env::var(name).ok())
    }

    /// Parses `text` (named `path` in errors), looking `${VAR}` up with `env`.
    pub fn parse(
        text: &str,
        path: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut value: toml::Value = toml::from_str::<toml::Table>(text)
            .map(toml::Value::Table)
            .map_err(|e| ConfigError::Syntax {
                path: path.to_owned(),
                message: e.to_string().trim_end().to_owned(),
            })?;
        let field_err = |field: String, message: String| ConfigError::Field {
            path: path.to_owned(),
            field,
            message,
        };
        expand_env(&mut value, &mut String::new(), env)
            .map_err(|(field, message)| field_err(field, message))?;
        let config: FileConfig = serde_path_to_error::deserialize(value).map_err(|e| {
            let field = e.path().to_string();
            field_err(field, e.into_inner().to_string())
        })?;
        config
            .validate()
            .map_err(|(field, message)| field_err(field, message))?;
        Ok(config)
    }

    /// Checks every value; the error names the field's path
    /// (`providers[0].base_url`) and what is wrong with it.
    pub fn validate(&self) -> Result<(), (String, String)> {
        if let Some(proxy) = &self.proxy {
            validate_proxy(proxy).map_err(|m| ("proxy".to_owned(), m))?;
        }
        if let Some(limits) = &self.limits {
            limits
                .validate()
                .map_err(|(f, m)| (format!("limits.{f}"), m))?;
        }
        if let Some(cb) = &self.circuit_breaker {
            cb.validate()
                .map_err(|(f, m)| (format!("circuit_breaker.{f}"), m))?;
        }
        if let Some(logging) = &self.logging {
            logging
                .validate()
                .map_err(|(f, m)| (format!("logging.{f}"), m))?;
        }
        if let Some(cors) = &self.cors {
            cors.validate().map_err(|(f, m)| (format!("cors.{f}"), m))?;
        }
        if let Some(rl) = &self.rate_limits {
            rl.validate()
                .map_err(|(f, m)| (format!("rate_limits.{f}"), m))?;
        }
        if let Some(c) = &self.cache {
            c.validate().map_err(|(f, m)| (format!("cache.{f}"), m))?;
        }
        if let Some(b) = &self.budgets {
            b.validate().map_err(|(f, m)| (format!("budgets.{f}"), m))?;
        }
        if let Some(metrics) = &self.metrics {
            metrics
                .validate()
                .map_err(|(f, m)| (format!("metrics.{f}"), m))?;
        }
        if let Some(pricing) = &self.pricing {
            pricing
                .validate()
                .map_err(|(f, m)| (format!("pricing.{f}"), m))?;
        }
        if let Some(telemetry) = &self.telemetry {
            telemetry
                .validate()
                .map_err(|(f, m)| (format!("telemetry.{f}"), m))?;
        }
        let mut names = HashSet::new();
        for (i, p) in self.providers.iter().enumerate() {
            let at = |f: &str| format!("providers[{i}].{f}");
            validate_name(&p.name).map_err(|m| (at("name"), m))?;
            if RESERVED_NAMES.contains(&p.name.as_str()) {
                return Err((
                    at("name"),
                    format!("`{}` is reserved for a gateway route", p.name),
                ));
            }
            if !names.insert(p.name.as_str()) {
                return Err((at("name"), format!("duplicate provider name `{}`", p.name)));
            }
            if let Some(url) = &p.base_url {
                validate_base_url(url).map_err(|m| (at("base_url"), m))?;
            }
            p.validate_custom().map_err(|(f, m)| (at(&f), m))?;
            p.validate_vertex().map_err(|(f, m)| (at(&f), m))?;
            p.validate_settings().map_err(|(f, m)| (at(&f), m))?;
            let mut cred_names = HashSet::new();
            for (j, c) in p.credentials.iter().enumerate() {
                let at = |f: &str| format!("providers[{i}].credentials[{j}].{f}");
                c.validate(p.effective_kind())
                    .map_err(|(f, m)| (at(&f), m))?;
                if let Some(name) = &c.name {
                    validate_name(name).map_err(|m| (at("name"), m))?;
                    if !cred_names.insert(name.as_str()) {
                        return Err((at("name"), format!("duplicate credential name `{name}`")));
                    }
                }
            }
        }
        let mut users = HashSet::new();
        let mut keys = HashSet::new();
        for (i, u) in self.users.iter().enumerate() {
            validate_name(&u.name).map_err(|m| (format!("users[{i}].name"), m))?;
            if !users.insert(u.name.as_str()) {
                return Err((
                    format!("users[{i}].name"),
                    format!("duplicate user name `{}`", u.name),
                ));
            }
            for (j, k) in u.keys.iter().enumerate() {
                validate_key(k).map_err(|m| (format!("users[{i}].keys[{j}]"), m))?;
                if !keys.insert(hex::encode(crate::state::hash_key(k))) {
                    return Err((
                        format!("users[{i}].keys[{j}]"),
                        "the same key is listed twice".into(),
                    ));
                }
            }
            for (j, k) in u.key_hashes.iter().enumerate() {
                let at = |f: &str| format!("users[{i}].key_hashes[{j}].{f}");
                if k.sha256.len() != 64
                    || !k
                        .sha256
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                {
                    return Err((
                        at("sha256"),
                        "must be 64 lowercase hex digits (a SHA-256)".into(),
                    ));
                }
                if k.prefix.chars().count() > 8 || !k.prefix.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err((
                        at("prefix"),
                        "must be at most 8 visible ASCII characters".into(),
                    ));
                }
                if !keys.insert(k.sha256.clone()) {
                    return Err((at("sha256"), "the same key is listed twice".into()));
                }
            }
        }
        if let Some(k) = &self.admin_key {
            validate_key(k).map_err(|m| ("admin_key".to_owned(), m))?;
        }
        routes::validate(&self.routes)?;
        Ok(())
    }
}

/// Replaces `${VAR}` in every string value; `$${` escapes a literal `${`.
fn expand_env(
    value: &mut toml::Value,
    path: &mut String,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), (String, String)> {
    match value {
        toml::Value::String(s) if s.contains("${") => {
            *s = expand_str(s, env).map_err(|m| (path.clone(), m))?;
        }
        toml::Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                expand_env(item, path, env)?;
                path.truncate(len);
            }
        }
        toml::Value::Table(table) => {
            for (k, item) in table.iter_mut() {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                expand_env(item, path, env)?;
                path.truncate(len);
            }
        }
        _ => {}
    }
    Ok(())
}

fn expand_str(s: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find("${") {
        if rest[..pos].ends_with('$') {
            out.push_str(&rest[..pos - 1]);
            out.push_str("${");
            rest = &rest[pos + 2..];
            continue;
        }
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| "unterminated `${` (write `$${` for a literal)".to_owned())?;
        let name = &after[..end];
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!(
                "`${{{name}}}` is not a valid environment variable name"
            ));
        }
        let value = env(name).ok_or_else(|| format!("environment variable `{name}` is not set"))?;
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Checks a provider, credential or user name: 1 to 64 lowercase letters,
/// digits, `-`, `_` and `.`.
pub fn validate_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 64 {
        return Err("must be 1 to 64 characters".into());
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_' || c == '.')
    {
        return Err(format!(
            "`{name}` may contain only lowercase letters, digits, `-`, `_` and `.`"
        ));
    }
    Ok(())
}

/// A user or admin key: 8 to 256 visible ASCII characters.
pub fn validate_key(key: &str) -> Result<(), String> {
    if key.len() < 8 || key.len() > 256 {
        return Err("a key must be 8 to 256 characters".into());
    }
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("a key may contain only visible ASCII characters".into());
    }
    Ok(())
}

/// An `http(s)://host[:port][/path]` URL without query or fragment.
pub fn validate_base_url(url: &str) -> Result<(), String> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e| format!("`{url}` is not a valid URL: {e}"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => return Err(format!("`{url}` must start with http:// or https://")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(format!("`{url}` has no host"));
    }
    if uri.query().is_some() || url.contains('#') {
        return Err(format!("`{url}` must not have a query or fragment"));
    }
    Ok(())
}

/// An egress proxy URL: `http://[user:pass@]host:port` or `socks5://...`.
pub fn validate_proxy(url: &str) -> Result<(), String> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e| format!("`{url}` is not a valid proxy URL: {e}"))?;
    match uri.scheme_str() {
        Some("http" | "socks5" | "socks5h") => {}
        _ => {
            return Err(format!(
                "`{url}`: the proxy must be http://, socks5:// or socks5h://"
            ));
        }
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(format!("`{url}` has no host"));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
