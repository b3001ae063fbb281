//! A provider's credentials and how a request picks one.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::Credential;

/// One credential of a pool, with its storage id and name.
#[derive(Debug)]
pub struct CredentialEntry {
    /// Row id in storage (recorded in request logs).
    pub id: i64,
    /// The credential's name, unique within its provider.
    pub name: String,
    /// The credential itself.
    pub credential: Credential,
}

/// The enabled credentials of one provider, picked round robin.
///
/// Lock-free: picking is one relaxed atomic increment.
#[derive(Debug, Default)]
pub struct CredentialPool {
    entries: Vec<Arc<CredentialEntry>>,
    next: AtomicUsize,
}

impl CredentialPool {
    /// A pool over `entries` (already filtered to enabled ones).
    pub fn new(entries: Vec<CredentialEntry>) -> Self {
        CredentialPool {
            entries: entries.into_iter().map(Arc::new).collect(),
            next: AtomicUsize::new(0),
        }
    }

    /// The next credential in round-robin order, or `None` if the pool is empty.
    pub fn pick(&self) -> Option<Arc<CredentialEntry>> {
        if self.entries.is_empty() {
            return None;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.entries.len();
        self.entries.get(i).cloned()
    }

    /// How many credentials the pool holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the pool holds no credential.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The credentials, in pick order.
    pub fn entries(&self) -> &[Arc<CredentialEntry>] {
        &self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Secret;

    fn entry(id: i64) -> CredentialEntry {
        CredentialEntry {
            id,
            name: format!("k{id}"),
            credential: Credential::ApiKey {
                key: Secret::new(format!("sk-{id}")),
            },
        }
    }

    #[test]
    fn round_robin_visits_every_credential_in_turn() {
        let pool = CredentialPool::new(vec![entry(1), entry(2), entry(3)]);
        let ids: Vec<i64> = (0..6).map(|_| pool.pick().unwrap().id).collect();
        assert_eq!(ids, vec![1, 2, 3, 1, 2, 3]);
    }

    #[test]
    fn empty_pool_picks_nothing() {
        let pool = CredentialPool::new(Vec::new());
        assert!(pool.pick().is_none());
        assert!(pool.is_empty());
    }
}
