//! Request logs (filtered, cursor-paged, newest first; one request's detail
//! with every upstream attempt and captured bodies), usage aggregates, and
//! the audit log's query route.

use chrono::{DateTime, Duration, Utc};
use gproxy_core::observe::live::StatusFilter;
use gproxy_storage::{
    AttemptRecord, AuditQuery, AuditRow, CapturedBodies, LogQuery, RequestLogRow, TimeBucket,
    UsageGroup, UsageQuery, UsageRow,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::auth::Role;
use crate::error::ApiError;
use crate::json::{query, query_number};
use crate::request::Reply;
use crate::routes::Call;

/// Default page size.
const DEFAULT_LIMIT: u64 = 50;

/// One request's log row.
#[derive(Debug, Serialize, JsonSchema)]
pub struct LogView {
    /// Row id.
    pub id: i64,
    /// The request id (`x-request-id`).
    pub request_id: String,
    /// When the request arrived.
    pub created_at: DateTime<Utc>,
    /// User id.
    pub user_id: Option<i64>,
    /// User name.
    pub user_name: Option<String>,
    /// The key's visible prefix.
    pub key_prefix: Option<String>,
    /// The key's id.
    pub key_id: Option<i64>,
    /// Provider that served (or was tried).
    pub provider: Option<String>,
    /// Credential of the last attempt.
    pub credential_id: Option<i64>,
    /// Upstream model.
    pub model: Option<String>,
    /// The client's protocol.
    pub protocol: String,
    /// HTTP method.
    pub method: String,
    /// Request path.
    pub path: String,
    /// Whether the answer was streamed.
    pub stream: bool,
    /// Status the client got.
    pub status: u16,
    /// Total latency, ms.
    pub latency_ms: u64,
    /// Time to the first upstream byte, ms.
    pub ttfb_ms: Option<u64>,
    /// Prompt tokens.
    pub input_tokens: Option<u64>,
    /// Completion tokens.
    pub output_tokens: Option<u64>,
    /// Prompt-cache reads.
    pub cache_read_tokens: Option<u64>,
    /// Prompt-cache writes.
    pub cache_write_tokens: Option<u64>,
    /// Reasoning tokens.
    pub reasoning_tokens: Option<u64>,
    /// Error, if any.
    pub error: Option<String>,
    /// Whether the client went away before the end.
    pub client_disconnected: bool,
    /// What the request cost, USD (a decimal string); null when the price
    /// is unknown (never 0 for unknown).
    pub cost: Option<String>,
    /// The price catalogue version that priced it (`+override` when an
    /// override did).
    pub price_version: Option<String>,
}

/// Nano-dollars as a USD decimal string.
fn usd(nanos: i64) -> String {
    gproxy_core::cost::from_nanos(nanos).to_string()
}

impl From<RequestLogRow> for LogView {
    fn from(r: RequestLogRow) -> Self {
        let l = r.log;
        LogView {
            id: r.id,
            request_id: l.request_id,
            created_at: l.created_at,
            user_id: l.user_id,
            user_name: l.user_name,
            key_prefix: l.key_prefix,
            key_id: l.key_id,
            provider: l.provider,
            credential_id: l.credential_id,
            model: l.model,
            protocol: l.protocol,
            method: l.method,
            path: l.path,
            stream: l.stream,
            status: l.status,
            latency_ms: l.latency_ms,
            ttfb_ms: l.ttfb_ms,
            input_tokens: l.input_tokens,
            output_tokens: l.output_tokens,
            cache_read_tokens: l.cache_read_tokens,
            cache_write_tokens: l.cache_write_tokens,
            reasoning_tokens: l.reasoning_tokens,
            error: l.error,
            client_disconnected: l.client_disconnected,
            cost: l.cost_nano_usd.map(usd),
            price_version: l.price_version,
        }
    }
}

/// One page of logs.
#[derive(Debug, Serialize, JsonSchema)]
pub struct LogPageView {
    /// Rows, newest first.
    pub items: Vec<LogView>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// `GET /logs` filters.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogFilter {
    /// From this instant (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Before this instant (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// User id.
    #[serde(default, deserialize_with = "query_number")]
    pub user_id: Option<i64>,
    /// Key id.
    #[serde(default, deserialize_with = "query_number")]
    pub key_id: Option<i64>,
    /// Provider.
    pub provider: Option<String>,
    /// Upstream model.
    pub model: Option<String>,
    /// Client protocol (`openai_chat`, `claude`, ...).
    pub protocol: Option<String>,
    /// Request id.
    pub request_id: Option<String>,
    /// Status class: 2 (2xx), 4 (4xx), 5 (5xx)...
    #[serde(default, deserialize_with = "query_number")]
    #[schemars(range(min = 1, max = 5))]
    pub status_class: Option<u16>,
    /// From a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Rows per page (1 to 500, default 50).
    #[serde(default, deserialize_with = "query_number")]
    #[schemars(range(min = 1, max = 500))]
    pub limit: Option<u64>,
}

/// Storage checks `limit`, `status_class` and `cursor` (naming the field).
async fn page(call: &Call, f: LogFilter, user_id: Option<i64>) -> Result<Reply, ApiError> {
    let q = LogQuery {
        from: f.from,
        to: f.to,
        user_id: user_id.or(f.user_id),
        key_id: f.key_id,
        provider: f.provider,
        model: f.model,
        protocol: f.protocol,
        request_id: f.request_id,
        status_class: f.status_class,
        cursor: f.cursor,
        limit: f.limit.unwrap_or(DEFAULT_LIMIT),
    };
    let p = call.ctx.storage.query_request_logs(&q).await?;
    Reply::ok(&LogPageView {
        items: p.items.into_iter().map(LogView::from).collect(),
        next_cursor: p.next_cursor,
    })
}

/// `GET /logs`.
pub async fn list(call: Call) -> Result<Reply, ApiError> {
    let f: LogFilter = query(call.req.query.as_deref())?;
    page(&call, f, None).await
}

/// `GET /me/logs`: the caller's own requests.
pub async fn my_logs(call: Call) -> Result<Reply, ApiError> {
    let f: LogFilter = query(call.req.query.as_deref())?;
    let id = call.caller()?.user_id;
    page(&call, f, Some(id)).await
}

/// One upstream attempt.
#[derive(Debug, Serialize, JsonSchema)]
pub struct AttemptView {
    /// 1-based.
    pub attempt: u32,
    /// Provider.
    pub provider: String,
    /// Credential used.
    pub credential_id: Option<i64>,
    /// Upstream status; null when no answer came.
    pub status: Option<u16>,
    /// Latency, ms.
    pub latency_ms: u64,
    /// `auth`, `rate_limit`, `degraded`, `client`, `timeout`, `connect`...
    pub error_class: Option<String>,
    /// Short error text.
    pub error: Option<String>,
    /// When it started.
    pub created_at: DateTime<Utc>,
}

impl From<AttemptRecord> for AttemptView {
    fn from(a: AttemptRecord) -> Self {
        AttemptView {
            attempt: a.attempt,
            provider: a.provider,
            credential_id: a.credential_id,
            status: a.status,
            latency_ms: a.latency_ms,
            error_class: a.error_class,
            error: a.error,
            created_at: a.created_at,
        }
    }
}

/// Captured bodies (with `[logging] capture_bodies`).
#[derive(Debug, Serialize, JsonSchema)]
pub struct BodiesView {
    /// Request headers, secrets redacted.
    pub request_headers: serde_json::Value,
    /// Request body (capped).
    pub request_body: Option<String>,
    /// Whether it was cut.
    pub request_truncated: bool,
    /// Response body as the client got it (capped).
    pub response_body: Option<String>,
    /// Whether it was cut.
    pub response_truncated: bool,
}

impl From<CapturedBodies> for BodiesView {
    fn from(b: CapturedBodies) -> Self {
        BodiesView {
            request_headers: b.request_headers,
            request_body: b.request_body,
            request_truncated: b.request_truncated,
            response_body: b.response_body,
            response_truncated: b.response_truncated,
        }
    }
}

/// One request with every upstream attempt.
#[derive(Debug, Serialize, JsonSchema)]
pub struct LogDetailView {
    /// The log row.
    pub log: LogView,
    /// Every upstream attempt, in order.
    pub attempts: Vec<AttemptView>,
    /// Captured bodies, when capture was on.
    pub bodies: Option<BodiesView>,
}

/// `GET /logs/{request_id}`.
pub async fn detail(call: Call) -> Result<Reply, ApiError> {
    let id = call.param(0);
    let d = call
        .ctx
        .storage
        .request_log_detail(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no request `{id}` in the log")))?;
    let caller = call.caller()?;
    if caller.role == Role::User && d.log.log.user_id != Some(caller.user_id) {
        return Err(ApiError::not_found(format!("no request `{id}` in the log")));
    }
    Reply::ok(&LogDetailView {
        log: d.log.into(),
        attempts: d.attempts.into_iter().map(AttemptView::from).collect(),
        bodies: d.bodies.map(BodiesView::from),
    })
}

/// `GET /logs/live` filters.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LiveQuery {
    /// Only this provider.
    pub provider: Option<String>,
    /// Only this upstream model.
    pub model: Option<String>,
    /// Only these statuses: a code (`429`), a class (`4xx`) or `error`
    /// (400 and up).
    pub status: Option<String>,
}

/// `GET /logs/live`: finished requests as Server-Sent Events
/// (`event: request` with a [`gproxy_core::observe::live::LiveRequest`],
/// `event: lagged` with `{"missed": n}` after reading too slowly). The
/// `user` role sees only their own requests.
pub async fn live(call: Call) -> Result<Reply, ApiError> {
    let q: LiveQuery = query(call.req.query.as_deref())?;
    let caller = call.caller()?;
    let status = match q.status.as_deref() {
        Some(s) => StatusFilter::parse(s).map_err(|m| ApiError::field("status", m))?,
        None => None,
    };
    let filter = gproxy_core::observe::live::LiveFilter {
        user_id: (caller.role == Role::User).then_some(caller.user_id),
        provider: q.provider,
        model: q.model,
        status,
    };
    Ok(Reply::events(call.ctx.engine.observe().subscribe(filter)))
}

/// `GET /usage` parameters.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UsageFilter {
    /// Start (RFC 3339); default: 24 hours before `to`.
    pub from: Option<DateTime<Utc>>,
    /// End (RFC 3339, exclusive); default: now.
    pub to: Option<DateTime<Utc>>,
    /// Comma-separated: `provider`, `model`, `credential`, `user`, `key`.
    pub group_by: Option<String>,
    /// `hour` or `day`.
    pub bucket: Option<BucketParam>,
    /// Only this user.
    #[serde(default, deserialize_with = "query_number")]
    pub user_id: Option<i64>,
    /// Only this key.
    #[serde(default, deserialize_with = "query_number")]
    pub key_id: Option<i64>,
    /// Only this provider.
    pub provider: Option<String>,
    /// Only this model.
    pub model: Option<String>,
}

