//! The response body of the mock: a queue of pre-rendered frames sent one at
//! a time, with an optional delay before some frames and an optional cut
//! (the body ends with an error, so the client sees a broken connection).
//!
//! No task or channel per response: the body is polled by hyper directly,
//! which keeps the mock cheap under benchmark load.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::Sleep;

/// One chunk of the body.
#[derive(Debug)]
struct Chunk {
    /// The bytes to send.
    data: Bytes,
    /// Whether the body's delay is waited before sending this chunk.
    delayed: bool,
}

/// Response body of the mock upstream.
#[derive(Debug)]
pub(crate) struct MockBody {
    chunks: VecDeque<Chunk>,
    delay: Duration,
    sleep: Option<Pin<Box<Sleep>>>,
    /// A wait before the first chunk (the headers go out at once).
    hold: Option<Pin<Box<Sleep>>>,
    /// Fail the body once this many chunks were sent.
    cut_after: Option<usize>,
    sent: usize,
    /// Whether the body already yielded once to let hyper flush what was
    /// sent before the cut.
    flushed_before_cut: bool,
    /// Exact length, for a body sent in one piece (lets hyper set
    /// `content-length`).
    exact_len: Option<u64>,
}

impl MockBody {
    /// A complete body sent in one piece.
    pub(crate) fn full(data: impl Into<Bytes>) -> Self {
        let data = data.into();
        let len = data.len() as u64;
        let mut chunks = VecDeque::with_capacity(1);
        if !data.is_empty() {
            chunks.push_back(Chunk {
                data,
                delayed: false,
            });
        }
        Self {
            chunks,
            delay: Duration::ZERO,
            sleep: None,
            hold: None,
            cut_after: None,
            sent: 0,
            flushed_before_cut: false,
            exact_len: Some(len),
        }
    }

    /// A streamed body; chunks are added with [`push`](Self::push).
    pub(crate) fn stream(delay: Duration) -> Self {
        Self {
            chunks: VecDeque::new(),
            delay,
            sleep: None,
            hold: None,
            cut_after: None,
            sent: 0,
            flushed_before_cut: false,
            exact_len: None,
        }
    }

    /// Appends a chunk; `delayed` waits the stream delay before sending it.
    pub(crate) fn push(&mut self, data: impl Into<Bytes>, delayed: bool) {
        self.chunks.push_back(Chunk {
            data: data.into(),
            delayed,
        });
    }

    /// Holds the first chunk back for `wait` (the headers are sent at once).
    pub(crate) fn hold(mut self, wait: Duration) -> Self {
        self.hold = Some(Box::pin(tokio::time::sleep(wait)));
        self
    }

    /// Makes the body fail after `events` chunks, and in any case before the
    /// last chunk (the stream terminator) so a cut stream never looks
    /// complete. A one-piece body is split in two and cut after the first
    /// half.
    pub(crate) fn cut(mut self, events: usize) -> Self {
        if self.exact_len.take().is_some() {
            if let Some(chunk) = self.chunks.pop_front() {
                let mut first = chunk.data;
                let second = first.split_off(first.len() / 2);
                self.chunks.push_back(Chunk {
                    data: first,
                    delayed: false,
                });
                self.chunks.push_back(Chunk {
                    data: second,
                    delayed: false,
                });
            }
            self.cut_after = Some(1);
        } else {
            let last = self.chunks.len().saturating_sub(1);
            self.cut_after = Some(events.min(last));
        }
        self
    }
}

impl Body for MockBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if let Some(hold) = this.hold.as_mut() {
            ready!(hold.as_mut().poll(cx));
            this.hold = None;
        }
        if this.cut_after.is_some_and(|cut| this.sent >= cut) {
            if !this.flushed_before_cut {
                // hyper buffers ready frames (and the headers) until the body
                // is pending; yield once so they reach the client before the
                // connection is torn down.
                this.flushed_before_cut = true;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            this.cut_after = None;
            this.chunks.clear();
            return Poll::Ready(Some(Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                "mock upstream: stream cut by fault",
            ))));
        }
        let Some(front) = this.chunks.front() else {
            return Poll::Ready(None);
        };
        if front.delayed && !this.delay.is_zero() {
            let delay = this.delay;
            let sleep = this
                .sleep
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(delay)));
            ready!(sleep.as_mut().poll(cx));
            this.sleep = None;
        }
        match this.chunks.pop_front() {
            Some(chunk) => {
                this.sent += 1;
                Poll::Ready(Some(Ok(Frame::data(chunk.data))))
            }
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.chunks.is_empty() && self.cut_after.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        match self.exact_len {
            Some(len) => SizeHint::with_exact(len),
            None => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn full_body_is_sent_whole() {
        let body = MockBody::full("hello");
        assert_eq!(body.size_hint().exact(), Some(5));
        let bytes = body.collect().await.unwrap().to_bytes();
        assert_eq!(&bytes[..], b"hello");
    }

    #[tokio::test]
    async fn cut_stream_fails_before_the_terminator() {
        let mut body = MockBody::stream(Duration::ZERO);
        body.push("a", false);
        body.push("b", true);
        body.push("end", false);
        let mut body = body.cut(10);
        let mut seen = Vec::new();
        let err = loop {
            match body.frame().await {
                Some(Ok(frame)) => seen.extend_from_slice(frame.data_ref().unwrap()),
                Some(Err(e)) => break e,
                None => panic!("body ended without the cut"),
            }
        };
        assert_eq!(seen, b"ab");
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionAborted);
    }

    #[tokio::test]
    async fn cut_full_body_sends_half() {
        let mut body = MockBody::full("0123456789").cut(0);
        let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(&first[..], b"01234");
        assert!(body.frame().await.unwrap().is_err());
    }
}
