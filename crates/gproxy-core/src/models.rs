//! Model lists: each provider's upstream list, fetched through the shared
//! upstream client and cached, with the provider kind's built-in fallback
//! list when the upstream list cannot be had.
//!
//! - A provider whose kind has no list endpoint, or that needs a key and has
//!   none, lists its fallback (not a failure: nothing was asked).
//! - A provider whose upstream list call fails (status, network, timeout,
//!   unreadable body) lists its fallback and is named in
//!   [`ModelListing::partial`]. Failures are not cached: the next listing
//!   asks again.
//! - A successful list is cached per (provider name, base URL) for
//!   [`CACHE_TTL`]; concurrent listings of one provider share one call.
//! - A key with allow-lists sees only what it may call: providers outside
//!   its list are not asked, models and routes it may not use are left out,
//!   and a provider's own listing outside its list is a 403.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use gproxy_credential::Credential;
use gproxy_provider::ModelInfo;
use http::header::ACCEPT;
use http::{HeaderMap, HeaderValue, Method, Request};
use http_body_util::{BodyExt, Limited};
use moka::future::Cache;

use crate::GatewayError;
use crate::access::KeyAccess;
use crate::model_route::ModelRoute;
use crate::state::{ProviderRuntime, Snapshot};
use crate::upstream::{UpstreamBody, UpstreamClient};

/// How long a fetched upstream list is reused.
pub const CACHE_TTL: Duration = Duration::from_secs(600);
/// Time allowed for one provider's whole list (every page).
pub const LIST_TIMEOUT: Duration = Duration::from_secs(15);
/// Most pages followed for one provider.
const MAX_PAGES: usize = 20;
/// Largest list page read, in bytes.
const MAX_PAGE_BYTES: usize = 16 * 1024 * 1024;
/// Most cached provider lists.
const CACHE_CAPACITY: u64 = 1024;

/// Owner shown for model routes.
pub const ROUTE_OWNER: &str = "gproxy";

/// The credential of a keyless provider with none configured.
static NO_CREDENTIAL: Credential = Credential::None;

/// Where a listed model comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelSource {
    /// The provider's upstream list.
    Upstream,
    /// The provider kind's built-in fallback list.
    Fallback,
    /// A model route (alias) of this gateway.
    Route,
}

/// One entry of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedModel {
    /// The id clients use (`provider/model` on aggregate listings).
    pub id: String,
    /// Human-readable name, when known.
    pub display_name: Option<String>,
    /// Creation or release time in Unix seconds, when known.
    pub created: Option<i64>,
    /// Owner: the upstream's `owned_by`, else the provider name
    /// ([`ROUTE_OWNER`] for routes).
    pub owned_by: String,
    /// Where it comes from.
    pub source: ModelSource,
}

/// The answer to a model listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelListing {
    /// The models.
    pub models: Vec<ListedModel>,
    /// Providers whose upstream list failed (their fallback is listed).
    pub partial: Vec<String>,
}

/// One provider's models.
#[derive(Debug, Clone)]
struct ProviderModels {
    models: Arc<Vec<ModelInfo>>,
    source: ModelSource,
    failed: bool,
}

/// The cache of upstream model lists.
#[derive(Debug, Clone)]
pub struct ModelCatalog {
    cache: Cache<(String, String), Arc<Vec<ModelInfo>>>,
    upstream: UpstreamClient,
    /// Renews an OAuth credential's token before a list call.
    oauth: Arc<crate::oauth::OAuthManager>,
}

impl ModelCatalog {
    /// A catalog fetching through `upstream`, caching for `ttl`.
    pub fn new(
        upstream: UpstreamClient,
        ttl: Duration,
        oauth: Arc<crate::oauth::OAuthManager>,
    ) -> Self {
        ModelCatalog {
            oauth,
            cache: Cache::builder()
                .max_capacity(CACHE_CAPACITY)
                .time_to_live(ttl)
                .build(),
            upstream,
        }
    }

