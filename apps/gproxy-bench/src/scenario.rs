//! The scenarios: what is sent through the gateway and, for comparison,
//! what is sent straight to the mock; and the run of one scenario (latency
//! at concurrency 1, then throughput through the gateway and direct).

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde::Serialize;
use serde_json::json;

use crate::load::{self, Bounds, Errors, Spec, Target};
use crate::procs::{Floor, Gateway, Mem, Mock, Pid};
use crate::stats::Percentiles;
use crate::{BoxResult, keys};

/// Text deltas per stream in the stream scenarios.
pub const STREAM_CHUNKS: usize = 100;
/// Text deltas per reply in the non-stream scenarios (the mock's default).
const PLAIN_CHUNKS: usize = 3;

/// One scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Short name (also the `--scenarios` filter key).
    pub name: &'static str,
    /// What it measures.
    pub about: &'static str,
    /// The request through the gateway.
    pub gateway: Spec,
    /// The equivalent request straight to the mock.
    pub direct: Spec,
    /// Text deltas the mock splits each reply into.
    pub mock_chunks: usize,
    /// Runs against a gateway with `GPROXY_LOG=info` (request logging on).
    pub logging: bool,
}

/// A ~1 KiB system prompt, so bodies look like real chat requests.
fn system_prompt() -> String {
    "You are a concise assistant. Answer in one short sentence. ".repeat(16)
}

fn headers(pairs: &[(&'static str, &str)]) -> BoxResult<HeaderMap> {
    let mut h = HeaderMap::new();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    for (k, v) in pairs {
        h.insert(HeaderName::from_static(k), HeaderValue::try_from(*v)?);
    }
    Ok(h)
}

fn bearer(key: &str) -> String {
    format!("Bearer {key}")
}

fn chat_body(model: &str, stream: bool) -> Bytes {
    let mut body = json!({
        "model": model,
        "messages": [
            { "role": "system", "content": system_prompt() },
            { "role": "user", "content": "Say hello to the benchmark." }
        ],
        "temperature": 0.2,
        "max_tokens": 64
    });
    if stream {
        body["stream"] = json!(true);
    }
    Bytes::from(body.to_string())
}

fn claude_body(stream: bool) -> Bytes {
    let body = json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 64,
        "system": system_prompt(),
        "messages": [{ "role": "user", "content": "Say hello to the benchmark." }],
        "stream": stream
    });
    Bytes::from(body.to_string())
}

fn gemini_body() -> Bytes {
    let body = json!({
        "systemInstruction": { "parts": [{ "text": system_prompt() }] },
        "contents": [{ "role": "user", "parts": [{ "text": "Say hello to the benchmark." }] }],
        "generationConfig": { "maxOutputTokens": 64 }
    });
    Bytes::from(body.to_string())
}

const CHAT_END: &[u8] = b"data: [DONE]\n\n";
const CLAUDE_END: &[u8] = b"{\"type\":\"message_stop\"}\n\n";

fn spec(path: &str, headers: HeaderMap, body: Bytes, stream_end: Option<&'static [u8]>) -> Spec {
    Spec {
        path: path.to_owned(),
        headers,
        body,
        stream_end,
    }
}

/// The OpenAI Chat stream used for the open-streams phase (provider route).
pub fn chat_stream_spec() -> BoxResult<Spec> {
    let user = headers(&[("authorization", &bearer(keys::USER))])?;
    Ok(spec(
        "/openai/v1/chat/completions",
        user,
        chat_body("gpt-4o-mini", true),
        Some(CHAT_END),
    ))
}

/// Another OpenAI-compatible gateway measured beside gproxy (`--peer
/// NAME=URL[@PID]`): the OpenAI Chat scenarios are sent to it too, as
/// `POST <URL>/v1/chat/completions` with `model` and `key`. It must be
/// set up to forward that model to the bench's mock (`--mock-port`).
#[derive(Debug, Clone)]
pub struct Peer {
    /// Its name in the report.
    pub name: String,
    /// Where it listens.
    pub addr: SocketAddr,
    /// The URL's path, prepended to `/v1/chat/completions`.
    pub prefix: String,
    /// Its process, when given: CPU and memory are then measured too.
    pub pid: Option<Pid>,
    /// The key sent as `Authorization: Bearer`.
    pub key: String,
    /// The model asked for.
    pub model: String,
}

