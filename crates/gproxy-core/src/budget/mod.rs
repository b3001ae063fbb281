//! Budgets: USD per user and per key, per calendar period (`[budgets]`).
//!
//! Before the upstream call a request reserves its estimated cost (input
//! from the body's size, output from its own cap or
//! `default_output_tokens`) on every budget line that applies: the user's
//! and the key's, each period set. It is admitted only while every line
//! still has room (spent + reserved below the amount), all or nothing, in
//! memory under one lock or in Redis by one Lua script. When the request
//! ends the reservation is replaced by the real cost (a failed request
//! costs nothing, a success of unknown usage keeps the estimate). So N
//! concurrent requests overshoot a budget by at most the last admitted
//! request's cost: each of them was admitted only while the reservations
//! of the others still fitted.
//!
//! A period's spend starts from the request log (the sum of the costs of
//! the owner's rows since the period began) the first time it is used, so
//! a restart loses nothing already written; in Redis the seeded counter is
//! shared by every instance. See docs/budgets.md.

mod period;
pub(crate) mod redis;

use hashbrown::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use gproxy_storage::Storage;
use rust_decimal::Decimal;

use crate::config::{
    Budget, BudgetsConfig, DEFAULT_BUDGET_PREFIX, DEFAULT_OUTPUT_TOKENS, Period, RateLimitBackend,
    RedisFailure, UnpricedPolicy,
};
use crate::cost::{from_nanos, to_nanos};
use crate::observe::Observability;
pub use period::bounds;

/// The response header of a budget refusal: when the used-up period ends
/// (RFC 3339).
pub const RESET_HEADER: &str = "x-gproxy-budget-reset";

/// The `price_version` of a request-log row whose cost is the flat
/// passthrough charge (`[budgets] passthrough_cost_usd`).
pub const FLAT_PRICE_VERSION: &str = "passthrough-flat";

/// Whose request log rows a budget line's spend is the sum of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    /// A user's rows.
    User(i64),
    /// A key's rows.
    Key(i64),
    /// None known (the admin key): the spend starts at zero.
    Unknown,
}

/// A request's budget lines, shared by the hold and the settlement (and
/// kept per key until a period ends, see [`Budgeter::lines_of`]).
pub(crate) type Lines = Arc<[Line]>;

/// One budget a request is charged to: a scope's amount for one period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Line {
    /// The counter's name: `{scope}:{period}:{period start}` (its first
    /// `scope_len` bytes are the scope), built once.
    counter: String,
    scope_len: usize,
    pub owner: Owner,
    pub period: Period,
    /// When the period began.
    pub start: DateTime<Utc>,
    /// When the next begins (`None`: never, `total`).
    pub reset: Option<DateTime<Utc>>,
    /// The amount, nano-dollars.
    pub limit: i64,
    /// The soft threshold, nano-dollars.
    pub warn_at: Option<i64>,
}

impl Line {
    /// The counter's name: scope, period and the period's start.
    pub(crate) fn key(&self) -> &str {
        &self.counter
    }

    /// `user:<name>` or `key:<prefix>`.
    pub(crate) fn scope(&self) -> &str {
        &self.counter[..self.scope_len]
    }
}

/// What a line stands at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Standing {
    /// Settled spend, nano-dollars.
    pub spent: i64,
    /// Reserved by requests in flight, nano-dollars.
    pub reserved: i64,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BudgetRefusal {
    /// A budget has no room left.
    Exhausted {
        /// `user:alice`, `key:sk-ab12`.
        scope: String,
        /// The period.
        period: Period,
        /// The amount, USD.
        limit: Decimal,
        /// Spent and reserved, USD.
        used: Decimal,
        /// When the period ends (`None`: a total budget).
        reset: Option<DateTime<Utc>>,
    },
    /// The model has no known price and `unpriced = "refuse"`, or a raw
    /// passthrough call has no `passthrough_cost_usd`.
    Uncountable(String),
    /// Redis could not be reached and `on_redis_error = "closed"`.
    Unavailable(String),
}

