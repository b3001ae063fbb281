//! The exact-match response cache (`[cache]`, docs/cache.md).
//!
//! A generate or embeddings call is looked up before anything goes
//! upstream, by a key over the tenant partition, the client's protocol, the
//! provider and upstream model it was planned to, the kind of call (answer,
//! stream, embeddings) and the client's body in canonical JSON ([`key`]).
//! What is stored is what the client got: the answer's bytes, or every
//! byte of the stream, with its content type and usage. A hit is served as
//! it was, in the client's protocol, with its response id made fresh.
//!
//! Entries live in memory (moka, bounded by bytes, each with its own
//! lifetime) or in Redis (shared by every instance; a slow or unreachable
//! Redis is a miss, never an error). Only complete successful answers are
//! stored: an error, a stream cut short or a client that left stores
//! nothing.

pub mod key;
mod redis;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use gproxy_protocol::Usage;
use http::HeaderMap;

use crate::config::{
    CacheConfig, CacheModelRule, CachePartitioning, DEFAULT_CACHE_PREFIX, RateLimitBackend,
};
use key::{CacheKey, CacheKeyInput, CacheOperation, CachePartition};

/// The response header saying what the cache did: `hit`, `miss` (looked
/// up, not found; stored if it succeeds) or `bypass` (asked not to, or
/// not cacheable).
pub const CACHE_HEADER: &str = "x-gproxy-cache";
/// The `price_version` of a request-log row answered from the cache (its
/// cost is 0: nothing went upstream).
pub const CACHE_PRICE_VERSION: &str = "cache";

/// One stored answer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Entry {
    /// The answer's content type.
    pub content_type: String,
    /// Whether it is a stream's bytes.
    pub stream: bool,
    /// The usage it was billed with.
    pub usage: Option<Usage>,
    /// The response id in it, replaced by a fresh one on each hit.
    pub id: Option<String>,
    /// When it was stored (epoch ms).
    pub stored_at_ms: u64,
    /// Its lifetime, ms.
    pub ttl_ms: u64,
    /// What the client got.
    #[serde(skip)]
    pub body: Bytes,
}

impl Entry {
    /// The body with every occurrence of the stored response id replaced by
    /// a fresh one of the same shape (prefix kept).
    pub(crate) fn fresh_body(&self) -> Bytes {
        let Some(id) = self.id.as_deref().filter(|id| id.len() >= 4) else {
            return self.body.clone();
        };
        let fresh = fresh_id(id);
        let finder = memchr::memmem::Finder::new(id.as_bytes());
        let mut out = Vec::with_capacity(self.body.len());
        let mut last = 0;
        for at in finder.find_iter(&self.body) {
            out.extend_from_slice(&self.body[last..at]);
            out.extend_from_slice(fresh.as_bytes());
            last = at + id.len();
        }
        out.extend_from_slice(&self.body[last..]);
        Bytes::from(out)
    }

    fn weight(&self, key: &str) -> u32 {
        u32::try_from(key.len() + self.body.len() + 256).unwrap_or(u32::MAX)
    }
}

/// `id` with what follows its prefix (up to the last `_` or `-` within
/// its first 16 characters) replaced by random alphanumerics.
fn fresh_id(id: &str) -> String {
    use rand::Rng;
    let head = &id[..id.len().min(16)];
    let keep = head.rfind(['_', '-']).map_or(0, |i| i + 1);
    let tail: String = rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(id.len() - keep)
        .map(char::from)
        .collect();
    format!("{}{tail}", &id[..keep])
}

/// The first response id in `body`: the value of its first `"id"` (or
/// Gemini's `"responseId"`) string field.
pub(crate) fn first_id(body: &[u8]) -> Option<String> {
    [
        "\"id\":\"",
        "\"id\": \"",
        "\"responseId\":\"",
        "\"responseId\": \"",
    ]
    .iter()
    .filter_map(|p| memchr::memmem::find(body, p.as_bytes()).map(|at| at + p.len()))
    .min()
    .and_then(|start| {
        let len = memchr::memchr2(b'"', b'\\', &body[start..])?;
        (body.get(start + len) == Some(&b'"'))
            .then(|| String::from_utf8(body[start..start + len].to_vec()).ok())
            .flatten()
    })
}

