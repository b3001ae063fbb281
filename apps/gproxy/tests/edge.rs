//! The client edge through the real binary, with short configured limits:
//! silent and slow connections closed, stalled request bodies answered 408
//! (HTTP/1 with `Content-Length` and chunked, h2c, passthrough), idle
//! HTTP/1 and h2c connections closed, the connection cap, the open-file
//! limit, range errors of duration settings (config file and admin API),
//! `/health` without and with the admin key, and throttled refusal logs.
#![cfg(test)]

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use gproxy_testkit::MockUpstream;
use http_body_util::BodyExt;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The gateway with `[limits]` set to `limits` (TOML lines).
async fn gateway(mock: &MockUpstream, limits: &str) -> (Gateway, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let text = config(mock, &format!("[limits]\n{limits}\n"));
    let gw = start(dir.path(), &text).await;
    (gw, dir)
}

fn addr(gw: &Gateway) -> String {
    gw.base.trim_start_matches("http://").to_owned()
}

/// Reads until the peer closes (or `within` passes: then panics); returns
/// what was read and how long it took.
async fn read_to_close(stream: &mut TcpStream, within: Duration) -> (String, Duration) {
    let started = Instant::now();
    let mut out = Vec::new();
    let read = tokio::time::timeout(within, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "the connection was still open after {within:?}; read so far: {}",
        String::from_utf8_lossy(&out)
    );
    (
        String::from_utf8_lossy(&out).into_owned(),
        started.elapsed(),
    )
}

/// Reads one HTTP/1 response (head and `Content-Length` body) without
/// waiting for the connection to close.
async fn read_response(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .expect("no response within 10 s")
            .unwrap();
        assert!(n > 0, "closed before a whole response: {out:?}");
        out.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&out).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .unwrap_or(0);
            if body.len() >= length {
                return text;
            }
        }
    }
}

#[tokio::test]
async fn a_silent_connection_is_closed_after_the_first_byte_timeout() {
    let mock = MockUpstream::start().await.unwrap();
    let (gw, _dir) = gateway(&mock, "client_first_byte_timeout_secs = 1").await;
    let mut silent = TcpStream::connect(addr(&gw)).await.unwrap();
    let (read, took) = read_to_close(&mut silent, Duration::from_secs(5)).await;
    assert_eq!(read, "");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "{took:?}"
    );

    let edge = gw.health().await.json()["edge"].clone();
    assert_eq!(edge["closed_silent"], 1, "{edge}");
}

#[tokio::test]
async fn a_slow_request_head_is_closed_after_the_header_timeout() {
    let mock = MockUpstream::start().await.unwrap();
    let (gw, _dir) = gateway(&mock, "client_header_timeout_secs = 1").await;
    let mut slow = TcpStream::connect(addr(&gw)).await.unwrap();
    let started = Instant::now();
    // One byte every 300 ms: never a whole head.
    for b in b"GET /health HTTP/1.1\r\n" {
        if slow.write_all(&[*b]).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        if started.elapsed() > Duration::from_secs(4) {
            break;
        }
    }
    let (_, _) = read_to_close(&mut slow, Duration::from_secs(5)).await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}

const STALL_LIMITS: &str = "client_body_idle_timeout_secs = 1\nclient_body_timeout_secs = 3";

fn chat_head(path: &str, framing: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ALICE_KEY}\r\ncontent-type: application/json\r\n{framing}\r\n"
    )
}

#[tokio::test]
async fn a_stalled_http1_body_is_answered_408_and_the_connection_closed() {
    let mock = MockUpstream::start().await.unwrap();
    let (gw, _dir) = gateway(&mock, STALL_LIMITS).await;
    for (what, head, first) in [
        (
            "content-length",
            chat_head("/openai/v1/chat/completions", "Content-Length: 200\r\n"),
            "{\"model\":",
        ),
        (
            "chunked",
            chat_head(
                "/openai/v1/chat/completions",
                "Transfer-Encoding: chunked\r\n",
            ),
            "9\r\n{\"model\":\r\n",
        ),
        (
            "passthrough",
            chat_head("/openai/v1/files", "Content-Length: 200\r\n"),
            "partial",
        ),
    ] {
        let mut conn = TcpStream::connect(addr(&gw)).await.unwrap();
        conn.write_all(head.as_bytes()).await.unwrap();
        conn.write_all(first.as_bytes()).await.unwrap();
        let started = Instant::now();
        let (answer, took) = read_to_close(&mut conn, Duration::from_secs(5)).await;
        assert!(answer.starts_with("HTTP/1.1 408 "), "{what}: {answer}");
        assert!(
            answer.to_ascii_lowercase().contains("connection: close"),
            "{what}: {answer}"
        );
        assert!(
            answer.contains("did not arrive in time"),
            "{what}: {answer}"
        );
        assert!(
            took < Duration::from_secs(3) && started.elapsed() >= Duration::from_millis(900),
            "{what}: {took:?}"
        );
    }
    assert_eq!(
        mock.requests()
            .iter()
            .filter(|r| r.path.contains("chat"))
            .count(),
        0,
        "a stalled body never reaches the upstream"
    );
    assert_eq!(gw.health().await.json()["edge"]["body_timeouts"], 3);
}

