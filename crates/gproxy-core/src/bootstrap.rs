//! Start-up: merge the configuration (CLI > ENV > config file > database >
//! defaults), persist the merge, apply the config file, seed the built-in
//! providers, apply the model routes, make sure an admin key exists, and
//! build the first snapshot.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use gproxy_provider::ProviderRegistry;
use gproxy_storage::{NewCredential, NewModelRoute, NewProvider, Storage};
use rand::Rng;
use rand::distr::Alphanumeric;

use crate::CoreError;
use crate::config::{
    CircuitBreakerConfig, ConfigError, FileConfig, LimitsConfig, TargetConfig, is_weighted,
    validate_key, validate_proxy,
};
use crate::model_route::{RouteTarget, Strategy};
use crate::settings::{DEFAULT_DATA_DIR, DEFAULT_HOST, DEFAULT_PORT, Limits, Resilience, Settings};
use crate::state::{ADMIN_KEY_HASH, ADMIN_KEY_PREFIX, Snapshot, StateHandle, hash_key, key_prefix};

/// Values given on the command line or in the environment (clap resolves
/// CLI over ENV); `None` means "not given".
#[derive(Debug, Clone, Default)]
pub struct StartupArgs {
    /// `--host` / `GPROXY_HOST`.
    pub host: Option<String>,
    /// `--port` / `GPROXY_PORT`.
    pub port: Option<u16>,
    /// `--data-dir` / `GPROXY_DATA_DIR`.
    pub data_dir: Option<PathBuf>,
    /// `--dsn` / `GPROXY_DSN`.
    pub dsn: Option<String>,
    /// `--admin-key` / `GPROXY_ADMIN_KEY`.
    pub admin_key: Option<String>,
    /// `--config` / `GPROXY_CONFIG`.
    pub config: Option<PathBuf>,
    /// `--proxy` / `GPROXY_PROXY`; an empty string clears a stored proxy.
    pub proxy: Option<String>,
}

/// The result of start-up.
#[derive(Debug)]
pub struct Bootstrapped {
    /// The merged settings.
    pub settings: Settings,
    /// The open, migrated storage.
    pub storage: Storage,
    /// Provider kinds.
    pub registry: ProviderRegistry,
    /// The first state snapshot.
    pub state: Arc<StateHandle>,
    /// The admin key, when it was generated now (print it once).
    pub generated_admin_key: Option<String>,
}

const SETTING_HOST: &str = "host";
const SETTING_PORT: &str = "port";
const SETTING_PROXY: &str = "proxy";
const SETTING_LIMITS: &str = "limits";
const SETTING_CIRCUIT_BREAKER: &str = "circuit_breaker";

/// Runs start-up. See the module docs for the order of precedence.
pub async fn bootstrap(args: StartupArgs) -> Result<Bootstrapped, CoreError> {
    let file = match &args.config {
        Some(path) => FileConfig::load(path)?,
        None => FileConfig::default(),
    };
    let config_path = args
        .config
        .clone()
        .unwrap_or_else(|| PathBuf::from("<none>"));
    if let Some(key) = &args.admin_key {
        validate_key(key).map_err(|m| CoreError::Invalid(format!("--admin-key: {m}")))?;
    }
    if let Some(proxy) = args.proxy.as_deref().filter(|p| !p.is_empty()) {
        validate_proxy(proxy).map_err(|m| CoreError::Invalid(format!("--proxy: {m}")))?;
    }

    let data_dir = args
        .data_dir
        .clone()
        .or_else(|| file.data_dir.clone())
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
    std::fs::create_dir_all(&data_dir).map_err(|source| CoreError::Io {
        what: format!("cannot create data dir {}", data_dir.display()),
        source,
    })?;
    let dsn = args
        .dsn
        .clone()
        .or_else(|| file.dsn.clone())
        .unwrap_or_else(|| default_dsn(&data_dir));

    let storage = Storage::connect(&dsn).await?;
    storage.migrate().await?;
    let stored: HashMap<String, String> = storage.all_settings().await?.into_iter().collect();

    let host = args
        .host
        .clone()
        .or_else(|| file.host.clone())
        .or_else(|| stored.get(SETTING_HOST).cloned())
        .unwrap_or_else(|| DEFAULT_HOST.to_owned());
    let port = args
        .port
        .or(file.port)
        .or_else(|| stored.get(SETTING_PORT).and_then(|p| p.parse().ok()))
        .unwrap_or(DEFAULT_PORT);
    let proxy = args
        .proxy
        .clone()
        .or_else(|| file.proxy.clone())
        .or_else(|| stored.get(SETTING_PROXY).cloned())
        .filter(|p| !p.is_empty());
    let stored_limits: LimitsConfig = stored
        .get(SETTING_LIMITS)
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_default();
    let limits = Limits::default()
        .merged(&stored_limits)
        .merged(&file.limits.clone().unwrap_or_default());

    let stored_resilience: CircuitBreakerConfig = stored
        .get(SETTING_CIRCUIT_BREAKER)
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_default();
    let resilience = Resilience::default()
        .merged(&stored_resilience)
        .merged(&file.circuit_breaker.clone().unwrap_or_default());
    let resilience_json = serde_json::to_string(&resilience.to_config())
        .map_err(|e| CoreError::Invalid(format!("cannot store circuit_breaker: {e}")))?;
    storage
        .set_setting(SETTING_CIRCUIT_BREAKER, &resilience_json)
        .await?;

    storage.set_setting(SETTING_HOST, &host).await?;
    storage.set_setting(SETTING_PORT, &port.to_string()).await?;
    storage
        .set_setting(SETTING_PROXY, proxy.as_deref().unwrap_or(""))
        .await?;
    let limits_json = serde_json::to_string(&limits_to_config(&limits))
        .map_err(|e| CoreError::Invalid(format!("cannot store limits: {e}")))?;
    storage.set_setting(SETTING_LIMITS, &limits_json).await?;

    let generated_admin_key = ensure_admin_key(
        &storage,
        args.admin_key.as_deref().or(file.admin_key.as_deref()),
    )
    .await?;

    for (i, caps) in file.model_capabilities.iter().enumerate() {
        caps.validate()
            .map_err(|(field, message)| ConfigError::Field {
                path: config_path.clone(),
                field: format!("model_capabilities[{i}].{field}"),
                message,
            })?;
    }
    let registry = ProviderRegistry::builtin();
    apply_file(&storage, &registry, &file, &config_path).await?;
    seed_builtins(&storage, &registry).await?;
    apply_routes(&storage, &file, &config_path).await?;

    let snapshot = Snapshot::load(&storage, &registry).await?;
    Ok(Bootstrapped {
        settings: Settings {
            host,
            port,
            data_dir,
            dsn,
            proxy,
            limits,
            resilience,
            model_capabilities: file.model_capabilities.clone(),
        },
        storage,
        registry,
        state: Arc::new(StateHandle::new(snapshot)),
        generated_admin_key,
    })
}

