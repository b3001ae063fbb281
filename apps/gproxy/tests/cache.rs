//! The response cache through the real binary: miss then hit in each
//! client protocol, answers and streams (replayed as streams with a fresh
//! response id), embeddings; the upstream's request count proving a hit
//! never reaches it; partitions; opt-in and the client's cache headers;
//! lifetimes; errors never stored; hits logged at cost 0; purge; one cache
//! shared by two instances through Redis.
#![cfg(test)]

mod common;

use std::time::Duration;

use common::*;
use gproxy_testkit::{Fault, MockUpstream};
use serde_json::json;

const BOB_KEY: &str = "sk-bob-0123456789abcdef00";

fn cached(extra: &str) -> String {
    format!("[cache]\nenabled = true\n{extra}\n")
}

/// `body` with its response id (the first `"id"`/`"responseId"` value)
/// replaced everywhere by `ID`, and that id.
fn without_id(body: &str) -> (String, String) {
    let start = ["\"id\":\"", "\"responseId\":\""]
        .iter()
        .filter_map(|p| body.find(p).map(|i| i + p.len()))
        .min()
        .expect("a response id");
    let len = body[start..].find('"').unwrap();
    let id = body[start..start + len].to_owned();
    (body.replace(&id, "ID"), id)
}

async fn send(
    gw: &Gateway,
    path: &str,
    key: &str,
    body: &serde_json::Value,
    headers: &[(&str, &str)],
) -> Reply {
    let mut req = gw
        .request("POST", path)
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    gw.send(req, body.to_string()).await
}

/// Sends `body` twice; the second must be a hit served without the
/// upstream, identical but for a fresh response id.
async fn miss_then_hit(gw: &Gateway, mock: &MockUpstream, path: &str, body: serde_json::Value) {
    let before = mock.request_count();
    let first = send(gw, path, ALICE_KEY, &body, &[]).await;
    assert_eq!(first.status, 200, "{path}: {}", first.text());
    assert_eq!(first.header("x-gproxy-cache"), Some("miss"), "{path}");
    // Stored in the background as the request ends.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let second = send(gw, path, ALICE_KEY, &body, &[]).await;
    assert_eq!(second.status, 200, "{path}: {}", second.text());
    assert_eq!(second.header("x-gproxy-cache"), Some("hit"), "{path}");
    assert_eq!(
        mock.request_count(),
        before + 1,
        "{path}: a hit went upstream"
    );
    assert_eq!(
        first.header("content-type"),
        second.header("content-type"),
        "{path}"
    );
    assert_eq!(
        second.header("x-gproxy-provider"),
        first.header("x-gproxy-provider")
    );
    let (a, id_a) = without_id(&first.text());
    let (b, id_b) = without_id(&second.text());
    assert_eq!(a, b, "{path}: the replay differs");
    assert_ne!(id_a, id_b, "{path}: the response id was not renewed");
    assert_eq!(id_a.len(), id_b.len());
    // The hit's row: no upstream attempt, cost 0.
    let row = gw.log_of(second.header("x-request-id").unwrap()).await;
    assert_eq!(row.status, 200);
    assert!(row.attempts.is_empty(), "{path}: {:?}", row.attempts);
    assert_eq!(row.cost_nano_usd, Some(0));
    assert_eq!(row.price_version.as_deref(), Some("cache"));
    assert!(
        row.input_tokens.is_some(),
        "{path}: the hit's usage is logged"
    );
}

