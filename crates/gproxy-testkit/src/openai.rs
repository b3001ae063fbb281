//! OpenAI wire formats: Chat Completions (`chat.completion` object and
//! `chat.completion.chunk` stream, with `stream_options.include_usage`),
//! Responses (`response` object and the semantic SSE events with
//! `sequence_number`), and the model list.

use http::{Response, StatusCode};
use serde_json::{Value, json};

use crate::body::MockBody;
use crate::fault::{json_response, openai_error};
use crate::server::{
    MockRequest, Reply, json_ok, json_ok_bytes, ordered_object, sse_data_bytes, sse_named,
    sse_response, unix_now,
};
use crate::{rules, usage};

/// The message OpenAI sends when no API key is given.
const NO_KEY: &str = "You didn't provide an API key. You need to provide your API key in an \
Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).";

/// The message OpenAI sends for a body that is not JSON.
const BAD_JSON: &str = "We could not parse the JSON body of your request. (HINT: This likely \
means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but \
what was sent was not valid JSON.)";

/// Chat Completions usage object.
fn chat_usage() -> Value {
    json!({
        "prompt_tokens": usage::INPUT,
        "completion_tokens": usage::OUTPUT,
        "total_tokens": usage::INPUT + usage::OUTPUT,
        "prompt_tokens_details": { "cached_tokens": usage::CACHE_READ, "audio_tokens": 0 },
        "completion_tokens_details": {
            "reasoning_tokens": usage::REASONING,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0
        }
    })
}

/// Responses usage object.
fn responses_usage() -> Value {
    json!({
        "input_tokens": usage::INPUT,
        "input_tokens_details": { "cached_tokens": usage::CACHE_READ },
        "output_tokens": usage::OUTPUT,
        "output_tokens_details": { "reasoning_tokens": usage::REASONING },
        "total_tokens": usage::INPUT + usage::OUTPUT
    })
}

/// 400 `invalid_request_error`.
pub(crate) fn invalid(
    message: &str,
    param: Option<&str>,
    code: Option<&str>,
) -> Response<MockBody> {
    openai_error(
        StatusCode::BAD_REQUEST,
        message,
        "invalid_request_error",
        param,
        code,
    )
}

/// 401: no API key.
pub(crate) fn unauthorized() -> Response<MockBody> {
    openai_error(
        StatusCode::UNAUTHORIZED,
        NO_KEY,
        "invalid_request_error",
        None,
        None,
    )
}

/// An error reply that rejects the request.
pub(crate) type Reject = Box<Response<MockBody>>;

/// Checks the bearer token, parses the body and reads its `model`.
pub(crate) fn authorize_and_parse(req: &MockRequest) -> Result<(Value, String), Reject> {
    if req.bearer().is_none() {
        return Err(Box::new(openai_error(
            StatusCode::UNAUTHORIZED,
            NO_KEY,
            "invalid_request_error",
            None,
            None,
        )));
    }
    let Some(body @ Value::Object(_)) = req.json() else {
        return Err(Box::new(invalid(BAD_JSON, None, None)));
    };
    match body.get("model").and_then(Value::as_str) {
        Some(model) if !model.is_empty() => {
            let model = model.to_owned();
            Ok((body, model))
        }
        _ => Err(Box::new(invalid(
            "you must provide a model parameter",
            Some("model"),
            None,
        ))),
    }
}

fn missing(param: &str) -> Response<MockBody> {
    invalid(
        &format!("Missing required parameter: '{param}'."),
        Some(param),
        Some("missing_required_parameter"),
    )
}

