//! `claudecode`: a Claude Pro/Max subscription through the Claude Code
//! OAuth client. The Messages API with the OAuth bearer, the
//! `oauth-2025-04-20` beta, the CLI's identity headers, and the body the
//! subscription's billing classifier expects (a billing block as
//! `system[0]`, the Claude Code prelude, `metadata.user_id`). Facts and
//! sources: `oauth-providers.md` §4.
//!
//! Every value Anthropic changes often (client id, URLs, the CLI version
//! the headers and billing block claim, the beta list, the prelude) is a
//! setting with the default below.

use bytes::Bytes;
use gproxy_credential::Credential;
use gproxy_credential::oauth::{ImportError, Imported, OAuthCredential, import_claude};
use gproxy_protocol::Protocol;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::claude::{DEFAULT_ANTHROPIC_VERSION, claude_models_url};
use crate::failure::{FailureClass, retry_after};
use crate::models::parse_claude;
use crate::oauth::{OAuthSpec, Quota, QuotaWindow, SideCall, TokenBody, login_of, unix_now};
use crate::traits::{AuthForm, join_url, secret_header, unsupported};
use crate::{CountTokensApi, Endpoint, ModelPage, ModelsError, Provider, ProviderError};

/// The kind name.
pub const CLAUDECODE_KIND: &str = "claudecode";

/// The Claude Code OAuth client id.
pub const DEFAULT_CLIENT_ID: &str = "9d1c250a-e61b-44d9-88ed-5944d1962f5e";
/// Where the user approves the login.
pub const DEFAULT_AUTHORIZE_URL: &str = "https://claude.ai/oauth/authorize";
/// The token endpoint (moved twice in 2026; see the fact sheet).
pub const DEFAULT_TOKEN_URL: &str = "https://platform.claude.com/v1/oauth/token";
/// The manual callback page, which shows `code#state` to paste back.
pub const DEFAULT_REDIRECT_URI: &str = "https://platform.claude.com/oauth/code/callback";
/// Scopes asked for at login.
pub const DEFAULT_SCOPES: &str = "org:create_api_key user:profile user:inference user:sessions:claude_code user:mcp_servers user:file_upload";
/// Scopes sent with a refresh (required: 400 without them).
pub const DEFAULT_REFRESH_SCOPE: &str =
    "user:profile user:inference user:sessions:claude_code user:mcp_servers user:file_upload";
/// The CLI version the identity headers and the billing block claim.
pub const DEFAULT_CLI_VERSION: &str = "2.1.258";
/// `X-Stainless-Package-Version` (the CLI's Anthropic SDK).
pub const DEFAULT_STAINLESS_VERSION: &str = "0.112.1";
/// The token endpoint's client (the CLI's axios; Cloudflare answers 429
/// to clients that do not look like it).
pub const DEFAULT_TOKEN_USER_AGENT: &str = "axios/1.15.2";
/// The system prelude Claude Code sends.
pub const DEFAULT_PRELUDE: &str = "You are Claude Code, Anthropic's official CLI for Claude.";
/// The betas sent with every Messages call (the client's are added).
pub const DEFAULT_BETAS: &[&str] = &[
    "claude-code-20250219",
    "oauth-2025-04-20",
    "interleaved-thinking-2025-05-14",
];
/// Refresh this long before expiry (access tokens live about 8 h).
pub const DEFAULT_REFRESH_LEAD_SECS: u64 = 4 * 3600;

/// The OAuth beta every call with the bearer needs.
const OAUTH_BETA: &str = "oauth-2025-04-20";

/// Salt of the billing block's version suffix.
const VERSION_SALT: &str = "59cf53e54c78";

/// Seed of the billing block's `cch` hash.
const CCH_SEED: u64 = 0x4D65_9218_E32A_3268;

