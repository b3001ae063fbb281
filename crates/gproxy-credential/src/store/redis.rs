//! The Redis [`LimiterStore`]: circuits as a hash plus a sorted set of
//! failure times, cooldowns as keys with a TTL. Every circuit operation is
//! one Lua script, so it is atomic across gateway instances.
//!
//! Keys (under the configured prefix): `circuit:{name}` (hash:
//! `open_until`, `probe_until`, `rl_since`, `rl_last`), `failures:{name}` (sorted set
//! of failure times), `cooldown:{credential}[:{model}]` (the end time,
//! expiring with it).
//!
//! The connection is made lazily and re-made by the connection manager;
//! every call is bounded by a timeout. While Redis cannot be reached a call
//! fails fast (one connection attempt per [`RECONNECT_INTERVAL_MS`]), and
//! the caller serves from local state.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, Script};
use tokio::sync::Mutex;

use super::{LimiterStore, StoreError};
use crate::circuit::{Admission, CircuitConfig, CircuitEvent, CircuitView, Recorded, view_of};

/// The longest a Redis call may take before the caller falls back.
pub const OP_TIMEOUT: Duration = Duration::from_millis(500);
/// How long after a failed connection attempt the next one is made.
pub const RECONNECT_INTERVAL_MS: u64 = 5_000;

const ADMIT: &str = r"
local open_until = tonumber(redis.call('HGET', KEYS[1], 'open_until') or '0')
local now = tonumber(ARGV[1])
if ARGV[3] == '0' or open_until == 0 then return {0, 0} end
if now < open_until then return {2, open_until} end
local probe_until = tonumber(redis.call('HGET', KEYS[1], 'probe_until') or '0')
if probe_until > now then return {2, probe_until} end
local cooldown = tonumber(ARGV[2])
if cooldown < 1 then cooldown = 1 end
redis.call('HSET', KEYS[1], 'probe_until', now + cooldown)
return {1, 0}
";

const RECORD: &str = r"
local h, z = KEYS[1], KEYS[2]
local ev, now = ARGV[1], tonumber(ARGV[2])
local window, threshold, cooldown = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local escalation, enabled, member, ttl = tonumber(ARGV[6]), ARGV[7], ARGV[8], tonumber(ARGV[9])
local open_until = tonumber(redis.call('HGET', h, 'open_until') or '0')
local escalated = 0
if ev == 'g' then
  local since = tonumber(redis.call('HGET', h, 'rl_since') or '0')
  local last = tonumber(redis.call('HGET', h, 'rl_last') or '0')
  if since == 0 or now - last > escalation then
    since = now
    redis.call('HSET', h, 'rl_since', now)
  end
  redis.call('HSET', h, 'rl_last', now)
  if now - since >= escalation then
    ev = 'f'
    escalated = 1
  else
    ev = 'r'
  end
end
local half_open = open_until ~= 0 and now >= open_until
if ev == 's' then
  redis.call('HSET', h, 'rl_since', 0)
  if half_open then
    redis.call('HSET', h, 'open_until', 0, 'probe_until', 0)
    redis.call('DEL', z)
    open_until = 0
  end
elseif ev == 'r' then
  if half_open then redis.call('HSET', h, 'probe_until', 0) end
elseif ev == 'f' then
  if half_open then
    open_until = now + cooldown
    redis.call('HSET', h, 'open_until', open_until, 'probe_until', 0)
  else
    redis.call('ZADD', z, now, member)
    redis.call('ZREMRANGEBYSCORE', z, '-inf', now - window)
    redis.call('PEXPIRE', z, ttl)
    if enabled == '1' and open_until == 0 and redis.call('ZCARD', z) >= threshold then
      open_until = now + cooldown
      redis.call('HSET', h, 'open_until', open_until, 'probe_until', 0)
    end
  end
end
redis.call('PEXPIRE', h, ttl)
redis.call('ZREMRANGEBYSCORE', z, '-inf', now - window)
return {open_until, redis.call('ZCARD', z), escalated}
";

