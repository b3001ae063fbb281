//! Custom providers (`kind = "custom"`): pure configuration. One protocol,
//! a base URL, an auth form, extra headers, a model allow-list and a
//! `json_param_mask`, all read from the provider's stored settings
//! ([`CustomSettings`]), so each custom provider is its own instance.

use std::collections::{BTreeMap, HashSet};

use gproxy_protocol::Protocol;
use gproxy_protocol::json_mask::JsonMask;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};

use super::aistudio::{
    gemini_count_tokens_url, gemini_embed_url, gemini_generate_url, gemini_models_url,
};
use super::claude::{claude_models_url, default_anthropic_version};
use super::openai::openai_passthrough_url;
use crate::models::{ModelPage, ModelsError, parse_claude, parse_gemini, parse_openai};
use crate::traits::{AuthForm, join_url, unsupported};
use crate::{CountTokensApi, Endpoint, Provider, ProviderError};

/// The kind name of custom providers.
pub const CUSTOM_KIND: &str = "custom";

/// Headers an operator may not configure: credentials (the provider's
/// credential is injected in its auth form) and headers the gateway or the
/// HTTP layer own.
const FORBIDDEN_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "x-goog-api-key",
    "cookie",
    "host",
    "content-length",
    "content-type",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
    "http2-settings",
];

/// A custom provider's settings, as stored in the provider row's
/// `settings` JSON (and written in the config file's `[[providers]]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomSettings {
    /// The one protocol the upstream speaks.
    pub protocol: Protocol,
    /// Paths set to `null` in the request body before dispatch.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub json_param_mask: Vec<String>,
    /// Extra upstream headers, set on every request.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Model allow-list; empty means any model.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<String>,
    /// Where token counts come from.
    #[serde(default)]
    pub count_tokens: CountTokens,
    /// How the credential is sent; `None` is the protocol's usual form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<CustomAuth>,
}

/// Where a custom provider's token counts come from (used by the
/// token-counting routes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CountTokens {
    /// Ask the upstream's own token-counting endpoint.
    #[default]
    Upstream,
    /// Count locally, without an upstream call.
    Local,
}

/// How a custom provider sends its API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CustomAuth {
    /// `Authorization: Bearer <key>` (default for the OpenAI protocols).
    Bearer,
    /// `x-api-key: <key>` (default for Claude).
    XApiKey,
    /// `x-goog-api-key: <key>` (default for Gemini).
    XGoogApiKey,
    /// No credential is sent (and none is needed).
    None,
}

impl CustomAuth {
    /// The usual form for `protocol`.
    pub fn default_for(protocol: Protocol) -> CustomAuth {
        match protocol {
            Protocol::OpenAiChat | Protocol::OpenAiResponses => CustomAuth::Bearer,
            Protocol::Claude => CustomAuth::XApiKey,
            Protocol::Gemini => CustomAuth::XGoogApiKey,
        }
    }

    fn form(self) -> AuthForm {
        match self {
            CustomAuth::Bearer => AuthForm::Bearer,
            CustomAuth::XApiKey => AuthForm::Header("x-api-key"),
            CustomAuth::XGoogApiKey => AuthForm::Header("x-goog-api-key"),
            CustomAuth::None => AuthForm::None,
        }
    }
}

/// A custom setting that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{field}`: {message}")]
pub struct SettingsError {
    /// The field, relative to the provider: `json_param_mask[1]`,
    /// `headers.x-foo`, `models[0]`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// A provider built from [`CustomSettings`].
#[derive(Debug, Clone)]
pub struct CustomProvider {
    protocol: Protocol,
    auth: AuthForm,
    headers: Vec<(HeaderName, HeaderValue)>,
    /// `None`: any model.
    models: Option<HashSet<String>>,
    mask: Option<JsonMask>,
    count_tokens: CountTokens,
}

impl CustomProvider {
    /// Validates `settings` and builds the provider.
    pub fn new(settings: &CustomSettings) -> Result<Self, SettingsError> {
        let mask = JsonMask::parse(&settings.json_param_mask).map_err(|e| SettingsError {
            field: format!("json_param_mask[{}]", e.index),
            message: e.to_string(),
        })?;
        let mut headers: Vec<(HeaderName, HeaderValue)> = Vec::new();
        for (name, value) in &settings.headers {
            let header = extra_header(name, value).map_err(|message| SettingsError {
                field: format!("headers.{name}"),
                message,
            })?;
            if headers.iter().any(|(n, _)| *n == header.0) {
                return Err(SettingsError {
                    field: format!("headers.{name}"),
                    message: format!("`{}` is given twice", header.0),
                });
            }
            headers.push(header);
        }
        for (i, model) in settings.models.iter().enumerate() {
            if model.trim().is_empty() {
                return Err(SettingsError {
                    field: format!("models[{i}]"),
                    message: "a model name must not be empty".into(),
                });
            }
        }
        let models =
            (!settings.models.is_empty()).then(|| settings.models.iter().cloned().collect());
        let auth = settings
            .auth
            .unwrap_or_else(|| CustomAuth::default_for(settings.protocol));
        Ok(CustomProvider {
            protocol: settings.protocol,
            auth: auth.form(),
            headers,
            models,
            mask: (!mask.is_empty()).then_some(mask),
            count_tokens: settings.count_tokens,
        })
    }

