//! Anthropic Messages wire format: the `message` object, the streamed events
//! (`message_start`, `content_block_start`, `ping`, `content_block_delta`
//! with `text_delta`, `content_block_stop`, `message_delta` with cumulative
//! usage, `message_stop`, each with an `event:` line), and the model list.

use http::{Response, StatusCode};
use serde_json::{Value, json};

use crate::body::MockBody;
use crate::fault::{claude_error, json_response};
use crate::server::{MockRequest, Reply, json_ok, sse_named, sse_response};
use crate::usage;

/// The authentication check shared by every Anthropic route: `x-api-key`
/// (non-empty) or `Authorization: Bearer`.
fn authorized(req: &MockRequest) -> bool {
    req.header("x-api-key")
        .is_some_and(|key| !key.trim().is_empty())
        || req.bearer().is_some()
}

fn invalid(message: &str, reply: &Reply) -> Response<MockBody> {
    claude_error(
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        message,
        reply.id,
    )
}

/// Usage as reported at the end (non-stream `usage`, `message_delta`).
fn final_usage() -> Value {
    json!({
        "input_tokens": usage::INPUT,
        "cache_creation_input_tokens": usage::CACHE_WRITE,
        "cache_read_input_tokens": usage::CACHE_READ,
        "output_tokens": usage::OUTPUT
    })
}

/// `POST /v1/messages`.
pub(crate) fn messages(req: &MockRequest, reply: &Reply) -> Response<MockBody> {
    if !authorized(req) {
        return claude_error(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "x-api-key header is required",
            reply.id,
        );
    }
    if req.header("anthropic-version").is_none_or(str::is_empty) {
        return invalid("anthropic-version: header is required", reply);
    }
    let Some(body @ Value::Object(_)) = req.json() else {
        return invalid(
            "There was an issue with the format of your request body.",
            reply,
        );
    };
    let Some(model) = body.get("model").and_then(Value::as_str) else {
        return invalid("model: Field required", reply);
    };
    if body.get("max_tokens").and_then(Value::as_u64).is_none() {
        return invalid("max_tokens: Field required", reply);
    }
    match body.get("messages") {
        Some(Value::Array(messages)) if !messages.is_empty() => {}
        Some(Value::Array(_)) => {
            return invalid("messages: at least one message is required", reply);
        }
        _ => return invalid("messages: Field required", reply),
    }
    if let Some(message) = crate::rules::claude(&body) {
        return invalid(&message, reply);
    }
    let id = format!("msg_mock{:016x}", reply.id);
    let deltas = reply.deltas(model);
    if body.get("stream").and_then(Value::as_bool) == Some(true) {
        return stream(reply, &id, model, &deltas);
    }
    let message = json!({
        "id": id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{ "type": "text", "text": deltas.concat() }],
        "stop_reason": "end_turn",
        "stop_sequence": null,
        "usage": final_usage()
    });
    json_ok(reply, &message)
}

fn stream(reply: &Reply, id: &str, model: &str, deltas: &[String]) -> Response<MockBody> {
    let mut body = MockBody::stream(reply.delay);
    let mut push = |event: Value, delayed: bool| {
        let kind = event["type"].as_str().unwrap_or_default().to_owned();
        body.push(sse_named(&kind, &event), delayed);
    };
    push(
        json!({
            "type": "message_start",
            "message": {
                "id": id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "stop_reason": null,
                "stop_sequence": null,
                "usage": {
                    "input_tokens": usage::INPUT,
                    "cache_creation_input_tokens": usage::CACHE_WRITE,
                    "cache_read_input_tokens": usage::CACHE_READ,
                    "output_tokens": 1
                }
            }
        }),
        false,
    );
    push(
        json!({
            "type": "content_block_start",
            "index": 0,
            "content_block": { "type": "text", "text": "" }
        }),
        false,
    );
    push(json!({ "type": "ping" }), false);
    for (i, text) in deltas.iter().enumerate() {
        push(
            json!({
                "type": "content_block_delta",
                "index": 0,
                "delta": { "type": "text_delta", "text": text }
            }),
            i > 0,
        );
    }
    push(json!({ "type": "content_block_stop", "index": 0 }), false);
    push(
        json!({
            "type": "message_delta",
            "delta": { "stop_reason": "end_turn", "stop_sequence": null },
            "usage": final_usage()
        }),
        false,
    );
    push(json!({ "type": "message_stop" }), false);
    sse_response(reply.finish(body))
}

/// `GET /v1/models` with an `anthropic-version` header.
pub(crate) fn list_models(req: &MockRequest, reply: &Reply) -> Response<MockBody> {
    if !authorized(req) {
        return claude_error(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "x-api-key header is required",
            reply.id,
        );
    }
    json_response(StatusCode::OK, &model_list())
}

/// The Anthropic model list the mock serves (API keys and OAuth alike).
pub(crate) fn model_list() -> serde_json::Value {
    json!({
        "data": [
            {
                "type": "model",
                "id": "claude-sonnet-4-5-20250929",
                "display_name": "Claude Sonnet 4.5",
                "created_at": "2025-09-29T00:00:00Z"
            },
            {
                "type": "model",
                "id": "claude-haiku-4-5-20251001",
                "display_name": "Claude Haiku 4.5",
                "created_at": "2025-10-01T00:00:00Z"
            }
        ],
        "has_more": false,
        "first_id": "claude-sonnet-4-5-20250929",
        "last_id": "claude-haiku-4-5-20251001"
    })
}
