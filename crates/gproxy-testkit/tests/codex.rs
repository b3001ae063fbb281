//! The codex mock refuses what OpenAI's auth server and the Codex backend
//! refuse: the authorize checks (PKCE S256, registered redirect, state,
//! openid scope), single-use codes bound to their redirect and verifier,
//! rotating refresh tokens (a reuse is 401 `refresh_token_reused`), the
//! device flow's pending and slow-down answers, and the backend's bearer,
//! account, originator and body rules; plus exhaustion, in-stream
//! failures, the model list and the usage windows.
#![cfg(test)]

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use gproxy_testkit::MockUpstream;
use gproxy_testkit::claude_oauth::s256;
use gproxy_testkit::codex::{
    CLIENT_ID, CodexTokens, INSTRUCTIONS_REQUIRED, REDIRECT_URI, STORE_REQUIRED, STREAM_REQUIRED,
};
use http::Method;
use serde_json::{Value, json};

/// Headers to replace (an empty value removes the header).
type Headers<'a> = &'a [(&'a str, &'a str)];

const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");
const JSON: (&str, &str) = ("content-type", "application/json");
const VERIFIER: &str = "codex-verifier-codex-verifier-codex-verifier-1";

fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The CLI's authorize URL with `params` replaced or added.
fn authorize_url(up: &MockUpstream, overrides: &[(&str, &str)]) -> String {
    let challenge = s256(VERIFIER);
    let mut params: Vec<(&str, &str)> = vec![
        ("response_type", "code"),
        ("client_id", CLIENT_ID),
        ("redirect_uri", REDIRECT_URI),
        ("scope", "openid email profile offline_access"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
        ("id_token_add_organizations", "true"),
        ("codex_cli_simplified_flow", "true"),
        ("state", "st-1"),
        ("originator", "codex_cli_rs"),
    ];
    for (k, v) in overrides {
        params.retain(|(name, _)| name != k);
        if !v.is_empty() {
            params.push((k, v));
        }
    }
    format!("{}/oauth/authorize?{}", up.codex_issuer(), form(&params))
}

/// Authorizes with the default URL; the code of the redirect.
async fn code(up: &MockUpstream) -> String {
    let reply = get(&authorize_url(up, &[]), &[]).await;
    assert_eq!(reply.status, 302, "{}", reply.text());
    let location = reply.header("location").unwrap();
    assert!(
        location.starts_with(&format!("{REDIRECT_URI}?code=")),
        "{location}"
    );
    assert!(location.ends_with("&state=st-1"), "{location}");
    let code = location.split("code=").nth(1).unwrap();
    code.split('&').next().unwrap().to_owned()
}

async fn token(up: &MockUpstream, fields: &[(&str, &str)]) -> Reply {
    let url = format!("{}/oauth/token", up.codex_issuer());
    send(Method::POST, &url, &[FORM], form(fields)).await
}

async fn exchange(up: &MockUpstream, code: &str, redirect: &str, verifier: &str) -> Reply {
    token(
        up,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect),
            ("client_id", CLIENT_ID),
            ("code_verifier", verifier),
        ],
    )
    .await
}

async fn refresh(up: &MockUpstream, refresh_token: &str) -> Reply {
    token(
        up,
        &[
            ("client_id", CLIENT_ID),
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("scope", "openid profile email"),
        ],
    )
    .await
}

fn codex_body() -> Value {
    json!({
        "model": "gpt-5.5",
        "instructions": "",
        "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
        "stream": true,
        "store": false,
        "include": ["reasoning.encrypted_content"]
    })
}

async fn responses_as(
    up: &MockUpstream,
    t: &CodexTokens,
    headers: &[(&str, &str)],
    body: &Value,
) -> Reply {
    let auth = format!("Bearer {}", t.access_token);
    let mut all = vec![
        ("authorization", auth.as_str()),
        ("chatgpt-account-id", t.account_id.as_str()),
        ("originator", "codex_cli_rs"),
        ("accept", "text/event-stream"),
        JSON,
    ];
    for (name, value) in headers {
        all.retain(|(n, _)| n != name);
        if !value.is_empty() {
            all.push((name, value));
        }
    }
    post(&format!("{}/responses", up.codex_base_url()), &all, body).await
}