#[tokio::test]
async fn every_protocol_hits_as_answer_and_as_stream() {
    let mock = MockUpstream::start().await.unwrap();
    mock.set_stream_chunks(4, Duration::from_millis(5));
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &config(&mock, &cached("all = true"))).await;
    let chat = |stream: bool| json!({"model": "gpt-4o", "stream": stream, "messages": [{"role": "user", "content": "hi"}]});
    miss_then_hit(&gw, &mock, "/openai/v1/chat/completions", chat(false)).await;
    miss_then_hit(&gw, &mock, "/openai/v1/chat/completions", chat(true)).await;
    miss_then_hit(
        &gw,
        &mock,
        "/openai/v1/responses",
        json!({"model": "gpt-4o", "input": "hi"}),
    )
    .await;
    miss_then_hit(
        &gw,
        &mock,
        "/openai/v1/responses",
        json!({"model": "gpt-4o", "input": "hi", "stream": true}),
    )
    .await;
    let messages = |stream: bool| json!({"model": "claude-opus-4-1-20250805", "max_tokens": 16, "stream": stream, "messages": [{"role": "user", "content": "hi"}]});
    miss_then_hit(&gw, &mock, "/claude/v1/messages", messages(false)).await;
    miss_then_hit(&gw, &mock, "/claude/v1/messages", messages(true)).await;
    let gemini = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]});
    miss_then_hit(
        &gw,
        &mock,
        "/aistudio/v1beta/models/gemini-2.5-flash:generateContent",
        gemini.clone(),
    )
    .await;
    miss_then_hit(
        &gw,
        &mock,
        "/aistudio/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        gemini,
    )
    .await;
    // A converted call (Chat client, Claude upstream) is cached in the
    // client's shape too.
    miss_then_hit(
        &gw,
        &mock,
        "/v1/chat/completions",
        json!({"model": "claude/claude-opus-4-1-20250805", "stream": true, "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    // A streamed hit is still a stream the client's SDK reads.
    let r = send(
        &gw,
        "/openai/v1/chat/completions",
        ALICE_KEY,
        &chat(true),
        &[],
    )
    .await;
    assert_eq!(r.header("x-gproxy-cache"), Some("hit"));
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("text/event-stream")
    );
    let assembled = assemble_stream(
        gproxy_protocol::Protocol::OpenAiChat,
        r.text().as_bytes(),
        "hit",
    );
    assert!(!format!("{assembled:?}").is_empty());

    // Embeddings (no response id: replayed as stored).
    let emb = json!({"model": "text-embedding-3-small", "input": "hi"});
    let first = send(&gw, "/openai/v1/embeddings", ALICE_KEY, &emb, &[]).await;
    assert_eq!(
        first.header("x-gproxy-cache"),
        Some("miss"),
        "{}",
        first.text()
    );
    tokio::time::sleep(Duration::from_millis(150)).await;
    let n = mock.request_count();
    let second = send(&gw, "/openai/v1/embeddings", ALICE_KEY, &emb, &[]).await;
    assert_eq!(second.header("x-gproxy-cache"), Some("hit"));
    assert_eq!(second.text(), first.text());
    assert_eq!(mock.request_count(), n);

    // Counted: admin API, /health, metrics.
    let v = gw.api("GET", "/cache", Some(ADMIN_KEY), None).await.json();
    assert_eq!(v["enabled"], true);
    assert_eq!(v["report"]["hits"], 11, "{v}");
    assert_eq!(v["report"]["misses"], 10, "{v}");
    let health = gw.api("GET", "/health", Some(ADMIN_KEY), None).await.json();
    assert_eq!(health["cache"]["backend"], "memory", "{health}");
    let metrics = gw
        .send(
            gw.request("GET", "/metrics")
                .header("authorization", format!("Bearer {ADMIN_KEY}")),
            "",
        )
        .await
        .text();
    assert!(
        metrics.contains("gproxy_cache_requests_total{result=\"hit\"} 11"),
        "{metrics}"
    );
    // Purged: the next call goes upstream.
    let r = gw.api("DELETE", "/cache", Some(ADMIN_KEY), None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json()["removed"].as_u64().unwrap() >= 10, "{}", r.text());
    let r = send(&gw, "/openai/v1/embeddings", ALICE_KEY, &emb, &[]).await;
    assert_eq!(r.header("x-gproxy-cache"), Some("miss"));
}

#[tokio::test]
async fn tenants_are_partitioned_unless_shared() {
    let mock = MockUpstream::start().await.unwrap();
    let bob = format!("[[users]]\nname = \"bob\"\nkeys = [\"{BOB_KEY}\"]\n");
    let body = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "same"}]});
    for (partition, bob_sees) in [("key", "miss"), ("user", "miss"), ("shared", "hit")] {
        let dir = tempfile::tempdir().unwrap();
        let extra = format!(
            "{bob}{}",
            cached(&format!("all = true\npartition = \"{partition}\""))
        );
        let gw = start(dir.path(), &config(&mock, &extra)).await;
        let r = send(&gw, "/openai/v1/chat/completions", ALICE_KEY, &body, &[]).await;
        assert_eq!(r.header("x-gproxy-cache"), Some("miss"));
        tokio::time::sleep(Duration::from_millis(150)).await;
        let r = send(&gw, "/openai/v1/chat/completions", ALICE_KEY, &body, &[]).await;
        assert_eq!(r.header("x-gproxy-cache"), Some("hit"), "{partition}");
        let r = send(&gw, "/openai/v1/chat/completions", BOB_KEY, &body, &[]).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.header("x-gproxy-cache"), Some(bob_sees), "{partition}");
        gw.stop().await;
    }
}

