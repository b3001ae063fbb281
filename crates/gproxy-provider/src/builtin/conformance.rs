//! One conformance table run against every built-in provider: default base
//! URL, protocols, upstream URL per endpoint, auth form, refusals.

use gproxy_credential::oauth::{OAuthCredential, TokenSet};
use gproxy_credential::{Credential, Secret};
use gproxy_protocol::Protocol;
use http::HeaderMap;

use crate::{CountTokensApi, Endpoint, Provider, ProviderRegistry};

/// What each built-in must do.
struct Expect {
    kind: &'static str,
    base: &'static str,
    protocols: &'static [Protocol],
    /// (header, value for key `sk-x`); `None` value: no header without a key.
    auth: (&'static str, &'static str),
    key_required: bool,
    /// How the upstream URLs are shaped.
    urls: Urls,
    /// The provider's own token-counting endpoint.
    count: Option<CountTokensApi>,
}

/// The URL families of the built-ins.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Urls {
    /// `{base}/chat/completions`, `{base}/v1/messages`, `{base}/{version}/models/...`.
    Sdk,
    /// `{base}/v1/publishers/google/models/...` (generate only).
    VertexExpress,
    /// `{base}/v1/projects/{p}/locations/{l}/publishers/google/models/...`.
    Vertex,
    /// Google Code Assist: `{base}/v1internal:{method}`, an OAuth login.
    CodeAssist,
}

const CHAT: &[Protocol] = &[Protocol::OpenAiChat];
const CHAT_RESP: &[Protocol] = &[Protocol::OpenAiChat, Protocol::OpenAiResponses];
const BEARER: (&str, &str) = ("authorization", "Bearer sk-x");

const EXPECT: &[Expect] = &[
    Expect {
        kind: "openai",
        base: "https://api.openai.com/v1",
        protocols: CHAT_RESP,
        auth: BEARER,
        key_required: true,
        urls: Urls::Sdk,
        count: Some(CountTokensApi::OpenAiResponses),
    },
    Expect {
        kind: "deepseek",
        base: "https://api.deepseek.com",
        protocols: CHAT,
        auth: BEARER,
        key_required: true,
        urls: Urls::Sdk,
        count: None,
    },
    Expect {
        kind: "nvidia",
        base: "https://integrate.api.nvidia.com/v1",
        protocols: CHAT,
        auth: BEARER,
        key_required: true,
        urls: Urls::Sdk,
        count: None,
    },
    Expect {
        kind: "xai",
        base: "https://api.x.ai/v1",
        protocols: CHAT_RESP,
        auth: BEARER,
        key_required: true,
        urls: Urls::Sdk,
        count: None,
    },
    Expect {
        kind: "mistral",
        base: "https://api.mistral.ai/v1",
        protocols: CHAT,
        auth: BEARER,
        key_required: true,
        urls: Urls::Sdk,
        count: None,
    },
    Expect {
        kind: "groq",
        base: "https://api.groq.com/openai/v1",
        protocols: CHAT_RESP,
        auth: BEARER,
        key_required: true,
        urls: Urls::Sdk,
        count: None,
    },
    Expect {
        kind: "openrouter",
        base: "https://openrouter.ai/api/v1",
        protocols: CHAT_RESP,
        auth: BEARER,
        key_required: true,
        urls: Urls::Sdk,
        count: None,
    },
    Expect {
        kind: "ollama",
        base: "http://localhost:11434/v1",
        protocols: CHAT_RESP,
        auth: BEARER,
        key_required: false,
        urls: Urls::Sdk,
        count: None,
    },
    Expect {
        kind: "claude",
        base: "https://api.anthropic.com",
        protocols: &[Protocol::Claude],
        auth: ("x-api-key", "sk-x"),
        key_required: true,
        urls: Urls::Sdk,
        count: Some(CountTokensApi::Claude),
    },
    Expect {
        kind: "aistudio",
        base: "https://generativelanguage.googleapis.com",
        protocols: &[Protocol::Gemini],
        auth: ("x-goog-api-key", "sk-x"),
        key_required: true,
        urls: Urls::Sdk,
        count: Some(CountTokensApi::Gemini),
    },
    Expect {
        kind: "vertexexpress",
        base: "https://aiplatform.googleapis.com",
        protocols: &[Protocol::Gemini],
        auth: ("x-goog-api-key", "sk-x"),
        key_required: true,
        urls: Urls::VertexExpress,
        count: Some(CountTokensApi::Vertex),
    },
    Expect {
        kind: "vertex",
        base: "https://us-central1-aiplatform.googleapis.com",
        protocols: &[Protocol::Gemini],
        // The access token the core exchanged the service account for.
        auth: BEARER,
        key_required: true,
        urls: Urls::Vertex,
        count: Some(CountTokensApi::Vertex),
    },
    Expect {
        kind: "geminicli",
        base: "https://cloudcode-pa.googleapis.com",
        protocols: &[Protocol::Gemini],
        // The login's access token.
        auth: BEARER,
        key_required: true,
        urls: Urls::CodeAssist,
        count: Some(CountTokensApi::Gemini),
    },
    Expect {
        kind: "antigravity",
        base: "https://daily-cloudcode-pa.googleapis.com",
        protocols: &[Protocol::Gemini],
        auth: BEARER,
        key_required: true,
        urls: Urls::CodeAssist,
        count: Some(CountTokensApi::Gemini),
    },
];

