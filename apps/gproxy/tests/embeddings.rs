//! Embeddings through the real binary: OpenAI-shaped calls to OpenAI-style
//! providers (same protocol, bytes forwarded), OpenAI-shaped calls to
//! Gemini providers (converted to `batchEmbedContents` and back, float and
//! base64), and Gemini-shaped calls passed through.
#![cfg(test)]

mod common;

use base64::Engine as _;
use common::*;
use gproxy_testkit::{Fault, MockUpstream, usage};
use serde_json::json;

#[tokio::test]
async fn openai_embeddings_to_openai_style_providers() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &config(&mock, "")).await;

    let body = json!({"model": "text-embedding-3-small", "input": ["a", "b"], "dimensions": 3});
    let reply = gw
        .post("/openai/v1/embeddings", ALICE_KEY, body.clone())
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let v = reply.json();
    assert_eq!(v["object"], "list");
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    assert_eq!(v["data"][1]["embedding"].as_array().unwrap().len(), 3);
    let up = mock.last_request().unwrap();
    assert_eq!(up.path, "/v1/embeddings");
    assert_eq!(
        up.header("authorization"),
        Some(format!("Bearer {OPENAI_KEY}").as_str())
    );
    assert_eq!(up.body, body.to_string().as_bytes(), "forwarded as bytes");

    let reply = gw
        .post(
            "/v1/embeddings",
            ALICE_KEY,
            json!({"model": "openai/text-embedding-3-small", "input": "hi"}),
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["model"], "openai/text-embedding-3-small");
    assert_eq!(
        mock.last_request().unwrap().json()["model"],
        "text-embedding-3-small"
    );
    assert!(
        mock.last_request()
            .unwrap()
            .json()
            .get("stream_options")
            .is_none()
    );

    let rid = reply.header("x-request-id").unwrap().to_owned();
    let row = gw.log_of(&rid).await;
    assert_eq!(row.protocol, "openai_embeddings");
    assert_eq!(row.input_tokens, Some(usage::INPUT));
    assert_eq!(row.output_tokens, Some(0));
}

#[tokio::test]
async fn openai_embeddings_to_a_gemini_provider_are_converted() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &config(&mock, "")).await;

    let reply = gw
        .post(
            "/v1/embeddings",
            ALICE_KEY,
            json!({"model": "aistudio/gemini-embedding-001", "input": ["a", "b"], "dimensions": 3}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let up = mock.last_request().unwrap();
    assert_eq!(
        up.path,
        "/v1beta/models/gemini-embedding-001:batchEmbedContents"
    );
    assert_eq!(up.header("x-goog-api-key"), Some(GEMINI_KEY));
    assert_eq!(
        up.json(),
        json!({"requests": [
            {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "a"}]}, "outputDimensionality": 3},
            {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "b"}]}, "outputDimensionality": 3},
        ]})
    );
    let v = reply.json();
    assert_eq!(v["object"], "list");
    assert_eq!(v["model"], "aistudio/gemini-embedding-001");
    assert_eq!(
        v["data"][0],
        json!({"object": "embedding", "index": 0, "embedding": [0.125, 0.125, 0.125]})
    );
    assert_eq!(v["data"][1]["embedding"], json!([0.25, 0.25, 0.25]));

    // What the OpenAI SDKs ask for by default: base64 of little-endian f32.
    let reply = gw
        .post(
            "/aistudio/v1/embeddings",
            ALICE_KEY,
            json!({"model": "gemini-embedding-001", "input": "a", "encoding_format": "base64"}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let v = reply.json();
    assert_eq!(v["model"], "gemini-embedding-001");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(v["data"][0]["embedding"].as_str().unwrap())
        .unwrap();
    let floats: Vec<f32> = bytes
        .chunks(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    assert_eq!(floats, vec![0.125; 4]);

    // Token ids cannot be converted: a clear 400 in the OpenAI shape, nothing sent.
    let before = mock.request_count();
    let reply = gw
        .post(
            "/v1/embeddings",
            ALICE_KEY,
            json!({"model": "aistudio/e", "input": [1, 2, 3]}),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert!(
        reply.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("token-id")
    );
    assert_eq!(mock.request_count(), before);

    // An upstream error on a converted call comes back in the client's shape.
    mock.push_fault(Fault::rate_limited(9));
    let reply = gw
        .post(
            "/v1/embeddings",
            ALICE_KEY,
            json!({"model": "aistudio/e", "input": "x"}),
        )
        .await;
    assert_eq!(reply.status, 429);
    assert_eq!(reply.header("retry-after"), Some("9"));
    let v = reply.json();
    assert_eq!(v["error"]["type"], "rate_limit_error", "{v}");
    assert!(v["error"]["message"].is_string());
}

#[tokio::test]
async fn gemini_embedding_calls_pass_through() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &config(&mock, "")).await;

    let body = json!({"content": {"parts": [{"text": "hi"}]}, "outputDimensionality": 2});
    let req = gw
        .request("POST", "/aistudio/v1beta/models/e-1:embedContent")
        .header("x-goog-api-key", ALICE_KEY);
    let reply = gw.send(req, body.to_string()).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.json(),
        json!({"embedding": {"values": [0.125, 0.125]}})
    );
    let up = mock.last_request().unwrap();
    assert_eq!(up.path, "/v1beta/models/e-1:embedContent");
    assert_eq!(up.body, body.to_string().as_bytes());

    let batch =
        json!({"requests": [{"model": "models/e-1", "content": {"parts": [{"text": "a"}]}}]});
    let req = gw.request(
        "POST",
        &format!("/v1beta/models/aistudio/e-1:batchEmbedContents?key={ALICE_KEY}"),
    );
    let reply = gw.send(req, batch.to_string()).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["embeddings"].as_array().unwrap().len(), 1);
    let up = mock.last_request().unwrap();
    assert_eq!(up.path, "/v1beta/models/e-1:batchEmbedContents");
    assert_eq!(up.header("x-goog-api-key"), Some(GEMINI_KEY));
    let rid = reply.header("x-request-id").unwrap().to_owned();
    assert_eq!(gw.log_of(&rid).await.protocol, "gemini_embed");

    // A provider without embeddings in its protocols: a clear 400.
    let reply = gw
        .post(
            "/claude/v1/embeddings",
            ALICE_KEY,
            json!({"model": "c", "input": "x"}),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert!(
        reply.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("does not speak")
    );
}
