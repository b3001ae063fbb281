//! Gemini generateContent converter: golden fixtures, round trips, turn rules, errors and property tests.
#![cfg(test)]

mod common;

use common::{
    EventStrategy, args, assistant as model, calc_tool, call, call_start, capture, decode_payloads,
    encode_stream_with, finish, image_messages, json_fixture, json_of as value, reasoning, result,
    sse_data, start, stream_fixture_payloads, text, text_events, text_request, unsupported, usage,
    user, weather_question_and_calls, weather_tool,
};
use gproxy_protocol::Protocol;
use gproxy_protocol::convert::{
    Assembler, ConvertError, FinishReason, ImageSource, Part, ReasoningConfig, Request, Response,
    ResponseFormat, StreamEvent, StreamOptions, Tool, ToolChoice, Usage, decode_request,
    decode_response, encode_request, encode_response, response_events, stream_decoder,
};
use gproxy_protocol::json_array::JsonArraySplitter;
use proptest::prelude::*;
use serde_json::{Value, json};

const G: Protocol = Protocol::Gemini;

fn fixture(name: &str) -> Vec<u8> {
    common::fixture(G, name)
}

/// JSON-array elements, split 7 bytes at a time.
fn array_elements(bytes: &[u8]) -> Vec<String> {
    let mut splitter = JsonArraySplitter::new();
    let mut out = Vec::new();
    for chunk in bytes.chunks(7) {
        splitter.feed(chunk, &mut out).unwrap();
    }
    out.into_iter()
        .map(|e| String::from_utf8(e).unwrap())
        .collect()
}

fn decode_stream(payloads: &[String]) -> Vec<StreamEvent> {
    decode_payloads(G, payloads)
}

fn encode_stream(events: &[StreamEvent], sse: bool) -> Vec<u8> {
    let options = StreamOptions {
        gemini_sse: sse,
        ..StreamOptions::default()
    };
    encode_stream_with(G, options, events)
}

fn assemble(events: Vec<StreamEvent>) -> Response {
    let mut asm = Assembler::new();
    for e in events {
        asm.push(e);
    }
    asm.finish().unwrap()
}

// ---------- expected canonical values ----------

fn req_text() -> Request {
    Request {
        model: String::new(),
        ..text_request()
    }
}

fn req_tools() -> Request {
    let [question, calls] = weather_question_and_calls();
    Request {
        tools: vec![weather_tool()],
        tool_choice: Some(ToolChoice::Auto),
        messages: vec![
            question,
            calls,
            user(vec![
                result("call_paris", Some("get_weather"), "18C, sunny", false),
                result(
                    "call_tokyo",
                    Some("get_weather"),
                    "service unavailable",
                    true,
                ),
            ]),
            user(vec![text("Thanks!")]),
        ],
        ..Request::default()
    }
}

