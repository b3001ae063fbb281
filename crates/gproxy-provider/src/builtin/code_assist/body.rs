//! The Code Assist request body: the Gemini body cleaned up the way the
//! CLIs clean it, and the countTokens envelope.

use serde_json::{Map, Value, json};

/// `{request: {model: "models/<id>", contents}}`: countTokens takes no
/// project and no top-level model. `contents` come from the body's root
/// or its `generateContentRequest`.
pub(super) fn count_tokens_envelope(model: &str, mut body: Map<String, Value>) -> Value {
    let mut contents = body.remove("contents").or_else(|| {
        ["generateContentRequest", "generate_content_request"]
            .iter()
            .find_map(|key| body.get_mut(*key)?.as_object_mut()?.remove("contents"))
    });
    if let Some(Value::Array(items)) = &mut contents {
        force_roles(items);
    }
    json!({
        "request": {
            "model": format!("models/{model}"),
            "contents": contents.unwrap_or_else(|| json!([])),
        }
    })
}

/// 32 random hex digits.
pub(super) fn user_prompt_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// Removes `camel` or its snake_case spelling from `obj`.
pub(crate) fn remove_either(obj: &mut Map<String, Value>, names: &[&str]) {
    for name in names {
        obj.remove(*name);
    }
}

/// The `generationConfig` object (either spelling), if any.
pub(crate) fn generation_config(
    request: &mut Map<String, Value>,
) -> Option<&mut Map<String, Value>> {
    let key = if request.contains_key("generationConfig") {
        "generationConfig"
    } else {
        "generation_config"
    };
    request.get_mut(key).and_then(Value::as_object_mut)
}

/// Removes `names` from `generationConfig`.
pub(crate) fn strip_generation(request: &mut Map<String, Value>, names: &[&str]) {
    if let Some(config) = generation_config(request) {
        remove_either(config, names);
    }
}

/// The clean-up both kinds apply (GP4 `sanitize`/`force_roles`): no root
/// `store`, no logprobs, built-in tools dropped when functions are
/// declared, role `user` for role-less contents.
pub(super) fn sanitize(request: &mut Map<String, Value>) {
    request.remove("store");
    strip_generation(
        request,
        &["logprobs", "responseLogprobs", "response_logprobs"],
    );
    if let Some(Value::Array(tools)) = request.get_mut("tools") {
        let declares = |t: &Value| {
            ["functionDeclarations", "function_declarations"]
                .iter()
                .any(|k| {
                    t.get(*k)
                        .is_some_and(|f| f.as_array().is_some_and(|a| !a.is_empty()))
                })
        };
        if tools.iter().any(declares) {
            for tool in tools.iter_mut() {
                if let Value::Object(t) = tool {
                    t.retain(|k, _| k == "functionDeclarations" || k == "function_declarations");
                }
            }
            tools.retain(|t| t.as_object().is_some_and(|o| !o.is_empty()));
        }
    }
    if let Some(Value::Array(contents)) = request.get_mut("contents") {
        force_roles(contents);
    }
}

/// Gives every content without a role the role `user`.
fn force_roles(contents: &mut [Value]) {
    for content in contents {
        if let Value::Object(c) = content
            && c.get("role")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
        {
            c.insert("role".into(), Value::from("user"));
        }
    }
}
