//! What `/health` shows: without the admin key only that the gateway is up
//! ([`HealthSummary`], no IO, nothing about providers or credentials);
//! with it ([`HealthDetail`], also `GET /admin/api/health`) the resilience
//! state (circuits per provider, health per credential, the shared store),
//! change propagation, the usage sink and the edge counters. Also the
//! admin action that enables a disabled credential again.

use chrono::{DateTime, Utc};
use gproxy_credential::clock::now_ms;
use gproxy_credential::{CredentialEntry, HealthView};
use serde::Serialize;

use crate::resilience::SharedStatus;
use crate::state::ProviderRuntime;
use crate::{Engine, GatewayError};

/// `/health` without the admin key: cheap (no IO, no lock) and minimal, so
/// anyone who can connect learns only that the gateway is up.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct HealthSummary {
    /// Always `ok` (the gateway answers).
    pub status: &'static str,
    /// The gateway's version.
    pub version: &'static str,
}

impl HealthSummary {
    /// The summary: `ok` and the version.
    pub fn now() -> Self {
        HealthSummary {
            status: "ok",
            version: env!("CARGO_PKG_VERSION"),
        }
    }
}

/// `/health` with the admin key, and `GET /admin/api/health`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct HealthDetail {
    /// Always `ok` (the gateway answers).
    pub status: &'static str,
    /// The gateway's version.
    pub version: &'static str,
    /// Providers, by name, with their circuit and credential states.
    pub providers: Vec<ProviderHealth>,
    /// Where circuits and cooldowns live and whether it is reachable.
    pub shared_state: SharedStatus,
    /// Change propagation across instances (`null` without a change bus).
    pub config_sync: Option<crate::sync::SyncStatus>,
    /// The usage sink's counters.
    pub usage_sink: UsageSinkReport,
    /// Client connections and refusals.
    pub edge: crate::edge::EdgeReport,
    /// Metrics, trace export and the live feed.
    pub telemetry: TelemetryReport,
    /// The price catalogue in force and its refresh.
    pub pricing: PricingReport,
    /// Rate limits and budgets in force.
    pub spend_controls: SpendControlsReport,
    /// The response cache's counters on this instance (`null`: off).
    pub cache: Option<crate::cache::CacheReport>,
    /// OAuth token refreshes and pending logins on this instance.
    pub oauth: crate::oauth::OAuthReport,
}

/// Rate limits and budgets in `/health`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct SpendControlsReport {
    /// Where the rate-limit counters live (`memory`, `redis`; `null`: no
    /// limit set).
    pub rate_limits: Option<&'static str>,
    /// Where the budget counters live (`null`: no budget set).
    pub budgets: Option<&'static str>,
    /// The time zone budget periods are aligned in.
    pub budget_timezone: Option<&'static str>,
    /// With limits or budgets in Redis: the admission calls this instance
    /// sent (requests checked while a call is on its way go out together
    /// as one call; `null`: neither in Redis).
    pub redis_admissions: Option<RedisAdmissionsReport>,
}

/// The admission calls to Redis in `/health`.
#[derive(Debug, Clone, Copy, Serialize, schemars::JsonSchema)]
pub struct RedisAdmissionsReport {
    /// Script calls sent to Redis.
    pub calls: u64,
    /// Admissions those calls carried (`requests / calls` is the mean
    /// group size; 1 when requests never overlap). With limits and budgets
    /// in one Redis a request is one admission; in two, one in each.
    pub requests: u64,
    /// Leases of rate-limit entries Redis granted (far from every limit,
    /// a check also counts a block of entries that later requests with
    /// the same scopes are admitted from; see limits.md).
    pub leases: u64,
    /// Requests admitted from a lease, with no call of their own (not in
    /// `requests`).
    pub leased: u64,
}

impl std::ops::Add for RedisAdmissionsReport {
    type Output = Self;

    fn add(self, other: Self) -> Self {
        RedisAdmissionsReport {
            calls: self.calls + other.calls,
            requests: self.requests + other.requests,
            leases: self.leases + other.leases,
            leased: self.leased + other.leased,
        }
    }
}

