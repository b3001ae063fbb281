//! The provider-independent part of OAuth subscription credentials
//! (claudecode, codex; antigravity and geminicli later): PKCE, pending
//! logins with a TTL, reading what the user pastes back, token answers,
//! what a refresh failure means, when to refresh, one refresh in flight per
//! credential, and importing the tokens the vendors' CLIs keep on disk.
//!
//! Nothing here talks to the network; the core sends the requests these
//! types describe and the storage layer persists the results.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use crate::Secret;

/// A PKCE pair (RFC 7636): the verifier the gateway keeps and the S256
/// challenge it sends in the authorize URL.
#[derive(Clone)]
pub struct Pkce {
    /// 43 characters of base64url (32 random bytes).
    pub verifier: Secret,
    /// `BASE64URL(SHA256(verifier))`.
    pub challenge: String,
}

impl std::fmt::Debug for Pkce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkce")
            .field("challenge", &self.challenge)
            .finish_non_exhaustive()
    }
}

impl Pkce {
    /// A fresh random pair.
    pub fn generate() -> Pkce {
        let bytes: [u8; 32] = rand::random();
        Pkce::from_verifier(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The pair of a known verifier.
    pub fn from_verifier(verifier: String) -> Pkce {
        let challenge = s256(&verifier);
        Pkce {
            verifier: Secret::new(verifier),
            challenge,
        }
    }
}

/// `BASE64URL(SHA256(verifier))` without padding.
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        verifier.as_bytes(),
    ))
}

/// A random `state` value: 32 random bytes, base64url.
pub fn random_state() -> String {
    let bytes: [u8; 32] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// One login started and not yet completed.
#[derive(Debug, Clone)]
pub struct PendingLogin {
    /// The provider the login is for.
    pub provider: String,
    /// The PKCE pair of this login.
    pub pkce: Pkce,
    /// The `redirect_uri` sent in the authorize URL (the exchange must send
    /// the same bytes).
    pub redirect_uri: String,
    /// When it stops being accepted, epoch ms.
    pub expires_at_ms: u64,
}

/// Why a `state` was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LoginStateError {
    /// No login was started with this state (or it was completed).
    #[error("no login was started with this state (or it was already completed)")]
    Unknown,
    /// The login was started but its TTL has passed.
    #[error("this login expired; start a new one")]
    Expired,
    /// The state belongs to a login of another provider.
    #[error("this login was started for another provider")]
    OtherProvider,
}

/// Most pending logins kept; the oldest is dropped beyond this.
pub const MAX_PENDING_LOGINS: usize = 1024;

/// Pending logins by `state`. Several logins may be pending at once; each
/// is taken at most once.
#[derive(Debug, Default)]
pub struct LoginStates {
    pending: Mutex<HashMap<String, PendingLogin>>,
}

impl LoginStates {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps `login` under `state`, dropping expired logins (and the one
    /// expiring first when the store is full).
    pub fn insert(&self, state: String, login: PendingLogin, now_ms: u64) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        pending.retain(|_, l| l.expires_at_ms > now_ms);
        if pending.len() >= MAX_PENDING_LOGINS
            && let Some(oldest) = pending
                .iter()
                .min_by_key(|(_, l)| l.expires_at_ms)
                .map(|(s, _)| s.clone())
        {
            pending.remove(&oldest);
        }
        pending.insert(state, login);
    }

    /// Takes the login of `state` for `provider`.
    pub fn take(
        &self,
        state: &str,
        provider: &str,
        now_ms: u64,
    ) -> Result<PendingLogin, LoginStateError> {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        let login = pending.get(state).ok_or(LoginStateError::Unknown)?;
        if login.provider != provider {
            return Err(LoginStateError::OtherProvider);
        }
        let login = pending.remove(state).ok_or(LoginStateError::Unknown)?;
        if login.expires_at_ms <= now_ms {
            return Err(LoginStateError::Expired);
        }
        Ok(login)
    }

    /// Logins pending now.
    pub fn len(&self, now_ms: u64) -> usize {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .filter(|l| l.expires_at_ms > now_ms)
            .count()
    }

    /// Whether no login is pending now.
    pub fn is_empty(&self, now_ms: u64) -> bool {
        self.len(now_ms) == 0
    }
}

