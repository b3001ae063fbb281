//! The request pipeline: authenticate, resolve the provider and model,
//! rewrite only the fields the gateway must touch, dispatch upstream, and
//! hand back a response whose accounting completes off the hot path.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use gproxy_credential::Credential;
use gproxy_protocol::convert::StreamOptions;
use gproxy_protocol::embeddings::{self, EncodingFormat};
use gproxy_protocol::json_array::JsonArraySplitter;
use gproxy_protocol::json_edit::RawObject;
use gproxy_protocol::sse::SseDecoder;
use gproxy_protocol::{Protocol, usage};
use gproxy_provider::Endpoint;
use gproxy_storage::{RequestLog, UsageSink};
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderName};
use http::{HeaderMap, HeaderValue, Method, Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use crate::accounting::{Accounting, Outcome};
use crate::body::ProxyBody;
use crate::conversion::{self, Conversion};
use crate::headers::{is_dropped_request_header, is_dropped_response_header};
use crate::model_route::{self, CallKind, Resolved};
use crate::models::{self, ModelCatalog, ModelListing};
use crate::settings::Limits;
use crate::state::{Principal, ProviderRuntime, StateHandle};
use crate::stream::{Framing, ModelRewrite, Rewrite, StreamProcessor};
use crate::tokens::TokenCache;
use crate::upstream::{UpstreamBody, UpstreamClient};
use crate::{GatewayError, UpstreamFailure};

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
    pub(crate) sink: UsageSink,
    pub(crate) limits: Limits,
}

/// The credential of a keyless provider with none configured.
pub(crate) static NO_CREDENTIAL: Credential = Credential::None;

/// The upstream operation, owned by the plan.
#[derive(Debug, Clone, Copy)]
enum Target {
    OpenAiChat,
    OpenAiResponses,
    OpenAiEmbeddings,
    ClaudeMessages,
    GeminiGenerate { stream: bool, alt_sse: bool },
    GeminiEmbed { batch: bool },
}

/// An OpenAI embeddings request answered by a Gemini provider.
struct EmbedConversion {
    encoding: EncodingFormat,
    /// The model as the client wrote it, for the response.
    client_model: String,
}

/// The upstream call the engine settled on.
struct Plan<'a> {
    provider: Arc<ProviderRuntime>,
    target: Target,
    /// Gemini API version segment.
    version: &'a str,
    /// The upstream model.
    model: String,
    body: Bytes,
    stream: bool,
    rewrite: Rewrite,
    /// What the client sees in the model field of a non-stream body.
    reply_model: Option<ModelRewrite>,
    embed_conversion: Option<EmbedConversion>,
    /// Set when the client speaks another protocol than the upstream.
    conversion: Option<Conversion>,
}

impl Plan<'_> {
    fn endpoint(&self) -> Endpoint<'_> {
        let (version, model) = (self.version, self.model.as_str());
        match self.target {
            Target::OpenAiChat => Endpoint::OpenAiChat,
            Target::OpenAiResponses => Endpoint::OpenAiResponses,
            Target::OpenAiEmbeddings => Endpoint::OpenAiEmbeddings,
            Target::ClaudeMessages => Endpoint::ClaudeMessages,
            Target::GeminiGenerate { stream, alt_sse } => Endpoint::GeminiGenerate {
                version,
                model,
                stream,
                alt_sse,
            },
            Target::GeminiEmbed { batch } => Endpoint::GeminiEmbed {
                version,
                model,
                batch,
            },
        }
    }
}

impl Engine {
    /// A new engine over `state`.
    pub fn new(
        state: Arc<StateHandle>,
        upstream: UpstreamClient,
        sink: UsageSink,
        limits: Limits,
    ) -> Self {
        Engine {
            state,
            models: ModelCatalog::new(upstream.clone(), models::CACHE_TTL),
            tokens: TokenCache::new(upstream.clone()),
            upstream,
            sink,
            limits,
        }
    }

