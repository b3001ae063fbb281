//! Scripted faults: statuses per protocol, slow first byte, cut streams,
//! stream chunk delays.
#![cfg(test)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use gproxy_testkit::{Fault, MockUpstream};
use http::Method;
use serde_json::Value;

/// A request to send: (url, headers, body).
type Call = (String, Vec<(&'static str, &'static str)>, Value);

/// One request per protocol: OpenAI Chat, Anthropic, Gemini.
fn requests(up: &MockUpstream, stream: bool) -> Vec<Call> {
    let gemini_method = if stream {
        "streamGenerateContent?alt=sse"
    } else {
        "generateContent"
    };
    vec![
        (
            format!("{}/v1/chat/completions", up.base_url()),
            vec![OPENAI_AUTH],
            chat_body("m", stream),
        ),
        (
            format!("{}/v1/messages", up.base_url()),
            vec![CLAUDE_KEY, CLAUDE_VERSION],
            claude_body("m", stream),
        ),
        (
            format!("{}/v1beta/models/g:{gemini_method}", up.base_url()),
            vec![GEMINI_KEY],
            gemini_body(),
        ),
    ]
}

/// (openai error.type, anthropic error.type, gemini error.status)
async fn error_kinds(up: &MockUpstream, fault: Fault, status: u16) -> Vec<String> {
    let mut kinds = Vec::new();
    for (i, (url, headers, body)) in requests(up, false).into_iter().enumerate() {
        up.push_fault(fault.clone());
        let reply = post(&url, &headers, &body).await;
        assert_eq!(reply.status, status, "{url}");
        let v = reply.json();
        let kind = match i {
            0 => v["error"]["type"].clone(),
            1 => {
                assert_eq!(v["type"], "error");
                v["error"]["type"].clone()
            }
            _ => {
                assert_eq!(v["error"]["code"], status);
                v["error"]["status"].clone()
            }
        };
        kinds.push(kind.as_str().unwrap().to_owned());
    }
    kinds
}

#[tokio::test]
async fn rate_limited_sets_retry_after_and_protocol_bodies() {
    let up = upstream().await;
    for (url, headers, body) in requests(&up, false) {
        up.push_fault(Fault::rate_limited(3));
        let reply = post(&url, &headers, &body).await;
        assert_eq!(reply.status, 429);
        assert_eq!(reply.header("retry-after"), Some("3"));
        assert_eq!(reply.header("content-type"), Some("application/json"));
    }
    let kinds = error_kinds(&up, Fault::rate_limited(1), 429).await;
    assert_eq!(
        kinds,
        ["requests", "rate_limit_error", "RESOURCE_EXHAUSTED"]
    );
}

#[tokio::test]
async fn status_helpers_use_each_providers_usual_type() {
    let up = upstream().await;
    let kinds = error_kinds(&up, Fault::unauthorized(), 401).await;
    assert_eq!(
        kinds,
        [
            "invalid_request_error",
            "authentication_error",
            "UNAUTHENTICATED"
        ]
    );
    let kinds = error_kinds(&up, Fault::server_error(), 500).await;
    assert_eq!(kinds, ["server_error", "api_error", "INTERNAL"]);
    let kinds = error_kinds(&up, Fault::overloaded(), 529).await;
    assert_eq!(kinds, ["server_error", "overloaded_error", "UNAVAILABLE"]);
    // No retry-after unless asked.
    up.push_fault(Fault::overloaded());
    let (url, headers, body) = requests(&up, false).remove(1);
    let reply = post(&url, &headers, &body).await;
    assert_eq!(reply.header("retry-after"), None);
}

#[tokio::test]
async fn custom_status_body_is_sent_verbatim() {
    let up = upstream().await;
    up.push_fault(Fault::Status {
        status: 503,
        retry_after: Some("Wed, 21 Oct 2015 07:28:00 GMT".into()),
        body: Some("upstream connect error".into()),
    });
    let (url, headers, body) = requests(&up, false).remove(0);
    let reply = post(&url, &headers, &body).await;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.text(), "upstream connect error");
    assert_eq!(
        reply.header("retry-after"),
        Some("Wed, 21 Oct 2015 07:28:00 GMT")
    );
}

