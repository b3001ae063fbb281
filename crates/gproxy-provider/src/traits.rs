//! The provider contract. Small and stable: built-ins and custom providers
//! implement it, the engine calls it.

use std::fmt::Debug;

use gproxy_credential::Credential;
use gproxy_protocol::Protocol;
use gproxy_protocol::json_mask::JsonMask;
use http::{HeaderMap, HeaderName, HeaderValue};

use crate::models::{ModelPage, ModelsError};

/// The upstream operation a request maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint<'a> {
    /// OpenAI `POST {base}/chat/completions`.
    OpenAiChat,
    /// OpenAI `POST {base}/responses`.
    OpenAiResponses,
    /// Anthropic `POST {base}/v1/messages`.
    ClaudeMessages,
    /// OpenAI `POST {base}/embeddings`.
    OpenAiEmbeddings,
    /// Gemini `POST {base}/{version}/models/{model}:embedContent` or
    /// `:batchEmbedContents`.
    GeminiEmbed {
        /// API version path segment (`v1beta` or `v1`).
        version: &'a str,
        /// Upstream model id, without any `models/` prefix.
        model: &'a str,
        /// `batchEmbedContents` rather than `embedContent`.
        batch: bool,
    },
    /// Gemini `POST {base}/{version}/models/{model}:generateContent` or
    /// `:streamGenerateContent`.
    GeminiGenerate {
        /// API version path segment the client used (`v1beta` or `v1`).
        version: &'a str,
        /// Upstream model id, without any `models/` prefix.
        model: &'a str,
        /// `streamGenerateContent` rather than `generateContent`.
        stream: bool,
        /// Ask for SSE framing (`alt=sse`) instead of a streamed JSON array.
        alt_sse: bool,
    },
    /// Anthropic `POST {base}/v1/messages/count_tokens`.
    ClaudeCountTokens,
    /// Gemini `POST {base}/{version}/models/{model}:countTokens` (Vertex:
    /// the same method on its publisher model path).
    GeminiCountTokens {
        /// API version path segment (`v1beta` or `v1`).
        version: &'a str,
        /// Upstream model id, without any `models/` prefix.
        model: &'a str,
    },
    /// OpenAI `POST {base}/responses/input_tokens`.
    OpenAiInputTokens,
}

impl Endpoint<'_> {
    /// The wire protocol this endpoint speaks.
    pub fn protocol(&self) -> Protocol {
        match self {
            Endpoint::OpenAiChat => Protocol::OpenAiChat,
            Endpoint::OpenAiResponses | Endpoint::OpenAiInputTokens => Protocol::OpenAiResponses,
            Endpoint::ClaudeMessages | Endpoint::ClaudeCountTokens => Protocol::Claude,
            Endpoint::GeminiGenerate { .. }
            | Endpoint::GeminiEmbed { .. }
            | Endpoint::GeminiCountTokens { .. } => Protocol::Gemini,
            Endpoint::OpenAiEmbeddings => Protocol::OpenAiChat,
        }
    }
}

/// A provider's own token-counting endpoint, and the body shape it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountTokensApi {
    /// Anthropic `POST /v1/messages/count_tokens`: a Messages body without
    /// `max_tokens`; answers `{"input_tokens": N}`.
    Claude,
    /// Gemini API `models/{model}:countTokens`: `{"contents": [...]}` or
    /// `{"generateContentRequest": {"model": "models/<m>", ...}}`; answers
    /// `{"totalTokens": N}`.
    Gemini,
    /// Vertex AI `:countTokens`: the generateContent fields at the top level
    /// (`contents`, `systemInstruction`, `tools`), no `generateContentRequest`
    /// wrapper; answers `{"totalTokens": N}`.
    Vertex,
    /// OpenAI `POST /responses/input_tokens`: a Responses body; answers
    /// `{"object": "response.input_tokens", "input_tokens": N}`.
    OpenAiResponses,
}

