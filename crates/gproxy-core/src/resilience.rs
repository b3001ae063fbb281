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
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
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
    settings: arc_swap::ArcSwap<Resilience>,
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
            settings: arc_swap::ArcSwap::from_pointee(settings),
            shared,
            shared_ok: AtomicBool::new(true),
            retry_at: AtomicU64::new(0),
            last_error: Mutex::new(None),
        }
    }

    /// The settings in force (read once per use; do not hold across an await).
    pub(crate) fn settings(&self) -> Arc<Resilience> {
        self.settings.load_full()
    }

    /// Whether test mode is on (read without taking a reference count).
    pub(crate) fn test_mode_enabled(&self) -> bool {
        self.settings.load().test_mode_enabled
    }

    /// Replaces the settings (live reconfiguration). The shared store stays:
    /// a new backend or Redis URL takes a restart.
    pub(crate) fn set_settings(&self, settings: Resilience) {
        self.settings.store(Arc::new(settings));
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
        let circuit = self.settings.load().circuit;
        let cfg = &circuit;
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
        let circuit = self.settings.load().circuit;
        let cfg = &circuit;
        let now = now_ms();
        let local = provider.circuit.record(event, now, cfg);
        if let (true, Some(store)) = (shared, self.store()) {
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
        let cfg = self.settings.load().circuit;
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
        let circuit = self.settings.load().circuit;
        let cfg = &circuit;
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    use gproxy_credential::{CircuitConfig, CircuitState, CredentialPool};
    use gproxy_provider::ProviderRegistry;

    use super::*;

    /// A store that fails every call and counts them.
    #[derive(Debug, Default)]
    struct DownStore {
        calls: AtomicUsize,
    }

    impl DownStore {
        fn fail(&self) -> StoreError {
            self.calls.fetch_add(1, Ordering::Relaxed);
            StoreError {
                backend: "redis",
                message: "connection refused".into(),
            }
        }
    }

    #[async_trait::async_trait]
    impl LimiterStore for DownStore {
        fn backend(&self) -> &'static str {
            "redis"
        }
        async fn admit(&self, _: &str, _: u64, _: &CircuitConfig) -> Result<Admission, StoreError> {
            Err(self.fail())
        }
        async fn record(
            &self,
            _: &str,
            _: CircuitEvent,
            _: u64,
            _: &CircuitConfig,
        ) -> Result<Recorded, StoreError> {
            Err(self.fail())
        }
        async fn view(
            &self,
            _: &str,
            _: u64,
            _: &CircuitConfig,
        ) -> Result<CircuitView, StoreError> {
            Err(self.fail())
        }
        async fn set_cooldown(&self, _: &str, _: u64, _: u64) -> Result<(), StoreError> {
            Err(self.fail())
        }
        async fn cooldown_until(&self, _: &[String], _: u64) -> Result<Option<u64>, StoreError> {
            Err(self.fail())
        }
        async fn clear_cooldowns(&self, _: &[String]) -> Result<(), StoreError> {
            Err(self.fail())
        }
    }

    fn provider() -> ProviderRuntime {
        let registry = ProviderRegistry::builtin();
        let provider = registry.get("openai").unwrap();
        ProviderRuntime {
            id: 1,
            name: "openai".into(),
            base_url: provider.default_base_url().to_owned(),
            provider,
            enabled: true,
            pool: CredentialPool::new(Vec::new()),
            circuit: Default::default(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_store_falls_back_to_local_state_and_is_retried_later() {
        let store = Arc::new(DownStore::default());
        let mut settings = Resilience::default();
        settings.circuit.failure_threshold = 2;
        settings.circuit.cooldown_ms = 60_000;
        let state = ResilienceState::new(settings, Some(store.clone()));
        let p = provider();

        assert_eq!(state.admit(&p).await, Admission::Allowed);
        assert_eq!(store.calls.load(Ordering::Relaxed), 1);
        let status = state.status();
        assert_eq!((status.backend, status.status), ("redis", "unreachable"));
        assert!(status.error.unwrap().contains("connection refused"));

        // Local state keeps working, without asking the store again.
        state.record(&p, CircuitEvent::Failure, true).await;
        let r = state.record(&p, CircuitEvent::Failure, true).await;
        assert_eq!(r.view.state, CircuitState::Open);
        assert!(matches!(state.admit(&p).await, Admission::Rejected { .. }));
        assert_eq!(state.shared_cooldown(1, "m").await, None);
        assert_eq!(store.calls.load(Ordering::Relaxed), 1, "skipped while down");

        // After the retry interval the store is asked again.
        tokio::time::advance(Duration::from_millis(SHARED_RETRY_INTERVAL_MS + 1)).await;
        assert!(matches!(state.admit(&p).await, Admission::Rejected { .. }));
        assert_eq!(store.calls.load(Ordering::Relaxed), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn the_local_circuit_probes_after_its_cooldown() {
        let mut settings = Resilience::default();
        settings.circuit.failure_threshold = 1;
        settings.circuit.cooldown_ms = 10_000;
        let state = ResilienceState::new(settings, None);
        let p = provider();
        state.record(&p, CircuitEvent::Failure, true).await;
        assert!(matches!(state.admit(&p).await, Admission::Rejected { .. }));
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(state.view(&p).await.state, CircuitState::HalfOpen);
        assert_eq!(state.admit(&p).await, Admission::Probe);
        state.record(&p, CircuitEvent::Success, true).await;
        assert_eq!(state.view(&p).await.state, CircuitState::Closed);
        assert_eq!(state.status().status, "ok");
    }
}
