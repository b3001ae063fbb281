//! Chat Completions request body ↔ canonical [`Request`].

use serde_json::{Map, Value, json};

use super::wire::{
    ChatChoiceName, ChatContent, ChatFunctionCall, ChatFunctionDef, ChatImageUrl, ChatJsonSchema,
    ChatMessage, ChatNamedChoice, ChatPart, ChatRequest, ChatResponseFormat, ChatStop, ChatTool,
    ChatToolCall, ChatToolChoice,
};
use crate::convert::common::image_url;
use crate::convert::model::budget_to_effort;
use crate::convert::{
    ConvertError, ImageSource, Message, Part, ReasoningConfig, Request, ResponseFormat, Role, Tool,
    ToolChoice,
};

pub(in crate::convert) fn decode_request(body: &[u8]) -> Result<Request, ConvertError> {
    let wire: ChatRequest = serde_json::from_slice(body)
        .map_err(|e| ConvertError::json("chat completions request", &e))?;
    if wire.n.is_some_and(|n| n > 1) {
        return Err(ConvertError::Unsupported(
            "`n` greater than 1 (several choices) cannot be converted".into(),
        ));
    }
    let mut req = Request {
        model: wire.model,
        parallel_tool_calls: wire.parallel_tool_calls,
        max_tokens: wire.max_completion_tokens.or(wire.max_tokens),
        temperature: wire.temperature,
        top_p: wire.top_p,
        presence_penalty: wire.presence_penalty,
        frequency_penalty: wire.frequency_penalty,
        seed: wire.seed,
        stream: wire.stream.unwrap_or(false),
        user: wire.user,
        ..Request::default()
    };
    decode_messages(wire.messages, &mut req)?;
    for tool in wire.tools.unwrap_or_default() {
        req.tools.push(decode_tool(tool)?);
    }
    for f in wire.functions.unwrap_or_default() {
        req.tools.push(decode_function(f));
    }
    req.tool_choice = match wire.tool_choice.or(wire.function_call) {
        Some(c) => Some(decode_tool_choice(c)?),
        None => None,
    };
    req.stop = match wire.stop {
        Some(ChatStop::One(s)) => vec![s],
        Some(ChatStop::Many(v)) => v,
        None => Vec::new(),
    };
    req.response_format = match wire.response_format {
        Some(f) => Some(decode_format(f)?),
        None => None,
    };
    req.reasoning = wire.reasoning_effort.map(|effort| ReasoningConfig {
        effort: Some(effort),
        ..ReasoningConfig::default()
    });
    Ok(req)
}

