//! Config-file validation of custom providers (`kind = "custom"`): every
//! bad field is reported with its exact path, and custom-only fields are
//! refused on other kinds.
#![cfg(test)]

use std::path::Path;

use gproxy_core::config::{ConfigError, FileConfig};
use gproxy_protocol::Protocol;
use gproxy_provider::builtin::custom::{CountTokens, CustomAuth};

fn parse(text: &str) -> Result<FileConfig, ConfigError> {
    FileConfig::parse(text, Path::new("gproxy.toml"), &|_| None)
}

fn field_of(text: &str) -> (String, String) {
    match parse(text) {
        Err(ConfigError::Field { field, message, .. }) => (field, message),
        other => panic!("expected a field error for\n{text}\ngot {other:?}"),
    }
}

const CUSTOM: &str = r#"
[[providers]]
name = "openai"

[[providers]]
name = "claude"

[[providers]]
name = "mycustom"
kind = "custom"
protocol = "openai_chat"
base_url = "http://127.0.0.1:18080/v1"
json_param_mask = ["temperature", "messages[*].name"]
headers = { "x-extra" = "1" }
models = ["m-1", "m-2"]
count_tokens = "local"
auth = "bearer"
[[providers.credentials]]
api_key = "sk-custom-1"
"#;

#[test]
fn the_documented_custom_provider_parses() {
    let config = parse(CUSTOM).unwrap();
    let p = &config.providers[2];
    assert_eq!(p.protocol, Some(Protocol::OpenAiChat));
    assert_eq!(p.count_tokens, Some(CountTokens::Local));
    assert_eq!(p.auth, Some(CustomAuth::Bearer));
    let settings = p.custom_settings().unwrap();
    assert_eq!(settings.json_param_mask.len(), 2);
    assert_eq!(settings.headers["x-extra"], "1");
    assert_eq!(settings.models, ["m-1", "m-2"]);
    assert!(config.providers[0].custom_settings().is_none());
}

#[test]
fn only_protocol_is_required() {
    let text = "[[providers]]\nname = \"c\"\nkind = \"custom\"\nprotocol = \"gemini\"\nbase_url = \"http://h\"\n";
    let settings = parse(text).unwrap().providers[0].custom_settings().unwrap();
    assert_eq!(settings.protocol, Protocol::Gemini);
    assert!(settings.models.is_empty() && settings.auth.is_none());
    assert_eq!(settings.count_tokens, CountTokens::Upstream);
}

#[test]
fn bad_custom_fields_name_their_exact_path() {
    for (from, to, field) in [
        (
            "\"messages[*].name\"",
            "\"messages[*.name\"",
            "providers[2].json_param_mask[1]",
        ),
        (
            "\"x-extra\" = \"1\"",
            "\"x-api-key\" = \"k\"",
            "providers[2].headers.x-api-key",
        ),
        (
            "\"x-extra\" = \"1\"",
            "\"Transfer-Encoding\" = \"chunked\"",
            "providers[2].headers.Transfer-Encoding",
        ),
        (
            "\"x-extra\" = \"1\"",
            "\"bad header\" = \"1\"",
            "providers[2].headers.bad header",
        ),
        (
            "\"x-extra\" = \"1\"",
            "\"x-extra\" = \"a\\nb\"",
            "providers[2].headers.x-extra",
        ),
        ("\"m-2\"", "\"\"", "providers[2].models[1]"),
        ("protocol = \"openai_chat\"\n", "", "providers[2].protocol"),
        (
            "protocol = \"openai_chat\"",
            "protocol = \"soap\"",
            "providers[2].protocol",
        ),
        ("auth = \"bearer\"", "auth = \"basic\"", "providers[2].auth"),
        (
            "count_tokens = \"local\"",
            "count_tokens = \"guess\"",
            "providers[2].count_tokens",
        ),
        (
            "base_url = \"http://127.0.0.1:18080/v1\"\n",
            "",
            "providers[2].base_url",
        ),
    ] {
        assert!(CUSTOM.contains(from), "{from}");
        let (got, message) = field_of(&CUSTOM.replacen(from, to, 1));
        assert_eq!(got, field, "{to}: {message}");
    }
}

#[test]
fn custom_fields_are_refused_on_other_kinds() {
    for (line, field) in [
        ("protocol = \"claude\"", "providers[1].protocol"),
        ("count_tokens = \"local\"", "providers[1].count_tokens"),
        ("auth = \"none\"", "providers[1].auth"),
    ] {
        let text = CUSTOM.replacen(
            "name = \"claude\"\n",
            &format!("name = \"claude\"\n{line}\n"),
            1,
        );
        let (got, message) = field_of(&text);
        assert_eq!(got, field);
        assert!(
            message.contains("custom") && message.contains("claude"),
            "{message}"
        );
    }
}

#[test]
fn builtins_take_headers_models_and_a_mask_as_overrides() {
    let text = CUSTOM.replacen(
        "name = \"claude\"\n",
        "name = \"claude\"\nheaders = { \"x-a\" = \"1\" }\nmodels = [\"m\"]\njson_param_mask = [\"a\"]\n",
        1,
    );
    let config = parse(&text).unwrap();
    let claude = &config.providers[1];
    let settings = claude.builtin_settings(None);
    assert_eq!(settings["models"], serde_json::json!(["m"]));
    assert_eq!(settings["headers"]["x-a"], "1");
    // Checked as a custom provider's: a header the gateway owns is refused.
    let bad = CUSTOM.replacen(
        "name = \"claude\"\n",
        "name = \"claude\"\nheaders = { \"x-api-key\" = \"1\" }\n",
        1,
    );
    assert_eq!(field_of(&bad).0, "providers[1].headers.x-api-key");
}
