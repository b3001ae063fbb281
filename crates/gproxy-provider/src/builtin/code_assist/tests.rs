//! Unit tests of the Code Assist kinds: settings, URLs, auth, envelope,
//! discovery, imports, failures, models and quota.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gproxy_credential::oauth::{OAuthCredential, TokenSet};
use gproxy_credential::{Credential, Secret};
use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use super::*;
use crate::ProviderRegistry;

fn login(project: Option<&str>) -> Credential {
    let mut account = Map::new();
    account.insert("email".into(), json!("a@example.com"));
    if let Some(p) = project {
        account.insert("project_id".into(), json!(p));
    }
    Credential::OAuth(Box::new(OAuthCredential::new(
        TokenSet {
            access_token: Secret::new("ya29.token".into()),
            refresh_token: Some(Secret::new("1//refresh".into())),
            expires_at_ms: 0,
            scope: None,
        },
        account,
    )))
}

fn generate(model: &str, stream: bool) -> Endpoint<'_> {
    Endpoint::GeminiGenerate {
        version: "v1beta",
        model,
        stream,
        alt_sse: false,
    }
}

fn prepare(p: &CodeAssist, endpoint: &Endpoint<'_>, body: Value) -> (Value, HeaderMap) {
    let mut headers = HeaderMap::new();
    let out = p
        .prepare_request(
            endpoint,
            &login(Some("proj-1")),
            &mut headers,
            Bytes::from(body.to_string()),
        )
        .unwrap();
    (serde_json::from_slice(&out).unwrap(), headers)
}

