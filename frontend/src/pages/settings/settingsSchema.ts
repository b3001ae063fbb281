// The settings page's sections as data: each field's kind and bounds,
// mirroring the gateway's checks (crates/gproxy-core/src/config.rs,
// config/resilience.rs, config/logging.rs, config/cors.rs, config/observe.rs), so one generic
// form renders, checks and converts every section. The server still checks
// everything; its field paths (`limits.max_body_bytes`,
// `cors.allowed_origins[2]`) land on the same fields.
import { z } from "zod";
import type { Settings, SettingsPatch } from "../../api/settings";

export type FieldSpec =
  | { name: string; kind: "int"; min: number; max: number }
  | { name: string; kind: "bool" }
  | { name: string; kind: "select"; options: readonly string[] }
  | { name: string; kind: "text"; check?: (value: string) => string | null }
  | { name: string; kind: "lines"; check: (line: string) => string | null };

export const SECTIONS = ["limits", "circuit_breaker", "logging", "cors", "metrics", "proxy"] as const;
export type Section = (typeof SECTIONS)[number];

const U32 = 4294967295;
const U64 = Number.MAX_SAFE_INTEGER;

/** A header name (RFC 7230 token). */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export function originError(origin: string): string | null {
  if (origin === "*") return null;
  return /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#@\s]+$/.test(origin) ? null : "settings.errors.origin";
}

export function proxyError(url: string): string | null {
  if (url === "") return null;
  const m = /^(http|socks5|socks5h):\/\/(?:[^@/\s]*@)?([^/@\s:]+|\[[0-9a-fA-F:]+\])(?::\d+)?\/?$/.exec(url);
  if (!m) return /^(http|socks5|socks5h):\/\//.test(url) ? "settings.errors.proxyHost" : "settings.errors.proxyScheme";
  return null;
}

export const FIELDS: Record<Section, readonly FieldSpec[]> = {
  limits: [
    { name: "max_body_bytes", kind: "int", min: 1, max: U64 },
    { name: "max_response_bytes", kind: "int", min: 1, max: U64 },
    { name: "max_passthrough_body_bytes", kind: "int", min: 1, max: U64 },
    { name: "connect_timeout_secs", kind: "int", min: 1, max: U64 },
    { name: "first_byte_timeout_secs", kind: "int", min: 1, max: U64 },
    { name: "stream_idle_timeout_secs", kind: "int", min: 1, max: U64 },
  ],
  circuit_breaker: [
    { name: "enabled", kind: "bool" },
    { name: "failure_threshold", kind: "int", min: 1, max: U32 },
    { name: "window_seconds", kind: "int", min: 1, max: U64 },
    { name: "cooldown_seconds", kind: "int", min: 1, max: U64 },
    { name: "max_transient_retries", kind: "int", min: 0, max: 10 },
    { name: "max_rate_limit_retries", kind: "int", min: 0, max: 10 },
    { name: "global_rate_limit_escalation_window", kind: "int", min: 0, max: U64 },
    {
      name: "degraded_signal",
      kind: "text",
      // eslint-disable-next-line no-control-regex -- control characters are what is refused
      check: (v) => ([...v].length > 200 || /[\u0000-\u001f\u007f-\u009f]/.test(v) ? "settings.errors.signal" : null),
    },
    { name: "test_mode_enabled", kind: "bool" },
    { name: "backend", kind: "select", options: ["memory", "redis"] },
    {
      name: "redis_url",
      kind: "text",
      check: (v) =>
        v === "" || v.startsWith("redis://") || v.startsWith("unix://") ? null : "settings.errors.redisUrl",
    },
    { name: "redis_key_prefix", kind: "text" },
  ],
  logging: [
    { name: "record_requests", kind: "bool" },
    { name: "capture_bodies", kind: "bool" },
    { name: "max_body_bytes", kind: "int", min: 0, max: 16 * 1024 * 1024 },
    { name: "redact_headers", kind: "lines", check: (l) => (HEADER_NAME.test(l) ? null : "validation.headerName") },
    { name: "retention_days", kind: "int", min: 0, max: 3650 },
  ],
  cors: [
    { name: "allowed_origins", kind: "lines", check: originError },
    { name: "allow_credentials", kind: "bool" },
    { name: "max_age_secs", kind: "int", min: 0, max: 86400 },
  ],
  metrics: [
    { name: "enabled", kind: "bool" },
    { name: "per_key_labels", kind: "bool" },
    { name: "max_models", kind: "int", min: 1, max: 10000 },
    // Write-only: the stored token comes back only as its hash; empty keeps it.
    { name: "token", kind: "text" },
  ],
  proxy: [{ name: "proxy", kind: "text", check: proxyError }],
};

