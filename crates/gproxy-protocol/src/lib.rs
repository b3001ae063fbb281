//! Wire-level building blocks shared by every gproxy layer: the protocol tag,
//! an incremental SSE codec, shallow JSON editing for same-protocol
//! forwarding, `json_param_mask` paths, a streamed JSON-array splitter,
//! usage extraction and error bodies in each protocol's own shape.
//!
//! Nothing here does IO: every type is fed bytes and hands bytes back.

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
