//! What a target model accepts: reasoning or not, which token-limit field,
//! which sampling parameters, tools, context and output limits.
//!
//! The table is data (`capabilities.json`, embedded) for the built-in
//! providers' current models; a deployment adds or overrides entries
//! ([`CapabilityTable::with_overrides`]). Converted requests are adapted
//! to it ([`adapt`]) so the upstream is never sent what it refuses; what
//! was dropped or changed is returned for the `x-gproxy-dropped` header.
//! Same-protocol traffic is never adapted (its bytes pass through).

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::convert::Request;

/// Which field a Chat Completions upstream takes the output limit in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenField {
    /// `max_tokens` (Chat-compatible servers, older OpenAI models).
    #[default]
    MaxTokens,
    /// `max_completion_tokens` (OpenAI; required by its reasoning models).
    MaxCompletionTokens,
}

/// One entry of the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelCapabilities {
    /// The models this entry covers: a prefix ending in `*`, or an exact name.
    #[serde(rename = "match")]
    pub pattern: String,
    /// The model reasons (accepts reasoning effort / a thinking budget).
    pub reasoning: bool,
    /// Where the output limit goes for a Chat Completions upstream.
    #[serde(default)]
    pub token_field: TokenField,
    /// Sampling parameters the model accepts: `temperature`, `top_p`,
    /// `top_k`, `presence_penalty`, `frequency_penalty`, `seed`, `stop`.
    pub sampling: Vec<String>,
    /// The model accepts function tools.
    #[serde(default = "yes")]
    pub tools: bool,
    /// Context window in tokens.
    #[serde(default)]
    pub context: Option<u64>,
    /// Largest output in tokens (a larger `max_tokens` is lowered to it).
    #[serde(default)]
    pub output: Option<u64>,
}

/// The sampling parameters an entry can list.
pub const SAMPLING: [&str; 7] = [
    "temperature",
    "top_p",
    "top_k",
    "presence_penalty",
    "frequency_penalty",
    "seed",
    "stop",
];

fn yes() -> bool {
    true
}

impl ModelCapabilities {
    /// Whether this entry covers `model` (a `provider/` prefix is ignored).
    pub fn matches(&self, model: &str) -> bool {
        let model = model.rsplit('/').next().unwrap_or(model);
        match self.pattern.strip_suffix('*') {
            Some(prefix) => model.starts_with(prefix),
            None => model == self.pattern,
        }
    }

    /// Checks the entry: a non-empty `match`, known sampling names.
    /// Returns the bad field (relative to the entry) and what is wrong.
    pub fn validate(&self) -> Result<(), (String, String)> {
        if self.pattern.trim_end_matches('*').is_empty() && self.pattern != "*" {
            return Err(("match".into(), "must name a model or a prefix".into()));
        }
        for (i, s) in self.sampling.iter().enumerate() {
            if !SAMPLING.contains(&s.as_str()) {
                return Err((
                    format!("sampling[{i}]"),
                    format!("unknown parameter `{s}` (known: {})", SAMPLING.join(", ")),
                ));
            }
        }
        Ok(())
    }

    fn accepts(&self, param: &str) -> bool {
        self.sampling.iter().any(|s| s == param)
    }
}

/// An ordered list of entries: the first that matches wins.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct CapabilityTable {
    models: Vec<ModelCapabilities>,
}

/// The embedded table.
const BUILTIN: &str = include_str!("capabilities.json");

impl CapabilityTable {
    /// The built-in table (empty if the embedded file were unreadable,
    /// which a unit test rules out).
    pub fn builtin() -> &'static CapabilityTable {
        static TABLE: OnceLock<CapabilityTable> = OnceLock::new();
        TABLE.get_or_init(|| serde_json::from_str(BUILTIN).unwrap_or_default())
    }

    /// `overrides` ahead of this table's entries (so they win).
    pub fn with_overrides(&self, overrides: &[ModelCapabilities]) -> CapabilityTable {
        let mut models = overrides.to_vec();
        models.extend(self.models.iter().cloned());
        CapabilityTable { models }
    }

    /// The entry for `model`, if any.
    pub fn lookup(&self, model: &str) -> Option<&ModelCapabilities> {
        self.models.iter().find(|m| m.matches(model))
    }
}

