//! Dispatch: the fallback loop over a model route's targets, the single
//! upstream attempt (build the request, send it, classify an error
//! answer), and turning a served answer into the client's response.
//!
//! A streamed answer is not committed to on its headers alone: the attempt
//! reads on until the first event (within what is left of the first-byte
//! timeout), so an error the upstream sends as its first event
//! (`gproxy_protocol::stream_error`) is retried, cooled down or failed
//! over like the HTTP error it stands for. The bytes read are handed on
//! (`head`) and go to the client first.

use std::sync::Arc;

use crate::upstream::ResponseBody;
use bytes::Bytes;
use gproxy_credential::{CredentialEntry, Lease};
use gproxy_protocol::embeddings;
use gproxy_protocol::json_array::JsonArraySplitter;
use gproxy_protocol::sse::SseDecoder;
use gproxy_protocol::{Protocol, stream_error, usage};
use gproxy_provider::{Endpoint, FailureClass};
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;

use super::plan::{Plan, Target};
use super::{
    Dispatched, Engine, NO_CREDENTIAL, Operation, ProxyRequest, served_by, upstream_failure,
};
use crate::GatewayError;
use crate::accounting::Accounting;
use crate::body::{ProxyBody, StreamWatch, deadline_after};
use crate::conversion::Conversion;
use crate::headers::{apply_provider_headers, copy_response_headers, is_dropped_request_header};
use crate::state::ProviderRuntime;
use crate::stream::{Framing, StreamProcessor};
use crate::upstream::UpstreamBody;

/// What one upstream attempt produced.
pub(super) enum Attempt {
    /// A success status; for a stream, `Bytes` holds what was read up to
    /// and including its first event (empty otherwise), the rest is unread.
    Answered(Response<ResponseBody>, Bytes),
    /// An error status, its body read (bounded) and classified.
    Failed(FailedAnswer),
    /// No answer: a timeout or a connection error (transient).
    Unreachable(GatewayError),
}

/// An upstream error answer.
pub(super) struct FailedAnswer {
    pub(super) status: StatusCode,
    /// The headers worth passing on.
    pub(super) headers: HeaderMap,
    pub(super) body: Bytes,
    pub(super) class: FailureClass,
    /// The version of the OAuth token the attempt sent, if it sent one.
    pub(super) oauth_version: Option<i64>,
}

/// An answer that will go to the client, with the credential that got it.
pub(super) struct Served {
    pub(super) response: Response<ResponseBody>,
    /// The start of a stream's body, already read (see [`Attempt::Answered`]).
    pub(super) head: Bytes,
    pub(super) lease: Option<Lease>,
}

impl Engine {
    /// Plans and runs the request; on a model route, a target that is
    /// degraded, rate limited or whose circuit is open gives way to the
    /// route's next target.
    pub(super) async fn dispatch(
        &self,
        req: &ProxyRequest,
        accounting: &mut Accounting,
    ) -> Result<Dispatched, GatewayError> {
        let test_mode = super::retry::TestMode::of(req, self.resilience.test_mode_enabled());
        let mut tried: Vec<(String, String)> = Vec::new();
        let mut last: Option<GatewayError> = None;
        let max_cost = Self::max_cost(req)?;
        loop {
            let plan = match self.plan(req, accounting.log_mut(), &tried) {
                Ok(plan) => plan,
                // Every target tried: the last target's failure.
                Err(e) => return Err(last.unwrap_or(e)),
            };
            accounting.set_provider_kind(plan.provider.provider.kind());
            accounting.set_pricing(
                self.prices.load_full(),
                plan.provider.provider.kind(),
                plan.endpoint().protocol(),
            );
            // Each optional check costs a load and a branch when off; on,
            // its future is boxed so that this one (moved with the whole
            // request future) stays small.
            if let Some(limit) = max_cost {
                Box::pin(self.check_max_cost(
                    req,
                    limit,
                    &plan.provider.name,
                    plan.provider.provider.kind(),
                    &plan.model,
                ))
                .await?;
            }
            if tried.is_empty() {
                if let Some(cache) = self.cache.load_full()
                    && let Some(hit) =
                        Box::pin(self.cache_lookup(cache, req, &plan, accounting)).await
                {
                    return cached_response(&plan, hit);
                }
                // Checked once, against the first target: a fallback
                // target is not counted again.
                if self.rate_limiter.load().is_some() || self.budgets.load().is_some() {
                    Box::pin(self.admit_limits(
                        &req.principal,
                        &plan.provider.name,
                        plan.provider.provider.kind(),
                        &plan.model,
                        plan.output_cap,
                        req.body.len() as u64,
                        accounting,
                    ))
                    .await?;
                }
            }
            match self.run_target(req, &plan, accounting, test_mode).await {
                Ok(served) => return self.respond(req, plan, served, accounting).await,
                Err(failure) if failure.fallback && plan.from_route => {
                    tracing::warn!(
                        provider = %plan.provider.name,
                        model = %plan.model,
                        error = %failure.error,
                        "route target failed; trying the next target"
                    );
                    self.observe.metrics.fallback(&plan.provider.name);
                    tried.push((plan.provider.name.clone(), plan.model.clone()));
                    last = Some(failure.error);
                }
                Err(failure) => return Err(failure.error),
            }
        }
    }

