//! ChatGPT subscriptions through the Codex CLI's OAuth client ("codex"),
//! as the fact sheet `oauth-providers.md` §5 and §9 describe them:
//!
//! - `GET /oauth/authorize` (with the Codex client id; other client ids
//!   are claudecode's): consent approved at once as the current login
//!   account; `302` to `redirect_uri?code=…&state=…` after checking
//!   `response_type=code`, S256 PKCE, `state`, `scope`.
//! - `POST /oauth/token` (form): `authorization_code` (single-use code,
//!   `redirect_uri` byte for byte, S256 of the verifier) answers
//!   `id_token` (claims: `email`, `https://api.openai.com/auth` with
//!   `chatgpt_account_id` and `chatgpt_plan_type`), a JWT `access_token`
//!   with `exp`, and a refresh token; `refresh_token` rotates: a spent one
//!   is 401 `refresh_token_reused`, an unknown one 400 `invalid_grant`.
//! - Device flow: `POST /api/accounts/deviceauth/usercode` and
//!   `/api/accounts/deviceauth/token` (403 pending until approved, 429 when
//!   polled faster than the interval), the approved code exchanged with
//!   `redirect_uri={issuer}/deviceauth/callback`.
//! - `POST /backend-api/codex/responses`: a live bearer (401
//!   `token_invalidated` / expired), `chatgpt-account-id` of that token's
//!   account, `originator`; the body must have `instructions`, `store:
//!   false` and `stream: true` (400 `{"detail": …}` as the backend); an
//!   exhausted account is 429 `usage_limit_reached` with `resets_at`; else
//!   the Responses mock's stream with the `x-codex-*` headers.
//! - `GET /backend-api/codex/models`, `GET /backend-api/wham/usage`.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderValue, Response, StatusCode};
use serde_json::{Value, json};

use crate::body::MockBody;
use crate::claude_oauth::{found, oauth_error, percent_decode, percent_encode, s256};
use crate::fault::json_response;
use crate::server::{MockRequest, Reply, query_param, unix_now};
use crate::{Shared, lock};

/// The Codex CLI's client id.
pub const CLIENT_ID: &str = "app_EMoamEEZ73f0CkXaXp7hrann";

/// The interval (seconds) device polls must keep.
pub const DEVICE_INTERVAL: u64 = 1;

/// A token pair the mock issued.
#[derive(Debug, Clone)]
pub struct CodexTokens {
    /// A JWT with `exp`.
    pub access_token: String,
    /// Single use.
    pub refresh_token: String,
    /// A JWT with the account's claims.
    pub id_token: String,
    /// The account id (`chatgpt_account_id`).
    pub account_id: String,
    /// `exp` of the access token (Unix seconds).
    pub expires_at: u64,
}

#[derive(Debug)]
struct Pending {
    challenge: String,
    redirect_uri: String,
    account: usize,
}

#[derive(Debug)]
struct Device {
    user_code: String,
    approved: bool,
    last_poll: u64,
    account: usize,
}

/// State of the codex endpoints.
#[derive(Debug)]
pub(crate) struct CodexState {
    expires_in: u64,
    next: u64,
    /// (email, account id, plan).
    accounts: Vec<(String, String, String)>,
    login_account: usize,
    codes: HashMap<String, Pending>,
    devices: HashMap<String, Device>,
    refresh: HashMap<String, (usize, bool)>,
    access: HashMap<String, (usize, u64)>,
    exhausted: HashMap<usize, u64>,
    exchanges: usize,
    refreshes: usize,
    reuses: usize,
    responses: usize,
}

impl Default for CodexState {
    fn default() -> Self {
        CodexState {
            expires_in: 10 * 86_400,
            next: 0,
            accounts: Vec::new(),
            login_account: 0,
            codes: HashMap::new(),
            devices: HashMap::new(),
            refresh: HashMap::new(),
            access: HashMap::new(),
            exhausted: HashMap::new(),
            exchanges: 0,
            refreshes: 0,
            reuses: 0,
            responses: 0,
        }
    }
}

