//! One request's log row, filled as the request goes and handed to the
//! usage sink exactly once (at the end of the response, on error, or when
//! the client goes away mid-stream): who sent it, every upstream attempt
//! (a `Vec` push each), and, when `[logging] capture_bodies` is on, the
//! request (headers redacted) and what went back to the client, capped.
//!
//! The finished row also feeds the metrics, the live feed and (when trace
//! export is on and the request is sampled) the request's spans: the one
//! place a request's outcome is complete.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use gproxy_protocol::Usage;
use gproxy_storage::{ATTEMPT_ERROR_MAX, AttemptRecord, CapturedBodies, RequestLog, UsageSink};
use http::HeaderMap;

use crate::GatewayError;
use crate::config::Logging;
use crate::observe::Observability;
use crate::observe::metrics::Timings;
use crate::observe::trace::RequestTrace;
use crate::state::Principal;

/// What a captured header's value is replaced by when redacted.
pub(crate) const REDACTED: &str = "[redacted]";

/// A request's pending log row.
#[derive(Debug)]
pub(crate) struct Accounting {
    sink: UsageSink,
    log: RequestLog,
    started: Instant,
    /// Whether the row goes to the sink (`[logging] record_requests`).
    record: bool,
    /// Captured bodies, when capture is on.
    capture: Option<Box<Capture>>,
    /// Metrics, live feed, trace export.
    observe: Arc<Observability>,
    /// The client protocol, as the metrics label it.
    protocol: &'static str,
    /// When the first upstream attempt started.
    first_attempt: Option<Instant>,
    /// When a whole upstream answer had been read.
    upstream_read: Option<Instant>,
    /// Time to the first upstream byte, precisely.
    ttfb: Option<Duration>,
    /// The request's trace, when exported and sampled.
    trace: Option<Box<RequestTrace>>,
    /// Its hold on the rate limits, settled with the real tokens at the end.
    permit: Option<Box<crate::ratelimit::Permit>>,
    /// Its reservation on the budgets, settled with the real cost at the
    /// end.
    budget: Option<Box<crate::budget::Hold>>,
    /// The budget charge is the flat passthrough cost (the body is not
    /// read), not the priced usage.
    budget_flat: bool,
    /// What the response cache did (`hit`, `miss`, `bypass`).
    cache_status: Option<&'static str>,
    /// The answer being recorded for the response cache.
    cache_fill: Option<Box<crate::cache::Fill>>,
    /// How its usage is priced, once the provider is known.
    pricing: Option<Pricing>,
    /// Whether the row was priced already (a non-stream answer is priced
    /// before its `x-gproxy-cost` header goes out).
    priced: bool,
    /// A stream's request (its protocol and body), to count its input
    /// locally if the client leaves before the upstream reported usage.
    request: Option<(gproxy_protocol::Protocol, Bytes)>,
    /// A stream's generated text (and the bytes past its cap), when the
    /// client left mid-stream.
    streamed: Option<(String, usize)>,
}

/// What prices a request's usage: the book in force when the request was
/// planned, the provider's kind and the usage's semantics (the protocol
/// the upstream answered in). Provider and model are the log row's.
#[derive(Debug)]
struct Pricing {
    book: Arc<crate::cost::PriceBook>,
    kind: &'static str,
    semantics: crate::cost::UsageSemantics,
}

/// Bodies being captured, with their cap.
#[derive(Debug)]
struct Capture {
    max: usize,
    headers: serde_json::Value,
    request: Option<Bytes>,
    response: Vec<u8>,
    response_truncated: bool,
}

/// How a request ended.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub status: u16,
    pub usage: Option<Usage>,
    pub error: Option<String>,
    pub client_disconnected: bool,
}

impl Outcome {
    /// The request ended with `error`, answered to the client with its
    /// status.
    pub(crate) fn failed(error: &GatewayError) -> Self {
        Outcome {
            status: error.status().as_u16(),
            usage: None,
            error: Some(error.log_message()),
            client_disconnected: false,
        }
    }
}

/// When an upstream attempt started.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AttemptStart {
    at: DateTime<Utc>,
    instant: Instant,
}

