//! The request pipeline: authenticate, resolve the provider and model,
//! rewrite only the fields the gateway must touch, dispatch upstream, and
//! hand back a response whose accounting completes off the hot path.
//!
//! - [`plan`]: resolve and rewrite, once per route target.
//! - [`dispatch`]: the fallback loop over a model route's targets, the
//!   single upstream attempt, and turning the answer into a response.
//! - [`retry`]: the retry loop around the single attempt for one target:
//!   circuit admission, credential leases, failure handling, backoff.

mod dispatch;
mod plan;
mod retry;

use gproxy_protocol::capabilities::{CapabilityTable, ModelCapabilities};
use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;

use crate::upstream::ResponseBody;
use bytes::Bytes;
use gproxy_credential::{Credential, LimiterStore};
use gproxy_protocol::Protocol;
use gproxy_storage::UsageSink;
use http::header::HeaderName;
use http::{HeaderMap, HeaderValue, Method, Response};

use crate::GatewayError;
use crate::accounting::{Accounting, Outcome};
use crate::body::{ProxyBody, StreamWatch};
use crate::models::{self, ModelCatalog, ModelListing};
use crate::resilience::ResilienceState;
use crate::settings::{Limits, Logging, Resilience};
use crate::state::{Principal, StateHandle};
use crate::stream::StreamProcessor;
use crate::tokens::TokenCache;
use crate::upstream::UpstreamClient;

/// A Gemini call named by the URL path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeminiCall {
    /// API version segment (`v1beta` or `v1`).
    pub version: String,
    /// The model segment (on aggregate routes `provider/model`).
    pub model: String,
    /// Which Gemini method.
    pub method: GeminiMethod,
    /// The client asked for `alt=sse`.
    pub alt_sse: bool,
}

/// The Gemini method named after the `:` in the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeminiMethod {
    /// `generateContent`.
    GenerateContent,
    /// `streamGenerateContent`.
    StreamGenerateContent,
    /// `embedContent`.
    EmbedContent,
    /// `batchEmbedContents`.
    BatchEmbedContents,
    /// `countTokens` (served by [`Engine::count_tokens`]).
    CountTokens,
}

impl GeminiMethod {
    /// The method from its path name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "generateContent" => Some(GeminiMethod::GenerateContent),
            "streamGenerateContent" => Some(GeminiMethod::StreamGenerateContent),
            "embedContent" => Some(GeminiMethod::EmbedContent),
            "batchEmbedContents" => Some(GeminiMethod::BatchEmbedContents),
            "countTokens" => Some(GeminiMethod::CountTokens),
            _ => None,
        }
    }

    /// Whether this method generates (rather than embeds).
    pub fn is_generate(self) -> bool {
        matches!(
            self,
            GeminiMethod::GenerateContent | GeminiMethod::StreamGenerateContent
        )
    }
}

/// What a route does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Chat, responses, messages, generateContent.
    Generate,
    /// Embeddings (OpenAI `/v1/embeddings`, Gemini `embedContent` /
    /// `batchEmbedContents`).
    Embeddings,
    /// Token counting (Anthropic `count_tokens`, Gemini `countTokens`,
    /// OpenAI `input_tokens`), served by [`Engine::count_tokens`].
    CountTokens,
}

/// Which proxy route a request came in on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyRoute {
    /// The protocol the client speaks.
    pub protocol: Protocol,
    /// The provider, on provider-prefixed routes (`/{provider}/...`).
    pub provider: Option<String>,
    /// Set for Gemini calls.
    pub gemini: Option<GeminiCall>,
    /// What the route does.
    pub operation: Operation,
}

/// An authenticated request ready for the engine.
#[derive(Debug)]
pub struct ProxyRequest {
    /// The request id (from `X-Request-Id` or generated).
    pub request_id: String,
    /// The matched route.
    pub route: ProxyRoute,
    /// HTTP method.
    pub method: Method,
    /// Request path (for the log).
    pub path: String,
    /// Client headers.
    pub headers: HeaderMap,
    /// The whole request body (already size-limited).
    pub body: Bytes,
    /// Who sent it.
    pub principal: Arc<Principal>,
    /// When the gateway received it.
    pub started: Instant,
}

