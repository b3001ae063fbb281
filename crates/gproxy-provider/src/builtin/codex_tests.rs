//! Unit tests for [`super::Codex`]: the body rules, the identity headers,
//! failure classes with reset times, model and quota parsing, settings
//! validation with field paths, and the URLs derived from the issuer and
//! the base URL.

use super::*;
use gproxy_credential::Secret;
use gproxy_credential::oauth::{OAuthCredential, TokenSet};

fn login() -> Credential {
    crate::oauth::test_login("eyJ.x.y", "rt", &[("account_id", "acct-1")])
}

#[test]
fn the_body_is_shaped_for_the_codex_backend() {
    let p = Codex::default();
    let mut headers = HeaderMap::new();
    let body = br#"{"model":"gpt-5.5","input":[{"role":"system","content":"Be brief."},{"role":"user","content":"hi"}],"temperature":0.2,"max_output_tokens":10,"store":true,"service_tier":"flex","include":["file_search_call.results"],"metadata":{"a":"b"},"reasoning":{"effort":"low"}}"#;
    let out = p
        .prepare_request(
            &Endpoint::OpenAiResponses,
            &login(),
            &mut headers,
            Bytes::from_static(body),
        )
        .unwrap();
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["stream"], true);
    assert_eq!(v["store"], false);
    assert_eq!(v["instructions"], "Be brief.");
    assert_eq!(v["input"].as_array().unwrap().len(), 1);
    for gone in [
        "temperature",
        "max_output_tokens",
        "service_tier",
        "metadata",
    ] {
        assert!(v.get(gone).is_none(), "{gone} kept");
    }
    assert_eq!(
        v["include"],
        json!(["file_search_call.results", "reasoning.encrypted_content"])
    );
    assert_eq!(v["reasoning"]["effort"], "low");
    assert_eq!(headers["accept"], "text/event-stream");
    // A string input and no instructions.
    let out = p
        .prepare_request(
            &Endpoint::OpenAiResponses,
            &login(),
            &mut headers,
            Bytes::from_static(br#"{"model":"gpt-5.5","input":"hello","service_tier":"priority"}"#),
        )
        .unwrap();
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["instructions"], "");
    assert_eq!(v["input"][0]["content"][0]["text"], "hello");
    assert_eq!(v["service_tier"], "priority");
}

#[test]
fn auth_sends_the_account_and_the_cli_identity() {
    let p = Codex::default();
    let mut h = HeaderMap::new();
    h.insert("user-agent", HeaderValue::from_static("client/1"));
    p.apply_auth(&login(), &mut h).unwrap();
    assert_eq!(h["authorization"], "Bearer eyJ.x.y");
    assert_eq!(h["chatgpt-account-id"], "acct-1");
    assert_eq!(h["originator"], "codex_cli_rs");
    assert!(
        h["user-agent"]
            .to_str()
            .unwrap()
            .starts_with("codex_cli_rs/0.158.0")
    );
    let key = Credential::ApiKey {
        key: Secret::new("sk".into()),
    };
    assert!(p.apply_auth(&key, &mut h).is_err());
}

#[test]
fn usage_limit_cools_down_until_the_reset() {
    let p = Codex::default();
    let reset = unix_now() + 3600;
    let body = format!(
        r#"{{"error":{{"type":"usage_limit_reached","message":"The usage limit has been reached","plan_type":"plus","resets_at":{reset},"resets_in_seconds":3600}}}}"#
    );
    let FailureClass::RateLimit {
        retry_after,
        per_model,
        ..
    } = p.classify_failure(
        StatusCode::TOO_MANY_REQUESTS,
        &HeaderMap::new(),
        body.as_bytes(),
    )
    else {
        panic!("not a rate limit");
    };
    assert!((3595..=3600).contains(&retry_after.unwrap().as_secs()));
    assert!(!per_model);
    let ctx = br#"{"error":{"code":"context_length_exceeded","message":"too long"}}"#;
    assert_eq!(
        p.classify_failure(StatusCode::BAD_REQUEST, &HeaderMap::new(), ctx),
        FailureClass::Client
    );
    assert_eq!(
        p.classify_failure(StatusCode::UNAUTHORIZED, &HeaderMap::new(), b"{}"),
        FailureClass::Auth
    );
}

