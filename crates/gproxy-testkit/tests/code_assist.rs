//! The Google Code Assist mock refuses what Google refuses: the OAuth
//! consent and token endpoint of the Gemini CLI and Antigravity clients,
//! project discovery with onboarding, the generate envelope, the tools'
//! user agents, quota exhaustion, verification and bans.
#![cfg(test)]

mod common;

use common::*;
use gproxy_testkit::MockUpstream;
use gproxy_testkit::claude_oauth::s256;
use gproxy_testkit::code_assist::{
    ANTIGRAVITY_CLIENT_ID, CodeAssistClient, GEMINICLI_AUTHCODE_REDIRECT, GEMINICLI_CLIENT_ID,
    GEMINICLI_CLIENT_SECRET, ProjectMode, TOS_MESSAGE,
};
use serde_json::{Value, json};

const GCLI_UA: &str = "GeminiCLI/0.55.1/gemini-2.5-pro (linux; x64; terminal)";
const AG_UA: &str = "antigravity/hub/2.9.1 darwin/arm64";
const SCOPE: &str =
    "https://www.googleapis.com/auth/cloud-platform https://www.googleapis.com/auth/userinfo.email";
const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

async fn post_form(up: &MockUpstream, fields: &[(&str, &str)]) -> Reply {
    send(
        http::Method::POST,
        &up.google_token_url(),
        &[FORM],
        form(fields),
    )
    .await
}

fn authorize_url(up: &MockUpstream, extra: &[(&str, &str)]) -> String {
    let mut fields = vec![
        ("response_type", "code"),
        ("client_id", GEMINICLI_CLIENT_ID),
        ("redirect_uri", GEMINICLI_AUTHCODE_REDIRECT),
        ("scope", SCOPE),
        ("state", "st 1"),
    ];
    fields.extend_from_slice(extra);
    format!("{}?{}", up.google_authorize_url(), form(&fields))
}

/// Consents with PKCE and returns the code.
async fn code(up: &MockUpstream, verifier: &str, extra: &[(&str, &str)]) -> String {
    let challenge = s256(verifier);
    let mut params = vec![
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    params.extend_from_slice(extra);
    let reply = get(&authorize_url(up, &params), &[]).await;
    assert_eq!(reply.status, 302, "{}", reply.text());
    let location = reply.header("location").unwrap().to_owned();
    assert!(
        location.starts_with(GEMINICLI_AUTHCODE_REDIRECT),
        "{location}"
    );
    assert!(location.contains("&state=st%201"), "{location}");
    let code = location
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    code.replace("%2F", "/")
}

async fn exchange(up: &MockUpstream, code: &str, verifier: &str) -> Reply {
    post_form(
        up,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", GEMINICLI_AUTHCODE_REDIRECT),
            ("client_id", GEMINICLI_CLIENT_ID),
            ("client_secret", GEMINICLI_CLIENT_SECRET),
            ("code_verifier", verifier),
        ],
    )
    .await
}

async fn call(up: &MockUpstream, method: &str, token: &str, ua: &str, body: &Value) -> Reply {
    let auth = format!("Bearer {token}");
    post(
        &format!("{}/v1internal:{method}", up.base_url()),
        &[("authorization", auth.as_str()), ("user-agent", ua)],
        body,
    )
    .await
}

fn envelope(project: &str) -> Value {
    json!({
        "model": "gemini-2.5-flash",
        "project": project,
        "user_prompt_id": "0123456789abcdef0123456789abcdef",
        "request": { "contents": [{ "role": "user", "parts": [{ "text": "hi" }] }] }
    })
}

