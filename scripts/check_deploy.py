#!/usr/bin/env python3
"""Checks gproxy's deployment files without Docker, a cluster or a PaaS.

Run by apps/gproxy/tests/deploy.rs with the venv scripts/deploy_tools.sh
installs (PyYAML, actionlint, shellcheck, hadolint, Helm's Go SDK through
helm-python-sdk, kubernetes-validate):

  check_deploy.py                  every check; exit 1 listing the failures
  check_deploy.py --self-test      breaks copies of the files on purpose and
                                   exits 1 unless every breakage is caught
  check_deploy.py --emit-configs D writes the gproxy config files the
                                   deployments mount (compose, Helm) into D,
                                   for the test to boot the binary with them

What is checked, and against what, is listed in docs/deployment.md
("What was verified here, and how").
"""

from __future__ import annotations

import base64
import copy
import os
import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PORT = 8787
DATA_DIR = "/app/data"
CHART = ROOT / "deploy/helm/gproxy"


def cli_env_vars() -> set[str]:
    """The GPROXY_* variables the binary reads (clap `env = "..."`)."""
    text = (ROOT / "apps/gproxy/src/main.rs").read_text()
    names = set(re.findall(r'env = "(GPROXY_[A-Z_]+)"', text))
    if not names:
        raise SystemExit("no GPROXY_* variables found in apps/gproxy/src/main.rs")
    return names


# Variables that are not gproxy's flags but that its config files reference
# as ${VAR} (deploy/compose/gproxy.toml, the chart's ConfigMap).
CONFIG_VARS = {"GPROXY_REDIS_URL"}


def unknown_fields(where: str, obj: dict, allowed: set[str], errors: list[str],
                   what: str = "unknown field") -> None:
    """Reports the keys of `obj` that `allowed` (a documented schema) lacks."""
    for key in obj:
        if key not in allowed:
            errors.append(f"{where}: {what} {key!r}")


def check_env_names(where: str, names, errors: list[str]) -> None:
    known = cli_env_vars() | CONFIG_VARS
    for name in names:
        if name.startswith("GPROXY_") and name not in known:
            errors.append(f"{where}: {name} is not a variable gproxy reads")


# --- YAML -------------------------------------------------------------------

def yaml_files() -> list[Path]:
    skip = {"node_modules", "target", ".git"}
    found = []
    for path in ROOT.rglob("*"):
        if path.suffix not in (".yml", ".yaml") or skip & set(path.parts):
            continue
        # Helm templates are Go templates; they are checked once rendered.
        if CHART / "templates" in path.parents:
            continue
        found.append(path)
    return sorted(found)


def check_yaml_parses(errors: list[str]) -> None:
    files = yaml_files()
    if len(files) < 8:
        errors.append(f"expected the deployment YAML files, found only {files}")
    for path in files:
        try:
            list(yaml.safe_load_all(path.read_text()))
        except yaml.YAMLError as e:
            errors.append(f"{path.relative_to(ROOT)}: not YAML: {e}")


# --- Tools ------------------------------------------------------------------

def run_tool(errors: list[str], what: str, argv: list[str], cwd: Path = ROOT) -> None:
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        errors.append(f"{what} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")


def check_actionlint(errors: list[str], workflows: Path) -> None:
    files = sorted(str(p) for p in workflows.glob("*.yml"))
    if not files:
        errors.append(f"no workflows in {workflows}")
        return
    # shellcheck (from the venv) checks the run: scripts too.
    run_tool(errors, "actionlint", [str(BIN / "actionlint"), *files])


def check_hadolint(errors: list[str], dockerfile: Path) -> None:
    run_tool(errors, "hadolint",
             [str(BIN / "hadolint"), "--failure-threshold", "warning", str(dockerfile)])


# --- Dockerfile ---------------------------------------------------------------

def dockerfile_stages(text: str) -> list[list[str]]:
    """Instructions (continuation lines joined) grouped by stage."""
    joined = re.sub(r"\\\n", " ", text)
    stages: list[list[str]] = []
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(line)
    return stages


