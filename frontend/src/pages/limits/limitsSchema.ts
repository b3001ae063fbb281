// The rate-limit and budget editors' values, their checks and their
// conversion to the `rate_limits` and `budgets` settings sections, which
// `PATCH /settings` replaces whole. The checks mirror the gateway's
// (crates/gproxy-core/src/config/rate_limits.rs, config/budgets.rs): limits
// of at least 1, amounts above 0 with at most nine decimals, a warning at
// 1 to 99 %, a Redis URL with the redis backend, bounded timeouts and
// windows. The server still checks everything; its field paths
// (`budgets.users.alice.daily_usd`, `rate_limits.global.rpm`) land on the
// same inputs.
//
// Every field left empty is left out of the section, so it keeps the
// gateway's default; the Redis fields are sent only with the redis backend.
import { z } from "zod";
import type { BudgetsConfig, RateLimitsConfig } from "../../api/settings";
import { intError } from "../settings/settingsSchema";

type Budget = NonNullable<BudgetsConfig["users"]>[string];
type RateLimit = NonNullable<RateLimitsConfig["global"]>;

/** Where the counters live; "" is the default (memory). */
export const BACKENDS = ["", "memory", "redis"] as const;
/** What a request gets while Redis is unreachable; "" is the default (open). */
export const ON_REDIS_ERROR = ["", "open", "closed"] as const;
/** A budgeted request to an unpriced model; "" is the default (refuse). */
export const UNPRICED = ["", "refuse", "allow"] as const;

export interface BackendValues {
  backend: (typeof BACKENDS)[number];
  redis_url: string;
  redis_prefix: string;
  on_redis_error: (typeof ON_REDIS_ERROR)[number];
  /** Numbers are text, so a half-typed one is a field error, not NaN. */
  redis_timeout_ms: string;
}

/** The fields shown (and sent) only with the redis backend. */
export const REDIS_FIELDS = ["redis_url", "redis_prefix", "on_redis_error", "redis_timeout_ms"] as const;

const U64 = Number.MAX_SAFE_INTEGER;

type AddIssue = (path: (string | number)[], message: string) => void;

function backendValues(c: BudgetsConfig | RateLimitsConfig): BackendValues {
  return {
    backend: c.backend ?? "",
    redis_url: c.redis_url ?? "",
    redis_prefix: c.redis_prefix ?? "",
    on_redis_error: c.on_redis_error ?? "",
    redis_timeout_ms: text(c.redis_timeout_ms),
  };
}

function backendIssues(v: BackendValues, add: AddIssue): void {
  if (v.backend !== "redis") return;
  const url = v.redis_url.trim();
  if (!url.startsWith("redis://")) add(["redis_url"], "limitsPage.errors.redisUrl");
  const err = rangeError(v.redis_timeout_ms, 1, 5000, "limitsPage.errors.timeout");
  if (err) add(["redis_timeout_ms"], err);
}

function backendPatch(v: BackendValues): BudgetsConfig & RateLimitsConfig {
  const out: BudgetsConfig & RateLimitsConfig = {};
  if (v.backend) out.backend = v.backend;
  if (v.backend !== "redis") return out;
  out.redis_url = v.redis_url.trim();
  if (v.redis_prefix.trim()) out.redis_prefix = v.redis_prefix.trim();
  if (v.on_redis_error) out.on_redis_error = v.on_redis_error;
  setInt(out, "redis_timeout_ms", v.redis_timeout_ms);
  return out;
}

function text(v: string | number | null | undefined): string {
  return v === null || v === undefined ? "" : String(v);
}

/** Sets `out[key]` to the number in `value`, unless it is empty. */
function setInt<K extends string>(out: Partial<Record<K, number | null>>, key: K, value: string): void {
  if (value.trim() !== "") out[key] = Number(value.trim());
}

/** Why a bounded whole number is invalid (an i18n key: `key` when out
 * of bounds), or null. Empty keeps the default. */
export function rangeError(value: string, min: number, max: number, key: string): string | null {
  const v = value.trim();
  if (v === "") return null;
  if (!/^\d+$/.test(v)) return "settings.errors.int";
  return Number(v) >= min && Number(v) <= max ? null : key;
}

// ---- Amounts ----

