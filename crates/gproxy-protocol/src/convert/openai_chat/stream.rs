//! `chat.completion.chunk` streams ↔ canonical [`StreamEvent`]s.

use serde_json::json;

use super::response::{decode_finish, decode_usage, derived_call_id, encode_finish, encode_usage};
use super::wire::{
    ChatChunk, ChatChunkChoiceOut, ChatChunkOut, ChatDelta, ChatDeltaOut, ChatFunctionDeltaOut,
    ChatToolCallDeltaOut,
};
use crate::convert::common::id_or_generated;
use crate::convert::{
    ConvertError, StreamDecoder, StreamEncoder, StreamEvent, StreamOptions, Usage,
};
use crate::sse::{self, SseEvent};

/// A tool call the decoder has announced.
#[derive(Debug)]
struct CallSlot {
    /// The upstream's `tool_calls[].index`.
    upstream: u32,
    /// The upstream's call id (to spot a new call reusing an index).
    id: String,
    /// The canonical index.
    index: u32,
}

/// Decodes a Chat Completions stream: `[DONE]` is ignored, the usage chunk
/// becomes [`StreamEvent::Usage`], an `{"error": ..}` event a
/// [`StreamEvent::Error`]. Only choice 0 is read.
#[derive(Debug, Default)]
pub(in crate::convert) struct ChatStreamDecoder {
    started: bool,
    id: String,
    calls: Vec<CallSlot>,
    next_call: u32,
}

impl StreamDecoder for ChatStreamDecoder {
    fn feed(&mut self, data: &str, out: &mut Vec<StreamEvent>) -> Result<(), ConvertError> {
        let data = data.trim();
        if data.is_empty() || data == "[DONE]" {
            return Ok(());
        }
        let chunk: ChatChunk = serde_json::from_str(data)
            .map_err(|e| ConvertError::json("chat completion chunk", &e))?;
        if let Some(err) = chunk.error.filter(|e| !e.is_null()) {
            let message = err
                .get("message")
                .and_then(|m| m.as_str())
                .map_or_else(|| err.to_string(), str::to_string);
            out.push(StreamEvent::Error { message });
            return Ok(());
        }
        let empty = chunk.choices.as_ref().is_none_or(Vec::is_empty) && chunk.usage.is_none();
        if !self.started && empty && chunk.id.as_deref().is_none_or(str::is_empty) {
            // Azure's leading `prompt_filter_results` chunk: no id, no model,
            // nothing canonical. Start with the first real chunk.
            return Ok(());
        }
        if !self.started {
            self.started = true;
            self.id = chunk
                .id
                .filter(|id| !id.is_empty())
                .unwrap_or_else(|| crate::convert::generated_id("chatcmpl-"));
            out.push(StreamEvent::Start {
                id: self.id.clone(),
                model: chunk.model.unwrap_or_default(),
                created: chunk.created.filter(|c| *c > 0),
            });
        }
        for choice in chunk.choices.unwrap_or_default() {
            if choice.index != 0 {
                continue;
            }
            if let Some(delta) = choice.delta {
                self.delta(delta, out)?;
            }
            if let Some(reason) = choice.finish_reason.filter(|r| !r.is_empty()) {
                out.push(StreamEvent::Finish {
                    reason: decode_finish(&reason),
                    stop_sequence: None,
                });
            }
        }
        if let Some(u) = chunk.usage {
            out.push(StreamEvent::Usage(decode_usage(u)));
        }
        Ok(())
    }

    fn finish(&mut self, _out: &mut Vec<StreamEvent>) {}
}

