//! A small Redis client for what runs on the request path (the rate-limit
//! and budget counters, the response cache).
//!
//! Each call takes a connection from a pool of idle ones (or opens one),
//! writes its command and reads the reply in the calling task, then gives
//! the connection back. Nothing crosses tasks: no channel, no second task
//! reading replies, no waking of another thread, which is what a
//! multiplexed connection costs on every call (the `redis` crate's cost
//! about 18 k instructions per call here; see docs/benchmarks.md). Every
//! call is bounded by a timeout, connecting included; a call that times
//! out drops its connection, so no connection is reused with a reply
//! still owed. After a failed connection attempt calls fail at once for a
//! second instead of each waiting out its own timeout.

mod group;
mod resp;
#[cfg(test)]
pub(crate) mod tests;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;

pub(crate) use group::{Group, Part};
pub(crate) use resp::{Cmd, Reply, Script};

/// The error of a call that ran out of time: the server may still have run
/// it (see [`RedisLink::send_part_later`] to undo what it took).
pub(crate) const TIMED_OUT: &str = "timed out";

/// After a failed connection attempt, how long calls fail at once.
const RECONNECT_INTERVAL_MS: u64 = 1_000;
/// Idle connections kept at most (more are closed when given back).
const MAX_IDLE: usize = 64;
/// A connection's read buffer starts at this size.
const READ_CHUNK: usize = 4_096;

/// One Redis server, connected on first use.
pub(crate) struct RedisLink {
    pool: Arc<Pool>,
    /// Whether the task sending what [`RedisLink::send_part_later`] queues when
    /// no call takes it along is running (cleared when it is dropped, as
    /// with the runtime it ran on, so another one starts).
    flusher: Arc<AtomicBool>,
}

/// Held by the flusher's task: marks it gone when dropped.
struct Flushing(Arc<AtomicBool>);

impl Drop for Flushing {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl Drop for RedisLink {
    fn drop(&mut self) {
        // The flusher sends what is still queued, then ends.
        self.pool.closed.store(true, Ordering::Relaxed);
        self.pool.wake.notify_one();
    }
}

impl std::fmt::Debug for RedisLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLink")
            .field("addr", &self.pool.addr)
            .finish_non_exhaustive()
    }
}

/// The connections to one server.
struct Pool {
    /// `host:port`.
    addr: String,
    /// What a new connection sends first (`AUTH`, `SELECT`).
    hello: Vec<Cmd>,
    idle: Mutex<Vec<Conn>>,
    next_attempt_ms: AtomicU64,
    /// Commands whose replies nobody waits for (see
    /// [`RedisLink::send_part_later`]), and the exchanges carrying some.
    queued: Mutex<Queue>,
    /// Wakes the calls waiting for the exchanges carrying queued commands
    /// to be answered (see [`RedisLink::query_in_order`]).
    carried: Notify,
    /// The scripts called through this pool (see [`RedisLink::script`]).
    scripts: Mutex<Vec<&'static str>>,
    /// A script was registered since they were last loaded.
    scripts_dirty: AtomicBool,
    /// Wakes the flusher when the queue stops being empty, or the link is
    /// dropped.
    wake: Notify,
    closed: AtomicBool,
}

/// The queue of commands sent later.
#[derive(Default)]
struct Queue {
    items: Vec<Queued>,
    /// Exchanges on their way that carry queued commands.
    carrying: usize,
}

/// How an exchange treats the queue of commands sent later.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Carry {
    /// Leaves it alone: a plain call (the cache, a budget's seed), which
    /// nothing queued has to precede.
    Nothing,
    /// Takes it along, once no other exchange carries queued commands
    /// (see [`RedisLink::query_in_order`]).
    InOrder,
    /// Takes it along at once (the flusher).
    Now,
}

/// Held while an exchange carries queued commands: when it ends (answered,
/// failed or cancelled), the calls waiting to go in order are woken.
struct Carrying<'a>(&'a Pool);

