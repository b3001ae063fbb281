//! The OpenAPI document and the gateway's health.

use crate::error::ApiError;
use crate::request::Reply;
use crate::routes::Call;

/// `GET /openapi.json`: generated from the route table and the Rust types.
pub async fn openapi(_call: Call) -> Result<Reply, ApiError> {
    let doc = crate::openapi::document(&crate::table::routes());
    Ok(Reply::text("application/json", doc.to_string()))
}

/// `GET /health`: what `/health` shows with the admin key.
pub async fn health(call: Call) -> Result<Reply, ApiError> {
    Reply::ok(&call.ctx.engine.health_detail().await)
}
