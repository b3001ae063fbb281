//! `[budgets]`: USD budgets per user and per key, per calendar period
//! (daily, weekly, monthly, total) in a configured time zone, kept in
//! memory (one instance) or in Redis (several instances, exact). See
//! docs/budgets.md.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{RateLimitBackend, RedisFailure};
use crate::cost::Usd;

/// One user's or key's budget: a USD amount per period (an absent period
/// is no budget for it; several may apply at once).
#[derive(
    Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// USD per calendar day.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub daily_usd: Option<Usd>,
    /// USD per calendar week (Monday to Sunday).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weekly_usd: Option<Usd>,
    /// USD per calendar month.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monthly_usd: Option<Usd>,
    /// USD in all, never reset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_usd: Option<Usd>,
    /// Warn (log line, metric, admin API) once a period's spend reaches
    /// this percentage of its amount (1 to 99). Requests are still served.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warn_at_percent: Option<u8>,
}

impl Budget {
    /// The amounts set, by period.
    pub fn periods(&self) -> impl Iterator<Item = (Period, Decimal)> + '_ {
        [
            (Period::Daily, self.daily_usd),
            (Period::Weekly, self.weekly_usd),
            (Period::Monthly, self.monthly_usd),
            (Period::Total, self.total_usd),
        ]
        .into_iter()
        .filter_map(|(p, v)| v.map(|v| (p, v.0)))
    }

    /// Whether no amount is set.
    pub fn is_empty(&self) -> bool {
        self.periods().next().is_none()
    }

    fn validate(&self) -> Result<(), (String, String)> {
        for (name, v) in [
            ("daily_usd", self.daily_usd),
            ("weekly_usd", self.weekly_usd),
            ("monthly_usd", self.monthly_usd),
            ("total_usd", self.total_usd),
        ] {
            if let Some(v) = v {
                if v.0 <= Decimal::ZERO {
                    return Err((
                        name.into(),
                        "must be above 0 (omit it for no budget)".into(),
                    ));
                }
                if crate::cost::to_nanos(v.0).is_none() {
                    return Err((name.into(), "is too large".into()));
                }
            }
        }
        if let Some(p) = self.warn_at_percent
            && !(1..=99).contains(&p)
        {
            return Err(("warn_at_percent".into(), "must be between 1 and 99".into()));
        }
        Ok(())
    }
}

/// A budget period, calendar-aligned in the configured time zone.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    /// From local midnight to the next.
    Daily,
    /// From Monday 00:00 local time to the next.
    Weekly,
    /// From the 1st 00:00 local time to the next month's.
    Monthly,
    /// Since the beginning; never reset.
    Total,
}

impl Period {
    /// Its name (`daily`...).
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Daily => "daily",
            Period::Weekly => "weekly",
            Period::Monthly => "monthly",
            Period::Total => "total",
        }
    }
}

/// What a budgeted request to a model without a known price gets.
#[derive(
    Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum UnpricedPolicy {
    /// Refused (402): its cost could not be counted.
    #[default]
    Refuse,
    /// Served and counted as free.
    Allow,
}

/// `[budgets]` as written. Absent fields keep their defaults.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BudgetsConfig {
    /// `memory` (default: one instance) or `redis` (exact across every
    /// instance sharing it). Either way a period's spend starts from the
    /// request log's costs, so a restart loses nothing written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<RateLimitBackend>,
    /// Redis URL for the `redis` backend.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_url: Option<String>,
    /// Prefix of every Redis key. Default `gproxy:budget:`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_prefix: Option<String>,
    /// `open` (default: serve unchecked) or `closed` (refuse with 503)
    /// while Redis cannot be reached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_redis_error: Option<RedisFailure>,
    /// The longest a budget check may wait on Redis, in milliseconds
    /// (1 to 5000). Default 250.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_timeout_ms: Option<u64>,
    /// The IANA time zone periods are aligned in (`Europe/Berlin`).
    /// Default `UTC`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Output tokens a request that sets no maximum is reserved for
    /// (1 to 1000000). Default 4096.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_output_tokens: Option<u64>,
    /// `refuse` (default) or `allow` a budgeted request to a model with
    /// no known price.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unpriced: Option<UnpricedPolicy>,
    /// What one raw passthrough call costs a budget (its body is not
    /// read, so its usage is unknown). Unset: a budgeted key's
    /// passthrough calls are refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passthrough_cost_usd: Option<Usd>,
    /// Budgets per user name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub users: BTreeMap<String, Budget>,
    /// Budgets per key, by the key's visible prefix.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub keys: BTreeMap<String, Budget>,
}

/// Default Redis key prefix.
pub const DEFAULT_BUDGET_PREFIX: &str = "gproxy:budget:";
/// Default output tokens reserved when a request sets no maximum.
pub const DEFAULT_OUTPUT_TOKENS: u64 = 4_096;

