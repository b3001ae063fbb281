//! OpenAI Responses (`POST /v1/responses`) to and from the canonical model.
//!
//! - [`request`] / [`request_encode`]: `input` items ⇄ messages; `instructions` and system /
//!   developer messages ⇄ [`Request::system`](super::Request::system).
//! - [`response`]: the response object ⇄ [`Response`](super::Response).
//! - [`stream`] / [`encoder`]: semantic stream events (`response.*`, each
//!   with a `sequence_number`) ⇄ canonical [`StreamEvent`](super::StreamEvent)s.
//!
//! Responses has no finish reason: `status` `incomplete` with
//! `incomplete_details.reason` `max_output_tokens` / `content_filter` means
//! length / filtered, a `function_call` item means tool calls, anything else
//! a natural stop. Output item ids are derived from the response id
//! (`msg_{suffix}_{n}`, `fc_…`, `rs_…` with `n` the output index).

mod encoder;
mod request;
mod request_encode;
mod response;
mod stream;
mod wire;

pub(super) use encoder::ResponsesStreamEncoder;
pub(super) use request::decode_request;
pub(super) use request_encode::encode_request;
pub(super) use response::{decode_response, encode_response};
pub(super) use stream::ResponsesStreamDecoder;

use super::{FinishReason, Usage};
use wire::{WireInputDetails, WireOutputDetails, WireUsage};

/// Wire usage → canonical (Responses already counts cached input and
/// reasoning output inside the totals).
fn usage_from_wire(u: &WireUsage) -> Usage {
    Usage {
        input_tokens: u.input_tokens,
        output_tokens: u.output_tokens,
        cache_read_tokens: u.input_tokens_details.cached_tokens,
        cache_write_tokens: u.input_tokens_details.cache_write_tokens,
        reasoning_tokens: u.output_tokens_details.reasoning_tokens,
    }
}

/// Canonical usage → wire.
fn usage_to_wire(u: &Usage) -> WireUsage {
    WireUsage {
        input_tokens: u.input_tokens,
        input_tokens_details: WireInputDetails {
            cached_tokens: u.cache_read_tokens,
            cache_write_tokens: u.cache_write_tokens,
        },
        output_tokens: u.output_tokens,
        output_tokens_details: WireOutputDetails {
            reasoning_tokens: u.reasoning_tokens,
        },
        total_tokens: u.input_tokens.saturating_add(u.output_tokens),
    }
}

/// The finish reason a response's status implies.
fn finish_from_status(status: Option<&str>, reason: Option<&str>, has_calls: bool) -> FinishReason {
    match (status, reason) {
        (Some("incomplete"), Some("max_output_tokens")) => FinishReason::Length,
        (Some("incomplete"), Some("content_filter")) => FinishReason::ContentFilter,
        (Some("incomplete"), Some(other)) => FinishReason::Other(other.to_owned()),
        _ if has_calls => FinishReason::ToolCalls,
        _ => FinishReason::Stop,
    }
}

/// `status` and `incomplete_details.reason` for a finish reason.
fn status_for_finish(finish: Option<&FinishReason>) -> (&'static str, Option<String>) {
    match finish {
        Some(FinishReason::Length) => ("incomplete", Some("max_output_tokens".into())),
        Some(FinishReason::ContentFilter) => ("incomplete", Some("content_filter".into())),
        Some(FinishReason::Stop | FinishReason::ToolCalls | FinishReason::Other(_)) | None => {
            ("completed", None)
        }
    }
}

/// Output item ids derived from the response id: `{prefix}_{suffix}_{n}`,
/// where the suffix is the response id without its `resp_` prefix.
#[derive(Debug, Clone, Default)]
struct ItemIds {
    suffix: String,
}

impl ItemIds {
    fn new(response_id: &str) -> Self {
        let suffix = response_id
            .strip_prefix("resp_")
            .or_else(|| response_id.strip_prefix("resp-"))
            .unwrap_or(response_id);
        ItemIds {
            suffix: suffix.to_owned(),
        }
    }

    fn id(&self, prefix: &str, n: usize) -> String {
        format!("{prefix}_{}_{n}", self.suffix)
    }
}

/// The echo fields a real response object carries besides its output, with
/// the defaults the API reports when the request did not set them.
fn echo_fields() -> serde_json::Map<String, serde_json::Value> {
    use serde_json::json;
    let mut m = serde_json::Map::new();
    for (k, v) in [
        ("instructions", json!(null)),
        ("max_output_tokens", json!(null)),
        ("parallel_tool_calls", json!(true)),
        ("previous_response_id", json!(null)),
        ("reasoning", json!({"effort": null, "summary": null})),
        ("store", json!(false)),
        ("temperature", json!(1.0)),
        ("text", json!({"format": {"type": "text"}})),
        ("tool_choice", json!("auto")),
        ("tools", json!([])),
        ("top_p", json!(1.0)),
        ("truncation", json!("disabled")),
        ("user", json!(null)),
        ("metadata", json!({})),
    ] {
        m.insert(k.to_owned(), v);
    }
    m
}
