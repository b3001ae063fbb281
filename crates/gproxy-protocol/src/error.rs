//! Error bodies in each protocol's own shape.
//!
//! The gateway answers a client in the error shape of the protocol the
//! client spoke, so SDKs parse gateway errors the way they parse upstream
//! ones. Shapes and type names follow the providers' public error docs:
//! - OpenAI: `{"error":{"message","type","param","code"}}`;
//! - Anthropic: `{"type":"error","error":{"type","message"}}`;
//! - Gemini: `{"error":{"code","message","status"}}` with a `google.rpc` status.

use serde_json::{Value, json};

use crate::Protocol;

/// Renders an error body for `status` in `protocol`'s shape.
///
/// - OpenAI (chat and responses): `{"error":{"message":..,"type":..,"param":null,"code":..}}`
///   with type by status: 400 `invalid_request_error`, 401 `authentication_error`
///   (code `"invalid_api_key"`), 403 `permission_error`, 404 `not_found_error`,
///   413 `invalid_request_error` (code `"request_too_large"`), 429 `rate_limit_error`,
///   5xx `api_error`; code otherwise `null`.
/// - Anthropic: `{"type":"error","error":{"type":..,"message":..}}` with 400
///   `invalid_request_error`, 401 `authentication_error`, 403 `permission_error`,
///   404 `not_found_error`, 413 `request_too_large`, 429 `rate_limit_error`, 500
///   `api_error`, 502/503/504 `api_error`, 529 `overloaded_error`.
/// - Gemini: `{"error":{"code":<status>,"message":..,"status":..}}` with 400
///   `INVALID_ARGUMENT`, 401 `UNAUTHENTICATED`, 403 `PERMISSION_DENIED`, 404
///   `NOT_FOUND`, 413 `INVALID_ARGUMENT`, 429 `RESOURCE_EXHAUSTED`, 500 `INTERNAL`,
///   503 `UNAVAILABLE`, 504 `DEADLINE_EXCEEDED`, others `UNKNOWN`.
///
/// Statuses not listed: other 4xx are `invalid_request_error` for OpenAI and
/// Anthropic (Anthropic documents that it uses this type for unlisted 4xx),
/// anything else `api_error`.
pub fn error_body(protocol: Protocol, status: u16, message: &str) -> Vec<u8> {
    let body: Value = match protocol {
        Protocol::OpenAiChat | Protocol::OpenAiResponses => {
            let (kind, code) = openai_type(status);
            json!({
                "error": {
                    "message": message,
                    "type": kind,
                    "param": null,
                    "code": code,
                }
            })
        }
        Protocol::Claude => json!({
            "type": "error",
            "error": {
                "type": claude_type(status),
                "message": message,
            }
        }),
        Protocol::Gemini => json!({
            "error": {
                "code": status,
                "message": message,
                "status": gemini_status(status),
            }
        }),
    };
    body.to_string().into_bytes()
}

/// OpenAI `error.type` and `error.code` for an HTTP status.
fn openai_type(status: u16) -> (&'static str, Option<&'static str>) {
    match status {
        401 => ("authentication_error", Some("invalid_api_key")),
        403 => ("permission_error", None),
        404 => ("not_found_error", None),
        413 => ("invalid_request_error", Some("request_too_large")),
        429 => ("rate_limit_error", None),
        400..=499 => ("invalid_request_error", None),
        _ => ("api_error", None),
    }
}

/// Anthropic `error.type` for an HTTP status.
fn claude_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        400..=499 => "invalid_request_error",
        _ => "api_error",
    }
}

/// Gemini `error.status` (a `google.rpc.Code` name) for an HTTP status.
fn gemini_status(status: u16) -> &'static str {
    match status {
        400 | 413 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        429 => "RESOURCE_EXHAUSTED",
        500 => "INTERNAL",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "UNKNOWN",
    }
}

/// The human message of an error body in any of the three shapes
/// (`error.message` for OpenAI, Anthropic and Gemini alike), if there is one.
pub fn message_of(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Outer {
        error: Inner,
    }
    #[derive(serde::Deserialize)]
    struct Inner {
        message: String,
    }
    serde_json::from_slice::<Outer>(body)
        .ok()
        .map(|o| o.error.message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_of_reads_every_shape() {
        for p in Protocol::ALL {
            assert_eq!(
                message_of(&error_body(p, 429, "slow down")).as_deref(),
                Some("slow down"),
                "{p:?}"
            );
        }
        assert_eq!(message_of(b"not json"), None);
        assert_eq!(message_of(br#"{"error":"flat"}"#), None);
    }

    fn body(protocol: Protocol, status: u16, message: &str) -> Value {
        serde_json::from_slice(&error_body(protocol, status, message)).unwrap()
    }

    #[test]
    fn openai_shapes() {
        let cases: &[(u16, &str, Value)] = &[
            (400, "invalid_request_error", Value::Null),
            (401, "authentication_error", json!("invalid_api_key")),
            (403, "permission_error", Value::Null),
            (404, "not_found_error", Value::Null),
            (409, "invalid_request_error", Value::Null),
            (413, "invalid_request_error", json!("request_too_large")),
            (429, "rate_limit_error", Value::Null),
            (500, "api_error", Value::Null),
            (502, "api_error", Value::Null),
            (503, "api_error", Value::Null),
            (504, "api_error", Value::Null),
        ];
        for protocol in [Protocol::OpenAiChat, Protocol::OpenAiResponses] {
            for (status, kind, code) in cases {
                assert_eq!(
                    body(protocol, *status, "boom \"x\"\n"),
                    json!({"error": {"message": "boom \"x\"\n", "type": kind, "param": null, "code": code}}),
                    "{protocol} {status}"
                );
            }
        }
    }

    #[test]
    fn claude_shapes() {
        let cases = [
            (400, "invalid_request_error"),
            (401, "authentication_error"),
            (402, "invalid_request_error"),
            (403, "permission_error"),
            (404, "not_found_error"),
            (413, "request_too_large"),
            (429, "rate_limit_error"),
            (500, "api_error"),
            (502, "api_error"),
            (503, "api_error"),
            (504, "api_error"),
            (529, "overloaded_error"),
        ];
        for (status, kind) in cases {
            assert_eq!(
                body(Protocol::Claude, status, "nope"),
                json!({"type": "error", "error": {"type": kind, "message": "nope"}}),
                "{status}"
            );
        }
    }

    #[test]
    fn gemini_shapes() {
        let cases = [
            (400, "INVALID_ARGUMENT"),
            (401, "UNAUTHENTICATED"),
            (403, "PERMISSION_DENIED"),
            (404, "NOT_FOUND"),
            (413, "INVALID_ARGUMENT"),
            (429, "RESOURCE_EXHAUSTED"),
            (500, "INTERNAL"),
            (502, "UNKNOWN"),
            (503, "UNAVAILABLE"),
            (504, "DEADLINE_EXCEEDED"),
            (418, "UNKNOWN"),
        ];
        for (status, name) in cases {
            assert_eq!(
                body(Protocol::Gemini, status, "用户 quota"),
                json!({"error": {"code": status, "message": "用户 quota", "status": name}}),
                "{status}"
            );
        }
    }
}
