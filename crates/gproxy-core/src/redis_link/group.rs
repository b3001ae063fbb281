//! Group commit of one script's calls (and the shape of a call carrying
//! many callers' parts, which [`super::RedisLink::send_part_later`] uses
//! too): while a call of the script is on
//! its way to Redis, the calls that arrive wait, and go out together as
//! one call when it is back (the first of them sends it and hands each the
//! reply meant for it). Under load a request pays a share of one round
//! trip and of one script run; alone, it pays what a plain call costs.
//!
//! The script takes the callers' keys end to end, then the number of
//! callers, then their arguments end to end, each caller's arguments
//! saying how many keys and arguments are its own; it returns one reply
//! per caller, in order (see `crate::admission::JOINT`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use super::{Cmd, RedisLink, Reply, Script, TIMED_OUT};

/// Callers sent in one call at most.
const MAX_GROUP: usize = 64;

/// The error of a call that waited its whole time for its turn: it was
/// never sent, so it took nothing.
pub(crate) const NOT_SENT: &str = "timed out waiting for its turn (not sent)";

/// One caller's share of a grouped call: its keys and its arguments, each
/// encoded with [`Cmd::args`].
#[derive(Debug)]
pub(crate) struct Part {
    pub(crate) keys: Cmd,
    pub(crate) args: Cmd,
}

/// The calls of one script, grouped.
#[derive(Debug)]
pub(crate) struct Group {
    script: Script,
    state: Mutex<State>,
    /// Calls sent.
    calls: AtomicU64,
    /// Callers those calls carried.
    carried: AtomicU64,
}

#[derive(Debug, Default)]
struct State {
    /// A call is on its way (its sender hands the group on when back).
    busy: bool,
    waiting: Vec<Waiter>,
    next_ticket: u64,
}

#[derive(Debug)]
struct Waiter {
    ticket: u64,
    part: Part,
    tx: oneshot::Sender<Msg>,
}

#[derive(Debug)]
enum Msg {
    /// The caller's reply.
    Done(Result<Reply, String>),
    /// The caller sends the next call: its own part and these waiters'.
    Lead(Part, Vec<Waiter>),
}

impl Group {
    pub(crate) fn new(script: Script) -> Self {
        Group {
            script,
            state: Mutex::new(State::default()),
            calls: AtomicU64::new(0),
            carried: AtomicU64::new(0),
        }
    }

    /// What this group has sent.
    pub(crate) fn report(&self) -> crate::health::RedisAdmissionsReport {
        crate::health::RedisAdmissionsReport {
            calls: self.calls.load(Ordering::Relaxed),
            requests: self.carried.load(Ordering::Relaxed),
            leases: 0,
            leased: 0,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends `part` through `link` (alone, or with the calls waiting
    /// beside it) and returns its reply, within `timeout` in all. An error
    /// of [`TIMED_OUT`] means the script may have run for it; of
    /// [`NOT_SENT`], that it did not.
    pub(crate) async fn call(
        &self,
        link: &RedisLink,
        part: Part,
        timeout: Duration,
    ) -> Result<Reply, String> {
        let deadline = Instant::now() + timeout;
        let queued = {
            let mut state = self.state();
            if state.busy {
                let (tx, rx) = oneshot::channel();
                let ticket = state.next_ticket;
                state.next_ticket += 1;
                state.waiting.push(Waiter { ticket, part, tx });
                Ok((ticket, rx))
            } else {
                state.busy = true;
                Err(part)
            }
        };
        let (ticket, rx) = match queued {
            Ok(queued) => queued,
            Err(part) => return self.lead(link, part, Vec::new(), deadline).await,
        };
        let mut queued = Queued {
            group: self,
            ticket,
            rx,
            left: false,
        };
        match tokio::time::timeout_at(deadline, &mut queued.rx).await {
            Ok(Ok(msg)) => {
                queued.left = true;
                self.received(link, msg, deadline).await
            }
            Ok(Err(_)) => {
                queued.left = true;
                Err(TIMED_OUT.to_owned())
            }
            Err(_) => queued.leave(),
        }
    }

    async fn received(
        &self,
        link: &RedisLink,
        msg: Msg,
        deadline: Instant,
    ) -> Result<Reply, String> {
        match msg {
            Msg::Done(reply) => reply,
            Msg::Lead(own, others) => self.lead(link, own, others, deadline).await,
        }
    }

    /// Sends `own` and `others`' parts as one call, hands each of `others`
    /// its reply, hands the group on, and returns `own`'s reply.
    async fn lead(
        &self,
        link: &RedisLink,
        own: Part,
        others: Vec<Waiter>,
        deadline: Instant,
    ) -> Result<Reply, String> {
        let cmd = command(
            &self.script,
            std::iter::once(&own).chain(others.iter().map(|w| &w.part)),
        );
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.carried
            .fetch_add(1 + others.len() as u64, Ordering::Relaxed);
        let mut sending = Sending {
            group: self,
            others: Some(others),
        };
        let timeout = deadline.saturating_duration_since(Instant::now());
        let reply = link.query_in_order(cmd, timeout).await;
        let others = sending.others.take().unwrap_or_default();
        let mut replies = split(reply, 1 + others.len()).into_iter();
        let own = replies.next().unwrap_or_else(|| Err("no reply".into()));
        for (waiter, reply) in others.into_iter().zip(replies) {
            // A waiter that gave up has queued the release of what its
            // part may have taken.
            let _ = waiter.tx.send(Msg::Done(reply));
        }
        self.hand_on();
        own
    }

    /// Hands the group to the first waiting caller (with up to
    /// [`MAX_GROUP`] of the others), or marks it idle.
    fn hand_on(&self) {
        let mut state = self.state();
        if state.waiting.is_empty() {
            state.busy = false;
            return;
        }
        let take = state.waiting.len().min(MAX_GROUP);
        let next: Vec<Waiter> = state.waiting.drain(..take).collect();
        drop(state);
        self.pass_on(next);
    }

    /// Makes the first of `waiters` that still waits send the next call,
    /// with the rest; with none left, hands on from the waiting list.
    fn pass_on(&self, mut waiters: Vec<Waiter>) {
        while !waiters.is_empty() {
            let first = waiters.remove(0);
            match first.tx.send(Msg::Lead(first.part, waiters)) {
                Ok(()) => return,
                // It gave up before its turn: its part was never sent.
                Err(back) => {
                    waiters = match back {
                        Msg::Lead(_, rest) => rest,
                        Msg::Done(_) => Vec::new(),
                    };
                }
            }
        }
        self.hand_on();
    }
}

/// A call on its way: if the sender is dropped before the reply (its
/// request was cancelled), the callers it carried hear [`TIMED_OUT`] (the
/// script may have run) and the group is handed on.
struct Sending<'a> {
    group: &'a Group,
    others: Option<Vec<Waiter>>,
}

impl Drop for Sending<'_> {
    fn drop(&mut self) {
        if let Some(others) = self.others.take() {
            for waiter in others {
                let _ = waiter.tx.send(Msg::Done(Err(TIMED_OUT.to_owned())));
            }
            self.group.hand_on();
        }
    }
}

/// A caller waiting for its turn. If it gives up (out of time) or is
/// dropped (its request was cancelled), it leaves: see [`Queued::leave`].
struct Queued<'a> {
    group: &'a Group,
    ticket: u64,
    rx: oneshot::Receiver<Msg>,
    /// It has its answer, or has left.
    left: bool,
}

