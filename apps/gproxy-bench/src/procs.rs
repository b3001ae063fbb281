//! The processes under test and what the kernel says about them: the mock
//! upstream (this binary's hidden `mock` subcommand), the `gproxy` release
//! binary, CPU time and memory from `/proc`, and the machine description.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::stats::{Ticks, stat_cpu_ticks, status_value};
use crate::{BoxResult, keys};

/// How long a child may take to print its listening line.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A child process, killed when dropped.
#[derive(Debug)]
pub struct Proc {
    child: Child,
    /// Its process id.
    pub pid: u32,
}

impl Proc {
    fn new(child: Child) -> BoxResult<Self> {
        let pid = child.id().ok_or("child exited immediately")?;
        Ok(Proc { child, pid })
    }

    /// What is read of it from `/proc`.
    pub fn watch(&self) -> Pid {
        Pid(self.pid)
    }

    /// Current memory figures.
    pub fn mem(&self) -> BoxResult<Mem> {
        self.watch().mem()
    }

    /// Stops the process: SIGTERM (gproxy shuts down gracefully and
    /// flushes its usage sink; a profiler wrapping it writes its output),
    /// then SIGKILL if it is still running after `grace`.
    pub async fn stop(mut self, grace: Duration) {
        let term = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()
            .await;
        if term.is_ok_and(|s| s.success())
            && tokio::time::timeout(grace, self.child.wait()).await.is_ok()
        {
            return;
        }
        let _ = self.child.kill().await;
    }
}

/// A process (ours or not) whose CPU time and memory are read from `/proc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pid(pub u32);

impl Pid {
    /// CPU time (all threads) used so far.
    pub fn cpu_ticks(self) -> BoxResult<Ticks> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.0))?;
        Ok(stat_cpu_ticks(&stat).ok_or("unreadable /proc/<pid>/stat")?)
    }

    /// Current memory figures.
    pub fn mem(self) -> BoxResult<Mem> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.0))?;
        let get = |k| status_value(&status, k).ok_or(format!("no {k} in /proc/<pid>/status"));
        Ok(Mem {
            rss_kb: get("VmRSS")?,
            anon_kb: get("RssAnon")?,
            hwm_kb: get("VmHWM")?,
            threads: get("Threads")?,
        })
    }
}

/// Memory of a process, from `/proc/<pid>/status`.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Mem {
    /// Resident set size now, kB.
    pub rss_kb: u64,
    /// The anonymous part of it (heap, stacks), kB; the rest is mostly the
    /// binary's code, which stays resident once run.
    pub anon_kb: u64,
    /// Peak resident set size since start, kB.
    pub hwm_kb: u64,
    /// Threads now.
    pub threads: u64,
}

/// Reads lines from `lines` until one contains `marker`; returns what follows
/// the marker on that line.
async fn wait_for_line<R>(lines: &mut Lines<R>, marker: &str, who: &str) -> BoxResult<String>
where
    R: tokio::io::AsyncBufRead + Unpin,
{
    let read = async {
        while let Some(line) = lines.next_line().await? {
            if let Some(pos) = line.find(marker) {
                return Ok::<_, std::io::Error>(Some(line[pos + marker.len()..].trim().to_owned()));
            }
        }
        Ok(None)
    };
    match tokio::time::timeout(START_TIMEOUT, read).await {
        Ok(Ok(Some(rest))) => Ok(rest),
        Ok(Ok(None)) => Err(format!("{who} exited before printing `{marker}`").into()),
        Ok(Err(e)) => Err(format!("reading {who}'s stdout: {e}").into()),
        Err(_) => Err(format!("{who} did not print `{marker}` within {START_TIMEOUT:?}").into()),
    }
}

/// `http://HOST:PORT` to a socket address.
fn parse_base(base: &str) -> BoxResult<SocketAddr> {
    let hostport = base.strip_prefix("http://").unwrap_or(base);
    let hostport = hostport.trim_end_matches('/');
    Ok(hostport
        .parse()
        .map_err(|e| format!("bad listen address `{base}`: {e}"))?)
}

