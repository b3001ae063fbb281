//! Rate limits: requests and tokens per sliding window and concurrent
//! requests, per key, user, model, provider and globally (`[rate_limits]`).
//!
//! A request is checked against every scope that applies, all or nothing,
//! before any upstream call: in memory under each scope's own lock (taken
//! in name order), or in Redis by one Lua script, so several instances
//! sharing Redis hold a limit exactly. Tokens are reserved from an
//! estimate (the body's bytes / 4) and the reservation is replaced by the
//! real input + output tokens when the request ends. A concurrency slot is
//! given back when the response ends (a stream: its last byte, or the
//! client going away); in Redis a slot also expires after `slot_ttl_secs`,
//! so an instance that dies leaks nothing for long.
//!
//! With no limit configured the engine holds no limiter and the hot path
//! costs one pointer load and branch.

pub(crate) mod lease;
pub(crate) mod redis;
pub(crate) mod window;

use hashbrown::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use crate::config::{
    DEFAULT_RATE_LIMIT_PREFIX, RateLimit, RateLimitBackend, RateLimitsConfig, RedisFailure,
};
use window::{Caps, Exceeded, Seen, Window};

/// One scope a request is checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scope {
    /// `global`, `provider:<name>`, `model:<name>`, `user:<name>`,
    /// `key:<prefix>` (built once, when the rules are).
    pub key: Arc<str>,
    pub caps: Caps,
    /// The scope's seven Redis keys (`{prefix}{key}:r`, `:t`, `:c`, `:u`,
    /// `:x`, `:y`, `:z`) encoded as command arguments, built with the
    /// rules.
    redis_keys: Arc<[u8]>,
}

impl Scope {
    fn new(key: String, caps: Caps, prefix: &str) -> Self {
        let mut keys = crate::redis_link::Cmd::args();
        for kind in [":r", ":t", ":c", ":u", ":x", ":y", ":z"] {
            keys.parts(&[prefix.as_bytes(), key.as_bytes(), kind.as_bytes()]);
        }
        Scope {
            key: Arc::from(key),
            caps,
            redis_keys: Arc::from(keys.encoded_args()),
        }
    }

    /// The encoded `:r`, `:t`, `:c`, `:u`, `:x`, `:y` and `:z` keys.
    pub(crate) fn redis_keys(&self) -> &[u8] {
        &self.redis_keys
    }

    /// The encoded `:t`, `:c` and `:u` keys.
    pub(crate) fn redis_settle_keys(&self) -> &[u8] {
        // The seven suffixes have one length, so the encoded keys too.
        let one = self.redis_keys.len() / 7;
        &self.redis_keys[one..4 * one]
    }
}

impl From<RateLimit> for Caps {
    fn from(l: RateLimit) -> Self {
        Caps {
            rpm: l.rpm.unwrap_or(0),
            tpm: l.tpm.unwrap_or(0),
            concurrent: l.concurrent.unwrap_or(0),
        }
    }
}

/// The tightest limit of one kind that applied, after this request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Headroom {
    /// The limit.
    pub limit: u64,
    /// What is left of it.
    pub remaining: u64,
    /// Milliseconds until it is whole again (the oldest entry leaves).
    pub reset_ms: u64,
}

/// The `x-ratelimit-*` values of a request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateHeaders {
    /// Requests.
    pub requests: Option<Headroom>,
    /// Tokens.
    pub tokens: Option<Headroom>,
}

