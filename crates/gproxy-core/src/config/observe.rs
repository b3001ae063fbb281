//! `[metrics]` (the Prometheus endpoint; a live setting) and `[telemetry]`
//! (OpenTelemetry trace export and the live request feed; read at start).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// `[metrics]` as written (and as stored: the token only as its SHA-256).
/// Absent fields keep their defaults.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Whether `GET /metrics` answers and requests are counted. Default
    /// true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// A bearer token `GET /metrics` then requires
    /// (`Authorization: Bearer <token>`). Stored only as its SHA-256; an
    /// empty string removes it. Default: none (open).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The token's SHA-256 (hex), as stored; may be given instead of
    /// `token` to keep the token out of the file. Shown by the admin API
    /// in place of the token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_sha256: Option<String>,
    /// Adds per-user and per-key request and token counters
    /// (`gproxy_key_requests_total`, `gproxy_key_tokens_total`). Default
    /// false: one series per key can be many series.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_key_labels: Option<bool>,
    /// How many distinct `(provider, model)` label pairs the metrics keep
    /// (1 to 10000); further models are counted under `model="other"`.
    /// Default 200.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_models: Option<usize>,
}

/// The largest `[metrics] max_models`.
pub const MAX_MODEL_LABELS: usize = 10_000;

impl MetricsConfig {
    /// `self` with every field `other` sets replaced (a new `token`
    /// replaces the stored hash).
    pub fn overlaid(mut self, other: MetricsConfig) -> Self {
        if other.enabled.is_some() {
            self.enabled = other.enabled;
        }
        if other.token.is_some() || other.token_sha256.is_some() {
            self.token = other.token;
            self.token_sha256 = other.token_sha256;
        }
        if other.per_key_labels.is_some() {
            self.per_key_labels = other.per_key_labels;
        }
        if other.max_models.is_some() {
            self.max_models = other.max_models;
        }
        self
    }

    /// Checks every value; the error names the field.
    pub fn validate(&self) -> Result<(), (String, String)> {
        if self
            .max_models
            .is_some_and(|n| n == 0 || n > MAX_MODEL_LABELS)
        {
            return Err((
                "max_models".into(),
                format!("between 1 and {MAX_MODEL_LABELS}"),
            ));
        }
        if let Some(hash) = &self.token_sha256
            && (hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err((
                "token_sha256".into(),
                "64 hexadecimal digits (the SHA-256 of the token)".into(),
            ));
        }
        if self.token.is_some() && self.token_sha256.is_some() {
            return Err((
                "token".into(),
                "give `token` or `token_sha256`, not both".into(),
            ));
        }
        Ok(())
    }
}

/// The `[metrics]` settings in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsSettings {
    /// `GET /metrics` answers and requests are counted.
    pub enabled: bool,
    /// SHA-256 of the bearer token `/metrics` requires, if any.
    pub token_sha256: Option<[u8; 32]>,
    /// Per-user and per-key families on.
    pub per_key_labels: bool,
    /// Distinct `(provider, model)` pairs kept.
    pub max_models: usize,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        MetricsSettings {
            enabled: true,
            token_sha256: None,
            per_key_labels: false,
            max_models: 200,
        }
    }
}

impl MetricsSettings {
    /// The settings of `config` over the defaults.
    pub fn from_config(config: &MetricsConfig) -> Self {
        let d = MetricsSettings::default();
        let token_sha256 = match (&config.token, &config.token_sha256) {
            (Some(t), _) if !t.is_empty() => Some(Sha256::digest(t.as_bytes()).into()),
            (Some(_), _) => None,
            (None, Some(h)) => hex::decode(h).ok().and_then(|b| b.try_into().ok()),
            (None, None) => None,
        };
        MetricsSettings {
            enabled: config.enabled.unwrap_or(d.enabled),
            token_sha256,
            per_key_labels: config.per_key_labels.unwrap_or(d.per_key_labels),
            max_models: config.max_models.unwrap_or(d.max_models),
        }
    }

    /// The stored form: every field set, the token as its hash.
    pub fn to_config(&self) -> MetricsConfig {
        MetricsConfig {
            enabled: Some(self.enabled),
            token: None,
            token_sha256: self.token_sha256.map(hex::encode),
            per_key_labels: Some(self.per_key_labels),
            max_models: Some(self.max_models),
        }
    }

    /// Whether `presented` (the bearer token of a scrape) is let in.
    pub fn admits(&self, presented: Option<&str>) -> bool {
        let Some(expected) = &self.token_sha256 else {
            return true;
        };
        let Some(presented) = presented else {
            return false;
        };
        let got: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        // Comparing digests: equal length, and the time says nothing about
        // the token.
        got.iter()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

/// `[telemetry]`: OpenTelemetry trace export (off by default) and the live
/// request feed. Read at start only; the standard `OTEL_*` variables fill
/// what the file leaves out.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TelemetryConfig {
    /// Export traces over OTLP. Default false, unless
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`
    /// is set (and `OTEL_SDK_DISABLED` is not `true`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// The OTLP/HTTP traces URL (`http://collector:4318/v1/traces`).
    /// Default: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, else
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`, else
    /// `http://localhost:4318/v1/traces`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Extra headers on every export (`Authorization`, API keys), added to
    /// `OTEL_EXPORTER_OTLP_HEADERS` / `OTEL_EXPORTER_OTLP_TRACES_HEADERS`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub headers: std::collections::BTreeMap<String, String>,
    /// `service.name` of the spans. Default: `OTEL_SERVICE_NAME`, else
    /// `gproxy`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_name: Option<String>,
    /// Share of new traces recorded, 0.0 to 1.0 (a client's sampled
    /// `traceparent` is always followed). Default 1.0, or
    /// `OTEL_TRACES_SAMPLER_ARG` with a ratio sampler.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_ratio: Option<f64>,
    /// Timeout of one export, in milliseconds. Default:
    /// `OTEL_EXPORTER_OTLP_TIMEOUT`, else 10000.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// How long spans wait to be batched, in milliseconds. Default:
    /// `OTEL_BSP_SCHEDULE_DELAY`, else 1000.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_delay_ms: Option<u64>,
    /// Spans held for export at most; beyond, new spans are dropped
    /// (counted). Default: `OTEL_BSP_MAX_QUEUE_SIZE`, else 2048.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_queue: Option<usize>,
    /// Request summaries the live feed (`GET /admin/api/logs/live`) holds
    /// for a viewer that reads slowly (16 to 65536); a viewer further
    /// behind loses the oldest and is told how many. Default 1024.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live_feed_capacity: Option<usize>,
}

impl TelemetryConfig {
    /// Checks every value; the error names the field.
    pub fn validate(&self) -> Result<(), (String, String)> {
        if let Some(endpoint) = &self.endpoint
            && !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))
        {
            return Err((
                "endpoint".into(),
                "an http:// or https:// URL (OTLP over HTTP with protobuf)".into(),
            ));
        }
        if self.sample_ratio.is_some_and(|r| !(0.0..=1.0).contains(&r)) {
            return Err(("sample_ratio".into(), "between 0.0 and 1.0".into()));
        }
        if self
            .live_feed_capacity
            .is_some_and(|c| !(16..=65_536).contains(&c))
        {
            return Err(("live_feed_capacity".into(), "between 16 and 65536".into()));
        }
        if self.max_queue == Some(0) {
            return Err(("max_queue".into(), "at least 1".into()));
        }
        for name in self.headers.keys() {
            if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Err((format!("headers.{name}"), "not a valid header name".into()));
            }
        }
        Ok(())
    }
}
