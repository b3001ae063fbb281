//! The load generator: one HTTP/1.1 keep-alive connection per worker
//! (hyper's client connection over hyper-util's `TokioIo`, so a worker never
//! opens a second connection), closed loop, bounded in time and count.
//!
//! Three phases: interleaved latency at concurrency 1, throughput at N
//! connections, and N slow streams held open at once.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use crate::BoxResult;
use crate::procs::{Mem, Pid};
use crate::stats::{Percentiles, Ticks};

/// One request, ready to be sent again and again.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Path and query.
    pub path: String,
    /// Headers (`host` and `content-length` are added per target).
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
    /// A streamed answer must end with these bytes.
    pub stream_end: Option<&'static [u8]>,
}

/// A request to a given server.
#[derive(Debug, Clone)]
pub struct Target {
    /// Server address.
    pub addr: SocketAddr,
    spec: Spec,
    host: HeaderValue,
}

impl Target {
    /// `spec` sent to `addr`.
    pub fn new(addr: SocketAddr, spec: Spec) -> BoxResult<Target> {
        let host = HeaderValue::try_from(addr.to_string())?;
        Ok(Target { addr, spec, host })
    }

    fn request(&self) -> BoxResult<Request<Full<Bytes>>> {
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(self.spec.path.as_str())
            .body(Full::new(self.spec.body.clone()))?;
        let headers = req.headers_mut();
        headers.clone_from(&self.spec.headers);
        headers.insert(header::HOST, self.host.clone());
        headers.insert(header::CONTENT_LENGTH, self.spec.body.len().into());
        Ok(req)
    }
}

/// One keep-alive HTTP/1.1 connection.
struct Conn {
    sender: SendRequest<Full<Bytes>>,
}

impl Conn {
    async fn open(addr: SocketAddr) -> BoxResult<Conn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Conn { sender })
    }

    /// Sends one request and reads the whole answer; returns the number of
    /// SSE events in it (blank-line terminated), 0 for a plain body.
    async fn call(&mut self, target: &Target) -> BoxResult<u64> {
        self.sender.ready().await?;
        let response = self.sender.send_request(target.request()?).await?;
        let status = response.status();
        let mut body = response.into_body();
        let mut counter = EventCounter::default();
        let mut tail = Vec::new();
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame?.into_data() {
                counter.feed(&data);
                keep_tail(&mut tail, &data);
            }
        }
        if status != StatusCode::OK {
            let text = String::from_utf8_lossy(&tail);
            return Err(format!("status {status}: ...{text}").into());
        }
        if let Some(end) = target.spec.stream_end
            && !tail.ends_with(end)
        {
            let text = String::from_utf8_lossy(&tail);
            return Err(format!("stream did not end with {end:?}: ...{text}").into());
        }
        if tail.is_empty() {
            return Err("empty body".into());
        }
        Ok(counter.events)
    }
}

/// Keeps the last 256 bytes seen.
fn keep_tail(tail: &mut Vec<u8>, data: &[u8]) {
    const KEEP: usize = 256;
    tail.extend_from_slice(&data[data.len().saturating_sub(KEEP)..]);
    if tail.len() > KEEP {
        tail.drain(..tail.len() - KEEP);
    }
}

/// Counts `\n\n` event terminators across frames split anywhere.
#[derive(Debug, Default)]
struct EventCounter {
    last_was_newline: bool,
    events: u64,
}

impl EventCounter {
    fn feed(&mut self, data: &[u8]) {
        for &b in data {
            if b == b'\n' {
                if self.last_was_newline {
                    self.events += 1;
                    self.last_was_newline = false;
                } else {
                    self.last_was_newline = true;
                }
            } else if b != b'\r' {
                self.last_was_newline = false;
            }
        }
    }
}

/// Errors seen in a phase: a count and the first few messages.
#[derive(Debug, Default)]
pub struct Errors {
    count: AtomicU64,
    first: Mutex<Vec<String>>,
}

impl Errors {
    /// Counts one error.
    pub fn add(&self, what: &str, e: &dyn std::fmt::Display) {
        self.count.fetch_add(1, Ordering::Relaxed);
        let mut first = self.first.lock().unwrap_or_else(PoisonError::into_inner);
        if first.len() < 5 {
            first.push(format!("{what}: {e}"));
        }
    }