/// What the cache does for one request.
#[derive(Debug, Clone)]
pub(crate) struct Decision {
    pub key: CacheKey,
    /// Look the key up first (else only store the answer).
    pub lookup: bool,
    pub ttl: Duration,
}

/// What a request asked of the cache in its headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ask {
    /// `x-gproxy-cache: use`: opted in.
    opt_in: bool,
    /// `cache-control: no-cache`: do not serve from the cache; store.
    refresh: bool,
    /// `cache-control: no-store` or `x-gproxy-cache: bypass`: neither.
    bypass: bool,
}

fn ask(headers: &HeaderMap) -> Ask {
    let mut ask = Ask {
        opt_in: false,
        refresh: false,
        bypass: false,
    };
    match headers.get(CACHE_HEADER).and_then(|v| v.to_str().ok()) {
        Some(v) if v.eq_ignore_ascii_case("bypass") => ask.bypass = true,
        Some(v) if v.eq_ignore_ascii_case("use") => ask.opt_in = true,
        _ => {}
    }
    for v in headers.get_all(http::header::CACHE_CONTROL) {
        for directive in v.to_str().unwrap_or("").split(',') {
            match directive.trim().to_ascii_lowercase().as_str() {
                "no-store" => ask.bypass = true,
                "no-cache" => ask.refresh = true,
                _ => {}
            }
        }
    }
    ask
}

/// The resolved `[cache]`.
#[derive(Debug, Clone)]
struct Rules {
    all: bool,
    partition: CachePartitioning,
    ttl: Duration,
    max_entry: usize,
    timeout: Duration,
    keys: HashSet<String>,
    models: HashMap<String, CacheModelRule>,
}

enum Store {
    Memory(moka::future::Cache<String, Arc<Entry>>),
    Redis(Box<redis::RedisCache>),
}

/// Hit, miss, bypass and store counts.
#[derive(Debug, Default)]
pub struct CacheStats {
    hits: AtomicU64,
    misses: AtomicU64,
    bypasses: AtomicU64,
    stores: AtomicU64,
}

/// The cache's counters, for `/health`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct CacheReport {
    /// `memory` or `redis`.
    pub backend: &'static str,
    /// Entries (memory backend; `null` for Redis).
    pub entries: Option<u64>,
    /// Their weight in bytes (memory backend).
    pub bytes: Option<u64>,
    /// Answers served from the cache (this instance).
    pub hits: u64,
    /// Lookups that found nothing.
    pub misses: u64,
    /// Requests that asked not to use it, or could not.
    pub bypasses: u64,
    /// Answers stored.
    pub stores: u64,
}

/// The cache in force.
pub struct ResponseCache {
    rules: Rules,
    store: Arc<Store>,
    backend: (RateLimitBackend, Option<String>, String, u64),
    stats: Arc<CacheStats>,
}

impl std::fmt::Debug for ResponseCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseCache")
            .field("backend", &self.backend_name())
            .finish_non_exhaustive()
    }
}

/// Lets each memory entry live its own lifetime.
struct PerEntry;

impl moka::Expiry<String, Arc<Entry>> for PerEntry {
    fn expire_after_create(&self, _: &String, value: &Arc<Entry>, _: Instant) -> Option<Duration> {
        Some(Duration::from_millis(value.ttl_ms))
    }
}

