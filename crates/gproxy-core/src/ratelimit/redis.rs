//! The Redis counters: per scope a sorted set of admission times
//! (`{prefix}{scope}:r`), one of token entries (`:t`, member
//! `{id}:{tokens}`, score the time) with their running sum (`:u`, so a
//! check costs what expired since the last one, not the whole window), and
//! one of concurrency slots (`:c`, score the slot's expiry). A lease (see
//! [`super::lease`]) is one entry that counts all its requests
//! (`{first}x{n}` in `:r`, `{first}x{n}:{tokens}` in `:t`); what such
//! entries count beyond one each is kept beside the set (`:x` for `:t`,
//! `:y` for `:r`) and taken off as they leave, so a set's requests are its
//! size plus that count. Its slots are one entry `{first}x` of `:c`, their
//! number in the hash `:z` (field `{first}x`), taken down as its requests
//! end. One Lua script
//! checks every scope and counts the request only when all have room, on
//! Redis's own clock (`TIME`), so instances with skewed clocks still share
//! one exact window.

use crate::redis_link::{Cmd, Group, Part, RedisLink, Reply, Script};

use super::window::{Exceeded, Seen};
use super::{Rules, Scope};

/// KEYS per scope: admissions, tokens, slots, token sum, the extra
/// requests counted by lease entries in the tokens and in the admissions
/// (`:x`, `:y`), and the slots each lease's slot entry holds (`:z`). ARGV: id, estimate, window ms, slot ttl ms, count (1/0),
/// the lease entries asked for (0: none) and the tokens of each, then per
/// scope rpm, tpm, concurrent. Returns {refused scope index (0: none),
/// kind (1 requests, 2 tokens, 3 concurrent), wait ms, entries leased,
/// then per scope requests, requests reset ms, tokens, tokens reset ms,
/// in flight}.
///
/// A scope with a token limit counts its requests on the token entries
/// (one per admitted request, one per lease) and leaves the admissions set
/// alone: one sorted set per request instead of two. The sum `:u`, the
/// extra count `:x` and the set `:t` always get the same expiry together;
/// entries leaving the window are taken off the sum and the count with
/// `DECRBY`, which keeps that expiry. A missing sum (keys written by an
/// older version) is rebuilt once from the set, with the count.
///
/// Every `redis.call` costs about a microsecond of the server's time on
/// top of its command (measured; docs/benchmarks.md), so the script makes
/// as few as it can.
///
/// Written as a Lua function, for [`CHECK`] and the joint admission script
/// (`crate::admission`): `rate_check(K, ko, nk, A, ao, now)` checks the
/// request whose `nk` keys follow index `ko` of `K` and whose arguments
/// follow index `ao` of `A` (a group's requests lie end to end, read in
/// place), and returns the reply and a function that counts the request
/// (in the call's state, written by `flush()`). It needs [`sum_lua`]
/// before it.
macro_rules! rate_lua {
    () => {
        r"
local function rate_check(K, ko, nk, A, ao, now)
local id, ests, win, ttl, count = A[ao+1], A[ao+2], num(A[ao+3]), num(A[ao+4]), A[ao+5]
local want, pers = num(A[ao+6]), A[ao+7]
local est, per = num(ests), num(pers)
local floor = now - win
local n = nk / 7
local out = {0, 0, 0, 0}
local sets = {}
local grant = want
for i = 0, n - 1 do
  local o = ko + i * 7
  local r, tk, c, u, x, y, z = K[o+1], K[o+2], K[o+3], K[o+4], K[o+5], K[o+6], K[o+7]
  local rpm, tpm, conc = num(A[ao+8+i*3]), num(A[ao+9+i*3]), num(A[ao+10+i*3])
  local rc, rreset, tsum, treset, cc = 0, 0, 0, 0, 0
  local ts, rs, cs
  if tpm > 0 then
    -- Kept a lease's life longer than the window: a lease's entry is
    -- dated at its end.
    ts = state(tk, u, floor, win + LEASE_MS, x)
    tsum = ts.sum
    local first = first_of(tk, ts)
    if first then treset = first + win - now end
    if rpm > 0 then
      rc = count_of(tk, ts)
      rreset = treset
    end
    if tsum + est > tpm then
      -- Refused: when enough of the oldest entries leave (those stored,
      -- then those this call adds).
      local left = tsum
      local all = redis.call('ZRANGE', tk, 0, -1, 'WITHSCORES')
      for j = 1, #ts.adds, 2 do
        all[#all+1] = ts.adds[j+1]
        all[#all+1] = ts.adds[j]
      end
      for j = 1, #all, 2 do
        left = left - amount_of(all[j])
        treset = tonumber(all[j+1]) + win - now
        if left + est <= tpm then break end
      end
    end
  elseif rpm > 0 then
    rs = state(r, nil, floor, win + LEASE_MS, y)
    rc = count_of(r, rs)
    local first = first_of(r, rs)
    if first then rreset = first + win - now end
  end
  if conc > 0 then
    cs = slot_state(c, z, now, ttl)
    cc = count_of(c, cs)
  end
  sets[i+1] = {ts, rs, cs}
  out[#out+1] = rc; out[#out+1] = rreset; out[#out+1] = tsum; out[#out+1] = treset; out[#out+1] = cc
  if out[1] == 0 and count == '1' then
    if conc > 0 and cc >= conc then out[1] = i + 1; out[2] = 3; out[3] = 1000
    elseif rpm > 0 and rc >= rpm then out[1] = i + 1; out[2] = 1; out[3] = math.max(rreset, 1)
    elseif tpm > 0 and tsum + est > tpm then out[1] = i + 1; out[2] = 2; out[3] = math.max(treset, 1)
    end
  end
  -- A lease only far from every limit: room left for LEASE_ROOM leases
  -- after this request.
  if grant > 0 then
    if rpm > 0 then grant = math.min(grant, math.floor((rpm - rc - 1) / LEASE_ROOM)) end
    if tpm > 0 then grant = math.min(grant, math.floor((tpm - tsum - est) / (LEASE_ROOM * per))) end
    if conc > 0 then grant = math.min(grant, math.floor((conc - cc - 1) / LEASE_ROOM)) end
  end
end
if grant < LEASE_MIN or out[1] ~= 0 or count ~= '1' then grant = 0 end
out[4] = grant
local function commit(g)
  g = g or grant
  -- A lease is one entry counting its g requests (`{first}x{g}`, and its
  -- tokens, g times per, replaced by what its requests used when they
  -- have all settled), and one slot entry (`{first}x`) holding g slots.
  local leased, block = {}, nil
  if g > 0 then
    local first = tonumber(id)
    for k = 1, g do leased[k] = string.format('%d', first + k) end
    block = leased[1] .. 'x' .. string.format('%d', g)
  end
  for i = 1, n do
    local ts, rs, cs = sets[i][1], sets[i][2], sets[i][3]
    if ts then
      add(ts, now, id .. ':' .. ests, est)
      if block then add(ts, now + LEASE_MS, block .. ':' .. string.format('%d', g * per), g * per, g - 1) end
    elseif rs then
      add(rs, now, id)
      if block then add(rs, now + LEASE_MS, block, nil, g - 1) end
    end
    if cs then
      add(cs, now + ttl, id)
      if block then add(cs, now + ttl, leased[1] .. 'x', nil, g - 1) end
    end
  end
end
return out, commit
end
"
    };
}
pub(crate) use rate_lua;

/// Redis's time in ms, as `now` (Lua).
macro_rules! now_lua {
    () => {
        "local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"
    };
}
pub(crate) use now_lua;

/// The script body of a grouped check (the shape of
/// [`crate::redis_link::Group`]'s calls): `$check` (`rate_check` or
/// `budget_check`) run for each request in turn on Redis's clock, what it
/// takes committed when it refuses nothing, everything written once at the
/// end; returns each request's reply.
macro_rules! checks_lua {
    ($check:literal) => {
        concat!(
            crate::ratelimit::redis::now_lua!(),
            "local out = {}
local ki, ai = 0, 1
for q = 1, tonumber(ARGV[1]) do
  local nk, na = num(ARGV[ai+1]), num(ARGV[ai+2])
  local a = ai + 2
  local r, commit = ",
            $check,
            "(KEYS, ki, nk, ARGV, a, now)
  if r[1] == 0 then commit() end
  out[q] = r
  ki = ki + nk
  ai = a + na
end
flush()
return out
"
        )
    };
}
pub(crate) use checks_lua;

/// Lua functions both checks use: `amount_of(member)` reads the amount
/// of an `{id}:{amount}` member, `extra_of(member)` the requests a lease's
/// entry `{id}x{n}...` counts beyond one; `take_off(key, n)` lowers a
/// count that exists (deleted below 0), `lower(key, n)` one that does
/// (held at 0), both keeping its expiry; `num(arg)` is `tonumber(arg)`,
/// remembered for the call (a group's requests repeat the same limits,
/// windows and counts); `score_of(n)` is a score as the text `ZADD` takes,
/// formatted once per call (Redis 7.0 turns a Lua number passed to
/// `redis.call` into text with `%.17g`, which cost more than the `ZADD`
/// it fed); `running_sum(set, sum, floor, ttl, xkey)` takes the members
/// scored up to `floor` out of `set` and their amounts off the running
/// sum `sum` (with `DECRBY`, which keeps its expiry) and their extra
/// requests off `xkey`, or rebuilds a missing sum (and count) from the
/// set (an older version's keys) and gives both `ttl`; it returns the sum
/// and the count; `trim(set, floor, xkey)` does the same for a set
/// without a sum.
///
/// And what one call (a group of requests) changes, per sorted set:
/// `state(set, sum, floor, ttl, xkey)` reads it once (the running sum when
/// there is one, else the members up to `floor` removed; the extra count
/// with `xkey`), `slot_state(set, hash, now, ttl)` a slot set and its
/// leases' slot counts; `count_of` and `first_of` read its size and first
/// score once, counting what the call adds; `add(state, score, member,
/// amount, extra)` adds in the call's state; `flush()` writes each set's
/// additions with one `ZADD`, one `INCRBY` of its sum and of its count
/// (or one `HSET` of its slot counts), and their expiry, at the end of the
/// call.
macro_rules! sum_lua {
    () => {
        r"
local LEASE_MS, LEASE_ROOM, LEASE_MIN = 1000, 16, 8
local function amount_of(m) return tonumber(string.match(m, ':(%d+)$')) or 0 end
local function extra_of(m)
  if string.find(m, 'x', 1, true) then return (tonumber(string.match(m, 'x(%d+)')) or 1) - 1 end
  return 0
end
local function take_off(key, n)
  if n ~= 0 and redis.call('EXISTS', key) == 1 and redis.call('DECRBY', key, n) < 0 then
    redis.call('DEL', key)
  end
end
local NUM, SCORE = {}, {}
local function num(v)
  local n = NUM[v]
  if not n then
    n = tonumber(v)
    NUM[v] = n
  end
  return n
end
local function score_of(n)
  local v = SCORE[n]
  if not v then
    v = string.format('%d', n)
    SCORE[n] = v
  end
  return v
end
local function lower(key, n)
  local v = redis.call('DECRBY', key, n)
  if v < 0 then
    redis.call('INCRBY', key, -v)
    v = 0
  end
  return v
end
local function running_sum(set, sum, floor, ttl, xkey)
  local total, extra = 0, 0
  local v = redis.call('GET', sum)
  if v then
    total = tonumber(v)
    if xkey then extra = tonumber(redis.call('GET', xkey)) or 0 end
    local gone = redis.call('ZRANGEBYSCORE', set, '-inf', floor)
    if #gone > 0 then
      local g, e = 0, 0
      for j = 1, #gone do
        g = g + amount_of(gone[j])
        if extra > 0 then e = e + extra_of(gone[j]) end
      end
      redis.call('ZREMRANGEBYSCORE', set, '-inf', floor)
      total = lower(sum, g)
      if e > 0 then extra = lower(xkey, e) end
    end
  else
    redis.call('ZREMRANGEBYSCORE', set, '-inf', floor)
    for _, m in ipairs(redis.call('ZRANGE', set, 0, -1)) do
      total = total + amount_of(m)
      extra = extra + extra_of(m)
    end
    if total > 0 then
      redis.call('SET', sum, total, 'PX', ttl)
      redis.call('PEXPIRE', set, ttl)
    end
    if xkey then
      if extra > 0 then redis.call('SET', xkey, extra, 'PX', ttl) else redis.call('DEL', xkey) end
    end
  end
  return total, extra
end
local function trim(set, floor, xkey)
  local extra = 0
  if xkey then extra = tonumber(redis.call('GET', xkey)) or 0 end
  if extra > 0 then
    local gone = redis.call('ZRANGEBYSCORE', set, '-inf', floor)
    if #gone > 0 then
      local e = 0
      for j = 1, #gone do e = e + extra_of(gone[j]) end
      redis.call('ZREMRANGEBYSCORE', set, '-inf', floor)
      if e > 0 then extra = lower(xkey, e) end
    end
  else
    redis.call('ZREMRANGEBYSCORE', set, '-inf', floor)
  end
  return extra
end
local S = {}
local function state(set, sum, floor, ttl, xkey)
  local s = S[set]
  if not s then
    s = {sum_key = sum, x_key = xkey, ttl = ttl, adds = {}, incr = 0, xincr = 0}
    if sum then
      s.sum, s.extra = running_sum(set, sum, floor, ttl, xkey)
    else
      s.extra = trim(set, floor, xkey)
    end
    S[set] = s
  end
  return s
end
local function slot_state(set, hash, now, ttl)
  local s = S[set]
  if not s then
    s = {ttl = ttl, adds = {}, incr = 0, xincr = 0, extra = 0, hash = hash, held = {}}
    local fields = redis.call('HGETALL', hash)
    if #fields > 0 then
      local dead = {}
      for _, m in ipairs(redis.call('ZRANGEBYSCORE', set, '-inf', now)) do dead[m] = true end
      local del = {}
      for j = 1, #fields, 2 do
        if dead[fields[j]] then del[#del+1] = fields[j] else s.extra = s.extra + tonumber(fields[j+1]) - 1 end
      end
      if #del > 0 then redis.call('HDEL', hash, unpack(del)) end
    end
    redis.call('ZREMRANGEBYSCORE', set, '-inf', now)
    S[set] = s
  end
  return s
end
local function count_of(set, s)
  if not s.n then s.n = redis.call('ZCARD', set) end
  return s.n + #s.adds / 2 + s.extra + s.xincr
end
local function first_of(set, s)
  if s.first == nil then
    local f = redis.call('ZRANGE', set, 0, 0, 'WITHSCORES')
    s.first = f[2] and tonumber(f[2]) or false
  end
  return s.first or s.first_add
end
local function add(s, score, member, amount, extra)
  if not s.first_add then s.first_add = score end
  s.adds[#s.adds+1] = score_of(score)
  s.adds[#s.adds+1] = member
  if amount then
    s.sum = s.sum + amount
    s.incr = s.incr + amount
  end
  if extra then
    s.xincr = s.xincr + extra
    if s.hash then s.held[#s.held+1] = member; s.held[#s.held+1] = extra + 1 end
  end
end
local function flush()
  for set, s in pairs(S) do
    if #s.adds > 0 then
      -- In slices: Lua's unpack takes at most about 8000 values (leases
      -- add up to two per entry).
      for j = 1, #s.adds, 4000 do
        redis.call('ZADD', set, unpack(s.adds, j, math.min(j + 3999, #s.adds)))
      end
      redis.call('PEXPIRE', set, s.ttl)
      if s.sum_key then
        redis.call('INCRBY', s.sum_key, s.incr)
        redis.call('PEXPIRE', s.sum_key, s.ttl)
      end
      if s.hash then
        if #s.held > 0 then redis.call('HSET', s.hash, unpack(s.held)) end
        if #s.held > 0 or s.extra > 0 then redis.call('PEXPIRE', s.hash, s.ttl) end
      elseif s.xincr > 0 then
        redis.call('INCRBY', s.x_key, s.xincr)
        redis.call('PEXPIRE', s.x_key, s.ttl)
      elseif s.extra > 0 then
        redis.call('PEXPIRE', s.x_key, s.ttl)
      end
    end
  end
  S = {}
end
"
    };
}
pub(crate) use sum_lua;

/// The rate-limit check: [`rate_lua`] on Redis's clock, counting the
/// request when `count` is `1` and every scope has room.
const CHECK: &str = concat!(
    sum_lua!(),
    rate_lua!(),
    now_lua!(),
    r"
local out, commit = rate_check(KEYS, 0, #KEYS, ARGV, 0, now)
if out[1] == 0 and ARGV[5] == '1' then
  commit()
  flush()
end
return out
"
);

/// The rate-limit checks of a group of requests (the shape of
/// [`crate::redis_link::Group`]'s calls), for limits kept in Redis without
/// the budgets beside them: each request is checked and counted in turn,
/// seeing what the ones before it took, as [`CHECK`] does for one. Per
/// request, ARGV: how many keys and arguments, then [`CHECK`]'s arguments;
/// returns per request [`CHECK`]'s reply.
const CHECKS: &str = concat!(sum_lua!(), rate_lua!(), checks_lua!("rate_check"));

/// The settlements of a group of requests (the shape of
/// [`crate::redis_link::Group`]'s calls: see
/// [`crate::redis_link::RedisLink::send_part_later`]). Per request, KEYS:
/// per scope its tokens set, slots set, token sum; ARGV: how many keys and
/// arguments, then id, estimate, actual (empty: keep), then per scope
/// tpm>0 (1/0), concurrent>0 (1/0). Each token entry still in its window is
/// replaced by one with the actual count (same time), and the sum moves
/// by the difference; the slots are freed. Per set one `ZMSCORE`, one
/// `ZREM`, one `ZADD`, whatever the number of requests. Returns 0 per
/// request.
const SETTLE: &str = concat!(
    sum_lua!(),
    r"
local T, C = {}, {}
local n = tonumber(ARGV[1])
local ki, ai = 0, 1
for q = 1, n do
  local nk, na = tonumber(ARGV[ai+1]), tonumber(ARGV[ai+2])
  local a = ai + 2
  local id, est, actual = ARGV[a+1], ARGV[a+2], ARGV[a+3]
  for i = 0, nk / 3 - 1 do
    local tk, c, u = KEYS[ki+i*3+1], KEYS[ki+i*3+2], KEYS[ki+i*3+3]
    if ARGV[a+4+i*2] == '1' and actual ~= '' then
      local t = T[tk]
      if not t then
        t = {u = u, old = {}, new = {}}
        T[tk] = t
      end
      t.old[#t.old+1] = id .. ':' .. est
      t.new[#t.new+1] = id .. ':' .. actual
    end
    if ARGV[a+5+i*2] == '1' then
      local ids = C[c]
      if not ids then
        ids = {}
        C[c] = ids
      end
      ids[#ids+1] = id
    end
  end
  ki = ki + nk
  ai = a + na
end
for tk, t in pairs(T) do
  local scores = redis.call('ZMSCORE', tk, unpack(t.old))
  local gone, adds, delta = {}, {}, 0
  for j = 1, #t.old do
    if scores[j] then
      gone[#gone+1] = t.old[j]
      adds[#adds+1] = scores[j]
      adds[#adds+1] = t.new[j]
      delta = delta + amount_of(t.new[j]) - amount_of(t.old[j])
    end
  end
  if #gone > 0 then
    redis.call('ZREM', tk, unpack(gone))
    redis.call('ZADD', tk, unpack(adds))
    if delta ~= 0 and redis.call('EXISTS', t.u) == 1 then redis.call('INCRBY', t.u, delta) end
  end
end
for c, ids in pairs(C) do redis.call('ZREM', c, unpack(ids)) end
local out = {}
for q = 1, n do out[q] = 0 end
return out
"
);

/// A script giving back the unused entries of leases (the shape of
/// [`crate::redis_link::Group`]'s calls): per lease, ARGV after the counts
/// holds the first unused id, one past the last, and each entry's amount;
/// `$body` runs per scope or line `i` (of `$keys` keys each) with `ids`
/// (the ids as text), `ms` (the `{id}:{amount}` members) and
/// `take_back(set, sum, members, amount)`, which removes the members and
/// their amounts from the running sum (none without a sum). Returns 0 per
/// lease.
macro_rules! give_back_lua {
    ($keys:literal, $body:literal) => {
        concat!(
            r"
local function take_back(set, sum, ms, per)
  local gone = redis.call('ZREM', set, unpack(ms))
  if sum and gone > 0 and redis.call('EXISTS', sum) == 1 and redis.call('DECRBY', sum, gone * tonumber(per)) < 0 then
    redis.call('DEL', sum)
  end
end
local out = {}
local ki, ai = 0, 1
for q = 1, tonumber(ARGV[1]) do
  local nk, na = tonumber(ARGV[ai+1]), tonumber(ARGV[ai+2])
  local a = ai + 2
  local from, to, per = tonumber(ARGV[a+1]), tonumber(ARGV[a+2]), ARGV[a+3]
  local ids, ms = {}, {}
  for id = from, to - 1 do
    local t = string.format('%d', id)
    ids[#ids+1] = t
    ms[#ms+1] = t .. ':' .. per
  end
  if #ids > 0 then
    for i = 0, nk / ",
            $keys,
            r" - 1 do",
            $body,
            r"    end
  end
  out[q] = 0
  ki = ki + nk
  ai = a + na
end
return out
"
        )
    };
}
pub(crate) use give_back_lua;

/// The end of leases (the shape of [`crate::redis_link::Group`]'s calls:
/// see [`crate::redis_link::RedisLink::send_part_later`]): what a lease
/// did not use given back, the tokens its requests used put on its
/// entry, the slots of its requests freed. Per lease, KEYS: per scope its
/// seven keys of [`CHECK`]; ARGV: how many keys and arguments, then the
/// lease's first id, its size `g` (0: only slots are freed), how many
/// entries it used, its tokens (`g` times each entry's), the tokens its
/// requests used (empty: not yet known), how many of its slots are freed,
/// then per scope rpm>0, tpm>0, concurrent>0 (1/0).
///
/// The lease's entry `{first}x{g}:{tokens}` (`{first}x{g}` where only
/// requests are counted) becomes `{first}x{used}:{tokens}` (its unused
/// requests leave the count `:x` or `:y`), then `{first}x{used}:{actual}`
/// once the tokens are known (the sum `:u` moves by the difference); a
/// lease that used nothing leaves whole. Each step finds the entry in
/// whichever form it has, so the give-back and the settlement may run in
/// either order. The lease's slots are one entry `{first}x` of `:c`
/// whose count is kept in the hash `:z`; freeing takes it down, and the
/// entry leaves at 0. Returns 0 per lease.
const LEASE_END: &str = concat!(
    sum_lua!(),
    r"
local out = {}
local ki, ai = 0, 1
for q = 1, tonumber(ARGV[1]) do
  local nk, na = tonumber(ARGV[ai+1]), tonumber(ARGV[ai+2])
  local a = ai + 2
  local first, g, used, tokens, actual = ARGV[a+1], tonumber(ARGV[a+2]), tonumber(ARGV[a+3]), ARGV[a+4], ARGV[a+5]
  local freed = tonumber(ARGV[a+6])
  local full = first .. 'x' .. string.format('%d', g)
  local kept = first .. 'x' .. string.format('%d', used)
  local slots = first .. 'x'
  for i = 0, nk / 7 - 1 do
    local o = ki + i * 7
    local r, tk, c, u, x, y, z = KEYS[o+1], KEYS[o+2], KEYS[o+3], KEYS[o+4], KEYS[o+5], KEYS[o+6], KEYS[o+7]
    local rpm, tpm, conc = ARGV[a+7+i*3], ARGV[a+8+i*3], ARGV[a+9+i*3]
    if g == 0 then
    elseif tpm == '1' then
      local was = full .. ':' .. tokens
      if used == 0 then
        if redis.call('ZREM', tk, was) == 1 then
          take_off(u, tonumber(tokens))
          take_off(x, g - 1)
        end
      else
        local now = kept .. ':' .. tokens
        local target = now
        if actual ~= '' then target = kept .. ':' .. actual end
        local sc = redis.call('ZMSCORE', tk, was, now)
        local from_m, score, less = nil, nil, 0
        if sc[1] and was ~= target then from_m, score, less = was, sc[1], g - used
        elseif sc[2] and now ~= target then from_m, score = now, sc[2] end
        if from_m then
          redis.call('ZREM', tk, from_m)
          redis.call('ZADD', tk, score, target)
          take_off(x, less)
          take_off(u, tonumber(tokens) - amount_of(target))
        end
      end
    elseif rpm == '1' and used < g then
      if used == 0 then
        if redis.call('ZREM', r, full) == 1 then take_off(y, g - 1) end
      else
        local score = redis.call('ZSCORE', r, full)
        if score then
          redis.call('ZREM', r, full)
          redis.call('ZADD', r, score, kept)
          take_off(y, g - used)
        end
      end
    end
    if conc == '1' and freed > 0 and redis.call('HEXISTS', z, slots) == 1
      and redis.call('HINCRBY', z, slots, -freed) <= 0 then
      redis.call('HDEL', z, slots)
      redis.call('ZREM', c, slots)
    end
  end
  out[q] = 0
  ki = ki + nk
  ai = a + na
end
return out
"
);

/// A refusal from the script: scope index, what, wait.
pub(super) type Refused = Option<(usize, Exceeded, u64)>;

/// What the check script said: the refusal (if any), where each scope
/// stands, and how many entries it leased (see [`super::lease`]).
pub(super) type Checked = (Refused, Vec<Seen>, u64);

/// Counters in Redis.
pub(super) struct RedisCounters {
    link: std::sync::Arc<RedisLink>,
    prefix: String,
    check: Script,
    settle: std::sync::Arc<Script>,
    lease_end: std::sync::Arc<Script>,
    /// The limit check and the budget check in one script, called for
    /// groups of requests (see `crate::admission`).
    joint: Group,
    /// The limit checks alone ([`CHECKS`]), for groups of requests.
    checks: Group,
}

impl std::fmt::Debug for RedisCounters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCounters")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisCounters {
    pub(super) fn new(url: &str, prefix: &str) -> Result<Self, String> {
        let link = RedisLink::shared(url)?;
        Ok(RedisCounters {
            prefix: prefix.to_owned(),
            check: link.script(CHECK),
            settle: std::sync::Arc::new(link.script(SETTLE)),
            lease_end: std::sync::Arc::new(link.script(LEASE_END)),
            joint: Group::new(link.script(crate::admission::JOINT)),
            checks: Group::new(link.script(CHECKS)),
            link,
        })
    }

    /// The link to Redis.
    pub(crate) fn link(&self) -> &std::sync::Arc<RedisLink> {
        &self.link
    }

    /// Checks (and, with `count`, counts) a request on every scope, after
    /// the settlements queued before (a look right after a request ends
    /// sees it settled).
    pub(super) async fn check(
        &self,
        scopes: &[Scope],
        rules: &Rules,
        id: u64,
        estimate: u64,
        count: bool,
    ) -> Result<Checked, String> {
        let cmd = self.check_cmd(scopes, rules, id, estimate, count);
        let reply = self.link.query_in_order(cmd, rules.timeout).await?;
        Self::check_reply(reply, scopes.len())
    }

    /// Checks request `id` on every scope and counts it when all have
    /// room, in one call with the other requests checked while a call is
    /// out (see [`Group`]); asks for a lease of up to `ask.0` entries of
    /// `ask.1` tokens each (ids `id + 1` on); the reply goes to
    /// [`RedisCounters::check_reply`].
    pub(super) async fn admission(
        &self,
        scopes: &[Scope],
        rules: &Rules,
        id: u64,
        estimate: u64,
        ask: (u64, u64),
    ) -> Result<Reply, String> {
        let mut keys = Cmd::args();
        Self::write_keys(&mut keys, scopes);
        let (key_count, arg_count) = Self::counts(scopes);
        let mut args = Cmd::args();
        args.int(key_count).int(arg_count);
        Self::check_args(&mut args, scopes, rules, id, estimate, true, ask);
        self.checks
            .call(&self.link, Part { keys, args }, rules.timeout)
            .await
    }

    /// The command of [`RedisCounters::check`].
    pub(super) fn check_cmd(
        &self,
        scopes: &[Scope],
        rules: &Rules,
        id: u64,
        estimate: u64,
        count: bool,
    ) -> Cmd {
        let mut cmd = self.check.call(Self::counts(scopes).0);
        Self::write_keys(&mut cmd, scopes);
        Self::check_args(&mut cmd, scopes, rules, id, estimate, count, (0, 0));
        cmd
    }

    /// Appends each scope's seven keys of [`CHECK`].
    fn write_keys(cmd: &mut Cmd, scopes: &[Scope]) {
        for s in scopes {
            cmd.encoded(s.redis_keys(), 7);
        }
    }

    /// How many keys and arguments [`CHECK`] takes for `scopes`.
    fn counts(scopes: &[Scope]) -> (usize, usize) {
        (scopes.len() * 7, 7 + scopes.len() * 3)
    }

    /// The arguments of [`CHECK`] (after the keys).
    fn check_args(
        cmd: &mut Cmd,
        scopes: &[Scope],
        rules: &Rules,
        id: u64,
        estimate: u64,
        count: bool,
        (want, per): (u64, u64),
    ) {
        cmd.int(id)
            .int(estimate)
            .int(rules.window_ms)
            .int(rules.slot_ttl_ms)
            .arg(if count { b"1" } else { b"0" })
            .int(want)
            .int(per);
        for s in scopes {
            cmd.int(s.caps.rpm).int(s.caps.tpm).int(s.caps.concurrent);
        }
    }

    /// What the joint admission calls sent.
    pub(super) fn joint_report(&self) -> crate::health::RedisAdmissionsReport {
        self.joint.report()
    }

    /// What the limit-only admission calls sent.
    pub(super) fn checks_report(&self) -> crate::health::RedisAdmissionsReport {
        self.checks.report()
    }

    /// This request's part of a joint admission call
    /// (`crate::admission::JOINT`): this check of `scopes`, counting and
    /// asking for a lease as `ask` says (see [`RedisCounters::admission`]),
    /// and the budget check `budget`; and the group that sends it.
    pub(super) fn joint_part(
        &self,
        scopes: &[Scope],
        rules: &Rules,
        id: u64,
        estimate: u64,
        ask: (u64, u64),
        budget: &crate::budget::redis::CheckParts<'_>,
    ) -> (Part, &Group) {
        let mut keys = Cmd::args();
        Self::write_keys(&mut keys, scopes);
        budget.write_keys(&mut keys);
        let (key_count, arg_count) = Self::counts(scopes);
        let mut args = Cmd::args();
        args.int(key_count)
            .int(arg_count)
            .int(budget.key_count())
            .int(budget.arg_count());
        Self::check_args(&mut args, scopes, rules, id, estimate, true, ask);
        budget.write_args(&mut args);
        (Part { keys, args }, &self.joint)
    }

    /// What the reply to [`RedisCounters::check_cmd`] for `scopes` scopes
    /// says.
    pub(super) fn check_reply(reply: Reply, scopes: usize) -> Result<Checked, String> {
        let out = reply.into_ints()?;
        let n = |i: usize| out.get(i).copied().unwrap_or(0).max(0).unsigned_abs();
        let seen = (0..scopes)
            .map(|i| {
                let b = 4 + i * 5;
                Seen {
                    requests: n(b),
                    requests_reset_ms: n(b + 1),
                    tokens: n(b + 2),
                    tokens_reset_ms: n(b + 3),
                    in_flight: n(b + 4),
                }
            })
            .collect();
        let refused = match (n(0), n(1)) {
            (0, _) => None,
            (i, kind) => Some((
                usize::try_from(i - 1).unwrap_or(0),
                match kind {
                    1 => Exceeded::Requests,
                    2 => Exceeded::Tokens,
                    _ => Exceeded::Concurrent,
                },
                n(2),
            )),
        };
        Ok((refused, seen, n(3)))
    }

    /// Replaces the token reservation and frees the slots of request `id`,
    /// in the background (in one call with the other settlements queued
    /// with it).
    pub(super) fn settle(&self, scopes: &[Scope], id: u64, estimate: u64, actual: Option<u64>) {
        let mut keys = Cmd::args();
        for s in scopes {
            keys.encoded(s.redis_settle_keys(), 3);
        }
        let mut args = Cmd::args();
        args.int(scopes.len() * 3).int(3 + scopes.len() * 2);
        args.int(id).int(estimate);
        match actual {
            Some(a) => args.int(a),
            None => args.arg(b""),
        };
        for s in scopes {
            args.int(u8::from(s.caps.tpm > 0))
                .int(u8::from(s.caps.concurrent > 0));
        }
        self.link
            .send_part_later(&self.settle, Part { keys, args }, |result| {
                if let Err(e) = result {
                    tracing::warn!(error = %e, "rate-limit settle failed (slots expire on their own)");
                }
            });
    }
}

impl RedisCounters {
    /// Ends the lease of `size` entries from id `first` leased on
    /// `scopes` with `tokens` tokens, of which it used `used`, in the
    /// background ([`LEASE_END`], with the settlements queued beside it):
    /// the entries it did not use leave the counts and `freed` of its
    /// slots are freed; with `actual`, its entry takes the tokens its
    /// requests used.
    pub(super) fn lease_end(
        &self,
        scopes: &[Scope],
        lease: (u64, u64, u64),
        tokens: u64,
        actual: Option<u64>,
        freed: u64,
    ) {
        let part = Self::lease_end_part(scopes, lease, tokens, actual, freed);
        self.link
            .send_part_later(&self.lease_end, part, Self::lease_end_failed);
    }

    /// Frees slots of the lease from id `first` on `scopes`, as many as
    /// `freed` says when the queue is sent (`None`: none).
    pub(super) fn lease_slots_freed(
        &self,
        scopes: &[Scope],
        first: u64,
        freed: impl FnOnce() -> Option<u64> + Send + 'static,
    ) {
        let scopes = scopes.to_vec();
        self.link.send_lazy_part_later(
            &self.lease_end,
            move || {
                let n = freed()?;
                Some(Self::lease_end_part(&scopes, (first, 0, 0), 0, None, n))
            },
            Self::lease_end_failed,
        );
    }

    fn lease_end_failed(result: Result<Reply, String>) {
        if let Err(e) = result {
            tracing::warn!(error = %e, "rate-limit lease end failed (its entries leave with the window, its slots with their expiry)");
        }
    }

    /// A part of [`LEASE_END`].
    fn lease_end_part(
        scopes: &[Scope],
        (first, size, used): (u64, u64, u64),
        tokens: u64,
        actual: Option<u64>,
        freed: u64,
    ) -> Part {
        let mut keys = Cmd::args();
        Self::write_keys(&mut keys, scopes);
        let mut args = Cmd::args();
        args.int(scopes.len() * 7).int(6 + scopes.len() * 3);
        args.int(first).int(size).int(used).int(tokens);
        match actual {
            Some(a) => args.int(a),
            None => args.arg(b""),
        };
        args.int(freed);
        for s in scopes {
            args.int(u8::from(s.caps.rpm > 0))
                .int(u8::from(s.caps.tpm > 0))
                .int(u8::from(s.caps.concurrent > 0));
        }
        Part { keys, args }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::config::RateLimitsConfig;
    use crate::ratelimit::{RateLimiter, RateRefusal};
    use crate::redis_link::{Cmd, RedisLink};

    fn limiter(url: &str, prefix: &str) -> RateLimiter {
        let config: RateLimitsConfig = toml::from_str(&format!(
            "backend = \"redis\"\nredis_url = \"{url}\"\nredis_prefix = \"{prefix}\"\nwindow_secs = 1\n[users.alice]\ntpm = 100\n"
        ))
        .unwrap();
        RateLimiter::build(&config, None).unwrap()
    }

    fn refused_for_tokens(r: &Result<super::super::Permit, RateRefusal>) -> bool {
        matches!(r, Err(RateRefusal::Exceeded { what: "tokens", .. }))
    }

    #[tokio::test]
    async fn the_token_sum_follows_admissions_settlements_and_expiry() {
        let Some(url) = crate::redis_link::tests::redis().await else {
            return;
        };
        let prefix = format!("gproxy-test-tpm-{}:", crate::ratelimit::rand_seed());
        let l = limiter(&url, &prefix);
        let scopes = || l.scopes("alice", "sk-a", "p", "m");
        let first = l.admit(scopes(), 60).await.unwrap();
        assert!(refused_for_tokens(&l.admit(scopes(), 60).await));
        // Settled at 10 real tokens: the next check (which takes the
        // settlement along, ahead of itself) finds 10 + 60 <= 100.
        first.settle(Some(10));
        let second = l.admit(scopes(), 60).await.unwrap();
        assert_eq!(second.headers.tokens.map(|t| t.remaining), Some(30));
        second.settle(None);
        // After the window everything has left, and the sum with it.
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        let third = l.admit(scopes(), 100).await.unwrap();
        third.settle(None);
        // A sum lost (keys from a version without it) is rebuilt from the
        // entries still in the window.
        let link = RedisLink::new(&url).unwrap();
        let mut del = Cmd::new("DEL");
        del.arg(format!("{prefix}user:alice:u").as_bytes());
        assert_eq!(
            link.query(del, Duration::from_secs(1)).await.unwrap(),
            crate::redis_link::Reply::Int(1)
        );
        assert!(refused_for_tokens(&l.admit(scopes(), 1).await));
    }

    #[tokio::test]
    async fn with_a_token_limit_the_requests_are_counted_on_the_token_entries() {
        let Some(url) = crate::redis_link::tests::redis().await else {
            return;
        };
        let prefix = format!("gproxy-test-rpm-tpm-{}:", crate::ratelimit::rand_seed());
        let config: RateLimitsConfig = toml::from_str(&format!(
            "backend = \"redis\"\nredis_url = \"{url}\"\nredis_prefix = \"{prefix}\"\nwindow_secs = 1\n[users.alice]\nrpm = 2\ntpm = 1000\n"
        ))
        .unwrap();
        let l = RateLimiter::build(&config, None).unwrap();
        let scopes = || l.scopes("alice", "sk-a", "p", "m");
        let first = l.admit(scopes(), 10).await.unwrap();
        let second = l.admit(scopes(), 10).await.unwrap();
        assert_eq!(second.headers.requests.map(|r| r.remaining), Some(0));
        // Settled (the entry found by its member): the count stays, the
        // tokens change.
        first.settle(Some(300));
        second.settle(None);
        match l.admit(scopes(), 10).await {
            Err(RateRefusal::Exceeded {
                what: "requests",
                headers,
                ..
            }) => assert_eq!(headers.tokens.map(|t| t.remaining), Some(690)),
            other => panic!("{other:?}"),
        }
        // No admissions set was written.
        let link = RedisLink::new(&url).unwrap();
        let mut exists = Cmd::new("EXISTS");
        exists.arg(format!("{prefix}user:alice:r").as_bytes());
        assert_eq!(
            link.query(exists, Duration::from_secs(1)).await.unwrap(),
            crate::redis_link::Reply::Int(0)
        );
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        l.admit(scopes(), 10).await.unwrap().settle(None);
    }

    #[tokio::test]
    async fn a_check_that_times_out_gives_back_the_slot_it_may_have_taken() {
        let Some(url) = crate::redis_link::tests::redis().await else {
            return;
        };
        let slow = crate::redis_link::tests::slow(&url, Duration::from_millis(300)).await;
        let prefix = format!("gproxy-test-late-{}:", crate::ratelimit::rand_seed());
        let config: RateLimitsConfig = toml::from_str(&format!(
            "backend = \"redis\"\nredis_url = \"{slow}\"\nredis_prefix = \"{prefix}\"\nredis_timeout_ms = 100\n[users.alice]\nconcurrent = 1\n"
        ))
        .unwrap();
        let l = RateLimiter::build(&config, None).unwrap();
        // Served unchecked (fail-open), though the script ran and took the
        // one slot...
        let permit = l.admit(l.scopes("alice", "k", "p", "m"), 10).await.unwrap();
        assert!(permit.headers.requests.is_none() && permit.headers.tokens.is_none());
        // ...which the release queued behind it gives back.
        let direct = RedisLink::new(&url).unwrap();
        let slots = || {
            let mut zcard = Cmd::new("ZCARD");
            zcard.arg(format!("{prefix}user:alice:c").as_bytes());
            direct.query(zcard, Duration::from_secs(1))
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(3);
        loop {
            let n = slots().await.unwrap();
            if n == crate::redis_link::Reply::Int(0) {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "slot still held: {n:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        drop(permit);
    }
}
