//! Config-file parsing and validation tests.

use super::*;

pub(super) fn parse(text: &str) -> Result<FileConfig, ConfigError> {
    FileConfig::parse(text, Path::new("gproxy.toml"), &|name| match name {
        "GPROXY_ADMIN_KEY" => Some("admin-secret-123".into()),
        "OPENAI_KEY" => Some("sk-from-env".into()),
        _ => None,
    })
}

fn field_of(err: ConfigError) -> String {
    match err {
        ConfigError::Field { field, .. } => field,
        other => panic!("expected a field error, got {other}"),
    }
}

const EXAMPLE: &str = r#"
admin_key = "${GPROXY_ADMIN_KEY}"

[[providers]]
name = "openai"
base_url = "http://127.0.0.1:18080/v1"
[[providers.credentials]]
api_key = "${OPENAI_KEY}"

[[providers]]
name = "claude"
base_url = "http://127.0.0.1:18080"
[[providers.credentials]]
api_key = "sk-ant-..."

[[providers]]
name = "aistudio"
base_url = "http://127.0.0.1:18080"
[[providers.credentials]]
api_key = "AIza..."

[[users]]
name = "alice"
keys = ["sk-alice-..."]
"#;

#[test]
fn the_documented_example_parses_with_env_expansion() {
    let c = parse(EXAMPLE).unwrap();
    assert_eq!(c.admin_key.as_deref(), Some("admin-secret-123"));
    assert_eq!(c.providers.len(), 3);
    assert_eq!(
        c.providers[0].credentials[0].api_key.as_deref(),
        Some("sk-from-env")
    );
    assert_eq!(
        c.providers[1].base_url.as_deref(),
        Some("http://127.0.0.1:18080")
    );
    assert_eq!(c.users[0].keys, vec!["sk-alice-...".to_owned()]);
}

#[test]
fn unknown_field_names_its_exact_path() {
    let text = EXAMPLE.replace("name = \"claude\"", "name = \"claude\"\nbase_ulr = \"x\"");
    let err = parse(&text).unwrap_err();
    let msg = err.to_string();
    assert_eq!(field_of(err), "providers[1].base_ulr");
    assert!(msg.contains("base_ulr"), "{msg}");
}

#[test]
fn bad_base_url_names_its_exact_path() {
    let text = EXAMPLE.replace(
        "http://127.0.0.1:18080\"\n[[providers.credentials]]\napi_key = \"sk-ant",
        "ftp://x\"\n[[providers.credentials]]\napi_key = \"sk-ant",
    );
    assert_eq!(field_of(parse(&text).unwrap_err()), "providers[1].base_url");
}

#[test]
fn wrong_type_names_its_exact_path() {
    let err = parse("port = \"eighty\"").unwrap_err();
    assert_eq!(field_of(err), "port");
    let err = parse("[[users]]\nname = \"a\"\nkeys = [1]").unwrap_err();
    assert_eq!(field_of(err), "users[0].keys[0]");
}

#[test]
fn missing_env_var_names_the_field_and_the_variable() {
    let err = parse("proxy = \"${NOPE}\"").unwrap_err();
    let msg = err.to_string();
    assert_eq!(field_of(err), "proxy");
    assert!(msg.contains("NOPE"), "{msg}");
}

#[test]
fn escaped_dollar_brace_is_literal() {
    assert_eq!(expand_str("a$${B}c", &|_| None).unwrap(), "a${B}c");
    assert_eq!(
        expand_str("x${A}y${A}", &|_| Some("1".into())).unwrap(),
        "x1y1"
    );
    assert!(expand_str("${A", &|_| Some("1".into())).is_err());
}

#[test]
fn invalid_values_are_refused_with_paths() {
    for (text, field) in [
        ("[[providers]]\nname = \"Bad Name\"", "providers[0].name"),
        ("[[providers]]\nname = \"v1\"", "providers[0].name"),
        (
            "[[providers]]\nname = \"a\"\n[[providers]]\nname = \"a\"",
            "providers[1].name",
        ),
        (
            "[[providers]]\nname = \"a\"\n[[providers.credentials]]\napi_key = \"\"",
            "providers[0].credentials[0].api_key",
        ),
        (
            "[[users]]\nname = \"u\"\nkeys = [\"short\"]",
            "users[0].keys[0]",
        ),
        ("proxy = \"ftp://h:1\"", "proxy"),
        ("[limits]\nmax_body_bytes = 0", "limits.max_body_bytes"),
        ("admin_key = \"x\"", "admin_key"),
        (
            "[[routes]]\nmodel = \"a/b\"\ntargets = [\"p/m\"]",
            "routes[0].model",
        ),
        (
            "[[routes]]\nmodel = \"a\"\ntargets = [\"p/m\"]\n[[routes]]\nmodel = \"a\"\ntargets = [\"p/m\"]",
            "routes[1].model",
        ),
        (
            "[[routes]]\nmodel = \"a\"\ntargets = []",
            "routes[0].targets",
        ),
        (
            "[[routes]]\nmodel = \"a\"\ntargets = [\"p/m\", \"nomodel\"]",
            "routes[0].targets[1]",
        ),
        (
            "[[routes]]\nmodel = \"a\"\ntargets = [\"p/m\"]\n[[routes]]\nmodel = \"b\"\ntargets = [{ target = \"p/m\", weight = 0 }]",
            "routes[1].targets[0].weight",
        ),
        (
            "[[routes]]\nmodel = \"a\"\ntargets = [{ target = \"p/m\", wieght = 2 }]",
            "routes[0].targets[0].wieght",
        ),
        (
            "[[routes]]\nmodel = \"a\"\ntargets = [{ target = \"p/m\", weight = -1 }]",
            "routes[0].targets[0].weight",
        ),
        (
            "[[routes]]\nmodel = \"a\"\ntargets = [{ target = \"/m\" }]",
            "routes[0].targets[0].target",
        ),
        (
            "[[routes]]\nmodel = \"a\"\ntargets = [3]",
            "routes[0].targets[0]",
        ),
    ] {
        assert_eq!(field_of(parse(text).unwrap_err()), field, "{text}");
    }
}

#[test]
fn syntax_errors_are_reported() {
    assert!(matches!(parse("port = "), Err(ConfigError::Syntax { .. })));
}
