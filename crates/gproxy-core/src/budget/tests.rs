use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};

use super::*;
use crate::cost::Usd;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn budgeter(budget: Budget) -> Budgeter {
    let mut config = BudgetsConfig::default();
    config.users.insert("alice".into(), budget);
    Budgeter::build(&config, None, None).unwrap()
}

fn usd(s: &str) -> Option<Usd> {
    Some(Usd(s.parse().unwrap()))
}

#[test]
fn periods_align_on_local_midnight() {
    let tz: chrono_tz::Tz = "America/New_York".parse().unwrap();
    // 2026-03-08 is the spring-forward day (02:00 → 03:00) in New York.
    let now = at("2026-03-08T15:00:00Z");
    let (start, reset) = bounds(Period::Daily, now, tz);
    assert_eq!(start, at("2026-03-08T05:00:00Z"));
    assert_eq!(reset, Some(at("2026-03-09T04:00:00Z")), "a 23-hour day");
    // A Sunday: the week began on Monday 2 March.
    let (start, reset) = bounds(Period::Weekly, now, tz);
    assert_eq!(start, at("2026-03-02T05:00:00Z"));
    assert_eq!(reset, Some(at("2026-03-09T04:00:00Z")));
    let (start, reset) = bounds(Period::Monthly, now, tz);
    assert_eq!(start, at("2026-03-01T05:00:00Z"));
    assert_eq!(reset, Some(at("2026-04-01T04:00:00Z")));
    // December rolls into the next year.
    let (start, reset) = bounds(Period::Monthly, at("2026-12-31T23:30:00Z"), chrono_tz::UTC);
    assert_eq!(start, at("2026-12-01T00:00:00Z"));
    assert_eq!(reset, Some(at("2027-01-01T00:00:00Z")));
    // Local time decides the day: 01:00 UTC is still the previous day in
    // New York, already the same day in Tokyo.
    let tokyo: chrono_tz::Tz = "Asia/Tokyo".parse().unwrap();
    assert_eq!(
        bounds(Period::Daily, at("2026-06-10T01:00:00Z"), tz).0,
        at("2026-06-09T04:00:00Z")
    );
    assert_eq!(
        bounds(Period::Daily, at("2026-06-10T01:00:00Z"), tokyo).0,
        at("2026-06-09T15:00:00Z")
    );
    assert_eq!(bounds(Period::Total, now, tz), (DateTime::UNIX_EPOCH, None));
}

#[test]
fn a_midnight_skipped_by_daylight_saving_starts_at_the_first_valid_time() {
    // Santiago springs forward at midnight: 2026-09-06 00:00 does not exist.
    let tz: chrono_tz::Tz = "America/Santiago".parse().unwrap();
    let (start, _) = bounds(Period::Daily, at("2026-09-06T12:00:00Z"), tz);
    assert_eq!(start, tz.with_ymd_and_hms(2026, 9, 6, 1, 0, 0).unwrap());
}

#[test]
fn lines_cover_user_and_key_with_every_period_set() {
    let mut config = BudgetsConfig::default();
    config.users.insert(
        "alice".into(),
        Budget {
            daily_usd: usd("1"),
            total_usd: usd("10"),
            warn_at_percent: Some(80),
            ..Budget::default()
        },
    );
    config.keys.insert(
        "sk-abc".into(),
        Budget {
            monthly_usd: usd("0.000000003"),
            warn_at_percent: Some(50),
            ..Budget::default()
        },
    );
    let b = Budgeter::build(&config, None, None).unwrap();
    let lines = b.lines(
        "alice",
        Some(1),
        "sk-abc",
        Some(7),
        at("2026-12-04T10:00:00Z"),
    );
    let got: Vec<(&str, Period, i64, Option<i64>)> = lines
        .iter()
        .map(|l| (l.scope(), l.period, l.limit, l.warn_at))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "user:alice",
                Period::Daily,
                1_000_000_000,
                Some(800_000_000)
            ),
            (
                "user:alice",
                Period::Total,
                10_000_000_000,
                Some(8_000_000_000)
            ),
            ("key:sk-abc", Period::Monthly, 3, Some(1)),
        ]
    );
    assert_eq!(lines[0].owner, Owner::User(1));
    assert_eq!(lines[2].owner, Owner::Key(7));
    assert!(b.lines("bob", Some(2), "sk-x", None, Utc::now()).is_empty());
}

