//! The usage sink: a request hands its [`RequestLog`] to a bounded channel
//! and moves on; a background writer batches rows into the database.
//!
//! A request never waits on the database. When the channel is full the row
//! is dropped and counted; when the database fails, rows stay buffered in the
//! writer (at most [`UsageSinkConfig::max_buffered`], oldest dropped first)
//! and are retried with exponential backoff. Every row ends up either in
//! [`SinkStats::written`] or [`SinkStats::dropped`], and every drop is
//! logged (rate-limited), never silent.
//!
//! Memory is bounded by `capacity + max_buffered` rows, plus at most
//! [`UsageSinkConfig::max_body_bytes`] of captured bodies: a row whose
//! bodies would go over that budget is kept without them (counted in
//! [`SinkStats::bodies_dropped`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::{RequestLog, Storage};

mod writer;

#[cfg(test)]
mod tests;

/// How long [`UsageSinkHandle::shutdown`] waits past its deadline for a
/// write already in flight before aborting the writer.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// Tuning of the usage sink. Zero sizes are raised to 1.
#[derive(Debug, Clone)]
pub struct UsageSinkConfig {
    /// Channel capacity between requests and the writer (default 10 000).
    /// A full channel drops the new row.
    pub capacity: usize,
    /// Rows per write (one transaction; default 4096). Every index costs
    /// per dirtied page, so bigger batches cost less per row: on SQLite
    /// 4096 rows cost about 40 % less CPU per row than 256 (see
    /// docs/benchmarks.md, "Request-log write cost"). Under light load a
    /// batch is written after `flush_interval` anyway.
    pub batch_size: usize,
    /// Longest time a row waits for its batch to fill (default 1 s).
    pub flush_interval: Duration,
    /// Rows the writer keeps while the database fails (default 100 000);
    /// beyond it the oldest are dropped.
    pub max_buffered: usize,
    /// First retry delay after a failed write (default 1 s), doubled after
    /// each further failure up to 30 s.
    pub retry_backoff: Duration,
    /// Captured-body bytes the sink holds at most, channel and buffer
    /// together (default 64 MiB).
    pub max_body_bytes: usize,
    /// After taking rows from the channel, how long the writer leaves it
    /// alone (default 50 ms; never longer than `flush_interval`; zero takes
    /// every row as it comes). Rows sent meanwhile queue in the channel
    /// and are taken together, instead of each send waking the writer,
    /// from another thread under the per-core server. The default channel
    /// holds what 200,000 requests a second send in 50 ms.
    pub drain_interval: Duration,
}

impl Default for UsageSinkConfig {
    fn default() -> Self {
        Self {
            capacity: 10_000,
            batch_size: 4096,
            flush_interval: Duration::from_secs(1),
            max_buffered: 100_000,
            retry_backoff: Duration::from_secs(1),
            max_body_bytes: 64 * 1024 * 1024,
            drain_interval: Duration::from_millis(50),
        }
    }
}

impl UsageSinkConfig {
    /// The config with zero sizes raised to 1.
    fn sanitized(mut self) -> Self {
        self.capacity = self.capacity.max(1);
        self.batch_size = self.batch_size.max(1);
        self.max_buffered = self.max_buffered.max(1);
        self
    }
}

/// Counters of a usage sink, updated lock-free.
#[derive(Debug, Default)]
pub struct SinkStats {
    written: AtomicU64,
    dropped: AtomicU64,
    failed_batches: AtomicU64,
    buffered: AtomicU64,
    body_bytes: AtomicU64,
    bodies_dropped: AtomicU64,
    /// Rows promised and not yet recorded (see [`UsageSink::promise`]).
    promised: AtomicU64,
    /// Woken when the last promise is kept.
    kept: tokio::sync::Notify,
}

impl SinkStats {
    /// Rows written to the database.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// Rows lost: channel full, recorded after shutdown, evicted from a full
    /// buffer, or still unwritten when shutdown's deadline passed.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Write attempts that failed (each is retried).
    pub fn failed_batches(&self) -> u64 {
        self.failed_batches.load(Ordering::Relaxed)
    }