impl std::fmt::Display for BudgetRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BudgetRefusal::Exhausted {
                scope,
                period,
                limit,
                used,
                reset,
            } => {
                write!(
                    f,
                    "budget exceeded: the {} budget of {limit} USD for {scope} is used up ({used} USD spent or reserved)",
                    period.as_str()
                )?;
                match reset {
                    Some(at) => write!(f, "; it resets at {}", at.to_rfc3339()),
                    None => f.write_str("; it does not reset"),
                }
            }
            BudgetRefusal::Uncountable(m) => write!(f, "budget: {m}"),
            BudgetRefusal::Unavailable(_) => {
                f.write_str("budgets cannot be checked (budget store unreachable); try again later")
            }
        }
    }
}

/// The resolved `[budgets]`.
#[derive(Debug, Clone)]
struct Rules {
    tz: chrono_tz::Tz,
    default_output: u64,
    unpriced: UnpricedPolicy,
    passthrough_nanos: Option<i64>,
    fail: RedisFailure,
    timeout: Duration,
    users: HashMap<String, Budget>,
    keys: HashMap<String, Budget>,
}

/// Where the counters live.
enum Store {
    Memory(MemoryLedger),
    Redis(Box<redis::RedisLedger>),
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Store::Memory(_) => "Memory",
            Store::Redis(_) => "Redis",
        })
    }
}

/// The budgets in force.
#[derive(Debug)]
pub struct Budgeter {
    rules: Rules,
    store: Arc<Store>,
    /// Which backend settings built `store` (to keep it across changes).
    backend: (RateLimitBackend, Option<String>, String),
    /// Where a period's spend starts from (`None` in unit tests: zero).
    storage: Option<Storage>,
    ids: AtomicU64,
    /// The lines of each (user, key) seen, until the first of them ends.
    recent: Mutex<HashMap<(i64, Option<i64>), Recent>>,
}

/// A principal's lines, and until when they hold.
#[derive(Debug)]
struct Recent {
    user: Arc<str>,
    key_prefix: Arc<str>,
    lines: Lines,
    until: DateTime<Utc>,
}

/// Entries kept at most in [`Budgeter::recent`] (it is emptied beyond).
const RECENT_MAX: usize = 10_000;

/// The counters of the memory backend, by [`Line::key`].
#[derive(Debug, Default)]
struct MemoryLedger {
    entries: Mutex<HashMap<String, Entry>>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    standing: Standing,
    /// When its period ends (dropped some time after).
    ends: Option<DateTime<Utc>>,
}

impl Budgeter {
    /// The budgets of `config`, or `None` when it sets none. `previous`
    /// hands over its counters when the backend settings are unchanged.
    pub fn build(
        config: &BudgetsConfig,
        previous: Option<&Budgeter>,
        storage: Option<Storage>,
    ) -> Option<Self> {
        if !config.any_budget() {
            return None;
        }
        let backend_kind = config.backend.unwrap_or_default();
        let prefix = config
            .redis_prefix
            .clone()
            .unwrap_or_else(|| DEFAULT_BUDGET_PREFIX.to_owned());
        let backend = (backend_kind, config.redis_url.clone(), prefix.clone());
        let to_map = |m: &std::collections::BTreeMap<String, Budget>| {
            m.iter()
                .filter(|(_, b)| !b.is_empty())
                .map(|(k, b)| (k.clone(), *b))
                .collect()
        };
        let rules = Rules {
            // validate() checked it.
            tz: config.tz().unwrap_or(chrono_tz::UTC),
            default_output: config
                .default_output_tokens
                .unwrap_or(DEFAULT_OUTPUT_TOKENS),
            unpriced: config.unpriced.unwrap_or_default(),
            passthrough_nanos: config.passthrough_cost_usd.and_then(|c| to_nanos(c.0)),
            fail: config.on_redis_error.unwrap_or_default(),
            timeout: Duration::from_millis(config.redis_timeout_ms.unwrap_or(250)),
            users: to_map(&config.users),
            keys: to_map(&config.keys),
        };
        let store = match previous {
            Some(p) if p.backend == backend => p.store.clone(),
            _ => Arc::new(match backend_kind {
                RateLimitBackend::Memory => Store::Memory(MemoryLedger::default()),
                RateLimitBackend::Redis => {
                    match redis::RedisLedger::new(
                        config.redis_url.as_deref().unwrap_or(""),
                        &prefix,
                    ) {
                        Ok(r) => Store::Redis(Box::new(r)),
                        Err(e) => {
                            tracing::error!(error = %e, "budgets.redis_url unusable; budgets kept in memory");
                            Store::Memory(MemoryLedger::default())
                        }
                    }
                }
            }),
        };
        Some(Budgeter {
            rules,
            store,
            backend,
            storage,
            ids: AtomicU64::new(crate::ratelimit::rand_seed()),
            recent: Mutex::new(HashMap::default()),
        })
    }

