//! The admin API fuzzed from its own OpenAPI document with schemathesis
//! (`scripts/fuzz_admin.sh`: no 5xx, no answer that breaks the document,
//! no schema-violating request accepted, bounded in examples and time).
//! Needs python3 and the PyPI registry for the first run (the tool is
//! cached under `~/.cache`); without them it prints `skipped: ...` and
//! passes, unless `CI=true`.
#![cfg(test)] // lets clippy see helpers as test code (unwrap/expect allowed)

use std::process::Command;

#[test]
fn the_admin_api_survives_schemathesis() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let has_python = Command::new("python3")
        .arg("-c")
        .arg("import venv")
        .status()
        .is_ok_and(|s| s.success());
    if !has_python {
        assert!(!ci, "CI=true: python3 with venv is required for the admin API fuzz");
        eprintln!("skipped: no python3 with venv for schemathesis");
        return;
    }
    let out = Command::new("bash")
        .arg(root.join("scripts/fuzz_admin.sh"))
        .arg(env!("CARGO_BIN_EXE_gproxy"))
        .current_dir(&root)
        .output()
        .expect("run scripts/fuzz_admin.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() && !ci && stderr.contains("pip") && !stdout.contains("SUMMARY") {
        eprintln!("skipped: schemathesis could not be installed: {stderr}");
        return;
    }
    assert!(
        out.status.success(),
        "schemathesis found problems:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("passed"), "{stdout}");
}
