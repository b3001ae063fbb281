//! Decoding requests: `input` items and settings → the canonical [`Request`].

use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::super::{
    ConvertError, ImageSource, Message, Part, ReasoningConfig, Request, ResponseFormat, Role, Tool,
    ToolChoice,
};
use super::wire::{
    WireCustomTool, WireFunctionTool, WireInput, WireInputItem, WireInputPart, WireMessageContent,
    WireNamespaceTool, WireRequest, WireSummaryPart, WireTextFormat,
};

/// Fields whose state lives on OpenAI's servers and cannot follow a request
/// to another provider.
const STATEFUL: [&str; 3] = ["previous_response_id", "conversation", "prompt"];

pub(crate) fn decode_request(body: &[u8]) -> Result<Request, ConvertError> {
    let wire: WireRequest =
        serde_json::from_slice(body).map_err(|e| ConvertError::json("Responses request", &e))?;
    for field in STATEFUL {
        if wire.extra.get(field).is_some_and(|v| !v.is_null()) {
            return Err(ConvertError::Unsupported(format!(
                "`{field}` refers to state stored by OpenAI and cannot be converted; \
                 send the full conversation in `input` instead"
            )));
        }
    }
    let mut req = Request {
        model: wire.model,
        max_tokens: wire.max_output_tokens,
        temperature: wire.temperature,
        top_p: wire.top_p,
        parallel_tool_calls: wire.parallel_tool_calls,
        stream: wire.stream.unwrap_or(false),
        // `user` is deprecated in favour of `safety_identifier`.
        user: wire.user.or_else(|| {
            wire.extra
                .get("safety_identifier")
                .and_then(Value::as_str)
                .map(str::to_owned)
        }),
        ..Request::default()
    };
    // Not part of the OpenAI API, but some compatible servers accept it.
    match wire.extra.get("stop") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => req.stop.push(s.clone()),
        Some(Value::Array(items)) => {
            for item in items {
                match item {
                    Value::String(s) => req.stop.push(s.clone()),
                    _ => {
                        return Err(ConvertError::Invalid(
                            "invalid Responses request: `stop` must hold strings".into(),
                        ));
                    }
                }
            }
        }
        Some(_) => {
            return Err(ConvertError::Invalid(
                "invalid Responses request: `stop` must be a string or an array".into(),
            ));
        }
    }
    if let Some(instructions) = wire.instructions {
        req.system.push(instructions);
    }
    // Tools first: calls of namespaced tools in `input` use their flat names.
    decode_tools(wire.tools.unwrap_or_default(), &mut req)?;
    match wire.input {
        None => {}
        Some(WireInput::Text(text)) => req.messages.push(Message {
            role: Role::User,
            content: vec![Part::Text { text }],
        }),
        Some(WireInput::Items(items)) => {
            for item in items {
                decode_item(item, &mut req)?;
            }
        }
    }
    req.tool_choice = wire.tool_choice.map(decode_tool_choice).transpose()?;
    req.reasoning = wire.reasoning.map(|r| ReasoningConfig {
        effort: r.effort,
        budget_tokens: None,
        include_thoughts: r.summary.map(|s| s != "none"),
    });
    req.response_format = match wire.text.and_then(|t| t.format) {
        None => None,
        Some(WireTextFormat::Text) => Some(ResponseFormat::Text),
        Some(WireTextFormat::JsonObject) => Some(ResponseFormat::JsonObject),
        Some(WireTextFormat::JsonSchema {
            name,
            schema,
            strict,
        }) => Some(ResponseFormat::JsonSchema {
            name: name.unwrap_or_else(|| "response".into()),
            schema,
            strict,
        }),
        Some(WireTextFormat::Unknown) => {
            return Err(ConvertError::Unsupported(
                "this `text.format` type cannot be converted".into(),
            ));
        }
    };
    Ok(req)
}

/// The `type` of a tagged JSON object, for error messages.
fn type_name(v: &Value) -> &str {
    v.get("type").and_then(Value::as_str).unwrap_or("(none)")
}

