//! Counters of the client edge: connections open, refused at the cap and
//! closed for silence or idleness, request bodies timed out, keys refused.
//! The router's accept loop and request path update them (relaxed atomics,
//! no lock); the full `/health` and the admin API show them.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use serde::Serialize;

/// The counters, shared by the accept loop, the router and the reports.
#[derive(Debug, Default)]
pub struct EdgeStats {
    open: AtomicUsize,
    accepted: AtomicU64,
    refused: AtomicU64,
    closed_silent: AtomicU64,
    closed_idle: AtomicU64,
    body_timeouts: AtomicU64,
    unauthorized: AtomicU64,
    /// Connections accepted by each accept loop of a server with one loop
    /// per thread; unset with one shared accept loop.
    by_thread: std::sync::OnceLock<Box<[AtomicU64]>>,
}

/// What the edge counters show, for `/health` (with the admin key) and
/// `GET /admin/api/health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct EdgeReport {
    /// Client connections open now.
    pub open_connections: usize,
    /// Connections accepted since start (refused ones excluded).
    pub accepted_connections: u64,
    /// Connections refused at `limits.max_connections` (answered 503 and
    /// closed).
    pub refused_connections: u64,
    /// Connections closed because they sent no first byte, or no complete
    /// request head, in time.
    pub closed_silent: u64,
    /// Connections closed after staying idle beyond the keep-alive (HTTP/1)
    /// or idle (HTTP/2) timeout.
    pub closed_idle: u64,
    /// Requests answered 408 because their body did not arrive in time.
    pub body_timeouts: u64,
    /// Requests refused 401 (no, unknown or expired key).
    pub unauthorized: u64,
    /// Connections accepted by each serving thread, in thread order, when
    /// every thread runs its own accept loop (`--runtime per-core`, the
    /// default on Linux): the kernel spreads new connections over them.
    /// Empty with one shared accept loop.
    pub accepted_by_thread: Vec<u64>,
    /// Connections to upstreams open now, over every serving thread's pool
    /// (`--runtime per-core`); null under the shared runtime.
    pub upstream_connections_open: Option<u64>,
    /// Connections to upstreams opened since start (a number growing much
    /// faster than requests come means connections are not reused: an
    /// upstream closing them, or responses not read to the end); null
    /// under the shared runtime.
    pub upstream_connections_opened: Option<u64>,
}

impl EdgeStats {
    /// Counts a connection as open; the guard counts it closed when dropped.
    pub fn open_connection(self: &std::sync::Arc<Self>) -> OpenConnection {
        self.open.fetch_add(1, Ordering::Relaxed);
        self.accepted.fetch_add(1, Ordering::Relaxed);
        OpenConnection(self.clone())
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Counts a connection refused at the cap.
    pub fn refused(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a connection closed for silence.
    pub fn closed_silent(&self) {
        self.closed_silent.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a connection closed for idleness.
    pub fn closed_idle(&self) {
        self.closed_idle.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a request body that timed out.
    pub fn body_timeout(&self) {
        self.body_timeouts.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a 401; returns the count so far (for throttled logging).
    pub fn unauthorized(&self) -> u64 {
        self.unauthorized.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Keeps an accepted-connections counter for each of `threads` accept
    /// loops. Only the first call counts.
    pub fn count_by_thread(&self, threads: usize) {
        let _ = self
            .by_thread
            .set((0..threads).map(|_| AtomicU64::new(0)).collect());
    }

    /// Counts a connection accepted by accept loop `thread` (see
    /// [`EdgeStats::count_by_thread`]).
    pub fn accepted_by(&self, thread: usize) {
        if let Some(counter) = self.by_thread.get().and_then(|c| c.get(thread)) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The counters now.
    pub fn report(&self) -> EdgeReport {
        let upstream = crate::upstream::connection_counts();
        EdgeReport {
            open_connections: self.open(),
            accepted_connections: self.accepted.load(Ordering::Relaxed),
            refused_connections: self.refused.load(Ordering::Relaxed),
            closed_silent: self.closed_silent.load(Ordering::Relaxed),
            closed_idle: self.closed_idle.load(Ordering::Relaxed),
            body_timeouts: self.body_timeouts.load(Ordering::Relaxed),
            unauthorized: self.unauthorized.load(Ordering::Relaxed),
            accepted_by_thread: self.by_thread.get().map_or_else(Vec::new, |c| {
                c.iter().map(|n| n.load(Ordering::Relaxed)).collect()
            }),
            upstream_connections_open: upstream.map(|(_, open)| open),
            upstream_connections_opened: upstream.map(|(opened, _)| opened),
        }
    }
}

/// One open connection; dropping it counts the connection closed.
#[derive(Debug)]
pub struct OpenConnection(std::sync::Arc<EdgeStats>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn open_connections_are_counted_until_dropped() {
        let stats = Arc::new(EdgeStats::default());
        let a = stats.open_connection();
        let b = stats.open_connection();
        stats.refused();
        assert_eq!(stats.open(), 2);
        drop(a);
        let r = stats.report();
        assert_eq!(
            (
                r.open_connections,
                r.accepted_connections,
                r.refused_connections
            ),
            (1, 2, 1)
        );
        drop(b);
        assert_eq!(stats.open(), 0);
        assert!(r.accepted_by_thread.is_empty());
        stats.count_by_thread(2);
        stats.count_by_thread(3);
        stats.accepted_by(1);
        stats.accepted_by(1);
        stats.accepted_by(0);
        stats.accepted_by(7);
        assert_eq!(stats.report().accepted_by_thread, vec![1, 2]);
        assert_eq!((stats.unauthorized(), stats.unauthorized()), (1, 2));
    }
}
