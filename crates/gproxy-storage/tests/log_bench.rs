//! Request-log queries at 1M rows: an ignored benchmark (see
//! docs/benchmarks.md, "Request-log queries at 1M rows"). Run with
//!
//! ```text
//! cargo test -p gproxy-storage --release --test log_bench -- --ignored --nocapture
//! ```
//!
//! SQLite always; PostgreSQL and MySQL when `GPROXY_TEST_POSTGRES` /
//! `GPROXY_TEST_MYSQL` are set (each in a scratch database).
#![cfg(test)] // lets clippy see helpers as test code (unwrap/expect allowed)

mod common;

use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, TimeZone, Utc};
use common::{Backend, Ctx, run};
use gproxy_storage::{
    LogQuery, NewUser, NewUserKey, RequestLog, TimeBucket, UsageGroup, UsageQuery,
};

/// Rows filled.
const ROWS: u64 = 1_000_000;
/// Rows per `insert_request_logs` call (one transaction each).
const FILL_BATCH: u64 = 20_000;
/// Rows per page.
const PAGE: u64 = 50;

/// Row `i` of the fill: 30 days from 2026-11-01 UTC, 8 providers, 40
/// models, 100 users with two keys each, 3 % errors, latencies spread over
/// 50 ms .. 20 s (a cheap deterministic hash, no RNG crate).
fn row(i: u64) -> RequestLog {
    let h = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 20;
    let start = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    let user = h % 100;
    RequestLog {
        request_id: format!("bench-{i:08}"),
        created_at: start + Duration::milliseconds((i * 2_592_000_000 / ROWS) as i64),
        user_id: Some(user as i64 + 1),
        user_name: Some(format!("user-{user}")),
        key_prefix: Some("sk-gp-bench".into()),
        key_id: Some((user * 2 + (h >> 7) % 2) as i64 + 1),
        provider: Some(format!("provider-{}", (h >> 9) % 8)),
        credential_id: Some(((h >> 9) % 8 * 4 + (h >> 12) % 4) as i64 + 1),
        model: Some(format!("model-{}", (h >> 14) % 40)),
        protocol: [
            "openai.chat",
            "claude.messages",
            "gemini",
            "openai.responses",
        ][(h % 4) as usize]
            .into(),
        method: "POST".into(),
        path: "/v1/chat/completions".into(),
        stream: h.is_multiple_of(2),
        status: if h % 100 < 3 { 429 } else { 200 },
        latency_ms: 50 + (h >> 3) % 20_000,
        ttfb_ms: Some(20 + (h >> 5) % 800),
        input_tokens: Some(100 + h % 4000),
        output_tokens: Some(10 + (h >> 4) % 1000),
        ..RequestLog::default()
    }
}

/// Runs `f` `n` times and returns the median time.
async fn median<F, Fut, T>(n: usize, mut f: F) -> StdDuration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        std::hint::black_box(f().await);
        times.push(t.elapsed());
    }
    times.sort();
    times[n / 2]
}

