// The Overview against a fake API: health and provider states (the full
// report for staff, /health's status and version for users), traffic
// figures from /usage, ranges, and the user role's own usage.
import "../../test/fetchMock";
import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { calls, mockApi, resetApi } from "../../test/fetchMock";
import { renderAs } from "../../test/render";

// The provider link needs the router; the Overview's own logic does not.
vi.mock("@tanstack/react-router", () => ({
  Link: ({ children }: { children: React.ReactNode }) => <a href="/credentials">{children}</a>,
}));
const { OverviewPage } = await import("./OverviewPage");

const HEALTH = {
  status: "ok",
  version: "1.2.3",
  providers: [
    {
      name: "openai",
      kind: "openai",
      enabled: true,
      credentials: 2,
      credential_strategy: "round_robin",
      circuit_state: "open",
      circuit_failures: 5,
      credential_states: [
        { id: 1, name: "a", weight: 1, state: "ok", in_flight: 3 },
        { id: 2, name: "b", weight: 1, state: "cooling_down", in_flight: 0 },
      ],
    },
  ],
  shared_state: { backend: "memory", status: "ok" },
};

const TOTAL = {
  requests: 2880,
  errors: 144,
  input_tokens: 1000,
  output_tokens: 500,
  cache_read_tokens: 0,
  cache_write_tokens: 0,
  reasoning_tokens: 0,
  cost: "1.234567891",
  priced_requests: 2800,
  latency_p50_ms: 120,
  latency_p95_ms: 950,
};

beforeEach(() => {
  resetApi();
  mockApi("GET", "/admin/api/health", () => HEALTH);
  mockApi("GET", "/health", () => ({ status: "ok", version: HEALTH.version }));
  const usage = (c: { search: URLSearchParams }) =>
    c.search.get("bucket") ? [{ ...TOTAL, bucket_start: "2026-12-04T01:00:00Z" }] : [TOTAL];
  mockApi("GET", "/admin/api/usage", usage);
  mockApi("GET", "/admin/api/me/usage", () => []);
});

describe("OverviewPage", () => {
  it("shows health, provider states and the traffic figures", async () => {
    await renderAs("viewer", <OverviewPage />);
    expect(await screen.findByText("gproxy 1.2.3")).toBeInTheDocument();
    expect(await screen.findByText("Open")).toBeInTheDocument();
    expect(screen.getByText("1 ok · 1 cooling down · 0 disabled")).toBeInTheDocument();
    expect(await screen.findByText("2,880")).toBeInTheDocument();
    expect(screen.getByText("2")).toBeInTheDocument(); // 2880 requests over 24 h
    expect(screen.getByText("5 %")).toBeInTheDocument();
    expect(screen.getByText("120 ms")).toBeInTheDocument();
    expect(screen.getByText("950 ms")).toBeInTheDocument();
    expect(screen.getByText("1,500")).toBeInTheDocument();
    expect(screen.getByText("$1.234567891")).toBeInTheDocument();
    expect(screen.getByText("2,800 of 2,880 requests priced")).toBeInTheDocument();
  });

  it("asks for the chosen range, bucketed by day for 30 days", async () => {
    const user = userEvent.setup();
    await renderAs("admin", <OverviewPage />);
    await screen.findByText("2,880");
    await user.click(screen.getByRole("button", { name: "30 days" }));
    await waitFor(() => expect(calls.some((c) => c.search.get("bucket") === "day")).toBe(true));
    const sent = calls.find((c) => c.search.get("bucket") === "day");
    const span = Date.parse(sent?.search.get("to") ?? "") - Date.parse(sent?.search.get("from") ?? "");
    expect(span).toBe(30 * 86400 * 1000);
  });

  it("gives the user role their own usage and no provider states", async () => {
    await renderAs("user", <OverviewPage />);
    expect(await screen.findByText("No requests in this range.")).toBeInTheDocument();
    expect(calls.some((c) => c.path === "/admin/api/me/usage")).toBe(true);
    expect(calls.some((c) => c.path === "/admin/api/usage")).toBe(false);
    expect(screen.queryByText("Providers")).toBeNull();
    // Status and version from the public /health, not the full report.
    expect(await screen.findByText("gproxy 1.2.3")).toBeInTheDocument();
    expect(calls.some((c) => c.path === "/admin/api/health")).toBe(false);
  });
});
