//! Token-counting endpoints: Anthropic `POST /v1/messages/count_tokens`,
//! Gemini `models/{model}:countTokens` (Gemini API, Vertex AI and express
//! mode paths) and OpenAI `POST /v1/responses/input_tokens`.
//!
//! The count is [`crate::mock_token_count`] of the request body, so tests
//! can assert the number the client got against the body the mock saw.

use http::{Response, StatusCode};
use serde_json::{Value, json};

use crate::body::MockBody;
use crate::fault::{claude_error, json_response};
use crate::server::{MockRequest, Reply};
use crate::{gemini, mock_token_count, openai};

/// `POST /v1/messages/count_tokens`: a Messages body without `max_tokens`
/// (Anthropic refuses generation-only fields here).
pub(crate) fn claude(req: &MockRequest, reply: &Reply) -> Response<MockBody> {
    let invalid = |message: &str| {
        claude_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            message,
            reply.id,
        )
    };
    let authorized = req
        .header("x-api-key")
        .is_some_and(|key| !key.trim().is_empty())
        || req.bearer().is_some();
    if !authorized {
        return claude_error(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "x-api-key header is required",
            reply.id,
        );
    }
    if req.header("anthropic-version").is_none_or(str::is_empty) {
        return invalid("anthropic-version: header is required");
    }
    let Some(Value::Object(body)) = req.json() else {
        return invalid("There was an issue with the format of your request body.");
    };
    if !body.get("model").is_some_and(Value::is_string) {
        return invalid("model: Field required");
    }
    match body.get("messages") {
        Some(Value::Array(messages)) if !messages.is_empty() => {}
        _ => return invalid("messages: Field required"),
    }
    for field in ["max_tokens", "stream", "temperature"] {
        if body.contains_key(field) {
            return invalid(&format!("{field}: Extra inputs are not permitted"));
        }
    }
    let n = mock_token_count(&req.body);
    json_response(StatusCode::OK, &json!({ "input_tokens": n }))
}

/// `POST /v1/responses/input_tokens`.
pub(crate) fn openai(req: &MockRequest) -> Response<MockBody> {
    if req.bearer().is_none() {
        return openai::unauthorized();
    }
    let Some(Value::Object(body)) = req.json() else {
        return openai::invalid(
            "We could not parse the JSON body of your request.",
            None,
            None,
        );
    };
    if body.contains_key("stream") {
        return openai::invalid("Unknown parameter: 'stream'.", Some("stream"), None);
    }
    let n = mock_token_count(&req.body);
    json_response(
        StatusCode::OK,
        &json!({ "object": "response.input_tokens", "input_tokens": n }),
    )
}

/// `models/{model}:countTokens`. The Gemini API takes `{"contents"}` or
/// `{"generateContentRequest": {"model": "models/…", "contents", …}}`;
/// Vertex AI (`vertex`) takes the request's fields at the top level only.
pub(crate) fn gemini(req: &MockRequest, vertex: bool) -> Response<MockBody> {
    if !gemini::authorized(req) {
        return gemini::forbidden();
    }
    let Some(Value::Object(body)) = req.json() else {
        return gemini::invalid("Invalid JSON payload received.");
    };
    let has_contents = |obj: &serde_json::Map<String, Value>| matches!(obj.get("contents"), Some(Value::Array(c)) if !c.is_empty());
    match body.get("generateContentRequest") {
        Some(_) if vertex => {
            return gemini::invalid(
                "Invalid JSON payload received. Unknown name \"generateContentRequest\": Cannot find field.",
            );
        }
        Some(_) if body.contains_key("contents") => {
            return gemini::invalid("contents and generateContentRequest are mutually exclusive");
        }
        Some(Value::Object(inner)) => {
            let model_ok = inner
                .get("model")
                .and_then(Value::as_str)
                .is_some_and(|m| m.starts_with("models/") && !m[7..].contains('/'));
            if !model_ok {
                return gemini::invalid(
                    "* CountTokensRequest.generate_content_request.model: unexpected model name format\n",
                );
            }
            if !has_contents(inner) {
                return gemini::invalid(
                    "* GenerateContentRequest.contents: contents is not specified\n",
                );
            }
        }
        Some(_) => return gemini::invalid("Invalid JSON payload received."),
        None if !has_contents(&body) => {
            return gemini::invalid("* CountTokensRequest.contents: contents is not specified\n");
        }
        None => {}
    }
    let n = mock_token_count(&req.body);
    json_response(
        StatusCode::OK,
        &json!({
            "totalTokens": n,
            "promptTokensDetails": [{ "modality": "TEXT", "tokenCount": n }]
        }),
    )
}