impl RateHeaders {
    fn of(scopes: &[Scope], seen: &[Seen], estimate: u64, counted: bool) -> Self {
        let mut out = RateHeaders::default();
        let add = u64::from(counted);
        for (scope, s) in scopes.iter().zip(seen) {
            if scope.caps.rpm > 0 {
                let h = Headroom {
                    limit: scope.caps.rpm,
                    remaining: scope.caps.rpm.saturating_sub(s.requests + add),
                    reset_ms: if s.requests == 0 {
                        0
                    } else {
                        s.requests_reset_ms
                    },
                };
                if out.requests.is_none_or(|o| h.remaining < o.remaining) {
                    out.requests = Some(h);
                }
            }
            if scope.caps.tpm > 0 {
                let used = s.tokens + if counted { estimate } else { 0 };
                let h = Headroom {
                    limit: scope.caps.tpm,
                    remaining: scope.caps.tpm.saturating_sub(used),
                    reset_ms: s.tokens_reset_ms,
                };
                if out.tokens.is_none_or(|o| h.remaining < o.remaining) {
                    out.tokens = Some(h);
                }
            }
        }
        out
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RateRefusal {
    /// A limit is full.
    Exceeded {
        /// The scope (`key:sk-ab12`, `model:gpt-4o`...).
        scope: String,
        /// `requests`, `tokens` or `concurrent requests`.
        what: &'static str,
        /// The limit.
        limit: u64,
        /// Milliseconds before a retry can fit.
        retry_after_ms: u64,
        /// The headers to send.
        headers: RateHeaders,
    },
    /// Redis could not be reached and `on_redis_error = "closed"`.
    Unavailable(String),
}

/// The resolved `[rate_limits]`.
#[derive(Debug, Clone, PartialEq)]
struct Rules {
    window_ms: u64,
    slot_ttl_ms: u64,
    fail: RedisFailure,
    timeout: Duration,
    global: Option<Scope>,
    providers: HashMap<String, Scope>,
    models: HashMap<String, Scope>,
    users: HashMap<String, Scope>,
    keys: HashMap<String, Scope>,
}

fn caps_map(
    kind: &str,
    m: &std::collections::BTreeMap<String, RateLimit>,
    prefix: &str,
) -> HashMap<String, Scope> {
    m.iter()
        .filter(|(_, l)| !l.is_empty())
        .map(|(k, l)| {
            let scope = Scope::new(format!("{kind}:{k}"), Caps::from(*l), prefix);
            (k.clone(), scope)
        })
        .collect()
}

/// Where the counters live.
#[derive(Debug)]
enum Store {
    Memory(MemoryCounters),
    Redis(Box<redis::RedisCounters>),
}

/// The limiter in force.
#[derive(Debug)]
pub struct RateLimiter {
    rules: Rules,
    store: Arc<Store>,
    /// Which backend settings built `store` (to keep it across changes).
    backend: (RateLimitBackend, Option<String>, String),
    /// Request ids, below 2^53 so the check script can count on from
    /// one (Lua's numbers are doubles).
    ids: AtomicU64,
    /// With the Redis store, the leases in hand.
    leases: lease::Leases,
}

/// The counters of the memory backend.
#[derive(Debug, Default)]
struct MemoryCounters {
    scopes: RwLock<HashMap<String, Arc<Mutex<Window>>>>,
}

impl MemoryCounters {
    fn window(&self, key: &str) -> Arc<Mutex<Window>> {
        if let Some(w) = self
            .scopes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
        {
            return w.clone();
        }
        self.scopes
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key.to_owned())
            .or_default()
            .clone()
    }
}

impl RateLimiter {
    /// The limiter of `config`, or `None` when it sets no limit. `previous`
    /// hands over its counters when the backend settings are unchanged.
    pub fn build(config: &RateLimitsConfig, previous: Option<&RateLimiter>) -> Option<Self> {
        if !config.any_limit() {
            return None;
        }
        let backend_kind = config.backend.unwrap_or_default();
        let prefix = config
            .redis_prefix
            .clone()
            .unwrap_or_else(|| DEFAULT_RATE_LIMIT_PREFIX.to_owned());
        let backend = (backend_kind, config.redis_url.clone(), prefix.clone());
        let rules = Rules {
            window_ms: config.window_secs.unwrap_or(60) * 1_000,
            slot_ttl_ms: config.slot_ttl_secs.unwrap_or(900) * 1_000,
            fail: config.on_redis_error.unwrap_or_default(),
            timeout: Duration::from_millis(config.redis_timeout_ms.unwrap_or(250)),
            global: config
                .global
                .filter(|g| !g.is_empty())
                .map(|g| Scope::new("global".to_owned(), Caps::from(g), &prefix)),
            providers: caps_map("provider", &config.providers, &prefix),
            models: caps_map("model", &config.models, &prefix),
            users: caps_map("user", &config.users, &prefix),
            keys: caps_map("key", &config.keys, &prefix),
        };
        let store = match previous {
            Some(p) if p.backend == backend => p.store.clone(),
            _ => Arc::new(match backend_kind {
                RateLimitBackend::Memory => Store::Memory(MemoryCounters::default()),
                RateLimitBackend::Redis => {
                    match redis::RedisCounters::new(
                        config.redis_url.as_deref().unwrap_or(""),
                        &prefix,
                    ) {
                        Ok(r) => Store::Redis(Box::new(r)),
                        Err(e) => {
                            // validate() already checked the URL's form.
                            tracing::error!(error = %e, "rate_limits.redis_url unusable; limits kept in memory");
                            Store::Memory(MemoryCounters::default())
                        }
                    }
                }
            }),
        };
        Some(RateLimiter {
            rules,
            store,
            backend,
            ids: AtomicU64::new(rand_seed() >> 12),
            leases: lease::Leases::default(),
        })
    }

