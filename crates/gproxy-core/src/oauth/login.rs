//! Logins: the authorization-code flow (start returns the authorize URL;
//! complete takes the pasted callback), the device-code flow (start
//! returns the code to type; poll until approved), and imports of the
//! vendors' own CLI files. Each ends in an [`OAuthCredential`] for the
//! admin API to store.

use gproxy_credential::clock::now_ms;
use gproxy_credential::oauth::{
    LoginStateError, OAuthCredential, PendingLogin, Pkce, TokenSet, parse_callback, random_state,
};
use gproxy_provider::Provider;
use http::Method;
use serde_json::Value;

use super::{OAuthManager, lock};

/// How long a started login is accepted.
pub const LOGIN_TTL_MS: u64 = 10 * 60 * 1000;

/// How long a device code is polled for.
pub const DEVICE_TTL_MS: u64 = 15 * 60 * 1000;

/// A pending device-code login.
#[derive(Debug, Clone)]
pub(crate) struct DeviceLogin {
    provider: String,
    device_auth_id: String,
    user_code: String,
    interval_ms: u64,
    next_poll_ms: u64,
    pub(crate) expires_at_ms: u64,
}

/// What starting a login gives the admin.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct LoginStart {
    /// `authorization_code` or `device`.
    pub flow: &'static str,
    /// Names this login in `complete` / `poll`.
    pub state: String,
    /// The URL the user opens (authorize page, or where to type the code).
    pub url: String,
    /// The redirect the authorize page goes to (paste it back).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
    /// The device flow's code to type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_code: Option<String>,
    /// Seconds between polls (device flow).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval_secs: Option<u64>,
    /// Until when the login is accepted (epoch ms).
    pub expires_at_ms: u64,
}

/// A device login polled.
#[derive(Debug)]
pub enum Polled {
    /// Not approved yet (or polled too fast: `slow_down`).
    Pending {
        /// Seconds to wait before the next poll.
        retry_after_secs: u64,
    },
    /// Approved: the new credential.
    Done(Box<OAuthCredential>),
}

/// Why a login step failed, with the field at fault where there is one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    /// The request is wrong (400): `field` and what is wrong with it.
    #[error("{field}: {message}")]
    Invalid {
        /// The request field at fault.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The provider kind has no such flow (400).
    #[error("{0}")]
    Unsupported(String),
    /// The vendor refused or failed (502).
    #[error("{0}")]
    Upstream(String),
}

fn invalid(field: &'static str, message: impl Into<String>) -> LoginError {
    LoginError::Invalid {
        field,
        message: message.into(),
    }
}

impl From<LoginStateError> for LoginError {
    fn from(e: LoginStateError) -> Self {
        invalid("state", e.to_string())
    }
}

/// Truncates an upstream answer for an error message.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    text.chars().take(300).collect()
}

impl OAuthManager {
    /// Starts an authorization-code login for provider `name` (`redirect_uri`:
    /// an override of the kind's default).
    pub fn start_login(
        &self,
        name: &str,
        provider: &dyn Provider,
        redirect_uri: Option<&str>,
    ) -> Result<LoginStart, LoginError> {
        let spec = provider.oauth().ok_or_else(|| {
            LoginError::Unsupported(format!(
                "provider `{name}` (kind `{}`) has no OAuth login",
                provider.kind()
            ))
        })?;
        let redirect = redirect_uri.unwrap_or(&spec.redirect_uri).to_owned();
        let mut spec = spec.clone();
        spec.redirect_uri = redirect.clone();
        let pkce = Pkce::generate();
        let state = random_state();
        let now = now_ms();
        let url = spec.authorize_url(&state, Some(&pkce.challenge));
        self.logins.insert(
            state.clone(),
            PendingLogin {
                provider: name.to_owned(),
                pkce,
                redirect_uri: redirect.clone(),
                expires_at_ms: now + LOGIN_TTL_MS,
            },
            now,
        );
        Ok(LoginStart {
            flow: "authorization_code",
            state,
            url,
            redirect_uri: Some(redirect),
            user_code: None,
            interval_secs: None,
            expires_at_ms: now + LOGIN_TTL_MS,
        })
    }

