//! Cross-protocol conversion through one canonical model.
//!
//! Each protocol converts its request, response and stream events to and
//! from [`model`]; any pair of protocols then converts through it, so four
//! protocols cost eight converters rather than twelve.
//!
//! The entry points dispatch on [`Protocol`]:
//! - requests: [`decode_request`] / [`encode_request`];
//! - complete responses: [`decode_response`] / [`encode_response`];
//! - streams: a [`StreamDecoder`] turns one upstream event's payload into
//!   canonical [`StreamEvent`]s, a [`StreamEncoder`] turns those into the
//!   client's wire bytes; [`Transcoder`] chains the two.
//! - a stream can be assembled into a [`Response`] ([`Assembler`]) and a
//!   response replayed as a stream ([`response_events`]).
//!
//! Converters never panic on any input: a malformed upstream event is a
//! [`ConvertError::Invalid`], a client request the target cannot express a
//! [`ConvertError::Unsupported`].

mod claude;
mod common;
mod gemini;
pub mod model;
mod openai_chat;
mod openai_responses;

pub use model::{
    FinishReason, ImageSource, Message, Part, ReasoningConfig, Request, Response, ResponseFormat,
    Role, StreamEvent, Tool, ToolAlias, ToolAliases, ToolChoice, Usage,
};

use crate::Protocol;

/// A conversion failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    /// The input is not valid for its protocol (malformed JSON, a missing
    /// required field, a wrong type). From a client: a 400; from an
    /// upstream: an invalid upstream answer.
    #[error("{0}")]
    Invalid(String),
    /// The input is valid but the target protocol cannot express it (an
    /// image URL where only inline images are accepted, a built-in tool).
    /// Always a 400 to the client, naming what could not be converted.
    #[error("{0}")]
    Unsupported(String),
}

impl ConvertError {
    /// An [`ConvertError::Invalid`] from a serde error, with what was parsed.
    pub fn json(what: &str, e: &serde_json::Error) -> Self {
        ConvertError::Invalid(format!("invalid {what}: {e}"))
    }
}

/// A fresh id for something the upstream did not name: `prefix` followed by
/// 24 hex digits from the clock and a process-wide counter, so ids never
/// repeat within a process. Converters derive ids from the upstream's own
/// (`{response id}_{index}`) where one exists and call this only otherwise.
pub fn generated_id(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    format!("{prefix}{:016x}{:08x}", nanos, n as u32)
}

/// The current Unix time in seconds (for `created` fields the upstream did
/// not supply).
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Options for encoding a stream in the client's protocol.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamOptions {
    /// OpenAI Chat: the client set `stream_options.include_usage`, so a
    /// final chunk with `choices: []` and `usage` is sent before `[DONE]`.
    pub include_usage: bool,
    /// Gemini: the client asked for `alt=sse` (SSE `data:` lines); without
    /// it the stream is a JSON array written element by element.
    pub gemini_sse: bool,
}

/// Turns one upstream stream event into canonical events.
///
/// `data` is one SSE event's `data` (or, for a Gemini JSON-array stream,
/// one array element). Decoders keep whatever state their protocol needs
/// (open blocks, tool-call indexes, ids) between calls.
pub trait StreamDecoder: Send {
    /// Decodes one upstream event, appending canonical events to `out`.
    fn feed(&mut self, data: &str, out: &mut Vec<StreamEvent>) -> Result<(), ConvertError>;
    /// The upstream stream ended; append anything still held.
    fn finish(&mut self, out: &mut Vec<StreamEvent>);
}

/// Turns canonical events into the client's wire bytes.
pub trait StreamEncoder: Send {
    /// Encodes one event, appending wire bytes (whole SSE events or JSON
    /// array elements) to `out`.
    fn encode(&mut self, event: &StreamEvent, out: &mut Vec<u8>);
    /// The stream ended: close open blocks and write the protocol's
    /// terminator (`[DONE]`, `message_stop`, `response.completed`, `]`).
    fn finish(&mut self, out: &mut Vec<u8>);
    /// The namespaced tools the request flattened: tool calls under a flat
    /// name are written back in the client's namespaced form (only
    /// Responses has namespaces; the others ignore it).
    fn set_tool_aliases(&mut self, _aliases: ToolAliases) {}
}

/// Parses a client request body in `protocol`.
pub fn decode_request(protocol: Protocol, body: &[u8]) -> Result<Request, ConvertError> {
    match protocol {
        Protocol::OpenAiChat => openai_chat::decode_request(body),
        Protocol::OpenAiResponses => openai_responses::decode_request(body),
        Protocol::Claude => claude::decode_request(body),
        Protocol::Gemini => gemini::decode_request(body),
    }
}

