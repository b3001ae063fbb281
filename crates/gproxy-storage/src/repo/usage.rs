//! Usage aggregates over request logs: counts, errors, token and cost sums and
//! latency percentiles, grouped by any subset of provider, model,
//! credential, user and key, optionally per UTC hour or day
//! ([`Storage::usage_aggregates`]).
//!
//! One SQL statement per query, the same on all three backends except the
//! time bucket expression. Percentiles: SQL counts the rows below each of
//! the fixed [`LATENCY_BOUNDS_MS`] (a cumulative histogram), and Rust
//! interpolates linearly inside the bucket the percentile falls in. The
//! estimate always lies in the right bucket, so its error is at most that
//! bucket's width: under 5 ms below 20 ms, and at most about a third of the
//! value above (buckets grow by a factor of 1.25 to 1.5); beyond the last
//! bound (10 min) it interpolates up to the group's maximum latency.

use chrono::{DateTime, NaiveDateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, QueryResult, Statement, Value};
use serde::Serialize;

use super::portable;
use crate::{Result, Storage, StorageError};

/// The upper bounds (exclusive, in ms) of the latency histogram buckets the
/// percentiles are interpolated from.
pub const LATENCY_BOUNDS_MS: [i64; 32] = [
    5, 10, 15, 20, 30, 40, 50, 75, 100, 150, 200, 250, 300, 400, 500, 750, 1_000, 1_500, 2_000,
    3_000, 4_000, 5_000, 7_500, 10_000, 15_000, 20_000, 30_000, 45_000, 60_000, 120_000, 300_000,
    600_000,
];

/// A column usage can be grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageGroup {
    /// `provider`.
    Provider,
    /// `model`.
    Model,
    /// `credential_id`.
    Credential,
    /// `user_id`.
    User,
    /// `key_id`.
    Key,
}

impl UsageGroup {
    fn column(self) -> &'static str {
        match self {
            UsageGroup::Provider => "provider",
            UsageGroup::Model => "model",
            UsageGroup::Credential => "credential_id",
            UsageGroup::User => "user_id",
            UsageGroup::Key => "key_id",
        }
    }
}

/// A UTC time bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeBucket {
    /// Whole UTC hours.
    Hour,
    /// Whole UTC days.
    Day,
}

/// What to aggregate: rows created in `[from, to)`, matching every set
/// filter, grouped by `group_by` (and `bucket`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageQuery {
    /// Start of the range (inclusive).
    pub from: DateTime<Utc>,
    /// End of the range (exclusive).
    pub to: DateTime<Utc>,
    /// The grouping columns (any subset; order does not matter).
    pub group_by: Vec<UsageGroup>,
    /// Also group per hour or day.
    pub bucket: Option<TimeBucket>,
    /// Only this user's rows.
    pub user_id: Option<i64>,
    /// Only rows sent with this key.
    pub key_id: Option<i64>,
    /// Only this provider's rows.
    pub provider: Option<String>,
    /// Only this model's rows.
    pub model: Option<String>,
}

/// One group's totals. A group column not in `group_by` is `None` (as is
/// one whose value is NULL in the logs).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct UsageRow {
    /// Start of the hour or day, when bucketed.
    pub bucket_start: Option<DateTime<Utc>>,
    /// Provider, when grouped by it.
    pub provider: Option<String>,
    /// Model, when grouped by it.
    pub model: Option<String>,
    /// Credential id, when grouped by it.
    pub credential_id: Option<i64>,
    /// User id, when grouped by it.
    pub user_id: Option<i64>,
    /// Key id, when grouped by it.
    pub key_id: Option<i64>,
    /// Requests.
    pub requests: u64,
    /// Requests that failed: status 400 or above, or an error recorded.
    pub errors: u64,
    /// Sum of prompt tokens.
    pub input_tokens: u64,
    /// Sum of completion tokens.
    pub output_tokens: u64,
    /// Sum of prompt-cache reads.
    pub cache_read_tokens: u64,
    /// Sum of prompt-cache writes.
    pub cache_write_tokens: u64,
    /// Sum of reasoning tokens.
    pub reasoning_tokens: u64,
    /// Sum of the known costs, in nano-dollars (1e-9 USD).
    pub cost_nano_usd: i64,
    /// Requests whose cost is known (the others had no price).
    pub priced_requests: u64,
    /// Median latency, interpolated (see the module docs for precision).
    pub latency_p50_ms: u64,
    /// 95th percentile latency, interpolated.
    pub latency_p95_ms: u64,
}

