//! OTLP trace export over HTTP with protobuf (`application/x-protobuf`,
//! `ExportTraceServiceRequest`): a bounded queue the requests hand their
//! spans to (never waiting: a full queue drops and counts), and one task
//! that batches them and posts them through a hyper client (rustls with
//! ring, like the upstream client; no SDK, no gRPC stack).
//!
//! Configuration: `[telemetry]`, then the standard `OTEL_*` variables
//! ([`ExporterConfig::resolve`]).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Request};
use http_body_util::BodyExt;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use crate::CoreError;
use crate::config::TelemetryConfig;
use crate::upstream::{UpstreamBody, UpstreamClient, UpstreamConfig};

/// The exporter's settings, resolved from `[telemetry]` and the
/// environment.
#[derive(Debug, Clone, PartialEq)]
pub struct ExporterConfig {
    /// The traces URL spans are posted to.
    pub endpoint: String,
    /// Headers sent with every export.
    pub headers: BTreeMap<String, String>,
    /// Resource attributes (`service.name` first).
    pub resource: Vec<(String, String)>,
    /// Share of new traces recorded.
    pub sample_ratio: f64,
    /// Timeout of one export.
    pub timeout: Duration,
    /// How long spans wait to be batched.
    pub batch_delay: Duration,
    /// Requests' span sets held at most.
    pub max_queue: usize,
    /// Spans per export at most.
    pub max_batch: usize,
}

/// The standard variables' default endpoint.
const DEFAULT_ENDPOINT: &str = "http://localhost:4318/v1/traces";

impl ExporterConfig {
    /// The exporter `[telemetry]` and the environment (`env`) ask for;
    /// `None` when export is off. File values win over the variables.
    pub fn resolve(
        file: &TelemetryConfig,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, CoreError> {
        let var = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let traces_endpoint = var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
        let base_endpoint = var("OTEL_EXPORTER_OTLP_ENDPOINT");
        let disabled = var("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"))
            || var("OTEL_TRACES_EXPORTER").is_some_and(|v| v.eq_ignore_ascii_case("none"));
        let enabled = file
            .enabled
            .unwrap_or(!disabled && (traces_endpoint.is_some() || base_endpoint.is_some()));
        if !enabled {
            return Ok(None);
        }
        let protocol = var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
            .or_else(|| var("OTEL_EXPORTER_OTLP_PROTOCOL"));
        if let Some(p) = protocol.filter(|p| p != "http/protobuf") {
            return Err(CoreError::Invalid(format!(
                "OTEL_EXPORTER_OTLP_PROTOCOL={p}: gproxy exports traces over OTLP/HTTP with protobuf only (`http/protobuf`); point it at the collector's HTTP port (4318)"
            )));
        }
        let endpoint = match (&file.endpoint, traces_endpoint, base_endpoint) {
            (Some(e), _, _) => e.clone(),
            (None, Some(e), _) => e,
            (None, None, Some(base)) => format!("{}/v1/traces", base.trim_end_matches('/')),
            (None, None, None) => DEFAULT_ENDPOINT.to_owned(),
        };
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            return Err(CoreError::Invalid(format!(
                "telemetry.endpoint: `{endpoint}` is not an http:// or https:// URL"
            )));
        }
        let mut headers = BTreeMap::new();
        for name in [
            "OTEL_EXPORTER_OTLP_HEADERS",
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
        ] {
            if let Some(list) = var(name) {
                for (k, v) in key_values(&list) {
                    headers.insert(k.to_ascii_lowercase(), v);
                }
            }
        }
        for (k, v) in &file.headers {
            headers.insert(k.to_ascii_lowercase(), v.clone());
        }
        let mut resource = vec![(
            "service.name".to_owned(),
            file.service_name
                .clone()
                .or_else(|| var("OTEL_SERVICE_NAME"))
                .unwrap_or_else(|| "gproxy".to_owned()),
        )];
        resource.push(("service.version".into(), env!("CARGO_PKG_VERSION").into()));
        if let Some(list) = var("OTEL_RESOURCE_ATTRIBUTES") {
            for (k, v) in key_values(&list) {
                if !resource.iter().any(|(have, _)| *have == k) {
                    resource.push((k, v));
                }
            }
        }
        let sampler = var("OTEL_TRACES_SAMPLER").unwrap_or_default();
        let sample_ratio = match (file.sample_ratio, sampler.as_str()) {
            (Some(r), _) => r,
            (None, "always_off" | "parentbased_always_off") => 0.0,
            (None, "traceidratio" | "parentbased_traceidratio") => var("OTEL_TRACES_SAMPLER_ARG")
                .and_then(|a| a.parse::<f64>().ok())
                .unwrap_or(1.0)
                .clamp(0.0, 1.0),
            _ => 1.0,
        };
        let millis = |name: &str| var(name).and_then(|v| v.parse::<u64>().ok());
        let timeout = file
            .timeout_ms
            .or_else(|| millis("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"))
            .or_else(|| millis("OTEL_EXPORTER_OTLP_TIMEOUT"))
            .unwrap_or(10_000);
        let batch_delay = file
            .batch_delay_ms
            .or_else(|| millis("OTEL_BSP_SCHEDULE_DELAY"))
            .unwrap_or(1000);
        let max_queue = file
            .max_queue
            .or_else(|| millis("OTEL_BSP_MAX_QUEUE_SIZE").and_then(|n| usize::try_from(n).ok()))
            .unwrap_or(2048)
            .max(1);
        let max_batch = millis("OTEL_BSP_MAX_EXPORT_BATCH_SIZE")
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(512)
            .max(1);
        Ok(Some(ExporterConfig {
            endpoint,
            headers,
            resource,
            sample_ratio,
            timeout: Duration::from_millis(timeout),
            batch_delay: Duration::from_millis(batch_delay),
            max_queue,
            max_batch,
        }))
    }
}

