//! OpenAI Responses converter: golden fixtures, round trips, errors and properties.
#![cfg(test)]

use gproxy_protocol::Protocol;
use gproxy_protocol::convert::{
    ConvertError, FinishReason, ImageSource, Message, Part, ReasoningConfig, Request, Response,
    ResponseFormat, Role, StreamEvent, StreamOptions, Tool, ToolChoice, Usage, decode_request,
    decode_response, encode_request, encode_response, stream_decoder, stream_encoder,
};
use gproxy_protocol::sse::{SseDecoder, SseEvent};
use proptest::prelude::*;
use serde_json::{Value, json};

const P: Protocol = Protocol::OpenAiResponses;
const DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/convert/openai_responses"
);

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{DIR}/{name}")).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Compares `actual` with a committed expected file; `GPROXY_BLESS=1`
/// rewrites the file instead.
fn assert_golden_json(name: &str, actual: &Value) {
    let path = format!("{DIR}/{name}");
    if std::env::var_os("GPROXY_BLESS").is_some() {
        let text = serde_json::to_string_pretty(actual).unwrap() + "\n";
        std::fs::write(&path, text).unwrap();
        return;
    }
    let expected: Value = serde_json::from_slice(&fixture(name)).unwrap();
    assert_eq!(actual, &expected, "{name}");
}

