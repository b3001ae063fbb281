//! `request_attempts`: one row per upstream attempt of a request, written by
//! the usage sink with the request's log row. No foreign key: the link is
//! the request id, and rows go with their log on purge.

use sea_orm::entity::prelude::*;

/// One upstream attempt.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "request_attempts")]
pub struct Model {
    /// Surrogate key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The request's gateway id (indexed).
    pub request_id: String,
    /// Attempt number, 1-based.
    pub attempt: i32,
    /// Provider called.
    pub provider: String,
    /// Credential used, if any.
    pub credential_id: Option<i64>,
    /// Upstream status; `None` when no answer came (timeout, connection).
    pub status: Option<i32>,
    /// Time the attempt took, in milliseconds.
    pub latency_ms: i64,
    /// Failure class: `auth`, `rate_limit`, `degraded`, `client`,
    /// `timeout`, `connect`...; `None` for a success.
    pub error_class: Option<String>,
    /// Short error text (at most 1024 characters).
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<String>,
    /// When the attempt started.
    pub created_at: DateTimeUtc,
}

/// `request_attempts` has no relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
