//! The Prometheus metrics (`GET /metrics`): every family, recorded once
//! per request from the finished log row ([`Metrics::record`], called by
//! the accounting where the row is completed), plus the gauges computed
//! at scrape time from the engine's state ([`crate::Engine::metrics_text`]).
//!
//! Label cardinality is bounded: no user or key label unless
//! `[metrics] per_key_labels` (then in their own families); providers and
//! models get their own label only once a request to them succeeded, and
//! at most `max_models` distinct pairs; everything else is `other`.
//! Recording a request of a known (protocol, provider, model) is one read
//! lock and one lookup by the borrowed strings (foldhash) in a cache of
//! pre-resolved handles, then atomic adds and a short lock per histogram:
//! no allocation, no per-family label hashing. The first request of a
//! triple resolves its label values and handles once.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::time::Duration;

use arc_swap::ArcSwap;
use gproxy_storage::RequestLog;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::config::MetricsSettings;

/// The `Content-Type` of `GET /metrics` (Prometheus text format 0.0.4).
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// The label value of a provider or model not counted on its own.
pub const OTHER: &str = "other";
/// The label value when a request never reached a provider or model.
pub const NONE: &str = "none";

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Latency buckets in seconds: 5 ms to 5 min.
fn latency_histogram() -> Histogram {
    Histogram::new([
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
    ])
}

