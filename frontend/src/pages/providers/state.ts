// How a provider's state reads: serving, disabled, or not loaded
// (settings the gateway could not use).
import type { Tone } from "../../components/Badge";
import type { Provider } from "../../api/providers";

export function providerState(p: Provider): { key: string; tone: Tone } {
  if (!p.enabled) return { key: "providers.state.disabled", tone: "zinc" };
  if (!p.loaded) return { key: "providers.state.notLoaded", tone: "red" };
  return { key: "providers.state.serving", tone: "green" };
}

/** The fields of a provider's `settings` JSON the editor shows. */
export interface ProviderSettings {
  protocol?: string;
  auth?: string;
  count_tokens?: string;
  headers?: Record<string, string>;
  models?: string[];
  json_param_mask?: string[];
  project?: string;
  location?: string;
}

export function settingsOf(p: Provider): ProviderSettings {
  const s = p.settings;
  return typeof s === "object" && s !== null ? (s as ProviderSettings) : {};
}