    /// The state handle (for reloads and health).
    pub fn state(&self) -> &Arc<StateHandle> {
        &self.state
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The usage sink.
    pub fn sink(&self) -> &UsageSink {
        &self.sink
    }

    /// The principal a presented key belongs to.
    pub fn authenticate(&self, key: Option<&str>) -> Result<Arc<Principal>, GatewayError> {
        let Some(key) = key.filter(|k| !k.is_empty()) else {
            return Err(GatewayError::Unauthorized(
                "missing API key: send it as `Authorization: Bearer <key>`, `x-api-key`, `x-goog-api-key` or `?key=`".into(),
            ));
        };
        self.state
            .load()
            .authenticate(key)
            .cloned()
            .ok_or_else(|| GatewayError::Unauthorized("invalid API key".into()))
    }

    /// Lists the models of every enabled provider plus the model routes
    /// (`provider` `None`), or of one provider.
    pub async fn list_models(&self, provider: Option<&str>) -> Result<ModelListing, GatewayError> {
        let snapshot = self.state.load_full();
        self.models.list(&snapshot, provider).await
    }

    /// Proxies one request. Errors are returned for the router to render;
    /// either way the request's log row is recorded.
    pub async fn proxy(&self, mut req: ProxyRequest) -> Result<Response<ProxyBody>, GatewayError> {
        // The id and the path are only needed for the log row: move them.
        let mut accounting = Accounting::new(
            self.sink.clone(),
            RequestLog {
                request_id: std::mem::take(&mut req.request_id),
                created_at: chrono::Utc::now(),
                user_id: Some(req.principal.user_id),
                user_name: Some(String::from(&*req.principal.user_name)),
                key_prefix: Some(String::from(&*req.principal.key_prefix)),
                protocol: req.route.protocol.as_str().to_owned(),
                method: req.method.as_str().to_owned(),
                path: std::mem::take(&mut req.path),
                ..RequestLog::default()
            },
            req.started,
        );
        match self.dispatch(&req, &mut accounting).await {
            Ok(Dispatched::Stream {
                response,
                incoming,
                processor,
            }) => {
                let status = response.status().as_u16();
                let body = ProxyBody::stream(
                    incoming,
                    *processor,
                    self.limits.stream_idle_timeout,
                    accounting,
                    status,
                );
                Ok(response.map(|()| body))
            }
            Ok(Dispatched::Full(response, usage)) => {
                accounting.finish(Outcome {
                    status: response.status().as_u16(),
                    usage,
                    error: None,
                    client_disconnected: false,
                });
                Ok(response)
            }
            Err(e) => {
                accounting.finish(Outcome {
                    status: e.status().as_u16(),
                    usage: None,
                    error: Some(e.log_message()),
                    client_disconnected: false,
                });
                Err(e)
            }
        }
    }

    fn plan<'r>(
        &self,
        req: &'r ProxyRequest,
        log: &mut RequestLog,
    ) -> Result<Plan<'r>, GatewayError> {
        let protocol = req.route.protocol;
        let snapshot = self.state.load();

