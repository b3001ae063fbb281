//! Google Code Assist behind Google's OAuth, as Gemini CLI ("geminicli")
//! and Antigravity use it (fact sheet `oauth-providers.md` §1–§3, §9).
//!
//! Google OAuth (installed-app clients of both tools, their real public
//! client ids and secrets):
//! - `GET /o/oauth2/v2/auth` (also `/o/oauth2/auth`): the user's consent,
//!   approved at once as the mock's current login account; `302` to
//!   `redirect_uri?code=…&state=…` after checking `client_id`,
//!   `response_type=code`, the `redirect_uri` registered for the client
//!   (loopback any port, and geminicli's `https://codeassist.google.com/authcode`),
//!   a `scope` with `cloud-platform`, and `code_challenge_method` `S256`
//!   or `plain` when a challenge is sent. A refresh token is issued only
//!   with `access_type=offline`, and only on the first consent of the
//!   account to the client unless `prompt=consent` (as Google does).
//! - `POST /token` (form) with `grant_type=authorization_code` or
//!   `refresh_token` (`jwt-bearer` stays with [`crate::oauth`]): the
//!   client secret is required (`invalid_client` 401 when wrong), the code
//!   is single use and bound to its client and `redirect_uri`, the PKCE
//!   verifier must match; a refresh does **not** rotate and answers
//!   without `refresh_token`; an unknown or revoked refresh token is 400
//!   `invalid_grant` "Token has been expired or revoked.".
//! - `GET /oauth2/v1/userinfo`, `/oauth2/v2/userinfo`: `{id, email, …}`.
//!
//! Code Assist (`/v1internal:{method}`, bearer of a token issued above,
//! else 401 `UNAUTHENTICATED` in Google's shape) is in [`v1internal`].

mod v1internal;

use std::collections::{HashMap, HashSet};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{Response, StatusCode};
use serde_json::{Value, json};

use crate::body::MockBody;
use crate::claude_oauth::{found, oauth_error, percent_decode, percent_encode, s256};
use crate::fault::{gemini_error, json_response};
use crate::server::{MockRequest, Reply, query_param, unix_now};
use crate::{MockUpstream, Shared, lock};

pub(crate) use v1internal::method;

/// Gemini CLI's OAuth client id.
pub const GEMINICLI_CLIENT_ID: &str =
    "681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com";
/// Gemini CLI's installed-app client secret.
pub const GEMINICLI_CLIENT_SECRET: &str = "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";
/// Antigravity's OAuth client id.
pub const ANTIGRAVITY_CLIENT_ID: &str =
    "1071006060591-tmhssin2h21lcre235vtolojh4g403ep.apps.googleusercontent.com";
/// Antigravity's installed-app client secret.
pub const ANTIGRAVITY_CLIENT_SECRET: &str = "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";
/// Gemini CLI's paste-the-code redirect.
pub const GEMINICLI_AUTHCODE_REDIRECT: &str = "https://codeassist.google.com/authcode";
/// The scope every Code Assist login needs.
pub const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
/// Google's 401 message for a missing or bad access token.
pub const UNAUTHENTICATED_MESSAGE: &str = "Request had invalid authentication credentials. \
Expected OAuth 2 access token, login cookie or other valid authentication credential. \
See https://developers.google.com/identity/sign-in/web/devconsole-project.";
/// The 403 message of an account disabled for its use.
pub const TOS_MESSAGE: &str = "This service has been disabled in this account for violation of \
Terms of Service. If you believe this is an error, contact gemini-code-assist-user-feedback@google.com.";

/// The tool a token was issued to (from its OAuth client).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CodeAssistClient {
    /// Gemini CLI: Code Assist calls must carry a `GeminiCLI…` user agent.
    GeminiCli,
    /// Antigravity: an `antigravity…` user agent.
    Antigravity,
}