    /// The backend name (`memory`, `redis`).
    pub fn backend(&self) -> &'static str {
        match &*self.store {
            Store::Memory(_) => "memory",
            Store::Redis(_) => "redis",
        }
    }

    /// The time zone periods are aligned in.
    pub fn timezone(&self) -> &'static str {
        self.rules.tz.name()
    }

    /// The budget lines of user `user` (row `user_id`) and its key
    /// `key_prefix` (row `key_id`) at `now`.
    pub(crate) fn lines(
        &self,
        user: &str,
        user_id: Option<i64>,
        key_prefix: &str,
        key_id: Option<i64>,
        now: DateTime<Utc>,
    ) -> Vec<Line> {
        let mut out = Vec::new();
        let scopes = [
            (
                "user",
                user,
                self.rules.users.get(user),
                user_id.map_or(Owner::Unknown, Owner::User),
            ),
            (
                "key",
                key_prefix,
                self.rules.keys.get(key_prefix),
                key_id.map_or(Owner::Unknown, Owner::Key),
            ),
        ];
        for (kind, name, budget, owner) in scopes {
            let Some(budget) = budget else { continue };
            for (period, amount) in budget.periods() {
                let Some(limit) = to_nanos(amount) else {
                    continue;
                };
                let (start, reset) = bounds(period, now, self.rules.tz);
                let mut counter = String::with_capacity(kind.len() + name.len() + 32);
                counter.push_str(kind);
                counter.push(':');
                counter.push_str(name);
                let scope_len = counter.len();
                let _ = write!(counter, ":{}:{}", period.as_str(), start.timestamp());
                out.push(Line {
                    counter,
                    scope_len,
                    owner,
                    period,
                    start,
                    reset,
                    limit,
                    warn_at: budget
                        .warn_at_percent
                        .map(|p| limit / 100 * i64::from(p) + limit % 100 * i64::from(p) / 100),
                });
            }
        }
        out
    }

    /// Where `line`'s spend starts: the costs of its owner's logged rows
    /// since the period began.
    async fn seed(&self, line: &Line) -> Result<i64, String> {
        let (Some(storage), Some((user_id, key_id))) = (
            &self.storage,
            match line.owner {
                Owner::User(id) => Some((Some(id), None)),
                Owner::Key(id) => Some((None, Some(id))),
                Owner::Unknown => None,
            },
        ) else {
            return Ok(0);
        };
        let q = gproxy_storage::UsageQuery {
            from: line.start,
            to: Utc::now() + chrono::Duration::days(1),
            group_by: Vec::new(),
            bucket: None,
            user_id,
            key_id,
            provider: None,
            model: None,
        };
        let rows = storage
            .usage_aggregates(&q)
            .await
            .map_err(|e| format!("reading the spend from the request log: {e}"))?;
        Ok(rows.iter().map(|r| r.cost_nano_usd).sum())
    }

    /// Where `lines` stand, and with `reserve > 0` reserves it on every
    /// line when all have room. `Ok((standings, None))`: admitted (or
    /// only looked at); `Ok((_, Some(i)))`: line `i` has no room.
    async fn check(
        &self,
        lines: &[Line],
        id: u64,
        reserve: Option<i64>,
    ) -> Result<(Vec<Standing>, Option<usize>), String> {
        match &*self.store {
            Store::Memory(m) => {
                let missing: Vec<&Line> = {
                    let entries = m.entries.lock().unwrap_or_else(PoisonError::into_inner);
                    lines
                        .iter()
                        .filter(|l| !entries.contains_key(l.key()))
                        .collect()
                };
                let mut seeds = Vec::with_capacity(missing.len());
                for line in missing {
                    seeds.push((line, self.seed(line).await?));
                }
                let mut entries = m.entries.lock().unwrap_or_else(PoisonError::into_inner);
                if !seeds.is_empty() {
                    let now = Utc::now();
                    entries.retain(|_, e| e.ends.is_none_or(|end| end > now));
                }
                for (line, spent) in seeds {
                    entries.entry(line.key().to_owned()).or_insert(Entry {
                        standing: Standing { spent, reserved: 0 },
                        ends: line.reset,
                    });
                }
                let standings: Vec<Standing> = lines
                    .iter()
                    .map(|l| entries.get(l.key()).map(|e| e.standing).unwrap_or_default())
                    .collect();
                let full = lines
                    .iter()
                    .zip(&standings)
                    .position(|(l, s)| s.spent.saturating_add(s.reserved) >= l.limit);
                if let (None, Some(amount)) = (full, reserve) {
                    for line in lines {
                        if let Some(e) = entries.get_mut(line.key()) {
                            e.standing.reserved = e.standing.reserved.saturating_add(amount);
                        }
                    }
                }
                Ok((standings, full))
            }
            Store::Redis(r) => {
                let timeout = self.rules.timeout;
                for _ in 0..3 {
                    match r.check(lines, id, reserve, timeout).await? {
                        redis::Checked::Done(standings, full) => return Ok((standings, full)),
                        redis::Checked::Unseeded(which) => {
                            for i in which {
                                if let Some(line) = lines.get(i) {
                                    let spent = self.seed(line).await?;
                                    r.seed(line, spent, timeout).await?;
                                }
                            }
                        }
                    }
                }
                Err("the budget counters could not be seeded".into())
            }
        }
    }

    /// Admits a request estimated at `estimate` nano-dollars on `lines`
    /// (reserving it), or says why not.
    pub(crate) async fn admit(
        &self,
        lines: impl Into<Lines>,
        estimate: i64,
        observe: Arc<Observability>,
    ) -> Result<Hold, BudgetRefusal> {
        let lines = lines.into();
        let id = self.ids.fetch_add(1, Ordering::Relaxed);
        let checked = self.check(&lines, id, Some(estimate)).await;
        self.held(lines, id, estimate, checked, observe)
    }

    /// With the Redis store, its link.
    pub(crate) fn redis_link(&self) -> Option<&Arc<crate::redis_link::RedisLink>> {
        match &*self.store {
            Store::Redis(r) => Some(r.link()),
            Store::Memory(_) => None,
        }
    }

    /// With the Redis store, what its reserving check calls sent (the
    /// checks that went out with the limits' are the limiter's).
    pub(crate) fn redis_admissions(&self) -> Option<crate::health::RedisAdmissionsReport> {
        match &*self.store {
            Store::Redis(r) => Some(r.checks_report()),
            Store::Memory(_) => None,
        }
    }

    /// How long a check may wait on the store.
    pub(crate) fn timeout(&self) -> Duration {
        self.rules.timeout
    }

    /// With the Redis store: the check that reserves `estimate` on `lines`,
    /// under a new request id, to go out inside the joint admission script
    /// (see `crate::admission`; the reply's second half goes to
    /// [`Budgeter::redis_admitted`]).
    pub(crate) fn redis_check_parts<'a>(
        &'a self,
        lines: &'a [Line],
        estimate: i64,
    ) -> Option<redis::CheckParts<'a>> {
        let Store::Redis(r) = &*self.store else {
            return None;
        };
        let id = self.ids.fetch_add(1, Ordering::Relaxed);
        Some(r.check_parts(lines, id, estimate))
    }

    /// A hold of the reservation of `reserved` nano-dollars on `lines`
    /// under `id`, for a request estimated at `estimate`: with `lease`,
    /// a request admitted from it (it settles into the lease); without,
    /// the lease's own reservation.
    pub(crate) fn leased_hold(
        &self,
        lines: Lines,
        id: u64,
        estimate: i64,
        reserved: i64,
        observe: Arc<Observability>,
        lease: Option<Arc<crate::ratelimit::lease::Lease>>,
    ) -> Hold {
        Hold {
            store: Some(self.store.clone()),
            lines,
            id,
            estimate,
            reserved,
            observe,
            lease,
        }
    }

    /// Gives back the reservations of ids `from..to` leased on `lines` at
    /// `per` nano-dollars each and never used.
    pub(crate) fn give_back_leased(&self, lines: &[Line], from: u64, to: u64, per: i64) {
        if let Store::Redis(r) = &*self.store {
            r.give_back(lines, from, to, per);
        }
    }

    /// Whether Redis's `reply` to a check says a line has no counter yet
    /// (so nothing was reserved, and it must be seeded first).
    pub(crate) fn redis_unseeded(reply: &crate::redis_link::Reply) -> bool {
        redis::RedisLedger::unseeded(reply)
    }

    /// The admission of request `id` from Redis's `reply` to its command;
    /// lines with no counter yet are seeded and checked again.
    pub(crate) async fn redis_admitted(
        &self,
        lines: Lines,
        id: u64,
        estimate: i64,
        reply: Result<crate::redis_link::Reply, String>,
        observe: Arc<Observability>,
    ) -> Result<Hold, BudgetRefusal> {
        let checked = match reply.and_then(|r| redis::RedisLedger::check_reply(r, lines.len())) {
            Ok(redis::Checked::Done(standings, full)) => Ok((standings, full)),
            // Nothing was reserved: the usual path seeds, then reserves.
            Ok(redis::Checked::Unseeded(_)) => self.check(&lines, id, Some(estimate)).await,
            Err(e) => Err(e),
        };
        self.held(lines, id, estimate, checked, observe)
    }

    /// The hold (or the refusal) a check's outcome gives.
    fn held(
        &self,
        lines: Lines,
        id: u64,
        estimate: i64,
        checked: Result<(Vec<Standing>, Option<usize>), String>,
        observe: Arc<Observability>,
    ) -> Result<Hold, BudgetRefusal> {
        match checked {
            Ok((_, None)) => Ok(Hold {
                store: Some(self.store.clone()),
                lines,
                id,
                estimate,
                reserved: estimate,
                observe,
                lease: None,
            }),
            Ok((standings, Some(i))) => {
                let line = &lines[i];
                let s = standings[i];
                Err(BudgetRefusal::Exhausted {
                    scope: line.scope().to_owned(),
                    period: line.period,
                    limit: from_nanos(line.limit),
                    used: from_nanos(s.spent.saturating_add(s.reserved)),
                    reset: line.reset,
                })
            }
            Err(e) => {
                if e == crate::redis_link::TIMED_OUT
                    && let Store::Redis(r) = &*self.store
                {
                    // The script may have run after all: give back the
                    // reservation it may have made.
                    r.settle(lines, id, estimate, 0, |_, _| {});
                }
                self.unchecked(e, observe)
            }
        }
    }

    /// What a request gets when the store could not answer.
    fn unchecked(&self, e: String, observe: Arc<Observability>) -> Result<Hold, BudgetRefusal> {
        match (&*self.store, self.rules.fail) {
            (Store::Redis(_), RedisFailure::Closed) => {
                tracing::warn!(error = %e, "request refused: budgets cannot be checked (on_redis_error = closed)");
                Err(BudgetRefusal::Unavailable(e))
            }
            _ => {
                tracing::warn!(error = %e, "budgets not checked for this request: the budget store failed");
                Ok(Hold::unchecked(observe))
            }
        }
    }

    /// Where `lines` stand now (nothing reserved); `None` when the store
    /// cannot say.
    pub(crate) async fn standings(&self, lines: &[Line]) -> Option<Vec<Standing>> {
        self.check(lines, 0, None).await.ok().map(|(s, _)| s)
    }

    /// What a budgeted request estimated at `estimate` nano-dollars
    /// (`None`: no known price) reserves, in nano-dollars, or why it
    /// cannot be counted.
    pub(crate) fn reservation(
        &self,
        estimate: Option<i64>,
        provider: &str,
        model: &str,
    ) -> Result<i64, BudgetRefusal> {
        match (estimate, self.rules.unpriced) {
            (Some(nanos), _) => Ok(nanos),
            (None, UnpricedPolicy::Allow) => Ok(0),
            (None, UnpricedPolicy::Refuse) => Err(BudgetRefusal::Uncountable(format!(
                "the price of `{model}` on `{provider}` is unknown, so its cost cannot be counted against the budget (set a price override, or [budgets] unpriced = \"allow\")"
            ))),
        }
    }

    /// Output tokens a request with no cap of its own is reserved for.
    pub(crate) fn default_output_tokens(&self) -> u64 {
        self.rules.default_output
    }

    /// What one raw passthrough call reserves and costs, or why a
    /// budgeted key cannot make one.
    pub(crate) fn passthrough_cost(&self) -> Result<i64, BudgetRefusal> {
        self.rules.passthrough_nanos.ok_or_else(|| {
            BudgetRefusal::Uncountable(
                "a raw passthrough call's cost cannot be read, and [budgets] passthrough_cost_usd is not set, so a key under a budget cannot make one".into(),
            )
        })
    }

    /// The names of the budgeted users and the prefixes of the budgeted
    /// keys, sorted.
    pub(crate) fn configured(&self) -> (Vec<&str>, Vec<&str>) {
        fn sorted(m: &HashMap<String, Budget>) -> Vec<&str> {
            let mut v: Vec<&str> = m.keys().map(String::as_str).collect();
            v.sort_unstable();
            v
        }
        (sorted(&self.rules.users), sorted(&self.rules.keys))
    }
}

