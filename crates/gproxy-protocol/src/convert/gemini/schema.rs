//! JSON Schema → the OpenAPI subset Gemini's `Schema` accepts.
//!
//! Tool `parameters` and `responseSchema` are sent in Gemini's `Schema`
//! form (accepted by every model on both AI Studio and Vertex, unlike
//! `parametersJsonSchema`/`responseJsonSchema`), so client schemas are
//! cleaned first: only the keywords both backends document are kept
//! (`type`, `format`, `title`, `description`, `nullable`, `enum`, `items`,
//! `minItems`, `maxItems`, `properties`, `required`, `propertyOrdering`,
//! `minProperties`, `maxProperties`, `minLength`, `maxLength`, `pattern`,
//! `minimum`, `maximum`, `anyOf`); `$ref`s into the root `$defs` /
//! `definitions` are inlined (depth-limited; unresolvable ones dropped);
//! `type: [t, "null"]` becomes `type: t, nullable: true`; `const` becomes a
//! one-value `enum`; enum values become strings; `oneOf` is read as `anyOf`
//! and `allOf` merged; `required` keeps only properties that exist;
//! `format` keeps only the values Gemini documents per type; a missing
//! `type` is inferred (`properties` → object, `items` → array, `enum` →
//! string), an array without `items` gets string items, and an empty
//! `properties` map is left out (Gemini rejects an empty one).

use serde_json::{Map, Value};

/// How many `$ref`s may be expanded along one path (recursive schemas).
const MAX_REF_DEPTH: usize = 8;
/// How deep the cleaner recurses at all.
const MAX_DEPTH: usize = 64;

