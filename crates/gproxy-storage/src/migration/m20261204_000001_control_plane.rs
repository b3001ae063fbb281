//! Control plane: user roles and passwords, richer user keys (label,
//! expiry, allow-lists, scope) and admin sessions.

use sea_orm::DbBackend;
use sea_orm_migration::prelude::*;

use super::{create_table, timestamp_column};

/// Adds `users.role`, `users.password_hash`, the `user_keys` columns and
/// the `admin_sessions` table.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Role,
    PasswordHash,
}

#[derive(DeriveIden)]
enum UserKeys {
    Table,
    Label,
    ExpiresAt,
    AllowedProviders,
    AllowedModels,
    Scope,
}

#[derive(DeriveIden)]
enum AdminSessions {
    Table,
    TokenHash,
    UserId,
    CsrfToken,
    CreatedAt,
    ExpiresAt,
}

/// A nullable UTC timestamp (see [`timestamp_column`]).
fn nullable_timestamp(backend: DbBackend, col: impl IntoIden) -> ColumnDef {
    let mut def = ColumnDef::new(col);
    match backend {
        DbBackend::MySql => def.custom(Alias::new("DATETIME(6)")),
        DbBackend::Postgres | DbBackend::Sqlite => def.timestamp_with_time_zone(),
    };
    def.null().to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();
        // One column per statement: SQLite adds one column per ALTER TABLE.
        let users_columns = [
            ColumnDef::new(Users::Role)
                .string_len(16)
                .not_null()
                .default("user")
                .to_owned(),
            ColumnDef::new(Users::PasswordHash).text().null().to_owned(),
        ];
        for mut col in users_columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(Users::Table)
                        .add_column(&mut col)
                        .to_owned(),
                )
                .await?;
        }
        let key_columns = [
            ColumnDef::new(UserKeys::Label)
                .string_len(128)
                .null()
                .to_owned(),
            nullable_timestamp(db, UserKeys::ExpiresAt),
            ColumnDef::new(UserKeys::AllowedProviders)
                .json()
                .null()
                .to_owned(),
            ColumnDef::new(UserKeys::AllowedModels)
                .json()
                .null()
                .to_owned(),
            ColumnDef::new(UserKeys::Scope)
                .string_len(16)
                .not_null()
                .default("proxy")
                .to_owned(),
        ];
        for mut col in key_columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(UserKeys::Table)
                        .add_column(&mut col)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                create_table(db, AdminSessions::Table)
                    .col(
                        ColumnDef::new(AdminSessions::TokenHash)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(AdminSessions::UserId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AdminSessions::CsrfToken)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(timestamp_column(db, AdminSessions::CreatedAt))
                    .col(timestamp_column(db, AdminSessions::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_admin_sessions_user_id")
                            .from(AdminSessions::Table, AdminSessions::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_admin_sessions_user_id")
                    .table(AdminSessions::Table)
                    .col(AdminSessions::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AdminSessions::Table).to_owned())
            .await?;
        for col in [
            UserKeys::Scope,
            UserKeys::AllowedModels,
            UserKeys::AllowedProviders,
            UserKeys::ExpiresAt,
            UserKeys::Label,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(UserKeys::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        for col in [Users::PasswordHash, Users::Role] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Users::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
