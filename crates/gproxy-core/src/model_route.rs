//! Resolving the model a client asked for to a provider and an upstream
//! model: `provider/model` and model routes (aliases) on aggregate routes,
//! the path's provider on provider-prefixed routes.
//!
//! A model route lists targets. Without weights they are tried in order and
//! the first whose provider exists, is enabled and speaks the client's
//! protocol serves; with weights one of those is picked by weight (one
//! relaxed atomic per pick, so over any `sum(weights)` consecutive picks
//! each target serves exactly its share). When the chosen target is
//! degraded, rate limited or its circuit is open, the engine resolves again
//! without it (fallback; see `engine::dispatch`).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use gproxy_protocol::Protocol;

use crate::engine::Operation;
use serde::{Deserialize, Serialize};

use crate::GatewayError;
use crate::state::ProviderRuntime;
use crate::stream::ModelRewrite;

/// How a model route chooses among its targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// The first usable target, in the order written.
    Ordered,
    /// A usable target, picked by weight.
    Weighted,
}

impl Strategy {
    /// The stored name (`ordered`, `weighted`).
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Ordered => "ordered",
            Strategy::Weighted => "weighted",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ordered" => Some(Strategy::Ordered),
            "weighted" => Some(Strategy::Weighted),
            _ => None,
        }
    }
}

/// One target of a model route, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteTarget {
    /// Provider name.
    pub provider: String,
    /// Upstream model id.
    pub model: String,
    /// Relative weight (at least 1; ignored by ordered routes).
    pub weight: u32,
}

/// A model route in the snapshot.
#[derive(Debug)]
pub struct ModelRoute {
    /// The model name clients send.
    pub name: String,
    /// How a target is chosen.
    pub strategy: Strategy,
    /// The targets, in the order written.
    pub targets: Vec<RouteTarget>,
    picks: AtomicU64,
}

/// How well a target fits a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fit {
    /// It can serve.
    Serves,
    /// No provider of that name.
    Missing,
    /// The provider is disabled.
    Disabled,
    /// The provider does not speak the client's protocol.
    OtherProtocol,
}

/// Why no target was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NoTarget {
    /// Some targets are available but none speaks the client's protocol.
    Protocol,
    /// No target's provider exists and is enabled.
    Unavailable,
}

impl ModelRoute {
    /// A route over `targets` (weights below 1 count as 1).
    pub fn new(name: String, strategy: Strategy, mut targets: Vec<RouteTarget>) -> Self {
        for t in &mut targets {
            t.weight = t.weight.max(1);
        }
        ModelRoute {
            name,
            strategy,
            targets,
            picks: AtomicU64::new(0),
        }
    }

    /// Chooses a target among those `fit` says can serve.
    pub(crate) fn select(
        &self,
        fit: impl Fn(&RouteTarget) -> Fit,
    ) -> Result<&RouteTarget, NoTarget> {
        let mut other_protocol = false;
        let mut usable: Vec<&RouteTarget> = Vec::with_capacity(self.targets.len());
        for t in &self.targets {
            match fit(t) {
                Fit::Serves if self.strategy == Strategy::Ordered => return Ok(t),
                Fit::Serves => usable.push(t),
                Fit::OtherProtocol => other_protocol = true,
                Fit::Missing | Fit::Disabled => {}
            }
        }
        let total: u64 = usable.iter().map(|t| u64::from(t.weight)).sum();
        if total == 0 {
            return Err(if other_protocol {
                NoTarget::Protocol
            } else {
                NoTarget::Unavailable
            });
        }
        let mut n = self.picks.fetch_add(1, Ordering::Relaxed) % total;
        for t in &usable {
            let w = u64::from(t.weight);
            if n < w {
                return Ok(t);
            }
            n -= w;
        }
        Err(NoTarget::Unavailable)
    }

    /// Chooses a provider and target for a `protocol` client.
    pub fn resolve(
        &self,
        providers: &HashMap<String, Arc<ProviderRuntime>>,
        call: impl Into<CallKind>,
    ) -> Result<(Arc<ProviderRuntime>, &RouteTarget), GatewayError> {
        self.resolve_excluding(providers, call, &[])
    }

