//! Google Code Assist (`cloudcode-pa`, API `v1internal`) over an OAuth
//! login: what the `geminicli` and `antigravity` kinds share.
//!
//! Both speak Gemini inside an envelope (`{model, project, user_prompt_id,
//! request}`), answer inside `{response: …}`, log in through Google's
//! installed-app OAuth client of their CLI and find the account's project
//! with `loadCodeAssist` / `onboardUser` at login. What differs (client,
//! user agent, envelope extras, models, quota, import format) lives in
//! [`super::geminicli`] and [`super::antigravity`]; the fact sheet is
//! `oauth-providers.md` §1–§3.

mod body;
mod failure;
#[cfg(test)]
mod tests;

use bytes::Bytes;
use gproxy_credential::Credential;
use gproxy_credential::oauth::{ImportError, Imported};
use gproxy_protocol::Protocol;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{antigravity, geminicli};
use crate::models::{ModelPage, ModelsError};
use crate::oauth::{CodeAssistDiscovery, OAuthSpec, Quota, SideCall, TokenBody};
use crate::traits::{AuthForm, join_url, secret_header, unsupported};
use crate::{CountTokensApi, Endpoint, FailureClass, Provider, ProviderError};

use body::{count_tokens_envelope, sanitize, user_prompt_id};
pub(crate) use body::{remove_either, strip_generation};
use failure::classify;

/// Google's OAuth authorize endpoint (installed-app clients).
pub const GOOGLE_AUTHORIZE_URL: &str = "https://accounts.google.com/o/oauth2/v2/auth";

/// Google's OAuth token endpoint (code exchange and refresh, form bodies).
pub const GOOGLE_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";

/// Refresh this long before an access token (1 h) expires: 5 minutes.
pub const DEFAULT_REFRESH_LEAD_SECS: u64 = 300;

/// `onboardUser` polls at most this often during discovery.
pub const DISCOVERY_MAX_POLLS: u32 = 5;

/// Milliseconds between two `onboardUser` polls.
pub const DISCOVERY_POLL_INTERVAL_MS: u64 = 2_000;

/// Which Code Assist client a provider imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeAssistFlavor {
    /// Gemini CLI (`geminicli`).
    GeminiCli,
    /// Google Antigravity (`antigravity`).
    Antigravity,
}

impl CodeAssistFlavor {
    /// The kind name.
    pub fn kind(self) -> &'static str {
        self.defaults().kind
    }

    pub(crate) fn defaults(self) -> &'static KindDefaults {
        match self {
            CodeAssistFlavor::GeminiCli => &geminicli::DEFAULTS,
            CodeAssistFlavor::Antigravity => &antigravity::DEFAULTS,
        }
    }
}

/// The values a kind uses when its settings leave them out.
#[derive(Debug)]
pub(crate) struct KindDefaults {
    pub kind: &'static str,
    pub base_url: &'static str,
    pub client_id: &'static str,
    pub client_secret: &'static str,
    pub scopes: &'static [&'static str],
    pub redirect_uri: &'static str,
    pub userinfo_url: &'static str,
    /// `{version}` and `{model}` are replaced.
    pub user_agent: &'static str,
    pub version: &'static str,
    pub api_client: Option<&'static str>,
    pub pkce: bool,
    pub ide_type: &'static str,
    pub fallback_tier: &'static str,
    pub fallback_models: &'static [&'static str],
}

