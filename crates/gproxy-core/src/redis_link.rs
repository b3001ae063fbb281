//! A lazily connected Redis link for the shared counters (rate limits,
//! budgets): one multiplexed connection, every call bounded by a timeout
//! (connecting included), and after a failed connection attempt calls fail
//! at once for a second instead of each waiting out its own timeout.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::Client;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::Mutex;

/// After a failed connection attempt, how long calls fail at once.
const RECONNECT_INTERVAL_MS: u64 = 1_000;

/// One Redis server, connected on first use.
pub(crate) struct RedisLink {
    client: Client,
    conn: Mutex<Option<ConnectionManager>>,
    next_attempt_ms: AtomicU64,
}

impl RedisLink {
    /// A link to `url` (not connected yet).
    pub(crate) fn new(url: &str) -> Result<Self, String> {
        Ok(RedisLink {
            client: Client::open(url).map_err(|e| format!("invalid redis_url: {e}"))?,
            conn: Mutex::new(None),
            next_attempt_ms: AtomicU64::new(0),
        })
    }

    async fn connection(&self, timeout: Duration) -> Result<ConnectionManager, String> {
        let mut slot = self.conn.lock().await;
        if let Some(conn) = slot.as_ref() {
            return Ok(conn.clone());
        }
        let now = gproxy_credential::clock::now_ms();
        if now < self.next_attempt_ms.load(Ordering::Relaxed) {
            return Err("unreachable (waiting before the next connection attempt)".into());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(timeout)
            .set_response_timeout(timeout)
            .set_number_of_retries(0);
        match tokio::time::timeout(
            timeout,
            ConnectionManager::new_with_config(self.client.clone(), config),
        )
        .await
        {
            Ok(Ok(conn)) => {
                *slot = Some(conn.clone());
                Ok(conn)
            }
            Ok(Err(e)) => {
                self.next_attempt_ms
                    .store(now + RECONNECT_INTERVAL_MS, Ordering::Relaxed);
                Err(format!("cannot connect: {e}"))
            }
            Err(_) => {
                self.next_attempt_ms
                    .store(now + RECONNECT_INTERVAL_MS, Ordering::Relaxed);
                Err("cannot connect: timed out".into())
            }
        }
    }

    /// Runs `invocation` within `timeout` in all (connection included).
    pub(crate) async fn run<T: redis::FromRedisValue>(
        &self,
        invocation: redis::ScriptInvocation<'_>,
        timeout: Duration,
    ) -> Result<T, String> {
        let call = async {
            let mut conn = self.connection(timeout).await?;
            invocation
                .invoke_async(&mut conn)
                .await
                .map_err(|e| e.to_string())
        };
        tokio::time::timeout(timeout, call)
            .await
            .map_err(|_| "timed out".to_owned())?
    }
}

impl RedisLink {
    /// Runs `cmd` within `timeout` in all (connection included).
    pub(crate) async fn query<T: redis::FromRedisValue>(
        &self,
        cmd: &redis::Cmd,
        timeout: Duration,
    ) -> Result<T, String> {
        let call = async {
            let mut conn = self.connection(timeout).await?;
            cmd.query_async(&mut conn).await.map_err(|e| e.to_string())
        };
        tokio::time::timeout(timeout, call)
            .await
            .map_err(|_| "timed out".to_owned())?
    }
}
