//! A thread's own upstream connections: what the per-core server sends
//! through (see [`super::pool_per_thread`]).
//!
//! hyper-util's pooled client did more per request than one thread's pool
//! needs (issue 18, docs/benchmarks.md): a checkout keyed by a SipHash of
//! the scheme and authority under a mutex, the `Host` header formatted
//! anew, the URI cloned and rebuilt, and a task spawned per request to put
//! the connection back once the response body was read. Here a thread
//! keeps its upstreams in a short list (a gateway talks to a handful), the
//! `Host` value is made once per upstream, and the connection goes back
//! when the response body reaches its end ([`ResponseBody`]), from the task
//! that read it.
//!
//! HTTP/1.1 connections are kept idle, most recently used first, up to
//! `pool_max_idle_per_host` per upstream and for `pool_idle_timeout`. A
//! connection that negotiated HTTP/2 (ALPN) is shared by every request to
//! its upstream while it is open. A request that a kept-alive connection
//! closed before taking it is sent again on another, as hyper-util did.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::uri::{Authority, Scheme};
use http::{HeaderValue, Request, Response, Uri};
use http_body::Body as _;
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::Connection as _;
use hyper_util::rt::TokioExecutor;
use tower_service::Service as _;

use super::{Egress, SendError, UpstreamBody, UpstreamConfig};

/// A thread's connections to every upstream, for one client's settings.
pub(super) struct Pool {
    /// The [`super::Built`] client whose settings this pool copies.
    pub(super) built: u64,
    /// Unique in the process: a connection goes back only to the pool
    /// instance it came from.
    instance: u64,
    connector: HttpsConnector<Egress>,
    idle_timeout: Duration,
    max_idle: usize,
    origins: Vec<Origin>,
}

/// One upstream (scheme and authority) and its connections.
struct Origin {
    scheme: Scheme,
    authority: Authority,
    /// The `Host` header for HTTP/1 requests to it.
    host: HeaderValue,
    /// Idle HTTP/1 connections, the most recently used last.
    idle: Vec<Idle>,
    /// The open HTTP/2 connection, if the upstream negotiated HTTP/2.
    h2: Option<http2::SendRequest<UpstreamBody>>,
}

struct Idle {
    sender: http1::SendRequest<UpstreamBody>,
    driven: Arc<Driven>,
    since: Instant,
}

/// A connection taken for one request.
enum Taken {
    Http1 {
        sender: http1::SendRequest<UpstreamBody>,
        driven: Arc<Driven>,
        /// Whether it had served a request before (a stale kept-alive
        /// connection can close before taking the next one).
        reused: bool,
    },
    Http2(http2::SendRequest<UpstreamBody>),
}

thread_local! {
    static POOL: RefCell<Option<Pool>> = const { RefCell::new(None) };
}

/// Connections the pools opened since start, and those open now (every
/// thread's; counted when a connection is made and when its task ends,
/// never per request).
static OPENED: AtomicU64 = AtomicU64::new(0);
static OPEN: AtomicU64 = AtomicU64::new(0);

/// `(opened since start, open now)` over every thread's pool.
pub(super) fn connection_counts() -> (u64, u64) {
    (OPENED.load(Ordering::Relaxed), OPEN.load(Ordering::Relaxed))
}

/// Drives a new connection to its end, counted open meanwhile.
fn drive<F>(conn: F)
where
    F: std::future::Future + Send + 'static,
{
    OPENED.fetch_add(1, Ordering::Relaxed);
    OPEN.fetch_add(1, Ordering::Relaxed);
    tokio::spawn(async move {
        let _ = conn.await;
        OPEN.fetch_sub(1, Ordering::Relaxed);
    });
}

/// An HTTP/1 connection's future. Its own task polls it, except while a
/// stream (`text/event-stream`) is read from it: then the task reading
/// the stream polls it inline ([`Driven::poll_inline`]), and each chunk is
/// decoded by the task that waits for it, instead of by the connection's
/// task, woken for it, waking the reader back (two task switches per
/// chunk, issue 18). When the stream is done with it ([`Driven::release`]),
/// the connection's task polls it again, so its wake-ups go back there.
/// (For a complete answer, polling inline did not pay: the connection was
/// polled more often than its task had been, 2 % more instructions per
/// request.)
pub(super) struct Driven {
    slot: Mutex<Slot>,
}