/// An admitted request's reservation: settled with the real cost when the
/// request ends; dropped unsettled, it is released (costs nothing).
#[derive(Debug)]
pub(crate) struct Hold {
    store: Option<Arc<Store>>,
    lines: Lines,
    id: u64,
    /// This request's estimated cost.
    estimate: i64,
    /// What it holds reserved: its estimate, or a lease's reservation
    /// (see `crate::ratelimit::lease`).
    reserved: i64,
    observe: Arc<Observability>,
    /// The lease it was admitted from: it settles into the lease.
    lease: Option<Arc<crate::ratelimit::lease::Lease>>,
}

impl Hold {
    /// A hold on nothing (the store failed, fail-open).
    fn unchecked(observe: Arc<Observability>) -> Self {
        Hold {
            store: None,
            lines: Lines::default(),
            id: 0,
            estimate: 0,
            reserved: 0,
            observe,
            lease: None,
        }
    }

    /// What was reserved, nano-dollars.
    pub(crate) fn estimate(&self) -> i64 {
        self.estimate
    }

    /// Replaces the reservation with `actual` nano-dollars.
    pub(crate) fn settle(mut self, actual: i64) {
        self.end(actual);
    }

    fn end(&mut self, actual: i64) {
        let Some(store) = self.store.take() else {
            return;
        };
        if let Some(lease) = self.lease.take() {
            lease.settled_cost(actual);
            return;
        }
        let lines = std::mem::take(&mut self.lines);
        match &*store {
            Store::Memory(m) => {
                let mut after = Vec::with_capacity(lines.len());
                {
                    let mut entries = m.entries.lock().unwrap_or_else(PoisonError::into_inner);
                    for line in lines.iter() {
                        if let Some(e) = entries.get_mut(line.key()) {
                            e.standing.reserved = e.standing.reserved.saturating_sub(self.reserved);
                            e.standing.spent = e.standing.spent.saturating_add(actual);
                            after.push(Some(e.standing.spent));
                        } else {
                            after.push(None);
                        }
                    }
                }
                warn_crossed(&self.observe, &lines, actual, &after);
            }
            Store::Redis(r) => {
                let observe = self.observe.clone();
                r.settle(
                    lines,
                    self.id,
                    self.reserved,
                    actual,
                    move |lines, result| match result {
                        Ok(after) => warn_crossed(&observe, lines, actual, &after),
                        Err(e) => tracing::warn!(
                            error = %e,
                            "budget settle failed (the reservation expires on its own; the cost is in the request log)"
                        ),
                    },
                );
            }
        }
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        self.end(0);
    }
}

