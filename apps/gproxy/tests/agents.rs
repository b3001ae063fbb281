//! Coding agents through the real binary: the requests captured from
//! Claude Code, Codex and Gemini CLI (`gproxy-protocol`'s
//! `tests/fixtures/agents/`), first turn and tool-loop turn, streamed, sent
//! to a provider of every other protocol. The mock upstream refuses what
//! the vendor refuses (unknown roles and tool types, `max_tokens` on
//! OpenAI reasoning models, reasoning effort on plain ones), so a 200 means
//! the converted request is one the vendor would take. Each turn must be
//! answered with the mock's text, and a tool call the upstream makes must
//! reach the agent in its own form (Codex's namespaced tools with their
//! `namespace`).
#![cfg(test)]

mod common;

use std::path::PathBuf;

use common::*;
use gproxy_protocol::Protocol;
use gproxy_protocol::convert::Part;
use gproxy_protocol::convert::model::texts;
use gproxy_testkit::{Fault, MockUpstream};
use serde_json::{Value, json};

/// One agent: its captures, protocol, and the tool its loop calls.
struct Agent {
    name: &'static str,
    protocol: Protocol,
    /// The tool the upstream calls, as the upstream sees it (flat).
    upstream_tool: &'static str,
    /// The same tool as the agent must see it: name and namespace.
    client_tool: (&'static str, Option<&'static str>),
}

const AGENTS: [Agent; 4] = [
    Agent {
        name: "claude_code",
        protocol: Protocol::Claude,
        upstream_tool: "Bash",
        client_tool: ("Bash", None),
    },
    Agent {
        name: "claude_code_2_1_332",
        protocol: Protocol::Claude,
        upstream_tool: "Bash",
        client_tool: ("Bash", None),
    },
    Agent {
        name: "codex",
        protocol: Protocol::OpenAiResponses,
        upstream_tool: "multi_agent_v1__spawn_agent",
        client_tool: ("spawn_agent", Some("multi_agent_v1")),
    },
    Agent {
        name: "gemini_cli",
        protocol: Protocol::Gemini,
        upstream_tool: "run_shell_command",
        client_tool: ("run_shell_command", None),
    },
];

/// A captured request: its path (with query) and body.
fn capture(agent: &str, turn: &str) -> (String, Value) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../crates/gproxy-protocol/tests/fixtures/agents")
        .join(format!("{agent}_{turn}.json"));
    let text = std::fs::read_to_string(&path).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    (v["path"].as_str().unwrap().to_owned(), v["body"].clone())
}

