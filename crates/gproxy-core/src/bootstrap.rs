//! Start-up: merge the configuration (CLI > ENV > config file > database >
//! defaults), persist the merge, apply the config file's entries that are
//! new or changed since it last applied them (so admin edits survive a
//! restart), seed the built-in providers, apply the model routes, make sure
//! an admin key exists, and build the first snapshot. The same apply code
//! serves config imports ([`crate::export`]).

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use gproxy_provider::ProviderRegistry;
use gproxy_storage::{NewCredential, NewModelRoute, NewProvider, Storage};
use rand::Rng;
use rand::distr::Alphanumeric;
use sha2::{Digest, Sha256};

use crate::CoreError;
use crate::config::{
    CircuitBreakerConfig, ConfigError, FileConfig, LimitsConfig, Logging, LoggingConfig,
    StoredCredential, TargetConfig, is_weighted, validate_key, validate_proxy,
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
    /// `--master-key` / `GPROXY_MASTER_KEY`: seals credential secrets.
    pub master_key: Option<String>,
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
    /// Seals and opens credential secrets under the master key.
    pub sealer: Arc<gproxy_credential::seal::Sealer>,
    /// Where the master key came from (for the banner).
    pub master_key_source: crate::secrets::KeySource,
}

const SETTING_HOST: &str = "host";
const SETTING_PORT: &str = "port";
/// Settings key of the egress proxy URL (empty: none).
pub const SETTING_PROXY: &str = "proxy";
/// Settings key of `[limits]` (JSON).
pub const SETTING_LIMITS: &str = "limits";
/// Settings key of the `[logging]` section (JSON).
pub const SETTING_LOGGING: &str = "logging";
/// Settings key of `[rate_limits]` (JSON).
pub const SETTING_RATE_LIMITS: &str = "rate_limits";
/// Settings key of `[budgets]` (JSON).
pub const SETTING_BUDGETS: &str = "budgets";
/// Settings key of `[cache]` (JSON).
pub const SETTING_CACHE: &str = "cache";
/// Settings key of `[cors]` (JSON).
pub const SETTING_CORS: &str = "cors";
/// Settings key of `[metrics]` (JSON; the token as its SHA-256).
pub const SETTING_METRICS: &str = "metrics";
/// Settings key of `[pricing]` (JSON).
pub const SETTING_PRICING: &str = "pricing";
/// Settings key of `[circuit_breaker]` (JSON).
pub const SETTING_CIRCUIT_BREAKER: &str = "circuit_breaker";

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
    crate::secrets::prepare_data_dir(&data_dir)?;
    let dsn = args
        .dsn
        .clone()
        .or_else(|| file.dsn.clone())
        .unwrap_or_else(|| default_dsn(&data_dir));

    let storage = Storage::connect(&dsn).await?;
    storage.migrate().await?;
    crate::secrets::protect_sqlite_files(&dsn);
    let (sealer, master_key_source) =
        crate::secrets::open_vault(&storage, &data_dir, args.master_key.as_deref()).await?;
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
    // Config-file entries apply when new or changed since last applied
    // (see docs/configuration.md, "Config file and admin edits").
    let ledger = ApplyMode::Changed(&stored);
    let file_proxy = ledger.changed_setting(SETTING_PROXY, file.proxy.as_ref())?;
    let proxy = args
        .proxy
        .clone()
        .or_else(|| file_proxy.as_ref().map(|(p, _)| (*p).clone()))
        .or_else(|| stored.get(SETTING_PROXY).cloned())
        .filter(|p| !p.is_empty());
    let stored_limits: LimitsConfig = stored
        .get(SETTING_LIMITS)
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_default();
    let file_limits = ledger.changed_setting(SETTING_LIMITS, file.limits.as_ref())?;
    let limits = Limits::default().merged(&stored_limits).merged(
        &file_limits
            .as_ref()
            .map(|(l, _)| (*l).clone())
            .unwrap_or_default(),
    );

    let stored_resilience: CircuitBreakerConfig = stored
        .get(SETTING_CIRCUIT_BREAKER)
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_default();
    let file_resilience =
        ledger.changed_setting(SETTING_CIRCUIT_BREAKER, file.circuit_breaker.as_ref())?;
    let resilience = Resilience::default().merged(&stored_resilience).merged(
        &file_resilience
            .as_ref()
            .map(|(c, _)| (*c).clone())
            .unwrap_or_default(),
    );
    let stored_logging: LoggingConfig = stored
        .get(SETTING_LOGGING)
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_default();
    let file_logging = ledger.changed_setting(SETTING_LOGGING, file.logging.as_ref())?;
    let logging = Logging::default().merged(&stored_logging).merged(
        &file_logging
            .as_ref()
            .map(|(l, _)| (*l).clone())
            .unwrap_or_default(),
    );
    let (cors_config, cors_hash) =
        overlay_section(&stored, &ledger, SETTING_CORS, file.cors.as_ref())?;
    let cors = crate::config::Cors::from_config(&cors_config);
    store_section(&storage, SETTING_CORS, &cors.to_config()).await?;
    let (rate_limits, rate_limits_hash) = overlay_section(
        &stored,
        &ledger,
        SETTING_RATE_LIMITS,
        file.rate_limits.as_ref(),
    )?;
    store_section(&storage, SETTING_RATE_LIMITS, &rate_limits).await?;
    let (budgets, budgets_hash) =
        overlay_section(&stored, &ledger, SETTING_BUDGETS, file.budgets.as_ref())?;
    store_section(&storage, SETTING_BUDGETS, &budgets).await?;
    let (cache, cache_hash) =
        overlay_section(&stored, &ledger, SETTING_CACHE, file.cache.as_ref())?;
    store_section(&storage, SETTING_CACHE, &cache).await?;
    let (metrics_config, metrics_hash) =
        overlay_section(&stored, &ledger, SETTING_METRICS, file.metrics.as_ref())?;
    let metrics = crate::config::MetricsSettings::from_config(&metrics_config);
    store_section(&storage, SETTING_METRICS, &metrics.to_config()).await?;
    let (pricing, pricing_hash) =
        overlay_section(&stored, &ledger, SETTING_PRICING, file.pricing.as_ref())?;
    store_section(&storage, SETTING_PRICING, &pricing).await?;
    store_section(&storage, SETTING_LOGGING, &logging.to_config()).await?;

    store_section(&storage, SETTING_CIRCUIT_BREAKER, &resilience.to_config()).await?;

    storage.set_setting(SETTING_HOST, &host).await?;
    storage.set_setting(SETTING_PORT, &port.to_string()).await?;
    storage
        .set_setting(SETTING_PROXY, proxy.as_deref().unwrap_or(""))
        .await?;
    store_section(&storage, SETTING_LIMITS, &limits_to_config(&limits)).await?;

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
    for (name, applied) in [
        (SETTING_LIMITS, file_limits.map(|(_, h)| h)),
        (SETTING_CIRCUIT_BREAKER, file_resilience.map(|(_, h)| h)),
        (SETTING_PROXY, file_proxy.map(|(_, h)| h)),
        (SETTING_LOGGING, file_logging.map(|(_, h)| h)),
        (SETTING_CORS, cors_hash),
        (SETTING_METRICS, metrics_hash),
        (SETTING_RATE_LIMITS, rate_limits_hash),
        (SETTING_BUDGETS, budgets_hash),
        (SETTING_CACHE, cache_hash),
        (SETTING_PRICING, pricing_hash),
    ] {
        if let Some(hash) = applied {
            ledger.record(&storage, "setting", name, &hash).await?;
        }
    }

    let registry = ProviderRegistry::builtin();
    apply_entities(&storage, &registry, &sealer, &file, &config_path, &ledger).await?;

    let snapshot = Snapshot::load(&storage, &registry, &sealer).await?;
    Ok(Bootstrapped {
        settings: Settings {
            host,
            port,
            data_dir,
            dsn,
            proxy,
            limits,
            resilience,
            logging,
            cors,
            rate_limits,
            budgets,
            cache,
            metrics,
            telemetry: file.telemetry.clone().unwrap_or_default(),
            model_capabilities: file.model_capabilities.clone(),
        },
        storage,
        registry,
        state: Arc::new(StateHandle::new(snapshot, sealer.clone())),
        generated_admin_key,
        sealer,
        master_key_source,
    })
}

