//! `[[providers.credentials]]`: an API key, or a Google service-account key
//! (inline JSON or a file) for `vertex` providers.

use std::path::PathBuf;

use gproxy_credential::{Credential, Secret, ServiceAccountKey};
use gproxy_provider::builtin::VERTEX_KIND;
use serde::Deserialize;

/// `[[providers.credentials]]`: one upstream credential. Exactly one of
/// `api_key`, `service_account` and `service_account_file` is given.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CredentialConfig {
    /// Name, unique within the provider. Default: `key-` (API key) or `sa-`
    /// (service account) + 8 hex digits of a SHA-256 of the secret.
    pub name: Option<String>,
    /// The provider API key.
    pub api_key: Option<String>,
    /// `vertex` only: the service-account key file's JSON text (usually
    /// `"${VAR}"`).
    pub service_account: Option<String>,
    /// `vertex` only: path of the service-account key file (relative paths
    /// are taken from the working directory).
    pub service_account_file: Option<PathBuf>,
    /// Whether the credential is used. Default true.
    pub enabled: Option<bool>,
    /// Relative weight when the provider's `credential_strategy` is
    /// `weighted` (at least 1). Default 1.
    pub weight: Option<u32>,
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

    /// Checks the entry for a provider of `kind`: service accounts for
    /// `vertex` only, and `vertex` takes nothing else.
    pub fn validate(&self, kind: &str) -> Result<(), (String, String)> {
        let credential = self.credential()?;
        if self.weight == Some(0) {
            return Err(("weight".into(), "must be at least 1".into()));
        }
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