#[test]
fn models_quota_and_urls() {
    let p = Codex::from_settings(&json!({"issuer": "http://127.0.0.1:9/"})).unwrap();
    let spec = p.oauth().unwrap();
    assert_eq!(spec.token_url, "http://127.0.0.1:9/oauth/token");
    assert_eq!(
        spec.device.as_ref().unwrap().redirect_uri,
        "http://127.0.0.1:9/deviceauth/callback"
    );
    assert!(
        spec.authorize_url("s", Some("c"))
            .contains("originator=codex_cli_rs")
    );
    let base = "http://127.0.0.1:9/backend-api/codex";
    assert_eq!(
        p.models_url(base, None).unwrap(),
        "http://127.0.0.1:9/backend-api/codex/models?client_version=0.158.0"
    );
    assert_eq!(
        p.quota_call(base, &login()).unwrap().url,
        "http://127.0.0.1:9/backend-api/wham/usage"
    );
    let page = p
        .parse_models(br#"{"models":[{"slug":"gpt-5.5","display_name":"GPT-5.5"}]}"#)
        .unwrap();
    assert_eq!(page.models[0].id, "gpt-5.5");
    let q = p
        .parse_quota(
            &HeaderMap::new(),
            br#"{"plan_type":"pro","rate_limit":{"primary_window":{"used_percent":40,"limit_window_seconds":18000,"reset_at":1796414400},"secondary_window":{"used_percent":5,"limit_window_seconds":604800,"reset_after_seconds":100}}}"#,
        )
        .unwrap();
    assert_eq!(q.plan.as_deref(), Some("pro"));
    assert_eq!(q.windows[0].name, "five_hour");
    assert_eq!(q.windows[0].used_percent, Some(40.0));
    assert_eq!(q.windows[1].name, "weekly");
    let err = Codex::from_settings(&json!({"issuer": "x"})).unwrap_err();
    assert!(err.to_string().contains("`issuer`"), "{err}");
}

#[test]
fn account_facts_come_from_the_id_token() {
    use base64::Engine as _;
    let enc = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let id = format!(
        "{}.{}.sig",
        enc(json!({"alg": "none"})),
        enc(
            json!({"email": "a@b.c", "https://api.openai.com/auth": {"chatgpt_account_id": "acct-9", "chatgpt_plan_type": "plus"}})
        )
    );
    let facts = Codex::default().oauth_account(&json!({ "id_token": id }));
    assert_eq!(facts["email"], "a@b.c");
    assert_eq!(facts["account_id"], "acct-9");
    assert_eq!(facts["plan"], "plus");
}

fn shape(body: Value) -> Value {
    let mut headers = HeaderMap::new();
    let out = Codex::default()
        .prepare_request(
            &Endpoint::OpenAiResponses,
            &login(),
            &mut headers,
            Bytes::from(body.to_string()),
        )
        .unwrap();
    serde_json::from_slice(&out).unwrap()
}

fn classify(status: u16, body: &str) -> FailureClass {
    Codex::default().classify_failure(
        StatusCode::from_u16(status).unwrap(),
        &HeaderMap::new(),
        body.as_bytes(),
    )
}

fn jwt(claims: Value) -> String {
    use base64::Engine as _;
    let enc = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!("{}.{}.sig", enc(json!({"alg": "none"})), enc(claims))
}

#[test]
fn every_refused_parameter_is_removed_and_unknown_fields_are_kept() {
    let mut body = json!({"model": "gpt-5.5", "input": "x", "x_future_field": {"a": 1},
        "parallel_tool_calls": false, "tools": [], "reasoning": {"effort": "high"}});
    for key in REMOVED {
        body[*key] = json!(1);
    }
    body["service_tier"] = json!("default");
    let v = shape(body);
    for key in REMOVED.iter().chain(&["service_tier"]) {
        assert!(v.get(*key).is_none(), "{key} kept");
    }
    assert_eq!(v["x_future_field"], json!({"a": 1}));
    assert_eq!(v["parallel_tool_calls"], false);
    assert_eq!(v["reasoning"]["effort"], "high");
    assert_eq!(v["stream"], true);
    assert_eq!(v["store"], false);
}

#[test]
fn system_messages_fold_into_instructions_after_the_clients_own() {
    let v = shape(json!({"model": "m", "instructions": "Rule one.", "input": [
        {"type": "message", "role": "system", "content": [{"type": "input_text", "text": "Rule two."}, {"type": "input_text", "text": "Rule three."}]},
        {"role": "developer", "content": "Dev note."},
        {"role": "user", "content": "hi"},
        {"role": "system", "content": "Rule four."}
    ]}));
    assert_eq!(
        v["instructions"],
        "Rule one.\n\nRule two.\n\nRule three.\n\nRule four."
    );
    let roles: Vec<&str> = v["input"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["developer", "user"], "developer messages stay");
    // Neither instructions nor system messages: an empty string.
    let v = shape(json!({"model": "m", "input": [{"role": "user", "content": "hi"}]}));
    assert_eq!(v["instructions"], "");
    // A client's `stream: false` and `store: true` are overridden.
    let v = shape(json!({"model": "m", "input": "x", "stream": false, "store": true}));
    assert_eq!(
        (v["stream"].clone(), v["store"].clone()),
        (json!(true), json!(false))
    );
}

#[test]
fn include_keeps_the_clients_entries_once() {
    let v = shape(json!({"model": "m", "input": "x",
        "include": ["reasoning.encrypted_content", "message.output_text.logprobs"]}));
    assert_eq!(
        v["include"],
        json!([
            "reasoning.encrypted_content",
            "message.output_text.logprobs"
        ])
    );
    let v = shape(json!({"model": "m", "input": "x", "include": null}));
    assert_eq!(v["include"], json!(["reasoning.encrypted_content"]));
}

#[test]
fn prepare_request_refuses_api_keys_and_bodies_that_are_not_objects() {
    let p = Codex::default();
    let key = Credential::ApiKey {
        key: Secret::new("sk-x".into()),
    };
    let err = p
        .prepare_request(
            &Endpoint::OpenAiResponses,
            &key,
            &mut HeaderMap::new(),
            Bytes::from_static(b"{}"),
        )
        .unwrap_err();
    assert!(
        matches!(err, ProviderError::InvalidCredential { kind: "codex", .. }),
        "{err}"
    );
    assert!(!err.to_string().contains("sk-x"));
    for body in [&b"[]"[..], b"not json", b""] {
        assert!(
            p.prepare_request(
                &Endpoint::OpenAiResponses,
                &login(),
                &mut HeaderMap::new(),
                Bytes::copy_from_slice(body),
            )
            .is_err(),
            "{body:?}"
        );
    }
}

#[test]
fn only_responses_is_served() {
    let p = Codex::default();
    let base = p.default_base_url().to_owned();
    assert_eq!(base, "https://chatgpt.com/backend-api/codex");
    assert_eq!(
        p.upstream_url(&base, &Endpoint::OpenAiResponses).unwrap(),
        "https://chatgpt.com/backend-api/codex/responses"
    );
    for endpoint in [
        Endpoint::OpenAiChat,
        Endpoint::ClaudeMessages,
        Endpoint::OpenAiInputTokens,
        Endpoint::OpenAiEmbeddings,
    ] {
        assert!(p.upstream_url(&base, &endpoint).is_err(), "{endpoint:?}");
    }
    assert_eq!(p.protocols(), &[Protocol::OpenAiResponses]);
    assert_eq!(p.count_tokens_api(), None);
    assert!(p.requires_credential());
}

#[test]
fn identity_headers_follow_the_settings_and_replace_the_clients() {
    let p = Codex::from_settings(&json!({"originator": "codex-tui", "client_version": "0.146.0"}))
        .unwrap();
    let mut h = HeaderMap::new();
    h.insert("user-agent", HeaderValue::from_static("my-app/1"));
    h.insert("originator", HeaderValue::from_static("my-app"));
    p.apply_auth(&login(), &mut h).unwrap();
    assert_eq!(h["originator"], "codex-tui");
    assert_eq!(
        h["user-agent"],
        "codex-tui/0.146.0 (Debian 13; x86_64) xterm"
    );
    assert_eq!(h.get_all("user-agent").iter().count(), 1);
    assert!(h["authorization"].is_sensitive());
    assert!(
        p.oauth()
            .unwrap()
            .authorize_url("s", Some("c"))
            .contains("originator=codex-tui")
    );
    let ua = "codex_cli_rs/0.158.0 (Mac OS 26.5.0; arm64) iTerm.app/3.6.10";
    let p = Codex::from_settings(&json!({ "user_agent": ua })).unwrap();
    let mut h = HeaderMap::new();
    p.apply_auth(&login(), &mut h).unwrap();
    assert_eq!(h["user-agent"], ua);
    // A login without an account id: no account header (never an empty one).
    let bare = Credential::OAuth(Box::new(OAuthCredential::new(
        TokenSet {
            access_token: Secret::new("at".into()),
            refresh_token: None,
            expires_at_ms: 0,
            scope: None,
        },
        Map::new(),
    )));
    let mut h = HeaderMap::new();
    Codex::default().apply_auth(&bare, &mut h).unwrap();
    assert!(h.get("chatgpt-account-id").is_none());
    assert_eq!(h["authorization"], "Bearer at");
    // Accept is the request's business (prepare_request), not the side calls'.
    assert!(h.get("accept").is_none());
}

#[test]
fn the_oauth_client_is_the_codex_clis() {
    let p = Codex::default();
    let spec = p.oauth().unwrap();
    assert_eq!(
        spec.authorize_url,
        "https://auth.openai.com/oauth/authorize"
    );
    assert_eq!(spec.token_url, "https://auth.openai.com/oauth/token");
    assert_eq!(spec.client_id, "app_EMoamEEZ73f0CkXaXp7hrann");
    assert_eq!(spec.redirect_uri, "http://localhost:1455/auth/callback");
    assert_eq!(spec.scopes, "openid email profile offline_access");
    assert_eq!(spec.refresh_scope.as_deref(), Some("openid profile email"));
    assert_eq!(spec.token_body, TokenBody::Form);
    assert!(spec.pkce);
    assert!(!spec.exchange_sends_state);
    assert_eq!(spec.refresh_lead_secs, 5 * 86_400);
    let url = spec.authorize_url("st", Some("ch"));
    for part in [
        "response_type=code",
        "code_challenge=ch",
        "code_challenge_method=S256",
        "id_token_add_organizations=true",
        "codex_cli_simplified_flow=true",
        "originator=codex_cli_rs",
        "scope=openid%20email%20profile%20offline_access",
    ] {
        assert!(url.contains(part), "{part} not in {url}");
    }
    let device = spec.device.as_ref().unwrap();
    assert_eq!(
        device.usercode_url,
        "https://auth.openai.com/api/accounts/deviceauth/usercode"
    );
    assert_eq!(
        device.token_url,
        "https://auth.openai.com/api/accounts/deviceauth/token"
    );
    assert_eq!(
        device.verification_url,
        "https://auth.openai.com/codex/device"
    );
    assert_eq!(
        device.redirect_uri,
        "https://auth.openai.com/deviceauth/callback"
    );
    let (body, ct) = spec.refresh_body("rt/1");
    assert_eq!(ct, "application/x-www-form-urlencoded");
    assert_eq!(
        String::from_utf8(body).unwrap(),
        "grant_type=refresh_token&refresh_token=rt%2F1&client_id=app_EMoamEEZ73f0CkXaXp7hrann&scope=openid%20profile%20email"
    );
    let p = Codex::from_settings(&json!({"refresh_lead_secs": 60, "client_id": "app_other",
        "scopes": "openid offline_access", "redirect_uri": "http://localhost:9999/cb"}))
    .unwrap();
    let spec = p.oauth().unwrap();
    assert_eq!(spec.refresh_lead_secs, 60);
    assert_eq!(spec.client_id, "app_other");
    assert_eq!(spec.scopes, "openid offline_access");
    assert_eq!(spec.redirect_uri, "http://localhost:9999/cb");
}

#[test]
fn usage_limit_waits_for_resets_at_then_resets_in_seconds() {
    let now = unix_now();
    let wait = |body: String| match classify(429, &body) {
        FailureClass::RateLimit {
            retry_after,
            per_model,
            global,
        } => {
            assert!(!per_model && !global, "{body}");
            retry_after.map(|d| d.as_secs())
        }
        other => panic!("{other:?} for {body}"),
    };
    let at = wait(format!(
        r#"{{"error":{{"type":"usage_limit_reached","resets_at":{},"resets_in_seconds":5}}}}"#,
        now + 1800
    ))
    .unwrap();
    assert!((1795..=1800).contains(&at), "resets_at wins: {at}");
    assert_eq!(
        wait(r#"{"error":{"type":"usage_limit_reached","resets_in_seconds":240}}"#.into()),
        Some(240)
    );
    // The code spelling, and a reset already past: a short wait, not none.
    assert_eq!(
        wait(format!(
            r#"{{"error":{{"code":"usage_limit_reached","resets_at":{}}}}}"#,
            now - 10
        )),
        Some(1)
    );
    // Neither: the cooldown's own default.
    assert_eq!(
        wait(r#"{"error":{"type":"usage_limit_reached"}}"#.into()),
        None
    );
}

#[test]
fn request_scoped_and_auth_failures() {
    for code in ["context_length_exceeded", "previous_response_not_found"] {
        let body = format!(
            r#"{{"error":{{"code":"{code}","message":"m","type":"invalid_request_error"}}}}"#
        );
        assert_eq!(classify(400, &body), FailureClass::Client, "{code}");
        assert_eq!(classify(404, &body), FailureClass::Client, "{code}");
    }
    for body in [
        r#"{"error":{"message":"Your authentication token has been invalidated. Please try signing in again.","type":"invalid_request_error","code":"token_invalidated"}}"#,
        r#"{"detail":"Could not parse your authentication token."}"#,
        "",
    ] {
        assert_eq!(classify(401, body), FailureClass::Auth, "{body}");
    }
    // Otherwise the OpenAI rules: 5xx degraded, other 4xx the client's,
    // a plain 429 a rate limit.
    assert_eq!(classify(502, "<html>"), FailureClass::Degraded);
    assert_eq!(
        classify(400, r#"{"detail":"Instructions are required"}"#),
        FailureClass::Client
    );
    assert!(matches!(
        classify(429, "{}"),
        FailureClass::RateLimit { .. }
    ));
}

#[test]
fn settings_errors_name_their_field() {
    let field = |settings: Value| match Codex::from_settings(&settings).unwrap_err() {
        ProviderError::InvalidSettings { kind, field, .. } => {
            assert_eq!(kind, "codex");
            field
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(field(json!({"issuer": "auth.openai.com"})), "issuer");
    assert_eq!(
        field(json!({"redirect_uri": "localhost:1455"})),
        "redirect_uri"
    );
    assert_eq!(field(json!({"usage_url": ""})), "usage_url");
    assert_eq!(field(json!({"originator": ""})), "originator");
    assert_eq!(field(json!({"user_agent": "a\nb"})), "user_agent");
    assert_eq!(field(json!({"client_version": ""})), "client_version");
    assert_eq!(field(json!({"client_id": "app x"})), "client_id");
    assert_eq!(field(json!({"scopes": " "})), "scopes");
    assert_eq!(
        field(json!({"refresh_lead_secs": 40 * 86_400})),
        "refresh_lead_secs"
    );
    assert_eq!(field(json!({"refresh_lead_secs": "5d"})), "settings");
    assert_eq!(field(json!({"issuer_url": "https://x"})), "settings");
    assert!(Codex::from_settings(&Value::Null).is_ok());
    assert!(Codex::from_settings(&json!({})).is_ok());
    assert_eq!(
        serde_json::to_value(CodexSettings::default()).unwrap(),
        json!({})
    );
    // Through the registry, with the overrides every built-in takes.
    let registry = crate::ProviderRegistry::builtin();
    let p = registry
        .build(
            "codex",
            &json!({"issuer": "http://127.0.0.1:1", "models": ["gpt-5.5"]}),
        )
        .unwrap();
    assert_eq!(p.kind(), "codex");
    assert!(p.allows_model("gpt-5.5") && !p.allows_model("gpt-5.4"));
    assert_eq!(
        p.oauth().unwrap().token_url,
        "http://127.0.0.1:1/oauth/token"
    );
    assert!(registry.build("codex", &json!({"issuer": "nope"})).is_err());
}

#[test]
fn the_usage_url_derives_from_the_base_unless_set() {
    let p = Codex::default();
    let url = |p: &Codex, base: &str| p.quota_call(base, &login()).unwrap().url;
    assert_eq!(
        url(&p, "https://chatgpt.com/backend-api/codex/"),
        "https://chatgpt.com/backend-api/wham/usage"
    );
    assert_eq!(
        url(&p, "http://127.0.0.1:8/backend-api/codex"),
        "http://127.0.0.1:8/backend-api/wham/usage"
    );
    assert_eq!(url(&p, "http://proxy/x"), "http://proxy/x/wham/usage");
    let set = Codex::from_settings(&json!({"usage_url": "http://u/wham/usage"})).unwrap();
    assert_eq!(
        url(&set, "http://127.0.0.1:8/backend-api/codex"),
        "http://u/wham/usage"
    );
    let call = p.quota_call(p.default_base_url(), &login()).unwrap();
    assert_eq!(call.method, http::Method::GET);
    assert_eq!(call.body, None);
    let key = Credential::ApiKey {
        key: Secret::new("sk".into()),
    };
    assert!(p.quota_call(p.default_base_url(), &key).is_none());
}

#[test]
fn windows_are_named_by_their_length_not_their_slot() {
    let p = Codex::default();
    let q = |body: Value| {
        p.parse_quota(&HeaderMap::new(), body.to_string().as_bytes())
            .unwrap()
    };
    // One Pro account reported a single 7-day window in the primary slot.
    let only_weekly = q(json!({"plan_type": "pro", "rate_limit": {
        "primary_window": {"used_percent": 61.5, "limit_window_seconds": 604_800, "reset_at": 1_796_414_400},
        "secondary_window": null}}));
    assert_eq!(only_weekly.windows.len(), 1);
    assert_eq!(only_weekly.windows[0].name, "weekly");
    assert_eq!(only_weekly.windows[0].used_percent, Some(61.5));
    assert_eq!(only_weekly.windows[0].resets_at, Some(1_796_414_400));
    assert_eq!(only_weekly.windows[0].window_seconds, Some(604_800));
    // Other lengths keep their slot's name; reset_after_seconds stands in
    // for a missing reset_at.
    let before = unix_now() as i64;
    let odd = q(json!({"plan_type": "team", "rate_limit": {
        "primary_window": {"used_percent": 1, "limit_window_seconds": 3600, "reset_after_seconds": 60},
        "secondary_window": {"used_percent": 2, "limit_window_seconds": 2_592_000}},
        "credits": {"has_credits": true, "unlimited": false, "balance": "12.5"}}));
    let names: Vec<&str> = odd.windows.iter().map(|w| w.name.as_str()).collect();
    assert_eq!(names, ["primary", "secondary"]);
    let reset = odd.windows[0].resets_at.unwrap();
    assert!((before + 60..=before + 61).contains(&reset), "{reset}");
    assert_eq!(odd.windows[1].resets_at, None);
    assert_eq!(odd.raw["credits"]["balance"], "12.5");
    // Feature limits carry their name as the window's model.
    let extra = q(
        json!({"plan_type": "plus", "rate_limit": null, "additional_rate_limits": [
        {"limit_name": "codex_other", "metered_feature": "codex_bengalfox", "rate_limit": {
            "primary_window": {"used_percent": 3, "limit_window_seconds": 18_000, "reset_at": 5}}}]}),
    );
    assert_eq!(extra.windows.len(), 1);
    assert_eq!(extra.windows[0].name, "five_hour");
    assert_eq!(extra.windows[0].model.as_deref(), Some("codex_other"));
    // Nothing known: no windows; not JSON: an error.
    assert!(q(json!({})).windows.is_empty());
    assert_eq!(q(json!({})).plan, None);
    assert!(p.parse_quota(&HeaderMap::new(), b"<html>").is_err());
}

#[test]
fn the_model_list_skips_hidden_and_slugless_entries() {
    let p = Codex::default();
    let page = p
        .parse_models(
            br#"{"models":[
                {"slug":"gpt-5.6-sol","display_name":"GPT-5.6 Sol","context_window":400000,"visibility":"list","supported_reasoning_levels":[{"effort":"high"}]},
                {"slug":"codex-auto-review","visibility":"hide"},
                {"slug":"gpt-5.3-codex-spark"},
                {"display_name":"no slug"}
            ]}"#,
        )
        .unwrap();
    let ids: Vec<&str> = page.models.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["gpt-5.6-sol", "gpt-5.3-codex-spark"]);
    assert_eq!(page.models[0].display_name.as_deref(), Some("GPT-5.6 Sol"));
    assert_eq!(page.next_page, None);
    for bad in [&b"{}"[..], b"{\"models\":{}}", b"not json"] {
        assert!(p.parse_models(bad).is_err(), "{bad:?}");
    }
    assert_eq!(
        p.models_url("http://m/backend-api/codex/", Some("ignored"))
            .as_deref(),
        Some("http://m/backend-api/codex/models?client_version=0.158.0")
    );
    let v = Codex::from_settings(&json!({"client_version": "1.2.3"})).unwrap();
    assert!(
        v.models_url("http://m", None)
            .unwrap()
            .ends_with("?client_version=1.2.3")
    );
    assert!(v.models_body().is_none(), "a GET");
    let fallback = p.fallback_models();
    assert!(fallback.contains(&"gpt-5.6-sol") && fallback.contains(&"gpt-5.4-mini"));
}

#[test]
fn account_facts_fall_back_to_the_profile_claim_and_user_id() {
    let id = jwt(json!({
        "https://api.openai.com/profile": {"email": "p@b.c", "email_verified": true},
        "https://api.openai.com/auth": {"chatgpt_account_id": "acct-2", "user_id": "user-7", "chatgpt_plan_type": ""}
    }));
    let facts = Codex::default().oauth_account(&json!({ "id_token": id }));
    assert_eq!(facts["email"], "p@b.c");
    assert_eq!(facts["user_id"], "user-7");
    assert!(facts.get("plan").is_none(), "an empty plan is no plan");
    let id = jwt(
        json!({"email": "a@b.c", "https://api.openai.com/auth": {"chatgpt_user_id": "user-c", "user_id": "user-u"}}),
    );
    let facts = Codex::default().oauth_account(&json!({ "id_token": id }));
    assert_eq!(facts["user_id"], "user-c");
    assert!(
        Codex::default()
            .oauth_account(&json!({"id_token": "opaque"}))
            .is_empty()
    );
    assert!(Codex::default().oauth_account(&json!({})).is_empty());
}

#[test]
fn auth_json_imports_through_the_kind() {
    let access = jwt(json!({"exp": 1_900_000_000u64}));
    let id = jwt(
        json!({"email": "a@b.c", "https://api.openai.com/auth": {"chatgpt_account_id": "acct-3", "chatgpt_plan_type": "pro"}}),
    );
    let file = json!({"tokens": {"id_token": id, "access_token": access, "refresh_token": "rt", "account_id": "acct-3"}});
    let imported = Codex::default()
        .import_credential(&file.to_string(), 0)
        .unwrap()
        .unwrap();
    assert_eq!(imported.tokens.expires_at_ms, 1_900_000_000_000);
    assert_eq!(imported.account["plan"], "pro");
    let err = Codex::default()
        .import_credential("{}", 0)
        .unwrap()
        .unwrap_err();
    assert_eq!(err.path, "tokens");
}
