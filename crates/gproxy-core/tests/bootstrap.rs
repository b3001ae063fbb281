//! Start-up against a real SQLite file: the merge order CLI/ENV > config
//! file > database > defaults, persistence of the merge, idempotent config,
//! and config errors that name the exact field.
#![cfg(test)]

use std::path::Path;

use gproxy_core::config::ConfigError;
use gproxy_core::{CoreError, StartupArgs, bootstrap};

fn args(dir: &Path, config: Option<&str>) -> StartupArgs {
    let config = config.map(|text| {
        let path = dir.join(format!("c{}.toml", text.len()));
        std::fs::write(&path, text).unwrap();
        path
    });
    StartupArgs {
        data_dir: Some(dir.join("data")),
        config,
        ..StartupArgs::default()
    }
}

#[tokio::test]
async fn cli_beats_file_beats_database_beats_defaults_and_the_merge_persists() {
    let dir = tempfile::tempdir().unwrap();

    // Defaults, and a generated admin key.
    let boot = bootstrap(args(dir.path(), None)).await.unwrap();
    assert_eq!(
        (boot.settings.host.as_str(), boot.settings.port),
        ("127.0.0.1", 8787)
    );
    assert_eq!(boot.settings.proxy, None);
    assert!(boot.generated_admin_key.is_some());
    assert!(boot.settings.dsn.starts_with("sqlite://"));
    assert!(dir.path().join("data/gproxy.db").exists());
    drop(boot);

    // The file overrides the database.
    let file = "host = \"0.0.0.0\"\nport = 9000\nproxy = \"http://127.0.0.1:3128\"\n[limits]\nmax_body_bytes = 1000\n";
    let boot = bootstrap(args(dir.path(), Some(file))).await.unwrap();
    assert_eq!(
        (boot.settings.host.as_str(), boot.settings.port),
        ("0.0.0.0", 9000)
    );
    assert_eq!(
        boot.settings.proxy.as_deref(),
        Some("http://127.0.0.1:3128")
    );
    assert_eq!(boot.settings.limits.max_body_bytes, 1000);
    assert!(boot.generated_admin_key.is_none(), "generated only once");
    drop(boot);

    // Without the file, the persisted merge is used.
    let boot = bootstrap(args(dir.path(), None)).await.unwrap();
    assert_eq!(
        (boot.settings.host.as_str(), boot.settings.port),
        ("0.0.0.0", 9000)
    );
    assert_eq!(
        boot.settings.proxy.as_deref(),
        Some("http://127.0.0.1:3128")
    );
    assert_eq!(boot.settings.limits.max_body_bytes, 1000);
    drop(boot);

    // CLI/ENV values beat the file; an empty proxy clears it.
    let mut a = args(dir.path(), Some(file));
    a.host = Some("127.0.0.2".into());
    a.port = Some(9100);
    a.proxy = Some(String::new());
    let boot = bootstrap(a).await.unwrap();
    assert_eq!(
        (boot.settings.host.as_str(), boot.settings.port),
        ("127.0.0.2", 9100)
    );
    assert_eq!(boot.settings.proxy, None);
    drop(boot);
    let boot = bootstrap(args(dir.path(), None)).await.unwrap();
    assert_eq!(boot.settings.port, 9100);
    assert_eq!(boot.settings.proxy, None);
}

