//! The mock's token-counting endpoints: shapes, counts, auth and refusals.
#![cfg(test)]

mod common;

use common::*;
use gproxy_testkit::mock_token_count;
use serde_json::json;

fn contents() -> serde_json::Value {
    json!([{ "role": "user", "parts": [{ "text": "hello" }] }])
}

#[tokio::test]
async fn anthropic_count_tokens() {
    let up = upstream().await;
    let target = format!("{}/v1/messages/count_tokens", up.base_url());
    let body = json!({"model": "claude-x", "messages": [{"role": "user", "content": "hi"}]});
    let reply = post(&target, &[CLAUDE_KEY, CLAUDE_VERSION], &body).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let sent = up.last_request().unwrap();
    assert_eq!(sent.path, "/v1/messages/count_tokens");
    assert_eq!(
        reply.json(),
        json!({"input_tokens": mock_token_count(&sent.body)})
    );

    let mut with_max = body.clone();
    with_max["max_tokens"] = json!(10);
    let reply = post(&target, &[CLAUDE_KEY, CLAUDE_VERSION], &with_max).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["error"]["type"], "invalid_request_error");
    let reply = post(&target, &[CLAUDE_VERSION], &body).await;
    assert_eq!(reply.status, 401);
}

#[tokio::test]
async fn openai_input_tokens() {
    let up = upstream().await;
    let target = format!("{}/v1/responses/input_tokens", up.base_url());
    let body = json!({"model": "gpt-x", "input": "hello there"});
    let reply = post(&target, &[OPENAI_AUTH], &body).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let n = mock_token_count(&up.last_request().unwrap().body);
    assert_eq!(
        reply.json(),
        json!({"object": "response.input_tokens", "input_tokens": n})
    );
    let reply = post(&target, &[], &body).await;
    assert_eq!(reply.status, 401);
}

#[tokio::test]
async fn gemini_count_tokens_in_both_forms_and_every_path() {
    let up = upstream().await;
    let base = up.base_url();
    for version in ["v1beta", "v1"] {
        let target = format!("{base}/{version}/models/g-1:countTokens");
        for body in [
            json!({ "contents": contents() }),
            json!({ "generateContentRequest": { "model": "models/g-1", "contents": contents() } }),
        ] {
            let reply = post(&target, &[GEMINI_KEY], &body).await;
            assert_eq!(reply.status, 200, "{}", reply.text());
            let n = mock_token_count(&up.last_request().unwrap().body);
            assert_eq!(reply.json()["totalTokens"], n);
            assert_eq!(reply.json()["promptTokensDetails"][0]["tokenCount"], n);
        }
        // A wrapped request needs `models/<model>`; both forms at once is refused.
        for body in [
            json!({ "generateContentRequest": { "contents": contents() } }),
            json!({ "contents": contents(), "generateContentRequest": { "model": "models/g-1", "contents": contents() } }),
            json!({ "contents": [] }),
        ] {
            let reply = post(&target, &[GEMINI_KEY], &body).await;
            assert_eq!(reply.status, 400, "{body}");
        }
        let reply = post(&target, &[], &json!({ "contents": contents() })).await;
        assert_eq!(reply.status, 403);
    }
    // Express mode takes the flat form only.
    let target = format!("{base}/v1/publishers/google/models/g-1:countTokens");
    let reply = post(&target, &[GEMINI_KEY], &json!({ "contents": contents() })).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let wrapped =
        json!({ "generateContentRequest": { "model": "models/g-1", "contents": contents() } });
    let reply = post(&target, &[GEMINI_KEY], &wrapped).await;
    assert_eq!(reply.status, 400);
}
