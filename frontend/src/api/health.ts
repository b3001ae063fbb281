// `GET /health` (public, outside the admin API, so not in openapi.json):
// the instance's status and version, each provider's circuit and
// credential states, the shared resilience state, config sync and the
// usage sink. Typed here after crates/gproxy-router/src/render.rs and
// crates/gproxy-core/src/health.rs; fields the UI does not use are left out.
import { useQuery } from "@tanstack/react-query";
import { ApiError } from "./errors";

export interface CredentialHealth {
  id: number;
  name: string;
  weight: number;
  /** `ok`, `cooling_down`, `disabled`, ... */
  state: string;
  in_flight: number;
  cooldown_until?: string | null;
  disabled_reason?: string | null;
}

export interface ProviderHealth {
  name: string;
  kind: string;
  enabled: boolean;
  credentials: number;
  credential_strategy: string;
  /** `closed`, `open` or `half_open`. */
  circuit_state: string;
  circuit_failures: number;
  circuit_cooldown_until?: string | null;
  credential_states: CredentialHealth[];
}

export interface Health {
  status: string;
  version: string;
  providers: ProviderHealth[];
  shared_state?: { backend: string; status: string; error?: string | null } | null;
  config_sync?: { mode: string; instance: string; reloads: number; last_reload_at?: string | null } | null;
  usage_sink?: { written: number; dropped: number; failed_batches: number; buffered: number } | null;
}

export const healthKeys = { all: ["health"] as const };

export async function fetchHealth(): Promise<Health> {
  const response = await fetch(new URL("/health", globalThis.location.origin), {
    headers: { accept: "application/json" },
  });
  const body: unknown = await response.json().catch(() => null);
  if (!response.ok) throw ApiError.from(response.status, body);
  if (typeof body !== "object" || body === null || !("version" in body) || !("providers" in body)) {
    throw new ApiError(response.status, "bad_health", "/health did not answer a health report");
  }
  return body as Health;
}

/** The health report, refreshed every 15 s while the page is open. */
export function useHealth() {
  return useQuery({ queryKey: healthKeys.all, queryFn: fetchHealth, refetchInterval: 15_000 });
}