#[tokio::test]
async fn a_browser_login_exchanges_its_code_once_with_its_verifier_and_redirect() {
    let up = upstream().await;
    up.codex_login_as("plus@example.com");
    // A wrong verifier is refused and spends the code.
    let c = code(&up).await;
    let bad = exchange(&up, &c, REDIRECT_URI, "another-verifier").await;
    assert_eq!(
        (bad.status, bad.json()["error"].clone()),
        (400, json!("invalid_grant"))
    );
    assert_eq!(exchange(&up, &c, REDIRECT_URI, VERIFIER).await.status, 400);
    // The redirect must match the authorize call's byte for byte.
    let c = code(&up).await;
    let bad = exchange(&up, &c, "http://localhost:1455/auth/callback/", VERIFIER).await;
    assert_eq!(bad.status, 400, "{}", bad.text());
    // Right: the three tokens, the account in the id token.
    let c = code(&up).await;
    let ok = exchange(&up, &c, REDIRECT_URI, VERIFIER).await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    let v = ok.json();
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 10 * 86_400);
    let id = claims(v["id_token"].as_str().unwrap());
    assert_eq!(id["email"], "plus@example.com");
    let auth = &id["https://api.openai.com/auth"];
    assert_eq!(
        auth["chatgpt_account_id"],
        up.codex_account_id("plus@example.com")
    );
    assert_eq!(auth["chatgpt_plan_type"], "plus");
    assert!(auth["chatgpt_user_id"].is_string());
    let exp = claims(v["access_token"].as_str().unwrap())["exp"]
        .as_u64()
        .unwrap();
    assert!((now() + 10 * 86_400 - 5..=now() + 10 * 86_400).contains(&exp));
    assert!(v["refresh_token"].as_str().unwrap().starts_with("rt_"));
    // Single use.
    assert_eq!(exchange(&up, &c, REDIRECT_URI, VERIFIER).await.status, 400);
    assert_eq!(up.codex_exchanges(), 1);
}

#[tokio::test]
async fn authorize_refuses_what_the_issuer_refuses() {
    let up = upstream().await;
    for (overrides, why) in [
        (&[("code_challenge", "")][..], "no challenge"),
        (&[("code_challenge_method", "plain")], "plain PKCE"),
        (&[("response_type", "token")], "implicit flow"),
        (&[("state", "")], "no state"),
        (&[("scope", "email profile")], "no openid scope"),
        (
            &[("redirect_uri", "http://evil.example/cb")],
            "unregistered redirect",
        ),
    ] {
        let reply = get(&authorize_url(&up, overrides), &[]).await;
        assert_eq!(reply.status, 400, "{why}: {}", reply.text());
        assert!(reply.header("location").is_none(), "{why}");
    }
    // Another client id is not Codex's (the claudecode mock answers it).
    let reply = get(&authorize_url(&up, &[("client_id", "app_other")]), &[]).await;
    assert_eq!(reply.status, 400);
    // A registered extra redirect works.
    up.codex_allow_redirect("http://localhost:1456/auth/callback");
    let reply = get(
        &authorize_url(
            &up,
            &[("redirect_uri", "http://localhost:1456/auth/callback")],
        ),
        &[],
    )
    .await;
    assert_eq!(reply.status, 302, "{}", reply.text());
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_reuse_is_refresh_token_reused() {
    let up = upstream().await;
    let first = up.codex_issue("r@example.com");
    let reply = refresh(&up, &first.refresh_token).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let second = reply.json();
    let second_rt = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second_rt, first.refresh_token);
    assert_ne!(second["access_token"], json!(first.access_token));
    assert!(second["id_token"].is_string());
    // The spent one: 401 with the code the CLI reads, counted.
    let reused = refresh(&up, &first.refresh_token).await;
    assert_eq!(reused.status, 401);
    assert_eq!(reused.json()["error"]["code"], "refresh_token_reused");
    assert_eq!(up.codex_reuses(), 1);
    // A JSON refresh without scope (gproxy v4's form) is accepted too.
    let url = format!("{}/oauth/token", up.codex_issuer());
    let body =
        json!({"client_id": CLIENT_ID, "grant_type": "refresh_token", "refresh_token": second_rt});
    let reply = post(&url, &[JSON], &body).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(up.codex_refreshes(), 2);
    // Unknown: invalid_grant; revoked: refresh_token_invalidated.
    let unknown = refresh(&up, "rt_never_issued").await;
    assert_eq!(
        (unknown.status, unknown.json()["error"].clone()),
        (400, json!("invalid_grant"))
    );
    let t = up.codex_issue("r@example.com");
    up.codex_revoke_refresh(&t.refresh_token);
    let revoked = refresh(&up, &t.refresh_token).await;
    assert_eq!(revoked.status, 401);
    assert_eq!(revoked.json()["error"]["code"], "refresh_token_invalidated");
    // Another client, or a body that is neither form nor JSON.
    let other = token(
        &up,
        &[
            ("client_id", "app_other"),
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
        ],
    )
    .await;
    assert_eq!(other.status, 401);
    let plain = send(Method::POST, &url, &[("content-type", "text/plain")], "x").await;
    assert_eq!(plain.status, 400);
    assert_eq!(up.codex_refreshes(), 2);
}

