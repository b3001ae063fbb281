//! The `claudecode` kind (a Claude subscription through the Claude Code
//! OAuth client) through the real binary, against the testkit's vendor
//! mock (`claude_oauth`), which refuses what Anthropic refuses (no OAuth
//! beta, no billing block, spent refresh tokens, expired tokens):
//!
//! - a login through the admin API (start, authorize, paste the
//!   redirect), then every client protocol, streamed and not;
//! - imports of `.credentials.json` and a setup token;
//! - refresh ahead of expiry, the rotated pair stored (a restart uses it);
//! - a 401 under 50 concurrent requests: exactly one refresh, no reuse;
//! - a dead refresh token disables the credential with its reason (kept
//!   across a restart) and the pool moves on;
//! - an exhausted subscription window: the account cools down until the
//!   reset, the other account serves, the first comes back after it;
//! - the quota endpoints; two instances on one database spend one refresh
//!   token once.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::oauth::{credential, import, login};
use common::*;
use gproxy_testkit::MockUpstream;
use serde_json::{Value, json};

/// A gateway whose `claudecode` provider talks to `mock`, with a refresh
/// lead of `lead` seconds.
fn claudecode_config(mock: &MockUpstream, lead: u64) -> String {
    let base = mock.base_url();
    format!(
        r#"admin_key = "${{TEST_ADMIN_KEY}}"

[[providers]]
name = "claudecode"
base_url = "{base}"
settings = {{ authorize_url = "{base}/oauth/authorize", token_url = "{base}/v1/oauth/token", refresh_lead_secs = {lead} }}

[[users]]
name = "alice"
keys = ["{ALICE_KEY}"]
"#
    )
}

/// Claude Code's `.credentials.json` for a token pair of the mock.
fn credentials_file(t: &gproxy_testkit::claude_oauth::ClaudeTokens, expires_in_ms: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    json!({
        "claudeAiOauth": {
            "accessToken": t.access_token,
            "refreshToken": t.refresh_token,
            "expiresAt": now + expires_in_ms,
            "scopes": ["user:inference", "user:profile"],
            "subscriptionType": "max"
        }
    })
    .to_string()
}

async fn messages(gw: &Gateway, stream: bool) -> Reply {
    gw.post(
        "/claudecode/v1/messages",
        ALICE_KEY,
        json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 64,
            "stream": stream,
            "messages": [{"role": "user", "content": "Say hello."}]
        }),
    )
    .await
}

fn id_of(done: &Value) -> i64 {
    done["credential"]["id"].as_i64().unwrap()
}