fn jwt_email(token: &str) -> String {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    claims["email"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn consent_checks_the_client_redirect_scope_and_pkce_method() {
    let up = upstream().await;
    let bad_client = authorize_url(&up, &[]).replace(GEMINICLI_CLIENT_ID, "nope");
    assert_eq!(
        get(&bad_client, &[]).await.json()["error"],
        "invalid_client"
    );
    let elsewhere = authorize_url(&up, &[]).replace(
        &enc(GEMINICLI_AUTHCODE_REDIRECT),
        &enc("https://evil.example/cb"),
    );
    let reply = get(&elsewhere, &[]).await;
    assert_eq!(
        (reply.status, reply.json()["error"].as_str()),
        (400, Some("redirect_uri_mismatch"))
    );
    // Antigravity's client has no paste page, only loopback redirects.
    let antigravity = authorize_url(&up, &[]).replace(GEMINICLI_CLIENT_ID, ANTIGRAVITY_CLIENT_ID);
    assert_eq!(get(&antigravity, &[]).await.status, 400);
    let loopback = antigravity.replace(
        &enc(GEMINICLI_AUTHCODE_REDIRECT),
        &enc("http://localhost:51121/oauth-callback"),
    );
    assert_eq!(get(&loopback, &[]).await.status, 302);
    let no_scope = authorize_url(&up, &[]).replace(&enc(SCOPE), "email");
    assert_eq!(get(&no_scope, &[]).await.json()["error"], "invalid_scope");
    let bad_method = authorize_url(
        &up,
        &[("code_challenge", "c"), ("code_challenge_method", "S512")],
    );
    assert_eq!(
        get(&bad_method, &[]).await.json()["error"],
        "invalid_request"
    );
}

#[tokio::test]
async fn the_code_exchange_needs_the_secret_the_verifier_and_is_single_use() {
    let up = upstream().await;
    up.google_login_as("dev@example.com");
    let verifier = "v".repeat(43);
    let offline = [("access_type", "offline"), ("prompt", "consent")];
    let c = code(&up, &verifier, &offline).await;
    let base = [
        ("grant_type", "authorization_code"),
        ("code", c.as_str()),
        ("redirect_uri", GEMINICLI_AUTHCODE_REDIRECT),
        ("client_id", GEMINICLI_CLIENT_ID),
        ("code_verifier", verifier.as_str()),
    ];
    let reply = post_form(&up, &base).await;
    assert_eq!(
        (reply.status, reply.json()["error_description"].as_str()),
        (400, Some("client_secret is missing."))
    );
    let mut wrong = base.to_vec();
    wrong.push(("client_secret", "GOCSPX-wrong"));
    let reply = post_form(&up, &wrong).await;
    assert_eq!(
        (reply.status, reply.json()["error"].as_str()),
        (401, Some("invalid_client"))
    );
    // Refused exchanges did not spend the code; a wrong verifier does.
    let reply = exchange(&up, &c, &"w".repeat(43)).await;
    assert_eq!(reply.json()["error_description"], "Invalid code verifier.");
    assert_eq!(
        exchange(&up, &c, &verifier).await.json()["error"],
        "invalid_grant"
    );

    let c = code(&up, &verifier, &offline).await;
    let answer = exchange(&up, &c, &verifier).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let answer = answer.json();
    assert!(
        answer["access_token"]
            .as_str()
            .unwrap()
            .starts_with("ya29.")
    );
    assert!(answer["refresh_token"].as_str().unwrap().starts_with("1//"));
    assert_eq!(answer["token_type"], "Bearer");
    assert_eq!(answer["expires_in"], 3599);
    assert_eq!(
        jwt_email(answer["id_token"].as_str().unwrap()),
        "dev@example.com"
    );
    assert_eq!(
        exchange(&up, &c, &verifier).await.json()["error_description"],
        "Malformed auth code."
    );
    assert_eq!(up.google_exchanges(), 1);

    // Consent again without prompt=consent, or without offline access: no
    // refresh token.
    let c = code(&up, &verifier, &[("access_type", "offline")]).await;
    assert!(
        exchange(&up, &c, &verifier)
            .await
            .json()
            .get("refresh_token")
            .is_none()
    );
    let c = code(&up, &verifier, &[("prompt", "consent")]).await;
    assert!(
        exchange(&up, &c, &verifier)
            .await
            .json()
            .get("refresh_token")
            .is_none()
    );
}

#[tokio::test]
async fn refresh_does_not_rotate_and_revoked_tokens_are_invalid_grant() {
    let up = upstream().await;
    let issued = up.google_issue("r@example.com", CodeAssistClient::GeminiCli);
    let refresh = |token: String, client: CodeAssistClient| {
        let up = &up;
        async move {
            post_form(
                up,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &token),
                    ("client_id", client.client_id()),
                    ("client_secret", client.client_secret()),
                ],
            )
            .await
        }
    };
    for _ in 0..2 {
        let reply = refresh(issued.refresh_token.clone(), CodeAssistClient::GeminiCli).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        let answer = reply.json();
        assert!(
            answer.get("refresh_token").is_none(),
            "Google does not rotate"
        );
        let fresh = answer["access_token"].as_str().unwrap();
        assert_ne!(fresh, issued.access_token);
        let info = get(
            &up.google_userinfo_url(),
            &[("authorization", &format!("Bearer {fresh}"))],
        )
        .await;
        assert_eq!(info.json()["email"], "r@example.com");
    }
    assert_eq!(up.google_refreshes(), 2);
    let other = refresh(issued.refresh_token.clone(), CodeAssistClient::Antigravity).await;
    assert_eq!(
        (other.status, other.json()["error"].as_str()),
        (401, Some("unauthorized_client"))
    );
    up.google_revoke_refresh(&issued.refresh_token);
    let gone = refresh(issued.refresh_token.clone(), CodeAssistClient::GeminiCli).await;
    assert_eq!(gone.status, 400);
    assert_eq!(
        gone.json(),
        json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
    );
    assert_eq!(up.google_refreshes(), 2);
    // The service-account grant still goes to its own handler.
    let jwt = post_form(
        &up,
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", "x.y.z"),
        ],
    )
    .await;
    assert_eq!(jwt.status, 400);
    assert_eq!(up.token_refusals(), 1);
}

