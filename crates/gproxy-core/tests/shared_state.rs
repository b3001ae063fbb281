//! Shared resilience state: two engine instances (two bootstraps, two
//! databases) behind one Redis agree on a provider's circuit and on
//! credential cooldowns; with Redis unreachable an instance keeps serving
//! on local state and says so. The same sharing is shown with the
//! in-process `MemoryStore` (no server needed).
//!
//! The Redis tests read `GPROXY_TEST_REDIS` (e.g. `redis://127.0.0.1:6379`);
//! without it they print `skipped: ...` and pass, unless `CI=true`, where a
//! missing variable or an unreachable server fails.
#![cfg(test)]

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use gproxy_core::config::CircuitBreakerConfig;
use gproxy_core::{
    Engine, GatewayError, Operation, ProxyRequest, ProxyRoute, StartupArgs, bootstrap, build_engine,
};
use gproxy_credential::{LimiterStore, MemoryStore};

mod common;
use common::redis_url;
use gproxy_protocol::Protocol;
use gproxy_testkit::{Fault, MockUpstream};
use http::{HeaderMap, Method};

const ALICE: &str = "sk-alice-0123456789abcdef";

fn unique_prefix(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("gproxy-test:{test}:{}:{nanos}:", std::process::id())
}

fn config(mock: &MockUpstream, circuit_breaker: &str) -> String {
    format!(
        r#"admin_key = "sk-admin-test-0123456789"
{circuit_breaker}

[[providers]]
name = "openai"
base_url = "{}/v1"
[[providers.credentials]]
name = "k1"
api_key = "sk-upstream-k1"

[[users]]
name = "alice"
keys = ["{ALICE}"]
"#,
        mock.base_url()
    )
}

/// An engine bootstrapped from `config_text` in a directory of its own.
async fn instance(
    dir: &std::path::Path,
    config_text: &str,
    shared: Option<Arc<dyn LimiterStore>>,
) -> Engine {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("gproxy.toml");
    std::fs::write(&path, config_text).unwrap();
    let boot = bootstrap(StartupArgs {
        data_dir: Some(dir.join("data")),
        config: Some(path),
        ..StartupArgs::default()
    })
    .await
    .unwrap();
    let (engine, _sink) = build_engine(&boot).unwrap();
    match shared {
        Some(store) => {
            let settings = engine.resilience().clone();
            engine.with_resilience(settings, Some(store))
        }
        None => engine,
    }
}

async fn chat(engine: &Engine, model: &str) -> Result<u16, GatewayError> {
    let body = serde_json::json!({"model": model, "messages": [{"role": "user", "content": "hi"}]});
    let request = ProxyRequest {
        request_id: "t".into(),
        route: ProxyRoute {
            protocol: Protocol::OpenAiChat,
            provider: None,
            gemini: None,
            operation: Operation::Generate,
        },
        method: Method::POST,
        path: "/v1/chat/completions".into(),
        headers: HeaderMap::new(),
        body: Bytes::from(body.to_string()),
        principal: engine.authenticate(Some(ALICE)).unwrap(),
        started: Instant::now(),
    };
    engine.proxy(request).await.map(|r| r.status().as_u16())
}

fn is_degraded(r: &Result<u16, GatewayError>) -> bool {
    matches!(r, Err(GatewayError::ProviderDegraded { .. }))
}

async fn circuit_of(engine: &Engine) -> (String, u32) {
    let report = engine.health_report().await;
    let p = report
        .providers
        .iter()
        .find(|p| p.name == "openai")
        .unwrap();
    (p.circuit_state.to_owned(), p.circuit_failures)
}

