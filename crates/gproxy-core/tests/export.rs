//! Config export and import: a populated database exported, imported into a
//! fresh instance and exported again gives the same document, and both
//! snapshots serve the same keys, providers and routes; secrets never leave
//! unsealed; imports are validated like a config file.
#![cfg(test)]

use std::collections::BTreeMap;
use std::path::Path;

use gproxy_core::config::{ConfigError, FileConfig};
use gproxy_core::export::{export_config, import_config};
use gproxy_core::state::{ADMIN_KEY_HASH, Snapshot};
use gproxy_core::{CoreError, StartupArgs, bootstrap};
use gproxy_provider::ProviderRegistry;
use gproxy_storage::{NewCredential, Storage};

const SOURCE: &str = r#"
proxy = "http://127.0.0.1:3128"

[limits]
max_body_bytes = 1000

[circuit_breaker]
failure_threshold = 7

[[providers]]
name = "openai"
base_url = "http://127.0.0.1:1/v1"
credential_strategy = "weighted"
[[providers.credentials]]
name = "plain"
api_key = "sk-upstream-plaintext-0001"

[[providers]]
name = "claude"
enabled = false

[[providers]]
name = "cust"
kind = "custom"
protocol = "claude"
base_url = "http://127.0.0.1:2"
models = ["m-1", "m-2"]
json_param_mask = ["/metadata"]
headers = { x-team = "blue" }
auth = "bearer"
count_tokens = "local"

[[providers]]
name = "vtx"
kind = "vertex"
project = "proj-1"
location = "europe-west4"

[[users]]
name = "alice"
keys = ["sk-alice-0123456789", "sk-alice-9876543210"]

[[users]]
name = "bob"
keys = ["sk-bob-0123456789"]

[[routes]]
model = "smart"
targets = ["claude/claude-sonnet-4-5", "openai/gpt-4o-mini"]

[[routes]]
model = "balanced"
targets = [{ target = "openai/gpt-4o", weight = 3 }, { target = "cust/m-1" }]
"#;

async fn boot(dir: &Path, config: Option<&str>) -> gproxy_core::Bootstrapped {
    std::fs::create_dir_all(dir).unwrap();
    let config = config.map(|text| {
        let path = dir.join("gproxy.toml");
        std::fs::write(&path, text).unwrap();
        path
    });
    bootstrap(StartupArgs {
        data_dir: Some(dir.join("data")),
        config,
        // Every instance of one deployment shares the master key.
        master_key: Some("ab".repeat(32)),
        ..StartupArgs::default()
    })
    .await
    .unwrap()
}

/// Sealed rows as the secret-sealing code stores them.
async fn add_sealed(
    sealer: &gproxy_credential::seal::Sealer,
    storage: &Storage,
    provider: &str,
    name: &str,
    kind: &str,
    enabled: bool,
    weight: u32,
) {
    let id = storage
        .list_providers()
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.name == provider)
        .unwrap()
        .id;
    storage
        .upsert_credential(&NewCredential {
            provider_id: id,
            name: name.into(),
            kind: kind.into(),
            secret: sealer
                .seal_json(&serde_json::json!({ "api_key": format!("sk-{name}-0123456789") })),
            enabled,
            weight,
        })
        .await
        .unwrap();
}

/// What a snapshot serves, in comparable form.
fn served(
    s: &Snapshot,
) -> (
    BTreeMap<String, String>,
    BTreeMap<String, String>,
    BTreeMap<String, String>,
) {
    let keys = s
        .keys
        .iter()
        .filter(|(_, p)| !p.is_admin)
        .map(|(h, p)| (hex::encode(h), format!("{}:{}", p.user_name, p.key_prefix)))
        .collect();
    let providers = s
        .providers
        .values()
        .map(|p| {
            (
                p.name.clone(),
                format!(
                    "{}|{}|{}|{:?}",
                    p.provider.kind(),
                    p.base_url,
                    p.enabled,
                    p.pool.strategy()
                ),
            )
        })
        .collect();
    let routes = s
        .routes
        .values()
        .map(|r| {
            let targets: Vec<String> = r
                .targets
                .iter()
                .map(|t| format!("{}/{}*{}", t.provider, t.model, t.weight))
                .collect();
            (
                r.name.clone(),
                format!("{:?} {}", r.strategy, targets.join(",")),
            )
        })
        .collect();
    (keys, providers, routes)
}