def check_dockerfile(text: str, errors: list[str]) -> None:
    stages = dockerfile_stages(text)
    if len(stages) < 3:
        errors.append("Dockerfile: expected a UI stage, Rust stages and a runtime stage")
        return
    everything = "\n".join("\n".join(s) for s in stages)
    runtime = stages[-1]
    def has(prefix: str, stage=runtime) -> list[str]:
        return [i for i in stage if i.upper().startswith(prefix)]
    user = has("USER ")
    if not user or user[-1].split()[1].split(":")[0] in ("0", "root"):
        errors.append("Dockerfile: the runtime stage must run as a non-root USER")
    if not any(str(PORT) in i.split() for i in has("EXPOSE ")):
        errors.append(f"Dockerfile: the runtime stage must EXPOSE {PORT}")
    if not any(DATA_DIR in i for i in has("VOLUME ")):
        errors.append(f"Dockerfile: the runtime stage must declare VOLUME {DATA_DIR}")
    hc = has("HEALTHCHECK ")
    if not hc or '"healthcheck"' not in hc[0]:
        errors.append("Dockerfile: HEALTHCHECK must run `gproxy healthcheck`")
    env_text = " ".join(has("ENV "))
    env = dict(re.findall(r"(GPROXY_[A-Z_]+)=(\S+)", env_text))
    if env.get("GPROXY_HOST") != "0.0.0.0":
        errors.append("Dockerfile: the image must set GPROXY_HOST=0.0.0.0")
    if env.get("GPROXY_PORT") != str(PORT):
        errors.append(f"Dockerfile: the image must set GPROXY_PORT={PORT}")
    if env.get("GPROXY_DATA_DIR") != DATA_DIR:
        errors.append(f"Dockerfile: the image must set GPROXY_DATA_DIR={DATA_DIR}")
    check_env_names("Dockerfile", re.findall(r"GPROXY_[A-Z_]+", env_text), errors)
    if "npm run build" not in everything:
        errors.append("Dockerfile: the web console is not built (npm run build)")
    if "GPROXY_UI_DIST" not in everything:
        errors.append("Dockerfile: the Rust build must embed the console built once (GPROXY_UI_DIST)")
    if "cargo chef cook" not in everything:
        errors.append("Dockerfile: dependencies must be built in a cached layer (cargo chef cook)")
    if not any("ENTRYPOINT" in i and "gproxy" in i for i in runtime):
        errors.append("Dockerfile: the runtime stage must start gproxy")


# --- docker-compose.yml -------------------------------------------------------

COMPOSE_TOP = {"services", "volumes", "networks", "configs", "secrets", "name", "version"}
COMPOSE_SERVICE = {
    "build", "image", "restart", "environment", "env_file", "volumes", "ports", "expose",
    "depends_on", "healthcheck", "command", "entrypoint", "ulimits", "networks",
    "deploy", "labels", "user", "working_dir", "logging", "stop_grace_period",
    "container_name", "configs", "secrets", "profiles", "read_only", "tmpfs",
}
DEPENDS_CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}


def check_compose(doc: dict, nginx: str, gproxy_toml: str, errors: list[str]) -> None:
    where = "docker-compose.yml"
    extensions = {k for k in doc if k.startswith("x-")}
    unknown_fields(where, doc, COMPOSE_TOP | extensions, errors, "unknown top-level key")
    services = doc.get("services") or {}
    declared_volumes = set((doc.get("volumes") or {}).keys())
    gproxies = []
    for name, svc in services.items():
        unknown_fields(f"{where}: services.{name}", svc, COMPOSE_SERVICE, errors, "unknown key")
        deps = svc.get("depends_on") or {}
        for dep, cond in (deps.items() if isinstance(deps, dict) else ((d, {}) for d in deps)):
            if dep not in services:
                errors.append(f"{where}: services.{name} depends on unknown service {dep!r}")
            c = (cond or {}).get("condition", "service_started")
            if c not in DEPENDS_CONDITIONS:
                errors.append(f"{where}: services.{name}: depends_on condition {c!r}")
        for vol in svc.get("volumes") or []:
            source = vol.split(":")[0]
            if source.startswith((".", "/")):
                if not (ROOT / source).exists():
                    errors.append(f"{where}: services.{name} mounts missing {source}")
            elif source not in declared_volumes:
                errors.append(f"{where}: services.{name} uses undeclared volume {source!r}")
        env = svc.get("environment") or {}
        if "GPROXY_DSN" in env:
            gproxies.append(name)
            check_env_names(f"{where}: services.{name}", env.keys(), errors)
            if not str(env["GPROXY_DSN"]).startswith("postgres://") or "@postgres:" not in env["GPROXY_DSN"]:
                errors.append(f"{where}: services.{name}: GPROXY_DSN must name the postgres service")
            for shared in ("GPROXY_MASTER_KEY", "GPROXY_ADMIN_KEY"):
                if not re.fullmatch(r"\$\{%s(:\?[^}]*)?\}" % shared, str(env.get(shared, ""))):
                    errors.append(f"{where}: services.{name}: {shared} must come from ${{{shared}}}")
            redis_url = str(env.get("GPROXY_REDIS_URL", ""))
            if not redis_url.startswith("redis://redis:"):
                errors.append(f"{where}: services.{name}: GPROXY_REDIS_URL must name the redis service")
    if len(gproxies) < 2:
        errors.append(f"{where}: expected two gproxy replicas, found {gproxies}")
    for needed in ("postgres", "redis"):
        if needed not in services:
            errors.append(f"{where}: no {needed} service")
    upstreams = re.findall(r"^\s*server\s+([\w.-]+):(\d+)", nginx, re.M)
    if sorted(h for h, _ in upstreams) != sorted(gproxies):
        errors.append(f"nginx.conf: upstream servers {upstreams} are not the replicas {gproxies}")
    if any(int(p) != PORT for _, p in upstreams):
        errors.append(f"nginx.conf: upstream port must be {PORT}")
    if "proxy_buffering off" not in nginx:
        errors.append("nginx.conf: streams need proxy_buffering off")
    lb = [n for n, s in services.items() if "nginx" in str(s.get("image", ""))]
    if not lb:
        errors.append(f"{where}: no nginx load balancer")
    cfg = tomllib.loads(gproxy_toml)
    cb = cfg.get("circuit_breaker", {})
    if cb.get("backend") != "redis" or cb.get("redis_url") != "${GPROXY_REDIS_URL}":
        errors.append("deploy/compose/gproxy.toml: circuit_breaker must use redis at ${GPROXY_REDIS_URL}")


