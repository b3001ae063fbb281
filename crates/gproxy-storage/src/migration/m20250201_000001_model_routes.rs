//! Model routes: aliases that resolve to one of several `provider/model`
//! targets.

use sea_orm_migration::prelude::*;

use super::{create_table, id_column, timestamp_column};

/// Adds `model_routes`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ModelRoutes {
    Table,
    Id,
    Name,
    Strategy,
    Targets,
    Enabled,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();
        manager
            .create_table(
                create_table(db, ModelRoutes::Table)
                    .col(id_column(ModelRoutes::Id))
                    .col(
                        ColumnDef::new(ModelRoutes::Name)
                            .string_len(128)
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(ModelRoutes::Strategy)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(ModelRoutes::Targets).json().not_null())
                    .col(ColumnDef::new(ModelRoutes::Enabled).boolean().not_null())
                    .col(timestamp_column(db, ModelRoutes::CreatedAt))
                    .col(timestamp_column(db, ModelRoutes::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(ModelRoutes::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}
