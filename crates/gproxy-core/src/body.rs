//! The response body the gateway sends: a complete buffer, an upstream
//! stream forwarded chunk by chunk through the engine's stream processor
//! (which observes usage, or transcodes to the client's protocol), with
//! the idle timeout between chunks and the request's accounting attached,
//! or the gateway's own event stream (the live request feed).

use std::pin::Pin;
use std::task::{Context, Poll, Waker, ready};
use std::time::Duration;

use crate::upstream::ResponseBody;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use std::sync::Arc;

use gproxy_credential::Lease;

use crate::accounting::{Accounting, Outcome};
use crate::resilience::ResilienceState;
use crate::state::ProviderRuntime;
use crate::stream::{Output, StreamProcessor};

/// What a proxied stream keeps for the resilience state: the credential
/// lease (in flight until the stream ends) and where to count a stream
/// that breaks mid-way (a transient failure for the provider's circuit;
/// it is never retried, since bytes already reached the client).
#[derive(Debug)]
pub(crate) struct StreamWatch {
    /// Where a broken stream is counted; `None` for raw passthrough, whose
    /// answers the gateway does not judge.
    circuit: Option<(Arc<ResilienceState>, Arc<ProviderRuntime>)>,
    _lease: Option<Lease>,
}

impl StreamWatch {
    pub(crate) fn new(
        resilience: Arc<ResilienceState>,
        provider: Arc<ProviderRuntime>,
        lease: Option<Lease>,
    ) -> Self {
        StreamWatch {
            circuit: Some((resilience, provider)),
            _lease: lease,
        }
    }

    /// Holds only the lease (in flight until the body ends).
    pub(crate) fn lease_only(lease: Option<Lease>) -> Self {
        StreamWatch {
            circuit: None,
            _lease: lease,
        }
    }

    fn broke(&self, message: &str) {
        if let Some((resilience, provider)) = &self.circuit {
            tracing::warn!(provider = %provider.name, error = message, "stream broke mid-way; not retried, counted for the circuit");
            resilience.record_failure_detached(provider);
        }
    }
}

/// A streamed response body failed (upstream error or idle timeout). The
/// connection to the client is aborted, so it sees an incomplete stream.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BodyError(String);

/// The body of every gateway response.
#[derive(Debug)]
pub struct ProxyBody {
    kind: Kind,
}

enum Kind {
    Full(Option<Bytes>),
    Stream(Box<StreamBody>),
    Events(Pin<Box<dyn futures_util::Stream<Item = Bytes> + Send>>),
}

impl std::fmt::Debug for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Kind::Full(bytes) => f.debug_tuple("Full").field(bytes).finish(),
            Kind::Stream(stream) => f.debug_tuple("Stream").field(stream).finish(),
            Kind::Events(_) => f.write_str("Events"),
        }
    }
}

#[derive(Debug)]
struct StreamBody {
    /// Bytes read from the upstream before the response was built (up to
    /// its first event): processed before anything else.
    head: Option<Bytes>,
    upstream: ResponseBody,
    processor: StreamProcessor,
    /// Fires `idle_timeout` after the last chunk, checked when it fires:
    /// a chunk only notes its time in `last_chunk`, and the timer is moved
    /// then, instead of on every chunk (which cost a timer update per
    /// chunk).
    idle: Pin<Box<Sleep>>,
    idle_timeout: Duration,
    last_chunk: Instant,
    /// The waker `idle` was last polled with (it wakes it when it fires):
    /// while the task's waker is the same and the timer has not fired, it
    /// is not polled again on every chunk.
    idle_waker: Option<Waker>,
    accounting: Option<Accounting>,
    status: u16,
    watch: Option<StreamWatch>,
    /// Output held while chunks arrive close behind each other, sent as
    /// one frame (one write to the client) once the upstream has no more
    /// ready.
    batch: Output,
    /// The stream failed while output was held: the error goes out after
    /// it.
    failed: Option<String>,
    /// Output is held and the task already yielded again for it since the
    /// last chunk; or, after a failure, the task yielded once (after the
    /// held output, if any, was sent) so that hyper flushes what it holds
    /// before the error.
    yielded: bool,
}

/// Chunks that arrive within this of the one before are held for the
/// next one (see [`StreamBody::poll_next`]). Streamed tokens come far
/// apart (milliseconds); closer ones came in one read from the upstream.
const COALESCE_WITHIN: Duration = Duration::from_millis(1);

