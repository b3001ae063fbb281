//! Anthropic Messages (`/v1/messages`) to and from the canonical model.
//!
//! - [`wire`]: typed serde structs for the request, the response and the
//!   stream events;
//! - `content`: images and tool-call arguments;
//! - `request`: request decoding and encoding;
//! - `response`: complete responses, stop reasons and usage;
//! - `stream`: the stream decoder and encoder.
//!
//! Decisions (see each module for details):
//! - Encoding a request without `max_tokens` writes [`DEFAULT_MAX_TOKENS`]
//!   (plus the thinking budget when thinking is on), since Anthropic
//!   requires the field and counts thinking in it.
//! - Thinking: an effort-only config becomes a budget through
//!   [`super::model::effort_to_budget`], raised to Anthropic's minimum of
//!   [`MIN_THINKING_BUDGET`]; budget `0` (or effort `none`) is
//!   `{"type":"disabled"}`.
//!   With thinking on, Anthropic rejects a modified `temperature`/`top_k`, a
//!   `top_p` under 0.95 and forced tool use: the sampling hints are dropped,
//!   and a forced tool choice wins over thinking (thinking is left off).
//!   A `max_tokens` too small for the minimum budget also leaves it off.
//! - `temperature` is clamped to Anthropic's 0..=1; `tool_choice` is only
//!   written when there are tools.
//! - Messages: tool results are moved to the front of their user message
//!   (Anthropic requires it); empty text, reasoning without a signature and
//!   messages left empty are not sent.
//! - Structured output: [`super::ResponseFormat::JsonSchema`] maps to
//!   `output_config.format` (`json_schema`); `JsonObject`, which Anthropic
//!   cannot express natively, becomes an instruction appended to the system
//!   prompt.
//! - Usage: Anthropic's `input_tokens` excludes cache reads and writes; the
//!   canonical input is the sum, and encoding subtracts them back.

mod content;
mod request;
mod response;
mod stream;
pub(super) mod wire;

pub(super) use request::{decode_request, encode_request};
pub(super) use response::{decode_response, encode_response};
pub(super) use stream::{ClaudeStreamDecoder, ClaudeStreamEncoder};

/// `max_tokens` written when the canonical request has none (Anthropic
/// requires the field). Thinking budgets are added on top.
pub(super) const DEFAULT_MAX_TOKENS: u64 = 4096;

/// The smallest thinking budget Anthropic accepts.
pub(super) const MIN_THINKING_BUDGET: u64 = 1024;

/// Prefix of generated message ids.
pub(super) const MESSAGE_ID_PREFIX: &str = "msg_";
