//! Cross-protocol calls through the real binary: every ordered pair of the
//! four protocols (client ≠ upstream), streamed and not, for text, tool
//! calls and reasoning. The mock upstream answers with the golden
//! transcripts of `gproxy-protocol`'s fixtures; each test checks both what
//! the upstream received (the client's request, converted, and for Gemini
//! its turn rules) and what the client got (the upstream's answer in the
//! client's protocol, with the upstream's usage).
#![cfg(test)]

mod common;

use std::path::PathBuf;

use common::*;
use gproxy_protocol::Protocol;
use gproxy_protocol::convert::{self, Part, Request, Response, decode_request};
use gproxy_testkit::{Fault, MockUpstream};
use serde_json::{Value, json};

const CASES: [&str; 3] = ["text", "tools", "thinking"];

fn fixture(protocol: Protocol, file: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../crates/gproxy-protocol/tests/fixtures/convert")
        .join(protocol.as_str())
        .join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The client's path and body for `case` in `client`'s protocol.
fn client_call(client: Protocol, provider: &str, case: &str, stream: bool) -> (String, Value) {
    let mut body: Value = serde_json::from_str(&fixture(client, &format!("request_{case}.json")))
        .unwrap_or_else(|e| panic!("{client} request_{case}: {e}"));
    let path = match client {
        Protocol::OpenAiChat => {
            body["stream"] = json!(stream);
            if stream {
                body["stream_options"] = json!({"include_usage": true});
            }
            format!("/{provider}/v1/chat/completions")
        }
        Protocol::OpenAiResponses => {
            body["stream"] = json!(stream);
            format!("/{provider}/v1/responses")
        }
        Protocol::Claude => {
            body["stream"] = json!(stream);
            format!("/{provider}/v1/messages")
        }
        Protocol::Gemini if stream => {
            format!("/{provider}/v1beta/models/test-model:streamGenerateContent?alt=sse")
        }
        Protocol::Gemini => format!("/{provider}/v1beta/models/test-model:generateContent"),
    };
    if let Some(obj) = body.as_object_mut()
        && client != Protocol::Gemini
    {
        obj.insert("model".into(), json!("test-model"));
    }
    (path, body)
}

/// What every pair must carry across: system text, each message's text,
/// tool calls (id, name, arguments as JSON) and tool results (call id,
/// text), and the tools offered. Reasoning, error flags and sampling
/// knobs are not in every protocol's requests and are checked elsewhere.
///
/// Call ids are compared by first appearance (`#0`, `#1`, ...): Gemini
/// requests carry no ids (Vertex rejects them), so what must survive is
/// which result answers which call.
fn request_summary(req: &Request) -> Value {
    let mut ids: Vec<String> = Vec::new();
    let mut ordinal = |id: &str| {
        let n = ids.iter().position(|i| i == id).unwrap_or_else(|| {
            ids.push(id.to_owned());
            ids.len() - 1
        });
        format!("#{n}")
    };
    let mut messages: Vec<Value> = Vec::new();
    for m in &req.messages {
        let mut parts = Vec::new();
        for p in &m.content {
            match p {
                Part::Text { text } => parts.push(json!({"text": text})),
                Part::ToolCall {
                    id,
                    name,
                    arguments,
                } => parts.push(json!({
                    "call": ordinal(id), "name": name,
                    "args": serde_json::from_str::<Value>(arguments).unwrap(),
                })),
                Part::ToolResult {
                    call_id, content, ..
                } => {
                    let text: String = content
                        .iter()
                        .filter_map(|c| match c {
                            Part::Text { text } => Some(text.as_str()),
                            _ => None,
                        })
                        .collect();
                    parts.push(json!({"result": ordinal(call_id), "text": text}));
                }
                Part::Image { source } => parts.push(json!({"image": format!("{source:?}")})),
                Part::Reasoning { .. } => {}
            }
        }
        // Consecutive turns of one role are one turn to every protocol.
        let role = format!("{:?}", m.role);
        if let Some(last) = messages.last_mut()
            && last["role"] == role.as_str()
        {
            last["parts"].as_array_mut().unwrap().extend(parts);
            continue;
        }
        messages.push(json!({"role": role, "parts": parts}));
    }
    json!({
        "system": req.system.join("\n"),
        "messages": messages,
        "tools": req.tools.iter().map(|t| json!({"name": t.name, "parameters": t.parameters})).collect::<Vec<_>>(),
    })
}

/// Gemini's turn rules, checked on what the upstream received.
fn assert_gemini_turn_rules(body: &Value, what: &str) {
    let contents = body["contents"]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: {body}"));
    assert!(!contents.is_empty(), "{what}: empty contents");
    assert_eq!(contents[0]["role"], "user", "{what}: first turn {body}");
    let mut previous = "";
    for turn in contents {
        let role = turn["role"].as_str().unwrap();
        assert!(role == "user" || role == "model", "{what}: role {role}");
        assert_ne!(role, previous, "{what}: consecutive {role} turns in {body}");
        previous = role;
        let parts = turn["parts"].as_array().unwrap();
        assert!(!parts.is_empty(), "{what}: a turn without parts");
        for part in parts {
            if part.get("functionResponse").is_some() {
                assert_eq!(role, "user", "{what}: functionResponse outside a user turn");
            }
            if let Some(text) = part.get("text") {
                assert!(
                    !text.as_str().unwrap().is_empty() || part.get("thoughtSignature").is_some(),
                    "{what}: empty text part"
                );
            }
        }
    }
}

/// The upstream answer as the canonical model sees it.
fn upstream_answer(upstream: Protocol, case: &str, stream: bool) -> Response {
    if !stream {
        return convert::decode_response(
            upstream,
            fixture(upstream, &format!("response_{case}.json")).as_bytes(),
        )
        .unwrap();
    }
    assemble_stream(
        upstream,
        fixture(upstream, &format!("stream_{case}.sse")).as_bytes(),
        "upstream fixture",
    )
}

/// The visible output: text, tool calls (arguments as JSON), and whether
/// reasoning came through, where both protocols carry it.
fn output_summary(resp: &Response, with_reasoning: bool) -> Value {
    let mut parts = Vec::new();
    for p in &resp.content {
        match p {
            Part::Text { text } => {
                if let Some(Value::Object(last)) = parts.last_mut()
                    && let Some(Value::String(t)) = last.get_mut("text")
                {
                    t.push_str(text);
                    continue;
                }
                parts.push(json!({"text": text}));
            }
            Part::ToolCall {
                id,
                name,
                arguments,
            } => parts.push(json!({
                "call": id, "name": name,
                "args": serde_json::from_str::<Value>(arguments).unwrap(),
            })),
            Part::Reasoning { text, .. } if with_reasoning && !text.is_empty() => {
                parts.push(json!({"reasoning": text}))
            }
            _ => {}
        }
    }
    let usage = resp.usage.unwrap_or_default();
    json!({
        "parts": parts,
        "finish": format!("{:?}", resp.finish),
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
    })
}

/// Whether a response in `p` can show reasoning text.
fn shows_reasoning(p: Protocol) -> bool {
    // Chat carries it as `reasoning_content`; all four can.
    let _ = p;
    true
}

async fn run_pair(gw: &Gateway, mock: &MockUpstream, client: Protocol, upstream: Protocol) {
    for case in CASES {
        for stream in [false, true] {
            let what = format!("{client} -> {upstream}, {case}, stream {stream}");
            let provider = provider_of(upstream);
            mock.clear();
            let canned = if stream {
                Fault::canned_sse(fixture(upstream, &format!("stream_{case}.sse")))
            } else {
                Fault::canned_json(fixture(upstream, &format!("response_{case}.json")))
            };
            mock.push_fault(canned);
            let (path, mut body) = client_call(client, provider, case, stream);
            if upstream == Protocol::OpenAiResponses {
                // Responses has no stop sequences (refused with a 400, see
                // `stop_sequences_cannot_reach_responses`).
                for key in ["stop", "stop_sequences"] {
                    body.as_object_mut().unwrap().remove(key);
                }
                if let Some(config) = body.get_mut("generationConfig") {
                    config.as_object_mut().unwrap().remove("stopSequences");
                }
            }
            let reply = gw.post(&path, ALICE_KEY, body.clone()).await;
            assert_eq!(reply.status, 200, "{what}: {}", reply.text());

            // What the upstream received.
            let up = mock
                .last_request()
                .unwrap_or_else(|| panic!("{what}: nothing sent"));
            let up_body = up.json();
            let sent = decode_request(upstream, &up.body)
                .unwrap_or_else(|e| panic!("{what}: upstream body {up_body}: {e}"));
            let asked = decode_request(client, body.to_string().as_bytes()).unwrap();
            assert_eq!(
                request_summary(&sent),
                request_summary(&asked),
                "{what}: upstream received {up_body}"
            );
            match upstream {
                Protocol::Gemini => {
                    assert_gemini_turn_rules(&up_body, &what);
                    let method = if stream {
                        "test-model:streamGenerateContent"
                    } else {
                        "test-model:generateContent"
                    };
                    assert!(up.path.ends_with(method), "{what}: {}", up.path);
                    if stream {
                        assert_eq!(up.query_param("alt"), Some("sse"), "{what}");
                    }
                }
                _ => {
                    assert_eq!(up_body["model"], "test-model", "{what}");
                    assert_eq!(
                        up_body["stream"].as_bool().unwrap_or(false),
                        stream,
                        "{what}"
                    );
                }
            }
            if upstream == Protocol::OpenAiChat && stream {
                assert_eq!(up_body["stream_options"]["include_usage"], true, "{what}");
            }

            // What the client got.
            let got = if stream {
                let ct = reply.header("content-type").unwrap_or_default();
                assert!(ct.starts_with("text/event-stream"), "{what}: {ct}");
                assemble_stream(client, &reply.body, &what)
            } else {
                assert_eq!(
                    reply.header("content-type"),
                    Some("application/json"),
                    "{what}"
                );
                convert::decode_response(client, &reply.body)
                    .unwrap_or_else(|e| panic!("{what}: client body {}: {e}", reply.text()))
            };
            let expected = upstream_answer(upstream, case, stream);
            let reasoning = shows_reasoning(client) && shows_reasoning(upstream);
            assert_eq!(
                output_summary(&got, reasoning),
                output_summary(&expected, reasoning),
                "{what}: client got {}",
                reply.text()
            );
            assert_eq!(reply.header("x-gproxy-provider"), Some(provider), "{what}");
            match client {
                Protocol::OpenAiChat if stream => {
                    assert_eq!(reply.events().last().unwrap().1, "[DONE]", "{what}");
                }
                Protocol::Claude if stream => {
                    let names: Vec<_> = reply.events().into_iter().filter_map(|e| e.0).collect();
                    assert_eq!(
                        names.first().map(String::as_str),
                        Some("message_start"),
                        "{what}"
                    );
                    assert_eq!(
                        names.last().map(String::as_str),
                        Some("message_stop"),
                        "{what}"
                    );
                }
                Protocol::OpenAiResponses if stream => {
                    let names: Vec<_> = reply.events().into_iter().filter_map(|e| e.0).collect();
                    assert_eq!(
                        names.first().map(String::as_str),
                        Some("response.created"),
                        "{what}"
                    );
                    assert_eq!(
                        names.last().map(String::as_str),
                        Some("response.completed"),
                        "{what}"
                    );
                }
                _ => {}
            }
            // The log row carries the upstream's usage.
            let row = gw.log_of(reply.header("x-request-id").unwrap()).await;
            assert_eq!(row.status, 200, "{what}");
            assert_eq!(row.provider.as_deref(), Some(provider), "{what}");
            assert!(
                row.input_tokens.unwrap_or(0) > 0,
                "{what}: usage recorded: {row:?}"
            );
        }
    }
}

macro_rules! pair_tests {
    ($($name:ident: $client:ident -> $upstream:ident;)*) => {$(
        #[tokio::test]
        async fn $name() {
            let mock = MockUpstream::start().await.unwrap();
            let dir = tempfile::tempdir().unwrap();
            let gw = start(dir.path(), &providers(&mock)).await;
            run_pair(&gw, &mock, Protocol::$client, Protocol::$upstream).await;
        }
    )*};
}

pair_tests! {
    chat_to_responses: OpenAiChat -> OpenAiResponses;
    chat_to_claude: OpenAiChat -> Claude;
    chat_to_gemini: OpenAiChat -> Gemini;
    responses_to_chat: OpenAiResponses -> OpenAiChat;
    responses_to_claude: OpenAiResponses -> Claude;
    responses_to_gemini: OpenAiResponses -> Gemini;
    claude_to_chat: Claude -> OpenAiChat;
    claude_to_responses: Claude -> OpenAiResponses;
    claude_to_gemini: Claude -> Gemini;
    gemini_to_chat: Gemini -> OpenAiChat;
    gemini_to_responses: Gemini -> OpenAiResponses;
    gemini_to_claude: Gemini -> Claude;
}

#[tokio::test]
async fn gemini_client_without_alt_sse_gets_a_json_array_stream() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &providers(&mock)).await;
    mock.push_fault(Fault::canned_sse(fixture(
        Protocol::Claude,
        "stream_text.sse",
    )));
    let body: Value =
        serde_json::from_str(&fixture(Protocol::Gemini, "request_text.json")).unwrap();
    let reply = gw
        .post(
            "/up-claude/v1beta/models/test-model:streamGenerateContent",
            ALICE_KEY,
            body,
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let chunks: Vec<Value> = serde_json::from_slice(&reply.body).unwrap();
    let text: String = chunks
        .iter()
        .flat_map(|c| {
            c["candidates"][0]["content"]["parts"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|p| p["text"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(text, "Bonjour !");
    let last = chunks.last().unwrap();
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");
    assert_eq!(last["usageMetadata"]["promptTokenCount"], 21);
    // The upstream was asked for SSE all the same.
    assert_eq!(mock.last_request().unwrap().path, "/v1/messages");
}

#[tokio::test]
async fn upstream_errors_come_back_in_the_clients_shape() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &providers(&mock)).await;
    mock.push_fault(Fault::Status {
        status: 400,
        retry_after: None,
        body: Some(
            json!({"type": "error", "error": {"type": "invalid_request_error", "message": "prompt is too long"}})
                .to_string(),
        ),
    });
    let reply = gw
        .post(
            "/up-claude/v1/chat/completions",
            ALICE_KEY,
            json!({"model": "test-model", "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(reply.status, 400);
    let v = reply.json();
    assert_eq!(
        v["error"]["type"], "invalid_request_error",
        "OpenAI shape: {v}"
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("prompt is too long")
    );

    // A client error is not retried: the upstream's 404 in Gemini's shape.
    mock.push_fault(Fault::Status {
        status: 404,
        retry_after: None,
        body: None,
    });
    let reply = gw
        .post(
            "/up-chat/v1beta/models/test-model:generateContent",
            ALICE_KEY,
            json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 404);
    assert_eq!(
        reply.json()["error"]["status"],
        "NOT_FOUND",
        "{}",
        reply.text()
    );
    assert!(
        reply.json()["error"]["status"].is_string(),
        "Gemini shape: {}",
        reply.text()
    );
}

#[tokio::test]
async fn requests_that_cannot_be_converted_are_refused_before_the_upstream() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &providers(&mock)).await;

    // Gemini never receives an empty conversation.
    let reply = gw
        .post(
            "/up-gemini/v1/messages",
            ALICE_KEY,
            json!({"model": "test-model", "max_tokens": 10, "messages": []}),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert_eq!(reply.json()["type"], "error", "Anthropic shape");

    // Malformed for the client's own protocol.
    let reply = gw
        .post(
            "/up-claude/v1/chat/completions",
            ALICE_KEY,
            json!({"model": "test-model", "messages": "nope"}),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert!(reply.json()["error"]["message"].is_string());

    // A built-in tool no other protocol knows and the client runs itself.
    let reply = gw
        .post(
            "/up-chat/v1/responses",
            ALICE_KEY,
            json!({"model": "test-model", "input": "hi", "tools": [{"type": "local_shell"}]}),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert!(
        reply.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("local_shell"),
        "{}",
        reply.text()
    );
    assert_eq!(mock.request_count(), 0, "nothing reached the upstream");
}

/// An empty conversation is refused before the upstream call for every
/// converted pair, streamed or not, with a 400 in the client's shape that
/// names the client's field, system instructions or not (e.g. a Gemini
/// client's `contents: []` never reaches an OpenAI upstream as
/// `messages: []`).
#[tokio::test]
async fn empty_conversations_are_refused_for_every_pair_before_the_upstream() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &providers(&mock)).await;
    for client in Protocol::ALL {
        for upstream in Protocol::ALL.into_iter().filter(|p| *p != client) {
            for stream in [false, true] {
                let (path, mut body) = client_call(client, provider_of(upstream), "text", stream);
                let field = match client {
                    Protocol::OpenAiChat | Protocol::Claude => "messages",
                    Protocol::OpenAiResponses => "input",
                    Protocol::Gemini => "contents",
                };
                // Chat keeps its system message: still no conversation turn.
                if client == Protocol::OpenAiChat {
                    body[field] = json!([{"role": "system", "content": "Be brief."}]);
                } else {
                    body[field] = json!([]);
                }
                let what = format!("{client} -> {upstream} (stream {stream})");
                let reply = gw.post(&path, ALICE_KEY, body).await;
                assert_eq!(reply.status, 400, "{what}: {}", reply.text());
                let v = reply.json();
                let message = match client {
                    Protocol::OpenAiChat | Protocol::OpenAiResponses => {
                        assert_eq!(v["error"]["type"], "invalid_request_error", "{what}: {v}");
                        &v["error"]["message"]
                    }
                    Protocol::Claude => {
                        assert_eq!(v["type"], "error", "{what}: {v}");
                        &v["error"]["message"]
                    }
                    Protocol::Gemini => {
                        assert_eq!(v["error"]["status"], "INVALID_ARGUMENT", "{what}: {v}");
                        &v["error"]["message"]
                    }
                };
                let message = message.as_str().unwrap_or_default();
                assert!(message.contains(&format!("`{field}`")), "{what}: {message}");
            }
        }
    }
    assert_eq!(mock.request_count(), 0, "nothing reached the upstream");
}

#[tokio::test]
async fn a_cut_converted_stream_ends_the_response_with_an_error() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &providers(&mock)).await;
    mock.set_stream_chunks(6, std::time::Duration::ZERO);
    mock.push_fault(Fault::CutStream { after_events: 3 });
    let req = gw
        .request("POST", "/up-chat/v1/messages")
        .header("authorization", format!("Bearer {ALICE_KEY}"))
        .header("content-type", "application/json");
    let response = gw
        .open(
            req,
            json!({"model": "test-model", "max_tokens": 50, "stream": true, "messages": [{"role": "user", "content": "hi"}]})
                .to_string(),
        )
        .await;
    assert_eq!(response.status(), 200);
    use http_body_util::BodyExt;
    let result = response.into_body().collect().await;
    assert!(result.is_err(), "the client sees the stream break");
    let row = gw.logs(1).await.pop().unwrap();
    assert!(row.error.unwrap_or_default().contains("broke"), "logged");
}

#[tokio::test]
async fn stop_sequences_cannot_reach_responses() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &providers(&mock)).await;
    let (path, body) = client_call(Protocol::Claude, "up-resp", "text", false);
    let reply = gw.post(&path, ALICE_KEY, body).await;
    assert_eq!(reply.status, 400, "{}", reply.text());
    let message = reply.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("stop"), "{message}");
    assert_eq!(mock.request_count(), 0);
}

