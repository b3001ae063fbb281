//! The request-log insert into a SQLite file, through a connection of its
//! own (`rusqlite`) instead of the pool's.
//!
//! Through SeaORM and sqlx, a row cost about as much again as SQLite's own
//! insert: a `Value` built, cloned and bound per column, the arguments
//! handed to sqlx's worker thread, and each pooled connection preparing the
//! large multi-row statements anew (docs/benchmarks.md, "The request log
//! through a connection of its own"). Here each row's fields are
//! bound in place into the same fixed-size statements ([`INSERT_SIZES`]),
//! prepared once on this connection and kept, in one `BEGIN IMMEDIATE`
//! transaction per batch.
//!
//! The values stored are those the SeaORM path stores (a test compares
//! them column by column), so the log queries read both alike. Rows with
//! attempt or body rows still go through the pool, in one transaction
//! with them.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use chrono::SecondsFormat;
use rusqlite::{Connection, OpenFlags, Statement, TransactionBehavior};
use sea_orm::{DbBackend, DbErr, RuntimeErr};

use super::request_logs::{
    INSERT_SIZES, bigint, cached_insert_sql, clipped, limits, opt_clipped, statement_sizes,
};
use crate::{RequestLog, Result, StorageError};

/// A SQLite database file the usage sink writes request logs into.
#[derive(Debug)]
pub(crate) struct LogFile {
    path: PathBuf,
    busy_timeout: std::time::Duration,
    /// Opened at the first write (after the migrations ran), dropped after
    /// a failed one so that the next starts afresh.
    conn: Mutex<Option<Connection>>,
    /// Set by [`LogFile::close`]: writes fail afterwards, as the pool's do.
    closed: AtomicBool,
}

impl LogFile {
    pub(crate) fn new(path: PathBuf, busy_timeout: std::time::Duration) -> Self {
        Self {
            path,
            busy_timeout,
            conn: Mutex::new(None),
            closed: AtomicBool::new(false),
        }
    }

    /// Closes the connection; later writes fail.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        *self.conn.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// Inserts `rows` in one transaction, all or none. Blocks the calling
    /// thread (at most the busy timeout while another connection writes).
    pub(crate) fn insert(&self, rows: &[RequestLog]) -> Result<()> {
        let mut slot = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        if self.closed.load(Ordering::Acquire) {
            return Err(StorageError::Db(DbErr::ConnectionAcquire(
                sea_orm::ConnAcquireErr::ConnectionClosed,
            )));
        }
        let conn = match &mut *slot {
            Some(conn) => conn,
            empty => empty.insert(self.open().map_err(failed)?),
        };
        let written = insert_rows(conn, rows);
        if written.is_err() {
            *slot = None;
        }
        written.map_err(failed)
    }

    /// A connection set up as the pool's are (`Storage::connect`): the
    /// file is in WAL mode already.
    fn open(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(self.busy_timeout)?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        Ok(conn)
    }
}

fn failed(err: rusqlite::Error) -> StorageError {
    StorageError::Db(DbErr::Exec(RuntimeErr::Internal(format!(
        "request-log insert: {err}"
    ))))
}

fn insert_rows(conn: &mut Connection, rows: &[RequestLog]) -> rusqlite::Result<()> {
    let txn = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut rest = rows;
    for size in statement_sizes(rows.len()) {
        let (chunk, tail) = rest.split_at(INSERT_SIZES[size]);
        let mut statement = txn.prepare_cached(cached_insert_sql(DbBackend::Sqlite, size))?;
        let mut at = 0;
        for row in chunk {
            bind_row(&mut statement, &mut at, row)?;
        }
        statement.raw_execute()?;
        rest = tail;
    }
    txn.commit()
}

