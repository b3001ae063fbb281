//! The whole gateway assembled in one call, for the `gproxy` binary and
//! for applications that embed gproxy in their own HTTP service.
//!
//! [`Gateway::start`] runs what the binary runs before it listens: start-up
//! ([`gproxy_core::bootstrap()`]: settings, database, migrations, config
//! file, master key, admin key), the engine with its usage sink, the live
//! control plane (reloads after admin writes, changes from other instances)
//! and the admin API. What is left to the caller is where requests come
//! from: [`crate::serve`] on a listener (the binary), or
//! [`Gateway::service`] mounted in an existing axum or hyper application
//! (see `examples/embed_axum.rs` and docs/embedding.md).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use gproxy_core::control::Control;
use gproxy_core::observe::Observability;
use gproxy_core::sync::SyncWatcher;
use gproxy_core::{Bootstrapped, CoreError, ProxyBody, StartupArgs, bootstrap, build_engine};
use gproxy_storage::UsageSinkHandle;
use http::{Request, Response};

use crate::Router;

/// A running gateway: the router over a live engine, with the tasks that
/// keep it current and write its request logs.
///
/// Dropping it stops the change watcher; call [`Gateway::shutdown`] to
/// also flush the request logs still queued.
#[derive(Debug)]
pub struct Gateway {
    router: Arc<Router>,
    boot: Bootstrapped,
    sink: UsageSinkHandle,
    /// Follows changes other instances make (Redis or a version poll);
    /// stops when dropped.
    watcher: Option<SyncWatcher>,
    /// Metrics and the trace exporter (its queued spans are sent at
    /// shutdown).
    observe: Arc<Observability>,
}

impl Gateway {
    /// Starts the gateway: `args` are the binary's flags (`data_dir`,
    /// `dsn`, `config`, `admin_key`, `master_key`...; `host` and `port`
    /// only matter to [`crate::serve`]). Needs a running tokio runtime.
    pub async fn start(args: StartupArgs) -> Result<Gateway, CoreError> {
        Gateway::start_with(args, |router| router).await
    }

    /// [`Gateway::start`], with `configure` applied to the router before
    /// it is shared (e.g. [`Router::with_site`] to serve a web UI).
    pub async fn start_with(
        args: StartupArgs,
        configure: impl FnOnce(Router) -> Router,
    ) -> Result<Gateway, CoreError> {
        let boot = bootstrap(args).await?;
        let (engine, sink) = build_engine(&boot)?;
        let engine = Arc::new(engine);
        let control = Arc::new(Control::new(
            boot.storage.clone(),
            boot.registry.clone(),
            engine.clone(),
        ));
        control.init().await?;
        // Changes other instances make (through the shared database) are
        // served here too: the same reload as after a local admin write.
        let watcher = engine
            .change_bus()
            .map(|bus| bus.spawn_watcher(control.reloader()));
        let admin = gproxy_admin::AdminApi::for_instance(
            boot.storage.clone(),
            boot.registry.clone(),
            engine.clone(),
            control,
        );
        let observe = engine.observe().clone();
        let router = Arc::new(configure(Router::new(engine).with_admin(admin)));
        Ok(Gateway {
            router,
            boot,
            sink,
            watcher,
            observe,
        })
    }

    /// The router: [`Router::handle`] answers one request; [`crate::serve`]
    /// runs the gateway's own accept loop over it.
    pub fn router(&self) -> &Arc<Router> {
        &self.router
    }

    /// The router as a cloneable [`tower_service::Service`], to mount in
    /// an axum `Router` (`nest_service`, `fallback_service`) or to hand to
    /// hyper through `hyper_util::service::TowerToHyperService`.
    pub fn service(&self) -> GatewayService {
        GatewayService {
            router: self.router.clone(),
        }
    }

    /// What start-up resolved: the merged settings, the storage, the admin
    /// key when it was generated now (show it once), where the master key
    /// came from.
    pub fn bootstrapped(&self) -> &Bootstrapped {
        &self.boot
    }

    /// Stops following other instances' changes, flushes the queued
    /// request logs and then the queued trace spans, waiting at most
    /// `deadline` for each. Call it after the server stopped taking
    /// requests.
    pub async fn shutdown(self, deadline: Duration) {
        drop(self.watcher);
        self.sink.shutdown(deadline).await;
        self.observe.flush(deadline).await;
    }
}

/// [`Router::handle`] as a [`tower_service::Service`]: cheap to clone
/// (one `Arc`), always ready, never fails (every error is a response in
/// the client's protocol shape).
///
/// The request path is the gateway's own (`/v1/chat/completions`,
/// `/admin/api/...`, `/health`): mount it under a prefix with a router
/// that strips the prefix (axum's `nest_service` does).
#[derive(Debug, Clone)]
pub struct GatewayService {
    router: Arc<Router>,
}

impl<B> tower_service::Service<Request<B>> for GatewayService
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<ProxyBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<ProxyBody>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let router = self.router.clone();
        Box::pin(async move { router.handle(req).await })
    }
}
