//! OpenAI and the OpenAI-compatible APIs: Chat Completions (and Responses
//! where the vendor serves it), `Authorization: Bearer`. One data table,
//! one implementation.

use gproxy_protocol::Protocol;

use crate::models::parse_openai;
use crate::traits::{AuthForm, join_url, unsupported};
use crate::{CountTokensApi, Endpoint, ModelPage, ModelsError, Provider, ProviderError};

const CHAT: &[Protocol] = &[Protocol::OpenAiChat];
const CHAT_AND_RESPONSES: &[Protocol] = &[Protocol::OpenAiChat, Protocol::OpenAiResponses];

/// An OpenAI-style API. The base URL follows the OpenAI SDK convention
/// (it includes the version path, e.g. `/v1`), so upstream URLs are
/// `{base}/chat/completions` and `{base}/responses`.
#[derive(Debug, Clone, Copy)]
pub struct OpenAiCompatible {
    kind: &'static str,
    base_url: &'static str,
    protocols: &'static [Protocol],
    auth: AuthForm,
    fallback: &'static [&'static str],
    /// Serves `POST /responses/input_tokens`.
    input_tokens: bool,
}

impl OpenAiCompatible {
    /// OpenAI itself.
    pub const OPENAI: Self = OpenAiCompatible {
        input_tokens: true,
        ..Self::new(
            "openai",
            "https://api.openai.com/v1",
            CHAT_AND_RESPONSES,
            &[
                "gpt-5",
                "gpt-5-mini",
                "gpt-4.1",
                "gpt-4.1-mini",
                "gpt-4o",
                "gpt-4o-mini",
                "o4-mini",
            ],
        )
    };
    /// DeepSeek (Chat Completions; base URL without `/v1`, as DeepSeek documents).
    pub const DEEPSEEK: Self = Self::new(
        "deepseek",
        "https://api.deepseek.com",
        CHAT,
        &["deepseek-chat", "deepseek-reasoner"],
    );
    /// NVIDIA NIM API catalog.
    pub const NVIDIA: Self = Self::new(
        "nvidia",
        "https://integrate.api.nvidia.com/v1",
        CHAT,
        &[
            "meta/llama-3.3-70b-instruct",
            "nvidia/llama-3.3-nemotron-super-49b-v1",
            "deepseek-ai/deepseek-r1",
        ],
    );
    /// xAI (Grok).
    pub const XAI: Self = Self::new(
        "xai",
        "https://api.x.ai/v1",
        CHAT_AND_RESPONSES,
        &["grok-4", "grok-3", "grok-3-mini"],
    );
    /// Mistral AI.
    pub const MISTRAL: Self = Self::new(
        "mistral",
        "https://api.mistral.ai/v1",
        CHAT,
        &[
            "mistral-large-latest",
            "mistral-medium-latest",
            "mistral-small-latest",
            "codestral-latest",
        ],
    );
    /// Groq.
    pub const GROQ: Self = Self::new(
        "groq",
        "https://api.groq.com/openai/v1",
        CHAT_AND_RESPONSES,
        &[
            "llama-3.3-70b-versatile",
            "llama-3.1-8b-instant",
            "openai/gpt-oss-120b",
        ],
    );
    /// OpenRouter.
    pub const OPENROUTER: Self = Self::new(
        "openrouter",
        "https://openrouter.ai/api/v1",
        CHAT_AND_RESPONSES,
        &[
            "openai/gpt-4o-mini",
            "anthropic/claude-sonnet-4.5",
            "google/gemini-2.5-flash",
        ],
    );
    /// Ollama: a local server needs no key; `ollama.com` takes a bearer key
    /// when a credential is configured. Its models are whatever was pulled,
    /// so it has no fallback list.
    pub const OLLAMA: Self = OpenAiCompatible {
        auth: AuthForm::BearerOptional,
        ..Self::new(
            "ollama",
            "http://localhost:11434/v1",
            CHAT_AND_RESPONSES,
            &[],
        )
    };

    /// Every built-in of this shape.
    pub const ALL: [Self; 8] = [
        Self::OPENAI,
        Self::DEEPSEEK,
        Self::NVIDIA,
        Self::XAI,
        Self::MISTRAL,
        Self::GROQ,
        Self::OPENROUTER,
        Self::OLLAMA,
    ];

    const fn new(
        kind: &'static str,
        base_url: &'static str,
        protocols: &'static [Protocol],
        fallback: &'static [&'static str],
    ) -> Self {
        OpenAiCompatible {
            kind,
            base_url,
            protocols,
            auth: AuthForm::Bearer,
            fallback,
            input_tokens: false,
        }
    }
}

impl Provider for OpenAiCompatible {
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn protocols(&self) -> &'static [Protocol] {
        self.protocols
    }

    fn default_base_url(&self) -> &str {
        self.base_url
    }

    fn upstream_url(
        &self,
        base_url: &str,
        endpoint: &Endpoint<'_>,
    ) -> Result<String, ProviderError> {
        match endpoint {
            Endpoint::OpenAiChat if self.speaks(Protocol::OpenAiChat) => {
                Ok(join_url(base_url, "chat/completions"))
            }
            Endpoint::OpenAiResponses if self.speaks(Protocol::OpenAiResponses) => {
                Ok(join_url(base_url, "responses"))
            }
            Endpoint::OpenAiEmbeddings if self.speaks(Protocol::OpenAiChat) => {
                Ok(join_url(base_url, "embeddings"))
            }
            Endpoint::OpenAiInputTokens if self.count_tokens_api().is_some() => {
                Ok(join_url(base_url, "responses/input_tokens"))
            }
            Endpoint::OpenAiChat
            | Endpoint::OpenAiResponses
            | Endpoint::OpenAiEmbeddings
            | Endpoint::OpenAiInputTokens
            | Endpoint::ClaudeMessages
            | Endpoint::ClaudeCountTokens
            | Endpoint::GeminiGenerate { .. }
            | Endpoint::GeminiEmbed { .. }
            | Endpoint::GeminiCountTokens { .. } => Err(unsupported(self, endpoint)),
        }
    }

    fn auth_form(&self) -> AuthForm {
        self.auth
    }

    fn models_url(&self, base_url: &str, _page: Option<&str>) -> Option<String> {
        Some(join_url(base_url, "models"))
    }

    fn parse_models(&self, body: &[u8]) -> Result<ModelPage, ModelsError> {
        parse_openai(body)
    }

    fn fallback_models(&self) -> &'static [&'static str] {
        self.fallback
    }

    /// Only OpenAI itself documents `POST /responses/input_tokens`; the
    /// other OpenAI-style APIs have no counting endpoint (counted locally).
    fn count_tokens_api(&self) -> Option<CountTokensApi> {
        self.input_tokens.then_some(CountTokensApi::OpenAiResponses)
    }

    /// The OpenAI SDK base URL already ends in the version (`.../v1`), and
    /// clients call `/{provider}/v1/...`: the client's `/v1` maps onto it.
    fn passthrough_url(&self, base_url: &str, path_and_query: &str) -> String {
        openai_passthrough_url(base_url, path_and_query)
    }
}

/// The passthrough URL for an OpenAI-style base URL that already ends in the
/// version: the client's leading `/v1` maps onto it.
pub(crate) fn openai_passthrough_url(base_url: &str, path_and_query: &str) -> String {
    let rest = match path_and_query.strip_prefix("/v1") {
        Some(rest) if rest.is_empty() || rest.starts_with(['/', '?']) => rest,
        _ => path_and_query,
    };
    join_url(base_url, rest)
}
