//! Gemini wire format: `GenerateContentResponse` for `:generateContent`,
//! and for `:streamGenerateContent` either SSE (`?alt=sse`, one
//! `data: {...}\r\n\r\n` per chunk) or a streamed JSON array
//! (`[{...}\n,\r\n{...}\n]`); plus the model list.
//!
//! As the real API does, every streamed chunk carries `usageMetadata` with
//! cumulative counts (`candidatesTokenCount` grows to the final value, which
//! the last chunk, the one with `finishReason`, reports in full).

use http::{HeaderValue, Response, StatusCode, header};
use serde_json::{Map, Value, json};

use crate::body::MockBody;
use crate::fault::{gemini_error, json_response};
use crate::server::{MockRequest, Reply, json_ok, not_found, sse_data, sse_response};
use crate::usage;

/// What Google answers when no API key is sent at all.
const NO_KEY: &str = "Method doesn't allow unregistered callers (callers without established \
identity). Please use API Key or other form of API consumer identity to call this API.";

/// Whether an API key came as `x-goog-api-key` or `?key=` (or, on Vertex
/// paths, an issued OAuth token).
pub(crate) fn authorized(req: &MockRequest) -> bool {
    req.oauth_bearer
        || req
            .header("x-goog-api-key")
            .is_some_and(|key| !key.trim().is_empty())
        || req.query_param("key").is_some_and(|key| !key.is_empty())
}

pub(crate) fn forbidden() -> Response<MockBody> {
    gemini_error(StatusCode::FORBIDDEN, "PERMISSION_DENIED", NO_KEY)
}

pub(crate) fn invalid(message: &str) -> Response<MockBody> {
    gemini_error(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", message)
}

/// `usageMetadata` with `candidates` output tokens so far.
fn usage_metadata(candidates: u64) -> Value {
    let mut meta = Map::new();
    meta.insert("promptTokenCount".into(), json!(usage::INPUT));
    // Proto3 JSON leaves out zero counts.
    if candidates > 0 {
        meta.insert("candidatesTokenCount".into(), json!(candidates));
    }
    meta.insert(
        "totalTokenCount".into(),
        json!(usage::INPUT + candidates + usage::REASONING),
    );
    meta.insert("cachedContentTokenCount".into(), json!(usage::CACHE_READ));
    meta.insert(
        "promptTokensDetails".into(),
        json!([{ "modality": "TEXT", "tokenCount": usage::INPUT }]),
    );
    meta.insert("thoughtsTokenCount".into(), json!(usage::REASONING));
    Value::Object(meta)
}

/// One `GenerateContentResponse`.
pub(crate) fn response_chunk(
    text: &str,
    last: bool,
    candidates: u64,
    model: &str,
    id: &str,
) -> Value {
    let mut candidate = json!({
        "content": { "parts": [{ "text": text }], "role": "model" },
        "index": 0
    });
    if last {
        candidate["finishReason"] = json!("STOP");
    }
    json!({
        "candidates": [candidate],
        "usageMetadata": usage_metadata(candidates),
        "modelVersion": model,
        "responseId": id
    })
}

/// `POST /v1beta/models/{model}:{method}` (and under `/v1/`).
pub(crate) fn generate(
    req: &MockRequest,
    reply: &Reply,
    model: &str,
    method: &str,
) -> Response<MockBody> {
    let streaming = match method {
        "generateContent" => false,
        "streamGenerateContent" => true,
        _ => return not_found(req, reply),
    };
    if !authorized(req) {
        return forbidden();
    }
    let Some(body @ Value::Object(_)) = req.json() else {
        return invalid("Invalid JSON payload received.");
    };
    match body.get("contents") {
        Some(Value::Array(contents)) if !contents.is_empty() => {}
        _ => return invalid("* GenerateContentRequest.contents: contents is not specified\n"),
    }
    if let Some(message) = crate::rules::gemini(&body) {
        return invalid(&message);
    }
    let id = format!("mock{:016x}", reply.id);
    let deltas = reply.deltas(model);
    if !streaming {
        let whole = response_chunk(&deltas.concat(), true, usage::OUTPUT, model, &id);
        return json_ok(reply, &whole);
    }
    let n = deltas.len() as u64;
    let chunks = deltas.iter().enumerate().map(|(i, text)| {
        let done = i as u64 + 1;
        let candidates = usage::OUTPUT * done / n;
        (i, response_chunk(text, done == n, candidates, model, &id))
    });
    let mut body = MockBody::stream(reply.delay);
    if req.query_param("alt") == Some("sse") {
        for (i, chunk) in chunks {
            body.push(sse_data(&chunk, b"\r\n\r\n"), i > 0);
        }
        return sse_response(reply.finish(body));
    }
    for (i, chunk) in chunks {
        let mut element = Vec::with_capacity(256);
        element.extend_from_slice(if i == 0 { b"[" } else { b"\n,\r\n" });
        let _ = serde_json::to_writer(&mut element, &chunk);
        body.push(element, i > 0);
    }
    body.push(&b"\n]"[..], false);
    let mut response = Response::new(reply.finish(body));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    response
}

/// `GET /v1beta/models`.
pub(crate) fn list_models(req: &MockRequest) -> Response<MockBody> {
    if !authorized(req) {
        return forbidden();
    }
    let methods = json!([
        "generateContent",
        "countTokens",
        "createCachedContent",
        "batchGenerateContent"
    ]);
    let list = json!({
        "models": [
            {
                "name": "models/gemini-2.5-flash",
                "version": "001",
                "displayName": "Gemini 2.5 Flash",
                "description": "Mock of Gemini 2.5 Flash.",
                "inputTokenLimit": 1_048_576,
                "outputTokenLimit": 65_536,
                "supportedGenerationMethods": methods,
                "temperature": 1,
                "topP": 0.95,
                "topK": 64,
                "maxTemperature": 2,
                "thinking": true
            },
            {
                "name": "models/gemini-2.5-pro",
                "version": "2.5",
                "displayName": "Gemini 2.5 Pro",
                "description": "Mock of Gemini 2.5 Pro.",
                "inputTokenLimit": 1_048_576,
                "outputTokenLimit": 65_536,
                "supportedGenerationMethods": methods,
                "temperature": 1,
                "topP": 0.95,
                "topK": 64,
                "maxTemperature": 2,
                "thinking": true
            }
        ]
    });
    json_response(StatusCode::OK, &list)
}
