//! Schema stand-ins for types of other crates that carry no JSON Schema
//! (their serde names, for the OpenAPI document), and small shared DTOs.

use schemars::JsonSchema;
use serde::Serialize;

/// Schema of `gproxy_protocol::Protocol`.
#[derive(JsonSchema)]
#[schemars(rename = "Protocol")]
#[allow(dead_code)]
pub enum ProtocolSchema {
    /// OpenAI Chat Completions.
    #[serde(rename = "openai_chat")]
    OpenAiChat,
    /// OpenAI Responses.
    #[serde(rename = "openai_responses")]
    OpenAiResponses,
    /// Anthropic Messages.
    #[serde(rename = "claude")]
    Claude,
    /// Google Gemini.
    #[serde(rename = "gemini")]
    Gemini,
}

/// Schema of `CountTokens`.
#[derive(JsonSchema)]
#[schemars(rename = "CountTokens")]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum CountTokensSchema {
    /// The upstream's own endpoint.
    Upstream,
    /// A local estimate.
    Local,
}

/// Schema of `CustomAuth`.
#[derive(JsonSchema)]
#[schemars(rename = "CustomAuth")]
#[serde(rename_all = "kebab-case")]
#[allow(dead_code)]
pub enum CustomAuthSchema {
    /// `Authorization: Bearer`.
    Bearer,
    /// `x-api-key`.
    XApiKey,
    /// `x-goog-api-key`.
    XGoogApiKey,
    /// Nothing.
    None,
}

/// Schema of the credential selection strategy.
#[derive(JsonSchema)]
#[schemars(rename = "CredentialStrategy")]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum StrategySchema {
    /// In turn.
    RoundRobin,
    /// By weight.
    Weighted,
    /// The one with the fewest requests in flight.
    LeastInFlight,
}

/// The answer of an action that returns nothing else.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Done {
    /// Always true.
    pub ok: bool,
}
