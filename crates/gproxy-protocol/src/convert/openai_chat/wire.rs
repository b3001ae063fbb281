//! Typed serde structs for the OpenAI Chat Completions wire format: the
//! request body, the `chat.completion` response and the
//! `chat.completion.chunk` stream events.
//!
//! Roots keep unknown fields in `extra`; content parts and tools keep their
//! `type` as a string so an unknown type can be named in an error.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `POST /v1/chat/completions` body.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct ChatRequest {
    pub model: String,
    pub messages: Vec<ChatMessage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<ChatTool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ChatToolChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<ChatStop>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<ChatResponseFormat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u64>,
    /// Legacy `functions` (decoded as tools, never written).
    #[serde(default, skip_serializing)]
    pub functions: Option<Vec<ChatFunctionDef>>,
    /// Legacy `function_call` (decoded as the tool choice, never written).
    #[serde(default, skip_serializing)]
    pub function_call: Option<ChatToolChoice>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One message of `messages`, by `role`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub(super) enum ChatMessage {
    System {
        content: ChatContent,
    },
    Developer {
        content: ChatContent,
    },
    User {
        content: ChatContent,
    },
    Assistant {
        #[serde(default)]
        content: Option<ChatContent>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        refusal: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tool_calls: Option<Vec<ChatToolCall>>,
        /// DeepSeek's reasoning text (never written in requests).
        #[serde(default, skip_serializing)]
        reasoning_content: Option<String>,
        /// OpenRouter's reasoning text (never written).
        #[serde(default, skip_serializing)]
        reasoning: Option<String>,
        /// Legacy single function call (never written).
        #[serde(default, skip_serializing)]
        function_call: Option<ChatFunctionCall>,
    },
    Tool {
        tool_call_id: String,
        content: ChatContent,
    },
    /// Legacy function result (never written).
    Function {
        name: String,
        #[serde(default)]
        content: Option<String>,
    },
}

/// A message's `content`: a string or an array of parts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub(super) enum ChatContent {
    Text(String),
    Parts(Vec<ChatPart>),
}

/// One content part (`text`, `image_url`, `refusal`, …).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct ChatPart {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<ChatImageUrl>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `image_url` of an image part (`detail` is dropped).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct ChatImageUrl {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A tool call of an assistant message or a response.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct ChatToolCall {
    pub id: String,
    #[serde(rename = "type", default = "function_type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<ChatFunctionCall>,
}

fn function_type() -> String {
    "function".into()
}

/// `function` of a tool call: name and JSON arguments text.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct ChatFunctionCall {
    pub name: String,
    #[serde(default)]
    pub arguments: String,
}

/// One entry of `tools`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct ChatTool {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<ChatFunctionDef>,
}

/// A function definition (`tools[].function`, legacy `functions[]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct ChatFunctionDef {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

/// `tool_choice`: a mode string or an object.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub(super) enum ChatToolChoice {
    Mode(String),
    Object(ChatNamedChoice),
}

/// `{"type":"function","function":{"name":..}}` (legacy `function_call`:
/// `{"name":..}`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct ChatNamedChoice {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<ChatChoiceName>,
    /// Legacy `function_call: {"name": ..}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The `function` of a named tool choice.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct ChatChoiceName {
    pub name: String,
}

/// `stop`: one string or several.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub(super) enum ChatStop {
    One(String),
    Many(Vec<String>),
}

/// `response_format`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct ChatResponseFormat {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_schema: Option<ChatJsonSchema>,
}

/// `response_format.json_schema`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct ChatJsonSchema {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

/// A `chat.completion` response.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct ChatCompletion {
    #[serde(default)]
    pub id: String,
    #[serde(default = "completion_object")]
    pub object: String,
    #[serde(default)]
    pub created: Option<i64>,
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub choices: Vec<ChatChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<ChatUsage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_fingerprint: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn completion_object() -> String {
    "chat.completion".into()
}

/// One choice of a response.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct ChatChoice {
    #[serde(default)]
    pub index: u32,
    pub message: ChatResponseMessage,
    #[serde(default)]
    pub logprobs: Option<Value>,
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// The assistant message of a response.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct ChatResponseMessage {
    #[serde(default = "assistant_role")]
    pub role: String,
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub refusal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
    /// OpenRouter's reasoning text (never written).
    #[serde(default, skip_serializing)]
    pub reasoning: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ChatToolCall>>,
    /// Legacy single function call (never written).
    #[serde(default, skip_serializing)]
    pub function_call: Option<ChatFunctionCall>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Vec<Value>>,
}

