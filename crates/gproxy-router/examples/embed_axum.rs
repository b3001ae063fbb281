//! gproxy mounted inside an existing axum application, next to the
//! application's own routes.
//!
//! The application answers `GET /` and `GET /hello/{name}` itself and
//! hands everything under `/llm` to gproxy, which sees the paths without
//! the prefix: `/llm/v1/chat/completions`, `/llm/v1/messages`,
//! `/llm/v1/models`, `/llm/admin/api/...`, `/llm/health`.
//!
//! ```sh
//! # an OpenAI-compatible upstream (base URL up to and including /v1) and its key
//! cargo run -p gproxy-router --example embed_axum -- https://api.openai.com/v1 "$OPENAI_API_KEY"
//! curl http://127.0.0.1:3000/llm/v1/chat/completions \
//!   -H "Authorization: Bearer sk-example-user-0001" \
//!   -d '{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'
//! ```
//!
//! `EMBED_LISTEN` (default `127.0.0.1:3000`) and `EMBED_DATA_DIR` (default
//! `./data-embed`: the SQLite database and the master key) override the
//! defaults. The tests (`tests/embed_axum.rs`) run this file's functions
//! against the testkit's mock upstream, and run the built example too.

use std::error::Error;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::extract::Path as UrlPath;
use axum::routing::get;
use gproxy_router::{Gateway, StartupArgs};
use tokio::net::TcpListener;

/// The key the example's one user sends (`Authorization: Bearer ...`).
pub const USER_KEY: &str = "sk-example-user-0001";

/// The gproxy configuration the example starts with: the built-in `openai`
/// provider pointed at `upstream` with one credential, and one user.
pub fn config(upstream: &str, upstream_key: &str) -> String {
    format!(
        r#"[[providers]]
name = "openai"
base_url = "{upstream}"
[[providers.credentials]]
api_key = "{upstream_key}"

[[users]]
name = "example"
keys = ["{USER_KEY}"]
"#
    )
}

/// Starts gproxy with its SQLite database and master key in `data_dir`
/// and [`config`] as its config file.
pub async fn start_gateway(
    data_dir: &Path,
    upstream: &str,
    upstream_key: &str,
) -> Result<Gateway, Box<dyn Error + Send + Sync>> {
    std::fs::create_dir_all(data_dir)?;
    let config_path = data_dir.join("gproxy.toml");
    std::fs::write(&config_path, config(upstream, upstream_key))?;
    Gateway::start(StartupArgs {
        data_dir: Some(data_dir.to_owned()),
        config: Some(config_path),
        ..StartupArgs::default()
    })
    .await
    .map_err(Into::into)
}

/// The application: its own routes, and gproxy under `/llm`.
pub fn app(gateway: &Gateway) -> axum::Router {
    axum::Router::new()
        .route("/", get(|| async { "my application\n" }))
        .route(
            "/hello/{name}",
            get(|UrlPath(name): UrlPath<String>| async move { format!("hello, {name}\n") }),
        )
        .nest_service("/llm", gateway.service())
}

/// Serves [`app`] on `listener` until `shutdown` resolves, then flushes
/// the request logs gproxy still holds.
pub async fn serve(
    listener: TcpListener,
    gateway: Gateway,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(&gateway))
        .with_graceful_shutdown(shutdown)
        .await?;
    gateway.shutdown(Duration::from_secs(10)).await;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error + Send + Sync>> {
    let mut args = std::env::args().skip(1);
    let usage =
        "usage: embed_axum <upstream base URL, e.g. https://api.openai.com/v1> <upstream key>";
    let upstream = args.next().ok_or(usage)?;
    let upstream_key = args.next().ok_or(usage)?;
    let data_dir = std::env::var_os("EMBED_DATA_DIR")
        .map_or_else(|| PathBuf::from("data-embed"), PathBuf::from);
    let listen: SocketAddr = std::env::var("EMBED_LISTEN")
        .unwrap_or_else(|_| "127.0.0.1:3000".to_owned())
        .parse()?;

    let gateway = start_gateway(&data_dir, &upstream, &upstream_key).await?;
    if let Some(key) = &gateway.bootstrapped().generated_admin_key {
        println!("gproxy admin key (generated; shown only this once): {key}");
    }
    let listener = TcpListener::bind(listen).await?;
    println!("listening on http://{}", listener.local_addr()?);
    serve(listener, gateway, async {
        // No Ctrl-C listener: the process then just ends.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    })
    .await?;
    Ok(())
}
