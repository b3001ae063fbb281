//! Request logs repository: the plain [`RequestLog`] record and its
//! conversion to and from the `request_logs` table.
//!
//! Writes never fail on a record's content: strings are clipped to their
//! column's length and NUL characters (which PostgreSQL rejects) become
//! U+FFFD; counters above `i64::MAX` are saturated. A batch from the usage
//! sink therefore fails only when the database does, and retrying helps.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, QueryOrder, QuerySelect, Statement,
    TransactionTrait, Value,
};
use serde::Serialize;

use super::portable;
use super::request_detail::{
    AttemptRecord, CapturedBodies, insert_attempts, insert_bodies, needs_attempt_rows,
};
use crate::entities::request_logs::{self, Column};
use crate::{Result, Storage, StorageError};

/// The row counts an `INSERT` statement may have, largest first. A batch
/// is written as statements of these sizes only (greedily: 37 rows are
/// 16 + 16 + 4 + 1), so each backend connection prepares at most five
/// distinct statements once and reuses them from its statement cache:
/// SQLite re-parsing a multi-row `INSERT` of a new size cost more CPU per
/// row than executing it (docs/benchmarks.md, issue 18). 256 rows of ~25
/// bound values stay far below every backend's bind-parameter limit
/// (SQLite 32766, others 65535).
pub(super) const INSERT_SIZES: [usize; 5] = [256, 64, 16, 4, 1];

/// The statement sizes [`INSERT_SIZES`] splits `rows` rows into, as
/// indexes into it, largest first.
pub(super) fn statement_sizes(mut rows: usize) -> impl Iterator<Item = usize> {
    let mut at = 0;
    std::iter::from_fn(move || {
        while at < INSERT_SIZES.len() {
            if rows >= INSERT_SIZES[at] {
                rows -= INSERT_SIZES[at];
                return Some(at);
            }
            at += 1;
        }
        None
    })
}

/// [`insert_sql`] for `INSERT_SIZES[size]` rows, built once per backend.
pub(super) fn cached_insert_sql(backend: DbBackend, size: usize) -> &'static str {
    use std::sync::OnceLock;
    static SQL: [[OnceLock<String>; INSERT_SIZES.len()]; 3] =
        [const { [const { OnceLock::new() }; INSERT_SIZES.len()] }; 3];
    let slot = match backend {
        DbBackend::Sqlite => 0,
        DbBackend::Postgres => 1,
        DbBackend::MySql => 2,
    };
    SQL[slot][size].get_or_init(|| insert_sql(backend, INSERT_SIZES[size]))
}

/// Column limits, in characters, matching the migration.
pub(super) mod limits {
    pub(in crate::repo) const REQUEST_ID: usize = 128;
    pub(in crate::repo) const USER_NAME: usize = 128;
    pub(in crate::repo) const KEY_PREFIX: usize = 32;
    pub(in crate::repo) const PROVIDER: usize = 128;
    pub(in crate::repo) const MODEL: usize = 255;
    pub(in crate::repo) const PROTOCOL: usize = 32;
    pub(in crate::repo) const METHOD: usize = 16;
    pub(in crate::repo) const PATH: usize = 2048;
    pub(in crate::repo) const ERROR: usize = 4096;
    pub(in crate::repo) const PRICE_VERSION: usize = 64;
}

