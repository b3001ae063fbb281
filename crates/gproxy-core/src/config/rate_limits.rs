//! `[rate_limits]`: requests per window, tokens per window and concurrent
//! requests, per key, per user, per model, per provider and global, kept
//! in memory (one instance) or in Redis (several instances, exact).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One scope's limits. An absent field is no limit.
#[derive(
    Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Requests admitted per window (`window_secs`, default a minute).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rpm: Option<u64>,
    /// Tokens (input + output) per window; the input is estimated from
    /// the body size before the call and replaced by the real usage after.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tpm: Option<u64>,
    /// Requests in flight at once (a stream counts until it ends or the
    /// client goes away).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrent: Option<u64>,
}

impl RateLimit {
    /// Whether no limit is set.
    pub fn is_empty(&self) -> bool {
        self.rpm.is_none() && self.tpm.is_none() && self.concurrent.is_none()
    }

    fn validate(&self) -> Result<(), (String, String)> {
        for (name, v) in [
            ("rpm", self.rpm),
            ("tpm", self.tpm),
            ("concurrent", self.concurrent),
        ] {
            if v == Some(0) {
                return Err((
                    name.into(),
                    "must be at least 1 (omit it for no limit)".into(),
                ));
            }
        }
        Ok(())
    }
}

/// Where the counters live.
#[derive(
    Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum RateLimitBackend {
    /// This instance's memory (limits are per instance).
    #[default]
    Memory,
    /// Redis (atomic Lua scripts): exact across every instance sharing it.
    Redis,
}

/// What a request gets while Redis cannot be reached.
#[derive(
    Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum RedisFailure {
    /// Served without a limit check (logged, counted).
    #[default]
    Open,
    /// Refused with 503 in the client's shape.
    Closed,
}

/// `[rate_limits]` as written. Absent fields keep their defaults.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimitsConfig {
    /// `memory` (default) or `redis`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<RateLimitBackend>,
    /// Redis URL for the `redis` backend (`redis://host:port[/db]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_url: Option<String>,
    /// Prefix of every Redis key. Default `gproxy:rl:`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_prefix: Option<String>,
    /// `open` (default: serve unchecked) or `closed` (refuse with 503)
    /// while Redis cannot be reached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_redis_error: Option<RedisFailure>,
    /// The longest a limit check may wait on Redis, in milliseconds
    /// (1 to 5000). Default 250.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_timeout_ms: Option<u64>,
    /// The sliding window of `rpm` and `tpm`, in seconds (1 to 3600).
    /// Default 60.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_secs: Option<u64>,
    /// How long a concurrency slot lives in Redis if its instance dies
    /// before releasing it, in seconds (10 to 86400). Default 900.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slot_ttl_secs: Option<u64>,
    /// Limits over every request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub global: Option<RateLimit>,
    /// Limits per provider name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub providers: BTreeMap<String, RateLimit>,
    /// Limits per upstream model name (the model the provider is called
    /// with), on whichever provider.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub models: BTreeMap<String, RateLimit>,
    /// Limits per user name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub users: BTreeMap<String, RateLimit>,
    /// Limits per key, by the key's visible prefix (as the admin API and
    /// the request log show it).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub keys: BTreeMap<String, RateLimit>,
}

/// Checks the `redis_url` of a section whose backend is `redis`.
pub(super) fn validate_redis_url(url: Option<&str>) -> Result<(), (String, String)> {
    match url {
        None | Some("") => Err((
            "redis_url".into(),
            "required with backend = \"redis\"".into(),
        )),
        Some(url) if !url.starts_with("redis://") => Err((
            "redis_url".into(),
            "must start with redis:// (TLS `rediss://` is not supported)".into(),
        )),
        Some(url) => crate::redis_link::RedisLink::new(url)
            .map(drop)
            .map_err(|e| ("redis_url".into(), e)),
    }
}

/// Default Redis key prefix.
pub const DEFAULT_RATE_LIMIT_PREFIX: &str = "gproxy:rl:";

impl RateLimitsConfig {
    /// `self` with every field `other` sets replaced (maps are replaced
    /// whole when given non-empty).
    pub fn overlaid(mut self, other: RateLimitsConfig) -> Self {
        macro_rules! over {
            ($($f:ident),*) => {$(if other.$f.is_some() { self.$f = other.$f; })*};
        }
        over!(
            backend,
            redis_url,
            redis_prefix,
            on_redis_error,
            redis_timeout_ms,
            window_secs,
            slot_ttl_secs,
            global
        );
        macro_rules! over_map {
            ($($f:ident),*) => {$(if !other.$f.is_empty() { self.$f = other.$f; })*};
        }
        over_map!(providers, models, users, keys);
        self
    }

    /// Checks every value; the error names the field (`models.gpt-4o.rpm`).
    pub fn validate(&self) -> Result<(), (String, String)> {
        if self.backend == Some(RateLimitBackend::Redis) {
            validate_redis_url(self.redis_url.as_deref())?;
        }
        let ranges = [
            ("redis_timeout_ms", self.redis_timeout_ms, 1, 5_000),
            ("window_secs", self.window_secs, 1, 3_600),
            ("slot_ttl_secs", self.slot_ttl_secs, 10, 86_400),
        ];
        for (name, value, lo, hi) in ranges {
            if let Some(v) = value
                && !(lo..=hi).contains(&v)
            {
                return Err((name.into(), format!("must be between {lo} and {hi}")));
            }
        }
        if let Some(g) = &self.global {
            g.validate().map_err(|(f, m)| (format!("global.{f}"), m))?;
        }
        for (section, map) in [
            ("providers", &self.providers),
            ("models", &self.models),
            ("users", &self.users),
            ("keys", &self.keys),
        ] {
            for (name, limit) in map {
                if name.is_empty() {
                    return Err((section.into(), "an empty name".into()));
                }
                limit
                    .validate()
                    .map_err(|(f, m)| (format!("{section}.{name}.{f}"), m))?;
            }
        }
        Ok(())
    }

    /// Whether any limit is set.
    pub fn any_limit(&self) -> bool {
        self.global.is_some_and(|g| !g.is_empty())
            || [&self.providers, &self.models, &self.users, &self.keys]
                .iter()
                .any(|m| m.values().any(|l| !l.is_empty()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_field() {
        let mut c = RateLimitsConfig::default();
        c.models.insert(
            "gpt-4o".into(),
            RateLimit {
                rpm: Some(0),
                ..RateLimit::default()
            },
        );
        assert_eq!(c.validate().unwrap_err().0, "models.gpt-4o.rpm");
        let c = RateLimitsConfig {
            backend: Some(RateLimitBackend::Redis),
            ..RateLimitsConfig::default()
        };
        assert_eq!(c.validate().unwrap_err().0, "redis_url");
        let c = RateLimitsConfig {
            window_secs: Some(0),
            ..RateLimitsConfig::default()
        };
        assert_eq!(c.validate().unwrap_err().0, "window_secs");
    }

    #[test]
    fn overlay_replaces_given_fields() {
        let base = RateLimitsConfig {
            window_secs: Some(2),
            global: Some(RateLimit {
                rpm: Some(5),
                ..RateLimit::default()
            }),
            ..RateLimitsConfig::default()
        };
        let over = RateLimitsConfig {
            global: Some(RateLimit {
                rpm: Some(7),
                ..RateLimit::default()
            }),
            ..RateLimitsConfig::default()
        };
        let merged = base.overlaid(over);
        assert_eq!(merged.window_secs, Some(2));
        assert_eq!(merged.global.and_then(|g| g.rpm), Some(7));
        assert!(merged.any_limit());
    }
}
