// The provider editor's form: values, their rules (the API's, mirrored),
// and the translation to the API's create and patch bodies.
import { z } from "zod";
import type { Provider, ProviderInput, ProviderPatch } from "../../api/providers";
import { lines } from "../../lib/format";
import {
  baseUrlError,
  headerNameError,
  maskPathError,
  NAME_PATTERN,
  RESERVED_PROVIDER_NAMES,
} from "../../lib/validation";
import { settingsOf } from "./state";

export const PROTOCOLS = ["openai_chat", "openai_responses", "claude", "gemini"] as const;
export const AUTHS = ["bearer", "x-api-key", "x-goog-api-key", "none"] as const;
export const STRATEGIES = ["round_robin", "weighted", "least_in_flight"] as const;

export function providerSchema(mode: "create" | "edit", kind: string) {
  const custom = kind === "custom";
  return z
    .object({
      name: z.string(),
      base_url: z.string(),
      enabled: z.boolean(),
      credential_strategy: z.enum(STRATEGIES),
      protocol: z.enum(PROTOCOLS),
      auth: z.enum(["", ...AUTHS]),
      count_tokens: z.enum(["upstream", "local"]),
      headers: z.array(z.object({ name: z.string(), value: z.string() })),
      models: z.string(),
      json_param_mask: z.string(),
    })
    .superRefine((v, ctx) => {
      if (mode === "create") {
        if (!NAME_PATTERN.test(v.name)) ctx.addIssue({ code: "custom", path: ["name"], message: "validation.name" });
        else if (RESERVED_PROVIDER_NAMES.includes(v.name))
          ctx.addIssue({ code: "custom", path: ["name"], message: "validation.nameReserved" });
      }
      const url = v.base_url.trim();
      if (url) {
        const problem = baseUrlError(url);
        if (problem) ctx.addIssue({ code: "custom", path: ["base_url"], message: problem });
      } else if (custom) {
        ctx.addIssue({ code: "custom", path: ["base_url"], message: "validation.required" });
      }
      const seen = new Set<string>();
      v.headers.forEach((h, i) => {
        const name = h.name.trim();
        const problem = headerNameError(name);
        if (problem) ctx.addIssue({ code: "custom", path: ["headers", i, "name"], message: problem });
        else if (seen.has(name.toLowerCase()))
          ctx.addIssue({ code: "custom", path: ["headers", i, "name"], message: "validation.headerTwice" });
        seen.add(name.toLowerCase());
        if (/[\r\n]/.test(h.value))
          ctx.addIssue({ code: "custom", path: ["headers", i, "value"], message: "validation.headerValue" });
      });
      // Each bad line is shown by the editor itself (maskProblems); this
      // only stops the submit.
      if (maskProblems(v.json_param_mask).length > 0)
        ctx.addIssue({ code: "custom", path: ["json_param_mask"], message: "validation.mask.invalid" });
    });
}

/** The invalid lines of a mask textarea, numbered from 1. */
export function maskProblems(
  text: string,
): { line: number; path: string; key: string; values: Record<string, string> }[] {
  const out: { line: number; path: string; key: string; values: Record<string, string> }[] = [];
  text.split("\n").forEach((raw, i) => {
    const path = raw.trim();
    if (!path) return;
    const problem = maskPathError(path);
    if (problem) out.push({ line: i + 1, path, key: problem.key, values: problem.values ?? {} });
  });
  return out;
}

export type ProviderValues = z.infer<ReturnType<typeof providerSchema>>;

export function emptyValues(): ProviderValues {
  return {
    name: "",
    base_url: "",
    enabled: true,
    credential_strategy: "round_robin",
    protocol: "openai_chat",
    auth: "",
    count_tokens: "upstream",
    headers: [],
    models: "",
    json_param_mask: "",
  };
}

export function valuesOf(p: Provider): ProviderValues {
  const s = settingsOf(p);
  const oneOf = <T extends string>(all: readonly T[], v: string | undefined, fallback: T): T =>
    all.find((x) => x === v) ?? fallback;
  return {
    name: p.name,
    base_url: p.base_url ?? "",
    enabled: p.enabled,
    credential_strategy: oneOf(STRATEGIES, p.credential_strategy, "round_robin"),
    protocol: oneOf(PROTOCOLS, s.protocol, "openai_chat"),
    auth: oneOf(["", ...AUTHS] as const, s.auth, ""),
    count_tokens: s.count_tokens === "local" ? "local" : "upstream",
    headers: Object.entries(s.headers ?? {}).map(([name, value]) => ({ name, value })),
    models: (s.models ?? []).join("\n"),
    json_param_mask: (s.json_param_mask ?? []).join("\n"),
  };
}

function headersOf(v: ProviderValues): Record<string, string> {
  return Object.fromEntries(v.headers.map((h) => [h.name.trim(), h.value]));
}

export function toInput(v: ProviderValues): ProviderInput {
  return {
    name: v.name,
    kind: "custom",
    base_url: v.base_url.trim(),
    enabled: v.enabled,
    credential_strategy: v.credential_strategy,
    protocol: v.protocol,
    count_tokens: v.count_tokens,
    ...(v.auth ? { auth: v.auth } : {}),
    headers: headersOf(v),
    models: lines(v.models),
    json_param_mask: lines(v.json_param_mask),
  };
}

/** The whole form as a patch (`[]`/`{}` clear, a blank base URL is the
 * kind's default). Custom-only fields go only to custom providers. */
export function toPatch(v: ProviderValues, kind: string): ProviderPatch {
  const patch: ProviderPatch = {
    base_url: v.base_url.trim() || null,
    enabled: v.enabled,
    credential_strategy: v.credential_strategy,
    headers: headersOf(v),
    models: lines(v.models),
    json_param_mask: lines(v.json_param_mask),
  };
  if (kind === "custom") {
    patch.protocol = v.protocol;
    patch.count_tokens = v.count_tokens;
    if (v.auth) patch.auth = v.auth;
  }
  return patch;
}

/** Where an API field error belongs in this form (`headers.x-foo` is
 * shown on the headers list, `json_param_mask[2]` on the mask). */
export function formField(apiField: string): string {
  if (apiField.startsWith("headers")) return "headers";
  if (apiField.startsWith("json_param_mask")) return "json_param_mask";
  if (apiField.startsWith("models")) return "models";
  return apiField;
}