impl AttemptStart {
    /// Now.
    pub(crate) fn now() -> Self {
        AttemptStart {
            at: Utc::now(),
            instant: Instant::now(),
        }
    }
}

/// How an attempt ended, for its row.
#[derive(Debug)]
pub(crate) struct AttemptEnd {
    /// The upstream's status, if it answered.
    pub status: Option<u16>,
    /// The failure class (`None`: success or not classified).
    pub class: Option<&'static str>,
    /// A short error text.
    pub error: Option<String>,
}

impl AttemptEnd {
    /// The attempt got an answer with `status`, not classified.
    pub(crate) fn answered(status: u16) -> Self {
        AttemptEnd {
            status: Some(status),
            class: None,
            error: None,
        }
    }

    /// The attempt got no answer: `error` ended it.
    pub(crate) fn failed(error: &GatewayError) -> Self {
        let class = match error {
            GatewayError::UpstreamTimeout { .. } => "timeout",
            GatewayError::UpstreamUnavailable { .. } => "connect",
            _ => "error",
        };
        AttemptEnd {
            status: None,
            class: Some(class),
            error: Some(clip(error.to_string())),
        }
    }
}

/// `s` cut to [`ATTEMPT_ERROR_MAX`] characters.
fn clip(mut s: String) -> String {
    if let Some((end, _)) = s.char_indices().nth(ATTEMPT_ERROR_MAX) {
        s.truncate(end);
    }
    s
}

/// Streams the client left are counted at most this many at a time, each
/// on a blocking thread. One blocking task per stream let 2,000 streams cut
/// at once start hundreds of blocking threads, each with its own copy of
/// the tokenizer's regex caches: the gateway's RSS 10 s after the cut was
/// 223 MB for 29 MB before the streams (issue 17's target: 1.5×).
static COUNTING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

impl Accounting {
    pub(crate) fn new(
        sink: UsageSink,
        observe: Arc<Observability>,
        log: RequestLog,
        protocol: &'static str,
        started: Instant,
    ) -> Self {
        Accounting {
            sink,
            log,
            started,
            record: true,
            capture: None,
            observe,
            protocol,
            first_attempt: None,
            upstream_read: None,
            ttfb: None,
            trace: None,
            permit: None,
            budget: None,
            budget_flat: false,
            cache_status: None,
            cache_fill: None,
            pricing: None,
            priced: false,
            request: None,
            streamed: None,
        }
    }

    /// Keeps a stream's request (`body` in `protocol`, a reference-counted
    /// handle) for a local input count should the client leave early.
    pub(crate) fn keep_request(&mut self, protocol: gproxy_protocol::Protocol, body: Bytes) {
        self.request = Some((protocol, body));
    }

    /// The generated text a stream had forwarded when its client left.
    pub(crate) fn set_streamed(&mut self, streamed: (String, usize)) {
        self.streamed = Some(streamed);
    }

    /// The usage of a stream the client left: what the upstream reported,
    /// with the output raised to the tokens of the text forwarded so far
    /// and, when nothing was reported, the input counted locally. Counts
    /// with `o200k_base` (CPU work: called off the async threads).
    fn usage_so_far(
        reported: Option<Usage>,
        request: Option<(gproxy_protocol::Protocol, Bytes)>,
        (text, overflow): (String, usize),
    ) -> Option<Usage> {
        let output = crate::count::local::count_text(&text) + overflow.div_ceil(4) as u64;
        let mut usage = match reported {
            Some(u) => u,
            None => {
                let (protocol, body) = request?;
                let canonical = gproxy_protocol::convert::decode_request(protocol, &body).ok()?;
                Usage {
                    input_tokens: crate::count::local::count_request(&canonical),
                    ..Usage::default()
                }
            }
        };
        usage.output_tokens = usage.output_tokens.max(output);
        Some(usage)
    }

    /// The request will be priced with `book`, as a provider of `kind`
    /// answering in `protocol` (called when a target is planned; a
    /// fallback to another target calls it again).
    pub(crate) fn set_pricing(
        &mut self,
        book: Arc<crate::cost::PriceBook>,
        kind: &'static str,
        protocol: gproxy_protocol::Protocol,
    ) {
        self.pricing = Some(Pricing {
            book,
            kind,
            semantics: crate::cost::UsageSemantics::of_protocol(protocol),
        });
    }

