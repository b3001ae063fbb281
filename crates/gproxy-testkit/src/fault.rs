//! Scripted faults and the error bodies of each protocol.
//!
//! Error shapes, per the providers' references:
//! - OpenAI: `{"error":{"message","type","param","code"}}`.
//! - Anthropic: `{"type":"error","error":{"type","message"},"request_id"}`,
//!   types by status: 400 `invalid_request_error`, 401
//!   `authentication_error`, 403 `permission_error`, 404 `not_found_error`,
//!   413 `request_too_large`, 429 `rate_limit_error`, 500 `api_error`, 529
//!   `overloaded_error`.
//! - Gemini: `{"error":{"code","message","status"}}` with the canonical
//!   status names (400 `INVALID_ARGUMENT`, 403 `PERMISSION_DENIED`, 404
//!   `NOT_FOUND`, 429 `RESOURCE_EXHAUSTED`, 500 `INTERNAL`, 503
//!   `UNAVAILABLE`, 504 `DEADLINE_EXCEEDED`).

use std::time::Duration;

use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use serde_json::{Value, json};

use crate::body::MockBody;

/// A scripted misbehaviour, consumed by the next request (see
/// [`MockUpstream::push_fault`](crate::MockUpstream::push_fault)).
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status, an optional Retry-After header value, and a
    /// body (None = the error body in the protocol of the path, with the
    /// provider's usual type for that status, e.g. 529 overloaded_error for
    /// Anthropic, 429 RESOURCE_EXHAUSTED for Gemini).
    Status {
        /// HTTP status code (an invalid code answers 500).
        status: u16,
        /// Value of the `retry-after` header, if any.
        retry_after: Option<String>,
        /// Raw body; `None` renders the protocol's error body.
        body: Option<String>,
    },
    /// Like [`Fault::Status`], with extra response headers (e.g. OpenAI's
    /// `x-ratelimit-remaining-*`).
    StatusWithHeaders {
        /// HTTP status code (an invalid code answers 500).
        status: u16,
        /// Extra response headers (name, value); invalid ones are skipped.
        headers: Vec<(String, String)>,
        /// Raw body; `None` renders the protocol's error body.
        body: Option<String>,
    },
    /// Wait this long before sending response headers (then answer normally).
    SlowFirstByte(Duration),
    /// Send the response headers at once, then wait this long before the
    /// first byte of the body (then answer normally): a stream whose first
    /// event is late.
    SlowFirstEvent(Duration),
    /// Stream normally but cut the connection (abort the body with an error,
    /// no terminator) after this many SSE events / array elements. A
    /// non-streamed reply is cut in the middle of its JSON body.
    CutStream {
        /// Number of complete events (or array elements) sent before the
        /// cut; clamped so the final event never arrives.
        after_events: usize,
    },
    /// Answer 200 with exactly this body (a recorded transcript, e.g. a
    /// tool-call or thinking answer the generated replies don't cover).
    /// A `text/event-stream` body is sent one event (blank-line separated
    /// block) per chunk, as a real upstream streams it.
    Canned {
        /// The `content-type` header.
        content_type: String,
        /// The raw body.
        body: String,
    },
}

impl Fault {
    /// 429 with `retry-after: <secs>` and the protocol's rate-limit error.
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Fault::Status {
            status: 429,
            retry_after: Some(retry_after_secs.to_string()),
            body: None,
        }
    }

    /// 401 with the protocol's authentication error.
    pub fn unauthorized() -> Self {
        Self::plain(401)
    }

    /// 500 with the protocol's internal error.
    pub fn server_error() -> Self {
        Self::plain(500)
    }

    /// 529 (Anthropic's "overloaded") with the protocol's overload error.
    pub fn overloaded() -> Self {
        Self::plain(529)
    }

    /// A canned JSON answer.
    pub fn canned_json(body: impl Into<String>) -> Self {
        Fault::Canned {
            content_type: "application/json".into(),
            body: body.into(),
        }
    }

    /// A canned `text/event-stream` answer.
    pub fn canned_sse(body: impl Into<String>) -> Self {
        Fault::Canned {
            content_type: "text/event-stream".into(),
            body: body.into(),
        }
    }

    fn plain(status: u16) -> Self {
        Fault::Status {
            status,
            retry_after: None,
            body: None,
        }
    }
}

