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

mod resp;
#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

pub(crate) use resp::{Cmd, Reply, Script};

/// After a failed connection attempt, how long calls fail at once.
const RECONNECT_INTERVAL_MS: u64 = 1_000;
/// Idle connections kept at most (more are closed when given back).
const MAX_IDLE: usize = 64;
/// A connection's read buffer starts at this size.
const READ_CHUNK: usize = 4_096;

/// One Redis server, connected on first use.
pub(crate) struct RedisLink {
    pool: Arc<Pool>,
    /// Commands whose replies nobody waits for, sent by one task in
    /// batches (started on first use).
    later: OnceLock<mpsc::UnboundedSender<Later>>,
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
}

/// A command sent later, and what to do with its reply.
struct Later {
    cmd: Cmd,
    timeout: Duration,
    then: Box<dyn FnOnce(Result<Reply, String>) + Send>,
}

/// Commands sent later go out at most this many per write.
const MAX_BATCH: usize = 64;

/// One open connection and its read buffer.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Whether the last exchange received any byte.
    heard: bool,
}

impl Conn {
    /// Writes `cmds` in one go and reads their replies, in order.
    async fn exchange(&mut self, cmds: &mut [Cmd]) -> Result<Vec<Reply>, String> {
        self.heard = false;
        if let [one] = cmds {
            self.stream
                .write_all(one.bytes())
                .await
                .map_err(|e| e.to_string())?;
        } else {
            let mut out = Vec::new();
            for cmd in cmds.iter_mut() {
                out.extend_from_slice(cmd.bytes());
            }
            self.stream
                .write_all(&out)
                .await
                .map_err(|e| e.to_string())?;
        }
        let mut replies = Vec::with_capacity(cmds.len());
        for _ in 0..cmds.len() {
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
            }),
            later: OnceLock::new(),
        })
    }

    /// Sends `cmds` (pipelined) and returns their replies, within
    /// `timeout` in all (connection included).
    pub(crate) async fn exchange(
        &self,
        cmds: &mut [Cmd],
        timeout: Duration,
    ) -> Result<Vec<Reply>, String> {
        self.pool.exchange(cmds, timeout).await
    }

    /// Sends one command; an error reply is an `Err`. A script call the
    /// server does not know yet is sent again whole (which loads it).
    pub(crate) async fn query(&self, mut cmd: Cmd, timeout: Duration) -> Result<Reply, String> {
        let reply = self.pool.one(&mut cmd, timeout).await?;
        self.pool.settled(reply, &cmd, timeout).await
    }

    /// Sends `cmd` in the background, with the other commands queued
    /// meanwhile in one write, and hands its reply (or why there is none)
    /// to `then`. Outside a runtime, `then` gets an error at once.
    pub(crate) fn send_later(
        &self,
        cmd: Cmd,
        timeout: Duration,
        then: impl FnOnce(Result<Reply, String>) + Send + 'static,
    ) {
        let later = Later {
            cmd,
            timeout,
            then: Box::new(then),
        };
        let sender = match self.later.get() {
            Some(sender) => sender,
            None => {
                let Ok(rt) = tokio::runtime::Handle::try_current() else {
                    (later.then)(Err("no runtime to send it from".into()));
                    return;
                };
                self.later.get_or_init(|| {
                    let (tx, rx) = mpsc::unbounded_channel();
                    rt.spawn(send_batches(self.pool.clone(), rx));
                    tx
                })
            }
        };
        if let Err(mpsc::error::SendError(later)) = sender.send(later) {
            (later.then)(Err("the sending task has stopped".into()));
        }
    }
}

/// Sends what [`RedisLink::send_later`] queues, each batch in one write,
/// until the link is dropped.
async fn send_batches(pool: Arc<Pool>, mut rx: mpsc::UnboundedReceiver<Later>) {
    let mut batch: Vec<Later> = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let timeout = batch.iter().map(|l| l.timeout).max().unwrap_or_default();
        let mut cmds: Vec<Cmd> = batch.iter_mut().map(|l| l.cmd.take()).collect();
        match pool.exchange(&mut cmds, timeout).await {
            Ok(replies) => {
                for ((later, reply), cmd) in batch.drain(..).zip(replies).zip(&cmds) {
                    (later.then)(pool.settled(reply, cmd, later.timeout).await);
                }
            }
            Err(e) => {
                for later in batch.drain(..) {
                    (later.then)(Err(e.clone()));
                }
            }
        }
    }
}

impl Pool {
    /// Sends one command and returns its reply.
    async fn one(&self, cmd: &mut Cmd, timeout: Duration) -> Result<Reply, String> {
        self.exchange(std::slice::from_mut(cmd), timeout)
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
                match self.one(&mut eval, timeout).await? {
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
                for reply in conn.exchange(&mut hello).await? {
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

    /// Sends `cmds` (pipelined) and returns their replies, within
    /// `timeout` in all (connection included). A connection that was idle
    /// and turns out closed (the server restarted) is replaced once.
    pub(crate) async fn exchange(
        &self,
        cmds: &mut [Cmd],
        timeout: Duration,
    ) -> Result<Vec<Reply>, String> {
        let call = async {
            if let Some(mut conn) = self.take_idle() {
                match conn.exchange(cmds).await {
                    Ok(replies) => {
                        self.give_back(conn);
                        return Ok(replies);
                    }
                    // Nothing heard: an idle connection the server had
                    // closed (a restart), which ran nothing; else the
                    // server may have run the command, which is not sent
                    // twice.
                    Err(e) if conn.heard => return Err(e),
                    Err(_) => {}
                }
            }
            let mut conn = self.connect(timeout).await?;
            let replies = conn.exchange(cmds).await?;
            self.give_back(conn);
            Ok(replies)
        };
        tokio::time::timeout(timeout, call)
            .await
            .map_err(|_| "timed out".to_owned())?
    }
}

/// `%xx` sequences of a URL's user or password decoded.
fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}
