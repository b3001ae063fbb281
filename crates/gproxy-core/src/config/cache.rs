//! `[cache]`: the exact-match response cache (docs/cache.md).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::RateLimitBackend;

/// Whose entries a request may see.
#[derive(
    Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum CachePartitioning {
    /// Each key sees only what it cached itself (default).
    #[default]
    Key,
    /// Every key of a user shares the user's entries.
    User,
    /// Every tenant shares one cache: only for deployments whose users
    /// may see each other's answers.
    Shared,
}

/// One model's (or model route's) cache rule.
#[derive(
    Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct CacheModelRule {
    /// Entries' lifetime for this model, seconds (1 to 2592000). Default:
    /// `[cache] ttl_secs`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl_secs: Option<u64>,
    /// `false` never caches this model, even when asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// `[cache]` as written. Absent fields keep their defaults.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    /// The cache exists (default false: nothing is looked up or stored).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Every eligible request is cached (default false: only requests of
    /// the `keys` and `models` listed here, or asking with the
    /// `x-gproxy-cache: use` header).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub all: Option<bool>,
    /// `key` (default), `user` or `shared`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition: Option<CachePartitioning>,
    /// Entries' lifetime, seconds (1 to 2592000). Default 300.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl_secs: Option<u64>,
    /// `memory` (default, per instance) or `redis` (shared by every
    /// instance).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<RateLimitBackend>,
    /// Redis URL for the `redis` backend.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_url: Option<String>,
    /// Prefix of every Redis key. Default `gproxy:cache:`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_prefix: Option<String>,
    /// The longest a lookup or store may wait on Redis, ms (1 to 5000).
    /// Default 100; a slower Redis is a miss.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_timeout_ms: Option<u64>,
    /// The memory backend's size bound, bytes (1 MiB to 64 GiB). Default
    /// 64 MiB; the least recently used entries go first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<u64>,
    /// The largest answer stored, bytes (1 KiB to 64 MiB). Default 1 MiB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_entry_bytes: Option<u64>,
    /// Keys (by visible prefix) whose requests are cached.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<String>,
    /// Models whose requests are cached, by the model the client asked for
    /// (a model route's name, or `provider/model`) or the upstream model,
    /// each with its own lifetime.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub models: BTreeMap<String, CacheModelRule>,
}

/// Default Redis key prefix.
pub const DEFAULT_CACHE_PREFIX: &str = "gproxy:cache:";

impl CacheConfig {
    /// `self` with every field `other` sets replaced (lists and maps are
    /// replaced whole when given non-empty).
    pub fn overlaid(mut self, other: CacheConfig) -> Self {
        macro_rules! over {
            ($($f:ident),*) => {$(if other.$f.is_some() { self.$f = other.$f; })*};
        }
        over!(
            enabled,
            all,
            partition,
            ttl_secs,
            backend,
            redis_url,
            redis_prefix,
            redis_timeout_ms,
            max_bytes,
            max_entry_bytes
        );
        if !other.keys.is_empty() {
            self.keys = other.keys;
        }
        if !other.models.is_empty() {
            self.models = other.models;
        }
        self
    }

    /// Checks every value; the error names the field.
    pub fn validate(&self) -> Result<(), (String, String)> {
        if self.backend == Some(RateLimitBackend::Redis) {
            super::rate_limits::validate_redis_url(self.redis_url.as_deref())?;
        }
        let ranges = [
            ("ttl_secs", self.ttl_secs, 1, 2_592_000),
            ("redis_timeout_ms", self.redis_timeout_ms, 1, 5_000),
            ("max_bytes", self.max_bytes, 1 << 20, 64 << 30),
            ("max_entry_bytes", self.max_entry_bytes, 1 << 10, 64 << 20),
        ];
        for (name, value, lo, hi) in ranges {
            if let Some(v) = value
                && !(lo..=hi).contains(&v)
            {
                return Err((name.into(), format!("must be between {lo} and {hi}")));
            }
        }
        for (i, k) in self.keys.iter().enumerate() {
            if k.is_empty() {
                return Err((format!("keys[{i}]"), "an empty key prefix".into()));
            }
        }
        for (name, rule) in &self.models {
            if name.is_empty() {
                return Err(("models".into(), "an empty model name".into()));
            }
            if let Some(t) = rule.ttl_secs
                && !(1..=2_592_000).contains(&t)
            {
                return Err((
                    format!("models.{name}.ttl_secs"),
                    "must be between 1 and 2592000".into(),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_field() {
        let mut c = CacheConfig {
            ttl_secs: Some(0),
            ..CacheConfig::default()
        };
        assert_eq!(c.validate().unwrap_err().0, "ttl_secs");
        c.ttl_secs = None;
        c.models.insert(
            "gpt-4o".into(),
            CacheModelRule {
                ttl_secs: Some(0),
                enabled: None,
            },
        );
        assert_eq!(c.validate().unwrap_err().0, "models.gpt-4o.ttl_secs");
        let c = CacheConfig {
            backend: Some(RateLimitBackend::Redis),
            ..CacheConfig::default()
        };
        assert_eq!(c.validate().unwrap_err().0, "redis_url");
        let c = CacheConfig {
            enabled: Some(true),
            keys: vec!["sk-a".into()],
            ..CacheConfig::default()
        };
        assert!(c.validate().is_ok());
        let merged = CacheConfig {
            ttl_secs: Some(5),
            ..CacheConfig::default()
        }
        .overlaid(c);
        assert_eq!((merged.ttl_secs, merged.enabled), (Some(5), Some(true)));
    }
}