/// Parses a tagged JSON object, rejecting unknown tags by name.
fn parse_tagged<T: DeserializeOwned>(v: Value, what: &str) -> Result<T, ConvertError> {
    serde_json::from_value(v).map_err(|e| ConvertError::json(what, &e))
}

/// Appends a tool call to the assistant turn.
fn push_call(req: &mut Request, id: String, name: String, arguments: String) {
    let call = Part::ToolCall {
        id,
        name,
        arguments,
    };
    push_parts(req, Role::Assistant, vec![call]);
}

/// Appends parts to the last message when it has `role`, else starts one.
fn push_parts(req: &mut Request, role: Role, parts: Vec<Part>) {
    match req.messages.last_mut() {
        Some(m) if m.role == role => m.content.extend(parts),
        _ => req.messages.push(Message {
            role,
            content: parts,
        }),
    }
}

fn decode_item(mut item: Value, req: &mut Request) -> Result<(), ConvertError> {
    let Some(obj) = item.as_object_mut() else {
        return Err(ConvertError::Invalid(
            "invalid Responses request: an input item is not an object".into(),
        ));
    };
    if !obj.contains_key("type") && obj.contains_key("role") {
        obj.insert("type".into(), Value::String("message".into()));
    }
    let kind = type_name(&item).to_owned();
    match parse_tagged::<WireInputItem>(item, "Responses input item")? {
        WireInputItem::Message { role, content } => match role.as_str() {
            "system" | "developer" => {
                let text = system_text(content)?;
                // Before the conversation: the instructions; later: in place.
                if req.messages.is_empty() {
                    req.system.push(text);
                } else {
                    req.messages.push(Message {
                        role: Role::System,
                        content: vec![Part::text(text)],
                    });
                }
            }
            // Each user message item is a turn of its own.
            "user" => req.messages.push(Message {
                role: Role::User,
                content: decode_content(content, true)?,
            }),
            "assistant" => {
                let parts = decode_content(content, false)?;
                push_parts(req, Role::Assistant, parts);
            }
            other => {
                return Err(ConvertError::Invalid(format!(
                    "invalid Responses request: unknown message role `{other}`"
                )));
            }
        },
        WireInputItem::FunctionCall {
            call_id,
            name,
            namespace,
            arguments,
            ..
        } => {
            let name = match namespace {
                Some(ns) => flat_name(req, Some(&ns), &name, false),
                None => name,
            };
            push_call(req, call_id, name, arguments);
        }
        WireInputItem::AdditionalTools { tools } => decode_tools(tools, req)?,
        WireInputItem::CustomToolCall {
            call_id,
            name,
            namespace,
            input,
        } => {
            let name = flat_name(req, namespace.as_deref(), &name, true);
            push_call(req, call_id, name, json!({ "input": input }).to_string());
        }
        WireInputItem::FunctionCallOutput { call_id, output }
        | WireInputItem::CustomToolCallOutput { call_id, output } => {
            let content = match output {
                WireMessageContent::Text(t) if t.is_empty() => Vec::new(),
                other => decode_content(other, true)?,
            };
            let part = Part::ToolResult {
                call_id,
                name: None,
                content,
                is_error: false,
            };
            match req.messages.last_mut() {
                Some(m)
                    if m.role == Role::User
                        && m.content
                            .iter()
                            .all(|p| matches!(p, Part::ToolResult { .. })) =>
                {
                    m.content.push(part);
                }
                _ => req.messages.push(Message {
                    role: Role::User,
                    content: vec![part],
                }),
            }
        }
        WireInputItem::Reasoning {
            summary,
            content,
            encrypted_content,
            ..
        } => push_parts(
            req,
            Role::Assistant,
            vec![Part::Reasoning {
                text: reasoning_text(&summary, content.as_deref()),
                signature: encrypted_content,
                redacted: None,
            }],
        ),
        WireInputItem::Unknown => {
            return Err(ConvertError::Unsupported(format!(
                "input item type `{kind}` cannot be converted"
            )));
        }
    }
    Ok(())
}

