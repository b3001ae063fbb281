//! Requests captured from the coding agents (Claude Code, Codex, Gemini
//! CLI; see `tests/fixtures/agents/`) decode and convert to every protocol.
#![cfg(test)]

use std::path::PathBuf;

use gproxy_protocol::Protocol;
use gproxy_protocol::convert::{self, Part, Role};
use serde_json::{Value, json};

/// `(fixture, protocol it was sent in)`.
const CAPTURES: [(&str, Protocol); 9] = [
    ("codex_default_model_first", Protocol::OpenAiResponses),
    ("claude_code_first", Protocol::Claude),
    ("claude_code_tool", Protocol::Claude),
    ("claude_code_2_1_332_first", Protocol::Claude),
    ("claude_code_2_1_332_tool", Protocol::Claude),
    ("codex_first", Protocol::OpenAiResponses),
    ("codex_tool", Protocol::OpenAiResponses),
    ("gemini_cli_first", Protocol::Gemini),
    ("gemini_cli_tool", Protocol::Gemini),
];

fn body(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/agents")
        .join(format!("{name}.json"));
    let capture: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    serde_json::to_vec(&capture["body"]).unwrap()
}

#[test]
fn every_capture_converts_to_every_protocol() {
    let mut failures = Vec::new();
    for (name, from) in CAPTURES {
        let mut req = match convert::decode_request(from, &body(name)) {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{name}: decode: {e}"));
                continue;
            }
        };
        req.model = "test-model".into();
        for to in Protocol::ALL {
            if let Err(e) = convert::encode_request(to, &req) {
                failures.push(format!("{name} -> {to}: {e}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A response of tool calls `(id, name, arguments)`.
fn calls_response(calls: &[(&str, &str, &str)]) -> convert::Response {
    let content = calls
        .iter()
        .map(|(id, name, arguments)| Part::ToolCall {
            id: (*id).into(),
            name: (*name).into(),
            arguments: (*arguments).into(),
        })
        .collect();
    convert::Response {
        id: "r".into(),
        model: "m".into(),
        content,
        ..Default::default()
    }
}

/// `resp` as a whole Responses body for a request with `aliases`.
fn responses_body(resp: &convert::Response, aliases: &convert::ToolAliases) -> Value {
    serde_json::from_slice(
        &convert::encode_response_with(Protocol::OpenAiResponses, resp, aliases).unwrap(),
    )
    .unwrap()
}

/// `resp` as a Responses stream for a request with `aliases`: the raw
/// text and each event's data.
fn responses_stream(
    resp: &convert::Response,
    aliases: &convert::ToolAliases,
) -> (String, Vec<Value>) {
    let mut enc = convert::stream_encoder(Protocol::OpenAiResponses, Default::default());
    enc.set_tool_aliases(aliases.clone());
    let mut out = Vec::new();
    for e in convert::response_events(resp) {
        enc.encode(&e, &mut out);
    }
    enc.finish(&mut out);
    let text = String::from_utf8(out).unwrap();
    let events = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .collect();
    (text, events)
}

fn decode(protocol: Protocol, body: Value) -> convert::Request {
    convert::decode_request(protocol, body.to_string().as_bytes()).unwrap()
}

#[test]
fn hosted_tools_are_dropped_and_listed() {
    let f = json!({"type": "function", "name": "f", "parameters": {"type": "object"}});
    let r = decode(
        Protocol::OpenAiResponses,
        json!({"model": "m", "input": "x",
               "tools": [{"type": "web_search", "external_web_access": false}, f, {"type": "web_search"}]}),
    );
    assert_eq!(r.dropped, ["tools.web_search"]);
    assert_eq!(r.tools.len(), 1);
    let r = decode(
        Protocol::Claude,
        json!({"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": "x"}],
               "tools": [{"type": "web_search_20250305", "name": "web_search"},
                         {"name": "g", "input_schema": {"type": "object"}}]}),
    );
    assert_eq!(r.dropped, ["tools.web_search_20250305"]);
    assert_eq!(r.tools[0].name, "g");
    let r = decode(
        Protocol::Gemini,
        json!({"contents": [{"role": "user", "parts": [{"text": "x"}]}],
               "tools": [{"googleSearch": {}}, {"functionDeclarations": [{"name": "h"}]}]}),
    );
    assert_eq!(r.dropped, ["tools.googleSearch"]);
    assert_eq!(r.tools[0].name, "h");
}

/// Codex's namespace tool: flattened under names no plain tool has, calls
/// in the history renamed the same way, and the answer's calls written back
/// with the tool's own name and its `namespace`.
#[test]
fn namespaced_tools_flatten_and_come_back() {
    let f =
        |name: &str| json!({"type": "function", "name": name, "parameters": {"type": "object"}});
    let r = decode(
        Protocol::OpenAiResponses,
        json!({"model": "m",
               "tools": [f("multi_agent_v1__spawn_agent"),
                         {"type": "namespace", "name": "multi_agent_v1", "tools": [f("spawn_agent"), f("wait_agent")]}],
               "input": [
                   {"role": "user", "content": "x"},
                   {"type": "function_call", "call_id": "c1", "name": "wait_agent", "namespace": "multi_agent_v1", "arguments": "{}"},
                   {"type": "function_call_output", "call_id": "c1", "output": "ok"}]}),
    );
    let names: Vec<&str> = r.tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "multi_agent_v1__spawn_agent",
            "multi_agent_v1__spawn_agent_2",
            "multi_agent_v1__wait_agent"
        ]
    );
    assert!(matches!(&r.messages[1].content[0],
        Part::ToolCall { name, .. } if name == "multi_agent_v1__wait_agent"));
    // Claude sees plain function tools.
    let claude: Value =
        serde_json::from_slice(&convert::encode_request(Protocol::Claude, &r).unwrap()).unwrap();
    assert_eq!(claude["tools"][1]["name"], "multi_agent_v1__spawn_agent_2");
    assert_eq!(
        claude["messages"][1]["content"][0]["name"],
        "multi_agent_v1__wait_agent"
    );

    // Back: a whole response and a stream.
    let resp = calls_response(&[
        ("c2", "multi_agent_v1__spawn_agent_2", "{}"),
        ("c3", "multi_agent_v1__spawn_agent", "{}"),
    ]);
    let body = responses_body(&resp, &r.tool_aliases);
    assert_eq!(body["output"][0]["name"], "spawn_agent");
    assert_eq!(body["output"][0]["namespace"], "multi_agent_v1");
    assert_eq!(body["output"][1]["name"], "multi_agent_v1__spawn_agent");
    assert!(body["output"][1].get("namespace").is_none());

    let (text, events) = responses_stream(&resp, &r.tool_aliases);
    let items: Vec<Value> = events
        .iter()
        .filter(|v| {
            v["type"] == "response.output_item.added" || v["type"] == "response.output_item.done"
        })
        .map(|v| v["item"].clone())
        .collect();
    assert_eq!(items.len(), 4, "{text}");
    for item in &items[..2] {
        assert_eq!(item["name"], "spawn_agent", "{item}");
        assert_eq!(item["namespace"], "multi_agent_v1", "{item}");
    }
    assert!(items[3].get("namespace").is_none());
}

/// Claude Code's `role: "system"` message after the user turn: in place
/// for Chat and Responses, appended to the system instruction for Gemini
/// (and for Anthropic itself).
#[test]
fn system_messages_inside_the_conversation() {
    let r = decode(
        Protocol::Claude,
        json!({"model": "m", "max_tokens": 1, "system": "base",
               "messages": [{"role": "system", "content": "lead"},
                            {"role": "user", "content": "hi"},
                            {"role": "system", "content": [{"type": "text", "text": "ctx"}]}]}),
    );
    assert_eq!(r.system, ["base", "lead"]);
    assert_eq!(r.messages.len(), 2);
    assert_eq!(r.messages[1].role, Role::System);
    let enc =
        |p| -> Value { serde_json::from_slice(&convert::encode_request(p, &r).unwrap()).unwrap() };
    let chat = enc(Protocol::OpenAiChat);
    let roles: Vec<&str> = chat["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["system", "system", "user", "system"]);
    assert_eq!(chat["messages"][3]["content"], "ctx");
    let responses = enc(Protocol::OpenAiResponses);
    assert_eq!(responses["instructions"], "base\n\nlead");
    assert_eq!(
        responses["input"][1],
        json!({"role": "system", "content": "ctx"})
    );
    let gemini = enc(Protocol::Gemini);
    assert_eq!(
        gemini["systemInstruction"]["parts"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(gemini["systemInstruction"]["parts"][2]["text"], "ctx");
    assert_eq!(gemini["contents"].as_array().unwrap().len(), 1);
    let claude = enc(Protocol::Claude);
    assert_eq!(claude["system"][2]["text"], "ctx");
    assert_eq!(claude["messages"].as_array().unwrap().len(), 1);
    // A non-text system message is refused by name.
    let err = convert::decode_request(
        Protocol::Claude,
        json!({"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": "hi"},
               {"role": "system", "content": [{"type": "image", "source": {"type": "url", "url": "https://x/y.png"}}]}]})
            .to_string()
            .as_bytes(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("system"), "{err}");
}

/// A converted request's outline for a golden file: strings cut to 60
/// characters, arrays to 12 items, nesting to 5 levels (tool schemas and
/// prompts are long; their order, roles, part types, field names and
/// scalar values are what the conversion decides).
fn outline(v: &Value, depth: usize) -> Value {
    match v {
        Value::String(s) if s.chars().count() > 60 => Value::String(format!(
            "{}… ({} chars)",
            s.chars().take(60).collect::<String>(),
            s.chars().count()
        )),
        _ if depth >= 5 && (v.is_object() || v.is_array()) => json!("…"),
        Value::Array(items) => {
            let mut out: Vec<Value> = items
                .iter()
                .take(12)
                .map(|i| outline(i, depth + 1))
                .collect();
            if items.len() > 12 {
                out.push(json!(format!("… {} more", items.len() - 12)));
            }
            Value::Array(out)
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), outline(v, depth + 1)))
                .collect(),
        ),
        _ => v.clone(),
    }
}

