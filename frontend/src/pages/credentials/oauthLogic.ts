// The logic of the OAuth pieces, kept apart from the components so it is
// tested on its own: what a login form sends and refuses, where an API
// error lands, what a device poll leads to, how an account and a quota
// window read.
import type { Credential } from "../../api/credentials";
import { ApiError, errorMessage } from "../../api/errors";
import { isPending, type LoginDone, type LoginPending, type QuotaWindow } from "../../api/oauth";
import { NAME_PATTERN } from "../../lib/validation";

/** The fields every login form has (the API's `name` and `weight`). */
export interface SaveFields {
  name: string;
  weight: string;
}

/** Field name → i18n key of what is wrong with it. */
export type FieldErrors = Partial<Record<"name" | "weight" | "callback" | "content", string>>;

/** What a login sends besides its own fields. */
export interface SaveBody {
  name?: string;
  weight?: number;
}

/** `name` and `weight` as the API takes them (omitted when left empty),
 * or the problems, checked as the API checks them. */
export function saveBody(v: SaveFields): { body: SaveBody; errors: FieldErrors } {
  const errors: FieldErrors = {};
  const body: SaveBody = {};
  const name = v.name.trim();
  if (name) {
    if (NAME_PATTERN.test(name)) body.name = name;
    else errors.name = "validation.name";
  }
  const weight = v.weight.trim();
  if (weight) {
    const n = Number(weight);
    if (Number.isInteger(n) && n >= 1) body.weight = n;
    else errors.weight = "validation.weight";
  }
  return { body, errors };
}

/** Where an API error from a login step goes: on a field the form shows,
 * `state` (the login expired or was taken: start again), or the form. */
export type Placement =
  | { on: "name" | "weight" | "callback" | "content"; message: string }
  | { on: "state"; message: string }
  | { on: "form"; message: string; upstream: boolean };

export function placeError(error: unknown): Placement {
  const message = errorMessage(error);
  if (error instanceof ApiError) {
    switch (error.field) {
      case "name":
      case "weight":
      case "callback":
      case "content":
        return { on: error.field, message };
      case "state":
        return { on: "state", message };
      default:
        return { on: "form", message, upstream: error.status === 502 };
    }
  }
  return { on: "form", message, upstream: false };
}

/** What one device poll leads to. */
export type PollOutcome =
  | { next: "wait"; seconds: number }
  | { next: "done"; result: LoginDone }
  | { next: "expired"; message: string }
  | { next: "failed"; error: unknown };

/** A poll's answer (or error): keep polling after `retry_after_secs`
 * (never faster than the login's interval), done, expired (a `400` on
 * `state`: the code timed out or was taken), or failed. */
export function pollOutcome(answer: LoginDone | LoginPending | { error: unknown }, intervalSecs: number): PollOutcome {
  if ("error" in answer) {
    const e = answer.error;
    if (e instanceof ApiError && e.status === 400 && e.field === "state") {
      return { next: "expired", message: e.message };
    }
    return { next: "failed", error: e };
  }
  if (isPending(answer)) return { next: "wait", seconds: Math.max(answer.retry_after_secs, intervalSecs) };
  return { next: "done", result: answer };
}

/** The i18n key of the hint naming the file each kind imports. */
export function importHintKey(kind: string): string {
  switch (kind) {
    case "codex":
      return "oauth.import.hint.codex";
    case "claudecode":
      return "oauth.import.hint.claudecode";
    case "geminicli":
      return "oauth.import.hint.geminicli";
    case "antigravity":
      return "oauth.import.hint.antigravity";
    default:
      return "oauth.import.hint.other";
  }
}

/** An OAuth credential's account as the list shows it. */
export interface AccountSummary {
  email: string | null;
  plan: string | null;
  project: string | null;
  /** The account id, shown when there is no e-mail. */
  accountId: string | null;
  expiresAt: string;
  expired: boolean;
  refreshable: boolean;
  dead: string | null;
}

function text(v: unknown): string | null {
  return typeof v === "string" && v.trim() ? v : null;
}

export function accountOf(c: Credential, now: number = Date.now()): AccountSummary | null {
  const o = c.oauth;
  if (!o) return null;
  const a = o.account;
  const expires = Date.parse(o.expires_at);
  return {
    email: text(a.email),
    plan: text(a.plan) ?? text(a.subscription_type) ?? text(a.tier),
    project: text(a.project_id),
    accountId: text(a.account_id),
    expiresAt: o.expires_at,
    expired: Number.isFinite(expires) && expires <= now,
    refreshable: o.refreshable,
    dead: o.disabled_reason ?? null,
  };
}

/** Window names with a translation (`oauth.quota.windows.<name>`); others
 * show as the vendor names them. */
export const KNOWN_WINDOWS = [
  "five_hour",
  "seven_day",
  "seven_day_opus",
  "seven_day_sonnet",
  "seven_day_oauth_apps",
  "primary",
  "secondary",
];

/** 0..=100, clamped; null when the vendor did not say. */
export function usedPercent(w: QuotaWindow): number | null {
  if (typeof w.used_percent !== "number" || !Number.isFinite(w.used_percent)) return null;
  return Math.min(100, Math.max(0, w.used_percent));
}

export function usedTone(percent: number): "green" | "amber" | "red" {
  if (percent >= 90) return "red";
  if (percent >= 70) return "amber";
  return "green";
}

/** A Unix-seconds reset time as RFC 3339, or null. */
export function resetIso(w: QuotaWindow): string | null {
  return typeof w.resets_at === "number" ? new Date(w.resets_at * 1000).toISOString() : null;
}

/** A window length: `{count, unit}` in the largest whole unit (days,
 * hours, minutes), for `oauth.quota.length.<unit>`. */
export function windowLength(
  seconds: number | undefined,
): { count: number; unit: "days" | "hours" | "minutes" } | null {
  if (!seconds || seconds <= 0) return null;
  if (seconds % 86_400 === 0) return { count: seconds / 86_400, unit: "days" };
  if (seconds % 3600 === 0) return { count: seconds / 3600, unit: "hours" };
  return { count: Math.max(1, Math.round(seconds / 60)), unit: "minutes" };
}

/** Why a quota could not be read: the kind has none (`400`), the vendor
 * failed (`502`), or something else. */
export function quotaProblem(error: unknown): {
  key: "oauth.quota.none" | "oauth.quota.vendor" | null;
  message: string;
} {
  const message = errorMessage(error);
  if (error instanceof ApiError) {
    if (error.status === 400) return { key: "oauth.quota.none", message };
    if (error.status === 502) return { key: "oauth.quota.vendor", message };
  }
  return { key: null, message };
}
