//! Provider kinds by name, and building a configured provider of a kind.

use std::collections::HashMap;
use std::sync::Arc;

use crate::builtin::{
    ANTIGRAVITY_KIND, CLAUDECODE_KIND, CODEX_KIND, CUSTOM_KIND, ClaudeCode, CodeAssist,
    CodeAssistFlavor, Codex, CustomProvider, GEMINICLI_KIND, Overridden, Overrides, VERTEX_KIND,
    Vertex,
};
use crate::{Provider, ProviderError, builtin};

/// Maps a provider kind name to its implementation.
///
/// Built-in kinds are one shared, stateless instance each. A custom
/// provider (`custom`) is configuration, so each one is its own instance,
/// built from its stored settings by [`ProviderRegistry::build`].
#[derive(Debug, Clone)]
pub struct ProviderRegistry {
    kinds: HashMap<&'static str, Arc<dyn Provider>>,
}

impl ProviderRegistry {
    /// A registry holding every built-in provider.
    pub fn builtin() -> Self {
        let kinds = builtin::all().into_iter().map(|p| (p.kind(), p)).collect();
        ProviderRegistry { kinds }
    }

    /// The built-in provider of this kind, if there is one.
    pub fn get(&self, kind: &str) -> Option<Arc<dyn Provider>> {
        self.kinds.get(kind).cloned()
    }

    /// The provider for a configured provider of `kind` with its stored
    /// `settings`. Most built-ins ignore the settings; `custom`, `vertex`,
    /// `geminicli` and `antigravity` are built from them and refuse
    /// settings they cannot use.
    pub fn build(
        &self,
        kind: &str,
        settings: &serde_json::Value,
    ) -> Result<Arc<dyn Provider>, ProviderError> {
        if kind == CUSTOM_KIND {
            return Ok(Arc::new(CustomProvider::from_settings(settings)?));
        }
        // A built-in's overrides (headers, models, mask) sit beside its own
        // settings; without any, the shared instance serves as it is.
        let (overrides, own) =
            Overrides::split(settings).map_err(|message| ProviderError::InvalidSettings {
                kind: "provider",
                field: "settings".into(),
                message,
            })?;
        let base: Arc<dyn Provider> = match kind {
            VERTEX_KIND => Arc::new(Vertex::from_settings(&own)?),
            CLAUDECODE_KIND => Arc::new(ClaudeCode::from_settings(&own)?),
            CODEX_KIND => Arc::new(Codex::from_settings(&own)?),
            GEMINICLI_KIND => Arc::new(CodeAssist::from_settings(
                CodeAssistFlavor::GeminiCli,
                &own,
            )?),
            ANTIGRAVITY_KIND => Arc::new(CodeAssist::from_settings(
                CodeAssistFlavor::Antigravity,
                &own,
            )?),
            _ => self.get(kind).ok_or_else(|| ProviderError::UnknownKind {
                kind: kind.to_owned(),
            })?,
        };
        if overrides.is_empty() {
            return Ok(base);
        }
        Ok(Arc::new(Overridden::wrap(base, &overrides)?))
    }

    /// Whether `kind` names a built-in kind or `custom`.
    pub fn is_kind(&self, kind: &str) -> bool {
        kind == CUSTOM_KIND || self.kinds.contains_key(kind)
    }

    /// Every built-in kind name, sorted: the kinds seeded at start-up.
    /// `custom` is not among them (see [`ProviderRegistry::all_kinds`]).
    pub fn kinds(&self) -> Vec<&'static str> {
        let mut kinds: Vec<_> = self.kinds.keys().copied().collect();
        kinds.sort_unstable();
        kinds
    }

    /// Every kind a provider may be configured with: the built-ins, then
    /// `custom`.
    pub fn all_kinds(&self) -> Vec<&'static str> {
        let mut kinds = self.kinds();
        kinds.push(CUSTOM_KIND);
        kinds
    }
}

impl Default for ProviderRegistry {
    fn default() -> Self {
        Self::builtin()
    }
}
