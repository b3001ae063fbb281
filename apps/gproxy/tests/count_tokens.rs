//! Token counting through the real binary: native forwarding to each
//! provider's counting endpoint, cross-protocol counting through the
//! canonical model, local `o200k_base` counts, and errors in the client's
//! shape.
#![cfg(test)]

mod common;

use common::*;
use gproxy_testkit::{Fault, MockUpstream, RecordedRequest, mock_token_count};
use serde_json::{Value, json};

/// The harness providers plus `deepseek`, `groq` and `vertexexpress` on the
/// mock, a custom Claude provider that counts locally, and a model route.
fn count_config(mock: &MockUpstream) -> String {
    let base = mock.base_url();
    config(
        mock,
        &format!(
            r#"
[[providers]]
name = "deepseek"
base_url = "{base}/v1"
[[providers.credentials]]
api_key = "sk-deepseek-1"

[[providers]]
name = "groq"
base_url = "{base}/v1"
[[providers.credentials]]
api_key = "sk-groq-1"

[[providers]]
name = "vertexexpress"
base_url = "{base}"
[[providers.credentials]]
api_key = "AQ.express-1"

[[providers]]
name = "cclaude"
kind = "custom"
protocol = "claude"
base_url = "{base}"
count_tokens = "local"
[[providers.credentials]]
api_key = "sk-cclaude-1"

[[routes]]
model = "smart"
targets = ["claude/claude-sonnet-4-5"]
"#
        ),
    )
}

async fn gateway(mock: &MockUpstream) -> (tempfile::TempDir, Gateway) {
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &count_config(mock)).await;
    (dir, gw)
}

/// Tokens of one text in `o200k_base`, computed here independently of the
/// gateway.
fn tok(text: &str) -> u64 {
    tiktoken_rs::o200k_base().unwrap().count_ordinary(text) as u64
}

/// OpenAI's per-message overhead and reply priming, as the gateway documents.
const PER_MESSAGE: u64 = 3;
const PRIMING: u64 = 3;

fn claude_count(model: &str) -> Value {
    json!({
        "model": model,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "hello"}]
    })
}

fn gemini_contents() -> Value {
    json!([{"role": "user", "parts": [{"text": "hello"}]}])
}

async fn post_claude(gw: &Gateway, path: &str, body: &Value) -> Reply {
    let req = gw
        .request("POST", path)
        .header("x-api-key", ALICE_KEY)
        .header("anthropic-version", "2023-06-01")
        .header("content-type", "application/json");
    gw.send(req, body.to_string()).await
}

/// The texts of a Claude message's content (a string or text blocks).
fn claude_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| b["text"].as_str())
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

fn assert_upstream_count(reply: &Reply, provider: &str) {
    assert_eq!(reply.header("x-gproxy-count"), Some("upstream"));
    assert_eq!(reply.header("x-gproxy-provider"), Some(provider));
}

fn assert_local_count(reply: &Reply, provider: &str) {
    assert_eq!(reply.header("x-gproxy-count"), Some("local"));
    assert_eq!(reply.header("x-gproxy-provider"), Some(provider));
}

fn last(mock: &MockUpstream) -> RecordedRequest {
    mock.last_request().unwrap()
}

// ---------------------------------------------------------------- native

