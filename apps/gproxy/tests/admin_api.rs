//! The admin API through the real binary: every resource, live apply on
//! the next request, bad input with field paths, write-only secrets.
#![cfg(test)] // lets clippy see helpers as test code (unwrap/expect allowed)

mod common;

use common::*;
use gproxy_testkit::MockUpstream;
use serde_json::json;

const K: Option<&str> = Some(ADMIN_KEY);

fn chat(model: &str) -> serde_json::Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hi"}]})
}

#[tokio::test]
async fn providers_and_credentials_apply_on_the_next_request() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &config(&mock, "")).await;

    let list = gw.api("GET", "/providers", K, None).await;
    assert_eq!(list.status, 200, "{}", list.text());
    let names: Vec<String> = list
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        names.contains(&"openai".to_owned()) && names.contains(&"claude".to_owned()),
        "{names:?}"
    );

    // A custom provider with no credential yet: not usable.
    let created = gw
        .api(
            "POST",
            "/providers",
            K,
            Some(json!({
                "name": "mine", "kind": "custom", "protocol": "openai_chat",
                "base_url": format!("{}/v1", mock.base_url()),
                "headers": {"x-team": "a", "x-api-token": "hidden-value"}
            })),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(created.json()["settings"]["headers"]["x-api-token"], "***");
    assert_eq!(created.json()["settings"]["headers"]["x-team"], "a");
    assert_eq!(created.json()["loaded"], true);
    let dup = gw.api("POST", "/providers", K, Some(json!({"name": "mine", "kind": "custom", "protocol": "openai_chat", "base_url": "http://x"}))).await;
    assert_eq!(dup.status, 409, "{}", dup.text());

    // A credential added through the API serves the very next request.
    let secret = "sk-custom-upstream-key-0123456789";
    let cred = gw
        .api(
            "POST",
            "/providers/mine/credentials",
            K,
            Some(json!({"api_key": secret, "name": "main"})),
        )
        .await;
    assert_eq!(cred.status, 201, "{}", cred.text());
    assert_eq!(cred.json()["masked"], "sk-...6789");
    assert!(!cred.text().contains(secret));
    let reply = gw
        .post("/v1/chat/completions", ALICE_KEY, chat("mine/gpt-4o-mini"))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let seen = mock.last_request().unwrap();
    assert_eq!(
        seen.header("authorization"),
        Some(format!("Bearer {secret}").as_str())
    );
    assert_eq!(seen.header("x-team"), Some("a"));
    assert_eq!(seen.header("x-api-token"), Some("hidden-value"));

    // Secrets never come back: not in a list, a read, or a provider read.
    for path in [
        "/credentials",
        "/providers/mine/credentials",
        "/providers/mine",
        "/providers",
    ] {
        let r = gw.api("GET", path, K, None).await;
        assert_eq!(r.status, 200);
        assert!(
            !r.text().contains(secret) && !r.text().contains("hidden-value"),
            "{path}: {}",
            r.text()
        );
    }
    // A masked header sent back unchanged keeps its stored value.
    let patched = gw
        .api(
            "PATCH",
            "/providers/mine",
            K,
            Some(json!({"headers": {"x-team": "b", "x-api-token": "***"}})),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text());
    gw.post("/v1/chat/completions", ALICE_KEY, chat("mine/gpt-4o-mini"))
        .await;
    let seen = mock.last_request().unwrap();
    assert_eq!(seen.header("x-team"), Some("b"));
    assert_eq!(seen.header("x-api-token"), Some("hidden-value"));

    // Disable: refused at once; enable: served again.
    let r = gw.api("POST", "/providers/mine/disable", K, None).await;
    assert_eq!(r.json()["enabled"], false);
    let refused = gw
        .post("/v1/chat/completions", ALICE_KEY, chat("mine/gpt-4o-mini"))
        .await;
    assert!(
        refused.status.is_client_error() || refused.status.is_server_error(),
        "{}",
        refused.status
    );
    assert_ne!(refused.status, 200);
    gw.api("POST", "/providers/mine/enable", K, None).await;
    let again = gw
        .post("/v1/chat/completions", ALICE_KEY, chat("mine/gpt-4o-mini"))
        .await;
    assert_eq!(again.status, 200, "{}", again.text());

    // Built-ins cannot be deleted; custom ones can, with their credentials.
    let r = gw.api("DELETE", "/providers/openai", K, None).await;
    assert_eq!(r.status, 409, "{}", r.text());
    let r = gw.api("DELETE", "/providers/mine", K, None).await;
    assert_eq!(r.status, 204, "{}", r.text());
    let gone = gw
        .post("/v1/chat/completions", ALICE_KEY, chat("mine/gpt-4o-mini"))
        .await;
    assert_eq!(gone.status, 404, "{}", gone.text());
    let r = gw.api("GET", "/providers/mine", K, None).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"]["code"], "not_found");
}