/// A streamed tool call in `upstream`'s wire form.
fn tool_call_stream(upstream: Protocol, name: &str, args: &Value) -> String {
    let args = args.to_string();
    let sse = |events: Vec<(Option<&str>, Value)>| -> String {
        events
            .into_iter()
            .map(|(event, data)| match event {
                Some(e) => format!("event: {e}\ndata: {data}\n\n"),
                None => format!("data: {data}\n\n"),
            })
            .collect()
    };
    match upstream {
        Protocol::Claude => sse(vec![
            (
                Some("message_start"),
                json!({"type": "message_start", "message": {"id": "msg_t", "type": "message", "role": "assistant", "model": "m", "content": [], "stop_reason": null, "usage": {"input_tokens": 10, "output_tokens": 1}}}),
            ),
            (
                Some("content_block_start"),
                json!({"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": "toolu_t", "name": name, "input": {}}}),
            ),
            (
                Some("content_block_delta"),
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": args}}),
            ),
            (
                Some("content_block_stop"),
                json!({"type": "content_block_stop", "index": 0}),
            ),
            (
                Some("message_delta"),
                json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 5}}),
            ),
            (Some("message_stop"), json!({"type": "message_stop"})),
        ]),
        Protocol::OpenAiChat => {
            let chunk = |delta: Value, finish: Value| json!({"id": "chatcmpl-t", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
            let mut s = sse(vec![
                (
                    None,
                    chunk(
                        json!({"role": "assistant", "tool_calls": [{"index": 0, "id": "call_t", "type": "function", "function": {"name": name, "arguments": ""}}]}),
                        Value::Null,
                    ),
                ),
                (
                    None,
                    chunk(
                        json!({"tool_calls": [{"index": 0, "function": {"arguments": args}}]}),
                        Value::Null,
                    ),
                ),
                (None, chunk(json!({}), json!("tool_calls"))),
                (
                    None,
                    json!({"id": "chatcmpl-t", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}),
                ),
            ]);
            s.push_str("data: [DONE]\n\n");
            s
        }
        Protocol::OpenAiResponses => {
            let item = json!({"type": "function_call", "id": "fc_t", "call_id": "call_t", "name": name, "arguments": args, "status": "completed"});
            let resp = json!({"id": "resp_t", "object": "response", "created_at": 1, "status": "completed", "model": "m", "output": [item], "usage": {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}});
            sse(vec![
                (
                    Some("response.created"),
                    json!({"type": "response.created", "sequence_number": 0, "response": {"id": "resp_t", "object": "response", "created_at": 1, "status": "in_progress", "model": "m", "output": []}}),
                ),
                (
                    Some("response.output_item.added"),
                    json!({"type": "response.output_item.added", "sequence_number": 1, "output_index": 0, "item": {"type": "function_call", "id": "fc_t", "call_id": "call_t", "name": name, "arguments": "", "status": "in_progress"}}),
                ),
                (
                    Some("response.function_call_arguments.delta"),
                    json!({"type": "response.function_call_arguments.delta", "sequence_number": 2, "item_id": "fc_t", "output_index": 0, "delta": args}),
                ),
                (
                    Some("response.output_item.done"),
                    json!({"type": "response.output_item.done", "sequence_number": 3, "output_index": 0, "item": item}),
                ),
                (
                    Some("response.completed"),
                    json!({"type": "response.completed", "sequence_number": 4, "response": resp}),
                ),
            ])
        }
        Protocol::Gemini => sse(vec![(
            None,
            json!({"candidates": [{"content": {"role": "model", "parts": [{"functionCall": {"name": name, "args": serde_json::from_str::<Value>(&args).unwrap()}}]}, "finishReason": "STOP", "index": 0}], "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15}, "modelVersion": "m"}),
        )]),
    }
}

/// The agent's path on provider `provider`.
fn client_path(captured_path: &str, provider: &str) -> String {
    format!("/{provider}{captured_path}")
}

/// Checks the upstream body for what its vendor refuses beyond the mock's
/// own checks: no system turns where the protocol has none, no namespace
/// or hosted tools anywhere but OpenAI.
fn assert_upstream_body(upstream: Protocol, body: &Value, what: &str) {
    let text = body.to_string();
    assert!(
        !text.contains("\"type\":\"namespace\""),
        "{what}: {text:.300}"
    );
    assert!(!text.contains("\"type\":\"web_search\""), "{what}");
    match upstream {
        Protocol::Claude => {
            for m in body["messages"].as_array().unwrap() {
                assert!(
                    m["role"] == "user" || m["role"] == "assistant",
                    "{what}: {m:.200}"
                );
            }
        }
        Protocol::Gemini => {
            for c in body["contents"].as_array().unwrap() {
                assert!(c["role"] == "user" || c["role"] == "model", "{what}");
            }
        }
        Protocol::OpenAiChat | Protocol::OpenAiResponses => {}
    }
}

#[tokio::test]
async fn every_agent_works_on_every_other_protocol() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &providers(&mock)).await;
    for agent in &AGENTS {
        for upstream in Protocol::ALL {
            if upstream == agent.protocol {
                continue;
            }
            let provider = provider_of(upstream);
            for turn in ["first", "tool"] {
                let what = format!("{} {turn} -> {upstream}", agent.name);
                let (path, body) = capture(agent.name, turn);
                let path = client_path(&path, provider);
                let model = body["model"]
                    .as_str()
                    .unwrap_or("gemini-2.5-flash")
                    .to_owned();

                // The turn as the upstream answers it: text.
                mock.clear();
                let reply = gw.post(&path, ALICE_KEY, body.clone()).await;
                assert_eq!(reply.status, 200, "{what}: {}", reply.text());
                let got = assemble_stream(agent.protocol, &reply.body, &what);
                let text: String = texts(&got.content).collect();
                assert_eq!(text, format!("Hello from mock {model}"), "{what}");
                let sent = mock.last_request().unwrap().json();
                assert_upstream_body(upstream, &sent, &what);
                if agent.name == "codex" {
                    assert_eq!(
                        reply.header("x-gproxy-dropped"),
                        Some("tools.web_search"),
                        "{what}"
                    );
                }

                // The upstream calls the agent's tool: it comes back in the agent's form.
                let args = json!({"command": "echo hi-from-tool"});
                mock.push_fault(Fault::canned_sse(tool_call_stream(
                    upstream,
                    agent.upstream_tool,
                    &args,
                )));
                let reply = gw.post(&path, ALICE_KEY, body).await;
                assert_eq!(reply.status, 200, "{what}: {}", reply.text());
                let got = assemble_stream(agent.protocol, &reply.body, &what);
                let call = got.content.iter().find_map(|p| match p {
                    Part::ToolCall {
                        name, arguments, ..
                    } => Some((name.clone(), arguments.clone())),
                    _ => None,
                });
                let (name, arguments) =
                    call.unwrap_or_else(|| panic!("{what}: no tool call in {}", reply.text()));
                assert_eq!(name, agent.client_tool.0, "{what}");
                assert_eq!(
                    serde_json::from_str::<Value>(&arguments).unwrap(),
                    args,
                    "{what}"
                );
                let namespaces: Vec<Value> = reply
                    .events()
                    .iter()
                    .filter_map(|(_, d)| serde_json::from_str::<Value>(d).ok())
                    .filter_map(|v| v.get("item").and_then(|i| i.get("namespace")).cloned())
                    .collect();
                match agent.client_tool.1 {
                    Some(ns) => {
                        assert_eq!(namespaces.len(), 2, "{what}: added and done items");
                        assert!(namespaces.iter().all(|n| n == ns), "{what}: {namespaces:?}");
                    }
                    None => assert!(namespaces.is_empty(), "{what}"),
                }
            }
        }
    }
}