impl CountTokensApi {
    /// The protocol the endpoint speaks.
    pub fn protocol(self) -> Protocol {
        match self {
            CountTokensApi::Claude => Protocol::Claude,
            CountTokensApi::Gemini | CountTokensApi::Vertex => Protocol::Gemini,
            CountTokensApi::OpenAiResponses => Protocol::OpenAiResponses,
        }
    }

    /// The endpoint to call for `model` (Gemini: in API `version`).
    pub fn endpoint<'a>(self, version: &'a str, model: &'a str) -> Endpoint<'a> {
        match self {
            CountTokensApi::Claude => Endpoint::ClaudeCountTokens,
            CountTokensApi::Gemini | CountTokensApi::Vertex => {
                Endpoint::GeminiCountTokens { version, model }
            }
            CountTokensApi::OpenAiResponses => Endpoint::OpenAiInputTokens,
        }
    }
}

/// Errors a provider reports while preparing an upstream request.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The provider does not serve this endpoint.
    #[error("provider kind `{kind}` does not speak {protocol}")]
    UnsupportedProtocol {
        /// Provider kind.
        kind: &'static str,
        /// The protocol asked for.
        protocol: &'static str,
    },
    /// The provider speaks the protocol but not this method.
    #[error("provider kind `{kind}` does not serve `{method}`")]
    UnsupportedMethod {
        /// Provider kind.
        kind: &'static str,
        /// The method, e.g. `batchEmbedContents`.
        method: &'static str,
    },
    /// The credential cannot be used with this provider (wrong kind, or a
    /// key that is not a valid header value). Never contains the secret.
    #[error("credential unusable for provider kind `{kind}`: {reason}")]
    InvalidCredential {
        /// Provider kind.
        kind: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// No provider of this kind exists.
    #[error("unknown provider kind `{kind}`")]
    UnknownKind {
        /// The kind asked for.
        kind: String,
    },
    /// A provider's stored settings cannot be used.
    #[error("invalid settings for provider kind `{kind}`: `{field}`: {message}")]
    InvalidSettings {
        /// Provider kind.
        kind: &'static str,
        /// The settings field, e.g. `json_param_mask[1]`.
        field: String,
        /// What is wrong.
        message: String,
    },
}

/// How a provider sends an API key upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthForm {
    /// `Authorization: Bearer <key>`.
    Bearer,
    /// `Authorization: Bearer <key>` when a key is configured, nothing
    /// otherwise (local servers such as Ollama).
    BearerOptional,
    /// The key as the whole value of this header (`x-api-key`, `x-goog-api-key`).
    Header(&'static str),
    /// No credential is sent.
    None,
}

/// What every upstream provider kind implements.
pub trait Provider: Send + Sync + Debug {
    /// The kind name (`openai`, `claude`, `aistudio`, ...).
    fn kind(&self) -> &'static str;

    /// Protocols this provider speaks natively, preferred first.
    fn protocols(&self) -> &'static [Protocol];

    /// Base URL used when the configuration gives none. Same convention as
    /// the vendor SDK's base URL.
    fn default_base_url(&self) -> &str;

    /// The full upstream URL for `endpoint` under `base_url`.
    fn upstream_url(
        &self,
        base_url: &str,
        endpoint: &Endpoint<'_>,
    ) -> Result<String, ProviderError>;

    /// The upstream URL for `endpoint` when sent with `credential` (the
    /// credential as stored, before any token exchange). Only providers
    /// whose URL depends on the credential override it (Vertex takes the
    /// project from the service account).
    fn upstream_url_for(
        &self,
        base_url: &str,
        endpoint: &Endpoint<'_>,
        _credential: &Credential,
    ) -> Result<String, ProviderError> {
        self.upstream_url(base_url, endpoint)
    }

    /// How this provider sends an API key.
    fn auth_form(&self) -> AuthForm;

    /// The URL of one page of the upstream model list (`page`: the token
    /// the previous page gave), or `None` when the kind has no list
    /// endpoint. The request is a `GET` with [`Provider::default_headers`]
    /// and [`Provider::apply_auth`].
    fn models_url(&self, base_url: &str, page: Option<&str>) -> Option<String>;

