//! `chat.completion` response ↔ canonical [`Response`], plus the usage and
//! finish-reason mappings the stream converters share.

use super::request::{decode_tool_call, encode_tool_call, non_empty_args};
use super::wire::{
    ChatChoice, ChatCompletion, ChatCompletionDetails, ChatPromptDetails, ChatResponseMessage,
    ChatUsage,
};
use crate::convert::common::id_or_generated;
use crate::convert::{ConvertError, FinishReason, Part, Response, Usage};
use serde_json::Map;

pub(in crate::convert) fn decode_response(body: &[u8]) -> Result<Response, ConvertError> {
    let wire: ChatCompletion = serde_json::from_slice(body)
        .map_err(|e| ConvertError::json("chat completion response", &e))?;
    let mut resp = Response {
        id: wire.id,
        model: wire.model,
        created: wire.created,
        usage: wire.usage.map(decode_usage),
        ..Response::default()
    };
    // `n` > 1 is rejected in requests; only the first choice is read.
    let Some(choice) = wire.choices.into_iter().next() else {
        return Ok(resp);
    };
    resp.finish = choice.finish_reason.as_deref().map(decode_finish);
    let msg = choice.message;
    if let Some(text) = msg
        .reasoning_content
        .or(msg.reasoning)
        .filter(|t| !t.is_empty())
    {
        resp.content.push(Part::Reasoning {
            text,
            signature: None,
            redacted: None,
        });
    }
    if let Some(text) = msg.content.filter(|t| !t.is_empty()) {
        resp.content.push(Part::Text { text });
    }
    if let Some(text) = msg.refusal.filter(|t| !t.is_empty()) {
        resp.content.push(Part::Text { text });
    }
    for call in msg.tool_calls.unwrap_or_default() {
        resp.content.push(decode_tool_call(call)?);
    }
    if let Some(f) = msg.function_call {
        let id = derived_call_id(&resp.id, 0);
        resp.content.push(Part::ToolCall {
            id,
            name: f.name,
            arguments: non_empty_args(f.arguments),
        });
    }
    Ok(resp)
}

/// A call id for a call the upstream did not name: `call_<response id
/// without its prefix>_<n>`.
pub(super) fn derived_call_id(response_id: &str, n: usize) -> String {
    let base = response_id.strip_prefix("chatcmpl-").unwrap_or(response_id);
    if base.is_empty() {
        super::super::generated_id("call_")
    } else {
        format!("call_{base}_{n}")
    }
}

pub(super) fn decode_finish(reason: &str) -> FinishReason {
    match reason {
        "stop" => FinishReason::Stop,
        "length" => FinishReason::Length,
        "tool_calls" | "function_call" => FinishReason::ToolCalls,
        "content_filter" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_string()),
    }
}

/// Chat knows five reasons; anything else is written as `stop`.
pub(super) fn encode_finish(reason: &FinishReason) -> &'static str {
    match reason {
        FinishReason::Stop | FinishReason::Other(_) => "stop",
        FinishReason::Length => "length",
        FinishReason::ToolCalls => "tool_calls",
        FinishReason::ContentFilter => "content_filter",
    }
}

/// Chat's `prompt_tokens` already include cached ones and
/// `completion_tokens` reasoning ones: the mapping is one to one.
pub(super) fn decode_usage(u: ChatUsage) -> Usage {
    let details = u.prompt_tokens_details.unwrap_or_default();
    Usage {
        input_tokens: u.prompt_tokens,
        output_tokens: u.completion_tokens,
        cache_read_tokens: details
            .cached_tokens
            .or(u.prompt_cache_hit_tokens)
            .unwrap_or(0),
        cache_write_tokens: details.cache_write_tokens.unwrap_or(0),
        reasoning_tokens: u
            .completion_tokens_details
            .and_then(|d| d.reasoning_tokens)
            .unwrap_or(0),
    }
}

/// Cache writes have no place in Chat usage and are dropped.
pub(super) fn encode_usage(u: &Usage) -> ChatUsage {
    ChatUsage {
        prompt_tokens: u.input_tokens,
        completion_tokens: u.output_tokens,
        total_tokens: u.input_tokens.saturating_add(u.output_tokens),
        prompt_tokens_details: Some(ChatPromptDetails {
            cached_tokens: Some(u.cache_read_tokens),
            cache_write_tokens: None,
        }),
        completion_tokens_details: Some(ChatCompletionDetails {
            reasoning_tokens: Some(u.reasoning_tokens),
        }),
        prompt_cache_hit_tokens: None,
    }
}

/// Writes the response as one choice. Reasoning goes in `reasoning_content`
/// (DeepSeek's field; signatures and redacted reasoning cannot be carried
/// and are dropped), texts are joined with blank lines.
pub(in crate::convert) fn encode_response(resp: &Response) -> Result<Vec<u8>, ConvertError> {
    let id = id_or_generated(&resp.id, "chatcmpl-");
    let mut texts: Vec<&str> = Vec::new();
    let mut reasoning: Vec<&str> = Vec::new();
    let mut calls = Vec::new();
    for part in &resp.content {
        match part {
            Part::Text { text } => texts.push(text),
            Part::Reasoning { text, .. } => {
                if !text.is_empty() {
                    reasoning.push(text);
                }
            }
            Part::ToolCall {
                id: call_id,
                name,
                arguments,
            } => {
                let call_id = if call_id.is_empty() {
                    derived_call_id(&id, calls.len())
                } else {
                    call_id.clone()
                };
                calls.push(encode_tool_call(call_id, name, arguments));
            }
            Part::Image { .. } | Part::ToolResult { .. } => {
                return Err(ConvertError::Unsupported(
                    "images and tool results in a response cannot be converted to OpenAI Chat"
                        .into(),
                ));
            }
        }
    }
    let finish = match &resp.finish {
        Some(r) => encode_finish(r),
        None if !calls.is_empty() => "tool_calls",
        None => "stop",
    };
    let wire = ChatCompletion {
        id,
        object: "chat.completion".into(),
        created: Some(resp.created.unwrap_or_else(super::super::unix_now)),
        model: resp.model.clone(),
        choices: vec![ChatChoice {
            index: 0,
            message: ChatResponseMessage {
                role: "assistant".into(),
                content: (!texts.is_empty()).then(|| texts.join("\n\n")),
                refusal: None,
                reasoning_content: (!reasoning.is_empty()).then(|| reasoning.join("\n\n")),
                reasoning: None,
                tool_calls: (!calls.is_empty()).then_some(calls),
                function_call: None,
                annotations: Some(Vec::new()),
            },
            logprobs: None,
            finish_reason: Some(finish.to_string()),
        }],
        usage: resp.usage.as_ref().map(encode_usage),
        system_fingerprint: None,
        extra: Map::new(),
    };
    serde_json::to_vec(&wire).map_err(|e| ConvertError::json("chat completion response", &e))
}
