//! `[[routes]]` in the config file: model routes (aliases) and their
//! targets, written as `provider/model` strings or `{ target, weight }`
//! tables.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::validate_name;

/// `[[routes]]`: a model name clients may ask for on aggregate routes,
/// resolved to one of its targets.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// The model name clients send (unique, no `/`).
    pub model: String,
    /// Where it goes: `provider/model` strings (tried in order) or
    /// `{ target, weight }` tables (picked by weight).
    pub targets: Vec<TargetConfig>,
}

/// One target of a model route.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum TargetConfig {
    /// `"provider/model"`.
    Plain(String),
    /// `{ target = "provider/model", weight = N }`.
    Weighted(WeightedTarget),
}

/// `{ target, weight }`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WeightedTarget {
    /// `provider/model`.
    pub target: String,
    /// Relative weight, at least 1. Default 1.
    #[serde(default = "default_weight")]
    pub weight: u32,
}

fn default_weight() -> u32 {
    1
}

impl TargetConfig {
    /// The `provider/model` string.
    pub fn target(&self) -> &str {
        match self {
            TargetConfig::Plain(t) => t,
            TargetConfig::Weighted(w) => &w.target,
        }
    }

    /// The weight (1 for a plain string).
    pub fn weight(&self) -> u32 {
        match self {
            TargetConfig::Plain(_) => 1,
            TargetConfig::Weighted(w) => w.weight,
        }
    }

    /// `(provider, model)` of the target, when it has that shape.
    pub fn split(&self) -> Option<(&str, &str)> {
        self.target()
            .split_once('/')
            .filter(|(p, m)| !p.is_empty() && !m.is_empty())
    }
}

impl<'de> Deserialize<'de> for TargetConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = TargetConfig;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a `provider/model` string or a table `{ target, weight }`")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<TargetConfig, E> {
                Ok(TargetConfig::Plain(v.to_owned()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<TargetConfig, A::Error> {
                WeightedTarget::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(TargetConfig::Weighted)
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// Whether any target of the route carries an explicit weight (then the
/// route is weighted; otherwise its targets are tried in order).
pub fn is_weighted(targets: &[TargetConfig]) -> bool {
    targets
        .iter()
        .any(|t| matches!(t, TargetConfig::Weighted(_)))
}

/// Checks every route: unique names without `/`, at least one target,
/// `provider/model` targets, weights of at least 1.
pub(super) fn validate(routes: &[RouteConfig]) -> Result<(), (String, String)> {
    let mut names = HashSet::new();
    for (i, r) in routes.iter().enumerate() {
        let at = |f: &str| format!("routes[{i}].{f}");
        validate_route_name(&r.model).map_err(|m| (at("model"), m))?;
        if !names.insert(r.model.as_str()) {
            return Err((at("model"), format!("duplicate route model `{}`", r.model)));
        }
        if r.targets.is_empty() {
            return Err((at("targets"), "must list at least one target".into()));
        }
        for (j, t) in r.targets.iter().enumerate() {
            let field = match t {
                TargetConfig::Plain(_) => format!("routes[{i}].targets[{j}]"),
                TargetConfig::Weighted(_) => format!("routes[{i}].targets[{j}].target"),
            };
            let Some((provider, _)) = t.split() else {
                return Err((field, format!("`{}` must be `provider/model`", t.target())));
            };
            validate_name(provider).map_err(|m| (field, format!("provider {m}")))?;
            if t.weight() == 0 {
                return Err((
                    format!("routes[{i}].targets[{j}].weight"),
                    "must be at least 1".into(),
                ));
            }
        }
    }
    Ok(())
}

/// A route model name: 1 to 128 visible ASCII characters, no `/` (which
/// marks `provider/model` on aggregate routes).
fn validate_route_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 128 {
        return Err("must be 1 to 128 characters".into());
    }
    if !name.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "`{name}` may contain only visible ASCII characters"
        ));
    }
    if name.contains('/') {
        return Err(format!(
            "`{name}` must not contain `/` (that marks `provider/model`)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_parse_in_both_target_forms() {
        let c = super::super::tests::parse(
            r#"
[[routes]]
model = "smart"
targets = ["claude/claude-sonnet-4-5", "openai/gpt-4o-mini"]

[[routes]]
model = "balanced"
targets = [{ target = "openai/gpt-4o-mini", weight = 3 }, { target = "openrouter/meta-llama/llama-3" }]
"#,
        )
        .unwrap();
        assert_eq!(c.routes.len(), 2);
        assert!(!is_weighted(&c.routes[0].targets));
        assert_eq!(
            c.routes[0].targets[0].split(),
            Some(("claude", "claude-sonnet-4-5"))
        );
        assert!(is_weighted(&c.routes[1].targets));
        assert_eq!(c.routes[1].targets[0].weight(), 3);
        assert_eq!(c.routes[1].targets[1].weight(), 1);
        assert_eq!(
            c.routes[1].targets[1].split(),
            Some(("openrouter", "meta-llama/llama-3"))
        );
    }
}