    /// Reads one page of the upstream model list.
    fn parse_models(&self, body: &[u8]) -> Result<ModelPage, ModelsError>;

    /// Model ids listed when the upstream list cannot be had (no list
    /// endpoint, no credential, or a failed call). Short and current.
    fn fallback_models(&self) -> &'static [&'static str];

    /// Adds the credential to the upstream request, in the provider's own
    /// form ([`Provider::auth_form`]). `headers` already holds the forwarded
    /// client headers with every client credential removed.
    fn apply_auth(
        &self,
        credential: &Credential,
        headers: &mut HeaderMap,
    ) -> Result<(), ProviderError> {
        let form = self.auth_form();
        if form == AuthForm::None {
            return Ok(());
        }
        let key = match credential {
            Credential::ApiKey { key } => key,
            // An OAuth login's access token, sent like a key.
            Credential::OAuth(login) => &login.tokens.access_token,
            _ if form == AuthForm::BearerOptional => return Ok(()),
            _ => {
                return Err(ProviderError::InvalidCredential {
                    kind: self.kind(),
                    reason: "an API key is required",
                });
            }
        };
        let (name, prefix) = match form {
            AuthForm::Bearer | AuthForm::BearerOptional => {
                (http::header::AUTHORIZATION.as_str(), "Bearer ")
            }
            AuthForm::Header(name) => (name, ""),
            AuthForm::None => return Ok(()),
        };
        headers.insert(
            http::HeaderName::from_static(name),
            secret_header(self.kind(), prefix, key)?,
        );
        Ok(())
    }

    /// The upstream URL of a raw passthrough call. `path_and_query` is the
    /// client's path after `/{provider}` with its query (e.g.
    /// `/v1/files?purpose=batch`); by default it is joined to the base URL.
    fn passthrough_url(&self, base_url: &str, path_and_query: &str) -> String {
        join_url(base_url, path_and_query)
    }

    /// Provider-specific header defaults (e.g. `anthropic-version`), applied
    /// after the client's headers so that a client value wins.
    fn default_headers(&self, _headers: &mut HeaderMap) {}

    /// Headers the operator configured for this provider, set on every
    /// upstream request after the client's headers and the provider
    /// defaults (so they win over both). Empty for built-ins.
    fn extra_headers(&self) -> &[(HeaderName, HeaderValue)] {
        &[]
    }

    /// Whether this provider serves `model` (the upstream model id, without
    /// any provider prefix). Every model, unless an allow-list is configured.
    fn allows_model(&self, _model: &str) -> bool {
        true
    }

    /// Paths set to `null` in the request body just before dispatch, if
    /// any are configured.
    fn json_mask(&self) -> Option<&JsonMask> {
        None
    }

    /// Whether requests need a configured credential.
    fn requires_credential(&self) -> bool {
        !matches!(self.auth_form(), AuthForm::None | AuthForm::BearerOptional)
    }

    /// What an upstream error answer means (see [`crate::failure`]): by
    /// default the rules of the provider's first native protocol.
    fn classify_failure(
        &self,
        status: http::StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) -> crate::FailureClass {
        match self.protocols().first() {
            Some(protocol) => crate::failure::classify(*protocol, status, headers, body),
            None => crate::FailureClass::by_status(status, headers),
        }
    }

    /// The provider's own token-counting endpoint, if it has one. Without
    /// one (or when it answers 404/405/501) the gateway counts locally.
    fn count_tokens_api(&self) -> Option<CountTokensApi> {
        None
    }

    /// The kind's OAuth client, for subscription kinds whose credentials
    /// are logins (codex, claudecode, antigravity, geminicli).
    fn oauth(&self) -> Option<&crate::oauth::OAuthSpec> {
        None
    }

    /// Account facts (`email`, `account_id`, `organization_id`, `plan`,
    /// ...) in a successful code exchange's `answer` (Anthropic: its
    /// `account`/`organization`; OpenAI: the id token's claims).
    fn oauth_account(
        &self,
        _answer: &serde_json::Value,
    ) -> serde_json::Map<String, serde_json::Value> {
        serde_json::Map::new()
    }

    /// Reads credentials exported by the vendor's own CLI (`auth.json`,
    /// `.credentials.json`, `oauth_creds.json`, a setup token), `None`
    /// when the kind has no such file.
    fn import_credential(
        &self,
        _input: &str,
        _now_ms: u64,
    ) -> Option<Result<gproxy_credential::oauth::Imported, gproxy_credential::oauth::ImportError>>
    {
        None
    }

    /// Google Code Assist kinds: the project discovery run at login.
    fn code_assist_discovery(&self) -> Option<crate::oauth::CodeAssistDiscovery> {
        None
    }

    /// The last step before a request goes upstream, with the credential
    /// it goes with (after [`Provider::apply_auth`]): the kind's own
    /// envelope, identity headers and body rules (OAuth kinds). The
    /// default changes nothing.
    fn prepare_request(
        &self,
        _endpoint: &Endpoint<'_>,
        _credential: &Credential,
        _headers: &mut HeaderMap,
        body: bytes::Bytes,
    ) -> Result<bytes::Bytes, ProviderError> {
        Ok(body)
    }

    /// The field every upstream answer of this kind is wrapped in (the
    /// whole body, and each stream event): `response` for Code Assist.
    /// An answer without it (an error) is taken as it is.
    fn response_envelope(&self) -> Option<&'static str> {
        None
    }

    /// The body of the model-list call when it is a `POST` (Code Assist's
    /// `fetchAvailableModels`); `None`: a `GET`.
    fn models_body(&self) -> Option<&'static [u8]> {
        None
    }

    /// The call that reads `credential`'s live quota, if the kind has one.
    fn quota_call(
        &self,
        _base_url: &str,
        _credential: &Credential,
    ) -> Option<crate::oauth::SideCall> {
        None
    }

    /// Reads the quota call's answer (`headers` too: some kinds report in
    /// headers).
    fn parse_quota(
        &self,
        _headers: &HeaderMap,
        _body: &[u8],
    ) -> Result<crate::oauth::Quota, ModelsError> {
        Err(ModelsError::Invalid(
            "this kind has no quota endpoint".into(),
        ))
    }

    /// Whether this provider speaks `protocol` natively.
    fn speaks(&self, protocol: Protocol) -> bool {
        self.protocols().contains(&protocol)
    }
}