impl Peer {
    /// Parses `NAME=http://HOST:PORT[/PREFIX][@PID]`.
    pub fn parse(text: &str, key: &str, model: &str) -> BoxResult<Peer> {
        let (name, rest) = text
            .split_once('=')
            .ok_or_else(|| format!("--peer {text}: expected NAME=URL[@PID]"))?;
        let (url, pid) = match rest.rsplit_once('@') {
            Some((url, pid)) => (
                url,
                Some(Pid(pid
                    .parse()
                    .map_err(|e| format!("--peer {text}: pid: {e}"))?)),
            ),
            None => (rest, None),
        };
        let hostport = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("--peer {text}: only http:// URLs"))?;
        let (hostport, prefix) = match hostport.find('/') {
            Some(at) => (&hostport[..at], hostport[at..].trim_end_matches('/')),
            None => (hostport, ""),
        };
        let addr = std::net::ToSocketAddrs::to_socket_addrs(hostport)
            .map_err(|e| format!("--peer {text}: {e}"))?
            .next()
            .ok_or_else(|| format!("--peer {text}: no address for {hostport}"))?;
        Ok(Peer {
            name: name.to_owned(),
            addr,
            prefix: prefix.to_owned(),
            pid,
            key: key.to_owned(),
            model: model.to_owned(),
        })
    }

    /// This peer's request for `scenario`, if it is an OpenAI Chat one.
    fn spec(&self, scenario: &Scenario) -> BoxResult<Option<Spec>> {
        if !matches!(scenario.name, "chat" | "chat-stream") {
            return Ok(None);
        }
        let stream = scenario.gateway.stream_end.is_some();
        Ok(Some(spec(
            &format!("{}/v1/chat/completions", self.prefix),
            headers(&[("authorization", &bearer(&self.key))])?,
            chat_body(&self.model, stream),
            stream.then_some(CHAT_END),
        )))
    }
}

/// Every scenario, in run order.
pub fn all() -> BoxResult<Vec<Scenario>> {
    let user = headers(&[("authorization", &bearer(keys::USER))])?;
    let openai = headers(&[("authorization", &bearer(keys::OPENAI))])?;
    let claude_user = headers(&[
        ("x-api-key", keys::USER),
        ("anthropic-version", "2023-06-01"),
    ])?;
    let claude = headers(&[
        ("x-api-key", keys::CLAUDE),
        ("anthropic-version", "2023-06-01"),
    ])?;
    let gemini_user = headers(&[("x-goog-api-key", keys::USER)])?;
    let gemini = headers(&[("x-goog-api-key", keys::GEMINI)])?;
    let chat = |stream| chat_body("gpt-4o-mini", stream);
    let chat_end = |stream: bool| stream.then_some(CHAT_END);
    let direct_chat = |stream| {
        spec(
            "/v1/chat/completions",
            openai.clone(),
            chat(stream),
            chat_end(stream),
        )
    };
    let provider_chat = |stream| {
        spec(
            "/openai/v1/chat/completions",
            user.clone(),
            chat(stream),
            chat_end(stream),
        )
    };
    let gemini_path = "/v1beta/models/gemini-2.0-flash:generateContent";
    Ok(vec![
        Scenario {
            name: "chat",
            about: "OpenAI Chat, provider route, non-stream",
            gateway: provider_chat(false),
            direct: direct_chat(false),
            mock_chunks: PLAIN_CHUNKS,
            logging: false,
        },
        Scenario {
            name: "chat-stream",
            about: "OpenAI Chat, provider route, stream of 100 deltas",
            gateway: provider_chat(true),
            direct: direct_chat(true),
            mock_chunks: STREAM_CHUNKS,
            logging: false,
        },
        Scenario {
            name: "chat-aggregate",
            about: "OpenAI Chat, aggregate route (model `openai/...` rewritten both ways), non-stream",
            gateway: spec(
                "/v1/chat/completions",
                user.clone(),
                chat_body("openai/gpt-4o-mini", false),
                None,
            ),
            direct: direct_chat(false),
            mock_chunks: PLAIN_CHUNKS,
            logging: false,
        },
        Scenario {
            name: "claude",
            about: "Anthropic Messages, provider route, non-stream",
            gateway: spec(
                "/claude/v1/messages",
                claude_user.clone(),
                claude_body(false),
                None,
            ),
            direct: spec("/v1/messages", claude.clone(), claude_body(false), None),
            mock_chunks: PLAIN_CHUNKS,
            logging: false,
        },
        Scenario {
            name: "claude-to-chat",
            about: "Anthropic Messages client on the openai provider (converted to Chat and back), non-stream",
            gateway: spec(
                "/openai/v1/messages",
                claude_user.clone(),
                claude_body(false),
                None,
            ),
            direct: direct_chat(false),
            mock_chunks: PLAIN_CHUNKS,
            logging: false,
        },
        Scenario {
            name: "claude-to-chat-stream",
            about: "Anthropic Messages client on the openai provider, stream of 100 deltas transcoded",
            gateway: spec(
                "/openai/v1/messages",
                claude_user.clone(),
                claude_body(true),
                Some(CLAUDE_END),
            ),
            direct: direct_chat(true),
            mock_chunks: STREAM_CHUNKS,
            logging: false,
        },
        Scenario {
            name: "claude-stream",
            about: "Anthropic Messages, provider route, stream of 100 deltas",
            gateway: spec(
                "/claude/v1/messages",
                claude_user,
                claude_body(true),
                Some(CLAUDE_END),
            ),
            direct: spec("/v1/messages", claude, claude_body(true), Some(CLAUDE_END)),
            mock_chunks: STREAM_CHUNKS,
            logging: false,
        },
        Scenario {
            name: "gemini",
            about: "Gemini generateContent, provider route, non-stream",
            gateway: spec(
                &format!("/aistudio{gemini_path}"),
                gemini_user,
                gemini_body(),
                None,
            ),
            direct: spec(gemini_path, gemini, gemini_body(), None),
            mock_chunks: PLAIN_CHUNKS,
            logging: false,
        },
        Scenario {
            name: "chat-logged",
            about: "as `chat`, with request logging on (GPROXY_LOG=info, log to a file)",
            gateway: provider_chat(false),
            direct: direct_chat(false),
            mock_chunks: PLAIN_CHUNKS,
            logging: true,
        },
    ])
}

