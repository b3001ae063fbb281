//! Gemini request bodies ↔ canonical [`Request`], with Gemini's turn rules.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::super::model::effort_to_budget;
use super::super::{
    ConvertError, Message, Part, ReasoningConfig, Request, ResponseFormat, Role, Tool, ToolChoice,
};
use super::parts::{CallTracker, EncodeCtx, check_part_kind, decode_parts, encode_parts};
use super::schema::{clean_parameters, clean_schema};
use super::wire::{
    Content, FunctionCallingConfig, FunctionDeclaration, GenerateContentRequest, GenerationConfig,
    ThinkingConfig, Tool as WireTool, ToolConfig, WirePart,
};

/// The text of the user turn put before a history that starts with the model.
const LEADING_USER_TEXT: &str = ".";

/// Gemini's hosted tools, dropped from a converted request.
const HOSTED_TOOLS: [&str; 8] = [
    "googleSearch",
    "google_search",
    "googleSearchRetrieval",
    "google_search_retrieval",
    "codeExecution",
    "code_execution",
    "urlContext",
    "url_context",
];

pub(in super::super) fn decode_request(body: &[u8]) -> Result<Request, ConvertError> {
    let wire: GenerateContentRequest =
        serde_json::from_slice(body).map_err(|e| ConvertError::json("Gemini request", &e))?;
    if wire.cached_content.is_some() {
        return Err(ConvertError::Unsupported(
            "Gemini `cachedContent` cannot be converted: the cached prompt lives on Google's servers"
                .into(),
        ));
    }
    let mut req = Request::default();
    if let Some(system) = wire.system_instruction {
        for part in system.parts {
            check_part_kind(&part)?;
            if part.inline_data.is_some()
                || part.file_data.is_some()
                || part.function_call.is_some()
                || part.function_response.is_some()
            {
                return Err(ConvertError::Unsupported(
                    "only text parts can be converted in a Gemini systemInstruction".into(),
                ));
            }
            if let Some(text) = part.text.filter(|t| !t.is_empty()) {
                req.system.push(text);
            }
        }
    }
    let mut calls = CallTracker::default();
    for (turn, content) in wire.contents.into_iter().enumerate() {
        let role = match content.role.as_deref() {
            None | Some("" | "user" | "function" | "tool") => Role::User,
            Some("model" | "assistant") => Role::Assistant,
            // Not Gemini's own, but what a client mixing protocols sends.
            Some("system") => Role::System,
            Some(other) => {
                return Err(ConvertError::Invalid(format!(
                    "invalid Gemini content role `{other}`"
                )));
            }
        };
        let mut n = 0usize;
        let mut derive = |name: &str| {
            let id = format!("call_{name}_{turn}_{n}");
            n += 1;
            id
        };
        let parts = decode_parts(content.parts, &mut calls, &mut derive)?;
        if !parts.is_empty() {
            req.messages.push(Message {
                role,
                content: parts,
            });
        }
    }
    for tool in wire.tools {
        for key in tool.extra.keys() {
            // Google runs these itself: no other protocol can.
            if !HOSTED_TOOLS.contains(&key.as_str()) {
                return Err(ConvertError::Unsupported(format!(
                    "Gemini tool `{key}` cannot be converted"
                )));
            }
            let entry = format!("tools.{key}");
            if !req.dropped.contains(&entry) {
                req.dropped.push(entry);
            }
        }
        for decl in tool.function_declarations.unwrap_or_default() {
            let parameters = match (decl.parameters_json_schema, decl.parameters) {
                (Some(schema), _) => schema,
                (None, Some(schema)) => openapi_to_json_schema(schema),
                (None, None) => serde_json::json!({"type": "object"}),
            };
            req.tools.push(Tool {
                name: decl.name,
                description: decl.description,
                parameters,
                strict: None,
            });
        }
    }
    if let Some(config) = wire.tool_config.and_then(|c| c.function_calling_config) {
        req.tool_choice = decode_tool_choice(config, &req.tools)?;
    }
    if let Some(config) = wire.generation_config {
        decode_generation_config(config, &mut req)?;
    }
    Ok(req)
}

