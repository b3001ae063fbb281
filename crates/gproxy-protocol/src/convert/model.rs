//! The canonical model every protocol converts to and from.
//!
//! It holds what the four generation APIs have in common and nothing that
//! only one of them knows: a converter maps a protocol's fields onto these
//! types and drops (or rejects with [`ConvertError::Unsupported`]) what has
//! no place here.
//!
//! Conventions every converter follows:
//! - System and developer instructions that come before the conversation
//!   live in [`Request::system`]. One that comes later (Claude Code sends
//!   `role: "system"` messages after the user turn) is a [`Role::System`]
//!   message at its place in [`Request::messages`], holding only text parts:
//!   protocols that allow it (OpenAI Chat, Responses) encode it in place,
//!   the others append it to their system instruction, in order
//!   ([`Request::hoisted_system`]).
//! - Tool results are [`Part::ToolResult`] parts of a [`Role::User`]
//!   message (Anthropic's and Gemini's shape). OpenAI Chat's `tool` messages
//!   decode to one user message holding every consecutive tool result, and
//!   encode back to one `tool` message per result, before the user message
//!   that holds the message's other parts.
//! - Tool-call arguments are the JSON text as the model produced it
//!   ([`Part::ToolCall::arguments`]), never re-serialised on the way.
//! - Reasoning is [`Part::Reasoning`], with its opaque `signature` (Anthropic
//!   thinking `signature`, Gemini `thoughtSignature`, OpenAI reasoning
//!   `encrypted_content`) carried untouched so a multi-turn tool loop can
//!   hand it back to the upstream that issued it.
//! - [`Usage`] is normalised: `input_tokens` counts every prompt token
//!   (cached ones included), `output_tokens` every generated token
//!   (reasoning included). Each converter maps its protocol's convention
//!   onto this one and back, so usage survives any pair unchanged.
//!
//! [`ConvertError::Unsupported`]: super::ConvertError::Unsupported

use serde_json::Value;

/// A generation request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Request {
    /// The model as named in the request (empty for Gemini, whose model is
    /// in the URL: the caller fills it in).
    pub model: String,
    /// System and developer instructions, in order.
    pub system: Vec<String>,
    /// The conversation.
    pub messages: Vec<Message>,
    /// Function tools the model may call.
    pub tools: Vec<Tool>,
    /// How the model must use the tools.
    pub tool_choice: Option<ToolChoice>,
    /// Whether several tool calls may come in one turn (`None`: protocol default).
    pub parallel_tool_calls: Option<bool>,
    /// Upper bound on generated tokens.
    pub max_tokens: Option<u64>,
    /// Sampling temperature.
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    pub top_p: Option<f64>,
    /// Top-k sampling (Anthropic, Gemini).
    pub top_k: Option<u64>,
    /// Presence penalty (OpenAI, Gemini).
    pub presence_penalty: Option<f64>,
    /// Frequency penalty (OpenAI, Gemini).
    pub frequency_penalty: Option<f64>,
    /// Seed (OpenAI, Gemini).
    pub seed: Option<i64>,
    /// Stop sequences.
    pub stop: Vec<String>,
    /// Structured output.
    pub response_format: Option<ResponseFormat>,
    /// Reasoning / thinking settings.
    pub reasoning: Option<ReasoningConfig>,
    /// The client asked for a stream (for Gemini: the method was
    /// `streamGenerateContent`; the caller sets it).
    pub stream: bool,
    /// An end-user id (OpenAI `user`, Anthropic `metadata.user_id`).
    pub user: Option<String>,
    /// Namespaced tools (Responses `type: "namespace"`, what Codex sends)
    /// flattened into [`Request::tools`] under collision-free names: the
    /// client's answer maps them back.
    pub tool_aliases: ToolAliases,
    /// What the decoder dropped because no other protocol can express it
    /// (hosted tools such as `web_search`), as `tools.<type>`: reported to
    /// the client in the `x-gproxy-dropped` header.
    pub dropped: Vec<String>,
}

/// The longest tool name OpenAI and Anthropic accept.
const MAX_TOOL_NAME: usize = 64;

