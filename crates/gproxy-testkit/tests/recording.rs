//! Request recording, counters, keep-alive and shutdown.
#![cfg(test)]

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use gproxy_testkit::{Fault, MockUpstream};
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::json;

#[tokio::test]
async fn requests_are_recorded_with_headers_body_and_query() {
    let up = upstream().await;
    assert!(up.last_request().is_none());
    let url = format!(
        "{}/v1beta/models/g:streamGenerateContent?alt=sse&key=AIza-q",
        up.base_url()
    );
    let reply = post(&url, &[("x-trace", "abc")], &gemini_body()).await;
    assert_eq!(reply.status, 200);

    let recorded = up.last_request().unwrap();
    assert_eq!(recorded.method, "POST");
    assert_eq!(recorded.path, "/v1beta/models/g:streamGenerateContent");
    assert_eq!(recorded.query.as_deref(), Some("alt=sse&key=AIza-q"));
    assert_eq!(recorded.query_param("key"), Some("AIza-q"));
    assert_eq!(recorded.header("x-trace"), Some("abc"));
    assert_eq!(recorded.header("X-Trace"), Some("abc"));
    assert_eq!(recorded.header("missing"), None);
    assert_eq!(recorded.json(), gemini_body());
    assert_eq!(recorded.body, Bytes::from(gemini_body().to_string()));
}

#[tokio::test]
async fn non_json_bodies_record_as_null() {
    let up = upstream().await;
    let url = format!("{}/v1/chat/completions", up.base_url());
    send(http::Method::POST, &url, &[OPENAI_AUTH], "plain text").await;
    let recorded = up.last_request().unwrap();
    assert!(recorded.json().is_null());
    assert_eq!(&recorded.body[..], b"plain text");
    assert_eq!(recorded.query, None);
}

#[tokio::test]
async fn requests_keep_arrival_order_and_clear_resets_everything() {
    let up = upstream().await;
    let base = up.base_url();
    post(
        &format!("{base}/v1/chat/completions"),
        &[OPENAI_AUTH],
        &chat_body("a", false),
    )
    .await;
    post(
        &format!("{base}/v1/messages"),
        &[CLAUDE_KEY, CLAUDE_VERSION],
        &claude_body("b", false),
    )
    .await;
    get(&format!("{base}/v1/unknown"), &[]).await;
    let paths: Vec<String> = up.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        ["/v1/chat/completions", "/v1/messages", "/v1/unknown"]
    );
    assert_eq!(up.request_count(), 3);
    assert_eq!(up.last_request().unwrap().method, "GET");

    up.push_fault(Fault::server_error());
    up.clear();
    assert!(up.requests().is_empty());
    assert_eq!(up.request_count(), 0);
    let reply = post(
        &format!("{base}/v1/chat/completions"),
        &[OPENAI_AUTH],
        &chat_body("a", false),
    )
    .await;
    assert_eq!(reply.status, 200, "clear drops pending faults");
}

#[tokio::test]
async fn recording_off_still_counts() {
    let up = upstream().await;
    up.set_recording(false);
    let url = format!("{}/v1/chat/completions", up.base_url());
    for _ in 0..3 {
        post(&url, &[OPENAI_AUTH], &chat_body("m", false)).await;
    }
    assert!(up.requests().is_empty());
    assert_eq!(up.request_count(), 3);
    up.set_recording(true);
    post(&url, &[OPENAI_AUTH], &json!({ "model": "x" })).await;
    assert_eq!(up.requests().len(), 1);
    assert_eq!(up.request_count(), 4);
}

#[tokio::test]
async fn one_connection_serves_many_requests() {
    let up = upstream().await;
    let stream = tokio::net::TcpStream::connect(up.addr()).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    for i in 0..5 {
        let request = Request::post(format!("{}/v1/chat/completions", up.base_url()))
            .header("host", up.addr().to_string())
            .header("authorization", "Bearer k")
            .body(Full::new(Bytes::from(
                chat_body(&format!("m{i}"), i % 2 == 0).to_string(),
            )))
            .unwrap();
        sender.ready().await.unwrap();
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.status(), 200);
        response.into_body().collect().await.unwrap();
    }
    assert_eq!(up.request_count(), 5);
}

#[tokio::test]
async fn start_on_binds_the_given_address_and_drop_stops_the_server() {
    let first = MockUpstream::start().await.unwrap();
    let addr = first.addr();
    assert_eq!(first.base_url(), format!("http://{addr}"));
    drop(first);
    // The port is free again once the server is gone; rebinding it also
    // checks `start_on`.
    let deadline = Instant::now() + Duration::from_secs(5);
    let second = loop {
        match MockUpstream::start_on(addr).await {
            Ok(up) => break up,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("could not rebind {addr}: {e}"),
        }
    };
    assert_eq!(second.addr(), addr);
    let reply = post(
        &format!("{}/v1/chat/completions", second.base_url()),
        &[OPENAI_AUTH],
        &chat_body("m", false),
    )
    .await;
    assert_eq!(reply.status, 200);
    drop(second);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "server still accepting after drop"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
