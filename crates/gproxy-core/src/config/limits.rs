//! `[limits]`: body sizes, upstream timeouts and the client edge (how long
//! a connection may stay silent, idle or slow, how many may be open). Every
//! field is optional; absent ones keep their stored value or default (see
//! [`crate::settings::Limits`]). Every value has a range, checked here for
//! the config file and the admin API alike, so no setting can make the
//! timer arithmetic overflow.

use serde::{Deserialize, Serialize};

/// `[limits]` as written.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest accepted request body in bytes (413 beyond). Default 32 MiB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_body_bytes: Option<u64>,
    /// Largest buffered (non-stream) upstream response in bytes. Default 64 MiB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_response_bytes: Option<u64>,
    /// Largest request body streamed through on passthrough routes. Default 512 MiB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_passthrough_body_bytes: Option<u64>,
    /// Upstream TCP connect timeout in seconds, 1 to 300. Default 10.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_timeout_secs: Option<u64>,
    /// Time allowed until upstream response headers arrive, in seconds, 1
    /// to 3600. Default 300.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_byte_timeout_secs: Option<u64>,
    /// Longest silence between two upstream body chunks, in seconds, 1 to
    /// 3600. Default 120.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_idle_timeout_secs: Option<u64>,
    /// Time a new client connection has to send its first bytes (enough to
    /// tell HTTP/1 from HTTP/2), in seconds, 1 to 300. Default 10.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_first_byte_timeout_secs: Option<u64>,
    /// Time a client has to complete a request head once its first byte
    /// arrived (HTTP/1), or to open its first stream (HTTP/2), in seconds,
    /// 1 to 300. Default 30.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_header_timeout_secs: Option<u64>,
    /// Longest silence between two chunks of a request body, in seconds, 1
    /// to 3600 (408 and the connection closed beyond). Default 30.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_body_idle_timeout_secs: Option<u64>,
    /// Time allowed to receive a whole request body, in seconds, 1 to
    /// 86400 (408 and the connection closed beyond). Default 600.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_body_timeout_secs: Option<u64>,
    /// How long an HTTP/1 connection may wait for its next request, in
    /// seconds, 1 to 3600. Default 75.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_keepalive_timeout_secs: Option<u64>,
    /// How long an HTTP/2 connection may stay without an open stream, in
    /// seconds, 1 to 86400. Default 300.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http2_idle_timeout_secs: Option<u64>,
    /// Interval of HTTP/2 keep-alive pings, in seconds, 0 (none) to 3600.
    /// Default 30.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http2_keepalive_interval_secs: Option<u64>,
    /// How long a keep-alive ping may go unanswered before the connection
    /// is closed, in seconds, 1 to 300. Default 20.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http2_keepalive_timeout_secs: Option<u64>,
    /// Most concurrent streams on one HTTP/2 connection, 1 to 10000.
    /// Default 128.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http2_max_concurrent_streams: Option<u64>,
    /// Most client connections open at once, 1 to 1000000; a connection
    /// beyond it is answered 503 and closed at once. Default 10000 (and at
    /// most what the open-file limit allows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<u64>,
}