/// Claude Code on OpenAI models: `max_tokens` becomes
/// `max_completion_tokens` for a reasoning model (which refuses the
/// former); reasoning is dropped for a model without it, and said so.
#[tokio::test]
async fn claude_code_on_openai_models_gets_the_fields_each_model_takes() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &providers(&mock)).await;
    let (path, mut body) = capture("claude_code", "first");
    let path = format!("/up-chat{path}");

    let reply = gw.post(&path, ALICE_KEY, body.clone()).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let sent = mock.last_request().unwrap().json();
    assert!(sent.get("max_tokens").is_none(), "{sent:.300}");
    assert_eq!(sent["max_completion_tokens"], 32000);
    assert_eq!(sent["reasoning_effort"], "high");
    assert!(
        sent.get("user").is_none(),
        "OpenAI refuses Claude Code's 150-character user id"
    );
    assert_eq!(reply.header("x-gproxy-dropped"), Some("user"));

    body["model"] = json!("gpt-4o");
    let reply = gw.post(&path, ALICE_KEY, body).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let sent = mock.last_request().unwrap().json();
    assert!(sent.get("reasoning_effort").is_none());
    assert_eq!(
        sent["max_completion_tokens"], 16384,
        "lowered to gpt-4o's output limit"
    );
    assert_eq!(
        reply.header("x-gproxy-dropped"),
        Some("user, reasoning, max_tokens")
    );
}

