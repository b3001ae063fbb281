// OAuth subscription logins (codex, claudecode, antigravity, geminicli):
// start a login, complete it with the pasted callback or by polling a
// device code, import the vendor CLI's file; a credential's live quota
// and a forced token refresh.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap, type Schemas } from "./client";
import { credentialKeys } from "./credentials";
import { providerKeys } from "./providers";

export type LoginStart = Schemas["LoginStart"];
export type LoginDone = Schemas["LoginDone"];
export type OAuthView = Schemas["OAuthView"];

/** A device login not approved yet (202). */
export interface PendingPoll {
  status: "pending";
  retry_after_secs: number;
}

/** A device login polled: not approved yet, or done. */
export type Polled = PendingPoll | LoginDone;

/** Whether a poll's answer is still pending (a done login has its credential). */
export function isPending(polled: Polled): polled is PendingPoll {
  return !("credential" in polled);
}

/** One quota window (a subscription window or a per-model bucket). */
export interface QuotaWindow {
  name: string;
  model?: string;
  used_percent?: number;
  resets_at?: number;
  window_seconds?: number;
}

/** `GET /admin/api/credentials/{id}/quota`. */
export interface QuotaReport {
  credential_id: number;
  fetched_at: string;
  plan?: string;
  windows: QuotaWindow[];
  raw: unknown;
}

function useInvalidate() {
  const client = useQueryClient();
  return async () => {
    await client.invalidateQueries({ queryKey: credentialKeys.all });
    await client.invalidateQueries({ queryKey: ["credential-state"] });
    await client.invalidateQueries({ queryKey: providerKeys.all });
  };
}

export function useOAuthStart(provider: string) {
  return useMutation({
    mutationFn: (flow: "authorization_code" | "device") =>
      unwrap(
        api.POST("/admin/api/providers/{name}/oauth/start", {
          params: { path: { name: provider } },
          body: { flow },
        }),
      ),
  });
}

export function useOAuthComplete(provider: string) {
  const invalidate = useInvalidate();
  return useMutation({
    mutationFn: (body: { state: string; callback: string }) =>
      unwrap(api.POST("/admin/api/providers/{name}/oauth/complete", { params: { path: { name: provider } }, body })),
    onSuccess: invalidate,
  });
}

export function useOAuthPoll(provider: string) {
  const invalidate = useInvalidate();
  return useMutation({
    mutationFn: async (state: string): Promise<Polled> =>
      (await unwrap(
        api.POST("/admin/api/providers/{name}/oauth/poll", { params: { path: { name: provider } }, body: { state } }),
      )) as Polled,
    onSuccess: async (polled) => {
      if (!isPending(polled)) await invalidate();
    },
  });
}

export function useOAuthImport(provider: string) {
  const invalidate = useInvalidate();
  return useMutation({
    mutationFn: (content: string) =>
      unwrap(
        api.POST("/admin/api/providers/{name}/oauth/import", {
          params: { path: { name: provider } },
          body: { content },
        }),
      ),
    onSuccess: invalidate,
  });
}

export function useQuota(id: number | null) {
  return useQuery({
    queryKey: ["credential-quota", id],
    enabled: id !== null,
    queryFn: async () =>
      (await unwrap(
        api.GET("/admin/api/credentials/{id}/quota", { params: { path: { id: id ?? 0 } } }),
      )) as unknown as QuotaReport,
  });
}

export function useRefreshCredential() {
  const invalidate = useInvalidate();
  return useMutation({
    mutationFn: (id: number) => unwrap(api.POST("/admin/api/credentials/{id}/refresh", { params: { path: { id } } })),
    onSuccess: invalidate,
  });
}
