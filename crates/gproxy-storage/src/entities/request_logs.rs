//! `request_logs`: one row per proxied request, written by the usage sink.
//!
//! Unsigned counters are stored as signed `BIGINT`s; the repository saturates
//! values above `i64::MAX` on write. The table has no foreign keys on purpose:
//! logs outlive the users, keys and credentials they mention.

use sea_orm::entity::prelude::*;

/// One request log row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "request_logs")]
pub struct Model {
    /// Surrogate key; increases with insertion order.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Gateway request id (at most 128 characters).
    pub request_id: String,
    /// When the request started (indexed).
    pub created_at: DateTimeUtc,
    /// Authenticated user, if any (indexed).
    pub user_id: Option<i64>,
    /// User name at the time of the request.
    pub user_name: Option<String>,
    /// Prefix of the user key used.
    pub key_prefix: Option<String>,
    /// The user key used (`None` for the admin key and older rows).
    pub key_id: Option<i64>,
    /// Provider the request was routed to.
    pub provider: Option<String>,
    /// Credential used upstream.
    pub credential_id: Option<i64>,
    /// Model requested upstream.
    pub model: Option<String>,
    /// Client protocol, e.g. `openai.chat`.
    pub protocol: String,
    /// HTTP method.
    pub method: String,
    /// Request path (at most 2048 characters).
    #[sea_orm(column_type = "Text")]
    pub path: String,
    /// Whether the response was streamed.
    pub stream: bool,
    /// HTTP status sent to the client.
    pub status: i32,
    /// Total latency in milliseconds.
    pub latency_ms: i64,
    /// Time to first byte in milliseconds.
    pub ttfb_ms: Option<i64>,
    /// Prompt tokens.
    pub input_tokens: Option<i64>,
    /// Completion tokens.
    pub output_tokens: Option<i64>,
    /// Tokens read from the prompt cache.
    pub cache_read_tokens: Option<i64>,
    /// Tokens written to the prompt cache.
    pub cache_write_tokens: Option<i64>,
    /// Reasoning tokens.
    pub reasoning_tokens: Option<i64>,
    /// Error summary, if the request failed (at most 4096 characters).
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<String>,
    /// Whether the client went away before the response completed.
    pub client_disconnected: bool,
    /// What the request cost, in nano-dollars (1e-9 USD); NULL when the
    /// price was unknown.
    pub cost_nano_usd: Option<i64>,
    /// The price catalogue version that priced it.
    pub price_version: Option<String>,
}

/// `request_logs` has no relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