type ConnFuture = Pin<Box<dyn Future<Output = hyper::Result<()>> + Send>>;

struct Slot {
    /// `None` once the connection ended.
    conn: Option<ConnFuture>,
    /// A stream holds it ([`InUse`]): only that stream's body polls it (its
    /// own task, if woken, would take its wake-ups back).
    in_use: bool,
    /// The connection's own task, once it polled.
    task: Option<Waker>,
}

impl std::fmt::Debug for Driven {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Driven")
    }
}

impl Driven {
    /// Starts the connection's own task, counted open until it ends.
    fn spawn(conn: ConnFuture) -> Arc<Self> {
        let driven = Arc::new(Driven {
            slot: Mutex::new(Slot {
                conn: Some(conn),
                in_use: false,
                task: None,
            }),
        });
        let task = driven.clone();
        drive(std::future::poll_fn(move |cx| task.poll_task(cx)));
        driven
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slot> {
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The connection's own task: ready when the connection ended.
    fn poll_task(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut slot = self.lock();
        let Slot { conn, in_use, task } = &mut *slot;
        // Ended, even while a stream still holds it.
        let Some(future) = conn.as_mut() else {
            return Poll::Ready(());
        };
        if !*in_use && future.as_mut().poll(cx).is_ready() {
            *conn = None;
            return Poll::Ready(());
        }
        if !task.as_ref().is_some_and(|t| t.will_wake(cx.waker())) {
            *task = Some(cx.waker().clone());
        }
        Poll::Pending
    }

    /// A stream's hold on the connection, until it is dropped.
    fn acquire(self: &Arc<Self>) -> InUse {
        self.lock().in_use = true;
        InUse(self.clone())
    }

    /// Polls the connection from the caller's task (which the connection
    /// then wakes when its socket is ready).
    fn poll_inline(&self, cx: &mut Context<'_>) {
        let mut slot = self.lock();
        if let Some(conn) = slot.conn.as_mut()
            && conn.as_mut().poll(cx).is_ready()
        {
            slot.conn = None;
            // Its task ends (it sees the connection gone).
            if let Some(task) = &slot.task {
                task.wake_by_ref();
            }
        }
    }

    /// The request is done with the connection: its own task polls it
    /// again. It is polled once here, with that task's waker (which its
    /// wake-ups reach from then on), rather than the task woken to do it.
    fn release(&self) {
        let mut slot = self.lock();
        slot.in_use = false;
        let Slot { conn, task, .. } = &mut *slot;
        // Not polled yet: its task's first poll is still to come.
        let Some(task) = task.as_ref() else {
            return;
        };
        if let Some(future) = conn.as_mut()
            && future
                .as_mut()
                .poll(&mut Context::from_waker(task))
                .is_ready()
        {
            *conn = None;
            // Its task ends.
            task.wake_by_ref();
        }
    }
}

/// Whether `response` is a Server-Sent Events stream.
fn is_event_stream<B>(response: &Response<B>) -> bool {
    const SSE: &[u8] = b"text/event-stream";
    response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|v| {
            v.as_bytes()
                .get(..SSE.len())
                .is_some_and(|t| t.eq_ignore_ascii_case(SSE))
        })
}

/// A context whose waker does nothing, for the connection and the
/// response body polled inline: with the task's own waker, each would
/// wake the task it runs on whenever the other hands it something (the
/// connection when the body takes a chunk, the body when the connection
/// sends one), and the task would be polled again for nothing. They are
/// polled with it only when both are pending, before the task returns
/// pending.
fn unwoken() -> Context<'static> {
    Context::from_waker(Waker::noop())
}

/// A stream's hold on its HTTP/1 connection ([`Driven`]): the stream's
/// body polls it inline; dropped (read to its end, or given up), the
/// connection's own task polls it again.
pub(super) struct InUse(Arc<Driven>);

impl InUse {
    fn poll(&self, cx: &mut Context<'_>) {
        self.0.poll_inline(cx);
    }
}

impl Drop for InUse {
    fn drop(&mut self) {
        self.0.release();
    }
}

impl std::fmt::Debug for InUse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InUse")
    }
}