/// Cleans a JSON Schema into Gemini's `Schema` subset (see the module docs).
pub(crate) fn clean_schema(schema: &Value) -> Value {
    let empty = Map::new();
    let root = schema.as_object().unwrap_or(&empty);
    let mut defs = Map::new();
    for key in ["definitions", "$defs"] {
        if let Some(Value::Object(d)) = root.get(key) {
            defs.extend(d.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }
    Cleaner { defs }.clean(schema, 0, 0)
}

/// Tool parameters for Gemini: the cleaned schema, or `None` for an object
/// schema without properties (Gemini rejects an OBJECT with empty
/// `properties`; a function without parameters leaves them out).
pub(crate) fn clean_parameters(schema: &Value) -> Option<Value> {
    let mut cleaned = clean_schema(schema);
    let obj = cleaned.as_object_mut()?;
    if !obj.contains_key("type") && obj.contains_key("properties") {
        obj.insert("type".into(), Value::String("object".into()));
    }
    let is_object = obj
        .get("type")
        .and_then(Value::as_str)
        .is_some_and(|t| t.eq_ignore_ascii_case("object"));
    let has_props = obj
        .get("properties")
        .and_then(Value::as_object)
        .is_some_and(|p| !p.is_empty());
    if is_object && !has_props || obj.is_empty() {
        return None;
    }
    Some(cleaned)
}

struct Cleaner {
    defs: Map<String, Value>,
}

impl Cleaner {
    fn resolve(&self, reference: &str) -> Option<&Value> {
        let name = reference
            .strip_prefix("#/$defs/")
            .or_else(|| reference.strip_prefix("#/definitions/"))?;
        self.defs.get(name)
    }

    fn clean(&self, value: &Value, depth: usize, refs: usize) -> Value {
        let Value::Object(map) = value else {
            // `true` / anything else: an unconstrained schema.
            return Value::Object(Map::new());
        };
        if depth > MAX_DEPTH {
            return Value::Object(Map::new());
        }
        if let Some(Value::String(reference)) = map.get("$ref") {
            let mut rest = map.clone();
            rest.remove("$ref");
            if refs < MAX_REF_DEPTH
                && let Some(Value::Object(target)) = self.resolve(reference)
            {
                let mut merged = target.clone();
                merged.extend(rest);
                return self.clean(&Value::Object(merged), depth + 1, refs + 1);
            }
            return self.clean(&Value::Object(rest), depth + 1, refs);
        }
        let mut out = Map::new();
        self.clean_into(map, &mut out, depth, refs);
        Value::Object(out)
    }

    fn clean_into(
        &self,
        map: &Map<String, Value>,
        out: &mut Map<String, Value>,
        depth: usize,
        refs: usize,
    ) {
        if let Some(t) = map.get("type") {
            clean_type(t, out);
        }
        for (key, val) in map {
            match key.as_str() {
                "title" | "description" | "pattern" if val.is_string() => {
                    out.insert(key.clone(), val.clone());
                }
                "nullable" if val.as_bool() == Some(true) => {
                    out.insert(key.clone(), Value::Bool(true));
                }
                "minItems" | "maxItems" | "minLength" | "maxLength" | "minProperties"
                | "maxProperties" | "minimum" | "maximum"
                    if val.is_number() =>
                {
                    out.insert(key.clone(), val.clone());
                }
                "enum" => {
                    if let Value::Array(values) = val {
                        push_enum(values, out);
                    }
                }
                "const" => push_enum(std::slice::from_ref(val), out),
                "items" => {
                    let item = match val {
                        Value::Array(tuple) => tuple.first().cloned().unwrap_or(Value::Bool(true)),
                        other => other.clone(),
                    };
                    out.insert(key.clone(), self.clean(&item, depth + 1, refs));
                }
                "properties" => {
                    if let Value::Object(props) = val {
                        let cleaned = props
                            .iter()
                            .map(|(k, v)| (k.clone(), self.clean(v, depth + 1, refs)))
                            .collect();
                        out.insert(key.clone(), Value::Object(cleaned));
                    }
                }
                "anyOf" | "oneOf" => {
                    if let Value::Array(options) = val {
                        self.push_any_of(options, out, depth, refs);
                    }
                }
                "allOf" => {
                    if let Value::Array(parts) = val {
                        for part in parts {
                            if let Value::Object(part) = self.clean(part, depth + 1, refs) {
                                merge_schema(out, part);
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        self.finish(map, out);
    }

    fn push_any_of(
        &self,
        options: &[Value],
        out: &mut Map<String, Value>,
        depth: usize,
        refs: usize,
    ) {
        let mut kept = Vec::new();
        for option in options {
            let cleaned = self.clean(option, depth + 1, refs);
            // `{"type": "null"}` cleans to `{"nullable": true}`.
            let is_null = cleaned
                .as_object()
                .is_some_and(|m| m.len() == 1 && m.contains_key("nullable"));
            if is_null {
                out.insert("nullable".into(), Value::Bool(true));
            } else {
                kept.push(cleaned);
            }
        }
        match kept.len() {
            0 => {}
            1 => {
                if let Some(Value::Object(only)) = kept.pop() {
                    merge_schema(out, only);
                }
            }
            _ => {
                out.insert("anyOf".into(), Value::Array(kept));
            }
        }
    }

    /// `required` and `propertyOrdering` limited to existing properties;
    /// `format` limited to the documented values.
    fn finish(&self, map: &Map<String, Value>, out: &mut Map<String, Value>) {
        let names: Vec<String> = out
            .get("properties")
            .and_then(Value::as_object)
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        for key in ["required", "propertyOrdering"] {
            let mut list: Vec<Value> = out
                .get(key)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if let Some(Value::Array(given)) = map.get(key) {
                list.extend(given.iter().cloned());
            }
            let mut seen = Vec::new();
            for item in list {
                if let Value::String(name) = item
                    && names.contains(&name)
                    && !seen.contains(&name)
                {
                    seen.push(name);
                }
            }
            if seen.is_empty() {
                out.remove(key);
            } else {
                out.insert(
                    key.into(),
                    Value::Array(seen.into_iter().map(Value::String).collect()),
                );
            }
        }
        // Gemini wants a type on every schema and `items` on every array.
        if !out.contains_key("type") && !out.contains_key("anyOf") {
            let inferred = if out.contains_key("properties") {
                Some("object")
            } else if out.contains_key("items") {
                Some("array")
            } else if out.contains_key("enum") {
                Some("string")
            } else {
                None
            };
            if let Some(ty) = inferred {
                out.insert("type".into(), Value::String(ty.into()));
            }
        }
        let is_array = out
            .get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.eq_ignore_ascii_case("array"));
        if is_array && !out.contains_key("items") {
            out.insert("items".into(), serde_json::json!({"type": "string"}));
        }
        if out
            .get("properties")
            .and_then(Value::as_object)
            .is_some_and(Map::is_empty)
        {
            out.remove("properties");
        }
        if let Some(Value::String(format)) = map.get("format") {
            let ty = out.get("type").and_then(Value::as_str).unwrap_or("");
            let ok = match ty.to_ascii_lowercase().as_str() {
                "string" => matches!(format.as_str(), "enum" | "date-time"),
                "number" => matches!(format.as_str(), "float" | "double"),
                "integer" => matches!(format.as_str(), "int32" | "int64"),
                _ => false,
            };
            if ok {
                out.insert("format".into(), Value::String(format.clone()));
            }
        }
    }
}

/// `type`: a string is kept; an array loses `"null"` (→ `nullable`) and
/// becomes `anyOf` when several types remain.
fn clean_type(t: &Value, out: &mut Map<String, Value>) {
    match t {
        Value::String(s) if s == "null" => {
            out.insert("nullable".into(), Value::Bool(true));
        }
        Value::String(s) => {
            out.insert("type".into(), Value::String(s.clone()));
        }
        Value::Array(types) => {
            let mut kept: Vec<&str> = Vec::new();
            for ty in types.iter().filter_map(Value::as_str) {
                if ty == "null" {
                    out.insert("nullable".into(), Value::Bool(true));
                } else {
                    kept.push(ty);
                }
            }
            match kept.as_slice() {
                [] => {}
                [one] => {
                    out.insert("type".into(), Value::String((*one).to_owned()));
                }
                many => {
                    let options = many
                        .iter()
                        .map(|ty| {
                            let mut m = Map::new();
                            m.insert("type".into(), Value::String((*ty).to_owned()));
                            Value::Object(m)
                        })
                        .collect();
                    out.insert("anyOf".into(), Value::Array(options));
                }
            }
        }
        _ => {}
    }
}

/// `enum` values as strings (Gemini's `enum` is `string[]`); `null` → `nullable`.
fn push_enum(values: &[Value], out: &mut Map<String, Value>) {
    let mut strings = Vec::new();
    for v in values {
        match v {
            Value::Null => {
                out.insert("nullable".into(), Value::Bool(true));
            }
            Value::String(s) => strings.push(Value::String(s.clone())),
            other => strings.push(Value::String(other.to_string())),
        }
    }
    if !strings.is_empty() {
        out.insert("enum".into(), Value::Array(strings));
    }
}

/// Merges a cleaned schema into `out`: properties and required are unioned,
/// other keys keep the first value.
fn merge_schema(out: &mut Map<String, Value>, part: Map<String, Value>) {
    for (key, val) in part {
        match (key.as_str(), out.get_mut(&key), val) {
            ("properties", Some(Value::Object(have)), Value::Object(add)) => {
                for (k, v) in add {
                    have.entry(k).or_insert(v);
                }
            }
            ("required" | "propertyOrdering", Some(Value::Array(have)), Value::Array(add)) => {
                for v in add {
                    if !have.contains(&v) {
                        have.push(v);
                    }
                }
            }
            (_, Some(_), _) => {}
            (_, None, val) => {
                out.insert(key, val);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_supported_keywords() {
        let s = json!({"type":"object","description":"d","properties":{"city":{"type":"string","minLength":1},
            "unit":{"type":"string","enum":["c","f"]},"n":{"type":"integer","minimum":0,"maximum":9,"format":"int32"}},
            "required":["city"]});
        assert_eq!(clean_schema(&s), s);
    }

    #[test]
    fn drops_unsupported_keywords() {
        let s = json!({"$schema":"http://json-schema.org/draft-07/schema#","$id":"x","type":"object",
            "additionalProperties":false,"strict":true,"examples":[1],"default":{},
            "properties":{"a":{"type":"array","items":{"type":"string","format":"uri"},"uniqueItems":true}}});
        assert_eq!(
            clean_schema(&s),
            json!({"type":"object","properties":{"a":{"type":"array","items":{"type":"string"}}}})
        );
    }

    #[test]
    fn nullable_type_arrays_and_const() {
        let s = json!({"type":["string","null"],"const":"x"});
        assert_eq!(
            clean_schema(&s),
            json!({"type":"string","nullable":true,"enum":["x"]})
        );
        let s = json!({"type":["string","integer"]});
        assert_eq!(
            clean_schema(&s),
            json!({"anyOf":[{"type":"string"},{"type":"integer"}]})
        );
        let s = json!({"anyOf":[{"type":"integer"},{"type":"null"}],"description":"n"});
        assert_eq!(
            clean_schema(&s),
            json!({"type":"integer","nullable":true,"description":"n"})
        );
        let s = json!({"type":"integer","enum":[1,2,null]});
        assert_eq!(
            clean_schema(&s),
            json!({"type":"integer","enum":["1","2"],"nullable":true})
        );
    }

    #[test]
    fn inlines_refs_with_a_depth_limit() {
        let s = json!({"type":"object","$defs":{"City":{"type":"string","description":"c"}},
            "properties":{"a":{"$ref":"#/$defs/City"},"b":{"$ref":"#/definitions/Missing","description":"m"}}});
        assert_eq!(
            clean_schema(&s),
            json!({"type":"object","properties":{"a":{"type":"string","description":"c"},"b":{"description":"m"}}})
        );
        let s = json!({"$ref":"#/$defs/Node","$defs":{"Node":{"type":"object",
            "properties":{"next":{"$ref":"#/$defs/Node"}}}}});
        let out = clean_schema(&s);
        let mut depth = 0;
        let mut cur = &out;
        while let Some(next) = cur.get("properties").and_then(|p| p.get("next")) {
            depth += 1;
            cur = next;
        }
        assert_eq!(depth, MAX_REF_DEPTH);
    }

    #[test]
    fn required_limited_to_present_properties() {
        let s = json!({"type":"object","properties":{"a":{"type":"string"}},"required":["a","b"]});
        assert_eq!(clean_schema(&s)["required"], json!(["a"]));
        let s = json!({"type":"object","required":["b"]});
        assert_eq!(clean_schema(&s), json!({"type":"object"}));
    }

    #[test]
    fn types_inferred_and_array_items_required() {
        let s = json!({"properties":{"a":{"type":"array"},"b":{"enum":["x"]},"c":{"items":{"type":"integer"}},
            "d":{"type":"object","properties":{}}}});
        assert_eq!(
            clean_schema(&s),
            json!({"type":"object","properties":{"a":{"type":"array","items":{"type":"string"}},
                "b":{"type":"string","enum":["x"]},"c":{"type":"array","items":{"type":"integer"}},
                "d":{"type":"object"}}})
        );
    }

    #[test]
    fn all_of_is_merged() {
        let s = json!({"allOf":[{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]},
            {"properties":{"b":{"type":"number"}},"required":["b"]}]});
        assert_eq!(
            clean_schema(&s),
            json!({"type":"object","properties":{"a":{"type":"string"},"b":{"type":"number"}},"required":["a","b"]})
        );
    }

    #[test]
    fn parameters_without_properties_are_left_out() {
        assert_eq!(clean_parameters(&json!({"type":"object"})), None);
        assert_eq!(
            clean_parameters(&json!({"type":"object","properties":{}})),
            None
        );
        assert_eq!(
            clean_parameters(&json!({"properties":{"a":{"type":"string"}}})),
            Some(json!({"type":"object","properties":{"a":{"type":"string"}}}))
        );
    }
}
