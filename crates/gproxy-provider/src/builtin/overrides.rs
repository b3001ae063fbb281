//! Operator overrides on a built-in provider: extra upstream headers, a
//! model allow-list and a `json_param_mask`, the same three a custom
//! provider takes, stored in the provider row's settings beside the kind's
//! own (`project`, `location` for vertex). The built-in is wrapped; a
//! provider without overrides is the shared instance, untouched.

use std::collections::BTreeMap;
use std::sync::Arc;

use gproxy_credential::Credential;
use gproxy_protocol::Protocol;
use gproxy_protocol::json_mask::JsonMask;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};

use super::custom::{CustomProvider, CustomSettings, SettingsError};
use crate::ProviderError;
use crate::models::{ModelPage, ModelsError};
use crate::traits::{AuthForm, CountTokensApi, Endpoint, Provider};

/// The setting names overrides take.
pub const OVERRIDE_KEYS: [&str; 3] = ["headers", "models", "json_param_mask"];

/// The overrides as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overrides {
    /// Request-body paths set to `null` just before dispatch.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub json_param_mask: Vec<String>,
    /// Extra upstream headers, set on every request.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The models served (empty: any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<String>,
}

impl Overrides {
    /// The overrides in a row's settings, and the settings without them.
    pub fn split(settings: &serde_json::Value) -> Result<(Self, serde_json::Value), String> {
        let mut rest = settings.clone();
        let mut picked = serde_json::Map::new();
        if let Some(obj) = rest.as_object_mut() {
            for key in OVERRIDE_KEYS {
                if let Some(v) = obj.remove(key) {
                    picked.insert(key.to_owned(), v);
                }
            }
        }
        let overrides =
            serde_json::from_value(serde_json::Value::Object(picked)).map_err(|e| e.to_string())?;
        Ok((overrides, rest))
    }

    /// Whether any override is set.
    pub fn is_empty(&self) -> bool {
        self.json_param_mask.is_empty() && self.headers.is_empty() && self.models.is_empty()
    }

    /// Checks them (field paths as a custom provider's: `headers.x-foo`).
    pub fn validate(&self) -> Result<(), SettingsError> {
        self.rules(Protocol::OpenAiChat).map(|_| ())
    }

    /// The parsed rules (a custom provider's header, model and mask logic).
    fn rules(&self, protocol: Protocol) -> Result<CustomProvider, SettingsError> {
        CustomProvider::new(&CustomSettings {
            protocol,
            json_param_mask: self.json_param_mask.clone(),
            headers: self.headers.clone(),
            models: self.models.clone(),
            count_tokens: Default::default(),
            auth: None,
        })
    }
}

/// A built-in provider with overrides.
#[derive(Debug)]
pub struct Overridden {
    inner: Arc<dyn Provider>,
    rules: CustomProvider,
}

impl Overridden {
    /// `inner` with `overrides` (which must validate).
    pub fn wrap(inner: Arc<dyn Provider>, overrides: &Overrides) -> Result<Self, ProviderError> {
        let protocol = inner
            .protocols()
            .first()
            .copied()
            .unwrap_or(Protocol::OpenAiChat);
        let rules = overrides
            .rules(protocol)
            .map_err(|e| ProviderError::InvalidSettings {
                kind: inner.kind(),
                field: e.field,
                message: e.message,
            })?;
        Ok(Overridden { inner, rules })
    }
}

