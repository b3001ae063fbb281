//! The accept loop: HTTP/1.1 and HTTP/2 (h2c) on one listener, each
//! connection under the edge limits of `[limits]` (read for every new
//! connection, so a change applies to connections opened after it), a cap
//! on open connections, and graceful shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::Duration;

use gproxy_core::edge::{EdgeStats, OpenConnection};
use gproxy_core::settings::EdgeLimits;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use bytes::Bytes;
use http_body_util::Full;

use crate::Router;
use crate::conn::{ConnState, EdgeIo, RequestGuard, Tracked, Verdict, Watch};
use crate::h1::{EdgeConn, Rewind, Served};
use crate::throttle::Throttle;

/// Largest request head (request line plus headers; HTTP/2: the decoded
/// header list). 64 KiB.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
/// How long shutdown waits for requests in flight. 30 s.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
/// Open files kept for everything but client connections (database,
/// Redis, log files, listeners).
const RESERVED_FILES: u64 = 128;

/// The answer to a connection beyond the cap: written without reading the
/// request, then the socket is closed.
const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
retry-after: 1\r\nconnection: close\r\ncontent-length: 82\r\n\r\n\
{\"error\":{\"message\":\"too many open connections; retry later\",\"type\":\"overloaded\"}}";

/// Serves `router` on `listener` until `shutdown` resolves, then stops
/// accepting and waits up to [`SHUTDOWN_GRACE`] for open connections.
/// Connections are served on the runtime this is awaited on; see
/// [`serve_per_core`] for one accept loop and runtime per thread.
pub async fn serve(listener: TcpListener, router: Arc<Router>, shutdown: impl Future<Output = ()>) {
    accept_loop(listener, router, shutdown, None).await;
}

/// The listening sockets of a per-core server: one per serving thread, all
/// on one address (`SO_REUSEPORT`), so that the kernel spreads new
/// connections over the threads.
#[derive(Debug)]
pub struct CoreListeners {
    local: SocketAddr,
    sockets: Vec<std::net::TcpListener>,
}

impl CoreListeners {
    /// Binds `threads` sockets (at least one) to `addr` (`host:port`; port
    /// 0 picks a free port, the same for every socket). Must be called
    /// within a tokio runtime.
    pub async fn bind(addr: &str, threads: usize) -> std::io::Result<Self> {
        let mut last = None;
        for candidate in tokio::net::lookup_host(addr).await? {
            match reuse_port_listener(candidate) {
                Ok(first) => {
                    let local = first.local_addr()?;
                    let mut sockets = vec![first];
                    for _ in 1..threads.max(1) {
                        sockets.push(reuse_port_listener(local)?);
                    }
                    return Ok(CoreListeners { local, sockets });
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::AddrNotAvailable,
                format!("{addr} resolves to no address"),
            )
        }))
    }

    /// The address every socket listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// How many threads will serve.
    pub fn threads(&self) -> usize {
        self.sockets.len()
    }
}

/// One listening socket with `SO_REUSEPORT`, detached from the runtime
/// that made it so that another runtime can take it.
fn reuse_port_listener(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    #[cfg(all(
        unix,
        not(any(target_os = "solaris", target_os = "illumos", target_os = "cygwin"))
    ))]
    socket.set_reuseport(true)?;
    socket.bind(addr)?;
    socket.listen(1024)?.into_std()
}

