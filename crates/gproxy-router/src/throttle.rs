//! Rate-limited logging: anyone who can connect can make the gateway
//! refuse things (bad keys, connections beyond the cap) as fast as they
//! like, and one log line per refusal would let them flood the log. A
//! [`Throttle`] lets one line through per period and counts the rest, so
//! the next line says how many were not logged.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// `last_ms` before the first line.
const NEVER: u64 = u64::MAX;

/// At most one log line per period.
#[derive(Debug)]
pub struct Throttle {
    start: Instant,
    period_ms: u64,
    /// When the last line went out (ms from `start`).
    last_ms: AtomicU64,
    /// Events since then that were not logged.
    skipped: AtomicU64,
}

impl Throttle {
    /// One line per `period`.
    pub fn new(period: Duration) -> Self {
        Throttle {
            start: Instant::now(),
            period_ms: u64::try_from(period.as_millis()).unwrap_or(u64::MAX),
            last_ms: AtomicU64::new(NEVER),
            skipped: AtomicU64::new(0),
        }
    }

    /// Counts an event; `Some(n)` when it may be logged, `n` being the
    /// events not logged since the last line.
    pub fn ready(&self) -> Option<u64> {
        let now = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(NEVER - 1);
        let last = self.last_ms.load(Ordering::Relaxed);
        if last != NEVER && now.saturating_sub(last) < self.period_ms {
            self.skipped.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        // One caller wins the slot; the others count as skipped.
        if self
            .last_ms
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            self.skipped.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Some(self.skipped.swap(0, Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn one_line_per_period_with_the_count_of_the_rest() {
        let throttle = Throttle::new(Duration::from_secs(10));
        assert_eq!(throttle.ready(), Some(0));
        for _ in 0..5 {
            assert_eq!(throttle.ready(), None);
        }
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(throttle.ready(), Some(5));
        assert_eq!(throttle.ready(), None);
    }
}