/// Each capture converted to every other protocol, pinned as an outline in
/// `tests/fixtures/agents/converted/<capture>__<protocol>.json`
/// (`GPROXY_BLESS=1` rewrites them; review the diff).
#[test]
fn converted_captures_match_their_golden_outlines() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/agents/converted");
    let mut failures = Vec::new();
    for (name, from) in CAPTURES {
        let mut req = convert::decode_request(from, &body(name)).unwrap();
        req.model = "test-model".into();
        for to in Protocol::ALL.into_iter().filter(|p| *p != from) {
            let encoded: Value =
                serde_json::from_slice(&convert::encode_request(to, &req).unwrap()).unwrap();
            let actual = json!({"dropped": req.dropped, "request": outline(&encoded, 0)});
            let path = dir.join(format!("{name}__{to}.json"));
            if std::env::var_os("GPROXY_BLESS").is_some() {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, serde_json::to_string_pretty(&actual).unwrap() + "\n")
                    .unwrap();
                continue;
            }
            let expected: Value = std::fs::read_to_string(&path)
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or(Value::Null);
            if expected != actual {
                failures.push(format!(
                    "{}: differs (GPROXY_BLESS=1 to rewrite)",
                    path.display()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Codex's default model declares its tools in an `additional_tools` input
/// item, namespaces holding free-form (`custom`) tools: those become
/// functions taking one string, `input`, and their calls go back as
/// `custom_tool_call` items with the tool's name, namespace and input.
#[test]
fn custom_tools_become_functions_and_come_back() {
    let r = decode(
        Protocol::OpenAiResponses,
        json!({"model": "m", "tools": [{"type": "custom", "name": "apply_patch", "description": "Patch",
                                         "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/"}}],
               "input": [
                   {"type": "additional_tools", "role": "developer", "tools": [
                       {"type": "namespace", "name": "functions", "tools": [{"type": "custom", "name": "exec"}]}]},
                   {"role": "user", "content": "x"},
                   {"type": "custom_tool_call", "call_id": "c1", "name": "exec", "namespace": "functions", "input": "echo 1"},
                   {"type": "custom_tool_call_output", "call_id": "c1", "output": "1"}]}),
    );
    let names: Vec<&str> = r.tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["apply_patch", "functions__exec"]);
    assert_eq!(r.tools[0].parameters["required"], json!(["input"]));
    let about = r.tools[0].parameters["properties"]["input"]["description"]
        .as_str()
        .unwrap();
    assert!(
        about.contains("lark") && about.contains("start: /.+/"),
        "{about}"
    );
    assert!(matches!(&r.messages[1].content[0],
        Part::ToolCall { name, arguments, .. } if name == "functions__exec" && arguments == r#"{"input":"echo 1"}"#));
    assert!(
        matches!(&r.messages[2].content[0], Part::ToolResult { call_id, .. } if call_id == "c1")
    );

    let resp = calls_response(&[
        ("c2", "functions__exec", r#"{"input":"ls -l"}"#),
        ("c3", "apply_patch", r#"{"input":"*** Begin"}"#),
    ]);
    let body = responses_body(&resp, &r.tool_aliases);
    assert_eq!(body["output"][0]["type"], "custom_tool_call");
    assert_eq!(body["output"][0]["name"], "exec");
    assert_eq!(body["output"][0]["namespace"], "functions");
    assert_eq!(body["output"][0]["input"], "ls -l");
    assert_eq!(body["output"][1]["type"], "custom_tool_call");
    assert!(body["output"][1].get("namespace").is_none());
    assert_eq!(body["output"][1]["input"], "*** Begin");

    let (text, events) = responses_stream(&resp, &r.tool_aliases);
    assert!(!text.contains("function_call_arguments"), "{text}");
    let done: Vec<Value> = events
        .iter()
        .filter(|v| v["type"] == "response.output_item.done")
        .map(|v| v["item"].clone())
        .collect();
    assert_eq!(done[0]["type"], "custom_tool_call");
    assert_eq!(done[0]["input"], "ls -l");
    assert_eq!(done[1]["input"], "*** Begin");
}