#[tokio::test]
async fn discovery_onboards_a_free_tier_account_through_an_operation() {
    let up = upstream().await;
    up.google_set_project(
        "free@example.com",
        ProjectMode::Onboard {
            tier: "free-tier".into(),
            polls: 2,
        },
    );
    let t = up
        .google_issue("free@example.com", CodeAssistClient::GeminiCli)
        .access_token;
    let metadata = json!({"ideType": "IDE_UNSPECIFIED", "platform": "PLATFORM_UNSPECIFIED", "pluginType": "GEMINI"});
    assert_eq!(
        call(&up, "loadCodeAssist", &t, GCLI_UA, &json!({}))
            .await
            .status,
        400
    );
    let load = call(
        &up,
        "loadCodeAssist",
        &t,
        GCLI_UA,
        &json!({"metadata": metadata}),
    )
    .await
    .json();
    assert!(load.get("cloudaicompanionProject").is_none() && load.get("currentTier").is_none());
    assert_eq!(load["allowedTiers"][0]["id"], "free-tier");
    assert_eq!(load["allowedTiers"][0]["isDefault"], true);

    let with_project =
        json!({"tierId": "free-tier", "cloudaicompanionProject": "my-proj", "metadata": metadata});
    let refused = call(&up, "onboardUser", &t, GCLI_UA, &with_project).await;
    assert_eq!(
        (refused.status, refused.json()["error"]["status"].as_str()),
        (400, Some("FAILED_PRECONDITION"))
    );
    let wrong_tier = json!({"tierId": "standard-tier", "metadata": metadata});
    assert_eq!(
        call(&up, "onboardUser", &t, GCLI_UA, &wrong_tier)
            .await
            .status,
        400
    );

    let onboard = json!({"tierId": "free-tier", "metadata": metadata});
    let first = call(&up, "onboardUser", &t, GCLI_UA, &onboard).await.json();
    assert_eq!(first["done"], false);
    let name = first["name"].as_str().unwrap().to_owned();
    let op_url = format!("{}/v1internal/{name}", up.base_url());
    let auth = format!("Bearer {t}");
    let second = get(&op_url, &[("authorization", &auth)]).await.json();
    assert_eq!(second["done"], false);
    let done = get(&op_url, &[("authorization", &auth)]).await.json();
    assert_eq!(done["done"], true);
    let project = done["response"]["cloudaicompanionProject"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        up.google_project_of("free@example.com").as_deref(),
        Some(project.as_str())
    );
    assert_eq!(up.google_onboard_calls(), 3);
    let load = call(
        &up,
        "loadCodeAssist",
        &t,
        GCLI_UA,
        &json!({"metadata": metadata}),
    )
    .await
    .json();
    assert_eq!(load["cloudaicompanionProject"], project.as_str());
    assert_eq!(load["currentTier"]["id"], "free-tier");
    // Someone else's operation is not found.
    let other = up
        .google_issue("other@example.com", CodeAssistClient::GeminiCli)
        .access_token;
    let reply = get(&op_url, &[("authorization", &format!("Bearer {other}"))]).await;
    assert_eq!(reply.status, 404);

    up.google_set_project(
        "nope@example.com",
        ProjectMode::Ineligible {
            reason_code: "UNSUPPORTED_CLIENT".into(),
            message: "This client is no longer supported.".into(),
        },
    );
    let t = up
        .google_issue("nope@example.com", CodeAssistClient::GeminiCli)
        .access_token;
    let load = call(
        &up,
        "loadCodeAssist",
        &t,
        GCLI_UA,
        &json!({"metadata": metadata}),
    )
    .await
    .json();
    assert_eq!(
        load["ineligibleTiers"][0]["reasonCode"],
        "UNSUPPORTED_CLIENT"
    );
}

