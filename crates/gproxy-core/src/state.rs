//! The immutable state snapshot the hot path reads, and the handle that
//! swaps it atomically when the stored state changes.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use gproxy_credential::{
    CircuitBreaker, Credential, CredentialEntry, CredentialHealth, CredentialPool,
    Strategy as CredentialStrategy,
};
use gproxy_provider::{Provider, ProviderRegistry};
use gproxy_storage::Storage;
use sha2::{Digest, Sha256};

use crate::CoreError;
use crate::access::KeyAccess;
use crate::model_route::{ModelRoute, RouteTarget, Strategy};
use gproxy_credential::seal::Sealer;

/// Settings key holding the admin key's SHA-256 (hex).
pub const ADMIN_KEY_HASH: &str = "admin_key_hash";
/// Settings key holding the admin key's visible prefix.
pub const ADMIN_KEY_PREFIX: &str = "admin_key_prefix";
/// The scope of a user key that calls the proxy routes.
pub const KEY_SCOPE_PROXY: &str = "proxy";
/// The scope of a personal admin token (admin API only).
pub const KEY_SCOPE_ADMIN: &str = "admin";
/// Name of the user the admin key authenticates as.
pub const ADMIN_USER: &str = "admin";

/// Who a request is from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// User row id.
    pub user_id: i64,
    /// User name.
    pub user_name: Arc<str>,
    /// The visible prefix of the key used.
    pub key_prefix: Arc<str>,
    /// The user key's row id (`None` for the admin key).
    pub key_id: Option<i64>,
    /// Whether the key is the admin key.
    pub is_admin: bool,
    /// The key's allow-lists (`None`: any provider and model).
    pub access: Option<Arc<KeyAccess>>,
    /// When the key stops working, in epoch milliseconds.
    pub expires_at_ms: Option<i64>,
    /// The most one request may cost, nano-dollars (`None`: no ceiling).
    pub max_cost_nano_usd: Option<i64>,
}

/// A configured provider, ready for the hot path.
#[derive(Debug)]
pub struct ProviderRuntime {
    /// Row id.
    pub id: i64,
    /// Unique name (route and model prefix).
    pub name: String,
    /// The provider implementation of its kind.
    pub provider: Arc<dyn Provider>,
    /// Base URL in use (configured or the kind's default).
    pub base_url: String,
    /// Whether it serves requests.
    pub enabled: bool,
    /// Its enabled credentials.
    pub pool: CredentialPool,
    /// Its circuit breaker (local state; kept across reloads by name).
    pub circuit: Arc<CircuitBreaker>,
}

impl ProviderRuntime {
    /// `body` with the provider's `json_param_mask` applied: the last edit
    /// before dispatch, after the gateway's own. Unchanged (and free) for a
    /// provider without a mask.
    pub(crate) fn masked(&self, body: bytes::Bytes) -> bytes::Bytes {
        match self.provider.json_mask().and_then(|mask| mask.apply(&body)) {
            Some(masked) => bytes::Bytes::from(masked),
            None => body,
        }
    }
}

/// Everything the request path needs, immutable once built.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Providers by name.
    pub providers: HashMap<String, Arc<ProviderRuntime>>,
    /// Principals by SHA-256 of their key.
    pub keys: HashMap<[u8; 32], Arc<Principal>>,
    /// Enabled model routes by name.
    pub routes: HashMap<String, Arc<ModelRoute>>,
}

