//! The mock egress proxy: HTTP `CONNECT` and SOCKS5 handshakes by hand (with
//! and without credentials, IPv4 / domain / IPv6 targets), then a plain
//! HTTP/1.1 request to a mock upstream through the tunnel; and hyper-util's
//! own proxy connectors (what the gateway uses) against it.
#![cfg(test)]

mod common;

use bytes::Bytes;
use common::*;
use gproxy_testkit::{MockProxy, MockUpstream, ProxyKind};
use http::{Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::proxy::{SocksV5, Tunnel};
use hyper_util::client::legacy::connect::{Connect, HttpConnector};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn creds() -> Option<(String, String)> {
    Some(("user".to_owned(), "pass".to_owned()))
}

/// `Proxy-Authorization` for `user:pass`.
const USER_PASS_BASIC: &str = "Basic dXNlcjpwYXNz";

/// Sends a `CONNECT target` and reads the response head byte by byte (so no
/// tunnel byte is consumed); returns the status code and the stream.
async fn http_connect(proxy: &MockProxy, target: &str, auth: Option<&str>) -> (u16, TcpStream) {
    let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
    let mut head = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
    if let Some(auth) = auth {
        head.push_str(&format!("Proxy-Authorization: {auth}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    while !response.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        if stream.read(&mut byte).await.unwrap() == 0 {
            break;
        }
        response.push(byte[0]);
    }
    let text = String::from_utf8(response).unwrap();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad response head: {text:?}"));
    (status, stream)
}

/// SOCKS5 greeting offering `methods`; returns the chosen method.
async fn socks_greet(stream: &mut TcpStream, methods: &[u8]) -> u8 {
    let mut msg = vec![0x05, u8::try_from(methods.len()).unwrap()];
    msg.extend_from_slice(methods);
    stream.write_all(&msg).await.unwrap();
    let mut reply = [0u8; 2];
    stream.read_exact(&mut reply).await.unwrap();
    assert_eq!(reply[0], 0x05);
    reply[1]
}

/// RFC 1929 sub-negotiation; returns the status byte (0 = success).
async fn socks_auth(stream: &mut TcpStream, user: &str, pass: &str) -> u8 {
    let mut msg = vec![0x01, u8::try_from(user.len()).unwrap()];
    msg.extend_from_slice(user.as_bytes());
    msg.push(u8::try_from(pass.len()).unwrap());
    msg.extend_from_slice(pass.as_bytes());
    stream.write_all(&msg).await.unwrap();
    let mut reply = [0u8; 2];
    stream.read_exact(&mut reply).await.unwrap();
    assert_eq!(reply[0], 0x01);
    reply[1]
}

/// A SOCKS5 request with command `cmd` and `address` (ATYP, address, port
/// already encoded); returns the reply code after reading the whole reply.
async fn socks_request(stream: &mut TcpStream, cmd: u8, address: &[u8]) -> u8 {
    let mut msg = vec![0x05, cmd, 0x00];
    msg.extend_from_slice(address);
    stream.write_all(&msg).await.unwrap();
    let mut head = [0u8; 4];
    stream.read_exact(&mut head).await.unwrap();
    assert_eq!((head[0], head[2]), (0x05, 0x00));
    let addr_len = match head[3] {
        0x01 => 4,
        0x04 => 16,
        other => panic!("unexpected bound address type {other}"),
    };
    let mut rest = vec![0u8; addr_len + 2];
    stream.read_exact(&mut rest).await.unwrap();
    head[1]
}

/// A SOCKS5 CONNECT address for `addr` (IPv4 or IPv6).
fn socks_ip(addr: std::net::SocketAddr) -> Vec<u8> {
    let mut out = match addr.ip() {
        std::net::IpAddr::V4(ip) => [&[0x01][..], &ip.octets()].concat(),
        std::net::IpAddr::V6(ip) => [&[0x04][..], &ip.octets()].concat(),
    };
    out.extend_from_slice(&addr.port().to_be_bytes());
    out
}

/// A SOCKS5 CONNECT address for a domain name.
fn socks_domain(name: &str, port: u16) -> Vec<u8> {
    let mut out = vec![0x03, u8::try_from(name.len()).unwrap()];
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(&port.to_be_bytes());
    out
}

/// A non-streamed chat request over an open tunnel; returns the status and
/// the JSON body.
async fn chat_over(stream: TcpStream) -> (u16, Value) {
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let request = Request::post("/v1/chat/completions")
        .header("host", "upstream")
        .header(OPENAI_AUTH.0, OPENAI_AUTH.1)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(chat_body("m", false).to_string())))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap())
}

fn assert_mock_reply(status: u16, body: &Value) {
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["choices"][0]["message"]["content"], "Hello from mock m",
        "{body}"
    );
}