const AMOUNT = /^(\d+)(?:\.(\d{1,9}))?$/;
/** The gateway counts nano-dollars in a signed 64-bit integer. */
const MAX_NANOS = 9_223_372_036_854_775_807n;

/** Why a USD amount is invalid (an i18n key), or null. Empty is no
 * amount; zero is refused unless `allowZero`. */
export function usdError(value: string, allowZero = false): string | null {
  if (value.trim() === "") return null;
  const m = AMOUNT.exec(value.trim());
  if (!m) return "validation.usd";
  const nanos = BigInt(m[1] ?? "0") * 1_000_000_000n + BigInt((m[2] ?? "").padEnd(9, "0"));
  if (nanos === 0n && !allowZero) return "limitsPage.errors.amountZero";
  if (nanos > MAX_NANOS) return "settings.errors.max";
  return null;
}

/** Why a time-zone name is not one this browser knows (an i18n key), or
 * null. The gateway's list (chrono-tz) is the judge; this catches typos. */
export function timezoneError(value: string): string | null {
  const v = value.trim();
  if (v === "") return null;
  try {
    new Intl.DateTimeFormat("en", { timeZone: v });
    return null;
  } catch {
    return "limitsPage.errors.timezone";
  }
}

// ---- Rows (the maps of names to budgets or limits) ----

interface Row {
  kind: string;
  name: string;
}

/** Each row needs a name, unique within its kind. */
function rowIssues(rows: readonly Row[], add: AddIssue): void {
  const seen = new Set<string>();
  rows.forEach((r, i) => {
    const name = r.name.trim();
    if (name === "") return add(["rows", i, "name"], "validation.required");
    const id = `${r.kind}\n${name}`;
    if (seen.has(id)) add(["rows", i, "name"], "limitsPage.errors.duplicate");
    seen.add(id);
  });
}

/**
 * The form field an API error path names within `section`, or "" (not a
 * field: the error goes above the buttons). `maps` are the section's maps
 * and the row kind each holds; a name may contain dots
 * (`rate_limits.models.gpt-4.1.rpm` is the rpm of the model row `gpt-4.1`).
 */
function serverField(apiField: string, section: string, maps: Record<string, string>, rows: readonly Row[]): string {
  const prefix = `${section}.`;
  if (!apiField.startsWith(prefix)) return "";
  const rest = apiField.slice(prefix.length);
  const dot = rest.indexOf(".");
  const kind = dot < 0 ? undefined : maps[rest.slice(0, dot)];
  if (kind === undefined) return rest;
  const tail = rest.slice(dot + 1);
  const last = tail.lastIndexOf(".");
  const [name, field] = last < 0 ? [tail, "name"] : [tail.slice(0, last), tail.slice(last + 1)];
  const i = rows.findIndex((r) => r.kind === kind && r.name.trim() === name);
  return i < 0 ? "" : `rows.${i}.${field}`;
}

// ---- Budgets ----

export const AMOUNT_FIELDS = ["daily_usd", "weekly_usd", "monthly_usd", "total_usd"] as const;
export const BUDGET_KINDS = ["user", "key"] as const;
export type BudgetKind = (typeof BUDGET_KINDS)[number];

export interface BudgetRow {
  kind: BudgetKind;
  /** A user's name or a key's visible prefix. */
  name: string;
  daily_usd: string;
  weekly_usd: string;
  monthly_usd: string;
  total_usd: string;
  warn_at_percent: string;
}

export interface BudgetsValues extends BackendValues {
  timezone: string;
  default_output_tokens: string;
  unpriced: (typeof UNPRICED)[number];
  passthrough_cost_usd: string;
  rows: BudgetRow[];
}

/** The general (non-row) fields of the budgets form. */
export const BUDGET_GENERAL = [
  "backend",
  ...REDIS_FIELDS,
  "timezone",
  "default_output_tokens",
  "unpriced",
  "passthrough_cost_usd",
] as const;

const BUDGET_MAPS: Record<string, BudgetKind> = { users: "user", keys: "key" };

export function emptyBudgetRow(): BudgetRow {
  return { kind: "user", name: "", daily_usd: "", weekly_usd: "", monthly_usd: "", total_usd: "", warn_at_percent: "" };
}

