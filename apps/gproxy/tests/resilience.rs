//! Resilience through the real binary against scripted upstream faults:
//! a key revoked mid-traffic, 429 storms with Retry-After, 529s, a slow
//! first byte, connection refused, a stream cut mid-way, the circuit
//! breaker, route fallbacks, the degraded signal, test mode, `/health` and
//! the admin enable route.
#![cfg(test)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use gproxy_testkit::{Fault, MockUpstream};
use serde_json::{Value, json};

const MARKER: &str = "[LLM_PROXY_PROVIDER_DEGRADED]";

fn chat(model: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]})
}

/// One non-stream Chat call for `openai/gpt-4o` on the aggregate route.
async fn ask(gw: &Gateway) -> Reply {
    gw.post(
        "/v1/chat/completions",
        ALICE_KEY,
        chat("openai/gpt-4o", false),
    )
    .await
}

fn claude_msg() -> Value {
    json!({"model": "claude/claude-sonnet-4-5", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]})
}

fn keys_seen(mock: &MockUpstream) -> Vec<String> {
    mock.requests()
        .iter()
        .filter_map(|r| {
            r.header("authorization")
                .map(|a| a.trim_start_matches("Bearer ").to_owned())
        })
        .collect()
}

async fn health_provider(gw: &Gateway, name: &str) -> Value {
    let health = gw.health().await.json();
    health["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no provider {name} in {health}"))
}

fn assert_degraded(reply: &Reply, marker: &str) {
    assert_eq!(reply.status, 503, "{}", reply.text());
    assert_eq!(
        reply.header("x-llm-proxy-error-class"),
        Some("provider_degraded")
    );
    assert!(reply.text().contains(marker), "{}", reply.text());
}

#[tokio::test]
async fn a_key_revoked_mid_traffic_is_disabled_and_admins_can_enable_it() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &two_key_config(&mock, "")).await;
    for _ in 0..4 {
        let r = ask(&gw).await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    assert_eq!(keys_seen(&mock).iter().filter(|k| *k == K1).count(), 2);

    mock.revoke_key(K1);
    mock.clear();
    for _ in 0..6 {
        let r = ask(&gw).await;
        assert_eq!(r.status, 200, "every request is served: {}", r.text());
    }
    let seen = keys_seen(&mock);
    assert_eq!(
        seen.iter().filter(|k| *k == K1).count(),
        1,
        "the revoked key is tried once, then disabled: {seen:?}"
    );
    assert_eq!(seen.iter().filter(|k| *k == K2).count(), 6);

    let openai = health_provider(&gw, "openai").await;
    let k1 = openai["credential_states"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "k1")
        .unwrap()
        .clone();
    assert_eq!(k1["state"], "disabled");
    assert!(
        k1["disabled_reason"].as_str().unwrap().contains("401"),
        "{k1}"
    );
    assert!(k1["disabled_at"].is_string());
    let id = k1["id"].as_i64().unwrap();

    // Only the admin key may enable it.
    let path = format!("/admin/credentials/{id}/enable");
    let as_alice = gw
        .send(
            gw.request("POST", &path)
                .header("authorization", format!("Bearer {ALICE_KEY}")),
            "",
        )
        .await;
    assert_eq!(as_alice.status, 403);
    let nobody = gw.send(gw.request("POST", &path), "").await;
    assert_eq!(nobody.status, 401);
    let unknown = gw
        .send(
            gw.request("POST", "/admin/credentials/999999/enable")
                .header("authorization", format!("Bearer {ADMIN_KEY}")),
            "",
        )
        .await;
    assert_eq!(unknown.status, 404);
    let enabled = gw
        .send(
            gw.request("POST", &path)
                .header("authorization", format!("Bearer {ADMIN_KEY}")),
            "",
        )
        .await;
    assert_eq!(enabled.status, 200, "{}", enabled.text());
    assert_eq!(enabled.json()["credential"]["state"], "ok");
    let openai = health_provider(&gw, "openai").await;
    assert!(
        openai["credential_states"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["state"] == "ok"),
        "{openai}"
    );
}