    /// Like [`ModelRoute::resolve`], skipping the `(provider, model)`
    /// targets in `tried` (they failed for this request: fallback).
    pub fn resolve_excluding(
        &self,
        providers: &HashMap<String, Arc<ProviderRuntime>>,
        call: impl Into<CallKind>,
        tried: &[(String, String)],
    ) -> Result<(Arc<ProviderRuntime>, &RouteTarget), GatewayError> {
        let call = call.into();
        let protocol = call.protocol;
        let fit = |t: &RouteTarget| match providers.get(&t.provider) {
            _ if tried.iter().any(|(p, m)| *p == t.provider && *m == t.model) => Fit::Missing,
            None => Fit::Missing,
            Some(p) if !p.enabled => Fit::Disabled,
            Some(p) if !call.served_by(p.provider.as_ref()) => Fit::OtherProtocol,
            Some(_) => Fit::Serves,
        };
        let targets = || {
            self.targets
                .iter()
                .map(|t| format!("{}/{}", t.provider, t.model))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self.select(fit) {
            Ok(t) => match providers.get(&t.provider) {
                Some(p) => Ok((p.clone(), t)),
                None => Err(GatewayError::Internal("chosen target vanished".into())),
            },
            Err(NoTarget::Protocol) => Err(GatewayError::BadRequest(format!(
                "model route `{}`: none of its targets ({}) speaks {}; call it with another protocol",
                self.name,
                targets(),
                protocol.as_str()
            ))),
            Err(NoTarget::Unavailable) => Err(GatewayError::NotFound(format!(
                "model route `{}`: none of its targets ({}) has a configured, enabled provider",
                self.name,
                targets()
            ))),
        }
    }
}

/// What a request asks of a provider: its protocol and operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallKind {
    /// The client's protocol.
    pub protocol: Protocol,
    /// What the route does.
    pub operation: Operation,
}

impl From<Protocol> for CallKind {
    fn from(protocol: Protocol) -> Self {
        CallKind {
            protocol,
            operation: Operation::Generate,
        }
    }
}

impl CallKind {
    /// Whether `provider` can serve this call: any provider serves a
    /// generate call (the engine converts between protocols) and a token
    /// count (upstream, converted, or counted locally); embeddings need the
    /// protocol, or (OpenAI embeddings only) Gemini, which the engine
    /// converts to.
    pub fn served_by(self, provider: &dyn gproxy_provider::Provider) -> bool {
        matches!(self.operation, Operation::Generate | Operation::CountTokens)
            || provider.speaks(self.protocol)
            || (self.operation == Operation::Embeddings
                && self.protocol == Protocol::OpenAiChat
                && provider.speaks(Protocol::Gemini))
    }
}

/// Where a request goes and what the client sees as the model.
#[derive(Debug)]
pub(crate) struct Resolved {
    /// The provider that serves.
    pub provider: Arc<ProviderRuntime>,
    /// The model sent upstream.
    pub model: String,
    /// Whether the body's model must be rewritten before it goes upstream.
    pub rewrite_request: bool,
    /// How the response's model is shown to the client.
    pub reply_model: Option<ModelRewrite>,
    /// Resolved through a model route.
    pub from_route: bool,
}

const LIST_HINT: &str = "GET /v1/models lists the available models";