    /// Looks the request up in `cache` when it is used for it
    /// (see [`crate::cache`]); on a miss that may be stored, `accounting`
    /// records the answer for it.
    async fn cache_lookup(
        &self,
        cache: Arc<crate::cache::ResponseCache>,
        req: &ProxyRequest,
        plan: &Plan<'_>,
        accounting: &mut Accounting,
    ) -> Option<Arc<crate::cache::Entry>> {
        use crate::cache::key::CacheOperation;
        let operation = match (req.route.operation, plan.stream) {
            (Operation::Generate, false) => CacheOperation::Generate,
            (Operation::Generate, true) => CacheOperation::GenerateStream,
            (Operation::Embeddings, _) => CacheOperation::Embeddings,
            (Operation::CountTokens, _) => return None,
        };
        let client_model = match &req.route.gemini {
            Some(call) => call.model.as_str(),
            None => gproxy_protocol::json_edit::plain_str_at(&req.body, "model").unwrap_or(""),
        };
        let decision = cache.decide(
            &req.principal,
            &req.headers,
            req.route.protocol.as_str(),
            operation,
            client_model,
            &plan.provider.name,
            &plan.model,
            &req.body,
        )?;
        let Ok(decision) = decision else {
            accounting.set_cache_status("bypass");
            return None;
        };
        if decision.lookup
            && let Some(hit) = cache.get(&decision.key).await
        {
            accounting.set_cache_status("hit");
            return Some(hit);
        }
        accounting.set_cache_status(if decision.lookup { "miss" } else { "bypass" });
        accounting.fill_cache(crate::cache::Fill {
            cache,
            key: decision.key,
            ttl: decision.ttl,
            stream: plan.stream,
            content_type: None,
            body: Vec::new(),
            overflow: false,
        });
        None
    }

