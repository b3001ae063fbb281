//! Request detail: `request_logs.key_id` and the indexes the log queries use,
//! one row per upstream attempt (`request_attempts`), captured bodies
//! (`request_bodies`) and the admin audit log (`audit_log`).
//!
//! Every filtered log query orders by `id` descending and pages by
//! `id < cursor`, so each filter column gets a composite `(column, id)`
//! index: an equality filter then reads the index backwards from the cursor
//! and stops after one page, on all three backends (InnoDB's secondary
//! indexes carry the primary key anyway; PostgreSQL and SQLite need it
//! spelled out). The unfiltered listing walks the primary key.

use sea_orm_migration::prelude::*;

use super::{create_table, id_column, timestamp_column};

/// Adds the request detail tables and the log query indexes.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RequestLogs {
    Table,
    Id,
    RequestId,
    CreatedAt,
    UserId,
    KeyId,
    Provider,
    Model,
    Protocol,
    Status,
}

#[derive(DeriveIden)]
enum RequestAttempts {
    Table,
    Id,
    RequestId,
    Attempt,
    Provider,
    CredentialId,
    Status,
    LatencyMs,
    ErrorClass,
    Error,
    CreatedAt,
}

#[derive(DeriveIden)]
enum RequestBodies {
    Table,
    Id,
    RequestId,
    RequestHeaders,
    RequestBody,
    RequestTruncated,
    ResponseBody,
    ResponseTruncated,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    CreatedAt,
    Actor,
    ActorUserId,
    Action,
    TargetType,
    TargetId,
    ClientIp,
    Outcome,
    Detail,
}

