//! Resilience: a provider's credential selection strategy and a
//! credential's weight.

use sea_orm_migration::prelude::*;

/// Adds `providers.credential_strategy` and `credentials.weight`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Providers {
    Table,
    CredentialStrategy,
}

#[derive(DeriveIden)]
enum Credentials {
    Table,
    Weight,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one column per ALTER TABLE.
        manager
            .alter_table(
                Table::alter()
                    .table(Providers::Table)
                    .add_column(
                        ColumnDef::new(Providers::CredentialStrategy)
                            .string_len(32)
                            .not_null()
                            .default("round_robin"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Credentials::Table)
                    .add_column(
                        ColumnDef::new(Credentials::Weight)
                            .integer()
                            .not_null()
                            .default(1),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Credentials::Table)
                    .drop_column(Credentials::Weight)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Providers::Table)
                    .drop_column(Providers::CredentialStrategy)
                    .to_owned(),
            )
            .await
    }
}
