//! OpenAI Chat Completions (`/v1/chat/completions`) to and from the
//! canonical model.
//!
//! Decisions (see the canonical conventions in [`super::model`]):
//! - `system` and `developer` messages go to [`super::Request::system`]
//!   (text parts joined by `\n`); encoding writes them as `system` messages.
//! - A run of `tool` messages decodes to one user message of tool results;
//!   a `user` message right after the run (system messages in between do
//!   not count) is merged into that message, its parts after the results:
//!   the shape Anthropic and Gemini use. Encoding writes one `tool`
//!   message per result, then a `user` message with the message's other
//!   parts. Chat has no error flag on tool results:
//!   `is_error` is dropped; images in tool results are `Unsupported`.
//! - Assistant `reasoning_content` (DeepSeek) or `reasoning` (OpenRouter)
//!   decodes to a reasoning part before the content. Requests are encoded
//!   without reasoning (OpenAI rejects the field, DeepSeek's reasoner did
//!   too); responses and streams write reasoning as `reasoning_content`.
//!   Signatures and redacted reasoning have no place in Chat and are
//!   dropped.
//! - The token limit is read from `max_completion_tokens`, else
//!   `max_tokens`, and written as `max_tokens`, which every Chat-compatible
//!   upstream (DeepSeek, Groq, Ollama, Mistral) knows. `stream_options` is
//!   never written (the engine sets it). `top_k` and cache-write usage have
//!   no Chat field and are dropped; a budget-only reasoning config becomes
//!   `reasoning_effort` by [`super::model::budget_to_effort`].
//! - `n` > 1, non-function tools and tool choices, content parts other than
//!   text and images (`input_audio`, `file`) and non-base64 data URLs are
//!   `Unsupported`; `detail`, `name`, `logprobs`, `metadata` and the like
//!   are dropped. Refusals decode as text.
//! - Legacy `functions`/`function_call` decode as tools and tool choice;
//!   legacy assistant `function_call`s get the ids `call_legacy_<n>`, which
//!   the following `function` messages answer by name.
//! - Call ids the upstream did not give are derived from the response id
//!   (`call_<id without chatcmpl->_<n>`); a missing response id is
//!   generated (`chatcmpl-…`). Unknown finish reasons are written as `stop`.

mod request;
mod response;
mod stream;
mod wire;

pub(super) use request::{decode_request, encode_request};
pub(super) use response::{decode_response, encode_response};
pub(super) use stream::{ChatStreamDecoder, ChatStreamEncoder};