/// A `geminicli` or `antigravity` provider's settings, stored in the
/// provider row's `settings` JSON. Every field is optional; the defaults
/// are the kind's CLI (see `geminicli::DEFAULTS`, `antigravity::DEFAULTS`
/// and the constants of this module).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeAssistSettings {
    /// The OAuth client id; default: the CLI's installed-app client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The installed-app client secret (Google documents it as not
    /// confidential); default: the CLI's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// Scopes asked for at login; default: the CLI's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// The login's `redirect_uri`; default: the CLI's (geminicli: the
    /// paste-the-code page, antigravity: its localhost callback).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
    /// The authorize endpoint; default [`GOOGLE_AUTHORIZE_URL`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorize_url: Option<String>,
    /// The token endpoint; default [`GOOGLE_TOKEN_URL`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_url: Option<String>,
    /// The user-info endpoint read for the account's e-mail at login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo_url: Option<String>,
    /// The `User-Agent` sent upstream; `{version}` and `{model}` are
    /// replaced. Default: the CLI's format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// The CLI version put in the user agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The `x-goog-api-client` header; `""` sends none. Default: geminicli
    /// the CLI's, antigravity none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_client: Option<String>,
    /// The Code Assist project every account of this provider uses,
    /// overriding the one discovered at login (Workspace accounts that
    /// need an explicit project).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// Refresh this many seconds before the access token expires; default
    /// [`DEFAULT_REFRESH_LEAD_SECS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_lead_secs: Option<u64>,
    /// Whether the login uses PKCE S256; default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pkce: Option<bool>,
    /// Base URL of `loadCodeAssist`; default: the provider's base URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_base_url: Option<String>,
    /// Base URL of `onboardUser` and its operation; default: the
    /// provider's base URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onboard_base_url: Option<String>,
}

/// A settings field at fault and why.
type FieldError = (String, String);

fn check_url(field: &str, value: &Option<String>) -> Result<(), FieldError> {
    match value {
        Some(url)
            if !(url.starts_with("https://") || url.starts_with("http://"))
                || url.chars().any(char::is_whitespace) =>
        {
            Err((field.to_owned(), format!("`{url}` is not an http(s) URL")))
        }
        _ => Ok(()),
    }
}

fn check_text(field: &str, value: &Option<String>) -> Result<(), FieldError> {
    match value {
        Some(v) if v.trim().is_empty() || HeaderValue::from_str(v).is_err() => Err((
            field.to_owned(),
            "must be non-empty text without control characters".to_owned(),
        )),
        _ => Ok(()),
    }
}

impl CodeAssistSettings {
    /// Checks the fields; the error names the field (`scopes[1]`, `token_url`).
    pub fn validate(&self) -> Result<(), FieldError> {
        check_text("client_id", &self.client_id)?;
        if let Some(secret) = &self.client_secret
            && HeaderValue::from_str(secret).is_err()
        {
            return Err(("client_secret".into(), "contains control characters".into()));
        }
        if let Some(scopes) = &self.scopes {
            if scopes.is_empty() {
                return Err(("scopes".into(), "at least one scope is required".into()));
            }
            for (i, scope) in scopes.iter().enumerate() {
                if scope.is_empty() || scope.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    return Err((
                        format!("scopes[{i}]"),
                        "a scope is one non-empty word".into(),
                    ));
                }
            }
        }
        for (field, value) in [
            ("redirect_uri", &self.redirect_uri),
            ("authorize_url", &self.authorize_url),
            ("token_url", &self.token_url),
            ("userinfo_url", &self.userinfo_url),
            ("load_base_url", &self.load_base_url),
            ("onboard_base_url", &self.onboard_base_url),
        ] {
            check_url(field, value)?;
        }
        check_text("user_agent", &self.user_agent)?;
        check_text("version", &self.version)?;
        if let Some(api_client) = &self.api_client
            && HeaderValue::from_str(api_client).is_err()
        {
            return Err(("api_client".into(), "contains control characters".into()));
        }
        if let Some(project) = &self.project {
            let ok = !project.is_empty()
                && project.len() <= 64
                && project
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-.:".contains(c))
                && !project.chars().all(|c| c.is_ascii_digit());
            if !ok {
                return Err((
                    "project".into(),
                    format!(
                        "`{project}` is not a Google Cloud project id (lowercase letters, digits, `-`; not the project number)"
                    ),
                ));
            }
        }
        if self.refresh_lead_secs.is_some_and(|s| s >= 3_600) {
            return Err((
                "refresh_lead_secs".into(),
                "must be below the access token's lifetime (3600 s)".into(),
            ));
        }
        Ok(())
    }
}

