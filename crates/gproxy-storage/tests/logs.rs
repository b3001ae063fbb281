//! Request-log queries, detail, usage aggregates, the audit log and the
//! retention purge, on every backend.
#![cfg(test)] // lets clippy see helpers as test code (unwrap/expect allowed)

mod common;

use std::collections::HashSet;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::Ctx;
use gproxy_storage::{
    AttemptRecord, AuditQuery, CapturedBodies, LogQuery, NewAudit, NewUser, NewUserKey, RequestLog,
    StorageError, TimeBucket, UsageGroup, UsageQuery,
};
use serde_json::json;

backend_tests!(
    log_query_filters_and_pages,
    key_filter_reads_through_the_owner,
    log_detail_has_attempts_and_bodies,
    usage_aggregates_sum_and_bucket,
    cost_columns_round_trip_and_sum,
    audit_inserts_and_queries,
    purge_removes_old_rows_in_batches,
);

/// 2026-12-01 00:00:00 UTC.
fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap()
}

/// Row `i`: one minute apart from `base()`, providers alternating a/b,
/// users 1..=3, keys 10/11, status 200 except every fifth 500 and every
/// seventh 429.
fn row(i: i64) -> RequestLog {
    let status = if i % 5 == 0 {
        500
    } else if i % 7 == 0 {
        429
    } else {
        200
    };
    RequestLog {
        request_id: format!("q-{i}"),
        created_at: base() + Duration::minutes(i),
        user_id: Some(1 + i % 3),
        key_id: Some(10 + i % 2),
        provider: Some(if i % 2 == 0 { "a" } else { "b" }.to_owned()),
        credential_id: Some(100 + i % 2),
        model: Some(if i % 4 < 2 { "m1" } else { "m2" }.to_owned()),
        protocol: if i % 3 == 0 {
            "claude.messages"
        } else {
            "openai.chat"
        }
        .to_owned(),
        method: "POST".to_owned(),
        path: "/v1/chat/completions".to_owned(),
        status,
        latency_ms: 10 * (i as u64 + 1),
        input_tokens: Some(i as u64),
        output_tokens: Some(2),
        ..RequestLog::default()
    }
}

fn ids(page: &gproxy_storage::LogPage) -> Vec<String> {
    page.items
        .iter()
        .map(|r| r.log.request_id.clone())
        .collect()
}