/// Resolves `client_model` on a route with the given path `provider`
/// (`None` on aggregate routes).
pub(crate) fn resolve(
    providers: &HashMap<String, Arc<ProviderRuntime>>,
    routes: &HashMap<String, Arc<ModelRoute>>,
    path_provider: Option<&str>,
    client_model: &str,
    call: impl Into<CallKind>,
    tried: &[(String, String)],
) -> Result<Resolved, GatewayError> {
    let call = call.into();
    let protocol = call.protocol;
    let (provider, model, reply_model, rewrite_request) = match path_provider {
        // Provider-prefixed routes name the provider; the model goes as written.
        Some(p) => (lookup(providers, p)?, client_model.to_owned(), None, false),
        None => match client_model.split_once('/') {
            Some((p, m)) if !p.is_empty() && !m.is_empty() => (
                lookup(providers, p)?,
                m.to_owned(),
                Some(ModelRewrite::Prefix(p.to_owned())),
                true,
            ),
            _ => {
                let Some(route) = routes.get(client_model) else {
                    return Err(GatewayError::NotFound(format!(
                        "model `{client_model}` not found: on aggregate routes write `provider/model` (e.g. `openai/gpt-4o-mini`) or the name of a model route; {LIST_HINT}"
                    )));
                };
                let (provider, target) = route.resolve_excluding(providers, call, tried)?;
                return Ok(Resolved {
                    provider,
                    model: target.model.clone(),
                    rewrite_request: true,
                    reply_model: Some(ModelRewrite::Replace(route.name.clone())),
                    from_route: true,
                });
            }
        },
    };
    if !call.served_by(provider.provider.as_ref()) {
        return Err(GatewayError::BadRequest(format!(
            "provider `{}` (kind `{}`) does not speak {}; call it with one of: {}",
            provider.name,
            provider.provider.kind(),
            protocol.as_str(),
            provider
                .provider
                .protocols()
                .iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(Resolved {
        provider,
        model,
        rewrite_request,
        reply_model,
        from_route: false,
    })
}

/// The enabled provider named `name`.
fn lookup(
    providers: &HashMap<String, Arc<ProviderRuntime>>,
    name: &str,
) -> Result<Arc<ProviderRuntime>, GatewayError> {
    let provider = providers.get(name).ok_or_else(|| {
        GatewayError::NotFound(format!("provider `{name}` not found; {LIST_HINT}"))
    })?;
    if !provider.enabled {
        return Err(GatewayError::NotFound(format!(
            "provider `{name}` is disabled; {LIST_HINT}"
        )));
    }
    Ok(provider.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use gproxy_credential::CredentialPool;
    use gproxy_provider::ProviderRegistry;

    fn target(provider: &str, model: &str, weight: u32) -> RouteTarget {
        RouteTarget {
            provider: provider.into(),
            model: model.into(),
            weight,
        }
    }

    fn providers(list: &[(&str, &str, bool)]) -> HashMap<String, Arc<ProviderRuntime>> {
        let registry = ProviderRegistry::builtin();
        list.iter()
            .map(|(name, kind, enabled)| {
                let provider = registry.get(kind).unwrap();
                (
                    (*name).to_owned(),
                    Arc::new(ProviderRuntime {
                        id: 1,
                        name: (*name).to_owned(),
                        base_url: provider.default_base_url().to_owned(),
                        provider,
                        enabled: *enabled,
                        pool: CredentialPool::new(Vec::new()),
                        circuit: Default::default(),
                    }),
                )
            })
            .collect()
    }

    #[test]
    fn ordered_picks_the_first_that_serves() {
        let route = ModelRoute::new(
            "smart".into(),
            Strategy::Ordered,
            vec![
                target("gone", "x", 1),
                target("off", "x", 1),
                target("claude", "claude-sonnet-4-5", 1),
                target("openai", "gpt-4o-mini", 1),
                target("deepseek", "deepseek-chat", 1),
            ],
        );
        let p = providers(&[
            ("off", "openai", false),
            ("claude", "claude", true),
            ("openai", "openai", true),
            ("deepseek", "deepseek", true),
        ]);
        // Generate calls: any protocol, the first available target (the
        // engine converts when the provider speaks another protocol).
        for protocol in Protocol::ALL {
            let (provider, t) = route.resolve(&p, protocol).unwrap();
            assert_eq!(
                (provider.name.as_str(), t.model.as_str()),
                ("claude", "claude-sonnet-4-5")
            );
        }
        // Embeddings skip targets that cannot serve them.
        let embed = CallKind {
            protocol: Protocol::OpenAiChat,
            operation: Operation::Embeddings,
        };
        let (provider, _) = route.resolve(&p, embed).unwrap();
        assert_eq!(provider.name, "openai");
    }

    #[test]
    fn tried_targets_are_skipped_for_fallback() {
        let route = ModelRoute::new(
            "smart".into(),
            Strategy::Ordered,
            vec![
                target("openai", "gpt-4o-mini", 1),
                target("deepseek", "deepseek-chat", 1),
            ],
        );
        let p = providers(&[("openai", "openai", true), ("deepseek", "deepseek", true)]);
        let tried = vec![("openai".to_owned(), "gpt-4o-mini".to_owned())];
        let (provider, t) = route
            .resolve_excluding(&p, Protocol::OpenAiChat, &tried)
            .unwrap();
        assert_eq!(
            (provider.name.as_str(), t.model.as_str()),
            ("deepseek", "deepseek-chat")
        );
        let all = vec![
            tried[0].clone(),
            ("deepseek".to_owned(), "deepseek-chat".to_owned()),
        ];
        assert!(
            route
                .resolve_excluding(&p, Protocol::OpenAiChat, &all)
                .is_err()
        );
    }

    #[test]
    fn weighted_spreads_by_weight_over_usable_targets() {
        let route = ModelRoute::new(
            "balanced".into(),
            Strategy::Weighted,
            vec![
                target("a", "m", 3),
                target("b", "m", 1),
                target("off", "m", 5),
                target("claude", "m", 5),
            ],
        );
        let p = providers(&[
            ("a", "openai", true),
            ("b", "deepseek", true),
            ("off", "openai", false),
            ("claude", "claude", true),
        ]);
        let embed = CallKind {
            protocol: Protocol::OpenAiChat,
            operation: Operation::Embeddings,
        };
        let mut counts: HashMap<String, usize> = HashMap::new();
        for _ in 0..4000 {
            let (provider, _) = route.resolve(&p, embed).unwrap();
            *counts.entry(provider.name.clone()).or_default() += 1;
        }
        assert_eq!(counts.get("a"), Some(&3000));
        assert_eq!(counts.get("b"), Some(&1000));
        assert_eq!(
            counts.len(),
            2,
            "disabled and other-protocol targets never serve"
        );
    }

    #[test]
    fn weighted_with_equal_weights_alternates() {
        let route = ModelRoute::new(
            "r".into(),
            Strategy::Weighted,
            vec![target("a", "m", 1), target("b", "m", 0)],
        );
        let picks: Vec<&str> = (0..4)
            .map(|_| route.select(|_| Fit::Serves).unwrap().provider.as_str())
            .collect();
        assert_eq!(picks, ["a", "b", "a", "b"]);
    }

    #[test]
    fn no_usable_target_says_why() {
        let route = ModelRoute::new(
            "r".into(),
            Strategy::Ordered,
            vec![target("claude", "c", 1), target("gone", "x", 1)],
        );
        let p = providers(&[("claude", "claude", true)]);
        let embed = CallKind {
            protocol: Protocol::OpenAiChat,
            operation: Operation::Embeddings,
        };
        let err = route.resolve(&p, embed).unwrap_err();
        assert_eq!(err.status(), 400);
        assert!(err.to_string().contains("speaks openai_chat"), "{err}");

        let p = providers(&[("claude", "claude", false)]);
        let err = route.resolve(&p, Protocol::OpenAiChat).unwrap_err();
        assert_eq!(err.status(), 404);
        for strategy in [Strategy::Ordered, Strategy::Weighted] {
            let route = ModelRoute::new("r".into(), strategy, vec![target("x", "m", 1)]);
            assert_eq!(route.select(|_| Fit::Missing), Err(NoTarget::Unavailable));
            assert_eq!(
                route.select(|_| Fit::OtherProtocol),
                Err(NoTarget::Protocol)
            );
        }
    }

    #[test]
    fn client_models_resolve_by_route_kind() {
        let p = providers(&[("openai", "openai", true), ("claude", "claude", true)]);
        let mut routes = HashMap::new();
        routes.insert(
            "smart".to_owned(),
            Arc::new(ModelRoute::new(
                "smart".into(),
                Strategy::Ordered,
                vec![target("openai", "gpt-4o-mini", 1)],
            )),
        );
        let chat = Protocol::OpenAiChat;

        let r = resolve(&p, &routes, None, "openai/gpt-4o", chat, &[]).unwrap();
        assert_eq!(
            (r.provider.name.as_str(), r.model.as_str()),
            ("openai", "gpt-4o")
        );
        assert_eq!(r.reply_model, Some(ModelRewrite::Prefix("openai".into())));

        let r = resolve(&p, &routes, None, "smart", chat, &[]).unwrap();
        assert_eq!(r.model, "gpt-4o-mini");
        assert_eq!(r.reply_model, Some(ModelRewrite::Replace("smart".into())));

        // Provider routes never resolve aliases.
        let r = resolve(&p, &routes, Some("openai"), "smart", chat, &[]).unwrap();
        assert_eq!(
            (r.model.as_str(), r.reply_model, r.rewrite_request),
            ("smart", None, false)
        );

        let err = resolve(&p, &routes, None, "nope", chat, &[]).unwrap_err();
        assert_eq!(err.status(), 404);
        assert!(err.to_string().contains("GET /v1/models"), "{err}");
        let err = resolve(&p, &routes, None, "nope/m", chat, &[]).unwrap_err();
        assert!(
            err.to_string().contains("provider `nope` not found"),
            "{err}"
        );
        // Any provider serves a generate call; embeddings need the protocol.
        let r = resolve(&p, &routes, None, "claude/c", chat, &[]).unwrap();
        assert_eq!(r.provider.name, "claude");
        let embed = CallKind {
            protocol: chat,
            operation: Operation::Embeddings,
        };
        let err = resolve(&p, &routes, None, "claude/c", embed, &[]).unwrap_err();
        assert_eq!(err.status(), 400);
    }
}