/// How long each phase of a scenario runs.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Concurrency-1 latency phase.
    pub latency: Bounds,
    /// Each throughput phase (gateway, then direct).
    pub throughput: Bounds,
    /// Connections in the throughput phases.
    pub connections: usize,
    /// Clock ticks per second.
    pub ticks_per_sec: u64,
}

/// The figures of one scenario.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioResult {
    /// Scenario name.
    pub name: &'static str,
    /// What it measures.
    pub about: &'static str,
    /// Concurrency 1, direct to the mock.
    pub latency_direct: Percentiles,
    /// Concurrency 1, through the gateway.
    pub latency_gateway: Percentiles,
    /// Gateway minus direct, percentile by percentile.
    pub latency_added: Percentiles,
    /// Gateway CPU per request during the concurrency-1 phase, µs.
    pub gateway_cpu_us_per_req_c1: f64,
    /// Connections in the throughput phases.
    pub connections: usize,
    /// Requests per second through the gateway.
    pub gateway_rps: f64,
    /// Requests per second direct to the mock.
    pub direct_rps: f64,
    /// `gateway_rps / direct_rps`.
    pub ratio: f64,
    /// Latency under load through the gateway.
    pub gateway_load_latency: Percentiles,
    /// Latency under load direct to the mock.
    pub direct_load_latency: Percentiles,
    /// Gateway CPU (user + system) per request in the gateway window, µs.
    pub gateway_cpu_us_per_req: f64,
    /// The same, user and system apart, µs.
    pub gateway_cpu_user_sys_us_per_req: (f64, f64),
    /// Mock CPU per request in the direct window, µs (for scale).
    pub mock_cpu_us_per_req: f64,
    /// The same, user and system apart, µs.
    pub mock_cpu_user_sys_us_per_req: (f64, f64),
    /// Load generator CPU per request, gateway window / direct window, µs.
    pub bench_cpu_us_per_req: (f64, f64),
    /// SSE events per response (0 for non-stream).
    pub events_per_req: f64,
    /// Gateway CPU per streamed event including the per-request cost, µs.
    pub gateway_cpu_us_per_chunk: Option<f64>,
    /// Gateway memory at its largest sample during the gateway window.
    pub gateway_mem_under_load: Mem,
    /// Requests measured through the gateway / direct.
    pub measured_requests: (u64, u64),
    /// The floor (nginx in front of the mock) on the same requests as
    /// `direct`, when nginx was found.
    pub floor: Option<Beside>,
    /// Other gateways (`--peer`), on the OpenAI Chat scenarios.
    pub peers: Vec<Beside>,
    /// Errors in this scenario.
    pub errors: u64,
    /// The first error messages.
    pub error_messages: Vec<String>,
}

