//! Observability through the real binary: `/metrics` after traffic
//! (requests, tokens, latency families, retries, circuit and credential
//! gauges), its token and on/off switch, the model label cap; OTLP trace
//! export to a receiver inside the test (GenAI attributes, the client's
//! trace continued, `traceparent` sent upstream on each attempt); the
//! live request feed (summaries, role checks, a slow viewer told what it
//! lost).
#![cfg(test)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::*;
use gproxy_testkit::{Fault, MockUpstream, usage};
use http_body_util::BodyExt;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::json;

fn chat(model: &str, stream: bool) -> serde_json::Value {
    json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]})
}

async fn scrape(gw: &Gateway, token: Option<&str>) -> Reply {
    let mut req = gw.request("GET", "/metrics");
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    gw.send(req, Bytes::new()).await
}

/// The value of the sample `line_start` (metric name and labels) in `text`.
fn sample(text: &str, line_start: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(line_start) && l[line_start.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

fn must(text: &str, line_start: &str) -> f64 {
    sample(text, line_start).unwrap_or_else(|| panic!("no `{line_start}` in\n{text}"))
}

#[tokio::test]
async fn metrics_count_requests_tokens_latencies_retries_and_state() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cb = "[circuit_breaker]\nfailure_threshold = 1\ncooldown_seconds = 60\nmax_transient_retries = 0\n";
    let gw = start(dir.path(), &two_key_config(&mock, cb)).await;

    // Without trace export the client's traceparent reaches the upstream
    // untouched.
    let parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let req = gw
        .request("POST", "/v1/chat/completions")
        .header("authorization", format!("Bearer {ALICE_KEY}"))
        .header("content-type", "application/json")
        .header("traceparent", parent);
    let r = gw.send(req, chat("openai/gpt-4o", false).to_string()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(mock.requests()[0].header("traceparent"), Some(parent));
    let r = gw
        .post(
            "/v1/chat/completions",
            ALICE_KEY,
            chat("openai/gpt-4o", true),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = gw
        .post(
            "/v1/messages",
            ALICE_KEY,
            json!({"model": "claude/claude-x", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // A 429 on k1, then k2 answers: one retry; k1 cools down.
    mock.push_fault(Fault::rate_limited(60));
    let r = gw
        .post(
            "/v1/chat/completions",
            ALICE_KEY,
            chat("openai/gpt-4o", false),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // A 500 with no transient retry left: degraded, the circuit opens.
    mock.push_fault(Fault::server_error());
    let r = gw
        .post(
            "/v1/chat/completions",
            ALICE_KEY,
            chat("openai/gpt-4o", false),
        )
        .await;
    assert_eq!(r.status, 503, "{}", r.text());

    let m = scrape(&gw, None).await;
    assert_eq!(m.status, 200, "{}", m.text());
    assert!(
        m.header("content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4"),
        "{:?}",
        m.headers
    );
    let t = m.text();
    let ok = r#"gproxy_requests_total{protocol="openai_chat",provider="openai",model="gpt-4o",status_class="2xx"}"#;
    assert_eq!(must(&t, ok), 3.0);
    assert_eq!(
        must(
            &t,
            r#"gproxy_requests_total{protocol="openai_chat",provider="openai",model="gpt-4o",status_class="5xx"}"#
        ),
        1.0
    );
    assert_eq!(
        must(
            &t,
            r#"gproxy_requests_total{protocol="claude",provider="claude",model="claude-x",status_class="2xx"}"#
        ),
        1.0
    );
    assert_eq!(
        must(
            &t,
            r#"gproxy_tokens_total{provider="openai",model="gpt-4o",type="input"}"#
        ),
        (3 * usage::INPUT) as f64
    );
    assert_eq!(
        must(
            &t,
            r#"gproxy_tokens_total{provider="openai",model="gpt-4o",type="output"}"#
        ),
        (3 * usage::OUTPUT) as f64
    );
    assert!(
        must(
            &t,
            r#"gproxy_tokens_total{provider="openai",model="gpt-4o",type="reasoning"}"#
        ) > 0.0
    );
    assert_eq!(
        must(
            &t,
            r#"gproxy_request_duration_seconds_count{provider="openai",model="gpt-4o"}"#
        ),
        4.0
    );
    assert!(
        must(
            &t,
            r#"gproxy_request_duration_seconds_bucket{provider="openai",model="gpt-4o",le="+Inf"}"#
        ) >= 4.0
    );
    assert_eq!(
        must(
            &t,
            r#"gproxy_time_to_first_token_seconds_count{provider="openai",model="gpt-4o"}"#
        ),
        4.0
    );
    // Five attempts went upstream for openai (1 + 1 + 2 + 1).
    assert_eq!(
        must(
            &t,
            r#"gproxy_upstream_duration_seconds_count{provider="openai"}"#
        ),
        5.0
    );
    assert_eq!(
        must(
            &t,
            r#"gproxy_gateway_overhead_seconds_count{protocol="openai_chat"}"#
        ),
        4.0
    );
    assert!(
        must(
            &t,
            r#"gproxy_gateway_overhead_seconds_sum{protocol="openai_chat"}"#
        ) > 0.0
    );
    assert_eq!(must(&t, r#"gproxy_retries_total{provider="openai"}"#), 1.0);
    // Scrape-time gauges: the open circuit, the cooling credential.
    assert_eq!(must(&t, r#"gproxy_circuit_state{provider="openai"}"#), 2.0);
    assert_eq!(must(&t, r#"gproxy_circuit_state{provider="claude"}"#), 0.0);
    assert!(
        must(
            &t,
            r#"gproxy_credentials{provider="openai",state="cooling_down"}"#
        ) >= 1.0
    );
    assert_eq!(
        must(&t, r#"gproxy_credentials{provider="claude",state="ok"}"#),
        1.0
    );
    // Families for what does not exist yet are present, at 0.
    for zero in [
        r#"gproxy_refusals_total{reason="rate_limit"}"#,
        r#"gproxy_refusals_total{reason="budget"}"#,
        r#"gproxy_cache_requests_total{result="hit"}"#,
    ] {
        assert_eq!(must(&t, zero), 0.0, "{zero}");
    }
    // gpt-4o is in the price catalogue: its requests have a cost.
    assert!(must(&t, "gproxy_cost_usd_total") > 0.0);
    assert_eq!(
        must(
            &t,
            &format!(
                r#"gproxy_build_info{{version="{}"}}"#,
                env!("CARGO_PKG_VERSION")
            )
        ),
        1.0
    );
    assert!(t.contains("gproxy_usage_sink_written_total"), "{t}");
    assert!(t.contains("gproxy_usage_sink_buffered"), "{t}");
    // No user or key labels by default.
    assert!(!t.contains("alice"), "{t}");

    // The sink's counter follows the rows written.
    gw.logs(5).await;
    let t = scrape(&gw, None).await.text();
    assert_eq!(must(&t, "gproxy_usage_sink_written_total"), 5.0);
}

#[tokio::test]
async fn metrics_token_switch_key_labels_and_model_cap() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let extra = "[metrics]\ntoken = \"scrape-secret-1\"\nmax_models = 1\nper_key_labels = true\n";
    let gw = start(dir.path(), &config(&mock, extra)).await;

    assert_eq!(scrape(&gw, None).await.status, 401);
    let wrong = scrape(&gw, Some("nope")).await;
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.header("www-authenticate"), Some("Bearer"));
    assert_eq!(scrape(&gw, Some("scrape-secret-1")).await.status, 200);

    for model in ["openai/gpt-4o", "openai/gpt-4o-mini", "openai/gpt-4o-mini"] {
        let r = gw
            .post("/v1/chat/completions", ALICE_KEY, chat(model, false))
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let t = scrape(&gw, Some("scrape-secret-1")).await.text();
    assert_eq!(
        must(
            &t,
            r#"gproxy_requests_total{protocol="openai_chat",provider="openai",model="gpt-4o",status_class="2xx"}"#
        ),
        1.0
    );
    // The cap is 1: the second model is counted as `other`.
    assert_eq!(
        must(
            &t,
            r#"gproxy_requests_total{protocol="openai_chat",provider="openai",model="other",status_class="2xx"}"#
        ),
        2.0
    );
    assert!(!t.contains("gpt-4o-mini"), "{t}");
    let rows = gw.logs(3).await;
    let alice = rows[0].key_prefix.clone().unwrap();
    assert!(
        t.lines().any(
            |l| l.starts_with("gproxy_key_requests_total{user=\"alice\"") && l.contains(&alice)
        ),
        "{t}"
    );

    // Live settings: the token shows only as its hash; off means 404.
    let s = gw.api("GET", "/settings", Some(ADMIN_KEY), None).await;
    let m = &s.json()["metrics"];
    assert_eq!(m["enabled"], true, "{m}");
    assert!(m.get("token").is_none(), "{m}");
    assert_eq!(m["token_sha256"].as_str().unwrap().len(), 64, "{m}");
    assert!(!s.text().contains("scrape-secret-1"));
    let r = gw
        .api(
            "PATCH",
            "/settings",
            Some(ADMIN_KEY),
            Some(json!({"metrics": {"enabled": false}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(scrape(&gw, Some("scrape-secret-1")).await.status, 404);
    let r = gw
        .api(
            "PATCH",
            "/settings",
            Some(ADMIN_KEY),
            Some(json!({"metrics": {"enabled": true, "token": ""}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(scrape(&gw, None).await.status, 200);
    let r = gw
        .api(
            "PATCH",
            "/settings",
            Some(ADMIN_KEY),
            Some(json!({"metrics": {"max_models": 0}})),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(
        r.json()["error"]["field"],
        "metrics.max_models",
        "{}",
        r.text()
    );
}

/// A local OTLP/HTTP receiver: decodes every `ExportTraceServiceRequest`.
struct Receiver {
    url: String,
    spans: Arc<Mutex<Vec<Span>>>,
}

async fn receiver() -> Receiver {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let spans: Arc<Mutex<Vec<Span>>> = Arc::default();
    let store = spans.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let store = store.clone();
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let store = store.clone();
                        async move {
                            assert_eq!(req.uri().path(), "/v1/traces");
                            assert_eq!(req.headers()["content-type"], "application/x-protobuf");
                            assert_eq!(req.headers()["x-collector-key"], "k1");
                            let body = req.into_body().collect().await.unwrap().to_bytes();
                            let export = ExportTraceServiceRequest::decode(body).unwrap();
                            for rs in export.resource_spans {
                                let service = rs
                                    .resource
                                    .unwrap()
                                    .attributes
                                    .into_iter()
                                    .find(|kv| kv.key == "service.name")
                                    .unwrap();
                                assert_eq!(string_of(&service.value.unwrap().value), "gw-test");
                                for ss in rs.scope_spans {
                                    store.lock().unwrap().extend(ss.spans);
                                }
                            }
                            Ok::<_, std::convert::Infallible>(http::Response::new(
                                http_body_util::Full::new(Bytes::new()),
                            ))
                        }
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Receiver { url, spans }
}

fn string_of(v: &Option<AnyValue>) -> String {
    match v {
        Some(AnyValue::StringValue(s)) => s.clone(),
        Some(AnyValue::IntValue(i)) => i.to_string(),
        Some(AnyValue::BoolValue(b)) => b.to_string(),
        other => format!("{other:?}"),
    }
}

fn attr(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .map(|kv| string_of(&kv.value.as_ref().and_then(|v| v.value.clone())))
}

impl Receiver {
    async fn wait_for(&self, n: usize) -> Vec<Span> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let spans = self.spans.lock().unwrap().clone();
            if spans.len() >= n || tokio::time::Instant::now() > deadline {
                return spans;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test]
async fn traces_reach_an_otlp_receiver_with_genai_attributes_and_the_clients_trace() {
    let collector = receiver().await;
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let extra = "[telemetry]\nbatch_delay_ms = 50\nheaders = { x-collector-key = \"k1\" }\n";
    let (gw, ()) = spawn_env(
        dir.path(),
        &two_key_config(&mock, extra),
        &[],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url.as_str()),
            ("OTEL_SERVICE_NAME", "gw-test"),
        ],
    )
    .await;
    let gw = gw.unwrap();

    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let client_span = "00f067aa0ba902b7";
    mock.push_fault(Fault::rate_limited(60));
    let req = gw
        .request("POST", "/v1/chat/completions")
        .header("authorization", format!("Bearer {ALICE_KEY}"))
        .header("content-type", "application/json")
        .header("traceparent", format!("00-{trace}-{client_span}-01"));
    let r = gw.send(req, chat("openai/gpt-4o", false).to_string()).await;
    assert_eq!(r.status, 200, "{}", r.text());

    // Each attempt carried its own span of the client's trace upstream.
    let sent: Vec<String> = mock
        .requests()
        .iter()
        .map(|q| q.header("traceparent").unwrap().to_owned())
        .collect();
    assert_eq!(sent.len(), 2);
    let attempt_spans: Vec<&str> = sent
        .iter()
        .map(|tp| {
            let parts: Vec<&str> = tp.split('-').collect();
            assert_eq!((parts[0], parts[1], parts[3]), ("00", trace, "01"), "{tp}");
            assert_ne!(parts[2], client_span);
            parts[2]
        })
        .collect();
    assert_ne!(attempt_spans[0], attempt_spans[1]);

    let spans = collector.wait_for(3).await;
    assert_eq!(spans.len(), 3, "{spans:?}");
    let server = spans.iter().find(|s| s.kind == 2).expect("a SERVER span");
    assert_eq!(hex::encode(&server.trace_id), trace);
    assert_eq!(hex::encode(&server.parent_span_id), client_span);
    assert_eq!(server.name, "chat gpt-4o");
    for (key, value) in [
        ("gen_ai.operation.name", "chat"),
        ("gen_ai.system", "openai"),
        ("gen_ai.provider.name", "openai"),
        ("gen_ai.request.model", "gpt-4o"),
        ("gen_ai.response.model", "gpt-4o"),
        ("http.response.status_code", "200"),
        ("gproxy.attempts", "2"),
    ] {
        assert_eq!(
            attr(server, key).as_deref(),
            Some(value),
            "{key}: {server:?}"
        );
    }
    assert_eq!(
        attr(server, "gen_ai.usage.input_tokens"),
        Some(usage::INPUT.to_string())
    );
    assert_eq!(
        attr(server, "gen_ai.usage.output_tokens"),
        Some(usage::OUTPUT.to_string())
    );
    assert!(server.end_time_unix_nano > server.start_time_unix_nano);
    let mut clients: Vec<&Span> = spans.iter().filter(|s| s.kind == 3).collect();
    clients.sort_by_key(|s| attr(s, "gproxy.attempt"));
    assert_eq!(clients.len(), 2);
    for (span, upstream) in clients.iter().zip(&attempt_spans) {
        assert_eq!(hex::encode(&span.trace_id), trace);
        assert_eq!(span.parent_span_id, server.span_id);
        assert_eq!(
            hex::encode(&span.span_id),
            *upstream,
            "the span id sent upstream"
        );
    }
    assert_eq!(
        attr(clients[0], "http.response.status_code").as_deref(),
        Some("429")
    );
    assert_eq!(
        attr(clients[0], "error.type").as_deref(),
        Some("rate_limit")
    );
    assert_eq!(
        attr(clients[1], "http.response.status_code").as_deref(),
        Some("200")
    );

    // Without a traceparent: a new trace, the request span its root.
    let r = gw
        .post(
            "/v1/chat/completions",
            ALICE_KEY,
            chat("openai/gpt-4o", true),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let spans = collector.wait_for(5).await;
    let root = spans
        .iter()
        .find(|s| s.kind == 2 && s.parent_span_id.is_empty())
        .expect("a root span");
    assert_ne!(hex::encode(&root.trace_id), trace);
    let upstream = mock
        .requests()
        .last()
        .unwrap()
        .header("traceparent")
        .unwrap()
        .to_owned();
    assert!(
        upstream.contains(&hex::encode(&root.trace_id)),
        "{upstream}"
    );

    // The collector holds the spans once it has read the request; the
    // exporter counts them when it has read the answer, a moment later.
    let mut health = gw.health().await.json();
    for _ in 0..100 {
        if health["telemetry"]["traces"]["exported"] == 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        health = gw.health().await.json();
    }
    let traces = &health["telemetry"]["traces"];
    assert_eq!(traces["exported"], 5, "{health}");
    assert_eq!(traces["dropped"], 0, "{health}");
    let t = scrape(&gw, None).await.text();
    assert_eq!(
        must(&t, r#"gproxy_trace_spans_total{result="exported"}"#),
        5.0
    );
}

#[tokio::test]
async fn spans_still_queued_are_exported_at_shutdown() {
    let collector = receiver().await;
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Batches would wait a minute: only the shutdown flush sends them.
    let extra = format!(
        "[telemetry]\nenabled = true\nendpoint = \"{}/v1/traces\"\nservice_name = \"gw-test\"\nbatch_delay_ms = 60000\nheaders = {{ x-collector-key = \"k1\" }}\n",
        collector.url
    );
    let gw = start(dir.path(), &config(&mock, &extra)).await;
    let r = gw
        .post(
            "/v1/chat/completions",
            ALICE_KEY,
            chat("openai/gpt-4o", false),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(collector.spans.lock().unwrap().is_empty());
    assert!(gw.stop().await.success());
    let spans = collector.wait_for(2).await;
    assert_eq!(
        spans.len(),
        2,
        "the request span and its attempt: {spans:?}"
    );
}

/// Reads an SSE body until `done` holds for the text so far (or 10 s).
async fn read_until(
    body: &mut hyper::body::Incoming,
    text: &mut String,
    done: impl Fn(&str) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !done(text) {
        let frame = tokio::time::timeout_at(deadline, body.frame())
            .await
            .unwrap_or_else(|_| panic!("timed out; so far:\n{text}"))
            .expect("the feed ended")
            .unwrap();
        if let Ok(data) = frame.into_data() {
            text.push_str(std::str::from_utf8(&data).unwrap());
        }
    }
}

fn live_request(gw: &Gateway, token: &str, query: &str) -> http::request::Builder {
    gw.request("GET", &format!("/admin/api/logs/live{query}"))
        .header("authorization", format!("Bearer {token}"))
}

/// The `event: request` payloads in `text`.
fn summaries(text: &str) -> Vec<serde_json::Value> {
    text.split("\n\n")
        .filter_map(|frame| frame.strip_prefix("event: request\ndata: "))
        .map(|data| serde_json::from_str(data).unwrap())
        .collect()
}

#[tokio::test]
async fn the_live_feed_streams_summaries_to_who_may_see_them() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &config(&mock, "")).await;
    // Uma (role user) with a proxy key and a personal admin token.
    let r = gw
        .api(
            "POST",
            "/users",
            Some(ADMIN_KEY),
            Some(json!({"name": "uma", "role": "user"})),
        )
        .await;
    let uma = r.json()["id"].as_i64().unwrap();
    let key_of = |scope: Option<&str>| {
        let gw = &gw;
        let body = match scope {
            Some(s) => json!({"scope": s}),
            None => json!({}),
        };
        async move {
            let r = gw
                .api(
                    "POST",
                    &format!("/users/{uma}/keys"),
                    Some(ADMIN_KEY),
                    Some(body),
                )
                .await;
            assert_eq!(r.status, 201, "{}", r.text());
            r.json()["key"].as_str().unwrap().to_owned()
        }
    };
    let uma_key = key_of(None).await;
    let uma_token = key_of(Some("admin")).await;

    let all = gw
        .open(live_request(&gw, ADMIN_KEY, ""), Bytes::new())
        .await;
    assert_eq!(all.status(), 200);
    assert_eq!(all.headers()["content-type"], "text/event-stream");
    let mut all = all.into_body();
    let own = gw
        .open(live_request(&gw, &uma_token, ""), Bytes::new())
        .await;
    assert_eq!(own.status(), 200);
    let mut own = own.into_body();
    let errors = gw
        .open(live_request(&gw, ADMIN_KEY, "?status=4xx"), Bytes::new())
        .await;
    let mut errors = errors.into_body();
    let (mut all_text, mut own_text, mut errors_text) =
        (String::new(), String::new(), String::new());
    for (body, text) in [
        (&mut all, &mut all_text),
        (&mut own, &mut own_text),
        (&mut errors, &mut errors_text),
    ] {
        read_until(body, text, |t| t.contains(": connected\n\n")).await;
    }
    assert_eq!(gw.health().await.json()["telemetry"]["live_viewers"], 3);

    let r = gw
        .post(
            "/v1/chat/completions",
            ALICE_KEY,
            chat("openai/gpt-4o", false),
        )
        .await;
    assert_eq!(r.status, 200);
    let alice_id = r.header("x-request-id").unwrap().to_owned();
    let r = gw
        .post(
            "/v1/chat/completions",
            &uma_key,
            chat("openai/gpt-4o", true),
        )
        .await;
    assert_eq!(r.status, 200);
    let uma_id = r.header("x-request-id").unwrap().to_owned();
    let r = gw
        .post("/v1/chat/completions", &uma_key, chat("nope/gpt-4o", false))
        .await;
    assert_eq!(r.status, 404, "{}", r.text());

    read_until(&mut all, &mut all_text, |t| summaries(t).len() >= 3).await;
    let seen = summaries(&all_text);
    let first = &seen[0];
    assert_eq!(first["request_id"], alice_id.as_str());
    assert_eq!(first["user_name"], "alice");
    assert_eq!(first["provider"], "openai");
    assert_eq!(first["model"], "gpt-4o");
    assert_eq!(first["status"], 200);
    assert_eq!(first["input_tokens"], usage::INPUT);
    assert_eq!(seen[1]["request_id"], uma_id.as_str());
    assert_eq!(seen[1]["stream"], true);
    assert_eq!(seen[2]["status"], 404);

    // The user role sees only their own requests.
    read_until(&mut own, &mut own_text, |t| summaries(t).len() >= 2).await;
    let mine = summaries(&own_text);
    assert!(mine.iter().all(|s| s["user_name"] == "uma"), "{mine:?}");
    assert_eq!(mine[0]["request_id"], uma_id.as_str());
    // The status filter.
    read_until(&mut errors, &mut errors_text, |t| !summaries(t).is_empty()).await;
    assert_eq!(summaries(&errors_text)[0]["status"], 404);

    // A proxy key is no admin credential; a bad filter is a 400.
    let r = gw.send(live_request(&gw, &uma_key, ""), Bytes::new()).await;
    assert_eq!(r.status, 401, "{}", r.text());
    let r = gw
        .send(live_request(&gw, ADMIN_KEY, "?status=often"), Bytes::new())
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
}

#[tokio::test]
async fn a_slow_live_viewer_is_told_how_many_it_lost_and_never_slows_the_proxy() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(
        dir.path(),
        &config(&mock, "[telemetry]\nlive_feed_capacity = 16\n"),
    )
    .await;
    // A viewer with a tiny receive buffer (no autotuning) that stops
    // reading once connected.
    let addr: std::net::SocketAddr = gw.base.trim_start_matches("http://").parse().unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut viewer = socket.connect(addr).await.unwrap();
    viewer
        .write_all(format!("GET /admin/api/logs/live HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer {ADMIN_KEY}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut buf = vec![0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains(": connected") {
        let n = tokio::time::timeout(Duration::from_secs(10), viewer.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "the feed closed");
        seen.extend_from_slice(&buf[..n]);
    }

    // Far more (and larger: the path is in each summary) requests finish
    // than the feed holds and the sockets and hyper buffer together.
    let long = "x".repeat(8000);
    let started = std::time::Instant::now();
    let gw = Arc::new(gw);
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let gw = gw.clone();
        let path = format!("/openai/v1/files/{worker}{long}");
        tasks.push(tokio::spawn(async move {
            for _ in 0..125 {
                let req = gw
                    .request("GET", &path)
                    .header("authorization", format!("Bearer {ALICE_KEY}"));
                let r = gw.send(req, Bytes::new()).await;
                assert!(r.status.as_u16() < 500, "{}", r.status);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = started.elapsed();
    // A last request, then the viewer reads everything.
    let r = gw
        .post(
            "/v1/chat/completions",
            ALICE_KEY,
            chat("openai/gpt-4o", false),
        )
        .await;
    let last = r.header("x-request-id").unwrap().to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let text = String::from_utf8_lossy(&seen);
        if text.contains(&last) {
            break;
        }
        let n = tokio::time::timeout_at(deadline, viewer.read(&mut buf))
            .await
            .expect("the last summary never came")
            .unwrap();
        assert!(n > 0, "the feed closed");
        seen.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&seen);
    let lagged = text
        .split("event: lagged\ndata: ")
        .nth(1)
        .and_then(|rest| rest.split("\n\n").next())
        .unwrap_or_else(|| panic!("no `event: lagged` in {} bytes", text.len()));
    let missed = serde_json::from_str::<serde_json::Value>(lagged).unwrap()["missed"]
        .as_u64()
        .unwrap();
    assert!(missed > 0 && missed <= 1000, "{lagged}");
    let m = scrape(&gw, None).await.text();
    assert!(
        must(&m, "gproxy_live_feed_lagged_events_total") >= missed as f64,
        "{m}"
    );
    assert!(elapsed < Duration::from_secs(60), "{elapsed:?}");
}
