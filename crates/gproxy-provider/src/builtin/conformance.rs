//! One conformance table run against every built-in provider: URL, auth
//! form, protocols and refusals.

use gproxy_credential::{Credential, Secret};
use gproxy_protocol::Protocol;
use http::HeaderMap;

use crate::{Endpoint, Provider, ProviderRegistry};

struct Case {
    kind: &'static str,
    protocols: &'static [Protocol],
    base: &'static str,
    endpoint: Endpoint<'static>,
    url: &'static str,
    auth_header: &'static str,
    auth_value: &'static str,
}

const CASES: &[Case] = &[
    Case {
        kind: "openai",
        protocols: &[Protocol::OpenAiChat, Protocol::OpenAiResponses],
        base: "http://m/v1/",
        endpoint: Endpoint::OpenAiChat,
        url: "http://m/v1/chat/completions",
        auth_header: "authorization",
        auth_value: "Bearer sk-x",
    },
    Case {
        kind: "openai",
        protocols: &[Protocol::OpenAiChat, Protocol::OpenAiResponses],
        base: "http://m/v1",
        endpoint: Endpoint::OpenAiResponses,
        url: "http://m/v1/responses",
        auth_header: "authorization",
        auth_value: "Bearer sk-x",
    },
    Case {
        kind: "claude",
        protocols: &[Protocol::Claude],
        base: "http://m",
        endpoint: Endpoint::ClaudeMessages,
        url: "http://m/v1/messages",
        auth_header: "x-api-key",
        auth_value: "sk-x",
    },
    Case {
        kind: "aistudio",
        protocols: &[Protocol::Gemini],
        base: "http://m/",
        endpoint: Endpoint::GeminiGenerate {
            version: "v1beta",
            model: "gemini-2.0-flash",
            stream: true,
            alt_sse: true,
        },
        url: "http://m/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse",
        auth_header: "x-goog-api-key",
        auth_value: "sk-x",
    },
    Case {
        kind: "aistudio",
        protocols: &[Protocol::Gemini],
        base: "http://m",
        endpoint: Endpoint::GeminiGenerate {
            version: "v1",
            model: "gemini-2.0-flash",
            stream: false,
            alt_sse: false,
        },
        url: "http://m/v1/models/gemini-2.0-flash:generateContent",
        auth_header: "x-goog-api-key",
        auth_value: "sk-x",
    },
];

const ALL_ENDPOINTS: &[Endpoint<'static>] = &[
    Endpoint::OpenAiChat,
    Endpoint::OpenAiResponses,
    Endpoint::ClaudeMessages,
    Endpoint::GeminiGenerate {
        version: "v1beta",
        model: "m",
        stream: false,
        alt_sse: false,
    },
];

#[test]
fn every_builtin_builds_urls_and_auth_in_its_own_form() {
    let registry = ProviderRegistry::builtin();
    let key = Credential::ApiKey {
        key: Secret::new("sk-x".into()),
    };
    for case in CASES {
        let p = registry.get(case.kind).unwrap();
        assert_eq!(p.kind(), case.kind);
        assert_eq!(p.protocols(), case.protocols, "{}", case.kind);
        assert_eq!(p.upstream_url(case.base, &case.endpoint).unwrap(), case.url);
        let mut headers = HeaderMap::new();
        p.apply_auth(&key, &mut headers).unwrap();
        assert_eq!(headers.len(), 1, "{}: exactly one auth header", case.kind);
        assert_eq!(headers[case.auth_header], case.auth_value);
        assert!(headers[case.auth_header].is_sensitive());
    }
}

#[test]
fn every_builtin_refuses_protocols_it_does_not_speak() {
    let registry = ProviderRegistry::builtin();
    for kind in registry.kinds() {
        let p = registry.get(kind).unwrap();
        for endpoint in ALL_ENDPOINTS {
            let speaks = p.speaks(endpoint.protocol());
            assert_eq!(
                p.upstream_url("http://m", endpoint).is_ok(),
                speaks,
                "{kind} {endpoint:?}"
            );
        }
        assert!(p.default_base_url().starts_with("https://"));
    }
}

#[test]
fn keys_that_are_not_header_values_and_missing_keys_are_refused() {
    let registry = ProviderRegistry::builtin();
    let bad = Credential::ApiKey {
        key: Secret::new("sk-\nx".into()),
    };
    for kind in registry.kinds() {
        let p: std::sync::Arc<dyn Provider> = registry.get(kind).unwrap();
        let mut headers = HeaderMap::new();
        let err = p.apply_auth(&bad, &mut headers).unwrap_err();
        assert!(!err.to_string().contains("sk-"));
        assert!(p.apply_auth(&Credential::None, &mut headers).is_err());
    }
}

#[test]
fn claude_adds_anthropic_version_only_when_missing() {
    let p = ProviderRegistry::builtin().get("claude").unwrap();
    let mut headers = HeaderMap::new();
    p.default_headers(&mut headers);
    assert_eq!(headers["anthropic-version"], "2023-06-01");
    let mut headers = HeaderMap::new();
    headers.insert("anthropic-version", "2024-01-01".parse().unwrap());
    p.default_headers(&mut headers);
    assert_eq!(headers["anthropic-version"], "2024-01-01");
}
