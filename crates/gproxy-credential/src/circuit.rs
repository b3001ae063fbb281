//! The circuit breaker of one provider: terminal failures counted in a
//! sliding window; at the threshold the circuit opens and requests fail
//! fast; after the cooldown one half-open probe closes it or opens it
//! again. A sustained global rate limit escalates to a failure after a
//! configurable window.
//!
//! [`CircuitCell`] is the state machine (pure, clock passed in); the Redis
//! backend runs the same rules in a Lua script. [`CircuitBreaker`] wraps a
//! cell in the provider's own short lock: the in-memory backend.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use serde::Serialize;

/// Circuit settings, resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CircuitConfig {
    /// Whether the breaker acts at all.
    pub enabled: bool,
    /// Terminal failures in the window that open the circuit.
    pub failure_threshold: u32,
    /// The sliding window, in ms.
    pub window_ms: u64,
    /// How long an open circuit stays open before a probe, in ms.
    pub cooldown_ms: u64,
    /// How long global rate limits must persist before they count as a
    /// failure (degraded), in ms.
    pub escalation_ms: u64,
}

impl Default for CircuitConfig {
    fn default() -> Self {
        CircuitConfig {
            enabled: true,
            failure_threshold: 5,
            window_ms: 120_000,
            cooldown_ms: 300_000,
            escalation_ms: 60_000,
        }
    }
}

/// The state of a circuit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CircuitState {
    /// Requests flow.
    Closed,
    /// Requests fail fast until the cooldown ends.
    Open,
    /// The cooldown ended: the next request is the probe.
    HalfOpen,
}

impl CircuitState {
    /// `closed`, `open` or `half_open`.
    pub fn as_str(self) -> &'static str {
        match self {
            CircuitState::Closed => "closed",
            CircuitState::Open => "open",
            CircuitState::HalfOpen => "half_open",
        }
    }
}

/// What `/health` shows of a circuit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CircuitView {
    /// The state.
    pub state: CircuitState,
    /// Failures in the current window.
    pub failures: u32,
    /// When an open circuit may be probed (epoch ms), if it is not closed.
    pub cooldown_until_ms: Option<u64>,
}

/// Whether a request may go to the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// The circuit is closed.
    Allowed,
    /// The circuit is half open and this request is its one probe.
    Probe,
    /// The circuit is open (or a probe is in flight) until this time.
    Rejected {
        /// Epoch ms.
        until_ms: u64,
    },
}

/// What happened to a request, for the circuit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CircuitEvent {
    /// The provider answered (a success or a client error).
    Success,
    /// A terminal degraded failure (retries exhausted, stream cut).
    Failure,
    /// A global rate limit: counts as a failure once sustained.
    GlobalRateLimit,
    /// A probe ended without a verdict (e.g. a local rate limit).
    Release,
}

/// The result of recording an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    /// The circuit afterwards.
    pub view: CircuitView,
    /// A global rate limit was escalated to a failure.
    pub escalated: bool,
}

/// The state machine of one circuit.
#[derive(Debug, Default, Clone)]
pub struct CircuitCell {
    failures: VecDeque<u64>,
    /// 0 when closed; otherwise the end of the open period.
    open_until: u64,
    /// 0 when no probe is in flight; otherwise when the probe expires.
    probe_until: u64,
    /// Start of the current run of global rate limits (0: none).
    rate_limited_since: u64,
    /// The last global rate limit of the run.
    rate_limited_last: u64,
}

impl CircuitCell {
    fn prune(&mut self, now: u64, cfg: &CircuitConfig) {
        let horizon = now.saturating_sub(cfg.window_ms);
        while self.failures.front().is_some_and(|&t| t <= horizon) {
            self.failures.pop_front();
        }
    }

    /// Decides whether a request may go upstream at `now`.
    pub fn admit(&mut self, now: u64, cfg: &CircuitConfig) -> Admission {
        if !cfg.enabled || self.open_until == 0 {
            return Admission::Allowed;
        }
        if now < self.open_until {
            return Admission::Rejected {
                until_ms: self.open_until,
            };
        }
        if self.probe_until > now {
            return Admission::Rejected {
                until_ms: self.probe_until,
            };
        }
        self.probe_until = now + cfg.cooldown_ms.max(1);
        Admission::Probe
    }

