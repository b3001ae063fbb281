//! A client connection's HTTP/1.1, spoken by the gateway itself for the
//! requests that make up its traffic, and handed to hyper for the rest.
//!
//! The gateway serves HTTP/1.1 requests whose body, if any, is declared by
//! one `Content-Length` of at most [`MAX_BODY`] bytes and comes with its
//! head or right after it (every SDK's JSON call): the head is parsed with `httparse`
//! into slices of one copy of the request, the router is called, and the
//! answer is written with its head (one write for a complete answer;
//! chunked, flushed whenever the body has nothing more ready, for a
//! stream). No task or channel stands between the socket and the router,
//! which is what hyper's dispatcher costs per request.
//!
//! Anything else is handed to hyper, with the bytes read so far put back
//! in front of the socket, for the rest of the connection: HTTP/2 (its
//! preface does not parse as HTTP/1.1), HTTP/1.0, a chunked or larger
//! body, a body not in within [`BODY_GRACE`] of its head (hyper reads it
//! under the body timeouts, answering 408, and sends `100 Continue` if
//! asked), `Upgrade`,
//! `CONNECT`, an `Expect` other than `100-continue`, a
//! head over [`MAX_HEADER_BYTES`] or with more than [`MAX_HEADERS`]
//! headers, and anything malformed, which hyper answers as it always did.
//!
//! As with hyper: a client that closes its side while its request is
//! handled is gone (no half-close), requests sent ahead (pipelined) are
//! answered in order, and a graceful shutdown closes an idle connection
//! at once and a busy one after its answer. The timers of the edge
//! limits (silent, slow head, idle) are the connection task's
//! ([`crate::conn`]), as they are for hyper's connections.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{Buf, Bytes};
use http::header::{CONNECTION, CONTENT_LENGTH, DATE, TRANSFER_ENCODING};
use http::{
    HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode, Uri, Version,
};
use http_body::Body;
use http_body_util::Full;
use hyper_util::server::graceful::GracefulConnection;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use crate::conn::{ConnState, RequestGuard};
use crate::server::MAX_HEADER_BYTES;

/// A boxed error.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The most headers a request served here may have: hyper's limit, so
/// that a request is refused (431) or served alike by both.
pub(crate) const MAX_HEADERS: usize = 100;
/// The largest request body read here before the router is called;
/// larger ones go to hyper, which streams them.
pub(crate) const MAX_BODY: usize = 64 * 1024;
/// The read buffer's first size.
const FIRST_READ: usize = 8 * 1024;
/// Output held before it is written while the body has more ready.
const MAX_HELD: usize = 64 * 1024;
/// How long the rest of a request body that did not come with its head
/// is waited for before the connection is handed to hyper.
const BODY_GRACE: Duration = Duration::from_millis(50);
/// Body data up to this size is copied into the write buffer; larger
/// data is written from its own buffer, after what is held (one vectored
/// write).
const COPY_MAX: usize = 2 * 1024;
/// A write buffer that grew beyond this is let go once written: 2,000
/// open streams must not each keep their largest batch.
const KEEP_WRITE: usize = 8 * 1024;

