//! Repository methods and migrations, on every backend.
#![cfg(test)] // lets clippy see helpers as test code (unwrap/expect allowed)

mod common;

use chrono::{DateTime, TimeZone, Utc};
use common::Ctx;
use gproxy_storage::entities::{credentials, user_keys, users};
use gproxy_storage::migration::Migrator;
use gproxy_storage::{NewCredential, NewModelRoute, NewProvider, RequestLog, StorageError};
use sea_orm::{ActiveValue::Set, EntityTrait, ModelTrait};
use sea_orm_migration::MigratorTrait;
use serde_json::json;

backend_tests!(
    migrations_are_idempotent,
    settings_upsert,
    providers_upsert_and_json,
    credentials_upsert_and_constraints,
    credential_secret_swap_is_compare_and_swap,
    users_and_keys,
    request_logs_roundtrip,
    request_logs_sanitized_and_chunked,
    model_routes_upsert,
);

async fn migrations_are_idempotent(ctx: Ctx) {
    let s = &ctx.storage;
    assert_eq!(s.backend_name(), ctx.backend.name());
    // The harness migrated once already.
    s.migrate().await.unwrap();
    s.migrate().await.unwrap();
    let applied = Migrator::get_applied_migrations(s.connection())
        .await
        .unwrap();
    assert_eq!(applied.len(), Migrator::migrations().len());
    assert!(
        Migrator::get_pending_migrations(s.connection())
            .await
            .unwrap()
            .is_empty()
    );

    // A second process migrating the same database is a no-op too.
    let other = gproxy_storage::Storage::connect(&ctx.dsn).await.unwrap();
    other.migrate().await.unwrap();
    other.close().await.unwrap();

    // Down and up again works, and leaves a usable schema.
    Migrator::down(s.connection(), None).await.unwrap();
    assert_eq!(
        Migrator::get_pending_migrations(s.connection())
            .await
            .unwrap()
            .len(),
        Migrator::migrations().len()
    );
    s.migrate().await.unwrap();
    s.set_setting("after", "down-up").await.unwrap();
    assert_eq!(s.count_request_logs().await.unwrap(), 0);
}

async fn settings_upsert(ctx: Ctx) {
    let s = &ctx.storage;
    assert_eq!(s.get_setting("missing").await.unwrap(), None);
    s.set_setting("listen", "0.0.0.0:8787").await.unwrap();
    s.set_setting("listen", "127.0.0.1:9000").await.unwrap();
    assert_eq!(
        s.get_setting("listen").await.unwrap().as_deref(),
        Some("127.0.0.1:9000")
    );

    // Keys compare exactly (MySQL's default collation would merge these).
    s.set_setting("Mode", "upper").await.unwrap();
    s.set_setting("mode", "lower ✓ ünï 🚀").await.unwrap();
    assert_eq!(
        s.get_setting("Mode").await.unwrap().as_deref(),
        Some("upper")
    );
    assert_eq!(
        s.get_setting("mode").await.unwrap().as_deref(),
        Some("lower ✓ ünï 🚀")
    );

    let long_value = "v".repeat(100_000);
    s.set_setting("big", &long_value).await.unwrap();
    assert_eq!(
        s.get_setting("big").await.unwrap(),
        Some(long_value.clone())
    );

    let mut all = s.all_settings().await.unwrap();
    all.sort();
    assert_eq!(
        all,
        vec![
            ("Mode".to_owned(), "upper".to_owned()),
            ("big".to_owned(), long_value),
            ("listen".to_owned(), "127.0.0.1:9000".to_owned()),
            ("mode".to_owned(), "lower ✓ ünï 🚀".to_owned()),
        ]
    );

    let max_key = "k".repeat(255);
    s.set_setting(&max_key, "x").await.unwrap();
    assert!(matches!(
        s.set_setting(&"k".repeat(256), "x").await,
        Err(StorageError::InvalidValue {
            field: "settings.key",
            ..
        })
    ));
    assert!(s.set_setting("", "x").await.is_err());
}

fn provider(name: &str, settings: serde_json::Value) -> NewProvider {
    NewProvider {
        name: name.to_owned(),
        kind: "openai".to_owned(),
        base_url: None,
        settings,
        enabled: true,
        credential_strategy: "round_robin".to_owned(),
    }
}

