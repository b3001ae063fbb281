//! Claude subscriptions through the Claude Code OAuth client
//! ("claudecode"), as the fact sheet `oauth-providers.md` §4 and §9
//! describe them:
//!
//! - `GET /oauth/authorize`: the user's consent, approved at once as the
//!   mock's current login account; answers `302` to
//!   `redirect_uri?code=…&state=…` after checking `client_id`,
//!   `response_type=code`, `code_challenge_method=S256` and the presence of
//!   `code_challenge`, `state` and `scope`.
//! - `POST /v1/oauth/token` (JSON body; a `User-Agent` is required, the
//!   real endpoint answers Cloudflare 429s without one):
//!   - `authorization_code`: the code is single use, `redirect_uri` must
//!     match the authorize call byte for byte, and
//!     `BASE64URL(SHA256(code_verifier))` must equal the challenge. The
//!     answer carries `organization{uuid,name}` and
//!     `account{uuid,email_address}`.
//!   - `refresh_token`: `scope` is required (400 "Invalid request format"
//!     without it, as the real endpoint). The refresh token **rotates**: the
//!     old one is spent, presenting it again is `invalid_grant` "Refresh
//!     token not found or invalid" and is counted as a reuse.
//! - `GET /api/oauth/profile` and `GET /api/oauth/usage` (bearer; the usage
//!   endpoint also needs the `oauth-2025-04-20` beta).
//! - `POST /v1/messages` and `/v1/messages/count_tokens` with an
//!   `sk-ant-oat…` bearer: the `oauth-2025-04-20` beta is required (401
//!   "OAuth authentication is currently not supported." without it); an
//!   unknown token is 401 "Invalid authentication credentials", an expired
//!   one 401 "OAuth token has expired…"; a Messages call without the billing
//!   block as `system[0]` or without a JSON-string `metadata.user_id` is the
//!   400 "Third-party apps now draw from extra usage…"; an exhausted account
//!   is 429 `rate_limit_error` with the unified rate-limit headers and the
//!   reset time. Otherwise the call is served by the plain Messages mock,
//!   with the unified headers added.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderValue, Response, StatusCode, header};
use serde_json::{Value, json};

use crate::body::MockBody;
use crate::fault::{claude_error, json_response};
use crate::server::{MockRequest, Reply, query_param, unix_now};
use crate::{Shared, lock};

/// The Claude Code OAuth client id the mock accepts.
pub const CLIENT_ID: &str = "9d1c250a-e61b-44d9-88ed-5944d1962f5e";

/// The beta every OAuth call must carry.
pub const OAUTH_BETA: &str = "oauth-2025-04-20";

/// The prefix of the billing block that must be `system[0]`.
pub const BILLING_PREFIX: &str = "x-anthropic-billing-header:";

/// The 400 message of a request the billing classifier calls third-party.
pub const THIRD_PARTY_MESSAGE: &str = "Third-party apps now draw from extra usage, not plan limits. Claim your extra usage credit at claude.ai/settings/usage.";

/// The 401 message of an expired access token.
pub const EXPIRED_MESSAGE: &str =
    "OAuth token has expired. Please obtain a new token or refresh your existing token.";

/// A subscription account of the mock.
#[derive(Debug, Clone)]
pub struct ClaudeAccount {
    /// `account.uuid`.
    pub uuid: String,
    /// `account.email_address`.
    pub email: String,
    /// `organization.uuid`.
    pub org_uuid: String,
    /// `organization.name`.
    pub org_name: String,
}

/// A token pair the mock issued.
#[derive(Debug, Clone)]
pub struct ClaudeTokens {
    /// `sk-ant-oat01-…`.
    pub access_token: String,
    /// `sk-ant-ort01-…`.
    pub refresh_token: String,
    /// Seconds the access token lives.
    pub expires_in: u64,
    /// The account the pair belongs to.
    pub account: ClaudeAccount,
}

#[derive(Debug)]
struct PendingCode {
    challenge: String,
    redirect_uri: String,
    state: String,
    account: usize,
}

#[derive(Debug)]
struct RefreshEntry {
    account: usize,
    spent: bool,
}

#[derive(Debug)]
struct AccessEntry {
    account: usize,
    expires_at: u64,
}

