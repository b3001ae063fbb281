//! Model lists through the real binary: aggregate and per-provider lists in
//! OpenAI, Anthropic and Gemini shape, the upstream list calls with each
//! provider's own auth, fallback entries, the partial marker and the cache.
#![cfg(test)]

mod common;

use common::*;
use gproxy_testkit::{Fault, MockUpstream};
use serde_json::Value;

/// The partial-list marker header.
const PARTIAL: &str = "x-gproxy-partial";

/// The documented config plus a provider `broken` (kind openai) on its own
/// mock, and Ollama disabled (its default URL is a local server).
fn models_config(mock: &MockUpstream, broken: &MockUpstream) -> String {
    format!(
        "{}[[providers]]\nname = \"broken\"\nkind = \"openai\"\nbase_url = \"{}/v1\"\n[[providers.credentials]]\napi_key = \"sk-broken-1\"\n\n[[providers]]\nname = \"ollama\"\nenabled = false\n",
        config(mock, ""),
        broken.base_url()
    )
}

fn ids(list: &Value, field: &str, key: &str) -> Vec<String> {
    list[field]
        .as_array()
        .unwrap_or_else(|| panic!("no `{field}` array: {list}"))
        .iter()
        .map(|m| m[key].as_str().unwrap().to_owned())
        .collect()
}

fn entry<'a>(list: &'a Value, field: &str, key: &str, id: &str) -> &'a Value {
    list[field]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m[key] == id)
        .unwrap_or_else(|| panic!("no {id} in {list}"))
}

