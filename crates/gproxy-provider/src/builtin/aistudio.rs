//! Google AI Studio (Gemini API key): generateContent, `x-goog-api-key`.

use gproxy_protocol::Protocol;

use crate::traits::{AuthForm, join_url, unsupported};
use crate::{Endpoint, Provider, ProviderError};

/// The Gemini API with an AI Studio key. Base URL without the version, as in
/// the Google GenAI SDKs; the version the client used (`v1beta` or `v1`) is
/// kept.
#[derive(Debug, Clone, Copy, Default)]
pub struct AiStudio;

impl Provider for AiStudio {
    fn kind(&self) -> &'static str {
        "aistudio"
    }

    fn protocols(&self) -> &'static [Protocol] {
        &[Protocol::Gemini]
    }

    fn default_base_url(&self) -> &'static str {
        "https://generativelanguage.googleapis.com"
    }

    fn upstream_url(
        &self,
        base_url: &str,
        endpoint: &Endpoint<'_>,
    ) -> Result<String, ProviderError> {
        match endpoint {
            Endpoint::GeminiGenerate {
                version,
                model,
                stream,
                alt_sse,
            } => Ok(gemini_generate_url(
                base_url, version, model, *stream, *alt_sse,
            )),
            Endpoint::GeminiEmbed {
                version,
                model,
                batch,
            } => Ok(gemini_embed_url(base_url, version, model, *batch)),
            Endpoint::OpenAiChat
            | Endpoint::OpenAiResponses
            | Endpoint::OpenAiEmbeddings
            | Endpoint::ClaudeMessages => Err(unsupported(self, endpoint)),
        }
    }

    fn auth_form(&self) -> AuthForm {
        AuthForm::Header("x-goog-api-key")
    }
}

/// `{base}/{version}/models/{model}:generateContent`, or
/// `:streamGenerateContent` (with `?alt=sse` when asked for).
pub(crate) fn gemini_generate_url(
    base_url: &str,
    version: &str,
    model: &str,
    stream: bool,
    alt_sse: bool,
) -> String {
    let method = if stream {
        "streamGenerateContent"
    } else {
        "generateContent"
    };
    let mut url = join_url(base_url, &format!("{version}/models/{model}:{method}"));
    if stream && alt_sse {
        url.push_str("?alt=sse");
    }
    url
}

/// `{base}/{version}/models/{model}:embedContent` or `:batchEmbedContents`.
pub(crate) fn gemini_embed_url(base_url: &str, version: &str, model: &str, batch: bool) -> String {
    let method = if batch {
        "batchEmbedContents"
    } else {
        "embedContent"
    };
    join_url(base_url, &format!("{version}/models/{model}:{method}"))
}
