//! Raw passthrough: any other path under `/{provider}/...` (files, audio,
//! batches, moderation, token counting...) goes to the provider's base URL
//! with the client's credentials swapped for the provider's. Bodies stream
//! both ways untouched; the gateway only accounts status and timing.

use std::sync::Arc;
use std::time::Instant;

use gproxy_protocol::Protocol;
use gproxy_storage::RequestLog;
use http::header::HeaderName;
use http::{HeaderMap, Method, Request, Response};

use crate::accounting::{Accounting, Outcome};
use crate::body::ProxyBody;
use crate::engine::{NO_CREDENTIAL, describe_client_error};
use crate::state::Principal;
use crate::stream::{Framing, Rewrite, StreamProcessor};
use crate::upstream::UpstreamBody;
use crate::{Engine, GatewayError};

/// A request for a path the gateway forwards without looking into it.
#[derive(Debug)]
pub struct PassthroughRequest {
    /// The request id.
    pub request_id: String,
    /// The provider named by the path prefix.
    pub provider: String,
    /// HTTP method (any).
    pub method: Method,
    /// The client's full path (for the log).
    pub path: String,
    /// The path after `/{provider}`, with the query minus any `key`.
    pub upstream_path: String,
    /// Client headers.
    pub headers: HeaderMap,
    /// The client's body, streamed.
    pub body: UpstreamBody,
    /// Who sent it.
    pub principal: Arc<Principal>,
    /// When the gateway received it.
    pub started: Instant,
}

/// Client headers not forwarded on passthrough: client credentials,
/// hop-by-hop headers and the client's view of the connection. Content
/// type, length and encoding pass, since the body is forwarded as is.
fn is_dropped_request_header(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "host"
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
            | "http2-settings"
            | "forwarded"
            | "x-forwarded-for"
            | "x-forwarded-host"
            | "x-forwarded-proto"
            | "x-real-ip"
    )
}

/// Upstream response headers not passed on: hop-by-hop and cookies.
fn is_dropped_response_header(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "transfer-encoding"
            | "te"
            | "trailer"
            | "upgrade"
            | "set-cookie"
            | "alt-svc"
    )
}

impl Engine {
    /// The native protocol of a provider, for the shape of its errors.
    pub fn provider_protocol(&self, provider: &str) -> Option<Protocol> {
        let snapshot = self.state.load();
        let p = snapshot.providers.get(provider)?;
        p.provider.protocols().first().copied()
    }

    /// Forwards a request as is. Errors before the upstream answers are
    /// returned for the router to render; any upstream answer (error
    /// statuses included) streams back unchanged.
    pub async fn passthrough(
        &self,
        req: PassthroughRequest,
    ) -> Result<Response<ProxyBody>, GatewayError> {
        let mut accounting = Accounting::new(
            self.sink.clone(),
            RequestLog {
                request_id: req.request_id.clone(),
                created_at: chrono::Utc::now(),
                user_id: Some(req.principal.user_id),
                user_name: Some(req.principal.user_name.to_string()),
                key_prefix: Some(req.principal.key_prefix.to_string()),
                provider: Some(req.provider.clone()),
                protocol: "passthrough".to_owned(),
                method: req.method.to_string(),
                path: req.path.clone(),
                ..RequestLog::default()
            },
            req.started,
        );
        match self.forward(req, &mut accounting).await {
            Ok((response, incoming)) => {
                let status = response.status().as_u16();
                let processor =
                    StreamProcessor::new(Protocol::OpenAiChat, Framing::Opaque, Rewrite::default());
                let body = ProxyBody::stream(
                    incoming,
                    processor,
                    self.limits.stream_idle_timeout,
                    accounting,
                    status,
                );
                Ok(response.map(|()| body))
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

    async fn forward(
        &self,
        req: PassthroughRequest,
        accounting: &mut Accounting,
    ) -> Result<(Response<()>, hyper::body::Incoming), GatewayError> {
        let provider = self
            .state
            .load()
            .providers
            .get(&req.provider)
            .cloned()
            .ok_or_else(|| {
                GatewayError::NotFound(format!(
                    "provider `{}` not found; GET /health lists the configured providers",
                    req.provider
                ))
            })?;
        if !provider.enabled {
            return Err(GatewayError::NotFound(format!(
                "provider `{}` is disabled",
                req.provider
            )));
        }
        let picked = provider.pool.pick();
        if picked.is_none() && provider.provider.requires_credential() {
            return Err(GatewayError::NoCredential {
                provider: req.provider.clone(),
            });
        }
        accounting.log_mut().credential_id = picked.as_ref().map(|c| c.id);
        let credential = picked.as_ref().map_or(&NO_CREDENTIAL, |c| &c.credential);
        let credential = self
            .tokens
            .resolve(
                picked.as_ref().map_or(0, |c| c.id),
                credential,
                &req.provider,
            )
            .await?;

        let url = provider
            .provider
            .passthrough_url(&provider.base_url, &req.upstream_path);
        let mut headers = HeaderMap::with_capacity(req.headers.len() + 2);
        for (k, v) in &req.headers {
            if !is_dropped_request_header(k) {
                headers.append(k.clone(), v.clone());
            }
        }
        provider.provider.default_headers(&mut headers);
        provider
            .provider
            .apply_auth(&credential, &mut headers)
            .map_err(|e| GatewayError::UpstreamUnavailable {
                provider: req.provider.clone(),
                message: e.to_string(),
            })?;
        let mut builder = Request::builder().method(req.method).uri(&url);
        if let Some(h) = builder.headers_mut() {
            *h = headers;
        }
        let upstream_req = builder.body(req.body).map_err(|e| {
            GatewayError::BadRequest(format!("cannot forward to {}: {e}", req.upstream_path))
        })?;

        let response = match tokio::time::timeout(
            self.limits.first_byte_timeout,
            self.upstream.send(upstream_req),
        )
        .await
        {
            Err(_) => {
                return Err(GatewayError::UpstreamTimeout {
                    provider: req.provider,
                    phase: "waiting for response headers",
                });
            }
            Ok(Err(e)) if body_over_limit(&e) => {
                return Err(GatewayError::PayloadTooLarge {
                    limit: self.limits.max_passthrough_body_bytes,
                });
            }
            Ok(Err(e)) => {
                return Err(GatewayError::UpstreamUnavailable {
                    provider: req.provider,
                    message: describe_client_error(&e),
                });
            }
            Ok(Ok(r)) => r,
        };
        let (parts, incoming) = response.into_parts();
        let mut builder = Response::builder().status(parts.status);
        if let Some(h) = builder.headers_mut() {
            for (k, v) in &parts.headers {
                if !is_dropped_response_header(k) {
                    h.append(k.clone(), v.clone());
                }
            }
        }
        let response = builder
            .body(())
            .map_err(|e| GatewayError::Internal(format!("building response: {e}")))?;
        Ok((response, incoming))
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_dropped_and_content_headers_kept() {
        for h in [
            "authorization",
            "x-api-key",
            "x-goog-api-key",
            "host",
            "cookie",
        ] {
            assert!(
                is_dropped_request_header(&HeaderName::from_static(h)),
                "{h}"
            );
        }
        for h in [
            "content-type",
            "content-length",
            "accept-encoding",
            "anthropic-beta",
            "openai-organization",
        ] {
            assert!(
                !is_dropped_request_header(&HeaderName::from_static(h)),
                "{h}"
            );
        }
        assert!(!is_dropped_response_header(&HeaderName::from_static(
            "content-length"
        )));
        assert!(is_dropped_response_header(&HeaderName::from_static(
            "set-cookie"
        )));
    }
}
