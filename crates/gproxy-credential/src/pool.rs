//! A provider's credentials and how a request picks one: round robin,
//! weighted or least in flight, skipping disabled and rate-limited
//! credentials, preferring those not in a transient cooldown.
//!
//! Lock-free: a pick reads each credential's health atomics and bumps one
//! shared counter.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::Credential;
use crate::health::{Availability, CredentialHealth};

/// How a pool chooses among its usable credentials.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Each credential in turn (the default).
    #[default]
    RoundRobin,
    /// In proportion to each credential's weight.
    Weighted,
    /// The credential with the fewest requests in flight (ties in turn).
    LeastInFlight,
}

impl Strategy {
    /// The stored / configured name.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::RoundRobin => "round_robin",
            Strategy::Weighted => "weighted",
            Strategy::LeastInFlight => "least_in_flight",
        }
    }

    /// Parses a stored / configured name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "round_robin" => Some(Strategy::RoundRobin),
            "weighted" => Some(Strategy::Weighted),
            "least_in_flight" => Some(Strategy::LeastInFlight),
            _ => None,
        }
    }
}

/// One credential of a pool, with its storage id, name, weight and health.
#[derive(Debug)]
pub struct CredentialEntry {
    /// Row id in storage (recorded in request logs).
    pub id: i64,
    /// The credential's name, unique within its provider.
    pub name: String,
    /// The credential itself.
    pub credential: Credential,
    /// Relative weight for [`Strategy::Weighted`] (at least 1).
    pub weight: u32,
    /// Runtime health, kept across state reloads.
    pub health: Arc<CredentialHealth>,
}

impl CredentialEntry {
    /// An entry of weight 1 with fresh health.
    pub fn new(id: i64, name: String, credential: Credential) -> Self {
        CredentialEntry {
            id,
            name,
            credential,
            weight: 1,
            health: Arc::new(CredentialHealth::new()),
        }
    }
}

/// A picked credential; counts as in flight until dropped.
#[derive(Debug)]
pub struct Lease {
    entry: Arc<CredentialEntry>,
}

impl Lease {
    /// The picked credential.
    pub fn entry(&self) -> &Arc<CredentialEntry> {
        &self.entry
    }
}

impl std::ops::Deref for Lease {
    type Target = CredentialEntry;
    fn deref(&self) -> &CredentialEntry {
        &self.entry
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.entry.health.release();
    }
}

/// Why no credential was picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoPick {
    /// The pool has no credential at all.
    Empty,
    /// Every credential not yet tried is disabled (or all were tried).
    Unusable,
    /// Every usable credential is rate limited; the first is free again at
    /// this time (epoch ms).
    CoolingDown {
        /// Epoch ms when the first credential is usable again.
        until_ms: u64,
    },
}

/// The credentials of one provider and its selection strategy.
#[derive(Debug, Default)]
pub struct CredentialPool {
    strategy: Strategy,
    entries: Vec<Arc<CredentialEntry>>,
    next: AtomicUsize,
}

impl CredentialPool {
    /// A round-robin pool over `entries` (already filtered to enabled ones).
    pub fn new(entries: Vec<CredentialEntry>) -> Self {
        Self::with_strategy(Strategy::RoundRobin, entries)
    }

    /// A pool over `entries` choosing by `strategy`.
    pub fn with_strategy(strategy: Strategy, entries: Vec<CredentialEntry>) -> Self {
        CredentialPool {
            strategy,
            entries: entries
                .into_iter()
                .map(|mut e| {
                    e.weight = e.weight.max(1);
                    Arc::new(e)
                })
                .collect(),
            next: AtomicUsize::new(0),
        }
    }

