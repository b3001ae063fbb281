//! Custom providers (`kind = "custom"`) through the real binary: one per
//! protocol against the mock, asserting what the upstream received (URL
//! path, auth header form, extra headers, masked fields, no client key) and
//! what the client got; the model allow-list; aggregate routes; config
//! errors that name the field.
#![cfg(test)]

mod common;

use common::*;
use gproxy_testkit::{MockUpstream, RecordedRequest};
use serde_json::{Value, json};

/// Four custom providers, one per protocol, all on the one mock.
fn custom_config(mock: &MockUpstream) -> String {
    let base = mock.base_url();
    let providers = format!(
        r#"
[[providers]]
name = "cchat"
kind = "custom"
protocol = "openai_chat"
base_url = "{base}/v1"
json_param_mask = ["temperature", "messages[*].name"]
headers = {{ "x-extra" = "1" }}
models = ["m-1", "m-2"]
count_tokens = "local"
[[providers.credentials]]
api_key = "sk-cchat-upstream"

[[providers]]
name = "cresp"
kind = "custom"
protocol = "openai_responses"
base_url = "{base}/v1"
json_param_mask = ["/metadata/user~1id"]
headers = {{ "x-extra" = "2" }}
[[providers.credentials]]
api_key = "sk-cresp-upstream"

[[providers]]
name = "cclaude"
kind = "custom"
protocol = "claude"
base_url = "{base}"
json_param_mask = ["top_k", "metadata"]
headers = {{ "x-extra" = "3" }}
[[providers.credentials]]
api_key = "sk-cclaude-upstream"

[[providers]]
name = "cgem"
kind = "custom"
protocol = "gemini"
base_url = "{base}"
json_param_mask = ["generationConfig.temperature", "contents[*].parts[*].thought"]
headers = {{ "x-extra" = "4" }}
models = ["g-1"]
[[providers.credentials]]
api_key = "sk-cgem-upstream"

[[providers]]
name = "cnone"
kind = "custom"
protocol = "openai_chat"
base_url = "{base}/v1"
auth = "none"
"#
    );
    format!("{}{providers}", config(mock, ""))
}

/// The upstream request must carry the provider's key in `auth` form, the
/// extra header, and no trace of the client's key.
fn assert_upstream(up: &RecordedRequest, path: &str, auth: (&str, &str), extra: &str) {
    assert_eq!(up.path, path);
    assert_eq!(up.header(auth.0), Some(auth.1), "{path}: auth form");
    assert_eq!(up.header("x-extra"), Some(extra), "{path}: extra header");
    for (name, value) in &up.headers {
        assert!(
            !value.to_str().unwrap_or("").contains(ALICE_KEY),
            "{path}: client key forwarded in {name}"
        );
    }
}

fn chat_body(model: &str, stream: bool) -> Value {
    json!({
        "model": model,
        "stream": stream,
        "temperature": 0.3,
        "top_p": 0.9,
        "messages": [
            {"role": "system", "name": "sys", "content": "be brief"},
            {"role": "user", "name": "alice", "content": "hi"}
        ]
    })
}

fn assert_chat_masked(up: &RecordedRequest, model: &str) {
    let sent = up.json();
    assert_eq!(sent["temperature"], Value::Null);
    assert_eq!(sent["messages"][0]["name"], Value::Null);
    assert_eq!(sent["messages"][1]["name"], Value::Null);
    assert_eq!(sent["messages"][1]["content"], "hi");
    assert_eq!(sent["top_p"], 0.9);
    assert_eq!(sent["model"], model);
}