/// `POST /v1/chat/completions`.
pub(crate) fn chat(req: &MockRequest, reply: &Reply) -> Response<MockBody> {
    let (body, model) = match authorize_and_parse(req) {
        Ok(parsed) => parsed,
        Err(response) => return *response,
    };
    match body.get("messages") {
        None | Some(Value::Null) => return missing("messages"),
        Some(Value::Array(messages)) if messages.is_empty() => {
            return invalid(
                "Invalid 'messages': empty array. Expected an array with minimum length 1, \
                 but got an empty array instead.",
                Some("messages"),
                Some("empty_array"),
            );
        }
        Some(Value::Array(_)) => {}
        Some(_) => {
            return invalid(
                "Invalid type for 'messages': expected an array of objects.",
                Some("messages"),
                Some("invalid_type"),
            );
        }
    }
    if let Some((message, param, code)) = rules::chat(&body, &model) {
        return invalid(&message, Some(&param), Some(code));
    }
    let id = format!("chatcmpl-mock{:016x}", reply.id);
    let created = unix_now();
    let deltas = reply.deltas(&model);
    if body.get("stream").and_then(Value::as_bool) == Some(true) {
        let include_usage = body
            .pointer("/stream_options/include_usage")
            .and_then(Value::as_bool)
            == Some(true);
        return chat_stream(reply, &id, created, &model, &deltas, include_usage);
    }
    // In OpenAI's order (see `ordered_object`).
    let completion = ordered_object(&[
        ("id", json!(id)),
        ("object", json!("chat.completion")),
        ("created", json!(created)),
        ("model", json!(model)),
        (
            "choices",
            json!([{
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": deltas.concat(),
                    "refusal": null,
                    "annotations": []
                },
                "logprobs": null,
                "finish_reason": "stop"
            }]),
        ),
        ("usage", chat_usage()),
        ("service_tier", json!("default")),
        ("system_fingerprint", json!("fp_mock")),
    ]);
    json_ok_bytes(reply, completion)
}