impl ChatStreamDecoder {
    fn delta(&mut self, delta: ChatDelta, out: &mut Vec<StreamEvent>) -> Result<(), ConvertError> {
        // DeepSeek says `reasoning_content`, OpenRouter `reasoning`; some
        // upstreams send both with the same text.
        if let Some(r) = delta
            .reasoning_content
            .filter(|r| !r.is_empty())
            .or(delta.reasoning.filter(|r| !r.is_empty()))
        {
            out.push(StreamEvent::Reasoning(r));
        }
        if let Some(t) = delta.content.filter(|t| !t.is_empty()) {
            out.push(StreamEvent::Text(t));
        }
        if let Some(t) = delta.refusal.filter(|t| !t.is_empty()) {
            out.push(StreamEvent::Text(t));
        }
        for (pos, call) in delta.tool_calls.unwrap_or_default().into_iter().enumerate() {
            if let Some(kind) = call.kind.as_deref().filter(|k| *k != "function") {
                return Err(ConvertError::Unsupported(format!(
                    "tool call type `{kind}` cannot be converted"
                )));
            }
            let upstream = call
                .index
                .unwrap_or_else(|| u32::try_from(pos).unwrap_or(u32::MAX));
            let function = call.function.unwrap_or_default();
            self.call_delta(upstream, call.id, function.name, function.arguments, out);
        }
        if let Some(f) = delta.function_call {
            // Legacy streams carry one unnamed call.
            self.call_delta(u32::MAX, None, f.name, f.arguments, out);
        }
        Ok(())
    }

    fn call_delta(
        &mut self,
        upstream: u32,
        id: Option<String>,
        name: Option<String>,
        arguments: Option<String>,
        out: &mut Vec<StreamEvent>,
    ) {
        let id = id.filter(|id| !id.is_empty());
        let known = self.calls.iter().rev().find(|s| s.upstream == upstream);
        let index = match known {
            Some(slot) if id.as_ref().is_none_or(|id| *id == slot.id) => slot.index,
            _ => {
                let index = self.next_call;
                self.next_call = self.next_call.saturating_add(1);
                let id = id.unwrap_or_else(|| derived_call_id(&self.id, index as usize));
                self.calls.push(CallSlot {
                    upstream,
                    id: id.clone(),
                    index,
                });
                out.push(StreamEvent::ToolCallStart {
                    index,
                    id,
                    name: name.unwrap_or_default(),
                });
                index
            }
        };
        if let Some(delta) = arguments.filter(|a| !a.is_empty()) {
            out.push(StreamEvent::ToolCallArguments { index, delta });
        }
    }
}

/// Encodes canonical events as `chat.completion.chunk`s. The Finish is held
/// until [`StreamEncoder::finish`], which writes the finish chunk, the usage
/// chunk (when `include_usage`) and `data: [DONE]`.
#[derive(Debug)]
pub(in crate::convert) struct ChatStreamEncoder {
    options: StreamOptions,
    started: bool,
    id: String,
    model: String,
    created: i64,
    finish: Option<&'static str>,
    usage: Option<Usage>,
    errored: bool,
    done: bool,
}

impl ChatStreamEncoder {
    pub(in crate::convert) fn new(options: StreamOptions) -> Self {
        Self {
            options,
            started: false,
            id: String::new(),
            model: String::new(),
            created: 0,
            finish: None,
            usage: None,
            errored: false,
            done: false,
        }
    }

    fn start(&mut self, id: &str, model: &str, created: Option<i64>, out: &mut Vec<u8>) {
        self.started = true;
        self.id = id_or_generated(id, "chatcmpl-");
        self.model = model.to_string();
        self.created = created.unwrap_or_else(crate::convert::unix_now);
        let delta = ChatDeltaOut {
            role: Some("assistant"),
            content: Some(String::new()),
            refusal: Some(None),
            ..ChatDeltaOut::default()
        };
        self.chunk(delta, None, out);
    }

    fn ensure_started(&mut self, out: &mut Vec<u8>) {
        if !self.started {
            self.start("", "", None, out);
        }
    }