#[tokio::test]
async fn reservations_hold_the_boundary_and_settle_to_the_real_cost() {
    let b = budgeter(Budget {
        daily_usd: usd("0.000001"), // 1000 nano-dollars
        ..Budget::default()
    });
    let observe = Arc::new(Observability::default());
    let now = Utc::now();
    let lines = || b.lines("alice", None, "sk-a", None, now);
    // Each request reserves 300: four fit (0, 300, 600, 900 < 1000), the
    // fifth is refused while they are in flight.
    let mut holds = Vec::new();
    for _ in 0..4 {
        holds.push(b.admit(lines(), 300, observe.clone()).await.unwrap());
    }
    let refused = b.admit(lines(), 300, observe.clone()).await.unwrap_err();
    assert!(
        matches!(&refused, BudgetRefusal::Exhausted { scope, period: Period::Daily, .. } if scope == "user:alice"),
        "{refused:?}"
    );
    assert!(refused.to_string().contains("resets at"), "{refused}");
    // Two end having cost less, one fails (costs nothing), one is dropped.
    let mut holds = holds.into_iter();
    holds.next().unwrap().settle(100);
    holds.next().unwrap().settle(250);
    holds.next().unwrap().settle(0);
    drop(holds.next());
    let s = b.standings(&lines()).await.unwrap();
    assert_eq!(
        s,
        vec![Standing {
            spent: 350,
            reserved: 0
        }]
    );
    // Room again: spent 350 < 1000.
    let h = b.admit(lines(), 5_000, observe.clone()).await.unwrap();
    h.settle(700);
    // 1050 spent: exhausted, refused at the boundary.
    assert!(b.admit(lines(), 0, observe).await.is_err());
}

#[tokio::test]
async fn fifty_concurrent_requests_overshoot_by_at_most_one() {
    let b = Arc::new(budgeter(Budget {
        total_usd: usd("0.00001"), // 10_000 nano-dollars
        ..Budget::default()
    }));
    let observe = Arc::new(Observability::default());
    let now = Utc::now();
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (b, observe) = (b.clone(), observe.clone());
        tasks.push(tokio::spawn(async move {
            let lines = b.lines("alice", None, "k", None, now);
            match b.admit(lines, 1_500, observe).await {
                Ok(hold) => {
                    tokio::task::yield_now().await;
                    hold.settle(1_200);
                    true
                }
                Err(_) => false,
            }
        }));
    }
    let mut admitted = 0;
    for t in tasks {
        admitted += u64::from(t.await.unwrap());
    }
    let spent = b
        .standings(&b.lines("alice", None, "k", None, now))
        .await
        .unwrap()[0]
        .spent;
    assert!(
        spent <= 10_000 + 1_500,
        "overshoot beyond one request: {spent}"
    );
    assert_eq!(spent, i64::try_from(admitted).unwrap() * 1_200);
    assert!(
        admitted >= 7,
        "a reservation blocked room that was there: {admitted}"
    );
}

#[test]
fn unpriced_and_passthrough_policies() {
    let b = budgeter(Budget {
        daily_usd: usd("1"),
        ..Budget::default()
    });
    assert!(matches!(
        b.reservation(None, "p", "m"),
        Err(BudgetRefusal::Uncountable(_))
    ));
    assert_eq!(b.reservation(Some(500_000_000), "p", "m"), Ok(500_000_000));
    assert!(b.passthrough_cost().is_err());
    let mut config = BudgetsConfig {
        unpriced: Some(UnpricedPolicy::Allow),
        passthrough_cost_usd: usd("0.01"),
        ..BudgetsConfig::default()
    };
    config.keys.insert(
        "k".into(),
        Budget {
            daily_usd: usd("1"),
            ..Budget::default()
        },
    );
    let b = Budgeter::build(&config, None, None).unwrap();
    assert_eq!(b.reservation(None, "p", "m"), Ok(0));
    assert_eq!(b.passthrough_cost(), Ok(10_000_000));
    assert!(Budgeter::build(&BudgetsConfig::default(), None, None).is_none());
}