/// This thread's pool for the client `built` (its id and settings), made
/// or remade when the settings changed, and the place of `uri`'s
/// upstream in it.
pub(super) fn origin(
    built: u64,
    config: &UpstreamConfig,
    uri: &Uri,
) -> Result<(u64, usize), SendError> {
    POOL.with_borrow_mut(|pool| {
        let pool = match pool {
            Some(p) if p.built == built => p,
            _ => {
                let connector = super::build_connector(config)
                    .map_err(|e| SendError::connect(e.to_string().into()))?;
                pool.insert(Pool::new(built, config, connector))
            }
        };
        Ok((pool.instance, pool.origin(uri)?))
    })
}

/// Sends `request` to the upstream found by [`origin`].
pub(super) async fn send(
    (instance, index): (u64, usize),
    mut request: Request<UpstreamBody>,
) -> Result<Response<ResponseBody>, SendError> {
    loop {
        let (taken, mut back) = take(instance, index).await?;
        match taken {
            Taken::Http2(mut sender) => {
                return match sender.send_request(request).await {
                    Ok(response) => Ok(response.map(|body| ResponseBody::new(body, None, None))),
                    Err(e) => Err(SendError::send(e)),
                };
            }
            Taken::Http1 {
                mut sender,
                driven,
                reused,
            } => {
                if let Some(host) = back.host.take() {
                    request
                        .headers_mut()
                        .entry(http::header::HOST)
                        .or_insert(host);
                }
                origin_form(request.uri_mut());
                match sender.try_send_request(request).await {
                    Ok(response) => {
                        // A stream's body is read with its connection
                        // polled inline (see `Driven`).
                        let in_use = is_event_stream(&response).then(|| driven.acquire());
                        back.sender = Some(sender);
                        back.driven = Some(driven);
                        return Ok(response.map(|body| ResponseBody::new(body, Some(back), in_use)));
                    }
                    Err(mut e) => match e.take_message() {
                        // Not sent: a kept-alive connection the upstream
                        // closed meanwhile. Another one takes it.
                        Some(unsent) if reused => request = unsent,
                        _ => return Err(SendError::send(e.into_error())),
                    },
                }
            }
        }
    }
}

impl Pool {
    fn new(built: u64, config: &UpstreamConfig, connector: HttpsConnector<Egress>) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        Pool {
            built,
            instance: NEXT.fetch_add(1, Ordering::Relaxed),
            connector,
            idle_timeout: config.pool_idle_timeout,
            max_idle: config.pool_max_idle_per_host,
            origins: Vec::new(),
        }
    }

    /// The index of `uri`'s upstream, added when new.
    fn origin(&mut self, uri: &Uri) -> Result<usize, SendError> {
        let (Some(scheme), Some(authority)) = (uri.scheme(), uri.authority()) else {
            return Err(SendError::connect(
                format!("the upstream URL `{uri}` has no scheme or host").into(),
            ));
        };
        if let Some(i) = self
            .origins
            .iter()
            .position(|o| o.authority == *authority && o.scheme == *scheme)
        {
            return Ok(i);
        }
        self.origins.push(Origin {
            scheme: scheme.clone(),
            authority: authority.clone(),
            host: host_header(scheme, authority)?,
            idle: Vec::new(),
            h2: None,
        });
        Ok(self.origins.len() - 1)
    }

    /// An idle connection of origin `index` that is still open, the most
    /// recently used first; the least recently used is dropped when it
    /// has been idle too long.
    fn idle(&mut self, index: usize) -> Option<Taken> {
        let timeout = self.idle_timeout;
        let origin = &mut self.origins[index];
        if let Some(h2) = &origin.h2 {
            if !h2.is_closed() {
                return Some(Taken::Http2(h2.clone()));
            }
            origin.h2 = None;
        }
        if origin
            .idle
            .first()
            .is_some_and(|oldest| oldest.since.elapsed() > timeout)
        {
            origin.idle.remove(0);
        }
        while let Some(idle) = origin.idle.pop() {
            if !idle.sender.is_closed() {
                return Some(Taken::Http1 {
                    sender: idle.sender,
                    driven: idle.driven,
                    reused: true,
                });
            }
        }
        None
    }
}

