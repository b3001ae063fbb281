//! The Google Code Assist kinds (`geminicli`, `antigravity`) through the
//! real binary, against the testkit's Google mock (`code_assist`), which
//! refuses what Google refuses (no client secret, a wrong project, an
//! unwrapped body, another tool's user agent, expired tokens):
//!
//! - a login through the admin API with discovery (user info,
//!   `loadCodeAssist`, `onboardUser` polled until its operation is done),
//!   then Gemini, OpenAI Chat, Responses and Claude clients, streamed and
//!   not, every upstream call checked for the envelope;
//! - imports of Gemini CLI's `oauth_creds.json` (discovery finds the
//!   project) and of a CLIProxyAPI antigravity file;
//! - refresh ahead of expiry (Google does not rotate: the refresh token is
//!   kept);
//! - `QUOTA_EXHAUSTED` cools the account down for that model until the
//!   reset while the pool serves from the other account;
//! - the quota endpoints and antigravity's model list;
//! - a 403 Terms-of-Service disablement disables the credential with the
//!   upstream's reason and the pool moves on.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::oauth::{credential, import, login};
use common::*;
use gproxy_testkit::MockUpstream;
use gproxy_testkit::code_assist::{CodeAssistClient, GoogleTokens, ProjectMode};
use serde_json::{Value, json};

