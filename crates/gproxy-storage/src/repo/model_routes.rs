//! Model routes repository.

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
};

use super::{NAME_MAX, check_json, check_name, execute, vanished};
use crate::entities::model_routes::{self, Column};
use crate::{Result, Storage, StorageError};

/// Longest strategy name, matching `VARCHAR(16)`.
const STRATEGY_MAX: usize = 16;

/// A model route to insert or update, keyed by `name`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewModelRoute {
    /// Unique name (1 to 128 characters).
    pub name: String,
    /// How a target is chosen (`ordered`, `weighted`; at most 16 characters).
    pub strategy: String,
    /// The targets; must be a JSON array. The storage layer does not
    /// interpret its elements.
    pub targets: serde_json::Value,
    /// Whether the route resolves.
    pub enabled: bool,
}

/// A stored model route.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelRouteRow {
    /// Surrogate key.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// How a target is chosen.
    pub strategy: String,
    /// The targets (a JSON array).
    pub targets: serde_json::Value,
    /// Whether the route resolves.
    pub enabled: bool,
}

impl From<model_routes::Model> for ModelRouteRow {
    fn from(m: model_routes::Model) -> Self {
        Self {
            id: m.id,
            name: m.name,
            strategy: m.strategy,
            targets: m.targets,
            enabled: m.enabled,
        }
    }
}

impl Storage {
    /// Inserts the route, or, when one with the same name exists, updates
    /// its strategy, targets and enabled flag. Returns the stored row.
    pub async fn upsert_model_route(&self, r: &NewModelRoute) -> Result<ModelRouteRow> {
        check_name("model_routes.name", &r.name, NAME_MAX)?;
        check_name("model_routes.strategy", &r.strategy, STRATEGY_MAX)?;
        if !r.targets.is_array() {
            return Err(StorageError::invalid(
                "model_routes.targets",
                "must be a JSON array",
            ));
        }
        check_json("model_routes.targets", &r.targets)?;
        let now = Utc::now();
        let row = model_routes::ActiveModel {
            id: NotSet,
            name: Set(r.name.clone()),
            strategy: Set(r.strategy.clone()),
            targets: Set(r.targets.clone()),
            enabled: Set(r.enabled),
            created_at: Set(now),
            updated_at: Set(now),
        };
        let insert = model_routes::Entity::insert(row).on_conflict(
            OnConflict::column(Column::Name)
                .update_columns([
                    Column::Strategy,
                    Column::Targets,
                    Column::Enabled,
                    Column::UpdatedAt,
                ])
                .to_owned(),
        );
        execute(self.connection(), &insert).await?;
        model_routes::Entity::find()
            .filter(Column::Name.eq(r.name.as_str()))
            .one(self.connection())
            .await?
            .map(ModelRouteRow::from)
            .ok_or_else(|| vanished("model route"))
    }

    /// Every model route, ordered by id.
    pub async fn list_model_routes(&self) -> Result<Vec<ModelRouteRow>> {
        let rows = model_routes::Entity::find()
            .order_by_asc(Column::Id)
            .all(self.connection())
            .await?;
        Ok(rows.into_iter().map(ModelRouteRow::from).collect())
    }

    /// Deletes the route named `name`; returns whether one existed.
    pub async fn delete_model_route(&self, name: &str) -> Result<bool> {
        let result = model_routes::Entity::delete_many()
            .filter(Column::Name.eq(name))
            .exec(self.connection())
            .await?;
        Ok(result.rows_affected > 0)
    }

    /// The route named `name`.
    pub async fn get_model_route(&self, name: &str) -> Result<Option<ModelRouteRow>> {
        Ok(model_routes::Entity::find()
            .filter(Column::Name.eq(name))
            .one(self.connection())
            .await?
            .map(ModelRouteRow::from))
    }
}
