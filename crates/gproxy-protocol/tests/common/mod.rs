//! Helpers shared by the per-protocol converter tests (`convert_*.rs`):
//! fixtures, SSE splitting, running stream decoders and encoders, golden
//! comparisons, canonical-value builders and proptest strategies.
//!
//! Each test file compiles this module on its own; helpers that not every
//! file uses carry `#[allow(dead_code)]`.

use gproxy_protocol::Protocol;
use gproxy_protocol::convert::{
    ConvertError, FinishReason, ImageSource, Message, Part, Request, Response, Role, StreamEvent,
    StreamOptions, Tool, Usage, stream_decoder, stream_encoder,
};
use gproxy_protocol::sse::{SseDecoder, SseEvent};
use proptest::prelude::*;
use serde_json::{Value, json};

/// `tests/fixtures/convert/<protocol>/<name>`.
pub fn fixture_path(protocol: Protocol, name: &str) -> String {
    format!(
        "{}/tests/fixtures/convert/{}/{name}",
        env!("CARGO_MANIFEST_DIR"),
        protocol.as_str()
    )
}

/// The bytes of a converter fixture of `protocol`.
pub fn fixture(protocol: Protocol, name: &str) -> Vec<u8> {
    let path = fixture_path(protocol, name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A recorded upstream capture: `tests/fixtures/<name>`.
#[allow(dead_code)]
pub fn capture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A converter fixture of `protocol`, parsed as JSON.
#[allow(dead_code)]
pub fn json_fixture(protocol: Protocol, name: &str) -> Value {
    json_of(&fixture(protocol, name))
}

/// `bytes` parsed as JSON.
#[allow(dead_code)]
pub fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

/// Every request fixture, in case order.
#[allow(dead_code)]
pub const REQUEST_FIXTURES: [&str; 4] = [
    "request_text.json",
    "request_tools.json",
    "request_thinking.json",
    "request_image.json",
];

/// Every stream transcript fixture, in case order.
pub const STREAM_FIXTURES: [&str; 3] =
    ["stream_text.sse", "stream_tools.sse", "stream_thinking.sse"];

// ---------- SSE and streams ----------

/// Replaces values the encoders generate from the clock.
#[allow(dead_code)]
pub fn normalise(mut v: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for (k, val) in map.iter_mut() {
                    if (k == "created" || k == "created_at") && val.is_number() {
                        *val = json!(0);
                    } else {
                        walk(val);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut v);
    v
}

/// A stream's output as one JSON value: a list of `{event, data}` (SSE)
/// or the elements of a JSON-array stream.
#[allow(dead_code)]
pub fn stream_value(bytes: &[u8]) -> Value {
    if bytes.trim_ascii_start().starts_with(b"[") {
        return serde_json::from_slice(bytes).unwrap_or_else(|e| json!({"invalid": e.to_string()}));
    }
    let mut decoder = SseDecoder::new();
    let mut events = Vec::new();
    decoder.feed(bytes, &mut events).unwrap();
    events.extend(decoder.finish());
    Value::Array(
        events
            .into_iter()
            .map(|e| {
                let data = serde_json::from_str(&e.data).unwrap_or(Value::String(e.data));
                json!({"event": e.event, "data": data})
            })
            .collect(),
    )
}

/// The SSE events of `bytes`, fed to the decoder in 7-byte chunks.
pub fn sse_events(bytes: &[u8]) -> Vec<SseEvent> {
    let mut decoder = SseDecoder::new();
    let mut out = Vec::new();
    for chunk in bytes.chunks(7) {
        decoder.feed(chunk, &mut out).unwrap();
    }
    out.extend(decoder.finish());
    out
}

/// The `data` of every SSE event of `bytes` (7-byte chunks).
pub fn sse_data(bytes: &[u8]) -> Vec<String> {
    sse_events(bytes).into_iter().map(|e| e.data).collect()
}

/// Every `data` payload of `protocol`'s stream fixtures, for mutation.
pub fn stream_fixture_payloads(protocol: Protocol) -> Vec<String> {
    STREAM_FIXTURES
        .iter()
        .flat_map(|name| sse_data(&fixture(protocol, name)))
        .collect()
}

/// Runs `protocol`'s stream decoder over `payloads` (each must decode) and
/// finishes it.
pub fn decode_payloads<S: AsRef<str>>(
    protocol: Protocol,
    payloads: impl IntoIterator<Item = S>,
) -> Vec<StreamEvent> {
    let mut decoder = stream_decoder(protocol);
    let mut out = Vec::new();
    for p in payloads {
        decoder.feed(p.as_ref(), &mut out).unwrap();
    }
    decoder.finish(&mut out);
    out
}

/// Decodes an SSE transcript of `protocol` (fed in 7-byte chunks).
#[allow(dead_code)]
pub fn decode_sse(protocol: Protocol, bytes: &[u8]) -> Vec<StreamEvent> {
    decode_payloads(protocol, sse_data(bytes))
}

/// Runs `protocol`'s stream encoder over `events` and finishes it.
pub fn encode_stream_with(
    protocol: Protocol,
    options: StreamOptions,
    events: &[StreamEvent],
) -> Vec<u8> {
    let mut encoder = stream_encoder(protocol, options);
    let mut out = Vec::new();
    for e in events {
        encoder.encode(e, &mut out);
    }
    encoder.finish(&mut out);
    out
}

/// Compares two SSE streams event by event: the same count, the same event
/// names and, as JSON, the same data.
#[allow(dead_code)]
pub fn assert_sse_eq(name: &str, actual: &[u8], expected: &[u8]) {
    let a = sse_events(actual);
    let e = sse_events(expected);
    assert_eq!(
        a.len(),
        e.len(),
        "{name}: event count\n{}",
        String::from_utf8_lossy(actual)
    );
    for (i, (x, y)) in a.iter().zip(&e).enumerate() {
        assert_eq!(x.event, y.event, "{name}: event {i} name");
        let xv: Value = serde_json::from_str(&x.data).unwrap();
        let yv: Value = serde_json::from_str(&y.data).unwrap();
        assert_eq!(xv, yv, "{name}: event {i} ({:?})", x.event);
    }
}

/// Asserts that `result` is [`ConvertError::Unsupported`] naming `needle`.
#[allow(dead_code)]
pub fn unsupported(result: Result<impl std::fmt::Debug, ConvertError>, needle: &str) {
    match result {
        Err(ConvertError::Unsupported(m)) => assert!(m.contains(needle), "{m}"),
        other => panic!("expected Unsupported containing {needle:?}, got {other:?}"),
    }
}

// ---------- canonical values ----------

#[allow(dead_code)]
pub fn text(t: &str) -> Part {
    Part::text(t)
}

pub fn user(content: Vec<Part>) -> Message {
    Message {
        role: Role::User,
        content,
    }
}

pub fn assistant(content: Vec<Part>) -> Message {
    Message {
        role: Role::Assistant,
        content,
    }
}

pub fn call(id: &str, name: &str, arguments: &str) -> Part {
    Part::ToolCall {
        id: id.into(),
        name: name.into(),
        arguments: arguments.into(),
    }
}

/// A tool result with one text part.
pub fn result(call_id: &str, name: Option<&str>, t: &str, is_error: bool) -> Part {
    Part::ToolResult {
        call_id: call_id.into(),
        name: name.map(Into::into),
        content: vec![Part::text(t)],
        is_error,
    }
}

pub fn reasoning(t: &str, signature: Option<&str>) -> Part {
    Part::Reasoning {
        text: t.into(),
        signature: signature.map(Into::into),
        redacted: None,
    }
}

pub fn usage(input: u64, output: u64, reasoning: u64) -> Usage {
    Usage {
        input_tokens: input,
        output_tokens: output,
        reasoning_tokens: reasoning,
        ..Usage::default()
    }
}

/// A stream's `Start` with the fixtures' model and no `created`.
#[allow(dead_code)]
pub fn start(id: &str) -> StreamEvent {
    start_at(id, None)
}

/// A stream's `Start` with the fixtures' model.
pub fn start_at(id: &str, created: Option<i64>) -> StreamEvent {
    StreamEvent::Start {
        id: id.into(),
        model: "test-model".into(),
        created,
    }
}

/// A `Finish` without a stop sequence.
pub fn finish(reason: FinishReason) -> StreamEvent {
    StreamEvent::Finish {
        reason,
        stop_sequence: None,
    }
}

/// The `text` case's stream after its `start`: "Bonjour !" in two deltas,
/// a natural stop and the usage.
pub fn text_events(start: StreamEvent) -> Vec<StreamEvent> {
    vec![
        start,
        StreamEvent::Text("Bon".into()),
        StreamEvent::Text("jour !".into()),
        finish(FinishReason::Stop),
        StreamEvent::Usage(usage(21, 4, 0)),
    ]
}

/// A `ToolCallStart`.
pub fn call_start(index: u32, id: &str, name: &str) -> StreamEvent {
    StreamEvent::ToolCallStart {
        index,
        id: id.into(),
        name: name.into(),
    }
}

/// A `ToolCallArguments` delta.
pub fn args(index: u32, delta: &str) -> StreamEvent {
    StreamEvent::ToolCallArguments {
        index,
        delta: delta.into(),
    }
}

/// The `get_weather` tool of the `tools` case.
pub fn weather_tool() -> Tool {
    Tool {
        name: "get_weather".into(),
        description: Some("Current weather for a city".into()),
        parameters: json!({"type":"object","properties":{"city":{"type":"string"},
            "unit":{"type":"string","enum":["c","f"]}},"required":["city"]}),
        strict: None,
    }
}

/// The `calc` tool of the `thinking` case.
pub fn calc_tool() -> Tool {
    Tool {
        name: "calc".into(),
        description: None,
        parameters: json!({"type":"object","properties":{"expr":{"type":"string"}},
            "required":["expr"]}),
        strict: None,
    }
}

/// The `text` case's request (each protocol drops what it cannot carry).
pub fn text_request() -> Request {
    Request {
        model: "test-model".into(),
        system: vec!["You are a terse assistant.".into()],
        messages: vec![user(vec![Part::text("Say hello in French.")])],
        max_tokens: Some(256),
        temperature: Some(0.2),
        top_p: Some(0.9),
        stop: vec!["END".into()],
        ..Request::default()
    }
}

/// The two weather calls of the `tools` case (request history and response).
pub fn weather_calls() -> [Part; 2] {
    [
        call("call_paris", "get_weather", r#"{"city":"Paris"}"#),
        call("call_tokyo", "get_weather", r#"{"city":"Tokyo"}"#),
    ]
}

/// The first two messages of the `tools` case: the question and the
/// assistant's two calls.
pub fn weather_question_and_calls() -> [Message; 2] {
    let [paris, tokyo] = weather_calls();
    [
        user(vec![Part::text("What's the weather in Paris and Tokyo?")]),
        assistant(vec![Part::text("Let me check."), paris, tokyo]),
    ]
}

/// A response of the fixtures' model without a stop sequence.
fn response(
    id: &str,
    created: Option<i64>,
    content: Vec<Part>,
    finish: FinishReason,
    usage: Usage,
) -> Response {
    Response {
        id: id.into(),
        model: "test-model".into(),
        created,
        content,
        finish: Some(finish),
        stop_sequence: None,
        usage: Some(usage),
    }
}

/// The `text` case's response.
pub fn text_response(id: &str, created: Option<i64>) -> Response {
    let content = vec![Part::text("Bonjour !")];
    response(id, created, content, FinishReason::Stop, usage(21, 4, 0))
}

/// The `tools` case's response: the two weather calls.
pub fn tools_response(id: &str, created: Option<i64>) -> Response {
    let content = weather_calls().into();
    response(
        id,
        created,
        content,
        FinishReason::ToolCalls,
        usage(80, 30, 0),
    )
}

/// The `thinking` case's response: reasoning (with `signature`), then the
/// answer; `reasoning_tokens` as the protocol reports them.
pub fn thinking_response(
    id: &str,
    created: Option<i64>,
    signature: Option<&str>,
    reasoning_tokens: u64,
) -> Response {
    let content = vec![reasoning("27*43 = 1161", signature), Part::text("1161.")];
    let u = usage(15, 40, reasoning_tokens);
    response(id, created, content, FinishReason::Stop, u)
}

/// The messages of the `image` case: an inline PNG, then an image URL.
pub fn image_messages() -> Vec<Message> {
    vec![
        user(vec![
            Part::text("What is in this image?"),
            Part::Image {
                source: ImageSource::Base64 {
                    media_type: "image/png".into(),
                    data: "iVBORw0KGgo=".into(),
                },
            },
        ]),
        user(vec![Part::Image {
            source: ImageSource::Url {
                url: "https://example.com/cat.png".into(),
            },
        }]),
    ]
}

// ---------- properties ----------

/// What a protocol's [`StreamEvent`] strategy draws from: the text of
/// every string field, and the strategies of the fields whose range differs
/// between protocols.
pub struct EventStrategy {
    /// Regex for every string (ids, names, texts, deltas, reasons).
    pub text: &'static str,
    pub created: BoxedStrategy<Option<i64>>,
    pub call_index: BoxedStrategy<u32>,
    pub arguments_index: BoxedStrategy<u32>,
    pub usage: BoxedStrategy<Usage>,
    pub stop_sequence: BoxedStrategy<Option<String>>,
}

impl EventStrategy {
    /// Any canonical stream event, each variant equally likely.
    pub fn events(self) -> impl Strategy<Value = StreamEvent> {
        let text = self.text;
        let reason = prop_oneof![
            Just(FinishReason::Stop),
            Just(FinishReason::Length),
            Just(FinishReason::ToolCalls),
            Just(FinishReason::ContentFilter),
            text.prop_map(FinishReason::Other),
        ];
        prop_oneof![
            (text, text, self.created).prop_map(|(id, model, created)| StreamEvent::Start {
                id,
                model,
                created
            }),
            text.prop_map(StreamEvent::Text),
            text.prop_map(StreamEvent::Reasoning),
            text.prop_map(StreamEvent::ReasoningSignature),
            text.prop_map(StreamEvent::RedactedReasoning),
            (self.call_index, text, text)
                .prop_map(|(index, id, name)| { StreamEvent::ToolCallStart { index, id, name } }),
            (self.arguments_index, text)
                .prop_map(|(index, delta)| StreamEvent::ToolCallArguments { index, delta }),
            self.usage.prop_map(StreamEvent::Usage),
            (reason, self.stop_sequence).prop_map(|(reason, stop_sequence)| {
                StreamEvent::Finish {
                    reason,
                    stop_sequence,
                }
            }),
            text.prop_map(|message| StreamEvent::Error { message }),
        ]
    }
}
