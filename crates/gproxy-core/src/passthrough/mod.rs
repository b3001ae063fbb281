//! Raw passthrough: any other path under `/{provider}/...` (files, audio,
//! batches, moderation, token counting...) goes to the provider's base URL
//! with the client's credentials swapped for the provider's. Bodies stream
//! both ways untouched; the gateway only accounts status and timing.
//!
//! The path is checked first ([`path`]): dot segments (raw or
//! percent-encoded), backslashes and control characters are refused with a
//! 400 before any upstream call, and the URL built must lie under the
//! provider's base URL. The credential is leased like a generate call's
//! (disabled and cooling-down credentials skipped) and held until the
//! answer's body ends.

mod path;

use std::sync::Arc;
use std::time::Instant;

use gproxy_protocol::Protocol;
use http::{HeaderMap, Method, Request, Response};

use gproxy_credential::clock::now_ms;
use gproxy_credential::{Lease, NoPick};

use crate::accounting::{Accounting, AttemptEnd, AttemptStart, Outcome};
use crate::body::{ProxyBody, StreamWatch};
use crate::engine::NO_CREDENTIAL;
use crate::headers::{
    apply_provider_headers, is_dropped_passthrough_request_header,
    is_dropped_passthrough_response_header,
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
    /// Whether `provider` is running and its kind logs in with OAuth.
    pub fn provider_has_oauth(&self, provider: &str) -> bool {
        let snapshot = self.state.load();
        snapshot
            .providers
            .get(provider)
            .is_some_and(|p| p.provider.oauth().is_some())
    }

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
            self,
            &logging,
            &req.principal,
            &req.headers,
            req.request_id.clone(),
            "passthrough",
            &req.method,
            req.path.clone(),
            req.started,
        );
        // The body streams through unread: only the headers are captured.
        accounting.capture_request(&logging, &req.headers, None);
        drop(logging);
        accounting.log_mut().provider = Some(req.provider.clone());
        let bytes = req
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
            .unwrap_or(0);
        let forwarded = match admit(&req) {
            Ok(()) => match self
                .admit_rate(&req.principal, &req.provider, "", bytes, &mut accounting)
                .await
            {
                Ok(()) => match self
                    .admit_budget_passthrough(&req.principal, &mut accounting)
                    .await
                {
                    Ok(()) => self.forward(req, &mut accounting).await,
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        match forwarded {
            Ok((mut response, incoming, lease)) => {
                if let Some(rate) = accounting.rate_headers() {
                    rate.apply(response.headers_mut());
                }
                let status = response.status().as_u16();
                let processor =
                    StreamProcessor::new(Protocol::OpenAiChat, Framing::Opaque, Rewrite::default());
                let body = ProxyBody::stream(
                    bytes::Bytes::new(),
                    incoming,
                    processor,
                    self.limits().stream_idle_timeout,
                    accounting,
                    status,
                    Some(StreamWatch::lease_only(lease)),
                );
                Ok(response.map(|()| body))
            }
            Err(e) => {
                accounting.finish(Outcome::failed(&e));
                Err(e)
            }
        }
    }

    async fn forward(
        &self,
        req: PassthroughRequest,
        accounting: &mut Accounting,
    ) -> Result<(Response<()>, crate::upstream::ResponseBody, Option<Lease>), GatewayError> {
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
        let now = now_ms();
        // No model: only whole-credential cooldowns apply.
        let picked = match provider.pool.lease("", now, &[]) {
            Ok(lease) => Some(lease),
            Err(NoPick::Empty) if !provider.provider.requires_credential() => None,
            Err(NoPick::CoolingDown { until_ms }) => {
                return Err(GatewayError::RateLimited {
                    provider: req.provider.clone(),
                    retry_after_secs: until_ms.saturating_sub(now).div_ceil(1000).max(1),
                });
            }
            Err(NoPick::Empty | NoPick::Unusable) => {
                return Err(GatewayError::NoCredential {
                    provider: req.provider.clone(),
                });
            }
        };
        accounting.log_mut().credential_id = picked.as_ref().map(|c| c.id);
        let credential = picked.as_ref().map_or(&NO_CREDENTIAL, |c| &c.credential);
        let credential = self
            .tokens
            .resolve(
                picked.as_ref().map_or(0, |c| c.id),
                credential,
                provider.provider.as_ref(),
                &req.provider,
                picked.as_ref().map(|c| c.health.as_ref()),
            )
            .await?;

        let url = provider
            .provider
            .passthrough_url(&provider.base_url, &req.upstream_path);
        if !path::is_under_base(&url, &provider.base_url) {
            return Err(GatewayError::BadRequest(
                "the passthrough path leaves the provider's base URL; it is not forwarded"
                    .to_owned(),
            ));
        }
        let mut headers = HeaderMap::with_capacity(req.headers.len() + 2);
        for (k, v) in &req.headers {
            if !is_dropped_passthrough_request_header(k) {
                headers.append(k.clone(), v.clone());
            }
        }
        apply_provider_headers(provider.provider.as_ref(), &mut headers);
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
        let mut upstream_req = builder.body(req.body).map_err(|e| {
            GatewayError::BadRequest(format!("cannot forward to {}: {e}", req.upstream_path))
        })?;

        accounting.trace_upstream(upstream_req.headers_mut());
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
        Ok((response, incoming, picked))
    }
}

/// What is refused before anything else: a provider outside the key's
/// allow-list, a path that could leave the provider's base URL.
fn admit(req: &PassthroughRequest) -> Result<(), GatewayError> {
    if let Some(access) = &req.principal.access
        && !access.allows_provider(&req.provider)
    {
        return Err(GatewayError::Forbidden(format!(
            "this API key may not use provider `{}`",
            req.provider
        )));
    }
    let path_only = req.upstream_path.split('?').next().unwrap_or_default();
    if let Some(reason) = path::refusal(path_only) {
        return Err(GatewayError::BadRequest(format!(
            "the passthrough path {reason}; it is not forwarded"
        )));
    }
    Ok(())
}
