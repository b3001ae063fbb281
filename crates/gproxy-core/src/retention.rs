//! Log retention: a background task that deletes request logs (with their
//! attempts and captured bodies) older than `[logging] retention_days`,
//! once at start and then hourly, reading the live setting each time so a
//! change through the admin API applies at the next run.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use gproxy_storage::Storage;
use tokio::task::JoinHandle;

use crate::config::Logging;

/// Time between two purges.
pub const RETENTION_INTERVAL: Duration = Duration::from_secs(3600);

/// Starts the retention task (it runs until the runtime stops).
pub fn spawn(storage: Storage, logging: Arc<ArcSwap<Logging>>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(RETENTION_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let days = logging.load().retention_days;
            match purge_once(&storage, days).await {
                Ok(0) => {}
                Ok(deleted) => {
                    tracing::info!(deleted, retention_days = days, "purged old request logs");
                }
                Err(e) => {
                    tracing::warn!(error = %e, "purging old request logs failed; trying again in an hour");
                }
            }
        }
    })
}

/// Deletes request logs older than `days` days (none when `days` is 0);
/// returns how many log rows went.
pub async fn purge_once(storage: &Storage, days: u32) -> Result<u64, gproxy_storage::StorageError> {
    if days == 0 {
        return Ok(0);
    }
    let cutoff = chrono::Utc::now() - chrono::Duration::days(i64::from(days));
    storage.purge_request_logs_before(cutoff).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use gproxy_storage::RequestLog;

    #[tokio::test]
    async fn purges_only_past_the_retention() {
        let storage = Storage::connect("sqlite::memory:").await.unwrap();
        storage.migrate().await.unwrap();
        let now = chrono::Utc::now();
        let rows: Vec<RequestLog> = [40, 10, 0]
            .iter()
            .map(|age| RequestLog {
                request_id: format!("age-{age}"),
                created_at: now - chrono::Duration::days(*age),
                ..RequestLog::default()
            })
            .collect();
        storage.insert_request_logs(&rows).await.unwrap();

        assert_eq!(purge_once(&storage, 0).await.unwrap(), 0, "0 keeps forever");
        assert_eq!(purge_once(&storage, 30).await.unwrap(), 1);
        assert_eq!(purge_once(&storage, 5).await.unwrap(), 1);
        let left = storage.list_request_logs(10).await.unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].request_id, "age-0");

        // The task reads the live setting and purges at start.
        storage
            .insert_request_logs(&[RequestLog {
                request_id: "old".into(),
                created_at: now - chrono::Duration::days(400),
                ..RequestLog::default()
            }])
            .await
            .unwrap();
        let live = Arc::new(ArcSwap::from_pointee(Logging {
            retention_days: 365,
            ..Logging::default()
        }));
        let task = spawn(storage.clone(), live);
        for _ in 0..200 {
            if storage.count_request_logs().await.unwrap() == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        task.abort();
        assert_eq!(storage.count_request_logs().await.unwrap(), 1);
    }
}
