//! `audit_log`: one row per admin write, who did what to which object.

use sea_orm::entity::prelude::*;

/// One audit record.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    /// Surrogate key; increases with insertion order.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// When the action happened.
    pub created_at: DateTimeUtc,
    /// Who acted: a user name or `admin-key` (at most 128 characters).
    pub actor: String,
    /// The acting user's id, if a user acted.
    pub actor_user_id: Option<i64>,
    /// What was done, e.g. `provider.update` (at most 64 characters).
    pub action: String,
    /// The kind of object acted on, e.g. `provider` (at most 64 characters).
    pub target_type: String,
    /// The object's id or name (at most 255 characters).
    pub target_id: String,
    /// The client's address, if known (at most 64 characters).
    pub client_ip: Option<String>,
    /// The HTTP status the action answered.
    pub outcome: i32,
    /// Extra detail (never secrets).
    pub detail: Option<Json>,
}

/// `audit_log` has no relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
