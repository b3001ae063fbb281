//! The audit log: one row per admin write (who, what, target, when,
//! client address, outcome), and its query route.

use crate::auth::Caller;
use crate::context::AdminContext;
use crate::request::AdminRequest;
use crate::routes::RouteDef;

/// Records one admin write. A failure to record is logged, never turned
/// into a failure of the write (which has happened already).
pub async fn record(
    _ctx: &AdminContext,
    route: &RouteDef,
    req: &AdminRequest,
    params: &[String],
    caller: Option<&Caller>,
    status: u16,
) {
    tracing::info!(
        actor = caller.map(Caller::actor).unwrap_or_default(),
        action = route.action,
        target = params.join("/"),
        client_ip = req.client_ip.map(|ip| ip.to_string()).unwrap_or_default(),
        status,
        "admin write"
    );
}