/// Writes `req` as a request body in `protocol`. For Gemini, the model and
/// the stream flag belong in the URL and are not written; Gemini's turn
/// rules are applied here.
pub fn encode_request(protocol: Protocol, req: &Request) -> Result<Vec<u8>, ConvertError> {
    match protocol {
        Protocol::OpenAiChat => openai_chat::encode_request(req),
        Protocol::OpenAiResponses => openai_responses::encode_request(req),
        Protocol::Claude => claude::encode_request(req),
        Protocol::Gemini => gemini::encode_request(req),
    }
}

/// Parses a complete upstream response body in `protocol`.
pub fn decode_response(protocol: Protocol, body: &[u8]) -> Result<Response, ConvertError> {
    match protocol {
        Protocol::OpenAiChat => openai_chat::decode_response(body),
        Protocol::OpenAiResponses => openai_responses::decode_response(body),
        Protocol::Claude => claude::decode_response(body),
        Protocol::Gemini => gemini::decode_response(body),
    }
}

/// Writes `resp` as a complete response body in `protocol`.
pub fn encode_response(protocol: Protocol, resp: &Response) -> Result<Vec<u8>, ConvertError> {
    encode_response_with(protocol, resp, &ToolAliases::default())
}

/// [`encode_response`] for a request whose namespaced tools were
/// flattened: calls under a flat name are written back in the client's
/// namespaced form.
pub fn encode_response_with(
    protocol: Protocol,
    resp: &Response,
    aliases: &ToolAliases,
) -> Result<Vec<u8>, ConvertError> {
    match protocol {
        Protocol::OpenAiChat => openai_chat::encode_response(resp),
        Protocol::OpenAiResponses => openai_responses::encode_response(resp, aliases),
        Protocol::Claude => claude::encode_response(resp),
        Protocol::Gemini => gemini::encode_response(resp),
    }
}

/// A decoder for an upstream stream in `protocol`.
pub fn stream_decoder(protocol: Protocol) -> Box<dyn StreamDecoder> {
    match protocol {
        Protocol::OpenAiChat => Box::new(openai_chat::ChatStreamDecoder::default()),
        Protocol::OpenAiResponses => Box::new(openai_responses::ResponsesStreamDecoder::default()),
        Protocol::Claude => Box::new(claude::ClaudeStreamDecoder::default()),
        Protocol::Gemini => Box::new(gemini::GeminiStreamDecoder::default()),
    }
}

/// An encoder for a client stream in `protocol`.
pub fn stream_encoder(protocol: Protocol, options: StreamOptions) -> Box<dyn StreamEncoder> {
    match protocol {
        Protocol::OpenAiChat => Box::new(openai_chat::ChatStreamEncoder::new(options)),
        Protocol::OpenAiResponses => {
            Box::new(openai_responses::ResponsesStreamEncoder::new(options))
        }
        Protocol::Claude => Box::new(claude::ClaudeStreamEncoder::new(options)),
        Protocol::Gemini => Box::new(gemini::GeminiStreamEncoder::new(options)),
    }
}

/// Converts an upstream stream into a client stream, one upstream event at
/// a time, and keeps the usage the upstream reported.
pub struct Transcoder {
    decoder: Box<dyn StreamDecoder>,
    encoder: Box<dyn StreamEncoder>,
    events: Vec<StreamEvent>,
    /// Replaces the model of the `Start` event (what the client should see).
    model: Option<String>,
    usage: Option<Usage>,
    finished: bool,
}

impl std::fmt::Debug for Transcoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transcoder")
            .field("model", &self.model)
            .field("usage", &self.usage)
            .finish_non_exhaustive()
    }
}

impl Transcoder {
    /// A transcoder from an upstream in `from` to a client in `to`.
    /// `model`, when set, is the model name the client sees.
    pub fn new(
        from: Protocol,
        to: Protocol,
        options: StreamOptions,
        model: Option<String>,
    ) -> Self {
        Transcoder {
            decoder: stream_decoder(from),
            encoder: stream_encoder(to, options),
            events: Vec::new(),
            model,
            usage: None,
            finished: false,
        }
    }

    /// Feeds one upstream event's data, appending client bytes to `out`.
    /// A malformed event is reported to the client as a stream error event
    /// and returned as the error.
    pub fn feed(&mut self, data: &str, out: &mut Vec<u8>) -> Result<(), ConvertError> {
        let result = self.decoder.feed(data, &mut self.events);
        if let Err(e) = &result {
            self.events.push(StreamEvent::Error {
                message: e.to_string(),
            });
        }
        self.flush(out);
        result
    }

