//! `/settings`: limits, retries and circuit breaker, egress proxy, logging. Every
//! accepted change is stored and applied at once on every instance.

use gproxy_core::bootstrap::{
    SETTING_BUDGETS, SETTING_CACHE, SETTING_CIRCUIT_BREAKER, SETTING_CORS, SETTING_LIMITS,
    SETTING_LOGGING, SETTING_METRICS, SETTING_PROXY, SETTING_RATE_LIMITS, limits_to_config,
};
use gproxy_core::config::{BudgetsConfig, CacheConfig};
use gproxy_core::config::{
    CircuitBreakerConfig, CorsConfig, FileConfig, LimitsConfig, LoggingConfig, MetricsConfig,
    MetricsSettings, RateLimitsConfig,
};
use gproxy_core::control::LiveSettings;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::json::{double_option, parse};
use crate::request::Reply;
use crate::routes::Call;

/// Every live setting, as in force.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SettingsView {
    /// Size limits and timeouts (every field set).
    pub limits: LimitsConfig,
    /// Retries, circuit breaker, degraded signal, test mode, shared state.
    pub circuit_breaker: CircuitBreakerConfig,
    /// Egress proxy for upstream calls (`http://` or `socks5://`); the
    /// password is masked.
    pub proxy: Option<String>,
    /// What the request log records: rows on/off, body capture, its size
    /// cap, redacted headers, retention.
    pub logging: LoggingConfig,
    /// Browser origins allowed to call the proxy routes.
    pub cors: CorsConfig,
    /// `GET /metrics`: on/off, the token (as its SHA-256 only), per-key
    /// labels, the model label cap.
    pub metrics: MetricsConfig,
    /// Rate limits: backend, window, and the limits per scope (global,
    /// providers, models, users, keys by prefix).
    pub rate_limits: RateLimitsConfig,
    /// Budgets: backend, time zone, reservation settings, and the USD
    /// budgets per user and per key prefix (daily, weekly, monthly,
    /// total, soft threshold).
    pub budgets: BudgetsConfig,
    /// The response cache: on/off, who is cached (all, keys, models),
    /// partition, lifetimes, backend, size bounds.
    pub cache: CacheConfig,
}

/// `PATCH /settings`: the sections given are merged over the stored ones
/// (within a section, only the fields given change).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    /// Limits to change.
    pub limits: Option<LimitsConfig>,
    /// Circuit-breaker settings to change. `backend` and `redis_url` are
    /// stored but take effect at the next start.
    pub circuit_breaker: Option<CircuitBreakerConfig>,
    /// New egress proxy; `null` removes it.
    #[serde(default, deserialize_with = "double_option")]
    #[schemars(with = "Option<String>")]
    pub proxy: Option<Option<String>>,
    /// Logging settings to change.
    pub logging: Option<LoggingConfig>,
    /// CORS settings to change (`allowed_origins` is replaced whole).
    pub cors: Option<CorsConfig>,
    /// Metrics settings to change (`token: ""` removes the token).
    pub metrics: Option<MetricsConfig>,
    /// The new `[rate_limits]`, replacing the stored section whole (send
    /// `{}` to remove every limit). Applied at once on every instance.
    pub rate_limits: Option<RateLimitsConfig>,
    /// The new `[budgets]`, replacing the stored section whole (send `{}`
    /// to remove every budget). Applied at once on every instance.
    pub budgets: Option<BudgetsConfig>,
    /// The new `[cache]`, replacing the stored section whole (`{}` turns
    /// the cache off). Applied at once on every instance.
    pub cache: Option<CacheConfig>,
}

fn masked_proxy(proxy: Option<String>) -> Option<String> {
    proxy.map(|p| match (p.find("://"), p.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &p[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &p[..scheme + 3], &p[at..]),
                None => p,
            }
        }
        _ => p,
    })
}

