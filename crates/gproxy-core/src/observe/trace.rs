//! One request's trace: the W3C `traceparent` it came with (continued) or
//! a new trace, the span id of each upstream attempt (sent upstream as its
//! `traceparent`), and, when the request ends, its spans built from the
//! finished log row: one `SERVER` span for the request, one `CLIENT`
//! child per upstream attempt, with the OpenTelemetry GenAI attributes.
//!
//! Nothing here exists when trace export is off: the accounting holds an
//! `Option` that stays `None`.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use gproxy_storage::RequestLog;
use http::{HeaderMap, HeaderValue};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::{Span, Status, span, status};

/// The W3C trace-context request header.
pub const TRACEPARENT: &str = "traceparent";

/// A parsed `traceparent`: version `00` layout (later versions are read
/// the same way, as the spec asks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    /// The trace id (never all zero).
    pub trace_id: [u8; 16],
    /// The caller's span id (never all zero).
    pub span_id: [u8; 8],
    /// The caller sampled this trace.
    pub sampled: bool,
}

impl TraceParent {
    /// Parses `00-<32 hex>-<16 hex>-<2 hex>`; `None` when malformed.
    pub fn parse(value: &str) -> Option<Self> {
        let value = value.trim();
        let mut parts = value.split('-');
        let version = parts.next()?;
        let trace = parts.next()?;
        let span = parts.next()?;
        let flags = parts.next()?;
        if version.len() != 2 || version.eq_ignore_ascii_case("ff") {
            return None;
        }
        // Version 00 has exactly four fields; later ones may add more.
        if version == "00" && parts.next().is_some() {
            return None;
        }
        if trace.len() != 32 || span.len() != 16 || flags.len() != 2 {
            return None;
        }
        let all_lower_hex = |s: &str| {
            s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        };
        if !all_lower_hex(version)
            || !all_lower_hex(trace)
            || !all_lower_hex(span)
            || !all_lower_hex(flags)
        {
            return None;
        }
        let mut trace_id = [0u8; 16];
        let mut span_id = [0u8; 8];
        hex::decode_to_slice(trace, &mut trace_id).ok()?;
        hex::decode_to_slice(span, &mut span_id).ok()?;
        let flags = u8::from_str_radix(flags, 16).ok()?;
        if trace_id == [0; 16] || span_id == [0; 8] {
            return None;
        }
        Some(TraceParent {
            trace_id,
            span_id,
            sampled: flags & 1 == 1,
        })
    }

    /// The header value naming `span_id` in this trace, sampled.
    pub fn header(trace_id: &[u8; 16], span_id: &[u8; 8]) -> HeaderValue {
        let mut buf = [0u8; 55];
        buf[..3].copy_from_slice(b"00-");
        let _ = hex::encode_to_slice(trace_id, &mut buf[3..35]);
        buf[35] = b'-';
        let _ = hex::encode_to_slice(span_id, &mut buf[36..52]);
        buf[52..].copy_from_slice(b"-01");
        // Always visible ASCII.
        HeaderValue::from_bytes(&buf).unwrap_or(HeaderValue::from_static(""))
    }
}

/// A random span id (never all zero).
pub(crate) fn new_span_id() -> [u8; 8] {
    loop {
        let id: [u8; 8] = rand::random();
        if id != [0; 8] {
            return id;
        }
    }
}

/// A random trace id (never all zero).
pub(crate) fn new_trace_id() -> [u8; 16] {
    loop {
        let id: [u8; 16] = rand::random();
        if id != [0; 16] {
            return id;
        }
    }
}

/// A sampled request's trace state.
#[derive(Debug)]
pub(crate) struct RequestTrace {
    trace_id: [u8; 16],
    /// The request's own span.
    span_id: [u8; 8],
    /// The client's span, when it sent a `traceparent`.
    parent: Option<[u8; 8]>,
    /// The `tracestate` the client sent, kept on the spans.
    trace_state: String,
    /// The span id handed to the attempt being sent, not yet recorded.
    pending: Option<[u8; 8]>,
    /// Recorded attempts' spans, in the order of the log row's attempts.
    attempts: Vec<AttemptSpan>,
    /// What the request did (`chat`, `embeddings`...).
    pub(crate) operation: &'static str,
    /// The provider's kind, once resolved.
    pub(crate) provider_kind: Option<&'static str>,
}

#[derive(Debug)]
struct AttemptSpan {
    span_id: [u8; 8],
    start: DateTime<Utc>,
    duration: Duration,
}