/// A gateway whose `geminicli` and `antigravity` providers talk to `mock`
/// (token, consent and user-info endpoints too), with a refresh lead of
/// `lead` seconds.
fn code_assist_config(mock: &MockUpstream, lead: u64) -> String {
    let base = mock.base_url();
    let settings = format!(
        r#"settings = {{ authorize_url = "{base}/o/oauth2/v2/auth", token_url = "{base}/token", userinfo_url = "{base}/oauth2/v2/userinfo?alt=json", refresh_lead_secs = {lead} }}"#
    );
    format!(
        r#"admin_key = "${{TEST_ADMIN_KEY}}"

[[providers]]
name = "geminicli"
base_url = "{base}"
{settings}

[[providers]]
name = "antigravity"
base_url = "{base}"
{settings}

[[users]]
name = "alice"
keys = ["{ALICE_KEY}"]
"#
    )
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Gemini CLI's `~/.gemini/oauth_creds.json` for a token pair of the mock,
/// expiring in `expires_in_ms` (a float, as the CLI writes it).
fn oauth_creds(t: &GoogleTokens, expires_in_ms: u64) -> String {
    format!(
        r#"{{"access_token":"{}","refresh_token":"{}","scope":"https://www.googleapis.com/auth/cloud-platform","token_type":"Bearer","id_token":"{}","expiry_date":{}.5}}"#,
        t.access_token,
        t.refresh_token,
        t.id_token,
        now_secs() * 1000 + expires_in_ms
    )
}

/// A CLIProxyAPI `antigravity-<email>.json` for a token pair of the mock.
fn antigravity_file(t: &GoogleTokens, project: &str) -> String {
    json!({
        "type": "antigravity",
        "access_token": t.access_token,
        "refresh_token": t.refresh_token,
        "timestamp": now_secs() * 1000,
        "expires_in": 3599,
        "email": t.email,
        "project_id": project,
    })
    .to_string()
}

fn id_of(done: &Value) -> i64 {
    done["credential"]["id"].as_i64().unwrap()
}

async fn gemini(gw: &Gateway, provider: &str, model: &str, method: &str) -> Reply {
    gw.post(
        &format!("/{provider}/v1beta/models/{model}:{method}"),
        ALICE_KEY,
        json!({
            "contents": [{"role": "user", "parts": [{"text": "Say hello."}]}],
            "generationConfig": {"maxOutputTokens": 64, "temperature": 0.2}
        }),
    )
    .await
}

/// What the mock received last: a Code Assist call of `provider`'s tool,
/// with the envelope, on the project of `project`.
fn assert_envelope(mock: &MockUpstream, provider: &str, project: &str, model: &str, stream: bool) {
    let last = mock.last_request().unwrap();
    let method = if stream {
        "/v1internal:streamGenerateContent"
    } else {
        "/v1internal:generateContent"
    };
    assert_eq!(last.path, method, "{provider}");
    assert_eq!(
        last.query.as_deref(),
        stream.then_some("alt=sse"),
        "{provider}"
    );
    assert!(
        last.header("authorization")
            .unwrap()
            .starts_with("Bearer ya29.mock-ca-")
    );
    let ua = last.header("user-agent").unwrap();
    let body = last.json();
    assert_eq!(body["model"], model, "{body}");
    assert_eq!(body["project"], project, "{body}");
    assert_eq!(body["user_prompt_id"].as_str().unwrap().len(), 32, "{body}");
    assert!(body["request"]["contents"].is_array(), "{body}");
    assert!(body["request"].get("model").is_none(), "{body}");
    if provider == "geminicli" {
        assert!(
            ua.starts_with(&format!("GeminiCLI/0.55.1/{model} ")),
            "{ua}"
        );
        assert_eq!(last.header("x-goog-api-client"), Some("gl-node/22.20.0"));
    } else {
        assert!(ua.starts_with("antigravity/hub/"), "{ua}");
        assert_eq!(body["userAgent"], "antigravity");
        assert_eq!(body["requestType"], "agent");
        assert!(
            body["request"]["sessionId"]
                .as_str()
                .unwrap()
                .starts_with('-')
        );
        assert!(last.header("x-goog-api-client").is_none());
    }
    assert_eq!(
        mock.google_last_envelope().unwrap(),
        body,
        "the mock accepted it"
    );
}

/// Gemini (native), OpenAI Chat, Responses and Claude clients, streamed
/// and not, against `provider`; each upstream call checked.
async fn every_client(
    gw: &Gateway,
    mock: &MockUpstream,
    provider: &str,
    project: &str,
    model: &str,
) {
    let before = mock.google_generate_calls();
    for stream in [false, true] {
        let method = if stream {
            "streamGenerateContent?alt=sse"
        } else {
            "generateContent"
        };
        let r = gemini(gw, provider, model, method).await;
        assert_eq!(r.status, 200, "{provider} gemini: {}", r.text());
        assert_envelope(mock, provider, project, model, stream);
        if stream {
            let events = r.events();
            assert!(!events.is_empty(), "{}", r.text());
            for (_, data) in &events {
                let v: Value = serde_json::from_str(data).unwrap();
                assert!(v.get("response").is_none(), "unwrapped for the client: {v}");
                assert!(v["candidates"].is_array(), "{v}");
            }
        } else {
            let v = r.json();
            assert!(v.get("response").is_none(), "{v}");
            assert_eq!(
                v["candidates"][0]["content"]["parts"][0]["text"],
                format!("Hello from mock {model}")
            );
            assert_eq!(v["usageMetadata"]["promptTokenCount"], 11);
        }

        let chat = gw
            .post(
                &format!("/{provider}/v1/chat/completions"),
                ALICE_KEY,
                json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]}),
            )
            .await;
        assert_eq!(chat.status, 200, "{provider} chat: {}", chat.text());
        assert_envelope(mock, provider, project, model, stream);
        if stream {
            assert!(chat.text().contains("Hello"), "{}", chat.text());
        } else {
            let text = chat.json()["choices"][0]["message"]["content"].clone();
            assert_eq!(text, format!("Hello from mock {model}"), "{}", chat.text());
        }

        let responses = gw
            .post(
                &format!("/{provider}/v1/responses"),
                ALICE_KEY,
                json!({"model": model, "stream": stream, "input": "hi"}),
            )
            .await;
        assert_eq!(
            responses.status,
            200,
            "{provider} responses: {}",
            responses.text()
        );
        assert_envelope(mock, provider, project, model, stream);

        let claude = gw
            .post(
                &format!("/{provider}/v1/messages"),
                ALICE_KEY,
                json!({"model": model, "max_tokens": 64, "stream": stream,
                       "system": "Be brief.", "messages": [{"role": "user", "content": "hi"}]}),
            )
            .await;
        assert_eq!(claude.status, 200, "{provider} claude: {}", claude.text());
        assert_envelope(mock, provider, project, model, stream);
        if !stream {
            assert_eq!(
                claude.json()["content"][0]["text"],
                format!("Hello from mock {model}")
            );
        }
    }
    assert_eq!(mock.google_generate_calls(), before + 8);
}

