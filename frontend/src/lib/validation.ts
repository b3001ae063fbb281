// The admin API's input rules, mirrored for forms so errors show next to
// the field before a round trip (crates/gproxy-core/src/config.rs,
// crates/gproxy-provider/src/builtin/custom.rs, crates/gproxy-protocol/src/json_mask.rs).
// The server still checks everything; its field errors land on the same fields.
import { z } from "zod";

/** A validation failure: an i18n key (under `validation.`) and its values. */
export interface Problem {
  key: string;
  values?: Record<string, string>;
}

/** Names of providers, users, credentials: `^[a-z0-9._-]{1,64}$`. */
export const NAME_PATTERN = /^[a-z0-9._-]{1,64}$/;
export const nameSchema = z.string().regex(NAME_PATTERN, { message: "validation.name" });

/** Provider names that would shadow a gateway route. */
export const RESERVED_PROVIDER_NAMES = ["v1", "v1beta", "admin", "health", "metrics", "assets"];

/** Passwords: 8 to 256 characters. */
export const passwordSchema = z
  .string()
  .refine((p) => [...p].length >= 8, { message: "validation.passwordShort" })
  .refine((p) => [...p].length <= 256, { message: "validation.passwordLong" });

/** `http(s)://host[:port][/path]` without query or fragment, or null. */
export function baseUrlError(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "validation.url";
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return "validation.urlScheme";
  if (!parsed.hostname) return "validation.url";
  if (url.includes("?") || url.includes("#")) return "validation.urlQuery";
  return null;
}

/** Headers an operator may not configure (the gateway owns them). */
export const FORBIDDEN_HEADERS = [
  "authorization",
  "proxy-authorization",
  "x-api-key",
  "x-goog-api-key",
  "cookie",
  "host",
  "content-length",
  "content-type",
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "expect",
  "http2-settings",
];

/** RFC 7230 token characters. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export function headerNameError(name: string): string | null {
  if (!HEADER_NAME.test(name)) return "validation.headerName";
  if (FORBIDDEN_HEADERS.includes(name.toLowerCase())) return "validation.headerForbidden";
  return null;
}

/** Why a `json_param_mask` path is invalid, or null. Dotted paths
 * (`a.b[0]["c.d"].*`) or JSON Pointers (`/a/b`), as the gateway parses them. */
export function maskPathError(path: string): Problem | null {
  if (path.length === 0) return { key: "validation.mask.empty" };
  if (path.startsWith("/")) return pointerError(path);
  const chars = [...path];
  let i = 0;
  let wantKey = true;
  for (;;) {
    const c = chars[i];
    if (c === undefined) return wantKey ? { key: "validation.mask.missingKey" } : null;
    if (c === "[") {
      i += 1;
      const next = bracket(chars, i);
      if (typeof next !== "number") return next;
      i = next;
      wantKey = false;
    } else if (c === "." && !wantKey) {
      i += 1;
      wantKey = true;
    } else if (wantKey && c !== "." && c !== "]") {
      while (i < chars.length && ![".", "[", "]"].includes(chars[i] ?? "")) i += 1;
      wantKey = false;
    } else {
      return { key: "validation.mask.unexpected", values: { char: c } };
    }
  }
}

const MAX_INDEX = 18446744073709551615n;

/** Parses `[...]` from after the `[`; the index after `]`, or an error. */
function bracket(chars: string[], start: number): number | Problem {
  let i = start;
  const c = chars[i];
  if (c === "*") {
    i += 1;
  } else if (c === '"') {
    i += 1;
    for (;;) {
      const q = chars[i];
      i += 1;
      if (q === undefined) return { key: "validation.mask.unterminated" };
      if (q === '"') break;
      if (q === "\\") {
        const e = chars[i];
        i += 1;
        if (e !== '"' && e !== "\\") return { key: "validation.mask.escape" };
      }
    }
  } else if (c !== undefined && /[0-9]/.test(c)) {
    const from = i;
    while (/[0-9]/.test(chars[i] ?? "")) i += 1;
    // The gateway reads an index as a 64-bit unsigned number.
    if (BigInt(chars.slice(from, i).join("")) > MAX_INDEX) return { key: "validation.mask.indexTooLarge" };
  } else {
    return { key: "validation.mask.bracket" };
  }
  return chars[i] === "]" ? i + 1 : { key: "validation.mask.closeBracket" };
}

/** RFC 6901: `~` must be followed by 0 or 1. */
function pointerError(path: string): Problem | null {
  return /~(?![01])/.test(path) ? { key: "validation.mask.pointer" } : null;
}
