//! The usage sink's writer task: batching, retry with backoff, bounded
//! buffering and the final flush.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, sleep, sleep_until, timeout};

use super::{RateLimit, SinkStats, UsageSinkConfig};
use crate::{RequestLog, Result, Storage};

/// Longest delay between retries of a failing database.
const MAX_RETRY_BACKOFF: Duration = Duration::from_secs(30);

/// Where the writer puts batches; [`Storage`] in production.
pub(super) trait BatchWriter: Send + Sync + 'static {
    /// Writes all of `rows` or none of them.
    fn write(&self, rows: &[RequestLog]) -> impl Future<Output = Result<()>> + Send;
}

impl BatchWriter for Storage {
    fn write(&self, rows: &[RequestLog]) -> impl Future<Output = Result<()>> + Send {
        self.insert_request_logs(rows)
    }
}

/// Captured-body bytes of `rows`, as counted against the sink's budget.
pub(super) fn body_bytes<'a>(rows: impl IntoIterator<Item = &'a RequestLog>) -> u64 {
    rows.into_iter()
        .filter_map(|r| r.bodies.as_ref())
        .map(|b| b.size() as u64)
        .sum()
}

/// Retry state while the database is failing.
#[derive(Debug, Clone, Copy)]
struct Retry {
    /// When to try again.
    at: Instant,
    /// The delay that led to `at`; the next one is twice as long.
    backoff: Duration,
}

/// The writer task's state.
pub(super) struct Writer<W> {
    target: W,
    rx: mpsc::Receiver<RequestLog>,
    cfg: UsageSinkConfig,
    stats: Arc<SinkStats>,
    buf: VecDeque<RequestLog>,
    evict_log_limit: RateLimit,
}

impl<W: BatchWriter> Writer<W> {
    pub(super) fn new(
        target: W,
        rx: mpsc::Receiver<RequestLog>,
        cfg: UsageSinkConfig,
        stats: Arc<SinkStats>,
    ) -> Self {
        Self {
            target,
            rx,
            buf: VecDeque::with_capacity(cfg.batch_size),
            cfg,
            stats,
            evict_log_limit: RateLimit::new(),
        }
    }

    /// The delay after a failure, given the delay after the previous one.
    fn next_backoff(&self, previous: Option<Duration>) -> Duration {
        let cap = MAX_RETRY_BACKOFF.max(self.cfg.retry_backoff);
        match previous {
            Some(backoff) => (backoff * 2).min(cap),
            None => self.cfg.retry_backoff,
        }
    }

    /// Runs until shut down through `close`, or until every sender is gone
    /// and everything buffered is written.
    pub(super) async fn run(mut self, mut close: oneshot::Receiver<Duration>) {
        // Whether the channel may still deliver rows.
        let mut receiving = true;
        // Whether the handle is alive and may still ask for shutdown.
        let mut close_armed = true;
        // When the current partial batch is due.
        let mut flush_at: Option<Instant> = None;
        // While set, the channel is left alone until then: rows queue in it
        // and are taken together, instead of each send waking this task
        // (from another thread, under the per-core server).
        let mut drain_at: Option<Instant> = None;
        let drain_every = self.cfg.drain_interval.min(self.cfg.flush_interval);
        // Set while the database is failing.
        let mut retry: Option<Retry> = None;
        let mut incoming = Vec::with_capacity(self.cfg.batch_size);

        loop {
            if !receiving && self.buf.is_empty() {
                return;
            }
            let due = match retry {
                Some(r) => Some(r.at),
                None if self.buf.len() >= self.cfg.batch_size || !receiving => Some(Instant::now()),
                None => flush_at,
            };
            tokio::select! {
                biased;
                msg = &mut close, if close_armed => match msg {
                    Ok(deadline) => return self.shutdown(deadline).await,
                    // The handle was dropped: keep going until the senders are.
                    Err(_) => close_armed = false,
                },
                () = sleep_until(due.unwrap_or_else(Instant::now)), if due.is_some() => {
                    flush_at = None;
                    match self.flush().await {
                        Ok(()) => {
                            if retry.take().is_some() {
                                tracing::info!("usage sink: database writable again");
                            }
                        }
                        Err(err) => {
                            let backoff = self.next_backoff(retry.map(|r| r.backoff));
                            retry = Some(Retry { at: Instant::now() + backoff, backoff });
                            tracing::warn!(
                                error = %err,
                                buffered = self.buf.len(),
                                retry_in_ms = u64::try_from(backoff.as_millis()).unwrap_or(u64::MAX),
                                "usage sink: writing request logs failed; keeping them buffered"
                            );
                        }
                    }
                    if !self.buf.is_empty() && flush_at.is_none() {
                        flush_at = Some(Instant::now() + self.cfg.flush_interval);
                    }
                },
                () = sleep_until(drain_at.unwrap_or_else(Instant::now)), if receiving && drain_at.is_some() => {
                    drain_at = None;
                },
                n = self.rx.recv_many(&mut incoming, self.cfg.batch_size), if receiving && drain_at.is_none() => {
                    if n == 0 {
                        receiving = false;
                    } else {
                        if self.buf.is_empty() {
                            flush_at = Some(Instant::now() + self.cfg.flush_interval);
                        }
                        // A full take may have left more behind: take again
                        // at once.
                        if n < self.cfg.batch_size && !drain_every.is_zero() {
                            drain_at = Some(Instant::now() + drain_every);
                        }
                        self.buf.extend(incoming.drain(..));
                        self.evict_overflow();
                    }
                },
            }
        }
    }