/// A client tool under the plain function name the upstream sees: a tool
/// of a namespace, or a free-form (`custom`) tool, or both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolAlias {
    /// The name the upstream sees (`{namespace}__{name}`, made unique).
    pub flat: String,
    /// The client's namespace, if any.
    pub namespace: Option<String>,
    /// The tool's own name.
    pub name: String,
    /// A free-form tool (Responses `custom`): the upstream sees a function
    /// taking one string, `input`; calls go back as `custom_tool_call`.
    pub custom: bool,
}

/// Client tools renamed or reshaped for an upstream without namespaces or
/// free-form tools.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolAliases {
    entries: Vec<ToolAlias>,
}

impl ToolAliases {
    /// No alias.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The alias of the flat name `flat`.
    pub fn get(&self, flat: &str) -> Option<&ToolAlias> {
        self.entries.iter().find(|a| a.flat == flat)
    }

    /// The flat name of tool `name` (in `namespace`, if any), added when
    /// new: the namespace and name joined by `__`, cut to the 64
    /// characters the vendors allow (characters outside `[A-Za-z0-9_-]`
    /// become `_`), with `_2`, `_3`… appended while `taken` says a plain
    /// tool has the name or another alias holds it. `custom` marks a
    /// free-form tool.
    pub fn flatten(
        &mut self,
        namespace: Option<&str>,
        name: &str,
        custom: bool,
        taken: impl Fn(&str) -> bool,
    ) -> String {
        if let Some(a) = self
            .entries
            .iter_mut()
            .find(|a| a.namespace.as_deref() == namespace && a.name == name)
        {
            a.custom |= custom;
            return a.flat.clone();
        }
        let joined = match namespace {
            Some(ns) => format!("{ns}__{name}"),
            None => name.to_owned(),
        };
        let base: String = joined
            .chars()
            .map(|c| match c {
                'a'..='z' | 'A'..='Z' | '0'..='9' | '_' | '-' => c,
                _ => '_',
            })
            .take(MAX_TOOL_NAME)
            .collect();
        let mut flat = base.clone();
        let mut n = 1u32;
        while taken(&flat) || self.get(&flat).is_some() {
            n += 1;
            let suffix = format!("_{n}");
            let keep = MAX_TOOL_NAME.saturating_sub(suffix.len()).min(base.len());
            flat = format!("{}{suffix}", &base[..keep]);
        }
        self.entries.push(ToolAlias {
            flat: flat.clone(),
            namespace: namespace.map(str::to_owned),
            name: name.to_owned(),
            custom,
        });
        flat
    }
}

/// Who spoke a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The user (and tool results).
    User,
    /// The model.
    Assistant,
    /// A system or developer instruction inside the conversation (text
    /// parts only).
    System,
}

/// One turn of the conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Who spoke.
    pub role: Role,
    /// What was said, in order.
    pub content: Vec<Part>,
}

/// One typed piece of a message.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// Plain text.
    Text {
        /// The text.
        text: String,
    },
    /// An image.
    Image {
        /// Where the image comes from.
        source: ImageSource,
    },
    /// A call the model made to a tool.
    ToolCall {
        /// The call id, unique within the conversation. Protocols without
        /// ids (Gemini without `id`) get a generated, stable one.
        id: String,
        /// The tool name.
        name: String,
        /// The arguments as JSON text (an object; `"{}"` when empty).
        arguments: String,
    },
    /// The result of a tool call, sent back by the client.
    ToolResult {
        /// The id of the call this answers.
        call_id: String,
        /// The tool name when the protocol carries it (Gemini needs it; the
        /// Gemini encoder looks it up from the matching call otherwise).
        name: Option<String>,
        /// The result: text and images.
        content: Vec<Part>,
        /// The tool failed (Anthropic `is_error`).
        is_error: bool,
    },
    /// Model reasoning.
    Reasoning {
        /// The visible reasoning text (may be empty, e.g. a Gemini signature
        /// with no thought text, or an OpenAI item with only a summary id).
        text: String,
        /// Opaque signature to hand back to the upstream on the next turn.
        signature: Option<String>,
        /// Opaque redacted/encrypted reasoning with no visible text
        /// (Anthropic `redacted_thinking.data`).
        redacted: Option<String>,
    },
}