#[tokio::test]
async fn a_429_storm_moves_to_another_key_then_answers_429_with_retry_after() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &two_key_config(&mock, "")).await;

    // One key limited: the request is served by the other.
    mock.push_fault_for_key(K1, Fault::rate_limited(30));
    mock.push_fault_for_key(K2, Fault::rate_limited(30));
    let r = ask(&gw).await;
    // Both keys answered 429: the upstream's 429 goes back with Retry-After.
    assert_eq!(r.status, 429, "{}", r.text());
    assert_eq!(r.header("retry-after"), Some("30"));
    assert_eq!(mock.request_count(), 2, "each key tried once");

    // Both keys cool down: the next request does not touch the network.
    let r = ask(&gw).await;
    assert_eq!(r.status, 429, "{}", r.text());
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((25..=30).contains(&wait), "{wait}");
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("rate limited")
    );
    assert_eq!(mock.request_count(), 2);
    // Per model: another model is not limited.
    let r = gw
        .post(
            "/v1/chat/completions",
            ALICE_KEY,
            chat("openai/gpt-4o-mini", false),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());

    let openai = health_provider(&gw, "openai").await;
    let states: Vec<&str> = openai["credential_states"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, vec!["cooling_down", "cooling_down"]);
    assert!(openai["credential_states"][0]["model_cooldowns"]["gpt-4o"].is_string());
    assert_eq!(
        openai["circuit_state"], "closed",
        "rate limits are not circuit failures"
    );
}

#[tokio::test]
async fn one_limited_key_is_skipped() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &two_key_config(&mock, "")).await;
    mock.push_fault_for_key(K1, Fault::rate_limited(60));
    for _ in 0..4 {
        let r = ask(&gw).await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let seen = keys_seen(&mock);
    assert_eq!(seen.iter().filter(|k| *k == K1).count(), 1, "{seen:?}");
}

#[tokio::test]
async fn overloaded_529s_are_retried_then_degraded_in_the_clients_shape() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &two_key_config(&mock, "")).await;

    // Two 529s then an answer: recovered by the retries.
    mock.push_fault(Fault::overloaded());
    mock.push_fault(Fault::overloaded());
    let r = gw.post("/v1/messages", ALICE_KEY, claude_msg()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(mock.request_count(), 3);

    // Three 529s: the default two retries run out.
    mock.clear();
    for _ in 0..3 {
        mock.push_fault(Fault::overloaded());
    }
    let r = gw.post("/v1/messages", ALICE_KEY, claude_msg()).await;
    assert_degraded(&r, MARKER);
    let body = r.json();
    assert_eq!(body["type"], "error", "Anthropic's error shape: {body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with(MARKER)
    );
    assert_eq!(mock.request_count(), 3);
    assert_eq!(health_provider(&gw, "claude").await["circuit_failures"], 1);
}

#[tokio::test]
async fn the_circuit_opens_fails_fast_and_a_probe_closes_it() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cb = "[circuit_breaker]\nfailure_threshold = 2\ncooldown_seconds = 2\nmax_transient_retries = 0\n";
    let gw = start(dir.path(), &two_key_config(&mock, cb)).await;

    for _ in 0..2 {
        mock.push_fault(Fault::server_error());
        let r = ask(&gw).await;
        assert_degraded(&r, MARKER);
    }
    let openai = health_provider(&gw, "openai").await;
    assert_eq!(openai["circuit_state"], "open", "{openai}");
    assert_eq!(openai["circuit_failures"], 2);
    assert!(openai["circuit_cooldown_until"].is_string());

    // Open: fails fast without touching the network.
    mock.clear();
    let started = Instant::now();
    let r = gw
        .post(
            "/v1/chat/completions",
            ALICE_KEY,
            chat("openai/gpt-4o", true),
        )
        .await;
    assert_degraded(&r, MARKER);
    assert!(r.text().contains("circuit open"), "{}", r.text());
    assert!(started.elapsed() < Duration::from_secs(2), "fails fast");
    assert_eq!(mock.request_count(), 0);

    // After the cooldown a probe goes through and closes the circuit.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    assert_eq!(
        health_provider(&gw, "openai").await["circuit_state"],
        "half_open"
    );
    let r = ask(&gw).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let openai = health_provider(&gw, "openai").await;
    assert_eq!(openai["circuit_state"], "closed");
    assert_eq!(openai["circuit_failures"], 0);
    assert!(openai["circuit_cooldown_until"].is_null());
}

