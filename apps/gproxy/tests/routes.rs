//! Model routes (aliases) through the real binary: ordered targets served by
//! the first available one whatever protocol it speaks (converted), the
//! alias kept in the response, the serving provider and model in headers
//! and the log, weighted spread, and start-up validation.
#![cfg(test)]

mod common;

use common::*;
use gproxy_storage::Storage;
use gproxy_testkit::MockUpstream;
use serde_json::{Value, json};

fn routes_config(mock: &MockUpstream) -> String {
    let routes = r#"
[[routes]]
model = "smart"
targets = ["claude/claude-sonnet-4-5", "openai/gpt-4o-mini"]

[[routes]]
model = "balanced"
targets = [{ target = "openai/gpt-4o-mini", weight = 3 }, { target = "deepseek/deepseek-chat", weight = 1 }]
"#;
    format!(
        "{}[[providers]]\nname = \"deepseek\"\nbase_url = \"{}/v1\"\n[[providers.credentials]]\napi_key = \"sk-deepseek-1\"\n\n[[providers]]\nname = \"ollama\"\nenabled = false\n{routes}",
        config(mock, ""),
        mock.base_url()
    )
}

fn chat(model: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]})
}

#[tokio::test]
async fn alias_is_served_by_its_first_available_target() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &routes_config(&mock)).await;

    // OpenAI Chat: claude is first; the call is converted to Messages.
    let reply = gw
        .post("/v1/chat/completions", ALICE_KEY, chat("smart", false))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let up = mock.last_request().unwrap();
    assert_eq!(up.path, "/v1/messages");
    assert_eq!(
        up.json()["model"],
        "claude-sonnet-4-5",
        "upstream gets the real model"
    );
    assert_eq!(up.header("x-api-key"), Some(CLAUDE_KEY));
    assert_eq!(reply.json()["object"], "chat.completion");
    assert_eq!(reply.json()["model"], "smart", "client sees the alias");
    assert_eq!(reply.header("x-gproxy-provider"), Some("claude"));
    assert_eq!(reply.header("x-gproxy-model"), Some("claude-sonnet-4-5"));
    let row = gw.log_of(reply.header("x-request-id").unwrap()).await;
    assert_eq!(
        (row.provider.as_deref(), row.model.as_deref()),
        (Some("claude"), Some("claude-sonnet-4-5"))
    );

    // Streamed: every chunk shows the alias.
    let reply = gw
        .post("/v1/chat/completions", ALICE_KEY, chat("smart", true))
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("x-gproxy-model"), Some("claude-sonnet-4-5"));
    let events = reply.events();
    let chunks: Vec<Value> = events
        .iter()
        .filter(|(_, d)| d != "[DONE]")
        .map(|(_, d)| serde_json::from_str(d).unwrap())
        .collect();
    assert!(!chunks.is_empty());
    assert!(chunks.iter().all(|c| c["model"] == "smart"), "{chunks:?}");

    // Anthropic Messages: claude is first and speaks it (bytes forwarded).
    let reply = gw
        .post(
            "/v1/messages",
            ALICE_KEY,
            json!({"model": "smart", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let up = mock.last_request().unwrap();
    assert_eq!(
        (up.path.as_str(), &up.json()["model"]),
        ("/v1/messages", &json!("claude-sonnet-4-5"))
    );
    assert_eq!(up.header("x-api-key"), Some(CLAUDE_KEY));
    assert_eq!(reply.json()["model"], "smart");
    assert_eq!(reply.header("x-gproxy-provider"), Some("claude"));

    // Plain provider/model traffic gets the headers too.
    let reply = gw
        .post(
            "/v1/chat/completions",
            ALICE_KEY,
            chat("openai/gpt-4o", false),
        )
        .await;
    assert_eq!(reply.json()["model"], "openai/gpt-4o");
    assert_eq!(reply.header("x-gproxy-model"), Some("gpt-4o"));

    // Routes are listed as models of the gateway, and stored.
    let list = gw
        .send(
            gw.request("GET", "/v1/models")
                .header("authorization", format!("Bearer {ALICE_KEY}")),
            "",
        )
        .await
        .json();
    let smart = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "smart")
        .unwrap();
    assert_eq!(smart["owned_by"], "gproxy");
    assert!(
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == "balanced")
    );
    let storage = Storage::connect(&gw.dsn()).await.unwrap();
    let stored = storage.list_model_routes().await.unwrap();
    assert_eq!(
        stored
            .iter()
            .map(|r| (r.name.as_str(), r.strategy.as_str()))
            .collect::<Vec<_>>(),
        [("smart", "ordered"), ("balanced", "weighted")]
    );
}

