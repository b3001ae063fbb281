import { render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { App } from "./App";

function answer(status: number, body: unknown) {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

describe("App", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("sends a first visit of a fresh install to the setup", async () => {
    const fetchMock = vi.fn(async (input: Request) => {
      const path = new URL(input.url).pathname;
      if (path === "/admin/api/setup") return answer(200, { needs_admin_user: true });
      return answer(401, { error: { code: "unauthorized", message: "sign in" } });
    });
    vi.stubGlobal("fetch", fetchMock);
    render(<App />);
    expect(await screen.findByRole("heading", { name: "Set up gproxy" }, { timeout: 3000 })).toBeInTheDocument();
  });
});
