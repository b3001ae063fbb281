//! Change propagation across instances sharing one database.
//!
//! Every accepted write bumps a state version (settings key
//! [`STATE_VERSION`]) through [`ChangeBus::publish`] and, when Redis is
//! configured, announces it with `PUBLISH <prefix>changes <version>`. Every
//! instance runs one watcher ([`ChangeBus::spawn_watcher`]) that calls the
//! caller's reload when the version moves: notified by Redis at once, with a
//! slow poll as a safety net, or by polling the version (one primary-key
//! read) every second without Redis, or while Redis is down.
//!
//! Reloads never overlap: a burst of changes runs at most one reload, and a
//! change that lands during a reload runs exactly one more afterwards.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use gproxy_provider::ProviderRegistry;
use gproxy_storage::Storage;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde::Serialize;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::CoreError;
use crate::settings::redact_url_password;
use crate::state::StateHandle;

/// Settings key holding the state version: a new unique value after every
/// accepted write.
pub const STATE_VERSION: &str = "state_version";
/// The channel name after the Redis key prefix.
const CHANNEL_SUFFIX: &str = "changes";
/// Bound on one Redis connect or command.
const REDIS_TIMEOUT: Duration = Duration::from_secs(2);
/// How long publishing skips Redis after a failed connection.
const PUBLISH_RETRY_AFTER: Duration = Duration::from_secs(5);

/// What a watcher does when the stored state changed (rebuild the snapshot,
/// re-read live settings, ...). An error is logged, shown in `/health` and
/// retried at the next tick.
pub type OnChange = Arc<dyn Fn() -> BoxFuture<'static, Result<(), CoreError>> + Send + Sync>;

/// Where change notices go besides the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisTarget {
    /// `redis://host:port[/db]`, the one `[circuit_breaker]` names.
    pub url: String,
    /// Key prefix (default `gproxy:`); the channel is `<prefix>changes`.
    pub prefix: String,
}

/// How often the watcher looks at the stored version, and how it retries
/// Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncConfig {
    /// Poll interval without Redis, or while Redis is unreachable. 1 s.
    pub poll_interval: Duration,
    /// Safety-net poll interval while subscribed to Redis. 10 s.
    pub redis_poll_interval: Duration,
    /// First wait before reconnecting to Redis (doubled per failure). 500 ms.
    pub reconnect_min: Duration,
    /// Longest wait before reconnecting to Redis. 30 s.
    pub reconnect_max: Duration,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            poll_interval: Duration::from_secs(1),
            redis_poll_interval: Duration::from_secs(10),
            reconnect_min: Duration::from_millis(500),
            reconnect_max: Duration::from_secs(30),
        }
    }
}

/// The `config_sync` section of `/health`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct SyncStatus {
    /// `redis` (notified through pub/sub) or `poll` (version poll only).
    pub mode: &'static str,
    /// This instance's id (part of every version it publishes).
    pub instance: String,
    /// Whether the Redis subscription is up (`None` without Redis).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_connected: Option<bool>,
    /// The last state version this instance has served.
    pub last_version: Option<String>,
    /// When the last reload finished (RFC 3339).
    pub last_reload_at: Option<String>,
    /// Reloads run since start.
    pub reloads: u64,
    /// The last error (reading the version, Redis, or a reload), if any
    /// since the last successful reload.
    pub last_error: Option<String>,
}

/// Publishes changes and watches for other instances' changes.
pub struct ChangeBus {
    storage: Storage,
    redis: Option<RedisBus>,
    instance: String,
    counter: AtomicU64,
    config: SyncConfig,
    status: Mutex<SyncStatus>,
}

struct RedisBus {
    client: redis::Client,
    channel: String,
    shown_url: String,
    publisher: tokio::sync::Mutex<Option<ConnectionManager>>,
    publish_after: Mutex<Option<tokio::time::Instant>>,
}

impl std::fmt::Debug for ChangeBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeBus")
            .field("instance", &self.instance)
            .field("redis", &self.redis.as_ref().map(|r| &r.shown_url))
            .finish_non_exhaustive()
    }
}

impl ChangeBus {
    /// A bus over `storage`, announcing through `redis` when given, with a
    /// random instance id. Does not connect yet.
    pub fn new(
        storage: Storage,
        redis: Option<&RedisTarget>,
        config: SyncConfig,
    ) -> Result<Self, CoreError> {
        let redis = match redis {
            None => None,
            Some(target) => Some(RedisBus {
                client: redis::Client::open(target.url.as_str())
                    .map_err(|e| CoreError::Invalid(format!("circuit_breaker.redis_url: {e}")))?,
                channel: format!("{}{CHANNEL_SUFFIX}", target.prefix),
                shown_url: redact_url_password(&target.url),
                publisher: tokio::sync::Mutex::new(None),
                publish_after: Mutex::new(None),
            }),
        };
        let instance = uuid::Uuid::new_v4().simple().to_string();
        let status = SyncStatus {
            mode: if redis.is_some() { "redis" } else { "poll" },
            instance: instance.clone(),
            redis_connected: redis.as_ref().map(|_| false),
            ..SyncStatus::default()
        };
        Ok(ChangeBus {
            storage,
            redis,
            instance,
            counter: AtomicU64::new(0),
            config,
            status: Mutex::new(status),
        })
    }

