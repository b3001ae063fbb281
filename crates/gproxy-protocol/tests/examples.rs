//! The conversion example (`examples/anthropic_to_openai.rs`): its
//! functions (compiled into this test with `#[path]`) and the example
//! binary `cargo test` builds, checked against the reviewed golden
//! outputs of the Anthropic → OpenAI Chat pair.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[expect(dead_code, reason = "this file uses only the golden helpers of common")]
mod common;

use std::path::PathBuf;

use common::{normalise, stream_value};
use serde_json::Value;

#[path = "../examples/anthropic_to_openai.rs"]
#[expect(
    dead_code,
    reason = "the example's `main` runs only as the example binary"
)]
mod example;

fn golden(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/convert/pairs/claude__openai_chat")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn the_request_converts_to_the_golden_openai_body() {
    let body = example::convert_request(example::SAMPLE_REQUEST.as_bytes()).unwrap();
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body, golden("request_text.json"));
}

#[test]
fn the_stream_converts_to_the_golden_openai_stream_however_it_is_split() {
    let expected = golden("stream_text.json");
    let stream = example::SAMPLE_STREAM.as_bytes();
    for size in [1, 7, 64, stream.len()] {
        let (out, usage) = example::convert_stream(stream.chunks(size)).unwrap();
        assert_eq!(normalise(stream_value(&out)), expected, "chunks of {size}");
        let usage = usage.unwrap();
        assert_eq!((usage.input_tokens, usage.output_tokens), (21, 4));
    }
}

#[test]
fn a_malformed_request_is_an_error_not_a_panic() {
    assert!(example::convert_request(b"{\"messages\": 3}").is_err());
    assert!(example::convert_request(b"not json").is_err());
}

/// The example binary `cargo test` builds next to this test, if it is
/// there: `cargo test -p gproxy-protocol` builds it, `--test examples`
/// alone does not.
fn example_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    // target/<profile>/deps/examples-<hash> -> target/<profile>/examples/
    let dir = exe.parent()?.parent()?.join("examples");
    let path = dir.join(format!(
        "anthropic_to_openai{}",
        std::env::consts::EXE_SUFFIX
    ));
    path.is_file().then_some(path)
}

#[test]
fn the_example_binary_prints_the_golden_conversions() {
    let Some(binary) = example_binary() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "the anthropic_to_openai example binary was not built (cargo test builds it unless filtered)"
        );
        eprintln!(
            "skipped: the example binary is not built; run `cargo test -p gproxy-protocol` or `cargo build -p gproxy-protocol --examples`"
        );
        return;
    };
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/convert/claude");
    // Without arguments (the built-in samples) and with the same files given.
    let with_files = [
        fixtures.join("request_text.json"),
        fixtures.join("stream_text.sse"),
    ];
    for args in [&[][..], &with_files[..]] {
        let output = std::process::Command::new(&binary)
            .args(args)
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        let stdout = String::from_utf8(output.stdout).unwrap();
        let (request, stream) = stdout
            .split_once("\n\n")
            .unwrap_or_else(|| panic!("no blank line after the request: {stdout}"));
        let request: Value = serde_json::from_str(request).unwrap();
        assert_eq!(request, golden("request_text.json"));
        assert_eq!(
            normalise(stream_value(stream.as_bytes())),
            golden("stream_text.json")
        );
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(stderr.contains("input_tokens: 21"), "{stderr}");
    }
}