/// The mock upstream, running as `gproxy-bench mock --port 0` in its own
/// process and configured over its stdin.
#[derive(Debug)]
pub struct Mock {
    /// The process.
    pub proc: Proc,
    /// Where it listens.
    pub addr: SocketAddr,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl Mock {
    /// Starts the mock from this executable on `port` (0: a free one).
    pub async fn start(port: u16) -> BoxResult<Mock> {
        let exe = std::env::current_exe()?;
        let mut child = Command::new(exe)
            .args(["mock", "--port", &port.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("starting the mock upstream: {e}"))?;
        let stdin = child.stdin.take().ok_or("mock stdin")?;
        let stdout = child.stdout.take().ok_or("mock stdout")?;
        let proc = Proc::new(child)?;
        let mut stdout = BufReader::new(stdout).lines();
        let base = wait_for_line(&mut stdout, "listening on ", "the mock upstream").await?;
        Ok(Mock {
            proc,
            addr: parse_base(&base)?,
            stdin,
            stdout,
        })
    }

    /// Sets the mock's stream shape for the requests that follow: `chunks`
    /// text deltas per stream, `delay_ms` between them.
    pub async fn set_stream(&mut self, chunks: usize, delay_ms: u64) -> BoxResult<()> {
        let command = format!("stream {chunks} {delay_ms}\n");
        self.stdin.write_all(command.as_bytes()).await?;
        self.stdin.flush().await?;
        match self.stdout.next_line().await? {
            Some(line) if line == "ok" => Ok(()),
            other => Err(format!("mock answered {other:?} to `{}`", command.trim()).into()),
        }
    }
}

/// A running gateway.
#[derive(Debug)]
pub struct Gateway {
    /// The process.
    pub proc: Proc,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its stderr (the log), kept in the temp dir.
    pub log_path: PathBuf,
    /// Temp dir with config and data; removed when dropped.
    _dir: tempfile::TempDir,
}

/// The config file: every built-in provider pointed at the mock, one user.
pub fn gateway_config(mock: SocketAddr) -> String {
    format!(
        r#"admin_key = "{admin}"

[[providers]]
name = "openai"
base_url = "http://{mock}/v1"
[[providers.credentials]]
api_key = "{openai}"

[[providers]]
name = "claude"
base_url = "http://{mock}"
[[providers.credentials]]
api_key = "{claude}"

[[providers]]
name = "aistudio"
base_url = "http://{mock}"
[[providers.credentials]]
api_key = "{gemini}"

[[users]]
name = "bench"
keys = ["{user}"]
"#,
        admin = keys::ADMIN,
        openai = keys::OPENAI,
        claude = keys::CLAUDE,
        gemini = keys::GEMINI,
        user = keys::USER,
    )
}

impl Gateway {
    /// Starts `bin` with a fresh temp data dir (SQLite), `--port 0`, the
    /// generated config, and `GPROXY_LOG=log`.
    pub async fn start(bin: &Path, mock: SocketAddr, log: &str) -> BoxResult<Gateway> {
        let dir = tempfile::Builder::new().prefix("gproxy-bench-").tempdir()?;
        let config = dir.path().join("gproxy.toml");
        // `GPROXY_BENCH_EXTRA_CONFIG`: TOML appended to the generated config
        // (e.g. `[logging]\nrecord_requests = false`), to measure a setting.
        let mut text = gateway_config(mock);
        if let Ok(extra) = std::env::var("GPROXY_BENCH_EXTRA_CONFIG") {
            text.push('\n');
            text.push_str(&extra);
        }
        std::fs::write(&config, text)?;
        let log_path = dir.path().join("gproxy.log");
        let log_file = std::fs::File::create(&log_path)?;
        let mut command = Command::new(bin);
        for var in [
            "GPROXY_HOST",
            "GPROXY_PORT",
            "GPROXY_DATA_DIR",
            "GPROXY_DSN",
            "GPROXY_ADMIN_KEY",
            "GPROXY_CONFIG",
            "GPROXY_PROXY",
            "GPROXY_LOG_FORMAT",
        ] {
            command.env_remove(var);
        }
        let mut child = command
            .args(["--host", "127.0.0.1", "--port", "0", "--data-dir"])
            .arg(dir.path().join("data"))
            .arg("--config")
            .arg(&config)
            .env("GPROXY_LOG", log)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", bin.display()))?;
        let stdout = child.stdout.take().ok_or("gproxy stdout")?;
        let proc = Proc::new(child)?;
        let mut lines = BufReader::new(stdout).lines();
        let base = match wait_for_line(&mut lines, "listening on ", "gproxy").await {
            Ok(base) => base,
            Err(e) => {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                return Err(format!("{e}; its log:\n{log}").into());
            }
        };
        // Keep draining the rest of the banner so gproxy never blocks on it.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Gateway {
            proc,
            addr: parse_base(&base)?,
            log_path,
            _dir: dir,
        })
    }