        // The model as the client wrote it, and the parsed body when the
        // model lives there.
        let (client_model, mut body_obj): (String, Option<RawObject<'r>>) = match &req.route.gemini
        {
            Some(call) => {
                RawObject::parse(&req.body)
                    .map_err(|e| GatewayError::BadRequest(format!("invalid request body: {e}")))?;
                (call.model.clone(), None)
            }
            None => {
                let obj = RawObject::parse(&req.body)
                    .map_err(|e| GatewayError::BadRequest(format!("invalid request body: {e}")))?;
                let model = obj
                    .get_str("model")
                    .ok_or_else(|| {
                        GatewayError::BadRequest("`model` is required and must be a string".into())
                    })?
                    .into_owned();
                (model, Some(obj))
            }
        };

        let resolved = model_route::resolve(
            &snapshot.providers,
            &snapshot.routes,
            req.route.provider.as_deref(),
            &client_model,
            CallKind {
                protocol,
                operation: req.route.operation,
            },
        );
        let Resolved {
            provider,
            model,
            rewrite_request,
            reply_model,
        } = match resolved {
            Ok(resolved) => resolved,
            Err(e) => {
                // Unresolved: the row names what the client asked for.
                log.model = Some(client_model);
                log.provider = req.route.provider.clone();
                return Err(e);
            }
        };
        log.provider = Some(provider.name.clone());
        log.model = Some(model.clone());

        let operation = req.route.operation;
        let convert_embeddings = operation == Operation::Embeddings
            && protocol == Protocol::OpenAiChat
            && !provider.provider.speaks(Protocol::OpenAiChat);
        if operation == Operation::Embeddings {
            log.protocol = match protocol {
                Protocol::Gemini => "gemini_embed",
                _ => "openai_embeddings",
            }
            .to_owned();
        }
        if !provider.provider.allows_model(&model) {
            return Err(GatewayError::NotFound(format!(
                "model `{model}` is not offered by provider `{}`",
                provider.name
            )));
        }

        if operation == Operation::Generate {
            let upstream = conversion::upstream_protocol(provider.provider.as_ref(), protocol);
            if upstream != protocol {
                return self.plan_conversion(req, log, provider, model, upstream, reply_model);
            }
        }

        let mut rewrite = Rewrite::default();
        let mut stream = false;
        let mut changed = false;
        if let Some(obj) = body_obj
            .as_mut()
            .filter(|_| operation == Operation::Generate)
        {
            stream = obj.get_bool("stream").unwrap_or(false);
            if rewrite_request {
                obj.set_str("model", &model);
                changed = true;
            }
            if protocol == Protocol::OpenAiChat && stream {
                let (options, asked) = include_usage(obj.get("stream_options").map(|r| r.get()))?;
                if !asked {
                    obj.set_raw("stream_options", options)
                        .map_err(|e| GatewayError::Internal(format!("stream_options: {e}")))?;
                    rewrite.strip_usage_chunk = true;
                    changed = true;
                }
            }
        }
        if let Some(obj) = body_obj
            .as_mut()
            .filter(|_| rewrite_request && operation == Operation::Embeddings)
        {
            obj.set_str("model", &model);
            changed = true;
        }
        let mut body = match (&body_obj, changed) {
            (Some(obj), true) => Bytes::from(obj.to_vec()),
            _ => req.body.clone(),
        };
        // Gemini responses carry no `model` field to rewrite.
        let mut reply_model = reply_model.filter(|_| protocol != Protocol::Gemini);
        let mut embed_conversion = None;
        if convert_embeddings {
            let bad = |e: embeddings::EmbeddingsError| GatewayError::BadRequest(e.to_string());
            let parsed = embeddings::parse_openai_request(&req.body).map_err(bad)?;
            let encoding = parsed.encoding().map_err(bad)?;
            body = Bytes::from(parsed.to_gemini_batch(&model).map_err(bad)?);
            embed_conversion = Some(EmbedConversion {
                encoding,
                client_model: parsed.model,
            });
            reply_model = None;
        }
        // Last edit before dispatch, after the gateway's own rewrites; only
        // providers with a configured mask pay for it.
        if let Some(masked) = provider
            .provider
            .json_mask()
            .and_then(|mask| mask.apply(&body))
        {
            body = Bytes::from(masked);
        }
        rewrite.model = reply_model.clone();

        let mut version = "v1beta";
        let target = match (&req.route.gemini, protocol) {
            (Some(call), _) => {
                version = &call.version;
                stream = call.method == GeminiMethod::StreamGenerateContent;
                match call.method {
                    GeminiMethod::GenerateContent | GeminiMethod::StreamGenerateContent => {
                        Target::GeminiGenerate {
                            stream,
                            alt_sse: call.alt_sse,
                        }
                    }
                    GeminiMethod::EmbedContent => Target::GeminiEmbed { batch: false },
                    GeminiMethod::BatchEmbedContents => Target::GeminiEmbed { batch: true },
                    GeminiMethod::CountTokens => {
                        return Err(GatewayError::Internal(
                            "countTokens reached the generate pipeline".into(),
                        ));
                    }
                }
            }
            (None, Protocol::OpenAiChat) if convert_embeddings => {
                Target::GeminiEmbed { batch: true }
            }
            (None, Protocol::OpenAiChat) if operation == Operation::Embeddings => {
                Target::OpenAiEmbeddings
            }
            (None, Protocol::OpenAiChat) => Target::OpenAiChat,
            (None, Protocol::OpenAiResponses) => Target::OpenAiResponses,
            (None, Protocol::Claude) => Target::ClaudeMessages,
            (None, Protocol::Gemini) => {
                return Err(GatewayError::Internal("gemini route without a call".into()));
            }
        };
        log.stream = stream;
        Ok(Plan {
            provider,
            target,
            version,
            model,
            body,
            stream,
            rewrite,
            reply_model,
            embed_conversion,
            conversion: None,
        })
    }

