//! `users`: gateway users, unique by name.

use sea_orm::entity::prelude::*;

/// One user.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    /// Surrogate key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Unique user name (at most 128 characters).
    #[sea_orm(unique)]
    pub name: String,
    /// Whether the user may authenticate.
    pub enabled: bool,
    /// `admin`, `viewer` or `user` (at most 16 characters).
    pub role: String,
    /// The argon2id PHC string of the user's password, when they have one.
    #[sea_orm(column_type = "Text", nullable)]
    pub password_hash: Option<String>,
    /// When the row was created.
    pub created_at: DateTimeUtc,
}

/// Relations of `users`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// A user has many keys.
    #[sea_orm(has_many = "super::user_keys::Entity")]
    UserKeys,
}

impl Related<super::user_keys::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::UserKeys.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
