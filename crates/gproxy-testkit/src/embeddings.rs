//! Embedding endpoints: OpenAI `POST /v1/embeddings` and Gemini
//! `models/{model}:embedContent` / `:batchEmbedContents`. Vectors are
//! deterministic: input `i` gets `dims` values of `(i + 1) / 8`.

use base64::Engine as _;
use http::Response;
use serde_json::{Value, json};

use crate::body::MockBody;
use crate::server::{MockRequest, Reply, json_ok};
use crate::{gemini, openai, usage};

/// Vector length when the request names none.
pub const DEFAULT_DIMENSIONS: usize = 4;

fn vector(index: usize, dims: usize) -> Vec<f32> {
    vec![(index as f32 + 1.0) / 8.0; dims]
}

/// `POST /v1/embeddings`.
pub(crate) fn openai_embeddings(req: &MockRequest, reply: &Reply) -> Response<MockBody> {
    let (body, model) = match openai::authorize_and_parse(req) {
        Ok(parsed) => parsed,
        Err(response) => return *response,
    };
    let count = match body.get("input") {
        Some(Value::String(s)) if !s.is_empty() => 1,
        Some(Value::Array(items)) if !items.is_empty() => {
            // An array of token ids is one input; an array of strings or of
            // token arrays is several.
            if items.iter().all(Value::is_number) {
                1
            } else {
                items.len()
            }
        }
        _ => {
            return openai::invalid(
                "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
                None,
                None,
            );
        }
    };
    let dims = body
        .get("dimensions")
        .and_then(Value::as_u64)
        .map_or(DEFAULT_DIMENSIONS, |d| d as usize);
    let base64 = body.get("encoding_format").and_then(Value::as_str) == Some("base64");
    let data: Vec<Value> = (0..count)
        .map(|i| {
            let values = vector(i, dims);
            let embedding = if base64 {
                let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
                json!(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(values)
            };
            json!({"object": "embedding", "index": i, "embedding": embedding})
        })
        .collect();
    json_ok(
        reply,
        &json!({
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": usage::INPUT, "total_tokens": usage::INPUT},
        }),
    )
}

/// `models/{model}:embedContent` (`batch == false`) or `:batchEmbedContents`.
pub(crate) fn gemini_embed(
    req: &MockRequest,
    reply: &Reply,
    model: &str,
    batch: bool,
) -> Response<MockBody> {
    if !gemini::authorized(req) {
        return gemini::forbidden();
    }
    let Some(body @ Value::Object(_)) = req.json() else {
        return gemini::invalid("Invalid JSON payload received.");
    };
    let has_parts = |content: &Value| {
        content
            .pointer("/content/parts")
            .and_then(Value::as_array)
            .is_some_and(|p| !p.is_empty())
    };
    let dims = |content: &Value| {
        content
            .get("outputDimensionality")
            .and_then(Value::as_u64)
            .map_or(DEFAULT_DIMENSIONS, |d| d as usize)
    };
    if !batch {
        if !has_parts(&body) {
            return gemini::invalid("* EmbedContentRequest.content: contents is not specified\n");
        }
        return json_ok(
            reply,
            &json!({"embedding": {"values": vector(0, dims(&body))}}),
        );
    }
    let Some(requests) = body
        .get("requests")
        .and_then(Value::as_array)
        .filter(|r| !r.is_empty())
    else {
        return gemini::invalid(
            "* BatchEmbedContentsRequest.requests: requests is not specified\n",
        );
    };
    let expected = format!("models/{model}");
    let mut embeddings = Vec::with_capacity(requests.len());
    for (i, r) in requests.iter().enumerate() {
        if r.get("model").and_then(Value::as_str) != Some(expected.as_str()) {
            return gemini::invalid(&format!(
                "* BatchEmbedContentsRequest.requests[{i}].model: model must match the model in the URL ({expected})\n"
            ));
        }
        if !has_parts(r) {
            return gemini::invalid(&format!(
                "* BatchEmbedContentsRequest.requests[{i}].content: contents is not specified\n"
            ));
        }
        embeddings.push(json!({"values": vector(i, dims(r))}));
    }
    json_ok(reply, &json!({"embeddings": embeddings}))
}
