//! Anthropic Messages requests to and from [`Request`].

use super::super::model::effort_to_budget;
use super::super::{
    ConvertError, Message, Part, ReasoningConfig, Request, ResponseFormat, Role, Tool, ToolChoice,
};
use super::content::{
    arguments_object, arguments_text, decode_image, encode_image, redacted_thinking_part,
    thinking_part,
};
use super::wire::{
    ClaudeBlock, ClaudeContent, ClaudeMessage, ClaudeMetadata, ClaudeOutputConfig,
    ClaudeOutputFormat, ClaudeRequest, ClaudeRole, ClaudeSystem, ClaudeThinking, ClaudeTool,
    ClaudeToolChoice, ClaudeToolResultContent, TypedBlock,
};
use super::{DEFAULT_MAX_TOKENS, MIN_THINKING_BUDGET};

/// Appended to the system prompt for [`ResponseFormat::JsonObject`], which
/// Anthropic has no native switch for.
pub(super) const JSON_OBJECT_INSTRUCTION: &str =
    "Respond only with a single valid JSON object, with no other text before or after it.";

/// The schema name decoded requests carry (Anthropic's format has none).
const DEFAULT_SCHEMA_NAME: &str = "response";

pub(in super::super) fn decode_request(body: &[u8]) -> Result<Request, ConvertError> {
    let req: ClaudeRequest =
        serde_json::from_slice(body).map_err(|e| ConvertError::json("Anthropic request", &e))?;
    if req
        .extra
        .get("mcp_servers")
        .is_some_and(|v| !v.is_null() && v.as_array().is_none_or(|a| !a.is_empty()))
    {
        return Err(ConvertError::Unsupported(
            "Anthropic `mcp_servers` cannot be converted".into(),
        ));
    }
    let mut system = match req.system {
        None => Vec::new(),
        Some(ClaudeSystem::Text(text)) => vec![text],
        Some(ClaudeSystem::Blocks(blocks)) => blocks
            .into_iter()
            .map(|b| match b.block {
                ClaudeBlock::Text { text } => Ok(text),
                _ => Err(unsupported_block(&b.kind, "system prompt")),
            })
            .collect::<Result<_, _>>()?,
    };
    let mut messages: Vec<Message> = req
        .messages
        .into_iter()
        .map(decode_message)
        .collect::<Result<_, _>>()?;
    // System messages before the first turn are the system prompt's tail.
    let lead = messages
        .iter()
        .take_while(|m| m.role == Role::System)
        .count();
    system.extend(messages.drain(..lead).map(|m| m.text()));
    let mut tools = Vec::new();
    let mut dropped: Vec<String> = Vec::new();
    for tool in req.tools.unwrap_or_default() {
        match tool.kind.as_deref() {
            // Server tools Anthropic runs itself: no other protocol can.
            Some(kind) if SERVER_TOOLS.iter().any(|p| kind.starts_with(p)) => {
                let entry = format!("tools.{kind}");
                if !dropped.contains(&entry) {
                    dropped.push(entry);
                }
            }
            _ => tools.push(decode_tool(tool)?),
        }
    }
    let (tool_choice, parallel_tool_calls) = match req.tool_choice {
        None => (None, None),
        Some(tc) => decode_tool_choice(tc)?,
    };
    let format = req
        .output_config
        .as_ref()
        .and_then(|c| c.format.clone())
        .or(req.output_format);
    let response_format = format.map(decode_format).transpose()?;
    let effort = req.output_config.and_then(|c| c.effort);
    let reasoning = req
        .thinking
        .map(|t| decode_thinking(t, effort))
        .transpose()?;
    Ok(Request {
        model: req.model,
        system,
        messages,
        tools,
        tool_choice,
        parallel_tool_calls,
        max_tokens: req.max_tokens,
        temperature: req.temperature,
        top_p: req.top_p,
        top_k: req.top_k,
        presence_penalty: None,
        frequency_penalty: None,
        seed: None,
        stop: req.stop_sequences.unwrap_or_default(),
        response_format,
        reasoning,
        stream: req.stream.unwrap_or(false),
        user: req.metadata.and_then(|m| m.user_id),
        tool_aliases: Default::default(),
        dropped,
    })
}

