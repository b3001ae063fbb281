//! Cost: each request log row records what it cost and the price
//! catalogue version that priced it; each user key may carry a ceiling
//! per request (`user_keys.max_cost_nano_usd`).
//!
//! `cost_nano_usd` is the cost in nano-dollars (1e-9 USD), an exact
//! decimal of scale 9 kept as a `BIGINT` so that it sums exactly on all
//! three backends (SQLite has no exact decimal type); NULL when the price
//! was unknown. `price_version` is the catalogue version (with
//! `+override` when an override priced the row).

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261205_000001_cost"
    }
}

#[derive(DeriveIden)]
enum UserKeys {
    Table,
    MaxCostNanoUsd,
}

#[derive(DeriveIden)]
enum RequestLogs {
    Table,
    CostNanoUsd,
    PriceVersion,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(RequestLogs::Table)
                    .add_column(
                        ColumnDef::new(RequestLogs::CostNanoUsd)
                            .big_integer()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(RequestLogs::Table)
                    .add_column(
                        ColumnDef::new(RequestLogs::PriceVersion)
                            .string_len(64)
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(UserKeys::Table)
                    .add_column(
                        ColumnDef::new(UserKeys::MaxCostNanoUsd)
                            .big_integer()
                            .null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(UserKeys::Table)
                    .drop_column(UserKeys::MaxCostNanoUsd)
                    .to_owned(),
            )
            .await?;
        for col in [RequestLogs::PriceVersion, RequestLogs::CostNanoUsd] {
            manager
                .alter_table(
                    Table::alter()
                        .table(RequestLogs::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
