//! The gateway core: start-up ([`mod@bootstrap`]), the state snapshot the hot
//! path reads ([`state`]), the request pipeline ([`Engine`]), the shared
//! upstream client ([`upstream`]), change propagation across instances
//! ([`sync`]) and config export/import ([`export`]).
//!
//! Nothing here knows HTTP routing: the router turns a request into a
//! [`ProxyRequest`] and renders a [`GatewayError`] in the client's shape.
//!
//! Most embedders start the whole gateway with `gproxy-router`'s
//! `Gateway::start` (see docs/embedding.md). The pieces are usable alone,
//! e.g. the config file, validated with the exact path of a bad field:
//!
//! ```
//! use std::path::Path;
//! use gproxy_core::config::FileConfig;
//!
//! let env = |name: &str| (name == "OPENAI_API_KEY").then(|| "sk-from-env".to_owned());
//! let config = FileConfig::parse(
//!     r#"
//!     [[providers]]
//!     name = "openai"
//!     [[providers.credentials]]
//!     api_key = "${OPENAI_API_KEY}"
//!     "#,
//!     Path::new("gproxy.toml"),
//!     &env,
//! )?;
//! assert_eq!(config.providers[0].name, "openai");
//!
//! let bad = FileConfig::parse(
//!     "[[providers]]\nname = \"openai\"\nbase_url = \"ftp://nope\"\n",
//!     Path::new("gproxy.toml"),
//!     &env,
//! );
//! assert!(bad.unwrap_err().to_string().contains("`providers[0].base_url`"));
//! # Ok::<(), gproxy_core::config::ConfigError>(())
//! ```

pub mod access;
mod accounting;
mod admission;
pub mod background;
pub mod body;
pub mod bootstrap;
pub mod budget;
pub mod cache;
pub mod config;
pub mod control;
mod conversion;
pub mod cost;
pub mod cost_estimate;
pub mod count;
pub mod edge;
mod engine;
mod error;
pub mod export;
mod headers;
pub mod health;
pub mod model_route;
pub mod models;
pub mod oauth;
pub mod observe;
mod passthrough;
pub mod price_refresh;
pub mod probe;
pub mod ratelimit;
mod redis_link;
pub mod request_body;
mod resilience;
pub mod retention;
pub mod secrets;
pub mod settings;
pub mod state;
mod stream;
pub mod sync;
mod tokens;
pub mod upstream;

pub use body::{BodyError, ProxyBody};
pub use bootstrap::{Bootstrapped, StartupArgs, bootstrap};
pub use engine::{
    COST_HEADER, Engine, GeminiCall, GeminiMethod, MODEL_HEADER, Operation, PROVIDER_HEADER,
    ProxyRequest, ProxyRoute,
};
pub use error::{
    CoreError, ERROR_CLASS_HEADER, ErrorSource, GatewayError, PROVIDER_DEGRADED, UpstreamFailure,
};
pub use passthrough::PassthroughRequest;
pub use resilience::SharedStatus;
pub use settings::{Limits, Logging, Resilience, Settings, SharedBackend};

use std::sync::Arc;

use gproxy_credential::{LimiterStore, RedisStore};
use gproxy_storage::{UsageSink, UsageSinkConfig, UsageSinkHandle};
use upstream::{UpstreamClient, UpstreamConfig};

/// Builds the engine from a finished bootstrap: the upstream client, the
/// usage sink's writer task and the log retention task (both need a running
/// tokio runtime).
pub fn build_engine(boot: &Bootstrapped) -> Result<(Engine, UsageSinkHandle), CoreError> {
    let upstream = UpstreamClient::new(&UpstreamConfig::new(
        boot.settings.limits.connect_timeout,
        boot.settings.proxy.clone(),
    ))?;
    let (sink, handle): (UsageSink, UsageSinkHandle) =
        UsageSink::spawn(boot.storage.clone(), UsageSinkConfig::default());
    let resilience = &boot.settings.resilience;
    let shared: Option<Arc<dyn LimiterStore>> = match &resilience.backend {
        SharedBackend::Memory => None,
        SharedBackend::Redis { url, prefix } => {
            let store = Arc::new(RedisStore::new(url, prefix).map_err(|e| {
                CoreError::Invalid(format!("circuit_breaker.redis_url: {}", e.message))
            })?);
            let probe = store.clone();
            let shown = settings::redact_url_password(url);
            tokio::spawn(async move {
                match probe.connect().await {
                    Ok(()) => tracing::info!(redis = %shown, "shared resilience state in Redis"),
                    Err(e) => {
                        tracing::warn!(redis = %shown, error = %e, "Redis unreachable; serving on local resilience state until it is back")
                    }
                }
            });
            Some(store)
        }
    };
    let redis = match &resilience.backend {
        SharedBackend::Memory => None,
        SharedBackend::Redis { url, prefix } => Some(sync::RedisTarget {
            url: url.clone(),
            prefix: prefix.clone(),
        }),
    };
    let bus = sync::ChangeBus::new(
        boot.storage.clone(),
        redis.as_ref(),
        sync::SyncConfig::default(),
    )?;
    let engine = Engine::new(boot.state.clone(), upstream, sink, boot.settings.limits)
        .with_resilience(resilience.clone(), shared)
        .with_change_bus(Arc::new(bus))
        .with_logging(boot.settings.logging.clone())
        .with_model_capabilities(&boot.settings.model_capabilities)
        .with_observability(observe::Observability::start(
            boot.settings.metrics.clone(),
            &boot.settings.telemetry,
        )?);
    engine.oauth().set_storage(boot.storage.clone());
    engine.set_cors(boot.settings.cors.clone());
    engine.set_rate_limits(&boot.settings.rate_limits);
    engine.set_budgets(&boot.settings.budgets, Some(boot.storage.clone()));
    engine.set_cache(&boot.settings.cache);
    // Detached: it holds no state worth flushing and ends with the runtime.
    drop(retention::spawn(
        boot.storage.clone(),
        engine.logging_handle(),
    ));
    Ok((engine, handle))
}