/** A section's form values: text for numbers, text and lines; booleans. */
export type SectionValues = Record<string, string | boolean>;

function lineList(text: string): string[] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
}

/** The stored fields of `section` (the proxy section is just `proxy`). */
function stored(settings: Settings, section: Section): Record<string, unknown> {
  if (section === "proxy") return { proxy: settings.proxy ?? "" };
  return settings[section] as Record<string, unknown>;
}

export function valuesOf(settings: Settings, section: Section): SectionValues {
  const from = stored(settings, section);
  const out: SectionValues = {};
  for (const f of FIELDS[section]) {
    const v = from[f.name];
    if (f.kind === "bool") out[f.name] = v === true;
    else if (f.kind === "lines") out[f.name] = Array.isArray(v) ? v.join("\n") : "";
    else out[f.name] = v === null || v === undefined ? "" : String(v);
  }
  return out;
}

/** Why an int field's text is invalid (an i18n key), or null. Empty keeps
 * the current value. */
export function intError(text: string, min: number, max: number): string | null {
  const v = text.trim();
  if (v === "") return null;
  if (!/^\d+$/.test(v)) return "settings.errors.int";
  const n = Number(v);
  if (n < min) return min === 1 ? "settings.errors.positive" : "settings.errors.int";
  if (n > max) return "settings.errors.max";
  return null;
}

export function sectionSchema(section: Section) {
  return z.record(z.string(), z.union([z.string(), z.boolean()])).superRefine((values, ctx) => {
    for (const f of FIELDS[section]) {
      const raw = values[f.name];
      if (typeof raw !== "string") continue;
      let err: string | null = null;
      if (f.kind === "int") err = intError(raw, f.min, f.max);
      else if (f.kind === "text") err = f.check ? f.check(raw.trim()) : null;
      else if (f.kind === "lines")
        err =
          lineList(raw)
            .map(f.check)
            .find((e) => e !== null) ?? null;
      if (err) ctx.addIssue({ code: "custom", path: [f.name], message: err });
    }
    if (
      section === "cors" &&
      values.allow_credentials === true &&
      lineList(String(values.allowed_origins)).includes("*")
    ) {
      ctx.addIssue({ code: "custom", path: ["allow_credentials"], message: "settings.errors.credentialsStar" });
    }
  });
}

/** The `PATCH /settings` body for one section. Empty numbers are left out
 * (they keep the stored value); the proxy is sent only when `changed`
 * (the stored one comes back with its password masked), empty removes it. */
export function toPatch(section: Section, values: SectionValues, changed = true): SettingsPatch {
  if (section === "proxy") {
    if (!changed) return {};
    const p = String(values.proxy ?? "").trim();
    return { proxy: p === "" ? null : p };
  }
  const body: Record<string, unknown> = {};
  for (const f of FIELDS[section]) {
    const v = values[f.name];
    if (f.kind === "bool") body[f.name] = v === true;
    else if (f.kind === "lines") body[f.name] = lineList(String(v ?? ""));
    else if (f.kind === "int") {
      const text = String(v ?? "").trim();
      if (text !== "") body[f.name] = Number(text);
    } else {
      const text = String(v ?? "").trim();
      if (text !== "" || f.name === "degraded_signal") body[f.name] = text;
    }
  }
  return { [section]: body };
}

/** The form field an API error path names within `section`, or null when
 * it belongs to another section: `logging.redact_headers[1]` →
 * `redact_headers`. */
export function formField(section: Section, apiField: string): string | null {
  if (section === "proxy") return apiField === "proxy" ? "proxy" : null;
  const prefix = `${section}.`;
  if (!apiField.startsWith(prefix)) return null;
  return apiField.slice(prefix.length).replace(/\[\d+\]$/, "");
}
