//! OAuth credentials (issue 12): `credentials.version`, a counter bumped by
//! every secret swap, so two gateway instances sharing the database cannot
//! both spend a single-use refresh token. A refresh writes its new tokens
//! with `UPDATE … WHERE id = ? AND version = ?`; the instance whose update
//! matches no row lost the race and re-reads the winner's tokens.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261205_000004_oauth_credential_version"
    }
}

#[derive(DeriveIden)]
enum Credentials {
    Table,
    Version,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Credentials::Table)
                    .add_column(
                        ColumnDef::new(Credentials::Version)
                            .big_integer()
                            .not_null()
                            .default(0),
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
                    .drop_column(Credentials::Version)
                    .to_owned(),
            )
            .await
    }
}