impl Request {
    /// The system instruction for a protocol that has no system messages:
    /// [`Request::system`] followed by the text of every [`Role::System`]
    /// message, in conversation order.
    pub fn hoisted_system(&self) -> Vec<String> {
        let mut system = self.system.clone();
        for msg in self.messages.iter().filter(|m| m.role == Role::System) {
            system.push(msg.text());
        }
        system
    }

    /// The conversation without its [`Role::System`] messages (for a
    /// protocol that takes them in [`Request::hoisted_system`]).
    pub fn turns(&self) -> impl Iterator<Item = &Message> {
        self.messages.iter().filter(|m| m.role != Role::System)
    }
}

impl Message {
    /// The message's text parts joined by `\n` (what a system message says).
    pub fn text(&self) -> String {
        texts(&self.content).collect::<Vec<_>>().join("\n")
    }
}

/// The text of every [`Part::Text`] in `parts`, in order.
pub fn texts(parts: &[Part]) -> impl Iterator<Item = &str> {
    parts.iter().filter_map(|p| match p {
        Part::Text { text } => Some(text.as_str()),
        _ => None,
    })
}

impl Part {
    /// A text part.
    pub fn text(text: impl Into<String>) -> Self {
        Part::Text { text: text.into() }
    }
}

/// Where an image's bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// Inline bytes, base64 encoded.
    Base64 {
        /// MIME type, e.g. `image/png`.
        media_type: String,
        /// Base64 data (no `data:` prefix).
        data: String,
    },
    /// A URL the upstream fetches (`http(s)://`, `gs://`). `data:` URLs are
    /// decoded to [`ImageSource::Base64`] by the decoders.
    Url {
        /// The URL.
        url: String,
    },
}

/// A function tool.
#[derive(Debug, Clone, PartialEq)]
pub struct Tool {
    /// The function name.
    pub name: String,
    /// What it does.
    pub description: Option<String>,
    /// JSON Schema of the arguments (an object schema; `{"type":"object"}`
    /// when the client gave none).
    pub parameters: Value,
    /// OpenAI strict mode.
    pub strict: Option<bool>,
}

/// How the model must use tools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolChoice {
    /// The model decides.
    Auto,
    /// No tool calls.
    None,
    /// At least one tool call.
    Required,
    /// This tool must be called.
    Named(String),
}

/// Structured output.
#[derive(Debug, Clone, PartialEq)]
pub enum ResponseFormat {
    /// Plain text (the default; kept so a round trip is exact).
    Text,
    /// Any JSON object.
    JsonObject,
    /// JSON matching a schema.
    JsonSchema {
        /// The schema's name (OpenAI requires one; `"response"` when absent).
        name: String,
        /// The JSON Schema.
        schema: Value,
        /// OpenAI strict mode.
        strict: Option<bool>,
    },
}

/// Reasoning settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReasoningConfig {
    /// Effort level as OpenAI names it (`minimal`, `low`, `medium`, `high`).
    pub effort: Option<String>,
    /// A thinking budget in tokens (Anthropic `budget_tokens`, Gemini
    /// `thinkingBudget`; `0` turns thinking off where allowed).
    pub budget_tokens: Option<u64>,
    /// Whether the client wants to see the reasoning (Gemini
    /// `includeThoughts`; Anthropic thinking is always visible when enabled).
    pub include_thoughts: Option<bool>,
}

/// Thinking budget used for an OpenAI effort level when the target wants
/// tokens: `minimal` 512, `low` 1024, `medium` 8192, `high` 24576.
pub fn effort_to_budget(effort: &str) -> Option<u64> {
    match effort {
        "minimal" => Some(512),
        "low" => Some(1024),
        "medium" => Some(8192),
        "high" => Some(24576),
        _ => None,
    }
}

