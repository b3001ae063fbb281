//! Resolved settings: what the gateway runs with after merging
//! CLI > ENV > config file > database > defaults.

use std::path::PathBuf;
use std::time::Duration;

use gproxy_credential::CircuitConfig;

pub use crate::config::Logging;
use crate::config::{CircuitBreakerConfig, LimitsConfig};

/// Default listen host.
pub const DEFAULT_HOST: &str = "127.0.0.1";
/// Default listen port.
pub const DEFAULT_PORT: u16 = 8787;
/// Default data directory.
pub const DEFAULT_DATA_DIR: &str = "./data";

/// Size limits and timeouts, with documented defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted request body (413 beyond). Default 32 MiB.
    pub max_body_bytes: usize,
    /// Largest buffered non-stream upstream response (502 beyond). Default 64 MiB.
    pub max_response_bytes: usize,
    /// Largest request body streamed through on passthrough routes (413
    /// beyond). Default 512 MiB.
    pub max_passthrough_body_bytes: usize,
    /// Upstream TCP connect timeout. Default 10 s.
    pub connect_timeout: Duration,
    /// Time allowed until upstream response headers arrive. Default 300 s.
    pub first_byte_timeout: Duration,
    /// Longest silence between two upstream body chunks. Default 120 s.
    pub stream_idle_timeout: Duration,
    /// The client edge: connection and request-read timeouts, HTTP/2
    /// settings and the connection cap.
    pub edge: EdgeLimits,
}

/// What a client connection may do: how long it may stay silent, idle or
/// slow, and how many may be open. Read by the accept loop for each new
/// connection (so a change applies to connections opened after it) and by
/// the router for each request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeLimits {
    /// Time a new connection has to send its first bytes. Default 10 s.
    pub first_byte_timeout: Duration,
    /// Time to complete a request head from its first byte (HTTP/1), or to
    /// open the first stream (HTTP/2). Default 30 s.
    pub header_timeout: Duration,
    /// Longest silence between two request body chunks (408). Default 30 s.
    pub body_idle_timeout: Duration,
    /// Time allowed for a whole request body (408). Default 600 s.
    pub body_timeout: Duration,
    /// How long an HTTP/1 connection may wait for its next request. Default 75 s.
    pub keepalive_timeout: Duration,
    /// How long an HTTP/2 connection may stay without an open stream. Default 300 s.
    pub http2_idle_timeout: Duration,
    /// Interval of HTTP/2 keep-alive pings; `None` sends none. Default 30 s.
    pub http2_keepalive_interval: Option<Duration>,
    /// How long a ping may go unanswered. Default 20 s.
    pub http2_keepalive_timeout: Duration,
    /// Most concurrent streams per HTTP/2 connection. Default 128.
    pub http2_max_concurrent_streams: u32,
    /// Most client connections open at once. Default 10,000.
    pub max_connections: usize,
}

impl Default for EdgeLimits {
    fn default() -> Self {
        EdgeLimits {
            first_byte_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(30),
            body_idle_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(600),
            keepalive_timeout: Duration::from_secs(75),
            http2_idle_timeout: Duration::from_secs(300),
            http2_keepalive_interval: Some(Duration::from_secs(30)),
            http2_keepalive_timeout: Duration::from_secs(20),
            http2_max_concurrent_streams: 128,
            max_connections: 10_000,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 32 * 1024 * 1024,
            max_response_bytes: 64 * 1024 * 1024,
            max_passthrough_body_bytes: 512 * 1024 * 1024,
            connect_timeout: Duration::from_secs(10),
            first_byte_timeout: Duration::from_secs(300),
            stream_idle_timeout: Duration::from_secs(120),
            edge: EdgeLimits::default(),
        }
    }
}

