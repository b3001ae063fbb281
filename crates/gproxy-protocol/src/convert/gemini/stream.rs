//! `streamGenerateContent` chunks ↔ canonical [`StreamEvent`]s.
//!
//! Every chunk is a whole `GenerateContentResponse`; text and thoughts come
//! as whole parts, function calls as whole `functionCall` parts. The
//! encoder therefore buffers tool-call argument deltas until the calls are
//! complete (another kind of event, or the end), sends text and reasoning
//! deltas as they come (one chunk each), and holds the finish reason and
//! usage for the final chunk. With `alt=sse` chunks are `data: {json}`
//! events separated by `\r\n\r\n` as Google sends them; otherwise they form
//! one JSON array (`[`, `,\r\n` between elements, `]`).

use serde_json::json;

use super::super::{
    ConvertError, FinishReason, StreamDecoder, StreamEncoder, StreamEvent, StreamOptions, Usage,
    generated_id,
};
use super::parts::{args_object, args_text, check_part_kind};
use super::response::{error_message, first_candidate};
use super::wire::{Candidate, Content, FunctionCall, GenerateContentResponse, WirePart};
use super::{finish_from_wire, finish_to_wire, usage_from_wire, usage_to_wire};

/// Decodes a Gemini generateContent stream.
#[derive(Debug, Default)]
pub(in super::super) struct GeminiStreamDecoder {
    /// The response id, once `Start` has been emitted.
    id: Option<String>,
    calls: u32,
    finished: bool,
    usage: Option<Usage>,
}

impl StreamDecoder for GeminiStreamDecoder {
    fn feed(&mut self, data: &str, out: &mut Vec<StreamEvent>) -> Result<(), ConvertError> {
        let data = data.trim();
        if matches!(data, "" | "[" | "]" | ",") {
            return Ok(());
        }
        if data.starts_with('[') {
            let chunks: Vec<GenerateContentResponse> = serde_json::from_str(data)
                .map_err(|e| ConvertError::json("Gemini stream chunk", &e))?;
            return chunks.into_iter().try_for_each(|c| self.chunk(c, out));
        }
        let chunk = serde_json::from_str(data)
            .map_err(|e| ConvertError::json("Gemini stream chunk", &e))?;
        self.chunk(chunk, out)
    }

    fn finish(&mut self, _out: &mut Vec<StreamEvent>) {}
}

impl GeminiStreamDecoder {
    fn chunk(
        &mut self,
        chunk: GenerateContentResponse,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), ConvertError> {
        let id = match &self.id {
            Some(id) => id.clone(),
            None => {
                let id = chunk
                    .response_id
                    .clone()
                    .filter(|id| !id.is_empty())
                    .unwrap_or_else(|| generated_id(""));
                out.push(StreamEvent::Start {
                    id: id.clone(),
                    model: chunk.model_version.clone().unwrap_or_default(),
                    created: None,
                });
                self.id = Some(id.clone());
                id
            }
        };
        if let Some(err) = &chunk.error {
            out.push(StreamEvent::Error {
                message: error_message(err),
            });
            return Ok(());
        }
        let blocked = chunk
            .prompt_feedback
            .as_ref()
            .is_some_and(|f| f.block_reason.is_some());
        let mut finish = None;
        match first_candidate(chunk.candidates) {
            Some(c) => {
                for part in c.content.map(|c| c.parts).unwrap_or_default() {
                    self.part(part, &id, out)?;
                }
                finish = c.finish_reason;
            }
            None if blocked => finish = Some("SAFETY".into()),
            None => {}
        }
        if let Some(reason) = finish
            && !self.finished
            && let Some(reason) = finish_from_wire(&reason, self.calls > 0)
        {
            self.finished = true;
            out.push(StreamEvent::Finish {
                reason,
                stop_sequence: None,
            });
        }
        if let Some(u) = &chunk.usage_metadata {
            let usage = usage_from_wire(u);
            if self.usage != Some(usage) {
                self.usage = Some(usage);
                out.push(StreamEvent::Usage(usage));
            }
        }
        Ok(())
    }