fn decode_tool_choice(
    config: FunctionCallingConfig,
    tools: &[Tool],
) -> Result<Option<ToolChoice>, ConvertError> {
    let mode = config.mode.unwrap_or_default().to_ascii_uppercase();
    Ok(match mode.as_str() {
        "" | "MODE_UNSPECIFIED" => None,
        "AUTO" | "VALIDATED" => Some(ToolChoice::Auto),
        "NONE" => Some(ToolChoice::None),
        "ANY" => {
            let allowed = config.allowed_function_names.unwrap_or_default();
            match allowed.as_slice() {
                [] => Some(ToolChoice::Required),
                [one] => Some(ToolChoice::Named(one.clone())),
                many if tools.iter().all(|t| many.contains(&t.name)) => Some(ToolChoice::Required),
                _ => {
                    return Err(ConvertError::Unsupported(
                        "Gemini allowedFunctionNames naming a subset of several tools cannot be converted"
                            .into(),
                    ));
                }
            }
        }
        other => {
            return Err(ConvertError::Invalid(format!(
                "invalid Gemini functionCallingConfig.mode `{other}`"
            )));
        }
    })
}

fn decode_generation_config(c: GenerationConfig, req: &mut Request) -> Result<(), ConvertError> {
    if c.candidate_count.is_some_and(|n| n > 1) {
        return Err(ConvertError::Unsupported(
            "Gemini candidateCount > 1 cannot be converted".into(),
        ));
    }
    if let Some(m) = c
        .response_modalities
        .iter()
        .flatten()
        .find(|m| !m.eq_ignore_ascii_case("text"))
    {
        return Err(ConvertError::Unsupported(format!(
            "Gemini responseModalities `{m}` cannot be converted (text only)"
        )));
    }
    req.temperature = c.temperature;
    req.top_p = c.top_p;
    req.top_k = c
        .top_k
        .filter(|k| k.is_finite() && *k >= 0.0)
        .map(|k| k as u64);
    req.max_tokens = c.max_output_tokens;
    req.stop = c.stop_sequences.unwrap_or_default();
    req.presence_penalty = c.presence_penalty;
    req.frequency_penalty = c.frequency_penalty;
    req.seed = c.seed;
    let schema = c
        .response_json_schema
        .or_else(|| c.response_schema.map(openapi_to_json_schema));
    req.response_format = match (c.response_mime_type.as_deref(), schema) {
        (None | Some("application/json"), Some(schema)) => Some(ResponseFormat::JsonSchema {
            name: "response".into(),
            schema,
            strict: None,
        }),
        (Some("application/json"), None) => Some(ResponseFormat::JsonObject),
        (Some("text/plain"), None) => Some(ResponseFormat::Text),
        (None, None) => None,
        (Some(other), _) => {
            return Err(ConvertError::Unsupported(format!(
                "Gemini responseMimeType `{other}` cannot be converted"
            )));
        }
    };
    if let Some(t) = c.thinking_config {
        let effort = t
            .thinking_level
            .map(|l| l.to_ascii_lowercase())
            .filter(|l| !l.is_empty() && l != "thinking_level_unspecified");
        req.reasoning = Some(ReasoningConfig {
            effort,
            budget_tokens: t.thinking_budget.and_then(|b| u64::try_from(b).ok()),
            include_thoughts: t.include_thoughts,
        });
    }
    Ok(())
}

