//! Budgets through the real binary: refused at the boundary in each
//! client protocol's shape with the reset time, the spend surviving a
//! restart (read back from the request log), changed live from the admin
//! API, 50 concurrent requests overshooting by less than one request (one
//! instance, and two instances on one Redis), passthrough charged its flat
//! cost or refused, unpriced models, Redis down.
//!
//! The mock's usage is fixed: gpt-4o costs 93,750 nano-dollars a request
//! (see tests/cost.rs for the arithmetic).
#![cfg(test)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use gproxy_testkit::MockUpstream;
use serde_json::json;

/// What one gpt-4o request costs, nano-dollars.
const COST: i64 = 93_750;

fn chat(model: &str) -> serde_json::Value {
    json!({"model": model, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]})
}

async fn admin_budgets(gw: &Gateway) -> serde_json::Value {
    let r = gw.api("GET", "/budgets", Some(ADMIN_KEY), None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

/// Sum of the costs in the request log, nano-dollars.
async fn logged_cost(gw: &Gateway) -> i64 {
    gw.logs(1_000)
        .await
        .iter()
        .filter_map(|r| r.cost_nano_usd)
        .sum()
}

fn tomorrow_utc() -> String {
    let d = chrono::Utc::now().date_naive() + chrono::Days::new(1);
    format!("{d}T00:00:00+00:00")
}

#[tokio::test]
async fn a_budget_refuses_at_the_boundary_and_survives_a_restart() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Room for two requests' worth: the third is admitted (spent 187,500
    // < 200,000), the fourth refused.
    let extra = "[budgets.users.alice]\ndaily_usd = \"0.0002\"\nwarn_at_percent = 50\n";
    let text = config(&mock, extra);
    let gw = start(dir.path(), &text).await;
    for i in 0..3 {
        let r = gw
            .post("/openai/v1/chat/completions", ALICE_KEY, chat("gpt-4o"))
            .await;
        assert_eq!(r.status, 200, "request {i}: {}", r.text());
    }
    // Refused before the upstream, in each protocol's own shape.
    let r = gw
        .post("/openai/v1/chat/completions", ALICE_KEY, chat("gpt-4o"))
        .await;
    assert_eq!(r.status, 402, "{}", r.text());
    let message = r.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("daily budget of 0.0002 USD for user:alice"),
        "{message}"
    );
    assert!(message.contains("resets at"), "{message}");
    assert_eq!(
        r.header("x-gproxy-budget-reset"),
        Some(tomorrow_utc().as_str())
    );
    let r = gw
        .post(
            "/claude/v1/messages",
            ALICE_KEY,
            json!({"model": "claude-opus-4-1-20250805", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(r.status, 402, "{}", r.text());
    assert_eq!(r.json()["type"], "error", "{}", r.text());
    let r = gw
        .post(
            "/aistudio/v1beta/models/gemini-2.5-flash:generateContent",
            ALICE_KEY,
            json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}),
        )
        .await;
    assert_eq!(r.status, 402, "{}", r.text());
    assert!(r.json()["error"]["status"].is_string(), "{}", r.text());
    assert_eq!(mock.request_count(), 3);

    // The key sees its own spend; the admin sees everyone's.
    let v = me(&gw, ALICE_KEY).await;
    let b = &v["budgets"]["budgets"][0];
    assert_eq!(b["scope"], "user:alice", "{v}");
    assert_eq!(b["period"], "daily");
    assert_eq!(b["spent_usd"], "0.00028125");
    assert_eq!(b["remaining_usd"], "0");
    assert_eq!(b["exhausted"], true);
    assert_eq!(b["warning"], true);
    assert_eq!(b["resets_at"], tomorrow_utc());
    let health = gw.api("GET", "/health", Some(ADMIN_KEY), None).await.json();
    assert_eq!(health["spend_controls"]["budgets"], "memory", "{health}");
    assert_eq!(health["spend_controls"]["budget_timezone"], "UTC");
    let all = admin_budgets(&gw).await;
    assert_eq!(all["budgets"][0]["spent_usd"], "0.00028125", "{all}");
    assert_eq!(all["timezone"], "UTC");
    let metrics = gw
        .send(
            gw.request("GET", "/metrics")
                .header("authorization", format!("Bearer {ADMIN_KEY}")),
            "",
        )
        .await
        .text();
    assert!(
        metrics.contains("gproxy_budget_warnings_total{period=\"daily\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("gproxy_refusals_total{reason=\"budget\"} 3"),
        "{metrics}"
    );

    // A restart reads the spend back from the request log.
    gw.stop().await;
    let gw = start(dir.path(), &text).await;
    let r = gw
        .post("/openai/v1/chat/completions", ALICE_KEY, chat("gpt-4o"))
        .await;
    assert_eq!(r.status, 402, "after a restart: {}", r.text());
    assert_eq!(
        me(&gw, ALICE_KEY).await["budgets"]["budgets"][0]["spent_usd"],
        "0.00028125"
    );

    // Raised live through the admin API: room again.
    let r = gw
        .api(
            "PATCH",
            "/settings",
            Some(ADMIN_KEY),
            Some(json!({"budgets": {"users": {"alice": {"daily_usd": "1"}}}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["budgets"]["users"]["alice"]["daily_usd"], "1");
    let r = gw
        .post("/openai/v1/chat/completions", ALICE_KEY, chat("gpt-4o"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // A bad value names its field.
    let r = gw
        .api(
            "PATCH",
            "/settings",
            Some(ADMIN_KEY),
            Some(json!({"budgets": {"timezone": "Mars/Olympus", "users": {"alice": {"daily_usd": "1"}}}})),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("budgets.timezone"), "{}", r.text());
}

/// Fires `n` gpt-4o requests at once, alternating over `gateways`, and
/// returns how many were admitted.
async fn burst(gateways: &[Arc<Gateway>], n: usize) -> usize {
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..n {
        let gw = gateways[i % gateways.len()].clone();
        calls.spawn(async move {
            gw.post("/openai/v1/chat/completions", ALICE_KEY, chat("gpt-4o"))
                .await
                .status
                .as_u16()
        });
    }
    let statuses = calls.join_all().await;
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 402),
        "{statuses:?}"
    );
    statuses.iter().filter(|s| **s == 200).count()
}

/// A budget of 10.67 requests' worth under 50 concurrent requests: the
/// spend ends below the budget plus one request.
fn assert_bounded(spent: i64, admitted: usize) {
    let limit = 1_000_000;
    assert_eq!(spent, COST * i64::try_from(admitted).unwrap());
    assert!(spent >= limit, "room was left unused: {spent}");
    assert!(
        spent < limit + COST,
        "overshoot beyond one request: {spent}"
    );
}

#[tokio::test]
async fn fifty_concurrent_requests_overshoot_by_less_than_one() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The key's visible prefix (a quarter of it, at most 8 characters).
    let key_prefix: String = ALICE_KEY
        .chars()
        .take((ALICE_KEY.len() / 4).min(8))
        .collect();
    let extra = format!("[budgets.keys.\"{key_prefix}\"]\ntotal_usd = \"0.001\"\n");
    let gw = Arc::new(start(dir.path(), &config(&mock, &extra)).await);
    // Rounds of 50 until the budget refuses everything.
    let mut admitted = 0;
    for _ in 0..3 {
        admitted += burst(std::slice::from_ref(&gw), 50).await;
    }
    let v = me(&gw, ALICE_KEY).await;
    let b = &v["budgets"]["budgets"][0];
    assert_eq!(b["scope"], format!("key:{key_prefix}"), "{v}");
    assert_eq!(b["resets_at"], serde_json::Value::Null);
    assert_eq!(mock.request_count(), admitted);
    // Every log row written: the log's sum is the spend.
    let deadline = Instant::now() + Duration::from_secs(5);
    while gw.logs(1_000).await.len() < 150 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_bounded(logged_cost(&gw).await, admitted);
    assert_eq!(
        b["spent_usd"].as_str().unwrap(),
        gproxy_core::cost::from_nanos(COST * i64::try_from(admitted).unwrap())
            .normalize()
            .to_string()
    );
}

#[tokio::test]
async fn two_instances_on_one_redis_share_one_budget() {
    let Some(url) = redis_url("two_instances_on_one_redis_share_one_budget").await else {
        return;
    };
    let prefix = format!("gproxy-test-budget-{}:", rand_suffix());
    let mock = MockUpstream::start().await.unwrap();
    // Redis's answers held back 20 ms, so that the requests arriving while
    // a check is out go together in the next call.
    let url = slow_redis(&url, Duration::from_millis(20)).await;
    let extra = format!(
        "[budgets]\nbackend = \"redis\"\nredis_url = \"{url}\"\nredis_prefix = \"{prefix}\"\n[budgets.users.alice]\nmonthly_usd = \"0.001\"\n"
    );
    // Both instances share one database too (the spend is seeded from it).
    let dir = tempfile::tempdir().unwrap();
    let db = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("shared.db").display()
    );
    let text = config(&mock, &extra);
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let master = "34".repeat(32);
    let envs = [("GPROXY_MASTER_KEY", master.as_str())];
    let args = ["--dsn", db.as_str()];
    let a = Arc::new(spawn_env(d1.path(), &text, &args, &envs).await.0.unwrap());
    let b = Arc::new(spawn_env(d2.path(), &text, &args, &envs).await.0.unwrap());
    let mut admitted = 0;
    for _ in 0..3 {
        admitted += burst(&[a.clone(), b.clone()], 50).await;
    }
    assert_eq!(mock.request_count(), admitted);
    let spent = me(&a, ALICE_KEY).await["budgets"]["budgets"][0]["spent_usd"]
        .as_str()
        .unwrap()
        .parse::<gproxy_core::cost::Decimal>()
        .unwrap();
    let spent = gproxy_core::cost::to_nanos(spent).unwrap();
    assert_bounded(spent, admitted);
    assert_eq!(me(&b, ALICE_KEY).await["budgets"]["backend"], "redis");
    assert_grouped(&[&a, &b], 25).await;
}

#[tokio::test]
async fn passthrough_is_charged_its_flat_cost_or_refused() {
    let mock = MockUpstream::start().await.unwrap();
    let files = |gw: &Gateway| {
        gw.request("GET", "/openai/v1/files")
            .header("authorization", format!("Bearer {ALICE_KEY}"))
    };
    // No flat cost set: a budgeted key's passthrough is refused.
    let dir = tempfile::tempdir().unwrap();
    let gw = start(
        dir.path(),
        &config(&mock, "[budgets.users.alice]\ndaily_usd = \"1\"\n"),
    )
    .await;
    let r = gw.send(files(&gw), "").await;
    assert_eq!(r.status, 402, "{}", r.text());
    assert!(r.text().contains("passthrough_cost_usd"), "{}", r.text());
    assert_eq!(mock.request_count(), 0);
    gw.stop().await;

    // Set: each call costs it, and the log row says so.
    let dir = tempfile::tempdir().unwrap();
    let extra =
        "[budgets]\npassthrough_cost_usd = \"0.5\"\n[budgets.users.alice]\ndaily_usd = \"1\"\n";
    let gw = start(dir.path(), &config(&mock, extra)).await;
    for _ in 0..2 {
        let r = gw.send(files(&gw), "").await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let r = gw.send(files(&gw), "").await;
    assert_eq!(r.status, 402, "{}", r.text());
    assert_eq!(mock.request_count(), 2);
    let rows = gw.logs(10).await;
    let charged: Vec<_> = rows
        .iter()
        .filter(|r| r.status == 200)
        .map(|r| (r.cost_nano_usd, r.price_version.as_deref()))
        .collect();
    assert_eq!(
        charged,
        vec![(Some(500_000_000), Some("passthrough-flat")); 2]
    );
    // A failed passthrough call costs nothing.
    let gw2_dir = tempfile::tempdir().unwrap();
    let gw2 = start(gw2_dir.path(), &config(&mock, extra)).await;
    let r = gw2
        .send(
            gw2.request("GET", "/openai/v1/nothing-here")
                .header("authorization", format!("Bearer {ALICE_KEY}")),
            "",
        )
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        me(&gw2, ALICE_KEY).await["budgets"]["budgets"][0]["spent_usd"],
        "0"
    );
}

#[tokio::test]
async fn unpriced_models_are_refused_unless_allowed() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(
        dir.path(),
        &config(&mock, "[budgets.users.alice]\ndaily_usd = \"1\"\n"),
    )
    .await;
    let r = gw
        .post(
            "/openai/v1/chat/completions",
            ALICE_KEY,
            chat("gpt-unknown"),
        )
        .await;
    assert_eq!(r.status, 402, "{}", r.text());
    assert!(r.text().contains("price of `gpt-unknown`"), "{}", r.text());
    assert_eq!(mock.request_count(), 0);
    let r = gw
        .api(
            "PATCH",
            "/settings",
            Some(ADMIN_KEY),
            Some(json!({"budgets": {"unpriced": "allow", "users": {"alice": {"daily_usd": "1"}}}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = gw
        .post(
            "/openai/v1/chat/completions",
            ALICE_KEY,
            chat("gpt-unknown"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test]
async fn redis_down_fails_open_or_closed_within_the_timeout() {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    for (mode, status) in [("closed", 503), ("open", 200)] {
        let mock = MockUpstream::start().await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let extra = format!(
            "[budgets]\nbackend = \"redis\"\nredis_url = \"redis://127.0.0.1:{closed}\"\non_redis_error = \"{mode}\"\nredis_timeout_ms = 200\n[budgets.users.alice]\ndaily_usd = \"1\"\n"
        );
        let gw = start(dir.path(), &config(&mock, &extra)).await;
        for _ in 0..3 {
            let t = Instant::now();
            let r = gw
                .post("/openai/v1/chat/completions", ALICE_KEY, chat("gpt-4o"))
                .await;
            assert_eq!(r.status, status, "{mode}: {}", r.text());
            assert!(
                t.elapsed() < Duration::from_millis(1_500),
                "{mode}: {:?}",
                t.elapsed()
            );
        }
        if mode == "closed" {
            assert_eq!(mock.request_count(), 0);
        }
    }
}
