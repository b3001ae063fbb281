//! OAuth subscription credentials at run time (codex, claudecode,
//! antigravity, geminicli): logins, the token lifecycle and quotas. The
//! provider kind says *what* (URLs, bodies, account facts:
//! [`gproxy_provider::oauth`]); this module does the IO.
//!
//! ## Token lifecycle
//! A request that picks an OAuth credential gets its newest known token
//! ([`OAuthManager::resolve`]): the one in the state snapshot, or a newer
//! one this instance refreshed since. Within the kind's lead before
//! expiry, the token is refreshed first:
//!
//! - **One refresh per credential in this process**: callers queue on the
//!   credential's lock; whoever comes after a refresh re-reads the row and
//!   finds the new token.
//! - **One refresh across instances**: the refresher first *claims* the
//!   row (`refresh_lock_until_ms`, written with the row's version as a
//!   compare-and-swap, [`gproxy_storage::Storage::swap_credential_secret`]);
//!   an instance that finds a live claim waits for the row to change and
//!   uses the winner's token. A claim outlives a crashed refresher by at
//!   most [`CLAIM_MS`].
//! - **Write before use**: the refreshed pair is stored (CAS on the
//!   claimed version) before the new access token goes out, so a rotated
//!   refresh token is never only in memory.
//! - A refresh that fails for good (`invalid_grant`, reuse, revoked)
//!   stores the reason in the row and disables the credential: the pool
//!   moves on, `/health` and the admin API show why, and a restart does
//!   not bring it back until someone logs in again. A transient failure
//!   keeps the current token while it is still valid.
//! - A 401 from the upstream refreshes once and retries once
//!   ([`OAuthManager::refresh_rejected`]); a token another request already
//!   replaced is not refreshed again.

mod discovery;
mod login;
mod quota;

pub use login::{LoginError, LoginStart, Polled};
pub use quota::QuotaReport;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use gproxy_credential::clock::now_ms;
use gproxy_credential::oauth::{
    LoginStates, OAuthCredential, RefreshFailure, RefreshGate, TokenSet, classify_refresh_error,
};
use gproxy_credential::seal::Sealer;
use gproxy_credential::{Credential, CredentialHealth};
use gproxy_provider::Provider;
use gproxy_provider::oauth::OAuthSpec;
use gproxy_storage::Storage;
use http::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request};
use http_body_util::{BodyExt, Limited};
use serde_json::Value;

use crate::upstream::{UpstreamBody, UpstreamClient};

/// How long a refresh claim holds the row for the instance that wrote it.
pub const CLAIM_MS: u64 = 30_000;

/// The whole token call (connect, answer, body) must finish within this.
const TOKEN_CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Largest token-endpoint answer read.
const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// Between two reads of a row another instance is refreshing.
const CLAIM_POLL: Duration = Duration::from_millis(100);

/// Why a credential's token could not be renewed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefreshError {
    /// Dead for good: the credential is disabled with this reason.
    #[error("{0}")]
    Permanent(String),
    /// Try again later.
    #[error("{0}")]
    Transient(String),
}

/// OAuth state shared by every request and admin call.
pub struct OAuthManager {
    upstream: UpstreamClient,
    sealer: Arc<Sealer>,
    storage: OnceLock<Storage>,
    /// Pending authorization-code logins.
    pub(crate) logins: LoginStates,
    /// Pending device-code logins, by state.
    pub(crate) devices: Mutex<HashMap<String, login::DeviceLogin>>,
    /// The newest credential this instance knows, by row id (a refresh
    /// lands here before the next snapshot has it).
    live: Mutex<HashMap<i64, Arc<OAuthCredential>>>,
    /// One refresh at a time per credential in this process.
    gate: RefreshGate,
    /// A throttled token endpoint: no call for this credential until then.
    throttled: Mutex<HashMap<i64, u64>>,
    pub(crate) quotas: quota::QuotaCache,
    stats: Stats,
}