fn default_dsn(data_dir: &Path) -> String {
    format!("sqlite://{}", data_dir.join("gproxy.db").display())
}

/// `l` in the config file's form, every field set.
pub fn limits_to_config(l: &Limits) -> LimitsConfig {
    l.to_config()
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

/// Settings-key prefix of the hashes of config-file entries as last
/// applied: `config_applied:<kind>:<name>`.
pub const CONFIG_APPLIED_PREFIX: &str = "config_applied:";

/// What applying a config document did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ApplyReport {
    /// Providers created or updated.
    pub providers: usize,
    /// Credentials created or updated.
    pub credentials: usize,
    /// Users created or updated.
    pub users: usize,
    /// User keys created or updated.
    pub keys: usize,
    /// Model routes created or updated.
    pub routes: usize,
    /// Entries left alone because the config file has not changed them
    /// since it last applied them (`provider openai`).
    pub unchanged: Vec<String>,
    /// Settings sections stored (`limits`, `circuit_breaker`, `proxy`;
    /// imports only).
    pub settings: Vec<String>,
}

/// A settings section the config file lays over the stored one, field by
/// field (each section's `overlaid`).
trait Overlay: Default + Clone + serde::Serialize + serde::de::DeserializeOwned {
    fn overlay(self, file: Self) -> Self;
}