    /// Records `event` at `now`.
    pub fn record(&mut self, event: CircuitEvent, now: u64, cfg: &CircuitConfig) -> Recorded {
        let mut escalated = false;
        let event = match event {
            CircuitEvent::GlobalRateLimit => {
                // A run: global rate limits with no gap longer than the
                // escalation window (and no success) between them.
                if self.rate_limited_since == 0
                    || now.saturating_sub(self.rate_limited_last) > cfg.escalation_ms
                {
                    self.rate_limited_since = now;
                }
                self.rate_limited_last = now;
                if now - self.rate_limited_since >= cfg.escalation_ms {
                    escalated = true;
                    CircuitEvent::Failure
                } else {
                    CircuitEvent::Release
                }
            }
            other => other,
        };
        let half_open = self.open_until != 0 && now >= self.open_until;
        match event {
            CircuitEvent::Success => {
                self.rate_limited_since = 0;
                if half_open {
                    self.open_until = 0;
                    self.probe_until = 0;
                    self.failures.clear();
                }
            }
            CircuitEvent::Release => {
                if half_open {
                    self.probe_until = 0;
                }
            }
            CircuitEvent::Failure | CircuitEvent::GlobalRateLimit => {
                if half_open {
                    self.open_until = now + cfg.cooldown_ms;
                    self.probe_until = 0;
                } else {
                    self.failures.push_back(now);
                    self.prune(now, cfg);
                    if cfg.enabled
                        && self.open_until == 0
                        && self.failures.len() >= cfg.failure_threshold as usize
                    {
                        self.open_until = now + cfg.cooldown_ms;
                        self.probe_until = 0;
                    }
                }
            }
        }
        Recorded {
            view: self.view(now, cfg),
            escalated,
        }
    }

    /// The circuit at `now`.
    pub fn view(&mut self, now: u64, cfg: &CircuitConfig) -> CircuitView {
        self.prune(now, cfg);
        let failures = u32::try_from(self.failures.len()).unwrap_or(u32::MAX);
        view_of(self.open_until, failures, now)
    }
}

/// The view of a circuit open until `open_until` (0: closed).
pub fn view_of(open_until: u64, failures: u32, now: u64) -> CircuitView {
    let state = match open_until {
        0 => CircuitState::Closed,
        until if now < until => CircuitState::Open,
        _ => CircuitState::HalfOpen,
    };
    CircuitView {
        state,
        failures,
        cooldown_until_ms: (open_until != 0).then_some(open_until),
    }
}

/// One provider's circuit, in memory, behind its own short lock. Kept
/// across state reloads (by provider name).
#[derive(Debug, Default)]
pub struct CircuitBreaker {
    cell: Mutex<CircuitCell>,
}

impl CircuitBreaker {
    /// A closed circuit.
    pub fn new() -> Self {
        Self::default()
    }

    fn cell(&self) -> std::sync::MutexGuard<'_, CircuitCell> {
        self.cell.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// See [`CircuitCell::admit`].
    pub fn admit(&self, now: u64, cfg: &CircuitConfig) -> Admission {
        self.cell().admit(now, cfg)
    }

    /// See [`CircuitCell::record`].
    pub fn record(&self, event: CircuitEvent, now: u64, cfg: &CircuitConfig) -> Recorded {
        self.cell().record(event, now, cfg)
    }

