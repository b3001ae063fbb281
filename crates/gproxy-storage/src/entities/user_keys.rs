//! `user_keys`: API keys of users, stored only as a hash and a display prefix.

use sea_orm::entity::prelude::*;

/// One user key.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_keys")]
pub struct Model {
    /// Surrogate key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Owning user; deleting the user deletes its keys.
    pub user_id: i64,
    /// Unique hash of the key (64 hex characters for SHA-256).
    #[sea_orm(unique)]
    pub key_hash: String,
    /// The first characters of the key, for display (at most 32 characters).
    pub key_prefix: String,
    /// Whether the key may authenticate.
    pub enabled: bool,
    /// A label for people (at most 128 characters).
    pub label: Option<String>,
    /// When the key stops working (none: never).
    pub expires_at: Option<DateTimeUtc>,
    /// Providers the key may use, as a JSON array of names (none: any).
    pub allowed_providers: Option<Json>,
    /// Models the key may use, as a JSON array of names or `provider/model`
    /// patterns with `*` (none: any).
    pub allowed_models: Option<Json>,
    /// The most one request may cost, in nano-dollars (1e-9 USD).
    pub max_cost_nano_usd: Option<i64>,
    /// `proxy` (calls the gateway) or `admin` (a personal admin token).
    pub scope: String,
    /// When the row was created.
    pub created_at: DateTimeUtc,
}

/// Relations of `user_keys`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// Each key belongs to one user.
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
