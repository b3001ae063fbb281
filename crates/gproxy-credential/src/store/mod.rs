//! Shared resilience state: the [`LimiterStore`] trait, so several gateway
//! instances agree on circuits, failure windows and credential cooldowns.
//!
//! Two backends: [`MemoryStore`] (one process; also the test double for
//! sharing) and [`RedisStore`] (atomic Lua scripts). Without a shared
//! store the gateway keeps this state only in its per-provider
//! [`CircuitBreaker`](crate::CircuitBreaker)s and per-credential
//! [`CredentialHealth`](crate::CredentialHealth).

mod memory;
mod redis;

pub use memory::MemoryStore;
pub use redis::RedisStore;

use crate::circuit::{Admission, CircuitConfig, CircuitEvent, CircuitView, Recorded};

/// A shared-state operation failed (the backend is unreachable or answered
/// something unexpected). The caller falls back to local state.
#[derive(Debug, Clone, thiserror::Error)]
#[error("shared state ({backend}): {message}")]
pub struct StoreError {
    /// The backend name.
    pub backend: &'static str,
    /// What went wrong (never contains credentials).
    pub message: String,
}

/// Circuit and cooldown state shared by every gateway instance using the
/// same store. Every operation is atomic in the store.
#[async_trait::async_trait]
pub trait LimiterStore: Send + Sync + std::fmt::Debug {
    /// The backend name (`memory`, `redis`).
    fn backend(&self) -> &'static str;

    /// [`CircuitCell::admit`](crate::CircuitCell::admit) on the shared circuit `circuit`.
    async fn admit(
        &self,
        circuit: &str,
        now_ms: u64,
        cfg: &CircuitConfig,
    ) -> Result<Admission, StoreError>;

    /// [`CircuitCell::record`](crate::CircuitCell::record) on the shared circuit `circuit`.
    async fn record(
        &self,
        circuit: &str,
        event: CircuitEvent,
        now_ms: u64,
        cfg: &CircuitConfig,
    ) -> Result<Recorded, StoreError>;

    /// The shared circuit `circuit` at `now_ms`.
    async fn view(
        &self,
        circuit: &str,
        now_ms: u64,
        cfg: &CircuitConfig,
    ) -> Result<CircuitView, StoreError>;

    /// Sets a cooldown under `key` until `until_ms` (a cooldown only grows).
    async fn set_cooldown(&self, key: &str, until_ms: u64, now_ms: u64) -> Result<(), StoreError>;

    /// The latest cooldown end among `keys` still in the future, if any.
    async fn cooldown_until(&self, keys: &[String], now_ms: u64)
    -> Result<Option<u64>, StoreError>;

    /// Removes the cooldowns under `keys`.
    async fn clear_cooldowns(&self, keys: &[String]) -> Result<(), StoreError>;
}

/// The cooldown key of a credential, for every model (`None`) or one.
pub fn cooldown_key(credential_id: i64, model: Option<&str>) -> String {
    match model {
        None => format!("cooldown:{credential_id}"),
        Some(m) => format!("cooldown:{credential_id}:{m}"),
    }
}