    /// Prices `usage` onto the row (cost and catalogue version) and
    /// returns the cost in nano-dollars; `None` when the price is unknown
    /// (or the request was not priced: no provider resolved).
    pub(crate) fn price(&mut self, usage: &Usage) -> Option<i64> {
        self.priced = true;
        let pricing = self.pricing.as_ref()?;
        let log = &mut self.log;
        let m = pricing.book.lookup(
            log.provider.as_deref()?,
            pricing.kind,
            log.model.as_deref()?,
        )?;
        let nanos = m.price.cost_nanos(usage, pricing.semantics)?;
        log.cost_nano_usd = Some(nanos);
        log.price_version = Some(pricing.book.version_of(&m));
        Some(nanos)
    }

    /// Holds `permit` until the request ends.
    pub(crate) fn hold_permit(&mut self, permit: crate::ratelimit::Permit) {
        self.permit = Some(Box::new(permit));
    }

    /// What the response cache did, for the `x-gproxy-cache` header.
    pub(crate) fn set_cache_status(&mut self, status: &'static str) {
        self.cache_status = Some(status);
    }

    /// The `x-gproxy-cache` value, if the cache was used.
    pub(crate) fn cache_status(&self) -> Option<&'static str> {
        self.cache_status
    }

    /// Records the answer (what goes to the client) for the cache; stored
    /// when the request ends with a complete success.
    pub(crate) fn fill_cache(&mut self, fill: crate::cache::Fill) {
        self.cache_fill = Some(Box::new(fill));
    }

    /// The content type of the answer being recorded for the cache.
    pub(crate) fn cache_content_type(&mut self, headers: &HeaderMap) {
        if let Some(fill) = self.cache_fill.as_mut() {
            fill.content_type = headers
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
        }
    }

    /// The request was answered from the cache: its row costs nothing
    /// (`price_version` [`crate::cache::CACHE_PRICE_VERSION`]).
    pub(crate) fn cache_hit(&mut self) {
        self.priced = true;
        self.log.cost_nano_usd = Some(0);
        self.log.price_version = Some(crate::cache::CACHE_PRICE_VERSION.to_owned());
    }

    /// Holds `hold` until the request ends; `flat`: it is charged as
    /// reserved when the upstream answered with success (a raw
    /// passthrough call), else by its priced usage.
    pub(crate) fn hold_budget(&mut self, hold: crate::budget::Hold, flat: bool) {
        self.budget = Some(Box::new(hold));
        self.budget_flat = flat;
    }

    /// Settles the budget reservation: with the priced usage; a failure
    /// without usage costs nothing; a success without usage keeps the
    /// estimate. A flat charge is written on the row as its cost.
    fn settle_budget(&mut self, outcome: &Outcome) {
        let Some(hold) = self.budget.take() else {
            return;
        };
        let failed = outcome.status >= 400;
        let actual = if self.budget_flat {
            if failed {
                0
            } else {
                self.log.cost_nano_usd = Some(hold.estimate());
                self.log.price_version = Some(crate::budget::FLAT_PRICE_VERSION.to_owned());
                hold.estimate()
            }
        } else if outcome.usage.is_some() {
            self.log.cost_nano_usd.unwrap_or(0)
        } else if failed && !outcome.client_disconnected {
            0
        } else {
            hold.estimate()
        };
        hold.settle(actual);
    }

    /// The `x-ratelimit-*` values of the request, if a limit applied.
    pub(crate) fn rate_headers(&self) -> Option<crate::ratelimit::RateHeaders> {
        self.permit.as_ref().map(|p| p.headers)
    }

    /// The accounting of one authenticated request: its log row starts
    /// with who sent it, when, in which `protocol`, and the method and path;
    /// `logging` says whether it is recorded and whether bodies are
    /// captured; with trace export on, the client's `traceparent` in
    /// `headers` is continued (or a trace started, if sampled).
    #[expect(
        clippy::too_many_arguments,
        reason = "one call per route kind, all named"
    )]
    pub(crate) fn start(
        engine: &crate::Engine,
        logging: &Logging,
        principal: &Principal,
        headers: &HeaderMap,
        request_id: String,
        protocol: &'static str,
        method: &http::Method,
        path: String,
        started: Instant,
    ) -> Self {
        Self::start_with(
            engine.sink.clone(),
            engine.observe.clone(),
            logging,
            principal,
            headers,
            request_id,
            protocol,
            method,
            path,
            started,
        )
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "Accounting::start's parts, for tests without an engine"
    )]
    fn start_with(
        sink: UsageSink,
        observe: Arc<Observability>,
        logging: &Logging,
        principal: &Principal,
        headers: &HeaderMap,
        request_id: String,
        protocol: &'static str,
        method: &http::Method,
        path: String,
        started: Instant,
    ) -> Self {
        let log = RequestLog {
            request_id,
            created_at: chrono::Utc::now(),
            user_id: Some(principal.user_id),
            user_name: Some(String::from(&*principal.user_name)),
            key_prefix: Some(String::from(&*principal.key_prefix)),
            key_id: principal.key_id,
            protocol: protocol.to_owned(),
            method: method.as_str().to_owned(),
            path,
            ..RequestLog::default()
        };
        let trace = observe
            .traces
            .as_ref()
            .and_then(|t| RequestTrace::start(headers, t.sample_ratio()));
        let mut accounting = Accounting::new(sink, observe, log, protocol, started);
        accounting.trace = trace;
        accounting.record = logging.record_requests;
        if logging.record_requests && logging.capture_bodies {
            accounting.capture = Some(Box::new(Capture {
                max: logging.max_body_bytes,
                headers: serde_json::Value::Null,
                request: None,
                response: Vec::new(),
                response_truncated: false,
            }));
        }
        accounting
    }

    /// Captures the request's headers (redacted as `logging` says) and
    /// body (`None` when it is streamed and not held). A no-op unless
    /// capture is on.
    pub(crate) fn capture_request(
        &mut self,
        logging: &Logging,
        headers: &HeaderMap,
        body: Option<&Bytes>,
    ) {
        let Some(capture) = self.capture.as_mut() else {
            return;
        };
        let mut map = serde_json::Map::new();
        for (name, value) in headers {
            let shown = if logging.redacts(name.as_str()) {
                REDACTED.to_owned()
            } else {
                String::from_utf8_lossy(value.as_bytes()).into_owned()
            };
            if let serde_json::Value::Array(values) = map
                .entry(name.as_str())
                .or_insert_with(|| serde_json::Value::Array(Vec::new()))
            {
                values.push(serde_json::Value::String(shown));
            }
        }
        capture.headers = serde_json::Value::Object(map);
        capture.request = body.cloned();
    }

    /// Whether response bytes are being captured (for the log, or for
    /// the cache).
    pub(crate) fn captures(&self) -> bool {
        self.capture.is_some() || self.cache_fill.is_some()
    }

    /// Appends what went to the client to the captured response, up to the
    /// cap. A no-op unless capture is on.
    pub(crate) fn capture_response(&mut self, chunk: &[u8]) {
        if let Some(fill) = self.cache_fill.as_mut() {
            fill.push(chunk);
        }
        let Some(capture) = self.capture.as_mut() else {
            return;
        };
        let room = capture.max.saturating_sub(capture.response.len());
        if chunk.len() > room {
            capture.response_truncated = true;
        }
        capture
            .response
            .extend_from_slice(&chunk[..chunk.len().min(room)]);
    }

    pub(crate) fn log_mut(&mut self) -> &mut RequestLog {
        &mut self.log
    }

    /// Names what the request does, for its trace (`chat`, `embeddings`,
    /// `generate_content`...).
    pub(crate) fn set_operation(&mut self, operation: &'static str) {
        if let Some(trace) = self.trace.as_mut() {
            trace.operation = operation;
        }
    }

    /// The kind of the provider the request was resolved to, for its
    /// trace's GenAI provider name.
    pub(crate) fn set_provider_kind(&mut self, kind: &'static str) {
        if let Some(trace) = self.trace.as_mut() {
            trace.provider_kind = Some(kind);
        }
    }

    /// With a trace, the next upstream attempt is its own span: its
    /// `traceparent` goes into the upstream request's `headers`. Without
    /// one, the client's own header, if any, passes as is.
    pub(crate) fn trace_upstream(&mut self, headers: &mut HeaderMap) {
        if let Some(trace) = self.trace.as_mut() {
            headers.insert(crate::observe::trace::TRACEPARENT, trace.next_attempt());
        }
    }

    /// Marks the moment a whole upstream answer had been read (the
    /// gateway's own time runs again from here).
    pub(crate) fn upstream_read(&mut self) {
        self.upstream_read = Some(Instant::now());
    }

    /// Records one upstream attempt to `provider` with `credential_id`.
    pub(crate) fn attempt(
        &mut self,
        start: AttemptStart,
        provider: &str,
        credential_id: Option<i64>,
        end: AttemptEnd,
    ) {
        if self.first_attempt.is_none() {
            self.first_attempt = Some(start.instant);
        }
        if let Some(trace) = self.trace.as_mut() {
            trace.attempt_ended(start.at, start.instant);
        }
        let n = u32::try_from(self.log.attempts.len() + 1).unwrap_or(u32::MAX);
        self.log.attempts.push(AttemptRecord {
            attempt: n,
            provider: provider.to_owned(),
            credential_id,
            status: end.status,
            latency_ms: millis(start.instant.elapsed()),
            error_class: end.class.map(str::to_owned),
            error: end.error,
            created_at: start.at,
        });
    }

    /// Marks the first upstream byte (kept only the first time).
    pub(crate) fn first_byte(&mut self) {
        if self.ttfb.is_none() {
            let ttfb = self.started.elapsed();
            self.ttfb = Some(ttfb);
            self.log.ttfb_ms = Some(millis(ttfb));
        }
    }

    /// Completes the row and sends it to the sink (never blocks: a stream
    /// the client left is counted on the blocking pool first).
    pub(crate) fn finish(mut self, outcome: Outcome) {
        if outcome.client_disconnected
            && let Some(streamed) = self.streamed.take()
        {
            // The concurrency slot goes back now, not after the count
            // (building the tokenizer the first time takes a while); the
            // tokens are reconciled with what the upstream reported.
            self.settle_permit(outcome.usage.as_ref());
            let request = self.request.take();
            let count = move |this: Self, mut outcome: Outcome| {
                outcome.usage = Self::usage_so_far(outcome.usage, request, streamed);
                this.finish_now(outcome);
            };
            // Outside any runtime, counted here.
            let Some(runtime) = crate::background::runtime() else {
                return count(self, outcome);
            };
            // Shutdown waits for the row. The count runs on the background
            // runtime: a serving thread's own runtime would cancel it when
            // serving stops, before the sink is flushed.
            let promise = self.sink.promise();
            runtime.spawn(async move {
                // Never closed.
                let _turn = COUNTING.acquire().await;
                let counted = tokio::task::spawn_blocking(move || {
                    count(self, outcome);
                    drop(promise);
                });
                let _ = counted.await;
            });
            return;
        }
        self.finish_now(outcome);
    }

    /// Gives the rate-limit permit back, its tokens replaced by `usage`'s
    /// (`None`: the estimate stays).
    fn settle_permit(&mut self, usage: Option<&Usage>) {
        if let Some(permit) = self.permit.take() {
            permit.settle(usage.map(|u| u.input_tokens.saturating_add(u.output_tokens)));
        }
    }

    fn finish_now(mut self, outcome: Outcome) {
        self.settle_permit(outcome.usage.as_ref());
        let now = Instant::now();
        let total = now.saturating_duration_since(self.started);
        let log = &mut self.log;
        log.status = outcome.status;
        log.latency_ms = millis(total);
        if let Some(u) = &outcome.usage {
            log.input_tokens = Some(u.input_tokens);
            log.output_tokens = Some(u.output_tokens);
            log.cache_read_tokens = Some(u.cache_read_tokens);
            log.cache_write_tokens = Some(u.cache_write_tokens);
            log.reasoning_tokens = Some(u.reasoning_tokens);
            if !self.priced {
                self.price(u);
            }
        }
        self.settle_budget(&outcome);
        if let Some(fill) = self.cache_fill.take()
            && outcome.status == 200
            && outcome.error.is_none()
            && !outcome.client_disconnected
        {
            fill.store(outcome.usage);
        }
        let log = &mut self.log;
        log.error = outcome.error;
        log.client_disconnected = outcome.client_disconnected;
        tracing::info!(
            request_id = %log.request_id,
            user = log.user_name.as_deref().unwrap_or(""),
            provider = log.provider.as_deref().unwrap_or(""),
            model = log.model.as_deref().unwrap_or(""),
            status = log.status,
            latency_ms = log.latency_ms,
            ttfb_ms = log.ttfb_ms.unwrap_or(0),
            input_tokens = log.input_tokens.unwrap_or(0),
            output_tokens = log.output_tokens.unwrap_or(0),
            attempts = log.attempts.len(),
            client_disconnected = log.client_disconnected,
            error = log.error.as_deref().unwrap_or(""),
            "request"
        );
        let observe = &self.observe;
        if observe.metrics.enabled() {
            // The gateway's own time: up to the first upstream attempt,
            // and after a whole answer was read.
            let overhead = self.first_attempt.map(|first| {
                first.saturating_duration_since(self.started)
                    + self
                        .upstream_read
                        .map_or(Duration::ZERO, |read| now.saturating_duration_since(read))
            });
            let timings = Timings {
                total,
                ttfb: self.ttfb,
                overhead,
            };
            observe.metrics.record(self.protocol, log, timings);
        }
        observe.live.publish(log);
        if let (Some(trace), Some(exporter)) = (&self.trace, &observe.traces) {
            exporter.export(trace.spans(log, total));
        }
        if !self.record {
            return;
        }
        if let Some(capture) = self.capture.take() {
            self.log.bodies = Some(capture.into_bodies());
        }
        self.sink.record(self.log);
    }
}