    /// This instance's id.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// The Redis channel change notices go to, when Redis is configured.
    pub fn channel(&self) -> Option<&str> {
        self.redis.as_ref().map(|r| r.channel.as_str())
    }

    /// A copy of the current status, for `/health`.
    pub fn status(&self) -> SyncStatus {
        self.with_status(|s| s.clone())
    }

    fn with_status<T>(&self, f: impl FnOnce(&mut SyncStatus) -> T) -> T {
        let mut guard = self
            .status
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard)
    }

    /// Announces that the stored state changed: stores a new version and,
    /// with Redis, publishes it. Call after the write is persisted (and this
    /// instance's own snapshot rebuilt). Only the database write can fail;
    /// Redis errors are logged and the poll carries the change instead.
    pub async fn publish(&self) -> Result<String, CoreError> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let version = format!(
            "{:013}-{}-{n}",
            chrono::Utc::now().timestamp_millis(),
            self.instance
        );
        let before = self.storage.get_setting(STATE_VERSION).await?;
        self.storage.set_setting(STATE_VERSION, &version).await?;
        // Our own write needs no reload here, unless another instance's
        // change landed since we last looked (then the watcher still sees a
        // difference and reloads).
        self.with_status(|s| {
            if s.last_version == before {
                s.last_version = Some(version.clone());
            }
        });
        if let Some(redis) = &self.redis
            && let Err(e) = redis.publish(&version).await
        {
            tracing::warn!(redis = %redis.shown_url, error = %e, "cannot announce a change through Redis; other instances see it at their next poll");
            self.with_status(|s| s.last_error = Some(format!("redis publish: {e}")));
        }
        Ok(version)
    }

    /// Starts watching for changes made by other instances; `on_change`
    /// runs on each (coalesced). The version current now is taken as the
    /// one the caller's state already reflects. Stops when the returned
    /// handle is dropped.
    pub fn spawn_watcher(self: &Arc<Self>, on_change: OnChange) -> SyncWatcher {
        let wake = Arc::new(Notify::new());
        let forced = Arc::new(AtomicBool::new(false));
        let subscribed = Arc::new(AtomicBool::new(false));
        let subscriber = self.redis.as_ref().map(|_| {
            tokio::spawn(self.clone().subscribe_loop(
                wake.clone(),
                forced.clone(),
                subscribed.clone(),
            ))
        });
        let poller = tokio::spawn(self.clone().watch_loop(on_change, wake, forced, subscribed));
        SyncWatcher {
            tasks: std::iter::once(poller).chain(subscriber).collect(),
        }
    }

    async fn watch_loop(
        self: Arc<Self>,
        on_change: OnChange,
        wake: Arc<Notify>,
        forced: Arc<AtomicBool>,
        subscribed: Arc<AtomicBool>,
    ) {
        match self.storage.get_setting(STATE_VERSION).await {
            Ok(version) => self.with_status(|s| {
                if s.last_version.is_none() {
                    s.last_version = version;
                }
            }),
            Err(e) => {
                self.with_status(|s| s.last_error = Some(format!("reading the version: {e}")))
            }
        }
        loop {
            let interval = if subscribed.load(Ordering::Relaxed) {
                self.config.redis_poll_interval
            } else {
                self.config.poll_interval
            };
            tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep(interval) => {}
            }
            let force = forced.swap(false, Ordering::Relaxed);
            let version = match self.storage.get_setting(STATE_VERSION).await {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the state version");
                    self.with_status(|s| s.last_error = Some(format!("reading the version: {e}")));
                    continue;
                }
            };
            let seen = self.with_status(|s| s.last_version.clone());
            if !force && version == seen {
                continue;
            }
            match on_change().await {
                Ok(()) => {
                    tracing::debug!(version = ?version, "reloaded after a change");
                    self.with_status(|s| {
                        s.last_version = version;
                        s.last_reload_at = Some(chrono::Utc::now().to_rfc3339());
                        s.reloads += 1;
                        s.last_error = None;
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "reloading after a change failed; retrying at the next tick");
                    self.with_status(|s| s.last_error = Some(format!("reload: {e}")));
                }
            }
        }
    }

    async fn subscribe_loop(
        self: Arc<Self>,
        wake: Arc<Notify>,
        forced: Arc<AtomicBool>,
        subscribed: Arc<AtomicBool>,
    ) {
        let Some(redis) = &self.redis else {
            return;
        };
        let own = format!("-{}-", self.instance);
        let mut backoff = self.config.reconnect_min;
        loop {
            match redis.subscribe().await {
                Ok(pubsub) => {
                    tracing::info!(redis = %redis.shown_url, channel = %redis.channel, "watching for configuration changes through Redis");
                    backoff = self.config.reconnect_min;
                    subscribed.store(true, Ordering::Relaxed);
                    self.with_status(|s| {
                        s.redis_connected = Some(true);
                        if s.last_error
                            .as_deref()
                            .is_some_and(|e| e.starts_with("redis"))
                        {
                            s.last_error = None;
                        }
                    });
                    // Anything announced while we were away: compare the
                    // version once.
                    wake.notify_one();
                    let mut messages = pubsub.into_on_message();
                    while let Some(message) = messages.next().await {
                        let from_self = message
                            .get_payload::<String>()
                            .is_ok_and(|v| v.contains(&own));
                        if !from_self {
                            forced.store(true, Ordering::Relaxed);
                            wake.notify_one();
                        }
                    }
                    subscribed.store(false, Ordering::Relaxed);
                    tracing::warn!(redis = %redis.shown_url, "Redis subscription closed; polling the database until it is back");
                    self.with_status(|s| {
                        s.redis_connected = Some(false);
                        s.last_error = Some("redis: subscription closed".to_owned());
                    });
                }
                Err(e) => {
                    tracing::warn!(redis = %redis.shown_url, error = %e, "cannot subscribe to configuration changes; polling the database");
                    self.with_status(|s| {
                        s.redis_connected = Some(false);
                        s.last_error = Some(format!("redis subscribe: {e}"));
                    });
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(self.config.reconnect_max);
        }
    }
}

impl RedisBus {
    async fn subscribe(&self) -> Result<redis::aio::PubSub, String> {
        let mut pubsub = tokio::time::timeout(REDIS_TIMEOUT, self.client.get_async_pubsub())
            .await
            .map_err(|_| "connect timed out".to_owned())?
            .map_err(|e| e.to_string())?;
        tokio::time::timeout(REDIS_TIMEOUT, pubsub.subscribe(&self.channel))
            .await
            .map_err(|_| "SUBSCRIBE timed out".to_owned())?
            .map_err(|e| e.to_string())?;
        Ok(pubsub)
    }

    async fn publish(&self, version: &str) -> Result<(), String> {
        let mut conn = self.publisher().await?;
        let sent = tokio::time::timeout(
            REDIS_TIMEOUT,
            redis::cmd("PUBLISH")
                .arg(&self.channel)
                .arg(version)
                .query_async::<i64>(&mut conn),
        )
        .await;
        match sent {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("PUBLISH timed out".to_owned()),
        }
    }

    async fn publisher(&self) -> Result<ConnectionManager, String> {
        let mut slot = self.publisher.lock().await;
        if let Some(conn) = slot.as_ref() {
            return Ok(conn.clone());
        }
        let now = tokio::time::Instant::now();
        {
            let after = self
                .publish_after
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if after.is_some_and(|t| now < t) {
                return Err("unreachable (waiting before the next connection attempt)".into());
            }
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(REDIS_TIMEOUT)
            .set_response_timeout(REDIS_TIMEOUT)
            .set_number_of_retries(1);
        let made = tokio::time::timeout(
            REDIS_TIMEOUT * 2,
            ConnectionManager::new_with_config(self.client.clone(), config),
        )
        .await;
        let failure = match made {
            Ok(Ok(conn)) => {
                *slot = Some(conn.clone());
                return Ok(conn);
            }
            Ok(Err(e)) => format!("cannot connect: {e}"),
            Err(_) => "cannot connect: timed out".to_owned(),
        };
        *self
            .publish_after
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(now + PUBLISH_RETRY_AFTER);
        Err(failure)
    }
}

/// The running watcher; dropping it stops watching.
#[derive(Debug)]
pub struct SyncWatcher {
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for SyncWatcher {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// The plain reload: rebuild `state`'s snapshot from `storage` (keeping
/// credentials' runtime health and circuits).
pub fn snapshot_reloader(
    storage: Storage,
    registry: ProviderRegistry,
    state: Arc<StateHandle>,
) -> OnChange {
    Arc::new(move || {
        let (storage, registry, state) = (storage.clone(), registry.clone(), state.clone());
        Box::pin(async move { state.reload(&storage, &registry).await })
    })
}
