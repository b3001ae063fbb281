//! Live reconfiguration: rebuilding this instance's snapshot and live
//! settings (limits, retries and circuit breaker, egress proxy, logging) from the
//! database, after an admin write here or a change announced by another
//! instance. Runtime state (credential health, in-flight counts, circuits)
//! survives: the snapshot keeps it by id, the settings swap leaves it alone.

use std::sync::{Arc, Mutex, PoisonError};

use gproxy_provider::ProviderRegistry;
use gproxy_storage::Storage;

use crate::bootstrap::{
    SETTING_BUDGETS, SETTING_CACHE, SETTING_CIRCUIT_BREAKER, SETTING_CORS, SETTING_LIMITS,
    SETTING_LOGGING, SETTING_METRICS, SETTING_PRICING, SETTING_PROXY, SETTING_RATE_LIMITS,
};
use crate::config::{BudgetsConfig, CacheConfig};
use crate::config::{
    CircuitBreakerConfig, Cors, CorsConfig, LimitsConfig, Logging, LoggingConfig, MetricsConfig,
    MetricsSettings, PricingConfig, RateLimitsConfig,
};
use crate::settings::{Limits, Resilience};
use crate::upstream::UpstreamConfig;
use crate::{CoreError, Engine};

/// The settings that change without a restart, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveSettings {
    /// Limits.
    pub limits: Limits,
    /// Retries and circuit breaker.
    pub resilience: Resilience,
    /// Egress proxy URL.
    pub proxy: Option<String>,
    /// What the request log records.
    pub logging: Logging,
    /// Browser origins allowed on the proxy routes.
    pub cors: Cors,
    /// `[rate_limits]`.
    pub rate_limits: RateLimitsConfig,
    /// `[budgets]`.
    pub budgets: BudgetsConfig,
    /// `[cache]`.
    pub cache: CacheConfig,
    /// `GET /metrics` and what it counts.
    pub metrics: MetricsSettings,
    /// Price overrides.
    pub pricing: PricingConfig,
}

impl LiveSettings {
    /// Reads them from the settings table (bootstrap stored the merge of
    /// file, environment and database there at start).
    pub async fn load(storage: &Storage) -> Result<Self, CoreError> {
        let limits: LimitsConfig = read_json(storage, SETTING_LIMITS).await?;
        let cb: CircuitBreakerConfig = read_json(storage, SETTING_CIRCUIT_BREAKER).await?;
        let logging: LoggingConfig = read_json(storage, SETTING_LOGGING).await?;
        let cors: CorsConfig = read_json(storage, SETTING_CORS).await?;
        let metrics: MetricsConfig = read_json(storage, SETTING_METRICS).await?;
        let rate_limits: RateLimitsConfig = read_json(storage, SETTING_RATE_LIMITS).await?;
        let budgets: BudgetsConfig = read_json(storage, SETTING_BUDGETS).await?;
        let cache: CacheConfig = read_json(storage, SETTING_CACHE).await?;
        let pricing: PricingConfig = read_json(storage, SETTING_PRICING).await?;
        let proxy = storage
            .get_setting(SETTING_PROXY)
            .await?
            .filter(|p| !p.is_empty());
        Ok(LiveSettings {
            limits: Limits::default().merged(&limits),
            resilience: Resilience::default().merged(&cb),
            proxy,
            logging: Logging::default().merged(&logging),
            cors: Cors::from_config(&cors),
            rate_limits,
            budgets,
            cache,
            metrics: MetricsSettings::from_config(&metrics),
            pricing,
        })
    }
}

async fn read_json<T: serde::de::DeserializeOwned + Default>(
    storage: &Storage,
    key: &str,
) -> Result<T, CoreError> {
    Ok(storage
        .get_setting(key)
        .await?
        .and_then(|v| serde_json::from_str(&v).ok())
        .unwrap_or_default())
}

/// Applies stored changes to one running instance.
#[derive(Debug)]
pub struct Control {
    storage: Storage,
    registry: ProviderRegistry,
    engine: Arc<Engine>,
    applied: Mutex<Option<LiveSettings>>,
    /// One rebuild at a time (an admin write and a notification may race).
    reloading: tokio::sync::Mutex<()>,
    /// The catalogue refresh task, with what it was started for.
    refresher: Mutex<Option<Refresher>>,
}