/// State of the claudecode endpoints.
#[derive(Debug)]
pub(crate) struct ClaudeOAuthState {
    expires_in: u64,
    next: u64,
    accounts: Vec<ClaudeAccount>,
    login_account: usize,
    codes: HashMap<String, PendingCode>,
    refresh: HashMap<String, RefreshEntry>,
    access: HashMap<String, AccessEntry>,
    /// Account index → Unix time its 5-hour window resets.
    exhausted: HashMap<usize, u64>,
    exchanges: usize,
    refreshes: usize,
    reuses: usize,
}

impl Default for ClaudeOAuthState {
    fn default() -> Self {
        ClaudeOAuthState {
            expires_in: 28_800,
            next: 0,
            accounts: Vec::new(),
            login_account: 0,
            codes: HashMap::new(),
            refresh: HashMap::new(),
            access: HashMap::new(),
            exhausted: HashMap::new(),
            exchanges: 0,
            refreshes: 0,
            reuses: 0,
        }
    }
}

impl ClaudeOAuthState {
    /// The index of the account with `email`, created when new.
    fn account(&mut self, email: &str) -> usize {
        if let Some(i) = self.accounts.iter().position(|a| a.email == email) {
            return i;
        }
        let n = self.accounts.len() + 1;
        self.accounts.push(ClaudeAccount {
            uuid: format!("00000000-0000-4000-8000-{n:012}"),
            email: email.to_owned(),
            org_uuid: format!("00000000-0000-4000-9000-{n:012}"),
            org_name: format!("{email}'s Organization"),
        });
        self.accounts.len() - 1
    }

    /// A fresh token pair for `account`.
    fn issue(&mut self, account: usize) -> ClaudeTokens {
        self.next += 1;
        let access_token = format!("sk-ant-oat01-mock-{}", self.next);
        let refresh_token = format!("sk-ant-ort01-mock-{}", self.next);
        self.access.insert(
            access_token.clone(),
            AccessEntry {
                account,
                expires_at: unix_now() + self.expires_in,
            },
        );
        self.refresh.insert(
            refresh_token.clone(),
            RefreshEntry {
                account,
                spent: false,
            },
        );
        ClaudeTokens {
            access_token,
            refresh_token,
            expires_in: self.expires_in,
            account: self.accounts[account].clone(),
        }
    }

    /// The account of a live access token, or the 401 message.
    fn check_access(&self, token: &str) -> Result<usize, &'static str> {
        match self.access.get(token) {
            None => Err("Invalid authentication credentials"),
            Some(entry) if entry.expires_at <= unix_now() => Err(EXPIRED_MESSAGE),
            Some(entry) => Ok(entry.account),
        }
    }

    /// When `account`'s window resets, if it is used up now.
    fn exhausted_until(&self, account: usize) -> Option<u64> {
        self.exhausted
            .get(&account)
            .copied()
            .filter(|reset| *reset > unix_now())
    }
}

/// The claudecode handles of [`crate::MockUpstream`].
impl crate::MockUpstream {
    /// `{base}/oauth/authorize`.
    pub fn claude_authorize_url(&self) -> String {
        format!("{}/oauth/authorize", self.base_url())
    }

    /// `{base}/v1/oauth/token`.
    pub fn claude_token_url(&self) -> String {
        format!("{}/v1/oauth/token", self.base_url())
    }

    /// Makes `email` the account the next authorize call approves (created
    /// on first use; the default is `user@example.com`).
    pub fn claude_login_as(&self, email: &str) {
        let mut state = lock(&self.shared.claude_oauth);
        let i = state.account(email);
        state.login_account = i;
    }

    /// Issues a token pair for `email` directly, as if its owner had logged
    /// in with the real CLI (for import tests).
    pub fn claude_issue(&self, email: &str) -> ClaudeTokens {
        let mut state = lock(&self.shared.claude_oauth);
        let i = state.account(email);
        state.issue(i)
    }

    /// `expires_in` of the access tokens issued from now on (default 28800).
    pub fn claude_set_expires_in(&self, secs: u64) {
        lock(&self.shared.claude_oauth).expires_in = secs;
    }

    /// Expires `access_token` now: the next call presenting it gets the 401
    /// "OAuth token has expired".
    pub fn claude_expire(&self, access_token: &str) {
        if let Some(entry) = lock(&self.shared.claude_oauth).access.get_mut(access_token) {
            entry.expires_at = 0;
        }
    }