#[tokio::test]
async fn the_device_flow_is_pending_until_approved_and_slows_fast_pollers() {
    let up = upstream().await;
    up.codex_set_device_interval(5);
    let issuer = up.codex_issuer();
    let usercode_url = format!("{issuer}/api/accounts/deviceauth/usercode");
    let bad = post(&usercode_url, &[JSON], &json!({"client_id": "app_other"})).await;
    assert_eq!(bad.status, 400);
    let start = post(&usercode_url, &[JSON], &json!({"client_id": CLIENT_ID})).await;
    assert_eq!(start.status, 200, "{}", start.text());
    let start = start.json();
    assert_eq!(start["interval"], "5", "a string, as the real endpoint");
    let (id, user_code) = (
        start["device_auth_id"].as_str().unwrap().to_owned(),
        start["user_code"].as_str().unwrap().to_owned(),
    );
    let token_url = format!("{issuer}/api/accounts/deviceauth/token");
    let poll_body = json!({"device_auth_id": id, "user_code": user_code});
    let poll = || post(&token_url, &[JSON], &poll_body);
    assert_eq!(poll().await.status, 403, "pending");
    assert_eq!(poll().await.json()["error"], "slow_down");
    let wrong = post(
        &token_url,
        &[JSON],
        &json!({"device_auth_id": id, "user_code": "NOPE-0000"}),
    )
    .await;
    assert_eq!(wrong.status, 404);
    assert!(up.codex_approve_device(&user_code, "device@example.com"));
    assert!(!up.codex_approve_device("NOPE-0000", "device@example.com"));
    up.codex_set_device_interval(0);
    let done = poll().await;
    assert_eq!(done.status, 200, "{}", done.text());
    let done = done.json();
    let verifier = done["code_verifier"].as_str().unwrap();
    assert_eq!(done["code_challenge"], s256(verifier));
    let code = done["authorization_code"].as_str().unwrap();
    // Exchanged with the device callback, not the CLI's localhost one.
    let device_redirect = format!("{issuer}/deviceauth/callback");
    assert_eq!(
        exchange(&up, code, REDIRECT_URI, verifier).await.status,
        400
    );
    assert_eq!(poll().await.status, 404, "the device code is spent");
    // The wrong redirect spent the code too: approve a second login.
    let start = post(&usercode_url, &[JSON], &json!({"client_id": CLIENT_ID}))
        .await
        .json();
    let user_code = start["user_code"].as_str().unwrap();
    assert!(up.codex_approve_device(user_code, "device@example.com"));
    let done = post(
        &token_url,
        &[JSON],
        &json!({"device_auth_id": start["device_auth_id"], "user_code": user_code}),
    )
    .await
    .json();
    let ok = exchange(
        &up,
        done["authorization_code"].as_str().unwrap(),
        &device_redirect,
        done["code_verifier"].as_str().unwrap(),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(
        claims(ok.json()["id_token"].as_str().unwrap())["email"],
        "device@example.com"
    );
}

#[tokio::test]
async fn the_backend_refuses_what_codex_refuses() {
    let up = upstream().await;
    let t = up.codex_issue("b@example.com");
    let other = up.codex_issue("c@example.com");
    let body = codex_body();
    let cases: [(Headers, u16, &str); 5] = [
        (&[("authorization", "")], 401, "token_invalidated"),
        (
            &[("authorization", "Bearer sk-not-a-token")],
            401,
            "token_invalidated",
        ),
        (&[("chatgpt-account-id", "")], 403, "account_mismatch"),
        (
            &[("chatgpt-account-id", &other.account_id)],
            403,
            "account_mismatch",
        ),
        (&[("originator", "")], 403, "missing_originator"),
    ];
    for (headers, status, code) in cases {
        let reply = responses_as(&up, &t, headers, &body).await;
        assert_eq!(reply.status, status, "{headers:?}: {}", reply.text());
        assert_eq!(reply.json()["error"]["code"], code, "{headers:?}");
    }
    let detail = |key: &str, value: Option<Value>| {
        let mut b = codex_body();
        match value {
            Some(v) => b[key] = v,
            None => {
                b.as_object_mut().unwrap().remove(key);
            }
        }
        b
    };
    for (body, message) in [
        (detail("instructions", None), INSTRUCTIONS_REQUIRED),
        (
            detail("instructions", Some(Value::Null)),
            INSTRUCTIONS_REQUIRED,
        ),
        (detail("store", None), STORE_REQUIRED),
        (detail("store", Some(json!(true))), STORE_REQUIRED),
        (detail("stream", None), STREAM_REQUIRED),
        (detail("stream", Some(json!(false))), STREAM_REQUIRED),
        (
            detail("temperature", Some(json!(0.2))),
            "Unsupported parameter: temperature",
        ),
        (
            detail("max_output_tokens", Some(json!(10))),
            "Unsupported parameter: max_output_tokens",
        ),
    ] {
        let reply = responses_as(&up, &t, &[], &body).await;
        assert_eq!(reply.status, 400, "{body}");
        assert_eq!(reply.json()["detail"], message, "{body}");
    }
    assert_eq!(up.codex_responses(), 0, "refusals are not served calls");
    // Everything right: the Responses stream and the usage headers.
    let reply = responses_as(&up, &t, &[], &body).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("text/event-stream"));
    assert_eq!(reply.header("x-codex-plan-type"), Some("plus"));
    assert_eq!(reply.header("x-codex-primary-window-minutes"), Some("300"));
    assert!(reply.header("x-codex-secondary-reset-at").is_some());
    let events = reply.sse();
    assert_eq!(
        events.first().unwrap().event.as_deref(),
        Some("response.created")
    );
    assert_eq!(
        events.last().unwrap().event.as_deref(),
        Some("response.completed")
    );
    assert_eq!(up.codex_responses(), 1);
    // An expired token, then every token.
    up.codex_expire(&t.access_token);
    let reply = responses_as(&up, &t, &[], &body).await;
    assert_eq!(
        (reply.status, reply.json()["error"]["code"].clone()),
        (401, json!("token_expired"))
    );
    assert_eq!(responses_as(&up, &other, &[], &body).await.status, 200);
    up.codex_expire_all();
    assert_eq!(responses_as(&up, &other, &[], &body).await.status, 401);
    // Short-lived tokens on request.
    up.codex_set_expires_in(60);
    let short = up.codex_issue("b@example.com");
    assert!(short.expires_at <= now() + 60);
    assert_eq!(responses_as(&up, &short, &[], &body).await.status, 200);
}