fn jwt(claims: &Value) -> String {
    format!(
        "{}.{}.sig",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

#[test]
fn default_oauth_clients_are_the_clis() {
    let g = CodeAssist::geminicli();
    let spec = g.oauth().unwrap();
    assert_eq!(
        spec.client_id,
        "681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com"
    );
    assert_eq!(
        spec.client_secret.as_deref(),
        Some("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")
    );
    assert_eq!(spec.redirect_uri, "https://codeassist.google.com/authcode");
    assert_eq!(spec.token_url, "https://oauth2.googleapis.com/token");
    assert_eq!(spec.token_body, TokenBody::Form);
    assert!(spec.pkce);
    assert_eq!(spec.refresh_lead_secs, 300);
    assert_eq!(
        spec.scopes,
        "https://www.googleapis.com/auth/cloud-platform https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile"
    );
    let url = spec.authorize_url("st", Some("ch"));
    assert!(
        url.starts_with("https://accounts.google.com/o/oauth2/v2/auth?"),
        "{url}"
    );
    for part in [
        "code_challenge=ch",
        "code_challenge_method=S256",
        "access_type=offline",
        "prompt=consent",
        "state=st",
    ] {
        assert!(url.contains(part), "{part} in {url}");
    }
    // The secret goes with the exchange and the refresh.
    let (body, ct) = spec.refresh_body("1//r");
    assert_eq!(ct, "application/x-www-form-urlencoded");
    let body = String::from_utf8(body).unwrap();
    assert!(
        body.contains("client_secret=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"),
        "{body}"
    );

    let a = CodeAssist::antigravity();
    let spec = a.oauth().unwrap();
    assert_eq!(
        spec.client_id,
        "1071006060591-tmhssin2h21lcre235vtolojh4g403ep.apps.googleusercontent.com"
    );
    assert_eq!(
        spec.client_secret.as_deref(),
        Some("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")
    );
    assert_eq!(spec.redirect_uri, "http://localhost:51121/oauth-callback");
    assert!(
        spec.scopes
            .ends_with("/auth/cclog https://www.googleapis.com/auth/experimentsandconfigs")
    );
    assert!(spec.pkce);
}

#[test]
fn settings_override_and_are_validated_with_field_paths() {
    let r = ProviderRegistry::builtin();
    let p = r
        .build(
            "geminicli",
            &json!({
                "client_id": "cid", "client_secret": "", "scopes": ["s1", "s2"],
                "token_url": "http://m/token", "authorize_url": "http://m/o/oauth2/v2/auth",
                "redirect_uri": "http://127.0.0.1:9/cb", "pkce": false, "refresh_lead_secs": 60,
                "user_agent": "X/{version}/{model}", "version": "9", "api_client": "",
                "models": ["gemini-2.5-pro"]
            }),
        )
        .unwrap();
    assert!(p.allows_model("gemini-2.5-pro") && !p.allows_model("other"));
    let spec = p.oauth().unwrap();
    assert_eq!(
        (
            spec.client_id.as_str(),
            spec.client_secret.as_deref(),
            spec.scopes.as_str()
        ),
        ("cid", None, "s1 s2")
    );
    assert_eq!(spec.token_url, "http://m/token");
    assert!(!spec.pkce);
    assert_eq!(spec.refresh_lead_secs, 60);
    let mut headers = HeaderMap::new();
    headers.insert("x-goog-api-client", "client-own".parse().unwrap());
    p.apply_auth(&login(None), &mut headers).unwrap();
    assert_eq!(headers["user-agent"], "X/9/gemini-2.5-pro");
    assert!(
        !headers.contains_key("x-goog-api-client"),
        "`\"\"` sends none"
    );

    for (settings, field) in [
        (json!({"nope": 1}), "settings"),
        (json!({"scopes": []}), "scopes"),
        (json!({"scopes": ["a", "b c"]}), "scopes[1]"),
        (json!({"token_url": "ftp://x"}), "token_url"),
        (json!({"load_base_url": "not a url"}), "load_base_url"),
        (json!({"project": "123456789"}), "project"),
        (json!({"project": "Bad_Project"}), "project"),
        (json!({"refresh_lead_secs": 3600}), "refresh_lead_secs"),
        (json!({"client_id": ""}), "client_id"),
        (json!({"user_agent": "a\nb"}), "user_agent"),
        (json!({"version": "1\u{7f}"}), "version"),
    ] {
        match r.build("antigravity", &settings) {
            Err(ProviderError::InvalidSettings { kind, field: f, .. }) => {
                assert_eq!((kind, f.as_str()), ("antigravity", field), "{settings}");
            }
            other => panic!("{settings}: {other:?}"),
        }
    }
}

#[test]
fn upstream_urls_are_v1internal_methods_and_streams_are_sse() {
    for p in [CodeAssist::geminicli(), CodeAssist::antigravity()] {
        let base = "http://m/b/";
        assert_eq!(
            p.upstream_url(base, &generate("g", false)).unwrap(),
            "http://m/b/v1internal:generateContent"
        );
        assert_eq!(
            p.upstream_url(base, &generate("g", true)).unwrap(),
            "http://m/b/v1internal:streamGenerateContent?alt=sse"
        );
        let count = Endpoint::GeminiCountTokens {
            version: "v1beta",
            model: "g",
        };
        assert_eq!(
            p.upstream_url(base, &count).unwrap(),
            "http://m/b/v1internal:countTokens"
        );
        let embed = Endpoint::GeminiEmbed {
            version: "v1beta",
            model: "e",
            batch: false,
        };
        assert!(matches!(
            p.upstream_url(base, &embed),
            Err(ProviderError::UnsupportedMethod {
                method: "embedContent",
                ..
            })
        ));
        assert!(matches!(
            p.upstream_url(base, &Endpoint::OpenAiChat),
            Err(ProviderError::UnsupportedProtocol { .. })
        ));
        assert_eq!(p.protocols(), &[Protocol::Gemini]);
        assert_eq!(p.response_envelope(), Some("response"));
        assert_eq!(p.count_tokens_api(), Some(CountTokensApi::Gemini));
    }
    assert_eq!(
        CodeAssist::geminicli().default_base_url(),
        "https://cloudcode-pa.googleapis.com"
    );
    assert_eq!(
        CodeAssist::antigravity().default_base_url(),
        "https://daily-cloudcode-pa.googleapis.com"
    );
}

#[test]
fn auth_is_the_logins_bearer_with_the_kinds_identity() {
    let g = CodeAssist::geminicli();
    let mut headers = HeaderMap::new();
    headers.insert("user-agent", "my-client/1".parse().unwrap());
    g.apply_auth(&login(None), &mut headers).unwrap();
    assert_eq!(headers["authorization"], "Bearer ya29.token");
    assert!(headers["authorization"].is_sensitive());
    assert_eq!(
        headers["user-agent"],
        "GeminiCLI/0.55.1/gemini-2.5-pro (linux; x64; terminal)"
    );
    assert_eq!(headers["x-goog-api-client"], "gl-node/22.20.0");

    let a = CodeAssist::antigravity();
    let mut headers = HeaderMap::new();
    headers.insert("x-goog-api-client", "google-genai-sdk/1".parse().unwrap());
    a.apply_auth(&login(None), &mut headers).unwrap();
    assert_eq!(headers["user-agent"], "antigravity/hub/2.9.1 darwin/arm64");
    assert!(!headers.contains_key("x-goog-api-client"));

    for p in [g, a] {
        let key = Credential::ApiKey {
            key: Secret::new("sk-x".into()),
        };
        for refused in [key, Credential::None] {
            let mut headers = HeaderMap::new();
            let err = p.apply_auth(&refused, &mut headers).unwrap_err();
            assert!(matches!(err, ProviderError::InvalidCredential { .. }));
            assert!(headers.is_empty());
        }
    }
}

#[test]
fn geminicli_wraps_the_body_and_cleans_it_up() {
    let g = CodeAssist::geminicli();
    let body = json!({
        "contents": [{"parts": [{"text": "hi"}]}, {"role": "model", "parts": [{"text": "yo"}]}],
        "store": true,
        "generationConfig": {"maxOutputTokens": 100, "temperature": 0.5, "logprobs": 2, "responseLogprobs": true},
        "tools": [{"googleSearch": {}}, {"functionDeclarations": [{"name": "f"}]}],
        "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]
    });
    let (out, headers) = prepare(&g, &generate("gemini-2.5-flash", true), body);
    assert_eq!(out["model"], "gemini-2.5-flash");
    assert_eq!(out["project"], "proj-1");
    let id = out["user_prompt_id"].as_str().unwrap();
    assert!(
        id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit()),
        "{id}"
    );
    let request = &out["request"];
    assert_eq!(request["contents"][0]["role"], "user");
    assert_eq!(request["contents"][1]["role"], "model");
    assert!(request.get("store").is_none());
    assert_eq!(request["generationConfig"], json!({"temperature": 0.5}));
    assert_eq!(
        request["tools"],
        json!([{"functionDeclarations": [{"name": "f"}]}])
    );
    assert!(
        request["safetySettings"].is_array(),
        "geminicli keeps safety settings"
    );
    assert_eq!(
        out.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["model", "project", "request", "user_prompt_id"]
    );
    assert_eq!(
        headers["user-agent"],
        "GeminiCLI/0.55.1/gemini-2.5-flash (linux; x64; terminal)"
    );

    // Built-in tools alone stay; a fresh prompt id each time.
    let body = json!({"contents": [{"role": "user", "parts": [{"text": "q"}]}], "tools": [{"googleSearch": {}}]});
    let (again, _) = prepare(&g, &generate("m", false), body);
    assert_eq!(again["request"]["tools"], json!([{"googleSearch": {}}]));
    assert_ne!(again["user_prompt_id"], out["user_prompt_id"]);
}

#[test]
fn the_project_comes_from_the_settings_or_the_login() {
    let r = ProviderRegistry::builtin();
    let overridden = r
        .build("geminicli", &json!({"project": "cfg-proj"}))
        .unwrap();
    let body = Bytes::from(json!({"contents": []}).to_string());
    let out = overridden
        .prepare_request(
            &generate("m", false),
            &login(Some("login-proj")),
            &mut HeaderMap::new(),
            body.clone(),
        )
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&out).unwrap()["project"],
        "cfg-proj"
    );
    let g = CodeAssist::geminicli();
    let err = g
        .prepare_request(
            &generate("m", false),
            &login(None),
            &mut HeaderMap::new(),
            body,
        )
        .unwrap_err();
    assert!(
        matches!(err, ProviderError::InvalidCredential { kind: "geminicli", reason } if reason.contains("project")),
        "{err}"
    );
}