    /// The backend name (`memory`, `redis`).
    pub fn backend(&self) -> &'static str {
        match &*self.store {
            Store::Memory(_) => "memory",
            Store::Redis(_) => "redis",
        }
    }

    /// The scopes that apply to a request of `user`'s key `key_prefix` to
    /// `provider`'s `model`, name-ordered.
    pub(crate) fn scopes(
        &self,
        user: &str,
        key_prefix: &str,
        provider: &str,
        model: &str,
    ) -> Vec<Scope> {
        let r = &self.rules;
        let mut out = Vec::with_capacity(5);
        out.extend(r.global.iter().cloned());
        for (map, name) in [
            (&r.keys, key_prefix),
            (&r.models, model),
            (&r.providers, provider),
            (&r.users, user),
        ] {
            out.extend(map.get(name).cloned());
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        out
    }

    /// The scopes' limits and what is left, without counting anything.
    pub(crate) async fn peek(&self, scopes: &[Scope]) -> Option<RateHeaders> {
        let now = gproxy_credential::clock::now_ms();
        let seen = match &*self.store {
            Store::Memory(m) => scopes
                .iter()
                .map(|s| {
                    let w = m.window(&s.key);
                    let mut w = w.lock().unwrap_or_else(PoisonError::into_inner);
                    w.seen(now, self.rules.window_ms, 0, s.caps.tpm)
                })
                .collect(),
            Store::Redis(r) => r.check(scopes, &self.rules, 0, 0, false).await.ok()?.1,
        };
        Some(RateHeaders::of(scopes, &seen, 0, false))
    }

    /// Checks `scopes` for a request of `estimate` tokens and counts it
    /// when every one has room.
    pub(crate) async fn admit(
        &self,
        scopes: Vec<Scope>,
        estimate: u64,
    ) -> Result<Permit, RateRefusal> {
        let m = match &*self.store {
            Store::Memory(m) => m,
            Store::Redis(r) => return self.admit_on_redis(r, scopes, estimate).await,
        };
        let id = self.ids.fetch_add(1, Ordering::Relaxed);
        let now = gproxy_credential::clock::now_ms();
        let window_ms = self.rules.window_ms;
        let headers = {
            let windows: Vec<_> = scopes.iter().map(|s| m.window(&s.key)).collect();
            let mut guards: Vec<_> = windows
                .iter()
                .map(|w| w.lock().unwrap_or_else(PoisonError::into_inner))
                .collect();
            let seen: Vec<Seen> = guards
                .iter_mut()
                .zip(&scopes)
                .map(|(w, s)| w.seen(now, window_ms, estimate, s.caps.tpm))
                .collect();
            for (i, (s, scope)) in seen.iter().zip(&scopes).enumerate() {
                if let Some((what, wait)) = s.exceeds(scope.caps, estimate) {
                    return Err(refusal(&scopes, i, what, wait, &seen, estimate));
                }
            }
            for (w, scope) in guards.iter_mut().zip(&scopes) {
                w.count(now, id, estimate, scope.caps);
            }
            RateHeaders::of(&scopes, &seen, estimate, true)
        };
        Ok(self.permit(scopes, id, estimate, headers))
    }

    /// [`RateLimiter::admit`] with the Redis store: from the lease in
    /// hand, or by a check (which may grant the next lease).
    async fn admit_on_redis(
        &self,
        r: &redis::RedisCounters,
        scopes: Vec<Scope>,
        estimate: u64,
    ) -> Result<Permit, RateRefusal> {
        let want = match self.leases.take(&scopes, estimate, None) {
            lease::Took::Admitted(l) => return Ok(self.leased_permit(scopes, &l, estimate)),
            lease::Took::Ask(want) => want,
        };
        let ask = self.lease_ask(estimate, want);
        let reply = r
            .admission(&scopes, &self.rules, ask.id, estimate, (want, ask.per))
            .await;
        let checked = reply.and_then(|r| redis::RedisCounters::check_reply(r, scopes.len()));
        if want > 0 {
            let timed_out = matches!(&checked, Err(e) if e == crate::redis_link::TIMED_OUT);
            let admitted = match &checked {
                Ok((None, seen, granted)) => {
                    Some((RateHeaders::of(&scopes, seen, estimate, true), *granted))
                }
                _ => None,
            };
            self.lease_answered(&ask, &scopes, admitted, timed_out, None);
        }
        self.checked(scopes, ask.id, estimate, checked)
    }

    /// A check of a request of `estimate` tokens asking for a lease of
    /// `want` entries: its id, with the leased ids after it.
    fn lease_ask(&self, estimate: u64, want: u64) -> LeaseAsk {
        LeaseAsk {
            id: self.ids.fetch_add(1 + want, Ordering::Relaxed),
            want,
            per: lease_per(estimate),
            sent: tokio::time::Instant::now(),
        }
    }

    /// The end of the check `ask` of a request on `scopes` (and with
    /// `budget`, its budget lines): `admitted` is the admitted request's
    /// headers and how many entries Redis leased with it (`None`: refused
    /// or no answer); `timed_out`, that the script may have run unseen.
    pub(crate) fn lease_answered(
        &self,
        ask: &LeaseAsk,
        scopes: &[Scope],
        admitted: Option<(RateHeaders, u64)>,
        timed_out: bool,
        budget: Option<lease::BudgetShare>,
    ) {
        let LeaseAsk { id, want, per, .. } = *ask;
        if want == 0 {
            return;
        }
        if timed_out {
            // The script may have run and leased them: a lease is one
            // entry, its budget one reservation (given back as asked: had
            // Redis granted fewer, those stay counted until they leave the
            // window or lapse, over the truth, never under).
            if let Store::Redis(r) = &*self.store {
                r.lease_end(scopes, (id + 1, want, 0), per * want, None, want);
            }
            if let Some(b) = &budget {
                let reserved = b.per.saturating_mul(want as i64);
                b.budgets
                    .give_back_leased(&b.lines, id + 1, id + 2, reserved);
            }
        }
        let (headers, granted) = admitted.unwrap_or_default();
        self.leases
            .answered(&self.store, scopes, ask, granted.min(want), headers, budget);
    }

    fn permit(&self, scopes: Vec<Scope>, id: u64, estimate: u64, headers: RateHeaders) -> Permit {
        Permit {
            store: Some(self.store.clone()),
            scopes,
            id,
            estimate,
            own: estimate,
            lease: None,
            headers,
        }
    }

    /// With the Redis store, its link.
    pub(crate) fn redis_link(&self) -> Option<&Arc<crate::redis_link::RedisLink>> {
        match &*self.store {
            Store::Redis(r) => Some(r.link()),
            Store::Memory(_) => None,
        }
    }

    /// With the Redis store, what its admission calls sent: the limit
    /// checks alone and the joint checks with the budgets.
    pub(crate) fn redis_admissions(&self) -> Option<crate::health::RedisAdmissionsReport> {
        match &*self.store {
            Store::Redis(r) => {
                let (leases, leased) = self.leases.counts();
                let leases = crate::health::RedisAdmissionsReport {
                    calls: 0,
                    requests: 0,
                    leases,
                    leased,
                };
                Some(r.checks_report() + r.joint_report() + leases)
            }
            Store::Memory(_) => None,
        }
    }

    /// With the Redis store: the lease in hand for a request on `scopes`
    /// of `estimate` tokens and the budget side `budget`, or how many
    /// entries its joint check should ask for (see [`lease`]).
    pub(crate) fn joint_lease(
        &self,
        scopes: &[Scope],
        estimate: u64,
        budget: &lease::BudgetAsk<'_>,
    ) -> lease::Took {
        self.leases.take(scopes, estimate, Some(budget))
    }

    /// The permit of a request of `estimate` tokens admitted from a lease.
    pub(crate) fn leased_permit(
        &self,
        scopes: Vec<Scope>,
        leased: &lease::Leased,
        estimate: u64,
    ) -> Permit {
        let mut permit = self.permit(scopes, leased.id, leased.per, leased.headers);
        permit.own = estimate;
        permit.lease = Some(leased.lease.clone());
        permit
    }

    /// With the Redis store: the request's id, its part of the joint
    /// admission call (see `crate::admission`) that checks and counts it
    /// on `scopes` together with the budget check `budget` (which takes
    /// the same id), asking for a lease of `want` entries, and the group
    /// that sends it; its reply's first half goes to
    /// [`RateLimiter::redis_admitted`].
    pub(crate) fn redis_joint_admission(
        &self,
        scopes: &[Scope],
        estimate: u64,
        want: u64,
        budget: &mut crate::budget::redis::CheckParts<'_>,
    ) -> Option<(LeaseAsk, crate::redis_link::Part, &crate::redis_link::Group)> {
        let Store::Redis(r) = &*self.store else {
            return None;
        };
        let ask = self.lease_ask(estimate, want);
        budget.lease(ask.id, want);
        let (part, group) = r.joint_part(
            scopes,
            &self.rules,
            ask.id,
            estimate,
            (want, ask.per),
            budget,
        );
        Some((ask, part, group))
    }

    /// The admission of request `id` from Redis's `reply` to its command.
    pub(crate) fn redis_admitted(
        &self,
        scopes: Vec<Scope>,
        id: u64,
        estimate: u64,
        reply: Result<crate::redis_link::Reply, String>,
    ) -> Result<Permit, RateRefusal> {
        let checked = reply.and_then(|r| redis::RedisCounters::check_reply(r, scopes.len()));
        self.checked(scopes, id, estimate, checked)
    }

    /// The admission of request `id` from what its check said.
    fn checked(
        &self,
        scopes: Vec<Scope>,
        id: u64,
        estimate: u64,
        checked: Result<redis::Checked, String>,
    ) -> Result<Permit, RateRefusal> {
        match checked {
            Ok((None, seen, _)) => {
                let headers = RateHeaders::of(&scopes, &seen, estimate, true);
                Ok(self.permit(scopes, id, estimate, headers))
            }
            Ok((Some((i, what, wait)), seen, _)) => {
                Err(refusal(&scopes, i, what, wait, &seen, estimate))
            }
            Err(e) => {
                if e == crate::redis_link::TIMED_OUT
                    && let Store::Redis(r) = &*self.store
                {
                    // The script may have run after all: give back the
                    // slot and the tokens it may have taken.
                    r.settle(&scopes, id, estimate, Some(0));
                }
                self.unchecked(e)
            }
        }
    }

    /// What a request gets when Redis could not answer.
    fn unchecked(&self, e: String) -> Result<Permit, RateRefusal> {
        match self.rules.fail {
            RedisFailure::Open => {
                tracing::warn!(error = %e, "rate limits not checked: Redis unreachable (on_redis_error = open)");
                Ok(Permit::unchecked())
            }
            RedisFailure::Closed => {
                tracing::warn!(error = %e, "request refused: Redis unreachable (on_redis_error = closed)");
                Err(RateRefusal::Unavailable(e))
            }
        }
    }

    /// How long a check may wait on the store.
    pub(crate) fn timeout(&self) -> Duration {
        self.rules.timeout
    }
}

/// The refusal by `scopes[i]` (`what` is over, room again after `wait`
/// ms), with the headers of where `seen` says the scopes stand.
fn refusal(
    scopes: &[Scope],
    i: usize,
    what: Exceeded,
    wait: u64,
    seen: &[Seen],
    estimate: u64,
) -> RateRefusal {
    let scope: &Scope = &scopes[i];
    let (what, limit) = match what {
        Exceeded::Requests => ("requests", scope.caps.rpm),
        Exceeded::Tokens => ("tokens", scope.caps.tpm),
        Exceeded::Concurrent => ("concurrent requests", scope.caps.concurrent),
    };
    RateRefusal::Exceeded {
        scope: scope.key.to_string(),
        what,
        limit,
        retry_after_ms: wait,
        headers: RateHeaders::of(scopes, seen, estimate, false),
    }
}

/// A Redis check's ids and what it asked a lease for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LeaseAsk {
    /// The request's id (its own entries); the leased ids follow it.
    pub(crate) id: u64,
    /// How many entries it asked for.
    pub(crate) want: u64,
    /// The tokens of each.
    per: u64,
    /// When the check was sent (the lease is used until a little before
    /// a second after it).
    sent: tokio::time::Instant,
}

