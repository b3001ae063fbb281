//! gproxy-bench: measures what the gateway adds on top of a fast mock
//! upstream — latency, throughput, CPU per request and per streamed chunk,
//! memory idle, under load and with many open streams.
//!
//! The mock (this binary's hidden `mock` subcommand) and the `gproxy`
//! release binary run as separate processes on loopback; this process is
//! the load generator. See `docs/benchmarks.md`.

mod load;
mod procs;
mod report;
mod scenario;
mod stats;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};

use load::{Bounds, Errors, Target};
use procs::{Floor, Gateway, Mock};
use report::{Report, StreamsResult};
use scenario::{Peer, Plan, cpu_us_per};

/// Error type of the bench: any error, with context in its message.
pub type BoxResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Keys in the generated config: the user key clients send, the upstream
/// keys the mock sees.
pub mod keys {
    /// The user key clients present to the gateway.
    pub const USER: &str = "sk-bench-user-0123456789abcdef";
    /// The admin key (set so none is generated and printed).
    pub const ADMIN: &str = "sk-bench-admin-0123456789abcdef";
    /// OpenAI upstream key.
    pub const OPENAI: &str = "sk-upstream-openai-bench";
    /// Anthropic upstream key.
    pub const CLAUDE: &str = "sk-ant-upstream-bench";
    /// Gemini upstream key.
    pub const GEMINI: &str = "AIza-upstream-bench";
}

/// How long a stopped child gets to exit after SIGTERM (long enough for
/// a profiler wrapping gproxy to write its output).
const STOP_GRACE: Duration = Duration::from_secs(60);

/// Streams opened at once in the full run.
const FULL_STREAMS: usize = 2000;

