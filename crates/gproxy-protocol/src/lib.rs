//! Wire-level building blocks shared by every gproxy layer: the protocol tag,
//! an incremental SSE codec, shallow JSON editing for same-protocol
//! forwarding, `json_param_mask` paths, a streamed JSON-array splitter,
//! usage extraction and error bodies in each protocol's own shape.
//!
//! Nothing here does IO: every type is fed bytes and hands bytes back.
//!
//! The main entry point is [`convert`]: any of the four protocols (OpenAI
//! Chat, OpenAI Responses, Anthropic Messages, Gemini) into any other,
//! requests, responses and streams. An Anthropic request and a piece of
//! its stream, in OpenAI Chat form:
//!
//! ```
//! use gproxy_protocol::Protocol;
//! use gproxy_protocol::convert::{self, StreamOptions, Transcoder};
//! use gproxy_protocol::sse::SseDecoder;
//!
//! let anthropic = br#"{"model": "claude-sonnet-4-5", "max_tokens": 1024,
//!     "system": "Be brief.", "messages": [{"role": "user", "content": "Hello"}]}"#;
//! let canonical = convert::decode_request(Protocol::Claude, anthropic)?;
//! let openai = convert::encode_request(Protocol::OpenAiChat, &canonical)?;
//! let openai: serde_json::Value = serde_json::from_slice(&openai).unwrap();
//! assert_eq!(openai["messages"][0]["role"], "system");
//! assert_eq!(openai["messages"][1]["content"], "Hello");
//! assert_eq!(openai["max_tokens"], 1024);
//!
//! // A stream: SSE events out of byte chunks, each event's data through a
//! // transcoder, OpenAI Chat chunks out.
//! let upstream = concat!(
//!     "event: message_start\n",
//!     r#"data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"usage":{"input_tokens":9,"output_tokens":1}}}"#,
//!     "\n\nevent: content_block_start\n",
//!     r#"data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
//!     "\n\nevent: content_block_delta\n",
//!     r#"data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi!"}}"#,
//!     "\n\n",
//! );
//! let mut sse = SseDecoder::new();
//! let mut events = Vec::new();
//! sse.feed(upstream.as_bytes(), &mut events).unwrap();
//! let mut t = Transcoder::new(Protocol::Claude, Protocol::OpenAiChat, StreamOptions::default(), None);
//! let mut out = Vec::new();
//! for event in &events {
//!     t.feed(&event.data, &mut out)?;
//! }
//! t.finish(&mut out);
//! let out = String::from_utf8(out).unwrap();
//! assert!(out.contains(r#""content":"Hi!""#));
//! assert!(out.ends_with("data: [DONE]\n\n"));
//! # Ok::<(), gproxy_protocol::convert::ConvertError>(())
//! ```
//!
//! `examples/anthropic_to_openai.rs` does the same with a whole stream.

pub mod capabilities;
pub mod convert;
pub mod embeddings;
pub mod error;
pub mod json_array;
pub mod json_edit;
pub mod json_mask;
pub mod sse;
pub mod stream_error;
pub mod url;
pub mod usage;
mod usage_counts;

use std::fmt;

pub use usage::Usage;

/// The wire protocol a client spoke or an upstream speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// OpenAI Chat Completions (`/v1/chat/completions`).
    // `rename_all` alone would give `open_ai_chat`; keep serde and `as_str` in step.
    #[serde(rename = "openai_chat")]
    OpenAiChat,
    /// OpenAI Responses (`/v1/responses`).
    #[serde(rename = "openai_responses")]
    OpenAiResponses,
    /// Anthropic Messages (`/v1/messages`).
    Claude,
    /// Google Gemini (`/v1beta/models/{model}:generateContent` and friends).
    Gemini,
}

impl Protocol {
    /// Every protocol, in declaration order.
    pub const ALL: [Protocol; 4] = [
        Protocol::OpenAiChat,
        Protocol::OpenAiResponses,
        Protocol::Claude,
        Protocol::Gemini,
    ];

    /// The stable snake_case name, identical to the serde representation.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::OpenAiChat => "openai_chat",
            Protocol::OpenAiResponses => "openai_responses",
            Protocol::Claude => "claude",
            Protocol::Gemini => "gemini",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_str_matches_serde() {
        for p in Protocol::ALL {
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(json, format!("\"{}\"", p.as_str()));
            let back: Protocol = serde_json::from_str(&json).unwrap();
            assert_eq!(back, p);
            assert_eq!(p.to_string(), p.as_str());
        }
    }
}
