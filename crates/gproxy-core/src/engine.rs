//! The request pipeline: authenticate, resolve the provider and model,
//! rewrite only the fields the gateway must touch, dispatch upstream, and
//! hand back a response whose accounting completes off the hot path.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use gproxy_credential::Credential;
use gproxy_protocol::json_array::JsonArraySplitter;
use gproxy_protocol::json_edit::{RawObject, prefix_model};
use gproxy_protocol::sse::SseDecoder;
use gproxy_protocol::{Protocol, usage};
use gproxy_provider::Endpoint;
use gproxy_storage::{RequestLog, UsageSink};
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderName};
use http::{HeaderMap, HeaderValue, Method, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;

use crate::accounting::{Accounting, Outcome};
use crate::body::ProxyBody;
use crate::settings::Limits;
use crate::state::{Principal, ProviderRuntime, StateHandle};
use crate::stream::{Framing, Rewrite, StreamProcessor};
use crate::upstream::UpstreamClient;
use crate::{GatewayError, UpstreamFailure};

/// A Gemini call named by the URL path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeminiCall {
    /// API version segment (`v1beta` or `v1`).
    pub version: String,
    /// The model segment (on aggregate routes `provider/model`).
    pub model: String,
    /// `streamGenerateContent`.
    pub stream: bool,
    /// The client asked for `alt=sse`.
    pub alt_sse: bool,
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
    state: Arc<StateHandle>,
    upstream: UpstreamClient,
    sink: UsageSink,
    limits: Limits,
}

/// The credential of a keyless provider with none configured.
static NO_CREDENTIAL: Credential = Credential::None;

/// Client headers never forwarded upstream: client credentials, hop-by-hop
/// headers, and headers the gateway sets itself.
fn is_dropped_request_header(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "host"
            | "content-length"
            | "content-type"
            | "authorization"
            | "x-api-key"
            | "x-goog-api-key"
            | "cookie"
            | "connection"
            | "keep-alive"
            | "proxy-authorization"
            | "proxy-connection"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "expect"
            | "accept-encoding"
            | "http2-settings"
            | "forwarded"
            | "x-forwarded-for"
            | "x-forwarded-host"
            | "x-forwarded-proto"
            | "x-real-ip"
    )
}

/// Upstream response headers never passed to the client.
fn is_dropped_response_header(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "transfer-encoding"
            | "content-length"
            | "content-encoding"
            | "te"
            | "trailer"
            | "upgrade"
            | "set-cookie"
            | "alt-svc"
    )
}

