//! OpenAI Chat Completions, Responses and model list against the mock.
#![cfg(test)]

mod common;

use std::time::Duration;

use common::*;
use gproxy_testkit::usage;
use http::Method;
use serde_json::{Value, json};

fn assert_chat_usage(u: &Value) {
    assert_eq!(u["prompt_tokens"], usage::INPUT);
    assert_eq!(u["completion_tokens"], usage::OUTPUT);
    assert_eq!(u["total_tokens"], usage::INPUT + usage::OUTPUT);
    assert_eq!(
        u["prompt_tokens_details"]["cached_tokens"],
        usage::CACHE_READ
    );
    assert_eq!(
        u["completion_tokens_details"]["reasoning_tokens"],
        usage::REASONING
    );
}

#[tokio::test]
async fn chat_non_stream_is_a_chat_completion() {
    let up = upstream().await;
    let url = format!("{}/v1/chat/completions", up.base_url());
    let reply = post(&url, &[OPENAI_AUTH], &chat_body("gpt-test", false)).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let v = reply.json();
    assert_eq!(v["object"], "chat.completion");
    assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert!(v["created"].is_u64());
    assert_eq!(v["model"], "gpt-test");
    let choice = &v["choices"][0];
    assert_eq!(choice["index"], 0);
    assert_eq!(choice["finish_reason"], "stop");
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["message"]["content"], "Hello from mock gpt-test");
    assert_chat_usage(&v["usage"]);
    // Members in OpenAI's order, not sorted.
    assert_eq!(
        top_level_keys(&reply.text()),
        [
            "id",
            "object",
            "created",
            "model",
            "choices",
            "usage",
            "service_tier",
            "system_fingerprint"
        ]
    );
}

/// The keys of the JSON object `text`, in their order.
fn top_level_keys(text: &str) -> Vec<String> {
    let object: serde_json::Map<String, Value> = serde_json::from_str(text).unwrap();
    let mut keys: Vec<(usize, String)> = object
        .keys()
        .map(|k| (text.find(&format!("\"{k}\":")).unwrap(), k.clone()))
        .collect();
    keys.sort();
    keys.into_iter().map(|(_, k)| k).collect()
}

/// The `data:` payloads of a chat stream: chunks, then `[DONE]` last.
fn chat_chunks(reply: &Reply) -> Vec<Value> {
    let events = reply.sse();
    assert!(
        events.iter().all(|e| e.event.is_none()),
        "chat SSE has no event lines"
    );
    let (last, chunks) = events.split_last().unwrap();
    assert_eq!(last.data, "[DONE]");
    chunks.iter().map(SseEvent::json).collect()
}

fn content_of(chunks: &[Value]) -> String {
    chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect()
}

#[tokio::test]
async fn chat_stream_sends_role_deltas_finish_and_done() {
    let up = upstream().await;
    let url = format!("{}/v1/chat/completions", up.base_url());
    let reply = post(&url, &[OPENAI_AUTH], &chat_body("gpt-test", true)).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("text/event-stream"));
    let chunks = chat_chunks(&reply);
    // role, 3 deltas (default), finish
    assert_eq!(chunks.len(), 5);
    let id = chunks[0]["id"].clone();
    for chunk in &chunks {
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["id"], id);
        assert_eq!(chunk["model"], "gpt-test");
        assert!(
            chunk.get("usage").is_none(),
            "no usage without include_usage"
        );
    }
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    for chunk in &chunks[1..4] {
        assert!(chunk["choices"][0]["delta"]["content"].is_string());
        assert!(chunk["choices"][0]["finish_reason"].is_null());
    }
    assert_eq!(chunks[4]["choices"][0]["finish_reason"], "stop");
    assert_eq!(content_of(&chunks), "Hello from mock gpt-test");
}