/// A running catalogue refresh.
#[derive(Debug)]
struct Refresher {
    settings: (String, std::time::Duration),
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Refresher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Control {
    /// A control over `engine`, reading `storage`.
    pub fn new(storage: Storage, registry: ProviderRegistry, engine: Arc<Engine>) -> Self {
        Control {
            storage,
            registry,
            engine,
            applied: Mutex::new(None),
            reloading: tokio::sync::Mutex::new(()),
            refresher: Mutex::new(None),
        }
    }

    /// The storage.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// The engine.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// Rebuilds the snapshot and applies the live settings.
    pub async fn reload(&self) -> Result<(), CoreError> {
        let _one = self.reloading.lock().await;
        self.engine
            .state()
            .reload(&self.storage, &self.registry)
            .await?;
        let live = LiveSettings::load(&self.storage).await?;
        self.apply(live)
    }

    fn apply(&self, live: LiveSettings) -> Result<(), CoreError> {
        let mut applied = self.applied.lock().unwrap_or_else(PoisonError::into_inner);
        let before = applied.clone();
        if before.as_ref() == Some(&live) {
            return Ok(());
        }
        let client_changed = before.as_ref().is_none_or(|b| {
            b.proxy != live.proxy || b.limits.connect_timeout != live.limits.connect_timeout
        });
        if client_changed && before.is_some() {
            self.engine.upstream().reconfigure(&UpstreamConfig::new(
                live.limits.connect_timeout,
                live.proxy.clone(),
            ))?;
            tracing::info!(proxy = live.proxy.is_some(), "upstream client rebuilt");
        }
        let old = self.engine.resilience();
        if old.backend != live.resilience.backend {
            tracing::warn!(
                "circuit_breaker backend / redis_url changed: stored, applied at the next start"
            );
        }
        let mut resilience = live.resilience.clone();
        resilience.backend = old.backend;
        self.engine.set_resilience(resilience);
        self.engine.set_limits(live.limits);
        self.engine.set_logging(live.logging.clone());
        self.engine.set_cors(live.cors.clone());
        if before
            .as_ref()
            .is_none_or(|b| b.rate_limits != live.rate_limits)
        {
            self.engine.set_rate_limits(&live.rate_limits);
        }
        if before.as_ref().is_none_or(|b| b.cache != live.cache) {
            self.engine.set_cache(&live.cache);
        }
        if before.as_ref().is_none_or(|b| b.budgets != live.budgets) {
            self.engine
                .set_budgets(&live.budgets, Some(self.storage.clone()));
        }
        self.engine
            .observe()
            .metrics
            .set_settings(live.metrics.clone());
        if before.as_ref().map(|b| &b.pricing) != Some(&live.pricing) {
            self.apply_pricing(&live.pricing);
        }
        *applied = Some(live);
        Ok(())
    }

    /// The reload as a change-bus callback (for changes other instances
    /// announce).
    pub fn reloader(self: &Arc<Self>) -> crate::sync::OnChange {
        let control = self.clone();
        Arc::new(move || {
            let control = control.clone();
            Box::pin(async move { control.reload().await })
        })
    }

    /// Puts `pricing`'s overrides over the catalogue in force, and starts,
    /// restarts or stops the catalogue refresh when its settings changed.
    fn apply_pricing(&self, pricing: &PricingConfig) {
        let catalogue = self.engine.prices().catalogue().clone();
        let overrides = pricing.overrides.as_deref().unwrap_or_default();
        self.engine
            .set_prices(crate::cost::PriceBook::new(catalogue, overrides));
        let wanted = pricing.refresh();
        let mut refresher = self
            .refresher
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if refresher.as_ref().map(|r| &r.settings) == wanted.as_ref() {
            return;
        }
        *refresher = None;
        match wanted {
            Some((url, interval)) => {
                let task = crate::price_refresh::spawn(self.engine.clone(), url.clone(), interval);
                *refresher = Some(Refresher {
                    settings: (url, interval),
                    task,
                });
            }
            None => crate::price_refresh::stopped(&self.engine),
        }
    }

    /// Records the settings the engine was built with and puts the stored
    /// price overrides in force (call once at start).
    pub async fn init(&self) -> Result<(), CoreError> {
        let live = LiveSettings::load(&self.storage).await?;
        self.apply_pricing(&live.pricing);
        *self.applied.lock().unwrap_or_else(PoisonError::into_inner) = Some(live);
        Ok(())
    }
}