/// A `geminicli` or `antigravity` provider (see the module docs). Each
/// configured provider is its own instance, built from its settings.
#[derive(Debug, Clone)]
pub struct CodeAssist {
    flavor: CodeAssistFlavor,
    oauth: OAuthSpec,
    userinfo_url: String,
    user_agent: String,
    version: String,
    api_client: Option<String>,
    project: Option<String>,
    load_base_url: String,
    onboard_base_url: String,
}

impl CodeAssist {
    /// A provider of `flavor` for already validated settings.
    pub fn new(flavor: CodeAssistFlavor, settings: &CodeAssistSettings) -> Self {
        let d = flavor.defaults();
        let or =
            |v: &Option<String>, default: &str| v.clone().unwrap_or_else(|| default.to_owned());
        let scopes = match &settings.scopes {
            Some(scopes) => scopes.join(" "),
            None => d.scopes.join(" "),
        };
        let secret = or(&settings.client_secret, d.client_secret);
        let oauth = OAuthSpec {
            authorize_url: or(&settings.authorize_url, GOOGLE_AUTHORIZE_URL),
            token_url: or(&settings.token_url, GOOGLE_TOKEN_URL),
            client_id: or(&settings.client_id, d.client_id),
            client_secret: (!secret.is_empty()).then_some(secret),
            scopes,
            refresh_scope: None,
            redirect_uri: or(&settings.redirect_uri, d.redirect_uri),
            authorize_params: vec![
                ("access_type".into(), "offline".into()),
                ("prompt".into(), "consent".into()),
            ],
            pkce: settings.pkce.unwrap_or(d.pkce),
            token_body: TokenBody::Form,
            exchange_sends_state: false,
            token_headers: Vec::new(),
            refresh_lead_secs: settings
                .refresh_lead_secs
                .unwrap_or(DEFAULT_REFRESH_LEAD_SECS),
            device: None,
        };
        CodeAssist {
            flavor,
            oauth,
            userinfo_url: or(&settings.userinfo_url, d.userinfo_url),
            user_agent: or(&settings.user_agent, d.user_agent),
            version: or(&settings.version, d.version),
            api_client: match &settings.api_client {
                Some(v) if v.is_empty() => None,
                Some(v) => Some(v.clone()),
                None => d.api_client.map(str::to_owned),
            },
            project: settings.project.clone(),
            load_base_url: settings.load_base_url.clone().unwrap_or_default(),
            onboard_base_url: settings.onboard_base_url.clone().unwrap_or_default(),
        }
    }

    /// A `geminicli` provider with the default settings.
    pub fn geminicli() -> Self {
        Self::new(CodeAssistFlavor::GeminiCli, &CodeAssistSettings::default())
    }

    /// An `antigravity` provider with the default settings.
    pub fn antigravity() -> Self {
        Self::new(
            CodeAssistFlavor::Antigravity,
            &CodeAssistSettings::default(),
        )
    }

    /// Validates a provider row's stored settings and builds the provider.
    pub fn from_settings(
        flavor: CodeAssistFlavor,
        settings: &Value,
    ) -> Result<Self, ProviderError> {
        let invalid = |field: String, message: String| ProviderError::InvalidSettings {
            kind: flavor.kind(),
            field,
            message,
        };
        let parsed: CodeAssistSettings = serde_json::from_value(settings.clone())
            .map_err(|e| invalid("settings".into(), e.to_string()))?;
        parsed.validate().map_err(|(f, m)| invalid(f, m))?;
        let provider = CodeAssist::new(flavor, &parsed);
        // The rendered user agent must be a header value.
        HeaderValue::from_str(&provider.user_agent_for("gemini-2.5-pro"))
            .map_err(|_| invalid("user_agent".into(), "not a valid header value".into()))?;
        Ok(provider)
    }

    /// Which client this provider imitates.
    pub fn flavor(&self) -> CodeAssistFlavor {
        self.flavor
    }

