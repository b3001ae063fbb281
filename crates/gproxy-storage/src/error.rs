//! The crate's error type and DSN redaction.

use sea_orm::DbErr;

/// Errors of the storage layer.
///
/// No variant ever displays a DSN password: connection errors carry the DSN
/// with its password replaced by `***`, and the driver's message is scrubbed
/// of the password too.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The DSN's scheme is none of `sqlite:`, `postgres:`/`postgresql:`, `mysql:`.
    #[error("unsupported database DSN `{dsn}`: expected sqlite:, postgres: or mysql:")]
    UnsupportedDsn {
        /// The DSN, password redacted.
        dsn: String,
    },
    /// Connecting to the database failed.
    #[error("cannot connect to {dsn}: {message}")]
    Connect {
        /// The DSN, password redacted.
        dsn: String,
        /// The driver's message, password scrubbed.
        message: String,
    },
    /// A query or migration failed.
    #[error("database error: {0}")]
    Db(#[from] DbErr),
    /// A value does not fit the schema (too long, out of range, or a stored
    /// value this version cannot read back).
    #[error("invalid {field}: {reason}")]
    InvalidValue {
        /// The offending field, e.g. `providers.name`.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A row with the same unique value exists already.
    #[error("{what} already exists")]
    Conflict {
        /// What collided, e.g. `user \`alice\``.
        what: String,
    },
}

impl StorageError {
    /// Builds a [`StorageError::InvalidValue`].
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidValue {
            field,
            reason: reason.into(),
        }
    }

    /// `err` as a [`StorageError::Conflict`] naming `what` when it is a
    /// unique-constraint violation, otherwise as [`StorageError::Db`].
    pub(crate) fn conflict_or(err: DbErr, what: impl FnOnce() -> String) -> Self {
        match err.sql_err() {
            Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => Self::Conflict { what: what() },
            _ => Self::Db(err),
        }
    }

    /// Builds a [`StorageError::Connect`] from a driver error, scrubbing the
    /// DSN's password from the message.
    pub(crate) fn connect(dsn: &str, err: &DbErr) -> Self {
        let mut message = err.to_string();
        if let Some(password) = dsn_password(dsn) {
            message = message.replace(password, "***");
            let decoded = percent_decode(password);
            if !decoded.is_empty() {
                message = message.replace(&decoded, "***");
            }
        }
        Self::Connect {
            dsn: redact_dsn(dsn),
            message,
        }
    }
}

/// The byte range of the password in `scheme://user:password@host/...`.
fn password_range(dsn: &str) -> Option<std::ops::Range<usize>> {
    let authority_start = dsn.find("://")? + 3;
    let rest = &dsn[authority_start..];
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_len];
    let at = authority.rfind('@')?;
    let userinfo = &authority[..at];
    let colon = userinfo.find(':')?;
    let start = authority_start + colon + 1;
    let end = authority_start + at;
    (start < end).then_some(start..end)
}

fn dsn_password(dsn: &str) -> Option<&str> {
    password_range(dsn).map(|r| &dsn[r])
}

/// Decodes `%XX` escapes; invalid escapes and non-UTF-8 results are kept
/// lossily, which is good enough for scrubbing.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Returns `dsn` with the password (if any) replaced by `***`; safe to log.
///
/// ```
/// assert_eq!(
///     gproxy_storage::redact_dsn("postgres://app:hunter2@db:5432/gproxy"),
///     "postgres://app:***@db:5432/gproxy"
/// );
/// ```
pub fn redact_dsn(dsn: &str) -> String {
    match password_range(dsn) {
        Some(r) => format!("{}***{}", &dsn[..r.start], &dsn[r.end..]),
        None => dsn.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_password_only() {
        assert_eq!(
            redact_dsn("mysql://root:s3cr:et@127.0.0.1:3306/db?ssl-mode=disabled"),
            "mysql://root:***@127.0.0.1:3306/db?ssl-mode=disabled"
        );
        assert_eq!(
            redact_dsn("postgres://postgres@127.0.0.1/test"),
            "postgres://postgres@127.0.0.1/test"
        );
        assert_eq!(
            redact_dsn("sqlite://data/gproxy.db"),
            "sqlite://data/gproxy.db"
        );
        assert_eq!(redact_dsn("sqlite:x@y:z"), "sqlite:x@y:z");
        assert_eq!(
            redact_dsn("postgres://u:p%40ss@h/d?x=a@b"),
            "postgres://u:***@h/d?x=a@b"
        );
    }

    #[test]
    fn connect_error_never_shows_password() {
        let dsn = "postgres://app:hunter2@db/x";
        let err = StorageError::connect(dsn, &DbErr::Custom("bad login hunter2".into()));
        let text = err.to_string();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("app:***@db"), "{text}");
        assert!(!format!("{err:?}").contains("hunter2"));

        let dsn = "mysql://app:p%40ss@db/x";
        let err = StorageError::connect(dsn, &DbErr::Custom("denied for p@ss".into()));
        assert!(!err.to_string().contains("p@ss"), "{err}");
    }
}
