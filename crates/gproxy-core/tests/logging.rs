//! `[logging]`: read from the config file, persisted, validated with the
//! exact field, applied to the engine at start and live on reload.
#![cfg(test)]

use std::path::Path;
use std::sync::Arc;

use gproxy_core::config::ConfigError;
use gproxy_core::control::Control;
use gproxy_core::{CoreError, StartupArgs, bootstrap, build_engine};

fn args(dir: &Path, config: &str) -> StartupArgs {
    let path = dir.join(format!("c{}.toml", config.len()));
    std::fs::write(&path, config).unwrap();
    StartupArgs {
        data_dir: Some(dir.join("data")),
        config: Some(path),
        ..StartupArgs::default()
    }
}

#[tokio::test]
async fn file_settings_persist_and_reach_the_engine_and_reload_live() {
    let dir = tempfile::tempdir().unwrap();
    let file = "[logging]\ncapture_bodies = true\nmax_body_bytes = 100\nredact_headers = [\"X-Secret\"]\nretention_days = 7\n";
    let boot = bootstrap(args(dir.path(), file)).await.unwrap();
    let l = &boot.settings.logging;
    assert!(l.capture_bodies && l.record_requests);
    assert_eq!((l.max_body_bytes, l.retention_days), (100, 7));
    assert_eq!(l.redact_headers, vec!["x-secret".to_owned()]);
    let stored = boot.storage.get_setting("logging").await.unwrap().unwrap();
    let stored: serde_json::Value = serde_json::from_str(&stored).unwrap();
    assert_eq!(stored["max_body_bytes"], 100);
    assert_eq!(stored["retention_days"], 7);

    let (engine, sink) = build_engine(&boot).unwrap();
    let engine = Arc::new(engine);
    assert_eq!(engine.logging().max_body_bytes, 100);

    // set_logging applies at once.
    let mut changed = (*engine.logging()).clone();
    changed.record_requests = false;
    engine.set_logging(changed);
    assert!(!engine.logging().record_requests);

    // A stored change (an admin write here or elsewhere) applies on reload.
    let control = Control::new(boot.storage.clone(), boot.registry.clone(), engine.clone());
    control.init().await.unwrap();
    boot.storage
        .set_setting(
            "logging",
            r#"{"record_requests":true,"capture_bodies":false,"retention_days":30}"#,
        )
        .await
        .unwrap();
    control.reload().await.unwrap();
    let l = engine.logging();
    assert!(l.record_requests && !l.capture_bodies);
    assert_eq!((l.retention_days, l.max_body_bytes), (30, 65_536));
    sink.shutdown(std::time::Duration::from_secs(1)).await;
}

#[tokio::test]
async fn bad_logging_values_name_the_field() {
    for (text, field) in [
        (
            "[logging]\nmax_body_bytes = 16777217\n",
            "logging.max_body_bytes",
        ),
        (
            "[logging]\nretention_days = 4000\n",
            "logging.retention_days",
        ),
        (
            "[logging]\nredact_headers = [\"ok\", \"no good\"]\n",
            "logging.redact_headers[1]",
        ),
        ("[logging]\ncapture = true\n", "logging"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let err = bootstrap(args(dir.path(), text)).await.unwrap_err();
        match err {
            CoreError::Config(ConfigError::Field { field: f, .. }) => {
                assert!(f.starts_with(field), "{text}: {f}");
            }
            other => panic!("{text}: {other}"),
        }
    }
}