/// SHA-256 of a key.
pub fn hash_key(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// The short visible part of a key kept for display: at most 8 characters
/// and never more than a quarter of the key.
pub fn key_prefix(key: &str) -> String {
    let n = (key.chars().count() / 4).min(8);
    key.chars().take(n).collect()
}

impl Snapshot {
    /// Builds a snapshot from storage. Each provider is built from its kind
    /// and stored settings (a custom provider is its own instance). Rows
    /// that cannot be used (unknown kind, unusable settings, no base URL,
    /// unreadable credential) are skipped with a warning.
    pub async fn load(
        storage: &Storage,
        registry: &ProviderRegistry,
        sealer: &Sealer,
    ) -> Result<Self, CoreError> {
        Self::load_after(storage, registry, sealer, None).await
    }

    /// Like [`Snapshot::load`], keeping the runtime health of credentials
    /// (by id) and the circuits of providers (by name) of `previous`.
    pub async fn load_after(
        storage: &Storage,
        registry: &ProviderRegistry,
        sealer: &Sealer,
        previous: Option<&Snapshot>,
    ) -> Result<Self, CoreError> {
        let mut old_health: HashMap<i64, Arc<CredentialHealth>> = HashMap::new();
        let mut old_circuits: HashMap<&str, Arc<CircuitBreaker>> = HashMap::new();
        for p in previous.iter().flat_map(|s| s.providers.values()) {
            old_circuits.insert(p.name.as_str(), p.circuit.clone());
            for e in p.pool.entries() {
                old_health.insert(e.id, e.health.clone());
            }
        }
        let providers = storage.list_providers().await?;
        let credentials = storage.list_credentials().await?;
        let users = storage.list_users().await?;
        let user_keys = storage.list_user_keys().await?;
        let model_routes = storage.list_model_routes().await?;

        let mut by_provider: HashMap<i64, Vec<CredentialEntry>> = HashMap::new();
        for row in credentials.into_iter().filter(|c| c.enabled) {
            let secret = match sealer.open_json(&row.secret) {
                Ok(secret) => secret,
                Err(e) => {
                    tracing::warn!(credential_id = row.id, error = %e, "skipping credential: its sealed secret does not open");
                    continue;
                }
            };
            match Credential::from_stored(&row.kind, &secret) {
                Ok(mut credential) => {
                    let health = old_health.remove(&row.id).unwrap_or_default();
                    if let Credential::OAuth(login) = &mut credential {
                        login.version = row.version;
                        // A refresh that failed for good stays failed
                        // until someone logs in again.
                        if let Some(reason) = &login.disabled_reason
                            && !health.is_disabled()
                        {
                            health.disable(reason.clone(), gproxy_credential::clock::now_ms());
                        }
                    }
                    by_provider
                        .entry(row.provider_id)
                        .or_default()
                        .push(CredentialEntry {
                            id: row.id,
                            name: row.name,
                            credential,
                            weight: row.weight,
                            health,
                        })
                }
                Err(e) => tracing::warn!(credential_id = row.id, error = %e, "skipping credential"),
            }
        }

        let mut snapshot = Snapshot::default();
        for row in providers {
            let provider = match registry.build(&row.kind, &row.settings) {
                Ok(provider) => provider,
                Err(e) => {
                    tracing::warn!(provider = %row.name, kind = %row.kind, error = %e, "skipping provider");
                    continue;
                }
            };
            let base_url = row
                .base_url
                .clone()
                .unwrap_or_else(|| provider.default_base_url().to_owned());
            if base_url.is_empty() {
                tracing::warn!(provider = %row.name, kind = %row.kind, "skipping provider without a base URL");
                continue;
            }
            let strategy = CredentialStrategy::parse(&row.credential_strategy).unwrap_or_else(|| {
                tracing::warn!(provider = %row.name, strategy = %row.credential_strategy, "unknown credential strategy, using round_robin");
                CredentialStrategy::RoundRobin
            });
            let pool = CredentialPool::with_strategy(
                strategy,
                by_provider.remove(&row.id).unwrap_or_default(),
            );
            let circuit = old_circuits
                .get(row.name.as_str())
                .cloned()
                .unwrap_or_default();
            snapshot.providers.insert(
                row.name.clone(),
                Arc::new(ProviderRuntime {
                    id: row.id,
                    name: row.name,
                    provider,
                    base_url,
                    enabled: row.enabled,
                    pool,
                    circuit,
                }),
            );
        }

        for row in model_routes.into_iter().filter(|r| r.enabled) {
            let Some(strategy) = Strategy::parse(&row.strategy) else {
                tracing::warn!(route = %row.name, strategy = %row.strategy, "skipping model route of unknown strategy");
                continue;
            };
            let targets: Vec<RouteTarget> = match serde_json::from_value(row.targets) {
                Ok(t) => t,
                Err(e) => {
                    tracing::warn!(route = %row.name, error = %e, "skipping model route with unreadable targets");
                    continue;
                }
            };
            snapshot.routes.insert(
                row.name.clone(),
                Arc::new(ModelRoute::new(row.name, strategy, targets)),
            );
        }

        let names: HashMap<i64, (Arc<str>, bool)> = users
            .into_iter()
            .map(|u| (u.id, (Arc::from(u.name.as_str()), u.enabled)))
            .collect();
        // Personal admin tokens (scope `admin`) never authenticate proxy calls.
        for key in user_keys
            .into_iter()
            .filter(|k| k.enabled && k.scope == KEY_SCOPE_PROXY)
        {
            let Some((name, true)) = names.get(&key.user_id) else {
                continue;
            };
            let Some(hash) = decode_hash(&key.key_hash) else {
                tracing::warn!(key_id = key.id, "skipping key with a malformed hash");
                continue;
            };
            snapshot.keys.insert(
                hash,
                Arc::new(Principal {
                    user_id: key.user_id,
                    user_name: name.clone(),
                    key_prefix: Arc::from(key.key_prefix.as_str()),
                    key_id: Some(key.id),
                    is_admin: false,
                    access: KeyAccess::from_lists(key.allowed_providers, key.allowed_models)
                        .map(Arc::new),
                    expires_at_ms: key.expires_at.map(|at| at.timestamp_millis()),
                    max_cost_nano_usd: key.max_cost_nano_usd,
                }),
            );
        }

        if let Some(hash) = storage
            .get_setting(ADMIN_KEY_HASH)
            .await?
            .as_deref()
            .and_then(decode_hash)
        {
            let prefix = storage
                .get_setting(ADMIN_KEY_PREFIX)
                .await?
                .unwrap_or_default();
            let admin = storage.upsert_user(ADMIN_USER).await?;
            snapshot.keys.insert(
                hash,
                Arc::new(Principal {
                    user_id: admin.id,
                    user_name: Arc::from(ADMIN_USER),
                    key_prefix: Arc::from(prefix.as_str()),
                    key_id: None,
                    is_admin: true,
                    access: None,
                    expires_at_ms: None,
                    max_cost_nano_usd: None,
                }),
            );
        }
        Ok(snapshot)
    }

    /// The principal a presented key belongs to.
    pub fn authenticate(&self, key: &str) -> Option<&Arc<Principal>> {
        self.keys.get(&hash_key(key))
    }
}

fn decode_hash(hex_hash: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_hash, &mut out).ok()?;
    Some(out)
}

