//! Classifying an upstream error answer, as specifically as the upstream
//! allows, so the engine knows whether to disable a credential, cool it
//! down, retry, count a failure for the circuit, or pass the error on.
//!
//! The rules per wire protocol (a provider uses its native protocol's;
//! see [`Provider::classify_failure`](crate::Provider::classify_failure)):
//! - every protocol: 401/403 are [`FailureClass::Auth`]; 408, 5xx and 529
//!   are [`FailureClass::Degraded`]; other 4xx are [`FailureClass::Client`].
//! - Anthropic: 429 (`rate_limit_error`) is a local rate limit per model
//!   (Anthropic limits each model class); 529 `overloaded_error` is degraded.
//! - Gemini: 429 `RESOURCE_EXHAUSTED` is a local rate limit per model
//!   (quotas are per model); the wait comes from `Retry-After` or the
//!   body's `RetryInfo.retryDelay`.
//! - OpenAI: 429 with `x-ratelimit-remaining-requests` and
//!   `x-ratelimit-remaining-tokens` both `0` is a global rate limit; any
//!   other 429 is a local rate limit per model. The wait comes from
//!   `Retry-After`, else `x-ratelimit-reset-requests` / `-tokens`.

use std::time::Duration;

use gproxy_protocol::Protocol;
use http::{HeaderMap, StatusCode};

/// What an upstream error answer means for the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// The credential was refused (401/403): disable it, try another.
    Auth,
    /// This credential is rate limited: cool it down, try another.
    RateLimit {
        /// How long to wait, when the upstream said.
        retry_after: Option<Duration>,
        /// The limit is per model: cool down only this model.
        per_model: bool,
        /// The limit is global (the account's, not one key's or model's):
        /// sustained, it escalates to degraded.
        global: bool,
    },
    /// The provider is failing (5xx, 529, 408): retry with backoff; count
    /// for the circuit when retries run out.
    Degraded,
    /// The request itself is wrong (other 4xx): never retried.
    Client,
}

impl FailureClass {
    /// The classification common to every protocol.
    pub fn by_status(status: StatusCode, headers: &HeaderMap) -> Self {
        match status.as_u16() {
            401 | 403 => FailureClass::Auth,
            429 => FailureClass::RateLimit {
                retry_after: retry_after(headers),
                per_model: false,
                global: false,
            },
            408 | 500..=599 => FailureClass::Degraded,
            _ if status.is_client_error() => FailureClass::Client,
            // 1xx/3xx as an error answer: not the client's fault.
            _ => FailureClass::Degraded,
        }
    }
}

/// Classifies an error answer of an upstream speaking `protocol`.
pub fn classify(
    protocol: Protocol,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> FailureClass {
    let base = FailureClass::by_status(status, headers);
    let FailureClass::RateLimit { retry_after, .. } = base else {
        return base;
    };
    match protocol {
        Protocol::Claude => FailureClass::RateLimit {
            retry_after,
            per_model: true,
            global: false,
        },
        Protocol::Gemini => FailureClass::RateLimit {
            retry_after: retry_after.or_else(|| gemini_retry_delay(body)),
            per_model: true,
            global: false,
        },
        Protocol::OpenAiChat | Protocol::OpenAiResponses => {
            let zero = |name: &str| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.trim() == "0")
            };
            let global =
                zero("x-ratelimit-remaining-requests") && zero("x-ratelimit-remaining-tokens");
            let reset = || {
                ["x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"]
                    .iter()
                    .filter_map(|n| headers.get(*n).and_then(|v| v.to_str().ok()))
                    .filter_map(parse_go_duration)
                    .max()
            };
            FailureClass::RateLimit {
                retry_after: retry_after.or_else(reset),
                per_model: !global,
                global,
            }
        }
    }
}