/// A raw SQL statement with bound values, in the backend's placeholder style.
struct Sql {
    backend: DbBackend,
    text: String,
    values: Vec<Value>,
}

impl Sql {
    fn new(backend: DbBackend) -> Self {
        Sql {
            backend,
            text: String::with_capacity(2048),
            values: Vec::new(),
        }
    }

    fn push(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }

    fn param(&mut self, v: impl Into<Value>) -> &mut Self {
        self.values.push(v.into());
        match self.backend {
            DbBackend::Postgres => {
                self.text.push('$');
                self.text.push_str(&self.values.len().to_string());
            }
            DbBackend::MySql | DbBackend::Sqlite => self.text.push('?'),
        }
        self
    }

    fn build(self) -> Statement {
        portable(Statement::from_sql_and_values(
            self.backend,
            self.text,
            self.values,
        ))
    }
}

/// The bucket's label (`YYYY-MM-DD HH` or `YYYY-MM-DD`) as SQL.
fn bucket_expr(backend: DbBackend, bucket: TimeBucket) -> &'static str {
    match (backend, bucket) {
        (DbBackend::Postgres, TimeBucket::Hour) => {
            "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24')"
        }
        (DbBackend::Postgres, TimeBucket::Day) => {
            "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
        }
        // DATETIME(6) columns hold UTC.
        (DbBackend::MySql, TimeBucket::Hour) => "DATE_FORMAT(created_at, '%Y-%m-%d %H')",
        (DbBackend::MySql, TimeBucket::Day) => "DATE_FORMAT(created_at, '%Y-%m-%d')",
        // Text `YYYY-MM-DD[ T]HH:MM:SS...`, always written in UTC.
        (DbBackend::Sqlite, TimeBucket::Hour) => "substr(created_at, 1, 13)",
        (DbBackend::Sqlite, TimeBucket::Day) => "substr(created_at, 1, 10)",
    }
}

/// The integer type a `SUM` is cast to (PostgreSQL and MySQL sum into
/// `NUMERIC`/`DECIMAL`).
fn int_type(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => "BIGINT",
        DbBackend::MySql => "SIGNED",
        DbBackend::Sqlite => "INTEGER",
    }
}

/// The start of a bucket from its label (`YYYY-MM-DD HH` or `YYYY-MM-DD`;
/// SQLite may write a `T` between date and hour).
fn parse_bucket(label: &str) -> Option<DateTime<Utc>> {
    let label = label.replacen('T', " ", 1);
    let full = match label.len() {
        13 => format!("{label}:00:00"),
        10 => format!("{label} 00:00:00"),
        _ => return None,
    };
    NaiveDateTime::parse_from_str(&full, "%Y-%m-%d %H:%M:%S")
        .ok()
        .map(|t| t.and_utc())
}

/// The `p` percentile (0 to 1) of a histogram: `below[i]` rows under
/// `LATENCY_BOUNDS_MS[i]`, `total` rows, the largest value `max`.
pub(crate) fn percentile(below: &[u64], total: u64, max: u64, p: f64) -> u64 {
    if total == 0 {
        return 0;
    }
    let rank = p * total as f64;
    let mut lower = 0f64;
    let mut before = 0u64;
    for (i, &count) in below.iter().enumerate() {
        let upper = LATENCY_BOUNDS_MS[i] as f64;
        if count as f64 >= rank && count > before {
            let share = (rank - before as f64) / (count - before) as f64;
            let value = lower + share.clamp(0.0, 1.0) * (upper - lower);
            return (value.round() as u64).min(max);
        }
        lower = upper;
        before = count;
    }
    // In the open bucket past the last bound: up to the maximum.
    let upper = (max as f64).max(lower);
    let share = (rank - before as f64) / (total - before).max(1) as f64;
    (lower + share.clamp(0.0, 1.0) * (upper - lower)).round() as u64
}