/// A connection as the connection task drives it: until it ends, and told
/// when to close gracefully.
pub(crate) trait Served: Send {
    /// Serves until the connection ends.
    fn poll_served(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>>;
    /// Closes once the request in progress, if any, is answered.
    fn graceful(self: Pin<&mut Self>);
}

impl<C> Served for C
where
    C: GracefulConnection + Send,
    C::Error: Into<BoxError>,
{
    fn poll_served(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.poll(cx).map_err(Into::into)
    }

    fn graceful(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

/// The socket with the bytes already read from it put back in front.
#[derive(Debug)]
pub(crate) struct Rewind<T> {
    prefix: Bytes,
    inner: T,
}

impl<T> Rewind<T> {
    fn new(prefix: Bytes, inner: T) -> Self {
        Rewind { prefix, inner }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Rewind<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            buf.put_slice(&self.prefix[..n]);
            self.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Rewind<T> {
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

/// One client connection: served here until something only hyper
/// serves arrives, then by hyper (`hand_over` builds its connection).
pub(crate) struct EdgeConn<T, F, Fut, B, H> {
    phase: Phase<T, F, Fut, B>,
    hand_over: Option<H>,
    closing: bool,
}

enum Phase<T, F, Fut, B> {
    Own(Own<T, F, Fut, B>),
    Hyper(Pin<Box<dyn Served>>),
    Done,
}

impl<T, F, Fut, B, H> EdgeConn<T, F, Fut, B, H> {
    /// Serves `io`: requests go to `handler` (counted open on `state`
    /// while they are answered), or the connection to `hand_over`.
    pub(crate) fn new(io: T, state: Arc<ConnState>, handler: F, hand_over: H) -> Self {
        EdgeConn {
            phase: Phase::Own(Own {
                wire: Wire {
                    io,
                    rbuf: Vec::new(),
                    start: 0,
                    end: 0,
                    wbuf: Vec::new(),
                    written: 0,
                    data: Bytes::new(),
                    trailer: b"",
                },
                state,
                handler,
                step: Step::Head,
                grace: None,
                grace_set: false,
                need: 0,
            }),
            hand_over: Some(hand_over),
            closing: false,
        }
    }
}

impl<T, F, Fut, B, H> Served for EdgeConn<T, F, Fut, B, H>
where
    T: AsyncRead + AsyncWrite + Unpin + Send,
    F: FnMut(Request<Full<Bytes>>) -> Fut + Unpin + Send,
    Fut: Future<Output = Response<B>> + Send,
    B: Body<Data = Bytes> + Unpin + Send,
    B::Error: std::fmt::Display,
    H: FnOnce(Rewind<T>) -> Pin<Box<dyn Served>> + Unpin + Send,
{
    fn poll_served(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        let this = self.get_mut();
        loop {
            match &mut this.phase {
                Phase::Own(own) => match ready!(own.poll(cx, this.closing)) {
                    Ok(Outcome::Closed) => {
                        this.phase = Phase::Done;
                        return Poll::Ready(Ok(()));
                    }
                    Ok(Outcome::HandOver) => {
                        let Phase::Own(own) = std::mem::replace(&mut this.phase, Phase::Done)
                        else {
                            continue;
                        };
                        let Some(hand_over) = this.hand_over.take() else {
                            return Poll::Ready(Ok(()));
                        };
                        let wire = own.wire;
                        let prefix = Bytes::copy_from_slice(&wire.rbuf[wire.start..wire.end]);
                        let mut served = hand_over(Rewind::new(prefix, wire.io));
                        if this.closing {
                            served.as_mut().graceful();
                        }
                        this.phase = Phase::Hyper(served);
                    }
                    Err(e) => {
                        this.phase = Phase::Done;
                        return Poll::Ready(Err(e));
                    }
                },
                Phase::Hyper(served) => return served.as_mut().poll_served(cx),
                Phase::Done => return Poll::Ready(Ok(())),
            }
        }
    }

    fn graceful(self: Pin<&mut Self>) {
        let this = self.get_mut();
        this.closing = true;
        if let Phase::Hyper(served) = &mut this.phase {
            served.as_mut().graceful();
        }
    }
}

/// How a connection served here ended.
enum Outcome {
    Closed,
    HandOver,
}

/// The socket and its buffers.
struct Wire<T> {
    io: T,
    /// Read bytes are `rbuf[start..end]`.
    rbuf: Vec<u8>,
    start: usize,
    end: usize,
    /// Output; `wbuf[..written]` is written.
    wbuf: Vec<u8>,
    written: usize,
    /// Body data to write after `wbuf`, then `trailer` (a chunk's line
    /// end). Nothing is added to `wbuf` while they are waiting.
    data: Bytes,
    trailer: &'static [u8],
}

impl<T: AsyncRead + AsyncWrite + Unpin> Wire<T> {
    fn buffered(&self) -> &[u8] {
        &self.rbuf[self.start..self.end]
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Reads more after what is buffered: `Ok(Some(0))` at the socket's
    /// end, `Ok(None)` when the buffer is full.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<usize>>> {
        if self.end == self.rbuf.len() {
            if self.start > 0 {
                self.rbuf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else {
                let size = (self.rbuf.len() * 2).clamp(FIRST_READ, MAX_HEADER_BYTES + MAX_BODY);
                if size == self.rbuf.len() {
                    return Poll::Ready(Ok(None));
                }
                self.rbuf.resize(size, 0);
            }
        }
        let mut read = ReadBuf::new(&mut self.rbuf[self.end..]);
        ready!(Pin::new(&mut self.io).poll_read(cx, &mut read))?;
        let n = read.filled().len();
        self.end += n;
        Poll::Ready(Ok(Some(n)))
    }

    /// Whether the client closed its side (or failed) while a request is
    /// answered. Requests it sends ahead are read and kept; when the
    /// buffer is full, nothing more is read.
    fn poll_gone(&mut self, cx: &mut Context<'_>) -> bool {
        loop {
            match self.poll_fill(cx) {
                Poll::Pending | Poll::Ready(Ok(None)) => return false,
                Poll::Ready(Ok(Some(0)) | Err(_)) => return true,
                Poll::Ready(Ok(Some(_))) => {}
            }
        }
    }

    /// Whether body data (or its line end) waits after `wbuf`.
    fn data_pending(&self) -> bool {
        !self.data.is_empty() || !self.trailer.is_empty()
    }

    /// Adds body data to the output (a chunk if `chunked`): copied if
    /// small, else held to be written from its own buffer. Nothing may be
    /// pending ([`Wire::data_pending`]).
    fn push_data(&mut self, data: Bytes, chunked: bool) {
        if chunked {
            push_hex(&mut self.wbuf, data.len());
            self.wbuf.extend_from_slice(b"\r\n");
        }
        let trailer: &'static [u8] = if chunked { b"\r\n" } else { b"" };
        if data.len() <= COPY_MAX {
            self.wbuf.extend_from_slice(&data);
            self.wbuf.extend_from_slice(trailer);
        } else {
            self.data = data;
            self.trailer = trailer;
        }
    }

    /// Adds the last chunk: after the held data's line end when data is
    /// held, so that the answer still ends in the same write.
    fn end_chunks(&mut self) {
        match self.trailer {
            b"\r\n" => self.trailer = b"\r\n0\r\n\r\n",
            b"\n" => self.trailer = b"\n0\r\n\r\n",
            _ => self.wbuf.extend_from_slice(b"0\r\n\r\n"),
        }
    }

    /// Writes all output.
    fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            let held = &self.wbuf[self.written..];
            let n = if self.data.is_empty() && self.trailer.is_empty() {
                if held.is_empty() {
                    break;
                }
                ready!(Pin::new(&mut self.io).poll_write(cx, held))?
            } else {
                let parts = [
                    io::IoSlice::new(held),
                    io::IoSlice::new(&self.data),
                    io::IoSlice::new(self.trailer),
                ];
                ready!(Pin::new(&mut self.io).poll_write_vectored(cx, &parts))?
            };
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            let from_held = n.min(held.len());
            self.written += from_held;
            let from_data = (n - from_held).min(self.data.len());
            self.data.advance(from_data);
            let from_trailer = (n - from_held - from_data).min(self.trailer.len());
            self.trailer = &self.trailer[from_trailer..];
        }
        if self.wbuf.capacity() > KEEP_WRITE {
            self.wbuf = Vec::new();
        } else {
            self.wbuf.clear();
        }
        self.written = 0;
        Poll::Ready(Ok(()))
    }
}

/// The connection served here.
struct Own<T, F, Fut, B> {
    wire: Wire<T>,
    state: Arc<ConnState>,
    handler: F,
    step: Step<Fut, B>,
    /// The wait for a body that did not come with its head: made at the
    /// first such wait, set again at each; `grace_set` while it runs.
    grace: Option<Pin<Box<Sleep>>>,
    grace_set: bool,
    /// While a body is waited for: the bytes its request takes in all
    /// (the head is not parsed again until they are in).
    need: usize,
}

/// Where the connection is in its current exchange.
enum Step<Fut, B> {
    /// Reading a request head.
    Head,
    /// The router has the request.
    Call {
        answer: Pin<Box<Fut>>,
        guard: RequestGuard,
        exchange: Exchange,
    },
    /// Writing the answer's body.
    Send {
        body: B,
        /// Data that came while earlier data waits to be written.
        next: Option<Bytes>,
        /// Counts the request open until its body is done with.
        _guard: RequestGuard,
        chunked: bool,
        close: bool,
    },
    /// Writing what is left, then the next request or the close.
    Flush { close: bool },
}

/// What a request says about its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Exchange {
    head_request: bool,
    keep_alive: bool,
}

impl<T, F, Fut, B> Own<T, F, Fut, B>
where
    T: AsyncRead + AsyncWrite + Unpin,
    F: FnMut(Request<Full<Bytes>>) -> Fut,
    Fut: Future<Output = Response<B>>,
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    fn poll(&mut self, cx: &mut Context<'_>, closing: bool) -> Poll<Result<Outcome, BoxError>> {
        loop {
            match &mut self.step {
                Step::Head => {
                    ready!(self.wire.poll_write_out(cx))?;
                    let buffered = self.wire.buffered();
                    if buffered.is_empty() {
                        if closing {
                            return self.poll_close(cx);
                        }
                        match ready!(self.wire.poll_fill(cx))? {
                            Some(0) | None => return Poll::Ready(Ok(Outcome::Closed)),
                            Some(_) => continue,
                        }
                    }
                    let parsed = if buffered.len() < self.need {
                        Parsed::NeedBody(self.need)
                    } else {
                        parse(buffered)
                    };
                    match parsed {
                        Parsed::Request(request, exchange, used) => {
                            self.wire.consume(used);
                            self.grace_set = false;
                            self.need = 0;
                            let guard = RequestGuard::open(&self.state, false);
                            self.step = Step::Call {
                                answer: Box::pin((self.handler)(request)),
                                guard,
                                exchange,
                            };
                            continue;
                        }
                        Parsed::Other => return Poll::Ready(Ok(Outcome::HandOver)),
                        Parsed::Partial => match ready!(self.wire.poll_fill(cx))? {
                            // The client left mid-request.
                            Some(0) => return Poll::Ready(Ok(Outcome::Closed)),
                            // No room for more: hyper refuses what this is.
                            None => return Poll::Ready(Ok(Outcome::HandOver)),
                            Some(_) => {}
                        },
                        // A body that did not come with its head: a client
                        // that wrote it apart sends it at once; one that
                        // does not within `BODY_GRACE` is handed to hyper,
                        // which reads it under the body timeouts (408)
                        // and sends `100 Continue` if asked.
                        Parsed::NeedBody(total) => match self.wire.poll_fill(cx)? {
                            Poll::Ready(Some(0)) => return Poll::Ready(Ok(Outcome::Closed)),
                            Poll::Ready(Some(_)) => self.need = total,
                            Poll::Ready(None) => return Poll::Ready(Ok(Outcome::HandOver)),
                            Poll::Pending => {
                                let deadline = Instant::now() + BODY_GRACE;
                                let grace = self.grace.get_or_insert_with(|| {
                                    Box::pin(tokio::time::sleep_until(deadline))
                                });
                                if !self.grace_set {
                                    grace.as_mut().reset(deadline);
                                    self.grace_set = true;
                                }
                                self.need = total;
                                if grace.as_mut().poll(cx).is_ready() {
                                    self.grace_set = false;
                                    return Poll::Ready(Ok(Outcome::HandOver));
                                }
                                return Poll::Pending;
                            }
                        },
                    }
                }
                Step::Call {
                    answer, exchange, ..
                } => {
                    let Poll::Ready(response) = answer.as_mut().poll(cx) else {
                        if self.wire.poll_gone(cx) {
                            return Poll::Ready(Ok(Outcome::Closed));
                        }
                        return Poll::Pending;
                    };
                    let exchange = *exchange;
                    let Step::Call { guard, .. } = std::mem::replace(&mut self.step, Step::Head)
                    else {
                        continue;
                    };
                    let (parts, body) = response.into_parts();
                    let close = !exchange.keep_alive
                        || closing
                        || has_token(&parts.headers, CONNECTION, b"close");
                    let framing = encode_head(&parts, &body, exchange, close, &mut self.wire.wbuf);
                    self.step = match framing {
                        Framing::None => Step::Flush { close },
                        Framing::Length | Framing::Chunked => Step::Send {
                            body,
                            next: None,
                            _guard: guard,
                            chunked: framing == Framing::Chunked,
                            close,
                        },
                    };
                }
                Step::Send {
                    body,
                    next,
                    chunked,
                    close,
                    ..
                } => {
                    if self.wire.wbuf.len() - self.wire.written >= MAX_HELD
                        || (next.is_some() && self.wire.data_pending())
                    {
                        ready!(self.wire.poll_write_out(cx))?;
                    }
                    if let Some(data) = next.take() {
                        self.wire.push_data(data, *chunked);
                    }
                    match Pin::new(&mut *body).poll_frame(cx) {
                        Poll::Ready(Some(Ok(frame))) => {
                            if let Ok(data) = frame.into_data()
                                && !data.is_empty()
                            {
                                if self.wire.data_pending() {
                                    // After the data waiting to be written.
                                    *next = Some(data);
                                } else {
                                    self.wire.push_data(data, *chunked);
                                }
                            }
                        }
                        Poll::Ready(None) => {
                            if *chunked {
                                self.wire.end_chunks();
                            }
                            // The body and its guard go before the last
                            // write: the request is done.
                            self.step = Step::Flush { close: *close };
                        }
                        Poll::Ready(Some(Err(e))) => {
                            // Aborted: what was sent goes, then the close
                            // tells the client the answer is incomplete.
                            tracing::debug!(error = %e, "response body failed");
                            self.step = Step::Flush { close: true };
                        }
                        Poll::Pending => {
                            ready!(self.wire.poll_write_out(cx))?;
                            if self.wire.poll_gone(cx) {
                                return Poll::Ready(Ok(Outcome::Closed));
                            }
                            return Poll::Pending;
                        }
                    }
                }
                Step::Flush { close } => {
                    let close = *close;
                    ready!(self.wire.poll_write_out(cx))?;
                    if close {
                        return self.poll_close(cx);
                    }
                    self.step = Step::Head;
                }
            }
        }
    }

    /// Sends what is left and closes the sending side.
    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<Result<Outcome, BoxError>> {
        ready!(self.wire.poll_write_out(cx))?;
        // The client may have gone already; the close is done either way.
        let _ = ready!(Pin::new(&mut self.wire.io).poll_shutdown(cx));
        Poll::Ready(Ok(Outcome::Closed))
    }
}

/// What the start of the read bytes holds.
// Returned once per request and matched at once: boxing the request
// would cost an allocation each time for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum Parsed {
    /// A request head not yet complete.
    Partial,
    /// A complete head whose body is not all in yet: the bytes the
    /// request takes in all.
    NeedBody(usize),
    /// A request served here, and how many bytes it took.
    Request(Request<Full<Bytes>>, Exchange, usize),
    /// Something hyper serves.
    Other,
}

/// Reads the request at the start of `buf`.
fn parse(buf: &[u8]) -> Parsed {
    let mut slots =
        [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut []);
    let head_len = match httparse::ParserConfig::default().parse_request_with_uninit_headers(
        &mut parsed,
        buf,
        &mut slots,
    ) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => {
            return if buf.len() >= MAX_HEADER_BYTES {
                Parsed::Other
            } else {
                Parsed::Partial
            };
        }
        Err(_) => return Parsed::Other,
    };
    if head_len > MAX_HEADER_BYTES || parsed.version != Some(1) {
        return Parsed::Other;
    }
    let (Some(method), Some(path)) = (parsed.method, parsed.path) else {
        return Parsed::Other;
    };
    // What the request's framing and connection headers say.
    let mut body_len: Option<usize> = None;
    let mut keep_alive = true;
    for header in parsed.headers.iter() {
        let name = header.name.as_bytes();
        if name.eq_ignore_ascii_case(b"content-length") {
            match (body_len, decimal(header.value)) {
                (None, Some(n)) if n <= MAX_BODY => body_len = Some(n),
                _ => return Parsed::Other,
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding")
            || name.eq_ignore_ascii_case(b"upgrade")
            || (name.eq_ignore_ascii_case(b"expect")
                && !header.value.eq_ignore_ascii_case(b"100-continue"))
        {
            return Parsed::Other;
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in header.value.split(|b| *b == b',') {
                let token = token.trim_ascii();
                if token.eq_ignore_ascii_case(b"close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case(b"upgrade") {
                    return Parsed::Other;
                }
            }
        }
    }
    let body_len = body_len.unwrap_or(0);
    let total = head_len + body_len;
    if buf.len() < total {
        return Parsed::NeedBody(total);
    }
    let Ok(method) = Method::from_bytes(method.as_bytes()) else {
        return Parsed::Other;
    };
    if method == Method::CONNECT {
        return Parsed::Other;
    }
    // The head's values and the body are slices of one copy.
    let whole = Bytes::copy_from_slice(&buf[..total]);
    let base = buf.as_ptr() as usize;
    let slice = |part: &[u8]| {
        let at = part.as_ptr() as usize - base;
        whole.slice(at..at + part.len())
    };
    let Ok(uri) = Uri::from_maybe_shared(slice(path.as_bytes())) else {
        return Parsed::Other;
    };
    let mut headers = HeaderMap::with_capacity(parsed.headers.len());
    for header in parsed.headers.iter() {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(header.name.as_bytes()),
            HeaderValue::from_maybe_shared(slice(header.value)),
        ) else {
            return Parsed::Other;
        };
        headers.append(name, value);
    }
    let exchange = Exchange {
        head_request: method == Method::HEAD,
        keep_alive,
    };
    let mut request = Request::new(Full::new(whole.slice(head_len..)));
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.version_mut() = Version::HTTP_11;
    *request.headers_mut() = headers;
    Parsed::Request(request, exchange, total)
}

/// A `Content-Length` value: decimal digits only.
fn decimal(value: &[u8]) -> Option<usize> {
    let value = value.trim_ascii();
    if value.is_empty() || value.len() > 19 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    value.iter().try_fold(0usize, |n, d| {
        n.checked_mul(10)?.checked_add(usize::from(*d - b'0'))
    })
}

/// How an answer's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// No body is sent (`HEAD`, 1xx, 204, 304).
    None,
    /// By its `Content-Length`.
    Length,
    /// Chunked.
    Chunked,
}

/// Writes the answer's head as hyper would: its headers, `date` when it
/// has none, a `Content-Length` when the body's size is known, else
/// chunked, and `connection: close` when the connection closes after it.
fn encode_head<B: Body>(
    parts: &http::response::Parts,
    body: &B,
    exchange: Exchange,
    close: bool,
    out: &mut Vec<u8>,
) -> Framing {
    let status = parts.status;
    let headers = &parts.headers;
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in headers {
        if name == TRANSFER_ENCODING {
            continue;
        }
        push_header(out, name.as_str().as_bytes(), value.as_bytes());
    }
    if !headers.contains_key(DATE) {
        push_date(out);
    }
    let no_body = exchange.head_request
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    let framing = if no_body {
        Framing::None
    } else if headers.contains_key(CONTENT_LENGTH) {
        Framing::Length
    } else if let Some(n) = body.size_hint().exact() {
        push_header(
            out,
            b"content-length",
            itoa::Buffer::new().format(n).as_bytes(),
        );
        Framing::Length
    } else {
        out.extend_from_slice(b"transfer-encoding: chunked\r\n");
        Framing::Chunked
    };
    if close && !headers.contains_key(CONNECTION) {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    framing
}

fn push_header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

fn push_hex(out: &mut Vec<u8>, n: usize) {
    let mut digits = [0u8; 16];
    let mut at = digits.len();
    let mut n = n;
    loop {
        at -= 1;
        digits[at] = b"0123456789abcdef"[n & 15];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// `date: ...\r\n`, formatted once a second per thread.
fn push_date(out: &mut Vec<u8>) {
    use std::cell::RefCell;
    use std::time::{SystemTime, UNIX_EPOCH};
    thread_local! {
        static DATE: RefCell<(u64, String)> = const { RefCell::new((0, String::new())) };
    }
    let now = SystemTime::now();
    let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    DATE.with_borrow_mut(|(at, text)| {
        if *at != second || text.is_empty() {
            *at = second;
            *text = httpdate::fmt_http_date(now);
        }
        push_header(out, b"date", text.as_bytes());
    });
}

/// Whether a `name` header of `headers` lists `token`.
fn has_token(headers: &HeaderMap, name: HeaderName, token: &[u8]) -> bool {
    headers.get_all(name).iter().any(|value| {
        value
            .as_bytes()
            .split(|b| *b == b',')
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
    })
}

#[cfg(test)]
#[path = "h1_tests.rs"]
mod tests;