    fn part(
        &mut self,
        part: WirePart,
        id: &str,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), ConvertError> {
        check_part_kind(&part)?;
        if part.thought == Some(true) {
            if let Some(text) = part.text.filter(|t| !t.is_empty()) {
                out.push(StreamEvent::Reasoning(text));
            }
            if let Some(sig) = part.thought_signature {
                out.push(StreamEvent::ReasoningSignature(sig));
            }
            return Ok(());
        }
        if let Some(sig) = part.thought_signature {
            out.push(StreamEvent::ReasoningSignature(sig));
        }
        if let Some(text) = part.text.filter(|t| !t.is_empty()) {
            out.push(StreamEvent::Text(text));
        }
        if part.inline_data.is_some() || part.file_data.is_some() {
            return Err(ConvertError::Unsupported(
                "Gemini media output (inlineData/fileData) cannot be converted".into(),
            ));
        }
        if let Some(fc) = part.function_call {
            let index = self.calls;
            self.calls = self.calls.saturating_add(1);
            let call_id = match fc.id.filter(|i| !i.is_empty()) {
                Some(i) => i,
                None => format!("call_{id}_{index}"),
            };
            out.push(StreamEvent::ToolCallStart {
                index,
                id: call_id,
                name: fc.name,
            });
            out.push(StreamEvent::ToolCallArguments {
                index,
                delta: args_text(fc.args)?,
            });
        }
        Ok(())
    }
}

/// A tool call whose arguments are still arriving.
#[derive(Debug)]
struct PendingCall {
    index: u32,
    id: String,
    name: String,
    args: String,
}

/// Encodes a Gemini generateContent stream.
#[derive(Debug)]
pub(in super::super) struct GeminiStreamEncoder {
    options: StreamOptions,
    id: Option<String>,
    model: String,
    /// A JSON-array element has been written (the `[` is out).
    opened: bool,
    calls: Vec<PendingCall>,
    signature: Option<String>,
    finish: Option<FinishReason>,
    usage: Option<Usage>,
    done: bool,
}

impl GeminiStreamEncoder {
    pub(in super::super) fn new(options: StreamOptions) -> Self {
        Self {
            options,
            id: None,
            model: String::new(),
            opened: false,
            calls: Vec::new(),
            signature: None,
            finish: None,
            usage: None,
            done: false,
        }
    }

    fn id(&mut self) -> String {
        self.id.get_or_insert_with(|| generated_id("")).clone()
    }

    /// Writes one array element or SSE event.
    fn element(&mut self, json: &[u8], out: &mut Vec<u8>) {
        if self.options.gemini_sse {
            out.extend_from_slice(b"data: ");
            out.extend_from_slice(json);
            out.extend_from_slice(b"\r\n\r\n");
        } else {
            out.extend_from_slice(if self.opened { b",\r\n" } else { b"[" });
            out.extend_from_slice(json);
        }
        self.opened = true;
    }

    fn chunk(
        &mut self,
        parts: Vec<WirePart>,
        finish: Option<String>,
        usage: Option<Usage>,
        out: &mut Vec<u8>,
    ) {
        let chunk = GenerateContentResponse {
            candidates: vec![Candidate {
                content: Some(Content {
                    role: Some("model".into()),
                    parts,
                }),
                finish_reason: finish,
                index: Some(0),
            }],
            usage_metadata: usage.as_ref().map(usage_to_wire),
            model_version: Some(self.model.clone()),
            response_id: Some(self.id()),
            ..GenerateContentResponse::default()
        };
        // Serialising these plain structs cannot fail.
        if let Ok(json) = serde_json::to_vec(&chunk) {
            self.element(&json, out);
        }
    }

