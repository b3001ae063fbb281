//! Secrets at rest through the real binary: a database dump reveals no
//! upstream key, the master key comes from the environment or a key file
//! generated owner-only, another key refuses to start, plaintext rows of
//! an older version are sealed, and the data files are private.
#![cfg(test)] // lets clippy see helpers as test code (unwrap/expect allowed)

mod common;

use common::*;
use gproxy_storage::{NewCredential, Storage};
use gproxy_testkit::MockUpstream;
use serde_json::json;

/// Every byte of every file in `dir` (the SQLite file, its WAL and SHM).
fn all_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            out.extend(std::fs::read(&path).unwrap());
        }
    }
    out
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

fn chat() -> serde_json::Value {
    json!({"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})
}

#[tokio::test]
async fn the_database_holds_no_upstream_key_and_requests_still_work() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &config(&mock, "")).await;
    assert!(
        gw.stdout.contains("master key: generated in"),
        "{}",
        gw.stdout
    );
    let api_key = "sk-added-through-the-api-0123456789";
    let r = gw
        .api(
            "POST",
            "/providers/claude/credentials",
            Some(ADMIN_KEY),
            Some(json!({"api_key": api_key})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let reply = gw.post("/v1/chat/completions", ALICE_KEY, chat()).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        mock.last_request().unwrap().header("authorization"),
        Some(format!("Bearer {OPENAI_KEY}").as_str())
    );
    let data = gw.data_dir.clone();
    assert!(gw.stop().await.success());

    let bytes = all_bytes(&data);
    assert!(!bytes.is_empty());
    for secret in [OPENAI_KEY, CLAUDE_KEY, GEMINI_KEY, api_key] {
        assert!(
            !contains(&bytes, secret),
            "{secret} is in the database files"
        );
    }
    let storage = Storage::connect(&format!("sqlite://{}", data.join("gproxy.db").display()))
        .await
        .unwrap();
    for row in storage.list_credentials().await.unwrap() {
        assert!(
            row.secret["sealed"].as_str().unwrap().starts_with("v1:"),
            "{:?}",
            row.secret
        );
    }

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700, "data dir");
        assert_eq!(mode(&data.join("gproxy.db")), 0o600, "database");
        assert_eq!(mode(&data.join("master.key")), 0o600, "key file");
    }
}

#[tokio::test]
async fn the_master_key_from_the_environment_and_a_wrong_key_refused() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = "cd".repeat(32);
    let (gw, ()) = spawn_env(
        dir.path(),
        &config(&mock, ""),
        &[],
        &[("GPROXY_MASTER_KEY", &key)],
    )
    .await;
    let gw = gw.unwrap();
    assert!(
        gw.stdout.contains("master key: from GPROXY_MASTER_KEY"),
        "{}",
        gw.stdout
    );
    assert!(
        !gw.data_dir.join("master.key").exists(),
        "no key file when the key is given"
    );
    assert_eq!(
        gw.post("/v1/chat/completions", ALICE_KEY, chat())
            .await
            .status,
        200
    );
    assert!(gw.stop().await.success());

    // Another key: start-up refuses, saying what to do, rather than serve
    // without credentials.
    let other = "ef".repeat(32);
    let (result, ()) = spawn_env(
        dir.path(),
        &config(&mock, ""),
        &[],
        &[("GPROXY_MASTER_KEY", &other)],
    )
    .await;
    let err = result.err().expect("a wrong master key must not start");
    assert!(
        err.contains("not the one this database's credentials are sealed under"),
        "{err}"
    );
    // No key at all, on a sealed database: refused too, no key generated.
    let (result, ()) = spawn_env(dir.path(), &config(&mock, ""), &[], &[]).await;
    let err = result.err().expect("a missing master key must not start");
    assert!(err.contains("does not have"), "{err}");
    // A malformed key is named.
    let (result, ()) = spawn_env(
        dir.path(),
        &config(&mock, ""),
        &[],
        &[("GPROXY_MASTER_KEY", "short")],
    )
    .await;
    assert!(result.err().unwrap().contains("GPROXY_MASTER_KEY"));
    // The right key again: served.
    let (gw, ()) = spawn_env(
        dir.path(),
        &config(&mock, ""),
        &[],
        &[("GPROXY_MASTER_KEY", &key)],
    )
    .await;
    let gw = gw.unwrap();
    assert_eq!(
        gw.post("/v1/chat/completions", ALICE_KEY, chat())
            .await
            .status,
        200
    );
    assert!(gw.stop().await.success());
}

#[tokio::test]
async fn plaintext_rows_of_an_older_version_are_sealed_at_start() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    // A database as an older gproxy left it: migrated, a plaintext key.
    let dsn = format!("sqlite://{}?mode=rwc", data.join("gproxy.db").display());
    let storage = Storage::connect(&dsn).await.unwrap();
    storage.migrate().await.unwrap();
    let provider = storage
        .upsert_provider(&gproxy_storage::NewProvider {
            name: "openai".into(),
            kind: "openai".into(),
            base_url: Some(format!("{}/v1", mock.base_url())),
            settings: json!({}),
            enabled: true,
            credential_strategy: "round_robin".into(),
        })
        .await
        .unwrap();
    let old_key = "sk-old-plaintext-row-0123456789";
    storage
        .upsert_credential(&NewCredential {
            provider_id: provider.id,
            name: "old".into(),
            kind: "api_key".into(),
            secret: json!({"api_key": old_key}),
            enabled: true,
            weight: 1,
        })
        .await
        .unwrap();
    storage.close().await.unwrap();

    let text = format!(
        "admin_key = \"${{TEST_ADMIN_KEY}}\"\n[[users]]\nname = \"alice\"\nkeys = [\"{ALICE_KEY}\"]\n"
    );
    let gw = start(dir.path(), &text).await;
    assert_eq!(
        gw.post("/v1/chat/completions", ALICE_KEY, chat())
            .await
            .status,
        200
    );
    assert_eq!(
        mock.last_request().unwrap().header("authorization"),
        Some(format!("Bearer {old_key}").as_str())
    );
    assert!(
        gw.stderr()
            .contains("sealed credential secrets stored in plaintext"),
        "{}",
        gw.stderr()
    );
    assert!(gw.stop().await.success());
    assert!(
        !contains(&all_bytes(&data), old_key),
        "the old plaintext is gone from the files"
    );
}