/// Gemini's OpenAPI `Schema` (upper-case types, `nullable`) as JSON Schema.
fn openapi_to_json_schema(schema: Value) -> Value {
    match schema {
        Value::Object(map) => {
            let mut out = Map::new();
            let nullable = map.get("nullable").and_then(Value::as_bool) == Some(true);
            for (key, val) in map {
                match key.as_str() {
                    "type" => {
                        let ty = match val {
                            Value::String(s) => Value::String(s.to_ascii_lowercase()),
                            other => other,
                        };
                        let ty = match ty {
                            Value::String(s) if nullable => {
                                Value::Array(vec![Value::String(s), Value::String("null".into())])
                            }
                            other => other,
                        };
                        out.insert(key, ty);
                    }
                    "nullable" if nullable => {}
                    "properties" => {
                        let props = match val {
                            Value::Object(p) => Value::Object(
                                p.into_iter()
                                    .map(|(k, v)| (k, openapi_to_json_schema(v)))
                                    .collect(),
                            ),
                            other => other,
                        };
                        out.insert(key, props);
                    }
                    "items" => {
                        out.insert(key, openapi_to_json_schema(val));
                    }
                    "anyOf" => {
                        let options = match val {
                            Value::Array(a) => {
                                Value::Array(a.into_iter().map(openapi_to_json_schema).collect())
                            }
                            other => other,
                        };
                        out.insert(key, options);
                    }
                    _ => {
                        out.insert(key, val);
                    }
                }
            }
            if nullable && !out.contains_key("type") {
                out.insert("nullable".into(), Value::Bool(true));
            }
            Value::Object(out)
        }
        other => other,
    }
}

pub(in super::super) fn encode_request(req: &Request) -> Result<Vec<u8>, ConvertError> {
    let mut names = HashMap::new();
    for msg in &req.messages {
        for part in &msg.content {
            if let Part::ToolCall { id, name, .. } = part {
                names.insert(id.clone(), name.clone());
            }
        }
    }
    let ctx = EncodeCtx {
        with_ids: false,
        names: &names,
    };
    let mut contents = Vec::with_capacity(req.messages.len());
    // System messages join the systemInstruction (Gemini has no system turn).
    for msg in req.turns() {
        contents.push(Content {
            role: Some(role_name(msg.role).into()),
            parts: encode_parts(&msg.content, &ctx)?,
        });
    }
    let contents = apply_turn_rules(contents);
    if contents.is_empty() {
        return Err(ConvertError::Invalid(
            "Gemini request contents must not be empty: no message has any content".into(),
        ));
    }
    let system: Vec<WirePart> = req
        .hoisted_system()
        .into_iter()
        .filter(|s| !s.is_empty())
        .map(|s| WirePart {
            text: Some(s),
            ..WirePart::default()
        })
        .collect();
    let mut wire = GenerateContentRequest {
        contents,
        system_instruction: (!system.is_empty()).then_some(Content {
            role: None,
            parts: system,
        }),
        ..GenerateContentRequest::default()
    };
    if !req.tools.is_empty() {
        // Mode ANY rejects a function without `parameters`; elsewhere an
        // empty OBJECT is rejected, so parameter-less functions leave them out.
        let forced = matches!(
            req.tool_choice,
            Some(ToolChoice::Required | ToolChoice::Named(_))
        );
        let decls = req
            .tools
            .iter()
            .map(|t| FunctionDeclaration {
                name: t.name.clone(),
                description: t.description.clone(),
                parameters: clean_parameters(&t.parameters).or_else(|| {
                    forced.then(|| serde_json::json!({"type": "object", "properties": {}}))
                }),
                parameters_json_schema: None,
            })
            .collect();
        wire.tools.push(WireTool {
            function_declarations: Some(decls),
            extra: Map::new(),
        });
        if let Some(choice) = &req.tool_choice {
            let (mode, names) = match choice {
                ToolChoice::Auto => ("AUTO", None),
                ToolChoice::None => ("NONE", None),
                ToolChoice::Required => ("ANY", None),
                ToolChoice::Named(n) => ("ANY", Some(vec![n.clone()])),
            };
            wire.tool_config = Some(ToolConfig {
                function_calling_config: Some(FunctionCallingConfig {
                    mode: Some(mode.into()),
                    allowed_function_names: names,
                }),
            });
        }
    }
    wire.generation_config = encode_generation_config(req);
    serde_json::to_vec(&wire).map_err(|e| ConvertError::json("Gemini request", &e))
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::User | Role::System => "user",
        Role::Assistant => "model",
    }
}

