//! What every handler works with: storage, the provider registry, the
//! engine (snapshot, health), the hooks that apply and announce a change,
//! the login limiter and the write lock.

use std::fmt;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use gproxy_core::Engine;
use gproxy_provider::ProviderRegistry;
use gproxy_storage::Storage;

use crate::auth::LoginLimiter;

/// How an accepted write takes effect: supplied by the binary, which knows
/// the secret sealer and the change bus.
pub trait ControlHooks: Send + Sync {
    /// Rebuilds this instance's snapshot and live settings from storage.
    fn reload(&self) -> BoxFuture<'_, Result<(), String>>;
    /// Tells the other instances that the stored state changed.
    fn publish(&self) -> BoxFuture<'_, ()>;
    /// The stored (sealed) form of a credential's secret JSON.
    fn seal(&self, secret: &serde_json::Value) -> Result<serde_json::Value, String>;
    /// The plain secret JSON of a stored (possibly sealed) one.
    fn open(&self, stored: &serde_json::Value) -> Result<serde_json::Value, String>;
}

/// Shared by every admin call.
pub struct AdminContext {
    /// The database.
    pub storage: Storage,
    /// Provider kinds.
    pub registry: ProviderRegistry,
    /// The engine (snapshot, health, upstream client).
    pub engine: Arc<Engine>,
    /// Applies and announces changes.
    pub hooks: Arc<dyn ControlHooks>,
    /// Failed logins.
    pub logins: LoginLimiter,
    /// Held by every write from the database write to the snapshot swap,
    /// so concurrent edits reach the snapshot in the order they were stored.
    pub write_lock: tokio::sync::Mutex<()>,
}

impl fmt::Debug for AdminContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminContext")
            .field("storage", &self.storage)
            .finish_non_exhaustive()
    }
}

/// The hooks of a real instance: [`gproxy_core::control::Control`] rebuilds
/// the snapshot and live settings.
#[derive(Debug)]
pub struct CoreHooks {
    control: Arc<gproxy_core::control::Control>,
}

impl CoreHooks {
    /// Hooks over `control`.
    pub fn new(control: Arc<gproxy_core::control::Control>) -> Self {
        CoreHooks { control }
    }
}

impl ControlHooks for CoreHooks {
    fn reload(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move { self.control.reload().await.map_err(|e| e.to_string()) })
    }

    fn publish(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if let Some(bus) = self.control.engine().change_bus()
                && let Err(e) = bus.publish().await
            {
                tracing::warn!(error = %e, "change stored but not announced to other instances; they see it at their next poll");
            }
        })
    }

    fn seal(&self, secret: &serde_json::Value) -> Result<serde_json::Value, String> {
        Ok(self.control.engine().state().sealer().seal_json(secret))
    }

    fn open(&self, stored: &serde_json::Value) -> Result<serde_json::Value, String> {
        self.control
            .engine()
            .state()
            .sealer()
            .open_json(stored)
            .map_err(|e| e.to_string())
    }
}
