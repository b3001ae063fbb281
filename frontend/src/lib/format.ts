// Small display helpers shared by the pages.

/** A timestamp in the reader's locale, or a dash. */
export function formatTime(value: string | null | undefined, locale?: string): string {
  if (!value) return "—";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return value;
  return date.toLocaleString(locale, { dateStyle: "short", timeStyle: "medium" });
}

/** A number with grouping, or a dash. */
export function formatNumber(value: number | null | undefined, locale?: string): string {
  return value === null || value === undefined ? "—" : value.toLocaleString(locale);
}

/** A USD amount the API gives as a decimal string (`"0.000732"`), as
 * `$0.000732`; a dash when unknown (null). The string is shown as is:
 * no float rounds it. */
export function formatUsd(value: string | null | undefined): string {
  return value === null || value === undefined ? "—" : `$${value}`;
}

/** The exact sum of decimal USD strings (nine places at most, as the API
 * gives them), as a decimal string. */
export function sumUsd(values: readonly string[]): string {
  const nanos = values.reduce((acc, v) => acc + usdToNanos(v), 0n);
  const negative = nanos < 0n;
  const abs = negative ? -nanos : nanos;
  const whole = abs / 1_000_000_000n;
  const frac = (abs % 1_000_000_000n).toString().padStart(9, "0").replace(/0+$/, "");
  return `${negative ? "-" : ""}${whole}${frac ? `.${frac}` : ""}`;
}

function usdToNanos(value: string): bigint {
  const m = /^(-?)(\d*)(?:\.(\d{0,9}))?$/.exec(value.trim());
  if (!m) return 0n;
  const n = BigInt(m[2] || "0") * 1_000_000_000n + BigInt((m[3] ?? "").padEnd(9, "0") || "0");
  return m[1] ? -n : n;
}

/** Lines of a textarea, trimmed, without blanks. */
export function lines(text: string): string[] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
}

/** `<input type="datetime-local">` value to RFC 3339 (UTC), or null. */
export function localInputToIso(value: string): string | null {
  if (!value) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

/** RFC 3339 to an `<input type="datetime-local">` value in local time. */
export function isoToLocalInput(value: string | null | undefined): string {
  if (!value) return "";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return "";
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}
