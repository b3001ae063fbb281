//! The gateway core: start-up ([`bootstrap`]), the state snapshot the hot
//! path reads ([`state`]), the request pipeline ([`Engine`]) and the shared
//! upstream client ([`upstream`]).
//!
//! Nothing here knows HTTP routing: the router turns a request into a
//! [`ProxyRequest`] and renders a [`GatewayError`] in the client's shape.

mod accounting;
pub mod body;
pub mod bootstrap;
pub mod config;
mod conversion;
pub mod count;
mod engine;
mod error;
mod headers;
pub mod model_route;
pub mod models;
mod passthrough;
pub mod settings;
pub mod state;
mod stream;
mod tokens;
pub mod upstream;

pub use body::{BodyError, ProxyBody};
pub use bootstrap::{Bootstrapped, StartupArgs, bootstrap};
pub use engine::{
    Engine, GeminiCall, GeminiMethod, MODEL_HEADER, Operation, PROVIDER_HEADER, ProxyRequest,
    ProxyRoute,
};
pub use error::{CoreError, ErrorSource, GatewayError, UpstreamFailure};
pub use passthrough::PassthroughRequest;
pub use settings::{Limits, Settings};

use gproxy_storage::{UsageSink, UsageSinkConfig, UsageSinkHandle};
use upstream::{UpstreamClient, UpstreamConfig};

/// Builds the engine from a finished bootstrap: the upstream client and the
/// usage sink's writer task (which needs a running tokio runtime).
pub fn build_engine(boot: &Bootstrapped) -> Result<(Engine, UsageSinkHandle), CoreError> {
    let upstream = UpstreamClient::new(&UpstreamConfig::new(
        boot.settings.limits.connect_timeout,
        boot.settings.proxy.clone(),
    ))?;
    let (sink, handle): (UsageSink, UsageSinkHandle) =
        UsageSink::spawn(boot.storage.clone(), UsageSinkConfig::default());
    Ok((
        Engine::new(boot.state.clone(), upstream, sink, boot.settings.limits),
        handle,
    ))
}