#[tokio::test]
async fn login_then_every_client_protocol_streamed_and_not() {
    let mock = MockUpstream::start().await.unwrap();
    mock.claude_login_as("max@example.com");
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &claudecode_config(&mock, 600)).await;

    let done = login(&gw, "claudecode").await;
    assert_eq!(done["status"], "created");
    let view = &done["credential"];
    assert_eq!(view["name"], "max-example.com");
    assert_eq!(view["kind"], "oauth");
    assert_eq!(view["oauth"]["account"]["email"], "max@example.com");
    assert!(view["oauth"]["account"]["account_id"].is_string());
    assert_eq!(view["oauth"]["refreshable"], true);
    assert!(!view.to_string().contains("sk-ant-oat"), "{view}");
    assert_eq!(mock.claude_exchanges(), 1);

    // Native Messages, then the other protocols through conversion; the
    // mock refuses any call without the OAuth beta, the billing block and
    // metadata.user_id.
    for stream in [false, true] {
        let r = messages(&gw, stream).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let last = mock.last_request().unwrap();
        assert_eq!(last.path, "/v1/messages");
        assert_eq!(last.query.as_deref(), Some("beta=true"));
        assert!(last.header("authorization").unwrap().starts_with("Bearer sk-ant-oat01-"));
        assert!(last.header("x-api-key").is_none());
        assert!(last.header("anthropic-beta").unwrap().contains("oauth-2025-04-20"));
        assert_eq!(last.header("x-app"), Some("cli"));
    }
    for stream in [false, true] {
        let chat = gw
            .post(
                "/claudecode/v1/chat/completions",
                ALICE_KEY,
                json!({"model": "claude-sonnet-4-5", "stream": stream, "messages": [{"role": "user", "content": "hi"}]}),
            )
            .await;
        assert_eq!(chat.status, 200, "{}", chat.text());
        let responses = gw
            .post(
                "/claudecode/v1/responses",
                ALICE_KEY,
                json!({"model": "claude-sonnet-4-5", "stream": stream, "input": "hi", "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}]}),
            )
            .await;
        assert_eq!(responses.status, 200, "{}", responses.text());
        let method = if stream {
            "streamGenerateContent?alt=sse"
        } else {
            "generateContent"
        };
        let gemini = gw
            .post(
                &format!("/claudecode/v1beta/models/claude-sonnet-4-5:{method}"),
                ALICE_KEY,
                json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}),
            )
            .await;
        assert_eq!(gemini.status, 200, "{}", gemini.text());
        if stream {
            assert!(!chat.events().is_empty());
            assert!(!gemini.events().is_empty());
        } else {
            assert!(chat.json()["choices"][0]["message"].is_object(), "{}", chat.text());
        }
    }
    // The model list is the account's, read with the OAuth bearer.
    let models = gw
        .request("GET", "/claudecode/v1/models")
        .header("authorization", format!("Bearer {ALICE_KEY}"));
    let models = gw.send(models, bytes::Bytes::new()).await;
    assert_eq!(models.status, 200, "{}", models.text());
    assert!(models.text().contains("claude-haiku-4-5-20251001"), "{}", models.text());
    let listed = mock.last_request().unwrap();
    assert_eq!(listed.path, "/v1/models");
    assert!(listed.header("anthropic-beta").unwrap().contains("oauth-2025-04-20"));

    // Logging in again as the same account replaces its tokens.
    let again = login(&gw, "claudecode").await;
    assert_eq!(again["status"], "updated");
    assert_eq!(id_of(&again), id_of(&done));
}

#[tokio::test]
async fn imports_refresh_ahead_of_expiry_and_the_rotated_pair_survives_a_restart() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Lead 10 minutes; the imported token expires in 5: due now.
    let config = claudecode_config(&mock, 600);
    let gw = start(dir.path(), &config).await;
    let tokens = mock.claude_issue("pro@example.com");
    let done = import(&gw, "claudecode", &credentials_file(&tokens, 300_000), None).await;
    let id = id_of(&done);
    assert_eq!(done["credential"]["oauth"]["account"]["plan"], "max");

    let r = messages(&gw, false).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(mock.claude_refreshes(), 1, "one refresh ahead of expiry");
    let sent = mock.last_request().unwrap();
    assert_ne!(
        sent.header("authorization"),
        Some(format!("Bearer {}", tokens.access_token).as_str()),
        "the refreshed token is the one sent"
    );
    // Fresh now: no second refresh.
    assert_eq!(messages(&gw, true).await.status, 200);
    assert_eq!(mock.claude_refreshes(), 1);
    let view = credential(&gw, id).await;
    assert_eq!(view["oauth"]["disabled_reason"], Value::Null);

    // A restart reads the rotated pair from the database: no refresh, and
    // the spent refresh token is never presented again.
    gw.stop().await;
    let gw = start(dir.path(), &config).await;
    assert_eq!(messages(&gw, false).await.status, 200);
    assert_eq!(mock.claude_refreshes(), 1);
    assert_eq!(mock.claude_reuses(), 0);

    // A setup token: one year, no refresh token, no profile scope.
    let setup = import(&gw, "claudecode", "sk-ant-oat01-setup-token-not-refreshable", Some("setup")).await;
    assert_eq!(setup["credential"]["oauth"]["refreshable"], false);
    assert_eq!(setup["credential"]["oauth"]["account"]["auth_kind"], "setup_token");

    // A file that is not Claude Code's: the field at fault.
    let bad = gw
        .api(
            "POST",
            "/providers/claudecode/oauth/import",
            Some(ADMIN_KEY),
            Some(json!({"content": "{\"claudeAiOauth\": {\"refreshToken\": \"r\"}}"})),
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert!(bad.text().contains("claudeAiOauth.accessToken"), "{}", bad.text());
}

