// Credentials: per provider or all, live state, add, import, change,
// delete, test, re-enable. Secrets are write-only: reads are masked.
import { useMutation, useQueries, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap, type Schemas } from "./client";
import { providerKeys } from "./providers";

export type Credential = Schemas["CredentialView"];
export type CredentialInput = Schemas["CredentialInput"];
export type CredentialPatch = Schemas["CredentialPatchInput"];
export type CredentialState = Schemas["CredentialState"];
export type ImportInput = Schemas["ImportInput"];
export type ImportResult = Schemas["ImportResult"];
export type TestResult = Schemas["TestResult"];

/** How often live state is refreshed while a page shows it. */
export const LIVE_MS = 5000;

export const credentialKeys = {
  all: ["credentials"] as const,
  of: (provider: string | null) => ["credentials", provider ?? "*"] as const,
  state: (id: number) => ["credential-state", id] as const,
};

export function useCredentials(provider: string | null) {
  return useQuery({
    queryKey: credentialKeys.of(provider),
    queryFn: () =>
      provider
        ? unwrap(api.GET("/admin/api/providers/{name}/credentials", { params: { path: { name: provider } } }))
        : unwrap(api.GET("/admin/api/credentials")),
    refetchInterval: LIVE_MS,
  });
}

/** The runtime state (in flight, cooldowns, disable reason) of each id. */
export function useCredentialStates(ids: number[]) {
  return useQueries({
    queries: ids.map((id) => ({
      queryKey: credentialKeys.state(id),
      queryFn: () => unwrap(api.GET("/admin/api/credentials/{id}/state", { params: { path: { id } } })),
      refetchInterval: LIVE_MS,
    })),
  });
}

function useInvalidate() {
  const client = useQueryClient();
  return async () => {
    await client.invalidateQueries({ queryKey: credentialKeys.all });
    await client.invalidateQueries({ queryKey: ["credential-state"] });
    await client.invalidateQueries({ queryKey: providerKeys.all });
  };
}

export function useCreateCredential(provider: string) {
  const invalidate = useInvalidate();
  return useMutation({
    mutationFn: (body: CredentialInput) =>
      unwrap(api.POST("/admin/api/providers/{name}/credentials", { params: { path: { name: provider } }, body })),
    onSuccess: invalidate,
  });
}

export function useImportCredentials(provider: string) {
  const invalidate = useInvalidate();
  return useMutation({
    mutationFn: (body: ImportInput) =>
      unwrap(
        api.POST("/admin/api/providers/{name}/credentials/import", { params: { path: { name: provider } }, body }),
      ),
    onSuccess: invalidate,
  });
}

export function useUpdateCredential() {
  const invalidate = useInvalidate();
  return useMutation({
    mutationFn: ({ id, patch }: { id: number; patch: CredentialPatch }) =>
      unwrap(api.PATCH("/admin/api/credentials/{id}", { params: { path: { id } }, body: patch })),
    onSuccess: invalidate,
  });
}

export function useDeleteCredential() {
  const invalidate = useInvalidate();
  return useMutation({
    mutationFn: (id: number) => unwrap(api.DELETE("/admin/api/credentials/{id}", { params: { path: { id } } })),
    onSuccess: invalidate,
  });
}

export function useTestCredential() {
  return useMutation({
    mutationFn: (id: number) => unwrap(api.POST("/admin/api/credentials/{id}/test", { params: { path: { id } } })),
  });
}

export function useReenableCredential() {
  const invalidate = useInvalidate();
  return useMutation({
    mutationFn: (id: number) => unwrap(api.POST("/admin/api/credentials/{id}/enable", { params: { path: { id } } })),
    onSuccess: invalidate,
  });
}
