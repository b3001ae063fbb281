//! Encoding canonical [`StreamEvent`]s as a Responses event stream.
//!
//! `response.created` and `response.in_progress` open the stream; each
//! output item is announced (`response.output_item.added`), streamed
//! (text, summary or argument deltas inside their part events) and closed
//! (`response.output_item.done`); `response.completed` (or
//! `response.incomplete` / `response.failed`) ends it with the full
//! response object, output and usage included. Every event carries a
//! `sequence_number` counting from 0.

use serde_json::{Value, json};

use super::super::common::id_or_generated;
use super::super::{
    FinishReason, StreamEncoder, StreamEvent, StreamOptions, ToolAliases, Usage, unix_now,
};
use super::response::{message_item, reasoning_item, restore_namespace};
use super::wire::{
    WireError, WireIncompleteDetails, WireOutputContent, WireOutputItem, WireResponse,
};
use super::{ItemIds, echo_fields, status_for_finish, usage_to_wire};
use crate::sse::{self, SseEvent};

/// The output item being streamed.
#[derive(Debug)]
enum Open {
    Message {
        id: String,
        text: String,
    },
    Reasoning {
        id: String,
        text: String,
        /// A summary part has been announced.
        part: bool,
    },
    Call {
        id: String,
        index: u32,
        call_id: String,
        name: String,
        arguments: String,
    },
}

/// Encodes an OpenAI Responses stream.
#[derive(Debug)]
pub(crate) struct ResponsesStreamEncoder {
    seq: u64,
    started: bool,
    id: String,
    model: String,
    created: i64,
    ids: ItemIds,
    /// Closed output items.
    output: Vec<WireOutputItem>,
    open: Option<Open>,
    /// Tool-call index → position in `output` of closed calls.
    calls: Vec<(u32, usize)>,
    finish: Option<FinishReason>,
    usage: Option<Usage>,
    error: Option<String>,
    finished: bool,
    /// Flattened namespaced tools, written back in the client's form.
    aliases: ToolAliases,
}

impl ResponsesStreamEncoder {
    pub(crate) fn new(_options: StreamOptions) -> Self {
        ResponsesStreamEncoder {
            seq: 0,
            started: false,
            id: String::new(),
            model: String::new(),
            created: 0,
            ids: ItemIds::default(),
            output: Vec::new(),
            open: None,
            calls: Vec::new(),
            finish: None,
            usage: None,
            error: None,
            finished: false,
            aliases: ToolAliases::default(),
        }
    }

    fn emit(&mut self, kind: &str, mut payload: Value, out: &mut Vec<u8>) {
        if let Some(obj) = payload.as_object_mut() {
            obj.insert("type".into(), Value::String(kind.to_owned()));
            obj.insert("sequence_number".into(), Value::from(self.seq));
        }
        self.seq = self.seq.saturating_add(1);
        sse::encode(
            &SseEvent {
                event: Some(kind.to_owned()),
                data: payload.to_string(),
                ..SseEvent::default()
            },
            out,
        );
    }

    fn response_object(&self, status: &str) -> Value {
        let (incomplete, error) = match status {
            "incomplete" => (
                status_for_finish(self.finish.as_ref())
                    .1
                    .map(|r| WireIncompleteDetails { reason: Some(r) }),
                None,
            ),
            "failed" => (
                None,
                Some(WireError {
                    code: Some(Value::String("server_error".into())),
                    message: self.error.clone().unwrap_or_default(),
                }),
            ),
            _ => (None, None),
        };
        let in_progress = status == "in_progress";
        let wire = WireResponse {
            id: self.id.clone(),
            object: "response".into(),
            created_at: Some(self.created),
            status: Some(status.to_owned()),
            error,
            incomplete_details: incomplete,
            model: self.model.clone(),
            output: if in_progress {
                Vec::new()
            } else {
                self.output.clone()
            },
            usage: self
                .usage
                .as_ref()
                .filter(|_| !in_progress)
                .map(usage_to_wire),
            extra: echo_fields(),
        };
        serde_json::to_value(wire).unwrap_or(Value::Null)
    }

    fn start(&mut self, id: &str, model: &str, created: Option<i64>, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        self.id = id_or_generated(id, "resp_");
        self.ids = ItemIds::new(&self.id);
        self.model = model.to_owned();
        self.created = created.unwrap_or_else(unix_now);
        let response = self.response_object("in_progress");
        self.emit("response.created", json!({ "response": response }), out);
        self.emit("response.in_progress", json!({ "response": response }), out);
    }