#[tokio::test]
async fn connect_tunnels_to_the_upstream() {
    let up = upstream().await;
    let proxy = MockProxy::start(ProxyKind::HttpConnect, None)
        .await
        .unwrap();
    assert_eq!(proxy.url(), format!("http://{}", proxy.addr()));
    let target = up.addr().to_string();

    let (status, stream) = http_connect(&proxy, &target, None).await;
    assert_eq!(status, 200);
    let (status, body) = chat_over(stream).await;
    assert_mock_reply(status, &body);

    assert_eq!(up.request_count(), 1);
    assert_eq!(up.last_request().unwrap().path, "/v1/chat/completions");
    assert_eq!(proxy.tunnels(), vec![target]);
    assert_eq!(proxy.rejected(), 0);
}

#[tokio::test]
async fn connect_with_credentials_needs_the_right_ones() {
    let up = upstream().await;
    let proxy = MockProxy::start(ProxyKind::HttpConnect, creds())
        .await
        .unwrap();
    let target = up.addr().to_string();

    let (status, _) = http_connect(&proxy, &target, None).await;
    assert_eq!(status, 407);
    // base64("user:wrong")
    let (status, _) = http_connect(&proxy, &target, Some("Basic dXNlcjp3cm9uZw==")).await;
    assert_eq!(status, 407);
    let (status, _) = http_connect(&proxy, &target, Some("Bearer dXNlcjpwYXNz")).await;
    assert_eq!(status, 407);
    assert_eq!(proxy.rejected(), 3);
    assert!(proxy.tunnels().is_empty());

    let (status, stream) = http_connect(&proxy, &target, Some(USER_PASS_BASIC)).await;
    assert_eq!(status, 200);
    let (status, body) = chat_over(stream).await;
    assert_mock_reply(status, &body);
    assert_eq!(proxy.tunnels(), vec![target]);
    assert_eq!(proxy.rejected(), 3);
    assert_eq!(up.request_count(), 1);
}

#[tokio::test]
async fn connect_rejects_malformed_and_unreachable_targets() {
    let proxy = MockProxy::start(ProxyKind::HttpConnect, None)
        .await
        .unwrap();
    let (status, _) = http_connect(&proxy, "no-port", None).await;
    assert_eq!(status, 400);

    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let (status, _) = http_connect(&proxy, &format!("127.0.0.1:{port}"), None).await;
    assert_eq!(status, 502);

    let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
    stream
        .write_all(b"GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n")
        .await
        .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await.unwrap();
    assert!(reply.starts_with("HTTP/1.1 405 "), "{reply}");

    // An endless head is cut off, not buffered.
    let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
    let mut long = b"CONNECT h:1 HTTP/1.1\r\n".to_vec();
    long.extend(std::iter::repeat_n(b'x', 10_000));
    let _ = stream.write_all(&long).await;
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply).await;
    assert!(
        reply.starts_with(b"HTTP/1.1 431 "),
        "{}",
        String::from_utf8_lossy(&reply)
    );

    assert!(proxy.tunnels().is_empty());
    assert_eq!(proxy.rejected(), 0);
}

#[tokio::test]
async fn connect_to_a_domain_name() {
    let up = upstream().await;
    let proxy = MockProxy::start(ProxyKind::HttpConnect, None)
        .await
        .unwrap();
    let target = format!("localhost:{}", up.addr().port());
    let (status, stream) = http_connect(&proxy, &target, None).await;
    assert_eq!(status, 200);
    let (status, body) = chat_over(stream).await;
    assert_mock_reply(status, &body);
    assert_eq!(proxy.tunnels(), vec![target]);
}

#[tokio::test]
async fn socks5_without_auth_tunnels_to_an_ipv4_target() {
    let up = upstream().await;
    let proxy = MockProxy::start(ProxyKind::Socks5, None).await.unwrap();
    assert_eq!(proxy.url(), format!("socks5://{}", proxy.addr()));

    let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(socks_greet(&mut stream, &[0x02, 0x00]).await, 0x00);
    assert_eq!(
        socks_request(&mut stream, 0x01, &socks_ip(up.addr())).await,
        0x00
    );
    let (status, body) = chat_over(stream).await;
    assert_mock_reply(status, &body);

    assert_eq!(proxy.tunnels(), vec![up.addr().to_string()]);
    assert_eq!(up.request_count(), 1);
    assert_eq!(proxy.rejected(), 0);
}

#[tokio::test]
async fn socks5_with_auth_accepts_the_right_pair_only() {
    let up = upstream().await;
    let proxy = MockProxy::start(ProxyKind::Socks5, creds()).await.unwrap();

    // Offering only "no authentication" is refused.
    let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(socks_greet(&mut stream, &[0x00]).await, 0xFF);
    assert_eq!(
        stream.read(&mut [0u8; 1]).await.unwrap(),
        0,
        "closed after 0xFF"
    );

    // A wrong password is refused and the connection closed.
    let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(socks_greet(&mut stream, &[0x00, 0x02]).await, 0x02);
    assert_ne!(socks_auth(&mut stream, "user", "wrong").await, 0x00);
    assert_eq!(
        stream.read(&mut [0u8; 1]).await.unwrap(),
        0,
        "closed after auth failure"
    );
    assert_eq!(proxy.rejected(), 2);
    assert!(proxy.tunnels().is_empty());

    let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(socks_greet(&mut stream, &[0x02]).await, 0x02);
    assert_eq!(socks_auth(&mut stream, "user", "pass").await, 0x00);
    assert_eq!(
        socks_request(&mut stream, 0x01, &socks_ip(up.addr())).await,
        0x00
    );
    let (status, body) = chat_over(stream).await;
    assert_mock_reply(status, &body);
    assert_eq!(proxy.tunnels(), vec![up.addr().to_string()]);
    assert_eq!(proxy.rejected(), 2);
}

