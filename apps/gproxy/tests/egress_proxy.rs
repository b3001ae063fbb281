//! The egress proxy (`--proxy` / `proxy = "..."`) through the real binary:
//! upstream calls go through a mock HTTP CONNECT or SOCKS5 proxy, with and
//! without credentials, and a proxy that refuses ends in the degraded 503
//! in the client's protocol shape instead of hanging.
#![cfg(test)]

mod common;

use std::time::Duration;

use common::*;
use gproxy_testkit::{MockProxy, MockUpstream, ProxyKind};
use serde_json::json;

const PROXY_USER: &str = "proxy-user";
const PROXY_PASS: &str = "proxy-secret-42";

fn creds() -> Option<(String, String)> {
    Some((PROXY_USER.to_owned(), PROXY_PASS.to_owned()))
}

/// `proxy.url()` with `user:pass@` spliced in after the scheme.
fn url_with_credentials(proxy: &MockProxy, user: &str, pass: &str) -> String {
    let url = proxy.url();
    let (scheme, rest) = url.split_once("://").unwrap();
    format!("{scheme}://{user}:{pass}@{rest}")
}

fn chat(stream: bool) -> serde_json::Value {
    json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "stream": stream})
}

/// Sends one chat request (within 30 s, so a hang fails the test) and
/// asserts it reached the mock through `proxy`.
async fn assert_chat_goes_through(
    gw: &Gateway,
    mock: &MockUpstream,
    proxy: &MockProxy,
    target: &str,
) {
    let before = mock.request_count();
    let reply = tokio::time::timeout(
        Duration::from_secs(30),
        gw.post("/openai/v1/chat/completions", ALICE_KEY, chat(false)),
    )
    .await
    .expect("the gateway hung");
    assert_eq!(reply.status, 200, "{}\n{}", reply.text(), gw.stderr());
    let v = reply.json();
    assert_eq!(v["object"], "chat.completion", "{v}");
    assert!(
        v["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .contains("Hello"),
        "{v}"
    );

    assert_eq!(mock.request_count(), before + 1);
    let up = mock.last_request().unwrap();
    assert_eq!(up.path, "/v1/chat/completions");
    assert_eq!(
        up.header("authorization"),
        Some(format!("Bearer {OPENAI_KEY}").as_str())
    );
    assert_eq!(up.json()["model"], "gpt-4o-mini");
    for (name, value) in &up.headers {
        let value = value.to_str().unwrap_or("");
        assert!(
            !value.contains(PROXY_PASS),
            "proxy password leaked upstream in {name}"
        );
        assert_ne!(name.as_str(), "proxy-authorization");
    }
    assert!(
        proxy.tunnels().iter().any(|t| t == target),
        "{target} not in {:?}",
        proxy.tunnels()
    );
    assert_eq!(proxy.rejected(), 0);
}

#[tokio::test]
async fn http_connect_proxy_with_credentials_carries_upstream_calls() {
    let mock = MockUpstream::start().await.unwrap();
    let proxy = MockProxy::start(ProxyKind::HttpConnect, creds())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = url_with_credentials(&proxy, PROXY_USER, PROXY_PASS);
    let gw = start_with(dir.path(), &config(&mock, ""), &["--proxy", &url]).await;

    assert_chat_goes_through(&gw, &mock, &proxy, &mock.addr().to_string()).await;
}

#[tokio::test]
async fn socks5_proxy_without_credentials_carries_plain_and_streamed_calls() {
    let mock = MockUpstream::start().await.unwrap();
    let proxy = MockProxy::start(ProxyKind::Socks5, None).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start_with(dir.path(), &config(&mock, ""), &["--proxy", &proxy.url()]).await;

    let target = mock.addr().to_string();
    assert_chat_goes_through(&gw, &mock, &proxy, &target).await;

    let reply = gw
        .post("/openai/v1/chat/completions", ALICE_KEY, chat(true))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let events = reply.events();
    assert_eq!(
        events.last().map(|(_, data)| data.as_str()),
        Some("[DONE]"),
        "{events:?}"
    );
    assert_eq!(mock.request_count(), 2);
    assert!(
        proxy.tunnels().iter().all(|t| *t == target),
        "{:?}",
        proxy.tunnels()
    );
}

#[tokio::test]
async fn socks5_proxy_with_credentials_carries_upstream_calls() {
    let mock = MockUpstream::start().await.unwrap();
    let proxy = MockProxy::start(ProxyKind::Socks5, creds()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = url_with_credentials(&proxy, PROXY_USER, PROXY_PASS);
    let gw = start_with(dir.path(), &config(&mock, ""), &["--proxy", &url]).await;

    assert_chat_goes_through(&gw, &mock, &proxy, &mock.addr().to_string()).await;
}

#[tokio::test]
async fn socks5h_leaves_name_resolution_to_the_proxy() {
    let mock = MockUpstream::start().await.unwrap();
    let proxy = MockProxy::start(ProxyKind::Socks5, None).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let port = mock.addr().port();
    let text = config(&mock, "").replace(&mock.base_url(), &format!("http://localhost:{port}"));
    let url = proxy.url().replace("socks5://", "socks5h://");
    let gw = start_with(dir.path(), &text, &["--proxy", &url]).await;

    assert_chat_goes_through(&gw, &mock, &proxy, &format!("localhost:{port}")).await;
}

#[tokio::test]
async fn proxy_from_the_config_file_is_used() {
    let mock = MockUpstream::start().await.unwrap();
    let proxy = MockProxy::start(ProxyKind::HttpConnect, creds())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let extra = format!(
        "proxy = \"{}\"",
        url_with_credentials(&proxy, PROXY_USER, PROXY_PASS)
    );
    let gw = start(dir.path(), &config(&mock, &extra)).await;

    assert_chat_goes_through(&gw, &mock, &proxy, &mock.addr().to_string()).await;
}

#[tokio::test]
async fn a_refusing_proxy_ends_degraded_in_the_client_shape() {
    for kind in [ProxyKind::HttpConnect, ProxyKind::Socks5] {
        let mock = MockUpstream::start().await.unwrap();
        let proxy = MockProxy::start(kind, creds()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let url = url_with_credentials(&proxy, PROXY_USER, "wrong-password");
        let gw = start_with(dir.path(), &config(&mock, ""), &["--proxy", &url]).await;

        let reply = tokio::time::timeout(
            Duration::from_secs(30),
            gw.post("/openai/v1/chat/completions", ALICE_KEY, chat(false)),
        )
        .await
        .unwrap_or_else(|_| panic!("{kind:?}: the gateway hung on a refusing proxy"));
        // A connection failure is transient: retried, then the degraded 503.
        assert_eq!(reply.status, 503, "{kind:?}: {}", reply.text());
        assert_eq!(
            reply.header("x-llm-proxy-error-class"),
            Some("provider_degraded")
        );
        let v = reply.json();
        assert!(v["error"]["message"].is_string(), "{kind:?}: {v}");
        assert!(v["error"]["type"].is_string(), "{kind:?}: {v}");
        assert!(!reply.text().contains("wrong-password"), "{kind:?}: {v}");
        assert!(proxy.rejected() >= 1, "{kind:?}");
        assert!(proxy.tunnels().is_empty(), "{kind:?}");
        assert_eq!(mock.request_count(), 0, "{kind:?}");
    }
}

#[tokio::test]
async fn an_http_upstream_without_a_port_is_tunnelled_to_port_80() {
    // Needs the privileged port 80; skipped where it cannot be bound.
    let Ok(mock) = MockUpstream::start_on("127.0.0.1:80".parse().unwrap()).await else {
        eprintln!("cannot bind 127.0.0.1:80 here; skipping");
        return;
    };
    for kind in [ProxyKind::HttpConnect, ProxyKind::Socks5] {
        let proxy = MockProxy::start(kind, None).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let text = config(&mock, "").replace(&mock.base_url(), "http://127.0.0.1");
        assert!(
            text.contains("base_url = \"http://127.0.0.1/v1\""),
            "{text}"
        );
        let gw = start_with(dir.path(), &text, &["--proxy", &proxy.url()]).await;

        assert_chat_goes_through(&gw, &mock, &proxy, "127.0.0.1:80").await;
    }
}

/// A proxy set through the admin API applies to the next upstream call on
/// every serving thread: each thread of the per-core server keeps its own
/// connection pool, built again from the new settings.
#[tokio::test]
async fn a_proxy_set_live_reaches_every_serving_thread() {
    let mock = MockUpstream::start().await.unwrap();
    let proxy = MockProxy::start(ProxyKind::Socks5, None).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start_with(dir.path(), &config(&mock, ""), &["--threads", "3"]).await;
    assert!(gw.stdout.contains("threads: 3 (per-core)"), "{}", gw.stdout);

    // Direct first, on fresh connections so that every thread serves some
    // and builds its own pool.
    let direct = chat_on_new_connections(&gw, 32).await;
    assert!(direct.iter().all(|s| *s == 200), "{direct:?}");
    assert!(proxy.tunnels().is_empty());
    let edge = gw.health().await.json()["edge"].clone();
    let by_thread = edge["accepted_by_thread"].as_array().unwrap().clone();
    assert!(by_thread.iter().all(|n| n.as_u64().unwrap() > 0), "{edge}");

    // The gateway's own upstream connections, each thread's pool's.
    let direct_peers: std::collections::HashSet<_> =
        mock.requests().iter().map(|r| r.peer).collect();
    // `/health` counts them: each connection the mock saw was opened once,
    // and all are still open (idle in their pools).
    let direct = direct_peers.len() as u64;
    assert_eq!(
        edge["upstream_connections_opened"].as_u64(),
        Some(direct),
        "{edge}"
    );
    assert_eq!(
        edge["upstream_connections_open"].as_u64(),
        Some(direct),
        "{edge}"
    );

    let r = gw
        .api(
            "PATCH",
            "/settings",
            Some(ADMIN_KEY),
            Some(json!({"proxy": proxy.url()})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let before = mock.request_count();
    let proxied = chat_on_new_connections(&gw, 32).await;
    assert!(proxied.iter().all(|s| *s == 200), "{proxied:?}");
    assert_eq!(mock.request_count(), before + 32);
    // Every one of them went through the proxy: none came over a direct
    // connection that a thread's pool kept from before the change.
    let requests = mock.requests();
    let reused: Vec<_> = requests[before..]
        .iter()
        .filter(|r| direct_peers.contains(&r.peer))
        .map(|r| r.peer)
        .collect();
    assert!(
        reused.is_empty(),
        "sent over a pooled direct connection: {reused:?}"
    );
    let tunnels = proxy.tunnels();
    assert!(
        !tunnels.is_empty() && tunnels.iter().all(|t| *t == mock.addr().to_string()),
        "{tunnels:?}"
    );
    let edge = gw.health().await.json()["edge"].clone();
    let served: Vec<u64> = edge["accepted_by_thread"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .collect();
    assert!(
        served
            .iter()
            .zip(&by_thread)
            .all(|(now, then)| *now > then.as_u64().unwrap()),
        "a thread served none of the proxied requests: {served:?} after {by_thread:?}"
    );
    assert_eq!(proxy.rejected(), 0);
    // Every thread's old pool went with its direct connections; the new
    // ones, through the proxy, stay open.
    let mut counts = (0, 0);
    for _ in 0..100 {
        let edge = gw.health().await.json()["edge"].clone();
        counts = (
            edge["upstream_connections_opened"].as_u64().unwrap(),
            edge["upstream_connections_open"].as_u64().unwrap(),
        );
        if counts.1 + direct == counts.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(counts.0 > direct, "{counts:?}");
    assert_eq!(counts.1 + direct, counts.0, "(opened, open): {counts:?}");
}

/// `n` chat requests at once, each on its own new client connection;
/// their statuses.
async fn chat_on_new_connections(gw: &Gateway, n: usize) -> Vec<u16> {
    let addr = gw.base.trim_start_matches("http://").to_owned();
    let body = chat(false).to_string();
    let mut tasks = Vec::new();
    for _ in 0..n {
        let addr = addr.clone();
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
            let head = format!(
                "POST /openai/v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ALICE_KEY}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            s.write_all(head.as_bytes()).await.unwrap();
            s.write_all(body.as_bytes()).await.unwrap();
            let mut out = Vec::new();
            tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut out))
                .await
                .expect("no answer within 30 s")
                .unwrap();
            let text = String::from_utf8_lossy(&out);
            text.split(' ').nth(1).and_then(|c| c.parse::<u16>().ok()).unwrap_or(0)
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    statuses
}