fn req_thinking() -> Request {
    Request {
        tools: vec![calc_tool()],
        max_tokens: Some(4096),
        reasoning: Some(ReasoningConfig {
            effort: None,
            budget_tokens: Some(2048),
            include_thoughts: Some(true),
        }),
        messages: vec![
            user(vec![text("What is 27*43?")]),
            model(vec![
                reasoning("Multiply 27 by 43.", Some("sig-abc")),
                call("call_calc", "calc", r#"{"expr":"27*43"}"#),
            ]),
            user(vec![result("call_calc", Some("calc"), "1161", false)]),
        ],
        ..Request::default()
    }
}

fn req_image() -> Request {
    Request {
        messages: image_messages(),
        ..Request::default()
    }
}

fn resp_text() -> Response {
    common::text_response("text1", None)
}

fn resp_tools() -> Response {
    common::tools_response("tools1", None)
}

fn resp_thinking() -> Response {
    common::thinking_response("thinking1", None, Some("sig-abc"), 25)
}

// ---------- requests ----------

#[test]
fn request_fixtures_decode() {
    for (name, expected) in [
        ("request_text.json", req_text()),
        ("request_tools.json", req_tools()),
        ("request_thinking.json", req_thinking()),
        ("request_image.json", req_image()),
    ] {
        assert_eq!(
            decode_request(G, &fixture(name)).unwrap(),
            expected,
            "{name}"
        );
    }
}

#[test]
fn request_fixtures_encode() {
    for (name, req) in [
        ("request_text.json", req_text()),
        ("request_tools.encoded.json", req_tools()),
        ("request_thinking.encoded.json", req_thinking()),
        ("request_image.encoded.json", req_image()),
    ] {
        assert_eq!(
            value(&encode_request(G, &req).unwrap()),
            json_fixture(G, name),
            "{name}"
        );
    }
}

#[test]
fn request_round_trip() {
    for req in [req_text(), req_tools(), req_thinking(), req_image()] {
        // One pass normalises to Gemini's shape (merged turns, derived ids);
        // from then on decode(encode(x)) == x.
        let once = decode_request(G, &encode_request(G, &req).unwrap()).unwrap();
        let twice = decode_request(G, &encode_request(G, &once).unwrap()).unwrap();
        assert_eq!(twice, once);
    }
    // Without tool calls and with one message per role, the first pass is exact.
    assert_eq!(
        decode_request(G, &encode_request(G, &req_text()).unwrap()).unwrap(),
        req_text()
    );
}

#[test]
fn request_ids_are_derived_and_results_matched_by_name() {
    let body = json_fixture(G, "request_tools.encoded.json");
    let req = decode_request(G, body.to_string().as_bytes()).unwrap();
    assert_eq!(
        req.messages[1].content[1..],
        [
            call("call_get_weather_1_0", "get_weather", r#"{"city":"Paris"}"#),
            call("call_get_weather_1_1", "get_weather", r#"{"city":"Tokyo"}"#),
        ]
    );
    assert_eq!(
        req.messages[2].content,
        vec![
            result(
                "call_get_weather_1_0",
                Some("get_weather"),
                "18C, sunny",
                false
            ),
            result(
                "call_get_weather_1_1",
                Some("get_weather"),
                "service unavailable",
                true
            ),
            text("Thanks!"),
        ]
    );
}

#[test]
fn request_options_round_trip() {
    let req = Request {
        messages: vec![user(vec![text("hi")])],
        top_k: Some(40),
        presence_penalty: Some(0.5),
        frequency_penalty: Some(-0.5),
        seed: Some(7),
        tools: vec![weather_tool()],
        tool_choice: Some(ToolChoice::Named("get_weather".into())),
        response_format: Some(ResponseFormat::JsonSchema {
            name: "response".into(),
            schema: json!({"type":"object","properties":{"a":{"type":"string"}}}),
            strict: None,
        }),
        ..Request::default()
    };
    let body = value(&encode_request(G, &req).unwrap());
    assert_eq!(
        body["toolConfig"],
        json!({"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["get_weather"]}})
    );
    assert_eq!(
        body["generationConfig"]["responseMimeType"],
        "application/json"
    );
    assert_eq!(decode_request(G, body.to_string().as_bytes()).unwrap(), req);
    for (choice, mode) in [
        (ToolChoice::Auto, "AUTO"),
        (ToolChoice::None, "NONE"),
        (ToolChoice::Required, "ANY"),
    ] {
        let req = Request {
            tool_choice: Some(choice.clone()),
            ..req.clone()
        };
        let body = value(&encode_request(G, &req).unwrap());
        assert_eq!(body["toolConfig"]["functionCallingConfig"]["mode"], mode);
        assert_eq!(
            decode_request(G, body.to_string().as_bytes())
                .unwrap()
                .tool_choice,
            Some(choice)
        );
    }
}

#[test]
fn request_snake_case_and_openapi_types_are_accepted() {
    let body = json!({
        "system_instruction": {"parts": [{"text": "sys"}]},
        "contents": [{"role": "user", "parts": [{"text": "x"},
            {"inline_data": {"mime_type": "image/jpeg", "data": "AA=="}}]}],
        "tools": [{"function_declarations": [{"name": "f", "parameters":
            {"type": "OBJECT", "properties": {"a": {"type": "STRING", "nullable": true}}}}]}],
        "tool_config": {"function_calling_config": {"mode": "ANY", "allowed_function_names": ["f"]}},
        "generation_config": {"max_output_tokens": 5, "top_k": 3.0,
            "thinking_config": {"thinking_level": "LOW"}, "response_mime_type": "text/plain"},
        "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]
    });
    let req = decode_request(G, body.to_string().as_bytes()).unwrap();
    assert_eq!(req.system, vec!["sys".to_string()]);
    assert_eq!(req.max_tokens, Some(5));
    assert_eq!(req.top_k, Some(3));
    assert_eq!(req.tool_choice, Some(ToolChoice::Named("f".into())));
    assert_eq!(req.response_format, Some(ResponseFormat::Text));
    assert_eq!(
        req.reasoning.as_ref().unwrap().effort.as_deref(),
        Some("low")
    );
    assert_eq!(
        req.tools[0].parameters,
        json!({"type":"object","properties":{"a":{"type":["string","null"]}}})
    );
    // An effort is sent as a budget, and the thoughts are asked for (other
    // protocols show the reasoning they enable).
    let body = value(&encode_request(G, &req).unwrap());
    assert_eq!(
        body["generationConfig"]["thinkingConfig"],
        json!({"thinkingBudget": 1024, "includeThoughts": true})
    );
    assert_eq!(
        body["tools"][0]["functionDeclarations"][0]["parameters"],
        json!({"type":"object","properties":{"a":{"type":"string","nullable":true}}})
    );
}

#[test]
fn tool_schemas_are_cleaned_and_empty_parameters_left_out() {
    let req = Request {
        messages: vec![user(vec![text("hi")])],
        tools: vec![
            Tool {
                name: "a".into(),
                description: None,
                parameters: json!({"$schema":"https://json-schema.org/draft/2020-12/schema",
                    "type":"object","additionalProperties":false,
                    "$defs":{"U":{"type":"string","enum":["c","f"]}},
                    "properties":{"u":{"$ref":"#/$defs/U"},"n":{"type":["integer","null"],"default":1}},
                    "required":["u","missing"]}),
                strict: Some(true),
            },
            Tool {
                name: "b".into(),
                description: None,
                parameters: json!({"type":"object","properties":{}}),
                strict: None,
            },
        ],
        ..Request::default()
    };
    let body = value(&encode_request(G, &req).unwrap());
    assert_eq!(
        body["tools"],
        json!([{"functionDeclarations":[
            {"name":"a","parameters":{"type":"object","properties":{
                "u":{"type":"string","enum":["c","f"]},"n":{"type":"integer","nullable":true}},
                "required":["u"]}},
            {"name":"b"}]}])
    );
}

#[test]
fn parameterless_tools_under_forced_mode_get_an_empty_object() {
    let mut req = Request {
        messages: vec![user(vec![text("hi")])],
        tools: vec![Tool {
            name: "ping".into(),
            description: None,
            parameters: json!({"type":"object"}),
            strict: None,
        }],
        tool_choice: Some(ToolChoice::Auto),
        ..Request::default()
    };
    let body = value(&encode_request(G, &req).unwrap());
    assert_eq!(
        body["tools"][0]["functionDeclarations"][0],
        json!({"name":"ping"})
    );
    req.tool_choice = Some(ToolChoice::Required);
    let body = value(&encode_request(G, &req).unwrap());
    assert_eq!(
        body["tools"][0]["functionDeclarations"][0],
        json!({"name":"ping","parameters":{"type":"object","properties":{}}})
    );
    // Both decode back to the canonical parameter-less schema.
    let back = decode_request(G, body.to_string().as_bytes()).unwrap();
    assert_eq!(
        back.tools[0].parameters,
        json!({"type":"object","properties":{}})
    );
}

#[test]
fn tool_result_images_travel_as_sibling_parts() {
    let png = ImageSource::Base64 {
        media_type: "image/png".into(),
        data: "AA==".into(),
    };
    let req = Request {
        messages: vec![
            user(vec![text("q")]),
            model(vec![call("c1", "shot", "{}")]),
            user(vec![Part::ToolResult {
                call_id: "c1".into(),
                name: None,
                content: vec![
                    text("see"),
                    Part::Image {
                        source: png.clone(),
                    },
                ],
                is_error: false,
            }]),
        ],
        ..Request::default()
    };
    assert_eq!(
        contents(&req)[2],
        json!({"role":"user","parts":[
            {"functionResponse":{"name":"shot","response":{"result":"see"}}},
            {"inlineData":{"mimeType":"image/png","data":"AA=="}}]})
    );
    // Multimodal functionResponse.parts decode into the result.
    let body = json!({"contents":[{"role":"user","parts":[{"functionResponse":{"name":"shot",
        "response":{"output":{"ok":true}},"parts":[{"inlineData":{"mimeType":"image/png","data":"AA=="}}]}}]}]});
    let req = decode_request(G, body.to_string().as_bytes()).unwrap();
    assert_eq!(
        req.messages[0].content,
        vec![Part::ToolResult {
            call_id: "call_shot_0_0".into(),
            name: Some("shot".into()),
            content: vec![text(r#"{"ok":true}"#), Part::Image { source: png }],
            is_error: false,
        }]
    );
}

// ---------- turn rules ----------

fn contents(req: &Request) -> Value {
    value(&encode_request(G, req).unwrap())["contents"].clone()
}

#[test]
fn turn_rule_first_turn_is_user() {
    let req = Request {
        messages: vec![
            model(vec![call("c1", "f", "{}")]),
            user(vec![result("c1", None, "ok", false)]),
        ],
        ..Request::default()
    };
    assert_eq!(
        contents(&req),
        json!([
            {"role":"user","parts":[{"text":"."}]},
            {"role":"model","parts":[{"functionCall":{"name":"f","args":{}}}]},
            {"role":"user","parts":[{"functionResponse":{"name":"f","response":{"result":"ok"}}}]}
        ])
    );
}

#[test]
fn turn_rule_tool_results_are_user_function_responses() {
    let req = Request {
        messages: vec![
            user(vec![text("q")]),
            model(vec![call("c1", "f", r#"{"x":1}"#)]),
            user(vec![result("c1", None, "bad", true)]),
        ],
        ..Request::default()
    };
    assert_eq!(
        contents(&req)[2],
        json!({"role":"user","parts":[{"functionResponse":{"name":"f","response":{"error":"bad"}}}]})
    );
}

#[test]
fn turn_rule_same_role_turns_merge_and_empty_parts_drop() {
    let req = Request {
        messages: vec![
            user(vec![text("a")]),
            user(vec![text("")]),
            model(vec![text("b")]),
            model(vec![text(""), call("c1", "f", "{}")]),
            user(vec![result("c1", Some("f"), "r", false)]),
            user(vec![text("c")]),
        ],
        ..Request::default()
    };
    assert_eq!(
        contents(&req),
        json!([
            {"role":"user","parts":[{"text":"a"}]},
            {"role":"model","parts":[{"text":"b"},{"functionCall":{"name":"f","args":{}}}]},
            {"role":"user","parts":[{"functionResponse":{"name":"f","response":{"result":"r"}}},{"text":"c"}]}
        ])
    );
}

#[test]
fn turn_rule_empty_contents_is_invalid() {
    for messages in [vec![], vec![user(vec![text("")]), model(vec![])]] {
        let req = Request {
            messages,
            system: vec!["sys".into()],
            ..Request::default()
        };
        match encode_request(G, &req) {
            Err(ConvertError::Invalid(m)) => {
                assert!(m.contains("contents must not be empty"), "{m}")
            }
            other => panic!("{other:?}"),
        }
    }
}

// ---------- thought signatures ----------

#[test]
fn signatures_go_on_the_next_part_or_the_thought_itself() {
    let req = Request {
        messages: vec![
            user(vec![text("q")]),
            model(vec![
                reasoning("t1", Some("s1")),
                text("answer"),
                reasoning("", Some("s2")),
                call("c1", "f", "{}"),
                reasoning("t3", Some("s3")),
            ]),
        ],
        ..Request::default()
    };
    let body = contents(&req);
    assert_eq!(
        body[1]["parts"],
        json!([
            {"text":"t1","thought":true},
            {"text":"answer","thoughtSignature":"s1"},
            {"functionCall":{"name":"f","args":{}},"thoughtSignature":"s2"},
            {"text":"t3","thought":true,"thoughtSignature":"s3"}
        ])
    );
    // Decoding mirrors it.
    let back = decode_request(G, json!({"contents": body}).to_string().as_bytes()).unwrap();
    assert_eq!(
        back.messages[1].content,
        vec![
            reasoning("t1", Some("s1")),
            text("answer"),
            reasoning("", Some("s2")),
            call("call_f_1_0", "f", "{}"),
            reasoning("t3", Some("s3")),
        ]
    );
}

/// A streamed thought reaches a client as one thought part per chunk, and
/// SDKs (google-genai) hand the accumulated parts back as they got them:
/// consecutive unsigned thought parts are one reasoning block, so the
/// signature that follows covers the whole text. Split, an Anthropic
/// upstream got the signature with only the last piece of the thinking
/// (which it rejects) and a Responses upstream lost the other pieces.
#[test]
fn consecutive_thought_parts_are_one_reasoning_block() {
    let body = json!({"contents": [
        {"role":"user","parts":[{"text":"q"}]},
        {"role":"model","parts":[
            {"text":"27*43","thought":true},
            {"text":" = 1161","thought":true},
            {"text":"1161","thoughtSignature":"sig-abc"},
            {"text":"."},
            {"text":"again","thought":true,"thoughtSignature":"s2"},
            {"text":"more","thought":true}
        ]},
        {"role":"user","parts":[{"text":"next"}]}
    ]});
    let req = decode_request(G, body.to_string().as_bytes()).unwrap();
    assert_eq!(
        req.messages[1].content,
        vec![
            reasoning("27*43 = 1161", Some("sig-abc")),
            text("1161"),
            text("."),
            // A signed thought closes its block.
            reasoning("again", Some("s2")),
            reasoning("more", None),
        ]
    );
    let claude: Value = serde_json::from_slice(
        &encode_request(
            Protocol::Claude,
            &Request {
                model: "m".into(),
                ..req
            },
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        claude["messages"][1]["content"][0],
        json!({"type":"thinking","thinking":"27*43 = 1161","signature":"sig-abc"})
    );
}

#[test]
fn redacted_reasoning_is_dropped() {
    let req = Request {
        messages: vec![
            user(vec![text("q")]),
            model(vec![
                Part::Reasoning {
                    text: String::new(),
                    signature: None,
                    redacted: Some("opaque".into()),
                },
                text("a"),
            ]),
        ],
        ..Request::default()
    };
    assert_eq!(
        contents(&req)[1],
        json!({"role":"model","parts":[{"text":"a"}]})
    );
}

// ---------- responses ----------

#[test]
fn response_fixtures_decode_and_encode() {
    for (raw, encoded, expected) in [
        (
            "response_text.json",
            "response_text.encoded.json",
            resp_text(),
        ),
        ("response_tools.json", "response_tools.json", resp_tools()),
        (
            "response_thinking.json",
            "response_thinking.json",
            resp_thinking(),
        ),
    ] {
        assert_eq!(
            decode_response(G, &fixture(raw)).unwrap(),
            expected,
            "{raw}"
        );
        assert_eq!(
            value(&encode_response(G, &expected).unwrap()),
            json_fixture(G, encoded),
            "{encoded}"
        );
        assert_eq!(
            decode_response(G, &encode_response(G, &expected).unwrap()).unwrap(),
            expected
        );
    }
}

#[test]
fn response_special_cases() {
    // Calls without ids get ids derived from the response id.
    let body = json!({"candidates":[{"content":{"role":"model","parts":[
        {"functionCall":{"name":"f","args":{"a":1}}},{"functionCall":{"name":"g"}}]},
        "finishReason":"STOP"}],"responseId":"r1","modelVersion":"m"});
    let r = decode_response(G, body.to_string().as_bytes()).unwrap();
    assert_eq!(
        r.content,
        vec![
            call("call_r1_0", "f", r#"{"a":1}"#),
            call("call_r1_1", "g", "{}")
        ]
    );
    assert_eq!(r.finish, Some(FinishReason::ToolCalls));
    // A blocked prompt.
    let body = json!({"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":{"promptTokenCount":3,"totalTokenCount":3}});
    let r = decode_response(G, body.to_string().as_bytes()).unwrap();
    assert_eq!(r.finish, Some(FinishReason::ContentFilter));
    assert!(r.content.is_empty());
    assert!(!r.id.is_empty());
    for (wire, canonical) in [
        ("MAX_TOKENS", FinishReason::Length),
        ("RECITATION", FinishReason::ContentFilter),
        (
            "MALFORMED_FUNCTION_CALL",
            FinishReason::Other("MALFORMED_FUNCTION_CALL".into()),
        ),
    ] {
        let body = json!({"candidates":[{"content":{"role":"model","parts":[{"text":"x"}]},"finishReason":wire}],"responseId":"r"});
        assert_eq!(
            decode_response(G, body.to_string().as_bytes())
                .unwrap()
                .finish,
            Some(canonical)
        );
    }
    let other = Response {
        finish: Some(FinishReason::Other("pause_turn".into())),
        ..resp_text()
    };
    assert_eq!(
        value(&encode_response(G, &other).unwrap())["candidates"][0]["finishReason"],
        "OTHER"
    );
}

// ---------- streams ----------

fn events_text() -> Vec<StreamEvent> {
    text_events(start("text1"))
}

fn events_tools() -> Vec<StreamEvent> {
    vec![
        start("tools1"),
        call_start(0, "call_paris", "get_weather"),
        args(0, r#"{"city":"Paris"}"#),
        call_start(1, "call_tokyo", "get_weather"),
        args(1, r#"{"city":"Tokyo"}"#),
        finish(FinishReason::ToolCalls),
        StreamEvent::Usage(usage(80, 30, 0)),
    ]
}

fn events_thinking() -> Vec<StreamEvent> {
    vec![
        start("thinking1"),
        StreamEvent::Reasoning("27*43 ".into()),
        StreamEvent::Reasoning("= 1161".into()),
        StreamEvent::ReasoningSignature("sig-abc".into()),
        StreamEvent::Text("1161.".into()),
        finish(FinishReason::Stop),
        StreamEvent::Usage(usage(15, 40, 25)),
    ]
}

#[test]
fn stream_fixtures_decode() {
    for (name, expected) in [
        ("stream_text.sse", events_text()),
        ("stream_tools.sse", events_tools()),
        ("stream_thinking.sse", events_thinking()),
    ] {
        assert_eq!(decode_stream(&sse_data(&fixture(name))), expected, "{name}");
    }
    assert_eq!(
        decode_stream(&array_elements(&fixture("stream_text.json"))),
        events_text()
    );
    // The assembled streams are the complete responses.
    assert_eq!(assemble(events_text()), resp_text());
    assert_eq!(assemble(events_tools()), resp_tools());
    assert_eq!(assemble(events_thinking()), resp_thinking());
}

#[test]
fn stream_fixtures_encode() {
    for (name, events) in [
        ("stream_text.encoded.sse", events_text()),
        ("stream_tools.encoded.sse", events_tools()),
        ("stream_thinking.encoded.sse", events_thinking()),
    ] {
        let got: Vec<Value> = sse_data(&encode_stream(&events, true))
            .iter()
            .map(|d| value(d.as_bytes()))
            .collect();
        let want: Vec<Value> = sse_data(&fixture(name))
            .iter()
            .map(|d| value(d.as_bytes()))
            .collect();
        assert_eq!(got, want, "{name}");
        // The JSON-array form holds the same elements.
        let array = value(&encode_stream(&events, false));
        assert_eq!(array, Value::Array(want), "{name} (array)");
    }
    let raw = encode_stream(&events_text(), true);
    assert!(raw.ends_with(b"}\r\n\r\n"));
    let raw = encode_stream(&events_text(), false);
    assert!(raw.starts_with(b"[{") && raw.ends_with(b"}]"));
    assert_eq!(raw.windows(3).filter(|w| w == b",\r\n").count(), 2);
}

#[test]
fn stream_round_trip() {
    for events in [events_text(), events_thinking()] {
        for sse in [true, false] {
            let wire = encode_stream(&events, sse);
            let payloads = if sse {
                sse_data(&wire)
            } else {
                array_elements(&wire)
            };
            assert_eq!(decode_stream(&payloads), events);
        }
    }
    // Split arguments are buffered into whole functionCall parts.
    let mut split = events_tools();
    split.splice(2..3, [args(0, r#"{"city":"#), args(0, r#""Paris"}"#)]);
    let decoded = decode_stream(&sse_data(&encode_stream(&split, true)));
    assert_eq!(decoded, events_tools());
    // Every fixture response replays and reassembles unchanged.
    for r in [resp_text(), resp_tools(), resp_thinking()] {
        let decoded = decode_stream(&sse_data(&encode_stream(&response_events(&r), true)));
        assert_eq!(assemble(decoded), r);
    }
}

#[test]
fn stream_edge_cases() {
    // Empty streams.
    assert_eq!(encode_stream(&[], false), b"[]");
    assert!(encode_stream(&[], true).is_empty());
    // No Start: a generated id.
    let out = encode_stream(&[StreamEvent::Text("x".into())], true);
    let chunks = sse_data(&out);
    let first = value(chunks[0].as_bytes());
    assert!(!first["responseId"].as_str().unwrap().is_empty());
    // Errors become an error element.
    let out = encode_stream(
        &[
            start("e1"),
            StreamEvent::Error {
                message: "overloaded".into(),
            },
        ],
        false,
    );
    assert_eq!(
        value(&out),
        json!([{"error":{"code":500,"message":"overloaded","status":"INTERNAL"}}])
    );
    // A trailing signature rides on an empty thought part in the last chunk.
    let out = encode_stream(
        &[
            start("s"),
            StreamEvent::Reasoning("r".into()),
            StreamEvent::ReasoningSignature("sig".into()),
        ],
        true,
    );
    let decoded = decode_stream(&sse_data(&out));
    assert_eq!(
        decoded,
        vec![
            start("s"),
            StreamEvent::Reasoning("r".into()),
            StreamEvent::ReasoningSignature("sig".into()),
        ]
    );
    // Usage on every chunk: emitted when it changes.
    let mut dec = stream_decoder(G);
    let mut ev = Vec::new();
    for n in [1, 1, 2] {
        let chunk = json!({"candidates":[{"content":{"role":"model","parts":[{"text":"a"}]}}],
            "usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":n},"responseId":"u"});
        dec.feed(&chunk.to_string(), &mut ev).unwrap();
    }
    let usages: Vec<_> = ev
        .iter()
        .filter(|e| matches!(e, StreamEvent::Usage(_)))
        .collect();
    assert_eq!(usages.len(), 2);
    // An upstream error chunk.
    let mut dec = stream_decoder(G);
    let mut ev = Vec::new();
    dec.feed(
        r#"{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED"}}"#,
        &mut ev,
    )
    .unwrap();
    assert_eq!(
        ev.get(1),
        Some(&StreamEvent::Error {
            message: "quota".into()
        })
    );
}

#[test]
fn real_captures_decode() {
    let body = capture("gemini_body.json");
    let r = decode_response(G, &body).unwrap();
    assert_eq!(r.id, "b3uUaNOqLsfQnvgP8cG9mQU");
    assert_eq!(r.model, "gemini-2.5-pro");
    assert_eq!(r.content, vec![text("AI learns patterns from data.")]);
    assert_eq!(r.usage, Some(usage(8, 7 + 1039, 1039)));
    let sse = capture("gemini_stream.sse");
    let events = decode_stream(&sse_data(&sse));
    let array = capture("gemini_stream_array.json");
    assert_eq!(decode_stream(&array_elements(&array)), events);
    let r = assemble(events);
    assert_eq!(
        r.content,
        vec![text("The quick brown fox [jumps] {over} \"the\" 狗 🐕.")]
    );
    assert_eq!(r.finish, Some(FinishReason::Stop));
    assert_eq!(
        r.usage,
        Some(Usage {
            input_tokens: 12,
            output_tokens: 15 + 166,
            cache_read_tokens: 1024,
            cache_write_tokens: 0,
            reasoning_tokens: 166,
        })
    );
}

// ---------- errors ----------

#[test]
fn errors() {
    let bad = |body: Value| decode_request(G, body.to_string().as_bytes());
    let contents = json!([{"role":"user","parts":[{"text":"x"}]}]);
    unsupported(
        bad(json!({"contents": contents, "tools":[{"fileSearch":{}}]})),
        "fileSearch",
    );
    unsupported(
        bad(
            json!({"contents":[{"role":"user","parts":[{"inlineData":{"mimeType":"application/pdf","data":"AA=="}}]}]}),
        ),
        "application/pdf",
    );
    unsupported(
        bad(
            json!({"contents":[{"role":"model","parts":[{"executableCode":{"language":"PYTHON","code":"1"}}]}]}),
        ),
        "executableCode",
    );
    unsupported(
        bad(json!({"contents": contents, "cachedContent":"cachedContents/x"})),
        "cachedContent",
    );
    unsupported(
        bad(json!({"contents": contents, "generationConfig":{"candidateCount":2}})),
        "candidateCount",
    );
    let url = Request {
        messages: vec![user(vec![Part::Image {
            source: ImageSource::Url {
                url: "ftp://example.com/cat.png".into(),
            },
        }])],
        ..Request::default()
    };
    unsupported(encode_request(G, &url), "image URL");
    let orphan = Request {
        messages: vec![user(vec![result("nope", None, "x", false)])],
        ..Request::default()
    };
    assert!(
        matches!(encode_request(G, &orphan), Err(ConvertError::Invalid(m)) if m.contains("nope"))
    );
    assert!(matches!(
        decode_request(G, b"{"),
        Err(ConvertError::Invalid(_))
    ));
    assert!(matches!(
        decode_response(G, b"[1]"),
        Err(ConvertError::Invalid(_))
    ));
    let mut dec = stream_decoder(G);
    let mut ev = Vec::new();
    assert!(matches!(
        dec.feed("{not json", &mut ev),
        Err(ConvertError::Invalid(_))
    ));
    assert!(matches!(
        dec.feed(
            r#"{"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","args":[1]}}]}}]}"#,
            &mut ev
        ),
        Err(ConvertError::Invalid(_))
    ));
}

// ---------- properties ----------

fn event_strategy() -> impl Strategy<Value = StreamEvent> {
    EventStrategy {
        text: "[a-z{}\":, ]{0,8}",
        created: Just(None).boxed(),
        call_index: (0u32..3).boxed(),
        arguments_index: (0u32..3).boxed(),
        usage: (0u64..100, 0u64..100)
            .prop_map(|(i, o)| usage(i, o, o / 2))
            .boxed(),
        stop_sequence: Just(None).boxed(),
    }
    .events()
}

proptest! {
    #[test]
    fn decoders_never_panic(input in ".{0,200}", bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode_request(G, input.as_bytes());
        let _ = decode_request(G, &bytes);
        let _ = decode_response(G, input.as_bytes());
        let _ = decode_response(G, &bytes);
        let mut dec = stream_decoder(G);
        let mut out = Vec::new();
        let _ = dec.feed(&input, &mut out);
        dec.finish(&mut out);
    }

    #[test]
    fn stream_decoder_survives_mutated_fixtures(pick in 0usize..8, at in any::<usize>(), cut in any::<usize>(), junk in "[\\[\\]{}\",:a-z0-9]{0,4}") {
        let payloads = stream_fixture_payloads(G);
        let mut dec = stream_decoder(G);
        let mut out = Vec::new();
        for (i, p) in payloads.iter().enumerate() {
            let mut p = p.clone();
            if i == pick % payloads.len() {
                let mut at = at % (p.len() + 1);
                while !p.is_char_boundary(at) { at -= 1; }
                let end = (at + cut % 8).min(p.len());
                let end = if p.is_char_boundary(end) { end } else { at };
                p.replace_range(at..end, &junk);
            }
            let _ = dec.feed(&p, &mut out);
        }
        dec.finish(&mut out);
        let starts_right = matches!(out.first(), None | Some(StreamEvent::Start { .. }));
        prop_assert!(starts_right);
    }

    #[test]
    fn stream_encoder_never_panics(events in proptest::collection::vec(event_strategy(), 0..16)) {
        // The JSON-array form is always one valid array.
        let array = encode_stream(&events, false);
        prop_assert!(serde_json::from_slice::<Vec<Value>>(&array).is_ok());
        // Every SSE event is a JSON object that decodes.
        let mut dec = stream_decoder(G);
        let mut out = Vec::new();
        for data in sse_data(&encode_stream(&events, true)) {
            prop_assert!(serde_json::from_str::<Value>(&data).is_ok());
            prop_assert!(dec.feed(&data, &mut out).is_ok());
        }
    }
}
