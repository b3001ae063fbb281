//! Route matching. Aggregate routes (`/v1/...`, `/v1beta/...`) name the
//! provider in the model (`provider/model`); provider-prefixed routes
//! (`/{provider}/v1/...`) name it in the path.

use gproxy_core::{GeminiCall, GeminiMethod, Operation, ProxyRoute};
use gproxy_protocol::Protocol;
use gproxy_protocol::url::percent_decode;

/// What a path is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `GET /health`.
    Health,
    /// `GET /metrics` (Prometheus).
    Metrics,
    /// `POST /admin/credentials/{id}/enable` (admin key only).
    AdminEnableCredential(i64),
    /// `/admin/api/...`: the admin API (the path after `/admin/api`).
    AdminApi(String),
    /// A proxied API call.
    Proxy(ProxyRoute),
    /// Any other path under `/{provider}/...`, forwarded as is.
    Passthrough {
        /// The provider named by the first path segment.
        provider: String,
        /// The path after `/{provider}` (starting with `/`).
        rest: String,
    },
    /// `GET /v1/models`, `/v1beta/models`, `/{provider}/v1/models`,
    /// `/{provider}/v1beta/models`: a model list.
    Models {
        /// The provider, on provider-prefixed routes.
        provider: Option<String>,
        /// Gemini shape (`/v1beta/models`); otherwise OpenAI or Anthropic
        /// by the `anthropic-version` header.
        gemini: bool,
    },
    /// `GET /v1/gproxy/me`: the calling key's own limits and what is left.
    Me,
    /// `POST /v1/gproxy/cost-estimate`: what a request would cost.
    CostEstimate,
    /// Nothing here; the protocol guessed from the path shapes the 404.
    NotFound(Protocol),
}

/// Matches `path` (with its `query`) to a route.
pub fn match_route(path: &str, query: Option<&str>) -> Route {
    if path == "/health" {
        return Route::Health;
    }
    if path == "/metrics" {
        return Route::Metrics;
    }
    if path == "/v1/gproxy/me" {
        return Route::Me;
    }
    if path == "/v1/gproxy/cost-estimate" {
        return Route::CostEstimate;
    }
    if let Some(rest) = path.strip_prefix("/admin/api")
        && (rest.is_empty() || rest.starts_with('/'))
    {
        let rest = if rest.is_empty() { "/" } else { rest };
        return Route::AdminApi(rest.to_owned());
    }
    if let Some(rest) = path.strip_prefix("/admin/") {
        return match rest
            .strip_prefix("credentials/")
            .and_then(|r| r.strip_suffix("/enable"))
            .and_then(|id| id.parse::<i64>().ok())
        {
            Some(id) => Route::AdminEnableCredential(id),
            None => Route::NotFound(Protocol::OpenAiChat),
        };
    }
    let (provider, rest) = if path.starts_with("/v1/") || path.starts_with("/v1beta/") {
        (None, path)
    } else {
        let trimmed = path.strip_prefix('/').unwrap_or(path);
        match trimmed.split_once('/') {
            Some((p, _)) if !p.is_empty() => (Some(p), &path[p.len() + 1..]),
            _ => return Route::NotFound(guess_protocol(path)),
        }
    };
    let proxy = |protocol, gemini, operation| {
        Route::Proxy(ProxyRoute {
            protocol,
            provider: provider.map(str::to_owned),
            gemini,
            operation,
        })
    };
    match rest {
        "/v1/models" | "/v1beta/models" => {
            return Route::Models {
                provider: provider.map(str::to_owned),
                gemini: rest == "/v1beta/models",
            };
        }
        "/v1/chat/completions" => return proxy(Protocol::OpenAiChat, None, Operation::Generate),
        "/v1/responses" => return proxy(Protocol::OpenAiResponses, None, Operation::Generate),
        "/v1/messages" => return proxy(Protocol::Claude, None, Operation::Generate),
        "/v1/messages/count_tokens" => {
            return proxy(Protocol::Claude, None, Operation::CountTokens);
        }
        "/v1/responses/input_tokens" => {
            return proxy(Protocol::OpenAiResponses, None, Operation::CountTokens);
        }
        "/v1/embeddings" => return proxy(Protocol::OpenAiChat, None, Operation::Embeddings),
        _ => {}
    }
    for version in ["v1beta", "v1"] {
        let Some(tail) = rest
            .strip_prefix('/')
            .and_then(|r| r.strip_prefix(version))
            .and_then(|r| r.strip_prefix("/models/"))
        else {
            continue;
        };
        let Some((model, method)) = tail.rsplit_once(':') else {
            break;
        };
        let Some(method) = GeminiMethod::parse(method) else {
            break;
        };
        let model = percent_decode(model);
        // Aggregate routes take `provider/model` or a model route's name;
        // provider routes a bare model.
        let valid = match provider {
            None => match model.split_once('/') {
                Some((p, m)) => !p.is_empty() && !m.is_empty(),
                None => !model.is_empty(),
            },
            Some(_) => !model.is_empty() && !model.contains('/'),
        };
        if !valid {
            break;
        }
        let alt_sse = query.is_some_and(|q| {
            crate::auth::query_param(q, "alt").is_some_and(|v| v.eq_ignore_ascii_case("sse"))
        });
        let operation = match method {
            GeminiMethod::CountTokens => Operation::CountTokens,
            m if m.is_generate() => Operation::Generate,
            _ => Operation::Embeddings,
        };
        return proxy(
            Protocol::Gemini,
            Some(GeminiCall {
                version: version.to_owned(),
                model: model.into_owned(),
                method,
                alt_sse,
            }),
            operation,
        );
    }
    match provider {
        Some(provider) => Route::Passthrough {
            provider: provider.to_owned(),
            rest: rest.to_owned(),
        },
        None => Route::NotFound(guess_protocol(path)),
    }
}

