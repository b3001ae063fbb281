// How a credential's runtime state reads.
import type { Tone } from "../../components/Badge";

export function credentialTone(state: string): Tone {
  switch (state) {
    case "ok":
      return "green";
    case "cooling_down":
    case "transient_cooldown":
      return "amber";
    case "disabled":
      return "red";
    default:
      return "zinc";
  }
}

/** Known states have a translation; others show as they come. */
export const KNOWN_STATES = ["ok", "cooling_down", "transient_cooldown", "disabled", "not_loaded"];

/** Whether re-enabling would change anything (a run-time disable or a cooldown). */
export function canReenable(state: string): boolean {
  return state === "disabled" || state === "cooling_down" || state === "transient_cooldown";
}
