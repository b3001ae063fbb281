use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use http_body_util::{BodyExt, Either};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::{mpsc, oneshot};

use super::*;

/// A body fed by the test, frame by frame.
struct Chan(mpsc::Receiver<Result<Bytes, &'static str>>);

impl Body for Chan {
    type Data = Bytes;
    type Error = &'static str;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, &'static str>>> {
        self.0
            .poll_recv(cx)
            .map(|next| next.map(|item| item.map(http_body::Frame::data)))
    }
}

type TestBody = Either<Full<Bytes>, Chan>;

/// `METHOD URI BODY` as the answer's body, and the request's headers
/// named `x-*` echoed, for a request with any kind of body.
async fn echoed<B: Body<Data = Bytes>>(req: Request<B>) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let text = format!(
        "{} {} {}",
        parts.method,
        parts.uri,
        String::from_utf8_lossy(&body)
    );
    let mut response = Response::new(Full::new(Bytes::from(text)));
    for (name, value) in &parts.headers {
        if name.as_str().starts_with("x-") {
            response.headers_mut().insert(name.clone(), value.clone());
        }
    }
    response
}

/// The connection's own path: [`echoed`].
async fn echo(req: Request<Full<Bytes>>) -> Response<TestBody> {
    echoed(req).await.map(Either::Left)
}

/// hyper, as the hand-over builds it: the same echo, marked.
fn hyper_echo(io: Rewind<DuplexStream>) -> Pin<Box<dyn Served>> {
    let service = service_fn(|req: Request<hyper::body::Incoming>| async move {
        let mut response = echoed(req).await;
        response
            .headers_mut()
            .insert("x-served-by", HeaderValue::from_static("hyper"));
        Ok::<_, Infallible>(response)
    });
    Box::pin(
        crate::server::builder(&gproxy_core::settings::EdgeLimits::default())
            .serve_connection(TokioIo::new(io), service)
            .into_owned(),
    )
}

/// The client's end of a connection served on its own task, the sender
/// that starts its graceful close, and the task (the connection's result).
type Spawned = (
    DuplexStream,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), BoxError>>,
);

/// A connection served by `handler`, over a pipe that holds 256 KiB.
fn spawn<F, Fut>(handler: F) -> Spawned
where
    F: FnMut(Request<Full<Bytes>>) -> Fut + Unpin + Send + 'static,
    Fut: Future<Output = Response<TestBody>> + Send + 'static,
{
    spawn_with(256 * 1024, handler)
}

/// [`spawn`] over a pipe that holds `capacity` bytes: writes larger than
/// that are partial.
fn spawn_with<F, Fut>(capacity: usize, handler: F) -> Spawned
where
    F: FnMut(Request<Full<Bytes>>) -> Fut + Unpin + Send + 'static,
    Fut: Future<Output = Response<TestBody>> + Send + 'static,
{
    let (client, server) = tokio::io::duplex(capacity);
    let (close, closing) = oneshot::channel::<()>();
    let conn = EdgeConn::new(server, ConnState::new(), handler, hyper_echo);
    let task = tokio::spawn(async move {
        let mut conn = std::pin::pin!(conn);
        let mut closing = Some(closing);
        std::future::poll_fn(|cx| {
            if let Some(signal) = closing.as_mut()
                && Pin::new(signal).poll(cx).is_ready()
            {
                closing = None;
                conn.as_mut().graceful();
            }
            conn.as_mut().poll_served(cx)
        })
        .await
    });
    (client, close, task)
}