/// Logs and counts each line whose soft threshold the spend just crossed
/// (from `after - actual` to `after`): once per period, on whichever
/// instance settled the crossing request.
fn warn_crossed(observe: &Observability, lines: &[Line], actual: i64, after: &[Option<i64>]) {
    for (line, after) in lines.iter().zip(after) {
        let (Some(warn_at), Some(after)) = (line.warn_at, *after) else {
            continue;
        };
        if after >= warn_at && after.saturating_sub(actual) < warn_at {
            tracing::warn!(
                scope = %line.scope(),
                period = line.period.as_str(),
                spent_usd = %from_nanos(after),
                limit_usd = %from_nanos(line.limit),
                warn_at_usd = %from_nanos(warn_at),
                "budget soft threshold reached"
            );
            observe.metrics.budget_warning(line.period.as_str());
        }
    }
}

/// A budget and where it stands, as `/v1/gproxy/me` and the admin API
/// show it. Amounts are USD as decimal strings.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct LineView {
    /// `user:<name>` or `key:<prefix>`.
    pub scope: String,
    /// The period.
    pub period: Period,
    /// The amount.
    pub limit_usd: String,
    /// Settled spend this period (`null`: the store could not say).
    pub spent_usd: Option<String>,
    /// Reserved by requests in flight.
    pub reserved_usd: Option<String>,
    /// What is left (never below 0).
    pub remaining_usd: Option<String>,
    /// When the period began (RFC 3339).
    pub period_start: String,
    /// When it resets (`null`: a total budget never does).
    pub resets_at: Option<String>,
    /// The soft threshold, if set.
    pub warn_at_usd: Option<String>,
    /// Whether the spend reached the soft threshold.
    pub warning: Option<bool>,
    /// Whether no room is left (requests are refused).
    pub exhausted: Option<bool>,
}