/// Walks `messages`: system/developer text goes to `req.system`; runs of
/// `tool` messages become one user message of tool results, and a user
/// message right after such a run is merged into it (its parts after the
/// results), which is how the other protocols hold "results + follow-up".
fn decode_messages(messages: Vec<ChatMessage>, req: &mut Request) -> Result<(), ConvertError> {
    // The last canonical message is a user message of tool results that a
    // following tool or user message joins.
    let mut results_open = false;
    // Legacy `function_call`s: (name, generated id), to answer `function` messages.
    let mut legacy_calls: Vec<(String, String)> = Vec::new();
    for msg in messages {
        let mut keep_open = false;
        match msg {
            ChatMessage::System { content } | ChatMessage::Developer { content } => {
                let text = text_only(content, "system message")?;
                if req.messages.is_empty() || results_open {
                    // Before the conversation, or inside a tool-result run
                    // (which it must not break): the system instruction.
                    req.system.push(text);
                } else {
                    req.messages.push(Message {
                        role: Role::System,
                        content: vec![Part::text(text)],
                    });
                }
                keep_open = results_open;
            }
            ChatMessage::User { content } => {
                let parts = decode_user_content(content)?;
                match req.messages.last_mut() {
                    Some(last) if results_open => last.content.extend(parts),
                    _ => req.messages.push(Message {
                        role: Role::User,
                        content: parts,
                    }),
                }
            }
            ChatMessage::Assistant {
                content,
                refusal,
                tool_calls,
                reasoning_content,
                reasoning,
                function_call,
            } => {
                let mut parts = Vec::new();
                if let Some(text) = reasoning_content.or(reasoning).filter(|t| !t.is_empty()) {
                    parts.push(Part::Reasoning {
                        text,
                        signature: None,
                        redacted: None,
                    });
                }
                let has_calls =
                    tool_calls.as_ref().is_some_and(|c| !c.is_empty()) || function_call.is_some();
                match content {
                    Some(ChatContent::Text(t)) if t.is_empty() && has_calls => {}
                    Some(ChatContent::Text(t)) => parts.push(Part::Text { text: t }),
                    Some(ChatContent::Parts(ps)) => {
                        for p in ps {
                            parts.push(decode_assistant_part(p)?);
                        }
                    }
                    None => {}
                }
                if let Some(r) = refusal.filter(|r| !r.is_empty()) {
                    parts.push(Part::Text { text: r });
                }
                for call in tool_calls.unwrap_or_default() {
                    parts.push(decode_tool_call(call)?);
                }
                if let Some(f) = function_call {
                    let id = format!("call_legacy_{}", legacy_calls.len());
                    legacy_calls.push((f.name.clone(), id.clone()));
                    parts.push(Part::ToolCall {
                        id,
                        name: f.name,
                        arguments: non_empty_args(f.arguments),
                    });
                }
                req.messages.push(Message {
                    role: Role::Assistant,
                    content: parts,
                });
            }
            ChatMessage::Tool {
                tool_call_id,
                content,
            } => {
                let result = Part::ToolResult {
                    call_id: tool_call_id,
                    name: None,
                    content: decode_tool_content(content)?,
                    is_error: false,
                };
                push_result(req, results_open, result);
                keep_open = true;
            }
            ChatMessage::Function { name, content } => {
                let call_id = legacy_calls
                    .iter()
                    .rev()
                    .find(|(n, _)| *n == name)
                    .map(|(_, id)| id.clone())
                    .ok_or_else(|| {
                        ConvertError::Invalid(format!(
                            "`function` message for `{name}` answers no earlier function_call"
                        ))
                    })?;
                let result = Part::ToolResult {
                    call_id,
                    name: Some(name),
                    content: vec![Part::text(content.unwrap_or_default())],
                    is_error: false,
                };
                push_result(req, results_open, result);
                keep_open = true;
            }
        }
        results_open = keep_open;
    }
    Ok(())
}

fn push_result(req: &mut Request, results_open: bool, result: Part) {
    match req.messages.last_mut() {
        Some(last) if results_open => last.content.push(result),
        _ => req.messages.push(Message {
            role: Role::User,
            content: vec![result],
        }),
    }
}

/// The text of a system/developer message (text parts joined by `\n`).
fn text_only(content: ChatContent, what: &str) -> Result<String, ConvertError> {
    match content {
        ChatContent::Text(t) => Ok(t),
        ChatContent::Parts(parts) => {
            let mut texts = Vec::with_capacity(parts.len());
            for p in parts {
                match (p.kind.as_str(), p.text) {
                    ("text", Some(t)) => texts.push(t),
                    ("text", None) => return Err(missing("text", "text part")),
                    (other, _) => {
                        return Err(ConvertError::Unsupported(format!(
                            "content part type `{other}` in a {what} cannot be converted"
                        )));
                    }
                }
            }
            Ok(texts.join("\n"))
        }
    }
}

fn missing(field: &str, what: &str) -> ConvertError {
    ConvertError::Invalid(format!("{what} without `{field}`"))
}

fn decode_user_content(content: ChatContent) -> Result<Vec<Part>, ConvertError> {
    match content {
        ChatContent::Text(t) => Ok(vec![Part::Text { text: t }]),
        ChatContent::Parts(parts) => parts.into_iter().map(decode_user_part).collect(),
    }
}

fn decode_user_part(p: ChatPart) -> Result<Part, ConvertError> {
    match p.kind.as_str() {
        "text" => p
            .text
            .map(|text| Part::Text { text })
            .ok_or_else(|| missing("text", "text part")),
        "image_url" => {
            let img = p
                .image_url
                .ok_or_else(|| missing("image_url", "image_url part"))?;
            Ok(Part::Image {
                source: decode_image_url(img.url)?,
            })
        }
        other => Err(ConvertError::Unsupported(format!(
            "content part type `{other}` cannot be converted"
        ))),
    }
}