fn encode_generation_config(req: &Request) -> Option<GenerationConfig> {
    let mut c = GenerationConfig {
        temperature: req.temperature,
        top_p: req.top_p,
        top_k: req.top_k.map(|k| k as f64),
        max_output_tokens: req.max_tokens,
        stop_sequences: (!req.stop.is_empty()).then(|| req.stop.clone()),
        presence_penalty: req.presence_penalty,
        frequency_penalty: req.frequency_penalty,
        seed: req.seed,
        ..GenerationConfig::default()
    };
    match &req.response_format {
        None => {}
        Some(ResponseFormat::Text) => c.response_mime_type = Some("text/plain".into()),
        Some(ResponseFormat::JsonObject) => c.response_mime_type = Some("application/json".into()),
        Some(ResponseFormat::JsonSchema { schema, .. }) => {
            c.response_mime_type = Some("application/json".into());
            c.response_schema = Some(clean_schema(schema));
        }
    }
    if let Some(r) = &req.reasoning {
        let budget = r
            .budget_tokens
            .or_else(|| r.effort.as_deref().and_then(effort_to_budget))
            .map(|b| i64::try_from(b).unwrap_or(i64::MAX));
        let dynamic = budget.is_none() && r.include_thoughts.is_none();
        // Other protocols show the reasoning they asked for (Anthropic
        // always, Chat as `reasoning_content`); Gemini hides it unless told.
        let include_thoughts = match r.include_thoughts {
            None if budget != Some(0) => Some(true),
            other => other,
        };
        c.thinking_config = Some(ThinkingConfig {
            thinking_budget: if dynamic { Some(-1) } else { budget },
            include_thoughts,
            thinking_level: None,
        });
    }
    let empty = serde_json::to_value(&c)
        .ok()
        .and_then(|v| v.as_object().map(Map::is_empty))
        .unwrap_or(false);
    (!empty).then_some(c)
}

/// Gemini's turn rules: empty parts and turns dropped, same-role turns
/// merged, the first turn a user turn.
fn apply_turn_rules(contents: Vec<Content>) -> Vec<Content> {
    let mut out: Vec<Content> = Vec::with_capacity(contents.len());
    for mut content in contents {
        content.parts.retain(|p| !is_empty_part(p));
        if content.parts.is_empty() {
            continue;
        }
        match out.last_mut() {
            Some(last) if last.role == content.role => last.parts.append(&mut content.parts),
            _ => out.push(content),
        }
    }
    if out
        .first()
        .is_some_and(|c| c.role.as_deref() == Some("model"))
    {
        out.insert(
            0,
            Content {
                role: Some("user".into()),
                parts: vec![WirePart {
                    text: Some(LEADING_USER_TEXT.into()),
                    ..WirePart::default()
                }],
            },
        );
    }
    out
}

/// A part with no data: no text (or empty text) and nothing else.
fn is_empty_part(p: &WirePart) -> bool {
    p.text.as_deref().is_none_or(str::is_empty)
        && p.inline_data.is_none()
        && p.file_data.is_none()
        && p.function_call.is_none()
        && p.function_response.is_none()
        && p.extra.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(role: &str, t: &str) -> Content {
        Content {
            role: Some(role.into()),
            parts: vec![WirePart {
                text: Some(t.into()),
                ..WirePart::default()
            }],
        }
    }

    fn texts(contents: &[Content]) -> Vec<(String, Vec<String>)> {
        contents
            .iter()
            .map(|c| {
                (
                    c.role.clone().unwrap_or_default(),
                    c.parts.iter().filter_map(|p| p.text.clone()).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn merges_same_role_turns_and_drops_empty_ones() {
        let out = apply_turn_rules(vec![
            text("user", "a"),
            text("user", ""),
            text("user", "b"),
            text("model", ""),
            text("model", "c"),
            text("model", "d"),
        ]);
        assert_eq!(
            texts(&out),
            vec![
                ("user".into(), vec!["a".into(), "b".into()]),
                ("model".into(), vec!["c".into(), "d".into()]),
            ]
        );
    }

    #[test]
    fn a_history_starting_with_the_model_gets_a_user_turn() {
        let out = apply_turn_rules(vec![text("user", ""), text("model", "hi")]);
        assert_eq!(
            texts(&out),
            vec![
                ("user".into(), vec![LEADING_USER_TEXT.into()]),
                ("model".into(), vec!["hi".into()]),
            ]
        );
    }
}
