//! The in-process [`LimiterStore`]: one map of circuits and one of
//! cooldowns. Instances sharing one `MemoryStore` share state (tests use it
//! as a stand-in for Redis).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use super::{LimiterStore, StoreError};
use crate::circuit::{Admission, CircuitCell, CircuitConfig, CircuitEvent, CircuitView, Recorded};

/// State shared within one process.
#[derive(Debug, Default)]
pub struct MemoryStore {
    circuits: Mutex<HashMap<String, CircuitCell>>,
    cooldowns: Mutex<HashMap<String, u64>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn with_cell<T>(&self, circuit: &str, f: impl FnOnce(&mut CircuitCell) -> T) -> T {
        let mut map = self.circuits.lock().unwrap_or_else(PoisonError::into_inner);
        f(map.entry(circuit.to_owned()).or_default())
    }
}

#[async_trait::async_trait]
impl LimiterStore for MemoryStore {
    fn backend(&self) -> &'static str {
        "memory"
    }

    async fn admit(
        &self,
        circuit: &str,
        now_ms: u64,
        cfg: &CircuitConfig,
    ) -> Result<Admission, StoreError> {
        Ok(self.with_cell(circuit, |c| c.admit(now_ms, cfg)))
    }

    async fn record(
        &self,
        circuit: &str,
        event: CircuitEvent,
        now_ms: u64,
        cfg: &CircuitConfig,
    ) -> Result<Recorded, StoreError> {
        Ok(self.with_cell(circuit, |c| c.record(event, now_ms, cfg)))
    }

    async fn view(
        &self,
        circuit: &str,
        now_ms: u64,
        cfg: &CircuitConfig,
    ) -> Result<CircuitView, StoreError> {
        Ok(self.with_cell(circuit, |c| c.view(now_ms, cfg)))
    }

    async fn set_cooldown(&self, key: &str, until_ms: u64, now_ms: u64) -> Result<(), StoreError> {
        let mut map = self
            .cooldowns
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        map.retain(|_, until| *until > now_ms);
        let slot = map.entry(key.to_owned()).or_insert(0);
        *slot = (*slot).max(until_ms);
        Ok(())
    }

    async fn cooldown_until(
        &self,
        keys: &[String],
        now_ms: u64,
    ) -> Result<Option<u64>, StoreError> {
        let map = self
            .cooldowns
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Ok(keys
            .iter()
            .filter_map(|k| map.get(k).copied())
            .filter(|&until| until > now_ms)
            .max())
    }

    async fn clear_cooldowns(&self, keys: &[String]) -> Result<(), StoreError> {
        let mut map = self
            .cooldowns
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for k in keys {
            map.remove(k);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::circuit::CircuitState;

    #[tokio::test]
    async fn two_users_share_one_circuit_and_cooldowns() {
        let store = std::sync::Arc::new(MemoryStore::new());
        let cfg = CircuitConfig {
            failure_threshold: 2,
            ..CircuitConfig::default()
        };
        store
            .record("p", CircuitEvent::Failure, 1, &cfg)
            .await
            .unwrap();
        let r = store
            .record("p", CircuitEvent::Failure, 2, &cfg)
            .await
            .unwrap();
        assert_eq!(r.view.state, CircuitState::Open);
        assert!(matches!(
            store.admit("p", 3, &cfg).await.unwrap(),
            Admission::Rejected { .. }
        ));
        store.set_cooldown("k", 100, 0).await.unwrap();
        let keys = vec!["k".to_owned(), "other".to_owned()];
        assert_eq!(store.cooldown_until(&keys, 50).await.unwrap(), Some(100));
        assert_eq!(store.cooldown_until(&keys, 100).await.unwrap(), None);
        store.clear_cooldowns(&keys).await.unwrap();
        assert_eq!(store.cooldown_until(&keys, 0).await.unwrap(), None);
    }
}
