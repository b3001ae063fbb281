//! Every OpenAI-compatible built-in provider through the real binary:
//! route prefix, aggregate model names, bearer auth with the provider's own
//! key, the protocols each one speaks, and keyless Ollama.
#![cfg(test)]

mod common;

use common::*;
use gproxy_testkit::MockUpstream;
use serde_json::json;

/// (kind, speaks Responses)
const KINDS: &[(&str, bool)] = &[
    ("deepseek", false),
    ("nvidia", false),
    ("xai", true),
    ("mistral", false),
    ("groq", true),
    ("openrouter", true),
];

fn provider_block(mock: &MockUpstream, kind: &str) -> String {
    format!(
        "[[providers]]\nname = \"{kind}\"\nbase_url = \"{}/v1\"\n[[providers.credentials]]\napi_key = \"sk-{kind}-upstream-1\"\n",
        mock.base_url()
    )
}

#[tokio::test]
async fn every_openai_compatible_builtin_proxies_with_its_own_key() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut text = config(&mock, "");
    for (kind, _) in KINDS {
        text.push_str(&provider_block(&mock, kind));
    }
    text.push_str(&format!(
        "[[providers]]\nname = \"ollama\"\nbase_url = \"{}/v1\"\n",
        mock.base_url()
    ));
    let gw = start(dir.path(), &text).await;

    let health = gw.health().await.json();
    assert_eq!(
        health["providers"].as_array().unwrap().len(),
        16,
        "every built-in is seeded: {health}"
    );

    for (kind, responses) in KINDS {
        let chat = json!({"model": "m-1", "messages": [{"role": "user", "content": "hi"}]});
        let reply = gw
            .post(&format!("/{kind}/v1/chat/completions"), ALICE_KEY, chat)
            .await;
        assert_eq!(reply.status, 200, "{kind}: {}", reply.text());
        let up = mock.last_request().unwrap();
        assert_eq!(up.path, "/v1/chat/completions", "{kind}");
        assert_eq!(
            up.header("authorization"),
            Some(format!("Bearer sk-{kind}-upstream-1").as_str()),
            "{kind}"
        );

        let agg = json!({"model": format!("{kind}/m-1"), "stream": true, "messages": [{"role": "user", "content": "hi"}]});
        let reply = gw.post("/v1/chat/completions", ALICE_KEY, agg).await;
        assert_eq!(reply.status, 200, "{kind}");
        assert_eq!(mock.last_request().unwrap().json()["model"], "m-1");
        let first: serde_json::Value = serde_json::from_str(&reply.events()[0].1).unwrap();
        assert_eq!(first["model"], format!("{kind}/m-1"));

        let before = mock.request_count();
        let reply = gw
            .post(
                &format!("/{kind}/v1/responses"),
                ALICE_KEY,
                json!({"model": "m-1", "input": "hi"}),
            )
            .await;
        if *responses {
            assert_eq!(reply.status, 200, "{kind}: {}", reply.text());
            assert_eq!(mock.last_request().unwrap().path, "/v1/responses");
        } else {
            // No Responses API: converted to Chat, answered as a Responses object.
            assert_eq!(reply.status, 200, "{kind}: {}", reply.text());
            assert_eq!(mock.request_count(), before + 1);
            let up = mock.last_request().unwrap();
            assert_eq!(up.path, "/v1/chat/completions", "{kind}");
            assert_eq!(up.json()["messages"][0]["content"], "hi", "{kind}");
            assert_eq!(reply.json()["object"], "response", "{kind}");
        }
    }
}

#[tokio::test]
async fn ollama_runs_without_a_credential() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "{}[[providers]]\nname = \"ollama\"\nbase_url = \"{}/v1\"\n",
        config(&mock, ""),
        mock.base_url()
    );
    let gw = start(dir.path(), &text).await;
    let reply = gw
        .post(
            "/ollama/v1/chat/completions",
            ALICE_KEY,
            json!({"model": "llama3", "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    let up = mock
        .last_request()
        .expect("the request reached the upstream");
    assert!(
        up.header("authorization").is_none(),
        "no key configured, none sent"
    );
    assert!(
        !up.headers
            .iter()
            .any(|(_, v)| v.to_str().unwrap_or("").contains(ALICE_KEY))
    );
    // The OpenAI mock itself insists on a key, so its 401 comes back as is.
    assert_eq!(reply.status, 401);
    assert!(
        reply.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("API key"),
        "{}",
        reply.text()
    );

    // A provider that needs a key and has none is a clear 503.
    let reply = gw
        .post(
            "/mistral/v1/chat/completions",
            ALICE_KEY,
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(reply.status, 503);
    assert!(
        reply.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no usable credential")
    );
}
