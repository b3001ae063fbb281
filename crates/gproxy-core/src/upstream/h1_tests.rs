use std::collections::VecDeque;

use super::*;

/// A socket that gives the reads it was scripted with, one per read, then
/// its end (or nothing, when `open`); and keeps what is written.
#[derive(Default)]
struct Script {
    reads: VecDeque<Vec<u8>>,
    open: bool,
    written: Vec<u8>,
}

impl Script {
    fn reads<I: IntoIterator<Item = Vec<u8>>>(reads: I) -> Self {
        Script {
            reads: reads.into_iter().collect(),
            ..Script::default()
        }
    }
}

impl Read for Script {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        match self.reads.pop_front() {
            Some(mut read) => {
                let n = read.len().min(buf.remaining());
                buf.put_slice(&read[..n]);
                if n < read.len() {
                    self.reads.push_front(read.split_off(n));
                }
                Poll::Ready(Ok(()))
            }
            None if self.open => Poll::Pending,
            None => Poll::Ready(Ok(())),
        }
    }
}

impl Write for Script {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        // A few bytes at a time: writes are resumed where they stopped.
        let n = buf.len().min(100);
        self.written.extend_from_slice(&buf[..n]);
        Poll::Ready(Ok(n))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Sends a POST of `body` on a connection scripted with `reads`.
async fn post(reads: Vec<Vec<u8>>, body: &[u8]) -> (Conn<Script>, Result<Head, Error>) {
    let mut conn = Conn::new(Script::reads(reads));
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_static("up.example"));
    let head = conn
        .exchange(
            &Method::POST,
            "/v1/x?y=1",
            &headers,
            &Bytes::copy_from_slice(body),
        )
        .await;
    (conn, head)
}

/// The whole body, read as the pool's body reads it.
async fn body(conn: &mut Conn<Script>, mut framing: Framing) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    while let Some(data) = poll_fn(|cx| conn.poll_body(&mut framing, cx)).await {
        out.extend_from_slice(&data?);
    }
    assert_eq!(framing, Framing::Done);
    Ok(out)
}

fn pieces(s: &str) -> Vec<Vec<u8>> {
    vec![s.as_bytes().to_vec()]
}

#[tokio::test]
async fn a_request_goes_out_whole_and_its_answer_is_read() {
    let big = vec![b'b'; JOIN_BODY + 1];
    for payload in [&b"{\"a\":1}"[..], &big] {
        let answer = "HTTP/1.1 201 Created\r\nx-one: 1\r\nx-two: a\r\nX-Two: b\r\ncontent-length: 5\r\n\r\nhello";
        let (mut conn, head) = post(pieces(answer), payload).await;
        let head = head.unwrap();
        let mut expected = format!(
            "POST /v1/x?y=1 HTTP/1.1\r\nhost: up.example\r\ncontent-length: {}\r\n\r\n",
            payload.len()
        )
        .into_bytes();
        expected.extend_from_slice(payload);
        assert_eq!(conn.io.written, expected);
        assert_eq!(head.response.status(), StatusCode::CREATED);
        assert_eq!(head.response.version(), Version::HTTP_11);
        assert_eq!(head.response.headers()["x-one"], "1");
        let twos: Vec<_> = head.response.headers().get_all("x-two").iter().collect();
        assert_eq!(twos, ["a", "b"]);
        assert_eq!(head.framing, Framing::Length(5));
        assert!(head.keep_alive);
        assert_eq!(body(&mut conn, head.framing).await.unwrap(), b"hello");
        assert!(!conn.has_buffered());
    }
}