fn jwt(claims: &Value) -> String {
    format!(
        "{}.{}.mock-signature",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

impl CodexState {
    fn account(&mut self, email: &str) -> usize {
        if let Some(i) = self.accounts.iter().position(|a| a.0 == email) {
            return i;
        }
        let n = self.accounts.len() + 1;
        self.accounts
            .push((email.to_owned(), format!("acct-mock-{n:04}"), "plus".into()));
        self.accounts.len() - 1
    }

    fn issue(&mut self, account: usize) -> CodexTokens {
        self.next += 1;
        let (email, account_id, plan) = self.accounts[account].clone();
        let expires_at = unix_now() + self.expires_in;
        let auth = json!({"chatgpt_account_id": account_id, "chatgpt_plan_type": plan, "chatgpt_user_id": format!("user-{account}")});
        let access_token = jwt(&json!({
            "exp": expires_at, "jti": format!("at-{}", self.next),
            "https://api.openai.com/auth": auth,
        }));
        let id_token = jwt(&json!({
            "email": email, "exp": expires_at,
            "https://api.openai.com/auth": auth,
        }));
        let refresh_token = format!("rt_mock_{}", self.next);
        self.access
            .insert(access_token.clone(), (account, expires_at));
        self.refresh.insert(refresh_token.clone(), (account, false));
        CodexTokens {
            access_token,
            refresh_token,
            id_token,
            account_id,
            expires_at,
        }
    }

    fn answer(&self, t: &CodexTokens) -> Value {
        json!({
            "id_token": t.id_token,
            "access_token": t.access_token,
            "refresh_token": t.refresh_token,
            "expires_in": self.expires_in,
            "token_type": "Bearer",
        })
    }
}

/// The codex handles of [`crate::MockUpstream`].
impl crate::MockUpstream {
    /// The issuer (`{base}`): authorize, token and device endpoints live
    /// under it.
    pub fn codex_issuer(&self) -> String {
        self.base_url()
    }

    /// The Codex backend's base URL (`{base}/backend-api/codex`).
    pub fn codex_base_url(&self) -> String {
        format!("{}/backend-api/codex", self.base_url())
    }

    /// Makes `email` the account the next login approves.
    pub fn codex_login_as(&self, email: &str) {
        let mut state = lock(&self.shared.codex);
        let i = state.account(email);
        state.login_account = i;
    }

    /// Issues a token pair for `email` (as if logged in with the CLI).
    pub fn codex_issue(&self, email: &str) -> CodexTokens {
        let mut state = lock(&self.shared.codex);
        let i = state.account(email);
        state.issue(i)
    }

    /// Codex's `~/.codex/auth.json` for a pair.
    pub fn codex_auth_json(tokens: &CodexTokens) -> String {
        json!({
            "OPENAI_API_KEY": null,
            "tokens": {
                "id_token": tokens.id_token,
                "access_token": tokens.access_token,
                "refresh_token": tokens.refresh_token,
                "account_id": tokens.account_id,
            },
            "last_refresh": "2026-12-01T00:00:00Z",
        })
        .to_string()
    }

    /// Expires `access_token` now (the backend answers 401 to it).
    pub fn codex_expire(&self, access_token: &str) {
        if let Some(entry) = lock(&self.shared.codex).access.get_mut(access_token) {
            entry.1 = 0;
        }
    }

    /// Uses up `email`'s usage until `reset_at` (Unix seconds).
    pub fn codex_exhaust(&self, email: &str, reset_at: u64) {
        let mut state = lock(&self.shared.codex);
        let i = state.account(email);
        state.exhausted.insert(i, reset_at);
    }

    /// Approves the pending device code `user_code` as `email`.
    pub fn codex_approve_device(&self, user_code: &str, email: &str) -> bool {
        let mut state = lock(&self.shared.codex);
        let account = state.account(email);
        match state
            .devices
            .values_mut()
            .find(|d| d.user_code == user_code)
        {
            Some(d) => {
                d.approved = true;
                d.account = account;
                true
            }
            None => false,
        }
    }

    /// Code exchanges, refreshes, refresh-token reuses and Responses calls.
    pub fn codex_counts(&self) -> (usize, usize, usize, usize) {
        let s = lock(&self.shared.codex);
        (s.exchanges, s.refreshes, s.reuses, s.responses)
    }
}

/// Whether an authorize call is Codex's (by its client id).
pub(crate) fn is_codex_authorize(req: &MockRequest) -> bool {
    query_param(req.query.as_deref(), "client_id").is_some_and(|c| c == CLIENT_ID)
}

/// `GET /oauth/authorize`.
pub(crate) fn authorize(shared: &Shared, req: &MockRequest) -> Response<MockBody> {
    let q = req.query.as_deref();
    let param = |name: &str| query_param(q, name).map(percent_decode);
    if param("response_type").as_deref() != Some("code")
        || param("code_challenge_method").as_deref() != Some("S256")
    {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "response_type=code and S256 PKCE are required",
        );
    }
    let (Some(challenge), Some(redirect_uri), Some(state_value), Some(_)) = (
        param("code_challenge"),
        param("redirect_uri"),
        param("state"),
        param("scope"),
    ) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "code_challenge, redirect_uri, state and scope are required",
        );
    };
    let mut state = lock(&shared.codex);
    if state.accounts.is_empty() {
        state.account("user@example.com");
    }
    state.next += 1;
    let code = format!("ac_mock_{}", state.next);
    let account = state.login_account;
    state.codes.insert(
        code.clone(),
        Pending {
            challenge,
            redirect_uri: redirect_uri.clone(),
            account,
        },
    );
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    let location = format!(
        "{redirect_uri}{sep}code={code}&scope=openid&state={}",
        percent_encode(&state_value)
    );
    found(&location)
}