/// What the user pasted back after consenting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callback {
    /// The authorization code.
    pub code: String,
    /// The state, when the paste carried one.
    pub state: Option<String>,
}

/// Why a pasted callback was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    /// Nothing was pasted.
    #[error("empty: paste the callback URL or the code")]
    Empty,
    /// The provider redirected with an error.
    #[error("the provider refused the login: {0}")]
    Refused(String),
    /// A URL without `code`.
    #[error("the URL has no `code` parameter")]
    NoCode,
}

/// Reads the callback the user pasted: the whole redirect URL
/// (`…?code=C&state=S`), Claude's manual page's `C#S`, or the bare code.
pub fn parse_callback(input: &str) -> Result<Callback, CallbackError> {
    let input = input.trim();
    if input.is_empty() {
        return Err(CallbackError::Empty);
    }
    if let Some((_, query)) = input.split_once('?') {
        let query = query.split('#').next().unwrap_or_default();
        let param = |name: &str| {
            query.split('&').find_map(|pair| {
                let (k, v) = pair.split_once('=')?;
                (k == name).then(|| percent_decode(v))
            })
        };
        if let Some(error) = param("error") {
            let description = param("error_description").unwrap_or_default();
            return Err(CallbackError::Refused(
                format!("{error} {description}").trim().to_owned(),
            ));
        }
        let code = param("code").ok_or(CallbackError::NoCode)?;
        return Ok(Callback {
            code,
            state: param("state"),
        });
    }
    match input.split_once('#') {
        Some((code, state)) if !code.is_empty() => Ok(Callback {
            code: code.to_owned(),
            state: (!state.is_empty()).then(|| state.to_owned()),
        }),
        Some(_) => Err(CallbackError::Empty),
        None => Ok(Callback {
            code: input.to_owned(),
            state: None,
        }),
    }
}

/// Decodes `%XX` escapes and `+`.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An OAuth token pair as the gateway keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSet {
    /// The bearer sent upstream.
    pub access_token: Secret,
    /// The refresh token; `None` for tokens that cannot be refreshed
    /// (Claude's setup token).
    pub refresh_token: Option<Secret>,
    /// When the access token expires, epoch ms.
    pub expires_at_ms: u64,
    /// Granted scopes, space separated, when known.
    pub scope: Option<String>,
}

/// Lifetime assumed when a token answer has no `expires_in`.
pub const DEFAULT_LIFETIME_SECS: u64 = 3600;

/// Why a token answer was not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenAnswerError {
    /// Not JSON, or no `access_token`.
    #[error("the token endpoint's answer has no access token")]
    NoAccessToken,
    /// `token_type` is not `Bearer`.
    #[error("the token endpoint issued a token that is not a bearer token")]
    NotBearer,
}