/// An admitted request's hold on its scopes: settled with the real tokens
/// when the request ends; dropped unsettled, it gives its slots back.
#[derive(Debug)]
pub(crate) struct Permit {
    store: Option<Arc<Store>>,
    scopes: Vec<Scope>,
    id: u64,
    /// The tokens its entries hold (a leased entry's, or its own estimate).
    estimate: u64,
    /// Its own estimate, kept when it ends without a count.
    own: u64,
    /// The lease it was admitted from: it settles into the lease.
    lease: Option<Arc<lease::Lease>>,
    /// The `x-ratelimit-*` values after this request.
    pub(crate) headers: RateHeaders,
}

impl Permit {
    /// A permit that holds nothing (Redis unreachable, fail-open).
    fn unchecked() -> Self {
        Permit {
            store: None,
            scopes: Vec::new(),
            id: 0,
            estimate: 0,
            own: 0,
            lease: None,
            headers: RateHeaders::default(),
        }
    }

    /// Drops the permit without giving anything back: for an admission
    /// that counted nothing after all (the joint check refused by a
    /// budget).
    pub(crate) fn forget(mut self) {
        self.store = None;
        if let Some(lease) = self.lease.take() {
            lease.settled_tokens(0);
        }
    }

    /// Replaces the token reservation with `actual` (`None`: keep the
    /// estimate) and gives the concurrency slots back.
    pub(crate) fn settle(mut self, actual: Option<u64>) {
        self.end(actual);
    }

