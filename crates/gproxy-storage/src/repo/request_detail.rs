//! A request's detail: its upstream attempts (`request_attempts`) and its
//! captured bodies (`request_bodies`), written with its log row, and read
//! back together by [`Storage::request_log_detail`].

use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;

use super::execute;
use super::request_logs::{RequestLog, RequestLogRow, bigint, opt_text, text, unsigned};
use crate::entities::{request_attempts, request_bodies, request_logs};
use crate::{Result, Storage, StorageError};

/// Longest attempt error kept, in characters.
pub const ATTEMPT_ERROR_MAX: usize = 1024;
/// Longest error class kept, in characters (the column is `VARCHAR(32)`).
const ERROR_CLASS_MAX: usize = 32;
/// Longest provider name, matching `VARCHAR(128)`.
const PROVIDER_MAX: usize = 128;
/// Longest request id, matching `VARCHAR(128)`.
const REQUEST_ID_MAX: usize = 128;
/// Attempt rows per `INSERT` (10 values each).
const ATTEMPT_CHUNK: usize = 1000;
/// Body rows per `INSERT`: few, since each may carry megabytes.
const BODY_CHUNK: usize = 16;

/// One upstream attempt of a request, as the engine records it and as the
/// detail query returns it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct AttemptRecord {
    /// Attempt number, 1-based, in the order the attempts were made.
    pub attempt: u32,
    /// Provider called.
    pub provider: String,
    /// Credential used, if any.
    pub credential_id: Option<i64>,
    /// Upstream status; `None` when no answer came (timeout, connection).
    pub status: Option<u16>,
    /// Time the attempt took until its answer (or failure), in ms.
    pub latency_ms: u64,
    /// Failure class (`auth`, `rate_limit`, `degraded`, `client`,
    /// `timeout`, `connect`, ...); `None` for a success.
    pub error_class: Option<String>,
    /// Short error text, clipped to [`ATTEMPT_ERROR_MAX`] characters.
    pub error: Option<String>,
    /// When the attempt started.
    pub created_at: DateTime<Utc>,
}

/// A request's captured bodies (with `[logging] capture_bodies`).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct CapturedBodies {
    /// The client's request headers, `{"name": ["value", ...]}`, secrets
    /// already redacted by the engine.
    pub request_headers: serde_json::Value,
    /// The request body (lossy UTF-8), capped by the engine.
    pub request_body: Option<String>,
    /// Whether the request body was cut at the cap.
    pub request_truncated: bool,
    /// The response body as the client got it (lossy UTF-8), capped.
    pub response_body: Option<String>,
    /// Whether the response body was cut at the cap.
    pub response_truncated: bool,
}

impl CapturedBodies {
    /// Bytes the bodies hold (what the usage sink's byte budget counts).
    pub fn size(&self) -> usize {
        self.request_body.as_ref().map_or(0, String::len)
            + self.response_body.as_ref().map_or(0, String::len)
    }
}

/// One request's log row with its attempts and captured bodies.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestLogDetail {
    /// The log row.
    pub log: RequestLogRow,
    /// Its upstream attempts, in order.
    pub attempts: Vec<AttemptRecord>,
    /// Its captured bodies, if capture was on.
    pub bodies: Option<CapturedBodies>,
}

/// Whether `log`'s attempts need rows of their own. A request served by
/// its first attempt (the common case) does not: its log row holds the same
/// facts, and [`Storage::request_log_detail`] derives the attempt from it.
/// Writing one row less per request halves the usage sink's inserts.
pub(crate) fn needs_attempt_rows(log: &RequestLog) -> bool {
    match log.attempts.as_slice() {
        [] => false,
        [only] => only.error_class.is_some() || only.credential_id != log.credential_id,
        _ => true,
    }
}

/// The attempt a request served by its first attempt made, from its log
/// row (see [`needs_attempt_rows`]); `None` for a request that never got
/// an upstream answer.
fn derived_attempt(log: &RequestLog) -> Option<AttemptRecord> {
    let ttfb = log.ttfb_ms?;
    Some(AttemptRecord {
        attempt: 1,
        provider: log.provider.clone()?,
        credential_id: log.credential_id,
        status: Some(log.status),
        latency_ms: ttfb,
        error_class: None,
        error: None,
        created_at: log.created_at,
    })
}

/// Inserts the attempts of `rows` (chunked multi-row inserts).
pub(crate) async fn insert_attempts<C: ConnectionTrait>(db: &C, rows: &[RequestLog]) -> Result<()> {
    let models: Vec<request_attempts::ActiveModel> = rows
        .iter()
        .filter(|log| needs_attempt_rows(log))
        .flat_map(|log| {
            let request_id = text(&log.request_id, REQUEST_ID_MAX);
            log.attempts
                .iter()
                .map(move |a| request_attempts::ActiveModel {
                    id: NotSet,
                    request_id: Set(request_id.clone()),
                    attempt: Set(i32::try_from(a.attempt).unwrap_or(i32::MAX)),
                    provider: Set(text(&a.provider, PROVIDER_MAX)),
                    credential_id: Set(a.credential_id),
                    status: Set(a.status.map(i32::from)),
                    latency_ms: Set(bigint(a.latency_ms)),
                    error_class: Set(opt_text(a.error_class.as_ref(), ERROR_CLASS_MAX)),
                    error: Set(opt_text(a.error.as_ref(), ATTEMPT_ERROR_MAX)),
                    created_at: Set(a.created_at),
                })
        })
        .collect();
    for chunk in models.chunks(ATTEMPT_CHUNK) {
        execute(db, &request_attempts::Entity::insert_many(chunk.to_vec())).await?;
    }
    Ok(())
}