fn chat_stream(
    reply: &Reply,
    id: &str,
    created: u64,
    model: &str,
    deltas: &[String],
    include_usage: bool,
) -> Response<MockBody> {
    // In OpenAI's order (see `ordered_object`).
    let chunk = |choices: Value, usage: Option<Value>| {
        let mut members = vec![
            ("id", json!(id)),
            ("object", json!("chat.completion.chunk")),
            ("created", json!(created)),
            ("model", json!(model)),
            ("service_tier", json!("default")),
            ("system_fingerprint", json!("fp_mock")),
            ("choices", choices),
        ];
        if include_usage {
            members.push(("usage", usage.unwrap_or(Value::Null)));
        }
        sse_data_bytes(&ordered_object(&members), b"\n\n")
    };
    let choice = |delta: Value, finish: Value| json!([{ "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish }]);
    let mut body = MockBody::stream(reply.delay);
    body.push(
        chunk(
            choice(
                json!({ "role": "assistant", "content": "", "refusal": null }),
                Value::Null,
            ),
            None,
        ),
        false,
    );
    for (i, text) in deltas.iter().enumerate() {
        body.push(
            chunk(choice(json!({ "content": text }), Value::Null), None),
            i > 0,
        );
    }
    body.push(chunk(choice(json!({}), json!("stop")), None), false);
    if include_usage {
        body.push(chunk(json!([]), Some(chat_usage())), false);
    }
    body.push(&b"data: [DONE]\n\n"[..], false);
    sse_response(reply.finish(body))
}

/// `POST /v1/responses`.
pub(crate) fn responses(req: &MockRequest, reply: &Reply) -> Response<MockBody> {
    let (body, model) = match authorize_and_parse(req) {
        Ok(parsed) => parsed,
        Err(response) => return *response,
    };
    match body.get("input") {
        None | Some(Value::Null) => return missing("input"),
        Some(Value::String(_) | Value::Array(_)) => {}
        Some(_) => {
            return invalid(
                "Invalid type for 'input': expected a string or an array of input items.",
                Some("input"),
                Some("invalid_type"),
            );
        }
    }
    if let Some((message, param, code)) = rules::responses(&body, &model) {
        return invalid(&message, Some(&param), Some(code));
    }
    let deltas = reply.deltas(&model);
    let text = deltas.concat();
    let id = format!("resp_mock{:016x}", reply.id);
    let msg_id = format!("msg_mock{:016x}", reply.id);
    let created = unix_now();
    let part = |text: &str| json!({ "type": "output_text", "annotations": [], "logprobs": [], "text": text });
    let item = |status: &str, content: Value| {
        json!({
            "id": msg_id, "type": "message", "status": status, "content": content, "role": "assistant"
        })
    };
    let response_object = |status: &str, output: Value, usage: Value| {
        json!({
            "id": id,
            "object": "response",
            "created_at": created,
            "status": status,
            "background": false,
            "error": null,
            "incomplete_details": null,
            "instructions": body.get("instructions").cloned().unwrap_or(Value::Null),
            "max_output_tokens": body.get("max_output_tokens").cloned().unwrap_or(Value::Null),
            "model": model,
            "output": output,
            "parallel_tool_calls": true,
            "previous_response_id": body.get("previous_response_id").cloned().unwrap_or(Value::Null),
            "reasoning": { "effort": null, "summary": null },
            "service_tier": "default",
            "store": body.get("store").and_then(Value::as_bool).unwrap_or(true),
            "temperature": 1.0,
            "text": { "format": { "type": "text" } },
            "tool_choice": "auto",
            "tools": [],
            "top_p": 1.0,
            "truncation": "disabled",
            "usage": usage,
            "user": null,
            "metadata": {}
        })
    };
    let done_item = item("completed", json!([part(&text)]));
    let completed = response_object("completed", json!([done_item.clone()]), responses_usage());
    if body.get("stream").and_then(Value::as_bool) != Some(true) {
        return json_ok(reply, &completed);
    }

    let mut stream = MockBody::stream(reply.delay);
    let mut seq = 0u64;
    let mut push = |event: Value, delayed: bool| {
        let mut event = event;
        event["sequence_number"] = json!(seq);
        seq += 1;
        let kind = event["type"].as_str().unwrap_or_default().to_owned();
        stream.push(sse_named(&kind, &event), delayed);
    };
    let in_progress = response_object("in_progress", json!([]), Value::Null);
    push(
        json!({ "type": "response.created", "response": in_progress }),
        false,
    );
    push(
        json!({ "type": "response.in_progress", "response": in_progress }),
        false,
    );
    push(
        json!({ "type": "response.output_item.added", "output_index": 0, "item": item("in_progress", json!([])) }),
        false,
    );
    push(
        json!({
            "type": "response.content_part.added", "item_id": msg_id,
            "output_index": 0, "content_index": 0, "part": part("")
        }),
        false,
    );
    for (i, delta) in deltas.iter().enumerate() {
        push(
            json!({
                "type": "response.output_text.delta", "item_id": msg_id,
                "output_index": 0, "content_index": 0, "delta": delta, "logprobs": []
            }),
            i > 0,
        );
    }
    push(
        json!({
            "type": "response.output_text.done", "item_id": msg_id,
            "output_index": 0, "content_index": 0, "text": text, "logprobs": []
        }),
        false,
    );
    push(
        json!({
            "type": "response.content_part.done", "item_id": msg_id,
            "output_index": 0, "content_index": 0, "part": part(&text)
        }),
        false,
    );
    push(
        json!({ "type": "response.output_item.done", "output_index": 0, "item": done_item }),
        false,
    );
    push(
        json!({ "type": "response.completed", "response": completed }),
        false,
    );
    sse_response(reply.finish(stream))
}

/// `GET /v1/models`.
/// `GET /v1/files`: the account's files, none uploaded (the list shape of
/// the Files API, cursor-paginated).
pub(crate) fn list_files(req: &MockRequest) -> Response<MockBody> {
    if req.bearer().is_none() {
        return openai_error(
            StatusCode::UNAUTHORIZED,
            NO_KEY,
            "invalid_request_error",
            None,
            None,
        );
    }
    let list = json!({
        "object": "list",
        "data": [],
        "first_id": null,
        "last_id": null,
        "has_more": false
    });
    json_response(StatusCode::OK, &list)
}

pub(crate) fn list_models(req: &MockRequest) -> Response<MockBody> {
    if req.bearer().is_none() {
        return openai_error(
            StatusCode::UNAUTHORIZED,
            NO_KEY,
            "invalid_request_error",
            None,
            None,
        );
    }
    let list = json!({
        "object": "list",
        "data": [
            { "id": "gpt-4o-mini", "object": "model", "created": 1_721_172_741u64, "owned_by": "system" },
            { "id": "gpt-4o", "object": "model", "created": 1_715_367_049u64, "owned_by": "system" }
        ]
    });
    json_response(StatusCode::OK, &list)
}