/// `Retry-After` as a wait: delay seconds or an HTTP date (a date in the
/// past is zero).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>()
        && secs.is_finite()
        && secs >= 0.0
    {
        return Some(Duration::from_secs_f64(secs.min(86_400.0)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// A Go-style duration as OpenAI sends it in `x-ratelimit-reset-*`:
/// `1s`, `6m0s`, `20ms`, `1h2m3.5s`.
pub fn parse_go_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let value: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_end] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            "us" | "µs" => 0.000_001,
            "ns" => 0.000_000_001,
            _ => return None,
        };
        total += value * factor;
        rest = &rest[unit_end..];
    }
    (total.is_finite() && total >= 0.0).then(|| Duration::from_secs_f64(total.min(86_400.0)))
}

/// `RetryInfo.retryDelay` (`"30s"`) from a Google error body's `details`.
fn gemini_retry_delay(body: &[u8]) -> Option<Duration> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value["error"]["details"]
        .as_array()?
        .iter()
        .filter_map(|d| d["retryDelay"].as_str())
        .find_map(parse_go_duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    fn status(code: u16) -> StatusCode {
        StatusCode::from_u16(code).unwrap()
    }

    #[test]
    fn common_statuses() {
        let none = HeaderMap::new();
        for p in [Protocol::Claude, Protocol::Gemini, Protocol::OpenAiChat] {
            assert_eq!(classify(p, status(401), &none, b""), FailureClass::Auth);
            assert_eq!(classify(p, status(403), &none, b""), FailureClass::Auth);
            assert_eq!(classify(p, status(500), &none, b""), FailureClass::Degraded);
            assert_eq!(classify(p, status(503), &none, b""), FailureClass::Degraded);
            assert_eq!(classify(p, status(400), &none, b""), FailureClass::Client);
            assert_eq!(classify(p, status(404), &none, b""), FailureClass::Client);
        }
    }

    #[test]
    fn anthropic_overloaded_is_degraded() {
        let body =
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        assert_eq!(
            classify(Protocol::Claude, status(529), &HeaderMap::new(), body),
            FailureClass::Degraded
        );
    }

    #[test]
    fn gemini_resource_exhausted_is_a_local_rate_limit_with_its_delay() {
        let body = br#"{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","message":"quota","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"17s"}]}}"#;
        assert_eq!(
            classify(Protocol::Gemini, status(429), &HeaderMap::new(), body),
            FailureClass::RateLimit {
                retry_after: Some(Duration::from_secs(17)),
                per_model: true,
                global: false
            }
        );
    }

    #[test]
    fn openai_both_remaining_zero_is_global() {
        let h = headers(&[
            ("x-ratelimit-remaining-requests", "0"),
            ("x-ratelimit-remaining-tokens", "0"),
            ("x-ratelimit-reset-requests", "6m0s"),
        ]);
        assert_eq!(
            classify(Protocol::OpenAiChat, status(429), &h, b""),
            FailureClass::RateLimit {
                retry_after: Some(Duration::from_secs(360)),
                per_model: false,
                global: true
            }
        );
        let h = headers(&[
            ("x-ratelimit-remaining-requests", "0"),
            ("x-ratelimit-remaining-tokens", "1200"),
            ("retry-after", "3"),
        ]);
        assert_eq!(
            classify(Protocol::OpenAiChat, status(429), &h, b""),
            FailureClass::RateLimit {
                retry_after: Some(Duration::from_secs(3)),
                per_model: true,
                global: false
            }
        );
    }

    #[test]
    fn retry_after_takes_seconds_and_dates() {
        assert_eq!(
            retry_after(&headers(&[("retry-after", "12")])),
            Some(Duration::from_secs(12))
        );
        let later =
            httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(120));
        let d = retry_after(&headers(&[("retry-after", &later)])).unwrap();
        assert!(
            d > Duration::from_secs(100) && d <= Duration::from_secs(120),
            "{d:?}"
        );
        assert_eq!(
            retry_after(&headers(&[(
                "retry-after",
                "Wed, 21 Oct 2015 07:28:00 GMT"
            )])),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")])), None);
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("20ms"), Some(Duration::from_millis(20)));
        assert_eq!(parse_go_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_go_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_go_duration("x"), None);
    }
}