#[tokio::test]
async fn the_soft_threshold_warns_once_per_period() {
    let b = budgeter(Budget {
        daily_usd: usd("0.000001"),
        warn_at_percent: Some(50),
        ..Budget::default()
    });
    let observe = Arc::new(Observability::default());
    observe
        .metrics
        .set_settings(crate::config::MetricsSettings {
            enabled: true,
            ..crate::config::MetricsSettings::default()
        });
    let lines = || b.lines("alice", None, "k", None, Utc::now());
    for cost in [200, 200, 200, 200] {
        b.admit(lines(), 1, observe.clone())
            .await
            .unwrap()
            .settle(cost);
    }
    let text = observe
        .metrics
        .encode(&crate::observe::metrics::Scrape::default());
    assert!(
        text.contains("gproxy_budget_warnings_total{period=\"daily\"} 1"),
        "{text}"
    );
    let view = line_view(&lines()[0], b.standings(&lines()).await.map(|s| s[0]));
    assert_eq!(view.warning, Some(true));
    assert_eq!(view.spent_usd.as_deref(), Some("0.0000008"));
    assert_eq!(view.remaining_usd.as_deref(), Some("0.0000002"));
    assert_eq!(view.exhausted, Some(false));
}

#[test]
fn a_principals_lines_are_built_once_per_period_and_follow_a_rename() {
    let b = budgeter(Budget {
        daily_usd: usd("5"),
        ..Budget::default()
    });
    let mut alice = crate::state::Principal {
        user_id: 1,
        user_name: Arc::from("alice"),
        key_prefix: Arc::from("sk-a"),
        key_id: Some(7),
        is_admin: false,
        access: None,
        expires_at_ms: None,
        max_cost_nano_usd: None,
    };
    let first = b.lines_of(&alice);
    assert_eq!(first.len(), 1);
    assert!(Arc::ptr_eq(&first, &b.lines_of(&alice)), "kept");
    // The same key under a new user name: built again, under the new name.
    alice.user_name = Arc::from("bob");
    assert!(b.lines_of(&alice).is_empty(), "bob has no budget");
    alice.user_name = Arc::from("alice");
    let again = b.lines_of(&alice);
    assert!(!Arc::ptr_eq(&first, &again));
    assert_eq!(first, again);
    assert!(again[0].reset.unwrap() > Utc::now());
}

#[tokio::test]
async fn the_reservation_sum_in_redis_follows_reservations_and_settlements_and_is_rebuilt() {
    let Some(url) = crate::redis_link::tests::redis().await else {
        return;
    };
    let prefix = format!("gproxy-test-budget-{}:", crate::ratelimit::rand_seed());
    let mut config: BudgetsConfig = toml::from_str(&format!(
        "backend = \"redis\"\nredis_url = \"{url}\"\nredis_prefix = \"{prefix}\"\n"
    ))
    .unwrap();
    config.users.insert(
        "alice".into(),
        Budget {
            daily_usd: usd("0.000001"), // 1000 nano-dollars
            ..Budget::default()
        },
    );
    let b = Budgeter::build(&config, None, None).unwrap();
    let observe = Arc::new(Observability::default());
    let now = Utc::now();
    let lines = || b.lines("alice", None, "sk-a", None, now);
    let first = b.admit(lines(), 300, observe.clone()).await.unwrap();
    let second = b.admit(lines(), 400, observe.clone()).await.unwrap();
    let standing = |reserved| Standing { spent: 0, reserved };
    assert_eq!(b.standings(&lines()).await.unwrap(), vec![standing(700)]);
    // A sum lost (keys from a version without it) is rebuilt from the set.
    let link = crate::redis_link::RedisLink::new(&url).unwrap();
    let mut del = crate::redis_link::Cmd::new("DEL");
    del.arg(format!("{prefix}{}:q", lines()[0].key()).as_bytes());
    let timeout = std::time::Duration::from_secs(1);
    assert_eq!(
        link.query(del, timeout).await.unwrap(),
        crate::redis_link::Reply::Int(1)
    );
    assert_eq!(b.standings(&lines()).await.unwrap(), vec![standing(700)]);
    // Admitted while spent + reserved is below the amount (700 < 1000),
    // then full (1000).
    let third = b.admit(lines(), 300, observe.clone()).await.unwrap();
    assert!(b.admit(lines(), 1, observe.clone()).await.is_err());
    // Lost again before the settlements: each finds no sum (and leaves
    // none behind), and the next check rebuilds it.
    let mut del = crate::redis_link::Cmd::new("DEL");
    del.arg(format!("{prefix}{}:q", lines()[0].key()).as_bytes());
    link.query(del, timeout).await.unwrap();
    // Settled (and one dropped): the sum follows, the spend too.
    first.settle(100);
    second.settle(200);
    drop(third);
    // The settlements ride ahead of the next call.
    assert_eq!(
        b.standings(&lines()).await.unwrap(),
        vec![Standing {
            spent: 300,
            reserved: 0
        }]
    );
}