async fn get(gw: &Gateway, path: &str, headers: &[(&str, &str)]) -> Reply {
    let mut req = gw.request("GET", path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    gw.send(req, "").await
}

#[tokio::test]
async fn aggregate_list_in_openai_and_anthropic_shape_with_fallback_partial_and_cache() {
    let mock = MockUpstream::start().await.unwrap();
    let broken = MockUpstream::start().await.unwrap();
    broken.push_fault(Fault::server_error());
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &models_config(&mock, &broken)).await;
    let bearer = format!("Bearer {ALICE_KEY}");

    let reply = get(&gw, "/v1/models", &[("authorization", &bearer)]).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let list = reply.json();
    assert_eq!(list["object"], "list");
    let all = ids(&list, "data", "id");
    for id in [
        "openai/gpt-4o-mini",
        "openai/gpt-4o",
        "claude/claude-sonnet-4-5-20250929",
        "claude/claude-haiku-4-5-20251001",
        "aistudio/gemini-2.5-flash",
        "aistudio/gemini-2.5-pro",
        // Providers without a credential list their kind's fallback.
        "mistral/mistral-large-latest",
        "deepseek/deepseek-chat",
        // The failing provider lists its fallback too, and is named partial.
        "broken/gpt-4o-mini",
    ] {
        assert!(all.iter().any(|i| i == id), "{id} missing from {all:?}");
    }
    assert!(
        !all.iter().any(|i| i.starts_with("ollama/")),
        "disabled providers are not listed"
    );
    let up = entry(&list, "data", "id", "openai/gpt-4o");
    assert_eq!(up["object"], "model");
    assert_eq!(up["created"], 1_715_367_049u64);
    assert_eq!(up["owned_by"], "system");
    assert!(up.get("fallback").is_none());
    let fb = entry(&list, "data", "id", "mistral/mistral-large-latest");
    assert_eq!(
        (&fb["fallback"], &fb["owned_by"]),
        (&Value::Bool(true), &Value::from("mistral"))
    );
    assert_eq!(
        entry(&list, "data", "id", "broken/gpt-4o-mini")["fallback"],
        true
    );
    assert_eq!(reply.header(PARTIAL), Some("broken"));
    assert_eq!(list["partial"], serde_json::json!(["broken"]));

    // The upstream got one list call per provider, each with its own auth.
    let calls = mock.requests();
    assert_eq!(calls.len(), 3, "{calls:?}");
    let openai = calls
        .iter()
        .find(|r| r.path == "/v1/models" && r.header("authorization").is_some())
        .unwrap();
    assert_eq!(openai.method, "GET");
    assert_eq!(
        openai.header("authorization"),
        Some(format!("Bearer {OPENAI_KEY}").as_str())
    );
    let claude = calls
        .iter()
        .find(|r| r.header("x-api-key").is_some())
        .unwrap();
    assert_eq!(claude.path, "/v1/models");
    assert_eq!(claude.header("x-api-key"), Some(CLAUDE_KEY));
    assert_eq!(claude.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(claude.query_param("limit"), Some("1000"));
    let gemini = calls.iter().find(|r| r.path == "/v1beta/models").unwrap();
    assert_eq!(gemini.header("x-goog-api-key"), Some(GEMINI_KEY));
    for call in &calls {
        assert!(
            !call
                .headers
                .iter()
                .any(|(_, v)| v.to_str().unwrap_or("").contains(ALICE_KEY)),
            "the client key never goes upstream"
        );
    }
    assert_eq!(broken.request_count(), 1);

    // Anthropic shape, by header. Lists are cached: the mock sees nothing new;
    // the failure was not cached, so `broken` is asked again (and answers now).
    let reply = get(
        &gw,
        "/v1/models",
        &[
            ("x-api-key", ALICE_KEY),
            ("anthropic-version", "2023-06-01"),
        ],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let list = reply.json();
    assert_eq!(mock.request_count(), 3, "served from the cache");
    assert_eq!(broken.request_count(), 2, "failures are not cached");
    assert!(reply.header(PARTIAL).is_none());
    assert!(list.get("partial").is_none());
    assert_eq!(list["has_more"], false);
    let data = list["data"].as_array().unwrap();
    assert_eq!(list["first_id"], data[0]["id"]);
    assert_eq!(list["last_id"], data[data.len() - 1]["id"]);
    let sonnet = entry(&list, "data", "id", "claude/claude-sonnet-4-5-20250929");
    assert_eq!(sonnet["type"], "model");
    assert_eq!(sonnet["display_name"], "Claude Sonnet 4.5");
    assert_eq!(sonnet["created_at"], "2025-09-29T00:00:00Z");
    let broken_entry = entry(&list, "data", "id", "broken/gpt-4o");
    assert!(
        broken_entry.get("fallback").is_none(),
        "now from its upstream"
    );
    assert_eq!(broken_entry["created_at"], "2024-05-10T18:50:49Z");
}

#[tokio::test]
async fn gemini_shape_and_per_provider_lists() {
    let mock = MockUpstream::start().await.unwrap();
    let broken = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &models_config(&mock, &broken)).await;

    let reply = get(&gw, "/v1beta/models", &[("x-goog-api-key", ALICE_KEY)]).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let list = reply.json();
    let names = ids(&list, "models", "name");
    assert!(
        names
            .iter()
            .any(|n| n == "models/aistudio/gemini-2.5-flash"),
        "{names:?}"
    );
    assert!(
        names.iter().any(|n| n == "models/openai/gpt-4o-mini"),
        "{names:?}"
    );
    assert_eq!(
        entry(&list, "models", "name", "models/aistudio/gemini-2.5-pro")["displayName"],
        "Gemini 2.5 Pro"
    );

    // One provider: ids as the upstream names them, no prefix.
    let reply = get(
        &gw,
        &format!("/aistudio/v1beta/models?key={ALICE_KEY}"),
        &[],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        ids(&reply.json(), "models", "name"),
        ["models/gemini-2.5-flash", "models/gemini-2.5-pro"]
    );
    let bearer = format!("Bearer {ALICE_KEY}");
    let reply = get(&gw, "/openai/v1/models", &[("authorization", &bearer)]).await;
    assert_eq!(ids(&reply.json(), "data", "id"), ["gpt-4o-mini", "gpt-4o"]);
    let reply = get(
        &gw,
        "/claude/v1/models",
        &[
            ("authorization", &bearer),
            ("anthropic-version", "2023-06-01"),
        ],
    )
    .await;
    let list = reply.json();
    assert_eq!(
        ids(&list, "data", "id"),
        ["claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001"]
    );
    assert_eq!(list["first_id"], "claude-sonnet-4-5-20250929");
    // A provider without a credential: its fallback, marked.
    let reply = get(&gw, "/groq/v1/models", &[("authorization", &bearer)]).await;
    let list = reply.json();
    assert!(
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["fallback"] == true),
        "{list}"
    );
    assert!(ids(&list, "data", "id").contains(&"llama-3.3-70b-versatile".to_owned()));

    // Unknown or disabled provider: 404 naming it and the way to list.
    let reply = get(&gw, "/nope/v1/models", &[("authorization", &bearer)]).await;
    assert_eq!(reply.status, 404);
    let message = reply.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        message.contains("provider `nope` not found") && message.contains("GET /v1/models"),
        "{message}"
    );
    let reply = get(&gw, "/ollama/v1beta/models", &[("authorization", &bearer)]).await;
    assert_eq!(reply.status, 404);
    assert_eq!(
        reply.json()["error"]["status"],
        "NOT_FOUND",
        "Gemini error shape"
    );

    // A key is needed like on every route; only GET.
    let reply = get(&gw, "/v1/models", &[]).await;
    assert_eq!(reply.status, 401);
    let reply = get(&gw, "/v1/models", &[("anthropic-version", "2023-06-01")]).await;
    assert_eq!(
        (reply.status.as_u16(), &reply.json()["type"]),
        (401, &Value::from("error"))
    );
    let reply = gw
        .post("/v1/models", ALICE_KEY, serde_json::json!({}))
        .await;
    assert_eq!(reply.status, 405);
}