#[tokio::test]
async fn every_protocol_reaches_the_upstream_as_configured() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &custom_config(&mock)).await;
    let bearer = |key| ("authorization", format!("Bearer {key}"));

    // OpenAI Chat, non-stream.
    let reply = gw
        .post(
            "/cchat/v1/chat/completions",
            ALICE_KEY,
            chat_body("m-1", false),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["model"], "m-1");
    let up = mock.last_request().unwrap();
    let auth = bearer("sk-cchat-upstream");
    assert_upstream(&up, "/v1/chat/completions", (auth.0, &auth.1), "1");
    assert_chat_masked(&up, "m-1");

    // OpenAI Chat, stream: the mask runs after the gateway's own rewrite.
    let reply = gw
        .post(
            "/cchat/v1/chat/completions",
            ALICE_KEY,
            chat_body("m-2", true),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let events = reply.events();
    assert_eq!(events.last().unwrap().1, "[DONE]");
    let first: Value = serde_json::from_str(&events[0].1).unwrap();
    assert_eq!(first["model"], "m-2");
    let up = mock.last_request().unwrap();
    assert_upstream(&up, "/v1/chat/completions", (auth.0, &auth.1), "1");
    assert_chat_masked(&up, "m-2");
    assert_eq!(up.json()["stream_options"]["include_usage"], true);

    // OpenAI Responses: a JSON Pointer with an escaped `/`.
    let reply = gw
        .post(
            "/cresp/v1/responses",
            ALICE_KEY,
            json!({"model": "r-1", "input": "hi", "metadata": {"user/id": "u1", "team": "t"}}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let up = mock.last_request().unwrap();
    let auth = bearer("sk-cresp-upstream");
    assert_upstream(&up, "/v1/responses", (auth.0, &auth.1), "2");
    assert_eq!(up.json()["metadata"], json!({"user/id": null, "team": "t"}));
    assert_eq!(up.json()["input"], "hi");

    // Claude: `x-api-key`, and a default `anthropic-version`.
    let reply = gw
        .post(
            "/cclaude/v1/messages",
            ALICE_KEY,
            json!({"model": "c-1", "max_tokens": 16, "top_k": 5, "metadata": {"user_id": "u"},
                   "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["model"], "c-1");
    let up = mock.last_request().unwrap();
    assert_upstream(
        &up,
        "/v1/messages",
        ("x-api-key", "sk-cclaude-upstream"),
        "3",
    );
    assert_eq!(up.header("anthropic-version"), Some("2023-06-01"));
    assert!(up.header("authorization").is_none());
    let sent = up.json();
    assert_eq!(
        (&sent["top_k"], &sent["metadata"]),
        (&Value::Null, &Value::Null)
    );
    assert_eq!(sent["max_tokens"], 16);

    // Gemini: `x-goog-api-key`, wildcards over nested arrays, SSE stream.
    let gemini = json!({
        "contents": [{"role": "user", "parts": [{"text": "hi", "thought": true}, {"text": "there"}]}],
        "generationConfig": {"temperature": 0.5, "maxOutputTokens": 8}
    });
    let req = gw
        .request(
            "POST",
            "/cgem/v1beta/models/g-1:streamGenerateContent?alt=sse",
        )
        .header("x-goog-api-key", ALICE_KEY);
    let reply = gw.send(req, gemini.to_string()).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(!reply.events().is_empty());
    let up = mock.last_request().unwrap();
    assert_upstream(
        &up,
        "/v1beta/models/g-1:streamGenerateContent",
        ("x-goog-api-key", "sk-cgem-upstream"),
        "4",
    );
    assert_eq!(up.query_param("alt"), Some("sse"));
    assert!(up.query_param("key").is_none());
    let sent = up.json();
    assert_eq!(
        sent["generationConfig"],
        json!({"temperature": null, "maxOutputTokens": 8})
    );
    assert_eq!(sent["contents"][0]["parts"][0]["thought"], Value::Null);
    assert_eq!(sent["contents"][0]["parts"][0]["text"], "hi");
    assert_eq!(sent["contents"][0]["parts"][1], json!({"text": "there"}));

    // `auth = "none"`: no credential configured, none sent (the mock's own
    // 401 comes back as it is).
    let reply = gw
        .post(
            "/cnone/v1/chat/completions",
            ALICE_KEY,
            chat_body("x", false),
        )
        .await;
    assert_eq!(reply.status, 401);
    let up = mock.last_request().unwrap();
    assert!(up.header("authorization").is_none());
    // No mask configured: the client's bytes go upstream as they came.
    assert_eq!(up.json(), chat_body("x", false));

    let health = gw.health().await.json();
    let kinds: Vec<&str> = health["providers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["name"].as_str().unwrap().starts_with('c'))
        .map(|p| p["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.iter().filter(|k| **k == "custom").count() == 5,
        "{health}"
    );
}

#[tokio::test]
async fn aggregate_routes_and_the_model_allow_list() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &custom_config(&mock)).await;

    // `mycustom/m-1` on the aggregate route: prefix off upstream, back on
    // for the client.
    let reply = gw
        .post(
            "/v1/chat/completions",
            ALICE_KEY,
            chat_body("cchat/m-1", false),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["model"], "cchat/m-1");
    assert_chat_masked(&mock.last_request().unwrap(), "m-1");

    let reply = gw
        .post(
            "/v1/chat/completions",
            ALICE_KEY,
            chat_body("cchat/m-1", true),
        )
        .await;
    assert_eq!(reply.status, 200);
    let first: Value = serde_json::from_str(&reply.events()[0].1).unwrap();
    assert_eq!(first["model"], "cchat/m-1");

    // A model outside the allow-list: 404 in the client's shape, naming
    // the model and the provider, and nothing sent upstream.
    let before = mock.request_count();
    for (path, model) in [
        ("/cchat/v1/chat/completions", "m-3"),
        ("/v1/chat/completions", "cchat/m-3"),
    ] {
        let reply = gw.post(path, ALICE_KEY, chat_body(model, false)).await;
        assert_eq!(reply.status, 404, "{path}");
        let body = reply.json();
        assert_eq!(body["error"]["type"], "not_found_error", "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("`m-3`") && message.contains("`cchat`"),
            "{message}"
        );
    }
    let req = gw
        .request("POST", "/v1beta/models/cgem/g-2:generateContent")
        .header("x-goog-api-key", ALICE_KEY);
    let reply = gw
        .send(
            req,
            json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}).to_string(),
        )
        .await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.json()["error"]["status"], "NOT_FOUND");
    assert!(reply.text().contains("`g-2`") && reply.text().contains("`cgem`"));
    assert_eq!(mock.request_count(), before, "nothing sent upstream");

    // The allowed Gemini model on the aggregate route passes.
    let req = gw
        .request("POST", "/v1beta/models/cgem/g-1:generateContent")
        .header("x-goog-api-key", ALICE_KEY);
    let reply = gw
        .send(
            req,
            json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}).to_string(),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        mock.last_request().unwrap().path,
        "/v1beta/models/g-1:generateContent"
    );
}

