//! The live request feed: every finished request's summary on a bounded
//! broadcast channel, read by the admin API's `GET /logs/live` as Server-
//! Sent Events. Publishing never waits: with no viewer it costs one atomic
//! read; a viewer that falls more than the channel's capacity behind loses
//! the oldest summaries and gets an `event: lagged` saying how many.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::Stream;
use gproxy_storage::RequestLog;
use serde::Serialize;
use tokio::sync::broadcast;

use super::metrics::Metrics;

/// One finished request, as the live feed shows it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct LiveRequest {
    /// Gateway request id.
    pub request_id: String,
    /// When it started.
    pub created_at: DateTime<Utc>,
    /// The user who sent it.
    pub user_id: Option<i64>,
    /// Their name.
    pub user_name: Option<String>,
    /// The key used (`null` for the admin key).
    pub key_id: Option<i64>,
    /// The key's prefix.
    pub key_prefix: Option<String>,
    /// The provider that served it, if resolved.
    pub provider: Option<String>,
    /// The upstream model, if resolved.
    pub model: Option<String>,
    /// Client protocol (`openai_chat`, ...).
    pub protocol: String,
    /// HTTP method.
    pub method: String,
    /// Request path.
    pub path: String,
    /// Whether the answer was streamed.
    pub stream: bool,
    /// The status the client got.
    pub status: u16,
    /// Total latency in milliseconds.
    pub latency_ms: u64,
    /// Time to the first upstream byte, in milliseconds.
    pub ttfb_ms: Option<u64>,
    /// Input tokens.
    pub input_tokens: Option<u64>,
    /// Output tokens.
    pub output_tokens: Option<u64>,
    /// Cache-read input tokens.
    pub cache_read_tokens: Option<u64>,
    /// Cache-write input tokens.
    pub cache_write_tokens: Option<u64>,
    /// Reasoning tokens.
    pub reasoning_tokens: Option<u64>,
    /// Upstream attempts made.
    pub attempts: usize,
    /// The error, if it failed.
    pub error: Option<String>,
    /// The client went away before the end.
    pub client_disconnected: bool,
}

/// What a viewer may see and asked to see.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveFilter {
    /// Only this user's requests (set for the `user` role).
    pub user_id: Option<i64>,
    /// Only this provider.
    pub provider: Option<String>,
    /// Only this upstream model.
    pub model: Option<String>,
    /// Only these statuses.
    pub status: Option<StatusFilter>,
}

impl LiveFilter {
    fn admits(&self, e: &LiveEvent) -> bool {
        if self.user_id.is_some() && self.user_id != e.user_id {
            return false;
        }
        if self.provider.is_some() && self.provider != e.provider {
            return false;
        }
        if self.model.is_some() && self.model != e.model {
            return false;
        }
        self.status.is_none_or(|s| s.admits(e.status))
    }
}

/// A live-feed status filter, parsed once when the viewer subscribes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    /// 400 and up (`error`).
    Error,
    /// One class: `4xx` is `Class(4)`.
    Class(u16),
    /// One code (`429`).
    Code(u16),
}

impl StatusFilter {
    /// Parses `error`, a class (`1xx`..`5xx`) or a code (100..599); empty
    /// is no filter. The error says what is accepted.
    pub fn parse(s: &str) -> Result<Option<StatusFilter>, String> {
        match s {
            "" => Ok(None),
            "error" => Ok(Some(StatusFilter::Error)),
            _ if s.len() == 3 && s.ends_with("xx") && (b'1'..=b'5').contains(&s.as_bytes()[0]) => {
                Ok(Some(StatusFilter::Class(u16::from(s.as_bytes()[0] - b'0'))))
            }
            _ => match s.parse::<u16>() {
                Ok(code) if (100..600).contains(&code) => Ok(Some(StatusFilter::Code(code))),
                _ => Err(format!(
                    "status `{s}`: a code (`429`), a class (`4xx`) or `error`"
                )),
            },
        }
    }