/// The engine: shared by every connection.
#[derive(Debug)]
pub struct Engine {
    pub(crate) state: Arc<StateHandle>,
    pub(crate) upstream: UpstreamClient,
    pub(crate) models: ModelCatalog,
    pub(crate) tokens: TokenCache,
    /// OAuth logins, token refreshes and quotas.
    pub(crate) oauth: Arc<crate::oauth::OAuthManager>,
    pub(crate) sink: UsageSink,
    pub(crate) limits: arc_swap::ArcSwap<Limits>,
    pub(crate) resilience: Arc<ResilienceState>,
    pub(crate) change_bus: Option<Arc<crate::sync::ChangeBus>>,
    /// The CORS policy of the proxy routes, changed live by
    /// [`Engine::set_cors`].
    pub(crate) cors: ArcSwap<crate::config::Cors>,
    /// The logging settings, changed live by [`Engine::set_logging`].
    pub(crate) logging: Arc<ArcSwap<Logging>>,
    /// What target models accept, for converted requests.
    pub(crate) capabilities: Arc<CapabilityTable>,
    /// Counters of the client edge (connections, refusals, timeouts).
    pub(crate) edge: Arc<crate::edge::EdgeStats>,
    /// Metrics, traces and the live feed.
    pub(crate) observe: Arc<crate::observe::Observability>,
    /// The rate limiter; `None` when no limit is set (the hot path then
    /// costs one load and branch).
    pub(crate) rate_limiter: arc_swap::ArcSwapOption<crate::ratelimit::RateLimiter>,
    /// The budgets; `None` when none is set.
    pub(crate) budgets: arc_swap::ArcSwapOption<crate::budget::Budgeter>,
    /// The response cache; `None` when off.
    pub(crate) cache: arc_swap::ArcSwapOption<crate::cache::ResponseCache>,
    /// The prices in force (catalogue plus overrides), swapped live.
    pub(crate) prices: ArcSwap<crate::cost::PriceBook>,
    /// The catalogue refresh's status.
    pub(crate) price_refresh: Arc<crate::price_refresh::PriceRefresh>,
}

/// The credential of a keyless provider with none configured.
pub(crate) static NO_CREDENTIAL: Credential = Credential::None;

impl Engine {
    /// OAuth logins, token refreshes and quotas (admin API).
    pub fn oauth(&self) -> &Arc<crate::oauth::OAuthManager> {
        &self.oauth
    }

    /// A new engine over `state`.
    pub fn new(
        state: Arc<StateHandle>,
        upstream: UpstreamClient,
        sink: UsageSink,
        limits: Limits,
    ) -> Self {
        let oauth = Arc::new(crate::oauth::OAuthManager::new(
            upstream.clone(),
            state.sealer().clone(),
        ));
        Engine {
            state,
            models: ModelCatalog::new(upstream.clone(), models::CACHE_TTL, oauth.clone()),
            tokens: TokenCache::new(upstream.clone(), oauth.clone()),
            oauth,
            upstream,
            sink,
            limits: arc_swap::ArcSwap::from_pointee(limits),
            resilience: Arc::new(ResilienceState::new(Resilience::default(), None)),
            change_bus: None,
            logging: Arc::new(ArcSwap::from_pointee(Logging::default())),
            cors: ArcSwap::from_pointee(crate::config::Cors::default()),
            capabilities: Arc::new(CapabilityTable::builtin().clone()),
            edge: Arc::default(),
            observe: Arc::default(),
            rate_limiter: arc_swap::ArcSwapOption::empty(),
            budgets: arc_swap::ArcSwapOption::empty(),
            cache: arc_swap::ArcSwapOption::empty(),
            prices: ArcSwap::from_pointee(crate::cost::PriceBook::default()),
            price_refresh: Arc::default(),
        }
    }

    /// The prices in force: the catalogue with the overrides applied.
    pub fn prices(&self) -> Arc<crate::cost::PriceBook> {
        self.prices.load_full()
    }

    /// What the catalogue refresh last did.
    pub fn price_refresh_status(&self) -> crate::price_refresh::RefreshStatus {
        self.price_refresh.status()
    }

    /// Puts `book` in force (a changed override, a refreshed catalogue).
    pub fn set_prices(&self, book: crate::cost::PriceBook) {
        self.prices.store(Arc::new(book));
    }

    /// This engine reporting to `observe`.
    pub fn with_observability(mut self, observe: crate::observe::Observability) -> Self {
        self.observe = Arc::new(observe);
        self
    }

    /// This engine with `logging` in force.
    pub fn with_logging(self, logging: Logging) -> Self {
        self.logging.store(Arc::new(logging));
        self
    }