/// One request's usage and log row (plain data; the engine fills it).
///
/// Strings longer than their column are clipped on write: request id, user
/// name and provider 128 characters, key prefix 32, model 255, protocol 32,
/// method 16, path 2048, error 4096, price version 64.
///
/// `attempts` and `bodies` go to `request_attempts` and `request_bodies` in
/// the same transaction as the row; they are not read back by the log
/// queries (see [`crate::RequestLogDetail`]) and are left out of the JSON
/// form when empty.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct RequestLog {
    /// Gateway request id.
    pub request_id: String,
    /// When the request started. MySQL keeps microseconds, PostgreSQL
    /// microseconds, SQLite nanoseconds.
    pub created_at: DateTime<Utc>,
    /// Authenticated user, if any.
    pub user_id: Option<i64>,
    /// User name at the time of the request.
    pub user_name: Option<String>,
    /// Prefix of the user key used.
    pub key_prefix: Option<String>,
    /// The user key used (`None` for the admin key).
    pub key_id: Option<i64>,
    /// Provider the request was routed to.
    pub provider: Option<String>,
    /// Credential used upstream.
    pub credential_id: Option<i64>,
    /// Model requested upstream.
    pub model: Option<String>,
    /// Client protocol, e.g. `openai.chat`.
    pub protocol: String,
    /// HTTP method.
    pub method: String,
    /// Request path.
    pub path: String,
    /// Whether the response was streamed.
    pub stream: bool,
    /// HTTP status sent to the client.
    pub status: u16,
    /// Total latency in milliseconds.
    pub latency_ms: u64,
    /// Time to first byte in milliseconds.
    pub ttfb_ms: Option<u64>,
    /// Prompt tokens.
    pub input_tokens: Option<u64>,
    /// Completion tokens.
    pub output_tokens: Option<u64>,
    /// Tokens read from the prompt cache.
    pub cache_read_tokens: Option<u64>,
    /// Tokens written to the prompt cache.
    pub cache_write_tokens: Option<u64>,
    /// Reasoning tokens.
    pub reasoning_tokens: Option<u64>,
    /// Error summary, if the request failed.
    pub error: Option<String>,
    /// Whether the client went away before the response completed.
    pub client_disconnected: bool,
    /// What the request cost in nano-dollars (1e-9 USD: an exact decimal
    /// of scale 9); `None` when the price is unknown.
    pub cost_nano_usd: Option<i64>,
    /// The price catalogue version that priced it (at most 64 characters).
    pub price_version: Option<String>,
    /// Every upstream attempt, in order (empty when none was made).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<AttemptRecord>,
    /// The captured bodies, when capture is on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bodies: Option<CapturedBodies>,
}

/// A stored log row: its id (the paging order) and the log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestLogRow {
    /// Row id; increases with insertion order.
    pub id: i64,
    /// The row's values.
    #[serde(flatten)]
    pub log: RequestLog,
}

/// `s` clipped to `max` characters, with NUL replaced by U+FFFD.
pub(crate) fn text(s: &str, max: usize) -> String {
    clipped(s, max).into_owned()
}

/// [`text`], borrowing `s` when it is written as it is.
pub(super) fn clipped(s: &str, max: usize) -> Cow<'_, str> {
    // No more bytes than `max`, so no more characters: nothing to count
    // (counting walked every row's every text a character at a time).
    let clipped = if s.len() <= max {
        s
    } else {
        s.char_indices().nth(max).map_or(s, |(end, _)| &s[..end])
    };
    if clipped.contains('\0') {
        Cow::Owned(clipped.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(clipped)
    }
}

pub(crate) fn opt_text(s: Option<&String>, max: usize) -> Option<String> {
    opt_clipped(s, max).map(Cow::into_owned)
}

/// [`opt_text`], borrowing as [`clipped`] does.
pub(super) fn opt_clipped(s: Option<&String>, max: usize) -> Option<Cow<'_, str>> {
    s.map(|s| clipped(s, max))
}

