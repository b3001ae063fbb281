//! The report: every figure in one serializable struct, the target checks,
//! the stdout table and the JSON file.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::BoxResult;
use crate::procs::{Machine, Mem};
use crate::scenario::{Beside, ScenarioResult};

/// The open-streams phase.
#[derive(Debug, Clone, Serialize)]
pub struct StreamsResult {
    /// Streams open at once.
    pub open: usize,
    /// Seconds to open them all (first bytes received on each).
    pub open_secs: f64,
    /// Delay between the mock's deltas, ms.
    pub delay_ms: u64,
    /// The (fresh) gateway's memory before the streams (its tokenizer
    /// built: one token count done).
    pub gateway_idle: Mem,
    /// The same gateway's memory before that count: the difference is the
    /// tokenizer's tables, built once per process.
    pub gateway_before_tokenizer: Mem,
    /// Gateway memory at its largest sample while all were open.
    pub gateway_peak: Mem,
    /// Gateway memory 2 s after they were all cut.
    pub gateway_after_close: Mem,
    /// Gateway memory 10 s after they were all cut.
    pub gateway_after_close_10s: Mem,
    /// Events per second flowing through the gateway in the window.
    pub events_per_sec: f64,
    /// Gateway CPU per event in the window, µs (one event per read and
    /// write: nothing to batch).
    pub gateway_cpu_us_per_chunk: f64,
    /// The same, user and system apart, µs.
    pub gateway_cpu_user_sys_us_per_chunk: (f64, f64),
}

/// One target and whether it was met.
#[derive(Debug, Clone, Serialize)]
pub struct TargetCheck {
    /// What is measured.
    pub what: String,
    /// The target.
    pub target: String,
    /// The measured value (worst case over the scenarios it applies to).
    pub measured: String,
    /// Met, not met, or `None` when not measured in this run.
    pub met: Option<bool>,
}

/// Everything a run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The machine.
    pub machine: Machine,
    /// `--quick` run.
    pub quick: bool,
    /// The gateway binary measured.
    pub gproxy_binary: String,
    /// The floor's version (nginx), when it ran.
    pub floor: Option<String>,
    /// Clock ticks per second used for CPU figures.
    pub clock_ticks_per_sec: u64,
    /// Gateway memory 1 s after start, before any request.
    pub gateway_idle: Mem,
    /// Mock memory at the same moment (a plain tokio + hyper server).
    pub mock_idle: Mem,
    /// Gateway memory after the scenarios, idle again for 2 s.
    pub gateway_idle_after_load: Mem,
    /// Per scenario.
    pub scenarios: Vec<ScenarioResult>,
    /// Marginal gateway CPU per streamed event: (stream scenario CPU per
    /// request − the non-stream one) / events per request, µs.
    pub chat_stream_marginal_cpu_us_per_chunk: Option<f64>,
    /// The open-streams phase.
    pub streams: Option<StreamsResult>,
    /// Bytes the `GPROXY_LOG=info` gateway logged, per request.
    pub log_bytes_per_request: Option<f64>,
    /// The gateway's usage-sink counters at the end (`/health`).
    pub usage_sink: serde_json::Value,
    /// Target checks.
    pub targets: Vec<TargetCheck>,
    /// Errors over the whole run (must be 0).
    pub errors: u64,
    /// Wall time of the whole run, seconds.
    pub wall_secs: f64,
}

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

/// Cross-protocol scenarios (`claude-to-chat`, ...): reported, but the
/// targets are for same-protocol traffic.
fn converted(s: &ScenarioResult) -> bool {
    s.name.contains("-to-")
}

/// The same-protocol scenarios the per-request targets apply to.
fn plain(s: &ScenarioResult) -> bool {
    s.events_per_req == 0.0 && s.name != "chat-logged" && !converted(s)
}

/// Worst value over `items`, with the scenario it came from.
fn worst<'a>(
    items: impl Iterator<Item = &'a ScenarioResult>,
    value: impl Fn(&ScenarioResult) -> f64,
    higher_is_worse: bool,
) -> Option<(f64, &'static str)> {
    items.map(|s| (value(s), s.name)).reduce(
        |a, b| {
            if (b.0 > a.0) == higher_is_worse { b } else { a }
        },
    )
}

/// `a / b` for two added latencies; `None` when either is not positive
/// (noise: a difference of two percentiles can be negative).
fn ratio(a: f64, b: f64) -> Option<f64> {
    (a > 0.0 && b > 0.0).then(|| a / b)
}

