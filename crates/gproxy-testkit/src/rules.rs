//! What the real vendors refuse, so a test cannot pass on a request the
//! vendor would reject: unknown message roles, unknown tool types, and the
//! parameters OpenAI's models refuse (`max_tokens` on reasoning models,
//! reasoning effort on models without reasoning).
//!
//! Each check returns the vendor's error as `(message, param, code)`
//! (OpenAI), or the message (Anthropic, Gemini); the route renders it in
//! its protocol's shape. The OpenAI model rules apply only to OpenAI's own
//! model names: any other name (`test-model`) is accepted as before.

use serde_json::Value;

/// An OpenAI refusal: message, `param`, `code`.
pub(crate) type OpenAiRefusal = (String, String, &'static str);

/// OpenAI's reasoning models (`o1`, `o3`, `o4-mini`, `gpt-5` but not
/// `gpt-5-chat`).
fn openai_reasoning(model: &str) -> bool {
    let m = model.rsplit('/').next().unwrap_or(model);
    ["o1", "o3", "o4"]
        .iter()
        .any(|p| m == *p || m.starts_with(&format!("{p}-")))
        || (m.starts_with("gpt-5") && !m.starts_with("gpt-5-chat"))
}

/// OpenAI's models without reasoning (`gpt-4o`, `gpt-4.1`, `gpt-3.5`,
/// `gpt-5-chat`).
fn openai_plain(model: &str) -> bool {
    let m = model.rsplit('/').next().unwrap_or(model);
    m.starts_with("gpt-4") || m.starts_with("gpt-3.5") || m.starts_with("gpt-5-chat")
}

fn unsupported(param: &str, hint: &str) -> OpenAiRefusal {
    (
        format!("Unsupported parameter: '{param}' is not supported with this model.{hint}"),
        param.to_owned(),
        "unsupported_parameter",
    )
}

fn invalid_value(value: &str, supported: &str, param: String) -> OpenAiRefusal {
    (
        format!("Invalid value: '{value}'. Supported values are: {supported}."),
        param,
        "invalid_value",
    )
}

fn items<'a>(body: &'a Value, key: &str) -> impl Iterator<Item = (usize, &'a Value)> {
    body.get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
}

/// The first item of array `key` whose string field `field` (absent:
/// `""` when `required`, else skipped) is not in `allowed`: the refusal
/// naming `key[i].field` and listing `supported`.
fn first_unknown(
    body: &Value,
    (key, field, required): (&str, &str, bool),
    allowed: &[&str],
    supported: &str,
) -> Option<OpenAiRefusal> {
    items(body, key).find_map(|(i, item)| {
        let value = match item.get(field).and_then(Value::as_str) {
            Some(v) => v,
            None if required => "",
            None => return None,
        };
        (!allowed.contains(&value))
            .then(|| invalid_value(value, supported, format!("{key}[{i}].{field}")))
    })
}

/// The longest `user` OpenAI accepts.
const MAX_USER: usize = 64;

/// OpenAI's refusal of a `user` over [`MAX_USER`] characters.
fn user_too_long(body: &Value) -> Option<OpenAiRefusal> {
    let n = body.get("user")?.as_str()?.chars().count();
    (n > MAX_USER).then(|| {
        (
            format!(
                "Invalid 'user': string too long. Expected a string with maximum length \
                 {MAX_USER}, but got a string with length {n} instead."
            ),
            "user".to_owned(),
            "string_above_max_length",
        )
    })
}

/// OpenAI Chat Completions.
pub(crate) fn chat(body: &Value, model: &str) -> Option<OpenAiRefusal> {
    if let Some(refusal) = user_too_long(body) {
        return Some(refusal);
    }
    const ROLES: [&str; 6] = [
        "system",
        "developer",
        "user",
        "assistant",
        "tool",
        "function",
    ];
    let roles = ("messages", "role", true);
    let supported = "'system', 'assistant', 'user', 'function', 'tool', and 'developer'";
    if let Some(refusal) = first_unknown(body, roles, &ROLES, supported) {
        return Some(refusal);
    }
    let tools = ("tools", "type", true);
    let supported = "'function' and 'custom'";
    if let Some(refusal) = first_unknown(body, tools, &["function", "custom"], supported) {
        return Some(refusal);
    }
    if openai_reasoning(model) && body.get("max_tokens").is_some_and(|v| !v.is_null()) {
        return Some(unsupported(
            "max_tokens",
            " Use 'max_completion_tokens' instead.",
        ));
    }
    if openai_plain(model) && body.get("reasoning_effort").is_some_and(|v| !v.is_null()) {
        return Some(unsupported("reasoning_effort", ""));
    }
    None
}

