//! `codex`: a ChatGPT subscription through the Codex CLI's OAuth client.
//! The Responses API at `chatgpt.com/backend-api/codex`, always streamed
//! (the engine assembles the stream for a client that asked for one
//! answer), with `store: false`, `instructions` always present and the
//! parameters the backend refuses removed. Facts and sources:
//! `oauth-providers.md` §5.

use bytes::Bytes;
use gproxy_credential::Credential;
use gproxy_credential::oauth::{ImportError, Imported, import_codex, jwt_claims};
use gproxy_protocol::Protocol;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::claudecode::check_url;
use crate::failure::FailureClass;
use crate::models::{ModelInfo, with_query};
use crate::oauth::{
    DeviceFlow, OAuthSpec, Quota, QuotaWindow, SideCall, TokenBody, login_of, unix_now,
};
use crate::traits::{AuthForm, join_url, secret_header, unsupported};
use crate::{Endpoint, ModelPage, ModelsError, Provider, ProviderError};

/// The kind name.
pub const CODEX_KIND: &str = "codex";
/// The Codex CLI's OAuth client id.
pub const DEFAULT_CLIENT_ID: &str = "app_EMoamEEZ73f0CkXaXp7hrann";
/// OpenAI's auth issuer.
pub const DEFAULT_ISSUER: &str = "https://auth.openai.com";
/// The CLI's local callback.
pub const DEFAULT_REDIRECT_URI: &str = "http://localhost:1455/auth/callback";
/// Scopes asked for at login.
pub const DEFAULT_SCOPES: &str = "openid email profile offline_access";
/// Scopes sent with a refresh.
pub const DEFAULT_REFRESH_SCOPE: &str = "openid profile email";
/// The `originator` the CLI sends.
pub const DEFAULT_ORIGINATOR: &str = "codex_cli_rs";
/// The CLI version claimed (user agent, model list).
pub const DEFAULT_CLIENT_VERSION: &str = "0.158.0";
/// Refresh this long before expiry (the CLI's tokens live about 10 days).
pub const DEFAULT_REFRESH_LEAD_SECS: u64 = 5 * 86_400;

/// Request fields the Codex backend refuses.
const REMOVED: &[&str] = &[
    "max_output_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "top_logprobs",
    "user",
    "truncation",
    "metadata",
    "safety_identifier",
    "prompt_cache_retention",
    "prompt_cache_options",
    "previous_response_id",
    "stream_options",
];

/// A `codex` provider's settings (all optional).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodexSettings {
    /// Default [`DEFAULT_ISSUER`]; the OAuth URLs derive from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Default [`DEFAULT_CLIENT_ID`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Default [`DEFAULT_REDIRECT_URI`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
    /// Default [`DEFAULT_SCOPES`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<String>,
    /// Default [`DEFAULT_ORIGINATOR`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub originator: Option<String>,
    /// Default [`DEFAULT_CLIENT_VERSION`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_version: Option<String>,
    /// Default `<originator>/<client_version> (Debian 13; x86_64) xterm`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// Default: the base URL with its trailing `/codex` replaced by
    /// `/wham/usage`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_url: Option<String>,
    /// Default [`DEFAULT_REFRESH_LEAD_SECS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_lead_secs: Option<u64>,
}

/// The `codex` kind.
#[derive(Debug, Clone)]
pub struct Codex {
    oauth: OAuthSpec,
    originator: HeaderValue,
    user_agent: HeaderValue,
    client_version: String,
    usage_url: Option<String>,
}

impl Default for Codex {
    fn default() -> Self {
        Codex::build(&CodexSettings::default())
    }
}

fn invalid(field: &str, message: impl Into<String>) -> ProviderError {
    ProviderError::InvalidSettings {
        kind: CODEX_KIND,
        field: field.to_owned(),
        message: message.into(),
    }
}

impl CodexSettings {
    /// Checks every field; the error names it.
    pub fn validate(&self) -> Result<(), ProviderError> {
        for (field, url) in [
            ("issuer", &self.issuer),
            ("redirect_uri", &self.redirect_uri),
            ("usage_url", &self.usage_url),
        ] {
            if let Some(url) = url {
                check_url(CODEX_KIND, field, url)?;
            }
        }
        for (field, value) in [
            ("originator", &self.originator),
            ("user_agent", &self.user_agent),
            ("client_version", &self.client_version),
        ] {
            if value
                .as_deref()
                .is_some_and(|v| v.is_empty() || HeaderValue::try_from(v).is_err())
            {
                return Err(invalid(field, "not a valid header value"));
            }
        }
        if self.client_id.as_deref().is_some_and(|c| {
            c.is_empty() || c.chars().any(|ch| ch.is_whitespace() || ch.is_control())
        }) {
            return Err(invalid("client_id", "an OAuth client id has no spaces"));
        }
        if self.scopes.as_deref().is_some_and(|s| s.trim().is_empty()) {
            return Err(invalid("scopes", "at least one scope"));
        }
        if self.refresh_lead_secs.is_some_and(|l| l > 30 * 86_400) {
            return Err(invalid("refresh_lead_secs", "at most 30 days"));
        }
        Ok(())
    }
}