impl LimitsConfig {
    /// Every field with its name and accepted range. Sizes only need to
    /// be positive; durations are bounded so that adding one to an instant
    /// can never overflow.
    fn fields_mut(&mut self) -> [(&'static str, &mut Option<u64>, u64, u64); 16] {
        [
            ("max_body_bytes", &mut self.max_body_bytes, 1, u64::MAX),
            (
                "max_response_bytes",
                &mut self.max_response_bytes,
                1,
                u64::MAX,
            ),
            (
                "max_passthrough_body_bytes",
                &mut self.max_passthrough_body_bytes,
                1,
                u64::MAX,
            ),
            (
                "connect_timeout_secs",
                &mut self.connect_timeout_secs,
                1,
                300,
            ),
            (
                "first_byte_timeout_secs",
                &mut self.first_byte_timeout_secs,
                1,
                3600,
            ),
            (
                "stream_idle_timeout_secs",
                &mut self.stream_idle_timeout_secs,
                1,
                3600,
            ),
            (
                "client_first_byte_timeout_secs",
                &mut self.client_first_byte_timeout_secs,
                1,
                300,
            ),
            (
                "client_header_timeout_secs",
                &mut self.client_header_timeout_secs,
                1,
                300,
            ),
            (
                "client_body_idle_timeout_secs",
                &mut self.client_body_idle_timeout_secs,
                1,
                3600,
            ),
            (
                "client_body_timeout_secs",
                &mut self.client_body_timeout_secs,
                1,
                86_400,
            ),
            (
                "client_keepalive_timeout_secs",
                &mut self.client_keepalive_timeout_secs,
                1,
                3600,
            ),
            (
                "http2_idle_timeout_secs",
                &mut self.http2_idle_timeout_secs,
                1,
                86_400,
            ),
            (
                "http2_keepalive_interval_secs",
                &mut self.http2_keepalive_interval_secs,
                0,
                3600,
            ),
            (
                "http2_keepalive_timeout_secs",
                &mut self.http2_keepalive_timeout_secs,
                1,
                300,
            ),
            (
                "http2_max_concurrent_streams",
                &mut self.http2_max_concurrent_streams,
                1,
                10_000,
            ),
            ("max_connections", &mut self.max_connections, 1, 1_000_000),
        ]
    }

    /// Checks every value against its range; errors name the field
    /// relative to the section.
    pub(crate) fn validate(&self) -> Result<(), (String, String)> {
        for (name, value, min, max) in self.clone().fields_mut() {
            let Some(value) = *value else { continue };
            if value < min || value > max {
                let message = if max == u64::MAX {
                    format!("{value}: must be at least {min}")
                } else {
                    format!("{value}: must be {min} to {max}")
                };
                return Err((name.to_owned(), message));
            }
        }
        Ok(())
    }

    /// These limits with every value brought into its range (for values
    /// stored before ranges were checked: they must not overflow a timer).
    pub fn clamped(mut self) -> Self {
        for (_, value, min, max) in self.fields_mut() {
            if let Some(v) = value {
                *v = (*v).clamp(min, max);
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::parse;
    use super::LimitsConfig;

    #[test]
    fn out_of_range_values_name_their_field() {
        for (bad, field) in [
            ("max_body_bytes = 0", "limits.max_body_bytes"),
            (
                "stream_idle_timeout_secs = 9223372036854775807",
                "limits.stream_idle_timeout_secs",
            ),
            (
                "stream_idle_timeout_secs = 3601",
                "limits.stream_idle_timeout_secs",
            ),
            ("connect_timeout_secs = 0", "limits.connect_timeout_secs"),
            (
                "client_first_byte_timeout_secs = 301",
                "limits.client_first_byte_timeout_secs",
            ),
            (
                "client_body_timeout_secs = 0",
                "limits.client_body_timeout_secs",
            ),
            (
                "http2_max_concurrent_streams = 10001",
                "limits.http2_max_concurrent_streams",
            ),
            ("max_connections = 0", "limits.max_connections"),
        ] {
            let err = parse(&format!("[limits]\n{bad}\n")).unwrap_err();
            let text = err.to_string();
            assert!(text.contains(field), "{bad}: {text}");
            assert!(text.contains("must be"), "{bad}: {text}");
        }
    }

    #[test]
    fn stored_values_out_of_range_are_clamped() {
        let c = LimitsConfig {
            stream_idle_timeout_secs: Some(u64::MAX),
            max_body_bytes: Some(0),
            client_header_timeout_secs: Some(5),
            ..Default::default()
        }
        .clamped();
        assert_eq!(c.stream_idle_timeout_secs, Some(3600));
        assert_eq!(c.max_body_bytes, Some(1));
        assert_eq!(c.client_header_timeout_secs, Some(5));
        assert!(c.validate().is_ok());
    }

    #[test]
    fn bounds_are_accepted() {
        let c = parse(
            "[limits]\nstream_idle_timeout_secs = 3600\nhttp2_keepalive_interval_secs = 0\nmax_connections = 1\nclient_body_timeout_secs = 86400\n",
        )
        .unwrap();
        assert_eq!(c.limits.unwrap().http2_keepalive_interval_secs, Some(0));
    }
}