/// One answer read off `client`: its head (lower-cased) and body, read by
/// its `Content-Length` or chunked framing (`None` if it ended early).
async fn answer(client: &mut DuplexStream, buf: &mut Vec<u8>) -> Option<(String, Vec<u8>)> {
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        fill(client, buf).await?;
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_lowercase();
    buf.drain(..head_end);
    if head.starts_with("http/1.1 100") || head.starts_with("http/1.1 204") {
        return Some((head, Vec::new()));
    }
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .map(|n| n.trim().parse::<usize>().unwrap_or(0));
    let mut body = Vec::new();
    if let Some(length) = length {
        while buf.len() < length {
            fill(client, buf).await?;
        }
        body.extend(buf.drain(..length));
    } else if head.contains("transfer-encoding: chunked") {
        loop {
            let line = loop {
                if let Some(at) = buf.windows(2).position(|w| w == b"\r\n") {
                    break at;
                }
                fill(client, buf).await?;
            };
            let size = usize::from_str_radix(std::str::from_utf8(&buf[..line]).ok()?, 16).ok()?;
            while buf.len() < line + 2 + size + 2 {
                fill(client, buf).await?;
            }
            body.extend_from_slice(&buf[line + 2..line + 2 + size]);
            buf.drain(..line + 2 + size + 2);
            if size == 0 {
                break;
            }
        }
    }
    Some((head, body))
}

async fn fill(client: &mut DuplexStream, buf: &mut Vec<u8>) -> Option<()> {
    let mut chunk = [0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), client.read(&mut chunk))
        .await
        .ok()?
        .ok()?;
    (n > 0).then(|| buf.extend_from_slice(&chunk[..n]))
}

/// Whether the server closed its side: no more bytes, the end.
async fn closed(client: &mut DuplexStream) -> bool {
    let mut rest = Vec::new();
    matches!(
        tokio::time::timeout(Duration::from_secs(5), client.read_to_end(&mut rest)).await,
        Ok(Ok(0))
    )
}

fn post(path: &str, body: &str, extra: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nhost: gw\r\ncontent-length: {}\r\n{extra}\r\n{body}",
        body.len()
    )
}

#[tokio::test]
async fn requests_on_one_connection_are_answered_in_order() {
    let (mut client, _close, _task) = spawn(echo);
    let mut buf = Vec::new();
    client
        .write_all(post("/v1/chat/completions", "{\"a\":1}", "x-one: 1\r\n").as_bytes())
        .await
        .unwrap();
    let (head, body) = answer(&mut client, &mut buf).await.unwrap();
    assert!(head.starts_with("http/1.1 200 ok\r\n"), "{head}");
    assert!(head.contains("\r\ncontent-length: 33\r\n"), "{head}");
    assert!(head.contains("\r\ndate: "), "{head}");
    assert!(head.contains("\r\nx-one: 1\r\n"), "{head}");
    assert!(!head.contains("connection: close"), "{head}");
    assert_eq!(body, b"POST /v1/chat/completions {\"a\":1}");
    // Two sent ahead in one write, and a GET without a body.
    let two = format!(
        "{}GET /v1/models?x=1 HTTP/1.1\r\nhost: gw\r\n\r\n",
        post("/a", "first", "")
    );
    client.write_all(two.as_bytes()).await.unwrap();
    let (_, first) = answer(&mut client, &mut buf).await.unwrap();
    let (_, second) = answer(&mut client, &mut buf).await.unwrap();
    assert_eq!(first, b"POST /a first");
    assert_eq!(second, b"GET /v1/models?x=1 ");
}

#[tokio::test]
async fn a_request_split_anywhere_reads_the_same() {
    let request = post("/v1/messages", "{\"model\":\"m\"}", "x-split: yes\r\n");
    for at in 1..request.len() {
        let (mut client, _close, _task) = spawn(echo);
        client.write_all(&request.as_bytes()[..at]).await.unwrap();
        tokio::task::yield_now().await;
        client.write_all(&request.as_bytes()[at..]).await.unwrap();
        let mut buf = Vec::new();
        let (head, body) = answer(&mut client, &mut buf).await.unwrap();
        assert!(head.contains("x-split: yes"), "split at {at}: {head}");
        assert_eq!(
            body, b"POST /v1/messages {\"model\":\"m\"}",
            "split at {at}"
        );
        // Both halves are served here: the second comes at once.
        assert!(!head.contains("x-served-by"), "split at {at}: {head}");
    }
}

