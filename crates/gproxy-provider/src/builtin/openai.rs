//! OpenAI: Chat Completions and Responses, `Authorization: Bearer`.

use gproxy_protocol::Protocol;

use crate::traits::{AuthForm, join_url, unsupported};
use crate::{Endpoint, Provider, ProviderError};

/// The OpenAI API. Base URL includes `/v1`, as in the OpenAI SDKs.
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenAi;

impl Provider for OpenAi {
    fn kind(&self) -> &'static str {
        "openai"
    }

    fn protocols(&self) -> &'static [Protocol] {
        &[Protocol::OpenAiChat, Protocol::OpenAiResponses]
    }

    fn default_base_url(&self) -> &'static str {
        "https://api.openai.com/v1"
    }

    fn upstream_url(
        &self,
        base_url: &str,
        endpoint: &Endpoint<'_>,
    ) -> Result<String, ProviderError> {
        match endpoint {
            Endpoint::OpenAiChat => Ok(join_url(base_url, "chat/completions")),
            Endpoint::OpenAiResponses => Ok(join_url(base_url, "responses")),
            Endpoint::ClaudeMessages | Endpoint::GeminiGenerate { .. } => {
                Err(unsupported(self, endpoint))
            }
        }
    }

    fn auth_form(&self) -> AuthForm {
        AuthForm::Bearer
    }
}