#[tokio::test]
async fn logins_discover_the_project_then_every_client_works_against_both_kinds() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &code_assist_config(&mock, 300)).await;

    // geminicli: a free-tier account without a project, onboarded through
    // an operation that is done on the first poll.
    mock.google_login_as("gcli@example.com");
    mock.google_set_project(
        "gcli@example.com",
        ProjectMode::Onboard {
            tier: "free-tier".into(),
            polls: 1,
        },
    );
    let done = login(&gw, "geminicli").await;
    assert_eq!(done["status"], "created", "{done}");
    let view = &done["credential"];
    assert_eq!(view["kind"], "oauth");
    assert_eq!(view["oauth"]["refreshable"], true, "{view}");
    let account = &view["oauth"]["account"];
    assert_eq!(account["email"], "gcli@example.com");
    let project = mock.google_project_of("gcli@example.com").unwrap();
    assert_eq!(account["project_id"], project.as_str(), "{view}");
    assert_eq!(account["plan"], "free-tier");
    assert!(!view.to_string().contains("ya29."), "{view}");
    assert_eq!(mock.google_exchanges(), 1);
    assert_eq!(mock.google_load_calls(), 1);
    assert_eq!(mock.google_onboard_calls(), 2, "one post, one poll");
    let consent = mock
        .requests()
        .into_iter()
        .find(|r| r.path == "/o/oauth2/v2/auth")
        .unwrap();
    let query = consent.query.unwrap();
    for part in [
        "access_type=offline",
        "prompt=consent",
        "code_challenge_method=S256",
    ] {
        assert!(query.contains(part), "{part}: {query}");
    }

    every_client(&gw, &mock, "geminicli", &project, "gemini-2.5-flash").await;

    // Token counting goes to countTokens without a project.
    let count = gw
        .post(
            "/geminicli/v1beta/models/gemini-2.5-flash:countTokens",
            ALICE_KEY,
            json!({"contents": [{"role": "user", "parts": [{"text": "count me"}]}]}),
        )
        .await;
    assert_eq!(count.status, 200, "{}", count.text());
    assert!(count.json()["totalTokens"].as_u64().unwrap() > 0);
    let sent = mock.last_request().unwrap();
    assert_eq!(sent.path, "/v1internal:countTokens");
    assert_eq!(
        sent.json(),
        json!({"request": {"model": "models/gemini-2.5-flash",
            "contents": [{"role": "user", "parts": [{"text": "count me"}]}]}})
    );

    // antigravity: an account with a project; loadCodeAssist gives it.
    mock.google_login_as("ag@example.com");
    let done = login(&gw, "antigravity").await;
    let project = mock.google_project_of("ag@example.com").unwrap();
    assert_eq!(
        done["credential"]["oauth"]["account"]["project_id"],
        project.as_str()
    );
    assert_eq!(mock.google_onboard_calls(), 2, "no onboarding needed");
    every_client(&gw, &mock, "antigravity", &project, "gemini-3-flash").await;

    // antigravity lists its models with fetchAvailableModels.
    let models = gw
        .request("GET", "/antigravity/v1/models")
        .header("authorization", format!("Bearer {ALICE_KEY}"));
    let models = gw.send(models, bytes::Bytes::new()).await;
    assert_eq!(models.status, 200, "{}", models.text());
    let text = models.text();
    assert!(
        text.contains("gemini-3-flash") && text.contains("claude-sonnet-4-6"),
        "{text}"
    );
    assert!(
        !text.contains("chat_20706"),
        "internal ids are skipped: {text}"
    );
    let listed = mock.last_request().unwrap();
    assert_eq!(
        (listed.method.as_str(), listed.path.as_str()),
        ("POST", "/v1internal:fetchAvailableModels")
    );

    // Logging the same account in again replaces its tokens.
    let again = login(&gw, "antigravity").await;
    assert_eq!(again["status"], "updated");
    assert_eq!(id_of(&again), id_of(&done));
}