impl Limits {
    /// These limits with every value `config` sets applied on top (brought
    /// into its range first).
    pub fn merged(mut self, config: &LimitsConfig) -> Self {
        let config = &config.clone().clamped();
        let secs = Duration::from_secs;
        if let Some(v) = config.max_body_bytes {
            self.max_body_bytes = usize::try_from(v).unwrap_or(usize::MAX);
        }
        if let Some(v) = config.max_response_bytes {
            self.max_response_bytes = usize::try_from(v).unwrap_or(usize::MAX);
        }
        if let Some(v) = config.max_passthrough_body_bytes {
            self.max_passthrough_body_bytes = usize::try_from(v).unwrap_or(usize::MAX);
        }
        if let Some(v) = config.connect_timeout_secs {
            self.connect_timeout = secs(v);
        }
        if let Some(v) = config.first_byte_timeout_secs {
            self.first_byte_timeout = secs(v);
        }
        if let Some(v) = config.stream_idle_timeout_secs {
            self.stream_idle_timeout = secs(v);
        }
        let edge = &mut self.edge;
        let set = |field: &mut Duration, value: Option<u64>| {
            if let Some(v) = value {
                *field = secs(v);
            }
        };
        set(
            &mut edge.first_byte_timeout,
            config.client_first_byte_timeout_secs,
        );
        set(&mut edge.header_timeout, config.client_header_timeout_secs);
        set(
            &mut edge.body_idle_timeout,
            config.client_body_idle_timeout_secs,
        );
        set(&mut edge.body_timeout, config.client_body_timeout_secs);
        set(
            &mut edge.keepalive_timeout,
            config.client_keepalive_timeout_secs,
        );
        set(&mut edge.http2_idle_timeout, config.http2_idle_timeout_secs);
        set(
            &mut edge.http2_keepalive_timeout,
            config.http2_keepalive_timeout_secs,
        );
        if let Some(v) = config.http2_keepalive_interval_secs {
            edge.http2_keepalive_interval = (v > 0).then(|| secs(v));
        }
        if let Some(v) = config.http2_max_concurrent_streams {
            edge.http2_max_concurrent_streams = u32::try_from(v).unwrap_or(u32::MAX);
        }
        if let Some(v) = config.max_connections {
            edge.max_connections = usize::try_from(v).unwrap_or(usize::MAX);
        }
        self
    }

    /// The limits in the config file's form, every field set (for storing).
    pub fn to_config(&self) -> LimitsConfig {
        let edge = &self.edge;
        LimitsConfig {
            max_body_bytes: Some(self.max_body_bytes as u64),
            max_response_bytes: Some(self.max_response_bytes as u64),
            max_passthrough_body_bytes: Some(self.max_passthrough_body_bytes as u64),
            connect_timeout_secs: Some(self.connect_timeout.as_secs()),
            first_byte_timeout_secs: Some(self.first_byte_timeout.as_secs()),
            stream_idle_timeout_secs: Some(self.stream_idle_timeout.as_secs()),
            client_first_byte_timeout_secs: Some(edge.first_byte_timeout.as_secs()),
            client_header_timeout_secs: Some(edge.header_timeout.as_secs()),
            client_body_idle_timeout_secs: Some(edge.body_idle_timeout.as_secs()),
            client_body_timeout_secs: Some(edge.body_timeout.as_secs()),
            client_keepalive_timeout_secs: Some(edge.keepalive_timeout.as_secs()),
            http2_idle_timeout_secs: Some(edge.http2_idle_timeout.as_secs()),
            http2_keepalive_interval_secs: Some(
                edge.http2_keepalive_interval.map_or(0, |d| d.as_secs()),
            ),
            http2_keepalive_timeout_secs: Some(edge.http2_keepalive_timeout.as_secs()),
            http2_max_concurrent_streams: Some(u64::from(edge.http2_max_concurrent_streams)),
            max_connections: Some(edge.max_connections as u64),
        }
    }
}

/// The marker in a degraded error's message when `degraded_signal` is empty.
pub const DEFAULT_DEGRADED_SIGNAL: &str = "[LLM_PROXY_PROVIDER_DEGRADED]";
/// The default Redis URL.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";
/// The default prefix of the gateway's Redis keys.
pub const DEFAULT_REDIS_PREFIX: &str = "gproxy:";

/// Where circuits, failure windows and cooldowns live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SharedBackend {
    /// In this process only.
    Memory,
    /// In Redis, shared by every instance using it.
    Redis {
        /// `redis://host:port[/db]`.
        url: String,
        /// Prefix of every key (default `gproxy:`).
        prefix: String,
    },
}

/// Retries, circuit breaker and degraded-signal settings, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resilience {
    /// The circuit breaker (enabled, threshold, window, cooldown, escalation).
    pub circuit: CircuitConfig,
    /// Retries after transient failures per request. Default 2.
    pub max_transient_retries: u32,
    /// Whether a first-byte timeout on a generate call is retried. Default
    /// false (see `CircuitBreakerConfig::retry_on_first_byte_timeout`).
    pub retry_on_first_byte_timeout: bool,
    /// Retries after rate limits per request. Default 2.
    pub max_rate_limit_retries: u32,
    /// The configured `degraded_signal` (empty: the default marker).
    pub degraded_signal: String,
    /// Whether the test-mode header is honoured. Default false.
    pub test_mode_enabled: bool,
    /// Where the shared state lives. Default memory.
    pub backend: SharedBackend,
    /// A 429 without `Retry-After` (or an equivalent) cools the credential
    /// down this long. 30 s.
    pub default_rate_limit_cooldown: Duration,
    /// A transient failure makes the credential second choice this long. 5 s.
    pub transient_cooldown: Duration,
    /// First retry backoff (doubled per retry, jittered to 50–100 %). 200 ms.
    pub backoff_base: Duration,
    /// Largest retry backoff. 5 s.
    pub backoff_max: Duration,
}