#[tokio::test]
async fn a_trickling_body_is_stopped_by_the_total_body_timeout() {
    let mock = MockUpstream::start().await.unwrap();
    let (gw, _dir) = gateway(&mock, STALL_LIMITS).await;
    let mut conn = TcpStream::connect(addr(&gw)).await.unwrap();
    let head = chat_head(
        "/openai/v1/chat/completions",
        "Transfer-Encoding: chunked\r\n",
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    // A one-byte chunk every 500 ms: never idle for 1 s, never done.
    let answer = loop {
        if conn.write_all(b"1\r\n \r\n").await.is_err() {
            break read_to_close(&mut conn, Duration::from_secs(2)).await.0;
        }
        let mut buf = [0u8; 1024];
        if let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(500), conn.read(&mut buf)).await
        {
            let mut text = String::from_utf8_lossy(&buf[..n]).into_owned();
            text.push_str(&read_to_close(&mut conn, Duration::from_secs(2)).await.0);
            break text;
        }
        assert!(started.elapsed() < Duration::from_secs(8), "no 408 yet");
    };
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    assert!(answer.contains("not complete within 3 s"), "{answer}");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(2900) && took < Duration::from_secs(5),
        "{took:?}"
    );
}

/// A request body the test holds open (sends nothing more).
struct Stalled(Option<Bytes>);

impl http_body::Body for Stalled {
    type Data = Bytes;
    type Error = std::convert::Infallible;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        match self.0.take() {
            Some(b) => std::task::Poll::Ready(Some(Ok(http_body::Frame::data(b)))),
            None => std::task::Poll::Pending,
        }
    }
}

/// An h2c (prior knowledge) connection to the gateway; the connection
/// task's handle resolves when the gateway closes it.
async fn h2c(
    gw: &Gateway,
) -> (
    hyper::client::conn::http2::SendRequest<Stalled>,
    tokio::task::JoinHandle<()>,
) {
    let tcp = TcpStream::connect(addr(gw)).await.unwrap();
    let (sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    let task = tokio::spawn(async move {
        let _ = conn.await;
    });
    (sender, task)
}

#[tokio::test]
async fn a_stalled_h2c_body_is_answered_408_and_an_idle_h2c_connection_closed() {
    let mock = MockUpstream::start().await.unwrap();
    let (gw, _dir) = gateway(
        &mock,
        &format!("{STALL_LIMITS}\nhttp2_idle_timeout_secs = 2"),
    )
    .await;
    let (mut sender, task) = h2c(&gw).await;
    let req = http::Request::post(gw.url("/openai/v1/chat/completions"))
        .header("authorization", format!("Bearer {ALICE_KEY}"))
        .header("content-type", "application/json")
        .body(Stalled(Some(Bytes::from_static(b"{\"model\":"))))
        .unwrap();
    let started = Instant::now();
    let response = tokio::time::timeout(Duration::from_secs(5), sender.send_request(req))
        .await
        .expect("no answer to a stalled h2c body")
        .unwrap();
    assert_eq!(response.status(), 408);
    assert!(started.elapsed() >= Duration::from_millis(900));
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("did not arrive in time"),
        "{body}"
    );
    assert_eq!(mock.requests().len(), 0);

    // The stream is done; with no other stream the connection is idle and
    // the gateway closes it (GOAWAY) after the idle timeout.
    let idle_from = Instant::now();
    tokio::time::timeout(Duration::from_secs(6), task)
        .await
        .expect("the idle h2c connection was not closed")
        .unwrap();
    let took = idle_from.elapsed();
    assert!(took >= Duration::from_millis(1500), "{took:?}");
    assert!(
        gw.health().await.json()["edge"]["closed_idle"]
            .as_u64()
            .unwrap()
            >= 1
    );
}