#[test]
fn antigravity_adds_its_fields_and_a_stable_session() {
    let a = CodeAssist::antigravity();
    let body = |first: &str| {
        json!({
            "contents": [{"role": "user", "parts": [{"text": first}]}, {"role": "model", "parts": [{"text": "ok"}]}],
            "generationConfig": {"maxOutputTokens": 64, "temperature": 1},
            "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]
        })
    };
    let (one, headers) = prepare(&a, &generate("gemini-3-flash", true), body("hello"));
    assert_eq!(one["userAgent"], "antigravity");
    assert_eq!(one["requestType"], "agent");
    let request_id = one["requestId"].as_str().unwrap();
    assert!(
        request_id.starts_with("agent-") && request_id.len() == 6 + 36,
        "{request_id}"
    );
    assert_eq!(one["project"], "proj-1");
    assert!(one["user_prompt_id"].is_string());
    let request = &one["request"];
    assert!(request.get("safetySettings").is_none());
    assert_eq!(request["generationConfig"], json!({"temperature": 1}));
    let session = request["sessionId"].as_str().unwrap();
    assert!(
        session.starts_with('-') && session[1..].parse::<u64>().is_ok(),
        "{session}"
    );
    assert_eq!(headers["user-agent"], "antigravity/hub/2.9.1 darwin/arm64");

    let (two, _) = prepare(&a, &generate("gemini-3-flash", false), body("hello"));
    assert_eq!(
        two["request"]["sessionId"], session,
        "same conversation, same session"
    );
    assert_ne!(two["requestId"], one["requestId"]);
    let (other, _) = prepare(&a, &generate("gemini-3-flash", false), body("bye"));
    assert_ne!(other["request"]["sessionId"], session);
    let mut own = body("hello");
    own["sessionId"] = json!("-42");
    let (kept, _) = prepare(&a, &generate("gemini-3-flash", false), own);
    assert_eq!(kept["request"]["sessionId"], "-42");

    let (claude, _) = prepare(&a, &generate("claude-sonnet-4-6", false), body("hello"));
    assert_eq!(claude["request"]["generationConfig"]["maxOutputTokens"], 64);
    assert_eq!(
        claude["request"]["toolConfig"]["functionCallingConfig"]["mode"],
        "VALIDATED"
    );
    let (image, _) = prepare(&a, &generate("gemini-3.1-flash-image", false), body("draw"));
    assert_eq!(image["requestType"], "image_gen");
    assert!(
        image["requestId"]
            .as_str()
            .unwrap()
            .starts_with("image_gen/")
    );
    assert!(image["requestId"].as_str().unwrap().ends_with("/12"));
    assert!(image["request"].get("sessionId").is_none());
}

