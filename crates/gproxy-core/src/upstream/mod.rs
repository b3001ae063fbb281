//! The upstream HTTP client over rustls (ring provider, webpki roots),
//! HTTP/1.1 and HTTP/2 by ALPN, with an optional egress proxy (`http://`
//! CONNECT or `socks5://`). Under the per-core server each thread sends
//! through its own connections ([`pool`]); otherwise hyper-util's pooled
//! client serves every thread.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderValue, Request, Response, Uri};
use http_body_util::Full;
use http_body_util::combinators::UnsyncBoxBody;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::{SocksV5, Tunnel};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;

use gproxy_protocol::url::percent_decode;

use crate::CoreError;

mod h1;
mod pool;

pub use pool::ResponseBody;

/// Upstream client settings.
#[derive(Debug, Clone)]
pub struct UpstreamConfig {
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Egress proxy URL, if any.
    pub proxy: Option<String>,
    /// Idle pooled connections are closed after this long. Default 90 s.
    pub pool_idle_timeout: Duration,
    /// Most idle connections kept per upstream host. Default 256.
    pub pool_max_idle_per_host: usize,
}

impl UpstreamConfig {
    /// Defaults with the given connect timeout and proxy.
    pub fn new(connect_timeout: Duration, proxy: Option<String>) -> Self {
        UpstreamConfig {
            connect_timeout,
            proxy,
            pool_idle_timeout: Duration::from_secs(90),
            pool_max_idle_per_host: 256,
        }
    }
}

/// The error type of streamed bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How TCP connections to upstreams are made.
#[derive(Clone, Debug)]
enum Egress {
    Direct(HttpConnector),
    Http(Tunnel<HttpConnector>),
    Socks(SocksV5<HttpConnector>),
}

impl tower_service::Service<Uri> for Egress {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        match self {
            Egress::Direct(c) => c.poll_ready(cx).map_err(Into::into),
            Egress::Http(c) => c.poll_ready(cx).map_err(Into::into),
            Egress::Socks(c) => c.poll_ready(cx).map_err(Into::into),
        }
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        match self {
            Egress::Direct(c) => {
                let f = c.call(dst);
                Box::pin(async move { f.await.map_err(Into::into) })
            }
            Egress::Http(c) => {
                let f = c.call(with_default_port(dst));
                Box::pin(async move { f.await.map_err(Into::into) })
            }
            Egress::Socks(c) => {
                let f = c.call(with_default_port(dst));
                Box::pin(async move { f.await.map_err(Into::into) })
            }
        }
    }
}

/// `dst` with an explicit port. hyper-util's proxy connectors default a
/// missing port to 443 whatever the scheme, so an `http://host/` upstream
/// would be tunnelled to `host:443`; give it its 80.
fn with_default_port(dst: Uri) -> Uri {
    if dst.port().is_some() || dst.scheme_str() != Some("http") {
        return dst;
    }
    let Some(authority) = dst.host().and_then(|h| format!("{h}:80").parse().ok()) else {
        return dst;
    };
    let mut parts = dst.clone().into_parts();
    parts.authority = Some(authority);
    Uri::from_parts(parts).unwrap_or(dst)
}

/// An upstream request body: a buffered one (every API call), or the
/// client's body streamed through (raw passthrough of uploads).
#[derive(Debug)]
pub enum UpstreamBody {
    /// A complete body.
    Full(Full<Bytes>),
    /// A streamed body.
    Stream(UnsyncBoxBody<Bytes, BoxError>),
}

impl UpstreamBody {
    /// A complete body from bytes.
    pub fn full(bytes: Bytes) -> Self {
        UpstreamBody::Full(Full::new(bytes))
    }
}

impl http_body::Body for UpstreamBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            UpstreamBody::Full(b) => Pin::new(b).poll_frame(cx).map_err(|never| match never {}),
            UpstreamBody::Stream(b) => Pin::new(b).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            UpstreamBody::Full(b) => b.is_end_stream(),
            UpstreamBody::Stream(b) => b.is_end_stream(),
        }
    }

    fn size_hint(&self) -> http_body::SizeHint {
        match self {
            UpstreamBody::Full(b) => b.size_hint(),
            UpstreamBody::Stream(b) => b.size_hint(),
        }
    }
}

