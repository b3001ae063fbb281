//! Rate limits through the real binary: RPM, TPM and concurrency on each
//! scope, refused before the upstream with 429 and `x-ratelimit-*` in the
//! client's protocol shape; passthrough counted; the limits changed live
//! through the admin API and read back on `/v1/gproxy/me`; two instances
//! on one Redis holding one limit; Redis down in both failure modes.
#![cfg(test)] // lets clippy see helpers as test code (unwrap/expect allowed)

mod common;

use std::time::{Duration, Instant};

use common::*;
use gproxy_testkit::MockUpstream;
use serde_json::json;

/// ALICE_KEY's visible prefix.
const ALICE_PREFIX: &str = "sk-ali";

fn chat() -> serde_json::Value {
    json!({"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})
}

async fn claude(gw: &Gateway) -> Reply {
    let req = gw
        .request("POST", "/claude/v1/messages")
        .header("x-api-key", ALICE_KEY)
        .header("anthropic-version", "2023-06-01")
        .header("content-type", "application/json");
    let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]});
    gw.send(req, body.to_string()).await
}

async fn gemini(gw: &Gateway) -> Reply {
    let req = gw
        .request(
            "POST",
            "/aistudio/v1beta/models/gemini-2.0-flash:generateContent",
        )
        .header("x-goog-api-key", ALICE_KEY)
        .header("content-type", "application/json");
    let body = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]});
    gw.send(req, body.to_string()).await
}

fn assert_refused(r: &Reply, what: &str) {
    assert_eq!(r.status, 429, "{what}: {}", r.text());
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "{what}: retry-after {retry}");
}

async fn metric(gw: &Gateway, line: &str) -> f64 {
    let r = gw
        .send(
            gw.request("GET", "/metrics")
                .header("authorization", format!("Bearer {ADMIN_KEY}")),
            "",
        )
        .await;
    r.text()
        .lines()
        .find(|l| l.starts_with(line))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("{line} not in {}", r.text()))
}

#[tokio::test]
async fn rpm_on_each_scope_in_each_protocol_shape() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let extra = r#"
[rate_limits]
window_secs = 2
[rate_limits.providers.openai]
rpm = 2
[rate_limits.models.claude-sonnet-4-5]
rpm = 1
[rate_limits.global]
rpm = 1000
"#;
    let gw = start(dir.path(), &config(&mock, extra)).await;

    // Provider scope, OpenAI shape.
    for remaining in ["1", "0"] {
        let r = gw.post("/v1/chat/completions", ALICE_KEY, chat()).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.header("x-ratelimit-limit-requests"), Some("2"));
        assert_eq!(r.header("x-ratelimit-remaining-requests"), Some(remaining));
        assert!(r.header("x-ratelimit-reset-requests").is_some());
    }
    let r = gw.post("/v1/chat/completions", ALICE_KEY, chat()).await;
    assert_refused(&r, "openai");
    let v = r.json();
    assert_eq!(v["error"]["type"], "rate_limit_error", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("provider:openai"),
        "{v}"
    );
    assert_eq!(r.header("x-ratelimit-limit-requests"), Some("2"));
    assert_eq!(r.header("x-ratelimit-remaining-requests"), Some("0"));
    assert_eq!(mock.request_count(), 2, "the refusal never went upstream");

    // Model scope, Anthropic shape.
    assert_eq!(claude(&gw).await.status, 200);
    let r = claude(&gw).await;
    assert_refused(&r, "claude");
    assert_eq!(r.json()["type"], "error");
    assert_eq!(r.json()["error"]["type"], "rate_limit_error");
    assert_eq!(mock.request_count(), 3);

    // The window slides: after it, admitted again.
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let r = gw.post("/v1/chat/completions", ALICE_KEY, chat()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(claude(&gw).await.status, 200);
    assert_eq!(mock.request_count(), 5);
    assert_eq!(
        metric(&gw, "gproxy_refusals_total{reason=\"rate_limit\"}").await,
        2.0
    );
}