#[tokio::test]
async fn a_401_under_50_concurrent_requests_refreshes_once() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = Arc::new(start(dir.path(), &claudecode_config(&mock, 60)).await);
    let tokens = mock.claude_issue("busy@example.com");
    import(&gw, "claudecode", &credentials_file(&tokens, 8 * 3_600_000), None).await;
    assert_eq!(messages(&gw, false).await.status, 200);
    assert_eq!(mock.claude_refreshes(), 0);

    // The vendor expires the token early: every request gets a 401 first.
    mock.claude_expire(&tokens.access_token);
    let mut tasks = Vec::new();
    for i in 0..50 {
        let gw = gw.clone();
        tasks.push(tokio::spawn(async move { messages(&gw, i % 2 == 0).await }));
    }
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
    }
    assert_eq!(mock.claude_refreshes(), 1, "exactly one refresh");
    assert_eq!(mock.claude_reuses(), 0);
}

#[tokio::test]
async fn a_dead_refresh_token_disables_the_credential_with_its_reason() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = claudecode_config(&mock, 60);
    let gw = start(dir.path(), &config).await;
    let dead = mock.claude_issue("dead@example.com");
    let alive = mock.claude_issue("alive@example.com");
    let dead_id = id_of(&import(&gw, "claudecode", &credentials_file(&dead, 8 * 3_600_000), Some("dead")).await);
    import(&gw, "claudecode", &credentials_file(&alive, 8 * 3_600_000), Some("alive")).await;

    mock.claude_expire(&dead.access_token);
    mock.claude_revoke_refresh(&dead.refresh_token);
    // Whichever credential a request starts on, it is served.
    for _ in 0..4 {
        let r = messages(&gw, false).await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let view = credential(&gw, dead_id).await;
    assert_eq!(view["state"], "disabled", "{view}");
    let reason = view["oauth"]["disabled_reason"].as_str().unwrap();
    assert!(reason.contains("invalid_grant"), "{reason}");
    let health = gw
        .request("GET", "/health")
        .header("authorization", format!("Bearer {ADMIN_KEY}"));
    let health = gw.send(health, bytes::Bytes::new()).await.text();
    assert!(health.contains("invalid_grant"), "{health}");

    // Still dead after a restart; logging in again is the way back.
    gw.stop().await;
    let gw = start(dir.path(), &config).await;
    assert_eq!(credential(&gw, dead_id).await["state"], "disabled");
    assert_eq!(messages(&gw, false).await.status, 200);
}

#[tokio::test]
async fn an_exhausted_window_cools_the_account_until_its_reset() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &claudecode_config(&mock, 60)).await;
    let a = mock.claude_issue("a@example.com");
    let b = mock.claude_issue("b@example.com");
    let a_id = id_of(&import(&gw, "claudecode", &credentials_file(&a, 8 * 3_600_000), Some("a")).await);
    let b_id = id_of(&import(&gw, "claudecode", &credentials_file(&b, 8 * 3_600_000), Some("b")).await);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let reset = now + 5;
    mock.claude_exhaust("a@example.com", reset);
    let mut ids = Vec::new();
    for _ in 0..4 {
        let r = messages(&gw, false).await;
        assert_eq!(r.status, 200, "{}", r.text());
        ids.push(r.header("x-request-id").map(str::to_owned).unwrap());
    }
    let mut used = Vec::new();
    for id in &ids {
        used.push(gw.log_of(id).await.credential_id);
    }
    // At most the first request tried `a` (and was answered by `b`).
    assert!(used.iter().all(|c| *c == Some(b_id)), "{used:?}");
    let view = credential(&gw, a_id).await;
    assert_eq!(view["state"], "cooling_down", "{view}");

    // The quota shows the exhausted window.
    let quota = gw
        .api("GET", &format!("/credentials/{a_id}/quota"), Some(ADMIN_KEY), None)
        .await;
    assert_eq!(quota.status, 200, "{}", quota.text());
    let quota = quota.json();
    assert_eq!(quota["windows"][0]["name"], "five_hour");
    assert_eq!(quota["windows"][0]["used_percent"], 100.0);
    // The same on the provider's own path, with the admin key only.
    let usage = gw
        .request("GET", &format!("/claudecode/usage?credential_id={b_id}"))
        .header("authorization", format!("Bearer {ADMIN_KEY}"));
    let usage = gw.send(usage, bytes::Bytes::new()).await;
    assert_eq!(usage.status, 200, "{}", usage.text());
    assert_eq!(usage.json()["credential_id"], b_id);
    let denied = gw
        .request("GET", &format!("/claudecode/usage?credential_id={b_id}"))
        .header("authorization", format!("Bearer {ALICE_KEY}"));
    let denied = gw.send(denied, bytes::Bytes::new()).await.status;
    assert!(denied == 401 || denied == 403, "{denied}");

    // After the reset, the account serves again.
    let wait = (reset + 1).saturating_sub(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    );
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let mut back = false;
    for _ in 0..4 {
        let r = messages(&gw, false).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let id = r.header("x-request-id").map(str::to_owned).unwrap();
        back |= gw.log_of(&id).await.credential_id == Some(a_id);
    }
    assert!(back, "the cooled account came back after its reset");
}