#[tokio::test]
async fn a_body_not_sent_within_the_grace_is_read_by_hyper() {
    let (mut client, _close, _task) = spawn(echo);
    let request = post("/late", "{\"late\":true}", "");
    let (head, body) = request.split_at(request.find("\r\n\r\n").unwrap() + 4);
    client.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(BODY_GRACE * 3).await;
    client.write_all(body.as_bytes()).await.unwrap();
    let (head, body) = answer(&mut client, &mut Vec::new()).await.unwrap();
    assert!(head.contains("x-served-by: hyper"), "{head}");
    assert_eq!(body, b"POST /late {\"late\":true}");
}

#[tokio::test]
async fn a_body_asked_for_with_expect_is_read_by_hyper_after_100_continue() {
    let (mut client, _close, _task) = spawn(echo);
    client
        .write_all(b"POST /up HTTP/1.1\r\ncontent-length: 5\r\nexpect: 100-continue\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let (interim, _) = answer(&mut client, &mut buf).await.unwrap();
    assert_eq!(interim, "http/1.1 100 continue\r\n\r\n");
    client.write_all(b"hello").await.unwrap();
    let (head, body) = answer(&mut client, &mut buf).await.unwrap();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("x-served-by: hyper"), "{head}");
    assert_eq!(body, b"POST /up hello");
    // Sent with its body, the request is served here.
    let (mut client, _close, _task) = spawn(echo);
    client
        .write_all(b"POST /up HTTP/1.1\r\ncontent-length: 2\r\nexpect: 100-continue\r\n\r\nhi")
        .await
        .unwrap();
    let (head, body) = answer(&mut client, &mut Vec::new()).await.unwrap();
    assert!(!head.contains("x-served-by"), "{head}");
    assert_eq!(body, b"POST /up hi");
}