/// Type prefixes of Anthropic's server tools (`web_search_20250305`…),
/// dropped from a converted request.
const SERVER_TOOLS: [&str; 3] = ["web_search_", "web_fetch_", "code_execution_"];

fn unsupported_block(kind: &str, place: &str) -> ConvertError {
    ConvertError::Unsupported(format!(
        "Anthropic content block type `{kind}` in the {place} cannot be converted"
    ))
}

fn decode_message(msg: ClaudeMessage) -> Result<Message, ConvertError> {
    let role = match msg.role {
        ClaudeRole::User => Role::User,
        ClaudeRole::Assistant => Role::Assistant,
        ClaudeRole::System => Role::System,
    };
    let content = match msg.content {
        ClaudeContent::Text(text) => vec![Part::Text { text }],
        ClaudeContent::Blocks(blocks) => blocks
            .into_iter()
            .map(decode_block)
            .collect::<Result<_, _>>()?,
    };
    if role == Role::System && content.iter().any(|p| !matches!(p, Part::Text { .. })) {
        return Err(ConvertError::Unsupported(
            "an Anthropic `system` message can only hold text".into(),
        ));
    }
    Ok(Message { role, content })
}

/// One message content block.
fn decode_block(b: TypedBlock) -> Result<Part, ConvertError> {
    Ok(match b.block {
        ClaudeBlock::Text { text } => Part::Text { text },
        ClaudeBlock::Image { source } => Part::Image {
            source: decode_image(source)?,
        },
        ClaudeBlock::ToolUse { id, name, input } => Part::ToolCall {
            id,
            name,
            arguments: arguments_text(&input)?,
        },
        ClaudeBlock::ToolResult {
            tool_use_id,
            content,
            is_error,
        } => {
            let content = match content {
                None => Vec::new(),
                Some(ClaudeToolResultContent::Text(text)) => vec![Part::Text { text }],
                Some(ClaudeToolResultContent::Blocks(blocks)) => blocks
                    .into_iter()
                    .map(|b| match b.block {
                        ClaudeBlock::Text { text } => Ok(Part::Text { text }),
                        ClaudeBlock::Image { source } => Ok(Part::Image {
                            source: decode_image(source)?,
                        }),
                        _ => Err(unsupported_block(&b.kind, "tool result")),
                    })
                    .collect::<Result<_, _>>()?,
            };
            Part::ToolResult {
                call_id: tool_use_id,
                name: None,
                content,
                is_error,
            }
        }
        ClaudeBlock::Thinking {
            thinking,
            signature,
        } => thinking_part(thinking, signature),
        ClaudeBlock::RedactedThinking { data } => redacted_thinking_part(data),
        ClaudeBlock::Unknown => return Err(unsupported_block(&b.kind, "message")),
    })
}

fn decode_tool(tool: ClaudeTool) -> Result<Tool, ConvertError> {
    if let Some(kind) = tool.kind.as_deref().filter(|k| *k != "custom") {
        return Err(ConvertError::Unsupported(format!(
            "Anthropic tool type `{kind}` cannot be converted"
        )));
    }
    if tool.name.is_empty() {
        return Err(ConvertError::Invalid("tool without a `name`".into()));
    }
    Ok(Tool {
        name: tool.name,
        description: tool.description,
        parameters: tool
            .input_schema
            .unwrap_or_else(|| serde_json::json!({"type": "object"})),
        strict: tool.strict,
    })
}

fn decode_tool_choice(
    tc: ClaudeToolChoice,
) -> Result<(Option<ToolChoice>, Option<bool>), ConvertError> {
    let choice = match tc.kind.as_str() {
        "auto" => ToolChoice::Auto,
        "any" => ToolChoice::Required,
        "none" => ToolChoice::None,
        "tool" => ToolChoice::Named(
            tc.name
                .ok_or_else(|| ConvertError::Invalid("tool_choice `tool` needs a `name`".into()))?,
        ),
        other => {
            return Err(ConvertError::Invalid(format!(
                "unknown tool_choice type `{other}`"
            )));
        }
    };
    Ok((Some(choice), tc.disable_parallel_tool_use.map(|d| !d)))
}

