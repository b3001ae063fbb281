//! A minimal egress proxy for tests: HTTP `CONNECT` (RFC 9110 §9.3.6) or
//! SOCKS5 (RFC 1928, with RFC 1929 username/password auth), tunnelling bytes
//! both ways with [`tokio::io::copy_bidirectional`]. It records the target of
//! every tunnel it opened and counts authentication failures, so a test can
//! assert that traffic really went through it.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use gproxy_testkit::{MockProxy, MockUpstream, ProxyKind};
//! let upstream = MockUpstream::start().await?;
//! let proxy = MockProxy::start(ProxyKind::Socks5, None).await?;
//! // start the gateway with `--proxy <proxy.url()>` ...
//! assert!(proxy.tunnels().contains(&upstream.addr().to_string()));
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use crate::lock;

/// Largest `CONNECT` request head (request line and headers) accepted;
/// longer heads get `431`.
const MAX_HEAD: usize = 8 * 1024;

/// Which protocol a [`MockProxy`] speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyKind {
    /// HTTP/1.1 `CONNECT` tunnelling (an `http://` proxy URL).
    HttpConnect,
    /// SOCKS5 `CONNECT` (a `socks5://` proxy URL).
    Socks5,
}

/// State shared between the handle and the connection tasks.
struct State {
    /// The protocol spoken.
    kind: ProxyKind,
    /// Required username and password, if any.
    credentials: Option<(String, String)>,
    /// Tunnel targets as `host:port`, in the order they were opened.
    tunnels: Mutex<Vec<String>>,
    /// Authentication failures.
    rejected: AtomicUsize,
}

impl State {
    /// Counts one authentication failure.
    fn reject(&self) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
    }

    /// Records an opened tunnel.
    fn opened(&self, target: String) {
        lock(&self.tunnels).push(target);
    }
}

/// A running egress proxy on `127.0.0.1`. Dropping it stops the listener
/// and closes every open tunnel.
pub struct MockProxy {
    addr: SocketAddr,
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl fmt::Debug for MockProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockProxy")
            .field("addr", &self.addr)
            .field("kind", &self.state.kind)
            .field("auth", &self.state.credentials.is_some())
            .finish_non_exhaustive()
    }
}

impl MockProxy {
    /// Starts a proxy of `kind` on `127.0.0.1` with an ephemeral port.
    ///
    /// With `credentials`, an HTTP `CONNECT` must carry
    /// `Proxy-Authorization: Basic base64(user:pass)` (otherwise `407`), and
    /// a SOCKS5 client must pick username/password auth (method `0x02`) and
    /// send the right pair (otherwise the proxy refuses and closes). Without
    /// them, SOCKS5 offers only "no authentication" (method `0x00`).
    pub async fn start(
        kind: ProxyKind,
        credentials: Option<(String, String)>,
    ) -> std::io::Result<MockProxy> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            kind,
            credentials,
            tunnels: Mutex::new(Vec::new()),
            rejected: AtomicUsize::new(0),
        });
        let task = tokio::spawn(serve(listener, Arc::clone(&state)));
        Ok(MockProxy { addr, state, task })
    }

    /// The address the proxy listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` or `socks5://127.0.0.1:PORT`, without
    /// credentials.
    pub fn url(&self) -> String {
        let scheme = match self.state.kind {
            ProxyKind::HttpConnect => "http",
            ProxyKind::Socks5 => "socks5",
        };
        format!("{scheme}://{}", self.addr)
    }

    /// Targets tunnelled to, as `host:port` (IPv6 as `[addr]:port`), in the
    /// order the tunnels were opened. Only tunnels whose target connection
    /// succeeded are listed.
    pub fn tunnels(&self) -> Vec<String> {
        lock(&self.state.tunnels).clone()
    }

    /// Authentication failures so far: `CONNECT`s answered `407`, SOCKS5
    /// clients that offered no acceptable method or sent wrong credentials.
    pub fn rejected(&self) -> usize {
        self.state.rejected.load(Ordering::Relaxed)
    }
}