#[tokio::test]
async fn a_failed_probe_opens_the_circuit_again() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cb = "[circuit_breaker]\nfailure_threshold = 1\ncooldown_seconds = 1\nmax_transient_retries = 0\n";
    let gw = start(dir.path(), &two_key_config(&mock, cb)).await;
    mock.push_fault(Fault::server_error());
    let r = ask(&gw).await;
    assert_degraded(&r, MARKER);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    mock.push_fault(Fault::server_error());
    let r = ask(&gw).await;
    assert_degraded(&r, MARKER);
    assert_eq!(
        health_provider(&gw, "openai").await["circuit_state"],
        "open"
    );
}

#[tokio::test]
async fn a_slow_first_byte_times_out_and_is_retried_when_configured() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(
        dir.path(),
        &two_key_config(
            &mock,
            "[limits]\nfirst_byte_timeout_secs = 1\n[circuit_breaker]\nretry_on_first_byte_timeout = true\n",
        ),
    )
    .await;
    mock.push_fault(Fault::SlowFirstByte(Duration::from_secs(3)));
    let started = Instant::now();
    let r = gw
        .post(
            "/v1/chat/completions",
            ALICE_KEY,
            chat("openai/gpt-4o", true),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("[DONE]"));
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(mock.request_count(), 2);
}

#[tokio::test]
async fn connection_refused_ends_degraded_without_hanging() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let config = format!(
        "{}[[providers]]\nname = \"deepseek\"\nbase_url = \"http://127.0.0.1:{closed}\"\n[[providers.credentials]]\napi_key = \"sk-ds\"\n",
        two_key_config(&mock, "[circuit_breaker]\nmax_transient_retries = 1\n")
    );
    let gw = start(dir.path(), &config).await;
    let started = Instant::now();
    let r = gw
        .post(
            "/v1/chat/completions",
            ALICE_KEY,
            chat("deepseek/deepseek-chat", false),
        )
        .await;
    assert_degraded(&r, MARKER);
    assert!(started.elapsed() < Duration::from_secs(5));
    let ds = health_provider(&gw, "deepseek").await;
    assert_eq!(ds["circuit_failures"], 1);
    assert_eq!(ds["credential_states"][0]["state"], "transient_cooldown");
}

#[tokio::test]
async fn a_stream_cut_mid_way_is_not_retried_and_counts_for_the_circuit() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &two_key_config(&mock, "")).await;
    mock.set_stream_chunks(4, Duration::ZERO);
    mock.push_fault(Fault::CutStream { after_events: 2 });
    let req = gw
        .request("POST", "/v1/chat/completions")
        .header("authorization", format!("Bearer {ALICE_KEY}"))
        .header("content-type", "application/json");
    let response = gw.open(req, chat("openai/gpt-4o", true).to_string()).await;
    assert_eq!(response.status(), 200);
    use http_body_util::BodyExt;
    let body = response.into_body().collect().await;
    assert!(body.is_err(), "the client sees a broken stream");
    assert_eq!(
        mock.request_count(),
        1,
        "never retried after bytes went out"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let failures = health_provider(&gw, "openai").await["circuit_failures"].clone();
        if failures == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "failure not counted: {failures}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_route_falls_back_to_its_next_target() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let extra = "[circuit_breaker]\nmax_transient_retries = 0\nfailure_threshold = 1\ncooldown_seconds = 60\n";
    let config = format!(
        "{}[[providers]]\nname = \"deepseek\"\nbase_url = \"{}/v1\"\n[[providers.credentials]]\napi_key = \"sk-deepseek-1\"\n\n[[routes]]\nmodel = \"smart\"\ntargets = [\"openai/gpt-4o-mini\", \"deepseek/deepseek-chat\"]\n",
        two_key_config(&mock, extra),
        mock.base_url()
    );
    let gw = start(dir.path(), &config).await;

    // Degraded first target: the second serves, and says so.
    mock.push_fault(Fault::server_error());
    let r = gw
        .post("/v1/chat/completions", ALICE_KEY, chat("smart", false))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-gproxy-provider"), Some("deepseek"));
    assert_eq!(r.header("x-gproxy-model"), Some("deepseek-chat"));
    assert_eq!(r.json()["model"], "smart");
    assert_eq!(mock.request_count(), 2);

    // Circuit open on the first: straight to the second, one upstream call.
    mock.clear();
    let r = gw
        .post("/v1/chat/completions", ALICE_KEY, chat("smart", true))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-gproxy-provider"), Some("deepseek"));
    assert_eq!(mock.request_count(), 1);
    assert_eq!(
        mock.last_request().unwrap().json()["model"],
        "deepseek-chat"
    );

    // Rate limited first target (on the other route target's own key too).
    let dir2 = tempfile::tempdir().unwrap();
    let config = format!(
        "{}[[providers]]\nname = \"deepseek\"\nbase_url = \"{}/v1\"\n[[providers.credentials]]\napi_key = \"sk-deepseek-1\"\n\n[[routes]]\nmodel = \"smart\"\ntargets = [\"openai/gpt-4o-mini\", \"deepseek/deepseek-chat\"]\n",
        two_key_config(&mock, ""),
        mock.base_url()
    );
    let gw2 = start(dir2.path(), &config).await;
    mock.push_fault_for_key(K1, Fault::rate_limited(9));
    mock.push_fault_for_key(K2, Fault::rate_limited(9));
    let r = gw2
        .post("/v1/chat/completions", ALICE_KEY, chat("smart", false))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-gproxy-provider"), Some("deepseek"));
    // Every target failing: the last failure goes back.
    mock.push_fault_for_key("sk-deepseek-1", Fault::rate_limited(7));
    let r = gw2
        .post("/v1/chat/completions", ALICE_KEY, chat("smart", false))
        .await;
    assert_eq!(r.status, 429, "{}", r.text());
    assert_eq!(r.header("retry-after"), Some("7"));
}