fn assert_golden_sse(name: &str, actual: &[u8]) {
    let path = format!("{DIR}/{name}");
    if std::env::var_os("GPROXY_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = sse_events(&fixture(name));
    let actual = sse_events(actual);
    assert_eq!(actual.len(), expected.len(), "{name}: event count");
    for (i, (a, e)) in actual.iter().zip(&expected).enumerate() {
        assert_eq!(a.event, e.event, "{name}: event {i} name");
        let a: Value = serde_json::from_str(&a.data).unwrap();
        let e: Value = serde_json::from_str(&e.data).unwrap();
        assert_eq!(a, e, "{name}: event {i}");
    }
}

/// Splits SSE bytes into events, fed in 7-byte chunks.
fn sse_events(bytes: &[u8]) -> Vec<SseEvent> {
    let mut decoder = SseDecoder::new();
    let mut out = Vec::new();
    for chunk in bytes.chunks(7) {
        decoder.feed(chunk, &mut out);
    }
    out.extend(decoder.finish());
    out
}

fn decode_stream(bytes: &[u8]) -> Vec<StreamEvent> {
    let mut decoder = stream_decoder(P);
    let mut out = Vec::new();
    for event in sse_events(bytes) {
        decoder.feed(&event.data, &mut out).unwrap();
    }
    decoder.finish(&mut out);
    out
}

fn encode_stream(events: &[StreamEvent]) -> Vec<u8> {
    let mut encoder = stream_encoder(P, StreamOptions::default());
    let mut out = Vec::new();
    for e in events {
        encoder.encode(e, &mut out);
    }
    encoder.finish(&mut out);
    out
}

fn text(t: &str) -> Part {
    Part::text(t)
}

fn user(parts: Vec<Part>) -> Message {
    Message {
        role: Role::User,
        content: parts,
    }
}

fn assistant(parts: Vec<Part>) -> Message {
    Message {
        role: Role::Assistant,
        content: parts,
    }
}

fn call(id: &str, name: &str, args: &str) -> Part {
    Part::ToolCall {
        id: id.into(),
        name: name.into(),
        arguments: args.into(),
    }
}

fn result(call_id: &str, t: &str) -> Part {
    Part::ToolResult {
        call_id: call_id.into(),
        name: None,
        content: vec![text(t)],
        is_error: false,
    }
}

fn usage(input: u64, output: u64, reasoning: u64) -> Usage {
    Usage {
        input_tokens: input,
        output_tokens: output,
        reasoning_tokens: reasoning,
        ..Usage::default()
    }
}

fn weather_tool() -> Tool {
    Tool {
        name: "get_weather".into(),
        description: Some("Current weather for a city".into()),
        parameters: json!({"type":"object","properties":{"city":{"type":"string"},
            "unit":{"type":"string","enum":["c","f"]}},"required":["city"]}),
        strict: None,
    }
}

fn request_text() -> Request {
    Request {
        model: "test-model".into(),
        system: vec!["You are a terse assistant.".into()],
        messages: vec![user(vec![text("Say hello in French.")])],
        max_tokens: Some(256),
        temperature: Some(0.2),
        top_p: Some(0.9),
        ..Request::default()
    }
}

fn request_tools() -> Request {
    Request {
        model: "test-model".into(),
        messages: vec![
            user(vec![text("What's the weather in Paris and Tokyo?")]),
            assistant(vec![
                text("Let me check."),
                call("call_paris", "get_weather", r#"{"city":"Paris"}"#),
                call("call_tokyo", "get_weather", r#"{"city":"Tokyo"}"#),
            ]),
            user(vec![
                result("call_paris", "18C, sunny"),
                // Responses has no error flag on tool output.
                result("call_tokyo", "service unavailable"),
            ]),
            user(vec![text("Thanks!")]),
        ],
        tools: vec![weather_tool()],
        tool_choice: Some(ToolChoice::Auto),
        ..Request::default()
    }
}

fn request_thinking() -> Request {
    Request {
        model: "test-model".into(),
        messages: vec![
            user(vec![text("What is 27*43?")]),
            assistant(vec![
                Part::Reasoning {
                    text: "Multiply 27 by 43.".into(),
                    signature: Some("sig-abc".into()),
                    redacted: None,
                },
                call("call_calc", "calc", r#"{"expr":"27*43"}"#),
            ]),
            user(vec![result("call_calc", "1161")]),
        ],
        tools: vec![Tool {
            name: "calc".into(),
            description: None,
            parameters: json!({"type":"object","properties":{"expr":{"type":"string"}},
                "required":["expr"]}),
            strict: None,
        }],
        max_tokens: Some(4096),
        reasoning: Some(ReasoningConfig {
            effort: Some("low".into()),
            budget_tokens: None,
            include_thoughts: Some(true),
        }),
        ..Request::default()
    }
}

fn request_image() -> Request {
    Request {
        model: "test-model".into(),
        messages: vec![
            user(vec![
                text("What is in this image?"),
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
        ],
        ..Request::default()
    }
}

const CREATED: i64 = 1741290958;

fn response_text() -> Response {
    Response {
        id: "resp_text1".into(),
        model: "test-model".into(),
        created: Some(CREATED),
        content: vec![text("Bonjour !")],
        finish: Some(FinishReason::Stop),
        stop_sequence: None,
        usage: Some(usage(21, 4, 0)),
    }
}

fn response_tools() -> Response {
    Response {
        id: "resp_tools1".into(),
        model: "test-model".into(),
        created: Some(CREATED),
        content: vec![
            call("call_paris", "get_weather", r#"{"city":"Paris"}"#),
            call("call_tokyo", "get_weather", r#"{"city":"Tokyo"}"#),
        ],
        finish: Some(FinishReason::ToolCalls),
        stop_sequence: None,
        usage: Some(usage(80, 30, 0)),
    }
}

fn response_thinking() -> Response {
    Response {
        id: "resp_think1".into(),
        model: "test-model".into(),
        created: Some(CREATED),
        content: vec![
            Part::Reasoning {
                text: "27*43 = 1161".into(),
                signature: Some("sig-abc".into()),
                redacted: None,
            },
            text("1161."),
        ],
        finish: Some(FinishReason::Stop),
        stop_sequence: None,
        usage: Some(usage(15, 40, 25)),
    }
}

fn start(id: &str) -> StreamEvent {
    StreamEvent::Start {
        id: id.into(),
        model: "test-model".into(),
        created: Some(CREATED),
    }
}

fn finish(reason: FinishReason) -> StreamEvent {
    StreamEvent::Finish {
        reason,
        stop_sequence: None,
    }
}

fn stream_text() -> Vec<StreamEvent> {
    vec![
        start("resp_text1"),
        StreamEvent::Text("Bon".into()),
        StreamEvent::Text("jour !".into()),
        finish(FinishReason::Stop),
        StreamEvent::Usage(usage(21, 4, 0)),
    ]
}

fn args(index: u32, delta: &str) -> StreamEvent {
    StreamEvent::ToolCallArguments {
        index,
        delta: delta.into(),
    }
}

fn stream_tools() -> Vec<StreamEvent> {
    vec![
        start("resp_tools1"),
        StreamEvent::ToolCallStart {
            index: 0,
            id: "call_paris".into(),
            name: "get_weather".into(),
        },
        args(0, r#"{"city":"#),
        args(0, r#""Paris"}"#),
        StreamEvent::ToolCallStart {
            index: 1,
            id: "call_tokyo".into(),
            name: "get_weather".into(),
        },
        args(1, r#"{"ci"#),
        args(1, r#"ty":"Tokyo"}"#),
        finish(FinishReason::ToolCalls),
        StreamEvent::Usage(usage(80, 30, 0)),
    ]
}

fn stream_thinking() -> Vec<StreamEvent> {
    vec![
        start("resp_think1"),
        StreamEvent::Reasoning("27*43".into()),
        StreamEvent::Reasoning(" = 1161".into()),
        StreamEvent::ReasoningSignature("sig-abc".into()),
        StreamEvent::Text("1161".into()),
        StreamEvent::Text(".".into()),
        finish(FinishReason::Stop),
        StreamEvent::Usage(usage(15, 40, 25)),
    ]
}

fn requests() -> [(&'static str, Request); 4] {
    [
        ("text", request_text()),
        ("tools", request_tools()),
        ("thinking", request_thinking()),
        ("image", request_image()),
    ]
}

fn responses() -> [(&'static str, Response); 3] {
    [
        ("tools", response_tools()),
        ("thinking", response_thinking()),
        ("text", response_text()),
    ]
}

fn streams() -> [(&'static str, Vec<StreamEvent>); 3] {
    [
        ("text", stream_text()),
        ("tools", stream_tools()),
        ("thinking", stream_thinking()),
    ]
}

#[test]
fn request_fixtures_decode() {
    for (case, expected) in requests() {
        let got = decode_request(P, &fixture(&format!("request_{case}.json"))).unwrap();
        assert_eq!(got, expected, "request_{case}");
    }
}

#[test]
fn requests_encode_to_golden_json() {
    for (case, req) in requests() {
        let body: Value = serde_json::from_slice(&encode_request(P, &req).unwrap()).unwrap();
        assert_golden_json(&format!("request_{case}.encoded.json"), &body);
    }
}

/// Tool strictness is written explicitly (Responses defaults to strict).
fn strict_explicit(mut req: Request) -> Request {
    for t in &mut req.tools {
        t.strict.get_or_insert(false);
    }
    req
}

#[test]
fn requests_round_trip() {
    for (case, req) in requests() {
        let back = decode_request(P, &encode_request(P, &req).unwrap()).unwrap();
        assert_eq!(back, strict_explicit(req), "request_{case}");
    }
}

#[test]
fn response_fixtures_decode() {
    for (case, expected) in responses() {
        let got = decode_response(P, &fixture(&format!("response_{case}.json"))).unwrap();
        assert_eq!(got, expected, "response_{case}");
    }
}

#[test]
fn responses_encode_to_golden_json() {
    for (case, resp) in responses() {
        let body: Value = serde_json::from_slice(&encode_response(P, &resp).unwrap()).unwrap();
        assert_golden_json(&format!("response_{case}.encoded.json"), &body);
    }
}

#[test]
fn responses_round_trip() {
    for (case, resp) in responses() {
        let back = decode_response(P, &encode_response(P, &resp).unwrap()).unwrap();
        assert_eq!(back, resp, "response_{case}");
    }
}

#[test]
fn stream_fixtures_decode() {
    for (case, expected) in streams() {
        let got = decode_stream(&fixture(&format!("stream_{case}.sse")));
        assert_eq!(got, expected, "stream_{case}");
    }
}

#[test]
fn streams_encode_to_golden_sse() {
    for (case, events) in streams() {
        assert_golden_sse(&format!("stream_{case}.encoded.sse"), &encode_stream(&events));
    }
}

#[test]
fn streams_round_trip() {
    for (case, events) in streams() {
        assert_eq!(decode_stream(&encode_stream(&events)), events, "stream_{case}");
    }
}
