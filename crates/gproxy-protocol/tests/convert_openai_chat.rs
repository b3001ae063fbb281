//! OpenAI Chat Completions converter: golden fixtures, round trips, errors and property tests.
#![cfg(test)]

mod common;

use common::{
    EventStrategy, args, assistant, calc_tool, call, call_start, decode_sse, encode_stream_with,
    finish, fixture_path, image_messages, json_of, sse_events, start_at, stream_fixture_payloads,
    text_events, text_request as request_text, usage, user, weather_question_and_calls,
    weather_tool,
};
use gproxy_protocol::Protocol;
use gproxy_protocol::convert::{
    ConvertError, FinishReason, ImageSource, Part, ReasoningConfig, Request, Response,
    ResponseFormat, StreamEvent, StreamOptions, Tool, ToolChoice, Transcoder, Usage,
    decode_request, decode_response, encode_request, encode_response, stream_decoder,
};
use proptest::prelude::*;
use serde_json::{Value, json};

const P: Protocol = Protocol::OpenAiChat;
const CREATED: i64 = 1_763_700_000;

fn fixture(name: &str) -> Vec<u8> {
    common::fixture(P, name)
}

/// The `.encoded` variant of a fixture when the encoder's form differs.
fn encoded_fixture(case: &str, ext: &str) -> Vec<u8> {
    std::fs::read(fixture_path(P, &format!("{case}.encoded.{ext}")))
        .unwrap_or_else(|_| fixture(&format!("{case}.{ext}")))
}

fn result(call_id: &str, t: &str) -> Part {
    common::result(call_id, None, t, false)
}