impl Default for Resilience {
    fn default() -> Self {
        Resilience {
            circuit: CircuitConfig::default(),
            max_transient_retries: 2,
            retry_on_first_byte_timeout: false,
            max_rate_limit_retries: 2,
            degraded_signal: String::new(),
            test_mode_enabled: false,
            backend: SharedBackend::Memory,
            default_rate_limit_cooldown: Duration::from_secs(30),
            transient_cooldown: Duration::from_secs(5),
            backoff_base: Duration::from_millis(200),
            backoff_max: Duration::from_secs(5),
        }
    }
}

impl Resilience {
    /// These settings with every value `config` sets applied on top.
    pub fn merged(mut self, config: &CircuitBreakerConfig) -> Self {
        let c = &mut self.circuit;
        if let Some(v) = config.enabled {
            c.enabled = v;
        }
        if let Some(v) = config.failure_threshold {
            c.failure_threshold = v.max(1);
        }
        if let Some(v) = config.window_seconds {
            c.window_ms = v.max(1).saturating_mul(1000);
        }
        if let Some(v) = config.cooldown_seconds {
            c.cooldown_ms = v.max(1).saturating_mul(1000);
        }
        if let Some(v) = config.global_rate_limit_escalation_window {
            c.escalation_ms = v.saturating_mul(1000);
        }
        if let Some(v) = config.max_transient_retries {
            self.max_transient_retries = v;
        }
        if let Some(v) = config.max_rate_limit_retries {
            self.max_rate_limit_retries = v;
        }
        if let Some(v) = config.retry_on_first_byte_timeout {
            self.retry_on_first_byte_timeout = v;
        }
        if let Some(v) = &config.degraded_signal {
            self.degraded_signal = v.clone();
        }
        if let Some(v) = config.test_mode_enabled {
            self.test_mode_enabled = v;
        }
        let (old_url, old_prefix) = match &self.backend {
            SharedBackend::Redis { url, prefix } => (url.clone(), prefix.clone()),
            SharedBackend::Memory => (
                DEFAULT_REDIS_URL.to_owned(),
                DEFAULT_REDIS_PREFIX.to_owned(),
            ),
        };
        let redis = SharedBackend::Redis {
            url: config.redis_url.clone().unwrap_or(old_url),
            prefix: config.redis_key_prefix.clone().unwrap_or(old_prefix),
        };
        match config.backend.as_deref() {
            Some("redis") => self.backend = redis,
            Some(_) => self.backend = SharedBackend::Memory,
            None if matches!(self.backend, SharedBackend::Redis { .. }) => self.backend = redis,
            None => {}
        }
        self
    }

    /// The stored form (every value set).
    pub fn to_config(&self) -> CircuitBreakerConfig {
        let (backend, redis_url, redis_key_prefix) = match &self.backend {
            SharedBackend::Memory => ("memory", None, None),
            SharedBackend::Redis { url, prefix } => {
                ("redis", Some(url.clone()), Some(prefix.clone()))
            }
        };
        CircuitBreakerConfig {
            enabled: Some(self.circuit.enabled),
            failure_threshold: Some(self.circuit.failure_threshold),
            window_seconds: Some(self.circuit.window_ms / 1000),
            cooldown_seconds: Some(self.circuit.cooldown_ms / 1000),
            max_transient_retries: Some(self.max_transient_retries),
            retry_on_first_byte_timeout: Some(self.retry_on_first_byte_timeout),
            max_rate_limit_retries: Some(self.max_rate_limit_retries),
            global_rate_limit_escalation_window: Some(self.circuit.escalation_ms / 1000),
            degraded_signal: Some(self.degraded_signal.clone()),
            test_mode_enabled: Some(self.test_mode_enabled),
            backend: Some(backend.to_owned()),
            redis_url,
            redis_key_prefix,
        }
    }

