//! Content helpers shared by requests, responses and streams: images,
//! tool-call arguments and thinking blocks.

use serde_json::Value;

use super::super::{ConvertError, ImageSource, Part};
use super::wire::ClaudeImageSource;

/// A `tool_use.input` as compact JSON text (`{}` when absent).
pub(super) fn arguments_text(input: &Value) -> Result<String, ConvertError> {
    if input.is_null() {
        return Ok("{}".into());
    }
    serde_json::to_string(input).map_err(|e| ConvertError::json("tool_use input", &e))
}

/// A `thinking` block as reasoning (an empty signature is none).
pub(super) fn thinking_part(thinking: String, signature: Option<String>) -> Part {
    Part::Reasoning {
        text: thinking,
        signature: signature.filter(|s| !s.is_empty()),
        redacted: None,
    }
}

/// A `redacted_thinking` block as reasoning.
pub(super) fn redacted_thinking_part(data: String) -> Part {
    Part::Reasoning {
        text: String::new(),
        signature: None,
        redacted: Some(data),
    }
}

pub(super) fn decode_image(source: ClaudeImageSource) -> Result<ImageSource, ConvertError> {
    match source.kind.as_str() {
        "base64" => match (source.media_type, source.data) {
            (Some(media_type), Some(data)) => Ok(ImageSource::Base64 { media_type, data }),
            _ => Err(ConvertError::Invalid(
                "base64 image source needs `media_type` and `data`".into(),
            )),
        },
        "url" => {
            let url = source
                .url
                .ok_or_else(|| ConvertError::Invalid("url image source needs `url`".into()))?;
            Ok(data_url(&url).unwrap_or(ImageSource::Url { url }))
        }
        other => Err(ConvertError::Unsupported(format!(
            "Anthropic image source type `{other}` cannot be converted"
        ))),
    }
}

/// `data:<media type>;base64,<data>` as an inline image.
fn data_url(url: &str) -> Option<ImageSource> {
    let rest = url.strip_prefix("data:")?;
    let (meta, data) = rest.split_once(',')?;
    let media_type = meta.strip_suffix(";base64")?;
    Some(ImageSource::Base64 {
        media_type: media_type.to_owned(),
        data: data.to_owned(),
    })
}

/// Tool-call arguments as the `input` object Anthropic wants.
pub(super) fn arguments_object(id: &str, arguments: &str) -> Result<Value, ConvertError> {
    if arguments.trim().is_empty() {
        return Ok(Value::Object(serde_json::Map::new()));
    }
    match serde_json::from_str::<Value>(arguments) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(ConvertError::Invalid(format!(
            "arguments of tool call `{id}` are not a JSON object"
        ))),
        Err(e) => Err(ConvertError::Invalid(format!(
            "arguments of tool call `{id}` are not valid JSON: {e}"
        ))),
    }
}

pub(super) fn encode_image(source: &ImageSource) -> Result<ClaudeImageSource, ConvertError> {
    match source {
        ImageSource::Base64 { media_type, data } => Ok(ClaudeImageSource {
            kind: "base64".into(),
            media_type: Some(media_type.clone()),
            data: Some(data.clone()),
            url: None,
        }),
        ImageSource::Url { url } => {
            if let Some(ImageSource::Base64 { media_type, data }) = data_url(url) {
                return Ok(ClaudeImageSource {
                    kind: "base64".into(),
                    media_type: Some(media_type),
                    data: Some(data),
                    url: None,
                });
            }
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(ConvertError::Unsupported(format!(
                    "image URL `{}` is not supported by Anthropic (only http(s) URLs)",
                    url.chars().take(64).collect::<String>()
                )));
            }
            Ok(ClaudeImageSource {
                kind: "url".into(),
                url: Some(url.clone()),
                ..ClaudeImageSource::default()
            })
        }
    }
}