const VIEW: &str = r"
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
local open_until = tonumber(redis.call('HGET', KEYS[1], 'open_until') or '0')
return {open_until, redis.call('ZCARD', KEYS[2])}
";

const SET_COOLDOWN: &str = r"
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local until_ms, now = tonumber(ARGV[1]), tonumber(ARGV[2])
if until_ms > current and until_ms > now then
  redis.call('SET', KEYS[1], until_ms, 'PX', until_ms - now)
end
return 0
";

/// Shared state in Redis.
pub struct RedisStore {
    client: Client,
    prefix: String,
    conn: Mutex<Option<ConnectionManager>>,
    next_attempt_ms: AtomicU64,
    admit: Script,
    record: Script,
    view: Script,
    set_cooldown: Script,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn err(message: impl std::fmt::Display) -> StoreError {
    StoreError {
        backend: "redis",
        message: message.to_string(),
    }
}

impl RedisStore {
    /// A store at `url` (`redis://host:port[/db]`) whose keys all start
    /// with `prefix`. Does not connect yet.
    pub fn new(url: &str, prefix: &str) -> Result<Self, StoreError> {
        let client = Client::open(url).map_err(|e| err(format!("invalid redis_url: {e}")))?;
        Ok(RedisStore {
            client,
            prefix: prefix.to_owned(),
            conn: Mutex::new(None),
            next_attempt_ms: AtomicU64::new(0),
            admit: Script::new(ADMIT),
            record: Script::new(RECORD),
            view: Script::new(VIEW),
            set_cooldown: Script::new(SET_COOLDOWN),
        })
    }

    /// Connects now (start-up check); later calls reconnect on their own.
    pub async fn connect(&self) -> Result<(), StoreError> {
        self.connection().await.map(|_| ())
    }

    async fn connection(&self) -> Result<ConnectionManager, StoreError> {
        let mut slot = self.conn.lock().await;
        if let Some(conn) = slot.as_ref() {
            return Ok(conn.clone());
        }
        let now = crate::clock::now_ms();
        if now < self.next_attempt_ms.load(Ordering::Relaxed) {
            return Err(err(
                "unreachable (waiting before the next connection attempt)",
            ));
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(OP_TIMEOUT)
            .set_response_timeout(OP_TIMEOUT)
            .set_number_of_retries(1);
        let made = tokio::time::timeout(
            OP_TIMEOUT * 2,
            ConnectionManager::new_with_config(self.client.clone(), config),
        )
        .await;
        match made {
            Ok(Ok(conn)) => {
                *slot = Some(conn.clone());
                Ok(conn)
            }
            Ok(Err(e)) => {
                self.next_attempt_ms
                    .store(now + RECONNECT_INTERVAL_MS, Ordering::Relaxed);
                Err(err(format!("cannot connect: {e}")))
            }
            Err(_) => {
                self.next_attempt_ms
                    .store(now + RECONNECT_INTERVAL_MS, Ordering::Relaxed);
                Err(err("cannot connect: timed out"))
            }
        }
    }

    async fn run<T: redis::FromRedisValue>(
        &self,
        invocation: redis::ScriptInvocation<'_>,
    ) -> Result<T, StoreError> {
        let mut conn = self.connection().await?;
        match tokio::time::timeout(OP_TIMEOUT, invocation.invoke_async(&mut conn)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(err(e)),
            Err(_) => Err(err("timed out")),
        }
    }

    fn keys(&self, circuit: &str) -> (String, String) {
        (
            format!("{}circuit:{circuit}", self.prefix),
            format!("{}failures:{circuit}", self.prefix),
        )
    }
}

fn ttl(cfg: &CircuitConfig) -> u64 {
    (cfg.window_ms + cfg.cooldown_ms + cfg.escalation_ms).max(1_000) * 2
}

#[async_trait::async_trait]
impl LimiterStore for RedisStore {
    fn backend(&self) -> &'static str {
        "redis"
    }

