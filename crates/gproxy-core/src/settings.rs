//! Resolved settings: what the gateway runs with after merging
//! CLI > ENV > config file > database > defaults.

use std::path::PathBuf;
use std::time::Duration;

use crate::config::LimitsConfig;

/// Default listen host.
pub const DEFAULT_HOST: &str = "127.0.0.1";
/// Default listen port.
pub const DEFAULT_PORT: u16 = 8787;
/// Default data directory.
pub const DEFAULT_DATA_DIR: &str = "./data";

/// Size limits and timeouts, with documented defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted request body (413 beyond). Default 32 MiB.
    pub max_body_bytes: usize,
    /// Largest buffered non-stream upstream response (502 beyond). Default 64 MiB.
    pub max_response_bytes: usize,
    /// Largest request body streamed through on passthrough routes (413
    /// beyond). Default 512 MiB.
    pub max_passthrough_body_bytes: usize,
    /// Upstream TCP connect timeout. Default 10 s.
    pub connect_timeout: Duration,
    /// Time allowed until upstream response headers arrive. Default 300 s.
    pub first_byte_timeout: Duration,
    /// Longest silence between two upstream body chunks. Default 120 s.
    pub stream_idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 32 * 1024 * 1024,
            max_response_bytes: 64 * 1024 * 1024,
            max_passthrough_body_bytes: 512 * 1024 * 1024,
            connect_timeout: Duration::from_secs(10),
            first_byte_timeout: Duration::from_secs(300),
            stream_idle_timeout: Duration::from_secs(120),
        }
    }
}

impl Limits {
    /// These limits with every value `config` sets applied on top.
    pub fn merged(mut self, config: &LimitsConfig) -> Self {
        let secs = Duration::from_secs;
        if let Some(v) = config.max_body_bytes {
            self.max_body_bytes = usize::try_from(v).unwrap_or(usize::MAX);
        }
        if let Some(v) = config.max_response_bytes {
            self.max_response_bytes = usize::try_from(v).unwrap_or(usize::MAX);
        }
        if let Some(v) = config.max_passthrough_body_bytes {
            self.max_passthrough_body_bytes = usize::try_from(v).unwrap_or(usize::MAX);
        }
        if let Some(v) = config.connect_timeout_secs {
            self.connect_timeout = secs(v);
        }
        if let Some(v) = config.first_byte_timeout_secs {
            self.first_byte_timeout = secs(v);
        }
        if let Some(v) = config.stream_idle_timeout_secs {
            self.stream_idle_timeout = secs(v);
        }
        self
    }
}

/// Everything the gateway runs with, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Listen host.
    pub host: String,
    /// Listen port.
    pub port: u16,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Database DSN (may hold a password: never log it whole).
    pub dsn: String,
    /// Egress proxy URL for upstream calls.
    pub proxy: Option<String>,
    /// Limits and timeouts.
    pub limits: Limits,
}

impl Settings {
    /// The DSN with any password replaced by `***`, for logs and banners.
    pub fn dsn_redacted(&self) -> String {
        redact_url_password(&self.dsn)
    }
}

/// `scheme://user:pass@host/...` with the password replaced by `***`.
pub fn redact_url_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match (authority.rfind('@'), authority.find(':')) {
        (Some(at), Some(colon)) if colon < at => format!(
            "{}{}:***{}",
            &url[..scheme_end + 3],
            &authority[..colon],
            &rest[at..]
        ),
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url_password("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(
            redact_url_password("mysql://root@h/db"),
            "mysql://root@h/db"
        );
        assert_eq!(
            redact_url_password("sqlite://data/g.db"),
            "sqlite://data/g.db"
        );
    }

    #[test]
    fn limits_merge_only_what_is_set() {
        let l = Limits::default().merged(&LimitsConfig {
            max_body_bytes: Some(10),
            stream_idle_timeout_secs: Some(3),
            ..Default::default()
        });
        assert_eq!(l.max_body_bytes, 10);
        assert_eq!(l.stream_idle_timeout, Duration::from_secs(3));
        assert_eq!(l.connect_timeout, Limits::default().connect_timeout);
    }
}
