//! Gemini `generateContent` / `streamGenerateContent` to and from the
//! canonical model.
//!
//! Decisions (see also [`schema`] for tool and response schemas):
//! - The model and the stream flag live in the URL: [`decode_request`]
//!   leaves `model` empty and `stream` false, [`encode_request`] writes
//!   neither.
//! - `functionCall.id` / `functionResponse.id` are read when present but
//!   never written into requests: Vertex AI rejects them ("Unknown name
//!   \"id\""), and AI Studio matches results to calls by order and name.
//!   Responses and stream chunks sent to a Gemini client do carry `id` (as
//!   the Gemini API does), so the client can echo the canonical call id.
//! - Calls without an id get `call_{name}_{turn}_{n}` (requests) or
//!   `call_{responseId}_{n}` (responses, streams); a `functionResponse`
//!   without an id answers the earliest unanswered call with its name.
//! - Tool-call arguments become the `args` object (`""` → `{}`; text that
//!   is not a JSON object is `Invalid`). A function without parameters
//!   leaves `parameters` out, except under mode `ANY` (which rejects that):
//!   then it gets `{"type":"object","properties":{}}`.
//! - Tool results: `{"result": text}` / `{"error": text}`; the name comes
//!   from the result or the matching earlier call (none → `Invalid`).
//!   Decoding, `{"result"|"output": v}` gives `v` (a string as is, anything
//!   else as compact JSON), `{"error": v}` sets `is_error`, any other object
//!   is its compact JSON text. Images in tool results travel as sibling
//!   `inlineData`/`fileData` parts after the `functionResponse`.
//! - Thought signatures: a reasoning part becomes a `thought: true` text
//!   part (when it has text) and its signature goes on the next non-thought
//!   part of the turn, or on the thought part itself when nothing follows
//!   (a signature with neither is dropped). Decoding mirrors this. Anthropic
//!   `redacted_thinking` has no Gemini form and is dropped.
//! - Turn rules ([`request`]): empty parts and empty turns are dropped,
//!   consecutive same-role turns merged, a history starting with the model
//!   gets a leading user turn with the text `"."`, and no contents at all is
//!   `Invalid`.
//! - Reasoning: `thinkingBudget` from the budget or the effort
//!   ([`super::model::effort_to_budget`]), `-1` (dynamic) when reasoning is
//!   on with neither; `thinkingLevel` is read as the effort but never written
//!   (Gemini 2.5 rejects it, Gemini 3 still accepts a budget).
//! - Rejected as `Unsupported`: `cachedContent` (the cached prompt lives on
//!   Google's servers), built-in tools (`googleSearch`, `codeExecution`, …),
//!   non-image `inlineData`/`fileData`, `executableCode` and other part
//!   kinds, `candidateCount` > 1, non-text `responseModalities`, an
//!   `allowedFunctionNames` subset other than one name or all tools.
//!   Dropped: `safetySettings`, `labels`, `responseLogprobs`, `user`,
//!   `parallel_tool_calls`.

mod parts;
mod request;
mod response;
mod schema;
mod stream;
mod wire;

pub(super) use request::{decode_request, encode_request};
pub(super) use response::{decode_response, encode_response};
pub(super) use stream::{GeminiStreamDecoder, GeminiStreamEncoder};

use super::{FinishReason, Usage};
use wire::UsageMetadata;

/// `usageMetadata` → normalised usage (output includes the thoughts).
fn usage_from_wire(u: &UsageMetadata) -> Usage {
    let thoughts = u.thoughts_token_count.unwrap_or(0);
    Usage {
        input_tokens: u.prompt_token_count.unwrap_or(0),
        output_tokens: u
            .candidates_token_count
            .unwrap_or(0)
            .saturating_add(thoughts),
        cache_read_tokens: u.cached_content_token_count.unwrap_or(0),
        cache_write_tokens: 0,
        reasoning_tokens: thoughts,
    }
}

/// Normalised usage → `usageMetadata` (zero cache and thought counts left out, as Gemini does).
fn usage_to_wire(u: &Usage) -> UsageMetadata {
    UsageMetadata {
        prompt_token_count: Some(u.input_tokens),
        candidates_token_count: Some(u.output_tokens.saturating_sub(u.reasoning_tokens)),
        total_token_count: Some(u.input_tokens.saturating_add(u.output_tokens)),
        cached_content_token_count: (u.cache_read_tokens > 0).then_some(u.cache_read_tokens),
        thoughts_token_count: (u.reasoning_tokens > 0).then_some(u.reasoning_tokens),
    }
}

/// `finishReason` → canonical; `STOP` with function calls is `ToolCalls`.
fn finish_from_wire(reason: &str, has_calls: bool) -> Option<FinishReason> {
    Some(match reason {
        "STOP" if has_calls => FinishReason::ToolCalls,
        "STOP" => FinishReason::Stop,
        "MAX_TOKENS" => FinishReason::Length,
        "SAFETY"
        | "RECITATION"
        | "BLOCKLIST"
        | "PROHIBITED_CONTENT"
        | "SPII"
        | "IMAGE_SAFETY"
        | "IMAGE_PROHIBITED_CONTENT"
        | "IMAGE_RECITATION" => FinishReason::ContentFilter,
        "" | "FINISH_REASON_UNSPECIFIED" => return None,
        other => FinishReason::Other(other.to_owned()),
    })
}

/// Canonical → `finishReason`; another protocol's reason becomes `OTHER`.
fn finish_to_wire(reason: &FinishReason) -> String {
    match reason {
        FinishReason::Stop | FinishReason::ToolCalls => "STOP".into(),
        FinishReason::Length => "MAX_TOKENS".into(),
        FinishReason::ContentFilter => "SAFETY".into(),
        FinishReason::Other(s)
            if !s.is_empty() && s.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') =>
        {
            s.clone()
        }
        FinishReason::Other(_) => "OTHER".into(),
    }
}
