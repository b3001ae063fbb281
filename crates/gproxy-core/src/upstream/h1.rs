//! gproxy's own HTTP/1.1 exchange, on the connections of a thread's pool
//! ([`super::pool`]).
//!
//! hyper's client connection is driven by a task of its own: the request
//! goes to that task through a channel, and the answer's head and body
//! come back through two more, each hand-off a task woken. On the
//! same-protocol chat route that was about 18 k instructions per request
//! (callgrind, issue 18), more than the engine's own work on it. Here the
//! request's own task writes the request, reads the answer's head, and
//! reads the body straight from the socket as the body is polled; a
//! connection whose body was read to its end goes back to the pool.
//!
//! Only a request with a complete body is sent this way (every API call).
//! A streamed body (a passthrough upload) is handed to hyper with the
//! connection ([`Conn::into_io`]), and HTTP/2 stays hyper's.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker, ready};

use bytes::Bytes;
use http::header::{CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Response, StatusCode, Version};
use hyper::rt::{Read, ReadBuf, Write};

/// The read buffer's first size; it doubles, up to [`MAX_READ`], while
/// reads fill it.
const FIRST_READ: usize = 8 * 1024;
/// The most a body read takes at once.
const MAX_READ: usize = 64 * 1024;
/// The most an answer's head may take.
const MAX_HEAD: usize = 64 * 1024;
/// The most header lines an answer may have.
const MAX_HEADERS: usize = 128;
/// The most a chunk-size or trailer line may take.
const MAX_LINE: usize = 8 * 1024;
/// A body up to this size is written in the request head's buffer (one
/// write); a larger one after it.
const JOIN_BODY: usize = 16 * 1024;

/// Why an exchange or a body read failed.
#[derive(Debug)]
pub(super) enum Error {
    /// The request did not get through: the connection failed while it
    /// was written, or closed before a byte of an answer came. On a
    /// kept-alive connection, the upstream closed it meanwhile, and the
    /// request can be sent on another.
    Unsent(Option<io::Error>),
    /// The connection failed after the answer began.
    Io(io::Error),
    /// The connection closed before the answer's head or body ended.
    Incomplete(&'static str),
    /// The answer is not HTTP/1.x as this client reads it.
    Invalid(String),
}

impl Error {
    fn invalid(what: impl fmt::Display) -> Self {
        Error::Invalid(what.to_string())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Unsent(_) => {
                f.write_str("the connection closed before the request was answered")
            }
            Error::Io(_) => f.write_str("the connection failed"),
            Error::Incomplete(what) => {
                write!(f, "the connection closed before the end of the {what}")
            }
            Error::Invalid(what) => write!(f, "invalid HTTP/1 answer: {what}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Unsent(Some(e)) | Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// How an answer's body is delimited.
#[derive(Debug, PartialEq)]
pub(super) enum Framing {
    /// No body, or all of it read.
    Done,
    /// `Content-Length`: this many bytes still to come.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked(Chunked),
    /// Until the upstream closes the connection.
    Close,
}

/// An answer's head, as read.
#[derive(Debug)]
pub(super) struct Head {
    pub(super) response: Response<()>,
    pub(super) framing: Framing,
    /// Whether the connection may serve another request once the body
    /// is read.
    pub(super) keep_alive: bool,
}

/// One HTTP/1.1 connection and what was read from it but not yet taken.
pub(super) struct Conn<T> {
    io: T,
    /// Read bytes are `buf[start..end]`; the buffer is allocated at the
    /// first read (zeroed once: reads go into initialized memory).
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl<T> fmt::Debug for Conn<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conn")
            .field("buffered", &(self.end - self.start))
            .finish_non_exhaustive()
    }
}

impl<T: Read + Write + Unpin> Conn<T> {
    pub(super) fn new(io: T) -> Self {
        Conn {
            io,
            buf: Vec::new(),
            start: 0,
            end: 0,
        }
    }

    /// The socket, for hyper to drive. Only when nothing read is left
    /// over, which an idle connection never has.
    pub(super) fn into_io(self) -> Option<T> {
        (self.start == self.end).then_some(self.io)
    }

    fn buffered(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Whether bytes read are waiting to be taken.
    pub(super) fn has_buffered(&self) -> bool {
        self.start != self.end
    }

    /// The first `n` buffered bytes, taken.
    fn take(&mut self, n: usize) -> Bytes {
        let data = Bytes::copy_from_slice(&self.buffered()[..n]);
        self.consume(n);
        data
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Reads what the socket holds after what is buffered: `Ok(0)` at its
    /// end.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else {
                let size = (self.buf.len() * 2).clamp(FIRST_READ, MAX_READ.max(MAX_HEAD));
                if size == self.buf.len() {
                    // Callers take what is read before reading more; only
                    // an oversized head gets here, and is refused before.
                    return Poll::Ready(Err(io::Error::other("the read buffer is full")));
                }
                self.buf.resize(size, 0);
            }
        }
        let mut read = ReadBuf::new(&mut self.buf[self.end..]);
        ready!(Pin::new(&mut self.io).poll_read(cx, read.unfilled()))?;
        let n = read.filled().len();
        // A read that filled the whole buffer: the next one may take more.
        if n > 0 && self.start == 0 && self.end == 0 && n == self.buf.len() && n < MAX_READ {
            self.buf.resize(n * 2, 0);
        }
        self.end += n;
        Poll::Ready(Ok(n))
    }

    /// Whether the upstream closed the connection (or sent something
    /// unasked) while it was idle. Never waits.
    pub(super) fn is_closed(&mut self) -> bool {
        if self.has_buffered() {
            return true;
        }
        let mut cx = Context::from_waker(Waker::noop());
        !self.poll_fill(&mut cx).is_pending()
    }

    async fn write_all(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            let n = poll_fn(|cx| Pin::new(&mut self.io).poll_write(cx, bytes)).await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            bytes = &bytes[n..];
        }
        Ok(())
    }

