//! The web UI through the real binary.
//!
//! - `the_binary_serves_the_ui_by_its_rules`: content types, negotiated
//!   encodings, caching, ETags, deep links, the CSP, and that API paths keep
//!   their JSON errors (or, in a build without the SPA, the page saying how
//!   to get it). Needs nothing but the binary.
//! - `the_console_passes_its_checks_and_the_browser_journey`: the frontend's
//!   `npm run typecheck`, `lint` and `test`, then the Playwright journey
//!   (`frontend/e2e/run.mjs`) on Debian's chromium against this binary and
//!   the testkit mock: setup, sign-in, a custom provider and credential, a
//!   user and key, a proxied call seen in Logs, a disabled key refused, a
//!   viewer without write controls, language, theme, axe-core on every page,
//!   screenshots at 1280 and 390 px under `target/ui-artifacts/`. Without
//!   Node.js, the frontend's `node_modules` or chromium it prints
//!   `skipped: ...` and passes, unless `CI=true`.
#![cfg(test)] // lets clippy see helpers as test code (unwrap/expect allowed)

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::ADMIN_KEY;
use gproxy_testkit::MockUpstream;

fn frontend() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../frontend")
}

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// A fresh install: the admin key and nothing else (no admin user yet).
fn fresh_config() -> String {
    "admin_key = \"${TEST_ADMIN_KEY}\"\n".to_owned()
}

#[tokio::test]
async fn the_binary_serves_the_ui_by_its_rules() {
    let dir = tempfile::tempdir().unwrap();
    let gw = common::start(dir.path(), &fresh_config()).await;
    let get = |path: &str, headers: &[(&str, &str)]| {
        let mut req = gw.request("GET", path);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req
    };

    // API paths keep their JSON errors, whatever the UI holds.
    for path in ["/v1/nope", "/admin/api/nope", "/openai/v1/nope-route"] {
        let r = gw.send(get(path, &[]), "").await;
        assert!(r.status.is_client_error(), "{path}: {}", r.status);
        assert_eq!(r.header("content-type"), Some("application/json"), "{path}");
        assert!(r.header("content-security-policy").is_none(), "{path}");
    }
    // Other methods than GET and HEAD are not the UI's.
    let r = gw.send(gw.request("POST", "/providers"), "").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.header("content-type"), Some("application/json"));

    let index = gw.send(get("/", &[]), "").await;
    assert_eq!(index.status, 200);
    assert_eq!(
        index.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(index.header("cache-control"), Some("no-cache"));
    assert_eq!(
        index.header("content-security-policy"),
        Some(gproxy_ui::CONTENT_SECURITY_POLICY)
    );
    assert_eq!(index.header("x-content-type-options"), Some("nosniff"));
    let html = index.text();
    if html.contains("<meta name=\"gproxy-ui\" content=\"missing\">") {
        assert!(!ci(), "CI=true: the binary was built without the web UI");
        assert!(html.contains("Install Node.js 20 or newer"), "{html}");
        let deep = gw.send(get("/providers/openai", &[]), "").await;
        assert_eq!(deep.text(), html, "deep links explain too");
        eprintln!("skipped the asset checks: this build has no web UI (see the page)");
        return;
    }
    assert!(html.contains("<div id=\"root\">"), "{html}");
    assert!(!html.contains("<script>"), "no inline script: {html}");

    // Deep links are index.html; a provider's own paths are not.
    for path in ["/providers/openai", "/logs", "/users/3"] {
        let r = gw.send(get(path, &[]), "").await;
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.text(), html, "{path}");
    }

    // The hashed script index.html loads: immutable, brotli or gzip by the
    // client's Accept-Encoding, identical once decoded.
    let script = html
        .split("src=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();
    assert!(script.starts_with("/assets/"), "{script}");
    let plain = gw.send(get(&script, &[]), "").await;
    assert_eq!(plain.status, 200);
    assert_eq!(
        plain.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(
        plain.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(plain.header("vary"), Some("accept-encoding"));
    assert!(plain.header("content-encoding").is_none());
    let br = gw
        .send(
            get(&script, &[("accept-encoding", "gzip, deflate, br")]),
            "",
        )
        .await;
    assert_eq!(br.header("content-encoding"), Some("br"));
    let mut decoded = Vec::new();
    std::io::Read::read_to_end(
        &mut brotli::Decompressor::new(&br.body[..], 4096),
        &mut decoded,
    )
    .unwrap();
    assert_eq!(decoded, plain.body);
    let gz = gw
        .send(get(&script, &[("accept-encoding", "gzip")]), "")
        .await;
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    let mut decoded = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(&gz.body[..]),
        &mut decoded,
    )
    .unwrap();
    assert_eq!(decoded, plain.body);
    assert!(br.body.len() < plain.body.len() && gz.body.len() < plain.body.len());

    // Revalidation with the ETag of the representation.
    let etag = br.header("etag").unwrap().to_owned();
    let again = gw
        .send(
            get(
                &script,
                &[("accept-encoding", "br"), ("if-none-match", etag.as_str())],
            ),
            "",
        )
        .await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());

    // HEAD: the headers, no body.
    let head = gw.send(gw.request("HEAD", "/providers"), "").await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(
        head.header("content-length"),
        Some(html.len().to_string().as_str())
    );

    // A missing file is a 404, not the page.
    let missing = gw.send(get("/assets/gone-0000.js", &[]), "").await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
}