    /// Completes an authorization-code login with what the user pasted
    /// (`callback`: the redirect URL, `code#state`, or the bare code with
    /// `state` given apart).
    pub async fn complete_login(
        &self,
        name: &str,
        provider: &dyn Provider,
        base_url: &str,
        state: Option<&str>,
        callback: &str,
    ) -> Result<OAuthCredential, LoginError> {
        let spec = provider.oauth().ok_or_else(|| {
            LoginError::Unsupported(format!("provider `{name}` has no OAuth login"))
        })?;
        let pasted = parse_callback(callback).map_err(|e| invalid("callback", e.to_string()))?;
        let state = match (state, pasted.state.as_deref()) {
            (Some(given), Some(pasted)) if given != pasted => {
                return Err(invalid(
                    "callback",
                    "the pasted callback belongs to another login (its state differs)",
                ));
            }
            (Some(s), _) | (None, Some(s)) => s.to_owned(),
            (None, None) => {
                return Err(invalid(
                    "state",
                    "required when the callback is a bare code",
                ));
            }
        };
        let login = self.logins.take(&state, name, now_ms())?;
        let (body, content_type) = spec.exchange_body(
            &pasted.code,
            &login.redirect_uri,
            spec.pkce.then(|| login.pkce.verifier.expose()),
            Some(&state),
        );
        self.exchange(provider, base_url, body, content_type).await
    }

    /// A code exchange and what follows it (account facts, discovery).
    async fn exchange(
        &self,
        provider: &dyn Provider,
        base_url: &str,
        body: Vec<u8>,
        content_type: &'static str,
    ) -> Result<OAuthCredential, LoginError> {
        let spec = provider
            .oauth()
            .ok_or_else(|| LoginError::Unsupported("no OAuth login".into()))?;
        let (status, _, answer) = self
            .post_token(&spec.token_url, spec, body, content_type)
            .await
            .map_err(LoginError::Upstream)?;
        if !status.is_success() {
            return Err(LoginError::Upstream(format!(
                "the token endpoint refused the code: {status}: {}",
                excerpt(&answer)
            )));
        }
        let json: Value = serde_json::from_slice(&answer)
            .map_err(|_| LoginError::Upstream("the token endpoint's answer is not JSON".into()))?;
        let tokens = TokenSet::from_answer(&json, now_ms(), None)
            .map_err(|e| LoginError::Upstream(e.to_string()))?;
        if tokens.refresh_token.is_none() {
            return Err(LoginError::Upstream(
                "the token endpoint issued no refresh token (approve the consent screen again)"
                    .into(),
            ));
        }
        let account = provider.oauth_account(&json);
        let mut credential = OAuthCredential::new(tokens, account);
        self.discover(provider, base_url, &mut credential).await?;
        Ok(credential)
    }