fn assistant_role() -> String {
    "assistant".into()
}

/// `usage` of a response or of the last stream chunk.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub(super) struct ChatUsage {
    #[serde(default, deserialize_with = "null_as_zero")]
    pub prompt_tokens: u64,
    #[serde(default, deserialize_with = "null_as_zero")]
    pub completion_tokens: u64,
    #[serde(default, deserialize_with = "null_as_zero")]
    pub total_tokens: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens_details: Option<ChatPromptDetails>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_tokens_details: Option<ChatCompletionDetails>,
    /// DeepSeek's cache hits (read only).
    #[serde(default, skip_serializing)]
    pub prompt_cache_hit_tokens: Option<u64>,
}

/// Some compatible upstreams send `null` counts.
fn null_as_zero<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    Ok(Option::<u64>::deserialize(d)?.unwrap_or(0))
}

/// `usage.prompt_tokens_details`.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub(super) struct ChatPromptDetails {
    #[serde(default)]
    pub cached_tokens: Option<u64>,
    /// OpenRouter's cache writes (read only).
    #[serde(default, skip_serializing)]
    pub cache_write_tokens: Option<u64>,
}

/// `usage.completion_tokens_details`.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub(super) struct ChatCompletionDetails {
    #[serde(default)]
    pub reasoning_tokens: Option<u64>,
}

/// A `chat.completion.chunk` stream event (or an in-stream error).
#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct ChatChunk {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub created: Option<i64>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub choices: Option<Vec<ChatChunkChoice>>,
    #[serde(default)]
    pub usage: Option<ChatUsage>,
    #[serde(default)]
    pub error: Option<Value>,
    /// Fields with no canonical meaning (`system_fingerprint`, `obfuscation`, …).
    #[serde(flatten)]
    #[expect(dead_code, reason = "kept for completeness; nothing canonical in it")]
    pub extra: Map<String, Value>,
}

/// One choice of a chunk.
#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct ChatChunkChoice {
    #[serde(default)]
    pub index: u32,
    #[serde(default)]
    pub delta: Option<ChatDelta>,
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// `delta` of a chunk choice.
#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct ChatDelta {
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub refusal: Option<String>,
    #[serde(default)]
    pub reasoning_content: Option<String>,
    #[serde(default)]
    pub reasoning: Option<String>,
    #[serde(default)]
    pub tool_calls: Option<Vec<ChatToolCallDelta>>,
    #[serde(default)]
    pub function_call: Option<ChatFunctionDelta>,
}

/// One entry of `delta.tool_calls`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct ChatToolCallDelta {
    #[serde(default)]
    pub index: Option<u32>,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub function: Option<ChatFunctionDelta>,
}

/// `function` of a tool-call delta.
#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct ChatFunctionDelta {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub arguments: Option<String>,
}

/// A chunk as the stream encoder writes it.
#[derive(Debug, Clone, Serialize)]
pub(super) struct ChatChunkOut<'a> {
    pub id: &'a str,
    pub object: &'static str,
    pub created: i64,
    pub model: &'a str,
    pub choices: Vec<ChatChunkChoiceOut>,
    /// `Some(None)` writes `"usage": null` (every chunk but the last when
    /// `include_usage` is set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Option<ChatUsage>>,
}

/// One choice of an encoded chunk.
#[derive(Debug, Clone, Serialize)]
pub(super) struct ChatChunkChoiceOut {
    pub index: u32,
    pub delta: ChatDeltaOut,
    pub logprobs: Option<Value>,
    pub finish_reason: Option<&'static str>,
}

/// `delta` of an encoded chunk.
#[derive(Debug, Clone, Default, Serialize)]
pub(super) struct ChatDeltaOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// With `refusal: Some(None)` the first chunk writes `"refusal": null`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ChatToolCallDeltaOut>>,
}

/// One entry of an encoded `delta.tool_calls`.
#[derive(Debug, Clone, Serialize)]
pub(super) struct ChatToolCallDeltaOut {
    pub index: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    pub function: ChatFunctionDeltaOut,
}

/// `function` of an encoded tool-call delta.
#[derive(Debug, Clone, Serialize)]
pub(super) struct ChatFunctionDeltaOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub arguments: String,
}
