// The Overview's arithmetic, kept apart from the page so it is tested
// directly: the time window of a range, the totals of usage rows, the
// trend points, and the credential states of a provider.
import type { ProviderHealth } from "../../api/health";
import type { UsageRow } from "../../api/usage";
import { sumUsd } from "../../lib/format";

export const RANGES = ["1h", "24h", "7d", "30d"] as const;
export type Range = (typeof RANGES)[number];

const SECONDS: Record<Range, number> = { "1h": 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400 };

export interface Window {
  from: string;
  to: string;
  seconds: number;
  bucket: "hour" | "day";
}

/** The window ending at `now` (ms) for `range`; daily buckets for 30 days. */
export function windowOf(range: Range, now: number): Window {
  const seconds = SECONDS[range];
  return {
    from: new Date(now - seconds * 1000).toISOString(),
    to: new Date(now).toISOString(),
    seconds,
    bucket: range === "30d" ? "day" : "hour",
  };
}

export interface Summary {
  requests: number;
  errors: number;
  perMinute: number;
  /** 0..1, or null without requests. */
  errorRate: number | null;
  /** The API's own percentiles when it answered one row; otherwise the
   * request-weighted mean of the rows' (an approximation, flagged). */
  p50: number | null;
  p95: number | null;
  approximate: boolean;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  reasoningTokens: number;
  /** The exact sum of the known costs, USD (a decimal string). */
  cost: string;
  /** Requests with a known cost (the rest had no price). */
  pricedRequests: number;
}

export function summarize(rows: readonly UsageRow[], seconds: number): Summary {
  const sum = (f: (r: UsageRow) => number) => rows.reduce((acc, r) => acc + f(r), 0);
  const requests = sum((r) => r.requests);
  const errors = sum((r) => r.errors);
  const weighted = (f: (r: UsageRow) => number) =>
    requests === 0 ? null : Math.round(sum((r) => f(r) * r.requests) / requests);
  const only = rows.length === 1 ? rows[0] : undefined;
  return {
    requests,
    errors,
    perMinute: requests / (seconds / 60),
    errorRate: requests === 0 ? null : errors / requests,
    p50: only ? (only.requests ? only.latency_p50_ms : null) : weighted((r) => r.latency_p50_ms),
    p95: only ? (only.requests ? only.latency_p95_ms : null) : weighted((r) => r.latency_p95_ms),
    approximate: rows.length > 1,
    inputTokens: sum((r) => r.input_tokens),
    outputTokens: sum((r) => r.output_tokens),
    cacheReadTokens: sum((r) => r.cache_read_tokens),
    reasoningTokens: sum((r) => r.reasoning_tokens),
    cost: sumUsd(rows.map((r) => r.cost)),
    pricedRequests: sum((r) => r.priced_requests),
  };
}

export interface TrendPoint {
  at: number;
  requests: number;
  errors: number;
  input: number;
  output: number;
  p95: number;
}

/** Bucketed rows as chart points in time order (rows of one bucket summed). */
export function trendOf(rows: readonly UsageRow[]): TrendPoint[] {
  const byBucket = new Map<number, TrendPoint>();
  for (const r of rows) {
    if (!r.bucket_start) continue;
    const at = Date.parse(r.bucket_start);
    if (Number.isNaN(at)) continue;
    const p = byBucket.get(at) ?? { at, requests: 0, errors: 0, input: 0, output: 0, p95: 0 };
    p.requests += r.requests;
    p.errors += r.errors;
    p.input += r.input_tokens;
    p.output += r.output_tokens;
    p.p95 = Math.max(p.p95, r.latency_p95_ms);
    byBucket.set(at, p);
  }
  return [...byBucket.values()].sort((a, b) => a.at - b.at);
}

export interface CredentialCounts {
  ok: number;
  coolingDown: number;
  disabled: number;
  other: number;
  inFlight: number;
}

export function credentialCounts(p: ProviderHealth): CredentialCounts {
  const out: CredentialCounts = { ok: 0, coolingDown: 0, disabled: 0, other: 0, inFlight: 0 };
  for (const c of p.credential_states) {
    out.inFlight += c.in_flight;
    if (c.state === "ok") out.ok += 1;
    else if (c.state === "cooling_down" || c.state === "transient_cooldown") out.coolingDown += 1;
    else if (c.state === "disabled") out.disabled += 1;
    else out.other += 1;
  }
  return out;
}

export function circuitTone(state: string): "green" | "amber" | "red" | "zinc" {
  if (state === "closed") return "green";
  if (state === "half_open") return "amber";
  if (state === "open") return "red";
  return "zinc";
}