#[tokio::test]
async fn imports_discover_or_carry_the_project_and_refresh_ahead_of_expiry() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Lead 10 minutes; the imported token expires in 5: due now.
    let gw = start(dir.path(), &code_assist_config(&mock, 600)).await;
    let tokens = mock.google_issue("imp@example.com", CodeAssistClient::GeminiCli);
    let done = import(&gw, "geminicli", &oauth_creds(&tokens, 300_000), None).await;
    let id = id_of(&done);
    let account = &done["credential"]["oauth"]["account"];
    assert_eq!(account["email"], "imp@example.com", "from the id token");
    let project = mock.google_project_of("imp@example.com").unwrap();
    assert_eq!(
        account["project_id"],
        project.as_str(),
        "discovery found it"
    );
    assert_eq!(mock.google_load_calls(), 1);

    let r = gemini(&gw, "geminicli", "gemini-2.5-pro", "generateContent").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(mock.google_refreshes(), 1, "one refresh ahead of expiry");
    let sent = mock.last_request().unwrap();
    assert_ne!(
        sent.header("authorization"),
        Some(format!("Bearer {}", tokens.access_token).as_str()),
        "the refreshed token is the one sent"
    );
    // Fresh now; Google kept the refresh token and so does the credential.
    let r = gemini(
        &gw,
        "geminicli",
        "gemini-2.5-pro",
        "streamGenerateContent?alt=sse",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(mock.google_refreshes(), 1);
    let view = credential(&gw, id).await;
    assert_eq!(view["oauth"]["refreshable"], true, "{view}");
    assert_eq!(view["oauth"]["disabled_reason"], Value::Null);

    // A CLIProxyAPI antigravity file names its project: no discovery call.
    let ag = mock.google_issue("agimp@example.com", CodeAssistClient::Antigravity);
    let project = mock.google_project_of("agimp@example.com").unwrap();
    let done = import(&gw, "antigravity", &antigravity_file(&ag, &project), None).await;
    assert_eq!(
        done["credential"]["oauth"]["account"]["project_id"],
        project.as_str()
    );
    assert_eq!(
        done["credential"]["oauth"]["account"]["email"],
        "agimp@example.com"
    );
    assert_eq!(mock.google_load_calls(), 1);
    let r = gemini(&gw, "antigravity", "gemini-3-flash", "generateContent").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_envelope(&mock, "antigravity", &project, "gemini-3-flash", false);

    // A file without a refresh token: the field at fault.
    let bad = gw
        .api(
            "POST",
            "/providers/geminicli/oauth/import",
            Some(ADMIN_KEY),
            Some(json!({"content": "{\"access_token\": \"ya29.x\"}"})),
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert!(bad.text().contains("refresh_token"), "{}", bad.text());
}

#[tokio::test]
async fn quota_exhausted_cools_the_account_for_that_model_until_the_reset() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &code_assist_config(&mock, 60)).await;
    let a = mock.google_issue("a@example.com", CodeAssistClient::GeminiCli);
    let b = mock.google_issue("b@example.com", CodeAssistClient::GeminiCli);
    let hour = 3_600_000;
    let a_id = id_of(&import(&gw, "geminicli", &oauth_creds(&a, hour), Some("a")).await);
    let b_id = id_of(&import(&gw, "geminicli", &oauth_creds(&b, hour), Some("b")).await);
    let reset = now_secs() + 8;
    mock.google_exhaust("a@example.com", "gemini-2.5-flash", reset);

    // The quota shows the exhausted bucket, until its reset.
    let quota = gw
        .api(
            "GET",
            &format!("/credentials/{a_id}/quota"),
            Some(ADMIN_KEY),
            None,
        )
        .await;
    assert_eq!(quota.status, 200, "{}", quota.text());
    let quota = quota.json();
    let bucket = quota["windows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["model"] == "gemini-2.5-flash")
        .unwrap()
        .clone();
    assert_eq!(bucket["used_percent"], 100.0, "{quota}");
    assert_eq!(bucket["resets_at"], reset, "{quota}");
    let sent = mock
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.path == "/v1internal:retrieveUserQuota")
        .unwrap();
    let project = mock.google_project_of("a@example.com").unwrap();
    assert_eq!(sent.json(), json!({"project": project}));
    // On the provider's own path, with the admin key.
    let usage = gw
        .request("GET", &format!("/geminicli/usage?credential_id={b_id}"))
        .header("authorization", format!("Bearer {ADMIN_KEY}"));
    let usage = gw.send(usage, bytes::Bytes::new()).await;
    assert_eq!(usage.status, 200, "{}", usage.text());
    assert_eq!(usage.json()["credential_id"], b_id);
    assert_eq!(usage.json()["windows"][0]["used_percent"], 25.0);

    // Requests first (the cooldown runs on the clock), their logs after.
    let send = |model: &'static str| {
        let gw = &gw;
        async move {
            let r = gemini(gw, "geminicli", model, "generateContent").await;
            assert_eq!(r.status, 200, "{}", r.text());
            r.header("x-request-id").map(str::to_owned).unwrap()
        }
    };
    let mut flash = Vec::new();
    let mut pro = Vec::new();
    for _ in 0..4 {
        flash.push(send("gemini-2.5-flash").await);
    }
    for _ in 0..4 {
        pro.push(send("gemini-2.5-pro").await);
    }
    assert!(now_secs() < reset, "the requests ran before the reset");
    let mut flash_by = Vec::new();
    for id in &flash {
        flash_by.push(gw.log_of(id).await.credential_id);
    }
    assert!(flash_by.iter().all(|c| *c == Some(b_id)), "{flash_by:?}");
    // Only that model: the account still serves the others.
    let mut pro_by = Vec::new();
    for id in &pro {
        pro_by.push(gw.log_of(id).await.credential_id);
    }
    assert!(pro_by.contains(&Some(a_id)), "{pro_by:?}");

    // After the reset, the account serves that model again.
    tokio::time::sleep(Duration::from_secs((reset + 1).saturating_sub(now_secs()))).await;
    let mut back = false;
    for _ in 0..4 {
        let id = send("gemini-2.5-flash").await;
        back |= gw.log_of(&id).await.credential_id == Some(a_id);
    }
    assert!(back, "the cooled account came back after its reset");
}