# --- render.yaml (https://render.com/docs/blueprint-spec) -----------------------

RENDER_TOP = {"services", "databases", "envVarGroups", "projects", "ungrouped", "previews"}
RENDER_SERVICE = {
    "name", "type", "runtime", "env", "plan", "previews", "buildCommand", "startCommand",
    "schedule", "preDeployCommand", "region", "repo", "branch", "autoDeployTrigger",
    "autoDeploy", "domains", "healthCheckPath", "maxShutdownDelaySeconds", "dockerCommand",
    "dockerfilePath", "dockerContext", "registryCredential", "image", "numInstances",
    "scaling", "buildFilter", "rootDir", "disk", "envVars", "staticPublishPath",
    "headers", "routes", "ipAllowList", "maxmemoryPolicy", "previewPlan",
}
RENDER_TYPES = {"web", "pserv", "worker", "cron", "keyvalue", "redis"}
RENDER_RUNTIMES = {"node", "python", "elixir", "go", "ruby", "rust", "docker", "image", "static"}
RENDER_PLANS = {"free", "starter", "standard", "pro", "pro plus", "pro max", "pro ultra"}
RENDER_DATABASE = {
    "name", "plan", "previewPlan", "diskSizeGB", "previewDiskSizeGB", "region", "ipAllowList",
    "postgresMajorVersion", "databaseName", "user", "readReplicas", "highAvailability",
}
RENDER_DB_PLANS = {
    "free", "basic-256mb", "basic-1gb", "basic-4gb", "pro-4gb", "pro-8gb", "pro-16gb",
    "pro-32gb", "pro-64gb", "pro-128gb", "pro-192gb", "pro-256gb", "pro-384gb", "pro-512gb",
}
RENDER_ENV_SOURCES = {"value", "generateValue", "sync", "fromDatabase", "fromService", "fromGroup"}
RENDER_DB_PROPERTIES = {"connectionString", "host", "port", "user", "password", "database"}