impl Drop for Carrying<'_> {
    fn drop(&mut self) {
        let mut queued = self.0.queued.lock().unwrap_or_else(PoisonError::into_inner);
        queued.carrying -= 1;
        if queued.carrying == 0 {
            self.0.carried.notify_waiters();
        }
    }
}

/// What to do with a reply.
type Then = Box<dyn FnOnce(Result<Reply, String>) + Send>;

/// A command sent later, and what to do with its reply.
struct Later {
    cmd: Cmd,
    then: Then,
}

/// What waits in the queue: a command, or one caller's part of a script
/// call that carries many (see [`RedisLink::send_part_later`]).
enum Queued {
    Cmd(Later),
    Part(Arc<Script>, Part, Then),
    /// A part written when the queue is sent (`None`: nothing to send).
    Lazy(Arc<Script>, Build, Then),
}

/// Writes a part when the queue is sent.
type Build = Box<dyn FnOnce() -> Option<Part> + Send>;

/// Why a command queued outside a runtime is not sent.
const NO_RUNTIME: &str = "no runtime to send it from";

/// A part queued for a call of many, and what to do with its reply.
type Carried = (Part, Then);

/// Parts carried by one call at most.
const MAX_PARTS: usize = 256;

/// How long a queued command waits for a call to take it along before the
/// flusher sends it.
const FLUSH_DELAY: Duration = Duration::from_millis(5);
/// The flusher's own timeout.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(1);

/// One open connection and its read buffer.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Whether the last exchange received any byte.
    heard: bool,
}

impl Conn {
    /// Writes `queued`'s commands and `cmds` in one go and reads their
    /// replies, in order.
    async fn exchange(
        &mut self,
        queued: &mut [Later],
        cmds: &mut [Cmd],
    ) -> Result<Vec<Reply>, String> {
        self.heard = false;
        let count = queued.len() + cmds.len();
        if let ([], [one]) = (&mut *queued, &mut *cmds) {
            self.stream
                .write_all(one.bytes())
                .await
                .map_err(|e| e.to_string())?;
        } else {
            let mut out = Vec::new();
            for cmd in queued.iter_mut().map(|l| &mut l.cmd).chain(cmds.iter_mut()) {
                out.extend_from_slice(cmd.bytes());
            }
            self.stream
                .write_all(&out)
                .await
                .map_err(|e| e.to_string())?;
        }
        let mut replies = Vec::with_capacity(count);
        for _ in 0..count {
            replies.push(self.read_reply().await?);
        }
        Ok(replies)
    }

    /// Reads one reply.
    async fn read_reply(&mut self) -> Result<Reply, String> {
        loop {
            if !self.buf.is_empty()
                && let Some((reply, used)) = resp::parse(&self.buf)?
            {
                self.buf.drain(..used);
                return Ok(reply);
            }
            self.buf.reserve(READ_CHUNK);
            let n = self
                .stream
                .read_buf(&mut self.buf)
                .await
                .map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("connection closed by the server".into());
            }
            self.heard = true;
        }
    }
}

