//! Gemini generateContent through the real binary: both API versions, SSE
//! and JSON-array streams, every key form, provider and aggregate routes.
#![cfg(test)]

mod common;

use common::*;
use gproxy_testkit::{MockUpstream, usage};
use serde_json::json;

fn body() -> String {
    json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}).to_string()
}

#[tokio::test]
async fn generate_content_in_every_route_form() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &config(&mock, "")).await;

    let cases = [
        // (client path, key form, upstream path)
        (
            "/aistudio/v1beta/models/gemini-2.0-flash:generateContent",
            "header",
            "/v1beta/models/gemini-2.0-flash:generateContent",
        ),
        (
            "/aistudio/v1/models/gemini-2.0-flash:generateContent",
            "query",
            "/v1/models/gemini-2.0-flash:generateContent",
        ),
        (
            "/v1beta/models/aistudio/gemini-2.0-flash:generateContent",
            "bearer",
            "/v1beta/models/gemini-2.0-flash:generateContent",
        ),
        (
            "/v1/models/aistudio/gemini-2.0-flash:generateContent",
            "header",
            "/v1/models/gemini-2.0-flash:generateContent",
        ),
    ];
    for (path, key_form, upstream_path) in cases {
        let (path, req) = match key_form {
            "query" => {
                let p = format!("{path}?key={ALICE_KEY}");
                (p.clone(), gw.request("POST", &p))
            }
            "bearer" => (
                path.to_owned(),
                gw.request("POST", path)
                    .header("authorization", format!("Bearer {ALICE_KEY}")),
            ),
            _ => (
                path.to_owned(),
                gw.request("POST", path).header("x-goog-api-key", ALICE_KEY),
            ),
        };
        let reply = gw.send(req, body()).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text());
        let v = reply.json();
        assert!(
            v["candidates"][0]["content"]["parts"][0]["text"]
                .as_str()
                .unwrap()
                .contains("Hello"),
            "{path}"
        );
        assert_eq!(v["usageMetadata"]["promptTokenCount"], usage::INPUT);
        let up = mock.last_request().unwrap();
        assert_eq!(up.path, upstream_path, "{path}");
        assert_eq!(up.header("x-goog-api-key"), Some(GEMINI_KEY), "{path}");
        assert!(
            up.query_param("key").is_none(),
            "client key must not travel in the upstream query"
        );
        assert!(up.header("authorization").is_none());
        assert_eq!(
            up.body,
            body().as_bytes(),
            "{path}: body forwarded as bytes"
        );
    }
    let rows = gw.logs(4).await;
    assert_eq!(rows.len(), 4);
    for row in rows {
        assert_eq!(row.protocol, "gemini");
        assert_eq!(row.model.as_deref(), Some("gemini-2.0-flash"));
        assert_eq!(row.input_tokens, Some(usage::INPUT));
        assert_eq!(row.output_tokens, Some(usage::OUTPUT));
        assert_eq!(row.cache_read_tokens, Some(usage::CACHE_READ));
        assert_eq!(row.reasoning_tokens, Some(usage::REASONING));
    }
}

#[tokio::test]
async fn stream_generate_content_with_and_without_alt_sse() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &config(&mock, "")).await;

    // alt=sse: SSE data events.
    let req = gw
        .request(
            "POST",
            "/aistudio/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse",
        )
        .header("x-goog-api-key", ALICE_KEY);
    let reply = gw.send(req, body()).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("text/event-stream")
    );
    let up = mock.last_request().unwrap();
    assert_eq!(
        up.path,
        "/v1beta/models/gemini-2.0-flash:streamGenerateContent"
    );
    assert_eq!(up.query_param("alt"), Some("sse"));
    let events = reply.events();
    assert!(events.len() >= 2);
    let last: serde_json::Value = serde_json::from_str(&events.last().unwrap().1).unwrap();
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");
    let rid = reply.header("x-request-id").unwrap().to_owned();
    let row = gw.log_of(&rid).await;
    assert!(row.stream);
    assert_eq!(row.input_tokens, Some(usage::INPUT));
    assert_eq!(row.output_tokens, Some(usage::OUTPUT));

    // No alt: a streamed JSON array, on the aggregate route under /v1.
    let req = gw
        .request(
            "POST",
            "/v1/models/aistudio/gemini-2.0-flash:streamGenerateContent",
        )
        .header("x-goog-api-key", ALICE_KEY);
    let reply = gw.send(req, body()).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let up = mock.last_request().unwrap();
    assert_eq!(up.path, "/v1/models/gemini-2.0-flash:streamGenerateContent");
    assert_eq!(up.query, None);
    let array = reply.json();
    let items = array.as_array().unwrap();
    assert!(items.len() >= 2);
    assert_eq!(
        items.last().unwrap()["usageMetadata"]["candidatesTokenCount"],
        usage::OUTPUT
    );
    let rid = reply.header("x-request-id").unwrap().to_owned();
    let row = gw.log_of(&rid).await;
    assert!(row.stream);
    assert_eq!(row.input_tokens, Some(usage::INPUT));
    assert_eq!(row.output_tokens, Some(usage::OUTPUT));
}
