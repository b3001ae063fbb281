//! Decoding a Responses event stream into canonical [`StreamEvent`]s.

use super::super::{ConvertError, StreamDecoder, StreamEvent, generated_id};
use super::request::reasoning_text;
use super::wire::{WireOutputContent, WireOutputItem, WireResponse, WireStreamEvent};
use super::{finish_from_status, usage_from_wire};

/// What an output item is, as far as the decoder cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ItemKind {
    Message,
    Reasoning,
    /// A function call with its canonical tool-call index.
    Call(u32),
    Other,
}

#[derive(Debug)]
struct ItemState {
    output_index: u64,
    kind: ItemKind,
    /// A delta (or a `*.done` standing in for one) carried its content.
    emitted: bool,
    /// The summary part a reasoning delta last came from.
    summary_index: u64,
    /// That summary part's text has been emitted.
    part_emitted: bool,
}

impl ItemState {
    fn new(output_index: u64, kind: ItemKind) -> Self {
        ItemState {
            output_index,
            kind,
            emitted: false,
            summary_index: 0,
            part_emitted: false,
        }
    }

    /// Moves to summary part `index`, separating it from earlier parts the
    /// way a complete response's summary is joined.
    fn summary_part(&mut self, index: u64, out: &mut Vec<StreamEvent>) {
        if index != self.summary_index {
            if self.emitted {
                out.push(StreamEvent::Reasoning("\n\n".into()));
            }
            self.summary_index = index;
            self.part_emitted = false;
        }
    }
}

/// Decodes an OpenAI Responses stream.
#[derive(Debug, Default)]
pub(crate) struct ResponsesStreamDecoder {
    started: bool,
    items: Vec<ItemState>,
    calls: u32,
    finished: bool,
    scratch: ItemState,
}

impl Default for ItemState {
    fn default() -> Self {
        ItemState::new(0, ItemKind::Other)
    }
}

impl ResponsesStreamDecoder {
    fn start(&mut self, response: Option<&WireResponse>, out: &mut Vec<StreamEvent>) {
        if self.started {
            return;
        }
        self.started = true;
        let (id, model, created) = match response {
            Some(r) if !r.id.is_empty() => (r.id.clone(), r.model.clone(), r.created_at),
            Some(r) => (generated_id("resp_"), r.model.clone(), r.created_at),
            None => (generated_id("resp_"), String::new(), None),
        };
        out.push(StreamEvent::Start { id, model, created });
    }

    fn item(&mut self, output_index: u64) -> Option<&mut ItemState> {
        self.items
            .iter_mut()
            .rev()
            .find(|i| i.output_index == output_index)
    }

    /// The item at `output_index`, registered with `kind` if unseen.
    fn item_or(&mut self, output_index: u64, kind: ItemKind) -> &mut ItemState {
        if !self.items.iter().any(|i| i.output_index == output_index) {
            self.items.push(ItemState::new(output_index, kind));
        }
        match self
            .items
            .iter_mut()
            .rev()
            .find(|i| i.output_index == output_index)
        {
            Some(state) => state,
            // Unreachable (just pushed); keeps this panic-free.
            None => &mut self.scratch,
        }
    }

    /// The tool-call index of the function-call item at `output_index`.
    fn call_index(&mut self, output_index: u64) -> Option<u32> {
        match self.item(output_index).map(|i| i.kind) {
            Some(ItemKind::Call(n)) => Some(n),
            _ => None,
        }
    }

    fn open_call(&mut self, output_index: u64, id: String, name: String) -> (u32, StreamEvent) {
        let index = self.calls;
        self.calls = self.calls.saturating_add(1);
        self.items
            .push(ItemState::new(output_index, ItemKind::Call(index)));
        (index, StreamEvent::ToolCallStart { index, id, name })
    }