def check_render(doc: dict, errors: list[str]) -> None:
    where = "render.yaml"
    unknown_fields(where, doc, RENDER_TOP, errors, "unknown root field")
    databases = {d.get("name"): d for d in doc.get("databases") or []}
    for name, db in databases.items():
        unknown_fields(f"{where}: databases.{name}", db, RENDER_DATABASE, errors)
        if "plan" in db and db["plan"] not in RENDER_DB_PLANS:
            errors.append(f"{where}: databases.{name}: plan {db['plan']!r}")
    services = doc.get("services") or []
    if not services:
        errors.append(f"{where}: no services")
    for svc in services:
        name = svc.get("name", "?")
        unknown_fields(f"{where}: services.{name}", svc, RENDER_SERVICE, errors)
        for required in ("name", "type"):
            if required not in svc:
                errors.append(f"{where}: services.{name}: {required} is required")
        if svc.get("type") not in RENDER_TYPES:
            errors.append(f"{where}: services.{name}: type {svc.get('type')!r}")
        if svc.get("runtime") not in RENDER_RUNTIMES:
            errors.append(f"{where}: services.{name}: runtime {svc.get('runtime')!r}")
        if "plan" in svc and svc["plan"] not in RENDER_PLANS:
            errors.append(f"{where}: services.{name}: plan {svc['plan']!r}")
        if svc.get("runtime") == "docker":
            dockerfile = svc.get("dockerfilePath", "./Dockerfile")
            if not (ROOT / dockerfile).is_file():
                errors.append(f"{where}: services.{name}: no {dockerfile}")
        if svc.get("type") == "web" and svc.get("healthCheckPath") != "/health":
            errors.append(f"{where}: services.{name}: healthCheckPath must be /health")
        delay = svc.get("maxShutdownDelaySeconds", 30)
        if not (isinstance(delay, int) and 1 <= delay <= 300):
            errors.append(f"{where}: services.{name}: maxShutdownDelaySeconds {delay!r}")
        env = {}
        for var in svc.get("envVars") or []:
            sources = RENDER_ENV_SOURCES & set(var)
            if "fromGroup" not in var and "key" not in var:
                errors.append(f"{where}: services.{name}: an envVars entry without key")
            if len(sources) != 1 or set(var) - sources - {"key"}:
                errors.append(f"{where}: services.{name}: envVars {var.get('key')}: exactly one source")
            if "value" in var and not isinstance(var["value"], str):
                errors.append(f"{where}: envVars {var.get('key')}: value must be a string")
            if "fromDatabase" in var:
                ref = var["fromDatabase"]
                if ref.get("name") not in databases:
                    errors.append(f"{where}: envVars {var.get('key')}: unknown database {ref.get('name')!r}")
                if ref.get("property") not in RENDER_DB_PROPERTIES:
                    errors.append(f"{where}: envVars {var.get('key')}: property {ref.get('property')!r}")
            env[var.get("key")] = var
        check_env_names(f"{where}: services.{name}", [k for k in env if k], errors)
        if svc.get("type") == "web":
            for port_var in ("PORT", "GPROXY_PORT"):
                if env.get(port_var, {}).get("value") != str(PORT):
                    errors.append(f"{where}: services.{name}: {port_var} must be {PORT}")
            for generated in ("GPROXY_ADMIN_KEY", "GPROXY_MASTER_KEY"):
                if env.get(generated, {}).get("generateValue") is not True:
                    errors.append(f"{where}: services.{name}: {generated} must be generated")
            if "GPROXY_DSN" not in env and "disk" not in svc:
                errors.append(f"{where}: services.{name}: needs a database (GPROXY_DSN) or a disk")


# --- zeabur.yaml (https://zeabur.com/docs/en-US/template/template-in-code) -----

ZEABUR_SPEC = {"description", "icon", "coverImage", "variables", "tags", "readme",
               "resourceUsage", "services"}
ZEABUR_SERVICE = {"name", "icon", "template", "domainKey", "dependencies", "spec"}
ZEABUR_SERVICE_SPEC = {"source", "ports", "volumes", "env", "configs", "init", "command",
                       "instructions"}