fn default_dsn(data_dir: &Path) -> String {
    format!("sqlite://{}", data_dir.join("gproxy.db").display())
}

fn limits_to_config(l: &Limits) -> LimitsConfig {
    LimitsConfig {
        max_body_bytes: Some(l.max_body_bytes as u64),
        max_response_bytes: Some(l.max_response_bytes as u64),
        max_passthrough_body_bytes: Some(l.max_passthrough_body_bytes as u64),
        connect_timeout_secs: Some(l.connect_timeout.as_secs()),
        first_byte_timeout_secs: Some(l.first_byte_timeout.as_secs()),
        stream_idle_timeout_secs: Some(l.stream_idle_timeout.as_secs()),
    }
}

/// Stores the given admin key's hash, keeps a stored one, or generates one.
/// Returns the key when it was generated now.
async fn ensure_admin_key(
    storage: &Storage,
    given: Option<&str>,
) -> Result<Option<String>, CoreError> {
    if let Some(key) = given {
        storage
            .set_setting(ADMIN_KEY_HASH, &hex::encode(hash_key(key)))
            .await?;
        storage
            .set_setting(ADMIN_KEY_PREFIX, &key_prefix(key))
            .await?;
        return Ok(None);
    }
    if storage
        .get_setting(ADMIN_KEY_HASH)
        .await?
        .is_some_and(|h| !h.is_empty())
    {
        return Ok(None);
    }
    let random: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(40)
        .map(char::from)
        .collect();
    let key = format!("sk-admin-{random}");
    storage
        .set_setting(ADMIN_KEY_HASH, &hex::encode(hash_key(&key)))
        .await?;
    storage
        .set_setting(ADMIN_KEY_PREFIX, &key_prefix(&key))
        .await?;
    Ok(Some(key))
}

