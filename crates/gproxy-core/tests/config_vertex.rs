//! Config-file validation of Vertex providers: service-account credentials
//! (inline or from a file), `project` and `location`, each bad field
//! reported with its exact path and never with the key.
#![cfg(test)]

use std::path::Path;

use gproxy_core::config::{ConfigError, FileConfig};
use gproxy_credential::Credential;
use gproxy_testkit::oauth::{TEST_PRIVATE_KEY_PEM, service_account_json};

fn env(name: &str) -> Option<String> {
    match name {
        "SA_JSON" => Some(service_account_json(
            "env-project",
            "http://127.0.0.1:1/token",
        )),
        "BAD_SA_JSON" => Some(
            service_account_json("p", "http://127.0.0.1:1/token").replace("\"type\"", "\"kind\""),
        ),
        _ => None,
    }
}

fn parse(text: &str) -> Result<FileConfig, ConfigError> {
    FileConfig::parse(text, Path::new("gproxy.toml"), &env)
}

fn field_of(text: &str) -> (String, String) {
    match parse(text) {
        Err(ConfigError::Field { field, message, .. }) => (field, message),
        other => panic!("expected a field error for\n{text}\ngot {other:?}"),
    }
}

const VERTEX: &str = r#"
[[providers]]
name = "vertex"
project = "my-project"
location = "europe-west4"
[[providers.credentials]]
service_account = "${SA_JSON}"

[[providers]]
name = "vertexexpress"
[[providers.credentials]]
api_key = "AQ.express-key"
"#;

#[test]
fn the_documented_vertex_example_parses() {
    let c = parse(VERTEX).unwrap();
    let settings = c.providers[0].vertex_settings().unwrap();
    assert_eq!(settings.project.as_deref(), Some("my-project"));
    assert_eq!(settings.location.as_deref(), Some("europe-west4"));
    assert!(c.providers[1].vertex_settings().is_none());
    let Credential::ServiceAccount(key) = c.providers[0].credentials[0].credential().unwrap()
    else {
        panic!("expected a service account");
    };
    assert_eq!(key.project_id, "env-project");
    let name = c.providers[0].credentials[0].name_for(&Credential::ServiceAccount(key));
    assert!(name.starts_with("sa-") && name.len() == 11, "{name}");
}

#[test]
fn a_key_file_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sa.json");
    std::fs::write(
        &path,
        service_account_json("file-project", "https://oauth2.googleapis.com/token"),
    )
    .unwrap();
    let text = VERTEX.replace(
        "service_account = \"${SA_JSON}\"",
        &format!("service_account_file = \"{}\"", path.display()),
    );
    let c = parse(&text).unwrap();
    assert!(matches!(
        c.providers[0].credentials[0].credential().unwrap(),
        Credential::ServiceAccount(k) if k.project_id == "file-project"
    ));
}

#[test]
fn bad_vertex_fields_name_their_exact_path() {
    for (from, to, field) in [
        (
            "project = \"my-project\"",
            "project = \"My Project\"",
            "providers[0].project",
        ),
        (
            "location = \"europe-west4\"",
            "location = \"europe/west4\"",
            "providers[0].location",
        ),
        (
            "service_account = \"${SA_JSON}\"",
            "service_account = \"${BAD_SA_JSON}\"",
            "providers[0].credentials[0].service_account",
        ),
        (
            "service_account = \"${SA_JSON}\"",
            "service_account = \"{}\"",
            "providers[0].credentials[0].service_account",
        ),
        (
            "service_account = \"${SA_JSON}\"",
            "service_account_file = \"/nonexistent/sa.json\"",
            "providers[0].credentials[0].service_account_file",
        ),
        (
            "service_account = \"${SA_JSON}\"",
            "api_key = \"sk-1\"",
            "providers[0].credentials[0].api_key",
        ),
        (
            "service_account = \"${SA_JSON}\"",
            "service_account = \"${SA_JSON}\"\napi_key = \"sk-1\"",
            "providers[0].credentials[0].service_account",
        ),
        (
            "service_account = \"${SA_JSON}\"",
            "enabled = true",
            "providers[0].credentials[0].api_key",
        ),
        (
            "api_key = \"AQ.express-key\"",
            "service_account = \"${SA_JSON}\"",
            "providers[1].credentials[0].service_account",
        ),
        (
            "name = \"vertexexpress\"",
            "name = \"vertexexpress\"\nlocation = \"us-east5\"",
            "providers[1].location",
        ),
    ] {
        let (got, message) = field_of(&VERTEX.replacen(from, to, 1));
        assert_eq!(got, field, "{to}: {message}");
        assert!(
            !message.contains(TEST_PRIVATE_KEY_PEM.lines().nth(3).unwrap()),
            "the key leaked: {message}"
        );
    }
}