impl TokenSet {
    /// The tokens of a successful token answer received at `now_ms`. A
    /// refresh answer without `refresh_token` keeps `previous_refresh` (the
    /// rotation is optional for the server, losing the token is not).
    pub fn from_answer(
        answer: &Value,
        now_ms: u64,
        previous_refresh: Option<&Secret>,
    ) -> Result<TokenSet, TokenAnswerError> {
        let access = answer
            .get("access_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or(TokenAnswerError::NoAccessToken)?;
        if answer
            .get("token_type")
            .and_then(Value::as_str)
            .is_some_and(|t| !t.eq_ignore_ascii_case("bearer"))
        {
            return Err(TokenAnswerError::NotBearer);
        }
        let refresh = answer
            .get("refresh_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .map(|t| Secret::new(t.to_owned()))
            .or_else(|| previous_refresh.cloned());
        let lifetime = answer
            .get("expires_in")
            .and_then(Value::as_u64)
            .unwrap_or(DEFAULT_LIFETIME_SECS);
        Ok(TokenSet {
            access_token: Secret::new(access.to_owned()),
            refresh_token: refresh,
            expires_at_ms: now_ms.saturating_add(lifetime.saturating_mul(1000)),
            scope: answer
                .get("scope")
                .and_then(Value::as_str)
                .map(str::to_owned),
        })
    }

    /// Whether the access token should be refreshed at `now_ms`, `lead_ms`
    /// before it expires. A token without a refresh token is never
    /// refreshed.
    pub fn needs_refresh(&self, now_ms: u64, lead_ms: u64) -> bool {
        self.refresh_token.is_some() && now_ms.saturating_add(lead_ms) >= self.expires_at_ms
    }
}

/// What a failed refresh means for the credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshFailure {
    /// The refresh token is dead (`invalid_grant`, `refresh_token_reused`,
    /// revoked, 401): the credential is disabled with this reason until
    /// someone logs in again.
    Permanent(String),
    /// The token endpoint throttles: try again after this many seconds.
    Throttled(u64),
    /// Anything else (5xx, network): try again on the next request.
    Transient(String),
}

/// OAuth `error` codes after which the refresh token is dead.
const PERMANENT_ERRORS: &[&str] = &[
    "invalid_grant",
    "refresh_token_reused",
    "refresh_token_expired",
    "refresh_token_invalidated",
    "invalid_client",
    "unauthorized_client",
];

/// Seconds a throttled refresh waits when the answer has no Retry-After.
pub const DEFAULT_THROTTLE_SECS: u64 = 30;

/// Classifies a token endpoint's non-2xx answer (`status`, body,
/// `Retry-After` seconds).
pub fn classify_refresh_error(
    status: u16,
    body: &[u8],
    retry_after: Option<u64>,
) -> RefreshFailure {
    let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    // `{"error":"invalid_grant"}` or `{"error":{"code":"refresh_token_reused","message":…}}`.
    let code = json
        .get("error")
        .and_then(|e| e.as_str().or_else(|| e.get("code").and_then(Value::as_str)))
        .unwrap_or_default();
    let description = json
        .get("error_description")
        .and_then(Value::as_str)
        .or_else(|| json.pointer("/error/message").and_then(Value::as_str))
        .unwrap_or_default();
    let reason = || {
        let mut reason = format!("refresh failed: {status}");
        for part in [code, description] {
            if !part.is_empty() {
                reason.push_str(": ");
                reason.push_str(&part.chars().take(200).collect::<String>());
            }
        }
        reason
    };
    if status == 429 {
        return RefreshFailure::Throttled(retry_after.unwrap_or(DEFAULT_THROTTLE_SECS));
    }
    if PERMANENT_ERRORS.contains(&code) || status == 401 {
        return RefreshFailure::Permanent(reason());
    }
    RefreshFailure::Transient(reason())
}

/// One refresh in flight per credential: callers that find the token stale
/// queue on the credential's lock; the first refreshes, the others find the
/// new version when they get the lock and use it.
#[derive(Debug, Default)]
pub struct RefreshGate {
    locks: Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>,
}

impl RefreshGate {
    /// An empty gate.
    pub fn new() -> Self {
        Self::default()
    }

    /// Waits for credential `id`'s lock; held until the guard is dropped.
    pub async fn lock(&self, id: i64) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(locks.entry(id).or_default())
        };
        lock.lock_owned().await
    }

    /// Runs, under credential `id`'s lock: `load` (the current version and
    /// tokens, e.g. from the database); when the version is still
    /// `seen_version` (nobody refreshed since the caller looked),
    /// `refresh` with the loaded tokens, else the loaded tokens as they
    /// are.
    pub async fn run<T, E, L, LF, R, RF>(
        &self,
        id: i64,
        seen_version: u64,
        load: L,
        refresh: R,
    ) -> Result<T, E>
    where
        L: FnOnce() -> LF,
        LF: Future<Output = Result<(u64, T), E>>,
        R: FnOnce(T) -> RF,
        RF: Future<Output = Result<T, E>>,
    {
        let _held = self.lock(id).await;
        let (version, tokens) = load().await?;
        if version != seen_version {
            return Ok(tokens);
        }
        refresh(tokens).await
    }
}

/// The stored `kind` of an OAuth credential.
pub const OAUTH_KIND: &str = "oauth";