#[tokio::test]
async fn socks5_to_a_domain_name() {
    let up = upstream().await;
    let proxy = MockProxy::start(ProxyKind::Socks5, None).await.unwrap();
    let port = up.addr().port();
    let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(socks_greet(&mut stream, &[0x00]).await, 0x00);
    assert_eq!(
        socks_request(&mut stream, 0x01, &socks_domain("localhost", port)).await,
        0x00
    );
    let (status, body) = chat_over(stream).await;
    assert_mock_reply(status, &body);
    assert_eq!(proxy.tunnels(), vec![format!("localhost:{port}")]);
}

#[tokio::test]
async fn socks5_to_an_ipv6_target() {
    let Ok(up) = MockUpstream::start_on("[::1]:0".parse().unwrap()).await else {
        eprintln!("no IPv6 loopback here; skipping");
        return;
    };
    let proxy = MockProxy::start(ProxyKind::Socks5, None).await.unwrap();
    let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(socks_greet(&mut stream, &[0x00]).await, 0x00);
    assert_eq!(
        socks_request(&mut stream, 0x01, &socks_ip(up.addr())).await,
        0x00
    );
    let (status, body) = chat_over(stream).await;
    assert_mock_reply(status, &body);
    assert_eq!(proxy.tunnels(), vec![format!("[::1]:{}", up.addr().port())]);
}

#[tokio::test]
async fn socks5_refuses_other_commands_and_address_types() {
    let up = upstream().await;
    let proxy = MockProxy::start(ProxyKind::Socks5, None).await.unwrap();

    // BIND
    let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(socks_greet(&mut stream, &[0x00]).await, 0x00);
    assert_eq!(
        socks_request(&mut stream, 0x02, &socks_ip(up.addr())).await,
        0x07
    );

    // ATYP 0x09
    let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(socks_greet(&mut stream, &[0x00]).await, 0x00);
    assert_eq!(socks_request(&mut stream, 0x01, &[0x09, 0, 0]).await, 0x08);

    // A closed port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(socks_greet(&mut stream, &[0x00]).await, 0x00);
    assert_eq!(
        socks_request(&mut stream, 0x01, &socks_ip(addr)).await,
        0x05
    );

    assert!(proxy.tunnels().is_empty());
    assert_eq!(up.request_count(), 0);
}

/// A hyper-util client over `connector`, the way the gateway builds it.
async fn chat_via<C>(connector: C, up: &MockUpstream) -> Result<u16, String>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    let client: Client<C, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
    let request = Request::post(format!("{}/v1/chat/completions", up.base_url()))
        .header(OPENAI_AUTH.0, OPENAI_AUTH.1)
        .body(Full::new(Bytes::from(chat_body("m", false).to_string())))
        .unwrap();
    match client.request(request).await {
        Ok(response) => Ok(response.status().as_u16()),
        Err(e) => Err(format!("{e:?}")),
    }
}

/// The TCP connector under the proxy connectors; like the gateway's, it
/// must accept the `socks5://` proxy URI.
fn inner() -> HttpConnector {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http
}

#[tokio::test]
async fn hyper_util_proxy_connectors_work_against_it() {
    let up = upstream().await;
    let http_proxy = MockProxy::start(ProxyKind::HttpConnect, creds())
        .await
        .unwrap();
    let socks_proxy = MockProxy::start(ProxyKind::Socks5, creds()).await.unwrap();
    let proxy_uri = |p: &MockProxy| p.url().parse::<Uri>().unwrap();

    let tunnel =
        Tunnel::new(proxy_uri(&http_proxy), inner()).with_auth(USER_PASS_BASIC.parse().unwrap());
    assert_eq!(chat_via(tunnel, &up).await, Ok(200));
    let socks =
        SocksV5::new(proxy_uri(&socks_proxy), inner()).with_auth("user".into(), "pass".into());
    assert_eq!(chat_via(socks, &up).await, Ok(200));
    assert_eq!(http_proxy.tunnels(), vec![up.addr().to_string()]);
    assert_eq!(socks_proxy.tunnels(), vec![up.addr().to_string()]);

    // Wrong credentials fail the request instead of hanging.
    let tunnel = Tunnel::new(proxy_uri(&http_proxy), inner())
        .with_auth("Basic dXNlcjp3cm9uZw==".parse().unwrap());
    assert!(chat_via(tunnel, &up).await.is_err());
    let socks =
        SocksV5::new(proxy_uri(&socks_proxy), inner()).with_auth("user".into(), "wrong".into());
    assert!(chat_via(socks, &up).await.is_err());
    assert_eq!((http_proxy.rejected(), socks_proxy.rejected()), (1, 1));
    assert_eq!(up.request_count(), 2);
}
