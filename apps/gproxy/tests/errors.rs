//! Errors through the real binary, each in the shape of the protocol the
//! client spoke: bad keys, malformed JSON, oversized bodies, unknown
//! providers and routes, upstream errors passed through, and upstream
//! answers that are not HTTP/1.1.
#![cfg(test)]

mod common;

use common::*;
use gproxy_testkit::{Fault, MockUpstream};
use serde_json::json;

/// (path, a valid body) for each protocol.
fn routes() -> Vec<(&'static str, &'static str, serde_json::Value)> {
    vec![
        (
            "openai_chat",
            "/openai/v1/chat/completions",
            json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}),
        ),
        (
            "openai_responses",
            "/openai/v1/responses",
            json!({"model": "gpt-4o-mini", "input": "hi"}),
        ),
        (
            "claude",
            "/claude/v1/messages",
            json!({"model": "claude-sonnet-4-5", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}),
        ),
        (
            "gemini",
            "/aistudio/v1beta/models/gemini-2.0-flash:generateContent",
            json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}),
        ),
    ]
}

/// Asserts `v` is an error body in `protocol`'s shape and returns its message.
fn assert_shape(protocol: &str, v: &serde_json::Value, status: u16) -> String {
    match protocol {
        "openai_chat" | "openai_responses" => {
            assert!(v["error"]["type"].is_string(), "{v}");
            assert!(v["error"].get("param").is_some(), "{v}");
            v["error"]["message"].as_str().unwrap().to_owned()
        }
        "claude" => {
            assert_eq!(v["type"], "error", "{v}");
            assert!(v["error"]["type"].is_string(), "{v}");
            v["error"]["message"].as_str().unwrap().to_owned()
        }
        "gemini" => {
            assert_eq!(v["error"]["code"], status, "{v}");
            assert!(v["error"]["status"].is_string(), "{v}");
            v["error"]["message"].as_str().unwrap().to_owned()
        }
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn missing_and_wrong_keys_get_401_in_each_shape_and_never_reach_upstream() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &config(&mock, "")).await;
    for (protocol, path, body) in routes() {
        let reply = gw.send(gw.request("POST", path), body.to_string()).await;
        assert_eq!(reply.status, 401, "{path}");
        let msg = assert_shape(protocol, &reply.json(), 401);
        assert!(msg.contains("missing API key"), "{msg}");

        let reply = gw.post(path, "sk-wrong-key-123456", body.clone()).await;
        assert_eq!(reply.status, 401, "{path}");
        assert!(assert_shape(protocol, &reply.json(), 401).contains("invalid API key"));
    }
    assert_eq!(reply_shape_of_gemini_401(&gw).await, "UNAUTHENTICATED");
    assert_eq!(mock.request_count(), 0);
    // The admin key works on proxy routes too.
    let reply = gw
        .post(
            "/openai/v1/chat/completions",
            ADMIN_KEY,
            routes()[0].2.clone(),
        )
        .await;
    assert_eq!(reply.status, 200);
}

async fn reply_shape_of_gemini_401(gw: &Gateway) -> String {
    let reply = gw
        .send(
            gw.request(
                "POST",
                "/v1beta/models/aistudio/g:generateContent?key=nope-nope-nope",
            ),
            "{}",
        )
        .await;
    reply.json()["error"]["status"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn malformed_json_is_400_in_each_shape() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &config(&mock, "")).await;
    for (protocol, path, _) in routes() {
        for bad in ["{not json", "[1,2]", ""] {
            let req = gw
                .request("POST", path)
                .header("authorization", format!("Bearer {ALICE_KEY}"));
            let reply = gw.send(req, bad).await;
            assert_eq!(reply.status, 400, "{path} {bad:?}: {}", reply.text());
            let msg = assert_shape(protocol, &reply.json(), 400);
            assert!(msg.contains("invalid request body"), "{msg}");
        }
    }
    // A body without a model on a model-in-body route.
    let reply = gw
        .post("/v1/chat/completions", ALICE_KEY, json!({"messages": []}))
        .await;
    assert_eq!(reply.status, 400);
    assert!(assert_shape("openai_chat", &reply.json(), 400).contains("`model` is required"));
    assert_eq!(mock.request_count(), 0);
}