/// The most output held before it is sent regardless: 2,000 streams
/// holding it at once would hold 32 MiB (the held output lives only for a
/// few polls).
const MAX_BATCH: usize = 16 * 1024;

impl ProxyBody {
    /// A complete body.
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        ProxyBody {
            kind: Kind::Full((!bytes.is_empty()).then_some(bytes)),
        }
    }

    /// The bytes of a complete body (`None` for a stream or an empty body).
    pub fn as_full(&self) -> Option<&Bytes> {
        match &self.kind {
            Kind::Full(bytes) => bytes.as_ref(),
            Kind::Stream(_) | Kind::Events(_) => None,
        }
    }

    /// A body of the gateway's own frames (Server-Sent Events), as the
    /// stream yields them, until it ends.
    pub fn events(frames: Pin<Box<dyn futures_util::Stream<Item = Bytes> + Send>>) -> Self {
        ProxyBody {
            kind: Kind::Events(frames),
        }
    }

    /// An empty body.
    pub fn empty() -> Self {
        ProxyBody {
            kind: Kind::Full(None),
        }
    }

    pub(crate) fn stream(
        head: Bytes,
        upstream: ResponseBody,
        processor: StreamProcessor,
        idle_timeout: Duration,
        accounting: Accounting,
        status: u16,
        watch: Option<StreamWatch>,
    ) -> Self {
        ProxyBody {
            kind: Kind::Stream(Box::new(StreamBody {
                head: (!head.is_empty()).then_some(head),
                upstream,
                processor,
                idle: Box::pin(tokio::time::sleep(idle_timeout)),
                idle_timeout,
                last_chunk: Instant::now(),
                idle_waker: None,
                accounting: Some(accounting),
                status,
                watch,
                batch: Output::default(),
                failed: None,
                yielded: false,
            })),
        }
    }
}

/// `now + timeout`, checked: `Instant + Duration` panics on overflow. The
/// settings are bounded; this keeps an unbounded one harmless (a day).
pub(crate) fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(86_400))
}

