//! Anthropic Messages streams: `message_start`, content blocks
//! (`content_block_start` / `_delta` / `_stop`), `message_delta`,
//! `message_stop`, `ping` and `error` events.

use serde_json::Value;

use super::super::common::id_or_generated;
use super::super::{
    ConvertError, FinishReason, StreamDecoder, StreamEncoder, StreamEvent, StreamOptions, Usage,
    generated_id,
};
use super::MESSAGE_ID_PREFIX;
use super::response::{decode_stop, decode_usage, encode_stop, encode_usage};
use super::wire::{
    ClaudeBlock, ClaudeDelta, ClaudeErrorBody, ClaudeMessageDelta, ClaudeResponse,
    ClaudeStreamEvent,
};
use crate::sse::{self, SseEvent};

/// Decodes an Anthropic Messages stream.
///
/// Tool calls are numbered by their order among `tool_use` blocks (not by
/// block index). Usage is emitted after `message_start` (input side) and
/// after each `message_delta`, merged with what `message_start` said, so
/// every [`StreamEvent::Usage`] is complete and normalised.
#[derive(Debug, Default)]
pub(in super::super) struct ClaudeStreamDecoder {
    started: bool,
    /// `(block index, tool-call index)` of every `tool_use` block so far.
    tool_blocks: Vec<(u32, u32)>,
    next_tool: u32,
    /// The latest usage, normalised.
    usage: Usage,
}

impl ClaudeStreamDecoder {
    fn ensure_started(&mut self, out: &mut Vec<StreamEvent>) {
        if !self.started {
            self.started = true;
            out.push(StreamEvent::Start {
                id: generated_id(MESSAGE_ID_PREFIX),
                model: String::new(),
                created: None,
            });
        }
    }

    fn block_start(
        &mut self,
        index: u32,
        kind: &str,
        block: ClaudeBlock,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), ConvertError> {
        match block {
            ClaudeBlock::Text { text } => {
                if !text.is_empty() {
                    out.push(StreamEvent::Text(text));
                }
            }
            ClaudeBlock::Thinking {
                thinking,
                signature,
            } => {
                if !thinking.is_empty() {
                    out.push(StreamEvent::Reasoning(thinking));
                }
                if let Some(sig) = signature.filter(|s| !s.is_empty()) {
                    out.push(StreamEvent::ReasoningSignature(sig));
                }
            }
            ClaudeBlock::RedactedThinking { data } => {
                out.push(StreamEvent::RedactedReasoning(data));
            }
            ClaudeBlock::ToolUse { id, name, input } => {
                let tool = self.next_tool;
                self.next_tool = self.next_tool.saturating_add(1);
                self.tool_blocks.push((index, tool));
                out.push(StreamEvent::ToolCallStart {
                    index: tool,
                    id,
                    name,
                });
                // The API starts with `input: {}`; anything else is carried.
                if matches!(&input, Value::Object(m) if !m.is_empty()) {
                    out.push(StreamEvent::ToolCallArguments {
                        index: tool,
                        delta: input.to_string(),
                    });
                }
            }
            ClaudeBlock::Image { .. } | ClaudeBlock::ToolResult { .. } | ClaudeBlock::Unknown => {
                return Err(ConvertError::Unsupported(format!(
                    "Anthropic stream content block type `{kind}` cannot be converted"
                )));
            }
        }
        Ok(())
    }

    fn block_delta(
        &mut self,
        index: u32,
        delta: ClaudeDelta,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), ConvertError> {
        match delta {
            ClaudeDelta::TextDelta { text } if !text.is_empty() => {
                out.push(StreamEvent::Text(text));
            }
            ClaudeDelta::ThinkingDelta { thinking } if !thinking.is_empty() => {
                out.push(StreamEvent::Reasoning(thinking));
            }
            ClaudeDelta::SignatureDelta { signature } if !signature.is_empty() => {
                out.push(StreamEvent::ReasoningSignature(signature));
            }
            ClaudeDelta::InputJsonDelta { partial_json } => {
                let tool = self
                    .tool_blocks
                    .iter()
                    .rev()
                    .find(|(block, _)| *block == index)
                    .map(|(_, tool)| *tool)
                    .ok_or_else(|| {
                        ConvertError::Invalid(format!(
                            "input_json_delta for content block {index}, which is not a tool_use block"
                        ))
                    })?;
                if !partial_json.is_empty() {
                    out.push(StreamEvent::ToolCallArguments {
                        index: tool,
                        delta: partial_json,
                    });
                }
            }
            _ => {}
        }
        Ok(())
    }
}

