//! Mock upstream for tests and benchmarks: one HTTP/1.1 server that speaks
//! the wire formats of OpenAI (Chat Completions, Responses), Anthropic
//! (Messages), Gemini (generateContent / streamGenerateContent) and the
//! OAuth subscription upstreams (Claude Code, Google Code Assist) on one
//! port, records every request and plays scripted [`Fault`]s.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use gproxy_testkit::{Fault, MockUpstream};
//! let upstream = MockUpstream::start().await?;
//! upstream.push_fault(Fault::rate_limited(3));
//! // point the gateway at `upstream.base_url()` ...
//! assert_eq!(upstream.request_count(), 0);
//! # Ok(())
//! # }
//! ```
//!
//! Routes (everything else answers 404 in the error shape of the protocol
//! the path belongs to):
//!
//! | method | path | protocol |
//! |---|---|---|
//! | POST | `/v1/chat/completions` | OpenAI Chat Completions |
//! | POST | `/v1/responses` | OpenAI Responses |
//! | POST | `/v1/messages` | Anthropic Messages |
//! | POST | `/v1/messages/count_tokens` | Anthropic token count (`{"input_tokens": N}`) |
//! | POST | `/v1/responses/input_tokens` | OpenAI token count (`{"object": "response.input_tokens", "input_tokens": N}`) |
//! | POST | `…/models/{model}:countTokens` (every Gemini and Vertex path form) | Gemini token count (`{"totalTokens": N, "promptTokensDetails"}`) |
//! | POST | `/v1beta/models/{model}:generateContent` (also `/v1/models/...`) | Gemini |
//! | POST | `/v1beta/models/{model}:streamGenerateContent` (also `/v1/models/...`) | Gemini |
//! | GET | `/v1/models` | OpenAI model list (Anthropic's when `anthropic-version` is sent) |
//! | GET | `/v1beta/models` | Gemini model list |
//! | POST | `/v1/projects/{p}/locations/{l}/publishers/google/models/{model}:{method}` | Vertex AI (bearer token from `/token`) |
//! | POST | `/v1/publishers/google/models/{model}:{method}` | Vertex AI express mode (API key) |
//! | POST | `/token` | Google OAuth token endpoint: JWT-bearer ([`oauth`]); `authorization_code` and `refresh_token` of Gemini CLI and Antigravity ([`code_assist`]) |
//! | GET | `/o/oauth2/v2/auth` | Google OAuth consent, PKCE optional ([`code_assist`]) |
//! | GET | `/oauth2/v1/userinfo`, `/oauth2/v2/userinfo` | Google user info ([`code_assist`]) |
//! | POST | `/v1internal:{method}` | Google Code Assist: `loadCodeAssist`, `onboardUser`, `generateContent`, `streamGenerateContent`, `countTokens`, `retrieveUserQuota`, `fetchAvailableModels` ([`code_assist`]) |
//! | GET | `/v1internal/{operation}` | Code Assist long-running operation (onboarding) ([`code_assist`]) |
//! | GET | `/oauth/authorize` | Claude Code OAuth consent, PKCE S256 ([`claude_oauth`]) |
//! | POST | `/v1/oauth/token` | Claude Code OAuth token endpoint, rotating refresh tokens ([`claude_oauth`]) |
//! | GET | `/api/oauth/profile`, `/api/oauth/usage` | Claude subscription profile and usage ([`claude_oauth`]) |
//! | GET | `/oauth/authorize` (Codex client id), POST `/oauth/token`, `/api/accounts/deviceauth/*` | Codex OAuth: PKCE login, rotating refresh tokens, device flow ([`codex`]) |
//! | POST | `/backend-api/codex/responses`; GET `/backend-api/codex/models`, `/backend-api/wham/usage` | The Codex backend: always-streamed Responses, models, usage windows ([`codex`]) |
//!
//! Token counts are [`mock_token_count`] of the request body (bytes / 4).
//!
//! Every successful reply reports the token counts in [`usage`]; the reply
//! text is `"Hello from mock <model>"`, split into the configured number of
//! stream deltas (see [`MockUpstream::set_stream_chunks`]); a non-streamed
//! reply carries the concatenation of those deltas.
//!
//! [`MockProxy`] is an egress proxy (HTTP `CONNECT` or SOCKS5) to put
//! between the gateway and the mock upstream; [`slow_relay`] a TCP relay
//! whose answers arrive late.

mod body;
mod claude;
pub mod claude_oauth;
pub mod code_assist;
pub mod codex;
mod count;
pub mod embeddings;
mod fault;
mod gemini;
pub mod oauth;
mod openai;
pub mod proxy;
mod rules;
mod server;
mod slow;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use fault::Fault;
pub use proxy::{MockProxy, ProxyKind};
pub use slow::slow_relay;

