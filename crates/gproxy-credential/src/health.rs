//! Runtime health of one credential: in-flight count, rate-limit cooldowns
//! (for every model or one model), a short transient cooldown after an
//! upstream failure, and disabled-with-a-reason after 401/403.
//!
//! Reads are atomics; only the rare paths (disabling, model-scoped
//! cooldowns) take this credential's own short lock.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use serde::Serialize;

/// Why and when a credential was disabled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Disabled {
    /// What the upstream said (status and the start of its message).
    pub reason: String,
    /// When, in epoch milliseconds.
    pub at_ms: u64,
}

/// Whether a credential can take a request now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    /// Healthy.
    Ready,
    /// In a transient cooldown until this time: used only when no
    /// credential is [`Availability::Ready`].
    Soft(u64),
    /// Rate limited until this time (epoch ms): not used.
    Cooling(u64),
    /// Disabled until an admin enables it again.
    Disabled,
}

/// A credential's state as shown in `/health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthView {
    /// `ok`, `cooling_down`, `transient_cooldown` or `disabled`.
    pub state: &'static str,
    /// Requests in flight on this credential.
    pub in_flight: u32,
    /// End of the rate-limit cooldown for every model (epoch ms), if any.
    pub cooldown_until_ms: Option<u64>,
    /// End of the transient cooldown (epoch ms), if any.
    pub transient_until_ms: Option<u64>,
    /// Rate-limit cooldowns of single models: model -> end (epoch ms).
    pub model_cooldowns: HashMap<String, u64>,
    /// Set while the credential is disabled.
    pub disabled: Option<Disabled>,
}

#[derive(Debug, Default)]
struct Detail {
    disabled: Option<Disabled>,
    model_cooldowns: HashMap<String, u64>,
}

/// The runtime health of one credential. Shared across state snapshots
/// (a reload keeps it, by credential id).
#[derive(Debug, Default)]
pub struct CredentialHealth {
    in_flight: AtomicU32,
    cooldown_until: AtomicU64,
    transient_until: AtomicU64,
    disabled: AtomicBool,
    has_model_cooldowns: AtomicBool,
    detail: Mutex<Detail>,
}

impl CredentialHealth {
    /// A healthy credential.
    pub fn new() -> Self {
        Self::default()
    }

    fn detail(&self) -> std::sync::MutexGuard<'_, Detail> {
        self.detail.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the credential can serve `model` at `now` (epoch ms).
    pub fn availability(&self, model: &str, now: u64) -> Availability {
        if self.disabled.load(Ordering::Relaxed) {
            return Availability::Disabled;
        }
        let mut until = self.cooldown_until.load(Ordering::Relaxed);
        if self.has_model_cooldowns.load(Ordering::Relaxed)
            && let Some(&m) = self.detail().model_cooldowns.get(model)
        {
            until = until.max(m);
        }
        if until > now {
            return Availability::Cooling(until);
        }
        let soft = self.transient_until.load(Ordering::Relaxed);
        if soft > now {
            return Availability::Soft(soft);
        }
        Availability::Ready
    }

    /// Disables the credential (401/403) with `reason`.
    pub fn disable(&self, reason: String, now: u64) {
        self.detail().disabled = Some(Disabled { reason, at_ms: now });
        self.disabled.store(true, Ordering::Relaxed);
    }

    /// Enables a disabled credential and clears its cooldowns.
    pub fn enable(&self) {
        let mut detail = self.detail();
        detail.disabled = None;
        detail.model_cooldowns.clear();
        self.has_model_cooldowns.store(false, Ordering::Relaxed);
        self.disabled.store(false, Ordering::Relaxed);
        self.cooldown_until.store(0, Ordering::Relaxed);
        self.transient_until.store(0, Ordering::Relaxed);
    }

    /// Whether the credential is disabled.
    pub fn is_disabled(&self) -> bool {
        self.disabled.load(Ordering::Relaxed)
    }

