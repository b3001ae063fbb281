use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;

use super::*;

fn principal(key_id: i64) -> crate::state::Principal {
    crate::state::Principal {
        user_id: 1,
        user_name: Arc::from("alice"),
        key_prefix: Arc::from("sk-ali"),
        key_id: Some(key_id),
        is_admin: false,
        access: None,
        expires_at_ms: None,
        max_cost_nano_usd: None,
    }
}

fn cache(config: CacheConfig) -> ResponseCache {
    ResponseCache::build(
        &CacheConfig {
            enabled: Some(true),
            ..config
        },
        None,
    )
    .unwrap()
}

fn decide(
    c: &ResponseCache,
    key_id: i64,
    headers: &HeaderMap,
    model: &str,
) -> Option<Result<Decision, ()>> {
    c.decide(
        &principal(key_id),
        headers,
        "openai_chat",
        CacheOperation::Generate,
        model,
        "openai",
        "gpt-4o",
        br#"{"model":"gpt-4o","messages":[]}"#,
    )
}

#[test]
fn ids_are_found_and_replaced_everywhere_with_the_prefix_kept() {
    let chat = br#"data: {"id":"chatcmpl-AbC123xyz","object":"chat.completion.chunk"}

data: {"id":"chatcmpl-AbC123xyz","choices":[]}

"#;
    assert_eq!(first_id(chat).as_deref(), Some("chatcmpl-AbC123xyz"));
    let entry = Entry {
        content_type: "text/event-stream".into(),
        stream: true,
        usage: None,
        id: first_id(chat),
        stored_at_ms: 0,
        ttl_ms: 1_000,
        body: Bytes::from_static(chat),
    };
    let fresh = String::from_utf8(entry.fresh_body().to_vec()).unwrap();
    assert!(!fresh.contains("AbC123xyz"), "{fresh}");
    let ids: Vec<&str> = fresh
        .match_indices("chatcmpl-")
        .map(|(i, _)| &fresh[i..i + "chatcmpl-AbC123xyz".len()])
        .collect();
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0], ids[1], "one fresh id for the whole answer");
    assert_eq!(fresh.len(), chat.len());
    // Anthropic, Responses, Gemini.
    assert_eq!(
        first_id(br#"{"type":"message","id":"msg_01XyZ","content":[]}"#).as_deref(),
        Some("msg_01XyZ")
    );
    assert_eq!(
        first_id(
            br#"event: response.created
data: {"type":"response.created","response":{"id":"resp_abc","status":"in_progress"}}"#
        )
        .as_deref(),
        Some("resp_abc")
    );
    assert_eq!(
        first_id(br#"{"candidates":[],"responseId": "gem-123"}"#).as_deref(),
        Some("gem-123")
    );
    assert_eq!(first_id(br#"{"data":[{"embedding":[0.1]}]}"#), None);
    assert!(fresh_id("msg_01XyZ").starts_with("msg_"));
    assert_ne!(fresh_id("msg_01XyZ"), "msg_01XyZ");
}

#[test]
fn opt_in_bypass_and_refresh() {
    let none = HeaderMap::new();
    // Not opted in: the cache is not used at all.
    let c = cache(CacheConfig::default());
    assert!(decide(&c, 1, &none, "openai/gpt-4o").is_none());
    // Opted in by the header, a key, a model (client or upstream name), or `all`.
    let mut use_it = HeaderMap::new();
    use_it.insert(CACHE_HEADER, HeaderValue::from_static("use"));
    assert!(matches!(decide(&c, 1, &use_it, "x"), Some(Ok(d)) if d.lookup));
    let c = cache(CacheConfig {
        keys: vec!["sk-ali".into()],
        ..CacheConfig::default()
    });
    assert!(matches!(decide(&c, 1, &none, "x"), Some(Ok(_))));
    let mut models = std::collections::BTreeMap::new();
    models.insert(
        "gpt-4o".to_owned(),
        CacheModelRule {
            ttl_secs: Some(7),
            enabled: None,
        },
    );
    models.insert(
        "never".to_owned(),
        CacheModelRule {
            ttl_secs: None,
            enabled: Some(false),
        },
    );
    let c = cache(CacheConfig {
        all: Some(true),
        models,
        ..CacheConfig::default()
    });
    assert!(matches!(decide(&c, 1, &none, "x"), Some(Ok(d)) if d.ttl == Duration::from_secs(7)));
    assert!(
        decide(&c, 1, &use_it, "never").is_none(),
        "a model switched off"
    );
    // no-store / bypass: neither; no-cache: store only.
    let mut h = HeaderMap::new();
    h.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=0, no-store"),
    );
    assert!(matches!(decide(&c, 1, &h, "x"), Some(Err(()))));
    let mut h = HeaderMap::new();
    h.insert(CACHE_HEADER, HeaderValue::from_static("bypass"));
    assert!(matches!(decide(&c, 1, &h, "x"), Some(Err(()))));
    let mut h = HeaderMap::new();
    h.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache"),
    );
    assert!(matches!(decide(&c, 1, &h, "x"), Some(Ok(d)) if !d.lookup));
    // Partitions: two keys, two keys; `user`: one.
    let (a, b) = (
        decide(&c, 1, &none, "x").unwrap().unwrap().key,
        decide(&c, 2, &none, "x").unwrap().unwrap().key,
    );
    assert_ne!(a, b);
    let c = cache(CacheConfig {
        all: Some(true),
        partition: Some(CachePartitioning::User),
        ..CacheConfig::default()
    });
    assert_eq!(
        decide(&c, 1, &none, "x").unwrap().unwrap().key,
        decide(&c, 2, &none, "x").unwrap().unwrap().key
    );
    assert_eq!(c.report().bypasses, 0);
}

#[tokio::test]
async fn memory_entries_expire_with_their_own_lifetime_and_purge() {
    let c = Arc::new(cache(CacheConfig {
        all: Some(true),
        max_entry_bytes: Some(1_024),
        ..CacheConfig::default()
    }));
    let key = decide(&c, 1, &HeaderMap::new(), "x").unwrap().unwrap().key;
    assert!(c.get(&key).await.is_none());
    let fill = |ttl: Duration, body: &[u8]| {
        let mut f = Fill {
            cache: c.clone(),
            key: key.clone(),
            ttl,
            stream: false,
            content_type: Some("application/json".into()),
            body: Vec::new(),
            overflow: false,
        };
        f.push(body);
        f
    };
    fill(Duration::from_millis(300), br#"{"id":"chatcmpl-1"}"#).store(None);
    let deadline = Instant::now() + Duration::from_secs(2);
    let hit = loop {
        if let Some(e) = c.get(&key).await {
            break e;
        }
        assert!(Instant::now() < deadline, "never stored");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(hit.content_type, "application/json");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(c.get(&key).await.is_none(), "expired");
    // Over max_entry_bytes: not stored.
    fill(Duration::from_secs(60), &[b'x'; 2_000]).store(None);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(c.get(&key).await.is_none());
    fill(Duration::from_secs(60), b"{}").store(None);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(c.get(&key).await.is_some());
    assert_eq!(c.purge().await, Ok(1));
    assert!(c.get(&key).await.is_none());
    let r = c.report();
    assert_eq!((r.backend, r.stores), ("memory", 2));
    assert!(r.hits >= 2 && r.misses >= 3, "{r:?}");
}
