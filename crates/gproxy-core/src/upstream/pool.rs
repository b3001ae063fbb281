//! A thread's own upstream connections: what the per-core server sends
//! through (see [`super::pool_per_thread`]).
//!
//! hyper-util's pooled client did more per request than one thread's pool
//! needs (issue 18, docs/benchmarks.md): a checkout keyed by a SipHash of
//! the scheme and authority under a mutex, the `Host` header formatted
//! anew, the URI cloned and rebuilt, and a task spawned per request to put
//! the connection back once the response body was read. Here a thread
//! keeps its upstreams in a short list (a gateway talks to a handful), the
//! `Host` value is made once per upstream, and an HTTP/1.1 request is
//! written and its answer read by the request's own task ([`super::h1`]);
//! the connection goes back when the response body reaches its end
//! ([`ResponseBody`]).
//!
//! HTTP/1.1 connections are kept idle, most recently used first, up to
//! `pool_max_idle_per_host` per upstream and for `pool_idle_timeout`; one
//! the upstream closed is found so when taken (a read that does not wait)
//! or when the pool is looked over ([`sweep_every`]). A connection that
//! negotiated HTTP/2 (ALPN) is shared by every request to its upstream
//! while it is open, and hyper serves it. A request that a kept-alive
//! connection failed to take, or closed on before a byte of an answer, is
//! sent again on another, as curl and Go's client do: such a close is
//! the upstream dropping a connection it held idle, before it read the
//! request.

use std::cell::RefCell;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::uri::{Authority, Scheme};
use http::{HeaderValue, Request, Response, Uri};
use http_body::Body as _;
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_rustls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::client::legacy::connect::Connection as _;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tower_service::Service as _;

use super::h1::{self, Conn, Framing};
use super::{BoxError, Egress, SendError, UpstreamBody, UpstreamConfig};

/// A connection's socket, TLS or not.
type Io = MaybeHttpsStream<TokioIo<tokio::net::TcpStream>>;

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
    conn: Box<Http1>,
    since: Instant,
}

/// An HTTP/1.1 connection of the pool, counted open until dropped.
/// Always boxed: TLS makes its socket about a kilobyte, and a request's
/// futures and its response body move it from layer to layer.
struct Http1 {
    conn: Conn<Io>,
    _open: Open,
}

/// A connection taken for one request.
enum Taken {
    Http1 {
        conn: Box<Http1>,
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
/// thread's; counted when a connection is made and when it closes, never
/// per request).
static OPENED: AtomicU64 = AtomicU64::new(0);
static OPEN: AtomicU64 = AtomicU64::new(0);

/// `(opened since start, open now)` over every thread's pool.
pub(super) fn connection_counts() -> (u64, u64) {
    (OPENED.load(Ordering::Relaxed), OPEN.load(Ordering::Relaxed))
}

/// A connection counted open, until this is dropped.
struct Open;

impl Open {
    fn new() -> Self {
        OPENED.fetch_add(1, Ordering::Relaxed);
        OPEN.fetch_add(1, Ordering::Relaxed);
        Open
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        OPEN.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Drives a connection hyper serves (HTTP/2, or HTTP/1 with a streamed
/// request body) to its end in a task of its own, counted open meanwhile.
fn drive<F>(conn: F, open: Open)
where
    F: std::future::Future + Send + 'static,
{
    tokio::spawn(async move {
        let _ = conn.await;
        drop(open);
    });
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
                let new = Pool::new(built, config, connector);
                sweep_every(new.instance, new.idle_timeout.clamp(SWEEP_MIN, SWEEP_MAX));
                pool.insert(new)
            }
        };
        Ok((pool.instance, pool.origin(uri)?))
    })
}

/// Bounds of how often a pool's idle connections are looked over.
const SWEEP_MIN: Duration = Duration::from_secs(1);
const SWEEP_MAX: Duration = Duration::from_secs(30);

/// Looks over pool `instance`'s idle connections every `interval`, on
/// this thread's runtime, and closes those idle too long or closed by
/// their upstream: an idle connection has no task of its own, and without
/// this a socket the upstream closed would be held until the next request
/// to that upstream. Ends with the pool.
fn sweep_every(instance: u64, interval: Duration) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        loop {
            tokio::time::sleep(interval).await;
            let swept = POOL.try_with(|pool| {
                let Ok(mut pool) = pool.try_borrow_mut() else {
                    return true;
                };
                pool.as_mut()
                    .filter(|p| p.instance == instance)
                    .map(Pool::sweep)
                    .is_some()
            });
            if swept != Ok(true) {
                return;
            }
        }
    });
}