/// Why the console checks cannot run here, if they cannot.
fn missing_tools() -> Option<String> {
    let has = |cmd: &str, arg: &str| {
        Command::new(cmd)
            .arg(arg)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !has("node", "--version") || !has("npm", "--version") {
        return Some("no Node.js (node and npm) on PATH".into());
    }
    if !frontend().join("node_modules/.package-lock.json").is_file() {
        return Some("frontend/node_modules is missing (run `npm ci` in frontend/)".into());
    }
    if !Path::new(&chromium()).is_file() {
        return Some(format!(
            "no chromium at {} (apt-get install -y chromium)",
            chromium()
        ));
    }
    None
}

fn chromium() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

/// Runs `npm run <script>` in `frontend/`, failing with its output.
fn npm(script: &str, envs: &[(&str, String)]) {
    let out = Command::new("npm")
        .args(["run", script, "--silent"])
        .current_dir(frontend())
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("run npm");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "npm run {script} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    eprintln!("npm run {script}: ok\n{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_passes_its_checks_and_the_browser_journey() {
    if let Some(why) = missing_tools() {
        assert!(!ci(), "CI=true: the web UI checks need {why}");
        eprintln!("skipped: {why}");
        return;
    }
    npm("typecheck", &[]);
    npm("lint", &[]);
    npm("test", &[]);

    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = common::start(dir.path(), &fresh_config()).await;
    let index = gw.send(gw.request("GET", "/"), "").await;
    if index.text().contains("content=\"missing\"") {
        assert!(!ci(), "CI=true: the binary was built without the web UI");
        eprintln!("skipped: this build has no web UI (GPROXY_UI_SKIP_BUILD or a failed build)");
        return;
    }
    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/ui-artifacts");
    let _ = std::fs::remove_dir_all(&artifacts);
    // The journey runs on a blocking thread: the gateway and the mock keep
    // serving on this runtime meanwhile.
    let envs = vec![
        ("GPROXY_URL", gw.base.clone()),
        ("GPROXY_MOCK_URL", mock.base_url()),
        ("GPROXY_ADMIN_KEY", ADMIN_KEY.to_owned()),
        ("CHROMIUM", chromium()),
        (
            "GPROXY_UI_ARTIFACTS",
            artifacts.to_string_lossy().into_owned(),
        ),
    ];
    tokio::task::spawn_blocking(move || npm("e2e", &envs))
        .await
        .unwrap();
    assert!(
        artifacts.join("providers-desktop.png").is_file()
            && artifacts.join("providers-phone.png").is_file(),
        "screenshots in {}",
        artifacts.display()
    );
    // The proxied calls reached the mock through the provider the journey
    // created, with its configured header.
    let calls: Vec<_> = mock
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/chat/completions"))
        .collect();
    // Four direct calls (one refused before reaching it; one while Logs
    // was live) and the playground's four, one per client protocol, each
    // streamed.
    assert_eq!(calls.len(), 7, "{} chat calls", calls.len());
    assert!(calls.iter().all(|r| r.header("x-e2e") == Some("journey")));
    let streamed = calls
        .iter()
        .filter(|r| r.json()["stream"] == serde_json::json!(true))
        .count();
    assert_eq!(streamed, 4, "the playground streams");
}

/// Log rows of the time-to-interactive fill.
const TTI_ROWS: u64 = 1_000_000;

/// Row `i` of `TTI_ROWS`, spread evenly over the 30 days up to `end`: 8
/// providers, 40 models, 100 users, 3 % errors.
fn tti_row(i: u64, end: chrono::DateTime<chrono::Utc>) -> gproxy_storage::RequestLog {
    let h = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 20;
    let age_ms = (TTI_ROWS - 1 - i) * 30 * 86_400_000 / TTI_ROWS;
    gproxy_storage::RequestLog {
        request_id: format!("tti-{i:08}"),
        created_at: end - chrono::Duration::milliseconds(age_ms as i64),
        user_id: Some((h % 100) as i64 + 1),
        provider: Some(format!("provider-{}", (h >> 9) % 8)),
        model: Some(format!("model-{}", (h >> 14) % 40)),
        protocol: "openai.chat".into(),
        method: "POST".into(),
        path: "/v1/chat/completions".into(),
        status: if h % 100 < 3 { 429 } else { 200 },
        latency_ms: 50 + (h >> 3) % 20_000,
        input_tokens: Some(100 + h % 4000),
        output_tokens: Some(10 + (h >> 4) % 1000),
        ..gproxy_storage::RequestLog::default()
    }
}

/// Time to interactive on the Overview with 1M request-log rows
/// (docs/benchmarks.md, "The web console"). Ignored: a measurement, run
/// in release with
///
/// ```text
/// cargo test --release -p gproxy --test ui -- --ignored --nocapture overview
/// ```
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: fills 1M log rows"]
async fn overview_time_to_interactive_at_1m_rows() {
    if let Some(why) = missing_tools() {
        panic!("the measurement needs {why}");
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let dsn = format!("sqlite://{}", data.join("gproxy.db").display());
    let storage = gproxy_storage::Storage::connect(&dsn).await.unwrap();
    storage.migrate().await.unwrap();
    let end = chrono::Utc::now();
    let filled = std::time::Instant::now();
    let mut batch = Vec::with_capacity(20_000);
    for i in 0..TTI_ROWS {
        batch.push(tti_row(i, end));
        if batch.len() == batch.capacity() {
            storage.insert_request_logs(&batch).await.unwrap();
            batch.clear();
        }
    }
    storage.insert_request_logs(&batch).await.unwrap();
    assert_eq!(storage.count_request_logs().await.unwrap(), TTI_ROWS);
    drop(storage);
    eprintln!("filled {TTI_ROWS} rows in {:?}", filled.elapsed());

    let gw = common::start(dir.path(), &fresh_config()).await;
    let envs = vec![
        ("GPROXY_URL", gw.base.clone()),
        ("GPROXY_ADMIN_KEY", ADMIN_KEY.to_owned()),
        ("CHROMIUM", chromium()),
    ];
    tokio::task::spawn_blocking(move || npm("tti", &envs))
        .await
        .unwrap();
}