/// Binds `log`'s values in `COLUMNS` order from parameter `*at + 1` on,
/// clipped as `push_values` clips them, and advances `*at` past them.
fn bind_row(
    statement: &mut Statement<'_>,
    at: &mut usize,
    log: &RequestLog,
) -> rusqlite::Result<()> {
    let mut bind = |value: &dyn rusqlite::ToSql| {
        *at += 1;
        statement.raw_bind_parameter(*at, value)
    };
    bind(&clipped(&log.request_id, limits::REQUEST_ID))?;
    // As sqlx encodes a `DateTime<Utc>` for SQLite.
    bind(&log.created_at.to_rfc3339_opts(SecondsFormat::AutoSi, false))?;
    bind(&log.user_id)?;
    bind(&opt_clipped(log.user_name.as_ref(), limits::USER_NAME))?;
    bind(&opt_clipped(log.key_prefix.as_ref(), limits::KEY_PREFIX))?;
    bind(&log.key_id)?;
    bind(&opt_clipped(log.provider.as_ref(), limits::PROVIDER))?;
    bind(&log.credential_id)?;
    bind(&opt_clipped(log.model.as_ref(), limits::MODEL))?;
    bind(&clipped(&log.protocol, limits::PROTOCOL))?;
    bind(&clipped(&log.method, limits::METHOD))?;
    bind(&clipped(&log.path, limits::PATH))?;
    bind(&log.stream)?;
    bind(&i32::from(log.status))?;
    bind(&bigint(log.latency_ms))?;
    for count in [
        log.ttfb_ms,
        log.input_tokens,
        log.output_tokens,
        log.cache_read_tokens,
        log.cache_write_tokens,
        log.reasoning_tokens,
    ] {
        bind(&count.map(bigint))?;
    }
    bind(&opt_clipped(log.error.as_ref(), limits::ERROR))?;
    bind(&log.client_disconnected)?;
    bind(&log.cost_nano_usd)?;
    bind(&opt_clipped(
        log.price_version.as_ref(),
        limits::PRICE_VERSION,
    ))
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use rusqlite::types::Value;

    use super::*;
    use crate::Storage;

    async fn file_storage(dir: &tempfile::TempDir, name: &str) -> Storage {
        let dsn = format!("sqlite://{}", dir.path().join(name).display());
        let storage = Storage::connect(&dsn).await.expect("connect");
        storage.migrate().await.expect("migrate");
        storage
    }

    /// Every stored row, each column with its SQLite storage class.
    fn stored(storage: &Storage) -> Vec<Vec<Value>> {
        let file = storage.log_file().expect("a file storage");
        let conn = Connection::open(&file.path).expect("open");
        let mut query = conn
            .prepare("SELECT * FROM request_logs ORDER BY id")
            .expect("prepare");
        let columns = query.column_count();
        query
            .query_map([], |row| {
                (0..columns).map(|i| row.get::<_, Value>(i)).collect()
            })
            .expect("query")
            .collect::<rusqlite::Result<_>>()
            .expect("rows")
    }

    /// Rows with every column set and unset, text to clip and to mend,
    /// counters past `i64::MAX`, and times with and without fractions.
    fn varied(n: usize) -> Vec<RequestLog> {
        (0..n)
            .map(|i| {
                let full = i % 3 != 2;
                let some = |s: String| full.then_some(s);
                RequestLog {
                    request_id: if i == 0 {
                        "r\0-0".to_owned()
                    } else {
                        format!("req-{i}")
                    },
                    created_at: Utc
                        .timestamp_opt(1_780_000_000 + i as i64, (i as u32 % 4) * 250_000_017)
                        .single()
                        .expect("a time"),
                    user_id: full.then_some(i as i64),
                    user_name: some(format!("ü{}", "ß".repeat(i % 200))),
                    key_prefix: some("sk-abcdefghijklmnopqrstuvwxyz0123456789".to_owned()),
                    key_id: full.then_some(7),
                    provider: some("openai".to_owned()),
                    credential_id: full.then_some(3),
                    model: some("m".repeat(250 + i % 10)),
                    protocol: "openai.chat".to_owned(),
                    method: "POST".to_owned(),
                    path: "/v1/chat/completions".to_owned(),
                    stream: i % 2 == 0,
                    status: [200, 429, 502][i % 3],
                    latency_ms: if i == 1 { u64::MAX } else { i as u64 },
                    ttfb_ms: full.then_some(4),
                    input_tokens: full.then_some(u64::MAX),
                    output_tokens: full.then_some(i as u64),
                    cache_read_tokens: full.then_some(0),
                    cache_write_tokens: None,
                    reasoning_tokens: full.then_some(5),
                    error: (i % 3 == 1).then(|| format!("upstream\0said {i}")),
                    client_disconnected: i % 5 == 0,
                    cost_nano_usd: full.then_some(-(i as i64)),
                    price_version: some("2026-12-01".to_owned()),
                    ..RequestLog::default()
                }
            })
            .collect()
    }

    #[tokio::test]
    async fn rows_are_stored_as_the_pool_stores_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let own = file_storage(&dir, "own.db").await;
        let pool = file_storage(&dir, "pool.db").await;
        // 300 rows: statements of 256, 16, 16, 4, 4 and 4 rows; then one.
        let rows = varied(301);
        for batch in [&rows[..300], &rows[300..]] {
            own.insert_request_logs(batch).await.expect("own insert");
            pool.insert_through_pool(batch, false)
                .await
                .expect("pool insert");
        }
        let (ours, theirs) = (stored(&own), stored(&pool));
        assert_eq!(ours.len(), 301);
        assert_eq!(ours, theirs);
        // Read back as the log queries read them.
        let newest = own.list_request_logs(1).await.expect("list");
        assert_eq!(newest[0].request_id, "req-300");
    }

    #[tokio::test]
    async fn a_batch_is_written_whole_or_not_at_all_and_not_after_close() {
        let dir = tempfile::tempdir().expect("tempdir");
        let storage = file_storage(&dir, "g.db").await;
        let rows = varied(20);
        storage.insert_request_logs(&rows).await.expect("insert");
        // A trigger fails the batch's last row: none of the batch stays.
        let file = storage.log_file().expect("a file storage");
        Connection::open(&file.path)
            .expect("open")
            .execute_batch(
                "CREATE TRIGGER no_last BEFORE INSERT ON request_logs \
                 WHEN NEW.request_id = 'req-19' BEGIN SELECT RAISE(ABORT, 'refused'); END;",
            )
            .expect("trigger");
        let err = storage
            .insert_request_logs(&rows)
            .await
            .expect_err("the trigger refuses");
        assert!(err.to_string().contains("refused"), "{err}");
        assert_eq!(stored(&storage).len(), 20);
        storage.close().await.expect("close");
        assert!(storage.insert_request_logs(&rows[..1]).await.is_err());
    }
}