macro_rules! overlay {
    ($($t:ty),*) => {$(
        impl Overlay for $t {
            fn overlay(self, file: Self) -> Self {
                self.overlaid(file)
            }
        }
    )*};
}

overlay!(
    crate::config::CorsConfig,
    crate::config::RateLimitsConfig,
    crate::config::BudgetsConfig,
    crate::config::CacheConfig,
    crate::config::MetricsConfig,
    crate::config::PricingConfig
);

/// Section `name` as stored (its default when absent or unreadable), with
/// the file's section laid over it when the file's changed since it was
/// last applied; and then the hash to record as applied.
fn overlay_section<T: Overlay>(
    stored: &HashMap<String, String>,
    ledger: &ApplyMode<'_>,
    name: &str,
    file: Option<&T>,
) -> Result<(T, Option<String>), CoreError> {
    let base: T = stored
        .get(name)
        .and_then(|v| serde_json::from_str(v).ok())
        .unwrap_or_default();
    Ok(match ledger.changed_setting(name, file)? {
        Some((file, hash)) => (base.overlay(file.clone()), Some(hash)),
        None => (base, None),
    })
}

/// Stores section `name` as JSON.
async fn store_section<T: serde::Serialize>(
    storage: &Storage,
    name: &str,
    value: &T,
) -> Result<(), CoreError> {
    let json = serde_json::to_string(value)
        .map_err(|e| CoreError::Invalid(format!("cannot store {name}: {e}")))?;
    storage.set_setting(name, &json).await?;
    Ok(())
}

/// Which entries of a config document to apply.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ApplyMode<'a> {
    /// Every entry (an import).
    All,
    /// Entries that are new or changed since the config file last applied
    /// them, given the stored settings (start-up); applied entries'
    /// hashes are recorded.
    Changed(&'a HashMap<String, String>),
}

impl ApplyMode<'_> {
    /// Whether entry `kind`/`name` with content `hash` is to be applied.
    /// A changed entry is logged: its values replace what an admin may
    /// have edited since.
    fn wants(&self, kind: &str, name: &str, hash: &str) -> bool {
        let ApplyMode::Changed(stored) = self else {
            return true;
        };
        match stored.get(&format!("{CONFIG_APPLIED_PREFIX}{kind}:{name}")) {
            Some(applied) if applied == hash => false,
            Some(_) => {
                tracing::warn!(
                    "config file changed {kind} `{name}`: its values replace the stored ones"
                );
                true
            }
            None => true,
        }
    }

    /// `value` with its hash when it is to be applied (given, and new or
    /// changed since last applied).
    fn changed_setting<'v, T: serde::Serialize>(
        &self,
        name: &str,
        value: Option<&'v T>,
    ) -> Result<Option<(&'v T, String)>, CoreError> {
        let Some(value) = value else {
            return Ok(None);
        };
        let hash = entry_hash(value)?;
        Ok(self.wants("setting", name, &hash).then_some((value, hash)))
    }

    /// Records that entry `kind`/`name` was applied with content `hash`.
    async fn record(
        &self,
        storage: &Storage,
        kind: &str,
        name: &str,
        hash: &str,
    ) -> Result<(), CoreError> {
        if let ApplyMode::Changed(_) = self {
            storage
                .set_setting(&format!("{CONFIG_APPLIED_PREFIX}{kind}:{name}"), hash)
                .await?;
        }
        Ok(())
    }
}