/// Adapts a converted request to what its target model accepts: reasoning
/// settings off for a model without reasoning, sampling parameters it
/// refuses removed, tools removed for a model without tools, `max_tokens`
/// lowered to its output limit. Returns what changed (`reasoning`,
/// `temperature`, … and `max_tokens` when lowered).
pub fn adapt(req: &mut Request, caps: &ModelCapabilities) -> Vec<String> {
    let mut dropped = Vec::new();
    let mut note = |what: &str| dropped.push(what.to_owned());
    if !caps.reasoning && req.reasoning.take().is_some() {
        note("reasoning");
    }
    macro_rules! sampling {
        ($($field:ident),*) => {$(
            if req.$field.is_some() && !caps.accepts(stringify!($field)) {
                req.$field = None;
                note(stringify!($field));
            }
        )*};
    }
    sampling!(
        temperature,
        top_p,
        top_k,
        presence_penalty,
        frequency_penalty,
        seed
    );
    if !req.stop.is_empty() && !caps.accepts("stop") {
        req.stop.clear();
        note("stop");
    }
    if !caps.tools && !req.tools.is_empty() {
        req.tools.clear();
        req.tool_choice = None;
        note("tools");
    }
    if let (Some(max), Some(limit)) = (req.max_tokens, caps.output)
        && max > limit
    {
        req.max_tokens = Some(limit);
        note("max_tokens");
    }
    dropped
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::ReasoningConfig;

    #[test]
    fn builtin_table_parses_and_matches() {
        let t = CapabilityTable::builtin();
        assert!(t.models.len() > 10);
        let gpt5 = t.lookup("gpt-5-mini").unwrap();
        assert!(gpt5.reasoning);
        assert_eq!(gpt5.token_field, TokenField::MaxCompletionTokens);
        assert!(!t.lookup("gpt-5-chat-latest").unwrap().reasoning);
        assert!(!t.lookup("openai/gpt-4o").unwrap().reasoning);
        assert!(t.lookup("test-model").is_none());
        assert!(
            t.lookup("deepseek-reasoner-x").is_none(),
            "exact names match exactly"
        );
        for m in &t.models {
            assert_eq!(m.validate(), Ok(()), "{}", m.pattern);
        }
    }

    #[test]
    fn overrides_win() {
        let over = ModelCapabilities {
            pattern: "gpt-4o-special".into(),
            reasoning: true,
            token_field: TokenField::MaxTokens,
            sampling: vec![],
            tools: false,
            context: None,
            output: Some(10),
        };
        let mut bad = over.clone();
        bad.sampling = vec!["temp".into()];
        assert_eq!(bad.validate().unwrap_err().0, "sampling[0]");
        let t = CapabilityTable::builtin().with_overrides(&[over]);
        assert!(t.lookup("gpt-4o-special").unwrap().reasoning);
        assert!(!t.lookup("gpt-4o").unwrap().reasoning);
    }

    #[test]
    fn adapt_drops_what_the_model_refuses() {
        let t = CapabilityTable::builtin();
        let mut req = Request {
            temperature: Some(0.2),
            top_k: Some(3),
            seed: Some(1),
            max_tokens: Some(1_000_000),
            reasoning: Some(ReasoningConfig::default()),
            ..Request::default()
        };
        let dropped = adapt(&mut req, t.lookup("gpt-5").unwrap());
        assert_eq!(dropped, ["temperature", "top_k", "max_tokens"]);
        assert_eq!(req.seed, Some(1));
        assert_eq!(req.max_tokens, Some(128000));
        assert!(req.reasoning.is_some());
        let dropped = adapt(&mut req, t.lookup("gpt-4o").unwrap());
        assert_eq!(dropped, ["reasoning", "max_tokens"]);
        assert!(req.reasoning.is_none());
    }
}