impl RequestTrace {
    /// The trace of a request with `headers`: the client's trace continued
    /// when it sent a valid `traceparent` (recorded only if the client
    /// sampled it), else a new one recorded with probability
    /// `sample_ratio`. `None`: not recorded.
    pub(crate) fn start(headers: &HeaderMap, sample_ratio: f64) -> Option<Box<RequestTrace>> {
        let parent = headers
            .get(TRACEPARENT)
            .and_then(|v| v.to_str().ok())
            .and_then(TraceParent::parse);
        let (trace_id, parent_span) = match parent {
            Some(p) if !p.sampled => return None,
            Some(p) => (p.trace_id, Some(p.span_id)),
            None => {
                let id = new_trace_id();
                if !sampled_by_ratio(&id, sample_ratio) {
                    return None;
                }
                (id, None)
            }
        };
        let trace_state = match parent_span {
            Some(_) => headers
                .get("tracestate")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned(),
            None => String::new(),
        };
        Some(Box::new(RequestTrace {
            trace_id,
            span_id: new_span_id(),
            parent: parent_span,
            trace_state,
            pending: None,
            attempts: Vec::new(),
            operation: "chat",
            provider_kind: None,
        }))
    }

    /// The `traceparent` for the next upstream attempt (a new span of
    /// this trace).
    pub(crate) fn next_attempt(&mut self) -> HeaderValue {
        let id = new_span_id();
        self.pending = Some(id);
        TraceParent::header(&self.trace_id, &id)
    }

    /// Records the attempt that started at `at` / `instant` and just ended.
    pub(crate) fn attempt_ended(&mut self, at: DateTime<Utc>, instant: Instant) {
        let span_id = self.pending.take().unwrap_or_else(new_span_id);
        self.attempts.push(AttemptSpan {
            span_id,
            start: at,
            duration: instant.elapsed(),
        });
    }

    /// The request's spans, from its finished log row (`total`: its
    /// precise duration).
    pub(crate) fn spans(&self, log: &RequestLog, total: Duration) -> Vec<Span> {
        let model = log.model.as_deref().unwrap_or("");
        let system = log
            .provider
            .as_deref()
            .map(|p| semconv_provider(self.provider_kind, p));
        let name = match model {
            "" => self.operation.to_owned(),
            m => format!("{} {m}", self.operation),
        };
        let mut attrs = vec![
            string("gen_ai.operation.name", self.operation),
            string("gproxy.request_id", &log.request_id),
            string("gproxy.protocol", &log.protocol),
            string("http.request.method", &log.method),
            string("url.path", &log.path),
            int("http.response.status_code", i64::from(log.status)),
            boolean("gproxy.stream", log.stream),
            int(
                "gproxy.attempts",
                i64::try_from(log.attempts.len()).unwrap_or(i64::MAX),
            ),
        ];
        if let Some(system) = &system {
            attrs.push(string("gen_ai.system", system));
            attrs.push(string("gen_ai.provider.name", system));
        }
        if let Some(p) = &log.provider {
            attrs.push(string("gproxy.provider", p));
        }
        if !model.is_empty() {
            attrs.push(string("gen_ai.request.model", model));
            if (200..300).contains(&log.status) {
                attrs.push(string("gen_ai.response.model", model));
            }
        }
        for (key, value) in [
            ("gen_ai.usage.input_tokens", log.input_tokens),
            ("gen_ai.usage.output_tokens", log.output_tokens),
            (
                "gen_ai.usage.cache_read.input_tokens",
                log.cache_read_tokens,
            ),
            (
                "gen_ai.usage.cache_creation.input_tokens",
                log.cache_write_tokens,
            ),
            ("gproxy.usage.reasoning_tokens", log.reasoning_tokens),
        ] {
            if let Some(v) = value {
                attrs.push(int(key, i64::try_from(v).unwrap_or(i64::MAX)));
            }
        }
        if let Some(user) = &log.user_name {
            attrs.push(string("gproxy.user", user));
        }
        if log.client_disconnected {
            attrs.push(boolean("gproxy.client_disconnected", true));
        }
        let failed = log.status >= 500 || (log.status >= 400 && log.error.is_some());
        if failed {
            attrs.push(string("error.type", &log.status.to_string()));
        }
        let start = unix_nanos(log.created_at);
        let mut spans = Vec::with_capacity(1 + self.attempts.len());
        spans.push(Span {
            trace_id: self.trace_id.to_vec(),
            span_id: self.span_id.to_vec(),
            trace_state: self.trace_state.clone(),
            parent_span_id: self.parent.map(|p| p.to_vec()).unwrap_or_default(),
            flags: 0x100 | u32::from(self.parent.is_some()) << 9 | 1,
            name: name.clone(),
            kind: span::SpanKind::Server as i32,
            start_time_unix_nano: start,
            end_time_unix_nano: start.saturating_add(nanos(total)),
            attributes: attrs,
            status: Some(span_status(failed, log.error.as_deref())),
            ..Span::default()
        });
        for (i, (span, record)) in self.attempts.iter().zip(&log.attempts).enumerate() {
            let start = unix_nanos(span.start);
            let mut attrs = vec![
                string("gen_ai.operation.name", self.operation),
                string("gproxy.provider", &record.provider),
                int("gproxy.attempt", i64::try_from(i + 1).unwrap_or(i64::MAX)),
            ];
            let same_provider = log.provider.as_deref() == Some(record.provider.as_str());
            let kind = if same_provider {
                self.provider_kind
            } else {
                None
            };
            let system = semconv_provider(kind, &record.provider);
            attrs.push(string("gen_ai.system", &system));
            attrs.push(string("gen_ai.provider.name", &system));
            if !model.is_empty() {
                attrs.push(string("gen_ai.request.model", model));
            }
            if let Some(status) = record.status {
                attrs.push(int("http.response.status_code", i64::from(status)));
            }
            if let Some(id) = record.credential_id {
                attrs.push(int("gproxy.credential_id", id));
            }
            let failed = record.error_class.is_some();
            if let Some(class) = &record.error_class {
                attrs.push(string("error.type", class));
            }
            spans.push(Span {
                trace_id: self.trace_id.to_vec(),
                span_id: span.span_id.to_vec(),
                trace_state: self.trace_state.clone(),
                parent_span_id: self.span_id.to_vec(),
                flags: 0x100 | 1,
                name: name.clone(),
                kind: span::SpanKind::Client as i32,
                start_time_unix_nano: start,
                end_time_unix_nano: start.saturating_add(nanos(span.duration)),
                attributes: attrs,
                status: Some(span_status(failed, record.error.as_deref())),
                ..Span::default()
            });
        }
        spans
    }
}