fn decode_assistant_part(p: ChatPart) -> Result<Part, ConvertError> {
    match p.kind.as_str() {
        "text" => p
            .text
            .map(|text| Part::Text { text })
            .ok_or_else(|| missing("text", "text part")),
        "refusal" => p
            .refusal
            .map(|text| Part::Text { text })
            .ok_or_else(|| missing("refusal", "refusal part")),
        other => Err(ConvertError::Unsupported(format!(
            "assistant content part type `{other}` cannot be converted"
        ))),
    }
}

fn decode_tool_content(content: ChatContent) -> Result<Vec<Part>, ConvertError> {
    match content {
        ChatContent::Text(t) => Ok(vec![Part::Text { text: t }]),
        ChatContent::Parts(parts) => parts.into_iter().map(decode_user_part).collect(),
    }
}

/// `data:<mime>;base64,<data>` → inline bytes; anything else is a URL.
pub(super) fn decode_image_url(url: String) -> Result<ImageSource, ConvertError> {
    let Some(rest) = url.strip_prefix("data:") else {
        return Ok(ImageSource::Url { url });
    };
    let (meta, data) = rest
        .split_once(',')
        .ok_or_else(|| ConvertError::Invalid("image data URL without `,`".into()))?;
    let media_type = meta.strip_suffix(";base64").ok_or_else(|| {
        ConvertError::Unsupported("image data URLs that are not base64 cannot be converted".into())
    })?;
    Ok(ImageSource::Base64 {
        media_type: media_type.to_string(),
        data: data.to_string(),
    })
}

/// A `function` tool call (of a request's history or a response).
pub(super) fn decode_tool_call(call: ChatToolCall) -> Result<Part, ConvertError> {
    if call.kind != "function" {
        return Err(ConvertError::Unsupported(format!(
            "tool call type `{}` cannot be converted",
            call.kind
        )));
    }
    let f = call
        .function
        .ok_or_else(|| missing("function", "function tool call"))?;
    Ok(Part::ToolCall {
        id: call.id,
        name: f.name,
        arguments: non_empty_args(f.arguments),
    })
}

/// Empty arguments as `{}`.
pub(super) fn non_empty_args(arguments: String) -> String {
    if arguments.trim().is_empty() {
        "{}".into()
    } else {
        arguments
    }
}

fn decode_tool(tool: ChatTool) -> Result<Tool, ConvertError> {
    match (tool.kind.as_str(), tool.function) {
        ("function", Some(f)) => Ok(decode_function(f)),
        ("function", None) => Err(missing("function", "function tool")),
        (other, _) => Err(ConvertError::Unsupported(format!(
            "tool type `{other}` cannot be converted"
        ))),
    }
}

fn decode_function(f: ChatFunctionDef) -> Tool {
    Tool {
        name: f.name,
        description: f.description,
        parameters: f.parameters.unwrap_or_else(|| json!({"type": "object"})),
        strict: f.strict,
    }
}

fn decode_tool_choice(c: ChatToolChoice) -> Result<ToolChoice, ConvertError> {
    match c {
        ChatToolChoice::Mode(m) => match m.as_str() {
            "auto" => Ok(ToolChoice::Auto),
            "none" => Ok(ToolChoice::None),
            "required" => Ok(ToolChoice::Required),
            other => Err(ConvertError::Invalid(format!(
                "unknown tool_choice `{other}`"
            ))),
        },
        ChatToolChoice::Object(o) => match (o.kind.as_deref(), o.function, o.name) {
            (Some("function") | None, Some(f), _) => Ok(ToolChoice::Named(f.name)),
            // Legacy `function_call: {"name": ..}`.
            (None, None, Some(name)) => Ok(ToolChoice::Named(name)),
            (Some(other), ..) if other != "function" => Err(ConvertError::Unsupported(format!(
                "tool_choice type `{other}` cannot be converted"
            ))),
            _ => Err(missing("function", "tool_choice")),
        },
    }
}