def check_zeabur(doc: dict, errors: list[str]) -> None:
    where = "zeabur.yaml"
    if doc.get("apiVersion") != "zeabur.com/v1" or doc.get("kind") != "Template":
        errors.append(f"{where}: must be apiVersion zeabur.com/v1, kind Template")
    if not (doc.get("metadata") or {}).get("name"):
        errors.append(f"{where}: metadata.name is required")
    unknown_fields(where, doc, {"apiVersion", "kind", "metadata", "spec", "localization"},
                   errors, "unknown root field")
    spec = doc.get("spec") or {}
    unknown_fields(f"{where}: spec", spec, ZEABUR_SPEC, errors)
    variables = {}
    for var in spec.get("variables") or []:
        for field in ("key", "type", "name", "description"):
            if field not in var:
                errors.append(f"{where}: spec.variables: {field} is required")
        if var.get("type") not in ("DOMAIN", "STRING"):
            errors.append(f"{where}: spec.variables.{var.get('key')}: type {var.get('type')!r}")
        variables[var.get("key")] = var
    services = spec.get("services") or []
    if not services:
        errors.append(f"{where}: spec.services is required")
    for svc in services:
        name = svc.get("name", "?")
        unknown_fields(f"{where}: services.{name}", svc, ZEABUR_SERVICE, errors)
        if svc.get("template") not in ("PREBUILT", "PREBUILT_V2", "GIT"):
            errors.append(f"{where}: services.{name}: template {svc.get('template')!r}")
        domain_key = svc.get("domainKey")
        if domain_key and (variables.get(domain_key) or {}).get("type") != "DOMAIN":
            errors.append(f"{where}: services.{name}: domainKey {domain_key!r} is no DOMAIN variable")
        sspec = svc.get("spec") or {}
        unknown_fields(f"{where}: services.{name}.spec", sspec, ZEABUR_SERVICE_SPEC, errors)
        if not (sspec.get("source") or {}).get("image"):
            errors.append(f"{where}: services.{name}: spec.source.image is required")
        ports = sspec.get("ports") or []
        for port in ports:
            if set(port) != {"id", "port", "type"} or port.get("type") not in ("HTTP", "TCP"):
                errors.append(f"{where}: services.{name}: port entry {port}")
        if not any(p.get("port") == PORT and p.get("type") == "HTTP" for p in ports):
            errors.append(f"{where}: services.{name}: must publish HTTP port {PORT}")
        volumes = sspec.get("volumes") or []
        for vol in volumes:
            if set(vol) != {"id", "dir"}:
                errors.append(f"{where}: services.{name}: volume entry {vol}")
        if not any(v.get("dir") == DATA_DIR for v in volumes):
            errors.append(f"{where}: services.{name}: needs a volume at {DATA_DIR}")
        env = sspec.get("env") or {}
        for key, value in env.items():
            if not isinstance(value, dict) or "default" not in value or set(value) - {"default", "expose", "readonly"}:
                errors.append(f"{where}: services.{name}: env {key}: needs default (and only expose/readonly)")
        check_env_names(f"{where}: services.{name}", env.keys(), errors)
        if (env.get("GPROXY_PORT") or {}).get("default") != str(PORT):
            errors.append(f"{where}: services.{name}: GPROXY_PORT must be {PORT}")
        if (env.get("GPROXY_HOST") or {}).get("default") != "0.0.0.0":
            errors.append(f"{where}: services.{name}: GPROXY_HOST must be 0.0.0.0")


# --- Helm chart -------------------------------------------------------------------

HELM_CASES = {
    # name: (values, must render)
    "default": ({}, True),
    "sqlite-persistent": ({"persistence": {"enabled": True}}, True),
    "several-replicas": ({
        "replicaCount": 3,
        "database": {"dsn": "postgres://gproxy:pw@pg:5432/gproxy"},
        "redis": {"url": "redis://redis:6379"},
        "secrets": {"adminKey": "admin-key-0123456789", "masterKey": "00" * 32},
        "ingress": {"enabled": True, "className": "nginx",
                    "tls": [{"secretName": "t", "hosts": ["gproxy.example.com"]}]},
        "config": '[[users]]\nname = "alice"\nkeys = ["sk-alice-0123456789"]\n',
        "extraEnv": [{"name": "GPROXY_LOG", "value": "debug"}],
    }, True),
    "autoscaled": ({
        "autoscaling": {"enabled": True},
        "database": {"dsn": "mysql://gproxy:pw@db:3306/gproxy"},
    }, True),
    "existing-secret": ({"secrets": {"existingSecret": "mine"}, "replicaCount": 2}, True),
    "several-on-sqlite": ({"replicaCount": 2}, False),
    "autoscaled-on-sqlite": ({"autoscaling": {"enabled": True}}, False),
    "config-and-redis-both-set-the-breaker": ({
        "redis": {"url": "redis://r:6379"},
        "config": '[circuit_breaker]\nenabled = true\n',
    }, False),
}


def render_chart(values: dict) -> dict[str, str]:
    import helm_python as helm
    with helm.Chart.load(str(CHART)) as chart:
        return chart.render(values, name="gp", namespace="gproxy")


def manifests(rendered: dict[str, str]) -> list[dict]:
    docs = []
    for name, text in rendered.items():
        if name.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                docs.append(doc)
    return docs


