//! `[circuit_breaker]`: retries, the circuit breaker, the degraded signal,
//! test mode and where the shared state lives. Every field is optional;
//! absent ones keep their stored value or default (see
//! [`crate::settings::Resilience`]).

use serde::{Deserialize, Serialize};

/// Largest duration setting of the section, in seconds (one day).
const MAX_DURATION_SECS: u64 = 86_400;

/// `[circuit_breaker]` as written.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CircuitBreakerConfig {
    /// Whether the circuit breaker acts. Default true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Terminal failures within the window that open a provider's circuit. Default 5.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_threshold: Option<u32>,
    /// The failure window, in seconds, 1 to 86400. Default 120.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_seconds: Option<u64>,
    /// How long an open circuit fails fast before one probe, in seconds, 1
    /// to 86400. Default 300.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cooldown_seconds: Option<u64>,
    /// Retries after transient failures (5xx, 529, timeouts, connection
    /// errors) per request. Default 2.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_transient_retries: Option<u32>,
    /// Whether a generate call whose first byte did not come within
    /// `limits.first_byte_timeout_secs` is retried like other transient
    /// failures. Default false: the upstream may still be generating (and
    /// billing) the first attempt, and the client has already waited the
    /// whole timeout, so the timeout goes back to the client at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_on_first_byte_timeout: Option<bool>,
    /// Retries on another credential after rate limits per request. Default 2.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_rate_limit_retries: Option<u32>,
    /// How long global rate limits must persist before they count as
    /// degraded, in seconds, 0 to 86400. Default 60.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub global_rate_limit_escalation_window: Option<u64>,
    /// The marker put in degraded error messages; empty means
    /// `[LLM_PROXY_PROVIDER_DEGRADED]`. Default empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub degraded_signal: Option<String>,
    /// Whether the `X-LLM-Proxy-Test-Mode` header (or `llm_proxy_test_mode`
    /// query parameter) is honoured. Default false.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_mode_enabled: Option<bool>,
    /// Where circuits and cooldowns live: `memory` (default) or `redis`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    /// The Redis URL for `backend = "redis"`. Default `redis://127.0.0.1:6379`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_url: Option<String>,
    /// Prefix of every Redis key, so several deployments can share one
    /// Redis. Default `gproxy:`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_key_prefix: Option<String>,
}

impl CircuitBreakerConfig {
    /// Checks values; errors name the field relative to the section.
    pub(crate) fn validate(&self) -> Result<(), (String, String)> {
        if self.failure_threshold == Some(0) {
            return Err((
                "failure_threshold".to_owned(),
                "must be greater than 0".into(),
            ));
        }
        // Durations are bounded (one day) so no setting can overflow the
        // clock arithmetic they feed.
        for (name, value, min) in [
            ("window_seconds", self.window_seconds, 1),
            ("cooldown_seconds", self.cooldown_seconds, 1),
            (
                "global_rate_limit_escalation_window",
                self.global_rate_limit_escalation_window,
                0,
            ),
        ] {
            if let Some(v) = value
                && !(min..=MAX_DURATION_SECS).contains(&v)
            {
                return Err((
                    name.to_owned(),
                    format!("{v}: must be {min} to {MAX_DURATION_SECS}"),
                ));
            }
        }
        for (name, value) in [
            ("max_transient_retries", self.max_transient_retries),
            ("max_rate_limit_retries", self.max_rate_limit_retries),
        ] {
            if value.is_some_and(|v| v > 10) {
                return Err((name.to_owned(), "must be at most 10".into()));
            }
        }
        if let Some(backend) = &self.backend
            && backend != "memory"
            && backend != "redis"
        {
            return Err((
                "backend".to_owned(),
                format!("`{backend}`: must be \"memory\" or \"redis\""),
            ));
        }
        if let Some(url) = &self.redis_url
            && !(url.starts_with("redis://") || url.starts_with("unix://"))
        {
            return Err((
                "redis_url".to_owned(),
                "must start with redis:// (TLS `rediss://` is not supported)".into(),
            ));
        }
        if let Some(signal) = &self.degraded_signal
            && (signal.len() > 200 || signal.chars().any(char::is_control))
        {
            return Err((
                "degraded_signal".to_owned(),
                "must be at most 200 characters without control characters".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::parse;
    use gproxy_credential::Strategy;

    #[test]
    fn credential_strategy_and_weight_parse_and_validate() {
        let c = parse(
            "[[providers]]\nname = \"openai\"\ncredential_strategy = \"least_in_flight\"\n[[providers.credentials]]\napi_key = \"sk-1\"\nweight = 4\n",
        )
        .unwrap();
        assert_eq!(
            c.providers[0].credential_strategy,
            Some(Strategy::LeastInFlight)
        );
        assert_eq!(c.providers[0].credentials[0].weight, Some(4));
        let err = parse(
            "[[providers]]\nname = \"openai\"\n[[providers.credentials]]\napi_key = \"sk-1\"\nweight = 0\n",
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("providers[0].credentials[0].weight"),
            "{err}"
        );
        let err = parse("[[providers]]\nname = \"openai\"\ncredential_strategy = \"random\"\n")
            .unwrap_err();
        assert!(
            err.to_string().contains("providers[0].credential_strategy"),
            "{err}"
        );
    }

    #[test]
    fn the_section_parses_and_validates() {
        let c = parse(
            r#"
[circuit_breaker]
enabled = true
failure_threshold = 3
window_seconds = 60
cooldown_seconds = 30
max_transient_retries = 1
retry_on_first_byte_timeout = true
max_rate_limit_retries = 0
global_rate_limit_escalation_window = 10
degraded_signal = "[DEGRADED]"
test_mode_enabled = true
backend = "redis"
redis_url = "redis://127.0.0.1:6379"
"#,
        )
        .unwrap();
        let cb = c.circuit_breaker.unwrap();
        assert_eq!(cb.failure_threshold, Some(3));
        assert_eq!(cb.retry_on_first_byte_timeout, Some(true));
        assert_eq!(cb.backend.as_deref(), Some("redis"));
        for (bad, field) in [
            ("failure_threshold = 0", "circuit_breaker.failure_threshold"),
            ("window_seconds = 0", "circuit_breaker.window_seconds"),
            (
                "cooldown_seconds = 86401",
                "circuit_breaker.cooldown_seconds",
            ),
            (
                "global_rate_limit_escalation_window = 9223372036854775807",
                "circuit_breaker.global_rate_limit_escalation_window",
            ),
            ("backend = \"etcd\"", "circuit_breaker.backend"),
            ("redis_url = \"http://x\"", "circuit_breaker.redis_url"),
            (
                "max_transient_retries = 50",
                "circuit_breaker.max_transient_retries",
            ),
            ("colour = 1", "circuit_breaker"),
        ] {
            let err = parse(&format!("[circuit_breaker]\n{bad}\n")).unwrap_err();
            assert!(err.to_string().contains(field), "{bad}: {err}");
        }
    }
}