#[tokio::test]
async fn test_mode_forces_degraded_or_a_recovered_transient_failure() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cb =
        "[circuit_breaker]\ntest_mode_enabled = true\ndegraded_signal = \"[MY_FALLBACK_SIGNAL]\"\n";
    let gw = start(dir.path(), &two_key_config(&mock, cb)).await;

    let req = gw
        .request("POST", "/v1/messages")
        .header("x-api-key", ALICE_KEY)
        .header("x-llm-proxy-test-mode", "force_degraded");
    let r = gw.send(req, claude_msg().to_string()).await;
    assert_degraded(&r, "[MY_FALLBACK_SIGNAL]");
    assert!(
        !r.text().contains(MARKER),
        "the override replaces the marker"
    );
    assert_eq!(r.json()["type"], "error");
    assert_eq!(mock.request_count(), 0, "no upstream call");

    let req = gw
        .request(
            "POST",
            "/v1/chat/completions?llm_proxy_test_mode=force_transient_recover",
        )
        .header("authorization", format!("Bearer {ALICE_KEY}"));
    let r = gw.send(req, chat("openai/gpt-4o", false).to_string()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        mock.request_count(),
        1,
        "the first attempt failed without a call"
    );
    let up = mock.last_request().unwrap();
    assert!(up.header("x-llm-proxy-test-mode").is_none());
    assert_eq!(health_provider(&gw, "openai").await["circuit_failures"], 0);
}

#[tokio::test]
async fn test_mode_is_off_by_default() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &two_key_config(&mock, "")).await;
    let req = gw
        .request("POST", "/v1/chat/completions")
        .header("authorization", format!("Bearer {ALICE_KEY}"))
        .header("x-llm-proxy-test-mode", "force_degraded");
    let r = gw.send(req, chat("openai/gpt-4o", false).to_string()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        mock.last_request()
            .unwrap()
            .header("x-llm-proxy-test-mode")
            .is_none(),
        "the header never goes upstream"
    );
}

#[tokio::test]
async fn openai_global_rate_limits_escalate_to_degraded() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cb = "[circuit_breaker]\nglobal_rate_limit_escalation_window = 0\n";
    let gw = start(dir.path(), &two_key_config(&mock, cb)).await;
    mock.push_fault(Fault::StatusWithHeaders {
        status: 429,
        headers: vec![
            ("x-ratelimit-remaining-requests".into(), "0".into()),
            ("x-ratelimit-remaining-tokens".into(), "0".into()),
            ("x-ratelimit-reset-requests".into(), "20s".into()),
        ],
        body: None,
    });
    let r = ask(&gw).await;
    assert_degraded(&r, MARKER);
    assert!(r.text().contains("global rate limit"), "{}", r.text());
    assert_eq!(health_provider(&gw, "openai").await["circuit_failures"], 1);
}