impl Drop for MockProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Accepts connections until the task is aborted; aborting drops the
/// `JoinSet`, which aborts every tunnel too.
async fn serve(listener: TcpListener, state: Arc<State>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _peer)) = accepted else {
                    // Transient accept errors (e.g. EMFILE): back off briefly.
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let state = Arc::clone(&state);
                connections.spawn(async move {
                    // I/O errors (client or target gone) just end the tunnel.
                    let _ = match state.kind {
                        ProxyKind::HttpConnect => http_connect(stream, &state).await,
                        ProxyKind::Socks5 => socks5(stream, &state).await,
                    };
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// Pipes bytes between the client and the target until either side closes.
/// `early` is data the client sent after its handshake that was already
/// read; it goes to the target first.
async fn pipe(mut client: TcpStream, mut target: TcpStream, early: &[u8]) -> std::io::Result<()> {
    let _ = target.set_nodelay(true);
    if !early.is_empty() {
        target.write_all(early).await?;
    }
    tokio::io::copy_bidirectional(&mut client, &mut target).await?;
    Ok(())
}

// ---------------------------------------------------------------- CONNECT --

/// Writes a bodiless HTTP/1.1 response and closes the connection.
async fn http_reply(stream: &mut TcpStream, status: &str, extra: &str) -> std::io::Result<()> {
    let head =
        format!("HTTP/1.1 {status}\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await?;
    stream.shutdown().await
}

/// Serves one HTTP `CONNECT` client.
async fn http_connect(mut stream: TcpStream, state: &State) -> std::io::Result<()> {
    // Read the request head, bounded by MAX_HEAD.
    let mut buf = vec![0u8; MAX_HEAD];
    let mut filled = 0;
    let head_end = loop {
        if let Some(end) = find_head_end(&buf[..filled]) {
            break end;
        }
        if filled == buf.len() {
            return http_reply(&mut stream, "431 Request Header Fields Too Large", "").await;
        }
        let n = stream.read(&mut buf[filled..]).await?;
        if n == 0 {
            return Ok(());
        }
        filled += n;
    };
    let early = buf.get(head_end..filled).unwrap_or_default();
    let Some(head) = buf
        .get(..head_end)
        .and_then(|h| std::str::from_utf8(h).ok())
    else {
        return http_reply(&mut stream, "400 Bad Request", "").await;
    };
    let request = match parse_connect(head) {
        Ok(request) => request,
        Err(status) => return http_reply(&mut stream, status, "").await,
    };

    if let Some((user, pass)) = &state.credentials
        && !basic_auth_matches(request.proxy_authorization, user, pass)
    {
        state.reject();
        return http_reply(
            &mut stream,
            "407 Proxy Authentication Required",
            "Proxy-Authenticate: Basic realm=\"mock\"\r\n",
        )
        .await;
    }

    let Ok(target) = TcpStream::connect((request.host, request.port)).await else {
        return http_reply(&mut stream, "502 Bad Gateway", "").await;
    };
    state.opened(request.authority.to_owned());
    stream
        .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        .await?;
    pipe(stream, target, early).await
}

/// The end of the request head (just past `\r\n\r\n`), if complete.
fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|pos| pos + 4)
}

/// The parts of a `CONNECT` request the proxy uses.
#[derive(Debug, PartialEq, Eq)]
struct ConnectRequest<'a> {
    /// The request target as sent, e.g. `example.com:443`.
    authority: &'a str,
    /// Host without IPv6 brackets.
    host: &'a str,
    /// Port.
    port: u16,
    /// The `Proxy-Authorization` header value, if sent.
    proxy_authorization: Option<&'a str>,
}

/// Parses a request head (without the final empty line); on error returns
/// the status line to answer with.
fn parse_connect(head: &str) -> Result<ConnectRequest<'_>, &'static str> {
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (Some(method), Some(authority), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("400 Bad Request");
    };
    if !version.starts_with("HTTP/1.") {
        return Err("505 HTTP Version Not Supported");
    }
    if method != "CONNECT" {
        return Err("405 Method Not Allowed");
    }
    let Some((host, port)) = parse_authority(authority) else {
        return Err("400 Bad Request");
    };
    let mut proxy_authorization = None;
    for line in lines.filter(|l| !l.is_empty()) {
        let Some((name, value)) = line.split_once(':') else {
            return Err("400 Bad Request");
        };
        if name.eq_ignore_ascii_case("proxy-authorization") {
            proxy_authorization = Some(value.trim());
        }
    }
    Ok(ConnectRequest {
        authority,
        host,
        port,
        proxy_authorization,
    })
}

/// Splits `host:port` or `[v6]:port`; the host comes back without brackets.
fn parse_authority(authority: &str) -> Option<(&str, u16)> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, port) = rest.split_once("]:")?;
        host.parse::<Ipv6Addr>().ok()?;
        (host, port)
    } else {
        let (host, port) = authority.rsplit_once(':')?;
        if host.contains(':') {
            return None;
        }
        (host, port)
    };
    if host.is_empty() || port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((host, port.parse().ok()?))
}

/// Whether a `Proxy-Authorization` value is `Basic base64(user:pass)`.
fn basic_auth_matches(value: Option<&str>, user: &str, pass: &str) -> bool {
    let Some((scheme, token)) = value.and_then(|v| v.split_once(' ')) else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return false;
    }
    base64::engine::general_purpose::STANDARD
        .decode(token.trim())
        .is_ok_and(|decoded| decoded == format!("{user}:{pass}").as_bytes())
}

