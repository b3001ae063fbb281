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
use gproxy_storage::{LogQuery, RequestLog, TimeBucket, UsageGroup, UsageQuery};

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
