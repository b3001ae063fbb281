//! Deployment: the binary started the way the Dockerfile starts it
//! (environment only, listening on 0.0.0.0, the image's data dir) serves
//! /health, prints a generated admin key once and answers
//! `gproxy healthcheck`; the config files the deployments mount start it;
//! and every deployment file passes `scripts/check_deploy.py` (YAML,
//! actionlint, hadolint, the Helm chart rendered by Helm's SDK and
//! validated against the Kubernetes schemas, Render/Zeabur/compose
//! fields) with its self-test. The tools come from the venv
//! `scripts/deploy_tools.sh` installs; without it these checks are skipped,
//! unless `CI=true`.
#![cfg(test)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;

/// The workspace root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `ENV` of the Dockerfile's last (runtime) stage, continuation lines joined.
fn image_env() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    let joined = text.replace("\\\n", " ");
    let runtime = joined
        .rsplit("\nFROM ")
        .next()
        .expect("a FROM line")
        .to_owned();
    let mut env = BTreeMap::new();
    for line in runtime.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("ENV ") {
            for pair in rest.split_whitespace() {
                let (k, v) = pair.split_once('=').expect("ENV key=value");
                env.insert(k.to_owned(), v.to_owned());
            }
        }
    }
    env
}

/// The binary with the environment the image gives it and nothing else
/// from this process (no flags, no config file), `overrides` on top; in
/// `dir` like the image's WORKDIR.
fn image_command(dir: &Path, overrides: &[(&str, &str)]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_gproxy"));
    command.env_clear().current_dir(dir);
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    command.envs(image_env());
    command.envs(overrides.iter().copied());
    command
}

/// Starts the binary as the image does, the port picked by the OS and the
/// data dir `data`; returns it with its base URL on the loopback.
async fn start_as_image(dir: &Path, data: &Path, extra: &[(&str, &str)]) -> Gateway {
    let data_text = data.to_string_lossy().into_owned();
    let mut overrides = vec![
        ("GPROXY_PORT", "0"),
        ("GPROXY_DATA_DIR", data_text.as_str()),
    ];
    overrides.extend_from_slice(extra);
    let mut command = image_command(dir, &overrides);
    let stderr_path = dir.join(format!("stderr-{}.log", rand_suffix()));
    command.stderr(std::fs::File::create(&stderr_path).unwrap());
    let mut gw = attach(command, data.to_owned(), stderr_path)
        .await
        .unwrap_or_else(|e| panic!("the image's start failed: {e}"));
    assert!(
        gw.base.starts_with("http://0.0.0.0:"),
        "the image listens on every interface: {}",
        gw.stdout
    );
    gw.base = gw.base.replace("0.0.0.0", "127.0.0.1");
    gw
}

/// `gproxy healthcheck` as the image's HEALTHCHECK runs it, against `port`.
fn healthcheck(dir: &Path, port: &str) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_gproxy"));
    command.env_clear().current_dir(dir).envs(image_env());
    command
        .env("GPROXY_PORT", port)
        .args(["healthcheck", "--timeout-secs", "2"]);
    command.output().unwrap()
}

fn port_of(gw: &Gateway) -> String {
    gw.base.rsplit(':').next().unwrap().to_owned()
}

fn admin_key_lines(banner: &str) -> Vec<&str> {
    banner.lines().filter(|l| l.contains("admin key")).collect()
}

#[tokio::test]
async fn started_as_the_image_it_serves_health_and_prints_a_generated_admin_key_once() {
    let env = image_env();
    assert_eq!(env.get("GPROXY_HOST").map(String::as_str), Some("0.0.0.0"));
    assert_eq!(env.get("GPROXY_PORT").map(String::as_str), Some("8787"));
    assert_eq!(
        env.get("GPROXY_DATA_DIR").map(String::as_str),
        Some("/app/data")
    );

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("app/data");
    std::fs::create_dir_all(&data).unwrap();

    let gw = start_as_image(dir.path(), &data, &[]).await;
    let lines = admin_key_lines(&gw.stdout);
    assert_eq!(lines.len(), 1, "one generated admin key: {}", gw.stdout);
    let key = lines[0].rsplit(' ').next().unwrap().to_owned();
    assert!(key.len() >= 32, "{key}");
    assert!(
        data.join("gproxy.db").is_file(),
        "SQLite in the data dir: {}",
        gw.stdout
    );
    assert!(
        data.join("master.key").is_file(),
        "the generated master key"
    );

    let health = gw.send(gw.request("GET", "/health"), "").await;
    assert_eq!(health.status, 200, "{}", health.text());
    assert_eq!(health.json()["status"], "ok");
    let providers = gw.api("GET", "/providers", Some(&key), None).await;
    assert_eq!(providers.status, 200, "{}", providers.text());

    let port = port_of(&gw);
    let probe = healthcheck(dir.path(), &port);
    assert!(
        probe.status.success(),
        "healthcheck: {}{}",
        String::from_utf8_lossy(&probe.stdout),
        String::from_utf8_lossy(&probe.stderr)
    );
    assert!(String::from_utf8_lossy(&probe.stdout).contains("200"));
    assert!(gw.stop().await.success());

    // Stopped: the probe fails.
    let probe = healthcheck(dir.path(), &port);
    assert!(
        !probe.status.success(),
        "healthcheck passed on a stopped gateway"
    );

    // The same volume again: no new key, the first one still works.
    let gw = start_as_image(dir.path(), &data, &[]).await;
    assert!(
        admin_key_lines(&gw.stdout).is_empty(),
        "printed once only: {}",
        gw.stdout
    );
    let providers = gw.api("GET", "/providers", Some(&key), None).await;
    assert_eq!(providers.status, 200, "{}", providers.text());
    assert!(gw.stop().await.success());
}