impl Queued<'_> {
    /// Leaves the queue. Still in the waiting list: taken out, never sent
    /// ([`NOT_SENT`]). Else what came first: its reply; or the group,
    /// handed on to the others without this caller's part, which was never
    /// sent ([`NOT_SENT`]); or nothing yet, its call being out
    /// ([`TIMED_OUT`]).
    fn leave(&mut self) -> Result<Reply, String> {
        self.left = true;
        {
            let mut state = self.group.state();
            if let Some(i) = state.waiting.iter().position(|w| w.ticket == self.ticket) {
                state.waiting.remove(i);
                return Err(NOT_SENT.to_owned());
            }
        }
        self.rx.close();
        match self.rx.try_recv() {
            Ok(Msg::Done(reply)) => reply,
            Ok(Msg::Lead(_own, others)) => {
                self.group.pass_on(others);
                Err(NOT_SENT.to_owned())
            }
            Err(_) => Err(TIMED_OUT.to_owned()),
        }
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        if !self.left {
            // A group handed to a cancelled caller goes on without it.
            let _ = self.leave();
        }
    }
}

/// One call of `script` carrying `parts`: their keys end to end, their
/// number, their arguments end to end.
pub(super) fn command<'a>(script: &Script, parts: impl Iterator<Item = &'a Part> + Clone) -> Cmd {
    let mut cmd = script.call(parts.clone().map(|p| p.keys.arg_count()).sum());
    for p in parts.clone() {
        cmd.encoded(p.keys.encoded_args(), p.keys.arg_count());
    }
    cmd.int(parts.clone().count());
    for p in parts {
        cmd.encoded(p.args.encoded_args(), p.args.arg_count());
    }
    cmd
}

/// The reply to a call of `n` callers, one per caller.
pub(super) fn split(reply: Result<Reply, String>, n: usize) -> Vec<Result<Reply, String>> {
    match reply {
        Ok(Reply::Array(items)) if items.len() == n => items.into_iter().map(Ok).collect(),
        Ok(other) => {
            let e = format!("the grouped script replied {} for {n} calls", other.kind());
            vec![Err(e); n]
        }
        Err(e) => vec![Err(e); n],
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::Group;
    use crate::redis_link::RedisLink;
    use crate::redis_link::tests::{ECHO, echo_part, redis};

    #[tokio::test]
    async fn a_caller_cancelled_after_it_was_handed_the_group_hands_it_on() {
        let Some(url) = redis().await else { return };
        let link = Arc::new(RedisLink::new(&url).unwrap());
        let group = Arc::new(Group::new(link.script(ECHO)));
        let counter = format!("gproxy-test-group-handed:{}", crate::ratelimit::rand_seed());
        // As if a call were out: the next caller waits.
        group.state().busy = true;
        let waiter = {
            let (link, group, part) = (link.clone(), group.clone(), echo_part(&counter, 1));
            tokio::spawn(async move { group.call(&link, part, Duration::from_secs(5)).await })
        };
        tokio::task::yield_now().await;
        assert_eq!(group.state().waiting.len(), 1);
        // The call is back and the group goes to the waiter, whose request
        // is cancelled before it runs.
        group.hand_on();
        waiter.abort();
        assert!(waiter.await.unwrap_err().is_cancelled());
        // The group was not left busy: the next call goes out at once.
        let reply = tokio::time::timeout(
            Duration::from_secs(1),
            group.call(&link, echo_part(&counter, 2), Duration::from_secs(5)),
        )
        .await
        .expect("the group was left busy");
        assert!(reply.is_ok(), "{reply:?}");
        assert_eq!(group.report().calls, 1);
    }
}
