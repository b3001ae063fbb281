//! Raw passthrough through the real binary: any other path under
//! `/{provider}/...` reaches the provider's base URL with the client's
//! credentials swapped for the provider's, any method, bodies streamed both
//! ways untouched, the upstream's answer returned as is.
#![cfg(test)]

mod common;

use common::*;
use gproxy_testkit::MockUpstream;

#[tokio::test]
async fn any_method_and_path_is_forwarded_with_the_provider_credential() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &config(&mock, "")).await;

    // A multipart upload, sent chunked (no declared length).
    let boundary = "----gproxy-test-boundary";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jsonl\"\r\n\r\n{}\r\n--{boundary}--\r\n",
        "{\"x\":1}\n".repeat(500)
    );
    let req = gw
        .request("POST", "/openai/v1/files?purpose=batch&key=ignored")
        .header("authorization", format!("Bearer {ALICE_KEY}"))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .header("openai-organization", "org-1");
    let reply = gw.send(req, body.clone()).await;
    let up = mock.last_request().expect("forwarded");
    assert_eq!(up.method, "POST");
    assert_eq!(up.path, "/v1/files");
    assert_eq!(
        up.query.as_deref(),
        Some("purpose=batch"),
        "the client's key parameter is removed"
    );
    assert_eq!(
        up.header("authorization"),
        Some(format!("Bearer {OPENAI_KEY}").as_str())
    );
    assert_eq!(
        up.header("content-type"),
        Some(format!("multipart/form-data; boundary={boundary}").as_str())
    );
    assert_eq!(up.header("openai-organization"), Some("org-1"));
    assert_eq!(up.body, body.as_bytes(), "body forwarded byte for byte");
    // The mock has no files endpoint: its own 404 comes back unchanged.
    assert_eq!(reply.status, 404);
    assert!(reply.json()["error"].is_object());

    // DELETE on Anthropic, with the version header the provider adds.
    let req = gw
        .request("DELETE", "/claude/v1/messages/batches/msgbatch_1")
        .header("x-api-key", ALICE_KEY);
    let reply = gw.send(req, "").await;
    let up = mock.last_request().unwrap();
    assert_eq!(
        (up.method.as_str(), up.path.as_str()),
        ("DELETE", "/v1/messages/batches/msgbatch_1")
    );
    assert_eq!(up.header("x-api-key"), Some(CLAUDE_KEY));
    assert_eq!(up.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(reply.status, 404);
    assert_eq!(reply.json()["type"], "error");

    // Gemini, key in the query: it never travels upstream.
    let reply = gw
        .send(
            gw.request(
                "GET",
                &format!("/aistudio/v1beta/cachedContents?pageSize=5&key={ALICE_KEY}"),
            ),
            "",
        )
        .await;
    let up = mock.last_request().unwrap();
    assert_eq!(up.path, "/v1beta/cachedContents");
    assert_eq!(up.query.as_deref(), Some("pageSize=5"));
    assert_eq!(up.header("x-goog-api-key"), Some(GEMINI_KEY));
    assert_eq!(reply.status, 404);
    assert_eq!(reply.json()["error"]["status"], "NOT_FOUND");

    let rid = reply.header("x-request-id").unwrap().to_owned();
    let row = gw.log_of(&rid).await;
    assert_eq!(row.protocol, "passthrough");
    assert_eq!(row.method, "GET");
    assert_eq!(row.provider.as_deref(), Some("aistudio"));
    assert_eq!(row.status, 404);
    assert!(row.credential_id.is_some());
}

#[tokio::test]
async fn upstream_answers_stream_back_untouched() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &config(&mock, "")).await;
    // The mock's model list, reached through the raw path of its Gemini API.
    let reply = gw
        .send(
            gw.request("GET", "/aistudio/v1beta/models")
                .header("x-goog-api-key", ALICE_KEY),
            "",
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(
        reply.json()["models"]
            .as_array()
            .is_some_and(|m| !m.is_empty())
    );
    assert_eq!(
        reply.header("content-length").map(str::to_owned),
        Some(reply.body.len().to_string()),
        "the upstream length is kept"
    );
}

#[tokio::test]
async fn passthrough_errors_are_clear() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(
        dir.path(),
        &config(&mock, "[limits]\nmax_passthrough_body_bytes = 1000"),
    )
    .await;

    let reply = gw.send(gw.request("POST", "/openai/v1/files"), "x").await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.json()["error"]["type"], "authentication_error");

    let reply = gw
        .post("/nope/v1/files", ALICE_KEY, serde_json::json!({}))
        .await;
    assert_eq!(reply.status, 404);
    assert!(
        reply.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("provider `nope` not found")
    );

    let before = mock.request_count();
    let req = gw
        .request("POST", "/claude/v1/files")
        .header("x-api-key", ALICE_KEY);
    let reply = gw.send(req, vec![b'a'; 4000]).await;
    assert_eq!(reply.status, 413);
    assert_eq!(
        reply.json()["error"]["type"],
        "request_too_large",
        "Anthropic shape for a claude provider"
    );
    assert_eq!(
        mock.request_count(),
        before,
        "refused before reaching the upstream"
    );

    // No declared length: the stream is cut at the limit.
    let req = gw
        .request("POST", "/openai/v1/files")
        .header("authorization", format!("Bearer {ALICE_KEY}"))
        .body(Chunked { left: 4, size: 500 })
        .unwrap();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http();
    let response = client.request(req).await.unwrap();
    assert_eq!(response.status(), 413);
}