impl CodeAssistClient {
    /// The OAuth client id.
    pub fn client_id(self) -> &'static str {
        match self {
            CodeAssistClient::GeminiCli => GEMINICLI_CLIENT_ID,
            CodeAssistClient::Antigravity => ANTIGRAVITY_CLIENT_ID,
        }
    }

    /// The client secret.
    pub fn client_secret(self) -> &'static str {
        match self {
            CodeAssistClient::GeminiCli => GEMINICLI_CLIENT_SECRET,
            CodeAssistClient::Antigravity => ANTIGRAVITY_CLIENT_SECRET,
        }
    }

    /// The user-agent prefix Code Assist calls of this client must carry.
    pub fn user_agent_prefix(self) -> &'static str {
        match self {
            CodeAssistClient::GeminiCli => "GeminiCLI",
            CodeAssistClient::Antigravity => "antigravity",
        }
    }

    fn from_client_id(id: &str) -> Option<Self> {
        [CodeAssistClient::GeminiCli, CodeAssistClient::Antigravity]
            .into_iter()
            .find(|c| c.client_id() == id)
    }

    /// Whether `redirect_uri` is registered for this client: any loopback
    /// `http://127.0.0.1` / `http://localhost` port, and Gemini CLI's
    /// paste page.
    fn allows_redirect(self, redirect_uri: &str) -> bool {
        let loopback = ["http://127.0.0.1:", "http://localhost:", "http://[::1]:"]
            .iter()
            .any(|p| redirect_uri.starts_with(p));
        loopback
            || (self == CodeAssistClient::GeminiCli && redirect_uri == GEMINICLI_AUTHCODE_REDIRECT)
    }
}

/// How `loadCodeAssist` answers for an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectMode {
    /// The account has a current tier and this project.
    Assigned(String),
    /// No project yet: `allowedTiers` offers `tier` (default), and
    /// `onboardUser` answers `done:false` `polls` times before it is done
    /// and the account has a project.
    Onboard {
        /// The tier to onboard (`free-tier`, `standard-tier`, `legacy-tier`).
        tier: String,
        /// Calls (posts and operation polls) answered `done:false` first.
        polls: usize,
    },
    /// The account may not use Code Assist: `ineligibleTiers` with this
    /// reason (`UNSUPPORTED_CLIENT`, `INELIGIBLE_ACCOUNT`, …).
    Ineligible {
        /// `reasonCode`.
        reason_code: String,
        /// `reasonMessage`.
        message: String,
    },
}

/// A token pair the mock issued.
#[derive(Debug, Clone)]
pub struct GoogleTokens {
    /// `ya29.mock-ca-…`.
    pub access_token: String,
    /// `1//mock-ca-…`.
    pub refresh_token: String,
    /// Seconds the access token lives.
    pub expires_in: u64,
    /// The account's e-mail.
    pub email: String,
    /// The id token (`email` claim), unsigned.
    pub id_token: String,
}

#[derive(Debug)]
pub(crate) struct Account {
    pub email: String,
    pub mode: ProjectMode,
    /// The project onboarding gave, once done.
    pub onboarded: Option<String>,
    /// onboardUser calls and operation polls so far.
    pub onboard_attempts: usize,
    pub banned: bool,
    pub validation_required: bool,
    /// Clients the account consented to (a later consent without
    /// `prompt=consent` gives no refresh token).
    consented: HashSet<CodeAssistClient>,
}

impl Account {
    /// The project Code Assist calls of the account must name.
    pub(crate) fn project(&self) -> Option<&str> {
        match &self.mode {
            ProjectMode::Assigned(p) => Some(p),
            ProjectMode::Onboard { .. } => self.onboarded.as_deref(),
            ProjectMode::Ineligible { .. } => None,
        }
    }
}

#[derive(Debug)]
struct PendingCode {
    client: CodeAssistClient,
    redirect_uri: String,
    challenge: Option<(String, String)>,
    account: usize,
    scope: String,
    offline: bool,
    force_consent: bool,
}

#[derive(Debug)]
pub(crate) struct AccessEntry {
    pub account: usize,
    pub client: CodeAssistClient,
    expires_at: u64,
}

#[derive(Debug)]
struct RefreshEntry {
    account: usize,
    client: CodeAssistClient,
    scope: String,
}