async fn current(call: &Call) -> Result<SettingsView, ApiError> {
    let live = LiveSettings::load(&call.ctx.storage).await?;
    Ok(SettingsView {
        limits: limits_to_config(&live.limits),
        circuit_breaker: live.resilience.to_config(),
        proxy: masked_proxy(live.proxy),
        logging: live.logging.to_config(),
        cors: live.cors.to_config(),
        metrics: live.metrics.to_config(),
        rate_limits: live.rate_limits,
        budgets: live.budgets,
        cache: live.cache,
    })
}

/// `GET /settings`.
pub async fn get(call: Call) -> Result<Reply, ApiError> {
    Reply::ok(&current(&call).await?)
}

/// Sets every `Some` field of `patch` on `base` (both are the config
/// file's all-optional form).
fn merge<T: Serialize + serde::de::DeserializeOwned>(base: &T, patch: &T) -> Result<T, ApiError> {
    let mut base = serde_json::to_value(base).map_err(ApiError::internal)?;
    let patch = serde_json::to_value(patch).map_err(ApiError::internal)?;
    if let (Some(b), Some(p)) = (base.as_object_mut(), patch.as_object()) {
        for (k, v) in p {
            if !v.is_null() {
                b.insert(k.clone(), v.clone());
            }
        }
    }
    serde_json::from_value(base).map_err(ApiError::internal)
}

/// Stores section `key` as JSON, when it is given.
async fn store<T: Serialize>(
    storage: &gproxy_storage::Storage,
    key: &str,
    section: Option<&T>,
) -> Result<(), ApiError> {
    if let Some(section) = section {
        let json = serde_json::to_string(section).map_err(ApiError::internal)?;
        storage.set_setting(key, &json).await?;
    }
    Ok(())
}

/// `PATCH /settings`.
pub async fn update(call: Call) -> Result<Reply, ApiError> {
    let patch: SettingsPatch = parse(&call.req.body)?;
    let live = LiveSettings::load(&call.ctx.storage).await?;
    let limits = match &patch.limits {
        Some(l) => Some(merge(&limits_to_config(&live.limits), l)?),
        None => None,
    };
    let circuit_breaker = match &patch.circuit_breaker {
        Some(c) => Some(merge(&live.resilience.to_config(), c)?),
        None => None,
    };
    let logging = match &patch.logging {
        Some(l) => Some(merge(&live.logging.to_config(), l)?),
        None => None,
    };
    let cors = patch
        .cors
        .clone()
        .map(|c| live.cors.to_config().overlaid(c));
    let metrics = patch
        .metrics
        .clone()
        .map(|m| live.metrics.to_config().overlaid(m));
    let proxy = patch.proxy.clone().map(|p| p.filter(|p| !p.is_empty()));
    // The config file's own checks, with the same field paths.
    let check = FileConfig {
        limits: limits.clone(),
        circuit_breaker: circuit_breaker.clone(),
        proxy: proxy.clone().flatten(),
        logging: logging.clone(),
        cors: cors.clone(),
        metrics: patch.metrics.clone(),
        rate_limits: patch.rate_limits.clone(),
        budgets: patch.budgets.clone(),
        cache: patch.cache.clone(),
        ..FileConfig::default()
    };
    check
        .validate()
        .map_err(|(field, message)| ApiError::field(field, message))?;
    let storage = &call.ctx.storage;
    store(storage, SETTING_LIMITS, limits.as_ref()).await?;
    store(storage, SETTING_CIRCUIT_BREAKER, circuit_breaker.as_ref()).await?;
    store(storage, SETTING_LOGGING, logging.as_ref()).await?;
    store(storage, SETTING_CORS, cors.as_ref()).await?;
    // Stored resolved: the token only as its hash.
    let metrics = metrics.map(|m| MetricsSettings::from_config(&m).to_config());
    store(storage, SETTING_METRICS, metrics.as_ref()).await?;
    store(storage, SETTING_CACHE, patch.cache.as_ref()).await?;
    store(storage, SETTING_BUDGETS, patch.budgets.as_ref()).await?;
    store(storage, SETTING_RATE_LIMITS, patch.rate_limits.as_ref()).await?;
    if let Some(p) = &proxy {
        storage
            .set_setting(SETTING_PROXY, p.as_deref().unwrap_or(""))
            .await?;
    }
    Reply::ok(&current(&call).await?)
}