/// Joins a base URL and a path with exactly one slash between them.
pub fn join_url(base: &str, path: &str) -> String {
    let base = base.trim_end_matches('/');
    let path = path.trim_start_matches('/');
    let mut out = String::with_capacity(base.len() + path.len() + 1);
    out.push_str(base);
    out.push('/');
    out.push_str(path);
    out
}

/// The error for an endpoint a provider does not serve.
pub fn unsupported(provider: &dyn Provider, endpoint: &Endpoint<'_>) -> ProviderError {
    ProviderError::UnsupportedProtocol {
        kind: provider.kind(),
        protocol: endpoint.protocol().as_str(),
    }
}

/// `prefix` and `secret` as a sensitive header value, refusing control
/// characters; made once per secret and prefix, then kept
/// ([`Secret::header`]).
pub(crate) fn secret_header(
    kind: &'static str,
    prefix: &str,
    secret: &gproxy_credential::Secret,
) -> Result<http::HeaderValue, ProviderError> {
    secret
        .header(prefix)
        .ok_or(ProviderError::InvalidCredential {
            kind,
            reason: "the key contains characters not allowed in an HTTP header",
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_url_has_exactly_one_slash() {
        assert_eq!(join_url("http://h/v1/", "/chat"), "http://h/v1/chat");
        assert_eq!(join_url("http://h/v1", "chat"), "http://h/v1/chat");
    }
}
