//! Anthropic Messages responses to and from [`Response`], with the stop
//! reason and usage mappings the stream shares.

use super::super::common::id_or_generated;
use super::super::{ConvertError, FinishReason, Part, Response, Usage};
use super::MESSAGE_ID_PREFIX;
use super::content::{arguments_object, arguments_text, redacted_thinking_part, thinking_part};
use super::wire::{ClaudeBlock, ClaudeResponse, ClaudeUsage, TypedBlock};

pub(in super::super) fn decode_response(body: &[u8]) -> Result<Response, ConvertError> {
    let resp: ClaudeResponse =
        serde_json::from_slice(body).map_err(|e| ConvertError::json("Anthropic response", &e))?;
    if resp.kind == "error" {
        let message = resp
            .extra
            .get("error")
            .and_then(|e| e.get("message"))
            .and_then(|m| m.as_str())
            .unwrap_or("Anthropic returned an error");
        return Err(ConvertError::Invalid(format!(
            "Anthropic error response: {message}"
        )));
    }
    let content = resp
        .content
        .into_iter()
        .map(decode_output_block)
        .collect::<Result<_, _>>()?;
    let (finish, stop_sequence) = match resp.stop_reason.as_deref() {
        None => (None, None),
        Some(reason) => {
            let (f, s) = decode_stop(reason, resp.stop_sequence);
            (Some(f), s)
        }
    };
    Ok(Response {
        id: resp.id,
        model: resp.model,
        created: None,
        content,
        finish,
        stop_sequence,
        usage: resp.usage.map(|u| decode_usage(u, Usage::default())),
    })
}

/// One block of the assistant's output.
fn decode_output_block(b: TypedBlock) -> Result<Part, ConvertError> {
    Ok(match b.block {
        ClaudeBlock::Text { text } => Part::Text { text },
        ClaudeBlock::ToolUse { id, name, input } => Part::ToolCall {
            id,
            name,
            arguments: arguments_text(&input)?,
        },
        ClaudeBlock::Thinking {
            thinking,
            signature,
        } => thinking_part(thinking, signature),
        ClaudeBlock::RedactedThinking { data } => redacted_thinking_part(data),
        ClaudeBlock::Image { .. } | ClaudeBlock::ToolResult { .. } | ClaudeBlock::Unknown => {
            return Err(ConvertError::Unsupported(format!(
                "Anthropic response content block type `{}` cannot be converted",
                b.kind
            )));
        }
    })
}

/// `stop_reason` (and `stop_sequence`) to the canonical finish.
pub(super) fn decode_stop(
    reason: &str,
    stop_sequence: Option<String>,
) -> (FinishReason, Option<String>) {
    let finish = match reason {
        "end_turn" | "stop_sequence" => FinishReason::Stop,
        "max_tokens" => FinishReason::Length,
        "tool_use" => FinishReason::ToolCalls,
        "refusal" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_owned()),
    };
    let stop_sequence = if finish == FinishReason::Stop {
        stop_sequence
    } else {
        None
    };
    (finish, stop_sequence)
}

/// The canonical finish as a `stop_reason`. Reasons Anthropic has no name
/// for become `end_turn` (its clients expect a known value).
pub(super) fn encode_stop(finish: &FinishReason, stop_sequence: Option<&str>) -> &'static str {
    match finish {
        FinishReason::Stop if stop_sequence.is_some() => "stop_sequence",
        FinishReason::Stop => "end_turn",
        FinishReason::Length => "max_tokens",
        FinishReason::ToolCalls => "tool_use",
        FinishReason::ContentFilter => "refusal",
        FinishReason::Other(other) => match other.as_str() {
            "pause_turn" => "pause_turn",
            "model_context_window_exceeded" => "model_context_window_exceeded",
            "stop_sequence" => "stop_sequence",
            "max_tokens" => "max_tokens",
            "tool_use" => "tool_use",
            "refusal" => "refusal",
            _ => "end_turn",
        },
    }
}