/// The figures of a proxy measured beside gproxy: the floor or a peer.
#[derive(Debug, Clone, Serialize)]
pub struct Beside {
    /// `nginx` or the peer's name.
    pub name: String,
    /// Concurrency 1, through it.
    pub latency: Percentiles,
    /// Through it minus direct (alternated with direct, like gproxy's).
    pub latency_added: Percentiles,
    /// Its CPU per request at concurrency 1, µs (when its process is known).
    pub cpu_us_per_req_c1: Option<f64>,
    /// Requests per second through it at the scenario's connections.
    pub rps: f64,
    /// Latency under that load.
    pub load_latency: Percentiles,
    /// Its CPU (user + system) per request under load, µs.
    pub cpu_us_per_req: Option<f64>,
    /// That CPU split: user, system (µs per request). Beside nginx the
    /// split shows where a gateway's extra cost is: nginx makes the same
    /// socket calls, so their system time is the floor's too.
    pub cpu_user_sys_us_per_req: Option<(f64, f64)>,
    /// Its CPU per streamed event under load, µs (stream scenarios).
    pub cpu_us_per_chunk: Option<f64>,
    /// Its memory at the largest sample under load.
    pub mem_under_load: Option<Mem>,
    /// Requests measured under load.
    pub measured_requests: u64,
}

/// Latency at concurrency 1 (alternated with `direct`) and throughput
/// through `via`, whose process is `watch` when known.
async fn beside(
    name: &str,
    direct: &Target,
    via: &Target,
    watch: Option<Pid>,
    stream: bool,
    plan: &Plan,
    errors: &Arc<Errors>,
) -> BoxResult<Beside> {
    let lat = load::latency(direct, via, plan.latency, watch, errors).await?;
    let tp = load::throughput(via, plan.connections, plan.throughput, watch, errors).await?;
    let per = |ticks, n| watch.map(|_| cpu_us_per(ticks, plan.ticks_per_sec, n));
    Ok(Beside {
        name: name.to_owned(),
        latency_added: lat.gateway.minus(&lat.direct),
        cpu_us_per_req_c1: per(lat.gateway_cpu.total(), lat.gateway.count as u64),
        latency: lat.gateway,
        rps: tp.requests as f64 / tp.elapsed.as_secs_f64().max(1e-9),
        load_latency: tp.latency,
        cpu_us_per_req: per(tp.cpu.total(), tp.requests),
        cpu_user_sys_us_per_req: per(tp.cpu.user, tp.requests).zip(per(tp.cpu.system, tp.requests)),
        cpu_us_per_chunk: if stream {
            per(tp.cpu.total(), tp.events)
        } else {
            None
        },
        mem_under_load: watch.map(|_| tp.peak),
        measured_requests: tp.requests,
    })
}

/// CPU microseconds per `n` of something.
pub fn cpu_us_per(ticks: u64, ticks_per_sec: u64, n: u64) -> f64 {
    if n == 0 {
        return 0.0;
    }
    ticks as f64 * 1e6 / ticks_per_sec as f64 / n as f64
}

