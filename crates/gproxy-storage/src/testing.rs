//! Test support: a scratch database of its own on the
//! PostgreSQL or MySQL server a test's environment names, so tests running
//! at the same time never share tables.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sea_orm::ConnectionTrait;

use crate::{Result, Storage};

/// Whether `CI=true`: a missing or unreachable server fails instead of
/// skipping.
pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true"))
}

/// A name no other test (in this or another process) uses: `<what>_<pid>_<nanos>_<n>`.
pub fn unique_name(what: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{what}_{}_{nanos}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// `dsn` pointing at database `db` instead (query string kept).
pub fn with_database(dsn: &str, db: &str) -> String {
    let scheme_end = dsn.find("://").map_or(0, |i| i + 3);
    let rest = &dsn[scheme_end..];
    let (path_part, query) = rest.find('?').map_or((rest, ""), |i| rest.split_at(i));
    let authority = path_part.find('/').map_or(path_part, |i| &path_part[..i]);
    format!("{}{authority}/{db}{query}", &dsn[..scheme_end])
}

/// A freshly created, empty database; drop it with
/// [`ScratchDatabase::drop_database`].
#[derive(Debug)]
pub struct ScratchDatabase {
    admin: Storage,
    name: String,
    dsn: String,
}

impl ScratchDatabase {
    /// Creates a database on the server the environment variable `var`
    /// names (`GPROXY_TEST_POSTGRES`, `GPROXY_TEST_MYSQL`). `Ok(None)` (the
    /// test prints `skipped: ...` and passes) when the variable is unset or
    /// the server unreachable, unless `CI=true`, where that is an error.
    pub async fn create(var: &str, test: &str) -> Result<Option<ScratchDatabase>> {
        let server = match std::env::var(var) {
            Ok(v) if !v.is_empty() => v,
            _ if ci() => {
                return Err(crate::StorageError::invalid(
                    "environment",
                    format!("CI=true but {var} is not set"),
                ));
            }
            _ => {
                println!("skipped: {test}: {var} is not set");
                return Ok(None);
            }
        };
        let admin = match Storage::connect(&server).await {
            Ok(admin) => admin,
            Err(e) if ci() => return Err(e),
            Err(e) => {
                println!("skipped: {test}: {var} is unreachable: {e}");
                return Ok(None);
            }
        };
        let name = unique_name("gproxy_t").to_lowercase();
        admin
            .connection()
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await?;
        let dsn = with_database(&server, &name);
        Ok(Some(ScratchDatabase { admin, name, dsn }))
    }

    /// The DSN of the scratch database.
    pub fn dsn(&self) -> &str {
        &self.dsn
    }

    /// Drops the database (PostgreSQL: cutting off open connections).
    pub async fn drop_database(self) -> Result<()> {
        let sql = match self.admin.backend_name() {
            "postgres" => format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            _ => format!("DROP DATABASE IF EXISTS {}", self.name),
        };
        self.admin.connection().execute_unprepared(&sql).await?;
        self.admin.close().await
    }
}

/// Runs `body` with the DSN of a scratch database on the server `var`
/// names, then drops the database, also when `body` panics (the panic is
/// raised again afterwards). Returns without running `body` when the
/// server is not available (see [`ScratchDatabase::create`]).
pub async fn on_scratch_database<F, Fut>(var: &str, test: &str, body: F) -> Result<()>
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let Some(db) = ScratchDatabase::create(var, test).await? else {
        return Ok(());
    };
    let outcome = tokio::spawn(body(db.dsn().to_owned())).await;
    db.drop_database().await?;
    if let Err(e) = outcome
        && e.is_panic()
    {
        std::panic::resume_unwind(e.into_panic());
    }
    Ok(())
}