fn request_tools() -> Request {
    let [question, calls] = weather_question_and_calls();
    Request {
        model: "test-model".into(),
        messages: vec![
            question,
            calls,
            // Chat has no error flag: the Tokyo failure is just its text.
            user(vec![
                result("call_paris", "18C, sunny"),
                result("call_tokyo", "service unavailable"),
                Part::text("Thanks!"),
            ]),
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
            user(vec![Part::text("What is 27*43?")]),
            assistant(vec![call("call_calc", "calc", r#"{"expr":"27*43"}"#)]),
            user(vec![result("call_calc", "1161")]),
        ],
        tools: vec![calc_tool()],
        max_tokens: Some(4096),
        reasoning: Some(ReasoningConfig {
            effort: Some("low".into()),
            ..ReasoningConfig::default()
        }),
        ..Request::default()
    }
}

fn request_image() -> Request {
    Request {
        model: "test-model".into(),
        messages: image_messages(),
        ..Request::default()
    }
}

fn response_text() -> Response {
    common::text_response("chatcmpl-text1", Some(CREATED))
}

fn response_tools() -> Response {
    common::tools_response("chatcmpl-tools1", Some(CREATED))
}

fn response_thinking() -> Response {
    common::thinking_response("chatcmpl-thinking1", Some(CREATED), None, 25)
}

fn start(id: &str) -> StreamEvent {
    start_at(id, Some(CREATED))
}

fn stream_text() -> Vec<StreamEvent> {
    text_events(start("chatcmpl-text1"))
}

fn stream_tools() -> Vec<StreamEvent> {
    vec![
        start("chatcmpl-tools1"),
        call_start(0, "call_paris", "get_weather"),
        args(0, r#"{"ci"#),
        args(0, r#"ty": "Paris"}"#),
        call_start(1, "call_tokyo", "get_weather"),
        args(1, r#"{"ci"#),
        args(1, r#"ty": "Tokyo"}"#),
        finish(FinishReason::ToolCalls),
        StreamEvent::Usage(usage(80, 30, 0)),
    ]
}

fn stream_thinking() -> Vec<StreamEvent> {
    vec![
        start("chatcmpl-thinking1"),
        StreamEvent::Reasoning("27*43".into()),
        StreamEvent::Reasoning(" = 1161".into()),
        StreamEvent::Text("1161.".into()),
        finish(FinishReason::Stop),
        StreamEvent::Usage(usage(15, 40, 25)),
    ]
}

fn requests() -> Vec<(&'static str, Request)> {
    vec![
        ("request_text", request_text()),
        ("request_tools", request_tools()),
        ("request_thinking", request_thinking()),
        ("request_image", request_image()),
    ]
}

fn responses() -> Vec<(&'static str, Response)> {
    vec![
        ("response_text", response_text()),
        ("response_tools", response_tools()),
        ("response_thinking", response_thinking()),
    ]
}

fn streams() -> Vec<(&'static str, Vec<StreamEvent>)> {
    vec![
        ("stream_text", stream_text()),
        ("stream_tools", stream_tools()),
        ("stream_thinking", stream_thinking()),
    ]
}

fn decode_stream(bytes: &[u8]) -> Vec<StreamEvent> {
    decode_sse(P, bytes)
}

fn encode_stream(events: &[StreamEvent], include_usage: bool) -> Vec<u8> {
    let options = StreamOptions {
        include_usage,
        gemini_sse: false,
    };
    encode_stream_with(P, options, events)
}

/// Each event's data as JSON (`[DONE]` as a string).
fn data_values(bytes: &[u8]) -> Vec<Value> {
    sse_events(bytes)
        .into_iter()
        .map(|e| serde_json::from_str(&e.data).unwrap_or(Value::String(e.data)))
        .collect()
}

#[test]
fn fixtures_decode_to_canonical_requests() {
    for (case, expected) in requests() {
        let got = decode_request(P, &fixture(&format!("{case}.json"))).unwrap();
        assert_eq!(got, expected, "{case}");
    }
}

#[test]
fn canonical_requests_encode_to_fixtures() {
    for (case, req) in requests() {
        let got = json_of(&encode_request(P, &req).unwrap());
        assert_eq!(got, json_of(&encoded_fixture(case, "json")), "{case}");
    }
}

#[test]
fn requests_round_trip() {
    let mut more = request_text();
    more.stream = true;
    more.user = Some("u-1".into());
    more.seed = Some(7);
    more.presence_penalty = Some(0.5);
    more.frequency_penalty = Some(-0.5);
    more.parallel_tool_calls = Some(false);
    more.tool_choice = Some(ToolChoice::Named("get_weather".into()));
    more.tools = vec![Tool {
        strict: Some(true),
        ..weather_tool()
    }];
    more.response_format = Some(ResponseFormat::JsonSchema {
        name: "answer".into(),
        schema: json!({"type": "object"}),
        strict: Some(true),
    });
    let mut json_object = request_text();
    json_object.response_format = Some(ResponseFormat::JsonObject);
    json_object.tool_choice = Some(ToolChoice::Required);
    let mut text_format = request_text();
    text_format.response_format = Some(ResponseFormat::Text);
    text_format.tool_choice = Some(ToolChoice::None);
    let extra = [
        ("more", more),
        ("json_object", json_object),
        ("text", text_format),
    ];
    for (case, req) in requests().into_iter().chain(extra) {
        let body = encode_request(P, &req).unwrap();
        assert_eq!(decode_request(P, &body).unwrap(), req, "{case}");
    }
}

#[test]
fn request_encoding_drops_reasoning_and_maps_budgets() {
    let mut req = request_thinking();
    if let Some(m) = req.messages.get_mut(1) {
        m.content.insert(
            0,
            Part::Reasoning {
                text: "Multiply 27 by 43.".into(),
                signature: Some("sig-abc".into()),
                redacted: None,
            },
        );
    }
    req.reasoning = Some(ReasoningConfig {
        effort: None,
        budget_tokens: Some(2048),
        include_thoughts: Some(true),
    });
    req.top_k = Some(40);
    let body = json_of(&encode_request(P, &req).unwrap());
    let mut expected = json_of(&encoded_fixture("request_thinking", "json"));
    expected["reasoning_effort"] = json!("low");
    assert_eq!(body, expected);
}

#[test]
fn request_decoding_variants() {
    let body = json!({
        "model": "m",
        "messages": [
            {"role": "developer", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
            {"role": "user", "name": "bob", "content": [{"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,AAAA", "detail": "high"}}]},
            {"role": "assistant", "content": "", "reasoning_content": "hmm", "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": ""}}
            ]},
            {"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "r1"}]},
            {"role": "system", "content": "late"},
            {"role": "tool", "tool_call_id": "c2", "content": "r2"},
            {"role": "assistant", "content": [{"type": "refusal", "refusal": "no"}], "reasoning": "or"},
            {"role": "user", "content": "next"}
        ],
        "max_tokens": 10,
        "stop": "X",
        "response_format": {"type": "json_schema", "json_schema": {"schema": {"type": "object"}}},
        "reasoning_effort": "high",
        "stream": false,
        "stream_options": {"include_usage": true},
        "logprobs": true
    });
    let got = decode_request(P, body.to_string().as_bytes()).unwrap();
    let expected = Request {
        model: "m".into(),
        system: vec!["a\nb".into(), "late".into()],
        messages: vec![
            user(vec![Part::Image {
                source: ImageSource::Base64 {
                    media_type: "image/jpeg".into(),
                    data: "AAAA".into(),
                },
            }]),
            assistant(vec![
                Part::Reasoning {
                    text: "hmm".into(),
                    signature: None,
                    redacted: None,
                },
                call("c1", "f", "{}"),
            ]),
            user(vec![result("c1", "r1"), result("c2", "r2")]),
            assistant(vec![
                Part::Reasoning {
                    text: "or".into(),
                    signature: None,
                    redacted: None,
                },
                Part::text("no"),
            ]),
            user(vec![Part::text("next")]),
        ],
        max_tokens: Some(10),
        stop: vec!["X".into()],
        response_format: Some(ResponseFormat::JsonSchema {
            name: "response".into(),
            schema: json!({"type": "object"}),
            strict: None,
        }),
        reasoning: Some(ReasoningConfig {
            effort: Some("high".into()),
            ..ReasoningConfig::default()
        }),
        ..Request::default()
    };
    assert_eq!(got, expected);
}

#[test]
fn legacy_functions_decode() {
    let body = json!({
        "model": "m",
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": null, "function_call": {"name": "f", "arguments": "{\"a\":1}"}},
            {"role": "function", "name": "f", "content": "done"}
        ],
        "functions": [{"name": "f", "parameters": {"type": "object"}}],
        "function_call": {"name": "f"}
    });
    let got = decode_request(P, body.to_string().as_bytes()).unwrap();
    assert_eq!(got.tools.len(), 1);
    assert_eq!(got.tool_choice, Some(ToolChoice::Named("f".into())));
    assert_eq!(
        got.messages.get(1).map(|m| &m.content),
        Some(&vec![call("call_legacy_0", "f", "{\"a\":1}")])
    );
    assert_eq!(
        got.messages.get(2).map(|m| &m.content),
        Some(&vec![Part::ToolResult {
            call_id: "call_legacy_0".into(),
            name: Some("f".into()),
            content: vec![Part::text("done")],
            is_error: false,
        }])
    );
}

#[test]
fn fixtures_decode_to_canonical_responses() {
    for (case, expected) in responses() {
        let got = decode_response(P, &fixture(&format!("{case}.json"))).unwrap();
        assert_eq!(got, expected, "{case}");
    }
}

#[test]
fn canonical_responses_encode_to_fixtures() {
    for (case, resp) in responses() {
        let got = json_of(&encode_response(P, &resp).unwrap());
        assert_eq!(got, json_of(&encoded_fixture(case, "json")), "{case}");
    }
}

#[test]
fn responses_round_trip() {
    for (case, resp) in responses() {
        let body = encode_response(P, &resp).unwrap();
        assert_eq!(decode_response(P, &body).unwrap(), resp, "{case}");
    }
}

#[test]
fn response_encoding_drops_signatures_and_fills_defaults() {
    let resp = Response {
        content: vec![
            Part::Reasoning {
                text: "r".into(),
                signature: Some("sig".into()),
                redacted: None,
            },
            Part::Reasoning {
                text: String::new(),
                signature: None,
                redacted: Some("opaque".into()),
            },
            call("", "f", "{}"),
        ],
        usage: Some(Usage {
            input_tokens: 10,
            output_tokens: 5,
            cache_read_tokens: 4,
            cache_write_tokens: 3,
            reasoning_tokens: 2,
        }),
        ..Response::default()
    };
    let v = json_of(&encode_response(P, &resp).unwrap());
    let id = v["id"].as_str().unwrap();
    assert!(id.starts_with("chatcmpl-"));
    assert!(v["created"].as_i64().unwrap() > 0);
    let msg = &v["choices"][0]["message"];
    assert_eq!(msg["reasoning_content"], "r");
    assert_eq!(msg["content"], Value::Null);
    let call_id = msg["tool_calls"][0]["id"].as_str().unwrap();
    assert_eq!(
        call_id,
        format!("call_{}_0", id.trim_start_matches("chatcmpl-"))
    );
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(
        v["usage"],
        json!({
            "prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15,
            "prompt_tokens_details": {"cached_tokens": 4},
            "completion_tokens_details": {"reasoning_tokens": 2}
        })
    );
}

#[test]
fn response_decoding_variants() {
    let body = json!({
        "id": "gen-1", "object": "chat.completion", "created": 1, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi", "reasoning": "think"},
                     "finish_reason": "insufficient_system_resource"}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11, "prompt_cache_hit_tokens": 6}
    });
    let got = decode_response(P, body.to_string().as_bytes()).unwrap();
    assert_eq!(
        got.content,
        vec![
            Part::Reasoning {
                text: "think".into(),
                signature: None,
                redacted: None
            },
            Part::text("hi")
        ]
    );
    assert_eq!(
        got.finish,
        Some(FinishReason::Other("insufficient_system_resource".into()))
    );
    assert_eq!(got.usage.map(|u| u.cache_read_tokens), Some(6));
}

#[test]
fn sse_fixtures_decode_to_canonical_events() {
    for (case, expected) in streams() {
        let got = decode_stream(&fixture(&format!("{case}.sse")));
        assert_eq!(got, expected, "{case}");
    }
}

#[test]
fn canonical_events_encode_to_sse_fixtures() {
    for (case, events) in streams() {
        let got = data_values(&encode_stream(&events, true));
        let expected = data_values(&encoded_fixture(case, "sse"));
        assert_eq!(got, expected, "{case}");
    }
}

#[test]
fn streams_round_trip() {
    for (case, events) in streams() {
        for include_usage in [true, false] {
            let got = decode_stream(&encode_stream(&events, include_usage));
            let expected: Vec<StreamEvent> = events
                .iter()
                .filter(|e| include_usage || !matches!(e, StreamEvent::Usage(_)))
                .cloned()
                .collect();
            assert_eq!(got, expected, "{case} include_usage={include_usage}");
        }
    }
}

#[test]
fn stream_signatures_are_dropped() {
    let mut events = stream_thinking();
    events.insert(3, StreamEvent::ReasoningSignature("sig-abc".into()));
    events.insert(4, StreamEvent::RedactedReasoning("opaque".into()));
    assert_eq!(
        decode_stream(&encode_stream(&events, true)),
        stream_thinking()
    );
}

#[test]
fn stream_without_usage_option_writes_no_usage() {
    let bytes = encode_stream(&stream_text(), false);
    for v in data_values(&bytes) {
        assert!(v.get("usage").is_none(), "{v}");
    }
    let values = data_values(&bytes);
    assert_eq!(values.last(), Some(&Value::String("[DONE]".into())));
    assert_eq!(values.len(), 5);
}

#[test]
fn empty_stream_still_starts_and_ends() {
    let values = data_values(&encode_stream(&[], true));
    assert_eq!(values.len(), 2);
    let first = values.first().unwrap();
    assert_eq!(first["object"], "chat.completion.chunk");
    assert!(first["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(first["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(values.get(1), Some(&Value::String("[DONE]".into())));
}

#[test]
fn stream_error_is_encoded_and_decoded() {
    let events = vec![
        start("chatcmpl-e"),
        StreamEvent::Text("partial".into()),
        StreamEvent::Error {
            message: "overloaded".into(),
        },
    ];
    let bytes = encode_stream(&events, true);
    let values = data_values(&bytes);
    assert_eq!(
        values.get(2),
        Some(
            &json!({"error": {"message": "overloaded", "type": "api_error", "param": null, "code": null}})
        )
    );
    assert_eq!(decode_stream(&bytes), events);
}

#[test]
fn stream_decoder_handles_provider_quirks() {
    let mut d = stream_decoder(P);
    let mut out = Vec::new();
    // No index on tool calls (some compatible providers), a whole call in
    // one chunk, usage on the finish chunk, no id anywhere.
    let chunks = [
        r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"type":"function","function":{"name":"f","arguments":"{}"}},{"id":"c9","function":{"name":"g","arguments":"{\"x\":1}"}}]}}]}"#,
        r#"{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}"#,
        "[DONE]",
    ];
    for c in chunks {
        d.feed(c, &mut out).unwrap();
    }
    d.finish(&mut out);
    let Some(StreamEvent::Start { id, .. }) = out.first() else {
        panic!("no start: {out:?}");
    };
    assert!(id.starts_with("chatcmpl-"));
    let derived = format!("call_{}_0", id.trim_start_matches("chatcmpl-"));
    assert_eq!(
        out.get(1..),
        Some(
            &[
                StreamEvent::ToolCallStart {
                    index: 0,
                    id: derived,
                    name: "f".into()
                },
                args(0, "{}"),
                call_start(1, "c9", "g"),
                StreamEvent::ToolCallArguments {
                    index: 1,
                    delta: "{\"x\":1}".into()
                },
                finish(FinishReason::ToolCalls),
                StreamEvent::Usage(usage(3, 4, 0)),
            ][..]
        )
    );
}