/// A `claudecode` provider's settings (all optional).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaudeCodeSettings {
    /// OAuth client id; default [`DEFAULT_CLIENT_ID`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Default [`DEFAULT_AUTHORIZE_URL`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorize_url: Option<String>,
    /// Default [`DEFAULT_TOKEN_URL`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_url: Option<String>,
    /// Default [`DEFAULT_REDIRECT_URI`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
    /// Default [`DEFAULT_SCOPES`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<String>,
    /// Default [`DEFAULT_REFRESH_SCOPE`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_scope: Option<String>,
    /// Default [`DEFAULT_CLI_VERSION`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cli_version: Option<String>,
    /// Default `claude-cli/<cli_version> (external, cli)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// Default [`DEFAULT_TOKEN_USER_AGENT`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_user_agent: Option<String>,
    /// Default [`DEFAULT_STAINLESS_VERSION`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stainless_package_version: Option<String>,
    /// Default [`DEFAULT_BETAS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub betas: Option<Vec<String>>,
    /// Default [`DEFAULT_PRELUDE`]; `""` sends none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_prelude: Option<String>,
    /// Default `{base}/api/oauth/usage`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_url: Option<String>,
    /// Default [`DEFAULT_REFRESH_LEAD_SECS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_lead_secs: Option<u64>,
}

/// The `claudecode` kind.
#[derive(Debug, Clone)]
pub struct ClaudeCode {
    oauth: OAuthSpec,
    cli_version: String,
    user_agent: HeaderValue,
    stainless_version: HeaderValue,
    betas: Vec<String>,
    prelude: String,
    usage_url: Option<String>,
}

impl Default for ClaudeCode {
    fn default() -> Self {
        ClaudeCode::build(&ClaudeCodeSettings::default())
    }
}

fn invalid(field: &str, message: impl Into<String>) -> ProviderError {
    ProviderError::InvalidSettings {
        kind: CLAUDECODE_KIND,
        field: field.to_owned(),
        message: message.into(),
    }
}

/// `url` if it is an http(s) URL, else the settings error for `field`.
pub(crate) fn check_url(kind: &'static str, field: &str, url: &str) -> Result<(), ProviderError> {
    if (url.starts_with("https://") || url.starts_with("http://")) && url.len() > 8 {
        Ok(())
    } else {
        Err(ProviderError::InvalidSettings {
            kind,
            field: field.to_owned(),
            message: format!("`{url}` is not an http(s) URL"),
        })
    }
}

/// A header value from a checked setting (the default when it is not one).
fn header_or(value: &str, default: &'static str) -> HeaderValue {
    HeaderValue::try_from(value).unwrap_or(HeaderValue::from_static(default))
}

impl ClaudeCodeSettings {
    /// Checks every field; the error names it.
    pub fn validate(&self) -> Result<(), ProviderError> {
        for (field, url) in [
            ("authorize_url", &self.authorize_url),
            ("token_url", &self.token_url),
            ("redirect_uri", &self.redirect_uri),
            ("usage_url", &self.usage_url),
        ] {
            if let Some(url) = url {
                check_url(CLAUDECODE_KIND, field, url)?;
            }
        }
        if let Some(v) = &self.cli_version
            && (v.is_empty() || !v.chars().all(|c| c.is_ascii_digit() || c == '.'))
        {
            return Err(invalid("cli_version", "a version such as `2.1.258`"));
        }
        if self.refresh_lead_secs.is_some_and(|l| l > 30 * 86_400) {
            return Err(invalid("refresh_lead_secs", "at most 30 days"));
        }
        if let Some(betas) = &self.betas
            && let Some(i) = betas.iter().position(|b| {
                b.is_empty() || b.contains(',') || HeaderValue::try_from(b.as_str()).is_err()
            })
        {
            return Err(invalid(&format!("betas[{i}]"), "one beta name, no commas"));
        }
        for (field, value) in [
            ("user_agent", &self.user_agent),
            ("token_user_agent", &self.token_user_agent),
            ("stainless_package_version", &self.stainless_package_version),
        ] {
            if value
                .as_deref()
                .is_some_and(|v| v.is_empty() || HeaderValue::try_from(v).is_err())
            {
                return Err(invalid(field, "not a valid header value"));
            }
        }
        Ok(())
    }
}

impl ClaudeCode {
    /// Built from a provider row's `settings` (`null` or `{}`: defaults).
    pub fn from_settings(settings: &Value) -> Result<Self, ProviderError> {
        let s: ClaudeCodeSettings = match settings {
            Value::Null => ClaudeCodeSettings::default(),
            v => {
                serde_json::from_value(v.clone()).map_err(|e| invalid("settings", e.to_string()))?
            }
        };
        s.validate()?;
        Ok(ClaudeCode::build(&s))
    }