impl StreamDecoder for ClaudeStreamDecoder {
    fn feed(&mut self, data: &str, out: &mut Vec<StreamEvent>) -> Result<(), ConvertError> {
        if data.trim().is_empty() {
            return Ok(());
        }
        let event: ClaudeStreamEvent = serde_json::from_str(data)
            .map_err(|e| ConvertError::json("Anthropic stream event", &e))?;
        match event {
            ClaudeStreamEvent::MessageStart { message } => {
                if !self.started {
                    self.started = true;
                    out.push(StreamEvent::Start {
                        id: id_or_generated(&message.id, MESSAGE_ID_PREFIX),
                        model: message.model,
                        created: None,
                    });
                }
                if let Some(u) = message.usage {
                    self.usage = decode_usage(u, Usage::default());
                    out.push(StreamEvent::Usage(self.usage));
                }
            }
            ClaudeStreamEvent::ContentBlockStart {
                index,
                content_block,
            } => {
                self.ensure_started(out);
                self.block_start(index, &content_block.kind, content_block.block, out)?;
            }
            ClaudeStreamEvent::ContentBlockDelta { index, delta } => {
                self.ensure_started(out);
                self.block_delta(index, delta, out)?;
            }
            ClaudeStreamEvent::MessageDelta { delta, usage } => {
                self.ensure_started(out);
                if let Some(reason) = delta.stop_reason.as_deref() {
                    let (reason, stop_sequence) = decode_stop(reason, delta.stop_sequence);
                    out.push(StreamEvent::Finish {
                        reason,
                        stop_sequence,
                    });
                }
                if let Some(u) = usage {
                    self.usage = decode_usage(u, self.usage);
                    out.push(StreamEvent::Usage(self.usage));
                }
            }
            ClaudeStreamEvent::Error { error } => {
                let message = if error.message.is_empty() {
                    error.kind
                } else {
                    error.message
                };
                out.push(StreamEvent::Error { message });
            }
            ClaudeStreamEvent::ContentBlockStop { .. }
            | ClaudeStreamEvent::MessageStop
            | ClaudeStreamEvent::Ping
            | ClaudeStreamEvent::Unknown => {}
        }
        Ok(())
    }

    fn finish(&mut self, _out: &mut Vec<StreamEvent>) {}
}

/// The content block the encoder has open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Text,
    Thinking,
    Tool,
}

/// Encodes an Anthropic Messages stream.
///
/// `message_start` is written when the first content arrives, so a usage
/// reported right after the start (as Anthropic upstreams do) is in it;
/// otherwise it carries zero input tokens. The stop reason and the final
/// usage are held until [`StreamEncoder::finish`] and written together in
/// `message_delta`, whose usage carries every field (input, cache, output).
#[derive(Debug)]
pub(in super::super) struct ClaudeStreamEncoder {
    /// The `Start` not yet written: `(id, model)`.
    pending_start: Option<(String, String)>,
    started: bool,
    open: Option<(Open, u32)>,
    next_block: u32,
    /// `(tool-call index, block index)` of every tool_use block.
    tool_blocks: Vec<(u32, u32)>,
    usage: Option<Usage>,
    finish: Option<(FinishReason, Option<String>)>,
    /// An error was written: the stream is over.
    errored: bool,
    done: bool,
}

impl ClaudeStreamEncoder {
    pub(in super::super) fn new(_options: StreamOptions) -> Self {
        ClaudeStreamEncoder {
            pending_start: None,
            started: false,
            open: None,
            next_block: 0,
            tool_blocks: Vec::new(),
            usage: None,
            finish: None,
            errored: false,
            done: false,
        }
    }

    fn write(name: &str, event: &ClaudeStreamEvent, out: &mut Vec<u8>) {
        // Serialising these types cannot fail (string keys only).
        if let Ok(data) = serde_json::to_string(event) {
            sse::encode(
                &SseEvent {
                    event: Some(name.to_owned()),
                    data,
                    ..SseEvent::default()
                },
                out,
            );
        }
    }

    fn ensure_started(&mut self, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        let (id, model) = self
            .pending_start
            .take()
            .unwrap_or_else(|| (generated_id(MESSAGE_ID_PREFIX), String::new()));
        let usage = self.usage.unwrap_or_default();
        let message = ClaudeResponse {
            id,
            kind: "message".into(),
            role: "assistant".into(),
            model,
            content: Vec::new(),
            stop_reason: None,
            stop_sequence: None,
            usage: Some(encode_usage(&usage)),
            extra: serde_json::Map::new(),
        };
        Self::write(
            "message_start",
            &ClaudeStreamEvent::MessageStart { message },
            out,
        );
    }

    fn close(&mut self, out: &mut Vec<u8>) {
        if let Some((_, index)) = self.open.take() {
            Self::write(
                "content_block_stop",
                &ClaudeStreamEvent::ContentBlockStop { index },
                out,
            );
        }
    }

    /// Closes the open block and opens `block` as the next one.
    fn open(&mut self, kind: Open, block: ClaudeBlock, out: &mut Vec<u8>) -> u32 {
        self.close(out);
        let index = self.next_block;
        self.next_block = self.next_block.saturating_add(1);
        Self::write(
            "content_block_start",
            &ClaudeStreamEvent::ContentBlockStart {
                index,
                content_block: block.into(),
            },
            out,
        );
        self.open = Some((kind, index));
        index
    }