#[tokio::test]
async fn antigravity_quota_and_a_banned_account_disabled_with_the_upstream_reason() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &code_assist_config(&mock, 60)).await;
    let ok = mock.google_issue("ok@example.com", CodeAssistClient::Antigravity);
    let banned = mock.google_issue("banned@example.com", CodeAssistClient::Antigravity);
    let ok_project = mock.google_project_of("ok@example.com").unwrap();
    let banned_project = mock.google_project_of("banned@example.com").unwrap();
    let ok_id = id_of(
        &import(
            &gw,
            "antigravity",
            &antigravity_file(&ok, &ok_project),
            Some("ok"),
        )
        .await,
    );
    let banned_id = id_of(
        &import(
            &gw,
            "antigravity",
            &antigravity_file(&banned, &banned_project),
            Some("banned"),
        )
        .await,
    );

    let quota = gw
        .api(
            "GET",
            &format!("/credentials/{ok_id}/quota"),
            Some(ADMIN_KEY),
            None,
        )
        .await;
    assert_eq!(quota.status, 200, "{}", quota.text());
    let quota = quota.json();
    let models: Vec<&str> = quota["windows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["model"].as_str().unwrap())
        .collect();
    assert!(
        models.contains(&"gemini-3-flash") && !models.contains(&"chat_20706"),
        "{quota}"
    );
    assert_eq!(
        mock.last_request().unwrap().path,
        "/v1internal:fetchAvailableModels"
    );

    mock.google_ban("banned@example.com");
    let mut served = Vec::new();
    for _ in 0..4 {
        let r = gemini(&gw, "antigravity", "gemini-3-flash", "generateContent").await;
        assert_eq!(r.status, 200, "the pool moves on: {}", r.text());
        served.push(r.header("x-request-id").map(str::to_owned).unwrap());
    }
    for id in &served {
        assert_eq!(gw.log_of(id).await.credential_id, Some(ok_id));
    }
    let view = credential(&gw, banned_id).await;
    assert_eq!(view["state"], "disabled", "{view}");
    let health = gw.health().await.text();
    assert!(
        health.contains("Terms of Service"),
        "the upstream's reason: {health}"
    );
}