    /// Revokes `refresh_token`: refreshing with it is `invalid_grant`.
    pub fn claude_revoke_refresh(&self, refresh_token: &str) {
        lock(&self.shared.claude_oauth)
            .refresh
            .remove(refresh_token);
    }

    /// Uses up `email`'s 5-hour window until `reset_at` (Unix seconds):
    /// Messages calls get 429 with the unified headers until then.
    pub fn claude_exhaust(&self, email: &str, reset_at: u64) {
        let mut state = lock(&self.shared.claude_oauth);
        let i = state.account(email);
        state.exhausted.insert(i, reset_at);
    }

    /// Successful authorization-code exchanges.
    pub fn claude_exchanges(&self) -> usize {
        lock(&self.shared.claude_oauth).exchanges
    }

    /// Successful refreshes.
    pub fn claude_refreshes(&self) -> usize {
        lock(&self.shared.claude_oauth).refreshes
    }

    /// Refreshes that presented an already spent refresh token.
    pub fn claude_reuses(&self) -> usize {
        lock(&self.shared.claude_oauth).reuses
    }
}

/// Whether `req` is a claudecode call (an `sk-ant-oat` bearer).
pub(crate) fn is_oauth(req: &MockRequest) -> bool {
    req.bearer().is_some_and(|t| t.starts_with("sk-ant-oat"))
}

fn has_oauth_beta(req: &MockRequest) -> bool {
    req.headers
        .get_all("anthropic-beta")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|b| b.trim() == OAUTH_BETA)
}

/// An OAuth error answer (`{"error", "error_description"}`), shared by the
/// vendor mocks.
pub(crate) fn oauth_error(
    status: StatusCode,
    error: &str,
    description: &str,
) -> Response<MockBody> {
    json_response(
        status,
        &json!({ "error": error, "error_description": description }),
    )
}

/// A `302` to `location` (an authorize page's redirect back), shared by the
/// vendor mocks.
pub(crate) fn found(location: &str) -> Response<MockBody> {
    let mut response = Response::new(MockBody::full(Vec::new()));
    *response.status_mut() = StatusCode::FOUND;
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// `GET /oauth/authorize`.
pub(crate) fn authorize(shared: &Shared, req: &MockRequest) -> Response<MockBody> {
    let q = req.query.as_deref();
    let param = |name: &str| query_param(q, name).map(percent_decode);
    if param("client_id").as_deref() != Some(CLIENT_ID) {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_client", "Unknown client");
    }
    if param("response_type").as_deref() != Some("code") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_response_type",
            "response_type must be code",
        );
    }
    if param("code_challenge_method").as_deref() != Some("S256") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "code_challenge_method must be S256",
        );
    }
    let (Some(challenge), Some(redirect_uri), Some(state_value), Some(_scope)) = (
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
    let mut state = lock(&shared.claude_oauth);
    if state.accounts.is_empty() {
        state.account("user@example.com");
    }
    state.next += 1;
    let code = format!("mock-code-{}", state.next);
    let account = state.login_account;
    state.codes.insert(
        code.clone(),
        PendingCode {
            challenge,
            redirect_uri: redirect_uri.clone(),
            state: state_value.clone(),
            account,
        },
    );
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    let location = format!(
        "{redirect_uri}{separator}code={code}&state={}",
        percent_encode(&state_value)
    );
    found(&location)
}