/// Overhead buckets in seconds: 50 µs to 1 s.
fn overhead_histogram() -> Histogram {
    Histogram::new([
        0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
    ])
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    protocol: &'static str,
    provider: Arc<str>,
    model: Arc<str>,
    status_class: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModelLabels {
    provider: Arc<str>,
    model: Arc<str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenLabels {
    provider: Arc<str>,
    model: Arc<str>,
    r#type: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProviderLabels {
    provider: Arc<str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProtocolLabels {
    protocol: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CredentialLabels {
    provider: String,
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PeriodLabels {
    period: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KeyLabels {
    user: String,
    key: String,
    status_class: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KeyTokenLabels {
    user: String,
    key: String,
    r#type: &'static str,
}

/// The credential states `gproxy_credentials` counts, every one present
/// for every provider (0 when none is in it).
const CREDENTIAL_STATES: [&str; 4] = ["ok", "cooling_down", "transient_cooldown", "disabled"];

/// The handles of one `(protocol, provider, model)` as the client named
/// them, resolved to their label values once.
#[derive(Debug)]
struct Handles {
    protocol: &'static str,
    provider: Arc<str>,
    model: Arc<str>,
    /// By status class, created on first use (so only seen classes show).
    requests: [OnceLock<Counter>; CLASSES.len()],
    duration: Histogram,
    ttft: Histogram,
    overhead: Histogram,
    upstream: Histogram,
    retries: OnceLock<Counter>,
    /// By token type, created on first use.
    tokens: [OnceLock<Counter>; TOKEN_TYPES.len()],
}

/// The status classes, in [`status_class`]'s order.
const CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", OTHER];
/// The token types, in the order [`Metrics::record`] reads them.
const TOKEN_TYPES: [&str; 5] = ["input", "output", "cache_read", "cache_write", "reasoning"];

/// A cache key: the protocol and the names as the log row has them.
#[derive(Debug, Hash, PartialEq, Eq)]
struct CacheKey {
    protocol: &'static str,
    provider: Box<str>,
    model: Box<str>,
}

/// [`CacheKey`] borrowed, for lookups: hashes the same three strings in
/// the same order.
#[derive(Hash)]
struct CacheKeyRef<'a> {
    protocol: &'a str,
    provider: &'a str,
    model: &'a str,
}

impl hashbrown::Equivalent<CacheKey> for CacheKeyRef<'_> {
    fn equivalent(&self, key: &CacheKey) -> bool {
        self.protocol == key.protocol
            && *self.provider == *key.provider
            && *self.model == *key.model
    }
}

/// Cached triples at most, per `max_models` (failed requests of unknown
/// models are never cached; this bounds the rest).
const CACHE_PER_MODEL: usize = 4;

/// Every metric family, and the label values seen so far.
pub struct Metrics {
    settings: ArcSwap<MetricsSettings>,
    /// `settings.enabled`, read on every request.
    enabled: AtomicBool,
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    duration: HistogramFamily<ModelLabels>,
    ttft: HistogramFamily<ModelLabels>,
    upstream: HistogramFamily<ProviderLabels>,
    overhead: HistogramFamily<ProtocolLabels>,
    tokens: Family<TokenLabels, Counter>,
    retries: Family<ProviderLabels, Counter>,
    fallbacks: Family<ProviderLabels, Counter>,
    circuit: Family<ProviderLabels, Gauge>,
    credentials: Family<CredentialLabels, Gauge>,
    sink_written: Counter,
    sink_dropped: Counter,
    sink_buffered: Gauge,
    /// Known request costs, USD (the exact sums are in the request log).
    cost: Counter<f64, AtomicU64>,
    spans: Family<ResultLabels, Counter>,
    live_viewers: Gauge,
    live_lagged: Counter,
    key_requests: Family<KeyLabels, Counter>,
    key_tokens: Family<KeyTokenLabels, Counter>,
    refusals: Family<ReasonLabels, Counter>,
    budget_warnings: Family<PeriodLabels, Counter>,
    cache_requests: Family<ResultLabels, Counter>,
    cache_stores: Counter,
    labels: RwLock<Labels>,
    cache: RwLock<hashbrown::HashMap<CacheKey, Arc<Handles>>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("settings", &self.settings.load())
            .finish_non_exhaustive()
    }
}

/// The provider and model label values admitted so far.
#[derive(Debug)]
struct Labels {
    providers: HashMap<Arc<str>, HashSet<Arc<str>>>,
    pairs: usize,
    other: Arc<str>,
    none: Arc<str>,
}

impl Labels {
    /// The label values of `provider` and `model`: their own when already
    /// admitted; admitted now when `admit` and the cap allows; else
    /// `other` (`none` when absent).
    fn resolve(
        lock: &RwLock<Labels>,
        provider: Option<&str>,
        model: Option<&str>,
        admit: bool,
        cap: usize,
    ) -> (Arc<str>, Arc<str>) {
        {
            let labels = lock.read().unwrap_or_else(PoisonError::into_inner);
            let Some(p) = provider else {
                return (labels.none.clone(), labels.none.clone());
            };
            match labels.providers.get_key_value(p) {
                Some((p, models)) => match model {
                    None => return (p.clone(), labels.none.clone()),
                    Some(m) => {
                        if let Some(m) = models.get(m) {
                            return (p.clone(), m.clone());
                        }
                        if !admit || labels.pairs >= cap {
                            return (p.clone(), labels.other.clone());
                        }
                    }
                },
                None if !admit || labels.pairs >= cap => {
                    return (labels.other.clone(), labels.other.clone());
                }
                None => {}
            }
        }
        let mut labels = lock.write().unwrap_or_else(PoisonError::into_inner);
        let none = labels.none.clone();
        let other = labels.other.clone();
        let full = labels.pairs >= cap;
        let Labels {
            providers, pairs, ..
        } = &mut *labels;
        let p_key = match providers.get_key_value(provider.unwrap_or(NONE)) {
            Some((k, _)) => k.clone(),
            None if full => return (other.clone(), other),
            None => {
                let k: Arc<str> = Arc::from(provider.unwrap_or(NONE));
                providers.insert(k.clone(), HashSet::new());
                k
            }
        };
        let Some(model) = model else {
            return (p_key, none);
        };
        let models = providers.entry(p_key.clone()).or_default();
        if let Some(m) = models.get(model) {
            return (p_key, m.clone());
        }
        if full {
            return (p_key, other);
        }
        let m: Arc<str> = Arc::from(model);
        models.insert(m.clone());
        *pairs += 1;
        (p_key, m)
    }
}

/// The index in [`CLASSES`] of a status's class (`2xx`, `4xx`...).
fn status_class(status: u16) -> usize {
    match status / 100 {
        1..=5 => usize::from(status / 100) - 1,
        _ => CLASSES.len() - 1,
    }
}

/// Timings of one finished request the log row does not hold precisely.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timings {
    /// From receiving the request to the end of the answer.
    pub total: Duration,
    /// To the first upstream byte.
    pub ttfb: Option<Duration>,
    /// The gateway's own time (see [`crate::accounting`]).
    pub overhead: Option<Duration>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new(MetricsSettings::default())
    }
}

impl Metrics {
    /// Every family registered, empty, under `settings`.
    pub fn new(settings: MetricsSettings) -> Self {
        let mut registry = Registry::with_prefix("gproxy");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "Requests by client protocol, provider, upstream model and status class",
            requests.clone(),
        );
        let duration: HistogramFamily<ModelLabels> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "request_duration_seconds",
            "Total request latency, from receiving the request to the end of the answer",
            duration.clone(),
        );
        let ttft: HistogramFamily<ModelLabels> = Family::new_with_constructor(latency_histogram);
        registry.register(
            "time_to_first_token_seconds",
            "Time to the first upstream byte (the first event of a stream)",
            ttft.clone(),
        );
        let upstream: HistogramFamily<ProviderLabels> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "upstream_duration_seconds",
            "Each upstream attempt, from sending it to its answer (a stream's first event)",
            upstream.clone(),
        );
        let overhead: HistogramFamily<ProtocolLabels> =
            Family::new_with_constructor(overhead_histogram);
        registry.register(
            "gateway_overhead_seconds",
            "The gateway's own time: before the first upstream attempt, and after a whole answer was read",
            overhead.clone(),
        );
        let tokens = Family::<TokenLabels, Counter>::default();
        registry.register(
            "tokens",
            "Tokens by provider, model and type (input, output, cache_read, cache_write, reasoning)",
            tokens.clone(),
        );
        let retries = Family::<ProviderLabels, Counter>::default();
        registry.register(
            "retries",
            "Upstream attempts after the first on the same provider",
            retries.clone(),
        );
        let fallbacks = Family::<ProviderLabels, Counter>::default();
        registry.register(
            "fallbacks",
            "Model-route targets given up for the next one, by the provider left",
            fallbacks.clone(),
        );
        let circuit = Family::<ProviderLabels, Gauge>::default();
        registry.register(
            "circuit_state",
            "Circuit breaker per provider: 0 closed, 1 half open, 2 open (at scrape time)",
            circuit.clone(),
        );
        let credentials = Family::<CredentialLabels, Gauge>::default();
        registry.register(
            "credentials",
            "Credentials per provider and state (at scrape time)",
            credentials.clone(),
        );
        let sink_written = Counter::default();
        registry.register(
            "usage_sink_written",
            "Request-log rows written to the database",
            sink_written.clone(),
        );
        let sink_dropped = Counter::default();
        registry.register(
            "usage_sink_dropped",
            "Request-log rows lost (queue full, shutdown deadline)",
            sink_dropped.clone(),
        );
        let sink_buffered = Gauge::default();
        registry.register(
            "usage_sink_buffered",
            "Request-log rows accepted and not yet written",
            sink_buffered.clone(),
        );
        let refusals = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "refusals",
            "Requests refused by a rate limit (`rate_limit`), by an unreachable limit store with on_redis_error = closed (`limit_store_unreachable`), by a budget (`budget`: used up, or a cost that cannot be counted), or by an unreachable budget store with on_redis_error = closed (`budget_store_unreachable`)",
            refusals.clone(),
        );
        for reason in [
            "rate_limit",
            "limit_store_unreachable",
            "budget",
            "budget_store_unreachable",
        ] {
            let _ = refusals.get_or_create(&ReasonLabels { reason });
        }
        let cache_requests = Family::<ResultLabels, Counter>::default();
        registry.register(
            "cache_requests",
            "Requests the response cache answered (`hit`), looked up without finding (`miss`), or was asked not to serve or could not (`bypass`); this instance's counts",
            cache_requests.clone(),
        );
        for result in ["hit", "miss", "bypass"] {
            let _ = cache_requests.get_or_create(&ResultLabels { result });
        }
        let cache_stores = Counter::default();
        registry.register(
            "cache_stores",
            "Answers stored in the response cache by this instance",
            cache_stores.clone(),
        );
        let budget_warnings = Family::<PeriodLabels, Counter>::default();
        registry.register(
            "budget_warnings",
            "Budgets whose spend reached their soft threshold (warn_at_percent), once per budget and period",
            budget_warnings.clone(),
        );
        let cost: Counter<f64, AtomicU64> = Counter::default();
        registry.register(
            "cost_usd",
            "Cost of the requests whose price is known, in US dollars",
            cost.clone(),
        );
        let cache = Family::<ResultLabels, Counter>::default();
        registry.register(
            "cache_requests",
            "Response-cache lookups by result (no cache yet: always 0)",
            cache.clone(),
        );
        for result in ["hit", "miss"] {
            let _ = cache.get_or_create(&ResultLabels { result });
        }
        let spans = Family::<ResultLabels, Counter>::default();
        registry.register(
            "trace_spans",
            "Trace spans by result: exported, dropped (queue full), failed (export error)",
            spans.clone(),
        );
        let live_viewers = Gauge::default();
        registry.register(
            "live_feed_viewers",
            "Open live request feeds (GET /admin/api/logs/live)",
            live_viewers.clone(),
        );
        let live_lagged = Counter::default();
        registry.register(
            "live_feed_lagged_events",
            "Request summaries live-feed viewers lost by reading too slowly",
            live_lagged.clone(),
        );
        let build = Family::<BuildLabels, Gauge>::default();
        registry.register(
            "build_info",
            "The running version (always 1)",
            build.clone(),
        );
        build
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
            })
            .set(1);
        let key_requests = Family::<KeyLabels, Counter>::default();
        registry.register(
            "key_requests",
            "Requests per user and key (only with [metrics] per_key_labels)",
            key_requests.clone(),
        );
        let key_tokens = Family::<KeyTokenLabels, Counter>::default();
        registry.register(
            "key_tokens",
            "Tokens per user, key and type (only with [metrics] per_key_labels)",
            key_tokens.clone(),
        );
        Metrics {
            enabled: AtomicBool::new(settings.enabled),
            settings: ArcSwap::from_pointee(settings),
            registry,
            requests,
            duration,
            ttft,
            upstream,
            overhead,
            tokens,
            retries,
            fallbacks,
            circuit,
            credentials,
            sink_written,
            sink_dropped,
            sink_buffered,
            cost,
            spans,
            live_viewers,
            live_lagged,
            key_requests,
            key_tokens,
            refusals,
            budget_warnings,
            cache_requests,
            cache_stores,
            labels: RwLock::new(Labels {
                providers: HashMap::new(),
                pairs: 0,
                other: Arc::from(OTHER),
                none: Arc::from(NONE),
            }),
            cache: RwLock::new(hashbrown::HashMap::new()),
        }
    }

    /// The handles of `protocol`, `provider`, `model` (as the log row names
    /// them): from the cache, or resolved now (and cached when the label
    /// values are settled: the request succeeded, or the names are known).
    fn handles(
        &self,
        protocol: &'static str,
        provider: Option<&str>,
        model: Option<&str>,
        ok: bool,
        max_models: usize,
    ) -> Arc<Handles> {
        let key = CacheKeyRef {
            protocol,
            provider: provider.unwrap_or(""),
            model: model.unwrap_or(""),
        };
        if let Some(h) = self
            .cache
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
        {
            return h.clone();
        }
        let (p, m) = Labels::resolve(&self.labels, provider, model, ok, max_models);
        // Settled: its own labels, or `other` for good (a success beyond
        // the cap). A failure with `other` may get its own label later.
        let settled = ok || (*p != *OTHER && *m != *OTHER);
        let pair = ModelLabels {
            provider: p.clone(),
            model: m.clone(),
        };
        let handles = Arc::new(Handles {
            protocol,
            duration: self.duration.get_or_create_owned(&pair),
            ttft: self.ttft.get_or_create_owned(&pair),
            overhead: self
                .overhead
                .get_or_create_owned(&ProtocolLabels { protocol }),
            upstream: self.upstream.get_or_create_owned(&ProviderLabels {
                provider: p.clone(),
            }),
            retries: OnceLock::new(),
            requests: Default::default(),
            tokens: Default::default(),
            provider: p,
            model: m,
        });
        if settled {
            let mut cache = self.cache.write().unwrap_or_else(PoisonError::into_inner);
            if cache.len() < max_models.saturating_mul(CACHE_PER_MODEL) {
                cache.insert(
                    CacheKey {
                        protocol,
                        provider: key.provider.into(),
                        model: key.model.into(),
                    },
                    handles.clone(),
                );
            }
        }
        handles
    }

    /// The settings in force.
    pub fn settings(&self) -> Arc<MetricsSettings> {
        self.settings.load_full()
    }

    /// Puts `settings` in force (live reconfiguration).
    pub fn set_settings(&self, settings: MetricsSettings) {
        self.enabled.store(settings.enabled, Ordering::Relaxed);
        self.settings.store(Arc::new(settings));
    }

    /// Whether requests are counted.
    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Records one finished request from its log row.
    pub(crate) fn record(&self, protocol: &'static str, log: &RequestLog, timings: Timings) {
        if !self.enabled() {
            return;
        }
        let settings = self.settings.load();
        let ok = (200..300).contains(&log.status);
        let h = self.handles(
            protocol,
            log.provider.as_deref(),
            log.model.as_deref(),
            ok,
            settings.max_models,
        );
        let class = status_class(log.status);
        if let Some(slot) = h.requests.get(class) {
            slot.get_or_init(|| {
                self.requests.get_or_create_owned(&RequestLabels {
                    protocol: h.protocol,
                    provider: h.provider.clone(),
                    model: h.model.clone(),
                    status_class: CLASSES[class],
                })
            })
            .inc();
        }
        if let Some(nanos) = log.cost_nano_usd {
            self.cost.inc_by(nanos as f64 / 1e9);
        }
        h.duration.observe(timings.total.as_secs_f64());
        if let Some(ttfb) = timings.ttfb {
            h.ttft.observe(ttfb.as_secs_f64());
        }
        if let Some(overhead) = timings.overhead {
            h.overhead.observe(overhead.as_secs_f64());
        }
        let mut previous: Option<&str> = None;
        for attempt in &log.attempts {
            let retry = previous == Some(attempt.provider.as_str());
            previous = Some(&attempt.provider);
            let seconds = attempt.latency_ms as f64 / 1000.0;
            if log.provider.as_deref() == Some(attempt.provider.as_str()) {
                h.upstream.observe(seconds);
                if retry {
                    h.retries
                        .get_or_init(|| {
                            self.retries.get_or_create_owned(&ProviderLabels {
                                provider: h.provider.clone(),
                            })
                        })
                        .inc();
                }
                continue;
            }
            // An attempt on another provider (a route fallback): rare.
            let (provider, _) = Labels::resolve(
                &self.labels,
                Some(&attempt.provider),
                None,
                false,
                settings.max_models,
            );
            let labels = ProviderLabels { provider };
            self.upstream.get_or_create(&labels).observe(seconds);
            if retry {
                self.retries.get_or_create(&labels).inc();
            }
        }
        let tokens = [
            log.input_tokens,
            log.output_tokens,
            log.cache_read_tokens,
            log.cache_write_tokens,
            log.reasoning_tokens,
        ];
        for (i, n) in tokens.iter().enumerate() {
            if let (Some(n), Some(slot)) = (n.filter(|n| *n > 0), h.tokens.get(i)) {
                slot.get_or_init(|| {
                    self.tokens.get_or_create_owned(&TokenLabels {
                        provider: h.provider.clone(),
                        model: h.model.clone(),
                        r#type: TOKEN_TYPES[i],
                    })
                })
                .inc_by(n);
            }
        }
        if settings.per_key_labels {
            let user = log.user_name.clone().unwrap_or_default();
            let key = log.key_prefix.clone().unwrap_or_default();
            for (i, n) in tokens.iter().enumerate() {
                if let Some(n) = n.filter(|n| *n > 0) {
                    self.key_tokens
                        .get_or_create(&KeyTokenLabels {
                            user: user.clone(),
                            key: key.clone(),
                            r#type: TOKEN_TYPES[i],
                        })
                        .inc_by(n);
                }
            }
            self.key_requests
                .get_or_create(&KeyLabels {
                    user,
                    key,
                    status_class: CLASSES[class],
                })
                .inc();
        }
    }

    /// A model route gave up `provider`'s target for the next one.
    /// Counts a request refused for `reason` (`rate_limit`,
    /// `limit_store_unreachable`, `budget`).
    pub(crate) fn refusal(&self, reason: &'static str) {
        if self.enabled() {
            self.refusals.get_or_create(&ReasonLabels { reason }).inc();
        }
    }

    /// A budget's spend reached its soft threshold.
    pub(crate) fn budget_warning(&self, period: &'static str) {
        if self.enabled() {
            self.budget_warnings
                .get_or_create(&PeriodLabels { period })
                .inc();
        }
    }

    pub(crate) fn fallback(&self, provider: &str) {
        if !self.enabled() {
            return;
        }
        let max = self.settings.load().max_models;
        let (provider, _) = Labels::resolve(&self.labels, Some(provider), None, false, max);
        self.fallbacks
            .get_or_create(&ProviderLabels { provider })
            .inc();
    }

    /// Live-feed viewers: one more (`true`) or one less.
    pub(crate) fn live_viewer(&self, joined: bool) {
        if joined {
            self.live_viewers.inc();
        } else {
            self.live_viewers.dec();
        }
    }

    /// A live-feed viewer lost `n` summaries.
    pub(crate) fn live_lagged(&self, n: u64) {
        self.live_lagged.inc_by(n);
    }

    /// The text exposition, after `scrape` set the scrape-time values.
    pub(crate) fn encode(&self, scrape: &Scrape) -> String {
        self.circuit.clear();
        self.credentials.clear();
        // Providers come from the snapshot (the config): bounded.
        for p in &scrape.providers {
            self.circuit
                .get_or_create(&ProviderLabels {
                    provider: Arc::from(p.name.as_str()),
                })
                .set(p.circuit);
            for state in CREDENTIAL_STATES {
                let n = p.credential_states.iter().filter(|s| **s == state).count();
                self.credentials
                    .get_or_create(&CredentialLabels {
                        provider: p.name.clone(),
                        state,
                    })
                    .set(i64::try_from(n).unwrap_or(i64::MAX));
            }
        }
        set_counter(&self.sink_written, scrape.sink_written);
        set_counter(&self.sink_dropped, scrape.sink_dropped);
        self.sink_buffered
            .set(i64::try_from(scrape.sink_buffered).unwrap_or(i64::MAX));
        for (result, n) in [
            ("exported", scrape.spans_exported),
            ("dropped", scrape.spans_dropped),
            ("failed", scrape.spans_failed),
        ] {
            set_counter(&self.spans.get_or_create(&ResultLabels { result }), n);
        }
        if let Some(c) = &scrape.cache {
            for (result, n) in [("hit", c.hits), ("miss", c.misses), ("bypass", c.bypasses)] {
                set_counter(
                    &self.cache_requests.get_or_create(&ResultLabels { result }),
                    n,
                );
            }
            set_counter(&self.cache_stores, c.stores);
        }
        let mut out = String::with_capacity(16 * 1024);
        if let Err(e) =
            prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
        {
            tracing::error!(error = %e, "metrics could not be encoded");
        }
        out
    }
}

