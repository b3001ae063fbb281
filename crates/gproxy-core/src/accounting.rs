//! One request's log row, filled as the request goes and handed to the
//! usage sink exactly once (at the end of the response, on error, or when
//! the client goes away mid-stream).

use std::time::{Duration, Instant};

use gproxy_protocol::Usage;
use gproxy_storage::{RequestLog, UsageSink};

use crate::state::Principal;

/// A request's pending log row.
#[derive(Debug)]
pub(crate) struct Accounting {
    sink: UsageSink,
    log: RequestLog,
    started: Instant,
}

/// How a request ended.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub status: u16,
    pub usage: Option<Usage>,
    pub error: Option<String>,
    pub client_disconnected: bool,
}

impl Accounting {
    pub(crate) fn new(sink: UsageSink, log: RequestLog, started: Instant) -> Self {
        Accounting { sink, log, started }
    }

    /// The accounting of one authenticated request: its log row starts
    /// with who sent it, when, in which `protocol`, and the method and path.
    pub(crate) fn start(
        sink: UsageSink,
        principal: &Principal,
        request_id: String,
        protocol: String,
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
            protocol,
            method: method.as_str().to_owned(),
            path,
            ..RequestLog::default()
        };
        Accounting::new(sink, log, started)
    }

    pub(crate) fn log_mut(&mut self) -> &mut RequestLog {
        &mut self.log
    }

    /// Marks the first upstream byte (kept only the first time).
    pub(crate) fn first_byte(&mut self) {
        if self.log.ttfb_ms.is_none() {
            self.log.ttfb_ms = Some(millis(self.started.elapsed()));
        }
    }

    /// Completes the row and sends it to the sink (never blocks).
    pub(crate) fn finish(mut self, outcome: Outcome) {
        let log = &mut self.log;
        log.status = outcome.status;
        log.latency_ms = millis(self.started.elapsed());
        if let Some(u) = outcome.usage {
            log.input_tokens = Some(u.input_tokens);
            log.output_tokens = Some(u.output_tokens);
            log.cache_read_tokens = Some(u.cache_read_tokens);
            log.cache_write_tokens = Some(u.cache_write_tokens);
            log.reasoning_tokens = Some(u.reasoning_tokens);
        }
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
            client_disconnected = log.client_disconnected,
            error = log.error.as_deref().unwrap_or(""),
            "request"
        );
        self.sink.record(self.log);
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
