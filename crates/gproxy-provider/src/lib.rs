//! Upstream providers: the [`Provider`] contract, the built-in providers and
//! the registry that names them.
//!
//! A provider is mostly data (protocols, default base URL, auth form) plus a
//! few small overrides. The engine asks it where a request goes, how a
//! credential becomes upstream auth and where its model list lives; it never
//! does IO itself.
//!
//! ```
//! use gproxy_credential::{Credential, Secret};
//! use gproxy_provider::{Endpoint, ProviderRegistry};
//!
//! let registry = ProviderRegistry::builtin();
//! let claude = registry.get("claude").unwrap();
//! let url = claude.upstream_url(claude.default_base_url(), &Endpoint::ClaudeMessages)?;
//! assert_eq!(url, "https://api.anthropic.com/v1/messages");
//!
//! // The credential goes in the provider's own header.
//! let mut headers = http::HeaderMap::new();
//! let key = Credential::ApiKey { key: Secret::new("sk-ant-example".into()) };
//! claude.apply_auth(&key, &mut headers)?;
//! assert_eq!(headers["x-api-key"], "sk-ant-example");
//!
//! // A custom provider is configuration only (its base URL is the
//! // provider's, beside these settings).
//! let custom = registry.build(
//!     "custom",
//!     &serde_json::json!({"protocol": "openai_chat", "models": ["my-model"]}),
//! )?;
//! assert!(custom.speaks(gproxy_protocol::Protocol::OpenAiChat));
//! assert!(custom.allows_model("my-model") && !custom.allows_model("other"));
//! # Ok::<(), gproxy_provider::ProviderError>(())
//! ```

pub mod builtin;
pub mod failure;
pub mod models;
pub mod oauth;
pub mod registry;
pub mod traits;

pub use failure::FailureClass;
pub use models::{ModelInfo, ModelPage, ModelsError};
pub use registry::ProviderRegistry;
pub use traits::{AuthForm, CountTokensApi, Endpoint, Provider, ProviderError};
