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
pub use repo::credentials::{CredentialRow, NewCredential};
pub use repo::model_routes::{ModelRouteRow, NewModelRoute};
pub use repo::providers::{NewProvider, ProviderRow};
pub use repo::request_logs::RequestLog;
pub use repo::users::{UserKeyRow, UserRow};
pub use sink::{SinkStats, UsageSink, UsageSinkConfig, UsageSinkHandle};
pub use storage::Storage;

/// Result of storage operations.
pub type Result<T> = std::result::Result<T, StorageError>;
