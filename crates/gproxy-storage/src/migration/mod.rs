//! Schema migrations (`sea-orm-migration`), the same on SQLite, PostgreSQL
//! and MySQL/MariaDB.
//!
//! Migrations are append-only: never edit one that has shipped; add a new
//! module and list it in [`Migrator::migrations`]. Column types that differ
//! per backend are chosen by the helpers in this module, so each migration
//! stays backend-neutral.

use sea_orm::DbBackend;
use sea_orm_migration::prelude::*;

mod m20250101_000001_initial;
mod m20250201_000001_model_routes;
mod m20250301_000001_resilience;
mod m20261204_000001_control_plane;
mod m20261204_000002_request_detail;
mod m20261204_000003_log_write_cost;
mod m20261205_000001_cost;
mod m20261205_000004_oauth_credential_version;

/// Runs every migration of this crate, in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20250101_000001_initial::Migration),
            Box::new(m20250201_000001_model_routes::Migration),
            Box::new(m20250301_000001_resilience::Migration),
            Box::new(m20261204_000001_control_plane::Migration),
            Box::new(m20261204_000002_request_detail::Migration),
            Box::new(m20261204_000003_log_write_cost::Migration),
            Box::new(m20261205_000001_cost::Migration),
            Box::new(m20261205_000004_oauth_credential_version::Migration),
        ]
    }
}

/// A `BIGINT` auto-increment primary key (`INTEGER PRIMARY KEY AUTOINCREMENT`
/// on SQLite, `bigserial` on PostgreSQL).
fn id_column(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .big_integer()
        .not_null()
        .auto_increment()
        .primary_key()
        .to_owned()
}

/// A UTC timestamp: `timestamptz` on PostgreSQL, `DATETIME(6)` on MySQL (a
/// MySQL `TIMESTAMP` ends in 2038 and rounds to seconds), text on SQLite.
fn timestamp_column(backend: DbBackend, col: impl IntoIden) -> ColumnDef {
    let mut def = ColumnDef::new(col);
    match backend {
        DbBackend::MySql => def.custom(Alias::new("DATETIME(6)")),
        DbBackend::Postgres | DbBackend::Sqlite => def.timestamp_with_time_zone(),
    };
    def.not_null().to_owned()
}

/// Unbounded text: `LONGTEXT` on MySQL (whose `TEXT` ends at 64 KiB),
/// `TEXT` elsewhere.
fn long_text_column(backend: DbBackend, col: impl IntoIden) -> ColumnDef {
    let mut def = ColumnDef::new(col);
    match backend {
        DbBackend::MySql => def.custom(Alias::new("LONGTEXT")),
        DbBackend::Postgres | DbBackend::Sqlite => def.text(),
    };
    def.not_null().to_owned()
}

/// Starts a `CREATE TABLE`; on MySQL the table is InnoDB, `utf8mb4` with a
/// binary collation, so unique names compare exactly as on the other
/// backends (the default MySQL collation is case-insensitive).
fn create_table(backend: DbBackend, table: impl IntoTableRef) -> TableCreateStatement {
    let mut stmt = Table::create();
    stmt.table(table);
    if backend == DbBackend::MySql {
        stmt.engine("InnoDB")
            .character_set("utf8mb4")
            .collate("utf8mb4_bin");
    }
    stmt
}
