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
            secret_header(CODEX_KIND, "Bearer ", login.tokens.access_token.expose())?,
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

    /// `{models: [{slug, display_name, ...}]}`.
    fn parse_models(&self, body: &[u8]) -> Result<ModelPage, ModelsError> {
        let v: Value = serde_json::from_slice(body)
            .map_err(|e| ModelsError::Invalid(format!("codex model list: {e}")))?;
        let models = v
            .get("models")
            .and_then(Value::as_array)
            .ok_or_else(|| ModelsError::Invalid("codex model list has no `models`".into()))?
            .iter()
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
        let auth = claims.get("https://api.openai.com/auth");
        for (key, value) in [
            ("email", claims.get("email")),
            ("account_id", auth.and_then(|a| a.get("chatgpt_account_id"))),
            ("plan", auth.and_then(|a| a.get("chatgpt_plan_type"))),
            ("user_id", auth.and_then(|a| a.get("chatgpt_user_id"))),
        ] {
            if let Some(v) = value.and_then(Value::as_str).filter(|s| !s.is_empty()) {
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
mod tests {
    use super::*;
    use gproxy_credential::Secret;

    fn login() -> Credential {
        crate::oauth::test_login("eyJ.x.y", "rt", &[("account_id", "acct-1")])
    }

    #[test]
    fn the_body_is_shaped_for_the_codex_backend() {
        let p = Codex::default();
        let mut headers = HeaderMap::new();
        let body = br#"{"model":"gpt-5.5","input":[{"role":"system","content":"Be brief."},{"role":"user","content":"hi"}],"temperature":0.2,"max_output_tokens":10,"store":true,"service_tier":"flex","include":["file_search_call.results"],"metadata":{"a":"b"},"reasoning":{"effort":"low"}}"#;
        let out = p
            .prepare_request(
                &Endpoint::OpenAiResponses,
                &login(),
                &mut headers,
                Bytes::from_static(body),
            )
            .unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["stream"], true);
        assert_eq!(v["store"], false);
        assert_eq!(v["instructions"], "Be brief.");
        assert_eq!(v["input"].as_array().unwrap().len(), 1);
        for gone in [
            "temperature",
            "max_output_tokens",
            "service_tier",
            "metadata",
        ] {
            assert!(v.get(gone).is_none(), "{gone} kept");
        }
        assert_eq!(
            v["include"],
            json!(["file_search_call.results", "reasoning.encrypted_content"])
        );
        assert_eq!(v["reasoning"]["effort"], "low");
        assert_eq!(headers["accept"], "text/event-stream");
        // A string input and no instructions.
        let out = p
            .prepare_request(
                &Endpoint::OpenAiResponses,
                &login(),
                &mut headers,
                Bytes::from_static(
                    br#"{"model":"gpt-5.5","input":"hello","service_tier":"priority"}"#,
                ),
            )
            .unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["instructions"], "");
        assert_eq!(v["input"][0]["content"][0]["text"], "hello");
        assert_eq!(v["service_tier"], "priority");
    }

    #[test]
    fn auth_sends_the_account_and_the_cli_identity() {
        let p = Codex::default();
        let mut h = HeaderMap::new();
        h.insert("user-agent", HeaderValue::from_static("client/1"));
        p.apply_auth(&login(), &mut h).unwrap();
        assert_eq!(h["authorization"], "Bearer eyJ.x.y");
        assert_eq!(h["chatgpt-account-id"], "acct-1");
        assert_eq!(h["originator"], "codex_cli_rs");
        assert!(
            h["user-agent"]
                .to_str()
                .unwrap()
                .starts_with("codex_cli_rs/0.158.0")
        );
        let key = Credential::ApiKey {
            key: Secret::new("sk".into()),
        };
        assert!(p.apply_auth(&key, &mut h).is_err());
    }

    #[test]
    fn usage_limit_cools_down_until_the_reset() {
        let p = Codex::default();
        let reset = unix_now() + 3600;
        let body = format!(
            r#"{{"error":{{"type":"usage_limit_reached","message":"The usage limit has been reached","plan_type":"plus","resets_at":{reset},"resets_in_seconds":3600}}}}"#
        );
        let FailureClass::RateLimit {
            retry_after,
            per_model,
            ..
        } = p.classify_failure(
            StatusCode::TOO_MANY_REQUESTS,
            &HeaderMap::new(),
            body.as_bytes(),
        )
        else {
            panic!("not a rate limit");
        };
        assert!((3595..=3600).contains(&retry_after.unwrap().as_secs()));
        assert!(!per_model);
        let ctx = br#"{"error":{"code":"context_length_exceeded","message":"too long"}}"#;
        assert_eq!(
            p.classify_failure(StatusCode::BAD_REQUEST, &HeaderMap::new(), ctx),
            FailureClass::Client
        );
        assert_eq!(
            p.classify_failure(StatusCode::UNAUTHORIZED, &HeaderMap::new(), b"{}"),
            FailureClass::Auth
        );
    }

    #[test]
    fn models_quota_and_urls() {
        let p = Codex::from_settings(&json!({"issuer": "http://127.0.0.1:9/"})).unwrap();
        let spec = p.oauth().unwrap();
        assert_eq!(spec.token_url, "http://127.0.0.1:9/oauth/token");
        assert_eq!(
            spec.device.as_ref().unwrap().redirect_uri,
            "http://127.0.0.1:9/deviceauth/callback"
        );
        assert!(
            spec.authorize_url("s", Some("c"))
                .contains("originator=codex_cli_rs")
        );
        let base = "http://127.0.0.1:9/backend-api/codex";
        assert_eq!(
            p.models_url(base, None).unwrap(),
            "http://127.0.0.1:9/backend-api/codex/models?client_version=0.158.0"
        );
        assert_eq!(
            p.quota_call(base, &login()).unwrap().url,
            "http://127.0.0.1:9/backend-api/wham/usage"
        );
        let page = p
            .parse_models(br#"{"models":[{"slug":"gpt-5.5","display_name":"GPT-5.5"}]}"#)
            .unwrap();
        assert_eq!(page.models[0].id, "gpt-5.5");
        let q = p
            .parse_quota(
                &HeaderMap::new(),
                br#"{"plan_type":"pro","rate_limit":{"primary_window":{"used_percent":40,"limit_window_seconds":18000,"reset_at":1796414400},"secondary_window":{"used_percent":5,"limit_window_seconds":604800,"reset_after_seconds":100}}}"#,
            )
            .unwrap();
        assert_eq!(q.plan.as_deref(), Some("pro"));
        assert_eq!(q.windows[0].name, "five_hour");
        assert_eq!(q.windows[0].used_percent, Some(40.0));
        assert_eq!(q.windows[1].name, "weekly");
        let err = Codex::from_settings(&json!({"issuer": "x"})).unwrap_err();
        assert!(err.to_string().contains("`issuer`"), "{err}");
    }

    #[test]
    fn account_facts_come_from_the_id_token() {
        use base64::Engine as _;
        let enc = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let id = format!(
            "{}.{}.sig",
            enc(json!({"alg": "none"})),
            enc(
                json!({"email": "a@b.c", "https://api.openai.com/auth": {"chatgpt_account_id": "acct-9", "chatgpt_plan_type": "plus"}})
            )
        );
        let facts = Codex::default().oauth_account(&json!({ "id_token": id }));
        assert_eq!(facts["email"], "a@b.c");
        assert_eq!(facts["account_id"], "acct-9");
        assert_eq!(facts["plan"], "plus");
    }
}
