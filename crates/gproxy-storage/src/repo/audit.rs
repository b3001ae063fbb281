//! The admin audit log: one row per admin write ([`Storage::insert_audit`]),
//! read newest first with filters and a cursor ([`Storage::query_audit`]).

use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::EntityTrait;
use serde::Serialize;

use super::log_query::{Scan, check_limit, fetch_page, page_condition, page_of, with_equal};
use super::{check_json, check_len, check_name, execute};
use crate::entities::audit_log::{self, Column};
use crate::{Result, Storage, StorageError};

/// An audit record to write.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NewAudit {
    /// When it happened.
    pub created_at: DateTime<Utc>,
    /// Who acted: a user name or `admin-key` (1 to 128 characters).
    pub actor: String,
    /// The acting user's id, if a user acted.
    pub actor_user_id: Option<i64>,
    /// What was done, e.g. `provider.update` (1 to 64 characters).
    pub action: String,
    /// The kind of object, e.g. `provider` (1 to 64 characters).
    pub target_type: String,
    /// The object's id or name (at most 255 characters).
    pub target_id: String,
    /// The client's address (at most 64 characters).
    pub client_ip: Option<String>,
    /// The HTTP status the action answered.
    pub outcome: u16,
    /// Extra detail; the caller keeps secrets out of it.
    pub detail: Option<serde_json::Value>,
}

/// A stored audit record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditRow {
    /// Row id; increases with insertion order.
    pub id: i64,
    /// When it happened.
    pub created_at: DateTime<Utc>,
    /// Who acted.
    pub actor: String,
    /// The acting user's id.
    pub actor_user_id: Option<i64>,
    /// What was done.
    pub action: String,
    /// The kind of object.
    pub target_type: String,
    /// The object's id or name.
    pub target_id: String,
    /// The client's address.
    pub client_ip: Option<String>,
    /// The HTTP status the action answered.
    pub outcome: u16,
    /// Extra detail.
    pub detail: Option<serde_json::Value>,
}

/// An audit query: every set filter must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Records at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Records before this instant.
    pub to: Option<DateTime<Utc>>,
    /// Records by this actor.
    pub actor: Option<String>,
    /// Records of this action.
    pub action: Option<String>,
    /// Records on this kind of object.
    pub target_type: Option<String>,
    /// Records on this object.
    pub target_id: Option<String>,
    /// Where the previous page ended ([`AuditPage::next_cursor`]).
    pub cursor: Option<String>,
    /// Records per page, 1 to 500.
    pub limit: u64,
}

/// One page of audit records, newest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditPage {
    /// The records.
    pub items: Vec<AuditRow>,
    /// The cursor of the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

impl TryFrom<audit_log::Model> for AuditRow {
    type Error = StorageError;

    fn try_from(m: audit_log::Model) -> Result<Self> {
        Ok(Self {
            id: m.id,
            created_at: m.created_at,
            actor: m.actor,
            actor_user_id: m.actor_user_id,
            action: m.action,
            target_type: m.target_type,
            target_id: m.target_id,
            client_ip: m.client_ip,
            outcome: u16::try_from(m.outcome).map_err(|_| {
                StorageError::invalid(
                    "audit_log.outcome",
                    format!("{} is no HTTP status", m.outcome),
                )
            })?,
            detail: m.detail,
        })
    }
}

impl Storage {
    /// Writes one audit record. Errors name the field
    /// (`audit_log.actor`...) when a value is empty or too long, or the
    /// detail holds a NUL character.
    pub async fn insert_audit(&self, a: &NewAudit) -> Result<()> {
        check_name("audit_log.actor", &a.actor, 128)?;
        check_name("audit_log.action", &a.action, 64)?;
        check_name("audit_log.target_type", &a.target_type, 64)?;
        check_len("audit_log.target_id", &a.target_id, 255)?;
        if let Some(ip) = &a.client_ip {
            check_len("audit_log.client_ip", ip, 64)?;
        }
        if let Some(detail) = &a.detail {
            check_json("audit_log.detail", detail)?;
        }
        let row = audit_log::ActiveModel {
            id: NotSet,
            created_at: Set(a.created_at),
            actor: Set(a.actor.clone()),
            actor_user_id: Set(a.actor_user_id),
            action: Set(a.action.clone()),
            target_type: Set(a.target_type.clone()),
            target_id: Set(a.target_id.clone()),
            client_ip: Set(a.client_ip.clone()),
            outcome: Set(i32::from(a.outcome)),
            detail: Set(a.detail.clone()),
        };
        execute(self.connection(), &audit_log::Entity::insert(row)).await?;
        Ok(())
    }

    /// One page of audit records matching `q`, newest first. Errors: a
    /// `limit` outside 1..=500 or a `cursor` not from a previous page
    /// ([`StorageError::InvalidValue`] naming the field).
    pub async fn query_audit(&self, q: &AuditQuery) -> Result<AuditPage> {
        check_limit(q.limit)?;
        let cond = page_condition(
            Column::Id,
            Column::CreatedAt,
            q.cursor.as_deref(),
            q.from,
            q.to,
        )?;
        let text = |v: &Option<String>| v.as_deref().map(sea_orm::Value::from);
        let cond = with_equal(
            cond,
            [
                (Column::Actor, text(&q.actor)),
                (Column::Action, text(&q.action)),
                (Column::TargetType, text(&q.target_type)),
                (Column::TargetId, text(&q.target_id)),
            ],
        );
        let rows = fetch_page::<audit_log::Entity>(
            self.connection(),
            cond,
            Column::Id,
            q.limit,
            Scan::Newest,
        )
        .await?
        .into_iter()
        .map(AuditRow::try_from)
        .collect::<Result<Vec<_>>>()?;
        let (items, next_cursor) = page_of(rows, q.limit, |r| r.id);
        Ok(AuditPage { items, next_cursor })
    }
}