#[tokio::test]
async fn connection_close_is_answered_and_then_closed() {
    let (mut client, _close, task) = spawn(echo);
    client
        .write_all(post("/x", "b", "connection: close\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = Vec::new();
    let (head, body) = answer(&mut client, &mut buf).await.unwrap();
    assert!(head.contains("\r\nconnection: close\r\n"), "{head}");
    assert_eq!(body, b"POST /x b");
    assert!(closed(&mut client).await);
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_stream_is_chunked_and_each_part_sent_when_it_comes() {
    let (feed, frames) = mpsc::channel(4);
    let mut frames = Some(frames);
    let (mut client, _close, _task) = spawn(move |_req| {
        let body = Chan(frames.take().unwrap_or_else(|| mpsc::channel(1).1));
        async move {
            let mut response = Response::new(Either::Right(body));
            response.headers_mut().insert(
                "content-type",
                HeaderValue::from_static("text/event-stream"),
            );
            response
        }
    });
    client
        .write_all(post("/s", "", "").as_bytes())
        .await
        .unwrap();
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        fill(&mut client, &mut buf).await.unwrap();
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    assert!(head.contains("transfer-encoding: chunked\r\n"), "{head}");
    buf.drain(..head_end);
    // Each event reaches the client before the next is made.
    for event in ["data: 1\n\n", "data: two\n\n"] {
        feed.send(Ok(Bytes::from(event))).await.unwrap();
        let expected = format!("{:x}\r\n{event}\r\n", event.len());
        while buf.len() < expected.len() {
            fill(&mut client, &mut buf).await.unwrap();
        }
        assert_eq!(std::mem::take(&mut buf), expected.as_bytes());
    }
    drop(feed);
    while buf.len() < 5 {
        fill(&mut client, &mut buf).await.unwrap();
    }
    assert_eq!(buf, b"0\r\n\r\n");
    // The connection serves the next request.
    client
        .write_all(post("/s", "", "").as_bytes())
        .await
        .unwrap();
    let (_, body) = answer(&mut client, &mut Vec::new()).await.unwrap();
    assert!(body.is_empty());
}

#[tokio::test]
async fn large_body_data_is_written_whole_through_partial_writes() {
    let big_a = Bytes::from(vec![b'a'; 10_000]);
    let big_b = Bytes::from(vec![b'b'; 5_000]);
    let frames = [big_a.clone(), Bytes::from_static(b"xyz"), big_b.clone()];
    let expected: Vec<u8> = frames.iter().flat_map(|f| f.iter().copied()).collect();
    let (mut client, _close, _task) = spawn_with(700, move |req: Request<Full<Bytes>>| {
        let frames = frames.clone();
        async move {
            if req.uri().path() == "/full" {
                let whole: Vec<u8> = frames.iter().flat_map(|f| f.iter().copied()).collect();
                return Response::new(Either::Left(Full::new(Bytes::from(whole))));
            }
            let (feed, rx) = mpsc::channel(frames.len());
            for frame in frames {
                feed.try_send(Ok(frame)).unwrap();
            }
            Response::new(Either::Right(Chan(rx)))
        }
    });
    let mut buf = Vec::new();
    for path in ["/stream", "/full", "/stream"] {
        client
            .write_all(format!("GET {path} HTTP/1.1\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let (head, body) = answer(&mut client, &mut buf).await.unwrap();
        let framing = if path == "/full" {
            "content-length: 15003"
        } else {
            "transfer-encoding: chunked"
        };
        assert!(head.contains(framing), "{path}: {head}");
        assert_eq!(body.len(), expected.len(), "{path}");
        assert!(body == expected, "{path}: the body differs");
    }
}

#[tokio::test]
async fn a_stream_that_fails_ends_the_connection_without_its_last_chunk() {
    let (mut client, _close, _task) = spawn(|_req| async {
        let (feed, frames) = mpsc::channel(2);
        feed.try_send(Ok(Bytes::from_static(b"data: 1\n\n")))
            .unwrap();
        feed.try_send(Err("upstream broke")).unwrap();
        Response::new(Either::Right(Chan(frames)))
    });
    client
        .write_all(post("/s", "", "").as_bytes())
        .await
        .unwrap();
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), client.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&rest);
    assert!(text.ends_with("9\r\ndata: 1\n\n\r\n"), "{text}");
}

#[tokio::test]
async fn head_and_no_content_answers_carry_no_body() {
    let (mut client, _close, _task) = spawn(|req: Request<Full<Bytes>>| async move {
        let mut response = Response::new(Either::Left(Full::new(Bytes::from("body"))));
        if req.uri().path() == "/empty" {
            *response.status_mut() = StatusCode::NO_CONTENT;
        }
        response
    });
    client
        .write_all(b"HEAD /x HTTP/1.1\r\n\r\nGET /empty HTTP/1.1\r\n\r\nGET /x HTTP/1.1\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let mut heads = String::new();
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        fill(&mut client, &mut buf).await.unwrap();
    };
    heads.push_str(&String::from_utf8_lossy(&buf[..head_end]));
    buf.drain(..head_end);
    assert!(heads.starts_with("HTTP/1.1 200 OK\r\n"), "{heads}");
    assert!(
        !heads.contains("content-length") && !heads.contains("chunked"),
        "{heads}"
    );
    let (no_content, body) = answer(&mut client, &mut buf).await.unwrap();
    assert!(no_content.starts_with("http/1.1 204"), "{no_content}");
    assert!(body.is_empty());
    let (_, body) = answer(&mut client, &mut buf).await.unwrap();
    assert_eq!(body, b"body");
}

#[tokio::test]
async fn what_only_hyper_serves_is_handed_over_with_the_bytes_read() {
    let cases = [
        // A chunked body, after a request served here.
        format!(
            "{}POST /c HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            post("/first", "1", "")
        ),
        "GET /old HTTP/1.0\r\n\r\n".to_string(),
        "GET /ws HTTP/1.1\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n".to_string(),
        format!(
            "POST /big HTTP/1.1\r\ncontent-length: {}\r\n\r\n{}",
            MAX_BODY + 1,
            "b".repeat(MAX_BODY + 1)
        ),
    ];
    for (i, case) in cases.iter().enumerate() {
        let (mut client, _close, _task) = spawn(echo);
        client.write_all(case.as_bytes()).await.unwrap();
        let mut buf = Vec::new();
        if i == 0 {
            let (head, body) = answer(&mut client, &mut buf).await.unwrap();
            assert!(!head.contains("x-served-by"), "{head}");
            assert_eq!(body, b"POST /first 1");
        }
        let (head, body) = answer(&mut client, &mut buf).await.unwrap_or_default();
        assert!(head.contains("x-served-by: hyper"), "case {i}: {head}");
        let body = String::from_utf8_lossy(&body).to_string();
        let expected = match i {
            0 => "POST /c abc".to_string(),
            1 => "GET /old ".to_string(),
            2 => "GET /ws ".to_string(),
            _ => format!("POST /big {}", "b".repeat(MAX_BODY + 1)),
        };
        assert_eq!(body, expected, "case {i}");
    }
}

#[tokio::test]
async fn malformed_or_oversized_heads_get_hypers_answer() {
    for (request, status) in [
        ("GET / HTTP/1.1\r\nbad header\r\n\r\n".to_string(), "400"),
        (
            format!(
                "GET / HTTP/1.1\r\nx-big: {}\r\n\r\n",
                "a".repeat(MAX_HEADER_BYTES)
            ),
            "431",
        ),
        (
            format!(
                "GET / HTTP/1.1\r\n{}\r\n",
                "x-h: 1\r\n".repeat(MAX_HEADERS + 1)
            ),
            "431",
        ),
    ] {
        let (mut client, _close, _task) = spawn(echo);
        client.write_all(request.as_bytes()).await.unwrap();
        let (head, _) = answer(&mut client, &mut Vec::new())
            .await
            .unwrap_or_default();
        assert!(head.starts_with(&format!("http/1.1 {status}")), "{head}");
    }
}

/// Sets its flag when dropped.
struct Dropped(Arc<AtomicBool>);

impl Drop for Dropped {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn a_client_that_leaves_drops_its_request() {
    let dropped = Arc::new(AtomicBool::new(false));
    let flag = dropped.clone();
    let (mut client, _close, task) = spawn(move |_req| {
        let held = Dropped(flag.clone());
        async move {
            let _held = held;
            std::future::pending::<()>().await;
            Response::new(Either::Left(Full::new(Bytes::new())))
        }
    });
    client
        .write_all(post("/x", "", "").as_bytes())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!dropped.load(Ordering::SeqCst));
    client.shutdown().await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(dropped.load(Ordering::SeqCst));
}

#[tokio::test]
async fn a_graceful_close_ends_an_idle_connection_and_answers_a_busy_one_first() {
    let (_client, close, task) = spawn(echo);
    close.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();

    let (release, released) = oneshot::channel::<()>();
    let mut released = Some(released);
    let (mut client, close, task) = spawn(move |_req| {
        let released = released.take();
        async move {
            if let Some(released) = released {
                let _ = released.await;
            }
            Response::new(Either::Left(Full::new(Bytes::from("done"))))
        }
    });
    client
        .write_all(post("/x", "", "").as_bytes())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    close.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!task.is_finished(), "closed before the answer");
    release.send(()).unwrap();
    let (head, body) = answer(&mut client, &mut Vec::new()).await.unwrap();
    assert!(head.contains("connection: close"), "{head}");
    assert_eq!(body, b"done");
    assert!(closed(&mut client).await);
}

#[test]
fn lengths_are_read_as_plain_decimals_and_chunk_sizes_written_in_hex() {
    assert_eq!(decimal(b"0"), Some(0));
    assert_eq!(decimal(b" 42 "), Some(42));
    for bad in [
        &b""[..],
        b"-1",
        b"+1",
        b"1,1",
        b"0x10",
        b"99999999999999999999",
    ] {
        assert_eq!(decimal(bad), None, "{}", String::from_utf8_lossy(bad));
    }
    let mut out = Vec::new();
    for n in [0, 9, 0x1f40, usize::MAX] {
        push_hex(&mut out, n);
        out.push(b' ');
    }
    assert_eq!(out, format!("0 9 1f40 {:x} ", usize::MAX).as_bytes());
}