/// A connection for one request to origin `index` of pool `instance`:
/// an idle one, or a new one.
async fn take(instance: u64, index: usize) -> Result<(Taken, GiveBack), SendError> {
    loop {
        let found = POOL.with_borrow_mut(|pool| {
            let pool = pool.as_mut().filter(|p| p.instance == instance)?;
            let back = GiveBack {
                instance,
                index,
                host: Some(pool.origins[index].host.clone()),
                sender: None,
                driven: None,
            };
            if let Some(taken) = pool.idle(index) {
                return Some(Ok((taken, back)));
            }
            let origin = &pool.origins[index];
            let mut parts = http::uri::Parts::default();
            parts.scheme = Some(origin.scheme.clone());
            parts.authority = Some(origin.authority.clone());
            parts.path_and_query = Some(http::uri::PathAndQuery::from_static("/"));
            Some(Err((pool.connector.clone(), Uri::from_parts(parts), back)))
        });
        let Some(found) = found else {
            // The settings changed under this request: its pool is gone.
            return Err(SendError::connect(
                "the upstream client was reconfigured".into(),
            ));
        };
        let (connector, uri, back) = match found {
            Ok((
                Taken::Http1 {
                    mut sender,
                    driven,
                    reused,
                },
                back,
            )) => {
                // Given back when its last response ended; the connection
                // task may not have marked it ready yet.
                if sender.ready().await.is_ok() {
                    return Ok((
                        Taken::Http1 {
                            sender,
                            driven,
                            reused,
                        },
                        back,
                    ));
                }
                continue;
            }
            Ok((taken, back)) => return Ok((taken, back)),
            Err(connect) => connect,
        };
        let uri = uri.map_err(|e| SendError::connect(e.into()))?;
        // Boxed: the connect and handshake futures (TLS, HTTP/2) are
        // large, and held inline they would be copied with every request's
        // future, which takes an idle connection nearly always.
        return Box::pin(connect(connector, uri, instance, index))
            .await
            .map(|taken| (taken, back));
    }
}

/// A new connection to `uri`, the upstream at `index` of pool `instance`:
/// HTTP/2 when the upstream chose it (then shared), else HTTP/1.1.
async fn connect(
    mut connector: HttpsConnector<Egress>,
    uri: Uri,
    instance: u64,
    index: usize,
) -> Result<Taken, SendError> {
    let io = connector.call(uri).await.map_err(SendError::connect)?;
    if io.connected().is_negotiated_h2() {
        let (sender, conn) = http2::handshake(TokioExecutor::new(), io)
            .await
            .map_err(|e| SendError::connect(e.into()))?;
        drive(conn);
        POOL.with_borrow_mut(|pool| {
            if let Some(pool) = pool.as_mut().filter(|p| p.instance == instance) {
                pool.origins[index].h2 = Some(sender.clone());
            }
        });
        return Ok(Taken::Http2(sender));
    }
    let (sender, conn) = http1::handshake(io)
        .await
        .map_err(|e| SendError::connect(e.into()))?;
    Ok(Taken::Http1 {
        sender,
        driven: Driven::spawn(Box::pin(conn)),
        reused: false,
    })
}

/// The `Host` header of requests to `authority`: its port only when not
/// the scheme's default, as hyper-util wrote it.
fn host_header(scheme: &Scheme, authority: &Authority) -> Result<HeaderValue, SendError> {
    let default = match scheme.as_str() {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    };
    let value = match authority.port_u16() {
        Some(port) if Some(port) != default => HeaderValue::from_str(authority.as_str()),
        _ => HeaderValue::from_str(authority.host()),
    };
    value.map_err(|e| SendError::connect(e.into()))
}

/// An HTTP/1 request's URI as it goes on the wire: its path and query.
fn origin_form(uri: &mut Uri) {
    *uri = match uri.path_and_query() {
        Some(path) if path.as_str() != "/" => {
            let mut parts = http::uri::Parts::default();
            parts.path_and_query = Some(path.clone());
            // A path alone is a valid URI.
            Uri::from_parts(parts).unwrap_or_default()
        }
        _ => Uri::default(),
    };
}

