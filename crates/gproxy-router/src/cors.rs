//! CORS on the proxy routes: browser applications call gproxy directly
//! when their origin is allowed (`[cors] allowed_origins`, live through the
//! admin API). A preflight is answered here, before authentication; an
//! answer to an allowed origin carries the `Access-Control-*` headers. The
//! admin API is same-origin and never answers cross-origin calls.

use gproxy_core::ProxyBody;
use gproxy_core::config::Cors;
use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD, HeaderMap, HeaderValue, ORIGIN,
    VARY,
};
use http::{Method, Response, StatusCode};

/// Methods the proxy routes take.
const METHODS: &str = "GET, POST, PUT, PATCH, DELETE, OPTIONS";
/// Request headers the SDKs send (besides the CORS-safelisted ones), and
/// the prefix families they use.
const HEADERS: &[&str] = &[
    "authorization",
    "content-type",
    "x-api-key",
    "x-goog-api-key",
    "x-goog-api-client",
    "anthropic-version",
    "anthropic-beta",
    "anthropic-dangerous-direct-browser-access",
    "openai-organization",
    "openai-project",
    "openai-beta",
    "x-request-id",
    "x-llm-proxy-test-mode",
    "accept",
    "accept-language",
    "cache-control",
];
/// Header name prefixes allowed as a family (the SDKs' telemetry headers).
const HEADER_PREFIXES: &[&str] = &["x-stainless-", "x-goog-", "x-gproxy-"];
/// Response headers a page's script may read.
const EXPOSED: &str = "x-request-id, x-gproxy-provider, x-gproxy-model, x-gproxy-count, x-gproxy-dropped, x-llm-proxy-error-class, retry-after, x-ratelimit-limit-requests, x-ratelimit-remaining-requests, x-ratelimit-reset-requests";

/// The `Origin` of a cross-origin request the policy allows.
pub(crate) fn allowed_origin(policy: &Cors, headers: &HeaderMap) -> Option<HeaderValue> {
    if !policy.enabled() {
        return None;
    }
    let origin = headers.get(ORIGIN)?;
    origin
        .to_str()
        .ok()
        .filter(|o| policy.allows(o))
        .map(|_| origin.clone())
}

/// Whether this is a CORS preflight (`OPTIONS` with the request-method header).
pub(crate) fn is_preflight(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::OPTIONS
        && headers.contains_key(ORIGIN)
        && headers.contains_key(ACCESS_CONTROL_REQUEST_METHOD)
}

/// The answer to a preflight: 204 with the allowances for an allowed
/// origin, 403 (no CORS headers) for any other.
pub(crate) fn preflight(policy: &Cors, headers: &HeaderMap) -> Response<ProxyBody> {
    let Some(origin) = allowed_origin(policy, headers) else {
        let mut r = Response::new(ProxyBody::full("origin not allowed"));
        *r.status_mut() = StatusCode::FORBIDDEN;
        return r;
    };
    let mut r = Response::new(ProxyBody::full(bytes::Bytes::new()));
    *r.status_mut() = StatusCode::NO_CONTENT;
    let h = r.headers_mut();
    allow_origin(Grant::of(policy), h, origin);
    h.insert(
        ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(METHODS),
    );
    // Echo the requested headers the policy allows.
    let asked = headers
        .get(ACCESS_CONTROL_REQUEST_HEADERS)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let allowed: Vec<String> = asked
        .split(',')
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .filter(|h| {
            HEADERS.contains(&h.as_str()) || HEADER_PREFIXES.iter().any(|p| h.starts_with(p))
        })
        .collect();
    let list = if allowed.is_empty() {
        HEADERS.join(", ")
    } else {
        allowed.join(", ")
    };
    if let Ok(v) = HeaderValue::from_str(&list) {
        h.insert(ACCESS_CONTROL_ALLOW_HEADERS, v);
    }
    h.insert(
        ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from(policy.max_age_secs),
    );
    h.append(
        VARY,
        HeaderValue::from_static(
            "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
        ),
    );
    r
}

/// What an allowed origin is granted (copied out of the policy).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Grant {
    any: bool,
    allow_credentials: bool,
}

impl Grant {
    pub(crate) fn of(policy: &Cors) -> Self {
        Grant {
            any: policy.any,
            allow_credentials: policy.allow_credentials,
        }
    }
}

/// Adds the headers of an answer to an allowed cross-origin request.
pub(crate) fn decorate(grant: Grant, origin: HeaderValue, response: &mut Response<ProxyBody>) {
    let h = response.headers_mut();
    allow_origin(grant, h, origin);
    h.insert(
        ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSED),
    );
}

fn allow_origin(policy: Grant, h: &mut HeaderMap, origin: HeaderValue) {
    if policy.any && !policy.allow_credentials {
        h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    } else {
        h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.append(VARY, HeaderValue::from_static("Origin"));
    }
    if policy.allow_credentials {
        h.insert(
            ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gproxy_core::config::CorsConfig;

    fn policy(origins: &[&str]) -> Cors {
        Cors::from_config(&CorsConfig {
            allowed_origins: Some(origins.iter().map(|s| s.to_string()).collect()),
            ..CorsConfig::default()
        })
    }

    fn req(origin: &str, asked: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(ORIGIN, HeaderValue::from_str(origin).unwrap());
        h.insert(
            ACCESS_CONTROL_REQUEST_METHOD,
            HeaderValue::from_static("POST"),
        );
        h.insert(
            ACCESS_CONTROL_REQUEST_HEADERS,
            HeaderValue::from_str(asked).unwrap(),
        );
        h
    }

    #[test]
    fn preflight_echoes_allowed_headers_only() {
        let p = policy(&["https://app.example"]);
        let r = preflight(
            &p,
            &req(
                "https://app.example",
                "Authorization, X-Stainless-OS, x-evil",
            ),
        );
        assert_eq!(r.status(), 204);
        let h = r.headers();
        assert_eq!(h[ACCESS_CONTROL_ALLOW_ORIGIN], "https://app.example");
        assert_eq!(
            h[ACCESS_CONTROL_ALLOW_HEADERS],
            "authorization, x-stainless-os"
        );
        assert_eq!(h[ACCESS_CONTROL_MAX_AGE], "600");
        let r = preflight(&p, &req("https://evil.example", "authorization"));
        assert_eq!(r.status(), 403);
        assert!(r.headers().get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
    }

    #[test]
    fn any_origin_answers_star_and_off_answers_nothing() {
        let p = policy(&["*"]);
        let r = preflight(&p, &req("https://x.example", ""));
        assert_eq!(r.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert!(allowed_origin(&Cors::default(), &req("https://x.example", "")).is_none());
    }
}