/// The shared client. Cheap to clone.
#[derive(Clone, Debug)]
pub struct UpstreamClient {
    /// Swapped whole when the egress proxy or connect timeout changes;
    /// every clone of this handle sees the new client at once.
    client: Arc<arc_swap::ArcSwap<Built>>,
}

type HyperClient = Client<HttpsConnector<Egress>, UpstreamBody>;

/// A client with the settings it was built from, so that a thread can
/// build its own pool of the same client (see [`pool_per_thread`]).
#[derive(Debug)]
struct Built {
    /// Unique in the process: a thread's own pool is kept under it.
    id: u64,
    config: UpstreamConfig,
    client: HyperClient,
}

impl Built {
    fn new(config: &UpstreamConfig) -> Result<Self, CoreError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        Ok(Built {
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            config: config.clone(),
            client: build_client(config)?,
        })
    }
}

static POOL_PER_THREAD: AtomicBool = AtomicBool::new(false);

/// From now on, every thread sends upstream through its own connections
/// ([`pool`]), made with the same settings, instead of the process's
/// shared client. The per-core server (`gproxy_router::serve_per_core`)
/// sets it: a request served on one thread's runtime then finds its
/// upstream connection driven by that same runtime, with no hand-off to
/// another thread and back per request.
pub fn pool_per_thread() {
    POOL_PER_THREAD.store(true, Ordering::Relaxed);
}

/// The upstream connections of the per-core server's pools:
/// `(opened since start, open now)`; `None` under the shared runtime
/// (hyper-util's client counts none).
pub fn connection_counts() -> Option<(u64, u64)> {
    POOL_PER_THREAD
        .load(Ordering::Relaxed)
        .then(pool::connection_counts)
}

/// Why an upstream request got no response.
#[derive(Debug)]
pub struct SendError {
    connect: bool,
    source: BoxError,
}

impl SendError {
    fn connect(source: BoxError) -> Self {
        SendError {
            connect: true,
            source,
        }
    }

    fn send(source: BoxError) -> Self {
        SendError {
            connect: false,
            source,
        }
    }
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.connect {
            "error trying to connect"
        } else {
            "error sending the request"
        })
    }
}

impl std::error::Error for SendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

impl From<hyper_util::client::legacy::Error> for SendError {
    fn from(e: hyper_util::client::legacy::Error) -> Self {
        SendError {
            connect: e.is_connect(),
            source: e.into(),
        }
    }
}

impl UpstreamClient {
    /// Builds the client.
    pub fn new(config: &UpstreamConfig) -> Result<Self, CoreError> {
        Ok(UpstreamClient {
            client: Arc::new(arc_swap::ArcSwap::from_pointee(Built::new(config)?)),
        })
    }

    /// Rebuilds the client for `config`; requests in flight finish on the
    /// old one, new requests take the new one.
    pub fn reconfigure(&self, config: &UpstreamConfig) -> Result<(), CoreError> {
        self.client.store(Arc::new(Built::new(config)?));
        Ok(())
    }

    /// Sends a request; resolves when the response headers arrive.
    pub async fn send(
        &self,
        request: Request<UpstreamBody>,
    ) -> Result<Response<ResponseBody>, SendError> {
        // The response future owns what it needs: the guard is not held
        // across the await.
        let shared = self.client.load();
        if POOL_PER_THREAD.load(Ordering::Relaxed) {
            let origin = pool::origin(shared.id, &shared.config, request.uri())?;
            drop(shared);
            // Boxed, as hyper-util's response future was: held inline, the
            // request's future grew by about 10 KB, copied whole into the
            // router's box on every request (callgrind).
            return Box::pin(pool::send(origin, request)).await;
        }
        let pending = shared.client.request(request);
        drop(shared);
        Ok(pending.await?.map(ResponseBody::hyper))
    }
}

fn build_client(config: &UpstreamConfig) -> Result<HyperClient, CoreError> {
    Ok(Client::builder(TokioExecutor::new())
        .pool_idle_timeout(config.pool_idle_timeout)
        .pool_max_idle_per_host(config.pool_max_idle_per_host)
        .build(build_connector(config)?))
}