/// The credential each kind authenticates with (`sk-x`): an API key, for
/// `vertex` the access token the core obtains, for the Code Assist kinds
/// an OAuth login.
fn credential_of(e: &Expect, secret: &str) -> Credential {
    match e.urls {
        Urls::Vertex => Credential::AccessToken {
            token: Secret::new(secret.into()),
        },
        Urls::CodeAssist => Credential::OAuth(Box::new(OAuthCredential::new(
            TokenSet {
                access_token: Secret::new(secret.into()),
                refresh_token: None,
                expires_at_ms: 0,
                scope: None,
            },
            serde_json::Map::new(),
        ))),
        Urls::Sdk | Urls::VertexExpress => Credential::ApiKey {
            key: Secret::new(secret.into()),
        },
    }
}

/// The upstream URL every built-in must build under base `http://m/b/`
/// (for `vertex`: with a service account of project `p-1`).
fn expected_url(p: &dyn Provider, urls: Urls, endpoint: &Endpoint<'_>) -> Option<&'static str> {
    if !p.speaks(endpoint.protocol()) {
        return None;
    }
    let counting = matches!(
        endpoint,
        Endpoint::ClaudeCountTokens
            | Endpoint::GeminiCountTokens { .. }
            | Endpoint::OpenAiInputTokens
    );
    // A counting endpoint exists only where the provider says it has one.
    if counting && p.count_tokens_api().map(|api| api.protocol()) != Some(endpoint.protocol()) {
        return None;
    }
    const VERTEX: &str =
        "http://m/b/v1/projects/p-1/locations/us-central1/publishers/google/models";
    match (urls, endpoint) {
        (Urls::Sdk, _) => {}
        (Urls::CodeAssist, Endpoint::GeminiGenerate { stream: true, .. }) => {
            return Some("http://m/b/v1internal:streamGenerateContent?alt=sse");
        }
        (Urls::CodeAssist, Endpoint::GeminiGenerate { stream: false, .. }) => {
            return Some("http://m/b/v1internal:generateContent");
        }
        (Urls::CodeAssist, Endpoint::GeminiCountTokens { .. }) => {
            return Some("http://m/b/v1internal:countTokens");
        }
        // Code Assist has no embeddings.
        (Urls::CodeAssist, _) => return None,
        (Urls::VertexExpress, Endpoint::GeminiGenerate { stream: true, .. }) => {
            return Some(
                "http://m/b/v1/publishers/google/models/g-1:streamGenerateContent?alt=sse",
            );
        }
        (Urls::VertexExpress, Endpoint::GeminiGenerate { stream: false, .. }) => {
            return Some("http://m/b/v1/publishers/google/models/g-1:generateContent");
        }
        (Urls::Vertex, Endpoint::GeminiGenerate { stream: true, .. }) => {
            return Some(const_format(VERTEX, "g-1:streamGenerateContent?alt=sse"));
        }
        (Urls::Vertex, Endpoint::GeminiGenerate { stream: false, .. }) => {
            return Some(const_format(VERTEX, "g-1:generateContent"));
        }
        (Urls::Vertex, Endpoint::GeminiEmbed { batch: false, .. }) => {
            return Some(const_format(VERTEX, "e-1:embedContent"));
        }
        (Urls::VertexExpress, Endpoint::GeminiCountTokens { .. }) => {
            return Some("http://m/b/v1/publishers/google/models/c-1:countTokens");
        }
        (Urls::Vertex, Endpoint::GeminiCountTokens { .. }) => {
            return Some(const_format(VERTEX, "c-1:countTokens"));
        }
        // Express mode has no embeddings; Vertex has no batchEmbedContents.
        (Urls::VertexExpress | Urls::Vertex, _) => return None,
    }
    Some(match endpoint {
        Endpoint::OpenAiChat => "http://m/b/chat/completions",
        Endpoint::OpenAiResponses => "http://m/b/responses",
        Endpoint::OpenAiEmbeddings => "http://m/b/embeddings",
        Endpoint::GeminiEmbed { batch: true, .. } => {
            "http://m/b/v1beta/models/e-1:batchEmbedContents"
        }
        Endpoint::GeminiEmbed { batch: false, .. } => "http://m/b/v1/models/e-1:embedContent",
        Endpoint::ClaudeMessages => "http://m/b/v1/messages",
        Endpoint::GeminiGenerate { stream: true, .. } => {
            "http://m/b/v1beta/models/g-1:streamGenerateContent?alt=sse"
        }
        Endpoint::GeminiGenerate { stream: false, .. } => {
            "http://m/b/v1/models/g-1:generateContent"
        }
        Endpoint::ClaudeCountTokens => "http://m/b/v1/messages/count_tokens",
        Endpoint::GeminiCountTokens { .. } => "http://m/b/v1beta/models/c-1:countTokens",
        Endpoint::OpenAiInputTokens => "http://m/b/responses/input_tokens",
    })
}

/// `{prefix}/{rest}`, leaked: test-only, to keep the table `&'static str`.
fn const_format(prefix: &str, rest: &str) -> &'static str {
    Box::leak(format!("{prefix}/{rest}").into_boxed_str())
}

