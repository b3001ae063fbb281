//! The HTTP edge of the gproxy LLM gateway: a plain hyper service that
//! matches routes, extracts the client key and the request id, limits the
//! body, calls the engine once and renders errors in the protocol the
//! client spoke.
//!
//! [`Gateway::start`] assembles everything the `gproxy` binary runs
//! (start-up, engine, control plane, admin API) into a [`Router`]. Serve it
//! on its own listener with [`serve`], or mount [`Gateway::service`] (a
//! `tower` service) inside an existing axum or hyper application next to
//! its own routes: see `examples/embed_axum.rs` and docs/embedding.md.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use gproxy_router::{Gateway, StartupArgs};
//! use http_body_util::Empty;
//!
//! let data = tempfile::tempdir()?;
//! let gateway = Gateway::start(StartupArgs {
//!     // SQLite database and master key go here; a config file
//!     // (`config`) would add providers, credentials and users.
//!     data_dir: Some(data.path().to_owned()),
//!     admin_key: Some("sk-admin-doc-example-0001".to_owned()),
//!     ..StartupArgs::default()
//! })
//! .await?;
//!
//! // One request, answered in-process; errors are responses too.
//! let health = http::Request::get("/health").body(Empty::<bytes::Bytes>::new())?;
//! let response = gateway.router().handle(health).await?;
//! assert_eq!(response.status(), http::StatusCode::OK);
//!
//! let chat = http::Request::post("/v1/chat/completions").body(Empty::<bytes::Bytes>::new())?;
//! let response = gateway.router().handle(chat).await?;
//! assert_eq!(response.status(), http::StatusCode::UNAUTHORIZED);
//!
//! gateway.shutdown(std::time::Duration::from_secs(5)).await;
//! # Ok(())
//! # }
//! ```

mod auth;
mod conn;
mod cors;
pub mod fdlimit;
mod gateway;
mod h1;
mod models;
mod render;
mod routes;
mod server;
mod site;
mod throttle;

pub use gateway::{Gateway, GatewayService};
pub use gproxy_core::{CoreError, StartupArgs};
pub use models::PARTIAL_HEADER;
pub use routes::{Route, match_route};
pub use server::{CoreListeners, MAX_HEADER_BYTES, SHUTDOWN_GRACE, serve, serve_per_core};
pub use site::Site;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use gproxy_core::request_body::{TimedBody, body_timeout};
use gproxy_core::settings::EdgeLimits;
use gproxy_core::upstream::UpstreamBody;
use gproxy_core::{Engine, GatewayError, Operation, PassthroughRequest, ProxyBody, ProxyRequest};
use gproxy_protocol::Protocol;
use http::header::{CONTENT_LENGTH, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Limited};

/// The request id header, accepted from the client or generated.
pub const REQUEST_ID: &str = "x-request-id";
/// The test-mode request header (honoured with `test_mode_enabled = true`).
pub const TEST_MODE_HEADER: &str = "x-llm-proxy-test-mode";
/// The test-mode query parameter, same values as [`TEST_MODE_HEADER`].
pub const TEST_MODE_QUERY: &str = "llm_proxy_test_mode";

/// The gateway's HTTP service.
pub struct Router {
    engine: Arc<Engine>,
    admin: Option<gproxy_admin::AdminApi>,
    site: Option<Arc<dyn Site>>,
    /// At most one log line per period for refused keys.
    refusals: throttle::Throttle,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("engine", &self.engine)
            .field("admin", &self.admin)
            .field("site", &self.site.is_some())
            .field("refusals", &self.refusals)
            .finish()
    }
}

/// How often a refused key is logged (the others are counted).
const REFUSAL_LOG_PERIOD: std::time::Duration = std::time::Duration::from_secs(10);

/// Marks a response answering a request body that did not arrive in time
/// (408): the router counts it and closes the HTTP/1 connection.
#[derive(Debug, Clone, Copy)]
struct BodyTimedOut;

impl Router {
    /// A router over `engine`, without the admin API.
    pub fn new(engine: Arc<Engine>) -> Self {
        Router {
            engine,
            admin: None,
            site: None,
            refusals: throttle::Throttle::new(REFUSAL_LOG_PERIOD),
        }
    }

