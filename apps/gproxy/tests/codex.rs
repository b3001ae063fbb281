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

/// The `Authorization` bearer of the mock's last Responses call.
fn last_bearer(mock: &MockUpstream) -> String {
    let sent = mock
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.path == "/backend-api/codex/responses")
        .unwrap();
    sent.header("authorization")
        .unwrap()
        .strip_prefix("Bearer ")
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_token_inside_the_lead_is_refreshed_before_it_is_sent() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The config's lead is 60 s: a token living 30 s is due at once.
    let gw = start(dir.path(), &codex_config(&mock)).await;
    mock.codex_set_expires_in(30);
    let short = mock.codex_issue("lead@example.com");
    mock.codex_set_expires_in(10 * 86_400);
    import(
        &gw,
        "codex",
        &MockUpstream::codex_auth_json(&short),
        Some("lead"),
    )
    .await;
    let r = responses(&gw, false).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(mock.codex_refreshes(), 1, "refreshed before the call");
    let sent = last_bearer(&mock);
    assert_ne!(sent, short.access_token, "the old token never went out");
    // The new token lives ten days: no second refresh.
    for stream in [true, false] {
        assert_eq!(responses(&gw, stream).await.status, 200);
    }
    assert_eq!(mock.codex_refreshes(), 1);
    assert_eq!(last_bearer(&mock), sent);
    // The refresh went to the issuer as the CLI sends it: a form with the
    // client id, the refresh token and the refresh scope.
    let refresh = mock
        .requests()
        .into_iter()
        .find(|r| r.path == "/oauth/token")
        .unwrap();
    assert_eq!(
        refresh.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let form = String::from_utf8(refresh.body.to_vec()).unwrap();
    for part in [
        "grant_type=refresh_token",
        "client_id=app_EMoamEEZ73f0CkXaXp7hrann",
        &format!("refresh_token={}", short.refresh_token),
        "scope=openid%20profile%20email",
    ] {
        assert!(form.contains(part), "{part} not in {form}");
    }
}

#[tokio::test]
async fn what_reaches_the_backend_from_a_chat_client() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &codex_config(&mock)).await;
    let t = mock.codex_issue("chat@example.com");
    import(&gw, "codex", &MockUpstream::codex_auth_json(&t), None).await;
    let chat = gw
        .post(
            "/codex/v1/chat/completions",
            ALICE_KEY,
            json!({"model": "gpt-5.5", "max_completion_tokens": 64, "temperature": 0.1, "user": "u-1",
                "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(chat.status, 200, "{}", chat.text());
    assert_eq!(
        chat.json()["choices"][0]["message"]["content"],
        "Hello from mock gpt-5.5"
    );
    let sent = mock.last_request().unwrap();
    assert_eq!(sent.path, "/backend-api/codex/responses");
    assert_eq!(
        sent.header("chatgpt-account-id"),
        Some(t.account_id.as_str())
    );
    assert_eq!(sent.header("originator"), Some("codex_cli_rs"));
    assert_eq!(sent.header("accept"), Some("text/event-stream"));
    assert!(
        sent.header("user-agent")
            .unwrap()
            .starts_with("codex_cli_rs/0.158.0 ("),
        "{:?}",
        sent.header("user-agent")
    );
    let body = sent.json();
    assert_eq!(body["instructions"], "Be brief.", "{body}");
    assert!(
        body["input"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["role"] != "system"),
        "{body}"
    );
    for gone in [
        "max_output_tokens",
        "temperature",
        "user",
        "max_completion_tokens",
    ] {
        assert!(body.get(gone).is_none(), "{gone}: {body}");
    }
    assert!(
        body["include"]
            .as_array()
            .unwrap()
            .contains(&json!("reasoning.encrypted_content"))
    );
    // The hidden model is not listed; the feature limit is a window.
    let models = gw
        .request("GET", "/codex/v1/models")
        .header("authorization", format!("Bearer {ALICE_KEY}"));
    let models = gw.send(models, bytes::Bytes::new()).await;
    assert_eq!(models.status, 200, "{}", models.text());
    assert!(models.text().contains("gpt-5.5"), "{}", models.text());
    assert!(
        !models.text().contains("codex-auto-review"),
        "{}",
        models.text()
    );
    let list = mock
        .requests()
        .into_iter()
        .find(|r| r.path == "/backend-api/codex/models")
        .unwrap();
    assert_eq!(list.query_param("client_version"), Some("0.158.0"));
    assert_eq!(
        list.header("chatgpt-account-id"),
        Some(t.account_id.as_str())
    );
}

#[tokio::test]
async fn a_stream_that_fails_after_it_started() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &codex_config(&mock)).await;
    let t = mock.codex_issue("late@example.com");
    import(&gw, "codex", &MockUpstream::codex_auth_json(&t), None).await;
    // A streaming client sees the failure event as the backend sent it.
    mock.codex_fail_next_stream(
        "server_error",
        "An error occurred while processing your request.",
    );
    let r = responses(&gw, true).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let events = r.events();
    let (name, data) = events.last().unwrap();
    assert_eq!(name.as_deref(), Some("response.failed"), "{}", r.text());
    let failed: Value = serde_json::from_str(data).unwrap();
    assert_eq!(failed["response"]["error"]["code"], "server_error");
    // A client that asked for one answer gets an error, never a 200 with
    // an empty or half-made response.
    mock.codex_fail_next_stream(
        "server_error",
        "An error occurred while processing your request.",
    );
    let r = responses(&gw, false).await;
    assert!(r.status.as_u16() >= 400, "{} {}", r.status, r.text());
    assert!(r.json()["error"].is_object(), "{}", r.text());
    // Then the account serves again.
    assert_eq!(responses(&gw, false).await.status, 200);
}
