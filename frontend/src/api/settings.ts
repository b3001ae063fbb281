// Live settings (limits, circuit breaker, logging, CORS, egress proxy,
// rate limits, budgets): read whole, changed by section (`PATCH /settings`
// merges the sections given over the stored ones; `rate_limits` and
// `budgets` are replaced whole).
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { budgetKeys } from "./budgets";
import { api, unwrap, type Schemas } from "./client";

export type Settings = Schemas["SettingsView"];
export type SettingsPatch = Schemas["SettingsPatch"];
export type RateLimitsConfig = Schemas["RateLimitsConfig"];
export type BudgetsConfig = Schemas["BudgetsConfig"];

export const settingsKeys = { all: ["settings"] as const };

export function getSettings(): Promise<Settings> {
  return unwrap(api.GET("/admin/api/settings"));
}

export function patchSettings(body: SettingsPatch): Promise<Settings> {
  return unwrap(api.PATCH("/admin/api/settings", { body }));
}

export function useSettings() {
  return useQuery({ queryKey: settingsKeys.all, queryFn: getSettings });
}

export function useUpdateSettings() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: patchSettings,
    onSuccess: (saved, patch) => {
      client.setQueryData(settingsKeys.all, saved);
      // New budgets change what the standings list.
      if (patch.budgets !== undefined) void client.invalidateQueries({ queryKey: budgetKeys.all });
    },
  });
}