#[tokio::test]
async fn bad_logins_are_clear_400s() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &claudecode_config(&mock, 600)).await;
    let post = |path: &'static str, body: Value| {
        let gw = &gw;
        async move { gw.api("POST", path, Some(ADMIN_KEY), Some(body)).await }
    };
    // An unknown state.
    let r = post(
        "/providers/claudecode/oauth/complete",
        json!({"state": "nope", "callback": "abc"}),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("state"), "{}", r.text());
    // A bare code without a state.
    let r = post("/providers/claudecode/oauth/complete", json!({"callback": "abc"})).await;
    assert_eq!(r.status, 400);
    // A login of another provider's state.
    let start_openai = post("/providers/openai/oauth/start", json!({})).await;
    assert_eq!(start_openai.status, 400, "{}", start_openai.text());
    // Two logins at once keep their own state; each is taken once.
    let a = post("/providers/claudecode/oauth/start", json!({})).await.json();
    let b = post("/providers/claudecode/oauth/start", json!({})).await.json();
    assert_ne!(a["state"], b["state"]);
    let (_, la) = common::oauth::visit(a["url"].as_str().unwrap()).await;
    let (_, lb) = common::oauth::visit(b["url"].as_str().unwrap()).await;
    let rb = post("/providers/claudecode/oauth/complete", json!({"callback": lb.unwrap()})).await;
    assert_eq!(rb.status, 201, "{}", rb.text());
    let la = la.unwrap();
    let ra = post("/providers/claudecode/oauth/complete", json!({"callback": la.clone()})).await;
    assert!(ra.status == 200 || ra.status == 201, "{}", ra.text());
    let replay = post("/providers/claudecode/oauth/complete", json!({"callback": la})).await;
    assert_eq!(replay.status, 400, "{}", replay.text());
    // Unknown flow: the field.
    let r = post("/providers/claudecode/oauth/start", json!({"flow": "magic"})).await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("flow"), "{}", r.text());
    // claudecode has no device flow.
    let r = post("/providers/claudecode/oauth/start", json!({"flow": "device"})).await;
    assert_eq!(r.status, 400, "{}", r.text());
}

#[tokio::test]
async fn two_instances_on_one_database_spend_a_refresh_token_once() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("shared.db").display()
    );
    let text = claudecode_config(&mock, 60);
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let master = "56".repeat(32);
    let envs = [("GPROXY_MASTER_KEY", master.as_str())];
    let args = ["--dsn", db.as_str()];
    let a = Arc::new(spawn_env(d1.path(), &text, &args, &envs).await.0.unwrap());
    let tokens = mock.claude_issue("shared@example.com");
    import(&a, "claudecode", &credentials_file(&tokens, 8 * 3_600_000), None).await;
    let b = Arc::new(spawn_env(d2.path(), &text, &args, &envs).await.0.unwrap());
    // B sees the credential (started after the import).
    assert_eq!(messages(&b, false).await.status, 200);
    mock.claude_expire(&tokens.access_token);
    let mut tasks = Vec::new();
    for i in 0..40 {
        let gw = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move { messages(&gw, false).await }));
    }
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
    }
    assert_eq!(mock.claude_reuses(), 0, "no refresh token spent twice");
    assert_eq!(mock.claude_refreshes(), 1, "one refresh for both instances");
}
