//! The embedding example (`examples/embed_axum.rs`): gproxy mounted in an
//! axum application next to its own routes, against the testkit's mock
//! upstream. The example's own functions are compiled into this test
//! (`#[path]`), and the example binary `cargo test` builds is run too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use bytes::Bytes;
use gproxy_testkit::MockUpstream;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;

#[path = "../examples/embed_axum.rs"]
#[expect(
    dead_code,
    reason = "the example's `main` runs only as the example binary"
)]
mod example;

const UPSTREAM_KEY: &str = "sk-upstream-embed-0001";

type HttpClient = Client<HttpConnector, Full<Bytes>>;

fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

async fn get(client: &HttpClient, url: &str) -> (StatusCode, String) {
    let req = Request::get(url).body(Full::new(Bytes::new())).unwrap();
    let resp = client.request(req).await.unwrap();
    let status = resp.status();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

async fn chat(
    client: &HttpClient,
    url: &str,
    key: Option<&str>,
    body: &Value,
) -> (StatusCode, http::HeaderMap, Bytes) {
    let mut req = Request::post(url).header("content-type", "application/json");
    if let Some(key) = key {
        req = req.header("authorization", format!("Bearer {key}"));
    }
    let req = req.body(Full::new(Bytes::from(body.to_string()))).unwrap();
    let resp = client.request(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    (
        parts.status,
        parts.headers,
        body.collect().await.unwrap().to_bytes(),
    )
}

fn hello() -> Value {
    json!({
        "model": "openai/gpt-4o-mini",
        "messages": [{"role": "user", "content": "hi"}]
    })
}

/// The application's routes and gproxy's, served together; what reached
/// the upstream; the request log written when the application stops.
#[tokio::test]
async fn the_app_serves_its_routes_and_gproxys_side_by_side() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let upstream = format!("{}/v1", mock.base_url());
    let gateway = example::start_gateway(dir.path(), &upstream, UPSTREAM_KEY)
        .await
        .unwrap();
    let storage = gateway.bootstrapped().storage.clone();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(example::serve(listener, gateway, async {
        let _ = stopped.await;
    }));
    let client = client();

    // The application's own routes.
    assert_eq!(
        get(&client, &format!("{base}/")).await,
        (StatusCode::OK, "my application\n".to_owned())
    );
    assert_eq!(
        get(&client, &format!("{base}/hello/ada")).await,
        (StatusCode::OK, "hello, ada\n".to_owned())
    );

    // gproxy under /llm, with the prefix stripped.
    let (status, body) = get(&client, &format!("{base}/llm/health")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["status"],
        "ok"
    );

    let (status, headers, body) = chat(
        &client,
        &format!("{base}/llm/v1/chat/completions"),
        Some(example::USER_KEY),
        &hello(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body:?}");
    assert_eq!(headers["x-gproxy-provider"], "openai");
    let answer: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(answer["object"], "chat.completion");
    assert_eq!(answer["model"], "openai/gpt-4o-mini");
    assert!(answer["choices"][0]["message"]["content"].is_string());

    // What the upstream got: its own key, the upstream model name.
    let seen = mock.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/v1/chat/completions");
    assert_eq!(
        seen[0].header("authorization"),
        Some(format!("Bearer {UPSTREAM_KEY}").as_str())
    );
    assert_eq!(seen[0].json()["model"], "gpt-4o-mini");

    // A stream passes through the application chunk by chunk to the end.
    let mut streamed = hello();
    streamed["stream"] = json!(true);
    let (status, headers, body) = chat(
        &client,
        &format!("{base}/llm/v1/chat/completions"),
        Some(example::USER_KEY),
        &streamed,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert!(text.contains("chat.completion.chunk"), "{text}");
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");

    // Errors keep gproxy's client-protocol shape; nothing goes upstream.
    let (status, _, body) = chat(
        &client,
        &format!("{base}/llm/v1/chat/completions"),
        None,
        &hello(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let error: Value = serde_json::from_slice(&body).unwrap();
    assert!(error["error"]["message"].is_string(), "{error}");
    assert_eq!(mock.request_count(), 2);

    // Stopping the application flushes gproxy's request logs.
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    let mut logs = storage.list_request_logs(10).await.unwrap();
    logs.sort_by_key(|l| l.stream);
    let served: Vec<_> = logs.iter().filter(|l| l.status == 200).collect();
    assert_eq!(served.len(), 2, "{logs:?}");
    for (log, stream) in served.iter().zip([false, true]) {
        assert_eq!(log.stream, stream);
        assert_eq!(log.provider.as_deref(), Some("openai"));
        assert_eq!(log.path, "/v1/chat/completions");
        assert_eq!(log.user_name.as_deref(), Some("example"));
    }
}

/// The example binary `cargo test` builds next to this test, if it is
/// there: `cargo test -p gproxy-router` builds it, `--test embed_axum`
/// alone does not.
fn example_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    // target/<profile>/deps/embed_axum-<hash> -> target/<profile>/examples/
    let dir = exe.parent()?.parent()?.join("examples");
    let path = dir.join(format!("embed_axum{}", std::env::consts::EXE_SUFFIX));
    path.is_file().then_some(path)
}

/// The built example, run as a user would: arguments, environment, the
/// banner on stdout, one request through the application to the mock.
#[tokio::test]
async fn the_example_binary_runs() {
    let Some(binary) = example_binary() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "the embed_axum example binary was not built (cargo test builds it unless filtered)"
        );
        eprintln!(
            "skipped: the embed_axum example binary is not built; run `cargo test -p gproxy-router` or `cargo build -p gproxy-router --examples`"
        );
        return;
    };
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(binary)
        .arg(format!("{}/v1", mock.base_url()))
        .arg(UPSTREAM_KEY)
        .env("EMBED_DATA_DIR", dir.path().join("data"))
        .env("EMBED_LISTEN", "127.0.0.1:0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let base = tokio::time::timeout(Duration::from_secs(60), async {
        let mut banner = Vec::new();
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(url) = line.strip_prefix("listening on ") {
                return (url.to_owned(), banner);
            }
            banner.push(line);
        }
        panic!("the example exited before listening: {banner:?}");
    })
    .await
    .expect("the example did not start in 60 s");
    let (base, banner) = base;
    assert!(
        banner.iter().any(|l| l.starts_with("gproxy admin key")),
        "{banner:?}"
    );

    let client = client();
    assert_eq!(
        get(&client, &format!("{base}/")).await,
        (StatusCode::OK, "my application\n".to_owned())
    );
    let (status, _, body) = chat(
        &client,
        &format!("{base}/llm/v1/chat/completions"),
        Some(example::USER_KEY),
        &hello(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body:?}");
    assert_eq!(mock.request_count(), 1);
    assert_eq!(
        mock.last_request().unwrap().header("authorization"),
        Some(format!("Bearer {UPSTREAM_KEY}").as_str())
    );
    child.kill().await.unwrap();
}
