//! Complete responses: the response object ⇄ the canonical [`Response`].

use super::super::common::id_or_generated;
use super::super::{ConvertError, Part, Response, ToolAliases, unix_now};
use super::request::reasoning_text;
use super::wire::{
    WireError, WireIncompleteDetails, WireOutputContent, WireOutputItem, WireResponse,
    WireSummaryPart,
};
use super::{
    ItemIds, echo_fields, finish_from_status, status_for_finish, usage_from_wire, usage_to_wire,
};

pub(crate) fn decode_response(body: &[u8]) -> Result<Response, ConvertError> {
    let wire: WireResponse =
        serde_json::from_slice(body).map_err(|e| ConvertError::json("Responses response", &e))?;
    from_wire(wire)
}

/// A wire response object → canonical (also used for the terminal stream
/// events' embedded response).
pub(super) fn from_wire(wire: WireResponse) -> Result<Response, ConvertError> {
    if wire.status.as_deref() == Some("failed") {
        let message = wire
            .error
            .map(|e| e.message)
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| "the response failed".into());
        return Err(ConvertError::Invalid(format!(
            "upstream response failed: {message}"
        )));
    }
    let mut content = Vec::new();
    let mut has_calls = false;
    for item in wire.output {
        match item {
            WireOutputItem::Message { content: parts, .. } => {
                for part in parts {
                    match part {
                        WireOutputContent::OutputText { text, .. } => {
                            content.push(Part::Text { text });
                        }
                        WireOutputContent::Refusal { refusal } => {
                            content.push(Part::Text { text: refusal });
                        }
                        WireOutputContent::Unknown => {
                            return Err(ConvertError::Unsupported(
                                "an output message part of an unknown type cannot be converted"
                                    .into(),
                            ));
                        }
                    }
                }
            }
            WireOutputItem::FunctionCall {
                call_id,
                name,
                arguments,
                ..
            } => {
                has_calls = true;
                content.push(Part::ToolCall {
                    id: call_id,
                    name,
                    arguments: if arguments.is_empty() {
                        "{}".into()
                    } else {
                        arguments
                    },
                });
            }
            WireOutputItem::Reasoning {
                summary,
                content: raw,
                encrypted_content,
                ..
            } => {
                let text = reasoning_text(&summary, raw.as_deref());
                content.push(Part::Reasoning {
                    text,
                    signature: encrypted_content,
                    redacted: None,
                });
            }
            // Built-in tool calls (web search, …) the gateway never asked
            // for carry nothing canonical; custom tool calls answer tools
            // a converted request never sends.
            WireOutputItem::CustomToolCall { .. } | WireOutputItem::Unknown => {}
        }
    }
    let reason = wire.incomplete_details.and_then(|d| d.reason);
    Ok(Response {
        id: wire.id,
        model: wire.model,
        created: wire.created_at,
        content,
        finish: Some(finish_from_status(
            wire.status.as_deref(),
            reason.as_deref(),
            has_calls,
        )),
        stop_sequence: None,
        usage: wire.usage.as_ref().map(usage_from_wire),
    })
}

/// The output items for canonical content, ids derived from the response id.
/// Images and tool results are not model output and are skipped, as is
/// redacted reasoning (no Responses form).
pub(super) fn output_items(ids: &ItemIds, content: &[Part]) -> Vec<WireOutputItem> {
    let mut out: Vec<WireOutputItem> = Vec::new();
    for part in content {
        let n = out.len();
        match part {
            Part::Text { text } => {
                let part = WireOutputContent::OutputText {
                    text: text.clone(),
                    annotations: Vec::new(),
                };
                if let Some(WireOutputItem::Message { content, .. }) = out.last_mut() {
                    content.push(part);
                } else {
                    out.push(message_item(ids.id("msg", n), vec![part]));
                }
            }
            Part::ToolCall {
                id,
                name,
                arguments,
            } => out.push(WireOutputItem::FunctionCall {
                id: ids.id("fc", n),
                call_id: id.clone(),
                name: name.clone(),
                namespace: None,
                arguments: arguments.clone(),
                status: Some("completed".into()),
            }),
            Part::Reasoning {
                text,
                signature,
                redacted: None,
            } => out.push(reasoning_item(
                ids.id("rs", n),
                text.clone(),
                signature.clone(),
            )),
            Part::Reasoning {
                redacted: Some(_), ..
            }
            | Part::Image { .. }
            | Part::ToolResult { .. } => {}
        }
    }
    out
}

pub(super) fn message_item(id: String, content: Vec<WireOutputContent>) -> WireOutputItem {
    WireOutputItem::Message {
        id,
        status: Some("completed".into()),
        role: "assistant".into(),
        content,
    }
}

pub(super) fn reasoning_item(
    id: String,
    text: String,
    signature: Option<String>,
) -> WireOutputItem {
    WireOutputItem::Reasoning {
        id,
        summary: if text.is_empty() {
            Vec::new()
        } else {
            vec![WireSummaryPart::new(text)]
        },
        content: None,
        encrypted_content: signature,
    }
}

/// The full response object (also the payload of terminal stream events).
pub(super) fn to_wire(resp: &Response, status_override: Option<WireError>) -> WireResponse {
    let id = id_or_generated(&resp.id, "resp_");
    let ids = ItemIds::new(&id);
    let output = output_items(&ids, &resp.content);
    let (status, reason) = status_for_finish(resp.finish.as_ref());
    let failed = status_override.is_some();
    WireResponse {
        output,
        object: "response".into(),
        created_at: Some(resp.created.unwrap_or_else(unix_now)),
        status: Some(if failed { "failed" } else { status }.into()),
        incomplete_details: reason
            .filter(|_| !failed)
            .map(|r| WireIncompleteDetails { reason: Some(r) }),
        error: status_override,
        model: resp.model.clone(),
        usage: resp.usage.as_ref().map(usage_to_wire),
        extra: echo_fields(),
        id,
    }
}

pub(crate) fn encode_response(
    resp: &Response,
    aliases: &ToolAliases,
) -> Result<Vec<u8>, ConvertError> {
    let mut wire = to_wire(resp, None);
    for item in &mut wire.output {
        restore_namespace(item, aliases);
    }
    serde_json::to_vec(&wire).map_err(|e| ConvertError::json("Responses response", &e))
}

/// A function call under a flat name, back in the client's form: its own
/// `name` and a `namespace` field, as Codex expects, and for a free-form
/// tool a `custom_tool_call` whose `input` is the call's `input` argument.
pub(super) fn restore_namespace(item: &mut WireOutputItem, aliases: &ToolAliases) {
    let WireOutputItem::FunctionCall {
        id,
        call_id,
        name,
        namespace,
        arguments,
        status,
    } = item
    else {
        return;
    };
    let Some(alias) = aliases.get(name) else {
        return;
    };
    if !alias.custom {
        namespace.clone_from(&alias.namespace);
        name.clone_from(&alias.name);
        return;
    }
    let input = serde_json::from_str::<serde_json::Value>(arguments)
        .ok()
        .and_then(|v| v.get("input").and_then(|i| i.as_str()).map(str::to_owned))
        .unwrap_or_else(|| arguments.clone());
    *item = WireOutputItem::CustomToolCall {
        id: std::mem::take(id),
        call_id: std::mem::take(call_id),
        name: alias.name.clone(),
        namespace: alias.namespace.clone(),
        input,
        status: status.take(),
    };
}