    /// The kind with checked settings `s`.
    fn build(s: &ClaudeCodeSettings) -> Self {
        let text =
            |v: &Option<String>, default: &str| v.clone().unwrap_or_else(|| default.to_owned());
        let cli_version = text(&s.cli_version, DEFAULT_CLI_VERSION);
        let user_agent = s
            .user_agent
            .clone()
            .unwrap_or_else(|| format!("claude-cli/{cli_version} (external, cli)"));
        ClaudeCode {
            oauth: OAuthSpec {
                authorize_url: text(&s.authorize_url, DEFAULT_AUTHORIZE_URL),
                token_url: text(&s.token_url, DEFAULT_TOKEN_URL),
                client_id: text(&s.client_id, DEFAULT_CLIENT_ID),
                client_secret: None,
                scopes: text(&s.scopes, DEFAULT_SCOPES),
                refresh_scope: Some(text(&s.refresh_scope, DEFAULT_REFRESH_SCOPE)),
                redirect_uri: text(&s.redirect_uri, DEFAULT_REDIRECT_URI),
                authorize_params: vec![("code".into(), "true".into())],
                pkce: true,
                token_body: TokenBody::Json,
                exchange_sends_state: true,
                token_headers: vec![
                    (
                        "user-agent".into(),
                        text(&s.token_user_agent, DEFAULT_TOKEN_USER_AGENT),
                    ),
                    ("accept".into(), "application/json, text/plain, */*".into()),
                ],
                refresh_lead_secs: s.refresh_lead_secs.unwrap_or(DEFAULT_REFRESH_LEAD_SECS),
                device: None,
            },
            user_agent: header_or(&user_agent, "claude-cli"),
            stainless_version: header_or(
                s.stainless_package_version
                    .as_deref()
                    .unwrap_or(DEFAULT_STAINLESS_VERSION),
                DEFAULT_STAINLESS_VERSION,
            ),
            cli_version,
            betas: s
                .betas
                .clone()
                .unwrap_or_else(|| DEFAULT_BETAS.iter().map(|b| (*b).to_owned()).collect()),
            prelude: text(&s.system_prelude, DEFAULT_PRELUDE),
            usage_url: s.usage_url.clone(),
        }
    }

    /// `anthropic-beta`: the configured betas, then the client's.
    fn betas(&self, headers: &HeaderMap) -> String {
        let mut out: Vec<String> = self.betas.clone();
        if !out.iter().any(|b| b == OAUTH_BETA) {
            out.insert(0, OAUTH_BETA.to_owned());
        }
        for value in headers.get_all("anthropic-beta") {
            for beta in value.to_str().unwrap_or("").split(',') {
                let beta = beta.trim();
                if !beta.is_empty() && !out.iter().any(|b| b == beta) {
                    out.push(beta.to_owned());
                }
            }
        }
        out.join(",")
    }

    /// The billing block's text for a request whose first user text is
    /// `first_text`; `cch` is `00000` until [`cch`] fills it in.
    fn billing_text(&self, first_text: &str, cch: &str) -> String {
        format!(
            "x-anthropic-billing-header: cc_version={}.{}; cc_entrypoint=cli; cch={cch};",
            self.cli_version,
            version_suffix(first_text, &self.cli_version)
        )
    }

