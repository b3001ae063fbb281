//! The clock every cooldown and circuit deadline is measured on:
//! milliseconds since the Unix epoch, advanced by tokio's clock.
//!
//! Driving it from `tokio::time::Instant` means tests that pause time
//! (`#[tokio::test(start_paused = true)]`) move cooldowns and circuits with
//! `tokio::time::advance`; anchoring it to the wall clock once means the
//! values are comparable across gateway instances (they are stored in Redis).

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, on tokio's clock.
pub fn now_ms() -> u64 {
    // The anchor is back-dated, so that a paused test runtime (whose clock
    // starts frozen at its creation, before the first call here) never
    // reads a time before it.
    static BASE: OnceLock<(std::time::Instant, u64)> = OnceLock::new();
    let (instant, epoch_ms) = BASE.get_or_init(|| {
        let now = std::time::Instant::now();
        let back = [3600, 60, 1]
            .into_iter()
            .map(std::time::Duration::from_secs)
            .find(|d| now.checked_sub(*d).is_some())
            .unwrap_or_default();
        let epoch_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let back_ms = u64::try_from(back.as_millis()).unwrap_or(0);
        (
            now.checked_sub(back).unwrap_or(now),
            epoch_ms.saturating_sub(back_ms),
        )
    });
    let elapsed = tokio::time::Instant::now()
        .into_std()
        .saturating_duration_since(*instant);
    epoch_ms.saturating_add(u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn advances_with_tokio_time() {
        let a = now_ms();
        tokio::time::advance(std::time::Duration::from_secs(5)).await;
        let b = now_ms();
        assert!(b - a >= 5_000, "{a} {b}");
    }
}