    /// This router serving the admin API under `/admin/api/`.
    pub fn with_admin(mut self, admin: gproxy_admin::AdminApi) -> Self {
        self.admin = Some(admin);
        self
    }

    /// This router serving `site` (the web UI) for GET and HEAD requests
    /// that no gateway route claims: paths that match nothing, and
    /// `/{name}/...` when no provider is called `name`; never paths under
    /// `/v1`, `/v1beta`, `/admin`, `/health`, `/metrics` or
    /// `/{provider}/v1...`, which keep their JSON errors.
    pub fn with_site(mut self, site: impl Site) -> Self {
        self.site = Some(Arc::new(site));
        self
    }

    /// The engine.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// Handles one request. Never fails: every error becomes a response.
    pub async fn handle<B>(&self, req: Request<B>) -> Result<Response<ProxyBody>, Infallible>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        self.handle_from(req, None).await
    }

    /// [`Router::handle`] for a request from `peer` (recorded by the admin
    /// API's audit log).
    pub async fn handle_from<B>(
        &self,
        req: Request<B>,
        peer: Option<std::net::IpAddr>,
    ) -> Result<Response<ProxyBody>, Infallible>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let started = Instant::now();
        let version = req.version();
        let request_id = request_id(req.headers());
        // CORS: one pointer load and a flag when it is off (the default);
        // the policy is not held across the call.
        let allowed = {
            let cors = self.engine.cors();
            if cors.enabled() && !req.uri().path().starts_with("/admin/") {
                if cors::is_preflight(req.method(), req.headers()) {
                    return Ok(cors::preflight(&cors, req.headers()));
                }
                cors::allowed_origin(&cors, req.headers()).map(|o| (o, cors::Grant::of(&cors)))
            } else {
                None
            }
        };
        let mut response = self.route(req, &request_id, started, peer).await;
        if let Some((origin, grant)) = allowed {
            cors::decorate(grant, origin, &mut response);
        }
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            response.headers_mut().insert(REQUEST_ID, value);
        }
        if response.extensions().get::<BodyTimedOut>().is_some() {
            self.engine.edge_stats().body_timeout();
            // The rest of the body may still come: the connection cannot
            // carry another request (HTTP/2 resets the stream instead).
            if version < http::Version::HTTP_2 {
                response
                    .headers_mut()
                    .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
            }
        }
        Ok(response)
    }

    async fn route<B>(
        &self,
        req: Request<B>,
        request_id: &str,
        started: Instant,
        peer: Option<std::net::IpAddr>,
    ) -> Response<ProxyBody>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let path = req.uri().path().to_owned();
        let query = req.uri().query().map(str::to_owned);
        let route = match_route(&path, query.as_deref());
        let proxy_route = match route {
            Route::Health => {
                if req.method() != Method::GET && req.method() != Method::HEAD {
                    return render::plain_error(
                        Protocol::OpenAiChat,
                        StatusCode::METHOD_NOT_ALLOWED,
                        "use GET /health",
                    );
                }
                let key = auth::client_key(req.headers(), query.as_deref());
                let admin = key.is_some()
                    && self
                        .engine
                        .authenticate(key.as_deref())
                        .is_ok_and(|p| p.is_admin);
                return Box::pin(render::health(&self.engine, admin)).await;
            }
            // Every route but the proxy's is boxed: an async fn's future is
            // as large as its largest branch, so a rare branch's state (the
            // health report, the admin API, a cost estimate...) must not
            // set the size of every proxied request's future.
            Route::Metrics => {
                let (parts, _) = req.into_parts();
                return Box::pin(self.metrics(&parts)).await;
            }
            Route::Me => {
                let key = auth::client_key(req.headers(), query.as_deref());
                return match self.engine.authenticate(key.as_deref()) {
                    Ok(principal) => render::json(&Box::pin(self.engine.me(&principal)).await),
                    Err(e) => render::error(Protocol::OpenAiChat, e),
                };
            }
            Route::AdminApi(rest) => {
                return Box::pin(self.admin_api(req, rest, query, peer)).await;
            }
            Route::AdminEnableCredential(id) => {
                // Only the head: a reference to the request (and so its
                // body) held across an await would make the future need a
                // `Sync` body, which axum's is not.
                let (parts, _) = req.into_parts();
                return Box::pin(self.enable_credential(&parts, id, query.as_deref())).await;
            }
            Route::NotFound(protocol) => {
                if let Some(page) = self.site_page(&req, &path) {
                    return page;
                }
                return render::plain_error(
                    protocol,
                    StatusCode::NOT_FOUND,
                    &format!(
                        "no route for {} {path}; see route.md for the routes gproxy serves",
                        req.method()
                    ),
                );
            }
            // An OAuth credential's quota on the provider's own path
            // (`GET /{provider}/usage?credential_id=`): the admin API's.
            Route::Passthrough { provider, rest }
                if rest == "/usage"
                    && req.method() == Method::GET
                    && self.engine.provider_has_oauth(&provider) =>
            {
                let rest = format!("/providers/{provider}/usage");
                return Box::pin(self.admin_api(req, rest, query, peer)).await;
            }
            Route::Passthrough { provider, rest } => {
                // One snapshot lookup, needed by the passthrough anyway;
                // only a name that is no provider may be a page.
                let protocol = self.engine.provider_protocol(&provider);
                if protocol.is_none()
                    && let Some(page) = self.site_page(&req, &path)
                {
                    return page;
                }
                let protocol = protocol.unwrap_or_else(|| routes::guess_protocol(&path));
                return Box::pin(self.passthrough(
                    req,
                    provider,
                    protocol,
                    rest,
                    query.as_deref(),
                    request_id,
                    started,
                ))
                .await;
            }
            Route::CostEstimate => {
                return Box::pin(self.cost_estimate(req, query.as_deref(), request_id)).await;
            }
            Route::Models { provider, gemini } => {
                let shape = models::ListShape::of(gemini, req.headers());
                let (parts, _) = req.into_parts();
                return Box::pin(self.models(
                    &parts,
                    provider.as_deref(),
                    shape,
                    query.as_deref(),
                    request_id,
                ))
                .await;
            }
            Route::Proxy(route) => route,
        };
        let protocol = proxy_route.protocol;
        if req.method() != Method::POST {
            return render::plain_error(
                protocol,
                StatusCode::METHOD_NOT_ALLOWED,
                &format!("{path} accepts POST only"),
            );
        }

        let principal =
            match self.authenticate(req.headers(), query.as_deref(), protocol, request_id) {
                Ok(p) => p,
                Err(response) => return *response,
            };

        let (mut parts, body) = req.into_parts();
        // Test mode may come as a query parameter; the engine reads the header.
        if let Some(mode) = query
            .as_deref()
            .and_then(|q| auth::query_param(q, TEST_MODE_QUERY))
            .and_then(|m| HeaderValue::from_str(&m).ok())
        {
            parts.headers.insert(TEST_MODE_HEADER, mode);
        }
        let limits = self.engine.limits();
        let body = match read_body(&parts.headers, body, limits.max_body_bytes, &limits.edge).await
        {
            Ok(b) => b,
            Err(e) => {
                tracing::info!(request_id, path, "rejected: {e}");
                return render::error(protocol, e);
            }
        };

        let request = ProxyRequest {
            request_id: request_id.to_owned(),
            route: proxy_route,
            method: parts.method,
            path,
            headers: parts.headers,
            body,
            principal,
            started,
        };
        // Boxed: the engine's futures are the largest part of this one
        // (`Engine::proxy` is about 7 KB), and this one is moved whole
        // several times per request (into the connection's service box,
        // at each first poll). Boxed, they are built in place once and
        // the futures above them stay small (docs/benchmarks.md).
        let result = match request.route.operation {
            Operation::CountTokens => Box::pin(self.engine.count_tokens(request)).await,
            Operation::Generate | Operation::Embeddings => {
                Box::pin(self.engine.proxy(request)).await
            }
        };
        match result {
            Ok(response) => response,
            Err(e) => render::error(protocol, e),
        }
    }
}