/// Whether a new trace with `id` is recorded at `ratio` (the trace id's
/// low 8 bytes against the ratio, like OpenTelemetry's ratio sampler).
fn sampled_by_ratio(id: &[u8; 16], ratio: f64) -> bool {
    if ratio >= 1.0 {
        return true;
    }
    if ratio <= 0.0 {
        return false;
    }
    let mut low = [0u8; 8];
    low.copy_from_slice(&id[8..]);
    let x = u64::from_be_bytes(low) >> 1;
    (x as f64) < ratio * (u64::MAX >> 1) as f64
}

/// The GenAI semantic conventions' provider name for a provider of `kind`
/// (well-known values), else the provider's own name.
fn semconv_provider(kind: Option<&'static str>, name: &str) -> String {
    let known = match kind.unwrap_or(name) {
        "openai" => "openai",
        "claude" => "anthropic",
        "aistudio" => "gcp.gemini",
        "vertex" | "vertexexpress" => "gcp.vertex_ai",
        "deepseek" => "deepseek",
        "xai" => "x_ai",
        "mistral" => "mistral_ai",
        "groq" => "groq",
        "openrouter" => "openrouter",
        "ollama" => "ollama",
        _ => return name.to_owned(),
    };
    known.to_owned()
}

fn span_status(failed: bool, message: Option<&str>) -> Status {
    match failed {
        true => Status {
            message: message.unwrap_or("").chars().take(256).collect(),
            code: status::StatusCode::Error as i32,
        },
        false => Status {
            message: String::new(),
            code: status::StatusCode::Unset as i32,
        },
    }
}

fn unix_nanos(t: DateTime<Utc>) -> u64 {
    t.timestamp_nanos_opt()
        .and_then(|n| u64::try_from(n).ok())
        .unwrap_or(0)
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

pub(crate) fn string(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
        ..KeyValue::default()
    }
}

fn int(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(value)),
        }),
        ..KeyValue::default()
    }
}

fn boolean(key: &str, value: bool) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::BoolValue(value)),
        }),
        ..KeyValue::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_parses_and_formats() {
        let v = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let p = TraceParent::parse(v).unwrap();
        assert!(p.sampled);
        assert_eq!(TraceParent::header(&p.trace_id, &p.span_id), v);
        assert!(
            !TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")
                .unwrap()
                .sampled
        );
        for bad in [
            "",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
        ] {
            assert_eq!(TraceParent::parse(bad), None, "{bad}");
        }
        // A later version may carry more fields.
        assert!(
            TraceParent::parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-ab")
                .is_some()
        );
    }

    #[test]
    fn unsampled_parents_and_zero_ratio_are_not_recorded() {
        let mut h = HeaderMap::new();
        assert!(RequestTrace::start(&h, 1.0).is_some());
        assert!(RequestTrace::start(&h, 0.0).is_none());
        h.insert(
            TRACEPARENT,
            HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"),
        );
        assert!(RequestTrace::start(&h, 1.0).is_none());
        h.insert(
            TRACEPARENT,
            HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        );
        let t = RequestTrace::start(&h, 0.0).unwrap();
        assert_eq!(hex::encode(t.trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
    }
}
