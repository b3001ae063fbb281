//! The errors of the core crate: start-up failures ([`CoreError`]) and
//! request failures ([`GatewayError`]). Request errors know their HTTP
//! status and their source; the router renders them once, in the client's
//! protocol shape.

use bytes::Bytes;
use http::{HeaderMap, StatusCode};

use crate::config::ConfigError;

/// Start-up and state-loading failures.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The config file is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The database failed.
    #[error("storage: {0}")]
    Storage(#[from] gproxy_storage::StorageError),
    /// A filesystem operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was attempted.
        what: String,
        /// The IO error.
        source: std::io::Error,
    },
    /// A CLI or environment value is invalid.
    #[error("{0}")]
    Invalid(String),
}

/// Where a request error comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorSource {
    /// The client sent something wrong.
    Client,
    /// The upstream failed or refused.
    Upstream,
    /// The gateway itself failed.
    Internal,
}

/// An upstream error response, kept whole so it can be passed on.
#[derive(Debug)]
pub struct UpstreamFailure {
    /// Provider name.
    pub provider: String,
    /// The upstream status.
    pub status: StatusCode,
    /// Upstream headers worth passing on (`retry-after`, `content-type`,
    /// rate-limit headers).
    pub headers: HeaderMap,
    /// The upstream body, as received.
    pub body: Bytes,
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// Missing or unknown key.
    #[error("{0}")]
    Unauthorized(String),
    /// The key may not use this provider or model (403).
    #[error("{0}")]
    Forbidden(String),
    /// Malformed request.
    #[error("{0}")]
    BadRequest(String),
    /// Request body over the configured limit.
    #[error("request body exceeds the limit of {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The client did not send its request body in time (408; the
    /// connection is closed).
    #[error("{0}")]
    RequestTimeout(String),
    /// No such route, provider or model.
    #[error("{0}")]
    NotFound(String),
    /// The provider has no enabled credential.
    #[error("provider `{provider}` has no usable credential")]
    NoCredential {
        /// Provider name.
        provider: String,
    },
    /// The upstream answered with an error status; its body is kept.
    #[error("upstream `{}` answered {}", .0.provider, .0.status)]
    Upstream(Box<UpstreamFailure>),
    /// The upstream could not be reached or broke the connection.
    #[error("cannot reach upstream `{provider}`: {message}")]
    UpstreamUnavailable {
        /// Provider name.
        provider: String,
        /// What went wrong (no secrets).
        message: String,
    },
    /// The upstream did not answer in time.
    #[error("upstream `{provider}` timed out {phase}")]
    UpstreamTimeout {
        /// Provider name.
        provider: String,
        /// Which wait expired.
        phase: &'static str,
    },
    /// The upstream sent something unusable.
    #[error("upstream `{provider}` sent an invalid response: {message}")]
    UpstreamInvalid {
        /// Provider name.
        provider: String,
        /// What was wrong.
        message: String,
    },
    /// The provider is degraded: retries ran out on transient failures,
    /// its circuit is open, or a probe failed. Rendered as 503 with
    /// `X-Llm-Proxy-Error-Class: provider_degraded` and the signal in the
    /// message, so clients can detect it and fall back.
    #[error("{signal} provider `{provider}` is degraded: {reason}")]
    ProviderDegraded {
        /// Provider name.
        provider: String,
        /// Why (no secrets).
        reason: String,
        /// The degraded signal (marker) in force.
        signal: String,
    },
    /// Every credential of the provider is rate limited: no upstream call
    /// was made. Rendered as 429 with `Retry-After`.
    #[error("provider `{provider}` is rate limited; retry after {retry_after_secs} s")]
    RateLimited {
        /// Provider name.
        provider: String,
        /// Seconds until a credential is usable again (at least 1).
        retry_after_secs: u64,
    },
    /// A gateway rate limit refused the request before any upstream call
    /// (429 with `Retry-After` and `x-ratelimit-*`), or Redis could not
    /// be reached to check it and `on_redis_error = "closed"` (503).
    #[error("{}", rate_message(.0))]
    RateLimitExceeded(Box<crate::ratelimit::RateRefusal>),
    /// The request's estimated cost is above its ceiling
    /// (`x-gproxy-max-cost`), or cannot be estimated: refused before any
    /// upstream call (402).
    #[error("{0}")]
    CostLimitExceeded(String),
    /// A budget refused the request before any upstream call: used up, or
    /// its cost cannot be counted (402); or Redis could not be reached to
    /// check it and `on_redis_error = "closed"` (503).
    #[error("{0}")]
    BudgetExceeded(Box<crate::budget::BudgetRefusal>),
    /// A bug or an unexpected internal failure. Details go to the log only.
    #[error("internal error: {0}")]
    Internal(String),
}

fn rate_message(r: &crate::ratelimit::RateRefusal) -> String {
    match r {
        crate::ratelimit::RateRefusal::Exceeded {
            scope,
            what,
            limit,
            retry_after_ms,
            ..
        } => format!(
            "rate limit exceeded: {limit} {what} for {scope}; retry after {} s",
            retry_after_ms.div_ceil(1_000).max(1)
        ),
        crate::ratelimit::RateRefusal::Unavailable(_) => {
            "rate limits cannot be checked (limit store unreachable); try again later".to_owned()
        }
    }
}