/// Puts an HTTP/1 connection back in the pool it came from, when its
/// response has been read to the end.
#[derive(Debug)]
pub(super) struct GiveBack {
    instance: u64,
    index: usize,
    /// The `Host` header, until the request takes it.
    host: Option<HeaderValue>,
    sender: Option<http1::SendRequest<UpstreamBody>>,
    /// The connection, polled inline by the response body.
    driven: Option<Arc<Driven>>,
}

impl GiveBack {
    fn give_back(&mut self) {
        let Some(sender) = self.sender.take() else {
            return;
        };
        // Dropped on a thread whose pool is another (or at its exit), the
        // connection closes instead.
        let _ = POOL.try_with(|pool| {
            let Ok(mut pool) = pool.try_borrow_mut() else {
                return;
            };
            if let Some(pool) = pool.as_mut().filter(|p| p.instance == self.instance) {
                let max = pool.max_idle;
                let idle = &mut pool.origins[self.index].idle;
                if idle.len() < max
                    && !sender.is_closed()
                    && let Some(driven) = self.driven.take()
                {
                    idle.push(Idle {
                        sender,
                        driven,
                        since: Instant::now(),
                    });
                }
            }
        });
    }
}

/// An upstream response's body. Read to its end, it puts its HTTP/1
/// connection back in the pool; dropped before, the connection closes
/// (its unread rest cannot be skipped cheaply).
#[derive(Debug)]
pub struct ResponseBody {
    inner: Incoming,
    back: Option<GiveBack>,
    /// The HTTP/1 connection, polled inline while the body is read, until
    /// it ends.
    driven: Option<InUse>,
}

impl ResponseBody {
    pub(super) fn new(inner: Incoming, back: Option<GiveBack>, driven: Option<InUse>) -> Self {
        ResponseBody {
            inner,
            back,
            driven,
        }
    }

    /// Whether reading the body polls its connection (then a pending body
    /// means the socket holds nothing more for now).
    pub(crate) fn polls_connection(&self) -> bool {
        self.driven.is_some()
    }

    fn ended(&mut self) {
        if let Some(mut back) = self.back.take() {
            back.give_back();
        }
        self.release();
    }

    /// The body no longer polls its connection: its own task does.
    fn release(&mut self) {
        self.driven = None;
    }
}

impl http_body::Body for ResponseBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, hyper::Error>>> {
        let ResponseBody { inner, driven, .. } = &mut *self;
        let polled = match driven {
            // The connection decodes what the socket holds, on this task:
            // without its waker first (see `unwoken`), then with it if the
            // socket held nothing more.
            Some(driven) => {
                let mut unwoken = unwoken();
                let mut polled = Pin::new(&mut *inner).poll_frame(&mut unwoken);
                if polled.is_pending() {
                    driven.poll(&mut unwoken);
                    polled = Pin::new(&mut *inner).poll_frame(&mut unwoken);
                }
                if polled.is_pending() {
                    driven.poll(cx);
                    polled = Pin::new(&mut *inner).poll_frame(cx);
                }
                polled
            }
            None => Pin::new(inner).poll_frame(cx),
        };
        match &polled {
            Poll::Ready(None) => self.ended(),
            Poll::Ready(Some(Err(_))) => {
                self.back = None;
                self.release();
            }
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        // A body known to be empty (`Content-Length: 0`, a 204) may never
        // be polled.
        if self.inner.is_end_stream() {
            self.ended();
        }
        self.release();
    }
}

