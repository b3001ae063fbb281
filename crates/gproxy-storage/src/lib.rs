//! Persistence for gproxy: SeaORM entities, migrations that run unchanged on
//! SQLite, PostgreSQL and MySQL/MariaDB, repository methods on [`Storage`],
//! and the [`UsageSink`] that takes request logs off the hot path.
//!
//! This crate knows nothing of the other gproxy crates. The hot path never
//! queries the database; it only calls [`UsageSink::record`].

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
pub use sink::{SinkStats, UsageSink, UsageSinkConfig, UsageSinkHandle};
pub use storage::Storage;

/// Result of storage operations.
pub type Result<T> = std::result::Result<T, StorageError>;
