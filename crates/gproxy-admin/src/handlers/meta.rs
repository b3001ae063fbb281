//! The OpenAPI document.

use crate::error::ApiError;
use crate::request::Reply;
use crate::routes::Call;

/// `GET /openapi.json`: generated from the route table and the Rust types.
pub async fn openapi(_call: Call) -> Result<Reply, ApiError> {
    let doc = crate::openapi::document(&crate::table::routes());
    Ok(Reply::text("application/json", doc.to_string()))
}