impl RedisLink {
    /// A link to `url` (`redis://[user[:password]@]host[:port][/db]`), not
    /// connected yet.
    pub(crate) fn new(url: &str) -> Result<Self, String> {
        let parsed = url::Url::parse(url).map_err(|e| format!("invalid redis_url: {e}"))?;
        match parsed.scheme() {
            "redis" => {}
            "rediss" => {
                return Err("invalid redis_url: TLS (rediss://) is not supported; use a TLS tunnel or a redis:// URL on a private network".into());
            }
            other => return Err(format!("invalid redis_url: unknown scheme `{other}`")),
        }
        let host = match parsed.host() {
            Some(url::Host::Ipv6(ip)) => format!("[{ip}]"),
            Some(host) => host.to_string(),
            None => return Err("invalid redis_url: no host".into()),
        };
        let addr = format!("{host}:{}", parsed.port().unwrap_or(6379));
        let mut hello = Vec::new();
        if let Some(password) = parsed.password() {
            let password = percent_decode(password);
            let mut auth = Cmd::new("AUTH");
            if !parsed.username().is_empty() {
                auth.arg(percent_decode(parsed.username()).as_bytes());
            }
            auth.arg(password.as_bytes());
            hello.push(auth);
        }
        let db = parsed.path().trim_start_matches('/');
        if !db.is_empty() {
            let db: u32 = db
                .parse()
                .map_err(|_| format!("invalid redis_url: `{db}` is not a database number"))?;
            if db != 0 {
                let mut select = Cmd::new("SELECT");
                select.int(db);
                hello.push(select);
            }
        }
        Ok(RedisLink {
            pool: Arc::new(Pool {
                addr,
                hello,
                idle: Mutex::new(Vec::new()),
                next_attempt_ms: AtomicU64::new(0),
                queued: Mutex::new(Queue::default()),
                carried: Notify::new(),
                scripts: Mutex::new(Vec::new()),
                scripts_dirty: AtomicBool::new(false),
                wake: Notify::new(),
                closed: AtomicBool::new(false),
            }),
            flusher: Arc::new(AtomicBool::new(false)),
        })
    }

    /// The link to `url` the rate limits, the budgets and the cache share
    /// (one pool, one queue of settlements), made on first use and kept
    /// while any of them uses it.
    pub(crate) fn shared(url: &str) -> Result<Arc<Self>, String> {
        static LINKS: Mutex<Vec<(String, Weak<RedisLink>)>> = Mutex::new(Vec::new());
        let mut links = LINKS.lock().unwrap_or_else(PoisonError::into_inner);
        links.retain(|(_, link)| link.strong_count() > 0);
        if let Some(link) = links
            .iter()
            .find(|(u, _)| u == url)
            .and_then(|(_, link)| link.upgrade())
        {
            return Ok(link);
        }
        let link = Arc::new(RedisLink::new(url)?);
        links.push((url.to_owned(), Arc::downgrade(&link)));
        Ok(link)
    }

    /// Sends `cmds` (pipelined) and returns their replies, within
    /// `timeout` in all (connection included).
    #[cfg(test)]
    pub(crate) async fn exchange(
        &self,
        cmds: &mut [Cmd],
        timeout: Duration,
    ) -> Result<Vec<Reply>, String> {
        self.pool.exchange(cmds, timeout, Carry::Nothing).await
    }

    /// A script called through this link: loaded on every new connection
    /// before anything else is sent (see [`Pool::exchange_on_any`]).
    pub(crate) fn script(&self, body: &'static str) -> Script {
        let mut scripts = self
            .pool
            .scripts
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if !scripts.contains(&body) {
            scripts.push(body);
            self.pool.scripts_dirty.store(true, Ordering::Relaxed);
        }
        Script::new(body)
    }

    /// Sends one command; an error reply is an `Err`. A script call the
    /// server does not know yet is sent again whole (which loads it).
    /// Nothing queued goes with it (see [`RedisLink::query_in_order`]).
    pub(crate) async fn query(&self, mut cmd: Cmd, timeout: Duration) -> Result<Reply, String> {
        let reply = self.pool.one(&mut cmd, timeout, Carry::Nothing).await?;
        self.pool.settled(reply, &cmd, timeout).await
    }

    /// As [`RedisLink::query`], after what was queued before it (for the
    /// admission checks and the looks at the counters): the queued
    /// commands go ahead of it on the same write, and while another
    /// exchange carries queued commands (the previous such call, or the
    /// flusher) this one waits for its answer before it is sent. Two
    /// exchanges on two connections reach Redis in no set order, so
    /// without the wait a check could overtake the settlement queued just
    /// before it and find the slot still taken. An error of [`TIMED_OUT`]
    /// may mean it was never sent.
    pub(crate) async fn query_in_order(
        &self,
        mut cmd: Cmd,
        timeout: Duration,
    ) -> Result<Reply, String> {
        let reply = self.pool.one(&mut cmd, timeout, Carry::InOrder).await?;
        self.pool.settled(reply, &cmd, timeout).await
    }