/// Serves `router` with one thread per socket of `listeners`, each running
/// its own accept loop on its own single-threaded runtime: a connection,
/// the request's upstream call (each thread keeps its own upstream
/// connection pool, [`gproxy_core::upstream::pool_per_thread`]) and the
/// response stay on the thread that accepted the connection, with no
/// wake-up of another thread per request. Work already started on the
/// runtime this is awaited on (the usage writer, reloads, Redis
/// subscriptions) stays there, and work a request leaves behind (the Redis
/// link's flusher, response-cache stores) goes there too
/// ([`gproxy_core::background`]): a serving thread's runtime ends with the
/// thread. When `shutdown` resolves, every thread stops accepting and
/// drains as [`serve`] does; this returns when all have finished.
///
/// The trade-off against [`serve`] on a multi-threaded runtime: a thread
/// does not take work from a busy neighbour, so a single connection
/// carrying many requests (HTTP/2) is served by one thread.
pub async fn serve_per_core(
    listeners: CoreListeners,
    router: Arc<Router>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let threads = listeners.threads();
    let mut runtimes = Vec::with_capacity(threads);
    for _ in 0..threads {
        runtimes.push(
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?,
        );
    }
    gproxy_core::upstream::pool_per_thread();
    gproxy_core::background::set_runtime(tokio::runtime::Handle::current());
    router.engine().edge_stats().count_by_thread(threads);
    let (stop, stopping) = watch::channel(false);
    let mut finished = Vec::with_capacity(threads);
    for (index, (socket, runtime)) in listeners.sockets.into_iter().zip(runtimes).enumerate() {
        let router = router.clone();
        let mut stopping = stopping.clone();
        let (done, finished_one) = tokio::sync::oneshot::channel::<()>();
        finished.push(finished_one);
        std::thread::Builder::new()
            .name(format!("gproxy-serve-{index}"))
            .spawn(move || {
                runtime.block_on(async move {
                    match TcpListener::from_std(socket) {
                        Ok(listener) => {
                            let shutdown = async move {
                                let _ = stopping.wait_for(|stop| *stop).await;
                            };
                            accept_loop(listener, router, shutdown, Some(index)).await;
                        }
                        Err(e) => tracing::error!(thread = index, error = %e, "cannot listen"),
                    }
                });
                // The runtime first: dropping it waits for what its
                // blocking pool still runs (the count of a stream the
                // client left), whose log row must reach the sink before
                // the process flushes it and exits.
                drop(runtime);
                drop(done);
            })?;
    }
    drop(stopping);
    shutdown.await;
    let _ = stop.send(true);
    for one in finished {
        let _ = one.await;
    }
    Ok(())
}