#[tokio::test]
async fn the_config_file_is_applied_idempotently() {
    let dir = tempfile::tempdir().unwrap();
    let file = r#"
[[providers]]
name = "openai"
base_url = "http://127.0.0.1:1/v1"
[[providers.credentials]]
api_key = "sk-one-1234"
[[providers.credentials]]
name = "second"
api_key = "sk-two-1234"

[[providers]]
name = "openai-eu"
kind = "openai"
base_url = "http://127.0.0.1:2/v1"

[[users]]
name = "alice"
keys = ["sk-alice-0001", "sk-alice-0002"]
"#;
    for _ in 0..3 {
        let boot = bootstrap(args(dir.path(), Some(file))).await.unwrap();
        let storage = &boot.storage;
        assert_eq!(
            storage.list_providers().await.unwrap().len(),
            gproxy_provider::ProviderRegistry::builtin().kinds().len() + 1,
            "the built-ins + openai-eu"
        );
        assert_eq!(storage.list_credentials().await.unwrap().len(), 2);
        assert_eq!(storage.list_user_keys().await.unwrap().len(), 2);
        let snapshot = boot.state.load();
        let openai = &snapshot.providers["openai"];
        assert_eq!(openai.base_url, "http://127.0.0.1:1/v1");
        assert_eq!(openai.pool.len(), 2);
        assert_eq!(snapshot.providers["openai-eu"].provider.kind(), "openai");
        assert_eq!(
            snapshot.providers["claude"].base_url,
            "https://api.anthropic.com"
        );
        let alice = snapshot.authenticate("sk-alice-0002").unwrap();
        assert_eq!(&*alice.user_name, "alice");
        assert!(snapshot.authenticate("sk-alice-0003").is_none());
        // Keys are stored as hashes with a short prefix only.
        for key in storage.list_user_keys().await.unwrap() {
            assert_eq!(key.key_hash.len(), 64);
            assert!(key.key_prefix.len() <= 8 && !key.key_prefix.contains("0001"));
        }
    }
}

#[tokio::test]
async fn custom_providers_are_stored_as_settings_and_rebuilt_per_instance() {
    let dir = tempfile::tempdir().unwrap();
    let file = |model: &str| {
        format!(
            r#"
[[providers]]
name = "cust-a"
kind = "custom"
protocol = "claude"
base_url = "http://127.0.0.1:1"
models = ["{model}"]
json_param_mask = ["/metadata"]

[[providers]]
name = "cust-b"
kind = "custom"
protocol = "gemini"
base_url = "http://127.0.0.1:2"
auth = "none"
"#
        )
    };
    let boot = bootstrap(args(dir.path(), Some(&file("c-1"))))
        .await
        .unwrap();
    let rows = boot.storage.list_providers().await.unwrap();
    assert_eq!(
        rows.len(),
        gproxy_provider::ProviderRegistry::builtin().kinds().len() + 2,
        "the built-ins + 2 custom; custom is never seeded"
    );
    let row = rows.iter().find(|r| r.name == "cust-a").unwrap();
    assert_eq!(row.kind, "custom");
    assert_eq!(
        row.settings,
        serde_json::json!({"protocol": "claude", "models": ["c-1"], "json_param_mask": ["/metadata"], "count_tokens": "upstream"})
    );
    let snapshot = boot.state.load();
    let a = &snapshot.providers["cust-a"].provider;
    let b = &snapshot.providers["cust-b"].provider;
    assert_eq!((a.kind(), b.kind()), ("custom", "custom"));
    assert_eq!(a.protocols(), &[gproxy_protocol::Protocol::Claude]);
    assert_eq!(b.protocols(), &[gproxy_protocol::Protocol::Gemini]);
    assert!(a.allows_model("c-1") && !a.allows_model("c-2"));
    assert!(a.json_mask().is_some() && b.json_mask().is_none());
    assert!(!b.requires_credential());
    drop(snapshot);
    drop(boot);

    // Changed settings in the file replace the stored ones.
    let boot = bootstrap(args(dir.path(), Some(&file("c-2"))))
        .await
        .unwrap();
    let snapshot = boot.state.load();
    assert!(snapshot.providers["cust-a"].provider.allows_model("c-2"));
    assert!(!snapshot.providers["cust-a"].provider.allows_model("c-1"));
}

