//! Embeddings: the OpenAI request and response shapes, and their conversion
//! to and from Gemini `batchEmbedContents`, for OpenAI-shaped clients of
//! Gemini providers. Same-protocol embedding calls never come here.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// An OpenAI `POST /v1/embeddings` request, as far as conversion needs it.
#[derive(Debug, Clone, Deserialize)]
pub struct OpenAiEmbeddingsRequest {
    /// The text(s) to embed.
    pub input: EmbeddingInput,
    /// The model.
    pub model: String,
    /// `float` (default) or `base64`.
    #[serde(default)]
    pub encoding_format: Option<String>,
    /// Requested vector size.
    #[serde(default)]
    pub dimensions: Option<u32>,
}

/// The `input` of an OpenAI embeddings request.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum EmbeddingInput {
    /// One text.
    One(String),
    /// Several texts.
    Many(Vec<String>),
    /// Token ids (one or several arrays): not convertible.
    Tokens(serde_json::Value),
}

/// Why an embeddings conversion failed.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddingsError {
    /// The client's request cannot be expressed for the target.
    #[error("{0}")]
    Unsupported(String),
    /// The request or the upstream answer is not what the protocol says.
    #[error("invalid embeddings payload: {0}")]
    Invalid(String),
}

/// How the client wants vectors encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodingFormat {
    /// JSON arrays of floats.
    Float,
    /// Base64 of little-endian `f32`s (what the OpenAI SDKs ask for by default).
    Base64,
}

#[derive(Serialize)]
struct GeminiBatchRequest<'a> {
    requests: Vec<GeminiEmbedRequest<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GeminiEmbedRequest<'a> {
    model: &'a str,
    content: GeminiContent<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output_dimensionality: Option<u32>,
}

#[derive(Serialize)]
struct GeminiContent<'a> {
    parts: [GeminiTextPart<'a>; 1],
}

#[derive(Serialize)]
struct GeminiTextPart<'a> {
    text: &'a str,
}

#[derive(Deserialize)]
struct GeminiBatchResponse {
    #[serde(default)]
    embeddings: Vec<GeminiEmbedding>,
}

#[derive(Deserialize)]
struct GeminiEmbedding {
    #[serde(default)]
    values: Vec<f32>,
}

#[derive(Serialize)]
struct OpenAiList<'a> {
    object: &'static str,
    data: Vec<OpenAiEmbedding>,
    model: &'a str,
    usage: OpenAiUsage,
}

#[derive(Serialize)]
struct OpenAiEmbedding {
    object: &'static str,
    index: usize,
    embedding: serde_json::Value,
}

#[derive(Serialize)]
struct OpenAiUsage {
    prompt_tokens: u64,
    total_tokens: u64,
}

/// Parses an OpenAI embeddings request.
pub fn parse_openai_request(body: &[u8]) -> Result<OpenAiEmbeddingsRequest, EmbeddingsError> {
    serde_json::from_slice(body).map_err(|e| EmbeddingsError::Invalid(e.to_string()))
}

impl OpenAiEmbeddingsRequest {
    /// The encoding the client asked for.
    pub fn encoding(&self) -> Result<EncodingFormat, EmbeddingsError> {
        match self.encoding_format.as_deref() {
            None | Some("float") => Ok(EncodingFormat::Float),
            Some("base64") => Ok(EncodingFormat::Base64),
            Some(other) => Err(EmbeddingsError::Unsupported(format!(
                "`encoding_format` must be `float` or `base64`, not `{other}`"
            ))),
        }
    }

    /// The Gemini `batchEmbedContents` body for `upstream_model` (without
    /// the `models/` prefix): one request per input text.
    pub fn to_gemini_batch(&self, upstream_model: &str) -> Result<Vec<u8>, EmbeddingsError> {
        let texts: Vec<&str> = match &self.input {
            EmbeddingInput::One(t) => vec![t.as_str()],
            EmbeddingInput::Many(ts) => ts.iter().map(String::as_str).collect(),
            EmbeddingInput::Tokens(_) => {
                return Err(EmbeddingsError::Unsupported(
                    "token-id `input` cannot be sent to a Gemini provider; send text".into(),
                ));
            }
        };
        if texts.is_empty() || texts.iter().any(|t| t.is_empty()) {
            return Err(EmbeddingsError::Unsupported(
                "`input` must hold non-empty text".into(),
            ));
        }
        let model = format!("models/{upstream_model}");
        let body = GeminiBatchRequest {
            requests: texts
                .into_iter()
                .map(|text| GeminiEmbedRequest {
                    model: &model,
                    content: GeminiContent {
                        parts: [GeminiTextPart { text }],
                    },
                    output_dimensionality: self.dimensions,
                })
                .collect(),
        };
        serde_json::to_vec(&body).map_err(|e| EmbeddingsError::Invalid(e.to_string()))
    }
}