    /// One upstream attempt with `lease`'s credential (or none, for a
    /// keyless provider). `Err` is a failure no retry can help (a bad
    /// request, an unusable credential, an internal error).
    pub(super) async fn attempt(
        &self,
        req: &ProxyRequest,
        plan: &Plan<'_>,
        lease: Option<&CredentialEntry>,
        accounting: &mut Accounting,
    ) -> Result<Attempt, GatewayError> {
        let provider = &plan.provider;
        let name = provider.name.as_str();
        let (mut upstream_req, oauth_version) = self
            .upstream_request(req, provider, &plan.endpoint(), lease, plan.body.clone())
            .await?;
        accounting.trace_upstream(upstream_req.headers_mut());

        // The first event must come within the same first-byte timeout.
        let deadline = deadline_after(self.limits().first_byte_timeout);
        let response = match self.send_upstream(upstream_req, name).await {
            Ok(r) => r,
            Err(
                e @ (GatewayError::UpstreamTimeout { .. }
                | GatewayError::UpstreamUnavailable { .. }),
            ) => {
                return Ok(Attempt::Unreachable(e));
            }
            Err(e) => return Err(e),
        };
        if response.status().is_success() {
            return match framing_for(plan, response.headers()) {
                Some(framing) => {
                    self.first_event(response, framing, plan, deadline, accounting)
                        .await
                }
                None => Ok(Attempt::Answered(response, Bytes::new())),
            };
        }
        let (parts, incoming) = response.into_parts();
        accounting.first_byte();
        let body = match self.read_body(incoming, name).await {
            Ok(body) => body,
            Err(e) => return Ok(Attempt::Unreachable(e)),
        };
        let class = provider
            .provider
            .classify_failure(parts.status, &parts.headers, &body);
        let mut kept = HeaderMap::new();
        copy_response_headers(&parts.headers, &mut kept);
        Ok(Attempt::Failed(FailedAnswer {
            status: parts.status,
            headers: kept,
            body,
            class,
            oauth_version,
        }))
    }

