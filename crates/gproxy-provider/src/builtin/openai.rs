//! OpenAI: Chat Completions and Responses, `Authorization: Bearer`.

use gproxy_credential::Credential;
use gproxy_protocol::Protocol;
use http::HeaderMap;
use http::header::AUTHORIZATION;

use crate::traits::{join_url, secret_header};
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
                Err(ProviderError::UnsupportedProtocol {
                    kind: self.kind(),
                    protocol: endpoint.protocol().as_str(),
                })
            }
        }
    }

    fn apply_auth(
        &self,
        credential: &Credential,
        headers: &mut HeaderMap,
    ) -> Result<(), ProviderError> {
        let key = super::api_key(self.kind(), credential)?;
        headers.insert(AUTHORIZATION, secret_header(self.kind(), "Bearer ", key)?);
        Ok(())
    }
}
