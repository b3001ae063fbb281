//! ChatGPT subscriptions through the Codex CLI's OAuth client ("codex"),
//! as the fact sheet `oauth-providers.md` §5 and §9 describe them:
//!
//! - `GET /oauth/authorize` (with the Codex client id; other client ids
//!   are claudecode's): consent approved at once as the current login
//!   account; `302` to `redirect_uri?code=…&state=…` after checking
//!   `response_type=code`, S256 PKCE, `state`, `scope` and that
//!   `redirect_uri` is one the client registered (the CLI's
//!   `http://localhost:1455/auth/callback`, the device callback, and any
//!   added with [`crate::MockUpstream::codex_allow_redirect`]).
//! - `POST /oauth/token`, a form (the CLI, CLIProxyAPI) or JSON (gproxy
//!   v4; both are accepted upstream): `authorization_code` (single-use
//!   code, `redirect_uri` byte for byte, S256 of the verifier) answers
//!   `id_token` (claims: `email`, `https://api.openai.com/auth` with
//!   `chatgpt_account_id`, `chatgpt_plan_type`, `chatgpt_user_id`), a JWT
//!   `access_token` with `exp`, and a refresh token; `refresh_token`
//!   rotates: a spent one is 401 `refresh_token_reused` (the shape the
//!   CLI's `extract_refresh_token_error_code` reads), a revoked one 401
//!   `refresh_token_invalidated`, an unknown one 400 `invalid_grant`.
//! - Device flow: `POST /api/accounts/deviceauth/usercode` `{client_id}`
//!   and `/api/accounts/deviceauth/token` `{device_auth_id, user_code}`
//!   (403 pending until approved, 429 when polled faster than the
//!   interval), the approved code exchanged with
//!   `redirect_uri={issuer}/deviceauth/callback`.
//! - `POST /backend-api/codex/responses`: a live bearer (401
//!   `token_invalidated` / `token_expired`), `chatgpt-account-id` of that
//!   token's account (403 otherwise), `originator`; the body must have
//!   `instructions`, `store: false` and `stream: true` (400 `{"detail": …}`
//!   as the backend) and none of the parameters it refuses; an exhausted
//!   account is 429 `usage_limit_reached` with `resets_at`; a scripted
//!   failure streams `response.failed` after `response.created`; else the
//!   Responses mock's stream with the `x-codex-*` headers.
//! - `GET /backend-api/codex/models?client_version=…` (`{models: […]}`, with
//!   a hidden `codex-auto-review`), `GET /backend-api/wham/usage` (plan,
//!   primary/secondary windows, credits, a feature limit).

use std::collections::{HashMap, HashSet, VecDeque};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderValue, Response, StatusCode};
use serde_json::{Value, json};

use crate::body::MockBody;
use crate::claude_oauth::{found, oauth_error, percent_decode, percent_encode, s256};
use crate::fault::json_response;
use crate::server::{MockRequest, Reply, query_param, sse_named, sse_response, unix_now};
use crate::{Shared, lock};

/// The Codex CLI's client id.
pub const CLIENT_ID: &str = "app_EMoamEEZ73f0CkXaXp7hrann";

/// The redirect the CLI's local login server listens on.
pub const REDIRECT_URI: &str = "http://localhost:1455/auth/callback";

/// The interval (seconds) device polls must keep, unless set with
/// [`crate::MockUpstream::codex_set_device_interval`].
pub const DEVICE_INTERVAL: u64 = 1;

/// The 400 `detail` of a body without `instructions`.
pub const INSTRUCTIONS_REQUIRED: &str = "Instructions are required";

/// The 400 `detail` of a body that is not streamed.
pub const STREAM_REQUIRED: &str = "Stream must be set to true";

/// The 400 `detail` of a body with `store` not `false`.
pub const STORE_REQUIRED: &str = "Store must be set to false";

/// Request fields the mock backend refuses (400 "Unsupported parameter").
pub const REFUSED: &[&str] = &[
    "max_output_tokens",
    "temperature",
    "top_p",
    "metadata",
    "previous_response_id",
];

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