#[tokio::test]
async fn claude_count_tokens_is_forwarded_to_anthropic() {
    let mock = MockUpstream::start().await.unwrap();
    let (_dir, gw) = gateway(&mock).await;

    // Aggregate: the model is rewritten, the rest goes as sent.
    let body = claude_count("claude/claude-sonnet-4-5");
    let reply = post_claude(&gw, "/v1/messages/count_tokens", &body).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let up = last(&mock);
    assert_eq!(up.path, "/v1/messages/count_tokens");
    assert_eq!(up.header("x-api-key"), Some(CLAUDE_KEY));
    assert_eq!(up.header("anthropic-version"), Some("2023-06-01"));
    let mut expected = body.clone();
    expected["model"] = json!("claude-sonnet-4-5");
    assert_eq!(up.json(), expected);
    assert_eq!(
        reply.json(),
        json!({"input_tokens": mock_token_count(&up.body)})
    );
    assert_upstream_count(&reply, "claude");

    // Provider route: the bytes go untouched.
    let raw = r#"{"model": "claude-sonnet-4-5",  "messages": [{"role": "user", "content": "hi"}]}"#;
    let req = gw
        .request("POST", "/claude/v1/messages/count_tokens")
        .header("authorization", format!("Bearer {ALICE_KEY}"));
    let reply = gw.send(req, raw).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let up = last(&mock);
    assert_eq!(up.body, raw.as_bytes());
    assert!(up.header("authorization").is_none());
    assert_eq!(
        reply.json()["input_tokens"],
        mock_token_count(raw.as_bytes())
    );

    // A model route resolves as on generate calls.
    let reply = post_claude(&gw, "/v1/messages/count_tokens", &claude_count("smart")).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(last(&mock).json()["model"], "claude-sonnet-4-5");

    let rid = reply.header("x-request-id").unwrap().to_owned();
    let row = gw.log_of(&rid).await;
    assert_eq!(row.protocol, "claude_count_tokens");
    assert_eq!(row.provider.as_deref(), Some("claude"));
    assert_eq!(row.model.as_deref(), Some("claude-sonnet-4-5"));
    assert_eq!(row.status, 200);
    assert!(!row.stream);
    assert_eq!(row.input_tokens, None);
    assert_eq!(row.output_tokens, None);
}

