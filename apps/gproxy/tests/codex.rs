//! The `codex` kind (a ChatGPT subscription through the Codex CLI's OAuth
//! client) through the real binary, against the testkit's vendor mock
//! (`codex`), which refuses what the Codex backend refuses (no
//! `instructions`, `store` not false, not streamed, a foreign
//! `chatgpt-account-id`, expired or reused tokens):
//!
//! - a browser login and a device-code login through the admin API;
//! - every client protocol, streamed and not (a non-stream client gets
//!   the always-streamed answer assembled into one);
//! - an `auth.json` import; a 401 refreshed once with a retry; a reused
//!   refresh token disabling its credential while the pool moves on;
//! - `usage_limit_reached` cooling the account until its reset; the model
//!   list and the usage windows.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::oauth::{credential, import, login};
use common::*;
use gproxy_testkit::MockUpstream;
use serde_json::{Value, json};

fn codex_config(mock: &MockUpstream) -> String {
    format!(
        r#"admin_key = "${{TEST_ADMIN_KEY}}"

[[providers]]
name = "codex"
base_url = "{}"
settings = {{ issuer = "{}", refresh_lead_secs = 60 }}

[[users]]
name = "alice"
keys = ["{ALICE_KEY}"]
"#,
        mock.codex_base_url(),
        mock.codex_issuer()
    )
}

async fn responses(gw: &Gateway, stream: bool) -> Reply {
    gw.post(
        "/codex/v1/responses",
        ALICE_KEY,
        json!({"model": "gpt-5.5", "stream": stream, "input": "Say hello.", "temperature": 0.3, "max_output_tokens": 50}),
    )
    .await
}

fn id_of(done: &Value) -> i64 {
    done["credential"]["id"].as_i64().unwrap()
}

#[tokio::test]
async fn login_then_every_client_protocol_streamed_and_not() {
    let mock = MockUpstream::start().await.unwrap();
    mock.codex_login_as("plus@example.com");
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &codex_config(&mock)).await;

    let done = login(&gw, "codex").await;
    let view = &done["credential"];
    assert_eq!(view["name"], "plus-example.com");
    assert_eq!(view["oauth"]["account"]["email"], "plus@example.com");
    assert_eq!(view["oauth"]["account"]["plan"], "plus");
    assert!(
        view["oauth"]["account"]["account_id"]
            .as_str()
            .unwrap()
            .starts_with("acct-")
    );

    // A non-stream Responses client: the backend only streams, the
    // gateway assembles one answer.
    let r = responses(&gw, false).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    assert_eq!(body["object"], "response", "{body}");
    assert_eq!(body["status"], "completed", "{body}");
    assert!(!body["output"].as_array().unwrap().is_empty());
    let sent = mock.last_request().unwrap();
    assert_eq!(sent.path, "/backend-api/codex/responses");
    let sent_body: Value = serde_json::from_slice(&sent.body).unwrap();
    assert_eq!(sent_body["stream"], true);
    assert_eq!(sent_body["store"], false);
    assert_eq!(sent_body["instructions"], "");
    assert!(sent_body.get("temperature").is_none());
    assert_eq!(sent.header("originator"), Some("codex_cli_rs"));
    // Streamed.
    let r = responses(&gw, true).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.events()
            .iter()
            .any(|(e, _)| e.as_deref() == Some("response.completed"))
    );
    for stream in [false, true] {
        let chat = gw
            .post(
                "/codex/v1/chat/completions",
                ALICE_KEY,
                json!({"model": "gpt-5.5", "stream": stream, "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}], "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]}),
            )
            .await;
        assert_eq!(chat.status, 200, "{}", chat.text());
        let claude = gw
            .post(
                "/codex/v1/messages",
                ALICE_KEY,
                json!({"model": "gpt-5.5", "max_tokens": 100, "stream": stream, "thinking": {"type": "enabled", "budget_tokens": 1024}, "messages": [{"role": "user", "content": "hi"}]}),
            )
            .await;
        assert_eq!(claude.status, 200, "{}", claude.text());
        let method = if stream {
            "streamGenerateContent?alt=sse"
        } else {
            "generateContent"
        };
        let gemini = gw
            .post(
                &format!("/codex/v1beta/models/gpt-5.5:{method}"),
                ALICE_KEY,
                json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}),
            )
            .await;
        assert_eq!(gemini.status, 200, "{}", gemini.text());
        if stream {
            assert!(!chat.events().is_empty());
            assert!(!claude.events().is_empty());
        } else {
            assert!(
                chat.json()["choices"][0]["message"].is_object(),
                "{}",
                chat.text()
            );
            assert_eq!(claude.json()["type"], "message", "{}", claude.text());
            assert!(gemini.json()["candidates"].is_array(), "{}", gemini.text());
        }
    }
    // The model list and the usage windows of the account.
    let models = gw
        .request("GET", "/codex/v1/models")
        .header("authorization", format!("Bearer {ALICE_KEY}"));
    let models = gw.send(models, bytes::Bytes::new()).await;
    assert_eq!(models.status, 200);
    assert!(models.text().contains("gpt-5.4-mini"), "{}", models.text());
    let quota = gw
        .api(
            "GET",
            &format!("/credentials/{}/quota", id_of(&done)),
            Some(ADMIN_KEY),
            None,
        )
        .await;
    assert_eq!(quota.status, 200, "{}", quota.text());
    let quota = quota.json();
    assert_eq!(quota["plan"], "plus");
    assert_eq!(quota["windows"][0]["name"], "five_hour");
    assert_eq!(quota["windows"][1]["name"], "weekly");
}