#[derive(Debug)]
struct Account {
    email: String,
    id: String,
    plan: String,
}

/// State of the codex endpoints.
#[derive(Debug)]
pub(crate) struct CodexState {
    expires_in: u64,
    device_interval: u64,
    next: u64,
    accounts: Vec<Account>,
    login_account: usize,
    redirects: Vec<String>,
    codes: HashMap<String, Pending>,
    devices: HashMap<String, Device>,
    /// Refresh token → (account, spent).
    refresh: HashMap<String, (usize, bool)>,
    /// Revoked refresh tokens.
    revoked: HashSet<String>,
    /// Access token → (account, exp).
    access: HashMap<String, (usize, u64)>,
    exhausted: HashMap<usize, u64>,
    /// `(code, message)` of the next Responses streams that fail.
    stream_failures: VecDeque<(String, String)>,
    exchanges: usize,
    refreshes: usize,
    reuses: usize,
    responses: usize,
}

impl Default for CodexState {
    fn default() -> Self {
        CodexState {
            expires_in: 10 * 86_400,
            device_interval: DEVICE_INTERVAL,
            next: 0,
            accounts: Vec::new(),
            login_account: 0,
            redirects: vec![REDIRECT_URI.to_owned()],
            codes: HashMap::new(),
            devices: HashMap::new(),
            refresh: HashMap::new(),
            revoked: HashSet::new(),
            access: HashMap::new(),
            exhausted: HashMap::new(),
            stream_failures: VecDeque::new(),
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
        if let Some(i) = self.accounts.iter().position(|a| a.email == email) {
            return i;
        }
        let n = self.accounts.len() + 1;
        self.accounts.push(Account {
            email: email.to_owned(),
            id: format!("acct-mock-{n:04}"),
            plan: "plus".into(),
        });
        self.accounts.len() - 1
    }

    fn issue(&mut self, account: usize) -> CodexTokens {
        self.next += 1;
        let a = &self.accounts[account];
        let (email, account_id, plan) = (a.email.clone(), a.id.clone(), a.plan.clone());
        let expires_at = unix_now() + self.expires_in;
        let auth = json!({"chatgpt_account_id": account_id, "chatgpt_plan_type": plan, "chatgpt_user_id": format!("user-mock-{account}")});
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

    /// When `account`'s usage resets, if it is used up now.
    fn exhausted_until(&self, account: usize, now: u64) -> Option<u64> {
        self.exhausted.get(&account).copied().filter(|r| *r > now)
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

    /// Makes `email` the account the next login approves (created on
    /// first use; the default is `user@example.com`).
    pub fn codex_login_as(&self, email: &str) {
        let mut state = lock(&self.shared.codex);
        let i = state.account(email);
        state.login_account = i;
    }

    /// Sets `email`'s plan (`chatgpt_plan_type`, default `plus`) for the
    /// tokens issued from now on and the usage answer.
    pub fn codex_set_plan(&self, email: &str, plan: &str) {
        let mut state = lock(&self.shared.codex);
        let i = state.account(email);
        state.accounts[i].plan = plan.to_owned();
    }

    /// The account id (`chatgpt_account_id`) of `email`.
    pub fn codex_account_id(&self, email: &str) -> String {
        let mut state = lock(&self.shared.codex);
        let i = state.account(email);
        state.accounts[i].id.clone()
    }

    /// Registers another `redirect_uri` the authorize call accepts.
    pub fn codex_allow_redirect(&self, redirect_uri: &str) {
        lock(&self.shared.codex)
            .redirects
            .push(redirect_uri.to_owned());
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

    /// `expires_in` (and the JWT `exp`) of the access tokens issued from
    /// now on (default ten days).
    pub fn codex_set_expires_in(&self, secs: u64) {
        lock(&self.shared.codex).expires_in = secs;
    }

    /// Expires `access_token` now (the backend answers 401 to it).
    pub fn codex_expire(&self, access_token: &str) {
        if let Some(entry) = lock(&self.shared.codex).access.get_mut(access_token) {
            entry.1 = 0;
        }
    }

    /// Expires every access token issued so far.
    pub fn codex_expire_all(&self) {
        for entry in lock(&self.shared.codex).access.values_mut() {
            entry.1 = 0;
        }
    }

    /// Revokes `refresh_token`: refreshing with it is 401
    /// `refresh_token_invalidated`.
    pub fn codex_revoke_refresh(&self, refresh_token: &str) {
        lock(&self.shared.codex)
            .revoked
            .insert(refresh_token.to_owned());
    }

    /// Uses up `email`'s usage until `reset_at` (Unix seconds).
    pub fn codex_exhaust(&self, email: &str, reset_at: u64) {
        let mut state = lock(&self.shared.codex);
        let i = state.account(email);
        state.exhausted.insert(i, reset_at);
    }

    /// The next Responses call that passes every check answers 200 and
    /// then fails inside the stream: `response.created`,
    /// `response.in_progress`, then `response.failed` with
    /// `response.error{type, code, message}`. Queued, one per call.
    pub fn codex_fail_next_stream(&self, code: &str, message: &str) {
        lock(&self.shared.codex)
            .stream_failures
            .push_back((code.to_owned(), message.to_owned()));
    }

    /// The poll interval the device flow answers and enforces (seconds).
    pub fn codex_set_device_interval(&self, secs: u64) {
        lock(&self.shared.codex).device_interval = secs;
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

    /// Successful code exchanges (browser and device).
    pub fn codex_exchanges(&self) -> usize {
        lock(&self.shared.codex).exchanges
    }

    /// Successful refreshes.
    pub fn codex_refreshes(&self) -> usize {
        lock(&self.shared.codex).refreshes
    }

    /// Refreshes that presented an already spent refresh token.
    pub fn codex_reuses(&self) -> usize {
        lock(&self.shared.codex).reuses
    }

    /// Responses calls that passed authentication and the body checks
    /// (served, exhausted or failed in the stream).
    pub fn codex_responses(&self) -> usize {
        lock(&self.shared.codex).responses
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
        param("code_challenge").filter(|c| !c.is_empty()),
        param("redirect_uri"),
        param("state").filter(|s| !s.is_empty()),
        param("scope").filter(|s| s.split(' ').any(|s| s == "openid")),
    ) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "code_challenge, redirect_uri, state and an openid scope are required",
        );
    };
    let mut state = lock(&shared.codex);
    let device_callback = format!(
        "http://{}/deviceauth/callback",
        req.header("host").unwrap_or_default()
    );
    if !state.redirects.contains(&redirect_uri) && redirect_uri != device_callback {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "redirect_uri is not registered for this client",
        );
    }
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

/// The fields of a token request: a form, or a JSON object.
fn token_fields(req: &MockRequest) -> Option<HashMap<String, String>> {
    let content_type = req.header("content-type").unwrap_or_default();
    if content_type.starts_with("application/x-www-form-urlencoded") {
        let form = std::str::from_utf8(&req.body).ok()?;
        return Some(
            form.split('&')
                .filter_map(|pair| pair.split_once('='))
                .map(|(k, v)| (percent_decode(k), percent_decode(v)))
                .collect(),
        );
    }
    if content_type.starts_with("application/json") {
        let Value::Object(obj) = req.json()? else {
            return None;
        };
        return Some(
            obj.into_iter()
                .filter_map(|(k, v)| Some((k, v.as_str()?.to_owned())))
                .collect(),
        );
    }
    None
}

/// The 401 a refresh token the server will not take again gets.
fn refresh_refused(code: &str, message: &str) -> Response<MockBody> {
    json_response(
        StatusCode::UNAUTHORIZED,
        &json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": code}}),
    )
}

/// `POST /oauth/token` (form or JSON).
pub(crate) fn token(shared: &Shared, req: &MockRequest) -> Response<MockBody> {
    let Some(fields) = token_fields(req) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "a form or JSON body is required",
        );
    };
    let field = |name: &str| fields.get(name).map(String::as_str);
    if field("client_id") != Some(CLIENT_ID) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "Unknown client");
    }
    let mut state = lock(&shared.codex);
    match field("grant_type") {
        Some("authorization_code") => {
            let Some(pending) = field("code").and_then(|c| state.codes.remove(c)) else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Invalid authorization code",
                );
            };
            if field("redirect_uri") != Some(pending.redirect_uri.as_str()) {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "redirect_uri mismatch",
                );
            }
            if s256(field("code_verifier").unwrap_or_default()) != pending.challenge {
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
            let refresh = field("refresh_token").unwrap_or_default().to_owned();
            if state.revoked.contains(&refresh) {
                return refresh_refused(
                    "refresh_token_invalidated",
                    "Your refresh token has been invalidated. Please try signing in again.",
                );
            }
            let account = match state.refresh.get_mut(&refresh) {
                Some((account, spent)) if !*spent => {
                    *spent = true;
                    *account
                }
                Some(_) => {
                    state.reuses += 1;
                    return refresh_refused(
                        "refresh_token_reused",
                        "Your refresh token has already been used to generate a new access token. Please try signing in again.",
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
    // The interval comes as a string, as the real endpoint sends it.
    json_response(
        StatusCode::OK,
        &json!({"device_auth_id": id, "user_code": user_code, "interval": state.device_interval.to_string()}),
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
    let interval = state.device_interval;
    let Some(device) = state.devices.get_mut(id).filter(|d| d.user_code == code) else {
        return json_response(
            StatusCode::NOT_FOUND,
            &json!({"error": "device_auth_not_found"}),
        );
    };
    if device.last_poll + interval > now {
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
            let expected = &state.accounts[*account].id;
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

/// The `x-codex-*` usage headers the backend sends with an answer.
fn usage_headers(response: &mut Response<MockBody>, plan: &str, used: u64, reset: u64, now: u64) {
    let headers = [
        ("x-codex-primary-used-percent", used.to_string()),
        ("x-codex-primary-window-minutes", "300".to_owned()),
        ("x-codex-primary-reset-at", reset.to_string()),
        (
            "x-codex-primary-reset-after-seconds",
            reset.saturating_sub(now).to_string(),
        ),
        ("x-codex-secondary-used-percent", "30".to_owned()),
        ("x-codex-secondary-window-minutes", "10080".to_owned()),
        ("x-codex-secondary-reset-at", (now + 86_400).to_string()),
        ("x-codex-secondary-reset-after-seconds", "86400".to_owned()),
        ("x-codex-credits-has-credits", "false".to_owned()),
        ("x-codex-credits-unlimited", "false".to_owned()),
        ("x-codex-plan-type", plan.to_owned()),
    ];
    for (name, value) in headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, value);
        }
    }
}

/// `POST /backend-api/codex/responses`.
pub(crate) fn responses(shared: &Shared, req: &MockRequest, reply: &Reply) -> Response<MockBody> {
    let account = match authenticate(shared, req) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    if req.header("originator").is_none_or(str::is_empty) {
        return codex_error(
            StatusCode::FORBIDDEN,
            "missing_originator",
            "originator header required",
        );
    }
    let body = req.json().unwrap_or(Value::Null);
    if !body.get("instructions").is_some_and(Value::is_string) {
        return detail(INSTRUCTIONS_REQUIRED);
    }
    if body.get("store") != Some(&Value::Bool(false)) {
        return detail(STORE_REQUIRED);
    }
    if body.get("stream") != Some(&Value::Bool(true)) {
        return detail(STREAM_REQUIRED);
    }
    for refused in REFUSED {
        if body.get(*refused).is_some() {
            return detail(&format!("Unsupported parameter: {refused}"));
        }
    }
    let now = unix_now();
    let mut state = lock(&shared.codex);
    state.responses += 1;
    let plan = state.accounts[account].plan.clone();
    if let Some(reset) = state.exhausted_until(account, now) {
        let mut response = json_response(
            StatusCode::TOO_MANY_REQUESTS,
            &json!({"error": {"type": "usage_limit_reached", "message": "The usage limit has been reached", "plan_type": plan, "resets_at": reset, "resets_in_seconds": reset - now}}),
        );
        usage_headers(&mut response, &plan, 100, reset, now);
        return response;
    }
    let failure = state.stream_failures.pop_front();
    drop(state);
    let mut response = match failure {
        Some((code, message)) => failed_stream(&body, reply, &code, &message),
        None => crate::openai::responses(req, reply),
    };
    if response.status().is_success() {
        usage_headers(&mut response, &plan, 12, now + 3600, now);
    }
    response
}

/// A 200 stream that fails after it started, as the backend sends a
/// failure it found late.
fn failed_stream(body: &Value, reply: &Reply, code: &str, message: &str) -> Response<MockBody> {
    let id = format!("resp_mock{:016x}", reply.id);
    let object = |status: &str, error: Value| {
        json!({
            "id": id, "object": "response", "created_at": unix_now(), "status": status,
            "error": error, "incomplete_details": null,
            "instructions": body.get("instructions").cloned().unwrap_or(Value::Null),
            "model": body.get("model").cloned().unwrap_or(Value::Null),
            "output": [], "parallel_tool_calls": true, "store": false, "usage": null,
        })
    };
    let error = json!({ "type": "invalid_request_error", "code": code, "message": message });
    let mut stream = MockBody::stream(reply.delay);
    let events = [
        (
            "response.created",
            json!({"type": "response.created", "sequence_number": 0, "response": object("in_progress", Value::Null)}),
        ),
        (
            "response.in_progress",
            json!({"type": "response.in_progress", "sequence_number": 1, "response": object("in_progress", Value::Null)}),
        ),
        (
            "response.failed",
            json!({"type": "response.failed", "sequence_number": 2, "response": object("failed", error)}),
        ),
    ];
    for (name, event) in events {
        stream.push(sse_named(name, &event), false);
    }
    sse_response(reply.finish(stream))
}

/// `GET /backend-api/codex/models`.
pub(crate) fn models(shared: &Shared, req: &MockRequest) -> Response<MockBody> {
    if let Err(r) = authenticate(shared, req) {
        return *r;
    }
    if req.query_param("client_version").is_none_or(str::is_empty) {
        return detail("client_version is required");
    }
    json_response(
        StatusCode::OK,
        &json!({"models": [
            {"slug": "gpt-5.5", "display_name": "GPT-5.5", "context_window": 272000, "visibility": "list",
             "supported_reasoning_levels": [{"effort": "low"}, {"effort": "medium"}, {"effort": "high"}],
             "default_reasoning_level": "medium", "supported_in_api": true},
            {"slug": "gpt-5.4-mini", "display_name": "GPT-5.4 mini", "context_window": 272000, "visibility": "list", "supported_in_api": true},
            {"slug": "codex-auto-review", "display_name": "Codex Auto Review", "context_window": 272000, "visibility": "hide", "supported_in_api": false}
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
    let (used, reset) = match state.exhausted_until(account, now) {
        Some(reset) => (100, reset),
        None => (12, now + 3600),
    };
    json_response(
        StatusCode::OK,
        &json!({
            "plan_type": state.accounts[account].plan,
            "rate_limit": {
                "primary_window": {"used_percent": used, "limit_window_seconds": 18000, "reset_after_seconds": reset - now, "reset_at": reset},
                "secondary_window": {"used_percent": 30, "limit_window_seconds": 604800, "reset_after_seconds": 86400, "reset_at": now + 86400}
            },
            "credits": {"has_credits": false, "unlimited": false, "balance": "0"},
            "additional_rate_limits": [{
                "limit_name": "mock_feature",
                "metered_feature": "mock_feature",
                "rate_limit": {
                    "primary_window": {"used_percent": 4, "limit_window_seconds": 18000, "reset_after_seconds": 7200, "reset_at": now + 7200}
                }
            }]
        }),
    )
}
