// The typed admin API client: openapi-fetch over the types generated from
// openapi.json, so a Rust admin type change that breaks the UI fails
// `npm run typecheck`.
//
// Authentication follows crates/gproxy-admin/src/auth.rs: a person signs in
// with POST /admin/api/session, which sets the HttpOnly `gproxy_session`
// cookie (sent by the browser) and the readable `gproxy_csrf` cookie, whose
// value every cookie-authenticated write echoes in `x-csrf-token`. Signing
// in with the admin key instead keeps the key in this tab's sessionStorage
// and sends it as `Authorization: Bearer`.
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema";
import { ApiError } from "./errors";

export type Schemas = components["schemas"];

const ADMIN_KEY = "gproxy.adminKey";
export const CSRF_COOKIE = "gproxy_csrf";
export const CSRF_HEADER = "x-csrf-token";

/** The admin key this tab signed in with, if any. */
export function adminKey(): string | null {
  try {
    return sessionStorage.getItem(ADMIN_KEY);
  } catch {
    return null;
  }
}

export function setAdminKey(key: string | null): void {
  if (key === null) sessionStorage.removeItem(ADMIN_KEY);
  else sessionStorage.setItem(ADMIN_KEY, key);
}

/** A cookie's value from `document.cookie`. */
export function readCookie(name: string, cookies = document.cookie): string | null {
  for (const part of cookies.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return null;
}

type Listener = () => void;
const unauthorizedListeners = new Set<Listener>();

/** Calls `listener` whenever an authenticated call comes back 401 (the
 * session expired, was signed out elsewhere, or the key was revoked). */
export function onUnauthorized(listener: Listener): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

/** Whether a call is to a route that answers without authentication: its
 * 401 means bad input (a wrong password), not an expired session. */
function isPublic(method: string, path: string): boolean {
  if (path === "/admin/api/session") return method === "POST";
  return path === "/admin/api/setup" || path === "/admin/api/openapi.json";
}

export const authMiddleware: Middleware = {
  onRequest({ request }) {
    const key = adminKey();
    if (key && !request.headers.has("authorization")) {
      request.headers.set("authorization", `Bearer ${key}`);
    } else if (request.method !== "GET" && request.method !== "HEAD") {
      const csrf = readCookie(CSRF_COOKIE);
      if (csrf) request.headers.set(CSRF_HEADER, csrf);
    }
    return request;
  },
  onResponse({ request, response }) {
    const path = new URL(request.url).pathname;
    if (response.status === 401 && !isPublic(request.method, path)) {
      for (const listener of unauthorizedListeners) listener();
    }
    return response;
  },
};

export const api = createClient<paths>({
  baseUrl: globalThis.location?.origin ?? "",
  credentials: "same-origin",
  // Looked up per call (not captured once), so tests can stand in for it.
  fetch: (request) => globalThis.fetch(request),
});
api.use(authMiddleware);

/** The data of an openapi-fetch answer, or the ApiError it carries. */
export async function unwrap<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await call;
  if (!response.ok) throw ApiError.from(response.status, error);
  return data as T;
}