/// Sends `request` to the upstream found by [`origin`].
pub(super) async fn send(
    (instance, index): (u64, usize),
    request: Request<UpstreamBody>,
) -> Result<Response<ResponseBody>, SendError> {
    let (mut parts, body) = request.into_parts();
    let body = match body {
        UpstreamBody::Full(full) => full_bytes(full),
        streamed @ UpstreamBody::Stream(_) => {
            return send_streamed(instance, index, Request::from_parts(parts, streamed)).await;
        }
    };
    loop {
        let (taken, host) = take(instance, index).await?;
        let (mut conn, reused) = match taken {
            Taken::Http2(mut sender) => {
                let request = Request::from_parts(parts, UpstreamBody::full(body));
                return match sender.send_request(request).await {
                    Ok(response) => Ok(response.map(ResponseBody::hyper)),
                    Err(e) => Err(SendError::send(e.into())),
                };
            }
            Taken::Http1 { conn, reused } => (conn, reused),
        };
        if !parts.headers.contains_key(http::header::HOST) {
            parts.headers.insert(http::header::HOST, host);
        }
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        match conn
            .conn
            .exchange(&parts.method, path, &parts.headers, &body)
            .await
        {
            Ok(head) => {
                let back = GiveBack { instance, index };
                let body = Http1Body::new(conn, head.framing, head.keep_alive, back);
                return Ok(head.response.map(|()| ResponseBody(Inner::Http1(body))));
            }
            // A kept-alive connection the upstream closed meanwhile:
            // another one takes the request.
            Err(h1::Error::Unsent(_)) if reused => {}
            Err(e) => return Err(SendError::send(e.into())),
        }
    }
}

/// The bytes of a complete body (ready at once).
fn full_bytes(mut full: http_body_util::Full<Bytes>) -> Bytes {
    let mut cx = Context::from_waker(Waker::noop());
    match Pin::new(&mut full).poll_frame(&mut cx) {
        Poll::Ready(Some(Ok(frame))) => frame.into_data().unwrap_or_default(),
        _ => Bytes::new(),
    }
}

/// Sends a request whose body is streamed (a passthrough upload) through
/// hyper, on a connection of its own that is not kept after it.
async fn send_streamed(
    instance: u64,
    index: usize,
    mut request: Request<UpstreamBody>,
) -> Result<Response<ResponseBody>, SendError> {
    let (taken, host) = take(instance, index).await?;
    let response = match taken {
        Taken::Http2(mut sender) => sender.send_request(request).await,
        Taken::Http1 { conn, .. } => {
            let Http1 { conn, _open: open } = *conn;
            let io = conn
                .into_io()
                .ok_or_else(|| SendError::connect("a connection with unread bytes".into()))?;
            let (mut sender, conn) = http1::handshake(io)
                .await
                .map_err(|e| SendError::connect(e.into()))?;
            drive(conn, open);
            request
                .headers_mut()
                .entry(http::header::HOST)
                .or_insert(host);
            origin_form(request.uri_mut());
            sender.send_request(request).await
        }
    };
    response
        .map(|r| r.map(ResponseBody::hyper))
        .map_err(|e| SendError::send(e.into()))
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

    /// Closes the idle connections that were idle too long or that their
    /// upstream closed.
    fn sweep(&mut self) {
        let timeout = self.idle_timeout;
        for origin in &mut self.origins {
            origin.h2.take_if(|h2| h2.is_closed());
            origin
                .idle
                .retain_mut(|idle| idle.since.elapsed() <= timeout && !idle.conn.conn.is_closed());
        }
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
        while let Some(mut idle) = origin.idle.pop() {
            if !idle.conn.conn.is_closed() {
                return Some(Taken::Http1 {
                    conn: idle.conn,
                    reused: true,
                });
            }
        }
        None
    }
}

