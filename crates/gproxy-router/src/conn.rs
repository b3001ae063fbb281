//! One client connection under the edge limits: how long it may stay
//! silent (no first byte), slow (a request head that does not complete)
//! or idle (no request open), whatever the protocol.
//!
//! hyper-util's auto connection reads its first bytes (to tell HTTP/1 from
//! HTTP/2) with no timer, hyper's HTTP/1 header timer starts as soon as a
//! kept-alive connection waits for its next request (so it cannot be
//! shorter than the keep-alive idle), and its HTTP/2 server has no idle
//! timeout. So the connection task keeps these timers itself, from three
//! facts updated on the way: the number of open requests
//! ([`RequestGuard`], created when a request's head is complete and
//! dropped with its response body), when the connection last became idle,
//! and when the first byte after that arrived ([`EdgeIo`], one relaxed
//! load per socket read). The timer is lazy: it wakes at the earliest
//! moment a limit could be reached (never later than the shortest limit
//! from now, since a change of state may start one), re-reads the facts
//! and either acts or sleeps again, so a request costs a few atomic
//! operations and no timer update.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use gproxy_core::settings::EdgeLimits;
use http_body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// How long a connection closed for idleness gets to finish its graceful
/// close (HTTP/2 GOAWAY and ping) before it is dropped.
pub const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// `head_since` when no byte arrived since the connection became idle.
const NONE: u64 = u64::MAX;

/// What the connection task and its requests share.
#[derive(Debug)]
pub struct ConnState {
    start: Instant,
    /// Requests whose head is complete and whose response is not done.
    open: AtomicU32,
    /// Whether a request was ever opened.
    served: AtomicBool,
    /// Whether the requests are HTTP/2 streams.
    http2: AtomicBool,
    /// Milliseconds from `start` to when `open` last fell to 0.
    idle_since: AtomicU64,
    /// Milliseconds from `start` to the first byte read since then
    /// ([`NONE`]: none yet).
    head_since: AtomicU64,
}

