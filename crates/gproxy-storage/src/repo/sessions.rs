//! Admin sessions repository: a signed-in person's session, stored by the
//! SHA-256 of its token so a database dump cannot be replayed as a cookie.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use super::execute;
use crate::entities::admin_sessions;
use crate::{Result, Storage};

/// A stored session.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRow {
    /// SHA-256 (hex) of the session token.
    pub token_hash: String,
    /// The signed-in user.
    pub user_id: i64,
    /// The CSRF token writes must echo.
    pub csrf_token: String,
    /// When the session began.
    pub created_at: DateTime<Utc>,
    /// When it ends.
    pub expires_at: DateTime<Utc>,
}

impl From<admin_sessions::Model> for SessionRow {
    fn from(m: admin_sessions::Model) -> Self {
        Self {
            token_hash: m.token_hash,
            user_id: m.user_id,
            csrf_token: m.csrf_token,
            created_at: m.created_at,
            expires_at: m.expires_at,
        }
    }
}

impl Storage {
    /// Stores a new session.
    pub async fn create_session(&self, s: &SessionRow) -> Result<()> {
        let insert = admin_sessions::Entity::insert(admin_sessions::ActiveModel {
            token_hash: Set(s.token_hash.clone()),
            user_id: Set(s.user_id),
            csrf_token: Set(s.csrf_token.clone()),
            created_at: Set(s.created_at),
            expires_at: Set(s.expires_at),
        });
        execute(self.connection(), &insert).await?;
        Ok(())
    }

    /// The session with this token hash, if it has not expired at `now`.
    pub async fn find_session(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<SessionRow>> {
        Ok(admin_sessions::Entity::find_by_id(token_hash.to_owned())
            .one(self.connection())
            .await?
            .map(SessionRow::from)
            .filter(|s| s.expires_at > now))
    }

    /// Ends a session; whether it existed.
    pub async fn delete_session(&self, token_hash: &str) -> Result<bool> {
        let delete = admin_sessions::Entity::delete_many()
            .filter(admin_sessions::Column::TokenHash.eq(token_hash));
        Ok(execute(self.connection(), &delete).await? > 0)
    }

    /// Ends every session of user `user_id`; how many.
    pub async fn delete_sessions_of(&self, user_id: i64) -> Result<u64> {
        let delete = admin_sessions::Entity::delete_many()
            .filter(admin_sessions::Column::UserId.eq(user_id));
        execute(self.connection(), &delete).await
    }

    /// Deletes every session that ended before `now`; how many.
    pub async fn delete_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64> {
        let delete = admin_sessions::Entity::delete_many()
            .filter(admin_sessions::Column::ExpiresAt.lte(now));
        execute(self.connection(), &delete).await
    }
}