/// Hex SHA-256 of an entry's JSON form.
fn entry_hash(value: &impl serde::Serialize) -> Result<String, CoreError> {
    let json = serde_json::to_vec(value)
        .map_err(|e| CoreError::Invalid(format!("cannot hash a config entry: {e}")))?;
    Ok(hex::encode(Sha256::digest(&json)))
}

/// Applies a config document's providers (with credentials), users (with
/// keys) and model routes, seeding the built-in providers before the
/// routes (which may name them). Errors name the field in `path`.
pub(crate) async fn apply_entities(
    storage: &Storage,
    registry: &ProviderRegistry,
    sealer: &gproxy_credential::seal::Sealer,
    file: &FileConfig,
    path: &Path,
    mode: &ApplyMode<'_>,
) -> Result<ApplyReport, CoreError> {
    // Everything is checked before anything is written, so a bad entry
    // leaves the database as it was.
    let stored = storage.list_providers().await?;
    let providers = resolve_providers(registry, sealer, file, path)?;
    let known: BTreeSet<&str> = stored
        .iter()
        .map(|p| p.name.as_str())
        .chain(file.providers.iter().map(|p| p.name.as_str()))
        .chain(registry.kinds())
        .collect();
    let routes = resolve_routes(file, path, &known)?;

    let mut report = ApplyReport::default();
    apply_providers(storage, sealer, file, &stored, providers, mode, &mut report).await?;
    apply_users(storage, file, mode, &mut report).await?;
    seed_builtins(storage, registry).await?;
    apply_routes(storage, file, routes, mode, &mut report).await?;
    Ok(report)
}

/// A provider entry checked and resolved: its kind and stored credentials.
struct ResolvedProvider {
    kind: String,
    credentials: Vec<StoredCredential>,
}

/// Resolves every provider entry's kind and credentials, or names the
/// first bad field.
fn resolve_providers(
    registry: &ProviderRegistry,
    sealer: &gproxy_credential::seal::Sealer,
    file: &FileConfig,
    path: &Path,
) -> Result<Vec<ResolvedProvider>, CoreError> {
    let mut out = Vec::with_capacity(file.providers.len());

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
        let mut credentials = Vec::with_capacity(p.credentials.len());
        for (j, c) in p.credentials.iter().enumerate() {
            let stored = c
                .stored(&kind)
                .map_err(|(field, message)| ConfigError::Field {
                    path: path.to_owned(),
                    field: format!("providers[{i}].credentials[{j}].{field}"),
                    message,
                })?;
            // A sealed secret must open under this instance's key.
            if gproxy_credential::seal::is_sealed(&stored.secret)
                && let Err(e) = sealer.open_json(&stored.secret)
            {
                return Err(ConfigError::Field {
                    path: path.to_owned(),
                    field: format!("providers[{i}].credentials[{j}].sealed"),
                    message: e.to_string(),
                }
                .into());
            }
            credentials.push(stored);
        }
        out.push(ResolvedProvider { kind, credentials });
    }
    Ok(out)
}

