//! Google AI Studio (Gemini API key): generateContent, `x-goog-api-key`.

use gproxy_protocol::Protocol;

use crate::models::{PAGE_SIZE, parse_gemini, with_query};
use crate::traits::{AuthForm, join_url, unsupported};
use crate::{CountTokensApi, Endpoint, ModelPage, ModelsError, Provider, ProviderError};

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

    fn default_base_url(&self) -> &str {
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
            Endpoint::GeminiCountTokens { version, model } => {
                Ok(gemini_count_tokens_url(base_url, version, model))
            }
            Endpoint::OpenAiChat
            | Endpoint::OpenAiResponses
            | Endpoint::OpenAiEmbeddings
            | Endpoint::OpenAiInputTokens
            | Endpoint::ClaudeMessages
            | Endpoint::ClaudeCountTokens => Err(unsupported(self, endpoint)),
        }
    }

    fn auth_form(&self) -> AuthForm {
        AuthForm::Header("x-goog-api-key")
    }

    fn models_url(&self, base_url: &str, page: Option<&str>) -> Option<String> {
        Some(gemini_models_url(base_url, page))
    }

    fn parse_models(&self, body: &[u8]) -> Result<ModelPage, ModelsError> {
        parse_gemini(body)
    }

    fn fallback_models(&self) -> &'static [&'static str] {
        &[
            "gemini-2.5-pro",
            "gemini-2.5-flash",
            "gemini-2.5-flash-lite",
            "gemini-2.0-flash",
        ]
    }

    fn count_tokens_api(&self) -> Option<CountTokensApi> {
        Some(CountTokensApi::Gemini)
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

/// `{base}/{version}/models/{model}:countTokens`.
pub(crate) fn gemini_count_tokens_url(base_url: &str, version: &str, model: &str) -> String {
    join_url(base_url, &format!("{version}/models/{model}:countTokens"))
}

/// `{base}/v1beta/models?pageSize=1000`, with `pageToken` for a following page.
pub(crate) fn gemini_models_url(base_url: &str, page: Option<&str>) -> String {
    let url = with_query(
        join_url(base_url, "v1beta/models"),
        "pageSize",
        &PAGE_SIZE.to_string(),
    );
    match page {
        Some(token) => with_query(url, "pageToken", token),
        None => url,
    }
}