export function budgetsValues(c: BudgetsConfig): BudgetsValues {
  const rows = (kind: BudgetKind, map: Record<string, Budget> | undefined): BudgetRow[] =>
    Object.entries(map ?? {}).map(([name, b]) => ({
      kind,
      name,
      daily_usd: text(b.daily_usd),
      weekly_usd: text(b.weekly_usd),
      monthly_usd: text(b.monthly_usd),
      total_usd: text(b.total_usd),
      warn_at_percent: text(b.warn_at_percent),
    }));
  return {
    ...backendValues(c),
    timezone: c.timezone ?? "",
    default_output_tokens: text(c.default_output_tokens),
    unpriced: c.unpriced ?? "",
    passthrough_cost_usd: text(c.passthrough_cost_usd),
    rows: [...rows("user", c.users), ...rows("key", c.keys)],
  };
}

const backendShape = {
  backend: z.enum(BACKENDS),
  redis_url: z.string(),
  redis_prefix: z.string(),
  on_redis_error: z.enum(ON_REDIS_ERROR),
  redis_timeout_ms: z.string(),
};

export const budgetsSchema = z
  .object({
    ...backendShape,
    timezone: z.string(),
    default_output_tokens: z.string(),
    unpriced: z.enum(UNPRICED),
    passthrough_cost_usd: z.string(),
    rows: z.array(
      z.object({
        kind: z.enum(BUDGET_KINDS),
        name: z.string(),
        daily_usd: z.string(),
        weekly_usd: z.string(),
        monthly_usd: z.string(),
        total_usd: z.string(),
        warn_at_percent: z.string(),
      }),
    ),
  })
  .superRefine((v, ctx) => {
    const add: AddIssue = (path, message) => ctx.addIssue({ code: "custom", path, message });
    backendIssues(v, add);
    const tz = timezoneError(v.timezone);
    if (tz) add(["timezone"], tz);
    const tokens = rangeError(v.default_output_tokens, 1, 1_000_000, "limitsPage.errors.outputTokens");
    if (tokens) add(["default_output_tokens"], tokens);
    const passthrough = usdError(v.passthrough_cost_usd, true);
    if (passthrough) add(["passthrough_cost_usd"], passthrough);
    rowIssues(v.rows, add);
    v.rows.forEach((r, i) => {
      for (const f of AMOUNT_FIELDS) {
        const err = usdError(r[f]);
        if (err) add(["rows", i, f], err);
      }
      const warn = rangeError(r.warn_at_percent, 1, 99, "limitsPage.errors.warn");
      if (warn) add(["rows", i, "warn_at_percent"], warn);
    });
  });

/** The whole `budgets` section the form describes. */
export function budgetsPatch(v: BudgetsValues): BudgetsConfig {
  const out: BudgetsConfig = backendPatch(v);
  if (v.timezone.trim()) out.timezone = v.timezone.trim();
  setInt(out, "default_output_tokens", v.default_output_tokens);
  if (v.unpriced) out.unpriced = v.unpriced;
  if (v.passthrough_cost_usd.trim()) out.passthrough_cost_usd = v.passthrough_cost_usd.trim();
  const maps: Record<BudgetKind, Record<string, Budget>> = { user: {}, key: {} };
  for (const r of v.rows) {
    const b: Budget = {};
    for (const f of AMOUNT_FIELDS) if (r[f].trim()) b[f] = r[f].trim();
    setInt(b, "warn_at_percent", r.warn_at_percent);
    maps[r.kind][r.name.trim()] = b;
  }
  if (Object.keys(maps.user).length) out.users = maps.user;
  if (Object.keys(maps.key).length) out.keys = maps.key;
  return out;
}

/** The budgets form field an API error path names, or "". */
export function budgetsField(apiField: string, rows: readonly BudgetRow[]): string {
  return serverField(apiField, "budgets", BUDGET_MAPS, rows);
}

// ---- Rate limits ----

export const LIMIT_FIELDS = ["rpm", "tpm", "concurrent"] as const;
export const LIMIT_SCOPES = ["provider", "model", "user", "key"] as const;
export type LimitScope = (typeof LIMIT_SCOPES)[number];

