//! People, roles and keys through the real binary: one-time key reveal,
//! allow-lists (403 in the client's shape), expiry, disabled keys on the
//! next request, roles on every kind of route, sessions with CSRF,
//! sign-in limits, personal admin tokens.
#![cfg(test)] // lets clippy see helpers as test code (unwrap/expect allowed)

mod common;

use common::*;
use gproxy_storage::Storage;
use gproxy_testkit::MockUpstream;
use serde_json::json;

const K: Option<&str> = Some(ADMIN_KEY);

fn chat(model: &str) -> serde_json::Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hi"}]})
}

async fn user(gw: &Gateway, name: &str, role: &str, password: Option<&str>) -> i64 {
    let mut body = json!({"name": name, "role": role});
    if let Some(p) = password {
        body["password"] = json!(p);
    }
    let r = gw.api("POST", "/users", K, Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_i64().unwrap()
}

#[tokio::test]
async fn keys_are_revealed_once_and_apply_on_the_next_request() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &config(&mock, "")).await;
    let bob = user(&gw, "bob", "user", None).await;

    let created = gw
        .api(
            "POST",
            &format!("/users/{bob}/keys"),
            K,
            Some(json!({"label": "laptop"})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let key = created.json()["key"].as_str().unwrap().to_owned();
    let key_id = created.json()["id"].as_i64().unwrap();
    assert!(key.starts_with("sk-gp-"), "{key}");
    // The key works on the very next request.
    let r = gw
        .post("/v1/chat/completions", &key, chat("openai/gpt-4o-mini"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // No read shows it again, and the database holds only its hash.
    for path in [format!("/users/{bob}/keys"), format!("/keys/{key_id}")] {
        let r = gw.api("GET", &path, K, None).await;
        assert_eq!(r.status, 200);
        assert!(!r.text().contains(&key), "{path}");
        assert!(
            r.text().contains(&key[..8]),
            "the prefix is shown: {}",
            r.text()
        );
    }
    let storage = Storage::connect(&gw.dsn()).await.unwrap();
    let rows = storage.list_keys_of_user(bob).await.unwrap();
    assert_eq!(rows[0].key_hash.len(), 64);
    assert_ne!(rows[0].key_hash, key);

    // Disabled: refused on the next request; enabled again: served.
    let r = gw
        .api(
            "PATCH",
            &format!("/keys/{key_id}"),
            K,
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = gw
        .post("/v1/chat/completions", &key, chat("openai/gpt-4o-mini"))
        .await;
    assert_eq!(r.status, 401, "{}", r.text());
    gw.api(
        "PATCH",
        &format!("/keys/{key_id}"),
        K,
        Some(json!({"enabled": true})),
    )
    .await;
    assert_eq!(
        gw.post("/v1/chat/completions", &key, chat("openai/gpt-4o-mini"))
            .await
            .status,
        200
    );

    // Allow-lists: 403 in the client's own protocol shape.
    let r = gw
        .api(
            "PATCH",
            &format!("/keys/{key_id}"),
            K,
            Some(json!({"allowed_providers": ["openai"], "allowed_models": ["gpt-4o*"]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        gw.post("/v1/chat/completions", &key, chat("openai/gpt-4o-mini"))
            .await
            .status,
        200
    );
    let r = gw
        .post("/v1/chat/completions", &key, chat("openai/o3"))
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.json()["error"]["type"], "permission_error");
    let r = gw
        .post("/v1/messages", &key, json!({"model": "claude/claude-x", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.json()["type"], "error", "Anthropic shape: {}", r.text());
    let r = gw
        .post(
            "/aistudio/v1beta/models/gemini-2.5-flash:generateContent",
            &key,
            json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(
        r.json()["error"]["status"],
        "PERMISSION_DENIED",
        "Gemini shape: {}",
        r.text()
    );
    let r = gw
        .send(
            gw.request("GET", "/claude/v1/files")
                .header("x-api-key", &key),
            "",
        )
        .await;
    assert_eq!(r.status, 403, "passthrough too: {}", r.text());
    // Model lists show only what the key may call.
    let r = gw
        .send(
            gw.request("GET", "/v1/models")
                .header("authorization", format!("Bearer {key}")),
            "",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let listed: Vec<String> = r.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        listed.contains(&"openai/gpt-4o-mini".to_owned()),
        "{listed:?}"
    );
    assert!(
        listed.iter().all(|id| id.starts_with("openai/gpt-4o")),
        "only openai's gpt-4o*: {listed:?}"
    );
    let r = gw
        .send(
            gw.request("GET", "/claude/v1/models")
                .header("x-api-key", &key)
                .header("anthropic-version", "2023-06-01"),
            "",
        )
        .await;
    assert_eq!(r.status, 403, "another provider's list: {}", r.text());
    assert_eq!(r.json()["type"], "error", "Anthropic shape: {}", r.text());
    let r = gw
        .api(
            "PATCH",
            &format!("/keys/{key_id}"),
            K,
            Some(json!({"allowed_providers": ["ghost"]})),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["field"], "allowed_providers[0]");
    // `null` clears a list.
    gw.api(
        "PATCH",
        &format!("/keys/{key_id}"),
        K,
        Some(json!({"allowed_providers": null, "allowed_models": null})),
    )
    .await;
    assert_eq!(
        gw.post("/v1/chat/completions", &key, chat("openai/o3"))
            .await
            .status,
        200
    );

    // Expiry: the key stops working when it passes, without a reload.
    let soon = chrono::Utc::now() + chrono::Duration::milliseconds(1500);
    let r = gw
        .api(
            "PATCH",
            &format!("/keys/{key_id}"),
            K,
            Some(json!({"expires_at": soon.to_rfc3339()})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        gw.post("/v1/chat/completions", &key, chat("openai/gpt-4o-mini"))
            .await
            .status,
        200
    );
    tokio::time::sleep(std::time::Duration::from_millis(1700)).await;
    let r = gw
        .post("/v1/chat/completions", &key, chat("openai/gpt-4o-mini"))
        .await;
    assert_eq!(r.status, 401, "{}", r.text());
    assert!(r.text().contains("expired"), "{}", r.text());
    let r = gw
        .api(
            "POST",
            &format!("/users/{bob}/keys"),
            K,
            Some(json!({"expires_at": "2001-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(r.json()["error"]["field"], "expires_at");

    // Deleting the user removes their keys.
    assert_eq!(
        gw.api("DELETE", &format!("/users/{bob}"), K, None)
            .await
            .status,
        204
    );
    assert_eq!(
        gw.api("GET", &format!("/keys/{key_id}"), K, None)
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn roles_decide_what_each_caller_may_do() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &config(&mock, "")).await;
    let viewer = user(&gw, "vera", "viewer", None).await;
    let plain = user(&gw, "uma", "user", None).await;
    let token = |id: i64| {
        let gw = &gw;
        async move {
            let r = gw
                .api(
                    "POST",
                    &format!("/users/{id}/keys"),
                    K,
                    Some(json!({"scope": "admin"})),
                )
                .await;
            assert_eq!(r.status, 201, "{}", r.text());
            r.json()["key"].as_str().unwrap().to_owned()
        }
    };
    let vt = token(viewer).await;
    let ut = token(plain).await;

    // A personal admin token never calls the proxy.
    let r = gw
        .post("/v1/chat/completions", &vt, chat("openai/gpt-4o-mini"))
        .await;
    assert_eq!(r.status, 401, "{}", r.text());

    // Viewer: every read, no write.
    for path in [
        "/providers",
        "/credentials",
        "/users",
        "/routes",
        "/settings",
        "/providers/openai/credentials",
    ] {
        let r = gw.api("GET", path, Some(&vt), None).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text());
    }
    let creds = gw.api("GET", "/credentials", Some(&vt), None).await;
    assert!(
        !creds.text().contains(OPENAI_KEY),
        "viewers never see secrets"
    );
    let writes: [(&str, &str, serde_json::Value); 5] = [
        ("POST", "/users", json!({"name": "x"})),
        (
            "PATCH",
            "/settings",
            json!({"limits": {"max_body_bytes": 10}}),
        ),
        (
            "POST",
            "/providers/openai/credentials",
            json!({"api_key": "sk-x-0123456789abcdef"}),
        ),
        (
            "POST",
            "/routes",
            json!({"name": "r", "targets": ["openai/x"]}),
        ),
        ("PATCH", "/providers/openai", json!({"enabled": false})),
    ];
    for (method, path, body) in &writes {
        let r = gw.api(method, path, Some(&vt), Some(body.clone())).await;
        assert_eq!(r.status, 403, "viewer {method} {path}: {}", r.text());
        assert_eq!(r.json()["error"]["code"], "forbidden");
    }
    assert_eq!(
        gw.api("DELETE", "/providers/openai", Some(&vt), None)
            .await
            .status,
        403
    );

    // User: only their own keys.
    for path in ["/providers", "/users", "/settings", "/credentials"] {
        assert_eq!(
            gw.api("GET", path, Some(&ut), None).await.status,
            403,
            "{path}"
        );
    }
    let me = gw.api("GET", "/me", Some(&ut), None).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["name"], "uma");
    let mine = gw
        .api("POST", "/me/keys", Some(&ut), Some(json!({"label": "cli"})))
        .await;
    assert_eq!(mine.status, 201, "{}", mine.text());
    let own_key = mine.json()["key"].as_str().unwrap().to_owned();
    assert_eq!(
        gw.post("/v1/chat/completions", &own_key, chat("openai/gpt-4o-mini"))
            .await
            .status,
        200
    );
    let r = gw
        .api(
            "POST",
            "/me/keys",
            Some(&ut),
            Some(json!({"scope": "admin"})),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["field"], "scope");
    let listed = gw.api("GET", "/me/keys", Some(&ut), None).await.json();
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    // Someone else's key is not found, not forbidden (no enumeration).
    let vera_key = gw
        .api("POST", &format!("/users/{viewer}/keys"), K, Some(json!({})))
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        gw.api("DELETE", &format!("/me/keys/{vera_key}"), Some(&ut), None)
            .await
            .status,
        404
    );
    let own_id = mine.json()["id"].as_i64().unwrap();
    assert_eq!(
        gw.api("DELETE", &format!("/me/keys/{own_id}"), Some(&ut), None)
            .await
            .status,
        204
    );
    assert_eq!(
        gw.post("/v1/chat/completions", &own_key, chat("openai/gpt-4o-mini"))
            .await
            .status,
        401
    );

    // A demoted admin token loses its power on the next call.
    let adm = user(&gw, "ada", "admin", None).await;
    let at = token(adm).await;
    assert_eq!(
        gw.api("POST", "/users", Some(&at), Some(json!({"name": "eve"})))
            .await
            .status,
        201
    );
    gw.api(
        "PATCH",
        &format!("/users/{adm}"),
        K,
        Some(json!({"role": "viewer"})),
    )
    .await;
    assert_eq!(
        gw.api("POST", "/users", Some(&at), Some(json!({"name": "eve2"})))
            .await
            .status,
        403
    );
    gw.api(
        "PATCH",
        &format!("/users/{adm}"),
        K,
        Some(json!({"enabled": false})),
    )
    .await;
    assert_eq!(
        gw.api("GET", "/providers", Some(&at), None).await.status,
        401
    );

    // The admin user belongs to the admin key.
    let r = gw
        .api("POST", "/users", K, Some(json!({"name": "admin"})))
        .await;
    assert_eq!(r.json()["error"]["field"], "name");
}

#[tokio::test]
async fn sessions_cookies_csrf_and_sign_in_limits() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &config(&mock, "")).await;

    let setup = gw.api("GET", "/setup", None, None).await;
    assert_eq!(setup.json()["needs_admin_user"], true);
    // The generated admin key creates the first admin user.
    let r = gw
        .api(
            "POST",
            "/users",
            K,
            Some(json!({"name": "root", "role": "admin", "password": "short"})),
        )
        .await;
    assert_eq!(r.json()["error"]["field"], "password");
    let root = user(&gw, "root", "admin", Some("correct horse battery")).await;
    assert_eq!(
        gw.api("GET", "/setup", None, None).await.json()["needs_admin_user"],
        false
    );

    let login = |name: &'static str, password: &'static str| {
        let gw = &gw;
        async move {
            gw.send(
                gw.request("POST", "/admin/api/session")
                    .header("content-type", "application/json"),
                json!({"username": name, "password": password}).to_string(),
            )
            .await
        }
    };
    let r = login("root", "wrong password!").await;
    assert_eq!(r.status, 401);
    let r = login("root", "correct horse battery").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let cookies: Vec<&str> = r
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    let session = cookies
        .iter()
        .find(|c| c.starts_with("gproxy_session="))
        .unwrap();
    assert!(
        session.contains("HttpOnly")
            && session.contains("SameSite=Strict")
            && session.contains("Max-Age="),
        "{session}"
    );
    let csrf_cookie = cookies
        .iter()
        .find(|c| c.starts_with("gproxy_csrf="))
        .unwrap();
    assert!(!csrf_cookie.contains("HttpOnly"));
    let token = session.split(';').next().unwrap().to_owned();
    let csrf = r.json()["csrf_token"].as_str().unwrap().to_owned();
    assert!(csrf_cookie.contains(&csrf));

    let with_cookie = |method: &'static str, path: &'static str, csrf: Option<&str>| {
        let mut req = gw
            .request(method, &format!("/admin/api{path}"))
            .header("cookie", format!("{token}; other=1"))
            .header("content-type", "application/json");
        if let Some(c) = csrf {
            req = req.header("x-csrf-token", c);
        }
        req
    };
    let r = gw.send(with_cookie("GET", "/session", None), "").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["username"], "root");
    assert_eq!(r.json()["via"], "session");
    // Reads need no CSRF token; writes do.
    assert_eq!(
        gw.send(with_cookie("GET", "/providers", None), "")
            .await
            .status,
        200
    );
    let body = json!({"name": "carol"}).to_string();
    let r = gw
        .send(with_cookie("POST", "/users", None), body.clone())
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    let r = gw
        .send(with_cookie("POST", "/users", Some("0000")), body.clone())
        .await;
    assert_eq!(r.status, 403);
    let r = gw
        .send(with_cookie("POST", "/users", Some(&csrf)), body.clone())
        .await;
    assert_eq!(r.status, 201, "{}", r.text());

    // Sign-out ends the session.
    let r = gw
        .send(with_cookie("DELETE", "/session", Some(&csrf)), "")
        .await;
    assert_eq!(r.status, 204);
    assert!(
        r.headers
            .get_all("set-cookie")
            .iter()
            .any(|v| v.to_str().unwrap().contains("Max-Age=0"))
    );
    assert_eq!(
        gw.send(with_cookie("GET", "/session", None), "")
            .await
            .status,
        401
    );

    // Expiry: a session past its end is refused.
    let r = login("root", "correct horse battery").await;
    let token2 = r
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("gproxy_session="))
        .unwrap();
    let token2 = token2.split(';').next().unwrap().to_owned();
    let get = |t: String| {
        gw.send(
            gw.request("GET", "/admin/api/session").header("cookie", t),
            "",
        )
    };
    assert_eq!(get(token2.clone()).await.status, 200);
    let storage = Storage::connect(&gw.dsn()).await.unwrap();
    let raw = token2.trim_start_matches("gproxy_session=");
    let hash = hex_sha256(raw);
    let row = storage
        .find_session(&hash, chrono::Utc::now())
        .await
        .unwrap()
        .expect("stored by hash");
    assert_eq!(row.user_id, root);
    storage.delete_session(&hash).await.unwrap();
    storage
        .create_session(&gproxy_storage::SessionRow {
            expires_at: chrono::Utc::now() - chrono::Duration::seconds(1),
            ..row
        })
        .await
        .unwrap();
    assert_eq!(get(token2.clone()).await.status, 401);

    // A password change ends every session of the user.
    let r = login("root", "correct horse battery").await;
    let t3 = r
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("gproxy_session="))
        .unwrap();
    let t3 = t3.split(';').next().unwrap().to_owned();
    assert_eq!(get(t3.clone()).await.status, 200);
    gw.api(
        "PATCH",
        &format!("/users/{root}"),
        K,
        Some(json!({"password": "another long one"})),
    )
    .await;
    assert_eq!(get(t3).await.status, 401);

    // Guessing is limited per name and address.
    for _ in 0..5 {
        assert_eq!(login("carol", "nope nope nope").await.status, 401);
    }
    let r = login("carol", "nope nope nope").await;
    assert_eq!(r.status, 429, "{}", r.text());
    // Another name from the same address is not locked.
    assert_eq!(login("root", "another long one").await.status, 200);
}

fn hex_sha256(s: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}
