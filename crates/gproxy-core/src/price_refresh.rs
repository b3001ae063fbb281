//! The optional refresh of the price catalogue from a URL (`[pricing]
//! refresh_url`, off by default): a background task fetches the document
//! at start and then every `refresh_interval_secs`, validates it
//! ([`Catalogue::parse`]) and swaps it in under the overrides in force. A
//! document that fails (unreachable, not 200, too large, invalid) is
//! refused and the catalogue in force kept. Never on the request path;
//! its status is in `GET /admin/api/pricing` and `/health`.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http_body_util::{BodyExt, Limited};
use serde::Serialize;

use crate::Engine;
use crate::cost::Catalogue;
use crate::upstream::UpstreamBody;

/// Largest catalogue document accepted (8 MiB).
pub const MAX_CATALOGUE_BYTES: usize = 8 * 1024 * 1024;
/// How long one fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(30);

/// What the refresh last did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct RefreshStatus {
    /// The URL fetched (`null`: refresh off; the embedded catalogue).
    pub url: Option<String>,
    /// Seconds between fetches.
    pub interval_secs: Option<u64>,
    /// When the last fetch was tried.
    pub last_attempt: Option<DateTime<Utc>>,
    /// When a document was last accepted.
    pub last_success: Option<DateTime<Utc>>,
    /// The version of the last accepted document.
    pub version: Option<String>,
    /// Why the last fetch was refused (`null` after a success).
    pub error: Option<String>,
}

/// The refresh's shared status.
#[derive(Debug, Default)]
pub struct PriceRefresh {
    status: Mutex<RefreshStatus>,
}

impl PriceRefresh {
    /// The status now.
    pub fn status(&self) -> RefreshStatus {
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn update(&self, f: impl FnOnce(&mut RefreshStatus)) {
        f(&mut self.status.lock().unwrap_or_else(PoisonError::into_inner));
    }
}

/// Fetches and validates the document at `url`.
async fn fetch(engine: &Engine, url: &str) -> Result<Catalogue, String> {
    let request = http::Request::get(url)
        .header(http::header::ACCEPT, "application/json")
        .body(UpstreamBody::full(Bytes::new()))
        .map_err(|e| format!("bad URL: {e}"))?;
    let response = tokio::time::timeout(FETCH_TIMEOUT, engine.upstream().send(request))
        .await
        .map_err(|_| "timed out".to_owned())?
        .map_err(|e| format!("cannot fetch: {e}"))?;
    if !response.status().is_success() {
        return Err(format!("answered {}", response.status()));
    }
    let body = tokio::time::timeout(
        FETCH_TIMEOUT,
        Limited::new(response.into_body(), MAX_CATALOGUE_BYTES).collect(),
    )
    .await
    .map_err(|_| "timed out reading the body".to_owned())?
    .map_err(|e| format!("reading the body: {e}"))?
    .to_bytes();
    let text = std::str::from_utf8(&body).map_err(|_| "not UTF-8".to_owned())?;
    Catalogue::parse(text).map_err(|e| e.to_string())
}

/// One fetch: a valid document replaces the catalogue under the
/// overrides in force; anything else is recorded and the old one kept.
async fn refresh_once(engine: &Engine, url: &str) {
    let now = Utc::now();
    match fetch(engine, url).await {
        Ok(catalogue) => {
            let version = catalogue.version().to_owned();
            let book = engine.prices().with_catalogue(Arc::new(catalogue));
            engine.set_prices(book);
            tracing::info!(url, version, "price catalogue refreshed");
            engine.price_refresh.update(|s| {
                s.last_attempt = Some(now);
                s.last_success = Some(now);
                s.version = Some(version);
                s.error = None;
            });
        }
        Err(error) => {
            tracing::warn!(
                url,
                error,
                "price catalogue refresh refused; the catalogue in force is kept"
            );
            engine.price_refresh.update(|s| {
                s.last_attempt = Some(now);
                s.error = Some(error);
            });
        }
    }
}

/// Starts refreshing from `url` every `interval` (the first fetch at
/// once). Abort the handle to stop.
pub fn spawn(engine: Arc<Engine>, url: String, interval: Duration) -> tokio::task::JoinHandle<()> {
    engine.price_refresh.update(|s| {
        *s = RefreshStatus {
            url: Some(url.clone()),
            interval_secs: Some(interval.as_secs()),
            ..RefreshStatus::default()
        };
    });
    tokio::spawn(async move {
        loop {
            refresh_once(&engine, &url).await;
            tokio::time::sleep(interval).await;
        }
    })
}

/// Marks the refresh off (the catalogue in force stays).
pub fn stopped(engine: &Engine) {
    engine
        .price_refresh
        .update(|s| *s = RefreshStatus::default());
}
