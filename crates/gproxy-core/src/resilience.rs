//! The engine's resilience state: the resolved settings and the optional
//! shared store. Circuit and cooldown operations consult the shared store
//! (Redis) when there is one and fall back to each provider's local
//! [`CircuitBreaker`](gproxy_credential::CircuitBreaker) and each
//! credential's [`CredentialHealth`](gproxy_credential::CredentialHealth)
//! when there is none or it cannot be reached. Local state is always kept
//! up to date, so a Redis outage starts from warm state.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use gproxy_credential::clock::now_ms;
use gproxy_credential::{
    Admission, CircuitEvent, CircuitView, LimiterStore, Recorded, StoreError, cooldown_key,
};

use crate::settings::Resilience;
use crate::state::ProviderRuntime;

/// How the shared store is doing, for `/health`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SharedStatus {
    /// `memory` or `redis`.
    pub backend: &'static str,
    /// `ok`, or `unreachable` while the gateway serves from local state.
    pub status: &'static str,
    /// The last error, while unreachable.
    pub error: Option<String>,
}

/// Settings plus the shared store.
#[derive(Debug)]
pub(crate) struct ResilienceState {
    pub(crate) settings: Resilience,
    shared: Option<Arc<dyn LimiterStore>>,
    shared_ok: AtomicBool,
    /// While the store is failing, when it may be asked again (epoch ms).
    retry_at: AtomicU64,
    last_error: Mutex<Option<String>>,
}

/// After a failed shared-store call, how long requests use local state
/// only before the store is asked again (so an unreachable Redis costs one
/// timeout per interval, not one per request).
pub(crate) const SHARED_RETRY_INTERVAL_MS: u64 = 5_000;

impl ResilienceState {
    pub(crate) fn new(settings: Resilience, shared: Option<Arc<dyn LimiterStore>>) -> Self {
        ResilienceState {
            settings,
            shared,
            shared_ok: AtomicBool::new(true),
            retry_at: AtomicU64::new(0),
            last_error: Mutex::new(None),
        }
    }

    fn ok(&self) {
        if !self.shared_ok.swap(true, Ordering::Relaxed) {
            tracing::warn!("shared resilience state reachable again; using it");
            *self
                .last_error
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = None;
        }
    }

    /// The shared store, unless it failed within the retry interval.
    fn store(&self) -> Option<&Arc<dyn LimiterStore>> {
        let store = self.shared.as_ref()?;
        if !self.shared_ok.load(Ordering::Relaxed)
            && now_ms() < self.retry_at.load(Ordering::Relaxed)
        {
            return None;
        }
        Some(store)
    }

    fn failed(&self, e: &StoreError) {
        self.retry_at
            .store(now_ms() + SHARED_RETRY_INTERVAL_MS, Ordering::Relaxed);
        if self.shared_ok.swap(false, Ordering::Relaxed) {
            tracing::warn!(error = %e, "shared resilience state unreachable; serving on local state");
        }
        *self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(e.to_string());
    }

    /// Whether a request may go to `provider` now.
    pub(crate) async fn admit(&self, provider: &ProviderRuntime) -> Admission {
        let cfg = &self.settings.circuit;
        if !cfg.enabled {
            return Admission::Allowed;
        }
        let now = now_ms();
        if let Some(store) = self.store() {
            match store.admit(&provider.name, now, cfg).await {
                Ok(a) => {
                    self.ok();
                    return a;
                }
                Err(e) => self.failed(&e),
            }
        }
        provider.circuit.admit(now, cfg)
    }

    /// Records `event` for `provider`: locally always, and in the shared
    /// store when there is one (`shared` false skips it, e.g. for a plain
    /// success that cannot change a closed circuit).
    pub(crate) async fn record(
        &self,
        provider: &ProviderRuntime,
        event: CircuitEvent,
        shared: bool,
    ) -> Recorded {
        let cfg = &self.settings.circuit;
        let now = now_ms();
        let local = provider.circuit.record(event, now, cfg);
        if let (true, Some(store)) = (shared, &self.shared) {
            match store.record(&provider.name, event, now, cfg).await {
                Ok(r) => {
                    self.ok();
                    return r;
                }
                Err(e) => self.failed(&e),
            }
        }
        local
    }

    /// Records a failure from a context that cannot wait (a stream that
    /// broke mid-way): locally now, in the shared store in the background.
    pub(crate) fn record_failure_detached(self: &Arc<Self>, provider: &Arc<ProviderRuntime>) {
        let cfg = self.settings.circuit;
        provider
            .circuit
            .record(CircuitEvent::Failure, now_ms(), &cfg);
        if let Some(store) = self.store().cloned() {
            let (this, name) = (self.clone(), provider.name.clone());
            tokio::spawn(async move {
                match store
                    .record(&name, CircuitEvent::Failure, now_ms(), &cfg)
                    .await
                {
                    Ok(_) => this.ok(),
                    Err(e) => this.failed(&e),
                }
            });
        }
    }

    /// The circuit of `provider` (shared when reachable).
    pub(crate) async fn view(&self, provider: &ProviderRuntime) -> CircuitView {
        let cfg = &self.settings.circuit;
        let now = now_ms();
        if let Some(store) = self.store() {
            match store.view(&provider.name, now, cfg).await {
                Ok(v) => {
                    self.ok();
                    return v;
                }
                Err(e) => self.failed(&e),
            }
        }
        provider.circuit.view(now, cfg)
    }

    /// A cooldown another instance set on credential `id` for every model
    /// or for `model` (one round trip), if any. It is applied for `model`
    /// only: a cooldown for every model is found again by other models.
    pub(crate) async fn shared_cooldown(&self, id: i64, model: &str) -> Option<u64> {
        let store = self.store()?;
        let keys = [cooldown_key(id, None), cooldown_key(id, Some(model))];
        match store.cooldown_until(&keys, now_ms()).await {
            Ok(until) => {
                self.ok();
                until
            }
            Err(e) => {
                self.failed(&e);
                None
            }
        }
    }

    /// Shares a cooldown of credential `id` (for every model or `model`).
    pub(crate) async fn share_cooldown(&self, id: i64, model: Option<&str>, until: u64) {
        if let Some(store) = self.store() {
            match store
                .set_cooldown(&cooldown_key(id, model), until, now_ms())
                .await
            {
                Ok(()) => self.ok(),
                Err(e) => self.failed(&e),
            }
        }
    }

    /// Clears the shared cooldowns of credential `id` for `models` and for
    /// every model.
    pub(crate) async fn clear_cooldowns(&self, id: i64, models: &[String]) {
        if let Some(store) = self.store() {
            let mut keys = vec![cooldown_key(id, None)];
            keys.extend(models.iter().map(|m| cooldown_key(id, Some(m))));
            match store.clear_cooldowns(&keys).await {
                Ok(()) => self.ok(),
                Err(e) => self.failed(&e),
            }
        }
    }

    /// The shared store's status.
    pub(crate) fn status(&self) -> SharedStatus {
        match &self.shared {
            None => SharedStatus {
                backend: "memory",
                status: "ok",
                error: None,
            },
            Some(store) => {
                let ok = self.shared_ok.load(Ordering::Relaxed);
                SharedStatus {
                    backend: store.backend(),
                    status: if ok { "ok" } else { "unreachable" },
                    error: if ok {
                        None
                    } else {
                        self.last_error
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .clone()
                    },
                }
            }
        }
    }
}