    /// The upstream stream ended: appends the client's closing bytes.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.finished {
            return;
        }
        self.finished = true;
        self.decoder.finish(&mut self.events);
        self.flush(out);
        self.encoder.finish(out);
    }

    /// Writes tool calls under a flat name back in the client's
    /// namespaced form (see [`ToolAliases`]).
    pub fn with_tool_aliases(mut self, aliases: ToolAliases) -> Self {
        self.encoder.set_tool_aliases(aliases);
        self
    }

    /// The latest usage the upstream reported, normalised.
    pub fn usage(&self) -> Option<Usage> {
        self.usage
    }

    fn flush(&mut self, out: &mut Vec<u8>) {
        for mut event in self.events.drain(..) {
            match &mut event {
                StreamEvent::Start { model, .. } => {
                    if let Some(m) = &self.model {
                        model.clone_from(m);
                    }
                }
                StreamEvent::Usage(u) => self.usage = Some(*u),
                _ => {}
            }
            self.encoder.encode(&event, out);
        }
    }
}

/// Folds a canonical event stream into one [`Response`].
#[derive(Debug, Default)]
pub struct Assembler {
    resp: Response,
    /// Tool-call index → position in `resp.content`.
    calls: Vec<(u32, usize)>,
    /// The last part is a reasoning part that a signature has closed.
    reasoning_closed: bool,
    error: Option<String>,
}

impl Assembler {
    /// An empty assembler.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one event.
    pub fn push(&mut self, event: StreamEvent) {
        let content = &mut self.resp.content;
        match event {
            StreamEvent::Start { id, model, created } => {
                self.resp.id = id;
                self.resp.model = model;
                self.resp.created = created;
            }
            StreamEvent::Text(delta) => {
                if let Some(Part::Text { text }) = content.last_mut() {
                    text.push_str(&delta);
                } else {
                    content.push(Part::Text { text: delta });
                }
            }
            StreamEvent::Reasoning(delta) => match content.last_mut() {
                Some(Part::Reasoning {
                    text,
                    redacted: None,
                    ..
                }) if !self.reasoning_closed => text.push_str(&delta),
                _ => {
                    self.reasoning_closed = false;
                    content.push(Part::Reasoning {
                        text: delta,
                        signature: None,
                        redacted: None,
                    });
                }
            },
            StreamEvent::ReasoningSignature(sig) => {
                match content.last_mut() {
                    Some(Part::Reasoning {
                        signature: signature @ None,
                        redacted: None,
                        ..
                    }) if !self.reasoning_closed => *signature = Some(sig),
                    _ => content.push(Part::Reasoning {
                        text: String::new(),
                        signature: Some(sig),
                        redacted: None,
                    }),
                }
                self.reasoning_closed = true;
            }
            StreamEvent::RedactedReasoning(data) => {
                content.push(Part::Reasoning {
                    text: String::new(),
                    signature: None,
                    redacted: Some(data),
                });
                self.reasoning_closed = true;
            }
            StreamEvent::ToolCallStart { index, id, name } => {
                self.calls.push((index, content.len()));
                content.push(Part::ToolCall {
                    id,
                    name,
                    arguments: String::new(),
                });
            }
            StreamEvent::ToolCallArguments { index, delta } => {
                let at = self
                    .calls
                    .iter()
                    .rev()
                    .find(|(i, _)| *i == index)
                    .map(|(_, at)| *at);
                if let Some(Part::ToolCall { arguments, .. }) =
                    at.and_then(|at| content.get_mut(at))
                {
                    arguments.push_str(&delta);
                }
            }
            StreamEvent::Usage(u) => self.resp.usage = Some(u),
            StreamEvent::Finish {
                reason,
                stop_sequence,
            } => {
                self.resp.finish = Some(reason);
                self.resp.stop_sequence = stop_sequence;
            }
            StreamEvent::Error { message } => {
                self.error.get_or_insert(message);
            }
        }
        if !matches!(self.resp.content.last(), Some(Part::Reasoning { .. })) {
            self.reasoning_closed = false;
        }
    }

    /// The assembled response, or the first error the stream reported.
    pub fn finish(mut self) -> Result<Response, String> {
        if let Some(e) = self.error {
            return Err(e);
        }
        for part in &mut self.resp.content {
            if let Part::ToolCall { arguments, .. } = part
                && arguments.is_empty()
            {
                arguments.push_str("{}");
            }
        }
        Ok(self.resp)
    }
}

