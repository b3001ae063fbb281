//! One conformance run for every `LimiterStore`: the in-memory store always,
//! the Redis store against a real server. The Lua scripts must follow the
//! same rules as `CircuitCell` (threshold, window, cooldown, one probe,
//! escalation) and keep cooldowns the same way.
//!
//! The Redis run reads `GPROXY_TEST_REDIS` (e.g. `redis://127.0.0.1:6379`);
//! without it the run prints `skipped: ...` and passes, unless `CI=true`,
//! where a missing variable or an unreachable server fails.
#![cfg(test)]

use gproxy_credential::{
    Admission, CircuitConfig, CircuitEvent, CircuitState, LimiterStore, MemoryStore, RedisStore,
};

fn cfg() -> CircuitConfig {
    CircuitConfig {
        enabled: true,
        failure_threshold: 3,
        window_ms: 10_000,
        cooldown_ms: 30_000,
        escalation_ms: 5_000,
    }
}

/// Times are explicit (epoch-like ms), so both stores see the same clock.
async fn conformance(store: &dyn LimiterStore) {
    let cfg = cfg();
    let t0: u64 = 1_700_000_000_000;
    let c = "openai";

    // Closed; failures leave the window.
    assert_eq!(store.admit(c, t0, &cfg).await.unwrap(), Admission::Allowed);
    store
        .record(c, CircuitEvent::Failure, t0, &cfg)
        .await
        .unwrap();
    store
        .record(c, CircuitEvent::Failure, t0 + 1, &cfg)
        .await
        .unwrap();
    let v = store.view(c, t0 + 20_000, &cfg).await.unwrap();
    assert_eq!((v.state, v.failures), (CircuitState::Closed, 0));

    // Three in the window open it.
    let t1 = t0 + 30_000;
    for i in 0..2 {
        let r = store
            .record(c, CircuitEvent::Failure, t1 + i, &cfg)
            .await
            .unwrap();
        assert_eq!(r.view.state, CircuitState::Closed);
    }
    let r = store
        .record(c, CircuitEvent::Failure, t1 + 2, &cfg)
        .await
        .unwrap();
    assert_eq!((r.view.state, r.view.failures), (CircuitState::Open, 3));
    assert_eq!(r.view.cooldown_until_ms, Some(t1 + 2 + 30_000));
    assert_eq!(
        store.admit(c, t1 + 3, &cfg).await.unwrap(),
        Admission::Rejected {
            until_ms: t1 + 2 + 30_000
        }
    );

    // Half open: one probe; its failure opens it again.
    let t2 = t1 + 2 + 30_000;
    assert_eq!(
        store.view(c, t2, &cfg).await.unwrap().state,
        CircuitState::HalfOpen
    );
    assert_eq!(store.admit(c, t2, &cfg).await.unwrap(), Admission::Probe);
    assert!(matches!(
        store.admit(c, t2 + 1, &cfg).await.unwrap(),
        Admission::Rejected { .. }
    ));
    let r = store
        .record(c, CircuitEvent::Failure, t2 + 5, &cfg)
        .await
        .unwrap();
    assert_eq!(r.view.state, CircuitState::Open);
    assert_eq!(r.view.cooldown_until_ms, Some(t2 + 5 + 30_000));

    // A released probe lets the next request probe; a success closes.
    let t3 = t2 + 5 + 30_000;
    assert_eq!(store.admit(c, t3, &cfg).await.unwrap(), Admission::Probe);
    store
        .record(c, CircuitEvent::Release, t3 + 1, &cfg)
        .await
        .unwrap();
    assert_eq!(
        store.admit(c, t3 + 2, &cfg).await.unwrap(),
        Admission::Probe
    );
    let r = store
        .record(c, CircuitEvent::Success, t3 + 3, &cfg)
        .await
        .unwrap();
    assert_eq!((r.view.state, r.view.failures), (CircuitState::Closed, 0));
    assert_eq!(r.view.cooldown_until_ms, None);
    assert_eq!(
        store.admit(c, t3 + 4, &cfg).await.unwrap(),
        Admission::Allowed
    );

    // Global rate limits escalate once sustained; a gap restarts the run.
    let g = "gemini";
    let t4 = t3 + 100_000;
    let esc = |at: u64| async move {
        store
            .record(g, CircuitEvent::GlobalRateLimit, at, &cfg)
            .await
            .unwrap()
            .escalated
    };
    assert!(!esc(t4).await);
    assert!(!esc(t4 + 4_000).await);
    assert!(esc(t4 + 5_000).await);
    assert_eq!(store.view(g, t4 + 5_000, &cfg).await.unwrap().failures, 1);
    assert!(
        !esc(t4 + 20_000).await,
        "a gap over the window starts a new run"
    );

    // Cooldowns only grow, expire, and clear.
    let keys = vec!["cooldown:7".to_owned(), "cooldown:7:m".to_owned()];
    // Cooldowns expire in Redis by real time: use the real clock here.
    let now = gproxy_credential::clock::now_ms();
    assert_eq!(store.cooldown_until(&keys, now).await.unwrap(), None);
    store
        .set_cooldown("cooldown:7:m", now + 60_000, now)
        .await
        .unwrap();
    store
        .set_cooldown("cooldown:7:m", now + 10_000, now)
        .await
        .unwrap();
    assert_eq!(
        store.cooldown_until(&keys, now).await.unwrap(),
        Some(now + 60_000)
    );
    store.clear_cooldowns(&keys).await.unwrap();
    assert_eq!(store.cooldown_until(&keys, now).await.unwrap(), None);
}

#[tokio::test]
async fn the_memory_store_conforms() {
    conformance(&MemoryStore::new()).await;
}

#[tokio::test]
async fn the_redis_store_conforms() {
    let ci = std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true"));
    let Ok(url) = std::env::var("GPROXY_TEST_REDIS") else {
        assert!(!ci, "CI=true but GPROXY_TEST_REDIS is not set");
        println!("skipped: the_redis_store_conforms: GPROXY_TEST_REDIS is not set");
        return;
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let prefix = format!("gproxy-test:conformance:{}:{nanos}:", std::process::id());
    let store = RedisStore::new(&url, &prefix).unwrap();
    if let Err(e) = store.connect().await {
        assert!(!ci, "CI=true but Redis at {url} is unreachable: {e}");
        println!("skipped: the_redis_store_conforms: {e}");
        return;
    }
    conformance(&store).await;
}

#[tokio::test]
async fn an_unreachable_redis_fails_fast() {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let store = RedisStore::new(&format!("redis://127.0.0.1:{closed}"), "x:").unwrap();
    let started = std::time::Instant::now();
    assert!(store.admit("p", 1, &cfg()).await.is_err());
    // The next call does not even try to connect.
    assert!(store.admit("p", 1, &cfg()).await.is_err());
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
}