    /// Reads a streamed answer up to its first event, by `deadline`. An
    /// error event there becomes a [`FailedAnswer`] with the status it
    /// stands for; anything else is answered, with the bytes read so far.
    /// A stream that ends before any event is answered too (its processor
    /// deals with it as before).
    async fn first_event(
        &self,
        response: Response<ResponseBody>,
        mut framing: Framing,
        plan: &Plan<'_>,
        deadline: tokio::time::Instant,
        accounting: &mut Accounting,
    ) -> Result<Attempt, GatewayError> {
        let name = plan.provider.name.as_str();
        let (parts, mut incoming) = response.into_parts();
        let mut head = HeadBuf::default();
        let mut events = Vec::new();
        let mut elements = Vec::new();
        loop {
            let frame = match tokio::time::timeout_at(deadline, incoming.frame()).await {
                Err(_) => {
                    return Ok(Attempt::Unreachable(GatewayError::UpstreamTimeout {
                        provider: name.to_owned(),
                        phase: crate::error::FIRST_EVENT_PHASE,
                    }));
                }
                Ok(None) => break,
                Ok(Some(Err(e))) => {
                    return Ok(Attempt::Unreachable(GatewayError::UpstreamUnavailable {
                        provider: name.to_owned(),
                        message: format!("the stream broke before its first event: {e}"),
                    }));
                }
                Ok(Some(Ok(frame))) => frame,
            };
            let Ok(data) = frame.into_data() else {
                continue;
            };
            accounting.first_byte();
            let fed = match &mut framing {
                Framing::Sse(decoder) => decoder.feed(&data, &mut events),
                Framing::JsonArray(splitter) => splitter.feed(&data, &mut elements),
                Framing::Opaque => Ok(()),
            };
            head.push(data);
            fed.map_err(|e| GatewayError::UpstreamInvalid {
                provider: name.to_owned(),
                message: e.to_string(),
            })?;
            let first = match (events.first(), elements.first()) {
                (Some(event), _) => Some((event.event.as_deref(), event.data.as_str())),
                (None, Some(element)) => Some((None, std::str::from_utf8(element).unwrap_or(""))),
                (None, None) => None,
            };
            let Some((event, data)) = first else {
                continue;
            };
            let unwrapped;
            let data = match plan.provider.provider.response_envelope() {
                Some(envelope) => {
                    unwrapped = crate::stream::unwrap_envelope(data.as_bytes(), envelope);
                    std::str::from_utf8(&unwrapped).unwrap_or(data)
                }
                None => data,
            };
            let protocol = plan.endpoint().protocol();
            if let Some(error) = stream_error::first_event_error(protocol, event, data) {
                let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_GATEWAY);
                let body = Bytes::from(error.body);
                let class = plan
                    .provider
                    .provider
                    .classify_failure(status, &parts.headers, &body);
                let mut kept = HeaderMap::new();
                copy_response_headers(&parts.headers, &mut kept);
                kept.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                return Ok(Attempt::Failed(FailedAnswer {
                    status,
                    headers: kept,
                    body,
                    class,
                    oauth_version: None,
                }));
            }
            break;
        }
        Ok(Attempt::Answered(
            Response::from_parts(parts, incoming),
            head.into_bytes(),
        ))
    }

    /// The upstream request for `endpoint`: the client's headers minus
    /// its credentials, connection headers and (when the endpoint speaks
    /// another protocol) its protocol's own headers; the provider's default
    /// and extra headers; `credential` (resolved into an access token for
    /// a service account) in the provider's auth form; the JSON `body`.
    pub(crate) async fn upstream_request(
        &self,
        req: &ProxyRequest,
        provider: &ProviderRuntime,
        endpoint: &Endpoint<'_>,
        entry: Option<&CredentialEntry>,
        body: Bytes,
    ) -> Result<(Request<UpstreamBody>, Option<i64>), GatewayError> {
        let name = provider.name.as_str();
        let (id, credential) = entry.map_or((0, &NO_CREDENTIAL), |e| (e.id, &e.credential));
        let url = provider
            .provider
            .upstream_url_for(&provider.base_url, endpoint, credential)
            .map_err(|e| GatewayError::BadRequest(e.to_string()))?;
        // A service account becomes an access token (cached), an OAuth
        // login its newest token (refreshed when due); others as they are.
        let credential = self
            .tokens
            .resolve(
                id,
                credential,
                provider.provider.as_ref(),
                name,
                entry.map(|e| e.health.as_ref()),
            )
            .await?;
        let oauth_version = credential.oauth().map(|login| login.version);
        let mut headers = HeaderMap::with_capacity(req.headers.len() + 3);
        for (k, v) in &req.headers {
            if !is_dropped_request_header(k) {
                headers.append(k.clone(), v.clone());
            }
        }
        // Headers of the client's protocol mean nothing to another one.
        if endpoint.protocol() != req.route.protocol {
            headers.remove("anthropic-version");
            headers.remove("anthropic-beta");
        }
        apply_provider_headers(provider.provider.as_ref(), &mut headers);
        provider
            .provider
            .apply_auth(&credential, &mut headers)
            .map_err(|e| GatewayError::UpstreamUnavailable {
                provider: name.to_owned(),
                message: e.to_string(),
            })?;
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        // The kind's last word (OAuth kinds: envelope, identity headers).
        let body = provider
            .provider
            .prepare_request(endpoint, &credential, &mut headers, body)
            .map_err(|e| match e {
                gproxy_provider::ProviderError::InvalidCredential { .. } => {
                    GatewayError::UpstreamUnavailable {
                        provider: name.to_owned(),
                        message: e.to_string(),
                    }
                }
                other => GatewayError::BadRequest(other.to_string()),
            })?;
        headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));

        // The URL's own buffer becomes the `Uri`'s (a `&String` is copied).
        let url = Bytes::from(url);
        let failed = |e: &dyn std::fmt::Display| {
            GatewayError::Internal(format!(
                "building upstream request for {}: {e}",
                String::from_utf8_lossy(&url)
            ))
        };
        let uri = http::Uri::from_maybe_shared(url.clone()).map_err(|e| failed(&e))?;
        let mut builder = Request::builder().method(Method::POST).uri(uri);
        if let Some(h) = builder.headers_mut() {
            *h = headers;
        }
        let request = builder
            .body(UpstreamBody::full(body))
            .map_err(|e| failed(&e))?;
        Ok((request, oauth_version))
    }

    /// An upstream error answer as the client gets it: as received, or in
    /// the client's shape when the call was converted.
    pub(super) fn upstream_error(
        &self,
        req: &ProxyRequest,
        plan: &Plan<'_>,
        answer: FailedAnswer,
    ) -> GatewayError {
        let FailedAnswer {
            status,
            headers,
            body,
            ..
        } = answer;
        // A converted call answers in the client's shape, not the upstream's.
        let converted = plan.embed_conversion.is_some() || plan.conversion.is_some();
        upstream_failure(
            &plan.provider.name,
            &plan.model,
            status,
            headers,
            body,
            converted.then_some(req.route.protocol),
        )
    }

    /// Turns a served answer into the client's response: a stream
    /// forwarded as it comes, or a whole body rewritten where needed.
    async fn respond(
        &self,
        req: &ProxyRequest,
        plan: Plan<'_>,
        served: Served,
        accounting: &mut Accounting,
    ) -> Result<Dispatched, GatewayError> {
        let Served {
            response,
            head,
            lease,
        } = served;
        let name = plan.provider.name.as_str();
        let (parts, incoming) = response.into_parts();
        let status = parts.status;
        let framing = framing_for(&plan, &parts.headers);

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
            // Sized once for what is added on the way out (provider, model,
            // cost, request id, type, the limits' six), so the map is not
            // grown and rehashed twice or three times per response.
            let limits = if accounting.rate_headers().is_some() {
                6
            } else {
                0
            };
            h.reserve(parts.headers.len() + 5 + limits);
            copy_response_headers(&parts.headers, h);
            served_by(h, name, &plan.model);
            if let Some(conv) = conversion {
                if let Some(v) = conv
                    .dropped_header()
                    .and_then(|d| HeaderValue::from_str(&d).ok())
                {
                    h.insert("x-gproxy-dropped", v);
                }
                // The body is rewritten: the upstream's length and type go.
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
            let body = self.read_rest(head, incoming, name).await?;
            accounting.upstream_read();
            drop(lease);
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

        match framing {
            Some(framing) => {
                let envelope = plan.provider.provider.response_envelope();
                // A Gemini client that did not ask for SSE, served by an
                // SSE-only upstream (Code Assist): a streamed JSON array.
                let json_array = envelope.is_some()
                    && plan.conversion.is_none()
                    && matches!(framing, Framing::Sse(_))
                    && matches!(
                        plan.target,
                        Target::GeminiGenerate {
                            stream: true,
                            alt_sse: false
                        }
                    );
                let mut processor =
                    StreamProcessor::new(plan.endpoint().protocol(), framing, plan.rewrite);
                processor.unwrap(envelope);
                if json_array {
                    processor.json_array_out();
                    if let Some(h) = builder.headers_mut() {
                        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                    }
                }
                if let Some(conv) = &plan.conversion {
                    processor.transcode(conv.transcoder());
                }
                let response = builder
                    .body(())
                    .map_err(|e| GatewayError::Internal(format!("building response: {e}")))?;
                Ok(Dispatched::Stream {
                    response,
                    head,
                    incoming,
                    processor: Box::new(processor),
                    watch: StreamWatch::new(self.resilience.clone(), plan.provider.clone(), lease),
                })
            }
            None => {
                accounting.first_byte();
                let body = self.read_rest(head, incoming, name).await?;
                accounting.upstream_read();
                drop(lease);
                let body = match plan.provider.provider.response_envelope() {
                    Some(envelope) => match crate::stream::unwrap_envelope(&body, envelope) {
                        std::borrow::Cow::Owned(inner) => Bytes::from(inner),
                        std::borrow::Cow::Borrowed(_) => body,
                    },
                    None => body,
                };
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
    ) -> Result<Response<ResponseBody>, GatewayError> {
        match tokio::time::timeout(
            self.limits().first_byte_timeout,
            self.upstream.send(request),
        )
        .await
        {
            Err(_) => Err(GatewayError::UpstreamTimeout {
                provider: provider.to_owned(),
                phase: crate::error::FIRST_BYTE_PHASE,
            }),
            // Only a streamed (passthrough) body has a limit to go over,
            // or a client that stops sending it.
            Ok(Err(e)) if body_over_limit(&e) => Err(GatewayError::PayloadTooLarge {
                limit: self.limits().max_passthrough_body_bytes,
            }),
            Ok(Err(e)) => Err(match crate::request_body::body_timeout(&e) {
                Some(timeout) => GatewayError::RequestTimeout(timeout.to_string()),
                None => GatewayError::UpstreamUnavailable {
                    provider: provider.to_owned(),
                    message: describe_client_error(&e),
                },
            }),
            Ok(Ok(r)) => Ok(r),
        }
    }

    /// The rest of a body whose start (`head`) was read already.
    async fn read_rest(
        &self,
        head: Bytes,
        incoming: ResponseBody,
        provider: &str,
    ) -> Result<Bytes, GatewayError> {
        let rest = self.read_body(incoming, provider).await?;
        if head.is_empty() {
            return Ok(rest);
        }
        let mut whole = Vec::with_capacity(head.len() + rest.len());
        whole.extend_from_slice(&head);
        whole.extend_from_slice(&rest);
        Ok(Bytes::from(whole))
    }

    /// Reads a whole upstream body, bounded in size and in idle time. A body
    /// that arrives in one frame (the usual case) is kept as it came; only
    /// a body in several frames is copied into one buffer.
    pub(crate) async fn read_body(
        &self,
        mut incoming: ResponseBody,
        provider: &str,
    ) -> Result<Bytes, GatewayError> {
        let mut first: Option<Bytes> = None;
        let mut buf = Vec::new();
        loop {
            let frame =
                match tokio::time::timeout(self.limits().stream_idle_timeout, incoming.frame())
                    .await
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
                if held + data.len() > self.limits().max_response_bytes {
                    return Err(GatewayError::UpstreamInvalid {
                        provider: provider.to_owned(),
                        message: format!(
                            "response body exceeds the limit of {} bytes",
                            self.limits().max_response_bytes
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

/// How a successful answer is framed: an event stream by its content type,
/// a JSON-array stream for a Gemini stream call; `None` for a whole body.
/// A cache hit as the client's response: the stored answer with a fresh
/// response id, its content type, and who served it originally.
fn cached_response(
    plan: &Plan<'_>,
    hit: Arc<crate::cache::Entry>,
) -> Result<Dispatched, GatewayError> {
    let mut builder = Response::builder().status(http::StatusCode::OK);
    if let Some(h) = builder.headers_mut() {
        served_by(h, &plan.provider.name, &plan.model);
        if let Ok(v) = HeaderValue::from_str(&hit.content_type) {
            h.insert(CONTENT_TYPE, v);
        }
    }
    let body = ProxyBody::full(hit.fresh_body());
    builder
        .body(body)
        .map(|r| Dispatched::Cached(hit, r))
        .map_err(|e| GatewayError::Internal(format!("building response: {e}")))
}

fn framing_for(plan: &Plan<'_>, headers: &HeaderMap) -> Option<Framing> {
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.starts_with("text/event-stream") {
        Some(Framing::Sse(SseDecoder::new()))
    } else if plan.stream && plan.endpoint().protocol() == Protocol::Gemini {
        Some(Framing::JsonArray(JsonArraySplitter::new()))
    } else {
        None
    }
}

/// The frames read before a stream's first event: kept as they came when
/// there is one (the usual case), joined when there are several.
#[derive(Default)]
struct HeadBuf {
    first: Option<Bytes>,
    rest: Vec<u8>,
}

impl HeadBuf {
    fn push(&mut self, data: Bytes) {
        match self.first.take() {
            None if self.rest.is_empty() => self.first = Some(data),
            first => {
                if let Some(first) = first {
                    self.rest.extend_from_slice(&first);
                }
                self.rest.extend_from_slice(&data);
            }
        }
    }

    fn into_bytes(self) -> Bytes {
        self.first.unwrap_or_else(|| Bytes::from(self.rest))
    }
}

/// Whether the upstream call failed because the client's streamed body
/// went over the passthrough limit.
fn body_over_limit(e: &crate::upstream::SendError) -> bool {
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
fn describe_client_error(e: &crate::upstream::SendError) -> String {
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
