//! The OpenAPI document the web UI's client is generated from is
//! snapshotted at `frontend/openapi.json`. This test fails when the Rust
//! admin types and the snapshot differ, so a change to the API is seen (and
//! the UI's typecheck run against it) in the same commit. To accept a
//! change: `GPROXY_UPDATE_OPENAPI=1 cargo test -p gproxy-admin --test openapi_snapshot`.
#![cfg(test)]

use std::path::PathBuf;

fn snapshot_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../frontend/openapi.json")
}

/// The document as the snapshot stores it: pretty JSON (keys sorted, as
/// `serde_json` maps are) with a final newline.
fn generated() -> String {
    let doc = gproxy_admin::openapi::document(&gproxy_admin::table::routes());
    let mut text = serde_json::to_string_pretty(&doc).expect("serialise the document");
    text.push('\n');
    text
}

#[test]
fn the_ui_snapshot_of_the_openapi_document_is_current() {
    let path = snapshot_path();
    let want = generated();
    if std::env::var("GPROXY_UPDATE_OPENAPI").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &want).expect("write frontend/openapi.json");
        eprintln!("updated {}", path.display());
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    if have != want {
        let line = have
            .lines()
            .zip(want.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| have.lines().count().min(want.lines().count()));
        panic!(
            "frontend/openapi.json is not the document the admin API generates (first \
             difference at line {}).\nRun `GPROXY_UPDATE_OPENAPI=1 cargo test -p gproxy-admin \
             --test openapi_snapshot`, then `npm run typecheck` in frontend/ to see what the \
             change breaks in the UI.",
            line + 1
        );
    }
}

#[test]
fn the_generated_document_is_deterministic() {
    assert_eq!(generated(), generated());
}