/// `POST /oauth/token` (form).
pub(crate) fn token(shared: &Shared, req: &MockRequest) -> Response<MockBody> {
    let form = String::from_utf8_lossy(&req.body).into_owned();
    let field = |name: &str| query_param(Some(&form), name).map(percent_decode);
    if !req
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"))
    {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "form body required",
        );
    }
    if field("client_id").as_deref() != Some(CLIENT_ID) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "Unknown client");
    }
    let mut state = lock(&shared.codex);
    match field("grant_type").as_deref() {
        Some("authorization_code") => {
            let Some(pending) = field("code").and_then(|c| state.codes.remove(&c)) else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Invalid authorization code",
                );
            };
            if field("redirect_uri").as_deref() != Some(pending.redirect_uri.as_str()) {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "redirect_uri mismatch",
                );
            }
            if s256(&field("code_verifier").unwrap_or_default()) != pending.challenge {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Invalid code_verifier",
                );
            }
            state.exchanges += 1;
            let tokens = state.issue(pending.account);
            let answer = state.answer(&tokens);
            json_response(StatusCode::OK, &answer)
        }
        Some("refresh_token") => {
            let refresh = field("refresh_token").unwrap_or_default();
            let account = match state.refresh.get_mut(&refresh) {
                Some((account, spent)) if !*spent => {
                    *spent = true;
                    *account
                }
                Some(_) => {
                    state.reuses += 1;
                    return json_response(
                        StatusCode::UNAUTHORIZED,
                        &json!({"error": {"message": "Your refresh token has already been used to generate a new access token. Please try signing in again.", "type": "invalid_request_error", "param": null, "code": "refresh_token_reused"}}),
                    );
                }
                None => {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "Invalid refresh token",
                    );
                }
            };
            state.refreshes += 1;
            let tokens = state.issue(account);
            let answer = state.answer(&tokens);
            json_response(StatusCode::OK, &answer)
        }
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "unsupported grant_type",
        ),
    }
}

/// `POST /api/accounts/deviceauth/usercode`.
pub(crate) fn device_usercode(shared: &Shared, req: &MockRequest) -> Response<MockBody> {
    let body = req.json().unwrap_or(Value::Null);
    if body.get("client_id").and_then(Value::as_str) != Some(CLIENT_ID) {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_client", "Unknown client");
    }
    let mut state = lock(&shared.codex);
    state.next += 1;
    let id = format!("deviceauth_mock_{}", state.next);
    let user_code = format!("MOCK-{:04}", state.next);
    state.devices.insert(
        id.clone(),
        Device {
            user_code: user_code.clone(),
            approved: false,
            last_poll: 0,
            account: 0,
        },
    );
    json_response(
        StatusCode::OK,
        &json!({"device_auth_id": id, "user_code": user_code, "interval": DEVICE_INTERVAL.to_string()}),
    )
}

/// `POST /api/accounts/deviceauth/token`.
pub(crate) fn device_token(shared: &Shared, req: &MockRequest) -> Response<MockBody> {
    let body = req.json().unwrap_or(Value::Null);
    let id = body
        .get("device_auth_id")
        .and_then(Value::as_str)
        .unwrap_or("");
    let code = body.get("user_code").and_then(Value::as_str).unwrap_or("");
    let now = unix_now();
    let mut state = lock(&shared.codex);
    let Some(device) = state.devices.get_mut(id).filter(|d| d.user_code == code) else {
        return json_response(
            StatusCode::NOT_FOUND,
            &json!({"error": "device_auth_not_found"}),
        );
    };
    if device.last_poll + DEVICE_INTERVAL > now {
        return json_response(
            StatusCode::TOO_MANY_REQUESTS,
            &json!({"error": "slow_down"}),
        );
    }
    device.last_poll = now;
    if !device.approved {
        return json_response(
            StatusCode::FORBIDDEN,
            &json!({"error": "authorization_pending"}),
        );
    }
    let account = device.account;
    state.devices.remove(id);
    // The approved code: exchanged like a browser login's.
    let verifier = format!("mock-verifier-{}", state.next);
    state.next += 1;
    let auth_code = format!("ac_device_{}", state.next);
    state.codes.insert(
        auth_code.clone(),
        Pending {
            challenge: s256(&verifier),
            redirect_uri: format!(
                "http://{}/deviceauth/callback",
                req.header("host").unwrap_or("")
            ),
            account,
        },
    );
    json_response(
        StatusCode::OK,
        &json!({"authorization_code": auth_code, "code_verifier": verifier, "code_challenge": s256(&verifier)}),
    )
}

