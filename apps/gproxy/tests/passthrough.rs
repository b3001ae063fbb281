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

/// Paths an upstream (or a proxy before it) could resolve outside the
/// provider's base URL: refused with a 400 in the client's shape, and the
/// upstream never hears of them.
#[tokio::test]
async fn path_tricks_are_refused_without_an_upstream_call() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &config(&mock, "")).await;
    let tricks = [
        "/v1/../admin/x",
        "/../admin/x",
        "/v1/./files",
        "/v1/%2e%2e/admin",
        "/v1/%2E%2E/admin",
        "/v1/.%2e/admin",
        "/v1/..%2fadmin",
        "/v1/%2e%2e%5cadmin",
        "/v1/%252e%252e/admin",
        "/v1/files%5c..%5cadmin",
    ];
    for provider in ["openai", "claude", "aistudio"] {
        for trick in tricks {
            let path = format!("/{provider}{trick}");
            let req = gw
                .request("GET", &path)
                .header("authorization", format!("Bearer {ALICE_KEY}"));
            let reply = gw.send(req, "").await;
            assert_eq!(reply.status, 400, "{path}: {}", reply.text());
            let body = reply.json();
            match provider {
                "openai" => assert!(body["error"]["message"].is_string(), "{path}: {body}"),
                "claude" => assert_eq!(body["type"], "error", "{path}: {body}"),
                _ => assert_eq!(body["error"]["code"], 400, "{path}: {body}"),
            }
            let message = body.to_string();
            assert!(message.contains("not forwarded"), "{path}: {message}");
        }
    }
    // A raw backslash is no valid URI character for most clients: sent by hand.
    let addr = gw.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream
        .write_all(
            format!(
                "GET /openai/v1\\..\\admin HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {ALICE_KEY}\r\nconnection: close\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut raw),
    )
    .await;
    let head = String::from_utf8_lossy(&raw);
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    assert_eq!(mock.request_count(), 0, "{:?}", mock.requests());
    // The refusal is logged like any answered request.
    let logs = gw.logs(100).await;
    assert!(
        logs.iter()
            .any(|l| l.status == 400 && l.protocol == "passthrough"),
        "{logs:?}"
    );
    // An ordinary path still goes through.
    let req = gw
        .request("GET", "/openai/v1/files/file-1.jsonl")
        .header("authorization", format!("Bearer {ALICE_KEY}"));
    gw.send(req, "").await;
    assert_eq!(mock.last_request().unwrap().path, "/v1/files/file-1.jsonl");
}

/// A credential the gateway disabled (its key was refused upstream) is not
/// used for passthrough either: every call goes out with the other one.
#[tokio::test]
async fn passthrough_leases_skip_disabled_credentials() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &two_key_config(&mock, "")).await;
    mock.push_fault_for_key(K1, gproxy_testkit::Fault::unauthorized());
    // Two chat calls: whichever key comes first, K1 meets its 401 and is disabled.
    for _ in 0..2 {
        let reply = gw
            .post(
                "/openai/v1/chat/completions",
                ALICE_KEY,
                serde_json::json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
    let before = mock.request_count();
    for _ in 0..4 {
        let req = gw
            .request("GET", "/openai/v1/files")
            .header("authorization", format!("Bearer {ALICE_KEY}"));
        gw.send(req, "").await;
    }
    let keys: Vec<Option<String>> = mock.requests()[before..]
        .iter()
        .map(|r| r.header("authorization").map(str::to_owned))
        .collect();
    assert_eq!(keys, vec![Some(format!("Bearer {K2}")); 4]);
}

/// A custom provider's configured headers go with passthrough calls too.
#[tokio::test]
async fn custom_provider_headers_are_sent_on_passthrough() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let base = mock.base_url();
    let extra = format!(
        r#"
[[providers]]
name = "cchat"
kind = "custom"
protocol = "openai_chat"
base_url = "{base}/v1"
headers = {{ "x-extra" = "team-a" }}
[[providers.credentials]]
api_key = "sk-cchat-upstream"
"#
    );
    let gw = start(dir.path(), &format!("{}{extra}", config(&mock, ""))).await;
    let req = gw
        .request("GET", "/cchat/v1/files?limit=2")
        .header("authorization", format!("Bearer {ALICE_KEY}"))
        .header("x-extra", "from-client");
    gw.send(req, "").await;
    let up = mock.last_request().expect("forwarded");
    assert_eq!(up.path, "/v1/files");
    assert_eq!(up.header("x-extra"), Some("team-a"));
    assert_eq!(up.header("authorization"), Some("Bearer sk-cchat-upstream"));
}