/// A reasoning item's text: its summary parts joined the way the stream
/// decoder joins them, or, when there is no summary, its raw reasoning
/// text (`content`, from open-weight models served through Responses).
pub(super) fn reasoning_text(
    summary: &[WireSummaryPart],
    raw: Option<&[WireSummaryPart]>,
) -> String {
    let parts = match raw {
        Some(raw) if summary.is_empty() => raw,
        _ => summary,
    };
    parts
        .iter()
        .map(|s| s.text.as_str())
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn system_text(content: WireMessageContent) -> Result<String, ConvertError> {
    let parts = decode_content(content, true)?;
    let mut text = String::new();
    for part in parts {
        match part {
            Part::Text { text: t } => {
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(&t);
            }
            _ => {
                return Err(ConvertError::Unsupported(
                    "system and developer messages can only hold text".into(),
                ));
            }
        }
    }
    Ok(text)
}

fn decode_content(content: WireMessageContent, user: bool) -> Result<Vec<Part>, ConvertError> {
    let parts = match content {
        WireMessageContent::Text(text) => return Ok(vec![Part::Text { text }]),
        WireMessageContent::Parts(parts) => parts,
    };
    let mut out = Vec::with_capacity(parts.len());
    for part in parts {
        let kind = type_name(&part).to_owned();
        match parse_tagged::<WireInputPart>(part, "Responses content part")? {
            WireInputPart::InputText { text } | WireInputPart::OutputText { text, .. } => {
                out.push(Part::Text { text });
            }
            WireInputPart::Refusal { refusal } => out.push(Part::Text { text: refusal }),
            WireInputPart::InputImage {
                image_url, file_id, ..
            } => {
                if !user {
                    return Err(ConvertError::Unsupported(
                        "images in assistant messages cannot be converted".into(),
                    ));
                }
                match (image_url, file_id) {
                    (Some(url), _) => out.push(Part::Image {
                        source: decode_image_url(url)?,
                    }),
                    (None, Some(_)) => {
                        return Err(ConvertError::Unsupported(
                            "images given by `file_id` (OpenAI Files) cannot be converted".into(),
                        ));
                    }
                    (None, None) => {
                        return Err(ConvertError::Invalid(
                            "invalid Responses request: `input_image` without `image_url`".into(),
                        ));
                    }
                }
            }
            WireInputPart::Unknown => {
                return Err(ConvertError::Unsupported(format!(
                    "content part type `{kind}` cannot be converted"
                )));
            }
        }
    }
    Ok(out)
}

/// A `data:` URL becomes inline base64; any other URL stays a URL.
fn decode_image_url(url: String) -> Result<ImageSource, ConvertError> {
    let Some(rest) = url.strip_prefix("data:") else {
        return Ok(ImageSource::Url { url });
    };
    match rest.split_once(";base64,") {
        Some((media_type, data)) if !media_type.is_empty() => Ok(ImageSource::Base64 {
            media_type: media_type.to_owned(),
            data: data.to_owned(),
        }),
        _ => Err(ConvertError::Invalid(
            "invalid Responses request: image data URLs must be `data:<type>;base64,<data>`".into(),
        )),
    }
}

/// Hosted tools the client merely offers: OpenAI runs them, no other
/// protocol can, so a converted request goes without them.
const HOSTED_TOOLS: [&str; 8] = [
    "web_search",
    "web_search_preview",
    "web_search_preview_2025_03_11",
    "file_search",
    "code_interpreter",
    "image_generation",
    "computer_use_preview",
    "mcp",
];

/// Decodes `tools`: function tools as they are, the function tools of a
/// `namespace` under flat names (`ToolAliases`), hosted tools dropped
/// (and listed in [`Request::dropped`]).
fn decode_tools(tools: Vec<Value>, req: &mut Request) -> Result<(), ConvertError> {
    let mut namespaces = Vec::new();
    for tool in tools {
        match type_name(&tool) {
            "namespace" => namespaces.push(tool),
            kind if HOSTED_TOOLS.contains(&kind) => {
                let entry = format!("tools.{kind}");
                if !req.dropped.contains(&entry) {
                    req.dropped.push(entry);
                }
            }
            "custom" => namespaces.push(json!({"name": null, "tools": [tool]})),
            _ => req.tools.push(decode_tool(tool)?),
        }
    }
    for ns in namespaces {
        let ns: WireNamespaceTool = parse_tagged(ns, "Responses namespace tool")?;
        for tool in ns.tools {
            let custom = type_name(&tool) == "custom";
            let mut tool = match custom {
                true => decode_custom_tool(tool)?,
                false => decode_tool(tool)?,
            };
            tool.name = flat_name(req, ns.name.as_deref(), &tool.name, custom);
            req.tools.push(tool);
        }
    }
    Ok(())
}

/// A free-form (`custom`) tool as a function taking one string, `input`;
/// its grammar, if any, is told to the model in the description.
fn decode_custom_tool(tool: Value) -> Result<Tool, ConvertError> {
    let tool: WireCustomTool = parse_tagged(tool, "Responses custom tool")?;
    let mut about = String::from("The free-form input of the tool");
    if let Some(format) = tool.format.filter(|f| f.kind == "grammar") {
        let syntax = format.syntax.unwrap_or_default();
        let definition = format.definition.unwrap_or_default();
        about.push_str(&format!(", matching this {syntax} grammar:\n{definition}"));
    }
    Ok(Tool {
        name: tool.name,
        description: tool.description,
        parameters: json!({
            "type": "object",
            "properties": {"input": {"type": "string", "description": about}},
            "required": ["input"],
        }),
        strict: None,
    })
}

/// The flat name of `namespace`'s tool `name`, unique among the plain tools.
fn flat_name(req: &mut Request, namespace: Option<&str>, name: &str, custom: bool) -> String {
    let plain: Vec<&str> = req
        .tools
        .iter()
        .filter(|t| req.tool_aliases.get(&t.name).is_none())
        .map(|t| t.name.as_str())
        .collect();
    let mut aliases = std::mem::take(&mut req.tool_aliases);
    let flat = aliases.flatten(namespace, name, custom, |n| plain.contains(&n));
    req.tool_aliases = aliases;
    flat
}

fn decode_tool(tool: Value) -> Result<Tool, ConvertError> {
    let kind = type_name(&tool).to_owned();
    if kind != "function" {
        return Err(ConvertError::Unsupported(format!(
            "tool type `{kind}` cannot be converted"
        )));
    }
    let tool: WireFunctionTool = parse_tagged(tool, "Responses function tool")?;
    Ok(Tool {
        name: tool.name,
        description: tool.description,
        parameters: tool
            .parameters
            .filter(|p| !p.is_null())
            .unwrap_or_else(|| json!({"type": "object"})),
        strict: tool.strict,
    })
}

fn decode_tool_choice(choice: Value) -> Result<ToolChoice, ConvertError> {
    match &choice {
        Value::String(s) => match s.as_str() {
            "auto" => Ok(ToolChoice::Auto),
            "none" => Ok(ToolChoice::None),
            "required" => Ok(ToolChoice::Required),
            other => Err(ConvertError::Invalid(format!(
                "invalid Responses request: unknown tool_choice `{other}`"
            ))),
        },
        Value::Object(o) => match (type_name(&choice), o.get("name").and_then(Value::as_str)) {
            ("function", Some(name)) => Ok(ToolChoice::Named(name.to_owned())),
            ("function", None) => Err(ConvertError::Invalid(
                "invalid Responses request: function tool_choice without `name`".into(),
            )),
            (other, _) => Err(ConvertError::Unsupported(format!(
                "tool_choice type `{other}` cannot be converted"
            ))),
        },
        _ => Err(ConvertError::Invalid(
            "invalid Responses request: tool_choice must be a string or an object".into(),
        )),
    }
}
