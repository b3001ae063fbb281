//! Initial schema: settings, providers, credentials, users, user keys and
//! request logs.

use sea_orm_migration::prelude::*;

use super::{create_table, id_column, long_text_column, timestamp_column};

/// The initial schema.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Settings {
    Table,
    Key,
    Value,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Providers {
    Table,
    Id,
    Name,
    Kind,
    BaseUrl,
    Settings,
    Enabled,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Credentials {
    Table,
    Id,
    ProviderId,
    Name,
    Kind,
    Secret,
    Enabled,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Name,
    Enabled,
    CreatedAt,
}

#[derive(DeriveIden)]
enum UserKeys {
    Table,
    Id,
    UserId,
    KeyHash,
    KeyPrefix,
    Enabled,
    CreatedAt,
}

#[derive(DeriveIden)]
enum RequestLogs {
    Table,
    Id,
    RequestId,
    CreatedAt,
    UserId,
    UserName,
    KeyPrefix,
    Provider,
    CredentialId,
    Model,
    Protocol,
    Method,
    Path,
    Stream,
    Status,
    LatencyMs,
    TtfbMs,
    InputTokens,
    OutputTokens,
    CacheReadTokens,
    CacheWriteTokens,
    ReasoningTokens,
    Error,
    ClientDisconnected,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();

        manager
            .create_table(
                create_table(db, Settings::Table)
                    .col(
                        ColumnDef::new(Settings::Key)
                            .string_len(255)
                            .not_null()
                            .primary_key(),
                    )
                    .col(long_text_column(db, Settings::Value))
                    .col(timestamp_column(db, Settings::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                create_table(db, Providers::Table)
                    .col(id_column(Providers::Id))
                    .col(
                        ColumnDef::new(Providers::Name)
                            .string_len(128)
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Providers::Kind).string_len(64).not_null())
                    .col(ColumnDef::new(Providers::BaseUrl).text().null())
                    .col(ColumnDef::new(Providers::Settings).json().not_null())
                    .col(ColumnDef::new(Providers::Enabled).boolean().not_null())
                    .col(timestamp_column(db, Providers::CreatedAt))
                    .col(timestamp_column(db, Providers::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                create_table(db, Credentials::Table)
                    .col(id_column(Credentials::Id))
                    .col(
                        ColumnDef::new(Credentials::ProviderId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Credentials::Name).string_len(128).not_null())
                    .col(ColumnDef::new(Credentials::Kind).string_len(64).not_null())
                    .col(ColumnDef::new(Credentials::Secret).json().not_null())
                    .col(ColumnDef::new(Credentials::Enabled).boolean().not_null())
                    .col(timestamp_column(db, Credentials::CreatedAt))
                    .col(timestamp_column(db, Credentials::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_credentials_provider_id")
                            .from(Credentials::Table, Credentials::ProviderId)
                            .to(Providers::Table, Providers::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_credentials_provider_id_name")
                    .table(Credentials::Table)
                    .col(Credentials::ProviderId)
                    .col(Credentials::Name)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                create_table(db, Users::Table)
                    .col(id_column(Users::Id))
                    .col(
                        ColumnDef::new(Users::Name)
                            .string_len(128)
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Users::Enabled).boolean().not_null())
                    .col(timestamp_column(db, Users::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                create_table(db, UserKeys::Table)
                    .col(id_column(UserKeys::Id))
                    .col(ColumnDef::new(UserKeys::UserId).big_integer().not_null())
                    .col(
                        ColumnDef::new(UserKeys::KeyHash)
                            .string_len(64)
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(UserKeys::KeyPrefix)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(ColumnDef::new(UserKeys::Enabled).boolean().not_null())
                    .col(timestamp_column(db, UserKeys::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_user_keys_user_id")
                            .from(UserKeys::Table, UserKeys::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_user_keys_user_id")
                    .table(UserKeys::Table)
                    .col(UserKeys::UserId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                create_table(db, RequestLogs::Table)
                    .col(id_column(RequestLogs::Id))
                    .col(
                        ColumnDef::new(RequestLogs::RequestId)
                            .string_len(128)
                            .not_null(),
                    )
                    .col(timestamp_column(db, RequestLogs::CreatedAt))
                    .col(ColumnDef::new(RequestLogs::UserId).big_integer().null())
                    .col(ColumnDef::new(RequestLogs::UserName).string_len(128).null())
                    .col(ColumnDef::new(RequestLogs::KeyPrefix).string_len(32).null())
                    .col(ColumnDef::new(RequestLogs::Provider).string_len(128).null())
                    .col(
                        ColumnDef::new(RequestLogs::CredentialId)
                            .big_integer()
                            .null(),
                    )
                    .col(ColumnDef::new(RequestLogs::Model).string_len(255).null())
                    .col(
                        ColumnDef::new(RequestLogs::Protocol)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RequestLogs::Method)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(RequestLogs::Path).text().not_null())
                    .col(ColumnDef::new(RequestLogs::Stream).boolean().not_null())
                    .col(ColumnDef::new(RequestLogs::Status).integer().not_null())
                    .col(
                        ColumnDef::new(RequestLogs::LatencyMs)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(RequestLogs::TtfbMs).big_integer().null())
                    .col(
                        ColumnDef::new(RequestLogs::InputTokens)
                            .big_integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(RequestLogs::OutputTokens)
                            .big_integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(RequestLogs::CacheReadTokens)
                            .big_integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(RequestLogs::CacheWriteTokens)
                            .big_integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(RequestLogs::ReasoningTokens)
                            .big_integer()
                            .null(),
                    )
                    .col(ColumnDef::new(RequestLogs::Error).text().null())
                    .col(
                        ColumnDef::new(RequestLogs::ClientDisconnected)
                            .boolean()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_request_logs_created_at")
                    .table(RequestLogs::Table)
                    .col(RequestLogs::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_request_logs_user_id")
                    .table(RequestLogs::Table)
                    .col(RequestLogs::UserId)
                    .to_owned(),
            )
            .await?;

        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Children before parents, for the foreign keys.
        for table in [
            RequestLogs::Table.into_iden(),
            UserKeys::Table.into_iden(),
            Users::Table.into_iden(),
            Credentials::Table.into_iden(),
            Providers::Table.into_iden(),
            Settings::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
