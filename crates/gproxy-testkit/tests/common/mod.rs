//! Shared helpers for the integration tests: a plain hyper-util client and a
//! tiny SSE decoder.
#![cfg(test)]
#![allow(dead_code, reason = "each test crate uses a different subset")]

use std::time::{Duration, Instant};

use bytes::Bytes;
use gproxy_testkit::MockUpstream;
use http::{HeaderMap, Method, Request};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

/// A complete reply.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn sse(&self) -> Vec<SseEvent> {
        parse_sse(&self.body)
    }
}

pub fn client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

fn build(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Request<Full<Bytes>> {
    let mut builder = Request::builder().method(method).uri(url);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Full::new(body.into())).unwrap()
}

/// Sends a request and returns the response with its body still unread.
pub async fn send_streaming(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> http::Response<Incoming> {
    client()
        .request(build(method, url, headers, body))
        .await
        .unwrap()
}

/// Sends a request and reads the whole reply.
pub async fn send(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Reply {
    let response = send_streaming(method, url, headers, body).await;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body,
    }
}

pub async fn post(url: &str, headers: &[(&str, &str)], body: &Value) -> Reply {
    send(Method::POST, url, headers, body.to_string()).await
}

pub async fn get(url: &str, headers: &[(&str, &str)]) -> Reply {
    send(Method::GET, url, headers, Bytes::new()).await
}

/// What a body yielded before it ended or failed.
#[derive(Debug)]
pub struct Drained {
    pub data: Vec<u8>,
    /// Arrival time of each data frame.
    pub arrivals: Vec<Instant>,
    /// Whether the body ended with an error (connection cut).
    pub failed: bool,
}

pub async fn drain(response: http::Response<Incoming>) -> Drained {
    let mut body = response.into_body();
    let mut drained = Drained {
        data: Vec::new(),
        arrivals: Vec::new(),
        failed: false,
    };
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Some(data) = frame.data_ref() {
                    drained.data.extend_from_slice(data);
                    drained.arrivals.push(Instant::now());
                }
            }
            Err(_) => {
                drained.failed = true;
                break;
            }
        }
    }
    drained
}

/// One decoded SSE event.
#[derive(Debug, Clone)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: String,
}

impl SseEvent {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or_else(|e| panic!("{e}: {}", self.data))
    }
}

/// Decodes complete SSE events (`\n\n` or `\r\n\r\n` separated); an
/// unterminated trailing event is ignored.
pub fn parse_sse(body: &[u8]) -> Vec<SseEvent> {
    let text = String::from_utf8_lossy(body).replace("\r\n", "\n");
    let mut blocks: Vec<&str> = text.split("\n\n").collect();
    blocks.pop(); // after the last separator: empty or incomplete
    blocks
        .into_iter()
        .filter(|block| !block.trim().is_empty())
        .map(|block| {
            let mut event = None;
            let mut data = Vec::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    event = Some(v.trim_start().to_owned());
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push(v.strip_prefix(' ').unwrap_or(v).to_owned());
                }
            }
            SseEvent {
                event,
                data: data.join("\n"),
            }
        })
        .collect()
}

pub async fn upstream() -> MockUpstream {
    MockUpstream::start().await.unwrap()
}

pub const OPENAI_AUTH: (&str, &str) = ("authorization", "Bearer sk-test");
pub const CLAUDE_KEY: (&str, &str) = ("x-api-key", "sk-ant-test");
pub const CLAUDE_VERSION: (&str, &str) = ("anthropic-version", "2023-06-01");
pub const GEMINI_KEY: (&str, &str) = ("x-goog-api-key", "AIza-test");

pub fn chat_body(model: &str, stream: bool) -> Value {
    serde_json::json!({
        "model": model,
        "messages": [{ "role": "user", "content": "hi" }],
        "stream": stream
    })
}

pub fn claude_body(model: &str, stream: bool) -> Value {
    serde_json::json!({
        "model": model,
        "max_tokens": 64,
        "messages": [{ "role": "user", "content": "hi" }],
        "stream": stream
    })
}

pub fn gemini_body() -> Value {
    serde_json::json!({ "contents": [{ "role": "user", "parts": [{ "text": "hi" }] }] })
}

pub fn elapsed_at_least(start: Instant, at_least: Duration) -> bool {
    start.elapsed() >= at_least
}