    fn admits(self, status: u16) -> bool {
        match self {
            StatusFilter::Error => status >= 400,
            StatusFilter::Class(class) => status / 100 == class,
            StatusFilter::Code(code) => status == code,
        }
    }
}

/// A summary on the channel: the fields filters read, and the JSON once.
#[derive(Debug)]
struct LiveEvent {
    user_id: Option<i64>,
    provider: Option<String>,
    model: Option<String>,
    status: u16,
    json: String,
}

/// The feed: publishers and viewers share it.
#[derive(Debug)]
pub struct LiveFeed {
    tx: broadcast::Sender<Arc<LiveEvent>>,
    capacity: usize,
}

/// The default number of summaries a viewer may fall behind.
pub const DEFAULT_CAPACITY: usize = 1024;

/// How often an idle feed sends a comment, so proxies keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

impl Default for LiveFeed {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl LiveFeed {
    /// A feed holding `capacity` summaries per viewer.
    pub fn new(capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(capacity.max(1));
        LiveFeed { tx, capacity }
    }

    /// How many summaries a viewer may fall behind.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Open viewers.
    pub fn viewers(&self) -> usize {
        self.tx.receiver_count()
    }

    /// Publishes a finished request (nothing happens without a viewer).
    pub(crate) fn publish(&self, log: &RequestLog) {
        if self.tx.receiver_count() == 0 {
            return;
        }
        let summary = LiveRequest {
            request_id: log.request_id.clone(),
            created_at: log.created_at,
            user_id: log.user_id,
            user_name: log.user_name.clone(),
            key_id: log.key_id,
            key_prefix: log.key_prefix.clone(),
            provider: log.provider.clone(),
            model: log.model.clone(),
            protocol: log.protocol.clone(),
            method: log.method.clone(),
            path: log.path.clone(),
            stream: log.stream,
            status: log.status,
            latency_ms: log.latency_ms,
            ttfb_ms: log.ttfb_ms,
            input_tokens: log.input_tokens,
            output_tokens: log.output_tokens,
            cache_read_tokens: log.cache_read_tokens,
            cache_write_tokens: log.cache_write_tokens,
            reasoning_tokens: log.reasoning_tokens,
            attempts: log.attempts.len(),
            error: log.error.clone(),
            client_disconnected: log.client_disconnected,
        };
        let Ok(json) = serde_json::to_string(&summary) else {
            return;
        };
        // No receiver left since the check: nothing to do.
        let _ = self.tx.send(Arc::new(LiveEvent {
            user_id: log.user_id,
            provider: summary.provider,
            model: summary.model,
            status: log.status,
            json,
        }));
    }

    /// A new viewer's event stream (SSE frames): a `: connected` comment
    /// first, then `event: request` per summary `filter` admits,
    /// `event: lagged` (`{"missed": n}`) after falling behind, and a
    /// keep-alive comment every 15 s of quiet.
    pub fn subscribe(&self, filter: LiveFilter, metrics: Arc<dyn ViewerMetrics>) -> EventStream {
        let rx = self.tx.subscribe();
        metrics.joined(true);
        let state = Viewer {
            rx,
            filter,
            ping: tokio::time::interval_at(tokio::time::Instant::now() + KEEP_ALIVE, KEEP_ALIVE),
            greeted: false,
            metrics,
        };
        let stream = futures_util::stream::unfold(state, |mut v| async move {
            if !v.greeted {
                v.greeted = true;
                return Some((Bytes::from_static(b": connected\n\n"), v));
            }
            loop {
                tokio::select! {
                    received = v.rx.recv() => match received {
                        Ok(event) => {
                            if v.filter.admits(&event) {
                                let frame = format!("event: request\ndata: {}\n\n", event.json);
                                return Some((Bytes::from(frame), v));
                            }
                        }
                        Err(broadcast::error::RecvError::Lagged(n)) => {
                            v.metrics.lagged(n);
                            let frame = format!("event: lagged\ndata: {{\"missed\":{n}}}\n\n");
                            return Some((Bytes::from(frame), v));
                        }
                        Err(broadcast::error::RecvError::Closed) => return None,
                    },
                    _ = v.ping.tick() => {
                        return Some((Bytes::from_static(b": keep-alive\n\n"), v));
                    }
                }
            }
        });
        EventStream::new(Box::pin(stream))
    }
}

/// Where a viewer reports itself (the metrics).
pub trait ViewerMetrics: Send + Sync {
    /// A viewer opened (`true`) or closed.
    fn joined(&self, joined: bool);
    /// A viewer lost `n` summaries.
    fn lagged(&self, n: u64);
}

impl ViewerMetrics for Metrics {
    fn joined(&self, joined: bool) {
        self.live_viewer(joined);
    }