/// Counters shown in `/health`.
#[derive(Debug, Default)]
struct Stats {
    refreshes: std::sync::atomic::AtomicU64,
    refresh_failures: std::sync::atomic::AtomicU64,
    adopted: std::sync::atomic::AtomicU64,
}

/// The OAuth part of `/health`.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct OAuthReport {
    /// Token refreshes this instance made.
    pub refreshes: u64,
    /// Refreshes that failed (transient or permanent).
    pub refresh_failures: u64,
    /// Tokens another instance (or request) refreshed, picked up here.
    pub adopted: u64,
    /// Logins started and not yet completed.
    pub pending_logins: usize,
}

impl std::fmt::Debug for OAuthManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthManager").finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl OAuthManager {
    /// A manager calling out through `upstream`, sealing with `sealer`.
    pub fn new(upstream: UpstreamClient, sealer: Arc<Sealer>) -> Self {
        OAuthManager {
            upstream,
            sealer,
            storage: OnceLock::new(),
            logins: LoginStates::new(),
            devices: Mutex::new(HashMap::new()),
            live: Mutex::new(HashMap::new()),
            gate: RefreshGate::new(),
            throttled: Mutex::new(HashMap::new()),
            quotas: quota::QuotaCache::new(),
            stats: Stats::default(),
        }
    }

    /// The database refreshed tokens are written to (set once at start).
    pub fn set_storage(&self, storage: Storage) {
        let _ = self.storage.set(storage);
    }

    /// What `/health` shows.
    pub fn report(&self) -> OAuthReport {
        use std::sync::atomic::Ordering::Relaxed;
        let now = now_ms();
        OAuthReport {
            refreshes: self.stats.refreshes.load(Relaxed),
            refresh_failures: self.stats.refresh_failures.load(Relaxed),
            adopted: self.stats.adopted.load(Relaxed),
            pending_logins: self.logins.len(now)
                + lock(&self.devices)
                    .values()
                    .filter(|d| d.expires_at_ms > now)
                    .count(),
        }
    }

    /// The newest of the snapshot's credential and the one refreshed here.
    fn newest(&self, id: i64, snapshot: &OAuthCredential) -> Arc<OAuthCredential> {
        let mut live = lock(&self.live);
        match live.get(&id) {
            Some(known) if known.version >= snapshot.version => known.clone(),
            _ => {
                let fresh = Arc::new(snapshot.clone());
                live.insert(id, fresh.clone());
                fresh
            }
        }
    }

    /// The credential to send for row `id`: its newest token, refreshed
    /// first when it is within the kind's lead before expiry. A refresh
    /// that fails while the token is still valid leaves it in use.
    pub async fn resolve(
        &self,
        id: i64,
        snapshot: &OAuthCredential,
        provider: &dyn Provider,
        health: Option<&CredentialHealth>,
    ) -> Result<Arc<OAuthCredential>, RefreshError> {
        let current = self.newest(id, snapshot);
        let Some(spec) = provider.oauth() else {
            return Ok(current);
        };
        let now = now_ms();
        if !current
            .tokens
            .needs_refresh(now, spec.refresh_lead_secs.saturating_mul(1000))
        {
            return Ok(current);
        }
        match self.refresh(id, provider, None, health).await {
            Ok(fresh) => Ok(fresh),
            Err(RefreshError::Transient(e)) if current.tokens.expires_at_ms > now => {
                tracing::warn!(credential_id = id, error = %e, "refresh ahead of expiry failed; the current token is still valid");
                Ok(current)
            }
            Err(e) => Err(e),
        }
    }

    /// After the upstream refused the token of `used_version` (401): a
    /// refresh unless someone already replaced that token, then the newest
    /// credential.
    pub async fn refresh_rejected(
        &self,
        id: i64,
        used_version: i64,
        provider: &dyn Provider,
        health: Option<&CredentialHealth>,
    ) -> Result<Arc<OAuthCredential>, RefreshError> {
        self.refresh(id, provider, Some(used_version), health).await
    }

    fn adopt(&self, id: i64, credential: OAuthCredential) -> Arc<OAuthCredential> {
        let fresh = Arc::new(credential);
        lock(&self.live).insert(id, fresh.clone());
        fresh
    }

    /// Refreshes credential `id` (see the module docs). `rejected`: the
    /// version whose token the upstream refused; the refresh is skipped
    /// when the row has moved past it. Without it, when the row's token
    /// is no longer due.
    async fn refresh(
        &self,
        id: i64,
        provider: &dyn Provider,
        rejected: Option<i64>,
        health: Option<&CredentialHealth>,
    ) -> Result<Arc<OAuthCredential>, RefreshError> {
        let spec = provider.oauth().ok_or_else(|| {
            RefreshError::Permanent("the provider kind has no OAuth client".into())
        })?;
        let _held = self.gate.lock(id).await;
        let lead_ms = spec.refresh_lead_secs.saturating_mul(1000);
        let Some(storage) = self.storage.get() else {
            // No database (an embedder's engine): refresh in memory.
            let current = lock(&self.live)
                .get(&id)
                .cloned()
                .ok_or_else(|| RefreshError::Transient("the credential is not loaded".into()))?;
            let tokens = self.call_refresh(id, spec, &current.tokens, provider).await;
            return self.settle_in_memory(id, &current, tokens, health);
        };
        loop {
            let row = storage
                .get_credential(id)
                .await
                .map_err(|e| RefreshError::Transient(format!("reading the credential: {e}")))?
                .ok_or_else(|| RefreshError::Permanent("the credential was deleted".into()))?;
            let mut current = self.open(&row)?;
            let now = now_ms();
            if let Some(reason) = &current.disabled_reason {
                disable(health, reason);
                return Err(RefreshError::Permanent(reason.clone()));
            }
            let moved_on = match rejected {
                Some(v) => current.version > v && current.refresh_lock_until_ms.is_none(),
                None => !current.tokens.needs_refresh(now, lead_ms),
            };
            if moved_on {
                self.stats
                    .adopted
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return Ok(self.adopt(id, current));
            }
            if current
                .refresh_lock_until_ms
                .is_some_and(|until| until > now)
            {
                // Another instance is refreshing: wait for its result.
                tokio::time::sleep(CLAIM_POLL).await;
                continue;
            }
            if let Some(until) = lock(&self.throttled).get(&id).copied().filter(|u| *u > now) {
                return Err(RefreshError::Transient(format!(
                    "the token endpoint throttles refreshes; next try in {} s",
                    (until - now).div_ceil(1000)
                )));
            }
            // Claim the row.
            let claimed_version = current.version + 1;
            current.refresh_lock_until_ms = Some(now + CLAIM_MS);
            if !self.swap(storage, id, current.version, &current).await? {
                continue;
            }
            current.refresh_lock_until_ms = None;
            current.version = claimed_version;
            let answer = self.call_refresh(id, spec, &current.tokens, provider).await;
            return match answer {
                Ok((tokens, account)) => {
                    current.tokens = tokens;
                    merge_account(&mut current.account, account);
                    // Write before use.
                    if self.swap(storage, id, claimed_version, &current).await? {
                        current.version = claimed_version + 1;
                    } else {
                        tracing::error!(
                            credential_id = id,
                            "the refreshed tokens could not be stored (the row changed meanwhile); they are used from memory"
                        );
                    }
                    self.stats
                        .refreshes
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tracing::info!(credential_id = id, "OAuth token refreshed");
                    Ok(self.adopt(id, current))
                }
                Err(failure) => {
                    self.stats
                        .refresh_failures
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let error = match failure {
                        RefreshFailure::Permanent(reason) => {
                            tracing::warn!(
                                credential_id = id,
                                reason,
                                "refresh failed for good: credential disabled"
                            );
                            current.disabled_reason = Some(reason.clone());
                            disable(health, &reason);
                            RefreshError::Permanent(reason)
                        }
                        RefreshFailure::Throttled(secs) => {
                            lock(&self.throttled).insert(id, now_ms() + secs * 1000);
                            RefreshError::Transient(format!(
                                "the token endpoint throttles refreshes (retry in {secs} s)"
                            ))
                        }
                        RefreshFailure::Transient(reason) => RefreshError::Transient(reason),
                    };
                    // Release the claim (and store a dead credential's reason).
                    if self.swap(storage, id, claimed_version, &current).await? {
                        current.version = claimed_version + 1;
                    }
                    self.adopt(id, current);
                    Err(error)
                }
            };
        }
    }

    fn settle_in_memory(
        &self,
        id: i64,
        current: &OAuthCredential,
        answer: Result<(TokenSet, serde_json::Map<String, Value>), RefreshFailure>,
        health: Option<&CredentialHealth>,
    ) -> Result<Arc<OAuthCredential>, RefreshError> {
        let mut next = current.clone();
        match answer {
            Ok((tokens, account)) => {
                next.tokens = tokens;
                merge_account(&mut next.account, account);
                next.version += 1;
                Ok(self.adopt(id, next))
            }
            Err(RefreshFailure::Permanent(reason)) => {
                disable(health, &reason);
                next.disabled_reason = Some(reason.clone());
                self.adopt(id, next);
                Err(RefreshError::Permanent(reason))
            }
            Err(RefreshFailure::Throttled(secs)) => Err(RefreshError::Transient(format!(
                "the token endpoint throttles refreshes (retry in {secs} s)"
            ))),
            Err(RefreshFailure::Transient(reason)) => Err(RefreshError::Transient(reason)),
        }
    }

    /// The credential stored in `row`, with its version.
    fn open(&self, row: &gproxy_storage::CredentialRow) -> Result<OAuthCredential, RefreshError> {
        let secret = self.sealer.open_json(&row.secret).map_err(|e| {
            RefreshError::Permanent(format!("the stored secret does not open: {e}"))
        })?;
        let mut credential = OAuthCredential::from_json(&secret)
            .map_err(|e| RefreshError::Permanent(e.to_string()))?;
        credential.version = row.version;
        Ok(credential)
    }

    async fn swap(
        &self,
        storage: &Storage,
        id: i64,
        expected_version: i64,
        credential: &OAuthCredential,
    ) -> Result<bool, RefreshError> {
        let sealed = self.sealer.seal_json(&credential.to_json());
        storage
            .swap_credential_secret(id, expected_version, &sealed)
            .await
            .map_err(|e| RefreshError::Transient(format!("storing the credential: {e}")))
    }

    /// One refresh-token grant.
    async fn call_refresh(
        &self,
        id: i64,
        spec: &OAuthSpec,
        tokens: &TokenSet,
        provider: &dyn Provider,
    ) -> Result<(TokenSet, serde_json::Map<String, Value>), RefreshFailure> {
        let Some(refresh) = &tokens.refresh_token else {
            return Err(RefreshFailure::Permanent(
                "the access token expired and there is no refresh token (log in again)".into(),
            ));
        };
        let (body, content_type) = spec.refresh_body(refresh.expose());
        let (status, headers, answer) = self
            .post_token(&spec.token_url, spec, body, content_type)
            .await
            .map_err(RefreshFailure::Transient)?;
        if !status.is_success() {
            let retry_after = headers
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok());
            let failure = classify_refresh_error(status.as_u16(), &answer, retry_after);
            tracing::warn!(
                credential_id = id,
                status = status.as_u16(),
                ?failure,
                "token refresh refused"
            );
            return Err(failure);
        }
        let json: Value = serde_json::from_slice(&answer).map_err(|_| {
            RefreshFailure::Transient("the token endpoint's answer is not JSON".into())
        })?;
        let fresh = TokenSet::from_answer(&json, now_ms(), tokens.refresh_token.as_ref())
            .map_err(|e| RefreshFailure::Transient(e.to_string()))?;
        let fresh = TokenSet {
            scope: fresh.scope.or_else(|| tokens.scope.clone()),
            ..fresh
        };
        Ok((fresh, provider.oauth_account(&json)))
    }

    /// A `POST` to a token endpoint: status, headers and the answer.
    pub(crate) async fn post_token(
        &self,
        url: &str,
        spec: &OAuthSpec,
        body: Vec<u8>,
        content_type: &'static str,
    ) -> Result<(http::StatusCode, HeaderMap, Bytes), String> {
        let extra: Vec<(&str, &str)> = spec
            .token_headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.call(Method::POST, url, &extra, Some((body, content_type)))
            .await
    }

    /// One call outside a proxied request (token, discovery, quota).
    pub(crate) async fn call(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<(Vec<u8>, &'static str)>,
    ) -> Result<(http::StatusCode, HeaderMap, Bytes), String> {
        let mut map = HeaderMap::new();
        map.insert(ACCEPT, HeaderValue::from_static("application/json"));
        for (k, v) in headers {
            if let (Ok(k), Ok(v)) = (HeaderName::try_from(*k), HeaderValue::try_from(*v)) {
                map.insert(k, v);
            }
        }
        self.send(method, url, map, body).await
    }

    /// Sends `method url` with exactly `headers` (plus the body's type and
    /// length) and reads the answer.
    pub(crate) async fn send(
        &self,
        method: Method,
        url: &str,
        mut headers: HeaderMap,
        body: Option<(Vec<u8>, &'static str)>,
    ) -> Result<(http::StatusCode, HeaderMap, Bytes), String> {
        let bytes = match body {
            Some((bytes, content_type)) => {
                headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
                Bytes::from(bytes)
            }
            None => Bytes::new(),
        };
        if method == Method::POST {
            headers.insert(CONTENT_LENGTH, HeaderValue::from(bytes.len()));
        }
        let mut builder = Request::builder().method(method).uri(url);
        if let Some(h) = builder.headers_mut() {
            *h = headers;
        }
        let request = builder
            .body(UpstreamBody::full(bytes))
            .map_err(|_| format!("`{url}` is not a valid URL"))?;
        let call = async {
            let response = self
                .upstream
                .send(request)
                .await
                .map_err(|e| format!("cannot reach {url}: {e}"))?;
            let (parts, body) = response.into_parts();
            let answer = Limited::new(body, MAX_ANSWER_BYTES)
                .collect()
                .await
                .map_err(|e| format!("reading the answer of {url}: {e}"))?
                .to_bytes();
            Ok((parts.status, parts.headers, answer))
        };
        match tokio::time::timeout(TOKEN_CALL_TIMEOUT, call).await {
            Ok(result) => result,
            Err(_) => Err(format!(
                "{url} gave no answer within {TOKEN_CALL_TIMEOUT:?}"
            )),
        }
    }

    /// The credential as this instance would send it now (for side calls
    /// such as quota and model lists): an OAuth login resolved (refreshed
    /// when due), anything else as it is.
    pub async fn usable(
        &self,
        id: i64,
        credential: &Credential,
        provider: &dyn Provider,
    ) -> Result<Credential, RefreshError> {
        match credential {
            Credential::OAuth(login) => {
                let fresh = self.resolve(id, login, provider, None).await?;
                Ok(Credential::OAuth(Box::new((*fresh).clone())))
            }
            other => Ok(other.clone()),
        }
    }
}

fn disable(health: Option<&CredentialHealth>, reason: &str) {
    if let Some(health) = health
        && !health.is_disabled()
    {
        health.disable(reason.to_owned(), now_ms());
    }
}

/// Adds the non-empty facts of `fresh` to `account`.
fn merge_account(
    account: &mut serde_json::Map<String, Value>,
    fresh: serde_json::Map<String, Value>,
) {
    for (k, v) in fresh {
        let empty = v.is_null() || v.as_str().is_some_and(str::is_empty);
        if !empty {
            account.insert(k, v);
        }
    }
}

#[cfg(test)]
mod tests;