// ----------------------------------------------------------------- SOCKS5 --

/// SOCKS protocol version.
const SOCKS_VERSION: u8 = 0x05;
/// Method: no authentication required.
const METHOD_NONE: u8 = 0x00;
/// Method: username/password (RFC 1929).
const METHOD_USER_PASS: u8 = 0x02;
/// Method: no acceptable methods.
const METHOD_NO_ACCEPTABLE: u8 = 0xFF;
/// RFC 1929 sub-negotiation version.
const USER_PASS_VERSION: u8 = 0x01;
/// Command: CONNECT.
const CMD_CONNECT: u8 = 0x01;
/// Address type: IPv4.
const ATYP_IPV4: u8 = 0x01;
/// Address type: domain name.
const ATYP_DOMAIN: u8 = 0x03;
/// Address type: IPv6.
const ATYP_IPV6: u8 = 0x04;
/// Reply: succeeded.
const REP_SUCCEEDED: u8 = 0x00;
/// Reply: general SOCKS server failure.
const REP_GENERAL_FAILURE: u8 = 0x01;
/// Reply: host unreachable.
const REP_HOST_UNREACHABLE: u8 = 0x04;
/// Reply: connection refused.
const REP_CONNECTION_REFUSED: u8 = 0x05;
/// Reply: command not supported.
const REP_COMMAND_NOT_SUPPORTED: u8 = 0x07;
/// Reply: address type not supported.
const REP_ADDRESS_TYPE_NOT_SUPPORTED: u8 = 0x08;

/// Reads one byte.
async fn read_u8(stream: &mut TcpStream) -> std::io::Result<u8> {
    let mut byte = [0u8; 1];
    stream.read_exact(&mut byte).await?;
    Ok(byte[0])
}

/// Reads a length-prefixed field (at most 255 bytes).
async fn read_short(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let len = read_u8(stream).await?;
    let mut field = vec![0u8; usize::from(len)];
    stream.read_exact(&mut field).await?;
    Ok(field)
}

/// Writes a SOCKS5 reply with bound address `bound`.
async fn socks_reply(stream: &mut TcpStream, rep: u8, bound: SocketAddr) -> std::io::Result<()> {
    let mut reply = vec![SOCKS_VERSION, rep, 0x00];
    match bound.ip() {
        IpAddr::V4(ip) => {
            reply.push(ATYP_IPV4);
            reply.extend_from_slice(&ip.octets());
        }
        IpAddr::V6(ip) => {
            reply.push(ATYP_IPV6);
            reply.extend_from_slice(&ip.octets());
        }
    }
    reply.extend_from_slice(&bound.port().to_be_bytes());
    stream.write_all(&reply).await
}

/// Writes a failure reply (bound address `0.0.0.0:0`) and closes.
async fn socks_fail(stream: &mut TcpStream, rep: u8) -> std::io::Result<()> {
    socks_reply(stream, rep, SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0))).await?;
    stream.shutdown().await
}

