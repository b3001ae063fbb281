//! A client's request body read under two deadlines: the longest silence
//! between two chunks and the time for the whole body. Past either, the
//! body fails with [`RequestBodyTimeout`], which the router answers 408
//! (whole-body reads) and the engine finds under an upstream client error
//! (passthrough uploads streamed upstream).
//!
//! tower-http's `TimeoutBody` has only the first deadline and arms its
//! timer on every body; this one arms a timer only when the client makes
//! the gateway wait, so a body that came with its head (the usual case)
//! costs no clock read and no timer.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::body::deadline_after;

/// A boxed body error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The request body did not arrive in time.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time ({0})")]
pub struct RequestBodyTimeout(String);

pin_project_lite::pin_project! {
    /// `B` read with an idle and a total deadline.
    #[derive(Debug)]
    pub struct TimedBody<B> {
        #[pin]
        inner: B,
        idle_timeout: Duration,
        total_timeout: Duration,
        // Set at the first wait: when the whole body must be in.
        total_deadline: Option<Instant>,
        // Armed while the client makes the gateway wait; disarmed by each
        // chunk. Boxed only once the client first makes it wait.
        timer: Option<Pin<Box<Sleep>>>,
        armed: bool,
    }
}

impl<B> TimedBody<B> {
    /// `inner`, failing after `idle_timeout` without a chunk or once
    /// `total_timeout` has passed since the body was first waited for.
    pub fn new(inner: B, idle_timeout: Duration, total_timeout: Duration) -> Self {
        TimedBody {
            inner,
            idle_timeout,
            total_timeout,
            total_deadline: None,
            timer: None,
            armed: false,
        }
    }
}

/// The deadlines of a [`TimedBody`] (split from the pinned body).
struct Deadlines<'a> {
    idle_timeout: Duration,
    total_timeout: Duration,
    total_deadline: &'a mut Option<Instant>,
    timer: &'a mut Option<Pin<Box<Sleep>>>,
}

impl Deadlines<'_> {
    /// Arms the timer for the next deadline (whichever comes first).
    fn arm(&mut self) {
        let total = *self
            .total_deadline
            .get_or_insert_with(|| deadline_after(self.total_timeout));
        let deadline = deadline_after(self.idle_timeout).min(total);
        match self.timer {
            Some(timer) => timer.as_mut().reset(deadline),
            None => *self.timer = Some(Box::pin(tokio::time::sleep_until(deadline))),
        }
    }

    fn expired(&self) -> RequestBodyTimeout {
        let total_passed = self
            .total_deadline
            .is_some_and(|total| Instant::now() >= total);
        RequestBodyTimeout(if total_passed {
            format!("not complete within {} s", self.total_timeout.as_secs())
        } else {
            format!("no data for {} s", self.idle_timeout.as_secs())
        })
    }
}

impl<B> Body for TimedBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.project();
        if let Poll::Ready(frame) = this.inner.poll_frame(cx) {
            *this.armed = false;
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        let mut deadlines = Deadlines {
            idle_timeout: *this.idle_timeout,
            total_timeout: *this.total_timeout,
            total_deadline: this.total_deadline,
            timer: this.timer,
        };
        if !*this.armed {
            deadlines.arm();
            *this.armed = true;
        }
        if let Some(timer) = deadlines.timer.as_mut() {
            ready!(timer.as_mut().poll(cx));
        }
        Poll::Ready(Some(Err(Box::new(deadlines.expired()))))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The [`RequestBodyTimeout`] that is `error` or one of its causes.
pub fn body_timeout<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a RequestBodyTimeout> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(timeout) = e.downcast_ref::<RequestBodyTimeout>() {
            return Some(timeout);
        }
        current = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    /// A client sending chunks when the test says.
    struct Chunks(tokio::sync::mpsc::Receiver<Bytes>);

    impl Body for Chunks {
        type Data = Bytes;
        type Error = std::convert::Infallible;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            self.0.poll_recv(cx).map(|c| c.map(|b| Ok(Frame::data(b))))
        }
    }

    fn body(idle: u64, total: u64) -> (tokio::sync::mpsc::Sender<Bytes>, TimedBody<Chunks>) {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let timed = TimedBody::new(
            Chunks(rx),
            Duration::from_secs(idle),
            Duration::from_secs(total),
        );
        (tx, timed)
    }

    #[tokio::test(start_paused = true)]
    async fn a_silence_longer_than_the_idle_timeout_fails() {
        let (tx, b) = body(5, 100);
        tokio::pin!(b);
        tx.send(Bytes::from_static(b"a")).await.unwrap();
        assert!(b.frame().await.unwrap().is_ok());
        let started = Instant::now();
        let err = b.frame().await.unwrap().unwrap_err();
        assert_eq!(started.elapsed(), Duration::from_secs(5));
        assert!(body_timeout(err.as_ref()).is_some());
        assert!(err.to_string().contains("no data for 5 s"), "{err}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_trickle_is_stopped_by_the_total_timeout() {
        let (tx, b) = body(5, 12);
        tokio::pin!(b);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(4)).await;
                if tx.send(Bytes::from_static(b"x")).await.is_err() {
                    break;
                }
            }
        });
        let started = Instant::now();
        let err = loop {
            match b.frame().await.unwrap() {
                Ok(_) => continue,
                Err(e) => break e,
            }
        };
        assert_eq!(started.elapsed(), Duration::from_secs(12));
        assert!(
            err.to_string().contains("not complete within 12 s"),
            "{err}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_keeps_coming_and_ends_is_whole() {
        let (tx, b) = body(5, 100);
        tokio::spawn(async move {
            for _ in 0..3 {
                tokio::time::sleep(Duration::from_secs(4)).await;
                tx.send(Bytes::from_static(b"ab")).await.unwrap();
            }
        });
        assert_eq!(b.collect().await.unwrap().to_bytes(), "ababab");
    }

    #[tokio::test]
    async fn a_body_already_complete_arms_no_timer() {
        let b = TimedBody::new(
            http_body_util::Full::new(Bytes::from_static(b"whole")),
            Duration::from_secs(1),
            Duration::from_secs(1),
        );
        let mut b = std::pin::pin!(b);
        assert!(b.frame().await.unwrap().is_ok());
        assert!(b.frame().await.is_none());
        assert!(b.timer.is_none());
    }
}