/// Upserts the document's providers and their credentials.
async fn apply_providers(
    storage: &Storage,
    sealer: &gproxy_credential::seal::Sealer,
    file: &FileConfig,
    stored: &[gproxy_storage::ProviderRow],
    resolved: Vec<ResolvedProvider>,
    mode: &ApplyMode<'_>,
    report: &mut ApplyReport,
) -> Result<(), CoreError> {
    let existing: HashMap<&str, &gproxy_storage::ProviderRow> =
        stored.iter().map(|p| (p.name.as_str(), p)).collect();
    for (i, (p, ResolvedProvider { kind, credentials })) in
        file.providers.iter().zip(resolved).enumerate()
    {
        let secrets: Vec<&serde_json::Value> = credentials.iter().map(|c| &c.secret).collect();
        let hash = entry_hash(&serde_json::json!({ "entry": p, "secrets": secrets }))?;
        if !mode.wants("provider", &p.name, &hash) {
            report.unchanged.push(format!("provider {}", p.name));
            continue;
        }
        let before = existing.get(p.name.as_str()).copied();
        // A custom provider's settings come from the file; other kinds keep
        // what is stored (while the kind stays the same).
        let settings = match p.custom_settings() {
            Some(custom) => serde_json::to_value(&custom).map_err(|e| {
                CoreError::Invalid(format!("providers[{i}]: cannot store settings: {e}"))
            })?,
            None => p.builtin_settings(before.filter(|b| b.kind == kind).map(|b| &b.settings)),
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
        report.providers += 1;
        for (c, stored) in p.credentials.iter().zip(credentials) {
            storage
                .upsert_credential(&NewCredential {
                    provider_id: row.id,
                    name: stored.name,
                    kind: stored.kind,
                    // Sealed at rest; an imported sealed secret stays as it is.
                    secret: if gproxy_credential::seal::is_sealed(&stored.secret) {
                        stored.secret
                    } else {
                        sealer.seal_json(&stored.secret)
                    },
                    enabled: c.enabled.unwrap_or(true),
                    weight: c.weight.unwrap_or(1),
                })
                .await?;
            report.credentials += 1;
        }
        mode.record(storage, "provider", &p.name, &hash).await?;
    }
    Ok(())
}

/// Upserts the document's users and their keys (plaintext or hashed).
async fn apply_users(
    storage: &Storage,
    file: &FileConfig,
    mode: &ApplyMode<'_>,
    report: &mut ApplyReport,
) -> Result<(), CoreError> {
    for u in &file.users {
        let hash = entry_hash(u)?;
        if !mode.wants("user", &u.name, &hash) {
            report.unchanged.push(format!("user {}", u.name));
            continue;
        }
        let user = storage.upsert_user(&u.name).await?;
        report.users += 1;
        let hashed = u
            .keys
            .iter()
            .map(|key| (hex::encode(hash_key(key)), key_prefix(key)))
            .chain(
                u.key_hashes
                    .iter()
                    .map(|k| (k.sha256.clone(), k.prefix.clone())),
            );
        for (key_hash, prefix) in hashed {
            storage.upsert_user_key(user.id, &key_hash, &prefix).await?;
            report.keys += 1;
        }
        mode.record(storage, "user", &u.name, &hash).await?;
    }
    Ok(())
}

/// Resolves every route's targets, or names the first bad one. Every
/// target must name a provider in `known` (stored, in the document, or a
/// built-in about to be seeded).
fn resolve_routes(
    file: &FileConfig,
    path: &Path,
    known: &BTreeSet<&str>,
) -> Result<Vec<Vec<RouteTarget>>, CoreError> {
    let mut out = Vec::with_capacity(file.routes.len());
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
            if !known.contains(provider) {
                return Err(ConfigError::Field {
                    path: path.to_owned(),
                    field,
                    message: format!(
                        "unknown provider `{provider}` (configured: {})",
                        known.iter().copied().collect::<Vec<_>>().join(", ")
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
        out.push(targets);
    }
    Ok(out)
}

/// Upserts the document's model routes (with their resolved targets), by
/// model name.
async fn apply_routes(
    storage: &Storage,
    file: &FileConfig,
    resolved: Vec<Vec<RouteTarget>>,
    mode: &ApplyMode<'_>,
    report: &mut ApplyReport,
) -> Result<(), CoreError> {
    for (r, targets) in file.routes.iter().zip(resolved) {
        let hash = entry_hash(r)?;
        if !mode.wants("route", &r.model, &hash) {
            report.unchanged.push(format!("route {}", r.model));
            continue;
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
        report.routes += 1;
        mode.record(storage, "route", &r.model, &hash).await?;
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