    /// Starts the flusher on first use, and again when the runtime it ran
    /// on has gone (a link is shared by the limits and budgets of one
    /// Redis URL, whichever runtime uses them); `false` when there is no
    /// runtime to start it on.
    fn start_flusher(&self) -> bool {
        if self.flusher.load(Ordering::Acquire) {
            return true;
        }
        let Some(rt) = crate::background::runtime() else {
            return false;
        };
        if !self.flusher.swap(true, Ordering::AcqRel) {
            let flushing = Flushing(self.flusher.clone());
            let pool = self.pool.clone();
            rt.spawn(async move {
                let _flushing = flushing;
                flush(pool).await;
            });
            // What a flusher gone before it could send stays queued.
            self.pool.wake.notify_one();
        }
        true
    }

    /// Sends one caller's `part` of a call of `script` (see [`Group`] for
    /// the shape) in the background and hands its reply (or why there is
    /// none) to `then`: it goes out ahead of the next
    /// [`RedisLink::query_in_order`] call's command on the same write
    /// (under load, settlements cost no round trip of their own), or after
    /// [`FLUSH_DELAY`] when no such call comes. The parts queued
    /// for the same script when the queue is sent go out as one call, and
    /// each `then` gets its own part's reply: settlements queued by many
    /// requests cost Redis one script run. Outside a runtime, `then` gets
    /// an error at once.
    pub(crate) fn send_part_later(
        &self,
        script: &Arc<Script>,
        part: Part,
        then: impl FnOnce(Result<Reply, String>) + Send + 'static,
    ) {
        if !self.start_flusher() {
            then(Err(NO_RUNTIME.into()));
            return;
        }
        self.pool
            .queue(Queued::Part(script.clone(), part, Box::new(then)));
    }

    /// [`RedisLink::send_part_later`] of a part that `build` writes when
    /// the queue is sent, so that what happens until then goes in it (a
    /// lease's slots freed one by one are given back together); `None`
    /// sends nothing and `then` is not called.
    pub(crate) fn send_lazy_part_later(
        &self,
        script: &Arc<Script>,
        build: impl FnOnce() -> Option<Part> + Send + 'static,
        then: impl FnOnce(Result<Reply, String>) + Send + 'static,
    ) {
        if !self.start_flusher() {
            then(Err(NO_RUNTIME.into()));
            return;
        }
        self.pool.queue(Queued::Lazy(
            script.clone(),
            Box::new(build),
            Box::new(then),
        ));
    }
}

/// Sends what [`RedisLink::send_part_later`] queued and no call took along,
/// until the link is dropped.
async fn flush(pool: Arc<Pool>) {
    loop {
        pool.wake.notified().await;
        let closed = pool.closed.load(Ordering::Relaxed);
        if !closed {
            tokio::time::sleep(FLUSH_DELAY).await;
        }
        // Errors went to each command's `then`.
        let _ = pool.exchange(&mut [], FLUSH_TIMEOUT, Carry::Now).await;
        if closed {
            return;
        }
    }
}

impl Pool {
    fn queue(&self, later: Queued) {
        let mut queued = self.queued.lock().unwrap_or_else(PoisonError::into_inner);
        queued.items.push(later);
        if queued.items.len() == 1 {
            self.wake.notify_one();
        }
    }

