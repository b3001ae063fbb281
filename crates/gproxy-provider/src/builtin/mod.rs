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

/// The API key of a credential, or the error a provider that needs one gives.
pub(crate) fn api_key<'a>(
    kind: &'static str,
    credential: &'a gproxy_credential::Credential,
) -> Result<&'a str, crate::ProviderError> {
    match credential {
        gproxy_credential::Credential::ApiKey { key } => Ok(key.expose()),
        gproxy_credential::Credential::None => Err(crate::ProviderError::InvalidCredential {
            kind,
            reason: "an API key is required",
        }),
    }
}

#[cfg(test)]
mod conformance;