/// OpenAI Responses.
pub(crate) fn responses(body: &Value, model: &str) -> Option<OpenAiRefusal> {
    if let Some(refusal) = user_too_long(body) {
        return Some(refusal);
    }
    const ROLES: [&str; 4] = ["user", "assistant", "system", "developer"];
    const TOOLS: [&str; 12] = [
        "function",
        "custom",
        "namespace",
        "file_search",
        "web_search",
        "web_search_preview",
        "computer_use_preview",
        "code_interpreter",
        "image_generation",
        "local_shell",
        "mcp",
        "shell",
    ];
    let roles = ("input", "role", false);
    let supported = "'assistant', 'system', 'developer', and 'user'";
    if let Some(refusal) = first_unknown(body, roles, &ROLES, supported) {
        return Some(refusal);
    }
    let supported = "'function', 'custom', 'namespace', 'file_search', 'web_search', \
                     'computer_use_preview', 'code_interpreter', 'image_generation', \
                     'local_shell', 'mcp', and 'shell'";
    if let Some(refusal) = first_unknown(body, ("tools", "type", true), &TOOLS, supported) {
        return Some(refusal);
    }
    if openai_plain(model)
        && body
            .pointer("/reasoning/effort")
            .is_some_and(|v| !v.is_null())
    {
        return Some(unsupported("reasoning.effort", ""));
    }
    None
}

/// Anthropic Messages: only `user` and `assistant` turns; tools are
/// custom (no `type`, or `custom`) or one of Anthropic's typed tools.
pub(crate) fn claude(body: &Value) -> Option<String> {
    for (i, m) in items(body, "messages") {
        let role = m.get("role").and_then(Value::as_str).unwrap_or_default();
        if role != "user" && role != "assistant" {
            return Some(format!(
                "messages.{i}.role: Input should be 'user' or 'assistant'"
            ));
        }
    }
    const TYPED: [&str; 7] = [
        "bash_",
        "text_editor_",
        "computer_",
        "web_search_",
        "web_fetch_",
        "code_execution_",
        "memory_",
    ];
    for (i, t) in items(body, "tools") {
        if let Some(kind) = t.get("type").and_then(Value::as_str)
            && kind != "custom"
            && !TYPED.iter().any(|p| kind.starts_with(p))
        {
            return Some(format!(
                "tools.{i}: Input tag '{kind}' found using 'type' does not match any of the expected tags"
            ));
        }
    }
    None
}

/// Gemini `generateContent`: turns are `user` or `model` (or unset).
pub(crate) fn gemini(body: &Value) -> Option<String> {
    for (_, c) in items(body, "contents") {
        match c.get("role").and_then(Value::as_str) {
            None | Some("user" | "model") => {}
            Some(_) => return Some("Please use a valid role: user, model.".into()),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn openai_refuses_what_the_model_does_not_take() {
        let b = json!({"messages": [{"role": "user", "content": "x"}], "max_tokens": 5});
        assert_eq!(chat(&b, "gpt-5").unwrap().1, "max_tokens");
        assert!(chat(&b, "gpt-4o").is_none());
        assert!(chat(&b, "test-model").is_none());
        let b = json!({"messages": [], "reasoning_effort": "low"});
        assert_eq!(chat(&b, "gpt-4.1").unwrap().1, "reasoning_effort");
        assert!(chat(&b, "o3").is_none());
        let b = json!({"messages": [{"role": "critic", "content": "x"}]});
        assert_eq!(chat(&b, "m").unwrap().1, "messages[0].role");
        let b = json!({"input": [], "tools": [{"type": "nope"}]});
        assert_eq!(responses(&b, "m").unwrap().1, "tools[0].type");
        let b = json!({"input": "x", "user": "u".repeat(65)});
        assert_eq!(responses(&b, "m").unwrap().2, "string_above_max_length");
        let b = json!({"input": "x", "reasoning": {"effort": "high"}});
        assert_eq!(responses(&b, "gpt-4o").unwrap().1, "reasoning.effort");
    }

    #[test]
    fn claude_and_gemini_refuse_unknown_roles() {
        let b = json!({"messages": [{"role": "user", "content": "x"}, {"role": "system", "content": "y"}]});
        assert!(claude(&b).unwrap().starts_with("messages.1.role"));
        let b = json!({"messages": [], "tools": [{"type": "namespace", "name": "n"}]});
        assert!(claude(&b).unwrap().contains("namespace"));
        let b = json!({"contents": [{"role": "system", "parts": []}]});
        assert!(gemini(&b).is_some());
        assert!(gemini(&json!({"contents": [{"parts": []}]})).is_none());
    }
}
