//! Credentials the gateway holds for upstream providers, and the pools that
//! spread requests over them.
//!
//! Everything here is read on the hot path: a pool is built once per state
//! snapshot; picking a credential reads each credential's health atomics
//! and bumps one counter. The resilience state lives here too: runtime
//! health per credential ([`CredentialHealth`]), the circuit breaker per
//! provider ([`CircuitBreaker`]) and the shared-state backends
//! ([`LimiterStore`]: in memory or in Redis).
//!
//! ```
//! use gproxy_credential::{Credential, CredentialEntry, CredentialPool, NoPick, Secret};
//!
//! let key = |k: &str| Credential::ApiKey { key: Secret::new(k.to_owned()) };
//! let pool = CredentialPool::new(vec![
//!     CredentialEntry::new(1, "a".into(), key("sk-a")),
//!     CredentialEntry::new(2, "b".into(), key("sk-b")),
//! ]);
//! let now = 1_000; // epoch ms
//! // Credential 1 is rate limited for every model for a minute.
//! pool.get(1).unwrap().health.cool_down(now + 60_000, None);
//! let lease = pool.lease("gpt-4o-mini", now, &[]).unwrap();
//! assert_eq!(lease.name, "b");
//! assert_eq!(lease.health.in_flight(), 1); // until the lease is dropped
//! // Secrets never print.
//! assert!(!format!("{:?}", lease.credential).contains("sk-b"));
//! // With 2 already tried by this request, only the cooling one is left.
//! assert_eq!(
//!     pool.lease("gpt-4o-mini", now, &[2]).unwrap_err(),
//!     NoPick::CoolingDown { until_ms: now + 60_000 }
//! );
//! ```

pub mod circuit;
pub mod clock;
pub mod health;
pub mod oauth;
mod pool;
pub mod seal;
mod secret;
pub mod service_account;
pub mod store;

pub use circuit::{
    Admission, CircuitBreaker, CircuitCell, CircuitConfig, CircuitEvent, CircuitState, CircuitView,
    Recorded,
};
pub use health::{Availability, CredentialHealth, Disabled, HealthView};
pub use pool::{CredentialEntry, CredentialPool, Lease, NoPick, Strategy};
pub use secret::Secret;
pub use service_account::ServiceAccountKey;
pub use store::{LimiterStore, MemoryStore, RedisStore, StoreError, cooldown_key};

use serde::{Deserialize, Serialize};

/// One upstream credential, as stored (`kind` + `secret` JSON) and used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A static API key, sent in the provider's own header or query form.
    ApiKey {
        /// The key itself.
        key: Secret,
    },
    /// A Google service-account key, exchanged for short-lived OAuth
    /// access tokens (Vertex AI). Boxed: it is large and rare.
    ServiceAccount(Box<ServiceAccountKey>),
    /// A short-lived OAuth access token obtained from a service account,
    /// sent as `Authorization: Bearer`. Never stored: the core builds it
    /// per request from its token cache.
    AccessToken {
        /// The token itself.
        token: Secret,
    },
    /// An OAuth login of a subscription account (codex, claudecode,
    /// antigravity, geminicli): an access token, the refresh token that
    /// renews it and the account's facts. Boxed: it is large and rare.
    OAuth(Box<oauth::OAuthCredential>),
    /// No key at all (local servers such as Ollama).
    None,
}

/// The stored form of a credential's secret for `kind = "api_key"`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApiKeySecret {
    api_key: String,
}

/// Errors turning a stored credential into a usable one.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// The `kind` column names no credential kind this build knows.
    #[error("unknown credential kind `{0}`")]
    UnknownKind(String),
    /// The secret JSON does not match its kind.
    #[error("invalid secret for credential kind `{kind}`: {reason}")]
    InvalidSecret {
        /// The credential kind.
        kind: &'static str,
        /// Why it was rejected (never contains the secret).
        reason: String,
    },
}