/// Budgets and where they stand.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct BudgetsView {
    /// Whether any budget is set.
    pub enabled: bool,
    /// `memory` or `redis` (`null` when none is set).
    pub backend: Option<&'static str>,
    /// The time zone periods are aligned in.
    pub timezone: Option<&'static str>,
    /// One entry per budget and period.
    pub budgets: Vec<LineView>,
}

impl BudgetsView {
    fn off() -> Self {
        BudgetsView {
            enabled: false,
            backend: None,
            timezone: None,
            budgets: Vec::new(),
        }
    }
}

/// `line` and where it stands.
pub(crate) fn line_view(line: &Line, standing: Option<Standing>) -> LineView {
    let usd = |n: i64| from_nanos(n).normalize().to_string();
    let used = standing.map(|s| s.spent.saturating_add(s.reserved));
    LineView {
        scope: line.scope().to_owned(),
        period: line.period,
        limit_usd: usd(line.limit),
        spent_usd: standing.map(|s| usd(s.spent)),
        reserved_usd: standing.map(|s| usd(s.reserved)),
        remaining_usd: used.map(|u| usd(line.limit.saturating_sub(u).max(0))),
        period_start: line.start.to_rfc3339(),
        resets_at: line.reset.map(|r| r.to_rfc3339()),
        warn_at_usd: line.warn_at.map(usd),
        warning: line.warn_at.zip(standing).map(|(w, s)| s.spent >= w),
        exhausted: used.map(|u| u >= line.limit),
    }
}