fn get_i64(row: &QueryResult, col: &str) -> Result<i64> {
    Ok(row.try_get::<Option<i64>>("", col)?.unwrap_or(0))
}

fn get_u64(row: &QueryResult, col: &str) -> Result<u64> {
    let v = get_i64(row, col)?;
    u64::try_from(v).map_err(|_| StorageError::invalid("usage", format!("negative {col}: {v}")))
}

impl Storage {
    /// Usage totals per group over `q`'s range, ordered by bucket, then by
    /// the group columns. A `to` not after `from` is a
    /// [`StorageError::InvalidValue`] naming `to`.
    pub async fn usage_aggregates(&self, q: &UsageQuery) -> Result<Vec<UsageRow>> {
        if q.to <= q.from {
            return Err(StorageError::invalid("to", "must be after `from`"));
        }
        let db = self.connection();
        let backend = db.get_database_backend();
        let int = int_type(backend);
        let mut groups: Vec<UsageGroup> = Vec::new();
        for g in &q.group_by {
            if !groups.contains(g) {
                groups.push(*g);
            }
        }
        let mut keys: Vec<&str> = Vec::new();
        if let Some(b) = q.bucket {
            keys.push(bucket_expr(backend, b));
        }
        keys.extend(groups.iter().map(|g| g.column()));

        let mut sql = Sql::new(backend);
        sql.push("SELECT ");
        if let Some(b) = q.bucket {
            sql.push(bucket_expr(backend, b)).push(" AS bucket, ");
        }
        for g in &groups {
            sql.push(g.column()).push(", ");
        }
        sql.push("COUNT(*) AS requests, ");
        sql.push(&format!(
            "CAST(SUM(CASE WHEN status >= 400 OR error IS NOT NULL THEN 1 ELSE 0 END) AS {int}) AS errors, "
        ));
        for col in TOKEN_COLUMNS {
            sql.push(&format!(
                "CAST(SUM(COALESCE({col}, 0)) AS {int}) AS {col}, "
            ));
        }
        sql.push(&format!(
            "CAST(SUM(COALESCE(cost_nano_usd, 0)) AS {int}) AS cost_nano_usd, \
             CAST(SUM(CASE WHEN cost_nano_usd IS NULL THEN 0 ELSE 1 END) AS {int}) AS priced_requests, "
        ));
        for (i, bound) in LATENCY_BOUNDS_MS.iter().enumerate() {
            sql.push(&format!(
                "CAST(SUM(CASE WHEN latency_ms < {bound} THEN 1 ELSE 0 END) AS {int}) AS h{i}, "
            ));
        }
        sql.push("MAX(latency_ms) AS max_latency FROM request_logs WHERE created_at >= ");
        sql.param(q.from).push(" AND created_at < ").param(q.to);
        if let Some(v) = q.user_id {
            sql.push(" AND user_id = ").param(v);
        }
        if let Some(v) = q.key_id {
            sql.push(" AND key_id = ").param(v);
        }
        if let Some(v) = &q.provider {
            sql.push(" AND provider = ").param(v.as_str());
        }
        if let Some(v) = &q.model {
            sql.push(" AND model = ").param(v.as_str());
        }
        if !keys.is_empty() {
            let list = keys.join(", ");
            sql.push(" GROUP BY ")
                .push(&list)
                .push(" ORDER BY ")
                .push(&list);
        }

        let rows = db.query_all(sql.build()).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let requests = get_u64(&row, "requests")?;
            if requests == 0 {
                continue; // an ungrouped query over no rows
            }
            let mut below = [0u64; LATENCY_BOUNDS_MS.len()];
            for (i, slot) in below.iter_mut().enumerate() {
                *slot = get_u64(&row, &format!("h{i}"))?;
            }
            let max = get_u64(&row, "max_latency")?;
            let mut r = UsageRow {
                requests,
                errors: get_u64(&row, "errors")?,
                input_tokens: get_u64(&row, "input_tokens")?,
                output_tokens: get_u64(&row, "output_tokens")?,
                cache_read_tokens: get_u64(&row, "cache_read_tokens")?,
                cache_write_tokens: get_u64(&row, "cache_write_tokens")?,
                reasoning_tokens: get_u64(&row, "reasoning_tokens")?,
                cost_nano_usd: get_i64(&row, "cost_nano_usd")?,
                priced_requests: get_u64(&row, "priced_requests")?,
                latency_p50_ms: percentile(&below, requests, max, 0.50),
                latency_p95_ms: percentile(&below, requests, max, 0.95),
                ..UsageRow::default()
            };
            if q.bucket.is_some() {
                let label: Option<String> = row.try_get("", "bucket")?;
                r.bucket_start = label.as_deref().and_then(parse_bucket);
            }
            for g in &groups {
                match g {
                    UsageGroup::Provider => r.provider = row.try_get("", "provider")?,
                    UsageGroup::Model => r.model = row.try_get("", "model")?,
                    UsageGroup::Credential => r.credential_id = row.try_get("", "credential_id")?,
                    UsageGroup::User => r.user_id = row.try_get("", "user_id")?,
                    UsageGroup::Key => r.key_id = row.try_get("", "key_id")?,
                }
            }
            out.push(r);
        }
        Ok(out)
    }
}