impl BudgetsConfig {
    /// `self` with every field `other` sets replaced (maps are replaced
    /// whole when given non-empty).
    pub fn overlaid(mut self, other: BudgetsConfig) -> Self {
        macro_rules! over {
            ($($f:ident),*) => {$(if other.$f.is_some() { self.$f = other.$f; })*};
        }
        over!(
            backend,
            redis_url,
            redis_prefix,
            on_redis_error,
            redis_timeout_ms,
            timezone,
            default_output_tokens,
            unpriced,
            passthrough_cost_usd
        );
        if !other.users.is_empty() {
            self.users = other.users;
        }
        if !other.keys.is_empty() {
            self.keys = other.keys;
        }
        self
    }

    /// The time zone (`UTC` when unset).
    pub fn tz(&self) -> Result<chrono_tz::Tz, String> {
        match self.timezone.as_deref() {
            None | Some("") => Ok(chrono_tz::UTC),
            Some(name) => name
                .parse::<chrono_tz::Tz>()
                .map_err(|_| format!("`{name}` is not an IANA time zone name")),
        }
    }

    /// Checks every value; the error names the field
    /// (`users.alice.daily_usd`).
    pub fn validate(&self) -> Result<(), (String, String)> {
        if self.backend == Some(RateLimitBackend::Redis) {
            super::rate_limits::validate_redis_url(self.redis_url.as_deref())?;
        }
        self.tz().map_err(|m| ("timezone".to_owned(), m))?;
        let ranges = [
            ("redis_timeout_ms", self.redis_timeout_ms, 1, 5_000),
            (
                "default_output_tokens",
                self.default_output_tokens,
                1,
                1_000_000,
            ),
        ];
        for (name, value, lo, hi) in ranges {
            if let Some(v) = value
                && !(lo..=hi).contains(&v)
            {
                return Err((name.into(), format!("must be between {lo} and {hi}")));
            }
        }
        if let Some(c) = self.passthrough_cost_usd
            && (c.0.is_sign_negative() || crate::cost::to_nanos(c.0).is_none())
        {
            return Err((
                "passthrough_cost_usd".into(),
                "must be a non-negative amount".into(),
            ));
        }
        for (section, map) in [("users", &self.users), ("keys", &self.keys)] {
            for (name, budget) in map {
                if name.is_empty() {
                    return Err((section.into(), "an empty name".into()));
                }
                budget
                    .validate()
                    .map_err(|(f, m)| (format!("{section}.{name}.{f}"), m))?;
            }
        }
        Ok(())
    }

    /// Whether any budget is set.
    pub fn any_budget(&self) -> bool {
        self.users
            .values()
            .chain(self.keys.values())
            .any(|b| !b.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(s: &str) -> Option<Usd> {
        Some(Usd(s.parse().unwrap()))
    }

    #[test]
    fn validation_names_the_field() {
        let mut c = BudgetsConfig::default();
        c.users.insert(
            "alice".into(),
            Budget {
                daily_usd: usd("0"),
                ..Budget::default()
            },
        );
        assert_eq!(c.validate().unwrap_err().0, "users.alice.daily_usd");
        c.users.insert(
            "alice".into(),
            Budget {
                daily_usd: usd("1"),
                warn_at_percent: Some(100),
                ..Budget::default()
            },
        );
        assert_eq!(c.validate().unwrap_err().0, "users.alice.warn_at_percent");
        let c = BudgetsConfig {
            timezone: Some("Mars/Olympus".into()),
            ..BudgetsConfig::default()
        };
        assert_eq!(c.validate().unwrap_err().0, "timezone");
        let c = BudgetsConfig {
            backend: Some(RateLimitBackend::Redis),
            ..BudgetsConfig::default()
        };
        assert_eq!(c.validate().unwrap_err().0, "redis_url");
        for (url, says) in [
            ("rediss://r:6380", "TLS"),
            ("redis://r/notadb", "database number"),
        ] {
            let c = BudgetsConfig {
                backend: Some(RateLimitBackend::Redis),
                redis_url: Some(url.into()),
                ..BudgetsConfig::default()
            };
            let (field, message) = c.validate().unwrap_err();
            assert_eq!(field, "redis_url");
            assert!(message.contains(says), "{url}: {message}");
        }
        let c = BudgetsConfig {
            timezone: Some("America/New_York".into()),
            ..BudgetsConfig::default()
        };
        assert!(c.validate().is_ok());
        assert!(!c.any_budget());
    }

    #[test]
    fn overlay_replaces_given_fields() {
        let mut base = BudgetsConfig {
            timezone: Some("Asia/Tokyo".into()),
            ..BudgetsConfig::default()
        };
        base.keys.insert(
            "sk-a".into(),
            Budget {
                total_usd: usd("3"),
                ..Budget::default()
            },
        );
        let over = BudgetsConfig {
            default_output_tokens: Some(10),
            ..BudgetsConfig::default()
        };
        let merged = base.overlaid(over);
        assert_eq!(merged.timezone.as_deref(), Some("Asia/Tokyo"));
        assert_eq!(merged.default_output_tokens, Some(10));
        assert!(merged.any_budget());
    }
}
