//! Errors an upstream sends *inside* a stream it answered 200: Anthropic's
//! `event: error` (`overloaded_error` is the usual one), an OpenAI Chat
//! chunk `{"error":{...}}`, a Responses `error` event, a Gemini element
//! `{"error":{"code":..}}`. When such an event comes first, before any
//! content, the gateway has not committed to its 200 yet and can treat it
//! like the HTTP error it stands for (retry, cooldown, failover); see
//! [`first_event_error`].

use memchr::memmem;
use serde_json::{Value, json};

use crate::Protocol;

/// An in-stream error, as the HTTP error it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamError {
    /// The HTTP status the error's type or code stands for.
    pub status: u16,
    /// An error body in the protocol's usual HTTP error shape.
    pub body: Vec<u8>,
}

/// The error `data` (of an SSE event named `event`, or a JSON-array
/// element) carries in `protocol`'s stream, if it is one. A cheap scan
/// rules out ordinary events before anything is parsed.
pub fn first_event_error(
    protocol: Protocol,
    event: Option<&str>,
    data: &str,
) -> Option<StreamError> {
    if event != Some("error") && memmem::find(data.as_bytes(), b"\"error\"").is_none() {
        return None;
    }
    let value: Value = serde_json::from_str(data).ok()?;
    let obj = value.as_object()?;
    match protocol {
        Protocol::Claude => {
            let is_error = event == Some("error") || obj.get("type")?.as_str() == Some("error");
            let kind = obj.get("error")?.get("type")?.as_str()?;
            is_error.then(|| StreamError {
                status: claude_status(kind),
                body: data.as_bytes().to_vec(),
            })
        }
        Protocol::OpenAiChat => {
            let error = obj.get("error")?.as_object()?;
            Some(StreamError {
                status: openai_status(error.get("type"), error.get("code")),
                body: data.as_bytes().to_vec(),
            })
        }
        Protocol::OpenAiResponses => {
            // `{"type":"error","code","message","param"}`; some compatible
            // servers send the Chat shape instead.
            if let Some(error) = obj.get("error").and_then(Value::as_object) {
                return Some(StreamError {
                    status: openai_status(error.get("type"), error.get("code")),
                    body: data.as_bytes().to_vec(),
                });
            }
            if obj.get("type")?.as_str() != Some("error") {
                return None;
            }
            let code = obj.get("code");
            let body = json!({"error": {
                "message": obj.get("message").cloned().unwrap_or(Value::Null),
                "type": code.cloned().unwrap_or(Value::Null),
                "param": obj.get("param").cloned().unwrap_or(Value::Null),
                "code": code.cloned().unwrap_or(Value::Null),
            }});
            Some(StreamError {
                status: openai_status(code, code),
                body: body.to_string().into_bytes(),
            })
        }
        Protocol::Gemini => {
            let error = obj.get("error")?.as_object()?;
            let status = error
                .get("code")
                .and_then(Value::as_u64)
                .and_then(|c| u16::try_from(c).ok())
                .filter(|c| (400..=599).contains(c))
                .unwrap_or_else(|| gemini_status(error.get("status")));
            Some(StreamError {
                status,
                body: data.as_bytes().to_vec(),
            })
        }
    }
}

/// Anthropic's documented error types and their statuses.
fn claude_status(kind: &str) -> u16 {
    match kind {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "permission_error" => 403,
        "not_found_error" => 404,
        "request_too_large" => 413,
        "rate_limit_error" => 429,
        "overloaded_error" => 529,
        _ => 500,
    }
}

/// An OpenAI error's status from its `type` and `code` (OpenAI puts the
/// telling word in either).
fn openai_status(kind: Option<&Value>, code: Option<&Value>) -> u16 {
    let words = [kind, code].map(|v| v.and_then(Value::as_str).unwrap_or(""));
    let any = |names: &[&str]| words.iter().any(|w| names.contains(w));
    if any(&[
        "rate_limit_exceeded",
        "rate_limit_error",
        "insufficient_quota",
        "tokens",
        "requests",
    ]) {
        429
    } else if any(&["invalid_api_key", "authentication_error"]) {
        401
    } else if any(&["permission_error"]) {
        403
    } else if any(&[
        "invalid_request_error",
        "context_length_exceeded",
        "invalid_prompt",
    ]) {
        400
    } else if any(&["server_is_overloaded", "slow_down"]) {
        503
    } else {
        500
    }
}