/// Anthropic usage over `base` (fields it lacks keep their normalised
/// value from `base`), normalised: input counts cache reads and writes.
pub(super) fn decode_usage(u: ClaudeUsage, base: Usage) -> Usage {
    let cache_read = u.cache_read_input_tokens.unwrap_or(base.cache_read_tokens);
    let cache_write = u
        .cache_creation_input_tokens
        .unwrap_or(base.cache_write_tokens);
    let uncached = u.input_tokens.unwrap_or_else(|| {
        base.input_tokens
            .saturating_sub(base.cache_read_tokens)
            .saturating_sub(base.cache_write_tokens)
    });
    Usage {
        input_tokens: uncached
            .saturating_add(cache_read)
            .saturating_add(cache_write),
        output_tokens: u.output_tokens.unwrap_or(base.output_tokens),
        cache_read_tokens: cache_read,
        cache_write_tokens: cache_write,
        reasoning_tokens: base.reasoning_tokens,
    }
}

/// Normalised usage as Anthropic reports it (every field written).
pub(super) fn encode_usage(u: &Usage) -> ClaudeUsage {
    ClaudeUsage {
        input_tokens: Some(
            u.input_tokens
                .saturating_sub(u.cache_read_tokens)
                .saturating_sub(u.cache_write_tokens),
        ),
        cache_creation_input_tokens: Some(u.cache_write_tokens),
        cache_read_input_tokens: Some(u.cache_read_tokens),
        output_tokens: Some(u.output_tokens),
    }
}

/// A response-content part as a block (images and tool results are not
/// model output Anthropic can carry).
pub(super) fn encode_output_part(part: &Part) -> Result<ClaudeBlock, ConvertError> {
    Ok(match part {
        Part::Text { text } => ClaudeBlock::Text { text: text.clone() },
        Part::ToolCall {
            id,
            name,
            arguments,
        } => ClaudeBlock::ToolUse {
            id: id.clone(),
            name: name.clone(),
            input: arguments_object(id, arguments)?,
        },
        Part::Reasoning {
            redacted: Some(data),
            ..
        } => ClaudeBlock::RedactedThinking { data: data.clone() },
        // Reasoning from an upstream without Anthropic signatures is shown
        // with an empty one; it is dropped if the client sends it back.
        Part::Reasoning {
            text, signature, ..
        } => ClaudeBlock::Thinking {
            thinking: text.clone(),
            signature: Some(signature.clone().unwrap_or_default()),
        },
        Part::Image { .. } => {
            return Err(ConvertError::Unsupported(
                "image output cannot be expressed in an Anthropic response".into(),
            ));
        }
        Part::ToolResult { .. } => {
            return Err(ConvertError::Unsupported(
                "a tool result cannot be part of an Anthropic response".into(),
            ));
        }
    })
}

pub(in super::super) fn encode_response(resp: &Response) -> Result<Vec<u8>, ConvertError> {
    let content = resp
        .content
        .iter()
        .map(|p| encode_output_part(p).map(TypedBlock::from))
        .collect::<Result<_, _>>()?;
    let stop_sequence = match resp.finish {
        Some(FinishReason::Stop) => resp.stop_sequence.clone(),
        _ => None,
    };
    let wire = ClaudeResponse {
        id: id_or_generated(&resp.id, MESSAGE_ID_PREFIX),
        kind: "message".into(),
        role: "assistant".into(),
        model: resp.model.clone(),
        content,
        stop_reason: resp
            .finish
            .as_ref()
            .map(|f| encode_stop(f, stop_sequence.as_deref()).to_owned()),
        stop_sequence,
        usage: Some(encode_usage(&resp.usage.unwrap_or_default())),
        extra: serde_json::Map::new(),
    };
    serde_json::to_vec(&wire).map_err(|e| ConvertError::json("Anthropic response", &e))
}
