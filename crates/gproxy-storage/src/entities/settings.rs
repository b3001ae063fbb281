//! `settings`: a key/value table for gateway-wide settings persisted by bootstrap.

use sea_orm::entity::prelude::*;

/// One setting.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "settings")]
pub struct Model {
    /// Setting name (at most 255 characters).
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    /// Setting value, free-form text.
    #[sea_orm(column_type = "Text")]
    pub value: String,
    /// When the value was last written.
    pub updated_at: DateTimeUtc,
}

/// `settings` has no relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
