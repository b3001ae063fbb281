//! Where a client's key comes from: `Authorization: Bearer`, `x-api-key`,
//! `x-goog-api-key` or the `key` query parameter, in that order.

use std::borrow::Cow;

use http::HeaderMap;

/// The key the client presented, if any.
pub(crate) fn client_key<'a>(
    headers: &'a HeaderMap,
    query: Option<&'a str>,
) -> Option<Cow<'a, str>> {
    if let Some(v) = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let v = v.trim();
        if v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer ") {
            return Some(Cow::Borrowed(v[7..].trim()));
        }
    }
    for name in ["x-api-key", "x-goog-api-key"] {
        if let Some(v) = headers.get(name).and_then(|v| v.to_str().ok()) {
            return Some(Cow::Borrowed(v.trim()));
        }
    }
    query_param(query?, "key")
}

/// The query without its `key` parameters (a client credential).
pub(crate) fn without_key(query: &str) -> String {
    query
        .split('&')
        .filter(|pair| !pair.is_empty() && pair.split_once('=').map_or(*pair, |(k, _)| k) != "key")
        .collect::<Vec<_>>()
        .join("&")
}

/// A query parameter's value, percent-decoded.
pub(crate) fn query_param<'a>(query: &'a str, name: &str) -> Option<Cow<'a, str>> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| gproxy_protocol::url::percent_decode(v))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn every_key_form_is_accepted() {
        assert_eq!(
            client_key(&headers(&[("authorization", "Bearer sk-1")]), None).unwrap(),
            "sk-1"
        );
        assert_eq!(
            client_key(&headers(&[("authorization", "bearer  sk-1 ")]), None).unwrap(),
            "sk-1"
        );
        assert_eq!(
            client_key(&headers(&[("x-api-key", "sk-2")]), None).unwrap(),
            "sk-2"
        );
        assert_eq!(
            client_key(&headers(&[("x-goog-api-key", "sk-3")]), None).unwrap(),
            "sk-3"
        );
        assert_eq!(
            client_key(&HeaderMap::new(), Some("alt=sse&key=sk%2D4")).unwrap(),
            "sk-4"
        );
        assert!(client_key(&HeaderMap::new(), Some("alt=sse")).is_none());
        assert!(client_key(&headers(&[("authorization", "Basic abc")]), None).is_none());
    }

    #[test]
    fn the_key_parameter_is_removed_from_a_query() {
        assert_eq!(without_key("key=a&alt=sse"), "alt=sse");
        assert_eq!(without_key("a=1&key=x&b=2"), "a=1&b=2");
        assert_eq!(without_key("key"), "");
        assert_eq!(without_key("keys=1"), "keys=1");
    }

    #[test]
    fn bearer_wins_over_other_forms() {
        let h = headers(&[("authorization", "Bearer a-key"), ("x-api-key", "b-key")]);
        assert_eq!(client_key(&h, Some("key=c-key")).unwrap(), "a-key");
    }
}
