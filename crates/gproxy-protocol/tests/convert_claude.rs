//! Anthropic Messages converter: golden fixtures, round trips, streams and properties.
#![cfg(test)]

mod common;

use common::{
    EventStrategy, args, assistant, calc_tool, call, call_start, capture, decode_sse,
    encode_stream_with, finish, image_messages, json_fixture, json_of, reasoning, result,
    sse_events, start, stream_fixture_payloads, text_request, usage, user,
    weather_question_and_calls, weather_tool,
};
use gproxy_protocol::Protocol;
use gproxy_protocol::convert::{
    Assembler, ConvertError, FinishReason, ImageSource, Part, ReasoningConfig, Request, Response,
    ResponseFormat, StreamEvent, StreamOptions, Tool, ToolChoice, Usage, decode_request,
    decode_response, encode_request, encode_response, stream_decoder, stream_encoder,
};
use proptest::prelude::*;
use serde_json::{Value, json};

const P: Protocol = Protocol::Claude;

fn fixture(name: &str) -> Vec<u8> {
    common::fixture(P, name)
}

fn decode_stream_bytes(bytes: &[u8]) -> Vec<StreamEvent> {
    decode_sse(P, bytes)
}

fn encode_stream(events: &[StreamEvent]) -> Vec<u8> {
    encode_stream_with(P, StreamOptions::default(), events)
}

fn tools_request() -> Request {
    let [question, calls] = weather_question_and_calls();
    Request {
        model: "test-model".into(),
        max_tokens: Some(4096),
        tools: vec![weather_tool()],
        tool_choice: Some(ToolChoice::Auto),
        messages: vec![
            question,
            calls,
            user(vec![
                result("call_paris", None, "18C, sunny", false),
                result("call_tokyo", None, "service unavailable", true),
            ]),
            user(vec![Part::text("Thanks!")]),
        ],
        ..Request::default()
    }
}