#[tokio::test]
async fn a_device_code_login() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &codex_config(&mock)).await;
    let start = gw
        .api(
            "POST",
            "/providers/codex/oauth/start",
            Some(ADMIN_KEY),
            Some(json!({"flow": "device"})),
        )
        .await;
    assert_eq!(start.status, 200, "{}", start.text());
    let start = start.json();
    assert_eq!(start["flow"], "device");
    assert!(start["url"].as_str().unwrap().ends_with("/codex/device"));
    let code = start["user_code"].as_str().unwrap().to_owned();
    let state = start["state"].clone();
    let poll = || {
        gw.api(
            "POST",
            "/providers/codex/oauth/poll",
            Some(ADMIN_KEY),
            Some(json!({"state": state.clone()})),
        )
    };
    let pending = poll().await;
    assert_eq!(pending.status, 202, "{}", pending.text());
    assert_eq!(pending.json()["status"], "pending");
    assert!(mock.codex_approve_device(&code, "device@example.com"));
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let done = loop {
        tokio::time::sleep(Duration::from_millis(600)).await;
        let r = poll().await;
        if r.status == 201 {
            break r.json();
        }
        assert_eq!(r.status, 202, "{}", r.text());
        assert!(std::time::Instant::now() < deadline, "never approved");
    };
    assert_eq!(
        done["credential"]["oauth"]["account"]["email"],
        "device@example.com"
    );
    assert_eq!(responses(&gw, false).await.status, 200);
    // The state is spent.
    let again = poll().await;
    assert_eq!(again.status, 400, "{}", again.text());
}

#[tokio::test]
async fn import_refresh_on_401_and_a_reused_refresh_token() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &codex_config(&mock)).await;
    let tokens = mock.codex_issue("imported@example.com");
    let auth_json = MockUpstream::codex_auth_json(&tokens);
    let done = import(&gw, "codex", &auth_json, Some("live")).await;
    assert_eq!(
        done["credential"]["oauth"]["account"]["email"],
        "imported@example.com"
    );
    assert_eq!(responses(&gw, false).await.status, 200);

    // The backend invalidates the token: one refresh, one retry.
    mock.codex_expire(&tokens.access_token);
    let r = responses(&gw, true).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let (_, refreshes, reuses, _) = mock.codex_counts();
    assert_eq!((refreshes, reuses), (1, 0));

    // The same file imported again: its refresh token is spent. Its first
    // 401 leads to `refresh_token_reused`: disabled, the pool moves on.
    let stale_id = id_of(&import(&gw, "codex", &auth_json, Some("stale")).await);
    for _ in 0..3 {
        let r = responses(&gw, false).await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let view = credential(&gw, stale_id).await;
    assert_eq!(view["state"], "disabled", "{view}");
    let reason = view["oauth"]["disabled_reason"].as_str().unwrap();
    assert!(reason.contains("refresh_token_reused"), "{reason}");
    assert_eq!(
        mock.codex_counts().2,
        1,
        "the spent token was presented once"
    );

    // A file that is not auth.json: the field.
    let bad = gw
        .api(
            "POST",
            "/providers/codex/oauth/import",
            Some(ADMIN_KEY),
            Some(json!({"content": "{\"tokens\": {}}"})),
        )
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.text().contains("tokens.access_token"), "{}", bad.text());
}

#[tokio::test]
async fn usage_limit_cools_the_account_until_its_reset() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &codex_config(&mock)).await;
    let a = mock.codex_issue("a@example.com");
    let b = mock.codex_issue("b@example.com");
    let a_id = id_of(&import(&gw, "codex", &MockUpstream::codex_auth_json(&a), Some("a")).await);
    let b_id = id_of(&import(&gw, "codex", &MockUpstream::codex_auth_json(&b), Some("b")).await);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    mock.codex_exhaust("a@example.com", now + 600);
    let mut ids = Vec::new();
    for _ in 0..4 {
        let r = responses(&gw, false).await;
        assert_eq!(r.status, 200, "{}", r.text());
        ids.push(r.header("x-request-id").unwrap().to_owned());
    }
    for id in &ids {
        assert_eq!(gw.log_of(id).await.credential_id, Some(b_id));
    }
    let view = credential(&gw, a_id).await;
    assert_eq!(view["state"], "cooling_down", "{view}");
    // Until the reset, not a fixed default.
    let state = gw
        .api(
            "GET",
            &format!("/credentials/{a_id}/state"),
            Some(ADMIN_KEY),
            None,
        )
        .await
        .json();
    let until = chrono::DateTime::parse_from_rfc3339(state["cooldown_until"].as_str().unwrap())
        .unwrap()
        .timestamp() as u64;
    assert!((now + 590..=now + 601).contains(&until), "{state}");
    // Both exhausted: the client gets the 429 with a Retry-After.
    mock.codex_exhaust("b@example.com", now + 600);
    let r = responses(&gw, false).await;
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.header("retry-after").is_some());
}
