//! Canonical parts ↔ Gemini parts, shared by requests, responses and streams.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::super::{ConvertError, ImageSource, Part};
use super::wire::{Blob, FileData, FunctionCall, FunctionResponse, WirePart};

/// Part fields that carry nothing canonical and are dropped.
const COSMETIC: &[&str] = &[
    "videoMetadata",
    "video_metadata",
    "partMetadata",
    "part_metadata",
    "mediaResolution",
    "media_resolution",
];

/// The calls seen so far in a conversation, to match results without ids.
#[derive(Debug, Default)]
pub(super) struct CallTracker {
    /// (id, name, answered)
    calls: Vec<(String, String, bool)>,
}

impl CallTracker {
    fn add(&mut self, id: &str, name: &str) {
        self.calls.push((id.to_owned(), name.to_owned(), false));
    }

    /// Marks the call `id` answered, or finds the earliest unanswered call
    /// named `name`.
    fn answer(&mut self, id: Option<&str>, name: &str) -> Option<String> {
        let call = match id {
            Some(id) => self.calls.iter_mut().find(|c| c.0 == id),
            None => self.calls.iter_mut().find(|c| !c.2 && c.1 == name),
        }?;
        call.2 = true;
        Some(call.0.clone())
    }
}

/// Rejects part kinds the canonical model has no place for.
pub(super) fn check_part_kind(part: &WirePart) -> Result<(), ConvertError> {
    match part.extra.keys().find(|k| !COSMETIC.contains(&k.as_str())) {
        Some(key) => Err(ConvertError::Unsupported(format!(
            "Gemini part `{key}` cannot be converted"
        ))),
        None => Ok(()),
    }
}

/// Decodes one turn's parts. `derive_id` names a call (by tool name) that
/// has no id.
pub(super) fn decode_parts(
    parts: Vec<WirePart>,
    calls: &mut CallTracker,
    derive_id: &mut dyn FnMut(&str) -> String,
) -> Result<Vec<Part>, ConvertError> {
    let mut out = Vec::new();
    for part in parts {
        check_part_kind(&part)?;
        if part.thought == Some(true) {
            let text = part.text.unwrap_or_default();
            // A streamed thought comes one part per chunk, and clients hand
            // the parts back as they got them: consecutive thought parts
            // with no signature between them are one reasoning block (its
            // signature, on the last part or the next one, covers all of
            // it; split, the other protocols would drop the unsigned pieces
            // and send the signature with part of the text).
            if let Some(Part::Reasoning {
                text: prev,
                signature: signature @ None,
                redacted: None,
            }) = out.last_mut()
            {
                prev.push_str(&text);
                *signature = part.thought_signature;
                continue;
            }
            out.push(Part::Reasoning {
                text,
                signature: part.thought_signature,
                redacted: None,
            });
            continue;
        }
        if let Some(sig) = part.thought_signature {
            attach_signature(&mut out, sig);
        }
        if let Some(text) = part.text
            && !text.is_empty()
        {
            out.push(Part::Text { text });
        }
        if let Some(blob) = part.inline_data {
            out.push(image_from_blob(blob)?);
        }
        if let Some(file) = part.file_data {
            out.push(image_from_file(file)?);
        }
        if let Some(fc) = part.function_call {
            let id = match fc.id.filter(|id| !id.is_empty()) {
                Some(id) => id,
                None => derive_id(&fc.name),
            };
            calls.add(&id, &fc.name);
            out.push(Part::ToolCall {
                id,
                arguments: args_text(fc.args)?,
                name: fc.name,
            });
        }
        if let Some(fr) = part.function_response {
            let given = fr.id.filter(|id| !id.is_empty());
            let call_id = match calls.answer(given.as_deref(), &fr.name) {
                Some(found) => given.unwrap_or(found),
                None => given.unwrap_or_else(|| derive_id(&fr.name)),
            };
            let (text, is_error) = response_text(&fr.response);
            let mut content = Vec::new();
            if !text.is_empty() {
                content.push(Part::Text { text });
            }
            for extra in fr.parts {
                check_part_kind(&extra)?;
                if let Some(blob) = extra.inline_data {
                    content.push(image_from_blob(blob)?);
                }
                if let Some(file) = extra.file_data {
                    content.push(image_from_file(file)?);
                }
            }
            out.push(Part::ToolResult {
                call_id,
                name: Some(fr.name),
                content,
                is_error,
            });
        }
    }
    Ok(out)
}

