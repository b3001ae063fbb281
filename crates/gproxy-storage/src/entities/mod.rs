//! SeaORM entities, one module per table.
//!
//! The schema itself is owned by [`crate::migration`]; these entities mirror
//! it column for column. Most callers should use the repository methods on
//! [`crate::Storage`] instead of querying entities directly.

pub mod credentials;
pub mod providers;
pub mod request_logs;
pub mod settings;
pub mod user_keys;
pub mod users;
