//! Writer-logic tests against a fake database, on paused time.

use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::AtomicUsize;

use super::*;
use crate::StorageError;

/// A fake database: records batch sizes; fails while `failures` > 0 or
/// while `down`; never answers while `hang`.
#[derive(Clone, Default)]
struct Fake {
    batches: Arc<Mutex<Vec<Vec<String>>>>,
    failures: Arc<AtomicUsize>,
    down: Arc<std::sync::atomic::AtomicBool>,
    hang: bool,
}

impl Fake {
    fn sizes(&self) -> Vec<usize> {
        self.batches.lock().unwrap().iter().map(Vec::len).collect()
    }

    fn ids(&self) -> Vec<String> {
        self.batches.lock().unwrap().concat()
    }

    fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }
}

impl writer::BatchWriter for Fake {
    fn write(&self, rows: &[RequestLog]) -> impl Future<Output = crate::Result<()>> + Send {
        // A row written with captured bodies shows as `id+bodies`.
        let ids: Vec<String> = rows
            .iter()
            .map(|r| match r.bodies {
                Some(_) => format!("{}+bodies", r.request_id),
                None => r.request_id.clone(),
            })
            .collect();
        let this = self.clone();
        async move {
            if this.hang {
                std::future::pending::<()>().await;
            }
            let failing = this.down.load(Ordering::SeqCst)
                || this
                    .failures
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
            if failing {
                return Err(StorageError::invalid("fake", "database down"));
            }
            this.batches.lock().unwrap().push(ids);
            Ok(())
        }
    }
}

fn log(i: usize) -> RequestLog {
    RequestLog {
        request_id: format!("r{i}"),
        ..RequestLog::default()
    }
}

fn cfg() -> UsageSinkConfig {
    UsageSinkConfig {
        capacity: 100,
        batch_size: 4,
        flush_interval: Duration::from_secs(1),
        max_buffered: 1000,
        retry_backoff: Duration::from_secs(1),
        max_body_bytes: 1000,
        drain_interval: Duration::ZERO,
    }
}

/// Lets the writer task run until it blocks.
async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn full_batches_go_at_once_partial_after_interval() {
    let fake = Fake::default();
    let (sink, handle) = UsageSink::spawn_with(fake.clone(), cfg());
    for i in 0..10 {
        sink.record(log(i));
    }
    settle().await;
    assert_eq!(fake.sizes(), vec![4, 4]);
    assert_eq!(sink.stats().buffered(), 2);

    tokio::time::sleep(Duration::from_millis(990)).await;
    settle().await;
    assert_eq!(
        fake.sizes(),
        vec![4, 4],
        "partial batch waits for the interval"
    );
    tokio::time::sleep(Duration::from_millis(20)).await;
    settle().await;
    assert_eq!(fake.sizes(), vec![4, 4, 2]);
    let want: Vec<String> = (0..10).map(|i| format!("r{i}")).collect();
    assert_eq!(fake.ids(), want, "order kept");

    let stats = sink.stats().clone();
    assert_eq!(
        (stats.written(), stats.dropped(), stats.buffered()),
        (10, 0, 0)
    );
    handle.shutdown(Duration::from_secs(1)).await;
    assert_eq!(stats.failed_batches(), 0);
}

