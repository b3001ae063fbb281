//! Change propagation: two instances (two independent `Storage` handles on
//! one database, each with its own snapshot) — a key instance A adds is
//! served by instance B after A publishes: through the version poll
//! (SQLite file, PostgreSQL), through Redis pub/sub faster than the poll,
//! and through the poll while Redis is down. Bursts of changes are
//! coalesced; an instance does not reload for its own change.
//!
//! PostgreSQL and Redis tests read `GPROXY_TEST_POSTGRES` and
//! `GPROXY_TEST_REDIS`; without them they print `skipped: ...` and pass,
//! unless `CI=true`, where a missing variable or an unreachable server fails.
#![cfg(test)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use gproxy_core::state::{Snapshot, StateHandle, hash_key, key_prefix};
use gproxy_core::sync::{
    ChangeBus, OnChange, RedisTarget, STATE_VERSION, SyncConfig, snapshot_reloader,
};
use gproxy_provider::ProviderRegistry;
use gproxy_storage::Storage;

mod common;
use common::redis_url;

use gproxy_storage::testing::{on_scratch_database, unique_name as unique};

/// A SQLite file two `Storage` handles share.
struct SqliteFile {
    _dir: tempfile::TempDir,
    dsn: String,
}

impl SqliteFile {
    fn new() -> SqliteFile {
        let dir = tempfile::tempdir().unwrap();
        let dsn = format!("sqlite://{}", dir.path().join("shared.db").display());
        SqliteFile { _dir: dir, dsn }
    }
}

/// Runs `body` on a scratch PostgreSQL database (skipped without one).
async fn on_postgres<F, Fut>(test: &str, body: F)
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    on_scratch_database("GPROXY_TEST_POSTGRES", test, body)
        .await
        .unwrap();
}

/// One gateway instance: its own storage handle, snapshot and bus.
struct Instance {
    storage: Storage,
    state: Arc<StateHandle>,
    bus: Arc<ChangeBus>,
}

async fn instance(dsn: &str, redis: Option<&RedisTarget>, config: SyncConfig) -> Instance {
    let storage = Storage::connect(dsn).await.unwrap();
    storage.migrate().await.unwrap();
    let sealer = Arc::new(gproxy_credential::seal::Sealer::new(
        &gproxy_credential::seal::MasterKey::generate(),
    ));
    let snapshot = Snapshot::load(&storage, &ProviderRegistry::builtin(), &sealer)
        .await
        .unwrap();
    let bus = Arc::new(ChangeBus::new(storage.clone(), redis, config).unwrap());
    Instance {
        storage,
        state: Arc::new(StateHandle::new(snapshot, sealer)),
        bus,
    }
}

impl Instance {
    fn reloader(&self) -> OnChange {
        snapshot_reloader(
            self.storage.clone(),
            ProviderRegistry::builtin(),
            self.state.clone(),
        )
    }

    /// Adds a user with `key` and announces the change.
    async fn add_key(&self, user: &str, key: &str) {
        let row = self.storage.upsert_user(user).await.unwrap();
        self.storage
            .upsert_user_key(row.id, &hex::encode(hash_key(key)), &key_prefix(key))
            .await
            .unwrap();
        self.bus.publish().await.unwrap();
    }

    fn knows(&self, key: &str) -> bool {
        self.state.load().authenticate(key).is_some()
    }
}

/// Waits until `cond` holds; returns how long it took, panics after `limit`.
async fn within(what: &str, limit: Duration, cond: impl Fn() -> bool) -> Duration {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    start.elapsed()
}

/// A writes a key and publishes; B's watcher (poll only) serves it within 2 s.
async fn propagates_by_poll(dsn: &str, test: &str) {
    let a = instance(dsn, None, SyncConfig::default()).await;
    let b = instance(dsn, None, SyncConfig::default()).await;
    let _watcher = b.bus.spawn_watcher(b.reloader());
    tokio::time::sleep(Duration::from_millis(100)).await;

    let key = format!("sk-{}", unique(test));
    assert!(!b.knows(&key));
    a.add_key(&unique("user").replace('_', "-"), &key).await;
    within("B to serve A's key", Duration::from_secs(2), || {
        b.knows(&key)
    })
    .await;

    let status = b.bus.status();
    assert_eq!(status.mode, "poll");
    assert_eq!(status.redis_connected, None);
    assert_eq!(status.reloads, 1);
    assert!(status.last_reload_at.is_some());
    let version = a.storage.get_setting(STATE_VERSION).await.unwrap();
    assert_eq!(status.last_version, version);
    assert!(version.unwrap().contains(a.bus.instance()));
    assert_eq!(status.last_error, None);
}

#[tokio::test]
async fn a_change_reaches_another_instance_on_a_shared_sqlite_file() {
    let db = SqliteFile::new();
    propagates_by_poll(&db.dsn, "sqlite").await;
}

#[tokio::test]
async fn a_change_reaches_another_instance_on_shared_postgres() {
    on_postgres("shared_postgres", |dsn| async move {
        propagates_by_poll(&dsn, "postgres").await;
    })
    .await;
}