/// A time bucket.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BucketParam {
    /// Whole UTC hours.
    Hour,
    /// Whole UTC days.
    Day,
}

/// One group's totals.
#[derive(Debug, Serialize, JsonSchema)]
pub struct UsageView {
    /// Start of the hour or day, when bucketed.
    pub bucket_start: Option<DateTime<Utc>>,
    /// Provider, when grouped by it.
    pub provider: Option<String>,
    /// Model, when grouped by it.
    pub model: Option<String>,
    /// Credential id, when grouped by it.
    pub credential_id: Option<i64>,
    /// User id, when grouped by it.
    pub user_id: Option<i64>,
    /// Key id, when grouped by it.
    pub key_id: Option<i64>,
    /// Requests.
    pub requests: u64,
    /// Failed requests.
    pub errors: u64,
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
    /// Prompt-cache reads.
    pub cache_read_tokens: u64,
    /// Prompt-cache writes.
    pub cache_write_tokens: u64,
    /// Reasoning tokens.
    pub reasoning_tokens: u64,
    /// Sum of the known costs, USD (a decimal string).
    pub cost: String,
    /// Requests whose cost is known; the rest had no price and are not in
    /// `cost`.
    pub priced_requests: u64,
    /// Median latency, ms (interpolated within fixed buckets).
    pub latency_p50_ms: u64,
    /// 95th percentile latency, ms.
    pub latency_p95_ms: u64,
}

