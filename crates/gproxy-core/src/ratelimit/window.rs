//! The arithmetic of one scope's counters, kept in memory: a sliding log
//! of admission times (requests), a sliding log of weighted entries
//! (tokens) and a set of live slots (concurrency). Exact: a request is
//! admitted only if, counting it, no window of `window_ms` ending now holds
//! more than the limit. The Redis scripts do the same over sorted sets.

use std::collections::VecDeque;

/// One scope's counters.
#[derive(Debug, Default)]
pub(crate) struct Window {
    /// Admission times, oldest first (scopes without a token limit: with
    /// one, the token entries count the requests).
    requests: VecDeque<u64>,
    /// `(time, request id, tokens)`, oldest first.
    tokens: VecDeque<(u64, u64, u64)>,
    token_sum: u64,
    /// Requests in flight.
    pub(crate) in_flight: u64,
}

/// The limits checked on one scope (0: no limit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Caps {
    pub rpm: u64,
    pub tpm: u64,
    pub concurrent: u64,
}

/// One scope's counters at a check, before the request is counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Seen {
    /// Requests in the window.
    pub requests: u64,
    /// Milliseconds until the oldest request leaves the window (0: none).
    pub requests_reset_ms: u64,
    /// Tokens in the window.
    pub tokens: u64,
    /// Milliseconds until enough tokens leave the window for this request
    /// (or, when it fits, until the oldest leaves).
    pub tokens_reset_ms: u64,
    /// Requests in flight.
    pub in_flight: u64,
}

/// Which limit refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exceeded {
    Requests,
    Tokens,
    Concurrent,
}

impl Seen {
    /// The limit `caps` this request (of `estimate` tokens) would exceed,
    /// with the wait in milliseconds before it could fit.
    pub(crate) fn exceeds(&self, caps: Caps, estimate: u64) -> Option<(Exceeded, u64)> {
        if caps.concurrent > 0 && self.in_flight >= caps.concurrent {
            return Some((Exceeded::Concurrent, 1_000));
        }
        if caps.rpm > 0 && self.requests >= caps.rpm {
            return Some((Exceeded::Requests, self.requests_reset_ms.max(1)));
        }
        if caps.tpm > 0 && self.tokens.saturating_add(estimate) > caps.tpm {
            return Some((Exceeded::Tokens, self.tokens_reset_ms.max(1)));
        }
        None
    }
}

impl Window {
    /// Drops what left the window ending at `now`.
    fn prune(&mut self, now: u64, window_ms: u64) {
        let Some(floor) = now.checked_sub(window_ms) else {
            return;
        };
        while self.requests.front().is_some_and(|&t| t <= floor) {
            self.requests.pop_front();
        }
        while let Some(&(t, _, w)) = self.tokens.front() {
            if t > floor {
                break;
            }
            self.token_sum -= w;
            self.tokens.pop_front();
        }
    }

    /// The counters at `now`, for a request of `estimate` tokens under `tpm`.
    /// With a token limit every admitted request has a token entry, so the
    /// requests are counted on those (see [`Window::count`]).
    pub(crate) fn seen(&mut self, now: u64, window_ms: u64, estimate: u64, tpm: u64) -> Seen {
        self.prune(now, window_ms);
        let mut tokens_reset_ms = self
            .tokens
            .front()
            .map_or(0, |&(t, _, _)| (t + window_ms).saturating_sub(now));
        let (requests, requests_reset_ms) = if tpm > 0 {
            (self.tokens.len(), tokens_reset_ms)
        } else {
            let reset = self
                .requests
                .front()
                .map_or(0, |&t| (t + window_ms).saturating_sub(now));
            (self.requests.len(), reset)
        };
        if tpm > 0 && self.token_sum + estimate > tpm {
            // The time by which enough of the oldest entries leave.
            let mut left = self.token_sum;
            for &(t, _, w) in &self.tokens {
                left -= w;
                tokens_reset_ms = (t + window_ms).saturating_sub(now);
                if left + estimate <= tpm {
                    break;
                }
            }
        }
        Seen {
            requests: requests as u64,
            requests_reset_ms,
            tokens: self.token_sum,
            tokens_reset_ms,
            in_flight: self.in_flight,
        }
    }

    /// Counts an admitted request `id` of `estimate` tokens at `now`: one
    /// token entry under a token limit (which counts the request too),
    /// else one admission time under a request limit.
    pub(crate) fn count(&mut self, now: u64, id: u64, estimate: u64, caps: Caps) {
        if caps.tpm > 0 {
            self.tokens.push_back((now, id, estimate));
            self.token_sum += estimate;
        } else if caps.rpm > 0 {
            self.requests.push_back(now);
        }
        if caps.concurrent > 0 {
            self.in_flight += 1;
        }
    }

