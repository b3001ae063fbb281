//! The route table: one list drives both dispatch and the OpenAPI
//! document, so the document cannot drift from what is served.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use http::Method;
use schemars::{JsonSchema, Schema, SchemaGenerator};

use crate::auth::{Caller, Role};
use crate::context::AdminContext;
use crate::error::ApiError;
use crate::request::{AdminRequest, Reply};

/// What a handler gets.
#[derive(Debug, Clone)]
pub struct Call {
    /// Shared context.
    pub ctx: Arc<AdminContext>,
    /// The request.
    pub req: Arc<AdminRequest>,
    /// The authenticated caller (`None` on public routes).
    pub caller: Option<Caller>,
    /// Path parameters, in order.
    pub params: Vec<String>,
    /// Set once the handler applied its change itself ([`Call::apply`]).
    pub applied: Arc<std::sync::atomic::AtomicBool>,
}

impl Call {
    /// The caller of an authenticated route.
    pub fn caller(&self) -> Result<&Caller, ApiError> {
        self.caller
            .as_ref()
            .ok_or_else(|| ApiError::unauthorized("authentication required"))
    }

    /// Applies the stored change to this instance now (so the answer can
    /// show the running state); the dispatcher then only announces it.
    pub async fn apply(&self) -> Result<(), ApiError> {
        self.ctx.hooks.reload().await.map_err(ApiError::internal)?;
        self.applied
            .store(true, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// Path parameter `i` as text.
    pub fn param(&self, i: usize) -> &str {
        self.params.get(i).map_or("", String::as_str)
    }

    /// Path parameter `i` as an id.
    pub fn id(&self, i: usize) -> Result<i64, ApiError> {
        self.param(i)
            .parse()
            .map_err(|_| ApiError::not_found(format!("`{}` is not an id", self.param(i))))
    }
}

/// A handler.
pub type Handler = fn(Call) -> BoxFuture<'static, Result<Reply, ApiError>>;
/// Adds a type's schema to the generator and returns a reference to it.
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// The schema function of `T`.
pub fn schema<T: JsonSchema>() -> Option<SchemaFn> {
    Some(|g| g.subschema_for::<T>())
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (sign-in, the OpenAPI document).
    Public,
    /// Any signed-in role at or above this one.
    Role(Role),
}

/// One route.
#[derive(Debug, Clone)]
pub struct RouteDef {
    /// Method.
    pub method: Method,
    /// Path under `/admin/api`, with `{param}` segments.
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
    /// The audit action of a write (`provider.update`); empty for reads.
    pub action: &'static str,
    /// Whether a success changes what the snapshot or live settings hold.
    pub reload: bool,
    /// One line for the document.
    pub summary: &'static str,
    /// Tag (resource) for the document.
    pub tag: &'static str,
    /// The JSON body's schema.
    pub request: Option<SchemaFn>,
    /// The query parameters' schema (an object).
    pub query: Option<SchemaFn>,
    /// The success status.
    pub status: u16,
    /// The success body's schema (`None`: no body).
    pub response: Option<SchemaFn>,
    /// The success body's content type when not JSON.
    pub response_type: Option<&'static str>,
    /// The handler.
    pub handler: Handler,
}

impl RouteDef {
    /// Matches `path` against this route's pattern, returning the params.
    pub fn matches(&self, path: &str) -> Option<Vec<String>> {
        let mut params = Vec::new();
        let mut want = self.path.split('/');
        let mut got = path.split('/');
        loop {
            match (want.next(), got.next()) {
                (None, None) => return Some(params),
                (Some(w), Some(g)) if w.starts_with('{') => {
                    if g.is_empty() {
                        return None;
                    }
                    params.push(gproxy_protocol::url::percent_decode(g).into_owned());
                }
                (Some(w), Some(g)) if w == g => {}
                _ => return None,
            }
        }
    }

    /// Whether this route writes.
    pub fn is_write(&self) -> bool {
        !matches!(self.method, Method::GET | Method::HEAD)
    }
}

/// Builds a [`RouteDef`]: `route!(METHOD "path", access, "action", reload,
/// "tag", "summary", Request, Query, status, Response, handler)` where
/// `Request`, `Query` and `Response` are a type or `()` for none.
#[macro_export]
macro_rules! route {
    (@s ()) => { None };
    (@s ($t:ty)) => { $crate::routes::schema::<$t>() };
    ($method:ident $path:literal, $access:expr, $action:literal, $reload:literal, $tag:literal, $summary:literal,
     $req:tt, $query:tt, $status:literal, $resp:tt, $handler:path) => {
        $crate::routes::RouteDef {
            method: http::Method::$method,
            path: $path,
            access: $access,
            action: $action,
            reload: $reload,
            summary: $summary,
            tag: $tag,
            request: route!(@s $req),
            query: route!(@s $query),
            status: $status,
            response: route!(@s $resp),
            response_type: None,
            handler: |call| Box::pin($handler(call)),
        }
    };
}