impl crate::Engine {
    pub(crate) fn budget_refused(&self, refusal: BudgetRefusal) -> crate::GatewayError {
        self.observe.metrics.refusal(match refusal {
            BudgetRefusal::Unavailable(_) => "budget_store_unreachable",
            _ => "budget",
        });
        crate::GatewayError::BudgetExceeded(Box::new(refusal))
    }

    /// The budgets in force and `principal`'s lines now (`None`: none
    /// applies).
    fn budget_lines(&self, principal: &crate::state::Principal) -> Option<(Arc<Budgeter>, Lines)> {
        let budgets = self.budgets.load_full()?;
        let lines = budgets.lines_of(principal);
        (!lines.is_empty()).then_some((budgets, lines))
    }

    /// Reserves `amount` (or says why not) on `lines` of `budgets`; on
    /// admission `accounting` holds the reservation (`flat`: charged as
    /// reserved on success).
    async fn reserve_budget(
        &self,
        budgets: &Budgeter,
        lines: Lines,
        amount: Result<i64, BudgetRefusal>,
        flat: bool,
        accounting: &mut crate::accounting::Accounting,
    ) -> Result<(), crate::GatewayError> {
        let amount = amount.map_err(|r| self.budget_refused(r))?;
        let hold = budgets
            .admit(lines, amount, self.observe.clone())
            .await
            .map_err(|r| self.budget_refused(r))?;
        accounting.hold_budget(hold, flat);
        Ok(())
    }

    /// Reserves the estimated cost of `principal`'s request to
    /// `provider`'s (of `kind`) `model`, with a body of `bytes` bytes and
    /// its own output cap `output_cap`, on its budgets before any upstream
    /// call; on admission `accounting` holds the reservation.
    #[expect(clippy::too_many_arguments, reason = "the planned target, named")]
    pub(crate) async fn admit_budget(
        &self,
        principal: &crate::state::Principal,
        provider: &str,
        kind: &'static str,
        model: &str,
        output_cap: Option<u64>,
        bytes: u64,
        accounting: &mut crate::accounting::Accounting,
    ) -> Result<(), crate::GatewayError> {
        let Some((budgets, lines)) = self.budget_lines(principal) else {
            return Ok(());
        };
        let amount = self.budget_amount(&budgets, provider, kind, model, output_cap, bytes);
        self.reserve_budget(&budgets, lines, amount, false, accounting)
            .await
    }