    fn ensure_started(&mut self, out: &mut Vec<u8>) {
        if !self.started {
            self.start("", "", None, out);
        }
    }

    fn output_index(&self) -> usize {
        self.output.len()
    }

    fn open_message(&mut self, out: &mut Vec<u8>) {
        if matches!(self.open, Some(Open::Message { .. })) {
            return;
        }
        self.close(out);
        let n = self.output_index();
        let id = self.ids.id("msg", n);
        self.emit(
            "response.output_item.added",
            json!({
                "output_index": n,
                "item": {"id": id, "type": "message", "status": "in_progress",
                         "role": "assistant", "content": []},
            }),
            out,
        );
        self.emit(
            "response.content_part.added",
            json!({
                "item_id": id, "output_index": n, "content_index": 0,
                "part": {"type": "output_text", "text": "", "annotations": []},
            }),
            out,
        );
        self.open = Some(Open::Message {
            id,
            text: String::new(),
        });
    }

    fn open_reasoning(&mut self, out: &mut Vec<u8>) {
        if matches!(self.open, Some(Open::Reasoning { .. })) {
            return;
        }
        self.close(out);
        let n = self.output_index();
        let id = self.ids.id("rs", n);
        self.emit(
            "response.output_item.added",
            json!({
                "output_index": n,
                "item": {"id": id, "type": "reasoning", "summary": []},
            }),
            out,
        );
        self.open = Some(Open::Reasoning {
            id,
            text: String::new(),
            part: false,
        });
    }

    /// Closes the open item (a reasoning item with `signature` as its
    /// encrypted content).
    fn close_with(&mut self, signature: Option<String>, out: &mut Vec<u8>) {
        let Some(open) = self.open.take() else {
            return;
        };
        let n = self.output_index();
        let item = match open {
            Open::Message { id, text } => {
                self.emit(
                    "response.output_text.done",
                    json!({"item_id": id, "output_index": n, "content_index": 0,
                           "text": text, "logprobs": []}),
                    out,
                );
                self.emit(
                    "response.content_part.done",
                    json!({"item_id": id, "output_index": n, "content_index": 0,
                           "part": {"type": "output_text", "text": text, "annotations": []}}),
                    out,
                );
                message_item(
                    id,
                    vec![WireOutputContent::OutputText {
                        text,
                        annotations: Vec::new(),
                    }],
                )
            }
            Open::Reasoning { id, text, part } => {
                if part {
                    self.emit(
                        "response.reasoning_summary_text.done",
                        json!({"item_id": id, "output_index": n, "summary_index": 0,
                               "text": text}),
                        out,
                    );
                    self.emit(
                        "response.reasoning_summary_part.done",
                        json!({"item_id": id, "output_index": n, "summary_index": 0,
                               "part": {"type": "summary_text", "text": text}}),
                        out,
                    );
                }
                reasoning_item(id, text, signature)
            }
            Open::Call {
                id,
                index,
                call_id,
                name,
                arguments,
            } => {
                // A free-form tool's input arrives whole in the done item.
                if !self.is_custom(&name) {
                    self.emit(
                        "response.function_call_arguments.done",
                        json!({"item_id": id, "output_index": n, "arguments": arguments}),
                        out,
                    );
                }
                self.calls.push((index, n));
                let mut item = WireOutputItem::FunctionCall {
                    id,
                    call_id,
                    name,
                    namespace: None,
                    arguments,
                    status: Some("completed".into()),
                };
                restore_namespace(&mut item, &self.aliases);
                item
            }
        };
        let value = serde_json::to_value(&item).unwrap_or(Value::Null);
        self.emit(
            "response.output_item.done",
            json!({"output_index": n, "item": value}),
            out,
        );
        self.output.push(item);
    }

    fn close(&mut self, out: &mut Vec<u8>) {
        self.close_with(None, out);
    }
}

impl ResponsesStreamEncoder {
    /// `name` is a free-form tool the client sees as `custom_tool_call`.
    fn is_custom(&self, name: &str) -> bool {
        self.aliases.get(name).is_some_and(|a| a.custom)
    }
}

impl StreamEncoder for ResponsesStreamEncoder {
    fn set_tool_aliases(&mut self, aliases: ToolAliases) {
        self.aliases = aliases;
    }