    /// See [`CircuitCell::view`].
    pub fn view(&self, now: u64, cfg: &CircuitConfig) -> CircuitView {
        self.cell().view(now, cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::now_ms;
    use std::time::Duration;

    fn cfg() -> CircuitConfig {
        CircuitConfig {
            enabled: true,
            failure_threshold: 3,
            window_ms: 10_000,
            cooldown_ms: 30_000,
            escalation_ms: 5_000,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn opens_at_the_threshold_and_a_probe_decides() {
        let (b, cfg) = (CircuitBreaker::new(), cfg());
        for _ in 0..2 {
            b.record(CircuitEvent::Failure, now_ms(), &cfg);
        }
        assert_eq!(b.admit(now_ms(), &cfg), Admission::Allowed);
        let r = b.record(CircuitEvent::Failure, now_ms(), &cfg);
        assert_eq!(r.view.state, CircuitState::Open);
        assert_eq!(r.view.failures, 3);
        assert!(matches!(
            b.admit(now_ms(), &cfg),
            Admission::Rejected { .. }
        ));

        tokio::time::advance(Duration::from_secs(31)).await;
        assert_eq!(b.view(now_ms(), &cfg).state, CircuitState::HalfOpen);
        assert_eq!(b.admit(now_ms(), &cfg), Admission::Probe);
        // Only one probe at a time.
        assert!(matches!(
            b.admit(now_ms(), &cfg),
            Admission::Rejected { .. }
        ));
        // The probe fails: open again for a full cooldown.
        let r = b.record(CircuitEvent::Failure, now_ms(), &cfg);
        assert_eq!(r.view.state, CircuitState::Open);
        tokio::time::advance(Duration::from_secs(29)).await;
        assert!(matches!(
            b.admit(now_ms(), &cfg),
            Admission::Rejected { .. }
        ));
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(b.admit(now_ms(), &cfg), Admission::Probe);
        let r = b.record(CircuitEvent::Success, now_ms(), &cfg);
        assert_eq!(r.view.state, CircuitState::Closed);
        assert_eq!(r.view.failures, 0);
        assert_eq!(b.admit(now_ms(), &cfg), Admission::Allowed);
    }

    #[tokio::test(start_paused = true)]
    async fn failures_leave_the_window() {
        let (b, cfg) = (CircuitBreaker::new(), cfg());
        for _ in 0..2 {
            b.record(CircuitEvent::Failure, now_ms(), &cfg);
        }
        tokio::time::advance(Duration::from_secs(11)).await;
        let r = b.record(CircuitEvent::Failure, now_ms(), &cfg);
        assert_eq!(r.view.state, CircuitState::Closed);
        assert_eq!(r.view.failures, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn sustained_global_rate_limits_escalate() {
        let (b, cfg) = (CircuitBreaker::new(), cfg());
        assert!(
            !b.record(CircuitEvent::GlobalRateLimit, now_ms(), &cfg)
                .escalated
        );
        tokio::time::advance(Duration::from_secs(3)).await;
        assert!(
            !b.record(CircuitEvent::GlobalRateLimit, now_ms(), &cfg)
                .escalated
        );
        tokio::time::advance(Duration::from_secs(3)).await;
        let r = b.record(CircuitEvent::GlobalRateLimit, now_ms(), &cfg);
        assert!(r.escalated);
        assert_eq!(r.view.failures, 1);
        // A success ends the run.
        b.record(CircuitEvent::Success, now_ms(), &cfg);
        assert!(
            !b.record(CircuitEvent::GlobalRateLimit, now_ms(), &cfg)
                .escalated
        );
        // So does a gap longer than the window.
        tokio::time::advance(Duration::from_secs(4)).await;
        assert!(
            !b.record(CircuitEvent::GlobalRateLimit, now_ms(), &cfg)
                .escalated
        );
        tokio::time::advance(Duration::from_secs(6)).await;
        assert!(
            !b.record(CircuitEvent::GlobalRateLimit, now_ms(), &cfg)
                .escalated,
            "a gap of 6 s > 5 s starts a new run"
        );
    }

    #[test]
    fn a_disabled_breaker_never_opens() {
        let cfg = CircuitConfig {
            enabled: false,
            ..cfg()
        };
        let b = CircuitBreaker::new();
        for _ in 0..10 {
            b.record(CircuitEvent::Failure, 1, &cfg);
        }
        assert_eq!(b.admit(2, &cfg), Admission::Allowed);
    }
}
