//! Typed serde structs for the OpenAI Responses wire format: request input
//! items, the response object and stream events.
//!
//! Roots keep unknown fields in `extra`; tagged enums carry an `Unknown` arm
//! so a new item or event type never breaks parsing.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The body of `POST /v1/responses`.
#[derive(Debug, Default, Deserialize, Serialize)]
pub(super) struct WireRequest {
    #[serde(default)]
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<WireInput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<WireReasoningConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<WireTextConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include: Option<Vec<String>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `input`: a string (one user message) or a list of items. Items are kept
/// as JSON here because a message item's `type` is optional; the request
/// decoder dispatches on it.
#[derive(Debug, Deserialize, Serialize)]
#[serde(untagged)]
pub(super) enum WireInput {
    Text(String),
    Items(Vec<Value>),
}

/// One typed input item (a message item's `type` is filled in before
/// parsing when the client left it out).
#[derive(Debug, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum WireInputItem {
    Message {
        role: String,
        content: WireMessageContent,
    },
    FunctionCall {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        call_id: String,
        name: String,
        /// Set on a call of a namespaced tool (Codex).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        namespace: Option<String>,
        arguments: String,
    },
    FunctionCallOutput {
        call_id: String,
        output: WireMessageContent,
    },
    /// Tools declared inside the conversation (Codex).
    AdditionalTools {
        #[serde(default)]
        tools: Vec<Value>,
    },
    /// A call of a free-form (`custom`) tool.
    CustomToolCall {
        call_id: String,
        name: String,
        #[serde(default)]
        namespace: Option<String>,
        #[serde(default)]
        input: String,
    },
    CustomToolCallOutput {
        call_id: String,
        output: WireMessageContent,
    },
    Reasoning {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        #[serde(default)]
        summary: Vec<WireSummaryPart>,
        /// Raw reasoning text (open-weight models served through Responses).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content: Option<Vec<WireSummaryPart>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        encrypted_content: Option<String>,
    },
    #[serde(other)]
    Unknown,
}

/// Message content (and function call output): a string or typed parts,
/// kept as JSON so an unknown part type can be named in the error.
#[derive(Debug, Deserialize, Serialize)]
#[serde(untagged)]
pub(super) enum WireMessageContent {
    Text(String),
    Parts(Vec<Value>),
}

/// One content part of an input message or a function call output.
#[derive(Debug, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum WireInputPart {
    InputText {
        text: String,
    },
    InputImage {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        image_url: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    OutputText {
        text: String,
        #[serde(default)]
        annotations: Vec<Value>,
    },
    Refusal {
        refusal: String,
    },
    #[serde(other)]
    Unknown,
}

/// `reasoning` request settings (and the echo in a response).
#[derive(Debug, Default, Deserialize, Serialize)]
pub(super) struct WireReasoningConfig {
    #[serde(default)]
    pub effort: Option<String>,
    #[serde(default)]
    pub summary: Option<String>,
}

/// `text` request settings.
#[derive(Debug, Default, Deserialize, Serialize)]
pub(super) struct WireTextConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<WireTextFormat>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `text.format`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum WireTextFormat {
    Text,
    JsonObject,
    JsonSchema {
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        schema: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        strict: Option<bool>,
    },
    #[serde(other)]
    Unknown,
}

/// A `function` tool definition.
#[derive(Debug, Deserialize, Serialize)]
pub(super) struct WireFunctionTool {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub parameters: Option<Value>,
    #[serde(default)]
    pub strict: Option<bool>,
}

/// A summary part of a reasoning item.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub(super) struct WireSummaryPart {
    #[serde(rename = "type", default = "summary_text")]
    pub kind: String,
    #[serde(default)]
    pub text: String,
}

fn summary_text() -> String {
    "summary_text".into()
}

impl WireSummaryPart {
    pub(super) fn new(text: String) -> Self {
        WireSummaryPart {
            kind: summary_text(),
            text,
        }
    }
}

/// The response object (`object: "response"`).
#[derive(Debug, Default, Deserialize, Serialize)]
pub(super) struct WireResponse {
    #[serde(default)]
    pub id: String,
    #[serde(default = "response_object")]
    pub object: String,
    #[serde(default)]
    pub created_at: Option<i64>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub error: Option<WireError>,
    #[serde(default)]
    pub incomplete_details: Option<WireIncompleteDetails>,
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub output: Vec<WireOutputItem>,
    #[serde(default)]
    pub usage: Option<WireUsage>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn response_object() -> String {
    "response".into()
}

/// `error` of a failed response.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub(super) struct WireError {
    #[serde(default)]
    pub code: Option<Value>,
    #[serde(default)]
    pub message: String,
}

/// Why a response is incomplete.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub(super) struct WireIncompleteDetails {
    #[serde(default)]
    pub reason: Option<String>,
}

