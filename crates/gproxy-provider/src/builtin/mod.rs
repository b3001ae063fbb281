//! The built-in providers. Each is data plus the overrides it needs.

mod aistudio;
mod claude;
mod openai;

pub use aistudio::AiStudio;
pub use claude::Claude;
pub use openai::OpenAi;

use std::sync::Arc;

use crate::Provider;

/// Every built-in provider, by kind name.
pub fn all() -> Vec<Arc<dyn Provider>> {
    vec![Arc::new(OpenAi), Arc::new(Claude), Arc::new(AiStudio)]
}

#[cfg(test)]
mod conformance;