impl StreamBody {
    /// Ready once no chunk came for `idle_timeout`: when the timer fires
    /// early (a chunk came since it was set), it is set again from the last
    /// chunk's time.
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            ready!(self.idle.as_mut().poll(cx));
            let deadline = self
                .last_chunk
                .checked_add(self.idle_timeout)
                .unwrap_or_else(|| deadline_after(self.idle_timeout));
            if deadline <= Instant::now() {
                return Poll::Ready(());
            }
            self.idle.as_mut().reset(deadline);
        }
    }

    fn finish(&mut self, error: Option<String>, client_disconnected: bool) {
        let watch = self.watch.take();
        if let (Some(watch), Some(message), false) = (&watch, &error, client_disconnected)
            && self.accounting.is_some()
        {
            watch.broke(message);
        }
        if let Some(mut accounting) = self.accounting.take() {
            if client_disconnected {
                accounting.set_streamed(self.processor.take_streamed());
            }
            let status = if error.is_some() && !client_disconnected {
                502
            } else {
                self.status
            };
            accounting.finish(Outcome {
                status,
                usage: self.processor.usage(),
                error,
                client_disconnected,
            });
        }
    }

    /// The stream failed: its row is finished now; the error goes out
    /// after any output still held, and after hyper flushed what it
    /// holds: hyper keeps polling a body while it can buffer what it gets
    /// (the response head included), and drops all of it when the body
    /// fails. An upstream connection read by its body can keep this task
    /// busy until the failure, with nothing pending in between, so the
    /// client would get no response at all.
    fn fail(
        &mut self,
        message: String,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        self.finish(Some(message.clone()), false);
        self.failed = Some(message);
        match self.batch.take() {
            Some(held) => {
                self.yielded = false;
                Poll::Ready(Some(Ok(Frame::data(held))))
            }
            None => {
                // Pending once: hyper flushes; the error is the next poll's.
                self.yielded = true;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    }

    /// The next frame for the client.
    ///
    /// Output is held while the upstream has more ready, and goes out as
    /// one frame when it has nothing (or past [`MAX_BATCH`]): each frame is
    /// a write to the client, and one per chunk cost a system call per
    /// chunk. An upstream HTTP/1 connection of this thread's pool is
    /// polled by its body, here: when the body is pending, the socket
    /// holds nothing more. Other upstream bodies are read from a
    /// connection's own task: when a chunk arrives within
    /// [`COALESCE_WITHIN`] of the one before (the upstream sent several in
    /// one read), the task yields (at most twice per chunk: the upstream
    /// connection's task runs after the second) so that it decodes the
    /// next one first.
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        loop {
            let polled = match self.head.take() {
                Some(head) => Poll::Ready(Some(Ok(Frame::data(head)))),
                None => Pin::new(&mut self.upstream).poll_frame(cx),
            };
            match polled {
                Poll::Ready(Some(Ok(frame))) => {
                    let Ok(data) = frame.into_data() else {
                        continue; // trailers are not forwarded
                    };
                    if let Some(accounting) = self.accounting.as_mut() {
                        accounting.first_byte();
                    }
                    let now = Instant::now();
                    let close_behind =
                        now.saturating_duration_since(self.last_chunk) <= COALESCE_WITHIN;
                    self.last_chunk = now;
                    let held = self.batch.len();
                    if let Err(e) = self.processor.process(data, &mut self.batch) {
                        return self.fail(format!("upstream stream refused: {e}"), cx);
                    }
                    if self.batch.len() == held {
                        continue;
                    }
                    if let Some(accounting) = self.accounting.as_mut() {
                        accounting.capture_response(self.batch.since(held));
                    }
                    self.yielded = false;
                    if self.batch.len() < MAX_BATCH {
                        // The upstream connection is polled here: if it
                        // has more ready, it is decoded now.
                        if self.upstream.polls_connection() {
                            continue;
                        }
                        if close_behind {
                            cx.waker().wake_by_ref();
                            return Poll::Pending;
                        }
                    }
                    return Poll::Ready(self.batch.take().map(|b| Ok(Frame::data(b))));
                }
                Poll::Ready(Some(Err(e))) => {
                    return self.fail(format!("upstream stream broke: {e}"), cx);
                }
                Poll::Ready(None) => {
                    if let Some(tail) = self.processor.finish() {
                        if let Some(accounting) = self.accounting.as_mut() {
                            accounting.capture_response(&tail);
                        }
                        self.batch.push(tail);
                    }
                    self.finish(None, false);
                    return Poll::Ready(self.batch.take().map(|b| Ok(Frame::data(b))));
                }
                Poll::Pending => {
                    // The upstream's connection is scheduled after this
                    // task's first yield: it gets one more turn before the
                    // held output goes.
                    if !self.yielded && self.batch.len() > 0 && !self.upstream.polls_connection() {
                        self.yielded = true;
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                    if let Some(held) = self.batch.take() {
                        return Poll::Ready(Some(Ok(Frame::data(held))));
                    }
                    if self
                        .idle_waker
                        .as_ref()
                        .is_some_and(|w| w.will_wake(cx.waker()))
                        && !self.idle.is_elapsed()
                    {
                        return Poll::Pending;
                    }
                    if self.poll_idle(cx).is_pending() {
                        self.idle_waker = Some(cx.waker().clone());
                        return Poll::Pending;
                    }
                    return self.fail(
                        format!(
                            "upstream stream idle for more than {} s",
                            self.idle_timeout.as_secs()
                        ),
                        cx,
                    );
                }
            }
        }
    }
}

impl Drop for StreamBody {
    fn drop(&mut self) {
        // Still pending: the client went away before the stream ended.
        self.finish(Some("client disconnected".to_owned()), true);
    }
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match &mut self.get_mut().kind {
            Kind::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Kind::Stream(stream) => {
                if stream.accounting.is_none() {
                    // Ended. A failure after held output is reported once
                    // that output was flushed: hyper drops what it has not
                    // written when a body fails, and it flushes when the
                    // body is pending.
                    if stream.failed.is_some() && !stream.yielded {
                        stream.yielded = true;
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                    return Poll::Ready(stream.failed.take().map(|m| Err(BodyError(m))));
                }
                stream.poll_next(cx)
            }
            Kind::Events(frames) => frames
                .as_mut()
                .poll_next(cx)
                .map(|frame| frame.map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Full(bytes) => bytes.is_none(),
            Kind::Stream(stream) => stream.accounting.is_none() && stream.failed.is_none(),
            Kind::Events(_) => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Full(Some(bytes)) => SizeHint::with_exact(bytes.len() as u64),
            Kind::Full(None) => SizeHint::with_exact(0),
            Kind::Stream(_) | Kind::Events(_) => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_huge_idle_timeout_does_not_overflow_the_deadline() {
        let now = Instant::now();
        assert!(deadline_after(Duration::MAX) > now);
        assert!(deadline_after(Duration::from_secs(5)) >= now + Duration::from_secs(5));
    }
}