fn decode_format(f: ChatResponseFormat) -> Result<ResponseFormat, ConvertError> {
    match f.kind.as_str() {
        "text" => Ok(ResponseFormat::Text),
        "json_object" => Ok(ResponseFormat::JsonObject),
        "json_schema" => {
            let s = f
                .json_schema
                .ok_or_else(|| missing("json_schema", "json_schema response_format"))?;
            Ok(ResponseFormat::JsonSchema {
                name: s.name.unwrap_or_else(|| "response".into()),
                schema: s.schema.unwrap_or_else(|| Value::Object(Map::new())),
                strict: s.strict,
            })
        }
        other => Err(ConvertError::Unsupported(format!(
            "response_format type `{other}` cannot be converted"
        ))),
    }
}

/// Writes the request. Choices made for compatibility with the many
/// Chat-compatible upstreams: the token limit goes in `max_tokens` (DeepSeek,
/// Groq, Ollama, Mistral know no `max_completion_tokens`), instructions are
/// `system` messages, reasoning parts and signatures are not sent back, and
/// `stream_options` is left to the engine.
pub(in crate::convert) fn encode_request(req: &Request) -> Result<Vec<u8>, ConvertError> {
    let mut messages = Vec::with_capacity(req.messages.len() + req.system.len());
    for s in &req.system {
        messages.push(ChatMessage::System {
            content: ChatContent::Text(s.clone()),
        });
    }
    for msg in &req.messages {
        match msg.role {
            Role::User => encode_user(msg, &mut messages)?,
            Role::Assistant => messages.push(encode_assistant(msg)?),
            Role::System => messages.push(ChatMessage::System {
                content: ChatContent::Text(msg.text()),
            }),
        }
    }
    let wire = ChatRequest {
        model: req.model.clone(),
        messages,
        tools: (!req.tools.is_empty()).then(|| req.tools.iter().map(encode_tool).collect()),
        tool_choice: req.tool_choice.as_ref().map(encode_tool_choice),
        parallel_tool_calls: req.parallel_tool_calls,
        max_tokens: req.max_tokens,
        temperature: req.temperature,
        top_p: req.top_p,
        presence_penalty: req.presence_penalty,
        frequency_penalty: req.frequency_penalty,
        seed: req.seed,
        stop: (!req.stop.is_empty()).then(|| ChatStop::Many(req.stop.clone())),
        response_format: req.response_format.as_ref().map(encode_format),
        reasoning_effort: req.reasoning.as_ref().and_then(|r| {
            r.effort
                .clone()
                .or_else(|| r.budget_tokens.map(|b| budget_to_effort(b).to_string()))
        }),
        stream: req.stream.then_some(true),
        user: req.user.clone(),
        ..ChatRequest::default()
    };
    serde_json::to_vec(&wire).map_err(|e| ConvertError::json("chat completions request", &e))
}

/// One `tool` message per result, then a `user` message with the rest.
fn encode_user(msg: &Message, out: &mut Vec<ChatMessage>) -> Result<(), ConvertError> {
    let mut rest = Vec::new();
    for part in &msg.content {
        match part {
            Part::ToolResult {
                call_id, content, ..
            } => out.push(ChatMessage::Tool {
                tool_call_id: call_id.clone(),
                content: encode_tool_content(content)?,
            }),
            Part::Text { text } => rest.push(text_part(text.clone())),
            Part::Image { source } => rest.push(ChatPart {
                kind: "image_url".into(),
                text: None,
                image_url: Some(ChatImageUrl {
                    url: image_url(source),
                    detail: None,
                }),
                refusal: None,
                extra: Map::new(),
            }),
            // Reasoning belongs to the model's turns; nothing to send.
            Part::Reasoning { .. } => {}
            Part::ToolCall { name, .. } => {
                return Err(ConvertError::Unsupported(format!(
                    "a tool call (`{name}`) in a user message cannot be converted"
                )));
            }
        }
    }
    if rest.is_empty()
        && msg
            .content
            .iter()
            .any(|p| matches!(p, Part::ToolResult { .. }))
    {
        return Ok(());
    }
    let content = match rest.as_slice() {
        [
            ChatPart {
                kind,
                text: Some(t),
                ..
            },
        ] if kind == "text" => ChatContent::Text(t.clone()),
        [] => ChatContent::Text(String::new()),
        _ => ChatContent::Parts(rest),
    };
    out.push(ChatMessage::User { content });
    Ok(())
}