/// Runs one scenario against `gateway` and `mock`, then the same requests
/// through the floor (nginx, on the direct requests) and any peers.
pub async fn run(
    scenario: &Scenario,
    mock: &mut Mock,
    gateway: &Gateway,
    floor: Option<&Floor>,
    peers: &[Peer],
    plan: &Plan,
) -> BoxResult<ScenarioResult> {
    mock.set_stream(scenario.mock_chunks, 0).await?;
    let errors = Arc::new(Errors::default());
    let direct = Target::new(mock.addr, scenario.direct.clone())?;
    let through = Target::new(gateway.addr, scenario.gateway.clone())?;
    let gw_pid = Some(gateway.proc.watch());
    let lat = load::latency(&direct, &through, plan.latency, gw_pid, &errors).await?;
    let n = plan.connections;
    let gw = load::throughput(&through, n, plan.throughput, gw_pid, &errors).await?;
    let dr = load::throughput(
        &direct,
        n,
        plan.throughput,
        Some(mock.proc.watch()),
        &errors,
    )
    .await?;
    let stream = scenario.gateway.stream_end.is_some();
    let floor = match floor {
        Some(f) => {
            let via = Target::new(f.addr, scenario.direct.clone())?;
            let watch = Some(f.proc.watch());
            Some(beside("nginx", &direct, &via, watch, stream, plan, &errors).await?)
        }
        None => None,
    };
    let mut beside_peers = Vec::new();
    for p in peers {
        if let Some(spec) = p.spec(scenario)? {
            let via = Target::new(p.addr, spec)?;
            beside_peers.push(beside(&p.name, &direct, &via, p.pid, stream, plan, &errors).await?);
        }
    }
    let rps = |r: &load::ThroughputRun| r.requests as f64 / r.elapsed.as_secs_f64().max(1e-9);
    let (gateway_rps, direct_rps) = (rps(&gw), rps(&dr));
    let events_per_req = match gw.requests {
        0 => 0.0,
        r => gw.events as f64 / r as f64,
    };
    let per_req =
        |ticks, run: &load::ThroughputRun| cpu_us_per(ticks, plan.ticks_per_sec, run.requests);
    Ok(ScenarioResult {
        name: scenario.name,
        about: scenario.about,
        latency_added: lat.gateway.minus(&lat.direct),
        gateway_cpu_us_per_req_c1: cpu_us_per(
            lat.gateway_cpu.total(),
            plan.ticks_per_sec,
            lat.gateway.count as u64,
        ),
        latency_direct: lat.direct,
        latency_gateway: lat.gateway,
        connections: n,
        gateway_rps,
        direct_rps,
        ratio: if direct_rps > 0.0 {
            gateway_rps / direct_rps
        } else {
            0.0
        },
        gateway_load_latency: gw.latency,
        direct_load_latency: dr.latency,
        gateway_cpu_us_per_req: per_req(gw.cpu.total(), &gw),
        gateway_cpu_user_sys_us_per_req: (per_req(gw.cpu.user, &gw), per_req(gw.cpu.system, &gw)),
        mock_cpu_us_per_req: per_req(dr.cpu.total(), &dr),
        mock_cpu_user_sys_us_per_req: (per_req(dr.cpu.user, &dr), per_req(dr.cpu.system, &dr)),
        bench_cpu_us_per_req: (
            per_req(gw.self_cpu.total(), &gw),
            per_req(dr.self_cpu.total(), &dr),
        ),
        events_per_req,
        gateway_cpu_us_per_chunk: stream
            .then(|| cpu_us_per(gw.cpu.total(), plan.ticks_per_sec, gw.events)),
        gateway_mem_under_load: gw.peak,
        measured_requests: (gw.requests, dr.requests),
        floor,
        peers: beside_peers,
        errors: errors.count(),
        error_messages: errors.messages(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_parse_with_prefix_and_pid() {
        let p = Peer::parse("litellm=http://127.0.0.1:4000/api/@1234", "sk-x", "m").unwrap();
        assert_eq!(p.name, "litellm");
        assert_eq!(p.addr, "127.0.0.1:4000".parse().unwrap());
        assert_eq!(p.prefix, "/api");
        assert_eq!(p.pid, Some(Pid(1234)));
        let p = Peer::parse("bifrost=http://localhost:8080", "sk-x", "m").unwrap();
        assert_eq!(p.prefix, "");
        assert_eq!(p.pid, None);
        for bad in [
            "no-equals",
            "x=https://127.0.0.1:1",
            "x=http://127.0.0.1:1@pid",
        ] {
            assert!(Peer::parse(bad, "k", "m").is_err(), "{bad}");
        }
    }

    #[test]
    fn peers_get_the_openai_chat_scenarios_only() {
        let p = Peer::parse("p=http://127.0.0.1:4000/x", "sk-peer", "gpt-4o-mini").unwrap();
        let scenarios = all().unwrap();
        let asked: Vec<_> = scenarios
            .iter()
            .filter_map(|s| p.spec(s).unwrap().map(|spec| (s.name, spec)))
            .collect();
        assert_eq!(
            asked.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            ["chat", "chat-stream"]
        );
        let (_, stream) = &asked[1];
        assert_eq!(stream.path, "/x/v1/chat/completions");
        assert_eq!(stream.headers["authorization"], "Bearer sk-peer");
        assert_eq!(stream.stream_end, Some(CHAT_END));
        let body: serde_json::Value = serde_json::from_slice(&stream.body).unwrap();
        assert_eq!(body["model"], "gpt-4o-mini");
        assert_eq!(body["stream"], true);
    }
}
