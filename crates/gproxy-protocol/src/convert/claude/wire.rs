//! Anthropic Messages wire types: request, response and stream events.
//!
//! Roots keep unknown fields in `extra`; content blocks keep their `type`
//! so an unsupported block can be named in the error.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

fn is_false(b: &bool) -> bool {
    !*b
}

/// `POST /v1/messages` body.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct ClaudeRequest {
    pub model: String,
    pub messages: Vec<ClaudeMessage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<ClaudeSystem>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<ClaudeTool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ClaudeToolChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_sequences: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<ClaudeThinking>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<ClaudeMetadata>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_config: Option<ClaudeOutputConfig>,
    /// The structured-output beta's name for `output_config.format`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_format: Option<ClaudeOutputFormat>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `system`: a string or text blocks.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub(crate) enum ClaudeSystem {
    Text(String),
    Blocks(Vec<TypedBlock>),
}

/// One conversation turn.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ClaudeMessage {
    pub role: ClaudeRole,
    pub content: ClaudeContent,
}

/// `user` or `assistant`; `system` inside `messages` is what Claude Code
/// sends for its environment context (decoded only, never encoded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ClaudeRole {
    User,
    Assistant,
    System,
}

/// Message content: a string or content blocks.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub(crate) enum ClaudeContent {
    Text(String),
    Blocks(Vec<TypedBlock>),
}

/// Deserialises Anthropic's "a string or an array of blocks" fields with
/// the error of the block that failed (not serde's untagged "no variant").
macro_rules! string_or_blocks {
    ($name:ident) => {
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                match Value::deserialize(d)? {
                    Value::String(s) => Ok($name::Text(s)),
                    v @ Value::Array(_) => Vec::<TypedBlock>::deserialize(v)
                        .map($name::Blocks)
                        .map_err(D::Error::custom),
                    _ => Err(D::Error::custom(
                        "expected a string or an array of content blocks",
                    )),
                }
            }
        }
    };
}

string_or_blocks!(ClaudeSystem);
string_or_blocks!(ClaudeContent);
string_or_blocks!(ClaudeToolResultContent);

/// A content block together with the `type` it was sent with (so an
/// unknown one can be named).
#[derive(Debug, Clone)]
pub(crate) struct TypedBlock {
    pub kind: String,
    pub block: ClaudeBlock,
}

impl From<ClaudeBlock> for TypedBlock {
    fn from(block: ClaudeBlock) -> Self {
        TypedBlock {
            kind: String::new(),
            block,
        }
    }
}

impl<'de> Deserialize<'de> for TypedBlock {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        let kind = match value.get("type") {
            Some(Value::String(s)) => s.clone(),
            _ => return Err(D::Error::custom("content block without a string `type`")),
        };
        let block = ClaudeBlock::deserialize(value).map_err(D::Error::custom)?;
        Ok(TypedBlock { kind, block })
    }
}

impl Serialize for TypedBlock {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.block.serialize(s)
    }
}

/// The content blocks the canonical model has a place for.
/// (`cache_control` and `citations` are ignored when parsing.)
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum ClaudeBlock {
    Text {
        text: String,
    },
    Image {
        source: ClaudeImageSource,
    },
    ToolUse {
        id: String,
        name: String,
        #[serde(default)]
        input: Value,
    },
    ToolResult {
        tool_use_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content: Option<ClaudeToolResultContent>,
        #[serde(default, skip_serializing_if = "is_false")]
        is_error: bool,
    },
    Thinking {
        #[serde(default)]
        thinking: String,
        #[serde(default)]
        signature: Option<String>,
    },
    RedactedThinking {
        data: String,
    },
    /// Anything else (documents, search results, server tool blocks, …).
    #[serde(other)]
    Unknown,
}

/// An image `source`: `{type: base64, media_type, data}` or `{type: url, url}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct ClaudeImageSource {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// `tool_result.content`: a string or text/image blocks.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub(crate) enum ClaudeToolResultContent {
    Text(String),
    Blocks(Vec<TypedBlock>),
}

/// A tool definition. Client tools have no `type` (or `custom`); server
/// tools (`web_search_20250305`, …) have one.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct ClaudeTool {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_schema: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

/// `tool_choice`: `auto`, `any`, `tool` (with `name`) or `none`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct ClaudeToolChoice {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_parallel_tool_use: Option<bool>,
}

/// `thinking`: `{type: enabled, budget_tokens}`, `{type: disabled}` or
/// `{type: adaptive}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct ClaudeThinking {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_tokens: Option<u64>,
}

/// `metadata`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct ClaudeMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

/// `output_config`: structured output format and effort.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct ClaudeOutputConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<ClaudeOutputFormat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effort: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `{type: json_schema, schema}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct ClaudeOutputFormat {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
}

/// A complete Message (also the `message` of `message_start`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct ClaudeResponse {
    #[serde(default)]
    pub id: String,
    #[serde(rename = "type", default = "message_type")]
    pub kind: String,
    #[serde(default = "assistant_role")]
    pub role: String,
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub content: Vec<TypedBlock>,
    #[serde(default)]
    pub stop_reason: Option<String>,
    #[serde(default)]
    pub stop_sequence: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<ClaudeUsage>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn message_type() -> String {
    "message".into()
}

fn assistant_role() -> String {
    "assistant".into()
}

/// `usage`; `input_tokens` excludes cache reads and writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ClaudeUsage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
}

/// One stream event's `data`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum ClaudeStreamEvent {
    MessageStart {
        message: ClaudeResponse,
    },
    ContentBlockStart {
        index: u32,
        content_block: TypedBlock,
    },
    ContentBlockDelta {
        index: u32,
        delta: ClaudeDelta,
    },
    ContentBlockStop {
        index: u32,
    },
    MessageDelta {
        delta: ClaudeMessageDelta,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        usage: Option<ClaudeUsage>,
    },
    MessageStop,
    Ping,
    Error {
        error: ClaudeErrorBody,
    },
    #[serde(other)]
    Unknown,
}

/// A `content_block_delta`'s `delta`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum ClaudeDelta {
    TextDelta {
        text: String,
    },
    ThinkingDelta {
        thinking: String,
    },
    SignatureDelta {
        signature: String,
    },
    InputJsonDelta {
        partial_json: String,
    },
    /// `citations_delta` and anything newer: nothing canonical.
    #[serde(other)]
    Unknown,
}

/// `message_delta.delta`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct ClaudeMessageDelta {
    #[serde(default)]
    pub stop_reason: Option<String>,
    #[serde(default)]
    pub stop_sequence: Option<String>,
}

/// An `error` event's `error`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct ClaudeErrorBody {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub message: String,
}