/// Checks the targets of issues 6 and 18 against the figures.
pub fn check_targets(r: &Report, full_streams: usize) -> Vec<TargetCheck> {
    let mut out = Vec::new();
    let mut push =
        |what: &str, target: &str, found: Option<(f64, String)>, limit: f64, below: bool| {
            let (measured, met) = match found {
                Some((v, text)) => (text, Some(if below { v <= limit } else { v >= limit })),
                None => ("not measured".to_owned(), None),
            };
            out.push(TargetCheck {
                what: what.to_owned(),
                target: target.to_owned(),
                measured,
                met,
            });
        };
    let scen = || r.scenarios.iter();
    let fmt =
        |w: Option<(f64, &str)>, unit: &str| w.map(|(v, n)| (v, format!("{v:.1} {unit} ({n})")));
    push(
        "added p99 latency, concurrency 1, same-protocol non-stream",
        "<= 100 µs",
        fmt(
            worst(
                scen().filter(|s| plain(s)),
                |s| s.latency_added.p99_us,
                true,
            ),
            "µs",
        ),
        100.0,
        true,
    );
    push(
        "gateway CPU per same-protocol request",
        "<= 20 µs",
        fmt(
            worst(
                scen().filter(|s| plain(s)),
                |s| s.gateway_cpu_us_per_req,
                true,
            ),
            "µs",
        ),
        20.0,
        true,
    );
    push(
        "gateway CPU per streamed chunk (100-delta streams, all-in)",
        "<= 2 µs",
        fmt(
            worst(
                scen().filter(|s| s.gateway_cpu_us_per_chunk.is_some() && !converted(s)),
                |s| s.gateway_cpu_us_per_chunk.unwrap_or(0.0),
                true,
            ),
            "µs",
        ),
        2.0,
        true,
    );
    push(
        "gateway idle RSS",
        "<= 25 MB",
        Some((
            mb(r.gateway_idle.rss_kb),
            format!("{:.1} MB", mb(r.gateway_idle.rss_kb)),
        )),
        25.0,
        true,
    );
    let streams = r
        .streams
        .as_ref()
        .filter(|s| s.open >= full_streams)
        .map(|s| {
            let v = mb(s.gateway_peak.rss_kb);
            (v, format!("{v:.1} MB at {} streams", s.open))
        });
    push(
        "gateway RSS with 2,000 open streams",
        "< 150 MB",
        streams,
        150.0,
        true,
    );
    let returned = r
        .streams
        .as_ref()
        .filter(|s| s.open >= full_streams)
        .map(|s| {
            let ratio =
                s.gateway_after_close_10s.rss_kb as f64 / s.gateway_idle.rss_kb.max(1) as f64;
            (
                ratio,
                format!(
                    "{ratio:.2} ({:.1} MB, {:.1} MB before)",
                    mb(s.gateway_after_close_10s.rss_kb),
                    mb(s.gateway_idle.rss_kb)
                ),
            )
        });
    push(
        "gateway RSS 10 s after 2,000 streams are cut / before them",
        "<= 1.5",
        returned,
        1.5,
        true,
    );
    push(
        "throughput through the gateway / direct",
        ">= 0.6 at 64 connections",
        worst(
            scen().filter(|s| s.name != "chat-logged" && !converted(s)),
            |s| s.ratio,
            false,
        )
        .map(|(v, n)| (v, format!("{v:.2} ({n})"))),
        0.6,
        false,
    );

    // Issue 18: gproxy against the floor (nginx in front of the same mock,
    // same run), same-protocol non-stream scenarios, worst ratio.
    let vs_floor = |value: &dyn Fn(&ScenarioResult, &Beside) -> Option<f64>, higher_is_worse| {
        scen()
            .filter(|s| plain(s))
            .filter_map(|s| Some((value(s, s.floor.as_ref()?)?, s.name)))
            .reduce(|a, b| if (b.0 > a.0) == higher_is_worse { b } else { a })
            .map(|(v, n)| (v, format!("{v:.2}x ({n})")))
    };
    push(
        "gateway CPU per request / nginx's, 64 connections",
        "<= 1.3",
        vs_floor(
            &|s, f| Some(s.gateway_cpu_us_per_req / f.cpu_us_per_req?),
            true,
        ),
        1.3,
        true,
    );
    push(
        "gateway CPU per request / nginx's, 1 connection",
        "<= 1.5",
        vs_floor(
            &|s, f| Some(s.gateway_cpu_us_per_req_c1 / f.cpu_us_per_req_c1?),
            true,
        ),
        1.5,
        true,
    );
    push(
        "throughput through the gateway / through nginx, 64 connections",
        ">= 0.85",
        vs_floor(&|s, f| Some(s.gateway_rps / f.rps), false),
        0.85,
        false,
    );
    push(
        "added p50 latency, c=1: gateway / nginx",
        "<= 1.3",
        vs_floor(
            &|s, f| ratio(s.latency_added.p50_us, f.latency_added.p50_us),
            true,
        ),
        1.3,
        true,
    );
    push(
        "added p99 latency, c=1: gateway / nginx",
        "<= 1.3",
        vs_floor(
            &|s, f| ratio(s.latency_added.p99_us, f.latency_added.p99_us),
            true,
        ),
        1.3,
        true,
    );
    let cross = scen()
        .find(|s| s.name == "claude-to-chat")
        .zip(scen().find(|s| s.name == "chat"))
        .map(|(c, p)| {
            let v = c.gateway_cpu_us_per_req / p.gateway_cpu_us_per_req;
            (v, format!("{v:.2}x (claude-to-chat / chat)"))
        });
    push(
        "cross-protocol CPU per request / same-protocol",
        "<= 1.5",
        cross,
        1.5,
        true,
    );
    out
}