#[tokio::test]
async fn tpm_and_key_and_global_scopes_gemini_shape() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The Gemini body is ~60 bytes: ~15 tokens estimated each, then the
    // real usage replaces the estimate.
    let extra = format!(
        r#"
[rate_limits]
window_secs = 2
[rate_limits.keys.{ALICE_PREFIX}]
tpm = 60
"#
    );
    let gw = start(dir.path(), &config(&mock, &extra)).await;
    let mut admitted = 0;
    let refused = loop {
        let r = gemini(&gw).await;
        if r.status != 200 {
            break r;
        }
        admitted += 1;
        assert_eq!(r.header("x-ratelimit-limit-tokens"), Some("60"));
        assert!(admitted < 20, "never refused");
    };
    assert!(admitted >= 1);
    assert_refused(&refused, "gemini");
    let v = refused.json();
    assert_eq!(v["error"]["code"], 429, "{v}");
    assert_eq!(v["error"]["status"], "RESOURCE_EXHAUSTED", "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("tokens"));
    assert_eq!(refused.header("x-ratelimit-limit-tokens"), Some("60"));
    assert_eq!(mock.request_count(), admitted);

    // Global scope, live: one request per window for everyone.
    let r = gw
        .api(
            "PATCH",
            "/settings",
            Some(ADMIN_KEY),
            Some(json!({"rate_limits": {"window_secs": 2, "global": {"rpm": 1}}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["rate_limits"]["global"]["rpm"], 1);
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    assert_eq!(gemini(&gw).await.status, 200);
    assert_refused(&claude(&gw).await, "global");
    // A bad value names its field.
    let r = gw
        .api(
            "PATCH",
            "/settings",
            Some(ADMIN_KEY),
            Some(json!({"rate_limits": {"users": {"alice": {"rpm": 0}}}})),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.text().contains("rate_limits.users.alice.rpm"),
        "{}",
        r.text()
    );
}

#[tokio::test]
async fn concurrency_is_held_until_the_stream_ends_or_the_client_leaves() {
    let mock = MockUpstream::start().await.unwrap();
    mock.set_stream_chunks(6, Duration::from_millis(200));
    let dir = tempfile::tempdir().unwrap();
    let extra = "[rate_limits.users.alice]\nconcurrent = 1\n";
    let gw = start(dir.path(), &config(&mock, extra)).await;
    let mut body = chat();
    body["stream"] = json!(true);
    let open = |gw: &Gateway| {
        gw.request("POST", "/v1/chat/completions")
            .header("authorization", format!("Bearer {ALICE_KEY}"))
            .header("content-type", "application/json")
    };
    // A stream in flight holds the one slot.
    let first = gw.open(open(&gw), body.to_string()).await;
    assert_eq!(first.status(), 200);
    let r = gw.post("/v1/chat/completions", ALICE_KEY, chat()).await;
    assert_refused(&r, "concurrent");
    assert!(r.text().contains("concurrent requests"), "{}", r.text());
    // The client goes away: the slot comes back.
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let r = gw.post("/v1/chat/completions", ALICE_KEY, chat()).await;
        if r.status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "slot never released");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A stream read to its end gives it back too.
    let r = gw
        .post("/v1/chat/completions", ALICE_KEY, body.clone())
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        gw.post("/v1/chat/completions", ALICE_KEY, chat())
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn passthrough_is_counted_and_me_reports_the_limits() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let extra = "[rate_limits]\nwindow_secs = 30\n[rate_limits.users.alice]\nrpm = 2\n";
    let gw = start(dir.path(), &config(&mock, extra)).await;
    let files = || {
        gw.request("GET", "/openai/v1/files")
            .header("authorization", format!("Bearer {ALICE_KEY}"))
    };
    let r = gw.send(files(), "").await;
    assert_ne!(r.status, 429);
    assert_eq!(r.header("x-ratelimit-remaining-requests"), Some("1"));

    let v = me(&gw, ALICE_KEY).await;
    assert_eq!(v["user"], "alice");
    assert_eq!(v["rate_limits"]["scopes"]["user"]["rpm"], 2, "{v}");
    assert_eq!(
        v["rate_limits"]["scopes"]["user"]["remaining_requests"], 1,
        "{v}"
    );
    assert_eq!(v["rate_limits"]["window_secs"], 30);

    assert_eq!(
        gw.post("/v1/chat/completions", ALICE_KEY, chat())
            .await
            .status,
        200
    );
    let r = gw.send(files(), "").await;
    assert_refused_any(&r);
    assert_eq!(mock.request_count(), 2);
    // Without a key: 401.
    let r = gw.send(gw.request("GET", "/v1/gproxy/me"), "").await;
    assert_eq!(r.status, 401);
}

fn assert_refused_any(r: &Reply) {
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.header("retry-after").is_some());
}

fn redis_config(mock: &MockUpstream, url: &str, prefix: &str, extra: &str) -> String {
    config(
        mock,
        &format!(
            "[rate_limits]\nbackend = \"redis\"\nredis_url = \"{url}\"\nredis_prefix = \"{prefix}\"\nwindow_secs = 2\n{extra}"
        ),
    )
}

/// Sends `n` chat requests at once, alternating between `a` and `b`; their
/// statuses.
async fn alternating_burst(
    a: &std::sync::Arc<Gateway>,
    b: &std::sync::Arc<Gateway>,
    n: usize,
) -> Vec<u16> {
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..n {
        let gw = if i % 2 == 0 { a.clone() } else { b.clone() };
        calls.spawn(async move {
            gw.post("/v1/chat/completions", ALICE_KEY, chat())
                .await
                .status
                .as_u16()
        });
    }
    calls.join_all().await
}

#[tokio::test]
async fn two_instances_on_one_redis_hold_one_limit() {
    let Some(url) = redis_url("two_instances_on_one_redis_hold_one_limit").await else {
        return;
    };
    let prefix = format!("gproxy-test-rl-{}:", rand_suffix());
    let mock = MockUpstream::start().await.unwrap();
    // Redis's answers held back 20 ms, so that the requests arriving while
    // a check is out go together in the next call.
    let slow = slow_redis(&url, Duration::from_millis(20)).await;
    let text = redis_config(&mock, &slow, &prefix, "[rate_limits.global]\nrpm = 10\n");
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = std::sync::Arc::new(start(d1.path(), &text).await);
    let b = std::sync::Arc::new(start(d2.path(), &text).await);
    // Two rounds of 15 concurrent requests on each instance, one window
    // apart: each window admits 10 in all, not 20.
    for round in 0..2 {
        let statuses = alternating_burst(&a, &b, 30).await;
        let ok = statuses.iter().filter(|s| **s == 200).count();
        let refused = statuses.iter().filter(|s| **s == 429).count();
        assert!((9..=11).contains(&ok), "round {round}: {ok} admitted");
        assert_eq!(ok + refused, 30, "{statuses:?}");
        assert_eq!(mock.request_count(), ok, "round {round}");
        mock.clear();
        tokio::time::sleep(Duration::from_millis(2_100)).await;
    }
    assert_grouped(&[&a, &b], 30).await;
}

#[tokio::test]
async fn redis_down_fails_open_or_closed_within_the_timeout() {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("redis://127.0.0.1:{closed}");
    for (mode, status) in [("closed", 503), ("open", 200)] {
        let mock = MockUpstream::start().await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let extra = format!(
            "on_redis_error = \"{mode}\"\nredis_timeout_ms = 200\n[rate_limits.global]\nrpm = 1\n"
        );
        let gw = start(dir.path(), &redis_config(&mock, &url, "x:", &extra)).await;
        for _ in 0..3 {
            let t = Instant::now();
            let r = gw.post("/v1/chat/completions", ALICE_KEY, chat()).await;
            assert_eq!(r.status, status, "{mode}: {}", r.text());
            assert!(
                t.elapsed() < Duration::from_millis(1_500),
                "{mode}: {:?}",
                t.elapsed()
            );
        }
        if mode == "closed" {
            assert_eq!(mock.request_count(), 0);
            assert!(
                metric(
                    &gw,
                    "gproxy_refusals_total{reason=\"limit_store_unreachable\"}"
                )
                .await
                    >= 3.0
            );
        } else {
            assert_eq!(mock.request_count(), 3);
        }
    }
}

/// `/v1/gproxy/me`'s first budget line, reserved and spent (USD strings).
async fn alice_budget(gw: &Gateway) -> (String, String) {
    let line = &me(gw, ALICE_KEY).await["budgets"]["budgets"][0];
    (
        line["reserved_usd"].as_str().unwrap_or("?").to_owned(),
        line["spent_usd"].as_str().unwrap_or("?").to_owned(),
    )
}

/// Waits (up to 5 s) until nothing is reserved on alice's first budget
/// line; what it then spent (USD).
async fn alice_settled_spend(gw: &Gateway) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (reserved, spent) = alice_budget(gw).await;
        if reserved.parse::<f64>() == Ok(0.0) {
            break spent.parse().unwrap();
        }
        assert!(Instant::now() < deadline, "still reserved: {reserved}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn limits_and_budgets_on_one_redis_check_together_and_a_refusal_by_either_takes_nothing() {
    let Some(url) = redis_url("limits_and_budgets_on_one_redis").await else {
        return;
    };
    let prefix = format!("gproxy-test-both-{}:", rand_suffix());
    let mock = MockUpstream::start().await.unwrap();
    let extra = format!(
        "[rate_limits]\nbackend = \"redis\"\nredis_url = \"{url}\"\nredis_prefix = \"{prefix}rl:\"\nwindow_secs = 2\n\
         [rate_limits.users.alice]\nconcurrent = 1\nrpm = 12\n\
         [budgets]\nbackend = \"redis\"\nredis_url = \"{url}\"\nredis_prefix = \"{prefix}b:\"\n\
         [budgets.users.alice]\nmonthly_usd = \"5\"\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &config(&mock, &extra)).await;
    // One slot, given back as each answer completes: back-to-back requests
    // are all admitted, because the release goes out ahead of the next
    // request's check on the same connection.
    for i in 0..12 {
        let r = gw.post("/v1/chat/completions", ALICE_KEY, chat()).await;
        assert_eq!(r.status, 200, "request {i}: {}", r.text());
        assert_eq!(r.header("x-ratelimit-limit-requests"), Some("12"));
    }
    // The thirteenth is over `rpm`: refused, and nothing is reserved on the
    // budget for it.
    let r = gw.post("/v1/chat/completions", ALICE_KEY, chat()).await;
    assert_refused(&r, "requests");
    assert_eq!(mock.request_count(), 12);
    // What the twelve cost is what the budget spent.
    let logged = alice_settled_spend(&gw).await;
    assert!(logged > 0.0, "spent {logged}");
    let spent = alice_budget(&gw).await.1;

    // A budget with no room refuses with 402 and takes neither the
    // rate-limit slot nor a request of `rpm`: with room again, the next
    // request is admitted at once and is the window's first.
    let budget = |amount: &str| {
        serde_json::json!({"budgets": {
            "backend": "redis", "redis_url": url, "redis_prefix": format!("{prefix}b:"),
            "users": {"alice": {"monthly_usd": amount}}
        }})
    };
    let r = gw
        .api("PATCH", "/settings", Some(ADMIN_KEY), Some(budget(&spent)))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // The next window: `rpm` has room again.
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let r = gw.post("/v1/chat/completions", ALICE_KEY, chat()).await;
    assert_eq!(r.status, 402, "{}", r.text());
    let r = gw
        .api("PATCH", "/settings", Some(ADMIN_KEY), Some(budget("5")))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = gw.post("/v1/chat/completions", ALICE_KEY, chat()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-ratelimit-remaining-requests"), Some("11"));
    assert_eq!(mock.request_count(), 13);
}

#[tokio::test]
async fn a_joint_check_that_times_out_leaves_nothing_taken() {
    let Some(url) = redis_url("a_joint_check_that_times_out").await else {
        return;
    };
    let slow = slow_redis(&url, Duration::from_millis(400)).await;
    let prefix = format!("gproxy-test-late-both-{}:", rand_suffix());
    // The month's budget counter exists already (seeded), so the joint
    // script runs whole: it counts the request and reserves on the budget,
    // and its answer comes after the gateway stopped waiting.
    let now = chrono::Utc::now();
    let month = chrono::TimeZone::with_ymd_and_hms(
        &chrono::Utc,
        chrono::Datelike::year(&now),
        chrono::Datelike::month(&now),
        1,
        0,
        0,
        0,
    )
    .unwrap();
    let line = format!("{prefix}b:user:alice:monthly:{}", month.timestamp());
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("SET")
        .arg(format!("{line}:s"))
        .arg(0)
        .arg("PX")
        .arg(600_000)
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    let mock = MockUpstream::start().await.unwrap();
    let extra = format!(
        "[rate_limits]\nbackend = \"redis\"\nredis_url = \"{slow}\"\nredis_prefix = \"{prefix}rl:\"\nredis_timeout_ms = 150\non_redis_error = \"closed\"\n\
         [rate_limits.users.alice]\nconcurrent = 5\n\
         [budgets]\nbackend = \"redis\"\nredis_url = \"{slow}\"\nredis_prefix = \"{prefix}b:\"\nredis_timeout_ms = 150\n\
         [budgets.users.alice]\nmonthly_usd = \"5\"\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), &config(&mock, &extra)).await;
    let r = gw.post("/v1/chat/completions", ALICE_KEY, chat()).await;
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(mock.request_count(), 0);
    // Both releases were queued: the slot and the reservation the script
    // took are given back (not left until their expiry).
    let count = |key: String| {
        let mut conn = conn.clone();
        async move {
            redis::cmd("ZCARD")
                .arg(key)
                .query_async::<i64>(&mut conn)
                .await
                .unwrap()
        }
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let slots = count(format!("{prefix}rl:user:alice:c")).await;
        let reserved = count(format!("{line}:r")).await;
        if slots == 0 && reserved == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still taken: {slots} slots, {reserved} reservations"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Two gateways on `mock` with `limits` on alice and her `budget` (each
/// TOML, with `rate_extra` more of `[rate_limits]`; Redis calls of the
/// budgets wait up to 2 s), both kept in the
/// Redis at `url` under `prefix`; one request first on the first gateway
/// seeds the budget's counter and prices one request. The gateways, that
/// price (USD) and their data dirs.
async fn two_on_one_redis(
    mock: &MockUpstream,
    url: &str,
    prefix: &str,
    rate_extra: &str,
    limits: &str,
    budget: &str,
) -> (
    std::sync::Arc<Gateway>,
    std::sync::Arc<Gateway>,
    f64,
    [tempfile::TempDir; 2],
) {
    let extra = format!(
        "[rate_limits]\nbackend = \"redis\"\nredis_url = \"{url}\"\nredis_prefix = \"{prefix}rl:\"\n{rate_extra}\
         [rate_limits.users.alice]\n{limits}\
         [budgets]\nbackend = \"redis\"\nredis_url = \"{url}\"\nredis_prefix = \"{prefix}b:\"\nredis_timeout_ms = 2000\n\
         [budgets.users.alice]\n{budget}"
    );
    let text = config(mock, &extra);
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let a = std::sync::Arc::new(start(dirs[0].path(), &text).await);
    let b = std::sync::Arc::new(start(dirs[1].path(), &text).await);
    let r = a.post("/v1/chat/completions", ALICE_KEY, chat()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let one = alice_settled_spend(&a).await;
    assert!(one > 0.0);
    (a, b, one, dirs)
}

#[tokio::test]
async fn requests_checked_together_in_one_redis_call_still_hold_the_limit_and_the_budget() {
    let Some(url) = redis_url("requests_checked_together").await else {
        return;
    };
    // Every answer held back 30 ms: while one admission call is out, the
    // requests behind it wait and go out together in the next.
    let slow = slow_redis(&url, Duration::from_millis(30)).await;
    let prefix = format!("gproxy-test-group-{}:", rand_suffix());
    let mock = MockUpstream::start().await.unwrap();
    let (a, b, one, _dirs) = two_on_one_redis(
        &mock,
        &slow,
        &prefix,
        "window_secs = 2\nredis_timeout_ms = 2000\n",
        "rpm = 10\nconcurrent = 100\n",
        "monthly_usd = \"5\"\n",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    // 15 at once on each instance: the window admits 10 in all.
    let statuses = alternating_burst(&a, &b, 30).await;
    let ok = statuses.iter().filter(|s| **s == 200).count();
    assert!((9..=11).contains(&ok), "{ok} admitted: {statuses:?}");
    assert_eq!(
        ok + statuses.iter().filter(|s| **s == 429).count(),
        30,
        "{statuses:?}"
    );
    assert_eq!(mock.request_count(), ok + 1);
    // Every reservation settled (the settlements went out grouped too),
    // and the spend is what the admitted requests cost.
    let spent = alice_settled_spend(&b).await;
    let expected = one * (ok + 1) as f64;
    assert!(
        (spent - expected).abs() < 1e-9,
        "spent {spent}, {} requests of {one}",
        ok + 1
    );
    // The calls carried several requests each.
    assert_grouped(&[&a, &b], 15).await;
}

#[tokio::test]
async fn far_from_the_limits_leases_serve_most_requests_and_the_limit_and_the_spend_stay_exact() {
    let Some(url) = redis_url("leases_far_from_the_limits").await else {
        return;
    };
    let prefix = format!("gproxy-test-lease-{}:", rand_suffix());
    let mock = MockUpstream::start().await.unwrap();
    let (a, b, one, _dirs) = two_on_one_redis(
        &mock,
        &url,
        &prefix,
        "",
        "rpm = 400\nconcurrent = 1000\n",
        "monthly_usd = \"1000\"\n",
    )
    .await;
    let mut ok = 1;
    // Waves of 40 at once over both instances, 480 in all: far from the
    // limit, a busy key is granted leases and most requests are admitted
    // from them; never more than the limit in all.
    for _ in 0..12 {
        let mut calls = tokio::task::JoinSet::new();
        for i in 0..40 {
            let gw = if i % 2 == 0 { a.clone() } else { b.clone() };
            calls.spawn(async move {
                let r = gw.post("/v1/chat/completions", ALICE_KEY, chat()).await;
                if r.status == 200 {
                    assert_eq!(r.header("x-ratelimit-limit-requests"), Some("400"));
                    assert!(r.header("x-ratelimit-remaining-requests").is_some());
                } else {
                    assert_eq!(r.status, 429, "{}", r.text());
                }
                r.status.as_u16()
            });
        }
        ok += calls.join_all().await.iter().filter(|s| **s == 200).count();
    }
    assert!(ok <= 400, "{ok} admitted");
    let mut leased = 0;
    for gw in [&a, &b] {
        let h = gw.health().await.json();
        leased += h["spend_controls"]["redis_admissions"]["leased"]
            .as_u64()
            .unwrap();
    }
    assert!(leased > 100, "{leased} requests served from leases");
    // Once the last leases have ended and given back what they did not
    // use, the window fills to exactly the limit (asked until refused for
    // longer than a lease lives).
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let mut refused_since: Option<Instant> = None;
    let mut i = 0;
    while refused_since.is_none_or(|t| t.elapsed() < Duration::from_millis(1_500)) {
        let gw = if i % 2 == 0 { &a } else { &b };
        i += 1;
        let r = gw.post("/v1/chat/completions", ALICE_KEY, chat()).await;
        if r.status == 200 {
            ok += 1;
            refused_since = None;
        } else {
            assert_eq!(r.status, 429, "{}", r.text());
            refused_since.get_or_insert_with(Instant::now);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    assert_eq!(ok, 400);
    assert_eq!(mock.request_count(), 400);
    // Every reservation settled or given back, and the spend is what the
    // admitted requests cost.
    let spent = alice_settled_spend(&b).await;
    let expected = one * 400.0;
    assert!(
        (spent - expected).abs() < 1e-9,
        "spent {spent}, 400 requests of {one}"
    );
}