/// State of the Google OAuth and Code Assist endpoints.
#[derive(Debug)]
pub(crate) struct CodeAssistState {
    expires_in: u64,
    next: u64,
    pub accounts: Vec<Account>,
    login_account: usize,
    codes: HashMap<String, PendingCode>,
    refresh: HashMap<String, RefreshEntry>,
    access: HashMap<String, AccessEntry>,
    /// (account, model) → Unix time the model's quota resets.
    pub exhausted: HashMap<(usize, String), u64>,
    exchanges: usize,
    refreshes: usize,
    pub generate_calls: usize,
    pub load_calls: usize,
    pub onboard_calls: usize,
    pub last_envelope: Option<Value>,
}

impl Default for CodeAssistState {
    fn default() -> Self {
        CodeAssistState {
            expires_in: 3599,
            next: 0,
            accounts: Vec::new(),
            login_account: 0,
            codes: HashMap::new(),
            refresh: HashMap::new(),
            access: HashMap::new(),
            exhausted: HashMap::new(),
            exchanges: 0,
            refreshes: 0,
            generate_calls: 0,
            load_calls: 0,
            onboard_calls: 0,
            last_envelope: None,
        }
    }
}

impl CodeAssistState {
    /// The index of the account with `email`, created when new (with an
    /// assigned project `mock-project-<n>`).
    fn account(&mut self, email: &str) -> usize {
        if let Some(i) = self.accounts.iter().position(|a| a.email == email) {
            return i;
        }
        let n = self.accounts.len() + 1;
        self.accounts.push(Account {
            email: email.to_owned(),
            mode: ProjectMode::Assigned(format!("mock-project-{n}")),
            onboarded: None,
            onboard_attempts: 0,
            banned: false,
            validation_required: false,
            consented: HashSet::new(),
        });
        self.accounts.len() - 1
    }

    fn id_token(&self, account: usize, client: CodeAssistClient) -> String {
        let now = unix_now();
        let claims = json!({
            "iss": "https://accounts.google.com",
            "aud": client.client_id(),
            "azp": client.client_id(),
            "sub": format!("10000000000000000000{account}"),
            "email": self.accounts[account].email,
            "email_verified": true,
            "iat": now,
            "exp": now + 3600,
        });
        format!(
            "{}.{}.mock-signature",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","kid":"mock","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        )
    }

    /// A fresh access token (and, when `with_refresh`, a refresh token).
    fn issue(
        &mut self,
        account: usize,
        client: CodeAssistClient,
        scope: &str,
        with_refresh: bool,
    ) -> (String, Option<String>) {
        self.next += 1;
        let access = format!("ya29.mock-ca-{}", self.next);
        self.access.insert(
            access.clone(),
            AccessEntry {
                account,
                client,
                expires_at: unix_now() + self.expires_in,
            },
        );
        let refresh = with_refresh.then(|| {
            let token = format!("1//mock-ca-{}", self.next);
            self.refresh.insert(
                token.clone(),
                RefreshEntry {
                    account,
                    client,
                    scope: scope.to_owned(),
                },
            );
            token
        });
        (access, refresh)
    }

    /// The account and client of a live access token.
    pub(crate) fn check_access(&self, token: &str) -> Option<(usize, CodeAssistClient)> {
        self.access
            .get(token)
            .filter(|e| e.expires_at > unix_now())
            .map(|e| (e.account, e.client))
    }

    /// When `account`'s quota of `model` resets, if it is used up now.
    pub(crate) fn exhausted_until(&self, account: usize, model: &str) -> Option<u64> {
        self.exhausted
            .get(&(account, model.to_owned()))
            .copied()
            .filter(|reset| *reset > unix_now())
    }
}

/// The Google OAuth and Code Assist handles of [`MockUpstream`].
impl MockUpstream {
    /// `{base}/o/oauth2/v2/auth`.
    pub fn google_authorize_url(&self) -> String {
        format!("{}/o/oauth2/v2/auth", self.base_url())
    }

    /// `{base}/token` (shared with the service-account grant).
    pub fn google_token_url(&self) -> String {
        self.token_url()
    }

    /// `{base}/oauth2/v2/userinfo?alt=json`.
    pub fn google_userinfo_url(&self) -> String {
        format!("{}/oauth2/v2/userinfo?alt=json", self.base_url())
    }

