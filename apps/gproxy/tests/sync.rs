//! Two real gateways sharing one PostgreSQL database: a key added by
//! another instance (here: the test, writing through `Storage` and
//! announcing with a `ChangeBus`, as the admin API will) is accepted by both
//! within 2 s through the version poll, and faster than the poll through
//! Redis pub/sub. And the config file vs admin edits across restarts: an
//! unchanged entry keeps the edit, a changed one replaces it with a warning.
//!
//! Reads `GPROXY_TEST_POSTGRES` and `GPROXY_TEST_REDIS`; without them the
//! tests print `skipped: ...` and pass, unless `CI=true`.
#![cfg(test)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use gproxy_core::state::{hash_key, key_prefix};
use gproxy_core::sync::{ChangeBus, RedisTarget, SyncConfig};
use gproxy_storage::Storage;
use gproxy_storage::testing::{on_scratch_database, unique_name as unique};
use gproxy_testkit::MockUpstream;
use serde_json::json;

/// Instances sharing a database share the master key its secrets are
/// sealed under.
const SHARED_MASTER_KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn chat() -> serde_json::Value {
    json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})
}

/// Polls until `gw` answers a chat call with `key` with 200; returns how
/// long that took, failing after `limit`.
async fn accepted_within(gw: &Gateway, key: &str, limit: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let reply = gw.post("/openai/v1/chat/completions", key, chat()).await;
        if reply.status == 200 {
            return start.elapsed();
        }
        assert_eq!(reply.status, 401, "{}", reply.text());
        assert!(
            start.elapsed() < limit,
            "the new key was not accepted within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn config_sync(gw: &Gateway) -> serde_json::Value {
    gw.health().await.json()["config_sync"].clone()
}

/// A mock and two gateways on `dsn` (sharing the master key), each checked
/// to be in the expected sync mode and, with Redis, subscribed. The temp
/// dirs are returned to live as long as the gateways.
async fn two_instances(
    dsn: &str,
    redis: Option<&RedisTarget>,
) -> (MockUpstream, Gateway, Gateway, [tempfile::TempDir; 2]) {
    let mock = MockUpstream::start().await.unwrap();
    let extra = match &redis {
        Some(t) => format!(
            "[circuit_breaker]\nbackend = \"redis\"\nredis_url = \"{}\"\nredis_key_prefix = \"{}\"\n",
            t.url, t.prefix
        ),
        None => String::new(),
    };
    let text = config(&mock, &extra);
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = start_with(
        dir_a.path(),
        &text,
        &["--dsn", dsn, "--master-key", SHARED_MASTER_KEY],
    )
    .await;
    let b = start_with(
        dir_b.path(),
        &text,
        &["--dsn", dsn, "--master-key", SHARED_MASTER_KEY],
    )
    .await;
    for gw in [&a, &b] {
        let status = config_sync(gw).await;
        assert_eq!(
            status["mode"],
            if redis.is_some() { "redis" } else { "poll" },
            "{status}"
        );
        if redis.is_some() {
            let start = Instant::now();
            while config_sync(gw).await["redis_connected"] != true {
                assert!(start.elapsed() < Duration::from_secs(10), "not subscribed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    (mock, a, b, [dir_a, dir_b])
}

/// Starts two gateways on `dsn`, adds a key behind their back, announces
/// it, and checks both accept it within `limit`.
async fn a_new_key_reaches_both(dsn: &str, redis: Option<RedisTarget>, limit: Duration) {
    let (_mock, a, b, _dirs) = two_instances(dsn, redis.as_ref()).await;
    assert_eq!(
        a.post("/openai/v1/chat/completions", ALICE_KEY, chat())
            .await
            .status,
        200
    );

    // Another instance adds a user and a key, and announces the change.
    let storage = Storage::connect(dsn).await.unwrap();
    let key = format!("sk-{}", unique("dave"));
    let user = storage.upsert_user("dave").await.unwrap();
    storage
        .upsert_user_key(user.id, &hex::encode(hash_key(&key)), &key_prefix(&key))
        .await
        .unwrap();
    let bus = ChangeBus::new(storage.clone(), redis.as_ref(), SyncConfig::default()).unwrap();
    assert_eq!(
        b.post("/openai/v1/chat/completions", &key, chat())
            .await
            .status,
        401,
        "not before the announcement"
    );
    let version = bus.publish().await.unwrap();

    let took_b = accepted_within(&b, &key, limit).await;
    let took_a = accepted_within(&a, &key, limit).await;
    assert!(took_b < limit && took_a < limit, "{took_a:?} {took_b:?}");
    // The status is written when the reload callback returns, a moment
    // after the snapshot swap that let the key in.
    let start = Instant::now();
    let mut status = config_sync(&b).await;
    while status["last_version"] != version.as_str() && start.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(25)).await;
        status = config_sync(&b).await;
    }
    assert_eq!(status["last_version"], version.as_str(), "{status}");
    assert!(status["last_reload_at"].is_string(), "{status}");
    assert!(status["reloads"].as_u64().unwrap() >= 1, "{status}");
    assert!(a.stop().await.success());
    assert!(b.stop().await.success());
}

#[tokio::test]
async fn two_instances_on_postgres_serve_a_new_key_within_two_seconds() {
    on_scratch_database("GPROXY_TEST_POSTGRES", "e2e_poll", |dsn| async move {
        a_new_key_reaches_both(&dsn, None, Duration::from_secs(2)).await;
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn two_instances_with_redis_serve_a_new_key_faster_than_the_poll() {
    let Some(url) = redis_url("e2e_redis").await else {
        return;
    };
    on_scratch_database("GPROXY_TEST_POSTGRES", "e2e_redis", |dsn| async move {
        let target = RedisTarget {
            url,
            prefix: format!("{}:", unique("gproxy-e2e-sync")),
        };
        // The safety-net poll runs every 10 s: under 1 s is pub/sub.
        a_new_key_reaches_both(&dsn, Some(target), Duration::from_secs(1)).await;
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn an_unchanged_config_entry_keeps_an_admin_edit_across_a_restart() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let text = config(&mock, "");
    let gw = start(dir.path(), &text).await;
    let dsn = gw.dsn();
    assert!(gw.stop().await.success());

    // An admin disables the `claude` provider in the database.
    let storage = Storage::connect(&dsn).await.unwrap();
    let claude = storage
        .list_providers()
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.name == "claude")
        .unwrap();
    storage
        .upsert_provider(&gproxy_storage::NewProvider {
            name: claude.name,
            kind: claude.kind,
            base_url: claude.base_url,
            settings: claude.settings,
            enabled: false,
            credential_strategy: claude.credential_strategy,
        })
        .await
        .unwrap();
    storage.close().await.unwrap();

    // Same file: the edit survives, and nothing is reported as changed.
    let gw = start(dir.path(), &text).await;
    let health = gw.health().await.json();
    let enabled = |h: &serde_json::Value, name: &str| {
        h["providers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap()["enabled"]
            .clone()
    };
    assert_eq!(enabled(&health, "claude"), false, "{health}");
    assert!(
        !gw.stderr().contains("config file changed"),
        "{}",
        gw.stderr()
    );
    assert!(gw.stop().await.success());

    // The file changes the claude entry: it replaces the edit, with a warning.
    let changed = text.replacen(
        "name = \"claude\"\n",
        "name = \"claude\"\nenabled = true\n",
        1,
    );
    assert_ne!(changed, text);
    let gw = start(dir.path(), &changed).await;
    let health = gw.health().await.json();
    assert_eq!(enabled(&health, "claude"), true, "{health}");
    let stderr = gw.stderr();
    assert!(
        stderr.contains("WARN")
            && stderr.contains(
                "config file changed provider `claude`: its values replace the stored ones"
            ),
        "{stderr}"
    );
    assert!(!stderr.contains("provider `openai`"), "{stderr}");
    assert!(gw.stop().await.success());
}

/// A key created and a limit changed through instance A's admin API are
/// served by instance B within `limit`.
async fn admin_writes_reach_the_other_instance(
    dsn: &str,
    redis: Option<RedisTarget>,
    limit: Duration,
) {
    let (_mock, a, b, _dirs) = two_instances(dsn, redis.as_ref()).await;
    let admin = Some(ADMIN_KEY);
    let name = unique("erin").replace(['-', ':'], "_").to_lowercase();
    let user = a
        .api("POST", "/users", admin, Some(json!({"name": name})))
        .await;
    assert_eq!(user.status, 201, "{}", user.text());
    let id = user.json()["id"].as_i64().unwrap();
    let key = a
        .api("POST", &format!("/users/{id}/keys"), admin, Some(json!({})))
        .await;
    assert_eq!(key.status, 201, "{}", key.text());
    let key = key.json()["key"].as_str().unwrap().to_owned();
    let took = accepted_within(&b, &key, limit).await;
    assert!(took < limit, "{took:?}");

    // A live setting changed on A applies on B.
    let r = a
        .api(
            "PATCH",
            "/settings",
            admin,
            Some(json!({"limits": {"max_body_bytes": 300}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let big =
        json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x".repeat(500)}]});
    let start = Instant::now();
    loop {
        let reply = b
            .post("/openai/v1/chat/completions", &key, big.clone())
            .await;
        if reply.status == 413 {
            break;
        }
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert!(
            start.elapsed() < limit,
            "the new limit did not reach B within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // A key disabled on A is refused by B.
    let kid = b
        .api("GET", &format!("/users/{id}/keys"), admin, None)
        .await
        .json()[0]["id"]
        .as_i64()
        .unwrap();
    a.api(
        "PATCH",
        &format!("/keys/{kid}"),
        admin,
        Some(json!({"enabled": false})),
    )
    .await;
    let start = Instant::now();
    while b
        .post("/openai/v1/chat/completions", &key, chat())
        .await
        .status
        != 401
    {
        assert!(
            start.elapsed() < limit,
            "the disable did not reach B within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(a.stop().await.success());
    assert!(b.stop().await.success());
}

#[tokio::test]
async fn admin_writes_on_one_instance_reach_the_other_through_postgres() {
    on_scratch_database("GPROXY_TEST_POSTGRES", "e2e_admin_poll", |dsn| async move {
        admin_writes_reach_the_other_instance(&dsn, None, Duration::from_secs(2)).await;
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn admin_writes_on_one_instance_reach_the_other_through_redis() {
    let Some(url) = redis_url("e2e_admin_redis").await else {
        return;
    };
    on_scratch_database(
        "GPROXY_TEST_POSTGRES",
        "e2e_admin_redis",
        |dsn| async move {
            let target = RedisTarget {
                url,
                prefix: format!("{}:", unique("gproxy-e2e-admin")),
            };
            admin_writes_reach_the_other_instance(&dsn, Some(target), Duration::from_secs(1)).await;
        },
    )
    .await
    .unwrap();
}