    /// What is queued, the parts of each script merged into calls (after
    /// the commands, in the order their first part came), with the
    /// [`Carrying`] mark to hold while they are on their way; as `carry`
    /// says (waiting until `deadline` at most; `None` past it).
    async fn take_queued(
        &self,
        carry: Carry,
        deadline: tokio::time::Instant,
    ) -> Option<(Vec<Later>, Option<Carrying<'_>>)> {
        if carry == Carry::Nothing {
            return Some((Vec::new(), None));
        }
        let queued = loop {
            let carried = self.carried.notified();
            tokio::pin!(carried);
            carried.as_mut().enable();
            {
                let mut queued = self.queued.lock().unwrap_or_else(PoisonError::into_inner);
                if carry == Carry::Now || queued.carrying == 0 {
                    if queued.items.is_empty() {
                        return Some((Vec::new(), None));
                    }
                    queued.carrying += 1;
                    break std::mem::take(&mut queued.items);
                }
            }
            tokio::time::timeout_at(deadline, carried).await.ok()?;
        };
        let carrying = Carrying(self);
        let mut out = Vec::with_capacity(queued.len());
        let mut calls: Vec<(Arc<Script>, Vec<Carried>)> = Vec::new();
        for q in queued {
            let (script, part, then) = match q {
                Queued::Cmd(later) => {
                    out.push(later);
                    continue;
                }
                Queued::Part(script, part, then) => (script, part, then),
                Queued::Lazy(script, build, then) => match build() {
                    Some(part) => (script, part, then),
                    None => continue,
                },
            };
            match calls
                .iter_mut()
                .find(|(s, parts)| Arc::ptr_eq(s, &script) && parts.len() < MAX_PARTS)
            {
                Some((_, parts)) => parts.push((part, then)),
                None => calls.push((script, vec![(part, then)])),
            }
        }
        for (script, parts) in calls {
            let cmd = group::command(&script, parts.iter().map(|(p, _)| p));
            let n = parts.len();
            let thens: Vec<Then> = parts.into_iter().map(|(_, then)| then).collect();
            out.push(Later {
                cmd,
                then: Box::new(move |reply| {
                    for (then, reply) in thens.into_iter().zip(group::split(reply, n)) {
                        then(reply);
                    }
                }),
            });
        }
        Some((out, Some(carrying)))
    }

    /// Hands each queued command its reply; a script the server did not
    /// know is queued again whole.
    fn deliver(&self, queued: Vec<Later>, replies: Vec<Reply>) {
        for (later, reply) in queued.into_iter().zip(replies) {
            match reply {
                Reply::Error(e) if e.starts_with("NOSCRIPT") => match later.cmd.as_eval() {
                    Some(cmd) => self.queue(Queued::Cmd(Later {
                        cmd,
                        then: later.then,
                    })),
                    None => (later.then)(Err(e)),
                },
                Reply::Error(e) => (later.then)(Err(e)),
                reply => (later.then)(Ok(reply)),
            }
        }
    }

    /// Sends one command and returns its reply.
    async fn one(&self, cmd: &mut Cmd, timeout: Duration, carry: Carry) -> Result<Reply, String> {
        self.exchange(std::slice::from_mut(cmd), timeout, carry)
            .await?
            .pop()
            .ok_or_else(|| "no reply".into())
    }

    /// `reply` to `cmd` as a result: an error reply is an `Err`, and a
    /// script the server does not know yet is sent whole (which loads it).
    async fn settled(&self, reply: Reply, cmd: &Cmd, timeout: Duration) -> Result<Reply, String> {
        match reply {
            Reply::Error(e) if e.starts_with("NOSCRIPT") => {
                let Some(mut eval) = cmd.as_eval() else {
                    return Err(e);
                };
                match self.one(&mut eval, timeout, Carry::Nothing).await? {
                    Reply::Error(e) => Err(e),
                    reply => Ok(reply),
                }
            }
            Reply::Error(e) => Err(e),
            reply => Ok(reply),
        }
    }

    /// Opens a connection and says hello.
    async fn connect(&self, timeout: Duration) -> Result<Conn, String> {
        let now = gproxy_credential::clock::now_ms();
        if now < self.next_attempt_ms.load(Ordering::Relaxed) {
            return Err("unreachable (waiting before the next connection attempt)".into());
        }
        let open = async {
            let stream = TcpStream::connect(&self.addr)
                .await
                .map_err(|e| format!("cannot connect: {e}"))?;
            let _ = stream.set_nodelay(true);
            let mut conn = Conn {
                stream,
                buf: Vec::with_capacity(READ_CHUNK),
                heard: false,
            };
            if !self.hello.is_empty() {
                let mut hello = self.hello.clone();
                for reply in conn.exchange(&mut [], &mut hello).await? {
                    if let Reply::Error(e) = reply {
                        return Err(format!("the server refused the connection's setup: {e}"));
                    }
                }
            }
            Ok(conn)
        };
        let result = match tokio::time::timeout(timeout, open).await {
            Ok(result) => result,
            Err(_) => Err("cannot connect: timed out".to_owned()),
        };
        if result.is_err() {
            self.next_attempt_ms
                .store(now + RECONNECT_INTERVAL_MS, Ordering::Relaxed);
        }
        result
    }