impl ResponseCache {
    /// The cache of `config`, or `None` when it is off. `previous` hands
    /// over its entries when the backend settings are unchanged.
    pub fn build(config: &CacheConfig, previous: Option<&ResponseCache>) -> Option<Self> {
        if config.enabled != Some(true) {
            return None;
        }
        let kind = config.backend.unwrap_or_default();
        let prefix = config
            .redis_prefix
            .clone()
            .unwrap_or_else(|| DEFAULT_CACHE_PREFIX.to_owned());
        let max_bytes = config.max_bytes.unwrap_or(64 << 20);
        let backend = (kind, config.redis_url.clone(), prefix.clone(), max_bytes);
        let (store, stats) = match previous {
            Some(p) if p.backend == backend => (p.store.clone(), p.stats.clone()),
            _ => {
                let memory = || {
                    Store::Memory(
                        moka::future::Cache::builder()
                            .max_capacity(max_bytes)
                            .weigher(|k: &String, v: &Arc<Entry>| v.weight(k))
                            .expire_after(PerEntry)
                            .build(),
                    )
                };
                let store = match kind {
                    RateLimitBackend::Memory => memory(),
                    RateLimitBackend::Redis => {
                        match redis::RedisCache::new(
                            config.redis_url.as_deref().unwrap_or(""),
                            &prefix,
                        ) {
                            Ok(r) => Store::Redis(Box::new(r)),
                            Err(e) => {
                                tracing::error!(error = %e, "cache.redis_url unusable; the cache is kept in memory");
                                memory()
                            }
                        }
                    }
                };
                (Arc::new(store), Arc::default())
            }
        };
        Some(ResponseCache {
            rules: Rules {
                all: config.all.unwrap_or(false),
                partition: config.partition.unwrap_or_default(),
                ttl: Duration::from_secs(config.ttl_secs.unwrap_or(300)),
                max_entry: usize::try_from(config.max_entry_bytes.unwrap_or(1 << 20))
                    .unwrap_or(usize::MAX),
                timeout: Duration::from_millis(config.redis_timeout_ms.unwrap_or(100)),
                keys: config.keys.iter().cloned().collect(),
                models: config.models.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            },
            store,
            backend,
            stats,
        })
    }