fn thinking_request() -> Request {
    Request {
        model: "test-model".into(),
        max_tokens: Some(4096),
        reasoning: Some(ReasoningConfig {
            budget_tokens: Some(2048),
            ..ReasoningConfig::default()
        }),
        tools: vec![calc_tool()],
        messages: vec![
            user(vec![Part::text("What is 27*43?")]),
            assistant(vec![
                reasoning("Multiply 27 by 43.", Some("sig-abc")),
                call("call_calc", "calc", r#"{"expr":"27*43"}"#),
            ]),
            user(vec![result("call_calc", None, "1161", false)]),
        ],
        ..Request::default()
    }
}

fn image_request() -> Request {
    Request {
        model: "test-model".into(),
        max_tokens: Some(4096),
        messages: image_messages(),
        ..Request::default()
    }
}

fn text_response() -> Response {
    common::text_response("msg_text1", None)
}

fn tools_response() -> Response {
    common::tools_response("msg_tools1", None)
}

fn thinking_response() -> Response {
    // Anthropic does not report reasoning tokens separately: 0 here.
    common::thinking_response("msg_thinking1", None, Some("sig-abc"), 0)
}

fn text_events() -> Vec<StreamEvent> {
    let mut events = common::text_events(start("msg_text1"));
    // Anthropic reports the input usage with `message_start`.
    events.insert(1, StreamEvent::Usage(usage(21, 1, 0)));
    events
}

fn tools_events() -> Vec<StreamEvent> {
    let mut v = vec![start("msg_tools1"), StreamEvent::Usage(usage(80, 1, 0))];
    for (i, (id, city)) in [("call_paris", "Paris"), ("call_tokyo", "Tokyo")]
        .into_iter()
        .enumerate()
    {
        let index = i as u32;
        v.push(StreamEvent::ToolCallStart {
            index,
            id: id.into(),
            name: "get_weather".into(),
        });
        v.push(StreamEvent::ToolCallArguments {
            index,
            delta: r#"{"city": "#.into(),
        });
        v.push(StreamEvent::ToolCallArguments {
            index,
            delta: format!("\"{city}\"}}"),
        });
    }
    v.push(finish(FinishReason::ToolCalls));
    v.push(StreamEvent::Usage(usage(80, 30, 0)));
    v
}

fn thinking_events() -> Vec<StreamEvent> {
    vec![
        start("msg_thinking1"),
        StreamEvent::Usage(usage(15, 1, 0)),
        StreamEvent::Reasoning("27*43".into()),
        StreamEvent::Reasoning(" = 1161".into()),
        StreamEvent::ReasoningSignature("sig-abc".into()),
        StreamEvent::Text("1161.".into()),
        finish(FinishReason::Stop),
        StreamEvent::Usage(usage(15, 40, 0)),
    ]
}

fn requests() -> Vec<(&'static str, Request)> {
    vec![
        ("request_text.json", text_request()),
        ("request_tools.json", tools_request()),
        ("request_thinking.json", thinking_request()),
        ("request_image.json", image_request()),
    ]
}

fn responses() -> Vec<(&'static str, &'static str, Response)> {
    vec![
        (
            "response_text.json",
            "response_text.encoded.json",
            text_response(),
        ),
        (
            "response_tools.json",
            "response_tools.json",
            tools_response(),
        ),
        (
            "response_thinking.json",
            "response_thinking.json",
            thinking_response(),
        ),
    ]
}

fn streams() -> Vec<(&'static str, &'static str, Vec<StreamEvent>)> {
    vec![
        ("stream_text.sse", "stream_text.encoded.sse", text_events()),
        (
            "stream_tools.sse",
            "stream_tools.encoded.sse",
            tools_events(),
        ),
        (
            "stream_thinking.sse",
            "stream_thinking.encoded.sse",
            thinking_events(),
        ),
    ]
}

#[test]
fn request_fixtures_decode() {
    for (name, expected) in requests() {
        assert_eq!(
            decode_request(P, &fixture(name)).unwrap(),
            expected,
            "{name}"
        );
    }
}

#[test]
fn requests_encode_to_fixtures() {
    for (name, req) in requests() {
        let body = encode_request(P, &req).unwrap();
        assert_eq!(json_of(&body), json_fixture(P, name), "{name}");
    }
}

#[test]
fn requests_round_trip() {
    for (name, req) in requests() {
        let body = encode_request(P, &req).unwrap();
        assert_eq!(decode_request(P, &body).unwrap(), req, "{name}");
    }
}

#[test]
fn response_fixtures_decode() {
    for (name, _, expected) in responses() {
        assert_eq!(
            decode_response(P, &fixture(name)).unwrap(),
            expected,
            "{name}"
        );
    }
}

#[test]
fn responses_encode_to_fixtures() {
    for (_, encoded, resp) in responses() {
        let body = encode_response(P, &resp).unwrap();
        assert_eq!(json_of(&body), json_fixture(P, encoded), "{encoded}");
    }
}

#[test]
fn responses_round_trip() {
    for (name, _, resp) in responses() {
        let body = encode_response(P, &resp).unwrap();
        assert_eq!(decode_response(P, &body).unwrap(), resp, "{name}");
    }
}

#[test]
fn stream_fixtures_decode() {
    for (name, _, expected) in streams() {
        assert_eq!(decode_stream_bytes(&fixture(name)), expected, "{name}");
    }
}

#[test]
fn streams_encode_to_fixtures() {
    for (_, encoded, events) in streams() {
        common::assert_sse_eq(encoded, &encode_stream(&events), &fixture(encoded));
    }
}

#[test]
fn streams_round_trip() {
    for (name, _, events) in streams() {
        assert_eq!(
            decode_stream_bytes(&encode_stream(&events)),
            events,
            "{name}"
        );
    }
}

#[test]
fn assembled_streams_match_responses() {
    for (stream, resp) in [
        ("stream_text.sse", "response_text.json"),
        ("stream_thinking.sse", "response_thinking.json"),
    ] {
        let mut asm = Assembler::new();
        for e in decode_stream_bytes(&fixture(stream)) {
            asm.push(e);
        }
        let expected = decode_response(P, &fixture(resp)).unwrap();
        assert_eq!(asm.finish().unwrap(), expected, "{stream}");
    }
}

#[test]
fn usage_is_normalised_both_ways() {
    let resp = decode_response(P, &capture("claude_body.json")).unwrap();
    let expected = Usage {
        input_tokens: 2095 + 1500 + 32000,
        output_tokens: 503,
        cache_read_tokens: 32000,
        cache_write_tokens: 1500,
        reasoning_tokens: 0,
    };
    assert_eq!(resp.usage, Some(expected));
    let body = json_of(&encode_response(P, &resp).unwrap());
    assert_eq!(
        body["usage"],
        json!({"input_tokens":2095,"cache_creation_input_tokens":1500,
               "cache_read_input_tokens":32000,"output_tokens":503})
    );
}

#[test]
fn stream_usage_combines_message_start_and_delta() {
    let events = decode_stream_bytes(&capture("claude_stream.sse"));
    let last = events
        .iter()
        .rev()
        .find_map(|e| match e {
            StreamEvent::Usage(u) => Some(*u),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        last,
        Usage {
            input_tokens: 472 + 2048 + 10240,
            output_tokens: 89,
            cache_read_tokens: 10240,
            cache_write_tokens: 2048,
            reasoning_tokens: 0,
        }
    );
}

/// An OpenAI-like upstream: no usage until after the finish.
#[test]
fn late_usage_goes_into_message_delta() {
    let u = Usage {
        input_tokens: 100,
        output_tokens: 7,
        cache_read_tokens: 60,
        cache_write_tokens: 0,
        reasoning_tokens: 2,
    };
    let out = encode_stream(&[
        StreamEvent::Start {
            id: "chatcmpl-1".into(),
            model: "m".into(),
            created: Some(1),
        },
        StreamEvent::Text("hi".into()),
        finish(FinishReason::Length),
        StreamEvent::Usage(u),
    ]);
    let events = sse_events(&out);
    let names: Vec<_> = events.iter().map(|e| e.event.clone().unwrap()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    let start: Value = serde_json::from_str(&events[0].data).unwrap();
    assert_eq!(start["message"]["id"], "chatcmpl-1");
    assert_eq!(start["message"]["usage"]["input_tokens"], 0);
    let delta: Value = serde_json::from_str(&events[4].data).unwrap();
    assert_eq!(
        delta,
        json!({"type":"message_delta","delta":{"stop_reason":"max_tokens","stop_sequence":null},
               "usage":{"input_tokens":40,"cache_creation_input_tokens":0,
                        "cache_read_input_tokens":60,"output_tokens":7}})
    );
    // Decoding it back reports the upstream's usage (bar reasoning, which
    // Anthropic has no field for).
    let back = decode_stream_bytes(&out);
    assert_eq!(
        back.last(),
        Some(&StreamEvent::Usage(Usage {
            reasoning_tokens: 0,
            ..u
        }))
    );
}

#[test]
fn mixed_stream_round_trips() {
    let events = vec![
        start("msg_mixed"),
        StreamEvent::Usage(usage(5, 1, 0)),
        StreamEvent::RedactedReasoning("opaque".into()),
        StreamEvent::Reasoning("a".into()),
        StreamEvent::ReasoningSignature("s1".into()),
        StreamEvent::ReasoningSignature("s2".into()),
        StreamEvent::Text("x".into()),
        call_start(0, "toolu_1", "f"),
        args(0, "{}"),
        StreamEvent::Text("y".into()),
        StreamEvent::Finish {
            reason: FinishReason::Stop,
            stop_sequence: Some("END".into()),
        },
        StreamEvent::Usage(usage(5, 9, 0)),
    ];
    let out = encode_stream(&events);
    assert!(String::from_utf8_lossy(&out).contains(r#""stop_reason":"stop_sequence""#));
    assert_eq!(decode_stream_bytes(&out), events);
}

#[test]
fn empty_stream_finishes_with_a_generated_message() {
    let mut enc = stream_encoder(P, StreamOptions::default());
    let mut out = Vec::new();
    enc.finish(&mut out);
    enc.finish(&mut out);
    let events = sse_events(&out);
    assert_eq!(events.len(), 3);
    let start: Value = serde_json::from_str(&events[0].data).unwrap();
    let id = start["message"]["id"].as_str().unwrap();
    assert!(id.starts_with("msg_") && id.len() > 4);
    assert_eq!(events[2].event.as_deref(), Some("message_stop"));
}

#[test]
fn stream_errors_both_ways() {
    let out = encode_stream(&[
        start("msg_e"),
        StreamEvent::Text("x".into()),
        StreamEvent::Error {
            message: "Overloaded".into(),
        },
        StreamEvent::Text("ignored".into()),
    ]);
    let events = sse_events(&out);
    let last = events.last().unwrap();
    assert_eq!(last.event.as_deref(), Some("error"));
    assert_eq!(
        serde_json::from_str::<Value>(&last.data).unwrap(),
        json!({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})
    );
    let mut dec = stream_decoder(P);
    let mut got = Vec::new();
    dec.feed(&last.data, &mut got).unwrap();
    assert_eq!(
        got,
        [StreamEvent::Error {
            message: "Overloaded".into()
        }]
    );
}

#[test]
fn malformed_and_unsupported_stream_events() {
    let mut dec = stream_decoder(P);
    let mut out = Vec::new();
    assert!(matches!(
        dec.feed("{not json", &mut out),
        Err(ConvertError::Invalid(_))
    ));
    assert!(matches!(
        dec.feed(
            r#"{"type":"content_block_delta","index":3,"delta":{"type":"input_json_delta","partial_json":"{"}}"#,
            &mut out
        ),
        Err(ConvertError::Invalid(_))
    ));
    let err = dec
        .feed(
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{}}}"#,
            &mut out,
        )
        .unwrap_err();
    assert!(matches!(&err, ConvertError::Unsupported(m) if m.contains("server_tool_use")));
    // Unknown events and deltas are ignored.
    out.clear();
    dec.feed(r#"{"type":"something_new"}"#, &mut out).unwrap();
    dec.feed(
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"citations_delta","citation":{}}}"#,
        &mut out,
    )
    .unwrap();
    assert!(out.iter().all(|e| matches!(e, StreamEvent::Start { .. })));
}

#[test]
fn unsupported_request_content_is_named() {
    let cases = [
        (
            json!({"model":"m","max_tokens":1,"messages":[{"role":"user","content":[
                {"type":"document","source":{"type":"text","media_type":"text/plain","data":"x"}}]}]}),
            "document",
        ),
        (
            json!({"model":"m","max_tokens":1,"messages":[{"role":"user","content":[
                {"type":"search_result","source":"s","title":"t","content":[]}]}]}),
            "search_result",
        ),
        (
            json!({"model":"m","max_tokens":1,"messages":[],
                   "tools":[{"type":"bash_20250124","name":"bash"}]}),
            "bash_20250124",
        ),
        (
            json!({"model":"m","max_tokens":1,"messages":[{"role":"user","content":[
                {"type":"image","source":{"type":"file","file_id":"file_1"}}]}]}),
            "file",
        ),
    ];
    for (body, name) in cases {
        let err = decode_request(P, body.to_string().as_bytes()).unwrap_err();
        assert!(
            matches!(&err, ConvertError::Unsupported(m) if m.contains(name)),
            "{err:?}"
        );
    }
    assert!(matches!(
        decode_request(P, b"{\"model\":1}"),
        Err(ConvertError::Invalid(_))
    ));
}

#[test]
fn request_decoding_variants() {
    let body = json!({
        "model": "m", "max_tokens": 10,
        "system": [{"type":"text","text":"a","cache_control":{"type":"ephemeral"}},
                   {"type":"text","text":"b"}],
        "messages": [{"role":"user","content":[
            {"type":"text","text":"hi","citations":null},
            {"type":"image","source":{"type":"url","url":"data:image/jpeg;base64,AAAA"}},
            {"type":"tool_result","tool_use_id":"t1","content":[{"type":"text","text":"r"},
                {"type":"image","source":{"type":"base64","media_type":"image/gif","data":"R0"}}]}]},
            {"role":"assistant","content":[{"type":"redacted_thinking","data":"zz"},
                {"type":"thinking","thinking":"t","signature":""}]}],
        "tool_choice": {"type":"any","disable_parallel_tool_use":true},
        "thinking": {"type":"disabled"},
        "metadata": {"user_id":"u-1"},
        "stream": true,
        "top_k": 5,
        "output_format": {"type":"json_schema","schema":{"type":"object"}}
    });
    let req = decode_request(P, body.to_string().as_bytes()).unwrap();
    assert_eq!(req.system, ["a", "b"]);
    assert_eq!(req.tool_choice, Some(ToolChoice::Required));
    assert_eq!(req.parallel_tool_calls, Some(false));
    assert_eq!(req.reasoning.unwrap().budget_tokens, Some(0));
    assert_eq!(req.user.as_deref(), Some("u-1"));
    assert!(req.stream);
    assert_eq!(req.top_k, Some(5));
    assert_eq!(
        req.response_format,
        Some(ResponseFormat::JsonSchema {
            name: "response".into(),
            schema: json!({"type":"object"}),
            strict: None
        })
    );
    assert_eq!(
        req.messages[0].content[1],
        Part::Image {
            source: ImageSource::Base64 {
                media_type: "image/jpeg".into(),
                data: "AAAA".into()
            }
        }
    );
    assert!(matches!(&req.messages[0].content[2],
        Part::ToolResult { content, .. } if content.len() == 2));
    assert_eq!(
        req.messages[1].content,
        [
            Part::Reasoning {
                text: String::new(),
                signature: None,
                redacted: Some("zz".into())
            },
            reasoning("t", None)
        ]
    );
}

fn encoded(req: &Request) -> Value {
    json_of(&encode_request(P, req).unwrap())
}

#[test]
fn thinking_budgets_and_max_tokens() {
    let with = |effort: Option<&str>, budget: Option<u64>, max: Option<u64>| Request {
        model: "m".into(),
        max_tokens: max,
        reasoning: Some(ReasoningConfig {
            effort: effort.map(Into::into),
            budget_tokens: budget,
            include_thoughts: None,
        }),
        messages: vec![user(vec![Part::text("q")])],
        ..Request::default()
    };
    let v = encoded(&with(Some("low"), None, None));
    assert_eq!(
        v["thinking"],
        json!({"type":"enabled","budget_tokens":1024})
    );
    assert_eq!(v["max_tokens"], 1024 + 4096);
    let v = encoded(&with(Some("minimal"), None, Some(8000)));
    assert_eq!(
        v["thinking"],
        json!({"type":"enabled","budget_tokens":1024})
    );
    assert_eq!(v["max_tokens"], 8000);
    let v = encoded(&with(None, Some(0), None));
    assert_eq!(v["thinking"], json!({"type":"disabled"}));
    assert_eq!(v["max_tokens"], 4096);
    let v = encoded(&with(Some("high"), None, Some(3000)));
    assert_eq!(
        v["thinking"],
        json!({"type":"enabled","budget_tokens":2999})
    );
    let v = encoded(&with(None, Some(2048), Some(500)));
    assert!(v.get("thinking").is_none());
    assert_eq!(v["max_tokens"], 500);
    let v = encoded(&Request {
        model: "m".into(),
        temperature: Some(1.7),
        tool_choice: Some(ToolChoice::None),
        ..Request::default()
    });
    assert_eq!(v["max_tokens"], 4096);
    assert_eq!(v["temperature"], 1.0);
    assert!(v.get("tool_choice").is_none(), "no tools, no tool_choice");
    assert!(matches!(
        encode_request(P, &with(Some("extreme"), None, None)),
        Err(ConvertError::Unsupported(m)) if m.contains("extreme")
    ));
}

#[test]
fn thinking_constraints_are_respected() {
    let req = Request {
        model: "m".into(),
        max_tokens: Some(8000),
        temperature: Some(0.2),
        top_p: Some(0.9),
        top_k: Some(40),
        reasoning: Some(ReasoningConfig {
            budget_tokens: Some(2048),
            ..ReasoningConfig::default()
        }),
        messages: vec![user(vec![Part::text("q")])],
        tools: vec![Tool {
            name: "f".into(),
            description: None,
            parameters: json!({"type":"object"}),
            strict: None,
        }],
        ..Request::default()
    };
    let v = encoded(&req);
    assert_eq!(v["thinking"]["budget_tokens"], 2048);
    for field in ["temperature", "top_p", "top_k"] {
        assert!(v.get(field).is_none(), "{field}");
    }
    let forced = Request {
        tool_choice: Some(ToolChoice::Named("f".into())),
        ..req
    };
    let v = encoded(&forced);
    assert!(v.get("thinking").is_none());
    assert_eq!(v["temperature"], 0.2);
    assert_eq!(v["tool_choice"], json!({"type":"tool","name":"f"}));
}

#[test]
fn invalid_blocks_report_their_error() {
    let body = json!({"model":"m","max_tokens":1,"messages":[{"role":"user","content":[
        {"type":"tool_use","name":"f","input":{}}]}]});
    let err = decode_request(P, body.to_string().as_bytes()).unwrap_err();
    assert!(
        matches!(&err, ConvertError::Invalid(m) if m.contains("`id`")),
        "{err:?}"
    );
    let body = json!({"model":"m","max_tokens":1,"messages":[{"role":"user","content":7}]});
    assert!(matches!(
        decode_request(P, body.to_string().as_bytes()),
        Err(ConvertError::Invalid(_))
    ));
}

#[test]
fn encoding_messages_follows_anthropic_rules() {
    let req = Request {
        model: "m".into(),
        messages: vec![
            user(vec![Part::text("more"), result("c1", None, "ok", false)]),
            assistant(vec![reasoning("unsigned", None)]),
            assistant(vec![
                reasoning("unsigned", None),
                reasoning("signed", Some("s")),
                Part::text(""),
                call("c2", "f", ""),
            ]),
        ],
        parallel_tool_calls: Some(false),
        tools: vec![Tool {
            name: "f".into(),
            description: None,
            parameters: json!({"type":"object"}),
            strict: Some(true),
        }],
        ..Request::default()
    };
    let v = encoded(&req);
    assert_eq!(
        v["messages"],
        json!([
            {"role":"user","content":[{"type":"tool_result","tool_use_id":"c1","content":"ok"},
                                      {"type":"text","text":"more"}]},
            {"role":"assistant","content":[{"type":"thinking","thinking":"signed","signature":"s"},
                                           {"type":"tool_use","id":"c2","name":"f","input":{}}]}
        ])
    );
    assert_eq!(
        v["tool_choice"],
        json!({"type":"auto","disable_parallel_tool_use":true})
    );
    assert_eq!(v["tools"][0]["strict"], true);

    let bad = Request {
        model: "m".into(),
        messages: vec![assistant(vec![call("call_bad", "f", "{oops")])],
        ..Request::default()
    };
    assert!(matches!(encode_request(P, &bad),
        Err(ConvertError::Invalid(m)) if m.contains("call_bad")));
    let gs = Request {
        model: "m".into(),
        messages: vec![user(vec![Part::Image {
            source: ImageSource::Url {
                url: "gs://bucket/cat.png".into(),
            },
        }])],
        ..Request::default()
    };
    assert!(matches!(
        encode_request(P, &gs),
        Err(ConvertError::Unsupported(_))
    ));
}

#[test]
fn tool_choice_and_formats_encode() {
    let base = Request {
        model: "m".into(),
        max_tokens: Some(100),
        system: vec!["sys".into()],
        messages: vec![user(vec![Part::text("q")])],
        tools: vec![Tool {
            name: "f".into(),
            description: None,
            parameters: json!({"type":"object"}),
            strict: None,
        }],
        ..Request::default()
    };
    for (choice, expected) in [
        (ToolChoice::Required, json!({"type":"any"})),
        (ToolChoice::None, json!({"type":"none"})),
        (
            ToolChoice::Named("f".into()),
            json!({"type":"tool","name":"f"}),
        ),
    ] {
        let req = Request {
            tool_choice: Some(choice.clone()),
            ..base.clone()
        };
        assert_eq!(encoded(&req)["tool_choice"], expected);
        assert_eq!(
            decode_request(P, &encode_request(P, &req).unwrap())
                .unwrap()
                .tool_choice,
            Some(choice)
        );
    }
    let schema = json!({"type":"object","properties":{"a":{"type":"string"}},
                        "required":["a"],"additionalProperties":false});
    let req = Request {
        response_format: Some(ResponseFormat::JsonSchema {
            name: "response".into(),
            schema: schema.clone(),
            strict: None,
        }),
        ..base.clone()
    };
    assert_eq!(
        encoded(&req)["output_config"],
        json!({"format":{"type":"json_schema","schema":schema}})
    );
    assert_eq!(
        decode_request(P, &encode_request(P, &req).unwrap()).unwrap(),
        req
    );
    let req = Request {
        response_format: Some(ResponseFormat::JsonObject),
        ..base
    };
    let v = encoded(&req);
    assert_eq!(v["system"][0]["text"], "sys");
    assert!(
        v["system"][1]["text"]
            .as_str()
            .unwrap()
            .contains("JSON object")
    );
}

#[test]
fn stop_reasons_map_both_ways() {
    let body = json!({"id":"msg_1","type":"message","role":"assistant","model":"m",
        "content":[{"type":"text","text":"a"}],"stop_reason":"stop_sequence",
        "stop_sequence":"END","usage":{"input_tokens":1,"output_tokens":1}});
    let resp = decode_response(P, body.to_string().as_bytes()).unwrap();
    assert_eq!(resp.finish, Some(FinishReason::Stop));
    assert_eq!(resp.stop_sequence.as_deref(), Some("END"));
    let v = json_of(&encode_response(P, &resp).unwrap());
    assert_eq!(v["stop_reason"], "stop_sequence");
    assert_eq!(v["stop_sequence"], "END");
    for (wire, canonical) in [
        ("end_turn", FinishReason::Stop),
        ("max_tokens", FinishReason::Length),
        ("tool_use", FinishReason::ToolCalls),
        ("refusal", FinishReason::ContentFilter),
        ("pause_turn", FinishReason::Other("pause_turn".into())),
    ] {
        let mut b = body.clone();
        b["stop_reason"] = json!(wire);
        b["stop_sequence"] = Value::Null;
        let resp = decode_response(P, b.to_string().as_bytes()).unwrap();
        assert_eq!(resp.finish, Some(canonical));
        assert_eq!(
            json_of(&encode_response(P, &resp).unwrap())["stop_reason"],
            wire
        );
    }
    let other = Response {
        finish: Some(FinishReason::Other("MALFORMED_FUNCTION_CALL".into())),
        ..Response::default()
    };
    let v = json_of(&encode_response(P, &other).unwrap());
    assert_eq!(v["stop_reason"], "end_turn");
    assert!(v["id"].as_str().unwrap().starts_with("msg_"));
}

#[test]
fn unsupported_response_content() {
    let body = json!({"id":"msg_1","type":"message","role":"assistant","model":"m",
        "content":[{"type":"web_search_tool_result","tool_use_id":"x","content":[]}],
        "stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":1}});
    assert!(matches!(decode_response(P, body.to_string().as_bytes()),
        Err(ConvertError::Unsupported(m)) if m.contains("web_search_tool_result")));
    let image = Response {
        content: vec![Part::Image {
            source: ImageSource::Url {
                url: "https://x/y.png".into(),
            },
        }],
        ..Response::default()
    };
    assert!(matches!(
        encode_response(P, &image),
        Err(ConvertError::Unsupported(_))
    ));
}

fn event_strategy() -> impl Strategy<Value = StreamEvent> {
    EventStrategy {
        text: "[a-z{}\" \\n\u{1F980}]{0,8}",
        created: Just(None).boxed(),
        call_index: (0u32..3).boxed(),
        arguments_index: (0u32..3).boxed(),
        usage: (0u64..1000, 0u64..1000, 0u64..100)
            .prop_map(|(i, o, c)| Usage {
                input_tokens: i,
                output_tokens: o,
                cache_read_tokens: c,
                cache_write_tokens: c / 2,
                reasoning_tokens: 0,
            })
            .boxed(),
        stop_sequence: Just(None).boxed(),
    }
    .events()
}

proptest! {
    #[test]
    fn decoders_never_panic(body in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode_request(P, &body);
        let _ = decode_response(P, &body);
        let mut dec = stream_decoder(P);
        let mut out = Vec::new();
        let _ = dec.feed(&String::from_utf8_lossy(&body), &mut out);
        dec.finish(&mut out);
    }

    #[test]
    fn stream_decoder_survives_mutated_events(
        picks in proptest::collection::vec((0usize..64, 0usize..400, any::<char>()), 1..20),
    ) {
        let events = stream_fixture_payloads(P);
        let mut dec = stream_decoder(P);
        let mut out = Vec::new();
        for (i, at, c) in picks {
            let mut data: Vec<char> = events[i % events.len()].chars().collect();
            if !data.is_empty() {
                let at = at % data.len();
                if c.is_ascii_digit() { data.truncate(at) } else { data[at] = c }
            }
            let data: String = data.into_iter().collect();
            let _ = dec.feed(&data, &mut out);
        }
        dec.finish(&mut out);
        let starts = out.iter().filter(|e| matches!(e, StreamEvent::Start { .. })).count();
        prop_assert!(starts <= 1);
    }

    #[test]
    fn stream_encoder_never_panics(events in proptest::collection::vec(event_strategy(), 0..30)) {
        let out = encode_stream(&events);
        // Whatever it wrote is well-formed SSE with JSON data that the
        // decoder accepts.
        let mut dec = stream_decoder(P);
        let mut back = Vec::new();
        for e in sse_events(&out) {
            prop_assert!(e.event.is_some());
            prop_assert!(dec.feed(&e.data, &mut back).is_ok(), "{}", e.data);
        }
    }

    #[test]
    fn request_decoder_survives_mutated_fixtures(at in 0usize..2000, c in any::<u8>()) {
        for name in common::REQUEST_FIXTURES {
            let mut body = fixture(name);
            let at = at % body.len();
            body[at] = c;
            let _ = decode_request(P, &body);
        }
    }
}

/// google-genai turns a `thoughtSignature` into bytes and writes it back
/// URL-safe base64, so an Anthropic signature handed to a Gemini client
/// comes back with `-` / `_` for `+` / `/`: it goes to Anthropic in the
/// standard alphabet it was issued in. Other values are left alone.
#[test]
fn signatures_go_back_in_standard_base64() {
    let gemini_client = json!({"contents": [
        {"role":"user","parts":[{"text":"q"}]},
        {"role":"model","parts":[
            {"text":"27*43 = 1161","thought":true},
            {"text":"1161.","thoughtSignature":"EqQBCkYIBxgCKkD--__AAAAAAAAAAAAAAAAAAAA="}
        ]},
        {"role":"user","parts":[{"text":"next"}]}
    ]});
    let mut req = decode_request(Protocol::Gemini, gemini_client.to_string().as_bytes()).unwrap();
    req.model = "m".into();
    let body: Value = serde_json::from_slice(&encode_request(P, &req).unwrap()).unwrap();
    assert_eq!(
        body["messages"][1]["content"][0],
        json!({"type":"thinking","thinking":"27*43 = 1161",
               "signature":"EqQBCkYIBxgCKkD++//AAAAAAAAAAAAAAAAAAAA="})
    );
    for kept in [
        "sig-abc",
        "EqQBCkYIBxgCKkD++//AAAAAAAAAAAAAAAAAAAA=",
        "a-b_c",
    ] {
        let req = Request {
            model: "m".into(),
            messages: vec![
                user(vec![Part::text("q")]),
                assistant(vec![reasoning("t", Some(kept)), Part::text("a")]),
            ],
            ..Request::default()
        };
        let body: Value = serde_json::from_slice(&encode_request(P, &req).unwrap()).unwrap();
        assert_eq!(body["messages"][1]["content"][0]["signature"], kept);
    }
}