#[tokio::test]
async fn client_errors_are_never_retried() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &two_key_config(&mock, "")).await;
    mock.push_fault(Fault::Status {
        status: 400,
        retry_after: None,
        body: None,
    });
    let r = ask(&gw).await;
    assert_eq!(r.status, 400);
    assert_eq!(mock.request_count(), 1);
    let openai = health_provider(&gw, "openai").await;
    assert_eq!(openai["circuit_failures"], 0);
    assert!(
        openai["credential_states"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["state"] == "ok")
    );
}

#[tokio::test]
async fn gemini_resource_exhausted_goes_back_as_429_in_gemini_shape() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &config(&mock, "")).await;
    mock.push_fault(Fault::rate_limited(12));
    let path = "/v1beta/models/aistudio/gemini-2.0-flash:generateContent";
    let body = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]});
    let r = gw.post(path, ALICE_KEY, body.clone()).await;
    assert_eq!(r.status, 429, "{}", r.text());
    assert_eq!(r.header("retry-after"), Some("12"));
    assert_eq!(r.json()["error"]["status"], "RESOURCE_EXHAUSTED");
    // The only key cools down for this model: answered locally, in Gemini's shape.
    let r = gw.post(path, ALICE_KEY, body.clone()).await;
    assert_eq!(r.status, 429);
    assert!(r.header("retry-after").is_some());
    assert_eq!(r.json()["error"]["code"], 429);
    assert_eq!(mock.request_count(), 1);
    // Another model on the same key still works.
    let r = gw
        .post(
            "/v1beta/models/aistudio/gemini-2.5-pro:generateContent",
            ALICE_KEY,
            body,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test]
async fn a_weighted_pool_spreads_by_weight_and_persists_its_strategy() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let text = two_key_config(&mock, "")
        .replace(
            "base_url = \"",
            "credential_strategy = \"weighted\"\nbase_url = \"",
        )
        .replace("name = \"k1\"\n", "name = \"k1\"\nweight = 3\n");
    let gw = start(dir.path(), &text).await;
    for _ in 0..8 {
        let r = ask(&gw).await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let seen = keys_seen(&mock);
    assert_eq!(seen.iter().filter(|k| *k == K1).count(), 6, "{seen:?}");
    assert_eq!(seen.iter().filter(|k| *k == K2).count(), 2, "{seen:?}");
    let openai = health_provider(&gw, "openai").await;
    assert_eq!(openai["credential_strategy"], "weighted");
    assert_eq!(openai["credential_states"][0]["weight"], 3);
    let dsn = gw.dsn();
    gw.stop().await;
    let storage = gproxy_storage::Storage::connect(&dsn).await.unwrap();
    let providers = storage.list_providers().await.unwrap();
    let row = providers.iter().find(|p| p.name == "openai").unwrap();
    assert_eq!(row.credential_strategy, "weighted");
    let creds = storage.list_credentials().await.unwrap();
    let k1 = creds.iter().find(|c| c.name == "k1").unwrap();
    assert_eq!(k1.weight, 3);
}

#[tokio::test]
async fn a_concurrent_429_storm_does_not_become_a_retry_storm() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = std::sync::Arc::new(start(dir.path(), &two_key_config(&mock, "")).await);
    for _ in 0..40 {
        mock.push_fault_for_key(K1, Fault::rate_limited(30));
        mock.push_fault_for_key(K2, Fault::rate_limited(30));
    }
    let wave = |gw: std::sync::Arc<Gateway>| async move {
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let gw = gw.clone();
            tasks.push(tokio::spawn(async move {
                gw.post(
                    "/v1/chat/completions",
                    ALICE_KEY,
                    chat("openai/gpt-4o", true),
                )
                .await
            }));
        }
        let mut replies = Vec::new();
        for t in tasks {
            replies.push(t.await.unwrap());
        }
        replies
    };
    let started = Instant::now();
    for r in wave(gw.clone()).await {
        assert_eq!(r.status, 429, "{}", r.text());
        assert!(r.header("retry-after").is_some());
    }
    let first = mock.request_count();
    assert!(
        first <= 40,
        "each request tries each key at most once: {first}"
    );
    // Every key cools down: the next wave never reaches the upstream.
    for r in wave(gw.clone()).await {
        assert_eq!(r.status, 429);
        assert!(r.header("retry-after").is_some());
    }
    assert_eq!(mock.request_count(), first);
    assert!(started.elapsed() < Duration::from_secs(10), "no waiting");
}