async fn providers_upsert_and_json(ctx: Ctx) {
    let s = &ctx.storage;
    let rich = json!({
        "headers": {"x-a": "1", "x-ünï": "🚀"},
        "models": ["gpt-4o", "o3"],
        "weight": 1.5,
        "big": u64::MAX,
        "neg": i64::MIN,
        "nothing": null,
        "flag": false,
        "nested": {"deep": [{"k": [1, 2, {"x": "y\"z\\"}]}]},
        "ctl": "tab\tnewline\n\u{1}"
    });
    let a = s
        .upsert_provider(&provider("openai", rich.clone()))
        .await
        .unwrap();
    assert_eq!(a.name, "openai");
    assert_eq!(a.settings, rich, "JSON round trip");
    assert!(a.enabled);

    // Same name: updated in place, not duplicated.
    let changed = NewProvider {
        kind: "custom".to_owned(),
        base_url: Some("https://api.example.com/v1".to_owned()),
        settings: json!([]),
        enabled: false,
        credential_strategy: "least_in_flight".to_owned(),
        ..provider("openai", json!(null))
    };
    let a2 = s.upsert_provider(&changed).await.unwrap();
    assert_eq!(a2.id, a.id);
    assert_eq!(
        (
            a2.kind.as_str(),
            a2.base_url.as_deref(),
            &a2.settings,
            a2.enabled,
            a2.credential_strategy.as_str()
        ),
        (
            "custom",
            Some("https://api.example.com/v1"),
            &json!([]),
            false,
            "least_in_flight"
        )
    );

    // Case matters, as on every backend; scalar JSON round-trips too.
    let b = s
        .upsert_provider(&provider("OpenAI", json!(null)))
        .await
        .unwrap();
    let c = s
        .upsert_provider(&provider("ß-ünï", json!("just a string")))
        .await
        .unwrap();
    assert_ne!(b.id, a.id);
    assert_eq!(b.settings, json!(null));
    assert_eq!(c.settings, json!("just a string"));

    let list = s.list_providers().await.unwrap();
    assert_eq!(list, vec![a2, b, c], "ordered by id, with all fields");

    // 128 multi-byte characters fit; 129 are refused on every backend.
    s.upsert_provider(&provider(&"é".repeat(128), json!({})))
        .await
        .unwrap();
    assert!(matches!(
        s.upsert_provider(&provider(&"é".repeat(129), json!({})))
            .await,
        Err(StorageError::InvalidValue {
            field: "providers.name",
            ..
        })
    ));
    assert!(s.upsert_provider(&provider("", json!({}))).await.is_err());
    // PostgreSQL cannot store NUL in JSON, so no backend takes it.
    assert!(matches!(
        s.upsert_provider(&provider("nul", json!({"a": ["x\u{0}y"]})))
            .await,
        Err(StorageError::InvalidValue {
            field: "providers.settings",
            ..
        })
    ));
    assert_eq!(s.list_providers().await.unwrap().len(), 4);
}

async fn credentials_upsert_and_constraints(ctx: Ctx) {
    let s = &ctx.storage;
    let p1 = s.upsert_provider(&provider("p1", json!({}))).await.unwrap();
    let p2 = s.upsert_provider(&provider("p2", json!({}))).await.unwrap();
    let secret = json!({"api_key": "sk-test-123", "org": null, "scopes": ["a", "b"]});
    let new = NewCredential {
        provider_id: p1.id,
        name: "main".to_owned(),
        kind: "api_key".to_owned(),
        secret: secret.clone(),
        enabled: true,
        weight: 1,
    };
    let c1 = s.upsert_credential(&new).await.unwrap();
    assert_eq!((c1.provider_id, c1.secret.clone()), (p1.id, secret));

    let updated = NewCredential {
        kind: "oauth".to_owned(),
        secret: json!({"access_token": "at", "refresh_token": "rt", "expires_at": 1_700_000_000}),
        enabled: false,
        weight: 4,
        ..new.clone()
    };
    let c1b = s.upsert_credential(&updated).await.unwrap();
    assert_eq!(c1b.id, c1.id, "same (provider, name): updated in place");
    assert_eq!(
        (c1b.kind.as_str(), c1b.enabled, c1b.weight),
        ("oauth", false, 4)
    );
    assert_eq!(c1b.secret, updated.secret);

    // Same name under another provider is another credential.
    let c2 = s
        .upsert_credential(&NewCredential {
            provider_id: p2.id,
            ..new.clone()
        })
        .await
        .unwrap();
    assert_ne!(c2.id, c1.id);
    assert_eq!(s.list_credentials().await.unwrap(), vec![c1b.clone(), c2]);

    // The provider must exist.
    let orphan = NewCredential {
        provider_id: p2.id + 1000,
        ..new.clone()
    };
    assert!(matches!(
        s.upsert_credential(&orphan).await,
        Err(StorageError::Db(_))
    ));

    // The unique index holds against a plain insert.
    let dup = credentials::ActiveModel {
        provider_id: Set(p1.id),
        name: Set("main".to_owned()),
        kind: Set("api_key".to_owned()),
        secret: Set(json!({})),
        enabled: Set(true),
        created_at: Set(Utc::now()),
        updated_at: Set(Utc::now()),
        ..Default::default()
    };
    assert!(
        credentials::Entity::insert(dup)
            .exec(s.connection())
            .await
            .is_err()
    );
    assert_eq!(s.list_credentials().await.unwrap().len(), 2);
}

