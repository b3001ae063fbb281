//! The binary's life: start-up banner and admin key, config errors, data
//! surviving a restart, idempotent config, shutdown flushing the usage log,
//! keys never stored or logged in plaintext, health and request ids.
#![cfg(test)]

mod common;

use common::*;
use gproxy_testkit::MockUpstream;
use serde_json::json;

fn chat() -> serde_json::Value {
    json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})
}

#[tokio::test]
async fn data_survives_a_restart_and_config_is_applied_idempotently() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let text = config(&mock, "");

    let gw = start(dir.path(), &text).await;
    let reply = gw
        .post("/openai/v1/chat/completions", ALICE_KEY, chat())
        .await;
    assert_eq!(reply.status, 200);
    assert!(gw.stop().await.success());

    let gw = start(dir.path(), &text).await;
    let health = gw.health().await.json();
    let providers = health["providers"].as_array().unwrap();
    assert_eq!(providers.len(), 16, "every built-in, once: {health}");
    for p in providers {
        let configured = ["openai", "claude", "aistudio"].contains(&p["name"].as_str().unwrap());
        let expected = if configured { 1 } else { 0 };
        assert_eq!(
            p["credentials"], expected,
            "credentials duplicated on restart: {health}"
        );
    }
    assert_eq!(gw.logs(1).await.len(), 1, "the first run's row survived");
    let reply = gw
        .post("/openai/v1/chat/completions", ALICE_KEY, chat())
        .await;
    assert_eq!(reply.status, 200, "alice's key survived");
    assert!(gw.stop().await.success());

    let storage = gproxy_storage::Storage::connect(&format!(
        "sqlite://{}",
        dir.path().join("data/gproxy.db").display()
    ))
    .await
    .unwrap();
    assert_eq!(
        storage
            .list_users()
            .await
            .unwrap()
            .iter()
            .filter(|u| u.name == "alice")
            .count(),
        1
    );
    assert_eq!(storage.list_user_keys().await.unwrap().len(), 1);
    assert_eq!(storage.count_request_logs().await.unwrap(), 2);
}

#[tokio::test]
async fn a_generated_admin_key_is_printed_once_and_keeps_working() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let text = config(&mock, "").replace("admin_key = \"${TEST_ADMIN_KEY}\"", "");

    let gw = start(dir.path(), &text).await;
    let line = gw
        .stdout
        .lines()
        .find(|l| l.contains("admin key"))
        .expect("banner shows the generated key");
    let key = line.rsplit(' ').next().unwrap().to_owned();
    assert!(key.starts_with("sk-admin-"), "{line}");
    assert!(gw.stdout.contains("listening on http://127.0.0.1:"));
    assert_eq!(
        gw.post("/openai/v1/chat/completions", &key, chat())
            .await
            .status,
        200
    );
    assert!(gw.stop().await.success());

    let gw = start(dir.path(), &text).await;
    assert!(
        !gw.stdout.contains("admin key"),
        "printed only once: {}",
        gw.stdout
    );
    assert_eq!(
        gw.post("/openai/v1/chat/completions", &key, chat())
            .await
            .status,
        200
    );
    // A key given on the command line replaces the stored one.
    assert!(gw.stop().await.success());
    let gw = start_with(dir.path(), &text, &["--admin-key", "sk-admin-from-cli-42"]).await;
    assert_eq!(
        gw.post(
            "/openai/v1/chat/completions",
            "sk-admin-from-cli-42",
            chat()
        )
        .await
        .status,
        200
    );
    assert_eq!(
        gw.post("/openai/v1/chat/completions", &key, chat())
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn cli_beats_env_beats_the_config_file() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let text = config(&mock, "");
    let env_key = "sk-admin-from-env-77";
    let cli_key = "sk-admin-from-cli-88";

    // ENV over the file's `admin_key`.
    let (gw, ()) = spawn_env(dir.path(), &text, &[], &[("GPROXY_ADMIN_KEY", env_key)]).await;
    let gw = gw.unwrap();
    assert_eq!(
        gw.post("/openai/v1/chat/completions", env_key, chat())
            .await
            .status,
        200
    );
    assert_eq!(
        gw.post("/openai/v1/chat/completions", ADMIN_KEY, chat())
            .await
            .status,
        401
    );
    assert!(gw.stop().await.success());

    // CLI over ENV.
    let (gw, ()) = spawn_env(
        dir.path(),
        &text,
        &["--admin-key", cli_key],
        &[("GPROXY_ADMIN_KEY", env_key)],
    )
    .await;
    let gw = gw.unwrap();
    assert_eq!(
        gw.post("/openai/v1/chat/completions", cli_key, chat())
            .await
            .status,
        200
    );
    assert_eq!(
        gw.post("/openai/v1/chat/completions", env_key, chat())
            .await
            .status,
        401
    );
    assert!(gw.stop().await.success());

    // ENV data dir and host are honoured (the harness passes --data-dir, so
    // check GPROXY_HOST: a bad host makes start-up fail naming it).
    let (gw, ()) = spawn_env(dir.path(), &text, &[], &[("GPROXY_HOST", "256.0.0.1")]).await;
    let err = gw.err().expect("an invalid listen host must stop start-up");
    assert!(err.contains("256.0.0.1"), "{err}");
}

