//! Leases of Redis-kept limits: far from every limit, the check of one
//! request also counts a block of entries for later requests (per entry a
//! request of the window and a slot, and twice the request's tokens; with
//! the budgets in the same Redis, one reservation for the block), and the
//! instance admits requests with the same scopes from that block without
//! asking Redis. In Redis the block is one entry that counts its requests
//! and tokens, and one slot entry that counts its slots (see
//! [`super::redis`]), whatever its size. Its requests' slots are freed as
//! they end, those of one lease that end before the queue of settlements
//! is sent in one part; their tokens and costs are added up here and sent
//! in one settlement once the lease and all of them have ended
//! ([`Lease::finish`]).
//!
//! What keeps the limits exact:
//! - A leased entry is counted in Redis from the moment it is leased, like
//!   an admitted request. Its time is the lease's end (Redis's clock plus
//!   [`LEASE_MS`]), so it stays in the window at least as long as any
//!   request admitted from it would have.
//! - The instance stops using a lease [`MARGIN_MS`] before that end, as
//!   measured from before the check was sent, so no request is admitted
//!   later than its entry's time.
//! - What a lease did not use is given back (its entries removed) when the
//!   lease ends: spent, at its end (a timer), or when the limits change. An
//!   instance that dies holds its unused entries until they leave the
//!   window, as it holds the slots of its requests in flight.
//! - Redis grants a lease only while every scope would keep room for
//!   sixteen such leases after it (`LEASE_ROOM` in the check script), and
//!   never fewer than `LEASE_MIN` entries: near a limit every request is
//!   checked by Redis, one at a time, as without leases.
//!
//! Only a key (the scopes' names) that saw another Redis check within a
//! lease's life asks for one, and only one request at a time per key: a
//! lone request costs Redis what it did before.
//!
//! A busy key asks for its next lease ahead: the request that finds three
//! quarters of the lease handed out is checked by Redis and asks for the
//! next, while the requests that arrive during that round trip are served
//! from the last quarter (were the lease spent first, each of them would
//! be checked by Redis on its own). The next lease waits until the current
//! one is spent or ended, and serves meanwhile the requests the current
//! one cannot (estimated above its entries).

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use hashbrown::HashMap;
use tokio::time::Instant;

use super::{Headroom, LeaseAsk, RateHeaders, Scope, Store};
use crate::budget::{Budgeter, Lines};

/// How long a lease lives in Redis (`LEASE_MS` in the check script).
pub(super) const LEASE_MS: u64 = 1_000;
/// How much sooner the instance stops using it.
const MARGIN_MS: u64 = 100;
/// How many entries a key's first lease asks for; a key whose lease was
/// spent before its end asks for twice as many next time (up to
/// [`MAX_WANT`]), one whose lease ended half unused for half as many.
const FIRST_WANT: u64 = 64;
/// The most entries a lease asks for.
const MAX_WANT: u64 = 1_024;
/// How many keys are remembered before the idle ones are forgotten.
const MAX_KEYS: usize = 4_096;

/// A block of entries leased on one set of scopes.
#[derive(Debug)]
pub(crate) struct Lease {
    /// The first leased id; `end` is one past the last.
    first: u64,
    end: u64,
    /// The next id to hand out (past `end` once spent or closed).
    next: AtomicU64,
    /// The tokens of each entry: requests estimated at more go to Redis.
    per: u64,
    until: Instant,
    scopes: Vec<Scope>,
    /// The headers of the request that was granted the lease.
    headers: RateHeaders,
    store: Arc<Store>,
    /// With limits and budgets in one Redis, the budget reservation
    /// leased under its first id.
    budget: Option<BudgetShare>,
    /// Set once, when it stops handing out ids.
    closed: AtomicBool,
    /// Set once, when its settlement is sent (a take that fails after it
    /// briefly holds and releases again: that must not send another).
    finished: AtomicBool,
    /// How many ids it handed out (set when closed).
    used: AtomicU64,
    /// Holds still open: the lease's own until it is closed, and one per
    /// permit and budget hold of each request it admitted. The last one
    /// released settles the lease ([`Lease::finish`]).
    pending: AtomicU64,
    /// Tokens its requests used, as they settle.
    tokens: AtomicU64,
    /// What its requests cost (nano-dollars), as they settle.
    cost: AtomicI64,
    /// Slots of its requests freed since the last part freeing them was
    /// written, and whether one is queued ([`Lease::slot_freed`]).
    freed: AtomicU64,
    freeing: AtomicBool,
}

