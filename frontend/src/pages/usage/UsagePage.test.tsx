// The usage explorer against a fake API: the default query, applying
// filters, field errors, and the user role's own usage.
import "../../test/fetchMock";
import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it } from "vitest";
import { calls, mockApi, resetApi } from "../../test/fetchMock";
import { renderAs } from "../../test/render";
import { UsagePage } from "./UsagePage";

const ROW = {
  provider: "openai",
  requests: 42,
  errors: 2,
  input_tokens: 1000,
  output_tokens: 300,
  cache_read_tokens: 0,
  cache_write_tokens: 0,
  reasoning_tokens: 0,
  cost: "0.0123",
  priced_requests: 40,
  latency_p50_ms: 90,
  latency_p95_ms: 400,
};

beforeEach(() => {
  resetApi();
  mockApi("GET", "/admin/api/usage", () => [ROW]);
  mockApi("GET", "/admin/api/me/usage", () => []);
});

describe("UsagePage", () => {
  it("shows totals and groups for the default query", async () => {
    await renderAs("viewer", <UsagePage />);
    expect(await screen.findByRole("cell", { name: "openai" })).toBeInTheDocument();
    const sent = calls.find((c) => c.path === "/admin/api/usage");
    expect(sent?.search.get("group_by")).toBe("provider");
    expect(sent?.search.get("bucket")).toBe("hour");
    expect(screen.getByRole("columnheader", { name: "Cost (USD)" })).toBeInTheDocument();
    expect(screen.getByRole("cell", { name: "$0.0123" })).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Export CSV" })).toBeEnabled();
  });

  it("applies filters and shows field errors instead of asking", { timeout: 20_000 }, async () => {
    const user = userEvent.setup();
    await renderAs("admin", <UsagePage />);
    await screen.findByRole("cell", { name: "openai" });
    const form = screen.getByRole("search", { name: "Usage filters" });
    await user.type(within(form).getByLabelText("Key id"), "abc");
    await user.click(within(form).getByRole("button", { name: "Apply" }));
    expect(await within(form).findByText("A whole number, at least 1.")).toBeInTheDocument();
    expect(calls.filter((c) => c.path === "/admin/api/usage")).toHaveLength(1);
    await user.clear(within(form).getByLabelText("Key id"));
    await user.type(within(form).getByRole("textbox", { name: "Model" }), "gpt-4o");
    await user.click(within(form).getByRole("checkbox", { name: "Model" }));
    await user.click(within(form).getByRole("button", { name: "Apply" }));
    await waitFor(() => expect(calls.filter((c) => c.path === "/admin/api/usage")).toHaveLength(2));
    const sent = calls.filter((c) => c.path === "/admin/api/usage")[1];
    expect(sent?.search.get("model")).toBe("gpt-4o");
    expect(sent?.search.get("group_by")).toBe("provider,model");
  });

  it("gives the user role their own usage, without the user filter", async () => {
    await renderAs("user", <UsagePage />);
    expect(await screen.findByText("No usage in this range.")).toBeInTheDocument();
    expect(calls.some((c) => c.path === "/admin/api/usage")).toBe(false);
    expect(screen.queryByLabelText("User id")).toBeNull();
    expect(screen.getByRole("button", { name: "Export CSV" })).toBeDisabled();
  });
});