#[tokio::test]
async fn config_errors_name_the_field() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (extra, field) in [
        (
            "[[providers]]\nname = \"bad\"\nkind = \"custom\"\nprotocol = \"openai_chat\"\nbase_url = \"http://h/v1\"\njson_param_mask = [\"temperature\", \"messages[*\"]\n",
            "providers[0].json_param_mask[1]",
        ),
        (
            "[[providers]]\nname = \"openai-eu\"\nkind = \"openai\"\nprotocol = \"openai_chat\"\n",
            "providers[0].protocol",
        ),
        (
            "[[providers]]\nname = \"bad\"\nkind = \"custom\"\nbase_url = \"http://h/v1\"\n",
            "providers[0].protocol",
        ),
        (
            "[[providers]]\nname = \"bad\"\nkind = \"custom\"\nprotocol = \"claude\"\nbase_url = \"http://h\"\nheaders = { \"authorization\" = \"Bearer x\" }\n",
            "providers[0].headers.authorization",
        ),
    ] {
        let text = config(&mock, extra);
        let (result, ()) = spawn(dir.path(), &text, &[]).await;
        let Err(output) = result else {
            panic!("started despite a bad `{field}`");
        };
        assert!(output.contains(&format!("`{field}`")), "{field}: {output}");
    }
}
