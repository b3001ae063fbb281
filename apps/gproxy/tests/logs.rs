//! Request logs through the real binary: attempt rows of a retried
//! request, the key id, body capture with redaction and caps, and
//! `record_requests = false`.
#![cfg(test)]

mod common;

use common::*;
use gproxy_storage::Storage;
use gproxy_testkit::{Fault, MockUpstream};
use serde_json::json;

fn chat(content: &str, stream: bool) -> serde_json::Value {
    json!({"model": "openai/gpt-4o", "stream": stream, "messages": [{"role": "user", "content": content}]})
}

fn request_id(reply: &Reply) -> String {
    reply.header("x-request-id").unwrap().to_owned()
}

#[tokio::test]
async fn a_retried_request_has_its_key_and_one_row_per_attempt() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &two_key_config(&mock, "")).await;
    mock.push_fault(Fault::rate_limited(30));
    let r = gw
        .post("/v1/chat/completions", ALICE_KEY, chat("hi", false))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(mock.requests().len(), 2, "429 then 200");

    let detail = gw.detail_of(&request_id(&r)).await;
    let storage = Storage::connect(&gw.dsn()).await.unwrap();
    let alice_key = storage.list_user_keys().await.unwrap();
    let alice = storage.list_users().await.unwrap();
    let alice_id = alice.iter().find(|u| u.name == "alice").unwrap().id;
    let key = alice_key.iter().find(|k| k.user_id == alice_id).unwrap();
    assert_eq!(detail.log.log.key_id, Some(key.id));
    assert_eq!(detail.log.log.status, 200);

    let creds = storage.list_credentials().await.unwrap();
    let id_of = |name: &str| creds.iter().find(|c| c.name == name).unwrap().id;
    let a = &detail.attempts;
    assert_eq!(a.len(), 2, "{a:?}");
    assert_eq!((a[0].attempt, a[1].attempt), (1, 2));
    assert_eq!(a[0].status, Some(429));
    assert_eq!(a[0].error_class.as_deref(), Some("rate_limit"));
    assert!(a[0].error.as_deref().unwrap().contains("429"), "{a:?}");
    assert_eq!(
        (a[1].status, a[1].error_class.as_deref()),
        (Some(200), None)
    );
    assert_eq!(a[0].provider, "openai");
    // Round robin starts at k1; the rate-limited key is not tried again.
    let used = [a[0].credential_id.unwrap(), a[1].credential_id.unwrap()];
    assert_eq!(used, [id_of("k1"), id_of("k2")]);
    assert_eq!(detail.log.log.credential_id, Some(id_of("k2")));
    assert!(detail.bodies.is_none(), "capture is off by default");

    // The admin key has no key id.
    let r = gw
        .post("/v1/chat/completions", ADMIN_KEY, chat("hi", false))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let detail = gw.detail_of(&request_id(&r)).await;
    assert_eq!(detail.log.log.key_id, None);
    assert_eq!(detail.attempts.len(), 1);
}

