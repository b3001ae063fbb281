//! The claudecode mock: authorize redirect, PKCE code exchange, rotating
//! refresh tokens with reuse detection, the OAuth Messages checks, usage
//! and quota exhaustion.
#![cfg(test)]

mod common;

use common::*;
use gproxy_testkit::MockUpstream;
use gproxy_testkit::claude_oauth::{
    CLIENT_ID, EXPIRED_MESSAGE, OAUTH_BETA, THIRD_PARTY_MESSAGE, s256,
};
use serde_json::{Value, json};

const UA: (&str, &str) = ("user-agent", "claude-cli/2.1.258 (external, cli)");
const JSON: (&str, &str) = ("content-type", "application/json");
const REDIRECT: &str = "https://platform.claude.com/oauth/code/callback";

fn authorize_url(up: &MockUpstream, challenge: &str, state: &str) -> String {
    format!(
        "{}?code=true&client_id={CLIENT_ID}&response_type=code&redirect_uri=https%3A%2F%2Fplatform.claude.com%2Foauth%2Fcode%2Fcallback&scope=user%3Aprofile+user%3Ainference&code_challenge={challenge}&code_challenge_method=S256&state={state}",
        up.claude_authorize_url()
    )
}

/// Authorizes and returns the code from the redirect.
async fn code(up: &MockUpstream, verifier: &str, state: &str) -> String {
    let reply = get(&authorize_url(up, &s256(verifier), state), &[]).await;
    assert_eq!(reply.status, 302, "{}", reply.text());
    let location = reply.header("location").unwrap().to_owned();
    assert!(location.starts_with(REDIRECT), "{location}");
    assert!(location.ends_with(&format!("&state={state}")), "{location}");
    let code = location.split("code=").nth(1).unwrap();
    code.split('&').next().unwrap().to_owned()
}

async fn exchange(up: &MockUpstream, code: &str, verifier: &str, state: &str) -> Reply {
    let body = json!({
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": CLIENT_ID,
        "code_verifier": verifier,
        "state": state,
    });
    post(&up.claude_token_url(), &[UA, JSON], &body).await
}

async fn refresh(up: &MockUpstream, token: &str) -> Reply {
    let body = json!({
        "grant_type": "refresh_token",
        "client_id": CLIENT_ID,
        "refresh_token": token,
        "scope": "user:profile user:inference",
    });
    post(&up.claude_token_url(), &[UA, JSON], &body).await
}

fn oauth_body(stream: bool) -> Value {
    json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 16,
        "stream": stream,
        "system": [{ "type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.258.abc; cc_entrypoint=cli; cch=00000;" }],
        "metadata": { "user_id": "{\"device_id\":\"d\",\"account_uuid\":\"\",\"session_id\":\"s\"}" },
        "messages": [{ "role": "user", "content": "hi" }]
    })
}

async fn messages(up: &MockUpstream, token: &str, beta: bool, body: &Value) -> Reply {
    let auth = format!("Bearer {token}");
    let mut headers = vec![("authorization", auth.as_str()), CLAUDE_VERSION];
    if beta {
        headers.push(("anthropic-beta", "claude-code-20250219,oauth-2025-04-20"));
    }
    post(
        &format!("{}/v1/messages?beta=true", up.base_url()),
        &headers,
        body,
    )
    .await
}

#[tokio::test]
async fn login_exchanges_a_pkce_code_once() {
    let up = upstream().await;
    up.claude_login_as("alice@example.com");
    let verifier = "verifier-verifier-verifier-verifier-verifier-1";
    let code = code(&up, verifier, "st1").await;
    // A wrong verifier is refused and spends the code.
    let bad = exchange(&up, &code, "another-verifier", "st1").await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["error"], "invalid_grant");
    let code = self::code(&up, verifier, "st1").await;
    let ok = exchange(&up, &code, verifier, "st1").await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    let v = ok.json();
    assert!(
        v["access_token"]
            .as_str()
            .unwrap()
            .starts_with("sk-ant-oat01-")
    );
    assert!(
        v["refresh_token"]
            .as_str()
            .unwrap()
            .starts_with("sk-ant-ort01-")
    );
    assert_eq!(v["expires_in"], 28_800);
    assert_eq!(v["account"]["email_address"], "alice@example.com");
    assert!(v["organization"]["uuid"].is_string());
    // The code is single use.
    let again = exchange(&up, &code, verifier, "st1").await;
    assert_eq!(again.status, 400);
    assert_eq!(up.claude_exchanges(), 1);
}

