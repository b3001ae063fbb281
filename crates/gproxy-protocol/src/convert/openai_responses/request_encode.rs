//! Encoding requests: the canonical [`Request`] → `input` items and settings.
//!
//! Tool results become `function_call_output` items before the rest of
//! their user message; assistant text, reasoning and tool calls become
//! message, `reasoning` and `function_call` items in order. Reasoning is
//! sent only with its encrypted content and without an item id (stateless:
//! `store: false`, `include: ["reasoning.encrypted_content"]`).
//!
//! The Responses API has no stop sequences (rejected as unsupported: they
//! change the output) and no `top_k`, penalties or `seed` (sampling hints,
//! dropped).

use serde_json::{Value, json};

use super::super::common::image_url;
use super::super::model::budget_to_effort;
use super::super::{
    ConvertError, ImageSource, Message, Part, Request, ResponseFormat, Role, ToolChoice,
};
use super::wire::{
    WireInput, WireInputItem, WireReasoningConfig, WireRequest, WireSummaryPart, WireTextConfig,
    WireTextFormat,
};

pub(crate) fn encode_request(req: &Request) -> Result<Vec<u8>, ConvertError> {
    if !req.stop.is_empty() {
        return Err(ConvertError::Unsupported(
            "stop sequences are not supported by the OpenAI Responses API".into(),
        ));
    }
    let mut input = Vec::new();
    for msg in &req.messages {
        encode_message(msg, &mut input)?;
    }
    let tools: Vec<Value> = req
        .tools
        .iter()
        .map(|t| {
            let mut v = json!({
                "type": "function",
                "name": t.name,
                "parameters": t.parameters,
                // Responses defaults to strict mode; keep the client's (or
                // Chat's non-strict) meaning explicit.
                "strict": t.strict.unwrap_or(false),
            });
            if let (Some(d), Some(o)) = (&t.description, v.as_object_mut()) {
                o.insert("description".into(), Value::String(d.clone()));
            }
            v
        })
        .collect();
    let reasoning = req.reasoning.as_ref().map(|r| WireReasoningConfig {
        effort: r
            .effort
            .clone()
            .or_else(|| r.budget_tokens.map(|b| budget_to_effort(b).to_owned())),
        summary: (r.include_thoughts != Some(false)).then(|| "auto".to_owned()),
    });
    let stateless_reasoning = reasoning.is_some()
        || req.messages.iter().flat_map(|m| &m.content).any(|p| {
            matches!(
                p,
                Part::Reasoning {
                    signature: Some(_),
                    ..
                }
            )
        });
    let wire = WireRequest {
        model: req.model.clone(),
        instructions: (!req.system.is_empty()).then(|| req.system.join("\n\n")),
        input: Some(WireInput::Items(input)),
        tools: (!tools.is_empty()).then_some(tools),
        tool_choice: req.tool_choice.as_ref().map(|c| match c {
            ToolChoice::Auto => json!("auto"),
            ToolChoice::None => json!("none"),
            ToolChoice::Required => json!("required"),
            ToolChoice::Named(name) => json!({"type": "function", "name": name}),
        }),
        parallel_tool_calls: req.parallel_tool_calls,
        max_output_tokens: req.max_tokens,
        temperature: req.temperature,
        top_p: req.top_p,
        // Without stored state, reasoning can only continue across turns
        // through its encrypted content.
        store: stateless_reasoning.then_some(false),
        include: stateless_reasoning.then(|| vec!["reasoning.encrypted_content".to_owned()]),
        reasoning,
        text: req.response_format.as_ref().map(|f| WireTextConfig {
            format: Some(match f {
                ResponseFormat::Text => WireTextFormat::Text,
                ResponseFormat::JsonObject => WireTextFormat::JsonObject,
                ResponseFormat::JsonSchema {
                    name,
                    schema,
                    strict,
                } => WireTextFormat::JsonSchema {
                    name: Some(name.clone()),
                    schema: schema.clone(),
                    strict: *strict,
                },
            }),
            extra: serde_json::Map::new(),
        }),
        stream: req.stream.then_some(true),
        user: req.user.clone(),
        extra: serde_json::Map::new(),
    };
    serde_json::to_vec(&wire).map_err(|e| ConvertError::json("Responses request", &e))
}