#[test]
fn the_head_has_a_length_only_when_a_body_needs_one() {
    let head = |method: Method, headers: &[(&'static str, &'static str)], body: usize| {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.append(*k, HeaderValue::from_static(v));
        }
        let mut out = Vec::new();
        encode_head(&method, "/p", &map, body, &mut out);
        String::from_utf8(out).unwrap()
    };
    assert_eq!(head(Method::GET, &[], 0), "GET /p HTTP/1.1\r\n\r\n");
    assert_eq!(
        head(Method::POST, &[], 0),
        "POST /p HTTP/1.1\r\ncontent-length: 0\r\n\r\n"
    );
    assert_eq!(
        head(Method::DELETE, &[("a", "1")], 3),
        "DELETE /p HTTP/1.1\r\na: 1\r\ncontent-length: 3\r\n\r\n"
    );
    // A length given is kept, not doubled.
    assert_eq!(
        head(Method::POST, &[("content-length", "3")], 3),
        "POST /p HTTP/1.1\r\ncontent-length: 3\r\n\r\n"
    );
}

#[tokio::test]
async fn interim_answers_are_skipped() {
    let answer = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
    let (mut conn, head) = post(pieces(answer), b"x").await;
    let head = head.unwrap();
    assert_eq!(head.response.status(), StatusCode::OK);
    assert!(head.response.headers().get("link").is_none());
    assert_eq!(body(&mut conn, head.framing).await.unwrap(), b"ok");
}

#[tokio::test]
async fn every_split_of_a_chunked_answer_reads_the_same() {
    let answer = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n\
                  d\r\ndata: hello\n\n\r\n\
                  10;ext=1\r\ndata: world!!!\n\n\r\n\
                  3\nabc\n\
                  0\r\nx-trailer: t\r\n\r\n";
    let bytes = answer.as_bytes();
    for at in 1..bytes.len() {
        for second in [at, (at + 7).min(bytes.len())] {
            // (An empty read would be the socket's end.)
            let reads = [&bytes[..at], &bytes[at..second], &bytes[second..]]
                .into_iter()
                .filter(|r| !r.is_empty())
                .map(<[u8]>::to_vec)
                .collect();
            let (mut conn, head) = post(reads, b"").await;
            let head = head.unwrap();
            assert_eq!(head.framing, Framing::Chunked(Chunked::Size));
            assert!(head.keep_alive);
            let read = body(&mut conn, head.framing).await.unwrap();
            assert_eq!(
                read, b"data: hello\n\ndata: world!!!\n\nabc",
                "split at {at}, {second}"
            );
            assert!(!conn.has_buffered(), "split at {at}");
        }
    }
}

#[tokio::test]
async fn a_body_until_the_close_ends_with_the_connection() {
    let answer = "HTTP/1.0 200 OK\r\n\r\nall of it";
    let (mut conn, head) = post(vec![answer.as_bytes().to_vec(), b" and more".to_vec()], b"").await;
    let head = head.unwrap();
    assert_eq!(head.framing, Framing::Close);
    assert!(!head.keep_alive);
    assert_eq!(
        body(&mut conn, head.framing).await.unwrap(),
        b"all of it and more"
    );
}

#[tokio::test]
async fn a_body_larger_than_the_buffer_is_read_whole() {
    let payload: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let mut answer = format!(
        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n",
        payload.len()
    )
    .into_bytes();
    answer.extend_from_slice(&payload);
    let reads = answer.chunks(50_000).map(<[u8]>::to_vec).collect();
    let (mut conn, head) = post(reads, b"").await;
    let head = head.unwrap();
    assert_eq!(body(&mut conn, head.framing).await.unwrap(), payload);
    assert!(conn.buf.len() <= MAX_READ.max(MAX_HEAD));
}

#[tokio::test]
async fn a_connection_closed_before_an_answer_leaves_the_request_unsent() {
    let (_, head) = post(vec![], b"x").await;
    assert!(matches!(head, Err(Error::Unsent(None))));
    // Part of a head, then the end: incomplete, not unsent.
    let (_, head) = post(pieces("HTTP/1.1 200 OK\r\ncontent-"), b"x").await;
    assert!(matches!(head, Err(Error::Incomplete(_))), "{head:?}");
}