    fn lagged(&self, n: u64) {
        self.live_lagged(n);
    }
}

struct Viewer {
    rx: broadcast::Receiver<Arc<LiveEvent>>,
    filter: LiveFilter,
    ping: tokio::time::Interval,
    greeted: bool,
    metrics: Arc<dyn ViewerMetrics>,
}

impl Drop for Viewer {
    fn drop(&mut self) {
        self.metrics.joined(false);
    }
}

type BoxedFrames = Pin<Box<dyn Stream<Item = Bytes> + Send>>;

/// An event stream waiting to become a response body. Cloneable (it rides
/// in a response's extensions); the first [`EventStream::take`] gets it.
#[derive(Clone)]
pub struct EventStream(Arc<Mutex<Option<BoxedFrames>>>);

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventStream")
    }
}

impl EventStream {
    fn new(frames: BoxedFrames) -> Self {
        EventStream(Arc::new(Mutex::new(Some(frames))))
    }

    /// The frames (once).
    pub fn take(&self) -> Option<BoxedFrames> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    struct Quiet;
    impl ViewerMetrics for Quiet {
        fn joined(&self, _: bool) {}
        fn lagged(&self, _: u64) {}
    }

    fn row(user: i64, status: u16) -> RequestLog {
        RequestLog {
            request_id: format!("r-{user}-{status}"),
            user_id: Some(user),
            provider: Some("p".into()),
            status,
            ..RequestLog::default()
        }
    }

    #[tokio::test]
    async fn filters_and_lag() {
        let feed = LiveFeed::new(4);
        feed.publish(&row(1, 200)); // no viewer: dropped
        let mut mine = feed
            .subscribe(
                LiveFilter {
                    user_id: Some(1),
                    status: StatusFilter::parse("5xx").unwrap(),
                    ..LiveFilter::default()
                },
                Arc::new(Quiet),
            )
            .take()
            .unwrap();
        assert_eq!(&mine.next().await.unwrap()[..], b": connected\n\n");
        feed.publish(&row(2, 500));
        feed.publish(&row(1, 200));
        feed.publish(&row(1, 503));
        let frame = mine.next().await.unwrap();
        let text = std::str::from_utf8(&frame).unwrap();
        assert!(text.starts_with("event: request\ndata: {"), "{text}");
        assert!(text.contains(r#""request_id":"r-1-503""#), "{text}");
        for _ in 0..10 {
            feed.publish(&row(1, 500));
        }
        let frame = mine.next().await.unwrap();
        assert_eq!(&frame[..], b"event: lagged\ndata: {\"missed\":6}\n\n");
        assert!(StatusFilter::parse("abc").is_err());
        assert!(StatusFilter::parse("6xx").is_err());
        assert!(StatusFilter::parse("600").is_err());
        assert_eq!(StatusFilter::parse(""), Ok(None));
        assert_eq!(StatusFilter::parse("error"), Ok(Some(StatusFilter::Error)));
        assert_eq!(
            StatusFilter::parse("429"),
            Ok(Some(StatusFilter::Code(429)))
        );
    }
}