/// Which provider API a request belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// OpenAI (Chat Completions, Responses, model list).
    OpenAi,
    /// Anthropic Messages.
    Claude,
    /// Google Gemini.
    Gemini,
}

impl Protocol {
    /// Guesses the protocol of a request from its path, then its headers.
    pub(crate) fn detect(path: &str, headers: &HeaderMap) -> Self {
        if path.starts_with("/v1beta")
            || (path.starts_with("/v1/models/") && path.contains(':'))
            || path.contains("/publishers/google/models/")
            || path.starts_with("/v1internal")
            || path.starts_with("/oauth2/")
            || headers.contains_key("x-goog-api-key")
        {
            Protocol::Gemini
        } else if path.starts_with("/v1/messages")
            || path.starts_with("/v1/complete")
            || headers.contains_key("anthropic-version")
        {
            Protocol::Claude
        } else {
            Protocol::OpenAi
        }
    }
}

/// An error reply in `protocol`'s shape with the usual type for `status`.
pub(crate) fn default_error(protocol: Protocol, status: StatusCode, id: u64) -> Response<MockBody> {
    match protocol {
        Protocol::OpenAi => {
            let (message, kind, code) = openai_kind(status);
            openai_error(status, message, kind, None, code)
        }
        Protocol::Claude => {
            let (kind, message) = claude_kind(status);
            claude_error(status, kind, message, id)
        }
        Protocol::Gemini => {
            let (state, message) = gemini_kind(status);
            gemini_error(status, state, message)
        }
    }
}

fn openai_kind(status: StatusCode) -> (&'static str, &'static str, Option<&'static str>) {
    match status.as_u16() {
        400 => ("Bad request.", "invalid_request_error", None),
        401 => (
            "Incorrect API key provided.",
            "invalid_request_error",
            Some("invalid_api_key"),
        ),
        403 => (
            "You are not allowed to access this resource.",
            "invalid_request_error",
            None,
        ),
        404 => ("Not found.", "invalid_request_error", None),
        429 => (
            "Rate limit reached for requests. Please try again later.",
            "requests",
            Some("rate_limit_exceeded"),
        ),
        503 | 529 => (
            "The server is overloaded or not ready yet.",
            "server_error",
            None,
        ),
        s if s >= 500 => (
            "The server had an error while processing your request. Sorry about that!",
            "server_error",
            None,
        ),
        _ => ("Request failed.", "invalid_request_error", None),
    }
}

fn claude_kind(status: StatusCode) -> (&'static str, &'static str) {
    match status.as_u16() {
        400 => ("invalid_request_error", "Invalid request."),
        401 => ("authentication_error", "invalid x-api-key"),
        403 => (
            "permission_error",
            "Your API key does not have permission to use the specified resource.",
        ),
        404 => ("not_found_error", "Not found"),
        413 => (
            "request_too_large",
            "Request exceeds the maximum allowed number of bytes.",
        ),
        429 => (
            "rate_limit_error",
            "Number of requests has exceeded your rate limit.",
        ),
        529 => ("overloaded_error", "Overloaded"),
        s if s >= 500 => ("api_error", "Internal server error"),
        _ => ("invalid_request_error", "Invalid request."),
    }
}

fn gemini_kind(status: StatusCode) -> (&'static str, &'static str) {
    match status.as_u16() {
        400 => ("INVALID_ARGUMENT", "Request contains an invalid argument."),
        401 => (
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials.",
        ),
        403 => ("PERMISSION_DENIED", "The caller does not have permission"),
        404 => ("NOT_FOUND", "Requested entity was not found."),
        409 => ("ABORTED", "The operation was aborted."),
        429 => (
            "RESOURCE_EXHAUSTED",
            "Resource has been exhausted (e.g. check quota).",
        ),
        499 => ("CANCELLED", "The operation was cancelled."),
        501 => ("UNIMPLEMENTED", "Operation is not implemented."),
        503 | 529 => (
            "UNAVAILABLE",
            "The model is overloaded. Please try again later.",
        ),
        504 => (
            "DEADLINE_EXCEEDED",
            "Deadline expired before operation could complete.",
        ),
        s if s >= 500 => ("INTERNAL", "An internal error has occurred."),
        _ => ("FAILED_PRECONDITION", "Precondition check failed."),
    }
}