#[tokio::test]
async fn chat_stream_include_usage_adds_null_usage_and_a_usage_chunk() {
    let up = upstream().await;
    let url = format!("{}/v1/chat/completions", up.base_url());
    let mut body = chat_body("gpt-test", true);
    body["stream_options"] = json!({ "include_usage": true });
    let reply = post(&url, &[OPENAI_AUTH], &body).await;
    let chunks = chat_chunks(&reply);
    assert_eq!(chunks.len(), 6);
    let (usage_chunk, rest) = chunks.split_last().unwrap();
    for chunk in rest {
        assert!(chunk["usage"].is_null());
        assert!(chunk.get("usage").is_some(), "usage key present as null");
        assert_eq!(chunk["choices"].as_array().unwrap().len(), 1);
    }
    assert_eq!(usage_chunk["choices"], json!([]));
    let events = reply.sse();
    assert_eq!(
        top_level_keys(&events[events.len() - 2].data),
        [
            "id",
            "object",
            "created",
            "model",
            "service_tier",
            "system_fingerprint",
            "choices",
            "usage"
        ]
    );
    assert_eq!(usage_chunk["object"], "chat.completion.chunk");
    assert_chat_usage(&usage_chunk["usage"]);
}

#[tokio::test]
async fn stream_deltas_concatenate_to_the_non_stream_text() {
    let up = upstream().await;
    up.set_stream_chunks(40, Duration::ZERO);
    let url = format!("{}/v1/chat/completions", up.base_url());
    let whole = post(&url, &[OPENAI_AUTH], &chat_body("m", false))
        .await
        .json();
    let streamed = post(&url, &[OPENAI_AUTH], &chat_body("m", true)).await;
    let chunks = chat_chunks(&streamed);
    assert_eq!(chunks.len(), 42);
    assert_eq!(
        whole["choices"][0]["message"]["content"].as_str().unwrap(),
        content_of(&chunks)
    );
}

#[tokio::test]
async fn chat_rejects_missing_auth_and_bad_bodies() {
    let up = upstream().await;
    let url = format!("{}/v1/chat/completions", up.base_url());
    for headers in [
        &[][..],
        &[("authorization", "Bearer ")][..],
        &[("authorization", "sk")][..],
    ] {
        let reply = post(&url, headers, &chat_body("m", false)).await;
        assert_eq!(reply.status, 401);
        let err = &reply.json()["error"];
        assert_eq!(err["type"], "invalid_request_error");
        assert!(err["message"].is_string());
        assert!(err.get("param").is_some() && err.get("code").is_some());
    }
    let cases = [
        (
            json!({ "messages": [{ "role": "user", "content": "x" }] }),
            Value::from("model"),
        ),
        (json!({ "model": "m" }), Value::from("messages")),
        (
            json!({ "model": "m", "messages": [] }),
            Value::from("messages"),
        ),
    ];
    for (body, param) in cases {
        let reply = post(&url, &[OPENAI_AUTH], &body).await;
        assert_eq!(reply.status, 400, "{body}");
        let err = &reply.json()["error"];
        assert_eq!(err["type"], "invalid_request_error");
        assert_eq!(err["param"], param);
    }
    let reply = send(Method::POST, &url, &[OPENAI_AUTH], "{not json").await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["error"]["type"], "invalid_request_error");
}

fn responses_body(stream: bool) -> Value {
    json!({ "model": "gpt-resp", "input": "hi", "stream": stream })
}

fn assert_responses_usage(u: &Value) {
    assert_eq!(u["input_tokens"], usage::INPUT);
    assert_eq!(u["output_tokens"], usage::OUTPUT);
    assert_eq!(u["total_tokens"], usage::INPUT + usage::OUTPUT);
    assert_eq!(
        u["input_tokens_details"]["cached_tokens"],
        usage::CACHE_READ
    );
    assert_eq!(
        u["output_tokens_details"]["reasoning_tokens"],
        usage::REASONING
    );
}