/// `v` as `BIGINT`, saturating.
pub(crate) fn bigint(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn opt_bigint(v: Option<u64>) -> Option<i64> {
    v.map(bigint)
}

pub(crate) fn unsigned(field: &'static str, v: i64) -> Result<u64> {
    u64::try_from(v).map_err(|_| StorageError::invalid(field, format!("negative value {v}")))
}

fn opt_unsigned(field: &'static str, v: Option<i64>) -> Result<Option<u64>> {
    v.map(|v| unsigned(field, v)).transpose()
}

/// The columns an insert writes, in order (`id` is generated).
const COLUMNS: [&str; 25] = [
    "request_id",
    "created_at",
    "user_id",
    "user_name",
    "key_prefix",
    "key_id",
    "provider",
    "credential_id",
    "model",
    "protocol",
    "method",
    "path",
    "stream",
    "status",
    "latency_ms",
    "ttfb_ms",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "error",
    "client_disconnected",
    "cost_nano_usd",
    "price_version",
];

/// Appends `log`'s values in [`COLUMNS`] order, clipped as documented on
/// [`RequestLog`].
fn push_values(log: &RequestLog, values: &mut Vec<Value>) {
    values.extend([
        Value::from(text(&log.request_id, limits::REQUEST_ID)),
        Value::from(log.created_at),
        Value::from(log.user_id),
        Value::from(opt_text(log.user_name.as_ref(), limits::USER_NAME)),
        Value::from(opt_text(log.key_prefix.as_ref(), limits::KEY_PREFIX)),
        Value::from(log.key_id),
        Value::from(opt_text(log.provider.as_ref(), limits::PROVIDER)),
        Value::from(log.credential_id),
        Value::from(opt_text(log.model.as_ref(), limits::MODEL)),
        Value::from(text(&log.protocol, limits::PROTOCOL)),
        Value::from(text(&log.method, limits::METHOD)),
        Value::from(text(&log.path, limits::PATH)),
        Value::from(log.stream),
        Value::from(i32::from(log.status)),
        Value::from(bigint(log.latency_ms)),
        Value::from(opt_bigint(log.ttfb_ms)),
        Value::from(opt_bigint(log.input_tokens)),
        Value::from(opt_bigint(log.output_tokens)),
        Value::from(opt_bigint(log.cache_read_tokens)),
        Value::from(opt_bigint(log.cache_write_tokens)),
        Value::from(opt_bigint(log.reasoning_tokens)),
        Value::from(opt_text(log.error.as_ref(), limits::ERROR)),
        Value::from(log.client_disconnected),
        Value::from(log.cost_nano_usd),
        Value::from(opt_text(log.price_version.as_ref(), limits::PRICE_VERSION)),
    ]);
}

/// `INSERT INTO request_logs (COLUMNS) VALUES (..), ..` for `rows` rows,
/// in `backend`'s quoting and placeholder style: the statement SeaORM's
/// `insert_many` builds (a test holds them equal), written directly
/// because building it through the query builder cost more CPU per row
/// than the insert itself (see docs/benchmarks.md).
fn insert_sql(backend: DbBackend, rows: usize) -> String {
    let quote = match backend {
        DbBackend::MySql => '`',
        DbBackend::Postgres | DbBackend::Sqlite => '"',
    };
    let numbered = backend == DbBackend::Postgres;
    let mut sql = String::with_capacity(400 + rows * COLUMNS.len() * 6);
    sql.push_str("INSERT INTO ");
    sql.extend([quote]);
    sql.push_str("request_logs");
    sql.extend([quote]);
    sql.push_str(" (");
    for (i, column) in COLUMNS.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.extend([quote]);
        sql.push_str(column);
        sql.extend([quote]);
    }
    sql.push_str(") VALUES ");
    let mut n = 0usize;
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for i in 0..COLUMNS.len() {
            if i > 0 {
                sql.push_str(", ");
            }
            n += 1;
            if numbered {
                sql.push('$');
                push_decimal(&mut sql, n);
            } else {
                sql.push('?');
            }
        }
        sql.push(')');
    }
    sql
}

/// Appends `n` in decimal, without the formatting machinery.
fn push_decimal(out: &mut String, mut n: usize) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend(digits[at..].iter().map(|&d| char::from(d)));
}

#[cfg(test)]
fn to_active(log: &RequestLog) -> request_logs::ActiveModel {
    use sea_orm::ActiveValue::{NotSet, Set};
    request_logs::ActiveModel {
        id: NotSet,
        request_id: Set(text(&log.request_id, limits::REQUEST_ID)),
        created_at: Set(log.created_at),
        user_id: Set(log.user_id),
        user_name: Set(opt_text(log.user_name.as_ref(), limits::USER_NAME)),
        key_prefix: Set(opt_text(log.key_prefix.as_ref(), limits::KEY_PREFIX)),
        key_id: Set(log.key_id),
        provider: Set(opt_text(log.provider.as_ref(), limits::PROVIDER)),
        credential_id: Set(log.credential_id),
        model: Set(opt_text(log.model.as_ref(), limits::MODEL)),
        protocol: Set(text(&log.protocol, limits::PROTOCOL)),
        method: Set(text(&log.method, limits::METHOD)),
        path: Set(text(&log.path, limits::PATH)),
        stream: Set(log.stream),
        status: Set(i32::from(log.status)),
        latency_ms: Set(bigint(log.latency_ms)),
        ttfb_ms: Set(opt_bigint(log.ttfb_ms)),
        input_tokens: Set(opt_bigint(log.input_tokens)),
        output_tokens: Set(opt_bigint(log.output_tokens)),
        cache_read_tokens: Set(opt_bigint(log.cache_read_tokens)),
        cache_write_tokens: Set(opt_bigint(log.cache_write_tokens)),
        reasoning_tokens: Set(opt_bigint(log.reasoning_tokens)),
        error: Set(opt_text(log.error.as_ref(), limits::ERROR)),
        client_disconnected: Set(log.client_disconnected),
        cost_nano_usd: Set(log.cost_nano_usd),
        price_version: Set(opt_text(log.price_version.as_ref(), limits::PRICE_VERSION)),
    }
}