    /// Makes `email` the account the next authorize call approves
    /// (created on first use; the default is `user@example.com`).
    pub fn google_login_as(&self, email: &str) {
        let mut state = lock(&self.shared.code_assist);
        let i = state.account(email);
        state.login_account = i;
    }

    /// Sets how `loadCodeAssist` answers for `email` (and forgets an
    /// earlier onboarding).
    pub fn google_set_project(&self, email: &str, mode: ProjectMode) {
        let mut state = lock(&self.shared.code_assist);
        let i = state.account(email);
        let account = &mut state.accounts[i];
        account.mode = mode;
        account.onboarded = None;
        account.onboard_attempts = 0;
    }

    /// The project Code Assist calls of `email` must name, if it has one.
    pub fn google_project_of(&self, email: &str) -> Option<String> {
        let mut state = lock(&self.shared.code_assist);
        let i = state.account(email);
        state.accounts[i].project().map(str::to_owned)
    }

    /// Issues a token pair for `email` and `client` directly, as if its
    /// owner had logged in with the real tool (for import tests).
    pub fn google_issue(&self, email: &str, client: CodeAssistClient) -> GoogleTokens {
        let mut state = lock(&self.shared.code_assist);
        let i = state.account(email);
        state.accounts[i].consented.insert(client);
        let (access_token, refresh_token) = state.issue(i, client, CLOUD_PLATFORM_SCOPE, true);
        GoogleTokens {
            access_token,
            refresh_token: refresh_token.unwrap_or_default(),
            expires_in: state.expires_in,
            email: email.to_owned(),
            id_token: state.id_token(i, client),
        }
    }

    /// `expires_in` of the access tokens issued from now on (default 3599).
    pub fn google_set_expires_in(&self, secs: u64) {
        lock(&self.shared.code_assist).expires_in = secs;
    }

    /// Expires `access_token` now: calls presenting it get 401.
    pub fn google_expire(&self, access_token: &str) {
        if let Some(entry) = lock(&self.shared.code_assist).access.get_mut(access_token) {
            entry.expires_at = 0;
        }
    }

    /// Expires every access token of `email`.
    pub fn google_expire_all(&self, email: &str) {
        let mut state = lock(&self.shared.code_assist);
        let i = state.account(email);
        for entry in state.access.values_mut().filter(|e| e.account == i) {
            entry.expires_at = 0;
        }
    }

    /// Revokes `refresh_token`: refreshing with it is `invalid_grant`.
    pub fn google_revoke_refresh(&self, refresh_token: &str) {
        lock(&self.shared.code_assist).refresh.remove(refresh_token);
    }

    /// Uses up `email`'s quota of `model` until `reset_at` (Unix seconds):
    /// generate calls get 429 `RESOURCE_EXHAUSTED` / `QUOTA_EXHAUSTED`
    /// with the delay until then.
    pub fn google_exhaust(&self, email: &str, model: &str, reset_at: u64) {
        let mut state = lock(&self.shared.code_assist);
        let i = state.account(email);
        state.exhausted.insert((i, model.to_owned()), reset_at);
    }

    /// Makes `email` need verification: Code Assist calls get 403
    /// `VALIDATION_REQUIRED` (on) or not (off).
    pub fn google_require_validation(&self, email: &str, on: bool) {
        let mut state = lock(&self.shared.code_assist);
        let i = state.account(email);
        state.accounts[i].validation_required = on;
    }

    /// Disables `email` for a Terms-of-Service violation: Code Assist
    /// calls get 403 with [`TOS_MESSAGE`].
    pub fn google_ban(&self, email: &str) {
        let mut state = lock(&self.shared.code_assist);
        let i = state.account(email);
        state.accounts[i].banned = true;
    }

    /// Successful authorization-code exchanges.
    pub fn google_exchanges(&self) -> usize {
        lock(&self.shared.code_assist).exchanges
    }

    /// Successful refreshes.
    pub fn google_refreshes(&self) -> usize {
        lock(&self.shared.code_assist).refreshes
    }