    /// Errors counted.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// The first messages.
    pub fn messages(&self) -> Vec<String> {
        self.first
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Time and count bounds of one measured phase.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// Unmeasured run-in.
    pub warmup: Duration,
    /// Measured window (upper bound).
    pub window: Duration,
    /// Requests after which the window ends early.
    pub max_requests: u64,
}

/// Result of the concurrency-1 latency phase.
#[derive(Debug)]
pub struct LatencyRun {
    /// Direct to the mock.
    pub direct: Percentiles,
    /// Through the gateway.
    pub gateway: Percentiles,
    /// CPU the gateway used over the measured rounds.
    pub gateway_cpu: Ticks,
}

/// Alternates one direct and one gateway request (order flipped every
/// round), one connection each, so both paths see the same conditions.
/// `watch` (the gateway) has its CPU read over the measured rounds.
pub async fn latency(
    direct: &Target,
    gateway: &Target,
    bounds: Bounds,
    watch: Option<Pid>,
    errors: &Errors,
) -> BoxResult<LatencyRun> {
    let mut d = Conn::open(direct.addr).await?;
    let mut g = Conn::open(gateway.addr).await?;
    let mut d_ns = Vec::new();
    let mut g_ns = Vec::new();
    let warm_until = Instant::now() + bounds.warmup;
    let mut end = warm_until + bounds.window;
    let mut round = 0u64;
    let mut cpu0 = None;
    while Instant::now() < end && (d_ns.len() as u64) < bounds.max_requests {
        let measuring = Instant::now() >= warm_until;
        if measuring && cpu0.is_none() {
            cpu0 = Some(cpu_of(watch)?);
        }
        let order: [(&mut Conn, &Target, &mut Vec<u64>, &str); 2] = if round.is_multiple_of(2) {
            [
                (&mut d, direct, &mut d_ns, "direct"),
                (&mut g, gateway, &mut g_ns, "gateway"),
            ]
        } else {
            [
                (&mut g, gateway, &mut g_ns, "gateway"),
                (&mut d, direct, &mut d_ns, "direct"),
            ]
        };
        for (conn, target, samples, what) in order {
            let t = Instant::now();
            match conn.call(target).await {
                Ok(_) if measuring => samples.push(nanos(t.elapsed())),
                Ok(_) => {}
                Err(e) => {
                    errors.add(what, &e);
                    *conn = Conn::open(target.addr).await?;
                    if errors.count() > 100 {
                        end = Instant::now();
                    }
                }
            }
        }
        round += 1;
    }
    let gateway_cpu = match cpu0 {
        Some(start) => cpu_of(watch)?.since(start),
        None => Ticks::default(),
    };
    Ok(LatencyRun {
        direct: Percentiles::of(&mut d_ns),
        gateway: Percentiles::of(&mut g_ns),
        gateway_cpu,
    })
}

/// CPU time of `watch` so far; nothing to read without a process.
fn cpu_of(watch: Option<Pid>) -> BoxResult<Ticks> {
    watch.map_or(Ok(Ticks::default()), Pid::cpu_ticks)
}

/// Memory of `watch` now; zeros without a process.
fn mem_of(watch: Option<Pid>) -> BoxResult<Mem> {
    watch.map_or(Ok(Mem::default()), Pid::mem)
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Result of a throughput phase.
#[derive(Debug)]
pub struct ThroughputRun {
    /// Requests completed in the window.
    pub requests: u64,
    /// SSE events received in the window.
    pub events: u64,
    /// Length of the window.
    pub elapsed: Duration,
    /// CPU the watched process used in the window.
    pub cpu: Ticks,
    /// CPU this process (the load generator) used in the window.
    pub self_cpu: Ticks,
    /// Latency under this load.
    pub latency: Percentiles,
    /// Largest memory sample of the watched process during the window.
    pub peak: Mem,
}

/// State shared by the workers of a throughput phase.
#[derive(Debug, Default)]
struct Shared {
    stop: AtomicBool,
    measuring: AtomicBool,
    requests: AtomicU64,
    events: AtomicU64,
}

/// `conns` workers, one connection each, closed loop against `target`; CPU
/// and memory are read from `watch` over the measured window.
pub async fn throughput(
    target: &Target,
    conns: usize,
    bounds: Bounds,
    watch: Option<Pid>,
    errors: &Arc<Errors>,
) -> BoxResult<ThroughputRun> {
    let shared = Arc::new(Shared::default());
    let mut workers = JoinSet::new();
    for _ in 0..conns {
        let (target, shared, errors) = (target.clone(), shared.clone(), errors.clone());
        workers.spawn(async move {
            let mut samples = Vec::new();
            let mut conn = match Conn::open(target.addr).await {
                Ok(c) => c,
                Err(e) => {
                    errors.add("connect", &e);
                    return samples;
                }
            };
            while !shared.stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                match conn.call(&target).await {
                    Ok(events) => {
                        if shared.measuring.load(Ordering::Relaxed) {
                            shared.requests.fetch_add(1, Ordering::Relaxed);
                            shared.events.fetch_add(events, Ordering::Relaxed);
                            samples.push(nanos(t.elapsed()));
                        }
                    }
                    Err(e) => {
                        errors.add("request", &e);
                        match Conn::open(target.addr).await {
                            Ok(c) => conn = c,
                            Err(e) => {
                                errors.add("reconnect", &e);
                                return samples;
                            }
                        }
                    }
                }
            }
            samples
        });
    }
    tokio::time::sleep(bounds.warmup).await;
    let cpu0 = cpu_of(watch)?;
    let self0 = self_cpu_ticks()?;
    let t0 = Instant::now();
    shared.measuring.store(true, Ordering::Relaxed);
    let mut peak = mem_of(watch)?;
    while t0.elapsed() < bounds.window
        && shared.requests.load(Ordering::Relaxed) < bounds.max_requests
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mem = mem_of(watch)?;
        if mem.rss_kb > peak.rss_kb {
            peak = mem;
        }
    }
    shared.measuring.store(false, Ordering::Relaxed);
    let elapsed = t0.elapsed();
    let cpu1 = cpu_of(watch)?;
    let self1 = self_cpu_ticks()?;
    let (requests, events) = (
        shared.requests.load(Ordering::Relaxed),
        shared.events.load(Ordering::Relaxed),
    );
    shared.stop.store(true, Ordering::Relaxed);
    let mut samples = Vec::new();
    let joined = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(done) = workers.join_next().await {
            if let Ok(s) = done {
                samples.extend(s);
            }
        }
    })
    .await;
    if joined.is_err() {
        return Err("workers did not finish within 30 s of the end of the window".into());
    }
    Ok(ThroughputRun {
        requests,
        events,
        elapsed,
        cpu: cpu1.since(cpu0),
        self_cpu: self1.since(self0),
        latency: Percentiles::of(&mut samples),
        peak,
    })
}