/// Upserts the config file's providers, credentials, users and keys.
async fn apply_file(
    storage: &Storage,
    registry: &ProviderRegistry,
    file: &FileConfig,
    path: &Path,
) -> Result<(), CoreError> {
    let existing: HashMap<String, gproxy_storage::ProviderRow> = storage
        .list_providers()
        .await?
        .into_iter()
        .map(|p| (p.name.clone(), p))
        .collect();
    for (i, p) in file.providers.iter().enumerate() {
        let kind = match &p.kind {
            Some(kind) => kind.clone(),
            None if registry.is_kind(&p.name) => p.name.clone(),
            None => {
                return Err(ConfigError::Field {
                    path: path.to_owned(),
                    field: format!("providers[{i}].kind"),
                    message: format!(
                        "`{}` is not a built-in provider, so `kind` is required (one of: {})",
                        p.name,
                        registry.all_kinds().join(", ")
                    ),
                }
                .into());
            }
        };
        if !registry.is_kind(&kind) {
            return Err(ConfigError::Field {
                path: path.to_owned(),
                field: format!("providers[{i}].kind"),
                message: format!(
                    "unknown provider kind `{kind}` (one of: {})",
                    registry.all_kinds().join(", ")
                ),
            }
            .into());
        }
        let before = existing.get(&p.name);
        // A custom provider's settings come from the file; other kinds keep
        // what is stored (while the kind stays the same).
        let settings = match p.custom_settings() {
            Some(custom) => serde_json::to_value(&custom).map_err(|e| {
                CoreError::Invalid(format!("providers[{i}]: cannot store settings: {e}"))
            })?,
            None => match p.vertex_settings() {
                Some(vertex) => serde_json::to_value(&vertex).map_err(|e| {
                    CoreError::Invalid(format!("providers[{i}]: cannot store settings: {e}"))
                })?,
                None => before
                    .filter(|b| b.kind == kind)
                    .map_or_else(|| serde_json::json!({}), |b| b.settings.clone()),
            },
        };
        let row = storage
            .upsert_provider(&NewProvider {
                name: p.name.clone(),
                kind,
                base_url: p
                    .base_url
                    .clone()
                    .or_else(|| before.and_then(|b| b.base_url.clone())),
                settings,
                enabled: p.enabled.or(before.map(|b| b.enabled)).unwrap_or(true),
                credential_strategy: p.credential_strategy.map_or_else(
                    || {
                        before.map_or_else(
                            || "round_robin".to_owned(),
                            |b| b.credential_strategy.clone(),
                        )
                    },
                    |s| s.as_str().to_owned(),
                ),
            })
            .await?;
        for (j, c) in p.credentials.iter().enumerate() {
            let credential = c
                .credential()
                .map_err(|(field, message)| ConfigError::Field {
                    path: path.to_owned(),
                    field: format!("providers[{i}].credentials[{j}].{field}"),
                    message,
                })?;
            let name = c.name_for(&credential);
            storage
                .upsert_credential(&NewCredential {
                    provider_id: row.id,
                    name,
                    kind: credential.kind().to_owned(),
                    secret: credential.to_secret_json(),
                    enabled: c.enabled.unwrap_or(true),
                    weight: c.weight.unwrap_or(1),
                })
                .await?;
        }
    }
    for u in &file.users {
        let user = storage.upsert_user(&u.name).await?;
        for key in &u.keys {
            storage
                .upsert_user_key(user.id, &hex::encode(hash_key(key)), &key_prefix(key))
                .await?;
        }
    }
    Ok(())
}

/// Upserts the config file's model routes, by model name. Every target must
/// name a provider that exists (configured, stored or built-in).
async fn apply_routes(storage: &Storage, file: &FileConfig, path: &Path) -> Result<(), CoreError> {
    if file.routes.is_empty() {
        return Ok(());
    }
    let providers: Vec<String> = storage
        .list_providers()
        .await?
        .into_iter()
        .map(|p| p.name)
        .collect();
    for (i, r) in file.routes.iter().enumerate() {
        let mut targets = Vec::with_capacity(r.targets.len());
        for (j, t) in r.targets.iter().enumerate() {
            let field = match t {
                TargetConfig::Plain(_) => format!("routes[{i}].targets[{j}]"),
                TargetConfig::Weighted(_) => format!("routes[{i}].targets[{j}].target"),
            };
            let Some((provider, model)) = t.split() else {
                return Err(ConfigError::Field {
                    path: path.to_owned(),
                    field,
                    message: format!("`{}` must be `provider/model`", t.target()),
                }
                .into());
            };
            if !providers.iter().any(|p| p == provider) {
                return Err(ConfigError::Field {
                    path: path.to_owned(),
                    field,
                    message: format!(
                        "unknown provider `{provider}` (configured: {})",
                        providers.join(", ")
                    ),
                }
                .into());
            }
            targets.push(RouteTarget {
                provider: provider.to_owned(),
                model: model.to_owned(),
                weight: t.weight(),
            });
        }
        let strategy = if is_weighted(&r.targets) {
            Strategy::Weighted
        } else {
            Strategy::Ordered
        };
        let targets = serde_json::to_value(&targets)
            .map_err(|e| CoreError::Invalid(format!("cannot store route targets: {e}")))?;
        storage
            .upsert_model_route(&NewModelRoute {
                name: r.model.clone(),
                strategy: strategy.as_str().to_owned(),
                targets,
                enabled: true,
            })
            .await?;
    }
    Ok(())
}

/// Creates a provider row for every built-in kind that has none yet.
async fn seed_builtins(storage: &Storage, registry: &ProviderRegistry) -> Result<(), CoreError> {
    let existing: Vec<String> = storage
        .list_providers()
        .await?
        .into_iter()
        .map(|p| p.name)
        .collect();
    for kind in registry.kinds() {
        if existing.iter().any(|n| n == kind) {
            continue;
        }
        storage
            .upsert_provider(&NewProvider {
                name: kind.to_owned(),
                kind: kind.to_owned(),
                base_url: None,
                settings: serde_json::json!({}),
                enabled: true,
                credential_strategy: "round_robin".to_owned(),
            })
            .await?;
    }
    Ok(())
}