#[tokio::test]
async fn opt_in_client_headers_lifetimes_and_errors() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Not on for everyone: gpt-4o-mini by a model rule (1 s), others only
    // when asked.
    let extra = cached("ttl_secs = 60\n[cache.models.\"gpt-4o-mini\"]\nttl_secs = 1");
    let gw = start(dir.path(), &config(&mock, &extra)).await;
    let chat =
        |model: &str| json!({"model": model, "messages": [{"role": "user", "content": "hi"}]});
    let path = "/openai/v1/chat/completions";

    // Not opted in: no cache, no header.
    let r = send(&gw, path, ALICE_KEY, &chat("gpt-4o"), &[]).await;
    assert_eq!(r.header("x-gproxy-cache"), None);
    // Asked with the header.
    let use_it = [("x-gproxy-cache", "use")];
    let r = send(&gw, path, ALICE_KEY, &chat("gpt-4o"), &use_it).await;
    assert_eq!(r.header("x-gproxy-cache"), Some("miss"));
    tokio::time::sleep(Duration::from_millis(150)).await;
    let r = send(&gw, path, ALICE_KEY, &chat("gpt-4o"), &use_it).await;
    assert_eq!(r.header("x-gproxy-cache"), Some("hit"));
    // no-cache: not served from the cache (the upstream is asked), stored.
    let n = mock.request_count();
    let r = send(
        &gw,
        path,
        ALICE_KEY,
        &chat("gpt-4o"),
        &[("x-gproxy-cache", "use"), ("cache-control", "no-cache")],
    )
    .await;
    assert_eq!(r.header("x-gproxy-cache"), Some("bypass"));
    assert_eq!(mock.request_count(), n + 1);
    // no-store: neither.
    let r = send(
        &gw,
        path,
        ALICE_KEY,
        &chat("gpt-4o"),
        &[("x-gproxy-cache", "use"), ("cache-control", "no-store")],
    )
    .await;
    assert_eq!(r.header("x-gproxy-cache"), Some("bypass"));
    assert_eq!(mock.request_count(), n + 2);

    // The model rule opts gpt-4o-mini in, for one second.
    let r = send(&gw, path, ALICE_KEY, &chat("gpt-4o-mini"), &[]).await;
    assert_eq!(r.header("x-gproxy-cache"), Some("miss"));
    tokio::time::sleep(Duration::from_millis(150)).await;
    let r = send(&gw, path, ALICE_KEY, &chat("gpt-4o-mini"), &[]).await;
    assert_eq!(r.header("x-gproxy-cache"), Some("hit"));
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let r = send(&gw, path, ALICE_KEY, &chat("gpt-4o-mini"), &[]).await;
    assert_eq!(r.header("x-gproxy-cache"), Some("miss"), "expired");

    // An error is never stored.
    let body = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "fails"}]});
    mock.push_fault(Fault::Status {
        status: 400,
        retry_after: None,
        body: None,
    });
    let r = send(&gw, path, ALICE_KEY, &body, &[]).await;
    assert_eq!(r.status, 400, "{}", r.text());
    tokio::time::sleep(Duration::from_millis(150)).await;
    let r = send(&gw, path, ALICE_KEY, &body, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-gproxy-cache"), Some("miss"));

    // Turned off live: no header at all.
    let r = gw
        .api(
            "PATCH",
            "/settings",
            Some(ADMIN_KEY),
            Some(json!({"cache": {}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = send(&gw, path, ALICE_KEY, &chat("gpt-4o-mini"), &[]).await;
    assert_eq!(r.header("x-gproxy-cache"), None);
    // Purging a cache that is off removes nothing.
    let r = gw.api("DELETE", "/cache", Some(ADMIN_KEY), None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["removed"], 0);
    // A bad value names its field.
    let r = gw
        .api(
            "PATCH",
            "/settings",
            Some(ADMIN_KEY),
            Some(json!({"cache": {"enabled": true, "ttl_secs": 0}})),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("cache.ttl_secs"), "{}", r.text());
}

#[tokio::test]
async fn two_instances_share_one_cache_through_redis() {
    let Some(url) = redis_url("two_instances_share_one_cache_through_redis").await else {
        return;
    };
    let prefix = format!("gproxy-test-cache-{}:", rand_suffix());
    let mock = MockUpstream::start().await.unwrap();
    mock.set_stream_chunks(3, Duration::from_millis(5));
    let extra = cached(&format!(
        "all = true\nbackend = \"redis\"\nredis_url = \"{url}\"\nredis_prefix = \"{prefix}\""
    ));
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = start(d1.path(), &config(&mock, &extra)).await;
    let b = start(d2.path(), &config(&mock, &extra)).await;
    let path = "/claude/v1/messages";
    let body = json!({"model": "claude-opus-4-1-20250805", "max_tokens": 16, "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    let first = send(&a, path, ALICE_KEY, &body, &[]).await;
    assert_eq!(first.header("x-gproxy-cache"), Some("miss"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = send(&b, path, ALICE_KEY, &body, &[]).await;
    assert_eq!(
        second.header("x-gproxy-cache"),
        Some("hit"),
        "{}",
        second.text()
    );
    assert_eq!(mock.request_count(), 1);
    assert_eq!(without_id(&first.text()).0, without_id(&second.text()).0);
    assert_eq!(
        b.api("GET", "/cache", Some(ADMIN_KEY), None).await.json()["report"]["backend"],
        "redis"
    );
    let r = a.api("DELETE", "/cache", Some(ADMIN_KEY), None).await;
    assert_eq!(r.json()["removed"], 1, "{}", r.text());
    let r = send(&b, path, ALICE_KEY, &body, &[]).await;
    assert_eq!(r.header("x-gproxy-cache"), Some("miss"));
}
