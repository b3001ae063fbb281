//! The usage sink against real databases (short real intervals: the SQLite
//! driver runs on its own threads, which paused tokio time does not suit).
//! The writer's timing logic is tested on paused time in `src/sink/tests.rs`.
#![cfg(test)] // lets clippy see helpers as test code (unwrap/expect allowed)

mod common;

use std::time::Duration;

use common::{Ctx, wait_until};
use gproxy_storage::{RequestLog, Storage, UsageSink, UsageSinkConfig};
use sea_orm::ConnectionTrait;

backend_tests!(
    sink_writes_and_flushes_on_shutdown,
    sink_counts_drops_when_channel_full,
    sink_keeps_rows_while_db_fails_and_recovers,
    sink_counts_unwritten_rows_at_shutdown,
);

const LIMIT: Duration = Duration::from_secs(20);

fn log(i: usize) -> RequestLog {
    RequestLog {
        request_id: format!("sink-{i}"),
        created_at: chrono::Utc::now(),
        protocol: "openai.chat".to_owned(),
        method: "POST".to_owned(),
        path: "/v1/chat/completions".to_owned(),
        status: 200,
        latency_ms: 5,
        input_tokens: Some(i as u64),
        ..RequestLog::default()
    }
}

fn fast() -> UsageSinkConfig {
    UsageSinkConfig {
        batch_size: 16,
        flush_interval: Duration::from_millis(20),
        retry_backoff: Duration::from_millis(20),
        ..UsageSinkConfig::default()
    }
}

async fn rename(storage: &Storage, from: &str, to: &str) {
    storage
        .connection()
        .execute_unprepared(&format!("ALTER TABLE {from} RENAME TO {to}"))
        .await
        .unwrap();
}

async fn sink_writes_and_flushes_on_shutdown(ctx: Ctx) {
    let s = ctx.storage.clone();
    let (sink, handle) = UsageSink::spawn(s.clone(), fast());
    for i in 0..100 {
        sink.record(log(i));
    }
    wait_until("100 rows written", LIMIT, || sink.stats().written() == 100).await;
    assert_eq!(s.count_request_logs().await.unwrap(), 100);

    // With an hour-long interval only shutdown can flush the partial batch.
    let lazy = UsageSinkConfig {
        flush_interval: Duration::from_secs(3600),
        ..fast()
    };
    let (sink2, handle2) = UsageSink::spawn(s.clone(), lazy);
    for i in 100..105 {
        sink2.record(log(i));
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(s.count_request_logs().await.unwrap(), 100);
    handle2.shutdown(Duration::from_secs(10)).await;
    let stats = sink2.stats();
    assert_eq!(
        (stats.written(), stats.dropped(), stats.buffered()),
        (5, 0, 0)
    );

    handle.shutdown(Duration::from_secs(10)).await;
    assert_eq!(s.count_request_logs().await.unwrap(), 105);
    let newest = s.list_request_logs(105).await.unwrap();
    let ids: Vec<String> = newest.iter().map(|r| r.request_id.clone()).collect();
    let want: Vec<String> = (0..105).rev().map(|i| format!("sink-{i}")).collect();
    assert_eq!(ids, want, "written in order");
    assert_eq!(sink.stats().failed_batches(), 0);
}

async fn sink_counts_drops_when_channel_full(ctx: Ctx) {
    let cfg = UsageSinkConfig {
        capacity: 5,
        ..fast()
    };
    let (sink, handle) = UsageSink::spawn(ctx.storage.clone(), cfg);
    // No await in between: on the current-thread runtime the writer cannot
    // drain the channel during this loop.
    for i in 0..50 {
        sink.record(log(i));
    }
    assert_eq!((sink.stats().dropped(), sink.stats().buffered()), (45, 5));
    handle.shutdown(Duration::from_secs(10)).await;
    assert_eq!((sink.stats().written(), sink.stats().dropped()), (5, 45));
    assert_eq!(ctx.storage.count_request_logs().await.unwrap(), 5);
}

async fn sink_keeps_rows_while_db_fails_and_recovers(ctx: Ctx) {
    let s = ctx.storage.clone();
    rename(&s, "request_logs", "request_logs_away").await;
    let (sink, handle) = UsageSink::spawn(s.clone(), fast());
    for i in 0..40 {
        sink.record(log(i));
    }
    wait_until("three failed writes", LIMIT, || {
        sink.stats().failed_batches() >= 3
    })
    .await;
    let stats = sink.stats().clone();
    assert_eq!(
        (stats.written(), stats.dropped(), stats.buffered()),
        (0, 0, 40)
    );

    rename(&s, "request_logs_away", "request_logs").await;
    wait_until("recovery", LIMIT, || stats.written() == 40).await;
    assert_eq!(s.count_request_logs().await.unwrap(), 40);
    assert_eq!((stats.dropped(), stats.buffered()), (0, 0));
    handle.shutdown(Duration::from_secs(10)).await;
}

async fn sink_counts_unwritten_rows_at_shutdown(ctx: Ctx) {
    // A database whose table is gone.
    let s = ctx.storage.clone();
    rename(&s, "request_logs", "request_logs_away").await;
    let (sink, handle) = UsageSink::spawn(s.clone(), fast());
    for i in 0..5 {
        sink.record(log(i));
    }
    let start = tokio::time::Instant::now();
    handle.shutdown(Duration::from_millis(300)).await;
    assert!(start.elapsed() < Duration::from_secs(5));
    let stats = sink.stats();
    assert_eq!(
        (stats.written(), stats.dropped(), stats.buffered()),
        (0, 5, 0)
    );
    assert!(stats.failed_batches() >= 1);
    sink.record(log(5));
    assert_eq!(stats.dropped(), 6, "recorded after shutdown");
    rename(&s, "request_logs_away", "request_logs").await;
    assert_eq!(s.count_request_logs().await.unwrap(), 0);

    // A closed connection pool.
    let closed = Storage::connect(&ctx.dsn).await.unwrap();
    closed.close().await.unwrap();
    let (sink, handle) = UsageSink::spawn(closed, fast());
    for i in 0..3 {
        sink.record(log(i));
    }
    handle.shutdown(Duration::from_millis(200)).await;
    let stats = sink.stats();
    assert_eq!(
        (stats.written(), stats.dropped(), stats.buffered()),
        (0, 3, 0)
    );
    assert_eq!(s.count_request_logs().await.unwrap(), 0);
}