/// The budget side of a lease: a reservation of `per` nano-dollars on
/// each of `lines` per leased entry (one reservation for the lease).
#[derive(Debug)]
pub(crate) struct BudgetShare {
    pub(crate) budgets: Arc<Budgeter>,
    pub(crate) lines: Lines,
    pub(crate) per: i64,
    pub(crate) observe: Arc<crate::observe::Observability>,
}

/// The budget side of a request looking for a lease: its lines and
/// estimated cost under the budgets in force.
pub(crate) struct BudgetAsk<'a> {
    pub(crate) budgets: &'a Arc<Budgeter>,
    pub(crate) lines: &'a Lines,
    pub(crate) amount: i64,
}

impl Lease {
    /// An id for a request of `estimate` tokens, and how many of the
    /// lease's entries are used with it; `None` when the lease cannot
    /// serve it. The request's permit (and budget hold) each release one
    /// hold when they end.
    fn take(&self, estimate: u64, budget: Option<&BudgetAsk<'_>>) -> Option<(u64, u64)> {
        if estimate > self.per
            || self.closed.load(Ordering::Acquire)
            || Instant::now() >= self.until
        {
            return None;
        }
        match (&self.budget, budget) {
            (None, None) => {}
            (Some(share), Some(ask))
                if ask.amount <= share.per && Arc::ptr_eq(&share.budgets, ask.budgets) => {}
            _ => return None,
        }
        // Held before the id is taken, so that a close in between cannot
        // settle the lease without this request.
        let holds = self.holds();
        self.pending.fetch_add(holds, Ordering::AcqRel);
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        if id < self.end {
            Some((id, id - self.first + 1))
        } else {
            self.release(holds);
            None
        }
    }

    /// The holds of one admitted request: its permit, and its budget
    /// hold when the lease has a budget share.
    fn holds(&self) -> u64 {
        1 + u64::from(self.budget.is_some())
    }

    /// How many entries it has not handed out (when closed, in all).
    fn unused(&self) -> u64 {
        if self.closed.load(Ordering::Acquire) {
            self.size() - self.used.load(Ordering::Acquire)
        } else {
            self.end
                .saturating_sub(self.next.load(Ordering::Relaxed).min(self.end))
        }
    }

    /// The lease's entries.
    fn size(&self) -> u64 {
        self.end - self.first
    }

    /// Whether it may still hand out ids at `now` (not closed, not ended,
    /// not spent).
    fn open(&self, now: Instant) -> bool {
        !self.closed.load(Ordering::Acquire) && now < self.until && self.unused() > 0
    }

    /// Whether three quarters of it are handed out: time to ask for the
    /// next lease, while the last quarter serves the requests that arrive
    /// during that check.
    fn renew_due(&self) -> bool {
        (self.size() - self.unused()) * 4 >= self.size() * 3
    }

    /// Stops handing out ids and gives back the entries never handed out.
    fn close(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        let from = self.next.swap(self.end, Ordering::AcqRel).min(self.end);
        let used = from - self.first;
        self.used.store(used, Ordering::Release);
        if from < self.end {
            // Nothing used: the entry and the budget reservation go
            // whole; else the entry counts the requests it served, and
            // its tokens and the reservation wait for the settlement.
            let none_used = used == 0;
            if let Store::Redis(r) = &*self.store {
                r.lease_end(
                    &self.scopes,
                    (self.first, self.size(), used),
                    self.size() * self.per,
                    None,
                    self.end - from,
                );
            }
            if let (Some(b), true) = (&self.budget, none_used) {
                let reserved = b.per.saturating_mul(self.size() as i64);
                b.budgets
                    .give_back_leased(&b.lines, self.first, self.first + 1, reserved);
            }
        }
        self.release(1);
    }

    /// A request admitted from the lease ended: its slot is freed with
    /// the others that end before the queue of settlements is sent (one
    /// part per lease, not one per request).
    pub(super) fn slot_freed(self: &Arc<Self>) {
        let Store::Redis(r) = &*self.store else {
            return;
        };
        self.freed.fetch_add(1, Ordering::AcqRel);
        if self.freeing.swap(true, Ordering::AcqRel) {
            return;
        }
        let lease = self.clone();
        r.lease_slots_freed(&self.scopes, self.first, move || {
            // Unmarked first: a slot freed from here on queues another
            // part (which finds nothing left if this one took it).
            lease.freeing.store(false, Ordering::Release);
            Some(lease.freed.swap(0, Ordering::AcqRel)).filter(|n| *n > 0)
        });
    }

    /// A request admitted from the lease ended having used `tokens`.
    pub(super) fn settled_tokens(&self, tokens: u64) {
        self.tokens.fetch_add(tokens, Ordering::Relaxed);
        self.release(1);
    }