/// `[[model_capabilities]]` in the config file comes ahead of the built-in
/// table; a bad entry stops start-up naming the field.
#[tokio::test]
async fn model_capabilities_from_the_config_file() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let entry = "\n[[model_capabilities]]\nmatch = \"house-*\"\nreasoning = false\nsampling = [\"stop\"]\noutput = 100\n";
    let gw = start(dir.path(), &(providers(&mock) + entry)).await;
    let (path, mut body) = capture("claude_code", "first");
    body["model"] = json!("house-small");
    body["temperature"] = json!(0.5);
    let reply = gw.post(&format!("/up-chat{path}"), ALICE_KEY, body).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let sent = mock.last_request().unwrap().json();
    assert_eq!(sent["max_tokens"], 100, "this entry keeps `max_tokens`");
    assert!(sent.get("reasoning_effort").is_none());
    assert!(sent.get("temperature").is_none());
    assert_eq!(
        reply.header("x-gproxy-dropped"),
        Some("user, reasoning, temperature, max_tokens")
    );

    let bad = tempfile::tempdir().unwrap();
    let entry =
        "\n[[model_capabilities]]\nmatch = \"x\"\nreasoning = false\nsampling = [\"temp\"]\n";
    let (result, ()) = spawn(bad.path(), &(providers(&mock) + entry), &[]).await;
    let err = result.err().expect("start-up must fail");
    assert!(err.contains("model_capabilities[0].sampling[0]"), "{err}");
}

/// Where the agent CLIs are: `GPROXY_AGENTS_BIN` (a directory, e.g. an
/// npm prefix's `node_modules/.bin`), else `PATH`.
fn agent_cli(name: &str) -> Option<PathBuf> {
    let dirs: Vec<PathBuf> = match std::env::var_os("GPROXY_AGENTS_BIN") {
        Some(dir) => vec![PathBuf::from(dir)],
        None => std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()).collect(),
    };
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