/// The upstream call the engine settled on.
struct Plan<'a> {
    provider: Arc<ProviderRuntime>,
    endpoint: Endpoint<'a>,
    body: Bytes,
    stream: bool,
    rewrite: Rewrite,
    /// Prefix to put back on the model of a non-stream body.
    model_prefix: Option<String>,
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

        let (provider_name, model, aggregate): (&str, &str, bool) = match &req.route.provider {
            Some(p) => (p, &client_model, false),
            None => match client_model.split_once('/') {
                Some((p, m)) if !p.is_empty() && !m.is_empty() => (p, m, true),
                _ => {
                    return Err(GatewayError::BadRequest(format!(
                        "model `{client_model}`: on aggregate routes write the model as `provider/model` (e.g. `openai/gpt-4o-mini`), or call `/{{provider}}/...`"
                    )));
                }
            },
        };
        log.provider = Some(provider_name.to_owned());
        log.model = Some(model.to_owned());

        let provider = snapshot
            .providers
            .get(provider_name)
            .cloned()
            .ok_or_else(|| {
                GatewayError::NotFound(format!(
                    "provider `{provider_name}` not found; GET /health lists the configured providers"
                ))
            })?;
        if !provider.enabled {
            return Err(GatewayError::NotFound(format!(
                "provider `{provider_name}` is disabled"
            )));
        }
        if !provider.provider.speaks(protocol) {
            return Err(GatewayError::BadRequest(format!(
                "provider `{provider_name}` (kind `{}`) does not speak {}; call it with one of: {}",
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

        let mut rewrite = Rewrite::default();
        let mut stream = false;
        let mut changed = false;
        if let Some(obj) = body_obj.as_mut() {
            stream = obj.get_bool("stream").unwrap_or(false);
            if aggregate {
                obj.set_str("model", model);
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
        let body = match (&body_obj, changed) {
            (Some(obj), true) => Bytes::from(obj.to_vec()),
            _ => req.body.clone(),
        };
        let model_prefix =
            (aggregate && protocol != Protocol::Gemini).then(|| provider_name.to_owned());
        rewrite.model_prefix = model_prefix.clone();

        let endpoint = match (&req.route.gemini, protocol) {
            (Some(call), _) => {
                stream = call.stream;
                let model = match &req.route.provider {
                    Some(_) => call.model.as_str(),
                    None => call.model.split_once('/').map_or("", |(_, m)| m),
                };
                Endpoint::GeminiGenerate {
                    version: &call.version,
                    model,
                    stream: call.stream,
                    alt_sse: call.alt_sse,
                }
            }
            (None, Protocol::OpenAiChat) => Endpoint::OpenAiChat,
            (None, Protocol::OpenAiResponses) => Endpoint::OpenAiResponses,
            (None, Protocol::Claude) => Endpoint::ClaudeMessages,
            (None, Protocol::Gemini) => {
                return Err(GatewayError::Internal("gemini route without a call".into()));
            }
        };
        log.stream = stream;
        Ok(Plan {
            provider,
            endpoint,
            body,
            stream,
            rewrite,
            model_prefix,
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
            .upstream_url(&provider.base_url, &plan.endpoint)
            .map_err(|e| GatewayError::BadRequest(e.to_string()))?;
        let mut headers = HeaderMap::with_capacity(req.headers.len() + 3);
        for (k, v) in &req.headers {
            if !is_dropped_request_header(k) {
                headers.append(k.clone(), v.clone());
            }
        }
        provider.provider.default_headers(&mut headers);
        provider
            .provider
            .apply_auth(credential, &mut headers)
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
        let upstream_req = builder.body(Full::new(plan.body.clone())).map_err(|e| {
            GatewayError::Internal(format!("building upstream request for {url}: {e}"))
        })?;

        let response = match tokio::time::timeout(
            self.limits.first_byte_timeout,
            self.upstream.send(upstream_req),
        )
        .await
        {
            Err(_) => {
                return Err(GatewayError::UpstreamTimeout {
                    provider: name.to_owned(),
                    phase: "waiting for response headers",
                });
            }
            Ok(Err(e)) => {
                return Err(GatewayError::UpstreamUnavailable {
                    provider: name.to_owned(),
                    message: describe_client_error(&e),
                });
            }
            Ok(Ok(r)) => r,
        };
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
        } else if plan.stream && req.route.protocol == Protocol::Gemini {
            Some(Framing::JsonArray(JsonArraySplitter::new()))
        } else {
            None
        };

        let mut builder = Response::builder().status(status);
        if let Some(h) = builder.headers_mut() {
            for (k, v) in &parts.headers {
                if !is_dropped_response_header(k) {
                    h.append(k.clone(), v.clone());
                }
            }
        }

        match framing {
            Some(framing) => {
                let processor = StreamProcessor::new(req.route.protocol, framing, plan.rewrite);
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
                let usage = usage::from_response_body(req.route.protocol, &body);
                let body = match &plan.model_prefix {
                    Some(prefix) => match prefix_model(&body, prefix) {
                        Ok(Some(rewritten)) => Bytes::from(rewritten),
                        Ok(None) | Err(_) => body,
                    },
                    None => body,
                };
                builder
                    .body(ProxyBody::full(body))
                    .map(|r| Dispatched::Full(r, usage))
                    .map_err(|e| GatewayError::Internal(format!("building response: {e}")))
            }
        }
    }

    /// Reads a whole upstream body, bounded in size and in idle time. A body
    /// that arrives in one frame (the usual case) is kept as it came; only
    /// a body in several frames is copied into one buffer.
    async fn read_body(
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

    #[test]
    fn credentials_and_hop_headers_are_dropped() {
        for h in [
            "authorization",
            "x-api-key",
            "x-goog-api-key",
            "host",
            "accept-encoding",
            "cookie",
        ] {
            assert!(
                is_dropped_request_header(&HeaderName::from_static(h)),
                "{h}"
            );
        }
        for h in [
            "anthropic-version",
            "anthropic-beta",
            "openai-beta",
            "user-agent",
        ] {
            assert!(
                !is_dropped_request_header(&HeaderName::from_static(h)),
                "{h}"
            );
        }
    }
}