/// A Gemini error's status from its `google.rpc` status name.
fn gemini_status(status: Option<&Value>) -> u16 {
    match status.and_then(Value::as_str).unwrap_or("") {
        "INVALID_ARGUMENT" | "FAILED_PRECONDITION" | "OUT_OF_RANGE" => 400,
        "UNAUTHENTICATED" => 401,
        "PERMISSION_DENIED" => 403,
        "NOT_FOUND" => 404,
        "RESOURCE_EXHAUSTED" => 429,
        "UNAVAILABLE" => 503,
        "DEADLINE_EXCEEDED" => 504,
        _ => 500,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anthropic_overloaded_as_the_first_event() {
        let data = r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        let e = first_event_error(Protocol::Claude, Some("error"), data).unwrap();
        assert_eq!(e.status, 529);
        assert_eq!(e.body, data.as_bytes());
        let e = first_event_error(
            Protocol::Claude,
            None,
            r#"{"type":"error","error":{"type":"rate_limit_error","message":"x"}}"#,
        )
        .unwrap();
        assert_eq!(e.status, 429);
    }

    #[test]
    fn openai_error_chunks_and_responses_error_events() {
        let chunk = r#"{"error":{"message":"The server had an error","type":"server_error","param":null,"code":null}}"#;
        assert_eq!(
            first_event_error(Protocol::OpenAiChat, None, chunk)
                .unwrap()
                .status,
            500
        );
        let limited =
            r#"{"error":{"message":"slow","type":"tokens","code":"rate_limit_exceeded"}}"#;
        assert_eq!(
            first_event_error(Protocol::OpenAiChat, None, limited)
                .unwrap()
                .status,
            429
        );
        let event = r#"{"type":"error","code":"rate_limit_exceeded","message":"Too many","param":null,"sequence_number":0}"#;
        let e = first_event_error(Protocol::OpenAiResponses, Some("error"), event).unwrap();
        assert_eq!(e.status, 429);
        let body: Value = serde_json::from_slice(&e.body).unwrap();
        assert_eq!(body["error"]["message"], "Too many");
        assert_eq!(
            crate::error::message_of(&e.body).as_deref(),
            Some("Too many")
        );
    }

    #[test]
    fn gemini_error_elements() {
        let element =
            r#"{"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}"#;
        assert_eq!(
            first_event_error(Protocol::Gemini, None, element)
                .unwrap()
                .status,
            503
        );
        let no_code = r#"{"error":{"message":"x","status":"RESOURCE_EXHAUSTED"}}"#;
        assert_eq!(
            first_event_error(Protocol::Gemini, None, no_code)
                .unwrap()
                .status,
            429
        );
    }

    #[test]
    fn ordinary_first_events_are_not_errors() {
        for (protocol, event, data) in [
            (
                Protocol::Claude,
                Some("message_start"),
                r#"{"type":"message_start","message":{"id":"m","content":[]}}"#,
            ),
            (Protocol::Claude, Some("ping"), r#"{"type": "ping"}"#),
            (
                Protocol::OpenAiChat,
                None,
                r#"{"id":"c","choices":[{"delta":{"content":"error"}}]}"#,
            ),
            (Protocol::OpenAiChat, None, "[DONE]"),
            (
                Protocol::OpenAiResponses,
                Some("response.created"),
                r#"{"type":"response.created","response":{"id":"r","status":"in_progress","error":null}}"#,
            ),
            (
                Protocol::Gemini,
                None,
                r#"{"candidates":[{"content":{"parts":[{"text":"\"error\""}]}}]}"#,
            ),
            (Protocol::Gemini, None, r#"{"error":"flat"}"#),
            (Protocol::Claude, Some("error"), "not json"),
        ] {
            assert_eq!(
                first_event_error(protocol, event, data),
                None,
                "{protocol}: {data}"
            );
        }
    }
}