    /// Bytes the gateway logged so far.
    pub fn log_bytes(&self) -> u64 {
        std::fs::metadata(&self.log_path).map_or(0, |m| m.len())
    }
}

/// The floor: nginx as a plain reverse proxy in front of the same mock
/// (`proxy_pass` with upstream keepalive, one worker, no access log,
/// streams unbuffered), the cost of "an L7 hop that parses HTTP and
/// forwards" that gproxy is compared with.
#[derive(Debug)]
pub struct Floor {
    /// The nginx process (one process: `master_process off`).
    pub proc: Proc,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its version line (`nginx version: nginx/1.22.1`).
    pub version: String,
    _dir: tempfile::TempDir,
}

/// nginx's configuration for the floor: `listen` in front of `mock`.
pub fn floor_config(dir: &Path, listen: SocketAddr, mock: SocketAddr) -> String {
    let d = dir.display();
    format!(
        r#"worker_processes 1;
master_process off;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    keepalive_requests 1000000;
    upstream mock {{
        server {mock};
        keepalive 256;
        keepalive_requests 1000000;
    }}
    server {{
        listen {listen} backlog=4096;
        client_body_buffer_size 64k;
        location / {{
            proxy_pass http://mock;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }}
    }}
}}
"#
    )
}

/// nginx's arguments for a run from `dir` with the configuration `conf`
/// (prefix and error log in `dir`, so nothing outside it is touched).
fn nginx_args(dir: &Path, conf: &Path) -> [std::ffi::OsString; 6] {
    [
        "-p".into(),
        dir.into(),
        "-e".into(),
        dir.join("error.log").into(),
        "-c".into(),
        conf.into(),
    ]
}

