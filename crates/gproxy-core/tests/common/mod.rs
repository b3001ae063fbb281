//! Helpers shared by the core's integration tests: the `CI=true`
//! convention and the Redis server from `GPROXY_TEST_REDIS`.
#![cfg(test)]
#![allow(dead_code)] // each test binary uses a different part

use gproxy_credential::RedisStore;

/// Whether a missing test server fails the test instead of skipping it.
pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true"))
}

/// The Redis URL, or `None` (test skipped) outside CI.
pub async fn redis_url(test: &str) -> Option<String> {
    let Ok(url) = std::env::var("GPROXY_TEST_REDIS") else {
        assert!(!ci(), "CI=true but GPROXY_TEST_REDIS is not set");
        println!("skipped: {test}: GPROXY_TEST_REDIS is not set");
        return None;
    };
    let store = RedisStore::new(&url, "gproxy-test-ping:").unwrap();
    if let Err(e) = store.connect().await {
        assert!(!ci(), "CI=true but Redis at {url} is unreachable: {e}");
        println!("skipped: {test}: Redis at {url} is unreachable: {e}");
        return None;
    }
    Some(url)
}
