// Live settings (limits, circuit breaker, logging, CORS, egress proxy):
// read whole, changed by section (`PATCH /settings` merges the sections
// given over the stored ones).
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap, type Schemas } from "./client";

export type Settings = Schemas["SettingsView"];
export type SettingsPatch = Schemas["SettingsPatch"];

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
    onSuccess: (saved) => client.setQueryData(settingsKeys.all, saved),
  });
}