/// The usage numbers every successful mock response reports (so tests can
/// assert accounting).
///
/// How they map onto each protocol:
/// - OpenAI Chat: `prompt_tokens = INPUT`, `completion_tokens = OUTPUT`,
///   `total_tokens = INPUT + OUTPUT`,
///   `prompt_tokens_details.cached_tokens = CACHE_READ`,
///   `completion_tokens_details.reasoning_tokens = REASONING`.
/// - OpenAI Responses: `input_tokens = INPUT`, `output_tokens = OUTPUT`,
///   `total_tokens = INPUT + OUTPUT`, `input_tokens_details.cached_tokens =
///   CACHE_READ`, `output_tokens_details.reasoning_tokens = REASONING`.
/// - Anthropic: `input_tokens = INPUT`, `output_tokens = OUTPUT`,
///   `cache_read_input_tokens = CACHE_READ`,
///   `cache_creation_input_tokens = CACHE_WRITE`.
/// - Gemini: `promptTokenCount = INPUT`, `candidatesTokenCount = OUTPUT`,
///   `cachedContentTokenCount = CACHE_READ`, `thoughtsTokenCount =
///   REASONING`, `totalTokenCount = INPUT + OUTPUT + REASONING` (Gemini
///   counts thoughts outside the candidates).
pub mod usage {
    /// Input (prompt) tokens.
    pub const INPUT: u64 = 11;
    /// Output (completion / candidates) tokens.
    pub const OUTPUT: u64 = 7;
    /// Input tokens read from the prompt cache.
    pub const CACHE_READ: u64 = 3;
    /// Input tokens written to the prompt cache (Anthropic only).
    pub const CACHE_WRITE: u64 = 2;
    /// Reasoning (thinking) tokens.
    pub const REASONING: u64 = 5;
}

/// The token count the mock's counting endpoints answer for a request
/// body: its length in bytes divided by four (rounded down).
pub fn mock_token_count(body: &[u8]) -> u64 {
    body.len() as u64 / 4
}

/// One request as the mock upstream received it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// HTTP method, e.g. `"POST"`.
    pub method: String,
    /// Path without the query, e.g. `"/v1/chat/completions"`.
    pub path: String,
    /// Raw query string without the `?`, if any.
    pub query: Option<String>,
    /// All request headers.
    pub headers: HeaderMap,
    /// The full request body.
    pub body: Bytes,
    /// The address the request's connection came from.
    pub peer: std::net::SocketAddr,
}

impl RecordedRequest {
    /// The value of header `name` (case-insensitive), if present and valid
    /// visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body parsed as JSON, or `Value::Null` if it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The value of query parameter `name` (not percent-decoded), if present.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        server::query_param(self.query.as_deref(), name)
    }
}

/// Default number of text deltas per streamed reply.
const DEFAULT_STREAM_CHUNKS: usize = 3;

/// State shared between the handle and the server tasks.
#[derive(Debug)]
pub(crate) struct Shared {
    /// Recorded requests in arrival order.
    requests: Mutex<Vec<RecordedRequest>>,
    /// Pending faults, consumed one per request.
    faults: Mutex<VecDeque<Fault>>,
    /// Whether requests are recorded.
    recording: AtomicBool,
    /// Requests received since start or the last `clear`.
    count: AtomicUsize,
    /// Text deltas per streamed reply.
    stream_chunks: AtomicUsize,
    /// Delay between text deltas, in nanoseconds.
    stream_delay_nanos: AtomicU64,
    /// The OAuth token endpoint's state.
    oauth: Mutex<oauth::OAuthState>,
    /// The claudecode endpoints' state.
    claude_oauth: Mutex<claude_oauth::ClaudeOAuthState>,
    codex: Mutex<codex::CodexState>,
    /// The Google OAuth and Code Assist endpoints' state.
    code_assist: Mutex<code_assist::CodeAssistState>,
    /// Keys answered with 401 (revoked).
    revoked: Mutex<Vec<String>>,
    /// Pending faults of requests presenting one key.
    key_faults: Mutex<std::collections::HashMap<String, VecDeque<Fault>>>,
}

/// Locks `m`, ignoring poisoning (the data stays usable for a test helper).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn new() -> Self {
        Self {
            requests: Mutex::new(Vec::new()),
            faults: Mutex::new(VecDeque::new()),
            recording: AtomicBool::new(true),
            count: AtomicUsize::new(0),
            stream_chunks: AtomicUsize::new(DEFAULT_STREAM_CHUNKS),
            stream_delay_nanos: AtomicU64::new(0),
            oauth: Mutex::new(oauth::OAuthState::default()),
            claude_oauth: Mutex::new(claude_oauth::ClaudeOAuthState::default()),
            codex: Mutex::new(codex::CodexState::default()),
            code_assist: Mutex::new(code_assist::CodeAssistState::default()),
            revoked: Mutex::new(Vec::new()),
            key_faults: Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// Counts one request and records it when recording is on.
    pub(crate) fn record(&self, make: impl FnOnce() -> RecordedRequest) {
        self.count.fetch_add(1, Ordering::Relaxed);
        if self.recording.load(Ordering::Relaxed) {
            let request = make();
            lock(&self.requests).push(request);
        }
    }

    /// Takes the next pending fault, if any.
    pub(crate) fn next_fault(&self) -> Option<Fault> {
        lock(&self.faults).pop_front()
    }

    /// Whether `key` was revoked.
    pub(crate) fn is_revoked(&self, key: &str) -> bool {
        lock(&self.revoked).iter().any(|k| k == key)
    }

    /// Takes the next pending fault for requests presenting `key`, if any.
    pub(crate) fn next_key_fault(&self, key: &str) -> Option<Fault> {
        lock(&self.key_faults).get_mut(key)?.pop_front()
    }

    /// Current stream settings: delta count (at least 1) and delay.
    pub(crate) fn stream_settings(&self) -> (usize, Duration) {
        let chunks = self.stream_chunks.load(Ordering::Relaxed).max(1);
        let delay = Duration::from_nanos(self.stream_delay_nanos.load(Ordering::Relaxed));
        (chunks, delay)
    }
}