    /// The `User-Agent` of a call for `model`.
    pub fn user_agent_for(&self, model: &str) -> String {
        self.user_agent
            .replace("{version}", &self.version)
            .replace("{model}", model)
    }

    /// The project requests of `credential` go to: the configured
    /// `project` (an override), else the one discovered at login.
    pub fn project_for<'a>(&'a self, credential: &'a Credential) -> Result<&'a str, ProviderError> {
        if let Some(project) = &self.project {
            return Ok(project);
        }
        credential
            .oauth()
            .and_then(|login| login.account_str("project_id"))
            .ok_or(ProviderError::InvalidCredential {
                kind: self.kind(),
                reason: "the login has no Code Assist project (discovery found none): log in again, or set the provider's `project`",
            })
    }

    /// Sets the kind's identity headers for a call of `model`.
    fn identity_headers(&self, headers: &mut HeaderMap, model: &str) {
        if let Ok(ua) = HeaderValue::from_str(&self.user_agent_for(model)) {
            headers.insert(http::header::USER_AGENT, ua);
        }
        let api_client = HeaderName::from_static("x-goog-api-client");
        match self
            .api_client
            .as_deref()
            .and_then(|v| HeaderValue::from_str(v).ok())
        {
            Some(v) => {
                headers.insert(api_client, v);
            }
            None => {
                headers.remove(api_client);
            }
        }
        // A client's own Google headers would tell the clients apart.
        headers.remove("x-goog-user-project");
        headers.remove("x-goog-api-key");
    }

    /// The model side calls (quota, model list) name in the user agent.
    fn side_call_model(&self) -> &'static str {
        self.flavor
            .defaults()
            .fallback_models
            .first()
            .copied()
            .unwrap_or("gemini-2.5-pro")
    }

    fn method_url(base_url: &str, method: &str) -> String {
        join_url(base_url, &format!("v1internal:{method}"))
    }
}

