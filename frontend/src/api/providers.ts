// Providers: list, read, create, change, delete, enable/disable.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap, type Schemas } from "./client";

export type Provider = Schemas["ProviderView"];
export type ProviderInput = Schemas["ProviderInput"];
export type ProviderPatch = Schemas["ProviderPatch"];

export const providerKeys = {
  all: ["providers"] as const,
  one: (name: string) => ["providers", name] as const,
};

export function useProviders() {
  return useQuery({
    queryKey: providerKeys.all,
    queryFn: () => unwrap(api.GET("/admin/api/providers")),
  });
}

export function useProvider(name: string) {
  return useQuery({
    queryKey: providerKeys.one(name),
    queryFn: () => unwrap(api.GET("/admin/api/providers/{name}", { params: { path: { name } } })),
  });
}

function useInvalidate() {
  const client = useQueryClient();
  return () => client.invalidateQueries({ queryKey: providerKeys.all });
}

export function useCreateProvider() {
  const invalidate = useInvalidate();
  return useMutation({
    mutationFn: (body: ProviderInput) => unwrap(api.POST("/admin/api/providers", { body })),
    onSuccess: invalidate,
  });
}

export function useUpdateProvider(name: string) {
  const invalidate = useInvalidate();
  return useMutation({
    mutationFn: (body: ProviderPatch) =>
      unwrap(api.PATCH("/admin/api/providers/{name}", { params: { path: { name } }, body })),
    onSuccess: invalidate,
  });
}

export function useDeleteProvider() {
  const invalidate = useInvalidate();
  return useMutation({
    mutationFn: (name: string) => unwrap(api.DELETE("/admin/api/providers/{name}", { params: { path: { name } } })),
    onSuccess: invalidate,
  });
}

export function useSetProviderEnabled() {
  const invalidate = useInvalidate();
  return useMutation({
    mutationFn: ({ name, enabled }: { name: string; enabled: boolean }) =>
      enabled
        ? unwrap(api.POST("/admin/api/providers/{name}/enable", { params: { path: { name } } }))
        : unwrap(api.POST("/admin/api/providers/{name}/disable", { params: { path: { name } } })),
    onSuccess: invalidate,
  });
}
