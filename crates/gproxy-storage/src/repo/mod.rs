//! Repository methods on [`crate::Storage`], one module per table, plus the
//! plain row types they take and return.
//!
//! Lengths are checked here, in characters, so every backend rejects the same
//! input (SQLite would otherwise accept what PostgreSQL and MySQL refuse).

use sea_orm::{ConnectionTrait, DbBackend, DbErr, QueryTrait, Statement, Value};

use crate::{Result, StorageError};

pub(crate) mod audit;
pub(crate) mod credentials;
pub(crate) mod log_file;
pub(crate) mod log_query;
pub(crate) mod model_routes;
pub(crate) mod providers;
pub(crate) mod request_detail;
pub(crate) mod request_logs;
pub(crate) mod sessions;
pub(crate) mod usage;
pub(crate) mod users;

/// Longest provider, credential and user name, matching `VARCHAR(128)`.
pub(crate) const NAME_MAX: usize = 128;
/// Longest provider or credential kind, matching `VARCHAR(64)`.
pub(crate) const KIND_MAX: usize = 64;
/// Longest credential strategy name.
pub(crate) const STRATEGY_MAX: usize = 32;

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

/// Fails if `value` holds a NUL character in any string or key:
/// PostgreSQL cannot store one in JSON, so no backend accepts it.
pub(crate) fn check_json(field: &'static str, value: &serde_json::Value) -> Result<()> {
    let has_nul = match value {
        serde_json::Value::String(s) => s.contains('\0'),
        serde_json::Value::Array(items) => {
            return items.iter().try_for_each(|v| check_json(field, v));
        }
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                if k.contains('\0') {
                    return Err(StorageError::invalid(field, "NUL character in a JSON key"));
                }
                check_json(field, v)?;
            }
            false
        }
        serde_json::Value::Null | serde_json::Value::Bool(_) | serde_json::Value::Number(_) => {
            false
        }
    };
    if has_nul {
        return Err(StorageError::invalid(
            field,
            "NUL character in a JSON string",
        ));
    }
    Ok(())
}

/// Rewrites `stmt` so it is valid for its backend where SeaORM's binding is
/// not: on MySQL a `DateTime<Utc>` is bound as a `TIMESTAMP` parameter,
/// which MariaDB turns into NULL past 2038-01-19; as a naive UTC `DATETIME`
/// it is stored exactly (the columns are `DATETIME(6)` holding UTC).
pub(crate) fn portable(mut stmt: Statement) -> Statement {
    if stmt.db_backend != DbBackend::MySql {
        return stmt;
    }
    if let Some(values) = stmt.values.as_mut() {
        for value in &mut values.0 {
            if let Value::ChronoDateTimeUtc(Some(at)) = value {
                *value = Value::ChronoDateTime(Some(Box::new(at.naive_utc())));
            }
        }
    }
    stmt
}

/// Builds `query` for `db`'s backend, makes it [`portable`], executes it and
/// returns the number of rows affected. Use this instead of SeaORM's
/// `exec*` for every write that binds a timestamp.
pub(crate) async fn execute<C: ConnectionTrait>(db: &C, query: &impl QueryTrait) -> Result<u64> {
    let stmt = portable(query.build(db.get_database_backend()));
    Ok(db.execute(stmt).await?.rows_affected())
}

/// Turns a unique-constraint violation in `result` into
/// [`StorageError::Conflict`] naming `what`.
pub(crate) fn conflict<T>(result: Result<T>, what: impl FnOnce() -> String) -> Result<T> {
    match result {
        Err(StorageError::Db(e)) => Err(StorageError::conflict_or(e, what)),
        other => other,
    }
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

    #[test]
    fn json_with_nul_is_refused() {
        use serde_json::json;
        assert!(check_json("f", &json!({"a": [1, "ok", {"b": null}]})).is_ok());
        assert!(check_json("f", &json!({"a": [1, "n\u{0}ul"]})).is_err());
        assert!(check_json("f", &json!({"k\u{0}": 1})).is_err());
    }

    #[test]
    fn mysql_timestamps_bind_as_naive_utc() {
        use chrono::{TimeZone, Utc};
        let at = Utc.timestamp_millis_opt(4_102_444_800_123).unwrap();
        let stmt = |backend| {
            Statement::from_sql_and_values(backend, "x", [Value::from(at), Value::from(1i64)])
        };
        let mysql = portable(stmt(DbBackend::MySql)).values.unwrap().0;
        assert_eq!(mysql[0], Value::from(at.naive_utc()));
        assert_eq!(mysql[1], Value::from(1i64));
        let pg = portable(stmt(DbBackend::Postgres)).values.unwrap().0;
        assert_eq!(pg[0], Value::from(at));
    }
}