#[tokio::test]
async fn an_answer_in_the_other_mode_is_reframed_for_the_client() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &providers(&mock)).await;

    // A whole answer to a stream request becomes the client's stream.
    mock.push_fault(Fault::canned_json(fixture(
        Protocol::OpenAiChat,
        "response_tools.json",
    )));
    let (path, body) = client_call(Protocol::Claude, "up-chat", "tools", true);
    let reply = gw.post(&path, ALICE_KEY, body).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("text/event-stream")
    );
    let got = assemble_stream(Protocol::Claude, &reply.body, "claude <- chat json");
    let expected = upstream_answer(Protocol::OpenAiChat, "tools", false);
    assert_eq!(output_summary(&got, true), output_summary(&expected, true));

    // A stream to a whole request is assembled into one answer.
    mock.push_fault(Fault::canned_sse(fixture(
        Protocol::Gemini,
        "stream_thinking.sse",
    )));
    let (path, body) = client_call(Protocol::OpenAiChat, "up-gemini", "thinking", false);
    let reply = gw.post(&path, ALICE_KEY, body).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let got = convert::decode_response(Protocol::OpenAiChat, &reply.body).unwrap();
    let expected = upstream_answer(Protocol::Gemini, "thinking", true);
    assert_eq!(output_summary(&got, true), output_summary(&expected, true));
    let row = gw.log_of(reply.header("x-request-id").unwrap()).await;
    assert_eq!(
        row.input_tokens,
        Some(15),
        "usage from the assembled stream"
    );

    // Same protocol: a whole Chat answer to a Chat stream request.
    mock.push_fault(Fault::canned_json(fixture(
        Protocol::OpenAiChat,
        "response_text.json",
    )));
    let (path, body) = client_call(Protocol::OpenAiChat, "up-chat", "text", true);
    let reply = gw.post(&path, ALICE_KEY, body).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let events = reply.events();
    assert_eq!(events.last().unwrap().1, "[DONE]");
    let got = assemble_stream(Protocol::OpenAiChat, &reply.body, "chat <- chat json");
    assert_eq!(
        output_summary(&got, false),
        output_summary(&upstream_answer(Protocol::OpenAiChat, "text", false), false)
    );
}

#[tokio::test]
async fn a_degraded_upstream_is_signalled_in_the_clients_shape() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &providers(&mock)).await;
    for _ in 0..3 {
        mock.push_fault(Fault::server_error());
    }
    let (path, body) = client_call(Protocol::Claude, "up-gemini", "text", false);
    let reply = gw.post(&path, ALICE_KEY, body).await;
    assert_eq!(reply.status, 503, "{}", reply.text());
    assert_eq!(
        reply.header("x-llm-proxy-error-class"),
        Some("provider_degraded")
    );
    let v = reply.json();
    assert_eq!(v["type"], "error", "Anthropic shape: {v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("[LLM_PROXY_PROVIDER_DEGRADED]"),
        "{v}"
    );
    assert_eq!(mock.request_count(), 3, "one attempt and two retries");
}
