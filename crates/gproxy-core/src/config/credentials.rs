//! `[[providers.credentials]]`: an API key, or a Google service-account key
//! (inline JSON or a file) for `vertex` providers.

use std::path::PathBuf;

use gproxy_credential::{Credential, Secret, ServiceAccountKey};
use gproxy_provider::builtin::VERTEX_KIND;
use serde::{Deserialize, Serialize};

/// `[[providers.credentials]]`: one upstream credential. Exactly one of
/// `api_key`, `service_account`, `service_account_file` and `sealed` is
/// given.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CredentialConfig {
    /// Name, unique within the provider. Default: `key-` (API key) or `sa-`
    /// (service account) + 8 hex digits of a SHA-256 of the secret.
    /// Required with `sealed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The provider API key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// `vertex` only: the service-account key file's JSON text (usually
    /// `"${VAR}"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_account: Option<String>,
    /// `vertex` only: path of the service-account key file (relative paths
    /// are taken from the working directory).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_account_file: Option<PathBuf>,
    /// The secret as stored, sealed under the gateway's master key (written
    /// by a config export; only an instance with the same master key can
    /// use it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sealed: Option<String>,
    /// With `sealed`: the stored credential kind (`api_key`,
    /// `service_account`, `access_token`, `none`). Default `service_account`
    /// for `vertex` providers, `api_key` otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Whether the credential is used. Default true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Relative weight when the provider's `credential_strategy` is
    /// `weighted` (at least 1). Default 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
}

/// Stored credential kinds a `sealed` entry may name.
const STORED_KINDS: &[&str] = &["api_key", "service_account", "access_token", "none"];

/// A credential entry as it is stored: name, kind and secret JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredCredential {
    /// The credential's name.
    pub name: String,
    /// The stored kind (`api_key`, `service_account`, ...).
    pub kind: String,
    /// The secret JSON (`{"sealed": "..."}` for a sealed entry).
    pub secret: serde_json::Value,
}

impl CredentialConfig {
    /// The credential this entry declares (reads `service_account_file`).
    /// Errors name the field relative to the credential; none contains the
    /// secret.
    pub fn credential(&self) -> Result<Credential, (String, String)> {
        match (
            &self.api_key,
            &self.service_account,
            &self.service_account_file,
        ) {
            (Some(key), None, None) => {
                if key.trim().is_empty() {
                    return Err(("api_key".into(), "must not be empty".into()));
                }
                if key.chars().any(|ch| ch.is_control() || ch == ' ') {
                    return Err((
                        "api_key".into(),
                        "must not contain spaces or control characters".into(),
                    ));
                }
                Ok(Credential::ApiKey {
                    key: Secret::new(key.clone()),
                })
            }
            (None, Some(json), None) => ServiceAccountKey::from_json_str(json)
                .map(|k| Credential::ServiceAccount(Box::new(k)))
                .map_err(|e| ("service_account".into(), e.to_string())),
            (None, None, Some(path)) => {
                let field = "service_account_file".to_owned();
                let text = std::fs::read_to_string(path).map_err(|e| {
                    (
                        field.clone(),
                        format!("cannot read {}: {e}", path.display()),
                    )
                })?;
                ServiceAccountKey::from_json_str(&text)
                    .map(|k| Credential::ServiceAccount(Box::new(k)))
                    .map_err(|e| (field, format!("{}: {e}", path.display())))
            }
            (None, None, None) => Err((
                "api_key".into(),
                "required (or, for vertex, `service_account` or `service_account_file`)".into(),
            )),
            (_, Some(_), _) => Err((
                "service_account".into(),
                "give only one of `api_key`, `service_account` and `service_account_file`".into(),
            )),
            (_, _, Some(_)) => Err((
                "service_account_file".into(),
                "give only one of `api_key`, `service_account` and `service_account_file`".into(),
            )),
        }
    }

    /// The row this entry stores for a provider of `provider_kind`: a
    /// sealed secret as given, anything else from [`Self::credential`].
    pub fn stored(&self, provider_kind: &str) -> Result<StoredCredential, (String, String)> {
        let Some(sealed) = &self.sealed else {
            let credential = self.credential()?;
            return Ok(StoredCredential {
                name: self.name_for(&credential),
                kind: credential.kind().to_owned(),
                secret: credential.to_secret_json(),
            });
        };
        let name = self
            .name
            .clone()
            .ok_or_else(|| ("name".to_owned(), "required with `sealed`".to_owned()))?;
        Ok(StoredCredential {
            name,
            kind: self
                .kind
                .clone()
                .unwrap_or_else(|| Self::default_sealed_kind(provider_kind).to_owned()),
            secret: serde_json::json!({ "sealed": sealed }),
        })
    }

    /// The kind a `sealed` entry without `kind` has.
    pub fn default_sealed_kind(provider_kind: &str) -> &'static str {
        if provider_kind == VERTEX_KIND {
            "service_account"
        } else {
            "api_key"
        }
    }

    /// Checks a `sealed` entry: nothing else secret, a name, a known kind.
    fn validate_sealed(&self, sealed: &str) -> Result<(), (String, String)> {
        for (field, given) in [
            ("api_key", self.api_key.is_some()),
            ("service_account", self.service_account.is_some()),
            ("service_account_file", self.service_account_file.is_some()),
        ] {
            if given {
                return Err((
                    field.to_owned(),
                    "give only one of `api_key`, `service_account`, `service_account_file` and `sealed`"
                        .to_owned(),
                ));
            }
        }
        if sealed.trim().is_empty() {
            return Err(("sealed".into(), "must not be empty".into()));
        }
        if self.name.is_none() {
            return Err(("name".into(), "required with `sealed`".into()));
        }
        if let Some(kind) = &self.kind
            && !STORED_KINDS.contains(&kind.as_str())
        {
            return Err((
                "kind".into(),
                format!(
                    "unknown credential kind `{kind}` (one of: {})",
                    STORED_KINDS.join(", ")
                ),
            ));
        }
        Ok(())
    }

    /// Checks the entry for a provider of `kind`: service accounts for
    /// `vertex` only, and `vertex` takes nothing else.
    pub fn validate(&self, kind: &str) -> Result<(), (String, String)> {
        if self.weight == Some(0) {
            return Err(("weight".into(), "must be at least 1".into()));
        }
        if let Some(sealed) = &self.sealed {
            return self.validate_sealed(sealed);
        }
        if self.kind.is_some() {
            return Err(("kind".into(), "only allowed with `sealed`".into()));
        }
        let credential = self.credential()?;
        match (&credential, kind == VERTEX_KIND) {
            (Credential::ServiceAccount(_), false) => Err((
                if self.service_account.is_some() {
                    "service_account".into()
                } else {
                    "service_account_file".into()
                },
                format!("only allowed with kind = \"vertex\" (this provider's kind is `{kind}`)"),
            )),
            (Credential::ServiceAccount(_), true) => Ok(()),
            (_, true) => Err((
                "api_key".into(),
                "a vertex provider authenticates with `service_account` or \
                 `service_account_file` (for an express-mode API key use kind = \"vertexexpress\")"
                    .into(),
            )),
            (_, false) => Ok(()),
        }
    }

    /// The name to store: the configured one or one derived from the secret.
    pub fn name_for(&self, credential: &Credential) -> String {
        match (&self.name, credential) {
            (Some(name), _) => name.clone(),
            (None, Credential::ServiceAccount(_)) => format!("sa-{}", credential.fingerprint()),
            (None, _) => format!("key-{}", credential.fingerprint()),
        }
    }
}
