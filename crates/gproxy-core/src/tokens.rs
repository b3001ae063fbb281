//! OAuth access tokens for service-account credentials (Vertex AI): the
//! JWT-bearer exchange at the key's `token_uri`, sent through the shared
//! [`UpstreamClient`] (so the egress proxy and connect timeout apply), and
//! a cache that keeps each credential's token until
//! [`REFRESH_MARGIN`] before it expires.
//!
//! Concurrent requests for a credential whose token is missing or stale
//! wait for one exchange (moka's `try_get_with` runs one init per key). A
//! failed exchange is not cached: the next request tries again.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use gproxy_credential::{Credential, Secret, ServiceAccountKey};
use http::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderValue, Method, Request};
use http_body_util::{BodyExt, Limited};
use moka::Expiry;
use moka::future::Cache;
use serde::Deserialize;

use crate::GatewayError;
use crate::upstream::{UpstreamBody, UpstreamClient};

/// A token is refreshed this long before the token endpoint says it expires.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// The whole exchange (connect, answer, body) must finish within this.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(30);

/// Largest token-endpoint answer read.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Most credentials whose tokens are kept.
const MAX_TOKENS: u64 = 10_000;

/// A credential's row id and key id: a rotated key gets a new token.
type TokenKey = (i64, String);

/// One cached access token.
#[derive(Debug)]
struct CachedToken {
    token: Secret,
    /// When the cache drops it (expiry minus [`REFRESH_MARGIN`]).
    refresh_at: Instant,
}

/// Expires each entry at its own `refresh_at`.
struct RefreshAt;

impl Expiry<TokenKey, Arc<CachedToken>> for RefreshAt {
    fn expire_after_create(
        &self,
        _key: &TokenKey,
        value: &Arc<CachedToken>,
        created_at: Instant,
    ) -> Option<Duration> {
        Some(value.refresh_at.saturating_duration_since(created_at))
    }
}

/// The token endpoint's answer.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: u64,
    #[serde(default)]
    token_type: Option<String>,
}

/// An OAuth error answer (`{"error":"invalid_grant","error_description":...}`).
#[derive(Deserialize)]
struct TokenErrorAnswer {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// The access-token cache, shared by every request.
#[derive(Clone)]
pub(crate) struct TokenCache {
    upstream: UpstreamClient,
    cache: Cache<TokenKey, Arc<CachedToken>>,
    /// OAuth logins' tokens (refreshed when due).
    oauth: Arc<crate::oauth::OAuthManager>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("tokens", &self.cache.entry_count())
            .finish()
    }
}

impl TokenCache {
    /// An empty cache exchanging through `upstream`; OAuth logins go to
    /// `oauth`.
    pub(crate) fn new(upstream: UpstreamClient, oauth: Arc<crate::oauth::OAuthManager>) -> Self {
        TokenCache {
            upstream,
            oauth,
            cache: Cache::builder()
                .max_capacity(MAX_TOKENS)
                .expire_after(RefreshAt)
                .build(),
        }
    }