#[test]
fn transcoder_chat_to_chat_matches_goldens() {
    for (case, events) in streams() {
        let options = StreamOptions {
            include_usage: true,
            gemini_sse: false,
        };
        let mut t = Transcoder::new(P, P, options, None);
        let mut out = Vec::new();
        for e in sse_events(&fixture(&format!("{case}.sse"))) {
            t.feed(&e.data, &mut out).unwrap();
        }
        t.finish(&mut out);
        assert_eq!(
            data_values(&out),
            data_values(&encoded_fixture(case, "sse")),
            "{case}"
        );
        let last_usage = events.iter().rev().find_map(|e| match e {
            StreamEvent::Usage(u) => Some(*u),
            _ => None,
        });
        assert_eq!(t.usage(), last_usage, "{case}");
    }
}

#[test]
fn azure_prompt_filter_chunk_is_skipped() {
    let mut d = stream_decoder(P);
    let mut out = Vec::new();
    let filter = r#"{"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{}}]}"#;
    d.feed(filter, &mut out).unwrap();
    assert!(out.is_empty());
    for e in sse_events(&fixture("stream_text.sse")) {
        d.feed(&e.data, &mut out).unwrap();
    }
    assert_eq!(out, stream_text());
}

#[test]
fn malformed_input_is_invalid() {
    let mut d = stream_decoder(P);
    let mut out = Vec::new();
    assert!(matches!(
        d.feed("{\"choices\": [", &mut out),
        Err(ConvertError::Invalid(_))
    ));
    assert!(matches!(
        d.feed(r#"{"choices":[{"delta":{"content":5}}]}"#, &mut out),
        Err(ConvertError::Invalid(_))
    ));
    assert!(matches!(
        decode_request(P, br#"{"model":"m"}"#),
        Err(ConvertError::Invalid(_))
    ));
    assert!(matches!(
        decode_request(P, br#"{"model":"m","messages":[{"role":"robot","content":"x"}]}"#),
        Err(ConvertError::Invalid(m)) if m.contains("robot")
    ));
    assert!(matches!(
        decode_response(P, b"[]"),
        Err(ConvertError::Invalid(_))
    ));
}

fn unsupported(body: Value) -> String {
    match decode_request(P, body.to_string().as_bytes()) {
        Err(ConvertError::Unsupported(m)) => m,
        other => panic!("expected Unsupported, got {other:?}"),
    }
}

#[test]
fn unsupported_content_is_named() {
    let audio = unsupported(
        json!({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "input_audio", "input_audio": {"data": "AA", "format": "wav"}}]}]}),
    );
    assert!(audio.contains("input_audio"), "{audio}");
    let tool = unsupported(json!({"model": "m", "messages": [],
        "tools": [{"type": "custom", "custom": {"name": "x"}}]}));
    assert!(tool.contains("custom"), "{tool}");
    let choice = unsupported(json!({"model": "m", "messages": [],
        "tool_choice": {"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": []}}}));
    assert!(choice.contains("allowed_tools"), "{choice}");
    let n = unsupported(json!({"model": "m", "messages": [], "n": 2}));
    assert!(n.contains("`n`"), "{n}");
    let image_result = Request {
        model: "m".into(),
        messages: vec![user(vec![Part::ToolResult {
            call_id: "c".into(),
            name: None,
            content: vec![Part::Image {
                source: ImageSource::Url {
                    url: "https://x/y.png".into(),
                },
            }],
            is_error: false,
        }])],
        ..Request::default()
    };
    assert!(matches!(
        encode_request(P, &image_result),
        Err(ConvertError::Unsupported(m)) if m.contains("images in tool results")
    ));
    let mut d = stream_decoder(P);
    let custom = r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c","type":"custom","custom":{"name":"x"}}]}}]}"#;
    assert!(matches!(
        d.feed(custom, &mut Vec::new()),
        Err(ConvertError::Unsupported(m)) if m.contains("custom")
    ));
}