    /// Starts a device-code login (kinds with one: codex).
    pub async fn start_device(
        &self,
        name: &str,
        provider: &dyn Provider,
    ) -> Result<LoginStart, LoginError> {
        let device = provider
            .oauth()
            .and_then(|s| s.device.as_ref())
            .ok_or_else(|| {
                LoginError::Unsupported(format!(
                    "provider `{name}` (kind `{}`) has no device-code login",
                    provider.kind()
                ))
            })?;
        let spec = provider.oauth().expect("checked above");
        let body = serde_json::to_vec(&serde_json::json!({ "client_id": spec.client_id }))
            .unwrap_or_default();
        let headers: Vec<(&str, &str)> = spec
            .token_headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let (status, _, answer) = self
            .call(
                Method::POST,
                &device.usercode_url,
                &headers,
                Some((body, "application/json")),
            )
            .await
            .map_err(LoginError::Upstream)?;
        if !status.is_success() {
            return Err(LoginError::Upstream(format!(
                "the device-code endpoint answered {status}: {}",
                excerpt(&answer)
            )));
        }
        let json: Value = serde_json::from_slice(&answer).unwrap_or(Value::Null);
        let text = |k: &str| json.get(k).and_then(Value::as_str).map(str::to_owned);
        let device_auth_id = text("device_auth_id")
            .ok_or_else(|| LoginError::Upstream("no `device_auth_id` in the answer".into()))?;
        let user_code = text("user_code")
            .or_else(|| text("usercode"))
            .ok_or_else(|| LoginError::Upstream("no `user_code` in the answer".into()))?;
        // `interval` comes as a number or a string; 5 s by default.
        let interval_secs = json
            .get("interval")
            .and_then(|v| v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok())))
            .unwrap_or(5)
            .max(1);
        let state = random_state();
        let now = now_ms();
        let mut devices = lock(&self.devices);
        devices.retain(|_, d| d.expires_at_ms > now);
        devices.insert(
            state.clone(),
            DeviceLogin {
                provider: name.to_owned(),
                device_auth_id,
                user_code: user_code.clone(),
                interval_ms: interval_secs * 1000,
                next_poll_ms: now,
                expires_at_ms: now + DEVICE_TTL_MS,
            },
        );
        Ok(LoginStart {
            flow: "device",
            state,
            url: device.verification_url.clone(),
            redirect_uri: None,
            user_code: Some(user_code),
            interval_secs: Some(interval_secs),
            expires_at_ms: now + DEVICE_TTL_MS,
        })
    }

    /// Polls a device login once. A poll before the interval has passed
    /// does not reach the vendor.
    pub async fn poll_device(
        &self,
        name: &str,
        provider: &dyn Provider,
        base_url: &str,
        state: &str,
    ) -> Result<Polled, LoginError> {
        let now = now_ms();
        let login = {
            let devices = lock(&self.devices);
            let login = devices.get(state).ok_or(LoginStateError::Unknown)?;
            if login.provider != name {
                return Err(LoginStateError::OtherProvider.into());
            }
            login.clone()
        };
        if login.expires_at_ms <= now {
            lock(&self.devices).remove(state);
            return Err(LoginStateError::Expired.into());
        }
        if login.next_poll_ms > now {
            return Ok(Polled::Pending {
                retry_after_secs: (login.next_poll_ms - now).div_ceil(1000),
            });
        }
        let spec = provider
            .oauth()
            .ok_or_else(|| LoginError::Unsupported("no OAuth login".into()))?;
        let device = spec
            .device
            .as_ref()
            .ok_or_else(|| LoginError::Unsupported("no device-code login".into()))?;
        let body = serde_json::to_vec(&serde_json::json!({
            "device_auth_id": login.device_auth_id,
            "user_code": login.user_code,
        }))
        .unwrap_or_default();
        let headers: Vec<(&str, &str)> = spec
            .token_headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let (status, _, answer) = self
            .call(
                Method::POST,
                &device.token_url,
                &headers,
                Some((body, "application/json")),
            )
            .await
            .map_err(LoginError::Upstream)?;
        let mut interval = login.interval_ms;
        match status.as_u16() {
            200..=299 => {}
            403 | 404 => {
                self.next_poll(state, interval);
                return Ok(Polled::Pending {
                    retry_after_secs: interval / 1000,
                });
            }
            429 => {
                // slow_down: the interval grows by 5 s (RFC 8628 §3.5).
                interval += 5000;
                if let Some(d) = lock(&self.devices).get_mut(state) {
                    d.interval_ms = interval;
                }
                self.next_poll(state, interval);
                return Ok(Polled::Pending {
                    retry_after_secs: interval / 1000,
                });
            }
            410 => {
                lock(&self.devices).remove(state);
                return Err(LoginStateError::Expired.into());
            }
            _ => {
                return Err(LoginError::Upstream(format!(
                    "the device token endpoint answered {status}: {}",
                    excerpt(&answer)
                )));
            }
        }
        lock(&self.devices).remove(state);
        let json: Value = serde_json::from_slice(&answer).unwrap_or(Value::Null);
        let text = |k: &str| json.get(k).and_then(Value::as_str);
        let code = text("authorization_code")
            .ok_or_else(|| LoginError::Upstream("no `authorization_code` in the answer".into()))?;
        let verifier = text("code_verifier");
        let (body, content_type) =
            spec.exchange_body(code, &device.redirect_uri, verifier, None);
        let credential = self.exchange(provider, base_url, body, content_type).await?;
        Ok(Polled::Done(Box::new(credential)))
    }

    fn next_poll(&self, state: &str, interval_ms: u64) {
        if let Some(d) = lock(&self.devices).get_mut(state) {
            d.next_poll_ms = now_ms() + interval_ms;
        }
    }

    /// A credential from the vendor CLI's own file (or token) in `content`.
    pub async fn import(
        &self,
        provider: &dyn Provider,
        base_url: &str,
        content: &str,
    ) -> Result<OAuthCredential, LoginError> {
        let imported = provider
            .import_credential(content, now_ms())
            .ok_or_else(|| {
                LoginError::Unsupported(format!(
                    "provider kind `{}` imports no CLI credentials file",
                    provider.kind()
                ))
            })?
            .map_err(|e| LoginError::Invalid {
                field: "content",
                message: e.to_string(),
            })?;
        let mut credential = OAuthCredential::new(imported.tokens, imported.account);
        self.discover(provider, base_url, &mut credential).await?;
        Ok(credential)
    }
}