#[tokio::test]
async fn keys_are_never_stored_or_logged_in_plaintext() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &config(&mock, "")).await;
    for key in [ALICE_KEY, ADMIN_KEY] {
        assert_eq!(
            gw.post("/openai/v1/chat/completions", key, chat())
                .await
                .status,
            200
        );
    }
    assert_eq!(
        gw.post("/openai/v1/chat/completions", "sk-wrong-but-long-1", chat())
            .await
            .status,
        401
    );
    let stderr = gw.stderr();
    assert!(gw.stop().await.success());

    let mut db = Vec::new();
    for entry in std::fs::read_dir(dir.path().join("data")).unwrap() {
        db.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    assert!(!db.is_empty());
    for secret in [ALICE_KEY, ADMIN_KEY, "sk-wrong-but-long-1"] {
        assert!(
            memmem(&db, secret.as_bytes()).is_none(),
            "{secret} found in the database files"
        );
        assert!(!stderr.contains(secret), "{secret} found in the logs");
    }
    assert!(
        !stderr.contains(OPENAI_KEY),
        "provider key found in the logs"
    );
}

fn memmem(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[tokio::test]
async fn shutdown_flushes_every_usage_row() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &config(&mock, "")).await;
    for _ in 0..25 {
        assert_eq!(
            gw.post("/openai/v1/chat/completions", ALICE_KEY, chat())
                .await
                .status,
            200
        );
    }
    // Stop at once: rows still waiting for the batch interval must be flushed.
    assert!(gw.stop().await.success());
    let storage = gproxy_storage::Storage::connect(&format!(
        "sqlite://{}",
        dir.path().join("data/gproxy.db").display()
    ))
    .await
    .unwrap();
    assert_eq!(storage.count_request_logs().await.unwrap(), 25);
}

#[tokio::test]
async fn a_bad_config_stops_start_up_naming_the_field() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bad = config(&mock, "").replacen(
        &format!("base_url = \"{}\"", mock.base_url()),
        "base_url = \"not a url\"",
        1,
    );
    let (result, ()) = spawn(dir.path(), &bad, &[]).await;
    let err = result.err().expect("start-up must fail");
    assert!(err.contains("providers[1].base_url"), "{err}");
    assert!(!err.contains("exit status: 0"), "{err}");

    let unknown = config(&mock, "").replace("[[users]]", "[[users]]\nemail = \"a@b\"");
    let (result, ()) = spawn(dir.path(), &unknown, &[]).await;
    let err = result.err().expect("start-up must fail");
    assert!(err.contains("users[0]") && err.contains("email"), "{err}");
}

#[tokio::test]
async fn health_and_request_ids() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &config(&mock, "")).await;
    let health = gw.health().await;
    assert_eq!(health.status, 200);
    let v = health.json();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    let names: Vec<&str> = v["providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec![
            "aistudio",
            "antigravity",
            "claude",
            "claudecode",
            "codex",
            "deepseek",
            "geminicli",
            "groq",
            "mistral",
            "nvidia",
            "ollama",
            "openai",
            "openrouter",
            "vertex",
            "vertexexpress",
            "xai"
        ]
    );

    let req = gw
        .request("POST", "/openai/v1/chat/completions")
        .header("authorization", format!("Bearer {ALICE_KEY}"))
        .header("x-request-id", "client-chosen-id-7");
    let reply = gw.send(req, chat().to_string()).await;
    assert_eq!(reply.header("x-request-id"), Some("client-chosen-id-7"));
    assert_eq!(gw.log_of("client-chosen-id-7").await.status, 200);
    let other = gw
        .post("/openai/v1/chat/completions", ALICE_KEY, chat())
        .await;
    let generated = other.header("x-request-id").unwrap();
    assert_eq!(generated.len(), 32);
    assert_ne!(generated, "client-chosen-id-7");
    // Errors carry one too.
    let bad = gw
        .send(gw.request("POST", "/v1/chat/completions"), "{}")
        .await;
    assert!(bad.header("x-request-id").is_some());
}