/// `k1=v1,k2=v2` with percent-encoded values (the `OTEL_*` list form).
fn key_values(list: &str) -> Vec<(String, String)> {
    list.split(',')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| {
            (
                k.trim().to_owned(),
                gproxy_protocol::url::percent_decode(v.trim()).into_owned(),
            )
        })
        .filter(|(k, _)| !k.is_empty())
        .collect()
}

/// The exporter's counters, for `/metrics` and `/health`.
#[derive(Debug, Default)]
pub struct ExportStats {
    exported: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
    last_error: std::sync::Mutex<Option<String>>,
}

/// The trace exporter in `/health`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct TraceExportReport {
    /// Where spans go.
    pub endpoint: String,
    /// Share of new traces recorded.
    pub sample_ratio: f64,
    /// Spans delivered.
    pub exported: u64,
    /// Spans dropped because the queue was full.
    pub dropped: u64,
    /// Spans lost to failed exports.
    pub failed: u64,
    /// The last export error, if the last export failed.
    pub last_error: Option<String>,
}

impl ExportStats {
    /// Spans delivered, dropped (queue full), lost to failed exports.
    pub fn counts(&self) -> (u64, u64, u64) {
        (
            self.exported.load(Ordering::Relaxed),
            self.dropped.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        )
    }
}

/// What the export task receives.
#[derive(Debug)]
enum Queued {
    /// One request's spans.
    Spans(Vec<Span>),
    /// Export everything queued, then answer.
    Flush(oneshot::Sender<()>),
}

/// The handle requests use: queue spans, read the counters.
#[derive(Debug)]
pub struct TraceExporter {
    config: ExporterConfig,
    tx: mpsc::Sender<Queued>,
    stats: Arc<ExportStats>,
}

impl TraceExporter {
    /// Starts the export task (needs a tokio runtime).
    pub fn spawn(config: ExporterConfig) -> Result<Self, CoreError> {
        let client = UpstreamClient::new(&UpstreamConfig::new(Duration::from_secs(5), None))?;
        let (tx, rx) = mpsc::channel(config.max_queue);
        let stats = Arc::new(ExportStats::default());
        let task = ExportTask {
            client,
            config: config.clone(),
            stats: stats.clone(),
            rx,
        };
        tokio::spawn(task.run());
        tracing::info!(endpoint = %config.endpoint, sample_ratio = config.sample_ratio, "exporting traces over OTLP/HTTP");
        Ok(TraceExporter { config, tx, stats })
    }

    /// The share of new traces recorded.
    pub fn sample_ratio(&self) -> f64 {
        self.config.sample_ratio
    }