    async fn admit(
        &self,
        circuit: &str,
        now_ms: u64,
        cfg: &CircuitConfig,
    ) -> Result<Admission, StoreError> {
        let (h, _) = self.keys(circuit);
        let mut inv = self.admit.prepare_invoke();
        inv.key(h)
            .arg(now_ms)
            .arg(cfg.cooldown_ms)
            .arg(u8::from(cfg.enabled));
        let (kind, until): (u8, u64) = self.run(inv).await?;
        Ok(match kind {
            0 => Admission::Allowed,
            1 => Admission::Probe,
            _ => Admission::Rejected { until_ms: until },
        })
    }

    async fn record(
        &self,
        circuit: &str,
        event: CircuitEvent,
        now_ms: u64,
        cfg: &CircuitConfig,
    ) -> Result<Recorded, StoreError> {
        let (h, z) = self.keys(circuit);
        let ev = match event {
            CircuitEvent::Success => "s",
            CircuitEvent::Failure => "f",
            CircuitEvent::GlobalRateLimit => "g",
            CircuitEvent::Release => "r",
        };
        let member = format!("{now_ms}-{:016x}", rand_u64());
        let mut inv = self.record.prepare_invoke();
        inv.key(h)
            .key(z)
            .arg(ev)
            .arg(now_ms)
            .arg(cfg.window_ms)
            .arg(cfg.failure_threshold)
            .arg(cfg.cooldown_ms)
            .arg(cfg.escalation_ms)
            .arg(u8::from(cfg.enabled))
            .arg(member)
            .arg(ttl(cfg));
        let (open_until, failures, escalated): (u64, u32, u8) = self.run(inv).await?;
        Ok(Recorded {
            view: view_of(open_until, failures, now_ms),
            escalated: escalated == 1,
        })
    }

    async fn view(
        &self,
        circuit: &str,
        now_ms: u64,
        cfg: &CircuitConfig,
    ) -> Result<CircuitView, StoreError> {
        let (h, z) = self.keys(circuit);
        let mut inv = self.view.prepare_invoke();
        inv.key(h).key(z).arg(now_ms).arg(cfg.window_ms);
        let (open_until, failures): (u64, u32) = self.run(inv).await?;
        Ok(view_of(open_until, failures, now_ms))
    }

    async fn set_cooldown(&self, key: &str, until_ms: u64, now_ms: u64) -> Result<(), StoreError> {
        let mut inv = self.set_cooldown.prepare_invoke();
        inv.key(format!("{}{key}", self.prefix))
            .arg(until_ms)
            .arg(now_ms);
        let _: i64 = self.run(inv).await?;
        Ok(())
    }

    async fn cooldown_until(
        &self,
        keys: &[String],
        now_ms: u64,
    ) -> Result<Option<u64>, StoreError> {
        if keys.is_empty() {
            return Ok(None);
        }
        let mut conn = self.connection().await?;
        let full: Vec<String> = keys.iter().map(|k| format!("{}{k}", self.prefix)).collect();
        let mut cmd = redis::cmd("MGET");
        cmd.arg(&full);
        let values: Vec<Option<u64>> =
            match tokio::time::timeout(OP_TIMEOUT, cmd.query_async(&mut conn)).await {
                Ok(Ok(v)) => v,
                Ok(Err(e)) => return Err(err(e)),
                Err(_) => return Err(err("timed out")),
            };
        Ok(values.into_iter().flatten().filter(|&u| u > now_ms).max())
    }

    async fn clear_cooldowns(&self, keys: &[String]) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        let mut conn = self.connection().await?;
        let full: Vec<String> = keys.iter().map(|k| format!("{}{k}", self.prefix)).collect();
        let mut cmd = redis::cmd("DEL");
        cmd.arg(&full);
        match tokio::time::timeout(OP_TIMEOUT, cmd.query_async::<i64>(&mut conn)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(err(e)),
            Err(_) => Err(err("timed out")),
        }
    }
}

/// A random-enough member suffix (unique failure entries per millisecond).
fn rand_u64() -> u64 {
    use std::sync::atomic::AtomicU64;
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let pid = u64::from(std::process::id());
    (pid << 40) ^ n ^ crate::clock::now_ms().rotate_left(20)
}