/// A running mock upstream. Dropping it stops the server and closes every
/// open connection.
#[derive(Debug)]
pub struct MockUpstream {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl MockUpstream {
    /// Starts a mock upstream on `127.0.0.1` with an ephemeral port.
    pub async fn start() -> std::io::Result<MockUpstream> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Starts a mock upstream on `addr` (port 0 picks a free port).
    pub async fn start_on(addr: SocketAddr) -> std::io::Result<MockUpstream> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new());
        let task = tokio::spawn(server::serve(listener, Arc::clone(&shared)));
        Ok(MockUpstream { addr, shared, task })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://IP:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// All recorded requests, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }

    /// The most recently recorded request.
    pub fn last_request(&self) -> Option<RecordedRequest> {
        lock(&self.shared.requests).last().cloned()
    }

    /// Requests received since start or the last [`clear`](Self::clear),
    /// counted even while recording is off.
    pub fn request_count(&self) -> usize {
        self.shared.count.load(Ordering::Relaxed)
    }

    /// Forgets recorded requests, resets the request count and drops pending
    /// faults.
    pub fn clear(&self) {
        lock(&self.shared.requests).clear();
        lock(&self.shared.faults).clear();
        lock(&self.shared.key_faults).clear();
        self.shared.count.store(0, Ordering::Relaxed);
    }

    /// Queues a fault; faults are consumed first in, first out, one per
    /// incoming request (whatever its route).
    pub fn push_fault(&self, fault: Fault) {
        lock(&self.shared.faults).push_back(fault);
    }

    /// Revokes `key`: from now on every request presenting it (bearer,
    /// `x-api-key`, `x-goog-api-key` or `?key=`) is answered 401 in the
    /// protocol's shape, before any queued fault.
    pub fn revoke_key(&self, key: &str) {
        lock(&self.shared.revoked).push(key.to_owned());
    }

    /// Queues a fault for requests presenting `key` only; these are played
    /// before the shared queue of [`MockUpstream::push_fault`].
    pub fn push_fault_for_key(&self, key: &str, fault: Fault) {
        lock(&self.shared.key_faults)
            .entry(key.to_owned())
            .or_default()
            .push_back(fault);
    }

    /// Turns request recording on (the default) or off (for benchmarks).
    pub fn set_recording(&self, on: bool) {
        self.shared.recording.store(on, Ordering::Relaxed);
    }

    /// Sets the number of text deltas per streamed reply (default 3, at
    /// least 1) and the delay between consecutive deltas (default 0).
    pub fn set_stream_chunks(&self, chunks: usize, delay: Duration) {
        self.shared.stream_chunks.store(chunks, Ordering::Relaxed);
        let nanos = u64::try_from(delay.as_nanos()).unwrap_or(u64::MAX);
        self.shared
            .stream_delay_nanos
            .store(nanos, Ordering::Relaxed);
    }
}

/// The OAuth token endpoint (see [`oauth`]).
impl MockUpstream {
    /// `{base}/token`: the `token_uri` to give a service account.
    pub fn token_url(&self) -> String {
        format!("{}/token", self.base_url())
    }

    /// The JSON key file of the test-only service account for `project`,
    /// pointing at [`MockUpstream::token_url`].
    pub fn service_account_json(&self, project: &str) -> String {
        oauth::service_account_json(project, &self.token_url())
    }

    /// Sets `expires_in` (seconds) of the tokens issued from now on
    /// (default 3600).
    pub fn set_token_expires_in(&self, secs: u64) {
        lock(&self.shared.oauth).expires_in = secs;
    }

    /// Token requests answered with a token (valid JWTs). Not reset by
    /// [`MockUpstream::clear`].
    pub fn token_exchanges(&self) -> usize {
        lock(&self.shared.oauth).exchanges
    }

    /// Token requests refused (bad JWT, grant type or form).
    pub fn token_refusals(&self) -> usize {
        lock(&self.shared.oauth).refused
    }

    /// Every token issued, oldest first.
    pub fn issued_tokens(&self) -> Vec<String> {
        lock(&self.shared.oauth).issued.clone()
    }
}

impl Drop for MockUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}
