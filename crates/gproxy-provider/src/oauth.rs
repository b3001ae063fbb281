//! What an OAuth subscription kind (codex, claudecode, antigravity,
//! geminicli) tells the gateway about logging in, renewing tokens and
//! reading quotas. Data and pure builders only: the core does the IO
//! (`gproxy_core::oauth`).
//!
//! Every value vendors change often (client ids, URLs, user agents,
//! version strings, beta headers) comes from the provider's settings, with
//! a documented default.

use http::Method;
use serde::Serialize;
use serde_json::Value;

/// How a token endpoint takes its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenBody {
    /// `application/x-www-form-urlencoded` (OpenAI, Google).
    Form,
    /// `application/json` (Anthropic).
    Json,
}

/// A kind's OAuth client: where its accounts log in and how tokens renew.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthSpec {
    /// The authorize endpoint (the URL the user opens).
    pub authorize_url: String,
    /// The token endpoint (code exchange and refresh).
    pub token_url: String,
    /// The OAuth client id.
    pub client_id: String,
    /// The installed-app client secret (Google), sent on exchange and
    /// refresh.
    pub client_secret: Option<String>,
    /// Scopes asked for at login, space separated.
    pub scopes: String,
    /// Scopes sent with a refresh (Anthropic requires them), if any.
    pub refresh_scope: Option<String>,
    /// The `redirect_uri` of the authorize call and the exchange.
    pub redirect_uri: String,
    /// Extra authorize query parameters, in order.
    pub authorize_params: Vec<(String, String)>,
    /// Whether the login uses PKCE S256.
    pub pkce: bool,
    /// How the token endpoint takes its body.
    pub token_body: TokenBody,
    /// Whether the code exchange also sends `state` (Anthropic).
    pub exchange_sends_state: bool,
    /// Headers sent to the token endpoint (e.g. the `User-Agent` it
    /// insists on).
    pub token_headers: Vec<(String, String)>,
    /// Refresh this long before the access token expires.
    pub refresh_lead_secs: u64,
    /// The device-code flow, for kinds that have one (codex).
    pub device: Option<DeviceFlow>,
}

/// A device-code login (OpenAI's `deviceauth`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceFlow {
    /// `POST` with `{client_id}`: answers `{device_auth_id, user_code, interval}`.
    pub usercode_url: String,
    /// `POST` with `{device_auth_id, user_code}`: 403/404 while pending,
    /// 429 slow down, 410 expired; on approval
    /// `{authorization_code, code_verifier}`.
    pub token_url: String,
    /// Where the user types the code.
    pub verification_url: String,
    /// The `redirect_uri` the approved code is exchanged with.
    pub redirect_uri: String,
}

/// An upstream call the gateway makes for a credential outside a request
/// (quota, model list): sent with the provider's default headers and the
/// credential in [`crate::Provider::apply_auth`]'s form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SideCall {
    /// `GET` or `POST`.
    pub method: Method,
    /// The full URL.
    pub url: String,
    /// The JSON body of a `POST`.
    pub body: Option<Vec<u8>>,
}

/// A credential's live quota, in one shape for every kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Quota {
    /// Plan or tier, when the answer says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// Each window or bucket.
    pub windows: Vec<QuotaWindow>,
    /// The upstream's answer as received.
    pub raw: Value,
}

/// One quota window (a time window of a subscription, or a per-model bucket).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct QuotaWindow {
    /// What it counts (`five_hour`, `seven_day`, `primary`, a model id, ...).
    pub name: String,
    /// The model it is limited to, if it is per model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// How much is used, 0..=100.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub used_percent: Option<f64>,
    /// When it resets, Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resets_at: Option<i64>,
    /// The window's length in seconds, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_seconds: Option<u64>,
}

/// Project discovery of the Google Code Assist kinds (geminicli,
/// antigravity), run once at login: `loadCodeAssist`, then `onboardUser`
/// polled until it is done when no project came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeAssistDiscovery {
    /// Base URL of `loadCodeAssist` (`{base}/v1internal:loadCodeAssist`);
    /// empty: the provider's configured base URL.
    pub load_base_url: String,
    /// Base URL of `onboardUser` and of polling its operation; empty: the
    /// provider's configured base URL.
    pub onboard_base_url: String,
    /// The `metadata` object sent with both calls.
    pub metadata: Value,
    /// Whether `onboardUser` takes snake_case keys (`tier_id`).
    pub snake_case: bool,
    /// The tier onboarded when none is marked default.
    pub fallback_tier: String,
    /// The user-info endpoint that gives the account's e-mail.
    pub userinfo_url: String,
    /// Headers of the discovery calls (the kind's user agent).
    pub headers: Vec<(String, String)>,
    /// Most `onboardUser` polls, and the wait between them.
    pub max_polls: u32,
    /// Milliseconds between polls.
    pub poll_interval_ms: u64,
}

/// The OAuth login `credential` holds, or the error an OAuth kind answers
/// for any other credential.
pub fn login_of<'a>(
    kind: &'static str,
    credential: &'a gproxy_credential::Credential,
) -> Result<&'a gproxy_credential::oauth::OAuthCredential, crate::ProviderError> {
    credential
        .oauth()
        .ok_or(crate::ProviderError::InvalidCredential {
            kind,
            reason: "an OAuth login is required (log the account in, or import the CLI's credentials file)",
        })
}