    /// The selection strategy.
    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// The next credential by the pool's strategy, ignoring health (kept
    /// for callers that only need some credential, e.g. model listing).
    pub fn pick(&self) -> Option<Arc<CredentialEntry>> {
        if self.entries.is_empty() {
            return None;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.entries.len();
        self.entries.get(i).cloned()
    }

    /// Picks a credential that can serve `model` at `now` (epoch ms),
    /// skipping the ids in `skip` (already tried by this request). Ready
    /// credentials first; credentials in a transient cooldown only when
    /// no credential is ready.
    pub fn lease(&self, model: &str, now: u64, skip: &[i64]) -> Result<Lease, NoPick> {
        if self.entries.is_empty() {
            return Err(NoPick::Empty);
        }
        let class = |e: &CredentialEntry| {
            if skip.contains(&e.id) {
                return Availability::Disabled;
            }
            e.health.availability(model, now)
        };
        let ticket = self.next.fetch_add(1, Ordering::Relaxed);
        let chosen = self
            .choose(ticket, |e| class(e) == Availability::Ready)
            .or_else(|| self.choose(ticket, |e| matches!(class(e), Availability::Soft(_))));
        if let Some(entry) = chosen {
            entry.health.acquire();
            return Ok(Lease { entry });
        }
        let soonest = self
            .entries
            .iter()
            .filter_map(|e| match class(e) {
                Availability::Cooling(until) => Some(until),
                _ => None,
            })
            .min();
        Err(match soonest {
            Some(until_ms) => NoPick::CoolingDown { until_ms },
            None => NoPick::Unusable,
        })
    }

    /// Chooses among the entries `usable` accepts, by strategy.
    fn choose(
        &self,
        ticket: usize,
        usable: impl Fn(&CredentialEntry) -> bool,
    ) -> Option<Arc<CredentialEntry>> {
        let n = self.entries.len();
        let rotated = (0..n).filter_map(move |k| self.entries.get((ticket + k) % n));
        match self.strategy {
            Strategy::RoundRobin => rotated.clone().find(|e| usable(e)).cloned(),
            Strategy::LeastInFlight => rotated
                .filter(|e| usable(e))
                .min_by_key(|e| e.health.in_flight())
                .cloned(),
            Strategy::Weighted => {
                let total: u64 = self
                    .entries
                    .iter()
                    .filter(|e| usable(e))
                    .map(|e| u64::from(e.weight))
                    .sum();
                if total == 0 {
                    return None;
                }
                let mut point = ticket as u64 % total;
                for e in self.entries.iter().filter(|e| usable(e)) {
                    let w = u64::from(e.weight);
                    if point < w {
                        return Some(e.clone());
                    }
                    point -= w;
                }
                None
            }
        }
    }

    /// The credential with this id, if the pool holds it.
    pub fn get(&self, id: i64) -> Option<&Arc<CredentialEntry>> {
        self.entries.iter().find(|e| e.id == id)
    }

    /// How many credentials the pool holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the pool holds no credential.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The credentials, in configuration order.
    pub fn entries(&self) -> &[Arc<CredentialEntry>] {
        &self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Secret;

    fn entry(id: i64, weight: u32) -> CredentialEntry {
        CredentialEntry {
            weight,
            ..CredentialEntry::new(
                id,
                format!("k{id}"),
                Credential::ApiKey {
                    key: Secret::new(format!("sk-{id}")),
                },
            )
        }
    }

    fn ids(pool: &CredentialPool, n: usize) -> Vec<i64> {
        (0..n)
            .map(|_| pool.lease("m", 0, &[]).unwrap().id)
            .collect()
    }

    #[test]
    fn round_robin_visits_every_credential_in_turn() {
        let pool = CredentialPool::new(vec![entry(1, 1), entry(2, 1), entry(3, 1)]);
        assert_eq!(ids(&pool, 6), vec![1, 2, 3, 1, 2, 3]);
    }

    #[test]
    fn weighted_serves_each_its_share() {
        let pool =
            CredentialPool::with_strategy(Strategy::Weighted, vec![entry(1, 3), entry(2, 1)]);
        let picked = ids(&pool, 8);
        assert_eq!(picked.iter().filter(|&&i| i == 1).count(), 6, "{picked:?}");
    }

    #[test]
    fn least_in_flight_prefers_the_idle_credential() {
        let pool =
            CredentialPool::with_strategy(Strategy::LeastInFlight, vec![entry(1, 1), entry(2, 1)]);
        let held = pool.lease("m", 0, &[]).unwrap();
        for _ in 0..4 {
            assert_ne!(pool.lease("m", 0, &[]).unwrap().id, held.id);
        }
        assert_eq!(held.health.in_flight(), 1);
        drop(held);
        assert_eq!(pool.entries()[0].health.in_flight(), 0);
    }

    #[test]
    fn unhealthy_credentials_are_skipped() {
        let pool = CredentialPool::new(vec![entry(1, 1), entry(2, 1), entry(3, 1)]);
        pool.entries()[0].health.disable("401".into(), 0);
        pool.entries()[1].health.cool_down(500, Some("m"));
        assert_eq!(ids(&pool, 3), vec![3, 3, 3]);
        // Another model is not limited on credential 2.
        assert_eq!(pool.lease("other", 0, &[3]).unwrap().id, 2);
        // Credential 3 tried already: 2 is cooling down until 500.
        assert_eq!(
            pool.lease("m", 0, &[3]).unwrap_err(),
            NoPick::CoolingDown { until_ms: 500 }
        );
        assert_eq!(pool.lease("m", 600, &[3]).unwrap().id, 2);
        pool.entries()[1].health.disable("403".into(), 0);
        assert_eq!(pool.lease("m", 600, &[3]).unwrap_err(), NoPick::Unusable);
    }

    #[test]
    fn transient_cooldown_is_a_preference() {
        let pool = CredentialPool::new(vec![entry(1, 1), entry(2, 1)]);
        pool.entries()[0].health.transient(100);
        assert_eq!(ids(&pool, 3), vec![2, 2, 2]);
        pool.entries()[1].health.transient(100);
        assert!(pool.lease("m", 50, &[]).is_ok());
    }

    #[test]
    fn empty_pool_picks_nothing() {
        let pool = CredentialPool::new(Vec::new());
        assert!(pool.pick().is_none());
        assert_eq!(pool.lease("m", 0, &[]).unwrap_err(), NoPick::Empty);
        assert!(pool.is_empty());
    }
}