    /// Builds the provider from a provider row's stored settings.
    pub fn from_settings(settings: &serde_json::Value) -> Result<Self, ProviderError> {
        let invalid = |field: String, message: String| ProviderError::InvalidSettings {
            kind: CUSTOM_KIND,
            field,
            message,
        };
        let settings: CustomSettings = serde_json::from_value(settings.clone())
            .map_err(|e| invalid("settings".into(), e.to_string()))?;
        Self::new(&settings).map_err(|e| invalid(e.field, e.message))
    }

    /// Where token counts come from.
    pub fn count_tokens(&self) -> CountTokens {
        self.count_tokens
    }
}

/// An operator-configured header, checked: a valid name and value, and not
/// one of the headers the gateway owns.
pub fn extra_header(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), String> {
    let header_name = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("`{name}` is not a valid header name"))?;
    if FORBIDDEN_HEADERS.contains(&header_name.as_str()) {
        return Err(format!(
            "`{header_name}` cannot be configured: credentials go in `[[providers.credentials]]` \
             and the gateway sets connection-level headers itself"
        ));
    }
    let header_value = HeaderValue::from_str(value)
        .map_err(|_| "the value contains characters not allowed in an HTTP header".to_owned())?;
    Ok((header_name, header_value))
}

impl Provider for CustomProvider {
    fn kind(&self) -> &'static str {
        CUSTOM_KIND
    }

    fn protocols(&self) -> &'static [Protocol] {
        match self.protocol {
            Protocol::OpenAiChat => &[Protocol::OpenAiChat],
            Protocol::OpenAiResponses => &[Protocol::OpenAiResponses],
            Protocol::Claude => &[Protocol::Claude],
            Protocol::Gemini => &[Protocol::Gemini],
        }
    }

    /// None: a custom provider's base URL is always configured.
    fn default_base_url(&self) -> &str {
        ""
    }

    fn upstream_url(
        &self,
        base_url: &str,
        endpoint: &Endpoint<'_>,
    ) -> Result<String, ProviderError> {
        if endpoint.protocol() != self.protocol {
            return Err(unsupported(self, endpoint));
        }
        Ok(match endpoint {
            Endpoint::OpenAiChat => join_url(base_url, "chat/completions"),
            Endpoint::OpenAiResponses => join_url(base_url, "responses"),
            Endpoint::OpenAiInputTokens => join_url(base_url, "responses/input_tokens"),
            Endpoint::ClaudeMessages => join_url(base_url, "v1/messages"),
            Endpoint::ClaudeCountTokens => join_url(base_url, "v1/messages/count_tokens"),
            Endpoint::GeminiCountTokens { version, model } => {
                gemini_count_tokens_url(base_url, version, model)
            }
            Endpoint::GeminiGenerate {
                version,
                model,
                stream,
                alt_sse,
            } => gemini_generate_url(base_url, version, model, *stream, *alt_sse),
            Endpoint::OpenAiEmbeddings => join_url(base_url, "embeddings"),
            Endpoint::GeminiEmbed {
                version,
                model,
                batch,
            } => gemini_embed_url(base_url, version, model, *batch),
        })
    }

    fn passthrough_url(&self, base_url: &str, path_and_query: &str) -> String {
        match self.protocol {
            Protocol::OpenAiChat | Protocol::OpenAiResponses => {
                openai_passthrough_url(base_url, path_and_query)
            }
            Protocol::Claude | Protocol::Gemini => join_url(base_url, path_and_query),
        }
    }

    fn auth_form(&self) -> AuthForm {
        self.auth
    }

    fn models_url(&self, base_url: &str, page: Option<&str>) -> Option<String> {
        Some(match self.protocol {
            Protocol::OpenAiChat | Protocol::OpenAiResponses => join_url(base_url, "models"),
            Protocol::Claude => claude_models_url(base_url, page),
            Protocol::Gemini => gemini_models_url(base_url, page),
        })
    }

    fn parse_models(&self, body: &[u8]) -> Result<ModelPage, ModelsError> {
        match self.protocol {
            Protocol::OpenAiChat | Protocol::OpenAiResponses => parse_openai(body),
            Protocol::Claude => parse_claude(body),
            Protocol::Gemini => parse_gemini(body),
        }
    }

    /// A custom provider has no built-in list; its `models` allow-list, when
    /// set, still limits what it serves.
    fn fallback_models(&self) -> &'static [&'static str] {
        &[]
    }

    fn default_headers(&self, headers: &mut HeaderMap) {
        if self.protocol == Protocol::Claude {
            default_anthropic_version(headers);
        }
    }

    fn extra_headers(&self) -> &[(HeaderName, HeaderValue)] {
        &self.headers
    }

    fn allows_model(&self, model: &str) -> bool {
        self.models.as_ref().is_none_or(|m| m.contains(model))
    }

    fn json_mask(&self) -> Option<&JsonMask> {
        self.mask.as_ref()
    }

    /// The protocol's counting endpoint when `count_tokens = "upstream"`
    /// (the default) and the protocol has one (OpenAI Chat has none);
    /// `count_tokens = "local"` always counts locally.
    fn count_tokens_api(&self) -> Option<CountTokensApi> {
        if self.count_tokens == CountTokens::Local {
            return None;
        }
        match self.protocol {
            Protocol::Claude => Some(CountTokensApi::Claude),
            Protocol::Gemini => Some(CountTokensApi::Gemini),
            Protocol::OpenAiResponses => Some(CountTokensApi::OpenAiResponses),
            Protocol::OpenAiChat => None,
        }
    }
}

#[cfg(test)]
#[path = "custom_tests.rs"]
mod tests;
