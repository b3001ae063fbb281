//! The static site served at `/` (the web UI): asked only for GET and HEAD
//! requests that no gateway route claimed, so the proxy routes never pay
//! for it.
//!
//! The router does not embed the site itself: the binary hands it one (the
//! `gproxy-ui` crate), which keeps the SPA build out of the router's own
//! build and tests.

use bytes::Bytes;
use http::{HeaderMap, Method, Response};

/// Answers GET/HEAD requests for paths outside the gateway's API.
pub trait Site: Send + Sync + 'static {
    /// The answer for `path`, or `None` to let the router answer (404).
    fn serve(&self, method: &Method, path: &str, headers: &HeaderMap) -> Option<Response<Bytes>>;
}

impl<F> Site for F
where
    F: Fn(&Method, &str, &HeaderMap) -> Option<Response<Bytes>> + Send + Sync + 'static,
{
    fn serve(&self, method: &Method, path: &str, headers: &HeaderMap) -> Option<Response<Bytes>> {
        self(method, path, headers)
    }
}

/// First path segments that belong to the gateway (`/v1/...`, `/admin/...`),
/// and second segments that make a provider route (`/{provider}/v1/...`):
/// such paths keep their JSON errors and are never answered with a page.
const API_SEGMENTS: &[&str] = &["v1", "v1beta", "admin", "health", "metrics"];
const PROVIDER_API_SEGMENTS: &[&str] = &["v1", "v1beta"];

/// Whether `path` is an API path the site must not answer.
pub(crate) fn is_api_path(path: &str) -> bool {
    let mut segments = path.trim_start_matches('/').split('/');
    let first = segments.next().unwrap_or_default();
    let second = segments.next().unwrap_or_default();
    API_SEGMENTS.contains(&first) || PROVIDER_API_SEGMENTS.contains(&second)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_paths_are_not_the_sites() {
        for path in [
            "/v1",
            "/v1/nope",
            "/v1beta/models/x",
            "/admin",
            "/admin/api/nope",
            "/health",
            "/metrics",
            "/someprovider/v1/files",
            "/someprovider/v1beta/cachedContents",
            "/someprovider/v1",
        ] {
            assert!(is_api_path(path), "{path}");
        }
        for path in [
            "/",
            "/providers",
            "/providers/openai",
            "/assets/index-1.js",
            "/favicon.svg",
            "/logs/0123abcd",
            "/users/3/keys",
            "/v2",
        ] {
            assert!(!is_api_path(path), "{path}");
        }
    }
}
