//! OpenAI Chat and Responses through the real binary: provider-prefixed and
//! aggregate routes, stream and non-stream, what the upstream received, and
//! what was accounted.
#![cfg(test)]

mod common;

use common::*;
use gproxy_testkit::{MockUpstream, usage};
use serde_json::json;

fn assert_upstream_auth(req: &gproxy_testkit::RecordedRequest) {
    assert_eq!(
        req.header("authorization"),
        Some(format!("Bearer {OPENAI_KEY}").as_str())
    );
    for (name, value) in &req.headers {
        let v = value.to_str().unwrap_or("");
        assert!(
            !v.contains(ALICE_KEY),
            "client key leaked upstream in {name}"
        );
    }
    assert!(req.header("x-api-key").is_none());
}

#[tokio::test]
async fn chat_non_stream_on_provider_and_aggregate_routes() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &config(&mock, "")).await;

    let body = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.2, "vendor_field": {"kept": true}});
    let reply = gw
        .post("/openai/v1/chat/completions", ALICE_KEY, body.clone())
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let v = reply.json();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], "gpt-4o-mini");
    assert!(
        v["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .contains("Hello")
    );
    let up = mock.last_request().unwrap();
    assert_eq!(up.path, "/v1/chat/completions");
    assert_upstream_auth(&up);
    // Same protocol, provider route: the body goes upstream untouched.
    assert_eq!(up.body, body.to_string().as_bytes());
    assert!(reply.header("x-request-id").is_some());

    let mut aggregate = body.clone();
    aggregate["model"] = json!("openai/gpt-4o-mini");
    let reply = gw.post("/v1/chat/completions", ALICE_KEY, aggregate).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["model"], "openai/gpt-4o-mini");
    let up = mock.last_request().unwrap();
    assert_eq!(up.json(), body, "prefix removed, nothing else changed");
    assert_upstream_auth(&up);

    let rows = gw.logs(2).await;
    assert_eq!(rows.len(), 2);
    for row in &rows {
        assert_eq!(row.status, 200);
        assert_eq!(row.provider.as_deref(), Some("openai"));
        assert_eq!(row.model.as_deref(), Some("gpt-4o-mini"));
        assert_eq!(row.user_name.as_deref(), Some("alice"));
        assert_eq!(row.key_prefix.as_deref(), Some("sk-ali"));
        assert_eq!(row.protocol, "openai_chat");
        assert_eq!(row.input_tokens, Some(usage::INPUT));
        assert_eq!(row.output_tokens, Some(usage::OUTPUT));
        assert_eq!(row.cache_read_tokens, Some(usage::CACHE_READ));
        assert_eq!(row.reasoning_tokens, Some(usage::REASONING));
        assert!(row.credential_id.is_some());
        assert!(!row.stream);
    }
}

#[tokio::test]
async fn chat_stream_asks_for_usage_and_strips_it_when_the_client_did_not() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &config(&mock, "")).await;

    let body = json!({"model": "openai/gpt-4o-mini", "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    let reply = gw.post("/v1/chat/completions", ALICE_KEY, body).await;
    assert_eq!(reply.status, 200);
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("text/event-stream")
    );
    let up = mock.last_request().unwrap().json();
    assert_eq!(up["stream_options"]["include_usage"], true);
    assert_eq!(up["model"], "gpt-4o-mini");

    let events = reply.events();
    assert_eq!(events.last().unwrap().1, "[DONE]");
    let chunks: Vec<serde_json::Value> = events[..events.len() - 1]
        .iter()
        .map(|(_, d)| serde_json::from_str(d).unwrap())
        .collect();
    assert!(chunks.len() >= 3);
    for c in &chunks {
        assert_eq!(c["object"], "chat.completion.chunk");
        assert_eq!(c["model"], "openai/gpt-4o-mini");
        assert!(
            !c["choices"].as_array().unwrap().is_empty(),
            "usage chunk must be stripped: {c}"
        );
    }
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert!(text.contains("Hello"));

    let rid = reply.header("x-request-id").unwrap().to_owned();
    let row = gw.log_of(&rid).await;
    assert!(row.stream);
    assert_eq!(row.status, 200);
    assert_eq!(row.input_tokens, Some(usage::INPUT));
    assert_eq!(row.output_tokens, Some(usage::OUTPUT));
    assert!(row.ttfb_ms.is_some());
    assert!(!row.client_disconnected);
}

#[tokio::test]
async fn chat_stream_keeps_the_usage_chunk_the_client_asked_for() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &config(&mock, "")).await;

    let body = json!({"model": "gpt-4o-mini", "stream": true, "stream_options": {"include_usage": true}, "messages": [{"role": "user", "content": "hi"}]});
    let reply = gw
        .post("/openai/v1/chat/completions", ALICE_KEY, body.clone())
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        mock.last_request().unwrap().body,
        body.to_string().as_bytes(),
        "forwarded as bytes"
    );
    let events = reply.events();
    assert_eq!(events.last().unwrap().1, "[DONE]");
    let usage_chunk: serde_json::Value = serde_json::from_str(&events[events.len() - 2].1).unwrap();
    assert_eq!(usage_chunk["choices"], json!([]));
    assert_eq!(usage_chunk["usage"]["prompt_tokens"], usage::INPUT);
    assert_eq!(usage_chunk["model"], "gpt-4o-mini");
}

#[tokio::test]
async fn responses_stream_and_non_stream() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &config(&mock, "")).await;

    let reply = gw
        .post(
            "/openai/v1/responses",
            ALICE_KEY,
            json!({"model": "gpt-4o-mini", "input": "hi"}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let v = reply.json();
    assert_eq!(v["object"], "response");
    assert_eq!(v["model"], "gpt-4o-mini");
    let up = mock.last_request().unwrap();
    assert_eq!(up.path, "/v1/responses");
    assert_upstream_auth(&up);

    let reply = gw
        .post(
            "/v1/responses",
            ALICE_KEY,
            json!({"model": "openai/gpt-4o-mini", "input": "hi", "stream": true}),
        )
        .await;
    assert_eq!(reply.status, 200);
    let up = mock.last_request().unwrap().json();
    assert_eq!(up["model"], "gpt-4o-mini");
    assert!(
        up.get("stream_options").is_none(),
        "only Chat gets stream_options"
    );
    let events = reply.events();
    let names: Vec<&str> = events.iter().filter_map(|(e, _)| e.as_deref()).collect();
    assert_eq!(names.first(), Some(&"response.created"));
    assert_eq!(names.last(), Some(&"response.completed"));
    assert!(names.contains(&"response.output_text.delta"));
    let created: serde_json::Value = serde_json::from_str(&events[0].1).unwrap();
    assert_eq!(created["response"]["model"], "openai/gpt-4o-mini");
    let completed: serde_json::Value = serde_json::from_str(&events.last().unwrap().1).unwrap();
    assert_eq!(completed["response"]["model"], "openai/gpt-4o-mini");
    assert_eq!(completed["response"]["usage"]["input_tokens"], usage::INPUT);

    let rid = reply.header("x-request-id").unwrap().to_owned();
    let row = gw.log_of(&rid).await;
    assert_eq!(row.protocol, "openai_responses");
    assert_eq!(row.input_tokens, Some(usage::INPUT));
    assert_eq!(row.output_tokens, Some(usage::OUTPUT));
    assert_eq!(row.cache_read_tokens, Some(usage::CACHE_READ));
    assert_eq!(row.reasoning_tokens, Some(usage::REASONING));
}