#[tokio::test]
async fn generate_requires_the_bearer_the_user_agent_and_the_envelope() {
    let up = upstream().await;
    let issued = up.google_issue("g@example.com", CodeAssistClient::GeminiCli);
    let t = issued.access_token.as_str();
    let project = up.google_project_of("g@example.com").unwrap();
    let ok = envelope(&project);

    let reply = call(&up, "generateContent", "ya29.unknown", GCLI_UA, &ok).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.json()["error"]["status"], "UNAUTHENTICATED");
    assert_eq!(
        call(&up, "generateContent", t, AG_UA, &ok).await.status,
        403
    );
    assert_eq!(
        call(&up, "generateContent", t, "curl/8", &ok).await.status,
        403
    );
    // A plain Gemini body (not wrapped) names an unknown field.
    let plain = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]});
    let reply = call(&up, "generateContent", t, GCLI_UA, &plain).await;
    assert_eq!(reply.status, 400);
    assert!(
        reply.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Unknown name \"contents\"")
    );
    let mut wrong = ok.clone();
    wrong["project"] = json!("someone-elses");
    let reply = call(&up, "generateContent", t, GCLI_UA, &wrong).await;
    assert_eq!(reply.status, 403);
    assert_eq!(
        reply.json()["error"]["details"][0]["reason"],
        "CONSUMER_INVALID"
    );
    for (path, value) in [
        ("/user_prompt_id", Value::Null),
        ("/request/contents/0/role", Value::Null),
        ("/request/store", json!(false)),
        ("/request/contents", json!([])),
    ] {
        let mut bad = ok.clone();
        let (parent, key) = path.rsplit_once('/').unwrap();
        let target = if parent.is_empty() {
            &mut bad
        } else {
            bad.pointer_mut(parent).unwrap()
        };
        if value.is_null() {
            target.as_object_mut().unwrap().remove(key);
        } else {
            target[key] = value;
        }
        let reply = call(&up, "generateContent", t, GCLI_UA, &bad).await;
        assert_eq!((path, reply.status), (path, 400), "{}", reply.text());
        assert_eq!(reply.json()["error"]["status"], "INVALID_ARGUMENT");
    }
    assert_eq!(up.google_generate_calls(), 0);

    let reply = call(&up, "generateContent", t, GCLI_UA, &ok).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let answer = reply.json();
    assert!(answer["traceId"].is_string());
    assert_eq!(
        answer["response"]["candidates"][0]["content"]["parts"][0]["text"],
        "Hello from mock gemini-2.5-flash"
    );
    assert_eq!(answer["response"]["usageMetadata"]["promptTokenCount"], 11);
    assert_eq!(up.google_last_envelope().unwrap(), ok);

    let auth = format!("Bearer {t}");
    let stream = post(
        &format!("{}/v1internal:streamGenerateContent?alt=sse", up.base_url()),
        &[("authorization", auth.as_str()), ("user-agent", GCLI_UA)],
        &ok,
    )
    .await;
    assert_eq!(stream.header("content-type"), Some("text/event-stream"));
    let events = stream.sse();
    assert_eq!(events.len(), 3);
    for event in &events {
        let data = event.json();
        assert!(data["response"]["candidates"].is_array(), "{data}");
        assert!(data["traceId"].is_string());
    }
    assert_eq!(
        events[2].json()["response"]["candidates"][0]["finishReason"],
        "STOP"
    );
    assert_eq!(up.google_generate_calls(), 2);

    up.google_expire(t);
    assert_eq!(
        call(&up, "generateContent", t, GCLI_UA, &ok).await.status,
        401
    );
}

