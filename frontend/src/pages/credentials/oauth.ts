// What the console needs to know about the OAuth subscription kinds, kept
// apart from the components so it can be tested without rendering.
import type { OAuthView, QuotaReport } from "../../api/oauth";

/** The provider kinds whose credentials are OAuth logins. */
export const OAUTH_KINDS = ["codex", "claudecode", "antigravity", "geminicli"] as const;

export function isOAuthKind(kind: string | undefined): boolean {
  return (OAUTH_KINDS as readonly string[]).includes(kind ?? "");
}

/** Only codex has a device-code login. */
export function hasDeviceFlow(kind: string | undefined): boolean {
  return kind === "codex";
}

/** The i18n key naming the CLI file a kind imports. */
export function importHintKey(kind: string | undefined): string {
  switch (kind) {
    case "codex":
      return "oauth.importHint.codex";
    case "claudecode":
      return "oauth.importHint.claudecode";
    case "geminicli":
      return "oauth.importHint.geminicli";
    default:
      return "oauth.importHint.antigravity";
  }
}

/** "email · plan · project" of an OAuth credential (what is known). */
export function accountSummary(oauth: OAuthView): string {
  const text = (key: string) => {
    const v = oauth.account[key];
    return typeof v === "string" && v ? v : null;
  };
  return [text("email") ?? text("account_id"), text("plan"), text("project_id")].filter(Boolean).join(" · ");
}

/** One bar of the quota view. */
export interface QuotaBar {
  key: string;
  label: string;
  /** Used, 0..100, when the vendor says. */
  percent: number | null;
  /** When it resets (ISO), when the vendor says. */
  resetsAt: string | null;
}

/** The quota's windows as bars: used share clamped to 0..100, the model
 * (if any) in the label. */
export function quotaBars(report: QuotaReport): QuotaBar[] {
  return report.windows.map((w, i) => ({
    key: `${w.name}-${w.model ?? ""}-${i}`,
    label: w.model && w.model !== w.name ? `${w.name} (${w.model})` : w.name,
    percent: typeof w.used_percent === "number" ? Math.min(100, Math.max(0, w.used_percent)) : null,
    resetsAt: typeof w.resets_at === "number" ? new Date(w.resets_at * 1000).toISOString() : null,
  }));
}

/** Seconds to wait before the next device poll: what the API asked, at
 * least one. */
export function nextPollSecs(retryAfter: number | undefined, interval: number | undefined): number {
  return Math.max(1, retryAfter ?? interval ?? 5);
}
