// The instance's health. `GET /health` answers anyone with its status and
// version only (no database or Redis call, nothing about providers); the
// full report (providers with their circuit and credential states, the
// shared state, config sync, the usage sink, the edge counters) is
// `GET /admin/api/health`, for the viewer and admin roles. See route.md.
import { useQuery } from "@tanstack/react-query";
import { api, unwrap, type Schemas } from "./client";
import { ApiError } from "./errors";

export type HealthDetail = Schemas["HealthDetail"];
export type ProviderHealth = Schemas["ProviderHealth"];

/** What `GET /health` tells anyone. */
export interface HealthSummary {
  status: string;
  version: string;
}

/** The summary, with the full report's fields when the caller may see them. */
export type Health = HealthSummary & Partial<Omit<HealthDetail, "status" | "version">>;

export const healthKeys = { all: ["health"] as const };

/** `GET /health`: status and version. */
export async function fetchHealthSummary(): Promise<HealthSummary> {
  const response = await fetch(new URL("/health", globalThis.location.origin), {
    headers: { accept: "application/json" },
  });
  const body: unknown = await response.json().catch(() => null);
  if (!response.ok) throw ApiError.from(response.status, body);
  if (typeof body !== "object" || body === null || !("status" in body) || !("version" in body)) {
    throw new ApiError(response.status, "bad_health", "/health did not answer a health report");
  }
  return body as HealthSummary;
}

/** `GET /admin/api/health`: the full report. */
export function fetchHealthDetail(): Promise<HealthDetail> {
  return unwrap(api.GET("/admin/api/health"));
}

/** The health report, refreshed every 15 s while the page is open: the
 * full one when `detail` (the viewer and admin roles), else the summary. */
export function useHealth(detail: boolean) {
  return useQuery<Health>({
    queryKey: [...healthKeys.all, detail],
    queryFn: detail ? fetchHealthDetail : fetchHealthSummary,
    refetchInterval: 15_000,
  });
}
