//! Which headers cross the gateway: client headers never forwarded
//! upstream, and upstream response headers never passed back.

use gproxy_provider::Provider;
use http::HeaderMap;
use http::header::HeaderName;

/// The provider's own headers on an upstream request: its defaults (which
/// a client value wins over), then the operator's configured headers
/// (which win over both). Every upstream call goes through this, generate
/// calls and raw passthrough alike.
pub(crate) fn apply_provider_headers(provider: &dyn Provider, headers: &mut HeaderMap) {
    provider.default_headers(headers);
    for (name, value) in provider.extra_headers() {
        headers.insert(name.clone(), value.clone());
    }
}

/// Client credentials: never forwarded, the provider's own is injected.
fn is_client_credential(name: &str) -> bool {
    matches!(
        name,
        "authorization" | "x-api-key" | "x-goog-api-key" | "cookie" | "proxy-authorization"
    )
}

/// Headers that describe the client's connection to the gateway, not the
/// request: hop-by-hop headers, `host` and the forwarding headers.
fn is_connection_header(name: &str) -> bool {
    matches!(
        name,
        "host"
            | "connection"
            | "keep-alive"
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

/// Response headers of the upstream connection, and cookies meant for it.
fn is_upstream_only_response_header(name: &str) -> bool {
    matches!(
        name,
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

/// Client headers never forwarded on API calls: credentials, connection
/// headers, and the body headers the gateway sets itself (it may rewrite
/// the body, and asks for an uncompressed answer it can read).
pub(crate) fn is_dropped_request_header(name: &HeaderName) -> bool {
    let name = name.as_str();
    is_client_credential(name)
        || is_connection_header(name)
        || matches!(
            name,
            "content-length" | "content-type" | "accept-encoding" | "x-llm-proxy-test-mode"
        )
}

/// Upstream response headers not passed back on API calls (the gateway may
/// rewrite the body, so its length and encoding are its own).
pub(crate) fn is_dropped_response_header(name: &HeaderName) -> bool {
    let name = name.as_str();
    is_upstream_only_response_header(name) || matches!(name, "content-length" | "content-encoding")
}

/// Appends the headers of an upstream answer the client may see (all but
/// those [`is_dropped_response_header`] names) to `to`.
pub(crate) fn copy_response_headers(from: &http::HeaderMap, to: &mut http::HeaderMap) {
    for (k, v) in from {
        if !is_dropped_response_header(k) {
            to.append(k.clone(), v.clone());
        }
    }
}

/// Client headers not forwarded on raw passthrough: credentials and
/// connection headers. Body headers pass, since the body goes as is.
pub(crate) fn is_dropped_passthrough_request_header(name: &HeaderName) -> bool {
    let name = name.as_str();
    is_client_credential(name) || is_connection_header(name)
}

/// Upstream response headers not passed back on raw passthrough.
pub(crate) fn is_dropped_passthrough_response_header(name: &HeaderName) -> bool {
    is_upstream_only_response_header(name.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passthrough_keeps_body_headers_and_drops_credentials() {
        for h in [
            "authorization",
            "x-api-key",
            "x-goog-api-key",
            "host",
            "cookie",
        ] {
            assert!(
                is_dropped_passthrough_request_header(&HeaderName::from_static(h)),
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
                !is_dropped_passthrough_request_header(&HeaderName::from_static(h)),
                "{h}"
            );
        }
        assert!(!is_dropped_passthrough_response_header(
            &HeaderName::from_static("content-length")
        ));
        assert!(is_dropped_passthrough_response_header(
            &HeaderName::from_static("set-cookie")
        ));
        assert!(is_dropped_response_header(&HeaderName::from_static(
            "content-encoding"
        )));
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