#[tokio::test]
async fn an_idle_http1_connection_is_closed_after_the_keepalive_timeout() {
    let mock = MockUpstream::start().await.unwrap();
    let (gw, _dir) = gateway(&mock, "client_keepalive_timeout_secs = 1").await;
    let mut conn = TcpStream::connect(addr(&gw)).await.unwrap();
    for _ in 0..2 {
        conn.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let answer = read_response(&mut conn).await;
        assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
        // Kept alive across a pause shorter than the timeout.
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    let (rest, took) = read_to_close(&mut conn, Duration::from_secs(5)).await;
    assert_eq!(rest, "");
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

#[tokio::test]
async fn connections_beyond_the_cap_are_answered_503_and_closed() {
    let mock = MockUpstream::start().await.unwrap();
    let (gw, _dir) = gateway(&mock, "max_connections = 3").await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(TcpStream::connect(addr(&gw)).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut refused = TcpStream::connect(addr(&gw)).await.unwrap();
    let (answer, took) = read_to_close(&mut refused, Duration::from_secs(2)).await;
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: 1"),
        "{answer}"
    );
    assert!(took < Duration::from_secs(1), "{took:?}");

    // Room again once one closes.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let edge = gw.health().await.json()["edge"].clone();
    assert_eq!(edge["refused_connections"], 1, "{edge}");
    let stderr = gw.stderr();
    assert!(
        stderr.contains("connection refused: too many open connections"),
        "{stderr}"
    );
}

#[tokio::test]
async fn the_open_file_limit_is_raised_to_the_hard_limit() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (gw, ()) = spawn_through(
        dir.path(),
        &config(&mock, ""),
        &[],
        &[],
        &["sh", "-c", "ulimit -S -n 256 && exec \"$0\" \"$@\""],
    )
    .await;
    let gw = gw.unwrap();
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", gw.pid())).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let values: Vec<&str> = line.split_whitespace().skip(3).take(2).collect();
    assert_eq!(values[0], values[1], "soft = hard: {line}");
    assert_ne!(values[0], "256", "{line}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stderr = gw.stderr();
    assert!(
        stderr.contains("open-file limit raised to the hard limit") && stderr.contains("from=256"),
        "{stderr}"
    );
}

#[tokio::test]
async fn duration_settings_out_of_range_are_refused_with_their_field() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The config file: the binary refuses to start and names the field.
    for (section, line, field) in [
        (
            "limits",
            "stream_idle_timeout_secs = 9223372036854775807",
            "limits.stream_idle_timeout_secs",
        ),
        (
            "limits",
            "client_header_timeout_secs = 0",
            "limits.client_header_timeout_secs",
        ),
        (
            "circuit_breaker",
            "cooldown_seconds = 100000",
            "circuit_breaker.cooldown_seconds",
        ),
    ] {
        let text = config(&mock, &format!("[{section}]\n{line}\n"));
        let (result, ()) = spawn(dir.path(), &text, &[]).await;
        let Err(message) = result else {
            panic!("started with {line}");
        };
        assert!(message.contains(field), "{line}: {message}");
    }

    // The admin API: 400 with the field's path, nothing stored.
    let (gw, _dir) = gateway(&mock, "").await;
    for (patch, field) in [
        (
            json!({"limits": {"stream_idle_timeout_secs": u64::MAX}}),
            "limits.stream_idle_timeout_secs",
        ),
        (
            json!({"limits": {"client_body_timeout_secs": 86401}}),
            "limits.client_body_timeout_secs",
        ),
        (
            json!({"circuit_breaker": {"window_seconds": 86401}}),
            "circuit_breaker.window_seconds",
        ),
    ] {
        let r = gw
            .api("PATCH", "/settings", Some(ADMIN_KEY), Some(patch))
            .await;
        assert_eq!(r.status, 400, "{}", r.text());
        assert_eq!(r.json()["error"]["field"], field, "{}", r.text());
    }
    let settings = gw
        .api("GET", "/settings", Some(ADMIN_KEY), None)
        .await
        .json();
    assert_eq!(settings["limits"]["stream_idle_timeout_secs"], 120);
    // A valid edge setting is stored and shown.
    let r = gw
        .api(
            "PATCH",
            "/settings",
            Some(ADMIN_KEY),
            Some(json!({"limits": {"max_connections": 500, "http2_keepalive_interval_secs": 0}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["limits"]["max_connections"], 500);
    assert_eq!(r.json()["limits"]["http2_keepalive_interval_secs"], 0);
}

#[tokio::test]
async fn health_without_the_admin_key_is_minimal_and_refusals_are_logged_throttled() {
    let mock = MockUpstream::start().await.unwrap();
    let (gw, _dir) = gateway(&mock, "").await;
    for key in [None, Some(ALICE_KEY), Some("sk-wrong-but-long-1")] {
        let mut req = gw.request("GET", "/health");
        if let Some(key) = key {
            req = req.header("authorization", format!("Bearer {key}"));
        }
        let reply = gw.send(req, "").await;
        assert_eq!(reply.status, 200);
        assert_eq!(
            reply.json(),
            json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}),
            "{key:?}"
        );
    }
    let full = gw.health().await.json();
    assert_eq!(full["status"], "ok");
    assert_eq!(full["providers"].as_array().unwrap().len(), 16, "{full}");
    assert!(full["usage_sink"]["written"].is_u64(), "{full}");
    assert!(
        full["edge"]["open_connections"].as_u64().unwrap() >= 1,
        "{full}"
    );
    let api = gw.api("GET", "/health", Some(ADMIN_KEY), None).await;
    assert_eq!(api.status, 200, "{}", api.text());
    assert_eq!(api.json()["providers"], full["providers"]);
    assert_eq!(gw.api("GET", "/health", None, None).await.status, 401);

    // Twenty refused keys: counted, logged once (the period is 10 s).
    for _ in 0..20 {
        let r = gw
            .post(
                "/openai/v1/chat/completions",
                "sk-wrong-but-long-1",
                json!({"model": "m", "messages": []}),
            )
            .await;
        assert_eq!(r.status, 401);
    }
    assert_eq!(gw.health().await.json()["edge"]["unauthorized"], 20);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let logged = gw.stderr().matches("rejected: invalid API key").count();
    assert_eq!(logged, 1, "{}", gw.stderr());
}

/// `--runtime per-core` (the default) serves on `--threads` accept loops
/// whose counts add up to the accepted connections; `--runtime shared`
/// serves every connection from one accept loop and reports no per-thread
/// counts. Both answer requests the same.
#[tokio::test]
async fn the_serving_threads_are_set_and_reported_for_both_runtimes() {
    let mock = MockUpstream::start().await.unwrap();
    for (args, banner, loops) in [
        (&["--threads", "2"][..], "threads: 2 (per-core)", 2),
        (
            &["--runtime", "shared", "--threads", "2"][..],
            "threads: 2 (shared)",
            0,
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let gw = start_with(dir.path(), &config(&mock, ""), args).await;
        assert!(gw.stdout.contains(banner), "{args:?}: {}", gw.stdout);
        let mut clients = Vec::new();
        for _ in 0..8 {
            let mut s = TcpStream::connect(addr(&gw)).await.unwrap();
            s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                .await
                .unwrap();
            assert!(read_response(&mut s).await.starts_with("HTTP/1.1 200"));
            clients.push(s);
        }
        let edge = gw.health().await.json()["edge"].clone();
        let by_thread: Vec<u64> = edge["accepted_by_thread"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_u64().unwrap())
            .collect();
        assert_eq!(by_thread.len(), loops, "{args:?}: {edge}");
        if loops > 0 {
            assert_eq!(
                by_thread.iter().sum::<u64>(),
                edge["accepted_connections"].as_u64().unwrap(),
                "{args:?}: {edge}"
            );
        }
        assert!(
            edge["accepted_connections"].as_u64().unwrap() >= 9,
            "{edge}"
        );
        let reply = gw
            .post(
                "/openai/v1/chat/completions",
                ALICE_KEY,
                json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}),
            )
            .await;
        assert_eq!(reply.status, 200, "{args:?}: {}", reply.text());
        let status = gw.stop().await;
        assert!(status.success(), "{args:?}: {status:?}");
    }
}

#[tokio::test]
async fn a_zero_thread_count_is_refused() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (started, ()) = spawn(dir.path(), &config(&mock, ""), &["--threads", "0"]).await;
    let err = started.err().expect("started with --threads 0");
    assert!(err.contains("--threads"), "{err}");
}