#[tokio::test]
async fn a_body_cut_short_is_an_error() {
    for answer in [
        "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort",
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n",
    ] {
        let (mut conn, head) = post(pieces(answer), b"").await;
        let head = head.unwrap();
        let mut framing = head.framing;
        let mut error = None;
        while let Some(read) = poll_fn(|cx| conn.poll_body(&mut framing, cx)).await {
            if let Err(e) = read {
                error = Some(e);
                break;
            }
        }
        assert!(
            matches!(error, Some(Error::Incomplete("body"))),
            "{answer}: {error:?}"
        );
    }
}

#[tokio::test]
async fn malformed_answers_are_refused() {
    for answer in [
        "HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab",
        "HTTP/1.1 200 OK\r\ncontent-length: +2\r\n\r\nab",
        "HTTP/1.1 200 OK\r\ncontent-length: 0x2\r\n\r\nab",
        "NOT HTTP\r\n\r\n",
        "HTTP/1.1 101 Switching Protocols\r\nupgrade: x\r\n\r\n",
        "HTTP/1.1 200 OK\r\nbad header\r\n\r\n",
    ] {
        let (_, head) = post(pieces(answer), b"").await;
        assert!(
            matches!(head, Err(Error::Invalid(_))),
            "{answer}: {:?}",
            head.err()
        );
    }
    for answer in [
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nabX\r\n",
    ] {
        let (mut conn, head) = post(pieces(answer), b"").await;
        let mut framing = head.unwrap().framing;
        let read = poll_fn(|cx| conn.poll_body(&mut framing, cx)).await;
        let read = match read {
            Some(Ok(data)) => {
                assert_eq!(data, "ab");
                poll_fn(|cx| conn.poll_body(&mut framing, cx)).await
            }
            other => other,
        };
        assert!(
            matches!(read, Some(Err(Error::Invalid(_)))),
            "{answer}: {read:?}"
        );
    }
    // A head that never ends is bounded.
    let mut endless = b"HTTP/1.1 200 OK\r\n".to_vec();
    while endless.len() < MAX_HEAD + 10 {
        endless.extend_from_slice(b"x-filler: 0123456789012345678901234567890123456789\r\n");
    }
    let (_, head) = post(vec![endless], b"").await;
    assert!(matches!(head, Err(Error::Invalid(_))), "{:?}", head.err());
}

#[test]
fn framing_follows_the_status_the_method_and_the_headers() {
    let headers = |pairs: &[(&'static str, &'static str)]| {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, HeaderValue::from_static(v));
        }
        map
    };
    let ok = StatusCode::OK;
    let length = headers(&[("content-length", "7")]);
    assert_eq!(framing(ok, false, &length).unwrap(), Framing::Length(7));
    assert_eq!(framing(ok, true, &length).unwrap(), Framing::Done);
    assert_eq!(
        framing(StatusCode::NO_CONTENT, false, &length).unwrap(),
        Framing::Done
    );
    assert_eq!(
        framing(StatusCode::NOT_MODIFIED, false, &length).unwrap(),
        Framing::Done
    );
    assert_eq!(
        framing(ok, false, &headers(&[("content-length", "0")])).unwrap(),
        Framing::Done
    );
    assert_eq!(
        framing(ok, false, &headers(&[("content-length", "7, 7")])).unwrap(),
        Framing::Length(7)
    );
    assert_eq!(framing(ok, false, &headers(&[])).unwrap(), Framing::Close);
    // Transfer-Encoding wins over a length; only a last `chunked` is chunked.
    let chunked = headers(&[
        ("transfer-encoding", "gzip, Chunked"),
        ("content-length", "7"),
    ]);
    assert_eq!(
        framing(ok, false, &chunked).unwrap(),
        Framing::Chunked(Chunked::Size)
    );
    let gzip = headers(&[("transfer-encoding", "gzip")]);
    assert_eq!(framing(ok, false, &gzip).unwrap(), Framing::Close);
}

