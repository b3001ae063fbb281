//! Test harness: runs the real `gproxy` binary against the testkit mock and
//! talks to it over HTTP.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use bytes::Bytes;
use gproxy_storage::{RequestLog, Storage};
use gproxy_testkit::MockUpstream;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

pub mod oauth;

/// Provider keys the mock sees; user keys clients send.
pub const OPENAI_KEY: &str = "sk-upstream-openai-0001";
pub const CLAUDE_KEY: &str = "sk-ant-upstream-0002";
pub const GEMINI_KEY: &str = "AIza-upstream-0003";
pub const ALICE_KEY: &str = "sk-alice-0123456789abcdef";
pub const ADMIN_KEY: &str = "sk-admin-test-0123456789";

/// The documented config shape, pointed at `mock`, plus `extra` TOML.
pub fn config(mock: &MockUpstream, extra: &str) -> String {
    let base = mock.base_url();
    format!(
        r#"admin_key = "${{TEST_ADMIN_KEY}}"
{extra}

[[providers]]
name = "openai"
base_url = "{base}/v1"
[[providers.credentials]]
api_key = "{OPENAI_KEY}"

[[providers]]
name = "claude"
base_url = "{base}"
[[providers.credentials]]
api_key = "{CLAUDE_KEY}"

[[providers]]
name = "aistudio"
base_url = "{base}"
[[providers.credentials]]
api_key = "{GEMINI_KEY}"

[[users]]
name = "alice"
keys = ["{ALICE_KEY}"]
"#
    )
}

/// The two OpenAI keys of [`two_key_config`].
pub const K1: &str = "sk-upstream-k1-0001";
pub const K2: &str = "sk-upstream-k2-0002";

/// One OpenAI provider with two keys, Claude with one, and `extra` on top
/// (e.g. a `[circuit_breaker]` section).
pub fn two_key_config(mock: &MockUpstream, extra: &str) -> String {
    let base = mock.base_url();
    format!(
        r#"admin_key = "${{TEST_ADMIN_KEY}}"
{extra}

[[providers]]
name = "openai"
base_url = "{base}/v1"
[[providers.credentials]]
name = "k1"
api_key = "{K1}"
[[providers.credentials]]
name = "k2"
api_key = "{K2}"

[[providers]]
name = "claude"
base_url = "{base}"
[[providers.credentials]]
api_key = "{CLAUDE_KEY}"

[[users]]
name = "alice"
keys = ["{ALICE_KEY}"]
"#
    )
}

/// A running gateway process.
pub struct Gateway {
    child: Child,
    pub base: String,
    pub data_dir: PathBuf,
    pub stdout: String,
    stderr_path: PathBuf,
    client: Client<HttpConnector, Full<Bytes>>,
}

/// Starts the binary with `config_text` written into `dir`, and waits for
/// its banner.
pub async fn start(dir: &Path, config_text: &str) -> Gateway {
    start_with(dir, config_text, &[]).await
}

pub async fn start_with(dir: &Path, config_text: &str, args: &[&str]) -> Gateway {
    let (result, _) = spawn(dir, config_text, args).await;
    result.unwrap_or_else(|e| panic!("gateway did not start: {e}"))
}

/// Spawns the binary; returns the gateway, or the exit status and stderr if
/// it exited instead.
pub async fn spawn(dir: &Path, config_text: &str, args: &[&str]) -> (Result<Gateway, String>, ()) {
    spawn_env(dir, config_text, args, &[]).await
}

/// Like [`spawn`], with extra environment variables for the process.
pub async fn spawn_env(
    dir: &Path,
    config_text: &str,
    args: &[&str],
    envs: &[(&str, &str)],
) -> (Result<Gateway, String>, ()) {
    spawn_through(dir, config_text, args, envs, &[]).await
}

