// The API layer: the auth contract of crates/gproxy-admin/src/auth.rs
// (session cookie + CSRF header on writes, or the admin key as bearer), the
// 401 signal, and errors carrying the field the API named.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { api, onUnauthorized, readCookie, setAdminKey, unwrap } from "./client";
import { ApiError } from "./errors";

function answer(status: number, body: unknown) {
  return new Response(status === 204 ? null : JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}

const sent: Request[] = [];
let next: Response;

beforeEach(() => {
  sent.length = 0;
  next = answer(200, []);
  vi.stubGlobal(
    "fetch",
    vi.fn(async (request: Request) => {
      sent.push(request);
      return next;
    }),
  );
});

afterEach(() => {
  vi.unstubAllGlobals();
  setAdminKey(null);
  document.cookie = "gproxy_csrf=; max-age=0";
});

describe("the admin API client", () => {
  it("echoes the CSRF cookie on cookie-authenticated writes only", async () => {
    document.cookie = "gproxy_csrf=abc123";
    await api.GET("/admin/api/providers");
    next = answer(200, { name: "x" });
    await api.POST("/admin/api/providers/{name}/enable", { params: { path: { name: "x" } } });
    expect(sent[0]?.headers.get("x-csrf-token")).toBeNull();
    expect(sent[1]?.headers.get("x-csrf-token")).toBe("abc123");
    expect(sent[1]?.headers.get("authorization")).toBeNull();
    expect(sent[1]?.credentials).toBe("same-origin");
  });

  it("sends the admin key as a bearer when signed in with it", async () => {
    setAdminKey("sk-admin-key-1");
    document.cookie = "gproxy_csrf=abc123";
    await api.DELETE("/admin/api/keys/{id}", { params: { path: { id: 7 } } });
    expect(sent[0]?.headers.get("authorization")).toBe("Bearer sk-admin-key-1");
    expect(sent[0]?.headers.get("x-csrf-token")).toBeNull();
    expect(new URL(sent[0]?.url ?? "").pathname).toBe("/admin/api/keys/7");
  });

  it("reports a 401 from an authenticated route, not from signing in", async () => {
    const seen = vi.fn();
    const stop = onUnauthorized(seen);
    next = answer(401, { error: { code: "unauthorized", message: "wrong user name or password" } });
    await api.POST("/admin/api/session", { body: { username: "a", password: "b" } });
    expect(seen).not.toHaveBeenCalled();
    next = answer(401, { error: { code: "unauthorized", message: "session expired" } });
    await api.GET("/admin/api/users");
    expect(seen).toHaveBeenCalledTimes(1);
    stop();
  });

  it("turns an error answer into an ApiError with its field", async () => {
    next = answer(400, { error: { code: "invalid", message: "must start with http://", field: "base_url" } });
    const error = await unwrap(api.POST("/admin/api/providers", { body: { name: "x", kind: "custom" } })).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({
      status: 400,
      code: "invalid",
      field: "base_url",
      message: "must start with http://",
    });
    next = answer(502, "not json at all");
    const other = await unwrap(api.GET("/admin/api/providers")).catch((e: unknown) => e);
    expect(other).toMatchObject({ status: 502, code: "http_502" });
  });

  it("reads cookies by name", () => {
    expect(readCookie("b", "a=1; b=x%3Dy; c=3")).toBe("x=y");
    expect(readCookie("d", "a=1")).toBeNull();
  });
});