/// `POST /v1/oauth/token`.
pub(crate) fn token(shared: &Shared, req: &MockRequest) -> Response<MockBody> {
    if req.header("user-agent").is_none_or(str::is_empty) {
        // What Cloudflare in front of the real endpoint does.
        return json_response(
            StatusCode::TOO_MANY_REQUESTS,
            &json!({ "error": "rate_limited", "error_description": "Too many requests" }),
        );
    }
    let json_body = req
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/json"));
    let Some(body @ Value::Object(_)) = req.json().filter(|_| json_body) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Invalid request format",
        );
    };
    let field = |name: &str| body.get(name).and_then(Value::as_str);
    if field("client_id") != Some(CLIENT_ID) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "Unknown client");
    }
    let mut state = lock(&shared.claude_oauth);
    match field("grant_type") {
        Some("authorization_code") => {
            let Some(code) = field("code") else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "Invalid request format",
                );
            };
            let Some(pending) = state.codes.remove(code) else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Invalid 'code' in request.",
                );
            };
            if field("redirect_uri") != Some(pending.redirect_uri.as_str()) {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "redirect_uri does not match the authorization request",
                );
            }
            if field("state").is_some_and(|s| s != pending.state) {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Invalid state");
            }
            let verifier = field("code_verifier").unwrap_or_default();
            if s256(verifier) != pending.challenge {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Invalid code_verifier",
                );
            }
            state.exchanges += 1;
            let tokens = state.issue(pending.account);
            let mut answer = token_answer(&tokens);
            answer["organization"] =
                json!({ "uuid": tokens.account.org_uuid, "name": tokens.account.org_name });
            answer["account"] =
                json!({ "uuid": tokens.account.uuid, "email_address": tokens.account.email });
            json_response(StatusCode::OK, &answer)
        }
        Some("refresh_token") => {
            let (Some(refresh), Some(_scope)) = (field("refresh_token"), field("scope")) else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "Invalid request format",
                );
            };
            let account = match state.refresh.get_mut(refresh) {
                Some(entry) if !entry.spent => {
                    entry.spent = true;
                    entry.account
                }
                Some(_) => {
                    state.reuses += 1;
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "Refresh token not found or invalid",
                    );
                }
                None => {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "Refresh token not found or invalid",
                    );
                }
            };
            state.refreshes += 1;
            let tokens = state.issue(account);
            let mut answer = token_answer(&tokens);
            answer["refresh_token_expires_in"] = json!(2_592_000);
            json_response(StatusCode::OK, &answer)
        }
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be authorization_code or refresh_token",
        ),
    }
}

fn token_answer(tokens: &ClaudeTokens) -> Value {
    json!({
        "token_type": "Bearer",
        "access_token": tokens.access_token,
        "refresh_token": tokens.refresh_token,
        "expires_in": tokens.expires_in,
        "scope": "user:inference user:mcp_servers user:profile user:sessions:claude_code user:file_upload",
    })
}

/// The account behind the request's bearer, or the Anthropic 401 message.
fn authenticate(shared: &Shared, req: &MockRequest) -> Result<usize, &'static str> {
    let token = req.bearer().unwrap_or_default();
    lock(&shared.claude_oauth).check_access(token)
}

/// The Anthropic 401 `authentication_error`.
fn unauthorized(message: &str, reply: &Reply) -> Response<MockBody> {
    claude_error(
        StatusCode::UNAUTHORIZED,
        "authentication_error",
        message,
        reply.id,
    )
}

/// `GET /api/oauth/profile`.
pub(crate) fn profile(shared: &Shared, req: &MockRequest, reply: &Reply) -> Response<MockBody> {
    let account = match authenticate(shared, req) {
        Ok(account) => account,
        Err(message) => return unauthorized(message, reply),
    };
    let a = lock(&shared.claude_oauth).accounts[account].clone();
    json_response(
        StatusCode::OK,
        &json!({
            "account": { "uuid": a.uuid, "email": a.email, "full_name": "Mock User" },
            "organization": {
                "uuid": a.org_uuid,
                "name": a.org_name,
                "organization_type": "claude_max",
                "rate_limit_tier": "default_claude_max_20x",
                "billing_type": "stripe_subscription",
                "has_extra_usage_enabled": false
            }
        }),
    )
}

/// `GET /api/oauth/usage`.
pub(crate) fn usage(shared: &Shared, req: &MockRequest, reply: &Reply) -> Response<MockBody> {
    let account = match authenticate(shared, req) {
        Ok(account) => account,
        Err(message) => return unauthorized(message, reply),
    };
    if !has_oauth_beta(req) {
        return not_supported(reply);
    }
    let now = unix_now();
    let state = lock(&shared.claude_oauth);
    let (five, five_reset) = match state.exhausted_until(account) {
        Some(reset) => (100.0, reset),
        None => (12.0, now + 3600),
    };
    json_response(
        StatusCode::OK,
        &json!({
            "five_hour": { "utilization": five, "resets_at": iso8601(five_reset) },
            "seven_day": { "utilization": 34.0, "resets_at": iso8601(now + 3 * 86_400) },
            "seven_day_opus": null,
            "seven_day_sonnet": { "utilization": 20.0, "resets_at": iso8601(now + 3 * 86_400) },
            "seven_day_oauth_apps": null
        }),
    )
}