    fn chunk(&self, delta: ChatDeltaOut, finish: Option<&'static str>, out: &mut Vec<u8>) {
        let chunk = ChatChunkOut {
            id: &self.id,
            object: "chat.completion.chunk",
            created: self.created,
            model: &self.model,
            choices: vec![ChatChunkChoiceOut {
                index: 0,
                delta,
                logprobs: None,
                finish_reason: finish,
            }],
            usage: self.options.include_usage.then_some(None),
        };
        write(&chunk, out);
    }

    fn call_chunk(&self, call: ChatToolCallDeltaOut, out: &mut Vec<u8>) {
        let delta = ChatDeltaOut {
            tool_calls: Some(vec![call]),
            ..ChatDeltaOut::default()
        };
        self.chunk(delta, None, out);
    }
}

fn write<T: serde::Serialize>(value: &T, out: &mut Vec<u8>) {
    // Serialising these plain structs cannot fail; an empty data line is
    // the harmless fallback.
    let data = serde_json::to_string(value).unwrap_or_default();
    sse::encode(
        &SseEvent {
            data,
            ..SseEvent::default()
        },
        out,
    );
}

impl StreamEncoder for ChatStreamEncoder {
    fn encode(&mut self, event: &StreamEvent, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        match event {
            StreamEvent::Start { id, model, created } => {
                if !self.started {
                    self.start(id, model, *created, out);
                }
            }
            StreamEvent::Text(text) => {
                self.ensure_started(out);
                if !text.is_empty() {
                    let delta = ChatDeltaOut {
                        content: Some(text.clone()),
                        ..ChatDeltaOut::default()
                    };
                    self.chunk(delta, None, out);
                }
            }
            StreamEvent::Reasoning(text) => {
                self.ensure_started(out);
                if !text.is_empty() {
                    let delta = ChatDeltaOut {
                        reasoning_content: Some(text.clone()),
                        ..ChatDeltaOut::default()
                    };
                    self.chunk(delta, None, out);
                }
            }
            // Chat has no place for reasoning signatures or redacted reasoning.
            StreamEvent::ReasoningSignature(_) | StreamEvent::RedactedReasoning(_) => {
                self.ensure_started(out);
            }
            StreamEvent::ToolCallStart { index, id, name } => {
                self.ensure_started(out);
                let id = if id.is_empty() {
                    derived_call_id(&self.id, *index as usize)
                } else {
                    id.clone()
                };
                let call = ChatToolCallDeltaOut {
                    index: *index,
                    id: Some(id),
                    kind: Some("function"),
                    function: ChatFunctionDeltaOut {
                        name: Some(name.clone()),
                        arguments: String::new(),
                    },
                };
                self.call_chunk(call, out);
            }
            StreamEvent::ToolCallArguments { index, delta } => {
                self.ensure_started(out);
                if !delta.is_empty() {
                    let call = ChatToolCallDeltaOut {
                        index: *index,
                        id: None,
                        kind: None,
                        function: ChatFunctionDeltaOut {
                            name: None,
                            arguments: delta.clone(),
                        },
                    };
                    self.call_chunk(call, out);
                }
            }
            StreamEvent::Usage(u) => self.usage = Some(*u),
            StreamEvent::Finish { reason, .. } => self.finish = Some(encode_finish(reason)),
            StreamEvent::Error { message } => {
                self.errored = true;
                let body = json!({
                    "error": {
                        "message": message,
                        "type": "api_error",
                        "param": null,
                        "code": null,
                    }
                });
                write(&body, out);
            }
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        if !self.errored {
            self.ensure_started(out);
        }
        self.done = true;
        if let Some(reason) = self.finish {
            self.chunk(ChatDeltaOut::default(), Some(reason), out);
        }
        if self.options.include_usage
            && let Some(u) = &self.usage
        {
            let chunk = ChatChunkOut {
                id: &self.id,
                object: "chat.completion.chunk",
                created: self.created,
                model: &self.model,
                choices: Vec::new(),
                usage: Some(Some(encode_usage(u))),
            };
            write(&chunk, out);
        }
        out.extend_from_slice(sse::DONE);
    }
}
