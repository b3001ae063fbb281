//! Repository methods on [`crate::Storage`], one module per table, plus the
//! plain row types they take and return.
//!
//! Lengths are checked here, in characters, so every backend rejects the same
//! input (SQLite would otherwise accept what PostgreSQL and MySQL refuse).

use sea_orm::DbErr;

use crate::{Result, StorageError};

pub(crate) mod credentials;
pub(crate) mod providers;
pub(crate) mod request_logs;
pub(crate) mod users;

/// Longest provider, credential and user name, matching `VARCHAR(128)`.
pub(crate) const NAME_MAX: usize = 128;
/// Longest provider or credential kind, matching `VARCHAR(64)`.
pub(crate) const KIND_MAX: usize = 64;

/// Fails unless `value` is non-empty and at most `max` characters.
pub(crate) fn check_name(field: &'static str, value: &str, max: usize) -> Result<()> {
    if value.is_empty() {
        return Err(StorageError::invalid(field, "must not be empty"));
    }
    check_len(field, value, max)
}

/// Fails if `value` is longer than `max` characters.
pub(crate) fn check_len(field: &'static str, value: &str, max: usize) -> Result<()> {
    let len = value.chars().count();
    if len > max {
        return Err(StorageError::invalid(
            field,
            format!("{len} characters, at most {max} allowed"),
        ));
    }
    Ok(())
}

/// The error for a row that vanished between its upsert and the read-back
/// (a concurrent delete).
pub(crate) fn vanished(what: &str) -> StorageError {
    StorageError::Db(DbErr::RecordNotFound(format!(
        "{what} disappeared right after its upsert"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_count_characters() {
        assert!(check_name("f", "", 3).is_err());
        assert!(check_name("f", "äöü", 3).is_ok());
        assert!(check_name("f", "äöüx", 3).is_err());
        assert!(check_len("f", "", 3).is_ok());
    }
}