/// How connections to upstreams are made: TCP (or through the egress
/// proxy), then TLS for `https://`, offering HTTP/2 and HTTP/1.1.
fn build_connector(config: &UpstreamConfig) -> Result<HttpsConnector<Egress>, CoreError> {
    {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(config.connect_timeout));
        http.set_keepalive(Some(Duration::from_secs(60)));

        let egress = match config.proxy.as_deref() {
            None => Egress::Direct(http),
            Some(proxy) => build_proxy(proxy, http)?,
        };

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| CoreError::Invalid(format!("TLS setup failed: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(egress))
    }
}

fn build_proxy(proxy: &str, http: HttpConnector) -> Result<Egress, CoreError> {
    let uri: Uri = proxy
        .parse()
        .map_err(|e| CoreError::Invalid(format!("invalid proxy URL: {e}")))?;
    let (user, pass) = userinfo(&uri);
    let host = uri.host().unwrap_or_default();
    let scheme = uri.scheme_str().unwrap_or_default();
    let port = uri
        .port_u16()
        .unwrap_or(if scheme == "http" { 80 } else { 1080 });
    let bare: Uri = format!("{scheme}://{host}:{port}")
        .parse()
        .map_err(|e| CoreError::Invalid(format!("invalid proxy URL: {e}")))?;
    match scheme {
        "http" => {
            let mut tunnel = Tunnel::new(bare, http);
            if let Some(user) = user {
                let token = base64::engine::general_purpose::STANDARD
                    .encode(format!("{user}:{}", pass.unwrap_or_default()));
                let value = HeaderValue::try_from(format!("Basic {token}"))
                    .map_err(|_| CoreError::Invalid("invalid proxy credentials".into()))?;
                tunnel = tunnel.with_auth(value);
            }
            Ok(Egress::Http(tunnel))
        }
        "socks5" | "socks5h" => {
            let mut socks = SocksV5::new(bare, http).local_dns(scheme == "socks5");
            if let Some(user) = user {
                socks = socks.with_auth(user, pass.unwrap_or_default());
            }
            Ok(Egress::Socks(socks))
        }
        other => Err(CoreError::Invalid(format!(
            "unsupported proxy scheme `{other}` (use http://, socks5:// or socks5h://)"
        ))),
    }
}

fn userinfo(uri: &Uri) -> (Option<String>, Option<String>) {
    let Some(authority) = uri.authority() else {
        return (None, None);
    };
    let Some((info, _)) = authority.as_str().rsplit_once('@') else {
        return (None, None);
    };
    let decode = |s: &str| percent_decode(s).into_owned();
    match info.split_once(':') {
        Some((u, p)) => (Some(decode(u)), Some(decode(p))),
        None => (Some(decode(info)), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxies_of_every_scheme_build() {
        for p in [
            "http://127.0.0.1:3128",
            "http://u:p@h:1",
            "socks5://h:1080",
            "socks5h://u:p@h",
        ] {
            let c = UpstreamConfig::new(Duration::from_secs(1), Some(p.into()));
            assert!(UpstreamClient::new(&c).is_ok(), "{p}");
        }
        let c = UpstreamConfig::new(Duration::from_secs(1), Some("ftp://h:1".into()));
        assert!(UpstreamClient::new(&c).is_err());
    }

    #[test]
    fn plain_http_destinations_get_port_80() {
        let port = |u: &str| with_default_port(u.parse().unwrap()).to_string();
        assert_eq!(port("http://h/v1?x=1"), "http://h:80/v1?x=1");
        assert_eq!(port("http://[::1]"), "http://[::1]:80/");
        assert_eq!(port("http://h:8080"), "http://h:8080/");
        assert_eq!(port("https://h"), "https://h/");
    }

    #[test]
    fn userinfo_is_split() {
        let uri: Uri = "http://user:pa ss@h:1".replace(' ', "").parse().unwrap();
        assert_eq!(userinfo(&uri), (Some("user".into()), Some("pass".into())));
        let uri: Uri = "http://us%3Aer:p%40ss%2F@h:1".parse().unwrap();
        assert_eq!(userinfo(&uri), (Some("us:er".into()), Some("p@ss/".into())));
    }
}