    /// `generateContent` / `streamGenerateContent` calls that passed the
    /// checks (answered or refused for quota).
    pub fn google_generate_calls(&self) -> usize {
        lock(&self.shared.code_assist).generate_calls
    }

    /// `loadCodeAssist` calls answered.
    pub fn google_load_calls(&self) -> usize {
        lock(&self.shared.code_assist).load_calls
    }

    /// `onboardUser` calls and operation polls answered.
    pub fn google_onboard_calls(&self) -> usize {
        lock(&self.shared.code_assist).onboard_calls
    }

    /// The last generate envelope that passed the checks.
    pub fn google_last_envelope(&self) -> Option<Value> {
        lock(&self.shared.code_assist).last_envelope.clone()
    }
}

/// The form fields of a `application/x-www-form-urlencoded` body.
fn form(req: &MockRequest) -> Option<HashMap<String, String>> {
    let form_type = req
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    let text = std::str::from_utf8(&req.body).ok().filter(|_| form_type)?;
    Some(
        text.split('&')
            .filter(|p| !p.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (percent_decode(k), percent_decode(v))
            })
            .collect(),
    )
}

/// Whether `POST /token` is a user grant (code or refresh) for this module.
pub(crate) fn is_user_grant(req: &MockRequest) -> bool {
    form(req).is_some_and(|f| {
        matches!(
            f.get("grant_type").map(String::as_str),
            Some("authorization_code" | "refresh_token")
        )
    })
}

/// `GET /o/oauth2/v2/auth`.
pub(crate) fn authorize(shared: &Shared, req: &MockRequest) -> Response<MockBody> {
    let q = req.query.as_deref();
    let param = |name: &str| query_param(q, name).map(percent_decode);
    let Some(client) = param("client_id").and_then(|id| CodeAssistClient::from_client_id(&id))
    else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "The OAuth client was not found.",
        );
    };
    if param("response_type").as_deref() != Some("code") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_response_type",
            "Invalid response_type: code is required",
        );
    }
    let redirect_uri = param("redirect_uri").unwrap_or_default();
    if !client.allows_redirect(&redirect_uri) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "redirect_uri_mismatch",
            "The redirect URI in the request does not match the ones authorized for the OAuth client.",
        );
    }
    let scope = param("scope").unwrap_or_default();
    if !scope.split(' ').any(|s| s == CLOUD_PLATFORM_SCOPE) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "Some requested scopes were invalid: the cloud-platform scope is required.",
        );
    }
    let challenge = match (param("code_challenge"), param("code_challenge_method")) {
        (None, _) => None,
        (Some(c), Some(m)) if m == "S256" || m == "plain" => Some((c, m)),
        (Some(c), None) => Some((c, "plain".to_owned())),
        (Some(_), Some(_)) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Invalid code_challenge_method",
            );
        }
    };
    let mut state = lock(&shared.code_assist);
    if state.accounts.is_empty() {
        state.account("user@example.com");
    }
    state.next += 1;
    let code = format!("4/mock-ca-code-{}", state.next);
    let account = state.login_account;
    state.codes.insert(
        code.clone(),
        PendingCode {
            client,
            redirect_uri: redirect_uri.clone(),
            challenge,
            account,
            scope,
            offline: param("access_type").as_deref() == Some("offline"),
            force_consent: param("prompt").is_some_and(|p| p.split(' ').any(|p| p == "consent")),
        },
    );
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    let mut location = format!("{redirect_uri}{separator}code={}", percent_encode(&code));
    if let Some(s) = param("state") {
        location.push_str(&format!("&state={}", percent_encode(&s)));
    }
    location.push_str(&format!(
        "&scope={}",
        percent_encode(&state.codes[&code].scope)
    ));
    found(&location)
}

