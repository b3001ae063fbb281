// OAuth subscription logins (docs/oauth.md): start a login, complete it
// with the pasted callback, poll a device code, import a CLI file; a
// credential's live quota and a forced token refresh.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useCallback } from "react";
import { api, unwrap, type Schemas } from "./client";
import { credentialKeys } from "./credentials";
import { ApiError } from "./errors";
import { providerKeys } from "./providers";
import type { paths } from "./schema";

export type LoginStart = Schemas["LoginStart"];
export type LoginDone = Schemas["LoginDone"];
export type StartInput = Schemas["StartInput"];
export type CompleteInput = Schemas["CompleteInput"];
export type PollInput = Schemas["PollInput"];
export type OAuthImportInput =
  paths["/admin/api/providers/{name}/oauth/import"]["post"]["requestBody"]["content"]["application/json"];
export type Refreshed = Schemas["Refreshed"];

/** The provider kinds whose credentials are OAuth logins. */
export const OAUTH_KINDS = ["codex", "claudecode", "antigravity", "geminicli"] as const;
export type OAuthKind = (typeof OAUTH_KINDS)[number];

export function isOAuthKind(kind: string | null | undefined): kind is OAuthKind {
  return (OAUTH_KINDS as readonly string[]).includes(kind ?? "");
}

/** Whether the kind also logs in with a device code (typed on another device). */
export function hasDeviceFlow(kind: string): boolean {
  return kind === "codex";
}

/** A device login not approved yet (`202`; the route's declared answer is
 * the `201` one). */
export interface LoginPending {
  status: "pending";
  retry_after_secs: number;
}

/** One window of `GET /credentials/{id}/quota` (the route declares no
 * schema: the shape is the vendor-neutral one of docs/oauth.md). */
export interface QuotaWindow {
  /** `five_hour`, `seven_day`, `primary`, a model id, ... */
  name: string;
  model?: string;
  /** 0..=100. */
  used_percent?: number;
  /** Unix seconds. */
  resets_at?: number;
  window_seconds?: number;
}

export interface QuotaReport {
  credential_id: number;
  /** RFC 3339. */
  fetched_at: string;
  plan?: string;
  windows: QuotaWindow[];
  raw?: unknown;
}

/** Reloads what a login changes; the same function across renders, so an
 * effect may depend on it. */
function useInvalidate() {
  const client = useQueryClient();
  return useCallback(async () => {
    await client.invalidateQueries({ queryKey: credentialKeys.all });
    await client.invalidateQueries({ queryKey: ["credential-state"] });
    await client.invalidateQueries({ queryKey: providerKeys.all });
  }, [client]);
}

export function useStartLogin(provider: string) {
  return useMutation({
    mutationFn: (body: StartInput) =>
      unwrap(api.POST("/admin/api/providers/{name}/oauth/start", { params: { path: { name: provider } }, body })),
  });
}

export function useCompleteLogin(provider: string) {
  const invalidate = useInvalidate();
  return useMutation({
    mutationFn: (body: CompleteInput) =>
      unwrap(api.POST("/admin/api/providers/{name}/oauth/complete", { params: { path: { name: provider } }, body })),
    onSuccess: invalidate,
  });
}

/** One poll of a device login: pending (`202`) or done (`201`/`200`). */
export async function pollLogin(provider: string, body: PollInput): Promise<LoginDone | LoginPending> {
  const { data, error, response } = await api.POST("/admin/api/providers/{name}/oauth/poll", {
    params: { path: { name: provider } },
    body,
  });
  if (!response.ok) throw ApiError.from(response.status, error);
  if (response.status === 202) {
    const pending = data as unknown as Partial<LoginPending> | undefined;
    return { status: "pending", retry_after_secs: pending?.retry_after_secs ?? 5 };
  }
  return data as LoginDone;
}

export function isPending(answer: LoginDone | LoginPending): answer is LoginPending {
  return answer.status === "pending";
}

/** Called once a device login is done, so the lists show the credential. */
export function useLoginSaved() {
  return useInvalidate();
}

export function useImportLogin(provider: string) {
  const invalidate = useInvalidate();
  return useMutation({
    mutationFn: (body: OAuthImportInput) =>
      unwrap(api.POST("/admin/api/providers/{name}/oauth/import", { params: { path: { name: provider } }, body })),
    onSuccess: invalidate,
  });
}

export function useRefreshCredential() {
  const invalidate = useInvalidate();
  return useMutation({
    mutationFn: (id: number) => unwrap(api.POST("/admin/api/credentials/{id}/refresh", { params: { path: { id } } })),
    onSuccess: invalidate,
  });
}

/** A credential's live quota, read when `enabled` (the gateway caches it 30 s). */
export function useQuota(id: number, enabled = true) {
  return useQuery({
    queryKey: ["credential-quota", id] as const,
    queryFn: async () =>
      (await unwrap(
        api.GET("/admin/api/credentials/{id}/quota", { params: { path: { id } } }),
      )) as unknown as QuotaReport,
    enabled,
    retry: false,
  });
}