/// An OAuth login of a subscription account, as stored (sealed) and used.
///
/// Stored as `{"access_token", "refresh_token"?, "expires_at_ms",
/// "scope"?, "account": {...}, "disabled_reason"?, "refresh_lock_until_ms"?}`.
/// `account` holds what the login learnt (`email`, `account_id`,
/// `project_id`, `plan`, `organization_id`, `auth_kind`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthCredential {
    /// The tokens.
    pub tokens: TokenSet,
    /// Account facts.
    pub account: serde_json::Map<String, Value>,
    /// Set when a refresh failed for good (`invalid_grant`, reuse,
    /// revoked): the credential is disabled until someone logs in again.
    pub disabled_reason: Option<String>,
    /// While another instance refreshes this credential: until when its
    /// claim holds (epoch ms).
    pub refresh_lock_until_ms: Option<u64>,
    /// The row's version when read (not stored in the secret).
    pub version: i64,
}

impl OAuthCredential {
    /// A fresh login's credential.
    pub fn new(tokens: TokenSet, account: serde_json::Map<String, Value>) -> Self {
        OAuthCredential {
            tokens,
            account,
            disabled_reason: None,
            refresh_lock_until_ms: None,
            version: 0,
        }
    }

    /// One account fact as text (`email`, `account_id`, `project_id`, ...).
    pub fn account_str(&self, key: &str) -> Option<&str> {
        self.account
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }

    /// What names the account (for fingerprints): its id or e-mail, else
    /// the refresh or access token.
    pub fn identity(&self) -> String {
        for key in ["account_id", "email"] {
            if let Some(v) = self.account_str(key) {
                return format!("{key}:{v}");
            }
        }
        match &self.tokens.refresh_token {
            Some(r) => r.expose().to_owned(),
            None => self.tokens.access_token.expose().to_owned(),
        }
    }

    /// The stored JSON.
    pub fn to_json(&self) -> Value {
        let mut out = serde_json::Map::new();
        out.insert(
            "access_token".into(),
            Value::from(self.tokens.access_token.expose()),
        );
        if let Some(r) = &self.tokens.refresh_token {
            out.insert("refresh_token".into(), Value::from(r.expose()));
        }
        out.insert(
            "expires_at_ms".into(),
            Value::from(self.tokens.expires_at_ms),
        );
        if let Some(scope) = &self.tokens.scope {
            out.insert("scope".into(), Value::from(scope.as_str()));
        }
        out.insert("account".into(), Value::Object(self.account.clone()));
        if let Some(reason) = &self.disabled_reason {
            out.insert("disabled_reason".into(), Value::from(reason.as_str()));
        }
        if let Some(until) = self.refresh_lock_until_ms {
            out.insert("refresh_lock_until_ms".into(), Value::from(until));
        }
        Value::Object(out)
    }

    /// Reads the stored JSON; the error names the field.
    pub fn from_json(secret: &Value) -> Result<Self, crate::CredentialError> {
        let bad = |reason: &str| crate::CredentialError::InvalidSecret {
            kind: OAUTH_KIND,
            reason: reason.to_owned(),
        };
        let obj = secret
            .as_object()
            .ok_or_else(|| bad("the secret must be an object"))?;
        const KNOWN: &[&str] = &[
            "access_token",
            "refresh_token",
            "expires_at_ms",
            "scope",
            "account",
            "disabled_reason",
            "refresh_lock_until_ms",
        ];
        if let Some(unknown) = obj.keys().find(|k| !KNOWN.contains(&k.as_str())) {
            return Err(bad(&format!("unknown field `{unknown}`")));
        }
        let text = |key: &str| -> Result<Option<String>, crate::CredentialError> {
            match obj.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(bad(&format!("`{key}` must be a string"))),
            }
        };
        let access = text("access_token")?
            .filter(|s| !s.is_empty())
            .ok_or_else(|| bad("`access_token` is required"))?;
        let expires_at_ms = match obj.get("expires_at_ms") {
            Some(v) => v
                .as_u64()
                .ok_or_else(|| bad("`expires_at_ms` must be epoch milliseconds"))?,
            None => return Err(bad("`expires_at_ms` is required")),
        };
        let account = match obj.get("account") {
            None | Some(Value::Null) => serde_json::Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(_) => return Err(bad("`account` must be an object")),
        };
        let refresh_lock_until_ms = match obj.get("refresh_lock_until_ms") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_u64()
                    .ok_or_else(|| bad("`refresh_lock_until_ms` must be epoch milliseconds"))?,
            ),
        };
        Ok(OAuthCredential {
            tokens: TokenSet {
                access_token: Secret::new(access),
                refresh_token: text("refresh_token")?
                    .filter(|s| !s.is_empty())
                    .map(Secret::new),
                expires_at_ms,
                scope: text("scope")?,
            },
            account,
            disabled_reason: text("disabled_reason")?,
            refresh_lock_until_ms,
            version: 0,
        })
    }
}