impl ConnState {
    /// The state of a connection accepted now.
    pub fn new() -> Arc<Self> {
        Arc::new(ConnState {
            start: Instant::now(),
            open: AtomicU32::new(0),
            served: AtomicBool::new(false),
            http2: AtomicBool::new(false),
            idle_since: AtomicU64::new(0),
            head_since: AtomicU64::new(NONE),
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(NONE - 1)
    }

    /// Bytes arrived: while no request is open on an HTTP/1 connection
    /// (or before the first HTTP/2 stream), they start a request head.
    fn bytes_read(&self) {
        if self.head_since.load(Ordering::Relaxed) == NONE
            && self.open.load(Ordering::Relaxed) == 0
            && !self.http2.load(Ordering::Relaxed)
        {
            self.head_since.store(self.now_ms(), Ordering::Relaxed);
        }
    }
}

/// One open request; dropping it (with the response body, or with the
/// request future when the client goes away first) may make the
/// connection idle.
#[derive(Debug)]
pub struct RequestGuard(Arc<ConnState>);

impl RequestGuard {
    /// Counts a request whose head is complete.
    pub fn open(state: &Arc<ConnState>, http2: bool) -> Self {
        state.open.fetch_add(1, Ordering::Relaxed);
        if !state.served.load(Ordering::Relaxed) {
            state.served.store(true, Ordering::Relaxed);
            state.http2.store(http2, Ordering::Relaxed);
        }
        RequestGuard(state.clone())
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        let state = &self.0;
        if state.open.fetch_sub(1, Ordering::Relaxed) == 1 {
            state.head_since.store(NONE, Ordering::Relaxed);
            state.idle_since.store(state.now_ms(), Ordering::Relaxed);
        }
    }
}

/// The shortest limit a change of state can start (a request head, an
/// idle period): the timer never sleeps longer, so such a change is seen
/// before its deadline passes.
fn shortest(limits: &EdgeLimits) -> Duration {
    limits
        .header_timeout
        .min(limits.keepalive_timeout)
        .min(limits.http2_idle_timeout)
}

/// A response body that holds its request's [`RequestGuard`].
#[derive(Debug)]
pub struct Tracked<B> {
    inner: B,
    _guard: RequestGuard,
}

impl<B> Tracked<B> {
    /// `inner`, keeping `guard` until the body is done with.
    pub fn new(inner: B, guard: RequestGuard) -> Self {
        Tracked {
            inner,
            _guard: guard,
        }
    }
}

impl<B: Body + Unpin> Body for Tracked<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The client socket, noting when bytes arrive.
#[derive(Debug)]
pub struct EdgeIo<T> {
    inner: T,
    state: Arc<ConnState>,
}

impl<T> EdgeIo<T> {
    /// `inner`, reporting reads to `state`.
    pub fn new(inner: T, state: Arc<ConnState>) -> Self {
        EdgeIo { inner, state }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for EdgeIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.state.bytes_read();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for EdgeIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// What the connection task does when its timer fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing yet (the timer was set again).
    Keep,
    /// Idle too long: close gracefully (HTTP/1: at once; HTTP/2: GOAWAY).
    CloseIdle,
    /// No first byte, or a request head not completed in time: drop it.
    DropSilent,
    /// A graceful close that did not finish within [`CLOSE_GRACE`].
    DropClosing,
}

/// The connection task's timer.
#[derive(Debug)]
pub struct Watch {
    state: Arc<ConnState>,
    limits: EdgeLimits,
    timer: Pin<Box<Sleep>>,
    closing: bool,
}

impl Watch {
    /// The timer of a connection accepted now under `limits`.
    pub fn new(state: Arc<ConnState>, limits: EdgeLimits) -> Self {
        let first = state.start + limits.first_byte_timeout.min(shortest(&limits));
        Watch {
            state,
            limits,
            timer: Box::pin(tokio::time::sleep_until(first)),
            closing: false,
        }
    }

    /// Resolves when the timer fires; then call [`Watch::verdict`].
    pub fn fired(&mut self) -> &mut Pin<Box<Sleep>> {
        &mut self.timer
    }

    /// The connection is closing (server shutdown or idle close): it gets
    /// [`CLOSE_GRACE`] more, unless requests are still open.
    fn close_started(&mut self) {
        self.closing = true;
        self.timer.as_mut().reset(Instant::now() + CLOSE_GRACE);
    }

    /// Decides after the timer fired, and sets it for the next check.
    pub fn verdict(&mut self) -> Verdict {
        let state = &self.state;
        let limits = &self.limits;
        let now = state.now_ms();
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(NONE - 1);
        if state.open.load(Ordering::Relaxed) > 0 {
            // Nothing to enforce while requests are open (their bodies
            // have their own timeouts); look again when the earliest limit
            // could be reached after they end.
            self.timer.as_mut().reset(Instant::now() + shortest(limits));
            return Verdict::Keep;
        }
        if self.closing {
            return Verdict::DropClosing;
        }
        let head_since = state.head_since.load(Ordering::Relaxed);
        let (deadline, verdict) = if head_since != NONE {
            (
                head_since.saturating_add(ms(limits.header_timeout)),
                Verdict::DropSilent,
            )
        } else {
            let idle_since = state.idle_since.load(Ordering::Relaxed);
            let verdict = if state.served.load(Ordering::Relaxed) {
                Verdict::CloseIdle
            } else {
                Verdict::DropSilent
            };
            (idle_since.saturating_add(ms(self.idle_limit())), verdict)
        };
        if now >= deadline {
            if verdict == Verdict::CloseIdle {
                self.close_started();
            }
            return verdict;
        }
        // A head or an idle period starting before the deadline could end
        // sooner: never sleep past the shortest limit.
        let wait = Duration::from_millis(deadline - now).min(shortest(limits));
        self.timer.as_mut().reset(Instant::now() + wait);
        Verdict::Keep
    }

    /// The server is shutting down: the connection closes gracefully.
    pub fn shutdown_started(&mut self) {
        if !self.closing {
            self.close_started();
        }
    }

    /// How long the connection may stay without an open request: until
    /// its first byte, then the keep-alive (HTTP/1) or idle (HTTP/2) limit.
    fn idle_limit(&self) -> Duration {
        if !self.state.served.load(Ordering::Relaxed) {
            self.limits.first_byte_timeout
        } else if self.state.http2.load(Ordering::Relaxed) {
            self.limits.http2_idle_timeout
        } else {
            self.limits.keepalive_timeout
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> EdgeLimits {
        EdgeLimits {
            first_byte_timeout: Duration::from_secs(2),
            header_timeout: Duration::from_secs(3),
            keepalive_timeout: Duration::from_secs(10),
            http2_idle_timeout: Duration::from_secs(20),
            ..EdgeLimits::default()
        }
    }

    /// Sleeps until the watch fires and returns its verdict and when.
    async fn next(watch: &mut Watch) -> (Verdict, u64) {
        watch.fired().await;
        (watch.verdict(), watch.state.now_ms() / 1000)
    }

    /// The first verdict other than `Keep`, and when.
    async fn decided(watch: &mut Watch) -> (Verdict, u64) {
        loop {
            let (verdict, at) = next(watch).await;
            if verdict != Verdict::Keep {
                return (verdict, at);
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_connection_is_dropped_after_the_first_byte_timeout() {
        let mut watch = Watch::new(ConnState::new(), limits());
        assert_eq!(next(&mut watch).await, (Verdict::DropSilent, 2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_head_that_does_not_complete_is_dropped_after_the_header_timeout() {
        let state = ConnState::new();
        let mut watch = Watch::new(state.clone(), limits());
        tokio::time::sleep(Duration::from_secs(1)).await;
        state.bytes_read();
        assert_eq!(next(&mut watch).await, (Verdict::Keep, 2));
        assert_eq!(next(&mut watch).await, (Verdict::DropSilent, 4));
    }

    #[tokio::test(start_paused = true)]
    async fn limits_shorter_than_the_first_byte_timeout_are_kept() {
        let state = ConnState::new();
        let limits = EdgeLimits {
            first_byte_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(1),
            ..limits()
        };
        let mut watch = Watch::new(state.clone(), limits);
        tokio::time::sleep(Duration::from_millis(500)).await;
        state.bytes_read();
        watch.fired().await;
        assert_eq!(watch.verdict(), Verdict::Keep);
        watch.fired().await;
        assert_eq!(watch.verdict(), Verdict::DropSilent);
        assert_eq!(state.now_ms(), 1500);
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_http1_connection_closes_after_the_keepalive_timeout() {
        let state = ConnState::new();
        let mut watch = Watch::new(state.clone(), limits());
        state.bytes_read();
        let guard = RequestGuard::open(&state, false);
        // A long request: nothing is enforced while it is open.
        assert_eq!(next(&mut watch).await, (Verdict::Keep, 2));
        assert_eq!(next(&mut watch).await, (Verdict::Keep, 5));
        tokio::time::sleep(Duration::from_secs(1)).await;
        drop(guard);
        // Idle from 6 s: closed at 16 s (checked every 3 s meanwhile, the
        // shortest limit a new request head could start).
        assert_eq!(next(&mut watch).await, (Verdict::Keep, 8));
        assert_eq!(next(&mut watch).await, (Verdict::Keep, 11));
        assert_eq!(decided(&mut watch).await, (Verdict::CloseIdle, 16));
        // The graceful close gets its grace, then the connection is dropped.
        assert_eq!(next(&mut watch).await, (Verdict::DropClosing, 21));
    }

    #[tokio::test(start_paused = true)]
    async fn a_kept_alive_connection_gets_the_header_timeout_from_its_next_first_byte() {
        let state = ConnState::new();
        let mut watch = Watch::new(state.clone(), limits());
        state.bytes_read();
        drop(RequestGuard::open(&state, false));
        tokio::time::sleep(Duration::from_secs(9)).await;
        state.bytes_read();
        assert_eq!(next(&mut watch).await, (Verdict::Keep, 9));
        assert_eq!(next(&mut watch).await, (Verdict::DropSilent, 12));
    }

    #[tokio::test(start_paused = true)]
    async fn http2_uses_its_idle_timeout_and_pings_do_not_count_as_a_head() {
        let state = ConnState::new();
        let mut watch = Watch::new(state.clone(), limits());
        state.bytes_read();
        drop(RequestGuard::open(&state, true));
        tokio::time::sleep(Duration::from_secs(5)).await;
        state.bytes_read(); // a ping or a settings frame
        assert_eq!(next(&mut watch).await, (Verdict::Keep, 5));
        assert_eq!(decided(&mut watch).await, (Verdict::CloseIdle, 20));
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_closes_once_requests_are_done_or_the_grace_ends() {
        let state = ConnState::new();
        let mut watch = Watch::new(state.clone(), limits());
        state.bytes_read();
        let guard = RequestGuard::open(&state, false);
        watch.shutdown_started();
        assert_eq!(next(&mut watch).await, (Verdict::Keep, 5));
        drop(guard);
        assert_eq!(next(&mut watch).await, (Verdict::DropClosing, 8));
    }
}