    /// The Messages body as the subscription expects it.
    fn shape_messages(
        &self,
        login: &OAuthCredential,
        body: &[u8],
    ) -> Result<Vec<u8>, ProviderError> {
        let mut obj: Map<String, Value> = match serde_json::from_slice(body) {
            Ok(Value::Object(obj)) => obj,
            _ => {
                return Err(ProviderError::InvalidSettings {
                    kind: CLAUDECODE_KIND,
                    field: "body".into(),
                    message: "the request body is not a JSON object".into(),
                });
            }
        };
        let first_text = first_user_text(obj.get("messages"));
        // system: the billing block, the prelude, then the caller's.
        let mut system: Vec<Value> = vec![json!({
            "type": "text",
            "text": self.billing_text(&first_text, "00000"),
        })];
        if !self.prelude.is_empty() {
            system.push(json!({
                "type": "text",
                "text": self.prelude,
                "cache_control": {"type": "ephemeral"},
            }));
        }
        match obj.remove("system") {
            Some(Value::String(s)) if !s.is_empty() => {
                system.push(json!({"type": "text", "text": s}));
            }
            Some(Value::Array(blocks)) => {
                system.extend(blocks.into_iter().filter(|b| {
                    b.get("text").and_then(Value::as_str) != Some(self.prelude.as_str())
                }))
            }
            _ => {}
        }
        obj.insert("system".into(), Value::Array(system));
        // metadata.user_id: a JSON string naming the device, the account
        // and the session.
        let device = device_id(login);
        let user_id = json!({
            "device_id": device,
            "account_uuid": login.account_str("account_id").unwrap_or(""),
            "session_id": session_id(&device, &first_text),
        })
        .to_string();
        let metadata = obj
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(m) = metadata {
            m.insert("user_id".into(), Value::String(user_id));
        } else {
            *metadata = json!({ "user_id": user_id });
        }
        let hash = cch(&obj);
        if let Some(Value::Object(block)) = obj.get_mut("system").and_then(|s| s.get_mut(0)) {
            block.insert(
                "text".into(),
                Value::String(self.billing_text(&first_text, &hash)),
            );
        }
        serde_json::to_vec(&Value::Object(obj)).map_err(|e| ProviderError::InvalidSettings {
            kind: CLAUDECODE_KIND,
            field: "body".into(),
            message: e.to_string(),
        })
    }
}

/// The first user message's text (its first text block).
fn first_user_text(messages: Option<&Value>) -> String {
    let Some(first) = messages.and_then(Value::as_array).and_then(|m| {
        m.iter()
            .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
    }) else {
        return String::new();
    };
    match first.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(blocks)) => blocks
            .iter()
            .find_map(|b| b.get("text").and_then(Value::as_str))
            .unwrap_or("")
            .to_owned(),
        _ => String::new(),
    }
}