/// One output item.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum WireOutputItem {
    Message {
        #[serde(default)]
        id: String,
        #[serde(default)]
        status: Option<String>,
        #[serde(default = "assistant")]
        role: String,
        #[serde(default)]
        content: Vec<WireOutputContent>,
    },
    FunctionCall {
        #[serde(default)]
        id: String,
        call_id: String,
        name: String,
        /// The client's namespace of a namespaced tool (Codex).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        namespace: Option<String>,
        #[serde(default)]
        arguments: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<String>,
    },
    /// A call of a free-form tool (only written, for a client whose
    /// `custom` tool was sent upstream as a function).
    CustomToolCall {
        #[serde(default)]
        id: String,
        call_id: String,
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        namespace: Option<String>,
        #[serde(default)]
        input: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<String>,
    },
    Reasoning {
        #[serde(default)]
        id: String,
        #[serde(default)]
        summary: Vec<WireSummaryPart>,
        /// Raw reasoning text (open-weight models served through Responses).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content: Option<Vec<WireSummaryPart>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        encrypted_content: Option<String>,
    },
    #[serde(other)]
    Unknown,
}

fn assistant() -> String {
    "assistant".into()
}

/// A content part of an output message.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum WireOutputContent {
    OutputText {
        #[serde(default)]
        text: String,
        #[serde(default)]
        annotations: Vec<Value>,
    },
    Refusal {
        #[serde(default)]
        refusal: String,
    },
    #[serde(other)]
    Unknown,
}

/// Token usage as Responses reports it.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize)]
pub(super) struct WireUsage {
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub input_tokens_details: WireInputDetails,
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default)]
    pub output_tokens_details: WireOutputDetails,
    #[serde(default)]
    pub total_tokens: u64,
}

/// `usage.input_tokens_details`. `cache_write_tokens` is required by the
/// current OpenAI SDKs' `ResponseUsage` type, so it is always written.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize)]
pub(super) struct WireInputDetails {
    #[serde(default)]
    pub cached_tokens: u64,
    #[serde(default)]
    pub cache_write_tokens: u64,
}

/// `usage.output_tokens_details`.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize)]
pub(super) struct WireOutputDetails {
    #[serde(default)]
    pub reasoning_tokens: u64,
}

/// One stream event (the SSE `event:` name equals `type`).
#[derive(Debug, Deserialize, Serialize)]
#[serde(tag = "type")]
pub(super) enum WireStreamEvent {
    #[serde(rename = "response.created")]
    Created { response: WireResponse },
    #[serde(rename = "response.queued")]
    Queued { response: WireResponse },
    #[serde(rename = "response.in_progress")]
    InProgress { response: WireResponse },
    #[serde(rename = "response.completed")]
    Completed { response: WireResponse },
    #[serde(rename = "response.incomplete")]
    Incomplete { response: WireResponse },
    #[serde(rename = "response.failed")]
    Failed { response: WireResponse },
    #[serde(rename = "response.output_item.added")]
    OutputItemAdded {
        output_index: u64,
        item: WireOutputItem,
    },
    #[serde(rename = "response.output_item.done")]
    OutputItemDone {
        output_index: u64,
        item: WireOutputItem,
    },
    #[serde(rename = "response.output_text.delta")]
    OutputTextDelta { output_index: u64, delta: String },
    #[serde(rename = "response.output_text.done")]
    OutputTextDone { output_index: u64, text: String },
    #[serde(rename = "response.refusal.delta")]
    RefusalDelta { output_index: u64, delta: String },
    #[serde(rename = "response.refusal.done")]
    RefusalDone { output_index: u64, refusal: String },
    #[serde(rename = "response.function_call_arguments.delta")]
    ArgumentsDelta { output_index: u64, delta: String },
    #[serde(rename = "response.function_call_arguments.done")]
    ArgumentsDone {
        output_index: u64,
        arguments: String,
    },
    #[serde(rename = "response.reasoning_summary_part.added")]
    SummaryPartAdded {
        output_index: u64,
        summary_index: u64,
    },
    #[serde(rename = "response.reasoning_summary_text.delta")]
    SummaryTextDelta {
        output_index: u64,
        summary_index: u64,
        delta: String,
    },
    #[serde(rename = "response.reasoning_summary_text.done")]
    SummaryTextDone {
        output_index: u64,
        summary_index: u64,
        text: String,
    },
    #[serde(rename = "response.reasoning_text.delta")]
    ReasoningTextDelta { output_index: u64, delta: String },
    #[serde(rename = "response.reasoning_text.done")]
    ReasoningTextDone { output_index: u64, text: String },
    #[serde(rename = "error")]
    Error {
        #[serde(default)]
        code: Option<Value>,
        #[serde(default)]
        message: Option<String>,
        /// Some servers nest the error object.
        #[serde(default)]
        error: Option<WireError>,
    },
    #[serde(other)]
    Unknown,
}

/// A `namespace` tool (Codex): tools grouped under a name (none for a
/// lone `custom` tool).
#[derive(Debug, Deserialize)]
pub(super) struct WireNamespaceTool {
    pub name: Option<String>,
    #[serde(default)]
    pub tools: Vec<Value>,
}

/// A free-form (`custom`) tool.
#[derive(Debug, Deserialize)]
pub(super) struct WireCustomTool {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub format: Option<WireCustomFormat>,
}

/// A custom tool's input format: `text`, or a `grammar` (`lark`, `regex`).
#[derive(Debug, Deserialize)]
pub(super) struct WireCustomFormat {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub syntax: Option<String>,
    #[serde(default)]
    pub definition: Option<String>,
}
