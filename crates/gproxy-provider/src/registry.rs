//! Provider kinds by name.

use std::collections::HashMap;
use std::sync::Arc;

use crate::{Provider, builtin};

/// Maps a provider kind name to its implementation.
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

    /// The provider of this kind, if known.
    pub fn get(&self, kind: &str) -> Option<Arc<dyn Provider>> {
        self.kinds.get(kind).cloned()
    }

    /// Every known kind name, sorted.
    pub fn kinds(&self) -> Vec<&'static str> {
        let mut kinds: Vec<_> = self.kinds.keys().copied().collect();
        kinds.sort_unstable();
        kinds
    }
}

impl Default for ProviderRegistry {
    fn default() -> Self {
        Self::builtin()
    }
}