def check_helm_manifests(case: str, docs: list[dict], values: dict, errors: list[str]) -> None:
    where = f"helm[{case}]"
    by_kind: dict[str, list[dict]] = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], []).append(doc)
    deployments = by_kind.get("Deployment", [])
    if len(deployments) != 1:
        errors.append(f"{where}: expected one Deployment")
        return
    pod = deployments[0]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = {e["name"]: e for e in container.get("env", [])}
    check_env_names(where, env.keys(), errors)
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        get = (container.get(probe) or {}).get("httpGet") or {}
        if get.get("path") != "/health" or get.get("port") != "http":
            errors.append(f"{where}: {probe} must GET /health on the http port")
    if [p["containerPort"] for p in container.get("ports", [])] != [PORT]:
        errors.append(f"{where}: the container must listen on {PORT}")
    if env.get("GPROXY_HOST", {}).get("value") != "0.0.0.0":
        errors.append(f"{where}: GPROXY_HOST must be 0.0.0.0")
    if pod.get("securityContext", {}).get("runAsNonRoot") is not True:
        errors.append(f"{where}: pods must run as non-root")
    secrets = {s["metadata"]["name"]: s for s in by_kind.get("Secret", [])}
    existing = (values.get("secrets") or {}).get("existingSecret")
    for name, var in env.items():
        ref = (var.get("valueFrom") or {}).get("secretKeyRef")
        if not ref:
            continue
        if existing:
            if ref["name"] != existing:
                errors.append(f"{where}: {name} must come from the existing Secret")
            continue
        secret = secrets.get(ref["name"])
        if secret is None or ref["key"] not in secret.get("data", {}):
            if not ref.get("optional"):
                errors.append(f"{where}: {name} refers to a missing Secret key {ref}")
    for secret in secrets.values():
        master = base64.b64decode(secret["data"]["GPROXY_MASTER_KEY"]).decode()
        raw = bytes.fromhex(master) if re.fullmatch(r"[0-9a-fA-F]{64}", master) else base64.b64decode(master)
        if len(raw) != 32:
            errors.append(f"{where}: the master key is not 32 bytes")
        if secret["metadata"].get("annotations", {}).get("helm.sh/resource-policy") != "keep":
            errors.append(f"{where}: the key Secret must survive an uninstall")
    several = values.get("replicaCount", 1) > 1 or (values.get("autoscaling") or {}).get("enabled")
    if several and not existing and "GPROXY_DSN" not in env:
        errors.append(f"{where}: several replicas without a shared database")
    mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
    if DATA_DIR not in mounts or "/etc/gproxy" not in mounts:
        errors.append(f"{where}: {DATA_DIR} and /etc/gproxy must be mounted")
    for cm in by_kind.get("ConfigMap", []):
        try:
            cfg = tomllib.loads(cm["data"]["gproxy.toml"])
        except tomllib.TOMLDecodeError as e:
            errors.append(f"{where}: the ConfigMap's gproxy.toml is not TOML: {e}")
            continue
        redis = (values.get("redis") or {}).get("url")
        cb = cfg.get("circuit_breaker", {})
        if redis and cb.get("backend") != "redis":
            errors.append(f"{where}: redis.url set but the config does not use it")
        if redis and "GPROXY_REDIS_URL" not in env:
            errors.append(f"{where}: the config reads ${{GPROXY_REDIS_URL}}, which is not set")
    if (values.get("autoscaling") or {}).get("enabled") and not by_kind.get("HorizontalPodAutoscaler"):
        errors.append(f"{where}: autoscaling enabled but no HPA")
    if (values.get("ingress") or {}).get("enabled") and not by_kind.get("Ingress"):
        errors.append(f"{where}: ingress enabled but no Ingress")