/// `GET /v1/models` with an OAuth bearer (the beta required).
pub(crate) fn models(shared: &Shared, req: &MockRequest, reply: &Reply) -> Response<MockBody> {
    if !has_oauth_beta(req) {
        return not_supported(reply);
    }
    if let Err(message) = authenticate(shared, req) {
        return unauthorized(message, reply);
    }
    json_response(StatusCode::OK, &crate::claude::model_list())
}

fn not_supported(reply: &Reply) -> Response<MockBody> {
    unauthorized("OAuth authentication is currently not supported.", reply)
}

/// `POST /v1/messages` or `/v1/messages/count_tokens` with an OAuth bearer.
pub(crate) fn messages(
    shared: &Shared,
    req: &MockRequest,
    reply: &Reply,
    count: bool,
) -> Response<MockBody> {
    if !has_oauth_beta(req) {
        return not_supported(reply);
    }
    let account = match authenticate(shared, req) {
        Ok(account) => account,
        Err(message) => return unauthorized(message, reply),
    };
    if !count {
        let body = req.json().unwrap_or(Value::Null);
        let billed = body
            .get("system")
            .and_then(|s| s.get(0))
            .and_then(|b| b.get("text"))
            .and_then(Value::as_str)
            .is_some_and(|t| t.starts_with(BILLING_PREFIX));
        let user_id = body
            .pointer("/metadata/user_id")
            .and_then(Value::as_str)
            .and_then(|s| serde_json::from_str::<Value>(s).ok())
            .is_some_and(|v| v["device_id"].is_string() && v["session_id"].is_string());
        if !billed || !user_id {
            return claude_error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                THIRD_PARTY_MESSAGE,
                reply.id,
            );
        }
    }
    let exhausted = lock(&shared.claude_oauth).exhausted_until(account);
    if let Some(reset) = exhausted {
        let mut response = claude_error(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_error",
            "This request would exceed your account's rate limit. Please try again later.",
            reply.id,
        );
        let retry = reset.saturating_sub(unix_now());
        unified_headers(&mut response, "rejected", 1.0, reset);
        insert(&mut response, "retry-after", &retry.to_string());
        return response;
    }
    let mut response = if count {
        crate::count::claude(req, reply)
    } else {
        crate::claude::messages(req, reply)
    };
    if response.status().is_success() {
        unified_headers(&mut response, "allowed", 0.12, unix_now() + 3600);
    }
    response
}

fn unified_headers(response: &mut Response<MockBody>, status: &str, used: f64, reset: u64) {
    insert(response, "anthropic-ratelimit-unified-status", status);
    insert(response, "anthropic-ratelimit-unified-5h-status", status);
    insert(
        response,
        "anthropic-ratelimit-unified-5h-utilization",
        &used.to_string(),
    );
    insert(
        response,
        "anthropic-ratelimit-unified-5h-reset",
        &reset.to_string(),
    );
    insert(
        response,
        "anthropic-ratelimit-unified-reset",
        &reset.to_string(),
    );
}

fn insert(response: &mut Response<MockBody>, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
}

/// `BASE64URL(SHA256(verifier))`, the S256 code challenge.
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        verifier.as_bytes(),
    ))
}

/// Decodes `%XX` escapes and `+` (query strings).
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Escapes everything but unreserved characters.
pub(crate) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `YYYY-MM-DDTHH:MM:SSZ` of Unix seconds.
pub(crate) fn iso8601(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil from days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_is_base64url_of_sha256() {
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r7wW1gFWXeEjXk"),
            // Python: urlsafe_b64encode(sha256(v)).rstrip("=")
            "yvzSpAiOeSC268wp-gFPDFCTHcuT7cH8kAtbEHVj-Ek"
        );
    }

    #[test]
    fn percent_round_trip() {
        assert_eq!(
            percent_decode(&percent_encode("a b/c?d=e&f")),
            "a b/c?d=e&f"
        );
        assert_eq!(percent_decode("http%3A%2F%2Fx"), "http://x");
    }

    #[test]
    fn iso8601_formats_unix_seconds() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}
