//! The admin API under `/admin/api/`: providers, credentials, users and
//! keys, model routes, settings, request logs, usage, audit, config
//! export/import, sessions and roles, and the OpenAPI document generated
//! from the same route table that dispatches (see [`table`]).
//!
//! The router mounts it: it reads the body (bounded) and hands an
//! [`AdminRequest`] to [`AdminApi::handle`]. Handlers are thin: decode,
//! check, call storage, apply, render. Role checks, the write lock, the
//! live apply and the audit record happen once, here.
//!
//! [`AdminApi::for_instance`] builds it over a running engine (the router's
//! `Gateway` does that); the route table alone gives the OpenAPI document:
//!
//! ```
//! let doc = gproxy_admin::openapi::document(&gproxy_admin::table::routes());
//! assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
//! assert!(doc["paths"]["/admin/api/providers"]["get"].is_object());
//! ```

pub mod auth;
pub mod context;
pub mod dto;
pub mod error;
mod handlers;
pub mod json;
pub mod openapi;
pub mod request;
pub mod routes;
pub mod table;

use std::sync::Arc;

use bytes::Bytes;
use http::Response;

pub use context::{AdminContext, ControlHooks, CoreHooks};
pub use error::ApiError;
pub use request::{AdminRequest, Reply};

use crate::auth::Caller;
use crate::routes::{Access, Call, RouteDef};

/// Largest admin request body (a config import or a batch of keys). 8 MiB.
pub const MAX_ADMIN_BODY_BYTES: usize = 8 * 1024 * 1024;

/// The admin API.
#[derive(Debug, Clone)]
pub struct AdminApi {
    ctx: Arc<AdminContext>,
    routes: Arc<Vec<RouteDef>>,
}

impl AdminApi {
    /// The API of a running instance: storage, kinds, the engine, and the
    /// control that applies changes.
    pub fn for_instance(
        storage: gproxy_storage::Storage,
        registry: gproxy_provider::ProviderRegistry,
        engine: Arc<gproxy_core::Engine>,
        control: Arc<gproxy_core::control::Control>,
    ) -> Self {
        Self::new(AdminContext {
            storage,
            registry,
            engine,
            hooks: Arc::new(CoreHooks::new(control)),
            logins: auth::LoginLimiter::default(),
            write_lock: tokio::sync::Mutex::new(()),
        })
    }

    /// An API over `ctx`.
    pub fn new(ctx: AdminContext) -> Self {
        AdminApi {
            ctx: Arc::new(ctx),
            routes: Arc::new(table::routes()),
        }
    }

    /// The shared context.
    pub fn context(&self) -> &Arc<AdminContext> {
        &self.ctx
    }

    /// Handles one call. Never fails: errors are JSON answers.
    pub async fn handle(&self, req: AdminRequest) -> Response<Bytes> {
        request::render(self.dispatch(req).await)
    }

    async fn dispatch(&self, req: AdminRequest) -> Result<Reply, ApiError> {
        let mut allowed = Vec::new();
        let mut found = None;
        for route in self.routes.iter() {
            if let Some(params) = route.matches(&req.path) {
                if route.method == req.method {
                    found = Some((route, params));
                    break;
                }
                allowed.push(route.method.as_str());
            }
        }
        let Some((route, params)) = found else {
            return Err(if allowed.is_empty() {
                ApiError::not_found(format!(
                    "no admin route {} /admin/api{}; see /admin/api/openapi.json",
                    req.method, req.path
                ))
            } else {
                ApiError::method_not_allowed(
                    format!(
                        "{} /admin/api{} is not served; use {}",
                        req.method,
                        req.path,
                        allowed.join(", ")
                    ),
                    &allowed,
                )
            });
        };
        if route.request.is_some() && !is_json(&req) {
            return Err(ApiError::unsupported_media(
                "send the body as JSON with `Content-Type: application/json`",
            ));
        }
        let req = Arc::new(req);
        let caller = match route.access {
            Access::Public => None,
            Access::Role(min) => {
                let caller = auth::authenticate(&self.ctx, &req).await?;
                if caller.role < min {
                    let err = ApiError::forbidden(format!(
                        "role `{}` may not {} /admin/api{} (needs `{}`)",
                        caller.role.as_str(),
                        route.method,
                        req.path,
                        min.as_str()
                    ));
                    if route.is_write() {
                        self.audit(route, &req, &params, Some(&caller), err.status.as_u16())
                            .await;
                    }
                    return Err(err);
                }
                Some(caller)
            }
        };
        let call = Call {
            ctx: self.ctx.clone(),
            req: req.clone(),
            caller: caller.clone(),
            params: params.clone(),
            applied: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        };
        let applied = call.applied.clone();
        if !route.is_write() {
            return (route.handler)(call).await;
        }
        let _guard = self.ctx.write_lock.lock().await;
        let result = (route.handler)(call).await;
        if route.reload && result.is_ok() {
            // Unless the handler applied it already (to show the new state).
            if !applied.load(std::sync::atomic::Ordering::Relaxed)
                && let Err(e) = self.ctx.hooks.reload().await
            {
                tracing::error!(error = %e, "admin write stored but the snapshot could not be rebuilt");
            }
            self.ctx.hooks.publish().await;
        }
        let status = match &result {
            Ok(reply) => reply.status.as_u16(),
            Err(e) => e.status.as_u16(),
        };
        if !route.action.is_empty() {
            self.audit(route, &req, &params, caller.as_ref(), status)
                .await;
        }
        result
    }

    async fn audit(
        &self,
        route: &RouteDef,
        req: &AdminRequest,
        params: &[String],
        caller: Option<&Caller>,
        status: u16,
    ) {
        handlers::audit::record(&self.ctx, route, req, params, caller, status).await;
    }
}

fn is_json(req: &AdminRequest) -> bool {
    req.headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let v = v.trim().to_ascii_lowercase();
            v.starts_with("application/json") || v.starts_with("text/json")
        })
}
