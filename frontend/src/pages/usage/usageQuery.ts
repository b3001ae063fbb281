// The usage explorer's query form: its values, checks, conversion to the
// `/usage` parameters, and the CSV export of the answer.
import { z } from "zod";
import type { UsageFilter, UsageRow } from "../../api/usage";
import { isoToLocalInput, localInputToIso } from "../../lib/format";

export const GROUPS = ["provider", "model", "credential", "user", "key"] as const;
export type Group = (typeof GROUPS)[number];
export const BUCKETS = ["", "hour", "day"] as const;

export interface UsageValues {
  from: string;
  to: string;
  provider: string;
  model: string;
  user_id: string;
  key_id: string;
  group_by: Group[];
  bucket: (typeof BUCKETS)[number];
}

/** The last `hours` hours up to now, grouped by provider, bucketed hourly.
 * `to` stays empty, which means "now" when the query runs: a minute-precise
 * input would otherwise leave out this minute's requests. */
export function defaultValues(now: number, hours = 24): UsageValues {
  return {
    from: isoToLocalInput(new Date(now - hours * 3600_000).toISOString()),
    to: "",
    provider: "",
    model: "",
    user_id: "",
    key_id: "",
    group_by: ["provider"],
    bucket: "hour",
  };
}

const ID = /^[1-9]\d{0,15}$/;

export const usageSchema = z
  .object({
    from: z.string(),
    to: z.string(),
    provider: z.string(),
    model: z.string(),
    user_id: z.string(),
    key_id: z.string(),
    group_by: z.array(z.enum(GROUPS)),
    bucket: z.enum(BUCKETS),
  })
  .superRefine((v, ctx) => {
    const from = localInputToIso(v.from);
    const to = localInputToIso(v.to);
    if (v.from && !from) ctx.addIssue({ code: "custom", path: ["from"], message: "validation.date" });
    if (v.to && !to) ctx.addIssue({ code: "custom", path: ["to"], message: "validation.date" });
    if (from && to && Date.parse(to) <= Date.parse(from)) {
      ctx.addIssue({ code: "custom", path: ["to"], message: "usage.errorsText.toBeforeFrom" });
    }
    for (const k of ["user_id", "key_id"] as const) {
      if (v[k].trim() && !ID.test(v[k].trim()))
        ctx.addIssue({ code: "custom", path: [k], message: "usage.errorsText.id" });
    }
  });

export function toFilter(v: UsageValues): UsageFilter {
  const text = (s: string) => s.trim() || undefined;
  const id = (s: string) => (s.trim() ? Number(s.trim()) : undefined);
  return {
    from: localInputToIso(v.from) ?? undefined,
    to: localInputToIso(v.to) ?? undefined,
    provider: text(v.provider),
    model: text(v.model),
    user_id: id(v.user_id),
    key_id: id(v.key_id),
    group_by: v.group_by.length ? GROUPS.filter((g) => v.group_by.includes(g)).join(",") : undefined,
    bucket: v.bucket || undefined,
  };
}

/** The group columns a row carries, in `GROUPS` order. */
export function groupValue(row: UsageRow, g: Group): string {
  const v = {
    provider: row.provider,
    model: row.model,
    credential: row.credential_id,
    user: row.user_id,
    key: row.key_id,
  }[g];
  return v === null || v === undefined ? "" : String(v);
}

const METRICS = [
  "requests",
  "errors",
  "input_tokens",
  "output_tokens",
  "cache_read_tokens",
  "cache_write_tokens",
  "reasoning_tokens",
  "cost",
  "priced_requests",
  "latency_p50_ms",
  "latency_p95_ms",
] as const;

function cell(value: string): string {
  return /[",\n\r]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** RFC 4180 CSV of the rows: the bucket (when bucketed), the groups asked
 * for, then every metric. */
export function toCsv(rows: readonly UsageRow[], groups: readonly Group[], bucketed: boolean): string {
  const ordered = GROUPS.filter((g) => groups.includes(g));
  const header = [...(bucketed ? ["bucket_start"] : []), ...ordered, ...METRICS];
  const lines = rows.map((r) =>
    [
      ...(bucketed ? [r.bucket_start ?? ""] : []),
      ...ordered.map((g) => groupValue(r, g)),
      ...METRICS.map((m) => String(r[m])),
    ]
      .map(cell)
      .join(","),
  );
  return [header.join(","), ...lines].join("\r\n") + "\r\n";
}