/// A service account of project `p-1`, signed with the test-only key.
fn service_account() -> Credential {
    let pem = include_str!("../../../gproxy-testkit/fixtures/test-only-service-account.key.pem");
    let key = gproxy_credential::ServiceAccountKey::from_json(&serde_json::json!({
        "type": "service_account",
        "project_id": "p-1",
        "private_key_id": "k",
        "private_key": pem,
        "client_email": "sa@p-1.iam.gserviceaccount.com",
    }))
    .unwrap();
    Credential::ServiceAccount(Box::new(key))
}

const ENDPOINTS: &[Endpoint<'static>] = &[
    Endpoint::OpenAiEmbeddings,
    Endpoint::GeminiEmbed {
        version: "v1beta",
        model: "e-1",
        batch: true,
    },
    Endpoint::GeminiEmbed {
        version: "v1",
        model: "e-1",
        batch: false,
    },
    Endpoint::OpenAiChat,
    Endpoint::OpenAiResponses,
    Endpoint::ClaudeMessages,
    Endpoint::GeminiGenerate {
        version: "v1beta",
        model: "g-1",
        stream: true,
        alt_sse: true,
    },
    Endpoint::GeminiGenerate {
        version: "v1",
        model: "g-1",
        stream: false,
        alt_sse: false,
    },
    Endpoint::ClaudeCountTokens,
    Endpoint::GeminiCountTokens {
        version: "v1beta",
        model: "c-1",
    },
    Endpoint::OpenAiInputTokens,
];

#[test]
fn the_registry_holds_exactly_the_expected_kinds() {
    let registry = ProviderRegistry::builtin();
    let oauth: Vec<&str> = registry
        .kinds()
        .into_iter()
        .filter(|k| registry.get(k).is_some_and(|p| p.oauth().is_some()))
        .collect();
    assert_eq!(oauth, OAUTH_KINDS);
    // Every kind is in the table but the OAuth kinds that only have their
    // own tests (the Code Assist kinds are in both).
    let mut kinds: Vec<&str> = EXPECT.iter().map(|e| e.kind).collect();
    kinds.extend(
        OAUTH_KINDS
            .iter()
            .filter(|k| !EXPECT.iter().any(|e| e.kind == **k)),
    );
    kinds.sort_unstable();
    assert_eq!(registry.kinds(), kinds);
}

/// The OAuth subscription kinds, sorted (each has its own tests).
const OAUTH_KINDS: &[&str] = &["antigravity", "claudecode", "codex", "geminicli"];