impl From<UsageRow> for UsageView {
    fn from(u: UsageRow) -> Self {
        UsageView {
            bucket_start: u.bucket_start,
            provider: u.provider,
            model: u.model,
            credential_id: u.credential_id,
            user_id: u.user_id,
            key_id: u.key_id,
            requests: u.requests,
            errors: u.errors,
            input_tokens: u.input_tokens,
            output_tokens: u.output_tokens,
            cache_read_tokens: u.cache_read_tokens,
            cache_write_tokens: u.cache_write_tokens,
            reasoning_tokens: u.reasoning_tokens,
            cost: usd(u.cost_nano_usd),
            priced_requests: u.priced_requests,
            latency_p50_ms: u.latency_p50_ms,
            latency_p95_ms: u.latency_p95_ms,
        }
    }
}

async fn usage_for(call: &Call, f: UsageFilter, user_id: Option<i64>) -> Result<Reply, ApiError> {
    let to = f.to.unwrap_or_else(Utc::now);
    let from = f.from.unwrap_or(to - Duration::hours(24));
    if from >= to {
        return Err(ApiError::field("from", "must be before `to`"));
    }
    if to - from > Duration::days(400) {
        return Err(ApiError::field("from", "the range is at most 400 days"));
    }
    let mut group_by = Vec::new();
    for (i, g) in f
        .group_by
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .enumerate()
    {
        let g = match g {
            "provider" => UsageGroup::Provider,
            "model" => UsageGroup::Model,
            "credential" => UsageGroup::Credential,
            "user" => UsageGroup::User,
            "key" => UsageGroup::Key,
            other => {
                return Err(ApiError::field(
                    format!("group_by[{i}]"),
                    format!("unknown `{other}` (provider, model, credential, user, key)"),
                ));
            }
        };
        if !group_by.contains(&g) {
            group_by.push(g);
        }
    }
    let q = UsageQuery {
        from,
        to,
        group_by,
        bucket: f.bucket.map(|b| match b {
            BucketParam::Hour => TimeBucket::Hour,
            BucketParam::Day => TimeBucket::Day,
        }),
        user_id: user_id.or(f.user_id),
        key_id: f.key_id,
        provider: f.provider,
        model: f.model,
    };
    if q.bucket == Some(TimeBucket::Hour) && to - from > Duration::days(31) {
        return Err(ApiError::field(
            "bucket",
            "hourly buckets cover at most 31 days",
        ));
    }
    let rows = call.ctx.storage.usage_aggregates(&q).await?;
    Reply::ok(&rows.into_iter().map(UsageView::from).collect::<Vec<_>>())
}

