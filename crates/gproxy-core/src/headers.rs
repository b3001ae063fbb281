//! Which headers cross the gateway: client headers never forwarded
//! upstream, and upstream response headers never passed back.

use http::header::HeaderName;

/// Client headers never forwarded upstream: client credentials, hop-by-hop
/// headers, and headers the gateway sets itself.
pub(crate) fn is_dropped_request_header(name: &HeaderName) -> bool {
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
pub(crate) fn is_dropped_response_header(name: &HeaderName) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

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