/// Serves one SOCKS5 client.
async fn socks5(mut stream: TcpStream, state: &State) -> std::io::Result<()> {
    // Method negotiation.
    if read_u8(&mut stream).await? != SOCKS_VERSION {
        return Ok(());
    }
    let methods = read_short(&mut stream).await?;
    let wanted = if state.credentials.is_some() {
        METHOD_USER_PASS
    } else {
        METHOD_NONE
    };
    if !methods.contains(&wanted) {
        state.reject();
        stream
            .write_all(&[SOCKS_VERSION, METHOD_NO_ACCEPTABLE])
            .await?;
        return stream.shutdown().await;
    }
    stream.write_all(&[SOCKS_VERSION, wanted]).await?;

    // Username/password sub-negotiation (RFC 1929).
    if let Some((user, pass)) = &state.credentials {
        if read_u8(&mut stream).await? != USER_PASS_VERSION {
            return Ok(());
        }
        let got_user = read_short(&mut stream).await?;
        let got_pass = read_short(&mut stream).await?;
        if got_user != user.as_bytes() || got_pass != pass.as_bytes() {
            state.reject();
            stream.write_all(&[USER_PASS_VERSION, 0x01]).await?;
            return stream.shutdown().await;
        }
        stream.write_all(&[USER_PASS_VERSION, 0x00]).await?;
    }

    // Request: VER CMD RSV ATYP DST.ADDR DST.PORT.
    let mut header = [0u8; 4];
    stream.read_exact(&mut header).await?;
    let [version, command, _reserved, atyp] = header;
    if version != SOCKS_VERSION {
        return Ok(());
    }
    let host = match atyp {
        ATYP_IPV4 => {
            let mut ip = [0u8; 4];
            stream.read_exact(&mut ip).await?;
            Host::Ip(IpAddr::from(ip))
        }
        ATYP_IPV6 => {
            let mut ip = [0u8; 16];
            stream.read_exact(&mut ip).await?;
            Host::Ip(IpAddr::from(ip))
        }
        ATYP_DOMAIN => match String::from_utf8(read_short(&mut stream).await?) {
            Ok(name) if !name.is_empty() => Host::Domain(name),
            _ => return socks_fail(&mut stream, REP_GENERAL_FAILURE).await,
        },
        _ => return socks_fail(&mut stream, REP_ADDRESS_TYPE_NOT_SUPPORTED).await,
    };
    let mut port = [0u8; 2];
    stream.read_exact(&mut port).await?;
    let port = u16::from_be_bytes(port);
    if command != CMD_CONNECT {
        return socks_fail(&mut stream, REP_COMMAND_NOT_SUPPORTED).await;
    }

    let connected = match &host {
        Host::Ip(ip) => TcpStream::connect((*ip, port)).await,
        Host::Domain(name) => TcpStream::connect((name.as_str(), port)).await,
    };
    let target = match connected {
        Ok(target) => target,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            return socks_fail(&mut stream, REP_CONNECTION_REFUSED).await;
        }
        Err(_) => return socks_fail(&mut stream, REP_HOST_UNREACHABLE).await,
    };
    let bound = target
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)));
    state.opened(match &host {
        Host::Ip(ip) => SocketAddr::new(*ip, port).to_string(),
        Host::Domain(name) => format!("{name}:{port}"),
    });
    socks_reply(&mut stream, REP_SUCCEEDED, bound).await?;
    pipe(stream, target, &[]).await
}

/// A SOCKS5 destination host.
enum Host {
    /// `ATYP` IPv4 or IPv6.
    Ip(IpAddr),
    /// `ATYP` domain name.
    Domain(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_heads_parse() {
        let head = "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nproxy-authorization:  Basic dTpw \r\n";
        assert_eq!(
            parse_connect(head),
            Ok(ConnectRequest {
                authority: "example.com:443",
                host: "example.com",
                port: 443,
                proxy_authorization: Some("Basic dTpw"),
            })
        );
        let v6 = parse_connect("CONNECT [::1]:8080 HTTP/1.0\r\n").unwrap();
        assert_eq!(
            (v6.host, v6.port, v6.authority),
            ("::1", 8080, "[::1]:8080")
        );
        assert_eq!(
            parse_connect("GET / HTTP/1.1\r\n"),
            Err("405 Method Not Allowed")
        );
        assert_eq!(
            parse_connect("CONNECT h:1 HTTP/2\r\n"),
            Err("505 HTTP Version Not Supported")
        );
        for bad in [
            "",
            "CONNECT",
            "CONNECT h:1",
            "CONNECT h HTTP/1.1\r\n",
            "CONNECT h: HTTP/1.1\r\n",
            "CONNECT :1 HTTP/1.1\r\n",
            "CONNECT h:99999 HTTP/1.1\r\n",
            "CONNECT h:+1 HTTP/1.1\r\n",
            "CONNECT ::1:1 HTTP/1.1\r\n",
            "CONNECT [nope]:1 HTTP/1.1\r\n",
            "CONNECT h:1 HTTP/1.1 x\r\n",
            "CONNECT h:1 HTTP/1.1\r\nno-colon\r\n",
        ] {
            assert_eq!(parse_connect(bad), Err("400 Bad Request"), "{bad:?}");
        }
    }

    #[test]
    fn basic_auth_is_checked() {
        // base64("user:pass") = dXNlcjpwYXNz
        assert!(basic_auth_matches(
            Some("Basic dXNlcjpwYXNz"),
            "user",
            "pass"
        ));
        assert!(basic_auth_matches(
            Some("basic dXNlcjpwYXNz"),
            "user",
            "pass"
        ));
        assert!(!basic_auth_matches(
            Some("Basic dXNlcjpwYXNz"),
            "user",
            "other"
        ));
        assert!(!basic_auth_matches(
            Some("Bearer dXNlcjpwYXNz"),
            "user",
            "pass"
        ));
        assert!(!basic_auth_matches(Some("Basic !!!"), "user", "pass"));
        assert!(!basic_auth_matches(Some("Basic"), "user", "pass"));
        assert!(!basic_auth_matches(None, "user", "pass"));
    }

    #[test]
    fn head_end_is_found() {
        assert_eq!(find_head_end(b"CONNECT h:1 HTTP/1.1\r\n\r\nrest"), Some(24));
        assert_eq!(find_head_end(b"CONNECT h:1 HTTP/1.1\r\n"), None);
    }
}