impl Provider for Overridden {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }
    fn protocols(&self) -> &'static [Protocol] {
        self.inner.protocols()
    }
    fn default_base_url(&self) -> &str {
        self.inner.default_base_url()
    }
    fn upstream_url(
        &self,
        base_url: &str,
        endpoint: &Endpoint<'_>,
    ) -> Result<String, ProviderError> {
        self.inner.upstream_url(base_url, endpoint)
    }
    fn upstream_url_for(
        &self,
        base_url: &str,
        endpoint: &Endpoint<'_>,
        credential: &Credential,
    ) -> Result<String, ProviderError> {
        self.inner.upstream_url_for(base_url, endpoint, credential)
    }
    fn auth_form(&self) -> AuthForm {
        self.inner.auth_form()
    }
    fn models_url(&self, base_url: &str, page: Option<&str>) -> Option<String> {
        self.inner.models_url(base_url, page)
    }
    fn parse_models(&self, body: &[u8]) -> Result<ModelPage, ModelsError> {
        self.inner.parse_models(body)
    }
    fn fallback_models(&self) -> &'static [&'static str] {
        self.inner.fallback_models()
    }
    fn apply_auth(
        &self,
        credential: &Credential,
        headers: &mut HeaderMap,
    ) -> Result<(), ProviderError> {
        self.inner.apply_auth(credential, headers)
    }
    fn passthrough_url(&self, base_url: &str, path_and_query: &str) -> String {
        self.inner.passthrough_url(base_url, path_and_query)
    }
    fn default_headers(&self, headers: &mut HeaderMap) {
        self.inner.default_headers(headers);
    }
    fn extra_headers(&self) -> &[(HeaderName, HeaderValue)] {
        self.rules.extra_headers()
    }
    fn allows_model(&self, model: &str) -> bool {
        self.rules.allows_model(model) && self.inner.allows_model(model)
    }
    fn json_mask(&self) -> Option<&JsonMask> {
        self.rules.json_mask()
    }
    fn requires_credential(&self) -> bool {
        self.inner.requires_credential()
    }
    fn classify_failure(
        &self,
        status: http::StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) -> crate::FailureClass {
        self.inner.classify_failure(status, headers, body)
    }
    fn count_tokens_api(&self) -> Option<CountTokensApi> {
        self.inner.count_tokens_api()
    }
    fn oauth(&self) -> Option<&crate::oauth::OAuthSpec> {
        self.inner.oauth()
    }

    fn oauth_account(
        &self,
        answer: &serde_json::Value,
    ) -> serde_json::Map<String, serde_json::Value> {
        self.inner.oauth_account(answer)
    }

    fn import_credential(
        &self,
        input: &str,
        now_ms: u64,
    ) -> Option<Result<gproxy_credential::oauth::Imported, gproxy_credential::oauth::ImportError>>
    {
        self.inner.import_credential(input, now_ms)
    }

    fn code_assist_discovery(&self) -> Option<crate::oauth::CodeAssistDiscovery> {
        self.inner.code_assist_discovery()
    }

    fn prepare_request(
        &self,
        endpoint: &Endpoint<'_>,
        credential: &Credential,
        headers: &mut HeaderMap,
        body: bytes::Bytes,
    ) -> Result<bytes::Bytes, ProviderError> {
        self.inner
            .prepare_request(endpoint, credential, headers, body)
    }

    fn response_envelope(&self) -> Option<&'static str> {
        self.inner.response_envelope()
    }

    fn models_body(&self) -> Option<&'static [u8]> {
        self.inner.models_body()
    }

    fn quota_call(
        &self,
        base_url: &str,
        credential: &Credential,
    ) -> Option<crate::oauth::SideCall> {
        self.inner.quota_call(base_url, credential)
    }

    fn parse_quota(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<crate::oauth::Quota, ModelsError> {
        self.inner.parse_quota(headers, body)
    }

    fn speaks(&self, protocol: Protocol) -> bool {
        self.inner.speaks(protocol)
    }
}

#[cfg(test)]
mod tests {
    use crate::ProviderRegistry;
    use serde_json::json;

    #[test]
    fn a_builtin_takes_headers_models_and_a_mask() {
        let r = ProviderRegistry::builtin();
        let p = r
            .build("openai", &json!({"headers": {"x-team": "a"}, "models": ["gpt-4o"], "json_param_mask": ["user"]}))
            .unwrap();
        assert_eq!(p.kind(), "openai");
        assert_eq!(p.extra_headers()[0].0.as_str(), "x-team");
        assert!(p.allows_model("gpt-4o") && !p.allows_model("o3"));
        assert!(p.json_mask().is_some());
        // Without overrides: the plain built-in.
        let plain = r.build("openai", &json!({})).unwrap();
        assert!(plain.extra_headers().is_empty() && plain.allows_model("o3"));
        // Vertex keeps its own settings beside the overrides.
        let v = r
            .build(
                "vertex",
                &json!({"location": "europe-west4", "models": ["gemini-2.5-pro"]}),
            )
            .unwrap();
        assert!(v.allows_model("gemini-2.5-pro") && !v.allows_model("x"));
        let bad = r.build("openai", &json!({"headers": {"authorization": "x"}}));
        assert!(bad.is_err());
    }
}