#[tokio::test]
async fn redis_carries_a_change_faster_than_the_poll() {
    let Some(url) = redis_url("redis_fast").await else {
        return;
    };
    on_postgres("redis_fast", |dsn| async move {
        let target = RedisTarget {
            url,
            prefix: format!("{}:", unique("gproxy-test-sync")),
        };
        let slow = SyncConfig {
            poll_interval: Duration::from_secs(10),
            redis_poll_interval: Duration::from_secs(10),
            ..SyncConfig::default()
        };
        let a = instance(&dsn, Some(&target), slow).await;
        let b = instance(&dsn, Some(&target), slow).await;
        assert_eq!(
            b.bus.channel(),
            Some(format!("{}changes", target.prefix).as_str())
        );
        let _watcher = b.bus.spawn_watcher(b.reloader());
        within("B to subscribe", Duration::from_secs(5), || {
            b.bus.status().redis_connected == Some(true)
        })
        .await;

        for round in 0..3 {
            let key = format!("sk-{}", unique("redis"));
            a.add_key(&format!("user-{round}"), &key).await;
            let took = within("B to serve A's key", Duration::from_secs(1), || {
                b.knows(&key)
            })
            .await;
            assert!(took < Duration::from_secs(1), "took {took:?}");
        }
        let status = b.bus.status();
        assert_eq!((status.mode, status.reloads), ("redis", 3));
        assert_eq!(status.last_error, None);
    })
    .await;
}

#[tokio::test]
async fn with_redis_down_the_poll_still_carries_changes() {
    let db = SqliteFile::new();
    // Nothing listens on port 1.
    let target = RedisTarget {
        url: "redis://127.0.0.1:1".into(),
        prefix: "gproxy-test-down:".into(),
    };
    let a = instance(&db.dsn, Some(&target), SyncConfig::default()).await;
    let b = instance(&db.dsn, Some(&target), SyncConfig::default()).await;
    let _watcher = b.bus.spawn_watcher(b.reloader());
    tokio::time::sleep(Duration::from_millis(100)).await;

    let key = "sk-redis-is-down-0001";
    a.add_key("carol", key).await; // publishing to Redis fails, the write does not
    within("B to serve A's key", Duration::from_secs(2), || {
        b.knows(key)
    })
    .await;
    let status = b.bus.status();
    assert_eq!(
        (status.mode, status.redis_connected),
        ("redis", Some(false))
    );
    assert!(
        a.bus
            .status()
            .last_error
            .is_some_and(|e| e.contains("redis publish")),
        "A records the failed announcement"
    );
}

/// An `OnChange` that counts calls and takes `busy` each time.
fn counting(inner: OnChange, calls: Arc<AtomicU64>, busy: Duration) -> OnChange {
    Arc::new(move || {
        let (inner, calls) = (inner.clone(), calls.clone());
        Box::pin(async move {
            calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(busy).await;
            inner().await
        })
    })
}

async fn coalesces(redis: Option<RedisTarget>, dsn: &str) {
    let fast = SyncConfig {
        poll_interval: Duration::from_millis(50),
        ..SyncConfig::default()
    };
    let a = instance(dsn, redis.as_ref(), fast).await;
    let b = instance(dsn, redis.as_ref(), fast).await;
    let calls = Arc::new(AtomicU64::new(0));
    let _watcher = b.bus.spawn_watcher(counting(
        b.reloader(),
        calls.clone(),
        Duration::from_millis(400),
    ));
    if redis.is_some() {
        within("B to subscribe", Duration::from_secs(5), || {
            b.bus.status().redis_connected == Some(true)
        })
        .await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 0, "nothing changed yet");

    a.add_key("burst-0", "sk-burst-key-0000").await;
    within("the first reload to start", Duration::from_secs(2), || {
        calls.load(Ordering::SeqCst) == 1
    })
    .await;
    // Ten changes while that reload runs: exactly one more reload.
    for i in 1..=10 {
        a.add_key(&format!("burst-{i}"), &format!("sk-burst-key-{i:04}"))
            .await;
    }
    within("the last key", Duration::from_secs(3), || {
        b.knows("sk-burst-key-0010")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "one reload, then one for the burst"
    );
    assert_eq!(b.bus.status().reloads, 2);
}

#[tokio::test]
async fn a_burst_of_changes_is_coalesced_by_the_poll() {
    let db = SqliteFile::new();
    coalesces(None, &db.dsn).await;
}

#[tokio::test]
async fn a_burst_of_changes_is_coalesced_with_redis() {
    let Some(url) = redis_url("coalesce_redis").await else {
        return;
    };
    let db = SqliteFile::new();
    let target = RedisTarget {
        url,
        prefix: format!("{}:", unique("gproxy-test-sync")),
    };
    coalesces(Some(target), &db.dsn).await;
}

#[tokio::test]
async fn an_instance_does_not_reload_for_its_own_change_and_stops_when_dropped() {
    let db = SqliteFile::new();
    let fast = SyncConfig {
        poll_interval: Duration::from_millis(20),
        ..SyncConfig::default()
    };
    let a = instance(&db.dsn, None, fast).await;
    let calls = Arc::new(AtomicU64::new(0));
    let watcher = a
        .bus
        .spawn_watcher(counting(a.reloader(), calls.clone(), Duration::ZERO));
    tokio::time::sleep(Duration::from_millis(100)).await;
    a.add_key("self", "sk-own-change-0001").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "its own write needs no reload"
    );

    // Another instance's change is picked up; after the drop nothing is.
    let b = instance(&db.dsn, None, fast).await;
    b.add_key("other", "sk-other-change-0001").await;
    within("A to reload", Duration::from_secs(2), || {
        calls.load(Ordering::SeqCst) == 1
    })
    .await;
    drop(watcher);
    b.add_key("other2", "sk-other-change-0002").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 1, "a dropped watcher stops");
    assert!(!a.knows("sk-other-change-0002"));
}