    /// The plan of a generate call whose client speaks another protocol
    /// than `provider`: the body goes through the canonical model.
    fn plan_conversion<'r>(
        &self,
        req: &'r ProxyRequest,
        log: &mut RequestLog,
        provider: Arc<ProviderRuntime>,
        model: String,
        upstream: Protocol,
        reply_model: Option<ModelRewrite>,
    ) -> Result<Plan<'r>, GatewayError> {
        let client = req.route.protocol;
        let gemini = req.route.gemini.as_ref();
        // The model the client sees: what it asked for.
        let shown = match &reply_model {
            Some(ModelRewrite::Prefix(p)) => Some(format!("{p}/{model}")),
            Some(ModelRewrite::Replace(name)) => Some(name.clone()),
            None => None,
        };
        let include_usage = client == Protocol::OpenAiChat
            && RawObject::parse(&req.body).is_ok_and(|o| conversion::client_wants_usage(&o));
        let conv = Conversion {
            client,
            upstream,
            options: StreamOptions {
                include_usage,
                gemini_sse: gemini.is_some_and(|c| c.alt_sse),
            },
            reply_model: shown,
        };
        let converted = conv.request(
            &req.body,
            &model,
            gemini.map(|c| c.method == GeminiMethod::StreamGenerateContent),
        )?;
        let stream = converted.stream;
        let mut body = converted.body;
        if let Some(masked) = provider
            .provider
            .json_mask()
            .and_then(|mask| mask.apply(&body))
        {
            body = Bytes::from(masked);
        }
        let target = match upstream {
            Protocol::OpenAiChat => Target::OpenAiChat,
            Protocol::OpenAiResponses => Target::OpenAiResponses,
            Protocol::Claude => Target::ClaudeMessages,
            // Converted Gemini streams are always asked for as SSE.
            Protocol::Gemini => Target::GeminiGenerate {
                stream,
                alt_sse: true,
            },
        };
        log.stream = stream;
        Ok(Plan {
            provider,
            target,
            version: gemini.map_or("v1beta", |c| c.version.as_str()),
            model,
            body,
            stream,
            rewrite: Rewrite::default(),
            reply_model: None,
            embed_conversion: None,
            conversion: Some(conv),
        })
    }

    async fn dispatch(
        &self,
        req: &ProxyRequest,
        accounting: &mut Accounting,
    ) -> Result<Dispatched, GatewayError> {
        let plan = self.plan(req, accounting.log_mut())?;
        let provider = &plan.provider;
        // Cloned only on error paths.
        let name = provider.name.as_str();
        // Keyless providers (a local Ollama) run without a credential.
        let picked = provider.pool.pick();
        if picked.is_none() && provider.provider.requires_credential() {
            return Err(GatewayError::NoCredential {
                provider: name.to_owned(),
            });
        }
        accounting.log_mut().credential_id = picked.as_ref().map(|c| c.id);
        let credential = picked.as_ref().map_or(&NO_CREDENTIAL, |c| &c.credential);

        let url = provider
            .provider
            .upstream_url_for(&provider.base_url, &plan.endpoint(), credential)
            .map_err(|e| GatewayError::BadRequest(e.to_string()))?;
        // A service account becomes an access token (cached); others as is.
        let credential = self
            .tokens
            .resolve(picked.as_ref().map_or(0, |c| c.id), credential, name)
            .await?;
        let mut headers = HeaderMap::with_capacity(req.headers.len() + 3);
        for (k, v) in &req.headers {
            if !is_dropped_request_header(k) {
                headers.append(k.clone(), v.clone());
            }
        }
        provider.provider.default_headers(&mut headers);
        for (name, value) in provider.provider.extra_headers() {
            headers.insert(name.clone(), value.clone());
        }
        provider
            .provider
            .apply_auth(&credential, &mut headers)
            .map_err(|e| GatewayError::UpstreamUnavailable {
                provider: name.to_owned(),
                message: e.to_string(),
            })?;
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(CONTENT_LENGTH, HeaderValue::from(plan.body.len()));

        let mut builder = Request::builder().method(Method::POST).uri(&url);
        if let Some(h) = builder.headers_mut() {
            *h = headers;
        }
        let upstream_req = builder
            .body(UpstreamBody::full(plan.body.clone()))
            .map_err(|e| {
                GatewayError::Internal(format!("building upstream request for {url}: {e}"))
            })?;

        let response = self.send_upstream(upstream_req, name).await?;
        let (parts, incoming) = response.into_parts();
        let status = parts.status;

        if !status.is_success() {
            accounting.first_byte();
            let body = self.read_body(incoming, name).await?;
            let mut kept = HeaderMap::new();
            for (k, v) in &parts.headers {
                if !is_dropped_response_header(k) {
                    kept.append(k.clone(), v.clone());
                }
            }
            // A converted call answers in the client's shape, not the upstream's.
            let body = match (&plan.embed_conversion, &plan.conversion) {
                (None, None) => body,
                _ => {
                    let message = gproxy_protocol::error::message_of(&body)
                        .unwrap_or_else(|| format!("upstream `{name}` answered {status}"));
                    kept.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                    Bytes::from(gproxy_protocol::error::error_body(
                        req.route.protocol,
                        status.as_u16(),
                        &message,
                    ))
                }
            };
            served_by(&mut kept, name, &plan.model);
            return Err(GatewayError::Upstream(Box::new(UpstreamFailure {
                provider: name.to_owned(),
                status,
                headers: kept,
                body,
            })));
        }

        let content_type = parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let framing = if content_type.starts_with("text/event-stream") {
            Some(Framing::Sse(SseDecoder::new()))
        } else if plan.stream && plan.endpoint().protocol() == Protocol::Gemini {
            Some(Framing::JsonArray(JsonArraySplitter::new()))
        } else {
            None
        };

        // The upstream answered whole to a stream request, or streamed to a
        // whole one (some only stream): the answer is reframed for the client.
        let generates = !matches!(
            plan.target,
            Target::OpenAiEmbeddings | Target::GeminiEmbed { .. }
        );
        let reframe = generates && framing.is_some() != plan.stream;
        let same_protocol;
        let conversion = match &plan.conversion {
            Some(conv) => Some(conv),
            None if reframe => {
                same_protocol = Conversion::same_protocol(
                    req.route.protocol,
                    &req.route,
                    &plan.rewrite,
                    &plan.model,
                );
                Some(&same_protocol)
            }
            None => None,
        };

        let mut builder = Response::builder().status(status);
        if let Some(h) = builder.headers_mut() {
            for (k, v) in &parts.headers {
                if !is_dropped_response_header(k) {
                    h.append(k.clone(), v.clone());
                }
            }
            served_by(h, name, &plan.model);
            if let (true, Some(conv)) = (reframe, conversion) {
                h.remove(CONTENT_LENGTH);
                let content_type = match plan.stream {
                    true => conv.stream_content_type(),
                    false => "application/json",
                };
                h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
            }
        }
        if let (true, Some(conv)) = (reframe, conversion) {
            accounting.first_byte();
            let body = self.read_body(incoming, name).await?;
            let (body, usage) = conv.reframe(&body, framing.is_some(), name)?;
            let body = match plan.reply_model.as_ref().filter(|_| !plan.stream) {
                Some(m) => m.apply(&body).map_or(body, Bytes::from),
                None => body,
            };
            return builder
                .body(ProxyBody::full(body))
                .map(|r| Dispatched::Full(r, usage))
                .map_err(|e| GatewayError::Internal(format!("building response: {e}")));
        }
        if let (Some(h), Some(conv)) = (builder.headers_mut(), &plan.conversion) {
            // The body is rewritten: the upstream's length and type go.
            h.remove(CONTENT_LENGTH);
            let content_type = match framing {
                Some(_) => conv.stream_content_type(),
                None => "application/json",
            };
            h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        }

        match framing {
            Some(framing) => {
                let mut processor =
                    StreamProcessor::new(plan.endpoint().protocol(), framing, plan.rewrite);
                if let Some(conv) = &plan.conversion {
                    processor.transcode(conv.transcoder());
                }
                let response = builder
                    .body(())
                    .map_err(|e| GatewayError::Internal(format!("building response: {e}")))?;
                Ok(Dispatched::Stream {
                    response,
                    incoming,
                    processor: Box::new(processor),
                })
            }
            None => {
                accounting.first_byte();
                let body = self.read_body(incoming, name).await?;
                let usage = usage::from_response_body(plan.endpoint().protocol(), &body);
                let body = match &plan.embed_conversion {
                    Some(conv) => Bytes::from(
                        embeddings::openai_from_gemini_batch(
                            &body,
                            &conv.client_model,
                            conv.encoding,
                        )
                        .map_err(|e| GatewayError::UpstreamInvalid {
                            provider: name.to_owned(),
                            message: e.to_string(),
                        })?,
                    ),
                    None => body,
                };
                let body = match &plan.conversion {
                    Some(conv) => conv.response(&body, name)?,
                    None => body,
                };
                let body = match plan.reply_model.as_ref().and_then(|m| m.apply(&body)) {
                    Some(rewritten) => Bytes::from(rewritten),
                    None => body,
                };
                builder
                    .body(ProxyBody::full(body))
                    .map(|r| Dispatched::Full(r, usage))
                    .map_err(|e| GatewayError::Internal(format!("building response: {e}")))
            }
        }
    }

    /// Sends one upstream request, waiting at most the first-byte timeout
    /// for its response headers, and maps every failure to its error.
    pub(crate) async fn send_upstream(
        &self,
        request: Request<UpstreamBody>,
        provider: &str,
    ) -> Result<Response<Incoming>, GatewayError> {
        match tokio::time::timeout(self.limits.first_byte_timeout, self.upstream.send(request))
            .await
        {
            Err(_) => Err(GatewayError::UpstreamTimeout {
                provider: provider.to_owned(),
                phase: "waiting for response headers",
            }),
            // Only a streamed (passthrough) body has a limit to go over.
            Ok(Err(e)) if body_over_limit(&e) => Err(GatewayError::PayloadTooLarge {
                limit: self.limits.max_passthrough_body_bytes,
            }),
            Ok(Err(e)) => Err(GatewayError::UpstreamUnavailable {
                provider: provider.to_owned(),
                message: describe_client_error(&e),
            }),
            Ok(Ok(r)) => Ok(r),
        }
    }

    /// Reads a whole upstream body, bounded in size and in idle time. A body
    /// that arrives in one frame (the usual case) is kept as it came; only
    /// a body in several frames is copied into one buffer.
    pub(crate) async fn read_body(
        &self,
        mut incoming: Incoming,
        provider: &str,
    ) -> Result<Bytes, GatewayError> {
        let mut first: Option<Bytes> = None;
        let mut buf = Vec::new();
        loop {
            let frame =
                match tokio::time::timeout(self.limits.stream_idle_timeout, incoming.frame()).await
                {
                    Err(_) => {
                        return Err(GatewayError::UpstreamTimeout {
                            provider: provider.to_owned(),
                            phase: "reading the response body",
                        });
                    }
                    Ok(None) => break,
                    Ok(Some(Err(e))) => {
                        return Err(GatewayError::UpstreamUnavailable {
                            provider: provider.to_owned(),
                            message: format!("response body broke: {e}"),
                        });
                    }
                    Ok(Some(Ok(frame))) => frame,
                };
            if let Ok(data) = frame.into_data() {
                let held = first.as_ref().map_or(buf.len(), Bytes::len);
                if held + data.len() > self.limits.max_response_bytes {
                    return Err(GatewayError::UpstreamInvalid {
                        provider: provider.to_owned(),
                        message: format!(
                            "response body exceeds the limit of {} bytes",
                            self.limits.max_response_bytes
                        ),
                    });
                }
                if first.is_none() && buf.is_empty() {
                    first = Some(data);
                } else {
                    if let Some(head) = first.take() {
                        buf.extend_from_slice(&head);
                    }
                    buf.extend_from_slice(&data);
                }
            }
        }
        Ok(first.unwrap_or_else(|| Bytes::from(buf)))
    }
}