    /// The marker degraded error messages carry.
    pub fn signal(&self) -> &str {
        if self.degraded_signal.is_empty() {
            DEFAULT_DEGRADED_SIGNAL
        } else {
            &self.degraded_signal
        }
    }
}

/// Everything the gateway runs with, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Listen host.
    pub host: String,
    /// Listen port.
    pub port: u16,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Database DSN (may hold a password: never log it whole).
    pub dsn: String,
    /// Egress proxy URL for upstream calls.
    pub proxy: Option<String>,
    /// Limits and timeouts.
    pub limits: Limits,
    /// Retries, circuit breaker, degraded signal, test mode, shared state.
    pub resilience: Resilience,
    /// Request logs: recording, body capture, redaction, retention.
    pub logging: Logging,
    /// Browser origins allowed on the proxy routes.
    pub cors: crate::config::Cors,
    /// `[rate_limits]` as stored (file over database).
    pub rate_limits: crate::config::RateLimitsConfig,
    /// `[budgets]` as stored (file over database).
    pub budgets: crate::config::BudgetsConfig,
    /// `[cache]` as stored (file over database).
    pub cache: crate::config::CacheConfig,
    /// `GET /metrics` and what it counts.
    pub metrics: crate::config::MetricsSettings,
    /// Trace export and the live feed, as the file gives them (the
    /// `OTEL_*` variables are read when the exporter starts).
    pub telemetry: crate::config::TelemetryConfig,
    /// `[[model_capabilities]]` from the config file, ahead of the built-in table.
    pub model_capabilities: Vec<gproxy_protocol::capabilities::ModelCapabilities>,
}

impl Settings {
    /// The DSN with any password replaced by `***`, for logs and banners.
    pub fn dsn_redacted(&self) -> String {
        redact_url_password(&self.dsn)
    }
}

/// `scheme://user:pass@host/...` with the password replaced by `***`.
pub fn redact_url_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match (authority.rfind('@'), authority.find(':')) {
        (Some(at), Some(colon)) if colon < at => format!(
            "{}{}:***{}",
            &url[..scheme_end + 3],
            &authority[..colon],
            &rest[at..]
        ),
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url_password("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(
            redact_url_password("mysql://root@h/db"),
            "mysql://root@h/db"
        );
        assert_eq!(
            redact_url_password("sqlite://data/g.db"),
            "sqlite://data/g.db"
        );
    }

    #[test]
    fn resilience_defaults_merge_and_round_trip() {
        let d = Resilience::default();
        assert!(d.circuit.enabled);
        assert_eq!(
            (
                d.circuit.failure_threshold,
                d.circuit.window_ms,
                d.circuit.cooldown_ms
            ),
            (5, 120_000, 300_000)
        );
        assert_eq!(d.signal(), DEFAULT_DEGRADED_SIGNAL);
        let r = d.clone().merged(&CircuitBreakerConfig {
            backend: Some("redis".into()),
            degraded_signal: Some("[X]".into()),
            ..Default::default()
        });
        assert_eq!(
            r.backend,
            SharedBackend::Redis {
                url: DEFAULT_REDIS_URL.into(),
                prefix: DEFAULT_REDIS_PREFIX.into()
            }
        );
        assert_eq!(r.signal(), "[X]");
        assert_eq!(Resilience::default().merged(&r.to_config()), r);
    }

    #[test]
    fn limits_merge_only_what_is_set() {
        let l = Limits::default().merged(&LimitsConfig {
            max_body_bytes: Some(10),
            stream_idle_timeout_secs: Some(3),
            ..Default::default()
        });
        assert_eq!(l.max_body_bytes, 10);
        assert_eq!(l.stream_idle_timeout, Duration::from_secs(3));
        assert_eq!(l.connect_timeout, Limits::default().connect_timeout);
        assert_eq!(l.edge, EdgeLimits::default());
    }

    #[test]
    fn limits_round_trip_through_the_config_form() {
        let l = Limits::default().merged(&LimitsConfig {
            client_header_timeout_secs: Some(5),
            http2_keepalive_interval_secs: Some(0),
            max_connections: Some(7),
            ..Default::default()
        });
        assert_eq!(l.edge.header_timeout, Duration::from_secs(5));
        assert_eq!(l.edge.http2_keepalive_interval, None);
        assert_eq!(l.edge.max_connections, 7);
        assert_eq!(Limits::default().merged(&l.to_config()), l);
        let defaults = Limits::default();
        assert_eq!(Limits::default().merged(&defaults.to_config()), defaults);
    }
}
