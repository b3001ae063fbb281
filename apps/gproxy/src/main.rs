//! gproxy: a self-hosted, high-performance LLM gateway. This binary only
//! wires things together: parse the CLI, start tracing, bootstrap, serve
//! (or, with `healthcheck`, probe a running instance and exit).

mod healthcheck;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use gproxy_router::{CoreListeners, Gateway, StartupArgs};
use tokio::net::TcpListener;

/// The global allocator: jemalloc, with a background thread that returns
/// freed memory to the system (`dirty_decay_ms` 5 s, set at build time in
/// `.cargo/config.toml`; `_RJEM_MALLOC_CONF` overrides it at run time).
/// mimalloc, used before, was as fast but kept the memory of a burst
/// resident: it purges only when the thread that owns the pages allocates
/// again, and the gateway's workers go idle after a burst. See
/// docs/benchmarks.md for the numbers. Not on Windows, where jemalloc
/// does not build: the system allocator serves there.
#[cfg(not(windows))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Log lines queued for the writer thread before logging blocks. The
/// queue is allocated whole at start (32 bytes a line): the library's
/// default of 128,000 lines held 4 MB for nothing.
const LOG_QUEUE_LINES: usize = 16_384;

/// How long shutdown waits for the usage sink to flush, and then for the
/// queued trace spans to be exported.
const SINK_FLUSH_DEADLINE: Duration = Duration::from_secs(10);

/// How connections are spread over threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum RuntimeMode {
    /// One accept loop and single-threaded runtime per serving thread
    /// (SO_REUSEPORT): a request stays on the thread that accepted its
    /// connection. Least CPU per request (docs/benchmarks.md).
    PerCore,
    /// One work-stealing runtime for all connections: a busy thread's
    /// requests can move to an idle one, so a single HTTP/2 connection
    /// carrying many requests can use every core.
    Shared,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// A self-hosted, high-performance LLM gateway.