#[tokio::test]
async fn a_provider_of_unknown_kind_names_its_field() {
    let dir = tempfile::tempdir().unwrap();
    for (file, field) in [
        ("[[providers]]\nname = \"mystery\"\n", "providers[0].kind"),
        (
            "[[providers]]\nname = \"openai\"\n[[providers]]\nname = \"x\"\nkind = \"nope\"\n",
            "providers[1].kind",
        ),
    ] {
        match bootstrap(args(dir.path(), Some(file))).await {
            Err(CoreError::Config(ConfigError::Field { field: f, .. })) => assert_eq!(f, field),
            other => panic!("expected a field error for {field}, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn bad_cli_values_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = args(dir.path(), None);
    a.admin_key = Some("short".into());
    assert!(matches!(bootstrap(a).await, Err(CoreError::Invalid(m)) if m.contains("--admin-key")));
    let mut a = args(dir.path(), None);
    a.proxy = Some("ftp://x:1".into());
    assert!(matches!(bootstrap(a).await, Err(CoreError::Invalid(m)) if m.contains("--proxy")));
}

#[tokio::test]
async fn model_routes_are_upserted_by_name_at_every_start() {
    use gproxy_core::model_route::Strategy;

    let dir = tempfile::tempdir().unwrap();
    let first = "[[routes]]\nmodel = \"smart\"\ntargets = [\"claude/claude-sonnet-4-5\", \"openai/gpt-4o-mini\"]\n";
    let boot = bootstrap(args(dir.path(), Some(first))).await.unwrap();
    {
        let snapshot = boot.state.load();
        let smart = &snapshot.routes["smart"];
        assert_eq!(smart.strategy, Strategy::Ordered);
        assert_eq!(smart.targets.len(), 2);
        assert_eq!(smart.targets[1].model, "gpt-4o-mini");
    }
    drop(boot);

    // The same name again: updated in place, not duplicated.
    let second =
        "[[routes]]\nmodel = \"smart\"\ntargets = [{ target = \"openai/gpt-4o\", weight = 2 }]\n";
    let boot = bootstrap(args(dir.path(), Some(second))).await.unwrap();
    let rows = boot.storage.list_model_routes().await.unwrap();
    assert_eq!(rows.len(), 1);
    let snapshot = boot.state.load();
    let smart = &snapshot.routes["smart"];
    assert_eq!(smart.strategy, Strategy::Weighted);
    assert_eq!(
        (smart.targets[0].provider.as_str(), smart.targets[0].weight),
        ("openai", 2)
    );
}

#[tokio::test]
async fn circuit_breaker_settings_merge_and_persist() {
    use gproxy_core::SharedBackend;
    let dir = tempfile::tempdir().unwrap();
    let boot = bootstrap(args(dir.path(), None)).await.unwrap();
    let r = &boot.settings.resilience;
    assert!(r.circuit.enabled);
    assert_eq!(
        (r.circuit.failure_threshold, r.max_transient_retries),
        (5, 2)
    );
    assert_eq!(r.backend, SharedBackend::Memory);
    drop(boot);

    let file = "[circuit_breaker]\nfailure_threshold = 9\nbackend = \"redis\"\nredis_url = \"redis://127.0.0.1:1\"\ntest_mode_enabled = true\n";
    let boot = bootstrap(args(dir.path(), Some(file))).await.unwrap();
    assert_eq!(boot.settings.resilience.circuit.failure_threshold, 9);
    assert!(boot.settings.resilience.test_mode_enabled);
    drop(boot);

    // Without the file the stored merge is used.
    let boot = bootstrap(args(dir.path(), None)).await.unwrap();
    let r = &boot.settings.resilience;
    assert_eq!(r.circuit.failure_threshold, 9);
    assert_eq!(
        r.backend,
        SharedBackend::Redis {
            url: "redis://127.0.0.1:1".into(),
            prefix: "gproxy:".into()
        }
    );
}

/// The config file vs admin edits: an entry the file has not changed since
/// it was last applied is not applied again, so an edit made in the
/// database (as the admin API does) survives a restart; an entry changed in
/// the file replaces the stored values.
#[tokio::test]
async fn an_unchanged_config_entry_keeps_an_admin_edit_and_a_changed_one_replaces_it() {
    use gproxy_storage::{NewModelRoute, NewProvider};

    let dir = tempfile::tempdir().unwrap();
    let file = |base: &str| {
        format!(
            r#"
[limits]
max_body_bytes = 1000

[[providers]]
name = "openai"
base_url = "{base}"
[[providers.credentials]]
name = "k1"
api_key = "sk-one-1234"

[[users]]
name = "alice"
keys = ["sk-alice-0001"]

[[routes]]
model = "smart"
targets = ["openai/gpt-4o"]
"#
        )
    };
    let first = file("http://127.0.0.1:1/v1");
    let boot = bootstrap(args(dir.path(), Some(&first))).await.unwrap();
    let storage = boot.storage.clone();
    let applied = storage
        .get_setting("config_applied:provider:openai")
        .await
        .unwrap()
        .expect("the applied entry's hash is stored");
    assert_eq!(applied.len(), 64);
    for key in ["user:alice", "route:smart", "setting:limits"] {
        assert!(
            storage
                .get_setting(&format!("config_applied:{key}"))
                .await
                .unwrap()
                .is_some(),
            "{key}"
        );
    }
    // An admin edits the provider, the route and the limits.
    storage
        .upsert_provider(&NewProvider {
            name: "openai".into(),
            kind: "openai".into(),
            base_url: Some("http://127.0.0.1:9/edited".into()),
            settings: serde_json::json!({}),
            enabled: false,
            credential_strategy: "least_in_flight".into(),
        })
        .await
        .unwrap();
    storage
        .upsert_model_route(&NewModelRoute {
            name: "smart".into(),
            strategy: "ordered".into(),
            targets: serde_json::json!([{"provider": "claude", "model": "claude-edited", "weight": 1}]),
            enabled: true,
        })
        .await
        .unwrap();
    storage
        .set_setting("limits", r#"{"max_body_bytes":2000}"#)
        .await
        .unwrap();
    drop(boot);

    // The same file again: every edit survives.
    let boot = bootstrap(args(dir.path(), Some(&first))).await.unwrap();
    {
        let snapshot = boot.state.load();
        let openai = &snapshot.providers["openai"];
        assert_eq!(openai.base_url, "http://127.0.0.1:9/edited");
        assert!(!openai.enabled);
        assert_eq!(snapshot.routes["smart"].targets[0].model, "claude-edited");
        assert_eq!(boot.settings.limits.max_body_bytes, 2000);
        assert!(snapshot.authenticate("sk-alice-0001").is_some());
    }
    drop(boot);

    // The provider changes in the file: its values replace the edit; the
    // unchanged route keeps its edit.
    let second = file("http://127.0.0.1:2/v1");
    let boot = bootstrap(args(dir.path(), Some(&second))).await.unwrap();
    let snapshot = boot.state.load();
    let openai = &snapshot.providers["openai"];
    assert_eq!(openai.base_url, "http://127.0.0.1:2/v1");
    assert_eq!(snapshot.routes["smart"].targets[0].model, "claude-edited");
    assert_eq!(boot.settings.limits.max_body_bytes, 2000);
    assert_ne!(
        boot.storage
            .get_setting("config_applied:provider:openai")
            .await
            .unwrap(),
        Some(applied),
        "the new hash is recorded"
    );
}

#[tokio::test]
async fn sealed_credentials_and_key_hashes_are_validated_with_exact_paths() {
    let dir = tempfile::tempdir().unwrap();
    let hash = "0".repeat(64);
    for (file, field) in [
        (
            "[[providers]]\nname = \"openai\"\n[[providers.credentials]]\nsealed = \"v1:abc\"\n".to_owned(),
            "providers[0].credentials[0].name",
        ),
        (
            "[[providers]]\nname = \"openai\"\n[[providers.credentials]]\nname = \"k\"\nsealed = \"v1:abc\"\napi_key = \"sk-x-1234\"\n".to_owned(),
            "providers[0].credentials[0].api_key",
        ),
        (
            "[[providers]]\nname = \"openai\"\n[[providers.credentials]]\nname = \"k\"\nsealed = \"v1:abc\"\nkind = \"magic\"\n".to_owned(),
            "providers[0].credentials[0].kind",
        ),
        (
            "[[providers]]\nname = \"openai\"\n[[providers.credentials]]\napi_key = \"sk-x-1234\"\nkind = \"api_key\"\n".to_owned(),
            "providers[0].credentials[0].kind",
        ),
        (
            "[[users]]\nname = \"bob\"\nkey_hashes = [{ sha256 = \"xyz\" }]\n".to_owned(),
            "users[0].key_hashes[0].sha256",
        ),
        (
            format!("[[users]]\nname = \"bob\"\nkey_hashes = [{{ sha256 = \"{hash}\", prefix = \"much-too-long\" }}]\n"),
            "users[0].key_hashes[0].prefix",
        ),
        (
            format!("[[users]]\nname = \"bob\"\nkey_hashes = [{{ sha256 = \"{hash}\" }}, {{ sha256 = \"{hash}\" }}]\n"),
            "users[0].key_hashes[1].sha256",
        ),
    ] {
        match bootstrap(args(dir.path(), Some(&file))).await {
            Err(CoreError::Config(ConfigError::Field { field: f, .. })) => assert_eq!(f, field),
            other => panic!("expected a field error for {field}, got {other:?}"),
        }
    }
}