async fn log_query_filters_and_pages(ctx: Ctx) {
    let s = &ctx.storage;
    let rows: Vec<RequestLog> = (0..100).map(row).collect();
    s.insert_request_logs(&rows).await.unwrap();

    // Newest first, paged by cursor without duplicates or gaps.
    let mut seen = Vec::new();
    let mut q = LogQuery {
        limit: 7,
        ..LogQuery::default()
    };
    let mut pages = 0;
    loop {
        let page = s.query_request_logs(&q).await.unwrap();
        pages += 1;
        assert!(page.items.len() <= 7);
        seen.extend(ids(&page));
        match page.next_cursor {
            Some(c) => q.cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(pages, 15);
    let expected: Vec<String> = (0..100).rev().map(|i| format!("q-{i}")).collect();
    assert_eq!(seen, expected);
    let ids_desc: Vec<i64> = {
        let all = s
            .query_request_logs(&LogQuery {
                limit: 500,
                ..LogQuery::default()
            })
            .await
            .unwrap();
        assert_eq!(all.next_cursor, None);
        all.items.iter().map(|r| r.id).collect()
    };
    assert!(ids_desc.windows(2).all(|w| w[0] > w[1]));

    // Filters, each alone and combined; paging under a filter.
    let count = |q: LogQuery| async move {
        let mut n = 0;
        let mut q = LogQuery { limit: 9, ..q };
        let mut seen = HashSet::new();
        loop {
            let page = s.query_request_logs(&q).await.unwrap();
            for item in &page.items {
                assert!(seen.insert(item.id), "duplicate {}", item.id);
            }
            n += page.items.len();
            match page.next_cursor {
                Some(c) => q.cursor = Some(c),
                None => return n,
            }
        }
    };
    assert_eq!(
        count(LogQuery {
            provider: Some("a".into()),
            ..LogQuery::default()
        })
        .await,
        50
    );
    assert_eq!(
        count(LogQuery {
            user_id: Some(1),
            ..LogQuery::default()
        })
        .await,
        34
    );
    assert_eq!(
        count(LogQuery {
            key_id: Some(11),
            ..LogQuery::default()
        })
        .await,
        50
    );
    assert_eq!(
        count(LogQuery {
            model: Some("m2".into()),
            ..LogQuery::default()
        })
        .await,
        50
    );
    assert_eq!(
        count(LogQuery {
            protocol: Some("claude.messages".into()),
            ..LogQuery::default()
        })
        .await,
        34
    );
    assert_eq!(
        count(LogQuery {
            status_class: Some(5),
            ..LogQuery::default()
        })
        .await,
        20
    );
    assert_eq!(
        count(LogQuery {
            status_class: Some(4),
            ..LogQuery::default()
        })
        .await,
        12
    );
    assert_eq!(
        count(LogQuery {
            status_class: Some(2),
            ..LogQuery::default()
        })
        .await,
        68
    );
    assert_eq!(
        count(LogQuery {
            from: Some(base() + Duration::minutes(10)),
            to: Some(base() + Duration::minutes(20)),
            ..LogQuery::default()
        })
        .await,
        10
    );
    assert_eq!(
        count(LogQuery {
            provider: Some("a".into()),
            user_id: Some(1),
            status_class: Some(2),
            ..LogQuery::default()
        })
        .await,
        (0..100)
            .filter(|i| i % 2 == 0 && i % 3 == 0 && i % 5 != 0 && i % 7 != 0)
            .count()
    );
    let one = s
        .query_request_logs(&LogQuery {
            request_id: Some("q-42".into()),
            limit: 5,
            ..LogQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(ids(&one), vec!["q-42"]);
    assert_eq!(one.items[0].log.key_id, Some(10));
    assert_eq!(one.items[0].log.created_at, base() + Duration::minutes(42));

    // A window reaching past the newest row (read newest first) and a row
    // logged late, out of `created_at` order (a long request), which an
    // old window must still find.
    assert_eq!(
        count(LogQuery {
            from: Some(base() + Duration::minutes(90)),
            to: Some(base() + Duration::days(1)),
            ..LogQuery::default()
        })
        .await,
        10
    );
    s.insert_request_logs(&[RequestLog {
        request_id: "late".into(),
        created_at: base() + Duration::minutes(15) + Duration::seconds(30),
        ..row(7)
    }])
    .await
    .unwrap();
    let window = s
        .query_request_logs(&LogQuery {
            from: Some(base() + Duration::minutes(10)),
            to: Some(base() + Duration::minutes(20)),
            limit: 500,
            ..LogQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(window.items.len(), 11);
    assert_eq!(window.items[0].log.request_id, "late", "highest id first");

    // Bad input names its field.
    for (q, field) in [
        (
            LogQuery {
                cursor: Some("not a cursor".into()),
                limit: 5,
                ..LogQuery::default()
            },
            "cursor",
        ),
        (
            LogQuery {
                limit: 0,
                ..LogQuery::default()
            },
            "limit",
        ),
        (
            LogQuery {
                limit: 501,
                ..LogQuery::default()
            },
            "limit",
        ),
        (
            LogQuery {
                status_class: Some(6),
                limit: 5,
                ..LogQuery::default()
            },
            "status_class",
        ),
    ] {
        let err = s.query_request_logs(&q).await.unwrap_err();
        assert!(
            matches!(err, StorageError::InvalidValue { field: f, .. } if f == field),
            "{err}"
        );
    }
}

/// A key filter adds the key's owner (the `(user_id, id)` index serves it)
/// and still finds the rows of a key that no longer exists.
async fn key_filter_reads_through_the_owner(ctx: Ctx) {
    let s = &ctx.storage;
    let user = |name: &'static str| async move {
        s.create_user(&NewUser {
            name: name.into(),
            role: "user".into(),
            password_hash: None,
            enabled: true,
        })
        .await
        .unwrap()
        .id
    };
    let (alice, bob) = (user("alice").await, user("bob").await);
    let key = |user_id: i64, hash: char| NewUserKey {
        user_id,
        key_hash: hash.to_string().repeat(64),
        key_prefix: "sk-gp-t".into(),
        label: None,
        expires_at: None,
        allowed_providers: None,
        allowed_models: None,
        max_cost_nano_usd: None,
        scope: "proxy".into(),
        enabled: true,
    };
    let a1 = s.create_user_key(&key(alice, 'a')).await.unwrap().id;
    let a2 = s.create_user_key(&key(alice, 'b')).await.unwrap().id;
    let b1 = s.create_user_key(&key(bob, 'c')).await.unwrap().id;
    let gone = b1 + 100;
    let owners = [(alice, a1), (alice, a2), (bob, b1), (bob, gone)];
    let rows: Vec<RequestLog> = (0..40)
        .map(|i| {
            let (user_id, key_id) = owners[i as usize % 4];
            RequestLog {
                user_id: Some(user_id),
                key_id: Some(key_id),
                ..row(i)
            }
        })
        .collect();
    s.insert_request_logs(&rows).await.unwrap();
    let by = |key_id: i64, user_id: Option<i64>| LogQuery {
        key_id: Some(key_id),
        user_id,
        limit: 500,
        ..LogQuery::default()
    };
    let expect = |k: usize| -> Vec<String> {
        (0..40)
            .rev()
            .filter(|i| i % 4 == k as i64)
            .map(|i| format!("q-{i}"))
            .collect()
    };
    for (k, (_, key_id)) in owners.iter().enumerate() {
        let page = s.query_request_logs(&by(*key_id, None)).await.unwrap();
        assert_eq!(ids(&page), expect(k), "key {key_id}");
    }
    // An explicit user that does not own the key matches nothing.
    let none = s.query_request_logs(&by(a1, Some(bob))).await.unwrap();
    assert!(none.items.is_empty());
    let same = s.query_request_logs(&by(a1, Some(alice))).await.unwrap();
    assert_eq!(ids(&same), expect(0));
}

async fn log_detail_has_attempts_and_bodies(ctx: Ctx) {
    let s = &ctx.storage;
    let at = base();
    let log = RequestLog {
        attempts: vec![
            AttemptRecord {
                attempt: 1,
                provider: "a".into(),
                credential_id: Some(5),
                status: Some(429),
                latency_ms: 12,
                error_class: Some("rate_limit".into()),
                error: Some("e".repeat(5000)),
                created_at: at,
            },
            AttemptRecord {
                attempt: 2,
                provider: "a".into(),
                credential_id: Some(6),
                status: None,
                latency_ms: 30,
                error_class: Some("connect".into()),
                error: Some("refused".into()),
                created_at: at + Duration::milliseconds(20),
            },
            AttemptRecord {
                attempt: 3,
                provider: "a".into(),
                credential_id: Some(7),
                status: Some(200),
                latency_ms: 40,
                error_class: None,
                error: None,
                created_at: at + Duration::milliseconds(60),
            },
        ],
        bodies: Some(CapturedBodies {
            request_headers: json!({"authorization": ["[redacted]"], "x-trace": ["1"]}),
            request_body: Some("{\"model\":\"m\"}\0".into()),
            request_truncated: false,
            response_body: Some("héllo".repeat(10)),
            response_truncated: true,
        }),
        ..row(1)
    };
    s.insert_request_logs(&[log, row(2)]).await.unwrap();

    let detail = s.request_log_detail("q-1").await.unwrap().unwrap();
    assert_eq!(detail.log.log.request_id, "q-1");
    assert!(
        detail.log.log.attempts.is_empty(),
        "attempts come separately"
    );
    assert_eq!(detail.attempts.len(), 3);
    let a = &detail.attempts;
    assert_eq!(
        (a[0].attempt, a[0].status, a[0].credential_id),
        (1, Some(429), Some(5))
    );
    assert_eq!(a[0].error_class.as_deref(), Some("rate_limit"));
    assert_eq!(a[0].error.as_ref().map(|e| e.chars().count()), Some(1024));
    assert_eq!(
        (a[1].status, a[1].error_class.as_deref()),
        (None, Some("connect"))
    );
    assert_eq!(
        (a[2].status, a[2].error_class.as_deref()),
        (Some(200), None)
    );
    assert_eq!(a[1].created_at, at + Duration::milliseconds(20));
    let b = detail.bodies.unwrap();
    assert_eq!(b.request_headers["x-trace"], json!(["1"]));
    assert_eq!(b.request_body.as_deref(), Some("{\"model\":\"m\"}\u{FFFD}"));
    assert_eq!(b.response_body, Some("héllo".repeat(10)));
    assert!(b.response_truncated && !b.request_truncated);

    let plain = s.request_log_detail("q-2").await.unwrap().unwrap();
    assert!(plain.attempts.is_empty() && plain.bodies.is_none());
    assert_eq!(s.request_log_detail("missing").await.unwrap(), None);

    // The JSON form of a list row leaves out the empty detail fields.
    let v = serde_json::to_value(&plain.log).unwrap();
    assert_eq!(v["request_id"], "q-2");
    assert!(v.get("attempts").is_none() && v.get("bodies").is_none());
    assert!(v["id"].is_i64());
}

async fn usage_aggregates_sum_and_bucket(ctx: Ctx) {
    let s = &ctx.storage;
    // 100 rows, one minute apart from 00:00: two UTC hours (60 + 40).
    let rows: Vec<RequestLog> = (0..100).map(row).collect();
    s.insert_request_logs(&rows).await.unwrap();
    // One row outside the range, with an error but status 200.
    s.insert_request_logs(&[RequestLog {
        created_at: base() + Duration::days(3),
        error: Some("x".into()),
        ..row(1000)
    }])
    .await
    .unwrap();
    let q = UsageQuery {
        from: base(),
        to: base() + Duration::days(1),
        group_by: vec![],
        bucket: None,
        user_id: None,
        key_id: None,
        provider: None,
        model: None,
    };

    let total = s.usage_aggregates(&q).await.unwrap();
    assert_eq!(total.len(), 1);
    let t = &total[0];
    assert_eq!(t.requests, 100);
    assert_eq!(t.errors, 32); // 20 × 500 + 12 × 429
    assert_eq!(t.input_tokens, (0..100).sum::<u64>());
    assert_eq!(t.output_tokens, 200);
    assert_eq!(t.cache_read_tokens, 0);
    // Latencies 10, 20, ..., 1000 ms: p50 ≈ 500, p95 ≈ 950 (bucket precision).
    assert!((400..=600).contains(&t.latency_p50_ms), "{t:?}");
    assert!((900..=1000).contains(&t.latency_p95_ms), "{t:?}");
    assert_eq!(t.provider, None);

    let by = s
        .usage_aggregates(&UsageQuery {
            group_by: vec![UsageGroup::Provider, UsageGroup::Model],
            ..q.clone()
        })
        .await
        .unwrap();
    let keys: Vec<(Option<&str>, Option<&str>, u64)> = by
        .iter()
        .map(|r| (r.provider.as_deref(), r.model.as_deref(), r.requests))
        .collect();
    assert_eq!(
        keys,
        vec![
            (Some("a"), Some("m1"), 25),
            (Some("a"), Some("m2"), 25),
            (Some("b"), Some("m1"), 25),
            (Some("b"), Some("m2"), 25),
        ]
    );
    let b_m1: u64 = (0..100).filter(|i| i % 2 == 1 && i % 4 < 2).sum();
    assert_eq!(by[2].input_tokens, b_m1);

    let hourly = s
        .usage_aggregates(&UsageQuery {
            bucket: Some(TimeBucket::Hour),
            group_by: vec![UsageGroup::Key],
            ..q.clone()
        })
        .await
        .unwrap();
    let got: Vec<(Option<DateTime<Utc>>, Option<i64>, u64)> = hourly
        .iter()
        .map(|r| (r.bucket_start, r.key_id, r.requests))
        .collect();
    let h1 = base() + Duration::hours(1);
    assert_eq!(
        got,
        vec![
            (Some(base()), Some(10), 30),
            (Some(base()), Some(11), 30),
            (Some(h1), Some(10), 20),
            (Some(h1), Some(11), 20),
        ]
    );
    // Rows 60..=99 (hour 1, key 10): latencies 610..=990 by 20.
    let p50 = hourly[2].latency_p50_ms;
    assert!((750..=1000).contains(&p50), "{p50}");

    let daily = s
        .usage_aggregates(&UsageQuery {
            from: base() - Duration::days(1),
            to: base() + Duration::days(5),
            bucket: Some(TimeBucket::Day),
            group_by: vec![UsageGroup::User, UsageGroup::Credential],
            user_id: Some(2),
            ..q.clone()
        })
        .await
        .unwrap();
    let got: Vec<_> = daily
        .iter()
        .map(|r| {
            (
                r.bucket_start,
                r.user_id,
                r.credential_id,
                r.requests,
                r.errors,
            )
        })
        .collect();
    let u2 = |odd: i64| (0..100).filter(|i| i % 3 == 1 && i % 2 == odd).count() as u64;
    let u2_err = |odd: i64| {
        (0..100)
            .filter(|i| i % 3 == 1 && i % 2 == odd && (i % 5 == 0 || i % 7 == 0))
            .count() as u64
    };
    assert_eq!(
        got,
        vec![
            (Some(base()), Some(2), Some(100), u2(0), u2_err(0)),
            (Some(base()), Some(2), Some(101), u2(1), u2_err(1)),
            // Row 1000 (user 2, credential 100), its error counts.
            (Some(base() + Duration::days(3)), Some(2), Some(100), 1, 1),
        ]
    );

    // No rows in range: no groups; an empty range is refused.
    let none = s
        .usage_aggregates(&UsageQuery {
            from: base() - Duration::days(9),
            to: base() - Duration::days(8),
            ..q.clone()
        })
        .await
        .unwrap();
    assert!(none.is_empty());
    let err = s
        .usage_aggregates(&UsageQuery {
            to: q.from,
            ..q.clone()
        })
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        StorageError::InvalidValue { field: "to", .. }
    ));
}

async fn audit_inserts_and_queries(ctx: Ctx) {
    let s = &ctx.storage;
    for i in 0..25i64 {
        s.insert_audit(&NewAudit {
            created_at: base() + Duration::seconds(i),
            actor: if i % 2 == 0 { "admin-key" } else { "alice" }.into(),
            actor_user_id: (i % 2 == 1).then_some(7),
            action: if i % 5 == 0 {
                "provider.delete"
            } else {
                "provider.update"
            }
            .into(),
            target_type: if i % 3 == 0 { "credential" } else { "provider" }.into(),
            target_id: format!("t-{}", i % 4),
            client_ip: Some("10.0.0.1".into()),
            outcome: if i == 24 { 409 } else { 200 },
            detail: Some(json!({"i": i, "changed": ["base_url"]})),
        })
        .await
        .unwrap();
    }
    let mut q = AuditQuery {
        limit: 10,
        ..AuditQuery::default()
    };
    let mut seen = Vec::new();
    loop {
        let page = s.query_audit(&q).await.unwrap();
        seen.extend(
            page.items
                .iter()
                .map(|r| r.detail.as_ref().unwrap()["i"].as_i64().unwrap()),
        );
        match page.next_cursor {
            Some(c) => q.cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, (0..25).rev().collect::<Vec<_>>());

    let first = s
        .query_audit(&AuditQuery {
            limit: 1,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    let r = &first.items[0];
    assert_eq!(
        (
            r.actor.as_str(),
            r.outcome,
            r.client_ip.as_deref(),
            r.created_at
        ),
        (
            "admin-key",
            409,
            Some("10.0.0.1"),
            base() + Duration::seconds(24)
        )
    );

    let n = |q: AuditQuery| async move {
        s.query_audit(&AuditQuery { limit: 500, ..q })
            .await
            .unwrap()
            .items
            .len()
    };
    assert_eq!(
        n(AuditQuery {
            actor: Some("alice".into()),
            ..AuditQuery::default()
        })
        .await,
        12
    );
    assert_eq!(
        n(AuditQuery {
            action: Some("provider.delete".into()),
            ..AuditQuery::default()
        })
        .await,
        5
    );
    assert_eq!(
        n(AuditQuery {
            target_type: Some("credential".into()),
            ..AuditQuery::default()
        })
        .await,
        9
    );
    assert_eq!(
        n(AuditQuery {
            target_id: Some("t-0".into()),
            ..AuditQuery::default()
        })
        .await,
        7
    );
    assert_eq!(
        n(AuditQuery {
            from: Some(base() + Duration::seconds(5)),
            to: Some(base() + Duration::seconds(8)),
            ..AuditQuery::default()
        })
        .await,
        3
    );

    let err = s
        .query_audit(&AuditQuery {
            cursor: Some("?".into()),
            limit: 5,
            ..AuditQuery::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        StorageError::InvalidValue {
            field: "cursor",
            ..
        }
    ));
    let err = s
        .insert_audit(&NewAudit {
            actor: String::new(),
            action: "x".into(),
            target_type: "y".into(),
            ..NewAudit::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        StorageError::InvalidValue {
            field: "audit_log.actor",
            ..
        }
    ));
}

async fn purge_removes_old_rows_in_batches(ctx: Ctx) {
    let s = &ctx.storage;
    let attempt = |at| AttemptRecord {
        attempt: 1,
        provider: "a".into(),
        status: Some(200),
        created_at: at,
        ..AttemptRecord::default()
    };
    // 2500 old rows (more than one batch) and 10 new ones.
    let mut rows: Vec<RequestLog> = (0..2500)
        .map(|i| {
            let mut r = row(i);
            r.created_at = base() - Duration::days(40) + Duration::seconds(i);
            r.attempts = vec![attempt(r.created_at)];
            r
        })
        .collect();
    rows[0].bodies = Some(CapturedBodies::default());
    for i in 0..10 {
        let mut r = row(5000 + i);
        r.attempts = vec![attempt(r.created_at)];
        r.bodies = Some(CapturedBodies::default());
        rows.push(r);
    }
    s.insert_request_logs(&rows).await.unwrap();
    assert_eq!(s.count_request_logs().await.unwrap(), 2510);

    let removed = s
        .purge_request_logs_before(base() - Duration::days(30))
        .await
        .unwrap();
    assert_eq!(removed, 2500);
    assert_eq!(s.count_request_logs().await.unwrap(), 10);
    assert!(s.request_log_detail("q-0").await.unwrap().is_none());
    let kept = s.request_log_detail("q-5003").await.unwrap().unwrap();
    assert_eq!(kept.attempts.len(), 1);
    assert!(kept.bodies.is_some());
    use gproxy_storage::entities::{request_attempts, request_bodies};
    use sea_orm::{EntityTrait, PaginatorTrait};
    assert_eq!(
        request_attempts::Entity::find()
            .count(s.connection())
            .await
            .unwrap(),
        10
    );
    assert_eq!(
        request_bodies::Entity::find()
            .count(s.connection())
            .await
            .unwrap(),
        10
    );
    assert_eq!(
        s.purge_request_logs_before(base() - Duration::days(30))
            .await
            .unwrap(),
        0
    );
}

/// `cost_nano_usd` and `price_version` are written, read back (NULL stays
/// NULL: unknown is not zero) and summed exactly per group.
async fn cost_columns_round_trip_and_sum(ctx: Ctx) {
    let s = &ctx.storage;
    let rows = [
        RequestLog {
            cost_nano_usd: Some(3_500_000),
            price_version: Some("2026-12-04".into()),
            ..row(0)
        },
        RequestLog {
            cost_nano_usd: Some(1),
            price_version: Some("2026-12-04+override".into()),
            ..row(2)
        },
        RequestLog {
            cost_nano_usd: None,
            ..row(4)
        },
        RequestLog {
            cost_nano_usd: Some(9_000_000_000_000),
            price_version: Some("v".repeat(100)),
            ..row(1)
        },
    ];
    s.insert_request_logs(&rows).await.unwrap();
    let detail = s.request_log_detail("q-0").await.unwrap().unwrap();
    assert_eq!(detail.log.log.cost_nano_usd, Some(3_500_000));
    assert_eq!(detail.log.log.price_version.as_deref(), Some("2026-12-04"));
    let unknown = s.request_log_detail("q-4").await.unwrap().unwrap();
    assert_eq!(unknown.log.log.cost_nano_usd, None);
    assert_eq!(unknown.log.log.price_version, None);
    // Clipped to its column.
    let long = s.request_log_detail("q-1").await.unwrap().unwrap();
    assert_eq!(long.log.log.price_version.map(|v| v.len()), Some(64));

    let by = s
        .usage_aggregates(&UsageQuery {
            from: base(),
            to: base() + Duration::days(1),
            group_by: vec![UsageGroup::Provider],
            bucket: None,
            user_id: None,
            key_id: None,
            provider: None,
            model: None,
        })
        .await
        .unwrap();
    let got: Vec<_> = by
        .iter()
        .map(|r| {
            (
                r.provider.as_deref(),
                r.requests,
                r.priced_requests,
                r.cost_nano_usd,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (Some("a"), 3, 2, 3_500_001),
            (Some("b"), 1, 1, 9_000_000_000_000)
        ]
    );
}
