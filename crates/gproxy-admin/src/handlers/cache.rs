//! `/cache`: the response cache's counters, and emptying it.

use gproxy_core::cache::CacheReport;
use schemars::JsonSchema;
use serde::Serialize;

use crate::error::ApiError;
use crate::request::Reply;
use crate::routes::Call;

/// The cache's state.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CacheView {
    /// Whether the cache is on.
    pub enabled: bool,
    /// Its counters on this instance (`null` when off).
    pub report: Option<CacheReport>,
}

/// What a purge removed.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PurgeView {
    /// Entries removed (memory: on this instance; Redis: every key under
    /// the prefix).
    pub removed: u64,
}

/// `GET /cache`.
pub async fn get(call: Call) -> Result<Reply, ApiError> {
    let report = call.ctx.engine.cache().map(|c| c.report());
    Reply::ok(&CacheView {
        enabled: report.is_some(),
        report,
    })
}

/// `DELETE /cache` (with the cache off: nothing to remove).
pub async fn purge(call: Call) -> Result<Reply, ApiError> {
    let removed = match call.ctx.engine.cache() {
        Some(cache) => cache.purge().await.map_err(ApiError::internal)?,
        None => 0,
    };
    Reply::ok(&PurgeView { removed })
}