/// The current snapshot behind an atomic pointer. Readers never block.
#[derive(Debug)]
pub struct StateHandle {
    current: ArcSwap<Snapshot>,
    sealer: Arc<Sealer>,
}

impl StateHandle {
    /// A handle holding `snapshot`.
    pub fn new(snapshot: Snapshot, sealer: Arc<Sealer>) -> Self {
        StateHandle {
            current: ArcSwap::from_pointee(snapshot),
            sealer,
        }
    }

    /// The sealer that opens credential secrets on every reload.
    pub fn sealer(&self) -> &Arc<Sealer> {
        &self.sealer
    }

    /// The current snapshot.
    pub fn load(&self) -> arc_swap::Guard<Arc<Snapshot>> {
        self.current.load()
    }

    /// The current snapshot as an owned pointer (for holding across `.await`).
    pub fn load_full(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Replaces the snapshot; requests in flight keep the one they loaded.
    pub fn store(&self, snapshot: Snapshot) {
        self.current.store(Arc::new(snapshot));
    }

    /// Rebuilds the snapshot from storage and swaps it in.
    pub async fn reload(
        &self,
        storage: &Storage,
        registry: &ProviderRegistry,
    ) -> Result<(), CoreError> {
        let previous = self.load_full();
        self.store(Snapshot::load_after(storage, registry, &self.sealer, Some(&previous)).await?);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_never_reveals_a_short_key() {
        assert_eq!(
            key_prefix("sk-alice-0123456789abcdef0123456789"),
            "sk-alice"
        );
        assert_eq!(key_prefix("12345678"), "12");
    }

    #[test]
    fn hash_round_trips_through_hex() {
        let h = hash_key("sk-test-key");
        assert_eq!(decode_hash(&hex::encode(h)), Some(h));
        assert_eq!(decode_hash("zz"), None);
    }
}