/// Effort level for a thinking budget when the target wants a level: the
/// inverse of [`effort_to_budget`] by ranges (`0` means no reasoning, which
/// OpenAI calls `minimal`).
pub fn budget_to_effort(budget: u64) -> &'static str {
    match budget {
        0..=512 => "minimal",
        513..=2048 => "low",
        2049..=16384 => "medium",
        _ => "high",
    }
}

/// A complete (non-stream) generation response.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Response {
    /// The upstream's response id (`chatcmpl-…`, `msg_…`, `resp_…`, Gemini
    /// `responseId`); encoders generate one when empty.
    pub id: String,
    /// The model that answered (as the client should see it; the caller
    /// rewrites it before encoding).
    pub model: String,
    /// Creation time, Unix seconds (generated by encoders that need it when `None`).
    pub created: Option<i64>,
    /// The assistant's output, in order.
    pub content: Vec<Part>,
    /// Why generation stopped.
    pub finish: Option<FinishReason>,
    /// The stop sequence that ended generation, when the upstream says.
    pub stop_sequence: Option<String>,
    /// Token usage.
    pub usage: Option<Usage>,
}

/// Why generation stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinishReason {
    /// Natural end or a stop sequence (OpenAI `stop`, Anthropic `end_turn` /
    /// `stop_sequence`, Gemini `STOP`).
    Stop,
    /// The token limit (OpenAI `length`, Anthropic `max_tokens`, Gemini
    /// `MAX_TOKENS`, Responses `incomplete` with `max_output_tokens`).
    Length,
    /// The model called tools (OpenAI `tool_calls`, Anthropic `tool_use`;
    /// Gemini says `STOP` with function calls).
    ToolCalls,
    /// Output was filtered (OpenAI `content_filter`, Anthropic `refusal`,
    /// Gemini `SAFETY`, `RECITATION`, `BLOCKLIST`, …).
    ContentFilter,
    /// Anything else, as the upstream named it.
    Other(String),
}

/// Token usage, normalised (see the module docs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Every prompt token, cached ones included.
    pub input_tokens: u64,
    /// Every generated token, reasoning included.
    pub output_tokens: u64,
    /// Prompt tokens read from cache.
    pub cache_read_tokens: u64,
    /// Prompt tokens written to cache.
    pub cache_write_tokens: u64,
    /// Generated reasoning tokens.
    pub reasoning_tokens: u64,
}

/// One step of a generation stream, in upstream order.
///
/// Content blocks are implicit: a block ends when an event of another kind
/// arrives, when a [`StreamEvent::ToolCallStart`] opens the next call, or
/// (for reasoning) after its [`StreamEvent::ReasoningSignature`]. Encoders
/// open and close their protocol's blocks from these transitions.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// The response began. Always the first event a decoder emits.
    Start {
        /// The response id (generated by the decoder when the upstream has none).
        id: String,
        /// The model that answers.
        model: String,
        /// Creation time, Unix seconds.
        created: Option<i64>,
    },
    /// Visible text.
    Text(String),
    /// Reasoning text.
    Reasoning(String),
    /// The signature that closes the current reasoning block (one arriving
    /// with no reasoning open stands for a reasoning block with no text).
    ReasoningSignature(String),
    /// A whole redacted reasoning block.
    RedactedReasoning(String),
    /// A tool call began.
    ToolCallStart {
        /// Counts tool calls within this response from 0.
        index: u32,
        /// The call id.
        id: String,
        /// The tool name.
        name: String,
    },
    /// A piece of a tool call's JSON arguments.
    ToolCallArguments {
        /// The call, by its [`StreamEvent::ToolCallStart::index`].
        index: u32,
        /// The next piece of JSON text.
        delta: String,
    },
    /// Usage so far. Cumulative: a later one replaces an earlier one.
    Usage(Usage),
    /// Generation stopped. Usage may still follow (OpenAI sends it in a
    /// later chunk); encoders whose protocol reports both together hold
    /// this until [`super::StreamEncoder::finish`].
    Finish {
        /// Why.
        reason: FinishReason,
        /// The stop sequence that matched, if known.
        stop_sequence: Option<String>,
    },
    /// The upstream reported an error inside the stream.
    Error {
        /// Its message.
        message: String,
    },
}