    /// Rows accepted but neither written nor dropped yet (in the channel or
    /// the writer's buffer).
    pub fn buffered(&self) -> u64 {
        self.buffered.load(Ordering::Relaxed)
    }

    /// Captured-body bytes held (in the channel or the writer's buffer).
    pub fn body_bytes(&self) -> u64 {
        self.body_bytes.load(Ordering::Relaxed)
    }

    /// Rows recorded without their captured bodies because the body budget
    /// was spent.
    pub fn bodies_dropped(&self) -> u64 {
        self.bodies_dropped.load(Ordering::Relaxed)
    }

    /// Gives back the body budget of rows that left the sink.
    fn release_bodies(&self, bytes: u64) {
        if bytes > 0 {
            self.body_bytes.fetch_sub(bytes, Ordering::Relaxed);
        }
    }

    fn add_written(&self, n: usize) {
        let n = n as u64;
        self.written.fetch_add(n, Ordering::Relaxed);
        self.buffered.fetch_sub(n, Ordering::Relaxed);
    }

    /// Counts `n` accepted rows as dropped.
    fn add_dropped_buffered(&self, n: usize) {
        let n = n as u64;
        self.dropped.fetch_add(n, Ordering::Relaxed);
        self.buffered.fetch_sub(n, Ordering::Relaxed);
    }
}

/// Lets an event through at most once per second.
#[derive(Debug)]
struct RateLimit {
    start: std::time::Instant,
    /// Milliseconds since `start` of the last event let through, or
    /// `u64::MAX` for never.
    last_ms: AtomicU64,
}

impl RateLimit {
    const NEVER: u64 = u64::MAX;
    const PERIOD_MS: u64 = 1000;

    fn new() -> Self {
        Self {
            start: std::time::Instant::now(),
            last_ms: AtomicU64::new(Self::NEVER),
        }
    }

    fn allow(&self) -> bool {
        let now = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
        let last = self.last_ms.load(Ordering::Relaxed);
        if last != Self::NEVER && now.saturating_sub(last) < Self::PERIOD_MS {
            return false;
        }
        self.last_ms
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }
}

/// The request side of the usage sink; cheap to clone.
#[derive(Clone, Debug)]
pub struct UsageSink {
    tx: mpsc::Sender<RequestLog>,
    stats: Arc<SinkStats>,
    warn_limit: Arc<RateLimit>,
    max_body_bytes: u64,
}

/// A row still being made (a count that runs on the blocking pool, say):
/// while it is held, [`UsageSinkHandle::shutdown`] waits (within its
/// deadline) before it stops accepting rows. Drop it after the row is
/// recorded.
#[derive(Debug)]
#[must_use = "the promise ends when dropped"]
pub struct RowPromise {
    stats: Arc<SinkStats>,
}

impl Drop for RowPromise {
    fn drop(&mut self) {
        if self.stats.promised.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.stats.kept.notify_waiters();
        }
    }
}

/// Owns the writer task; call [`UsageSinkHandle::shutdown`] to flush.
///
/// Dropping the handle without shutdown leaves the writer running until
/// every [`UsageSink`] clone is dropped; it then writes what it holds and
/// exits (or is cancelled with the runtime).
#[derive(Debug)]
pub struct UsageSinkHandle {
    close: oneshot::Sender<Duration>,
    task: JoinHandle<()>,
    stats: Arc<SinkStats>,
}

impl UsageSink {
    /// Starts the writer task. Must be called inside a tokio runtime (like
    /// `tokio::spawn`).
    pub fn spawn(storage: Storage, cfg: UsageSinkConfig) -> (UsageSink, UsageSinkHandle) {
        Self::spawn_with(storage, cfg)
    }