/// `POST /token` with a user grant.
pub(crate) fn token(shared: &Shared, req: &MockRequest) -> Response<MockBody> {
    let Some(f) = form(req) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "Bad Request");
    };
    let field = |name: &str| f.get(name).map(String::as_str).filter(|v| !v.is_empty());
    let Some(client) = field("client_id").and_then(CodeAssistClient::from_client_id) else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "The OAuth client was not found.",
        );
    };
    match field("client_secret") {
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "client_secret is missing.",
            );
        }
        Some(secret) if secret != client.client_secret() => {
            return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "Unauthorized");
        }
        Some(_) => {}
    }
    let mut state = lock(&shared.code_assist);
    if field("grant_type") == Some("refresh_token") {
        let entry = field("refresh_token").and_then(|t| state.refresh.get(t));
        let Some(entry) = entry else {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "Token has been expired or revoked.",
            );
        };
        if entry.client != client {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "unauthorized_client",
                "Unauthorized",
            );
        }
        let (account, scope) = (entry.account, entry.scope.clone());
        state.refreshes += 1;
        let (access, _) = state.issue(account, client, &scope, false);
        // No `refresh_token`: Google does not rotate it.
        return json_response(
            StatusCode::OK,
            &json!({
                "access_token": access,
                "expires_in": state.expires_in,
                "scope": scope,
                "token_type": "Bearer",
            }),
        );
    }
    let Some(pending) = field("code").and_then(|c| state.codes.remove(c)) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Malformed auth code.",
        );
    };
    if pending.client != client {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Unauthorized");
    }
    if field("redirect_uri") != Some(pending.redirect_uri.as_str()) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "redirect_uri_mismatch",
            "Bad Request",
        );
    }
    if let Some((challenge, method)) = &pending.challenge {
        let Some(verifier) = field("code_verifier") else {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "Missing code verifier.",
            );
        };
        let computed = if method == "S256" {
            s256(verifier)
        } else {
            verifier.to_owned()
        };
        if &computed != challenge {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "Invalid code verifier.",
            );
        }
    }
    let account = pending.account;
    let first_consent = state.accounts[account].consented.insert(client);
    let with_refresh = pending.offline && (first_consent || pending.force_consent);
    state.exchanges += 1;
    let (access, refresh) = state.issue(account, client, &pending.scope, with_refresh);
    let mut answer = json!({
        "access_token": access,
        "expires_in": state.expires_in,
        "scope": pending.scope,
        "token_type": "Bearer",
        "id_token": state.id_token(account, client),
    });
    if let Some(refresh) = refresh {
        answer["refresh_token"] = json!(refresh);
    }
    json_response(StatusCode::OK, &answer)
}

/// Google's 401 for a missing, unknown or expired bearer.
pub(crate) fn unauthenticated() -> Response<MockBody> {
    gemini_error(
        StatusCode::UNAUTHORIZED,
        "UNAUTHENTICATED",
        UNAUTHENTICATED_MESSAGE,
    )
}

/// The account and client of the request's bearer, if live.
pub(crate) fn authenticate(
    shared: &Shared,
    req: &MockRequest,
) -> Option<(usize, CodeAssistClient)> {
    let token = req.bearer()?;
    lock(&shared.code_assist).check_access(token)
}

/// `GET /oauth2/v1/userinfo` or `/oauth2/v2/userinfo`.
pub(crate) fn userinfo(shared: &Shared, req: &MockRequest) -> Response<MockBody> {
    let Some((account, _)) = authenticate(shared, req) else {
        return unauthenticated();
    };
    let email = lock(&shared.code_assist).accounts[account].email.clone();
    json_response(
        StatusCode::OK,
        &json!({
            "id": format!("10000000000000000000{account}"),
            "email": email,
            "verified_email": true,
            "name": "Mock User",
            "picture": "https://example.com/p.png",
        }),
    )
}

/// Whether `path` is a Google OAuth path of this module.
pub(crate) fn is_authorize(path: &str) -> bool {
    path == "/o/oauth2/v2/auth" || path == "/o/oauth2/auth"
}

/// Whether `path` is a user-info path.
pub(crate) fn is_userinfo(path: &str) -> bool {
    matches!(
        path,
        "/oauth2/v1/userinfo" | "/oauth2/v2/userinfo" | "/oauth2/v3/userinfo"
    )
}

/// `GET /v1internal/{operation}`: polling an onboarding.
pub(crate) fn operation(shared: &Shared, req: &MockRequest, reply: &Reply) -> Response<MockBody> {
    v1internal::poll(shared, req, reply)
}
