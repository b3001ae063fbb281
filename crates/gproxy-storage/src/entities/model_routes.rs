//! `model_routes`: model aliases, unique by name, each resolving to one of
//! its `provider/model` targets.

use sea_orm::entity::prelude::*;

/// One model route.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "model_routes")]
pub struct Model {
    /// Surrogate key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Unique route name, the model clients ask for (at most 128 characters).
    #[sea_orm(unique)]
    pub name: String,
    /// How a target is chosen: `ordered` or `weighted` (at most 16 characters).
    pub strategy: String,
    /// The targets as a JSON array of `{"provider","model","weight"}`.
    pub targets: Json,
    /// Whether the route resolves.
    pub enabled: bool,
    /// When the row was created.
    pub created_at: DateTimeUtc,
    /// When the row was last upserted.
    pub updated_at: DateTimeUtc,
}

/// `model_routes` has no relations: targets name providers, which may come
/// and go independently.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
