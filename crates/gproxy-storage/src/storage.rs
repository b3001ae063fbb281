//! The [`Storage`] handle: connecting, migrating, and the settings repository.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ActiveValue::Set, ConnectOptions, Database, DatabaseConnection, DbBackend, EntityTrait,
    QueryOrder,
};
use sea_orm_migration::MigratorTrait;

use crate::entities::settings;
use crate::migration::Migrator;
use crate::repo::log_file::LogFile;
use crate::repo::{check_name, execute};
use crate::{Result, StorageError};

/// Connections per pool for PostgreSQL and MySQL.
const SERVER_MAX_CONNECTIONS: u32 = 16;
/// Connections per pool for a SQLite file: WAL allows concurrent readers
/// next to the one writer; writers queue on `busy_timeout`.
const SQLITE_MAX_CONNECTIONS: u32 = 4;
/// How long a SQLite statement waits for the write lock before failing.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Connect and pool-acquire timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Idle connections are closed after this long.
const IDLE_TIMEOUT: Duration = Duration::from_secs(600);
/// Connections are recycled after this long.
const MAX_LIFETIME: Duration = Duration::from_secs(1800);
/// Longest settings key, matching the `VARCHAR(255)` column.
const SETTING_KEY_MAX: usize = 255;

/// A handle to the gateway database; cheap to clone (the pool is shared).
///
/// `Debug` shows only the backend, never the DSN.
#[derive(Clone)]
pub struct Storage {
    db: DatabaseConnection,
    backend: DbBackend,
    /// A SQLite file's connection for request-log inserts (not for an
    /// in-memory database, which only the pool's one connection sees).
    log_file: Option<Arc<LogFile>>,
}

impl fmt::Debug for Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Storage")
            .field("backend", &self.backend_name())
            .finish_non_exhaustive()
    }
}

/// The backend a DSN names, from its scheme.
fn backend_of(dsn: &str) -> Result<DbBackend> {
    let lower = dsn.get(..16).unwrap_or(dsn).to_ascii_lowercase();
    if lower.starts_with("sqlite:") {
        Ok(DbBackend::Sqlite)
    } else if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
        Ok(DbBackend::Postgres)
    } else if lower.starts_with("mysql://") {
        Ok(DbBackend::MySql)
    } else {
        Err(StorageError::UnsupportedDsn {
            dsn: crate::redact_dsn(dsn),
        })
    }
}

impl Storage {
    /// Connects. For sqlite DSNs (`sqlite://path` or `sqlite:path`) the file
    /// is created if missing (mode=rwc) — the caller creates the parent dir.
    /// Sets a sane pool size and, for SQLite, WAL + busy_timeout.
    ///
    /// Pools: 16 connections for PostgreSQL/MySQL, 4 for a SQLite file, 1 for
    /// an in-memory SQLite database (each connection would see its own
    /// database otherwise). Connect and acquire time out after 10 s.
    pub async fn connect(dsn: &str) -> Result<Self> {
        let backend = backend_of(dsn)?;
        let mut opts = ConnectOptions::new(dsn);
        opts.sqlx_logging(false)
            .connect_timeout(CONNECT_TIMEOUT)
            .acquire_timeout(CONNECT_TIMEOUT);
        let in_memory = backend == DbBackend::Sqlite
            && (dsn.contains(":memory:") || dsn.contains("mode=memory"));
        if in_memory {
            // The database lives as long as its only connection: keep it.
            opts.max_connections(1).min_connections(1);
        } else {
            opts.idle_timeout(IDLE_TIMEOUT).max_lifetime(MAX_LIFETIME);
            opts.max_connections(match backend {
                DbBackend::Sqlite => SQLITE_MAX_CONNECTIONS,
                DbBackend::Postgres | DbBackend::MySql => SERVER_MAX_CONNECTIONS,
            });
        }
        if backend == DbBackend::Sqlite {
            opts.map_sqlx_sqlite_opts(|o| {
                o.create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(SQLITE_BUSY_TIMEOUT)
                    .foreign_keys(true)
            });
        }
        // (A DSN sqlx cannot parse fails to connect below.)
        let log_file = (backend == DbBackend::Sqlite && !in_memory)
            .then(|| SqliteConnectOptions::from_str(dsn).ok())
            .flatten()
            .map(|o| {
                Arc::new(LogFile::new(
                    o.get_filename().to_path_buf(),
                    SQLITE_BUSY_TIMEOUT,
                ))
            });
        let db = Database::connect(opts)
            .await
            .map_err(|e| StorageError::connect(dsn, &e))?;
        Ok(Self {
            db,
            backend,
            log_file,
        })
    }