#[test]
fn the_connection_is_kept_as_the_version_and_its_header_say() {
    let headers = |v: Option<&'static str>| {
        let mut map = HeaderMap::new();
        if let Some(v) = v {
            map.insert(CONNECTION, HeaderValue::from_static(v));
        }
        map
    };
    assert!(keep_alive(Version::HTTP_11, &headers(None)));
    assert!(!keep_alive(
        Version::HTTP_11,
        &headers(Some("upgrade, Close"))
    ));
    assert!(!keep_alive(Version::HTTP_10, &headers(None)));
    assert!(keep_alive(Version::HTTP_10, &headers(Some("Keep-Alive"))));
}

#[test]
fn an_idle_connection_is_closed_when_its_socket_ended_or_spoke() {
    let mut open = Conn::new(Script {
        open: true,
        ..Script::default()
    });
    assert!(!open.is_closed());
    assert!(Conn::new(Script::default()).is_closed());
    let mut spoke = Conn::new(Script {
        open: true,
        ..Script::reads(pieces("HTTP/1.1 408 Request Timeout\r\n\r\n"))
    });
    assert!(spoke.is_closed());
    // Something read and not taken: never handed to hyper.
    assert!(spoke.into_io().is_none());
    assert!(open.into_io().is_some());
}

/// A self-signed certificate for `localhost` and `127.0.0.1`, made for
/// these tests only (`testdata/`), and its key.
const TEST_CERT: &str = include_str!("testdata/localhost.crt");
const TEST_KEY: &str = include_str!("testdata/localhost.key");

#[tokio::test]
async fn answers_are_read_over_tls_and_the_connection_kept() {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let cert = CertificateDer::from_pem_slice(TEST_CERT.as_bytes()).unwrap();
    let key = PrivateKeyDer::from_pem_slice(TEST_KEY.as_bytes()).unwrap();
    let mut server = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(server));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let mut tls = acceptor.accept(socket).await.unwrap();
        // Answers each request on the one connection: by length, then
        // chunked (in two writes), then by length again.
        let answers = [
            "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nfirst".to_owned(),
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n6\r\nsecond\r\n".to_owned(),
            format!(
                "HTTP/1.1 200 OK\r\ncontent-length: 20000\r\n\r\n{}",
                "t".repeat(20_000)
            ),
        ];
        let mut request = Vec::new();
        for (i, answer) in answers.iter().enumerate() {
            let mut read = [0u8; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = tls.read(&mut read).await.unwrap();
                assert!(n > 0, "request {i} cut short");
                request.extend_from_slice(&read[..n]);
            }
            request.clear();
            tls.write_all(answer.as_bytes()).await.unwrap();
            if i == 1 {
                tls.flush().await.unwrap();
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                tls.write_all(b"0\r\n\r\n").await.unwrap();
            }
            tls.flush().await.unwrap();
        }
        // Kept open while the client looks at it.
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        drop(tls);
    });

    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let mut client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    client.alpn_protocols = vec![b"http/1.1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(client));
    let socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    let tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), socket)
        .await
        .unwrap();
    let mut conn = Conn::new(hyper_util::rt::TokioIo::new(tls));
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_static("localhost"));
    for expected in ["first".to_owned(), "second".to_owned(), "t".repeat(20_000)] {
        let head = conn
            .exchange(&Method::GET, "/a", &headers, &Bytes::new())
            .await
            .unwrap();
        assert!(head.keep_alive);
        let mut framing = head.framing;
        let mut read = Vec::new();
        while let Some(data) = poll_fn(|cx| conn.poll_body(&mut framing, cx)).await {
            read.extend_from_slice(&data.unwrap());
        }
        assert_eq!(String::from_utf8(read).unwrap(), expected);
        assert!(!conn.is_closed());
    }
}
