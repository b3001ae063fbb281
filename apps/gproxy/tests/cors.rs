//! CORS on the proxy routes through the real binary: preflights answered
//! without a key, allowed origins decorated, others not, the admin API
//! never, and the policy changed live through the admin API.
#![cfg(test)] // lets clippy see helpers as test code (unwrap/expect allowed)

mod common;

use common::*;
use gproxy_testkit::MockUpstream;
use serde_json::json;

async fn preflight(gw: &Gateway, path: &str, origin: &str) -> Reply {
    gw.send(
        gw.request("OPTIONS", path)
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type, x-stainless-lang, anthropic-version",
            ),
        "",
    )
    .await
}

#[tokio::test]
async fn allowed_origins_get_cors_headers_and_others_do_not() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let extra = "[cors]\nallowed_origins = [\"https://app.example\"]\nmax_age_secs = 120\n";
    let gw = start(dir.path(), &config(&mock, extra)).await;

    // Preflight: no key needed, the SDK headers allowed.
    let r = preflight(&gw, "/v1/chat/completions", "https://app.example").await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(r.header("access-control-max-age"), Some("120"));
    let allowed = r.header("access-control-allow-headers").unwrap();
    for h in [
        "authorization",
        "content-type",
        "x-stainless-lang",
        "anthropic-version",
    ] {
        assert!(allowed.contains(h), "{allowed}");
    }
    assert!(
        r.header("access-control-allow-methods")
            .unwrap()
            .contains("POST")
    );
    assert_eq!(mock.request_count(), 0, "a preflight never goes upstream");

    // The call itself: decorated for the allowed origin.
    let req = gw
        .request("POST", "/v1/chat/completions")
        .header("origin", "https://app.example")
        .header("authorization", format!("Bearer {ALICE_KEY}"))
        .header("content-type", "application/json");
    let body =
        json!({"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]});
    let r = gw.send(req, body.to_string()).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert!(
        r.header("access-control-expose-headers")
            .unwrap()
            .contains("x-request-id")
    );
    assert!(r.header("vary").unwrap().contains("Origin"));
    // An error answer is decorated too (the page can read the 401).
    let r = gw
        .send(
            gw.request("POST", "/v1/chat/completions")
                .header("origin", "https://app.example"),
            "{}",
        )
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example")
    );

    // Another origin: no CORS headers, preflight refused.
    let r = preflight(&gw, "/v1/chat/completions", "https://evil.example").await;
    assert_eq!(r.status, 403);
    assert!(r.header("access-control-allow-origin").is_none());
    let r = gw
        .send(
            gw.request("GET", "/v1/models")
                .header("origin", "https://evil.example")
                .header("authorization", format!("Bearer {ALICE_KEY}")),
            "",
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.header("access-control-allow-origin").is_none());
    // The admin API never answers cross-origin.
    let r = preflight(&gw, "/admin/api/providers", "https://app.example").await;
    assert!(r.header("access-control-allow-origin").is_none());

    // Changed live: the new origin is allowed at once, the old one not.
    let r = gw
        .api(
            "PATCH",
            "/settings",
            Some(ADMIN_KEY),
            Some(json!({"cors": {"allowed_origins": ["http://localhost:5173"]}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["cors"]["allowed_origins"],
        json!(["http://localhost:5173"])
    );
    assert_eq!(r.json()["cors"]["max_age_secs"], 120, "other fields kept");
    assert_eq!(
        preflight(&gw, "/v1/messages", "http://localhost:5173")
            .await
            .status,
        204
    );
    assert_eq!(
        preflight(&gw, "/v1/messages", "https://app.example")
            .await
            .status,
        403
    );
    let r = gw
        .api(
            "PATCH",
            "/settings",
            Some(ADMIN_KEY),
            Some(json!({"cors": {"allowed_origins": ["https://x.example/path"]}})),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["field"], "cors.allowed_origins[0]");
}

#[tokio::test]
async fn without_cors_options_is_what_it_was() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &config(&mock, "")).await;
    let r = preflight(&gw, "/v1/chat/completions", "https://app.example").await;
    assert!(r.header("access-control-allow-origin").is_none());
    assert_ne!(r.status, 204);
    // A bad [cors] in the file names the field.
    let dir2 = tempfile::tempdir().unwrap();
    let (result, ()) = spawn(
        dir2.path(),
        &config(&mock, "[cors]\nallowed_origins = [\"nope\"]\n"),
        &[],
    )
    .await;
    assert!(result.err().unwrap().contains("cors.allowed_origins[0]"));
}