#[tokio::test]
async fn weighted_route_spreads_requests_by_weight() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &routes_config(&mock)).await;

    let (mut openai, mut deepseek) = (0, 0);
    for _ in 0..40 {
        let reply = gw
            .post("/v1/chat/completions", ALICE_KEY, chat("balanced", false))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert_eq!(reply.json()["model"], "balanced");
        let up = mock.last_request().unwrap();
        match up.header("authorization") {
            Some(a) if a == format!("Bearer {OPENAI_KEY}") => {
                assert_eq!(up.json()["model"], "gpt-4o-mini");
                assert_eq!(reply.header("x-gproxy-provider"), Some("openai"));
                openai += 1;
            }
            Some("Bearer sk-deepseek-1") => {
                assert_eq!(up.json()["model"], "deepseek-chat");
                assert_eq!(reply.header("x-gproxy-provider"), Some("deepseek"));
                deepseek += 1;
            }
            other => panic!("unexpected upstream auth {other:?}"),
        }
    }
    // Weights 3:1 over 40 picks.
    assert_eq!((openai, deepseek), (30, 10));
}

#[tokio::test]
async fn a_route_serves_every_protocol() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &routes_config(&mock)).await;

    // Gemini client: neither claude nor openai speaks Gemini; claude serves.
    let reply = gw
        .post(
            "/v1beta/models/smart:generateContent",
            ALICE_KEY,
            json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let v = reply.json();
    assert!(
        v["candidates"][0]["content"]["parts"][0]["text"]
            .as_str()
            .unwrap()
            .contains("Hello"),
        "Gemini shape: {v}"
    );
    assert_eq!(mock.last_request().unwrap().path, "/v1/messages");

    // Responses: openai speaks it; deepseek gets it converted to Chat.
    // Weights 3:1 over 4 picks.
    mock.clear();
    let mut served = Vec::new();
    for _ in 0..4 {
        let reply = gw
            .post(
                "/v1/responses",
                ALICE_KEY,
                json!({"model": "balanced", "input": "hi"}),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert_eq!(reply.json()["object"], "response");
        assert_eq!(reply.json()["model"], "balanced");
        served.push(reply.header("x-gproxy-provider").unwrap().to_owned());
    }
    served.sort();
    assert_eq!(served, ["deepseek", "openai", "openai", "openai"]);
    let paths: Vec<String> = mock.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths.iter().filter(|p| *p == "/v1/responses").count(),
        3,
        "{paths:?}"
    );
    assert_eq!(
        paths
            .iter()
            .filter(|p| *p == "/v1/chat/completions")
            .count(),
        1,
        "{paths:?}"
    );

    // Provider-prefixed routes never resolve aliases: the model goes as written.
    let reply = gw
        .post(
            "/openai/v1/chat/completions",
            ALICE_KEY,
            chat("smart", false),
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(mock.last_request().unwrap().json()["model"], "smart");
}

#[tokio::test]
async fn a_route_to_an_unknown_provider_stops_startup_with_its_path() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "{}\n[[routes]]\nmodel = \"ok\"\ntargets = [\"openai/gpt-4o\"]\n\n[[routes]]\nmodel = \"bad\"\ntargets = [\"openai/gpt-4o\", {{ target = \"nope/x\", weight = 2 }}]\n",
        config(&mock, "")
    );
    let (result, ()) = spawn(dir.path(), &text, &[]).await;
    let Err(err) = result else {
        panic!("the gateway started with a route to an unknown provider");
    };
    assert!(err.contains("routes[1].targets[1].target"), "{err}");
    assert!(err.contains("unknown provider `nope`"), "{err}");
}