#[tokio::test]
async fn keys_given_by_the_environment_are_used_and_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("app/data");
    std::fs::create_dir_all(&data).unwrap();
    let master = "11".repeat(32);
    let gw = start_as_image(
        dir.path(),
        &data,
        &[
            ("GPROXY_ADMIN_KEY", ADMIN_KEY),
            ("GPROXY_MASTER_KEY", master.as_str()),
        ],
    )
    .await;
    assert!(admin_key_lines(&gw.stdout).is_empty(), "{}", gw.stdout);
    assert!(!gw.stdout.contains(ADMIN_KEY) && !gw.stdout.contains(&master));
    assert!(
        !data.join("master.key").exists(),
        "no key file when the key comes from the environment"
    );
    let providers = gw.api("GET", "/providers", Some(ADMIN_KEY), None).await;
    assert_eq!(providers.status, 200, "{}", providers.text());
    assert!(gw.stop().await.success());
}

/// The venv of `scripts/deploy_tools.sh`, or `None` (skip) outside CI.
fn deploy_tools() -> Option<PathBuf> {
    let dir = std::env::var_os("GPROXY_DEPLOY_TOOLS")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/gproxy-deploy-tools"))
        })?;
    let python = dir.join("bin/python");
    if python.is_file() {
        return Some(python);
    }
    let message = format!(
        "no deployment tools at {} (bash scripts/deploy_tools.sh installs them)",
        dir.display()
    );
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true: {message}"
    );
    eprintln!("{message}: skipped");
    None
}

fn check_deploy(python: &Path, args: &[&str]) -> Output {
    std::process::Command::new(python)
        .arg(root().join("scripts/check_deploy.py"))
        .args(args)
        .output()
        .unwrap()
}

fn assert_ok(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn deployment_files_pass_their_checks_and_the_checks_catch_breakage() {
    let Some(python) = deploy_tools() else {
        return;
    };
    let out = check_deploy(&python, &[]);
    assert_ok("scripts/check_deploy.py", &out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 problem(s)"));
    let out = check_deploy(&python, &["--self-test"]);
    assert_ok("scripts/check_deploy.py --self-test", &out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("every breakage caught"));
}

#[tokio::test]
async fn the_config_files_the_deployments_mount_start_gproxy_with_shared_state_in_redis() {
    let Some(python) = deploy_tools() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let configs = dir.path().join("configs");
    let out = check_deploy(&python, &["--emit-configs", &configs.to_string_lossy()]);
    assert_ok("scripts/check_deploy.py --emit-configs", &out);
    for name in ["compose.toml", "helm.toml"] {
        let text = std::fs::read_to_string(configs.join(name)).unwrap();
        let run = dir.path().join(name.replace(".toml", ""));
        std::fs::create_dir_all(&run).unwrap();
        // Nothing listens on port 1: Redis is connected to lazily, and
        // /health reports it unreachable rather than start-up failing.
        let (gw, ()) = spawn_env(
            &run,
            &text,
            &["--admin-key", ADMIN_KEY],
            &[("GPROXY_REDIS_URL", "redis://127.0.0.1:1")],
        )
        .await;
        let gw = gw.unwrap_or_else(|e| panic!("{name} did not start gproxy: {e}"));
        let health = gw.health().await.json();
        assert_eq!(
            health["shared_state"]["backend"], "redis",
            "{name}: shared state in Redis: {health}"
        );
        assert!(gw.stop().await.success());
    }
}