    /// The index of the open block of `kind`, opening one if needed.
    fn ensure_open(&mut self, kind: Open, out: &mut Vec<u8>) -> u32 {
        match self.open {
            Some((k, index)) if k == kind => index,
            _ => {
                let block = match kind {
                    Open::Thinking => ClaudeBlock::Thinking {
                        thinking: String::new(),
                        signature: Some(String::new()),
                    },
                    _ => ClaudeBlock::Text {
                        text: String::new(),
                    },
                };
                self.open(kind, block, out)
            }
        }
    }

    fn delta(index: u32, delta: ClaudeDelta, out: &mut Vec<u8>) {
        Self::write(
            "content_block_delta",
            &ClaudeStreamEvent::ContentBlockDelta { index, delta },
            out,
        );
    }
}

impl StreamEncoder for ClaudeStreamEncoder {
    fn encode(&mut self, event: &StreamEvent, out: &mut Vec<u8>) {
        if self.done || self.errored {
            return;
        }
        match event {
            StreamEvent::Start { id, model, .. } => {
                if !self.started && self.pending_start.is_none() {
                    self.pending_start = Some((id.clone(), model.clone()));
                }
            }
            StreamEvent::Usage(u) => self.usage = Some(*u),
            StreamEvent::Finish {
                reason,
                stop_sequence,
            } => self.finish = Some((reason.clone(), stop_sequence.clone())),
            StreamEvent::Error { message } => {
                self.errored = true;
                let kind = if message.to_ascii_lowercase().contains("overloaded") {
                    "overloaded_error"
                } else {
                    "api_error"
                };
                let error = ClaudeErrorBody {
                    kind: kind.into(),
                    message: message.clone(),
                };
                Self::write("error", &ClaudeStreamEvent::Error { error }, out);
            }
            StreamEvent::Text(text) => {
                if text.is_empty() {
                    return;
                }
                self.ensure_started(out);
                let index = self.ensure_open(Open::Text, out);
                Self::delta(index, ClaudeDelta::TextDelta { text: text.clone() }, out);
            }
            StreamEvent::Reasoning(text) => {
                if text.is_empty() {
                    return;
                }
                self.ensure_started(out);
                let index = self.ensure_open(Open::Thinking, out);
                let delta = ClaudeDelta::ThinkingDelta {
                    thinking: text.clone(),
                };
                Self::delta(index, delta, out);
            }
            StreamEvent::ReasoningSignature(signature) => {
                self.ensure_started(out);
                let index = self.ensure_open(Open::Thinking, out);
                let delta = ClaudeDelta::SignatureDelta {
                    signature: signature.clone(),
                };
                Self::delta(index, delta, out);
                self.close(out);
            }
            StreamEvent::RedactedReasoning(data) => {
                self.ensure_started(out);
                let block = ClaudeBlock::RedactedThinking { data: data.clone() };
                // Whole in its start event; no deltas.
                self.open(Open::Text, block, out);
                self.close(out);
            }
            StreamEvent::ToolCallStart { index, id, name } => {
                self.ensure_started(out);
                let block = ClaudeBlock::ToolUse {
                    id: id.clone(),
                    name: name.clone(),
                    input: Value::Object(serde_json::Map::new()),
                };
                let block_index = self.open(Open::Tool, block, out);
                self.tool_blocks.push((*index, block_index));
            }
            StreamEvent::ToolCallArguments { index, delta } => {
                if delta.is_empty() {
                    return;
                }
                // Arguments for a call whose block was closed still go to
                // that block's index (clients accumulate by index).
                let Some(block) = self
                    .tool_blocks
                    .iter()
                    .rev()
                    .find(|(tool, _)| tool == index)
                    .map(|(_, block)| *block)
                else {
                    return;
                };
                let delta = ClaudeDelta::InputJsonDelta {
                    partial_json: delta.clone(),
                };
                Self::delta(block, delta, out);
            }
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        self.done = true;
        if self.errored {
            return;
        }
        self.ensure_started(out);
        self.close(out);
        let (stop_reason, stop_sequence) = match &self.finish {
            None => (None, None),
            Some((reason, seq)) => {
                let seq = match reason {
                    FinishReason::Stop => seq.clone(),
                    _ => None,
                };
                (Some(encode_stop(reason, seq.as_deref()).to_owned()), seq)
            }
        };
        let event = ClaudeStreamEvent::MessageDelta {
            delta: ClaudeMessageDelta {
                stop_reason,
                stop_sequence,
            },
            usage: Some(encode_usage(&self.usage.unwrap_or_default())),
        };
        Self::write("message_delta", &event, out);
        Self::write("message_stop", &ClaudeStreamEvent::MessageStop, out);
    }
}