#[tokio::test]
async fn oversized_bodies_are_413_in_each_shape() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(
        dir.path(),
        &config(&mock, "[limits]\nmax_body_bytes = 2048"),
    )
    .await;
    let big = "x".repeat(4096);
    for (protocol, path, mut body) in routes() {
        body["padding"] = json!(big);
        // Declared length over the limit.
        let reply = gw.post(path, ALICE_KEY, body.clone()).await;
        assert_eq!(reply.status, 413, "{path}");
        let msg = assert_shape(protocol, &reply.json(), 413);
        assert!(msg.contains("2048"), "{msg}");
        // Chunked body with no declared length.
        let req = gw
            .request("POST", path)
            .header("authorization", format!("Bearer {ALICE_KEY}"))
            .body(Chunked {
                left: 4,
                size: 1024,
            })
            .unwrap();
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http();
        let response = client.request(req).await.unwrap();
        assert_eq!(response.status(), 413, "{path} chunked");
    }
    assert_eq!(mock.request_count(), 0);
}

#[tokio::test]
async fn unknown_provider_route_and_model_form_are_clear_4xx() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &config(&mock, "")).await;

    let reply = gw
        .post(
            "/v1/chat/completions",
            ALICE_KEY,
            json!({"model": "nope/gpt", "messages": []}),
        )
        .await;
    assert_eq!(reply.status, 404);
    let message = assert_shape("openai_chat", &reply.json(), 404);
    assert!(message.contains("provider `nope` not found"), "{message}");
    assert!(message.contains("GET /v1/models"), "{message}");

    let reply = gw
        .post(
            "/v1/messages",
            ALICE_KEY,
            json!({"model": "claude-sonnet-4-5", "max_tokens": 1, "messages": []}),
        )
        .await;
    // A bare model that is no model route's name: not found, with the way out.
    assert_eq!(reply.status, 404);
    let message = assert_shape("claude", &reply.json(), 404);
    assert!(
        message.contains("model `claude-sonnet-4-5` not found"),
        "{message}"
    );
    assert!(message.contains("provider/model"), "{message}");
    assert!(message.contains("GET /v1/models"), "{message}");

    // A request the provider's protocol cannot express (converted calls).
    let reply = gw
        .post(
            "/claude/v1/chat/completions",
            ALICE_KEY,
            json!({"model": "x", "n": 2, "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert!(assert_shape("openai_chat", &reply.json(), 400).contains("`n`"));

    let reply = gw.post("/v1/nothing", ALICE_KEY, json!({})).await;
    assert_eq!(reply.status, 404);
    assert_shape("openai_chat", &reply.json(), 404);

    let reply = gw
        .send(gw.request("GET", "/openai/v1/chat/completions"), "")
        .await;
    assert_eq!(reply.status, 405);
    assert_eq!(mock.request_count(), 0);
}

#[tokio::test]
async fn upstream_errors_keep_status_headers_and_body() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &config(&mock, "")).await;
    let r = routes();

    mock.push_fault(Fault::rate_limited(17));
    let reply = gw.post(r[0].1, ALICE_KEY, r[0].2.clone()).await;
    assert_eq!(reply.status, 429);
    assert_eq!(reply.header("retry-after"), Some("17"));
    assert_eq!(
        reply.json()["error"]["code"],
        "rate_limit_exceeded",
        "the upstream body, untouched"
    );

    // 529 until the retries run out: the degraded signal, Anthropic's shape.
    for _ in 0..3 {
        mock.push_fault(Fault::overloaded());
    }
    let reply = gw.post(r[2].1, ALICE_KEY, r[2].2.clone()).await;
    assert_eq!(reply.status, 503);
    assert_eq!(
        reply.header("x-llm-proxy-error-class"),
        Some("provider_degraded")
    );
    assert!(assert_shape("claude", &reply.json(), 503).contains("Overloaded"));

    mock.push_fault(Fault::rate_limited(3));
    let reply = gw.post(r[3].1, ALICE_KEY, r[3].2.clone()).await;
    assert_eq!(reply.status, 429);
    assert_eq!(reply.json()["error"]["status"], "RESOURCE_EXHAUSTED");

    // A client error passes through untouched and is never retried.
    mock.clear();
    mock.push_fault(Fault::Status {
        status: 400,
        retry_after: None,
        body: None,
    });
    let reply = gw.post(r[2].1, ALICE_KEY, r[2].2.clone()).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["error"]["type"], "invalid_request_error");
    assert_eq!(mock.request_count(), 1);

    // The only openai key was rate limited for gpt-4o-mini: other models.
    for _ in 0..3 {
        mock.push_fault(Fault::server_error());
    }
    let responses = json!({"model": "gpt-4o", "input": "hi"});
    let reply = gw.post(r[1].1, ALICE_KEY, responses).await;
    assert_eq!(reply.status, 503);
    assert_shape("openai_responses", &reply.json(), 503);

    // A 401 disables the key; with no other key its answer goes back.
    mock.push_fault(Fault::unauthorized());
    let chat = json!({"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}]});
    let reply = gw.post(r[0].1, ALICE_KEY, chat.clone()).await;
    assert_eq!(reply.status, 401);
    let count = mock.request_count();
    let after = gw.post(r[0].1, ALICE_KEY, chat).await;
    assert_eq!(after.status, 503, "no usable credential: {}", after.text());
    assert_eq!(mock.request_count(), count);

    let rid = reply.header("x-request-id").unwrap().to_owned();
    let row = gw.log_of(&rid).await;
    assert_eq!(row.status, 401);
    assert!(
        row.error
            .as_deref()
            .unwrap()
            .contains("upstream `openai` answered 401")
    );
}

#[tokio::test]
async fn unreachable_upstream_and_slow_first_bytes_end_degraded_after_retries() {
    // Slow first bytes are retried here only because the config says so.
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dead = "[[providers]]\nname = \"deadai\"\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\n[[providers.credentials]]\napi_key = \"sk-dead-000\"\n";
    let text = format!(
        "{}\n{dead}",
        config(
            &mock,
            "[limits]\nfirst_byte_timeout_secs = 1\n[circuit_breaker]\nretry_on_first_byte_timeout = true"
        )
    );
    let gw = start(dir.path(), &text).await;
    let r = routes();

    let reply = gw
        .post("/deadai/v1/chat/completions", ALICE_KEY, r[0].2.clone())
        .await;
    assert_eq!(reply.status, 503, "{}", reply.text());
    assert_eq!(
        reply.header("x-llm-proxy-error-class"),
        Some("provider_degraded")
    );
    assert!(
        assert_shape("openai_chat", &reply.json(), 503).contains("cannot reach upstream `deadai`")
    );

    // Every attempt (the first and two retries, as configured) times out.
    for _ in 0..3 {
        mock.push_fault(Fault::SlowFirstByte(std::time::Duration::from_secs(3)));
    }
    let reply = gw.post(r[2].1, ALICE_KEY, r[2].2.clone()).await;
    assert_eq!(reply.status, 503);
    assert!(assert_shape("claude", &reply.json(), 503).contains("timed out"));
    assert_eq!(mock.request_count(), 3);
}

/// By default a first-byte timeout is not retried: the upstream may still
/// be generating (and billing) the first attempt. The client hears the
/// timeout (504, in its shape) after one attempt and one timeout's wait.
/// A stream's first event counts as its first byte.
#[tokio::test]
async fn a_first_byte_timeout_reaches_the_client_after_one_attempt_by_default() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(
        dir.path(),
        &config(&mock, "[limits]\nfirst_byte_timeout_secs = 1"),
    )
    .await;
    let r = routes();
    for (i, (protocol, path, body)) in r.iter().enumerate() {
        mock.push_fault(Fault::SlowFirstByte(std::time::Duration::from_secs(3)));
        let started = std::time::Instant::now();
        let reply = gw.post(path, ALICE_KEY, body.clone()).await;
        assert_eq!(reply.status, 504, "{protocol}: {}", reply.text());
        assert!(
            assert_shape(protocol, &reply.json(), 504).contains("timed out"),
            "{protocol}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(3));
        assert_eq!(mock.request_count(), i + 1, "{protocol}: one attempt");
        let rid = reply.header("x-request-id").unwrap().to_owned();
        let detail = gw.detail_of(&rid).await;
        assert!(
            detail.attempts.len() <= 1,
            "{protocol}: {:?}",
            detail.attempts
        );
    }
    // A stream whose headers come at once but whose first event is late.
    let chat_stream = serde_json::json!({"model": "gpt-4o-mini", "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    mock.push_fault(Fault::SlowFirstEvent(std::time::Duration::from_secs(3)));
    let before = mock.request_count();
    let started = std::time::Instant::now();
    let reply = gw.post(r[0].1, ALICE_KEY, chat_stream.clone()).await;
    assert_eq!(reply.status, 504, "{}", reply.text());
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    assert!(assert_shape("openai_chat", &reply.json(), 504).contains("first stream event"));
    assert_eq!(mock.request_count(), before + 1, "not retried by default");
    // Within the timeout, the held-back stream is served whole.
    mock.push_fault(Fault::SlowFirstEvent(std::time::Duration::from_millis(300)));
    let reply = gw.post(r[0].1, ALICE_KEY, chat_stream).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(reply.text().contains("[DONE]"));
}

/// An upstream that answers each connection's request with the next of
/// `answers` (raw bytes, malformed HTTP on purpose), having read the whole
/// request first, then closes. Returns its base URL and how many requests
/// it answered.
async fn raw_upstream(
    answers: Vec<&'static [u8]>,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    let answered = std::sync::Arc::new(AtomicUsize::new(0));
    let count = answered.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let n = count.fetch_add(1, Ordering::SeqCst);
            let answer = answers[n % answers.len()];
            tokio::spawn(async move {
                // The head, then as many body bytes as it announces.
                let mut got = Vec::new();
                let mut buf = [0u8; 8192];
                let head_end = loop {
                    let Ok(read) = socket.read(&mut buf).await else {
                        return;
                    };
                    if read == 0 {
                        return;
                    }
                    got.extend_from_slice(&buf[..read]);
                    if let Some(at) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                        break at + 4;
                    }
                };
                let head = String::from_utf8_lossy(&got[..head_end]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                while got.len() < head_end + length {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(read) => got.extend_from_slice(&buf[..read]),
                    }
                }
                let _ = socket.write_all(answer).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    (base, answered)
}

/// An upstream answer that is not HTTP/1.1 (a malformed head, or a
/// chunked body that breaks) reaches the client as a gateway error in its
/// own protocol's shape, naming what was wrong, and is logged with that
/// status. A malformed head fails the send, as a dead connection does:
/// retried, then the provider is degraded (503). A body that breaks after
/// a good head fails the answer (502), not retried.
#[tokio::test]
async fn a_malformed_upstream_answer_is_a_gateway_error_in_the_clients_shape() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (bad_heads, heads_answered) = raw_upstream(vec![
        b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
        b"NOT HTTP AT ALL\r\n\r\n",
    ])
    .await;
    let (bad_body, body_answered) = raw_upstream(vec![
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    ])
    .await;
    let providers = format!(
        "[[providers]]\nname = \"badheads\"\nkind = \"openai\"\nbase_url = \"{bad_heads}\"\n\
         [[providers.credentials]]\napi_key = \"sk-bad-0001\"\n\
         [[providers]]\nname = \"badbody\"\nkind = \"openai\"\nbase_url = \"{bad_body}\"\n\
         [[providers.credentials]]\napi_key = \"sk-bad-0002\"\n"
    );
    let text = format!("{}\n{providers}", config(&mock, ""));
    let gw = start(dir.path(), &text).await;
    let chat = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]});

    let reply = gw
        .post("/badheads/v1/chat/completions", ALICE_KEY, chat.clone())
        .await;
    assert_eq!(reply.status, 503, "{}", reply.text());
    assert_eq!(
        reply.header("x-llm-proxy-error-class"),
        Some("provider_degraded")
    );
    let message = assert_shape("openai_chat", &reply.json(), 503);
    assert!(message.contains("invalid HTTP/1 answer"), "{message}");
    assert_eq!(
        heads_answered.load(std::sync::atomic::Ordering::SeqCst),
        3,
        "the first attempt and two retries"
    );
    let request_id = reply.header("x-request-id").unwrap().to_owned();
    assert_eq!(gw.log_of(&request_id).await.status, 503);

    let reply = gw
        .post("/badbody/v1/chat/completions", ALICE_KEY, chat)
        .await;
    assert_eq!(reply.status, 502, "{}", reply.text());
    let message = assert_shape("openai_chat", &reply.json(), 502);
    assert!(
        message.contains("response body broke") && message.contains("chunk size"),
        "{message}"
    );
    assert_eq!(
        body_answered.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "not retried"
    );
    let request_id = reply.header("x-request-id").unwrap().to_owned();
    assert_eq!(gw.log_of(&request_id).await.status, 502);

    // An Anthropic client on the same provider (converted): its own shape.
    let claude = json!({"model": "badbody/gpt-4o-mini", "max_tokens": 8,
        "messages": [{"role": "user", "content": "hi"}]});
    let reply = gw.post("/v1/messages", ALICE_KEY, claude).await;
    assert_eq!(reply.status, 502, "{}", reply.text());
    let message = assert_shape("claude", &reply.json(), 502);
    assert!(message.contains("chunk size"), "{message}");
}
