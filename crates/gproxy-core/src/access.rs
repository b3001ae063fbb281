//! What a user key may reach: its provider and model allow-lists, checked
//! once per request after the model is resolved (nothing at all for a key
//! without lists).

/// A key's allow-lists. `None` means "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyAccess {
    /// Provider names the key may use.
    pub providers: Option<Vec<String>>,
    /// Model patterns the key may use: a bare model (`gpt-4o`), a
    /// `provider/model` name, or either with `*` wildcards (`openai/*`,
    /// `claude-*`). A model route is matched by its own name.
    pub models: Option<Vec<String>>,
}

impl KeyAccess {
    /// The access of a key with these lists; `None` when both allow all.
    pub fn from_lists(providers: Option<Vec<String>>, models: Option<Vec<String>>) -> Option<Self> {
        (providers.is_some() || models.is_some()).then_some(KeyAccess { providers, models })
    }

    /// Whether the key may call `provider`.
    pub fn allows_provider(&self, provider: &str) -> bool {
        self.providers
            .as_ref()
            .is_none_or(|list| list.iter().any(|p| p == provider))
    }

    /// Whether the key may call `model` on `provider`; `asked` is the name
    /// the client used (a model route's name, or `provider/model`).
    pub fn allows_model(&self, provider: &str, model: &str, asked: &str) -> bool {
        let Some(list) = &self.models else {
            return true;
        };
        let qualified = format!("{provider}/{model}");
        list.iter().any(|pattern| {
            glob_match(pattern, model)
                || glob_match(pattern, &qualified)
                || glob_match(pattern, asked)
        })
    }
}

/// `*` matches any run of characters (including none and `/`); every other
/// character matches itself.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let Some((first, rest)) = pattern.split_once('*') else {
        return pattern == text;
    };
    let Some(mut remaining) = text.strip_prefix(first) else {
        return false;
    };
    let mut parts: Vec<&str> = rest.split('*').collect();
    let last = parts.pop().unwrap_or_default();
    for part in parts {
        match remaining.find(part) {
            Some(at) => remaining = &remaining[at + part.len()..],
            None => return false,
        }
    }
    remaining.len() >= last.len() && remaining.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("gpt-4o", "gpt-4o"));
        assert!(!glob_match("gpt-4o", "gpt-4o-mini"));
        assert!(glob_match("gpt-4o*", "gpt-4o-mini"));
        assert!(glob_match("openai/*", "openai/gpt-4o"));
        assert!(!glob_match("openai/*", "claude/x"));
        assert!(glob_match("*mini", "gpt-4o-mini"));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(!glob_match("a*b*c", "axxbyy"));
        assert!(!glob_match("ab*ba", "aba"));
        assert!(glob_match("*", ""));
    }

    #[test]
    fn lists() {
        let access = KeyAccess::from_lists(
            Some(vec!["openai".into()]),
            Some(vec!["gpt-4o*".into(), "smart".into()]),
        )
        .unwrap();
        assert!(access.allows_provider("openai"));
        assert!(!access.allows_provider("claude"));
        assert!(access.allows_model("openai", "gpt-4o-mini", "openai/gpt-4o-mini"));
        assert!(!access.allows_model("openai", "o3", "openai/o3"));
        assert!(access.allows_model("openai", "o3", "smart"));
        assert!(KeyAccess::from_lists(None, None).is_none());
    }
}
