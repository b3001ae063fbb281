//! Which raw passthrough paths may go upstream. The client's path is
//! joined to the provider's base URL with its credential attached, so a
//! path that an upstream server (or a proxy in front of it) could resolve
//! outside that base — `..`, its percent-encoded forms, backslashes that
//! some servers read as `/` — must never leave the gateway.
//!
//! The rule is strict rather than clever: a path is refused when any
//! segment is `.` or `..` after up to [`MAX_DECODES`] rounds of
//! percent-decoding (so `%2e%2e`, `.%2e`, `..%2f`, `%252e%252e` are all
//! caught), when it holds a backslash or a control character raw or
//! encoded, and when the URL finally built does not lie under the base URL.

use std::borrow::Cow;

use gproxy_protocol::url::percent_decode;

/// Rounds of percent-decoding checked: a path still changing after them is
/// refused (no legitimate API path is encoded three times over).
const MAX_DECODES: usize = 3;

/// Why a passthrough path is refused, in words for the client's 400.
pub(crate) fn refusal(path: &str) -> Option<&'static str> {
    let mut current = Cow::Borrowed(path);
    for _ in 0..MAX_DECODES {
        if let Some(reason) = refusal_at_one_level(&current) {
            return Some(reason);
        }
        let decoded = percent_decode(&current);
        if decoded == current {
            return None;
        }
        current = Cow::Owned(decoded.into_owned());
    }
    refusal_at_one_level(&current).or(Some("is percent-encoded too many times"))
}

fn refusal_at_one_level(path: &str) -> Option<&'static str> {
    if path.contains('\\') {
        return Some("contains a backslash");
    }
    if path.chars().any(char::is_control) {
        return Some("contains a control character");
    }
    if path
        .split('/')
        .any(|segment| segment == "." || segment == "..")
    {
        return Some("contains a dot segment (`.` or `..`)");
    }
    None
}

/// Whether `url` (what the provider built) lies under `base`: same scheme
/// and authority, and a path that is the base path or below it.
pub(crate) fn is_under_base(url: &str, base: &str) -> bool {
    let (Ok(url), Ok(base)) = (url.parse::<http::Uri>(), base.parse::<http::Uri>()) else {
        return false;
    };
    if url.scheme() != base.scheme() || url.authority() != base.authority() {
        return false;
    }
    let prefix = base.path().trim_end_matches('/');
    match url.path().strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_segments_raw_or_encoded_are_refused() {
        for path in [
            "/..",
            "/../admin/x",
            "/v1/../admin",
            "/v1/./files",
            "/v1/files/..",
            "/%2e%2e/admin",
            "/%2E%2E/admin",
            "/.%2e/admin",
            "/%2e./admin",
            "/..%2fadmin",
            "/v1/..%2F..%2Fadmin",
            "/%2e%2e%5cadmin",
            "/%252e%252e/admin",
            "/%25252e%25252e/admin",
            "/v1\\..\\admin",
            "/v1/files%5cx",
            "/v1/files%00",
            "/v1/a%0d%0aX-Injected:%201",
        ] {
            assert!(refusal(path).is_some(), "{path} was accepted");
        }
    }

    #[test]
    fn ordinary_paths_pass() {
        for path in [
            "/v1/files",
            "/v1/files/file-abc123/content",
            "/v1beta/models/gemini-2.5-flash:countTokens",
            "/v1/messages/batches/msgbatch_1",
            "/v1/files/a.b.c",
            "/v1/...",
            "/v1/.well-known",
            "/v1/name%20with%20space",
            "/",
            "",
        ] {
            assert_eq!(refusal(path), None, "{path} was refused");
        }
    }

    #[test]
    fn urls_must_stay_under_the_base() {
        let base = "https://api.example.com/v1";
        assert!(is_under_base("https://api.example.com/v1/files", base));
        assert!(is_under_base("https://api.example.com/v1", base));
        assert!(is_under_base(
            "https://api.example.com/v1/",
            "https://api.example.com/v1/"
        ));
        assert!(is_under_base("http://h:8080/x?q=1", "http://h:8080"));
        assert!(!is_under_base("https://api.example.com/v10/files", base));
        assert!(!is_under_base("https://api.example.com/admin", base));
        assert!(!is_under_base("https://evil.example.com/v1/files", base));
        assert!(!is_under_base("http://api.example.com/v1/files", base));
        assert!(!is_under_base("not a url", base));
    }
}