impl Credential {
    /// The stored `kind` of this credential.
    pub fn kind(&self) -> &'static str {
        match self {
            Credential::ApiKey { .. } => "api_key",
            Credential::ServiceAccount(_) => "service_account",
            Credential::AccessToken { .. } => "access_token",
            Credential::OAuth(_) => oauth::OAUTH_KIND,
            Credential::None => "none",
        }
    }

    /// The secret JSON to store for this credential.
    pub fn to_secret_json(&self) -> serde_json::Value {
        match self {
            Credential::ApiKey { key } => serde_json::json!({ "api_key": key.expose() }),
            Credential::ServiceAccount(key) => key.to_json(),
            Credential::AccessToken { token } => {
                serde_json::json!({ "access_token": token.expose() })
            }
            Credential::OAuth(c) => c.to_json(),
            Credential::None => serde_json::json!({}),
        }
    }

    /// Rebuilds a credential from its stored `kind` and `secret` JSON.
    pub fn from_stored(kind: &str, secret: &serde_json::Value) -> Result<Self, CredentialError> {
        match kind {
            "api_key" => {
                let parsed: ApiKeySecret = serde_json::from_value(secret.clone()).map_err(|e| {
                    CredentialError::InvalidSecret {
                        kind: "api_key",
                        reason: e.to_string(),
                    }
                })?;
                Ok(Credential::ApiKey {
                    key: Secret::new(parsed.api_key),
                })
            }
            "service_account" => Ok(Credential::ServiceAccount(Box::new(
                ServiceAccountKey::from_json(secret)?,
            ))),
            oauth::OAUTH_KIND => Ok(Credential::OAuth(Box::new(
                oauth::OAuthCredential::from_json(secret)?,
            ))),
            "none" => Ok(Credential::None),
            other => Err(CredentialError::UnknownKind(other.to_owned())),
        }
    }

    /// The OAuth login, for an OAuth credential.
    pub fn oauth(&self) -> Option<&oauth::OAuthCredential> {
        match self {
            Credential::OAuth(c) => Some(c),
            _ => None,
        }
    }

    /// A stable, non-reversible fingerprint: the first 8 hex digits of the
    /// SHA-256 of the secret (for a service account: of its e-mail and key
    /// id). Used to name credentials declared without a name.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let material = match self {
            Credential::ApiKey { key } => key.expose().as_bytes().to_vec(),
            Credential::ServiceAccount(key) => {
                format!("{}\n{}", key.client_email, key.private_key_id).into_bytes()
            }
            Credential::AccessToken { token } => token.expose().as_bytes().to_vec(),
            // The account, not the token: a refresh keeps the name.
            Credential::OAuth(c) => c.identity().into_bytes(),
            Credential::None => Vec::new(),
        };
        let digest = Sha256::digest(&material);
        hex::encode(&digest[..4])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_key_round_trips_through_stored_form() {
        let cred = Credential::ApiKey {
            key: Secret::new("sk-test".into()),
        };
        let back = Credential::from_stored(cred.kind(), &cred.to_secret_json()).unwrap();
        assert_eq!(back, cred);
    }

    #[test]
    fn bad_secret_and_kind_are_rejected_without_leaking() {
        let err =
            Credential::from_stored("api_key", &serde_json::json!({"key": "sk-x"})).unwrap_err();
        assert!(!err.to_string().contains("sk-x"));
        assert!(matches!(
            Credential::from_stored("magic", &serde_json::json!({})),
            Err(CredentialError::UnknownKind(_))
        ));
    }

    #[test]
    fn fingerprint_is_stable_and_short() {
        let a = Credential::ApiKey {
            key: Secret::new("sk-1".into()),
        };
        assert_eq!(a.fingerprint(), a.fingerprint());
        assert_eq!(a.fingerprint().len(), 8);
        let b = Credential::ApiKey {
            key: Secret::new("sk-2".into()),
        };
        assert_ne!(a.fingerprint(), b.fingerprint());
    }
}