#[tokio::test]
async fn authorize_refuses_plain_pkce_and_unknown_clients() {
    let up = upstream().await;
    let url = authorize_url(&up, "c", "s").replace("S256", "plain");
    assert_eq!(get(&url, &[]).await.status, 400);
    let url = authorize_url(&up, "c", "s").replace(CLIENT_ID, "someone-else");
    assert_eq!(get(&url, &[]).await.json()["error"], "invalid_client");
}

#[tokio::test]
async fn refresh_rotates_and_detects_reuse() {
    let up = upstream().await;
    let first = up.claude_issue("bob@example.com");
    let reply = refresh(&up, &first.refresh_token).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let second = reply.json()["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second, first.refresh_token);
    let reused = refresh(&up, &first.refresh_token).await;
    assert_eq!(reused.status, 400);
    assert_eq!(reused.json()["error"], "invalid_grant");
    assert_eq!(up.claude_reuses(), 1);
    assert_eq!(refresh(&up, &second).await.status, 200);
    assert_eq!(up.claude_refreshes(), 2);
    // No scope: the real endpoint's "Invalid request format".
    let body =
        json!({ "grant_type": "refresh_token", "client_id": CLIENT_ID, "refresh_token": "x" });
    let reply = post(&up.claude_token_url(), &[UA, JSON], &body).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["error_description"], "Invalid request format");
    // No user agent: Cloudflare's 429.
    let reply = post(&up.claude_token_url(), &[JSON], &body).await;
    assert_eq!(reply.status, 429);
    // Revoked: invalid_grant.
    let t = up.claude_issue("bob@example.com");
    up.claude_revoke_refresh(&t.refresh_token);
    assert_eq!(
        refresh(&up, &t.refresh_token).await.json()["error"],
        "invalid_grant"
    );
}

#[tokio::test]
async fn messages_need_the_oauth_beta_billing_block_and_a_live_token() {
    let up = upstream().await;
    let t = up.claude_issue("carol@example.com");
    let reply = messages(&up, &t.access_token, false, &oauth_body(false)).await;
    assert_eq!(reply.status, 401);
    assert_eq!(
        reply.json()["error"]["message"],
        "OAuth authentication is currently not supported."
    );
    let mut plain = oauth_body(false);
    plain["system"] = json!("You are a helpful assistant.");
    let reply = messages(&up, &t.access_token, true, &plain).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["error"]["message"], THIRD_PARTY_MESSAGE);
    let reply = messages(&up, &t.access_token, true, &oauth_body(false)).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.header("anthropic-ratelimit-unified-status"),
        Some("allowed")
    );
    assert!(reply.json()["content"][0]["text"].is_string());
    let reply = messages(&up, &t.access_token, true, &oauth_body(true)).await;
    assert_eq!(reply.status, 200);
    assert!(
        reply
            .sse()
            .iter()
            .any(|e| e.event.as_deref() == Some("message_stop"))
    );
    up.claude_expire(&t.access_token);
    let reply = messages(&up, &t.access_token, true, &oauth_body(false)).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.json()["error"]["message"], EXPIRED_MESSAGE);
    let reply = messages(&up, "sk-ant-oat01-unknown", true, &oauth_body(false)).await;
    assert_eq!(reply.status, 401);
}

#[tokio::test]
async fn an_exhausted_account_gets_429_until_the_reset() {
    let up = upstream().await;
    let t = up.claude_issue("dave@example.com");
    let reset = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    up.claude_exhaust("dave@example.com", reset);
    let reply = messages(&up, &t.access_token, true, &oauth_body(false)).await;
    assert_eq!(reply.status, 429);
    assert_eq!(reply.json()["error"]["type"], "rate_limit_error");
    assert_eq!(
        reply.header("anthropic-ratelimit-unified-5h-status"),
        Some("rejected")
    );
    assert_eq!(
        reply.header("anthropic-ratelimit-unified-5h-reset"),
        Some(reset.to_string().as_str())
    );
    let auth = format!("Bearer {}", t.access_token);
    let usage = get(
        &format!("{}/api/oauth/usage", up.base_url()),
        &[("authorization", &auth), ("anthropic-beta", OAUTH_BETA), UA],
    )
    .await;
    assert_eq!(usage.status, 200);
    assert_eq!(usage.json()["five_hour"]["utilization"], 100.0);
    let profile = get(
        &format!("{}/api/oauth/profile", up.base_url()),
        &[("authorization", &auth)],
    )
    .await;
    assert_eq!(profile.json()["account"]["email"], "dave@example.com");
    // Another account is unaffected.
    let other = up.claude_issue("erin@example.com");
    assert_eq!(
        messages(&up, &other.access_token, true, &oauth_body(false))
            .await
            .status,
        200
    );
}
