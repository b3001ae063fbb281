//! Responses the router renders itself: errors in the client's protocol
//! shape, and `/health`.

use gproxy_core::{Engine, GatewayError, ProxyBody, UpstreamFailure};
use gproxy_protocol::Protocol;
use gproxy_protocol::error::error_body;
use http::header::CONTENT_TYPE;
use http::{Response, StatusCode};

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
        GatewayError::Unauthorized(_)
        | GatewayError::BadRequest(_)
        | GatewayError::PayloadTooLarge { .. }
        | GatewayError::NotFound(_)
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

/// `GET /health`: status, version, providers, usage sink counters.
pub(crate) fn health(engine: &Engine) -> Response<ProxyBody> {
    let snapshot = engine.state().load();
    let mut providers: Vec<_> = snapshot
        .providers
        .values()
        .map(|p| {
            serde_json::json!({
                "name": p.name,
                "kind": p.provider.kind(),
                "enabled": p.enabled,
                "credentials": p.pool.len(),
            })
        })
        .collect();
    providers.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    let stats = engine.sink().stats();
    let body = serde_json::json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "providers": providers,
        "usage_sink": {
            "written": stats.written(),
            "dropped": stats.dropped(),
            "failed_batches": stats.failed_batches(),
            "buffered": stats.buffered(),
        },
    });
    let mut response = Response::new(ProxyBody::full(body.to_string()));
    response.headers_mut().insert(CONTENT_TYPE, JSON);
    response
}