/// A counter mirroring a total kept elsewhere (the usage sink's).
fn set_counter(counter: &Counter, value: u64) {
    counter.inner().store(value, Ordering::Relaxed);
}

/// What `/metrics` reads from the engine's state at scrape time.
#[derive(Debug, Default)]
pub(crate) struct Scrape {
    pub providers: Vec<ScrapedProvider>,
    /// The response cache's counters (`None`: off).
    pub cache: Option<crate::cache::CacheReport>,
    pub sink_written: u64,
    pub sink_dropped: u64,
    pub sink_buffered: u64,
    pub spans_exported: u64,
    pub spans_dropped: u64,
    pub spans_failed: u64,
}

/// One provider's circuit and credential states at scrape time.
#[derive(Debug)]
pub(crate) struct ScrapedProvider {
    pub name: String,
    /// 0 closed, 1 half open, 2 open.
    pub circuit: i64,
    pub credential_states: Vec<&'static str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(provider: &str, model: &str, status: u16) -> RequestLog {
        RequestLog {
            provider: Some(provider.into()),
            model: Some(model.into()),
            status,
            input_tokens: Some(3),
            output_tokens: Some(5),
            ..RequestLog::default()
        }
    }

    fn timings() -> Timings {
        Timings {
            total: Duration::from_millis(20),
            ttfb: Some(Duration::from_millis(10)),
            overhead: Some(Duration::from_micros(300)),
        }
    }

    #[test]
    fn models_beyond_the_cap_and_failed_unknown_models_are_other() {
        let m = Metrics::new(MetricsSettings {
            max_models: 2,
            ..MetricsSettings::default()
        });
        m.record("openai_chat", &log("p", "bogus", 404), timings());
        m.record("openai_chat", &log("p", "a", 200), timings());
        m.record("openai_chat", &log("p", "b", 200), timings());
        m.record("openai_chat", &log("p", "c", 200), timings());
        m.record("openai_chat", &log("p", "a", 500), timings());
        let text = m.encode(&Scrape::default());
        assert!(text.contains(r#"gproxy_requests_total{protocol="openai_chat",provider="other",model="other",status_class="4xx"} 1"#), "{text}");
        assert!(
            text.contains(r#"model="a",status_class="2xx"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"model="a",status_class="5xx"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"provider="p",model="other",status_class="2xx"} 1"#),
            "{text}"
        );
        assert!(!text.contains(r#"model="c""#), "{text}");
        assert!(!text.contains("bogus"), "{text}");
        assert!(
            text.contains(r#"gproxy_tokens_total{provider="p",model="a",type="output"} 10"#),
            "{text}"
        );
    }

    #[test]
    fn disabled_records_nothing_and_key_labels_need_the_switch() {
        let m = Metrics::default();
        let mut row = log("p", "a", 200);
        row.user_name = Some("alice".into());
        row.key_prefix = Some("sk-al".into());
        m.record("claude", &row, timings());
        assert!(!m.encode(&Scrape::default()).contains("alice"));
        m.set_settings(MetricsSettings {
            per_key_labels: true,
            ..MetricsSettings::default()
        });
        m.record("claude", &row, timings());
        let text = m.encode(&Scrape::default());
        assert!(
            text.contains(
                r#"gproxy_key_requests_total{user="alice",key="sk-al",status_class="2xx"} 1"#
            ),
            "{text}"
        );
        m.set_settings(MetricsSettings {
            enabled: false,
            ..MetricsSettings::default()
        });
        m.record("claude", &row, timings());
        let text = m.encode(&Scrape::default());
        assert!(text.contains(r#"gproxy_requests_total{protocol="claude",provider="p",model="a",status_class="2xx"} 2"#), "{text}");
    }
}
