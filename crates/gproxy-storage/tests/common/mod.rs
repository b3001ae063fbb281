//! Test harness: runs one async test body against SQLite (always) and against
//! each server named by `GPROXY_TEST_POSTGRES` / `GPROXY_TEST_MYSQL`, each
//! time in a database of its own.
//!
//! Without the variable a server test prints `skipped: ...` and passes,
//! unless `CI=true`, where a missing variable or an unreachable server fails.

#![cfg(test)]
#![allow(dead_code)] // each test binary uses a different part of the harness

use std::future::Future;
use std::time::Duration;

use gproxy_storage::Storage;
use sea_orm::ConnectionTrait;

/// A database backend under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    Mysql,
}

impl Backend {
    fn env_var(self) -> Option<&'static str> {
        match self {
            Backend::Sqlite => None,
            Backend::Postgres => Some("GPROXY_TEST_POSTGRES"),
            Backend::Mysql => Some("GPROXY_TEST_MYSQL"),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
            Backend::Mysql => "mysql",
        }
    }
}

/// What a test body gets: a migrated, empty database of its own.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub backend: Backend,
    pub storage: Storage,
    /// DSN of this test's own database (for extra connections).
    pub dsn: String,
}

use gproxy_storage::testing::ci;

/// A database name no other test (in this or another process) uses.
fn unique_db_name() -> String {
    gproxy_storage::testing::unique_name("gproxy_t")
}

pub use gproxy_storage::testing::with_database;

/// Runs `body` on `backend` in a fresh, migrated database, then drops the
/// database (best effort). Panics in `body` are re-raised after cleanup.
pub async fn run<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(var) = backend.env_var() else {
        let dir = tempfile::tempdir().expect("tempdir");
        let dsn = format!("sqlite://{}", dir.path().join("gproxy.db").display());
        let storage = Storage::connect(&dsn).await.expect("connect sqlite");
        storage.migrate().await.expect("migrate sqlite");
        let result = tokio::spawn(body(Ctx {
            backend,
            storage: storage.clone(),
            dsn,
        }))
        .await;
        let _ = storage.close().await;
        drop(dir);
        if let Err(err) = result {
            std::panic::resume_unwind(err.into_panic());
        }
        return;
    };

    let server_dsn = match std::env::var(var) {
        Ok(v) if !v.is_empty() => v,
        _ => {
            assert!(!ci(), "{var} must be set when CI=true");
            println!("skipped: {var} not set");
            return;
        }
    };
    let admin = match Storage::connect(&server_dsn).await {
        Ok(admin) => admin,
        Err(err) => {
            assert!(!ci(), "{var} unreachable with CI=true: {err}");
            println!("skipped: {var} unreachable: {err}");
            return;
        }
    };
    assert_eq!(
        admin.backend_name(),
        backend.name(),
        "{var} names another backend"
    );

    let db = unique_db_name();
    admin
        .connection()
        .execute_unprepared(&format!("CREATE DATABASE {db}"))
        .await
        .expect("create test database");
    let dsn = with_database(&server_dsn, &db);
    let setup = async {
        let storage = Storage::connect(&dsn).await?;
        storage.migrate().await?;
        Ok::<_, gproxy_storage::StorageError>(storage)
    }
    .await;
    let result = match setup {
        Ok(storage) => {
            let result = tokio::spawn(body(Ctx {
                backend,
                storage: storage.clone(),
                dsn,
            }))
            .await;
            let _ = storage.close().await;
            result.map_err(|e| e.into_panic())
        }
        Err(err) => Err(Box::new(format!("setting up {db}: {err}")) as Box<_>),
    };

    let drop_sql = match backend {
        Backend::Postgres => format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
        Backend::Mysql | Backend::Sqlite => format!("DROP DATABASE IF EXISTS {db}"),
    };
    if let Err(err) = admin.connection().execute_unprepared(&drop_sql).await {
        eprintln!("warning: could not drop test database {db}: {err}");
    }
    let _ = admin.close().await;
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

/// Polls `cond` every 10 ms until it holds; panics after `limit`.
pub async fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let start = tokio::time::Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Generates, for each named `async fn(Ctx)`, a module of that name with one
/// test per backend: `<name>::sqlite`, `<name>::postgres`, `<name>::mysql`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use super::common::{run, Backend};

            #[tokio::test]
            async fn sqlite() {
                run(Backend::Sqlite, super::$name).await;
            }

            #[tokio::test]
            async fn postgres() {
                run(Backend::Postgres, super::$name).await;
            }

            #[tokio::test]
            async fn mysql() {
                run(Backend::Mysql, super::$name).await;
            }
        }
    )*};
}