/// Benchmarks gproxy against the testkit mock upstream on loopback.
#[derive(Debug, Parser)]
#[command(name = "gproxy-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Short run (under 60 s): shorter windows, 500 open streams
    #[arg(long)]
    quick: bool,
    /// Connections in the throughput phases
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Streams held open at once [default: 2000, 500 with --quick; 0 skips]
    #[arg(long)]
    streams: Option<usize>,
    /// Delay between the mock's deltas in the open-streams phase, ms
    #[arg(long, default_value_t = 200)]
    stream_delay_ms: u64,
    /// Only these scenarios (comma-separated names)
    #[arg(long, value_delimiter = ',')]
    scenarios: Vec<String>,
    /// JSON report path [default: <target dir>/gproxy-bench.json]
    #[arg(long)]
    out: Option<PathBuf>,
    /// The gproxy binary to measure [default: next to this executable]
    #[arg(long)]
    gproxy: Option<PathBuf>,
    /// Do not run `cargo build --release -p gproxy` first
    #[arg(long)]
    no_build: bool,
    /// The nginx binary for the floor [default: `nginx` on PATH or in /usr/sbin]
    #[arg(long)]
    nginx: Option<PathBuf>,
    /// Skip the floor (nginx in front of the mock) even when nginx is installed
    #[arg(long)]
    no_floor: bool,
    /// Another OpenAI-compatible gateway to measure on the OpenAI Chat
    /// scenarios: NAME=http://HOST:PORT[/PREFIX][@PID] (repeatable; with
    /// @PID its CPU and memory are measured too)
    #[arg(long = "peer")]
    peers: Vec<String>,
    /// The key sent to peers
    #[arg(long, default_value = keys::USER)]
    peer_key: String,
    /// The model asked of peers
    #[arg(long, default_value = "gpt-4o-mini")]
    peer_model: String,
    /// The mock's port (so a peer can be configured to forward to it); 0 picks a free one
    #[arg(long, default_value_t = 0)]
    mock_port: u16,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs only the mock upstream (used by the bench itself)
    #[command(hide = true)]
    Mock {
        /// Port; 0 picks a free one
        #[arg(long, default_value_t = 0)]
        port: u16,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("gproxy-bench: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Some(Command::Mock { port }) => runtime.block_on(mock(port)).map(|()| 0),
        None => runtime.block_on(bench(cli)),
    };
    match result {
        Ok(0) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("gproxy-bench: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The mock process: serves until stdin closes; `stream CHUNKS DELAY_MS`
/// lines on stdin set the stream shape and are answered with `ok`.
async fn mock(port: u16) -> BoxResult<()> {
    let upstream =
        gproxy_testkit::MockUpstream::start_on(std::net::SocketAddr::from(([127, 0, 0, 1], port)))
            .await?;
    upstream.set_recording(false);
    println!("mock listening on {}", upstream.base_url());
    // Stdin is read on a plain thread (tokio's `io-std` is not enabled in
    // the workspace); commands come back over a channel.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(4);
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            if tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    while let Some(line) = rx.recv().await {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["stream", chunks, delay_ms] => {
                let chunks: usize = chunks.parse()?;
                let delay = Duration::from_millis(delay_ms.parse()?);
                upstream.set_stream_chunks(chunks, delay);
                println!("ok");
            }
            _ => println!("unknown command: {line}"),
        }
    }
    Ok(())
}

/// Durations of a run.
fn plan(quick: bool, connections: usize) -> Plan {
    let secs = Duration::from_secs_f64;
    let (lat_warm, lat, tp_warm, tp) = if quick {
        (0.2, 1.2, 0.3, 1.5)
    } else {
        (1.0, 10.0, 2.0, 10.0)
    };
    Plan {
        latency: Bounds {
            warmup: secs(lat_warm),
            window: secs(lat),
            max_requests: 50_000,
        },
        throughput: Bounds {
            warmup: secs(tp_warm),
            window: secs(tp),
            max_requests: 5_000_000,
        },
        connections,
        ticks_per_sec: procs::clock_ticks(),
    }
}

/// The whole run; returns the number of errors.
async fn bench(cli: Cli) -> BoxResult<u64> {
    let started = std::time::Instant::now();
    if cfg!(debug_assertions) {
        eprintln!("gproxy-bench: warning: this is a debug build; run with `cargo run --release`");
    }
    let machine = procs::Machine::read();
    let streams = cli
        .streams
        .unwrap_or(if cli.quick { 500 } else { FULL_STREAMS });
    let needed = (streams as u64 + cli.connections as u64) * 2 + 256;
    if let Some(limit) = procs::open_files_limit()
        && limit < needed
    {
        return Err(format!(
            "open-file limit {limit} is below the {needed} this run needs: run `ulimit -n {needed}` \
             first, or pass --streams/--connections with smaller values"
        )
        .into());
    }
    let bin = procs::gproxy_binary(cli.gproxy.clone(), !cli.no_build)?;
    let mut selected = scenario::all()?;
    if !cli.scenarios.is_empty() {
        selected.retain(|s| cli.scenarios.iter().any(|n| n == s.name));
        if selected.is_empty() {
            return Err("--scenarios matched no scenario".into());
        }
    }
    let plan = plan(cli.quick, cli.connections);
    let peers = cli
        .peers
        .iter()
        .map(|p| Peer::parse(p, &cli.peer_key, &cli.peer_model))
        .collect::<BoxResult<Vec<_>>>()?;

    let mut mock = Mock::start(cli.mock_port).await?;
    let gateway = Gateway::start(&bin, mock.addr, "warn").await?;
    eprintln!(
        "gproxy-bench: mock on {} (pid {}), gproxy on {} (pid {}, GPROXY_LOG=warn)",
        mock.addr, mock.proc.pid, gateway.addr, gateway.proc.pid
    );
    let floor = match Floor::find(cli.nginx.clone()) {
        _ if cli.no_floor => None,
        Some(nginx) => {
            let floor = Floor::start(&nginx, mock.addr).await?;
            eprintln!(
                "gproxy-bench: floor: {} on {} (pid {}, 1 worker, upstream keepalive)",
                floor.version, floor.addr, floor.proc.pid
            );
            Some(floor)
        }
        None => {
            eprintln!(
                "gproxy-bench: no nginx found (apt-get install nginx-light, or --nginx PATH): \
                 the floor is skipped and no ratio to it is reported"
            );
            None
        }
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    let gateway_idle = gateway.proc.mem()?;
    let mock_idle = mock.proc.mem()?;

    let mut results = Vec::new();
    for s in selected.iter().filter(|s| !s.logging) {
        eprintln!("gproxy-bench: {} ({})", s.name, s.about);
        results.push(scenario::run(s, &mut mock, &gateway, floor.as_ref(), &peers, &plan).await?);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let gateway_idle_after_load = gateway.proc.mem()?;
    let usage_sink = load::get_json(gateway.addr, "/health", keys::ADMIN)
        .await
        .map(|h| h["usage_sink"].clone())
        .unwrap_or(serde_json::Value::Null);
    gateway.proc.stop(STOP_GRACE).await;

    // Open streams on a fresh gateway, so its memory is the streams' alone.
    let mut stream_errors = 0;
    let streams_result = if streams > 0 {
        let fresh = Gateway::start(&bin, mock.addr, "warn").await?;
        eprintln!(
            "gproxy-bench: {streams} open streams, gproxy pid {}",
            fresh.proc.pid
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
        // The local tokenizer's tables (`o200k_base`), built once per
        // process on its first count and kept, are built before the first
        // sample: counting the streams the cut leaves (billed by the tokens
        // streamed) builds them otherwise, and they are not memory the
        // streams left behind. Their size is reported apart.
        let unwarmed = fresh.proc.mem()?;
        load::post_json(
            fresh.addr,
            "/v1/gproxy/cost-estimate",
            keys::USER,
            &serde_json::json!({
                "protocol": "openai_chat",
                "model": "openai/gpt-4o-mini",
                "body": {"model": "openai/gpt-4o-mini",
                         "messages": [{"role": "user", "content": "hi"}]},
            }),
        )
        .await?;
        // Past jemalloc's 5 s decay: what building them freed is returned.
        tokio::time::sleep(Duration::from_secs(6)).await;
        let idle = fresh.proc.mem()?;
        let errors = Arc::new(Errors::default());
        let r = open_streams(
            &mut mock,
            &fresh,
            streams,
            cli.stream_delay_ms,
            cli.quick,
            &plan,
            &errors,
        )
        .await;
        stream_errors = errors.count();
        for m in errors.messages() {
            eprintln!("gproxy-bench: stream error: {m}");
        }
        fresh.proc.stop(STOP_GRACE).await;
        Some(StreamsResult {
            gateway_idle: idle,
            gateway_before_tokenizer: unwarmed,
            ..r?
        })
    } else {
        None
    };

    let mut log_bytes_per_request = None;
    if let Some(s) = selected.iter().find(|s| s.logging) {
        let logged = Gateway::start(&bin, mock.addr, "info").await?;
        eprintln!(
            "gproxy-bench: {} ({}), gproxy pid {}",
            s.name, s.about, logged.proc.pid
        );
        let before = logged.log_bytes();
        let r = scenario::run(s, &mut mock, &logged, None, &[], &plan).await?;
        let requests = r.measured_requests.0 + r.latency_gateway.count as u64;
        log_bytes_per_request = Some((logged.log_bytes() - before) as f64 / requests.max(1) as f64);
        results.push(r);
        logged.proc.stop(STOP_GRACE).await;
    }
    let floor_version = floor.as_ref().map(|f| f.version.clone());
    if let Some(f) = floor {
        f.proc.stop(STOP_GRACE).await;
    }
    mock.proc.stop(STOP_GRACE).await;

    let per_req = |name: &str| results.iter().find(|r| r.name == name);
    let marginal = match (per_req("chat-stream"), per_req("chat")) {
        (Some(st), Some(plain)) if st.events_per_req > 0.0 => {
            Some((st.gateway_cpu_us_per_req - plain.gateway_cpu_us_per_req) / st.events_per_req)
        }
        _ => None,
    };
    let errors = results.iter().map(|r| r.errors).sum::<u64>() + stream_errors;
    let mut report = Report {
        machine,
        quick: cli.quick,
        gproxy_binary: bin.display().to_string(),
        floor: floor_version,
        clock_ticks_per_sec: plan.ticks_per_sec,
        gateway_idle,
        mock_idle,
        gateway_idle_after_load,
        scenarios: results,
        chat_stream_marginal_cpu_us_per_chunk: marginal,
        streams: streams_result,
        log_bytes_per_request,
        usage_sink,
        targets: Vec::new(),
        errors,
        wall_secs: 0.0,
    };
    report.targets = report::check_targets(&report, FULL_STREAMS);
    report.wall_secs = started.elapsed().as_secs_f64();
    print!("{}", report::table(&report));
    for s in &report.scenarios {
        for m in &s.error_messages {
            println!("  {} error: {m}", s.name);
        }
    }
    let out = match cli.out {
        Some(p) => p,
        None => default_out()?,
    };
    report::write_json(&report, &out)?;
    println!("report written to {}", out.display());
    Ok(errors)
}

/// `<target dir>/gproxy-bench.json`, from this executable's location.
fn default_out() -> BoxResult<PathBuf> {
    let exe = std::env::current_exe()?;
    let target = exe
        .parent()
        .and_then(|p| p.parent())
        .ok_or("cannot find the target directory")?;
    Ok(target.join("gproxy-bench.json"))
}

/// The open-streams phase: slow OpenAI Chat streams through the gateway.
async fn open_streams(
    mock: &mut Mock,
    gateway: &Gateway,
    n: usize,
    delay_ms: u64,
    quick: bool,
    plan: &Plan,
    errors: &Arc<Errors>,
) -> BoxResult<StreamsResult> {
    let window = Duration::from_secs(if quick { 3 } else { 10 });
    let open_within = Duration::from_secs(if quick { 20 } else { 60 });
    // Every stream outlives the opening deadline plus the window.
    let lifetime = open_within + window + Duration::from_secs(10);
    let chunks = usize::try_from(lifetime.as_millis() / u128::from(delay_ms.max(1)))
        .unwrap_or(usize::MAX)
        .max(2);
    mock.set_stream(chunks, delay_ms).await?;
    let target = Target::new(gateway.addr, scenario::chat_stream_spec()?)?;
    let r = load::open_streams(
        &target,
        n,
        open_within,
        window,
        gateway.proc.watch(),
        errors,
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = gateway.proc.mem()?;
    tokio::time::sleep(Duration::from_secs(8)).await;
    let after_10s = gateway.proc.mem()?;
    mock.set_stream(scenario::STREAM_CHUNKS, 0).await?;
    Ok(StreamsResult {
        gateway_idle: after,
        gateway_before_tokenizer: after,
        open: r.open,
        open_secs: r.open_secs,
        delay_ms,
        gateway_peak: r.peak,
        gateway_after_close: after,
        gateway_after_close_10s: after_10s,
        events_per_sec: r.events as f64 / r.elapsed.as_secs_f64().max(1e-9),
        gateway_cpu_us_per_chunk: cpu_us_per(r.cpu.total(), plan.ticks_per_sec, r.events),
        gateway_cpu_user_sys_us_per_chunk: (
            cpu_us_per(r.cpu.user, plan.ticks_per_sec, r.events),
            cpu_us_per(r.cpu.system, plan.ticks_per_sec, r.events),
        ),
    })
}