#[tokio::test]
async fn an_exhausted_account_gets_usage_limit_reached_and_streams_can_fail_late() {
    let up = upstream().await;
    let t = up.codex_issue("x@example.com");
    let fine = up.codex_issue("y@example.com");
    let reset = now() + 900;
    up.codex_exhaust("x@example.com", reset);
    let reply = responses_as(&up, &t, &[], &codex_body()).await;
    assert_eq!(reply.status, 429, "{}", reply.text());
    let error = &reply.json()["error"];
    assert_eq!(error["type"], "usage_limit_reached");
    assert_eq!(error["resets_at"], reset);
    let left = error["resets_in_seconds"].as_u64().unwrap();
    assert!((895..=900).contains(&left), "{left}");
    assert_eq!(reply.header("x-codex-primary-used-percent"), Some("100"));
    assert_eq!(
        responses_as(&up, &fine, &[], &codex_body()).await.status,
        200
    );
    // A scripted late failure: 200, started, then response.failed.
    up.codex_fail_next_stream(
        "context_length_exceeded",
        "Your input exceeds the context window of this model.",
    );
    let reply = responses_as(&up, &fine, &[], &codex_body()).await;
    assert_eq!(reply.status, 200);
    let events = reply.sse();
    let names: Vec<&str> = events.iter().filter_map(|e| e.event.as_deref()).collect();
    assert_eq!(
        names,
        [
            "response.created",
            "response.in_progress",
            "response.failed"
        ]
    );
    let failed = events.last().unwrap().json();
    assert_eq!(failed["response"]["status"], "failed");
    assert_eq!(
        failed["response"]["error"]["code"],
        "context_length_exceeded"
    );
    // One call only.
    let reply = responses_as(&up, &fine, &[], &codex_body()).await;
    assert_eq!(
        reply.sse().last().unwrap().event.as_deref(),
        Some("response.completed")
    );
    assert_eq!(up.codex_counts(), (0, 0, 0, 4));
}