#[test]
fn count_tokens_takes_models_slash_id_and_contents_only() {
    for p in [CodeAssist::geminicli(), CodeAssist::antigravity()] {
        let count = Endpoint::GeminiCountTokens {
            version: "v1beta",
            model: "gemini-2.5-pro",
        };
        for body in [
            json!({"contents": [{"parts": [{"text": "x"}]}]}),
            json!({"generateContentRequest": {"model": "models/gemini-2.5-pro", "contents": [{"parts": [{"text": "x"}]}]}}),
        ] {
            // No project is needed for a count.
            let out = p
                .prepare_request(
                    &count,
                    &login(None),
                    &mut HeaderMap::new(),
                    Bytes::from(body.to_string()),
                )
                .unwrap();
            let out: Value = serde_json::from_slice(&out).unwrap();
            assert_eq!(
                out,
                json!({"request": {"model": "models/gemini-2.5-pro",
                    "contents": [{"role": "user", "parts": [{"text": "x"}]}]}})
            );
        }
    }
}

#[test]
fn a_body_that_is_not_an_object_is_passed_on() {
    let g = CodeAssist::geminicli();
    let out = g
        .prepare_request(
            &generate("m", false),
            &login(Some("p")),
            &mut HeaderMap::new(),
            Bytes::from_static(b"[1]"),
        )
        .unwrap();
    assert_eq!(&out[..], b"[1]");
}

