//! Anthropic Messages through the real binary.
#![cfg(test)]

mod common;

use common::*;
use gproxy_testkit::{MockUpstream, usage};
use serde_json::json;

fn body(model: &str, stream: bool) -> serde_json::Value {
    json!({"model": model, "max_tokens": 64, "stream": stream, "messages": [{"role": "user", "content": "hi"}]})
}

#[tokio::test]
async fn messages_with_x_api_key_and_bearer_pass_version_and_beta_through() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &config(&mock, "")).await;

    // Classic SDK form: x-api-key + anthropic-version + anthropic-beta.
    let req = gw
        .request("POST", "/claude/v1/messages")
        .header("x-api-key", ALICE_KEY)
        .header("anthropic-version", "2023-06-01")
        .header("anthropic-beta", "prompt-caching-2024-07-31")
        .header("content-type", "application/json");
    let reply = gw
        .send(req, body("claude-sonnet-4-5", false).to_string())
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let v = reply.json();
    assert_eq!(v["type"], "message");
    assert_eq!(v["model"], "claude-sonnet-4-5");
    let up = mock.last_request().unwrap();
    assert_eq!(up.path, "/v1/messages");
    assert_eq!(up.header("x-api-key"), Some(CLAUDE_KEY));
    assert_eq!(up.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(
        up.header("anthropic-beta"),
        Some("prompt-caching-2024-07-31")
    );
    assert!(
        up.header("authorization").is_none(),
        "client bearer must not be forwarded"
    );

    // Current SDK form: Authorization: Bearer and a newer version header;
    // with no version header at all the gateway adds the default.
    let req = gw
        .request("POST", "/v1/messages")
        .header("authorization", format!("Bearer {ALICE_KEY}"))
        .header("content-type", "application/json");
    let reply = gw
        .send(req, body("claude/claude-sonnet-4-5", false).to_string())
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["model"], "claude/claude-sonnet-4-5");
    let up = mock.last_request().unwrap();
    assert_eq!(up.header("x-api-key"), Some(CLAUDE_KEY));
    assert_eq!(up.header("anthropic-version"), Some("2023-06-01"));
    assert!(up.header("authorization").is_none());
    assert_eq!(up.json()["model"], "claude-sonnet-4-5");

    let rows = gw.logs(2).await;
    for row in rows {
        assert_eq!(row.protocol, "claude");
        assert_eq!(row.input_tokens, Some(usage::INPUT));
        assert_eq!(row.output_tokens, Some(usage::OUTPUT));
        assert_eq!(row.cache_read_tokens, Some(usage::CACHE_READ));
        assert_eq!(row.cache_write_tokens, Some(usage::CACHE_WRITE));
    }
}

#[tokio::test]
async fn messages_stream_keeps_the_event_sequence_and_accounts_usage() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &config(&mock, "")).await;

    let req = gw
        .request("POST", "/v1/messages")
        .header("x-api-key", ALICE_KEY)
        .header("anthropic-version", "2023-06-01");
    let reply = gw
        .send(req, body("claude/claude-sonnet-4-5", true).to_string())
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let events = reply.events();
    let names: Vec<&str> = events.iter().map(|(e, _)| e.as_deref().unwrap()).collect();
    assert_eq!(names.first(), Some(&"message_start"));
    assert_eq!(names.last(), Some(&"message_stop"));
    assert!(names.contains(&"content_block_delta"));
    assert!(names.contains(&"message_delta"));
    let start: serde_json::Value = serde_json::from_str(&events[0].1).unwrap();
    assert_eq!(start["message"]["model"], "claude/claude-sonnet-4-5");

    let rid = reply.header("x-request-id").unwrap().to_owned();
    let row = gw.log_of(&rid).await;
    assert!(row.stream);
    assert_eq!(row.input_tokens, Some(usage::INPUT));
    assert_eq!(row.output_tokens, Some(usage::OUTPUT));
    assert_eq!(row.cache_write_tokens, Some(usage::CACHE_WRITE));

    // Provider route: bytes pass through untouched.
    let req = gw
        .request("POST", "/claude/v1/messages")
        .header("x-api-key", ALICE_KEY)
        .header("anthropic-version", "2023-06-01");
    let reply = gw
        .send(req, body("claude-sonnet-4-5", true).to_string())
        .await;
    let start: serde_json::Value = serde_json::from_str(&reply.events()[0].1).unwrap();
    assert_eq!(start["message"]["model"], "claude-sonnet-4-5");
}