#[tokio::test(start_paused = true)]
async fn failing_database_keeps_rows_and_backs_off() {
    let fake = Fake::default();
    fake.failures.store(3, Ordering::SeqCst);
    let (sink, handle) = UsageSink::spawn_with(fake.clone(), cfg());
    let start = tokio::time::Instant::now();
    for i in 0..4 {
        sink.record(log(i));
    }
    // Fails at t=0, t=1 and t=3 (backoff 1 s, 2 s), succeeds at t=7 (4 s).
    for (at, failed) in [(0u64, 1u64), (1, 2), (3, 3)] {
        tokio::time::sleep_until(start + Duration::from_millis(at * 1000 + 10)).await;
        settle().await;
        assert_eq!(sink.stats().failed_batches(), failed, "at t={at}s");
        assert_eq!(sink.stats().buffered(), 4);
        assert!(fake.sizes().is_empty());
    }
    tokio::time::sleep_until(start + Duration::from_millis(6990)).await;
    settle().await;
    assert!(fake.sizes().is_empty(), "still backing off");
    tokio::time::sleep_until(start + Duration::from_millis(7010)).await;
    settle().await;
    assert_eq!(fake.sizes(), vec![4]);
    assert_eq!(sink.stats().written(), 4);
    assert_eq!(sink.stats().dropped(), 0);
    handle.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn backoff_is_capped_at_thirty_seconds() {
    let fake = Fake::default();
    fake.set_down(true);
    let (sink, handle) = UsageSink::spawn_with(fake.clone(), cfg());
    for i in 0..4 {
        sink.record(log(i));
    }
    // Attempts at 0, 1, 3, 7, 15, 31, 61, 91: eight by t=91.5.
    tokio::time::sleep(Duration::from_millis(91_500)).await;
    settle().await;
    assert_eq!(sink.stats().failed_batches(), 8);
    fake.set_down(false);
    tokio::time::sleep(Duration::from_secs(30)).await;
    settle().await;
    assert_eq!(sink.stats().written(), 4);
    handle.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn overflow_while_failing_drops_oldest() {
    let fake = Fake::default();
    fake.set_down(true);
    let config = UsageSinkConfig {
        max_buffered: 5,
        ..cfg()
    };
    let (sink, handle) = UsageSink::spawn_with(fake.clone(), config);
    for i in 0..8 {
        sink.record(log(i));
        settle().await;
    }
    let stats = sink.stats().clone();
    assert_eq!((stats.dropped(), stats.buffered()), (3, 5));

    fake.set_down(false);
    tokio::time::sleep(Duration::from_secs(2)).await;
    settle().await;
    let want: Vec<String> = (3..8).map(|i| format!("r{i}")).collect();
    assert_eq!(fake.ids(), want, "the oldest were dropped");
    assert_eq!(
        (stats.written(), stats.dropped(), stats.buffered()),
        (5, 3, 0)
    );
    handle.shutdown(Duration::from_secs(1)).await;
}

fn with_body(i: usize, bytes: usize) -> RequestLog {
    RequestLog {
        bodies: Some(crate::CapturedBodies {
            request_body: Some("x".repeat(bytes)),
            ..crate::CapturedBodies::default()
        }),
        ..log(i)
    }
}

#[tokio::test(start_paused = true)]
async fn bodies_over_the_byte_budget_are_left_out() {
    let fake = Fake::default();
    fake.set_down(true);
    // Budget 1000 bytes (cfg).
    let (sink, handle) = UsageSink::spawn_with(fake.clone(), cfg());
    sink.record(with_body(0, 600));
    sink.record(with_body(1, 600)); // over: kept without its bodies
    sink.record(with_body(2, 400));
    settle().await;
    let stats = sink.stats().clone();
    assert_eq!((stats.body_bytes(), stats.bodies_dropped()), (1000, 1));

    // Written rows give their budget back.
    fake.set_down(false);
    tokio::time::sleep(Duration::from_secs(2)).await;
    settle().await;
    assert_eq!(fake.ids(), vec!["r0+bodies", "r1", "r2+bodies"]);
    assert_eq!(stats.body_bytes(), 0);
    sink.record(with_body(3, 900));
    handle.shutdown(Duration::from_secs(1)).await;
    assert_eq!(fake.ids().last().map(String::as_str), Some("r3+bodies"));
    assert_eq!((stats.body_bytes(), stats.bodies_dropped()), (0, 1));
}

#[tokio::test(start_paused = true)]
async fn evicted_and_refused_rows_give_back_their_budget() {
    let fake = Fake::default();
    fake.set_down(true);
    let config = UsageSinkConfig {
        max_buffered: 1,
        capacity: 1,
        ..cfg()
    };
    let (sink, handle) = UsageSink::spawn_with(fake.clone(), config);
    sink.record(with_body(0, 100));
    sink.record(with_body(1, 100)); // channel full: dropped
    let stats = sink.stats().clone();
    assert_eq!((stats.dropped(), stats.body_bytes()), (1, 100));
    settle().await;
    sink.record(with_body(2, 100)); // evicts r0 from the buffer
    settle().await;
    assert_eq!((stats.dropped(), stats.body_bytes()), (2, 100));
    handle.shutdown(Duration::ZERO).await;
    assert_eq!((stats.dropped(), stats.body_bytes()), (3, 0));
}

#[tokio::test(start_paused = true)]
async fn full_channel_counts_drops() {
    let fake = Fake::default();
    let config = UsageSinkConfig {
        capacity: 3,
        ..cfg()
    };
    let (sink, handle) = UsageSink::spawn_with(fake.clone(), config);
    // The writer cannot run between these calls (current-thread runtime).
    for i in 0..10 {
        sink.record(log(i));
    }
    let stats = sink.stats().clone();
    assert_eq!((stats.dropped(), stats.buffered()), (7, 3));
    handle.shutdown(Duration::from_secs(1)).await;
    assert_eq!(
        (stats.written(), stats.dropped(), stats.buffered()),
        (3, 7, 0)
    );
    assert_eq!(fake.ids(), vec!["r0", "r1", "r2"]);
}

#[tokio::test(start_paused = true)]
async fn shutdown_flushes_everything_and_stops_accepting() {
    let fake = Fake::default();
    let (sink, handle) = UsageSink::spawn_with(fake.clone(), cfg());
    for i in 0..7 {
        sink.record(log(i));
    }
    let before = tokio::time::Instant::now();
    handle.shutdown(Duration::from_secs(5)).await;
    assert!(
        before.elapsed() < Duration::from_millis(100),
        "no waiting for the interval"
    );
    let stats = sink.stats().clone();
    assert_eq!(
        (stats.written(), stats.dropped(), stats.buffered()),
        (7, 0, 0)
    );
    assert!(fake.sizes().iter().all(|&n| n <= 4));

    sink.record(log(99));
    assert_eq!(
        (stats.written(), stats.dropped(), stats.buffered()),
        (7, 1, 0)
    );
}

#[tokio::test(start_paused = true)]
async fn shutdown_retries_until_the_deadline_then_counts_drops() {
    let fake = Fake::default();
    fake.failures.store(2, Ordering::SeqCst);
    let (sink, handle) = UsageSink::spawn_with(fake.clone(), cfg());
    for i in 0..3 {
        sink.record(log(i));
    }
    // Fails at 0 and 1 s, succeeds at 3 s: within a 10 s deadline.
    handle.shutdown(Duration::from_secs(10)).await;
    let stats = sink.stats().clone();
    assert_eq!(
        (stats.written(), stats.dropped(), stats.failed_batches()),
        (3, 0, 2)
    );

    let fake = Fake::default();
    fake.set_down(true);
    let (sink, handle) = UsageSink::spawn_with(fake.clone(), cfg());
    for i in 0..3 {
        sink.record(log(i));
    }
    let start = tokio::time::Instant::now();
    handle.shutdown(Duration::from_secs(5)).await;
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_secs(5) && elapsed < Duration::from_secs(6),
        "{elapsed:?}"
    );
    let stats = sink.stats().clone();
    assert_eq!(
        (stats.written(), stats.dropped(), stats.buffered()),
        (0, 3, 0)
    );
}

#[tokio::test(start_paused = true)]
async fn hanging_database_is_abandoned_at_the_deadline() {
    let fake = Fake {
        hang: true,
        ..Fake::default()
    };
    let (sink, handle) = UsageSink::spawn_with(fake, cfg());
    for i in 0..6 {
        sink.record(log(i));
    }
    settle().await; // the first batch is now stuck in a write
    let start = tokio::time::Instant::now();
    handle.shutdown(Duration::from_secs(2)).await;
    assert!(start.elapsed() <= Duration::from_secs(2) + SHUTDOWN_GRACE);
    let stats = sink.stats().clone();
    assert_eq!(
        (stats.written(), stats.dropped(), stats.buffered()),
        (0, 6, 0)
    );
}

#[tokio::test(start_paused = true)]
async fn dropping_all_senders_flushes_and_ends_the_writer() {
    let fake = Fake::default();
    let (sink, handle) = UsageSink::spawn_with(fake.clone(), cfg());
    let stats = sink.stats().clone();
    sink.record(log(0));
    drop(handle); // no shutdown: the writer keeps running
    sink.clone().record(log(1));
    drop(sink);
    tokio::time::sleep(Duration::from_millis(10)).await;
    settle().await;
    assert_eq!(
        fake.ids(),
        vec!["r0", "r1"],
        "flushed without waiting the interval"
    );
    assert_eq!(stats.written(), 2);
}

#[test]
fn zero_sizes_are_raised() {
    let c = UsageSinkConfig {
        capacity: 0,
        batch_size: 0,
        max_buffered: 0,
        ..UsageSinkConfig::default()
    }
    .sanitized();
    assert_eq!((c.capacity, c.batch_size, c.max_buffered), (1, 1, 1));
    let d = UsageSinkConfig::default();
    assert_eq!(
        (d.capacity, d.batch_size, d.max_buffered),
        (10_000, 4096, 100_000)
    );
}

#[test]
fn rate_limit_lets_one_through_per_second() {
    let limit = RateLimit::new();
    assert!(limit.allow());
    assert!(!limit.allow());
}

#[tokio::test(start_paused = true)]
async fn rows_sent_soon_after_a_take_wait_in_the_channel_for_the_next() {
    let fake = Fake::default();
    let config = UsageSinkConfig {
        drain_interval: Duration::from_millis(50),
        ..cfg()
    };
    let (sink, handle) = UsageSink::spawn_with(fake.clone(), config);
    sink.record(log(0));
    settle().await;
    // A full batch (4) now, but the writer is not woken for each row: they
    // wait in the channel until the next take.
    for i in 1..5 {
        sink.record(log(i));
    }
    settle().await;
    assert!(
        fake.ids().is_empty(),
        "woken for each row: {:?}",
        fake.ids()
    );
    tokio::time::sleep(Duration::from_millis(51)).await;
    settle().await;
    assert_eq!(fake.ids(), vec!["r0", "r1", "r2", "r3", "r4"]);
    assert_eq!(sink.stats().written(), 5);
    handle.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn shutdown_waits_for_a_promised_row_within_its_deadline() {
    let fake = Fake::default();
    let (sink, handle) = UsageSink::spawn_with(fake.clone(), cfg());
    // A row still being made when shutdown starts: it comes 300 ms later
    // and is written, not refused as recorded after shutdown.
    let promise = sink.promise();
    let late = sink.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        late.record(log(1));
        drop(promise);
    });
    handle.shutdown(Duration::from_secs(1)).await;
    assert_eq!(fake.ids(), vec!["r1".to_owned()]);
    assert_eq!(sink.stats().dropped(), 0);

    // A promise never kept holds shutdown back for half the deadline; the
    // rows already recorded are still written in the other half.
    let fake = Fake::default();
    let (sink, handle) = UsageSink::spawn_with(fake.clone(), cfg());
    let _never = sink.promise();
    sink.record(log(2));
    let started = tokio::time::Instant::now();
    handle.shutdown(Duration::from_millis(500)).await;
    assert_eq!(started.elapsed(), Duration::from_millis(250));
    assert_eq!(fake.ids(), vec!["r2".to_owned()]);
}