#[test]
fn discovery_is_per_kind() {
    let g = CodeAssist::geminicli().code_assist_discovery().unwrap();
    assert_eq!(
        g.metadata,
        json!({"ideType": "IDE_UNSPECIFIED", "platform": "PLATFORM_UNSPECIFIED", "pluginType": "GEMINI"})
    );
    assert_eq!(g.fallback_tier, "legacy-tier");
    assert_eq!(
        g.userinfo_url,
        "https://www.googleapis.com/oauth2/v1/userinfo?alt=json"
    );
    assert_eq!((g.max_polls, g.poll_interval_ms), (5, 2_000));
    assert!(!g.snake_case);
    assert_eq!(
        (g.load_base_url.as_str(), g.onboard_base_url.as_str()),
        ("", "")
    );
    assert_eq!(g.headers[0].0, "user-agent");
    assert!(g.headers[0].1.starts_with("GeminiCLI/"));

    let r = ProviderRegistry::builtin();
    let a = r
        .build(
            "antigravity",
            &json!({"load_base_url": "https://cloudcode-pa.googleapis.com", "userinfo_url": "http://m/ui"}),
        )
        .unwrap()
        .code_assist_discovery()
        .unwrap();
    assert_eq!(a.metadata["ideType"], "ANTIGRAVITY");
    assert_eq!(a.metadata["pluginType"], "GEMINI");
    assert_eq!(a.fallback_tier, "free-tier");
    assert_eq!(a.load_base_url, "https://cloudcode-pa.googleapis.com");
    assert_eq!(a.onboard_base_url, "");
    assert_eq!(a.userinfo_url, "http://m/ui");
}

#[test]
fn the_exchange_answer_gives_the_email_of_its_id_token() {
    let g = CodeAssist::geminicli();
    let answer = json!({"access_token": "a", "id_token": jwt(&json!({"email": "u@gmail.com"}))});
    assert_eq!(g.oauth_account(&answer)["email"], "u@gmail.com");
    assert!(g.oauth_account(&json!({"access_token": "a"})).is_empty());
}