#[tokio::test]
async fn gemini_count_tokens_is_forwarded_to_ai_studio_in_both_versions() {
    let mock = MockUpstream::start().await.unwrap();
    let (_dir, gw) = gateway(&mock).await;

    // `{contents}` on the aggregate v1beta path: body as is.
    let body = json!({"contents": gemini_contents()});
    let reply = gw
        .post(
            "/v1beta/models/aistudio/gemini-2.5-flash:countTokens",
            ALICE_KEY,
            body.clone(),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let up = last(&mock);
    assert_eq!(up.path, "/v1beta/models/gemini-2.5-flash:countTokens");
    assert_eq!(up.header("x-goog-api-key"), Some(GEMINI_KEY));
    assert!(up.header("authorization").is_none());
    assert_eq!(up.json(), body);
    let n = mock_token_count(&up.body);
    // The upstream's answer as is, details included.
    assert_eq!(
        reply.json(),
        json!({"totalTokens": n, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": n}]})
    );
    assert_upstream_count(&reply, "aistudio");

    // `{generateContentRequest}` on the aggregate v1 path, key in the query:
    // the inner model is rewritten to the upstream's.
    let wrapped = json!({"generateContentRequest": {
        "model": "models/aistudio/gemini-2.5-flash",
        "contents": gemini_contents()
    }});
    let req = gw
        .request(
            "POST",
            &format!("/v1/models/aistudio%2Fgemini-2.5-flash:countTokens?key={ALICE_KEY}"),
        )
        .header("content-type", "application/json");
    let reply = gw.send(req, wrapped.to_string()).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let up = last(&mock);
    assert_eq!(up.path, "/v1/models/gemini-2.5-flash:countTokens");
    assert_eq!(up.query, None, "the client key stays at the gateway");
    assert_eq!(
        up.json()["generateContentRequest"]["model"],
        "models/gemini-2.5-flash"
    );
    assert_eq!(reply.json()["totalTokens"], mock_token_count(&up.body));

    // Provider routes, both versions.
    for version in ["v1beta", "v1"] {
        let path = format!("/aistudio/{version}/models/gemini-2.5-pro:countTokens");
        let reply = gw.post(&path, ALICE_KEY, body.clone()).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert_eq!(
            last(&mock).path,
            format!("/{version}/models/gemini-2.5-pro:countTokens")
        );
        let rid = reply.header("x-request-id").unwrap().to_owned();
        let row = gw.log_of(&rid).await;
        assert_eq!(row.protocol, "gemini_count_tokens");
        assert_eq!(row.model.as_deref(), Some("gemini-2.5-pro"));
        assert_eq!(row.input_tokens, None);
    }
}

#[tokio::test]
async fn gemini_count_tokens_to_vertex_express_is_flattened() {
    let mock = MockUpstream::start().await.unwrap();
    let (_dir, gw) = gateway(&mock).await;
    let wrapped = json!({"generateContentRequest": {
        "model": "models/gemini-2.5-flash",
        "contents": gemini_contents(),
        "systemInstruction": {"parts": [{"text": "Be brief."}]}
    }});
    let reply = gw
        .post(
            "/vertexexpress/v1beta/models/gemini-2.5-flash:countTokens",
            ALICE_KEY,
            wrapped,
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let up = last(&mock);
    assert_eq!(
        up.path,
        "/v1/publishers/google/models/gemini-2.5-flash:countTokens"
    );
    assert_eq!(up.header("x-goog-api-key"), Some("AQ.express-1"));
    assert_eq!(
        up.json(),
        json!({
            "contents": gemini_contents(),
            "systemInstruction": {"parts": [{"text": "Be brief."}]}
        })
    );
    assert_eq!(reply.json()["totalTokens"], mock_token_count(&up.body));
}

#[tokio::test]
async fn responses_input_tokens_is_forwarded_to_openai() {
    let mock = MockUpstream::start().await.unwrap();
    let (_dir, gw) = gateway(&mock).await;
    let body =
        json!({"model": "openai/gpt-4o", "input": "hello there", "instructions": "Be brief."});
    let reply = gw
        .post("/v1/responses/input_tokens", ALICE_KEY, body.clone())
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let up = last(&mock);
    assert_eq!(up.path, "/v1/responses/input_tokens");
    assert_eq!(
        up.header("authorization"),
        Some(format!("Bearer {OPENAI_KEY}").as_str())
    );
    let mut expected = body;
    expected["model"] = json!("gpt-4o");
    assert_eq!(up.json(), expected);
    assert_eq!(
        reply.json(),
        json!({"object": "response.input_tokens", "input_tokens": mock_token_count(&up.body)})
    );
    assert_upstream_count(&reply, "openai");

    let reply = gw
        .post(
            "/openai/v1/responses/input_tokens",
            ALICE_KEY,
            json!({"model": "gpt-4o", "input": "x"}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let rid = reply.header("x-request-id").unwrap().to_owned();
    let row = gw.log_of(&rid).await;
    assert_eq!(row.protocol, "openai_input_tokens");
    assert_eq!(row.provider.as_deref(), Some("openai"));
}

// ------------------------------------------------------- errors

#[tokio::test]
async fn errors_come_in_the_clients_shape() {
    let mock = MockUpstream::start().await.unwrap();
    let (_dir, gw) = gateway(&mock).await;

    // No key.
    let req = gw.request("POST", "/v1/messages/count_tokens");
    let reply = gw
        .send(req, claude_count("claude/claude-sonnet-4-5").to_string())
        .await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.json()["type"], "error");
    assert_eq!(reply.json()["error"]["type"], "authentication_error");
    let req = gw.request("POST", "/v1beta/models/aistudio/g:countTokens");
    let reply = gw.send(req, "{}").await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.json()["error"]["status"], "UNAUTHENTICATED");
    let req = gw.request("POST", "/v1/responses/input_tokens");
    let reply = gw.send(req, "{}").await;
    assert_eq!(reply.status, 401);
    assert!(reply.json()["error"]["message"].is_string());
    assert_eq!(mock.request_count(), 0);

    // Unknown provider: 404.
    let reply = post_claude(&gw, "/v1/messages/count_tokens", &claude_count("nope/m")).await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.json()["error"]["type"], "not_found_error");
    let reply = gw
        .post("/v1beta/models/nope/m:countTokens", ALICE_KEY, json!({}))
        .await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.json()["error"]["status"], "NOT_FOUND");
    let reply = gw
        .post(
            "/nope/v1/responses/input_tokens",
            ALICE_KEY,
            json!({"model": "m"}),
        )
        .await;
    assert_eq!(reply.status, 404);
    assert!(reply.json()["error"]["message"].is_string());

    // Malformed body, missing model: 400.
    let req = gw
        .request("POST", "/v1/messages/count_tokens")
        .header("x-api-key", ALICE_KEY);
    let reply = gw.send(req, "{not json").await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["error"]["type"], "invalid_request_error");
    let reply = gw
        .post(
            "/v1/responses/input_tokens",
            ALICE_KEY,
            json!({"input": "x"}),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert!(
        reply.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("model")
    );
    let reply = gw
        .post(
            "/v1beta/models/aistudio/g:countTokens",
            ALICE_KEY,
            json!([1]),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["error"]["status"], "INVALID_ARGUMENT");

    // Wrong method.
    let req = gw
        .request("GET", "/v1/messages/count_tokens")
        .header("x-api-key", ALICE_KEY);
    let reply = gw.send(req, "").await;
    assert_eq!(reply.status, 405);
    assert_eq!(mock.request_count(), 0);

    // An upstream error in the client's protocol passes as is.
    mock.push_fault(Fault::rate_limited(7));
    let reply = post_claude(
        &gw,
        "/v1/messages/count_tokens",
        &claude_count("claude/claude-sonnet-4-5"),
    )
    .await;
    assert_eq!(reply.status, 429);
    assert_eq!(reply.header("retry-after"), Some("7"));
    assert_eq!(reply.json()["error"]["type"], "rate_limit_error");
    let rid = reply.header("x-request-id").unwrap().to_owned();
    let row = gw.log_of(&rid).await;
    assert_eq!(row.status, 429);
    assert_eq!(row.protocol, "claude_count_tokens");
}

// ------------------------------------------------------- local counts

#[tokio::test]
async fn claude_client_to_deepseek_counts_locally() {
    let mock = MockUpstream::start().await.unwrap();
    let (_dir, gw) = gateway(&mock).await;
    let schema = json!({"type": "object", "properties": {"city": {"type": "string"}}});
    let body = json!({
        "model": "deepseek/deepseek-chat",
        "system": "You are terse.",
        "messages": [
            {"role": "user", "content": "hello world"},
            {"role": "assistant", "content": "Hello, world!"},
            {"role": "user", "content": [{"type": "text", "text": "and again"}]}
        ],
        "tools": [{"name": "get_weather", "description": "Weather now.", "input_schema": schema}]
    });
    let reply = post_claude(&gw, "/v1/messages/count_tokens", &body).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let expected = PRIMING
        + (PER_MESSAGE + tok("You are terse."))
        + (PER_MESSAGE + tok("hello world"))
        + (PER_MESSAGE + tok("Hello, world!"))
        + (PER_MESSAGE + tok("and again"))
        + tok("get_weather")
        + tok("Weather now.")
        + tok(&schema.to_string());
    assert_eq!(reply.json(), json!({"input_tokens": expected}));
    assert_local_count(&reply, "deepseek");
    assert_eq!(mock.request_count(), 0, "a local count calls no upstream");
    let rid = reply.header("x-request-id").unwrap().to_owned();
    let row = gw.log_of(&rid).await;
    assert_eq!(row.protocol, "claude_count_tokens");
    assert_eq!(row.provider.as_deref(), Some("deepseek"));
    assert_eq!(row.model.as_deref(), Some("deepseek-chat"));
    assert_eq!(row.input_tokens, None);
}

#[tokio::test]
async fn responses_client_to_groq_counts_locally() {
    let mock = MockUpstream::start().await.unwrap();
    let (_dir, gw) = gateway(&mock).await;
    let body = json!({
        "model": "groq/llama-3.3-70b-versatile",
        "instructions": "Be brief.",
        "input": "hello world"
    });
    let reply = gw.post("/v1/responses/input_tokens", ALICE_KEY, body).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let expected = PRIMING + (PER_MESSAGE + tok("Be brief.")) + (PER_MESSAGE + tok("hello world"));
    assert_eq!(
        reply.json(),
        json!({"object": "response.input_tokens", "input_tokens": expected})
    );
    assert_local_count(&reply, "groq");
    assert_eq!(mock.request_count(), 0);
}

#[tokio::test]
async fn gemini_client_to_deepseek_and_local_custom_count_locally() {
    let mock = MockUpstream::start().await.unwrap();
    let (_dir, gw) = gateway(&mock).await;
    let reply = gw
        .post(
            "/deepseek/v1beta/models/deepseek-chat:countTokens",
            ALICE_KEY,
            json!({"generateContentRequest": {
                "model": "models/deepseek-chat",
                "systemInstruction": {"parts": [{"text": "Be brief."}]},
                "contents": [{"role": "user", "parts": [{"text": "hello world"}]}]
            }}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let expected = PRIMING + (PER_MESSAGE + tok("Be brief.")) + (PER_MESSAGE + tok("hello world"));
    assert_eq!(reply.json(), json!({"totalTokens": expected}));
    assert_local_count(&reply, "deepseek");

    // A custom Claude provider with `count_tokens = "local"` never asks upstream.
    let reply = post_claude(
        &gw,
        "/cclaude/v1/messages/count_tokens",
        &json!({"model": "m", "messages": [{"role": "user", "content": "hello world"}]}),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.json(),
        json!({"input_tokens": PRIMING + PER_MESSAGE + tok("hello world")})
    );
    assert_local_count(&reply, "cclaude");
    assert_eq!(mock.request_count(), 0);
}

#[tokio::test]
async fn a_missing_upstream_endpoint_falls_back_to_a_local_count() {
    let mock = MockUpstream::start().await.unwrap();
    let (_dir, gw) = gateway(&mock).await;
    mock.push_fault(Fault::Status {
        status: 404,
        retry_after: None,
        body: None,
    });
    let reply = post_claude(
        &gw,
        "/claude/v1/messages/count_tokens",
        &json!({"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "hello world"}]}),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.json(),
        json!({"input_tokens": PRIMING + PER_MESSAGE + tok("hello world")})
    );
    assert_local_count(&reply, "claude");
    assert_eq!(mock.request_count(), 1, "the upstream was asked first");
}

// ------------------------------------------------------- cross-protocol

#[tokio::test]
async fn claude_client_to_ai_studio_is_converted() {
    let mock = MockUpstream::start().await.unwrap();
    let (_dir, gw) = gateway(&mock).await;
    let reply = post_claude(
        &gw,
        "/v1/messages/count_tokens",
        &claude_count("aistudio/gemini-2.5-flash"),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let up = last(&mock);
    assert_eq!(up.path, "/v1beta/models/gemini-2.5-flash:countTokens");
    assert_eq!(up.header("x-goog-api-key"), Some(GEMINI_KEY));
    assert!(up.header("anthropic-version").is_none());
    let inner = &up.json()["generateContentRequest"];
    assert_eq!(inner["model"], "models/gemini-2.5-flash");
    assert_eq!(inner["contents"][0]["role"], "user");
    assert_eq!(inner["contents"][0]["parts"][0]["text"], "hello");
    assert_eq!(inner["systemInstruction"]["parts"][0]["text"], "Be brief.");
    assert!(inner.get("generationConfig").is_none(), "{inner}");
    assert_eq!(
        reply.json(),
        json!({"input_tokens": mock_token_count(&up.body)})
    );
    assert_upstream_count(&reply, "aistudio");

    // An upstream error is put in the client's shape, status kept.
    mock.push_fault(Fault::rate_limited(3));
    let reply = post_claude(
        &gw,
        "/v1/messages/count_tokens",
        &claude_count("aistudio/gemini-2.5-flash"),
    )
    .await;
    assert_eq!(reply.status, 429);
    assert_eq!(reply.header("retry-after"), Some("3"));
    assert_eq!(reply.json()["type"], "error");
}

#[tokio::test]
async fn gemini_client_to_claude_is_converted() {
    let mock = MockUpstream::start().await.unwrap();
    let (_dir, gw) = gateway(&mock).await;
    let reply = gw
        .post(
            "/v1beta/models/claude/claude-sonnet-4-5:countTokens",
            ALICE_KEY,
            json!({"contents": gemini_contents()}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let up = last(&mock);
    assert_eq!(up.path, "/v1/messages/count_tokens");
    assert_eq!(up.header("x-api-key"), Some(CLAUDE_KEY));
    let sent = up.json();
    assert_eq!(sent["model"], "claude-sonnet-4-5");
    assert_eq!(sent["messages"][0]["role"], "user");
    assert_eq!(claude_text(&sent["messages"][0]["content"]), "hello");
    for field in ["max_tokens", "stream", "temperature"] {
        assert!(sent.get(field).is_none(), "{field}: {sent}");
    }
    // Only the count: no details the upstream did not give.
    assert_eq!(
        reply.json(),
        json!({"totalTokens": mock_token_count(&up.body)})
    );
    assert_upstream_count(&reply, "claude");
}

#[tokio::test]
async fn responses_client_to_claude_and_claude_client_to_openai_are_converted() {
    let mock = MockUpstream::start().await.unwrap();
    let (_dir, gw) = gateway(&mock).await;
    let reply = gw
        .post(
            "/v1/responses/input_tokens",
            ALICE_KEY,
            json!({"model": "claude/claude-sonnet-4-5", "input": "hello", "instructions": "Be brief."}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let up = last(&mock);
    assert_eq!(up.path, "/v1/messages/count_tokens");
    assert_eq!(up.json()["model"], "claude-sonnet-4-5");
    assert_eq!(claude_text(&up.json()["messages"][0]["content"]), "hello");
    assert_eq!(
        reply.json(),
        json!({"object": "response.input_tokens", "input_tokens": mock_token_count(&up.body)})
    );

    let reply = post_claude(
        &gw,
        "/v1/messages/count_tokens",
        &claude_count("openai/gpt-4o"),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let up = last(&mock);
    assert_eq!(up.path, "/v1/responses/input_tokens");
    assert_eq!(
        up.header("authorization"),
        Some(format!("Bearer {OPENAI_KEY}").as_str())
    );
    let sent = up.json();
    assert_eq!(sent["model"], "gpt-4o");
    for field in ["stream", "max_output_tokens"] {
        assert!(sent.get(field).is_none(), "{field}: {sent}");
    }
    assert_eq!(
        reply.json(),
        json!({"input_tokens": mock_token_count(&up.body)})
    );
    assert_upstream_count(&reply, "openai");
}

#[tokio::test]
async fn vertex_counts_with_the_service_account_token_natively_and_converted() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let base = mock.base_url();
    let text = config(
        &mock,
        &format!(
            r#"
[[providers]]
name = "vertex"
base_url = "{base}"
project = "count-proj"
[[providers.credentials]]
name = "sa"
service_account = "${{TEST_SA_JSON}}"
"#
        ),
    );
    let sa = mock.service_account_json("sa-proj");
    let (gw, ()) = spawn_env(dir.path(), &text, &[], &[("TEST_SA_JSON", &sa)]).await;
    let gw = gw.unwrap_or_else(|e| panic!("gateway did not start: {e}"));
    const PATH: &str = "/v1/projects/count-proj/locations/us-central1/publishers/google/models/gemini-2.5-flash:countTokens";

    // Gemini client: the wrapped request is unwrapped to Vertex's form.
    let reply = gw
        .post(
            "/vertex/v1beta/models/gemini-2.5-flash:countTokens",
            ALICE_KEY,
            json!({"generateContentRequest": {
                "model": "models/gemini-2.5-flash",
                "contents": gemini_contents()
            }}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let up = last(&mock);
    assert_eq!(up.path, PATH);
    let issued = mock.issued_tokens();
    assert_eq!(
        up.header("authorization"),
        Some(format!("Bearer {}", issued[0]).as_str())
    );
    assert_eq!(up.json(), json!({"contents": gemini_contents()}));
    assert_eq!(reply.json()["totalTokens"], mock_token_count(&up.body));

    // Responses client: converted to Vertex's top-level form.
    let reply = gw
        .post(
            "/v1/responses/input_tokens",
            ALICE_KEY,
            json!({"model": "vertex/gemini-2.5-flash", "input": "hello", "instructions": "Be brief."}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let up = last(&mock);
    assert_eq!(up.path, PATH);
    let sent = up.json();
    assert!(sent.get("generateContentRequest").is_none(), "{sent}");
    assert_eq!(sent["contents"][0]["parts"][0]["text"], "hello");
    assert_eq!(sent["systemInstruction"]["parts"][0]["text"], "Be brief.");
    assert_eq!(
        reply.json(),
        json!({"object": "response.input_tokens", "input_tokens": mock_token_count(&up.body)})
    );
    assert_eq!(mock.token_exchanges(), 1, "one token for both calls");
}
