//! Stream behaviour through the real binary: chunk-by-chunk forwarding,
//! client disconnects, upstream cuts and idle timeouts, each accounted.
#![cfg(test)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use gproxy_testkit::{Fault, MockUpstream, usage};
use http_body_util::BodyExt;
use serde_json::json;

fn chat_stream() -> String {
    json!({"model": "gpt-4o-mini", "stream": true, "messages": [{"role": "user", "content": "hi"}]})
        .to_string()
}

fn chat_request(gw: &Gateway) -> http::request::Builder {
    gw.request("POST", "/openai/v1/chat/completions")
        .header("authorization", format!("Bearer {ALICE_KEY}"))
}

#[tokio::test]
async fn streams_are_forwarded_chunk_by_chunk_not_buffered() {
    let mock = MockUpstream::start().await.unwrap();
    mock.set_stream_chunks(5, Duration::from_millis(300));
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &config(&mock, "")).await;

    for (path, body) in [
        ("/openai/v1/chat/completions", chat_stream()),
        ("/claude/v1/messages", json!({"model": "c", "max_tokens": 8, "stream": true, "messages": [{"role": "user", "content": "hi"}]}).to_string()),
        ("/aistudio/v1beta/models/g:streamGenerateContent?alt=sse", json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}).to_string()),
    ] {
        let req = gw.request("POST", path).header("authorization", format!("Bearer {ALICE_KEY}"));
        let response = gw.open(req, body).await;
        assert_eq!(response.status(), 200, "{path}");
        let mut body = response.into_body();
        let mut first = None;
        let mut last = Instant::now();
        while let Some(frame) = body.frame().await {
            let frame = frame.unwrap();
            if frame.data_ref().is_some_and(|d| !d.is_empty()) {
                first.get_or_insert_with(Instant::now);
                last = Instant::now();
            }
        }
        let spread = last - first.unwrap();
        // Four 300 ms gaps upstream; a buffering gateway would deliver all at once.
        assert!(spread >= Duration::from_millis(800), "{path}: frames arrived within {spread:?}");
    }
}

#[tokio::test]
async fn chunks_that_arrive_together_go_out_together_and_whole() {
    // 100 deltas sent at once: the gateway forwards them in fewer writes
    // (HTTP chunks to the client) than deltas, and loses none.
    let mock = MockUpstream::start().await.unwrap();
    mock.set_stream_chunks(100, Duration::ZERO);
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &config(&mock, "")).await;

    let req = chat_request(&gw).header("x-request-id", "bulk-1");
    let response = gw.open(req, chat_stream()).await;
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let (mut frames, mut text) = (0, Vec::new());
    while let Some(frame) = body.frame().await {
        if let Some(data) = frame.unwrap().data_ref() {
            frames += 1;
            text.extend_from_slice(data);
        }
    }
    let text = String::from_utf8(text).unwrap();
    let deltas = text.matches("\"delta\"").count();
    // The role chunk, 100 content deltas and the finish chunk.
    assert_eq!(deltas, 102, "{text}");
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    assert!(frames < 50, "{frames} frames for {deltas} deltas");
    let row = gw.log_of("bulk-1").await;
    assert_eq!(row.status, 200);
    assert!(row.output_tokens.is_some_and(|t| t > 0), "{row:?}");
}

#[tokio::test]
async fn a_client_that_disconnects_mid_stream_still_gets_its_row() {
    let mock = MockUpstream::start().await.unwrap();
    mock.set_stream_chunks(20, Duration::from_millis(200));
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &config(&mock, "")).await;

    let req = chat_request(&gw).header("x-request-id", "disconnect-1");
    let response = gw.open(req, chat_stream()).await;
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let frame = body.frame().await.unwrap().unwrap();
    assert!(frame.data_ref().is_some());
    drop(body);

    let row = gw.log_of("disconnect-1").await;
    assert!(row.client_disconnected, "{row:?}");
    assert_eq!(row.status, 200);
    assert_eq!(row.error.as_deref(), Some("client disconnected"));
    assert!(row.stream);
}