/// Prices in `/health`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct PricingReport {
    /// The catalogue version pricing requests.
    pub version: String,
    /// Price overrides in force.
    pub overrides: usize,
    /// The catalogue refresh (`url` null: off).
    pub refresh: crate::price_refresh::RefreshStatus,
}

/// Observability in `/health`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct TelemetryReport {
    /// Whether `GET /metrics` answers.
    pub metrics_enabled: bool,
    /// Whether `GET /metrics` needs a bearer token.
    pub metrics_token: bool,
    /// The OTLP trace exporter (`null`: trace export is off).
    pub traces: Option<crate::observe::otlp::TraceExportReport>,
    /// Open live-feed viewers.
    pub live_viewers: usize,
}

/// The usage sink in `/health`.
#[derive(Debug, Clone, Copy, Serialize, schemars::JsonSchema)]
pub struct UsageSinkReport {
    /// Rows written to the database.
    pub written: u64,
    /// Rows lost (channel full, buffer full, shutdown deadline).
    pub dropped: u64,
    /// Write attempts that failed (each is retried).
    pub failed_batches: u64,
    /// Rows accepted but not yet written.
    pub buffered: u64,
}

/// One provider in `/health`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ProviderHealth {
    /// Provider name.
    pub name: String,
    /// Provider kind.
    pub kind: &'static str,
    /// Whether it serves requests.
    pub enabled: bool,
    /// How many credentials it has.
    pub credentials: usize,
    /// `round_robin`, `weighted` or `least_in_flight`.
    pub credential_strategy: &'static str,
    /// `closed`, `open` or `half_open`.
    pub circuit_state: &'static str,
    /// Terminal failures in the current window.
    pub circuit_failures: u32,
    /// When an open circuit may be probed (RFC 3339), null when closed.
    pub circuit_cooldown_until: Option<String>,
    /// Each credential's state.
    pub credential_states: Vec<CredentialHealthReport>,
}

/// One credential in `/health` and in the admin enable answer.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct CredentialHealthReport {
    /// Row id (for `POST /admin/credentials/{id}/enable`).
    pub id: i64,
    /// Name.
    pub name: String,
    /// Weight for weighted selection.
    pub weight: u32,
    /// `ok`, `cooling_down`, `transient_cooldown` or `disabled`.
    pub state: &'static str,
    /// Requests in flight.
    pub in_flight: u32,
    /// End of the cooldown for every model (RFC 3339), if any.
    pub cooldown_until: Option<String>,
    /// Cooldowns of single models: model -> end (RFC 3339).
    pub model_cooldowns: std::collections::BTreeMap<String, String>,
    /// Why it was disabled, while disabled.
    pub disabled_reason: Option<String>,
    /// When it was disabled (RFC 3339), while disabled.
    pub disabled_at: Option<String>,
}

/// The resilience part of `/health`.
#[derive(Debug, Clone, Serialize)]
pub struct HealthReport {
    /// Providers, by name.
    pub providers: Vec<ProviderHealth>,
    /// Where circuits and cooldowns live and whether it is reachable.
    pub shared_state: SharedStatus,
    /// Change propagation across instances (`None` without a change bus).
    pub config_sync: Option<crate::sync::SyncStatus>,
}

fn rfc3339(ms: u64) -> Option<String> {
    let ms = i64::try_from(ms).ok()?;
    DateTime::<Utc>::from_timestamp_millis(ms).map(|t| t.to_rfc3339())
}

fn credential_report(entry: &CredentialEntry, view: HealthView) -> CredentialHealthReport {
    CredentialHealthReport {
        id: entry.id,
        name: entry.name.clone(),
        weight: entry.weight,
        state: view.state,
        in_flight: view.in_flight,
        cooldown_until: view.cooldown_until_ms.and_then(rfc3339),
        model_cooldowns: view
            .model_cooldowns
            .iter()
            .filter_map(|(m, until)| Some((m.clone(), rfc3339(*until)?)))
            .collect(),
        disabled_reason: view.disabled.as_ref().map(|d| d.reason.clone()),
        disabled_at: view.disabled.as_ref().and_then(|d| rfc3339(d.at_ms)),
    }
}