/// CPU ticks this process used so far.
fn self_cpu_ticks() -> BoxResult<Ticks> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    Ok(crate::stats::stat_cpu_ticks(&stat).ok_or("unreadable /proc/self/stat")?)
}

/// Result of the open-streams phase.
#[derive(Debug)]
pub struct StreamsRun {
    /// Streams that were open together.
    pub open: usize,
    /// Seconds it took to open them all.
    pub open_secs: f64,
    /// Largest memory sample while they were all open.
    pub peak: Mem,
    /// SSE events received in the window.
    pub events: u64,
    /// Length of the window.
    pub elapsed: Duration,
    /// CPU the watched process used in the window.
    pub cpu: Ticks,
}

/// Opens `n` streams against `target` (at most 64 connects in flight), waits
/// (at most `open_within`) until every one has its first bytes, then
/// measures for `window` while they all stay open, then cuts them all.
pub async fn open_streams(
    target: &Target,
    n: usize,
    open_within: Duration,
    window: Duration,
    watch: Pid,
    errors: &Arc<Errors>,
) -> BoxResult<StreamsRun> {
    let opened = Arc::new(AtomicU64::new(0));
    let events = Arc::new(AtomicU64::new(0));
    let gate = Arc::new(tokio::sync::Semaphore::new(64));
    let mut tasks = JoinSet::new();
    let started = Instant::now();
    for _ in 0..n {
        let (target, opened, events, gate, errors) = (
            target.clone(),
            opened.clone(),
            events.clone(),
            gate.clone(),
            errors.clone(),
        );
        tasks.spawn(async move {
            if let Err(e) = hold_stream(&target, &opened, &events, &gate).await {
                errors.add("stream", &e);
            }
        });
    }
    let deadline = started + open_within;
    while (opened.load(Ordering::Relaxed) as usize) < n {
        if Instant::now() > deadline || errors.count() > 0 {
            tasks.abort_all();
            return Err(format!(
                "only {} of {n} streams opened ({} errors)",
                opened.load(Ordering::Relaxed),
                errors.count()
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let open_secs = started.elapsed().as_secs_f64();
    let cpu0 = watch.cpu_ticks()?;
    let events0 = events.load(Ordering::Relaxed);
    let t0 = Instant::now();
    let mut peak = watch.mem()?;
    while t0.elapsed() < window {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mem = watch.mem()?;
        if mem.rss_kb > peak.rss_kb {
            peak = mem;
        }
    }
    let elapsed = t0.elapsed();
    let cpu1 = watch.cpu_ticks()?;
    let events1 = events.load(Ordering::Relaxed);
    // A stream that ended early was counted in `errors` by its task.
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    Ok(StreamsRun {
        open: n,
        open_secs,
        peak,
        events: events1 - events0,
        elapsed,
        cpu: cpu1.since(cpu0),
    })
}

/// One long stream: its connection is driven in this task, so aborting the
/// task closes the socket.
async fn hold_stream(
    target: &Target,
    opened: &AtomicU64,
    events: &AtomicU64,
    gate: &tokio::sync::Semaphore,
) -> BoxResult<()> {
    let permit = gate.acquire().await?;
    let stream = TcpStream::connect(target.addr).await?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::pin!(conn);
    let response = tokio::select! {
        r = sender.send_request(target.request()?) => r?,
        r = &mut conn => return Err(format!("connection closed early: {r:?}").into()),
    };
    if response.status() != StatusCode::OK {
        return Err(format!("status {}", response.status()).into());
    }
    let mut body = response.into_body();
    let mut counter = EventCounter::default();
    let mut permit = Some(permit);
    loop {
        let frame = tokio::select! {
            f = body.frame() => f,
            r = &mut conn => return Err(format!("connection closed mid-stream: {r:?}").into()),
        };
        let Some(frame) = frame else {
            return Err("stream ended before it was cut".into());
        };
        if let Ok(data) = frame?.into_data() {
            let before = counter.events;
            counter.feed(&data);
            events.fetch_add(counter.events - before, Ordering::Relaxed);
            if permit.take().is_some() {
                opened.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// `GET path` on `addr` with `key`, parsed as JSON.
pub async fn get_json(addr: SocketAddr, path: &str, key: &str) -> BoxResult<serde_json::Value> {
    let mut conn = Conn::open(addr).await?;
    conn.sender.ready().await?;
    let req = Request::builder()
        .uri(path)
        .header(header::HOST, addr.to_string())
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .body(Full::new(Bytes::new()))?;
    let response = conn.sender.send_request(req).await?;
    let body = response.into_body().collect().await?.to_bytes();
    Ok(serde_json::from_slice(&body)?)
}

/// POSTs the JSON `body` to `path` with `key`; fails unless it answers 200.
pub async fn post_json(
    addr: SocketAddr,
    path: &str,
    key: &str,
    body: &serde_json::Value,
) -> BoxResult<serde_json::Value> {
    let mut conn = Conn::open(addr).await?;
    conn.sender.ready().await?;
    let req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::HOST, addr.to_string())
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(serde_json::to_vec(body)?)))?;
    let response = conn.sender.send_request(req).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    if status != StatusCode::OK {
        return Err(format!("{path}: {status}: {}", String::from_utf8_lossy(&body)).into());
    }
    Ok(serde_json::from_slice(&body)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_counted_across_splits() {
        let text = b"data: a\n\ndata: b\r\n\r\ndata: [DONE]\n\n";
        for split in 0..text.len() {
            let mut c = EventCounter::default();
            c.feed(&text[..split]);
            c.feed(&text[split..]);
            assert_eq!(c.events, 3, "split at {split}");
        }
    }

    #[test]
    fn tail_keeps_the_last_bytes() {
        let mut tail = Vec::new();
        keep_tail(&mut tail, &[1; 300]);
        keep_tail(&mut tail, b"end");
        assert_eq!(tail.len(), 256);
        assert!(tail.ends_with(b"end"));
    }
}
