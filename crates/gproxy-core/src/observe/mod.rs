//! Observability: Prometheus metrics ([`metrics`]), OpenTelemetry traces
//! ([`trace`], exported by [`otlp`]) and the live request feed ([`live`]).
//! All three are fed once per request, from where its log row is
//! completed (the accounting's `finish`), never from the hot path's
//! middle; trace spans exist only when export is on.

pub mod live;
pub mod metrics;
pub mod otlp;
pub mod trace;

use std::sync::Arc;

use crate::Engine;
use crate::config::{MetricsSettings, TelemetryConfig};

/// What every request reports to.
#[derive(Debug, Default)]
pub struct Observability {
    /// The Prometheus families.
    pub metrics: Arc<metrics::Metrics>,
    /// The live request feed.
    pub live: live::LiveFeed,
    /// The trace exporter, when export is on.
    pub traces: Option<otlp::TraceExporter>,
}

impl Observability {
    /// Metrics under `metrics`, the live feed and (when `telemetry` and
    /// the `OTEL_*` variables ask for it) the trace exporter, whose task
    /// starts now (needs a tokio runtime).
    pub fn start(
        metrics: MetricsSettings,
        telemetry: &TelemetryConfig,
    ) -> Result<Self, crate::CoreError> {
        let traces = match otlp::ExporterConfig::resolve(telemetry, |k| std::env::var(k).ok())? {
            Some(config) => Some(otlp::TraceExporter::spawn(config)?),
            None => None,
        };
        Ok(Observability {
            metrics: Arc::new(metrics::Metrics::new(metrics)),
            live: live::LiveFeed::new(
                telemetry
                    .live_feed_capacity
                    .unwrap_or(live::DEFAULT_CAPACITY),
            ),
            traces,
        })
    }

    /// Exports the spans still queued (at shutdown), waiting at most
    /// `deadline`.
    pub async fn flush(&self, deadline: std::time::Duration) {
        if let Some(traces) = &self.traces {
            traces.flush(deadline).await;
        }
    }

    /// A live-feed viewer's stream.
    pub fn subscribe(&self, filter: live::LiveFilter) -> live::EventStream {
        self.live.subscribe(filter, self.metrics.clone())
    }
}

impl Engine {
    /// The metrics, the live feed and the trace exporter.
    pub fn observe(&self) -> &Arc<Observability> {
        &self.observe
    }

    /// `GET /metrics`' body: the families, with the circuit, credential,
    /// usage-sink and exporter values read now.
    pub async fn metrics_text(&self) -> String {
        let report = self.health_report().await;
        let stats = self.sink.stats();
        let (spans_exported, spans_dropped, spans_failed) = self
            .observe
            .traces
            .as_ref()
            .map_or((0, 0, 0), |t| t.stats().counts());
        let scrape = metrics::Scrape {
            providers: report
                .providers
                .iter()
                .map(|p| metrics::ScrapedProvider {
                    name: p.name.clone(),
                    circuit: match p.circuit_state {
                        "open" => 2,
                        "half_open" => 1,
                        _ => 0,
                    },
                    credential_states: p.credential_states.iter().map(|c| c.state).collect(),
                })
                .collect(),
            sink_written: stats.written(),
            sink_dropped: stats.dropped(),
            sink_buffered: stats.buffered(),
            spans_exported,
            spans_dropped,
            spans_failed,
            cache: self.cache.load().as_ref().map(|c| c.report()),
        };
        self.observe.metrics.encode(&scrape)
    }
}