/// Like [`spawn_env`], the binary started through `wrapper` (a program
/// and its arguments that end by running the binary with the arguments
/// after them, e.g. `sh -c '... exec "$0" "$@"'`).
pub async fn spawn_through(
    dir: &Path,
    config_text: &str,
    args: &[&str],
    envs: &[(&str, &str)],
    wrapper: &[&str],
) -> (Result<Gateway, String>, ()) {
    let config_path = dir.join("gproxy.toml");
    std::fs::write(&config_path, config_text).unwrap();
    let data_dir = dir.join("data");
    let stderr_path = dir.join(format!("stderr-{}.log", rand_suffix()));
    let stderr = std::fs::File::create(&stderr_path).unwrap();
    let binary = env!("CARGO_BIN_EXE_gproxy");
    let mut command = match wrapper.split_first() {
        Some((program, wrapper_args)) => {
            let mut c = Command::new(program);
            c.args(wrapper_args).arg(binary);
            c
        }
        None => Command::new(binary),
    };
    command
        .arg("--port")
        .arg("0")
        .arg("--data-dir")
        .arg(&data_dir)
        .arg("--config")
        .arg(&config_path)
        .args(args)
        .env("TEST_ADMIN_KEY", ADMIN_KEY)
        .env_remove("GPROXY_ADMIN_KEY")
        .env_remove("GPROXY_DSN")
        .env_remove("GPROXY_PROXY")
        .env("GPROXY_LOG", "info")
        .envs(envs.iter().copied())
        .stderr(stderr);
    (attach(command, data_dir, stderr_path).await, ())
}