/// The `(column, id)` indexes of `request_logs`, by name.
fn log_indexes() -> [(&'static str, RequestLogs); 7] {
    [
        ("ix_request_logs_created_at_id", RequestLogs::CreatedAt),
        ("ix_request_logs_user_id_id", RequestLogs::UserId),
        ("ix_request_logs_key_id_id", RequestLogs::KeyId),
        ("ix_request_logs_provider_id", RequestLogs::Provider),
        ("ix_request_logs_model_id", RequestLogs::Model),
        ("ix_request_logs_protocol_id", RequestLogs::Protocol),
        ("ix_request_logs_status_id", RequestLogs::Status),
    ]
}

/// Nullable text: `LONGTEXT` on MySQL, `TEXT` elsewhere.
fn nullable_long_text(backend: sea_orm::DbBackend, col: impl IntoIden) -> ColumnDef {
    let mut def = ColumnDef::new(col);
    match backend {
        sea_orm::DbBackend::MySql => def.custom(Alias::new("LONGTEXT")),
        sea_orm::DbBackend::Postgres | sea_orm::DbBackend::Sqlite => def.text(),
    };
    def.null().to_owned()
}

async fn drop_index(
    manager: &SchemaManager<'_>,
    name: &str,
    table: impl IntoIden + 'static,
) -> Result<(), DbErr> {
    manager
        .drop_index(Index::drop().name(name).table(table).to_owned())
        .await
}

async fn create_index(
    manager: &SchemaManager<'_>,
    name: &str,
    table: impl IntoIden + 'static,
    cols: Vec<DynIden>,
) -> Result<(), DbErr> {
    let mut index = Index::create();
    index.name(name).table(table);
    for col in cols {
        index.col(col);
    }
    manager.create_index(index.to_owned()).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();

        manager
            .alter_table(
                Table::alter()
                    .table(RequestLogs::Table)
                    .add_column(ColumnDef::new(RequestLogs::KeyId).big_integer().null())
                    .to_owned(),
            )
            .await?;
        // The single-column indexes give way to their `(column, id)` forms.
        drop_index(manager, "ix_request_logs_created_at", RequestLogs::Table).await?;
        drop_index(manager, "ix_request_logs_user_id", RequestLogs::Table).await?;
        for (name, col) in log_indexes() {
            create_index(
                manager,
                name,
                RequestLogs::Table,
                vec![col.into_iden(), RequestLogs::Id.into_iden()],
            )
            .await?;
        }
        create_index(
            manager,
            "ix_request_logs_request_id",
            RequestLogs::Table,
            vec![RequestLogs::RequestId.into_iden()],
        )
        .await?;

        manager
            .create_table(
                create_table(db, RequestAttempts::Table)
                    .col(id_column(RequestAttempts::Id))
                    .col(
                        ColumnDef::new(RequestAttempts::RequestId)
                            .string_len(128)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RequestAttempts::Attempt)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RequestAttempts::Provider)
                            .string_len(128)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RequestAttempts::CredentialId)
                            .big_integer()
                            .null(),
                    )
                    .col(ColumnDef::new(RequestAttempts::Status).integer().null())
                    .col(
                        ColumnDef::new(RequestAttempts::LatencyMs)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RequestAttempts::ErrorClass)
                            .string_len(32)
                            .null(),
                    )
                    .col(ColumnDef::new(RequestAttempts::Error).text().null())
                    .col(timestamp_column(db, RequestAttempts::CreatedAt))
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            "ix_request_attempts_request_id",
            RequestAttempts::Table,
            vec![RequestAttempts::RequestId.into_iden()],
        )
        .await?;

        manager
            .create_table(
                create_table(db, RequestBodies::Table)
                    .col(id_column(RequestBodies::Id))
                    .col(
                        ColumnDef::new(RequestBodies::RequestId)
                            .string_len(128)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RequestBodies::RequestHeaders)
                            .json()
                            .not_null(),
                    )
                    .col(nullable_long_text(db, RequestBodies::RequestBody))
                    .col(
                        ColumnDef::new(RequestBodies::RequestTruncated)
                            .boolean()
                            .not_null(),
                    )
                    .col(nullable_long_text(db, RequestBodies::ResponseBody))
                    .col(
                        ColumnDef::new(RequestBodies::ResponseTruncated)
                            .boolean()
                            .not_null(),
                    )
                    .col(timestamp_column(db, RequestBodies::CreatedAt))
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            "ix_request_bodies_request_id",
            RequestBodies::Table,
            vec![RequestBodies::RequestId.into_iden()],
        )
        .await?;

        manager
            .create_table(
                create_table(db, AuditLog::Table)
                    .col(id_column(AuditLog::Id))
                    .col(timestamp_column(db, AuditLog::CreatedAt))
                    .col(ColumnDef::new(AuditLog::Actor).string_len(128).not_null())
                    .col(ColumnDef::new(AuditLog::ActorUserId).big_integer().null())
                    .col(ColumnDef::new(AuditLog::Action).string_len(64).not_null())
                    .col(
                        ColumnDef::new(AuditLog::TargetType)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AuditLog::TargetId)
                            .string_len(255)
                            .not_null(),
                    )
                    .col(ColumnDef::new(AuditLog::ClientIp).string_len(64).null())
                    .col(ColumnDef::new(AuditLog::Outcome).integer().not_null())
                    .col(ColumnDef::new(AuditLog::Detail).json().null())
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("ix_audit_log_created_at_id", AuditLog::CreatedAt),
            ("ix_audit_log_actor_id", AuditLog::Actor),
            ("ix_audit_log_action_id", AuditLog::Action),
            ("ix_audit_log_target_type_id", AuditLog::TargetType),
        ] {
            create_index(
                manager,
                name,
                AuditLog::Table,
                vec![col.into_iden(), AuditLog::Id.into_iden()],
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AuditLog::Table.into_iden(),
            RequestBodies::Table.into_iden(),
            RequestAttempts::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        drop_index(manager, "ix_request_logs_request_id", RequestLogs::Table).await?;
        for (name, _) in log_indexes() {
            drop_index(manager, name, RequestLogs::Table).await?;
        }
        create_index(
            manager,
            "ix_request_logs_created_at",
            RequestLogs::Table,
            vec![RequestLogs::CreatedAt.into_iden()],
        )
        .await?;
        create_index(
            manager,
            "ix_request_logs_user_id",
            RequestLogs::Table,
            vec![RequestLogs::UserId.into_iden()],
        )
        .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(RequestLogs::Table)
                    .drop_column(RequestLogs::KeyId)
                    .to_owned(),
            )
            .await
    }
}
