// Usage aggregates (`/usage` for staff, `/me/usage` for the caller's own):
// totals per group and time bucket over a range.
import { useQuery } from "@tanstack/react-query";
import { api, unwrap, type Schemas } from "./client";

export type UsageRow = Schemas["UsageView"];
export type UsageFilter = Schemas["UsageFilter"];

export function fetchUsage(filter: UsageFilter, mine: boolean): Promise<UsageRow[]> {
  const query = Object.fromEntries(
    Object.entries(filter).filter(([, v]) => v !== undefined && v !== null && v !== ""),
  ) as UsageFilter;
  return mine
    ? unwrap(api.GET("/admin/api/me/usage", { params: { query } }))
    : unwrap(api.GET("/admin/api/usage", { params: { query } }));
}

export function useUsage(filter: UsageFilter, mine: boolean) {
  return useQuery({ queryKey: ["usage", mine ? "me" : "all", filter], queryFn: () => fetchUsage(filter, mine) });
}