/// Starts `command` (the binary, configured by the caller; stderr already
/// redirected to `stderr_path`) and waits for its banner: the gateway, or
/// the exit status and stderr if it exited instead.
pub async fn attach(
    mut command: Command,
    data_dir: PathBuf,
    stderr_path: PathBuf,
) -> Result<Gateway, String> {
    let mut child = command
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut banner = String::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let base = loop {
        let mut line = String::new();
        let read = tokio::time::timeout_at(deadline.into(), stdout.read_line(&mut line)).await;
        match read {
            Ok(Ok(0)) | Err(_) => {
                let status = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
                let err = std::fs::read_to_string(&stderr_path).unwrap_or_default();
                return Err(format!(
                    "exited ({status:?}); stdout: {banner}; stderr: {err}"
                ));
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => panic!("reading stdout: {e}"),
        }
        banner.push_str(&line);
        if let Some(pos) = line.find("listening on ") {
            break line[pos + "listening on ".len()..].trim().to_owned();
        }
    };
    // The rest of the banner follows immediately.
    for _ in 0..6 {
        let mut line = String::new();
        match tokio::time::timeout(Duration::from_millis(300), stdout.read_line(&mut line)).await {
            Ok(Ok(n)) if n > 0 => banner.push_str(&line),
            _ => break,
        }
    }
    tokio::spawn(async move {
        let mut sink = Vec::new();
        let _ = stdout.read_to_end(&mut sink).await;
    });
    let client = Client::builder(TokioExecutor::new()).build_http();
    Ok(Gateway {
        child,
        base,
        data_dir,
        stdout: banner,
        stderr_path,
        client,
    })
}

pub fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// A response as the client saw it.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// SSE events (name, data) decoded with the gateway's own decoder.
    pub fn events(&self) -> Vec<(Option<String>, String)> {
        let mut decoder = gproxy_protocol::sse::SseDecoder::new();
        let mut out = Vec::new();
        decoder.feed(&self.body, &mut out).unwrap();
        out.into_iter().map(|e| (e.event, e.data)).collect()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl Gateway {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn request(&self, method: &str, path: &str) -> http::request::Builder {
        Request::builder().method(method).uri(self.url(path))
    }

    /// Sends and reads the whole body.
    pub async fn send(&self, req: http::request::Builder, body: impl Into<Bytes>) -> Reply {
        let response = self
            .client
            .request(req.body(Full::new(body.into())).unwrap())
            .await
            .unwrap();
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    /// `GET /health` with the admin key: the full report.
    pub async fn health(&self) -> Reply {
        let req = self
            .request("GET", "/health")
            .header("authorization", format!("Bearer {ADMIN_KEY}"));
        self.send(req, Bytes::new()).await
    }

    /// The process id of the gateway.
    pub fn pid(&self) -> u32 {
        self.child.id().unwrap()
    }

    /// POSTs JSON with a bearer key.
    pub async fn post(&self, path: &str, key: &str, body: serde_json::Value) -> Reply {
        let req = self
            .request("POST", path)
            .header("authorization", format!("Bearer {key}"))
            .header("content-type", "application/json");
        self.send(req, body.to_string()).await
    }

    /// Calls the admin API (`path` after `/admin/api`) with `auth` as the
    /// bearer credential (or none), a JSON body when given.
    pub async fn api(
        &self,
        method: &str,
        path: &str,
        auth: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> Reply {
        let mut req = self.request(method, &format!("/admin/api{path}"));
        if let Some(key) = auth {
            req = req.header("authorization", format!("Bearer {key}"));
        }
        match body {
            Some(b) => {
                req = req.header("content-type", "application/json");
                self.send(req, b.to_string()).await
            }
            None => self.send(req, Bytes::new()).await,
        }
    }

    /// Sends and returns the response with its body unread.
    pub async fn open(
        &self,
        req: http::request::Builder,
        body: impl Into<Bytes>,
    ) -> http::Response<hyper::body::Incoming> {
        self.client
            .request(req.body(Full::new(body.into())).unwrap())
            .await
            .unwrap()
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// SIGTERM, then wait for a clean exit.
    pub async fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().unwrap();
        std::process::Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status()
            .unwrap();
        tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("gateway did not stop within 30 s")
            .unwrap()
    }

    pub fn dsn(&self) -> String {
        format!("sqlite://{}", self.data_dir.join("gproxy.db").display())
    }

    /// Waits until the log holds at least `n` rows; returns them newest first.
    pub async fn logs(&self, n: usize) -> Vec<RequestLog> {
        let storage = Storage::connect(&self.dsn()).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let rows = storage.list_request_logs(1000).await.unwrap();
            if rows.len() >= n || Instant::now() > deadline {
                return rows;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The log row of one request id.
    pub async fn log_of(&self, request_id: &str) -> RequestLog {
        let deadline = Instant::now() + Duration::from_secs(15);
        let storage = Storage::connect(&self.dsn()).await.unwrap();
        loop {
            let rows = storage.list_request_logs(1000).await.unwrap();
            if let Some(row) = rows.into_iter().find(|r| r.request_id == request_id) {
                return row;
            }
            assert!(Instant::now() < deadline, "no log row for {request_id}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Gateway {
    /// The log row of one request id with its attempts and captured
    /// bodies (waits for the usage sink to write it).
    pub async fn detail_of(&self, request_id: &str) -> gproxy_storage::RequestLogDetail {
        let deadline = Instant::now() + Duration::from_secs(15);
        let storage = Storage::connect(&self.dsn()).await.unwrap();
        loop {
            if let Some(detail) = storage.request_log_detail(request_id).await.unwrap() {
                return detail;
            }
            assert!(Instant::now() < deadline, "no log row for {request_id}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A body of `left` chunks of `size` bytes with no declared length.
pub struct Chunked {
    pub left: usize,
    pub size: usize,
}

impl http_body::Body for Chunked {
    type Data = bytes::Bytes;
    type Error = std::convert::Infallible;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, Self::Error>>> {
        if self.left == 0 {
            return std::task::Poll::Ready(None);
        }
        self.left -= 1;
        std::task::Poll::Ready(Some(Ok(http_body::Frame::data(bytes::Bytes::from(
            vec![b' '; self.size],
        )))))
    }
}

use gproxy_storage::testing::ci;

/// The Redis URL from `GPROXY_TEST_REDIS`, or `None` (skipped) when unset
/// or unreachable (a failure under `CI=true`).
pub async fn redis_url(test: &str) -> Option<String> {
    let Ok(url) = std::env::var("GPROXY_TEST_REDIS") else {
        assert!(!ci(), "CI=true but GPROXY_TEST_REDIS is not set");
        println!("skipped: {test}: GPROXY_TEST_REDIS is not set");
        return None;
    };
    let ping = async {
        let client = redis::Client::open(url.as_str()).ok()?;
        let mut conn = client.get_multiplexed_async_connection().await.ok()?;
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .ok()
    };
    if tokio::time::timeout(Duration::from_secs(2), ping)
        .await
        .ok()
        .flatten()
        .is_none()
    {
        assert!(!ci(), "CI=true but Redis at {url} is unreachable");
        println!("skipped: {test}: Redis at {url} is unreachable");
        return None;
    }
    Some(url)
}

/// The client's stream, decoded with the client protocol's own decoder and
/// assembled.
pub fn assemble_stream(
    client: gproxy_protocol::Protocol,
    body: &[u8],
    what: &str,
) -> gproxy_protocol::convert::Response {
    let mut decoder = gproxy_protocol::convert::stream_decoder(client);
    let mut events = Vec::new();
    let mut datas: Vec<String> = Vec::new();
    if client == gproxy_protocol::Protocol::Gemini && !body.starts_with(b"data:") {
        let array: Vec<serde_json::Value> = serde_json::from_slice(body).unwrap();
        datas.extend(array.iter().map(serde_json::Value::to_string));
    } else {
        let mut sse = gproxy_protocol::sse::SseDecoder::new();
        let mut out = Vec::new();
        sse.feed(body, &mut out).unwrap();
        out.extend(sse.finish());
        datas.extend(out.into_iter().map(|e| e.data));
    }
    for data in &datas {
        decoder
            .feed(data, &mut events)
            .unwrap_or_else(|e| panic!("{what}: client stream event {data}: {e}"));
    }
    decoder.finish(&mut events);
    assert!(
        matches!(
            events.first(),
            Some(gproxy_protocol::convert::StreamEvent::Start { .. })
        ),
        "{what}: {events:?}"
    );
    let mut asm = gproxy_protocol::convert::Assembler::new();
    for e in events {
        asm.push(e);
    }
    asm.finish()
        .unwrap_or_else(|e| panic!("{what}: stream error {e}"))
}

/// One custom provider per protocol, all on the one mock.
pub fn providers(mock: &MockUpstream) -> String {
    let base = mock.base_url();
    let mut text = config(mock, "");
    for (name, protocol, base_url) in [
        ("up-chat", "openai_chat", format!("{base}/v1")),
        ("up-resp", "openai_responses", format!("{base}/v1")),
        ("up-claude", "claude", base.clone()),
        ("up-gemini", "gemini", base.clone()),
    ] {
        text.push_str(&format!(
            "\n[[providers]]\nname = \"{name}\"\nkind = \"custom\"\nprotocol = \"{protocol}\"\nbase_url = \"{base_url}\"\n[[providers.credentials]]\napi_key = \"sk-{name}\"\n"
        ));
    }
    text
}

pub fn provider_of(protocol: gproxy_protocol::Protocol) -> &'static str {
    match protocol {
        gproxy_protocol::Protocol::OpenAiChat => "up-chat",
        gproxy_protocol::Protocol::OpenAiResponses => "up-resp",
        gproxy_protocol::Protocol::Claude => "up-claude",
        gproxy_protocol::Protocol::Gemini => "up-gemini",
    }
}

/// `GET /v1/gproxy/me` with `key`: what the key sees of itself.
pub async fn me(gw: &Gateway, key: &str) -> serde_json::Value {
    let r = gw
        .send(
            gw.request("GET", "/v1/gproxy/me")
                .header("authorization", format!("Bearer {key}")),
            "",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

/// A relay to the Redis at `url` that holds every answer back for
/// `delay`; its URL.
pub async fn slow_redis(url: &str, delay: Duration) -> String {
    let target = url.trim_start_matches("redis://").trim_end_matches('/');
    let relay = gproxy_testkit::slow_relay(target.to_owned(), delay)
        .await
        .unwrap();
    format!("redis://{relay}")
}

/// Each of `gateways` sent its admissions to Redis in fewer calls than
/// the `at_least` admissions it made (`/health`).
pub async fn assert_grouped(gateways: &[&Gateway], at_least: u64) {
    for gw in gateways {
        let h = gw.health().await.json();
        let seen = &h["spend_controls"]["redis_admissions"];
        let (calls, requests) = (
            seen["calls"].as_u64().unwrap(),
            seen["requests"].as_u64().unwrap(),
        );
        assert!(requests >= at_least, "{seen}");
        assert!(calls < requests, "no request went out with another: {seen}");
    }
}