/// Now, in Unix seconds (reset times in vendor answers are in them).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A login for tests: `access` and `refresh` tokens, expired, with
/// `account` facts.
#[cfg(test)]
pub(crate) fn test_login(
    access: &str,
    refresh: &str,
    account: &[(&str, &str)],
) -> gproxy_credential::Credential {
    use gproxy_credential::Secret;
    use gproxy_credential::oauth::{OAuthCredential, TokenSet};
    gproxy_credential::Credential::OAuth(Box::new(OAuthCredential::new(
        TokenSet {
            access_token: Secret::new(access.to_owned()),
            refresh_token: Some(Secret::new(refresh.to_owned())),
            expires_at_ms: 0,
            scope: None,
        },
        account
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
            .collect(),
    )))
}

/// A form or JSON token-endpoint body from `fields`.
pub fn token_request_body(body: TokenBody, fields: &[(&str, &str)]) -> (Vec<u8>, &'static str) {
    match body {
        TokenBody::Form => {
            let mut out = String::new();
            for (i, (k, v)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push('&');
                }
                out.push_str(&form_encode(k));
                out.push('=');
                out.push_str(&form_encode(v));
            }
            (out.into_bytes(), "application/x-www-form-urlencoded")
        }
        TokenBody::Json => {
            let map: serde_json::Map<String, Value> = fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
                .collect();
            (
                serde_json::to_vec(&Value::Object(map)).unwrap_or_default(),
                "application/json",
            )
        }
    }
}

/// `application/x-www-form-urlencoded` / query-string encoding of one
/// value (unreserved characters kept, space as `%20`).
pub fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl OAuthSpec {
    /// The authorize URL of a login with `state` and, when the kind uses
    /// PKCE, `challenge`.
    pub fn authorize_url(&self, state: &str, challenge: Option<&str>) -> String {
        let mut params: Vec<(&str, &str)> = vec![
            ("response_type", "code"),
            ("client_id", &self.client_id),
            ("redirect_uri", &self.redirect_uri),
            ("scope", &self.scopes),
            ("state", state),
        ];
        if let Some(challenge) = challenge.filter(|_| self.pkce) {
            params.push(("code_challenge", challenge));
            params.push(("code_challenge_method", "S256"));
        }
        for (k, v) in &self.authorize_params {
            params.push((k, v));
        }
        let mut url = self.authorize_url.clone();
        url.push(if url.contains('?') { '&' } else { '?' });
        for (i, (k, v)) in params.iter().enumerate() {
            if i > 0 {
                url.push('&');
            }
            url.push_str(&form_encode(k));
            url.push('=');
            url.push_str(&form_encode(v));
        }
        url
    }

    /// The code exchange's body and content type.
    pub fn exchange_body(
        &self,
        code: &str,
        redirect_uri: &str,
        verifier: Option<&str>,
        state: Option<&str>,
    ) -> (Vec<u8>, &'static str) {
        let mut fields: Vec<(&str, &str)> = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("client_id", &self.client_id),
        ];
        if let Some(secret) = &self.client_secret {
            fields.push(("client_secret", secret));
        }
        if let Some(v) = verifier {
            fields.push(("code_verifier", v));
        }
        if let Some(s) = state.filter(|_| self.exchange_sends_state) {
            fields.push(("state", s));
        }
        token_request_body(self.token_body, &fields)
    }

    /// The refresh's body and content type.
    pub fn refresh_body(&self, refresh_token: &str) -> (Vec<u8>, &'static str) {
        let mut fields: Vec<(&str, &str)> = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", &self.client_id),
        ];
        if let Some(secret) = &self.client_secret {
            fields.push(("client_secret", secret));
        }
        if let Some(scope) = &self.refresh_scope {
            fields.push(("scope", scope));
        }
        token_request_body(self.token_body, &fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> OAuthSpec {
        OAuthSpec {
            authorize_url: "https://auth.example/oauth/authorize".into(),
            token_url: "https://auth.example/oauth/token".into(),
            client_id: "app_1".into(),
            client_secret: None,
            scopes: "openid email".into(),
            refresh_scope: Some("openid".into()),
            redirect_uri: "http://localhost:1455/auth/callback".into(),
            authorize_params: vec![("originator".into(), "codex_cli_rs".into())],
            pkce: true,
            token_body: TokenBody::Form,
            exchange_sends_state: false,
            token_headers: Vec::new(),
            refresh_lead_secs: 300,
            device: None,
        }
    }

    #[test]
    fn authorize_url_encodes_every_parameter() {
        let url = spec().authorize_url("s t", Some("ch"));
        assert_eq!(
            url,
            "https://auth.example/oauth/authorize?response_type=code&client_id=app_1\
             &redirect_uri=http%3A%2F%2Flocalhost%3A1455%2Fauth%2Fcallback&scope=openid%20email\
             &state=s%20t&code_challenge=ch&code_challenge_method=S256&originator=codex_cli_rs"
        );
    }

    #[test]
    fn token_bodies_in_both_encodings() {
        let s = spec();
        let (body, ct) = s.refresh_body("r/1");
        assert_eq!(ct, "application/x-www-form-urlencoded");
        assert_eq!(
            String::from_utf8(body).unwrap(),
            "grant_type=refresh_token&refresh_token=r%2F1&client_id=app_1&scope=openid"
        );
        let json = OAuthSpec {
            token_body: TokenBody::Json,
            exchange_sends_state: true,
            ..s
        };
        let (body, ct) = json.exchange_body("c", "http://cb", Some("v"), Some("st"));
        assert_eq!(ct, "application/json");
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["grant_type"], "authorization_code");
        assert_eq!(v["code_verifier"], "v");
        assert_eq!(v["state"], "st");
        assert_eq!(v["redirect_uri"], "http://cb");
    }
}