    /// The logging settings in force.
    pub fn logging(&self) -> Arc<Logging> {
        self.logging.load_full()
    }

    /// Puts `logging` in force for every request that starts from now on
    /// (the caller persists it: settings key
    /// [`crate::bootstrap::SETTING_LOGGING`]).
    pub fn set_logging(&self, logging: Logging) {
        self.logging.store(Arc::new(logging));
    }

    /// The shared pointer to the live logging settings (for background
    /// tasks such as retention).
    pub fn logging_handle(&self) -> Arc<ArcSwap<Logging>> {
        self.logging.clone()
    }

    /// Puts `overrides` (the config's `[[model_capabilities]]`) ahead of
    /// the built-in capability table.
    pub fn with_model_capabilities(mut self, overrides: &[ModelCapabilities]) -> Self {
        self.capabilities = Arc::new(CapabilityTable::builtin().with_overrides(overrides));
        self
    }

    /// This engine with `settings` for retries and the circuit breaker, and
    /// `shared` as the store several instances share (`None`: local state).
    pub fn with_resilience(
        mut self,
        settings: Resilience,
        shared: Option<Arc<dyn LimiterStore>>,
    ) -> Self {
        self.resilience = Arc::new(ResilienceState::new(settings, shared));
        self
    }

    /// This engine announcing and watching changes through `bus`.
    pub fn with_change_bus(mut self, bus: Arc<crate::sync::ChangeBus>) -> Self {
        self.change_bus = Some(bus);
        self
    }

    /// The change bus: call [`crate::sync::ChangeBus::publish`] after every
    /// accepted write.
    pub fn change_bus(&self) -> Option<&Arc<crate::sync::ChangeBus>> {
        self.change_bus.as_ref()
    }

    /// The resilience settings in force.
    pub fn resilience(&self) -> Resilience {
        (*self.resilience.settings()).clone()
    }

    /// Replaces the retry and circuit settings (live reconfiguration).
    pub fn set_resilience(&self, settings: Resilience) {
        self.resilience.set_settings(settings);
    }

    /// Puts `config` in force for every request that starts from now on;
    /// the counters are kept when the backend settings are unchanged.
    pub fn set_rate_limits(&self, config: &crate::config::RateLimitsConfig) {
        let previous = self.rate_limiter.load_full();
        let next = crate::ratelimit::RateLimiter::build(config, previous.as_deref());
        if let Some(l) = &next {
            tracing::info!(backend = l.backend(), "rate limits in force");
        }
        self.rate_limiter.store(next.map(Arc::new));
    }

    /// Puts `config`'s budgets in force for every request that starts from
    /// now on (spend read from `storage`'s request log); the counters are
    /// kept when the backend settings are unchanged.
    pub fn set_budgets(
        &self,
        config: &crate::config::BudgetsConfig,
        storage: Option<gproxy_storage::Storage>,
    ) {
        let previous = self.budgets.load_full();
        let next = crate::budget::Budgeter::build(config, previous.as_deref(), storage);
        if let Some(b) = &next {
            tracing::info!(
                backend = b.backend(),
                timezone = b.timezone(),
                "budgets in force"
            );
        }
        self.budgets.store(next.map(Arc::new));
    }

    /// Puts `config`'s response cache in force (entries kept when the
    /// backend settings are unchanged).
    pub fn set_cache(&self, config: &crate::config::CacheConfig) {
        let previous = self.cache.load_full();
        let next = crate::cache::ResponseCache::build(config, previous.as_deref());
        if next.is_some() {
            tracing::info!(backend = ?config.backend.unwrap_or_default(), "response cache on");
        }
        self.cache.store(next.map(Arc::new));
    }

    /// The response cache in force (`None`: off).
    pub fn cache(&self) -> Option<Arc<crate::cache::ResponseCache>> {
        self.cache.load_full()
    }

    /// The budgets in force (`None`: none set).
    pub fn budgets(&self) -> Option<Arc<crate::budget::Budgeter>> {
        self.budgets.load_full()
    }

    /// The rate limiter in force (`None`: no limit set).
    pub fn rate_limiter(&self) -> Option<Arc<crate::ratelimit::RateLimiter>> {
        self.rate_limiter.load_full()
    }

    /// The state handle (for reloads and health).
    pub fn state(&self) -> &Arc<StateHandle> {
        &self.state
    }