impl Provider for CodeAssist {
    fn kind(&self) -> &'static str {
        self.flavor.kind()
    }

    fn protocols(&self) -> &'static [Protocol] {
        &[Protocol::Gemini]
    }

    /// geminicli: `https://cloudcode-pa.googleapis.com`; antigravity: the
    /// daily host `https://daily-cloudcode-pa.googleapis.com`.
    fn default_base_url(&self) -> &str {
        self.flavor.defaults().base_url
    }

    /// `{base}/v1internal:generateContent`, `:streamGenerateContent?alt=sse`
    /// (streams are always SSE) or `:countTokens`.
    fn upstream_url(
        &self,
        base_url: &str,
        endpoint: &Endpoint<'_>,
    ) -> Result<String, ProviderError> {
        match endpoint {
            Endpoint::GeminiGenerate { stream: false, .. } => {
                Ok(Self::method_url(base_url, "generateContent"))
            }
            Endpoint::GeminiGenerate { stream: true, .. } => Ok(format!(
                "{}?alt=sse",
                Self::method_url(base_url, "streamGenerateContent")
            )),
            Endpoint::GeminiCountTokens { .. } => Ok(Self::method_url(base_url, "countTokens")),
            Endpoint::GeminiEmbed { batch, .. } => Err(ProviderError::UnsupportedMethod {
                kind: self.kind(),
                method: if *batch {
                    "batchEmbedContents"
                } else {
                    "embedContent"
                },
            }),
            Endpoint::OpenAiChat
            | Endpoint::OpenAiResponses
            | Endpoint::OpenAiEmbeddings
            | Endpoint::OpenAiInputTokens
            | Endpoint::ClaudeMessages
            | Endpoint::ClaudeCountTokens => Err(unsupported(self, endpoint)),
        }
    }

    fn auth_form(&self) -> AuthForm {
        AuthForm::Bearer
    }

    /// The login's access token as a bearer, with the kind's user agent
    /// (and geminicli's `x-goog-api-client`). Only an OAuth login works.
    fn apply_auth(
        &self,
        credential: &Credential,
        headers: &mut HeaderMap,
    ) -> Result<(), ProviderError> {
        let Credential::OAuth(login) = credential else {
            return Err(ProviderError::InvalidCredential {
                kind: self.kind(),
                reason: "an OAuth login is required (log in, or import the CLI's credentials)",
            });
        };
        let bearer = secret_header(self.kind(), "Bearer ", &login.tokens.access_token)?;
        headers.insert(http::header::AUTHORIZATION, bearer);
        self.identity_headers(headers, self.side_call_model());
        Ok(())
    }

    fn models_url(&self, base_url: &str, _page: Option<&str>) -> Option<String> {
        match self.flavor {
            CodeAssistFlavor::GeminiCli => None,
            CodeAssistFlavor::Antigravity => {
                Some(Self::method_url(base_url, "fetchAvailableModels"))
            }
        }
    }

    fn models_body(&self) -> Option<&'static [u8]> {
        match self.flavor {
            CodeAssistFlavor::GeminiCli => None,
            CodeAssistFlavor::Antigravity => Some(b"{}"),
        }
    }

    fn parse_models(&self, body: &[u8]) -> Result<ModelPage, ModelsError> {
        match self.flavor {
            CodeAssistFlavor::GeminiCli => Err(ModelsError::Invalid(
                "geminicli has no model list endpoint".into(),
            )),
            CodeAssistFlavor::Antigravity => antigravity::parse_models(body),
        }
    }

    fn fallback_models(&self) -> &'static [&'static str] {
        self.flavor.defaults().fallback_models
    }

    fn classify_failure(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) -> FailureClass {
        classify(status, headers, body)
    }

    fn count_tokens_api(&self) -> Option<CountTokensApi> {
        Some(CountTokensApi::Gemini)
    }

    fn oauth(&self) -> Option<&OAuthSpec> {
        Some(&self.oauth)
    }

    /// The e-mail in the answer's id token, when Google sent one.
    fn oauth_account(&self, answer: &Value) -> Map<String, Value> {
        let mut account = Map::new();
        if let Some(email) = answer
            .get("id_token")
            .and_then(Value::as_str)
            .and_then(gproxy_credential::oauth::jwt_claims)
            .and_then(|c| c.get("email").and_then(Value::as_str).map(str::to_owned))
        {
            account.insert("email".into(), Value::from(email));
        }
        account
    }

    fn import_credential(
        &self,
        input: &str,
        _now_ms: u64,
    ) -> Option<Result<Imported, ImportError>> {
        Some(match self.flavor {
            CodeAssistFlavor::GeminiCli => geminicli::import(input),
            CodeAssistFlavor::Antigravity => antigravity::import(input),
        })
    }

    fn code_assist_discovery(&self) -> Option<CodeAssistDiscovery> {
        let d = self.flavor.defaults();
        Some(CodeAssistDiscovery {
            load_base_url: self.load_base_url.clone(),
            onboard_base_url: self.onboard_base_url.clone(),
            metadata: json!({
                "ideType": d.ide_type,
                "platform": "PLATFORM_UNSPECIFIED",
                "pluginType": "GEMINI",
            }),
            snake_case: false,
            fallback_tier: d.fallback_tier.to_owned(),
            userinfo_url: self.userinfo_url.clone(),
            headers: vec![(
                "user-agent".to_owned(),
                self.user_agent_for(self.side_call_model()),
            )],
            max_polls: DISCOVERY_MAX_POLLS,
            poll_interval_ms: DISCOVERY_POLL_INTERVAL_MS,
        })
    }

    /// Wraps the Gemini body in the Code Assist envelope (see
    /// [`CodeAssist::envelope`]) and sets the user agent of the model.
    fn prepare_request(
        &self,
        endpoint: &Endpoint<'_>,
        credential: &Credential,
        headers: &mut HeaderMap,
        body: Bytes,
    ) -> Result<Bytes, ProviderError> {
        let model = match endpoint {
            Endpoint::GeminiGenerate { model, .. } | Endpoint::GeminiCountTokens { model, .. } => {
                *model
            }
            _ => return Ok(body),
        };
        let counting = matches!(endpoint, Endpoint::GeminiCountTokens { .. });
        let project = if counting {
            None
        } else {
            Some(self.project_for(credential)?)
        };
        self.identity_headers(headers, model);
        // The engine built the body; anything but an object is passed on
        // for the upstream to refuse.
        let Ok(Value::Object(request)) = serde_json::from_slice::<Value>(&body) else {
            return Ok(body);
        };
        let wrapped = match project {
            Some(project) => self.envelope(model, project, request),
            None => count_tokens_envelope(model, request),
        };
        Ok(Bytes::from(
            serde_json::to_vec(&wrapped).unwrap_or_default(),
        ))
    }

    fn response_envelope(&self) -> Option<&'static str> {
        Some("response")
    }

    /// geminicli: `retrieveUserQuota` of the project; antigravity:
    /// `fetchAvailableModels` (its per-model `quotaInfo`).
    fn quota_call(&self, base_url: &str, credential: &Credential) -> Option<SideCall> {
        let project = self.project_for(credential).ok();
        let (method, body) = match self.flavor {
            CodeAssistFlavor::GeminiCli => ("retrieveUserQuota", json!({ "project": project? })),
            CodeAssistFlavor::Antigravity => (
                "fetchAvailableModels",
                project.map_or_else(|| json!({}), |p| json!({ "project": p })),
            ),
        };
        Some(SideCall {
            method: Method::POST,
            url: Self::method_url(base_url, method),
            body: Some(serde_json::to_vec(&body).unwrap_or_default()),
        })
    }

    fn parse_quota(&self, _headers: &HeaderMap, body: &[u8]) -> Result<Quota, ModelsError> {
        match self.flavor {
            CodeAssistFlavor::GeminiCli => geminicli::parse_quota(body),
            CodeAssistFlavor::Antigravity => antigravity::parse_quota(body),
        }
    }
}

