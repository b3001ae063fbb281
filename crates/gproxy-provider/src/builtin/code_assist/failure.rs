//! What a Code Assist error answer means (`oauth-providers.md` §2.5, §3.5).

use std::time::Duration;

use http::{HeaderMap, StatusCode};
use serde_json::Value;

use crate::FailureClass;
use crate::failure::{parse_go_duration, retry_after};

/// What a Code Assist error answer says (`oauth-providers.md` §2.5, §3.5).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct GoogleError {
    /// `error.message`.
    pub message: String,
    /// `ErrorInfo.reason` (`QUOTA_EXHAUSTED`, `RATE_LIMIT_EXCEEDED`, ...).
    pub reason: Option<String>,
    /// The wait: `RetryInfo.retryDelay`, else `ErrorInfo.metadata.quotaResetDelay`,
    /// else the reset time in the metadata or the message.
    pub delay: Option<Duration>,
}

impl GoogleError {
    /// Reads an error body (`{"error":{…}}`, or that in a one-element array).
    pub(crate) fn parse(body: &[u8]) -> GoogleError {
        let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let value = match value {
            Value::Array(mut items) if !items.is_empty() => items.swap_remove(0),
            other => other,
        };
        let error = &value["error"];
        let details: &[Value] = error["details"].as_array().map_or(&[], Vec::as_slice);
        let of_type = |suffix: &str| {
            details
                .iter()
                .find(|d| d["@type"].as_str().is_some_and(|t| t.ends_with(suffix)))
        };
        let info = of_type("google.rpc.ErrorInfo");
        let message = error["message"].as_str().unwrap_or_default().to_owned();
        let delay = of_type("google.rpc.RetryInfo")
            .and_then(|r| r["retryDelay"].as_str())
            .and_then(parse_go_duration)
            .or_else(|| {
                info.and_then(|i| i["metadata"]["quotaResetDelay"].as_str())
                    .and_then(parse_go_duration)
            })
            .or_else(|| {
                info.and_then(|i| i["metadata"]["quotaResetTimeStamp"].as_str())
                    .and_then(until)
            })
            .or_else(|| message_delay(&message));
        GoogleError {
            message,
            reason: info.and_then(|i| i["reason"].as_str()).map(str::to_owned),
            delay,
        }
    }
}

/// The wait until an RFC 3339 time (zero when it has passed).
fn until(timestamp: &str) -> Option<Duration> {
    let at = chrono::DateTime::parse_from_rfc3339(timestamp).ok()?;
    let ms = at.timestamp_millis() - chrono::Utc::now().timestamp_millis();
    Some(Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
}

/// The delay in "Your quota will reset after 2h3m4s." or "Please retry
/// in 0.84s".
fn message_delay(message: &str) -> Option<Duration> {
    ["reset after ", "retry in ", "retry after "]
        .iter()
        .find_map(|marker| {
            let at = message.find(marker)? + marker.len();
            let word = message[at..].split_whitespace().next()?;
            parse_go_duration(word.trim_end_matches(['.', ',', ';']))
        })
}

/// Classifies a Code Assist error answer (`oauth-providers.md` §2.5, §3.5):
/// - 401: the access token is refused ([`FailureClass::Auth`]; the core
///   refreshes).
/// - 403 (`VALIDATION_REQUIRED`, a Terms-of-Service disablement, a wrong
///   project): [`FailureClass::Auth`]; the credential is disabled with
///   the upstream's message.
/// - 429/499 `MODEL_CAPACITY_EXHAUSTED`, and 503: [`FailureClass::Degraded`].
/// - Any other 429/499: a rate limit of this account for this model
///   until the upstream's delay (`RetryInfo.retryDelay`, else
///   `ErrorInfo.metadata.quotaResetDelay` or `quotaResetTimeStamp`, else
///   the reset in the message). A short `RATE_LIMIT_EXCEEDED` delay and a
///   `QUOTA_EXHAUSTED` reset hours away are the same class; only the wait
///   differs, and it is what Gemini CLI uses to tell them apart (over
///   five minutes: exhausted).
pub(crate) fn classify(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> FailureClass {
    let code = status.as_u16();
    if !matches!(code, 429 | 499 | 503) {
        return FailureClass::by_status(status, headers);
    }
    let error = GoogleError::parse(body);
    let capacity = error
        .reason
        .as_deref()
        .is_some_and(|r| r == "MODEL_CAPACITY_EXHAUSTED" || r == "MODEL_CAPACITY_EXCEEDED")
        || error.message.contains("no capacity available");
    if code == 503 || capacity {
        return FailureClass::Degraded;
    }
    FailureClass::RateLimit {
        retry_after: error.delay.or_else(|| retry_after(headers)),
        per_model: true,
        global: false,
    }
}