impl Capture {
    fn into_bodies(self) -> CapturedBodies {
        let (request_body, request_truncated) = match &self.request {
            Some(body) => {
                let kept = &body[..body.len().min(self.max)];
                (
                    Some(String::from_utf8_lossy(kept).into_owned()),
                    body.len() > self.max,
                )
            }
            None => (None, false),
        };
        CapturedBodies {
            request_headers: self.headers,
            request_body,
            request_truncated,
            response_body: Some(String::from_utf8_lossy(&self.response).into_owned()),
            response_truncated: self.response_truncated,
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal() -> Principal {
        Principal {
            user_id: 1,
            user_name: "u".into(),
            key_prefix: "sk".into(),
            key_id: Some(4),
            is_admin: false,
            access: None,
            expires_at_ms: None,
            max_cost_nano_usd: None,
        }
    }

    /// A fresh accounting of request `req-1` under `logging`, with the
    /// in-memory storage its sink writes to and the sink's handle.
    async fn fresh(
        logging: &Logging,
    ) -> (
        gproxy_storage::Storage,
        gproxy_storage::UsageSinkHandle,
        Accounting,
    ) {
        let storage = gproxy_storage::Storage::connect("sqlite::memory:")
            .await
            .unwrap();
        storage.migrate().await.unwrap();
        let (sink, handle) =
            UsageSink::spawn(storage.clone(), gproxy_storage::UsageSinkConfig::default());
        let accounting = Accounting::start_with(
            sink,
            Arc::default(),
            logging,
            &principal(),
            &HeaderMap::new(),
            "req-1".into(),
            "openai_chat",
            &http::Method::POST,
            "/v1/chat/completions".into(),
            Instant::now(),
        );
        (storage, handle, accounting)
    }

    /// Runs `fill` on a fresh accounting under `logging`, finishes it and
    /// returns what the sink wrote.
    async fn recorded(
        logging: Logging,
        fill: impl FnOnce(&mut Accounting),
    ) -> Option<gproxy_storage::RequestLogDetail> {
        let (storage, handle, mut accounting) = fresh(&logging).await;
        fill(&mut accounting);
        accounting.finish(Outcome {
            status: 200,
            usage: None,
            error: None,
            client_disconnected: false,
        });
        handle.shutdown(Duration::from_secs(5)).await;
        storage.request_log_detail("req-1").await.unwrap()
    }

    #[tokio::test]
    async fn captures_redacted_headers_and_capped_bodies() {
        let logging = Logging {
            capture_bodies: true,
            max_body_bytes: 8,
            ..Logging::default()
        };
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "Bearer sk-secret".parse().unwrap());
        headers.append("x-tag", "a".parse().unwrap());
        headers.append("x-tag", "b".parse().unwrap());
        let detail = recorded(logging.clone(), |a| {
            a.capture_request(&logging, &headers, Some(&Bytes::from_static(b"0123456789")));
            assert!(a.captures());
            a.capture_response(b"abc");
            a.capture_response(b"defghij");
            a.attempt(AttemptStart::now(), "p", Some(3), AttemptEnd::answered(200));
        })
        .await
        .unwrap();
        assert_eq!(detail.log.log.key_id, Some(4));
        let b = detail.bodies.unwrap();
        assert_eq!(
            b.request_headers,
            serde_json::json!({"authorization": [REDACTED], "x-tag": ["a", "b"]})
        );
        assert_eq!(b.request_body.as_deref(), Some("01234567"));
        assert!(b.request_truncated);
        assert_eq!(b.response_body.as_deref(), Some("abcdefgh"));
        assert!(b.response_truncated);
        assert_eq!(detail.attempts.len(), 1);
        assert_eq!(
            (detail.attempts[0].attempt, detail.attempts[0].status),
            (1, Some(200))
        );
    }

    #[tokio::test]
    async fn no_capture_by_default_and_no_row_when_not_recording() {
        let detail = recorded(Logging::default(), |a| {
            assert!(!a.captures());
            a.capture_response(b"ignored");
        })
        .await
        .unwrap();
        assert!(detail.bodies.is_none());

        let off = Logging {
            record_requests: false,
            capture_bodies: true,
            ..Logging::default()
        };
        assert!(recorded(off, |a| assert!(!a.captures())).await.is_none());
    }

    #[tokio::test]
    async fn a_left_stream_is_counted_even_when_its_serving_runtime_stops_at_once() {
        // The background runtime, as the per-core server sets it: one that
        // outlives the serving threads' (here, the process).
        static BACKGROUND: std::sync::LazyLock<tokio::runtime::Runtime> =
            std::sync::LazyLock::new(|| {
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .enable_all()
                    .build()
                    .unwrap()
            });
        crate::background::set_runtime(BACKGROUND.handle().clone());
        let (storage, handle, mut accounting) = fresh(&Logging::default()).await;
        accounting.set_streamed(("Hello there, how are you".into(), 0));
        // The client leaves on a serving thread's own runtime, which stops
        // right after (as the per-core server's do at shutdown): the count
        // must not be one of its tasks.
        std::thread::spawn(move || {
            let serving = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            serving.block_on(async {
                accounting.finish(Outcome {
                    status: 200,
                    usage: Some(Usage {
                        input_tokens: 7,
                        ..Usage::default()
                    }),
                    error: None,
                    client_disconnected: true,
                });
            });
        })
        .join()
        .unwrap();
        // A deadline, not a wait: shutdown returns once the row is written.
        // The count builds the tokenizer first, which in a debug build on
        // a loaded machine took more than 5 s (a CI run failed so).
        handle.shutdown(Duration::from_secs(60)).await;
        let row = storage
            .request_log_detail("req-1")
            .await
            .unwrap()
            .expect("the left stream's row")
            .log
            .log;
        assert!(row.client_disconnected);
        assert_eq!(row.input_tokens, Some(7));
        assert!(row.output_tokens.is_some_and(|t| t > 0), "{row:?}");
    }

    #[test]
    fn failed_attempts_are_classified_and_clipped() {
        let end = AttemptEnd::failed(&GatewayError::UpstreamTimeout {
            provider: "p".into(),
            phase: "waiting for response headers",
        });
        assert_eq!((end.status, end.class), (None, Some("timeout")));
        let end = AttemptEnd::failed(&GatewayError::UpstreamUnavailable {
            provider: "p".into(),
            message: "x".repeat(5000),
        });
        assert_eq!(end.class, Some("connect"));
        assert_eq!(
            end.error.map(|e| e.chars().count()),
            Some(ATTEMPT_ERROR_MAX)
        );
        assert_eq!(clip("é".repeat(2000)).chars().count(), ATTEMPT_ERROR_MAX);
    }
}
