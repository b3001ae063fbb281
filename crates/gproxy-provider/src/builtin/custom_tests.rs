//! Unit tests for [`super::CustomProvider`].

use gproxy_credential::{Credential, Secret};
use serde_json::json;

use super::*;
use crate::ProviderRegistry;

fn build(settings: serde_json::Value) -> Result<CustomProvider, ProviderError> {
    CustomProvider::from_settings(&settings)
}

fn key() -> Credential {
    Credential::ApiKey {
        key: Secret::new("sk-x".into()),
    }
}

const GEMINI: Endpoint<'static> = Endpoint::GeminiGenerate {
    version: "v1beta",
    model: "g-1",
    stream: true,
    alt_sse: true,
};

#[test]
fn each_protocol_has_its_url_convention_and_default_auth() {
    for (protocol, endpoint, url, auth) in [
        (
            "openai_chat",
            Endpoint::OpenAiChat,
            "http://m/b/chat/completions",
            ("authorization", "Bearer sk-x"),
        ),
        (
            "openai_responses",
            Endpoint::OpenAiResponses,
            "http://m/b/responses",
            ("authorization", "Bearer sk-x"),
        ),
        (
            "claude",
            Endpoint::ClaudeMessages,
            "http://m/b/v1/messages",
            ("x-api-key", "sk-x"),
        ),
        (
            "gemini",
            GEMINI,
            "http://m/b/v1beta/models/g-1:streamGenerateContent?alt=sse",
            ("x-goog-api-key", "sk-x"),
        ),
    ] {
        let p = build(json!({ "protocol": protocol })).unwrap();
        assert_eq!(p.kind(), "custom");
        assert_eq!(p.protocols().len(), 1);
        assert_eq!(p.protocols()[0].as_str(), protocol);
        assert_eq!(p.upstream_url("http://m/b/", &endpoint).unwrap(), url);
        for other in [
            Endpoint::OpenAiChat,
            Endpoint::OpenAiResponses,
            Endpoint::ClaudeMessages,
            GEMINI,
        ] {
            if other != endpoint {
                assert!(p.upstream_url("http://m/b", &other).is_err(), "{protocol}");
            }
        }
        let mut headers = HeaderMap::new();
        p.apply_auth(&key(), &mut headers).unwrap();
        assert_eq!(headers.len(), 1);
        assert_eq!(headers[auth.0], auth.1, "{protocol}");
        assert!(p.requires_credential());
        assert!(p.allows_model("anything"));
        assert!(p.json_mask().is_none());
        assert!(p.extra_headers().is_empty());
        assert_eq!(p.count_tokens(), CountTokens::Upstream);
    }
}

#[test]
fn auth_can_be_overridden_or_turned_off() {
    let p = build(json!({"protocol": "claude", "auth": "bearer"})).unwrap();
    let mut headers = HeaderMap::new();
    p.apply_auth(&key(), &mut headers).unwrap();
    assert_eq!(headers["authorization"], "Bearer sk-x");

    let p = build(json!({"protocol": "openai_chat", "auth": "none"})).unwrap();
    let mut headers = HeaderMap::new();
    p.apply_auth(&key(), &mut headers).unwrap();
    assert!(headers.is_empty());
    assert!(!p.requires_credential());
}

#[test]
fn claude_protocol_gets_a_default_anthropic_version() {
    let p = build(json!({"protocol": "claude"})).unwrap();
    let mut headers = HeaderMap::new();
    p.default_headers(&mut headers);
    assert_eq!(headers["anthropic-version"], "2023-06-01");
    let p = build(json!({"protocol": "openai_chat"})).unwrap();
    let mut headers = HeaderMap::new();
    p.default_headers(&mut headers);
    assert!(headers.is_empty());
}