    fn finish_event(&mut self, response: WireResponse, out: &mut Vec<StreamEvent>) {
        let has_calls = self.calls > 0
            || response
                .output
                .iter()
                .any(|i| matches!(i, WireOutputItem::FunctionCall { .. }));
        let reason = response.incomplete_details.and_then(|d| d.reason);
        if !self.finished {
            self.finished = true;
            out.push(StreamEvent::Finish {
                reason: finish_from_status(
                    response.status.as_deref(),
                    reason.as_deref(),
                    has_calls,
                ),
                stop_sequence: None,
            });
        }
        if let Some(u) = &response.usage {
            out.push(StreamEvent::Usage(usage_from_wire(u)));
        }
    }

    fn item_done(&mut self, output_index: u64, item: WireOutputItem, out: &mut Vec<StreamEvent>) {
        match item {
            WireOutputItem::Message { content, .. } => {
                let state = self.item_or(output_index, ItemKind::Message);
                if !state.emitted {
                    state.emitted = true;
                    for part in content {
                        match part {
                            WireOutputContent::OutputText { text, .. }
                            | WireOutputContent::Refusal { refusal: text } => {
                                if !text.is_empty() {
                                    out.push(StreamEvent::Text(text));
                                }
                            }
                            WireOutputContent::Unknown => {}
                        }
                    }
                }
            }
            WireOutputItem::Reasoning {
                summary,
                content,
                encrypted_content,
                ..
            } => {
                let state = self.item_or(output_index, ItemKind::Reasoning);
                if !state.emitted {
                    state.emitted = true;
                    let text = reasoning_text(&summary, content.as_deref());
                    if !text.is_empty() {
                        out.push(StreamEvent::Reasoning(text));
                    }
                }
                if let Some(sig) = encrypted_content {
                    out.push(StreamEvent::ReasoningSignature(sig));
                }
            }
            WireOutputItem::FunctionCall {
                call_id,
                name,
                arguments,
                ..
            } => {
                let index = match self.call_index(output_index) {
                    Some(i) => i,
                    None => {
                        let (i, start) = self.open_call(output_index, call_id, name);
                        out.push(start);
                        i
                    }
                };
                let state = self.item_or(output_index, ItemKind::Call(index));
                if !state.emitted {
                    state.emitted = true;
                    if !arguments.is_empty() {
                        out.push(StreamEvent::ToolCallArguments {
                            index,
                            delta: arguments,
                        });
                    }
                }
            }
            WireOutputItem::CustomToolCall { .. } | WireOutputItem::Unknown => {}
        }
    }
}

