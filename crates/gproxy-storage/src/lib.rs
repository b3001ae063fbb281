//! Persistence for gproxy: SeaORM entities, migrations that run unchanged on
//! SQLite, PostgreSQL and MySQL/MariaDB, repository methods on [`Storage`],
//! and the [`UsageSink`] that takes request logs off the hot path.
//!
//! This crate knows nothing of the other gproxy crates. The hot path never
//! queries the database; it only calls [`UsageSink::record`].
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), gproxy_storage::StorageError> {
//! use std::time::Duration;
//! use gproxy_storage::{RequestLog, Storage, UsageSink, UsageSinkConfig};
//!
//! // `postgres://...` and `mysql://...` work the same way.
//! let storage = Storage::connect("sqlite::memory:").await?;
//! storage.migrate().await?;
//!
//! // The hot path hands rows to the sink and never waits; a background
//! // task writes them in batches.
//! let (sink, handle) = UsageSink::spawn(storage.clone(), UsageSinkConfig::default());
//! sink.record(RequestLog {
//!     request_id: "req-1".into(),
//!     provider: Some("openai".into()),
//!     model: Some("gpt-4o-mini".into()),
//!     status: 200,
//!     input_tokens: Some(12),
//!     output_tokens: Some(30),
//!     ..RequestLog::default()
//! });
//! handle.shutdown(Duration::from_secs(5)).await; // flushes
//! let rows = storage.list_request_logs(10).await?;
//! assert_eq!(rows.len(), 1);
//! assert_eq!(rows[0].output_tokens, Some(30));
//! # Ok(())
//! # }
//! ```

pub mod entities;
mod error;
pub mod migration;
mod repo;
mod sink;
mod storage;
pub mod testing;

pub use error::{StorageError, redact_dsn};
pub use repo::audit::{AuditPage, AuditQuery, AuditRow, NewAudit};
pub use repo::credentials::{CredentialPatch, CredentialRow, NewCredential};
pub use repo::log_query::{LogPage, LogQuery, MAX_PAGE};
pub use repo::model_routes::{ModelRouteRow, NewModelRoute};
pub use repo::providers::{NewProvider, ProviderRow};
pub use repo::request_detail::{
    ATTEMPT_ERROR_MAX, AttemptRecord, CapturedBodies, RequestLogDetail,
};
pub use repo::request_logs::{RequestLog, RequestLogRow};
pub use repo::sessions::SessionRow;
pub use repo::usage::{LATENCY_BOUNDS_MS, TimeBucket, UsageGroup, UsageQuery, UsageRow};
pub use repo::users::{NewUser, NewUserKey, UserKeyPatch, UserKeyRow, UserPatch, UserRow};
pub use sink::{RowPromise, SinkStats, UsageSink, UsageSinkConfig, UsageSinkHandle};
pub use storage::Storage;

/// Result of storage operations.
pub type Result<T> = std::result::Result<T, StorageError>;