/// Tokens read from a vendor CLI's file, with the account facts it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// The tokens.
    pub tokens: TokenSet,
    /// Account facts (`email`, `account_id`, `plan`, …) the file carried.
    pub account: serde_json::Map<String, Value>,
}

/// Why an import was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct ImportError {
    /// The JSON path of the field at fault (`claudeAiOauth.accessToken`).
    pub path: String,
    /// What is wrong with it.
    pub reason: String,
}

fn import_error(path: &str, reason: &str) -> ImportError {
    ImportError {
        path: path.to_owned(),
        reason: reason.to_owned(),
    }
}

/// Lifetime of a Claude setup token (`claude setup-token`): one year.
pub const SETUP_TOKEN_LIFETIME_SECS: u64 = 365 * 86_400;

/// Reads Claude Code's `~/.claude/.credentials.json`
/// (`{"claudeAiOauth":{"accessToken","refreshToken","expiresAt"(ms),"scopes",
/// "subscriptionType","rateLimitTier"}}`), or a bare setup token
/// `sk-ant-oat01-…` (no refresh token, one year).
pub fn import_claude(input: &str, now_ms: u64) -> Result<Imported, ImportError> {
    let input = input.trim();
    if input.starts_with("sk-ant-oat") {
        let mut account = serde_json::Map::new();
        account.insert("auth_kind".into(), Value::from("setup_token"));
        return Ok(Imported {
            tokens: TokenSet {
                access_token: Secret::new(input.to_owned()),
                refresh_token: None,
                expires_at_ms: now_ms + SETUP_TOKEN_LIFETIME_SECS * 1000,
                scope: Some("user:inference".into()),
            },
            account,
        });
    }
    let json: Value = serde_json::from_str(input).map_err(|_| {
        import_error(
            "",
            "neither Claude Code's .credentials.json nor a setup token (sk-ant-oat…)",
        )
    })?;
    let oauth = json
        .get("claudeAiOauth")
        .ok_or_else(|| import_error("claudeAiOauth", "missing"))?;
    let text = |name: &str| {
        oauth
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let access = text("accessToken")
        .ok_or_else(|| import_error("claudeAiOauth.accessToken", "missing or empty"))?;
    let refresh = text("refreshToken")
        .ok_or_else(|| import_error("claudeAiOauth.refreshToken", "missing or empty"))?;
    let expires_at_ms = oauth
        .get("expiresAt")
        .and_then(Value::as_u64)
        .ok_or_else(|| import_error("claudeAiOauth.expiresAt", "missing (epoch ms)"))?;
    let scope = oauth.get("scopes").and_then(Value::as_array).map(|s| {
        s.iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" ")
    });
    let mut account = serde_json::Map::new();
    if let Some(plan) = text("subscriptionType") {
        account.insert("plan".into(), Value::from(plan));
    }
    if let Some(tier) = text("rateLimitTier") {
        account.insert("rate_limit_tier".into(), Value::from(tier));
    }
    Ok(Imported {
        tokens: TokenSet {
            access_token: Secret::new(access.to_owned()),
            refresh_token: Some(Secret::new(refresh.to_owned())),
            expires_at_ms,
            scope,
        },
        account,
    })
}