    fn end(&mut self, actual: Option<u64>) {
        let Some(store) = self.store.take() else {
            return;
        };
        let scopes = std::mem::take(&mut self.scopes);
        if let Some(lease) = self.lease.take() {
            // Its tokens go to the lease's one settlement; its slot is
            // given back with the lease's others that end about now.
            if scopes.iter().any(|s| s.caps.concurrent > 0) {
                lease.slot_freed();
            }
            lease.settled_tokens(actual.unwrap_or(self.own));
            return;
        }
        let actual = Some(actual.unwrap_or(self.own)).filter(|a| *a != self.estimate);
        match &*store {
            Store::Memory(m) => {
                for scope in &scopes {
                    let w = m.window(&scope.key);
                    let mut w = w.lock().unwrap_or_else(PoisonError::into_inner);
                    if let (Some(a), true) = (actual, scope.caps.tpm > 0) {
                        w.settle(self.id, a);
                    }
                    if scope.caps.concurrent > 0 {
                        w.release();
                    }
                }
            }
            Store::Redis(r) => r.settle(&scopes, self.id, self.estimate, actual),
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.end(None);
    }
}

/// The tokens of each entry a request of `estimate` tokens asks a lease
/// for: twice its own, so the requests it serves may be somewhat larger.
fn lease_per(estimate: u64) -> u64 {
    estimate.saturating_mul(2).max(1)
}

pub(crate) fn rand_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(gproxy_credential::clock::now_ms());
    h.finish()
}

