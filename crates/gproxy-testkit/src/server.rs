//! The HTTP/1.1 server: accept loop, per-request plumbing (recording,
//! faults), routing, and helpers shared by the protocol modules.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::body::MockBody;
use crate::fault::{self, Fault, Protocol};
use crate::{
    RecordedRequest, Shared, claude, claude_oauth, code_assist, codex, count, embeddings, gemini,
    oauth, openai,
};

/// Accepts connections until the task is aborted; aborting drops the
/// `JoinSet`, which aborts every connection task too.
pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else {
                    // Transient accept errors (e.g. EMFILE): back off briefly.
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let shared = Arc::clone(&shared);
                connections.spawn(async move {
                    let service = service_fn(move |req| {
                        let shared = Arc::clone(&shared);
                        async move { Ok::<_, Infallible>(handle(&shared, req, peer).await) }
                    });
                    // Connection errors (client gone, cut streams) are expected.
                    let _ = http1::Builder::new()
                        .keep_alive(true)
                        .timer(TokioTimer::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// A request with its body read, as the protocol handlers see it.
#[derive(Debug)]
pub(crate) struct MockRequest {
    /// Method.
    pub method: Method,
    /// Path without query.
    pub path: String,
    /// Raw query.
    pub query: Option<String>,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
    /// Whether `Authorization: Bearer` carries a token the mock's token
    /// endpoint issued.
    pub oauth_bearer: bool,
}

impl MockRequest {
    /// A header value as a string.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The bearer token of `Authorization`, if present and non-empty.
    pub(crate) fn bearer(&self) -> Option<&str> {
        let value = self.header("authorization")?;
        let (scheme, token) = value.split_once(' ')?;
        let token = token.trim();
        (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
    }

    /// The API key the request presents: bearer token, `x-api-key`,
    /// `x-goog-api-key` or the `key` query parameter.
    pub(crate) fn presented_key(&self) -> Option<String> {
        self.bearer()
            .or_else(|| self.header("x-api-key"))
            .or_else(|| self.header("x-goog-api-key"))
            .or_else(|| self.query_param("key"))
            .map(str::to_owned)
    }

    /// A query parameter.
    pub(crate) fn query_param(&self, name: &str) -> Option<&str> {
        query_param(self.query.as_deref(), name)
    }

    /// The body as JSON, or `None` if it is not valid JSON.
    pub(crate) fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// Per-reply settings: stream shape, pending cut and a unique id.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reply {
    /// Text deltas per stream.
    pub chunks: usize,
    /// Delay between deltas.
    pub delay: Duration,
    /// Cut the body after this many events.
    pub cut: Option<usize>,
    /// Unique number for ids.
    pub id: u64,
}

impl Reply {
    /// Applies the pending cut to a finished body.
    pub(crate) fn finish(&self, body: MockBody) -> MockBody {
        match self.cut {
            Some(events) => body.cut(events),
            None => body,
        }
    }

    /// The reply text split into `chunks` deltas; their concatenation is the
    /// non-streamed reply text.
    pub(crate) fn deltas(&self, model: &str) -> Vec<String> {
        split_text(&format!("Hello from mock {model}"), self.chunks)
    }
}

/// Splits `text` into `n` non-empty pieces at char boundaries, padding the
/// text with `.` when it has fewer than `n` chars.
fn split_text(text: &str, n: usize) -> Vec<String> {
    let n = n.max(1);
    let mut chars: Vec<char> = text.chars().collect();
    while chars.len() < n {
        chars.push('.');
    }
    let len = chars.len();
    (0..n)
        .map(|i| chars[i * len / n..(i + 1) * len / n].iter().collect())
        .collect()
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Finds `name` in a raw query string (no percent-decoding).
pub(crate) fn query_param<'a>(query: Option<&'a str>, name: &str) -> Option<&'a str> {
    query?.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then_some(value)
    })
}

/// A 200 JSON reply, cut if a [`Fault::CutStream`] is pending.
pub(crate) fn json_ok(reply: &Reply, value: &Value) -> Response<MockBody> {
    json_ok_bytes(reply, serde_json::to_vec(value).unwrap_or_default())
}

/// A 200 JSON response of `body`'s bytes.
pub(crate) fn json_ok_bytes(reply: &Reply, body: Vec<u8>) -> Response<MockBody> {
    fault::json_reply(StatusCode::OK, reply.finish(MockBody::full(body)))
}

/// An object of `members` in their order. A `json!` object sorts its keys;
/// a vendor writes its own in an order of its own (OpenAI's answer names
/// its `model` before its `choices`), and what reads an answer may read
/// only as far as a member it wants.
pub(crate) fn ordered_object(members: &[(&str, Value)]) -> Vec<u8> {
    let mut out = vec![b'{'];
    for (i, (key, value)) in members.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let _ = serde_json::to_writer(&mut out, key);
        out.push(b':');
        let _ = serde_json::to_writer(&mut out, value);
    }
    out.push(b'}');
    out
}

/// An SSE response with the given body.
pub(crate) fn sse_response(body: MockBody) -> Response<MockBody> {
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// One SSE event with an `event:` line.
pub(crate) fn sse_named(event: &str, data: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(event.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    // Serializing a `Value` cannot fail.
    let _ = serde_json::to_writer(&mut out, data);
    out.extend_from_slice(b"\n\n");
    out
}

/// One SSE event with only a `data:` line, ended by `sep`.
pub(crate) fn sse_data(data: &Value, sep: &[u8]) -> Vec<u8> {
    sse_data_bytes(&serde_json::to_vec(data).unwrap_or_default(), sep)
}

/// A `data:` line of `data`'s bytes followed by `sep`.
pub(crate) fn sse_data_bytes(data: &[u8], sep: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 16);
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(data);
    out.extend_from_slice(sep);
    out
}

/// Serves one request: reads the body, records it, plays a fault if one is
/// pending, then routes.
async fn handle(shared: &Shared, req: Request<Incoming>, peer: SocketAddr) -> Response<MockBody> {
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let request = MockRequest {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers,
        body,
        oauth_bearer: false,
    };
    let oauth_bearer = request
        .bearer()
        .is_some_and(|token| oauth::is_issued(shared, token));
    let request = MockRequest {
        oauth_bearer,
        ..request
    };
    shared.record(|| RecordedRequest {
        method: request.method.as_str().to_owned(),
        path: request.path.clone(),
        query: request.query.clone(),
        headers: request.headers.clone(),
        body: request.body.clone(),
        peer,
    });
    let (chunks, delay) = shared.stream_settings();
    let mut reply = Reply {
        chunks,
        delay,
        cut: None,
        id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
    };
    if let Some(key) = request.presented_key()
        && shared.is_revoked(&key)
    {
        let protocol = Protocol::detect(&request.path, &request.headers);
        return fault::status_reply(protocol, 401, None, None, reply.id);
    }
    let key_fault = request
        .presented_key()
        .and_then(|key| shared.next_key_fault(&key));
    match key_fault.or_else(|| shared.next_fault()) {
        Some(Fault::StatusWithHeaders {
            status,
            headers,
            body,
        }) => {
            let protocol = Protocol::detect(&request.path, &request.headers);
            let mut response =
                fault::status_reply(protocol, status, None, body.as_deref(), reply.id);
            for (name, value) in headers {
                if let (Ok(name), Ok(value)) = (
                    http::HeaderName::from_bytes(name.as_bytes()),
                    HeaderValue::from_str(&value),
                ) {
                    response.headers_mut().insert(name, value);
                }
            }
            return response;
        }
        Some(Fault::Status {
            status,
            retry_after,
            body,
        }) => {
            let protocol = Protocol::detect(&request.path, &request.headers);
            return fault::status_reply(
                protocol,
                status,
                retry_after.as_deref(),
                body.as_deref(),
                reply.id,
            );
        }
        Some(Fault::SlowFirstByte(wait)) => tokio::time::sleep(wait).await,
        Some(Fault::SlowFirstEvent(wait)) => {
            return route(shared, &request, &reply).map(|body| body.hold(wait));
        }
        Some(Fault::CutStream { after_events }) => reply.cut = Some(after_events),
        Some(Fault::Canned { content_type, body }) => {
            return fault::canned_reply(&content_type, &body);
        }
        None => {}
    }
    route(shared, &request, &reply)
}

/// Dispatches to the protocol handlers.
fn route(shared: &Shared, req: &MockRequest, reply: &Reply) -> Response<MockBody> {
    let path = req.path.as_str();
    if req.method == Method::POST {
        if let Some((model, method)) = oauth::vertex_target(path) {
            if !req.oauth_bearer {
                return oauth::unauthenticated();
            }
            return match method {
                "embedContent" => embeddings::gemini_embed(req, reply, model, false),
                "countTokens" => count::gemini(req, true),
                _ => gemini::generate(req, reply, model, method),
            };
        }
        if let Some((model, method)) = oauth::express_target(path) {
            return match method {
                "countTokens" => count::gemini(req, true),
                _ => gemini::generate(req, reply, model, method),
            };
        }
    }
    if let Some(method) = path.strip_prefix("/v1internal:") {
        if req.method == Method::POST {
            return code_assist::method(shared, req, reply, method);
        }
        return not_found(req, reply);
    }
    match (&req.method, path) {
        (&Method::POST, "/token") if code_assist::is_user_grant(req) => {
            code_assist::token(shared, req)
        }
        (&Method::POST, "/token") => oauth::token(shared, req),
        (&Method::GET, p) if code_assist::is_authorize(p) => code_assist::authorize(shared, req),
        (&Method::GET, p) if code_assist::is_userinfo(p) => code_assist::userinfo(shared, req),
        (&Method::GET, p) if p.starts_with("/v1internal/") => {
            code_assist::operation(shared, req, reply)
        }
        (&Method::GET, "/oauth/authorize") if codex::is_codex_authorize(req) => {
            codex::authorize(shared, req)
        }
        (&Method::GET, "/oauth/authorize") => claude_oauth::authorize(shared, req),
        (&Method::POST, "/oauth/token") => codex::token(shared, req),
        (&Method::POST, "/api/accounts/deviceauth/usercode") => codex::device_usercode(shared, req),
        (&Method::POST, "/api/accounts/deviceauth/token") => codex::device_token(shared, req),
        (&Method::POST, "/backend-api/codex/responses") => codex::responses(shared, req, reply),
        (&Method::GET, "/backend-api/codex/models") => codex::models(shared, req),
        (&Method::GET, "/backend-api/wham/usage") => codex::usage(shared, req),
        (&Method::POST, "/v1/oauth/token") => claude_oauth::token(shared, req),
        (&Method::GET, "/api/oauth/profile") => claude_oauth::profile(shared, req, reply),
        (&Method::GET, "/api/oauth/usage") => claude_oauth::usage(shared, req, reply),
        (&Method::POST, "/v1/messages") if claude_oauth::is_oauth(req) => {
            claude_oauth::messages(shared, req, reply, false)
        }
        (&Method::POST, "/v1/messages/count_tokens") if claude_oauth::is_oauth(req) => {
            claude_oauth::messages(shared, req, reply, true)
        }
        (&Method::POST, "/v1/chat/completions") => openai::chat(req, reply),
        (&Method::POST, "/v1/responses") => openai::responses(req, reply),
        (&Method::POST, "/v1/messages") => claude::messages(req, reply),
        (&Method::POST, "/v1/messages/count_tokens") => count::claude(req, reply),
        (&Method::POST, "/v1/responses/input_tokens") => count::openai(req),
        (&Method::POST, "/v1/embeddings") => embeddings::openai_embeddings(req, reply),
        (&Method::GET, "/v1/models") if claude_oauth::is_oauth(req) => {
            claude_oauth::models(shared, req, reply)
        }
        (&Method::GET, "/v1/models") if req.headers.contains_key("anthropic-version") => {
            claude::list_models(req, reply)
        }
        (&Method::GET, "/v1/models") => openai::list_models(req),
        (&Method::GET, "/v1/files") => openai::list_files(req),
        (&Method::GET, "/v1beta/models") => gemini::list_models(req),
        (&Method::POST, _) => match gemini_target(path) {
            Some((model, "embedContent")) => embeddings::gemini_embed(req, reply, model, false),
            Some((model, "batchEmbedContents")) => {
                embeddings::gemini_embed(req, reply, model, true)
            }
            Some((_, "countTokens")) => count::gemini(req, false),
            Some((model, method)) => gemini::generate(req, reply, model, method),
            None => not_found(req, reply),
        },
        _ => not_found(req, reply),
    }
}

/// `(model, method)` of a Gemini `models/{model}:{method}` path.
fn gemini_target(path: &str) -> Option<(&str, &str)> {
    let rest = path
        .strip_prefix("/v1beta/models/")
        .or_else(|| path.strip_prefix("/v1/models/"))?;
    let (model, method) = rest.rsplit_once(':')?;
    (!model.is_empty() && !model.contains('/')).then_some((model, method))
}

/// 404 in the protocol the path belongs to.
pub(crate) fn not_found(req: &MockRequest, reply: &Reply) -> Response<MockBody> {
    let status = StatusCode::NOT_FOUND;
    match Protocol::detect(&req.path, &req.headers) {
        Protocol::OpenAi => {
            let message = format!("Invalid URL ({} {})", req.method, req.path);
            fault::openai_error(status, &message, "invalid_request_error", None, None)
        }
        Protocol::Claude => fault::claude_error(status, "not_found_error", "Not found", reply.id),
        Protocol::Gemini => {
            let message = format!("Requested entity was not found: {}", req.path);
            fault::gemini_error(status, "NOT_FOUND", &message)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_text_concatenates_back() {
        for n in [1, 2, 3, 7, 40] {
            let parts = split_text("Hello from mock m", n);
            assert_eq!(parts.len(), n);
            assert!(parts.iter().all(|p| !p.is_empty()));
            let joined: String = parts.concat();
            assert!(joined.starts_with("Hello from mock m"));
        }
        assert_eq!(split_text("abc", 3), ["a", "b", "c"]);
    }

    #[test]
    fn query_params_are_found() {
        assert_eq!(query_param(Some("alt=sse&key=k"), "key"), Some("k"));
        assert_eq!(query_param(Some("alt=sse"), "key"), None);
        assert_eq!(query_param(None, "key"), None);
        assert_eq!(query_param(Some("flag"), "flag"), Some(""));
    }

    #[test]
    fn gemini_paths_are_parsed() {
        assert_eq!(
            gemini_target("/v1beta/models/gemini-2.5-flash:generateContent"),
            Some(("gemini-2.5-flash", "generateContent"))
        );
        assert_eq!(
            gemini_target("/v1/models/g:streamGenerateContent"),
            Some(("g", "streamGenerateContent"))
        );
        assert_eq!(gemini_target("/v1beta/models/g"), None);
        assert_eq!(gemini_target("/v1/chat/completions"), None);
    }
}
