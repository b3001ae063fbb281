//! Request decoding: JSON bodies with the exact path of a bad field, query
//! strings, and the double option that tells "absent" from `null`.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use crate::error::ApiError;

/// Decodes a JSON body into `T`. Malformed JSON, unknown fields and wrong
/// types become a 400 naming the field's path (`targets[1].weight`).
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let Some(first) = body.iter().find(|b| !b.is_ascii_whitespace()) else {
        return Err(ApiError::bad_request("a JSON request body is required"));
    };
    // Every body is an object (serde would also read a struct from an array).
    if *first != b'{' {
        return Err(ApiError::bad_request("the body must be a JSON object"));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = inner.to_string();
        // serde_json appends " at line L column C"; the path says more.
        let message = match message.rfind(" at line ") {
            Some(at) if inner.is_data() => message[..at].to_owned(),
            _ => message,
        };
        if path == "." || inner.is_syntax() || inner.is_eof() {
            ApiError::bad_request(format!("invalid JSON body: {message}"))
        } else {
            ApiError::field(path, message)
        }
    })?;
    de.end()
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))?;
    Ok(value)
}

/// Decodes a query string into `T` (values are strings; `T` parses them).
pub fn query<T: DeserializeOwned>(query: Option<&str>) -> Result<T, ApiError> {
    let mut map = serde_json::Map::new();
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = gproxy_protocol::url::percent_decode(&k.replace('+', " ")).into_owned();
        let v = gproxy_protocol::url::percent_decode(&v.replace('+', " ")).into_owned();
        map.insert(k, serde_json::Value::String(v));
    }
    serde_path_to_error::deserialize(serde_json::Value::Object(map)).map_err(|e| {
        let path = e.path().to_string();
        ApiError::field(path, e.into_inner().to_string())
    })
}

/// For `Option<Option<T>>` fields: absent → `None`, `null` → `Some(None)`.
/// Use with `#[serde(default, deserialize_with = "double_option")]`.
pub fn double_option<'de, D, T>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(de).map(Some)
}

/// Parses a query value that should be a number: absent is `None`; an
/// empty value (`?user_id=`) is not a number, and is refused like any
/// other (the documented type is an integer).
pub fn query_number<'de, D, T>(de: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    let raw = Option::<String>::deserialize(de)?;
    match raw.as_deref().map(str::trim) {
        None => Ok(None),
        Some("") => Err(serde::de::Error::custom(
            "expected a number, got an empty value",
        )),
        Some(s) => s.parse().map(Some).map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Target {
        provider: String,
        weight: u32,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Route {
        name: String,
        targets: Vec<Target>,
        #[serde(default, deserialize_with = "double_option")]
        label: Option<Option<String>>,
    }

    #[test]
    fn errors_name_the_field() {
        let e = parse::<Route>(
            br#"{"name":"a","targets":[{"provider":"x","weight":1},{"provider":"y","weight":-1}]}"#,
        )
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("targets[1].weight"));
        assert_eq!(e.status, http::StatusCode::BAD_REQUEST);
        let e = parse::<Route>(br#"{"name":"a","targets":[],"nope":1}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("nope"), "{e:?}");
        let e = parse::<Route>(br#"{"name":"a""#).unwrap_err();
        assert!(e.message.starts_with("invalid JSON body"), "{e:?}");
        let e = parse::<Route>(br#"{"targets":[]}"#).unwrap_err();
        assert!(e.message.contains("name"), "{e:?}");
        assert!(parse::<Route>(b"").is_err());
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Page {
        #[serde(default, deserialize_with = "query_number")]
        user_id: Option<i64>,
    }

    #[test]
    fn a_query_number_is_absent_or_a_number_never_empty() {
        assert_eq!(query::<Page>(None).unwrap().user_id, None);
        assert_eq!(
            query::<Page>(Some("user_id=%2042")).unwrap().user_id,
            Some(42)
        );
        for bad in ["user_id=", "user_id", "user_id=+", "user_id=x"] {
            let e = query::<Page>(Some(bad)).unwrap_err();
            assert_eq!(e.status, http::StatusCode::BAD_REQUEST, "{bad}");
            assert_eq!(e.field.as_deref(), Some("user_id"), "{bad}: {e:?}");
        }
    }

    #[test]
    fn double_option_tells_null_from_absent() {
        let r: Route = parse(br#"{"name":"a","targets":[]}"#).unwrap();
        assert_eq!(r.label, None);
        let r: Route = parse(br#"{"name":"a","targets":[],"label":null}"#).unwrap();
        assert_eq!(r.label, Some(None));
        let r: Route = parse(br#"{"name":"a","targets":[],"label":"x"}"#).unwrap();
        assert_eq!(r.label, Some(Some("x".into())));
    }
}