/// The human-readable table.
pub fn table(r: &Report) -> String {
    let mut t = String::new();
    let m = &r.machine;
    let _ = writeln!(
        t,
        "\ngproxy-bench{}: {} CPUs ({}), {} MiB, kernel {}, load {:.2} at start",
        if r.quick { " --quick" } else { "" },
        m.cpus,
        m.cpu_model,
        m.mem_total_mib,
        m.kernel,
        m.load_avg_1m
    );
    let _ = writeln!(
        t,
        "\n{:<15} {:>31} {:>9} {:>9} {:>6} {:>8} {:>8} {:>8} {:>7} {:>6}",
        "scenario",
        "added µs p50/p90/p99/max (c=1)",
        "gw req/s",
        "dir req/s",
        "ratio",
        "gw µs/rq",
        "mock µs",
        "µs/chunk",
        "RSS MB",
        "errors"
    );
    for s in &r.scenarios {
        let a = &s.latency_added;
        let added = format!(
            "{:.0}/{:.0}/{:.0}/{:.0}",
            a.p50_us, a.p90_us, a.p99_us, a.max_us
        );
        let chunk = s
            .gateway_cpu_us_per_chunk
            .map_or_else(|| "-".to_owned(), |c| format!("{c:.2}"));
        let _ = writeln!(
            t,
            "{:<15} {:>31} {:>9.0} {:>9.0} {:>6.2} {:>8.1} {:>8.1} {:>8} {:>7.1} {:>6}",
            s.name,
            added,
            s.gateway_rps,
            s.direct_rps,
            s.ratio,
            s.gateway_cpu_us_per_req,
            s.mock_cpu_us_per_req,
            chunk,
            mb(s.gateway_mem_under_load.rss_kb),
            s.errors
        );
    }
    let _ = writeln!(
        t,
        "\nlatency at c=1, µs p50 / p99 (direct -> gateway), and gateway CPU per request at c=1:"
    );
    for s in &r.scenarios {
        let (d, g) = (&s.latency_direct, &s.latency_gateway);
        let _ = writeln!(
            t,
            "  {:<15} {:>7.0} / {:<7.0} -> {:>7.0} / {:<7.0} ({} samples each), {:.1} µs CPU",
            s.name, d.p50_us, d.p99_us, g.p50_us, g.p99_us, g.count, s.gateway_cpu_us_per_req_c1
        );
    }
    let _ = writeln!(
        t,
        "\nCPU µs per request at {} connections: gateway (user+sys) / mock (user+sys) / load generator (gateway run, direct run):",
        r.scenarios.first().map_or(0, |s| s.connections)
    );
    for s in &r.scenarios {
        let _ = writeln!(
            t,
            "  {:<15} {:>7.1} ({:.1}+{:.1}) / {:>6.1} ({:.1}+{:.1}) / {:>6.1}, {:>6.1}",
            s.name,
            s.gateway_cpu_us_per_req,
            s.gateway_cpu_user_sys_us_per_req.0,
            s.gateway_cpu_user_sys_us_per_req.1,
            s.mock_cpu_us_per_req,
            s.mock_cpu_user_sys_us_per_req.0,
            s.mock_cpu_user_sys_us_per_req.1,
            s.bench_cpu_us_per_req.0,
            s.bench_cpu_us_per_req.1
        );
    }
    if let Some(floor) = &r.floor {
        let _ = writeln!(
            t,
            "\nbeside gproxy, same requests ({floor} as the floor; peers from --peer):"
        );
    }
    let opt = |v: Option<f64>, digits: usize| {
        v.map_or_else(|| "-".to_owned(), |v| format!("{v:.digits$}"))
    };
    for s in &r.scenarios {
        for b in s.floor.iter().chain(&s.peers) {
            let _ = writeln!(
                t,
                "  {:<15} {:<10} added p50/p99 {:>5.0}/{:<6.0} µs (gproxy {:.0}/{:.0}); {:>7.0} req/s (gproxy {:.0}, {:.2}x); \
                 CPU µs/req {}{} at 64, {} at c=1 (gproxy {:.1}, {:.1}; {}x, {}x); µs/chunk {}",
                s.name,
                b.name,
                b.latency_added.p50_us,
                b.latency_added.p99_us,
                s.latency_added.p50_us,
                s.latency_added.p99_us,
                b.rps,
                s.gateway_rps,
                s.gateway_rps / b.rps.max(1e-9),
                opt(b.cpu_us_per_req, 1),
                b.cpu_user_sys_us_per_req
                    .map_or_else(String::new, |(u, s)| format!(" ({u:.1}+{s:.1})")),
                opt(b.cpu_us_per_req_c1, 1),
                s.gateway_cpu_us_per_req,
                s.gateway_cpu_us_per_req_c1,
                opt(b.cpu_us_per_req.map(|c| s.gateway_cpu_us_per_req / c), 2),
                opt(
                    b.cpu_us_per_req_c1.map(|c| s.gateway_cpu_us_per_req_c1 / c),
                    2
                ),
                opt(b.cpu_us_per_chunk, 2),
            );
        }
    }
    if let Some(c) = r.chat_stream_marginal_cpu_us_per_chunk {
        let _ = writeln!(t, "\nchat-stream marginal gateway CPU per chunk: {c:.2} µs");
    }
    let _ = writeln!(
        t,
        "memory: gateway idle {:.1} MB (peak {:.1}, {} threads), idle after load {:.1} MB; mock idle {:.1} MB",
        mb(r.gateway_idle.rss_kb),
        mb(r.gateway_idle.hwm_kb),
        r.gateway_idle.threads,
        mb(r.gateway_idle_after_load.rss_kb),
        mb(r.mock_idle.rss_kb)
    );
    if let Some(s) = &r.streams {
        let _ = writeln!(
            t,
            "open streams (fresh gateway, {:.1} MB before, of which {:.1} MB the tokenizer's tables): \
             {} opened in {:.1} s; gateway RSS {:.1} MB \
             (peak {:.1}, {:.1} kB per stream), {:.1} MB 2 s and {:.1} MB 10 s after close \
             (anonymous {:.1} MB before, {:.1} MB at the peak, {:.1} MB 10 s after close); \
             {:.0} chunks/s at {:.2} µs CPU per chunk ({:.2} user + {:.2} sys)",
            mb(s.gateway_idle.rss_kb),
            mb(s.gateway_idle
                .rss_kb
                .saturating_sub(s.gateway_before_tokenizer.rss_kb)),
            s.open,
            s.open_secs,
            mb(s.gateway_peak.rss_kb),
            mb(s.gateway_peak.hwm_kb),
            s.gateway_peak.rss_kb.saturating_sub(s.gateway_idle.rss_kb) as f64
                / s.open.max(1) as f64,
            mb(s.gateway_after_close.rss_kb),
            mb(s.gateway_after_close_10s.rss_kb),
            mb(s.gateway_idle.anon_kb),
            mb(s.gateway_peak.anon_kb),
            mb(s.gateway_after_close_10s.anon_kb),
            s.events_per_sec,
            s.gateway_cpu_us_per_chunk,
            s.gateway_cpu_user_sys_us_per_chunk.0,
            s.gateway_cpu_user_sys_us_per_chunk.1
        );
    }
    if let Some(b) = r.log_bytes_per_request {
        let _ = writeln!(t, "request logging on: {b:.0} log bytes per request");
    }
    let _ = writeln!(t, "usage sink at the end: {}", r.usage_sink);
    let _ = writeln!(t, "\ntargets:");
    for c in &r.targets {
        let verdict = match c.met {
            Some(true) => "met",
            Some(false) => "NOT MET",
            None => "not measured",
        };
        let _ = writeln!(
            t,
            "  {:<64} {:<26} {:<34} {verdict}",
            c.what, c.target, c.measured
        );
    }
    let _ = writeln!(t, "\nerrors: {}; wall time {:.1} s", r.errors, r.wall_secs);
    t
}

/// Writes the report as pretty JSON, creating the parent directory.
pub fn write_json(r: &Report, path: &Path) -> BoxResult<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let text = serde_json::to_string_pretty(r)?;
    std::fs::write(path, text + "\n").map_err(|e| format!("writing {}: {e}", path.display()))?;
    Ok(())
}