impl Engine {
    /// Everything `/health` shows the admin. Asks the shared store (Redis)
    /// once per provider: admin callers only.
    pub async fn health_detail(&self) -> HealthDetail {
        let report = self.health_report().await;
        let stats = self.sink.stats();
        HealthDetail {
            status: "ok",
            version: env!("CARGO_PKG_VERSION"),
            providers: report.providers,
            shared_state: report.shared_state,
            config_sync: report.config_sync,
            usage_sink: UsageSinkReport {
                written: stats.written(),
                dropped: stats.dropped(),
                failed_batches: stats.failed_batches(),
                buffered: stats.buffered(),
            },
            edge: self.edge.report(),
            telemetry: {
                let metrics = self.observe.metrics.settings();
                TelemetryReport {
                    metrics_enabled: metrics.enabled,
                    metrics_token: metrics.token_sha256.is_some(),
                    traces: self.observe.traces.as_ref().map(|t| t.report()),
                    live_viewers: self.observe.live.viewers(),
                }
            },
            pricing: {
                let book = self.prices();
                PricingReport {
                    version: book.version().to_owned(),
                    overrides: book.override_count(),
                    refresh: self.price_refresh_status(),
                }
            },
            cache: self.cache.load().as_ref().map(|c| c.report()),
            oauth: self.oauth.report(),
            spend_controls: {
                let budgets = self.budgets.load_full();
                SpendControlsReport {
                    rate_limits: self.rate_limiter.load().as_ref().map(|l| l.backend()),
                    budgets: budgets.as_ref().map(|b| b.backend()),
                    budget_timezone: budgets.as_ref().map(|b| b.timezone()),
                    redis_admissions: {
                        let limits = self
                            .rate_limiter
                            .load()
                            .as_ref()
                            .and_then(|l| l.redis_admissions());
                        let budgets = budgets.as_ref().and_then(|b| b.redis_admissions());
                        [limits, budgets]
                            .into_iter()
                            .flatten()
                            .reduce(std::ops::Add::add)
                    },
                }
            },
        }
    }

    /// Circuits, credential health and the shared store.
    pub async fn health_report(&self) -> HealthReport {
        let snapshot = self.state.load_full();
        let mut providers: Vec<&std::sync::Arc<ProviderRuntime>> =
            snapshot.providers.values().collect();
        providers.sort_by(|a, b| a.name.cmp(&b.name));
        let now = now_ms();
        let mut out = Vec::with_capacity(providers.len());
        for p in providers {
            let circuit = self.resilience.view(p).await;
            out.push(ProviderHealth {
                name: p.name.clone(),
                kind: p.provider.kind(),
                enabled: p.enabled,
                credentials: p.pool.len(),
                credential_strategy: p.pool.strategy().as_str(),
                circuit_state: circuit.state.as_str(),
                circuit_failures: circuit.failures,
                circuit_cooldown_until: circuit.cooldown_until_ms.and_then(rfc3339),
                credential_states: p
                    .pool
                    .entries()
                    .iter()
                    .map(|e| credential_report(e, e.health.view(now)))
                    .collect(),
            });
        }
        HealthReport {
            providers: out,
            shared_state: self.resilience.status(),
            config_sync: self.change_bus.as_ref().map(|bus| bus.status()),
        }
    }

    /// Enables credential `id` again (after a 401/403 disabled it) and
    /// clears its cooldowns, here and in the shared store. Only this
    /// instance's disabled flag changes: it is not shared.
    pub async fn enable_credential(&self, id: i64) -> Result<CredentialHealthReport, GatewayError> {
        let snapshot = self.state.load_full();
        let entry = snapshot
            .providers
            .values()
            .find_map(|p| p.pool.get(id))
            .ok_or_else(|| GatewayError::NotFound(format!("no enabled credential with id {id}")))?;
        let now = now_ms();
        let models: Vec<String> = entry.health.view(now).model_cooldowns.into_keys().collect();
        entry.health.enable();
        self.resilience.clear_cooldowns(id, &models).await;
        tracing::info!(credential_id = id, credential = %entry.name, "credential enabled by an admin");
        Ok(credential_report(entry, entry.health.view(now)))
    }
}
