//! The built-in providers, each data plus the overrides it needs, and the
//! configurable `custom` provider.

mod aistudio;
mod claude;
pub mod claudecode;
pub mod codex;
pub mod custom;
mod openai;
pub mod overrides;
pub mod vertex;

pub use aistudio::AiStudio;
pub use claude::Claude;
pub use claudecode::{CLAUDECODE_KIND, ClaudeCode, ClaudeCodeSettings};
pub use codex::{CODEX_KIND, Codex, CodexSettings};
pub use custom::{CUSTOM_KIND, CustomProvider, CustomSettings};
pub use openai::OpenAiCompatible;
pub use overrides::{OVERRIDE_KEYS, Overridden, Overrides};
pub use vertex::{VERTEX_KIND, Vertex, VertexExpress, VertexSettings};

use std::sync::Arc;

use crate::Provider;

/// Every built-in provider, by kind name (`custom` is built per instance).
pub fn all() -> Vec<Arc<dyn Provider>> {
    let mut all: Vec<Arc<dyn Provider>> = vec![
        Arc::new(Claude),
        Arc::new(AiStudio),
        Arc::new(Vertex::default()),
        Arc::new(VertexExpress),
        Arc::new(ClaudeCode::default()),
        Arc::new(Codex::default()),
    ];
    all.extend(
        OpenAiCompatible::ALL
            .into_iter()
            .map(|p| Arc::new(p) as Arc<dyn Provider>),
    );
    all
}

#[cfg(test)]
mod conformance;