fn arb_event() -> impl Strategy<Value = StreamEvent> {
    EventStrategy {
        text: ".{0,12}",
        created: proptest::option::of(any::<i64>()).boxed(),
        call_index: (0u32..4).boxed(),
        arguments_index: any::<u32>().boxed(),
        usage: (any::<u64>(), any::<u64>(), any::<u64>())
            .prop_map(|(i, o, c)| Usage {
                input_tokens: i,
                output_tokens: o,
                cache_read_tokens: c,
                cache_write_tokens: c,
                reasoning_tokens: c,
            })
            .boxed(),
        stop_sequence: proptest::option::of(".{0,12}").boxed(),
    }
    .events()
}

proptest! {
    #[test]
    fn request_decoder_never_panics(body in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_request(P, &body);
        let _ = decode_response(P, &body);
    }

    #[test]
    fn stream_decoder_never_panics_on_strings(data in proptest::collection::vec(".{0,64}", 0..6)) {
        let mut d = stream_decoder(P);
        let mut out = Vec::new();
        for s in &data {
            let _ = d.feed(s, &mut out);
        }
        d.finish(&mut out);
    }

    #[test]
    fn stream_decoder_never_panics_on_mutated_fixtures(
        pick in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        len in 0usize..8,
        insert in "[\\[\\]{}\":,0-9a-z ]{0,6}",
    ) {
        let payloads = stream_fixture_payloads(P);
        let mut data = pick.get(&payloads).clone();
        let mut cut = at.index(data.len() + 1);
        while !data.is_char_boundary(cut) {
            cut -= 1;
        }
        let mut end = (cut + len).min(data.len());
        while !data.is_char_boundary(end) {
            end -= 1;
        }
        data.replace_range(cut..end, &insert);
        let mut d = stream_decoder(P);
        let mut out = Vec::new();
        for p in &payloads {
            let _ = d.feed(p, &mut out);
            let _ = d.feed(&data, &mut out);
        }
        d.finish(&mut out);
    }

    #[test]
    fn mutated_request_fixtures_never_panic(
        pick in 0usize..4,
        at in any::<prop::sample::Index>(),
        len in 0usize..8,
        insert in "[\\[\\]{}\":,0-9a-z ]{0,6}",
    ) {
        let names = ["request_text", "request_tools", "request_thinking", "request_image"];
        let mut body = fixture(&format!("{}.json", names.get(pick).copied().unwrap_or("request_text")));
        let cut = at.index(body.len() + 1);
        let end = (cut + len).min(body.len());
        body.splice(cut..end, insert.bytes());
        let _ = decode_request(P, &body);
    }

    #[test]
    fn stream_encoder_never_panics(
        events in proptest::collection::vec(arb_event(), 0..24),
        include_usage in any::<bool>(),
    ) {
        let bytes = encode_stream(&events, include_usage);
        // Whatever it wrote decodes again and ends with [DONE].
        let values = data_values(&bytes);
        prop_assert_eq!(values.last(), Some(&Value::String("[DONE]".into())));
        let mut d = stream_decoder(P);
        let mut out = Vec::new();
        for e in sse_events(&bytes) {
            prop_assert!(d.feed(&e.data, &mut out).is_ok());
        }
    }
}

/// Writes the `.encoded.sse` goldens (run with `--ignored` after a reviewed
/// change of the encoder's output).
#[test]
#[ignore = "regenerates golden files"]
fn write_encoded_stream_goldens() {
    for (case, events) in streams() {
        let bytes = encode_stream(&events, true);
        std::fs::write(fixture_path(P, &format!("{case}.encoded.sse")), bytes).unwrap();
    }
}