    /// Runs all pending migrations; a no-op when the schema is current.
    pub async fn migrate(&self) -> Result<()> {
        Migrator::up(&self.db, None).await?;
        Ok(())
    }

    /// The underlying SeaORM connection, for queries this crate does not wrap.
    pub fn connection(&self) -> &sea_orm::DatabaseConnection {
        &self.db
    }

    /// The SQLite file's own connection for request-log inserts, if any.
    pub(crate) fn log_file(&self) -> Option<&LogFile> {
        self.log_file.as_deref()
    }

    /// `"sqlite"`, `"postgres"` or `"mysql"` (MariaDB included).
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            DbBackend::Sqlite => "sqlite",
            DbBackend::Postgres => "postgres",
            DbBackend::MySql => "mysql",
        }
    }

    /// Executes a write built with SeaORM or SeaQuery (an `Insert`,
    /// `Update`, `Delete`...) and returns the number of rows affected.
    ///
    /// Prefer this over SeaORM's `exec*` for writes that bind a timestamp:
    /// on MySQL/MariaDB SeaORM binds `DateTime<Utc>` as a `TIMESTAMP`
    /// parameter, which MariaDB silently turns into NULL after 2038-01-19;
    /// this binds it as the naive UTC `DATETIME` the columns hold.
    pub async fn execute(&self, query: &impl sea_orm::QueryTrait) -> Result<u64> {
        execute(&self.db, query).await
    }

    /// Rewrites a SQLite database so that nothing deleted or overwritten
    /// lingers in free pages or the WAL (`VACUUM`, then a truncating
    /// checkpoint); used once after secrets were sealed in place. A no-op
    /// on PostgreSQL and MySQL, whose old row versions go with their own
    /// vacuum / purge.
    pub async fn compact(&self) -> Result<()> {
        use sea_orm::ConnectionTrait;
        if self.backend == DbBackend::Sqlite {
            self.db.execute_unprepared("VACUUM").await?;
            self.db
                .execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
                .await?;
        }
        Ok(())
    }

    /// Closes the pool; in-flight clones of this handle fail afterwards.
    pub async fn close(&self) -> Result<()> {
        if let Some(file) = &self.log_file {
            file.close();
        }
        self.db.close_by_ref().await?;
        Ok(())
    }

    /// The value of setting `key`, if set.
    pub async fn get_setting(&self, key: &str) -> Result<Option<String>> {
        let row = settings::Entity::find_by_id(key.to_owned())
            .one(&self.db)
            .await?;
        Ok(row.map(|r| r.value))
    }

    /// Sets `key` to `value`, inserting or overwriting.
    pub async fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        check_name("settings.key", key, SETTING_KEY_MAX)?;
        let row = settings::ActiveModel {
            key: Set(key.to_owned()),
            value: Set(value.to_owned()),
            updated_at: Set(Utc::now()),
        };
        let insert = settings::Entity::insert(row).on_conflict(
            OnConflict::column(settings::Column::Key)
                .update_columns([settings::Column::Value, settings::Column::UpdatedAt])
                .to_owned(),
        );
        execute(&self.db, &insert).await?;
        Ok(())
    }

    /// Every setting as `(key, value)`, ordered by key.
    pub async fn all_settings(&self) -> Result<Vec<(String, String)>> {
        let rows = settings::Entity::find()
            .order_by_asc(settings::Column::Key)
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|r| (r.key, r.value)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_from_scheme() {
        assert_eq!(backend_of("sqlite://a.db").ok(), Some(DbBackend::Sqlite));
        assert_eq!(backend_of("sqlite:a.db").ok(), Some(DbBackend::Sqlite));
        assert_eq!(backend_of("SQLITE::memory:").ok(), Some(DbBackend::Sqlite));
        assert_eq!(
            backend_of("postgresql://h/d").ok(),
            Some(DbBackend::Postgres)
        );
        assert_eq!(backend_of("postgres://h/d").ok(), Some(DbBackend::Postgres));
        assert_eq!(backend_of("mysql://h/d").ok(), Some(DbBackend::MySql));
        let err = backend_of("redis://u:pw@h").err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "unsupported database DSN `redis://u:***@h`: expected sqlite:, postgres: or mysql:"
            )
        );
    }

    #[tokio::test]
    async fn in_memory_sqlite_works() {
        let storage = Storage::connect("sqlite::memory:").await.unwrap();
        storage.migrate().await.unwrap();
        storage.set_setting("a", "1").await.unwrap();
        assert_eq!(
            storage.get_setting("a").await.unwrap().as_deref(),
            Some("1")
        );
        assert_eq!(storage.backend_name(), "sqlite");
        assert_eq!(
            format!("{storage:?}"),
            r#"Storage { backend: "sqlite", .. }"#
        );
    }
}