    /// Rate limited until `until` (epoch ms), for every model or one.
    /// A cooldown only ever grows.
    pub fn cool_down(&self, until: u64, model: Option<&str>) {
        match model {
            None => {
                self.cooldown_until.fetch_max(until, Ordering::Relaxed);
            }
            Some(model) => {
                let mut detail = self.detail();
                let slot = detail.model_cooldowns.entry(model.to_owned()).or_insert(0);
                *slot = (*slot).max(until);
                self.has_model_cooldowns.store(true, Ordering::Relaxed);
            }
        }
    }

    /// A short cooldown after a transient failure (5xx, timeout, ...).
    pub fn transient(&self, until: u64) {
        self.transient_until.fetch_max(until, Ordering::Relaxed);
    }

    /// A transient-failure-free answer: clears the transient cooldown.
    pub fn succeeded(&self) {
        if self.transient_until.load(Ordering::Relaxed) != 0 {
            self.transient_until.store(0, Ordering::Relaxed);
        }
    }

    /// Requests in flight.
    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Relaxed)
    }

    pub(crate) fn acquire(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn release(&self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }

    /// The state for `/health` at `now`; expired model cooldowns are dropped.
    pub fn view(&self, now: u64) -> HealthView {
        let mut detail = self.detail();
        detail.model_cooldowns.retain(|_, until| *until > now);
        if detail.model_cooldowns.is_empty() {
            self.has_model_cooldowns.store(false, Ordering::Relaxed);
        }
        let cooldown = Some(self.cooldown_until.load(Ordering::Relaxed)).filter(|u| *u > now);
        let transient = Some(self.transient_until.load(Ordering::Relaxed)).filter(|u| *u > now);
        let state = if detail.disabled.is_some() {
            "disabled"
        } else if cooldown.is_some() || !detail.model_cooldowns.is_empty() {
            "cooling_down"
        } else if transient.is_some() {
            "transient_cooldown"
        } else {
            "ok"
        };
        HealthView {
            state,
            in_flight: self.in_flight(),
            cooldown_until_ms: cooldown,
            transient_until_ms: transient,
            model_cooldowns: detail.model_cooldowns.clone(),
            disabled: detail.disabled.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cooldowns_scope_to_a_model_and_expire() {
        let h = CredentialHealth::new();
        assert_eq!(h.availability("m", 100), Availability::Ready);
        h.cool_down(200, Some("m"));
        assert_eq!(h.availability("m", 100), Availability::Cooling(200));
        assert_eq!(h.availability("other", 100), Availability::Ready);
        assert_eq!(h.availability("m", 200), Availability::Ready);
        h.cool_down(300, None);
        assert_eq!(h.availability("other", 100), Availability::Cooling(300));
        h.transient(400);
        assert_eq!(h.availability("x", 350), Availability::Soft(400));
        assert_eq!(h.view(350).state, "transient_cooldown");
    }

    #[tokio::test(start_paused = true)]
    async fn a_cooldown_ends_when_its_time_comes() {
        use crate::clock::now_ms;
        let h = CredentialHealth::new();
        h.cool_down(now_ms() + 30_000, None);
        h.transient(now_ms() + 5_000);
        assert!(matches!(
            h.availability("m", now_ms()),
            Availability::Cooling(_)
        ));
        tokio::time::advance(std::time::Duration::from_secs(29)).await;
        assert!(matches!(
            h.availability("m", now_ms()),
            Availability::Cooling(_)
        ));
        tokio::time::advance(std::time::Duration::from_secs(2)).await;
        assert_eq!(h.availability("m", now_ms()), Availability::Ready);
        assert_eq!(h.view(now_ms()).state, "ok");
    }

    #[test]
    fn disable_and_enable() {
        let h = CredentialHealth::new();
        h.disable("401 invalid key".into(), 5);
        assert_eq!(h.availability("m", 6), Availability::Disabled);
        let v = h.view(6);
        assert_eq!(v.state, "disabled");
        assert_eq!(v.disabled.unwrap().at_ms, 5);
        h.enable();
        assert_eq!(h.availability("m", 6), Availability::Ready);
    }
}