/// A connection for one request to origin `index` of pool `instance`
/// (an idle one, or a new one), and the `Host` header for it.
async fn take(instance: u64, index: usize) -> Result<(Taken, HeaderValue), SendError> {
    let found = POOL.with_borrow_mut(|pool| {
        let pool = pool.as_mut().filter(|p| p.instance == instance)?;
        let host = pool.origins[index].host.clone();
        if let Some(taken) = pool.idle(index) {
            return Some(Ok((taken, host)));
        }
        let origin = &pool.origins[index];
        let mut parts = http::uri::Parts::default();
        parts.scheme = Some(origin.scheme.clone());
        parts.authority = Some(origin.authority.clone());
        parts.path_and_query = Some(http::uri::PathAndQuery::from_static("/"));
        Some(Err((pool.connector.clone(), Uri::from_parts(parts), host)))
    });
    let Some(found) = found else {
        // The settings changed under this request: its pool is gone.
        return Err(SendError::connect(
            "the upstream client was reconfigured".into(),
        ));
    };
    let (connector, uri, host) = match found {
        Ok(taken) => return Ok(taken),
        Err(connect) => connect,
    };
    let uri = uri.map_err(|e| SendError::connect(e.into()))?;
    // Boxed: the connect and handshake futures (TLS, HTTP/2) are large,
    // and held inline they would be copied with every request's future,
    // which takes an idle connection nearly always.
    Box::pin(connect(connector, uri, instance, index))
        .await
        .map(|taken| (taken, host))
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
        drive(conn, Open::new());
        POOL.with_borrow_mut(|pool| {
            if let Some(pool) = pool.as_mut().filter(|p| p.instance == instance) {
                pool.origins[index].h2 = Some(sender.clone());
            }
        });
        return Ok(Taken::Http2(sender));
    }
    Ok(Taken::Http1 {
        conn: Box::new(Http1 {
            conn: Conn::new(io),
            _open: Open::new(),
        }),
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

/// An HTTP/1 request's URI as hyper puts it on the wire: its path and
/// query.
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

/// Where an HTTP/1 connection goes back to when its answer was read.
#[derive(Debug, Clone, Copy)]
struct GiveBack {
    instance: u64,
    index: usize,
}

impl GiveBack {
    fn give_back(&self, conn: Box<Http1>) {
        // Dropped on a thread whose pool is another (or at its exit), the
        // connection closes instead.
        let _ = POOL.try_with(|pool| {
            let Ok(mut pool) = pool.try_borrow_mut() else {
                return;
            };
            if let Some(pool) = pool.as_mut().filter(|p| p.instance == self.instance) {
                let max = pool.max_idle;
                let idle = &mut pool.origins[self.index].idle;
                if idle.len() < max {
                    idle.push(Idle {
                        conn,
                        since: Instant::now(),
                    });
                }
            }
        });
    }
}

/// An upstream response's body. An HTTP/1 body of this thread's pool is
/// read from its connection by the task that reads the body; read to its
/// end, the connection goes back to the pool (dropped before, it closes:
/// its unread rest cannot be skipped cheaply).
#[derive(Debug)]
pub struct ResponseBody(Inner);

#[derive(Debug)]
enum Inner {
    /// hyper's (HTTP/2, a streamed upload's answer, the shared client).
    Hyper(Incoming),
    Http1(Http1Body),
}

impl ResponseBody {
    pub(super) fn hyper(body: Incoming) -> Self {
        ResponseBody(Inner::Hyper(body))
    }

    /// Whether reading the body reads its connection (then a pending body
    /// means the socket holds nothing more for now).
    pub(crate) fn polls_connection(&self) -> bool {
        matches!(self.0, Inner::Http1(_))
    }
}

/// An answer's body read from an HTTP/1 connection of the pool.
struct Http1Body {
    /// `None` once the body ended (the connection given back or closed)
    /// or failed.
    conn: Option<Box<Http1>>,
    framing: Framing,
    keep_alive: bool,
    back: GiveBack,
}

impl std::fmt::Debug for Http1Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http1Body")
            .field("framing", &self.framing)
            .finish_non_exhaustive()
    }
}

impl Http1Body {
    fn new(conn: Box<Http1>, framing: Framing, keep_alive: bool, back: GiveBack) -> Self {
        let mut body = Http1Body {
            conn: Some(conn),
            framing,
            keep_alive,
            back,
        };
        // No body at all (a 204, `Content-Length: 0`): the connection is
        // free now, whether or not the body is ever polled.
        body.end_if_done();
        body
    }

    /// Gives the connection back once the body is read whole.
    fn end_if_done(&mut self) {
        if self.framing != Framing::Done {
            return;
        }
        if let Some(conn) = self.conn.take()
            && self.keep_alive
            && !conn.conn.has_buffered()
        {
            self.back.give_back(conn);
        }
    }

    fn poll_frame(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, BoxError>>> {
        let Some(conn) = self.conn.as_mut() else {
            return Poll::Ready(None);
        };
        match conn.conn.poll_body(&mut self.framing, cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(data))) => {
                self.end_if_done();
                Poll::Ready(Some(Ok(http_body::Frame::data(data))))
            }
            Poll::Ready(None) => {
                self.end_if_done();
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(e))) => {
                // The connection closes.
                self.conn = None;
                self.framing = Framing::Done;
                Poll::Ready(Some(Err(e.into())))
            }
        }
    }
}

impl http_body::Body for ResponseBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, BoxError>>> {
        match &mut self.get_mut().0 {
            Inner::Hyper(body) => Pin::new(body).poll_frame(cx).map_err(Into::into),
            Inner::Http1(body) => body.poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.0 {
            Inner::Hyper(body) => body.is_end_stream(),
            Inner::Http1(body) => body.framing == Framing::Done,
        }
    }