/// An OpenAI error reply.
pub(crate) fn openai_error(
    status: StatusCode,
    message: &str,
    kind: &str,
    param: Option<&str>,
    code: Option<&str>,
) -> Response<MockBody> {
    let body = json!({
        "error": { "message": message, "type": kind, "param": param, "code": code }
    });
    json_response(status, &body)
}

/// An Anthropic error reply (also sets the `request-id` header).
pub(crate) fn claude_error(
    status: StatusCode,
    kind: &str,
    message: &str,
    id: u64,
) -> Response<MockBody> {
    let request_id = format!("req_mock{id:016x}");
    let body = json!({
        "type": "error",
        "error": { "type": kind, "message": message },
        "request_id": request_id,
    });
    let mut response = json_response(status, &body);
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("request-id", value);
    }
    response
}

/// A Gemini (Google API) error reply.
pub(crate) fn gemini_error(status: StatusCode, state: &str, message: &str) -> Response<MockBody> {
    let body = json!({
        "error": { "code": status.as_u16(), "message": message, "status": state }
    });
    json_response(status, &body)
}

/// A JSON reply.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response<MockBody> {
    json_reply(
        status,
        MockBody::full(serde_json::to_vec(body).unwrap_or_default()),
    )
}

/// A reply with `body` and `content-type: application/json`.
pub(crate) fn json_reply(status: StatusCode, body: MockBody) -> Response<MockBody> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// The reply for a [`Fault::Status`].
pub(crate) fn status_reply(
    protocol: Protocol,
    status: u16,
    retry_after: Option<&str>,
    body: Option<&str>,
    id: u64,
) -> Response<MockBody> {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = match body {
        Some(raw) => {
            let mut response = Response::new(MockBody::full(raw.to_owned()));
            *response.status_mut() = status;
            let kind = if serde_json::from_str::<Value>(raw).is_ok() {
                "application/json"
            } else {
                "text/plain; charset=utf-8"
            };
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
            response
        }
        None => default_error(protocol, status, id),
    };
    if let Some(value) = retry_after.and_then(|v| HeaderValue::from_str(v).ok()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// The 200 answer of [`Fault::Canned`].
pub(crate) fn canned_reply(content_type: &str, body: &str) -> Response<MockBody> {
    let mut out = if content_type.starts_with("text/event-stream") {
        let mut stream = MockBody::stream(std::time::Duration::ZERO);
        let normalised = body.replace("\r\n", "\n");
        for block in normalised.split_inclusive("\n\n") {
            if !block.trim().is_empty() {
                stream.push(block.to_owned(), false);
            }
        }
        Response::new(stream)
    } else {
        Response::new(MockBody::full(body.to_owned()))
    };
    if let Ok(v) = HeaderValue::from_str(content_type) {
        out.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_protocol_from_path_then_headers() {
        let none = HeaderMap::new();
        assert_eq!(
            Protocol::detect("/v1/chat/completions", &none),
            Protocol::OpenAi
        );
        assert_eq!(Protocol::detect("/v1/messages", &none), Protocol::Claude);
        assert_eq!(
            Protocol::detect("/v1beta/models/x:generateContent", &none),
            Protocol::Gemini
        );
        assert_eq!(
            Protocol::detect("/v1/models/x:generateContent", &none),
            Protocol::Gemini
        );
        assert_eq!(Protocol::detect("/v1/models", &none), Protocol::OpenAi);
        let mut claude = HeaderMap::new();
        claude.insert("anthropic-version", HeaderValue::from_static("2023-06-01"));
        assert_eq!(Protocol::detect("/v1/models", &claude), Protocol::Claude);
    }

    #[test]
    fn helpers_build_the_documented_statuses() {
        assert!(matches!(
            Fault::rate_limited(7),
            Fault::Status { status: 429, retry_after: Some(ref s), body: None } if s == "7"
        ));
        assert!(matches!(
            Fault::unauthorized(),
            Fault::Status { status: 401, .. }
        ));
        assert!(matches!(
            Fault::server_error(),
            Fault::Status { status: 500, .. }
        ));
        assert!(matches!(
            Fault::overloaded(),
            Fault::Status { status: 529, .. }
        ));
    }
}