impl Floor {
    /// The nginx binary: `explicit`, else `nginx` on `PATH` or in
    /// `/usr/sbin`; `None` when there is none.
    pub fn find(explicit: Option<PathBuf>) -> Option<PathBuf> {
        if explicit.is_some() {
            return explicit;
        }
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path)
            .chain([PathBuf::from("/usr/sbin")])
            .map(|d| d.join("nginx"))
            .find(|p| p.is_file())
    }

    /// Starts `nginx` in front of `mock` on a free loopback port.
    pub async fn start(nginx: &Path, mock: SocketAddr) -> BoxResult<Floor> {
        let dir = tempfile::Builder::new()
            .prefix("gproxy-bench-nginx-")
            .tempdir()?;
        // nginx cannot be told "any port": take a free one and hand it over.
        let addr = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let conf = dir.path().join("nginx.conf");
        std::fs::write(&conf, floor_config(dir.path(), addr, mock))?;
        let version = std::process::Command::new(nginx)
            .arg("-v")
            .output()
            .map_err(|e| format!("running {} -v: {e}", nginx.display()))?;
        let version = String::from_utf8_lossy(&version.stderr).trim().to_owned();
        let child = Command::new(nginx)
            .args(nginx_args(dir.path(), &conf))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", nginx.display()))?;
        let proc = Proc::new(child)?;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            if std::time::Instant::now() > deadline {
                let log = std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default();
                return Err(
                    format!("nginx did not listen on {addr} within 10 s; its log:\n{log}").into(),
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(Floor {
            proc,
            addr,
            version,
            _dir: dir,
        })
    }
}

/// The `gproxy` binary to measure: `explicit` if given, else the one next to
/// this executable, built first (`$CARGO build --release -p gproxy`, a no-op
/// when fresh) when run under cargo and `build` is set, so a hot-path change
/// is never measured with a stale binary.
pub fn gproxy_binary(explicit: Option<PathBuf>, build: bool) -> BoxResult<PathBuf> {
    if let Some(path) = explicit {
        return match path.is_file() {
            true => Ok(path),
            false => Err(format!("--gproxy {}: no such file", path.display()).into()),
        };
    }
    let exe = std::env::current_exe()?;
    let dir = exe.parent().ok_or("executable has no directory")?;
    let bin = dir.join("gproxy");
    let release = dir.file_name().is_some_and(|n| n == "release");
    let cargo = std::env::var_os("CARGO");
    if build && let Some(cargo) = cargo {
        let mut command = std::process::Command::new(cargo);
        command.args(["build", "-p", "gproxy"]);
        if release {
            command.arg("--release");
        }
        eprintln!(
            "gproxy-bench: cargo {:?} (no-op when fresh)",
            command.get_args()
        );
        let status = command.status()?;
        if !status.success() {
            return Err(format!("building gproxy failed ({status})").into());
        }
    }
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!(
            "{} not found: run `cargo build --release -p gproxy` first (or pass --gproxy PATH)",
            bin.display()
        )
        .into())
    }
}

/// Clock ticks per second for `/proc/<pid>/stat` (`getconf CLK_TCK`, else 100).
pub fn clock_ticks() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|&t| t > 0)
        .unwrap_or(100)
}

/// The soft limit on open files of this process (children inherit it).
pub fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_ascii_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The machine the numbers were taken on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// Logical CPUs available.
    pub cpus: usize,
    /// `model name` from `/proc/cpuinfo`.
    pub cpu_model: String,
    /// `MemTotal`, MiB.
    pub mem_total_mib: u64,
    /// Kernel release.
    pub kernel: String,
    /// 1-minute load average when the run started.
    pub load_avg_1m: f64,
    /// `git rev-parse --short HEAD` in the working directory, if any.
    pub commit: Option<String>,
}

impl Machine {
    /// Reads the description from `/proc`.
    pub fn read() -> Machine {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let cpuinfo = read("/proc/cpuinfo");
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|l| l.split_once(':'))
            .map_or_else(|| "unknown".to_owned(), |(_, v)| v.trim().to_owned());
        let commit = std::process::Command::new("git")
            .args(["rev-parse", "--short", "HEAD"])
            .stderr(Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map(|s| s.trim().to_owned());
        Machine {
            cpus: std::thread::available_parallelism().map_or(1, usize::from),
            cpu_model,
            mem_total_mib: status_value(&read("/proc/meminfo"), "MemTotal").unwrap_or(0) / 1024,
            kernel: read("/proc/sys/kernel/osrelease").trim().to_owned(),
            load_avg_1m: read("/proc/loadavg")
                .split_ascii_whitespace()
                .next()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0.0),
            commit,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// nginx accepts the floor's configuration (`nginx -t`), when installed.
    #[test]
    fn the_floor_config_is_valid_nginx() {
        let Some(nginx) = Floor::find(None) else {
            eprintln!("skipped: no nginx installed (the floor is optional)");
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("nginx.conf");
        let config = floor_config(
            dir.path(),
            "127.0.0.1:18080".parse().unwrap(),
            "127.0.0.1:18081".parse().unwrap(),
        );
        std::fs::write(&conf, config).unwrap();
        let out = std::process::Command::new(nginx)
            .arg("-t")
            .args(nginx_args(dir.path(), &conf))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
