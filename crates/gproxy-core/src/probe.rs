//! Testing one credential (`POST /admin/api/credentials/{id}/test`): one
//! cheap upstream call with exactly that credential — the provider's model
//! list — timed, whatever the pool would have picked.

use std::time::{Duration, Instant};

use bytes::Bytes;
use gproxy_credential::Credential;
use http::header::{ACCEPT, HeaderValue};
use http::{HeaderMap, Method, Request};
use http_body_util::{BodyExt, Limited};

use crate::Engine;
use crate::upstream::UpstreamBody;

/// How long a credential test may take. 20 s.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(20);
/// Largest model list read by a test. 4 MiB.
const MAX_PROBE_BYTES: usize = 4 * 1024 * 1024;

/// The outcome of a credential test.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProbeResult {
    /// Whether the upstream accepted the credential.
    pub ok: bool,
    /// The upstream's HTTP status, when it answered.
    pub status: Option<u16>,
    /// Time to the whole answer, in milliseconds.
    pub latency_ms: u64,
    /// How many models the list held (on success).
    pub models: Option<usize>,
    /// What went wrong, or what was called.
    pub message: String,
}

impl Engine {
    /// Calls `provider`'s model list with `credential` (row `credential_id`).
    pub async fn probe_credential(
        &self,
        provider: &str,
        credential_id: i64,
        credential: &Credential,
    ) -> ProbeResult {
        let started = Instant::now();
        let fail = |status: Option<u16>, message: String| ProbeResult {
            ok: false,
            status,
            latency_ms: millis(started.elapsed()),
            models: None,
            message,
        };
        let snapshot = self.state.load_full();
        let Some(p) = snapshot.providers.get(provider) else {
            return fail(
                None,
                format!("provider `{provider}` is not loaded (unusable settings?)"),
            );
        };
        let Some(url) = p.provider.models_url(&p.base_url, None) else {
            return fail(
                None,
                format!(
                    "provider kind `{}` has no model list to test against",
                    p.provider.kind()
                ),
            );
        };
        let credential = match self
            .tokens
            .resolve(
                credential_id,
                credential,
                p.provider.as_ref(),
                provider,
                None,
            )
            .await
        {
            Ok(c) => c,
            Err(e) => return fail(None, e.to_string()),
        };
        let mut headers = HeaderMap::new();
        p.provider.default_headers(&mut headers);
        if let Err(e) = p.provider.apply_auth(&credential, &mut headers) {
            return fail(None, e.to_string());
        }
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let mut builder = Request::builder().method(Method::GET).uri(&url);
        if let Some(h) = builder.headers_mut() {
            *h = headers;
        }
        let request = match builder.body(UpstreamBody::full(Bytes::new())) {
            Ok(r) => r,
            Err(e) => return fail(None, format!("cannot build the request for {url}: {e}")),
        };
        let call = async {
            let response = self
                .upstream
                .send(request)
                .await
                .map_err(|e| (None, format!("cannot reach the upstream: {e}")))?;
            let status = response.status();
            let body = Limited::new(response.into_body(), MAX_PROBE_BYTES)
                .collect()
                .await
                .map_err(|e| (Some(status.as_u16()), format!("reading the answer: {e}")))?
                .to_bytes();
            Ok::<_, (Option<u16>, String)>((status, body))
        };
        let (status, body) = match tokio::time::timeout(PROBE_TIMEOUT, call).await {
            Ok(Ok(answer)) => answer,
            Ok(Err((status, message))) => return fail(status, message),
            Err(_) => return fail(None, format!("no answer within {PROBE_TIMEOUT:?}")),
        };
        if !status.is_success() {
            let snippet: String = String::from_utf8_lossy(&body).chars().take(300).collect();
            return fail(
                Some(status.as_u16()),
                format!("the upstream answered {status}: {snippet}"),
            );
        }
        let models = p
            .provider
            .parse_models(&body)
            .map(|page| page.models.len())
            .ok();
        ProbeResult {
            ok: true,
            status: Some(status.as_u16()),
            latency_ms: millis(started.elapsed()),
            models,
            message: format!("GET {}", url.split('?').next().unwrap_or(&url)),
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