    /// Sends a request (`path` in origin form; `headers` as they go,
    /// `Host` included) and reads its answer's head.
    pub(super) async fn exchange(
        &mut self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        body: &Bytes,
    ) -> Result<Head, Error> {
        let joined = body.len() <= JOIN_BODY;
        let mut out =
            Vec::with_capacity(256 + headers.len() * 48 + if joined { body.len() } else { 0 });
        encode_head(method, path, headers, body.len(), &mut out);
        let sent = async {
            if joined {
                out.extend_from_slice(body);
                self.write_all(&out).await?;
            } else {
                self.write_all(&out).await?;
                self.write_all(body).await?;
            }
            poll_fn(|cx| Pin::new(&mut self.io).poll_flush(cx)).await
        };
        sent.await.map_err(|e| Error::Unsent(Some(e)))?;
        self.read_head(method == Method::HEAD).await
    }

    async fn read_head(&mut self, head_request: bool) -> Result<Head, Error> {
        let mut answered = false;
        loop {
            if self.has_buffered() {
                if let Some((len, head)) = parse_head(self.buffered(), head_request)? {
                    self.consume(len);
                    match head {
                        Some(head) => return Ok(head),
                        // An interim (1xx) answer: the final one follows.
                        None => continue,
                    }
                }
                if self.end - self.start >= MAX_HEAD {
                    return Err(Error::invalid("the head is too large"));
                }
            }
            match poll_fn(|cx| self.poll_fill(cx)).await {
                Ok(0) if answered => return Err(Error::Incomplete("answer's head")),
                Ok(0) => return Err(Error::Unsent(None)),
                Ok(_) => answered = true,
                Err(e) if answered => return Err(Error::Io(e)),
                Err(e) => return Err(Error::Unsent(Some(e))),
            }
        }
    }