    /// A request admitted from the lease ended having cost `nanos`.
    pub(crate) fn settled_cost(&self, nanos: i64) {
        self.cost.fetch_add(nanos, Ordering::Relaxed);
        self.release(1);
    }

    fn release(&self, holds: u64) {
        if self.pending.fetch_sub(holds, Ordering::AcqRel) == holds {
            self.finish();
        }
    }

    /// Closed and every request it admitted settled: its first token
    /// entry takes the tokens they used, its budget reservation becomes
    /// what they cost; one settlement each, whatever the number of
    /// requests.
    fn finish(&self) {
        if !self.closed.load(Ordering::Acquire)
            || self.finished.swap(true, Ordering::AcqRel)
            || self.used.load(Ordering::Acquire) == 0
        {
            return;
        }
        let size = self.size();
        if let Store::Redis(r) = &*self.store
            && self.scopes.iter().any(|s| s.caps.tpm > 0)
        {
            let used = self.used.load(Ordering::Acquire);
            r.lease_end(
                &self.scopes,
                (self.first, size, used),
                size * self.per,
                Some(self.tokens.load(Ordering::Relaxed)),
                0,
            );
        }
        if let Some(b) = &self.budget {
            let reserved = b.per.saturating_mul(size as i64);
            b.budgets
                .leased_hold(
                    b.lines.clone(),
                    self.first,
                    0,
                    reserved,
                    b.observe.clone(),
                    None,
                )
                .settle(self.cost.load(Ordering::Relaxed));
        }
    }