#[test]
fn settings_become_headers_allow_list_and_mask() {
    let p = build(json!({
        "protocol": "openai_chat",
        "headers": {"X-Extra": "1", "anthropic-beta": "b"},
        "models": ["m-1", "m-2"],
        "json_param_mask": ["temperature"],
        "count_tokens": "local"
    }))
    .unwrap();
    let names: Vec<&str> = p.extra_headers().iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["x-extra", "anthropic-beta"]);
    assert!(p.allows_model("m-1") && p.allows_model("m-2"));
    assert!(!p.allows_model("m-3"));
    let masked = p.json_mask().unwrap().apply(br#"{"temperature":1}"#);
    assert_eq!(masked.unwrap(), br#"{"temperature":null}"#);
    assert_eq!(p.count_tokens(), CountTokens::Local);
}

#[test]
fn settings_round_trip_through_json() {
    let settings = CustomSettings {
        protocol: Protocol::Gemini,
        json_param_mask: vec!["/a".into()],
        headers: BTreeMap::from([("x-a".into(), "1".into())]),
        models: vec!["g".into()],
        count_tokens: CountTokens::Local,
        auth: Some(CustomAuth::XGoogApiKey),
    };
    let value = serde_json::to_value(&settings).unwrap();
    assert_eq!(value["auth"], "x-goog-api-key");
    let back: CustomSettings = serde_json::from_value(value).unwrap();
    assert_eq!(back, settings);
}

#[test]
fn bad_settings_name_their_field() {
    for (settings, field) in [
        (json!({}), "settings"),
        (json!({"protocol": "soap"}), "settings"),
        (json!({"protocol": "claude", "nope": 1}), "settings"),
        (
            json!({"protocol": "claude", "json_param_mask": ["a", "a..b"]}),
            "json_param_mask[1]",
        ),
        (
            json!({"protocol": "claude", "headers": {"x-api-key": "k"}}),
            "headers.x-api-key",
        ),
        (
            json!({"protocol": "claude", "headers": {"Authorization": "k"}}),
            "headers.Authorization",
        ),
        (
            json!({"protocol": "claude", "headers": {"bad name": "k"}}),
            "headers.bad name",
        ),
        (
            json!({"protocol": "claude", "headers": {"x-a": "a\nb"}}),
            "headers.x-a",
        ),
        (
            json!({"protocol": "claude", "headers": {"X-A": "1", "x-a": "2"}}),
            "headers.x-a",
        ),
        (
            json!({"protocol": "claude", "models": ["m", " "]}),
            "models[1]",
        ),
    ] {
        match build(settings.clone()) {
            Err(ProviderError::InvalidSettings { field: got, .. }) => {
                assert_eq!(got, field, "{settings}")
            }
            other => panic!("{settings}: {other:?}"),
        }
    }
    for name in FORBIDDEN_HEADERS {
        assert!(extra_header(name, "v").is_err(), "{name}");
    }
}

#[test]
fn the_registry_builds_custom_providers_and_ignores_settings_for_builtins() {
    let registry = ProviderRegistry::builtin();
    let p = registry
        .build("custom", &json!({"protocol": "gemini"}))
        .unwrap();
    assert_eq!(p.protocols(), &[Protocol::Gemini]);
    assert!(registry.build("custom", &json!({})).is_err());
    let openai = registry
        .build("openai", &json!({"anything": true}))
        .unwrap();
    assert_eq!(openai.kind(), "openai");
    assert!(matches!(
        registry.build("nope", &json!({})),
        Err(ProviderError::UnknownKind { .. })
    ));
    assert!(registry.is_kind("custom") && registry.is_kind("claude"));
    assert!(!registry.is_kind("nope"));
    assert!(
        !registry.kinds().contains(&"custom"),
        "custom is never seeded"
    );
}

#[test]
fn count_tokens_follows_the_protocol_and_the_setting() {
    use crate::CountTokensApi;
    for (protocol, api, url) in [
        (
            "claude",
            Some(CountTokensApi::Claude),
            Some("http://m/b/v1/messages/count_tokens"),
        ),
        (
            "gemini",
            Some(CountTokensApi::Gemini),
            Some("http://m/b/v1/models/g-1:countTokens"),
        ),
        (
            "openai_responses",
            Some(CountTokensApi::OpenAiResponses),
            Some("http://m/b/responses/input_tokens"),
        ),
        ("openai_chat", None, None),
    ] {
        let p = build(json!({ "protocol": protocol })).unwrap();
        assert_eq!(p.count_tokens_api(), api, "{protocol}");
        let got = api.and_then(|a| p.upstream_url("http://m/b", &a.endpoint("v1", "g-1")).ok());
        assert_eq!(got.as_deref(), url, "{protocol}");
        let local = build(json!({ "protocol": protocol, "count_tokens": "local" })).unwrap();
        assert_eq!(local.count_tokens(), CountTokens::Local);
        assert_eq!(local.count_tokens_api(), None, "{protocol}");
    }
    // OpenAI Chat has no counting endpoint to build a URL for.
    let chat = build(json!({ "protocol": "openai_chat" })).unwrap();
    assert!(
        chat.upstream_url("http://m/b", &Endpoint::OpenAiInputTokens)
            .is_err()
    );
}