async fn accept_loop(
    listener: TcpListener,
    router: Arc<Router>,
    shutdown: impl Future<Output = ()>,
    thread: Option<usize>,
) {
    let stats = router.engine().edge_stats().clone();
    let file_cap = connection_cap_from_file_limit();
    let configured = router.engine().limits().edge.max_connections;
    // Said once, not by every accept loop of a per-core server.
    if configured > file_cap && thread.unwrap_or(0) == 0 {
        tracing::warn!(
            max_connections = configured,
            allowed = file_cap,
            "the open-file limit allows fewer connections than limits.max_connections; raise the hard limit (ulimit -Hn, LimitNOFILE) to allow more"
        );
    }
    let (close_all, closing) = watch::channel(false);
    let mut builders = Builders::new(router.engine().limits().edge);
    let accept_failed = Throttle::new(Duration::from_secs(10));
    let refused = Throttle::new(Duration::from_secs(10));
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(conn) => conn,
                    Err(e) => {
                        if let Some(more) = accept_failed.ready() {
                            tracing::warn!(error = %e, more, "accept failed");
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let limits = router.engine().limits().edge;
                let cap = limits.max_connections.min(file_cap);
                if stats.open() >= cap {
                    stats.refused();
                    if let Some(more) = refused.ready() {
                        tracing::warn!(cap, more, "connection refused: too many open connections");
                    }
                    refuse(stream);
                    continue;
                }
                let open = stats.open_connection();
                if let Some(thread) = thread {
                    stats.accepted_by(thread);
                }
                let _ = stream.set_nodelay(true);
                let state = ConnState::new();
                let io = EdgeIo::new(stream, state.clone());
                let conn = edge_conn(io, &router, peer.ip(), &state, builders.get(&limits).clone());
                let watch = Watch::new(state, limits);
                tokio::spawn(drive(conn, watch, closing.clone(), stats.clone(), peer, open));
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    drop(closing);
    let _ = close_all.send(true);
    if tokio::time::timeout(SHUTDOWN_GRACE, close_all.closed())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the shutdown grace period; closing them");
    }
}

/// Drives one connection until it ends, closing it when its [`Watch`]
/// says so (silent or slow: dropped; idle: gracefully) or when the server
/// shuts down (gracefully). `open` counts it open until then.
async fn drive<C: Served>(
    conn: C,
    mut watch: Watch,
    mut closing: watch::Receiver<bool>,
    stats: Arc<EdgeStats>,
    peer: SocketAddr,
    open: OpenConnection,
) {
    let _open = open;
    // The shutdown signal is awaited by a future that owns the receiver;
    // `probe` (a clone, which saw the same version) tells when it changed.
    // Declared before the connection, so dropped after it: the accept
    // loop waits for every receiver to be gone, and a connection's drop
    // still finishes its request (a stream the client left is accounted
    // when its body drops). Dropped first, it let the shared runtime's
    // accept loop, on another thread, return and the sink be flushed
    // before that row was made.
    let probe = closing.clone();
    tokio::pin!(conn);
    let mut shutdown = Some(Box::pin(async move { closing.changed().await }));
    loop {
        // The timer and the shutdown signal, once polled with this task's
        // waker, wake the task when they fire: between events they are
        // polled again only when they may be ready (the timer fired, the
        // signal changed) or the waker changed, not on every wake-up of
        // the connection (each poll cost about 200 instructions, once per
        // streamed chunk). After an event (which may reset the timer),
        // everything is polled afresh.
        let mut polled_with: Option<Waker> = None;
        let event = std::future::poll_fn(|cx| {
            if let Poll::Ready(ended) = conn.as_mut().poll_served(cx) {
                return Poll::Ready(Event::Ended(ended));
            }
            let fresh = !polled_with
                .as_ref()
                .is_some_and(|w| w.will_wake(cx.waker()));
            if (fresh || watch.fired().is_elapsed()) && watch.fired().as_mut().poll(cx).is_ready() {
                return Poll::Ready(Event::Timer);
            }
            if let Some(signal) = shutdown.as_mut()
                && (fresh || probe.has_changed().unwrap_or(true))
            {
                match signal.as_mut().poll(cx) {
                    Poll::Ready(Ok(())) => {
                        shutdown = None;
                        return Poll::Ready(Event::Closing);
                    }
                    // The sender is gone: no shutdown signal will come.
                    Poll::Ready(Err(_)) => shutdown = None,
                    Poll::Pending => {}
                }
            }
            if fresh {
                polled_with = Some(cx.waker().clone());
            }
            Poll::Pending
        })
        .await;
        match event {
            Event::Ended(ended) => {
                if let Err(e) = ended {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                return;
            }
            Event::Timer => match watch.verdict() {
                Verdict::Keep => {}
                Verdict::CloseIdle => {
                    stats.closed_idle();
                    conn.as_mut().graceful();
                }
                Verdict::DropSilent => {
                    stats.closed_silent();
                    tracing::debug!(%peer, "connection closed: silent or slow request head");
                    return;
                }
                Verdict::DropClosing => return,
            },
            Event::Closing => {
                watch.shutdown_started();
                conn.as_mut().graceful();
            }
        }
    }
}

/// A client connection served by the gateway's own HTTP/1.1
/// ([`crate::h1`]), handed to hyper (`builder`) for what that does not
/// serve.
fn edge_conn(
    io: EdgeIo<TcpStream>,
    router: &Arc<Router>,
    ip: IpAddr,
    state: &Arc<ConnState>,
    builder: Arc<Builder<TokioExecutor>>,
) -> impl Served + use<> {
    let handler = {
        let router = router.clone();
        move |req: http::Request<Full<Bytes>>| {
            let router = router.clone();
            async move {
                match router.handle_from(req, Some(ip)).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                }
            }
        }
    };
    let router = router.clone();
    let guard_state = state.clone();
    let hand_over = move |io: Rewind<EdgeIo<TcpStream>>| -> Pin<Box<dyn Served>> {
        let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
            let guard = RequestGuard::open(&guard_state, req.version() == http::Version::HTTP_2);
            let router = router.clone();
            // Boxed so that hyper moves a pointer, not the request's
            // ~4 KB future. Measured neutral (docs/benchmarks.md):
            // the future is still copied while it is built and
            // polled; shrinking it is what helps.
            let handled = Box::pin(async move { router.handle_from(req, Some(ip)).await });
            async move {
                let response = handled.await?;
                Ok::<_, Infallible>(response.map(|body| Tracked::new(body, guard)))
            }
        });
        Box::pin(
            builder
                .serve_connection(TokioIo::new(io), service)
                .into_owned(),
        )
    };
    EdgeConn::new(io, state.clone(), handler, hand_over)
}