#[tokio::test]
async fn credential_import_test_update_and_state() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &config(&mock, "")).await;

    let text = "sk-import-one-0123456789abcdef\n\n# a comment\nsk-import-two-0123456789abcdef\nsk-import-one-0123456789abcdef\n";
    let r = gw
        .api(
            "POST",
            "/providers/openai/credentials/import",
            K,
            Some(json!({"keys": text})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let body = r.json();
    assert_eq!(body["created"].as_array().unwrap().len(), 2, "{body}");
    assert_eq!(body["skipped"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(body["skipped"][0]["at"], "keys[line 5]");
    assert!(!r.text().contains("sk-import-one-0123456789abcdef"));

    // One bad entry refuses the whole import, naming it.
    let r = gw
        .api(
            "POST",
            "/providers/openai/credentials/import",
            K,
            Some(json!({"items": [
                {"api_key": "sk-import-three-0123456789abc"},
                {"api_key": "has space inside"}
            ]})),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["error"]["field"], "items[1].api_key");
    let all = gw
        .api("GET", "/providers/openai/credentials", K, None)
        .await
        .json();
    assert_eq!(all.as_array().unwrap().len(), 3, "{all}");

    // Test: one upstream call with exactly that credential.
    let id = all
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["masked"] == "sk-...cdef" && c["name"] != "")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let before = mock.request_count();
    let t = gw
        .api("POST", &format!("/credentials/{id}/test"), K, None)
        .await;
    assert_eq!(t.status, 200, "{}", t.text());
    assert_eq!(t.json()["ok"], true, "{}", t.text());
    assert!(t.json()["latency_ms"].is_u64());
    assert_eq!(mock.request_count(), before + 1);
    assert_eq!(mock.last_request().unwrap().path, "/v1/models");
    mock.revoke_key("sk-import-one-0123456789abcdef");
    mock.revoke_key("sk-import-two-0123456789abcdef");
    let t = gw
        .api("POST", &format!("/credentials/{id}/test"), K, None)
        .await
        .json();
    assert_eq!(t["ok"], false, "{t}");
    assert_eq!(t["status"], 401, "{t}");

    // Update weight/name; a zero weight is refused with its field.
    let r = gw
        .api(
            "PATCH",
            &format!("/credentials/{id}"),
            K,
            Some(json!({"weight": 0})),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["field"], "weight");
    let r = gw
        .api(
            "PATCH",
            &format!("/credentials/{id}"),
            K,
            Some(json!({"weight": 5, "name": "renamed"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["weight"], 5);
    assert_eq!(r.json()["name"], "renamed");
    let state = gw
        .api("GET", &format!("/credentials/{id}/state"), K, None)
        .await;
    assert_eq!(state.status, 200, "{}", state.text());
    assert_eq!(state.json()["loaded"], true);
    assert_eq!(state.json()["state"], "ok");

    // Disabled in the database: no longer loaded.
    gw.api(
        "PATCH",
        &format!("/credentials/{id}"),
        K,
        Some(json!({"enabled": false})),
    )
    .await;
    assert_eq!(
        gw.api("GET", &format!("/credentials/{id}/state"), K, None)
            .await
            .json()["state"],
        "not_loaded"
    );
    assert_eq!(
        gw.api("DELETE", &format!("/credentials/{id}"), K, None)
            .await
            .status,
        204
    );
    assert_eq!(
        gw.api("GET", &format!("/credentials/{id}"), K, None)
            .await
            .status,
        404
    );
    assert_eq!(
        gw.api("DELETE", "/credentials/999999", K, None)
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn model_routes_and_settings_apply_live() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &config(&mock, "")).await;

    let r = gw
        .api(
            "POST",
            "/routes",
            K,
            Some(json!({"name": "smart", "targets": ["nope/x"]})),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["field"], "targets[0]");
    let r = gw.api("POST", "/routes", K, Some(json!({"name": "smart", "targets": ["openai/gpt-4o-mini", {"target": "claude/claude-x", "weight": 2}]}))).await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["strategy"], "weighted");
    let r = gw
        .api(
            "PUT",
            "/routes/smart",
            K,
            Some(json!({"targets": ["openai/gpt-4o-mini"]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["strategy"], "ordered");
    let reply = gw
        .post("/v1/chat/completions", ALICE_KEY, chat("smart"))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(mock.last_request().unwrap().json()["model"], "gpt-4o-mini");
    assert_eq!(gw.api("DELETE", "/routes/smart", K, None).await.status, 204);
    let gone = gw
        .post("/v1/chat/completions", ALICE_KEY, chat("smart"))
        .await;
    assert_eq!(gone.status, 404, "{}", gone.text());

    // Settings: validated with their path, applied to the next request.
    let r = gw
        .api(
            "PATCH",
            "/settings",
            K,
            Some(json!({"limits": {"max_body_bytes": 0}})),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["field"], "limits.max_body_bytes");
    let r = gw
        .api(
            "PATCH",
            "/settings",
            K,
            Some(json!({"proxy": "ftp://nope"})),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["field"], "proxy");
    let r = gw.api("PATCH", "/settings", K, Some(json!({"limits": {"max_body_bytes": 200}, "circuit_breaker": {"failure_threshold": 9}}))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["limits"]["max_body_bytes"], 200);
    assert_eq!(
        r.json()["limits"]["stream_idle_timeout_secs"],
        120,
        "other fields keep their values"
    );
    assert_eq!(r.json()["circuit_breaker"]["failure_threshold"], 9);
    let big = json!({"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "x".repeat(300)}]});
    let refused = gw.post("/v1/chat/completions", ALICE_KEY, big).await;
    assert_eq!(refused.status, 413, "{}", refused.text());
    let got = gw.api("GET", "/settings", K, None).await.json();
    assert_eq!(got["limits"]["max_body_bytes"], 200);
    assert_eq!(got["circuit_breaker"]["failure_threshold"], 9);
    assert_eq!(got["logging"]["capture_bodies"], false);

    // Body capture switched on live: the next request's bodies are kept,
    // the client's key redacted.
    let r = gw.api("PATCH", "/settings", K, Some(json!({"limits": {"max_body_bytes": 1048576}, "logging": {"capture_bodies": true, "max_body_bytes": 4096}}))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["logging"]["capture_bodies"], true);
    let reply = gw
        .post(
            "/v1/chat/completions",
            ALICE_KEY,
            chat("openai/gpt-4o-mini"),
        )
        .await;
    assert_eq!(reply.status, 200);
    let id = reply.header("x-request-id").unwrap().to_owned();
    gw.log_of(&id).await;
    let d = gw.api("GET", &format!("/logs/{id}"), K, None).await.json();
    let bodies = &d["bodies"];
    assert!(
        bodies["request_body"]
            .as_str()
            .unwrap()
            .contains("gpt-4o-mini"),
        "{d}"
    );
    assert!(bodies["response_body"].is_string(), "{d}");
    assert!(!d.to_string().contains(ALICE_KEY), "{d}");
    assert_eq!(d["attempts"][0]["status"], 200, "{d}");
    let r = gw
        .api(
            "PATCH",
            "/settings",
            K,
            Some(json!({"logging": {"retention_days": 99999}})),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["field"], "logging.retention_days");
}

#[tokio::test]
async fn bad_input_gets_a_json_error_with_the_field() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &config(&mock, "")).await;

    let send_raw =
        |method: &'static str, path: &'static str, ct: Option<&'static str>, body: &'static str| {
            let mut req = gw
                .request(method, &format!("/admin/api{path}"))
                .header("authorization", format!("Bearer {ADMIN_KEY}"));
            if let Some(ct) = ct {
                req = req.header("content-type", ct);
            }
            gw.send(req, body)
        };
    let r = send_raw("POST", "/users", Some("application/json"), "{\"name\": ").await;
    assert_eq!(r.status, 400);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("invalid JSON body"),
        "{}",
        r.text()
    );
    let r = send_raw(
        "POST",
        "/users",
        Some("application/json"),
        r#"{"name":"bob","colour":"red"}"#,
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["field"], "colour");
    let r = send_raw(
        "POST",
        "/users",
        Some("application/json"),
        r#"{"name":"bob","enabled":"yes"}"#,
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["field"], "enabled");
    let r = send_raw(
        "POST",
        "/users",
        Some("application/json"),
        r#"{"name":"Bob!"}"#,
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["field"], "name");
    let r = send_raw("POST", "/users", Some("text/plain"), r#"{"name":"bob"}"#).await;
    assert_eq!(r.status, 415, "{}", r.text());
    let r = send_raw("POST", "/users", Some("application/json"), "").await;
    assert_eq!(r.status, 400);
    let r = send_raw("GET", "/users/abc", None, "").await;
    assert_eq!(r.status, 404);
    let r = send_raw("GET", "/nothing-here", None, "").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"]["code"], "not_found");
    let r = send_raw("PUT", "/providers", None, "").await;
    assert_eq!(r.status, 405, "{}", r.text());
    let r = send_raw("POST", "/users/424242/keys", Some("application/json"), "{}").await;
    assert_eq!(r.status, 404, "{}", r.text());
    let r = send_raw(
        "POST",
        "/providers",
        Some("application/json"),
        r#"{"name":"x1","kind":"custom","protocol":"openai_chat"}"#,
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["field"], "base_url");
    let r = send_raw(
        "POST",
        "/providers",
        Some("application/json"),
        r#"{"name":"x1","kind":"martian"}"#,
    )
    .await;
    assert_eq!(r.json()["error"]["field"], "kind");
    let r = send_raw(
        "POST",
        "/providers",
        Some("application/json"),
        r#"{"name":"v1","kind":"custom","protocol":"openai_chat","base_url":"http://a"}"#,
    )
    .await;
    assert_eq!(r.json()["error"]["field"], "name", "{}", r.text());
    let r = send_raw(
        "PATCH",
        "/providers/openai",
        Some("application/json"),
        r#"{"base_url":"not a url"}"#,
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["field"], "base_url");

    // Unauthenticated: 401, as JSON.
    let r = gw.api("GET", "/providers", None, None).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"]["code"], "unauthorized");
    let r = gw
        .api("GET", "/providers", Some("sk-wrong-key-000000000"), None)
        .await;
    assert_eq!(r.status, 401);
    // A proxy key is not an admin credential.
    let r = gw.api("GET", "/providers", Some(ALICE_KEY), None).await;
    assert_eq!(r.status, 401);

    // The document lists every route and is public.
    let doc = gw.api("GET", "/openapi.json", None, None).await;
    assert_eq!(doc.status, 200);
    let doc = doc.json();
    assert_eq!(doc["openapi"], "3.1.0");
    for (path, method) in [
        ("/admin/api/providers", "post"),
        ("/admin/api/credentials/{id}/test", "post"),
        ("/admin/api/users/{id}/keys", "post"),
        ("/admin/api/settings", "patch"),
        ("/admin/api/session", "post"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "{path} {method} missing"
        );
    }
    assert!(doc["components"]["schemas"]["ProviderInput"]["properties"]["base_url"].is_object());
}

#[tokio::test]
async fn logs_usage_and_audit_are_queryable() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &config(&mock, "")).await;

    let mut ids = Vec::new();
    for model in [
        "openai/gpt-4o-mini",
        "openai/gpt-4o-mini",
        "openai/gpt-4o",
        "claude/claude-x",
    ] {
        let body = if model.starts_with("claude") {
            json!({"model": model, "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]})
        } else {
            chat(model)
        };
        let path = if model.starts_with("claude") {
            "/v1/messages"
        } else {
            "/v1/chat/completions"
        };
        let r = gw.post(path, ALICE_KEY, body).await;
        assert_eq!(r.status, 200, "{}", r.text());
        ids.push(r.header("x-request-id").unwrap().to_owned());
    }
    gw.logs(4).await;

    // Newest first, paged by cursor without gaps or repeats.
    let first = gw.api("GET", "/logs?limit=3", K, None).await;
    assert_eq!(first.status, 200, "{}", first.text());
    let first = first.json();
    let items = first["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["request_id"], ids[3].as_str());
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = gw
        .api("GET", &format!("/logs?limit=3&cursor={cursor}"), K, None)
        .await
        .json();
    let rest = second["items"].as_array().unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0]["request_id"], ids[0].as_str());
    assert!(second["next_cursor"].is_null());
    // Filters.
    let by_model = gw
        .api("GET", "/logs?model=gpt-4o-mini", K, None)
        .await
        .json();
    assert_eq!(by_model["items"].as_array().unwrap().len(), 2, "{by_model}");
    let by_provider = gw
        .api("GET", "/logs?provider=claude&status_class=2", K, None)
        .await
        .json();
    assert_eq!(by_provider["items"].as_array().unwrap().len(), 1);
    assert_eq!(by_provider["items"][0]["protocol"], "claude");
    let none = gw.api("GET", "/logs?status_class=5", K, None).await.json();
    assert!(none["items"].as_array().unwrap().is_empty());
    let r = gw.api("GET", "/logs?cursor=zz-not-a-cursor", K, None).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["field"], "cursor");
    let r = gw.api("GET", "/logs?limit=0", K, None).await;
    assert_eq!(r.json()["error"]["field"], "limit");
    let r = gw.api("GET", "/logs?user_id=abc", K, None).await;
    assert_eq!(r.json()["error"]["field"], "user_id");

    // One request's detail.
    let d = gw.api("GET", &format!("/logs/{}", ids[2]), K, None).await;
    assert_eq!(d.status, 200, "{}", d.text());
    assert_eq!(d.json()["log"]["model"], "gpt-4o");
    assert!(d.json()["attempts"].is_array());
    assert_eq!(
        gw.api("GET", "/logs/no-such-request", K, None).await.status,
        404
    );

    // Usage by provider and model over the default range.
    let u = gw
        .api("GET", "/usage?group_by=provider,model", K, None)
        .await;
    assert_eq!(u.status, 200, "{}", u.text());
    let rows = u.json();
    let mini = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["model"] == "gpt-4o-mini")
        .unwrap();
    assert_eq!(mini["requests"], 2);
    assert_eq!(mini["provider"], "openai");
    assert_eq!(mini["errors"], 0);
    assert!(mini["input_tokens"].as_u64().unwrap() > 0, "{mini}");
    let by_day = gw.api("GET", "/usage?bucket=day", K, None).await.json();
    assert_eq!(by_day[0]["requests"], 4, "{by_day}");
    assert!(by_day[0]["bucket_start"].is_string());
    let r = gw.api("GET", "/usage?group_by=colour", K, None).await;
    assert_eq!(r.json()["error"]["field"], "group_by[0]");

    // The audit log: every write with who, what, target, address, outcome.
    gw.api("POST", "/users", K, Some(json!({"name": "zed"})))
        .await;
    gw.api("POST", "/users", K, Some(json!({"name": "zed"})))
        .await;
    let a = gw.api("GET", "/audit?action=user.create", K, None).await;
    assert_eq!(a.status, 200, "{}", a.text());
    let items = a.json()["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(
        items[0]["outcome"], 409,
        "newest first: the refused duplicate"
    );
    assert_eq!(items[1]["outcome"], 201);
    assert_eq!(items[0]["actor"], "admin-key");
    assert_eq!(items[0]["client_ip"], "127.0.0.1");
    assert_eq!(items[0]["target_type"], "user");
    // Reads are not audited.
    let reads = gw
        .api("GET", "/audit?action=provider.list", K, None)
        .await
        .json();
    assert!(reads["items"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn export_then_import_on_another_instance_serves_the_same() {
    let mock = MockUpstream::start().await.unwrap();
    let key = "12".repeat(32);
    let envs = [("GPROXY_MASTER_KEY", key.as_str())];
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, ()) = spawn_env(dir_a.path(), &config(&mock, ""), &[], &envs).await;
    let a = a.unwrap();
    a.api(
        "POST",
        "/routes",
        K,
        Some(json!({"name": "smart", "targets": ["openai/gpt-4o-mini"]})),
    )
    .await;
    let bob = a
        .api("POST", "/users", K, Some(json!({"name": "bob"})))
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    let bob_key = a
        .api("POST", &format!("/users/{bob}/keys"), K, Some(json!({})))
        .await
        .json()["key"]
        .as_str()
        .unwrap()
        .to_owned();

    let export = a.api("GET", "/config/export", K, None).await;
    assert_eq!(export.status, 200, "{}", export.text());
    assert_eq!(export.header("content-type"), Some("application/toml"));
    let text = export.text();
    for secret in [
        OPENAI_KEY,
        CLAUDE_KEY,
        GEMINI_KEY,
        ALICE_KEY,
        bob_key.as_str(),
        ADMIN_KEY,
    ] {
        assert!(!text.contains(secret), "{secret} in the export");
    }
    assert!(text.contains("sealed = \"v1:"), "{text}");
    // Viewers may not export (it holds sealed secrets and key hashes).
    let v = a
        .api(
            "POST",
            "/users",
            K,
            Some(json!({"name": "vic", "role": "viewer"})),
        )
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    let vt = a
        .api(
            "POST",
            &format!("/users/{v}/keys"),
            K,
            Some(json!({"scope": "admin"})),
        )
        .await
        .json()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        a.api("GET", "/config/export", Some(&vt), None).await.status,
        403
    );

    // Another instance with the same master key and an empty database.
    let bare = "admin_key = \"${TEST_ADMIN_KEY}\"\n";
    let (b, ()) = spawn_env(dir_b.path(), bare, &[], &envs).await;
    let b = b.unwrap();
    assert_eq!(
        b.post("/v1/chat/completions", &bob_key, chat("smart"))
            .await
            .status,
        401
    );
    let r = b
        .api("POST", "/config/import", K, Some(json!({"toml": text})))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.json()["credentials"].as_u64().unwrap() >= 3,
        "{}",
        r.text()
    );
    // Served at once: keys, routes and the sealed credentials.
    let reply = b
        .post("/v1/chat/completions", &bob_key, chat("smart"))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        mock.last_request().unwrap().header("authorization"),
        Some(format!("Bearer {OPENAI_KEY}").as_str())
    );
    let again = b.api("GET", "/config/export", K, None).await.text();
    assert_eq!(again, text, "export → import → export is stable");

    // A bad document names the field and changes nothing.
    let r = b
        .api(
            "POST",
            "/config/import",
            K,
            Some(json!({"toml": "[[providers]]\nname = \"x\"\nkind = \"martian\"\n"})),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["error"]["field"],
        "toml: providers[0].kind",
        "{}",
        r.text()
    );
    let r = b
        .api(
            "POST",
            "/config/import",
            K,
            Some(json!({"toml": "admin_key = \"sk-nope-nope-nope\"\n"})),
        )
        .await;
    assert_eq!(r.json()["error"]["field"], "toml: admin_key");
    // Sealed under another key: refused with its path.
    let (c_dir, other) = (tempfile::tempdir().unwrap(), "34".repeat(32));
    let (c, ()) = spawn_env(
        c_dir.path(),
        bare,
        &[],
        &[("GPROXY_MASTER_KEY", other.as_str())],
    )
    .await;
    let c = c.unwrap();
    let r = c
        .api("POST", "/config/import", K, Some(json!({"toml": text})))
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.json()["error"]["field"]
            .as_str()
            .unwrap()
            .ends_with(".sealed"),
        "{}",
        r.text()
    );
}