    /// What a request reserves on `budgets` (its estimated cost: input
    /// from its `bytes`, output its `output_cap` or the default), or why
    /// it cannot be counted.
    pub(crate) fn budget_amount(
        &self,
        budgets: &Budgeter,
        provider: &str,
        kind: &'static str,
        model: &str,
        output_cap: Option<u64>,
        bytes: u64,
    ) -> Result<i64, BudgetRefusal> {
        let output = output_cap.unwrap_or_else(|| budgets.default_output_tokens());
        let input = crate::ratelimit::estimate_tokens(bytes);
        let estimate = self
            .prices
            .load()
            .estimate_nanos(provider, kind, model, input, output);
        budgets.reservation(estimate, provider, model)
    }

    /// The same for a raw passthrough call: its flat cost is reserved, and
    /// charged when the upstream answers with success.
    pub(crate) async fn admit_budget_passthrough(
        &self,
        principal: &crate::state::Principal,
        accounting: &mut crate::accounting::Accounting,
    ) -> Result<(), crate::GatewayError> {
        let Some((budgets, lines)) = self.budget_lines(principal) else {
            return Ok(());
        };
        let amount = budgets.passthrough_cost();
        self.reserve_budget(&budgets, lines, amount, true, accounting)
            .await
    }

    /// `principal`'s budgets and where they stand, for `/v1/gproxy/me`.
    pub(crate) async fn my_budgets(&self, principal: &crate::state::Principal) -> BudgetsView {
        let Some(budgets) = self.budgets.load_full() else {
            return BudgetsView::off();
        };
        budgets.view(&budgets.lines_of(principal)).await
    }

    /// Every configured budget and where it stands (the admin API):
    /// users by name, keys by prefix, their owners looked up in `storage`.
    pub async fn all_budgets(&self, storage: &Storage) -> Result<BudgetsView, crate::CoreError> {
        let Some(budgets) = self.budgets.load_full() else {
            return Ok(BudgetsView::off());
        };
        let (users, keys) = budgets.configured();
        let now = Utc::now();
        let mut lines = Vec::new();
        for name in users {
            let id = storage.find_user_by_name(name).await?.map(|u| u.id);
            lines.extend(budgets.lines(name, id, "", None, now));
        }
        if !keys.is_empty() {
            let all_keys = storage.list_user_keys().await?;
            for prefix in keys {
                let id = all_keys
                    .iter()
                    .find(|k| k.key_prefix == prefix)
                    .map(|k| k.id);
                lines.extend(budgets.lines("", None, prefix, id, now));
            }
        }
        Ok(budgets.view(&lines).await)
    }
}

impl Budgeter {
    /// The lines of `principal` (its user and its key) now. Built once per
    /// (user, key) until the first of its periods ends: the period bounds
    /// in the configured time zone and the counter names are not worked
    /// out again on every request.
    pub(crate) fn lines_of(&self, principal: &crate::state::Principal) -> Lines {
        let now = Utc::now();
        let id = (principal.user_id, principal.key_id);
        let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(r) = recent.get(&id)
            && now < r.until
            && r.user == principal.user_name
            && r.key_prefix == principal.key_prefix
        {
            return r.lines.clone();
        }
        let lines: Lines = self
            .lines(
                &principal.user_name,
                Some(principal.user_id),
                &principal.key_prefix,
                principal.key_id,
                now,
            )
            .into();
        let until = lines
            .iter()
            .filter_map(|l| l.reset)
            .min()
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        if recent.len() >= RECENT_MAX {
            recent.clear();
        }
        recent.insert(
            id,
            Recent {
                user: principal.user_name.clone(),
                key_prefix: principal.key_prefix.clone(),
                lines: lines.clone(),
                until,
            },
        );
        lines
    }

    /// `lines` and where they stand, with the settings that shape them.
    async fn view(&self, lines: &[Line]) -> BudgetsView {
        let standings = self.standings(lines).await;
        BudgetsView {
            enabled: true,
            backend: Some(self.backend()),
            timezone: Some(self.timezone()),
            budgets: lines
                .iter()
                .enumerate()
                .map(|(i, l)| line_view(l, standings.as_ref().and_then(|s| s.get(i).copied())))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests;