#[tokio::test]
async fn antigravity_envelopes_carry_its_fields() {
    let up = upstream().await;
    let t = up
        .google_issue("ag@example.com", CodeAssistClient::Antigravity)
        .access_token;
    let project = up.google_project_of("ag@example.com").unwrap();
    let mut body = envelope(&project);
    assert_eq!(
        call(&up, "generateContent", &t, AG_UA, &body).await.status,
        400
    );
    body["userAgent"] = json!("antigravity");
    body["requestType"] = json!("agent");
    body["requestId"] = json!("agent-00000000-0000-4000-8000-000000000000");
    body["request"]["sessionId"] = json!("-123");
    assert_eq!(
        call(&up, "generateContent", &t, GCLI_UA, &body)
            .await
            .status,
        403
    );
    let reply = call(&up, "generateContent", &t, AG_UA, &body).await;
    assert_eq!(reply.status, 200, "{}", reply.text());

    let models = call(&up, "fetchAvailableModels", &t, AG_UA, &json!({}))
        .await
        .json();
    assert_eq!(
        models["models"]["gemini-3-flash"]["quotaInfo"]["remainingFraction"],
        0.75
    );
    assert!(models["models"]["chat_20706"].is_object());
}

#[tokio::test]
async fn exhausted_quota_validation_and_bans_are_refused_like_google() {
    let up = upstream().await;
    let t = up
        .google_issue("q@example.com", CodeAssistClient::GeminiCli)
        .access_token;
    let project = up.google_project_of("q@example.com").unwrap();
    let reset = gproxy_now() + 7_384;
    up.google_exhaust("q@example.com", "gemini-2.5-flash", reset);
    let reply = call(&up, "generateContent", &t, GCLI_UA, &envelope(&project)).await;
    assert_eq!(reply.status, 429);
    let error = &reply.json()["error"];
    assert_eq!(error["status"], "RESOURCE_EXHAUSTED");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("Your quota will reset after 2h3m"),
        "{error}"
    );
    assert_eq!(error["details"][0]["reason"], "QUOTA_EXHAUSTED");
    assert_eq!(error["details"][0]["domain"], "cloudcode-pa.googleapis.com");
    assert!(
        error["details"][1]["retryDelay"]
            .as_str()
            .unwrap()
            .starts_with("738")
    );
    let mut other_model = envelope(&project);
    other_model["model"] = json!("gemini-2.5-pro");
    assert_eq!(
        call(&up, "generateContent", &t, GCLI_UA, &other_model)
            .await
            .status,
        200
    );

    let quota = call(
        &up,
        "retrieveUserQuota",
        &t,
        GCLI_UA,
        &json!({"project": project}),
    )
    .await
    .json();
    let flash = quota["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["modelId"] == "gemini-2.5-flash")
        .unwrap()
        .clone();
    assert_eq!(flash["remainingFraction"], 0.0);
    assert_eq!(
        call(
            &up,
            "retrieveUserQuota",
            &t,
            GCLI_UA,
            &json!({"project": "x"})
        )
        .await
        .status,
        403
    );

    up.google_require_validation("q@example.com", true);
    let reply = call(&up, "generateContent", &t, GCLI_UA, &other_model).await;
    assert_eq!(reply.status, 403);
    assert_eq!(
        reply.json()["error"]["details"][0]["reason"],
        "VALIDATION_REQUIRED"
    );
    up.google_require_validation("q@example.com", false);
    up.google_ban("q@example.com");
    let reply = call(&up, "generateContent", &t, GCLI_UA, &other_model).await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.json()["error"]["message"], TOS_MESSAGE);
}

#[tokio::test]
async fn count_tokens_takes_only_the_request() {
    let up = upstream().await;
    let t = up
        .google_issue("c@example.com", CodeAssistClient::GeminiCli)
        .access_token;
    let ok = json!({"request": {"model": "models/gemini-2.5-pro", "contents": [{"role": "user", "parts": [{"text": "hello"}]}]}});
    let reply = call(&up, "countTokens", &t, GCLI_UA, &ok).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["totalTokens"], ok.to_string().len() / 4);
    let mut with_project = ok.clone();
    with_project["project"] = json!("p");
    assert_eq!(
        call(&up, "countTokens", &t, GCLI_UA, &with_project)
            .await
            .status,
        400
    );
    let bare_model =
        json!({"request": {"model": "gemini-2.5-pro", "contents": ok["request"]["contents"]}});
    assert_eq!(
        call(&up, "countTokens", &t, GCLI_UA, &bare_model)
            .await
            .status,
        400
    );
    assert_eq!(
        call(&up, "unknownMethod", &t, GCLI_UA, &ok).await.status,
        404
    );
}

fn gproxy_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