/// The token columns summed, in [`UsageRow`] order.
const TOKEN_COLUMNS: [&str; 5] = [
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn histogram(values: &[u64]) -> ([u64; LATENCY_BOUNDS_MS.len()], u64, u64) {
        let mut below = [0u64; LATENCY_BOUNDS_MS.len()];
        for (i, b) in LATENCY_BOUNDS_MS.iter().enumerate() {
            below[i] = values.iter().filter(|v| (**v as i64) < *b).count() as u64;
        }
        (
            below,
            values.len() as u64,
            values.iter().copied().max().unwrap_or(0),
        )
    }

    #[test]
    fn percentiles_interpolate_within_their_bucket() {
        // 100 values 1..=100 ms: p50 is in [50, 75), p95 in [75, 100] -> 95 exactly-ish.
        let values: Vec<u64> = (1..=100).collect();
        let (below, n, max) = histogram(&values);
        let p50 = percentile(&below, n, max, 0.5);
        let p95 = percentile(&below, n, max, 0.95);
        assert!((48..=52).contains(&p50), "{p50}");
        assert!((93..=97).contains(&p95), "{p95}");
        // One value: both percentiles are within its bucket and at most it.
        let (below, n, max) = histogram(&[120]);
        let p = percentile(&below, n, max, 0.5);
        assert!((100..=120).contains(&p), "{p}");
        // Past the last bound: up to the maximum.
        let (below, n, max) = histogram(&[700_000, 900_000]);
        let p = percentile(&below, n, max, 0.95);
        assert!((600_000..=900_000).contains(&p), "{p}");
        assert_eq!(percentile(&below, 0, 0, 0.5), 0);
    }

    #[test]
    fn bucket_labels_parse() {
        assert_eq!(
            parse_bucket("2026-12-04 05").map(|t| t.to_rfc3339()),
            Some("2026-12-04T05:00:00+00:00".into())
        );
        assert_eq!(
            parse_bucket("2026-12-04").map(|t| t.to_rfc3339()),
            Some("2026-12-04T00:00:00+00:00".into())
        );
        assert_eq!(parse_bucket("junk"), None);
    }
}
