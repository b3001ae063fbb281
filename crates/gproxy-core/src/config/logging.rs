//! `[logging]`: whether request logs are written, body capture and its
//! cap, which headers are redacted, and how long logs are kept. Every
//! field is optional; absent ones keep their stored value or default (see
//! [`Logging`]). The resolved settings can be changed live
//! ([`crate::Engine::set_logging`]).

use serde::{Deserialize, Serialize};

/// Largest `max_body_bytes`: 16 MiB.
pub const MAX_BODY_BYTES_LIMIT: u64 = 16 * 1024 * 1024;
/// Largest `retention_days` (ten years).
pub const MAX_RETENTION_DAYS: u32 = 3650;
/// Headers redacted by default.
pub const DEFAULT_REDACT_HEADERS: [&str; 6] = [
    "authorization",
    "x-api-key",
    "x-goog-api-key",
    "cookie",
    "set-cookie",
    "proxy-authorization",
];

/// `[logging]` as written.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoggingConfig {
    /// Whether every request gets a log row (and its attempt rows). `false`
    /// writes no request log rows at all. Default true.
    pub record_requests: Option<bool>,
    /// Whether request and response bodies (and redacted request headers)
    /// are stored with the log row. Default false.
    pub capture_bodies: Option<bool>,
    /// Bytes kept of each captured body (the rest is cut and the body
    /// marked truncated), 0 to 16 MiB. Default 65536.
    pub max_body_bytes: Option<u64>,
    /// Request headers whose values are replaced by `[redacted]` in
    /// captured headers (case-insensitive). Default `authorization`,
    /// `x-api-key`, `x-goog-api-key`, `cookie`, `set-cookie`,
    /// `proxy-authorization`.
    pub redact_headers: Option<Vec<String>>,
    /// Days request logs are kept; older rows (with their attempts and
    /// bodies) are purged hourly. 0 keeps them forever. At most 3650.
    /// Default 0.
    pub retention_days: Option<u32>,
}

impl LoggingConfig {
    /// Checks values; errors name the field relative to the section.
    pub fn validate(&self) -> Result<(), (String, String)> {
        if let Some(v) = self.max_body_bytes
            && v > MAX_BODY_BYTES_LIMIT
        {
            return Err((
                "max_body_bytes".to_owned(),
                format!("{v}: must be at most {MAX_BODY_BYTES_LIMIT} (16 MiB)"),
            ));
        }
        if let Some(v) = self.retention_days
            && v > MAX_RETENTION_DAYS
        {
            return Err((
                "retention_days".to_owned(),
                format!("{v}: must be at most {MAX_RETENTION_DAYS}"),
            ));
        }
        if let Some(headers) = &self.redact_headers {
            for (i, name) in headers.iter().enumerate() {
                if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                    return Err((
                        format!("redact_headers[{i}]"),
                        format!("`{name}` is not a header name"),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The logging settings in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Logging {
    /// Whether request log rows are written. Default true.
    pub record_requests: bool,
    /// Whether bodies and redacted headers are captured. Default false.
    pub capture_bodies: bool,
    /// Bytes kept of each captured body. Default 65536.
    pub max_body_bytes: usize,
    /// Redacted request headers, lower case.
    pub redact_headers: Vec<String>,
    /// Days logs are kept; 0 forever. Default 0.
    pub retention_days: u32,
}

impl Default for Logging {
    fn default() -> Self {
        Logging {
            record_requests: true,
            capture_bodies: false,
            max_body_bytes: 65_536,
            redact_headers: DEFAULT_REDACT_HEADERS.map(str::to_owned).to_vec(),
            retention_days: 0,
        }
    }
}

impl Logging {
    /// These settings with every value `config` sets applied on top
    /// (`config` is assumed valid; out-of-range values are clamped).
    pub fn merged(mut self, config: &LoggingConfig) -> Self {
        if let Some(v) = config.record_requests {
            self.record_requests = v;
        }
        if let Some(v) = config.capture_bodies {
            self.capture_bodies = v;
        }
        if let Some(v) = config.max_body_bytes {
            self.max_body_bytes = usize::try_from(v.min(MAX_BODY_BYTES_LIMIT)).unwrap_or(0);
        }
        if let Some(v) = &config.redact_headers {
            self.redact_headers = v.iter().map(|h| h.to_ascii_lowercase()).collect();
        }
        if let Some(v) = config.retention_days {
            self.retention_days = v.min(MAX_RETENTION_DAYS);
        }
        self
    }

    /// The settings as a complete config section (for storing).
    pub fn to_config(&self) -> LoggingConfig {
        LoggingConfig {
            record_requests: Some(self.record_requests),
            capture_bodies: Some(self.capture_bodies),
            max_body_bytes: Some(self.max_body_bytes as u64),
            redact_headers: Some(self.redact_headers.clone()),
            retention_days: Some(self.retention_days),
        }
    }

    /// Whether header `name` (lower case, as `http` keeps it) is redacted.
    pub fn redacts(&self, name: &str) -> bool {
        self.redact_headers.iter().any(|h| h == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_merge_and_round_trip() {
        let d = Logging::default();
        assert!(d.record_requests && !d.capture_bodies);
        assert_eq!((d.max_body_bytes, d.retention_days), (65_536, 0));
        assert!(d.redacts("authorization") && d.redacts("x-goog-api-key"));
        assert!(!d.redacts("content-type"));

        let m = d.clone().merged(&LoggingConfig {
            capture_bodies: Some(true),
            max_body_bytes: Some(10),
            redact_headers: Some(vec!["X-Secret".into()]),
            retention_days: Some(7),
            record_requests: None,
        });
        assert!(m.capture_bodies && m.record_requests);
        assert_eq!((m.max_body_bytes, m.retention_days), (10, 7));
        assert!(m.redacts("x-secret") && !m.redacts("authorization"));
        assert_eq!(Logging::default().merged(&m.to_config()), m);
    }

    #[test]
    fn validation_names_the_field() {
        let bad = |c: LoggingConfig| c.validate().err().map(|(f, _)| f);
        assert_eq!(
            bad(LoggingConfig {
                max_body_bytes: Some(MAX_BODY_BYTES_LIMIT + 1),
                ..Default::default()
            }),
            Some("max_body_bytes".into())
        );
        assert_eq!(
            bad(LoggingConfig {
                retention_days: Some(3651),
                ..Default::default()
            }),
            Some("retention_days".into())
        );
        assert_eq!(
            bad(LoggingConfig {
                redact_headers: Some(vec!["ok".into(), "bad name".into()]),
                ..Default::default()
            }),
            Some("redact_headers[1]".into())
        );
        assert!(
            LoggingConfig {
                max_body_bytes: Some(0),
                retention_days: Some(3650),
                ..Default::default()
            }
            .validate()
            .is_ok()
        );
    }
}