    fn backend_name(&self) -> &'static str {
        match &*self.store {
            Store::Memory(_) => "memory",
            Store::Redis(_) => "redis",
        }
    }

    /// The largest answer stored, bytes.
    pub(crate) fn max_entry(&self) -> usize {
        self.rules.max_entry
    }

    /// What the cache does for a request of `principal` with `headers` and
    /// `body` in `protocol`, asking for `client_model` and planned to
    /// `provider`'s `upstream_model`: `None` when the cache is not used
    /// for it at all, `Err(())` when it is bypassed.
    #[expect(clippy::too_many_arguments, reason = "the request's parts, named")]
    pub(crate) fn decide(
        &self,
        principal: &crate::state::Principal,
        headers: &HeaderMap,
        protocol: &str,
        operation: CacheOperation,
        client_model: &str,
        provider: &str,
        upstream_model: &str,
        body: &[u8],
    ) -> Option<Result<Decision, ()>> {
        let ask = ask(headers);
        let rule = self
            .rules
            .models
            .get(client_model)
            .or_else(|| self.rules.models.get(upstream_model));
        if rule.is_some_and(|r| r.enabled == Some(false)) {
            return None;
        }
        let opted = self.rules.all
            || rule.is_some()
            || ask.opt_in
            || self.rules.keys.contains(&*principal.key_prefix);
        if !opted {
            return None;
        }
        if ask.bypass {
            self.stats.bypasses.fetch_add(1, Ordering::Relaxed);
            return Some(Err(()));
        }
        let partition = match self.rules.partition {
            CachePartitioning::Key => CachePartition::Key(match principal.key_id {
                Some(id) => id.to_string(),
                None => format!("admin:{}", principal.key_prefix),
            }),
            CachePartitioning::User => CachePartition::User(principal.user_id.to_string()),
            CachePartitioning::Shared => CachePartition::Shared,
        };
        let key = key::cache_key(&CacheKeyInput {
            partition: &partition,
            protocol,
            provider,
            upstream_model,
            operation,
            body,
        });
        let Ok(key) = key else {
            self.stats.bypasses.fetch_add(1, Ordering::Relaxed);
            return Some(Err(()));
        };
        Some(Ok(Decision {
            key,
            lookup: !ask.refresh,
            ttl: rule
                .and_then(|r| r.ttl_secs)
                .map_or(self.rules.ttl, Duration::from_secs),
        }))
    }

    /// The entry under `key`, if any (a Redis failure is a miss).
    pub(crate) async fn get(&self, key: &CacheKey) -> Option<Arc<Entry>> {
        let found = match &*self.store {
            Store::Memory(m) => m.get(key.as_str()).await,
            Store::Redis(r) => match r.get(key.as_str(), self.rules.timeout).await {
                Ok(e) => e.map(Arc::new),
                Err(e) => {
                    tracing::debug!(error = %e, "cache lookup failed: a miss");
                    None
                }
            },
        };
        let counter = match found {
            Some(_) => &self.stats.hits,
            None => &self.stats.misses,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Stores `entry` under `key` (in the background for Redis).
    pub(crate) fn put(self: &Arc<Self>, key: CacheKey, entry: Entry) {
        if entry.body.len() > self.rules.max_entry {
            return;
        }
        self.stats.stores.fetch_add(1, Ordering::Relaxed);
        let this = self.clone();
        let Some(rt) = crate::background::runtime() else {
            return;
        };
        rt.spawn(async move {
            match &*this.store {
                Store::Memory(m) => {
                    m.insert(key.as_str().to_owned(), Arc::new(entry)).await;
                }
                Store::Redis(r) => {
                    if let Err(e) = r.put(key.as_str(), &entry, this.rules.timeout).await {
                        tracing::debug!(error = %e, "cache store failed");
                    }
                }
            }
        });
    }

    /// Removes every entry; with Redis, every key under the prefix.
    pub async fn purge(&self) -> Result<u64, String> {
        match &*self.store {
            Store::Memory(m) => {
                m.run_pending_tasks().await;
                let n = m.entry_count();
                m.invalidate_all();
                m.run_pending_tasks().await;
                Ok(n)
            }
            Store::Redis(r) => r.purge(Duration::from_secs(10)).await,
        }
    }

    /// The counters.
    pub fn report(&self) -> CacheReport {
        let (entries, bytes) = match &*self.store {
            Store::Memory(m) => (Some(m.entry_count()), Some(m.weighted_size())),
            Store::Redis(_) => (None, None),
        };
        let s = &self.stats;
        CacheReport {
            backend: self.backend_name(),
            entries,
            bytes,
            hits: s.hits.load(Ordering::Relaxed),
            misses: s.misses.load(Ordering::Relaxed),
            bypasses: s.bypasses.load(Ordering::Relaxed),
            stores: s.stores.load(Ordering::Relaxed),
        }
    }
}

/// A request's answer being recorded for the cache.
#[derive(Debug)]
pub(crate) struct Fill {
    pub cache: Arc<ResponseCache>,
    pub key: CacheKey,
    pub ttl: Duration,
    pub stream: bool,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    /// The answer outgrew `max_entry_bytes`: nothing is stored.
    pub overflow: bool,
}

impl Fill {
    /// Appends what went to the client.
    pub(crate) fn push(&mut self, chunk: &[u8]) {
        if self.overflow {
            return;
        }
        if self.body.len() + chunk.len() > self.cache.max_entry() {
            self.overflow = true;
            self.body = Vec::new();
            return;
        }
        self.body.extend_from_slice(chunk);
    }

    /// Stores the recorded answer, billed with `usage`.
    pub(crate) fn store(self, usage: Option<Usage>) {
        if self.overflow || self.body.is_empty() {
            return;
        }
        let body = Bytes::from(self.body);
        let entry = Entry {
            content_type: self
                .content_type
                .unwrap_or_else(|| "application/json".to_owned()),
            stream: self.stream,
            usage,
            id: first_id(&body),
            stored_at_ms: gproxy_credential::clock::now_ms(),
            ttl_ms: u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX),
            body,
        };
        self.cache.put(self.key, entry);
    }
}

#[cfg(test)]
mod tests;