    /// The body's next bytes, `None` at its end (`framing` is then
    /// [`Framing::Done`]; it also is as soon as the last bytes are
    /// given).
    pub(super) fn poll_body(
        &mut self,
        framing: &mut Framing,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Error>>> {
        loop {
            match framing {
                Framing::Done => return Poll::Ready(None),
                Framing::Length(rest) => {
                    if self.has_buffered() {
                        let n = self
                            .buffered()
                            .len()
                            .min(usize::try_from(*rest).unwrap_or(usize::MAX));
                        let data = self.take(n);
                        *rest -= n as u64;
                        if *rest == 0 {
                            *framing = Framing::Done;
                        }
                        return Poll::Ready(Some(Ok(data)));
                    }
                }
                Framing::Close => {
                    if self.has_buffered() {
                        return Poll::Ready(Some(Ok(self.take(self.buffered().len()))));
                    }
                }
                Framing::Chunked(chunked) => {
                    if self.has_buffered() {
                        match chunked.decode(self.buffered()) {
                            Err(e) => return Poll::Ready(Some(Err(e))),
                            Ok(Step::Skip(n)) => {
                                self.consume(n);
                                continue;
                            }
                            Ok(Step::Data(n)) => return Poll::Ready(Some(Ok(self.take(n)))),
                            Ok(Step::End(n)) => {
                                self.consume(n);
                                *framing = Framing::Done;
                                return Poll::Ready(None);
                            }
                            Ok(Step::More) => {}
                        }
                    }
                }
            }
            match ready!(self.poll_fill(cx)) {
                Ok(0) if *framing == Framing::Close => {
                    *framing = Framing::Done;
                    return Poll::Ready(None);
                }
                Ok(0) => return Poll::Ready(Some(Err(Error::Incomplete("body")))),
                Ok(_) => {}
                Err(e) => return Poll::Ready(Some(Err(Error::Io(e)))),
            }
        }
    }
}

/// Writes the request line and headers, with a `Content-Length` when the
/// headers have none and the request has a body (or a method that
/// expects one).
fn encode_head(method: &Method, path: &str, headers: &HeaderMap, body: usize, out: &mut Vec<u8>) {
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let expects_body = matches!(*method, Method::POST | Method::PUT | Method::PATCH);
    if !headers.contains_key(CONTENT_LENGTH) && (body > 0 || expects_body) {
        out.extend_from_slice(b"content-length: ");
        out.extend_from_slice(body.to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// Parses the answer's head at the start of `buf`: `None` while it is
/// incomplete; else its length and the head (`None` for an interim 1xx
/// answer, which a final one follows).
#[allow(clippy::type_complexity)]
fn parse_head(buf: &[u8], head_request: bool) -> Result<Option<(usize, Option<Head>)>, Error> {
    // Uninitialised slots, as hyper keeps them: 128 initialised headers
    // are 4 KiB written before every parse.
    let mut slots =
        [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut parsed = httparse::Response::new(&mut []);
    let len = match httparse::ParserConfig::default()
        .parse_response_with_uninit_headers(&mut parsed, buf, &mut slots)
        .map_err(Error::invalid)?
    {
        httparse::Status::Complete(len) => len,
        httparse::Status::Partial => return Ok(None),
    };
    let code = parsed.code.unwrap_or_default();
    if (100..200).contains(&code) && code != 101 {
        return Ok(Some((len, None)));
    }
    let status = StatusCode::from_u16(code).map_err(Error::invalid)?;
    if status == StatusCode::SWITCHING_PROTOCOLS {
        return Err(Error::invalid(
            "101 Switching Protocols to a request that asked for none",
        ));
    }
    let version = match parsed.version {
        Some(0) => Version::HTTP_10,
        _ => Version::HTTP_11,
    };
    // The values are slices of one copy of the head.
    let whole = Bytes::copy_from_slice(&buf[..len]);
    let base = buf.as_ptr() as usize;
    let mut headers = HeaderMap::with_capacity(parsed.headers.len());
    for header in parsed.headers.iter() {
        let name = HeaderName::from_bytes(header.name.as_bytes()).map_err(Error::invalid)?;
        let at = header.value.as_ptr() as usize - base;
        let value = HeaderValue::from_maybe_shared(whole.slice(at..at + header.value.len()))
            .map_err(Error::invalid)?;
        headers.append(name, value);
    }
    let framing = framing(status, head_request, &headers)?;
    let keep_alive = framing != Framing::Close && keep_alive(version, &headers);
    let mut response = Response::new(());
    *response.status_mut() = status;
    *response.version_mut() = version;
    *response.headers_mut() = headers;
    Ok(Some((
        len,
        Some(Head {
            response,
            framing,
            keep_alive,
        }),
    )))
}

/// How the body of an answer with `status` and `headers` is delimited
/// (RFC 9112, section 6.3).
fn framing(status: StatusCode, head_request: bool, headers: &HeaderMap) -> Result<Framing, Error> {
    if head_request || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED {
        return Ok(Framing::Done);
    }
    if let Some(codings) = headers.get_all(TRANSFER_ENCODING).iter().next_back() {
        let last = codings
            .as_bytes()
            .rsplit(|&b| b == b',')
            .next()
            .unwrap_or_default();
        return Ok(if last.trim_ascii().eq_ignore_ascii_case(b"chunked") {
            Framing::Chunked(Chunked::default())
        } else {
            Framing::Close
        });
    }
    let mut length = None;
    for value in &headers.get_all(CONTENT_LENGTH) {
        for part in value.as_bytes().split(|&b| b == b',') {
            let digits = part.trim_ascii();
            let n =
                (!digits.is_empty() && digits.len() <= 19 && digits.iter().all(u8::is_ascii_digit))
                    .then(|| std::str::from_utf8(digits).ok()?.parse::<u64>().ok())
                    .flatten()
                    .ok_or_else(|| Error::invalid("a Content-Length that is not a number"))?;
            if length.is_some_and(|l| l != n) {
                return Err(Error::invalid("Content-Length values that differ"));
            }
            length = Some(n);
        }
    }
    Ok(match length {
        Some(0) => Framing::Done,
        Some(n) => Framing::Length(n),
        None => Framing::Close,
    })
}

/// Whether the connection stays open after the answer: HTTP/1.1 unless
/// it says `close`, HTTP/1.0 only when it says `keep-alive`.
fn keep_alive(version: Version, headers: &HeaderMap) -> bool {
    let says = |token: &[u8]| {
        headers.get_all(CONNECTION).iter().any(|v| {
            v.as_bytes()
                .split(|&b| b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
        })
    };
    if version == Version::HTTP_11 {
        !says(b"close")
    } else {
        says(b"keep-alive")
    }
}

/// Where a chunked body's decoding is.
#[derive(Debug, Default, PartialEq)]
pub(super) enum Chunked {
    /// At a chunk-size line.
    #[default]
    Size,
    /// In a chunk's data, this much still to come.
    Data(u64),
    /// After a chunk's data, at its line end.
    DataEnd,
    /// After the last chunk, at a trailer line or the final empty line.
    Trailers,
}

/// What [`Chunked::decode`] found at the start of the bytes it was given.
#[derive(Debug, PartialEq)]
enum Step {
    /// Not enough to go on.
    More,
    /// This many bytes of framing, taken.
    Skip(usize),
    /// This many bytes of data.
    Data(usize),
    /// The body's end, this many bytes of framing taken.
    End(usize),
}

impl Chunked {
    fn decode(&mut self, buf: &[u8]) -> Result<Step, Error> {
        match self {
            Chunked::Size => {
                let Some((line, taken)) = line(buf)? else {
                    return Ok(Step::More);
                };
                let digits = line
                    .split(|&b| b == b';')
                    .next()
                    .unwrap_or_default()
                    .trim_ascii();
                let size = (!digits.is_empty() && digits.len() <= 15)
                    .then(|| u64::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok())
                    .flatten()
                    .filter(|_| digits.iter().all(u8::is_ascii_hexdigit))
                    .ok_or_else(|| Error::invalid("a chunk size that is not a hex number"))?;
                *self = if size == 0 {
                    Chunked::Trailers
                } else {
                    Chunked::Data(size)
                };
                Ok(Step::Skip(taken))
            }
            Chunked::Data(rest) => {
                let n = buf.len().min(usize::try_from(*rest).unwrap_or(usize::MAX));
                *rest -= n as u64;
                if *rest == 0 {
                    *self = Chunked::DataEnd;
                }
                Ok(Step::Data(n))
            }
            Chunked::DataEnd => match buf {
                [b'\n', ..] => {
                    *self = Chunked::Size;
                    Ok(Step::Skip(1))
                }
                [b'\r'] => Ok(Step::More),
                [b'\r', b'\n', ..] => {
                    *self = Chunked::Size;
                    Ok(Step::Skip(2))
                }
                _ => Err(Error::invalid("a chunk not followed by a line end")),
            },
            Chunked::Trailers => {
                let Some((line, taken)) = line(buf)? else {
                    return Ok(Step::More);
                };
                // Trailers are not forwarded.
                Ok(if line.is_empty() {
                    Step::End(taken)
                } else {
                    Step::Skip(taken)
                })
            }
        }
    }
}

/// The line at the start of `buf` (without its CRLF or LF) and the bytes
/// it takes with its end; `None` while its end is not there.
fn line(buf: &[u8]) -> Result<Option<(&[u8], usize)>, Error> {
    let Some(lf) = buf.iter().position(|&b| b == b'\n') else {
        if buf.len() > MAX_LINE {
            return Err(Error::invalid("a chunk line too long"));
        }
        return Ok(None);
    };
    let line = &buf[..lf];
    Ok(Some((line.strip_suffix(b"\r").unwrap_or(line), lf + 1)))
}

#[cfg(test)]
#[path = "h1_tests.rs"]
mod tests;
