//! The Redis budget counters: per line (scope, period, period start) a
//! string of settled nano-dollars (`{prefix}{line}:s`, seeded once from
//! the request log, expiring a day after the period ends), a sorted set
//! of the reservations in flight (`:r`, member `{id}:{nanos}`, score the
//! reservation's expiry, so a dead instance's reservations lapse) and
//! their running sum (`:q`, so a check costs what lapsed since the last
//! one, not every reservation in flight). One Lua script checks every line
//! and reserves on all only when all have room.

use std::time::Duration;

use crate::redis_link::{Cmd, RedisLink, Reply, Script};

use super::{Line, Standing};

/// How long a reservation lives if its instance dies before settling it.
const RESERVATION_TTL_MS: u64 = 15 * 60 * 1_000;
/// How long a period's counter outlives the period.
const KEEP_AFTER_PERIOD_MS: i64 = 24 * 3_600 * 1_000;

/// KEYS per line: spent, reservations, their sum. ARGV: id, amount
/// (empty: only look), reservation ttl ms, then per line its limit.
/// Returns {-1, the 1-based lines not seeded...} or {full line (0: none),
/// then per line spent, reserved}.
///
/// The set `:r` and the sum `:q` always get the same expiry together;
/// lapsed reservations come off the sum with `DECRBY`, which keeps it. A
/// missing sum (keys written by an older version) is rebuilt once from
/// the set.
///
/// Written as a Lua function, for [`CHECK`] and the joint admission script
/// (`crate::admission`): `budget_check(K, ko, nk, A, ao, now)` checks the
/// request whose `nk` keys follow index `ko` of `K` and whose arguments
/// follow index `ao` of `A`, and returns the reply and a function that
/// reserves (in the call's state, written by `flush()`). It needs
/// `sum_lua!` (in `crate::ratelimit::redis`) before it.
macro_rules! budget_lua {
    () => {
        r"
local SPENT = {}
local function budget_check(K, ko, nk, A, ao, now)
local n = nk / 3
local missing = {-1}
local spent = {}
for i = 0, n - 1 do
  local k = K[ko+i*3+1]
  local v = SPENT[k]
  if v == nil then
    local got = redis.call('GET', k)
    v = got and tonumber(got) or false
    SPENT[k] = v
  end
  if v then spent[i+1] = v else missing[#missing+1] = i + 1 end
end
if #missing > 1 then return missing, nil end
local id, amount, ttl, pers = A[ao+1], A[ao+2], num(A[ao+3]), A[ao+4]
local per = num(pers)
local out = {0}
local sets = {}
local room = 0
if per > 0 then room = math.huge end
for i = 0, n - 1 do
  local s = state(K[ko+i*3+2], K[ko+i*3+3], now, ttl)
  local limit = num(A[ao+5+i])
  sets[i+1] = s
  out[#out+1] = spent[i+1]
  out[#out+1] = s.sum
  if out[1] == 0 and spent[i+1] + s.sum >= limit then out[1] = i + 1 end
  if per > 0 then
    room = math.min(room, math.floor((limit - spent[i+1] - s.sum - num(amount)) / (LEASE_ROOM * per)))
  end
end
local function commit(g)
  g = g or 0
  -- A lease of g entries is one reservation of g times per, under the
  -- first leased id.
  local lease
  if g > 0 then
    lease = string.format('%d', tonumber(id) + 1) .. ':' .. string.format('%d', g * per)
  end
  for i = 1, n do
    add(sets[i], now + ttl, id .. ':' .. amount, num(amount))
    if lease then add(sets[i], now + ttl, lease, g * per) end
  end
end
return out, commit, room
end
"
    };
}
pub(crate) use budget_lua;

/// The budget check: [`budget_lua`] on Redis's clock, reserving when an
/// amount is given and every line has room.
const CHECK: &str = concat!(
    crate::ratelimit::redis::sum_lua!(),
    budget_lua!(),
    crate::ratelimit::redis::now_lua!(),
    r"
local out, commit = budget_check(KEYS, 0, #KEYS, ARGV, 0, now)
if out[1] == 0 and ARGV[2] ~= '' then
  commit()
  flush()
end
return out
"
);

/// The budget checks of a group of requests (the shape of
/// [`crate::redis_link::Group`]'s calls), for budgets kept in Redis without
/// the limits beside them: each request is checked and reserved in turn,
/// seeing what the ones before it reserved, as [`CHECK`] does for one. Per
/// request, ARGV: how many keys and arguments, then [`CHECK`]'s arguments
/// (with an amount); returns per request [`CHECK`]'s reply.
const CHECKS: &str = concat!(
    crate::ratelimit::redis::sum_lua!(),
    budget_lua!(),
    crate::ratelimit::redis::checks_lua!("budget_check")
);

/// KEYS: spent. ARGV: the seed, the expiry (epoch ms, 0: none).
const SEED: &str = r"
if redis.call('SET', KEYS[1], ARGV[1], 'NX') and tonumber(ARGV[2]) > 0 then
  redis.call('PEXPIREAT', KEYS[1], ARGV[2])
end
return 0
";

/// The settlements of a group of requests (the shape of
/// `crate::redis_link::Group`'s calls: see
/// `crate::redis_link::RedisLink::send_part_later`). Per request, KEYS:
/// per line spent, reservations, their sum; ARGV: how many keys and
/// arguments, then id, reserved, actual. Each reservation still in flight
/// leaves the set and the sum; each line's spend grows by the actual
/// costs. Per line one `ZMSCORE`, one `ZREM`, one `DECRBY`, one `INCRBY`,
/// whatever the number of requests. Returns per request, per line, the
/// spend after its own settlement (-1: the counter is gone).
const SETTLE: &str = r"
local L = {}
local out = {}
local ki, ai = 0, 1
for q = 1, tonumber(ARGV[1]) do
  local nk, na = tonumber(ARGV[ai+1]), tonumber(ARGV[ai+2])
  local a = ai + 2
  local id, est, actual = ARGV[a+1], ARGV[a+2], tonumber(ARGV[a+3])
  out[q] = {}
  for i = 0, nk / 3 - 1 do
    local s = KEYS[ki+i*3+1]
    local l = L[s]
    if not l then
      l = {r = KEYS[ki+i*3+2], q = KEYS[ki+i*3+3], members = {}, ests = {}, actual = {}, req = {}, line = {}}
      L[s] = l
    end
    local j = #l.members + 1
    l.members[j] = id .. ':' .. est
    l.ests[j] = tonumber(est)
    l.actual[j] = actual
    l.req[j] = q
    l.line[j] = i + 1
  end
  ki = ki + nk
  ai = a + na
end
for s, l in pairs(L) do
  local scores = redis.call('ZMSCORE', l.r, unpack(l.members))
  local gone, dec = {}, 0
  for j = 1, #l.members do
    if scores[j] then
      gone[#gone+1] = l.members[j]
      dec = dec + l.ests[j]
    end
  end
  if #gone > 0 then
    redis.call('ZREM', l.r, unpack(gone))
    -- A sum found below zero was missing (DECRBY made it) or out of
    -- step: dropped, the next check rebuilds it from the set.
    if dec > 0 and redis.call('DECRBY', l.q, dec) < 0 then redis.call('DEL', l.q) end
  end
  local total = 0
  for j = 1, #l.actual do total = total + l.actual[j] end
  local exists = redis.call('EXISTS', s) == 1
  local after = 0
  if exists then after = redis.call('INCRBY', s, total) - total end
  for j = 1, #l.actual do
    if exists then
      after = after + l.actual[j]
      out[l.req[j]][l.line[j]] = after
    else
      out[l.req[j]][l.line[j]] = -1
    end
  end
end
return out
";

/// The unused reservations of leases given back (the shape of
/// `crate::redis_link::Group`'s calls: see
/// `crate::redis_link::RedisLink::send_part_later`). Per lease, KEYS: per
/// line spent, reservations, their sum; ARGV: how many keys and
/// arguments, then the first unused id, one past the last, each
/// reservation's nano-dollars. The reservations of those ids leave the
/// set and the sum. Returns 0 per lease.
const GIVE_BACK: &str = crate::ratelimit::redis::give_back_lua!(
    "3",
    r"
      take_back(KEYS[ki+i*3+2], KEYS[ki+i*3+3], ms, per)
"
);

/// A budget check that goes out inside another script's call (the joint
/// admission, `crate::admission::JOINT`): its keys and its arguments,
/// written straight into that call.
pub(crate) struct CheckParts<'a> {
    ledger: &'a RedisLedger,
    lines: &'a [Line],
    /// The request's id on the budgets.
    pub(crate) id: u64,
    amount: i64,
    /// Each leased reservation's nano-dollars (0: no lease asked).
    pub(crate) per: i64,
}

impl CheckParts<'_> {
    /// How many keys [`CheckParts::write_keys`] writes.
    pub(crate) fn key_count(&self) -> usize {
        self.lines.len() * 3
    }

    /// How many arguments [`CheckParts::write_args`] writes.
    pub(crate) fn arg_count(&self) -> usize {
        4 + self.lines.len()
    }

    /// Puts the check under request `id` (the limits' id, when both go in
    /// one call), asking for `want` leased reservations of twice its
    /// amount each.
    pub(crate) fn lease(&mut self, id: u64, want: u64) {
        self.id = id;
        self.per = if want > 0 {
            self.amount.saturating_mul(2).max(1)
        } else {
            0
        };
    }

    /// Appends the check's keys.
    pub(crate) fn write_keys(&self, cmd: &mut Cmd) {
        self.ledger.keys(cmd, self.lines);
    }

    /// Appends the check's arguments (reserving the amount).
    pub(crate) fn write_args(&self, cmd: &mut Cmd) {
        RedisLedger::check_args(cmd, self.lines, self.id, Some(self.amount), self.per);
    }

    /// The check alone as one caller's part of a grouped call ([`CHECKS`]).
    fn part(&self) -> crate::redis_link::Part {
        let mut keys = Cmd::args();
        self.write_keys(&mut keys);
        let mut args = Cmd::args();
        args.int(self.key_count()).int(self.arg_count());
        self.write_args(&mut args);
        crate::redis_link::Part { keys, args }
    }
}

/// The answer of the check script.
pub(super) enum Checked {
    /// Where each line stands, and the first with no room.
    Done(Vec<Standing>, Option<usize>),
    /// These lines (0-based) have no counter yet: seed and ask again.
    Unseeded(Vec<usize>),
}

/// Budget counters in Redis.
pub(super) struct RedisLedger {
    link: std::sync::Arc<RedisLink>,
    prefix: String,
    check: Script,
    /// The reserving checks ([`CHECKS`]), for groups of requests.
    checks: crate::redis_link::Group,
    seed: Script,
    settle: std::sync::Arc<Script>,
    give_back: std::sync::Arc<Script>,
}

impl RedisLedger {
    pub(super) fn new(url: &str, prefix: &str) -> Result<Self, String> {
        let link = RedisLink::shared(url)?;
        Ok(RedisLedger {
            prefix: prefix.to_owned(),
            check: link.script(CHECK),
            checks: crate::redis_link::Group::new(link.script(CHECKS)),
            seed: link.script(SEED),
            settle: std::sync::Arc::new(link.script(SETTLE)),
            give_back: std::sync::Arc::new(link.script(GIVE_BACK)),
            link,
        })
    }

    /// Appends each line's three keys (written in place).
    fn keys(&self, cmd: &mut Cmd, lines: &[Line]) {
        let prefix = self.prefix.as_bytes();
        for line in lines {
            let key = line.key().as_bytes();
            cmd.parts(&[prefix, key, b":s"])
                .parts(&[prefix, key, b":r"])
                .parts(&[prefix, key, b":q"]);
        }
    }

    /// The check of `lines` for request `id`, reserving `amount`, to put in
    /// another script's call.
    pub(super) fn check_parts<'a>(
        &'a self,
        lines: &'a [Line],
        id: u64,
        amount: i64,
    ) -> CheckParts<'a> {
        CheckParts {
            ledger: self,
            lines,
            id,
            amount,
            per: 0,
        }
    }

    /// The link to Redis.
    pub(super) fn link(&self) -> &std::sync::Arc<RedisLink> {
        &self.link
    }

    /// Where `lines` stand (after the settlements queued before); with
    /// `amount`, reserves it on all when all have room, in one call with
    /// the other requests checked while a call is out (see
    /// [`crate::redis_link::Group`]).
    pub(super) async fn check(
        &self,
        lines: &[Line],
        id: u64,
        amount: Option<i64>,
        timeout: Duration,
    ) -> Result<Checked, String> {
        let reply = match amount {
            Some(amount) => {
                let part = self.check_parts(lines, id, amount).part();
                self.checks.call(&self.link, part, timeout).await?
            }
            None => {
                let cmd = self.check_cmd(lines, id, None);
                self.link.query_in_order(cmd, timeout).await?
            }
        };
        Self::check_reply(reply, lines.len())
    }

    /// What the reserving check calls sent.
    pub(super) fn checks_report(&self) -> crate::health::RedisAdmissionsReport {
        self.checks.report()
    }

    /// The command of [`RedisLedger::check`].
    pub(super) fn check_cmd(&self, lines: &[Line], id: u64, amount: Option<i64>) -> Cmd {
        let mut cmd = self.check.call(lines.len() * 3);
        self.keys(&mut cmd, lines);
        Self::check_args(&mut cmd, lines, id, amount, 0);
        cmd
    }

    /// The arguments of [`CHECK`] (after the keys).
    fn check_args(cmd: &mut Cmd, lines: &[Line], id: u64, amount: Option<i64>, per: i64) {
        cmd.int(id);
        match amount {
            Some(a) => cmd.int(a.max(0)),
            None => cmd.arg(b""),
        };
        cmd.int(RESERVATION_TTL_MS).int(per.max(0));
        for line in lines {
            cmd.int(line.limit);
        }
    }

    /// Whether a reply to the check says some lines have no counter yet
    /// (nothing was reserved).
    pub(super) fn unseeded(reply: &Reply) -> bool {
        matches!(reply, Reply::Array(items) if items.first().and_then(Reply::as_int) == Some(-1))
    }

    /// What the reply to [`RedisLedger::check_cmd`] for `lines` lines says.
    pub(super) fn check_reply(reply: Reply, lines: usize) -> Result<Checked, String> {
        let out = reply.into_ints()?;
        if out.first() == Some(&-1) {
            return Ok(Checked::Unseeded(
                out[1..]
                    .iter()
                    .filter_map(|i| usize::try_from(*i - 1).ok())
                    .collect(),
            ));
        }
        let at = |i: usize| out.get(i).copied().unwrap_or(0);
        let standings = (0..lines)
            .map(|i| Standing {
                spent: at(1 + i * 2),
                reserved: at(2 + i * 2),
            })
            .collect();
        let full = usize::try_from(at(0)).ok().and_then(|i| i.checked_sub(1));
        Ok(Checked::Done(standings, full))
    }

    /// Starts `line`'s counter at `spent` unless another instance did.
    pub(super) async fn seed(
        &self,
        line: &Line,
        spent: i64,
        timeout: Duration,
    ) -> Result<(), String> {
        let mut cmd = self.seed.call(1);
        cmd.parts(&[self.prefix.as_bytes(), line.key().as_bytes(), b":s"])
            .int(spent)
            .int(line.reset.map_or(0, |r| {
                r.timestamp_millis().saturating_add(KEEP_AFTER_PERIOD_MS)
            }));
        self.link.query(cmd, timeout).await?;
        Ok(())
    }

    /// Replaces request `id`'s reservation of `estimate` with `actual`, in
    /// the background (in one call with the other settlements queued with
    /// it); `then` gets per
    /// line the spend after (`None`: the counter is gone).
    pub(super) fn settle(
        &self,
        lines: super::Lines,
        id: u64,
        estimate: i64,
        actual: i64,
        then: impl FnOnce(&[Line], Result<Vec<Option<i64>>, String>) + Send + 'static,
    ) {
        let mut keys = Cmd::args();
        self.keys(&mut keys, &lines);
        let mut args = Cmd::args();
        args.int(lines.len() * 3)
            .int(3)
            .int(id)
            .int(estimate.max(0))
            .int(actual);
        let part = crate::redis_link::Part { keys, args };
        self.link.send_part_later(&self.settle, part, move |reply| {
            let after = reply
                .and_then(Reply::into_ints)
                .map(|out| out.into_iter().map(|v| (v >= 0).then_some(v)).collect());
            then(&lines, after);
        });
    }
}

impl RedisLedger {
    /// Gives back the reservations of ids `from..to`, leased on `lines`
    /// at `per` nano-dollars each and never used, in the background (with
    /// the settlements queued beside it).
    pub(super) fn give_back(&self, lines: &[Line], from: u64, to: u64, per: i64) {
        if from >= to {
            return;
        }
        let mut keys = Cmd::args();
        self.keys(&mut keys, lines);
        let mut args = Cmd::args();
        args.int(lines.len() * 3).int(3).int(from).int(to).int(per);
        let part = crate::redis_link::Part { keys, args };
        self.link.send_part_later(&self.give_back, part, |result| {
            if let Err(e) = result {
                tracing::warn!(error = %e, "budget lease give-back failed (the reservations expire on their own)");
            }
        });
    }
}
