//! The Redis counters: per scope a sorted set of admission times
//! (`{prefix}{scope}:r`), one of token entries (`:t`, member
//! `{id}:{tokens}`, score the time) and one of concurrency slots (`:c`,
//! score the slot's expiry). One Lua script checks every scope and counts
//! the request only when all have room, on Redis's own clock (`TIME`), so
//! instances with skewed clocks still share one exact window.

use crate::redis_link::{Cmd, RedisLink, Reply, Script};

use super::window::{Exceeded, Seen};
use super::{Rules, Scope};

/// ARGV: id, estimate, window ms, slot ttl ms, count (1/0), then per scope
/// rpm, tpm, concurrent. Returns {refused scope index (0: none), kind
/// (1 requests, 2 tokens, 3 concurrent), wait ms, then per scope
/// requests, requests reset ms, tokens, tokens reset ms, in flight}.
const CHECK: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local id, est, win, ttl, count = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local n = #KEYS / 3
local out = {0, 0, 0}
for i = 0, n - 1 do
  local r, tk, c = KEYS[i*3+1], KEYS[i*3+2], KEYS[i*3+3]
  local rpm, tpm, conc = tonumber(ARGV[6+i*3]), tonumber(ARGV[7+i*3]), tonumber(ARGV[8+i*3])
  local rc, rreset, tsum, treset, cc = 0, 0, 0, 0, 0
  if rpm > 0 then
    redis.call('ZREMRANGEBYSCORE', r, '-inf', now - win)
    rc = redis.call('ZCARD', r)
    local first = redis.call('ZRANGE', r, 0, 0, 'WITHSCORES')
    if first[2] then rreset = tonumber(first[2]) + win - now end
  end
  if tpm > 0 then
    redis.call('ZREMRANGEBYSCORE', tk, '-inf', now - win)
    local all = redis.call('ZRANGE', tk, 0, -1, 'WITHSCORES')
    local ws = {}
    for j = 1, #all, 2 do
      local w = tonumber(string.match(all[j], ':(%d+)$')) or 0
      ws[#ws+1] = {tonumber(all[j+1]), w}
      tsum = tsum + w
    end
    if ws[1] then treset = ws[1][1] + win - now end
    if tsum + est > tpm then
      local left = tsum
      for j = 1, #ws do
        left = left - ws[j][2]
        treset = ws[j][1] + win - now
        if left + est <= tpm then break end
      end
    end
  end
  if conc > 0 then
    redis.call('ZREMRANGEBYSCORE', c, '-inf', now)
    cc = redis.call('ZCARD', c)
  end
  out[#out+1] = rc; out[#out+1] = rreset; out[#out+1] = tsum; out[#out+1] = treset; out[#out+1] = cc
  if out[1] == 0 and count == '1' then
    if conc > 0 and cc >= conc then out[1] = i + 1; out[2] = 3; out[3] = 1000
    elseif rpm > 0 and rc >= rpm then out[1] = i + 1; out[2] = 1; out[3] = math.max(rreset, 1)
    elseif tpm > 0 and tsum + est > tpm then out[1] = i + 1; out[2] = 2; out[3] = math.max(treset, 1)
    end
  end
end
if out[1] == 0 and count == '1' then
  for i = 0, n - 1 do
    local r, tk, c = KEYS[i*3+1], KEYS[i*3+2], KEYS[i*3+3]
    if tonumber(ARGV[6+i*3]) > 0 then
      redis.call('ZADD', r, now, id)
      redis.call('PEXPIRE', r, win)
    end
    if tonumber(ARGV[7+i*3]) > 0 then
      redis.call('ZADD', tk, now, id .. ':' .. est)
      redis.call('PEXPIRE', tk, win)
    end
    if tonumber(ARGV[8+i*3]) > 0 then
      redis.call('ZADD', c, now + ttl, id)
      redis.call('PEXPIRE', c, ttl)
    end
  end
end
return out
";

/// KEYS per scope: tokens set, slots set. ARGV: id, estimate, actual
/// (empty: keep), then per scope tpm>0 (1/0), concurrent>0 (1/0).
const SETTLE: &str = r"
local id, est, actual = ARGV[1], ARGV[2], ARGV[3]
for i = 0, #KEYS / 2 - 1 do
  local tk, c = KEYS[i*2+1], KEYS[i*2+2]
  if ARGV[4+i*2] == '1' and actual ~= '' then
    local old = id .. ':' .. est
    local score = redis.call('ZSCORE', tk, old)
    if score then
      redis.call('ZREM', tk, old)
      redis.call('ZADD', tk, score, id .. ':' .. actual)
    end
  end
  if ARGV[5+i*2] == '1' then redis.call('ZREM', c, id) end
end
return 0
";

/// A refusal from the script: scope index, what, wait.
pub(super) type Refused = Option<(usize, Exceeded, u64)>;

/// Counters in Redis.
pub(super) struct RedisCounters {
    link: std::sync::Arc<RedisLink>,
    prefix: String,
    check: Script,
    settle: Script,
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
        Ok(RedisCounters {
            link: RedisLink::shared(url)?,
            prefix: prefix.to_owned(),
            check: Script::new(CHECK),
            settle: Script::new(SETTLE),
        })
    }

    /// The link to Redis.
    pub(crate) fn link(&self) -> &std::sync::Arc<RedisLink> {
        &self.link
    }

    /// Checks (and, with `count`, counts) a request on every scope.
    pub(super) async fn check(
        &self,
        scopes: &[Scope],
        rules: &Rules,
        id: u64,
        estimate: u64,
        count: bool,
    ) -> Result<(Refused, Vec<Seen>), String> {
        let cmd = self.check_cmd(scopes, rules, id, estimate, count);
        let reply = self.link.query(cmd, rules.timeout).await?;
        Self::check_reply(reply, scopes.len())
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
        let mut cmd = self.check.call(scopes.len() * 3);
        for s in scopes {
            cmd.encoded(s.redis_keys(), 3);
        }
        cmd.int(id)
            .int(estimate)
            .int(rules.window_ms)
            .int(rules.slot_ttl_ms)
            .arg(if count { b"1" } else { b"0" });
        for s in scopes {
            cmd.int(s.caps.rpm).int(s.caps.tpm).int(s.caps.concurrent);
        }
        cmd
    }

    /// What the reply to [`RedisCounters::check_cmd`] for `scopes` scopes
    /// says.
    pub(super) fn check_reply(reply: Reply, scopes: usize) -> Result<(Refused, Vec<Seen>), String> {
        let out = reply.into_ints()?;
        let n = |i: usize| out.get(i).copied().unwrap_or(0).max(0).unsigned_abs();
        let seen = (0..scopes)
            .map(|i| {
                let b = 3 + i * 5;
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
        Ok((refused, seen))
    }

    /// Replaces the token reservation and frees the slots of request `id`,
    /// in the background (batched with other settlements).
    pub(super) fn settle(&self, scopes: &[Scope], id: u64, estimate: u64, actual: Option<u64>) {
        let mut cmd = self.settle.call(scopes.len() * 2);
        for s in scopes {
            cmd.encoded(s.redis_settle_keys(), 2);
        }
        cmd.int(id).int(estimate);
        match actual {
            Some(a) => cmd.int(a),
            None => cmd.arg(b""),
        };
        for s in scopes {
            cmd.int(u8::from(s.caps.tpm > 0))
                .int(u8::from(s.caps.concurrent > 0));
        }
        self.link.send_later(cmd, |result| {
            if let Err(e) = result {
                tracing::warn!(error = %e, "rate-limit settle failed (slots expire on their own)");
            }
        });
    }
}