    /// The CORS policy in force (cheap: no reference count is taken).
    pub fn cors(&self) -> arc_swap::Guard<Arc<crate::config::Cors>> {
        self.cors.load()
    }

    /// Replaces the CORS policy (live reconfiguration).
    pub fn set_cors(&self, cors: crate::config::Cors) {
        self.cors.store(Arc::new(cors));
    }

    /// The shared upstream client.
    pub fn upstream(&self) -> &UpstreamClient {
        &self.upstream
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        **self.limits.load()
    }

    /// Replaces the limits (live reconfiguration); the next request uses them.
    pub fn set_limits(&self, limits: Limits) {
        self.limits.store(Arc::new(limits));
    }

    /// The usage sink.
    pub fn sink(&self) -> &UsageSink {
        &self.sink
    }

    /// Counters of the client edge, updated by the router.
    pub fn edge_stats(&self) -> &Arc<crate::edge::EdgeStats> {
        &self.edge
    }

    /// The principal a presented key belongs to.
    pub fn authenticate(&self, key: Option<&str>) -> Result<Arc<Principal>, GatewayError> {
        let Some(key) = key.filter(|k| !k.is_empty()) else {
            return Err(GatewayError::Unauthorized(
                "missing API key: send it as `Authorization: Bearer <key>`, `x-api-key`, `x-goog-api-key` or `?key=`".into(),
            ));
        };
        let principal = self
            .state
            .load()
            .authenticate(key)
            .cloned()
            .ok_or_else(|| GatewayError::Unauthorized("invalid API key".into()))?;
        if let Some(until) = principal.expires_at_ms
            && i64::try_from(gproxy_credential::clock::now_ms()).unwrap_or(i64::MAX) >= until
        {
            return Err(GatewayError::Unauthorized("API key expired".into()));
        }
        Ok(principal)
    }

    /// Lists the models of every enabled provider plus the model routes
    /// (`provider` `None`), or of one provider; only those `principal`'s
    /// key may call.
    pub async fn list_models(
        &self,
        provider: Option<&str>,
        principal: &Principal,
    ) -> Result<ModelListing, GatewayError> {
        let snapshot = self.state.load_full();
        self.models
            .list(&snapshot, provider, principal.access.as_deref())
            .await
    }

    /// Proxies one request. Errors are returned for the router to render;
    /// either way the request's log row is recorded.
    pub async fn proxy(&self, mut req: ProxyRequest) -> Result<Response<ProxyBody>, GatewayError> {
        // The id and the path are only needed for the log row: move them.
        let logging = self.logging.load();
        let mut accounting = Accounting::start(
            self,
            &logging,
            &req.principal,
            &req.headers,
            std::mem::take(&mut req.request_id),
            req.route.protocol.as_str(),
            &req.method,
            std::mem::take(&mut req.path),
            req.started,
        );
        accounting.set_operation(match (req.route.operation, req.route.protocol) {
            (Operation::Embeddings, _) => "embeddings",
            (Operation::CountTokens, _) => "count_tokens",
            (Operation::Generate, Protocol::Gemini) => "generate_content",
            (Operation::Generate, _) => "chat",
        });
        accounting.capture_request(&logging, &req.headers, Some(&req.body));
        drop(logging);
        let mut dispatched = self.dispatch(&req, &mut accounting).await;
        if let Ok(d) = &mut dispatched {
            if let Some(rate) = accounting.rate_headers() {
                rate.apply(d.headers_mut());
            }
            if let Some(status) = accounting.cache_status() {
                const NAME: HeaderName = HeaderName::from_static(crate::cache::CACHE_HEADER);
                d.headers_mut()
                    .insert(NAME, HeaderValue::from_static(status));
                accounting.cache_content_type(d.headers_mut());
            }
        }
        match dispatched {
            Ok(Dispatched::Stream {
                response,
                head,
                incoming,
                processor,
                watch,
            }) => {
                let status = response.status().as_u16();
                accounting.keep_request(req.route.protocol, req.body.clone());
                let body = ProxyBody::stream(
                    head,
                    incoming,
                    *processor,
                    self.limits().stream_idle_timeout,
                    accounting,
                    status,
                    Some(watch),
                );
                Ok(response.map(|()| body))
            }
            Ok(Dispatched::Cached(entry, mut response)) => {
                accounting.first_byte();
                accounting.cache_hit();
                if accounting.captures()
                    && let Some(body) = response.body().as_full()
                {
                    accounting.capture_response(body);
                }
                cost_header(response.headers_mut(), 0);
                accounting.finish(Outcome {
                    status: 200,
                    usage: entry.usage,
                    error: None,
                    client_disconnected: false,
                });
                Ok(response)
            }
            Ok(Dispatched::Full(mut response, usage)) => {
                if let Some(cost) = usage.as_ref().and_then(|u| accounting.price(u)) {
                    cost_header(response.headers_mut(), cost);
                }
                if accounting.captures()
                    && let Some(body) = response.body().as_full()
                {
                    accounting.capture_response(body);
                }
                accounting.finish(Outcome {
                    status: response.status().as_u16(),
                    usage,
                    error: None,
                    client_disconnected: false,
                });
                Ok(response)
            }
            Err(e) => {
                if let GatewayError::Upstream(failure) = &e {
                    accounting.capture_response(&failure.body);
                }
                accounting.finish(Outcome::failed(&e));
                Err(e)
            }
        }
    }
}