#[tokio::test]
async fn models_and_usage_need_a_live_token() {
    let up = upstream().await;
    up.codex_set_plan("pro@example.com", "pro");
    let t = up.codex_issue("pro@example.com");
    let auth = format!("Bearer {}", t.access_token);
    let headers = [
        ("authorization", auth.as_str()),
        ("chatgpt-account-id", t.account_id.as_str()),
    ];
    let models_url = format!("{}/models", up.codex_base_url());
    assert_eq!(
        get(&models_url, &headers).await.status,
        400,
        "no client_version"
    );
    let models = get(&format!("{models_url}?client_version=0.158.0"), &headers).await;
    assert_eq!(models.status, 200, "{}", models.text());
    let slugs: Vec<String> = models.json()["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["slug"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        slugs.contains(&"gpt-5.5".to_owned()) && slugs.contains(&"codex-auto-review".to_owned())
    );
    assert_eq!(
        get(
            &format!("{models_url}?client_version=0.158.0"),
            &headers[..1]
        )
        .await
        .status,
        403,
        "the account header is required here too"
    );
    let usage_url = format!("{}/backend-api/wham/usage", up.base_url());
    let usage = get(&usage_url, &headers).await;
    assert_eq!(usage.status, 200, "{}", usage.text());
    let v = usage.json();
    assert_eq!(v["plan_type"], "pro");
    assert_eq!(
        v["rate_limit"]["primary_window"]["limit_window_seconds"],
        18_000
    );
    assert_eq!(
        v["rate_limit"]["secondary_window"]["limit_window_seconds"],
        604_800
    );
    assert_eq!(v["credits"]["balance"], "0");
    assert!(v["additional_rate_limits"][0]["rate_limit"]["primary_window"].is_object());
    up.codex_exhaust("pro@example.com", now() + 60);
    let v = get(&usage_url, &headers).await.json();
    assert_eq!(v["rate_limit"]["primary_window"]["used_percent"], 100);
    assert_eq!(get(&usage_url, &[]).await.status, 401);
}
