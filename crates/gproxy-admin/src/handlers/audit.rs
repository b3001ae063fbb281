//! The audit log: one row per admin write (who, what, target, when, client
//! address, outcome).

use chrono::Utc;
use gproxy_storage::NewAudit;

use crate::auth::Caller;
use crate::context::AdminContext;
use crate::request::AdminRequest;
use crate::routes::RouteDef;

/// Records one admin write, whatever its outcome. A failure to record is
/// logged, never turned into a failure of the write (which has happened).
pub async fn record(
    ctx: &AdminContext,
    route: &RouteDef,
    req: &AdminRequest,
    params: &[String],
    caller: Option<&Caller>,
    status: u16,
) {
    let target_type = route.action.split('.').next().unwrap_or_default();
    // The login route names the user it was for (never the password).
    let target_id = if route.action == "session.login" {
        serde_json::from_slice::<serde_json::Value>(&req.body)
            .ok()
            .and_then(|v| {
                v.get("username")
                    .and_then(|u| u.as_str())
                    .map(str::to_owned)
            })
            .unwrap_or_default()
    } else {
        params.join("/")
    };
    let target_id: String = target_id.chars().take(255).collect();
    let row = NewAudit {
        created_at: Utc::now(),
        actor: caller.map_or_else(|| "anonymous".to_owned(), Caller::actor),
        actor_user_id: caller.map(|c| c.user_id),
        action: route.action.to_owned(),
        target_type: target_type.to_owned(),
        target_id,
        client_ip: req.client_ip.map(|ip| ip.to_string()),
        outcome: status,
        detail: Some(
            serde_json::json!({"method": req.method.as_str(), "path": format!("/admin/api{}", req.path)}),
        ),
    };
    if let Err(e) = ctx.storage.insert_audit(&row).await {
        tracing::error!(error = %e, action = route.action, "cannot record an admin write in the audit log");
    }
}