fn codex_error(status: StatusCode, code: &str, message: &str) -> Response<MockBody> {
    json_response(
        status,
        &json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": code}}),
    )
}

fn detail(message: &str) -> Response<MockBody> {
    json_response(StatusCode::BAD_REQUEST, &json!({ "detail": message }))
}

/// The account of the request's live bearer, or the 401.
fn authenticate(shared: &Shared, req: &MockRequest) -> Result<usize, Box<Response<MockBody>>> {
    let token = req.bearer().unwrap_or_default();
    let state = lock(&shared.codex);
    match state.access.get(token) {
        None => Err(Box::new(codex_error(
            StatusCode::UNAUTHORIZED,
            "token_invalidated",
            "Your authentication token has been invalidated. Please try signing in again.",
        ))),
        Some((_, exp)) if *exp <= unix_now() => Err(Box::new(codex_error(
            StatusCode::UNAUTHORIZED,
            "token_expired",
            "Provided authentication token is expired. Please try signing in again.",
        ))),
        Some((account, _)) => {
            let expected = &state.accounts[*account].1;
            if req.header("chatgpt-account-id") != Some(expected.as_str()) {
                return Err(Box::new(codex_error(
                    StatusCode::FORBIDDEN,
                    "account_mismatch",
                    "chatgpt-account-id does not match the token's account",
                )));
            }
            Ok(*account)
        }
    }
}

/// `POST /backend-api/codex/responses`.
pub(crate) fn responses(shared: &Shared, req: &MockRequest, reply: &Reply) -> Response<MockBody> {
    let account = match authenticate(shared, req) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    if req.header("originator").is_none() {
        return codex_error(
            StatusCode::FORBIDDEN,
            "missing_originator",
            "originator header required",
        );
    }
    let body = req.json().unwrap_or(Value::Null);
    if !body.get("instructions").is_some_and(Value::is_string) {
        return detail("Instructions are required");
    }
    if body.get("store") != Some(&Value::Bool(false)) {
        return detail("Store must be set to false");
    }
    if body.get("stream") != Some(&Value::Bool(true)) {
        return detail("Stream must be set to true");
    }
    for refused in [
        "max_output_tokens",
        "temperature",
        "top_p",
        "metadata",
        "previous_response_id",
    ] {
        if body.get(refused).is_some() {
            return detail(&format!("Unsupported parameter: {refused}"));
        }
    }
    let now = unix_now();
    let mut state = lock(&shared.codex);
    state.responses += 1;
    if let Some(reset) = state.exhausted.get(&account).copied().filter(|r| *r > now) {
        return json_response(
            StatusCode::TOO_MANY_REQUESTS,
            &json!({"error": {"type": "usage_limit_reached", "message": "The usage limit has been reached", "plan_type": "plus", "resets_at": reset, "resets_in_seconds": reset - now}}),
        );
    }
    drop(state);
    let mut response = crate::openai::responses(req, reply);
    for (name, value) in [
        ("x-codex-primary-used-percent", "12"),
        ("x-codex-primary-window-minutes", "300"),
        ("x-codex-plan-type", "plus"),
    ] {
        response
            .headers_mut()
            .insert(name, HeaderValue::from_static(value));
    }
    response
}

/// `GET /backend-api/codex/models`.
pub(crate) fn models(shared: &Shared, req: &MockRequest) -> Response<MockBody> {
    if let Err(r) = authenticate(shared, req) {
        return *r;
    }
    if req.query_param("client_version").is_none() {
        return detail("client_version is required");
    }
    json_response(
        StatusCode::OK,
        &json!({"models": [
            {"slug": "gpt-5.5", "display_name": "GPT-5.5", "context_window": 272000, "supported_in_api": true},
            {"slug": "gpt-5.4-mini", "display_name": "GPT-5.4 mini", "context_window": 272000, "supported_in_api": true}
        ]}),
    )
}

/// `GET /backend-api/wham/usage`.
pub(crate) fn usage(shared: &Shared, req: &MockRequest) -> Response<MockBody> {
    let account = match authenticate(shared, req) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let now = unix_now();
    let state = lock(&shared.codex);
    let (used, reset) = match state.exhausted.get(&account).copied().filter(|r| *r > now) {
        Some(reset) => (100, reset),
        None => (12, now + 3600),
    };
    json_response(
        StatusCode::OK,
        &json!({
            "plan_type": state.accounts[account].2,
            "rate_limit": {
                "primary_window": {"used_percent": used, "limit_window_seconds": 18000, "reset_after_seconds": reset - now, "reset_at": reset},
                "secondary_window": {"used_percent": 30, "limit_window_seconds": 604800, "reset_after_seconds": 86400, "reset_at": now + 86400}
            },
            "credits": {"has_credits": false, "unlimited": false, "balance": "0"}
        }),
    )
}