/// The claims of a JWT's payload (not verified: the gateway only reads
/// facts the issuer put in its own token).
pub fn jwt_claims(token: &str) -> Option<Value> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Reads Codex's `~/.codex/auth.json`
/// (`{"tokens":{"id_token","access_token","refresh_token","account_id"},
/// "last_refresh"}`). The expiry is the access token's JWT `exp`; email,
/// plan and account id come from the id token's claims
/// (`https://api.openai.com/auth`).
pub fn import_codex(input: &str) -> Result<Imported, ImportError> {
    let json: Value = serde_json::from_str(input.trim())
        .map_err(|_| import_error("", "not JSON (Codex's auth.json)"))?;
    let tokens = json
        .get("tokens")
        .filter(|t| t.is_object())
        .ok_or_else(|| import_error("tokens", "missing (log in to Codex with ChatGPT first)"))?;
    let text = |name: &str| {
        tokens
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let access = text("access_token")
        .ok_or_else(|| import_error("tokens.access_token", "missing or empty"))?;
    let refresh = text("refresh_token")
        .ok_or_else(|| import_error("tokens.refresh_token", "missing or empty"))?;
    let exp = jwt_claims(access)
        .and_then(|c| c.get("exp").and_then(Value::as_u64))
        .ok_or_else(|| import_error("tokens.access_token", "not a JWT with `exp`"))?;
    let mut account = serde_json::Map::new();
    if let Some(claims) = text("id_token").and_then(jwt_claims) {
        if let Some(email) = claims.get("email").and_then(Value::as_str) {
            account.insert("email".into(), Value::from(email));
        }
        let auth = claims.get("https://api.openai.com/auth");
        for (from, to) in [
            ("chatgpt_account_id", "account_id"),
            ("chatgpt_plan_type", "plan"),
        ] {
            if let Some(v) = auth.and_then(|a| a.get(from)).and_then(Value::as_str) {
                account.insert(to.into(), Value::from(v));
            }
        }
    }
    if let Some(id) = text("account_id") {
        account.insert("account_id".into(), Value::from(id));
    }
    Ok(Imported {
        tokens: TokenSet {
            access_token: Secret::new(access.to_owned()),
            refresh_token: Some(Secret::new(refresh.to_owned())),
            expires_at_ms: exp.saturating_mul(1000),
            scope: None,
        },
        account,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn pkce_challenge_is_s256_of_the_verifier() {
        let p = Pkce::from_verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r7wW1gFWXeEjXk".into());
        // Python: urlsafe_b64encode(sha256(v)).rstrip("=")
        assert_eq!(p.challenge, "yvzSpAiOeSC268wp-gFPDFCTHcuT7cH8kAtbEHVj-Ek");
        let g = Pkce::generate();
        assert_eq!(g.verifier.expose().len(), 43);
        assert_eq!(g.challenge, s256(g.verifier.expose()));
        assert_ne!(Pkce::generate().verifier, g.verifier);
        assert!(!format!("{g:?}").contains(g.verifier.expose()));
    }

    fn pending(provider: &str, expires_at_ms: u64) -> PendingLogin {
        PendingLogin {
            provider: provider.into(),
            pkce: Pkce::generate(),
            redirect_uri: "https://example/cb".into(),
            expires_at_ms,
        }
    }

    #[test]
    fn logins_are_kept_apart_taken_once_and_expire() {
        let states = LoginStates::new();
        states.insert("a".into(), pending("claude", 1_000), 0);
        states.insert("b".into(), pending("claude", 1_000), 0);
        states.insert("c".into(), pending("claude", 10), 0);
        assert_eq!(states.len(0), 3);
        assert_eq!(
            states.take("b", "codex", 5).unwrap_err(),
            LoginStateError::OtherProvider
        );
        assert!(states.take("b", "claude", 5).is_ok());
        assert_eq!(
            states.take("b", "claude", 5).unwrap_err(),
            LoginStateError::Unknown
        );
        assert_eq!(
            states.take("c", "claude", 10).unwrap_err(),
            LoginStateError::Expired
        );
        assert!(states.take("a", "claude", 999).is_ok());
        assert!(states.is_empty(0));
        assert_eq!(
            states.take("zz", "claude", 0).unwrap_err(),
            LoginStateError::Unknown
        );
    }

    #[test]
    fn a_full_store_drops_the_login_expiring_first() {
        let states = LoginStates::new();
        for i in 0..MAX_PENDING_LOGINS {
            states.insert(format!("s{i}"), pending("p", 1_000 + i as u64), 0);
        }
        states.insert("new".into(), pending("p", 5_000), 0);
        assert_eq!(states.len(0), MAX_PENDING_LOGINS);
        assert_eq!(
            states.take("s0", "p", 0).unwrap_err(),
            LoginStateError::Unknown
        );
        assert!(states.take("new", "p", 0).is_ok());
    }

    #[test]
    fn callbacks_are_read_from_urls_fragments_and_bare_codes() {
        let cb =
            parse_callback(" http://localhost:54545/callback?code=abc%2Fd&state=xyz ").unwrap();
        assert_eq!(
            cb,
            Callback {
                code: "abc/d".into(),
                state: Some("xyz".into())
            }
        );
        let cb = parse_callback("abc#xyz").unwrap();
        assert_eq!(
            cb,
            Callback {
                code: "abc".into(),
                state: Some("xyz".into())
            }
        );
        assert_eq!(parse_callback("abc").unwrap().state, None);
        assert_eq!(parse_callback("").unwrap_err(), CallbackError::Empty);
        assert_eq!(
            parse_callback("http://x/cb?state=s").unwrap_err(),
            CallbackError::NoCode
        );
        assert!(matches!(
            parse_callback("http://x/cb?error=access_denied&state=s").unwrap_err(),
            CallbackError::Refused(r) if r == "access_denied"
        ));
        assert_eq!(percent_decode("%4"), "%4");
        assert_eq!(percent_decode("a%"), "a%");
    }

    #[test]
    fn token_answers_keep_the_old_refresh_token_when_none_comes_back() {
        let old = Secret::new("rt-old".into());
        let set = TokenSet::from_answer(
            &json!({"access_token":"at","expires_in":60,"token_type":"Bearer"}),
            1_000,
            Some(&old),
        )
        .unwrap();
        assert_eq!(set.refresh_token, Some(old.clone()));
        assert_eq!(set.expires_at_ms, 61_000);
        let set = TokenSet::from_answer(
            &json!({"access_token":"at","refresh_token":"rt-new"}),
            0,
            Some(&old),
        )
        .unwrap();
        assert_eq!(set.refresh_token.unwrap().expose(), "rt-new");
        assert_eq!(set.expires_at_ms, DEFAULT_LIFETIME_SECS * 1000);
        assert_eq!(
            TokenSet::from_answer(&json!({"error":"x"}), 0, None).unwrap_err(),
            TokenAnswerError::NoAccessToken
        );
        assert_eq!(
            TokenSet::from_answer(&json!({"access_token":"a","token_type":"mac"}), 0, None)
                .unwrap_err(),
            TokenAnswerError::NotBearer
        );
    }

    #[test]
    fn refresh_is_due_a_lead_before_expiry_and_never_without_a_refresh_token() {
        let mut set = TokenSet {
            access_token: Secret::new("a".into()),
            refresh_token: Some(Secret::new("r".into())),
            expires_at_ms: 10_000,
            scope: None,
        };
        assert!(!set.needs_refresh(4_999, 5_000));
        assert!(set.needs_refresh(5_000, 5_000));
        set.refresh_token = None;
        assert!(!set.needs_refresh(20_000, 0));
    }

    #[test]
    fn refresh_failures_are_classified() {
        let permanent = |status, body: &str| {
            matches!(
                classify_refresh_error(status, body.as_bytes(), None),
                RefreshFailure::Permanent(_)
            )
        };
        assert!(permanent(
            400,
            r#"{"error":"invalid_grant","error_description":"Refresh token not found or invalid"}"#
        ));
        assert!(permanent(
            401,
            r#"{"error":{"code":"refresh_token_reused","message":"already used"}}"#
        ));
        assert!(permanent(401, ""));
        assert!(permanent(
            400,
            r#"{"error":{"code":"refresh_token_expired"}}"#
        ));
        match classify_refresh_error(
            400,
            br#"{"error":"invalid_grant","error_description":"gone"}"#,
            None,
        ) {
            RefreshFailure::Permanent(r) => {
                assert_eq!(r, "refresh failed: 400: invalid_grant: gone")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            classify_refresh_error(429, b"", Some(7)),
            RefreshFailure::Throttled(7)
        );
        assert_eq!(
            classify_refresh_error(429, b"", None),
            RefreshFailure::Throttled(DEFAULT_THROTTLE_SECS)
        );
        assert!(matches!(
            classify_refresh_error(503, b"oops", None),
            RefreshFailure::Transient(_)
        ));
        assert!(matches!(
            classify_refresh_error(400, br#"{"error":"invalid_request"}"#, None),
            RefreshFailure::Transient(_)
        ));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn fifty_waiters_cause_one_refresh() {
        let gate = Arc::new(RefreshGate::new());
        let version = Arc::new(AtomicUsize::new(0));
        let refreshes = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let (gate, version, refreshes) = (
                Arc::clone(&gate),
                Arc::clone(&version),
                Arc::clone(&refreshes),
            );
            tasks.push(tokio::spawn(async move {
                let load_version = Arc::clone(&version);
                gate.run(
                    7,
                    0,
                    || async move {
                        let v = load_version.load(Ordering::SeqCst) as u64;
                        Ok::<_, ()>((v, format!("token-{v}")))
                    },
                    |_| async move {
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                        refreshes.fetch_add(1, Ordering::SeqCst);
                        let v = version.fetch_add(1, Ordering::SeqCst) + 1;
                        Ok(format!("token-{v}"))
                    },
                )
                .await
            }));
        }
        for task in tasks {
            assert_eq!(task.await.unwrap().unwrap(), "token-1");
        }
        assert_eq!(refreshes.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn claude_credentials_json_and_setup_tokens_import() {
        let file = json!({"claudeAiOauth":{
            "accessToken":"sk-ant-oat01-a","refreshToken":"sk-ant-ort01-r","expiresAt":1_800_000_000_000u64,
            "scopes":["user:inference","user:profile"],"subscriptionType":"max","rateLimitTier":"default_claude_max_20x"}});
        let imported = import_claude(&file.to_string(), 0).unwrap();
        assert_eq!(imported.tokens.access_token.expose(), "sk-ant-oat01-a");
        assert_eq!(
            imported.tokens.refresh_token.unwrap().expose(),
            "sk-ant-ort01-r"
        );
        assert_eq!(imported.tokens.expires_at_ms, 1_800_000_000_000);
        assert_eq!(
            imported.tokens.scope.as_deref(),
            Some("user:inference user:profile")
        );
        assert_eq!(imported.account["plan"], "max");
        let setup = import_claude("sk-ant-oat01-setup", 1_000).unwrap();
        assert_eq!(setup.tokens.refresh_token, None);
        assert_eq!(
            setup.tokens.expires_at_ms,
            1_000 + SETUP_TOKEN_LIFETIME_SECS * 1000
        );
        assert_eq!(setup.account["auth_kind"], "setup_token");
        let err = import_claude(r#"{"claudeAiOauth":{"accessToken":"a"}}"#, 0).unwrap_err();
        assert_eq!(err.path, "claudeAiOauth.refreshToken");
        assert_eq!(import_claude("{}", 0).unwrap_err().path, "claudeAiOauth");
        assert_eq!(import_claude("nonsense", 0).unwrap_err().path, "");
    }

    fn jwt(claims: &Value) -> String {
        format!(
            "{}.{}.sig",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256"}"#),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        )
    }

    #[test]
    fn codex_auth_json_imports_with_its_claims() {
        let id = jwt(&json!({"email":"a@b.c","https://api.openai.com/auth":{
            "chatgpt_account_id":"acc-1","chatgpt_plan_type":"plus"}}));
        let access = jwt(&json!({"exp": 1_900_000_000u64}));
        let file = json!({"OPENAI_API_KEY":null,"tokens":{"id_token":id,"access_token":access,
            "refresh_token":"rt"},"last_refresh":"2026-01-01T00:00:00Z"});
        let imported = import_codex(&file.to_string()).unwrap();
        assert_eq!(imported.tokens.expires_at_ms, 1_900_000_000_000);
        assert_eq!(imported.account["email"], "a@b.c");
        assert_eq!(imported.account["account_id"], "acc-1");
        assert_eq!(imported.account["plan"], "plus");
        let no_tokens = json!({"OPENAI_API_KEY":"sk-x"}).to_string();
        assert_eq!(import_codex(&no_tokens).unwrap_err().path, "tokens");
        let opaque = json!({"tokens":{"access_token":"opaque","refresh_token":"r"}}).to_string();
        assert_eq!(
            import_codex(&opaque).unwrap_err().path,
            "tokens.access_token"
        );
    }
}