    fn take_idle(&self) -> Option<Conn> {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
    }

    fn give_back(&self, conn: Conn) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }

    /// Sends `cmds` (pipelined, after whatever [`RedisLink::send_part_later`]
    /// queued, as `carry` says) and returns their replies, within
    /// `timeout` in all (connection included).
    async fn exchange(
        &self,
        cmds: &mut [Cmd],
        timeout: Duration,
        carry: Carry,
    ) -> Result<Vec<Reply>, String> {
        let deadline = tokio::time::Instant::now() + timeout;
        let Some((mut queued, _carrying)) = self.take_queued(carry, deadline).await else {
            return Err(TIMED_OUT.to_owned());
        };
        if queued.is_empty() && cmds.is_empty() {
            return Ok(Vec::new());
        }
        let timeout = deadline.saturating_duration_since(tokio::time::Instant::now());
        let sent = tokio::time::timeout(timeout, self.exchange_on_any(&mut queued, cmds, timeout))
            .await
            .unwrap_or_else(|_| Err(TIMED_OUT.to_owned()));
        match sent {
            Ok(mut replies) => {
                let own = replies.split_off(queued.len());
                self.deliver(queued, replies);
                Ok(own)
            }
            Err(e) => {
                // The scripts may not have been loaded.
                self.scripts_dirty.store(true, Ordering::Relaxed);
                for later in queued {
                    (later.then)(Err(e.clone()));
                }
                Err(e)
            }
        }
    }

    /// The exchange on an idle connection, or a new one. An idle
    /// connection that turns out closed (the server restarted) is replaced
    /// once. The registered scripts are loaded first on a new connection
    /// (the server may be a new one) and after a registration, so that a
    /// settlement riding ahead of a check never meets `NOSCRIPT` (which
    /// would send it again after the check, out of order).
    async fn exchange_on_any(
        &self,
        queued: &mut Vec<Later>,
        cmds: &mut [Cmd],
        timeout: Duration,
    ) -> Result<Vec<Reply>, String> {
        let mut loading = false;
        if let Some(mut conn) = self.take_idle() {
            if self.scripts_dirty.swap(false, Ordering::Relaxed) {
                self.load_scripts(queued);
                loading = true;
            }
            match conn.exchange(queued, cmds).await {
                Ok(replies) => {
                    self.give_back(conn);
                    return Ok(replies);
                }
                // Nothing heard: an idle connection the server had closed
                // (a restart), which ran nothing; else the server may have
                // run the commands, which are not sent twice.
                Err(e) if conn.heard => return Err(e),
                Err(_) => {}
            }
        }
        let mut conn = self.connect(timeout).await?;
        if !loading {
            self.load_scripts(queued);
        }
        let replies = conn.exchange(queued, cmds).await?;
        self.give_back(conn);
        Ok(replies)
    }

    /// Puts a `SCRIPT LOAD` of every registered script at the front of
    /// `queued`.
    fn load_scripts(&self, queued: &mut Vec<Later>) {
        let scripts = self.scripts.lock().unwrap_or_else(PoisonError::into_inner);
        queued.splice(
            0..0,
            scripts.iter().map(|body| {
                let mut cmd = Cmd::new("SCRIPT");
                cmd.arg(b"LOAD").arg(body.as_bytes());
                Later {
                    cmd,
                    then: Box::new(|_| {}),
                }
            }),
        );
    }
}

/// `%xx` sequences of a URL's user or password decoded.
fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}