fn decode_format(format: ClaudeOutputFormat) -> Result<ResponseFormat, ConvertError> {
    match format.kind.as_str() {
        "json_schema" => Ok(ResponseFormat::JsonSchema {
            name: DEFAULT_SCHEMA_NAME.into(),
            schema: format
                .schema
                .ok_or_else(|| ConvertError::Invalid("json_schema format needs `schema`".into()))?,
            strict: None,
        }),
        other => Err(ConvertError::Unsupported(format!(
            "Anthropic output format type `{other}` cannot be converted"
        ))),
    }
}

fn decode_thinking(
    t: ClaudeThinking,
    effort: Option<String>,
) -> Result<ReasoningConfig, ConvertError> {
    match t.kind.as_str() {
        "enabled" => Ok(ReasoningConfig {
            budget_tokens: Some(t.budget_tokens.ok_or_else(|| {
                ConvertError::Invalid("thinking `enabled` needs `budget_tokens`".into())
            })?),
            ..ReasoningConfig::default()
        }),
        "disabled" => Ok(ReasoningConfig {
            budget_tokens: Some(0),
            ..ReasoningConfig::default()
        }),
        // Adaptive thinking: the model decides; `output_config.effort`
        // (low, medium, high, max) steers it.
        "adaptive" => Ok(ReasoningConfig {
            effort: effort.map(|e| if e == "max" { "high".into() } else { e }),
            ..ReasoningConfig::default()
        }),
        other => Err(ConvertError::Invalid(format!(
            "unknown thinking type `{other}`"
        ))),
    }
}

pub(in super::super) fn encode_request(req: &Request) -> Result<Vec<u8>, ConvertError> {
    // Anthropic rejects empty system text blocks.
    // System messages inside the conversation join the system prompt, in
    // order: Anthropic has no system role in `messages`.
    let mut system: Vec<String> = req
        .hoisted_system()
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
    let mut output_config = None;
    match &req.response_format {
        None | Some(ResponseFormat::Text) => {}
        Some(ResponseFormat::JsonObject) => system.push(JSON_OBJECT_INSTRUCTION.into()),
        Some(ResponseFormat::JsonSchema { schema, .. }) => {
            output_config = Some(ClaudeOutputConfig {
                format: Some(ClaudeOutputFormat {
                    kind: "json_schema".into(),
                    schema: Some(schema.clone()),
                }),
                ..ClaudeOutputConfig::default()
            });
        }
    }
    let system = match system.len() {
        0 => None,
        1 => system.pop().map(ClaudeSystem::Text),
        _ => Some(ClaudeSystem::Blocks(
            system
                .into_iter()
                .map(|text| ClaudeBlock::Text { text }.into())
                .collect(),
        )),
    };
    // Thinking cannot be combined with forced tool use: the forced call
    // is kept, thinking left off.
    let forced = matches!(
        req.tool_choice,
        Some(ToolChoice::Required | ToolChoice::Named(_))
    );
    let reasoning = req.reasoning.as_ref().filter(|_| !forced);
    let (thinking, max_tokens) = encode_thinking(reasoning, req.max_tokens)?;
    // With thinking on, Anthropic rejects a modified temperature or top_k
    // and a top_p under 0.95: those sampling hints are dropped.
    let thinking_on = thinking.as_ref().is_some_and(|t| t.kind == "enabled");
    let (temperature, top_p, top_k) = if thinking_on {
        (
            req.temperature.filter(|t| (t - 1.0).abs() < f64::EPSILON),
            req.top_p.filter(|p| *p >= 0.95),
            None,
        )
    } else {
        // Anthropic's temperature range is 0..=1 (OpenAI's goes to 2).
        (
            req.temperature.map(|t| t.clamp(0.0, 1.0)),
            req.top_p,
            req.top_k,
        )
    };
    let messages = req
        .turns()
        .map(encode_message)
        .filter_map(Result::transpose)
        .collect::<Result<_, _>>()?;
    let tools: Vec<ClaudeTool> = req
        .tools
        .iter()
        .map(|t| ClaudeTool {
            kind: None,
            name: t.name.clone(),
            description: t.description.clone(),
            input_schema: Some(t.parameters.clone()),
            strict: t.strict,
        })
        .collect();
    // Anthropic accepts `tool_choice` only together with `tools`.
    let tool_choice = if tools.is_empty() {
        None
    } else {
        encode_tool_choice(req.tool_choice.as_ref(), req.parallel_tool_calls)
    };
    let wire = ClaudeRequest {
        model: req.model.clone(),
        messages,
        max_tokens: Some(max_tokens),
        system,
        tools: (!tools.is_empty()).then_some(tools),
        tool_choice,
        temperature,
        top_p,
        top_k,
        stop_sequences: (!req.stop.is_empty()).then(|| req.stop.clone()),
        thinking,
        metadata: req.user.as_ref().map(|u| ClaudeMetadata {
            user_id: Some(u.clone()),
        }),
        stream: req.stream.then_some(true),
        output_config,
        output_format: None,
        extra: serde_json::Map::new(),
    };
    serde_json::to_vec(&wire).map_err(|e| ConvertError::json("Anthropic request", &e))
}