    /// Replaces request `id`'s token estimate by `actual` (if it is still
    /// in the window).
    pub(crate) fn settle(&mut self, id: u64, actual: u64) {
        if let Some(entry) = self.tokens.iter_mut().rev().find(|e| e.1 == id) {
            self.token_sum = self.token_sum - entry.2 + actual;
            entry.2 = actual;
        }
    }

    /// Gives back a concurrency slot.
    pub(crate) fn release(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RPM: Caps = Caps {
        rpm: 3,
        tpm: 0,
        concurrent: 0,
    };

    fn admit(
        w: &mut Window,
        now: u64,
        id: u64,
        est: u64,
        caps: Caps,
    ) -> Result<(), (Exceeded, u64)> {
        let seen = w.seen(now, 1_000, est, caps.tpm);
        if let Some(x) = seen.exceeds(caps, est) {
            return Err(x);
        }
        w.count(now, id, est, caps);
        Ok(())
    }

    #[test]
    fn the_window_slides_exactly() {
        let mut w = Window::default();
        for (i, t) in [0, 100, 900].into_iter().enumerate() {
            admit(&mut w, t, i as u64, 0, RPM).unwrap();
        }
        // Full until the request at 0 leaves (at 1000).
        assert_eq!(admit(&mut w, 999, 9, 0, RPM), Err((Exceeded::Requests, 1)));
        admit(&mut w, 1_000, 10, 0, RPM).unwrap();
        assert_eq!(
            admit(&mut w, 1_050, 11, 0, RPM),
            Err((Exceeded::Requests, 50))
        );
        // No window of 1000 ms ever holds more than 3: at 1100 the one
        // at 100 leaves.
        admit(&mut w, 1_100, 12, 0, RPM).unwrap();
        assert!(admit(&mut w, 1_101, 13, 0, RPM).is_err());
    }

    #[test]
    fn tokens_reserve_then_settle() {
        let caps = Caps {
            rpm: 0,
            tpm: 100,
            concurrent: 0,
        };
        let mut w = Window::default();
        admit(&mut w, 0, 1, 60, caps).unwrap();
        // 60 + 50 > 100: refused until the first entry leaves.
        assert_eq!(admit(&mut w, 10, 2, 50, caps), Err((Exceeded::Tokens, 990)));
        // The real usage was 20: room again.
        w.settle(1, 20);
        admit(&mut w, 20, 2, 50, caps).unwrap();
        assert_eq!(w.seen(30, 1_000, 0, 100).tokens, 70);
        // Settled upwards: over until the entries leave, oldest first.
        w.settle(2, 90);
        assert_eq!(admit(&mut w, 40, 3, 1, caps), Err((Exceeded::Tokens, 960)));
        assert_eq!(w.seen(1_020, 1_000, 0, 100).tokens, 0);
    }

    #[test]
    fn with_a_token_limit_the_token_entries_count_the_requests() {
        let caps = Caps {
            rpm: 2,
            tpm: 1_000,
            concurrent: 0,
        };
        let mut w = Window::default();
        admit(&mut w, 0, 1, 10, caps).unwrap();
        admit(&mut w, 100, 2, 10, caps).unwrap();
        assert!(w.requests.is_empty());
        // Settling changes the tokens, not the count.
        w.settle(1, 500);
        assert_eq!(
            admit(&mut w, 200, 3, 10, caps),
            Err((Exceeded::Requests, 800))
        );
        let seen = w.seen(1_000, 1_000, 0, caps.tpm);
        assert_eq!((seen.requests, seen.tokens), (1, 10));
        admit(&mut w, 1_000, 3, 10, caps).unwrap();
        assert_eq!(w.seen(1_050, 1_000, 0, caps.tpm).requests, 2);
    }

    #[test]
    fn concurrency_counts_until_released() {
        let caps = Caps {
            rpm: 0,
            tpm: 0,
            concurrent: 2,
        };
        let mut w = Window::default();
        admit(&mut w, 0, 1, 0, caps).unwrap();
        admit(&mut w, 0, 2, 0, caps).unwrap();
        assert_eq!(
            admit(&mut w, 0, 3, 0, caps).unwrap_err().0,
            Exceeded::Concurrent
        );
        w.release();
        admit(&mut w, 0, 3, 0, caps).unwrap();
    }
}