impl StreamDecoder for ResponsesStreamDecoder {
    fn feed(&mut self, data: &str, out: &mut Vec<StreamEvent>) -> Result<(), ConvertError> {
        let data = data.trim();
        if data.is_empty() || data == "[DONE]" {
            return Ok(());
        }
        let event: WireStreamEvent =
            serde_json::from_str(data).map_err(|e| ConvertError::json("Responses event", &e))?;
        match event {
            WireStreamEvent::Created { response }
            | WireStreamEvent::Queued { response }
            | WireStreamEvent::InProgress { response } => self.start(Some(&response), out),
            WireStreamEvent::Completed { response } | WireStreamEvent::Incomplete { response } => {
                self.start(Some(&response), out);
                self.finish_event(response, out);
            }
            WireStreamEvent::Failed { response } => {
                self.start(Some(&response), out);
                let message = response
                    .error
                    .map(|e| e.message)
                    .filter(|m| !m.is_empty())
                    .unwrap_or_else(|| "the response failed".into());
                out.push(StreamEvent::Error { message });
            }
            WireStreamEvent::Error { message, error, .. } => {
                self.start(None, out);
                let message = message
                    .or(error.map(|e| e.message))
                    .filter(|m| !m.is_empty())
                    .unwrap_or_else(|| "upstream stream error".into());
                out.push(StreamEvent::Error { message });
            }
            WireStreamEvent::OutputItemAdded { output_index, item } => {
                self.start(None, out);
                match item {
                    WireOutputItem::FunctionCall {
                        call_id,
                        name,
                        arguments,
                        ..
                    } => {
                        let (index, start) = self.open_call(output_index, call_id, name);
                        out.push(start);
                        if !arguments.is_empty() {
                            self.item_or(output_index, ItemKind::Call(index)).emitted = true;
                            out.push(StreamEvent::ToolCallArguments {
                                index,
                                delta: arguments,
                            });
                        }
                    }
                    WireOutputItem::Message { .. } => {
                        self.item_or(output_index, ItemKind::Message);
                    }
                    WireOutputItem::Reasoning { .. } => {
                        self.item_or(output_index, ItemKind::Reasoning);
                    }
                    WireOutputItem::CustomToolCall { .. } | WireOutputItem::Unknown => {
                        self.item_or(output_index, ItemKind::Other);
                    }
                }
            }
            WireStreamEvent::OutputItemDone { output_index, item } => {
                self.start(None, out);
                self.item_done(output_index, item, out);
            }
            WireStreamEvent::OutputTextDelta {
                output_index,
                delta,
            }
            | WireStreamEvent::RefusalDelta {
                output_index,
                delta,
            } => {
                self.start(None, out);
                self.item_or(output_index, ItemKind::Message).emitted = true;
                out.push(StreamEvent::Text(delta));
            }
            WireStreamEvent::OutputTextDone { output_index, text }
            | WireStreamEvent::RefusalDone {
                output_index,
                refusal: text,
            } => {
                self.start(None, out);
                let state = self.item_or(output_index, ItemKind::Message);
                if !state.emitted {
                    state.emitted = true;
                    out.push(StreamEvent::Text(text));
                }
            }
            WireStreamEvent::ArgumentsDelta {
                output_index,
                delta,
            } => {
                self.start(None, out);
                let index = self.call_index(output_index).ok_or_else(|| {
                    ConvertError::Invalid(format!(
                        "invalid Responses event: arguments for output item {output_index}, \
                         which is not a function call"
                    ))
                })?;
                self.item_or(output_index, ItemKind::Call(index)).emitted = true;
                out.push(StreamEvent::ToolCallArguments { index, delta });
            }
            WireStreamEvent::ArgumentsDone {
                output_index,
                arguments,
            } => {
                self.start(None, out);
                if let Some(index) = self.call_index(output_index) {
                    let state = self.item_or(output_index, ItemKind::Call(index));
                    if !state.emitted {
                        state.emitted = true;
                        out.push(StreamEvent::ToolCallArguments {
                            index,
                            delta: arguments,
                        });
                    }
                }
            }
            WireStreamEvent::SummaryPartAdded {
                output_index,
                summary_index,
            } => {
                self.start(None, out);
                self.item_or(output_index, ItemKind::Reasoning)
                    .summary_part(summary_index, out);
            }
            WireStreamEvent::SummaryTextDelta {
                output_index,
                summary_index,
                delta,
            } => {
                self.start(None, out);
                let state = self.item_or(output_index, ItemKind::Reasoning);
                state.summary_part(summary_index, out);
                state.part_emitted = true;
                state.emitted = true;
                out.push(StreamEvent::Reasoning(delta));
            }
            WireStreamEvent::ReasoningTextDelta {
                output_index,
                delta,
            } => {
                self.start(None, out);
                self.item_or(output_index, ItemKind::Reasoning).emitted = true;
                out.push(StreamEvent::Reasoning(delta));
            }
            WireStreamEvent::SummaryTextDone {
                output_index,
                summary_index,
                text,
            } => {
                self.start(None, out);
                let state = self.item_or(output_index, ItemKind::Reasoning);
                state.summary_part(summary_index, out);
                if !state.part_emitted {
                    state.part_emitted = true;
                    state.emitted = true;
                    out.push(StreamEvent::Reasoning(text));
                }
            }
            WireStreamEvent::ReasoningTextDone { output_index, text } => {
                self.start(None, out);
                let state = self.item_or(output_index, ItemKind::Reasoning);
                if !state.emitted {
                    state.emitted = true;
                    out.push(StreamEvent::Reasoning(text));
                }
            }
            WireStreamEvent::Unknown => {}
        }
        Ok(())
    }

    fn finish(&mut self, _out: &mut Vec<StreamEvent>) {}
}