/// What dispatch produced.
enum Dispatched {
    /// A streaming response; its body records the log row when it ends.
    Stream {
        response: Response<()>,
        incoming: Incoming,
        processor: Box<StreamProcessor>,
    },
    /// A complete response; the caller records the row now.
    Full(Response<ProxyBody>, Option<gproxy_protocol::Usage>),
}

/// Response header naming the provider that served a proxied request.
pub const PROVIDER_HEADER: &str = "x-gproxy-provider";
/// Response header naming the upstream model that served a proxied request.
pub const MODEL_HEADER: &str = "x-gproxy-model";

/// Adds [`PROVIDER_HEADER`] and [`MODEL_HEADER`] (skipping a value that is
/// not a valid header value).
pub(crate) fn served_by(headers: &mut HeaderMap, provider: &str, model: &str) {
    for (name, value) in [(PROVIDER_HEADER, provider), (MODEL_HEADER, model)] {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(HeaderName::from_static(name), v);
        }
    }
}

/// `stream_options` with `include_usage: true`, and whether the client had
/// already asked for it.
fn include_usage(current: Option<&str>) -> Result<(String, bool), GatewayError> {
    let current = current.map(str::trim).filter(|c| *c != "null");
    let Some(raw) = current else {
        return Ok(("{\"include_usage\":true}".to_owned(), false));
    };
    let mut obj = RawObject::parse(raw.as_bytes())
        .map_err(|_| GatewayError::BadRequest("`stream_options` must be an object".into()))?;
    if obj.get_bool("include_usage") == Some(true) {
        return Ok((String::new(), true));
    }
    obj.set_bool("include_usage", true);
    Ok((String::from_utf8_lossy(&obj.to_vec()).into_owned(), false))
}

/// Whether the upstream call failed because the client's streamed body
/// went over the passthrough limit.
fn body_over_limit(e: &hyper_util::client::legacy::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        if s.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = s.source();
    }
    false
}

/// A connection error's message with its causes, without URLs' secrets
/// (keys never travel in URLs for the built-in providers).
fn describe_client_error(e: &hyper_util::client::legacy::Error) -> String {
    use std::error::Error;
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_usage_is_added_or_kept() {
        assert_eq!(
            include_usage(None).unwrap(),
            ("{\"include_usage\":true}".into(), false)
        );
        assert!(!include_usage(Some("null")).unwrap().1);
        assert!(include_usage(Some("{\"include_usage\":true}")).unwrap().1);
        let (merged, asked) = include_usage(Some("{\"include_usage\":false,\"x\":1}")).unwrap();
        assert!(!asked);
        let v: serde_json::Value = serde_json::from_str(&merged).unwrap();
        assert_eq!(v, serde_json::json!({"include_usage": true, "x": 1}));
        assert!(include_usage(Some("[1]")).is_err());
    }
}