#[tokio::test]
async fn faults_apply_before_validation_and_are_consumed_in_order() {
    let up = upstream().await;
    up.push_fault(Fault::rate_limited(1));
    up.push_fault(Fault::server_error());
    let url = format!("{}/v1/chat/completions", up.base_url());
    // Even an unauthenticated request gets the scripted status.
    assert_eq!(post(&url, &[], &chat_body("m", false)).await.status, 429);
    assert_eq!(
        post(&url, &[OPENAI_AUTH], &chat_body("m", false))
            .await
            .status,
        500
    );
    assert_eq!(
        post(&url, &[OPENAI_AUTH], &chat_body("m", false))
            .await
            .status,
        200
    );
    // Faults hit any route, including 404s and model lists.
    up.push_fault(Fault::unauthorized());
    assert_eq!(
        get(&format!("{}/v1/models", up.base_url()), &[OPENAI_AUTH])
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn slow_first_byte_delays_the_headers() {
    let up = upstream().await;
    let wait = Duration::from_millis(300);
    up.push_fault(Fault::SlowFirstByte(wait));
    let (url, headers, body) = requests(&up, true).remove(0);
    let start = Instant::now();
    let response = send_streaming(Method::POST, &url, &headers, body.to_string()).await;
    assert!(
        elapsed_at_least(start, wait),
        "headers came after {:?}",
        start.elapsed()
    );
    assert_eq!(response.status(), 200);
    let drained = drain(response).await;
    assert!(!drained.failed);
    // The next request is not delayed by the consumed fault.
    let reply = post(&url, &headers, &body).await;
    assert_eq!(reply.status, 200);
}

/// Cuts each protocol's stream after two events and checks the terminator
/// never arrived.
#[tokio::test]
async fn cut_stream_aborts_every_protocol_before_the_terminator() {
    let up = upstream().await;
    let terminators = ["data: [DONE]", "message_stop", "finishReason"];
    for ((url, headers, body), terminator) in requests(&up, true).into_iter().zip(terminators) {
        up.push_fault(Fault::CutStream { after_events: 2 });
        let response = send_streaming(Method::POST, &url, &headers, body.to_string()).await;
        assert_eq!(response.status(), 200);
        let drained = drain(response).await;
        assert!(drained.failed, "{url}: body must end with an error");
        let events = parse_sse(&drained.data);
        assert_eq!(
            events.len(),
            2,
            "{url}: {}",
            String::from_utf8_lossy(&drained.data)
        );
        assert!(!String::from_utf8_lossy(&drained.data).contains(terminator));
    }
    // Responses API too.
    up.push_fault(Fault::CutStream { after_events: 4 });
    let url = format!("{}/v1/responses", up.base_url());
    let body = serde_json::json!({ "model": "m", "input": "hi", "stream": true });
    let response = send_streaming(Method::POST, &url, &[OPENAI_AUTH], body.to_string()).await;
    let drained = drain(response).await;
    assert!(drained.failed);
    assert_eq!(parse_sse(&drained.data).len(), 4);
    assert!(!String::from_utf8_lossy(&drained.data).contains("response.completed"));
}

#[tokio::test]
async fn cut_stream_never_lets_the_terminator_through() {
    let up = upstream().await;
    up.push_fault(Fault::CutStream { after_events: 1000 });
    let (url, headers, body) = requests(&up, true).remove(0);
    let response = send_streaming(Method::POST, &url, &headers, body.to_string()).await;
    let drained = drain(response).await;
    assert!(drained.failed);
    let events = parse_sse(&drained.data);
    assert_eq!(events.len(), 5, "everything but [DONE]");
    assert!(events.iter().all(|e| e.data != "[DONE]"));
}

#[tokio::test]
async fn cut_gemini_json_array_stops_after_n_elements() {
    let up = upstream().await;
    up.push_fault(Fault::CutStream { after_events: 1 });
    let url = format!("{}/v1beta/models/g:streamGenerateContent", up.base_url());
    let response =
        send_streaming(Method::POST, &url, &[GEMINI_KEY], gemini_body().to_string()).await;
    let drained = drain(response).await;
    assert!(drained.failed);
    let text = String::from_utf8_lossy(&drained.data).into_owned();
    assert!(text.starts_with("[{"));
    assert!(!text.contains("\n,\r\n"));
    assert!(!text.ends_with(']'));
    let element: Value = serde_json::from_str(&text[1..]).unwrap();
    assert!(element["candidates"].is_array());
}

#[tokio::test]
async fn cut_non_stream_reply_breaks_the_json_body() {
    let up = upstream().await;
    up.push_fault(Fault::CutStream { after_events: 0 });
    let (url, headers, body) = requests(&up, false).remove(1);
    let response = send_streaming(Method::POST, &url, &headers, body.to_string()).await;
    assert_eq!(response.status(), 200);
    let drained = drain(response).await;
    assert!(drained.failed);
    assert!(serde_json::from_slice::<Value>(&drained.data).is_err());
}

#[tokio::test]
async fn stream_chunk_delay_spreads_the_deltas() {
    let up = upstream().await;
    let delay = Duration::from_millis(100);
    up.set_stream_chunks(3, delay);
    for (url, headers, body) in requests(&up, true) {
        let start = Instant::now();
        let response = send_streaming(Method::POST, &url, &headers, body.to_string()).await;
        let drained = drain(response).await;
        assert!(!drained.failed);
        // Two gaps between three deltas.
        assert!(
            elapsed_at_least(start, 2 * delay),
            "{url}: {:?}",
            start.elapsed()
        );
        let first = drained.arrivals[0];
        let last = drained.arrivals[drained.arrivals.len() - 1];
        assert!(
            last.duration_since(first) >= Duration::from_millis(150),
            "{url}: the first chunk must arrive well before the last"
        );
    }
}
