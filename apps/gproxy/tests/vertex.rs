//! Vertex AI through the real binary: express mode with an API key, and service accounts exchanged for cached OAuth tokens (single flight, refresh before expiry, failures not cached, the private key kept out of logs and errors).
#![cfg(test)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use gproxy_testkit::oauth::TEST_PRIVATE_KEY_PEM;
use gproxy_testkit::{Fault, MockUpstream};
use serde_json::json;

const EXPRESS_KEY: &str = "AQ.vertex-express-upstream-0004";
const GENERATE: &str = "/vertex/v1beta/models/gemini-2.5-flash:generateContent";
const UPSTREAM_GENERATE: &str = "/v1/projects/test-project/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent";

fn body() -> String {
    json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}).to_string()
}

/// The harness config plus a `vertex` provider whose service account
/// comes from `$TEST_SA_JSON`, and a `vertexexpress` one.
fn vertex_config(mock: &MockUpstream) -> String {
    let base = mock.base_url();
    config(
        mock,
        &format!(
            r#"
[[providers]]
name = "vertex"
base_url = "{base}"
[[providers.credentials]]
name = "sa"
service_account = "${{TEST_SA_JSON}}"

[[providers]]
name = "vertexexpress"
base_url = "{base}"
[[providers.credentials]]
api_key = "{EXPRESS_KEY}"
"#
        ),
    )
}

async fn start_vertex(dir: &std::path::Path, mock: &MockUpstream, text: &str) -> Gateway {
    let sa = mock.service_account_json("test-project");
    let (gw, ()) = spawn_env(dir, text, &[], &[("TEST_SA_JSON", &sa)]).await;
    gw.unwrap_or_else(|e| panic!("gateway did not start: {e}"))
}

async fn generate(gw: &Gateway) -> Reply {
    let req = gw
        .request("POST", GENERATE)
        .header("x-goog-api-key", ALICE_KEY);
    gw.send(req, body()).await
}

/// A line from the middle of the test key's PEM: it must never be printed.
fn key_fragment() -> &'static str {
    TEST_PRIVATE_KEY_PEM.lines().nth(5).unwrap()
}

fn assert_no_key(text: &str, what: &str) {
    assert!(!text.contains(key_fragment()), "private key in {what}");
    assert!(!text.contains("PRIVATE KEY"), "private key in {what}");
}

#[tokio::test]
async fn express_mode_generates_and_streams_with_the_key_header() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start_vertex(dir.path(), &mock, &vertex_config(&mock)).await;

    let req = gw
        .request(
            "POST",
            "/vertexexpress/v1beta/models/gemini-2.5-flash:generateContent",
        )
        .header("x-goog-api-key", ALICE_KEY);
    let reply = gw.send(req, body()).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(
        reply.json()["candidates"][0]["content"]["parts"][0]["text"]
            .as_str()
            .unwrap()
            .contains("gemini-2.5-flash")
    );
    let up = mock.last_request().unwrap();
    assert_eq!(
        up.path,
        "/v1/publishers/google/models/gemini-2.5-flash:generateContent"
    );
    assert_eq!(up.header("x-goog-api-key"), Some(EXPRESS_KEY));
    assert!(up.query.is_none(), "the key stays out of the URL");
    assert!(up.header("authorization").is_none());

    let req = gw
        .request(
            "POST",
            "/v1beta/models/vertexexpress/gemini-2.5-flash:streamGenerateContent?alt=sse",
        )
        .header("authorization", format!("Bearer {ALICE_KEY}"));
    let reply = gw.send(req, body()).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.events().len(), 3);
    let up = mock.last_request().unwrap();
    assert_eq!(
        up.path,
        "/v1/publishers/google/models/gemini-2.5-flash:streamGenerateContent"
    );
    assert_eq!(up.query.as_deref(), Some("alt=sse"));
    assert_eq!(up.header("x-goog-api-key"), Some(EXPRESS_KEY));
    assert_eq!(mock.token_exchanges(), 0);
}

