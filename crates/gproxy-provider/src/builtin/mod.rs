//! The built-in providers, each data plus the overrides it needs, and the
//! configurable `custom` provider. `geminicli` and `antigravity` (Google
//! Code Assist over an OAuth login) share [`code_assist`].

mod aistudio;
pub mod antigravity;
mod claude;
pub mod claudecode;
pub mod code_assist;
pub mod codex;
pub mod custom;
pub mod geminicli;
mod openai;
pub mod overrides;
pub mod vertex;

pub use aistudio::AiStudio;
pub use antigravity::ANTIGRAVITY_KIND;
pub use claude::Claude;
pub use claudecode::{CLAUDECODE_KIND, ClaudeCode, ClaudeCodeSettings};
pub use code_assist::{CodeAssist, CodeAssistFlavor, CodeAssistSettings};
pub use codex::{CODEX_KIND, Codex, CodexSettings};
pub use custom::{CUSTOM_KIND, CustomProvider, CustomSettings};
pub use geminicli::GEMINICLI_KIND;
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
        Arc::new(CodeAssist::geminicli()),
        Arc::new(CodeAssist::antigravity()),
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