fn text_part(text: String) -> ChatPart {
    ChatPart {
        kind: "text".into(),
        text: Some(text),
        image_url: None,
        refusal: None,
        extra: Map::new(),
    }
}

/// A tool message's content: one text as a string, several as text parts.
fn encode_tool_content(content: &[Part]) -> Result<ChatContent, ConvertError> {
    let mut texts = Vec::with_capacity(content.len());
    for part in content {
        match part {
            Part::Text { text } => texts.push(text.clone()),
            Part::Image { .. } => {
                return Err(ConvertError::Unsupported(
                    "images in tool results cannot be sent in OpenAI Chat `tool` messages".into(),
                ));
            }
            _ => {
                return Err(ConvertError::Unsupported(
                    "tool results holding tool calls, results or reasoning cannot be converted"
                        .into(),
                ));
            }
        }
    }
    Ok(match texts.len() {
        0 => ChatContent::Text(String::new()),
        1 => ChatContent::Text(texts.concat()),
        _ => ChatContent::Parts(texts.into_iter().map(text_part).collect()),
    })
}

fn encode_assistant(msg: &Message) -> Result<ChatMessage, ConvertError> {
    let mut texts: Vec<&str> = Vec::new();
    let mut calls = Vec::new();
    for part in &msg.content {
        match part {
            Part::Text { text } => texts.push(text),
            Part::ToolCall {
                id,
                name,
                arguments,
            } => calls.push(encode_tool_call(id.clone(), name, arguments)),
            // Chat requests have no place for reasoning or its signatures.
            Part::Reasoning { .. } => {}
            Part::Image { .. } => {
                return Err(ConvertError::Unsupported(
                    "images in assistant messages cannot be converted to OpenAI Chat".into(),
                ));
            }
            Part::ToolResult { .. } => {
                return Err(ConvertError::Unsupported(
                    "a tool result in an assistant message cannot be converted".into(),
                ));
            }
        }
    }
    let content = if texts.is_empty() && !calls.is_empty() {
        None
    } else {
        Some(ChatContent::Text(texts.join("\n\n")))
    };
    Ok(ChatMessage::Assistant {
        content,
        refusal: None,
        tool_calls: (!calls.is_empty()).then_some(calls),
        reasoning_content: None,
        reasoning: None,
        function_call: None,
    })
}

/// A canonical tool call as a `function` tool call (of a request's history
/// or a response).
pub(super) fn encode_tool_call(id: String, name: &str, arguments: &str) -> ChatToolCall {
    ChatToolCall {
        id,
        kind: "function".into(),
        function: Some(ChatFunctionCall {
            name: name.to_owned(),
            arguments: arguments.to_owned(),
        }),
    }
}

fn encode_tool(tool: &Tool) -> ChatTool {
    ChatTool {
        kind: "function".into(),
        function: Some(ChatFunctionDef {
            name: tool.name.clone(),
            description: tool.description.clone(),
            parameters: Some(tool.parameters.clone()),
            strict: tool.strict,
        }),
    }
}

fn encode_tool_choice(c: &ToolChoice) -> ChatToolChoice {
    match c {
        ToolChoice::Auto => ChatToolChoice::Mode("auto".into()),
        ToolChoice::None => ChatToolChoice::Mode("none".into()),
        ToolChoice::Required => ChatToolChoice::Mode("required".into()),
        ToolChoice::Named(name) => ChatToolChoice::Object(ChatNamedChoice {
            kind: Some("function".into()),
            function: Some(ChatChoiceName { name: name.clone() }),
            name: None,
        }),
    }
}

fn encode_format(f: &ResponseFormat) -> ChatResponseFormat {
    match f {
        ResponseFormat::Text => ChatResponseFormat {
            kind: "text".into(),
            json_schema: None,
        },
        ResponseFormat::JsonObject => ChatResponseFormat {
            kind: "json_object".into(),
            json_schema: None,
        },
        ResponseFormat::JsonSchema {
            name,
            schema,
            strict,
        } => ChatResponseFormat {
            kind: "json_schema".into(),
            json_schema: Some(ChatJsonSchema {
                name: Some(name.clone()),
                schema: Some(schema.clone()),
                strict: *strict,
            }),
        },
    }
}
