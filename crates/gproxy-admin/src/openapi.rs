//! The OpenAPI 3.1 document of the admin API, generated from the route
//! table ([`crate::table`]) and the JSON Schemas of the Rust types, so it
//! cannot drift from what is served.

use schemars::SchemaGenerator;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use crate::error::ErrorBody;
use crate::routes::{Access, RouteDef};

/// The whole document.
pub fn document(routes: &[RouteDef]) -> Value {
    let mut generator = SchemaGenerator::new(
        SchemaSettings::draft2020_12().with(|s| s.definitions_path = "/components/schemas/".into()),
    );
    let error = Value::from(generator.subschema_for::<ErrorBody>());
    let mut paths: Map<String, Value> = Map::new();
    for route in routes {
        let path = format!("/admin/api{}", route.path);
        let mut op = Map::new();
        op.insert("summary".into(), json!(route.summary));
        op.insert("operationId".into(), json!(operation_id(route)));
        op.insert("tags".into(), json!([route.tag]));
        let mut parameters: Vec<Value> = route
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| {
                let schema = if name == "id" {
                    json!({"type": "integer", "format": "int64"})
                } else {
                    json!({"type": "string", "minLength": 1})
                };
                json!({"name": name, "in": "path", "required": true, "schema": schema})
            })
            .collect();
        if let Some(query) = route.query {
            let schema = Value::from(query(&mut generator));
            let resolved = resolve(&generator, &schema);
            let required: Vec<String> = resolved
                .get("required")
                .and_then(Value::as_array)
                .map(|r| {
                    r.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            if let Some(props) = resolved.get("properties").and_then(Value::as_object) {
                for (name, prop) in props {
                    parameters.push(json!({
                        "name": name,
                        "in": "query",
                        "required": required.contains(name),
                        "schema": prop,
                    }));
                }
            }
        }
        if !parameters.is_empty() {
            op.insert("parameters".into(), Value::Array(parameters));
        }
        if let Some(request) = route.request {
            op.insert(
                "requestBody".into(),
                json!({
                    "required": true,
                    "content": {"application/json": {"schema": Value::from(request(&mut generator))}}
                }),
            );
        }
        let mut responses = Map::new();
        let ok = match route.response {
            Some(response) => {
                let content_type = route.response_type.unwrap_or("application/json");
                json!({
                    "description": "Success",
                    "content": {content_type: {"schema": Value::from(response(&mut generator))}}
                })
            }
            None => json!({"description": "Success"}),
        };
        responses.insert(route.status.to_string(), ok);
        let err = |d: &str| json!({"description": d, "content": {"application/json": {"schema": error.clone()}}});
        if route.request.is_some() || route.query.is_some() || route.path.contains('{') {
            responses.insert(
                "400".into(),
                err("Bad input; `error.field` names the field"),
            );
        }
        if let Access::Role(_) = route.access {
            responses.insert("401".into(), err("Not authenticated"));
            responses.insert("403".into(), err("Role not allowed, or missing CSRF token"));
        }
        if route.path.contains('{') {
            responses.insert("404".into(), err("No such entity"));
        }
        if route.is_write() {
            responses.insert("409".into(), err("Conflicts with the stored state"));
        }
        if route.request.is_some() {
            responses.insert("413".into(), err("Body too large"));
            responses.insert("415".into(), err("Body is not JSON"));
        }
        responses.insert("405".into(), err("Method not allowed"));
        if route.path == "/session" && route.method == http::Method::POST {
            responses.insert("401".into(), err("Wrong user name or password"));
            responses.insert("429".into(), err("Too many failed sign-ins"));
        }
        if route.path.ends_with("/test") {
            responses.insert("502".into(), err("Upstream unreachable"));
        }
        op.insert("responses".into(), Value::Object(responses));
        if let Access::Role(_) = route.access {
            op.insert("security".into(), json!([{"bearer": []}, {"session": []}]));
        } else {
            op.insert("security".into(), json!([]));
        }
        let entry = paths.entry(path).or_insert_with(|| json!({}));
        if let Some(obj) = entry.as_object_mut() {
            obj.insert(
                route.method.as_str().to_ascii_lowercase(),
                Value::Object(op),
            );
        }
    }
    let schemas = Value::Object(generator.take_definitions(true));
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "gproxy admin API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Every setting of the gateway, read and changed at run time. See route.md."
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "The admin key or a personal admin token"},
                "session": {"type": "apiKey", "in": "cookie", "name": crate::auth::SESSION_COOKIE}
            }
        }
    })
}

fn operation_id(route: &RouteDef) -> String {
    let mut id = route.method.as_str().to_ascii_lowercase();
    for seg in route.path.split('/').filter(|s| !s.is_empty()) {
        let seg = seg.trim_start_matches('{').trim_end_matches('}');
        id.push('_');
        id.push_str(&seg.replace('-', "_"));
    }
    id
}

/// Follows a `$ref` into the generator's definitions.
fn resolve(generator: &SchemaGenerator, schema: &Value) -> Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.rsplit('/').next().unwrap_or_default();
            generator
                .definitions()
                .get(name)
                .cloned()
                .unwrap_or(Value::Null)
        }
        None => schema.clone(),
    }
}