#[test]
fn geminicli_imports_oauth_creds_json() {
    let g = CodeAssist::geminicli();
    // As Gemini CLI writes it: `expiry_date` is a float.
    let file = format!(
        r#"{{"access_token":"ya29.a0","refresh_token":"1//0g","scope":"https://www.googleapis.com/auth/cloud-platform","token_type":"Bearer","id_token":"{}","expiry_date":1769159945362.7791}}"#,
        jwt(&json!({"email": "me@example.com"}))
    );
    let imported = g.import_credential(&file, 0).unwrap().unwrap();
    assert_eq!(imported.tokens.access_token.expose(), "ya29.a0");
    assert_eq!(imported.tokens.refresh_token.unwrap().expose(), "1//0g");
    assert_eq!(imported.tokens.expires_at_ms, 1_769_159_945_362);
    assert_eq!(imported.account["email"], "me@example.com");
    assert!(
        imported.account.get("project_id").is_none(),
        "discovery finds it"
    );

    let err = |input: &str| g.import_credential(input, 0).unwrap().unwrap_err().path;
    assert_eq!(err("not json"), "");
    assert_eq!(err(r#"{"access_token":"a"}"#), "refresh_token");
    assert_eq!(err(r#"{"refresh_token":"r"}"#), "access_token");
    assert_eq!(
        err(r#"{"access_token":"a","refresh_token":"r","token_type":"mac"}"#),
        "token_type"
    );
    assert_eq!(
        err(r#"{"access_token":"a","refresh_token":"r","expiry_date":"soon"}"#),
        "expiry_date"
    );
    assert_eq!(
        err(
            r#"{"type":"external_account_authorized_user","access_token":"a","refresh_token":"r"}"#
        ),
        "type"
    );
    let no_expiry = g
        .import_credential(r#"{"access_token":"a","refresh_token":"r"}"#, 0)
        .unwrap()
        .unwrap();
    assert_eq!(no_expiry.tokens.expires_at_ms, 0, "refreshed on first use");
}

#[test]
fn antigravity_imports_cliproxyapi_files() {
    let a = CodeAssist::antigravity();
    let file = json!({
        "type": "antigravity", "access_token": "ya29.b", "refresh_token": "1//r",
        "expired": "2026-08-22T10:00:00Z", "timestamp": 1, "expires_in": 3599,
        "email": "ag@example.com", "project_id": "proj-ag"
    });
    let imported = a.import_credential(&file.to_string(), 0).unwrap().unwrap();
    assert_eq!(imported.tokens.expires_at_ms, 1_787_392_800_000);
    assert_eq!(imported.account["email"], "ag@example.com");
    assert_eq!(imported.account["project_id"], "proj-ag");
    let file =
        json!({"access_token": "a", "refresh_token": "r", "timestamp": 1_000, "expires_in": 60});
    let imported = a.import_credential(&file.to_string(), 0).unwrap().unwrap();
    assert_eq!(imported.tokens.expires_at_ms, 61_000);

    let err = |input: Value| {
        a.import_credential(&input.to_string(), 0)
            .unwrap()
            .unwrap_err()
            .path
    };
    assert_eq!(
        err(json!({"type": "claude", "access_token": "a", "refresh_token": "r"})),
        "type"
    );
    assert_eq!(err(json!({"refresh_token": "r"})), "access_token");
    assert_eq!(
        err(json!({"access_token": "a", "refresh_token": "r", "expired": "later"})),
        "expired"
    );
    assert_eq!(
        err(json!({"access_token": "a", "refresh_token": "r", "timestamp": "x", "expires_in": 1})),
        "timestamp"
    );
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap()
}

fn classify_body(code: u16, body: &Value) -> FailureClass {
    CodeAssist::antigravity().classify_failure(
        status(code),
        &HeaderMap::new(),
        body.to_string().as_bytes(),
    )
}

fn rate_limit(secs: f64) -> FailureClass {
    FailureClass::RateLimit {
        retry_after: Some(Duration::from_secs_f64(secs)),
        per_model: true,
        global: false,
    }
}

#[test]
fn quota_exhausted_cools_the_model_down_until_the_reset() {
    let exhausted = json!({"error": {"code": 429, "status": "RESOURCE_EXHAUSTED",
    "message": "You have exhausted your capacity on this model. Your quota will reset after 2h3m4s.",
    "details": [
        {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "QUOTA_EXHAUSTED",
         "domain": "cloudcode-pa.googleapis.com",
         "metadata": {"model": "gemini-3-flash", "quotaResetDelay": "2h3m4.5s"}},
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7384.5s"}
    ]}});
    assert_eq!(classify_body(429, &exhausted), rate_limit(7384.5));
    // Without RetryInfo: the reset delay of the ErrorInfo.
    let mut no_retry = exhausted.clone();
    no_retry["error"]["details"].as_array_mut().unwrap().pop();
    assert_eq!(classify_body(429, &no_retry), rate_limit(7384.5));
    // Without either: the reset in the message.
    let message_only = json!({"error": {"code": 429, "status": "RESOURCE_EXHAUSTED",
        "message": "You have exhausted your capacity on this model. Your quota will reset after 2h3m4s.",
        "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "QUOTA_EXHAUSTED"}]}});
    assert_eq!(classify_body(429, &message_only), rate_limit(7384.0));
    // A reset time stamp.
    let at = (chrono::Utc::now() + chrono::Duration::seconds(600)).to_rfc3339();
    let stamped = json!({"error": {"code": 429, "message": "quota", "details": [
        {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "QUOTA_EXHAUSTED",
         "metadata": {"quotaResetTimeStamp": at}}]}});
    let FailureClass::RateLimit {
        retry_after: Some(wait),
        per_model: true,
        global: false,
    } = classify_body(429, &stamped)
    else {
        panic!("not a per-model rate limit");
    };
    assert!(
        wait > Duration::from_secs(590) && wait <= Duration::from_secs(600),
        "{wait:?}"
    );
    // A daily quota with no delay: a rate limit without a known wait.
    let daily = json!({"error": {"code": 429, "message": "Quota exceeded", "details": [
        {"@type": "type.googleapis.com/google.rpc.QuotaFailure",
         "violations": [{"quotaId": "GenerateRequestsPerDayPerProjectPerModel"}]}]}});
    assert_eq!(
        classify_body(429, &daily),
        FailureClass::RateLimit {
            retry_after: None,
            per_model: true,
            global: false
        }
    );
}

#[test]
fn short_rate_limits_carry_their_delay() {
    let short = json!({"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "Rate limited.",
        "details": [
            {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE_LIMIT_EXCEEDED",
             "domain": "cloudcode-pa.googleapis.com"},
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "0.847s"}]}});
    assert_eq!(classify_body(429, &short), rate_limit(0.847));
    assert_eq!(classify_body(499, &short), rate_limit(0.847));
    let text =
        json!({"error": {"code": 429, "message": "Resource exhausted. Please retry in 900ms."}});
    assert_eq!(classify_body(429, &text), rate_limit(0.9));
    // The same error wrapped in an array, as some stream errors come.
    assert_eq!(classify_body(429, &json!([short])), rate_limit(0.847));
}

#[test]
fn refusals_capacity_and_the_rest() {
    let validation = json!({"error": {"code": 403, "status": "PERMISSION_DENIED", "message": "Verify your account",
        "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "VALIDATION_REQUIRED",
                     "domain": "cloudcode-pa.googleapis.com",
                     "metadata": {"validation_link": "https://accounts.google.com/v"}}]}});
    assert_eq!(classify_body(403, &validation), FailureClass::Auth);
    let tos = json!({"error": {"code": 403, "status": "PERMISSION_DENIED",
        "message": "This service has been disabled in this account for violation of Terms of Service."}});
    assert_eq!(classify_body(403, &tos), FailureClass::Auth);
    assert_eq!(classify_body(401, &json!({})), FailureClass::Auth);
    let capacity = json!({"error": {"code": 503, "status": "UNAVAILABLE", "message": "No capacity available for model",
        "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "MODEL_CAPACITY_EXHAUSTED"}]}});
    assert_eq!(classify_body(503, &capacity), FailureClass::Degraded);
    assert_eq!(classify_body(429, &capacity), FailureClass::Degraded);
    assert_eq!(classify_body(404, &json!({})), FailureClass::Client);
    assert_eq!(classify_body(400, &json!({})), FailureClass::Client);
    assert_eq!(classify_body(500, &json!({})), FailureClass::Degraded);
    for junk in [
        &b""[..],
        b"\xff",
        b"[]",
        b"{\"error\":1}",
        b"{\"error\":{\"details\":[1,null]}}",
    ] {
        let _ = CodeAssist::geminicli().classify_failure(status(429), &HeaderMap::new(), junk);
    }
}

#[test]
fn antigravity_lists_models_from_fetch_available_models() {
    let a = CodeAssist::antigravity();
    assert_eq!(
        a.models_url("http://m/b", None).as_deref(),
        Some("http://m/b/v1internal:fetchAvailableModels")
    );
    assert_eq!(a.models_body(), Some(&b"{}"[..]));
    let body = json!({"models": {
        "gemini-3-flash": {"displayName": "Gemini 3 Flash", "maxTokens": 1_048_576,
            "quotaInfo": {"remainingFraction": 0.25, "resetTime": "2026-08-22T10:00:00Z"}},
        "chat_20706": {"displayName": "internal"},
        "claude-sonnet-4-6": {"displayName": "Claude Sonnet 4.6"},
        "tab_flash_lite_preview": {}
    }, "defaultAgentModelId": "gemini-3-flash"});
    let page = a.parse_models(body.to_string().as_bytes()).unwrap();
    let ids: Vec<_> = page.models.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["claude-sonnet-4-6", "gemini-3-flash"]);
    assert_eq!(
        page.models[1].display_name.as_deref(),
        Some("Gemini 3 Flash")
    );
    assert!(a.parse_models(b"{\"models\":[]}").is_err());
    assert!(!a.fallback_models().is_empty());

    let quota = a
        .parse_quota(&HeaderMap::new(), body.to_string().as_bytes())
        .unwrap();
    assert_eq!(quota.windows.len(), 1);
    assert_eq!(quota.windows[0].model.as_deref(), Some("gemini-3-flash"));
    assert_eq!(quota.windows[0].used_percent, Some(75.0));
    assert_eq!(quota.windows[0].resets_at, Some(1_787_392_800));
    assert_eq!(quota.raw, body);
    let call = a.quota_call("http://m/b", &login(Some("p-1"))).unwrap();
    assert_eq!(call.method, Method::POST);
    assert_eq!(call.url, "http://m/b/v1internal:fetchAvailableModels");
    assert_eq!(
        serde_json::from_slice::<Value>(&call.body.unwrap()).unwrap(),
        json!({"project": "p-1"})
    );
}

#[test]
fn geminicli_reads_retrieve_user_quota() {
    let g = CodeAssist::geminicli();
    assert_eq!(g.models_url("http://m", None), None);
    assert_eq!(g.models_body(), None);
    assert!(g.parse_models(b"{}").is_err());
    assert!(g.fallback_models().contains(&"gemini-2.5-pro"));
    let call = g.quota_call("http://m/b/", &login(Some("p-1"))).unwrap();
    assert_eq!(call.url, "http://m/b/v1internal:retrieveUserQuota");
    assert_eq!(
        serde_json::from_slice::<Value>(&call.body.unwrap()).unwrap(),
        json!({"project": "p-1"})
    );
    assert!(
        g.quota_call("http://m", &login(None)).is_none(),
        "no project, no quota"
    );

    let body = json!({"buckets": [
        {"modelId": "gemini-2.5-pro", "tokenType": "REQUESTS", "remainingFraction": 0.9,
         "remainingAmount": "90", "resetTime": "2026-08-22T10:00:00Z"},
        {"modelId": "gemini-2.5-flash", "tokenType": "TOKENS", "remainingFraction": 0}
    ]});
    let quota = g
        .parse_quota(&HeaderMap::new(), body.to_string().as_bytes())
        .unwrap();
    assert_eq!(quota.windows[0].name, "gemini-2.5-pro");
    assert_eq!(quota.windows[0].used_percent, Some(10.0));
    assert_eq!(quota.windows[0].resets_at, Some(1_787_392_800));
    assert_eq!(quota.windows[1].name, "gemini-2.5-flash tokens");
    assert_eq!(quota.windows[1].used_percent, Some(100.0));
    assert_eq!(quota.windows[1].resets_at, None);
    assert!(g.parse_quota(&HeaderMap::new(), b"nope").is_err());
}

proptest::proptest! {
    /// The readers of upstream answers and imported files never panic.
    #[test]
    fn readers_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256), text in ".{0,200}") {
        let (g, a) = (CodeAssist::geminicli(), CodeAssist::antigravity());
        for p in [&g, &a] {
            let _ = p.classify_failure(status(429), &HeaderMap::new(), &bytes);
            let _ = p.parse_models(&bytes);
            let _ = p.parse_quota(&HeaderMap::new(), &bytes);
            let _ = p.import_credential(&text, 0);
            let message = json!({"error": {"code": 429, "message": text}}).to_string();
            let _ = p.classify_failure(status(429), &HeaderMap::new(), message.as_bytes());
        }
    }

    /// Any JSON object body is wrapped, whatever it holds.
    #[test]
    fn any_object_body_is_wrapped(key in "[a-zA-Z_]{1,12}", text in ".{0,40}") {
        let mut tool = Map::new();
        tool.insert(key.clone(), json!({}));
        let mut body = Map::new();
        body.insert("contents".into(), json!([{"parts": [{"text": text}]}]));
        body.insert("tools".into(), json!([tool]));
        body.insert(key, json!(text));
        let body = Value::Object(body);
        for p in [CodeAssist::geminicli(), CodeAssist::antigravity()] {
            let (out, _) = prepare(&p, &generate("m", true), body.clone());
            proptest::prop_assert!(out["request"].is_object());
        }
    }
}