fn ms(d: StdDuration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

async fn bench(ctx: Ctx) {
    let s = &ctx.storage;
    let name = ctx.backend.name();
    let t = Instant::now();
    let mut batch = Vec::with_capacity(FILL_BATCH as usize);
    for i in 0..ROWS {
        batch.push(row(i));
        if batch.len() as u64 == FILL_BATCH {
            s.insert_request_logs(&batch).await.unwrap();
            batch.clear();
        }
    }
    s.insert_request_logs(&batch).await.unwrap();
    let fill = t.elapsed();
    assert_eq!(s.count_request_logs().await.unwrap(), ROWS);
    if ctx.backend == Backend::Postgres {
        use sea_orm::ConnectionTrait;
        s.connection()
            .execute_unprepared("ANALYZE request_logs")
            .await
            .unwrap();
    }

    let page = |q: LogQuery| async move { s.query_request_logs(&q).await.unwrap() };
    let first = median(9, || {
        page(LogQuery {
            limit: PAGE,
            ..LogQuery::default()
        })
    })
    .await;
    let by_provider = median(9, || {
        page(LogQuery {
            provider: Some("provider-3".into()),
            limit: PAGE,
            ..LogQuery::default()
        })
    })
    .await;
    let by_user = median(9, || {
        page(LogQuery {
            user_id: Some(42),
            limit: PAGE,
            ..LogQuery::default()
        })
    })
    .await;
    // Key 1 belongs to user 1 in the fill; the key filter finds its owner.
    let owner = s
        .create_user(&NewUser {
            name: "bench-user".into(),
            role: "user".into(),
            password_hash: None,
            enabled: true,
        })
        .await
        .unwrap();
    let key = s
        .create_user_key(&NewUserKey {
            user_id: owner.id,
            key_hash: "0".repeat(64),
            key_prefix: "sk-gp-bench".into(),
            label: None,
            expires_at: None,
            allowed_providers: None,
            allowed_models: None,
            max_cost_nano_usd: None,
            scope: "proxy".into(),
            enabled: true,
        })
        .await
        .unwrap();
    assert_eq!((owner.id, key.id), (1, 1));
    let by_key = median(9, || {
        page(LogQuery {
            key_id: Some(1),
            limit: PAGE,
            ..LogQuery::default()
        })
    })
    .await;
    let errors = median(9, || {
        page(LogQuery {
            status_class: Some(4),
            limit: PAGE,
            ..LogQuery::default()
        })
    })
    .await;
    let by_protocol = median(9, || {
        page(LogQuery {
            protocol: Some("gemini".into()),
            limit: PAGE,
            ..LogQuery::default()
        })
    })
    .await;
    let by_user_errors = median(9, || {
        page(LogQuery {
            user_id: Some(42),
            status_class: Some(4),
            limit: PAGE,
            ..LogQuery::default()
        })
    })
    .await;
    let day = Utc.with_ymd_and_hms(2026, 11, 15, 0, 0, 0).unwrap();
    let by_old_day = median(9, || {
        page(LogQuery {
            from: Some(day),
            to: Some(day + Duration::days(1)),
            limit: PAGE,
            ..LogQuery::default()
        })
    })
    .await;
    // Walk to page 50 by cursor; time the 50th page alone.
    let mut cursor = None;
    for _ in 0..49 {
        let p = page(LogQuery {
            cursor,
            limit: PAGE,
            ..LogQuery::default()
        })
        .await;
        cursor = p.next_cursor;
    }
    let page_50 = median(9, || {
        page(LogQuery {
            cursor: cursor.clone(),
            limit: PAGE,
            ..LogQuery::default()
        })
    })
    .await;
    let usage = UsageQuery {
        from: day,
        to: day + Duration::days(1),
        group_by: vec![UsageGroup::Model],
        bucket: None,
        user_id: None,
        key_id: None,
        provider: None,
        model: None,
    };
    let rows = s.usage_aggregates(&usage).await.unwrap();
    assert_eq!(rows.len(), 40);
    let aggregate = median(3, || s.usage_aggregates(&usage)).await;
    let hourly = UsageQuery {
        bucket: Some(TimeBucket::Hour),
        ..usage.clone()
    };
    let aggregate_hourly = median(3, || s.usage_aggregates(&hourly)).await;

    println!("| {name} | fill 1M rows | {:.1} s |", fill.as_secs_f64());
    for (what, d) in [
        ("first page, unfiltered", first),
        ("first page, provider = provider-3", by_provider),
        ("first page, user_id = 42", by_user),
        ("first page, key_id = 1", by_key),
        ("first page, 4xx (3 % of rows)", errors),
        ("first page, protocol = gemini", by_protocol),
        ("first page, user_id = 42 and 4xx", by_user_errors),
        ("first page, one day two weeks back", by_old_day),
        ("page 50 via cursor", page_50),
        ("one-day aggregate by model (~33k rows)", aggregate),
        ("one-day aggregate by model per hour", aggregate_hourly),
    ] {
        println!("| {name} | {what} | {} |", ms(d));
    }
}

#[tokio::test]
#[ignore = "benchmark: fills 1M rows; run with --release -- --ignored --nocapture"]
async fn request_log_queries_at_1m_rows_sqlite() {
    run(Backend::Sqlite, bench).await;
}

#[tokio::test]
#[ignore = "benchmark: fills 1M rows; run with --release -- --ignored --nocapture"]
async fn request_log_queries_at_1m_rows_postgres() {
    run(Backend::Postgres, bench).await;
}

#[tokio::test]
#[ignore = "benchmark: fills 1M rows; run with --release -- --ignored --nocapture"]
async fn request_log_queries_at_1m_rows_mysql() {
    run(Backend::Mysql, bench).await;
}

/// The write cost per request-log row, in CPU time of this process (the
/// SQLite engine runs in it; PostgreSQL's work is mostly in the server and
/// shows as wall time). The table is filled with 100k rows, then 50k more
/// are inserted per case and timed: the indexes of
/// `m20261204_000002_request_detail` against the current ones, in the usage
/// sink's old batch of 256 rows and its current default.
async fn write_cost(ctx: Ctx) {
    use sea_orm::ConnectionTrait;
    let s = &ctx.storage;
    let name = ctx.backend.name();
    const WARM: u64 = 100_000;
    const TIMED: u64 = 50_000;
    let default_batch = gproxy_storage::UsageSinkConfig::default().batch_size;
    let warm: Vec<RequestLog> = (0..WARM).map(row).collect();
    for chunk in warm.chunks(FILL_BATCH as usize) {
        s.insert_request_logs(chunk).await.unwrap();
    }
    let mut next = WARM;
    let mut timed = async |what: &str, batch: usize| {
        let rows: Vec<RequestLog> = (next..next + TIMED).map(row).collect();
        next += TIMED;
        let t = Instant::now();
        let cpu = cpu_time();
        for chunk in rows.chunks(batch) {
            s.insert_request_logs(chunk).await.unwrap();
        }
        let wall = t.elapsed().as_secs_f64() * 1e6 / TIMED as f64;
        let cpu = (cpu_time() - cpu) * 1e6 / TIMED as f64;
        println!("| {name} | {what}, batches of {batch} | {cpu:.1} µs | {wall:.1} µs |");
    };
    let old = [
        "CREATE INDEX old_key ON request_logs (key_id, id)",
        "CREATE INDEX old_protocol ON request_logs (protocol, id)",
        "CREATE INDEX old_status ON request_logs (status, id)",
        "DROP INDEX ix_request_logs_errors",
    ];
    for sql in old {
        s.connection().execute_unprepared(sql).await.unwrap();
    }
    timed("indexes of 000002", 256).await;
    for ix in ["old_key", "old_protocol", "old_status"] {
        s.connection()
            .execute_unprepared(&format!("DROP INDEX {ix}"))
            .await
            .unwrap();
    }
    s.connection()
        .execute_unprepared(
            "CREATE INDEX ix_request_logs_errors ON request_logs (id) WHERE status >= 400",
        )
        .await
        .unwrap();
    timed("current indexes", 256).await;
    timed("current indexes", default_batch).await;
}

#[tokio::test]
#[ignore = "benchmark: writes 400k rows; run with --release -- --ignored --nocapture"]
async fn request_log_write_cost_sqlite() {
    run(Backend::Sqlite, write_cost).await;
}

#[tokio::test]
#[ignore = "benchmark: writes 400k rows; run with --release -- --ignored --nocapture"]
async fn request_log_write_cost_postgres() {
    run(Backend::Postgres, write_cost).await;
}

/// This process's CPU time (user + system) in seconds, from /proc.
fn cpu_time() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}
