//! `admin_sessions`: signed-in people, by the SHA-256 of their session token.

use sea_orm::entity::prelude::*;

/// One session.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "admin_sessions")]
pub struct Model {
    /// SHA-256 (hex) of the session cookie's token.
    #[sea_orm(primary_key, auto_increment = false)]
    pub token_hash: String,
    /// The signed-in user; deleting the user ends their sessions.
    pub user_id: i64,
    /// The CSRF token cookie-authenticated writes must echo.
    pub csrf_token: String,
    /// When the session began.
    pub created_at: DateTimeUtc,
    /// When the session ends.
    pub expires_at: DateTimeUtc,
}

/// Relations of `admin_sessions`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// Each session belongs to one user.
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::UserId",
        to = "super::users::Column::Id",
        on_delete = "Cascade"
    )]
    User,
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