/// Inserts the captured bodies of `rows` (small chunks: bodies are large).
pub(crate) async fn insert_bodies<C: ConnectionTrait>(db: &C, rows: &[RequestLog]) -> Result<()> {
    let models: Vec<request_bodies::ActiveModel> = rows
        .iter()
        .filter_map(|log| {
            let b = log.bodies.as_ref()?;
            Some(request_bodies::ActiveModel {
                id: NotSet,
                request_id: Set(text(&log.request_id, REQUEST_ID_MAX)),
                request_headers: Set(b.request_headers.clone()),
                request_body: Set(b.request_body.as_deref().map(no_nul)),
                request_truncated: Set(b.request_truncated),
                response_body: Set(b.response_body.as_deref().map(no_nul)),
                response_truncated: Set(b.response_truncated),
                created_at: Set(log.created_at),
            })
        })
        .collect();
    for chunk in models.chunks(BODY_CHUNK) {
        execute(db, &request_bodies::Entity::insert_many(chunk.to_vec())).await?;
    }
    Ok(())
}

/// `s` with NUL (which PostgreSQL refuses in text) replaced by U+FFFD.
fn no_nul(s: &str) -> String {
    s.replace('\0', "\u{FFFD}")
}

impl TryFrom<request_attempts::Model> for AttemptRecord {
    type Error = StorageError;

    fn try_from(m: request_attempts::Model) -> Result<Self> {
        Ok(Self {
            attempt: u32::try_from(m.attempt).map_err(|_| {
                StorageError::invalid("request_attempts.attempt", format!("{} < 0", m.attempt))
            })?,
            provider: m.provider,
            credential_id: m.credential_id,
            status: m
                .status
                .map(|s| {
                    u16::try_from(s).map_err(|_| {
                        StorageError::invalid(
                            "request_attempts.status",
                            format!("{s} is no HTTP status"),
                        )
                    })
                })
                .transpose()?,
            latency_ms: unsigned("request_attempts.latency_ms", m.latency_ms)?,
            error_class: m.error_class,
            error: m.error,
            created_at: m.created_at,
        })
    }
}

impl From<request_bodies::Model> for CapturedBodies {
    fn from(m: request_bodies::Model) -> Self {
        Self {
            request_headers: m.request_headers,
            request_body: m.request_body,
            request_truncated: m.request_truncated,
            response_body: m.response_body,
            response_truncated: m.response_truncated,
        }
    }
}

impl Storage {
    /// The newest log row with `request_id`, its attempts and its captured
    /// bodies; `None` when no row has that id. (Request ids come from the
    /// client's `X-Request-Id` when it sends one, so they may repeat; the
    /// attempts and bodies are those recorded under the id.)
    pub async fn request_log_detail(&self, request_id: &str) -> Result<Option<RequestLogDetail>> {
        let db = self.connection();
        let Some(log) = request_logs::Entity::find()
            .filter(request_logs::Column::RequestId.eq(request_id))
            .order_by_desc(request_logs::Column::Id)
            .limit(1)
            .one(db)
            .await?
        else {
            return Ok(None);
        };
        let attempts = request_attempts::Entity::find()
            .filter(request_attempts::Column::RequestId.eq(request_id))
            .order_by_asc(request_attempts::Column::Attempt)
            .order_by_asc(request_attempts::Column::Id)
            .all(db)
            .await?
            .into_iter()
            .map(AttemptRecord::try_from)
            .collect::<Result<Vec<_>>>()?;
        let log = RequestLogRow::try_from(log)?;
        let attempts = if attempts.is_empty() {
            derived_attempt(&log.log).into_iter().collect()
        } else {
            attempts
        };
        let bodies = request_bodies::Entity::find()
            .filter(request_bodies::Column::RequestId.eq(request_id))
            .order_by_desc(request_bodies::Column::Id)
            .limit(1)
            .one(db)
            .await?
            .map(CapturedBodies::from);
        Ok(Some(RequestLogDetail {
            log,
            attempts,
            bodies,
        }))
    }
}

#[cfg(test)]
mod first_attempt_tests {
    use super::*;

    fn attempt(error_class: Option<&str>, credential_id: Option<i64>) -> AttemptRecord {
        AttemptRecord {
            attempt: 1,
            provider: "openai".into(),
            credential_id,
            status: Some(200),
            latency_ms: 7,
            error_class: error_class.map(str::to_owned),
            error: None,
            created_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn a_first_attempt_success_is_derived_not_stored() {
        let mut log = RequestLog {
            provider: Some("openai".into()),
            credential_id: Some(3),
            status: 200,
            ttfb_ms: Some(7),
            attempts: vec![attempt(None, Some(3))],
            ..RequestLog::default()
        };
        assert!(!needs_attempt_rows(&log));
        let derived = derived_attempt(&log).unwrap();
        assert_eq!(
            (derived.attempt, derived.status, derived.latency_ms),
            (1, Some(200), 7)
        );
        assert_eq!(derived.credential_id, Some(3));
        // A failure, a retry or another credential needs its rows.
        log.attempts = vec![attempt(Some("rate_limit"), Some(3))];
        assert!(needs_attempt_rows(&log));
        log.attempts = vec![attempt(Some("rate_limit"), Some(2)), attempt(None, Some(3))];
        assert!(needs_attempt_rows(&log));
        log.attempts = vec![attempt(None, Some(9))];
        assert!(needs_attempt_rows(&log));
        // No upstream answer: nothing to derive.
        log.ttfb_ms = None;
        assert!(derived_attempt(&log).is_none());
    }
}