/// A signature on a non-thought part belongs to the reasoning right before
/// it, or stands for a reasoning block with no text.
fn attach_signature(out: &mut Vec<Part>, sig: String) {
    if let Some(Part::Reasoning {
        signature: signature @ None,
        redacted: None,
        ..
    }) = out.last_mut()
    {
        *signature = Some(sig);
    } else {
        out.push(Part::Reasoning {
            text: String::new(),
            signature: Some(sig),
            redacted: None,
        });
    }
}

/// `functionCall.args` as JSON text (`"{}"` when absent).
pub(super) fn args_text(args: Option<Value>) -> Result<String, ConvertError> {
    match args {
        None | Some(Value::Null) => Ok("{}".into()),
        Some(v @ Value::Object(_)) => Ok(v.to_string()),
        Some(_) => Err(ConvertError::Invalid(
            "Gemini functionCall.args must be an object".into(),
        )),
    }
}

/// The canonical text of a `functionResponse.response`, and whether it is an error.
fn response_text(response: &Value) -> (String, bool) {
    fn text_of(v: &Value) -> String {
        match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }
    match response {
        Value::Object(m) if m.is_empty() => (String::new(), false),
        Value::Object(m) if m.len() == 1 => {
            if let Some(v) = m.get("result").or_else(|| m.get("output")) {
                (text_of(v), false)
            } else if let Some(v) = m.get("error") {
                (text_of(v), true)
            } else {
                (response.to_string(), false)
            }
        }
        Value::Object(m) => (response.to_string(), m.contains_key("error")),
        Value::Null => (String::new(), false),
        other => (text_of(other), false),
    }
}

fn image_from_blob(blob: Blob) -> Result<Part, ConvertError> {
    if !blob.mime_type.starts_with("image/") {
        return Err(ConvertError::Unsupported(format!(
            "Gemini inlineData with MIME type `{}` cannot be converted (only images)",
            blob.mime_type
        )));
    }
    Ok(Part::Image {
        source: ImageSource::Base64 {
            media_type: blob.mime_type,
            data: blob.data,
        },
    })
}

fn image_from_file(file: FileData) -> Result<Part, ConvertError> {
    let is_image = match &file.mime_type {
        Some(m) => m.starts_with("image/"),
        None => image_mime_for_url(&file.file_uri).is_some(),
    };
    if !is_image {
        return Err(ConvertError::Unsupported(format!(
            "Gemini fileData `{}` ({}) cannot be converted (only images)",
            file.file_uri,
            file.mime_type.as_deref().unwrap_or("unknown type")
        )));
    }
    Ok(Part::Image {
        source: ImageSource::Url { url: file.file_uri },
    })
}

/// The image MIME type for a URL's file extension.
fn image_mime_for_url(url: &str) -> Option<&'static str> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let ext = path.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "heic" => "image/heic",
        "heif" => "image/heif",
        _ => return None,
    })
}

/// An image as a Gemini part.
fn encode_image(source: &ImageSource) -> Result<WirePart, ConvertError> {
    match source {
        ImageSource::Base64 { media_type, data } => Ok(WirePart {
            inline_data: Some(Blob {
                mime_type: media_type.clone(),
                data: data.clone(),
            }),
            ..WirePart::default()
        }),
        ImageSource::Url { url } => {
            if let Some(rest) = url.strip_prefix("data:")
                && let Some((mime, data)) = rest.split_once(";base64,")
            {
                return Ok(WirePart {
                    inline_data: Some(Blob {
                        mime_type: mime.to_owned(),
                        data: data.to_owned(),
                    }),
                    ..WirePart::default()
                });
            }
            let scheme_ok = ["gs://", "https://", "http://"]
                .iter()
                .any(|s| url.starts_with(s));
            match image_mime_for_url(url) {
                Some(mime) if scheme_ok => Ok(WirePart {
                    file_data: Some(FileData {
                        mime_type: Some(mime.to_owned()),
                        file_uri: url.clone(),
                    }),
                    ..WirePart::default()
                }),
                _ => Err(ConvertError::Unsupported(format!(
                    "image URL `{url}` is not supported by Gemini: only gs:// and https:// URLs \
                     with a known image type (png, jpeg, webp, gif, heic, heif)"
                ))),
            }
        }
    }
}