/// Response headers of the limits.
pub mod header {
    /// `x-ratelimit-limit-requests`.
    pub const LIMIT_REQUESTS: &str = "x-ratelimit-limit-requests";
    /// `x-ratelimit-remaining-requests`.
    pub const REMAINING_REQUESTS: &str = "x-ratelimit-remaining-requests";
    /// `x-ratelimit-reset-requests`.
    pub const RESET_REQUESTS: &str = "x-ratelimit-reset-requests";
    /// `x-ratelimit-limit-tokens`.
    pub const LIMIT_TOKENS: &str = "x-ratelimit-limit-tokens";
    /// `x-ratelimit-remaining-tokens`.
    pub const REMAINING_TOKENS: &str = "x-ratelimit-remaining-tokens";
    /// `x-ratelimit-reset-tokens`.
    pub const RESET_TOKENS: &str = "x-ratelimit-reset-tokens";
}

/// A reset time as the `x-ratelimit-reset-*` headers write it (OpenAI's
/// form): `850ms` under a second, else whole seconds rounded up (`12s`).
/// Written without an allocation: this runs on every limited request.
fn reset_header(ms: u64) -> Result<http::HeaderValue, http::header::InvalidHeaderValue> {
    let (mut n, unit): (u64, &[u8]) = if ms < 1_000 {
        (ms, b"ms")
    } else {
        (ms.div_ceil(1_000), b"s")
    };
    let mut buf = [0u8; 22];
    let mut start = 20;
    loop {
        start -= 1;
        buf[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf[20..20 + unit.len()].copy_from_slice(unit);
    http::HeaderValue::from_bytes(&buf[start..20 + unit.len()])
}

impl RateHeaders {
    /// Adds the `x-ratelimit-*` headers to `headers`.
    pub fn apply(&self, headers: &mut http::HeaderMap) {
        use http::HeaderValue;
        use http::header::HeaderName;
        // Evaluated at compile time: `from_static` called at run time
        // validates the name on every call.
        const NAMES: [[HeaderName; 3]; 2] = [
            [
                HeaderName::from_static(header::LIMIT_REQUESTS),
                HeaderName::from_static(header::REMAINING_REQUESTS),
                HeaderName::from_static(header::RESET_REQUESTS),
            ],
            [
                HeaderName::from_static(header::LIMIT_TOKENS),
                HeaderName::from_static(header::REMAINING_TOKENS),
                HeaderName::from_static(header::RESET_TOKENS),
            ],
        ];
        // Room for all six at once: the map grows (and rehashes) once at
        // most.
        headers.reserve(6);
        for (room, [limit, remaining, reset]) in [self.requests, self.tokens].into_iter().zip(NAMES)
        {
            let Some(h) = room else { continue };
            headers.insert(limit, HeaderValue::from(h.limit));
            headers.insert(remaining, HeaderValue::from(h.remaining));
            if let Ok(v) = reset_header(h.reset_ms) {
                headers.insert(reset, v);
            }
        }
    }
}

/// A cheap estimate of a request's input tokens from its size in bytes.
pub(crate) fn estimate_tokens(bytes: u64) -> u64 {
    bytes.div_ceil(4)
}

impl crate::Engine {
    /// Checks the rate limits of `principal`'s request to `provider`'s
    /// `model` (`""`: no model scope) of about `bytes` bytes, before any
    /// upstream call; on admission `accounting` holds the permit.
    pub(crate) async fn admit_rate(
        &self,
        principal: &crate::state::Principal,
        provider: &str,
        model: &str,
        bytes: u64,
        accounting: &mut crate::accounting::Accounting,
    ) -> Result<(), crate::GatewayError> {
        let Some(limiter) = self.rate_limiter.load_full() else {
            return Ok(());
        };
        let scopes = limiter.scopes(&principal.user_name, &principal.key_prefix, provider, model);
        if scopes.is_empty() {
            return Ok(());
        }
        match limiter.admit(scopes, estimate_tokens(bytes)).await {
            Ok(permit) => {
                accounting.hold_permit(permit);
                Ok(())
            }
            Err(refusal) => Err(self.rate_refused(refusal)),
        }
    }

    /// `refusal`, counted, as the error the client gets.
    pub(crate) fn rate_refused(&self, refusal: RateRefusal) -> crate::GatewayError {
        self.observe.metrics.refusal(match refusal {
            RateRefusal::Exceeded { .. } => "rate_limit",
            RateRefusal::Unavailable(_) => "limit_store_unreachable",
        });
        crate::GatewayError::RateLimitExceeded(Box::new(refusal))
    }
}

impl crate::Engine {
    /// `GET /v1/gproxy/me`: who `principal` is, the rate limits of its own
    /// scopes (global, key, user) with what is left of them now, and its
    /// budgets (user and key) with their spend.
    pub async fn me(&self, principal: &crate::state::Principal) -> serde_json::Value {
        let limiter = self.rate_limiter.load_full();
        let mut limits = serde_json::Map::new();
        if let Some(limiter) = &limiter {
            for scope in limiter.scopes(&principal.user_name, &principal.key_prefix, "", "") {
                let one = std::slice::from_ref(&scope);
                let room = limiter.peek(one).await;
                let in_flight = match &*limiter.store {
                    Store::Memory(m) => Some(
                        m.window(&scope.key)
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .in_flight,
                    ),
                    Store::Redis(_) => None,
                };
                let caps = scope.caps;
                let nz = |v: u64| (v > 0).then_some(v);
                limits.insert(
                    scope.key.split(':').next().unwrap_or("global").to_owned(),
                    serde_json::json!({
                        "scope": &*scope.key,
                        "rpm": nz(caps.rpm),
                        "tpm": nz(caps.tpm),
                        "concurrent": nz(caps.concurrent),
                        "remaining_requests": room.and_then(|r| r.requests).map(|h| h.remaining),
                        "remaining_tokens": room.and_then(|r| r.tokens).map(|h| h.remaining),
                        "reset_requests_ms": room.and_then(|r| r.requests).map(|h| h.reset_ms),
                        "reset_tokens_ms": room.and_then(|r| r.tokens).map(|h| h.reset_ms),
                        "in_flight": in_flight,
                    }),
                );
            }
        }
        serde_json::json!({
            "user": &*principal.user_name,
            "key_prefix": &*principal.key_prefix,
            "rate_limits": {
                "backend": limiter.as_ref().map(|l| l.backend()),
                "window_secs": limiter.as_ref().map(|l| l.rules.window_ms / 1_000),
                "scopes": limits,
            },
            "budgets": self.my_budgets(principal).await,
        })
    }
}

#[cfg(test)]
mod reset_tests {
    use super::{Headroom, RateHeaders};

    #[test]
    fn the_headers_carry_each_limit_kind_that_applied() {
        let room = |limit, remaining, reset_ms| Headroom {
            limit,
            remaining,
            reset_ms,
        };
        let mut both = http::HeaderMap::new();
        RateHeaders {
            requests: Some(room(100, 99, 600)),
            tokens: Some(room(50_000, 12_345, 59_999)),
        }
        .apply(&mut both);
        let get = |h: &http::HeaderMap, name: &str| h[name].to_str().unwrap().to_owned();
        for (name, value) in [
            ("x-ratelimit-limit-requests", "100"),
            ("x-ratelimit-remaining-requests", "99"),
            ("x-ratelimit-reset-requests", "600ms"),
            ("x-ratelimit-limit-tokens", "50000"),
            ("x-ratelimit-remaining-tokens", "12345"),
            ("x-ratelimit-reset-tokens", "60s"),
        ] {
            assert_eq!(get(&both, name), value, "{name}");
        }
        let mut tokens_only = http::HeaderMap::new();
        RateHeaders {
            requests: None,
            tokens: Some(room(7, 0, 1_000)),
        }
        .apply(&mut tokens_only);
        assert_eq!(tokens_only.len(), 3);
        assert_eq!(get(&tokens_only, "x-ratelimit-limit-tokens"), "7");
        assert_eq!(get(&tokens_only, "x-ratelimit-remaining-tokens"), "0");
        assert_eq!(get(&tokens_only, "x-ratelimit-reset-tokens"), "1s");
    }

    #[test]
    fn the_reset_header_is_milliseconds_under_a_second_else_seconds_rounded_up() {
        let cases = [
            (0, "0ms"),
            (1, "1ms"),
            (9, "9ms"),
            (850, "850ms"),
            (999, "999ms"),
            (1_000, "1s"),
            (1_001, "2s"),
            (12_000, "12s"),
            (59_999, "60s"),
            (u64::MAX, "18446744073709552s"),
        ];
        for (ms, text) in cases {
            assert_eq!(
                super::reset_header(ms).unwrap().to_str().unwrap(),
                text,
                "{ms}"
            );
        }
    }
}