#[tokio::test]
async fn captured_bodies_are_capped_and_never_hold_the_client_key() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let extra = "[logging]\ncapture_bodies = true\nmax_body_bytes = 64\n";
    let gw = start(dir.path(), &two_key_config(&mock, extra)).await;

    let long = "x".repeat(500);
    let req = gw
        .request("POST", "/v1/chat/completions")
        .header("authorization", format!("Bearer {ALICE_KEY}"))
        .header("content-type", "application/json")
        .header("x-trace", "t-1");
    let r = gw.send(req, chat(&long, false).to_string()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let detail = gw.detail_of(&request_id(&r)).await;
    let b = detail.bodies.clone().unwrap();
    let sent = chat(&long, false).to_string();
    assert_eq!(b.request_body.as_deref(), Some(&sent[..64]));
    assert!(b.request_truncated);
    let answer = r.text();
    let kept = &answer[..answer.len().min(64)];
    assert_eq!(b.response_body.as_deref(), Some(kept));
    assert_eq!(b.response_truncated, answer.len() > 64);
    assert_eq!(b.request_headers["authorization"], json!(["[redacted]"]));
    assert_eq!(b.request_headers["x-trace"], json!(["t-1"]));
    let everything = serde_json::to_string(&detail).unwrap();
    assert!(!everything.contains(ALICE_KEY), "{everything}");

    // A stream: the first 64 bytes of what went to the client; a key in
    // `x-api-key` is redacted too.
    let req = gw
        .request("POST", "/v1/chat/completions")
        .header("x-api-key", ALICE_KEY)
        .header("content-type", "application/json");
    let r = gw.send(req, chat("hi", true).to_string()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let streamed = r.text();
    assert!(streamed.len() > 64, "{streamed}");
    let detail = gw.detail_of(&request_id(&r)).await;
    let b = detail.bodies.clone().unwrap();
    assert_eq!(b.response_body.as_deref(), Some(&streamed[..64]));
    assert!(b.response_truncated);
    let sent = chat("hi", true).to_string();
    assert_eq!(b.request_truncated, sent.len() > 64);
    assert_eq!(b.request_headers["x-api-key"], json!(["[redacted]"]));
    let everything = serde_json::to_string(&detail).unwrap();
    assert!(!everything.contains(ALICE_KEY), "{everything}");
}

#[tokio::test]
async fn record_requests_false_writes_no_rows() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let extra = "[logging]\nrecord_requests = false\ncapture_bodies = true\n";
    let gw = start(dir.path(), &two_key_config(&mock, extra)).await;
    mock.push_fault(Fault::rate_limited(30));
    let r = gw
        .post("/v1/chat/completions", ALICE_KEY, chat("hi", false))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let first = request_id(&r);
    let r = gw
        .post("/v1/chat/completions", ALICE_KEY, chat("hi", true))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let dsn = gw.dsn();
    // Stopping flushes the usage sink: whatever was queued is written now.
    assert!(gw.stop().await.success());
    let storage = Storage::connect(&dsn).await.unwrap();
    assert_eq!(storage.count_request_logs().await.unwrap(), 0);
    assert_eq!(storage.request_log_detail(&first).await.unwrap(), None);
    // The setting was persisted.
    let stored = storage.get_setting("logging").await.unwrap().unwrap();
    let stored: serde_json::Value = serde_json::from_str(&stored).unwrap();
    assert_eq!(stored["record_requests"], false);
    assert_eq!(stored["max_body_bytes"], 65536);
}

#[tokio::test]
async fn count_calls_and_passthrough_record_their_single_attempt() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &two_key_config(&mock, "")).await;
    let storage = Storage::connect(&gw.dsn()).await.unwrap();
    let creds = storage.list_credentials().await.unwrap();
    let providers = storage.list_providers().await.unwrap();
    let claude = providers.iter().find(|p| p.name == "claude").unwrap().id;
    let claude_cred = creds.iter().find(|c| c.provider_id == claude).unwrap().id;

    let body = json!({"model": "claude/claude-sonnet-4-5", "messages": [{"role": "user", "content": "hi"}]});
    let req = gw
        .request("POST", "/v1/messages/count_tokens")
        .header("x-api-key", ALICE_KEY)
        .header("anthropic-version", "2023-06-01")
        .header("content-type", "application/json");
    let r = gw.send(req, body.to_string()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let detail = gw.detail_of(&request_id(&r)).await;
    let a = &detail.attempts;
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(
        (a[0].provider.as_str(), a[0].credential_id, a[0].status),
        ("claude", Some(claude_cred), Some(200))
    );

    // Passthrough: the mock has no batches endpoint; its 404 is the attempt's.
    let req = gw
        .request("DELETE", "/claude/v1/messages/batches/msgbatch_1")
        .header("x-api-key", ALICE_KEY);
    let r = gw.send(req, "").await;
    assert_eq!(r.status, 404);
    let detail = gw.detail_of(&request_id(&r)).await;
    let a = &detail.attempts;
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(
        (a[0].credential_id, a[0].status, a[0].error_class.as_deref()),
        (Some(claude_cred), Some(404), None)
    );
    assert_eq!(detail.log.log.status, 404);
}