#[test]
fn every_builtin_conforms() {
    let registry = ProviderRegistry::builtin();
    let stored = service_account();
    for e in EXPECT {
        let key = credential_of(e, "sk-x");
        let bad = credential_of(e, "sk-\nx");
        let p = registry.get(e.kind).unwrap();
        assert_eq!(p.kind(), e.kind);
        assert_eq!(p.default_base_url(), e.base, "{}", e.kind);
        assert_eq!(p.protocols(), e.protocols, "{}", e.kind);
        assert_eq!(p.count_tokens_api(), e.count, "{}", e.kind);
        if let Some(api) = e.count {
            assert!(p.speaks(api.protocol()), "{}", e.kind);
        }

        for endpoint in ENDPOINTS {
            let got = p.upstream_url_for("http://m/b/", endpoint, &stored).ok();
            assert_eq!(
                got.as_deref(),
                expected_url(p.as_ref(), e.urls, endpoint),
                "{} {endpoint:?}",
                e.kind
            );
        }

        let mut headers = HeaderMap::new();
        p.apply_auth(&key, &mut headers).unwrap();
        // Identity headers (the Code Assist kinds' user agent) may come
        // with it; the credential is in exactly one.
        let secret_headers = headers.values().filter(|v| v.is_sensitive()).count();
        assert_eq!(secret_headers, 1, "{}: exactly one auth header", e.kind);
        assert_eq!(headers[e.auth.0], e.auth.1, "{}", e.kind);
        assert!(headers[e.auth.0].is_sensitive());

        let err = p.apply_auth(&bad, &mut HeaderMap::new()).unwrap_err();
        assert!(
            !err.to_string().contains("sk-"),
            "{}: the key leaked into an error",
            e.kind
        );

        let mut headers = HeaderMap::new();
        let keyless = p.apply_auth(&Credential::None, &mut headers);
        assert_eq!(keyless.is_err(), e.key_required, "{}", e.kind);
        assert!(headers.is_empty());
        assert_eq!(p.requires_credential(), e.key_required, "{}", e.kind);
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

#[test]
fn every_builtin_names_its_model_list_and_fallback() {
    let registry = ProviderRegistry::builtin();
    for e in EXPECT {
        let p = registry.get(e.kind).unwrap();
        if e.kind == "antigravity" {
            // `POST fetchAvailableModels`, not paged.
            let url = "http://m/b/v1internal:fetchAvailableModels";
            assert_eq!(p.models_url("http://m/b/", None).as_deref(), Some(url));
            assert_eq!(p.models_url("http://m/b/", Some("t")).as_deref(), Some(url));
            assert_eq!(p.models_body(), Some(&b"{}"[..]));
            assert!(!p.fallback_models().is_empty());
            assert!(p.parse_models(b"not json").is_err());
            continue;
        }
        if e.urls != Urls::Sdk {
            // Vertex has no model list the key can read, Gemini CLI none at
            // all: the fallback only.
            assert_eq!(p.models_url("http://m/b/", None), None, "{}", e.kind);
            assert!(!p.fallback_models().is_empty(), "{}", e.kind);
            continue;
        }
        let (first, second) = match e.kind {
            "claude" => (
                "http://m/b/v1/models?limit=1000",
                "http://m/b/v1/models?limit=1000&after_id=t%2F1",
            ),
            "aistudio" => (
                "http://m/b/v1beta/models?pageSize=1000",
                "http://m/b/v1beta/models?pageSize=1000&pageToken=t%2F1",
            ),
            // OpenAI-style lists are not paged.
            _ => ("http://m/b/models", "http://m/b/models"),
        };
        assert_eq!(p.models_url("http://m/b/", None).as_deref(), Some(first));
        assert_eq!(
            p.models_url("http://m/b/", Some("t/1")).as_deref(),
            Some(second),
            "{}",
            e.kind
        );
        // Ollama lists what was pulled locally; every other kind has a fallback.
        assert_eq!(
            p.fallback_models().is_empty(),
            e.kind == "ollama",
            "{}",
            e.kind
        );
        assert!(p.parse_models(b"not json").is_err());
    }
}

#[test]
fn passthrough_urls_map_the_sdk_base_onto_the_upstream_base() {
    let registry = ProviderRegistry::builtin();
    for (kind, base, path, url) in [
        (
            "openai",
            "https://api.openai.com/v1",
            "/v1/files?purpose=batch",
            "https://api.openai.com/v1/files?purpose=batch",
        ),
        (
            "groq",
            "https://api.groq.com/openai/v1",
            "/v1/audio/transcriptions",
            "https://api.groq.com/openai/v1/audio/transcriptions",
        ),
        (
            "deepseek",
            "https://api.deepseek.com",
            "/v1/user/balance",
            "https://api.deepseek.com/user/balance",
        ),
        (
            "openai",
            "https://api.openai.com/v1",
            "/v1beta/x",
            "https://api.openai.com/v1/v1beta/x",
        ),
        (
            "claude",
            "https://api.anthropic.com",
            "/v1/messages/batches",
            "https://api.anthropic.com/v1/messages/batches",
        ),
        (
            "aistudio",
            "https://generativelanguage.googleapis.com",
            "/v1beta/models/g:countTokens",
            "https://generativelanguage.googleapis.com/v1beta/models/g:countTokens",
        ),
    ] {
        let p = registry.get(kind).unwrap();
        assert_eq!(p.passthrough_url(base, path), url, "{kind} {path}");
    }
}