    /// The headers of the request given the `used`-th entry: the
    /// granted request's, less what the lease has handed out since.
    fn headers(&self, used: u64) -> RateHeaders {
        let less = |h: Option<Headroom>, by: u64| {
            h.map(|h| Headroom {
                remaining: h.remaining.saturating_sub(by),
                ..h
            })
        };
        RateHeaders {
            requests: less(self.headers.requests, used),
            tokens: less(self.headers.tokens, used.saturating_mul(self.per)),
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.close();
    }
}

/// One key's lease and when Redis last checked one of its requests.
#[derive(Debug)]
struct Held {
    names: Box<[Arc<str>]>,
    lines: Option<Lines>,
    lease: Option<Arc<Lease>>,
    /// The lease asked for ahead, granted while `lease` still served: it
    /// takes over when `lease` is spent or ended.
    next: Option<Arc<Lease>>,
    /// How many entries its next lease asks for.
    want: u64,
    /// When a request of this key asked Redis for a lease, until the
    /// answer (an ask older than a lease's life is taken as lost: its
    /// request went away).
    asking: Option<Instant>,
    last_check: Instant,
}

/// The leases of one limiter, by key.
#[derive(Debug, Default)]
pub(super) struct Leases {
    held: Mutex<HashMap<u64, Held>>,
    /// Hashes a key's scope names (seeded once).
    hasher: hashbrown::DefaultHashBuilder,
    /// Leases granted.
    granted: AtomicU64,
    /// Requests admitted from a lease, without a call.
    served: AtomicU64,
}

/// What [`Leases::take`] found.
pub(crate) enum Took {
    /// The request is admitted on this id, with these headers.
    Admitted(Leased),
    /// Check it in Redis, asking for a lease of this many entries (0:
    /// none).
    Ask(u64),
}

/// A request admitted from a lease.
pub(crate) struct Leased {
    /// Its id, on the limits and (with a budget share) the budgets.
    pub(crate) id: u64,
    /// The tokens of its entry.
    pub(crate) per: u64,
    pub(crate) headers: RateHeaders,
    /// The lease, which its permit and budget hold settle into.
    pub(crate) lease: Arc<Lease>,
}

fn same(h: &Held, scopes: &[Scope], lines: Option<&Lines>) -> bool {
    h.names.len() == scopes.len()
        && h.names.iter().zip(scopes).all(|(n, s)| *n == s.key)
        && match (&h.lines, lines) {
            (None, None) => true,
            (Some(a), Some(b)) => {
                Arc::ptr_eq(a, b) || a.iter().map(|l| l.key()).eq(b.iter().map(|l| l.key()))
            }
            _ => false,
        }
}

impl Leases {
    fn key_of(&self, scopes: &[Scope], lines: Option<&Lines>) -> u64 {
        use std::hash::{BuildHasher, Hash, Hasher};
        let mut h = self.hasher.build_hasher();
        for s in scopes {
            s.key.hash(&mut h);
        }
        for l in lines.iter().flat_map(|l| l.iter()) {
            l.key().hash(&mut h);
        }
        h.finish()
    }

    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Held>> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Admits a request on `scopes` of `estimate` tokens (and, with
    /// `budget`, its budget lines) from the lease in hand, or says whether
    /// its check should ask for one.
    pub(super) fn take(
        &self,
        scopes: &[Scope],
        estimate: u64,
        budget: Option<&BudgetAsk<'_>>,
    ) -> Took {
        let lines = budget.map(|b| b.lines);
        let key = self.key_of(scopes, lines);
        let now = Instant::now();
        let mut held = self.held();
        let Some(h) = held.get_mut(&key) else {
            if held.len() >= MAX_KEYS {
                let idle = Duration::from_millis(10 * LEASE_MS);
                held.retain(|_, h| now.duration_since(h.last_check) < idle);
            }
            held.insert(
                key,
                Held {
                    names: scopes.iter().map(|s| s.key.clone()).collect(),
                    lines: lines.cloned(),
                    want: FIRST_WANT,
                    lease: None,
                    next: None,
                    asking: None,
                    last_check: now,
                },
            );
            return Took::Ask(0);
        };
        if !same(h, scopes, lines) {
            // Another key with the same hash: no lease for this one.
            return Took::Ask(0);
        }
        let life = Duration::from_millis(LEASE_MS);
        let free_to_ask = h.asking.is_none_or(|at| now.duration_since(at) >= life);
        let mut grow = None;
        // A lease that cannot serve again gives way to the next one, if
        // granted. Spent before its end: the key wants larger leases;
        // ended half unused: smaller. Either way it is closed now (if its
        // timer has not yet), so that what it did not hand out goes back
        // ahead of this request's check.
        if let Some(lease) = &h.lease
            && !lease.open(now)
        {
            if now < lease.until {
                grow = Some(true);
            } else if lease.unused() > lease.size() / 2 {
                grow = Some(false);
            }
            lease.close();
            h.lease = h.next.take();
        }
        let mut renew = false;
        if let Some(lease) = &h.lease {
            // Renewed ahead: past three quarters, one request asks Redis
            // for the next lease and the others are served from the last
            // quarter meanwhile (not checked one by one, as they would be
            // if the lease were spent first).
            renew = free_to_ask && h.next.is_none() && lease.renew_due();
            if renew {
                // Three quarters gone in less than half its life.
                if now + life / 2 < lease.until {
                    grow = Some(true);
                }
            } else {
                // The next lease serves what this one cannot (a request
                // estimated above its entries).
                for lease in [Some(lease), h.next.as_ref()].into_iter().flatten() {
                    if let Some((id, used)) = lease.take(estimate, budget) {
                        self.served.fetch_add(1, Ordering::Relaxed);
                        return Took::Admitted(Leased {
                            id,
                            per: lease.per,
                            headers: lease.headers(used),
                            lease: lease.clone(),
                        });
                    }
                }
            }
        }
        let busy = renew || now.duration_since(h.last_check) < life;
        h.last_check = now;
        if busy && free_to_ask {
            h.asking = Some(now);
            h.want = match grow {
                Some(true) => (h.want * 2).min(MAX_WANT),
                Some(false) => (h.want / 2).max(FIRST_WANT),
                None => h.want,
            };
            Took::Ask(h.want)
        } else {
            Took::Ask(0)
        }
    }

    /// The end of the check `ask` of a request on `scopes` that asked for
    /// a lease: `granted` entries from the id after the request's on, and
    /// the granted request's `headers`.
    pub(super) fn answered(
        &self,
        store: &Arc<Store>,
        scopes: &[Scope],
        ask: &LeaseAsk,
        granted: u64,
        headers: RateHeaders,
        budget: Option<BudgetShare>,
    ) {
        let lines = budget.as_ref().map(|b| b.lines.clone());
        let first = ask.id + 1;
        let lease = (granted > 0).then(|| {
            self.granted.fetch_add(1, Ordering::Relaxed);
            Arc::new(Lease {
                first,
                end: first + granted,
                next: AtomicU64::new(first),
                per: ask.per,
                until: ask.sent + Duration::from_millis(LEASE_MS - MARGIN_MS),
                scopes: scopes.to_vec(),
                headers,
                store: store.clone(),
                budget,
                closed: AtomicBool::new(false),
                finished: AtomicBool::new(false),
                used: AtomicU64::new(0),
                pending: AtomicU64::new(1),
                tokens: AtomicU64::new(0),
                cost: AtomicI64::new(0),
                freed: AtomicU64::new(0),
                freeing: AtomicBool::new(false),
            })
        });
        if let Some(lease) = &lease {
            let weak = Arc::downgrade(lease);
            let until = lease.until;
            tokio::spawn(close_at(weak, until));
        }
        // The lease this one replaces is closed outside the lock (its
        // requests in flight may keep it alive, not its entries). One
        // granted while the key's lease still serves (asked ahead) waits
        // as the next.
        let old = {
            let mut held = self.held();
            match held.get_mut(&self.key_of(scopes, lines.as_ref())) {
                Some(h) if same(h, scopes, lines.as_ref()) => {
                    h.asking = None;
                    match lease {
                        Some(l) => match &h.lease {
                            Some(current) if current.open(Instant::now()) => h.next.replace(l),
                            _ => h.lease.replace(l),
                        },
                        None => None,
                    }
                }
                _ => lease,
            }
        };
        if let Some(old) = old {
            old.close();
        }
    }

    /// Leases granted and requests served from them.
    pub(super) fn counts(&self) -> (u64, u64) {
        (
            self.granted.load(Ordering::Relaxed),
            self.served.load(Ordering::Relaxed),
        )
    }
}

impl Drop for Leases {
    fn drop(&mut self) {
        // The limits changed (or the limiter went): what the leases did
        // not hand out goes back now, whoever still holds them.
        let held = std::mem::take(self.held.get_mut().unwrap_or_else(PoisonError::into_inner));
        for lease in held.into_values().flat_map(|h| [h.lease, h.next]).flatten() {
            lease.close();
        }
    }
}

/// Closes the lease at its end, if it is still held.
async fn close_at(lease: Weak<Lease>, until: Instant) {
    tokio::time::sleep_until(until).await;
    if let Some(lease) = lease.upgrade() {
        lease.close();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::config::RateLimitsConfig;
    use crate::ratelimit::{RateLimiter, RateRefusal, Store};
    use crate::redis_link::{Cmd, RedisLink, Reply};

    fn limiter(url: &str, prefix: &str, caps: &str) -> RateLimiter {
        let config: RateLimitsConfig = toml::from_str(&format!(
            "backend = \"redis\"\nredis_url = \"{url}\"\nredis_prefix = \"{prefix}\"\n[users.alice]\n{caps}\n"
        ))
        .unwrap();
        RateLimiter::build(&config, None).unwrap()
    }

    async fn int(link: &RedisLink, cmd: &str, key: &str) -> i64 {
        let mut c = Cmd::new(cmd);
        c.arg(key.as_bytes());
        match link.query(c, Duration::from_secs(1)).await.unwrap() {
            Reply::Int(n) => n,
            Reply::Data(b) => std::str::from_utf8(&b).unwrap().parse().unwrap(),
            Reply::Nil => 0,
            other => panic!("{other:?}"),
        }
    }

    /// The requests alice's limit counts on `set` (`t` with a token
    /// limit, else `r`): its entries, plus the requests its leases'
    /// entries count beyond one (`:x`, `:y`).
    async fn requests(link: &RedisLink, prefix: &str, set: &str) -> i64 {
        let extra = if set == "t" { "x" } else { "y" };
        int(link, "ZCARD", &format!("{prefix}user:alice:{set}")).await
            + int(link, "GET", &format!("{prefix}user:alice:{extra}")).await
    }

    /// The slots taken on alice's limit: the plain entries of `:c`, and
    /// what each lease's slot entry holds (`:z`).
    async fn slots(link: &RedisLink, prefix: &str) -> i64 {
        let mut c = Cmd::new("HVALS");
        c.arg(format!("{prefix}user:alice:z").as_bytes());
        let held = match link.query(c, Duration::from_secs(1)).await.unwrap() {
            Reply::Array(v) => v.iter().map(|n| n.as_int().unwrap() - 1).sum::<i64>(),
            other => panic!("{other:?}"),
        };
        int(link, "ZCARD", &format!("{prefix}user:alice:c")).await + held
    }

    /// Waits (up to 3 s) until `read` answers `want`.
    async fn until<F: std::future::Future<Output = i64>>(
        what: &str,
        want: i64,
        read: impl Fn() -> F,
    ) {
        let deadline = std::time::Instant::now() + Duration::from_secs(3);
        loop {
            let got = read().await;
            if got == want {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{what}: {got}, not {want}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test]
    async fn a_busy_key_far_from_its_limits_is_served_from_a_lease_that_gives_back_what_it_did_not_use()
     {
        let Some(url) = crate::redis_link::tests::redis().await else {
            return;
        };
        let prefix = format!("gproxy-test-lease-{}:", crate::ratelimit::rand_seed());
        let l = limiter(
            &url,
            &prefix,
            "rpm = 100000\ntpm = 100000000\nconcurrent = 10000",
        );
        let scopes = || l.scopes("alice", "sk-a", "p", "m");
        let link = RedisLink::new(&url).unwrap();
        let (t, u, c) = (
            format!("{prefix}user:alice:t"),
            format!("{prefix}user:alice:u"),
            format!("{prefix}user:alice:c"),
        );
        // The first request of a key asks for nothing; the second, within
        // a lease's life, is granted one: counted in Redis in full at
        // once (the two requests, 64 entries of twice the estimate), the
        // lease as one entry.
        let first = l.admit(scopes(), 10).await.unwrap();
        assert_eq!(l.leases.counts(), (0, 0));
        let second = l.admit(scopes(), 10).await.unwrap();
        assert_eq!(l.leases.counts(), (1, 0));
        assert_eq!(requests(&link, &prefix, "t").await, 2 + 64);
        assert_eq!(int(&link, "ZCARD", &t).await, 2 + 1);
        assert_eq!(int(&link, "GET", &u).await, 20 + 64 * 20);
        assert_eq!(slots(&link, &prefix).await, 2 + 64);
        assert_eq!(int(&link, "ZCARD", &c).await, 2 + 1);
        let calls = l.redis_admissions().unwrap().calls;
        // The next requests come from the lease, with no call, their
        // headers counting down from the granted request's.
        let mut leased = Vec::new();
        for _ in 0..10 {
            leased.push(l.admit(scopes(), 10).await.unwrap());
        }
        assert_eq!(l.redis_admissions().unwrap().calls, calls);
        assert_eq!(l.leases.counts(), (1, 10));
        assert_eq!(
            second.headers.requests.map(|h| h.remaining),
            Some(100_000 - 2)
        );
        assert_eq!(
            leased[9].headers.requests.map(|h| h.remaining),
            Some(100_000 - 2 - 10)
        );
        // A request larger than a leased entry goes to Redis, and gets the
        // next lease (of entries its size), which waits while this one
        // still serves.
        let large = l.admit(scopes(), 21).await.unwrap();
        assert_eq!(l.redis_admissions().unwrap().calls, calls + 1);
        assert_eq!(l.leases.counts(), (2, 10));
        // A leased request's slot is freed when it ends; its tokens go to
        // the lease.
        leased.pop().unwrap().settle(Some(5));
        // The first lease's 54 unused entries leave at its end, the
        // second's 64 (and their tokens) at its own: what stays is the
        // 13 requests admitted. The first lease's tokens stay on its first
        // entry while its requests are in flight.
        until("requests", 13, || requests(&link, &prefix, "t")).await;
        until("slots", 12, || slots(&link, &prefix)).await;
        until("tokens", 10 + 10 + 21 + 64 * 20, || int(&link, "GET", &u)).await;
        assert_eq!(int(&link, "ZCARD", &t).await, 3 + 1);
        for p in leased {
            p.settle(None);
        }
        first.settle(None);
        second.settle(None);
        large.settle(None);
        until("slots", 0, || slots(&link, &prefix)).await;
        assert_eq!(int(&link, "ZCARD", &c).await, 0);
        assert_eq!(
            int(&link, "EXISTS", &format!("{prefix}user:alice:z")).await,
            0
        );
        // Once all of them have ended, one settlement gives the lease what
        // they used: a leased request that ends without a count keeps its
        // own estimate, not its entry's.
        until("tokens", 10 + 10 + 21 + 9 * 10 + 5, || {
            int(&link, "GET", &u)
        })
        .await;
        assert_eq!(requests(&link, &prefix, "t").await, 13);
        assert_eq!(int(&link, "ZCARD", &t).await, 3 + 1);
    }

    #[tokio::test]
    async fn a_lease_spent_before_its_end_is_followed_by_a_larger_one() {
        let Some(url) = crate::redis_link::tests::redis().await else {
            return;
        };
        let prefix = format!("gproxy-test-lease-grow-{}:", crate::ratelimit::rand_seed());
        let l = limiter(&url, &prefix, "rpm = 1000000");
        let scopes = || l.scopes("alice", "sk-a", "p", "m");
        let link = RedisLink::new(&url).unwrap();
        // Two checks (the second leases 64), the 64 served, one more
        // check: it asks for twice as many.
        for _ in 0..2 + 64 + 1 {
            l.admit(scopes(), 10).await.unwrap().settle(None);
        }
        assert_eq!(l.leases.counts(), (2, 64));
        assert_eq!(requests(&link, &prefix, "r").await, 2 + 64 + 1 + 128);
        let r = format!("{prefix}user:alice:r");
        assert_eq!(int(&link, "ZCARD", &r).await, 3 + 2);
    }

    #[tokio::test]
    async fn a_busy_key_is_granted_its_next_lease_before_the_current_one_is_spent() {
        let Some(url) = crate::redis_link::tests::redis().await else {
            return;
        };
        let prefix = format!("gproxy-test-lease-ahead-{}:", crate::ratelimit::rand_seed());
        let l = limiter(&url, &prefix, "rpm = 1000000");
        let scopes = || l.scopes("alice", "sk-a", "p", "m");
        let link = RedisLink::new(&url).unwrap();
        let calls = || l.redis_admissions().unwrap().calls;
        // Two checks (the second leases 64), then 48 served from it.
        for _ in 0..2 + 48 {
            l.admit(scopes(), 10).await.unwrap().settle(None);
        }
        assert_eq!(l.leases.counts(), (1, 48));
        assert_eq!(calls(), 2);
        // Three quarters handed out: the next request is checked, and
        // granted the next lease (128: the first went in well under half
        // its life) while 16 entries of the first remain.
        l.admit(scopes(), 10).await.unwrap().settle(None);
        assert_eq!(l.leases.counts(), (2, 48));
        assert_eq!(calls(), 3);
        // Those 16 are served first, then the next lease: no check.
        for _ in 0..16 + 10 {
            l.admit(scopes(), 10).await.unwrap().settle(None);
        }
        assert_eq!(l.leases.counts(), (2, 48 + 16 + 10));
        assert_eq!(calls(), 3);
        let r = format!("{prefix}user:alice:r");
        assert_eq!(requests(&link, &prefix, "r").await, 3 + 64 + 128);
        assert_eq!(int(&link, "ZCARD", &r).await, 3 + 2);
        // The first lease was spent whole; the second gives back the 118
        // entries it did not hand out when the limiter goes.
        drop(l);
        until("requests", 3 + 64 + 10, || requests(&link, &prefix, "r")).await;
    }

    #[tokio::test]
    async fn a_lease_is_given_back_when_the_limits_change_and_lapses_when_its_instance_is_gone() {
        let Some(url) = crate::redis_link::tests::redis().await else {
            return;
        };
        let prefix = format!("gproxy-test-lease-end-{}:", crate::ratelimit::rand_seed());
        let link = RedisLink::new(&url).unwrap();
        let caps = "rpm = 100000";
        let config = |caps: &str| -> RateLimitsConfig {
            toml::from_str(&format!(
                "backend = \"redis\"\nredis_url = \"{url}\"\nredis_prefix = \"{prefix}\"\nwindow_secs = 1\n[users.alice]\n{caps}\n"
            ))
            .unwrap()
        };
        let old = RateLimiter::build(&config(caps), None).unwrap();
        for _ in 0..2 {
            old.admit(old.scopes("alice", "k", "p", "m"), 10)
                .await
                .unwrap()
                .settle(None);
        }
        assert_eq!(requests(&link, &prefix, "r").await, 2 + 64);
        // New limits: the limiter is rebuilt (its counters kept) and the
        // old one's lease is given back at once, not at its end.
        let new = RateLimiter::build(&config("rpm = 200000"), Some(&old)).unwrap();
        drop(old);
        until("requests", 2, || requests(&link, &prefix, "r")).await;
        // An instance gone with a lease in hand (nothing gives it back):
        // its entry leaves with the window, a second after the lease's
        // end, and the requests it counted with it.
        let Store::Redis(counters) = &*new.store else {
            panic!("not Redis");
        };
        let scopes = new.scopes("alice", "k", "p", "m");
        counters
            .admission(&scopes, &new.rules, 1 << 40, 10, (64, 20))
            .await
            .unwrap();
        // (The two requests before may have left the 1 s window by now.)
        assert!(requests(&link, &prefix, "r").await > 64);
        tokio::time::sleep(Duration::from_millis(2_100)).await;
        let last = RateLimiter::build(&config(caps), None).unwrap();
        last.admit(last.scopes("alice", "k", "p", "m"), 10)
            .await
            .unwrap()
            .settle(None);
        assert_eq!(requests(&link, &prefix, "r").await, 1);
    }

    #[tokio::test]
    async fn a_lapsed_lease_leaves_the_window_with_the_requests_and_tokens_it_counted() {
        let Some(url) = crate::redis_link::tests::redis().await else {
            return;
        };
        let prefix = format!("gproxy-test-lease-lapse-{}:", crate::ratelimit::rand_seed());
        let config: RateLimitsConfig = toml::from_str(&format!(
            "backend = \"redis\"\nredis_url = \"{url}\"\nredis_prefix = \"{prefix}\"\nwindow_secs = 1\n[users.alice]\nrpm = 100000\ntpm = 100000000\n"
        ))
        .unwrap();
        let l = RateLimiter::build(&config, None).unwrap();
        let Store::Redis(counters) = &*l.store else {
            panic!("not Redis");
        };
        let link = RedisLink::new(&url).unwrap();
        let scopes = l.scopes("alice", "k", "p", "m");
        // A lease of 64 entries of 20 tokens that nothing gives back (its
        // instance went away), beside one plain request.
        counters
            .admission(&scopes, &l.rules, 1 << 40, 10, (64, 20))
            .await
            .unwrap();
        assert_eq!(requests(&link, &prefix, "t").await, 1 + 64);
        let u = format!("{prefix}user:alice:u");
        assert_eq!(int(&link, "GET", &u).await, 10 + 64 * 20);
        // A second after the lease's end both have left: the next check
        // finds nothing before it, neither requests nor tokens.
        tokio::time::sleep(Duration::from_millis(2_100)).await;
        let p = l.admit(l.scopes("alice", "k", "p", "m"), 7).await.unwrap();
        assert_eq!(p.headers.requests.map(|h| h.remaining), Some(100_000 - 1));
        assert_eq!(p.headers.tokens.map(|h| h.remaining), Some(100_000_000 - 7));
        assert_eq!(requests(&link, &prefix, "t").await, 1);
        assert_eq!(int(&link, "GET", &u).await, 7);
        p.settle(None);
    }

    #[tokio::test]
    async fn near_a_limit_no_lease_is_granted() {
        let Some(url) = crate::redis_link::tests::redis().await else {
            return;
        };
        let prefix = format!("gproxy-test-nolease-{}:", crate::ratelimit::rand_seed());
        // 100 requests: after two, 97 left, less than room for sixteen
        // leases of the smallest size (8).
        let l = limiter(&url, &prefix, "rpm = 100");
        let scopes = || l.scopes("alice", "sk-a", "p", "m");
        for _ in 0..3 {
            l.admit(scopes(), 10).await.unwrap().settle(None);
        }
        assert_eq!(l.leases.counts(), (0, 0));
        let link = RedisLink::new(&url).unwrap();
        assert_eq!(requests(&link, &prefix, "r").await, 3);
    }

    #[tokio::test]
    async fn two_limiters_with_leases_admit_exactly_the_limit() {
        let Some(url) = crate::redis_link::tests::redis().await else {
            return;
        };
        let prefix = format!("gproxy-test-lease2-{}:", crate::ratelimit::rand_seed());
        let caps = "rpm = 600\nconcurrent = 1000";
        let both =
            std::sync::Arc::new([limiter(&url, &prefix, caps), limiter(&url, &prefix, caps)]);
        // Eight tasks per limiter, 100 requests each: 1,600 asked for,
        // never more than 600 admitted.
        let mut tasks = Vec::new();
        for i in 0..16 {
            let both = both.clone();
            tasks.push(tokio::spawn(async move {
                let l = &both[i % 2];
                let mut ok = 0;
                for _ in 0..100 {
                    match l.admit(l.scopes("alice", "k", "p", "m"), 10).await {
                        Ok(p) => {
                            ok += 1;
                            p.settle(None);
                        }
                        Err(RateRefusal::Exceeded {
                            what: "requests", ..
                        }) => {}
                        Err(e) => panic!("{e:?}"),
                    }
                }
                ok
            }));
        }
        let mut admitted = 0;
        for t in tasks {
            admitted += t.await.unwrap();
        }
        assert!(admitted <= 600, "{admitted} admitted");
        let leases = both[0].leases.counts().0 + both[1].leases.counts().0;
        assert!(leases > 0, "no lease granted");
        // Once the leases have ended and given back what they did not use,
        // the limit fills to exactly 600 (asked until refused for longer
        // than a lease lives).
        tokio::time::sleep(Duration::from_millis(1_200)).await;
        let mut refused_since = None;
        let mut i = 0;
        while refused_since
            .is_none_or(|t: std::time::Instant| t.elapsed() < Duration::from_millis(1_500))
        {
            let l = &both[i % 2];
            i += 1;
            match l.admit(l.scopes("alice", "k", "p", "m"), 10).await {
                Ok(p) => {
                    admitted += 1;
                    refused_since = None;
                    p.settle(None);
                }
                Err(_) => {
                    refused_since.get_or_insert_with(std::time::Instant::now);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
        assert_eq!(admitted, 600);
    }
}