    /// Drops the oldest rows beyond `max_buffered`, counting and logging them.
    fn evict_overflow(&mut self) {
        let excess = self.buf.len().saturating_sub(self.cfg.max_buffered);
        if excess == 0 {
            return;
        }
        let bytes = body_bytes(self.buf.range(..excess));
        self.buf.drain(..excess);
        self.stats.release_bodies(bytes);
        self.stats.add_dropped_buffered(excess);
        if self.evict_log_limit.allow() {
            tracing::error!(
                evicted = excess,
                dropped_total = self.stats.dropped(),
                max_buffered = self.cfg.max_buffered,
                "usage sink buffer full while the database is failing; dropped the oldest request logs"
            );
        }
    }

    /// Writes the whole buffer in batches; on failure the unwritten rows
    /// stay buffered, in order.
    async fn flush(&mut self) -> Result<()> {
        while !self.buf.is_empty() {
            let n = self.buf.len().min(self.cfg.batch_size);
            let batch = &self.buf.make_contiguous()[..n];
            if let Err(err) = self.target.write(batch).await {
                self.stats
                    .failed_batches
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return Err(err);
            }
            let bytes = body_bytes(batch);
            self.buf.drain(..n);
            self.stats.release_bodies(bytes);
            self.stats.add_written(n);
        }
        Ok(())
    }

    /// Waits (up to half of `deadline`) for the rows promised, then stops
    /// accepting, drains the channel and flushes, retrying until
    /// `deadline` has passed; counts what is left as dropped.
    async fn shutdown(mut self, deadline: Duration) {
        let end = Instant::now() + deadline;
        // Rows promised (see `UsageSink::promise`) arrive first, within
        // half the deadline (the other half is for writing).
        let promises_end = Instant::now() + deadline / 2;
        loop {
            let kept = self.stats.kept.notified();
            tokio::pin!(kept);
            kept.as_mut().enable();
            if self
                .stats
                .promised
                .load(std::sync::atomic::Ordering::Acquire)
                == 0
                || tokio::time::timeout_at(promises_end, kept).await.is_err()
            {
                break;
            }
        }
        self.rx.close();
        while let Some(log) = self.rx.recv().await {
            self.buf.push_back(log);
        }
        let mut retry_backoff = None;
        loop {
            if self.buf.is_empty() {
                break;
            }
            let remaining = end.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                break;
            }
            match timeout(remaining, self.flush()).await {
                Ok(Ok(())) => break,
                Ok(Err(err)) => {
                    let backoff = self.next_backoff(retry_backoff);
                    retry_backoff = Some(backoff);
                    tracing::warn!(
                        error = %err,
                        buffered = self.buf.len(),
                        "usage sink: writing request logs failed during shutdown; retrying"
                    );
                    let remaining = end.saturating_duration_since(Instant::now());
                    sleep(backoff.min(remaining)).await;
                }
                Err(_elapsed) => break,
            }
        }
        let left = self.buf.len();
        self.stats.release_bodies(body_bytes(&self.buf));
        if left > 0 {
            self.stats.add_dropped_buffered(left);
            tracing::error!(
                lost = left,
                deadline_ms = u64::try_from(deadline.as_millis()).unwrap_or(u64::MAX),
                "usage sink shut down with request logs still unwritten; they are lost"
            );
        }
    }
}
