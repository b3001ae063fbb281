//! `gproxy healthcheck`: asks a running gproxy's `GET /health` and turns
//! the answer into an exit code, for container health checks in images
//! that carry no curl or wget (the Dockerfile's distroless runtime). Plain
//! HTTP/1.1 over a blocking socket: no runtime, no TLS, nothing else to
//! start.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// The port probed when neither `--port` nor `GPROXY_PORT` gives one.
pub const DEFAULT_PORT: u16 = 8787;

/// Most bytes read of the answer: the status line is all that matters.
const MAX_ANSWER: u64 = 1024;

/// Where to probe: the listen address as configured, with a wildcard
/// (`0.0.0.0`, `::`) or no host meaning this machine's loopback.
pub fn target(host: Option<&str>, port: Option<u16>) -> String {
    let port = port.unwrap_or(DEFAULT_PORT);
    let host = match host.map(str::trim) {
        None | Some("" | "0.0.0.0" | "::" | "[::]") => "127.0.0.1",
        Some(h) => h,
    };
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// `GET /health` on `target` (`host:port`) within `timeout` (for each of
/// connect, write and read). `Ok` carries the status line of a 200 answer;
/// anything else (no answer, another status) is an `Err` saying what.
pub fn probe(target: &str, timeout: Duration) -> Result<String, String> {
    let addrs: Vec<SocketAddr> = target
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {target}: {e}"))?
        .collect();
    let mut last = format!("{target} resolves to no address");
    for addr in addrs {
        match ask(addr, target, timeout) {
            Ok(status) => return check(&status),
            Err(e) => last = format!("{addr}: {e}"),
        }
    }
    Err(last)
}

/// One request to `addr`; returns the answer's status line.
fn ask(addr: SocketAddr, host: &str, timeout: Duration) -> std::io::Result<String> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "GET /health HTTP/1.1\r\nHost: {host}\r\nUser-Agent: gproxy-healthcheck\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = Vec::new();
    let mut limited = stream.take(MAX_ANSWER);
    // Read until the status line is complete (or the peer closes).
    let mut buf = [0u8; 256];
    loop {
        let n = limited.read(&mut buf)?;
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
        if answer.contains(&b'\n') {
            break;
        }
    }
    let text = String::from_utf8_lossy(&answer);
    Ok(text.lines().next().unwrap_or_default().trim().to_owned())
}

/// A status line of a 200 answer passes; anything else is the reason.
fn check(status: &str) -> Result<String, String> {
    let mut parts = status.split_whitespace();
    let version = parts.next().unwrap_or_default();
    let code = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/") {
        return Err(format!("not an HTTP answer: {status:?}"));
    }
    if code == "200" {
        Ok(status.to_owned())
    } else {
        Err(format!("/health answered {status:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A one-shot server that reads the request and writes `answer`;
    /// returns its address and the request it read.
    fn serve_once(answer: &'static [u8]) -> (String, std::thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let handle = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 512];
            while !request.ends_with(b"\r\n\r\n") {
                let n = conn.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                request.extend_from_slice(&buf[..n]);
            }
            conn.write_all(answer).unwrap();
            String::from_utf8(request).unwrap()
        });
        (addr, handle)
    }

    #[test]
    fn a_200_passes_and_the_request_is_a_plain_get_of_health() {
        let (addr, server) =
            serve_once(b"HTTP/1.1 200 OK\r\ncontent-length: 15\r\n\r\n{\"status\":\"ok\"}");
        let status = probe(&addr, Duration::from_secs(5)).unwrap();
        assert_eq!(status, "HTTP/1.1 200 OK");
        let request = server.join().unwrap();
        assert!(request.starts_with("GET /health HTTP/1.1\r\n"), "{request}");
        assert!(request.contains(&format!("Host: {addr}\r\n")), "{request}");
    }

    /// The probe's error against a server answering `answer`.
    fn refused(answer: &'static [u8]) -> String {
        let (addr, server) = serve_once(answer);
        let err = probe(&addr, Duration::from_secs(5)).unwrap_err();
        server.join().unwrap();
        err
    }

    #[test]
    fn another_status_fails_naming_it() {
        let err = refused(b"HTTP/1.1 503 Service Unavailable\r\n\r\n");
        assert!(err.contains("503"), "{err}");
    }

    #[test]
    fn garbage_and_silence_fail() {
        let err = refused(b"SSH-2.0-OpenSSH\r\n");
        assert!(err.contains("not an HTTP answer"), "{err}");

        // Accepts but never answers: the read timeout ends the probe.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let started = std::time::Instant::now();
        let err = probe(&addr, Duration::from_millis(300)).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5), "{err}");
        drop(listener);
    }

    #[test]
    fn nothing_listening_fails() {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let err = probe(&format!("127.0.0.1:{port}"), Duration::from_secs(2)).unwrap_err();
        assert!(err.contains("127.0.0.1"), "{err}");
    }

    #[test]
    fn wildcard_hosts_probe_the_loopback() {
        assert_eq!(target(None, None), "127.0.0.1:8787");
        assert_eq!(target(Some("0.0.0.0"), Some(9000)), "127.0.0.1:9000");
        assert_eq!(target(Some("::"), Some(1)), "127.0.0.1:1");
        assert_eq!(target(Some("10.1.2.3"), Some(80)), "10.1.2.3:80");
        assert_eq!(target(Some("::1"), Some(80)), "[::1]:80");
        assert_eq!(target(Some("[::1]"), Some(80)), "[::1]:80");
        assert_eq!(target(Some("localhost"), None), "localhost:8787");
    }
}