/// Two connections (as two gateway instances) refresh the same OAuth
/// credential from the same version: exactly one swap wins, the loser
/// re-reads the winner's tokens; an admin edit of the secret bumps the
/// version too.
async fn credential_secret_swap_is_compare_and_swap(ctx: Ctx) {
    let s = &ctx.storage;
    let other = gproxy_storage::Storage::connect(&ctx.dsn).await.unwrap();
    let p = s
        .upsert_provider(&provider("claude-sub", json!({})))
        .await
        .unwrap();
    let c = s
        .create_credential(&NewCredential {
            provider_id: p.id,
            name: "alice".into(),
            kind: "oauth".into(),
            secret: json!({"refresh_token": "rt-0"}),
            enabled: true,
            weight: 1,
        })
        .await
        .unwrap();
    assert_eq!(c.version, 0);
    let (secret_a, secret_b) = (
        json!({"refresh_token": "rt-a"}),
        json!({"refresh_token": "rt-b"}),
    );
    let (a, b) = tokio::join!(
        s.swap_credential_secret(c.id, 0, &secret_a),
        other.swap_credential_secret(c.id, 0, &secret_b),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(a ^ b, "exactly one swap wins: {a} {b}");
    let winner = if a { "rt-a" } else { "rt-b" };
    let row = other.get_credential(c.id).await.unwrap().unwrap();
    assert_eq!(row.version, 1);
    assert_eq!(row.secret["refresh_token"], winner);
    // A stale version never overwrites.
    assert!(
        !s.swap_credential_secret(c.id, 0, &json!({"refresh_token": "late"}))
            .await
            .unwrap()
    );
    assert!(
        s.swap_credential_secret(c.id, 1, &json!({"refresh_token": "rt-2"}))
            .await
            .unwrap()
    );
    // An admin edit of the secret bumps the version; other edits do not.
    let patch = gproxy_storage::CredentialPatch {
        secret: Some(("oauth".into(), json!({"refresh_token": "pasted"}))),
        ..Default::default()
    };
    assert_eq!(
        s.update_credential(c.id, &patch)
            .await
            .unwrap()
            .unwrap()
            .version,
        3
    );
    let patch = gproxy_storage::CredentialPatch {
        weight: Some(2),
        ..Default::default()
    };
    assert_eq!(
        s.update_credential(c.id, &patch)
            .await
            .unwrap()
            .unwrap()
            .version,
        3
    );
    assert!(
        !s.swap_credential_secret(c.id + 1000, 0, &json!({}))
            .await
            .unwrap()
    );
    let _ = other.close().await;
}

async fn users_and_keys(ctx: Ctx) {
    let s = &ctx.storage;
    let alice = s.upsert_user("alice").await.unwrap();
    assert!(alice.enabled);
    assert_eq!(
        s.upsert_user("alice").await.unwrap(),
        alice,
        "existing user returned"
    );
    let bob = s.upsert_user("bob").await.unwrap();
    let alice_upper = s.upsert_user("Alice").await.unwrap();
    assert_ne!(alice_upper.id, alice.id);
    assert_eq!(
        s.list_users().await.unwrap(),
        vec![alice.clone(), bob.clone(), alice_upper]
    );

    let hash = "ab".repeat(32);
    let key = s
        .upsert_user_key(alice.id, &hash, "sk-gp-abcd")
        .await
        .unwrap();
    assert_eq!(
        (
            key.user_id,
            key.key_hash.as_str(),
            key.key_prefix.as_str(),
            key.enabled
        ),
        (alice.id, hash.as_str(), "sk-gp-abcd", true)
    );
    assert_eq!(
        s.upsert_user_key(alice.id, &hash, "sk-gp-abcd")
            .await
            .unwrap(),
        key
    );
    assert!(matches!(
        s.upsert_user_key(bob.id, &hash, "sk-gp-abcd").await,
        Err(StorageError::InvalidValue {
            field: "user_keys.key_hash",
            ..
        })
    ));
    let key2 = s
        .upsert_user_key(bob.id, &"cd".repeat(32), "sk-gp-cdcd")
        .await
        .unwrap();
    assert_eq!(s.list_user_keys().await.unwrap(), vec![key.clone(), key2]);

    assert!(
        s.upsert_user_key(alice.id, &"a".repeat(65), "p")
            .await
            .is_err()
    );
    assert!(
        s.upsert_user_key(alice.id + 1000, &"ef".repeat(32), "p")
            .await
            .is_err()
    );
    assert!(s.upsert_user("").await.is_err());

    // Unique key_hash holds against a plain insert.
    let dup = user_keys::ActiveModel {
        user_id: Set(bob.id),
        key_hash: Set(hash.clone()),
        key_prefix: Set("x".to_owned()),
        enabled: Set(true),
        created_at: Set(Utc::now()),
        ..Default::default()
    };
    assert!(
        user_keys::Entity::insert(dup)
            .exec(s.connection())
            .await
            .is_err()
    );

    // Deleting a user deletes its keys (foreign keys are on, SQLite included).
    let model = users::Entity::find_by_id(alice.id)
        .one(s.connection())
        .await
        .unwrap()
        .unwrap();
    model.delete(s.connection()).await.unwrap();
    let keys = s.list_user_keys().await.unwrap();
    assert!(keys.iter().all(|k| k.user_id != alice.id), "{keys:?}");
    assert_eq!(keys.len(), 1);
}

fn at_ms(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap()
}

fn full_log(i: u64) -> RequestLog {
    RequestLog {
        request_id: format!("req-{i}"),
        created_at: at_ms(1_750_000_000_123 + i64::try_from(i).unwrap() * 1001),
        user_id: Some(7),
        user_name: Some("alice ✓".to_owned()),
        key_prefix: Some("sk-gp-ab".to_owned()),
        provider: Some("openai".to_owned()),
        credential_id: Some(3),
        model: Some("gpt-4o-mini 🚀".to_owned()),
        protocol: "openai.chat".to_owned(),
        method: "POST".to_owned(),
        path: "/v1/chat/completions?x=1".to_owned(),
        stream: i.is_multiple_of(2),
        status: 200,
        latency_ms: 1234 + i,
        ttfb_ms: Some(56),
        input_tokens: Some(100),
        output_tokens: Some(200),
        cache_read_tokens: Some(30),
        cache_write_tokens: Some(4),
        reasoning_tokens: Some(50),
        error: Some("upstream said: \"nope\"\nline two".to_owned()),
        client_disconnected: true,
        key_id: Some(21),
        ..RequestLog::default()
    }
}

async fn request_logs_roundtrip(ctx: Ctx) {
    let s = &ctx.storage;
    s.insert_request_logs(&[]).await.unwrap();
    assert_eq!(s.count_request_logs().await.unwrap(), 0);
    assert!(s.list_request_logs(10).await.unwrap().is_empty());

    let sparse = RequestLog {
        request_id: "req-sparse".to_owned(),
        created_at: at_ms(4_102_444_800_000), // 2100-01-01, past MySQL's TIMESTAMP range
        protocol: "claude.messages".to_owned(),
        method: "GET".to_owned(),
        path: "/v1/models".to_owned(),
        status: 502,
        ..RequestLog::default()
    };
    let epoch = RequestLog {
        request_id: "req-epoch".to_owned(),
        ..RequestLog::default()
    };
    let mut rows = vec![full_log(1), sparse, full_log(2), epoch, full_log(3)];
    s.insert_request_logs(&rows).await.unwrap();
    assert_eq!(s.count_request_logs().await.unwrap(), 5);

    rows.reverse();
    assert_eq!(
        s.list_request_logs(100).await.unwrap(),
        rows,
        "newest first, all fields"
    );
    assert_eq!(s.list_request_logs(2).await.unwrap(), rows[..2].to_vec());
    assert!(s.list_request_logs(0).await.unwrap().is_empty());

    // `now()` survives at millisecond precision everywhere.
    let now = Utc::now();
    s.insert_request_logs(&[RequestLog {
        created_at: now,
        ..full_log(9)
    }])
    .await
    .unwrap();
    let stored = s.list_request_logs(1).await.unwrap().remove(0);
    assert_eq!(stored.request_id, "req-9");
    assert_eq!(stored.created_at.timestamp_millis(), now.timestamp_millis());
}

async fn request_logs_sanitized_and_chunked(ctx: Ctx) {
    let s = &ctx.storage;
    let odd = RequestLog {
        request_id: "r".repeat(500),
        path: format!("/{}", "p".repeat(5000)),
        error: Some(format!("nul\u{0}inside {}", "e".repeat(70_000))),
        model: Some("m".repeat(300)),
        method: "VERYLONGMETHODNAMEHERE".to_owned(),
        latency_ms: u64::MAX,
        input_tokens: Some(u64::MAX),
        ..full_log(0)
    };
    s.insert_request_logs(std::slice::from_ref(&odd))
        .await
        .unwrap();
    let got = s.list_request_logs(1).await.unwrap().remove(0);
    assert_eq!(got.request_id.len(), 128);
    assert_eq!(got.path.chars().count(), 2048);
    assert_eq!(got.model.as_deref().map(str::len), Some(255));
    assert_eq!(got.method, "VERYLONGMETHODNA");
    let error = got.error.unwrap();
    assert!(
        error.starts_with("nul\u{FFFD}inside eee"),
        "{}",
        &error[..20]
    );
    assert_eq!(error.chars().count(), 4096);
    assert_eq!(got.latency_ms, i64::MAX as u64);
    assert_eq!(got.input_tokens, Some(i64::MAX as u64));

    // More rows than one statement takes: split, in one transaction.
    let many: Vec<RequestLog> = (0..2500).map(full_log).collect();
    s.insert_request_logs(&many).await.unwrap();
    assert_eq!(s.count_request_logs().await.unwrap(), 2501);
    let newest = s.list_request_logs(3).await.unwrap();
    let ids: Vec<&str> = newest.iter().map(|r| r.request_id.as_str()).collect();
    assert_eq!(ids, vec!["req-2499", "req-2498", "req-2497"]);
}

async fn model_routes_upsert(ctx: Ctx) {
    let s = &ctx.storage;
    assert!(s.list_model_routes().await.unwrap().is_empty());
    let targets = json!([
        {"provider": "claude", "model": "claude-sonnet-4-5", "weight": 1},
        {"provider": "openrouter", "model": "meta-llama/llama-3-70b ✓", "weight": 3}
    ]);
    let route = |name: &str, strategy: &str, targets: serde_json::Value| NewModelRoute {
        name: name.into(),
        strategy: strategy.into(),
        targets,
        enabled: true,
    };
    let a = s
        .upsert_model_route(&route("smart", "ordered", targets.clone()))
        .await
        .unwrap();
    assert_eq!((a.name.as_str(), a.strategy.as_str()), ("smart", "ordered"));
    assert_eq!(a.targets, targets);

    // Upsert by name: same id, new strategy and targets.
    let b = s
        .upsert_model_route(&NewModelRoute {
            enabled: false,
            ..route(
                "smart",
                "weighted",
                json!([{"provider": "x", "model": "y", "weight": 2}]),
            )
        })
        .await
        .unwrap();
    assert_eq!(b.id, a.id);
    assert_eq!(b.strategy, "weighted");
    assert!(!b.enabled);
    assert_eq!(b.targets[0]["weight"], 2);

    // Names compare exactly.
    s.upsert_model_route(&route("Smart", "ordered", json!([])))
        .await
        .unwrap();
    let all = s.list_model_routes().await.unwrap();
    assert_eq!(
        all.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        ["smart", "Smart"]
    );

    // Invalid values are refused the same way on every backend.
    for bad in [
        route("", "ordered", json!([])),
        route(&"n".repeat(129), "ordered", json!([])),
        route("x", "", json!([])),
        route("x", "ordered", json!({"not": "an array"})),
        route("x", "ordered", json!(["nul\u{0}"])),
    ] {
        assert!(
            matches!(
                s.upsert_model_route(&bad).await,
                Err(StorageError::InvalidValue { .. })
            ),
            "{bad:?}"
        );
    }

    assert!(s.delete_model_route("Smart").await.unwrap());
    assert!(!s.delete_model_route("Smart").await.unwrap());
    assert_eq!(s.list_model_routes().await.unwrap().len(), 1);
}