/// An OpenAI embeddings list from a Gemini `batchEmbedContents` answer.
/// `prompt_tokens` is the upstream's `usageMetadata.promptTokenCount` when
/// it reports one, else 0.
pub fn openai_from_gemini_batch(
    body: &[u8],
    model: &str,
    encoding: EncodingFormat,
) -> Result<Vec<u8>, EmbeddingsError> {
    let parsed: GeminiBatchResponse =
        serde_json::from_slice(body).map_err(|e| EmbeddingsError::Invalid(e.to_string()))?;
    let tokens = crate::usage::from_response_body(crate::Protocol::Gemini, body)
        .map_or(0, |u| u.input_tokens);
    let data = parsed
        .embeddings
        .into_iter()
        .enumerate()
        .map(|(index, e)| OpenAiEmbedding {
            object: "embedding",
            index,
            embedding: match encoding {
                EncodingFormat::Float => serde_json::Value::from(e.values),
                EncodingFormat::Base64 => serde_json::Value::from(encode_f32_base64(&e.values)),
            },
        })
        .collect();
    let list = OpenAiList {
        object: "list",
        data,
        model,
        usage: OpenAiUsage {
            prompt_tokens: tokens,
            total_tokens: tokens,
        },
    };
    serde_json::to_vec(&list).map_err(|e| EmbeddingsError::Invalid(e.to_string()))
}

/// Little-endian `f32`s, base64 (standard alphabet, padded), as OpenAI sends.
pub fn encode_f32_base64(values: &[f32]) -> String {
    let mut bytes = Vec::with_capacity(values.len() * 4);
    for v in values {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn text_inputs_become_one_gemini_request_each() {
        let req = parse_openai_request(
            br#"{"model":"aistudio/gemini-embedding-001","input":["a","b"],"dimensions":8}"#,
        )
        .unwrap();
        let body: Value =
            serde_json::from_slice(&req.to_gemini_batch("gemini-embedding-001").unwrap()).unwrap();
        assert_eq!(
            body,
            json!({"requests": [
                {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "a"}]}, "outputDimensionality": 8},
                {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "b"}]}, "outputDimensionality": 8},
            ]})
        );
        let one = parse_openai_request(br#"{"model":"m","input":"hi"}"#).unwrap();
        let body: Value = serde_json::from_slice(&one.to_gemini_batch("m").unwrap()).unwrap();
        assert_eq!(body["requests"].as_array().unwrap().len(), 1);
        assert!(body["requests"][0].get("outputDimensionality").is_none());
    }

    #[test]
    fn unconvertible_requests_are_refused_clearly() {
        for bad in [
            r#"{"model":"m","input":[1,2,3]}"#,
            r#"{"model":"m","input":[[1],[2]]}"#,
            r#"{"model":"m","input":[]}"#,
            r#"{"model":"m","input":""}"#,
        ] {
            let req = parse_openai_request(bad.as_bytes()).unwrap();
            assert!(
                matches!(
                    req.to_gemini_batch("m"),
                    Err(EmbeddingsError::Unsupported(_))
                ),
                "{bad}"
            );
        }
        let req =
            parse_openai_request(br#"{"model":"m","input":"x","encoding_format":"int8"}"#).unwrap();
        assert!(req.encoding().is_err());
        assert!(parse_openai_request(b"{").is_err());
        assert!(parse_openai_request(br#"{"input":"x"}"#).is_err());
    }

    #[test]
    fn gemini_answers_become_openai_lists_in_both_encodings() {
        let gemini = br#"{"embeddings":[{"values":[0.5,-1.0]},{"values":[0.25]}]}"#;
        let out: Value = serde_json::from_slice(
            &openai_from_gemini_batch(gemini, "aistudio/e", EncodingFormat::Float).unwrap(),
        )
        .unwrap();
        assert_eq!(
            out,
            json!({"object": "list", "model": "aistudio/e", "usage": {"prompt_tokens": 0, "total_tokens": 0}, "data": [
                {"object": "embedding", "index": 0, "embedding": [0.5, -1.0]},
                {"object": "embedding", "index": 1, "embedding": [0.25]},
            ]})
        );
        let out: Value = serde_json::from_slice(
            &openai_from_gemini_batch(gemini, "e", EncodingFormat::Base64).unwrap(),
        )
        .unwrap();
        let b64 = out["data"][0]["embedding"].as_str().unwrap();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        let back: Vec<f32> = bytes
            .chunks(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        assert_eq!(back, vec![0.5, -1.0]);
        let with_usage =
            br#"{"embeddings":[{"values":[1.0]}],"usageMetadata":{"promptTokenCount":4}}"#;
        let out: Value = serde_json::from_slice(
            &openai_from_gemini_batch(with_usage, "e", EncodingFormat::Float).unwrap(),
        )
        .unwrap();
        assert_eq!(out["usage"]["prompt_tokens"], 4);
        assert!(openai_from_gemini_batch(b"nope", "e", EncodingFormat::Float).is_err());
    }
}