#[derive(Debug, Parser)]
#[command(name = "gproxy", version, about)]
struct Cli {
    /// What to do instead of serving
    #[command(subcommand)]
    command: Option<Command>,
    /// Listen address [default: 127.0.0.1]
    #[arg(long, env = "GPROXY_HOST")]
    host: Option<String>,
    /// Listen port; 0 picks a free one [default: 8787]
    #[arg(long, env = "GPROXY_PORT")]
    port: Option<u16>,
    /// Data directory (holds the SQLite database by default) [default: ./data]
    #[arg(long, env = "GPROXY_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Database DSN: sqlite://..., postgres://..., mysql://... [default: SQLite file in the data dir]
    #[arg(long, env = "GPROXY_DSN", hide_env_values = true)]
    dsn: Option<String>,
    /// Admin key; generated and printed once when none exists anywhere
    #[arg(long, env = "GPROXY_ADMIN_KEY", hide_env_values = true)]
    admin_key: Option<String>,
    /// Declarative config file (TOML); entries new or changed since the last start are applied
    #[arg(long, env = "GPROXY_CONFIG")]
    config: Option<PathBuf>,
    /// Egress proxy for upstream calls: http://host:port or socks5://host:port
    #[arg(long, env = "GPROXY_PROXY", hide_env_values = true)]
    proxy: Option<String>,
    /// Master key sealing credential secrets at rest (32 bytes, base64 or
    /// hex) [default: <data dir>/master.key, generated on first start]
    #[arg(long, env = "GPROXY_MASTER_KEY", hide_env_values = true)]
    master_key: Option<String>,
    /// Log filter (tracing EnvFilter syntax)
    #[arg(long, env = "GPROXY_LOG", default_value = "info")]
    log: String,
    /// Log format
    #[arg(long, env = "GPROXY_LOG_FORMAT", value_enum, default_value = "text")]
    log_format: LogFormat,
    /// How connections are spread over threads [default: per-core on
    /// Linux, else shared]
    #[arg(long, env = "GPROXY_RUNTIME", value_enum)]
    runtime: Option<RuntimeMode>,
    /// Threads serving connections [default: one per CPU]
    #[arg(long, env = "GPROXY_THREADS", value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Ask the gproxy listening on --host/--port (GPROXY_HOST/GPROXY_PORT;
    /// a wildcard host means 127.0.0.1) for GET /health: exit 0 on a 200,
    /// 1 otherwise. For container health checks in images without curl.
    Healthcheck {
        /// Seconds allowed for each of connect, send and read
        #[arg(long, default_value_t = 5)]
        timeout_secs: u64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Healthcheck { timeout_secs }) = cli.command {
        let target = healthcheck::target(cli.host.as_deref(), cli.port);
        return match healthcheck::probe(&target, Duration::from_secs(timeout_secs.max(1))) {
            Ok(status) => {
                println!("gproxy healthcheck: {target}: {status}");
                ExitCode::SUCCESS
            }
            Err(why) => {
                eprintln!("gproxy healthcheck: {target}: {why}");
                ExitCode::FAILURE
            }
        };
    }
    // Kept to the end of `main`: dropping it flushes the log lines queued.
    let _log_writer = init_tracing(&cli.log, cli.log_format);
    match gproxy_router::fdlimit::raise_open_file_limit() {
        Ok(raised) if raised.before != raised.after => tracing::info!(
            from = %show_limit(raised.before),
            to = %show_limit(raised.after),
            "open-file limit raised to the hard limit"
        ),
        Ok(raised) => tracing::info!(
            limit = %show_limit(raised.after),
            "open-file limit already at the hard limit"
        ),
        Err(e) => tracing::warn!(error = %e, "cannot raise the open-file limit"),
    }
    let threads = cli.threads.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        usize::from,
    );
    // Linux spreads connections over SO_REUSEPORT sockets; macOS and the
    // BSDs hand them all to one socket, so per core would serve on one
    // thread there.
    let mode = cli.runtime.unwrap_or(if cfg!(target_os = "linux") {
        RuntimeMode::PerCore
    } else {
        RuntimeMode::Shared
    });
    // Per core, the main runtime keeps only the background work (the
    // usage writer, reloads, subscriptions): one worker.
    let workers = match mode {
        RuntimeMode::PerCore => 1,
        RuntimeMode::Shared => threads,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("gproxy: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli, mode, threads)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("gproxy: error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli, mode: RuntimeMode, threads: usize) -> Result<(), String> {
    let ui = gproxy_ui::Ui::embedded();
    let ui_built = ui.is_built();
    let gateway = Gateway::start_with(
        StartupArgs {
            host: cli.host,
            port: cli.port,
            data_dir: cli.data_dir,
            dsn: cli.dsn,
            admin_key: cli.admin_key,
            config: cli.config,
            proxy: cli.proxy,
            master_key: cli.master_key,
        },
        |router| {
            router.with_site(
                move |method: &hyper::Method, path: &str, headers: &hyper::HeaderMap| {
                    ui.serve(method, path, headers)
                },
            )
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    let boot = gateway.bootstrapped();

    let addr = format!("{}:{}", boot.settings.host, boot.settings.port);
    let cannot_listen = |e: std::io::Error| format!("cannot listen on {addr}: {e}");
    let listening = match mode {
        RuntimeMode::PerCore => Listening::PerCore(
            CoreListeners::bind(&addr, threads)
                .await
                .map_err(cannot_listen)?,
        ),
        RuntimeMode::Shared => {
            Listening::Shared(TcpListener::bind(&addr).await.map_err(cannot_listen)?)
        }
    };
    let local: SocketAddr = match &listening {
        Listening::PerCore(l) => l.local_addr(),
        Listening::Shared(l) => l.local_addr().map_err(|e| e.to_string())?,
    };

    println!(
        "gproxy {} listening on http://{local}",
        env!("CARGO_PKG_VERSION")
    );
    println!("  data dir: {}", boot.settings.data_dir.display());
    println!("  database: {}", boot.settings.dsn_redacted());
    println!("  master key: {}", boot.master_key_source);
    if ui_built {
        println!("  web UI: http://{local}/");
    } else {
        println!(
            "  web UI: not in this build (http://{local}/ says how to get it; see docs/ui.md)"
        );
    }
    if let Some(key) = &boot.generated_admin_key {
        println!("  admin key (generated; shown only this once, store it now): {key}");
    }
    // The name `--runtime` takes: "per-core" or "shared".
    let runtime = mode
        .to_possible_value()
        .map(|v| v.get_name().to_owned())
        .unwrap_or_default();
    println!("  threads: {threads} ({runtime})");
    tracing::info!(%local, threads, runtime, "serving");

    match listening {
        Listening::PerCore(listeners) => {
            gproxy_router::serve_per_core(listeners, gateway.router().clone(), shutdown_signal())
                .await
                .map_err(|e| format!("cannot start the serving threads: {e}"))?;
        }
        Listening::Shared(listener) => {
            gproxy_router::serve(listener, gateway.router().clone(), shutdown_signal()).await;
        }
    }
    tracing::info!("shutting down: flushing usage records");
    gateway.shutdown(SINK_FLUSH_DEADLINE).await;
    tracing::info!("stopped");
    Ok(())
}

/// Where connections are accepted.
enum Listening {
    PerCore(CoreListeners),
    Shared(TcpListener),
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// A resource limit for the log (`None` is unlimited).
fn show_limit(limit: Option<u64>) -> String {
    limit.map_or_else(|| "unlimited".to_owned(), |l| l.to_string())
}

/// Logs go to stderr through `tracing-appender`'s writer thread, so a
/// request never waits on a slow stderr (a pipe nobody drains fast, a
/// terminal); formatting stays on the logging thread. The queue is not
/// lossy: when [`LOG_QUEUE_LINES`] lines are waiting, logging blocks as
/// before rather than dropping lines silently.
fn init_tracing(filter: &str, format: LogFormat) -> tracing_appender::non_blocking::WorkerGuard {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .buffered_lines_limit(LOG_QUEUE_LINES)
        .thread_name("gproxy-log")
        .finish(std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(writer);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
    guard
}