/// The value of [`ERROR_CLASS_HEADER`] on a degraded answer.
pub const PROVIDER_DEGRADED: &str = "provider_degraded";
/// The response header naming the class of a gateway error.
pub const ERROR_CLASS_HEADER: &str = "x-llm-proxy-error-class";

/// The [`GatewayError::UpstreamTimeout`] phase of a call whose response
/// headers did not come within the first-byte timeout.
pub const FIRST_BYTE_PHASE: &str = "waiting for response headers";
/// The phase of a stream whose first event did not come within the
/// first-byte timeout (headers had arrived).
pub const FIRST_EVENT_PHASE: &str = "waiting for the first stream event";

impl GatewayError {
    /// Whether this is a first-byte timeout (no headers, or no first stream
    /// event, within `first_byte_timeout`): the upstream may still be
    /// working on — and billing — the request.
    pub fn is_first_byte_timeout(&self) -> bool {
        matches!(
            self,
            GatewayError::UpstreamTimeout { phase, .. }
                if *phase == FIRST_BYTE_PHASE || *phase == FIRST_EVENT_PHASE
        )
    }

    /// The HTTP status the client gets.
    pub fn status(&self) -> StatusCode {
        match self {
            GatewayError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            GatewayError::Forbidden(_) => StatusCode::FORBIDDEN,
            GatewayError::BadRequest(_) => StatusCode::BAD_REQUEST,
            GatewayError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            GatewayError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            GatewayError::NotFound(_) => StatusCode::NOT_FOUND,
            GatewayError::NoCredential { .. } => StatusCode::SERVICE_UNAVAILABLE,
            GatewayError::Upstream(failure) => failure.status,
            GatewayError::UpstreamUnavailable { .. } | GatewayError::UpstreamInvalid { .. } => {
                StatusCode::BAD_GATEWAY
            }
            GatewayError::UpstreamTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            GatewayError::ProviderDegraded { .. } => StatusCode::SERVICE_UNAVAILABLE,
            GatewayError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            GatewayError::RateLimitExceeded(r) => match **r {
                crate::ratelimit::RateRefusal::Exceeded { .. } => StatusCode::TOO_MANY_REQUESTS,
                crate::ratelimit::RateRefusal::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            },
            GatewayError::CostLimitExceeded(_) => StatusCode::PAYMENT_REQUIRED,
            GatewayError::BudgetExceeded(r) => match **r {
                crate::budget::BudgetRefusal::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::PAYMENT_REQUIRED,
            },
            GatewayError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Who is at fault.
    pub fn source(&self) -> ErrorSource {
        match self {
            GatewayError::Unauthorized(_)
            | GatewayError::Forbidden(_)
            | GatewayError::BadRequest(_)
            | GatewayError::PayloadTooLarge { .. }
            | GatewayError::RequestTimeout(_)
            | GatewayError::RateLimitExceeded(_)
            | GatewayError::NotFound(_)
            | GatewayError::CostLimitExceeded(_)
            | GatewayError::BudgetExceeded(_) => ErrorSource::Client,
            GatewayError::NoCredential { .. }
            | GatewayError::Upstream(_)
            | GatewayError::UpstreamUnavailable { .. }
            | GatewayError::UpstreamTimeout { .. }
            | GatewayError::UpstreamInvalid { .. }
            | GatewayError::ProviderDegraded { .. }
            | GatewayError::RateLimited { .. } => ErrorSource::Upstream,
            GatewayError::Internal(_) => ErrorSource::Internal,
        }
    }

    /// The message a client may see: internal details are withheld.
    pub fn client_message(&self) -> String {
        match self {
            GatewayError::Internal(_) => "internal error".to_owned(),
            other => other.to_string(),
        }
    }

    /// The text kept in the request log: the message plus, for upstream
    /// errors, the first 512 bytes of the upstream body.
    pub fn log_message(&self) -> String {
        match self {
            GatewayError::Upstream(failure) => {
                let end = failure.body.len().min(512);
                format!("{self}: {}", String::from_utf8_lossy(&failure.body[..end]))
            }
            other => other.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_sources() {
        assert_eq!(GatewayError::PayloadTooLarge { limit: 1 }.status(), 413);
        assert_eq!(GatewayError::RequestTimeout("x".into()).status(), 408);
        assert_eq!(
            GatewayError::UpstreamTimeout {
                provider: "p".into(),
                phase: "x"
            }
            .status(),
            504
        );
        assert_eq!(
            GatewayError::BadRequest("x".into()).source(),
            ErrorSource::Client
        );
        assert_eq!(
            GatewayError::Internal("db password".into()).client_message(),
            "internal error"
        );
    }

    #[test]
    fn upstream_log_message_is_truncated() {
        let e = GatewayError::Upstream(Box::new(UpstreamFailure {
            provider: "p".into(),
            status: StatusCode::TOO_MANY_REQUESTS,
            headers: HeaderMap::new(),
            body: Bytes::from(vec![b'a'; 2000]),
        }));
        assert!(e.log_message().len() < 600);
    }
}
