//! Cheaper request-log writes: three of the `(column, id)` indexes added by
//! `m20261204_000002_request_detail` go.
//!
//! Every index is maintained on every insert, and on SQLite the random-key
//! ones cost 1 to 6 µs of CPU per row each (docs/benchmarks.md, "Request-log
//! write cost"). The log queries keep being served by an index:
//! - `key_id`: keys belong to one user, so a key filter also filters on the
//!   key's owner and reads `(user_id, id)`.
//! - `status`: the filter that needs an index is the rare one, errors; a
//!   partial index of the ids of rows with `status >= 400` costs nothing on
//!   a successful request and is read newest first like the primary key,
//!   so an error page never sorts. MySQL has no partial indexes and keeps
//!   `(status, id)`.
//! - `protocol`: a handful of values, each common: a newest-first scan of
//!   the primary key fills a page quickly.

use sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261204_000003_log_write_cost"
    }
}

#[derive(DeriveIden)]
enum RequestLogs {
    Table,
    Id,
    KeyId,
    Protocol,
    Status,
}

/// The partial index over failed requests (SQLite and PostgreSQL).
const ERRORS_INDEX: &str = "ix_request_logs_errors";

async fn drop_index(manager: &SchemaManager<'_>, name: &str) -> Result<(), DbErr> {
    manager
        .drop_index(
            Index::drop()
                .name(name)
                .table(RequestLogs::Table)
                .to_owned(),
        )
        .await
}

async fn create_index(
    manager: &SchemaManager<'_>,
    name: &str,
    col: RequestLogs,
) -> Result<(), DbErr> {
    manager
        .create_index(
            Index::create()
                .name(name)
                .table(RequestLogs::Table)
                .col(col)
                .col(RequestLogs::Id)
                .to_owned(),
        )
        .await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_index(manager, "ix_request_logs_key_id_id").await?;
        drop_index(manager, "ix_request_logs_protocol_id").await?;
        if manager.get_database_backend() != DbBackend::MySql {
            drop_index(manager, "ix_request_logs_status_id").await?;
            manager
                .get_connection()
                .execute_unprepared(&format!(
                    "CREATE INDEX {ERRORS_INDEX} ON request_logs (id) WHERE status >= 400"
                ))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::MySql {
            drop_index(manager, ERRORS_INDEX).await?;
            create_index(manager, "ix_request_logs_status_id", RequestLogs::Status).await?;
        }
        create_index(
            manager,
            "ix_request_logs_protocol_id",
            RequestLogs::Protocol,
        )
        .await?;
        create_index(manager, "ix_request_logs_key_id_id", RequestLogs::KeyId).await
    }
}