impl TryFrom<request_logs::Model> for RequestLog {
    type Error = StorageError;

    fn try_from(m: request_logs::Model) -> Result<Self> {
        Ok(Self {
            request_id: m.request_id,
            created_at: m.created_at,
            user_id: m.user_id,
            user_name: m.user_name,
            key_prefix: m.key_prefix,
            key_id: m.key_id,
            provider: m.provider,
            credential_id: m.credential_id,
            model: m.model,
            protocol: m.protocol,
            method: m.method,
            path: m.path,
            stream: m.stream,
            status: u16::try_from(m.status).map_err(|_| {
                StorageError::invalid(
                    "request_logs.status",
                    format!("{} is no HTTP status", m.status),
                )
            })?,
            latency_ms: unsigned("request_logs.latency_ms", m.latency_ms)?,
            ttfb_ms: opt_unsigned("request_logs.ttfb_ms", m.ttfb_ms)?,
            input_tokens: opt_unsigned("request_logs.input_tokens", m.input_tokens)?,
            output_tokens: opt_unsigned("request_logs.output_tokens", m.output_tokens)?,
            cache_read_tokens: opt_unsigned("request_logs.cache_read_tokens", m.cache_read_tokens)?,
            cache_write_tokens: opt_unsigned(
                "request_logs.cache_write_tokens",
                m.cache_write_tokens,
            )?,
            reasoning_tokens: opt_unsigned("request_logs.reasoning_tokens", m.reasoning_tokens)?,
            error: m.error,
            client_disconnected: m.client_disconnected,
            cost_nano_usd: m.cost_nano_usd,
            price_version: m.price_version,
            attempts: Vec::new(),
            bodies: None,
        })
    }
}

/// Inserts `rows` (exactly `INSERT_SIZES[size]` of them) with one
/// statement.
async fn insert_chunk<C: ConnectionTrait>(db: &C, size: usize, rows: &[RequestLog]) -> Result<()> {
    debug_assert_eq!(rows.len(), INSERT_SIZES[size]);
    let backend = db.get_database_backend();
    let mut values = Vec::with_capacity(rows.len() * COLUMNS.len());
    for row in rows {
        push_values(row, &mut values);
    }
    db.execute(portable(Statement::from_sql_and_values(
        backend,
        cached_insert_sql(backend, size),
        values,
    )))
    .await?;
    Ok(())
}

/// Runs `work`, which blocks, on this thread: on a multi-thread runtime
/// after handing this worker's other tasks to another thread; elsewhere
/// (a current-thread runtime, as in tests) as it is.
fn blocking<T>(work: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}

impl TryFrom<request_logs::Model> for RequestLogRow {
    type Error = StorageError;

    fn try_from(m: request_logs::Model) -> Result<Self> {
        Ok(Self {
            id: m.id,
            log: RequestLog::try_from(m)?,
        })
    }
}

impl Storage {
    /// Inserts `rows` with multi-row `INSERT`s of the fixed sizes in
    /// [`INSERT_SIZES`], plus their attempts and captured bodies, inside one
    /// transaction whenever more than one statement is needed, so all or
    /// none are written. An empty slice is a no-op.
    ///
    /// On a SQLite file, rows without attempt or body rows (the usual
    /// batch) are written through a connection of the storage's own
    /// (`repo::log_file`), on this thread; on a multi-thread runtime its
    /// other tasks move to another worker meanwhile.
    pub async fn insert_request_logs(&self, rows: &[RequestLog]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let detail = rows
            .iter()
            .any(|r| needs_attempt_rows(r) || r.bodies.is_some());
        if !detail && let Some(file) = self.log_file() {
            return blocking(|| file.insert(rows));
        }
        self.insert_through_pool(rows, detail).await
    }

