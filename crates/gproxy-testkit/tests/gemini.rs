//! Gemini generateContent / streamGenerateContent and model list against the
//! mock.
#![cfg(test)]

mod common;

use common::*;
use gproxy_testkit::{MockUpstream, usage};
use serde_json::{Value, json};

fn url(up: &MockUpstream, version: &str, model: &str, method: &str, query: &str) -> String {
    format!("{}/{version}/models/{model}:{method}{query}", up.base_url())
}

fn assert_full_usage(u: &Value) {
    assert_eq!(u["promptTokenCount"], usage::INPUT);
    assert_eq!(u["candidatesTokenCount"], usage::OUTPUT);
    assert_eq!(u["cachedContentTokenCount"], usage::CACHE_READ);
    assert_eq!(u["thoughtsTokenCount"], usage::REASONING);
    assert_eq!(
        u["totalTokenCount"],
        usage::INPUT + usage::OUTPUT + usage::REASONING
    );
}

fn text_of(chunk: &Value) -> &str {
    chunk["candidates"][0]["content"]["parts"][0]["text"]
        .as_str()
        .unwrap()
}

fn assert_gemini_error(reply: &Reply, status: u16, state: &str) {
    assert_eq!(reply.status, status, "{}", reply.text());
    let err = &reply.json()["error"];
    assert_eq!(err["code"], status);
    assert_eq!(err["status"], state);
    assert!(err["message"].is_string());
}

#[tokio::test]
async fn generate_content_is_a_generate_content_response() {
    let up = upstream().await;
    let target = url(&up, "v1beta", "gemini-test", "generateContent", "");
    let reply = post(&target, &[GEMINI_KEY], &gemini_body()).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let v = reply.json();
    let candidate = &v["candidates"][0];
    assert_eq!(candidate["content"]["role"], "model");
    assert_eq!(candidate["finishReason"], "STOP");
    assert_eq!(candidate["index"], 0);
    assert_eq!(text_of(&v), "Hello from mock gemini-test");
    assert_eq!(v["modelVersion"], "gemini-test");
    assert!(v["responseId"].is_string());
    assert_full_usage(&v["usageMetadata"]);
}

#[tokio::test]
async fn key_query_and_v1_paths_work() {
    let up = upstream().await;
    let target = url(&up, "v1", "gemini-v1", "generateContent", "?key=AIza-q");
    let reply = post(&target, &[], &gemini_body()).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["modelVersion"], "gemini-v1");
}

#[tokio::test]
async fn stream_with_alt_sse_sends_crlf_separated_data_events() {
    let up = upstream().await;
    let target = url(
        &up,
        "v1beta",
        "gemini-test",
        "streamGenerateContent",
        "?alt=sse",
    );
    let reply = post(&target, &[GEMINI_KEY], &gemini_body()).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("text/event-stream"));
    let raw = reply.text();
    assert!(raw.starts_with("data: {"));
    assert!(raw.ends_with("}\r\n\r\n"));
    assert_eq!(raw.matches("\r\n\r\n").count(), 3);
    let chunks: Vec<Value> = reply.sse().iter().map(SseEvent::json).collect();
    assert_eq!(chunks.len(), 3);
    let text: String = chunks.iter().map(text_of).collect();
    assert_eq!(text, "Hello from mock gemini-test");
    let mut previous = 0;
    for (i, chunk) in chunks.iter().enumerate() {
        assert_eq!(chunk["modelVersion"], "gemini-test");
        let meta = &chunk["usageMetadata"];
        assert_eq!(meta["promptTokenCount"], usage::INPUT);
        let so_far = meta["candidatesTokenCount"].as_u64().unwrap_or(0);
        assert!(so_far >= previous, "usage is cumulative");
        previous = so_far;
        let last = i == chunks.len() - 1;
        assert_eq!(chunk["candidates"][0].get("finishReason").is_some(), last);
    }
    assert_eq!(chunks[2]["candidates"][0]["finishReason"], "STOP");
    assert_full_usage(&chunks[2]["usageMetadata"]);
}

#[tokio::test]
async fn stream_without_alt_is_a_streamed_json_array() {
    let up = upstream().await;
    let target = url(&up, "v1beta", "gemini-test", "streamGenerateContent", "");
    let reply = post(&target, &[GEMINI_KEY], &gemini_body()).await;
    assert_eq!(reply.status, 200);
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let raw = reply.text();
    assert!(raw.starts_with("[{"));
    assert!(raw.ends_with("}\n]"));
    assert_eq!(raw.matches("\n,\r\n").count(), 2);
    let chunks = reply.json();
    let chunks = chunks.as_array().unwrap();
    assert_eq!(chunks.len(), 3);
    let text: String = chunks.iter().map(text_of).collect();
    assert_eq!(text, "Hello from mock gemini-test");
    assert_full_usage(&chunks[2]["usageMetadata"]);
}

#[tokio::test]
async fn missing_key_bad_body_and_unknown_method_are_google_errors() {
    let up = upstream().await;
    let target = url(&up, "v1beta", "g", "generateContent", "");
    let reply = post(&target, &[], &gemini_body()).await;
    assert_gemini_error(&reply, 403, "PERMISSION_DENIED");
    let reply = post(&target, &[("x-goog-api-key", "")], &gemini_body()).await;
    assert_gemini_error(&reply, 403, "PERMISSION_DENIED");

    for body in [json!({}), json!({ "contents": [] })] {
        let reply = post(&target, &[GEMINI_KEY], &body).await;
        assert_gemini_error(&reply, 400, "INVALID_ARGUMENT");
    }
    let target = url(&up, "v1beta", "g", "tunedModels", "");
    let reply = post(&target, &[GEMINI_KEY], &gemini_body()).await;
    assert_gemini_error(&reply, 404, "NOT_FOUND");
}

#[tokio::test]
async fn model_list_is_gemini_shaped() {
    let up = upstream().await;
    let target = format!("{}/v1beta/models", up.base_url());
    let reply = get(&target, &[GEMINI_KEY]).await;
    assert_eq!(reply.status, 200);
    let models = reply.json()["models"].as_array().unwrap().clone();
    assert!(models.len() >= 2);
    for model in &models {
        assert!(model["name"].as_str().unwrap().starts_with("models/"));
        assert!(model["displayName"].is_string());
        let methods = model["supportedGenerationMethods"].as_array().unwrap();
        assert!(methods.contains(&json!("generateContent")));
    }
    let reply = get(&target, &[]).await;
    assert_gemini_error(&reply, 403, "PERMISSION_DENIED");
}