fn to_value<T: serde::Serialize>(v: &T) -> Result<Value, ConvertError> {
    serde_json::to_value(v).map_err(|e| ConvertError::json("Responses request", &e))
}

/// Text parts become a string when there is one, typed parts otherwise.
fn text_content(texts: Vec<String>, part_type: &str) -> Value {
    match <[String; 1]>::try_from(texts) {
        Ok([one]) => Value::String(one),
        Err(texts) => Value::Array(
            texts
                .into_iter()
                .map(|t| match part_type {
                    "output_text" => json!({"type": part_type, "text": t, "annotations": []}),
                    _ => json!({"type": part_type, "text": t}),
                })
                .collect(),
        ),
    }
}

fn image_part(source: &ImageSource) -> Value {
    json!({"type": "input_image", "image_url": image_url(source), "detail": "auto"})
}

/// User content: a string for a single text, typed parts otherwise.
fn user_content(parts: &[&Part]) -> Result<Value, ConvertError> {
    if let [Part::Text { text }] = parts {
        return Ok(Value::String(text.clone()));
    }
    let mut out = Vec::with_capacity(parts.len());
    for part in parts {
        out.push(match part {
            Part::Text { text } => json!({"type": "input_text", "text": text}),
            Part::Image { source } => image_part(source),
            Part::ToolCall { .. } | Part::ToolResult { .. } | Part::Reasoning { .. } => {
                return Err(ConvertError::Unsupported(
                    "tool calls, nested tool results and reasoning cannot appear in \
                     Responses user content"
                        .into(),
                ));
            }
        });
    }
    Ok(Value::Array(out))
}

fn encode_message(msg: &Message, input: &mut Vec<Value>) -> Result<(), ConvertError> {
    match msg.role {
        Role::System => {
            input.push(json!({"role": "system", "content": msg.text()}));
        }
        Role::User => {
            let mut rest = Vec::new();
            for part in &msg.content {
                if let Part::ToolResult {
                    call_id, content, ..
                } = part
                {
                    let refs: Vec<&Part> = content.iter().collect();
                    let output = if refs.is_empty() {
                        Value::String(String::new())
                    } else {
                        user_content(&refs)?
                    };
                    input.push(json!({
                        "type": "function_call_output",
                        "call_id": call_id,
                        "output": output,
                    }));
                } else {
                    rest.push(part);
                }
            }
            if !rest.is_empty() {
                input.push(json!({"role": "user", "content": user_content(&rest)?}));
            }
        }
        Role::Assistant => {
            let mut texts: Vec<String> = Vec::new();
            let flush = |texts: &mut Vec<String>, input: &mut Vec<Value>| {
                if !texts.is_empty() {
                    let content = text_content(std::mem::take(texts), "output_text");
                    input.push(json!({"role": "assistant", "content": content}));
                }
            };
            for part in &msg.content {
                match part {
                    Part::Text { text } => texts.push(text.clone()),
                    Part::ToolCall {
                        id,
                        name,
                        arguments,
                    } => {
                        flush(&mut texts, input);
                        input.push(to_value(&WireInputItem::FunctionCall {
                            namespace: None,
                            id: None,
                            call_id: id.clone(),
                            name: name.clone(),
                            arguments: arguments.clone(),
                        })?);
                    }
                    Part::Reasoning {
                        text,
                        signature,
                        redacted,
                    } => {
                        flush(&mut texts, input);
                        // Only encrypted content lets the upstream resume its
                        // reasoning (stateless, no item id); visible text
                        // alone, or another provider's redacted blob, has
                        // no Responses form.
                        if redacted.is_some() || signature.is_none() {
                            continue;
                        }
                        let summary = if text.is_empty() {
                            Vec::new()
                        } else {
                            vec![WireSummaryPart::new(text.clone())]
                        };
                        input.push(to_value(&WireInputItem::Reasoning {
                            id: None,
                            summary,
                            content: None,
                            encrypted_content: signature.clone(),
                        })?);
                    }
                    Part::Image { .. } | Part::ToolResult { .. } => {
                        return Err(ConvertError::Unsupported(
                            "images and tool results cannot appear in Responses assistant \
                             messages"
                                .into(),
                        ));
                    }
                }
            }
            flush(&mut texts, input);
        }
    }
    Ok(())
}
