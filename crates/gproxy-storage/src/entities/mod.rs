//! SeaORM entities, one module per table.
//!
//! The schema itself is owned by [`crate::migration`]; these entities mirror
//! it column for column. Most callers should use the repository methods on
//! [`crate::Storage`] instead of querying entities directly.
//!
//! Timestamps are UTC: `timestamptz` on PostgreSQL, `DATETIME(6)` on MySQL,
//! text on SQLite. When writing through entities, run the statement with
//! [`crate::Storage::execute`] rather than SeaORM's `exec*`: on MariaDB,
//! SeaORM's binding of `DateTime<Utc>` turns dates after 2038 into NULL.

pub mod admin_sessions;
pub mod audit_log;
pub mod credentials;
pub mod model_routes;
pub mod providers;
pub mod request_attempts;
pub mod request_bodies;
pub mod request_logs;
pub mod settings;
pub mod user_keys;
pub mod users;