impl Codex {
    /// Built from a provider row's `settings` (`null` or `{}`: defaults).
    pub fn from_settings(settings: &Value) -> Result<Self, ProviderError> {
        let s: CodexSettings = match settings {
            Value::Null => CodexSettings::default(),
            v => {
                serde_json::from_value(v.clone()).map_err(|e| invalid("settings", e.to_string()))?
            }
        };
        s.validate()?;
        Ok(Codex::build(&s))
    }

    fn build(s: &CodexSettings) -> Self {
        let text = |v: &Option<String>, d: &str| v.clone().unwrap_or_else(|| d.to_owned());
        let issuer = text(&s.issuer, DEFAULT_ISSUER)
            .trim_end_matches('/')
            .to_owned();
        let originator = text(&s.originator, DEFAULT_ORIGINATOR);
        let client_version = text(&s.client_version, DEFAULT_CLIENT_VERSION);
        let user_agent = s
            .user_agent
            .clone()
            .unwrap_or_else(|| format!("{originator}/{client_version} (Debian 13; x86_64) xterm"));
        let header = |v: &str, d: &'static str| {
            HeaderValue::try_from(v).unwrap_or(HeaderValue::from_static(d))
        };
        Codex {
            oauth: OAuthSpec {
                authorize_url: format!("{issuer}/oauth/authorize"),
                token_url: format!("{issuer}/oauth/token"),
                client_id: text(&s.client_id, DEFAULT_CLIENT_ID),
                client_secret: None,
                scopes: text(&s.scopes, DEFAULT_SCOPES),
                refresh_scope: Some(DEFAULT_REFRESH_SCOPE.to_owned()),
                redirect_uri: text(&s.redirect_uri, DEFAULT_REDIRECT_URI),
                authorize_params: vec![
                    ("id_token_add_organizations".into(), "true".into()),
                    ("codex_cli_simplified_flow".into(), "true".into()),
                    ("originator".into(), originator.clone()),
                ],
                pkce: true,
                token_body: TokenBody::Form,
                exchange_sends_state: false,
                token_headers: Vec::new(),
                refresh_lead_secs: s.refresh_lead_secs.unwrap_or(DEFAULT_REFRESH_LEAD_SECS),
                device: Some(DeviceFlow {
                    usercode_url: format!("{issuer}/api/accounts/deviceauth/usercode"),
                    token_url: format!("{issuer}/api/accounts/deviceauth/token"),
                    verification_url: format!("{issuer}/codex/device"),
                    redirect_uri: format!("{issuer}/deviceauth/callback"),
                }),
            },
            originator: header(&originator, DEFAULT_ORIGINATOR),
            user_agent: header(&user_agent, DEFAULT_ORIGINATOR),
            client_version,
            usage_url: s.usage_url.clone(),
        }
    }

    /// The Responses body as the Codex backend takes it.
    fn shape(body: &[u8]) -> Result<Vec<u8>, ProviderError> {
        let mut obj: Map<String, Value> = match serde_json::from_slice(body) {
            Ok(Value::Object(obj)) => obj,
            _ => {
                return Err(ProviderError::InvalidSettings {
                    kind: CODEX_KIND,
                    field: "body".into(),
                    message: "the request body is not a JSON object".into(),
                });
            }
        };
        obj.insert("stream".into(), Value::Bool(true));
        obj.insert("store".into(), Value::Bool(false));
        for key in REMOVED {
            obj.remove(*key);
        }
        if obj
            .get("service_tier")
            .is_some_and(|t| t.as_str() != Some("priority"))
        {
            obj.remove("service_tier");
        }
        // A string input becomes one user message.
        if let Some(Value::String(text)) = obj.get("input") {
            let text = text.clone();
            obj.insert(
                "input".into(),
                json!([{"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}]),
            );
        }
        // System messages fold into `instructions` (always present).
        let mut instructions: Vec<String> = obj
            .get("instructions")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(|s| vec![s.to_owned()])
            .unwrap_or_default();
        if let Some(Value::Array(items)) = obj.get_mut("input") {
            items.retain(|item| {
                if item.get("role").and_then(Value::as_str) != Some("system") {
                    return true;
                }
                match item.get("content") {
                    Some(Value::String(s)) => instructions.push(s.clone()),
                    Some(Value::Array(parts)) => instructions.extend(
                        parts
                            .iter()
                            .filter_map(|p| p.get("text").and_then(Value::as_str))
                            .map(str::to_owned),
                    ),
                    _ => {}
                }
                false
            });
        }
        obj.insert(
            "instructions".into(),
            Value::String(instructions.join("\n\n")),
        );
        let mut include: Vec<Value> = match obj.remove("include") {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        };
        if !include.iter().any(|v| v == "reasoning.encrypted_content") {
            include.push(Value::from("reasoning.encrypted_content"));
        }
        obj.insert("include".into(), Value::Array(include));
        serde_json::to_vec(&Value::Object(obj)).map_err(|e| ProviderError::InvalidSettings {
            kind: CODEX_KIND,
            field: "body".into(),
            message: e.to_string(),
        })
    }
}

impl Provider for Codex {
    fn kind(&self) -> &'static str {
        CODEX_KIND
    }

    fn protocols(&self) -> &'static [Protocol] {
        &[Protocol::OpenAiResponses]
    }

    fn default_base_url(&self) -> &str {
        "https://chatgpt.com/backend-api/codex"
    }

    fn upstream_url(
        &self,
        base_url: &str,
        endpoint: &Endpoint<'_>,
    ) -> Result<String, ProviderError> {
        match endpoint {
            Endpoint::OpenAiResponses => Ok(join_url(base_url, "responses")),
            _ => Err(unsupported(self, endpoint)),
        }
    }

    fn auth_form(&self) -> AuthForm {
        AuthForm::Bearer
    }

    /// The bearer, the account header and the CLI's identity.
    fn apply_auth(
        &self,
        credential: &Credential,
        headers: &mut HeaderMap,
    ) -> Result<(), ProviderError> {
        let login = login_of(CODEX_KIND, credential)?;
        headers.insert(
            http::header::AUTHORIZATION,
            secret_header(CODEX_KIND, "Bearer ", &login.tokens.access_token)?,
        );
        if let Some(account) = login
            .account_str("account_id")
            .and_then(|a| HeaderValue::try_from(a).ok())
        {
            headers.insert("chatgpt-account-id", account);
        }
        headers.insert("originator", self.originator.clone());
        headers.insert(http::header::USER_AGENT, self.user_agent.clone());
        Ok(())
    }

    fn prepare_request(
        &self,
        endpoint: &Endpoint<'_>,
        credential: &Credential,
        headers: &mut HeaderMap,
        body: Bytes,
    ) -> Result<Bytes, ProviderError> {
        login_of(CODEX_KIND, credential)?;
        match endpoint {
            Endpoint::OpenAiResponses => {
                headers.insert(
                    http::header::ACCEPT,
                    HeaderValue::from_static("text/event-stream"),
                );
                Ok(Bytes::from(Codex::shape(&body)?))
            }
            _ => Ok(body),
        }
    }

    fn models_url(&self, base_url: &str, _page: Option<&str>) -> Option<String> {
        Some(with_query(
            join_url(base_url, "models"),
            "client_version",
            &self.client_version,
        ))
    }

    /// `{models: [{slug, display_name, visibility, ...}]}`. Models the CLI
    /// keeps out of its picker (`visibility` `hide` or `none`, such as
    /// `codex-auto-review`) are not listed; they stay callable.
    fn parse_models(&self, body: &[u8]) -> Result<ModelPage, ModelsError> {
        let v: Value = serde_json::from_slice(body)
            .map_err(|e| ModelsError::Invalid(format!("codex model list: {e}")))?;
        let models = v
            .get("models")
            .and_then(Value::as_array)
            .ok_or_else(|| ModelsError::Invalid("codex model list has no `models`".into()))?
            .iter()
            .filter(|m| {
                !matches!(
                    m.get("visibility").and_then(Value::as_str),
                    Some("hide" | "none")
                )
            })
            .filter_map(|m| {
                let slug = m.get("slug").and_then(Value::as_str)?;
                Some(ModelInfo {
                    id: slug.to_owned(),
                    display_name: m
                        .get("display_name")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    created: None,
                    owned_by: Some("openai".into()),
                })
            })
            .collect();
        Ok(ModelPage {
            models,
            next_page: None,
        })
    }

    fn fallback_models(&self) -> &'static [&'static str] {
        &[
            "gpt-5.6-sol",
            "gpt-5.6-terra",
            "gpt-5.6-luna",
            "gpt-5.5",
            "gpt-5.4",
            "gpt-5.4-mini",
            "gpt-5.3-codex-spark",
        ]
    }

    /// `usage_limit_reached` cools the account down until `resets_at`;
    /// request-scoped errors are the client's.
    fn classify_failure(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) -> FailureClass {
        let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let error = v.get("error");
        let field = |k: &str| error.and_then(|e| e.get(k)).and_then(Value::as_str);
        if field("type") == Some("usage_limit_reached")
            || field("code") == Some("usage_limit_reached")
        {
            let now = unix_now();
            let wait = error
                .and_then(|e| e.get("resets_at"))
                .and_then(Value::as_u64)
                .map(|at| at.saturating_sub(now))
                .or_else(|| {
                    error
                        .and_then(|e| e.get("resets_in_seconds"))
                        .and_then(Value::as_u64)
                });
            return FailureClass::RateLimit {
                retry_after: wait.map(|s| std::time::Duration::from_secs(s.max(1))),
                per_model: false,
                global: false,
            };
        }
        if matches!(
            field("code"),
            Some("context_length_exceeded" | "previous_response_not_found")
        ) {
            return FailureClass::Client;
        }
        crate::failure::classify(Protocol::OpenAiResponses, status, headers, body)
    }

    fn oauth(&self) -> Option<&OAuthSpec> {
        Some(&self.oauth)
    }

    /// The id token's claims: `email`, and under
    /// `https://api.openai.com/auth` the account id and plan.
    fn oauth_account(&self, answer: &Value) -> Map<String, Value> {
        let mut out = Map::new();
        let Some(claims) = answer
            .get("id_token")
            .and_then(Value::as_str)
            .and_then(jwt_claims)
        else {
            return out;
        };
        fn text(v: Option<&Value>) -> Option<&str> {
            v.and_then(Value::as_str).filter(|s| !s.is_empty())
        }
        let auth = |k: &str| {
            text(
                claims
                    .get("https://api.openai.com/auth")
                    .and_then(|a| a.get(k)),
            )
        };
        for (key, value) in [
            (
                "email",
                text(claims.get("email")).or_else(|| {
                    text(
                        claims
                            .get("https://api.openai.com/profile")
                            .and_then(|p| p.get("email")),
                    )
                }),
            ),
            ("account_id", auth("chatgpt_account_id")),
            ("plan", auth("chatgpt_plan_type")),
            (
                "user_id",
                auth("chatgpt_user_id").or_else(|| auth("user_id")),
            ),
        ] {
            if let Some(v) = value {
                out.insert(key.to_owned(), Value::from(v));
            }
        }
        out
    }

    fn import_credential(
        &self,
        input: &str,
        _now_ms: u64,
    ) -> Option<Result<Imported, ImportError>> {
        Some(import_codex(input))
    }

    fn quota_call(&self, base_url: &str, credential: &Credential) -> Option<SideCall> {
        credential.oauth()?;
        let url = self.usage_url.clone().unwrap_or_else(|| {
            let base = base_url.trim_end_matches('/');
            match base.strip_suffix("/codex") {
                Some(root) => format!("{root}/wham/usage"),
                None => join_url(base, "wham/usage"),
            }
        });
        Some(SideCall {
            method: http::Method::GET,
            url,
            body: None,
        })
    }

    /// `plan_type`, and each `rate_limit` window named by its length.
    fn parse_quota(&self, _headers: &HeaderMap, body: &[u8]) -> Result<Quota, ModelsError> {
        let raw: Value = serde_json::from_slice(body)
            .map_err(|e| ModelsError::Invalid(format!("usage answer: {e}")))?;
        let mut windows = Vec::new();
        let mut read = |slot: &str, w: &Value, model: Option<String>| {
            if !w.is_object() {
                return;
            }
            let seconds = w.get("limit_window_seconds").and_then(Value::as_u64);
            let name = match seconds {
                Some(s) if (4 * 3600..=6 * 3600).contains(&s) => "five_hour".to_owned(),
                Some(s) if (6 * 86_400..=8 * 86_400).contains(&s) => "weekly".to_owned(),
                _ => slot.to_owned(),
            };
            let resets_at = w.get("reset_at").and_then(Value::as_i64).or_else(|| {
                w.get("reset_after_seconds")
                    .and_then(Value::as_i64)
                    .map(|s| unix_now() as i64 + s)
            });
            windows.push(QuotaWindow {
                name,
                model,
                used_percent: w.get("used_percent").and_then(Value::as_f64),
                resets_at,
                window_seconds: seconds,
            });
        };
        for slot in ["primary_window", "secondary_window"] {
            if let Some(w) = raw.pointer(&format!("/rate_limit/{slot}")) {
                read(slot.trim_end_matches("_window"), w, None);
            }
        }
        for extra in raw
            .get("additional_rate_limits")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = extra
                .get("limit_name")
                .and_then(Value::as_str)
                .map(str::to_owned);
            for slot in ["primary_window", "secondary_window"] {
                if let Some(w) = extra.pointer(&format!("/rate_limit/{slot}")) {
                    read(slot.trim_end_matches("_window"), w, name.clone());
                }
            }
        }
        Ok(Quota {
            plan: raw
                .get("plan_type")
                .and_then(Value::as_str)
                .map(str::to_owned),
            windows,
            raw,
        })
    }
}

#[cfg(test)]
#[path = "codex_tests.rs"]
mod tests;