#[tokio::test]
async fn a_stream_the_client_leaves_just_before_shutdown_still_gets_its_row() {
    for runtime in ["per-core", "shared"] {
        let mock = MockUpstream::start().await.unwrap();
        mock.set_stream_chunks(20, Duration::from_millis(200));
        let dir = tempfile::tempdir().unwrap();
        let text = config(&mock, "");
        let args = ["--runtime", runtime];
        let gw = start_with(dir.path(), &text, &args).await;
        let req = chat_request(&gw).header("x-request-id", "disconnect-at-stop");
        let response = gw.open(req, chat_stream()).await;
        assert_eq!(response.status(), 200);
        let mut body = response.into_body();
        assert!(body.frame().await.unwrap().unwrap().data_ref().is_some());
        // The client leaves and the gateway is stopped at once: the tokens
        // streamed so far are counted on the blocking pool (the first count
        // builds the tokenizer, which takes a while), and the process waits
        // for that count before it flushes the log and exits.
        drop(body);
        assert!(gw.stop().await.success(), "{runtime}");
        let gw = start(dir.path(), &text).await;
        let row = gw.log_of("disconnect-at-stop").await;
        assert!(row.client_disconnected, "{runtime}: {row:?}");
        assert!(
            row.output_tokens.is_some_and(|t| t > 0),
            "{runtime}: {row:?}"
        );
    }
}

#[tokio::test]
async fn an_upstream_stream_cut_mid_way_reaches_the_client_as_an_error() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &config(&mock, "")).await;

    mock.push_fault(Fault::CutStream { after_events: 2 });
    let req = chat_request(&gw).header("x-request-id", "cut-1");
    let response = gw.open(req, chat_stream()).await;
    assert_eq!(response.status(), 200);
    let collected = response.into_body().collect().await;
    assert!(
        collected.is_err(),
        "an incomplete stream must not look complete"
    );

    let row = gw.log_of("cut-1").await;
    assert_eq!(row.status, 502);
    assert!(
        row.error
            .as_deref()
            .unwrap()
            .contains("upstream stream broke"),
        "{row:?}"
    );
    assert!(!row.client_disconnected);
}

#[tokio::test]
async fn an_idle_upstream_stream_is_cut_after_the_idle_timeout() {
    let mock = MockUpstream::start().await.unwrap();
    mock.set_stream_chunks(3, Duration::from_millis(2500));
    let dir = tempfile::tempdir().unwrap();
    let gw = start(
        dir.path(),
        &config(&mock, "[limits]\nstream_idle_timeout_secs = 1"),
    )
    .await;

    let req = chat_request(&gw).header("x-request-id", "idle-1");
    let response = gw.open(req, chat_stream()).await;
    assert_eq!(response.status(), 200);
    assert!(response.into_body().collect().await.is_err());
    let row = gw.log_of("idle-1").await;
    assert!(row.error.as_deref().unwrap().contains("idle"), "{row:?}");
}

#[tokio::test]
async fn a_stream_whose_chunks_come_within_the_idle_timeout_runs_past_it() {
    // Chunks 400 ms apart, 2.4 s in all, under a 1 s idle timeout: the
    // timer set at the start fires while chunks still come, and is moved.
    let mock = MockUpstream::start().await.unwrap();
    mock.set_stream_chunks(6, Duration::from_millis(400));
    let dir = tempfile::tempdir().unwrap();
    let gw = start(
        dir.path(),
        &config(&mock, "[limits]\nstream_idle_timeout_secs = 1"),
    )
    .await;

    let req = chat_request(&gw).header("x-request-id", "slow-1");
    let started = std::time::Instant::now();
    let response = gw.open(req, chat_stream()).await;
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(body.ends_with(b"data: [DONE]\n\n"), "{body:?}");
    let row = gw.log_of("slow-1").await;
    assert_eq!((row.status, row.error.as_deref()), (200, None), "{row:?}");
}

#[tokio::test]
async fn usage_is_accounted_for_every_protocol_stream_or_not() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &config(&mock, "")).await;
    let chat = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
    let resp = json!({"model": "m", "input": "hi"});
    let claude =
        json!({"model": "m", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]});
    let mut n = 0;
    for stream in [false, true] {
        for (path, mut body) in [
            ("/openai/v1/chat/completions", chat.clone()),
            ("/openai/v1/responses", resp.clone()),
            ("/claude/v1/messages", claude.clone()),
        ] {
            body["stream"] = json!(stream);
            let reply = gw.post(path, ALICE_KEY, body).await;
            assert_eq!(reply.status, 200);
            n += 1;
        }
    }
    let rows = gw.logs(n).await;
    assert_eq!(rows.len(), n);
    for row in rows {
        assert_eq!(row.input_tokens, Some(usage::INPUT), "{row:?}");
        assert_eq!(row.output_tokens, Some(usage::OUTPUT), "{row:?}");
        assert!(row.latency_ms < 60_000);
    }
}
