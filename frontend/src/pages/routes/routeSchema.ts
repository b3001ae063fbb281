// The model-route editor's values, their checks and their conversion to
// the admin API's RouteInput. The checks mirror the gateway's
// (crates/gproxy-core/src/config/routes.rs and the admin handler
// model_routes.rs): a 1-128 visible-ASCII name without `/`, at least one
// target, each `provider/model` with a valid, existing provider name, and
// weights of at least 1 on weighted routes.
import { z } from "zod";
import type { ModelRoute, RouteInput } from "../../api/routes";
import { NAME_PATTERN } from "../../lib/validation";

export const STRATEGIES = ["ordered", "weighted"] as const;
export type Strategy = (typeof STRATEGIES)[number];

export interface TargetValues {
  target: string;
  /** Text, so a half-typed number is a field error, not NaN. */
  weight: string;
}

export interface RouteValues {
  name: string;
  strategy: Strategy;
  enabled: boolean;
  targets: TargetValues[];
}

/** Why a route name is invalid (an i18n key), or null. */
export function routeNameError(name: string): string | null {
  if (name.length === 0 || name.length > 128) return "routes.errors.nameLength";
  if (!/^[\x21-\x7e]+$/.test(name)) return "routes.errors.nameAscii";
  if (name.includes("/")) return "routes.errors.nameSlash";
  return null;
}

/** Why a target is invalid (an i18n key), or null. `providers` are the
 * known provider names; when null (not loaded) existence is not checked. */
export function targetError(target: string, providers: readonly string[] | null): string | null {
  const slash = target.indexOf("/");
  if (slash <= 0 || slash === target.length - 1) return "routes.errors.targetShape";
  const provider = target.slice(0, slash);
  if (!NAME_PATTERN.test(provider)) return "routes.errors.targetProvider";
  if (providers !== null && !providers.includes(provider)) return "routes.errors.targetUnknown";
  return null;
}

/** Why a weight is invalid (an i18n key), or null: a whole number, 1 to 2^32-1. */
export function weightError(weight: string): string | null {
  if (!/^\d+$/.test(weight.trim())) return "validation.weight";
  const n = Number(weight.trim());
  return n >= 1 && n <= 4294967295 ? null : "validation.weight";
}

export function routeSchema(mode: "create" | "edit", providers: readonly string[] | null) {
  return z
    .object({
      name: z.string(),
      strategy: z.enum(STRATEGIES),
      enabled: z.boolean(),
      targets: z.array(z.object({ target: z.string(), weight: z.string() })),
    })
    .superRefine((v, ctx) => {
      if (mode === "create") {
        const err = routeNameError(v.name);
        if (err) ctx.addIssue({ code: "custom", path: ["name"], message: err });
      }
      if (v.targets.length === 0) {
        ctx.addIssue({ code: "custom", path: ["targets"], message: "routes.errors.noTargets" });
      }
      v.targets.forEach((t, i) => {
        const err = targetError(t.target.trim(), providers);
        if (err) ctx.addIssue({ code: "custom", path: ["targets", i, "target"], message: err });
        if (v.strategy === "weighted") {
          const werr = weightError(t.weight);
          if (werr) ctx.addIssue({ code: "custom", path: ["targets", i, "weight"], message: werr });
        }
      });
    });
}

export function emptyValues(): RouteValues {
  return { name: "", strategy: "ordered", enabled: true, targets: [{ target: "", weight: "1" }] };
}

export function valuesOf(route: ModelRoute): RouteValues {
  return {
    name: route.name,
    strategy: route.strategy === "weighted" ? "weighted" : "ordered",
    enabled: route.enabled,
    targets: route.targets.map((t) => ({ target: `${t.provider}/${t.model}`, weight: String(t.weight) })),
  };
}

/** The API body: plain `provider/model` strings for ordered routes, `{target,
 * weight}` for weighted ones (any weight makes the route weighted). */
export function toInput(values: RouteValues, mode: "create" | "edit"): RouteInput {
  const targets =
    values.strategy === "weighted"
      ? values.targets.map((t) => ({ target: t.target.trim(), weight: Number(t.weight.trim()) }))
      : values.targets.map((t) => t.target.trim());
  return { ...(mode === "create" ? { name: values.name } : {}), enabled: values.enabled, targets };
}

/** The form field an API error path names: `targets[1]` and
 * `targets[1].target` are the target box, `targets[1].weight` its weight. */
export function formField(apiField: string): string {
  const m = /^targets\[(\d+)\](?:\.(target|weight))?$/.exec(apiField);
  if (m) return `targets.${m[1]}.${m[2] ?? "target"}`;
  return apiField;
}

/** A route's targets in one line (`a/x ×3, b/y ×1` or `a/x → b/y`). */
export function targetSummary(route: ModelRoute): string {
  if (route.strategy === "weighted") {
    return route.targets.map((t) => `${t.provider}/${t.model} ×${t.weight}`).join(", ");
  }
  return route.targets.map((t) => `${t.provider}/${t.model}`).join(" → ");
}
