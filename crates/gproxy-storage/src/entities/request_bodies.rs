//! `request_bodies`: a request's captured bodies and redacted headers, when
//! `[logging] capture_bodies` is on.

use sea_orm::entity::prelude::*;

/// One request's captured bodies.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "request_bodies")]
pub struct Model {
    /// Surrogate key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The request's gateway id (indexed).
    pub request_id: String,
    /// The client's request headers as a JSON object of string arrays,
    /// secrets redacted.
    pub request_headers: Json,
    /// The request body (lossy UTF-8), capped.
    #[sea_orm(column_type = "Text", nullable)]
    pub request_body: Option<String>,
    /// Whether the request body was cut at the cap.
    pub request_truncated: bool,
    /// The response body as it went to the client (lossy UTF-8), capped.
    #[sea_orm(column_type = "Text", nullable)]
    pub response_body: Option<String>,
    /// Whether the response body was cut at the cap.
    pub response_truncated: bool,
    /// When the request started.
    pub created_at: DateTimeUtc,
}

/// `request_bodies` has no relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
