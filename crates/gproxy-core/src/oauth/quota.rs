//! A credential's live quota from its kind's endpoint, cached briefly so
//! that a dashboard refreshing every few seconds does not become load on
//! the vendor.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use gproxy_credential::Credential;
use gproxy_provider::Provider;
use gproxy_provider::oauth::Quota;
use http::HeaderMap;
use moka::future::Cache;

use super::OAuthManager;

/// How long a quota answer is reused.
pub const QUOTA_TTL: Duration = Duration::from_secs(30);

/// A credential's quota as the admin API shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct QuotaReport {
    /// The credential's row id.
    pub credential_id: i64,
    /// When it was read from the vendor (RFC 3339).
    pub fetched_at: String,
    /// The quota.
    #[serde(flatten)]
    pub quota: Quota,
}

/// Quota answers by credential id.
pub(crate) struct QuotaCache {
    cache: Cache<i64, Arc<QuotaReport>>,
}

impl QuotaCache {
    pub(crate) fn new() -> Self {
        QuotaCache {
            cache: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(QUOTA_TTL)
                .build(),
        }
    }
}

impl OAuthManager {
    /// Credential `id`'s quota (from the cache when read within
    /// [`QUOTA_TTL`]). `Err`: the kind has none, or the vendor failed.
    pub async fn quota(
        &self,
        id: i64,
        credential: &Credential,
        provider: &dyn Provider,
        base_url: &str,
    ) -> Result<Arc<QuotaReport>, String> {
        if let Some(hit) = self.quotas.cache.get(&id).await {
            return Ok(hit);
        }
        let usable = self
            .usable(id, credential, provider)
            .await
            .map_err(|e| format!("the credential's token cannot be renewed: {e}"))?;
        let call = provider.quota_call(base_url, &usable).ok_or_else(|| {
            format!(
                "provider kind `{}` has no quota endpoint",
                provider.kind()
            )
        })?;
        let mut headers = HeaderMap::new();
        provider.default_headers(&mut headers);
        provider
            .apply_auth(&usable, &mut headers)
            .map_err(|e| e.to_string())?;
        headers.insert(
            http::header::ACCEPT,
            http::HeaderValue::from_static("application/json"),
        );
        let body = call.body.map(|b| (b, "application/json"));
        let (status, answer_headers, answer) = self
            .send(call.method, &call.url, headers, body)
            .await?;
        if !status.is_success() {
            return Err(format!(
                "the quota endpoint answered {status}: {}",
                String::from_utf8_lossy(&answer).chars().take(300).collect::<String>()
            ));
        }
        let quota = provider
            .parse_quota(&answer_headers, &answer)
            .map_err(|e| e.to_string())?;
        let report = Arc::new(QuotaReport {
            credential_id: id,
            fetched_at: DateTime::<Utc>::from(std::time::SystemTime::now()).to_rfc3339(),
            quota,
        });
        self.quotas.cache.insert(id, report.clone()).await;
        Ok(report)
    }
}