#[tokio::test]
async fn responses_non_stream_is_a_response_object() {
    let up = upstream().await;
    let url = format!("{}/v1/responses", up.base_url());
    let reply = post(&url, &[OPENAI_AUTH], &responses_body(false)).await;
    assert_eq!(reply.status, 200);
    let v = reply.json();
    assert_eq!(v["object"], "response");
    assert!(v["id"].as_str().unwrap().starts_with("resp_"));
    assert_eq!(v["status"], "completed");
    assert_eq!(v["model"], "gpt-resp");
    let item = &v["output"][0];
    assert_eq!(item["type"], "message");
    assert_eq!(item["role"], "assistant");
    assert_eq!(item["status"], "completed");
    assert_eq!(item["content"][0]["type"], "output_text");
    assert_eq!(item["content"][0]["text"], "Hello from mock gpt-resp");
    assert_responses_usage(&v["usage"]);
}

#[tokio::test]
async fn responses_stream_emits_the_full_event_sequence() {
    let up = upstream().await;
    let url = format!("{}/v1/responses", up.base_url());
    let reply = post(&url, &[OPENAI_AUTH], &responses_body(true)).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("text/event-stream"));
    let events = reply.sse();
    let kinds: Vec<&str> = events.iter().map(|e| e.event.as_deref().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    let payloads: Vec<Value> = events.iter().map(SseEvent::json).collect();
    for (i, (event, payload)) in events.iter().zip(&payloads).enumerate() {
        assert_eq!(payload["type"], event.event.as_deref().unwrap());
        assert_eq!(payload["sequence_number"], i as u64);
    }
    assert_eq!(payloads[0]["response"]["status"], "in_progress");
    assert!(payloads[0]["response"]["usage"].is_null());
    let item_id = payloads[2]["item"]["id"].clone();
    let text: String = payloads[4..7]
        .iter()
        .map(|p| {
            assert_eq!(p["item_id"], item_id);
            assert_eq!(p["output_index"], 0);
            assert_eq!(p["content_index"], 0);
            p["delta"].as_str().unwrap()
        })
        .collect();
    assert_eq!(text, "Hello from mock gpt-resp");
    assert_eq!(payloads[7]["text"], text);
    assert_eq!(payloads[8]["part"]["text"], text);
    assert_eq!(payloads[9]["item"]["status"], "completed");
    let done = &payloads[10]["response"];
    assert_eq!(done["status"], "completed");
    assert_eq!(done["output"][0]["content"][0]["text"], text);
    assert_responses_usage(&done["usage"]);
}

#[tokio::test]
async fn responses_validates_auth_and_input() {
    let up = upstream().await;
    let url = format!("{}/v1/responses", up.base_url());
    let reply = post(&url, &[], &responses_body(false)).await;
    assert_eq!(reply.status, 401);
    let reply = post(&url, &[OPENAI_AUTH], &json!({ "model": "m" })).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["error"]["param"], "input");
    let reply = post(&url, &[OPENAI_AUTH], &json!({ "input": "x" })).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["error"]["param"], "model");
}

#[tokio::test]
async fn model_list_is_an_openai_list() {
    let up = upstream().await;
    let reply = get(&format!("{}/v1/models", up.base_url()), &[OPENAI_AUTH]).await;
    assert_eq!(reply.status, 200);
    let v = reply.json();
    assert_eq!(v["object"], "list");
    let data = v["data"].as_array().unwrap();
    assert!(data.len() >= 2);
    for model in data {
        assert!(model["id"].is_string());
        assert_eq!(model["object"], "model");
        assert!(model["created"].is_u64());
        assert!(model["owned_by"].is_string());
    }
    let reply = get(&format!("{}/v1/models", up.base_url()), &[]).await;
    assert_eq!(reply.status, 401);
}

#[tokio::test]
async fn unknown_routes_are_openai_404s() {
    let up = upstream().await;
    let reply = post(
        &format!("{}/v1/nope", up.base_url()),
        &[OPENAI_AUTH],
        &json!({}),
    )
    .await;
    assert_eq!(reply.status, 404);
    let err = &reply.json()["error"];
    assert_eq!(err["type"], "invalid_request_error");
    assert_eq!(err["message"], "Invalid URL (POST /v1/nope)");
    let reply = get(
        &format!("{}/v1/chat/completions", up.base_url()),
        &[OPENAI_AUTH],
    )
    .await;
    assert_eq!(reply.status, 404);
    assert!(reply.json()["error"]["message"].is_string());
}
