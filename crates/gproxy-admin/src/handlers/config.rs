//! The whole stored state as the TOML the config file takes (credential
//! secrets sealed, user keys as hashes, the admin key never), and the
//! import of such a document.

use gproxy_core::CoreError;
use gproxy_core::config::ConfigError;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::json::parse;
use crate::request::Reply;
use crate::routes::Call;

/// `POST /config/import`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportInput {
    /// A config document, as `GET /config/export` writes it. `${VAR}` is
    /// not expanded; `host`, `port`, `data_dir`, `dsn` and `admin_key` are
    /// refused.
    pub toml: String,
}

/// What an import applied.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ImportView {
    /// Providers created or updated.
    pub providers: usize,
    /// Credentials created or updated.
    pub credentials: usize,
    /// Users created or updated.
    pub users: usize,
    /// Keys created or updated.
    pub keys: usize,
    /// Model routes created or updated.
    pub routes: usize,
    /// Settings sections stored (`limits`, `circuit_breaker`, `proxy`).
    pub settings: Vec<String>,
}

/// `GET /config/export`: `application/toml`.
pub async fn export(call: Call) -> Result<Reply, ApiError> {
    let text = gproxy_core::export::export_config(&call.ctx.storage).await?;
    Ok(Reply::text("application/toml", text))
}

/// `POST /config/import`: validated like a config file (the error names
/// the field, e.g. `providers[2].base_url`), then applied; nothing is
/// deleted.
pub async fn import(call: Call) -> Result<Reply, ApiError> {
    let input: ImportInput = parse(&call.req.body)?;
    let report = gproxy_core::export::import_config(
        &call.ctx.storage,
        &call.ctx.registry,
        call.ctx.engine.state().sealer(),
        &input.toml,
    )
    .await
    .map_err(|e| match e {
        CoreError::Config(ConfigError::Field { field, message, .. }) => {
            ApiError::field(format!("toml: {field}"), message)
        }
        CoreError::Config(ConfigError::Syntax { message, .. }) => ApiError::field("toml", message),
        other => ApiError::from(other),
    })?;
    Reply::ok(&ImportView {
        providers: report.providers,
        credentials: report.credentials,
        users: report.users,
        keys: report.keys,
        routes: report.routes,
        settings: report.settings,
    })
}