/// The 3 hex digits after the version: SHA-256 of the salt, characters 4,
/// 7 and 20 of the first user text (`0` past its end) and the version.
fn version_suffix(first_text: &str, version: &str) -> String {
    let chars: Vec<char> = first_text.chars().collect();
    let pick: String = [4usize, 7, 20]
        .iter()
        .map(|&i| chars.get(i).copied().unwrap_or('0'))
        .collect();
    let digest = Sha256::digest(format!("{VERSION_SALT}{pick}{version}").as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    hex[..3].to_owned()
}

/// `cch`: xxHash64 (seeded) of the compact body with the placeholder in
/// place, without the fields the CLI leaves out of it (model values,
/// `fallbacks`, `max_tokens`, `fallback_credit_token`); the low 20 bits
/// as 5 hex digits. Reverse-engineered by others from CLI builds; the
/// fact sheet says it changes often.
fn cch(body: &Map<String, Value>) -> String {
    let mut hashed = body.clone();
    for key in ["model", "fallbacks", "max_tokens", "fallback_credit_token"] {
        hashed.remove(key);
    }
    let text = serde_json::to_vec(&Value::Object(hashed)).unwrap_or_default();
    format!("{:05x}", xxh64(&text, CCH_SEED) & 0xF_FFFF)
}

/// A stable 64-hex device id for the account.
fn device_id(login: &OAuthCredential) -> String {
    let digest = Sha256::digest(format!("gproxy-device:{}", login.identity()).as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A UUID-shaped session id, stable for one conversation (its first user
/// text) on one device.
fn session_id(device: &str, first_text: &str) -> String {
    let d = Sha256::digest(format!("{device}\n{first_text}").as_bytes());
    let h: String = d.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-4{}-8{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

/// xxHash64 of `input` with `seed`.
pub(crate) fn xxh64(input: &[u8], seed: u64) -> u64 {
    const P1: u64 = 0x9E37_79B1_85EB_CA87;
    const P2: u64 = 0xC2B2_AE3D_27D4_EB4F;
    const P3: u64 = 0x1656_67B1_9E37_79F9;
    const P4: u64 = 0x85EB_CA77_C2B2_AE63;
    const P5: u64 = 0x27D4_EB2F_1656_67C5;
    let read64 = |b: &[u8]| u64::from_le_bytes(b[..8].try_into().unwrap_or([0; 8]));
    let read32 = |b: &[u8]| u64::from(u32::from_le_bytes(b[..4].try_into().unwrap_or([0; 4])));
    let round = |acc: u64, lane: u64| {
        acc.wrapping_add(lane.wrapping_mul(P2))
            .rotate_left(31)
            .wrapping_mul(P1)
    };
    let merge = |acc: u64, v: u64| (acc ^ round(0, v)).wrapping_mul(P1).wrapping_add(P4);
    let mut rest = input;
    let mut h = if input.len() >= 32 {
        let mut v = [
            seed.wrapping_add(P1).wrapping_add(P2),
            seed.wrapping_add(P2),
            seed,
            seed.wrapping_sub(P1),
        ];
        while rest.len() >= 32 {
            for (i, lane) in v.iter_mut().enumerate() {
                *lane = round(*lane, read64(&rest[i * 8..]));
            }
            rest = &rest[32..];
        }
        let mut h = v[0]
            .rotate_left(1)
            .wrapping_add(v[1].rotate_left(7))
            .wrapping_add(v[2].rotate_left(12))
            .wrapping_add(v[3].rotate_left(18));
        for lane in v {
            h = merge(h, lane);
        }
        h
    } else {
        seed.wrapping_add(P5)
    };
    h = h.wrapping_add(input.len() as u64);
    while rest.len() >= 8 {
        h = (h ^ round(0, read64(rest)))
            .rotate_left(27)
            .wrapping_mul(P1)
            .wrapping_add(P4);
        rest = &rest[8..];
    }
    if rest.len() >= 4 {
        h = (h ^ read32(rest).wrapping_mul(P1))
            .rotate_left(23)
            .wrapping_mul(P2)
            .wrapping_add(P3);
        rest = &rest[4..];
    }
    for &b in rest {
        h = (h ^ u64::from(b).wrapping_mul(P5))
            .rotate_left(11)
            .wrapping_mul(P1);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(P2);
    h ^= h >> 29;
    h = h.wrapping_mul(P3);
    h ^ (h >> 32)
}

fn set(headers: &mut HeaderMap, name: &'static str, value: &'static str) {
    headers.insert(
        HeaderName::from_static(name),
        HeaderValue::from_static(value),
    );
}

/// Unix seconds in a unified rate-limit header.
fn unix_header(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// An ISO-8601 time as Unix seconds.
pub(crate) fn iso_to_unix(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp())
}

impl Provider for ClaudeCode {
    fn kind(&self) -> &'static str {
        CLAUDECODE_KIND
    }

    fn protocols(&self) -> &'static [Protocol] {
        &[Protocol::Claude]
    }

    fn default_base_url(&self) -> &str {
        "https://api.anthropic.com"
    }

    fn upstream_url(
        &self,
        base_url: &str,
        endpoint: &Endpoint<'_>,
    ) -> Result<String, ProviderError> {
        match endpoint {
            Endpoint::ClaudeMessages => Ok(join_url(base_url, "v1/messages?beta=true")),
            Endpoint::ClaudeCountTokens => {
                Ok(join_url(base_url, "v1/messages/count_tokens?beta=true"))
            }
            _ => Err(unsupported(self, endpoint)),
        }
    }

    fn auth_form(&self) -> AuthForm {
        AuthForm::Bearer
    }

    /// The bearer and the CLI's identity headers (model lists and quota
    /// calls get them too).
    fn apply_auth(
        &self,
        credential: &Credential,
        headers: &mut HeaderMap,
    ) -> Result<(), ProviderError> {
        let login = login_of(CLAUDECODE_KIND, credential)?;
        headers.remove("x-api-key");
        headers.insert(
            http::header::AUTHORIZATION,
            secret_header(CLAUDECODE_KIND, "Bearer ", &login.tokens.access_token)?,
        );
        let betas = self.betas(headers);
        headers.insert(
            "anthropic-beta",
            HeaderValue::try_from(betas).unwrap_or(HeaderValue::from_static(OAUTH_BETA)),
        );
        headers.insert(http::header::USER_AGENT, self.user_agent.clone());
        set(headers, "x-app", "cli");
        set(headers, "anthropic-dangerous-direct-browser-access", "true");
        set(headers, "x-stainless-lang", "js");
        set(headers, "x-stainless-runtime", "node");
        set(headers, "x-stainless-runtime-version", "v26.3.0");
        set(headers, "x-stainless-os", "Linux");
        set(headers, "x-stainless-arch", "x64");
        set(headers, "x-stainless-retry-count", "0");
        headers.insert(
            "x-stainless-package-version",
            self.stainless_version.clone(),
        );
        Ok(())
    }

    fn default_headers(&self, headers: &mut HeaderMap) {
        headers.insert(
            "anthropic-version",
            HeaderValue::from_static(DEFAULT_ANTHROPIC_VERSION),
        );
    }

    fn prepare_request(
        &self,
        endpoint: &Endpoint<'_>,
        credential: &Credential,
        headers: &mut HeaderMap,
        body: Bytes,
    ) -> Result<Bytes, ProviderError> {
        let login = login_of(CLAUDECODE_KIND, credential)?;
        set(headers, "accept", "application/json");
        match endpoint {
            Endpoint::ClaudeMessages => {
                set(headers, "x-stainless-timeout", "600");
                Ok(Bytes::from(self.shape_messages(login, &body)?))
            }
            _ => Ok(body),
        }
    }

    fn models_url(&self, base_url: &str, page: Option<&str>) -> Option<String> {
        Some(claude_models_url(base_url, page))
    }

    fn parse_models(&self, body: &[u8]) -> Result<ModelPage, ModelsError> {
        parse_claude(body)
    }

    fn fallback_models(&self) -> &'static [&'static str] {
        &[
            "claude-opus-4-6",
            "claude-sonnet-4-6",
            "claude-opus-4-5",
            "claude-sonnet-4-5",
            "claude-haiku-4-5",
        ]
    }

    fn count_tokens_api(&self) -> Option<CountTokensApi> {
        Some(CountTokensApi::Claude)
    }

    /// 429 with the unified headers: the subscription window is used up
    /// until its reset (the whole account; only the `7d_oi` family: that
    /// model). Fast-mode credit refusals are the request's problem.
    fn classify_failure(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) -> FailureClass {
        let base = crate::failure::classify(Protocol::Claude, status, headers, body);
        if status != StatusCode::TOO_MANY_REQUESTS {
            return base;
        }
        let text = String::from_utf8_lossy(body);
        if text.contains("fast mode") {
            return FailureClass::Client;
        }
        let rejected = |w: &str| {
            headers
                .get(format!("anthropic-ratelimit-unified-{w}-status"))
                .and_then(|v| v.to_str().ok())
                == Some("rejected")
        };
        let account_wide = rejected("5h") || rejected("7d");
        let reset = ["5h", "7d", "7d_oi"]
            .iter()
            .filter(|w| rejected(w))
            .filter_map(|w| unix_header(headers, &format!("anthropic-ratelimit-unified-{w}-reset")))
            .max()
            .or_else(|| unix_header(headers, "anthropic-ratelimit-unified-reset"));
        let wait = reset
            .map(|at| std::time::Duration::from_secs(at.saturating_sub(unix_now()).max(1)))
            .or_else(|| retry_after(headers));
        FailureClass::RateLimit {
            retry_after: wait,
            per_model: !account_wide,
            global: false,
        }
    }

    fn oauth(&self) -> Option<&OAuthSpec> {
        Some(&self.oauth)
    }

    /// `account{uuid,email_address}` and `organization{uuid,name}` of the
    /// code exchange's answer.
    fn oauth_account(&self, answer: &Value) -> Map<String, Value> {
        let mut out = Map::new();
        let mut put = |key: &str, v: Option<&Value>| {
            if let Some(s) = v.and_then(Value::as_str).filter(|s| !s.is_empty()) {
                out.insert(key.to_owned(), Value::from(s));
            }
        };
        put("account_id", answer.pointer("/account/uuid"));
        put("email", answer.pointer("/account/email_address"));
        put("organization_id", answer.pointer("/organization/uuid"));
        put("organization", answer.pointer("/organization/name"));
        out
    }

    fn import_credential(&self, input: &str, now_ms: u64) -> Option<Result<Imported, ImportError>> {
        Some(import_claude(input, now_ms))
    }

    fn quota_call(&self, base_url: &str, credential: &Credential) -> Option<SideCall> {
        credential.oauth()?;
        Some(SideCall {
            method: http::Method::GET,
            url: self
                .usage_url
                .clone()
                .unwrap_or_else(|| join_url(base_url, "api/oauth/usage")),
            body: None,
        })
    }

    /// `five_hour`, `seven_day`, `seven_day_opus`, `seven_day_sonnet`,
    /// `seven_day_oauth_apps`: `{utilization, resets_at}` or null.
    fn parse_quota(&self, _headers: &HeaderMap, body: &[u8]) -> Result<Quota, ModelsError> {
        let raw: Value = serde_json::from_slice(body)
            .map_err(|e| ModelsError::Invalid(format!("usage answer: {e}")))?;
        let obj = raw
            .as_object()
            .ok_or_else(|| ModelsError::Invalid("usage answer is not an object".into()))?;
        let mut windows = Vec::new();
        for (name, seconds, model) in [
            ("five_hour", 5 * 3600, None),
            ("seven_day", 7 * 86_400, None),
            ("seven_day_opus", 7 * 86_400, Some("opus")),
            ("seven_day_sonnet", 7 * 86_400, Some("sonnet")),
            ("seven_day_oauth_apps", 7 * 86_400, None),
        ] {
            let Some(w) = obj.get(name).filter(|w| w.is_object()) else {
                continue;
            };
            windows.push(QuotaWindow {
                name: name.to_owned(),
                model: model.map(str::to_owned),
                used_percent: w.get("utilization").and_then(Value::as_f64),
                resets_at: w
                    .get("resets_at")
                    .and_then(Value::as_str)
                    .and_then(iso_to_unix),
                window_seconds: Some(seconds),
            });
        }
        Ok(Quota {
            plan: None,
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
        crate::oauth::test_login(
            "sk-ant-oat01-x",
            "sk-ant-ort01-y",
            &[("account_id", "acc-1")],
        )
    }

    #[test]
    fn xxh64_matches_the_reference_vectors() {
        assert_eq!(xxh64(b"", 0), 0xEF46_DB37_51D8_E999);
        assert_eq!(xxh64(b"a", 0), 0xD24E_C4F1_A98C_6E5B);
        assert_eq!(xxh64(b"abc", 0), 0x44BC_2CF5_AD77_0999);
    }

    #[test]
    fn messages_get_the_billing_block_prelude_and_user_id() {
        let p = ClaudeCode::default();
        let mut headers = HeaderMap::new();
        headers.insert(
            "anthropic-beta",
            HeaderValue::from_static("tools-2024, oauth-2025-04-20"),
        );
        headers.insert("x-api-key", HeaderValue::from_static("sk-client"));
        let cred = login();
        p.apply_auth(&cred, &mut headers).unwrap();
        let body = br#"{"model":"claude-sonnet-4-5","max_tokens":10,"system":"Be brief.","messages":[{"role":"user","content":"hello there, world"}]}"#;
        let out = p
            .prepare_request(
                &Endpoint::ClaudeMessages,
                &cred,
                &mut headers,
                Bytes::from_static(body),
            )
            .unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        let billing = v["system"][0]["text"].as_str().unwrap();
        assert!(billing.starts_with("x-anthropic-billing-header: cc_version=2.1.258."));
        assert!(billing.contains("cc_entrypoint=cli; cch="));
        assert!(!billing.contains("cch=00000;"), "{billing}");
        assert_eq!(v["system"][1]["text"], DEFAULT_PRELUDE);
        assert_eq!(v["system"][2]["text"], "Be brief.");
        let user: Value = serde_json::from_str(v["metadata"]["user_id"].as_str().unwrap()).unwrap();
        assert_eq!(user["account_uuid"], "acc-1");
        assert_eq!(user["device_id"].as_str().unwrap().len(), 64);
        assert_eq!(user["session_id"].as_str().unwrap().len(), 36);
        assert_eq!(v["model"], "claude-sonnet-4-5");
        assert!(headers.get("x-api-key").is_none());
        assert_eq!(headers["authorization"], "Bearer sk-ant-oat01-x");
        let betas = headers["anthropic-beta"].to_str().unwrap();
        assert!(betas.starts_with("claude-code-20250219,oauth-2025-04-20"));
        assert_eq!(betas.matches("oauth-2025-04-20").count(), 1);
        assert!(betas.ends_with("tools-2024"));
        assert_eq!(headers["user-agent"], "claude-cli/2.1.258 (external, cli)");
        assert_eq!(headers["x-app"], "cli");
        // The same conversation keeps its session.
        let again = p
            .prepare_request(
                &Endpoint::ClaudeMessages,
                &cred,
                &mut headers,
                Bytes::from_static(body),
            )
            .unwrap();
        let again: Value = serde_json::from_slice(&again).unwrap();
        assert_eq!(again["metadata"]["user_id"], v["metadata"]["user_id"]);
    }

    #[test]
    fn api_keys_are_refused() {
        let p = ClaudeCode::default();
        let key = Credential::ApiKey {
            key: Secret::new("sk-ant-api".into()),
        };
        assert!(matches!(
            p.apply_auth(&key, &mut HeaderMap::new()),
            Err(ProviderError::InvalidCredential { .. })
        ));
    }

    #[test]
    fn an_exhausted_window_cools_the_account_until_its_reset() {
        let p = ClaudeCode::default();
        let reset = unix_now() + 1800;
        let mut h = HeaderMap::new();
        h.insert(
            "anthropic-ratelimit-unified-5h-status",
            HeaderValue::from_static("rejected"),
        );
        h.insert(
            "anthropic-ratelimit-unified-5h-reset",
            HeaderValue::from_str(&reset.to_string()).unwrap(),
        );
        let FailureClass::RateLimit {
            retry_after,
            per_model,
            ..
        } = p.classify_failure(StatusCode::TOO_MANY_REQUESTS, &h, b"{}")
        else {
            panic!("not a rate limit");
        };
        let secs = retry_after.unwrap().as_secs();
        assert!((1795..=1800).contains(&secs), "{secs}");
        assert!(!per_model);
        let body = br#"{"type":"error","error":{"type":"rate_limit_error","message":"Usage credits are required for fast mode"}}"#;
        assert_eq!(
            p.classify_failure(StatusCode::TOO_MANY_REQUESTS, &HeaderMap::new(), body),
            FailureClass::Client
        );
        assert_eq!(
            p.classify_failure(StatusCode::UNAUTHORIZED, &HeaderMap::new(), b""),
            FailureClass::Auth
        );
    }

    #[test]
    fn settings_are_checked_with_their_field() {
        let err = ClaudeCode::from_settings(&json!({"token_url": "ftp://x"})).unwrap_err();
        assert!(err.to_string().contains("`token_url`"), "{err}");
        let err = ClaudeCode::from_settings(&json!({"betas": ["a,b"]})).unwrap_err();
        assert!(err.to_string().contains("`betas[0]`"), "{err}");
        let err = ClaudeCode::from_settings(&json!({"nope": 1})).unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
        let p = ClaudeCode::from_settings(
            &json!({"token_url": "http://127.0.0.1:9/v1/oauth/token", "cli_version": "2.2.0"}),
        )
        .unwrap();
        assert_eq!(
            p.oauth().unwrap().token_url,
            "http://127.0.0.1:9/v1/oauth/token"
        );
        assert!(p.billing_text("x", "00000").contains("cc_version=2.2.0."));
    }

    #[test]
    fn usage_and_account_facts_are_read() {
        let p = ClaudeCode::default();
        let q = p
            .parse_quota(
                &HeaderMap::new(),
                br#"{"five_hour":{"utilization":12.0,"resets_at":"2026-12-04T20:00:00Z"},"seven_day":null}"#,
            )
            .unwrap();
        assert_eq!(q.windows.len(), 1);
        assert_eq!(q.windows[0].name, "five_hour");
        assert_eq!(q.windows[0].used_percent, Some(12.0));
        assert_eq!(q.windows[0].resets_at, Some(1_796_414_400));
        let facts = p.oauth_account(&json!({
            "account": {"uuid": "u-1", "email_address": "a@b.c"},
            "organization": {"uuid": "o-1", "name": "Org"}
        }));
        assert_eq!(facts["email"], "a@b.c");
        assert_eq!(facts["account_id"], "u-1");
        assert_eq!(facts["organization_id"], "o-1");
    }
}
