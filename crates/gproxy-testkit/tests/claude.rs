//! Anthropic Messages and model list against the mock.
#![cfg(test)]

mod common;

use common::*;
use gproxy_testkit::usage;
use serde_json::{Value, json};

fn messages_url(up: &gproxy_testkit::MockUpstream) -> String {
    format!("{}/v1/messages", up.base_url())
}

fn assert_final_usage(u: &Value) {
    assert_eq!(u["input_tokens"], usage::INPUT);
    assert_eq!(u["output_tokens"], usage::OUTPUT);
    assert_eq!(u["cache_read_input_tokens"], usage::CACHE_READ);
    assert_eq!(u["cache_creation_input_tokens"], usage::CACHE_WRITE);
}

fn assert_claude_error(reply: &Reply, status: u16, kind: &str) {
    assert_eq!(reply.status, status, "{}", reply.text());
    let v = reply.json();
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], kind);
    assert!(v["error"]["message"].is_string());
    assert!(v["request_id"].is_string());
    assert!(reply.header("request-id").is_some());
}

#[tokio::test]
async fn non_stream_is_a_message() {
    let up = upstream().await;
    let reply = post(
        &messages_url(&up),
        &[CLAUDE_KEY, CLAUDE_VERSION],
        &claude_body("claude-test", false),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let v = reply.json();
    assert!(v["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(v["type"], "message");
    assert_eq!(v["role"], "assistant");
    assert_eq!(v["model"], "claude-test");
    assert_eq!(
        v["content"],
        json!([{ "type": "text", "text": "Hello from mock claude-test" }])
    );
    assert_eq!(v["stop_reason"], "end_turn");
    assert!(v["stop_sequence"].is_null());
    assert_final_usage(&v["usage"]);
}

#[tokio::test]
async fn stream_follows_the_documented_event_flow() {
    let up = upstream().await;
    let reply = post(
        &messages_url(&up),
        &[CLAUDE_KEY, CLAUDE_VERSION],
        &claude_body("claude-test", true),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("text/event-stream"));
    let events = reply.sse();
    let kinds: Vec<&str> = events.iter().map(|e| e.event.as_deref().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
    );
    let payloads: Vec<Value> = events.iter().map(SseEvent::json).collect();
    for (event, payload) in events.iter().zip(&payloads) {
        assert_eq!(payload["type"], event.event.as_deref().unwrap());
    }
    let message = &payloads[0]["message"];
    assert_eq!(message["type"], "message");
    assert_eq!(message["role"], "assistant");
    assert_eq!(message["model"], "claude-test");
    assert_eq!(message["content"], json!([]));
    assert!(message["stop_reason"].is_null());
    assert_eq!(message["usage"]["input_tokens"], usage::INPUT);
    assert_eq!(
        message["usage"]["cache_read_input_tokens"],
        usage::CACHE_READ
    );
    assert_eq!(
        message["usage"]["cache_creation_input_tokens"],
        usage::CACHE_WRITE
    );
    assert_eq!(payloads[1]["index"], 0);
    assert_eq!(
        payloads[1]["content_block"],
        json!({ "type": "text", "text": "" })
    );
    let text: String = payloads[3..6]
        .iter()
        .map(|p| {
            assert_eq!(p["index"], 0);
            assert_eq!(p["delta"]["type"], "text_delta");
            p["delta"]["text"].as_str().unwrap()
        })
        .collect();
    assert_eq!(text, "Hello from mock claude-test");
    assert_eq!(payloads[6]["index"], 0);
    assert_eq!(payloads[7]["delta"]["stop_reason"], "end_turn");
    assert_final_usage(&payloads[7]["usage"]);
}

#[tokio::test]
async fn auth_version_and_body_are_validated() {
    let up = upstream().await;
    let url = messages_url(&up);
    let body = claude_body("m", false);

    let reply = post(&url, &[CLAUDE_VERSION], &body).await;
    assert_claude_error(&reply, 401, "authentication_error");
    let reply = post(&url, &[("x-api-key", ""), CLAUDE_VERSION], &body).await;
    assert_claude_error(&reply, 401, "authentication_error");

    let reply = post(
        &url,
        &[("authorization", "Bearer tok"), CLAUDE_VERSION],
        &body,
    )
    .await;
    assert_eq!(reply.status, 200, "bearer is accepted too");

    let reply = post(&url, &[CLAUDE_KEY], &body).await;
    assert_claude_error(&reply, 400, "invalid_request_error");

    for field in ["model", "max_tokens", "messages"] {
        let mut body = claude_body("m", false);
        body.as_object_mut().unwrap().remove(field);
        let reply = post(&url, &[CLAUDE_KEY, CLAUDE_VERSION], &body).await;
        assert_claude_error(&reply, 400, "invalid_request_error");
        let message = reply.json()["error"]["message"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(message.contains(field), "{message}");
    }
}

#[tokio::test]
async fn model_list_with_anthropic_version_is_anthropic_shaped() {
    let up = upstream().await;
    let url = format!("{}/v1/models", up.base_url());
    let reply = get(&url, &[CLAUDE_KEY, CLAUDE_VERSION]).await;
    assert_eq!(reply.status, 200);
    let v = reply.json();
    assert_eq!(v["has_more"], false);
    for model in v["data"].as_array().unwrap() {
        assert_eq!(model["type"], "model");
        assert!(model["id"].is_string());
        assert!(model["display_name"].is_string());
        assert!(model["created_at"].is_string());
    }
    let reply = get(&url, &[CLAUDE_VERSION]).await;
    assert_claude_error(&reply, 401, "authentication_error");
}

#[tokio::test]
async fn unknown_messages_route_is_an_anthropic_404() {
    let up = upstream().await;
    let url = format!("{}/v1/messages/batches/x", up.base_url());
    let reply = post(&url, &[CLAUDE_KEY, CLAUDE_VERSION], &json!({})).await;
    assert_claude_error(&reply, 404, "not_found_error");
}