/// Instance A trips the circuit; instance B fails fast without a call,
/// and sees the cooldown A set on the shared credential.
async fn two_instances_share(a: Engine, b: Engine, mock: &MockUpstream) {
    assert_eq!(chat(&b, "openai/gpt-4o").await.unwrap(), 200);
    for _ in 0..2 {
        mock.push_fault(Fault::server_error());
        assert!(is_degraded(&chat(&a, "openai/gpt-4o").await));
    }
    assert_eq!(circuit_of(&a).await, ("open".to_owned(), 2));
    assert_eq!(
        circuit_of(&b).await,
        ("open".to_owned(), 2),
        "B sees A's circuit"
    );
    mock.clear();
    let r = chat(&b, "openai/gpt-4o").await;
    assert!(is_degraded(&r), "{r:?}");
    assert_eq!(mock.request_count(), 0, "B failed fast without a call");

    // A rate limit seen by A cools the key down for B too (another model:
    // the circuit is per provider, so use a fresh provider state by model).
    // The circuit is open for both; reset by waiting out its cooldown.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        chat(&a, "openai/gpt-4o").await.unwrap(),
        200,
        "probe closes it"
    );
    assert_eq!(circuit_of(&b).await.0, "closed");
    mock.push_fault(Fault::rate_limited(30));
    let r = chat(&a, "openai/gpt-4o").await;
    assert!(
        matches!(r, Err(GatewayError::Upstream(ref f)) if f.status == 429),
        "{r:?}"
    );
    mock.clear();
    let r = chat(&b, "openai/gpt-4o").await;
    assert!(
        matches!(r, Err(GatewayError::RateLimited { retry_after_secs, .. }) if retry_after_secs > 20),
        "{r:?}"
    );
    assert_eq!(mock.request_count(), 0, "B knew the key was cooling down");
}

const SHARED_CB: &str =
    "[circuit_breaker]\nfailure_threshold = 2\ncooldown_seconds = 1\nmax_transient_retries = 0\n";

#[tokio::test]
async fn two_instances_share_one_circuit_through_redis() {
    let Some(url) = redis_url("two_instances_share_one_circuit_through_redis").await else {
        return;
    };
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_prefix("two");
    let cb = format!(
        "{SHARED_CB}backend = \"redis\"\nredis_url = \"{url}\"\nredis_key_prefix = \"{prefix}\"\n"
    );
    let text = config(&mock, &cb);
    let a = instance(&dir.path().join("a"), &text, None).await;
    let b = instance(&dir.path().join("b"), &text, None).await;
    assert_eq!(a.health_report().await.shared_state.backend, "redis");
    two_instances_share(a, b, &mock).await;
}

#[tokio::test]
async fn two_instances_share_one_circuit_through_a_memory_store() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn LimiterStore> = Arc::new(MemoryStore::new());
    let text = config(&mock, SHARED_CB);
    let a = instance(&dir.path().join("a"), &text, Some(store.clone())).await;
    let b = instance(&dir.path().join("b"), &text, Some(store)).await;
    two_instances_share(a, b, &mock).await;
}

#[tokio::test]
async fn an_unreachable_redis_falls_back_to_local_state() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let cb =
        format!("{SHARED_CB}backend = \"redis\"\nredis_url = \"redis://127.0.0.1:{closed}\"\n");
    let a = instance(dir.path(), &config(&mock, &cb), None).await;
    assert_eq!(
        chat(&a, "openai/gpt-4o").await.unwrap(),
        200,
        "still serving"
    );
    let status = a.health_report().await.shared_state;
    assert_eq!((status.backend, status.status), ("redis", "unreachable"));
    assert!(status.error.is_some());
    // Local state still trips the circuit.
    for _ in 0..2 {
        mock.push_fault(Fault::server_error());
        assert!(is_degraded(&chat(&a, "openai/gpt-4o").await));
    }
    mock.clear();
    assert!(is_degraded(&chat(&a, "openai/gpt-4o").await));
    assert_eq!(mock.request_count(), 0);
}

#[test]
fn the_stored_form_round_trips() {
    let c = CircuitBreakerConfig {
        backend: Some("redis".into()),
        redis_key_prefix: Some("x:".into()),
        ..CircuitBreakerConfig::default()
    };
    let r = gproxy_core::Resilience::default().merged(&c);
    assert_eq!(gproxy_core::Resilience::default().merged(&r.to_config()), r);
}