/// `GET /usage`.
pub async fn usage(call: Call) -> Result<Reply, ApiError> {
    let f: UsageFilter = query(call.req.query.as_deref())?;
    usage_for(&call, f, None).await
}

/// `GET /me/usage`: the caller's own usage.
pub async fn my_usage(call: Call) -> Result<Reply, ApiError> {
    let f: UsageFilter = query(call.req.query.as_deref())?;
    let id = call.caller()?.user_id;
    usage_for(&call, f, Some(id)).await
}

/// One audit record.
#[derive(Debug, Serialize, JsonSchema)]
pub struct AuditView {
    /// Row id.
    pub id: i64,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Who: a user name or `admin-key`.
    pub actor: String,
    /// The acting user's id.
    pub actor_user_id: Option<i64>,
    /// What (`provider.update`, `key.create`, ...).
    pub action: String,
    /// The kind of object.
    pub target_type: String,
    /// The object's id or name.
    pub target_id: String,
    /// The client's address.
    pub client_ip: Option<String>,
    /// The status the write answered.
    pub outcome: u16,
    /// Extra detail (never secrets).
    pub detail: Option<serde_json::Value>,
}

impl From<AuditRow> for AuditView {
    fn from(a: AuditRow) -> Self {
        AuditView {
            id: a.id,
            created_at: a.created_at,
            actor: a.actor,
            actor_user_id: a.actor_user_id,
            action: a.action,
            target_type: a.target_type,
            target_id: a.target_id,
            client_ip: a.client_ip,
            outcome: a.outcome,
            detail: a.detail,
        }
    }
}

/// One page of audit records.
#[derive(Debug, Serialize, JsonSchema)]
pub struct AuditPageView {
    /// Records, newest first.
    pub items: Vec<AuditView>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// `GET /audit` filters.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditFilter {
    /// From this instant.
    pub from: Option<DateTime<Utc>>,
    /// Before this instant.
    pub to: Option<DateTime<Utc>>,
    /// Actor.
    pub actor: Option<String>,
    /// Action.
    pub action: Option<String>,
    /// Kind of object.
    pub target_type: Option<String>,
    /// Object.
    pub target_id: Option<String>,
    /// From a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Records per page (1 to 500, default 50).
    #[serde(default, deserialize_with = "query_number")]
    #[schemars(range(min = 1, max = 500))]
    pub limit: Option<u64>,
}

/// `GET /audit`.
pub async fn audit(call: Call) -> Result<Reply, ApiError> {
    let f: AuditFilter = query(call.req.query.as_deref())?;
    let q = AuditQuery {
        from: f.from,
        to: f.to,
        actor: f.actor,
        action: f.action,
        target_type: f.target_type,
        target_id: f.target_id,
        cursor: f.cursor,
        limit: f.limit.unwrap_or(DEFAULT_LIMIT),
    };
    let p = call.ctx.storage.query_audit(&q).await?;
    Reply::ok(&AuditPageView {
        items: p.items.into_iter().map(AuditView::from).collect(),
        next_cursor: p.next_cursor,
    })
}
