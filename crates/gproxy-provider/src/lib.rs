//! Upstream providers: the [`Provider`] contract, the built-in providers and
//! the registry that names them.
//!
//! A provider is mostly data (protocols, default base URL, auth form) plus a
//! few small overrides. The engine asks it where a request goes, how a
//! credential becomes upstream auth and where its model list lives; it never
//! does IO itself.

pub mod builtin;
pub mod failure;
pub mod models;
pub mod registry;
pub mod traits;

pub use failure::FailureClass;
pub use models::{ModelInfo, ModelPage, ModelsError};
pub use registry::ProviderRegistry;
pub use traits::{AuthForm, CountTokensApi, Endpoint, Provider, ProviderError};
