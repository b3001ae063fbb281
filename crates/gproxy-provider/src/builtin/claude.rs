//! Anthropic: Messages API, `x-api-key` and `anthropic-version`.

use gproxy_protocol::Protocol;
use http::{HeaderMap, HeaderValue};

use crate::models::{PAGE_SIZE, parse_claude, with_query};
use crate::traits::{AuthForm, join_url, unsupported};
use crate::{CountTokensApi, Endpoint, ModelPage, ModelsError, Provider, ProviderError};

/// The `anthropic-version` sent when the client sent none.
pub const DEFAULT_ANTHROPIC_VERSION: &str = "2023-06-01";

/// The Anthropic API. Base URL without `/v1`, as in the Anthropic SDKs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Claude;

impl Provider for Claude {
    fn kind(&self) -> &'static str {
        "claude"
    }

    fn protocols(&self) -> &'static [Protocol] {
        &[Protocol::Claude]
    }

    fn default_base_url(&self) -> &str {
        "https://api.anthropic.com"
    }

    fn upstream_url(
        &self,
        base_url: &str,
        endpoint: &Endpoint<'_>,
    ) -> Result<String, ProviderError> {
        match endpoint {
            Endpoint::ClaudeMessages => Ok(join_url(base_url, "v1/messages")),
            Endpoint::ClaudeCountTokens => Ok(join_url(base_url, "v1/messages/count_tokens")),
            Endpoint::OpenAiChat
            | Endpoint::OpenAiResponses
            | Endpoint::OpenAiEmbeddings
            | Endpoint::OpenAiInputTokens
            | Endpoint::GeminiGenerate { .. }
            | Endpoint::GeminiEmbed { .. }
            | Endpoint::GeminiCountTokens { .. } => Err(unsupported(self, endpoint)),
        }
    }

    fn auth_form(&self) -> AuthForm {
        AuthForm::Header("x-api-key")
    }

    fn models_url(&self, base_url: &str, page: Option<&str>) -> Option<String> {
        Some(claude_models_url(base_url, page))
    }

    fn parse_models(&self, body: &[u8]) -> Result<ModelPage, ModelsError> {
        parse_claude(body)
    }

    fn fallback_models(&self) -> &'static [&'static str] {
        &[
            "claude-sonnet-4-5-20250929",
            "claude-haiku-4-5-20251001",
            "claude-opus-4-1-20250805",
            "claude-sonnet-4-20250514",
        ]
    }

    fn default_headers(&self, headers: &mut HeaderMap) {
        default_anthropic_version(headers);
    }

    fn count_tokens_api(&self) -> Option<CountTokensApi> {
        Some(CountTokensApi::Claude)
    }
}

/// Adds `anthropic-version` when the client sent none.
pub(crate) fn default_anthropic_version(headers: &mut HeaderMap) {
    if !headers.contains_key("anthropic-version") {
        headers.insert(
            "anthropic-version",
            HeaderValue::from_static(DEFAULT_ANTHROPIC_VERSION),
        );
    }
}

/// `{base}/v1/models?limit=1000`, with `after_id` for a following page.
pub(crate) fn claude_models_url(base_url: &str, page: Option<&str>) -> String {
    let url = with_query(
        join_url(base_url, "v1/models"),
        "limit",
        &PAGE_SIZE.to_string(),
    );
    match page {
        Some(token) => with_query(url, "after_id", token),
        None => url,
    }
}