impl Router {
    /// `/admin/api/...`: reads the body (bounded) and hands the call over.
    async fn admin_api<B>(
        &self,
        req: Request<B>,
        rest: String,
        query: Option<String>,
        peer: Option<std::net::IpAddr>,
    ) -> Response<ProxyBody>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let Some(admin) = &self.admin else {
            return render::plain_error(
                Protocol::OpenAiChat,
                StatusCode::NOT_FOUND,
                "the admin API is not enabled on this router",
            );
        };
        let (parts, body) = req.into_parts();
        let edge = self.engine.limits().edge;
        let body = match read_body(
            &parts.headers,
            body,
            gproxy_admin::MAX_ADMIN_BODY_BYTES,
            &edge,
        )
        .await
        {
            Ok(b) => b,
            Err(e) => {
                let timed_out = matches!(e, GatewayError::RequestTimeout(_));
                let err = match e {
                    GatewayError::PayloadTooLarge { limit } => gproxy_admin::ApiError::too_large(
                        format!("request body exceeds the limit of {limit} bytes"),
                    ),
                    GatewayError::RequestTimeout(message) => {
                        gproxy_admin::ApiError::request_timeout(message)
                    }
                    other => gproxy_admin::ApiError::bad_request(other.to_string()),
                };
                let mut response = gproxy_admin::request::render(Err(err)).map(ProxyBody::full);
                if timed_out {
                    response.extensions_mut().insert(BodyTimedOut);
                }
                return response;
            }
        };
        let mut response = admin
            .handle(gproxy_admin::AdminRequest {
                method: parts.method,
                path: rest,
                query,
                headers: parts.headers,
                body,
                client_ip: peer,
            })
            .await;
        // The live feed: an event stream instead of a body.
        if let Some(frames) = response
            .extensions_mut()
            .remove::<gproxy_core::observe::live::EventStream>()
            .and_then(|events| events.take())
        {
            return response.map(|_| ProxyBody::events(frames));
        }
        response.map(ProxyBody::full)
    }

    /// `GET /metrics`: the Prometheus text exposition; 404 when metrics
    /// are off, 401 without the configured bearer token.
    async fn metrics(&self, req: &http::request::Parts) -> Response<ProxyBody> {
        let protocol = Protocol::OpenAiChat;
        if req.method != Method::GET && req.method != Method::HEAD {
            return render::plain_error(
                protocol,
                StatusCode::METHOD_NOT_ALLOWED,
                "use GET /metrics",
            );
        }
        let metrics = &self.engine.observe().metrics;
        let settings = metrics.settings();
        if !settings.enabled {
            return render::plain_error(
                protocol,
                StatusCode::NOT_FOUND,
                "metrics are off ([metrics] enabled = false)",
            );
        }
        let token = req
            .headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim);
        if !settings.admits(token) {
            self.engine.edge_stats().unauthorized();
            let mut response = render::plain_error(
                protocol,
                StatusCode::UNAUTHORIZED,
                "GET /metrics needs `Authorization: Bearer <[metrics] token>`",
            );
            response.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer"),
            );
            return response;
        }
        let text = self.engine.metrics_text().await;
        let mut response = Response::new(ProxyBody::full(text));
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static(gproxy_core::observe::metrics::CONTENT_TYPE),
        );
        response.headers_mut().insert(
            http::header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        );
        response
    }

    /// `POST /admin/credentials/{id}/enable`: the admin key only.
    async fn enable_credential(
        &self,
        req: &http::request::Parts,
        id: i64,
        query: Option<&str>,
    ) -> Response<ProxyBody> {
        let protocol = Protocol::OpenAiChat;
        if req.method != Method::POST {
            return render::plain_error(
                protocol,
                StatusCode::METHOD_NOT_ALLOWED,
                "use POST /admin/credentials/{id}/enable",
            );
        }
        let key = auth::client_key(&req.headers, query);
        let principal = match self.engine.authenticate(key.as_deref()) {
            Ok(p) => p,
            Err(e) => return render::error(protocol, e),
        };
        if !principal.is_admin {
            return render::plain_error(
                protocol,
                StatusCode::FORBIDDEN,
                "admin routes need the admin key",
            );
        }
        match self.engine.enable_credential(id).await {
            Ok(report) => render::json(&serde_json::json!({ "credential": report })),
            Err(e) => render::error(protocol, e),
        }
    }

    /// The caller's principal, or the 401 to answer in `protocol`'s shape.
    fn authenticate(
        &self,
        headers: &http::HeaderMap,
        query: Option<&str>,
        protocol: Protocol,
        request_id: &str,
    ) -> Result<Arc<gproxy_core::state::Principal>, Box<Response<ProxyBody>>> {
        let key = auth::client_key(headers, query);
        self.engine.authenticate(key.as_deref()).map_err(|e| {
            // Anyone can provoke these: counted always, logged throttled.
            self.engine.edge_stats().unauthorized();
            if let Some(not_logged) = self.refusals.ready() {
                tracing::info!(
                    request_id,
                    refusals_not_logged = not_logged,
                    "rejected: {e} (at most one refusal logged per {} s)",
                    REFUSAL_LOG_PERIOD.as_secs()
                );
            }
            Box::new(render::error(protocol, e))
        })
    }

    /// The site's answer to a GET or HEAD of a non-API `path`, if any.
    fn site_page<B>(&self, req: &Request<B>, path: &str) -> Option<Response<ProxyBody>> {
        let site = self.site.as_ref()?;
        if site::is_api_path(path) {
            return None;
        }
        site.serve(req.method(), path, req.headers())
            .map(|page| page.map(ProxyBody::full))
    }

    /// Forwards any other `/{provider}/...` call with the body streamed;
    /// errors are rendered in `protocol`'s shape.
    #[expect(
        clippy::too_many_arguments,
        reason = "one call site; the parts of one request"
    )]
    async fn passthrough<B>(
        &self,
        req: Request<B>,
        provider: String,
        protocol: Protocol,
        rest: String,
        query: Option<&str>,
        request_id: &str,
        started: Instant,
    ) -> Response<ProxyBody>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let path = req.uri().path().to_owned();
        let principal = match self.authenticate(req.headers(), query, protocol, request_id) {
            Ok(p) => p,
            Err(response) => return *response,
        };
        let limits = self.engine.limits();
        let limit = limits.max_passthrough_body_bytes;
        let declared = req
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return render::error(protocol, GatewayError::PayloadTooLarge { limit });
        }
        let mut upstream_path = rest;
        if let Some(q) = query.map(auth::without_key).filter(|q| !q.is_empty()) {
            upstream_path.push('?');
            upstream_path.push_str(&q);
        }
        let (parts, body) = req.into_parts();
        let request = PassthroughRequest {
            request_id: request_id.to_owned(),
            provider,
            method: parts.method,
            path,
            upstream_path,
            headers: parts.headers,
            body: UpstreamBody::Stream(UnsyncBoxBody::new(Limited::new(
                TimedBody::new(
                    body,
                    limits.edge.body_idle_timeout,
                    limits.edge.body_timeout,
                ),
                limit,
            ))),
            principal,
            started,
        };
        match self.engine.passthrough(request).await {
            Ok(response) => response,
            Err(e) => render::error(protocol, e),
        }
    }

    /// A model list: authenticate, ask the engine, render in `shape`.
    /// `POST /v1/gproxy/cost-estimate` (errors in the OpenAI shape).
    async fn cost_estimate<B>(
        &self,
        req: Request<B>,
        query: Option<&str>,
        request_id: &str,
    ) -> Response<ProxyBody>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let protocol = Protocol::OpenAiChat;
        if req.method() != Method::POST {
            return render::plain_error(
                protocol,
                StatusCode::METHOD_NOT_ALLOWED,
                "/v1/gproxy/cost-estimate accepts POST only",
            );
        }
        let principal = match self.authenticate(req.headers(), query, protocol, request_id) {
            Ok(p) => p,
            Err(response) => return *response,
        };
        let (parts, body) = req.into_parts();
        let limits = self.engine.limits();
        let body = match read_body(&parts.headers, body, limits.max_body_bytes, &limits.edge).await
        {
            Ok(b) => b,
            Err(e) => return render::error(protocol, e),
        };
        match self.engine.cost_estimate(principal, &body).await {
            Ok(view) => match serde_json::to_value(&view) {
                Ok(v) => render::json(&v),
                Err(e) => render::error(protocol, GatewayError::Internal(e.to_string())),
            },
            Err(e) => render::error(protocol, e),
        }
    }

    async fn models(
        &self,
        req: &http::request::Parts,
        provider: Option<&str>,
        shape: models::ListShape,
        query: Option<&str>,
        request_id: &str,
    ) -> Response<ProxyBody> {
        let protocol = shape.protocol();
        if req.method != Method::GET && req.method != Method::HEAD {
            return render::plain_error(
                protocol,
                StatusCode::METHOD_NOT_ALLOWED,
                &format!("{} accepts GET only", req.uri.path()),
            );
        }
        let principal = match self.authenticate(&req.headers, query, protocol, request_id) {
            Ok(principal) => principal,
            Err(response) => return *response,
        };
        match self.engine.list_models(provider, &principal).await {
            Ok(listing) => models::render(shape, &listing),
            Err(e) => render::error(protocol, e),
        }
    }
}