    fn size_hint(&self) -> http_body::SizeHint {
        match &self.0 {
            Inner::Hyper(body) => body.size_hint(),
            Inner::Http1(body) => match body.framing {
                Framing::Done => http_body::SizeHint::with_exact(0),
                Framing::Length(n) => http_body::SizeHint::with_exact(n),
                _ => http_body::SizeHint::default(),
            },
        }
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

    #[tokio::test]
    async fn a_body_reads_its_connection_and_hands_it_back_when_done() {
        let (base, accepted) = upstream(After::KeepAlive).await;
        let config = config();
        for path in ["/big", "/events", "/a"] {
            let response = get(7, &config, &base, path).await;
            assert!(response.body().polls_connection());
            assert_eq!(idle_count(&base), 0);
            let read = text(response).await;
            assert!(read.len() == 64 * 1024 || read.starts_with("hello /a"));
            assert_eq!(idle_count(&base), 1);
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    /// An upstream that answers its first request on a connection with a
    /// chunked event stream, cut after `chunks` chunks (the socket closes
    /// after `linger`), and every request on later connections in full.
    async fn cut_upstream(answer_second_on_first: bool) -> (Uri, Arc<AtomicUsize>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base: Uri = format!("http://{}", listener.local_addr().unwrap())
            .parse()
            .unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            loop {
                let (mut socket, _) = listener.accept().await.unwrap();
                let n = count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut request = [0u8; 4096];
                    let ok = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                    if n > 0 {
                        while socket.read(&mut request).await.unwrap_or(0) > 0 {
                            let _ = socket.write_all(ok.as_bytes()).await;
                        }
                        return;
                    }
                    let _ = socket.read(&mut request).await;
                    if answer_second_on_first {
                        // Kept alive for one answer, then the second
                        // request is read and the socket closed unanswered.
                        socket.write_all(ok.as_bytes()).await.unwrap();
                        let _ = socket.read(&mut request).await;
                        return;
                    }
                    let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
                    let chunk = "d\r\ndata: hello\n\n\r\n";
                    socket
                        .write_all(format!("{head}{chunk}").as_bytes())
                        .await
                        .unwrap();
                    tokio::time::sleep(Duration::from_millis(50)).await;
                });
            }
        });
        (base, accepted)
    }

    #[tokio::test]
    async fn a_stream_whose_connection_breaks_fails_and_is_not_kept() {
        let (base, accepted) = cut_upstream(false).await;
        let config = config();
        let mut response = get(8, &config, &base, "/events").await;
        assert!(response.body().polls_connection());
        let first = response.body_mut().frame().await.unwrap().unwrap();
        assert_eq!(first.into_data().unwrap(), "data: hello\n\n");
        let broke = response.body_mut().frame().await.unwrap().unwrap_err();
        assert!(
            broke.to_string().contains("before the end of the body"),
            "{broke}"
        );
        assert_eq!(idle_count(&base), 0);
        assert_eq!(text(get(8, &config, &base, "/a").await).await, "ok");
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_request_a_kept_alive_connection_closed_on_goes_out_on_another() {
        let (base, accepted) = cut_upstream(true).await;
        let config = config();
        assert_eq!(text(get(9, &config, &base, "/a").await).await, "ok");
        assert_eq!(idle_count(&base), 1);
        // Taken while still open; closed once the request was written.
        assert_eq!(text(get(9, &config, &base, "/b").await).await, "ok");
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_streamed_body_goes_through_hyper_on_a_connection_not_kept() {
        let (base, accepted) = upstream(After::KeepAlive).await;
        let config = config();
        // An idle connection first: the upload takes it.
        text(get(10, &config, &base, "/a").await).await;
        assert_eq!(idle_count(&base), 1);
        let chunks = futures_util::stream::iter(
            ["part one, ", "part two"]
                .map(|c| Ok::<_, BoxError>(http_body::Frame::data(Bytes::from(c)))),
        );
        let body = UpstreamBody::Stream(http_body_util::combinators::UnsyncBoxBody::new(
            http_body_util::StreamBody::new(chunks),
        ));
        let uri: Uri = format!("{base}upload").parse().unwrap();
        let request = Request::post(uri).body(body).unwrap();
        let found = origin(10, &config, request.uri()).unwrap();
        let response = send(found, request).await.unwrap();
        assert!(!response.body().polls_connection());
        let port = base.port_u16().unwrap();
        assert_eq!(
            text(response).await,
            format!("hello /upload 127.0.0.1:{port}")
        );
        assert_eq!(idle_count(&base), 0);
        text(get(10, &config, &base, "/a").await).await;
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
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
    async fn idle_connections_their_upstream_closed_are_let_go_unasked() {
        let (base, accepted) = upstream(After::Close).await;
        let mut config = config();
        // Swept every second (the shortest interval).
        config.pool_idle_timeout = Duration::from_millis(100);
        text(get(11, &config, &base, "/a").await).await;
        assert_eq!(idle_count(&base), 1);
        // The upstream closes it after 200 ms; no request comes.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(idle_count(&base), 0);
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
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