/// The protocol a path most likely belongs to, for the shape of a 404.
pub(crate) fn guess_protocol(path: &str) -> Protocol {
    if path.contains("/messages") {
        Protocol::Claude
    } else if path.contains("/v1beta/") || (path.contains("/models/") && path.contains(':')) {
        Protocol::Gemini
    } else {
        Protocol::OpenAiChat
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxy(path: &str, query: Option<&str>) -> ProxyRoute {
        match match_route(path, query) {
            Route::Proxy(r) => r,
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn aggregate_and_provider_routes() {
        let r = proxy("/v1/chat/completions", None);
        assert_eq!((r.protocol, r.provider), (Protocol::OpenAiChat, None));
        let r = proxy("/openai/v1/responses", None);
        assert_eq!(
            (r.protocol, r.provider.as_deref()),
            (Protocol::OpenAiResponses, Some("openai"))
        );
        let r = proxy("/claude/v1/messages", None);
        assert_eq!(
            (r.protocol, r.provider.as_deref()),
            (Protocol::Claude, Some("claude"))
        );
        assert_eq!(proxy("/v1/messages", None).protocol, Protocol::Claude);
    }

    #[test]
    fn gemini_routes_in_both_versions() {
        let r = proxy(
            "/aistudio/v1beta/models/gemini-2.0-flash:streamGenerateContent",
            Some("alt=sse"),
        );
        assert_eq!(r.provider.as_deref(), Some("aistudio"));
        assert_eq!(
            r.gemini.unwrap(),
            GeminiCall {
                version: "v1beta".into(),
                model: "gemini-2.0-flash".into(),
                method: GeminiMethod::StreamGenerateContent,
                alt_sse: true
            }
        );
        let r = proxy(
            "/aistudio/v1/models/gemini-2.0-flash:generateContent",
            Some("key=x"),
        );
        let g = r.gemini.unwrap();
        assert_eq!(
            (g.version.as_str(), g.method, g.alt_sse),
            ("v1", GeminiMethod::GenerateContent, false)
        );
        let r = proxy(
            "/v1beta/models/aistudio/gemini-2.0-flash:generateContent",
            None,
        );
        assert_eq!(r.provider, None);
        assert_eq!(r.gemini.unwrap().model, "aistudio/gemini-2.0-flash");
        let r = proxy(
            "/v1/models/aistudio%2Fgemini-2.0-flash:streamGenerateContent",
            None,
        );
        assert_eq!(r.gemini.unwrap().model, "aistudio/gemini-2.0-flash");
    }

    #[test]
    fn everything_else_is_not_found_in_a_guessed_shape() {
        for (path, protocol) in [
            ("/", Protocol::OpenAiChat),
            ("/v1/audio/speech", Protocol::OpenAiChat),
            ("/v1beta/models/p/:generateContent", Protocol::Gemini),
            ("/v1beta/models/a/b/c:generateContent", Protocol::Gemini),
        ] {
            if path == "/v1beta/models/a/b/c:generateContent" {
                // provider `a`, model `b/c` is acceptable on aggregate routes
                assert!(matches!(match_route(path, None), Route::Proxy(_)));
                continue;
            }
            assert_eq!(match_route(path, None), Route::NotFound(protocol), "{path}");
        }
        assert_eq!(match_route("/health", None), Route::Health);
        assert_eq!(
            match_route("/admin/credentials/42/enable", None),
            Route::AdminEnableCredential(42)
        );
        assert_eq!(
            match_route("/admin/credentials/x/enable", None),
            Route::NotFound(Protocol::OpenAiChat)
        );
    }

    #[test]
    fn embeddings_routes() {
        let r = proxy("/v1/embeddings", None);
        assert_eq!(
            (r.protocol, r.operation, r.provider),
            (Protocol::OpenAiChat, Operation::Embeddings, None)
        );
        let r = proxy("/aistudio/v1/embeddings", None);
        assert_eq!(r.provider.as_deref(), Some("aistudio"));
        let r = proxy("/aistudio/v1beta/models/e-1:batchEmbedContents", None);
        assert_eq!(r.operation, Operation::Embeddings);
        assert_eq!(r.gemini.unwrap().method, GeminiMethod::BatchEmbedContents);
        let r = proxy("/v1beta/models/aistudio/e-1:embedContent", None);
        assert_eq!(r.gemini.unwrap().method, GeminiMethod::EmbedContent);
        assert_eq!(
            proxy("/openai/v1/chat/completions", None).operation,
            Operation::Generate
        );
    }

    #[test]
    fn count_tokens_routes() {
        for (path, protocol, provider) in [
            ("/v1/messages/count_tokens", Protocol::Claude, None),
            (
                "/claude/v1/messages/count_tokens",
                Protocol::Claude,
                Some("claude"),
            ),
            (
                "/v1/responses/input_tokens",
                Protocol::OpenAiResponses,
                None,
            ),
            (
                "/openai/v1/responses/input_tokens",
                Protocol::OpenAiResponses,
                Some("openai"),
            ),
        ] {
            let r = proxy(path, None);
            assert_eq!(
                (r.protocol, r.provider.as_deref(), r.operation, r.gemini),
                (protocol, provider, Operation::CountTokens, None),
                "{path}"
            );
        }
        for (path, version, model, provider) in [
            (
                "/v1beta/models/aistudio/g-1:countTokens",
                "v1beta",
                "aistudio/g-1",
                None,
            ),
            (
                "/v1/models/aistudio%2Fg-1:countTokens",
                "v1",
                "aistudio/g-1",
                None,
            ),
            (
                "/aistudio/v1beta/models/g-1:countTokens",
                "v1beta",
                "g-1",
                Some("aistudio"),
            ),
            (
                "/aistudio/v1/models/g-1:countTokens",
                "v1",
                "g-1",
                Some("aistudio"),
            ),
        ] {
            let r = proxy(path, None);
            assert_eq!(r.operation, Operation::CountTokens, "{path}");
            assert_eq!(r.provider.as_deref(), provider, "{path}");
            let g = r.gemini.unwrap();
            assert_eq!(
                (g.version.as_str(), g.model.as_str(), g.method),
                (version, model, GeminiMethod::CountTokens),
                "{path}"
            );
        }
    }

    #[test]
    fn other_provider_paths_pass_through() {
        for (path, provider, rest) in [
            (
                "/aistudio/v1beta/models/g:predict",
                "aistudio",
                "/v1beta/models/g:predict",
            ),
            (
                "/aistudio/v1beta/cachedContents",
                "aistudio",
                "/v1beta/cachedContents",
            ),
            (
                "/claude/v1/messages/batches",
                "claude",
                "/v1/messages/batches",
            ),
            ("/openai/v1/files", "openai", "/v1/files"),
            (
                "/openai/v1/chat/completions/extra",
                "openai",
                "/v1/chat/completions/extra",
            ),
        ] {
            assert_eq!(
                match_route(path, None),
                Route::Passthrough {
                    provider: provider.into(),
                    rest: rest.into()
                },
                "{path}"
            );
        }
    }

    #[test]
    fn model_lists_and_alias_calls() {
        assert_eq!(
            match_route("/v1/models", None),
            Route::Models {
                provider: None,
                gemini: false
            }
        );
        assert_eq!(
            match_route("/claude/v1beta/models", None),
            Route::Models {
                provider: Some("claude".into()),
                gemini: true
            }
        );
        // A bare model on the aggregate Gemini route is a model route's name.
        let r = proxy("/v1beta/models/smart:generateContent", None);
        assert_eq!(
            (r.provider, r.gemini.unwrap().model),
            (None, "smart".into())
        );
    }
}