def kubernetes_validate(docs: list[dict], where: str, errors: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for i, doc in enumerate(docs):
            path = Path(tmp) / f"{i}-{doc['kind']}.yaml"
            path.write_text(yaml.safe_dump(doc))
            files.append(str(path))
        run_tool(errors, f"kubernetes-validate {where}",
                 [str(BIN / "kubernetes-validate"), "--strict", "--quiet", *files])


def check_helm(errors: list[str], cases=HELM_CASES, validate: bool = True) -> None:
    import helm_python as helm
    lint = helm.lint(str(CHART))
    for message in lint.get("messages", []):
        if message.get("severity", 0) > 1:
            errors.append(f"helm lint: {message}")
    for message in lint.get("errors", []):
        errors.append(f"helm lint: {message}")
    for case, (values, must_render) in cases.items():
        try:
            rendered = render_chart(values)
        except Exception as e:  # the chart's `fail` surfaces as a render error
            if must_render:
                errors.append(f"helm[{case}]: did not render: {e}")
            continue
        if not must_render:
            errors.append(f"helm[{case}]: rendered, but these values must be refused")
            continue
        docs = manifests(rendered)
        check_helm_manifests(case, docs, values, errors)
        if validate:
            kubernetes_validate(docs, case, errors)


# --- README and CI pins ----------------------------------------------------------------

def check_readme_and_pins(readme: str, ci_run: str, ci_yml: dict, errors: list[str]) -> None:
    if not re.search(r"\]\(https://render\.com/deploy\?repo=https://github\.com/[^)\s]+\)", readme):
        errors.append("README.md: no Deploy to Render button")
    if "zeabur" not in readme.lower():
        errors.append("README.md: no Zeabur deploy instructions")
    if "docs/deployment.md" not in readme:
        errors.append("README.md: no link to docs/deployment.md")
    agents = re.search(r'^AGENTS="([^"]+)"', ci_run, re.M)
    audit = re.search(r"^AUDIT_VERSION=(\S+)", ci_run, re.M)
    env = ci_yml.get("env") or {}
    if not agents or env.get("AGENTS") != agents.group(1):
        errors.append(".github/workflows/ci.yml: AGENTS differs from .ci/run's")
    if not audit or str(env.get("AUDIT_VERSION")) != audit.group(1):
        errors.append(".github/workflows/ci.yml: AUDIT_VERSION differs from .ci/run's")
    if "deploy_tools.sh" not in ci_run or "deploy_tools.sh" not in yaml.safe_dump(ci_yml):
        errors.append(".ci/run and ci.yml must both install the deployment tools")


# --- Driver -------------------------------------------------------------------------------

def load_inputs() -> dict:
    return {
        "dockerfile": (ROOT / "Dockerfile").read_text(),
        "compose": yaml.safe_load((ROOT / "docker-compose.yml").read_text()),
        "nginx": (ROOT / "deploy/compose/nginx.conf").read_text(),
        "gproxy_toml": (ROOT / "deploy/compose/gproxy.toml").read_text(),
        "render": yaml.safe_load((ROOT / "render.yaml").read_text()),
        "zeabur": yaml.safe_load((ROOT / "zeabur.yaml").read_text()),
        "readme": (ROOT / "README.md").read_text(),
        "ci_run": (ROOT / ".ci/run").read_text(),
        "ci_yml": yaml.safe_load((ROOT / ".github/workflows/ci.yml").read_text()),
    }


def check_inputs(i: dict) -> list[str]:
    """The checks that read parsed files only (no tools): what --self-test breaks."""
    errors: list[str] = []
    check_dockerfile(i["dockerfile"], errors)
    check_compose(i["compose"], i["nginx"], i["gproxy_toml"], errors)
    check_render(i["render"], errors)
    check_zeabur(i["zeabur"], errors)
    check_readme_and_pins(i["readme"], i["ci_run"], i["ci_yml"], errors)
    return errors


def check_all() -> list[str]:
    errors = check_inputs(load_inputs())
    check_yaml_parses(errors)
    check_actionlint(errors, ROOT / ".github/workflows")
    check_hadolint(errors, ROOT / "Dockerfile")
    check_helm(errors)
    return errors


def self_test() -> list[str]:
    """Each breakage must make the checks fail; returns the ones that did not."""
    base = load_inputs()
    if check_inputs(base):
        return ["the unbroken files fail already: " + "; ".join(check_inputs(base))]

    def web(d):
        return d["render"]["services"][0]

    def env_of(d, key):
        return next(v for v in web(d)["envVars"] if v.get("key") == key)

    breakages = {
        "render: no health check": lambda d: web(d).pop("healthCheckPath"),
        "render: a field the spec does not have": lambda d: web(d).update(dockerfile="Dockerfile"),
        "render: PORT differs": lambda d: env_of(d, "PORT").update(value="10000"),
        "render: a variable gproxy does not read": lambda d: web(d)["envVars"].append({"key": "GPROXY_DATABASE_URL", "value": "x"}),
        "render: two sources for one variable": lambda d: env_of(d, "GPROXY_ADMIN_KEY").update(value="x"),
        "render: unknown database": lambda d: env_of(d, "GPROXY_DSN")["fromDatabase"].update(name="nope"),
        "zeabur: wrong port": lambda d: d["zeabur"]["spec"]["services"][0]["spec"]["ports"][0].update(port=80),
        "zeabur: unknown template kind": lambda d: d["zeabur"]["spec"]["services"][0].update(template="DOCKER"),
        "zeabur: no data volume": lambda d: d["zeabur"]["spec"]["services"][0]["spec"].pop("volumes"),
        "compose: dependency on a missing service": lambda d: d["compose"]["services"]["gproxy-2"].update(depends_on={"nope": {"condition": "service_healthy"}}),
        "compose: one replica": lambda d: d["compose"]["services"].pop("gproxy-2"),
        "compose: nginx sends to a wrong port": lambda d: d.update(nginx=d["nginx"].replace(":8787", ":8080")),
        "compose: no shared state in Redis": lambda d: d.update(gproxy_toml="[circuit_breaker]\nbackend = \"memory\"\n"),
        "dockerfile: no health check": lambda d: d.update(dockerfile=re.sub(r"HEALTHCHECK[^\n]*\\\n[^\n]*\n", "", d["dockerfile"])),
        "dockerfile: runs as root": lambda d: d.update(dockerfile=d["dockerfile"].replace("USER 65532:65532", "USER root")),
        "dockerfile: listens on localhost": lambda d: d.update(dockerfile=d["dockerfile"].replace("GPROXY_HOST=0.0.0.0", "GPROXY_HOST=127.0.0.1")),
        "dockerfile: the console built twice": lambda d: d.update(dockerfile=d["dockerfile"].replace("GPROXY_UI_DIST", "GPROXY_UI_DIR")),
        "ci.yml: agent pins drift from .ci/run": lambda d: d["ci_yml"]["env"].update(AGENTS="@openai/codex@0.1.0"),
        "readme: no Render button": lambda d: d.update(readme=d["readme"].replace("render.com/deploy", "render.com/docs")),
    }
    missed = []
    for name, breakage in breakages.items():
        broken = copy.deepcopy(base)
        breakage(broken)
        if not check_inputs(broken):
            missed.append(f"not caught: {name}")

    # Tools: a broken workflow and a broken Dockerfile must fail them.
    with tempfile.TemporaryDirectory() as tmp:
        wf = Path(tmp) / "workflows"
        wf.mkdir()
        (wf / "bad.yml").write_text(
            "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    needs: nope\n"
            "    steps:\n      - run: echo ${{ github.nope }}\n")
        errors: list[str] = []
        check_actionlint(errors, wf)
        if not errors:
            missed.append("not caught: actionlint on a job needing a missing job")
        bad_docker = Path(tmp) / "Dockerfile"
        bad_docker.write_text("FROM debian\nRUN apt-get install curl\n")
        errors = []
        check_hadolint(errors, bad_docker)
        if not errors:
            missed.append("not caught: hadolint on an unpinned apt-get install")
    # The chart: values that must be refused are (HELM_CASES holds them);
    # and a Deployment without probes would be reported.
    docs = manifests(render_chart({}))
    for doc in docs:
        if doc["kind"] == "Deployment":
            doc["spec"]["template"]["spec"]["containers"][0].pop("livenessProbe")
    errors = []
    check_helm_manifests("broken", docs, {}, errors)
    if not errors:
        missed.append("not caught: a Deployment without a liveness probe")
    errors = []
    kubernetes_validate([{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"},
                          "spec": {"ports": [{"port": "eighty"}]}}], "broken", errors)
    if not errors:
        missed.append("not caught: kubernetes-validate on a Service with a text port")
    return missed


def emit_configs(out: Path) -> None:
    """The config files the deployments mount, for the binary to boot with."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "compose.toml").write_text((ROOT / "deploy/compose/gproxy.toml").read_text())
    values, _ = HELM_CASES["several-replicas"]
    for doc in manifests(render_chart(values)):
        if doc["kind"] == "ConfigMap":
            (out / "helm.toml").write_text(doc["data"]["gproxy.toml"])


def main(argv: list[str]) -> int:
    if argv[1:2] == ["--self-test"]:
        missed = self_test()
        for m in missed:
            print(m)
        print(f"self-test: {'FAILED' if missed else 'every breakage caught'}")
        return 1 if missed else 0
    if argv[1:2] == ["--emit-configs"] and len(argv) == 3:
        emit_configs(Path(argv[2]))
        return 0
    errors = check_all()
    for e in errors:
        print(f"- {e}")
    print(f"deployment checks: {len(errors)} problem(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