/// The `thinking` config and the `max_tokens` to write.
///
/// Anthropic requires `1024 <= budget_tokens < max_tokens`. Without a
/// `max_tokens`, [`DEFAULT_MAX_TOKENS`] is written (plus the budget when
/// thinking is on). With one that leaves no room for the budget, the budget
/// is lowered to `max_tokens - 1`; if that falls under the minimum, thinking
/// is left off (the caller's token limit wins).
fn encode_thinking(
    reasoning: Option<&ReasoningConfig>,
    max_tokens: Option<u64>,
) -> Result<(Option<ClaudeThinking>, u64), ConvertError> {
    let budget = match reasoning {
        None => None,
        Some(r) => match (r.budget_tokens, r.effort.as_deref()) {
            (Some(b), _) => Some(b),
            (None, Some("none")) => Some(0),
            (None, Some(effort)) => Some(effort_to_budget(effort).ok_or_else(|| {
                ConvertError::Unsupported(format!(
                    "reasoning effort `{effort}` has no Anthropic thinking budget"
                ))
            })?),
            // Only "hide the thoughts": nothing to turn on.
            (None, None) if r.include_thoughts == Some(false) => None,
            // Reasoning asked for without a level: a medium budget.
            (None, None) => effort_to_budget("medium"),
        },
    };
    let disabled = ClaudeThinking {
        kind: "disabled".into(),
        budget_tokens: None,
    };
    match budget {
        None => Ok((None, max_tokens.unwrap_or(DEFAULT_MAX_TOKENS))),
        Some(0) => Ok((Some(disabled), max_tokens.unwrap_or(DEFAULT_MAX_TOKENS))),
        Some(budget) => {
            let budget = budget.max(MIN_THINKING_BUDGET);
            let (budget, max) = match max_tokens {
                None => (budget, budget.saturating_add(DEFAULT_MAX_TOKENS)),
                Some(max) if max > budget => (budget, max),
                Some(max) if max.saturating_sub(1) >= MIN_THINKING_BUDGET => {
                    (max.saturating_sub(1), max)
                }
                Some(max) => return Ok((None, max)),
            };
            Ok((
                Some(ClaudeThinking {
                    kind: "enabled".into(),
                    budget_tokens: Some(budget),
                }),
                max,
            ))
        }
    }
}

fn encode_tool_choice(
    choice: Option<&ToolChoice>,
    parallel: Option<bool>,
) -> Option<ClaudeToolChoice> {
    let disable = parallel.map(|p| !p);
    let (kind, name) = match choice {
        None if disable == Some(true) => ("auto", None),
        None => return None,
        Some(ToolChoice::None) => {
            return Some(ClaudeToolChoice {
                kind: "none".into(),
                ..ClaudeToolChoice::default()
            });
        }
        Some(ToolChoice::Auto) => ("auto", None),
        Some(ToolChoice::Required) => ("any", None),
        Some(ToolChoice::Named(n)) => ("tool", Some(n.clone())),
    };
    Some(ClaudeToolChoice {
        kind: kind.into(),
        name,
        disable_parallel_tool_use: disable,
    })
}