    /// Lists the enabled providers (all of them, or only `provider`) and,
    /// on aggregate listings, the model routes. Aggregate ids are
    /// `provider/model`. With `access`, only what that key may call.
    pub async fn list(
        &self,
        snapshot: &Snapshot,
        provider: Option<&str>,
        access: Option<&KeyAccess>,
    ) -> Result<ModelListing, GatewayError> {
        let mut listing = ModelListing::default();
        let providers: Vec<&Arc<ProviderRuntime>> = match provider {
            Some(name) => {
                let p = snapshot.providers.get(name).ok_or_else(|| {
                    GatewayError::NotFound(format!(
                        "provider `{name}` not found; GET /v1/models lists the available models"
                    ))
                })?;
                if !p.enabled {
                    return Err(GatewayError::NotFound(format!(
                        "provider `{name}` is disabled"
                    )));
                }
                if access.is_some_and(|a| !a.allows_provider(name)) {
                    return Err(GatewayError::Forbidden(format!(
                        "this API key may not use provider `{name}`"
                    )));
                }
                vec![p]
            }
            None => {
                listing.models = route_entries(&snapshot.routes, access);
                let mut all: Vec<_> = snapshot
                    .providers
                    .values()
                    .filter(|p| p.enabled && access.is_none_or(|a| a.allows_provider(&p.name)))
                    .collect();
                all.sort_by(|a, b| a.name.cmp(&b.name));
                all
            }
        };
        let lists =
            futures_util::future::join_all(providers.iter().map(|p| self.provider_models(p))).await;
        for (p, list) in providers.iter().zip(lists) {
            if list.failed {
                listing.partial.push(p.name.clone());
            }
            for m in list.models.iter() {
                // Asked by its listed name: the bare id or `provider/id`,
                // both of which `allows_model` matches already.
                if access.is_some_and(|a| !a.allows_model(&p.name, &m.id, &m.id)) {
                    continue;
                }
                listing.models.push(ListedModel {
                    id: match provider {
                        Some(_) => m.id.clone(),
                        None => format!("{}/{}", p.name, m.id),
                    },
                    display_name: m.display_name.clone(),
                    created: m.created,
                    owned_by: m.owned_by.clone().unwrap_or_else(|| p.name.clone()),
                    source: list.source,
                });
            }
        }
        Ok(listing)
    }

    /// One provider's models: its upstream list (cached) or its fallback.
    async fn provider_models(&self, p: &ProviderRuntime) -> ProviderModels {
        let fallback = |failed| ProviderModels {
            models: Arc::new(
                p.provider
                    .fallback_models()
                    .iter()
                    .map(|id| ModelInfo::bare(*id))
                    .collect(),
            ),
            source: ModelSource::Fallback,
            failed,
        };
        let listable = p.provider.models_url(&p.base_url, None).is_some();
        if !listable || (p.pool.is_empty() && p.provider.requires_credential()) {
            return fallback(false);
        }
        let key = (p.name.clone(), p.base_url.clone());
        match self.cache.try_get_with(key, self.fetch(p)).await {
            Ok(models) => ProviderModels {
                models,
                source: ModelSource::Upstream,
                failed: false,
            },
            Err(e) => {
                tracing::warn!(provider = %p.name, error = %e, "model list failed; listing the fallback");
                fallback(true)
            }
        }
    }

    /// Fetches every page of `p`'s upstream list within [`LIST_TIMEOUT`].
    async fn fetch(&self, p: &ProviderRuntime) -> Result<Arc<Vec<ModelInfo>>, String> {
        match tokio::time::timeout(LIST_TIMEOUT, self.fetch_pages(p)).await {
            Ok(result) => result.map(Arc::new),
            Err(_) => Err(format!("no complete answer within {LIST_TIMEOUT:?}")),
        }
    }