/// A complete response replayed as the canonical events of a stream.
pub fn response_events(resp: &Response) -> Vec<StreamEvent> {
    let mut out = vec![StreamEvent::Start {
        id: resp.id.clone(),
        model: resp.model.clone(),
        created: resp.created,
    }];
    let mut calls = 0u32;
    for part in &resp.content {
        match part {
            Part::Text { text } => out.push(StreamEvent::Text(text.clone())),
            Part::Reasoning {
                text,
                signature,
                redacted,
            } => {
                if let Some(data) = redacted {
                    out.push(StreamEvent::RedactedReasoning(data.clone()));
                    continue;
                }
                if !text.is_empty() {
                    out.push(StreamEvent::Reasoning(text.clone()));
                }
                if let Some(sig) = signature {
                    out.push(StreamEvent::ReasoningSignature(sig.clone()));
                }
            }
            Part::ToolCall {
                id,
                name,
                arguments,
            } => {
                out.push(StreamEvent::ToolCallStart {
                    index: calls,
                    id: id.clone(),
                    name: name.clone(),
                });
                out.push(StreamEvent::ToolCallArguments {
                    index: calls,
                    delta: arguments.clone(),
                });
                calls += 1;
            }
            // Not part of a model's output; nothing to replay.
            Part::Image { .. } | Part::ToolResult { .. } => {}
        }
    }
    if let Some(reason) = &resp.finish {
        out.push(StreamEvent::Finish {
            reason: reason.clone(),
            stop_sequence: resp.stop_sequence.clone(),
        });
    }
    if let Some(u) = resp.usage {
        out.push(StreamEvent::Usage(u));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Response {
        Response {
            id: "msg_1".into(),
            model: "m".into(),
            created: Some(1),
            content: vec![
                Part::Reasoning {
                    text: "think".into(),
                    signature: Some("sig".into()),
                    redacted: None,
                },
                Part::Reasoning {
                    text: String::new(),
                    signature: None,
                    redacted: Some("opaque".into()),
                },
                Part::text("hello"),
                Part::ToolCall {
                    id: "call_1".into(),
                    name: "f".into(),
                    arguments: "{\"a\":1}".into(),
                },
                Part::ToolCall {
                    id: "call_2".into(),
                    name: "g".into(),
                    arguments: "{}".into(),
                },
            ],
            finish: Some(FinishReason::ToolCalls),
            stop_sequence: None,
            usage: Some(Usage {
                input_tokens: 10,
                output_tokens: 5,
                ..Usage::default()
            }),
        }
    }

    #[test]
    fn replay_then_assemble_is_identity() {
        let resp = sample();
        let mut asm = Assembler::new();
        for e in response_events(&resp) {
            asm.push(e);
        }
        assert_eq!(asm.finish().unwrap(), resp);
    }

    #[test]
    fn assembler_joins_deltas_and_splits_blocks() {
        let mut asm = Assembler::new();
        for e in [
            StreamEvent::Reasoning("a".into()),
            StreamEvent::Reasoning("b".into()),
            StreamEvent::ReasoningSignature("s1".into()),
            StreamEvent::Reasoning("c".into()),
            StreamEvent::Text("x".into()),
            StreamEvent::Text("y".into()),
            StreamEvent::ToolCallStart {
                index: 0,
                id: "c0".into(),
                name: "f".into(),
            },
            StreamEvent::ToolCallStart {
                index: 1,
                id: "c1".into(),
                name: "g".into(),
            },
            StreamEvent::ToolCallArguments {
                index: 0,
                delta: "{\"q\":".into(),
            },
            StreamEvent::ToolCallArguments {
                index: 0,
                delta: "1}".into(),
            },
        ] {
            asm.push(e);
        }
        let resp = asm.finish().unwrap();
        assert_eq!(
            resp.content,
            vec![
                Part::Reasoning {
                    text: "ab".into(),
                    signature: Some("s1".into()),
                    redacted: None
                },
                Part::Reasoning {
                    text: "c".into(),
                    signature: None,
                    redacted: None
                },
                Part::text("xy"),
                Part::ToolCall {
                    id: "c0".into(),
                    name: "f".into(),
                    arguments: "{\"q\":1}".into()
                },
                Part::ToolCall {
                    id: "c1".into(),
                    name: "g".into(),
                    arguments: "{}".into()
                },
            ]
        );
    }

    #[test]
    fn generated_ids_do_not_repeat() {
        let a = generated_id("msg_");
        let b = generated_id("msg_");
        assert!(a.starts_with("msg_") && a.len() == 4 + 24);
        assert_ne!(a, b);
    }

    #[test]
    fn assembler_reports_a_stream_error() {
        let mut asm = Assembler::new();
        asm.push(StreamEvent::Text("x".into()));
        asm.push(StreamEvent::Error {
            message: "overloaded".into(),
        });
        assert_eq!(asm.finish().unwrap_err(), "overloaded");
    }
}
