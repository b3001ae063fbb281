// The about page: versions from /health and the console, and the states
// from /admin/api/health for staff.
import "../../test/fetchMock";
import { screen } from "@testing-library/react";
import { beforeEach, describe, expect, it } from "vitest";
import pkg from "../../../package.json";
import { apiError, calls, mockApi, resetApi } from "../../test/fetchMock";
import { renderAs } from "../../test/render";
import { AboutPage } from "./AboutPage";

beforeEach(() => resetApi());

describe("AboutPage", () => {
  it("shows the server's version and state from /health to every role, and the console's", async () => {
    mockApi("GET", "/health", () => ({ status: "ok", version: "9.8.7" }));
    await renderAs("user", <AboutPage />);
    expect(await screen.findByText("gproxy 9.8.7")).toBeInTheDocument();
    expect(screen.getByText(`${pkg.name} ${pkg.version}`)).toBeInTheDocument();
    expect(screen.getByRole("link", { name: "/admin/api/openapi.json" })).toHaveAttribute(
      "href",
      "/admin/api/openapi.json",
    );
    // The user role does not ask for the full report.
    expect(calls.some((c) => c.path === "/admin/api/health")).toBe(false);
  });

  it("shows the shared state from the full report to staff", async () => {
    mockApi("GET", "/admin/api/health", () => ({
      status: "ok",
      version: "9.8.7",
      providers: [],
      shared_state: { backend: "redis", status: "ok" },
    }));
    await renderAs("viewer", <AboutPage />);
    expect(await screen.findByText("gproxy 9.8.7")).toBeInTheDocument();
    expect(screen.getByText("redis · ok")).toBeInTheDocument();
  });

  it("says when the health report could not be read", async () => {
    mockApi("GET", "/admin/api/health", () => apiError(503, "shutting down"));
    await renderAs("admin", <AboutPage />);
    expect(await screen.findByText(/shutting down/)).toBeInTheDocument();
  });
});