/// A message, or `None` when nothing in it can be sent (empty text,
/// reasoning without a signature).
fn encode_message(msg: &Message) -> Result<Option<ClaudeMessage>, ConvertError> {
    let role = match msg.role {
        Role::User => ClaudeRole::User,
        Role::Assistant => ClaudeRole::Assistant,
        // Hoisted into the system prompt by the caller.
        Role::System => return Ok(None),
    };
    if let [Part::Text { text }] = msg.content.as_slice()
        && !text.is_empty()
    {
        return Ok(Some(ClaudeMessage {
            role,
            content: ClaudeContent::Text(text.clone()),
        }));
    }
    // Anthropic wants tool results first in a user message.
    let (results, others): (Vec<&Part>, Vec<&Part>) = msg
        .content
        .iter()
        .partition(|p| matches!(p, Part::ToolResult { .. }));
    let mut blocks = Vec::with_capacity(msg.content.len());
    for part in results.into_iter().chain(others) {
        if let Some(block) = encode_part(part)? {
            blocks.push(block.into());
        }
    }
    if blocks.is_empty() {
        return Ok(None);
    }
    Ok(Some(ClaudeMessage {
        role,
        content: ClaudeContent::Blocks(blocks),
    }))
}

fn encode_part(part: &Part) -> Result<Option<ClaudeBlock>, ConvertError> {
    Ok(match part {
        Part::Text { text } if text.is_empty() => None,
        Part::Text { text } => Some(ClaudeBlock::Text { text: text.clone() }),
        Part::Image { source } => Some(ClaudeBlock::Image {
            source: encode_image(source)?,
        }),
        Part::ToolCall {
            id,
            name,
            arguments,
        } => Some(ClaudeBlock::ToolUse {
            id: id.clone(),
            name: name.clone(),
            input: arguments_object(id, arguments)?,
        }),
        Part::ToolResult {
            call_id,
            content,
            is_error,
            ..
        } => {
            let content = match content.as_slice() {
                [] => None,
                [Part::Text { text }] => Some(ClaudeToolResultContent::Text(text.clone())),
                parts => {
                    let mut blocks = Vec::with_capacity(parts.len());
                    for p in parts {
                        match p {
                            Part::Text { text } if text.is_empty() => {}
                            Part::Text { .. } | Part::Image { .. } => {
                                if let Some(b) = encode_part(p)? {
                                    blocks.push(b.into());
                                }
                            }
                            _ => {
                                return Err(ConvertError::Unsupported(
                                    "Anthropic tool results hold only text and images".into(),
                                ));
                            }
                        }
                    }
                    Some(ClaudeToolResultContent::Blocks(blocks))
                }
            };
            Some(ClaudeBlock::ToolResult {
                tool_use_id: call_id.clone(),
                content,
                is_error: *is_error,
            })
        }
        Part::Reasoning {
            redacted: Some(data),
            ..
        } => Some(ClaudeBlock::RedactedThinking { data: data.clone() }),
        // Anthropic rejects thinking blocks without their signature.
        Part::Reasoning {
            text,
            signature: Some(sig),
            ..
        } if !sig.is_empty() => Some(ClaudeBlock::Thinking {
            thinking: text.clone(),
            signature: Some(standard_base64(sig)),
        }),
        Part::Reasoning { .. } => None,
    })
}

/// A signature in the standard base64 alphabet, as Anthropic issues them.
/// google-genai parses a Gemini `thoughtSignature` into bytes and writes it
/// back URL-safe (`-`, `_`, padded), so a signature handed to a Gemini
/// client and back comes in the other alphabet; Anthropic signatures never
/// hold `-` or `_`, so mapping them back is lossless. Anything that is not
/// padded URL-safe base64 is left as it is.
fn standard_base64(sig: &str) -> String {
    let url_safe = sig.len().is_multiple_of(4)
        && sig.contains(['-', '_'])
        && sig
            .trim_end_matches('=')
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !url_safe {
        return sig.to_owned();
    }
    sig.chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect()
}