impl CodeAssist {
    /// The generate envelope: `{model, project, user_prompt_id, request}`
    /// (antigravity adds `userAgent`, `requestType`, `requestId` and
    /// `request.sessionId`), with the body cleaned up the way the CLIs do
    /// (`oauth-providers.md` §1.2, §3.2).
    pub fn envelope(&self, model: &str, project: &str, mut request: Map<String, Value>) -> Value {
        sanitize(&mut request);
        let mut envelope = Map::new();
        envelope.insert("model".into(), Value::from(model));
        envelope.insert("project".into(), Value::from(project));
        envelope.insert("user_prompt_id".into(), Value::from(user_prompt_id()));
        match self.flavor {
            CodeAssistFlavor::GeminiCli => {
                strip_generation(&mut request, &["maxOutputTokens", "max_output_tokens"]);
            }
            CodeAssistFlavor::Antigravity => {
                antigravity::adapt(model, &mut envelope, &mut request);
            }
        }
        envelope.insert("request".into(), Value::Object(request));
        Value::Object(envelope)
    }
}

/// `used_percent` from a share left (`remainingFraction`, 0..=1).
pub(crate) fn used_percent(remaining_fraction: Option<f64>) -> Option<f64> {
    remaining_fraction
        .filter(|f| f.is_finite())
        .map(|f| ((1.0 - f.clamp(0.0, 1.0)) * 100.0 * 100.0).round() / 100.0)
}

/// Unix seconds of an RFC 3339 time.
pub(crate) fn unix_seconds(timestamp: Option<&str>) -> Option<i64> {
    timestamp
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.timestamp())
}

/// A field-path import error.
pub(crate) fn import_error(path: &str, reason: &str) -> ImportError {
    ImportError {
        path: path.to_owned(),
        reason: reason.to_owned(),
    }
}

/// Epoch ms of a JSON number (an integer or a float, as Gemini CLI writes
/// `expiry_date`).
pub(crate) fn epoch_ms(value: &Value) -> Option<u64> {
    value.as_u64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.is_finite() && *f >= 0.0)
            .map(|f| f as u64)
    })
}