export interface LimitValues {
  rpm: string;
  tpm: string;
  concurrent: string;
}

export interface LimitRow extends LimitValues {
  kind: LimitScope;
  /** A provider, upstream model or user name, or a key's visible prefix. */
  name: string;
}

export interface RateLimitsValues extends BackendValues {
  window_secs: string;
  /** Redis only: how long a dead instance's concurrency slot lives. */
  slot_ttl_secs: string;
  global: LimitValues;
  rows: LimitRow[];
}

/** The general (non-row) fields of the rate-limits form. */
export const RATE_GENERAL = [
  "backend",
  ...REDIS_FIELDS,
  "slot_ttl_secs",
  "window_secs",
  ...LIMIT_FIELDS.map((f) => `global.${f}` as const),
] as const;

const LIMIT_MAPS: Record<string, LimitScope> = { providers: "provider", models: "model", users: "user", keys: "key" };
const MAP_OF: Record<LimitScope, "providers" | "models" | "users" | "keys"> = {
  provider: "providers",
  model: "models",
  user: "users",
  key: "keys",
};

export function emptyLimitRow(): LimitRow {
  return { kind: "provider", name: "", rpm: "", tpm: "", concurrent: "" };
}

function limitValues(l: RateLimit | null | undefined): LimitValues {
  return { rpm: text(l?.rpm), tpm: text(l?.tpm), concurrent: text(l?.concurrent) };
}

export function rateLimitsValues(c: RateLimitsConfig): RateLimitsValues {
  return {
    ...backendValues(c),
    window_secs: text(c.window_secs),
    slot_ttl_secs: text(c.slot_ttl_secs),
    global: limitValues(c.global),
    rows: LIMIT_SCOPES.flatMap((kind) =>
      Object.entries(c[MAP_OF[kind]] ?? {}).map(([name, l]) => ({ kind, name, ...limitValues(l) })),
    ),
  };
}

const limitShape = { rpm: z.string(), tpm: z.string(), concurrent: z.string() };

function limitIssues(l: LimitValues, path: (string | number)[], add: AddIssue): void {
  for (const f of LIMIT_FIELDS) {
    const err = intError(l[f], 1, U64);
    if (err) add([...path, f], err);
  }
}

export const rateLimitsSchema = z
  .object({
    ...backendShape,
    window_secs: z.string(),
    slot_ttl_secs: z.string(),
    global: z.object(limitShape),
    rows: z.array(z.object({ kind: z.enum(LIMIT_SCOPES), name: z.string(), ...limitShape })),
  })
  .superRefine((v, ctx) => {
    const add: AddIssue = (path, message) => ctx.addIssue({ code: "custom", path, message });
    backendIssues(v, add);
    if (v.backend === "redis") {
      const ttl = rangeError(v.slot_ttl_secs, 10, 86_400, "limitsPage.errors.slotTtl");
      if (ttl) add(["slot_ttl_secs"], ttl);
    }
    const window = rangeError(v.window_secs, 1, 3600, "limitsPage.errors.window");
    if (window) add(["window_secs"], window);
    limitIssues(v.global, ["global"], add);
    rowIssues(v.rows, add);
    v.rows.forEach((r, i) => limitIssues(r, ["rows", i], add));
  });

function limitPatch(l: LimitValues): RateLimit {
  const out: RateLimit = {};
  for (const f of LIMIT_FIELDS) setInt(out, f, l[f]);
  return out;
}

/** The whole `rate_limits` section the form describes. */
export function rateLimitsPatch(v: RateLimitsValues): RateLimitsConfig {
  const out: RateLimitsConfig = backendPatch(v);
  if (v.backend === "redis") setInt(out, "slot_ttl_secs", v.slot_ttl_secs);
  setInt(out, "window_secs", v.window_secs);
  const global = limitPatch(v.global);
  if (Object.keys(global).length) out.global = global;
  for (const r of v.rows) {
    const map = (out[MAP_OF[r.kind]] ??= {});
    map[r.name.trim()] = limitPatch(r);
  }
  return out;
}

/** The rate-limits form field an API error path names, or "". */
export function rateLimitsField(apiField: string, rows: readonly LimitRow[]): string {
  return serverField(apiField, "rate_limits", LIMIT_MAPS, rows);
}