/// Runs `cli` with `args` and `envs` in a scratch home, at most 120 s;
/// returns stdout and stderr.
async fn run_cli(cli: &PathBuf, args: &[&str], envs: &[(&str, String)]) -> (String, String) {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = tokio::process::Command::new(cli);
    cmd.args(args)
        .current_dir(home.path())
        .env("HOME", home.path())
        .env("CODEX_HOME", home.path())
        .env("DISABLE_TELEMETRY", "1")
        .env("DISABLE_AUTOUPDATER", "1")
        .env("DISABLE_ERROR_REPORTING", "1")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env("GEMINI_CLI_NO_RELAUNCH", "1")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = tokio::time::timeout(std::time::Duration::from_secs(120), cmd.output())
        .await
        .expect("the agent finished within 120 s")
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Each agent CLI itself, non-interactive, through gproxy on a provider of
/// every other protocol: it must print the mock's answer. Skipped (with a
/// message) for a CLI that is not installed.
#[tokio::test]
async fn the_agent_clis_themselves_work_through_gproxy() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &providers(&mock)).await;
    // (CLI, its protocol, model, how to point it at a base URL: args, env).
    type Setup = fn(String, &str) -> (Vec<String>, Vec<(&'static str, String)>);
    let agents: [(&str, Protocol, &str, Setup); 3] = [
        ("claude", Protocol::Claude, "gpt-5", |base, model| {
            let args = ["-p", "say hello", "--model", model];
            let envs = vec![
                ("ANTHROPIC_BASE_URL", base),
                ("ANTHROPIC_API_KEY", ALICE_KEY.to_owned()),
            ];
            (args.map(str::to_owned).to_vec(), envs)
        }),
        // Codex on its default model (whatever this release picks; the
        // mock answers `Hello from mock <model>`): its tools come in an
        // `additional_tools` item, its shell is the free-form `exec`.
        ("codex", Protocol::OpenAiResponses, "", |base, _| {
            let provider = format!(
                "model_providers.gw={{name=\"gw\",base_url=\"{base}/v1\",wire_api=\"responses\",env_key=\"GW_KEY\"}}"
            );
            let args = [
                "exec",
                "--skip-git-repo-check",
                "-s",
                "read-only",
                "-c",
                &provider,
                "-c",
                "model_provider=gw",
                "-c",
                "analytics.enabled=false",
                "say hello",
            ];
            (
                args.map(str::to_owned).to_vec(),
                vec![("GW_KEY", ALICE_KEY.to_owned())],
            )
        }),
        (
            "gemini",
            Protocol::Gemini,
            "gemini-2.5-flash",
            |base, model| {
                let args = ["-p", "say hello", "-m", model];
                let envs = vec![
                    ("GOOGLE_GEMINI_BASE_URL", base),
                    ("GEMINI_API_KEY", ALICE_KEY.to_owned()),
                ];
                (args.map(str::to_owned).to_vec(), envs)
            },
        ),
    ];
    let mut ran = 0;
    for (name, protocol, model, setup) in agents {
        let Some(cli) = agent_cli(name) else {
            eprintln!("{name} not installed (set GPROXY_AGENTS_BIN or PATH): skipped");
            continue;
        };
        for upstream in Protocol::ALL.into_iter().filter(|p| *p != protocol) {
            let provider = provider_of(upstream);
            let (args, envs) = setup(gw.url(&format!("/{provider}")), model);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let (out, err) = run_cli(&cli, &args, &envs).await;
            assert!(
                out.contains(&format!("Hello from mock {model}")),
                "{name} on {provider}: {out}\n{err}"
            );
        }
        ran += 1;
    }
    eprintln!("{ran} of 3 agent CLIs ran");
}

/// Codex on its default model declares its tools in an `additional_tools`
/// input item, its main one the free-form `functions.exec`: on every other
/// protocol the first turn is answered, and the upstream's call of that
/// tool reaches Codex as a `custom_tool_call` with its name, namespace and
/// input.
#[tokio::test]
async fn codex_default_model_custom_tools_round_trip() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &providers(&mock)).await;
    let (path, body) = capture("codex_default_model", "first");
    let model = body["model"].as_str().unwrap().to_owned();
    for upstream in Protocol::ALL
        .into_iter()
        .filter(|p| *p != Protocol::OpenAiResponses)
    {
        let what = format!("codex default model -> {upstream}");
        let path = client_path(&path, provider_of(upstream));
        let reply = gw.post(&path, ALICE_KEY, body.clone()).await;
        assert_eq!(reply.status, 200, "{what}: {}", reply.text());
        let got = assemble_stream(Protocol::OpenAiResponses, &reply.body, &what);
        let text: String = texts(&got.content).collect();
        assert_eq!(text, format!("Hello from mock {model}"), "{what}");
        let sent = mock.last_request().unwrap().json().to_string();
        assert!(sent.contains("functions__exec"), "{what}");

        let args = json!({"input": "await tools.exec_command({cmd: 'echo hi'})"});
        mock.push_fault(Fault::canned_sse(tool_call_stream(
            upstream,
            "functions__exec",
            &args,
        )));
        let reply = gw.post(&path, ALICE_KEY, body.clone()).await;
        assert_eq!(reply.status, 200, "{what}: {}", reply.text());
        let done: Vec<Value> = reply
            .events()
            .iter()
            .filter_map(|(_, d)| serde_json::from_str::<Value>(d).ok())
            .filter(|v| v["type"] == "response.output_item.done")
            .map(|v| v["item"].clone())
            .collect();
        let call = done
            .iter()
            .find(|i| i["type"] == "custom_tool_call")
            .unwrap_or_else(|| panic!("{what}: {}", reply.text()));
        assert_eq!(call["name"], "exec", "{what}");
        assert_eq!(call["namespace"], "functions", "{what}");
        assert_eq!(call["input"], args["input"], "{what}");
    }
}