/// What dispatch produced.
enum Dispatched {
    /// A streaming response; its body records the log row when it ends.
    Stream {
        response: Response<()>,
        /// The start of the body, read while waiting for the first event.
        head: Bytes,
        incoming: ResponseBody,
        processor: Box<StreamProcessor>,
        watch: StreamWatch,
    },
    /// A complete response; the caller records the row now.
    Full(Response<ProxyBody>, Option<gproxy_protocol::Usage>),
    /// An answer from the response cache, ready to go.
    Cached(Arc<crate::cache::Entry>, Response<ProxyBody>),
}

impl Dispatched {
    fn headers_mut(&mut self) -> &mut HeaderMap {
        match self {
            Dispatched::Stream { response, .. } => response.headers_mut(),
            Dispatched::Full(response, _) | Dispatched::Cached(_, response) => {
                response.headers_mut()
            }
        }
    }
}

/// Response header naming the provider that served a proxied request.
pub const PROVIDER_HEADER: &str = "x-gproxy-provider";
/// Response header naming the upstream model that served a proxied request.
pub const MODEL_HEADER: &str = "x-gproxy-model";

/// Response header with what a non-stream request cost, USD (a decimal
/// string); absent when the price is unknown.
pub const COST_HEADER: &str = "x-gproxy-cost";

/// Sets [`COST_HEADER`] to `nanos` nano-dollars, written in USD.
fn cost_header(headers: &mut HeaderMap, nanos: i64) {
    const NAME: HeaderName = HeaderName::from_static(COST_HEADER);
    let mut buf = [0u8; crate::cost::USD_TEXT_MAX];
    if let Ok(v) = HeaderValue::from_bytes(crate::cost::usd_text(nanos, &mut buf)) {
        headers.insert(NAME, v);
    }
}

/// Adds [`PROVIDER_HEADER`] and [`MODEL_HEADER`] (skipping a value that is
/// not a valid header value).
pub(crate) fn served_by(headers: &mut HeaderMap, provider: &str, model: &str) {
    // Built at compile time (`from_static` at run time validates).
    const NAMES: [HeaderName; 2] = [
        HeaderName::from_static(PROVIDER_HEADER),
        HeaderName::from_static(MODEL_HEADER),
    ];
    for (name, value) in NAMES.into_iter().zip([provider, model]) {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(name, v);
        }
    }
}

/// An upstream error answer as the client gets it: the answer's `headers`
/// (already filtered) plus [`served_by`], and its body as received or, for
/// a converted call (`client_shape`), its message re-rendered in the
/// client's protocol shape with the upstream's status.
pub(crate) fn upstream_failure(
    provider: &str,
    model: &str,
    status: http::StatusCode,
    mut headers: HeaderMap,
    body: Bytes,
    client_shape: Option<Protocol>,
) -> GatewayError {
    let body = match client_shape {
        None => body,
        Some(protocol) => {
            let message = gproxy_protocol::error::message_of(&body)
                .unwrap_or_else(|| format!("upstream `{provider}` answered {status}"));
            headers.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            Bytes::from(gproxy_protocol::error::error_body(
                protocol,
                status.as_u16(),
                &message,
            ))
        }
    };
    served_by(&mut headers, provider, model);
    GatewayError::Upstream(Box::new(crate::UpstreamFailure {
        provider: provider.to_owned(),
        status,
        headers,
        body,
    }))
}