    /// Queues one request's spans; never waits (a full queue drops them).
    pub(crate) fn export(&self, spans: Vec<Span>) {
        let n = spans.len() as u64;
        if self.tx.try_send(Queued::Spans(spans)).is_err() {
            self.stats.dropped.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Exports every span queued so far, waiting at most `deadline` (at
    /// shutdown).
    pub async fn flush(&self, deadline: Duration) {
        let (done, wait) = oneshot::channel();
        let flushed = async {
            if self.tx.send(Queued::Flush(done)).await.is_ok() {
                let _ = wait.await;
            }
        };
        if tokio::time::timeout(deadline, flushed).await.is_err() {
            tracing::warn!("trace export not flushed within {deadline:?}; queued spans lost");
        }
    }

    /// The counters.
    pub fn stats(&self) -> &Arc<ExportStats> {
        &self.stats
    }

    /// What `/health` shows.
    pub fn report(&self) -> TraceExportReport {
        let (exported, dropped, failed) = self.stats.counts();
        TraceExportReport {
            endpoint: self.config.endpoint.clone(),
            sample_ratio: self.config.sample_ratio,
            exported,
            dropped,
            failed,
            last_error: self
                .stats
                .last_error
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone(),
        }
    }
}

struct ExportTask {
    client: UpstreamClient,
    config: ExporterConfig,
    stats: Arc<ExportStats>,
    rx: mpsc::Receiver<Queued>,
}

impl ExportTask {
    async fn run(mut self) {
        let resource = Resource {
            attributes: self
                .config
                .resource
                .iter()
                .map(|(k, v)| super::trace::string(k, v))
                .collect(),
            ..Resource::default()
        };
        let mut batch: Vec<Span> = Vec::new();
        let mut flushed: Option<oneshot::Sender<()>> = None;
        while let Some(first) = self.rx.recv().await {
            match first {
                Queued::Spans(spans) => batch.extend(spans),
                Queued::Flush(done) => flushed = Some(done),
            }
            let deadline = tokio::time::Instant::now() + self.config.batch_delay;
            let mut open = true;
            // A flush takes what is queued now, without waiting for more.
            while flushed.is_none() && batch.len() < self.config.max_batch {
                match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                    Ok(Some(Queued::Spans(more))) => batch.extend(more),
                    Ok(Some(Queued::Flush(done))) => flushed = Some(done),
                    Ok(None) => {
                        open = false;
                        break;
                    }
                    Err(_) => break,
                }
            }
            if flushed.is_some() {
                while let Ok(queued) = self.rx.try_recv() {
                    if let Queued::Spans(more) = queued {
                        batch.extend(more);
                    }
                }
            }
            while !batch.is_empty() {
                let rest = batch.split_off(batch.len().min(self.config.max_batch));
                self.send(&resource, std::mem::replace(&mut batch, rest))
                    .await;
            }
            if let Some(done) = flushed.take() {
                let _ = done.send(());
            }
            if !open {
                break;
            }
        }
    }

    async fn send(&self, resource: &Resource, spans: Vec<Span>) {
        let n = spans.len() as u64;
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(resource.clone()),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "gproxy".into(),
                        version: env!("CARGO_PKG_VERSION").into(),
                        ..InstrumentationScope::default()
                    }),
                    spans,
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        };
        let body = Bytes::from(request.encode_to_vec());
        let result = tokio::time::timeout(self.config.timeout, self.post(body)).await;
        let error = match result {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e),
            Err(_) => Some(format!("no answer within {:?}", self.config.timeout)),
        };
        let mut last = self
            .stats
            .last_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match error {
            None => {
                self.stats.exported.fetch_add(n, Ordering::Relaxed);
                *last = None;
            }
            Some(e) => {
                self.stats.failed.fetch_add(n, Ordering::Relaxed);
                tracing::warn!(endpoint = %self.config.endpoint, error = %e, spans = n, "trace export failed; spans dropped");
                *last = Some(e);
            }
        }
    }

    async fn post(&self, body: Bytes) -> Result<(), String> {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(&self.config.endpoint)
            .header(http::header::CONTENT_TYPE, "application/x-protobuf")
            .header(http::header::CONTENT_LENGTH, body.len())
            .body(UpstreamBody::full(body))
            .map_err(|e| e.to_string())?;
        for (k, v) in &self.config.headers {
            if let (Ok(k), Ok(v)) = (
                HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_str(v),
            ) {
                request.headers_mut().insert(k, v);
            }
        }
        let response = self.client.send(request).await.map_err(|e| e.to_string())?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        if status.is_success() {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
        Err(format!("the collector answered {status}: {text}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: std::collections::HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn off_unless_asked_and_the_standard_variables_fill_in() {
        let file = TelemetryConfig::default();
        assert_eq!(ExporterConfig::resolve(&file, env(&[])).unwrap(), None);
        let c = ExporterConfig::resolve(
            &file,
            env(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"),
                (
                    "OTEL_EXPORTER_OTLP_HEADERS",
                    "Authorization=Bearer%20x,x-team=a",
                ),
                ("OTEL_SERVICE_NAME", "edge"),
                ("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=prod"),
                ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
                ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
            ]),
        )
        .unwrap()
        .unwrap();
        assert_eq!(c.endpoint, "http://collector:4318/v1/traces");
        assert_eq!(c.headers["authorization"], "Bearer x");
        assert_eq!(c.resource[0], ("service.name".into(), "edge".into()));
        assert!(
            c.resource
                .contains(&("deployment.environment".into(), "prod".into()))
        );
        assert_eq!(c.sample_ratio, 0.25);
        let off = ExporterConfig::resolve(
            &file,
            env(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
                ("OTEL_SDK_DISABLED", "true"),
            ]),
        )
        .unwrap();
        assert_eq!(off, None);
        let grpc = ExporterConfig::resolve(
            &file,
            env(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ]),
        );
        assert!(grpc.is_err());
        let file = TelemetryConfig {
            enabled: Some(true),
            endpoint: Some("http://file:4318/v1/traces".into()),
            ..TelemetryConfig::default()
        };
        let c = ExporterConfig::resolve(
            &file,
            env(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://env/v1/traces")]),
        )
        .unwrap()
        .unwrap();
        assert_eq!(c.endpoint, "http://file:4318/v1/traces");
    }
}
