//! Connecting: SQLite file creation, DSN forms, and password redaction.
#![cfg(test)] // lets clippy see helpers as test code (unwrap/expect allowed)

mod common;

use gproxy_storage::{Storage, StorageError};

#[tokio::test]
async fn sqlite_file_is_created_in_both_dsn_forms() {
    let dir = tempfile::tempdir().unwrap();
    for (i, prefix) in ["sqlite://", "sqlite:"].into_iter().enumerate() {
        let path = dir.path().join(format!("new-{i}.db"));
        assert!(!path.exists());
        let dsn = format!("{prefix}{}", path.display());
        let storage = Storage::connect(&dsn).await.unwrap();
        storage.migrate().await.unwrap();
        storage.set_setting("k", "v").await.unwrap();
        storage.close().await.unwrap();
        assert!(path.exists(), "{dsn}");

        // Reopening sees the data; migrating again is a no-op.
        let again = Storage::connect(&dsn).await.unwrap();
        again.migrate().await.unwrap();
        assert_eq!(again.get_setting("k").await.unwrap().as_deref(), Some("v"));
        again.close().await.unwrap();
    }
}

#[tokio::test]
async fn sqlite_uses_wal() {
    let dir = tempfile::tempdir().unwrap();
    let dsn = format!("sqlite://{}", dir.path().join("wal.db").display());
    let storage = Storage::connect(&dsn).await.unwrap();
    use sea_orm::{ConnectionTrait, Statement};
    let row = storage
        .connection()
        .query_one(Statement::from_string(
            sea_orm::DbBackend::Sqlite,
            "PRAGMA journal_mode",
        ))
        .await
        .unwrap()
        .unwrap();
    let mode: String = row.try_get_by_index(0).unwrap();
    assert_eq!(mode, "wal");
    storage.close().await.unwrap();
}

/// Connection refused: the pool retries until its 10 s connect timeout.
async fn assert_refused_without_password(dsn: &str) {
    let err = Storage::connect(dsn).await.unwrap_err();
    let shown = format!("{err} / {err:?}");
    assert!(matches!(err, StorageError::Connect { .. }), "{shown}");
    assert!(!shown.contains("hunter2secret"), "{shown}");
    assert!(shown.contains("gproxy:***@127.0.0.1:1"), "{shown}");
}

#[tokio::test]
async fn postgres_connect_error_hides_the_password() {
    assert_refused_without_password("postgres://gproxy:hunter2secret@127.0.0.1:1/gproxy").await;
}

#[tokio::test]
async fn mysql_connect_error_hides_the_password() {
    assert_refused_without_password("mysql://gproxy:hunter2secret@127.0.0.1:1/gproxy").await;
}

#[tokio::test]
async fn unsupported_scheme_hides_the_password() {
    let err = Storage::connect("redis://u:hunter2secret@h")
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::UnsupportedDsn { .. }));
    assert!(!err.to_string().contains("hunter2secret"));
}

#[test]
fn with_database_replaces_only_the_path() {
    use common::with_database;
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
        "postgres://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(
        with_database("mysql://root:pw@h:3306/test?ssl-mode=disabled", "x"),
        "mysql://root:pw@h:3306/x?ssl-mode=disabled"
    );
    assert_eq!(with_database("mysql://root@h", "x"), "mysql://root@h/x");
}