    /// [`UsageSink::spawn`] over any [`writer::BatchWriter`] (tests use fakes).
    fn spawn_with<W: writer::BatchWriter>(
        target: W,
        cfg: UsageSinkConfig,
    ) -> (UsageSink, UsageSinkHandle) {
        let cfg = cfg.sanitized();
        let max_body_bytes = u64::try_from(cfg.max_body_bytes).unwrap_or(u64::MAX);
        let (tx, rx) = mpsc::channel(cfg.capacity);
        let (close_tx, close_rx) = oneshot::channel();
        let stats = Arc::new(SinkStats::default());
        let task = tokio::spawn(writer::Writer::new(target, rx, cfg, stats.clone()).run(close_rx));
        let sink = UsageSink {
            tx,
            stats: stats.clone(),
            warn_limit: Arc::new(RateLimit::new()),
            max_body_bytes,
        };
        let handle = UsageSinkHandle {
            close: close_tx,
            task,
            stats,
        };
        (sink, handle)
    }

    /// Promises a row that is still being made: shutdown waits for the
    /// promise (within its deadline) before it stops accepting rows.
    pub fn promise(&self) -> RowPromise {
        self.stats.promised.fetch_add(1, Ordering::AcqRel);
        RowPromise {
            stats: self.stats.clone(),
        }
    }

    /// Queues `log` without waiting. When the channel is full or the sink is
    /// shut down the row is counted as dropped (and a warning is logged at
    /// most once per second). Captured bodies that would go over the body
    /// budget are left out of the row (and counted).
    pub fn record(&self, mut log: RequestLog) {
        // Count first, so the writer never decrements below zero.
        self.stats.buffered.fetch_add(1, Ordering::Relaxed);
        if let Some(size) = log.bodies.as_ref().map(|b| b.size() as u64) {
            let held = self.stats.body_bytes.fetch_add(size, Ordering::Relaxed) + size;
            if held > self.max_body_bytes {
                self.stats.release_bodies(size);
                self.stats.bodies_dropped.fetch_add(1, Ordering::Relaxed);
                log.bodies = None;
                if self.warn_limit.allow() {
                    tracing::warn!(
                        max_body_bytes = self.max_body_bytes,
                        "usage sink body budget spent; a request log is kept without its bodies"
                    );
                }
            }
        }
        let (reason, log) = match self.tx.try_send(log) {
            Ok(()) => return,
            Err(mpsc::error::TrySendError::Full(log)) => ("channel full", log),
            Err(mpsc::error::TrySendError::Closed(log)) => ("sink shut down", log),
        };
        self.stats
            .release_bodies(writer::body_bytes(std::slice::from_ref(&log)));
        self.stats.add_dropped_buffered(1);
        if self.warn_limit.allow() {
            tracing::warn!(
                reason,
                dropped_total = self.stats.dropped(),
                "usage sink dropped a request log"
            );
        }
    }

    /// The sink's counters.
    pub fn stats(&self) -> &Arc<SinkStats> {
        &self.stats
    }
}

impl UsageSinkHandle {
    /// Stops accepting, drains the channel and flushes everything buffered,
    /// retrying a failing DB until `deadline`; what could not be written is
    /// counted as dropped and logged.
    ///
    /// A write already in flight when the deadline passes gets one more
    /// second before the writer is aborted; its rows count as dropped even
    /// if the database committed them.
    pub async fn shutdown(self, deadline: std::time::Duration) {
        let Self {
            close,
            mut task,
            stats,
        } = self;
        // Fails only if the writer already exited (all senders gone and
        // everything written); then there is nothing left to flush.
        let _ = close.send(deadline);
        let outcome = tokio::time::timeout(deadline + SHUTDOWN_GRACE, &mut task).await;
        let result = match outcome {
            Ok(result) => result,
            Err(_) => {
                task.abort();
                task.await
            }
        };
        if let Err(err) = result {
            if err.is_panic() {
                tracing::error!("usage sink writer panicked");
            }
            stats.body_bytes.store(0, Ordering::Relaxed);
            let lost = stats.buffered.swap(0, Ordering::Relaxed);
            if lost > 0 {
                stats.dropped.fetch_add(lost, Ordering::Relaxed);
                tracing::error!(
                    lost,
                    "usage sink writer did not finish by its deadline; request logs lost"
                );
            }
        }
    }

    /// The sink's counters.
    pub fn stats(&self) -> &Arc<SinkStats> {
        &self.stats
    }
}