    /// The buffered calls as parts, the pending signature on the first.
    fn take_calls(&mut self) -> Vec<WirePart> {
        let mut parts: Vec<WirePart> = self
            .calls
            .drain(..)
            .map(|c| WirePart {
                function_call: Some(FunctionCall {
                    args: Some(args_object(&c.id, &c.args).unwrap_or_else(|_| json!({}))),
                    id: Some(c.id),
                    name: c.name,
                }),
                ..WirePart::default()
            })
            .collect();
        if let Some(first) = parts.first_mut() {
            first.thought_signature = self.signature.take();
        }
        parts
    }

    fn flush_calls(&mut self, out: &mut Vec<u8>) {
        let parts = self.take_calls();
        if !parts.is_empty() {
            self.chunk(parts, None, None, out);
        }
    }

    /// A signature nothing followed: an empty thought part carries it.
    fn signature_part(&mut self) -> Option<WirePart> {
        self.signature.take().map(|sig| WirePart {
            text: Some(String::new()),
            thought: Some(true),
            thought_signature: Some(sig),
            ..WirePart::default()
        })
    }

    fn flush_signature(&mut self, out: &mut Vec<u8>) {
        if let Some(part) = self.signature_part() {
            self.chunk(vec![part], None, None, out);
        }
    }
}

impl StreamEncoder for GeminiStreamEncoder {
    fn encode(&mut self, event: &StreamEvent, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        match event {
            StreamEvent::Start { id, model, .. } => {
                if self.id.is_none() && !id.is_empty() {
                    self.id = Some(id.clone());
                }
                self.model.clone_from(model);
            }
            StreamEvent::Text(text) => {
                if text.is_empty() {
                    return;
                }
                self.flush_calls(out);
                let part = WirePart {
                    text: Some(text.clone()),
                    thought_signature: self.signature.take(),
                    ..WirePart::default()
                };
                self.chunk(vec![part], None, None, out);
            }
            StreamEvent::Reasoning(text) => {
                if text.is_empty() {
                    return;
                }
                self.flush_calls(out);
                self.flush_signature(out);
                let part = WirePart {
                    text: Some(text.clone()),
                    thought: Some(true),
                    ..WirePart::default()
                };
                self.chunk(vec![part], None, None, out);
            }
            StreamEvent::ReasoningSignature(sig) => {
                self.flush_calls(out);
                self.flush_signature(out);
                self.signature = Some(sig.clone());
            }
            // Anthropic's redacted thinking has no Gemini form.
            StreamEvent::RedactedReasoning(_) => self.flush_calls(out),
            StreamEvent::ToolCallStart { index, id, name } => self.calls.push(PendingCall {
                index: *index,
                id: id.clone(),
                name: name.clone(),
                args: String::new(),
            }),
            StreamEvent::ToolCallArguments { index, delta } => {
                if let Some(call) = self.calls.iter_mut().rev().find(|c| c.index == *index) {
                    call.args.push_str(delta);
                }
            }
            StreamEvent::Usage(u) => self.usage = Some(*u),
            StreamEvent::Finish { reason, .. } => self.finish = Some(reason.clone()),
            StreamEvent::Error { message } => {
                self.flush_calls(out);
                self.flush_signature(out);
                let body =
                    json!({"error": {"code": 500, "message": message, "status": "INTERNAL"}});
                self.element(body.to_string().as_bytes(), out);
            }
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        self.done = true;
        let mut parts = self.take_calls();
        if parts.is_empty()
            && let Some(part) = self.signature_part()
        {
            parts.push(part);
        }
        let finish = self.finish.take();
        if finish.is_some() || self.usage.is_some() || !parts.is_empty() {
            if parts.is_empty() {
                parts.push(WirePart {
                    text: Some(String::new()),
                    ..WirePart::default()
                });
            }
            let usage = self.usage;
            self.chunk(parts, finish.as_ref().map(finish_to_wire), usage, out);
        }
        if !self.options.gemini_sse {
            if !self.opened {
                out.push(b'[');
            }
            out.push(b']');
        }
    }
}