    async fn fetch_pages(&self, p: &ProviderRuntime) -> Result<Vec<ModelInfo>, String> {
        let picked = p.pool.pick();
        let credential = match picked.as_ref() {
            Some(c) => self
                .oauth
                .usable(c.id, &c.credential, p.provider.as_ref())
                .await
                .map_err(|e| format!("the credential's token cannot be renewed: {e}"))?,
            None => NO_CREDENTIAL.clone(),
        };
        let credential = &credential;
        let mut models = Vec::new();
        let mut page: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let Some(url) = p.provider.models_url(&p.base_url, page.as_deref()) else {
                break;
            };
            let mut headers = HeaderMap::new();
            p.provider.default_headers(&mut headers);
            p.provider
                .apply_auth(credential, &mut headers)
                .map_err(|e| e.to_string())?;
            headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
            // A `POST` list (Code Assist's `fetchAvailableModels`).
            let (method, body) = match p.provider.models_body() {
                Some(body) => {
                    headers.insert(
                        http::header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    );
                    headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(body.len()));
                    (Method::POST, Bytes::from_static(body))
                }
                None => (Method::GET, Bytes::new()),
            };
            let mut builder = Request::builder().method(method).uri(&url);
            if let Some(h) = builder.headers_mut() {
                *h = headers;
            }
            let request = builder
                .body(UpstreamBody::full(body))
                .map_err(|e| format!("building the request for {url}: {e}"))?;
            let response = self
                .upstream
                .send(request)
                .await
                .map_err(|e| format!("cannot reach the upstream: {e}"))?;
            let status = response.status();
            if !status.is_success() {
                return Err(format!("the upstream answered {status}"));
            }
            let body = Limited::new(response.into_body(), MAX_PAGE_BYTES)
                .collect()
                .await
                .map_err(|e| format!("reading the list: {e}"))?
                .to_bytes();
            let parsed = p.provider.parse_models(&body).map_err(|e| e.to_string())?;
            models.extend(parsed.models);
            match parsed.next_page {
                Some(next) if page.as_ref() != Some(&next) => page = Some(next),
                _ => break,
            }
        }
        Ok(models)
    }
}

/// The model routes as listing entries, sorted by name.
/// The model routes, as listed: with `access`, a route shows when one of
/// its targets is a provider and model that key may use under the route's
/// name (what the proxy checks when it picks that target).
fn route_entries(
    routes: &HashMap<String, Arc<ModelRoute>>,
    access: Option<&KeyAccess>,
) -> Vec<ListedModel> {
    let mut names: Vec<&String> = routes
        .iter()
        .filter(|(name, route)| {
            access.is_none_or(|a| {
                route.targets.iter().any(|t| {
                    a.allows_provider(&t.provider) && a.allows_model(&t.provider, &t.model, name)
                })
            })
        })
        .map(|(name, _)| name)
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| ListedModel {
            id: name.clone(),
            display_name: None,
            created: None,
            owned_by: ROUTE_OWNER.to_owned(),
            source: ModelSource::Route,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model_route::{RouteTarget, Strategy};

    fn route(name: &str, targets: &[(&str, &str)]) -> (String, Arc<ModelRoute>) {
        let targets = targets
            .iter()
            .map(|(provider, model)| RouteTarget {
                provider: (*provider).to_owned(),
                model: (*model).to_owned(),
                weight: 1,
            })
            .collect();
        (
            name.to_owned(),
            Arc::new(ModelRoute::new(name.to_owned(), Strategy::Ordered, targets)),
        )
    }

    fn names(entries: Vec<ListedModel>) -> Vec<String> {
        entries.into_iter().map(|m| m.id).collect()
    }

    #[test]
    fn routes_listed_for_a_key_are_those_it_may_call() {
        let routes: HashMap<_, _> = [
            route("smart", &[("openai", "gpt-4o"), ("claude", "claude-x")]),
            route("cheap", &[("claude", "claude-haiku")]),
            route("fast", &[("openai", "gpt-4o-mini")]),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            names(route_entries(&routes, None)),
            ["cheap", "fast", "smart"]
        );
        let openai_only = KeyAccess::from_lists(Some(vec!["openai".into()]), None).unwrap();
        assert_eq!(
            names(route_entries(&routes, Some(&openai_only))),
            ["fast", "smart"]
        );
        // A model pattern may name the route itself.
        let by_name = KeyAccess::from_lists(None, Some(vec!["smart".into()])).unwrap();
        assert_eq!(names(route_entries(&routes, Some(&by_name))), ["smart"]);
        let none = KeyAccess::from_lists(Some(vec!["groq".into()]), None).unwrap();
        assert!(route_entries(&routes, Some(&none)).is_empty());
    }
}
