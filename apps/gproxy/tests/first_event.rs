//! A stream is answered 200 only once its first upstream event is in
//! (bounded by the first-byte timeout), so an error the upstream sends as
//! its first event — Anthropic's `event: error` overloaded, an OpenAI error
//! chunk, a Gemini error element — is retried, cooled down and failed over
//! like the HTTP error it stands for; and an upstream line that never ends
//! ends the stream instead of growing the gateway's memory. Through the
//! real binary.
#![cfg(test)]

mod common;

use common::*;
use gproxy_testkit::{Fault, MockUpstream};
use serde_json::json;

const OVERLOADED: &str = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";

fn claude_stream() -> serde_json::Value {
    json!({"model": "claude-x", "max_tokens": 16, "stream": true, "messages": [{"role": "user", "content": "hi"}]})
}

fn chat_stream() -> serde_json::Value {
    json!({"model": "gpt-4o-mini", "stream": true, "messages": [{"role": "user", "content": "hi"}]})
}

#[tokio::test]
async fn an_overloaded_first_event_is_retried_like_a_529() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &config(&mock, "")).await;
    mock.push_fault(Fault::canned_sse(OVERLOADED));
    let reply = gw
        .post("/claude/v1/messages", ALICE_KEY, claude_stream())
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let events = reply.events();
    assert_eq!(
        events.first().and_then(|e| e.0.as_deref()),
        Some("message_start")
    );
    assert!(
        !reply.text().contains("overloaded_error"),
        "{}",
        reply.text()
    );
    assert_eq!(mock.request_count(), 2, "one retry after the in-stream 529");
    let rid = reply.header("x-request-id").unwrap().to_owned();
    let detail = gw.detail_of(&rid).await;
    assert_eq!(detail.attempts.len(), 2, "{:?}", detail.attempts);
    assert_eq!(detail.attempts[0].status, Some(529));
}

#[tokio::test]
async fn an_error_first_event_every_time_is_an_http_error_not_a_200() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &config(&mock, "")).await;
    for _ in 0..3 {
        mock.push_fault(Fault::canned_sse(OVERLOADED));
    }
    let reply = gw
        .post("/claude/v1/messages", ALICE_KEY, claude_stream())
        .await;
    assert_eq!(reply.status, 503, "{}", reply.text());
    assert_eq!(
        reply.header("x-llm-proxy-error-class"),
        Some("provider_degraded")
    );
    assert_eq!(reply.json()["type"], "error");
    assert_eq!(mock.request_count(), 3);
}

#[tokio::test]
async fn an_openai_rate_limit_chunk_moves_to_the_other_key() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &two_key_config(&mock, "")).await;
    let chunk = "data: {\"error\":{\"message\":\"Rate limit reached\",\"type\":\"tokens\",\"param\":null,\"code\":\"rate_limit_exceeded\"}}\n\n";
    mock.push_fault(Fault::canned_sse(chunk));
    let reply = gw
        .post("/openai/v1/chat/completions", ALICE_KEY, chat_stream())
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(reply.text().contains("[DONE]"));
    let keys: Vec<String> = mock
        .requests()
        .iter()
        .filter_map(|r| r.header("authorization").map(str::to_owned))
        .collect();
    assert_eq!(keys.len(), 2);
    assert_ne!(keys[0], keys[1], "the rate-limited key was cooled down");
}

#[tokio::test]
async fn a_converted_stream_and_a_gemini_array_see_their_first_errors_too() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &providers(&mock)).await;
    // An OpenAI Chat client on a Claude upstream: the 529 is retried.
    mock.push_fault(Fault::canned_sse(OVERLOADED));
    let reply = gw
        .post("/up-claude/v1/chat/completions", ALICE_KEY, chat_stream())
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(reply.text().contains("[DONE]"));
    assert_eq!(mock.request_count(), 2);

    // Gemini without alt=sse: an error element first, then a good answer.
    mock.push_fault(Fault::canned_json(
        "[{\"error\":{\"code\":503,\"message\":\"The model is overloaded.\",\"status\":\"UNAVAILABLE\"}}]",
    ));
    let reply = gw
        .post(
            "/aistudio/v1beta/models/g:streamGenerateContent",
            ALICE_KEY,
            json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(!reply.text().contains("overloaded"), "{}", reply.text());
    assert_eq!(mock.request_count(), 4);
}

/// An upstream that sends a line without end: the stream is ended with an
/// error once the line passes the decoder's bound (16 MiB), the gateway
/// stays up and keeps serving.
#[tokio::test]
async fn a_line_that_never_ends_is_cut_not_buffered() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &config(&mock, "")).await;
    // A first event, then 17 MiB without a line break.
    let body = format!(
        "data: {{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{{\"index\":0,\"delta\":{{\"role\":\"assistant\",\"content\":\"\"}}}}]}}\n\ndata: {{\"x\":\"{}",
        "a".repeat(17 << 20)
    );
    mock.push_fault(Fault::canned_sse(body));
    let req = gw
        .request("POST", "/openai/v1/chat/completions")
        .header("authorization", format!("Bearer {ALICE_KEY}"));
    let response = gw.open(req, chat_stream().to_string()).await;
    assert_eq!(response.status(), 200);
    let collected = http_body_util::BodyExt::collect(response.into_body()).await;
    assert!(collected.is_err(), "the stream must end with an error");
    let reply = gw
        .post("/openai/v1/chat/completions", ALICE_KEY, chat_stream())
        .await;
    assert_eq!(reply.status, 200, "still serving");
    let logs = gw.logs(10).await;
    assert!(
        logs.iter().any(|l| l
            .error
            .as_deref()
            .is_some_and(|e| e.contains("without ending"))),
        "{logs:?}"
    );
}