    fn encode(&mut self, event: &StreamEvent, out: &mut Vec<u8>) {
        if self.finished {
            return;
        }
        if let StreamEvent::Start { id, model, created } = event {
            self.start(id, model, *created, out);
            return;
        }
        self.ensure_started(out);
        match event {
            StreamEvent::Start { .. } => {}
            StreamEvent::Text(delta) => {
                self.open_message(out);
                let n = self.output_index();
                if let Some(Open::Message { id, text }) = &mut self.open {
                    text.push_str(delta);
                    let id = id.clone();
                    self.emit(
                        "response.output_text.delta",
                        json!({"item_id": id, "output_index": n, "content_index": 0,
                               "delta": delta, "logprobs": []}),
                        out,
                    );
                }
            }
            StreamEvent::Reasoning(delta) => {
                self.open_reasoning(out);
                let n = self.output_index();
                if let Some(Open::Reasoning { id, text, part }) = &mut self.open {
                    text.push_str(delta);
                    let id = id.clone();
                    let announce = !*part;
                    *part = true;
                    if announce {
                        self.emit(
                            "response.reasoning_summary_part.added",
                            json!({"item_id": id, "output_index": n, "summary_index": 0,
                                   "part": {"type": "summary_text", "text": ""}}),
                            out,
                        );
                    }
                    self.emit(
                        "response.reasoning_summary_text.delta",
                        json!({"item_id": id, "output_index": n, "summary_index": 0,
                               "delta": delta}),
                        out,
                    );
                }
            }
            StreamEvent::ReasoningSignature(sig) => {
                self.open_reasoning(out);
                self.close_with(Some(sig.clone()), out);
            }
            // Responses has no redacted reasoning; another provider's
            // opaque blob would be useless to the client anyway.
            StreamEvent::RedactedReasoning(_) => {}
            StreamEvent::ToolCallStart { index, id, name } => {
                self.close(out);
                let n = self.output_index();
                let item_id = self.ids.id("fc", n);
                let mut item = WireOutputItem::FunctionCall {
                    id: item_id.clone(),
                    call_id: id.clone(),
                    name: name.clone(),
                    namespace: None,
                    arguments: String::new(),
                    status: Some("in_progress".into()),
                };
                restore_namespace(&mut item, &self.aliases);
                let item = serde_json::to_value(&item).unwrap_or(Value::Null);
                self.emit(
                    "response.output_item.added",
                    json!({"output_index": n, "item": item}),
                    out,
                );
                self.open = Some(Open::Call {
                    id: item_id,
                    index: *index,
                    call_id: id.clone(),
                    name: name.clone(),
                    arguments: String::new(),
                });
            }
            StreamEvent::ToolCallArguments { index, delta } => {
                let n = self.output_index();
                match &mut self.open {
                    Some(Open::Call {
                        id,
                        index: open,
                        arguments,
                        name,
                        ..
                    }) if open == index => {
                        arguments.push_str(delta);
                        let id = id.clone();
                        // A free-form tool's input arrives whole in the done item.
                        if !self.aliases.get(name).is_some_and(|a| a.custom) {
                            self.emit(
                                "response.function_call_arguments.delta",
                                json!({"item_id": id, "output_index": n, "delta": delta}),
                                out,
                            );
                        }
                    }
                    // A late piece for a closed call: it can only join the
                    // final response object.
                    _ => {
                        let at = self
                            .calls
                            .iter()
                            .rev()
                            .find(|(i, _)| i == index)
                            .map(|(_, at)| *at);
                        if let Some(WireOutputItem::FunctionCall { arguments, .. }) =
                            at.and_then(|at| self.output.get_mut(at))
                        {
                            arguments.push_str(delta);
                        }
                    }
                }
            }
            StreamEvent::Usage(u) => self.usage = Some(*u),
            StreamEvent::Finish { reason, .. } => self.finish = Some(reason.clone()),
            StreamEvent::Error { message } => {
                self.close(out);
                self.emit(
                    "error",
                    json!({"code": null, "message": message, "param": null}),
                    out,
                );
                self.error.get_or_insert_with(|| message.clone());
            }
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        if self.finished {
            return;
        }
        self.ensure_started(out);
        self.close(out);
        self.finished = true;
        let (event, status) = if self.error.is_some() {
            ("response.failed", "failed")
        } else {
            match status_for_finish(self.finish.as_ref()).0 {
                "incomplete" => ("response.incomplete", "incomplete"),
                _ => ("response.completed", "completed"),
            }
        };
        let response = self.response_object(status);
        self.emit(event, json!({ "response": response }), out);
    }
}