    /// [`Storage::insert_request_logs`] through the pool; `detail` says
    /// whether any row has attempt or body rows.
    pub(super) async fn insert_through_pool(
        &self,
        rows: &[RequestLog],
        detail: bool,
    ) -> Result<()> {
        if !detail && let Some(size) = INSERT_SIZES.iter().position(|&n| n == rows.len()) {
            return insert_chunk(self.connection(), size, rows).await;
        }
        let txn = self.connection().begin().await?;
        let mut rest = rows;
        for size in statement_sizes(rows.len()) {
            let (chunk, tail) = rest.split_at(INSERT_SIZES[size]);
            insert_chunk(&txn, size, chunk).await?;
            rest = tail;
        }
        if detail {
            insert_attempts(&txn, rows).await?;
            insert_bodies(&txn, rows).await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// The newest `limit` logs, newest first (by insertion id).
    pub async fn list_request_logs(&self, limit: u64) -> Result<Vec<RequestLog>> {
        let rows = request_logs::Entity::find()
            .order_by_desc(Column::Id)
            .limit(limit)
            .all(self.connection())
            .await?;
        rows.into_iter().map(RequestLog::try_from).collect()
    }

    /// How many logs are stored.
    pub async fn count_request_logs(&self) -> Result<u64> {
        Ok(request_logs::Entity::find()
            .count(self.connection())
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_clips_on_char_boundaries_and_replaces_nul() {
        assert_eq!(text("abc", 5), "abc");
        assert_eq!(text("äöüß", 2), "äö");
        // More bytes than `max` but no more characters: kept whole.
        assert_eq!(text("äöüß", 4), "äöüß");
        assert_eq!(text("äöüß", 3), "äöü");
        assert_eq!(text("abc", 3), "abc");
        assert_eq!(text("abcd", 3), "abc");
        assert_eq!(text("a\0b", 5), "a\u{FFFD}b");
        assert_eq!(text("", 0), "");
    }

    #[test]
    fn insert_is_the_statement_sea_orm_builds() {
        use sea_orm::QueryTrait;
        let full = RequestLog {
            request_id: "r\0-1".into(),
            created_at: Utc::now(),
            user_id: Some(3),
            user_name: Some("alice".into()),
            key_prefix: Some("sk-a".into()),
            provider: Some("openai".into()),
            credential_id: Some(9),
            model: Some("m".repeat(300)),
            protocol: "openai.chat".into(),
            method: "POST".into(),
            path: "/v1/chat/completions".into(),
            stream: true,
            status: 200,
            latency_ms: u64::MAX,
            ttfb_ms: Some(4),
            input_tokens: Some(11),
            output_tokens: Some(7),
            cache_read_tokens: Some(3),
            cache_write_tokens: Some(2),
            reasoning_tokens: Some(5),
            error: Some("e".into()),
            client_disconnected: true,
            key_id: Some(12),
            ..RequestLog::default()
        };
        let rows = [full, RequestLog::default()];
        for backend in [DbBackend::Sqlite, DbBackend::Postgres, DbBackend::MySql] {
            for n in [1, 2] {
                let ours = portable(Statement::from_sql_and_values(
                    backend,
                    insert_sql(backend, n),
                    rows[..n].iter().flat_map(|r| {
                        let mut v = Vec::new();
                        push_values(r, &mut v);
                        v
                    }),
                ));
                let theirs = portable(
                    request_logs::Entity::insert_many(rows[..n].iter().map(to_active))
                        .build(backend),
                );
                assert_eq!(ours.sql, theirs.sql, "{backend:?}");
                assert_eq!(ours.values, theirs.values, "{backend:?}");
            }
        }
    }

    #[test]
    fn batches_split_into_the_fixed_statement_sizes() {
        let split = |n| {
            statement_sizes(n)
                .map(|i| INSERT_SIZES[i])
                .collect::<Vec<_>>()
        };
        assert_eq!(split(0), Vec::<usize>::new());
        assert_eq!(split(1), [1]);
        assert_eq!(split(37), [16, 16, 4, 1]);
        assert_eq!(split(600), [256, 256, 64, 16, 4, 4]);
        for n in 0..2000 {
            assert_eq!(split(n).iter().sum::<usize>(), n, "{n}");
        }
        for backend in [DbBackend::Sqlite, DbBackend::Postgres, DbBackend::MySql] {
            for (i, &rows) in INSERT_SIZES.iter().enumerate() {
                assert_eq!(cached_insert_sql(backend, i), insert_sql(backend, rows));
            }
        }
    }

    #[test]
    fn decimals_are_written() {
        for n in [0, 7, 10, 5632, usize::MAX] {
            let mut s = String::from("$");
            push_decimal(&mut s, n);
            assert_eq!(s, format!("${n}"));
        }
    }

    #[test]
    fn counters_saturate_and_negative_reads_fail() {
        assert_eq!(bigint(u64::MAX), i64::MAX);
        assert_eq!(bigint(7), 7);
        assert!(unsigned("f", -1).is_err());
        assert_eq!(unsigned("f", 5).ok(), Some(5));
    }
}
