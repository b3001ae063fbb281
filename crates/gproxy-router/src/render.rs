//! Responses the router renders itself: errors in the client's protocol
//! shape, and `/health`.

use gproxy_core::{
    ERROR_CLASS_HEADER, Engine, GatewayError, PROVIDER_DEGRADED, ProxyBody, UpstreamFailure,
};
use gproxy_protocol::Protocol;
use gproxy_protocol::error::error_body;
use http::header::{CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderValue, Response, StatusCode};

use crate::JSON;

/// Renders a request error for a client that spoke `protocol`. This is the
/// one place errors become HTTP.
pub(crate) fn error(protocol: Protocol, err: GatewayError) -> Response<ProxyBody> {
    match err {
        // Same protocol: the upstream's own status, headers and body.
        GatewayError::Upstream(failure) => {
            let UpstreamFailure {
                provider,
                status,
                headers,
                body,
            } = *failure;
            if body.is_empty() {
                return plain_error(
                    protocol,
                    status,
                    &format!("upstream `{provider}` answered {status} with no body"),
                );
            }
            let mut response = Response::new(ProxyBody::full(body));
            *response.status_mut() = status;
            *response.headers_mut() = headers;
            response
        }
        GatewayError::Internal(ref detail) => {
            tracing::error!(detail, "internal error");
            plain_error(protocol, err.status(), &err.client_message())
        }
        GatewayError::ProviderDegraded { .. } => {
            let mut response = plain_error(protocol, err.status(), &err.client_message());
            response.headers_mut().insert(
                ERROR_CLASS_HEADER,
                HeaderValue::from_static(PROVIDER_DEGRADED),
            );
            if let GatewayError::ProviderDegraded { provider, .. } = &err
                && let Ok(v) = HeaderValue::from_str(provider)
            {
                response
                    .headers_mut()
                    .insert(gproxy_core::PROVIDER_HEADER, v);
            }
            response
        }
        GatewayError::RateLimited {
            retry_after_secs, ..
        } => {
            let mut response = plain_error(protocol, err.status(), &err.client_message());
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(retry_after_secs));
            response
        }
        GatewayError::RateLimitExceeded(ref refusal) => {
            let mut response = plain_error(protocol, err.status(), &err.client_message());
            if let gproxy_core::ratelimit::RateRefusal::Exceeded {
                retry_after_ms,
                headers,
                ..
            } = &**refusal
            {
                headers.apply(response.headers_mut());
                response.headers_mut().insert(
                    RETRY_AFTER,
                    HeaderValue::from(retry_after_ms.div_ceil(1_000).max(1)),
                );
            }
            response
        }
        GatewayError::BudgetExceeded(ref refusal) => {
            let mut response = plain_error(protocol, err.status(), &err.client_message());
            if let gproxy_core::budget::BudgetRefusal::Exhausted {
                reset: Some(reset), ..
            } = &**refusal
                && let Ok(v) = HeaderValue::from_str(&reset.to_rfc3339())
            {
                response
                    .headers_mut()
                    .insert(gproxy_core::budget::RESET_HEADER, v);
            }
            response
        }
        GatewayError::RequestTimeout(_) => {
            let mut response = plain_error(protocol, err.status(), &err.client_message());
            response.extensions_mut().insert(crate::BodyTimedOut);
            response
        }
        GatewayError::Unauthorized(_)
        | GatewayError::Forbidden(_)
        | GatewayError::BadRequest(_)
        | GatewayError::PayloadTooLarge { .. }
        | GatewayError::NotFound(_)
        | GatewayError::CostLimitExceeded(_)
        | GatewayError::NoCredential { .. }
        | GatewayError::UpstreamUnavailable { .. }
        | GatewayError::UpstreamTimeout { .. }
        | GatewayError::UpstreamInvalid { .. } => {
            plain_error(protocol, err.status(), &err.client_message())
        }
    }
}

/// An error body in `protocol`'s shape.
pub(crate) fn plain_error(
    protocol: Protocol,
    status: StatusCode,
    message: &str,
) -> Response<ProxyBody> {
    let mut response = Response::new(ProxyBody::full(error_body(
        protocol,
        status.as_u16(),
        message,
    )));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, JSON);
    response
}

/// A JSON answer with status 200.
pub(crate) fn json(value: &serde_json::Value) -> Response<ProxyBody> {
    let mut response = Response::new(ProxyBody::full(value.to_string()));
    response.headers_mut().insert(CONTENT_TYPE, JSON);
    response
}

/// `GET /health`: without the admin key only status and version (no IO);
/// with it everything the admin sees (see [`gproxy_core::health`]).
pub(crate) async fn health(engine: &Engine, admin: bool) -> Response<ProxyBody> {
    let body = if admin {
        serde_json::to_vec(&engine.health_detail().await)
    } else {
        serde_json::to_vec(&gproxy_core::health::HealthSummary::now())
    };
    let mut response = Response::new(ProxyBody::full(body.unwrap_or_default()));
    response.headers_mut().insert(CONTENT_TYPE, JSON);
    response
}