/// Reads the whole request body, refusing more than `limit` bytes (413) —
/// early from `Content-Length` when the client declares it — and a body
/// that stalls or trickles beyond the edge's body timeouts (408).
async fn read_body<B>(
    headers: &http::HeaderMap,
    body: B,
    limit: usize,
    edge: &EdgeLimits,
) -> Result<Bytes, GatewayError>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(GatewayError::PayloadTooLarge { limit });
    }
    let body = TimedBody::new(body, edge.body_idle_timeout, edge.body_timeout);
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(GatewayError::PayloadTooLarge { limit })
        }
        Err(e) => Err(match body_timeout(e.as_ref()) {
            Some(timeout) => GatewayError::RequestTimeout(timeout.to_string()),
            None => GatewayError::BadRequest(format!("could not read the request body: {e}")),
        }),
    }
}

/// The client's `X-Request-Id` when it is sane (1 to 128 visible ASCII
/// characters), otherwise a new UUID.
fn request_id(headers: &http::HeaderMap) -> String {
    headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(new_request_id, str::to_owned)
}

/// A time-ordered (version 7) UUID as 32 lowercase hex digits: the
/// millisecond clock, then 74 random bits. Ids that follow the clock are
/// appended to the request-log `request_id` index instead of landing on a
/// random page of it, which on SQLite costs about 20 µs of CPU per row less
/// (docs/benchmarks.md, "Request-log write cost"). The random bits come
/// from the thread-local CSPRNG, not from a `getrandom` system call per
/// request.
fn new_request_id() -> String {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let uuid = uuid::Builder::from_unix_timestamp_millis(millis, &rand::random()).into_uuid();
    let mut buf = [0u8; uuid::fmt::Simple::LENGTH];
    uuid.simple().encode_lower(&mut buf).to_owned()
}

/// `application/json` content type, shared by rendered responses.
pub(crate) const JSON: HeaderValue = HeaderValue::from_static("application/json");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_id_is_kept_when_sane_and_generated_otherwise() {
        let mut h = http::HeaderMap::new();
        let generated = request_id(&h);
        assert_eq!(generated.len(), 32);
        let uuid = uuid::Uuid::parse_str(&generated).unwrap();
        assert_eq!(uuid.get_version_num(), 7);
        let (secs, _) = uuid.get_timestamp().unwrap().to_unix();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(
            now.abs_diff(secs) <= 1,
            "timestamp {secs} is not now ({now})"
        );
        assert_ne!(request_id(&h), generated);
        // Later ids sort after earlier ones (the log index appends them).
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert!(request_id(&h) > generated);
        h.insert(REQUEST_ID, HeaderValue::from_static("abc-123"));
        assert_eq!(request_id(&h), "abc-123");
        h.insert(REQUEST_ID, HeaderValue::from_str(&"x".repeat(200)).unwrap());
        assert_eq!(request_id(&h).len(), 32);
    }
}
