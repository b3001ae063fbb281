//! Raw passthrough: any other path under `/{provider}/...` (files, audio,
//! batches, moderation, token counting...) goes to the provider's base URL
//! with the client's credentials swapped for the provider's. Bodies stream
//! both ways untouched; the gateway only accounts status and timing.

use std::sync::Arc;
use std::time::Instant;

use gproxy_protocol::Protocol;
use http::{HeaderMap, Method, Request, Response};

use crate::accounting::{Accounting, AttemptEnd, AttemptStart, Outcome};
use crate::body::ProxyBody;
use crate::engine::NO_CREDENTIAL;
use crate::headers::{
    is_dropped_passthrough_request_header, is_dropped_passthrough_response_header,
};
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
        let logging = self.logging.load();
        let mut accounting = Accounting::start(
            self.sink.clone(),
            &logging,
            &req.principal,
            req.request_id.clone(),
            "passthrough".to_owned(),
            &req.method,
            req.path.clone(),
            req.started,
        );
        // The body streams through unread: only the headers are captured.
        accounting.capture_request(&logging, &req.headers, None);
        drop(logging);
        accounting.log_mut().provider = Some(req.provider.clone());
        if let Some(access) = &req.principal.access
            && !access.allows_provider(&req.provider)
        {
            let err = GatewayError::Forbidden(format!(
                "this API key may not use provider `{}`",
                req.provider
            ));
            accounting.finish(Outcome {
                status: err.status().as_u16(),
                usage: None,
                error: Some(err.log_message()),
                client_disconnected: false,
            });
            return Err(err);
        }
        match self.forward(req, &mut accounting).await {
            Ok((response, incoming)) => {
                let status = response.status().as_u16();
                let processor =
                    StreamProcessor::new(Protocol::OpenAiChat, Framing::Opaque, Rewrite::default());
                let body = ProxyBody::stream(
                    incoming,
                    processor,
                    self.limits().stream_idle_timeout,
                    accounting,
                    status,
                    None,
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
            if !is_dropped_passthrough_request_header(k) {
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

        let start = AttemptStart::now();
        let response = self.send_upstream(upstream_req, &req.provider).await;
        let end = match &response {
            Ok(r) => AttemptEnd::answered(r.status().as_u16()),
            Err(e) => AttemptEnd::failed(e),
        };
        let credential_id = picked.as_ref().map(|c| c.id);
        accounting.attempt(start, &req.provider, credential_id, end);
        let response = response?;
        let (parts, incoming) = response.into_parts();
        let mut builder = Response::builder().status(parts.status);
        if let Some(h) = builder.headers_mut() {
            for (k, v) in &parts.headers {
                if !is_dropped_passthrough_response_header(k) {
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