/// What woke [`drive`]'s loop.
enum Event<E> {
    /// The connection ended.
    Ended(Result<(), E>),
    /// The connection's [`Watch`] timer fired.
    Timer,
    /// The server started shutting down.
    Closing,
}

/// The connection builder for the limits in force, rebuilt when they
/// change.
struct Builders {
    limits: EdgeLimits,
    builder: Arc<Builder<TokioExecutor>>,
}

impl Builders {
    fn new(limits: EdgeLimits) -> Self {
        Builders {
            limits,
            builder: Arc::new(builder(&limits)),
        }
    }

    fn get(&mut self, limits: &EdgeLimits) -> &Arc<Builder<TokioExecutor>> {
        if self.limits != *limits {
            *self = Builders::new(*limits);
        }
        &self.builder
    }
}

/// hyper's settings for `limits`. HTTP/1 has no header timer of its own
/// (the connection task times heads from their first byte, see
/// [`crate::conn`]); HTTP/2 gets keep-alive pings, a stream cap and the
/// same header size limit as HTTP/1.
pub(crate) fn builder(limits: &EdgeLimits) -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(None)
        .max_buf_size(MAX_HEADER_BYTES.max(8192));
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(limits.http2_keepalive_interval)
        .keep_alive_timeout(limits.http2_keepalive_timeout)
        .max_concurrent_streams(limits.http2_max_concurrent_streams)
        .max_header_list_size(u32::try_from(MAX_HEADER_BYTES).unwrap_or(u32::MAX));
    builder
}

/// Refuses a connection beyond the cap as cheaply as possible: no task, no
/// parsing; a canned 503 written straight to the socket (non-blocking: a
/// fresh socket's send buffer is empty), after reading whatever request
/// bytes are already there so the close is a FIN, not a reset that could
/// discard the answer. A client whose request arrives after the refusal
/// sees a reset; either way it learns at once.
fn refuse(stream: TcpStream) {
    let Ok(mut socket) = stream.into_std() else {
        return;
    };
    let mut drain = [0u8; 4096];
    let _ = socket.read(&mut drain);
    let _ = socket.write(REFUSAL);
}

/// The most client connections the open-file limit allows: each may need
/// an upstream connection too, and some files are kept for the rest.
fn connection_cap_from_file_limit() -> usize {
    match crate::fdlimit::open_file_limit() {
        Some(limit) => {
            usize::try_from(limit.saturating_sub(RESERVED_FILES) / 2).unwrap_or(usize::MAX)
        }
        None => usize::MAX,
    }
    .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sets its flag when dropped, slowly.
    struct SlowToDrop(Arc<std::sync::atomic::AtomicBool>);

    impl Drop for SlowToDrop {
        fn drop(&mut self) {
            std::thread::sleep(Duration::from_millis(100));
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn shutdown_waits_until_each_connection_is_dropped() {
        let dropped = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (close_all, closing) = watch::channel(false);
        let stats = Arc::new(EdgeStats::default());
        // An idle connection whose service holds something slow to drop:
        // it goes with the connection.
        let (_client, server) = tokio::io::duplex(1024);
        let held = SlowToDrop(dropped.clone());
        let service = service_fn(move |_req: http::Request<hyper::body::Incoming>| {
            let _held = &held;
            async { Ok::<_, Infallible>(http::Response::new(String::new())) }
        });
        let conn = builder(&EdgeLimits::default())
            .serve_connection(TokioIo::new(server), service)
            .into_owned();
        let watch = Watch::new(ConnState::new(), EdgeLimits::default());
        let open = stats.open_connection();
        let peer = SocketAddr::from(([127, 0, 0, 1], 1));
        tokio::spawn(drive(conn, watch, closing, stats, peer, open));
        tokio::task::yield_now().await;
        close_all.send(true).unwrap();
        close_all.closed().await;
        assert!(
            dropped.load(std::sync::atomic::Ordering::SeqCst),
            "the accept loop went on before the connection was dropped"
        );
    }

    #[test]
    fn the_refusal_is_a_complete_http_answer() {
        let text = std::str::from_utf8(REFUSAL).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 "));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let _: serde_json::Value = serde_json::from_str(body).unwrap();
    }
}