/// How many idle HTTP/1 connections this thread's pool keeps for `uri`'s
/// upstream (tests).
#[cfg(test)]
pub(super) fn idle_count(uri: &Uri) -> usize {
    POOL.with_borrow(|pool| {
        pool.as_ref().map_or(0, |pool| {
            pool.origins
                .iter()
                .find(|o| Some(&o.authority) == uri.authority())
                .map_or(0, |o| o.idle.len())
        })
    })
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    use http_body_util::BodyExt;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;
    use tokio::net::TcpListener;

    use super::*;

    /// What the test upstream does after each answer.
    #[derive(Clone, Copy, PartialEq)]
    enum After {
        KeepAlive,
        /// Closes the connection without saying so (as a server whose
        /// keep-alive ran out does).
        Close,
    }

    /// An HTTP/1 upstream answering `hello <path>` (a 64 KiB body for
    /// `/big`) and counting the connections it accepted.
    async fn upstream(after: After) -> (Uri, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let service = service_fn(|req: Request<Incoming>| async move {
                        let host = req.headers()[http::header::HOST]
                            .to_str()
                            .unwrap()
                            .to_owned();
                        let path = req.uri().path();
                        let body = if path == "/big" || path == "/events" {
                            Bytes::from(vec![b'x'; 64 * 1024])
                        } else {
                            Bytes::from(format!("hello {} {host}", req.uri()))
                        };
                        let mut response = Response::new(http_body_util::Full::new(body));
                        if path == "/events" {
                            response.headers_mut().insert(
                                http::header::CONTENT_TYPE,
                                HeaderValue::from_static("text/event-stream"),
                            );
                        }
                        Ok::<_, Infallible>(response)
                    });
                    let conn = hyper::server::conn::http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), service);
                    if after == After::KeepAlive {
                        let _ = conn.await;
                    } else {
                        // One answer, then the socket closes.
                        tokio::pin!(conn);
                        let _ =
                            tokio::time::timeout(Duration::from_millis(200), conn.as_mut()).await;
                    }
                });
            }
        });
        (format!("http://{addr}").parse().unwrap(), accepted)
    }

    fn config() -> UpstreamConfig {
        UpstreamConfig::new(Duration::from_secs(5), None)
    }

    /// Sends a GET for `path` through this thread's pool of `built`.
    async fn get(
        built: u64,
        config: &UpstreamConfig,
        base: &Uri,
        path: &str,
    ) -> Response<ResponseBody> {
        let uri: Uri = format!("{base}{}", path.trim_start_matches('/'))
            .parse()
            .unwrap();
        let request = Request::get(uri)
            .body(UpstreamBody::full(Bytes::new()))
            .unwrap();
        let found = origin(built, config, request.uri()).unwrap();
        send(found, request).await.unwrap()
    }

    async fn text(response: Response<ResponseBody>) -> String {
        let body = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(body.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn a_connection_read_to_the_end_serves_the_next_request() {
        let (base, accepted) = upstream(After::KeepAlive).await;
        let config = config();
        let port = base.port_u16().unwrap();
        for i in 0..5 {
            let answer = text(get(1, &config, &base, &format!("/v1/x?i={i}")).await).await;
            // Origin form on the wire, and the Host header with its port.
            assert_eq!(answer, format!("hello /v1/x?i={i} 127.0.0.1:{port}"));
            assert_eq!(idle_count(&base), 1);
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    /// Waits (at most 5 s) until the connection's task ended: the last
    /// holder of `driven` let it go.
    async fn task_ends(driven: std::sync::Weak<Driven>) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while driven.upgrade().is_some() {
            assert!(
                Instant::now() < deadline,
                "the connection's task did not end"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[tokio::test]
    async fn a_body_polls_its_connection_and_hands_it_back_when_done() {
        let (base, accepted) = upstream(After::KeepAlive).await;
        let config = config();
        // A complete answer is read from the connection's own task.
        assert!(
            !get(7, &config, &base, "/big")
                .await
                .body()
                .polls_connection()
        );
        let response = get(7, &config, &base, "/events").await;
        assert!(response.body().polls_connection());
        assert_eq!(text(response).await.len(), 64 * 1024);
        // Its own task polls it again and readies it for the next request.
        assert!(
            text(get(7, &config, &base, "/a").await)
                .await
                .starts_with("hello /a")
        );
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
        // Dropped mid-way: the connection ends, and its task with it (the
        // last holder of its future).
        let response = get(7, &config, &base, "/events").await;
        let driven = Arc::downgrade(&response.body().driven.as_ref().unwrap().0);
        drop(response);
        task_ends(driven).await;
    }

    #[tokio::test]
    async fn a_stream_whose_connection_breaks_ends_the_connections_task() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        // One chunk of an event stream, then the socket closes.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base: Uri = format!("http://{}", listener.local_addr().unwrap())
            .parse()
            .unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 1024];
            let _ = socket.read(&mut request).await.unwrap();
            let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
            let chunk = "d\r\ndata: hello\n\n\r\n";
            socket
                .write_all(format!("{head}{chunk}").as_bytes())
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(50)).await;
        });
        let config = config();
        let mut response = get(8, &config, &base, "/events").await;
        assert!(response.body().polls_connection());
        let driven = Arc::downgrade(&response.body().driven.as_ref().unwrap().0);
        let first = response.body_mut().frame().await.unwrap().unwrap();
        assert_eq!(first.into_data().unwrap(), "data: hello\n\n");
        assert!(response.body_mut().frame().await.unwrap().is_err());
        task_ends(driven).await;
        assert_eq!(idle_count(&base), 0);
    }

    #[tokio::test]
    async fn a_body_dropped_unread_closes_its_connection() {
        let (base, accepted) = upstream(After::KeepAlive).await;
        let config = config();
        let response = get(2, &config, &base, "/big").await;
        drop(response);
        assert_eq!(idle_count(&base), 0);
        assert_eq!(
            text(get(2, &config, &base, "/a").await).await,
            format!("hello /a 127.0.0.1:{}", base.port_u16().unwrap())
        );
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
        assert_eq!(idle_count(&base), 1);
    }

    #[tokio::test]
    async fn a_connection_the_upstream_closed_is_not_used_again() {
        let (base, accepted) = upstream(After::Close).await;
        let config = config();
        for i in 0..3 {
            assert!(
                text(get(3, &config, &base, "/a").await)
                    .await
                    .starts_with("hello /a")
            );
            // The upstream closes it; the next request finds it closed (or
            // sends on it, gets it back unsent, and takes a new one).
            tokio::time::sleep(Duration::from_millis(300)).await;
            assert_eq!(accepted.load(Ordering::SeqCst), i + 1);
        }
    }

    #[tokio::test]
    async fn idle_connections_are_bounded_in_number_and_in_time() {
        let (base, accepted) = upstream(After::KeepAlive).await;
        let mut config = config();
        config.pool_max_idle_per_host = 2;
        config.pool_idle_timeout = Duration::from_millis(100);
        // Four at once: four connections, two kept.
        let responses =
            futures_util::future::join_all((0..4).map(|_| get(4, &config, &base, "/a"))).await;
        assert_eq!(accepted.load(Ordering::SeqCst), 4);
        for response in responses {
            text(response).await;
        }
        assert_eq!(idle_count(&base), 2);
        // Past the idle timeout, the oldest is dropped when next looked at,
        // and the other serves.
        tokio::time::sleep(Duration::from_millis(150)).await;
        text(get(4, &config, &base, "/a").await).await;
        assert_eq!(accepted.load(Ordering::SeqCst), 4);
        assert_eq!(idle_count(&base), 1);
    }

    #[tokio::test]
    async fn new_settings_start_a_new_pool() {
        let (base, accepted) = upstream(After::KeepAlive).await;
        let config = config();
        text(get(5, &config, &base, "/a").await).await;
        // A body of the old pool, read after the new one took over, does
        // not put its connection into the new one.
        let old = get(5, &config, &base, "/a").await;
        text(get(6, &config, &base, "/a").await).await;
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
        text(old).await;
        assert_eq!(idle_count(&base), 1);
    }

    #[test]
    fn the_host_header_names_a_port_only_when_not_the_default() {
        let host = |scheme: &str, authority: &str| {
            let scheme: Scheme = scheme.parse().unwrap();
            host_header(&scheme, &authority.parse().unwrap()).unwrap()
        };
        assert_eq!(host("https", "api.openai.com"), "api.openai.com");
        assert_eq!(host("https", "api.openai.com:443"), "api.openai.com");
        assert_eq!(host("http", "h:80"), "h");
        assert_eq!(host("http", "h:8080"), "h:8080");
        assert_eq!(host("https", "[::1]:8443"), "[::1]:8443");
        assert_eq!(host("http", "[::1]"), "[::1]");
    }

    #[test]
    fn requests_go_out_in_origin_form() {
        let form = |u: &str| {
            let mut uri: Uri = u.parse().unwrap();
            origin_form(&mut uri);
            uri.to_string()
        };
        assert_eq!(form("http://h:1/v1/chat?x=1"), "/v1/chat?x=1");
        assert_eq!(form("https://h"), "/");
        assert_eq!(form("https://h/"), "/");
    }
}