#[tokio::test]
async fn export_import_export_round_trips_and_serves_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let source = boot(&dir.path().join("a"), Some(SOURCE)).await;
    add_sealed(
        &source.sealer,
        &source.storage,
        "openai",
        "sealed-1",
        "api_key",
        true,
        1,
    )
    .await;
    add_sealed(
        &source.sealer,
        &source.storage,
        "openai",
        "sealed-2",
        "api_key",
        false,
        3,
    )
    .await;
    add_sealed(
        &source.sealer,
        &source.storage,
        "vtx",
        "sa-1",
        "service_account",
        true,
        1,
    )
    .await;
    add_sealed(
        &source.sealer,
        &source.storage,
        "cust",
        "tok",
        "access_token",
        true,
        1,
    )
    .await;

    let first = export_config(&source.storage).await.unwrap();
    // It is a config file, and no secret is in it.
    let parsed = FileConfig::parse(&first, Path::new("export.toml"), &|_| None).unwrap();
    assert!(!first.contains("sk-upstream-plaintext"), "{first}");
    assert!(!first.contains("sk-alice-0123456789"));
    let admin_hash = source
        .storage
        .get_setting(ADMIN_KEY_HASH)
        .await
        .unwrap()
        .unwrap();
    assert!(
        !first.contains(&admin_hash),
        "the admin key is never exported"
    );
    // The config file's plaintext credential was sealed at start.
    assert!(!first.contains("its secret is not sealed"), "{first}");
    assert!(first.contains("sealed = \"v1:"), "{first}");
    let openai = parsed
        .providers
        .iter()
        .find(|p| p.name == "openai")
        .unwrap();
    assert_eq!(openai.credentials.len(), 3);
    let sealed_2 = openai
        .credentials
        .iter()
        .find(|c| c.name.as_deref() == Some("sealed-2"))
        .unwrap();
    assert_eq!((sealed_2.enabled, sealed_2.weight), (Some(false), Some(3)));
    let cust = parsed.providers.iter().find(|p| p.name == "cust").unwrap();
    assert_eq!(cust.credentials[0].kind.as_deref(), Some("access_token"));
    assert_eq!(
        cust.models.as_deref(),
        Some(&["m-1".to_owned(), "m-2".to_owned()][..])
    );
    // Built-ins at their defaults are not listed; a disabled one is.
    assert!(parsed.providers.iter().all(|p| p.name != "deepseek"));
    assert!(
        parsed
            .providers
            .iter()
            .any(|p| p.name == "claude" && p.enabled == Some(false))
    );
    let alice = parsed.users.iter().find(|u| u.name == "alice").unwrap();
    assert!(alice.keys.is_empty());
    assert_eq!(alice.key_hashes.len(), 2);
    assert!(parsed.users.iter().all(|u| u.name != "admin"));
    assert_eq!(parsed.limits.as_ref().unwrap().max_body_bytes, Some(1000));
    assert_eq!(
        parsed.circuit_breaker.as_ref().unwrap().failure_threshold,
        Some(7)
    );
    assert_eq!(parsed.proxy.as_deref(), Some("http://127.0.0.1:3128"));

    // A fresh instance imports it.
    let target = boot(&dir.path().join("b"), None).await;
    let registry = ProviderRegistry::builtin();
    let report = import_config(&target.storage, &registry, &target.sealer, &first)
        .await
        .unwrap();
    assert_eq!(
        (
            report.providers,
            report.credentials,
            report.users,
            report.keys,
            report.routes
        ),
        (4, 5, 2, 3, 2)
    );
    assert_eq!(report.settings, ["limits", "circuit_breaker", "proxy"]);
    let second = export_config(&target.storage).await.unwrap();
    let without_omissions = |t: &str| -> String {
        t.lines()
            .filter(|l| !l.starts_with("# omitted"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(without_omissions(&second), without_omissions(&first));
    assert!(
        !second.contains("# omitted"),
        "nothing unsealed was imported"
    );

    // Both serve the same keys, providers and routes.
    let a = Snapshot::load(&source.storage, &registry, &source.sealer)
        .await
        .unwrap();
    let b = Snapshot::load(&target.storage, &registry, &target.sealer)
        .await
        .unwrap();
    let (a_keys, a_providers, a_routes) = served(&a);
    let (b_keys, b_providers, b_routes) = served(&b);
    assert_eq!(a_keys.len(), 3);
    assert_eq!(a_keys, b_keys);
    assert_eq!(a_providers, b_providers);
    assert_eq!(a_routes, b_routes);
    assert!(
        b.authenticate("sk-alice-9876543210").is_some(),
        "a hashed key keeps working"
    );
    assert!(b.providers["cust"].provider.allows_model("m-2"));
    assert!(!b.providers["cust"].provider.allows_model("m-3"));

    // The imported settings are what the next start runs with.
    drop(target);
    let restarted = boot(&dir.path().join("b"), None).await;
    assert_eq!(restarted.settings.limits.max_body_bytes, 1000);
    assert_eq!(restarted.settings.resilience.circuit.failure_threshold, 7);
    assert_eq!(
        restarted.settings.proxy.as_deref(),
        Some("http://127.0.0.1:3128")
    );
}

#[tokio::test]
async fn an_import_is_validated_like_a_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let target = boot(dir.path(), None).await;
    let registry = ProviderRegistry::builtin();
    for (text, field) in [
        (
            "[[providers]]\nname = \"x\"\nkind = \"nope\"\n",
            "providers[0].kind",
        ),
        (
            "[[providers]]\nname = \"openai\"\nbase_url = 3\n",
            "providers[0].base_url",
        ),
        ("[[users]]\nname = \"bob\"\nnickname = \"b\"\n", "users[0]"),
        ("host = \"0.0.0.0\"\n", "host"),
        ("admin_key = \"sk-admin-0123456789\"\n", "admin_key"),
        (
            "[[routes]]\nmodel = \"r\"\ntargets = [\"nowhere/m\"]\n",
            "routes[0].targets[0]",
        ),
        (
            "[[providers]]\nname = \"openai\"\n[[providers.credentials]]\napi_key = \"${SECRET}\"\n",
            "providers[0].credentials[0].api_key",
        ),
    ] {
        match import_config(&target.storage, &registry, &target.sealer, text).await {
            Err(CoreError::Config(ConfigError::Field { field: f, path, .. })) => {
                assert!(f.starts_with(field), "{text}: {f} (expected {field})");
                assert_eq!(path, Path::new("<import>"));
            }
            other => panic!("{text}: expected a field error at {field}, got {other:?}"),
        }
    }
    assert!(matches!(
        import_config(&target.storage, &registry, &target.sealer, "[[providers]\n").await,
        Err(CoreError::Config(ConfigError::Syntax { .. }))
    ));
    // A document that fails only when checked against the stored state
    // (an unknown route target) writes nothing either.
    let late = "[[providers]]\nname = \"late\"\nkind = \"openai\"\n[[users]]\nname = \"carol\"\nkeys = [\"sk-carol-000001\"]\n[[routes]]\nmodel = \"r\"\ntargets = [\"late/m\", \"nowhere/m\"]\n";
    match import_config(&target.storage, &registry, &target.sealer, late).await {
        Err(CoreError::Config(ConfigError::Field { field, .. })) => {
            assert_eq!(field, "routes[0].targets[1]");
        }
        other => panic!("expected a field error, got {other:?}"),
    }
    assert!(
        target
            .storage
            .list_providers()
            .await
            .unwrap()
            .iter()
            .all(|p| p.name != "late")
    );
    // Nothing of the refused documents was stored.
    let names: Vec<String> = target
        .storage
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert!(!names.contains(&"bob".to_owned()));
    assert!(!names.contains(&"carol".to_owned()));
}