    /// The credential to authenticate with: `credential` itself; for a
    /// service account the access token exchanged for it (from the cache
    /// when fresh); for an OAuth login its newest token, refreshed first
    /// when due (a refresh that fails for good disables `health`). Other
    /// credentials cost one `match`.
    pub(crate) async fn resolve<'a>(
        &self,
        credential_id: i64,
        credential: &'a Credential,
        kind: &dyn gproxy_provider::Provider,
        provider: &str,
        health: Option<&gproxy_credential::CredentialHealth>,
    ) -> Result<Cow<'a, Credential>, GatewayError> {
        let key = match credential {
            Credential::ServiceAccount(key) => key,
            Credential::OAuth(login) => {
                // Boxed: the refresh's state (database and token calls)
                // must not grow the future every proxied request moves.
                let fresh = Box::pin(self.oauth.resolve(credential_id, login, kind, health))
                    .await
                    .map_err(|e| GatewayError::UpstreamUnavailable {
                        provider: provider.to_owned(),
                        message: format!("the credential's OAuth token cannot be renewed: {e}"),
                    })?;
                return Ok(Cow::Owned(Credential::OAuth(Box::new((*fresh).clone()))));
            }
            _ => return Ok(Cow::Borrowed(credential)),
        };
        // Boxed, as the refresh above: the cache's and the exchange's
        // state (a token call) must not grow every proxied request's future
        // (it had added 3.5 KB to it, moved several times per request).
        let token = Box::pin(self.service_account_token(credential_id, key))
            .await
            .map_err(|message| {
                tracing::warn!(provider, credential_id, error = %message, "token exchange failed");
                GatewayError::UpstreamUnavailable {
                    provider: provider.to_owned(),
                    message: format!("service-account token exchange failed: {message}"),
                }
            })?;
        Ok(Cow::Owned(Credential::AccessToken {
            token: token.token.clone(),
        }))
    }

    /// The access token for a service account: from the cache when fresh,
    /// else exchanged (one exchange per key at a time).
    async fn service_account_token(
        &self,
        credential_id: i64,
        key: &ServiceAccountKey,
    ) -> Result<Arc<CachedToken>, Arc<String>> {
        let cache_key = (credential_id, key.private_key_id.clone());
        self.cache.try_get_with(cache_key, self.exchange(key)).await
    }

    /// One JWT-bearer exchange. Errors never contain the key or the JWT.
    async fn exchange(&self, key: &ServiceAccountKey) -> Result<Arc<CachedToken>, String> {
        match tokio::time::timeout(EXCHANGE_TIMEOUT, self.exchange_inner(key)).await {
            Ok(result) => result,
            Err(_) => Err(format!(
                "the token endpoint gave no answer within {EXCHANGE_TIMEOUT:?}"
            )),
        }
    }

    async fn exchange_inner(&self, key: &ServiceAccountKey) -> Result<Arc<CachedToken>, String> {
        let started = Instant::now();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let jwt = key.signed_jwt(now).map_err(|e| e.to_string())?;
        let body = Bytes::from(ServiceAccountKey::token_request_body(&jwt));
        let mut builder = Request::builder().method(Method::POST).uri(&key.token_uri);
        if let Some(h) = builder.headers_mut() {
            h.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            );
            h.insert(ACCEPT, HeaderValue::from_static("application/json"));
            h.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        }
        let request = builder
            .body(UpstreamBody::full(body))
            .map_err(|_| "the key's `token_uri` is not a valid URL".to_owned())?;
        let response = self
            .upstream
            .send(request)
            .await
            .map_err(|e| format!("cannot reach the token endpoint: {e}"))?;
        let status = response.status();
        let answer = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
            .map_err(|e| format!("reading the token endpoint's answer: {e}"))?
            .to_bytes();
        if !status.is_success() {
            let detail = serde_json::from_slice::<TokenErrorAnswer>(&answer)
                .map(|e| {
                    let mut detail = format!(": {}", truncate(&e.error));
                    if let Some(d) = e.error_description {
                        detail.push_str(": ");
                        detail.push_str(truncate(&d));
                    }
                    detail
                })
                .unwrap_or_default();
            return Err(format!("the token endpoint answered {status}{detail}"));
        }
        let parsed: TokenAnswer = serde_json::from_slice(&answer)
            .map_err(|_| "the token endpoint's answer has no access token".to_owned())?;
        if parsed
            .token_type
            .as_deref()
            .is_some_and(|t| !t.eq_ignore_ascii_case("bearer"))
        {
            return Err("the token endpoint issued a token that is not a bearer token".into());
        }
        if parsed.access_token.is_empty() {
            return Err("the token endpoint issued an empty token".into());
        }
        let lifetime = Duration::from_secs(parsed.expires_in).saturating_sub(REFRESH_MARGIN);
        Ok(Arc::new(CachedToken {
            token: Secret::new(parsed.access_token),
            refresh_at: started + lifetime,
        }))
    }
}

/// At most 200 bytes of an upstream string, cut at a char boundary.
fn truncate(s: &str) -> &str {
    let mut end = s.len().min(200);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_cuts_at_a_char_boundary() {
        assert_eq!(truncate("abc"), "abc");
        let long = "é".repeat(150);
        assert!(truncate(&long).len() <= 200);
    }

    #[tokio::test]
    async fn other_credentials_pass_through_untouched() {
        let upstream = UpstreamClient::new(&crate::upstream::UpstreamConfig::new(
            Duration::from_secs(1),
            None,
        ))
        .unwrap();
        let oauth = Arc::new(crate::oauth::OAuthManager::new(
            upstream.clone(),
            Arc::new(gproxy_credential::seal::Sealer::new(
                &gproxy_credential::seal::MasterKey::generate(),
            )),
        ));
        let cache = TokenCache::new(upstream, oauth);
        let key = Credential::ApiKey {
            key: Secret::new("sk".into()),
        };
        let resolving = cache.resolve(1, &key, &gproxy_provider::builtin::Claude, "p", None);
        // Every proxied request's future holds this one, and is moved
        // whole several times: the refresh's and the exchange's state are
        // boxed, out of it (they made it 3,552 bytes; it is under 280).
        assert!(
            std::mem::size_of_val(&resolving) <= 512,
            "{} bytes",
            std::mem::size_of_val(&resolving)
        );
        assert!(matches!(resolving.await.unwrap(), Cow::Borrowed(_)));
    }
}
