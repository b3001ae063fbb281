//! Cost through the real binary: every protocol's log row carries the
//! cost its usage and the catalogue give (hand-computed below from the
//! mock's fixed usage: 11 prompt tokens, 3 of them cache reads, 2 cache
//! writes on Anthropic, 7 output, 5 reasoning), `x-gproxy-cost` on
//! non-stream answers, unknown prices as null, overrides from the config
//! file and (live) from the admin API, the aggregates, an aborted stream.
#![cfg(test)]

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use gproxy_testkit::MockUpstream;
use http_body_util::BodyExt;
use serde_json::json;

/// The embedded catalogue's version.
const VERSION: &str = "2026-12-04";

fn chat(model: &str, stream: bool) -> serde_json::Value {
    json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]})
}

fn messages(model: &str, stream: bool) -> serde_json::Value {
    json!({"model": model, "max_tokens": 16, "stream": stream, "messages": [{"role": "user", "content": "hi"}]})
}

fn gemini() -> serde_json::Value {
    json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
}

fn request_id(reply: &Reply) -> String {
    reply.header("x-request-id").unwrap().to_owned()
}

#[tokio::test]
async fn every_protocol_is_priced_with_its_own_usage_semantics() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &config(&mock, "")).await;

    // OpenAI gpt-4o: 2.50 in, 1.25 cached, 10 out per million. The 3
    // cached tokens are inside the 11: 8 × 2.5 + 3 × 1.25 + 7 × 10 = 93.75
    // per million (the 5 reasoning tokens are inside the 7).
    let r = gw
        .post(
            "/openai/v1/chat/completions",
            ALICE_KEY,
            chat("gpt-4o", false),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-gproxy-cost"), Some("0.00009375"));
    let row = gw.log_of(&request_id(&r)).await;
    assert_eq!(row.cost_nano_usd, Some(93_750));
    assert_eq!(row.price_version.as_deref(), Some(VERSION));

    // The same through a stream: the log has it, the client gets no header
    // (it went out before the usage).
    let r = gw
        .post(
            "/openai/v1/chat/completions",
            ALICE_KEY,
            chat("gpt-4o", true),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-gproxy-cost"), None);
    assert_eq!(gw.log_of(&request_id(&r)).await.cost_nano_usd, Some(93_750));

    // Responses: the same usage in its own names.
    let r = gw
        .post(
            "/openai/v1/responses",
            ALICE_KEY,
            json!({"model": "gpt-4o", "input": "hi"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-gproxy-cost"), Some("0.00009375"));

    // Anthropic claude-opus-4-1: 15 in, 1.50 read, 18.75 write, 75 out.
    // Input excludes the cache: 11 × 15 + 3 × 1.5 + 2 × 18.75 + 7 × 75 =
    // 732 per million.
    let r = gw
        .post(
            "/claude/v1/messages",
            ALICE_KEY,
            messages("claude-opus-4-1-20250805", false),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-gproxy-cost"), Some("0.000732"));
    assert_eq!(
        gw.log_of(&request_id(&r)).await.cost_nano_usd,
        Some(732_000)
    );

    // A Chat client on the Claude provider: the upstream's (Anthropic)
    // usage prices it, the same 732.
    let r = gw
        .post(
            "/v1/chat/completions",
            ALICE_KEY,
            chat("claude/claude-opus-4-1-20250805", false),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-gproxy-cost"), Some("0.000732"));

    // Gemini 2.5 Pro's cache-read price is not in the catalogue and the
    // mock reports cached tokens: unknown, so null, never 0.
    let r = gw
        .post(
            "/aistudio/v1beta/models/gemini-2.5-pro:generateContent",
            ALICE_KEY,
            gemini(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-gproxy-cost"), None);
    let row = gw.log_of(&request_id(&r)).await;
    assert_eq!(row.input_tokens, Some(11));
    assert_eq!((row.cost_nano_usd, row.price_version), (None, None));

    // A model the catalogue does not know: null too.
    let r = gw
        .post(
            "/openai/v1/chat/completions",
            ALICE_KEY,
            chat("gpt-unknown", false),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-gproxy-cost"), None);
    assert_eq!(gw.log_of(&request_id(&r)).await.cost_nano_usd, None);

    // The admin log rows show the cost as a decimal string, or null.
    let logs = gw.api("GET", "/logs?limit=50", Some(ADMIN_KEY), None).await;
    assert_eq!(logs.status, 200, "{}", logs.text());
    let items = logs.json()["items"].as_array().unwrap().clone();
    let costs: Vec<_> = items.iter().map(|i| i["cost"].clone()).collect();
    assert!(costs.contains(&json!("0.000732")), "{costs:?}");
    assert!(costs.contains(&serde_json::Value::Null), "{costs:?}");

    // Aggregates by provider: openai 3 × 93.75, claude 2 × 732 per
    // million; aistudio has no priced request.
    let usage = gw
        .api("GET", "/usage?group_by=provider", Some(ADMIN_KEY), None)
        .await;
    assert_eq!(usage.status, 200, "{}", usage.text());
    let rows = usage.json();
    let rows = rows.as_array().unwrap();
    let of = |p: &str| rows.iter().find(|r| r["provider"] == p).unwrap().clone();
    assert_eq!(of("openai")["cost"], "0.00028125");
    assert_eq!(of("openai")["priced_requests"], 3);
    assert_eq!(of("openai")["requests"], 4);
    assert_eq!(of("claude")["cost"], "0.001464");
    assert_eq!(of("aistudio")["cost"], "0");
    assert_eq!(of("aistudio")["priced_requests"], 0);
    // By user and by day too.
    let usage = gw
        .api(
            "GET",
            "/usage?group_by=user&bucket=day",
            Some(ADMIN_KEY),
            None,
        )
        .await;
    let rows = usage.json();
    let total: f64 = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["cost"].as_str().unwrap().parse::<f64>().unwrap())
        .sum();
    assert!((total - 0.00174525).abs() < 1e-12, "{rows}");

    // `/metrics` adds the known costs.
    let m = gw.send(gw.request("GET", "/metrics"), Bytes::new()).await;
    let line = m
        .text()
        .lines()
        .find(|l| l.starts_with("gproxy_cost_usd_total "))
        .map(str::to_owned)
        .unwrap();
    let v: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!((v - 0.00174525).abs() < 1e-9, "{line}");
}

#[tokio::test]
async fn overrides_from_the_file_and_live_from_the_admin_api() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let extra = r#"
[[pricing.overrides]]
provider = "openai"
model = "gpt-unknown*"
input = "1"
output = "2"
cache_read = "0.5"
per_request = "0.001"
"#;
    let gw = start(dir.path(), &config(&mock, extra)).await;

    // 8 × 1 + 3 × 0.5 + 7 × 2 = 23.5 per million, plus 0.001 per request.
    let r = gw
        .post(
            "/openai/v1/chat/completions",
            ALICE_KEY,
            chat("gpt-unknown-1", false),
        )
        .await;
    assert_eq!(r.header("x-gproxy-cost"), Some("0.0010235"));
    let row = gw.log_of(&request_id(&r)).await;
    assert_eq!(row.price_version.as_deref(), Some("2026-12-04+override"));

    let view = gw.api("GET", "/pricing", Some(ADMIN_KEY), None).await;
    assert_eq!(view.status, 200, "{}", view.text());
    let v = view.json();
    assert_eq!(v["version"], VERSION);
    assert_eq!(v["overrides"][0]["model"], "gpt-unknown*");
    let catalogue = v["catalogue"].as_array().unwrap();
    assert!(
        catalogue
            .iter()
            .all(|p| p["source"].as_str().unwrap().starts_with("https://"))
    );

    // Bad input names the field.
    let bad = gw
        .api(
            "PUT",
            "/pricing",
            Some(ADMIN_KEY),
            Some(json!({"overrides": [{"model": "m", "input": "1", "output": "-2"}]})),
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert!(bad.text().contains("overrides[0].output"), "{}", bad.text());

    // Gemini, unknown before (cache reads unpriced), priced once the
    // override is in: Gemini's prompt includes the 3 cached tokens and
    // its 5 thoughts are billed as output: 8 × 1 + 3 × 0.5 + 12 × 2 = 33.5.
    let put = gw
        .api(
            "PUT",
            "/pricing",
            Some(ADMIN_KEY),
            Some(json!({"overrides": [
                {"provider": "aistudio", "model": "gemini-2.5-*", "input": "1", "output": "2", "cache_read": "0.5"}
            ]})),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.text());
    let r = gw
        .post(
            "/aistudio/v1beta/models/gemini-2.5-pro:generateContent",
            ALICE_KEY,
            gemini(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-gproxy-cost"), Some("0.0000335"));
    // The file's override was replaced: gpt-unknown is unknown again.
    let r = gw
        .post(
            "/openai/v1/chat/completions",
            ALICE_KEY,
            chat("gpt-unknown-1", false),
        )
        .await;
    assert_eq!(r.header("x-gproxy-cost"), None);

    // The write is audited.
    let audit = gw.api("GET", "/audit", Some(ADMIN_KEY), None).await;
    assert!(audit.text().contains("pricing.update"), "{}", audit.text());
}

#[tokio::test]
async fn an_aborted_stream_is_billed_by_what_the_upstream_reported() {
    let mock = MockUpstream::start().await.unwrap();
    mock.set_stream_chunks(20, Duration::from_millis(200));
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &config(&mock, "")).await;

    // Anthropic reports the input (and one output token) in message_start;
    // the client goes away before message_delta.
    let req = gw
        .request("POST", "/claude/v1/messages")
        .header("authorization", format!("Bearer {ALICE_KEY}"))
        .header("x-request-id", "aborted-1");
    let response = gw
        .open(req, messages("claude-opus-4-1-20250805", true).to_string())
        .await;
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let frame = body.frame().await.unwrap().unwrap();
    assert!(frame.data_ref().is_some());
    drop(body);

    let row = gw.log_of("aborted-1").await;
    assert!(row.client_disconnected, "{row:?}");
    // The input as reported: 11 × 15 + 3 × 1.5 + 2 × 18.75 = 207 per
    // million; the output at least the 1 reported (more if text was
    // forwarded), at 75.
    assert_eq!(row.input_tokens, Some(11));
    let out = row.output_tokens.unwrap();
    assert!(out >= 1, "{row:?}");
    assert_eq!(row.cost_nano_usd, Some(207_000 + 75_000 * out as i64));
}

#[tokio::test]
async fn a_stream_left_before_any_usage_is_billed_by_what_was_streamed() {
    let mock = MockUpstream::start().await.unwrap();
    mock.set_stream_chunks(20, Duration::from_millis(200));
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &config(&mock, "")).await;
    let body = json!({"model": "gpt-4o", "stream": true, "messages": [{"role": "user", "content": "Tell me a long story about a lighthouse keeper"}]});

    // OpenAI Chat reports usage in its last chunk only: the client leaves
    // after the first frames.
    let req = gw
        .request("POST", "/openai/v1/chat/completions")
        .header("authorization", format!("Bearer {ALICE_KEY}"))
        .header("x-request-id", "aborted-2");
    let response = gw.open(req, body.to_string()).await;
    assert_eq!(response.status(), 200);
    let mut body_stream = response.into_body();
    let mut seen = String::new();
    // A delta with text (the first chunk's `"content":""` has none).
    let has_text = |s: &str| {
        s.match_indices("\"content\":\"")
            .any(|(i, m)| s[i + m.len()..].chars().next().is_some_and(|c| c != '"'))
    };
    while !has_text(&seen) {
        let frame = body_stream.frame().await.unwrap().unwrap();
        seen.push_str(&String::from_utf8_lossy(frame.data_ref().unwrap()));
    }
    drop(body_stream);

    let row = gw.log_of("aborted-2").await;
    assert!(row.client_disconnected, "{row:?}");
    // The input counted locally, as the estimate counts it.
    let estimate = gw
        .post(
            "/v1/gproxy/cost-estimate",
            ALICE_KEY,
            json!({"protocol": "openai_chat", "model": "openai/gpt-4o", "body": body}),
        )
        .await
        .json();
    let input = estimate["input_tokens"].as_u64().unwrap();
    assert_eq!(row.input_tokens, Some(input));
    // The output from the text forwarded (at least one delta went out).
    let out = row.output_tokens.unwrap();
    assert!(out >= 1, "{row:?}");
    // gpt-4o: 2.5 in, 10 out per million.
    assert_eq!(
        row.cost_nano_usd,
        Some(input as i64 * 2_500 + out as i64 * 10_000)
    );
    assert_eq!(row.price_version.as_deref(), Some(VERSION));
}

#[tokio::test]
async fn cost_estimate_and_the_max_cost_ceiling() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &config(&mock, "")).await;

    let body = json!({"model": "gpt-4o", "max_tokens": 100, "messages": [{"role": "user", "content": "Hello there, how much?"}]});
    let r = gw
        .post(
            "/v1/gproxy/cost-estimate",
            ALICE_KEY,
            json!({"protocol": "openai_chat", "model": "openai/gpt-4o", "body": body}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["provider"], "openai");
    assert_eq!(v["model"], "gpt-4o");
    assert_eq!(v["input_counted"], "local");
    assert_eq!(v["max_output_tokens"], 100);
    assert_eq!(v["prices"]["input"], "2.5");
    assert_eq!(v["prices"]["output"], "10");
    assert_eq!(v["price_version"], VERSION);
    let input = v["input_tokens"].as_u64().unwrap();
    assert!(input > 5, "{v}");
    // input × 2.5 / 1e6 + 100 × 10 / 1e6, by hand.
    let expected = (input as f64 * 2.5 + 1000.0) / 1e6;
    let cost: f64 = v["cost"].as_str().unwrap().parse().unwrap();
    assert!((cost - expected).abs() < 1e-12, "{v}");
    assert_eq!(
        v["arithmetic"],
        format!(
            "{input} × 2.5 / 1e6 + 100 × 10 / 1e6 = {}",
            v["cost"].as_str().unwrap()
        )
    );
    // An unknown model: counted, not priced.
    let r = gw
        .post(
            "/v1/gproxy/cost-estimate",
            ALICE_KEY,
            json!({"protocol": "claude", "body": {"model": "claude/who-knows", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["cost"], serde_json::Value::Null);
    // Bad requests: OpenAI-shaped errors.
    let r = gw
        .post("/v1/gproxy/cost-estimate", ALICE_KEY, json!({"body": {}}))
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("protocol")
    );
    let r = gw
        .post("/v1/gproxy/cost-estimate", "sk-nobody", json!({}))
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(mock.request_count(), 0, "an estimate never calls upstream");

    // The ceiling: 1000 output tokens of gpt-4o are 0.01 USD at least.
    let over = |max: &'static str| {
        gw.request("POST", "/openai/v1/chat/completions")
            .header("authorization", format!("Bearer {ALICE_KEY}"))
            .header("x-gproxy-max-cost", max)
    };
    let big = json!({"model": "gpt-4o", "max_tokens": 1000, "messages": [{"role": "user", "content": "hi"}]});
    let r = gw.send(over("0.005"), big.to_string()).await;
    assert_eq!(r.status, 402, "{}", r.text());
    let message = r.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("exceeds the maximum of 0.005 USD"),
        "{message}"
    );
    assert_eq!(mock.request_count(), 0, "refused before the upstream call");
    // Within the ceiling it goes through.
    let r = gw.send(over("0.05"), big.to_string()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(mock.request_count(), 1);
    // Anthropic clients get Anthropic's error shape; an unknown price
    // cannot honour a ceiling.
    let req = gw
        .request("POST", "/claude/v1/messages")
        .header("authorization", format!("Bearer {ALICE_KEY}"))
        .header("x-gproxy-max-cost", "1");
    let r = gw.send(req, messages("who-knows", false).to_string()).await;
    assert_eq!(r.status, 402, "{}", r.text());
    let v = r.json();
    assert_eq!(v["type"], "error");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("unknown"),
        "{v}"
    );
    // A malformed ceiling is a 400.
    let r = gw.send(over("cheap"), big.to_string()).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(mock.request_count(), 1);
    // The refusal is logged like any failed request.
    let logs = gw.logs(4).await;
    assert!(logs.iter().any(|l| l.status == 402), "{logs:?}");
}

/// Serves `/good.json` (a catalogue pricing `refreshed-model`) and
/// `/bad.json` (not a catalogue) over plain HTTP; returns its base URL.
async fn catalogue_server() -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head);
                let body = if head.starts_with("GET /good.json") {
                    json!({"version": "refreshed-2027-01-01", "providers": [{
                        "kinds": ["openai"], "source": "https://example.test/prices", "checked": "2027-01-01",
                        "models": [{"model": "refreshed-model", "input": "1", "output": "1", "cache_read": "1"}]
                    }]})
                    .to_string()
                } else {
                    json!({"version": "x", "providers": [{"kinds": ["openai"], "source": "s", "checked": "c",
                        "models": [{"model": "m", "input": "-1", "output": "1"}]}]})
                    .to_string()
                };
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(reply.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn the_catalogue_refreshes_from_a_url_and_a_bad_document_is_refused() {
    let mock = MockUpstream::start().await.unwrap();
    let server = catalogue_server().await;
    let dir = tempfile::tempdir().unwrap();
    let extra =
        format!("[pricing]\nrefresh_url = \"{server}/good.json\"\nrefresh_interval_secs = 3600\n");
    let gw = start(dir.path(), &config(&mock, &extra)).await;

    // The first fetch happens at start, in the background.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let v = gw
            .api("GET", "/pricing", Some(ADMIN_KEY), None)
            .await
            .json();
        if v["version"] == "refreshed-2027-01-01" {
            assert_eq!(v["refresh"]["version"], "refreshed-2027-01-01");
            assert_eq!(v["refresh"]["error"], serde_json::Value::Null);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never refreshed: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The refreshed catalogue prices: 11 × 1 + 7 × 1 = 18 per million.
    let r = gw
        .post(
            "/openai/v1/chat/completions",
            ALICE_KEY,
            chat("refreshed-model", false),
        )
        .await;
    assert_eq!(r.header("x-gproxy-cost"), Some("0.000018"));
    let row = gw.log_of(&request_id(&r)).await;
    assert_eq!(row.price_version.as_deref(), Some("refreshed-2027-01-01"));
    let health = gw.health().await.json();
    assert_eq!(health["pricing"]["version"], "refreshed-2027-01-01");
    assert!(
        health["pricing"]["refresh"]["url"]
            .as_str()
            .unwrap()
            .ends_with("/good.json")
    );

    // A bad document is refused, the catalogue in force kept.
    let put = gw
        .api(
            "PUT",
            "/pricing",
            Some(ADMIN_KEY),
            Some(json!({"overrides": [], "refresh_url": format!("{server}/bad.json")})),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.text());
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let v = gw
            .api("GET", "/pricing", Some(ADMIN_KEY), None)
            .await
            .json();
        if let Some(error) = v["refresh"]["error"].as_str() {
            assert!(error.contains("must not be negative"), "{v}");
            assert_eq!(v["version"], "refreshed-2027-01-01");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no refusal: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Bad settings name their field.
    let bad = gw
        .api(
            "PUT",
            "/pricing",
            Some(ADMIN_KEY),
            Some(json!({"overrides": [], "refresh_url": "ftp://x/y"})),
        )
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.text().contains("refresh_url"), "{}", bad.text());
    // Turning it off keeps the catalogue in force.
    let off = gw
        .api(
            "PUT",
            "/pricing",
            Some(ADMIN_KEY),
            Some(json!({"overrides": []})),
        )
        .await;
    assert_eq!(off.status, 200);
    let v = gw
        .api("GET", "/pricing", Some(ADMIN_KEY), None)
        .await
        .json();
    assert_eq!(v["refresh"]["url"], serde_json::Value::Null);
    assert_eq!(v["version"], "refreshed-2027-01-01");
}

#[tokio::test]
async fn a_key_ceiling_refuses_without_the_header() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &config(&mock, "")).await;
    let users = gw.api("GET", "/users", Some(ADMIN_KEY), None).await.json();
    let alice = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "alice")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let keys = gw
        .api(
            "GET",
            &format!("/users/{alice}/keys"),
            Some(ADMIN_KEY),
            None,
        )
        .await
        .json();
    let key_id = keys[0]["id"].as_i64().unwrap();
    assert_eq!(keys[0]["max_cost"], serde_json::Value::Null);

    // Bad values name the field.
    let bad = gw
        .api(
            "PATCH",
            &format!("/keys/{key_id}"),
            Some(ADMIN_KEY),
            Some(json!({"max_cost": "-1"})),
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert!(bad.text().contains("max_cost"), "{}", bad.text());
    let set = gw
        .api(
            "PATCH",
            &format!("/keys/{key_id}"),
            Some(ADMIN_KEY),
            Some(json!({"max_cost": "0.005"})),
        )
        .await;
    assert_eq!(set.status, 200, "{}", set.text());
    assert_eq!(set.json()["max_cost"], "0.005");

    // 1000 output tokens of gpt-4o are 0.01 USD at least: refused, live.
    let big = json!({"model": "gpt-4o", "max_tokens": 1000, "messages": [{"role": "user", "content": "hi"}]});
    let r = gw
        .post("/openai/v1/chat/completions", ALICE_KEY, big.clone())
        .await;
    assert_eq!(r.status, 402, "{}", r.text());
    assert_eq!(mock.request_count(), 0);
    // A header cannot raise the key's ceiling: the lower one holds.
    let req = gw
        .request("POST", "/openai/v1/chat/completions")
        .header("authorization", format!("Bearer {ALICE_KEY}"))
        .header("x-gproxy-max-cost", "10");
    assert_eq!(gw.send(req, big.to_string()).await.status, 402);
    // A small request fits.
    let small = json!({"model": "gpt-4o", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]});
    let r = gw
        .post("/openai/v1/chat/completions", ALICE_KEY, small)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // Cleared: no ceiling.
    let clear = gw
        .api(
            "PATCH",
            &format!("/keys/{key_id}"),
            Some(ADMIN_KEY),
            Some(json!({"max_cost": null})),
        )
        .await;
    assert_eq!(clear.json()["max_cost"], serde_json::Value::Null);
    let r = gw.post("/openai/v1/chat/completions", ALICE_KEY, big).await;
    assert_eq!(r.status, 200, "{}", r.text());
}