/// Tool-call arguments text → the `args` object.
pub(super) fn args_object(id: &str, arguments: &str) -> Result<Value, ConvertError> {
    if arguments.trim().is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    match serde_json::from_str::<Value>(arguments) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(Value::Null) => Ok(Value::Object(Map::new())),
        _ => Err(ConvertError::Invalid(format!(
            "arguments of tool call `{id}` are not a JSON object"
        ))),
    }
}

/// How to encode parts.
pub(super) struct EncodeCtx<'a> {
    /// Write `id` on function calls and responses (responses to clients only).
    pub with_ids: bool,
    /// Tool name by call id, for results without a name.
    pub names: &'a HashMap<String, String>,
}

/// Encodes one message's parts, placing thought signatures (module docs).
pub(super) fn encode_parts(
    parts: &[Part],
    ctx: &EncodeCtx<'_>,
) -> Result<Vec<WirePart>, ConvertError> {
    let mut out: Vec<WirePart> = Vec::new();
    // A signature waiting for the next non-thought part, and its thought part.
    let mut pending: Option<(String, Option<usize>)> = None;
    for part in parts {
        if let Part::Reasoning {
            text,
            signature,
            redacted,
        } = part
        {
            if redacted.is_some() && text.is_empty() {
                continue;
            }
            flush_signature(&mut out, &mut pending);
            let at = if text.is_empty() {
                None
            } else {
                out.push(WirePart {
                    text: Some(text.clone()),
                    thought: Some(true),
                    ..WirePart::default()
                });
                Some(out.len() - 1)
            };
            if let Some(sig) = signature {
                pending = Some((sig.clone(), at));
            }
            continue;
        }
        let mut wire = encode_data_part(part, ctx)?;
        if let Some(first) = wire.first_mut()
            && let Some((sig, _)) = pending.take()
        {
            first.thought_signature = Some(sig);
        }
        out.append(&mut wire);
    }
    flush_signature(&mut out, &mut pending);
    Ok(out)
}

/// A pending signature with nothing after it goes on its own thought part.
fn flush_signature(out: &mut [WirePart], pending: &mut Option<(String, Option<usize>)>) {
    if let Some((sig, Some(at))) = pending.take()
        && let Some(part) = out.get_mut(at)
    {
        part.thought_signature = Some(sig);
    }
}

/// A non-reasoning part as Gemini parts (none for empty text).
fn encode_data_part(part: &Part, ctx: &EncodeCtx<'_>) -> Result<Vec<WirePart>, ConvertError> {
    Ok(match part {
        Part::Text { text } if text.is_empty() => Vec::new(),
        Part::Text { text } => vec![WirePart {
            text: Some(text.clone()),
            ..WirePart::default()
        }],
        Part::Image { source } => vec![encode_image(source)?],
        Part::ToolCall {
            id,
            name,
            arguments,
        } => vec![WirePart {
            function_call: Some(FunctionCall {
                id: ctx.with_ids.then(|| id.clone()),
                name: name.clone(),
                args: Some(args_object(id, arguments)?),
            }),
            ..WirePart::default()
        }],
        Part::ToolResult {
            call_id,
            name,
            content,
            is_error,
        } => {
            let name = match name.as_ref().or_else(|| ctx.names.get(call_id)) {
                Some(n) => n.clone(),
                None => {
                    return Err(ConvertError::Invalid(format!(
                        "tool result for call `{call_id}` has no tool name and no matching tool call"
                    )));
                }
            };
            let text = content
                .iter()
                .filter_map(|p| match p {
                    Part::Text { text } => Some(text.as_str()),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join("\n");
            let mut response = Map::new();
            response.insert(
                if *is_error { "error" } else { "result" }.into(),
                Value::String(text),
            );
            let mut wire = vec![WirePart {
                function_response: Some(FunctionResponse {
                    id: ctx.with_ids.then(|| call_id.clone()),
                    name,
                    response: Value::Object(response),
                    parts: Vec::new(),
                }),
                ..WirePart::default()
            }];
            for p in content {
                match p {
                    Part::Image { source } => wire.push(encode_image(source)?),
                    Part::Text { .. } => {}
                    _ => {
                        return Err(ConvertError::Unsupported(
                            "tool results holding calls, results or reasoning cannot be converted to Gemini".into(),
                        ));
                    }
                }
            }
            wire
        }
        // Handled by the caller.
        Part::Reasoning { .. } => Vec::new(),
    })
}
