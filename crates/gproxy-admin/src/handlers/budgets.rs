//! `/budgets`: every configured budget and where it stands. The budgets
//! themselves are set in the settings (`PATCH /settings` `budgets`).

use gproxy_core::budget::BudgetsView;

use crate::error::ApiError;
use crate::request::Reply;
use crate::routes::Call;

/// `GET /budgets`.
pub async fn list(call: Call) -> Result<Reply, ApiError> {
    let view: BudgetsView = call.ctx.engine.all_budgets(&call.ctx.storage).await?;
    Reply::ok(&view)
}