#[tokio::test]
async fn service_account_generates_and_streams_with_the_issued_token() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    // A second vertex provider reads its key from a file and overrides the
    // project and the location.
    let sa_path = dir.path().join("sa.json");
    std::fs::write(&sa_path, mock.service_account_json("file-project")).unwrap();
    let text = format!(
        "{}\n[[providers]]\nname = \"vertex-eu\"\nkind = \"vertex\"\nbase_url = \"{}\"\nproject = \"cfg-project\"\nlocation = \"europe-west4\"\n[[providers.credentials]]\nservice_account_file = \"{}\"\n",
        vertex_config(&mock),
        mock.base_url(),
        sa_path.display()
    );
    let gw = start_vertex(dir.path(), &mock, &text).await;

    let reply = generate(&gw).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(mock.token_exchanges(), 1, "the token endpoint took the JWT");
    assert_eq!(mock.token_refusals(), 0);
    let token = mock.issued_tokens()[0].clone();
    let exchange = mock
        .requests()
        .into_iter()
        .find(|r| r.path == "/token")
        .unwrap();
    assert_eq!(
        exchange.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let up = mock.last_request().unwrap();
    assert_eq!(up.path, UPSTREAM_GENERATE);
    assert_eq!(
        up.header("authorization"),
        Some(format!("Bearer {token}").as_str())
    );
    assert!(up.header("x-goog-api-key").is_none());

    let req = gw
        .request(
            "POST",
            "/vertex/v1/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        )
        .header("x-goog-api-key", ALICE_KEY);
    let reply = gw.send(req, body()).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.events().len(), 3);
    let up = mock.last_request().unwrap();
    assert_eq!(
        up.path,
        "/v1/projects/test-project/locations/us-central1/publishers/google/models/gemini-2.5-flash:streamGenerateContent"
    );
    assert_eq!(up.query.as_deref(), Some("alt=sse"));
    assert_eq!(
        up.header("authorization"),
        Some(format!("Bearer {token}").as_str())
    );
    assert_eq!(mock.token_exchanges(), 1, "the token is cached");

    // Raw passthrough carries the same token.
    let req = gw
        .request("POST", &format!("/vertex{UPSTREAM_GENERATE}"))
        .header("x-goog-api-key", ALICE_KEY)
        .header("content-type", "application/json");
    let reply = gw.send(req, body()).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let up = mock.last_request().unwrap();
    assert_eq!(up.path, UPSTREAM_GENERATE);
    assert_eq!(
        up.header("authorization"),
        Some(format!("Bearer {token}").as_str())
    );
    assert!(
        up.header("x-goog-api-key").is_none(),
        "the client key is dropped"
    );
    assert_eq!(mock.token_exchanges(), 1);

    let req = gw
        .request(
            "POST",
            "/vertex-eu/v1beta/models/gemini-2.5-pro:generateContent",
        )
        .header("x-goog-api-key", ALICE_KEY);
    let reply = gw.send(req, body()).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let up = mock.last_request().unwrap();
    assert_eq!(
        up.path,
        "/v1/projects/cfg-project/locations/europe-west4/publishers/google/models/gemini-2.5-pro:generateContent"
    );
    assert_eq!(mock.token_exchanges(), 2, "one token per credential");

    assert_no_key(&gw.stderr(), "the gateway's log");
}

#[tokio::test]
async fn concurrent_requests_share_one_token_exchange() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = Arc::new(start_vertex(dir.path(), &mock, &vertex_config(&mock)).await);
    // A slow token endpoint keeps the exchange in flight while all arrive.
    mock.push_fault(Fault::SlowFirstByte(Duration::from_millis(300)));

    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let gw = Arc::clone(&gw);
        tasks.spawn(async move { generate(&gw).await.status });
    }
    while let Some(status) = tasks.join_next().await {
        assert_eq!(status.unwrap(), 200);
    }
    assert_eq!(mock.token_exchanges(), 1);
    let generates = mock
        .requests()
        .iter()
        .filter(|r| r.path == UPSTREAM_GENERATE)
        .count();
    assert_eq!(generates, 10);
}

#[tokio::test]
async fn a_token_near_expiry_is_refreshed() {
    let mock = MockUpstream::start().await.unwrap();
    // Refreshed 60 s before expiry: after 1 s.
    mock.set_token_expires_in(61);
    let dir = tempfile::tempdir().unwrap();
    let gw = start_vertex(dir.path(), &mock, &vertex_config(&mock)).await;

    assert_eq!(generate(&gw).await.status, 200);
    assert_eq!(mock.token_exchanges(), 1);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(generate(&gw).await.status, 200);
    assert_eq!(mock.token_exchanges(), 2, "the stale token was replaced");
    let second = mock.issued_tokens()[1].clone();
    let up = mock.last_request().unwrap();
    assert_eq!(
        up.header("authorization"),
        Some(format!("Bearer {second}").as_str())
    );
}

#[tokio::test]
async fn a_failed_exchange_is_a_502_and_is_not_cached() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start_vertex(dir.path(), &mock, &vertex_config(&mock)).await;
    mock.push_fault(Fault::server_error());

    let reply = generate(&gw).await;
    assert_eq!(reply.status, 502, "{}", reply.text());
    let v = reply.json();
    assert_eq!(v["error"]["code"], 502, "the Gemini error shape: {v}");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(message.contains("vertex"), "{message}");
    assert_no_key(&reply.text(), "the error body");
    assert_eq!(mock.token_exchanges(), 0);
    assert!(
        !mock.requests().iter().any(|r| r.path == UPSTREAM_GENERATE),
        "no upstream call without a token"
    );

    let reply = generate(&gw).await;
    assert_eq!(
        reply.status,
        200,
        "the next request retries: {}",
        reply.text()
    );
    assert_eq!(mock.token_exchanges(), 1);
    assert_no_key(&gw.stderr(), "the gateway's log");
}

#[tokio::test]
async fn a_bad_service_account_is_refused_at_start_with_its_path() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sa = mock
        .service_account_json("p")
        .replace("BEGIN PRIVATE KEY", "BEGIN NOTHING");
    let (result, ()) = spawn_env(
        dir.path(),
        &vertex_config(&mock),
        &[],
        &[("TEST_SA_JSON", &sa)],
    )
    .await;
    let err = match result {
        Ok(_) => panic!("a bad key must stop the start"),
        Err(e) => e,
    };
    assert!(
        err.contains("providers[0].credentials[0].service_account"),
        "{err}"
    );
    assert_no_key(&err, "the start-up error");
}
